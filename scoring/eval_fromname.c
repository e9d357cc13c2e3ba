/* eval_fromname: SpamAssassin's FromNameSpoof plugin
 * (Plugin/FromNameSpoof.pm 4.0.1): check_fromname_spoof,
 * check_fromname_different, check_fromname_domain_differ,
 * check_fromname_contains_email, check_fromname_equals_to,
 * check_fromname_owners_differ and check_fromname_equals_replyto, all
 * reading the one _check_fromnamespoof pass, cached per message.
 *
 * Settings (fns_add_addrlist, fns_remove_addrlist, fns_extrachars,
 * fns_ignore_dkim, fns_ignore_headers, fns_check) live in
 * struct eval_fromname_conf behind sa_settings.fromname, filled by
 * eval_fromname_apply() from the rule-file parser.
 *
 * lmtpd has no DKIM: "signed by a domain of fns_ignore_dkim" is never
 * true, as in SpamAssassin without the DKIM plugin (parsed_metadata then
 * ignores fns_ignore_dkim and the evals answer at once).
 *
 * Debian's SpamAssassin does not load the plugin, so rules_parse.c keeps
 * its ifplugin blocks off; these functions serve admins who load it. */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "eval.h"
#include "hdr.h"
#include "mime.h"
#include "msgview.h"
#include "rules_int.h"
#include "rules_parse.h"
#include "sa_settings.h"
#include "uri.h"
#include "xalloc.h"

/* Bound on the From name the address pattern is run on. */
#define FNS_MAX_NAME	(64 * 1024)

struct eval_fromname_conf {
	char **names;			/* "fns_" + lc(NAME), as FNS_name */
	struct addrlist *lists;
	bool *added;			/* $conf->{fns_addrlists}{FNS_name} */
	size_t n;
	long extrachars;		/* default 50 */
	long check;			/* default 1 */
	struct strlist ignore_headers;
};

struct eval_fromname_state {
	bool address_different, domain_different, owner_different;
	bool contains_email, equals_to_addr, equals_replyto;
};

static bool
fns_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void
fns_lc(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
}

void
eval_fromname_conf_free(struct eval_fromname_conf **conf)
{
	struct eval_fromname_conf *c = *conf;

	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->names[i]);
		addrlist_free(&c->lists[i]);
	}
	free(c->names);
	free(c->lists);
	free(c->added);
	strlist_free(&c->ignore_headers);
	free(c);
	*conf = NULL;
}

static struct eval_fromname_conf *
fns_conf(struct sa_settings *set)
{
	if (set->fromname == NULL) {
		struct eval_fromname_conf *c = xcalloc(1, sizeof(*c));

		c->extrachars = 50;
		c->check = 1;
		strlist_init(&c->ignore_headers);
		set->fromname = c;
	}
	return set->fromname;
}

/* fns_add_addrlist / fns_remove_addrlist (NAME) addr...:
 * /^ \( (.+?) \) \s+ (.+) \z/sx, list FNS_lc(NAME), words lowercased. */
static int
fns_addrlist(struct sa_settings *set, const char *value, bool add, const char **why_r)
{
	struct eval_fromname_conf *c;
	const char *close = NULL;
	char *name;
	size_t k, nlen;

	if (value[0] != '(' || value[1] == '\0')
		goto missing;
	for (const char *p = value + 2; *p != '\0' && close == NULL; p++)
		if (*p == ')' && fns_is_space((unsigned char)p[1]) && p[2] != '\0')
			close = p;
	if (close == NULL)
		goto missing;
	nlen = (size_t)(close - value - 1);
	name = xstrndup(value + 1, nlen);
	fns_lc(name, nlen);
	c = fns_conf(set);
	for (k = 0; k < c->n && strcmp(c->names[k], name) != 0; k++)
		;
	if (k == c->n) {
		c->names = xreallocarray(c->names, c->n + 1, sizeof(*c->names));
		c->lists = xreallocarray(c->lists, c->n + 1, sizeof(*c->lists));
		c->added = xreallocarray(c->added, c->n + 1, sizeof(*c->added));
		c->names[k] = name;
		memset(&c->lists[k], 0, sizeof(c->lists[k]));
		c->added[k] = false;
		c->n++;
	} else {
		free(name);
	}
	/* the addrlist helpers lowercase each word, as lc $2 does */
	if (add) {
		addrlist_add_words(&c->lists[k], close + 1);
		c->added[k] = true;
	} else {
		addrlist_remove_words(&c->lists[k], close + 1);
	}
	return 1;
missing:
	*why_r = "missing required value";
	return -1;
}

