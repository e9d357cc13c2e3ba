/* File-system helpers whose partial-failure handling is easy to get wrong:
 * complete writes, directory creation and directory fsync.  All return 0 or
 * -1 with errno set. */
#ifndef LMTPD_FSUTIL_H
#define LMTPD_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>
#include "compat.h"

/* Writes all of buf, retrying short writes and EINTR. */
int write_full(int fd, const void *buf, size_t len) ATTR_WUR;
/* Writes all iovecs; iov is modified. */
int writev_full(int fd, struct iovec *iov, int iovcnt) ATTR_WUR;
/* Creates path and its missing parents with mode; existing directories are
 * fine.  Newly created directories' parents are fsync'd so the new entries
 * survive a crash.  *created_r (when not NULL): whether this call made
 * path itself, not another process in the meantime. */
int mkdir_parents(const char *path, mode_t mode, bool *created_r) ATTR_WUR;
/* The folder path is in, into out: trailing and repeated slashes
 * ignored ("/a/b/" and "/a//b" give "/a", "/a" gives "/", "a" gives
 * "."); false when out is too small. */
bool path_parent(const char *path, char *out, size_t out_size) ATTR_WUR;
/* Opens dir at path (following symlinks in it) and fsyncs it. */
int fsync_path(const char *path) ATTR_WUR;
/* close() that reports errors (EINTR counts as closed, as on Linux). */
int close_checked(int fd) ATTR_WUR;
/* For descriptors whose close can not lose data (directories, read-only
 * files, failure paths where an error is already being reported). */
void close_quietly(int fd);
/* Whether path has a ".." component (after a '/'): such a path can leave
 * the folder it names, so delivery paths never have one. */
bool path_has_dotdot(const char *path);

#endif
