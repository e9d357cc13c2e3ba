/* stamp_db: keys with the time of the last event (see stamp_db.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dbenv.h"
#include "log.h"
#include "stamp_db.h"
#include "xalloc.h"

#define STAMP_DB_PURGE_EVERY 256
#define STAMP_DB_PURGE_MAX 1000
#define STAMP_DB_REOPEN_SECS 30
/* The longest position kept: keys are cut to this for it (a cut key
 * still sorts at or before the key it came from). */
#define STAMP_DB_POS_MAX 2048

struct stamp_db {
	char *state_dir, *file, *owner, *without;
	struct db_env *env;
	DB *db;
	time_t failed_at;
	unsigned int writes;
};

static const char stamp_db_purge_pos[] = "\0purge-position";
#define STAMP_DB_POS_KEY_LEN (sizeof(stamp_db_purge_pos) - 1)

struct stamp_db *
stamp_db_new(const char *state_dir, const char *file, const char *owner, const char *without)
{
	struct stamp_db *s = xcalloc(1, sizeof(*s));

	s->state_dir = xstrdup(state_dir);
	s->file = xstrdup(file);
	s->owner = xstrdup(owner);
	s->without = xstrdup(without);
	return s;
}

static void
stamp_db_close(struct stamp_db *s)
{
	db_env_close_db(s->env, &s->db);
	db_env_close(&s->env);
}

void
stamp_db_free(struct stamp_db **sp)
{
	struct stamp_db *s = *sp;

	if (s == NULL)
		return;
	stamp_db_close(s);
	free(s->state_dir);
	free(s->file);
	free(s->owner);
	free(s->without);
	free(s);
	*sp = NULL;
}

static int
stamp_db_open(struct stamp_db *s)
{
	char *error = NULL;

	if (s->db != NULL && !db_env_stale(s->env))
		return 0;
	if (s->db != NULL)
		stamp_db_close(s);
	if (s->failed_at != 0 && time(NULL) - s->failed_at < STAMP_DB_REOPEN_SECS)
		return -1;
	s->env = db_env_open(s->state_dir, &error);
	if (s->env != NULL && db_env_open_db(s->env, s->file, DB_BTREE, &s->db, &error) < 0)
		db_env_close(&s->env);
	if (s->env == NULL) {
		bool recovering = errno == EAGAIN;

		log_warn("%s: %s; %s for now", s->owner, error, s->without);
		free(error);
		s->failed_at = time(NULL);
		/* a recovery is soon over: try again in a second */
		if (recovering)
			s->failed_at -= STAMP_DB_REOPEN_SECS - 1;
		return -1;
	}
	s->failed_at = 0;
	return 0;
}

/* After a failure: reopen on the next use if the environment awaits
 * recovery. */
static void
stamp_db_failed(struct stamp_db *s, const char *what, int ret)
{
	log_warn("%s: %s in %s/%s failed: %s", s->owner, what, s->state_dir, s->file,
		 db_strerror(ret));
	if (ret == DB_RUNRECOVERY || db_env_stale(s->env))
		stamp_db_close(s);
}

static uint64_t
stamp_db_time(const void *p)
{
	uint64_t t = 0;

	for (int i = 0; i < 8; i++)
		t = (t << 8) | ((const unsigned char *)p)[i];
	return t;
}

static bool
stamp_db_is_pos(const DBT *k)
{
	return k->size == STAMP_DB_POS_KEY_LEN &&
	       memcmp(k->data, stamp_db_purge_pos, STAMP_DB_POS_KEY_LEN) == 0;
}

struct stamp_db_ctx {
	struct stamp_db *s;
	DBT key;
	uint64_t now, when, max_age;
	bool found, purge;
};

static int
stamp_db_get_fn(DB_TXN *txn, void *ctx)
{
	struct stamp_db_ctx *c = ctx;
	unsigned char buf[8];
	DBT data;
	int ret;

	memset(&data, 0, sizeof(data));
	data.data = buf;
	data.ulen = sizeof(buf);
	data.flags = DB_DBT_USERMEM;
	c->found = false;
	ret = c->s->db->get(c->s->db, txn, &c->key, &data, 0);
	if (ret == DB_NOTFOUND)
		return 0;
	if (ret != 0)
		return ret;
	if (data.size == 8) {
		c->when = stamp_db_time(buf);
		c->found = true;
	}
	return 0;
}

