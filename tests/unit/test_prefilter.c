/* Unit tests for the byte-set gate of scoring/prefilter.c and the byte
 * sets of scoring/byteset.c: the sets derived from patterns, the patterns
 * that must give none, the class tables checked byte by byte against
 * PCRE2 compiled as rules.c compiles rules, and soundness (a text PCRE2
 * matches always passes the gate); the approximations of ReplaceTags
 * values (which shapes get one, and that they match wherever the value
 * does); the leading items a gate may drop (which, and that the rest
 * matches wherever the pattern does); the repeat counts (a text PCRE2
 * matches always holds the disjoint occurrences, and no match starts
 * after the bound they give), on the FILL_THIS_FORM rules among others. */
#include "config.h"

#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "byteset.h"
#include "check_compat.h"
#include "compat.h"
#include "prefilter.h"
#include "rules_int.h"
#include "strlist.h"
#include "xalloc.h"

/* Compiles pattern as a rule file writes it, /pattern/flags. */
static pcre2_code *
compile(const char *pattern, const char *flags)
{
	char *written = NULL, why[256];
	pcre2_code *re;

	ck_assert_int_ge(asprintf(&written, "/%s/%s", pattern, flags), 0);
	re = rules_compile_regex(written, why, sizeof(why));
	ck_assert_msg(re != NULL, "%s: %s", written, why);
	free(written);
	return re;
}

static bool
matches(pcre2_code *re, const char *text, size_t len)
{
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	bool m = pcre2_match(re, (PCRE2_SPTR)text, len, 0, 0, md, NULL) >= 0;

	pcre2_match_data_free(md);
	return m;
}

/* The bytes PCRE2 matches with a one-character pattern. */
static struct byteset
pcre2_bytes(const char *pattern, const char *flags)
{
	pcre2_code *re = compile(pattern, flags);
	struct byteset s;

	memset(&s, 0, sizeof(s));
	for (unsigned int c = 0; c < 256; c++) {
		char b = (char)c;

		if (matches(re, &b, 1))
			byteset_add(&s, (unsigned char)c);
	}
	pcre2_code_free(re);
	return s;
}

static void
format_set(struct buf *out, const struct byteset *s)
{
	buf_putf(out, "{");
	for (unsigned int c = 0; c < 256; c++) {
		unsigned int e = c;

		if (!byteset_has(s, (unsigned char)c))
			continue;
		while (e + 1 < 256 && byteset_has(s, (unsigned char)(e + 1)))
			e++;
		for (unsigned int k = 0; k < (e > c ? 2u : 1u); k++) {
			unsigned int v = k == 0 ? c : e;

			if (k == 1)
				buf_putf(out, "-");
			if (v > 0x20 && v < 0x7f && v != '\\' && v != '{' && v != '}')
				buf_putf(out, "%c", (char)v);
			else
				buf_putf(out, "\\x%02x", v);
		}
		c = e;
	}
	buf_putf(out, "}");
}

static void
format_req(struct buf *out, const struct byteset_req *r)
{
	for (unsigned int i = 0; i < r->n; i++) {
		if (i > 0)
			buf_putf(out, " ");
		format_set(out, &r->set[i]);
	}
}

/* \d \w \s \h \v and their complements, and every POSIX class, are
 * exactly the bytes PCRE2 matches with them. */
START_TEST(test_class_tables)
{
	static const char letters[] = "dDwWsShHvV";
	static const char *const posix[] = {
		"alpha", "digit", "alnum", "space", "blank", "cntrl", "graph",
		"print", "punct", "lower", "upper", "word", "xdigit", "ascii",
	};
	struct byteset mine;

	for (size_t i = 0; letters[i] != '\0'; i++) {
		char pattern[3] = { '\\', letters[i], '\0' };
		struct byteset real = pcre2_bytes(pattern, "");

		ck_assert(byteset_escape_class(letters[i], &mine));
		ck_assert_msg(memcmp(&mine, &real, sizeof(mine)) == 0, "\\%c", letters[i]);
	}
	ck_assert(!byteset_escape_class('b', &mine));
	ck_assert(!byteset_escape_class('p', &mine));
	for (size_t i = 0; i < N_ELEMENTS(posix); i++) {
		char pattern[32];
		struct byteset real;

		snprintf(pattern, sizeof(pattern), "[[:%s:]]", posix[i]);
		real = pcre2_bytes(pattern, "");
		ck_assert(byteset_posix_class(posix[i], strlen(posix[i]), &mine));
		ck_assert_msg(memcmp(&mine, &real, sizeof(mine)) == 0, "%s", pattern);
	}
	ck_assert(!byteset_posix_class("alphabet", 8, &mine));
}
END_TEST

/* /i folds ASCII letters only (no UTF, built-in tables): byteset_fold of
 * a byte covers everything the byte matches case-insensitively. */
START_TEST(test_case_folding)
{
	for (unsigned int c = 0; c < 256; c++) {
		char pattern[8];
		struct byteset real, mine;

		snprintf(pattern, sizeof(pattern), "\\x%02x", c);
		real = pcre2_bytes(pattern, "i");
		memset(&mine, 0, sizeof(mine));
		byteset_add(&mine, (unsigned char)c);
		byteset_fold(&mine);
		ck_assert_msg(memcmp(&mine, &real, sizeof(mine)) == 0, "\\x%02x", c);
	}
}
END_TEST

struct bytes_case {
	const char *pattern;
	bool extended;
	/* The sets, rarest first by byteset.c's weights (equal weights in
	 * the order met); NULL = none. */
	const char *expect;
};

