/* Unit tests for scoring/uri.c: the text URI finder, the canonical forms,
 * the domain checks, redirector_pattern parsing and the bounds on hostile
 * input.  Expected lists are what SpamAssassin 4.0.1 returns for the same
 * input (checked with tests/tools/sa_uris.pl).
 *
 * The TLD lists come from SpamAssassin's 20_aux_tlds.cf when it is
 * installed (fed through sa_settings_apply, as the rule parser does), else
 * from a small built-in list that covers these cases. */
#include "config.h"

#include "check_compat.h"

#include "buf.h"
#include "sa_settings.h"
#include "strlist.h"
#include "uri.h"

#define AUX_TLDS "/usr/share/spamassassin/20_aux_tlds.cf"

/* The redirector_pattern lines of SpamAssassin 4.0.1 (20_uri_tests.cf and
 * 72_active.cf) that the cases use, as written there. */
static const char *const redirectors[] = {
	"/^http:\\/\\/chkpt\\.zdnet\\.com\\/chkpt\\/\\w+\\/(.*)$/i",
	"m'^http.*?/redirect\\.php\\?.*(?<=[?&])goto=(.*?)(?:$|[&\\#])'i",
	"m'/(?:index.php)?\\?.*(?<=[?&])URL=(.*?)(?:$|[&\\#])'i",
	"m'^https?:/*(?:\\w+\\.)?google(?:\\.\\w{2,3}){1,2}/url\\?.*?(?<=[?&])q=(.*?)(?:$|[&\\#])'i",
};

static struct sa_settings set;

static void
apply(const char *key, const char *value)
{
	const char *why = NULL;

	ck_assert_msg(sa_settings_apply(&set, key, value, &why) == 1, "%s %s: %s", key,
		      value, why != NULL ? why : "not handled");
}

static void
settings_setup(void)
{
	FILE *f = fopen(AUX_TLDS, "r");
	char line[8192];

	sa_settings_init(&set);
	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			char *v;

			line[strcspn(line, "\r\n")] = '\0';
			if (strncmp(line, "util_rb_", 8) != 0 || (v = strpbrk(line, " \t")) == NULL)
				continue;
			*v++ = '\0';
			apply(line, v + strspn(v, " \t"));
		}
		fclose(f);
	} else {
		apply("util_rb_tld", "com net org biz info example uk de jp us museum");
		apply("util_rb_2tld", "co.uk");
	}
	for (size_t i = 0; i < N_ELEMENTS(redirectors); i++)
		apply("redirector_pattern", redirectors[i]);
}

static void
settings_teardown(void)
{
	sa_settings_free(&set);
}

/* expect: NULL-terminated; the list must hold exactly these, any order. */
static void
assert_list(const struct strlist *got, const char *const *expect, const char *what)
{
	size_t n = 0;

	while (expect[n] != NULL)
		n++;
	for (size_t i = 0; i < n; i++) {
		bool found = false;

		for (size_t k = 0; k < got->n && !found; k++)
			found = got->v[k].len == strlen(expect[i]) &&
				memcmp(got->v[k].p, expect[i], got->v[k].len) == 0;
		ck_assert_msg(found, "%s: missing %s", what, ut_escs(expect[i]));
	}
	for (size_t k = 0; k < got->n; k++) {
		bool found = false;

		for (size_t i = 0; i < n && !found; i++)
			found = got->v[k].len == strlen(expect[i]) &&
				memcmp(got->v[k].p, expect[i], got->v[k].len) == 0;
		ck_assert_msg(found, "%s: unexpected %s", what, ut_esc(got->v[k].p, got->v[k].len));
	}
}

/* ---- URIs found in rendered text ---- */