/* Runs fn on key in a transaction of its own; -1 (logged, as what) on
 * failure. */
static int
stamp_db_run(struct stamp_db *s, struct stamp_db_ctx *c, const void *key, size_t len,
	     int (*fn)(DB_TXN *, void *), const char *what)
{
	int ret;

	if (stamp_db_open(s) < 0)
		return -1;
	c->s = s;
	c->key.data = (void *)key;
	c->key.size = (u_int32_t)len;
	ret = db_env_txn(s->env, 0, fn, c);
	if (ret != 0) {
		stamp_db_failed(s, what, ret);
		return -1;
	}
	return 0;
}

int
stamp_db_get(struct stamp_db *s, const void *key, size_t len, uint64_t *when_r)
{
	struct stamp_db_ctx c;

	memset(&c, 0, sizeof(c));
	if (stamp_db_run(s, &c, key, len, stamp_db_get_fn, "lookup") < 0)
		return -1;
	if (c.found)
		*when_r = c.when;
	return c.found ? 1 : 0;
}

/* Deletes records older than max_age, looking at STAMP_DB_PURGE_MAX at
 * most, from where the last purge stopped. */
static int
stamp_db_purge(DB_TXN *txn, struct stamp_db_ctx *c)
{
	DB *db = c->s->db;
	char pos[STAMP_DB_POS_MAX];
	DBC *cur;
	DBT pk, k, d;
	unsigned int seen = 0;
	u_int32_t flag = DB_FIRST;
	int ret;

	memset(&pk, 0, sizeof(pk));
	pk.data = (void *)stamp_db_purge_pos;
	pk.size = STAMP_DB_POS_KEY_LEN;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	d.data = pos;
	d.ulen = sizeof(pos);
	d.flags = DB_DBT_USERMEM;
	ret = db->get(db, txn, &pk, &d, 0);
	if (ret == 0 && d.size > 0) {
		k.data = pos;
		k.size = d.size;
		flag = DB_SET_RANGE;
	} else if (ret != 0 && ret != DB_NOTFOUND && ret != DB_BUFFER_SMALL) {
		return ret;
	}
	if ((ret = db->cursor(db, txn, &cur, 0)) != 0)
		return ret;
	memset(&d, 0, sizeof(d));
	while (seen < STAMP_DB_PURGE_MAX && (ret = cur->get(cur, &k, &d, flag)) == 0) {
		flag = DB_NEXT;
		seen++;
		if (stamp_db_is_pos(&k) || d.size != 8)
			continue;
		if (stamp_db_time(d.data) + c->max_age < c->now && (ret = cur->del(cur, 0)) != 0)
			break;
	}
	if (ret == 0 && seen == STAMP_DB_PURGE_MAX) {
		/* Stopped on the way: the next purge starts after this key
		 * (at it, if it is deleted by then). */
		size_t n = k.size < sizeof(pos) - 1 ? k.size : sizeof(pos) - 1;

		memcpy(pos, k.data, n);
		pos[n++] = '\0';	/* the smallest key after k */
		d.data = pos;
		d.size = (u_int32_t)n;
	} else if (ret == DB_NOTFOUND) {
		/* The end: the next purge starts at the first key. */
		d.data = pos;
		d.size = 0;
		ret = 0;
	}
	(void)cur->close(cur);
	if (ret == 0)
		ret = db->put(db, txn, &pk, &d, 0);
	return ret;
}

static int
stamp_db_put_fn(DB_TXN *txn, void *ctx)
{
	struct stamp_db_ctx *c = ctx;
	unsigned char buf[8];
	DBT data;
	int ret;

	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)(c->now >> (56 - 8 * i));
	memset(&data, 0, sizeof(data));
	data.data = buf;
	data.size = sizeof(buf);
	ret = c->s->db->put(c->s->db, txn, &c->key, &data, 0);
	if (ret == 0 && c->purge)
		ret = stamp_db_purge(txn, c);
	return ret;
}

int
stamp_db_put(struct stamp_db *s, const void *key, size_t len, time_t now, uint64_t max_age)
{
	struct stamp_db_ctx c;

	memset(&c, 0, sizeof(c));
	c.now = (uint64_t)now;
	c.max_age = max_age;
	c.purge = ++s->writes % STAMP_DB_PURGE_EVERY == 0;
	return stamp_db_run(s, &c, key, len, stamp_db_put_fn, "update");
}
