/* A set of strings (open addressing hash), for TLD lists, freemail domains
 * and the like.  Keys are copied; lookups are exact (callers lowercase). */
#ifndef LMTPD_STRSET_H
#define LMTPD_STRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strset;

/* FNV-1a of p[0..n): the hash of every string table in scoring/ (inline:
 * the Bayes tokenizer and cache call it per token). */
static inline uint32_t
str_hash(const char *p, size_t n)
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
