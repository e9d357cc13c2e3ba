/* eval_freemail: SpamAssassin's FreeMail plugin (Plugin/FreeMail.pm 4.0.1):
 * check_freemail_from, check_freemail_header, check_freemail_replyto and
 * check_freemail_body, driven by the freemail_domains lists the shipped
 * rules carry, followed line by line, quirks included.
 *
 * The settings (freemail_domains, freemail_welcomelist and its whitelist
 * alias, freemail_max_body_emails, freemail_max_body_freemails,
 * freemail_skip_when_over_max, freemail_skip_bulk_envfrom) live in
 * struct eval_freemail_conf behind sa_settings.freemail, filled by
 * eval_freemail_apply() from the rule-file parser.
 *
 * The fixed patterns (the default welcomelist, the bulk envelope sender
 * pattern, the e-mail address pattern with RegistryBoundaries'
 * valid_tlds_re) are compiled once per process on first use, as uri.c
 * does; the TLD alternation is a callout asking the TLD set, which
 * accepts exactly the strings the alternation with its lookarounds does.
 * Not thread-safe (a worker scores one message at a time).
 *
 * WLBLEval's check_from_in_list and check_replyto_in_list live here too,
 * with the enlist_addrlist lists they read, as they share
 * all_from_addrs with check_freemail_from.
 *
 * One known approximation: SpamAssassin takes body addresses from the
 * mailto: URIs of <a> tags that the text did not also yield; lmtpd's HTML
 * view does not keep the tag of a URI nor the text parser's raw keys, so
 * every mailto: URI of the HTML parts is taken.  The outcome differs only
 * when such an address is also in the text and the text copy is then
 * removed by the "address followed by > or word:" rule. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "eval.h"
#include "msgview.h"
#include "rules_int.h"
#include "rules_parse.h"
#include "strset.h"
#include "xalloc.h"

/* Bounds on hostile input: addresses looked at per header request, body
 * lines scanned for addresses, bytes of one line. */
#define FREEMAIL_MAX_ADDRS	256
#define FREEMAIL_MAX_LINES	100000
#define FREEMAIL_MAX_LINE	(256 * 1024)

struct eval_freemail_conf {
	struct strset *domains;		/* lowercased, no wildcards */
	struct strlist wildcards;	/* lowercased, with * or ? */
	struct strset *welcomelist;	/* addresses and domains, lowercased */
	long max_body_emails;		/* FreeMail.pm defaults: 5, 3, 1, 1 */
	long max_body_freemails;
	long skip_when_over_max;
	long skip_bulk_envfrom;
	long add_describe_email;	/* test_log the address (default 1) */
};

struct eval_freemail_state {
	bool body_parsed;
	bool skip_body;			/* $pms->{freemail_skip_body} */
	struct strlist body;		/* $pms->{freemail_cache}{body} keys */
	bool have_from;
	struct strlist from;		/* all_from_addrs, lowercased, unique */
};

void
eval_freemail_conf_free(struct eval_freemail_conf **conf)
{
	struct eval_freemail_conf *c = *conf;

	if (c == NULL)
		return;
	strset_free(&c->domains);
	strset_free(&c->welcomelist);
	strlist_free(&c->wildcards);
	free(c);
	*conf = NULL;
}

static struct eval_freemail_conf *
eval_freemail_conf(struct sa_settings *set)
{
	if (set->freemail == NULL) {
		struct eval_freemail_conf *c = xcalloc(1, sizeof(*c));

		c->domains = strset_new();
		c->welcomelist = strset_new();
		strlist_init(&c->wildcards);
		c->max_body_emails = 5;
		c->max_body_freemails = 3;
		c->skip_when_over_max = 1;
		c->skip_bulk_envfrom = 1;
		c->add_describe_email = 1;
		set->freemail = c;
	}
	return set->freemail;
}

static bool
eval_freemail_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool
eval_freemail_is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static void
eval_freemail_lc(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
}

/* Conf's CONF_TYPE_NUMERIC: a number, else a bad value. */
static int
eval_freemail_numeric(const char *value, long *out, const char **why_r)
{
	char *end;
	long v = strtol(value, &end, 10);

	if (*value == '\0' || *end != '\0') {
		*why_r = "not a number";
		return -1;
	}
	*out = v;
	return 1;
}