START_TEST(test_prefilter_bytes)
{
	static const struct bytes_case cases[] = {
		{ "abc", false, "{Aa} {Bb} {Cc}" },
		{ "(?i)K", false, "{Kk}" },
		{ "(?-i:Q)", false, "{Qq}" },
		{ "\\x41\\x{e9}\\t", false, "{\\xe9} {\\x09} {Aa}" },
		{ "\\d{3}-\\d{4}", false, "{-} {0-9}" },
		{ "[^\\x00-\\x7f]", false, "{\\x80-\\xff}" },
		{ "[\\xd1\\xf1][\\x80-\\x8f]", false, "{\\xd1\\xf1} {\\x80-\\x8f}" },
		{ "[[:digit:]]x", false, "{Xx} {0-9}" },
		{ "[[:^alpha:][:alpha:]]z", false, "{Zz}" },	/* class is every byte */
		{ "[a\\-z]", false, "{-AZaz}" },		/* \- is no range */
		{ "[\\w.]@", false, "{@} {.0-9A-Z_a-z}" },
		{ "\\Qa.b\\E", false, "{.} {Aa} {Bb}" },
		{ "(?:foo|bar)", false, "{BFbf}" },
		{ "(?:x|y|z)q", false, "{Qq} {X-Zx-z}" },
		{ "(?:[pP\\xd1]|[\\xce][\\xa1])", false, "{Pp\\xce\\xd1}" },
		{ "a+b{2,}c{1,3}", false, "{Aa} {Bb} {Cc}" },
		{ "(?!foo)bar", false, "{Bb} {Aa} {Rr}" },
		{ "(?<=x)y\\b$", false, "{Yy}" },
		{ "(?<n>ab)\\k<n>", false, "{Aa} {Bb}" },
		{ "(?#comment)q", false, "{Qq}" },
		{ "a b # c\n d", true, "{Aa} {Bb} {Dd}" },
		{ "a b", false, "{Aa} {Bb} {\\x20}" },
		{ "a\x85" "b", true, "{Aa} {Bb}" },		/* /x skips NEL too */
		{ "\\s\\S", false, "{\\x09-\\x0d\\x20} {\\x00-\\x08\\x0e-\\x1f!-\\xff}" },
		{ "\\x00", false, "{\\x00}" },
		/* none */
		{ "a*", false, NULL },
		{ "x?y?", false, NULL },
		{ "(?:abc|)", false, NULL },
		{ "(?:abc|.)", false, NULL },
		{ "a{0}", false, NULL },
		{ ".", false, NULL },
		{ "(a)\\1", false, "{Aa}" },
		{ "\\1", false, NULL },
		{ "(?=b)", false, NULL },
		{ "[^a-z]", false, NULL },			/* complement folds to all */
		{ "\\p{L}", false, NULL },
		{ "[\\p{L}a]", false, NULL },
		{ "[\\b]", false, NULL },
		{ "\\R", false, NULL },
		{ "\\X", false, NULL },
		{ "\\N", false, NULL },
		{ "(*UCP)\\w", false, NULL },
		{ "a{,3}b", false, NULL },			/* {,3}: a quantifier in PCRE2 10.43 */
		{ "(?R)", false, NULL },
		{ "(unbalanced", false, NULL },
		{ "[[:nosuch:]]", false, NULL },
	};

	struct buf wrong;

	buf_init(&wrong, 0);
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct byteset_req r;
		struct buf got;
		bool ok;

		buf_init(&got, 0);
		buf_putf(&got, "%s", "");
		ok = prefilter_bytes(cases[i].pattern, strlen(cases[i].pattern),
				     cases[i].extended, &r);
		ck_assert(ok == (r.n > 0));
		format_req(&got, &r);
		if (ok != (cases[i].expect != NULL) ||
		    (ok && strcmp(got.data, cases[i].expect) != 0))
			buf_putf(&wrong, "; %s: got %s, want %s",
				 ut_esc(cases[i].pattern, strlen(cases[i].pattern)),
				 ok ? got.data : "none",
				 cases[i].expect != NULL ? cases[i].expect : "none");
		buf_free(&got);
	}
	ck_assert_msg(wrong.len == 0, "%s", wrong.data);
	buf_free(&wrong);
}
END_TEST

/* An escaped '-' in a class is a literal for the required literals too. */
START_TEST(test_literal_escaped_hyphen)
{
	struct strlist out;
	struct buf joined;

	strlist_init(&out);
	buf_init(&joined, 0);
	ck_assert(prefilter_literals(UT_S("x[.\\-/]yz"), false, &out));
	for (size_t k = 0; k < out.n; k++)
		buf_putf(&joined, "%s%s", k > 0 ? "|" : "", out.v[k].p);
	ck_assert_str_eq(joined.data, "x-yz|x.yz|x/yz");
	strlist_free(&out);
	buf_free(&joined);
}
END_TEST

/* A requirement keeps the rarest sets, drops what another set implies,
 * and an alternation keeps one set. */
START_TEST(test_req_ops)
{
	struct byteset a, b, ab, sp;
	struct byteset_req r, x, y;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&sp, 0, sizeof(sp));
	byteset_add(&a, 0xe9);
	byteset_add(&b, 'q');
	byteset_add(&sp, ' ');
	ab = a;
	byteset_add(&ab, 'q');
	r.n = 0;
	byteset_req_add(&r, &sp);
	byteset_req_add(&r, &ab);
	byteset_req_add(&r, &a);		/* makes ab redundant */
	ck_assert_uint_eq(r.n, 2);
	ck_assert(memcmp(&r.set[0], &a, sizeof(a)) == 0);
	ck_assert(memcmp(&r.set[1], &sp, sizeof(sp)) == 0);
	byteset_req_add(&r, &ab);		/* implied by a: ignored */
	ck_assert_uint_eq(r.n, 2);
	for (unsigned int c = 0; c < 20; c++) {
		struct byteset one;

		memset(&one, 0, sizeof(one));
		byteset_add(&one, (unsigned char)(0x80 + c));
		byteset_req_add(&r, &one);
	}
	ck_assert_uint_eq(r.n, BYTESET_REQ_MAX);
	ck_assert(!byteset_has(&r.set[BYTESET_REQ_MAX - 1], ' '));	/* the commonest went */

	x.n = y.n = 0;
	byteset_req_add(&x, &a);
	byteset_req_add(&x, &sp);
	byteset_req_add(&y, &b);
	byteset_req_either(&x, &x, &y);
	ck_assert_uint_eq(x.n, 1);
	ck_assert(memcmp(&x.set[0], &ab, sizeof(ab)) == 0);
	y.n = 0;
	byteset_req_either(&x, &x, &y);
	ck_assert_uint_eq(x.n, 0);
}
END_TEST

START_TEST(test_bytes_present)
{
	struct byteset s;
	char longer[300];

	byteset_of(UT_S("ab\xe9"), &s);
	ck_assert(byteset_has(&s, 'a') && byteset_has(&s, 'b') && byteset_has(&s, 0xe9));
	ck_assert(!byteset_has(&s, 'A') && !byteset_has(&s, 0));
	for (size_t i = 0; i < sizeof(longer); i++)
		longer[i] = (char)(i % 256);
	byteset_of(longer, sizeof(longer), &s);
	for (unsigned int c = 0; c < 256; c++)
		ck_assert(byteset_has(&s, (unsigned char)c));
	byteset_of(longer + 1, 200, &s);
	ck_assert(!byteset_has(&s, 0) && byteset_has(&s, 1) && byteset_has(&s, 200));
	ck_assert(!byteset_has(&s, 201));
	byteset_of("", 0, &s);
	ck_assert(byteset_is_empty(&s));
}
END_TEST

