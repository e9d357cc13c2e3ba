/* Dovecot's dotlocks in a Maildir: NAME.lock created with O_EXCL beside
 * the file it guards (subscriptions, dovecot-uidlist).  Dovecot takes over
 * a lock older than its stale timeout, or one whose "PID:HOST" names a
 * dead process on its own host; lmtpd does the same, so neither waits
 * forever for the other's crashed process. */
#ifndef LMTPD_MAILDIR_DOTLOCK_H
#define LMTPD_MAILDIR_DOTLOCK_H

/* Dovecot's stale timeout for these locks. */
#define MAILDIR_DOTLOCK_STALE_SECS 120

/* Creates name in dirfd (never through a symlink), taking over a stale
 * lock, waiting up to 2 s for a live holder (a delivery does not wait for
 * a long IMAP sync).  Returns the lock's fd, for the caller to fill (with
 * "PID:HOST", or the guarded file's new contents when the lock is renamed
 * over it), or -1 with errno (EWOULDBLOCK: held all that time). */
int maildir_dotlock_take(int dirfd, const char *name);

/* This host's name as Dovecot writes it in a lock ("PID:HOST"). */
void maildir_dotlock_host(char *out, size_t out_size);

#endif