static const struct {
	const char *line;
	const char *expect[4];
} text_cases[] = {
	{ "see http://www.example.com/path. now", { "http://www.example.com/path" } },
	{ "visit www.foo.biz!", { "http://www.foo.biz" } },
	{ "get ftp.foo.org/pub/x, thanks", { "ftp://ftp.foo.org/pub/x" } },
	{ "at example.com today", { "http://example.com" } },
	{ "foo.com.", { "http://foo.com" } },
	{ "mail foo@bar.com.", { "mailto:foo@bar.com" } },
	{ "<foo@bar.com>", { "mailto:foo@bar.com" } },
	{ "e-mail:foo@example.org", { "mailto:foo@example.org" } },
	{ "x@y.com\xa0z", { "mailto:x@y.com" } },
	{ "(http://foo.com/x)", { "http://foo.com/x" } },
	{ "http://foo.com/a(b)c", { "http://foo.com/a(b)c" } },
	{ "sub_dom.example.com and foo_bar.com", { "http://sub_dom.example.com" } },
	{ "www2.example.net/x?y=1&z=2;", { "http://www2.example.net/x?y=1&z=2" } },
	/* ISO-2022 shift: the "B" it leaves starts a schemeless host */
	{ "\x1b(Bwww.example.org", { "http://Bwww.example.org" } },
	{ "1.2.3.4/x and http://1.2.3.4/", { "http://1.2.3.4/" } },
	{ "HTTP://WWW.EXAMPLE.COM/", { "HTTP://WWW.EXAMPLE.COM/" } },
	{ "foo@bar%2Ecom&x.com", { "mailto:foo@bar.com", "mailto:foo@bar.com&x.com" } },
	{ "http://www.google.com/url?q=http://evil.example/&sa=D",
	  { "http://evil.example/", "http://www.google.com/url?q=http://evil.example/&sa=D" } },
	{ "http://0x7f000001/", { "http://0x7f000001/", "http://127.0.0.1/" } },
	/* PCRE2 runs only on words (runs outside TB_END) with a '.', ':' or
	 * '@' before their last byte: URIs after, between and at the end of
	 * such words are all still found */
	{ "end of sentence. Then www.example.com", { "http://www.example.com" } },
	{ "a@b.com,c@d.com", { "mailto:a@b.com", "mailto:c@d.com" } },
	{ "foo.\tbar.com", { "http://bar.com" } },
	{ "foo\x0b" "example.com", { "http://example.com" } },
	{ "word.\nhttp://x.com/y", { "http://x.com/y" } },
	{ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "@example.com", { "http://example.com" } },
	{ "a.b.c.example.com.", { "http://a.b.c.example.com" } },
	/* misses */
	{ "(see example.com)", { NULL } },
	{ "trailing dot. and colon: and at@ end", { NULL } },
	{ "at example.notatld today", { NULL } },
	{ "buy Vi@gra now", { NULL } },
	{ "[cid:image001.png@01D4986E.E3459640]", { NULL } },
	{ "http:// alone", { NULL } },
	{ "mailto:foo%40bar.com", { NULL } },
	{ "a.b", { NULL } },
	{ "", { NULL } },
};

START_TEST(text_uris)
{
	struct strlist body, out;

	strlist_init(&body);
	strlist_init(&out);
	strlist_add(&body, text_cases[_i].line, strlen(text_cases[_i].line));
	uri_collect(&set, &body, NULL, &out, NULL);
	assert_list(&out, text_cases[_i].expect, ut_escs(text_cases[_i].line));
	strlist_free(&body);
	strlist_free(&out);
}
END_TEST

/* ---- canonical forms ---- */

