/* rcpt: address splitting, path safety and user lookup.  Local parts are
 * at most 64 octets and domains 255 (RFC 5321 4.5.3.1); an address that
 * could leave the mail root once expanded into `home` (a '/', a NUL or
 * control character, "." or ".." or a leading dot, invalid UTF-8) is
 * refused at RCPT with 501 5.1.3.  In lib/ because lmtpd-score -u and
 * lmtpd-learn -u must find a user exactly as the daemon does. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "lmtpd_limits.h"
#include "fsutil.h"
#include "log.h"
#include "addrfold.h"
#include "rcpt.h"
#include "usermap.h"
#include "utf8.h"
#include "xalloc.h"

#define RCPT_LOCAL_MAX 64
#define RCPT_DOMAIN_MAX 255

struct rcpt_resolver {
	const struct lmtpd_config *cfg;
	struct usermap *map;	/* NULL for users = static */
};

/* A name that becomes (part of) a path component. */
static const char *
rcpt_component_problem(const char *s)
{
	size_t len = strlen(s);

	if (len == 0)
		return "empty";
	if (s[0] == '.')
		return "starts with a dot";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return "control character";
		if (c == '/')
			return "contains '/'";
	}
	if (strstr(s, "..") != NULL)
		return "contains '..'";
	if (!utf8_valid((const unsigned char *)s, len))
		return "invalid UTF-8";
	/* Legal UTF-8 in RFC 6531, but as a directory name it shows one
	 * mailbox under another's name in ls, and no real address needs one
	 * (right-to-left names get their order from the characters; ZWJ and
	 * ZWNJ, which emoji and some scripts need, are not among them). */
	if (utf8_has_disorder((const unsigned char *)s, len))
		return "has a control, bidirectional formatting or invisible character";
	return NULL;
}

/* RFC 5321 4.1.2 Quoted-string: remove the quotes and the backslashes. */
static char *
rcpt_unquote(const char *s, size_t len)
{
	char *out = xmalloc(len + 1);
	size_t o = 0;
	bool quoted = false;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"') {
			quoted = !quoted;
			continue;
		}
		if (quoted && s[i] == '\\' && i + 1 < len)
			i++;
		out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

/* RFC 5321 4.1.2 atext; RFC 6531 adds UTF-8, whose bytes are all >= 0x80. */
static bool
rcpt_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c >= 0x80 ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* RFC 5321 Dot-string: atoms of atext, one dot between them. */
static bool
rcpt_dot_string(const char *s)
{
	size_t atom = 0;

	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (atom == 0)
				return false;
			atom = 0;
		} else if (rcpt_atext((unsigned char)*s)) {
			atom++;
		} else {
			return false;
		}
	}
	return atom > 0;
}

bool
rcpt_local_part_syntax_ok(const char *local, size_t len)
{
	if (len >= 2 && local[0] == '"' && local[len - 1] == '"') {
		/* one Quoted-string: no bare quote inside, every backslash
		 * escaping the next byte, the closing quote not escaped */
		for (size_t i = 1; i < len - 1; i++) {
			if (local[i] == '\\') {
				if (++i == len - 1)
					return false;
			} else if (local[i] == '"') {
				return false;
			}
		}
		return true;
	}
	/* Unquoted: lenient as Postfix about the rest (rcpt_parse refuses
	 * what can not be a path; "evil+../x" is a user and a detail), but
	 * no '@', which would make it a route, and no quote, which would
	 * quote only a part of it. */
	return len > 0 && memchr(local, '@', len) == NULL && memchr(local, '"', len) == NULL;
}

/* The unquoted local part written back as RFC 5321 wants it: as is when
 * it is a Dot-string, else a Quoted-string with '"' and '\' escaped, so
 * "x@y"@ex.com stays one address in Delivered-To and the log, not
 * x@y@ex.com. */
static char *
rcpt_quote_local(const char *local)
{
	char *out, *o;

	if (rcpt_dot_string(local))
		return xstrdup(local);
	/* UNSAFE: every byte escaped, two quotes and a NUL; local comes from
	 * an RCPT path (at most LMTP_PATH_MAX), so 2 * len can not wrap. */
	out = o = xmalloc(2 * strlen(local) + 3);
	*o++ = '"';
	for (; *local != '\0'; local++) {
		if (*local == '"' || *local == '\\')
			*o++ = '\\';
		*o++ = *local;
	}
	*o++ = '"';
	*o = '\0';
	return out;
}

