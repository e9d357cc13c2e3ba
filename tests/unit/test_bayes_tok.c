/* Unit tests for the Bayes tokenizer's own ways of doing SpamAssassin's
 * substitutions (scoring/bayes_tok.c): each is compared with PCRE2
 * running the pattern SpamAssassin writes, on many random lines made of
 * the pieces those patterns look for, and on crafted ones. */
#include "config.h"

#include "check_compat.h"

#include <stdlib.h>
#include <string.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "bayes.h"
#include "bayes_tokens_util.h"
#include "buf.h"
#include "lmtpd_limits.h"
#include "msgview.h"
#include "sa_settings.h"

/* PCRE2's answer: s/re/repl/ (g when global) of s, or s when it finds
 * nothing or fails. */
static void
pcre2_ref(pcre2_code *re, const char *s, size_t len, const char *repl, bool global,
	  struct buf *out, bool *changed)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	PCRE2_SIZE olen = len * 8 + 256;
	char *o = malloc(olen);
	uint32_t opts = PCRE2_SUBSTITUTE_EXTENDED | (global ? PCRE2_SUBSTITUTE_GLOBAL : 0);
	int rc;

	ck_assert_ptr_nonnull(o);
	rc = pcre2_substitute(re, (PCRE2_SPTR)s, len, 0, opts, md, NULL, (PCRE2_SPTR)repl,
			      PCRE2_ZERO_TERMINATED, (PCRE2_UCHAR *)o, &olen);
	ck_assert_int_ne(rc, PCRE2_ERROR_NOMEMORY);
	buf_reset(out);
	*changed = rc > 0;
	if (rc > 0)
		buf_put(out, o, olen);
	else
		buf_put(out, s, len);
	free(o);
	pcre2_match_data_free(md);
}

/* A random line of n pieces from the list. */
static size_t
random_line(const char *const *pieces, size_t npieces, unsigned int *seed, char *line,
	    size_t cap)
{
	size_t len = 0, n = (size_t)(rand_r(seed) % 12);

	for (size_t k = 0; k < n; k++) {
		const char *p = pieces[(size_t)rand_r(seed) % npieces];
		size_t pl = strlen(p);

		if (len + pl >= cap)
			break;
		memcpy(line + len, p, pl);
		len += pl;
	}
	return len;
}

static const char *const pieces[] = {
	" ", "  ", "\t", "\n", "\r\n", "a", "x", "Z", "_", "0", "7", "42", ".", "...", "--",
	"-", "=", "'", "\"", "<", ">", "@", "$", "(", ")", "+0200", "-0700", "id ",
	"id abcdefg", "id ABCDEFG-hijklm-0Z", "with", " with SMTP id g0123456789A ",
	" with ESMTP id 0123456789AB ", "from", "for", "SMTP", "ESMTP", "\xc3\xa9", "\xff",
	"Mon, ", "1 Jan 2002 ", "23:59:01 ", "31 Dec 99 00:00 ", " PDT", "UT", " (", "192.",
	"168.0.1", "10.1.2.3", " ip=", " rdns=", " helo=", "=x", " A=", "boundary=\"",
	"boundary='", "BOUNDARY=\"", "text", "charset", "textual", "<0123abcd4567abcd89ab$0123",
	"cdef0123$89abcdef@host>", "<aBcDeFg-hIjKlM-0z@", "<20020101123456.ABCDEF0123@",
};

/* The tokenizer's substitutions (Plugin/Bayes.pm's patterns and
 * replacements), and some a tokenizer never runs, for what the JIT loop
 * leaves to pcre2_substitute. */
