/* spool: memory-then-file message buffer.  Memory use per worker is bounded
 * by SPOOL_MEMORY_MAX; disk use by max_message_size.  The spill file is
 * created with O_TMPFILE (or unlinked at once), so a crash leaves nothing. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buf.h"
#include "dsn.h"
#include "fsutil.h"
#include "lmtpd_limits.h"
#include "spool.h"
#include "xalloc.h"

struct spool {
	char *dir;
	uint64_t max_size;
	struct buf mem;
	int fd;			/* spill file, -1 while in memory */
	uint64_t received;
	uint64_t stored;
	int error;		/* first errno of the spill file, 0 if none */
	void *map;
	size_t map_len;
};

struct spool *
spool_new(const char *dir, uint64_t max_size)
{
	struct spool *s = xcalloc(1, sizeof(*s));

	s->dir = xstrdup(dir);
	s->max_size = max_size;
	s->fd = -1;
	buf_init(&s->mem, SPOOL_MEMORY_MAX);
	return s;
}

static void
spool_release(struct spool *s)
{
	if (s->map != NULL) {
		(void)munmap(s->map, s->map_len);
		s->map = NULL;
	}
	if (s->fd >= 0) {
		close_quietly(s->fd);
		s->fd = -1;
	}
}

void
spool_free(struct spool **sp)
{
	struct spool *s = *sp;

	if (s == NULL)
		return;
	spool_release(s);
	buf_free(&s->mem);
	free(s->dir);
	free(s);
	*sp = NULL;
}

void
spool_begin(struct spool *s)
{
	spool_release(s);
	/* Keep a big buffer from one message from pinning memory forever. */
	if (s->mem.cap > 64 * 1024)
		buf_free(&s->mem);
	buf_reset(&s->mem);
	s->received = 0;
	s->stored = 0;
	s->error = 0;
}

static int
spool_spill(struct spool *s)
{
	char path[MAIL_PATH_MAX];

	s->fd = open(s->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (s->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		snprintf(path, sizeof(path), "%s/spool.XXXXXX", s->dir);
		s->fd = mkostemp(path, O_CLOEXEC);
		if (s->fd >= 0)
			(void)unlink(path);
	}
	if (s->fd < 0)
		return -1;
	if (write_full(s->fd, s->mem.data, s->mem.len) < 0)
		return -1;
	buf_reset(&s->mem);
	return 0;
}

void
spool_write(struct spool *s, const char *data, size_t len)
{
	size_t keep = len;

	s->received += len;
	if (s->error != 0)
		return;
	if (s->max_size != 0 && s->stored + keep > s->max_size) {
		keep = s->stored >= s->max_size ? 0 : (size_t)(s->max_size - s->stored);
		if (keep == 0)
			return;
	}
	if (s->fd < 0 && buf_append(&s->mem, data, keep) == 0) {
		s->stored += keep;
		return;
	}
	if (s->fd < 0 && spool_spill(s) < 0) {
		s->error = errno;
		return;
	}
	if (write_full(s->fd, data, keep) < 0) {
		s->error = errno;
		return;
	}
	s->stored += keep;
}

uint64_t
spool_received(const struct spool *s)
{
	return s->received;
}

int
spool_finish(struct spool *s, const char **data_r, size_t *size_r,
	     struct dsn *dsn_r)
{
	if (s->max_size != 0 && s->received > s->max_size) {
		dsn_set(dsn_r, DSN_TOO_LARGE, "message size %llu exceeds "
			"max_message_size %llu", (unsigned long long)s->received,
			(unsigned long long)s->max_size);
		return -1;
	}
	if (s->error != 0) {
		dsn_set_errno(dsn_r, s->error, "spool file in %s", s->dir);
		return -1;
	}
	if (s->fd < 0) {
		*data_r = s->mem.data != NULL ? s->mem.data : "";
		*size_r = s->mem.len;
		return 0;
	}
	s->map_len = (size_t)s->stored;
	s->map = mmap(NULL, s->map_len, PROT_READ, MAP_PRIVATE, s->fd, 0);
	if (s->map == MAP_FAILED) {
		s->map = NULL;
		dsn_set_errno(dsn_r, errno, "mmap(spool file) failed");
		return -1;
	}
	*data_r = s->map;
	*size_r = s->map_len;
	return 0;
}
