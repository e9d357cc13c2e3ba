/* (dbenv.h, not db.h: that name would shadow Berkeley DB's own header.)
 * The Berkeley DB environment under state_dir that the daemon's workers and
 * the tools share (DESIGN "Process model"), transactional.
 *
 * Berkeley DB 5.3 on Debian keeps its region mutexes in non-robust
 * process-shared pthread mutexes and condition variables: a process killed
 * inside one leaves every other process that needs it blocked for good, and
 * neither failchk nor a DB_REGISTER recovery can free it (both may hang
 * themselves in pthread_cond_destroy).  So this module never asks Berkeley
 * DB to repair a live environment.  Instead:
 *
 *   - every process that has the environment open holds a read lock on
 *     DIR/lmtpd-db.lock and a write lock on its own DIR/lmtpd-db.users/PID
 *     (fcntl locks vanish with the process, however it dies), so a
 *     process that died while attached is seen by anyone (db_env_maintain);
 *   - a death, a Berkeley DB panic or a process stuck inside Berkeley DB
 *     past db_stall_timeout (the daemon's master watches its workers; the
 *     tools watch themselves) creates DIR/lmtpd-db.recover;
 *   - whoever sees that file lets go of the environment without calling
 *     into it again (the old regions are simply left mapped) and keeps
 *     working without the database (a temporary failure of Bayes or
 *     vacation, never of a delivery);
 *   - once nobody holds the lock, the first opener (or the master's tick)
 *     takes it exclusively, deletes the old region files and runs normal
 *     recovery from the logs into fresh regions, so nothing ever touches a
 *     mutex a dead process left behind.
 *
 * Locks never wait (DB_TXN_NOWAIT): a conflict is retried after a short
 * random pause, so mail never waits long on a database, and a process is
 * inside a lock wait, where a kill would hurt, as little as possible.
 *
 * A handle is per process: open it after fork.  Not thread-safe (lmtpd
 * runs one thread per process). */
#ifndef LMTPD_DBENV_H
#define LMTPD_DBENV_H

#include <db.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "compat.h"

/* Bound on any single Berkeley DB lock wait, milliseconds (the handful of
 * calls that can not use DB_TXN_NOWAIT, such as opening a database). */
#define DB_LOCK_TIMEOUT_MS 5000

struct db_env;

/* Opens (creating dir 0700 and the environment if needed) the environment
 * in dir.  When recovery is pending and other processes still hold the
 * environment, waits up to the time set with db_env_set_attach_wait()
 * (default 0: the daemon's workers don't wait) and then fails with errno
 * EAGAIN.  Returns NULL with *error_r (malloc'd) on failure.  A second open
 * of the same dir in a process returns the same handle; each open needs
 * its close. */
struct db_env *db_env_open(const char *dir, char **error_r) ATTR_WUR;
/* Closes the environment, or, when it went stale, lets go of it without
 * calling into Berkeley DB. */
void db_env_close(struct db_env **env);
DB_ENV *db_env_handle(struct db_env *env);
void db_env_set_attach_wait(unsigned int seconds);

/* Opens (creating) database file name (relative to the environment) of
 * type (DB_BTREE or DB_HASH).  Returns 0, or -1 with *error_r (malloc'd). */
int db_env_open_db(struct db_env *env, const char *name, DBTYPE type, DB **db_r,
		   char **error_r) ATTR_WUR;
/* Opens an existing database file for reading only: Berkeley DB maps it
 * instead of reading it through the cache while nobody has it open for
 * writing.  Returns -1 with errno ENOENT when the file does not exist. */
int db_env_open_db_read_only(struct db_env *env, const char *name, DBTYPE type, DB **db_r,
			     char **error_r) ATTR_WUR;
/* Closes a database handle (only forgets it if the environment is stale). */
void db_env_close_db(struct db_env *env, DB **db);

/* True when the environment must be let go of: recovery is pending.  The
 * first call that notices releases this process's hold at once; every
 * later call into it fails with DB_RUNRECOVERY.  The caller closes its
 * database handles with db_env_close_db, the environment with
 * db_env_close, and opens again later. */
bool db_env_stale(struct db_env *env);
/* db_env_stale for every environment this process holds: for a process
 * that may sit idle for long (a worker waiting for a client), so that it
 * does not hold up a recovery. */
void db_env_poll(void);

/* Runs fn in a transaction begun with flags | DB_TXN_NOWAIT, retrying
 * lock conflicts for about a second; fn returns a Berkeley DB error code
 * (0 = commit).  Returns the final code (DB_RUNRECOVERY once stale). */
int db_env_txn(struct db_env *env, uint32_t flags, int (*fn)(DB_TXN *txn, void *ctx),
	       void *ctx);
/* db_env_txn without the retries: a lock conflict is returned at once
 * (DB_LOCK_NOTGRANTED), for writes that may as well be left undone. */
int db_env_txn_once(struct db_env *env, uint32_t flags, int (*fn)(DB_TXN *txn, void *ctx),
		    void *ctx);
/* db_env_txn for fn that only reads: read-committed, and no checkpoint
 * after it (it wrote no log; asking costs system calls per lookup). */
int db_env_read(struct db_env *env, int (*fn)(DB_TXN *txn, void *ctx), void *ctx);

/* Marks the current process as inside Berkeley DB (nesting); the
 * functions above do it themselves, a caller using handles directly
 * (a cursor walk) brackets the walk. */
void db_env_busy_begin(void);
void db_env_busy_end(void);
/* Where the "busy since" time (CLOCK_MONOTONIC, ms; 0 when not busy) is
 * kept: by default in this process, or in memory the daemon's master
 * shares with a worker (NULL: back to this process). */
void db_env_watch_slot(_Atomic int64_t *slot);
/* Milliseconds this process has been inside Berkeley DB, 0 when it isn't.
 * Async-signal-safe (a tool's watchdog reads it from SIGALRM). */
int64_t db_env_busy_ms(void);
int64_t db_env_now_ms(void);

/* Asks for recovery of the environment in dir (creates the marker),
 * logging why.  Returns 0, or -1 with errno. */
int db_env_request_recovery(const char *dir, const char *why);
/* The marker's path (malloc'd), for a watchdog that must create it from a
 * signal handler. */
char *db_env_marker_path(const char *dir);

/* For the master (and at start): finds processes that died while holding
 * the environment in dir and asks for recovery; runs a pending recovery
 * when nobody holds the environment any more.  Returns 1 when it
 * recovered, 0 when nothing was to do (or dir holds no environment), -1
 * when recovery is pending on processes that still hold it (logged, with
 * their pids, at most every few seconds).  Only in a process that does not
 * hold the environment itself (fcntl locks are per process). */
int db_env_maintain(const char *dir);

#endif