int
eval_fromname_apply(struct sa_settings *set, const char *key, const char *value,
		    const char **why_r)
{
	struct eval_fromname_conf *c;

	if (strcmp(key, "fns_add_addrlist") == 0)
		return fns_addrlist(set, value, true, why_r);
	if (strcmp(key, "fns_remove_addrlist") == 0)
		return fns_addrlist(set, value, false, why_r);
	if (strcmp(key, "fns_extrachars") == 0) {
		char *end;
		long v = strtol(value, &end, 10);

		if (*value == '\0' || *end != '\0') {
			*why_r = "not a number";
			return -1;
		}
		fns_conf(set)->extrachars = v;
		return 1;
	}
	if (strcmp(key, "fns_check") == 0) {
		if (*value == '\0') {
			*why_r = "missing required value";
			return -1;
		}
		if (!(value[0] >= '0' && value[0] <= '2' && value[1] == '\0')) {
			*why_r = "invalid value";
			return -1;
		}
		fns_conf(set)->check = value[0] - '0';
		return 1;
	}
	if (strcmp(key, "fns_ignore_dkim") == 0) {
		/* Recorded by SpamAssassin, but without DKIM it is never
		 * consulted: only the value is checked. */
		if (*value == '\0') {
			*why_r = "missing required value";
			return -1;
		}
		(void)fns_conf(set);
		return 1;
	}
	if (strcmp(key, "fns_ignore_headers") == 0) {
		const char *p = value;

		if (*value == '\0') {
			*why_r = "missing required value";
			return -1;
		}
		c = fns_conf(set);
		for (;;) {
			size_t len = 0;
			bool seen = false;

			while (*p != '\0' && fns_is_space((unsigned char)*p))
				p++;
			if (*p == '\0')
				break;
			while (p[len] != '\0' && !fns_is_space((unsigned char)p[len]))
				len++;
			for (size_t i = 0; i < c->ignore_headers.n && !seen; i++)
				seen = c->ignore_headers.v[i].len == len &&
				       memcmp(c->ignore_headers.v[i].p, p, len) == 0;
			if (!seen)
				strlist_add(&c->ignore_headers, p, len);
			p += len;
		}
		return 1;
	}
	return 0;
}

void
eval_fromname_state_free(struct eval_fromname_state **state)
{
	free(*state);
	*state = NULL;
}

/* $pms->get(request) in scalar context, first line only, or "" */
static void
fns_get(struct eval_ctx *ctx, const char *request, struct buf *out)
{
	const char *nl;

	if (!msgview_get(ctx->mv, request, out)) {
		out->len = 0;
		return;
	}
	nl = out->len > 0 ? memchr(out->data, '\n', out->len) : NULL;
	if (nl != NULL)
		out->len = (size_t)(nl - out->data);
}

/* RegistryBoundaries::uri_to_domain("mailto:$addr") into out; false when
 * undef. */
static bool
fns_uri_to_domain(struct eval_ctx *ctx, const char *addr, size_t len, struct mime_str *out)
{
	const struct sa_settings *set = &ctx->rs->settings;
	struct mime_str uri = { 0 }, host = { 0 };
	const char *h, *q;
	bool is_ip, ok;
	size_t hlen;

	mime_str_add(&uri, "mailto:", 7);
	mime_str_add(&uri, addr, len);
	ok = uri_to_domain_defined(set, uri.p, uri.len, &is_ip);
	mime_str_free(&uri);
	if (!ok)
		return false;
	/* drop from '?' on, then all up to the '@' (defined: exactly one) */
	q = memchr(addr, '?', len);
	hlen = q != NULL ? (size_t)(q - addr) : len;
	h = memchr(addr, '@', hlen);
	if (h == NULL)
		return false;
	h++;
	hlen -= (size_t)(h - addr);
	hdr_idn_to_ascii(h, hlen, &host);
	out->len = 0;
	if (is_ip)
		mime_str_add(out, host.p != NULL ? host.p : "", host.len);
	else
		hdr_trim_domain(set, host.p != NULL ? host.p : "", host.len, out);
	mime_str_add(out, "", 0);
	mime_str_free(&host);
	return true;
}