/* Soundness: whenever PCRE2 matches a text, the text has a byte of every
 * set.  Patterns in the style of the rules without literals (obfuscation
 * classes, high-bit sequences, long words), texts random over an alphabet
 * that hits them, plus the ones written out. */
START_TEST(test_prefilter_bytes_sound)
{
	static const struct {
		const char *pattern, *flags;
	} patterns[] = {
		{ "(?:[pP\\xd1\\xf1\\xfe]|[\\xce][\\xa1]|[\\xcf][\\x81\\xb7])(?:[hH]|[\\xc4][\\xa4])(?!ph)", "i" },
		{ "\\b(?:[a-z]{5,}[\\s\\.]+){3}", "" },
		{ "[\\x80-\\xff]{3}", "" },
		{ "\\d{2,3}[-.]\\d{2}", "" },
		{ "(?i)v(?-i:I)[a@4]gr[a@]", "" },
		{ "[^\\sa-z]{2}x", "" },
		{ "<!--\\s*\\w+\\s*-->", "" },
		{ "(?:\\$|US)\\s?\\d[,.]\\d", "i" },
		{ "[[:upper:]][[:punct:]]", "i" },
		{ "(?:=?\\s|&nbsp;)y", "" },
		{ "\\h\\v", "" },
		{ "[\\W_]q", "" },
	};
	static const char alphabet[] = "aAbBhHpPqQvVIxXyYzZ09 .-,$@4<>!_=&;\t\n\xa0\x85"
		"\xd1\xf1\xfe\xce\xa1\xcf\x81\xb7\xc4\xa4\xe9";
	static const char *const texts[] = {
		"pH", "\xce\xa1h", "\xcf\x81\xc4\xa4", "hello world again here", "\xe9\xe9\xe9",
		"12-34", "vIagra", "V4GRA", "Vi@gra", "AB!x", "<!-- x -->", "US 1,5", "$1.5",
		"A!", "a.", "&nbsp;y", "=\ny", "\t\n", "\xa0\x85", "_q", " q",
	};
	unsigned int seed = 12345;
	char text[24];

	for (size_t p = 0; p < N_ELEMENTS(patterns); p++) {
		pcre2_code *re = compile(patterns[p].pattern, patterns[p].flags);
		struct byteset_req r;
		unsigned int tried = 0, matched = 0;
		bool extended = strchr(patterns[p].flags, 'x') != NULL;

		ck_assert_msg(prefilter_bytes(patterns[p].pattern, strlen(patterns[p].pattern),
					      extended, &r), "%s: no gate", patterns[p].pattern);
		for (size_t t = 0; t < N_ELEMENTS(texts) + 20000; t++) {
			const char *s;
			size_t len;
			struct byteset present;

			if (t < N_ELEMENTS(texts)) {
				s = texts[t];
				len = strlen(s);
			} else {
				len = 1 + (seed = seed * 1103515245u + 12345u) / 65536 % sizeof(text);
				for (size_t k = 0; k < len; k++) {
					seed = seed * 1103515245u + 12345u;
					text[k] = alphabet[(seed / 65536) % (sizeof(alphabet) - 1)];
				}
				s = text;
			}
			tried++;
			if (!matches(re, s, len))
				continue;
			matched++;
			byteset_of(s, len, &present);
			ck_assert_msg(byteset_req_open(&r, &present), "%s matched %s but the gate is shut",
				      patterns[p].pattern, ut_esc(s, len));
		}
		ck_assert_msg(matched > 0, "%s: no text matched (of %u)", patterns[p].pattern,
			      tried);
		pcre2_code_free(re);
	}
}
END_TEST

/* Approximations of ReplaceTags values: which shapes get one, and the
 * text of one. */
START_TEST(test_approximate_shapes)
{
	static const char *const refused[] = {
		"[aA]|&\\#97;",			/* not one group */
		"(?:a)|(?:bc)",			/* a group, then more */
		"(?:[aA]|b)",			/* single bytes only */
		"(?:[aA]|bc|d\\xe9f)",		/* as many alternatives */
		"(?:(a)|bc)",			/* a capture */
		"(?:(?!x)ab|c)",		/* an assertion */
		"(?:a++b|c)",			/* possessive */
		"(?:ab+|c)",			/* unbounded */
		"(?:a\\1|c)",			/* a backreference */
		"(?:a\\bb|c)",			/* an assertion escape */
		"(?:(?i)ab|c)",			/* inline flags */
		"(?:a{2,}|c)",			/* unbounded */
		"(?:a{1,100}|c)",		/* too long */
	};
	static const char tag[] = "(?:[aA4]|[\\xc3][\\xa0\\xa1]|rn|&\\#(?:97|65);|[\\xd0][\\xb0])";
	struct buf out;

	buf_init(&out, 0);
	for (size_t i = 0; i < N_ELEMENTS(refused); i++) {
		buf_reset(&out);
		ck_assert_msg(!prefilter_approximate(refused[i], strlen(refused[i]), &out),
			      "%s approximated as %.*s", refused[i], (int)out.len,
			      out.data != NULL ? out.data : "");
		ck_assert_uint_eq(out.len, 0);
	}
	/* single bytes in one class, the two-byte sequences by their lead
	 * byte, the entities by '&' and their length, "rn" with the
	 * two-byte ones */
	buf_reset(&out);
	ck_assert(prefilter_approximate(tag, strlen(tag), &out));
	buf_put(&out, "", 1);
	ck_assert_str_eq(out.data, "(?:[\\x34\\x41\\x61]|[\\x52\\x72\\xc3\\xd0][\\s\\S]{1,1}"
				   "|[\\x26][\\s\\S]{4,4})");
	/* an empty alternative, and optional starts */
	buf_reset(&out);
	ck_assert(prefilter_approximate("(?:|x?yz|w?vu)", strlen("(?:|x?yz|w?vu)"), &out));
	buf_put(&out, "", 1);
	ck_assert_str_eq(out.data, "(?:[\\x56-\\x59\\x76-\\x79][\\s\\S]{1,2}|)");
	buf_free(&out);
}
END_TEST

/* Soundness: the approximation matches wherever the value does, alone
 * and between other text, with and without /i.  Values in the style of
 * SpamAssassin's 25_replace.cf, texts random over an alphabet that holds
 * their bytes. */
