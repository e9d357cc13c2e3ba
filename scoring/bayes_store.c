/* bayes_store: token counts in the shared Berkeley DB environment.
 *
 * Two B-trees per database (site-wide, or one pair per user):
 *   bayes_toks[-USER].db  token text -> spam, ham, atime (3 x uint32, host
 *                         order: the environment is local by design), and
 *                         under the key "\0totals" the message and token
 *                         totals (tokens never hold a NUL byte)
 *   bayes_seen[-USER].db  seen key (Message-ID TAB body hash) -> 's' / 'h'
 *                         and the time it was last learned or presented
 *                         (uint32, host order); under "\0purge-position"
 *                         the key where the last purge stopped.  Older
 *                         databases hold the class alone.
 * A learn or forget is one transaction: the seen entry, the totals and the
 * tokens change together, so a reader or a crash never sees half a
 * message.  Writers lock in one order (seen, totals, tokens sorted), so
 * they rarely deadlock; when they do, the transaction is retried.  Readers
 * use read-committed isolation: they take no long read locks and never see
 * uncommitted data, and a lookup that a learn committed into (the
 * generation below moved while it read) starts over, so it never sees
 * part of one either.
 *
 * Every transaction that changes a token also bumps a generation counter
 * (the key "\0gen", a uint64_t).  A store handle keeps the counts it read
 * (unknown tokens too) in a cache that is only valid for the generation it
 * was filled at: each lookup reads the generation first, in the same
 * transaction as the misses, and starts the cache over when it moved, so
 * a learn in any process (lmtpd-learn, another worker's autolearn, expiry)
 * is seen by the next lookup.  A count read after a concurrent commit and
 * cached under the older generation is harmless: that commit moved the
 * generation, so the next lookup drops it.
 *
 * A handle that keeps searching the database under one generation (a
 * folder scored by lmtpd-score, a worker while nothing is learned) reads
 * every token once in key order instead, and answers from that copy, the
 * unknown tokens included, until the generation moves. */
#include "config.h"

#include <db.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addrfold.h"
#include "bayes.h"
#include "dbenv.h"
#include "lmtpd_limits.h"
#include "log.h"
#include "strset.h"
#include "xalloc.h"

/* Transactions never wait for a lock: db_env_txn retries conflicts. */
/* Tokens removed per expiry transaction (bounds its locks). */
#define BAYES_EXPIRE_BATCH 500

static const char store_totals_key[] = "\0totals";
#define STORE_TOTALS_LEN (sizeof(store_totals_key) - 1)
static const char store_gen_key[] = "\0gen";
#define STORE_GEN_LEN (sizeof(store_gen_key) - 1)

/* Open addressing over at least twice as many slots as entries.  A slot
 * holds the token's hash and where its record starts in one arena; a
 * record is the counts, the length and the token bytes, so a hit reads two
 * cache lines or so, and a probe past another token usually just the
 * slot. */
#define CACHE_SLOTS (2 * BAYES_CACHE_TOKENS)
#define CACHE_ARENA ((size_t)BAYES_CACHE_TOKENS * 40)

/* A whole-database copy pays for itself once the lookups it saves cost
 * more than reading every token once: a B-tree search for one token costs
 * about as much as reading a few dozen tokens in key order, so it is taken
 * after ntokens / SNAPSHOT_MISS_RATIO database reads under one
 * generation.  Where every message moves the generation (autolearn on
 * every delivery) that never happens and the copy costs nothing. */
#define SNAPSHOT_MISS_RATIO 16
/* A handle told that many messages follow (bayes_store_set_bulk) takes it
 * at the first lookup: on SpamAssassin's default database size the
 * searches before ntokens / SNAPSHOT_MISS_RATIO cost three times what
 * reading every token does. */
/* Bulk reads of the token database (one page of records or more). */
#define SNAPSHOT_BULK_BUF (256 * 1024)

struct cache_rec {
	struct bayes_counts counts;
	uint8_t len;			/* <= BAYES_TOKEN_MAX */
	char tok[];
};

/* The tables (slots, arena) are xmap_alloc mappings: megabytes touched
 * all over, which as huge pages take a handful of page faults instead of
 * a thousand or so; on a virtual machine those cost more than reading
 * the tokens. */
struct store_cache {
	uint64_t gen;
	bool valid;
	uint64_t *slots;		/* hash << 32 | (record offset + 1); 0 empty */
	size_t nslots;			/* a power of two */
	size_t n;
	char *arena;			/* records, each aligned for its counts */
	size_t arena_len, arena_cap;
};

struct bayes_store {
	struct db_env *env;
	DB *toks, *seen;
	/* Counts read so far under one generation, unknown tokens too. */
	struct store_cache cache;
	uint64_t cache_reads;		/* database reads that filled it */
	/* Every token of the database under snap.gen (valid), so a token
	 * it lacks is unknown without asking the database.  Also dropped
	 * when the generation moves. */
	struct store_cache snap;
	bool snap_refused;		/* too big for this generation */
	bool snap_skip;			/* learns landed in the last copy: not now */
	uint64_t last_gen;		/* of the last lookup that succeeded */
	/* The totals as of generation tot_gen: every write that changes
	 * them bumps the generation in the same transaction. */
	struct bayes_totals tot;
	uint64_t tot_gen;		/* 0: none kept */
	bool bulk;			/* many lookups to come: copy at once */
	uint32_t seen_ttl;		/* 0: seen entries never expire */
	bool purge_due;			/* set by the last learn */
	struct strset *touched;		/* tokens touched since touched_since */
	uint32_t touched_since;
};

/* A seen entry: the class, then when (SEEN_REC_LEN); an entry of the
 * class alone is from before entries had a time. */
#define SEEN_REC_LEN 5
/* Seen entries looked at per purge transaction (bounds its locks). */
#define SEEN_PURGE_BATCH 500
/* Keys are at most 200 bytes of Message-ID, a tab and a hash; a longer
 * one (a damaged file) is resumed from its first bytes, which sort at or
 * before it. */
#define SEEN_POS_MAX 512
static const char seen_purge_pos[] = "\0purge-position";
#define SEEN_POS_KEY_LEN (sizeof(seen_purge_pos) - 1)

/* Tokens held in whole-database copies by this process, all stores
 * together: the bound on their memory (BAYES_SNAPSHOT_TOKENS). */
static size_t snapshot_tokens;

static void
cache_clear(struct store_cache *c)
{
	if (c->slots != NULL && c->n > 0)
		memset(c->slots, 0, c->nslots * sizeof(*c->slots));
	c->n = 0;
	c->arena_len = 0;
	c->valid = false;
}