/* enlist_addrlist's named lists (WLBLEval), in order of first use. */
struct eval_named_lists {
	char **names;
	struct addrlist *lists;
	size_t n;
};

void
eval_named_lists_free(struct eval_named_lists **lists)
{
	struct eval_named_lists *l = *lists;

	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->names[i]);
		addrlist_free(&l->lists[i]);
	}
	free(l->names);
	free(l->lists);
	free(l);
	*lists = NULL;
}

static const struct addrlist *
eval_named_list(const struct sa_settings *set, const char *name)
{
	const struct eval_named_lists *l = set->named_lists;

	for (size_t i = 0; l != NULL && i < l->n; i++)
		if (strcmp(l->names[i], name) == 0)
			return &l->lists[i];
	return NULL;
}

bool
eval_list_line_split(const char *value, char **name_r, const char **rest_r)
{
	const char *close = NULL;

	if (value[0] != '(' || value[1] == '\0')
		return false;
	for (const char *p = value + 2; *p != '\0' && close == NULL; p++)
		if (*p == ')' && eval_freemail_is_space((unsigned char)p[1]) && p[2] != '\0')
			close = p;
	if (close == NULL)
		return false;
	*name_r = xstrndup(value + 1, (size_t)(close - value - 1));
	*rest_r = close + 1;
	return true;
}

/* enlist_addrlist (NAME) glob... */
static int
eval_enlist_addrlist(struct sa_settings *set, const char *value, const char **why_r)
{
	struct eval_named_lists *l;
	const char *globs;
	char *name;
	size_t k;

	if (!eval_list_line_split(value, &name, &globs)) {
		*why_r = "missing required value";
		return -1;
	}
	if (set->named_lists == NULL)
		set->named_lists = xcalloc(1, sizeof(*set->named_lists));
	l = set->named_lists;
	for (k = 0; k < l->n && strcmp(l->names[k], name) != 0; k++)
		;
	if (k == l->n) {
		l->names = xreallocarray(l->names, l->n + 1, sizeof(*l->names));
		l->lists = xreallocarray(l->lists, l->n + 1, sizeof(*l->lists));
		l->names[k] = name;
		memset(&l->lists[k], 0, sizeof(l->lists[k]));
		l->n++;
	} else {
		free(name);
	}
	addrlist_add_words(&l->lists[k], globs);
	return 1;
}