static const struct {
	const char *uri;
	const char *expect[5];
} canon_cases[] = {
	{ "http://%77%77%77.example.com/", { "http://%77%77%77.example.com/", "http://www.example.com/" } },
	{ "http://0x7f000001/", { "http://0x7f000001/", "http://127.0.0.1/" } },
	{ "http://2130706433/", { "http://2130706433/", "http://127.0.0.1/" } },
	{ "http://4294967296/", { "http://4294967296/", "http://16.0.0.0/" } },
	{ "http://0x10.0x20.030.4/", { "http://0x10.0x20.030.4/", "http://16.32.24.4/" } },
	/* zero octets lose all their zeros, as SpamAssassin has it */
	{ "http://0177.0.0.01/", { "http://0177.0.0.01/", "http://127...1/" } },
	{ "http://www.google.com/url?q=http://evil.example/&sa=D",
	  { "http://www.google.com/url?q=http://evil.example/&sa=D", "http://evil.example/" } },
	{ "http://chkpt.zdnet.com/chkpt/x/www.spammer.example/yo",
	  { "http://chkpt.zdnet.com/chkpt/x/www.spammer.example/yo", "www.spammer.example/yo",
	    "http://www.spammer.example/yo" } },
	{ "http://foo.com/r?x=http://target.example/",
	  { "http://foo.com/r?x=http://target.example/", "http://target.example/" } },
	{ "http://user@www.example.com/", { "http://user@www.example.com/" } },
	{ "http://example.com:80/x", { "http://example.com:80/x", "http://example.com/x" } },
	{ "https://example.com:443/", { "https://example.com:443/", "https://example.com/" } },
	{ "http://foobar/", { "http://foobar/", "http://www.foobar.com/" } },
	{ "http:www.foo.biz", { "http:www.foo.biz", "http://www.foo.biz" } },
	{ "http:\\\\www.foo.biz\\x", { "http:\\\\www.foo.biz\\x", "http://www.foo.biz/x" } },
	{ "http://www.foo.biz?id=3", { "http://www.foo.biz?id=3", "http://www.foo.biz/?id=3" } },
	{ "http://example.biz!!!/", { "http://example.biz!!!/", "http://example.biz/" } },
	{ "http://a&#46;com/", { "http://a&#46;com/", "http://a&/#46;com/", "http://a/#46;com/",
				  "http://www.a&.com/#46;com/" } },
	{ "HTTP://Example.COM/", { "HTTP://Example.COM/" } },
	{ "http://exämple.com/", { "http://exämple.com/", "http://xn--exmple-cua.com/" } },
	{ "mailto:foo@bar.com?subject=hi", { "mailto:foo@bar.com?subject=hi", "mailto:foo@bar.com" } },
	{ "mailto:%20foo@bar.com", { "mailto:%20foo@bar.com", "mailto:foo@bar.com" } },
	{ "mailto:\"Foo\"%20<foo.bar@example.com>",
	  { "mailto:\"Foo\"%20<foo.bar@example.com>", "mailto:foo.bar@example.com" } },
	/* kept but not looked into */
	{ "#top", { "#top" } },
	{ "/image.gif", { "/image.gif" } },
	{ "  http://x.example/ \r\n", { "http://x.example/" } },
};

START_TEST(canonical_forms)
{
	struct strlist out;

	strlist_init(&out);
	uri_canonicalize(&set, canon_cases[_i].uri, strlen(canon_cases[_i].uri), &out);
	assert_list(&out, canon_cases[_i].expect, ut_escs(canon_cases[_i].uri));
	strlist_free(&out);
}
END_TEST

/* HTML URIs are characters: url_encode writes a code point up to U+00FF
 * as one %xx, leaves the rest; a text URI is octets. */
START_TEST(html_characters)
{
	static const char *const html_expect[] = {
		"http://a.com/%41\xc3\xa4\xe2\x82\xac", "http://a.com/A%e4\xe2\x82\xac", NULL
	};
	static const char *const text_expect[] = {
		"http://a.com/%41\xc3\xa4\xe2\x82\xac", "http://a.com/A%c3%a4%e2%82%ac", NULL
	};
	static const char *const one_char[] = { "\xc3\xa4", NULL };
	struct strlist in, out;

	strlist_init(&in);
	strlist_init(&out);
	strlist_add(&in, UT_S("http://a.com/%41\xc3\xa4\xe2\x82\xac"));
	uri_collect(&set, NULL, &in, &out, NULL);
	assert_list(&out, html_expect, "html");
	strlist_free(&out);
	uri_collect(&set, &in, NULL, &out, NULL);
	assert_list(&out, text_expect, "text");
	strlist_free(&out);
	strlist_free(&in);

	/* one character is "length <= 1" however many bytes it takes */
	strlist_add(&in, UT_S("\xc3\xa4"));
	uri_collect(&set, NULL, &in, &out, NULL);
	assert_list(&out, one_char, "one char");
	strlist_free(&out);
	strlist_free(&in);
}
END_TEST

START_TEST(dedup_and_order)
{
	struct strlist body, html, out;

	strlist_init(&body);
	strlist_init(&html);
	strlist_init(&out);
	strlist_add(&body, UT_S("www.example.com and www.example.com, http://www.example.com"));
	strlist_add(&html, UT_S("http://www.example.com"));
	strlist_add(&html, UT_S("http://www.example.com"));
	strlist_add(&out, UT_S("http://www.example.com"));	/* already there */
	uri_collect(&set, &body, &html, &out, NULL);
	ck_assert_uint_eq(out.n, 1);
	strlist_free(&body);
	strlist_free(&html);
	strlist_free(&out);
}
END_TEST

