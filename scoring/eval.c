/* eval: native versions of SpamAssassin's Perl eval tests ("eval:fn(...)"
 * rules).  The table below is the one list of what lmtpd implements; a rule
 * calling anything else is skipped at load time and listed by --lint.
 * Each family of functions (SpamAssassin's plugin: HTMLEval, MIMEEval,
 * HeaderEval, ...) lives in its own eval_<family>.c and exports one
 * struct eval_family, listed in eval_families below.
 *
 * Evals that read per-user settings (the WLBLEval family: welcomelist_from,
 * blocklist_to, ...) run per recipient from score.c with that user's lists;
 * the others run once per message from rules_match(). */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "eval.h"
#include "log.h"
#include "msgview.h"
#include "received.h"
#include "rules_int.h"
#include "rules_parse.h"
#include "strset.h"
#include "xalloc.h"

void
eval_get_list(struct msgview *mv, const char *request, bool keep_empty, size_t max,
	      struct strlist *out)
{
	struct buf b;
	const char *p, *end;

	buf_init(&b, 0);
	if (!msgview_get(mv, request, &b) || b.len == 0) {
		buf_free(&b);
		return;
	}
	p = b.data;
	end = b.data + b.len;
	while (p < end && out->n < max) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl != NULL ? nl : end) - p);

		if (len > 0 || keep_empty)
			strlist_add(out, p, len);
		p += len + 1;
	}
	buf_free(&b);
}

struct eval_dup_key {
	const char *p;
	size_t len, i;
};

/* By bytes, a prefix first (so strcmp's order for C strings), then by
 * index: equal items sort in the order they came. */
static int
eval_dup_key_cmp(const void *a, const void *b)
{
	const struct eval_dup_key *x = a, *y = b;
	int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);

	if (c != 0)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

void
eval_find_dups(const struct strlist_item *v, size_t n, bool cstr, bool **first_r,
	       size_t **next_r)
{
	struct eval_dup_key *k;
	bool *first = NULL;
	size_t *next = NULL;

	if (first_r != NULL)
		*first_r = NULL;
	if (next_r != NULL)
		*next_r = NULL;
	if (n == 0)
		return;
	k = xreallocarray(NULL, n, sizeof(*k));
	for (size_t i = 0; i < n; i++) {
		k[i].p = v[i].p;
		k[i].len = cstr ? strlen(v[i].p) : v[i].len;
		k[i].i = i;
	}
	qsort(k, n, sizeof(*k), eval_dup_key_cmp);
	if (first_r != NULL)
		first = xreallocarray(NULL, n, sizeof(*first));
	if (next_r != NULL)
		next = xreallocarray(NULL, n, sizeof(*next));
	for (size_t s = 0; s < n; s++) {
		bool same_prev = s > 0 && k[s].len == k[s - 1].len &&
				 memcmp(k[s].p, k[s - 1].p, k[s].len) == 0;

		if (first != NULL)
			first[k[s].i] = !same_prev;
		if (next != NULL) {
			next[k[s].i] = n;
			if (same_prev)
				next[k[s - 1].i] = k[s].i;
		}
	}
	free(k);
	if (first_r != NULL)
		*first_r = first;
	if (next_r != NULL)
		*next_r = next;
}

/* The items of raw that are the first of their value (as C strings),
 * appended to out in order: SpamAssassin's grep { !$seen{$_}++ }. */
static void
eval_add_unique(const struct strlist *raw, struct strlist *out)
{
	bool *first;

	eval_find_dups(raw->v, raw->n, true, &first, NULL);
	for (size_t i = 0; i < raw->n; i++)
		if (first[i])
			strlist_add(out, raw->v[i].p, raw->v[i].len);
	free(first);
}

/* PerMsgStatus::all_from_addrs */
const struct strlist *
eval_all_from_addrs(struct eval_ctx *ctx)
{
	static const char *const headers[] = { "From:addr", "Envelope-Sender:addr",
					       "Resent-Sender:addr", "X-Envelope-From:addr",
					       "EnvelopeFrom:addr" };
	struct strlist raw;

	if (ctx->have_from_addrs)
		return &ctx->from_addrs;
	ctx->have_from_addrs = true;
	strlist_init(&ctx->from_addrs);
	strlist_init(&raw);
	eval_get_list(ctx->mv, "Resent-From:first:addr", false, SIZE_MAX, &raw);
	if (raw.n == 0)
		for (size_t i = 0; i < N_ELEMENTS(headers); i++)
			eval_get_list(ctx->mv, headers[i], false, SIZE_MAX, &raw);
	for (size_t i = 0; i < raw.n; i++) {
		/* tr/././s: squeeze repeated dots (bug 3366) */
		char *a = raw.v[i].p;
		size_t o = 0;

		for (size_t k = 0; a[k] != '\0'; k++)
			if (!(a[k] == '.' && o > 0 && a[o - 1] == '.'))
				a[o++] = a[k];
		a[o] = '\0';
		raw.v[i].len = o;
	}
	eval_add_unique(&raw, &ctx->from_addrs);
	strlist_free(&raw);
	return &ctx->from_addrs;
}