static const struct {
	const char *pattern;
	uint32_t options;
	const char *repl;
	bool global;
} substs[] = {
	{ "(\\w)(\\.{3,6})(\\w)", PCRE2_DOTALL, "$1 $2 $3", true },
	{ "(\\w)(\\-{2,6})(\\w)", PCRE2_DOTALL, "$1 $2 $3", true },
	{ "<([0-9a-f]{4})[0-9a-f]{4}[0-9a-f]{4}\\$([0-9a-f]{4})[0-9a-f]{4}\\$"
	  "([0-9a-f]{8})\\@(\\S+)>", 0, " OEA$1 OEB$2 OEC$3 $4 ", true },
	{ "<[A-Za-z0-9]{7}-[A-Za-z0-9]{6}-0[A-Za-z0-9]\\@", 0, "", false },
	{ "<20\\d\\d[01]\\d[0123]\\d[012]\\d[012345]\\d[012345]\\d\\.[A-F0-9]{10,12}\\@", 0, "",
	  true },
	{ "\\swith\\sSMTP\\sid\\sg[\\dA-Z]{10,12}\\s", PCRE2_DOTALL, " ", true },
	{ "\\swith\\sESMTP\\sid\\s[\\dA-F]{10,12}\\s", PCRE2_DOTALL, " ", true },
	{ "\\bid\\s[a-zA-Z0-9]{7,20}\\b", PCRE2_DOTALL, " ", true },
	{ "\\bid\\s[A-Za-z0-9]{7}-[A-Za-z0-9]{6}-0[A-Za-z0-9]", PCRE2_DOTALL, " ", true },
	{ "(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\\s)?[0-3\\s]?[0-9]\\s"
	  "(?:Jan|Feb|Ma[ry]|Apr|Ju[nl]|Aug|Sep|Oct|Nov|Dec)\\s(?:19|20)?[0-9]{2}\\s"
	  "[0-2][0-9](?:\\:[0-5][0-9]){1,2}\\s"
	  "(?:\\s*\\(|\\)|\\s*(?:[+-][0-9]{4})|\\s*(?:UT|[A-Z]{2,3}T))*", 0, "", true },
	{ "\\b(\\d{1,3}\\.)(\\d{1,3}\\.)(\\d{1,3})(\\.\\d{1,3})\\b", 0, "$1$2$3 ip*$1$2$3$4 ",
	  true },
	{ "\\b(?:with|from|for|SMTP|ESMTP)\\b", 0, " ", true },
	{ "boundary=[\"'](.*?)[\"']", PCRE2_CASELESS, " ", true },
	{ "\\b(?:text|charset)\\b", 0, " ", true },
	{ " [a-z]+=", 0, " ", true },
	/* not the tokenizer's: empty matches, an unset group, a group
	 * number past the pattern's, "$$", "${1}", an escape, lookbehind
	 * before the start of the search, a group number of many digits */
	{ "x*", 0, "-", true },
	{ "\\b", 0, "|", true },
	{ "(a)|(b)", 0, "[$2]", true },
	{ "(a)", 0, "$3", true },
	{ "(a)", 0, "$$$1", true },
	{ "(a)", 0, "${1}!", true },
	{ "(a)", 0, "\\n$1", true },
	{ "(?<=a)a", 0, "b", true },
	{ "(a)", 0, "$00000000000000000000001", true },
	{ "(a)(x)?", 0, "<$1$2>", false },
	{ "([0-9]+)", 0, "#$1#", false },
	{ "([0-9]+)", 0, "#$1#", true },
};

START_TEST(subst_like_pcre2)
{
	pcre2_code *re;
	pcre2_match_data *md;
	int err;
	PCRE2_SIZE off;
	struct buf want, got, inplace;
	char line[400];
	unsigned int seed = 4242u + (unsigned int)_i;

	re = pcre2_compile((PCRE2_SPTR)substs[_i].pattern, PCRE2_ZERO_TERMINATED,
			   substs[_i].options, &err, &off, NULL);
	ck_assert_ptr_nonnull(re);
	/* half the patterns with JIT code, half without */
	if (_i % 2 == 0)
		(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	md = pcre2_match_data_create(16, NULL);
	buf_init(&want, 0);
	buf_init(&got, 0);
	buf_init(&inplace, 0);
	for (int n = 0; n < 20000; n++) {
		size_t len = random_line(pieces, N_ELEMENTS(pieces), &seed, line, sizeof(line));
		bool changed, r;

		pcre2_ref(re, line, len, substs[_i].repl, substs[_i].global, &want, &changed);
		buf_reset(&got);
		buf_put(&got, "untouched", 9);
		r = bayes_subst_re(re, md, line, len, substs[_i].repl, substs[_i].global, &got);
		ck_assert_msg(r == changed, "/%s/ on \"%.*s\": %d, PCRE2 %d", substs[_i].pattern,
			      (int)len, line, r, changed);
		if (!r)
			ck_assert(got.len == 9 && memcmp(got.data, "untouched", 9) == 0);
		else
			ck_assert_msg(got.len == want.len && memcmp(got.data, want.data,
								    want.len) == 0,
				      "/%s/ on \"%.*s\" gave \"%.*s\", PCRE2 \"%.*s\"",
				      substs[_i].pattern, (int)len, line, (int)got.len, got.data,
				      (int)want.len, want.data);
		/* in place, as the tokenizer calls it */
		buf_reset(&inplace);
		buf_put(&inplace, line, len);
		(void)bayes_subst_re(re, md, inplace.data, inplace.len, substs[_i].repl,
				     substs[_i].global, &inplace);
		ck_assert(inplace.len == want.len &&
			  memcmp(inplace.data, want.data, want.len) == 0);
	}
	buf_free(&want);
	buf_free(&got);
	buf_free(&inplace);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
}
END_TEST

static pcre2_code *
compile_or_fail(const char *pattern)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &err, &off,
				       NULL);

	ck_assert_msg(re != NULL, "/%s/ does not compile", pattern);
	return re;
}

