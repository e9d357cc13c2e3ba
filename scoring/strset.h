/* A set of strings (open addressing hash), for TLD lists, freemail domains
 * and the like.  Keys are copied; lookups are exact (callers lowercase). */
#ifndef LMTPD_STRSET_H
#define LMTPD_STRSET_H

#include <stdbool.h>
#include <stddef.h>

struct strset;

struct strset *strset_new(void);
void strset_free(struct strset **set);
/* Returns true if the key was new. */
bool strset_add(struct strset *set, const char *key, size_t len);
bool strset_contains(const struct strset *set, const char *key, size_t len);
size_t strset_count(const struct strset *set);

#endif