/* PerMsgStatus::all_to_addrs */
const struct strlist *
eval_all_to_addrs(struct eval_ctx *ctx)
{
	static const char *const headers[] = {
		"To:addr", "Apparently-To:addr", "Delivered-To:addr",
		"Envelope-Recipients:addr", "Apparently-Resent-To:addr",
		"X-Envelope-To:addr", "Envelope-To:addr", "X-Delivered-To:addr",
		"X-Original-To:addr", "X-Rcpt-To:addr", "X-Real-To:addr", "Cc:addr",
	};
	struct strlist raw;

	if (ctx->have_to_addrs)
		return &ctx->to_addrs;
	ctx->have_to_addrs = true;
	strlist_init(&ctx->to_addrs);
	strlist_init(&raw);
	eval_get_list(ctx->mv, "Resent-To:first:addr", false, SIZE_MAX, &raw);
	eval_get_list(ctx->mv, "Resent-Cc:first:addr", false, SIZE_MAX, &raw);
	if (raw.n == 0) {
		struct strlist rcvd;

		/* The fetchmail trick: "for <addr>;" in the newest three
		 * Received headers. */
		strlist_init(&rcvd);
		eval_get_list(ctx->mv, "Received", false, SIZE_MAX, &rcvd);
		for (size_t i = 0; i < rcvd.n && i < 3; i++) {
			const char *f = strstr(rcvd.v[i].p, " for ");

			while (f != NULL) {
				const char *a = f + 5, *semi, *at;
				size_t len;

				if (*a == '<')
					a++;
				len = strcspn(a, " \t;>");
				semi = a + len;
				if (*semi == '>')
					semi++;
				at = memchr(a, '@', len);
				if (*semi == ';' && at != NULL && at > a && at + 1 < a + len &&
				    memchr(at + 1, '.', (size_t)(a + len - at - 1)) != NULL) {
					strlist_add(&raw, a, len);
					break;
				}
				f = strstr(f + 1, " for ");
			}
		}
		strlist_free(&rcvd);
		for (size_t i = 0; i < N_ELEMENTS(headers); i++)
			eval_get_list(ctx->mv, headers[i], false, SIZE_MAX, &raw);
	}
	eval_add_unique(&raw, &ctx->to_addrs);
	strlist_free(&raw);
	return &ctx->to_addrs;
}

const struct addrlist *
eval_addrlist(const struct eval_ctx *ctx, enum addrlist_kind kind)
{
	return ctx->lists != NULL ? &ctx->lists[kind] : &ctx->rs->lists[kind];
}

static bool
eval_any_in(struct eval_ctx *ctx, const struct strlist *addrs, enum addrlist_kind kind)
{
	const struct addrlist *l = eval_addrlist(ctx, kind);

	for (size_t i = 0; i < addrs->n; i++)
		if (addrlist_match(l, addrs->v[i].p, NULL))
			return true;
	return false;
}

/* WLBLEval::_check_welcomelist_rcvd: 1 listed and relayed through the
 * given domain or address, -1 listed but not relayed so (forged?), 0 not
 * listed. */
