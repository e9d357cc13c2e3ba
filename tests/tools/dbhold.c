/* dbhold: joins the Berkeley DB environment in DIR the way lmtpd does
 * (lib/dbenv.c), takes hold of something in database FILE, prints "held"
 * and waits to be killed, so a test can kill -9 a process at exactly the
 * moment the others would otherwise block on it.
 *
 * usage: dbhold DIR FILE lock     a write lock on every page: a transaction
 *                                 that put a key (and never commits)
 *        dbhold DIR FILE latch    the exclusive latch (a region mutex) of
 *                                 every page of the file (up to 4096),
 *                                 taken as for a write: whoever writes
 *                                 (or reads for update) waits on it,
 *                                 wherever the B-tree keeps the key
 *
 * Exits 1 if it could not take hold. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbenv.h"

int
main(int argc, char **argv)
{
	struct db_env *env;
	char *error = NULL;
	DB_TXN *txn = NULL;
	DB *db = NULL;
	int ret;

	if (argc != 4 || (strcmp(argv[3], "lock") != 0 && strcmp(argv[3], "latch") != 0 &&
			  strcmp(argv[3], "read") != 0)) {
		fprintf(stderr, "usage: dbhold DIR FILE lock|latch|read\n");
		return 2;
	}
	env = db_env_open(argv[1], &error);
	if (env == NULL || db_env_open_db(env, argv[2], DB_BTREE, &db, &error) < 0) {
		fprintf(stderr, "dbhold: %s\n", error);
		return 1;
	}
	if (strcmp(argv[3], "read") == 0) {
		DBT k, v;

		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		k.data = "dbhold";
		k.size = 6;
		ret = db->get(db, NULL, &k, &v, DB_READ_COMMITTED);
		printf("read: %s\n", ret == 0 ? "found" : db_strerror(ret));
		db_env_close_db(env, &db);
		db_env_close(&env);
		return 0;
	}
	ret = db_env_handle(env)->txn_begin(db_env_handle(env), NULL, &txn, 0);
	if (ret == 0 && strcmp(argv[3], "lock") == 0) {
		DBT k, v;

		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		k.data = "dbhold";
		k.size = 6;
		v.data = "x";
		v.size = 1;
		ret = db->put(db, txn, &k, &v, 0);
	} else if (ret == 0) {
		DB_MPOOLFILE *mpf = db->get_mpf(db);
		db_pgno_t last = 1;

		ret = mpf->get_last_pgno(mpf, &last);
		if (last >= 4096)
			last = 4095;
		for (db_pgno_t pgno = 0; pgno <= last && ret == 0; pgno++) {
			void *page;

			ret = mpf->get(mpf, &pgno, txn, DB_MPOOL_DIRTY, &page);
		}
	}
	if (ret != 0) {
		fprintf(stderr, "dbhold: %s\n", db_strerror(ret));
		return 1;
	}
	printf("held\n");
	fflush(stdout);
	for (;;)
		pause();
}
