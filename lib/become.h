/* become: taking on the configured user and group.  The daemon's master
 * resolves them at start (it needs the ids to hand state_dir and the socket
 * over) and switches after; a tool run as root switches before it touches
 * state_dir, so that the files it makes there stay the daemon's (the
 * daemon, running as that user, cannot open root's 0600 files). */
#ifndef LMTPD_BECOME_H
#define LMTPD_BECOME_H

#include <sys/types.h>

#include "cfg.h"
#include "compat.h"

/* The ids of cfg's `user` and `group`, (uid_t)-1 and (gid_t)-1 for what is
 * unset; the group defaults to the user's.  Returns 0, or -1 with
 * *error_r (malloc'd) naming what does not exist. */
int become_resolve(const struct lmtpd_config *cfg, uid_t *uid_r, gid_t *gid_r,
		   char **error_r) ATTR_WUR;

/* Whether become_switch() can do it: always as root; without root only
 * when uid and gid are the current ones.  Returns 0, or -1 with *error_r
 * (malloc'd) saying why not. */
int become_possible(const char *user, uid_t uid, gid_t gid, char **error_r) ATTR_WUR;

/* Switches for good to gid, with user's supplementary groups (or gid
 * alone without a user), then to uid; an id of -1 is left as it is.
 * Without root: does nothing when uid and gid are the current ones, else
 * fails (switching needs root).  Returns 0, or -1 with *error_r
 * (malloc'd). */
int become_switch(const char *user, uid_t uid, gid_t gid, char **error_r) ATTR_WUR;

/* Run as root with a `user` (and maybe `group`) in cfg: becomes that user
 * for good.  Otherwise does nothing.  Returns 0, or -1 with *error_r
 * (malloc'd). */
int become_config_user(const struct lmtpd_config *cfg, char **error_r) ATTR_WUR;

#endif