/* The substitutions written out by hand, on random bytes (every class
 * the patterns tell apart, NUL and high bytes included). */
START_TEST(subst_by_hand_like_pcre2)
{
	static const char alphabet[] = "aAfFgGzZ09_-.=@<> \t\n\0\x80\xc3\xa9\xff$";
	static const struct {
		const char *pattern, *repl;
	} hand[] = {
		{ "[^_A-Za-z0-9]", " " },
		{ "[a-fA-F0-9]", "H" },
		{ "([-_\\.=]+)", " $1 " },
	};
	pcre2_code *re[N_ELEMENTS(hand)];
	struct buf want, got;
	char line[64];
	unsigned int seed = 777;

	for (size_t k = 0; k < N_ELEMENTS(hand); k++)
		re[k] = compile_or_fail(hand[k].pattern);
	buf_init(&want, 0);
	buf_init(&got, 0);
	for (int n = 0; n < 100000; n++) {
		size_t len = (size_t)(rand_r(&seed) % 40);
		bool changed;

		for (size_t i = 0; i < len; i++)
			line[i] = alphabet[(size_t)rand_r(&seed) % (sizeof(alphabet) - 1)];
		for (size_t k = 0; k < N_ELEMENTS(hand); k++) {
			pcre2_ref(re[k], line, len, hand[k].repl, true, &want, &changed);
			buf_reset(&got);
			if (k == 2)
				bayes_subst_punct(line, len, &got);
			else {
				buf_put(&got, line, len);
				if (k == 0)
					bayes_subst_nonword(got.data, got.len);
				else
					bayes_subst_hex(got.data, got.len);
			}
			ck_assert_msg(got.len == want.len && memcmp(got.data, want.data,
								    want.len) == 0,
				      "/%s/ on line %d gave \"%.*s\", PCRE2 \"%.*s\"",
				      hand[k].pattern, n, (int)got.len, got.data, (int)want.len,
				      want.data);
		}
	}
	buf_free(&want);
	buf_free(&got);
	for (size_t k = 0; k < N_ELEMENTS(hand); k++)
		pcre2_code_free(re[k]);
}
END_TEST

/* The Received and relay substitutions written out, on random lines of
 * the pieces they look for and of single bytes around them. */
