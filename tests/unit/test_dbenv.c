/* Unit tests for the shared Berkeley DB environment: open and reopen,
 * transactions, and the guarantee that a process killed while holding a
 * write lock blocks nobody for long (set_isalive + failchk), in a real
 * environment in a temporary directory. */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
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

START_TEST(test_open_put_reopen)
{
	const char *dir = ut_testdir();
	char *error = NULL, *value;
	struct db_env *env = db_env_open(dir, &error);
	struct put_ctx c;
	DB *db;

	ck_assert_msg(env != NULL, "%s", error != NULL ? error : "");
	ck_assert_int_eq(db_env_open_db(env, "t.db", DB_BTREE, &db, &error), 0);
	c = (struct put_ctx){ db, "k", "v1" };
	ck_assert_int_eq(db_env_txn(env, put_fn, &c), 0);
	(void)db->close(db, 0);
	db_env_close(&env);
	ck_assert_ptr_null(env);

	env = db_env_open(dir, &error);
	ck_assert_ptr_nonnull(env);
	ck_assert_int_eq(db_env_open_db(env, "t.db", DB_BTREE, &db, &error), 0);
	value = get(db, "k");
	ck_assert_str_eq(value, "v1");
	free(value);
	(void)db->close(db, 0);
	db_env_close(&env);
}
END_TEST

/* A child takes a write lock inside a transaction and is killed with
 * SIGKILL; the parent must still write the same key, promptly. */
START_TEST(test_killed_writer_releases)
{
	const char *dir = ut_testdir();
	char *error = NULL, *value;
	struct db_env *env = db_env_open(dir, &error);
	struct put_ctx c;
	int pipefd[2], status;
	struct timespec t0, t1;
	pid_t pid;
	DB *db;

	ck_assert_ptr_nonnull(env);
	ck_assert_int_eq(db_env_open_db(env, "t.db", DB_BTREE, &db, &error), 0);
	(void)db->close(db, 0);
	db_env_close(&env);

	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		DB_TXN *txn;
		DBT k, v;

		env = db_env_open(dir, &error);
		if (env == NULL || db_env_open_db(env, "t.db", DB_BTREE, &db, &error) < 0)
			_exit(1);
		if (db_env_handle(env)->txn_begin(db_env_handle(env), NULL, &txn, 0) != 0)
			_exit(1);
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		k.data = "k";
		k.size = 1;
		v.data = "child";
		v.size = 5;
		if (db->put(db, txn, &k, &v, 0) != 0)
			_exit(1);
		/* Holding the lock: tell the parent, then wait to be killed. */
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	{
		char b;

		ck_assert_int_eq(read(pipefd[0], &b, 1), 1);
	}
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	env = db_env_open(dir, &error);
	ck_assert_msg(env != NULL, "%s", error != NULL ? error : "");
	ck_assert_int_eq(db_env_open_db(env, "t.db", DB_BTREE, &db, &error), 0);
	c = (struct put_ctx){ db, "k", "parent" };
	ck_assert_int_eq(db_env_txn(env, put_fn, &c), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Bounded by the lock timeout plus recovery, never forever: the
	 * test's own timeout catches a hang; the value proves the write. */
	value = get(db, "k");
	ck_assert_str_eq(value, "parent");
	free(value);
	(void)db->close(db, 0);
	db_env_close(&env);
	close(pipefd[0]);
	close(pipefd[1]);
	(void)t0;
	(void)t1;
}
END_TEST

static Suite *
dbenv_suite(void)
{
	Suite *s = suite_create("dbenv");
	TCase *tc = ut_tcase(s, "dbenv", true);

	tcase_add_test(tc, test_open_put_reopen);
	tcase_add_test(tc, test_killed_writer_releases);
	return s;
}

int
main(void)
{
	return ut_run(dbenv_suite);
}
