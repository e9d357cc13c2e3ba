/* (dbenv.h, not db.h: that name would shadow Berkeley DB's own header.)
 * The Berkeley DB environment under state_dir that the daemon's workers and
 * the tools share (DESIGN "Process model"): transactional, opened by every
 * process with DB_REGISTER so that a process that died while using it makes
 * the next opener run recovery, and with set_isalive so that db_env_failchk()
 * releases the locks and transactions a killed worker or tool held.  Locks
 * wait at most DB_LOCK_TIMEOUT_MS: mail never waits long on a database; a
 * caller that gets a timeout treats it as a temporary failure of its own
 * feature (vacation, dedup, Bayes), never of the delivery.
 *
 * A handle is per process: open it after fork.  Not thread-safe (lmtpd runs
 * one thread per process). */
#ifndef LMTPD_DBENV_H
#define LMTPD_DBENV_H

#include <db.h>
#include <stdbool.h>
#include "compat.h"

/* Bound on any single lock wait, milliseconds. */
#define DB_LOCK_TIMEOUT_MS 5000

struct db_env;

/* Opens (creating dir 0700 and the environment if needed) the environment
 * in dir.  Returns NULL with *error_r (malloc'd) on failure.  A second open
 * of the same dir in a process returns the same handle (DB_REGISTER allows
 * one per process); each open needs its close. */
struct db_env *db_env_open(const char *dir, char **error_r) ATTR_WUR;
void db_env_close(struct db_env **env);
DB_ENV *db_env_handle(struct db_env *env);

/* Opens (creating) database file name (relative to the environment) of
 * type (DB_BTREE or DB_HASH) inside a transaction.  Returns 0, or -1 with
 * *error_r (malloc'd). */
int db_env_open_db(struct db_env *env, const char *name, DBTYPE type, DB **db_r,
		   char **error_r) ATTR_WUR;

/* Releases what dead processes held (DB_ENV->failchk); call it when an
 * operation fails with DB_RUNRECOVERY or a lock timeout, and now and then.
 * Returns 0, or -1 when the environment must be reopened (the caller then
 * closes and opens it again). */
int db_env_failchk(struct db_env *env);

/* Runs fn in a transaction, retrying on deadlock a few times; fn returns a
 * Berkeley DB error code (0 = commit).  Returns the final code. */
int db_env_txn(struct db_env *env, int (*fn)(DB_TXN *txn, void *ctx), void *ctx);

#endif
