/* rules_user: a user's own rules, for a site whose rule files say
 * allow_user_rules 1 (SpamAssassin: spamd then compiles the header, body,
 * rawbody, full, uri and meta rules of each user's user_prefs for that
 * user).  score.c hands over the rule lines of a prefs file; they become a
 * ruleset that is the site's with the user's rules after the site's: the
 * rule array is copied (site entries still point at the site's strings
 * and compiled code, which stay the site's), the rest (views, header
 * groups, evals, match context) is shared.  Totals, headers, report and
 * log line then treat a user rule exactly as a site rule, by index.
 *
 * Bounds: RULES_USER_MAX rules, RULES_USER_PATTERN_MAX bytes per pattern
 * and meta (the compile cost), no splitting of patterns too large for
 * PCRE2, no eval: and no mimeheader rules (spamd does not run those from
 * user_prefs either), no redefining or re-flagging a site rule.  A bad
 * rule is reported as "file:line: why" and left out; the others work. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msgview.h"
#include "rules_int.h"
#include "rules_parse.h"
#include "rules_user.h"
#include "xalloc.h"

static void
rules_user_compile(struct rules_build *b)
{
	struct ruleset *ov = b->rs;
	size_t first = ov->user_first, placed, defined = 0, code_bytes = 0;
	unsigned char *ready;

	for (size_t i = first; i < ov->count; i++) {
		struct rule *r = &ov->rules[i];
		char why[512];

		if (!r->defined) {
			/* a score, describe or tflags line for no rule */
			r->skip = RULE_SKIP_BROKEN;
			rules_diag_add(b, r->file, r->line, false,
				       "%s: no such rule, line ignored", r->name);
			continue;
		}
		if (++defined > RULES_USER_MAX) {
			r->skip = RULE_SKIP_BROKEN;
			rules_diag_add(b, r->file, r->line, true,
				       "%s %s: more than %d user rules, skipped",
				       rules_type_name(r->type), r->name, RULES_USER_MAX);
			continue;
		}
		if (r->eval != NULL || r->type == RULE_MIMEHEADER) {
			r->skip = RULE_SKIP_EVAL;
			rules_diag_add(b, r->file, r->line, true,
				       "%s %s: eval and mimeheader rules are not allowed in "
				       "user preferences, skipped", rules_type_name(r->type),
				       r->name);
			continue;
		}
		if ((r->pattern != NULL && strlen(r->pattern) > RULES_USER_PATTERN_MAX) ||
		    (r->meta_src != NULL && strlen(r->meta_src) > RULES_USER_PATTERN_MAX)) {
			r->skip = RULE_SKIP_BROKEN;
			rules_diag_add(b, r->file, r->line, true,
				       "%s %s: longer than %d bytes, skipped",
				       rules_type_name(r->type), r->name, RULES_USER_PATTERN_MAX);
			continue;
		}
		/* Scored 0 (set 0 and set 2): not run, as for the site. */
		if (!r->subrule && r->score[0] == 0 && r->score[2] == 0) {
			r->skip = RULE_SKIP_SCORE_ZERO;
			continue;
		}
		if (r->type == RULE_META) {
			r->meta = meta_compile(r->meta_src, ov->by_name, why, sizeof(why));
			if (r->meta == NULL) {
				r->skip = RULE_SKIP_BROKEN;
				rules_diag_add(b, r->file, r->line, true, "meta %s: %s: %s",
					       r->name, why, r->meta_src);
			}
			continue;
		}
		if (r->exists)
			continue;
		if (r->pattern == NULL || strstr(r->pattern, "%{") != NULL) {
			r->skip = RULE_SKIP_BROKEN;
			rules_diag_add(b, r->file, r->line, true, "%s %s: invalid pattern",
				       rules_type_name(r->type), r->name);
			continue;
		}
		/* compiled once per prefs file and process (score.c caches
		 * it), so JIT pays off */
		r->re.pieces = xcalloc(1, sizeof(*r->re.pieces));
		r->re.pieces[0] = rules_compile_regex(r->pattern, why, sizeof(why));
		if (r->re.pieces[0] == NULL) {
			rules_regex_free(&r->re);
			r->skip = RULE_SKIP_BROKEN;
			rules_diag_add(b, r->file, r->line, true, "%s %s: invalid regexp: %s",
				       rules_type_name(r->type), r->name, why);
			continue;
		}
		r->re.count = 1;
		code_bytes += rules_regex_code_size(r->re.pieces[0]);
		if (code_bytes > RULES_USER_CODE_MAX) {
			rules_regex_free(&r->re);
			r->skip = RULE_SKIP_BROKEN;
			rules_diag_add(b, r->file, r->line, true,
				       "%s %s: the user's rules compile to more than %d bytes, "
				       "skipped", rules_type_name(r->type), r->name,
				       RULES_USER_CODE_MAX);
		}
	}

	/* The user's metas after the site's, each after the user metas it
	 * reads (site rules are all done by then); circular ones left out. */
	ready = xcalloc(ov->count, 1);
	ov->meta_order = xreallocarray(NULL, ov->site->meta_count + (ov->count - first) + 1,
				       sizeof(*ov->meta_order));
	if (ov->site->meta_count > 0)	/* a site without metas has no order */
		memcpy(ov->meta_order, ov->site->meta_order,
		       ov->site->meta_count * sizeof(*ov->meta_order));
	ov->meta_count = ov->site->meta_count;
	do {
		placed = 0;
		for (size_t i = first; i < ov->count; i++) {
			const struct rule *r = &ov->rules[i];
			const size_t *deps;
			size_t nd;
			bool ok = true;

			if (ready[i] || r->type != RULE_META || r->skip != RULE_RUNS ||
			    r->meta == NULL)
				continue;
			nd = meta_deps(r->meta, &deps);
			for (size_t d = 0; d < nd && ok; d++) {
				const struct rule *dep = &ov->rules[deps[d]];

				if (deps[d] >= first && dep->type == RULE_META &&
				    dep->skip == RULE_RUNS && dep->meta != NULL && !ready[deps[d]])
					ok = false;
			}
			if (ok) {
				ready[i] = 1;
				ov->meta_order[ov->meta_count++] = i;
				placed++;
			}
		}
	} while (placed > 0);
	for (size_t i = first; i < ov->count; i++) {
		struct rule *r = &ov->rules[i];

		if (r->type == RULE_META && r->skip == RULE_RUNS && r->meta != NULL &&
		    !ready[i]) {
			r->skip = RULE_SKIP_META;
			rules_diag_add(b, r->file, r->line, true,
				       "meta %s: circular dependencies, skipped", r->name);
		}
	}
	free(ready);
}

