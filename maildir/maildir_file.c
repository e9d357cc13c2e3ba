/* maildir_file: opening and creating the files Dovecot keeps in a Maildir
 * folder (see the header).  Split out of maildir_dotlock.c: the dotlocks
 * use them, but so do the keyword and subscriptions files. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "maildir_file.h"

/* Read size: both files are usually a few hundred bytes. */
#define MAILDIR_READ_CHUNK 8192

int
maildir_open_regular(int dirfd, const char *name, struct stat *st_r)
{
	int fd;

	/* Checked before opening too: opening a device can have effects. */
	if (fstatat(dirfd, name, st_r, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (!S_ISREG(st_r->st_mode)) {
		errno = EINVAL;
		return -1;
	}
	fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, st_r) < 0) {
		close_quietly(fd);
		return -1;
	}
	if (!S_ISREG(st_r->st_mode)) {
		close_quietly(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

int
maildir_create_file(int dirfd, const char *name)
{
	struct stat dir;
	mode_t mode;
	int fd, err;

	if (fstat(dirfd, &dir) < 0)
		return -1;
	mode = dir.st_mode & 0666;
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	/* The folder's owner chose who may read it; lmtpd's umask does not
	 * narrow that (Dovecot sets its umask aside the same way). */
	if (fchmod(fd, mode) < 0) {
		err = errno;
		close_quietly(fd);
		(void)unlinkat(dirfd, name, 0);
		errno = err;
		return -1;
	}
	if (dir.st_gid != getegid() && fchown(fd, (uid_t)-1, dir.st_gid) < 0) {
		/* Not a member of that group: as in Dovecot, the file keeps
		 * ours and works for the owner. */
	}
	return fd;
}

int
maildir_read_regular(int dirfd, const char *name, struct buf *out, struct stat *st_r)
{
	char chunk[MAILDIR_READ_CHUNK];
	ssize_t n;
	int fd = maildir_open_regular(dirfd, name, st_r);

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	/* refused before reading when its size already says so; the reads
	 * are still bounded by out in case it grows meanwhile */
	if ((unsigned long long)st_r->st_size > out->max - out->len) {
		close_quietly(fd);
		errno = EFBIG;
		return -1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close_quietly(fd);
			return -1;
		}
		if (buf_append(out, chunk, (size_t)n) < 0) {
			close_quietly(fd);
			errno = EFBIG;
			return -1;
		}
	}
	close_quietly(fd);
	return 1;
}