/* ---- domain checks ---- */

static const struct {
	const char *dom;
	bool valid;
} domain_cases[] = {
	{ "foo.com", true },
	{ "FOO.COM", true },
	{ "a.b.co.uk", true },
	{ "foo.notatld", false },
	{ "com", false },
	{ "foo.com.", false },
	{ "foo .com", false },
	{ "", false },
	{ "b\xc3\xbc" "cher.de", true },
};

START_TEST(domain_valid)
{
	ck_assert_msg(uri_domain_valid(&set, domain_cases[_i].dom, strlen(domain_cases[_i].dom)) ==
		      domain_cases[_i].valid, "%s", ut_escs(domain_cases[_i].dom));
}
END_TEST

/* ---- redirector_pattern values ---- */

static const struct {
	const char *value;
	int ret;
} redirector_cases[] = {
	{ "/^http:\\/\\/x\\.example\\/(.*)$/i", 1 },
	{ "m{^http://x\\.example/(.*)}i", 1 },
	{ "m'^http://x\\.example/(.*)'", 1 },
	{ "qr<^x(.*)>", 1 },
	{ "  /x(.*)/  ", 1 },
	{ "x(.*)", -1 },		/* no delimiters */
	{ "/x(.*)", -1 },		/* no end delimiter */
	{ "/x(.*)/e", -1 },		/* e is refused */
	{ "/x/y(.*)/", -1 },		/* unquoted delimiter */
	{ "/x((.*)/", -1 },		/* does not compile */
	{ "m\\x(.*)\\", -1 },
	{ "/(?{ 1 })(.*)/", -1 },
	{ "", -1 },
};

START_TEST(redirector_values)
{
	struct sa_settings s;
	const char *why = NULL;
	int ret;

	sa_settings_init(&s);
	ret = sa_settings_apply(&s, "redirector_pattern", redirector_cases[_i].value, &why);
	ck_assert_msg(ret == redirector_cases[_i].ret, "%s: %d (%s)",
		      redirector_cases[_i].value, ret, why != NULL ? why : "");
	ck_assert_uint_eq(s.redirector_pattern_count, ret == 1 ? 1 : 0);
	if (ret < 0)
		ck_assert_ptr_nonnull(why);
	sa_settings_free(&s);
}
END_TEST

/* A redirector pattern's group 1 is followed only when it has a dot. */
START_TEST(redirector_target)
{
	static const char *const expect[] = {
		"http://r.example/go/www.target.example/x", "www.target.example/x",
		"http://www.target.example/x", NULL
	};
	static const char *const nodot[] = { "http://r.example/go/nodot", NULL };
	struct sa_settings s;
	struct strlist out;
	const char *why = NULL;

	sa_settings_init(&s);
	ck_assert_int_eq(sa_settings_apply(&s, "redirector_pattern",
					   "m'^http://r\\.example/go/(.*)'", &why), 1);
	strlist_init(&out);
	uri_canonicalize(&s, UT_S("http://r.example/go/www.target.example/x"), &out);
	assert_list(&out, expect, "redirector");
	strlist_free(&out);
	uri_canonicalize(&s, UT_S("http://r.example/go/nodot"), &out);
	assert_list(&out, nodot, "no dot");
	strlist_free(&out);
	sa_settings_free(&s);
}
END_TEST

/* clear_util_rb empties the TLD lists (20_aux_tlds.cf starts with it). */
START_TEST(clear_util_rb)
{
	struct sa_settings s;
	const char *why = NULL;

	sa_settings_init(&s);
	ck_assert_int_eq(sa_settings_apply(&s, "util_rb_tld", "com", &why), 1);
	ck_assert(uri_domain_valid(&s, UT_S("foo.com")));
	ck_assert_int_eq(sa_settings_apply(&s, "clear_util_rb", "", &why), 1);
	ck_assert(!uri_domain_valid(&s, UT_S("foo.com")));
	ck_assert_int_eq(sa_settings_apply(&s, "util_rb_tld", "org", &why), 1);
	ck_assert(uri_domain_valid(&s, UT_S("foo.org")));
	sa_settings_free(&s);
}
END_TEST

/* ---- hostile input ---- */

