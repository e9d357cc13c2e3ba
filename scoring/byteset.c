/* byteset: 256-bit sets of bytes, the PCRE2 character classes they stand
 * for, and requirements made of several of them (every match of a pattern
 * contains a byte of each set).
 *
 * The class tables are those of PCRE2 without UTF or UCP and with its
 * built-in character tables, which is how rules.c compiles every pattern;
 * tests/unit/test_prefilter.c checks each one against the library.  A
 * requirement may always be weakened (a set dropped or enlarged) without
 * harm: it then lets more lines through to PCRE2, never fewer. */
#include "config.h"

#include <string.h>

#include "byteset.h"

void
byteset_add_range(struct byteset *s, unsigned char lo, unsigned char hi)
{
	for (unsigned int c = lo; c <= hi; c++)
		byteset_add(s, (unsigned char)c);
}

void
byteset_invert(struct byteset *s)
{
	for (int i = 0; i < 4; i++)
		s->w[i] = ~s->w[i];
}

void
byteset_fold(struct byteset *s)
{
	/* A-Z are bits 1..26 of the second word, a-z bits 33..58. */
	const uint64_t upper = 0x0000000007fffffeULL;
	uint64_t w = s->w[1];

	s->w[1] = w | ((w & upper) << 32) | ((w >> 32) & upper);
}

bool
byteset_is_empty(const struct byteset *s)
{
	return (s->w[0] | s->w[1] | s->w[2] | s->w[3]) == 0;
}

static bool
byteset_is_full(const struct byteset *s)
{
	return (s->w[0] & s->w[1] & s->w[2] & s->w[3]) == ~(uint64_t)0;
}

static bool
byteset_subset(const struct byteset *a, const struct byteset *b)
{
	for (int i = 0; i < 4; i++)
		if ((a->w[i] & ~b->w[i]) != 0)
			return false;
	return true;
}

static void
byteset_word(struct byteset *s)
{
	byteset_add_range(s, '0', '9');
	byteset_add_range(s, 'A', 'Z');
	byteset_add_range(s, 'a', 'z');
	byteset_add(s, '_');
}

static void
byteset_space(struct byteset *s)
{
	byteset_add_range(s, '\t', '\r');	/* \t \n \v \f \r */
	byteset_add(s, ' ');
}

bool
byteset_escape_class(char letter, struct byteset *out)
{
	memset(out, 0, sizeof(*out));
	switch (letter) {
	case 'd': case 'D':
		byteset_add_range(out, '0', '9');
		break;
	case 'w': case 'W':
		byteset_word(out);
		break;
	case 's': case 'S':
		byteset_space(out);
		break;
	case 'h': case 'H':
		byteset_add(out, '\t');
		byteset_add(out, ' ');
		byteset_add(out, 0xa0);
		break;
	case 'v': case 'V':
		byteset_add_range(out, '\n', '\r');
		byteset_add(out, 0x85);
		break;
	default:
		return false;
	}
	if (letter >= 'A' && letter <= 'Z')
		byteset_invert(out);
	return true;
}

bool
byteset_posix_class(const char *name, size_t len, struct byteset *out)
{
	static const char *const names[] = {
		"alpha", "digit", "alnum", "space", "blank", "cntrl", "graph",
		"print", "punct", "lower", "upper", "word", "xdigit", "ascii",
	};
	size_t k;

	memset(out, 0, sizeof(*out));
	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (strlen(names[k]) == len && memcmp(names[k], name, len) == 0)
			break;
	switch (k) {
	case 0:
		byteset_add_range(out, 'A', 'Z');
		byteset_add_range(out, 'a', 'z');
		break;
	case 1:
		byteset_add_range(out, '0', '9');
		break;
	case 2:
		byteset_add_range(out, '0', '9');
		byteset_add_range(out, 'A', 'Z');
		byteset_add_range(out, 'a', 'z');
		break;
	case 3:
		byteset_space(out);
		break;
	case 4:
		byteset_add(out, '\t');
		byteset_add(out, ' ');
		break;
	case 5:
		byteset_add_range(out, 0, 0x1f);
		byteset_add(out, 0x7f);
		break;
	case 6:
		byteset_add_range(out, 0x21, 0x7e);
		break;
	case 7:
		byteset_add_range(out, 0x20, 0x7e);
		break;
	case 8:
		byteset_add_range(out, 0x21, 0x2f);
		byteset_add_range(out, 0x3a, 0x40);
		byteset_add_range(out, 0x5b, 0x60);
		byteset_add_range(out, 0x7b, 0x7e);
		break;
	case 9:
		byteset_add_range(out, 'a', 'z');
		break;
	case 10:
		byteset_add_range(out, 'A', 'Z');
		break;
	case 11:
		byteset_word(out);
		break;
	case 12:
		byteset_add_range(out, '0', '9');
		byteset_add_range(out, 'A', 'F');
		byteset_add_range(out, 'a', 'f');
		break;
	case 13:
		byteset_add_range(out, 0, 0x7f);
		break;
	default:
		return false;
	}
	return true;
}