static bool
rcpt_let_dig(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5321 4.1.3 IPv4-address-literal: four Snum (0-255, 1*3DIGIT). */
static bool
rcpt_ipv4_literal_valid(const char *s, size_t len)
{
	unsigned int parts = 0, digits = 0, value = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (digits == 0 || value > 255)
				return false;
			parts++;
			digits = 0;
			value = 0;
		} else if (s[i] >= '0' && s[i] <= '9' && digits < 3) {
			value = value * 10 + (unsigned int)(s[i] - '0');
			digits++;
		} else {
			return false;
		}
	}
	return parts == 4;
}

/* RFC 5321 4.1.3 address-literal: "[" IPv4 "]", or "[" tag ":" 1*dcontent
 * "]" (IPv6 is the tag "IPv6"); dcontent is printable ASCII but "[", "\"
 * and "]", so a literal can not hide a line end or a second address. */
static bool
rcpt_address_literal_valid(const char *d)
{
	size_t len = strlen(d), n;
	const char *in = d + 1, *colon;

	if (len < 3 || d[0] != '[' || d[len - 1] != ']')
		return false;
	n = len - 2;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']')
			return false;
	}
	colon = memchr(in, ':', n);
	if (colon == NULL)
		return rcpt_ipv4_literal_valid(in, n);
	/* Standardized-tag is an Ldh-str: it ends with a letter or digit. */
	if (colon == in || colon + 1 == in + n || !rcpt_let_dig((unsigned char)colon[-1]))
		return false;
	for (const char *t = in; t < colon; t++)
		if (!rcpt_let_dig((unsigned char)*t) && *t != '-')
			return false;
	return true;
}

/* RFC 5321 4.1.2 Domain: labels of letters, digits and '-', neither first
 * nor last in a label, one dot between labels; RFC 6531 allows U-labels,
 * so bytes of non-ASCII UTF-8 count as letters (SMTPUTF8 is required for
 * them elsewhere).  Or an address literal.  (The one final dot of an
 * absolute name is gone by then.) */
static bool
rcpt_domain_valid(const char *d)
{
	size_t label = 0;
	unsigned char prev = '.';

	if (d[0] == '[')
		return rcpt_address_literal_valid(d);
	if (d[0] == '\0')
		return false;
	for (const char *p = d; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '.') {
			if (label == 0 || prev == '-')
				return false;
			label = 0;
		} else if (c == '-') {
			if (label == 0)
				return false;
			label++;
		} else if (rcpt_let_dig(c) || c >= 0x80 || c == '_') {
			/* '_' is not in RFC 5321's labels, but real host
			 * names carry it and MTAs take it */
			label++;
		} else {
			return false;
		}
		prev = c;
	}
	return prev != '-';
}

bool
rcpt_address_problem(const char *local, const char *domain, char *why, size_t why_size)
{
	const char *problem;

	if ((local != NULL && strlen(local) > RCPT_LOCAL_MAX) || strlen(domain) > RCPT_DOMAIN_MAX)
		snprintf(why, why_size, "too long");
	else if (local != NULL && (problem = rcpt_component_problem(local)) != NULL)
		snprintf(why, why_size, "local part %s", problem);
	else if ((problem = rcpt_component_problem(domain)) != NULL)
		snprintf(why, why_size, "domain %s", problem);
	else if (!rcpt_domain_valid(domain))
		snprintf(why, why_size, "domain is neither a host name nor an address literal");
	else
		return false;
	return true;
}

/* Postfix's split_addr: the addresses never split at a delimiter,
 * whatever it is (with "-", MAILER-DAEMON became "mailer" with a detail),
 * and, with "-" among the delimiters, the list owners' and requests'
 * addresses of old.  local is case-folded. */
static bool
rcpt_may_split(const char *local, size_t len, const char *delimiters)
{
	static const char *const whole[] = { "postmaster", "mailer-daemon", "double-bounce" };

	for (size_t i = 0; i < N_ELEMENTS(whole); i++)
		if (len == strlen(whole[i]) && memcmp(local, whole[i], len) == 0)
			return false;
	if (strchr(delimiters, '-') != NULL &&
	    ((len >= 6 && memcmp(local, "owner-", 6) == 0) ||
	     (len > 8 && memcmp(local + len - 8, "-request", 8) == 0)))
		return false;
	return true;
}