int
eval_freemail_apply(struct sa_settings *set, const char *key, const char *value,
		    const char **why_r)
{
	static const struct {
		const char *key;
		size_t off;
	} numeric[] = {
		{ "freemail_max_body_emails",
		  offsetof(struct eval_freemail_conf, max_body_emails) },
		{ "freemail_max_body_freemails",
		  offsetof(struct eval_freemail_conf, max_body_freemails) },
		{ "freemail_skip_when_over_max",
		  offsetof(struct eval_freemail_conf, skip_when_over_max) },
		{ "freemail_skip_bulk_envfrom",
		  offsetof(struct eval_freemail_conf, skip_bulk_envfrom) },
		{ "freemail_add_describe_email",
		  offsetof(struct eval_freemail_conf, add_describe_email) },
	};
	struct eval_freemail_conf *c;
	bool domains = strcmp(key, "freemail_domains") == 0;
	bool welcome = strcmp(key, "freemail_welcomelist") == 0 ||
		       strcmp(key, "freemail_whitelist") == 0;
	const char *p = value;

	static const char *const accepted[] = {
		/* imports from welcomelist_auth lists, which lmtpd does not
		 * have (empty lists import nothing) */
		"freemail_import_welcomelist_auth",
		"freemail_import_whitelist_auth", "freemail_import_def_welcomelist_auth",
		"freemail_import_def_whitelist_auth",
	};
	long ignored;

	if (strcmp(key, "enlist_addrlist") == 0)
		return eval_enlist_addrlist(set, value, why_r);
	for (size_t i = 0; i < N_ELEMENTS(accepted); i++)
		if (strcmp(key, accepted[i]) == 0)
			return eval_freemail_numeric(value, &ignored, why_r);
	for (size_t i = 0; i < N_ELEMENTS(numeric); i++)
		if (strcmp(key, numeric[i].key) == 0) {
			c = eval_freemail_conf(set);
			return eval_freemail_numeric(value, (long *)((char *)c + numeric[i].off),
						     why_r);
		}
	if (!domains && !welcome)
		return 0;
	c = eval_freemail_conf(set);
	/* split(/\s+/): every token; a bad one is warned about and skipped,
	 * the rest still count. */
	for (;;) {
		size_t len;
		char *tok;
		bool bad = false, wild = false;

		while (*p != '\0' && eval_freemail_is_space((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		len = 0;
		while (p[len] != '\0' && !eval_freemail_is_space((unsigned char)p[len]))
			len++;
		tok = xstrndup(p, len);
		p += len;
		eval_freemail_lc(tok, len);
		if (domains) {
			/* tr/a-zA-Z0-9.*?-//c: only these characters */
			for (size_t i = 0; i < len; i++) {
				unsigned char ch = (unsigned char)tok[i];

				if (ch == '*' || ch == '?')
					wild = true;
				else if (!(eval_freemail_is_word(ch) && ch != '_') && ch != '.' &&
					 ch != '-')
					bad = true;
			}
			if (!bad && wild)
				strlist_add(&c->wildcards, tok, len);
			else if (!bad)
				(void)strset_add(c->domains, tok, len);
		} else {
			/* /\w[.@]\w/ */
			bad = true;
			for (size_t i = 0; i + 2 < len && bad; i++)
				if (eval_freemail_is_word((unsigned char)tok[i]) &&
				    (tok[i + 1] == '.' || tok[i + 1] == '@') &&
				    eval_freemail_is_word((unsigned char)tok[i + 2]))
					bad = false;
			if (!bad)
				(void)strset_add(c->welcomelist, tok, len);
		}
		/* A bad token is only warned about by FreeMail.pm: skipped. */
		free(tok);
	}
	return 1;
}

/* ---- the fixed patterns ---- */

#define FM_LOCAL "a-z0-9!#$%&'*+/=?^_`{|}~-"
/* FreeMail's email_regex; group 1 is the address.  The TLD is
 * valid_tlds_re: a whole label that is a known TLD (callout 1). */
#define FM_EMAIL \
	"(?=.{0,64}\\@)(?<![" FM_LOCAL "])" \
	"([" FM_LOCAL "]+(?:\\.[" FM_LOCAL "]+)*\\@" \
	"(?:[a-z0-9](?:[a-z0-9-]{0,59}[a-z0-9])?\\.){1,4}" \
	"(?<![a-zA-Z0-9-])[a-zA-Z0-9-]++(?C1)(?![a-zA-Z0-9-]|\\.[a-zA-Z0-9]))"

enum fm_re {
	FM_RE_WELCOME,
	FM_RE_BULK,
	FM_RE_EMAIL,
	FM_RE_URL_AT,
	FM_RE_EMAIL_TAG,
	FM_RE_COUNT
};

static const char *const fm_re_src[FM_RE_COUNT] = {
	/* $email_welcomelist */
	[FM_RE_WELCOME] =
		"^(?:abuse|support|sales|info|helpdesk|contact|kontakt"
		"|(?:post|host|domain)master|undisclosed.*|request-[a-f0-9]{16}|bounced?-"
		"|[a-f0-9]{8}(?:\\.[a-f0-9]{8}|-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})"
		"|.+=.+=.+)\\@",
	/* $skip_replyto_envfrom ([._-t] is a range, as in the Perl) */
	[FM_RE_BULK] =
		"(?:^(?:post|host|domain)master|^double-bounce"
		"|^(?:sentto|owner|return|(?:gr)?bounced?)-.+|-(?:request|bounces?|admin|owner)"
		"|\\b(?:do[._-t]?)?no[._-t]?repl(?:y|ies)|.+=.+)\\@",
	[FM_RE_EMAIL] = FM_EMAIL,
	/* _parse_body's two clean-ups before it collects addresses */
	[FM_RE_URL_AT] = "<?https?://\\S{0,255}(?:\\@|%40)\\S{0,255}",
	[FM_RE_EMAIL_TAG] =
		"<?(?<!mailto:)" FM_EMAIL
		"(?:>|\\s{1,10}(?!(?:fa(?:x|csi)|tel|phone|e?-?mail))[a-z]{2,11}:)",
};

static struct {
	bool tried;
	pcre2_code *re[FM_RE_COUNT];
	pcre2_match_context *mctx;
	pcre2_match_data *md;
} fm;

static bool
fm_init(void)
{
	if (fm.tried)
		return fm.md != NULL;
	fm.tried = true;
	for (int i = 0; i < FM_RE_COUNT; i++) {
		int err;
		PCRE2_SIZE off;

		fm.re[i] = pcre2_compile((PCRE2_SPTR)fm_re_src[i], PCRE2_ZERO_TERMINATED,
					 PCRE2_CASELESS, &err, &off, NULL);
		if (fm.re[i] == NULL)
			return false;
		(void)pcre2_jit_compile(fm.re[i], PCRE2_JIT_COMPLETE);
	}
	fm.mctx = pcre2_match_context_create(NULL);
	if (fm.mctx == NULL)
		return false;
	/* Bounded work on hostile lines; a line that hits the limit yields
	 * no (more) addresses. */
	(void)pcre2_set_match_limit(fm.mctx, 1000000);
	fm.md = pcre2_match_data_create(16, NULL);
	return fm.md != NULL;
}

/* Callout 1: the label ending here is a known TLD.  0 goes on, 1 fails. */
static int
fm_tld_callout(pcre2_callout_block *cb, void *data)
{
	const struct sa_settings *set = data;
	size_t end = cb->current_position, start = end;
	char label[64];

	while (start > 0 && end - start < sizeof(label)) {
		unsigned char c = cb->subject[start - 1];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			break;
		start--;
	}
	if (end - start >= sizeof(label) || end == start || set->tlds == NULL)
		return 1;
	for (size_t i = start; i < end; i++)
		label[i - start] = (char)cb->subject[i];
	eval_freemail_lc(label, end - start);
	return strset_contains(set->tlds, label, end - start) ? 0 : 1;
}

static int
fm_match(enum fm_re which, const struct sa_settings *set, const char *s, size_t len,
	 size_t start, uint32_t options)
{
	(void)pcre2_set_callout(fm.mctx, fm_tld_callout, (void *)(uintptr_t)set);
	return pcre2_match(fm.re[which], (PCRE2_SPTR)s, len, start, options, fm.md, fm.mctx);
}

static bool
fm_arg_matches(pcre2_code *re, const char *s)
{
	return pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, fm.md, fm.mctx) >= 0;
}

/* ---- helpers ---- */

/* $pms->get(request) in list context, lowercased: the values msgview_get
 * joined with "\n". */
static void
fm_get_list(struct eval_ctx *ctx, const char *request, bool lower, struct strlist *out)
{
	size_t first = out->n;

	eval_get_list(ctx->mv, request, true, FREEMAIL_MAX_ADDRS, out);
	for (size_t i = first; lower && i < out->n; i++)
		eval_freemail_lc(out->v[i].p, out->v[i].len);
}

static bool
fm_list_has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].p, s) == 0)
			return true;
	return false;
}

