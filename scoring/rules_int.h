/* Internals shared by the rule loader (rules_parse.c), the compiler and
 * matcher (rules.c), meta expressions (meta.c), eval functions (eval.c) and
 * totalling (score.c).  Not for use outside scoring/. */
#ifndef LMTPD_RULES_INT_H
#define LMTPD_RULES_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>

#include "rules.h"
#include "sa_settings.h"
#include "strlist.h"

enum rule_type {
	RULE_HEADER,
	RULE_MIMEHEADER,
	RULE_BODY,
	RULE_RAWBODY,
	RULE_FULL,
	RULE_URI,
	RULE_META,
	RULE_TYPE_COUNT
};

enum rule_tflag {
	TFLAG_MULTIPLE = 1 << 0,
	TFLAG_NET = 1 << 1,
	TFLAG_NICE = 1 << 2,
	TFLAG_LEARN = 1 << 3,
	TFLAG_USERCONF = 1 << 4,
	TFLAG_NOAUTOLEARN = 1 << 5,
	TFLAG_AUTOLEARN_BODY = 1 << 6,
	TFLAG_NOSUBJECT = 1 << 7,	/* body rule: skip the body's first line */
	TFLAG_NOLOG = 1 << 8,		/* test_log lines shown as *REDACTED* */
};

/* Why a defined rule does not run. */
enum rule_skip {
	RULE_RUNS,
	/* Scored 0 by the site: compiled, but matched only on the messages of
	 * recipients whose prefs score it (rules_match_site_zero), as spamd
	 * runs a header, body, rawbody, full, uri or meta rule for a user
	 * whose user_prefs give it a score. */
	RULE_SITE_ZERO,
	RULE_SKIP_SCORE_ZERO,	/* scored 0, and prefs cannot enable it */
	RULE_SKIP_NET,		/* tflags net: network tests are off */
	RULE_SKIP_EVAL,		/* eval function lmtpd does not implement */
	RULE_SKIP_BROKEN,	/* pattern did not compile */
	RULE_SKIP_META,		/* unsolvable meta dependencies */
	RULE_SKIP_CAPTURE,	/* %{TAG} capture templates */
};

struct meta_prog;
struct prefilter_db;
struct byteset_req;
struct eval_call;

/* An eval rule's function: returns the hit value (0 = no hit). */
struct eval_ctx;
typedef unsigned int (*eval_fn)(struct eval_ctx *ctx, const struct eval_call *call);

struct eval_call {
	eval_fn fn;
	const char *name;	/* the function name */
	char **args;		/* unquoted arguments */
	double *nums;		/* strtod() of each, read once at load */
	/* args[i] as a pattern, compiled on first use (eval_arg_regex) by
	 * whatever process runs the rule, and whether that was tried (a
	 * pattern that does not compile is not tried again) */
	pcre2_code **arg_re;
	bool *arg_re_tried;
	size_t arg_count;
	enum rule_type type;	/* header/body/rawbody/full/uri */
	/* runs per recipient (eval_is_per_user), looked up once: by name it
	 * took two hashes per eval rule and message */
	bool per_user;
	/* reads ok_locales, which a user's preferences may set: run again
	 * for such a user (the faraway-charset tests, tflags userconf) */
	bool reads_locales;
};

/* The largest score or required_score, either sign, in rule files and
 * user preferences: far beyond any real one (SpamAssassin's own are
 * within 2015), small enough that a total of many stays finite and
 * prints in a few bytes. */
#define RULES_SCORE_ABS_MAX 1e6

/* More pieces than this is no longer a pattern worth running
 * (rules_split.c). */
#define RULES_PIECES_MAX 64
/* Start bytes PCRE2 may take for a rule without a gate trying to do
 * better (rules_build_gate): a letter and its look-alikes, both cases. */
#define RULES_GATE_STARTS_MAX 48
/* Group nesting a pattern may have for its tags to be approximated. */
#define RULES_GATE_DEPTH_MAX 64

/* A compiled regex: one piece, or several when the pattern was too large
 * for the 8-bit library and was split (rules_split.c). */
