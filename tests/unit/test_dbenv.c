/* Unit tests for the shared Berkeley DB environment (lib/dbenv.c), in a
 * real environment in a temporary directory: open and reopen,
 * transactions, and the protocol that keeps a process killed with SIGKILL
 * from blocking the others: a dead holder of a lock or of a region mutex
 * is found, the environment is let go of and recovered into fresh regions,
 * and nothing hangs (the test's own timeout would catch a hang). */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_compat.h"
#include "dbenv.h"

struct put_ctx {
	DB *db;
	const char *key, *value;
};

static int
put_fn(DB_TXN *txn, void *ctx)
{
	struct put_ctx *c = ctx;
	DBT k, v;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)c->key;
	k.size = (u_int32_t)strlen(c->key);
	v.data = (void *)c->value;
	v.size = (u_int32_t)strlen(c->value);
	return c->db->put(c->db, txn, &k, &v, 0);
}

static char *
get(DB *db, const char *key)
{
	DBT k, v;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)strlen(key);
	v.flags = DB_DBT_MALLOC;
	if (db->get(db, NULL, &k, &v, 0) != 0)
		return NULL;
	{
		char *s = strndup(v.data, v.size);

		free(v.data);
		return s;
	}
}

/* Opens dir and t.db, or fails the test. */
static struct db_env *
open_t(const char *dir, DB **db)
{
	char *error = NULL;
	struct db_env *env = db_env_open(dir, &error);

	ck_assert_msg(env != NULL, "%s", error != NULL ? error : "");
	ck_assert_msg(db_env_open_db(env, "t.db", DB_BTREE, db, &error) == 0, "%s", error);
	return env;
}

static void
put_committed(const char *dir, const char *key, const char *value)
{
	DB *db;
	struct db_env *env = open_t(dir, &db);
	struct put_ctx c = { db, key, value };

	ck_assert_int_eq(db_env_txn(env, 0, put_fn, &c), 0);
	db_env_close_db(env, &db);
	db_env_close(&env);
}

/* k holds `before`; it is writable at once and then holds `after`. */
static void
check_then_write(struct db_env *env, DB *db, const char *before, const char *after)
{
	struct put_ctx c = { db, "k", after };
	char *value = get(db, "k");

	ck_assert_str_eq(value, before);
	free(value);
	ck_assert_int_eq(db_env_txn(env, 0, put_fn, &c), 0);
	value = get(db, "k");
	ck_assert_str_eq(value, after);
	free(value);
}

static bool
file_exists(const char *dir, const char *name)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

static int
count_users(const char *dir)
{
	char path[4200];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "%s/lmtpd-db.users", dir);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Forks a child that joins the environment and takes hold of t.db the
 * way `how` says ("lock": an uncommitted write; "latch": the exclusive
 * latch of its first pages; "write": writes key k, which blocks behind a
 * latch and never tells), tells the parent through the returned pipe
 * ('h': held), then waits to be killed. */