START_TEST(test_approximate_sound)
{
	static const char *const values[] = {
		"(?:[aA\\@\\xc0\\xe4]|[\\xb6\\xc1]|[\\xc3][\\x80\\x81\\xa0]|[\\xe1](?:[\\x8e][\\xaa]|[\\xb8][\\x80\\x81])|&\\#(?:1(?:0(?:10|17))|x3f2);)",
		"(?:[mM\\xcc]|rn|[\\xc9][\\xb1]|[\\xd0][\\x9c\\xbc])",
		"(?:[vVu\\xe3]|\\\\\\/|[\\xce][\\xbd])",
		"(?:[xX\\xd7]|><|[\\xce][\\xa7])",
		"(?:=?\\s|[\\xe2](?:[\\x80][\\x80\\x8b]|[\\x81][\\x9f])|&(?:\\#(?:160|xa0)|(?:e[nm]|nb)sp);|[\\xe3][\\x80][\\x80])",
		"(?:a.c|[\\x80-\\xbf]{2,3}|\\d\\d?|b.?d|e..)",
		"(?:|x?yz|w(?:v|uu){1,2}|q?rs|t(?:v|uu){1,2})",
	};
	static const char alphabet[] = "aAmMrnvVu\\/xX><=;&#01234567fnbspemwyz.c \t\n@"
		"\xc0\xe4\xb6\xc1\xc3\x80\x81\xa0\xe1\x8e\xaa\xb8\xcc\xc9\xb1\xd0\x9c\xbc"
		"\xe3\xce\xbd\xd7\xa7\xe2\x8b\x9f";
	static const char *const flags[] = { "", "i" };
	unsigned int seed = 4242;
	char text[16];

	for (size_t v = 0; v < N_ELEMENTS(values); v++) {
		struct buf approx;
		unsigned int matched = 0;

		buf_init(&approx, 0);
		ck_assert_msg(prefilter_approximate(values[v], strlen(values[v]), &approx),
			      "%s: none", values[v]);
		buf_put(&approx, "", 1);
		for (size_t f = 0; f < N_ELEMENTS(flags); f++) {
			for (int context = 0; context < 2; context++) {
				char *exact_pat = NULL, *approx_pat = NULL;
				pcre2_code *exact, *gate;

				ck_assert_int_ge(asprintf(&exact_pat, context ? "q%sz" : "^%s$",
							  values[v]), 0);
				ck_assert_int_ge(asprintf(&approx_pat, context ? "q%sz" : "^%s$",
							  approx.data), 0);
				exact = compile(exact_pat, flags[f]);
				gate = compile(approx_pat, flags[f]);
				for (int t = 0; t < 30000; t++) {
					size_t len = (seed = seed * 1103515245u + 12345u) / 65536 %
						     sizeof(text);

					for (size_t k = 0; k < len; k++) {
						seed = seed * 1103515245u + 12345u;
						text[k] = alphabet[(seed / 65536) % (sizeof(alphabet) - 1)];
					}
					if (context && len >= 2) {
						text[0] = 'q';
						text[len - 1] = 'z';
					}
					if (!matches(exact, text, len))
						continue;
					matched++;
					ck_assert_msg(matches(gate, text, len),
						      "%s matches %s, its approximation %s does not",
						      exact_pat, ut_esc(text, len), approx_pat);
				}
				pcre2_code_free(exact);
				pcre2_code_free(gate);
				free(exact_pat);
				free(approx_pat);
			}
		}
		ck_assert_msg(matched > 20, "%s: only %u texts matched", values[v], matched);
		buf_free(&approx);
	}
}
END_TEST

/* Leading items a gate drops: where the rest starts for patterns of the
 * kinds SpamAssassin writes, and none where dropping could change what
 * the rest matches or gains nothing. */
START_TEST(test_trim_prefix)
{
	static const struct {
		const char *pattern;
		const char *rest;	/* NULL: no offset */
	} cases[] = {
		{ "(?:\\b|\\s)[_\\W]{0,3}M[_\\W]{0,3}[e3\\xE8-\\xEB]r", "M[_\\W]{0,3}[e3\\xE8-\\xEB]r" },
		{ "\\b_{0,3}R[_\\W]?[e3\\xE8-\\xEB]", "R[_\\W]?[e3\\xE8-\\xEB]" },
		{ "(?:\\b|\\s)[_\\W]{0,3}(?:\\\\\\/|V)[_\\W]{0,3}x", "(?:\\\\\\/|V)[_\\W]{0,3}x" },
		{ "(?:^|\\W)(?=abc)(?!abcd)[aA4@]bc", "[aA4@]bc" },
		{ "^\\s*x?y", "y" },
		{ "(?<!=)\\b[LM3][a-z]{26}", "[LM3][a-z]{26}" },
		{ "(?:x|)\\d{3}", "\\d{3}" },
		{ "abc", NULL },			/* nothing to drop */
		{ "\\b\\w+x", NULL },			/* \w does not select */
		{ "\\b[^a]x", NULL },			/* nor a negated class */
		{ "\\s*[a-z]x", NULL },			/* nor 26 letters, 52 folded */
		{ "\\b.x", NULL },
		{ "(a)?\\1b", NULL },			/* a backreference */
		{ "\\Gab?c", NULL },
		{ "(?i)\\bfoo", NULL },			/* an option setting stays */
		{ "\\b(?i:foo)", NULL },
		{ "\\bfoo|bar", NULL },			/* a top-level alternation */
		{ "(*COMMIT)\\bfoo", NULL },
		{ "(?(1)a|b)\\bfoo", NULL },
		{ "\\b(?<n>x)y", NULL },		/* named groups are not read */
		{ "\\b(?#c(|)\\d", NULL },		/* nor comments */
		{ "\\b\\Q(|\\E\\d", NULL },		/* nor quoted text */
		{ "\\b(?x) \\d", NULL },		/* nor inline /x */
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		size_t off = prefilter_trim_prefix(cases[i].pattern, strlen(cases[i].pattern));

		if (cases[i].rest == NULL)
			ck_assert_msg(off == 0, "%s: trimmed to %s", cases[i].pattern,
				      cases[i].pattern + off);
		else
			ck_assert_msg(off > 0 && strcmp(cases[i].pattern + off, cases[i].rest) == 0,
				      "%s: %s, not %s", cases[i].pattern,
				      off > 0 ? cases[i].pattern + off : "(none)", cases[i].rest);
	}
}
END_TEST