struct rule_regex {
	pcre2_code **pieces;
	size_t count;		/* 0: nothing compiled */
	/* The pattern with its ReplaceTags approximated (rule->gate_pattern),
	 * split as the pattern may be: where no piece of it matches, the
	 * pieces above can not; gate_count 0: none. */
	pcre2_code **gate;
	size_t gate_count;
	/* too large as written: compiled with its repeated group called
	 * (rules_split.c) */
	bool repeat_calls;
	/* split for a counted rule (multiple), and a piece has \G: where a
	 * piece matches depends on the start offset, so its matches can not
	 * be kept (rules_piece_next); false for rules that are not counted */
	bool start_dependent;
	/* compiled with PCRE2_USE_OFFSET_LIMIT: a search can be told where
	 * a match starts at the latest (rule->repeat_min) */
	bool offset_limit;
};

/* What rules_pieces_match learnt of one piece while counting the matches
 * in one subject (tflags multiple): the piece's leftmost match from an
 * earlier start, which is still its leftmost from any later start up to
 * that match (matching at a position does not depend on where the search
 * began, unless the pattern has \G), or that it matches nowhere from
 * there on (PCRE2_ERROR_NOMATCH; a limit error is not kept). */
struct rules_piece_next {
	enum { PIECE_UNKNOWN = 0, PIECE_MATCH, PIECE_NONE } state;
	size_t start, end;
};

struct rule {
	char *name;
	enum rule_type type;
	bool defined;		/* a test line was seen (not just a score) */
	bool subrule;		/* "__" prefix: not scored, not listed */
	enum rule_skip skip;
	unsigned int tflags;
	unsigned int maxhits;	/* 0 = unlimited */
	int priority;
	double score[4];
	bool score_set;
	char *describe;
	const char *file;	/* definition site, for diagnostics */
	unsigned int line;

	/* header and mimeheader rules */
	char *header;		/* the get() request, "Subject:raw" */
	int header_slot;	/* index into ruleset->header_requests */
	bool neg;		/* !~ */
	bool exists;		/* exists:Header */
	char *if_unset;		/* NULL = undef (matches as "") */

	/* regex rules */
	char *pattern;		/* as written, with delimiters and flags */
	/* pattern with its tags approximated (rules_apply_replace_tags), or
	 * NULL */
	char *gate_pattern;
	struct rule_regex re;

	/* header, body, rawbody, full and uri rules without required
	 * literals (and header rules with [if-unset: ...]): 1 + their index
	 * in the view's always list (0: behind the prefilter) */
	size_t always_slot1;
	/* A pattern that is one group repeated n >= 2 times: an element with
	 * fewer than n disjoint occurrences of the group's literals can not
	 * match, and a match starts no later than the first of the last n
	 * (the view's count_db finds them: prefilter_repeat_fits); 0 or 1: no
	 * such bound. */
	unsigned int repeat_min;
	/* A __ sub-rule, which only metas read: matched when a meta asks for
	 * its value (rules_hit_resolve), not with the rest of the message's
	 * rules; most metas over the costly sub-rules are decided by a
	 * cheaper operand first (rules_mark_lazy). */
	bool lazy;
	/* A site's __ meta evaluated only when another meta reads it; set
	 * when whatever it reads is at most RULES_LAZY_META_DEPTH such metas
	 * deep, which bounds the recursion (rules_mark_lazy). */
	bool lazy_meta;
	/* A lazy rule's cost per byte read, roughly: larger compiled
	 * patterns try more at each position (__MY_MALWARE, 1.2 MB, costs
	 * about forty times what most do).  Only orders the reads. */
	size_t match_weight;

	/* eval rules */
	struct eval_call *eval;

	/* meta rules */
	char *meta_src;
	struct meta_prog *meta;
};

struct header_request {
	char *request;
	size_t *rules;		/* indices of the rules that read it */
	size_t rule_count;
};

