/* Sets of bytes (256 bits) and conjunctions of them, for the byte-set gate
 * of regex rules without required literals (see prefilter.c).  Internal to
 * scoring/. */
#ifndef LMTPD_BYTESET_H
#define LMTPD_BYTESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct byteset {
	uint64_t w[4];
};

/* Sets kept per requirement: more select little more and cost a test per
 * rule and line each. */
#define BYTESET_REQ_MAX 8

/* A requirement: every match contains at least one byte of each set.
 * n == 0 requires nothing.  Sets are kept rarest first (by a rough byte
 * frequency of mail text), so a line usually fails on the first. */
struct byteset_req {
	unsigned int n;
	struct byteset set[BYTESET_REQ_MAX];
	unsigned int cost[BYTESET_REQ_MAX];
};

static inline void
byteset_add(struct byteset *s, unsigned char c)
{
	s->w[c >> 6] |= (uint64_t)1 << (c & 63);
}

static inline bool
byteset_has(const struct byteset *s, unsigned char c)
{
	return (s->w[c >> 6] >> (c & 63)) & 1;
}

void byteset_add_range(struct byteset *s, unsigned char lo, unsigned char hi);
void byteset_invert(struct byteset *s);
/* Closes s under ASCII case: what PCRE2 without UTF/UCP treats as the
 * other case of a byte (its built-in tables, "C" locale).  Applied to
 * every set, case-sensitive or not, which only makes sets larger. */
void byteset_fold(struct byteset *s);
bool byteset_is_empty(const struct byteset *s);

/* The bytes PCRE2 (8-bit, no UTF/UCP, built-in
 * tables) matches with the escape \d \D \w \W \s \S \h \H \v \V (letter is
 * the character after the backslash).  Returns false for any other
 * letter. */
bool byteset_escape_class(char letter, struct byteset *out);
/* The bytes of POSIX class [:name:] (name without colons, no '^').
 * Returns false for an unknown name. */
bool byteset_posix_class(const char *name, size_t len, struct byteset *out);

/* Adds the requirement "a byte of s": drops sets it makes redundant (a
 * superset of another set says nothing more), keeps the rarest
 * BYTESET_REQ_MAX.  Empty or full sets are ignored. */
void byteset_req_add(struct byteset_req *r, const struct byteset *s);
/* r and more (a sequence: both hold). */
void byteset_req_merge(struct byteset_req *r, const struct byteset_req *more);
/* a or b (an alternation): the rarest union of a set of a with a set of
 * b; nothing when either requires nothing.  out may be a or b. */
void byteset_req_either(struct byteset_req *out, const struct byteset_req *a,
			const struct byteset_req *b);

/* The bytes present in text. */
void byteset_of(const char *text, size_t len, struct byteset *out);

/* Whether a text whose bytes are present can hold a match. */
static inline bool
byteset_req_open(const struct byteset_req *r, const struct byteset *present)
{
	for (unsigned int i = 0; i < r->n; i++) {
		const uint64_t *a = r->set[i].w, *b = present->w;

		if (((a[0] & b[0]) | (a[1] & b[1]) | (a[2] & b[2]) | (a[3] & b[3])) == 0)
			return false;
	}
	return true;
}

#endif
