/* Files of a Maildir folder that lmtpd shares with Dovecot (dotlocks,
 * dovecot-keywords, subscriptions): named under the folder's fd, never
 * reached through a symlink, a FIFO or a device, and created with the
 * folder's permission bits and group so Dovecot can use them. */
#ifndef LMTPD_MAILDIR_FILE_H
#define LMTPD_MAILDIR_FILE_H

#include <sys/stat.h>

#include "compat.h"

struct buf;

/* Creates name in dirfd (O_EXCL, no symlink) with the folder's permission
 * bits for files (its mode & 0666) and its group, as Dovecot creates the
 * files of a folder.  An fd, or -1 with errno. */
int maildir_create_file(int dirfd, const char *name) ATTR_WUR;
/* Opens name in dirfd for reading without following a symlink or blocking
 * on a FIFO; st_r gets its status.  -1 with errno: EINVAL when it is not
 * a regular file. */
int maildir_open_regular(int dirfd, const char *name, struct stat *st_r) ATTR_WUR;
/* Appends the whole of name in dirfd (opened as maildir_open_regular does)
 * to out, whose maximum (never 0) bounds the read.  1 with st_r set, 0
 * when there is no such file, or -1 with errno: EINVAL when it is not a
 * regular file, EFBIG when it does not fit in out. */
int maildir_read_regular(int dirfd, const char *name, struct buf *out, struct stat *st_r)
	ATTR_WUR;

#endif