/* "\@(?:glob|...)$" for one glob: * is [^.]*, ? any byte but a newline;
 * $ also before a final newline. */
static bool
fm_glob(const char *g, const char *s)
{
	for (; *g != '\0'; g++, s++) {
		if (*g == '*') {
			for (const char *t = s;; t++) {
				if (fm_glob(g + 1, t))
					return true;
				if (*t == '\0' || *t == '.')
					return false;
			}
		}
		if (*s == '\0' || (*g == '?' ? *s == '\n' : *g != *s))
			return false;
	}
	return *s == '\0' || (s[0] == '\n' && s[1] == '\0');
}

/* _is_freemail: email is lowercased. */
static bool
fm_is_freemail(struct eval_ctx *ctx, const struct eval_freemail_conf *c, const char *email)
{
	const char *at, *domain;
	size_t len = strlen(email);

	if (len == 0)
		return false;
	if (strset_contains(c->welcomelist, email, len))
		return false;
	/* s/.*\@//: after the last "@" on the line the greedy .* reaches */
	at = NULL;
	for (const char *p = email; *p != '\0' && *p != '\n'; p++)
		if (*p == '@')
			at = p;
	domain = at != NULL ? at + 1 : email;
	if (strset_contains(c->welcomelist, domain, strlen(domain)))
		return false;
	if (fm_match(FM_RE_WELCOME, &ctx->rs->settings, email, len, 0, 0) >= 0)
		return false;
	/* freemail_import_welcomelist_auth: off (lmtpd has no welcomelist_auth) */
	if (strset_contains(c->domains, domain, strlen(domain)))
		return true;
	for (const char *p = strchr(email, '@'); p != NULL; p = strchr(p + 1, '@'))
		for (size_t i = 0; i < c->wildcards.n; i++)
			if (fm_glob(c->wildcards.v[i].p, p + 1))
				return true;
	return false;
}