/* Soundness: the rest matches wherever the whole pattern does. */
START_TEST(test_trim_prefix_sound)
{
	static const char *const patterns[] = {
		"(?:\\b|\\s)[_\\W]{0,3}M[_\\W]{0,3}[e3]r",
		"\\b_{0,3}R[_\\W]?[e3]s",
		"(?:^|\\W)(?=[aA4]b)(?![aA]bc)[aA4@]b",
		"(?<![-\\d])(?:x|)\\d{2}(?!\\d)",
		"^\\s*y[a-c]$",
	};
	static const char alphabet[] = "MmeE3rRsS_ -.!aA4@bcxy0123\n\t";
	static const char *const flags[] = { "", "i", "m" };
	unsigned int seed = 777;
	char text[14];

	for (size_t p = 0; p < N_ELEMENTS(patterns); p++) {
		size_t off = prefilter_trim_prefix(patterns[p], strlen(patterns[p]));
		unsigned int matched = 0;

		ck_assert_msg(off > 0, "%s: no offset", patterns[p]);
		for (size_t f = 0; f < N_ELEMENTS(flags); f++) {
			pcre2_code *whole = compile(patterns[p], flags[f]);
			pcre2_code *rest = compile(patterns[p] + off, flags[f]);

			for (int t = 0; t < 30000; t++) {
				size_t len = (seed = seed * 1103515245u + 12345u) / 65536 % sizeof(text);

				for (size_t k = 0; k < len; k++) {
					seed = seed * 1103515245u + 12345u;
					text[k] = alphabet[(seed / 65536) % (sizeof(alphabet) - 1)];
				}
				if (!matches(whole, text, len))
					continue;
				matched++;
				ck_assert_msg(matches(rest, text, len), "%s matches %s, %s does not",
					      patterns[p], ut_esc(text, len), patterns[p] + off);
			}
			pcre2_code_free(whole);
			pcre2_code_free(rest);
		}
		ck_assert_msg(matched > 20, "%s: only %u texts matched", patterns[p], matched);
	}
}
END_TEST

/* Which patterns are one group repeated n >= 2 times, and the literals
 * of the group (never of two repeats together: "abcabc" for (abc){2}). */
START_TEST(test_repeat_min_shapes)
{
	static const struct {
		const char *pattern;
		bool extended;
		unsigned int min;
		const char *literals;	/* joined with '|', NULL when min is 1 */
	} cases[] = {
		{ "(?:name|address)\\W+){3}", false, 1, NULL },	/* unbalanced */
		{ "(?:name|address\\W+){3}", false, 3, "name|address" },
		{ "(abc){2}", false, 2, "abc" },
		{ "(?:cheap\\s+){5,}", false, 5, "cheap" },
		{ "(?:cheap\\s+){5,9}?", false, 5, "cheap" },
		{ "(?:cheap){1,3}", false, 1, NULL },
		{ "(?:cheap)+", false, 1, NULL },
		{ "(?:cheap){3}x", false, 1, NULL },
		{ "x(?:cheap){3}", false, 1, NULL },
		{ "(?=cheap){3}", false, 1, NULL },
		{ "(?>cheap){3}", false, 1, NULL },
		{ "(?i:cheap){3}", false, 1, NULL },
		{ "(?:cheap){3}", true, 1, NULL },
		{ "(?:\\)cheap[)]){2}", false, 2, ")cheap)" },
		{ "(?:(cheap)\\1){2}", false, 1, NULL },	/* a backreference */
		{ "(?:a?){4}", false, 1, NULL },		/* no literal */
		/* PCRE2 10.42 reads these braces as text */
		{ "(?:abcde){2,3,4}", false, 1, NULL },
		{ "(?:abcde){2,,}", false, 1, NULL },
		{ "(?:abcde){2,3,}", false, 1, NULL },
		{ "(?:abcde){2,3}", false, 2, "abcde" },
		{ "(?:abc(*SKIP)de){2}", false, 1, NULL },
	};

	for (size_t c = 0; c < N_ELEMENTS(cases); c++) {
		struct strlist lits;
		struct buf joined;
		unsigned int min;

		strlist_init(&lits);
		buf_init(&joined, 0);
		min = prefilter_repeat_min(cases[c].pattern, strlen(cases[c].pattern),
					   cases[c].extended, &lits);
		ck_assert_msg(min == cases[c].min, "%s: %u", cases[c].pattern, min);
		for (size_t k = 0; k < lits.n; k++) {
			if (k > 0)
				buf_put(&joined, "|", 1);
			buf_put(&joined, lits.v[k].p, lits.v[k].len);
		}
		buf_put(&joined, "", 1);
		if (cases[c].literals == NULL)
			ck_assert_msg(lits.n == 0, "%s: %s", cases[c].pattern, joined.data);
		else
			ck_assert_msg(strcmp(joined.data, cases[c].literals) == 0, "%s: %s",
				      cases[c].pattern, joined.data);
		buf_free(&joined);
		strlist_free(&lits);
	}
}
END_TEST

/* A text PCRE2 matches always holds the repeat count of the group's
 * literals, disjoint (prefilter_repeat_fits), its match starts no later
 * than the bound they give, and the count shuts texts that have too
 * few. */
START_TEST(test_repeat_min_sound)
{
	static const char *const patterns[] = {
		"(?:abc|bca){2}",
		"(abc){2}",
		"(?:a?(?:abc|cab)\\W?){3}",
		"(?:(?:abc|bcb)[ -]?){2,}",
		"(?:ab[bc]c){2}",
	};
	/* texts made of pieces near the patterns', so that many match */
	static const char *const pieces[] = { "abc", "cab", "bca", "bcb", "abb", "abcc", "a",
					      "b", "c", " ", "-" };
	unsigned int seed = 4242;
	char text[64];

	for (size_t p = 0; p < N_ELEMENTS(patterns); p++) {
		struct strlist lits;
		size_t owner[64] = { 0 };
		char error[256] = "";
		struct prefilter_db *db;
		hs_scratch_t *scratch = NULL;
		struct prefilter_spans spans = { NULL, 0, 0 };
		unsigned int min, matched = 0, shut = 0;
		pcre2_code *re = compile(patterns[p], "i");
		pcre2_match_data *md = pcre2_match_data_create(4, NULL);

		strlist_init(&lits);
		min = prefilter_repeat_min(patterns[p], strlen(patterns[p]), false, &lits);
		ck_assert_msg(min >= 2 && lits.n > 0 && lits.n <= 64, "%s: %u", patterns[p], min);
		db = prefilter_db_build(&lits, owner, lits.n, true, error, sizeof(error));
		ck_assert_msg(db != NULL, "%s: %s", patterns[p], error);
		ck_assert_int_eq(prefilter_alloc_scratch(db, &scratch), 0);
		for (int t = 0; t < 30000; t++) {
			size_t len = 0, n, start_max;
			bool reaches;

			seed = seed * 1103515245u + 12345u;
			n = (seed / 65536) % 10;
			for (size_t k = 0; k < n; k++) {
				const char *piece;

				seed = seed * 1103515245u + 12345u;
				piece = pieces[(seed / 65536) % N_ELEMENTS(pieces)];
				memcpy(text + len, piece, strlen(piece));
				len += strlen(piece);
			}
			reaches = prefilter_repeat_fits(db, scratch, &spans, text, len, 0, min,
							&start_max);
			if (!reaches)
				shut++;
			if (pcre2_match(re, (PCRE2_SPTR)text, len, 0, 0, md, NULL) < 0)
				continue;
			matched++;
			ck_assert_msg(reaches, "%s matches %s, its count says no", patterns[p],
				      ut_esc(text, len));
			ck_assert_msg(pcre2_get_ovector_pointer(md)[0] <= start_max,
				      "%s matches %s at %zu, after %zu", patterns[p],
				      ut_esc(text, len), (size_t)pcre2_get_ovector_pointer(md)[0],
				      start_max);
		}
		pcre2_match_data_free(md);
		prefilter_spans_free(&spans);
		ck_assert_msg(matched > 20, "%s: only %u texts matched", patterns[p], matched);
		ck_assert_msg(shut > 1000, "%s: only %u texts shut", patterns[p], shut);
		hs_free_scratch(scratch);
		prefilter_db_free(&db);
		pcre2_code_free(re);
		strlist_free(&lits);
	}
}
END_TEST