static void
cache_free(struct store_cache *c)
{
	xmap_free(c->slots, c->nslots * sizeof(*c->slots));
	xmap_free(c->arena, c->arena_cap);
	memset(c, 0, sizeof(*c));
}

/* Makes the cache that of generation gen (emptied if it was another's). */
static void
cache_sync(struct store_cache *c, uint64_t gen)
{
	if (c->valid && c->gen == gen)
		return;
	cache_clear(c);
	if (c->slots == NULL) {
		c->nslots = CACHE_SLOTS;
		c->slots = xmap_alloc(c->nslots * sizeof(*c->slots));
		c->arena_cap = CACHE_ARENA;
		c->arena = xmap_alloc(c->arena_cap);
	}
	c->gen = gen;
	c->valid = true;
}

static struct cache_rec *
cache_rec(const struct store_cache *c, uint64_t slot)
{
	return (struct cache_rec *)(void *)(c->arena + (uint32_t)slot - 1);
}

/* The slot of tok: its record's, or the empty one it would take. */
static uint64_t *
cache_slot(const struct store_cache *c, const char *tok, size_t len, uint32_t h)
{
	for (uint32_t i = h;; i++) {
		uint64_t *slot = &c->slots[i & (c->nslots - 1)];
		const struct cache_rec *r;

		if (*slot == 0)
			return slot;
		if ((uint32_t)(*slot >> 32) != h)
			continue;
		r = cache_rec(c, *slot);
		if (r->len == len && memcmp(r->tok, tok, len) == 0)
			return slot;
	}
}

static size_t
cache_rec_size(size_t len)
{
	return (sizeof(struct cache_rec) + len + _Alignof(struct cache_rec) - 1) &
	       ~(_Alignof(struct cache_rec) - 1);
}

static void
cache_store(struct store_cache *c, uint64_t *slot, const char *tok, size_t len, uint32_t h,
	    const struct bayes_counts *counts)
{
	struct cache_rec *r = (struct cache_rec *)(void *)(c->arena + c->arena_len);

	r->counts = *counts;
	r->len = (uint8_t)len;
	memcpy(r->tok, tok, len);
	*slot = (uint64_t)h << 32 | (uint64_t)(c->arena_len + 1);
	c->arena_len += cache_rec_size(len);
	c->n++;
}

/* Fills slot (cache_slot's empty answer for tok) with tok's counts. */
static void
cache_put(struct store_cache *c, uint64_t *slot, const char *tok, size_t len, uint32_t h,
	  const struct bayes_counts *counts)
{
	if (len > BAYES_TOKEN_MAX)
		return;
	/* full: start over (keeps the bound; the next messages refill it) */
	if (c->n >= BAYES_CACHE_TOKENS || c->arena_len + cache_rec_size(len) > c->arena_cap) {
		uint64_t gen = c->gen;

		cache_clear(c);
		cache_sync(c, gen);
		slot = cache_slot(c, tok, len, h);
	}
	cache_store(c, slot, tok, len, h, counts);
}

/* Tokens a copy of a database of ntokens takes at most (some slack for
 * learns committed while it is read), and the slots for them. */
static size_t
snapshot_max(uint32_t ntokens)
{
	return (size_t)ntokens + ntokens / 8 + 64;
}

static size_t
snapshot_slots(size_t max)
{
	size_t n = 1024;

	while (n < 2 * max)
		n *= 2;
	return n;
}

static void
snapshot_drop(struct bayes_store *st)
{
	snapshot_tokens -= st->snap.nslots / 2;
	cache_free(&st->snap);
}

/* Reads every token of the database into st->snap, in the lookup's
 * transaction: read-committed like single reads, so what it may see of a
 * commit running alongside is dropped with the generation that commit
 * moves, as for the cache.  A database that holds more tokens than its
 * totals say, or that cannot be read whole, is refused for this
 * generation.  Returns 0 (with or without a copy) or a conflict to run the
 * transaction again for. */
static int
snapshot_load(struct bayes_store *st, DB_TXN *txn, uint64_t gen, uint32_t ntokens)
{
	struct store_cache *c = &st->snap;
	size_t max = snapshot_max(ntokens);
	DBC *dbc = NULL;
	DBT k, v;
	void *buf = xmalloc(SNAPSHOT_BULK_BUF);
	int ret, ret2;

	c->nslots = snapshot_slots(max);
	c->slots = xmap_alloc(c->nslots * sizeof(*c->slots));
	c->arena_cap = max * cache_rec_size(16);
	c->arena = xmap_alloc(c->arena_cap);
	snapshot_tokens += c->nslots / 2;
	ret = st->toks->cursor(st->toks, txn, &dbc, 0);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	v.data = buf;
	v.ulen = SNAPSHOT_BULK_BUF;
	v.flags = DB_DBT_USERMEM;
	while (ret == 0 && (ret = dbc->get(dbc, &k, &v, DB_MULTIPLE_KEY | DB_NEXT)) == 0) {
		void *p, *kp, *vp;
		u_int32_t klen, vlen;

		DB_MULTIPLE_INIT(p, &v);
		for (;;) {
			struct bayes_counts counts = { 0, 0, 0 };
			uint64_t *slot;
			uint32_t h;

			DB_MULTIPLE_KEY_NEXT(p, &v, kp, klen, vp, vlen);
			if (p == NULL)
				break;
			/* the totals and the generation; tokens hold no NUL */
			if (klen == 0 || ((const char *)kp)[0] == '\0' || klen > BAYES_TOKEN_MAX)
				continue;
			if (c->n >= max) {
				ret = ENOSPC;
				break;
			}
			if (c->arena_len + cache_rec_size(klen) > c->arena_cap) {
				c->arena = xmap_grow(c->arena, c->arena_cap,
							  c->arena_cap * 2);
				c->arena_cap *= 2;
			}
			/* a record of another size (damaged) reads as zero, as
			 * in store_get_record */
			if (vlen == sizeof(counts))
				memcpy(&counts, vp, sizeof(counts));
			h = str_hash_fnv(kp, klen);
			slot = cache_slot(c, kp, klen, h);
			if (*slot == 0)
				cache_store(c, slot, kp, klen, h, &counts);
		}
	}
	ret2 = dbc != NULL ? dbc->close(dbc) : 0;
	free(buf);
	if (ret == DB_NOTFOUND)
		ret = 0;
	if (ret == 0 && ret2 == 0) {
		c->gen = gen;
		c->valid = true;
		return 0;
	}
	snapshot_drop(st);
	if (ret == 0)
		ret = ret2;
	/* a conflict runs the transaction again, and this with it */
	if (ret == DB_LOCK_DEADLOCK || ret == DB_LOCK_NOTGRANTED || ret == DB_RUNRECOVERY)
		return ret;
	/* Outgrown, or a page the scan could not read: single lookups for
	 * this generation, which may not need that page. */
	if (ret != ENOSPC && ret != DB_BUFFER_SMALL)
		log_warn("bayes: reading the whole token database failed: %s; "
			 "looking tokens up one by one", db_strerror(ret));
	st->snap_refused = true;
	return 0;
}

