/* fsutil: complete writes and durable directory creation. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "lmtpd_limits.h"

int
write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
writev_full(int fd, struct iovec *iov, int iovcnt)
{
	while (iovcnt > 0) {
		int cnt = iovcnt > IOV_MAX ? IOV_MAX : iovcnt;
		ssize_t n = writev(fd, iov, cnt);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

int
fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	if (close_checked(fd) < 0)
		ret = -1;
	return ret;
}

int
close_checked(int fd)
{
	if (close(fd) < 0 && errno != EINTR)
		return -1;
	return 0;
}

void
close_quietly(int fd)
{
	int saved = errno;

	(void)close(fd);
	errno = saved;
}

/* One mkdir, made durable in its parent; an existing folder is fine. */
static int
mkdir_one(const char *path, size_t len, mode_t mode)
{
	char tmp[MAIL_PATH_MAX];
	char *slash;

	if (mkdir(path, mode) == 0) {
		/* The new entry lives in the parent: make it durable. */
		memcpy(tmp, path, len + 1);
		slash = strrchr(tmp, '/');
		if (slash != NULL && slash != tmp) {
			*slash = '\0';
			return fsync_path(tmp);
		}
		return fsync_path("/");
	}
	if (errno == EEXIST) {
		struct stat st;

		if (stat(path, &st) < 0)
			return -1;
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			return -1;
		}
		return 0;
	}
	return -1;
}

int
mkdir_parents(const char *path, mode_t mode)
{
	char tmp[MAIL_PATH_MAX];
	size_t len = strlen(path);
	char *slash;

	if (len == 0 || len >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir_one(path, len, mode) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	memcpy(tmp, path, len + 1);
	slash = strrchr(tmp, '/');
	while (slash != NULL && slash > tmp && slash[-1] == '/')
		slash--;
	if (slash == NULL || slash == tmp) {
		errno = ENOENT;
		return -1;
	}
	*slash = '\0';
	if (mkdir_parents(tmp, mode) < 0)
		return -1;
	/* Once more, not recursively: a file system that still answers
	 * ENOENT with the parent in place (/proc) is an error, not a loop. */
	return mkdir_one(path, len, mode);
}

bool
path_has_dotdot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "/..")) != NULL; p += 3)
		if (p[3] == '/' || p[3] == '\0')
			return true;
	return false;
}