static const struct eval_freemail_conf *
fm_conf(struct eval_ctx *ctx)
{
	const struct eval_freemail_conf *c = ctx->rs->settings.freemail;

	/* freemail_available: some domain is configured */
	if (c == NULL || (strset_count(c->domains) == 0 && c->wildcards.n == 0) || !fm_init())
		return NULL;
	return c;
}

static struct eval_freemail_state *
fm_state(struct eval_ctx *ctx)
{
	if (ctx->freemail == NULL) {
		ctx->freemail = xcalloc(1, sizeof(*ctx->freemail));
		strlist_init(&ctx->freemail->body);
		strlist_init(&ctx->freemail->from);
	}
	return ctx->freemail;
}

void
eval_freemail_state_free(struct eval_freemail_state **state)
{
	if (*state == NULL)
		return;
	strlist_free(&(*state)->body);
	strlist_free(&(*state)->from);
	free(*state);
	*state = NULL;
}

/* The address group 1 of the last match, lowercased, added to out once. */
static void
fm_take_email(const char *s, struct strlist *out)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(fm.md);
	char *e = xstrndup(s + ov[2], ov[3] - ov[2]);

	eval_freemail_lc(e, ov[3] - ov[2]);
	if (!fm_list_has(out, e))
		strlist_add_owned(out, e, ov[3] - ov[2]);
	else
		free(e);
}

/* One body line: the two clean-ups, then every address left. */
static void
fm_scan_line(const struct sa_settings *set, const char *line, size_t len,
	     struct strlist *emails)
{
	char *a, *b;
	PCRE2_SIZE alen, blen, pos = 0;
	int rc;

	if (memchr(line, '@', len) == NULL)
		return;
	alen = len + 1;
	a = xmalloc(alen);
	(void)pcre2_set_callout(fm.mctx, fm_tld_callout, (void *)(uintptr_t)set);
	/* The replacement is shorter than any match: the output fits. */
	rc = pcre2_substitute(fm.re[FM_RE_URL_AT], (PCRE2_SPTR)line, len, 0,
			      PCRE2_SUBSTITUTE_GLOBAL, fm.md, fm.mctx, (PCRE2_SPTR) " ", 1,
			      (PCRE2_UCHAR *)a, &alen);
	if (rc < 0) {
		free(a);
		return;
	}
	blen = alen + 1;
	b = xmalloc(blen);
	rc = pcre2_substitute(fm.re[FM_RE_EMAIL_TAG], (PCRE2_SPTR)a, alen, 0,
			      PCRE2_SUBSTITUTE_GLOBAL, fm.md, fm.mctx, (PCRE2_SPTR) " ", 1,
			      (PCRE2_UCHAR *)b, &blen);
	free(a);
	if (rc < 0) {
		free(b);
		return;
	}
	while (pos < blen && emails->n < 40 &&
	       fm_match(FM_RE_EMAIL, set, b, blen, pos, 0) >= 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(fm.md);

		fm_take_email(b, emails);
		pos = ov[1] > pos ? ov[1] : pos + 1;
	}
	free(b);
}

/* _parse_body: the body's addresses, then the freemail ones among them,
 * unless there are too many.  Returns false when the body is skipped. */