static char *
repeat(const char *piece, size_t times, size_t *len_r)
{
	size_t n = strlen(piece);
	char *p = malloc(n * times + 1);

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < times; i++)
		memcpy(p + i * n, piece, n);
	p[n * times] = '\0';
	*len_r = n * times;
	return p;
}

/* Long runs that make the linkifying regex work hardest: each finishes
 * well inside the test timeout and finds what SpamAssassin finds (the
 * last 2048 bytes of "http://..." and of "/a.com/a.com..." are URIs). */
static const struct {
	const char *piece;
	size_t times;
	size_t expect;
} hostile_text_cases[] = {
	{ "www.", 12500, 0 },
	{ "http://", 7000, 2 },
	{ "/a.com", 8000, 1 },
	{ "a@", 25000, 0 },
	{ "a.", 25000, 0 },
	{ "x.com ", 8000, 1 },
	{ "a@b.com ", 6000, 1 },
	{ "\xff\x1b(", 15000, 0 },
};

START_TEST(hostile_text)
{
	struct strlist body, out;
	size_t len;
	char *line = repeat(hostile_text_cases[_i].piece, hostile_text_cases[_i].times, &len);

	strlist_init(&body);
	strlist_init(&out);
	strlist_add_owned(&body, line, len);
	uri_collect(&set, &body, NULL, &out, NULL);
	ck_assert_uint_eq(out.n, hostile_text_cases[_i].expect);
	strlist_free(&body);
	strlist_free(&out);
}
END_TEST

/* An HTML URI is cut to URI_MAX_LENGTH first (HTML.pm's canon_uri), and
 * so is every canonical form. */
START_TEST(hostile_long_uri)
{
	struct strlist in, out;
	size_t len;
	char *path = repeat("a%41", 5000, &len);
	char *uri = malloc(len + 32);

	ck_assert_ptr_nonnull(uri);
	snprintf(uri, len + 32, "http://x.example/%s", path);
	strlist_init(&in);
	strlist_init(&out);
	strlist_add(&in, uri, strlen(uri));
	uri_collect(&set, NULL, &in, &out, NULL);
	ck_assert_uint_eq(out.n, 2);
	ck_assert_uint_eq(out.v[0].len, URI_MAX_LENGTH);
	/* 2043 "%41" decoded to "A" (8192 - 2 * 2043), and the "%4" the cut
	 * left at the end encoded as "%254" (+ 2) */
	ck_assert_uint_eq(out.v[1].len, 4108);
	free(path);
	free(uri);
	strlist_free(&in);
	strlist_free(&out);
}
END_TEST

/* A canonical form over URI_MAX_LENGTH characters is cut and flagged
 * (check_uri_truncated): an HTML URI of 3024 characters with a %-escape,
 * so that its decoded form is made, where each "é" becomes "%e9"; 2024
 * of them stay under the limit. */
START_TEST(truncated_canonical_form)
{
	struct strlist in, out;
	size_t n = strlen("http://x.example.com/%41");
	char *uri = malloc(n + 2 * 3000 + 1);
	struct uri_collect_more more = { 0 };

	ck_assert_ptr_nonnull(uri);
	memcpy(uri, "http://x.example.com/%41", n);
	for (size_t i = 0; i < 3000; i++)
		memcpy(uri + n + 2 * i, "\xc3\xa9", 2);
	strlist_init(&in);
	strlist_init(&out);
	strlist_add(&in, uri, n + 2 * 3000);
	uri_collect(&set, NULL, &in, &out, &more);
	ck_assert(more.truncated);
	for (size_t i = 0; i < out.n; i++)
		ck_assert_uint_le(out.v[i].len, URI_MAX_LENGTH);
	strlist_free(&in);
	strlist_free(&out);
	strlist_add(&in, uri, n + 2 * 2000);
	uri_collect(&set, NULL, &in, &out, &more);
	ck_assert(more.truncated);	/* only ever set, never cleared */
	more.truncated = false;
	strlist_free(&out);
	uri_collect(&set, NULL, &in, &out, &more);
	ck_assert(!more.truncated);
	strlist_free(&in);
	strlist_free(&out);
	free(uri);
}
END_TEST

/* The hosts the URI host lists look up, of HTML URIs: uri_to_domain's
 * host of each canonical form that has one, lowercased, once each.  A raw
 * mailto: URI gives none; an href that only its canonical forms make a
 * mailto: ("a@b%20") gives its domain, as SpamAssassin skips by the raw
 * form; unknown TLDs give none, an undecoded %-escape only its decoded
 * form's host. */
