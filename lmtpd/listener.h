/* Listening sockets for the `listen` entries: TCP and UNIX.  Opened by the
 * master (before it drops privileges) and inherited by every worker. */
#ifndef LMTPD_LISTENER_H
#define LMTPD_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "compat.h"
#include "netaddr.h"

struct lmtpd_config;

struct listener {
	struct netaddr_listen addr;
	char name[300];		/* "127.0.0.1:2424", "[::1]:2424", "unix:/run/lmtpd.sock" */
	int fd;
	dev_t dev;		/* UNIX: the socket file bind() made */
	ino_t ino;
};

/* Opens every listen entry of cfg, reusing the fd of an entry of old (which
 * may be NULL) with the same host and port, or the same socket file (by
 * inode).  A UNIX socket on which another process answers is an error.
 * UNIX sockets get listen_mode and are chown'd to listen_owner (or
 * uid/gid).  Returns NULL after logging on error. */
struct listener *listener_open_all(const struct lmtpd_config *cfg,
				   struct listener *old, size_t old_count,
				   uid_t uid, gid_t gid, size_t *count_r);
/* Closes the listeners of ls that are not in keep (by fd); UNIX socket
 * files of closed ones are removed when unlink_paths is true and the file
 * at the path is still the one they bound. */
void listener_close_all(struct listener *ls, size_t count,
			const struct listener *keep, size_t keep_count,
			bool unlink_paths);

#endif
