/* The spool: where one transaction's message data goes while it arrives.
 * Up to SPOOL_MEMORY_MAX bytes stay in memory; a larger message spills to
 * an unlinked file in state_dir, which is mapped read-only at the end, so
 * the rest of the pipeline always sees one (data, size) range.  Bytes past
 * max_message_size are counted and dropped (the session still reads the
 * whole message so it can answer 552 5.3.4 per recipient). */
#ifndef LMTPD_SPOOL_H
#define LMTPD_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "compat.h"

struct dsn;
struct spool;

/* dir: where large messages spill; max_size 0 = no limit. */
struct spool *spool_new(const char *dir, uint64_t max_size);
void spool_free(struct spool **spool);

/* Starts a new message, discarding any previous one. */
void spool_begin(struct spool *spool);
/* Appends; failures are remembered and reported by spool_finish. */
void spool_write(struct spool *spool, const char *data, size_t len);
/* Returns 0 with the message range (valid until spool_begin/spool_free),
 * or -1 with dsn_r: DSN_TOO_LARGE, or DSN_DISK_FULL/DSN_TEMP_FAIL if the
 * spill file failed. */
int spool_finish(struct spool *spool, const char **data_r, size_t *size_r,
		 struct dsn *dsn_r) ATTR_WUR;
/* Bytes received so far, dropped ones included. */
uint64_t spool_received(const struct spool *spool);

#endif
