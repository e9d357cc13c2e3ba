/* stamp_db: a database of keys, each with the time something was last
 * done for it: the vacation history (vacation.c) and the redirects sent
 * (redirect_dup.c). One Berkeley DB file in the shared environment
 * (lib/dbenv.h), opened on first use in the process that uses it (after
 * fork). A record is 8 bytes, the time, big-endian.
 *
 * Old records are purged by whoever writes, once per 256 writes, at most
 * 1000 looked at per purge, each purge going on where the last one
 * stopped: the file stays bounded however many records sort before the
 * old ones. The position is kept under a key of its own,
 * "\0purge-position"; a caller's keys must never be that one.
 *
 * A database problem is logged (as "OWNER: ...; WITHOUT for now") and
 * the call fails; after a failed open the next one is tried 30 s later
 * (1 s while a recovery runs). */
#ifndef LMTPD_STAMP_DB_H
#define LMTPD_STAMP_DB_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "compat.h"

struct stamp_db;

/* file: the database file in state_dir; owner and without name it in the
 * log ("vacation", "no vacation replies"). The strings are kept. */
struct stamp_db *stamp_db_new(const char *state_dir, const char *file, const char *owner,
			      const char *without);
void stamp_db_free(struct stamp_db **s);

/* 1 with *when_r if key has a record, 0 if not, -1 on error (logged). */
int stamp_db_get(struct stamp_db *s, const void *key, size_t len, uint64_t *when_r) ATTR_WUR;
/* Records now for key; now and then removes records older than max_age
 * seconds. Returns 0 or -1 (logged). */
int stamp_db_put(struct stamp_db *s, const void *key, size_t len, time_t now,
		 uint64_t max_age) ATTR_WUR;

#endif
