/* maildir: the durable write path (DESIGN invariants 1 and 2).
 *
 * Order of operations is what makes a crash safe: the data is complete and
 * fsync'd before its name appears in new/, and new/ is fsync'd before the
 * caller is told to answer 250.  link() rather than rename() because link
 * fails instead of replacing an existing name.  An O_TMPFILE has no name
 * until it is linked, so a crash leaves nothing behind to clean from tmp/
 * and saves the create+unlink pair in tmp/. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "dsn.h"
#include "fsutil.h"
#include "lmtpd_limits.h"
#include "maildir.h"
#include "maildir_keywords.h"
#include "message.h"

#define MAILDIR_LINK_ATTEMPTS 10
/* The system flags ("DFRST") and a letter per keyword. */
#define MAILDIR_FLAGS_SIZE (5 + MAILDIR_KEYWORDS_MAX + 1)

static unsigned int maildir_counter;
/* Whether O_TMPFILE plus /proc/self/fd linking works; learned on first use. */
static enum { TMPFILE_UNKNOWN, TMPFILE_YES, TMPFILE_NO } maildir_tmpfile_state;

/* Courier's convention: '/' and ':' would break the name, so they are
 * written as octal escapes. */
static void
maildir_host_part(const char *hostname, char *out, size_t out_size)
{
	size_t o = 0;

	for (; *hostname != '\0' && o + 5 < out_size; hostname++) {
		if (*hostname == '/') {
			memcpy(out + o, "\\057", 4);
			o += 4;
		} else if (*hostname == ':') {
			memcpy(out + o, "\\072", 4);
			o += 4;
		} else {
			out[o++] = *hostname;
		}
	}
	out[o] = '\0';
}

static void
maildir_unique_name(const struct maildir_target *t, size_t size, size_t vsize,
		    char *out, size_t out_size)
{
	struct timeval tv;
	char host[128];

	gettimeofday(&tv, NULL);
	maildir_host_part(t->hostname, host, sizeof(host));
	snprintf(out, out_size, "%lld.M%06ldP%ldQ%u.%s,S=%zu,W=%zu%s%s",
		 (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
		 ++maildir_counter, host, size, vsize,
		 t->flags != NULL && t->flags[0] != '\0' ? ":2," : "",
		 t->flags != NULL ? t->flags : "");
}

static int
maildir_mkdirat(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Opens (creating on demand) dir/{tmp,new,cur}; returns the fd of the
 * folder directory itself.  *created_r (may be NULL) is set when the
 * directory itself was made here. */
static int
maildir_open_folder(const char *path, bool is_subfolder, bool *created_r, struct dsn *dsn)
{
	int fd, sub;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		sub = openat(fd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0) {
			if (close_checked(sub) < 0) {
				dsn_set_errno(dsn, errno, "close(%s/tmp) failed", path);
				close_quietly(fd);
				return -1;
			}
			return fd;
		}
		if (errno != ENOENT) {
			dsn_set_errno(dsn, errno, "open(%s/tmp) failed", path);
			close_quietly(fd);
			return -1;
		}
	} else if (errno != ENOENT) {
		dsn_set_errno(dsn, errno, "open(%s) failed", path);
		return -1;
	} else {
		bool made;

		if (mkdir_parents(path, 0700, &made) < 0) {
			dsn_set_errno(dsn, errno, "mkdir(%s) failed", path);
			return -1;
		}
		/* not when another delivery made it meanwhile: that one
		 * subscribes it, and only it may take it away again */
		if (created_r != NULL && made)
			*created_r = true;
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			dsn_set_errno(dsn, errno, "open(%s) failed", path);
			return -1;
		}
	}
	if (maildir_mkdirat(fd, "cur") < 0 || maildir_mkdirat(fd, "new") < 0 ||
	    maildir_mkdirat(fd, "tmp") < 0) {
		dsn_set_errno(dsn, errno, "mkdir(%s/{cur,new,tmp}) failed", path);
		close_quietly(fd);
		return -1;
	}
	if (is_subfolder) {
		/* Maildir++: marks the directory as a folder for Courier and
		 * Dovecot. */
		sub = openat(fd, "maildirfolder", O_WRONLY | O_CREAT | O_NOFOLLOW |
			     O_CLOEXEC, 0600);
		if (sub < 0 || close_checked(sub) < 0) {
			dsn_set_errno(dsn, errno, "create(%s/maildirfolder) failed", path);
			close_quietly(fd);
			return -1;
		}
	}
	if (fsync(fd) < 0) {
		dsn_set_errno(dsn, errno, "fsync(%s) failed", path);
		close_quietly(fd);
		return -1;
	}
	return fd;
}

static int
maildir_open_tmpfile(int tmpfd)
{
	int fd;

	if (maildir_tmpfile_state == TMPFILE_NO)
		return -1;
	fd = openat(tmpfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)
			maildir_tmpfile_state = TMPFILE_NO;
		return -1;
	}
	if (maildir_tmpfile_state == TMPFILE_UNKNOWN) {
		if (access("/proc/self/fd", X_OK) < 0) {
			maildir_tmpfile_state = TMPFILE_NO;
			close_quietly(fd);
			return -1;
		}
		maildir_tmpfile_state = TMPFILE_YES;
	}
	return fd;
}

