/* Dovecot's dotlocks in a Maildir: NAME.lock created with O_EXCL beside
 * the file it guards (subscriptions, dovecot-uidlist).  Dovecot takes over
 * a lock older than its stale timeout, or one whose "PID:HOST" names a
 * dead process on its own host; lmtpd does the same, so neither waits
 * forever for the other's crashed process. */
#ifndef LMTPD_MAILDIR_DOTLOCK_H
#define LMTPD_MAILDIR_DOTLOCK_H

#include <stddef.h>
#include <sys/types.h>

#include "compat.h"

/* Dovecot's stale timeout for these locks. */
#define MAILDIR_DOTLOCK_STALE_SECS 120

struct maildir_dotlock {
	int dirfd;		/* the folder (the caller's, not owned) */
	const char *name;	/* the lock's name in it (not owned) */
	int fd;			/* the lock file, open for writing; -1 once closed */
	int flock_fd;		/* the folder, flock()ed against lmtpd's own */
	dev_t dev;		/* the lock file we created */
	ino_t ino;
};

/* Creates name in dirfd (never through a symlink) with the folder's
 * permission bits and group (as Dovecot does), taking over a stale lock,
 * waiting up to 2 s in all for lmtpd's own processes and a live holder
 * (a delivery does not wait for a long IMAP sync).  On 0, lock_r->fd is
 * the lock's fd for the caller to fill (with "PID:HOST", or the guarded
 * file's new contents when the lock is renamed over it) and close; the
 * lock ends with maildir_dotlock_release() or maildir_dotlock_renamed().
 * -1 with errno: EWOULDBLOCK when held all that time, EINVAL when name is
 * not a regular file. */
int maildir_dotlock_take(int dirfd, const char *name, struct maildir_dotlock *lock_r)
	ATTR_WUR;
/* 0 when name still is the lock this process created, -1 with errno
 * (ESTALE: someone took it over) otherwise. */
int maildir_dotlock_check(const struct maildir_dotlock *lock) ATTR_WUR;
/* Removes the lock when name is still ours (never someone else's) and
 * ends it; -1 with errno when it could not be removed or was not ours
 * any more (ESTALE): the caller warns. */
int maildir_dotlock_release(struct maildir_dotlock *lock) ATTR_WUR;
/* Ends a lock the caller renamed over the guarded file. */
void maildir_dotlock_renamed(struct maildir_dotlock *lock);

/* This host's name as Dovecot writes it in a lock ("PID:HOST"). */
void maildir_dotlock_host(char *host_r, size_t host_size);

#endif
