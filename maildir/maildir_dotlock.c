/* maildir_dotlock: Dovecot-compatible dotlocks (see the header). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "maildir_dotlock.h"

/* How long to wait for a live holder, in 10 ms steps. */
#define DOTLOCK_TRIES 200

void
maildir_dotlock_host(char *out, size_t out_size)
{
	if (gethostname(out, out_size) < 0)
		snprintf(out, out_size, "localhost");
	out[out_size - 1] = '\0';
}

/* Whether the lock name was left behind: older than the stale timeout,
 * or holding "PID:HOST" of a dead process on this host. */
static bool
dotlock_is_stale(int dirfd, const char *name)
{
	char buf[300], host[256], *colon, *end;
	struct stat st;
	ssize_t n;
	long pid;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return false;	/* gone: the next try takes it */
	if (fstat(fd, &st) == 0 && time(NULL) - st.st_mtime > MAILDIR_DOTLOCK_STALE_SECS) {
		close_quietly(fd);
		return true;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close_quietly(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	colon = strchr(buf, ':');
	maildir_dotlock_host(host, sizeof(host));
	if (colon == NULL || strcmp(colon + 1, host) != 0)
		return false;
	*colon = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (end == buf || *end != '\0' || errno != 0 || pid <= 0)
		return false;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

int
maildir_dotlock_take(int dirfd, const char *name)
{
	for (int attempt = 0; attempt < DOTLOCK_TRIES; attempt++) {
		int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				O_CLOEXEC, 0600);

		if (fd >= 0 || errno != EEXIST)
			return fd;
		if (dotlock_is_stale(dirfd, name)) {
			(void)unlinkat(dirfd, name, 0);
			continue;
		}
		{
			struct timespec ts = { 0, 10 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	errno = EWOULDBLOCK;
	return -1;
}