/* Occurrences that share bytes count once: "names" holds three literals
 * of (?:names?|nam){2} but room for one repeat. */
START_TEST(test_repeat_fits_disjoint)
{
	static const struct {
		const char *text;
		bool fits;
		size_t start_max;	/* when it fits */
	} cases[] = {
		{ "names", false, 0 },
		{ "namesnam", true, 0 },
		{ "xx name, name, nam", true, 9 },
		{ "nanam", false, 0 },
		{ "", false, 0 },
		{ "NAMNAM", true, 0 },
	};
	struct strlist lits;
	size_t owner[8] = { 0 };
	char error[256] = "";
	struct prefilter_db *db;
	hs_scratch_t *scratch = NULL;
	struct prefilter_spans spans = { NULL, 0, 0 };
	unsigned int min;

	strlist_init(&lits);
	min = prefilter_repeat_min("(?:names?|nam){2}", 17, false, &lits);
	ck_assert_uint_eq(min, 2);
	db = prefilter_db_build(&lits, owner, lits.n, true, error, sizeof(error));
	ck_assert_msg(db != NULL, "%s", error);
	ck_assert_int_eq(prefilter_alloc_scratch(db, &scratch), 0);
	for (size_t c = 0; c < N_ELEMENTS(cases); c++) {
		size_t start_max;
		bool fits = prefilter_repeat_fits(db, scratch, &spans, cases[c].text,
						  strlen(cases[c].text), 0, min, &start_max);

		ck_assert_msg(fits == cases[c].fits, "%s: %d", cases[c].text, fits);
		if (fits)
			ck_assert_msg(start_max == cases[c].start_max, "%s: %zu", cases[c].text,
				      start_max);
	}
	prefilter_spans_free(&spans);
	hs_free_scratch(scratch);
	prefilter_db_free(&db);
	strlist_free(&lits);
}
END_TEST

/* SpamAssassin 4.0's FILL_THIS_FORM tags (72_active.cf), the rules that
 * made repeat counts matter: "(?:<FF_YOUR><FF_ALL>...){3}" with dozens of
 * short, overlapping literals ("nam", "name", "names"). */
static const char *const ff_tags[][2] = {
	{ "FF_LNNO", "(?:(?:\\d{1,3}(?:[)}\\]:.,]{1,80}|(?:st|nd|rd|th)[)}\\]:.,]{0,3})|\\W?\\([\\div]{1,5}\\)|\\W?\\{\\d{1,3}\\}|\\[\\d{1,3}\\]|\\*{1,5}|\\#{1,5}|\\(?[A-K][)}\\]:.,]{1,3})\\s?)" },
	{ "FF_YOUR", "(?:a?\\s?copy\\sof\\s)?(?:(?:your|din|seu|twoje)[\\s,:]{1,5})?(?:present\\s|c[uo]rrent\\s|full(?:st[\\xe4]ndigt)?\\s?|complete\\s|direct\\s|private?\\s|valid\\s|personal\\s|nuvarande\\s|vollst[\\xe4]ndige\\s|aktuelle\\s|pe\\s(?:ne\\s)?){0,3}" },
	{ "ANDOR", "(?:\\s?[\\/&+,]\\s?|\\sor\\s|\\sand?\\s)" },
	{ "NUMBER", "(?:(?:ruf)?num(?:[bm]er)?\\(?s?\\)?|nos?\\.|no\\b|n[\\xb0]|\\#s?|nbrs?\\.?)" },
	{ "FF_SUFFIX", "(?:\\sin\\s(?:full|words)|\\scompleto)?:?(?:\\s?[({][^)}]{1,30}[)}])?" },
	{ "FF_BLANK2", "(?:[^-=_.,:;*\\w]{0,3}(?:[-=_.,:;*\\s\\x85]|&\\#\\d{1,3};|[\\xe2][\\x80][\\xa6]){1,100})" },
	{ "FF_A1", "(?:(?:countr?y|city|province|ter+itory|(?:zip|post(?:al)?)(?:\\s?code)?|st?ates?|ad+res+e?)<ANDOR>?){1,3}(?:\\sof\\s(?:residence|birth|employment|citizenship|origin))?" },
	{ "FF_A2", "(?:(?:contact|full|house|home|resident[ia]+l|busines+|mailing|work|delivery|ship+ing|post(?:al)?|of+ice|e-?mail|bostads|wohn)<ANDOR>?){0,3}\\s?(?:ad+res+[es]{0,2}|location|endere[\\xe7]o)(?:\\sline)?(?:\\s[0-9])?" },
	{ "FF_N1", "(?:company|first|last|all|busines+|legal|ben[ei]ficiary|user|vollstaendigen)?\\s?(?:name?[sn]?|navne|nome|nazwy)(?:<ANDOR>ad+res+)?" },
	{ "FF_P1", "(?:(?:(?:busines+|contact|fax|voice|house|home|mobile?|cel+(?:ular)?|of+ice|tel+e?(?:\\s?(?:ph|f)one?)?|(?:ph|f)one|private)(?:\\s(?:ph|f)one)?<ANDOR>?){1,3}(?:\\s?<NUMBER>)?<ANDOR>?){1,3}" },
	{ "FF_M1", "(?:(?:ages?|marital\\s?statu[se]|sex|gender|male\\sor\\sfemale|(?:date\\s(?:of\\s)?)?birth|religion|nationality|(?:user )?email|next\\sof\\skin|alter|staatsangehoerigkeit|nationalitet|idade|weik)<ANDOR>?){1,3}" },
	{ "FF_L1", "(?:(?:previous\\s)?work(?:ing)\\s?experience|employment|position|profes+ion|(?:monthly|an+ual)?\\s?income|purpose\\sof\\sl(?:oa|ao)n|an+ual\\sturn\\s?over|l(?:oa|ao)n\\sduration|oc+up[ae]tion(?:\\/position)?s?|(?:l(?:oa|ao)n\\s|the\\s)?amount(?:\\sneed(ed)?|\\sdesired)?(?:\\s(?:as|of)\\sloan)?|beruf|zaw(?:=F3|[\\xf3])d)" },
	{ "FF_F1", "(?:(?:bank(?:ing)?|beneficiary|billing|acc(?:oun)?t|rout(?:ing)?|swift|receiver|user)<ANDOR>?){1,3}\\s(?:(?:name|ad+res+(?:es)?|location|code|details|institution|a\\/c|<NUMBER>)<ANDOR>?){1,3}" },
	{ "FF_F2", "(?:(?:(?:international\\s)?driver'?s?\\sli[sc]+(?:en[sc]e)?|pas+\\s?port|id\\scard|[ia]d(?:entification|entity)(?:\\s(?:card|<NUMBER>|papers?))?)<ANDOR>?){1,3}(?:\\s<NUMBER>)?" },
	{ "FF_F3", "(?:picture|zdj\\scie|test\\squestion|answer|amount\\swon|(?:inheritance\\s)?funds?\\svalue|(?:e-?mail\\s)?pas+word|e-?mai?l\\sid|amount\\s[\\w\\s]{0,30}lost[\\w\\s]{0,15})" },
	{ "FF_F4", "(?:log[-\\s]?in|(?:e-?mail\\s)?user)\\s?names?" },
	{ "FF_F5", "(?:ref(?:erence)?|batch|win+ing|award|billet)[-\\s]?<NUMBER>" },
	{ "FF_ALL", "(?:<FF_A1>|<FF_A2>|<FF_N1>|<FF_P1>|<FF_M1>|<FF_F1>|<FF_F2>|<FF_F3>|<FF_F4>|<FF_F5>|<FF_L1>)" },
};