static bool
fm_parse_body(struct eval_ctx *ctx, const struct eval_freemail_conf *c)
{
	struct eval_freemail_state *st = fm_state(ctx);
	const struct sa_settings *set = &ctx->rs->settings;
	struct strlist emails;
	long count_all = 0, count_fm = 0;

	if (st->body_parsed)
		return !st->skip_body;
	st->body_parsed = true;
	strlist_init(&emails);
	{
		const struct strlist *html = msgview_html_uris(ctx->mv);

		for (size_t i = 0; html != NULL && i < html->n && emails.n < 20; i++) {
			const char *u = html->v[i].p;

			if (html->v[i].len < 7 || strncasecmp(u, "mailto:", 7) != 0)
				continue;
			if (fm_match(FM_RE_EMAIL, set, u, html->v[i].len, 7, PCRE2_ANCHORED) >= 0)
				fm_take_email(u, &emails);
		}
	}
	{
		const struct strlist *body = msgview_body(ctx->mv);

		for (size_t i = 0; i < body->n && i < FREEMAIL_MAX_LINES && emails.n < 40; i++)
			fm_scan_line(set, body->v[i].p,
				     body->v[i].len < FREEMAIL_MAX_LINE ? body->v[i].len
									: FREEMAIL_MAX_LINE,
				     &emails);
	}
	for (size_t i = 0; i < emails.n; i++) {
		if (++count_all == c->max_body_emails && c->skip_when_over_max) {
			st->skip_body = true;
			break;
		}
		if (!fm_is_freemail(ctx, c, emails.v[i].p))
			continue;
		if (++count_fm == c->max_body_freemails && c->skip_when_over_max) {
			st->skip_body = true;
			break;
		}
		strlist_add(&st->body, emails.v[i].p, emails.v[i].len);
	}
	strlist_free(&emails);
	return !st->skip_body;
}

/* PerMsgStatus::all_from_addrs, lowercased and without "" (the keys of
 * check_freemail_from's %from_addrs). */
static const struct strlist *
fm_from_addrs(struct eval_ctx *ctx)
{
	static const char *const headers[] = { "From:addr", "Envelope-Sender:addr",
					       "Resent-Sender:addr", "X-Envelope-From:addr",
					       "EnvelopeFrom:addr" };
	struct eval_freemail_state *st = fm_state(ctx);
	struct strlist raw;
	bool resent;

	if (st->have_from)
		return &st->from;
	st->have_from = true;
	strlist_init(&raw);
	fm_get_list(ctx, "Resent-From:first:addr", false, &raw);
	resent = raw.n > 0;
	for (size_t h = 0; !resent && h < N_ELEMENTS(headers); h++)
		fm_get_list(ctx, headers[h], false, &raw);
	for (size_t i = 0; i < raw.n; i++) {
		char *a = raw.v[i].p;
		size_t o = 0;

		if (raw.v[i].len == 0)
			continue;
		if (!resent) {
			/* tr/././s */
			for (size_t k = 0; k < raw.v[i].len; k++)
				if (!(a[k] == '.' && o > 0 && a[o - 1] == '.'))
					a[o++] = a[k];
			a[o] = '\0';
		} else {
			o = raw.v[i].len;
		}
		eval_freemail_lc(a, o);
		if (!fm_list_has(&st->from, a))
			strlist_add(&st->from, a, o);
	}
	strlist_free(&raw);
	return &st->from;
}

/* FreeMail.pm's _test_log: the address(es) behind a hit, "@" written
 * "(at)", under the rule's line in the report. */
static void
fm_test_log(struct eval_ctx *ctx, const struct eval_freemail_conf *c, const char *what)
{
	struct buf b;

	if (!c->add_describe_email)
		return;
	buf_init(&b, 0);
	for (const char *p = what; *p != '\0'; p++)
		if (*p == '@')
			buf_put_str(&b, "(at)");
		else
			buf_put(&b, p, 1);
	eval_test_log(ctx, "%s", b.data != NULL ? b.data : "");
	buf_free(&b);
}

/* ---- the eval functions ---- */

/* check_freemail_header(header[, regex]): some address of the header is
 * freemail (and matches regex). */
