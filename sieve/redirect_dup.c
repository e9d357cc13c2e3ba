/* redirect_dup: the redirect duplicate database (see redirect_dup.h).
 * One record per key: 8 bytes, the time of the send, big-endian.  Old
 * records are purged a bounded number at a time, every few writes. */
#include "config.h"

#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addrfold.h"
#include "dbenv.h"
#include "log.h"
#include "message.h"
#include "redirect_dup.h"
#include "xalloc.h"

#define REDIRECT_DUP_DB "redirect.db"
#define REDIRECT_DUP_PURGE_EVERY 256
#define REDIRECT_DUP_PURGE_MAX 1000
#define REDIRECT_DUP_REOPEN_SECS 30

struct redirect_dup {
	char *state_dir;
	struct db_env *env;
	DB *db;
	time_t failed_at;
	unsigned int writes;
};

struct redirect_dup *
redirect_dup_new(const char *state_dir)
{
	struct redirect_dup *d = xcalloc(1, sizeof(*d));

	d->state_dir = xstrdup(state_dir);
	return d;
}

static void
redirect_dup_close(struct redirect_dup *d)
{
	db_env_close_db(d->env, &d->db);
	db_env_close(&d->env);
}

void
redirect_dup_free(struct redirect_dup **dp)
{
	struct redirect_dup *d = *dp;

	if (d == NULL)
		return;
	redirect_dup_close(d);
	free(d->state_dir);
	free(d);
	*dp = NULL;
}

static void
redirect_dup_add(GChecksum *sum, const char *s)
{
	/* each part ends with a NUL: "ab"+"c" is not "a"+"bc" */
	g_checksum_update(sum, (const guchar *)s, (gssize)strlen(s) + 1);
}

static void
redirect_dup_add_field(GChecksum *sum, const struct message *msg, const char *name)
{
	const struct message_header *h = message_header_find(msg, name);
	char value[1024] = "";

	if (h != NULL)
		message_header_value(msg, h, value, sizeof(value));
	redirect_dup_add(sum, value);
}

void
redirect_dup_key(const struct message *msg, const char *rcpt, const char *target,
		 unsigned char key[REDIRECT_DUP_KEY_SIZE])
{
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
	char *folded;
	gsize len = REDIRECT_DUP_KEY_SIZE;

	if (message_header_find(msg, "Resent-Message-ID") != NULL) {
		redirect_dup_add(sum, "resent");
		redirect_dup_add_field(sum, msg, "Resent-Message-ID");
		redirect_dup_add_field(sum, msg, "Resent-From");
	} else if (message_header_find(msg, "Message-ID") != NULL) {
		redirect_dup_add(sum, "message-id");
		redirect_dup_add_field(sum, msg, "Message-ID");
	} else {
		unsigned char body[REDIRECT_DUP_KEY_SIZE];
		gsize blen = sizeof(body);
		GChecksum *whole = g_checksum_new(G_CHECKSUM_SHA256);

		g_checksum_update(whole, (const guchar *)msg->data, (gssize)msg->size);
		g_checksum_get_digest(whole, body, &blen);
		g_checksum_free(whole);
		redirect_dup_add(sum, "sha256");
		g_checksum_update(sum, body, (gssize)blen);
	}
	folded = addr_casefold(rcpt);
	redirect_dup_add(sum, folded);
	free(folded);
	folded = addr_casefold(target);
	redirect_dup_add(sum, folded);
	free(folded);
	g_checksum_get_digest(sum, key, &len);
	g_checksum_free(sum);
}

static int
redirect_dup_open(struct redirect_dup *d)
{
	char *error = NULL;

	if (d->db != NULL && !db_env_stale(d->env))
		return 0;
	if (d->db != NULL)
		redirect_dup_close(d);
	if (d->failed_at != 0 && time(NULL) - d->failed_at < REDIRECT_DUP_REOPEN_SECS)
		return -1;
	d->env = db_env_open(d->state_dir, &error);
	if (d->env != NULL && db_env_open_db(d->env, REDIRECT_DUP_DB, DB_BTREE, &d->db,
					     &error) < 0)
		db_env_close(&d->env);
	if (d->env == NULL) {
		bool recovering = errno == EAGAIN;

		log_warn("redirect: %s; no duplicate check for redirects for now", error);
		free(error);
		d->failed_at = time(NULL);
		/* a recovery is soon over: try again in a second */
		if (recovering)
			d->failed_at -= REDIRECT_DUP_REOPEN_SECS - 1;
		return -1;
	}
	d->failed_at = 0;
	return 0;
}

