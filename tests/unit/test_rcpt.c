/* Unit tests for lib/rcpt and lib/usermap: address splitting and path
 * safety, resolution with users = static and with a real compiled Berkeley
 * DB users map, and the map compiler's "file:line: why" errors. */
#include "config.h"

#include "check_compat.h"

#include "buf.h"
#include "cfg.h"
#include "dsn.h"
#include "rcpt.h"
#include "lmtpd_limits.h"
#include "usermap.h"
#include "xalloc.h"

/* A real config file with these keys (NULL = the default). */
static struct lmtpd_config *
make_cfg(const char *delimiter, const char *users, const char *home,
	 const char *mail_location)
{
	char path[PATH_MAX], text[2048], *error = NULL;
	struct lmtpd_config *cfg;
	int n;

	n = snprintf(text, sizeof(text), "hostname = mx.example.org\n"
		     "home = %s\nmail_location = %s\nusers = %s\n",
		     home != NULL ? home : "/var/mail/%d/%n",
		     mail_location != NULL ? mail_location : "%h/Maildir",
		     users != NULL ? users : "static");
	if (delimiter != NULL)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
			      "recipient_delimiter = %s\n", delimiter);
	ut_pathf(path, sizeof(path), "%s/lmtpd.conf", ut_testdir());
	ut_write_text(path, text);
	cfg = cfg_load(path, &error);
	ck_assert_msg(cfg != NULL, "%s", error);
	return cfg;
}

static void
rcpt_fields_free(struct rcpt *r)
{
	free(r->user);
	free(r->local);
	free(r->domain);
	free(r->detail);
	free(r->canonical);
}

/* ---- rcpt_parse ---- */