static int
eval_welcomelist_rcvd(struct eval_ctx *ctx, enum addrlist_kind kind, const char *addr)
{
	const struct addrlist *l = eval_addrlist(ctx, kind);
	const struct relays *rel = msgview_relays(ctx->mv);
	const struct relay *cand[64];
	size_t ncand = 0, untrusted;
	int found_forged = 0;

	if (rel == NULL || rel->n == 0)
		return 0;
	untrusted = rel->n - rel->num_trusted;
	if (untrusted > 0)
		cand[ncand++] = &rel->v[rel->num_trusted];
	else
		for (size_t i = 0; i < rel->num_trusted && ncand < N_ELEMENTS(cand); i++)
			cand[ncand++] = &rel->v[i];
	for (size_t e = 0; e < l->n; e++) {
		struct addrlist one = { .v = &l->v[e], .n = 1 };
		const char *domain = l->v[e].rcvd_domain;

		if (domain == NULL || !addrlist_match(&one, addr, NULL))
			continue;
		for (size_t k = 0; k < ncand; k++) {
			const char *ip = cand[k]->ip, *rdns = cand[k]->rdns;

			if (domain[0] == '[') {
				char net[64];
				size_t len = strcspn(domain + 1, "]");

				if (ip == NULL || ip[0] == '\0' || len >= sizeof(net))
					continue;
				memcpy(net, domain + 1, len);
				net[len] = '\0';
				if (strcmp(net, ip) == 0)
					return 1;
				/* A classful "10.1." prefix. */
				if (strspn(net, "0123456789.") == len && len > 0 &&
				    net[len - 1] == '.' && strncmp(ip, net, len) == 0)
					return 1;
				continue;
			}
			if (rdns != NULL) {
				size_t rl = strlen(rdns), dl = strlen(domain);

				if (rl >= dl && strcasecmp(rdns + rl - dl, domain) == 0 &&
				    (rl == dl || rdns[rl - dl - 1] == '.'))
					return 1;
			}
		}
		found_forged = -1;
	}
	return found_forged;
}

static int
eval_from_in_welcomelist_state(struct eval_ctx *ctx)
{
	const struct strlist *from = eval_all_from_addrs(ctx);
	int found = 0;

	if (ctx->from_in_welcomelist_known)
		return ctx->from_in_welcomelist;
	for (size_t i = 0; i < from->n; i++) {
		int wh;

		if (addrlist_match(eval_addrlist(ctx, ADDRLIST_WELCOME_FROM), from->v[i].p, NULL)) {
			found = 1;
			break;
		}
		wh = eval_welcomelist_rcvd(ctx, ADDRLIST_WELCOME_FROM_RCVD, from->v[i].p);
		if (wh == 1) {
			found = 1;
			break;
		}
		if (wh == -1)
			found = -1;
	}
	ctx->from_in_welcomelist_known = true;
	ctx->from_in_welcomelist = found;
	return found;
}

static int
eval_from_in_default_welcomelist_state(struct eval_ctx *ctx)
{
	const struct strlist *from = eval_all_from_addrs(ctx);
	int found = 0;

	if (ctx->from_in_default_known)
		return ctx->from_in_default;
	for (size_t i = 0; i < from->n; i++) {
		int wh = eval_welcomelist_rcvd(ctx, ADDRLIST_DEF_WELCOME_FROM_RCVD,
					       from->v[i].p);

		if (wh == 1) {
			found = 1;
			break;
		}
		if (wh == -1)
			found = -1;
	}
	ctx->from_in_default_known = true;
	ctx->from_in_default = found;
	return found;
}

static unsigned int
eval_check_from_in_welcomelist(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return eval_from_in_welcomelist_state(ctx) > 0;
}

static unsigned int
eval_check_forged_in_welcomelist(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return eval_from_in_welcomelist_state(ctx) < 0 &&
	       eval_from_in_default_welcomelist_state(ctx) == 0;
}

static unsigned int
eval_check_from_in_default_welcomelist(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return eval_from_in_default_welcomelist_state(ctx) > 0;
}

static unsigned int
eval_check_forged_in_default_welcomelist(struct eval_ctx *ctx,
					 const struct eval_call *call)
{
	(void)call;
	return eval_from_in_default_welcomelist_state(ctx) < 0 &&
	       eval_from_in_welcomelist_state(ctx) == 0;
}

static unsigned int
eval_check_from_in_blocklist(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return eval_any_in(ctx, eval_all_from_addrs(ctx), ADDRLIST_BLOCK_FROM);
}

static unsigned int
eval_check_to_in_welcomelist(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return eval_any_in(ctx, eval_all_to_addrs(ctx), ADDRLIST_WELCOME_TO);
}

static unsigned int
eval_check_to_in_blocklist(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return eval_any_in(ctx, eval_all_to_addrs(ctx), ADDRLIST_BLOCK_TO);
}

static unsigned int
eval_check_to_in_more_spam(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return eval_any_in(ctx, eval_all_to_addrs(ctx), ADDRLIST_MORE_SPAM_TO);
}

static unsigned int
eval_check_to_in_all_spam(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return eval_any_in(ctx, eval_all_to_addrs(ctx), ADDRLIST_ALL_SPAM_TO);
}

/* WelcomeListSubject: the decoded Subject, lowercased, holds a listed
 * string somewhere.  Its "*" and "?" are Perl's "." without /s: no match
 * crosses a newline (the end of one Subject field, or an encoded one),
 * so each line is tried on its own. */