static void
redirect_dup_failed(struct redirect_dup *d, const char *what, int ret)
{
	log_warn("redirect: %s in %s/%s failed: %s", what, d->state_dir, REDIRECT_DUP_DB,
		 db_strerror(ret));
	if (ret == DB_RUNRECOVERY || db_env_stale(d->env))
		redirect_dup_close(d);
}

static uint64_t
redirect_dup_time(const void *p)
{
	uint64_t t = 0;

	for (int i = 0; i < 8; i++)
		t = (t << 8) | ((const unsigned char *)p)[i];
	return t;
}

struct redirect_dup_ctx {
	struct redirect_dup *d;
	DBT key;
	uint64_t now, sent_at;
	bool found, purge;
};

static int
redirect_dup_get(DB_TXN *txn, void *ctx)
{
	struct redirect_dup_ctx *c = ctx;
	unsigned char buf[8];
	DBT data;
	int ret;

	memset(&data, 0, sizeof(data));
	data.data = buf;
	data.ulen = sizeof(buf);
	data.flags = DB_DBT_USERMEM;
	c->found = false;
	ret = c->d->db->get(c->d->db, txn, &c->key, &data, 0);
	if (ret == DB_NOTFOUND)
		return 0;
	if (ret != 0)
		return ret;
	if (data.size == 8) {
		c->sent_at = redirect_dup_time(buf);
		c->found = true;
	}
	return 0;
}

int
redirect_dup_seen(struct redirect_dup *d, const unsigned char *key, time_t now)
{
	struct redirect_dup_ctx c;
	int ret;

	if (redirect_dup_open(d) < 0)
		return -1;
	memset(&c, 0, sizeof(c));
	c.d = d;
	c.key.data = (void *)key;
	c.key.size = REDIRECT_DUP_KEY_SIZE;
	ret = db_env_txn(d->env, 0, redirect_dup_get, &c);
	if (ret != 0) {
		redirect_dup_failed(d, "lookup", ret);
		return -1;
	}
	return c.found && (uint64_t)now < c.sent_at + REDIRECT_DUP_SECS ? 1 : 0;
}

/* Deletes records older than REDIRECT_DUP_SECS, a bounded number per
 * call. */
static int
redirect_dup_purge(DB_TXN *txn, struct redirect_dup_ctx *c)
{
	DBC *cur;
	DBT k, v;
	unsigned int seen = 0;
	int ret;

	if ((ret = c->d->db->cursor(c->d->db, txn, &cur, 0)) != 0)
		return ret;
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	while (seen++ < REDIRECT_DUP_PURGE_MAX &&
	       (ret = cur->get(cur, &k, &v, DB_NEXT)) == 0) {
		if (v.size == 8 && redirect_dup_time(v.data) + REDIRECT_DUP_SECS < c->now &&
		    (ret = cur->del(cur, 0)) != 0)
			break;
	}
	(void)cur->close(cur);
	return ret == DB_NOTFOUND ? 0 : ret;
}

static int
redirect_dup_put(DB_TXN *txn, void *ctx)
{
	struct redirect_dup_ctx *c = ctx;
	unsigned char buf[8];
	DBT data;
	int ret;

	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)(c->now >> (56 - 8 * i));
	memset(&data, 0, sizeof(data));
	data.data = buf;
	data.size = sizeof(buf);
	ret = c->d->db->put(c->d->db, txn, &c->key, &data, 0);
	if (ret == 0 && c->purge)
		ret = redirect_dup_purge(txn, c);
	return ret;
}

int
redirect_dup_record(struct redirect_dup *d, const unsigned char *key, time_t now)
{
	struct redirect_dup_ctx c;
	int ret;

	if (redirect_dup_open(d) < 0)
		return -1;
	memset(&c, 0, sizeof(c));
	c.d = d;
	c.key.data = (void *)key;
	c.key.size = REDIRECT_DUP_KEY_SIZE;
	c.now = (uint64_t)now;
	c.purge = ++d->writes % REDIRECT_DUP_PURGE_EVERY == 0;
	ret = db_env_txn(d->env, 0, redirect_dup_put, &c);
	if (ret != 0) {
		redirect_dup_failed(d, "update", ret);
		return -1;
	}
	return 0;
}