static const struct {
	const char *delim;	/* recipient_delimiter; NULL = default "+" */
	const char *addr;
	const char *local, *domain, *detail, *canonical;	/* NULL local: refused */
} parse_cases[] = {
	{ NULL, "alice@example.com", "alice", "example.com", NULL, "alice@example.com" },
	{ NULL, "Alice+Sports@Example.COM", "alice", "example.com", "sports",
	  "alice+sports@example.com" },
	{ NULL, "bob+a+b@ex.org", "bob", "ex.org", "a+b", "bob+a+b@ex.org" },
	{ NULL, "bob+@ex.org", "bob", "ex.org", "", "bob+@ex.org" },
	{ NULL, "bob-x@ex.org", "bob-x", "ex.org", NULL, "bob-x@ex.org" },
	/* Several delimiter characters: the first one present splits, and
	 * the canonical form keeps the one that was used. */
	{ "+-", "bob-x@ex.org", "bob", "ex.org", "x", "bob-x@ex.org" },
	{ "+-", "bob+x-y@ex.org", "bob", "ex.org", "x-y", "bob+x-y@ex.org" },
	{ "+-", "bob-x+y@ex.org", "bob", "ex.org", "x+y", "bob-x+y@ex.org" },
	{ "-+", "bob+x@ex.org", "bob", "ex.org", "x", "bob+x@ex.org" },
	/* As Postfix's split_addr: a delimiter first does not split (the
	 * local part would be empty), nor are these names ever split, nor,
	 * with "-", the list owners' and requests' addresses */
	{ NULL, "+foo@ex.org", "+foo", "ex.org", NULL, "+foo@ex.org" },
	{ NULL, "+@ex.org", "+", "ex.org", NULL, "+@ex.org" },
	{ "-", "MAILER-DAEMON@ex.org", "mailer-daemon", "ex.org", NULL,
	  "mailer-daemon@ex.org" },
	{ "-", "double-bounce@ex.org", "double-bounce", "ex.org", NULL,
	  "double-bounce@ex.org" },
	{ "-", "postmaster@ex.org", "postmaster", "ex.org", NULL, "postmaster@ex.org" },
	{ "+", "postmaster+x@ex.org", "postmaster", "ex.org", "x", "postmaster+x@ex.org" },
	{ "-", "owner-list@ex.org", "owner-list", "ex.org", NULL, "owner-list@ex.org" },
	{ "-", "list-request@ex.org", "list-request", "ex.org", NULL,
	  "list-request@ex.org" },
	{ "-", "list-x-request@ex.org", "list-x-request", "ex.org", NULL,
	  "list-x-request@ex.org" },
	{ "-", "-request@ex.org", "-request", "ex.org", NULL, "-request@ex.org" },
	{ "+", "owner-list+x@ex.org", "owner-list", "ex.org", "x", "owner-list+x@ex.org" },
	{ "+-", "list-request@ex.org", "list-request", "ex.org", NULL,
	  "list-request@ex.org" },
	{ "-", "john-doe@ex.org", "john", "ex.org", "doe", "john-doe@ex.org" },
	/* No delimiter: nothing is split. */
	{ "", "a+b@ex.org", "a+b", "ex.org", NULL, "a+b@ex.org" },
	{ "", "a-b@ex.org", "a-b", "ex.org", NULL, "a-b@ex.org" },
	/* Quoted local parts are unquoted (RFC 5321 4.1.2); the canonical
	 * form quotes them again when they are not a Dot-string, escaping
	 * '"' and '\', so it stays one address (Delivered-To, to=). */
	{ NULL, "\"John Doe\"@ex.org", "john doe", "ex.org", NULL, "\"john doe\"@ex.org" },
	{ NULL, "\"a\\\"b\"@ex.org", "a\"b", "ex.org", NULL, "\"a\\\"b\"@ex.org" },
	{ NULL, "\"a@b\"@ex.org", "a@b", "ex.org", NULL, "\"a@b\"@ex.org" },
	{ NULL, "\"a\\\\b\"@ex.org", "a\\b", "ex.org", NULL, "\"a\\\\b\"@ex.org" },
	{ NULL, "\"x y+a b\"@ex.org", "x y", "ex.org", "a b", "\"x y+a b\"@ex.org" },
	{ NULL, "\"a.\"@ex.org", "a.", "ex.org", NULL, "\"a.\"@ex.org" },
	{ NULL, "a+x.@ex.org", "a", "ex.org", "x.", "\"a+x.\"@ex.org" },
	/* Quotes a Dot-string does not need are dropped, as Postfix does. */
	{ NULL, "\"Alice\"@ex.org", "alice", "ex.org", NULL, "alice@ex.org" },
	{ NULL, "\"a.b+c!#$%&'*/=?^_`{|}~-\"@ex.org", "a.b", "ex.org",
	  "c!#$%&'*/=?^_`{|}~-", "a.b+c!#$%&'*/=?^_`{|}~-@ex.org" },
	/* postmaster without a domain gets the host name. */
	{ NULL, "postmaster", "postmaster", "mx.example.org", NULL,
	  "postmaster@mx.example.org" },
	{ NULL, "PostMaster", "postmaster", "mx.example.org", NULL,
	  "postmaster@mx.example.org" },
	/* UTF-8 (SMTPUTF8) is case-folded as Postfix folds its lookup keys:
	 * one mailbox and one domain whatever the case; full folding (sharp
	 * s is "ss"; the Kelvin sign is "k", so it meets the ASCII name);
	 * no normalization (a decomposed E + U+0301 stays as it is). */
	{ NULL, "J\xc3\x96rg@Ex.org", "j\xc3\xb6rg", "ex.org", NULL,
	  "j\xc3\xb6rg@ex.org" },
	{ NULL, "\xc3\x89L\xc3\x88VE@\xc3\x89" "COLE.example", "\xc3\xa9l\xc3\xa8ve",
	  "\xc3\xa9" "cole.example", NULL, "\xc3\xa9l\xc3\xa8ve@\xc3\xa9" "cole.example" },
	{ NULL, "Stra\xc3\x9f" "e+Post@ex.org", "strasse", "ex.org", "post",
	  "strasse+post@ex.org" },
	{ NULL, "\xe2\x84\xaa" "elvin@ex.org", "kelvin", "ex.org", NULL, "kelvin@ex.org" },
	{ NULL, "E\xcc\x81@ex.org", "e\xcc\x81", "ex.org", NULL, "e\xcc\x81@ex.org" },
	{ NULL, "\xce\xa3\xce\x9f\xce\xa6\xce\x99\xce\x91@ex.org",
	  "\xcf\x83\xce\xbf\xcf\x86\xce\xb9\xce\xb1", "ex.org", NULL,
	  "\xcf\x83\xce\xbf\xcf\x86\xce\xb9\xce\xb1@ex.org" },
	/* The detail never becomes a path: path tricks there are harmless
	 * (".." makes it no Dot-string: quoted). */
	{ NULL, "a+../../etc@ex.org", "a", "ex.org", "../../etc", "\"a+../../etc\"@ex.org" },
	{ NULL, "a+x/y@ex.org", "a", "ex.org", "x/y", "a+x/y@ex.org" },
	/* An absolute domain name: its one final dot goes. */
	{ NULL, "Alice@Example.COM.", "alice", "example.com", NULL, "alice@example.com" },
	{ NULL, "a+x@ex.org.", "a", "ex.org", "x", "a+x@ex.org" },
	/* Refused: anything that could steer a path. */
	{ NULL, "../etc@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "a/b@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "/etc/passwd@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, ".hidden@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "..@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "a..b@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "\"../x\"@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "\"a/b\"@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "a@../ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "a@ex/org", NULL, NULL, NULL, NULL },
	{ NULL, "a@.ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "a@ex..org", NULL, NULL, NULL, NULL },
	{ NULL, "a@..", NULL, NULL, NULL, NULL },
	{ NULL, "a@.", NULL, NULL, NULL, NULL },
	{ NULL, "a@ex.org..", NULL, NULL, NULL, NULL },
	{ NULL, "a@", NULL, NULL, NULL, NULL },
	{ NULL, "@ex.org", NULL, NULL, NULL, NULL },
	/* (an empty local part before a delimiter: not split, so "+x" is
	 * the local part, above) */
	{ NULL, "a\x01" "b@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "a\tb@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "a\x7f@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "a@ex\x1f.org", NULL, NULL, NULL, NULL },
	{ NULL, "a+x\ry@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "a+x\x7f@ex.org", NULL, NULL, NULL, NULL },
	/* A domain must be RFC 5321 labels ('_' too, as real host names
	 * have it; UTF-8 U-labels) or an address literal. */
	{ NULL, "x@mail_out.Example", "x", "mail_out.example", NULL, "x@mail_out.example" },
	{ NULL, "x@a--b.9.example", "x", "a--b.9.example", NULL, "x@a--b.9.example" },
	{ NULL, "x@d\xc3\xa9.example", "x", "d\xc3\xa9.example", NULL, "x@d\xc3\xa9.example" },
	{ NULL, "x@localhost", "x", "localhost", NULL, "x@localhost" },
	{ NULL, "x@[192.0.2.1]", "x", "[192.0.2.1]", NULL, "x@[192.0.2.1]" },
	{ NULL, "x@[IPv6:2001:db8::1]", "x", "[ipv6:2001:db8::1]", NULL, "x@[ipv6:2001:db8::1]" },
	{ NULL, "x@[x-tag:any-thing]", "x", "[x-tag:any-thing]", NULL, "x@[x-tag:any-thing]" },
	{ NULL, "x@[]", NULL, NULL, NULL, NULL },
	{ NULL, "x@ex.com:25", NULL, NULL, NULL, NULL },
	{ NULL, "x@*", NULL, NULL, NULL, NULL },
	{ NULL, "x@-ex.com", NULL, NULL, NULL, NULL },
	{ NULL, "x@ex-.com", NULL, NULL, NULL, NULL },
	{ NULL, "x@ex.com\\", NULL, NULL, NULL, NULL },
	{ NULL, "x@[1.2.3]", NULL, NULL, NULL, NULL },
	{ NULL, "x@[1.2.3.256]", NULL, NULL, NULL, NULL },
	{ NULL, "x@[1.2.3.4.5]", NULL, NULL, NULL, NULL },
	{ NULL, "x@[1.2.3.0004]", NULL, NULL, NULL, NULL },
	{ NULL, "x@[IPv6:]", NULL, NULL, NULL, NULL },
	{ NULL, "x@[:1]", NULL, NULL, NULL, NULL },
	{ NULL, "x@[tag-:x]", NULL, NULL, NULL, NULL },
	{ NULL, "x@[a\\b:c]", NULL, NULL, NULL, NULL },
	{ NULL, "x@[a:[b]]", NULL, NULL, NULL, NULL },
	{ NULL, "x@[1.2.3.4]x", NULL, NULL, NULL, NULL },
	/* Invalid UTF-8. */
	{ NULL, "\xc3@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "\xc0\xaf@ex.org", NULL, NULL, NULL, NULL },	/* overlong '/' */
	{ NULL, "\xe0\x80\xaf@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "\xed\xa0\x80@ex.org", NULL, NULL, NULL, NULL },	/* surrogate */
	{ NULL, "\xf4\x90\x80\x80@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "\xff@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "a@\xc3(.org", NULL, NULL, NULL, NULL },
	/* Valid UTF-8 that would make a directory show under another name:
	 * a C1 control (NEL), RIGHT-TO-LEFT OVERRIDE, an isolate, a mark, a
	 * line separator; in the local part or the domain. */
	{ NULL, "ev\xc2\x85il@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "\xe2\x80\xaelivE@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "a\xe2\x81\xa6" "b@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "a\xe2\x80\x8f@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "a\xe2\x80\xa8@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "a@ex\xe2\x80\xae.org", NULL, NULL, NULL, NULL },
	/* characters shown as nothing: "plain" five ways */
	{ NULL, "pl\xe2\x80\x8b" "ain@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "pl\xc2\xad" "ain@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "pl\xe2\x81\xa0" "ain@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "pl\xe2\x81\xa4" "ain@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "\xef\xbb\xbf" "plain@ex.org", NULL, NULL, NULL, NULL },
	{ NULL, "plain@ex\xe2\x80\x8b.org", NULL, NULL, NULL, NULL },
	/* Right-to-left letters need none of them; a zero-width joiner is
	 * part of emoji sequences and stays, and so does the non-joiner
	 * Persian writing needs. */
	{ NULL, "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d@ex.org", "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d",
	  "ex.org", NULL, "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d@ex.org" },
	{ NULL, "a\xe2\x80\x8d" "b@ex.org", "a\xe2\x80\x8d" "b", "ex.org", NULL,
	  "a\xe2\x80\x8d" "b@ex.org" },
	{ NULL, "a\xe2\x80\x8c" "b@ex.org", "a\xe2\x80\x8c" "b", "ex.org", NULL,
	  "a\xe2\x80\x8c" "b@ex.org" },
	/* The detail is no path: only ASCII controls are refused there. */
	{ NULL, "bob+\xe2\x80\xae" "x@ex.org", "bob", "ex.org", "\xe2\x80\xae" "x",
	  "bob+\xe2\x80\xae" "x@ex.org" },
};

/* RCPT's local part as written: one Quoted-string, or no '@' nor quote. */
START_TEST(rcpt_local_part_syntax)
{
	static const struct {
		const char *local;
		bool ok;
	} cases[] = {
		{ "a", true }, { "a.b", true }, { "a+b-c", true }, { "j\xc3\xb6rg", true },
		{ "\"a@b\"", true }, { "\"x y\"", true }, { "\"a\\\"@b\"", true },
		{ "\"a\\\\\"", true }, { "\"\"", true },
		{ "a@b", false }, { "a\"@\"b", false }, { "\"a\".\"b@c\"", false },
		{ "\"a\"b", false }, { "a\\\"@b\"", false }, { "\"a\\\"", false },
		{ "\"\\\\\"x\"", false }, { "", false }, { "\"", false },
		/* unquoted, the rest is rcpt_parse's to judge */
		{ "evil+../x", true }, { "a(b)", true },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++)
		ck_assert_msg(rcpt_local_part_syntax_ok(cases[i].local, strlen(cases[i].local)) ==
			      cases[i].ok, "%s", cases[i].local);
}
END_TEST

START_TEST(rcpt_parse_table)
{
	struct lmtpd_config *cfg = make_cfg(parse_cases[_i].delim, NULL, NULL, NULL);
	struct rcpt r;
	struct dsn dsn;
	int ret;

	memset(&r, 0, sizeof(r));
	ret = rcpt_parse(cfg, parse_cases[_i].addr, &r, &dsn);
	if (parse_cases[_i].local == NULL) {
		ck_assert_msg(ret == -1, "'%s' accepted as %s",
			      ut_escs(parse_cases[_i].addr), ut_escs(r.canonical));
		ck_assert_int_eq(dsn.reason, DSN_BAD_ADDRESS);
		ck_assert_ptr_nonnull(strstr(dsn.text, "unusable address: "));
		ck_assert_ptr_null(r.user);
	} else {
		ck_assert_msg(ret == 0, "'%s' refused: %s", ut_escs(parse_cases[_i].addr),
			      dsn.text);
		ck_assert_str_eq(r.local, parse_cases[_i].local);
		ck_assert_str_eq(r.domain, parse_cases[_i].domain);
		if (parse_cases[_i].detail == NULL)
			ck_assert_ptr_null(r.detail);
		else
			ck_assert_str_eq(r.detail, parse_cases[_i].detail);
		ck_assert_str_eq(r.canonical, parse_cases[_i].canonical);
		/* %u: local@domain without the detail. */
		ck_assert(strncmp(r.user, r.local, strlen(r.local)) == 0 &&
			  r.user[strlen(r.local)] == '@' &&
			  strcmp(r.user + strlen(r.local) + 1, r.domain) == 0);
	}
	rcpt_fields_free(&r);
	cfg_free(&cfg);
}
END_TEST

/* Local part 63, 64 and 65 octets; domain 254, 255 and 256. */
START_TEST(rcpt_parse_lengths)
{
	struct lmtpd_config *cfg = make_cfg(NULL, NULL, NULL, NULL);
	char addr[600];
	struct rcpt r;
	struct dsn dsn;
	size_t local_len = 63 + (size_t)_i, domain_len = 254 + (size_t)_i;
	int ret;

	/* Local part, with a detail that does not count. */
	memset(addr, 'l', local_len);
	strcpy(addr + local_len, "+some-long-detail-text@ex.org");
	memset(&r, 0, sizeof(r));
	ret = rcpt_parse(cfg, addr, &r, &dsn);
	ck_assert_int_eq(ret, local_len <= 64 ? 0 : -1);
	if (ret == 0)
		ck_assert_uint_eq(strlen(r.local), local_len);
	else
		ck_assert_str_eq(dsn.text, "unusable address: too long");
	rcpt_fields_free(&r);

	/* Domain: labels of 9 letters and a dot, cut to length. */
	strcpy(addr, "a@");
	for (size_t i = 0; i < domain_len; i++)
		addr[2 + i] = i % 10 == 9 ? '.' : 'd';
	addr[2 + domain_len] = '\0';
	if (addr[1 + domain_len] == '.')
		addr[1 + domain_len] = 'd';
	memset(&r, 0, sizeof(r));
	ret = rcpt_parse(cfg, addr, &r, &dsn);
	ck_assert_int_eq(ret, domain_len <= 255 ? 0 : -1);
	if (ret == 0)
		ck_assert_uint_eq(strlen(r.domain), domain_len);
	rcpt_fields_free(&r);
	cfg_free(&cfg);
}
END_TEST

/* ---- rcpt_resolve, users = static ---- */

START_TEST(rcpt_resolve_static)
{
	struct lmtpd_config *cfg = make_cfg(NULL, NULL, "/srv/mail/%d/%n", NULL);
	struct rcpt_resolver *res = rcpt_resolver_new(cfg);
	struct dsn dsn;
	struct rcpt *r;

	r = rcpt_resolve(res, "Alice+Lists@Example.COM", "rfc822;alice@example.com",
			 &dsn);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(dsn.reason, DSN_RCPT_OK);
	ck_assert_int_eq(r->dsn.reason, DSN_RCPT_OK);
	ck_assert_str_eq(r->addr, "Alice+Lists@Example.COM");
	ck_assert_str_eq(r->orcpt, "rfc822;alice@example.com");
	ck_assert_str_eq(r->user, "alice@example.com");
	ck_assert_str_eq(r->detail, "lists");
	ck_assert_str_eq(r->canonical, "alice+lists@example.com");
	ck_assert_str_eq(r->home, "/srv/mail/example.com/alice");
	ck_assert_str_eq(r->maildir, "/srv/mail/example.com/alice/Maildir");
	ck_assert_ptr_null(r->sieve_script);
	ck_assert_int_eq(r->same_as, -1);
	rcpt_free(&r);
	ck_assert_ptr_null(r);
	rcpt_free(&r);

	/* An empty ORCPT is no ORCPT. */
	r = rcpt_resolve(res, "bob@example.com", "", &dsn);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_null(r->orcpt);
	rcpt_free(&r);
	r = rcpt_resolve(res, "bob@example.com", NULL, &dsn);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_null(r->orcpt);
	rcpt_free(&r);

	/* A refused address is 501 5.1.3 at RCPT. */
	ck_assert_ptr_null(rcpt_resolve(res, "../../etc@example.com", NULL, &dsn));
	ck_assert_int_eq(dsn.reason, DSN_BAD_ADDRESS);
	ck_assert_int_eq(dsn_code(&dsn), 501);
	rcpt_resolver_free(&res);
	ck_assert_ptr_null(res);
	cfg_free(&cfg);
}
END_TEST

static const struct {
	const char *home, *mail_location, *addr;
	const char *want_home, *want_maildir;
} template_cases[] = {
	{ "/srv/%u", "%h/Maildir", "a+x@b.org", "/srv/a@b.org", "/srv/a@b.org/Maildir" },
	{ "/srv/%d/%n", "/maildirs/%d/%n", "A@B.org", "/srv/b.org/a", "/maildirs/b.org/a" },
	{ "/home/%n", "%h", "a@b.org", "/home/a", "/home/a" },
	{ "/h/%%/%n", "%h/%u/%%", "a@b.org", "/h/%/a", "/h/%/a/a@b.org/%" },
	{ "/var/mail", "%h/%d/%n/Maildir", "a@b.org", "/var/mail",
	  "/var/mail/b.org/a/Maildir" },
	{ "/srv/%n", "%h/Maildir", "postmaster", "/srv/postmaster",
	  "/srv/postmaster/Maildir" },
};

START_TEST(rcpt_resolve_templates)
{
	struct lmtpd_config *cfg = make_cfg(NULL, NULL, template_cases[_i].home,
					    template_cases[_i].mail_location);
	struct rcpt_resolver *res = rcpt_resolver_new(cfg);
	struct dsn dsn;
	struct rcpt *r = rcpt_resolve(res, template_cases[_i].addr, NULL, &dsn);

	ck_assert_msg(r != NULL, "%s", dsn.text);
	ck_assert_str_eq(r->home, template_cases[_i].want_home);
	ck_assert_str_eq(r->maildir, template_cases[_i].want_maildir);
	rcpt_free(&r);
	rcpt_resolver_free(&res);
	cfg_free(&cfg);
}
END_TEST

START_TEST(rcpt_resolve_path_too_long)
{
	/* 5 x a 255-octet domain is more than MAIL_PATH_MAX. */
	struct lmtpd_config *cfg = make_cfg(NULL, NULL, "/%d/%d/%d/%d/%d", NULL);
	struct rcpt_resolver *res = rcpt_resolver_new(cfg);
	char addr[300];
	struct dsn dsn;

	strcpy(addr, "a@");
	for (size_t i = 0; i < 250; i++)
		addr[2 + i] = i % 10 == 4 ? '.' : 'd';
	addr[252] = '\0';
	ck_assert_ptr_null(rcpt_resolve(res, addr, NULL, &dsn));
	ck_assert_int_eq(dsn.reason, DSN_BAD_ADDRESS);
	ck_assert_str_eq(dsn.text, "home path too long");
	/* A short one with the same templates is fine. */
	struct rcpt *r = rcpt_resolve(res, "a@b.org", NULL, &dsn);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->home, "/b.org/b.org/b.org/b.org/b.org");
	rcpt_free(&r);
	rcpt_resolver_free(&res);
	cfg_free(&cfg);
}
END_TEST

/* ---- rcpt_resolve with a compiled users map ---- */

static const char users_map[] =
	"# the users map\n"
	"alice@example.com\n"
	"bob@example.com   home=/srv/bob mail_location=%h/Mail\n"
	"Carol@Example.COM home=/srv/u/%d/%n\n"
	"dave@example.com  sieve_script=/srv/sieve/dave.sieve\n"
	"erin@example.com  mail_location=/maildirs/%u\n"
	"frank@example.com\n"
	"  home=/srv/frank\n"
	"\tmail_location=%h/Frank\n"
	"@catchall.org     home=/srv/catch/%d/%n\n"
	/* an absolute domain name: looked up without its final dot */
	"gina@example.com. home=/srv/gina\n";

/* Writes the text map in a fresh folder and compiles it; returns the
 * text map's path (static). */
static const char *
compile_map(const char *text)
{
	static char path[PATH_MAX];
	char *error = NULL;

	ut_pathf(path, sizeof(path), "%s/users", ut_testdir());
	ut_write_text(path, text);
	ck_assert_msg(usermap_compile(path, &error) == 0, "%s", error);
	ck_assert_ptr_null(error);
	return path;
}

static void
recompile(const char *path, const char *text)
{
	char *error = NULL;

	ut_write_text(path, text);
	ck_assert_msg(usermap_compile(path, &error) == 0, "%s", error);
}

static const struct {
	const char *addr;
	enum dsn_reason reason;
	const char *home, *maildir, *sieve;
} map_cases[] = {
	{ "alice@example.com", DSN_RCPT_OK, "/var/mail/example.com/alice",
	  "/var/mail/example.com/alice/Maildir", NULL },
	/* Keys are looked up lowercased and without the detail. */
	{ "ALICE+news@Example.Com", DSN_RCPT_OK, "/var/mail/example.com/alice",
	  "/var/mail/example.com/alice/Maildir", NULL },
	{ "bob@example.com", DSN_RCPT_OK, "/srv/bob", "/srv/bob/Mail", NULL },
	{ "carol@example.com", DSN_RCPT_OK, "/srv/u/example.com/carol",
	  "/srv/u/example.com/carol/Maildir", NULL },
	{ "dave@example.com", DSN_RCPT_OK, "/var/mail/example.com/dave",
	  "/var/mail/example.com/dave/Maildir", "/srv/sieve/dave.sieve" },
	{ "erin@example.com", DSN_RCPT_OK, "/var/mail/example.com/erin",
	  "/maildirs/erin@example.com", NULL },
	/* Continuation lines add attributes to the entry above. */
	{ "frank@example.com", DSN_RCPT_OK, "/srv/frank", "/srv/frank/Frank", NULL },
	/* @domain catches every other user of that domain. */
	{ "anyone@catchall.org", DSN_RCPT_OK, "/srv/catch/catchall.org/anyone",
	  "/srv/catch/catchall.org/anyone/Maildir", NULL },
	{ "Other+x@CATCHALL.org", DSN_RCPT_OK, "/srv/catch/catchall.org/other",
	  "/srv/catch/catchall.org/other/Maildir", NULL },
	{ "gina@example.com", DSN_RCPT_OK, "/srv/gina", "/srv/gina/Maildir", NULL },
	{ "gina@example.com.", DSN_RCPT_OK, "/srv/gina", "/srv/gina/Maildir", NULL },
	{ "nobody@example.com", DSN_UNKNOWN_USER, NULL, NULL, NULL },
	{ "alice@example.net", DSN_UNKNOWN_USER, NULL, NULL, NULL },
	{ "anyone@sub.catchall.org", DSN_UNKNOWN_USER, NULL, NULL, NULL },
	{ "alice", DSN_UNKNOWN_USER, NULL, NULL, NULL },
	/* (A map entry whose path leaves its root no longer compiles:
	 * usermap_compile_errors.) */
	{ "evil@example.com", DSN_UNKNOWN_USER, NULL, NULL, NULL },
	{ "../x@example.com", DSN_BAD_ADDRESS, NULL, NULL, NULL },
};

START_TEST(rcpt_resolve_map)
{
	const char *map = compile_map(users_map);
	struct lmtpd_config *cfg = make_cfg(NULL, map, NULL, NULL);
	struct rcpt_resolver *res = rcpt_resolver_new(cfg);
	struct dsn dsn;
	struct rcpt *r = rcpt_resolve(res, map_cases[_i].addr, NULL, &dsn);

	ck_assert_msg(dsn.reason == map_cases[_i].reason, "%s: reason %d (%s)",
		      map_cases[_i].addr, (int)dsn.reason, dsn.text);
	if (map_cases[_i].reason != DSN_RCPT_OK) {
		ck_assert_ptr_null(r);
	} else {
		ck_assert_ptr_nonnull(r);
		ck_assert_str_eq(r->home, map_cases[_i].home);
		ck_assert_str_eq(r->maildir, map_cases[_i].maildir);
		if (map_cases[_i].sieve == NULL)
			ck_assert_ptr_null(r->sieve_script);
		else
			ck_assert_str_eq(r->sieve_script, map_cases[_i].sieve);
	}
	rcpt_free(&r);
	rcpt_resolver_free(&res);
	cfg_free(&cfg);
}
END_TEST

/* As Postfix's virtual(5): the address with its detail is looked up
 * first, so that with recipient_delimiter = - the map's john-doe is not
 * john; matched so, it is the user, with no detail. */
START_TEST(rcpt_map_full_address_first)
{
	const char *map = compile_map("john@example.com home=/srv/john\n"
				      "john-doe@example.com home=/srv/johndoe\n"
				      "bob+lists@example.com home=/srv/bob-lists\n"
				      "bob@example.com home=/srv/bob\n"
				      "@example.org home=/srv/any/%n\n");
	struct lmtpd_config *cfg = make_cfg("+-", map, NULL, NULL);
	struct rcpt_resolver *res = rcpt_resolver_new(cfg);
	static const struct {
		const char *addr, *home, *user, *detail;
	} cases[] = {
		{ "john@example.com", "/srv/john", "john@example.com", NULL },
		{ "John-Doe@example.com", "/srv/johndoe", "john-doe@example.com", NULL },
		{ "john-smith@example.com", "/srv/john", "john@example.com", "smith" },
		{ "john+doe@example.com", "/srv/john", "john@example.com", "doe" },
		{ "bob+lists@example.com", "/srv/bob-lists", "bob+lists@example.com", NULL },
		{ "bob+other@example.com", "/srv/bob", "bob@example.com", "other" },
		{ "zoe-x@example.org", "/srv/any/zoe", "zoe@example.org", "x" },
	};
	struct dsn dsn;
	struct rcpt *r;

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		r = rcpt_resolve(res, cases[i].addr, NULL, &dsn);
		ck_assert_msg(r != NULL, "%s: %s", cases[i].addr, dsn.text);
		ck_assert_str_eq(r->home, cases[i].home);
		ck_assert_str_eq(r->user, cases[i].user);
		if (cases[i].detail == NULL)
			ck_assert_ptr_null(r->detail);
		else
			ck_assert_str_eq(r->detail, cases[i].detail);
		rcpt_free(&r);
	}
	ck_assert_ptr_null(rcpt_resolve(res, "mary-jane@example.com", NULL, &dsn));
	ck_assert_int_eq(dsn.reason, DSN_UNKNOWN_USER);
	rcpt_resolver_free(&res);
	cfg_free(&cfg);
}
END_TEST

START_TEST(rcpt_map_exact_beats_catchall)
{
	const char *map = compile_map("@example.com home=/srv/catchall/%n\n"
				      "alice@example.com home=/srv/alice\n");
	struct lmtpd_config *cfg = make_cfg(NULL, map, NULL, NULL);
	struct rcpt_resolver *res = rcpt_resolver_new(cfg);
	struct dsn dsn;
	struct rcpt *r;

	r = rcpt_resolve(res, "alice@example.com", NULL, &dsn);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->home, "/srv/alice");
	rcpt_free(&r);
	r = rcpt_resolve(res, "zoe@example.com", NULL, &dsn);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->home, "/srv/catchall/zoe");
	rcpt_free(&r);
	rcpt_resolver_free(&res);
	cfg_free(&cfg);
}
END_TEST

START_TEST(rcpt_map_missing_db)
{
	char path[PATH_MAX];
	struct lmtpd_config *cfg;
	struct rcpt_resolver *res;
	struct dsn dsn;
	char reply[256];

	/* The text map exists, but was never compiled: retry later (451),
	 * never bounce. */
	ut_pathf(path, sizeof(path), "%s/users", ut_testdir());
	ut_write_text(path, "alice@example.com\n");
	cfg = make_cfg(NULL, path, NULL, NULL);
	res = rcpt_resolver_new(cfg);
	ck_assert_ptr_null(rcpt_resolve(res, "alice@example.com", NULL, &dsn));
	ck_assert_int_eq(dsn.reason, DSN_TEMP_FAIL);
	ck_assert_ptr_nonnull(strstr(dsn.text, "users.db"));
	dsn_reply(&dsn, "alice@example.com", NULL, false, reply, sizeof(reply));
	ck_assert_str_eq(reply, "451 4.3.0 <alice@example.com> Temporary internal error");
	rcpt_resolver_free(&res);
	cfg_free(&cfg);
}
END_TEST

START_TEST(rcpt_map_broken_db)
{
	const char *map = compile_map("alice@example.com\n");
	char db[PATH_MAX];
	struct lmtpd_config *cfg = make_cfg(NULL, map, NULL, NULL);
	struct rcpt_resolver *res = rcpt_resolver_new(cfg);
	struct dsn dsn;
	struct rcpt *r;

	r = rcpt_resolve(res, "alice@example.com", NULL, &dsn);
	ck_assert_ptr_nonnull(r);
	rcpt_free(&r);
	/* Replaced by garbage (a new inode): a temporary failure. */
	ut_pathf(db, sizeof(db), "%s.db", map);
	ck_assert_int_eq(unlink(db), 0);
	ut_write_text(db, "this is not a Berkeley DB file\n");
	ck_assert_ptr_null(rcpt_resolve(res, "alice@example.com", NULL, &dsn));
	ck_assert_int_eq(dsn.reason, DSN_TEMP_FAIL);
	/* Removed: the same. */
	ck_assert_int_eq(unlink(db), 0);
	ck_assert_ptr_null(rcpt_resolve(res, "alice@example.com", NULL, &dsn));
	ck_assert_int_eq(dsn.reason, DSN_TEMP_FAIL);
	rcpt_resolver_free(&res);
	cfg_free(&cfg);
}
END_TEST

/* A map copied over in place (cp, rsync --inplace), read half-way: the
 * users it holds past the cut must not get 550, which bounces their
 * mail for good; a temporary failure, and the whole map once it is
 * there. */
START_TEST(rcpt_map_truncated)
{
	struct buf text;
	const char *map;
	char db[PATH_MAX], full[PATH_MAX], why[512] = "";
	struct lmtpd_config *cfg;
	struct rcpt_resolver *res;
	struct stat st;
	unsigned int unknown = 0, temp = 0, ok = 0;
	struct dsn dsn;
	struct rcpt *r;
	int in, out;
	char *data;
	size_t half;

	buf_init(&text, 0);
	for (int i = 0; i < 20000; i++)
		buf_putf(&text, "user%d@example.com home=/srv/u%d\n", i, i);
	map = compile_map(text.data);
	buf_free(&text);
	cfg = make_cfg(NULL, map, NULL, NULL);
	res = rcpt_resolver_new(cfg);
	ut_pathf(db, sizeof(db), "%s.db", map);
	ut_pathf(full, sizeof(full), "%s.full", map);
	ck_assert_int_eq(rename(db, full), 0);
	ck_assert_int_eq(stat(full, &st), 0);
	data = xmalloc((size_t)st.st_size);
	in = open(full, O_RDONLY);
	ck_assert_int_ge(in, 0);
	ck_assert_int_eq(read(in, data, (size_t)st.st_size), st.st_size);
	close(in);
	/* half of it, as a copy in progress leaves it: whole pages (a cut
	 * within a page, Berkeley DB refuses to open at all) */
	half = (size_t)st.st_size / 2 & ~(size_t)65535;
	ck_assert_uint_gt(half, 0);
	out = open(db, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(out, 0);
	ck_assert_int_eq(write(out, data, half), (ssize_t)half);
	for (int i = 0; i < 20000; i += 97) {
		char addr[64];

		snprintf(addr, sizeof(addr), "user%d@example.com", i);
		r = rcpt_resolve(res, addr, NULL, &dsn);
		if (r != NULL)
			ok++;
		else if (dsn.reason == DSN_UNKNOWN_USER)
			unknown++;
		else if (dsn.reason == DSN_TEMP_FAIL && ++temp == 1)
			snprintf(why, sizeof(why), "%s", dsn.text);
		rcpt_free(&r);
	}
	ck_assert_msg(unknown == 0 && temp > 0, "ok %u unknown %u temp %u: %s", ok, unknown, temp,
		      dsn.text);
	ck_assert_msg(strstr(why, "shorter than the map it holds") != NULL, "ok %u: %s", ok, why);
	/* the copy ends: every user is there */
	ck_assert_int_eq(write(out, data + half, (size_t)st.st_size - half),
			 (ssize_t)((size_t)st.st_size - half));
	close(out);
	free(data);
	for (int i = 0; i < 20000; i += 97) {
		char addr[64];

		snprintf(addr, sizeof(addr), "user%d@example.com", i);
		r = rcpt_resolve(res, addr, NULL, &dsn);
		ck_assert_msg(r != NULL, "%s: %s", addr, dsn.text);
		rcpt_free(&r);
	}
	(void)ok;
	rcpt_resolver_free(&res);
	cfg_free(&cfg);
}
END_TEST

START_TEST(rcpt_map_rebuilt)
{
	const char *map = compile_map("alice@example.com\n");
	struct lmtpd_config *cfg = make_cfg(NULL, map, NULL, NULL);
	struct rcpt_resolver *res = rcpt_resolver_new(cfg);
	struct dsn dsn;
	struct rcpt *r;

	ck_assert_ptr_null(rcpt_resolve(res, "newbie@example.com", NULL, &dsn));
	ck_assert_int_eq(dsn.reason, DSN_UNKNOWN_USER);
	r = rcpt_resolve(res, "alice@example.com", NULL, &dsn);
	ck_assert_ptr_nonnull(r);
	rcpt_free(&r);

	/* lmtpd-map run again: the same resolver sees the new map at once. */
	recompile(map, "newbie@example.com home=/srv/newbie\n");
	r = rcpt_resolve(res, "newbie@example.com", NULL, &dsn);
	ck_assert_msg(r != NULL, "rebuilt map not seen: %s", dsn.text);
	ck_assert_str_eq(r->home, "/srv/newbie");
	rcpt_free(&r);
	ck_assert_ptr_null(rcpt_resolve(res, "alice@example.com", NULL, &dsn));
	ck_assert_int_eq(dsn.reason, DSN_UNKNOWN_USER);

	/* And again, changing only a value. */
	recompile(map, "newbie@example.com home=/srv/elsewhere\n");
	r = rcpt_resolve(res, "newbie@example.com", NULL, &dsn);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->home, "/srv/elsewhere");
	rcpt_free(&r);
	rcpt_resolver_free(&res);
	cfg_free(&cfg);
}
END_TEST

START_TEST(usermap_lookup_raw)
{
	const char *map = compile_map("Alice@Example.com  home=/srv/a  "
				      "mail_location=%h/M\n"
				      "@example.org\n"
				      "\xc3\x89L\xc3\x88VE@\xc3\x89" "cole.example home=/srv/e\n");
	struct usermap *um = usermap_new(map);
	char value[USERMAP_VALUE_MAX], small[8];
	const char *error = NULL;

	/* Keys are stored case-folded; lookups are exact. */
	ck_assert_int_eq(usermap_lookup(um, "alice@example.com", value,
					sizeof(value), &error), 1);
	ck_assert_str_eq(value, "home=/srv/a  mail_location=%h/M");
	ck_assert_int_eq(usermap_lookup(um, "Alice@Example.com", value,
					sizeof(value), &error), 0);
	ck_assert_int_eq(usermap_lookup(um, "@example.org", value, sizeof(value),
					&error), 1);
	ck_assert_str_eq(value, "");
	ck_assert_int_eq(usermap_lookup(um, "x@example.org", value, sizeof(value),
					&error), 0);
	/* Non-ASCII keys are case-folded as rcpt_parse folds addresses. */
	ck_assert_int_eq(usermap_lookup(um, "\xc3\xa9l\xc3\xa8ve@\xc3\xa9" "cole.example",
					value, sizeof(value), &error), 1);
	ck_assert_str_eq(value, "home=/srv/e");
	/* A value that does not fit is an error, not a cut value. */
	ck_assert_int_eq(usermap_lookup(um, "alice@example.com", small,
					sizeof(small), &error), -1);
	ck_assert_ptr_nonnull(error);
	usermap_free(&um);
	ck_assert_ptr_null(um);
	usermap_free(&um);
}
END_TEST

/* ---- usermap_parse_value ---- */

static const struct {
	const char *value;
	bool ok;
	const char *home, *mail_location, *sieve;
} value_cases[] = {
	{ "", true, NULL, NULL, NULL },
	{ "home=/srv/%d/%n", true, "/srv/%d/%n", NULL, NULL },
	{ "  home=/a\tmail_location=%h/M  sieve_script=%h/s ", true, "/a", "%h/M",
	  "%h/s" },
	{ "mail_location=/m/%u/%%", true, NULL, "/m/%u/%%", NULL },
	{ "home=relative", false, NULL, NULL, NULL },
	{ "home=%h/x", false, NULL, NULL, NULL },
	{ "home=", false, NULL, NULL, NULL },
	{ "home=/a home=/b", false, NULL, NULL, NULL },
	{ "mail_location=Maildir", false, NULL, NULL, NULL },
	{ "mail_location=/m/%x", false, NULL, NULL, NULL },
	{ "mail_location=/m/%", false, NULL, NULL, NULL },
	{ "sieve_script=x.sieve", false, NULL, NULL, NULL },
	{ "quota=10M", false, NULL, NULL, NULL },
	{ "Home=/a", false, NULL, NULL, NULL },
	{ "/srv/alice", false, NULL, NULL, NULL },
};

START_TEST(usermap_values)
{
	struct usermap_attrs a;
	const char *why = NULL;
	int ret = usermap_parse_value(value_cases[_i].value, &a, &why);

	ck_assert_msg(ret == (value_cases[_i].ok ? 0 : -1), "'%s': %d",
		      value_cases[_i].value, ret);
	if (!value_cases[_i].ok) {
		ck_assert_ptr_nonnull(why);
		ck_assert_ptr_null(a.home);
		ck_assert_ptr_null(a.mail_location);
		ck_assert_ptr_null(a.sieve_script);
		return;
	}
#define EQ(field, want) do {						\
		if ((want) == NULL)					\
			ck_assert_ptr_null(a.field);			\
		else							\
			ck_assert_str_eq(a.field, (want));		\
	} while (0)
	EQ(home, value_cases[_i].home);
	EQ(mail_location, value_cases[_i].mail_location);
	EQ(sieve_script, value_cases[_i].sieve);
#undef EQ
	usermap_attrs_free(&a);
	ck_assert_ptr_null(a.home);
}
END_TEST

/* ---- usermap_compile errors ---- */

static const struct {
	const char *text;
	const char *want;	/* after "PATH" */
} compile_errors[] = {
	{ "nokey home=/x\n", ":1: bad key 'nokey' (expected user@domain or @domain)" },
	{ "alice@\n", ":1: bad key 'alice@' (expected user@domain or @domain)" },
	{ "# c\n\na@b.org\nuser\x01@b.org\n",
	  ":4: bad key 'user\\x01@b.org' (expected user@domain or @domain)" },
	{ "a@b.org foo=bar\n",
	  ":1: unknown attribute (expected home=, mail_location= or sieve_script=)" },
	{ "a@b.org\nc@d.org home=/x quota=1\n",
	  ":2: unknown attribute (expected home=, mail_location= or sieve_script=)" },
	{ "a@b.org home=/x home=/y\n", ":1: attribute given twice" },
	{ "a@b.org home=x\n", ":1: home must be an absolute path, with escapes %u %n %d, no '..'" },
	{ "a@b.org home=%h/x\n",
	  ":1: home must be an absolute path, with escapes %u %n %d, no '..'" },
	{ "a@b.org mail_location=%q\n",
	  ":1: mail_location must be an absolute path or start with %h, with escapes %h %u %n "
	  "%d, no '..'" },
	{ "@d.example home=/m/%d mail_location=%h/../../Maildir-%n\n",
	  ":1: mail_location must be an absolute path or start with %h, with escapes %h %u %n "
	  "%d, no '..'" },
	{ "a@b.org mail_location=%h/M sieve_script=s.sieve\n",
	  ":1: sieve_script must be an absolute path or start with %h, with escapes %h %u %n "
	  "%d, no '..'" },
	{ "a@b.org home=/srv/../etc\n",
	  ":1: home must be an absolute path, with escapes %u %n %d, no '..'" },
	{ "a@b.org\nA@B.ORG\n", ":2: duplicate key 'a@b.org'" },
	{ "a@b.org\na@b.org.\n", ":2: duplicate key 'a@b.org'" },
	{ "\"a.b\"@b.org\n", ":1: bad key '\"a.b\"@b.org' (a quoted local part: lookups "
	  "use it unquoted, so write it unquoted)" },
	{ "@b.org\n# x\n@B.org home=/y\n", ":3: duplicate key '@b.org'" },
	/* An error in a continued entry names the entry's first line. */
	{ "a@b.org\n  home=/x\n  bogus=1\nc@d.org\n",
	  ":1: unknown attribute (expected home=, mail_location= or sieve_script=)" },
	{ "a@b.org\nc@d.org\n  home=relative\n",
	  ":2: home must be an absolute path, with escapes %u %n %d, no '..'" },
	{ "  home=/x\na@b.org\n", ":1: continuation line without a key" },
	/* Keys naming an address that RCPT refuses: no lookup reaches them. */
	{ "a@b.org\nx@.\n", ":2: bad key 'x@.' (domain starts with a dot: no recipient "
	  "address can match it)" },
	{ "@a..b.org\n", ":1: bad key '@a..b.org' (domain contains '..': no recipient "
	  "address can match it)" },
	{ "x@-b.org\n", ":1: bad key 'x@-b.org' (domain is neither a host name nor an "
	  "address literal: no recipient address can match it)" },
	{ "x/y@b.org\n", ":1: bad key 'x/y@b.org' (local part contains '/': no recipient "
	  "address can match it)" },
	{ ".x@b.org\n", ":1: bad key '.x@b.org' (local part starts with a dot: no "
	  "recipient address can match it)" },
	{ "\xe2\x80\xaeliam@b.org\n", ":1: bad key '\\xe2\\x80\\xaeliam@b.org' (local part has a control, "
	  "bidirectional formatting or invisible character: no recipient address can match "
	  "it)" },
};

START_TEST(usermap_compile_errors)
{
	char path[PATH_MAX], db[PATH_MAX], want[PATH_MAX + 128], *error = NULL;
	const char *dir = ut_testdir();

	ut_pathf(path, sizeof(path), "%s/users", dir);
	ut_pathf(db, sizeof(db), "%s/users.db", dir);
	ut_write_text(path, compile_errors[_i].text);
	ck_assert_int_eq(usermap_compile(path, &error), -1);
	ck_assert_ptr_nonnull(error);
	ut_pathf(want, sizeof(want), "%s%s", path, compile_errors[_i].want);
	ck_assert_msg(strcmp(error, want) == 0, "got \"%s\", want \"%s\"",
		      ut_escs(error), ut_escs(want));
	free(error);
	/* No database, and no temporary file left beside the map. */
	ck_assert_int_eq(access(db, F_OK), -1);
	ck_assert_int_eq(ut_dir_count(dir, NULL, 0), 1);
}
END_TEST

/* A NUL byte is refused as lmtpd.conf refuses one: fgets ended the line
 * there, so the rest of a last line without LF was never checked (and a
 * NUL elsewhere was called a line too long). */
START_TEST(usermap_compile_nul)
{
	static const struct {
		const char *text;
		size_t len;
		const char *want;
	} cases[] = {
		{ UT_S("a@b.org home=/x\0 bogus=1"), ":1: NUL byte in line" },
		{ UT_S("a@b.org home=/x\n\0c@d.org\n"), ":2: NUL byte in line" },
		{ UT_S("a@b.org\n  home=/x\0\n"), ":2: NUL byte in line" },
	};
	char path[PATH_MAX], want[PATH_MAX + 64], *error = NULL;

	ut_pathf(path, sizeof(path), "%s/users", ut_testdir());
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		ut_write_file(path, cases[i].text, cases[i].len);
		ck_assert_int_eq(usermap_compile(path, &error), -1);
		ck_assert_ptr_nonnull(error);
		ut_pathf(want, sizeof(want), "%s%s", path, cases[i].want);
		ck_assert_msg(strcmp(error, want) == 0, "case %zu: got \"%s\", want \"%s\"", i,
			      ut_escs(error), ut_escs(want));
		free(error);
		error = NULL;
	}
	/* a line of CFG_LINE_MAX bytes is read, one more is too long */
	for (size_t extra = 0; extra < 2; extra++) {
		size_t n = CFG_LINE_MAX + extra;
		char *text = xmalloc(n + 1);

		/* a comment: an entry has a smaller bound of its own */
		memset(text, 'x', n);
		text[0] = '#';
		text[n] = '\n';
		ut_write_file(path, text, n + 1);
		free(text);
		if (extra == 0) {
			ck_assert_msg(usermap_compile(path, &error) == 0, "%s", error);
		} else {
			ck_assert_int_eq(usermap_compile(path, &error), -1);
			ut_pathf(want, sizeof(want), "%s:1: line too long", path);
			ck_assert_str_eq(error, want);
			free(error);
			error = NULL;
		}
	}
}
END_TEST