static unsigned int
eval_subject_in(struct eval_ctx *ctx, enum addrlist_kind kind)
{
	const struct addrlist *l = eval_addrlist(ctx, kind);
	struct buf subject;
	bool hit = false;

	if (l->n == 0)
		return 0;
	buf_init(&subject, 0);
	if (msgview_get(ctx->mv, "Subject", &subject) && subject.len > 0) {
		const char *p = subject.data, *end = subject.data + subject.len;

		while (!hit && p <= end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = (size_t)((nl != NULL ? nl : end) - p);

			hit = addrlist_match_len(l, p, n, NULL);
			p += n + 1;
		}
	}
	buf_free(&subject);
	return hit;
}

static unsigned int
eval_check_subject_in_welcomelist(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return eval_subject_in(ctx, ADDRLIST_WELCOME_SUBJECT);
}

static unsigned int
eval_check_subject_in_blocklist(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return eval_subject_in(ctx, ADDRLIST_BLOCK_SUBJECT);
}

static const struct eval_entry eval_wlbl_entries[] = {
	{ "check_from_in_welcomelist", eval_check_from_in_welcomelist, true },
	{ "check_from_in_whitelist", eval_check_from_in_welcomelist, true },
	{ "check_forged_in_welcomelist", eval_check_forged_in_welcomelist, true },
	{ "check_forged_in_whitelist", eval_check_forged_in_welcomelist, true },
	{ "check_from_in_default_welcomelist", eval_check_from_in_default_welcomelist, true },
	{ "check_from_in_default_whitelist", eval_check_from_in_default_welcomelist, true },
	{ "check_forged_in_default_welcomelist", eval_check_forged_in_default_welcomelist, true },
	{ "check_forged_in_default_whitelist", eval_check_forged_in_default_welcomelist, true },
	{ "check_from_in_blocklist", eval_check_from_in_blocklist, true },
	{ "check_from_in_blacklist", eval_check_from_in_blocklist, true },
	{ "check_to_in_welcomelist", eval_check_to_in_welcomelist, true },
	{ "check_to_in_whitelist", eval_check_to_in_welcomelist, true },
	{ "check_to_in_blocklist", eval_check_to_in_blocklist, true },
	{ "check_to_in_blacklist", eval_check_to_in_blocklist, true },
	{ "check_to_in_more_spam", eval_check_to_in_more_spam, true },
	{ "check_to_in_all_spam", eval_check_to_in_all_spam, true },
	{ "check_subject_in_welcomelist", eval_check_subject_in_welcomelist, true },
	{ "check_subject_in_whitelist", eval_check_subject_in_welcomelist, true },
	{ "check_subject_in_blocklist", eval_check_subject_in_blocklist, true },
	{ "check_subject_in_blacklist", eval_check_subject_in_blocklist, true },
};

const struct eval_family eval_family_wlbl = {
	eval_wlbl_entries, N_ELEMENTS(eval_wlbl_entries), NULL, 0
};

/* Every family lmtpd implements, each in its own eval_<family>.c. */
static const struct eval_family *const eval_families[] = {
	&eval_family_wlbl,
	&eval_family_header,
	&eval_family_mime,
	&eval_family_html,
	&eval_family_freemail,
	&eval_family_relay,
	&eval_family_body,
	&eval_family_bayes,
	&eval_family_fromname,
	&eval_family_urihost,
	&eval_family_vbounce,
};

/* Every entry by name, built on first use: the names are looked up per
 * rule (eval_lookup, eval_is_per_user), and a scan of them all cost more
 * than Bayes-only scoring's whole rule matching once looked up per rule
 * and message.  The first family to
 * name a function wins, as the scan did. */
#define EVAL_SLOTS 1024		/* a power of two, over twice the entries */
static const struct eval_entry *eval_table[EVAL_SLOTS];
static bool eval_table_built;


/* The slot of name: its entry's, or the empty one it would take. */
static const struct eval_entry **
eval_slot(const char *name)
{
	for (uint32_t h = str_hash(name, strlen(name));; h++) {
		const struct eval_entry **slot = &eval_table[h & (EVAL_SLOTS - 1)];

		if (*slot == NULL || strcmp((*slot)->name, name) == 0)
			return slot;
	}
}