int
maildir_deliver(const struct maildir_target *t, const struct iovec *iov,
		int iovcnt, char *filename_r, size_t filename_size,
		struct dsn *dsn)
{
	char path[MAIL_PATH_MAX], name[MAILDIR_NAME_MAX], tmpname[MAILDIR_NAME_MAX] = "";
	char procpath[64];
	struct iovec *wiov;
	const char *destdir;
	char flags[MAILDIR_FLAGS_SIZE];
	struct maildir_target with_keywords;
	int dirfd, tmpfd = -1, destfd = -1, fd = -1, attempt, ret = -1;
	bool anonymous = false;
	size_t size, vsize;

	vsize = message_imap_size(iov, iovcnt, &size);
	if (snprintf(path, sizeof(path), "%s%s%s", t->root,
		     t->folder != NULL ? "/" : "",
		     t->folder != NULL ? t->folder : "") >= (int)sizeof(path)) {
		dsn_set(dsn, DSN_TEMP_FAIL, "Maildir path too long: %s", t->root);
		return -1;
	}
	dirfd = maildir_open_folder(path, t->folder != NULL, t->folder_created, dsn);
	if (dirfd < 0)
		return -1;
	if (t->keyword_count > 0) {
		char letters[MAILDIR_KEYWORDS_MAX + 1];
		struct maildir_keywords_result kr;

		maildir_keywords_letters(dirfd, t->keywords, t->keyword_count, letters,
					 sizeof(letters), &kr);
		snprintf(flags, sizeof(flags), "%s%s", t->flags != NULL ? t->flags : "",
			 letters);
		if (t->keywords_result != NULL)
			*t->keywords_result = kr;
		with_keywords = *t;
		with_keywords.flags = flags;
		t = &with_keywords;
	}
	destdir = t->flags != NULL && t->flags[0] != '\0' ? "cur" : "new";
	tmpfd = openat(dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	destfd = openat(dirfd, destdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tmpfd < 0 || destfd < 0) {
		dsn_set_errno(dsn, errno, "open(%s/tmp or %s) failed", path, destdir);
		goto out;
	}

	fd = maildir_open_tmpfile(tmpfd);
	anonymous = fd >= 0;
	if (!anonymous) {
		for (attempt = 0; attempt < MAILDIR_LINK_ATTEMPTS; attempt++) {
			maildir_unique_name(t, size, vsize, tmpname, sizeof(tmpname));
			fd = openat(tmpfd, tmpname, O_WRONLY | O_CREAT | O_EXCL |
				    O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd >= 0 || errno != EEXIST)
				break;
		}
		if (fd < 0) {
			dsn_set_errno(dsn, errno, "open(%s/tmp/%s) failed", path, tmpname);
			tmpname[0] = '\0';
			goto out;
		}
	}
	/* writev_full advances the iovecs it is given: work on a copy. */
	wiov = malloc(sizeof(*wiov) * (size_t)(iovcnt > 0 ? iovcnt : 1));
	if (wiov == NULL) {
		dsn_set_errno(dsn, errno, "malloc failed");
		goto out;
	}
	memcpy(wiov, iov, sizeof(*wiov) * (size_t)iovcnt);
	if (writev_full(fd, wiov, iovcnt) < 0) {
		dsn_set_errno(dsn, errno, "write(%s/tmp) failed", path);
		free(wiov);
		goto out;
	}
	free(wiov);
	if (fdatasync(fd) < 0) {
		dsn_set_errno(dsn, errno, "fdatasync(%s/tmp) failed", path);
		goto out;
	}

	snprintf(procpath, sizeof(procpath), "/proc/self/fd/%d", fd);
	for (attempt = 0; attempt < MAILDIR_LINK_ATTEMPTS; attempt++) {
		int r;

		maildir_unique_name(t, size, vsize, name, sizeof(name));
		if (anonymous)
			r = linkat(AT_FDCWD, procpath, destfd, name, AT_SYMLINK_FOLLOW);
		else
			r = linkat(tmpfd, tmpname, destfd, name, 0);
		if (r == 0)
			break;
		if (errno != EEXIST) {
			dsn_set_errno(dsn, errno, "link(tmp, %s/%s/%s) failed", path,
				      destdir, name);
			goto out;
		}
	}
	if (attempt == MAILDIR_LINK_ATTEMPTS) {
		dsn_set(dsn, DSN_TEMP_FAIL, "link(tmp, %s/%s) failed: names kept colliding",
			path, destdir);
		goto out;
	}
	if (fsync(destfd) < 0) {
		int err = errno;

		/* Not durable: take the name back so the MTA's retry does not
		 * deliver a second copy. */
		(void)unlinkat(destfd, name, 0);
		dsn_set_errno(dsn, err, "fsync(%s/%s) failed", path, destdir);
		goto out;
	}
	if (filename_r != NULL)
		snprintf(filename_r, filename_size, "%s", name);
	dsn_set(dsn, DSN_DELIVERED, "delivered to maildir");
	ret = 0;
out:
	if (fd >= 0 && close_checked(fd) < 0 && ret == 0) {
		/* The data was fsync'd; a failing close cannot lose it. */
	}
	if (tmpname[0] != '\0' && !anonymous && tmpfd >= 0)
		(void)unlinkat(tmpfd, tmpname, 0);
	if (tmpfd >= 0)
		close_quietly(tmpfd);
	if (destfd >= 0)
		close_quietly(destfd);
	close_quietly(dirfd);
	return ret;
}