START_TEST(usermap_compile_keeps_old_db)
{
	const char *map = compile_map("alice@example.com home=/srv/alice\n");
	struct usermap *um = usermap_new(map);
	char value[USERMAP_VALUE_MAX], *error = NULL, dir[PATH_MAX];
	const char *why;

	ut_write_text(map, "alice@example.com\nbroken\n");
	ck_assert_int_eq(usermap_compile(map, &error), -1);
	free(error);
	/* A failed rebuild leaves the working map in place. */
	ck_assert_int_eq(usermap_lookup(um, "alice@example.com", value, sizeof(value),
					&why), 1);
	ck_assert_str_eq(value, "home=/srv/alice");
	ut_pathf(dir, sizeof(dir), "%s", map);
	*strrchr(dir, '/') = '\0';
	ck_assert_int_eq(ut_dir_count(dir, NULL, 0), 2);	/* users, users.db */
	usermap_free(&um);
}
END_TEST

/* lmtpd-map's output: a first map readable whatever the umask (with 077
 * the daemon's user could not read it, and every recipient got 451), a
 * rebuilt one with the mode the admin gave the old one. */
START_TEST(usermap_compile_mode)
{
	char map[PATH_MAX], db[PATH_MAX];
	char *error = NULL;
	struct stat st;
	mode_t old = umask(077);

	ut_pathf(map, sizeof(map), "%s/users", ut_testdir());
	ut_pathf(db, sizeof(db), "%s.db", map);
	ut_write_text(map, "alice@example.com\n");
	ck_assert_msg(usermap_compile(map, &error) == 0, "%s", error);
	ck_assert_int_eq(stat(db, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0644);
	ck_assert_int_eq(chmod(db, 0640), 0);
	ut_write_text(map, "bob@example.com\n");
	ck_assert_msg(usermap_compile(map, &error) == 0, "%s", error);
	ck_assert_int_eq(stat(db, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	umask(old);
}
END_TEST

START_TEST(usermap_compile_missing)
{
	char path[PATH_MAX], want[PATH_MAX + 64], *error = NULL;

	ut_pathf(path, sizeof(path), "%s/none", ut_testdir());
	ck_assert_int_eq(usermap_compile(path, &error), -1);
	ut_pathf(want, sizeof(want), "%s: cannot open: %s", path, strerror(ENOENT));
	ck_assert_str_eq(error, want);
	free(error);
}
END_TEST

START_TEST(usermap_compile_empty)
{
	const char *map = compile_map("# nobody yet\n\n");
	struct usermap *um = usermap_new(map);
	char value[64];
	const char *why;

	ck_assert_int_eq(usermap_lookup(um, "a@b.org", value, sizeof(value), &why), 0);
	usermap_free(&um);
}
END_TEST

static Suite *
rcpt_suite(void)
{
	Suite *s = suite_create("rcpt");
	TCase *tc;

	tc = ut_tcase(s, "parse", true);
	tcase_add_test(tc, rcpt_local_part_syntax);
	tcase_add_loop_test(tc, rcpt_parse_table, 0, N_ELEMENTS(parse_cases));
	tcase_add_loop_test(tc, rcpt_parse_lengths, 0, 3);
	tc = ut_tcase(s, "static", true);
	tcase_add_test(tc, rcpt_resolve_static);
	tcase_add_loop_test(tc, rcpt_resolve_templates, 0, N_ELEMENTS(template_cases));
	tcase_add_test(tc, rcpt_resolve_path_too_long);
	tc = ut_tcase(s, "map", true);
	tcase_add_loop_test(tc, rcpt_resolve_map, 0, N_ELEMENTS(map_cases));
	tcase_add_test(tc, rcpt_map_exact_beats_catchall);
	tcase_add_test(tc, rcpt_map_full_address_first);
	tcase_add_test(tc, rcpt_map_missing_db);
	tcase_add_test(tc, rcpt_map_broken_db);
	tcase_add_test(tc, rcpt_map_rebuilt);
	tcase_add_test(tc, usermap_lookup_raw);
	tcase_add_test(tc, rcpt_map_truncated);
	tc = ut_tcase(s, "usermap", true);
	tcase_add_loop_test(tc, usermap_values, 0, N_ELEMENTS(value_cases));
	tcase_add_loop_test(tc, usermap_compile_errors, 0, N_ELEMENTS(compile_errors));
	tcase_add_test(tc, usermap_compile_nul);
	tcase_add_test(tc, usermap_compile_keeps_old_db);
	tcase_add_test(tc, usermap_compile_missing);
	tcase_add_test(tc, usermap_compile_mode);
	tcase_add_test(tc, usermap_compile_empty);
	return s;
}

int
main(void)
{
	return ut_run(rcpt_suite);
}