size_t
rcpt_detail_split(const char *local, size_t len, const char *delimiters)
{
	size_t split = 0;

	if (delimiters[0] == '\0' || !rcpt_may_split(local, len, delimiters))
		return len;
	while (split < len && strchr(delimiters, local[split]) == NULL)
		split++;
	/* not at the start: "+foo" is a local part, not an empty one
	 * with a detail */
	return split == 0 ? len : split;
}

int
rcpt_parse(const struct lmtpd_config *cfg, const char *addr, struct rcpt *rcpt,
	   struct dsn *dsn_r)
{
	const char *at = strrchr(addr, '@');
	char *local, *domain, *detail = NULL, *whole, *quoted;
	char why[128] = "";
	size_t split;
	char delim = '\0';

	if (at == NULL) {
		local = xstrdup(addr);
		domain = xstrdup(cfg->hostname);
	} else {
		local = rcpt_unquote(addr, (size_t)(at - addr));
		domain = xstrdup(at + 1);
	}
	/* One mailbox whatever the case: Unicode case folding for SMTPUTF8
	 * addresses too, as Postfix folds its lookup keys.  The limits
	 * below apply to the folded form, which is what becomes a path. */
	whole = addr_casefold(local);
	free(local);
	local = whole;
	whole = addr_casefold(domain);
	free(domain);
	domain = whole;
	/* "example.com." is example.com written as an absolute name; as
	 * Postfix's address resolver does, the one dot goes, so both reach
	 * the same home (a second dot stays, and is refused below). */
	{
		size_t dlen = strlen(domain);

		if (dlen >= 2 && domain[dlen - 1] == '.' && domain[dlen - 2] != '.')
			domain[dlen - 1] = '\0';
	}
	split = rcpt_detail_split(local, strlen(local), cfg->recipient_delimiter);
	if (local[split] != '\0') {
		delim = local[split];
		detail = xstrdup(local + split + 1);
		local[split] = '\0';
	}
	(void)rcpt_address_problem(local, domain, why, sizeof(why));
	/* The detail never becomes a path, but it reaches Sieve and logs. */
	for (const char *p = detail; p != NULL && *p != '\0' && why[0] == '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			snprintf(why, sizeof(why), "control character in detail");
	if (why[0] != '\0') {
		dsn_set(dsn_r, DSN_BAD_ADDRESS, "unusable address: %s", why);
		free(local);
		free(domain);
		free(detail);
		return -1;
	}
	rcpt->local = local;
	rcpt->domain = domain;
	rcpt->detail = detail;
	rcpt->delimiter = delim;
	rcpt->user = xasprintf("%s@%s", local, domain);
	whole = detail != NULL ? xasprintf("%s%c%s", local, delim, detail) : xstrdup(local);
	quoted = rcpt_quote_local(whole);
	rcpt->canonical = xasprintf("%s@%s", quoted, domain);
	free(quoted);
	free(whole);
	return 0;
}

struct rcpt_resolver *
rcpt_resolver_new(const struct lmtpd_config *cfg)
{
	struct rcpt_resolver *res = xcalloc(1, sizeof(*res));

	res->cfg = cfg;
	if (strcmp(cfg->users, "static") != 0)
		res->map = usermap_new(cfg->users);
	return res;
}

void
rcpt_resolver_free(struct rcpt_resolver **resp)
{
	if (*resp == NULL)
		return;
	usermap_free(&(*resp)->map);
	free(*resp);
	*resp = NULL;
}

void
rcpt_free(struct rcpt **rcptp)
{
	struct rcpt *r = *rcptp;

	if (r == NULL)
		return;
	free(r->addr);
	free(r->orcpt);
	free(r->user);
	free(r->canonical);
	free(r->local);
	free(r->domain);
	free(r->detail);
	free(r->home);
	free(r->maildir);
	free(r->sieve_script);
	free(r);
	*rcptp = NULL;
}

/* A final check on an expanded path: absolute, and no ".." component
 * (the template is the admin's, but belt and braces is cheap here). */
static bool
rcpt_path_safe(const char *path)
{
	return path[0] == '/' && !path_has_dotdot(path);
}

/* The map names the address with its detail: that is the user, %u and
 * %n included, and there is no detail. */
static void
rcpt_join_detail(struct rcpt *r)
{
	char *local = xasprintf("%s%c%s", r->local, r->delimiter, r->detail);

	free(r->local);
	r->local = local;
	free(r->detail);
	r->detail = NULL;
	r->delimiter = '\0';
	free(r->user);
	r->user = xasprintf("%s@%s", r->local, r->domain);
}

/* Returns 1 found, 0 unknown, -1 map error (dsn_r set). */
static int
rcpt_map_lookup(struct rcpt_resolver *res, struct rcpt *r,
		struct usermap_attrs *attrs, struct dsn *dsn_r)
{
	char value[USERMAP_VALUE_MAX], key[RCPT_DOMAIN_MAX + 2];
	const char *error, *why;
	int found = 0;