struct ruleset *
rules_user_load(const struct ruleset *site, const char *path, char *text,
		void (*warn)(const char *msg))
{
	struct rules_load_result res;
	struct rules_build b;
	struct ruleset *ov = xcalloc(1, sizeof(*ov));

	/* the site's settings, views and compiled code, shared */
	*ov = *site;
	ov->site = site;
	ov->user_first = site->count;
	ov->meta_order = NULL;
	ov->meta_count = 0;
	strlist_init(&ov->paths);
	ov->rules = xreallocarray(NULL, site->count + 16, sizeof(*ov->rules));
	if (site->count > 0)
		memcpy(ov->rules, site->rules, site->count * sizeof(*ov->rules));
	ov->by_name = strmap_new();
	for (size_t i = 0; i < site->count; i++)
		strmap_put(ov->by_name, site->rules[i].name, i);

	memset(&res, 0, sizeof(res));
	memset(&b, 0, sizeof(b));
	b.rs = ov;
	b.result = &res;
	b.cap = site->count + 16;
	rules_parse_text(&b, path, text);
	/* (the parser grows the array by doubling: give the rest back) */
	ov->rules = xreallocarray(ov->rules, ov->count > 0 ? ov->count : 1, sizeof(*ov->rules));
	/* unscored user rules as Parser.pm scores site rules */
	rules_default_scores(&b, ov->user_first);
	rules_user_compile(&b);
	strlist_free(&b.compat);
	ov->paths = b.paths;
	if (warn != NULL)
		for (size_t i = 0; i < res.diag_count; i++) {
			char msg[700];

			snprintf(msg, sizeof(msg), "%s:%u: %s", res.diags[i].file,
				 res.diags[i].line, res.diags[i].message);
			warn(msg);
		}
	rules_load_result_free(&res);
	return ov;
}

void
rules_user_free(struct ruleset **ovp)
{
	struct ruleset *ov = *ovp;

	if (ov == NULL)
		return;
	/* only what is the user's: the site's entries are the site's */
	for (size_t i = ov->user_first; i < ov->count; i++)
		rules_free_rule(&ov->rules[i]);
	free(ov->rules);
	strmap_free(&ov->by_name);
	free(ov->meta_order);
	strlist_free(&ov->paths);
	free(ov);
	*ovp = NULL;
}

void
rules_match_user(const struct ruleset *ov, struct rules_scratch *scratch,
		 struct msgview *mv, struct rules_hits *out)
{
	if (ov->site == NULL || out->time_limit_exceeded)
		return;
	for (size_t i = ov->user_first; i < ov->count && i < out->count; i++) {
		const struct rule *r = &ov->rules[i];

		if (r->skip != RULE_RUNS || !r->defined || r->type == RULE_META)
			continue;
		if (rules_hits_past_deadline(out))
			return;
		out->hits[i] = rules_match_one(ov, scratch, mv, r);
	}
}