/* The counts of every token of at most BAYES_TOKEN_MAX bytes from a
 * copy of the whole database (a token it lacks is unknown).  A copy is
 * megabytes, so nearly every probe misses the CPU's caches: a token's slot
 * is fetched SNAPSHOT_AHEAD tokens before it is looked up, and the record
 * its first slot names SNAPSHOT_AHEAD / 2 tokens before. */
#define SNAPSHOT_AHEAD 16

static void
snapshot_lookup(const struct store_cache *snap, const struct strlist *tokens,
		struct bayes_counts *counts)
{
	uint32_t hash[SNAPSHOT_AHEAD];
	size_t n = tokens->n, half = SNAPSHOT_AHEAD / 2;

	for (size_t i = 0; i < n + SNAPSHOT_AHEAD; i++) {
		if (i >= SNAPSHOT_AHEAD) {
			size_t j = i - SNAPSHOT_AHEAD;
			const struct strlist_item *it = &tokens->v[j];
			uint64_t *slot;

			/* before token i takes over hash[j % SNAPSHOT_AHEAD] */
			if (it->len <= BAYES_TOKEN_MAX) {
				slot = cache_slot(snap, it->p, it->len, hash[j % SNAPSHOT_AHEAD]);
				if (*slot != 0)
					counts[j] = cache_rec(snap, *slot)->counts;
				else
					memset(&counts[j], 0, sizeof(counts[j]));
			}
		}
		if (i >= half && i - half < n) {
			uint64_t first = snap->slots[hash[(i - half) % SNAPSHOT_AHEAD] &
						     (snap->nslots - 1)];

			if (first != 0)
				__builtin_prefetch(cache_rec(snap, first));
		}
		if (i < n) {
			const struct strlist_item *it = &tokens->v[i];
			uint32_t h = str_hash_fnv(it->p, it->len);

			hash[i % SNAPSHOT_AHEAD] = h;
			__builtin_prefetch(&snap->slots[h & (snap->nslots - 1)]);
		}
	}
}

/* Whether the lookups under this generation have read enough single tokens
 * to pay for a copy of every token, and the copy fits the process's
 * bound. */
static bool
snapshot_due(const struct bayes_store *st, uint32_t ntokens)
{
	return !st->snap.valid && !st->snap_refused && ntokens > 0 &&
	       (st->bulk || st->cache_reads >= ntokens / SNAPSHOT_MISS_RATIO) &&
	       snapshot_tokens + snapshot_slots(snapshot_max(ntokens)) / 2 <=
	       BAYES_SNAPSHOT_TOKENS;
}

static int
store_open_one(struct db_env *env, const char *name, bool read_only, DB **db_r,
	       char **error_r)
{
	return read_only ? db_env_open_db_read_only(env, name, DB_BTREE, db_r, error_r)
			 : db_env_open_db(env, name, DB_BTREE, db_r, error_r);
}

/* user -> a file-name-safe word: [a-z0-9._@+-] kept, the rest %XX; past
 * BAYES_USER_MAX cut, with the hash of the whole user after it (users
 * that begin alike keep databases of their own, and the name fits). */