	/* As Postfix's virtual(5) and Dovecot: the address with its detail
	 * first, so that with recipient_delimiter = - the user john-doe is
	 * not john's mail; such a match has no detail. */
	if (r->detail != NULL) {
		char *local = xasprintf("%s%c%s", r->local, r->delimiter, r->detail);
		char *full = xasprintf("%s@%s", local, r->domain);
		char bad[128];

		/* Then the detail becomes a path (%n): no key could hold one
		 * that is unusable (lmtpd-map refuses it), but this is cheap. */
		if (!rcpt_address_problem(local, r->domain, bad, sizeof(bad)))
			found = usermap_lookup(res->map, full, value, sizeof(value),
					       &error);
		free(local);
		if (found > 0)
			rcpt_join_detail(r);
		free(full);
	}
	if (found == 0)
		found = usermap_lookup(res->map, r->user, value, sizeof(value), &error);
	if (found == 0) {
		snprintf(key, sizeof(key), "@%s", r->domain);
		found = usermap_lookup(res->map, key, value, sizeof(value), &error);
	}
	if (found < 0) {
		dsn_set(dsn_r, DSN_TEMP_FAIL, "users map: %s", error);
		return -1;
	}
	if (found == 0)
		return 0;
	if (usermap_parse_value(value, attrs, &why) < 0) {
		dsn_set(dsn_r, DSN_TEMP_FAIL, "users map entry for %s: %s", r->user, why);
		return -1;
	}
	return 1;
}

struct rcpt *
rcpt_resolve(struct rcpt_resolver *res, const char *addr, const char *orcpt,
	     struct dsn *dsn_r)
{
	const struct lmtpd_config *cfg = res->cfg;
	struct rcpt *r = xcalloc(1, sizeof(*r));
	struct usermap_attrs attrs = { NULL, NULL, NULL };
	struct cfg_template_vars vars;
	char home[MAIL_PATH_MAX], maildir[MAIL_PATH_MAX];

	r->same_as = -1;
	if (rcpt_parse(cfg, addr, r, dsn_r) < 0) {
		rcpt_free(&r);
		return NULL;
	}
	r->addr = xstrdup(addr);
	r->orcpt = orcpt != NULL && orcpt[0] != '\0' ? xstrdup(orcpt) : NULL;
	if (res->map != NULL) {
		int found = rcpt_map_lookup(res, r, &attrs, dsn_r);

		if (found <= 0) {
			if (found == 0)
				dsn_set(dsn_r, DSN_UNKNOWN_USER, "not in users map");
			rcpt_free(&r);
			return NULL;
		}
	}
	vars = (struct cfg_template_vars){ r->user, r->local, r->domain, NULL };
	if (cfg_expand(attrs.home != NULL ? attrs.home : cfg->home, &vars, home,
		       sizeof(home)) < 0) {
		dsn_set(dsn_r, DSN_BAD_ADDRESS, "home path too long");
		goto fail;
	}
	vars.h = home;
	if (cfg_expand(attrs.mail_location != NULL ? attrs.mail_location
						    : cfg->mail_location,
		       &vars, maildir, sizeof(maildir)) < 0) {
		dsn_set(dsn_r, DSN_BAD_ADDRESS, "Maildir path too long");
		goto fail;
	}
	if (!rcpt_path_safe(home) || !rcpt_path_safe(maildir)) {
		dsn_set(dsn_r, DSN_TEMP_FAIL, "unsafe path %s for %s", maildir, r->user);
		goto fail;
	}
	r->home = xstrdup(home);
	r->maildir = xstrdup(maildir);
	r->sieve_script = attrs.sieve_script;
	attrs.sieve_script = NULL;
	usermap_attrs_free(&attrs);
	dsn_set(&r->dsn, DSN_RCPT_OK, "recipient ok");
	*dsn_r = r->dsn;
	return r;
fail:
	usermap_attrs_free(&attrs);
	rcpt_free(&r);
	return NULL;
}