/* Regex rules of one view behind one required-literal prefilter. */
struct prefilter {
	struct prefilter_db *db;	/* NULL if no rule had literals */
	struct prefilter_db *count_db;	/* the literals of rules with repeat_min */
	size_t *always;		/* rules without usable literals: always run */
	size_t always_count;
	size_t filtered_count;	/* rules behind db */
	size_t counted_count;	/* of them, with a repeat_min */
	/* gates[k]: bytes an element needs for always[k] to match (n == 0:
	 * none); gated_count of them have one. */
	struct byteset_req *gates;
	size_t gated_count;
};

/* welcomelist_from and friends: glob patterns, lowercased. */
struct addrlist_entry {
	char *pattern;
	char *rcvd_domain;	/* _rcvd variants: relay domain, else NULL */
};

struct addrlist {
	struct addrlist_entry *v;
	size_t n, cap;
};

enum addrlist_kind {
	ADDRLIST_WELCOME_FROM,
	ADDRLIST_BLOCK_FROM,
	ADDRLIST_WELCOME_FROM_RCVD,
	ADDRLIST_DEF_WELCOME_FROM_RCVD,
	ADDRLIST_WELCOME_TO,
	ADDRLIST_MORE_SPAM_TO,
	ADDRLIST_ALL_SPAM_TO,
	ADDRLIST_BLOCK_TO,
	ADDRLIST_WELCOME_BOUNCE_RELAYS,
	ADDRLIST_WELCOME_SUBJECT,
	ADDRLIST_BLOCK_SUBJECT,
	ADDRLIST_KIND_COUNT
};

struct ruleset {
	struct rule *rules;
	size_t count;
	struct strmap *by_name;		/* name -> index + 1 */

	struct sa_settings settings;
	double required_score;
	bool use_bayes;
	/* report_wrap_width: X-Spam-Report's descriptions wrap here (75) */
	unsigned int report_wrap_width;
	/* bayes_* lines as key, value pairs, read by bayes.c */
	struct strlist bayes_settings;
	struct addrlist lists[ADDRLIST_KIND_COUNT];

	struct header_request *header_requests;
	size_t header_request_count;
	size_t *mimeheader_rules;
	size_t mimeheader_count;
	size_t *eval_rules;
	size_t eval_count;
	struct prefilter views[RULE_TYPE_COUNT];	/* body, rawbody, full, uri */
	size_t *meta_order;		/* metas in dependency order */
	size_t meta_count;
	/* lazy[i] = rules[i].lazy, copied into each message's pending set */
	unsigned char *lazy;
	size_t lazy_count;
	/* How often each lazy rule and meta was true when a meta asked for
	 * it, in this process (rules_hit_chance): written through a const
	 * ruleset, each process its own copy after fork. */
	struct rules_hit_rate {
		uint32_t asked, hit;
	} *hit_rate;

	pcre2_match_context *match_ctx;
	struct strlist paths;		/* interned rule-file names */

	/* allow_user_rules 1: prefs files may define rules (rules_user.c) */
	bool allow_user_rules;
	/* A user's rules (rules_user_load): a copy of the site's rule array
	 * with the user's rules from user_first on; everything else (views,
	 * header requests, evals, match context) is the site's, shared, and
	 * the site's metas come first in meta_order.  NULL for the site. */
	const struct ruleset *site;
	size_t user_first;
};

/* name -> value map (open addressing), used for the rule index. */
struct strmap;
struct strmap *strmap_new(void);
/* With room for about cap / 2 keys before it grows (a power of two, at
 * least 16 slots); strmap_new's is 1024. */
struct strmap *strmap_new_sized(size_t cap);
void strmap_free(struct strmap **map);
void strmap_put(struct strmap *map, const char *key, size_t value);
/* Returns false when key is absent. */
bool strmap_get(const struct strmap *map, const char *key, size_t *value_r);
/* For iteration: the key in slot i, "" for an empty slot, NULL past the end. */
const char *strmap_key_at(const struct strmap *map, size_t slot);

/* Perl regex in SpamAssassin's written form (/re/flags, m{re}flags, ...)
 * compiled with PCRE2 (JIT when available).  Returns NULL and a reason. */
