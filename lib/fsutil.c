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

bool
path_parent(const char *path, char *out, size_t out_size)
{
	size_t len = strlen(path), end;

	while (len > 1 && path[len - 1] == '/')
		len--;
	end = len;
	while (end > 0 && path[end - 1] != '/')
		end--;
	if (end == 0) {
		if (out_size < 2)
			return false;
		memcpy(out, ".", 2);
		return true;
	}
	while (end > 1 && path[end - 1] == '/')
		end--;
	if (end >= out_size)
		return false;
	memcpy(out, path, end);
	out[end] = '\0';
	return true;
}

/* One mkdir, made durable in its parent; an existing folder is fine
 * (*created_r false). */
static int
mkdir_one(const char *path, mode_t mode, bool *created_r)
{
	char parent[MAIL_PATH_MAX];

	*created_r = false;
	if (mkdir(path, mode) == 0) {
		*created_r = true;
		/* The new entry lives in the parent: make it durable.  Not
		 * the last slash's left side: with "a/new/" that was the
		 * new folder itself, and its entry in a/ never reached the
		 * disk before the 250. */
		if (!path_parent(path, parent, sizeof(parent))) {
			errno = ENAMETOOLONG;
			return -1;
		}
		return fsync_path(parent);
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
mkdir_parents(const char *path, mode_t mode, bool *created_r)
{
	char parent[MAIL_PATH_MAX];
	size_t len = strlen(path);
	bool created;

	if (created_r != NULL)
		*created_r = false;
	if (len == 0 || len >= sizeof(parent)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir_one(path, mode, &created) == 0)
		goto made;
	if (errno != ENOENT)
		return -1;
	if (!path_parent(path, parent, sizeof(parent)) || strcmp(parent, "/") == 0 ||
	    strcmp(parent, ".") == 0) {
		errno = ENOENT;
		return -1;
	}
	if (mkdir_parents(parent, mode, NULL) < 0)
		return -1;
	/* Once more, not recursively: a file system that still answers
	 * ENOENT with the parent in place (/proc) is an error, not a loop. */
	if (mkdir_one(path, mode, &created) < 0)
		return -1;
made:
	if (created_r != NULL)
		*created_r = created;
	return 0;
}

bool
path_has_dotdot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "/..")) != NULL; p += 3)
		if (p[3] == '/' || p[3] == '\0')
			return true;
	return false;
}