/* A rough frequency of each byte in mail text, as a weight per class of
 * bytes: how often a set would let a line through.  Only the order
 * matters.  space 60; a-z 30; A-Z 0-9 . , - ' " \n 6; other printable,
 * \t \r and 8-bit bytes 2; other controls 1.  The masks cover the ASCII
 * half (two words); the classes partition it. */
static const struct {
	unsigned int weight;
	uint64_t w[2];
} byteset_weights[] = {
	{ 60, { 0x0000000100000000ULL, 0 } },
	{ 30, { 0, 0x07fffffe00000000ULL } },
	{ 6, { 0x03ff708400000400ULL, 0x0000000007fffffeULL } },
	{ 2, { 0xfc008f7a00002200ULL, 0x78000001f8000001ULL } },
	{ 1, { 0x00000000ffffd9ffULL, 0x8000000000000000ULL } },
};

/* Without -mpopcnt the builtin is a library call: this is faster. */
static inline unsigned int
byteset_popcount(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (unsigned int)((x * 0x0101010101010101ULL) >> 56);
}

static unsigned int
byteset_cost(const struct byteset *s)
{
	unsigned int cost = 2 * (byteset_popcount(s->w[2]) + byteset_popcount(s->w[3]));

	for (size_t k = 0; k < sizeof(byteset_weights) / sizeof(byteset_weights[0]); k++)
		cost += byteset_weights[k].weight *
			(byteset_popcount(s->w[0] & byteset_weights[k].w[0]) +
			 byteset_popcount(s->w[1] & byteset_weights[k].w[1]));
	return cost;
}

/* byteset_req_add with s's cost known. */
static void
byteset_req_insert(struct byteset_req *r, const struct byteset *s, unsigned int cost)
{
	unsigned int at, out = 0;

	if (byteset_is_empty(s) || byteset_is_full(s))
		return;
	for (unsigned int i = 0; i < r->n; i++)
		if (byteset_subset(&r->set[i], s))
			return;		/* already required, or more */
	for (unsigned int i = 0; i < r->n; i++)
		if (!byteset_subset(s, &r->set[i])) {
			r->set[out] = r->set[i];
			r->cost[out++] = r->cost[i];
		}
	r->n = out;
	for (at = 0; at < r->n && r->cost[at] <= cost; at++)
		;
	if (at == BYTESET_REQ_MAX)
		return;
	if (r->n == BYTESET_REQ_MAX)
		r->n--;
	memmove(&r->set[at + 1], &r->set[at], (r->n - at) * sizeof(r->set[0]));
	memmove(&r->cost[at + 1], &r->cost[at], (r->n - at) * sizeof(r->cost[0]));
	r->set[at] = *s;
	r->cost[at] = cost;
	r->n++;
}

void
byteset_req_add(struct byteset_req *r, const struct byteset *s)
{
	byteset_req_insert(r, s, byteset_cost(s));
}

void
byteset_req_merge(struct byteset_req *r, const struct byteset_req *more)
{
	for (unsigned int i = 0; i < more->n; i++)
		byteset_req_insert(r, &more->set[i], more->cost[i]);
}

void
byteset_req_either(struct byteset_req *out, const struct byteset_req *a,
		   const struct byteset_req *b)
{
	struct byteset best;
	unsigned int best_cost = ~0u;

	/* One set: the rarest union of a set of a with a set of b.  Keeping
	 * more (every such union holds) crowds a sequence's list with
	 * variants of its first alternation and selects less: on the
	 * training corpus 40% of rule-element pairs skipped instead of 44%. */
	if (a->n > 0 && b->n > 0)
		for (unsigned int i = 0; i < a->n; i++)
			for (unsigned int j = 0; j < b->n; j++) {
				struct byteset u;
				unsigned int cost;

				for (int w = 0; w < 4; w++)
					u.w[w] = a->set[i].w[w] | b->set[j].w[w];
				cost = byteset_cost(&u);
				if (cost < best_cost) {
					best = u;
					best_cost = cost;
				}
			}
	out->n = 0;
	if (best_cost != ~0u)
		byteset_req_insert(out, &best, best_cost);
}

void
byteset_of(const char *text, size_t len, struct byteset *out)
{
	unsigned char seen[256];
	const unsigned char *p = (const unsigned char *)text;

	memset(out, 0, sizeof(*out));
	if (len <= 64) {
		for (size_t i = 0; i < len; i++)
			byteset_add(out, p[i]);
		return;
	}
	/* Byte stores, then one packing pass: cheaper than setting bits in
	 * a loop-carried word for any but short texts. */
	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < len; i++)
		seen[p[i]] = 1;
	for (unsigned int c = 0; c < 256; c++)
		out->w[c >> 6] |= (uint64_t)seen[c] << (c & 63);
}