static const struct eval_entry *
eval_entry(const char *name)
{
	if (!eval_table_built) {
		size_t n = 0;

		for (size_t f = 0; f < N_ELEMENTS(eval_families); f++)
			for (size_t i = 0; i < eval_families[f]->count; i++) {
				const struct eval_entry **slot =
					eval_slot(eval_families[f]->entries[i].name);

				if (*slot == NULL) {
					if (++n > EVAL_SLOTS / 2)
						log_panic("eval: more than %d functions",
							  EVAL_SLOTS / 2);
					*slot = &eval_families[f]->entries[i];
				}
			}
		eval_table_built = true;
	}
	return *eval_slot(name);
}

pcre2_code *
eval_arg_regex(const struct eval_call *call, size_t i)
{
	int err;
	PCRE2_SIZE off;

	if (i >= call->arg_count)
		return NULL;
	if (!call->arg_re_tried[i]) {
		call->arg_re_tried[i] = true;
		call->arg_re[i] = pcre2_compile((PCRE2_SPTR)call->args[i], PCRE2_ZERO_TERMINATED,
						0, &err, &off, NULL);
	}
	return call->arg_re[i];
}

eval_fn
eval_lookup(const char *name)
{
	const struct eval_entry *e = eval_entry(name);

	return e != NULL ? e->fn : NULL;
}

bool
eval_is_per_user(const char *name)
{
	const struct eval_entry *e = eval_entry(name);

	return e != NULL && e->per_user;
}

/* can(Mail::SpamAssassin::Plugin::Family::has_xxx): the feature flags the
 * shipped rules test; true once a family announces what they name. */
bool
eval_can(const char *method)
{
	for (size_t f = 0; f < N_ELEMENTS(eval_families); f++)
		for (size_t i = 0; i < eval_families[f]->can_count; i++)
			if (strcmp(eval_families[f]->can[i], method) == 0)
				return true;
	return false;
}

void
eval_ctx_init(struct eval_ctx *ctx, const struct ruleset *rs, struct msgview *mv,
	      const struct addrlist *lists)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->rs = rs;
	ctx->mv = mv;
	ctx->lists = lists;
	ctx->ok_locales = rs->settings.ok_locales;
}

void
eval_ctx_free(struct eval_ctx *ctx)
{
	if (ctx->have_from_addrs)
		strlist_free(&ctx->from_addrs);
	if (ctx->have_to_addrs)
		strlist_free(&ctx->to_addrs);
	eval_mime_state_free(&ctx->mime);
	eval_freemail_state_free(&ctx->freemail);
	eval_relay_state_free(&ctx->relay);
	eval_body_state_free(&ctx->body);
	eval_fromname_state_free(&ctx->fromname);
	for (size_t i = 0; i < ctx->log_count; i++)
		free(ctx->logs[i].msg);
	free(ctx->logs);
	memset(ctx, 0, sizeof(*ctx));
}

void
eval_test_log(struct eval_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	msg = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)n + 1, fmt, ap);
	va_end(ap);
	ctx->logs = xreallocarray(ctx->logs, ctx->log_count + 1, sizeof(*ctx->logs));
	ctx->logs[ctx->log_count++] = (struct rules_log){ ctx->log_rule, msg };
}

void
eval_take_logs(struct eval_ctx *ctx, struct rules_log **logs, size_t *count)
{
	if (ctx->log_count == 0)
		return;
	*logs = xreallocarray(*logs, *count + ctx->log_count, sizeof(**logs));
	memcpy(*logs + *count, ctx->logs, ctx->log_count * sizeof(**logs));
	*count += ctx->log_count;
	free(ctx->logs);
	ctx->logs = NULL;
	ctx->log_count = 0;
}

unsigned int
eval_run(struct eval_ctx *ctx, const struct eval_call *call)
{
	return call->fn(ctx, call);
}

void
rules_match_evals(const struct ruleset *rs, struct msgview *mv, struct rules_hits *out)
{
	struct eval_ctx ctx;

	eval_ctx_init(&ctx, rs, mv, NULL);
	for (size_t k = 0; k < rs->eval_count; k++) {
		const struct rule *r = &rs->rules[rs->eval_rules[k]];

		if (r->eval->per_user)
			continue;
		/* The backstop holds here too: one eval is cheap, but a message
		 * built against several could add up to more than the MTA's
		 * patience. Those not run count as not hit. */
		if (rules_hits_past_deadline(out))
			break;
		ctx.log_rule = rs->eval_rules[k];
		out->hits[rs->eval_rules[k]] = eval_run(&ctx, r->eval);
	}
	eval_take_logs(&ctx, &out->logs, &out->log_count);
	eval_ctx_free(&ctx);
}