/* _find_address_owner: the first added FNS list the address matches
 * (lists in order of definition, where Perl's hash order is arbitrary),
 * else the same for local@domain when the address is at a subdomain,
 * else the first label of the domain. */
static char *
fns_owner(const struct eval_fromname_conf *c, const char *addr, const char *domain)
{
	const char *at;

	for (size_t i = 0; c != NULL && i < c->n; i++)
		if (c->added[i] && addrlist_match(&c->lists[i], addr, NULL))
			return xstrdup(c->names[i]);
	/* /^([^\@]+)\@(.+)$/: $2 is all after the first '@' */
	at = strchr(addr, '@');
	if (at != NULL && at > addr && at[1] != '\0' && strcmp(at + 1, domain) != 0) {
		size_t llen = (size_t)(at - addr);
		char *re = xmalloc(llen + 1 + strlen(domain) + 1);
		char *r;

		memcpy(re, addr, llen);
		re[llen] = '@';
		strcpy(re + llen + 1, domain);
		r = fns_owner(c, re, domain);
		free(re);
		return r;
	}
	/* /^([^.]+)\./ */
	{
		const char *dot = strchr(domain, '.');

		if (dot != NULL && dot > domain)
			return xstrndup(domain, (size_t)(dot - domain));
		return xstrdup(domain);
	}
}

/* The From-name address pattern, compiled once per process; ASCII \w as
 * Perl has it on the octet strings get() returns. */
static pcre2_code *fns_re;
static pcre2_match_data *fns_md;

static bool
fns_setup(void)
{
	static const char src[] =
		"\\b([\\w\\.\\!\\#\\$\\%\\&\\'\\*\\+\\/\\=\\?\\^\\_\\`\\{\\|\\}\\~-]+"
		"\\@\\w[\\w-]*\\.\\w[\\w.-]++)\\b";
	int err;
	PCRE2_SIZE off;

	if (fns_re != NULL)
		return true;
	fns_re = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS, &err,
			       &off, NULL);
	if (fns_re == NULL)
		return false;
	fns_md = pcre2_match_data_create_from_pattern(fns_re, NULL);
	if (fns_md == NULL) {
		pcre2_code_free(fns_re);
		fns_re = NULL;
		return false;
	}
	return true;
}

static size_t
fns_count_nonalnum(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			n++;
	return n;
}

static bool
fns_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* _check_fromnamespoof */
static void
fns_check(struct eval_ctx *ctx, struct eval_fromname_state *st)
{
	const struct eval_fromname_conf *c = ctx->rs->settings.fromname;
	long extrachars = c != NULL ? c->extrachars : 50;
	struct buf from_addr, fromname, replyto, tmp;
	struct mime_str from_domain = { 0 }, fn_domain = { 0 };
	char *fn_addr = NULL, *fn_owner = NULL, *from_owner = NULL;
	size_t fn_len;
	int rc;

	/* fns_ignore_dkim: DKIMDOMAIN is always empty here (no DKIM). */
	buf_init(&tmp, 0);
	for (size_t i = 0; c != NULL && i < c->ignore_headers.n; i++) {
		bool set = msgview_get(ctx->mv, c->ignore_headers.v[i].p, &tmp);

		/* Perl truth: defined, not "" and not "0" */
		if (set && tmp.len > 0 && !(tmp.len == 1 && tmp.data[0] == '0')) {
			buf_free(&tmp);
			return;
		}
		buf_reset(&tmp);
	}
	buf_free(&tmp);

	buf_init(&from_addr, 0);
	buf_init(&fromname, 0);
	buf_init(&replyto, 0);
	fns_get(ctx, "From:addr", &from_addr);
	fns_lc(from_addr.data, from_addr.len);
	if (!fns_uri_to_domain(ctx, from_addr.data != NULL ? from_addr.data : "", from_addr.len,
			       &from_domain))
		goto out;
	fns_get(ctx, "From:name", &fromname);
	fns_lc(fromname.data, fromname.len);
	if (fromname.len > FNS_MAX_NAME || !fns_setup())
		goto out;
	rc = pcre2_match(fns_re, (PCRE2_SPTR)(fromname.data != NULL ? fromname.data : ""),
			 fromname.len, 0, 0, fns_md, NULL);
	if (rc < 2)
		goto out;	/* no From-name address */
	{
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(fns_md);
		size_t nochar;
		long len;

		fn_len = (size_t)(ov[3] - ov[2]);
		fn_addr = xstrndup(fromname.data + ov[2], fn_len);
		if (!fns_uri_to_domain(ctx, fn_addr, fn_len, &fn_domain))
			goto out;
		st->contains_email = true;
		/* the "closeness": name length plus its extra non-alnum
		 * characters, less the address length */
		nochar = fns_count_nonalnum(fromname.data, fromname.len) -
			 fns_count_nonalnum(fn_addr, fn_len);
		len = (long)fromname.len + (long)nochar - (long)fn_len;
		if (!(len <= extrachars))
			goto out;
	}
	/* from_addr may hold NULs: the C string stops at the first, which
	 * only changes owners for such hostile input. */
	{
		char *fa = xstrndup(from_addr.data != NULL ? from_addr.data : "", from_addr.len);

		fn_owner = fns_owner(c, fn_addr, fn_domain.p);
		from_owner = fns_owner(c, fa, from_domain.p);
		if (!fns_eq(fn_addr, fn_len, from_addr.data, from_addr.len))
			st->address_different = true;
		if (strcmp(fn_domain.p, from_domain.p) != 0)
			st->domain_different = true;
		if (strcmp(fn_owner, from_owner) != 0)
			st->owner_different = true;
		free(fa);
	}
	fns_get(ctx, "Reply-To:addr", &replyto);
	fns_lc(replyto.data, replyto.len);
	if (fns_eq(fn_addr, fn_len, replyto.data, replyto.len))
		st->equals_replyto = true;
	{
		const struct strlist *to = eval_all_to_addrs(ctx);

		for (size_t i = 0; i < to->n; i++)
			if (fns_eq(fn_addr, fn_len, to->v[i].p, to->v[i].len)) {
				st->equals_to_addr = true;
				break;
			}
	}
out:
	free(fn_addr);
	free(fn_owner);
	free(from_owner);
	mime_str_free(&from_domain);
	mime_str_free(&fn_domain);
	buf_free(&from_addr);
	buf_free(&fromname);
	buf_free(&replyto);
}

