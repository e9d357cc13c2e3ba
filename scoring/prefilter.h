/* Required-literal prefilter for regex rules: see prefilter.c.  Internal to
 * scoring/. */
#ifndef LMTPD_PREFILTER_H
#define LMTPD_PREFILTER_H

#include <hs/hs.h>
#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "byteset.h"
#include "strlist.h"

/* Appends to out a set of literals (lowercased) one of which every match
 * of pattern (Perl syntax, no delimiters) contains.  Returns false, adding
 * nothing, when no useful set can be established. */
bool prefilter_literals(const char *pattern, size_t len, bool extended,
			struct strlist *out);

/* Sets *out to a byte-set requirement every match of pattern (as
 * prefilter_literals takes it) meets: each match contains a byte of each
 * set.  Returns false, with out->n == 0, when nothing can be required. */
bool prefilter_bytes(const char *pattern, size_t len, bool extended,
		     struct byteset_req *out);
/* Both in one parse: returns and appends what prefilter_literals does,
 * and sets *bytes_r as prefilter_bytes does. */
bool prefilter_analyse(const char *pattern, size_t len, bool extended,
		       struct strlist *out, struct byteset_req *bytes_r);

/* Appends to out a pattern matching every string that value (a
 * replace_tag value: one "(?:...)" group, Perl syntax, no /x) matches, and
 * more, with its multi-byte alternatives merged by length (see
 * prefilter.c).  Returns false, appending nothing, when value has another
 * shape, a construct the approximation does not know (captures,
 * assertions, backreferences, possessive or unbounded repeats), or when
 * merging would leave as many alternatives. */
bool prefilter_approximate(const char *value, size_t len, struct buf *out);

/* The offset in pattern (Perl syntax, no delimiters, no /x) after its
 * leading items that may match nothing (assertions, optional items, groups
 * with an empty alternative), when what follows starts with a literal or a
 * small class: pattern + offset matches wherever pattern does, and PCRE2
 * can skip to its first byte.  0 when there is no such offset, when the
 * pattern is prefilter_gate_unsafe, or has a top-level '|'. */
size_t prefilter_trim_prefix(const char *pattern, size_t len);
/* Whether pattern has what a gate made by dropping or widening parts of
 * it can not follow: syntax that changes how the rest reads (\Q...\E,
 * (?#...), an inline x option) or that ties one part to another
 * (backreferences, \G, conditions, branch resets, recursion and
 * subroutine calls, verbs). */
bool prefilter_gate_unsafe(const char *pattern, size_t len);

/* For a pattern that is one group repeated at least n >= 2 times,
 * "(?:...){n}", "(...){n,m}": returns n and appends the group's required
 * literals to out, so that a text where fewer than n disjoint occurrences
 * of them are found has no match (each repeat holds one, and repeats do
 * not overlap).  Otherwise 1, appending nothing. */
unsigned int prefilter_repeat_min(const char *pattern, size_t len, bool extended,
				  struct strlist *out);

struct prefilter_db;

/* literals->v[i] is required by rule owner[i] (i < count).  Returns NULL
 * with Vectorscan's reason in error (error_size bytes) when it refuses to
 * compile.  every_match: report each occurrence of a literal
 * (prefilter_scan_at), not only the first.  Builds may run side by side. */
struct prefilter_db *prefilter_db_build(const struct strlist *literals,
					const size_t *owner, size_t count,
					bool every_match, char *error, size_t error_size);
void prefilter_db_free(struct prefilter_db **pf);
/* Grows *scratch (may start NULL) to serve pf; -1 on failure. */
int prefilter_alloc_scratch(const struct prefilter_db *pf, hs_scratch_t **scratch);
/* Calls on_rule(rule) for every rule with a literal present in text (a
 * rule may be named more than once); every rule of pf when the scan
 * fails. */
void prefilter_scan(const struct prefilter_db *pf, hs_scratch_t *scratch,
		    const char *text, size_t len,
		    void (*on_rule)(size_t rule, void *ctx), void *ctx);
/* Calls on_rule(rule) for every rule of pf (a rule may be named more
 * than once). */
void prefilter_name_all(const struct prefilter_db *pf,
			void (*on_rule)(size_t rule, void *ctx), void *ctx);
/* Occurrences of a rule's literals in one text, kept between calls so
 * that their storage is reused (zeroed before the first call). */
struct prefilter_spans {
	struct prefilter_span { size_t start, end; } *v;
	size_t n, cap;
};
void prefilter_spans_free(struct prefilter_spans *spans);

/* For a rule with a repeat_min (pf built with every_match): false when
 * text does not hold need pairwise disjoint occurrences of the literals
 * pf has for rule, so that no match of need repeats fits.  Otherwise true,
 * with *start_max_r the latest offset where the first of need disjoint
 * occurrences can start: every match of the rule starts at or before it
 * (SIZE_MAX when it can not tell: a scan that failed, too many
 * occurrences). */
bool prefilter_repeat_fits(const struct prefilter_db *pf, hs_scratch_t *scratch,
			   struct prefilter_spans *spans, const char *text, size_t len,
			   size_t rule, unsigned int need, size_t *start_max_r);
/* Calls on_hit(rule, start, end) for every occurrence, at [start, end) of
 * text, of a literal rule requires (pf built with every_match).  Returns
 * false when the scan failed part of the way: the hits are then not all
 * there (prefilter_name_all). */
bool prefilter_scan_at(const struct prefilter_db *pf, hs_scratch_t *scratch,
		       const char *text, size_t len,
		       void (*on_hit)(size_t rule, size_t start, size_t end, void *ctx),
		       void *ctx);

#endif