static unsigned int
eval_check_freemail_header(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct eval_freemail_conf *c = fm_conf(ctx);
	struct strlist emails;
	pcre2_code *re = NULL;
	unsigned int hit = 0;
	char request[512];

	if (c == NULL || call->arg_count < 1)
		return 0;
	if (call->arg_count >= 2 && (re = eval_arg_regex(call, 1)) == NULL)
		return 0;
	if ((size_t)snprintf(request, sizeof(request), "%s:addr", call->args[0]) >=
	    sizeof(request)) {
		return 0;
	}
	strlist_init(&emails);
	fm_get_list(ctx, request, true, &emails);
	for (size_t i = 0; i < emails.n && hit == 0; i++) {
		if (!fm_is_freemail(ctx, c, emails.v[i].p))
			continue;
		if (re != NULL && !fm_arg_matches(re, emails.v[i].p))
			continue;
		fm_test_log(ctx, c, emails.v[i].p);
		hit = 1;
	}
	strlist_free(&emails);
	return hit;
}

/* check_freemail_from([regex]): some From-ish address is freemail. */
static unsigned int
eval_check_freemail_from(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct eval_freemail_conf *c = fm_conf(ctx);
	const struct strlist *from;
	pcre2_code *re = NULL;
	unsigned int hit = 0;

	if (c == NULL)
		return 0;
	if (call->arg_count >= 1 && (re = eval_arg_regex(call, 0)) == NULL)
		return 0;
	from = fm_from_addrs(ctx);
	for (size_t i = 0; i < from->n && hit == 0; i++) {
		if (!fm_is_freemail(ctx, c, from->v[i].p))
			continue;
		if (re != NULL && !fm_arg_matches(re, from->v[i].p))
			continue;
		fm_test_log(ctx, c, from->v[i].p);
		hit = 1;
	}
	return hit;
}

/* check_freemail_body([regex]): the body has freemail addresses (one
 * matching regex). */
static unsigned int
eval_check_freemail_body(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct eval_freemail_conf *c = fm_conf(ctx);
	struct eval_freemail_state *st;
	pcre2_code *re = NULL;
	unsigned int hit = 0;

	if (c == NULL || !fm_parse_body(ctx, c))
		return 0;
	st = ctx->freemail;
	if (call->arg_count >= 1 && (re = eval_arg_regex(call, 0)) == NULL)
		return 0;
	if (re == NULL) {
		struct buf all;

		if (st->body.n == 0)
			return 0;
		/* join(', ', keys ...) */
		buf_init(&all, 0);
		for (size_t i = 0; i < st->body.n; i++)
			buf_putf(&all, "%s%s", i > 0 ? ", " : "", st->body.v[i].p);
		fm_test_log(ctx, c, all.data);
		buf_free(&all);
		return 1;
	}
	for (size_t i = 0; i < st->body.n && hit == 0; i++)
		if (fm_arg_matches(re, st->body.v[i].p)) {
			fm_test_log(ctx, c, st->body.v[i].p);
			hit = 1;
		}
	return hit;
}

static size_t
fm_count_freemail(struct eval_ctx *ctx, const struct eval_freemail_conf *c,
		  const struct strlist *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		if (fm_is_freemail(ctx, c, l->v[i].p))
			n++;
	return n;
}