static char *
store_encode_user(const char *given)
{
	/* folded as the daemon folds recipients, so that lmtpd-learn -u
	 * names the database delivery uses however it was written */
	char *user = addr_casefold(given);
	size_t n = strlen(user), len;
	char *out, *o;

	out = o = xmalloc(n * 3 + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)user[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '@' ||
		    c == '+' || c == '-' || c == '_' || (c == '.' && i > 0)) {
			*o++ = (char)c;
		} else {
			static const char hex[] = "0123456789ABCDEF";

			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	len = (size_t)(o - out);
	if (len > BAYES_USER_MAX) {
		/* FNV-1a, 64 bits */
		uint64_t h = 0xcbf29ce484222325ULL;
		size_t keep = BAYES_USER_MAX - 17;

		for (const unsigned char *p = (const unsigned char *)user; *p != '\0'; p++) {
			h ^= *p;
			h *= 0x100000001b3ULL;
		}
		/* not inside a %XX */
		if (out[keep - 1] == '%')
			keep--;
		else if (out[keep - 2] == '%')
			keep -= 2;
		/* UNSAFE: keep + 17 + 1 <= BAYES_USER_MAX + 1 <= len + 1,
		 * within the n * 3 + 1 bytes of out. */
		snprintf(out + keep, 18, "~%016llx", (unsigned long long)h);
	}
	free(user);
	return out;
}

static struct bayes_store *
store_open(struct db_env *env, const char *user, bool read_only, char **error_r)
{
	struct bayes_store *st = xcalloc(1, sizeof(*st));
	char *enc = user != NULL ? store_encode_user(user) : NULL;
	char *toks = enc != NULL ? xasprintf("bayes_toks-%s.db", enc) : xstrdup("bayes_toks.db");
	char *seen = enc != NULL ? xasprintf("bayes_seen-%s.db", enc) : xstrdup("bayes_seen.db");
	int ret;

	st->env = env;
	ret = store_open_one(env, toks, read_only, &st->toks, error_r);
	if (ret == 0 && store_open_one(env, seen, read_only, &st->seen, error_r) < 0) {
		int saved = errno;

		db_env_close_db(env, &st->toks);
		errno = saved;
		ret = -1;
	}
	free(enc);
	free(toks);
	free(seen);
	if (ret < 0) {
		free(st);
		return NULL;
	}
	return st;
}

struct bayes_store *
bayes_store_open(struct db_env *env, const char *user, char **error_r)
{
	return store_open(env, user, false, error_r);
}

struct bayes_store *
bayes_store_open_read_only(struct db_env *env, const char *user, char **error_r)
{
	return store_open(env, user, true, error_r);
}

void
bayes_store_close(struct bayes_store **stp)
{
	struct bayes_store *st = *stp;

	if (st == NULL)
		return;
	db_env_close_db(st->env, &st->toks);
	db_env_close_db(st->env, &st->seen);
	cache_free(&st->cache);
	if (st->snap.slots != NULL)
		snapshot_drop(st);
	strset_free(&st->touched);
	free(st);
	*stp = NULL;
}

static void
store_dbt(DBT *d, const void *data, size_t len)
{
	memset(d, 0, sizeof(*d));
	d->data = (void *)data;
	d->size = (u_int32_t)len;
}

static int
store_get_totals(DB *db, DB_TXN *txn, uint32_t flags, struct bayes_totals *t)
{
	DBT k, v;
	int ret;

	memset(t, 0, sizeof(*t));
	store_dbt(&k, store_totals_key, STORE_TOTALS_LEN);
	memset(&v, 0, sizeof(v));
	v.data = t;
	v.ulen = sizeof(*t);
	v.flags = DB_DBT_USERMEM;
	ret = db->get(db, txn, &k, &v, flags);
	if (ret == DB_NOTFOUND) {
		memset(t, 0, sizeof(*t));
		return 0;
	}
	if (ret == 0 && v.size != sizeof(*t))
		return EINVAL;
	return ret;
}

static int
store_put_totals(DB *db, DB_TXN *txn, const struct bayes_totals *t)
{
	DBT k, v;

	store_dbt(&k, store_totals_key, STORE_TOTALS_LEN);
	store_dbt(&v, t, sizeof(*t));
	return db->put(db, txn, &k, &v, 0);
}

/* A fixed-size record (a token's counts, the generation) into out,
 * through dbc (DB_SET) when there is one, else DB->get (which opens and
 * closes a cursor of its own).  Returns 0, DB_NOTFOUND (out zeroed) or an
 * error; a record of another size (damaged) reads as zero. */
static int
store_get_record(DB *db, DBC *dbc, DB_TXN *txn, const void *key, size_t klen,
		 uint32_t flags, void *out, size_t size)
{
	DBT k, v;
	int ret;

	store_dbt(&k, key, klen);
	memset(&v, 0, sizeof(v));
	v.data = out;
	v.ulen = (u_int32_t)size;
	v.flags = DB_DBT_USERMEM;
	ret = dbc != NULL ? dbc->get(dbc, &k, &v, DB_SET | flags)
			  : db->get(db, txn, &k, &v, flags);
	if (ret == DB_NOTFOUND || (ret == 0 && v.size != size))
		memset(out, 0, size);
	return ret;
}

/* The generation (0 for a database no write has bumped yet). */
static int
store_get_gen(DB *db, DB_TXN *txn, uint32_t flags, uint64_t *gen_r)
{
	int ret = store_get_record(db, NULL, txn, store_gen_key, STORE_GEN_LEN, flags, gen_r,
				   sizeof(*gen_r));

	return ret == DB_NOTFOUND ? 0 : ret;
}

/* In a writing transaction, before it changes a token.  A database
 * without the counter starts it from the clock, so that a database
 * removed and made again does not replay the generations a running
 * process has cached. */
static int
store_bump_gen(DB *db, DB_TXN *txn)
{
	uint64_t gen;
	DBT k, v;
	int ret = store_get_gen(db, txn, DB_RMW, &gen);

	if (ret != 0)
		return ret;
	if (gen == 0)
		gen = ((uint64_t)time(NULL) << 24) ^ ((uint64_t)(uint32_t)random() << 1);
	gen++;
	store_dbt(&k, store_gen_key, STORE_GEN_LEN);
	store_dbt(&v, &gen, sizeof(gen));
	return db->put(db, txn, &k, &v, 0);
}

struct lookup_ctx {
	struct bayes_store *st;
	const struct strlist *tokens;
	struct bayes_totals *tot;
	struct bayes_counts *counts;
};

static int store_lookup_tokens(struct lookup_ctx *c, DB_TXN *txn, uint64_t gen);

static int
store_lookup_fn(DB_TXN *txn, void *vctx)
{
	struct lookup_ctx *c = vctx;
	struct bayes_store *st = c->st;
	uint64_t gen;
	int ret = store_get_gen(st->toks, txn, 0, &gen);

	/* One search a message, not two: the totals kept for this
	 * generation are still the totals (a database without the counter,
	 * generation 0, is read every time).  Two processes searching the
	 * same pages for every message wait on each other's latches. */
	if (ret == 0 && (gen == 0 || gen != st->tot_gen)) {
		ret = store_get_totals(st->toks, txn, 0, c->tot);
		if (ret == 0) {
			st->tot = *c->tot;
			st->tot_gen = gen;
		}
	} else if (ret == 0) {
		*c->tot = st->tot;
	}
	if (ret != 0 || c->tokens == NULL || c->tokens->n == 0)
		return ret;
	return store_lookup_tokens(c, txn, gen);
}

/* The counts of c->tokens as of generation gen, read in txn.  Reads are
 * read-committed (no read lock is held, so learners never wait for
 * readers), so a learn may commit between two of them; every learn moves
 * the generation, so reading it again at the end tells whether one did,
 * and then the lookup starts over: a reader never sees part of a learn. */
static int
store_lookup_tokens(struct lookup_ctx *c, DB_TXN *txn, uint64_t gen)
{
	struct bayes_store *st = c->st;
	bool loaded = false;
	uint64_t gen_after;
	int ret = 0, ret2 = 0;
	DBC *dbc = NULL;

	if (!st->cache.valid || st->cache.gen != gen) {
		st->cache_reads = 0;
		st->snap_refused = false;
		/* (a copy handed over from the parent may be of this one) */
		if (st->snap.slots != NULL && (!st->snap.valid || st->snap.gen != gen))
			snapshot_drop(st);
	}
	cache_sync(&st->cache, gen);
	if (!st->snap_skip && snapshot_due(st, c->tot->ntokens)) {
		if ((ret = snapshot_load(st, txn, gen, c->tot->ntokens)) != 0)
			return ret;
		loaded = true;
	}
	if (st->snap.valid)
		snapshot_lookup(&st->snap, c->tokens, c->counts);
	for (size_t i = 0; i < c->tokens->n; i++) {
		const struct strlist_item *it = &c->tokens->v[i];
		uint32_t h;
		uint64_t *slot;

		if (st->snap.valid && it->len <= BAYES_TOKEN_MAX)
			continue;	/* snapshot_lookup's */
		h = str_hash_fnv(it->p, it->len);
		slot = it->len <= BAYES_TOKEN_MAX ? cache_slot(&st->cache, it->p, it->len, h) : NULL;
		if (slot != NULL && *slot != 0) {
			c->counts[i] = cache_rec(&st->cache, *slot)->counts;
			continue;
		}
		/* One cursor for every miss (DB->get opens and closes one
		 * each time). */
		if (dbc == NULL && (ret = st->toks->cursor(st->toks, txn, &dbc, 0)) != 0)
			return ret;
		ret = store_get_record(st->toks, dbc, txn, it->p, it->len, 0, &c->counts[i],
				       sizeof(c->counts[i]));
		if (ret != 0 && ret != DB_NOTFOUND)
			break;
		ret = 0;
		st->cache_reads++;
		if (slot != NULL)
			cache_put(&st->cache, slot, it->p, it->len, h, &c->counts[i]);
	}
	if (dbc != NULL)
		ret2 = dbc->close(dbc);
	if (ret != 0 || ret2 != 0)
		return ret != 0 ? ret : ret2;
	if ((ret = store_get_gen(st->toks, txn, 0, &gen_after)) != 0)
		return ret;
	if (gen_after != gen) {
		/* What this attempt cached is tagged with gen, which is
		 * gone: the retry drops it.  A copy of the whole database
		 * takes long enough for learns to keep landing in it, so the
		 * retry reads the tokens one by one instead. */
		if (loaded)
			st->snap_skip = true;
		return DB_LOCK_NOTGRANTED;	/* db_env_read tries again */
	}
	/* Copies again once a lookup finds the generation of the last one:
	 * while learns go on, a copy would only be made to be dropped. */
	if (gen == st->last_gen)
		st->snap_skip = false;
	st->last_gen = gen;
	return 0;
}

int
bayes_store_lookup(struct bayes_store *st, const struct strlist *tokens,
		   struct bayes_totals *tot_r, struct bayes_counts *counts_r)
{
	struct lookup_ctx c = { st, tokens, tot_r, counts_r };
	int ret = db_env_read(st->env, store_lookup_fn, &c);

	if (ret != 0) {
		log_warn("bayes: token lookup failed: %s", db_strerror(ret));
		return -1;
	}
	return 0;
}

/* ---- touching ---- */

static bool
touch_due(const struct bayes_counts *c, uint32_t atime)
{
	return (c->spam != 0 || c->ham != 0) && c->atime < atime &&
	       atime - c->atime >= BAYES_TOUCH_SECS;
}

struct touch_ctx {
	struct bayes_store *st;
	const struct strlist *tokens;
	const struct bayes_counts *counts;
	uint32_t atime;
	bool *due;			/* per token */
	long touched;
};

/* Tokens in their sorted order, as learners take them: no deadlock with
 * a learn, only a conflict. */
static int
store_touch_fn(DB_TXN *txn, void *vctx)
{
	struct touch_ctx *c = vctx;
	DB *db = c->st->toks;

	c->touched = 0;
	for (size_t i = 0; i < c->tokens->n; i++) {
		const struct strlist_item *it = &c->tokens->v[i];
		struct bayes_counts cnt;
		DBT k, v;
		int ret;

		if (!c->due[i])
			continue;
		/* a read lock only: a token another process touched meanwhile
		 * is left as it is, without blocking the lookups of the page
		 * (the lock is upgraded by the write, and held to the commit,
		 * so no learn changes the counts in between) */
		ret = store_get_record(db, NULL, txn, it->p, it->len, 0, &cnt, sizeof(cnt));
		if (ret == DB_NOTFOUND)
			continue;	/* expired or forgotten meanwhile */
		if (ret != 0)
			return ret;
		if (!touch_due(&cnt, c->atime))
			continue;	/* touched by another process meanwhile */
		cnt.atime = c->atime;
		store_dbt(&k, it->p, it->len);
		store_dbt(&v, &cnt, sizeof(cnt));
		if ((ret = db->put(db, txn, &k, &v, 0)) != 0)
			return ret;
		c->touched++;
	}
	return 0;
}

long
bayes_store_touch(struct bayes_store *st, const struct strlist *tokens,
		  const struct bayes_counts *counts, const bool *which, uint32_t atime)
{
	struct touch_ctx c = { st, tokens, counts, atime, NULL, 0 };
	size_t due = 0;
	int ret;

	/* The counts come from this handle's cache or its copy of the
	 * database, which keep the old times (the copy may be shared with
	 * the parent process: writing to it would unshare its pages), so
	 * the tokens touched are remembered apart, for a while. */
	if (st->touched != NULL && (strset_count(st->touched) >= BAYES_CACHE_TOKENS ||
				    atime < st->touched_since ||
				    atime - st->touched_since >= BAYES_TOUCH_SECS))
		strset_free(&st->touched);
	if (st->touched == NULL) {
		st->touched = strset_new();
		st->touched_since = atime;
	}
	c.due = xcalloc(tokens->n > 0 ? tokens->n : 1, sizeof(*c.due));
	for (size_t i = 0; i < tokens->n; i++)
		if (which[i] && touch_due(&counts[i], atime) &&
		    !strset_contains(st->touched, tokens->v[i].p, tokens->v[i].len)) {
			c.due[i] = true;
			due++;
		}
	if (due == 0) {
		free(c.due);
		return 0;
	}
	ret = db_env_txn_once(st->env, DB_TXN_WRITE_NOSYNC, store_touch_fn, &c);
	if (ret == 0)
		for (size_t i = 0; i < tokens->n; i++)
			if (c.due[i])
				(void)strset_add(st->touched, tokens->v[i].p, tokens->v[i].len);
	free(c.due);
	if (ret == DB_LOCK_NOTGRANTED || ret == DB_LOCK_DEADLOCK)
		return 0;
	if (ret != 0) {
		log_warn("bayes: touching tokens failed: %s", db_strerror(ret));
		return -1;
	}
	return c.touched;
}

/* A lookup without tokens, which with bulk set copies the database. */
int
bayes_store_preload(struct bayes_store *st)
{
	static const char tok[] = "\x01preload";	/* no token starts so */
	struct strlist one;
	struct bayes_totals tot;
	struct bayes_counts c;
	int ret;

	strlist_init(&one);
	strlist_add(&one, tok, sizeof(tok) - 1);
	ret = bayes_store_lookup(st, &one, &tot, &c);
	strlist_free(&one);
	return ret;
}

struct bayes_store_copy {
	struct store_cache snap;
};

struct bayes_store_copy *
bayes_store_take_copy(struct bayes_store *st)
{
	struct bayes_store_copy *copy;

	if (st == NULL || !st->snap.valid)
		return NULL;
	copy = xcalloc(1, sizeof(*copy));
	copy->snap = st->snap;
	memset(&st->snap, 0, sizeof(st->snap));
	return copy;
}

void
bayes_store_free_copy(struct bayes_store_copy **copyp)
{
	struct bayes_store_copy *copy = *copyp;

	if (copy == NULL)
		return;
	snapshot_tokens -= copy->snap.nslots / 2;
	cache_free(&copy->snap);
	free(copy);
	*copyp = NULL;
}

void
bayes_store_give_copy(struct bayes_store *st, struct bayes_store_copy **copyp)
{
	struct bayes_store_copy *copy = *copyp;

	if (copy == NULL)
		return;
	if (st->snap.slots != NULL) {
		bayes_store_free_copy(copyp);
		return;
	}
	st->snap = copy->snap;
	free(copy);
	*copyp = NULL;
}

void
bayes_store_set_bulk(struct bayes_store *st, bool bulk)
{
	st->bulk = bulk;
}

size_t
bayes_store_snapshot_size(const struct bayes_store *st)
{
	return st->snap.valid ? st->snap.n : 0;
}

int
bayes_store_totals(struct bayes_store *st, struct bayes_totals *tot_r)
{
	return bayes_store_lookup(st, NULL, tot_r, NULL);
}

struct learn_ctx {
	struct bayes_store *st;
	const struct bayes_tokens *toks;
	enum bayes_class cls;
	uint32_t atime;
	bool no_relearn;
	enum bayes_learn_result result;
	bool purge_due;
};

/* Adds ds/dh to every token (removing those that reach zero). */
static int
store_change_tokens(struct learn_ctx *c, DB_TXN *txn, int ds, int dh,
		    struct bayes_totals *tot)
{
	DB *db = c->st->toks;

	for (size_t i = 0; i < c->toks->list.n; i++) {
		const struct strlist_item *it = &c->toks->list.v[i];
		struct bayes_counts cnt;
		DBT k, v;
		int ret = store_get_record(db, NULL, txn, it->p, it->len, DB_RMW, &cnt,
					   sizeof(cnt));
		bool existed = ret == 0;

		if (ret != 0 && ret != DB_NOTFOUND)
			return ret;
		if (!existed && (ds < 0 || dh < 0))
			continue;
		cnt.spam = ds < 0 ? (cnt.spam >= (uint32_t)-ds ? cnt.spam - (uint32_t)-ds : 0)
				  : cnt.spam + (uint32_t)ds;
		cnt.ham = dh < 0 ? (cnt.ham >= (uint32_t)-dh ? cnt.ham - (uint32_t)-dh : 0)
				 : cnt.ham + (uint32_t)dh;
		store_dbt(&k, it->p, it->len);
		if (cnt.spam == 0 && cnt.ham == 0) {
			ret = db->del(db, txn, &k, 0);
			if (ret != 0 && ret != DB_NOTFOUND)
				return ret;
			if (tot->ntokens > 0)
				tot->ntokens--;
			continue;
		}
		if (ds > 0 || dh > 0) {
			if (c->atime > cnt.atime)
				cnt.atime = c->atime;
		}
		store_dbt(&v, &cnt, sizeof(cnt));
		ret = db->put(db, txn, &k, &v, 0);
		if (ret != 0)
			return ret;
		if (!existed)
			tot->ntokens++;
	}
	return 0;
}

static void
seen_rec_make(char rec[SEEN_REC_LEN], char cls, uint32_t when)
{
	rec[0] = cls;
	memcpy(rec + 1, &when, sizeof(when));
}

/* A message learned before and presented again: its entry's time moves
 * on, so that retraining a folder keeps its messages known however long
 * they stay in it.  Only once the entry is an eighth of the ttl old, so a
 * folder trained every few minutes does not write each time. */
static int
seen_refresh(struct bayes_store *st, DB_TXN *txn, DBT *k, char *rec, uint32_t size,
	     uint32_t now)
{
	uint32_t when = 0;
	DBT v;

	if (st->seen_ttl == 0 || now == 0)
		return 0;
	if (size == SEEN_REC_LEN) {
		memcpy(&when, rec + 1, sizeof(when));
		if (when <= now && now - when < st->seen_ttl / 8)
			return 0;
	}
	seen_rec_make(rec, rec[0], now);
	store_dbt(&v, rec, SEEN_REC_LEN);
	return st->seen->put(st->seen, txn, k, &v, 0);
}

static int
store_learn_fn(DB_TXN *txn, void *vctx)
{
	struct learn_ctx *c = vctx;
	DB *seen = c->st->seen;
	struct bayes_totals tot;
	char was, want, rec[SEEN_REC_LEN];
	DBT k, v;
	int ret;

	store_dbt(&k, c->toks->seen_key, strlen(c->toks->seen_key));
	memset(&v, 0, sizeof(v));
	v.data = rec;
	v.ulen = sizeof(rec);
	v.flags = DB_DBT_USERMEM;
	ret = seen->get(seen, txn, &k, &v, DB_RMW);
	if (ret == DB_NOTFOUND || ret == DB_BUFFER_SMALL)
		was = 0;	/* DB_BUFFER_SMALL: damaged, as if never seen */
	else if (ret != 0)
		return ret;
	else if ((v.size != 1 && v.size != SEEN_REC_LEN) || (rec[0] != 's' && rec[0] != 'h'))
		was = 0;	/* a damaged entry: as if never seen */
	else
		was = rec[0];
	want = c->cls == BAYES_SPAM ? 's' : c->cls == BAYES_HAM ? 'h' : 0;
	c->purge_due = false;	/* a transaction retried starts over */
	if (want == 0 && was == 0) {
		c->result = BAYES_UNKNOWN;
		return 0;
	}
	if (want != 0 && was != 0 && (was == want || c->no_relearn)) {
		c->result = was == want ? BAYES_ALREADY : BAYES_OPPOSITE;
		return seen_refresh(c->st, txn, &k, rec, v.size, c->atime);
	}
	if ((ret = store_get_totals(c->st->toks, txn, DB_RMW, &tot)) != 0 ||
	    (ret = store_bump_gen(c->st->toks, txn)) != 0)
		return ret;
	/* learning it the other way first takes back the old count */
	if (was == 's') {
		if (tot.nspam > 0)
			tot.nspam--;
		ret = store_change_tokens(c, txn, -1, 0, &tot);
	} else if (was == 'h') {
		if (tot.nham > 0)
			tot.nham--;
		ret = store_change_tokens(c, txn, 0, -1, &tot);
	}
	if (ret != 0)
		return ret;
	if (want == 's') {
		tot.nspam++;
		ret = store_change_tokens(c, txn, 1, 0, &tot);
	} else if (want == 'h') {
		tot.nham++;
		ret = store_change_tokens(c, txn, 0, 1, &tot);
	}
	if (ret != 0)
		return ret;
	if (want != 0) {
		if (c->atime > tot.newest_atime)
			tot.newest_atime = c->atime;
		if (tot.oldest_atime == 0 || c->atime < tot.oldest_atime)
			tot.oldest_atime = c->atime;
	}
	if ((ret = store_put_totals(c->st->toks, txn, &tot)) != 0)
		return ret;
	/* A new seen entry adds one to the messages learned, and exactly one
	 * learn, in whichever process, makes each sum: every
	 * BAYES_SEEN_PURGE_EVERY new entries one of them purges, however
	 * short-lived the processes that learn (a counter of their own never
	 * reached it in workers that learn little, nor in lmtpd-learn runs
	 * of fewer messages). */
	if (was == 0 && want != 0)
		c->purge_due = ((uint64_t)tot.nspam + tot.nham) % BAYES_SEEN_PURGE_EVERY == 0;
	if (want != 0) {
		seen_rec_make(rec, want, c->atime);
		store_dbt(&v, rec, SEEN_REC_LEN);
		ret = seen->put(seen, txn, &k, &v, 0);
	} else {
		ret = seen->del(seen, txn, &k, 0);
	}
	if (ret != 0)
		return ret;
	c->result = BAYES_LEARNED;
	return 0;
}

int
bayes_store_learn(struct bayes_store *st, const struct bayes_tokens *toks,
		  enum bayes_class cls, time_t atime, unsigned int flags,
		  enum bayes_learn_result *result_r)
{
	struct learn_ctx c = { st, toks, cls, atime > 0 ? (uint32_t)atime : 0,
			       (flags & BAYES_LEARN_NO_RELEARN) != 0, BAYES_UNKNOWN, false };
	int ret = db_env_txn(st->env, (flags & BAYES_LEARN_DURABLE) != 0 ? 0 : DB_TXN_WRITE_NOSYNC,
			     store_learn_fn, &c);

	if (ret != 0) {
		log_warn("bayes: learning failed: %s", db_strerror(ret));
		return -1;
	}
	*result_r = c.result;
	st->purge_due = c.purge_due;
	return 0;
}

bool
bayes_store_seen_purge_due(const struct bayes_store *st)
{
	return st->purge_due;
}

int
bayes_store_walk(struct bayes_store *st,
		 int (*fn)(const char *, size_t, const struct bayes_counts *, void *),
		 void *ctx)
{
	DBC *cur = NULL;
	DBT k, v;
	int ret;

	if (db_env_stale(st->env))
		return -1;
	db_env_busy_begin();
	ret = st->toks->cursor(st->toks, NULL, &cur, DB_READ_COMMITTED);
	if (ret != 0) {
		db_env_busy_end();
		log_warn("bayes: cursor failed: %s", db_strerror(ret));
		return -1;
	}
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	while ((ret = cur->get(cur, &k, &v, DB_NEXT)) == 0) {
		struct bayes_counts c;

		if (k.size > 0 && ((const char *)k.data)[0] == '\0')
			continue;
		if (v.size != sizeof(c))
			continue;
		memcpy(&c, v.data, sizeof(c));
		if (fn(k.data, k.size, &c, ctx) != 0) {
			ret = DB_NOTFOUND;
			break;
		}
	}
	(void)cur->close(cur);
	db_env_busy_end();
	if (ret != DB_NOTFOUND) {
		log_warn("bayes: reading the tokens failed: %s", db_strerror(ret));
		return -1;
	}
	return 0;
}

/* ---- expiry ---- */

struct expire_scan {
	uint32_t *atimes;
	size_t n, cap;
};

static int
expire_collect(const char *tok, size_t len, const struct bayes_counts *c, void *vctx)
{
	struct expire_scan *s = vctx;

	(void)tok;
	(void)len;
	if (s->n == s->cap) {
		s->cap = s->cap > 0 ? s->cap * 2 : 4096;
		s->atimes = xreallocarray(s->atimes, s->cap, sizeof(*s->atimes));
	}
	s->atimes[s->n++] = c->atime;
	return 0;
}

static int
expire_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Where a pass of expiry stands. */
struct expire_pos {
	long budget;		/* how many may still go */
	char last[BAYES_TOKEN_MAX + 1];	/* resume after this key */
	size_t last_len;
	bool done;
};

struct expire_ctx {
	struct bayes_store *st;
	uint32_t cutoff;	/* tokens older than this go */
	uint32_t cut_hapax;	/* and hapaxes at exactly cutoff */
	/* pos as of the last commit, and as the batch moves it: a batch
	 * that db_env_txn tries again (after a deadlock) starts from the
	 * first, as its deletions were rolled back */
	struct expire_pos from, pos;
	long removed;
	/* the number of tokens to keep: another process expiring at the
	 * same time counts down the same totals, so the two stop there
	 * together instead of each removing what it planned alone */
	uint32_t keep;
};

static int
expire_batch_fn(DB_TXN *txn, void *vctx)
{
	struct expire_ctx *c = vctx;
	DB *db = c->st->toks;
	struct bayes_totals tot;
	DBC *cur = NULL;
	DBT k, v;
	long n = 0;
	int ret, flag;

	c->pos = c->from;
	c->removed = 0;
	if ((ret = store_get_totals(db, txn, DB_RMW, &tot)) != 0 ||
	    (ret = store_bump_gen(db, txn)) != 0)
		return ret;
	if ((ret = db->cursor(db, txn, &cur, 0)) != 0)
		return ret;
	memset(&v, 0, sizeof(v));
	if (c->pos.last_len > 0) {
		store_dbt(&k, c->pos.last, c->pos.last_len);
		flag = DB_SET_RANGE;
	} else {
		memset(&k, 0, sizeof(k));
		flag = DB_FIRST;
	}
	for (;;) {
		struct bayes_counts cnt;

		ret = cur->get(cur, &k, &v, flag | DB_RMW);
		flag = DB_NEXT;
		if (ret == DB_NOTFOUND) {
			c->pos.done = true;
			ret = 0;
			break;
		}
		if (ret != 0)
			break;
		if (k.size > BAYES_TOKEN_MAX)
			continue;
		memcpy(c->pos.last, k.data, k.size);
		c->pos.last_len = k.size;
		if ((k.size > 0 && ((const char *)k.data)[0] == '\0') || v.size != sizeof(cnt))
			continue;
		memcpy(&cnt, v.data, sizeof(cnt));
		if (tot.ntokens <= c->keep) {
			c->pos.budget = 0;
			break;
		}
		if (c->pos.budget > 0 &&
		    (cnt.atime < c->cutoff ||
		     (cnt.atime == c->cutoff && cnt.spam + cnt.ham <= c->cut_hapax))) {
			if ((ret = cur->del(cur, 0)) != 0)
				break;
			c->pos.budget--;
			c->removed++;
			if (tot.ntokens > 0)
				tot.ntokens--;
		}
		if (++n >= BAYES_EXPIRE_BATCH * 4 || c->removed >= BAYES_EXPIRE_BATCH)
			break;
	}
	(void)cur->close(cur);
	if (ret != 0)
		return ret;
	tot.last_expire = (uint32_t)time(NULL);
	return store_put_totals(db, txn, &tot);
}

long
bayes_store_expire(struct bayes_store *st, uint32_t max_tokens)
{
	struct bayes_totals tot;
	struct expire_scan scan = { NULL, 0, 0 };
	struct expire_ctx c;
	size_t keep, drop;
	long total = 0;

	if (bayes_store_totals(st, &tot) < 0)
		return -1;
	if (tot.ntokens <= max_tokens)
		return 0;
	if (bayes_store_walk(st, expire_collect, &scan) < 0) {
		free(scan.atimes);
		return -1;
	}
	keep = (size_t)max_tokens * 3 / 4;
	if (scan.n <= keep) {
		free(scan.atimes);
		return 0;
	}
	drop = scan.n - keep;
	if (scan.n > 1)
		qsort(scan.atimes, scan.n, sizeof(*scan.atimes), expire_cmp);
	memset(&c, 0, sizeof(c));
	c.st = st;
	/* everything strictly older than the drop-th oldest, then as many
	 * as still allowed at that very time, rare tokens first */
	c.cutoff = scan.atimes[drop - 1];
	c.cut_hapax = 1;
	c.from.budget = (long)drop;
	c.keep = (uint32_t)keep;
	free(scan.atimes);
	for (int pass = 0; pass < 2 && c.from.budget > 0; pass++) {
		c.from.done = false;
		c.from.last_len = 0;
		while (!c.from.done && c.from.budget > 0) {
			int ret = db_env_txn(st->env, DB_TXN_WRITE_NOSYNC, expire_batch_fn, &c);

			if (ret != 0) {
				log_warn("bayes: expiry failed: %s", db_strerror(ret));
				return total > 0 ? total : -1;
			}
			c.from = c.pos;
			total += c.removed;
		}
		c.cut_hapax = UINT32_MAX;	/* second pass: any count */
	}
	return total;
}

/* ---- seen expiry ---- */

void
bayes_store_set_seen_ttl(struct bayes_store *st, uint32_t ttl)
{
	st->seen_ttl = ttl;
}

struct seen_purge_ctx {
	struct bayes_store *st;
	uint32_t now;
	size_t examined;
	long removed;
	bool pass_done;
	bool from_first;	/* the batch began at the first entry */
};

/* One batch: from the stored position on, up to SEEN_PURGE_BATCH entries;
 * the position moves in the same transaction as the deletions, so a
 * batch that db_env_txn retries (or a crash) starts again where the last
 * committed one stopped. */
static int
seen_purge_batch_fn(DB_TXN *txn, void *vctx)
{
	struct seen_purge_ctx *c = vctx;
	DB *db = c->st->seen;
	char pos[SEEN_POS_MAX], rec[SEEN_REC_LEN];
	size_t pos_len = 0;
	DBC *cur = NULL;
	DBT pk, k, v;
	int ret, flag;

	c->examined = 0;
	c->removed = 0;
	c->pass_done = false;
	c->from_first = false;
	store_dbt(&pk, seen_purge_pos, SEEN_POS_KEY_LEN);
	memset(&v, 0, sizeof(v));
	v.data = pos;
	v.ulen = sizeof(pos);
	v.flags = DB_DBT_USERMEM;
	ret = db->get(db, txn, &pk, &v, DB_RMW);
	if (ret == 0)
		pos_len = v.size;
	else if (ret != DB_NOTFOUND && ret != DB_BUFFER_SMALL)
		return ret;	/* DB_BUFFER_SMALL: a damaged position, start over */
	if ((ret = db->cursor(db, txn, &cur, 0)) != 0)
		return ret;
	memset(&v, 0, sizeof(v));
	if (pos_len > 0) {
		store_dbt(&k, pos, pos_len);
		flag = DB_SET_RANGE;
	} else {
		memset(&k, 0, sizeof(k));
		flag = DB_FIRST;
		c->from_first = true;
	}
	while (c->examined < SEEN_PURGE_BATCH) {
		uint32_t when;

		ret = cur->get(cur, &k, &v, flag | DB_RMW);
		flag = DB_NEXT;
		if (ret == DB_NOTFOUND) {
			c->pass_done = true;
			ret = 0;
			break;
		}
		if (ret != 0)
			break;
		pos_len = k.size < sizeof(pos) ? k.size : sizeof(pos);
		memcpy(pos, k.data, pos_len);
		if (k.size > 0 && ((const char *)k.data)[0] == '\0')
			continue;	/* the position itself */
		c->examined++;
		if (v.size == 1) {
			/* from before entries had a time: the ttl runs from now */
			seen_rec_make(rec, ((const char *)v.data)[0], c->now);
			store_dbt(&v, rec, SEEN_REC_LEN);
			ret = cur->put(cur, &k, &v, DB_CURRENT);
		} else if (v.size != SEEN_REC_LEN) {
			ret = cur->del(cur, 0);	/* damaged: as if never seen */
			c->removed++;
		} else {
			memcpy(&when, (const char *)v.data + 1, sizeof(when));
			/* A time after now is mostly a learn in another process
			 * since this purge read its clock, so it is new; only a
			 * whole ttl ahead (a clock set back) is it let go. */
			if (when > c->now ? when - c->now >= c->st->seen_ttl
					  : c->now - when >= c->st->seen_ttl) {
				ret = cur->del(cur, 0);
				c->removed++;
			}
		}
		memset(&v, 0, sizeof(v));
		if (ret != 0)
			break;
	}
	(void)cur->close(cur);
	if (ret != 0)
		return ret;
	if (c->pass_done)
		ret = db->del(db, txn, &pk, 0);
	else {
		store_dbt(&v, pos, pos_len);
		ret = db->put(db, txn, &pk, &v, 0);
	}
	return ret == DB_NOTFOUND ? 0 : ret;
}

long
bayes_store_purge_seen(struct bayes_store *st, time_t now, size_t max_examined)
{
	struct seen_purge_ctx c;
	size_t examined = 0;
	long removed = 0;
	bool whole_pass = false, wrapped = false;

	if (st->seen_ttl == 0 || now <= 0)
		return 0;
	memset(&c, 0, sizeof(c));
	c.st = st;
	c.now = now > (time_t)UINT32_MAX ? UINT32_MAX : (uint32_t)now;
	while (examined < max_examined) {
		int ret = db_env_txn(st->env, DB_TXN_WRITE_NOSYNC, seen_purge_batch_fn, &c);

		if (ret != 0) {
			log_warn("bayes: expiring seen messages failed: %s", db_strerror(ret));
			return removed > 0 ? removed : -1;
		}
		if (examined == 0 && c.from_first)
			whole_pass = true;
		else if (c.from_first)
			wrapped = true;	/* another purge ended the pass: round once */
		examined += c.examined;
		removed += c.removed;
		/* the end of the file: done if this purge began at the start,
		 * else round once more to where it began (entries looked at
		 * twice are harmless) */
		if (c.pass_done) {
			if (whole_pass || wrapped)
				break;
			wrapped = true;
		}
	}
	return removed;
}