static pid_t
holder(const char *dir, const char *how, int *rfd)
{
	int p[2];
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		DB *db;
		char *error = NULL;
		struct db_env *env = db_env_open(dir, &error);
		DB_ENV *h;
		DB_TXN *txn;
		int ret = 1;

		close(p[0]);
		if (env == NULL || db_env_open_db(env, "t.db", DB_BTREE, &db, &error) < 0) {
			fprintf(stderr, "holder %s: %s\n", how, error);
			_exit(1);
		}
		h = db_env_handle(env);
		if (h->txn_begin(h, NULL, &txn, 0) != 0)
			_exit(1);
		if (strcmp(how, "lock") == 0) {
			struct put_ctx c = { db, "k", "uncommitted" };

			ret = put_fn(txn, &c);
		} else if (strcmp(how, "latch") == 0) {
			DB_MPOOLFILE *mpf = db->get_mpf(db);

			ret = 0;
			for (db_pgno_t pg = 0; pg < 2 && ret == 0; pg++) {
				void *page;

				ret = mpf->get(mpf, &pg, txn, DB_MPOOL_DIRTY, &page);
			}
		} else {
			struct put_ctx c = { db, "k", "blocked" };

			ret = put_fn(txn, &c);
			if (ret == 0)
				ret = txn->commit(txn, 0);
			fprintf(stderr, "holder %s: %s\n", how, db_strerror(ret));
			_exit(2);
		}
		if (ret != 0 || write(p[1], "h", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

static void
wait_for(int fd, char what)
{
	char b = 0;

	ck_assert_int_eq(read(fd, &b, 1), 1);
	ck_assert_int_eq(b, what);
}

static void
kill_and_reap(pid_t pid)
{
	int status;

	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}

/* db_env_maintain as the master runs it: in a process that does not
 * hold the environment (fcntl locks are per process). */
static int
maintain_elsewhere(const char *dir)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(db_env_maintain(dir) + 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status) - 1;
}

START_TEST(test_open_put_reopen)
{
	const char *dir = ut_testdir();
	char *value;
	DB *db;
	struct db_env *env, *again;
	char *error = NULL;

	put_committed(dir, "k", "v1");
	env = open_t(dir, &db);
	value = get(db, "k");
	ck_assert_str_eq(value, "v1");
	free(value);
	/* The same dir again in one process: the same handle. */
	again = db_env_open(dir, &error);
	ck_assert_ptr_eq(again, env);
	db_env_close(&again);
	ck_assert_int_eq(count_users(dir), 1);
	db_env_close_db(env, &db);
	db_env_close(&env);
	ck_assert_ptr_null(env);
	/* A clean close leaves no registration, so no recovery is due. */
	ck_assert_int_eq(count_users(dir), 0);
	ck_assert_int_eq(db_env_maintain(dir), 0);
	ck_assert(!file_exists(dir, "lmtpd-db.recover"));
}
END_TEST

/* The mutex region starts small and grows: a database of more pages than
 * there are mutexes at first is written and read back whole (every
 * cached page takes one). */
static int
put_many_fn(DB_TXN *txn, void *ctx)
{
	DB *db = ctx;
	char key[32], value[1024];
	DBT k, v;
	int ret = 0;

	memset(value, 'x', sizeof(value));
	for (int i = 0; i < 12000 && ret == 0; i++) {
		snprintf(key, sizeof(key), "key%06d", i);
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		k.data = key;
		k.size = (u_int32_t)strlen(key);
		v.data = value;
		v.size = sizeof(value);
		ret = db->put(db, txn, &k, &v, 0);
	}
	return ret;
}

START_TEST(test_mutexes_grow)
{
	const char *dir = ut_testdir();
	DB *db;
	struct db_env *env = open_t(dir, &db);
	DB_ENV *h = db_env_handle(env);
	u_int32_t init = 0, max = 0;
	DB_MUTEX_STAT *ms = NULL;
	char *value;

	ck_assert_int_eq(h->mutex_get_init(h, &init), 0);
	ck_assert_int_eq(h->mutex_get_max(h, &max), 0);
	ck_assert_uint_lt(init, 4000);
	ck_assert_uint_gt(max, 10466);
	ck_assert_int_eq(db_env_txn(env, 0, put_many_fn, db), 0);
	value = get(db, "key011999");
	ck_assert_uint_eq(strlen(value), 1024);
	free(value);
	ck_assert_int_eq(h->mutex_stat(h, &ms, 0), 0);
	ck_assert_uint_gt(ms->st_mutex_cnt, init);
	free(ms);
	db_env_close_db(env, &db);
	db_env_close(&env);
}
END_TEST

static void
region_file(const char *dir, unsigned int id, struct stat *st)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/__db.%03u", dir, id);
	ck_assert_msg(stat(path, st) == 0, "%s: %s", path, strerror(errno));
}

/* Each region file holds the blocks of its largest size from the start
 * (a hole touched on a full file system would be a SIGBUS), and the
 * files are the regions dbenv.c takes them for: after a transaction that
 * grows the mutex region and the cache, __db.002 is (within a page) the
 * size Berkeley DB gives the mutex region and __db.003 the cache's. */
static void
check_regions(struct db_env *env, const char *dir)
{
	DB_ENV *h = db_env_handle(env);
	u_int32_t gbytes = 0, bytes = 0;
	DB_MUTEX_STAT *ms = NULL;
	DB_MPOOL_STAT *mp = NULL;
	struct stat st1, st2, st3;

	ck_assert_int_eq(h->get_memory_max(h, &gbytes, &bytes), 0);
	ck_assert_int_eq(h->mutex_stat(h, &ms, 0), 0);
	ck_assert_int_eq(h->memp_stat(h, &mp, NULL, 0), 0);
	ck_assert_uint_eq(mp->st_ncache, 1);
	region_file(dir, 1, &st1);
	region_file(dir, 2, &st2);
	region_file(dir, 3, &st3);
	ck_assert_uint_ge((uint64_t)st1.st_blocks * 512, (uint64_t)gbytes << 30 | bytes);
	ck_assert_uint_ge((uint64_t)st2.st_blocks * 512, ms->st_regmax);
	ck_assert_uint_ge((uint64_t)st3.st_blocks * 512, mp->st_regmax);
	ck_assert_uint_lt((uint64_t)st2.st_size, ms->st_regsize + 4096);
	ck_assert_uint_gt((uint64_t)st2.st_size + 4096, ms->st_regsize);
	ck_assert_uint_lt((uint64_t)st3.st_size, mp->st_regsize + 4096);
	ck_assert_uint_gt((uint64_t)st3.st_size + 4096, mp->st_regsize);
	free(ms);
	free(mp);
}

START_TEST(test_regions_reserved)
{
	const char *dir = ut_testdir();
	DB *db;
	struct db_env *env = open_t(dir, &db);
	DB_ENV *h = db_env_handle(env);
	DB_MUTEX_STAT *ms = NULL;
	DB_MPOOL_STAT *mp = NULL;
	roff_t mutexes_before, cache_before;

	check_regions(env, dir);
	ck_assert_int_eq(h->mutex_stat(h, &ms, 0), 0);
	ck_assert_int_eq(h->memp_stat(h, &mp, NULL, 0), 0);
	mutexes_before = ms->st_regsize;
	cache_before = mp->st_regsize;
	free(ms);
	free(mp);
	ck_assert_int_eq(db_env_txn(env, 0, put_many_fn, db), 0);
	ck_assert_int_eq(h->mutex_stat(h, &ms, 0), 0);
	ck_assert_int_eq(h->memp_stat(h, &mp, NULL, 0), 0);
	/* both grew, to different sizes, so the file sizes tell them apart */
	ck_assert_uint_gt(ms->st_regsize, mutexes_before);
	ck_assert_uint_gt(mp->st_regsize, cache_before);
	ck_assert_uint_gt(mp->st_regsize, ms->st_regsize + 8192);
	free(ms);
	free(mp);
	check_regions(env, dir);
	db_env_close_db(env, &db);
	db_env_close(&env);
}
END_TEST

/* Pages of name that Berkeley DB answered from its map of the file. */
static unsigned long
mapped_pages(struct db_env *env, const char *name)
{
	DB_ENV *h = db_env_handle(env);
	DB_MPOOL_FSTAT **fsp = NULL;
	unsigned long n = 0;

	ck_assert_int_eq(h->memp_stat(h, NULL, &fsp, 0), 0);
	for (DB_MPOOL_FSTAT **f = fsp; f != NULL && *f != NULL; f++)
		if (strcmp((*f)->file_name, name) == 0)
			n += (*f)->st_map;
	free(fsp);
	return n;
}

/* The last process out checkpoints with nothing open, so the next one,
 * alone, recovers without opening t.db, and a read-only open maps the
 * file instead of reading it through the cache.  A writer's open turns the
 * map off for every handle, and the reader sees what it writes. */
START_TEST(test_read_only_maps)
{
	const char *dir = ut_testdir();
	char *error = NULL, *value;
	struct db_env *env;
	DB *ro = NULL, *rw = NULL;
	struct put_ctx c = { NULL, "k", NULL };

	/* A checkpoint taken while t.db is open (as when the log grows)
	 * names the file, and so do the opens after it; recovery opens for
	 * writing whatever the log names after its last checkpoint, which
	 * keeps the file from being mapped for the regions' life.  The
	 * checkpoint at the last close must name nothing. */
	env = open_t(dir, &rw);
	c.db = rw;
	c.value = "v0";
	ck_assert_int_eq(db_env_txn(env, 0, put_fn, &c), 0);
	ck_assert_int_eq(db_env_handle(env)->txn_checkpoint(db_env_handle(env), 0, 0,
							    DB_FORCE), 0);
	c.value = "v1";
	ck_assert_int_eq(db_env_txn(env, 0, put_fn, &c), 0);
	db_env_close_db(env, &rw);
	db_env_close(&env);
	/* A process that opened it for writing, and only read. */
	env = open_t(dir, &rw);
	value = get(rw, "k");
	ck_assert_str_eq(value, "v1");
	free(value);
	db_env_close_db(env, &rw);
	db_env_close(&env);

	env = db_env_open(dir, &error);
	ck_assert_msg(env != NULL, "%s", error != NULL ? error : "");
	ck_assert_msg(db_env_open_db_read_only(env, "t.db", DB_BTREE, &ro, &error) == 0,
		      "%s", error);
	value = get(ro, "k");
	ck_assert_str_eq(value, "v1");
	free(value);
	ck_assert_uint_gt(mapped_pages(env, "t.db"), 0);

	ck_assert_msg(db_env_open_db(env, "t.db", DB_BTREE, &rw, &error) == 0, "%s", error);
	c.db = rw;
	c.value = "v2";
	ck_assert_int_eq(db_env_txn(env, 0, put_fn, &c), 0);
	value = get(ro, "k");
	ck_assert_str_eq(value, "v2");
	free(value);

	/* Read-only never creates. */
	ck_assert_int_eq(db_env_open_db_read_only(env, "none.db", DB_BTREE, &ro, &error), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert(!file_exists(dir, "none.db"));
	free(error);
	db_env_close_db(env, &rw);
	db_env_close_db(env, &ro);
	db_env_close(&env);
}
END_TEST

/* A writer killed with its transaction open; the next process to open
 * the environment alone recovers it: the uncommitted write is gone and
 * the key is writable at once. */
START_TEST(test_killed_writer_recovered_at_open)
{
	const char *dir = ut_testdir();
	struct db_env *env;
	pid_t pid;
	int fd;
	DB *db;

	put_committed(dir, "k", "v1");
	pid = holder(dir, "lock", &fd);
	wait_for(fd, 'h');
	kill_and_reap(pid);
	ck_assert_int_eq(count_users(dir), 1);	/* the dead one's */

	env = open_t(dir, &db);
	ck_assert_int_eq(count_users(dir), 1);	/* ours only */
	check_then_write(env, db, "v1", "parent");
	db_env_close_db(env, &db);
	db_env_close(&env);
	close(fd);
}
END_TEST

/* The same with the environment open here all along: the conflict is
 * a bounded failure, maintenance finds the dead holder and asks for
 * recovery, this process lets go, the recovery runs and the key is
 * writable again. */
START_TEST(test_killed_writer_while_attached)
{
	const char *dir = ut_testdir();
	struct db_env *env;
	struct put_ctx c;
	pid_t pid;
	int fd, ret;
	DB *db;

	put_committed(dir, "k", "v1");
	env = open_t(dir, &db);
	pid = holder(dir, "lock", &fd);
	wait_for(fd, 'h');
	kill_and_reap(pid);

	c = (struct put_ctx){ db, "k", "parent" };
	ret = db_env_txn(env, 0, put_fn, &c);
	ck_assert_msg(ret == DB_LOCK_NOTGRANTED || ret == DB_LOCK_DEADLOCK, "%s",
		      db_strerror(ret));
	ck_assert(!db_env_stale(env));
	/* Maintenance: the dead holder is found; we still hold it. */
	ck_assert_int_eq(maintain_elsewhere(dir), -1);
	/* ... and never run in a process that holds it. */
	ck_assert_int_eq(db_env_maintain(dir), -1);
	ck_assert(file_exists(dir, "lmtpd-db.recover"));
	ck_assert(db_env_stale(env));
	ck_assert_int_eq(db_env_txn(env, 0, put_fn, &c), DB_RUNRECOVERY);
	/* Stale, this process holds nothing: the next open is alone and
	 * recovers; the stale handle is closed without a call into it. */
	{
		DB *db2;
		struct db_env *env2 = open_t(dir, &db2);

		ck_assert_ptr_ne(env2, env);
		ck_assert(!file_exists(dir, "lmtpd-db.recover"));
		db_env_close_db(env, &db);
		db_env_close(&env);
		env = env2;
		db = db2;
	}
	ck_assert_int_eq(maintain_elsewhere(dir), 0);
	check_then_write(env, db, "v1", "parent");
	db_env_close_db(env, &db);
	db_env_close(&env);
	close(fd);
}
END_TEST

/* The case that used to hang for good: a process dies holding a region
 * mutex (a page latch) and another one blocks on it, in a pthread
 * condition wait nothing will end.  The blocked one is killed (the
 * master does that after db_stall_timeout); recovery then runs without
 * touching the poisoned mutex and the data is there. */
START_TEST(test_dead_latch_holder)
{
	const char *dir = ut_testdir();
	struct timespec pause_ts = { 0, 300 * 1000000L };
	struct db_env *env;
	pid_t latch, reader;
	int lfd, rfd, status;
	DB *db;

	put_committed(dir, "k", "v1");
	latch = holder(dir, "latch", &lfd);
	wait_for(lfd, 'h');
	reader = holder(dir, "write", &rfd);
	(void)nanosleep(&pause_ts, NULL);
	kill_and_reap(latch);
	(void)nanosleep(&pause_ts, NULL);
	/* The premise: the reader is stuck behind the dead latch. */
	ck_assert_int_eq(waitpid(reader, &status, WNOHANG), 0);
	ck_assert_int_eq(db_env_maintain(dir), -1);
	ck_assert(file_exists(dir, "lmtpd-db.recover"));
	kill_and_reap(reader);
	ck_assert_int_eq(db_env_maintain(dir), 1);

	env = open_t(dir, &db);
	check_then_write(env, db, "v1", "v2");
	db_env_close_db(env, &db);
	db_env_close(&env);
	close(lfd);
	close(rfd);
}
END_TEST

/* An opener that may wait (the tools) waits for a pending recovery and
 * runs it itself once the last holder has gone. */
START_TEST(test_open_waits_for_recovery)
{
	const char *dir = ut_testdir();
	struct db_env *env;
	int p[2];
	pid_t pid;
	DB *db;

	put_committed(dir, "k", "v1");
	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Holds the environment, then lets go of it when it sees
		 * the marker, as an idle worker does. */
		struct timespec ts = { 0, 50 * 1000000L };
		DB *cdb;
		char *error = NULL;
		struct db_env *cenv = db_env_open(dir, &error);

		if (cenv == NULL || db_env_open_db(cenv, "t.db", DB_BTREE, &cdb, &error) < 0)
			_exit(1);
		if (write(p[1], "h", 1) != 1)
			_exit(1);
		for (int i = 0; i < 200 && !db_env_stale(cenv); i++)
			(void)nanosleep(&ts, NULL);
		db_env_close_db(cenv, &cdb);
		db_env_close(&cenv);
		_exit(0);
	}
	close(p[1]);
	wait_for(p[0], 'h');
	ck_assert_int_eq(db_env_request_recovery(dir, "test"), 0);
	db_env_set_attach_wait(20);
	env = open_t(dir, &db);
	db_env_set_attach_wait(0);
	ck_assert(!file_exists(dir, "lmtpd-db.recover"));
	{
		char *value = get(db, "k");

		ck_assert_str_eq(value, "v1");
		free(value);
	}
	db_env_close_db(env, &db);
	db_env_close(&env);
	{
		int status;

		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	close(p[0]);
}
END_TEST

/* Fills dir's name with n records of 100 bytes (several pages), closed
 * cleanly. */
static void
fill_db(const char *dir, const char *name, int n)
{
	char *error = NULL, key[32], value[101];
	struct db_env *env = db_env_open(dir, &error);
	DB *db;

	ck_assert_msg(env != NULL, "%s", error != NULL ? error : "");
	ck_assert_msg(db_env_open_db(env, name, DB_BTREE, &db, &error) == 0, "%s", error);
	memset(value, 'v', 100);
	value[100] = '\0';
	for (int i = 0; i < n; i++) {
		struct put_ctx c = { db, key, value };

		snprintf(key, sizeof(key), "key%06d", i);
		ck_assert_int_eq(db_env_txn(env, 0, put_fn, &c), 0);
	}
	db_env_close_db(env, &db);
	db_env_close(&env);
}

static int
count_prefixed(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

/* A database with damaged pages panics Berkeley DB at every read, and
 * recovery can not mend it: after a recovery that was asked for, the
 * damaged file is moved aside (kept), so it starts again empty instead of
 * asking for recovery after recovery. Bayes's seen database goes with its
 * token database (it would say messages are learned that are not); a
 * sound unrelated one stays. */
START_TEST(test_damaged_db_moved_aside)
{
	const char *dir = ut_testdir();
	char path[4200], junk[4096];
	struct db_env *env;
	struct stat st;
	DB *db;
	int fd;

	fill_db(dir, "bayes_toks-u.db", 2000);
	fill_db(dir, "bayes_seen-u.db", 50);
	fill_db(dir, "t.db", 200);
	snprintf(path, sizeof(path), "%s/bayes_toks-u.db", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_gt(st.st_size, 40 * 4096);
	memset(junk, 0x5a, sizeof(junk));
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	for (off_t page = 3; page * 4096 < st.st_size; page += 3)
		ck_assert_int_eq(pwrite(fd, junk, sizeof(junk), page * 4096), (ssize_t)sizeof(junk));
	close(fd);

	ck_assert_int_eq(db_env_request_recovery(dir, "test"), 0);
	env = open_t(dir, &db);
	ck_assert(!file_exists(dir, "lmtpd-db.recover"));
	{
		char *value = get(db, "key000199");

		ck_assert_ptr_nonnull(value);
		free(value);
	}
	db_env_close_db(env, &db);
	db_env_close(&env);
	ck_assert(!file_exists(dir, "bayes_toks-u.db"));
	ck_assert(!file_exists(dir, "bayes_seen-u.db"));
	ck_assert_int_eq(count_prefixed(dir, "bayes_toks-u.db.damaged-"), 1);
	ck_assert_int_eq(count_prefixed(dir, "bayes_seen-u.db.damaged-"), 1);
	ck_assert_int_eq(count_prefixed(dir, "t.db.damaged-"), 0);
}
END_TEST

START_TEST(test_busy_watch)
{
	_Atomic int64_t slot = 0;
	struct timespec ts = { 0, 20 * 1000000L };

	ck_assert_int_eq(db_env_busy_ms(), 0);
	db_env_busy_begin();
	db_env_busy_begin();
	(void)nanosleep(&ts, NULL);
	ck_assert_int_ge(db_env_busy_ms(), 15);
	db_env_busy_end();
	ck_assert_int_gt(db_env_busy_ms(), 0);	/* nested: still inside */
	db_env_busy_end();
	ck_assert_int_eq(db_env_busy_ms(), 0);
	db_env_busy_end();			/* unbalanced: harmless */
	ck_assert_int_eq(db_env_busy_ms(), 0);

	/* A shared slot (the master's table) gets the time instead. */
	db_env_watch_slot(&slot);
	db_env_busy_begin();
	ck_assert_int_ne(atomic_load(&slot), 0);
	ck_assert_int_le(atomic_load(&slot), db_env_now_ms());
	db_env_busy_end();
	ck_assert_int_eq(atomic_load(&slot), 0);
	db_env_watch_slot(NULL);
}
END_TEST

static Suite *
dbenv_suite(void)
{
	Suite *s = suite_create("dbenv");
	TCase *tc = ut_tcase(s, "dbenv", true);

	tcase_add_test(tc, test_open_put_reopen);
	tcase_add_test(tc, test_mutexes_grow);
	tcase_add_test(tc, test_regions_reserved);
	tcase_add_test(tc, test_read_only_maps);
	tcase_add_test(tc, test_killed_writer_recovered_at_open);
	tcase_add_test(tc, test_killed_writer_while_attached);
	tcase_add_test(tc, test_dead_latch_holder);
	tcase_add_test(tc, test_open_waits_for_recovery);
	tcase_add_test(tc, test_damaged_db_moved_aside);
	tcase_add_test(tc, test_busy_watch);
	return s;
}

int
main(void)
{
	return ut_run(dbenv_suite);
}