START_TEST(subst_received_like_pcre2)
{
	static const struct {
		const char *pattern, *repl;
		bool (*fn)(const char *s, size_t len, struct buf *out);
	} hand[] = {
		{ " [a-z]+=", " ", bayes_subst_relays },
		{ "\\b(?:with|from|for|SMTP|ESMTP)\\b", " ", bayes_subst_rcvd_words },
		{ "\\b(\\d{1,3}\\.)(\\d{1,3}\\.)(\\d{1,3})(\\.\\d{1,3})\\b", "$1$2$3 ip*$1$2$3$4 ",
		  bayes_subst_rcvd_ip },
		{ "(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\\s)?[0-3\\s]?[0-9]\\s"
		  "(?:Jan|Feb|Ma[ry]|Apr|Ju[nl]|Aug|Sep|Oct|Nov|Dec)\\s(?:19|20)?[0-9]{2}\\s"
		  "[0-2][0-9](?:\\:[0-5][0-9]){1,2}\\s"
		  "(?:\\s*\\(|\\)|\\s*(?:[+-][0-9]{4})|\\s*(?:UT|[A-Z]{2,3}T))*", "",
		  bayes_subst_rcvd_date },
	};
	static const char *const more[] = {
		" ", "=", "a", "z", "A", "_", "0", "9", "1234", ".", "..", "\xc3\xa9", "\xff",
		"\0", "with", "withx", "xwith", "fro", "from", "for", "fo", "SMTP", "ESMTP",
		"ESMTPS", "_for",
		"1.2.3.4", "255.255.255.255", "1.2.3.4567", "1.2.3", "12.34.56.78.90", "0.0.0.0x",
		"a1.2.3.4", " ip=", " rdns=", " helo= ", " A=", " a =", " ab", "=x",
		"Mon, ", "Sun,", "Tue,\t", "1 ", "31", " 9", "\t", " Jan ", "May", "Dec ", "Jux",
		"2002 ", "99 ", "1999", "23:59", ":01", ":60", " +0200", "-07001", " (", ")",
		" PDT", "GMT", "UT", " ZZZT", "JanFebMar",
	};
	pcre2_code *re[N_ELEMENTS(hand)];
	struct buf want, got;
	char line[400];
	unsigned int seed = 31337;

	for (size_t k = 0; k < N_ELEMENTS(hand); k++)
		re[k] = compile_or_fail(hand[k].pattern);
	buf_init(&want, 0);
	buf_init(&got, 0);
	for (int n = 0; n < 60000; n++) {
		size_t len = n % 2 == 0 ?
			random_line(pieces, N_ELEMENTS(pieces), &seed, line, sizeof(line)) :
			random_line(more, N_ELEMENTS(more), &seed, line, sizeof(line));

		for (size_t k = 0; k < N_ELEMENTS(hand); k++) {
			bool changed, r;

			pcre2_ref(re[k], line, len, hand[k].repl, true, &want, &changed);
			buf_reset(&got);
			buf_put(&got, "untouched", 9);
			r = hand[k].fn(line, len, &got);
			ck_assert_msg(r == changed, "/%s/ on \"%.*s\": %d, PCRE2 %d", hand[k].pattern,
				      (int)len, line, r, changed);
			if (!r)
				ck_assert(got.len == 9 && memcmp(got.data, "untouched", 9) == 0);
			else
				ck_assert_msg(got.len == want.len &&
					      memcmp(got.data, want.data, want.len) == 0 &&
					      got.data[got.len] == '\0',
					      "/%s/ on \"%.*s\" gave \"%.*s\", PCRE2 \"%.*s\"",
					      hand[k].pattern, (int)len, line, (int)got.len, got.data,
					      (int)want.len, want.data);
		}
	}
	buf_free(&want);
	buf_free(&got);
	for (size_t k = 0; k < N_ELEMENTS(hand); k++)
		pcre2_code_free(re[k]);
}
END_TEST

static struct sa_settings set;
static struct bayes_settings bs;

static void
setup(void)
{
	msgview_global_init();
	sa_settings_init(&set);
	bayes_settings_init(&bs, NULL, NULL);
}

static void
teardown(void)
{
	bayes_settings_free(&bs);
	sa_settings_free(&set);
}

/* The tokens come out sorted bytewise (the sort compares their first 8
 * bytes as a number first): words sharing 8 bytes or fewer, prefixes of
 * one another, 8-bit bytes (above every ASCII byte, as memcmp has them),
 * and many random ones. */
START_TEST(tokens_sorted)
{
	static const char *const words[] = {
		"abcdefgh", "abcdefghi", "abcdefgg", "abcdefg", "abcdefghaaaa", "abcdefghaaab",
		"abc", "abd", "ab\xc3\xa9" "cdefgh", "\xc3\xa9t\xc3\xa9s", "zzz", "Zzz", "ZZZ",
		"www.example.com", "www.example.net", "0123456789",
	};
	struct buf m;
	struct msgview *mv;
	struct bayes_tokens t;
	unsigned int seed = 99;

	buf_init(&m, 0);
	buf_put_str(&m, "From: a@b.example\nSubject: x\nContent-Type: text/plain; "
		    "charset=utf-8\n\n");
	for (size_t i = 0; i < N_ELEMENTS(words); i++)
		buf_putf(&m, "%s ", words[i]);
	for (int i = 0; i < 1500; i++) {
		int n = 3 + rand_r(&seed) % 12;

		for (int k = 0; k < n; k++)
			buf_putf(&m, "%c", "aabbz01"[rand_r(&seed) % 7]);
		buf_put_str(&m, i % 10 == 9 ? "\n" : " ");
	}
	buf_put_str(&m, "\n");
	mv = msgview_new(&set, m.data, m.len, NULL);
	bayes_tokenize(&bs, mv, m.data, m.len, &t);
	ck_assert_uint_gt(t.list.n, 1000);
	for (size_t i = 1; i < t.list.n; i++) {
		const struct strlist_item *x = &t.list.v[i - 1], *y = &t.list.v[i];
		size_t n = x->len < y->len ? x->len : y->len;
		int c = memcmp(x->p, y->p, n);

		ck_assert_msg(c < 0 || (c == 0 && x->len < y->len), "\"%s\" before \"%s\"", x->p,
			      y->p);
	}
	for (size_t i = 0; i < N_ELEMENTS(words); i++)
		if (strcmp(words[i], "Zzz") != 0 && strcmp(words[i], "ZZZ") != 0)
			ck_assert_msg(has_token(&t, words[i]), "%s", words[i]);
	bayes_tokens_free(&t);
	msgview_free(&mv);
	buf_free(&m);
}
END_TEST