START_TEST(hosts_of_uris)
{
	static const char *const uris[] = {
		"http://WWW.Example.COM/x", "mailto:a@b.example.com", "MAILTO:c@d.example.com",
		"http://1.2.3.4/", "http://www.example.com/y", "http://host.nosuchtld/",
		"https://user:pw@login.example.org:8443/a?b#c", "http://ex%61mple.com/",
		"www.example.net", "foo@x.example.org%20",
	};
	static const char *const expect[] = {
		"www.example.com", "1.2.3.4", "login.example.org", "example.com",
		"www.example.net", "x.example.org", NULL,
	};
	struct strlist in, out, hosts;
	struct uri_collect_more more = { .hosts = &hosts };

	strlist_init(&in);
	strlist_init(&out);
	strlist_init(&hosts);
	for (size_t i = 0; i < N_ELEMENTS(uris); i++)
		strlist_add(&in, uris[i], strlen(uris[i]));
	uri_collect(&set, NULL, &in, &out, &more);
	assert_list(&hosts, expect, "hosts");
	strlist_free(&in);
	strlist_free(&out);
	strlist_free(&hosts);
}
END_TEST

/* Past the URI_MAX_COUNT URIs kept, the scan goes on for host names: a
 * link after 2100 others is looked up in the URI host lists. */
START_TEST(hosts_past_uri_cap)
{
	struct strlist body, out, hosts;
	struct uri_collect_more more = { .hosts = &hosts };
	struct buf line;
	bool found = false;

	strlist_init(&body);
	strlist_init(&out);
	strlist_init(&hosts);
	buf_init(&line, 0);
	for (int i = 0; i < 2100; i++) {
		buf_putf(&line, "http://h%d.example.com/ ", i);
		if (i % 50 == 49) {
			strlist_add(&body, line.data, line.len);
			buf_reset(&line);
		}
	}
	buf_put_str(&line, "and http://www.evil.example.net/x");
	strlist_add(&body, line.data, line.len);
	uri_collect(&set, &body, NULL, &out, &more);
	ck_assert_uint_eq(out.n, URI_MAX_COUNT);
	for (size_t i = 0; i < hosts.n; i++)
		found |= strcmp(hosts.v[i].p, "www.evil.example.net") == 0;
	ck_assert(found);
	ck_assert_uint_eq(hosts.n, 2101);
	buf_free(&line);
	strlist_free(&body);
	strlist_free(&out);
	strlist_free(&hosts);
}
END_TEST

/* Locales::is_charset_ok_for_locales as ok_locales sets it up: the last
 * line counts, "all" anywhere allows everything, a locale is its first
 * two lower-case letters.  The table's answers are SpamAssassin's own
 * (Locales.pm run on the same charsets and locales). */
