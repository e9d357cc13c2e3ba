/* listener: bind and listen.  A stale UNIX socket file is replaced, but
 * only if it is a socket and nobody answers on it: lmtpd never unlinks
 * anything else, nor the socket of a running instance.  A UNIX listener
 * is known by the inode it bound, not by its spelling: a reload that names
 * the same socket another way keeps it, and a socket file that another
 * process put in its place is not removed at close. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cfg.h"
#include "listener.h"
#include "log.h"
#include "xalloc.h"

#define LISTEN_BACKLOG 128

/* A socket file is stale when connecting to it is refused: whatever
 * else happens (it accepts, its backlog is full, we may not connect), a
 * process may be serving on it and the file is not ours to take. The
 * connect does not block: on a full backlog a blocking one waits for as
 * long as the other process is stuck, and the master with it. */
static bool
listener_unix_answers(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	bool answers;

	if (fd < 0)
		return true;
	answers = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 ||
		  (errno != ECONNREFUSED && errno != ENOENT);
	(void)close(fd);
	return answers;
}

static int
listener_open_unix(const struct lmtpd_config *cfg, struct listener *l, uid_t uid,
		   gid_t gid)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old_umask;
	int fd, rc, bind_errno;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", l->addr.path);
	if (lstat(l->addr.path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("listen %s: exists and is not a socket", l->name);
			return -1;
		}
		if (listener_unix_answers(&sun)) {
			log_error("listen %s: another process is listening on it "
				  "(is lmtpd already running?)", l->name);
			return -1;
		}
		if (unlink(l->addr.path) < 0) {
			log_error("listen %s: unlink stale socket: %s", l->name,
				  strerror(errno));
			return -1;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		log_error("listen %s: socket: %s", l->name, strerror(errno));
		return -1;
	}
	/* bind() creates the socket file with the umask's permissions: mask
	 * everything listen_mode does not grant, so no client can connect in
	 * the moment before the chmod below. */
	old_umask = umask(0777 & ~(mode_t)cfg->listen_mode);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	bind_errno = errno;
	(void)umask(old_umask);
	if (rc < 0) {
		log_error("listen %s: bind: %s", l->name, strerror(bind_errno));
		(void)close(fd);
		return -1;
	}
	if (lstat(l->addr.path, &st) < 0) {
		log_error("listen %s: lstat: %s", l->name, strerror(errno));
		(void)close(fd);
		return -1;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	if (cfg->listen_owner != NULL) {
		struct passwd *pw = getpwnam(cfg->listen_owner);

		if (pw == NULL) {
			log_error("listen %s: no user %s", l->name, cfg->listen_owner);
			(void)close(fd);
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (chmod(l->addr.path, cfg->listen_mode) < 0 ||
	    ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	     geteuid() == 0 && chown(l->addr.path, uid, gid) < 0)) {
		log_error("listen %s: chmod/chown: %s", l->name, strerror(errno));
		(void)close(fd);
		return -1;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		log_error("listen %s: listen: %s", l->name, strerror(errno));
		(void)close(fd);
		return -1;
	}
	return fd;
}

static int
listener_open_tcp(struct listener *l)
{
	struct addrinfo hints, *res = NULL;
	int fd, on = 1, ret;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	ret = getaddrinfo(l->addr.host, l->addr.port, &hints, &res);
	if (ret != 0) {
		log_error("listen %s: %s", l->name, gai_strerror(ret));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		log_error("listen %s: socket: %s", l->name, strerror(errno));
		freeaddrinfo(res);
		return -1;
	}
	/* An IPv6 wildcard would also take the IPv4 port, and a separate
	 * IPv4 entry for it could not bind: each entry gets its own family,
	 * as in Dovecot. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    (res->ai_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		log_error("listen %s: %s", l->name, strerror(errno));
		(void)close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Whether old is what the new entry l names: the same host and port, or
 * for a UNIX socket the same inode, however the path is spelt. */
static bool
listener_same(const struct listener *old, const struct listener *l)
{
	struct stat st;

	if (old->fd < 0 || old->addr.is_unix != l->addr.is_unix)
		return false;
	if (!l->addr.is_unix)
		return strcmp(old->name, l->name) == 0;
	return lstat(l->addr.path, &st) == 0 && st.st_dev == old->dev &&
	       st.st_ino == old->ino;
}

/* Whether the file at l's path is still the socket l bound. */
static bool
listener_owns_path(const struct listener *l)
{
	struct stat st;

	return lstat(l->addr.path, &st) == 0 && st.st_dev == l->dev &&
	       st.st_ino == l->ino;
}

struct listener *
listener_open_all(const struct lmtpd_config *cfg, struct listener *old,
		  size_t old_count, uid_t uid, gid_t gid, size_t *count_r)
{
	struct listener *ls = xcalloc(cfg->listen_count, sizeof(*ls));
	size_t i, j;

	for (i = 0; i < cfg->listen_count; i++) {
		struct listener *l = &ls[i];

		l->addr = cfg->listen[i];
		if (l->addr.is_unix)
			snprintf(l->name, sizeof(l->name), "unix:%s", l->addr.path);
		else
			snprintf(l->name, sizeof(l->name),
				 strchr(l->addr.host, ':') != NULL ? "[%s]:%s" : "%s:%s",
				 l->addr.host, l->addr.port);
		l->fd = -1;
		for (j = 0; j < old_count && l->fd < 0; j++)
			if (listener_same(&old[j], l)) {
				l->fd = old[j].fd;
				l->dev = old[j].dev;
				l->ino = old[j].ino;
			}
		if (l->fd >= 0)
			continue;
		l->fd = l->addr.is_unix ? listener_open_unix(cfg, l, uid, gid)
					: listener_open_tcp(l);
		if (l->fd < 0) {
			listener_close_all(ls, i, old, old_count, true);
			free(ls);
			return NULL;
		}
	}
	*count_r = cfg->listen_count;
	return ls;
}

void
listener_close_all(struct listener *ls, size_t count, const struct listener *keep,
		   size_t keep_count, bool unlink_paths)
{
	for (size_t i = 0; i < count; i++) {
		bool kept = false;

		for (size_t j = 0; j < keep_count; j++)
			if (keep[j].fd == ls[i].fd)
				kept = true;
		if (kept || ls[i].fd < 0)
			continue;
		if (unlink_paths && ls[i].addr.is_unix && listener_owns_path(&ls[i]))
			(void)unlink(ls[i].addr.path);
		(void)close(ls[i].fd);
		ls[i].fd = -1;
	}
}
