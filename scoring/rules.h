/* SpamAssassin-syntax rule sets: loading (.cf files, conditionals,
 * include, ReplaceTags), compiling (PCRE2 with JIT, a Vectorscan prefilter
 * in front of the body/rawbody/full/uri patterns) and matching every rule
 * once per message.  Totalling per recipient is in score.h.
 *
 * A ruleset is built once in the master and only read afterwards, so the
 * workers share it copy-on-write.  Matching needs per-process scratch space
 * (rules_scratch), made after fork. */
#ifndef LMTPD_RULES_H
#define LMTPD_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include "compat.h"
#include "sa_settings.h"

struct msgview;
struct ruleset;
struct rules_scratch;

/* A problem found while loading: "file:line: message". */
struct rules_diag {
	char *file;
	unsigned int line;
	bool error;		/* false: a skipped rule or an ignored line */
	bool logged;		/* not an error, but the daemon logs it too */
	char *message;
};

struct rules_load_result {
	struct rules_diag *diags;
	size_t diag_count;
	unsigned int rules_loaded;	/* rules that will run */
	unsigned int rules_skipped;	/* eval/net/uncompilable rules */
	unsigned int errors;
	/* patterns of the rules that run, and how many of them PCRE2's JIT
	 * refused (all, where no memory may be made executable): those run
	 * in the interpreter, about half as fast */
	unsigned int patterns, patterns_not_jit;
};

/* Loads every *.cf of each folder in dirs (in that order, name order within
 * a folder).  A missing folder is a diagnostic, not an error.  extra_files
 * (may be NULL) are read after the folders, as SpamAssassin reads
 * local.cf-style files.  Returns NULL only when nothing could be set up at
 * all; individual bad lines or rules are diagnostics in result. */
struct ruleset *rules_load(const char *const *dirs, size_t dir_count,
			   struct rules_load_result *result);
void rules_load_result_free(struct rules_load_result *result);
void rules_free(struct ruleset **rs);

const struct sa_settings *rules_settings(const struct ruleset *rs);
double rules_required_score(const struct ruleset *rs);
bool rules_use_bayes(const struct ruleset *rs);
size_t rules_count(const struct ruleset *rs);
const char *rules_name(const struct ruleset *rs, size_t index);
const char *rules_describe(const struct ruleset *rs, size_t index);
/* "header", "body", ... "meta", with "eval:" in front for eval rules;
 * and why a defined rule does not run ("" when it runs). */
const char *rules_kind(const struct ruleset *rs, size_t index, char *buf, size_t size);
const char *rules_skip_reason(const struct ruleset *rs, size_t index);
bool rules_defined(const struct ruleset *rs, size_t index);
/* Whether a hit of the rule counts in score set `set` (0..3), as
 * SpamAssassin runs it: __ sub-rules always, the others unless the set
 * scores them 0 (site scores; users' prefs may change that per user). */
bool rules_counts_in_set(const struct ruleset *rs, size_t index, int set);
/* Index of a rule by name, or -1. */
long rules_find(const struct ruleset *rs, const char *name);

/* Per-process matching state (PCRE2 match data, Vectorscan scratch). */
struct rules_scratch *rules_scratch_new(const struct ruleset *rs);
void rules_scratch_free(struct rules_scratch **scratch);

/* Hit counts of the non-meta rules for one message: hits[i] is the number
 * of times rule i hit (0 or 1 unless tflags multiple).  Metas are left to
 * score.c because they depend on each user's scores. */
struct rules_log {
	size_t rule;
	char *msg;
};

struct rules_hits {
	unsigned int *hits;
	size_t count;
	bool time_limit_exceeded;
	/* rules_match's backstop, kept for the passes after it (a user's
	 * rules, rules a user scores that the site does not run) */
	bool has_deadline;
	struct timespec deadline;
	/* What eval rules said about their hits (PerMsgStatus::test_log,
	 * e.g. the freemail address), shown under the rule in the report. */
	struct rules_log *logs;
	size_t log_count;
	/* rules_match_site_zero: which of those rules this message has been
	 * matched against (NULL until one was) */
	unsigned char *site_zero_done;
	/* The sub-rules left for a meta to ask for (rules_hit_resolve);
	 * NULL when none are. */
	struct rules_lazy *lazy;
};

/* Matches every rule against mv.  Bounded: PCRE2 match/heap limits per
 * match, and a wall-clock backstop (time_limit seconds, 0 = none) after
 * which the remaining rules are skipped and time_limit_exceeded is set. */
void rules_match(const struct ruleset *rs, struct rules_scratch *scratch,
		 struct msgview *mv, double time_limit, struct rules_hits *out);
void rules_hits_free(struct rules_hits *hits);

/* Whether rule i is a sub-rule rules_match left unmatched until a meta
 * asks for it. */
bool rules_hit_pending(const struct rules_hits *hits, size_t i);
/* About what matching pending rule i would cost: the bytes it would
 * read times its match_weight (0 once it is not pending). */
size_t rules_hit_cost(const struct ruleset *rs, const struct rules_hits *hits, size_t i);
/* The largest value rule i can give a meta: 1, maxhits for a multiple
 * rule, unbounded for a meta. */
double rules_value_most(const struct ruleset *rs, size_t i);
/* How likely lazy rule or meta i is to be true when a meta asks for it,
 * from how often it was in this process (rules_hit_note) since load.
 * Only orders what metas read: no answer depends on it. */
double rules_hit_chance(const struct ruleset *rs, size_t i);
void rules_hit_note(const struct ruleset *rs, size_t i, bool hit);
/* Matches pending rule i now (once: the count is kept in hits, which is
 * why hits is const here only as far as its callers see) and returns its
 * count; a rule that is not pending returns its count.  The message's
 * views (rules_match's mv) must still be there. */
unsigned int rules_hit_resolve(const struct ruleset *rs, const struct rules_hits *hits,
			       size_t i);
/* Whether the backstop cut this message's matching short, in rules_match
 * or since (a pending rule asked for past it counts as not hit). */
bool rules_hits_timed_out(const struct rules_hits *hits);
/* Every pending rule, for what reads the hits of all rules. */
void rules_resolve_all(const struct ruleset *rs, const struct rules_hits *hits);

/* Whether user prefs that score the rule make it run although the site
 * scored it 0 (see rules_match_site_zero). */
bool rules_site_zero(const struct ruleset *rs, size_t index);
/* Matches those of rules[0..count) that the site scored 0 and prefs may
 * enable against the message, each once per message (hits remembers
 * which), adding their counts to hits.  The rest of the rule set is
 * matched by rules_match; this is for recipients whose prefs score such a
 * rule (header, body, rawbody, full and uri rules; metas need no
 * matching, and eval and mimeheader rules stay off, as under spamd). */
void rules_match_site_zero(const struct ruleset *rs, struct rules_scratch *scratch,
			   struct msgview *mv, const size_t *rules, size_t count,
			   struct rules_hits *hits);
/* Whether rules_match's backstop has passed (it sets time_limit_exceeded
 * when so); checked before each rule of the passes after rules_match. */
bool rules_hits_past_deadline(struct rules_hits *hits);

#endif
