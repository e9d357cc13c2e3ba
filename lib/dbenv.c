/* dbenv: the shared transactional Berkeley DB environment.  Liveness for
 * failchk is "does the pid still exist" (kill(pid, 0)); one process is one
 * thread here.  Logs are removed automatically once checkpointed, and the
 * environment is checkpointed by whoever notices the log grew, so state_dir
 * stays bounded without a cron job. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbenv.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

/* Processes (and so "threads") that may hold the environment at once. */
#define DB_THREAD_COUNT 512
#define DB_TXN_RETRIES 5
/* Checkpoint once this much log was written (KiB). */
#define DB_CHECKPOINT_KB 1024

struct db_env {
	DB_ENV *env;
	char *dir;
	pid_t pid;		/* the process that opened it */
	unsigned int refs;
	struct db_env *next;
};

/* DB_REGISTER allows one open handle per environment in a process, so the
 * users of one process (vacation and Bayes in a worker) share it: a second
 * open of the same dir gets the same handle, the last close closes it. */
static struct db_env *db_envs;

static int
db_is_alive(DB_ENV *env, pid_t pid, db_threadid_t tid, u_int32_t flags)
{
	(void)env;
	(void)tid;
	(void)flags;
	if (pid == getpid())
		return 1;
	return kill(pid, 0) == 0 || errno == EPERM;
}

static void
db_errcall(const DB_ENV *env, const char *prefix, const char *msg)
{
	(void)env;
	(void)prefix;
	log_warn("berkeley db: %s", msg);
}

/* Informational messages (failchk freeing a dead process's locks). */
static void
db_msgcall(const DB_ENV *env, const char *msg)
{
	(void)env;
	log_info("berkeley db: %s", msg);
}

struct db_env *
db_env_open(const char *dir, char **error_r)
{
	struct db_env *e;
	int ret;

	*error_r = NULL;
	for (e = db_envs; e != NULL; e = e->next)
		if (e->pid == getpid() && strcmp(e->dir, dir) == 0) {
			e->refs++;
			return e;
		}
	e = xcalloc(1, sizeof(*e));
	if (mkdir_parents(dir, 0700) < 0) {
		*error_r = xasprintf("mkdir(%s) failed: %s", dir, strerror(errno));
		free(e);
		return NULL;
	}
	if ((ret = db_env_create(&e->env, 0)) != 0) {
		*error_r = xasprintf("db_env_create failed: %s", db_strerror(ret));
		free(e);
		return NULL;
	}
	e->env->set_errcall(e->env, db_errcall);
	e->env->set_msgcall(e->env, db_msgcall);
	(void)e->env->set_thread_count(e->env, DB_THREAD_COUNT);
	(void)e->env->set_isalive(e->env, db_is_alive);
	(void)e->env->set_lk_detect(e->env, DB_LOCK_DEFAULT);
	(void)e->env->set_timeout(e->env, DB_LOCK_TIMEOUT_MS * 1000, DB_SET_LOCK_TIMEOUT);
	(void)e->env->set_timeout(e->env, DB_LOCK_TIMEOUT_MS * 1000, DB_SET_TXN_TIMEOUT);
	(void)e->env->log_set_config(e->env, DB_LOG_AUTO_REMOVE, 1);
	ret = e->env->open(e->env, dir,
			   DB_CREATE | DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL |
			   DB_INIT_TXN | DB_REGISTER | DB_RECOVER | DB_FAILCHK, 0600);
	if (ret != 0) {
		*error_r = xasprintf("open of the database environment in %s failed: %s",
				     dir, db_strerror(ret));
		(void)e->env->close(e->env, 0);
		free(e);
		return NULL;
	}
	e->dir = xstrdup(dir);
	e->pid = getpid();
	e->refs = 1;
	e->next = db_envs;
	db_envs = e;
	return e;
}

void
db_env_close(struct db_env **ep)
{
	struct db_env *e = *ep;

	if (e == NULL)
		return;
	*ep = NULL;
	if (e->pid == getpid() && --e->refs > 0)
		return;
	for (struct db_env **p = &db_envs; *p != NULL; p = &(*p)->next)
		if (*p == e) {
			*p = e->next;
			break;
		}
	if (e->env != NULL) {
		(void)e->env->txn_checkpoint(e->env, DB_CHECKPOINT_KB, 0, 0);
		(void)e->env->close(e->env, 0);
	}
	free(e->dir);
	free(e);
	*ep = NULL;
}

DB_ENV *
db_env_handle(struct db_env *e)
{
	return e->env;
}

struct db_open_ctx {
	DB *db;
	const char *name;
	DBTYPE type;
};

static int
db_open_in_txn(DB_TXN *txn, void *ctx)
{
	struct db_open_ctx *c = ctx;

	return c->db->open(c->db, txn, c->name, NULL, c->type, DB_CREATE, 0600);
}

int
db_env_open_db(struct db_env *e, const char *name, DBTYPE type, DB **db_r,
	       char **error_r)
{
	struct db_open_ctx c = { NULL, name, type };
	int ret;

	*error_r = NULL;
	if ((ret = db_create(&c.db, e->env, 0)) != 0) {
		*error_r = xasprintf("db_create(%s) failed: %s", name, db_strerror(ret));
		return -1;
	}
	ret = db_env_txn(e, db_open_in_txn, &c);
	if (ret != 0) {
		*error_r = xasprintf("open(%s/%s) failed: %s", e->dir, name, db_strerror(ret));
		(void)c.db->close(c.db, 0);
		return -1;
	}
	*db_r = c.db;
	return 0;
}

int
db_env_failchk(struct db_env *e)
{
	int ret = e->env->failchk(e->env, 0);

	if (ret == DB_RUNRECOVERY) {
		log_warn("berkeley db: environment %s needs recovery; reopening", e->dir);
		return -1;
	}
	return 0;
}

int
db_env_txn(struct db_env *e, int (*fn)(DB_TXN *txn, void *ctx), void *ctx)
{
	int ret = 0;

	for (int attempt = 0; attempt < DB_TXN_RETRIES; attempt++) {
		DB_TXN *txn = NULL;

		ret = e->env->txn_begin(e->env, NULL, &txn, 0);
		if (ret != 0)
			break;
		ret = fn(txn, ctx);
		if (ret == 0) {
			ret = txn->commit(txn, 0);
			if (ret == 0)
				(void)e->env->txn_checkpoint(e->env, DB_CHECKPOINT_KB, 0, 0);
			break;
		}
		(void)txn->abort(txn);
		if (ret != DB_LOCK_DEADLOCK && ret != DB_LOCK_NOTGRANTED)
			break;
		/* A lock held by a dead process would time out forever:
		 * release it before trying again. */
		if (db_env_failchk(e) < 0)
			break;
	}
	return ret;
}