/* check_freemail_replyto(['replyto'|'reply']) */
static unsigned int
eval_check_freemail_replyto(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct eval_freemail_conf *c = fm_conf(ctx);
	const char *what = call->arg_count >= 1 ? call->args[0] : "replyto";
	struct strlist from, replyto;
	const struct strlist *reply_addrs;
	bool from_is_fm, replyto_is_fm, from_not_in_replyto = true;
	unsigned int hit = 0;

	if (c == NULL || (strcmp(what, "replyto") != 0 && strcmp(what, "reply") != 0))
		return 0;
	if (c->skip_bulk_envfrom) {
		struct buf env;
		bool bulk = false;

		buf_init(&env, 0);
		if (msgview_get(ctx->mv, "EnvelopeFrom", &env) && env.data != NULL) {
			/* ($pms->get("EnvelopeFrom"))[0]: the first value */
			const char *nl = memchr(env.data, '\n', env.len);
			size_t len = nl != NULL ? (size_t)(nl - env.data) : env.len;

			bulk = fm_match(FM_RE_BULK, &ctx->rs->settings, env.data, len, 0, 0) >= 0;
		}
		buf_free(&env);
		if (bulk)
			return 0;
	}
	strlist_init(&from);
	strlist_init(&replyto);
	fm_get_list(ctx, "From:addr", true, &from);
	fm_get_list(ctx, "Reply-To:addr", true, &replyto);
	from_is_fm = fm_count_freemail(ctx, c, &from) > 0;
	replyto_is_fm = fm_count_freemail(ctx, c, &replyto) > 0;
	for (size_t i = 0; i < from.n; i++)
		if (fm_list_has(&replyto, from.v[i].p))
			from_not_in_replyto = false;
	if (from_is_fm && replyto_is_fm && from_not_in_replyto) {
		struct buf both;

		/* join(",", @from_addrs) . " -> " . join(",", @replyto_addrs) */
		buf_init(&both, 0);
		for (size_t i = 0; i < from.n; i++)
			buf_putf(&both, "%s%s", i > 0 ? "," : "", from.v[i].p);
		buf_put_str(&both, " -> ");
		for (size_t i = 0; i < replyto.n; i++)
			buf_putf(&both, "%s%s", i > 0 ? "," : "", replyto.v[i].p);
		fm_test_log(ctx, c, both.data);
		buf_free(&both);
		hit = 1;
		goto out;
	}
	if (strcmp(what, "replyto") == 0) {
		if (!replyto_is_fm)
			goto out;
	} else if ((replyto.n > 0 && !replyto_is_fm) || !from_is_fm) {
		/* 'reply': a Reply-To that is not freemail, or a From that is
		 * not */
		goto out;
	}
	if (!fm_parse_body(ctx, c))
		goto out;
	reply_addrs = strcmp(what, "replyto") == 0 || replyto_is_fm ? &replyto : &from;
	for (size_t b = 0; b < ctx->freemail->body.n && hit == 0; b++)
		for (size_t r = 0; r < reply_addrs->n && hit == 0; r++)
			if (strcmp(ctx->freemail->body.v[b].p, reply_addrs->v[r].p) != 0) {
				struct buf both;

				buf_init(&both, 0);
				buf_putf(&both, "%s, %s", reply_addrs->v[r].p,
					 ctx->freemail->body.v[b].p);
				fm_test_log(ctx, c, both.data);
				buf_free(&both);
				hit = 1;
			}
out:
	strlist_free(&from);
	strlist_free(&replyto);
	return hit;
}

/* WLBLEval's check_from_in_list(NAME): some From-ish address is in the
 * enlist_addrlist list NAME (here for all_from_addrs). */
static unsigned int
eval_check_from_in_list(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct addrlist *l;
	const struct strlist *from;

	if (call->arg_count < 1 ||
	    (l = eval_named_list(&ctx->rs->settings, call->args[0])) == NULL)
		return 0;
	from = fm_from_addrs(ctx);
	for (size_t i = 0; i < from->n; i++)
		if (addrlist_match(l, from->v[i].p, NULL))
			return 1;
	return 0;
}

/* check_replyto_in_list(NAME): the first Reply-To address is listed. */
static unsigned int
eval_check_replyto_in_list(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct addrlist *l;
	struct strlist replyto;
	unsigned int hit = 0;

	if (call->arg_count < 1 ||
	    (l = eval_named_list(&ctx->rs->settings, call->args[0])) == NULL)
		return 0;
	strlist_init(&replyto);
	fm_get_list(ctx, "Reply-To:addr", false, &replyto);
	if (replyto.n > 0 && replyto.v[0].len > 0 && addrlist_match(l, replyto.v[0].p, NULL))
		hit = 1;
	strlist_free(&replyto);
	return hit;
}

static const struct eval_entry eval_freemail_entries[] = {
	{ "check_freemail_from", eval_check_freemail_from, false },
	{ "check_freemail_header", eval_check_freemail_header, false },
	{ "check_freemail_replyto", eval_check_freemail_replyto, false },
	{ "check_freemail_body", eval_check_freemail_body, false },
	{ "check_from_in_list", eval_check_from_in_list, false },
	{ "check_replyto_in_list", eval_check_replyto_in_list, false },
};

const struct eval_family eval_family_freemail = {
	eval_freemail_entries, N_ELEMENTS(eval_freemail_entries), NULL, 0
};