/* pattern with every <TAG> of ff_tags replaced, as ReplaceTags does. */
static char *
ff_expand(const char *pattern)
{
	char *cur = xstrdup(pattern);
	bool again = true;

	while (again) {
		struct buf out;
		const char *p = cur;

		again = false;
		buf_init(&out, 0);
		while (*p != '\0') {
			size_t t;

			for (t = 0; *p == '<' && t < N_ELEMENTS(ff_tags); t++) {
				size_t n = strlen(ff_tags[t][0]);

				if (strncmp(p + 1, ff_tags[t][0], n) == 0 && p[1 + n] == '>')
					break;
			}
			if (*p == '<' && t < N_ELEMENTS(ff_tags)) {
				buf_put_str(&out, ff_tags[t][1]);
				p += strlen(ff_tags[t][0]) + 2;
				again = true;
			} else {
				buf_put(&out, p++, 1);
			}
		}
		buf_put(&out, "", 1);
		free(cur);
		cur = buf_steal(&out, NULL);
	}
	return cur;
}

/* Random mixes of the FF_* vocabulary, separators, blanks, numbering,
 * entities, \x85 and case: every text that __FILL_THIS_FORM_SHORT1/2 and
 * LONG1/2 match passes prefilter_repeat_fits, and a search bounded by
 * its start_max finds the same matches, counted as tflags multiple
 * counts them. */