START_TEST(locales_charsets)
{
	static const struct {
		const char *cs;
		bool ok;
	} cases[] = {
		{ "us-ascii", true }, { "ISO-8859-15", true }, { "utf-8", true },
		{ "Windows-1252", true }, { "cp1251", true }, { "x-unknown", true },
		{ "iso 8859-1", true }, { "ibm852", true }, { "unicode-1-1-utf-7", true },
		{ "big5", true }, { "Big5-HKSCS", true }, { "gb2312", true },
		{ "euc-kr", false }, { "iso-2022-jp", true }, { "shift_jis", true },
		{ "koi8-r", true }, { "tis-620", false }, { "3Dbig5", true },
		{ "3D3Dbig5", false }, { "", false }, { "big", false },
		/* longer than any charset: not matched by a prefix of it */
		{ "big5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  false },
	};

	ck_assert(sa_locales_all(set.ok_locales));
	apply("ok_locales", "all");
	ck_assert(sa_locales_all(set.ok_locales));
	apply("ok_locales", "en zh_TW.UTF-8 ja C JA ru_");
	ck_assert(!sa_locales_all(set.ok_locales));
	for (size_t i = 0; i < N_ELEMENTS(cases); i++)
		ck_assert_msg(sa_charset_ok(set.ok_locales, cases[i].cs, strlen(cases[i].cs)) == cases[i].ok,
			      "%s", cases[i].cs);
	apply("ok_locales", "en");
	ck_assert(!sa_charset_ok(set.ok_locales, "koi8-r", 6));
	apply("ok_locales", "ru_RU");
	ck_assert(sa_charset_ok(set.ok_locales, "koi8-r", 6));
	ck_assert(!sa_charset_ok(set.ok_locales, "big5", 4));
	apply("ok_locales", "en all");
	ck_assert(sa_locales_all(set.ok_locales));
	/* a line without a value is refused; the last good one stays */
	{
		const char *why = NULL;

		apply("ok_locales", "en");
		ck_assert_int_eq(sa_settings_apply(&set, "ok_locales", " \t", &why), -1);
		ck_assert_str_eq(why, "missing required value");
		ck_assert(!sa_locales_all(set.ok_locales));
	}
}
END_TEST

/* Redirect chains are followed URI_MAX_REDIRECTS deep, not more. */
START_TEST(hostile_redirect_chain)
{
	struct strlist in, out;
	size_t len;
	char *chain = repeat("http://a.example/", 600, &len);

	strlist_init(&in);
	strlist_init(&out);
	strlist_add_owned(&in, chain, len);
	uri_collect(&set, NULL, &in, &out, NULL);
	ck_assert_uint_ge(out.n, 2);
	ck_assert_uint_le(out.n, 2 * (URI_MAX_REDIRECTS + 1) + 2);
	strlist_free(&in);
	strlist_free(&out);
}
END_TEST

/* The list stops at URI_MAX_COUNT; NUL bytes, invalid UTF-8 and empty
 * strings are data, not terminators or errors. */
START_TEST(hostile_many)
{
	struct strlist in, out;
	char buf[64];

	strlist_init(&in);
	strlist_init(&out);
	for (int i = 0; i < URI_MAX_COUNT + 500; i++) {
		int n = snprintf(buf, sizeof(buf), "http://h%d.example/", i);

		strlist_add(&in, buf, (size_t)n);
	}
	uri_collect(&set, NULL, &in, &out, NULL);
	ck_assert_uint_eq(out.n, URI_MAX_COUNT);
	strlist_free(&in);
	strlist_free(&out);

	strlist_add(&in, UT_S("http://a.example/\0x"));
	strlist_add(&in, UT_S("http://\xff\xfe\xc3.example/\xe2\x82"));
	strlist_add(&in, UT_S(""));
	strlist_add(&in, UT_S("\0"));
	uri_collect(&set, &in, &in, &out, NULL);
	ck_assert_uint_ge(out.n, 4);
	strlist_free(&in);
	strlist_free(&out);
}
END_TEST

static Suite *
uri_suite(void)
{
	Suite *s = suite_create("uri");
	TCase *tc;

	tc = ut_tcase(s, "text", false);
	tcase_add_checked_fixture(tc, settings_setup, settings_teardown);
	tcase_add_loop_test(tc, text_uris, 0, N_ELEMENTS(text_cases));
	tcase_add_test(tc, dedup_and_order);
	tcase_add_test(tc, truncated_canonical_form);
	tcase_add_test(tc, hosts_of_uris);
	tcase_add_test(tc, hosts_past_uri_cap);
	tcase_add_test(tc, locales_charsets);

	tc = ut_tcase(s, "canonical", false);
	tcase_add_checked_fixture(tc, settings_setup, settings_teardown);
	tcase_add_loop_test(tc, canonical_forms, 0, N_ELEMENTS(canon_cases));
	tcase_add_test(tc, html_characters);
	tcase_add_loop_test(tc, domain_valid, 0, N_ELEMENTS(domain_cases));

	tc = ut_tcase(s, "settings", false);
	tcase_add_loop_test(tc, redirector_values, 0, N_ELEMENTS(redirector_cases));
	tcase_add_test(tc, redirector_target);
	tcase_add_test(tc, clear_util_rb);

	tc = ut_tcase(s, "hostile", false);
	tcase_add_checked_fixture(tc, settings_setup, settings_teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_loop_test(tc, hostile_text, 0, N_ELEMENTS(hostile_text_cases));
	tcase_add_test(tc, hostile_long_uri);
	tcase_add_test(tc, hostile_redirect_chain);
	tcase_add_test(tc, hostile_many);
	return s;
}

int
main(void)
{
	return ut_run(uri_suite);
}