/* What a header becomes depends on its name, decided once per name and
 * remembered: names alike but for case (compressed only as spelt in
 * %HEADER_NAME_COMPRESSION, chewed as Message-IDs in any case), names
 * too long to remember, ignored ones, one whose value only marks its
 * presence (its "1" is too short a token), a folded one; the second
 * message gets the same tokens from the remembered decisions. */
START_TEST(header_names)
{
	static const char msg[] =
		"Message-Id: <a1a1@x.example>\n"
		"MESSAGE-ID: <b2b2@y.example>\n"
		"X-Message-Id: <c3c3@z.example>\n"
		"X-Mailer: Foo 1\n"
		"x-mailer: Bar 2\n"
		"X-Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: long1\n"
		"X-Bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-Fingerprint: long2\n"
		"X-PGP-Fingerprint: secret\n"
		"X-Virus-Scanned: ignored1\n"
		"X-Spam-Status: ignored2\n"
		"X-Folded: one\n two\n\tthree\n"
		"Subject: s\n"
		"\n"
		"body\n";
	static const char *const want[] = {
		"H*m:a1a1", "H*MI:a1a1", "HMESSAGE-ID:b2b2", "H*MI:b2b2", "HX-Message-Id:c3c3",
		"H*x:Foo", "H*UA:Foo", "Hx-mailer:Bar", "H*UA:Bar",
		"HX-Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:long1",
		"HX-Bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-Fingerprint:long2",
		"HX-Folded:one", "HX-Folded:two", "HX-Folded:three",
	};
	struct bayes_tokens t[2];

	for (int round = 0; round < 2; round++) {
		struct msgview *mv = msgview_new(&set, msg, strlen(msg), NULL);

		bayes_tokenize(&bs, mv, msg, strlen(msg), &t[round]);
		msgview_free(&mv);
	}
	for (size_t i = 0; i < N_ELEMENTS(want); i++)
		ck_assert_msg(has_token(&t[0], want[i]), "%s", want[i]);
	for (size_t i = 0; i < t[0].list.n; i++) {
		ck_assert_msg(strstr(t[0].list.v[i].p, "secret") == NULL, "%s", t[0].list.v[i].p);
		ck_assert_msg(strstr(t[0].list.v[i].p, "ignored") == NULL, "%s",
			      t[0].list.v[i].p);
	}
	ck_assert_uint_eq(t[0].list.n, t[1].list.n);
	for (size_t i = 0; i < t[0].list.n; i++)
		ck_assert_str_eq(t[0].list.v[i].p, t[1].list.v[i].p);
	bayes_tokens_free(&t[0]);
	bayes_tokens_free(&t[1]);
}
END_TEST

static Suite *
bayes_tok_suite(void)
{
	Suite *s = suite_create("bayes_tok");
	TCase *tc;

	tc = ut_tcase(s, "subst", false);
	tcase_add_loop_test(tc, subst_like_pcre2, 0, N_ELEMENTS(substs));
	tcase_add_test(tc, subst_by_hand_like_pcre2);
	tcase_add_test(tc, subst_received_like_pcre2);
	tc = ut_tcase(s, "message", false);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, tokens_sorted);
	tcase_add_test(tc, header_names);
	return s;
}

int
main(void)
{
	return ut_run(bayes_tok_suite);
}