static struct eval_fromname_state *
fns_state(struct eval_ctx *ctx)
{
	if (ctx->fromname == NULL) {
		ctx->fromname = xcalloc(1, sizeof(*ctx->fromname));
		fns_check(ctx, ctx->fromname);
	}
	return ctx->fromname;
}

static unsigned int
eval_check_fromname_spoof(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct eval_fromname_conf *c = ctx->rs->settings.fromname;
	const struct eval_fromname_state *st = fns_state(ctx);
	long lvl = c != NULL ? c->check : 1;

	/* the deprecated level argument, when it is 0, 1 or 2 */
	if (call->arg_count > 0 && call->args[0][0] >= '0' && call->args[0][0] <= '2' &&
	    (call->args[0][1] == '\0' || (call->args[0][1] == '\n' && call->args[0][2] == '\0')))
		lvl = call->args[0][0] - '0';
	if (lvl == 0)
		return st->address_different;
	if (lvl == 1)
		return st->address_different && st->owner_different;
	return st->address_different && st->domain_different;
}

static unsigned int
eval_check_fromname_different(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return fns_state(ctx)->address_different;
}

static unsigned int
eval_check_fromname_domain_differ(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return fns_state(ctx)->domain_different;
}

static unsigned int
eval_check_fromname_contains_email(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return fns_state(ctx)->contains_email;
}

static unsigned int
eval_check_fromname_equals_to(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return fns_state(ctx)->equals_to_addr;
}

static unsigned int
eval_check_fromname_owners_differ(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return fns_state(ctx)->owner_different;
}

static unsigned int
eval_check_fromname_equals_replyto(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return fns_state(ctx)->equals_replyto;
}

static const struct eval_entry eval_fromname_entries[] = {
	{ "check_fromname_spoof", eval_check_fromname_spoof, false },
	{ "check_fromname_different", eval_check_fromname_different, false },
	{ "check_fromname_domain_differ", eval_check_fromname_domain_differ, false },
	{ "check_fromname_contains_email", eval_check_fromname_contains_email, false },
	{ "check_fromname_equals_to", eval_check_fromname_equals_to, false },
	{ "check_fromname_owners_differ", eval_check_fromname_owners_differ, false },
	{ "check_fromname_equals_replyto", eval_check_fromname_equals_replyto, false },
};

const struct eval_family eval_family_fromname = {
	eval_fromname_entries, N_ELEMENTS(eval_fromname_entries), NULL, 0
};