pcre2_code *rules_compile_regex(const char *written, char *why, size_t why_size);
/* Bytes of memory code holds: its compiled pattern and its JIT code. */
size_t rules_regex_code_size(const pcre2_code *code);
/* Compiles written into out, split into several pieces when the 8-bit
 * library finds it too large (rules_split.c; multiple: the rule counts its
 * matches, so a split must keep that count identical).  -1 and a reason
 * when it cannot be compiled.  jit: also JIT-compile the pieces.  options:
 * PCRE2 compile options added to the written ones (0, or
 * PCRE2_USE_OFFSET_LIMIT). */
int rules_compile_pieces(const char *written, bool jit, bool multiple, uint32_t options,
			 struct rule_regex *out, char *why, size_t why_size);
void rules_regex_free(struct rule_regex *rx);
/* The match of rx in subject from start that the unsplit pattern would
 * find (the leftmost of the pieces, the first piece on a tie; with any,
 * just the first piece that matches): 1 with its offsets, or -1.  next
 * (NULL, or rx->count entries zeroed before the first call on a subject,
 * with starts that only grow and rx not start_dependent) keeps each
 * piece's match between calls, so a piece is run again only once the
 * start has passed its match. */
int rules_pieces_match(const struct rule_regex *rx, const char *subject, size_t len,
		       size_t start, bool any, pcre2_match_data *md,
		       pcre2_match_context *mctx, struct rules_piece_next *next,
		       size_t *start_r, size_t *end_r);
/* Splits "/re/flags" into the pattern and PCRE2 options; -1 if malformed. */
int rules_split_regex(const char *written, char **pattern_r, uint32_t *options_r,
		      char *why, size_t why_size);

/* Matches one header, body, rawbody, full or uri rule against the
 * message (rules.c): its hit count. */
unsigned int rules_match_one(const struct ruleset *rs, struct rules_scratch *scratch,
			     struct msgview *mv, const struct rule *r);
/* Releases one rule's allocations (rules.c). */
void rules_free_rule(struct rule *r);
const char *rules_type_name(enum rule_type t);

/* Meta expressions (meta.c). */
struct meta_prog *meta_compile(const char *expr, const struct strmap *names,
			       char *why, size_t why_size);
void meta_free(struct meta_prog **prog);
/* Rule indices the expression reads. */
size_t meta_deps(const struct meta_prog *prog, const size_t **deps_r);
/* Values not known yet: before the expression reads values[i] with
 * pending[i] set, fetch(ctx, i) fills it in (and clears pending[i]).
 * most(ctx, i) bounds what a pending value can be (from 0 up),
 * cost(ctx, i) says about what fetching it costs, and chance(ctx, i)
 * how likely it is to be true; any may be NULL.  Only rules
 * meta_mark_lazy was told of may be pending. */
struct meta_fetch {
	const unsigned char *pending;
	void (*fetch)(void *ctx, size_t rule);
	void *ctx;
	double (*most)(void *ctx, size_t rule);
	size_t (*cost)(void *ctx, size_t rule);
	double (*chance)(void *ctx, size_t rule);
};
/* Which rules may be pending when the expression reads them (lazy[i]). */
void meta_mark_lazy(struct meta_prog *prog, const unsigned char *lazy);
/* Evaluates with values[i] = the hit value of rule i (0 = no hit); fetch
 * may be NULL.  "&&" and "||" read their right operand only when Perl
 * would.  A comparison is answered from what is known when the pending
 * values, whatever they turn out to be, can not change its answer; so
 * (A + B + C > 1) with A and B known to be 0 never fetches C. */
double meta_eval(const struct meta_prog *prog, const double *values,
		 const struct meta_fetch *fetch);

/* Eval functions (eval.c). */
/* Looks up fn by name; NULL when lmtpd does not implement it. */
eval_fn eval_lookup(const char *name);
/* Argument i of call compiled as a pattern (Perl's /$arg/: no flags), or
 * NULL if it does not compile; compiled once, owned by the call. */
pcre2_code *eval_arg_regex(const struct eval_call *call, size_t i);

/* A configuration line without its comment, as SpamAssassin's
 * Conf/Parser.pm reads rule files and user_prefs alike: an unescaped '#'
 * starts one, and "\#" is a literal '#'.  Changes line in place. */
void rules_strip_comment(char *line);

#endif
