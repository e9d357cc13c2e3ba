/* Eval functions: the per-message context they read and how they run.
 * Internal to scoring/. */
#ifndef LMTPD_EVAL_H
#define LMTPD_EVAL_H

#include <stdbool.h>
#include "rules_int.h"
#include "strlist.h"

struct msgview;

struct eval_ctx {
	const struct ruleset *rs;
	struct msgview *mv;
	/* ADDRLIST_KIND_COUNT lists in effect (site merged with the user's),
	 * NULL for the site lists. */
	const struct addrlist *lists;
	/* The URI host lists in effect (the user's copy), NULL for the
	 * site's (eval_urihost.c). */
	const struct eval_urihost_lists *urihost;
	/* ok_locales in effect: the site's (eval_ctx_init), or the user's
	 * (score.c); NULL is "all" */
	const char *ok_locales;
	/* caches, as SpamAssassin keeps them on $pms */
	bool have_from_addrs, have_to_addrs;
	struct strlist from_addrs, to_addrs;
	bool from_in_welcomelist_known, from_in_default_known;
	int from_in_welcomelist, from_in_default;
	/* MIMEEval's _check_attachments results (eval_mime.c), NULL until
	 * a MIME eval asks. */
	struct eval_mime_state *mime;
	/* Per-message state of the other families, NULL until one of their
	 * functions asks; each family's file owns and frees its own. */
	struct eval_freemail_state *freemail;
	struct eval_relay_state *relay;
	struct eval_body_state *body;
	struct eval_fromname_state *fromname;
	/* The Bayes probability for this recipient (score.c sets it; Bayes
	 * off or not trained enough: bayes_active false). */
	bool bayes_active;
	double bayes_prob;
	/* test_log lines of the rule being run (log_rule), owned by the
	 * context until the caller takes them (eval_take_logs). */
	size_t log_rule;
	struct rules_log *logs;
	size_t log_count;
};

/* One function of a family: what `eval:name(...)` calls. */
struct eval_entry {
	const char *name;
	eval_fn fn;
	bool per_user;	/* reads per-user settings: runs per recipient */
};

/* A family of eval functions (one source file, one SpamAssassin plugin):
 * its functions and the can(...) method names it makes true, e.g.
 * "Mail::SpamAssassin::Plugin::BodyEval::has_check_body_length". */
struct eval_family {
	const struct eval_entry *entries;
	size_t count;
	const char *const *can;
	size_t can_count;
};

extern const struct eval_family eval_family_wlbl;
extern const struct eval_family eval_family_header;
extern const struct eval_family eval_family_mime;
extern const struct eval_family eval_family_html;
extern const struct eval_family eval_family_freemail;
extern const struct eval_family eval_family_relay;
extern const struct eval_family eval_family_body;
extern const struct eval_family eval_family_bayes;
extern const struct eval_family eval_family_fromname;
extern const struct eval_family eval_family_urihost;
extern const struct eval_family eval_family_vbounce;
void eval_mime_state_free(struct eval_mime_state **state);
void eval_freemail_state_free(struct eval_freemail_state **state);
void eval_relay_state_free(struct eval_relay_state **state);
void eval_body_state_free(struct eval_body_state **state);
void eval_fromname_state_free(struct eval_fromname_state **state);
/* PerMsgStatus::all_from_addrs and all_to_addrs: unique, in the order
 * of first appearance, cached on ctx (eval.c). */
const struct strlist *eval_all_from_addrs(struct eval_ctx *ctx);
const struct strlist *eval_all_to_addrs(struct eval_ctx *ctx);

/* The equal items of v[0..n), found by sorting (O(n log n) whatever the
 * message holds; a hash keyed by message text could be flooded): with
 * cstr they compare as C strings (strcmp), else as (p, len).  When not
 * NULL, *first_r[i] says whether v[i] is the first of its value and
 * *next_r[i] is the index of the next item equal to v[i] (ascending), n
 * after the last.  The caller frees both arrays; NULL when n is 0. */
void eval_find_dups(const struct strlist_item *v, size_t n, bool cstr, bool **first_r,
		    size_t **next_r);

/* A WLBLEval list line "(NAME) rest" (/^ \( (.+?) \) \s+ (.+) \z/sx):
 * false when value is not one; else *name_r (the caller frees it) and
 * *rest_r, which points into value. */
bool eval_list_line_split(const char *value, char **name_r, const char **rest_r);

/* PerMsgStatus::test_log: a line about the current rule's hit. */
void eval_test_log(struct eval_ctx *ctx, const char *fmt, ...) ATTR_PRINTF(2, 3);
/* Moves the context's test_log lines to the end of *logs. */
void eval_take_logs(struct eval_ctx *ctx, struct rules_log **logs, size_t *count);

void eval_ctx_init(struct eval_ctx *ctx, const struct ruleset *rs,
		   struct msgview *mv, const struct addrlist *lists);
void eval_ctx_free(struct eval_ctx *ctx);
unsigned int eval_run(struct eval_ctx *ctx, const struct eval_call *call);
/* All values of a get() request, split back into the items msgview_get
 * joined with "\n" (addresses never contain a newline), at most max;
 * empty items only with keep_empty ($pms->get in list context keeps
 * them, the WLBL address lists do not). */
void eval_get_list(struct msgview *mv, const char *request, bool keep_empty, size_t max,
		   struct strlist *out);
/* The list of kind in effect: the user's when ctx has them, else the
 * site's. */
const struct addrlist *eval_addrlist(const struct eval_ctx *ctx, enum addrlist_kind kind);
/* Evals that depend on per-user settings run per recipient (score.c). */
bool eval_is_per_user(const char *name);

/* Runs the message-wide eval rules into out->hits (rules.c), until
 * rules_match's backstop (out->deadline) passes. */
void rules_match_evals(const struct ruleset *rs, struct msgview *mv,
		       struct rules_hits *out);

#endif
