/* strset: open-addressing hash set of strings (keyed SipHash), grown at
 * 50% load. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <sodium.h>

#include "log.h"
#include "strset.h"
#include "xalloc.h"

static unsigned char str_hash_key[crypto_shorthash_KEYBYTES];
static pthread_once_t str_hash_once = PTHREAD_ONCE_INIT;

static void
str_hash_key_init(void)
{
	/* sodium_init only fails without a source of randomness, where no
	 * key can be had: going on with a fixed one would be the flaw this
	 * hash exists to avoid. */
	if (sodium_init() < 0)
		log_panic("libsodium failed to start (no randomness?)");
	randombytes_buf(str_hash_key, sizeof(str_hash_key));
}

void
str_hash_init(void)
{
	(void)pthread_once(&str_hash_once, str_hash_key_init);
}

uint32_t
str_hash(const char *p, size_t n)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint32_t h;

	str_hash_init();
	crypto_shorthash(out, (const unsigned char *)p, n, str_hash_key);
	memcpy(&h, out, sizeof(h));
	return h;
}

struct strset_slot {
	char *key;
	size_t len;
	uint32_t hash;
};

struct strset {
	struct strset_slot *slots;
	size_t cap, count;
};


struct strset *
strset_new(void)
{
	struct strset *set = xcalloc(1, sizeof(*set));

	set->cap = 64;
	set->slots = xcalloc(set->cap, sizeof(*set->slots));
	return set;
}

void
strset_free(struct strset **setp)
{
	struct strset *set = *setp;

	if (set == NULL)
		return;
	for (size_t i = 0; i < set->cap; i++)
		free(set->slots[i].key);
	free(set->slots);
	free(set);
	*setp = NULL;
}

static struct strset_slot *
strset_find(const struct strset *set, const char *key, size_t len, uint32_t h)
{
	size_t i = h & (set->cap - 1);

	for (;;) {
		struct strset_slot *s = &set->slots[i];

		if (s->key == NULL ||
		    (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
			return s;
		i = (i + 1) & (set->cap - 1);
	}
}

static void
strset_grow(struct strset *set)
{
	struct strset_slot *old = set->slots;
	size_t old_cap = set->cap;

	set->cap *= 2;
	set->slots = xcalloc(set->cap, sizeof(*set->slots));
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].key != NULL)
			*strset_find(set, old[i].key, old[i].len, old[i].hash) = old[i];
	free(old);
}

bool
strset_add(struct strset *set, const char *key, size_t len)
{
	uint32_t h = str_hash(key, len);
	struct strset_slot *s;

	if ((set->count + 1) * 2 > set->cap)
		strset_grow(set);
	s = strset_find(set, key, len, h);
	if (s->key != NULL)
		return false;
	s->key = xstrndup(key, len);
	s->len = len;
	s->hash = h;
	set->count++;
	return true;
}

bool
strset_contains(const struct strset *set, const char *key, size_t len)
{
	return strset_find(set, key, len, str_hash(key, len))->key != NULL;
}

size_t
strset_count(const struct strset *set)
{
	return set->count;
}