START_TEST(test_repeat_fits_fill_this_form)
{
	static const char *const rules[] = {
		"(?:<FF_YOUR><FF_ALL><FF_SUFFIX>(?:<FF_BLANK2>|<ANDOR>)){3}",
		"(?:<FF_LNNO><FF_YOUR><FF_ALL><FF_SUFFIX>(?:<FF_BLANK2>|<ANDOR>)){3}",
		"(?:<FF_YOUR><FF_ALL><FF_SUFFIX>(?:<FF_BLANK2>(?:P[a-z\\.\\s]{10,30})?|<ANDOR>)){5}",
		"(?:<FF_LNNO><FF_YOUR><FF_ALL><FF_SUFFIX>(?:<FF_BLANK2>(?:P[a-z\\.\\s]{10,30})?|<ANDOR>)){5}",
	};
	static const char *const words[] = {
		"name", "names", "full name", "first name", "namen", "nam", "nome", "navne",
		"address", "addresss", "adddress", "home address", "mailing address", "addres",
		"country", "county", "city", "state", "zip code", "postal code", "location",
		"phone", "phone number", "mobile no.", "tel", "telefone", "fax", "cell", "office",
		"age", "ages", "sex", "gender", "marital status", "date of birth", "birth",
		"occupation", "occupation/position", "religion", "nationality", "email",
		"e-mail", "user email", "bank name", "account number", "acct no", "swift code",
		"id card", "passport", "driver's license", "password", "username", "login name",
		"amount", "monthly income", "income", "position", "reference no.", "ref #",
		"next of kin", "user", "beneficiary", "picture", "answer", "employment",
		"your", "your ", "twoje ", "a copy of ", "current ", "valid ", "complete ",
		"full", "personal ", "private ", "residential", "residentiaial", "business",
		"businesss", "territory", "terrritory", "winning number", "loan duration",
		"annual turnover", "zaw\xf3" "d", "endere\xe7o", "vollst\xe4ndige ",
	};
	static const char *const others[] = {
		" ", ":", ": ", "_____", "....", "...", "\n", "\t", ",", ", ", "/", " / ",
		" and ", " or ", " an ", " & ", "+", "&#160;", "&#8230;", "\xe2\x80\xa6",
		"\x85", "\xa0", "-", "=", "*", ";", "(required)", "{x}", " in full",
		" completo", "1.", "2)", "[3]", "(a)", "##", "**", "A)", "3rd.", "{12}",
		"(iv)", "P.O. Box here", "Please fill", "message", "the", "service", "price",
		"page", "stage", "x", "Q", "12", "no", "#", "\xb0", "n\xb0", "'", "\"",
	};
	/* list numbering, FF_LNNO's, and what ends a field */
	static const char *const numbering[] = {
		"", "", "1.", "2) ", "3rd.", "(iv) ", "{12}", "[3]", "* ", "## ", "B) ", "(c)",
		"10:", "1st)", "x(1)",
	};
	static const char *const ends[] = {
		":", ": ", " ", "____\n", "...", ", ", " / ", " and ", " or ", "\x85",
		"&#95;&#95;&#95;", "\xe2\x80\xa6", "=\n", "\t", ":Please fill in here\n", "",
	};
	unsigned int seed = 20250715;

	for (size_t p = 0; p < N_ELEMENTS(rules); p++) {
		char *pattern = ff_expand(rules[p]), *written, why[256];
		struct rule_regex rx, rx_limited;
		struct strlist lits;
		size_t owner[256] = { 0 };
		char error[256] = "";
		struct prefilter_db *db;
		hs_scratch_t *scratch = NULL;
		struct prefilter_spans spans = { NULL, 0, 0 };
		pcre2_match_data *md = pcre2_match_data_create(64, NULL);
		pcre2_match_context *mctx = pcre2_match_context_create(NULL);
		unsigned int min, matched = 0, shut = 0, bounded = 0;

		ck_assert_msg(strstr(pattern, "<FF_") == NULL && strstr(pattern, "<ANDOR>") == NULL &&
			      strstr(pattern, "<NUMBER>") == NULL, "%s", pattern);
		strlist_init(&lits);
		min = prefilter_repeat_min(pattern, strlen(pattern), false, &lits);
		ck_assert_msg(min >= 3 && lits.n > 0 && lits.n <= N_ELEMENTS(owner), "%zu: %u, %zu",
			      p, min, lits.n);
		db = prefilter_db_build(&lits, owner, lits.n, true, error, sizeof(error));
		ck_assert_msg(db != NULL, "%zu: %s", p, error);
		ck_assert_int_eq(prefilter_alloc_scratch(db, &scratch), 0);
		ck_assert_int_ge(asprintf(&written, "/%s/i", pattern), 0);
		ck_assert_msg(rules_compile_pieces(written, true, true, 0, &rx, why,
						   sizeof(why)) == 0, "%zu: %s", p, why);
		ck_assert_msg(rules_compile_pieces(written, true, true, PCRE2_USE_OFFSET_LIMIT,
						   &rx_limited, why, sizeof(why)) == 0,
			      "%zu: %s", p, why);
		ck_assert(rx_limited.offset_limit && !rx.offset_limit);
		for (int t = 0; t < 5000; t++) {
			char text[1024];
			size_t len = 0, n, start_max, ms = 0, me = 0;
			unsigned int count = 0, count_limited = 0;
			bool fits;

			seed = seed * 1103515245u + 12345u;
			n = 2 + (seed / 65536) % 30;
			for (size_t k = 0; k < n; k++) {
				const char *piece;
				size_t start = len;

				seed = seed * 1103515245u + 12345u;
				if ((seed / 65536) % 5 < 2) {
					/* a whole field: numbering, a word, an end */
					const char *parts[3];

					parts[0] = numbering[(seed / 131072) % N_ELEMENTS(numbering)];
					seed = seed * 1103515245u + 12345u;
					parts[1] = words[(seed / 65536) % N_ELEMENTS(words)];
					parts[2] = ends[(seed / 4096) % N_ELEMENTS(ends)];
					for (size_t q = 0; q < 3; q++) {
						if (len + strlen(parts[q]) > sizeof(text))
							break;
						memcpy(text + len, parts[q], strlen(parts[q]));
						len += strlen(parts[q]);
					}
				} else {
					piece = (seed / 65536) % 5 == 2
						? words[(seed / 131072) % N_ELEMENTS(words)]
						: others[(seed / 131072) % N_ELEMENTS(others)];
					if (len + strlen(piece) > sizeof(text))
						break;
					memcpy(text + len, piece, strlen(piece));
					len += strlen(piece);
				}
				/* some pieces in upper case, whole or a byte */
				seed = seed * 1103515245u + 12345u;
				for (size_t b = start; b < len; b++)
					if ((seed / 65536) % 7 == 0 ||
					    ((seed / 65536) % 7 == 1 && (b * 31 + seed) % 5 == 0))
						text[b] = (char)toupper((unsigned char)text[b]);
			}
			fits = prefilter_repeat_fits(db, scratch, &spans, text, len, 0, min,
						     &start_max);
			shut += !fits;
			/* counted as a tflags multiple rule counts, both ways */
			for (size_t at = 0; at <= len && count < 5;) {
				if (rules_pieces_match(&rx, text, len, at, false, md, NULL, NULL,
						       &ms, &me) < 0)
					break;
				ck_assert_msg(fits, "rule %zu matches %s, its count says no", p,
					      ut_esc(text, len));
				ck_assert_msg(ms <= start_max, "rule %zu matches %s at %zu, after %zu",
					      p, ut_esc(text, len), ms, start_max);
				count++;
				at = me > ms ? me : me + 1;
			}
			matched += count > 0;
			if (!fits)
				continue;
			bounded += start_max < len;
			(void)pcre2_set_offset_limit(mctx, start_max < len ? start_max : PCRE2_UNSET);
			for (size_t at = 0; at <= len && count_limited < 5;) {
				if (rules_pieces_match(&rx_limited, text, len, at, false, md, mctx, NULL,
						       &ms, &me) < 0)
					break;
				count_limited++;
				at = me > ms ? me : me + 1;
			}
			ck_assert_msg(count == count_limited, "rule %zu: %u matches in %s, %u bounded",
				      p, count, ut_esc(text, len), count_limited);
		}
		ck_assert_msg(matched > 50, "rule %zu: only %u texts matched", p, matched);
		ck_assert_msg(shut > 300, "rule %zu: only %u texts shut", p, shut);
		ck_assert_msg(bounded > 300, "rule %zu: only %u texts bounded", p, bounded);
		rules_regex_free(&rx);
		rules_regex_free(&rx_limited);
		pcre2_match_context_free(mctx);
		pcre2_match_data_free(md);
		prefilter_spans_free(&spans);
		hs_free_scratch(scratch);
		prefilter_db_free(&db);
		strlist_free(&lits);
		free(written);
		free(pattern);
	}
}
END_TEST

static Suite *
prefilter_suite(void)
{
	Suite *s = suite_create("prefilter");
	TCase *tc = ut_tcase(s, "prefilter", false);

	tcase_add_test(tc, test_class_tables);
	tcase_add_test(tc, test_case_folding);
	tcase_add_test(tc, test_prefilter_bytes);
	tcase_add_test(tc, test_literal_escaped_hyphen);
	tcase_add_test(tc, test_req_ops);
	tcase_add_test(tc, test_bytes_present);
	tcase_add_test(tc, test_prefilter_bytes_sound);
	tcase_add_test(tc, test_approximate_shapes);
	tcase_add_test(tc, test_approximate_sound);
	tcase_add_test(tc, test_trim_prefix);
	tcase_add_test(tc, test_trim_prefix_sound);
	tcase_add_test(tc, test_repeat_min_shapes);
	tcase_add_test(tc, test_repeat_min_sound);
	tcase_add_test(tc, test_repeat_fits_disjoint);
	tcase_add_test(tc, test_repeat_fits_fill_this_form);
	return s;
}

int
main(void)
{
	return ut_run(prefilter_suite);
}
