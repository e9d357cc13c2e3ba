/* A set of strings (open addressing hash), for TLD lists, freemail domains
 * and the like.  Keys are copied; lookups are exact (callers lowercase). */
#ifndef LMTPD_STRSET_H
#define LMTPD_STRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strset;

/* The hash of every string table in scoring/: SipHash (libsodium's
 * crypto_shorthash) under a key drawn at random once per process, so a
 * message can not choose header names, tokens or URIs that all land in
 * one slot (with FNV-1a, 20000 header names found in seconds cost 2 s
 * more per message, and 100000 a minute).  Children of a fork share the
 * key, and tables built before it. */
uint32_t str_hash(const char *p, size_t n);
/* Draws the key now (str_hash does on first use): msgview_global_init
 * calls it, so a daemon's master has its key before it forks, and a
 * failure stops it at start rather than in a worker. */
void str_hash_init(void);

/* FNV-1a of p[0..n), unkeyed and inline: for the Bayes tokenizer's and
 * store's tables only, where it is called per token (SipHash made
 * classifying 10% slower) and a crowded slot costs little: the message's
 * token set has a fixed size and at most BAYES_TOKENS_MAX entries, the
 * memos are direct-mapped, and the store's keys are the trained
 * database's, not the message's. */
static inline uint32_t
str_hash_fnv(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

struct strset *strset_new(void);
void strset_free(struct strset **set);
/* Returns true if the key was new. */
bool strset_add(struct strset *set, const char *key, size_t len);
bool strset_contains(const struct strset *set, const char *key, size_t len);
size_t strset_count(const struct strset *set);

#endif
