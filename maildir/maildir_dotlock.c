/* maildir_dotlock: Dovecot-compatible dotlocks (see the header).
 *
 * Takeover: a lock is stale when older than Dovecot's 120 s, or when its
 * "PID:HOST" names this host and a pid that no longer exists.  Like
 * Dovecot, it is removed only if the name still refers to the very file
 * judged stale (device, inode, mtime, size), and a lock is released only
 * while the name still refers to the file we created, so a fresh lock
 * created in between is never removed.  The judge-then-unlink window
 * remains between any two takers; lmtpd's own processes close it among
 * themselves with flock() on the folder, held from before the dotlock
 * until it ends (Dovecot does not take that flock, so it is unaffected). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "maildir_dotlock.h"
#include "maildir_file.h"

/* How long a delivery waits for the lock in all, and in what steps. */
#define DOTLOCK_WAIT_MS 2000
#define DOTLOCK_STEP_MS 10

enum dotlock_state { DOTLOCK_GONE, DOTLOCK_LIVE, DOTLOCK_STALE, DOTLOCK_BAD };

void
maildir_dotlock_host(char *host_r, size_t host_size)
{
	if (gethostname(host_r, host_size) < 0)
		snprintf(host_r, host_size, "localhost");
	host_r[host_size - 1] = '\0';
}

static bool
dotlock_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Whether the lock name was left behind: older than the stale timeout,
 * or holding "PID:HOST" of a dead process on this host.  judged_r gets
 * the status of the file judged. */
static enum dotlock_state
dotlock_state(int dirfd, const char *name, struct stat *judged_r)
{
	char buf[300], host[256], *colon, *end;
	ssize_t n;
	long pid;
	int fd = maildir_open_regular(dirfd, name, judged_r);

	if (fd < 0) {
		if (errno == ENOENT)
			return DOTLOCK_GONE;	/* the next try takes it */
		return errno == EINVAL || errno == ELOOP ? DOTLOCK_BAD : DOTLOCK_LIVE;
	}
	if (time(NULL) - judged_r->st_mtime > MAILDIR_DOTLOCK_STALE_SECS) {
		close_quietly(fd);
		return DOTLOCK_STALE;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close_quietly(fd);
	if (n <= 0)
		return DOTLOCK_LIVE;	/* being written, or unreadable */
	buf[n] = '\0';
	/* Dovecot writes no newline; other writers may. */
	if (buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	colon = strchr(buf, ':');
	maildir_dotlock_host(host, sizeof(host));
	if (colon == NULL || strcmp(colon + 1, host) != 0)
		return DOTLOCK_LIVE;
	*colon = '\0';
	if (buf[0] < '0' || buf[0] > '9')
		return DOTLOCK_LIVE;
	errno = 0;
	pid = strtol(buf, &end, 10);
	/* A pid that does not fit would name another process once cast. */
	if (*end != '\0' || errno != 0 || pid <= 0 || pid > INT_MAX)
		return DOTLOCK_LIVE;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH ? DOTLOCK_STALE : DOTLOCK_LIVE;
}

static long
dotlock_elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	if (clock_gettime(CLOCK_MONOTONIC, &now) < 0)
		return DOTLOCK_WAIT_MS;
	return (long)(now.tv_sec - start->tv_sec) * 1000 +
	       (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void
dotlock_pause(void)
{
	struct timespec ts = { 0, DOTLOCK_STEP_MS * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

static void
dotlock_end(struct maildir_dotlock *lock)
{
	if (lock->fd >= 0)
		close_quietly(lock->fd);
	lock->fd = -1;
	if (lock->flock_fd >= 0)
		close_quietly(lock->flock_fd);	/* drops the flock */
	lock->flock_fd = -1;
}

int
maildir_dotlock_take(int dirfd, const char *name, struct maildir_dotlock *lock_r)
{
	struct timespec start;
	struct stat st;
	int err;

	*lock_r = (struct maildir_dotlock){ .dirfd = dirfd, .name = name, .fd = -1,
					    .flock_fd = -1 };
	if (clock_gettime(CLOCK_MONOTONIC, &start) < 0)
		return -1;
	/* A descriptor of our own: a flock belongs to the open file, which
	 * the caller's fd may share with a forked process. */
	lock_r->flock_fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock_r->flock_fd < 0)
		return -1;
	while (flock(lock_r->flock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			goto fail;
		if (dotlock_elapsed_ms(&start) >= DOTLOCK_WAIT_MS) {
			errno = EWOULDBLOCK;
			goto fail;
		}
		dotlock_pause();
	}
	for (;;) {
		struct stat judged, now;

		lock_r->fd = maildir_create_file(dirfd, name);
		if (lock_r->fd >= 0)
			break;
		if (errno != EEXIST)
			goto fail;
		switch (dotlock_state(dirfd, name, &judged)) {
		case DOTLOCK_BAD:
			errno = EINVAL;
			goto fail;
		case DOTLOCK_STALE:
			/* Only the file judged: a fresh lock may have
			 * replaced it meanwhile. */
			if (fstatat(dirfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
			    dotlock_same_file(&judged, &now) &&
			    unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
				goto fail;
			break;
		case DOTLOCK_GONE:
			break;
		case DOTLOCK_LIVE:
			dotlock_pause();
			break;
		}
		if (dotlock_elapsed_ms(&start) >= DOTLOCK_WAIT_MS) {
			errno = EWOULDBLOCK;
			goto fail;
		}
	}
	if (fstat(lock_r->fd, &st) < 0) {
		err = errno;
		(void)unlinkat(dirfd, name, 0);	/* just created: ours */
		errno = err;
		goto fail;
	}
	lock_r->dev = st.st_dev;
	lock_r->ino = st.st_ino;
	return 0;
fail:
	err = errno;
	dotlock_end(lock_r);
	errno = err;
	return -1;
}

int
maildir_dotlock_check(const struct maildir_dotlock *lock)
{
	struct stat st;

	if (fstatat(lock->dirfd, lock->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			errno = ESTALE;
		return -1;
	}
	if (st.st_dev != lock->dev || st.st_ino != lock->ino) {
		errno = ESTALE;
		return -1;
	}
	return 0;
}

int
maildir_dotlock_release(struct maildir_dotlock *lock)
{
	int ret = 0, err = 0;

	if (lock->fd >= 0)
		close_quietly(lock->fd);	/* nothing in it is needed now */
	lock->fd = -1;
	if (maildir_dotlock_check(lock) < 0 || unlinkat(lock->dirfd, lock->name, 0) < 0) {
		err = errno;
		ret = -1;
	}
	dotlock_end(lock);
	errno = err;
	return ret;
}

void
maildir_dotlock_renamed(struct maildir_dotlock *lock)
{
	dotlock_end(lock);
}
