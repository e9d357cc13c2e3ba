/* Unit tests for scoring/msgview.c and its helpers (mime.c, hdr.c,
 * html.c): decoding, rendering, every get() form, mimeheader parts, and
 * malformed MIME that must still produce a bounded view.  The expected
 * values are what SpamAssassin 4.0.1 gives for the same messages
 * (tests/tools/sa_views.pl). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "check_compat.h"

#include "buf.h"
#include "hdr.h"
#include "html.h"
#include "mime.h"
#include "msgview.h"
#include "sa_settings.h"
#include "scoring.h"
#include "strset.h"
#include "xalloc.h"

static struct sa_settings set;

static void
settings_setup(void)
{
	const char *why;

	msgview_global_init();
	sa_settings_init(&set);
	ck_assert_int_eq(sa_settings_apply(&set, "util_rb_tld", "com org net uk jp", &why), 1);
	ck_assert_int_eq(sa_settings_apply(&set, "util_rb_2tld", "co.uk", &why), 1);
}

/* The same with no executable memory for PCRE2's JIT, as under systemd's
 * MemoryDenyWriteExecute=yes: patterns the JIT made linear run in the
 * interpreter. */
static void
settings_setup_no_jit(void)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *probe;

	(void)ut_deny_jit();
	settings_setup();
	/* Said, not failed: on a kernel before 6.3 (or with CK_FORK=no)
	 * these tests still run, with the JIT, and prove less. */
	probe = pcre2_compile((PCRE2_SPTR) "a+b", PCRE2_ZERO_TERMINATED, 0, &err, &off, NULL);
	ck_assert_ptr_nonnull(probe);
	if (pcre2_jit_compile(probe, PCRE2_JIT_COMPLETE) == 0)
		fprintf(stderr, "note: PCRE2's JIT still runs: the no-JIT tests use it\n");
	pcre2_code_free(probe);
}

static void
settings_teardown(void)
{
	sa_settings_free(&set);
}

static struct msgview *
view(const char *msg, const char *envfrom)
{
	return msgview_new(&set, msg, strlen(msg), envfrom);
}

/* The body (or rawbody) lines joined with "|". */
static char *
joined(const struct strlist *l)
{
	struct buf b;
	size_t len;

	buf_init(&b, 0);
	for (size_t i = 0; i < l->n; i++) {
		if (i > 0)
			ck_assert_int_eq(buf_append(&b, "|", 1), 0);
		ck_assert_int_eq(buf_append(&b, l->v[i].p, l->v[i].len), 0);
	}
	if (b.data == NULL)
		ck_assert_int_eq(buf_append(&b, "", 0), 0);
	return buf_steal(&b, &len);
}

static void
expect_get(struct msgview *mv, const char *req, bool found, const char *want)
{
	struct buf b;

	buf_init(&b, 0);
	ck_assert_msg(msgview_get(mv, req, &b) == found, "%s: found is %d", req, !found);
	if (found)
		ck_assert_msg(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0,
			      "%s: got \"%s\", want \"%s\"", req, ut_esc(b.data, b.len),
			      ut_escs(want));
	buf_free(&b);
}

static void
expect_body(struct msgview *mv, const char *want)
{
	char *got = joined(msgview_body(mv));

	ck_assert_msg(strcmp(got, want) == 0, "body \"%s\", want \"%s\"", ut_escs(got),
		      ut_escs(want));
	free(got);
}

static bool
has_item(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].len == strlen(s) && memcmp(l->v[i].p, s, l->v[i].len) == 0)
			return true;
	return false;
}

/* ---- decoding ---- */

static const char msg_qp[] =
	"From: \"Caf\xe9 Owner\" <owner@example.co.uk>\n"
	"To: a@x.com, \"B, C\" <b@y.org>\n"
	"Cc: c@z.net\n"
	"Subject: =?iso-8859-1?q?caf=E9?= =?iso-8859-1?q?_au_lait?=  more\n"
	"Message-ID: <abc@host.example.com>\n"
	"Return-Path: <bounce@lists.example.com>\n"
	"Received: from mx.example.com (mx.example.com [192.0.2.7])\n"
	"\tby mail.example.org with ESMTP id 1; Mon, 1 Jan 2024 00:00:00 +0000\n"
	"X-Spam-Status: Yes, forged\n"
	"Content-Type: text/plain; charset=iso-8859-1\n"
	"Content-Transfer-Encoding: quoted-printable\n"
	"\n"
	"Caf=E9 cr=E8me   =\nsoft break\ntrailing   \n\n\n\nnew para=3D\n";

START_TEST(qp_latin1_body)
{
	struct msgview *mv = view(msg_qp, NULL);
	char *raw;

	/* Subject first, QP decoded, Latin-1 made UTF-8, paragraphs */
	expect_body(mv, "caf\xc3\xa9 au lait  more\n|"
		    "Caf\xc3\xa9 cr\xc3\xa8me soft break trailing\n|new para= ");
	/* rawbody: decoded but not converted, no whitespace squeeze */
	raw = joined(msgview_rawbody(mv));
	ck_assert_str_eq(raw, "Caf\xe9 cr\xe8me   soft break\ntrailing\n\n\n\nnew para=\n");
	free(raw);
	msgview_free(&mv);
}
END_TEST

/* White space in the body view: a run holding two newlines ends a
 * paragraph, any other run (Unicode spaces too, in UTF-8 text) is one
 * space, and a NUL of the text becomes a line end. */
START_TEST(body_white_space)
{
	static const char m[] =
		"Subject: S  t\n"
		"Content-Type: text/plain; charset=utf-8\n"
		"\n"
		"a\xc2\xa0\xc2\xa0" "b\tc \n"
		" \n"
		"\xe2\x80\x83\n"
		"d\xc2\xa0\n"
		"e\xc3\xa9\xe2\x80\x83" "f\n\n\n";
	static const char z[] =
		"Subject: Z\n"
		"\n"
		"x\0y \n\t\n\nw\n";
	struct msgview *mv = view(m, NULL);

	expect_body(mv, "S  t\n|a b c \n|d e\xc3\xa9 f\n");
	msgview_free(&mv);
	mv = msgview_new(&set, z, sizeof(z) - 1, NULL);
	expect_body(mv, "Z\n|x\n|y \n|w ");
	msgview_free(&mv);
}
END_TEST

/* In a CRLF message a header value loses the CR of each CRLF and keeps
 * a lone CR. */
/* Many requests of one message, each asked twice in another order:
 * the cache of get() results grows its table as it fills, and each
 * request still finds its own values (absent fields too). */
START_TEST(many_requests)
{
	enum { FIELDS = 300 };
	struct buf m, out;
	struct msgview *mv;
	char req[64], want[64];

	buf_init(&m, 0);
	buf_init(&out, 0);
	for (int i = 0; i < FIELDS; i++) {
		snprintf(want, sizeof(want), "X-F%d: v%d\n", i, i * 7);
		buf_put(&m, want, strlen(want));
	}
	buf_put(&m, "\nbody\n", 7);
	mv = msgview_new(&set, m.data, m.len, NULL);
	for (int pass = 0; pass < 2; pass++) {
		for (int k = 0; k < 2 * FIELDS; k++) {
			int i = pass == 0 ? k : 2 * FIELDS - 1 - k;

			buf_reset(&out);
			if (i < FIELDS) {
				snprintf(req, sizeof(req), "X-F%d", i);
				snprintf(want, sizeof(want), "v%d\n", i * 7);
				ck_assert_msg(msgview_get(mv, req, &out), "%s unset", req);
				ck_assert_uint_eq(out.len, strlen(want));
				ck_assert_msg(memcmp(out.data, want, out.len) == 0, "%s", req);
			} else {
				snprintf(req, sizeof(req), "X-Absent%d", i);
				ck_assert_msg(!msgview_get(mv, req, &out), "%s set", req);
			}
		}
	}
	msgview_free(&mv);
	buf_free(&m);
	buf_free(&out);
}
END_TEST

START_TEST(crlf_header_values)
{
	static const char m[] =
		"Subject: a\rb\r\n"
		"\tc\r\r\n"
		"X-Two: x\r\n"
		" y\r\n"
		"\r\n"
		"body\r\n";
	struct msgview *mv = view(m, NULL);

	expect_get(mv, "Subject:raw", true, " a\rb\n\tc\r\n");
	expect_get(mv, "X-Two:raw", true, " x\n y\n");
	expect_get(mv, "X-Two", true, "x y\n");
	msgview_free(&mv);
}
END_TEST

START_TEST(rfc2047_headers)
{
	struct msgview *mv = view(msg_qp, NULL);

	/* adjacent encoded words join, the rest stays as written */
	expect_get(mv, "Subject", true, "caf\xc3\xa9 au lait  more\n");
	expect_get(mv, "Subject:raw", true,
		   " =?iso-8859-1?q?caf=E9?= =?iso-8859-1?q?_au_lait?=  more\n");
	/* raw 8-bit in a header: not UTF-8, so Windows-1252 */
	expect_get(mv, "From:name", true, "Caf\xc3\xa9 Owner");
	/* folding */
	expect_get(mv, "Received", true,
		   "from mx.example.com (mx.example.com [192.0.2.7]) by mail.example.org "
		   "with ESMTP id 1; Mon, 1 Jan 2024 00:00:00 +0000\n");
	msgview_free(&mv);
}
END_TEST

static const struct {
	const char *in, *lname, *want;
} decode_cases[] = {
	{ "=?utf-8?B?w6k=?=", "subject", "\xc3\xa9" },
	{ "=?UTF-8?Q?a_b?= =?UTF-8?Q?c?=", "subject", "a bc" },
	{ "x =?iso-8859-1?q?=E9?= y", "subject", "x \xc3\xa9 y" },
	/* Message-ID and friends keep their encoded words */
	{ "=?utf-8?B?w6k=?=", "message-id", "=?utf-8?B?w6k=?=" },
	/* an unknown charset falls back to Windows-1252 */
	{ "=?x-unknown?q?=E9?=", "subject", "\xc3\xa9" },
	/* RFC 2231 language tag */
	{ "=?utf-8*en?q?hi?=", "subject", "hi" },
	/* malformed words stay */
	{ "=?utf-8?x?abc?=", "subject", "=?utf-8?x?abc?=" },
	{ "plain \xc3\xa9", "subject", "plain \xc3\xa9" },
	{ "latin \xe9", "subject", "latin \xc3\xa9" },
	/* one line of ASCII is kept byte for byte, a lone CR and the
	 * blanks at its ends included; line ends go */
	{ " a\rb\tc ", "subject", " a\rb\tc " },
	{ "a\r\nb\nc", "subject", "abc" },
	{ "a\rb\n", "subject", "a\rb" },
	{ "half =? word", "subject", "half =? word" },
	{ "<=?x?@y>", "message-id", "<=?x?@y>" },
};

START_TEST(decode_field)
{
	struct mime_str out = { 0 };

	mime_str_add(&out, "", 0);
	hdr_decode_field(decode_cases[_i].in, strlen(decode_cases[_i].in),
			 decode_cases[_i].lname, &out);
	ck_assert_msg(strcmp(out.p, decode_cases[_i].want) == 0, "\"%s\" -> \"%s\"",
		      ut_escs(decode_cases[_i].in), ut_escs(out.p));
	mime_str_free(&out);
}
END_TEST

static const struct {
	const char *data, *charset, *want;
	bool utf8;
} norm_cases[] = {
	{ "plain", "us-ascii", "plain", false },
	{ "plain", "iso-8859-1", "plain", false },
	{ "caf\xe9", "iso-8859-1", "caf\xc3\xa9", true },
	/* ISO-8859-1 is read as Windows-1252 */
	{ "\x93q\x94", "iso-8859-1", "\xe2\x80\x9cq\xe2\x80\x9d", true },
	/* valid UTF-8 wins over the declared charset */
	{ "caf\xc3\xa9", "iso-8859-1", "caf\xc3\xa9", true },
	/* declared UTF-8 but invalid: Windows-1252 */
	{ "caf\xe9", "utf-8", "caf\xc3\xa9", true },
	{ "\xc1\xc2", "koi8-r", "\xd0\xb0\xd0\xb1", true },
	/* an undefined Windows-1252 byte: U+FFFD as the last resort */
	{ "\x81z\xff", "windows-1252", "\xef\xbf\xbdz\xc3\xbf", true },
	/* ISO-2022-JP is cut at its first 8-bit byte (Encode::JP::JIS7) */
	{ "\x1b$B%F%9%H\x1b(Bab\xe9x", "iso-2022-jp", "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88" "ab", true },
};

START_TEST(normalize)
{
	struct mime_str out = { 0 };
	bool u;

	mime_str_add(&out, "", 0);
	u = mime_normalize(norm_cases[_i].data, strlen(norm_cases[_i].data),
			   norm_cases[_i].charset, false, &out);
	ck_assert_msg(strcmp(out.p, norm_cases[_i].want) == 0, "%s: \"%s\"",
		      norm_cases[_i].charset, ut_escs(out.p));
	ck_assert_int_eq(u, norm_cases[_i].utf8);
	mime_str_free(&out);
}
END_TEST

static const struct {
	const char *in, *want;
} b64_cases[] = {
	{ "SGVsbG8gd29ybGQK", "Hello world\n" },
	{ "SGVs\nbG8=\n", "Hello" },
	/* junk characters are dropped, a lone final character too */
	{ "!!!SGVs bG8@@@", "Hello" },
	{ "SGVsbG8", "Hello" },
	{ "", "" },
	{ "====", "" },
};

START_TEST(base64)
{
	struct mime_str out = { 0 };

	mime_base64_decode(b64_cases[_i].in, strlen(b64_cases[_i].in), &out);
	ck_assert_msg(out.len == strlen(b64_cases[_i].want) &&
		      memcmp(out.p, b64_cases[_i].want, out.len) == 0,
		      "\"%s\" -> \"%s\"", b64_cases[_i].in, ut_esc(out.p, out.len));
	mime_str_free(&out);
}
END_TEST

START_TEST(qp)
{
	struct mime_str out = { 0 };
	static const char in[] = "a=3Db  \nsoft=\nbreak=\r\nx=4 =zz";

	mime_qp_decode(in, strlen(in), &out);
	ck_assert_str_eq(out.p, "a=b\nsoftbreakx=4 =zz");
	mime_str_free(&out);
}
END_TEST

/* mime_qp_decode against the three substitutions of MIME::QuotedPrint as
 * SpamAssassin runs them, written byte by byte, on random text made of
 * the bytes they look at. */
static void
qp_reference(const char *p, size_t len, struct mime_str *out)
{
	struct mime_str a = { 0 }, b = { 0 };
	size_t i = 0;

	mime_str_add(&a, "", 0);
	while (i < len) {
		if (p[i] == ' ' || p[i] == '\t') {
			size_t j = i;

			while (j < len && (p[j] == ' ' || p[j] == '\t'))
				j++;
			if (!((j < len && p[j] == '\n') ||
			      (j + 1 < len && p[j] == '\r' && p[j + 1] == '\n')))
				mime_str_add(&a, p + i, j - i);
			i = j;
			continue;
		}
		mime_str_add(&a, p + i++, 1);
	}
	mime_str_add(&b, "", 0);
	for (i = 0; i < a.len; i++) {
		if (a.p[i] == '=' && i + 1 < a.len && a.p[i + 1] == '\n') {
			i++;
			continue;
		}
		if (a.p[i] == '=' && i + 2 < a.len && a.p[i + 1] == '\r' && a.p[i + 2] == '\n') {
			i += 2;
			continue;
		}
		mime_str_add(&b, a.p + i, 1);
	}
	mime_str_add(out, "", 0);
	for (i = 0; i < b.len; i++) {
		unsigned int v;
		char hex[3] = { 0 };

		if (b.p[i] == '=' && i + 2 < b.len && isxdigit((unsigned char)b.p[i + 1]) &&
		    isxdigit((unsigned char)b.p[i + 2])) {
			char c;

			memcpy(hex, b.p + i + 1, 2);
			sscanf(hex, "%x", &v);
			c = (char)v;
			mime_str_add(out, &c, 1);
			i += 2;
			continue;
		}
		mime_str_add(out, b.p + i, 1);
	}
	mime_str_free(&a);
	mime_str_free(&b);
}

START_TEST(qp_like_reference)
{
	static const char alphabet[] = "= \t\r\nAf3x\0";
	unsigned int seed = 7;
	char in[64];

	for (int round = 0; round < 50000; round++) {
		size_t n = (size_t)(rand_r(&seed) % sizeof(in));
		struct mime_str got = { 0 }, want = { 0 };

		for (size_t k = 0; k < n; k++)
			in[k] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		mime_qp_decode(in, n, &got);
		qp_reference(in, n, &want);
		ck_assert_msg(got.len == want.len && memcmp(got.p, want.p, got.len) == 0,
			      "\"%s\": \"%s\", want \"%s\"", ut_esc(in, n), ut_esc(got.p, got.len),
			      ut_esc(want.p, want.len));
		mime_str_free(&got);
		mime_str_free(&want);
	}
}
END_TEST

/* ---- rendering ---- */

static const char msg_html[] =
	"From: a@example.com\n"
	"Subject: html\n"
	"Content-Type: text/html; charset=utf-8\n"
	"\n"
	"<html><head><title>T</title><style>p{color:red}</style>"
	"<script>var x=1;</script></head><body background=\"bg.gif\">"
	"<base href=\"http://base.example.com/dir/index.html\">"
	"<p>Hello&nbsp;&amp; caf&eacute; &#8217;quoted&#8217;<br/>line two</p>"
	"<!-- hidden comment --><div>div text</div><a href=\"rel/page.html\">link</a>"
	"<img src=\"/img.png\"><form action=\"mailto:x@y.com\"></form>"
	"\xc2\xa0nbsp\xc2\xa0here</body></html>\n";

START_TEST(html_render_body)
{
	struct msgview *mv = view(msg_html, NULL);

	/* title and block tags make breaks; style, script, comments go;
	 * entities decode; NBSP (U+00A0) squeezes like any \s */
	expect_body(mv, "html\n|\n|T\n|Hello & caf\xc3\xa9 \xe2\x80\x99quoted\xe2\x80\x99 line two\n|"
		    "div text link nbsp here ");
	msgview_free(&mv);
}
END_TEST

/* Bayes' sources: the visible text (Subject first) and the invisible text
 * (no Subject) as get_visible_/get_invisible_rendered_body_text_array give
 * them (expected lines from SpamAssassin 4.0.1).  In the second message
 * the visible text is a Perl byte string (Latin-1 "\xe9t\xe9") and the
 * invisible one a character string (its U+263A), each as Perl holds it;
 * the plain text part is all visible. */
static const struct {
	const char *msg, *all, *visible, *invisible;
} text_cases[] = {
	{ "Subject: Spring sale\nContent-Type: text/html; charset=iso-8859-1\n\n"
	  "<html><body bgcolor=\"#ffffff\"><p>Visible offer today</p>\n"
	  "<font color=\"#ffffff\">hiddenword unsubscribed caf\xe9</font>\n"
	  "<p>Buy <span style=\"display:none\">zzsecret</span>watches "
	  "<font size=\"1\">tinytext</font></p>\n</body></html>\n",
	  "Spring sale\n|\n|Visible offer today\n|hiddenword unsubscribed caf\xc3\xa9\n|"
	  "Buy zzsecretwatches tinytext\n| ",
	  "Spring sale\n|\n|Visible offer today\n|Buy watches \n| ",
	  "hiddenword unsubscribed caf\xc3\xa9zzsecrettinytext" },
	{ "Subject: Mixed\nMIME-Version: 1.0\n"
	  "Content-Type: multipart/alternative; boundary=\"XX\"\n\n"
	  "--XX\nContent-Type: text/plain; charset=us-ascii\n\nplain visible words\n\n"
	  "--XX\nContent-Type: text/html; charset=us-ascii\n\n"
	  "<html><body><p>html visible &eacute;t&eacute;</p><div style=\"display:none\">"
	  "na&iuml;ve &#x263a;smile invisible</div><p>more</p></body></html>\n--XX--\n",
	  NULL,
	  "Mixed\n|plain visible words\n|html visible \xe9t\xe9\n|more\n",
	  "na\xc3\xafve \xe2\x98\xbasmile invisible" },
	/* nothing invisible: the body view itself, and nothing */
	{ "Subject: Plain\nContent-Type: text/html\n\n<p>shown text</p>\n",
	  "Plain\n|\n|shown text\n", "Plain\n|\n|shown text\n", "" },
};

START_TEST(bayes_text_views)
{
	struct msgview *mv = view(text_cases[_i].msg, NULL);
	const char *want[3] = { text_cases[_i].all, text_cases[_i].visible,
				text_cases[_i].invisible };
	const struct strlist *got[3];

	/* either order of asking gives the same */
	if (_i % 2 == 0) {
		got[2] = msgview_body_invisible(mv);
		got[1] = msgview_body_visible(mv);
		got[0] = msgview_body(mv);
	} else {
		got[0] = msgview_body(mv);
		got[1] = msgview_body_visible(mv);
		got[2] = msgview_body_invisible(mv);
	}
	for (int k = 0; k < 3; k++) {
		char *g;

		if (want[k] == NULL)
			continue;
		g = joined(got[k]);
		ck_assert_msg(strcmp(g, want[k]) == 0, "case %d view %d: \"%s\", want \"%s\"", _i,
			      k, ut_escs(g), ut_escs(want[k]));
		free(g);
	}
	if (text_cases[_i].invisible[0] == '\0')
		ck_assert_ptr_eq(got[1], got[0]);
	msgview_free(&mv);
}
END_TEST

START_TEST(html_uris)
{
	struct msgview *mv = view(msg_html, NULL);
	const struct strlist *u = msgview_html_uris(mv);
	size_t n;

	ck_assert(has_item(u, "bg.gif"));
	ck_assert(has_item(u, "rel/page.html"));	/* the <a> href as written */
	ck_assert(has_item(u, "http://base.example.com/dir/rel/page.html"));
	ck_assert(has_item(u, "http://base.example.com/img.png"));
	ck_assert(has_item(u, "http://base.example.com/dir/index.html"));
	ck_assert(has_item(u, "mailto:x@y.com"));
	ck_assert_uint_eq(u->n, 6);
	msgview_html(mv, &n);
	ck_assert_uint_eq(n, 1);
	msgview_free(&mv);
}
END_TEST

START_TEST(html_stats)
{
	static const char h[] =
		"<html><body><font color=\"#ffffff\">invisible</font>"
		"<font size=1>tiny</font><b>x</b></i><img width=10 height=20>"
		"<a href=\"http://x.com/\">t<img src=a.gif></a></body></html>";
	struct html_result *r = html_render(h, strlen(h), false, strlen(h));
	size_t n;
	char *vis;

	ck_assert_str_eq(r->text, "invisibletinyxt");
	ck_assert(r->font_low_contrast);
	ck_assert_uint_eq(r->closed_extra, 1);	/* </i> */
	ck_assert_uint_eq(r->image_area, 10 * 20);	/* <img> without sizes: none */
	ck_assert_int_eq(r->min_size, 1);
	ck_assert_int_eq(html_inside(r, "font"), 0);
	ck_assert_int_eq(html_inside(r, "nosuch"), -1);
	ck_assert_uint_eq(r->anchors.n, 1);
	ck_assert_str_eq(r->anchors.v[0].p, "t<img>\n");
	vis = html_text_filtered(r, false, &n);
	ck_assert_str_eq(vis, "xt");
	free(vis);
	html_result_free(&r);
	ck_assert_ptr_null(r);
}
END_TEST

/* The name parameter as Util::parse_content_type finds it, RFC 2231
 * continuations included; a decoded value can hold line breaks
 * (=?us-ascii?Q?=0A?=), which "." does not cross. */
static const struct {
	const char *ct, *name;	/* name NULL: none */
} ct_name_cases[] = {
	{ "text/plain; name=\"a b\"; x=y", "a b" },
	{ "text/plain; FileName = 'x.txt'", "x.txt" },
	{ "text/plain; fname=a; name=b", "b" },
	{ "text/plain; name=a\n name=b;", "b" },
	{ "text/plain; name=a\n", "a" },
	{ "text/plain; name=\"a\"\n", "a" },
	{ "text/plain; name=\"a\n b\";", NULL },
	{ "text/plain; name=\n\n", "" },
	{ "text/plain; name=\n", "" },
	{ "text/plain; name=\"a\"b\"", "a\"b" },
	{ "text/plain; name=a\"b;c", "a\"b" },
	{ "text/plain; name=a\nb", NULL },
	{ "text/plain; _name=a; xname=b;", NULL },
	{ "text/plain; name*0=\"ab\"; name*1=cd; NAME*2=\"ef\"", "abcdef" },
	{ "text/plain; name*1=b; filename*0=a", "ab" },
	{ "text/plain; name*0=a\n name*1=b; name*2=c\n", "bc" },
	{ "text/plain; name*0=a; name*0=b; name*1=c", "bc" },
	{ "text/plain; name=0; name*0=a; name*1=b", "ab" },
	{ "text/plain; name*0*=a; name*1 = b", NULL },
	{ "text/plain; name*0 =a; name*1 = b", "ab" },
};

START_TEST(content_type_name)
{
	struct mime_msg *m = mime_parse("", 0);
	const char *ct = ct_name_cases[_i].ct, *type, *b, *cs, *name;

	(void)mime_parse_content_type(m, ct, strlen(ct), &type, &b, &cs, &name);
	if (ct_name_cases[_i].name == NULL)
		ck_assert_msg(name == NULL, "\"%s\" -> \"%s\"", ut_escs(ct), ut_escs(name));
	else
		ck_assert_msg(name != NULL && strcmp(name, ct_name_cases[_i].name) == 0,
			      "\"%s\" -> \"%s\"", ut_escs(ct), name ? ut_escs(name) : "(none)");
	mime_free(&m);
}
END_TEST

/* Which attribute a tag keeps: the first of a repeated name, and an
 * "x/href" (or "x/src") one moves into the href, as HTML.pm does. */
static const struct {
	const char *html, *uris;	/* r->uris joined with '|' */
} attr_cases[] = {
	{ "<a href=http://a.example/ href=http://b.example/>t</a>", "http://a.example/" },
	{ "<a c=1 d=2 e=3 f=4 g=5 h=6 i=7 j=8 c=9 href=http://a.example/ k=1 "
	  "href=http://b.example/>t</a>", "http://a.example/" },
	{ "<a x/href=http://a.example/ y/href=http://b.example/ href=http://c.example/>t</a>",
	  "http://b.example/" },
	{ "<a x/href=http://a.example/ y/href=http://b.example/>t</a>", "http://b.example/" },
	{ "<a href=http://c.example/ x/href=http://a.example/ z=1 y/href=http://b.example/>t</a>",
	  "http://b.example/" },
	{ "<img y/src=http://b.example/i x/src=http://a.example/i>", "http://a.example/i" },
	{ "<a /href=http://a.example/ -/href=http://b.example/ x/hrefs=http://c.example/>t</a>",
	  "http://c.example/" },
};

START_TEST(html_attr_rules)
{
	const char *h = attr_cases[_i].html;
	struct html_result *r = html_render(h, strlen(h), false, strlen(h));
	char *got = joined(&r->uris);

	ck_assert_msg(strcmp(got, attr_cases[_i].uris) == 0, "\"%s\" -> \"%s\"", ut_escs(h),
		      ut_escs(got));
	free(got);
	html_result_free(&r);
}
END_TEST

static const struct {
	const char *html, *text;
} html_cases[] = {
	{ "a<br>b", "a\nb" },
	{ "a &amp b &notit; c &#150;", "a & b \xc2\xacit; c \xc2\x96" },
	{ "<script>x<y</script>z", "z" },
	{ "x<!-- unterminated > y", "x y" },
	{ "<p>a<p>b", "\n\na\n\nb" },
	{ "a < b", "a < b" },
	{ "<textarea>&amp;<b></textarea>", "&<b>" },
	{ "<xmp>&amp;</xmp>", "\n\n&amp;\n\n" },
	{ "<![if !x]>y<![endif]>", "y" },
	/* the highest keyword of the open sections wins, and again after
	 * the inner one closes */
	{ "<![ignore[<![include[a]]>b<![cdata[c]]>]]>d", "d" },
	{ "<![include[<![ignore[a]]>b<![rcdata[c&amp;<b>]]>]]>d", "bc&<b>d" },
	{ "<td>a</td><td>b</td>", " a  b " },
	{ "</div>x", "\nx" },
	/* numeric references as UTF-8, one to four bytes; a surrogate pair
	 * makes one code point, a lone half U+FFFD */
	{ "&#x7f;&#x7ff;&#x800;&#xffff;&#x1F600;", "\x7f\xdf\xbf\xe0\xa0\x80&#xffff;\xf0\x9f\x98\x80" },
	{ "&#xD83D;&#xDE00;|&#xDE00;|&#x10FFFF;", "\xf0\x9f\x98\x80|\xef\xbf\xbd|\xef\xbf\xbd" },
};

START_TEST(html_tokenizer)
{
	struct html_result *r = html_render(html_cases[_i].html, strlen(html_cases[_i].html),
					    false, 1);

	ck_assert_msg(strcmp(r->text, html_cases[_i].text) == 0, "\"%s\" -> \"%s\"",
		      ut_escs(html_cases[_i].html), ut_escs(r->text));
	html_result_free(&r);
}
END_TEST

START_TEST(long_lines_split)
{
	char *msg = xmalloc(20000);
	struct msgview *mv;
	const struct strlist *b;

	strcpy(msg, "Subject: long\n\n");
	for (int i = 0; i < 1000; i++)
		strcat(msg, "word word ");
	strcat(msg, "\n");
	mv = view(msg, NULL);
	b = msgview_body(mv);
	ck_assert_uint_gt(b->n, 4);
	for (size_t i = 0; i < b->n; i++) {
		ck_assert_uint_le(b->v[i].len, 2048);
		if (i > 0 && i + 1 < b->n)
			ck_assert_int_eq(b->v[i].p[b->v[i].len - 1], ' ');
	}
	msgview_free(&mv);
	free(msg);
}
END_TEST

START_TEST(scan_size)
{
	char *msg = xmalloc(200000);
	struct msgview *mv;
	const struct strlist *b;
	size_t total = 0;

	strcpy(msg, "Subject: big\n\n");
	for (int i = 0; i < 10000; i++)
		strcat(msg, "0123456789 ");
	mv = view(msg, NULL);
	b = msgview_body(mv);
	for (size_t i = 1; i < b->n; i++)
		total += b->v[i].len;
	/* body_part_scan_size 50000, cut after the next space (at 50005) */
	ck_assert_uint_eq(total, 50006);
	msgview_free(&mv);
	free(msg);
}
END_TEST

/* ---- get() ---- */

START_TEST(get_forms)
{
	struct msgview *mv = view(msg_qp, NULL);

	expect_get(mv, "From:addr", true, "owner@example.co.uk");
	expect_get(mv, "From:addr:host", true, "example.co.uk");
	expect_get(mv, "From:addr:domain", true, "example.co.uk");
	expect_get(mv, "To:addr", true, "a@x.com\nb@y.org");
	expect_get(mv, "To:name", true, "B, C");
	expect_get(mv, "ToCc", true, "a@x.com, \"B, C\" <b@y.org>\nc@z.net\n");
	expect_get(mv, "ToCc:addr", true, "a@x.com\nb@y.org\nc@z.net");
	expect_get(mv, "MESSAGEID", true, "<abc@host.example.com>\n");
	expect_get(mv, "Message-Id:host", true, "host.example.com");
	expect_get(mv, "Received:ip", true, "192.0.2.7");
	expect_get(mv, "Received:revip", true, "7.2.0.192");
	expect_get(mv, "Received:first", true,
		   "from mx.example.com (mx.example.com [192.0.2.7]) by mail.example.org "
		   "with ESMTP id 1; Mon, 1 Jan 2024 00:00:00 +0000\n");
	expect_get(mv, "EnvelopeFrom", true, "bounce@lists.example.com");
	expect_get(mv, "X-Nonexistent-Header", false, NULL);
	/* inbound X-Spam-* headers are invisible, as check() deletes them */
	expect_get(mv, "X-Spam-Status", false, NULL);
	/* the pseudo-headers always exist */
	expect_get(mv, "X-Spam-Relays-Internal", true, "");
	msgview_free(&mv);
}
END_TEST

static const char msg_multi_hdr[] =
	"From: a@example.com\n"
	"Received: from a.example.net (a.example.net [198.51.100.1]) by b; Mon, 1 Jan 2024\n"
	"X-Ex: one\n"
	"Received: from c.example.net (c.example.net [198.51.100.2]) by d; Mon, 1 Jan 2024\n"
	"X-Ex: two\n"
	"Subject: s\n"
	"\n"
	"body\n";

START_TEST(get_first_last_all)
{
	struct msgview *mv = view(msg_multi_hdr, NULL);

	expect_get(mv, "X-Ex", true, "one\ntwo\n");
	expect_get(mv, "X-Ex:first", true, "one\n");
	expect_get(mv, "X-Ex:last", true, "two\n");
	expect_get(mv, "X-Ex:raw", true, " one\n two\n");
	expect_get(mv, "Received:last:ip", true, "198.51.100.2");
	expect_get(mv, "ALL", true,
		   "From: a@example.com\n"
		   "Received: from a.example.net (a.example.net [198.51.100.1]) by b; Mon, 1 Jan 2024\n"
		   "X-Ex: one\n"
		   "Received: from c.example.net (c.example.net [198.51.100.2]) by d; Mon, 1 Jan 2024\n"
		   "X-Ex: two\n"
		   "Subject: s\n");
	msgview_free(&mv);
}
END_TEST

START_TEST(get_all_raw_pristine)
{
	static const char m[] = "Subject: a\n  b\nX-Spam-Flag: YES\nFrom: x@y.com\n\nbody\n";
	struct msgview *mv = view(m, NULL);

	/* ALL:raw is the pristine header block, X-Spam-* and folds kept */
	expect_get(mv, "ALL:raw", true, "Subject: a\n  b\nX-Spam-Flag: YES\nFrom: x@y.com\n");
	expect_get(mv, "ALL", true, "Subject: a b\nFrom: x@y.com\n");
	msgview_free(&mv);
}
END_TEST

/* msgview_get_text() is msgview_get() without the copy of a value held
 * as one text: ALL:raw (the message's own bytes without a Return-Path)
 * and a header of one value; other values are joined into out. */
START_TEST(get_text_in_place)
{
	static const char m[] = "Subject: a\n  b\nTo: x@y.com\nTo: z@y.com\n\nbody\n";
	static const struct {
		const char *req;
		bool in_place;
	} reqs[] = { { "ALL:raw", true }, { "Subject", true }, { "To", false },
		     { "ALL", false }, { "Cc", false }, { "To:first:addr", true } };
	struct msgview *mv = view(m, NULL);

	for (size_t i = 0; i < N_ELEMENTS(reqs); i++) {
		struct buf want, got;
		const char *text;
		size_t len;
		bool found;

		buf_init(&want, 0);
		buf_init(&got, 0);
		found = msgview_get(mv, reqs[i].req, &want);
		ck_assert(msgview_get_text(mv, reqs[i].req, &got, &text, &len) == found);
		ck_assert_msg((text != NULL) == reqs[i].in_place, "%s", reqs[i].req);
		if (text != NULL) {
			ck_assert_uint_eq(got.len, 0);
			buf_put(&got, text, len);
		}
		ck_assert_uint_eq(got.len, want.len);
		ck_assert(want.len == 0 || memcmp(got.data, want.data, want.len) == 0);
		buf_free(&want);
		buf_free(&got);
	}
	{
		const char *text;
		size_t len;
		struct buf b;

		buf_init(&b, 0);
		ck_assert(msgview_get_text(mv, "ALL:raw", &b, &text, &len));
		ck_assert_ptr_eq(text, m);
		buf_free(&b);
	}
	msgview_free(&mv);
}
END_TEST

START_TEST(envelope_from_param)
{
	static const char m[] = "From: a@example.com\nSubject: env\n\nbody\n";
	struct msgview *mv = view(m, "sender@example.net");
	const char *full;
	size_t len;

	/* MAIL FROM reads as the Return-Path an MTA prepends */
	expect_get(mv, "EnvelopeFrom", true, "sender@example.net");
	expect_get(mv, "Return-Path", true, "<sender@example.net>\n");
	expect_get(mv, "ALL", true,
		   "Return-Path: <sender@example.net>\nFrom: a@example.com\nSubject: env\n");
	msgview_full(mv, &full, &len);
	ck_assert_uint_eq(len, strlen(m));
	msgview_free(&mv);
	/* the null sender: "<>" has no address, so no EnvelopeFrom */
	mv = view(m, "");
	expect_get(mv, "Return-Path", true, "<>\n");
	expect_get(mv, "EnvelopeFrom", false, NULL);
	msgview_free(&mv);
	mv = view(m, NULL);
	expect_get(mv, "EnvelopeFrom", false, NULL);
	msgview_free(&mv);
}
END_TEST

static const struct {
	const char *in;
	const char *addrs;	/* "|"-joined, NULL addresses as "-" */
	const char *names;
} addr_cases[] = {
	{ "a@b.com", "a@b.com", "" },
	/* phrases as parsed; :name squeezes the white space later */
	{ "\"Doe, John\" <j@x.org>", "j@x.org", "Doe, John " },
	{ "Joe <j@x.org>, k@y.org (Kay)", "j@x.org|k@y.org", "Joe |Kay" },
	{ "undisclosed-recipients:;", "", "" },
	{ "group: a@b.com, c@d.com;", "a@b.com|c@d.com", "" },
	{ "harley@argote.ch ((Robert Harley))", "-", "harley@argote.ch ()" },
	{ "<>", "-", "" },
	/* elements with neither: the whole input is their phrase */
	{ ",,a@b.com,", "-|-|a@b.com", ",,a@b.com,|,,a@b.com," },
	{ "x, y <y@b.com>, z", "-|y@b.com|-", "x|y |z" },
};

START_TEST(addresses)
{
	struct hdr_addr *a;
	size_t n = hdr_parse_addresses(addr_cases[_i].in, strlen(addr_cases[_i].in), &a);
	char addrs[256] = "", names[256] = "";

	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(addrs, "|");
		strcat(addrs, a[i].address != NULL ? a[i].address : "-");
		if (a[i].phrase != NULL) {
			if (names[0] != '\0')
				strcat(names, "|");
			strcat(names, a[i].phrase);
		}
	}
	ck_assert_msg(strcmp(addrs, addr_cases[_i].addrs) == 0, "%s: addrs %s",
		      addr_cases[_i].in, addrs);
	ck_assert_msg(strcmp(names, addr_cases[_i].names) == 0, "%s: names %s",
		      addr_cases[_i].in, names);
	/* the same without the phrases that are the whole input */
	{
		struct hdr_addr *o;
		size_t on = hdr_parse_addresses_only(addr_cases[_i].in,
						     strlen(addr_cases[_i].in), &o);

		ck_assert_uint_eq(on, n);
		for (size_t i = 0; i < n; i++) {
			ck_assert_pstr_eq(o[i].address, a[i].address);
			if (a[i].phrase != NULL && strcmp(a[i].phrase, addr_cases[_i].in) == 0)
				ck_assert_ptr_null(o[i].phrase);
			else
				ck_assert_pstr_eq(o[i].phrase, a[i].phrase);
		}
		hdr_addrs_free(o, on);
	}
	hdr_addrs_free(a, n);
}
END_TEST

/* Each element with neither phrase nor address is named after the whole
 * field, as SpamAssassin names it: quadratic in a field of commas, so only
 * the first 64 of a field get the name. */
START_TEST(addresses_input_names_bounded)
{
	char field[2002];
	struct hdr_addr *a;
	size_t n, named = 0;

	field[0] = 'x';
	memset(field + 1, ',', 2000);
	field[2001] = '\0';
	n = hdr_parse_addresses(field, strlen(field), &a);
	ck_assert_uint_eq(n, 2000);
	for (size_t i = 0; i < n; i++) {
		ck_assert_ptr_null(a[i].address);
		if (a[i].phrase != NULL) {
			ck_assert_str_eq(a[i].phrase, field);
			named++;
		}
	}
	ck_assert_uint_eq(named, 64);
	ck_assert_ptr_nonnull(a[63].phrase);
	ck_assert_ptr_null(a[64].phrase);
	hdr_addrs_free(a, n);
}
END_TEST

/* One :addr or :name request gives at most 10000 values: the work per
 * address is what made a message of millions of them take minutes. */
START_TEST(addresses_per_request_bounded)
{
	struct buf msg, got;
	struct msgview *mv;
	const char *reqs[] = { "To:addr", "To:name", "ToCc:addr" };

	buf_init(&msg, 0);
	/* 50 fields of 250: a field's value is cut at 8192 bytes */
	for (int f = 0; f < 50; f++) {
		buf_put_str(&msg, "To: ");
		for (int k = 0; k < 250; k++)
			buf_putf(&msg, "%s\"n%05d\" <u%05d@x.example>", k > 0 ? ", " : "",
				 f * 250 + k, f * 250 + k);
		buf_put_str(&msg, "\n");
	}
	buf_put_str(&msg, "Subject: s\n\nbody\n");
	mv = msgview_new(&set, msg.data, msg.len, NULL);
	for (size_t r = 0; r < N_ELEMENTS(reqs); r++) {
		size_t values = 1;

		buf_init(&got, 0);
		ck_assert(msgview_get(mv, reqs[r], &got));
		for (size_t i = 0; i < got.len; i++)
			values += got.data[i] == '\n';
		ck_assert_msg(values == 10000, "%s: %zu values", reqs[r], values);
		ck_assert(memmem(got.data, got.len, "09999", 5) != NULL);
		ck_assert(memmem(got.data, got.len, "10000", 5) == NULL);
		buf_free(&got);
	}
	msgview_free(&mv);
	buf_free(&msg);
}
END_TEST

START_TEST(hosts_and_domains)
{
	struct mime_str o = { 0 };

	mime_str_add(&o, "", 0);
	ck_assert(hdr_find_host(&set, "<x@mail.example.co.uk>", 22, false, &o));
	ck_assert_str_eq(o.p, "mail.example.co.uk");
	o.len = 0;
	hdr_trim_domain(&set, "mail.example.co.uk", 18, &o);
	ck_assert_str_eq(o.p, "example.co.uk");
	o.len = 0;
	hdr_trim_domain(&set, "WWW.Example.COM.", 16, &o);
	ck_assert_str_eq(o.p, "example.com");
	o.len = 0;
	ck_assert(!hdr_find_host(&set, "no host here", 12, false, &o));
	ck_assert(!hdr_find_host(&set, "x@y.invalidtld", 14, false, &o));
	ck_assert(hdr_is_fqdn_valid("a-b.example.com", 15));
	ck_assert(!hdr_is_fqdn_valid("a_b.com", 7));
	ck_assert(!hdr_is_fqdn_valid("-a.com", 6));
	ck_assert(hdr_find_ip("[2001:db8::1]", 13, true, &o));
	ck_assert_str_eq(o.p, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2");
	mime_str_free(&o);
}
END_TEST

/* ---- mimeheader ---- */

static const char msg_multi[] =
	"From: a@example.com\n"
	"Subject: multi\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"XX\"\n"
	"\n"
	"preamble\n"
	"--XX\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"SGVsbG8gd29ybGQK\n"
	"--XX\n"
	"Content-Type: application/octet-stream; name=\"x.bin\"\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"AAECAw==\n"
	"--XX\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"From: inner@example.com\n"
	"Subject: inner\n"
	"\n"
	"inner body\n"
	"--XX--\n"
	"epilogue\n";

START_TEST(mimeheader_parts)
{
	struct msgview *mv = view(msg_multi, NULL);
	struct buf b;
	char *raw;

	expect_body(mv, "multi\n|Hello world\n|inner body");
	raw = joined(msgview_rawbody(mv));
	ck_assert_str_eq(raw, "Hello world\n|inner body");
	free(raw);
	/* the message, three parts, the embedded message */
	ck_assert_uint_eq(msgview_part_count(mv), 5);
	buf_init(&b, 0);
	ck_assert(msgview_part_get(mv, 0, "Content-Type", &b));
	ck_assert_str_eq(b.data, "multipart/mixed; boundary=\"XX\"\n");
	buf_reset(&b);
	ck_assert(msgview_part_get(mv, 2, "Content-Type:raw", &b));
	ck_assert_str_eq(b.data, "application/octet-stream; name=\"x.bin\"\n");
	buf_reset(&b);
	ck_assert(!msgview_part_get(mv, 4, "Content-Type", &b));
	/* :raw is never unset: "" */
	ck_assert(msgview_part_get(mv, 4, "Content-Type:raw", &b));
	ck_assert_uint_eq(b.len, 0);
	ck_assert(msgview_part_get(mv, 4, "ALL", &b));
	ck_assert_str_eq(b.data, "From: inner@example.com\nSubject: inner\n");
	buf_reset(&b);
	ck_assert(!msgview_part_get(mv, 5, "ALL", &b));
	buf_free(&b);
	msgview_free(&mv);
}
END_TEST

/* ---- malformed input ---- */

START_TEST(missing_boundary)
{
	static const char m[] =
		"From: a@example.com\nSubject: broken\n"
		"Content-Type: multipart/mixed; boundary=\"nope\"\n\n"
		"--other\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
		"!!!SGVs bG8@@@\n";
	struct msgview *mv = view(m, NULL);

	/* no boundary found: the whole body is one text part */
	expect_body(mv, "broken\n|--other Content-Type: text/plain "
		    "Content-Transfer-Encoding: base64\n|!!!SGVs bG8@@@ ");
	ck_assert_uint_eq(msgview_part_count(mv), 2);
	msgview_free(&mv);
}
END_TEST

START_TEST(broken_base64_part)
{
	static const char m[] =
		"Subject: b64\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
		"SGVs!!bG8g\n@@d29y bGQ=junk=\n";
	struct msgview *mv = view(m, NULL);
	const struct strlist *r = msgview_rawbody(mv);

	ck_assert_uint_eq(r->n, 1);
	ck_assert_uint_gt(r->v[0].len, 0);
	ck_assert(memcmp(r->v[0].p, "Hello wor", 9) == 0);
	msgview_free(&mv);
}
END_TEST

START_TEST(deep_nesting)
{
	struct buf m;
	struct msgview *mv;
	char *s;
	size_t len;

	buf_init(&m, 0);
	ck_assert_int_eq(buf_append_str(&m, "Subject: deep\nContent-Type: multipart/mixed; "
					"boundary=\"b0\"\n\n"), 0);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(buf_printf(&m, "--b%d\nContent-Type: multipart/mixed; "
					    "boundary=\"b%d\"\n\n", i, i + 1), 0);
	ck_assert_int_eq(buf_append_str(&m, "--b1000\nContent-Type: text/plain\n\nhello\n"), 0);
	for (int i = 1000; i >= 0; i--)
		ck_assert_int_eq(buf_printf(&m, "--b%d--\n", i), 0);
	s = buf_steal(&m, &len);
	mv = msgview_new(&set, s, len, NULL);
	/* SpamAssassin stops after 20 levels; the rest is an opaque part */
	ck_assert_uint_le(msgview_part_count(mv), 25);
	ck_assert_uint_ge(msgview_body(mv)->n, 1);
	(void)msgview_rawbody(mv);
	(void)msgview_uris(mv);
	msgview_free(&mv);
	free(s);
}
END_TEST

START_TEST(deep_rfc822)
{
	struct buf m;
	struct msgview *mv;
	char *s;
	size_t len;

	buf_init(&m, 0);
	for (int i = 0; i < 500; i++)
		ck_assert_int_eq(buf_printf(&m, "Subject: %d\nContent-Type: message/rfc822\n\n", i), 0);
	ck_assert_int_eq(buf_append_str(&m, "Subject: bottom\n\nbody text\n"), 0);
	s = buf_steal(&m, &len);
	mv = msgview_new(&set, s, len, NULL);
	ck_assert_uint_le(msgview_part_count(mv), 30);
	ck_assert_uint_ge(msgview_body(mv)->n, 1);
	msgview_free(&mv);
	free(s);
}
END_TEST

START_TEST(many_parts)
{
	struct buf m;
	struct msgview *mv;
	char *s;
	size_t len;

	buf_init(&m, 0);
	ck_assert_int_eq(buf_append_str(&m, "Content-Type: multipart/mixed; boundary=q\n\n"), 0);
	for (int i = 0; i < 3000; i++)
		ck_assert_int_eq(buf_printf(&m, "--q\n\npart %d\n", i), 0);
	s = buf_steal(&m, &len);
	mv = msgview_new(&set, s, len, NULL);
	/* 1000 parts per multipart, as SpamAssassin */
	ck_assert_uint_eq(msgview_part_count(mv), 1001);
	msgview_free(&mv);
	free(s);
}
END_TEST

static const struct {
	const char *data;
	size_t len;
} odd_cases[] = {
	{ UT_S("") },
	{ UT_S("\n") },
	{ UT_S("Subject: only headers") },
	{ UT_S("From nobody Mon Jan  1 00:00:00 2024\nSubject: mbox\n\nx\n") },
	{ UT_S("Subject: nul\0here\n\nbo\0dy\n") },
	{ UT_S("Subject: crlf\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n"
	       "Content-Type: text/html\r\n\r\n<p>x\r\n--z--\r\n") },
	{ UT_S("Content-Type: text/html; charset=utf-16\n\n\xff\xfe<\0b\0>\0") },
	{ UT_S("Content-Type: text/plain; charset=\"\n\n\xff\xfe\x80") },
	{ UT_S("Content-Type: multipart/mixed; boundary=\"\"\n\n--\n\n") },
	{ UT_S("Content-Type: text/html\n\n<a href=\"&#xD800;&#xDC00;&#99999999;\">&#0;") },
	{ UT_S("Subject: =?utf-8?B?====?= =?utf-16?Q?=FF?=\nTo: ((((\n\n") },
	{ UT_S("Content-Type: message/rfc822\n\n") },
	{ UT_S("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: in digest\n\nx\n--d--\n") },
};

START_TEST(odd_messages)
{
	struct msgview *mv = msgview_new(&set, odd_cases[_i].data, odd_cases[_i].len, NULL);
	struct buf b;
	const char *full;
	size_t len, parts;

	buf_init(&b, 0);
	(void)msgview_body(mv);
	(void)msgview_rawbody(mv);
	(void)msgview_uris(mv);
	(void)msgview_get(mv, "ALL", &b);
	(void)msgview_get(mv, "To:addr:domain", &b);
	(void)msgview_get(mv, "ALL-UNTRUSTED:raw", &b);
	(void)msgview_get(mv, "EnvelopeFrom", &b);
	parts = msgview_part_count(mv);
	ck_assert_uint_ge(parts, 1);
	for (size_t p = 0; p < parts; p++)
		(void)msgview_part_get(mv, p, "Content-Type", &b);
	msgview_full(mv, &full, &len);
	ck_assert_uint_le(len, odd_cases[_i].len);
	buf_free(&b);
	msgview_free(&mv);
}
END_TEST


/* A hostile message for the bounds below: head, then n bytes c (and a
 * final newline when asked); *len_r its length. */
static char *
filled_message(const char *head, char c, size_t n, bool newline, size_t *len_r)
{
	size_t hl = strlen(head);
	char *msg = xmalloc(hl + n + 1);

	memcpy(msg, head, hl);
	memset(msg + hl, c, n);
	*len_r = hl + n;
	if (newline)
		msg[(*len_r)++] = '\n';
	return msg;
}

struct html_job {
	const char *html;
	size_t len;
	const char *text;	/* the rendered text expected */
};

static bool
html_job_run(const void *arg)
{
	const struct html_job *j = arg;
	struct html_result *r = html_render(j->html, j->len, false, j->len);
	bool ok = r != NULL && strcmp(r->text, j->text) == 0;

	html_result_free(&r);
	return ok;
}

/* Renders html within secs of CPU time and checks its text. */
static void
html_cpu_within(unsigned secs, const char *html, size_t len, const char *text)
{
	struct html_job j = { html, len, text };

	ut_run_cpu_within(secs, html_job_run, &j);
}

/* n copies of unit then tail, NUL-terminated. */
static char *
repeated(const char *unit, size_t n, const char *tail, size_t *len_r)
{
	size_t ul = strlen(unit), tl = strlen(tail);
	char *s = xmalloc(ul * n + tl + 1);

	for (size_t i = 0; i < n; i++)
		memcpy(s + i * ul, unit, ul);
	memcpy(s + ul * n, tail, tl + 1);
	*len_r = ul * n + tl;
	return s;
}

struct parse_job {
	const char *data;
	size_t len;
	bool (*check)(const struct mime_msg *m, size_t a, size_t b);
	size_t a, b;
};

static bool
parse_job_run(const void *arg)
{
	const struct parse_job *j = arg;
	struct mime_msg *m = mime_parse(j->data, j->len);

	return m != NULL && j->check(m, j->a, j->b);
}

/* Parses data within extra bytes and checks check(m, a, b). */
static void
parse_within(const char *data, size_t len, size_t extra,
	     bool (*check)(const struct mime_msg *m, size_t a, size_t b), size_t a, size_t b)
{
	struct parse_job j = { data, len, check, a, b };

	ut_run_within(extra, parse_job_run, &j);
}

struct views_job {
	const char *data;
	size_t len;
	size_t min_body;	/* body lines expected at least */
};

static bool
views_job_run(const void *arg)
{
	const struct views_job *j = arg;
	struct msgview *mv = msgview_new(&set, j->data, j->len, NULL);
	const struct strlist *body = msgview_body(mv);
	struct buf b;
	bool ok;

	buf_init(&b, 0);
	ok = body->n >= j->min_body && msgview_body_visible(mv) != NULL &&
	     msgview_body_invisible(mv) != NULL && msgview_rawbody(mv) != NULL &&
	     msgview_uris(mv) != NULL && msgview_get(mv, "ALL", &b);
	buf_free(&b);
	msgview_free(&mv);
	return ok;
}

/* Builds every body view of data within extra bytes: the ones scoring
 * asks for on every message. */
static void
views_within(const char *data, size_t len, size_t extra, size_t min_body)
{
	struct views_job j = { data, len, min_body };

	ut_run_within(extra, views_job_run, &j);
}

/* The root holds at most a lines (the blank-line squeeze). */
static bool
root_lines_at_most(const struct mime_msg *m, size_t a, size_t b)
{
	(void)b;
	return m->root != NULL && m->root->nlines <= a;
}

/* a + 1 nodes, the last one of b lines. */
static bool
last_node_lines(const struct mime_msg *m, size_t a, size_t b)
{
	return m->nnodes == a + 1 && m->nodes[a]->nlines == b;
}


/* The body's line index is built once, in place: a 4 MB message of empty
 * lines is 4 million 16-byte entries, and the header and body arrays
 * copied from one to the other needed twice that (1.2 GB for a 40 MB
 * message).  Parsed under an address-space limit of the index plus
 * 30 MB, in a child of its own; not under the sanitizers, whose shadow
 * memory such a limit can't hold. */
START_TEST(line_index_bounded)
{
	const size_t lines = 4u * 1024 * 1024;
	size_t len;
	char *msg;

	if (UT_UNDER_ASAN)
		return;
	msg = filled_message("From: a@example.com\nSubject: s\n\n", '\n', lines, false, &len);
	parse_within(msg, len, lines * sizeof(struct mime_line) + 30u * 1024 * 1024,
		     root_lines_at_most, 21, 0);
	free(msg);
}
END_TEST

/* Header fields past MIME_MAX_HEADERS in a message are not kept (each costs
 * up to a kilobyte in the views: two million "To:" lines took 1.6 GB);
 * fields the scorer adds itself still go in. */
START_TEST(header_count_bounded)
{
	struct buf in;
	struct mime_msg *m;
	size_t n;

	buf_init(&in, 0);
	for (size_t i = 0; i < MIME_MAX_HEADERS + 500; i++)
		buf_putf(&in, "To: u%zu@example.com\n", i);
	buf_put_str(&in, "Subject: late\n\nbody\n");
	m = mime_parse(in.data, in.len);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->nodes[0]->nhdrs, MIME_MAX_HEADERS);
	ck_assert(m->flags.header_limit_exceeded);
	ck_assert_ptr_null(mime_hdr_last(m->nodes[0], "subject"));
	mime_prepend_header(m, m->nodes[0], "X-Spam-Relays-External", " \n");
	n = m->nodes[0]->nhdrs;
	ck_assert_uint_eq(n, MIME_MAX_HEADERS + 1);
	mime_free(&m);
	buf_free(&in);

	buf_init(&in, 0);
	buf_put_str(&in, "To: a@example.com\nSubject: early\n\nbody\n");
	m = mime_parse(in.data, in.len);
	ck_assert(!m->flags.header_limit_exceeded);
	mime_free(&m);
	buf_free(&in);
}
END_TEST

/* The bound is the message's, not each part's: spread over parts, the
 * fields went on to the message size (80 parts of 100000 fields, 24 MB,
 * took 1.9 GB to score).  The root's own fields are read first and kept. */
START_TEST(header_count_bounded_over_parts)
{
	const size_t parts = 3;
	struct buf in;
	struct mime_msg *m;
	size_t total = 0;

	buf_init(&in, 0);
	buf_put_str(&in, "From: a@example.com\nSubject: root\n"
		    "Content-Type: multipart/mixed; boundary=b\n\n");
	for (size_t p = 0; p < parts; p++) {
		buf_put_str(&in, "--b\nContent-Type: text/plain\n");
		for (size_t i = 0; i < MIME_MAX_HEADERS; i++)
			buf_put_str(&in, "a:\n");
		buf_putf(&in, "\npart %zu\n", p);
	}
	buf_put_str(&in, "--b--\n");
	m = mime_parse(in.data, in.len);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->nnodes, parts + 1);
	for (size_t n = 0; n < m->nnodes; n++)
		total += m->nodes[n]->nhdrs;
	ck_assert_uint_eq(total, MIME_MAX_HEADERS);
	ck_assert(m->flags.header_limit_exceeded);
	ck_assert_ptr_nonnull(mime_hdr_last(m->nodes[0], "subject"));
	ck_assert_uint_eq(m->nodes[1]->nhdrs, MIME_MAX_HEADERS - m->nodes[0]->nhdrs);
	ck_assert_uint_eq(m->nodes[2]->nhdrs, 0);
	mime_free(&m);
	buf_free(&in);
}
END_TEST

/* The parts of a multipart borrow its line index: each level of nesting
 * copied every line of the part before, so 18 levels around 1 million
 * short lines needed 19 copies of the index (a 40 MB message took
 * gigabytes).  Parsed under the same kind of limit as above. */
START_TEST(nested_parts_bounded)
{
	const size_t lines = 1024 * 1024, depth = 18;
	struct buf in;

	if (UT_UNDER_ASAN)
		return;
	buf_init(&in, 0);
	buf_put_str(&in, "From: a@example.com\nContent-Type: multipart/mixed; boundary=b0\n\n");
	for (size_t i = 1; i < depth; i++)
		buf_putf(&in, "--b%zu\nContent-Type: multipart/mixed; boundary=b%zu\n\n",
			 i - 1, i);
	buf_putf(&in, "--b%zu\nContent-Type: text/plain\n\n", depth - 1);
	for (size_t i = 0; i < lines; i++)
		buf_put(&in, "x\n", 2);
	for (size_t i = depth; i-- > 0;)
		buf_putf(&in, "--b%zu--\n", i);
	/* the root, 17 multiparts inside it and the text part */
	parse_within(in.data, in.len, 4 * lines * sizeof(struct mime_line) + 30u * 1024 * 1024,
		     last_node_lines, depth, lines);
	buf_free(&in);
}
END_TEST

/* A message/rfc822 part's index is not kept beside a second one of the
 * message inside: 18 levels around 1 million short lines held 19
 * indexes of the same lines.  With nothing to decode, the text of each
 * level is the input itself and the message inside takes over the
 * part's index (else the part's index is freed once its text is
 * decoded). */
START_TEST(nested_rfc822_bounded)
{
	const size_t lines = 1024 * 1024, depth = 18;
	struct buf in;

	if (UT_UNDER_ASAN)
		return;
	buf_init(&in, 0);
	buf_put_str(&in, "From: a@example.com\n");
	for (size_t i = 0; i < depth; i++)
		buf_putf(&in, "Content-Type: message/rfc822\nSubject: %zu\n\n", i);
	buf_put_str(&in, "Subject: inner\n\n");
	for (size_t i = 0; i < lines; i++)
		buf_put(&in, "x\n", 2);
	/* each level's message node, then the innermost */
	parse_within(in.data, in.len, lines * sizeof(struct mime_line) + 30u * 1024 * 1024,
		     last_node_lines, depth, lines);
	buf_free(&in);
}
END_TEST

struct raw_job {
	const char *data;
	size_t len;
	const char *envfrom;
};

static bool
raw_job_run(const void *arg)
{
	const struct raw_job *j = arg;
	struct msgview *mv = msgview_new(&set, j->data, j->len, j->envfrom);
	size_t rp = j->envfrom != NULL ? strlen("Return-Path: <>\n") + strlen(j->envfrom) : 0;
	struct buf b;
	bool ok;

	buf_init(&b, 0);
	/* the whole header section, each line of it a pristine field */
	ok = msgview_get(mv, "ALL:raw", &b) && b.len == rp + j->len - 6;
	buf_free(&b);
	msgview_free(&mv);
	return ok;
}

/* ALL:raw is the list of pristine fields itself, not a copy of it made
 * for the cache: each is a malloc'd line, and two million "To:" lines
 * took 80 MB per copy. */
START_TEST(pristine_fields_bounded)
{
	const size_t n = 1024 * 1024;
	struct buf in;
	struct raw_job j;

	if (UT_UNDER_ASAN)
		return;
	buf_init(&in, 0);
	for (size_t i = 0; i < n; i++)
		buf_putf(&in, "To: u%07zu@exam.com\n", i);
	buf_put_str(&in, "\nbody\n");
	j.data = in.data;
	j.len = in.len;
	j.envfrom = NULL;
	ut_run_within(13 * in.len / 2 + 30u * 1024 * 1024, raw_job_run, &j);
	buf_free(&in);
}
END_TEST

/* ALL:raw is one text, the fields one after the other, not a list of
 * them: a malloc and a list entry each were 96 MB for two million "To:"
 * lines.  The text is the message's own bytes, or one copy with the
 * Return-Path in front.  Within the value's buffer (doubling: twice its
 * size), the fields the parser keeps and 30 MB; with a Return-Path, the
 * copy too. */
START_TEST(pristine_fields_one_text_bounded)
{
	const size_t n = 2u * 1024 * 1024, kept = MIME_MAX_HEADERS * 256u;
	static const char small[] = " orphan\nSubject: a\n  b\nTo: c\n\nbody\n";
	struct buf in, b;
	struct raw_job j;
	struct msgview *mv;

	/* what the fields were as a list, joined */
	mv = msgview_new(&set, small, strlen(small), "s@example.org");
	buf_init(&b, 0);
	ck_assert(msgview_get(mv, "ALL:raw", &b));
	ck_assert_str_eq(b.data, "Return-Path: <s@example.org>\n orphan\nSubject: a\n  b\nTo: c\n");
	buf_reset(&b);
	ck_assert(msgview_get(mv, "ALL-TRUSTED:raw", &b));
	ck_assert_str_eq(b.data, "Return-Path: <s@example.org>\n orphan\nSubject: a\n  b\nTo: c\n");
	msgview_free(&mv);
	mv = msgview_new(&set, small, strlen(small), NULL);
	buf_reset(&b);
	ck_assert(msgview_get(mv, "ALL:raw", &b));
	ck_assert_str_eq(b.data, "Subject: a\n  b\nTo: c\n");
	msgview_free(&mv);
	buf_free(&b);
	if (UT_UNDER_ASAN)
		return;
	buf_init(&in, 0);
	for (size_t i = 0; i < n; i++)
		buf_putf(&in, "To: u%07zu@exam.com\n", i);
	buf_put_str(&in, "\nbody\n");
	j.data = in.data;
	j.len = in.len;
	j.envfrom = NULL;
	ut_run_within(2 * in.len + kept + 30u * 1024 * 1024, raw_job_run, &j);
	j.envfrom = "sender@example.org";
	ut_run_within(3 * in.len + kept + 30u * 1024 * 1024, raw_job_run, &j);
	buf_free(&in);
}
END_TEST

/* The pristine header section has m->pristine_headers_len a bytes. */
static bool
pristine_len_is(const struct mime_msg *m, size_t a, size_t b)
{
	(void)b;
	return m->pristine_headers_len == a;
}

/* The pristine header text is the input itself unless a line of it
 * changes (a CR added in a CRLF message): two million "To:" lines were
 * a 42 MB copy beside the input.  Parsed within the line index and
 * 30 MB. */
START_TEST(pristine_text_in_place_bounded)
{
	const size_t n = 2u * 1024 * 1024;
	static const char crlf[] = "A: b\r\nC: d\n\r\nbody\r\n";
	struct buf in;
	struct mime_msg *m;

	buf_init(&in, 0);
	for (size_t i = 0; i < n; i++)
		buf_putf(&in, "To: u%07zu@exam.com\n", i);
	buf_put_str(&in, "\nbody\n");
	m = mime_parse(in.data, in.len);
	ck_assert_ptr_eq(m->pristine_headers, in.data);
	ck_assert_uint_eq(m->pristine_headers_len, in.len - 5);
	mime_free(&m);
	m = mime_parse(crlf, strlen(crlf));
	ck_assert_uint_eq(m->pristine_headers_len, 14);
	ck_assert(memcmp(m->pristine_headers, "A: b\r\nC: d\r\n\r\n", 14) == 0);
	mime_free(&m);
	if (!UT_UNDER_ASAN)
		parse_within(in.data, in.len, n * sizeof(struct mime_line) + 30u * 1024 * 1024,
			     pristine_len_is, in.len - 5, 0);
	buf_free(&in);
}
END_TEST

/* Only the body's lines are indexed: the header's are read once, in
 * place, and two million "To:" lines (42 MB) were a 32 MB index.  Parsed
 * within 30 MB and what the MIME_MAX_HEADERS fields kept take. */
START_TEST(header_lines_not_indexed_bounded)
{
	const size_t n = 2u * 1024 * 1024;
	struct buf in;

	if (UT_UNDER_ASAN)
		return;
	buf_init(&in, 0);
	buf_put_str(&in, "From x@example.com  Mon Jan  1 00:00:00 2024\n");
	for (size_t i = 0; i < n; i++)
		buf_putf(&in, "To: u%07zu@exam.com\n", i);
	buf_put_str(&in, "\nbody\nmore\n");
	parse_within(in.data, in.len, MIME_MAX_HEADERS * 256u + 30u * 1024 * 1024,
		     root_lines_at_most, 2, 0);
	buf_free(&in);
}
END_TEST

/* The message inside a message/rfc822 part is the same whether it is
 * read in place (LF input: the part's own bytes and line index) or from
 * a decoded copy (CRLF input, base64): same parts, same views. */
START_TEST(nested_in_place_same)
{
	static const char lf[] =
		"From: a@example.com\nSubject: outer\n"
		"Content-Type: multipart/mixed; boundary=b0\n\npreamble\n--b0\n"
		"Content-Type: message/rfc822\n\nSubject: mid\n"
		"Content-Type: multipart/alternative; boundary=b1\n\nnot the boundary\n--b1\n"
		"Content-Type: text/plain\n\nplain words\n\n\n\nmore\n--b1\n"
		"Content-Type: text/html\n\n<p>html <b>words</b></p>\n--b1--\n"
		"--b0\nContent-Type: message/rfc822\n\nSubject: direct\n\ndirect body\n"
		"--b0--\n";
	struct buf crlf;
	struct msgview *a, *b;
	struct mime_msg *ma, *mb;

	buf_init(&crlf, 0);
	for (const char *p = lf; *p != '\0'; p++)
		buf_put(&crlf, *p == '\n' ? "\r\n" : p, *p == '\n' ? 2 : 1);
	a = msgview_new(&set, lf, strlen(lf), NULL);
	b = msgview_new(&set, crlf.data, crlf.len, NULL);
	const struct strlist *views_a[] = { msgview_body(a), msgview_rawbody(a),
					    msgview_uris(a) };
	const struct strlist *views_b[] = { msgview_body(b), msgview_rawbody(b),
					    msgview_uris(b) };
	ma = msgview_mime(a);
	mb = msgview_mime(b);
	ck_assert_uint_eq(ma->nnodes, 7);
	ck_assert_uint_eq(ma->nnodes, mb->nnodes);
	for (size_t i = 0; i < ma->nnodes; i++) {
		size_t la, lb;
		const char *da = mime_decoded(ma, ma->nodes[i], &la);
		const char *db = mime_decoded(mb, mb->nodes[i], &lb);

		ck_assert_str_eq(ma->nodes[i]->type, mb->nodes[i]->type);
		ck_assert_uint_eq(la, lb);
		ck_assert(la == 0 || memcmp(da, db, la) == 0);
	}
	for (size_t k = 0; k < N_ELEMENTS(views_a); k++) {
		char *ja = joined(views_a[k]), *jb = joined(views_b[k]);

		ck_assert_str_eq(ja, jb);
		free(ja);
		free(jb);
	}
	{
		char *j = joined(views_a[0]);

		ck_assert_str_eq(j, "outer\n|plain words\n|more\n|html words\n|direct body");
		free(j);
	}
	msgview_free(&a);
	msgview_free(&b);
	buf_free(&crlf);
}
END_TEST

/* message/rfc822 parts inside multiparts inside message/rfc822 parts:
 * each level's decoding copied the whole text and indexed its lines
 * again (10 levels around 4 million short lines: 840 MB for 40 MB).
 * Text with nothing to decode is now the input itself, and the message
 * inside takes over the part's line index. */
START_TEST(nested_mixed_views_bounded)
{
	const size_t lines = 2u * 1024 * 1024, depth = 10;
	struct buf in;

	if (UT_UNDER_ASAN)
		return;
	buf_init(&in, 0);
	buf_put_str(&in, "From: a@example.com\nSubject: nest\n");
	for (size_t i = 0; i < depth; i++) {
		if (i % 2 == 0)
			buf_putf(&in, "Content-Type: multipart/mixed; boundary=b%zu\n\n"
				 "preamble\n--b%zu\n", i, i);
		else
			buf_putf(&in, "Content-Type: message/rfc822\n\nSubject: l%zu\n", i);
	}
	buf_put_str(&in, "Content-Type: text/plain\n\n");
	for (size_t i = 0; i < lines; i++)
		buf_put(&in, "abcdefghi\n", 10);
	for (size_t i = depth; i-- > 0;)
		if (i % 2 == 0)
			buf_putf(&in, "--b%zu--\n", i);
	views_within(in.data, in.len, lines * sizeof(struct mime_line) + in.len +
		     30u * 1024 * 1024, 2);
	buf_free(&in);
}
END_TEST

/* A part's decoded text is the input itself when there is nothing to
 * decode, rendering uses it in place when normalising leaves it
 * unchanged, and HTML's rendered text is its parser result unless Perl
 * would hold it as Latin-1 bytes; CRLF still turns into LF in decoded
 * text parts only. */
START_TEST(decoded_text_shared)
{
	static const char msg[] =
		"Content-Type: multipart/mixed; boundary=b\n\n"
		"--b\nContent-Type: text/plain\n\nplain ascii\n"
		"--b\nContent-Type: text/html; charset=utf-8\n\n<p>caf\xc3\xa9</p>\n"
		"--b\nContent-Type: text/html\n\n<p>caf&eacute;</p>\n"
		"--b\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
		"YQ0KYg0K\n"
		"--b\nContent-Type: application/x-y\nContent-Transfer-Encoding: base64\n\n"
		"YQ0KYg0K\n"
		"--b\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n"
		"q=0D=0Ar=\n\n--b--\n";
	struct mime_msg *m = mime_parse(msg, strlen(msg));
	size_t dl, rl;
	bool utf8;
	const char *type, *d, *r;

	ck_assert_uint_eq(m->nnodes, 7);
	d = mime_decoded(m, m->nodes[1], &dl);
	r = mime_rendered(m, m->nodes[1], &rl, &utf8, &type);
	ck_assert_ptr_eq(r, d);
	ck_assert_ptr_eq(d, strstr(msg, "plain ascii"));
	ck_assert_uint_eq(rl, 11);
	r = mime_rendered(m, m->nodes[2], &rl, &utf8, &type);
	ck_assert(utf8);
	ck_assert_ptr_eq(r, m->nodes[2]->html->text);
	ck_assert_str_eq(r, "\n\ncaf\xc3\xa9\n\n");
	r = mime_rendered(m, m->nodes[3], &rl, &utf8, &type);
	ck_assert(!utf8);
	ck_assert_str_eq(m->nodes[3]->html->text, "\n\ncaf\xc3\xa9\n\n");
	ck_assert_str_eq(r, "\n\ncaf\xe9\n\n");
	ck_assert_uint_eq(rl, 8);
	d = mime_decoded(m, m->nodes[4], &dl);
	ck_assert_uint_eq(dl, 4);
	ck_assert(memcmp(d, "a\nb\n", 4) == 0);
	d = mime_decoded(m, m->nodes[5], &dl);
	ck_assert_uint_eq(dl, 6);
	ck_assert(memcmp(d, "a\r\nb\r\n", 6) == 0);
	d = mime_decoded(m, m->nodes[6], &dl);
	ck_assert_uint_eq(dl, 3);
	ck_assert(memcmp(d, "q\nr", 3) == 0);
	mime_free(&m);
}
END_TEST

/* HTML.pm keeps one text element per text event, and "<<<<" is one
 * event per "<": a record per element took 16 bytes per byte of input
 * (40 MB of "<" peaked at 900 MB).  Elements with the same flags now
 * share one record, and the part's text is no longer copied on its way
 * (decoded, normalised, parsed, rendered): what is left is the decoded
 * text, the &nbsp;-rewritten input of the parser and the rendered text,
 * within 4 times the message. */
START_TEST(html_text_events_bounded)
{
	size_t len;
	char *msg;

	if (UT_UNDER_ASAN)
		return;
	msg = filled_message("From: a@example.com\nSubject: s\nContent-Type: text/html\n\n",
			     '<', 16u * 1024 * 1024, true, &len);
	views_within(msg, len, 4 * len + 30u * 1024 * 1024, 2);
	free(msg);
}
END_TEST

/* Marked sections nest without a cost per level: 200000 unclosed
 * "<![include[" rescanned the open ones on each (about a minute). */
START_TEST(marked_sections_linear)
{
	size_t len;
	char *h = repeated("<![include[", 200000, "x", &len);

	html_cpu_within(2, h, len, "x");
	free(h);
}
END_TEST

/* One tag of 100000 attributes "xN=1" (or "xN/href=1" and an href
 * last), rendered within 2 s of CPU. */
static void
one_big_tag_renders(bool slash_href)
{
	struct buf b;
	size_t len;
	char *h;

	buf_init(&b, 0);
	buf_put_str(&b, "<a ");
	for (int i = 0; i < 100000; i++) {
		if (slash_href)
			buf_putf(&b, "x%d/href=1 ", i);
		else
			buf_putf(&b, "x%d=1 ", i);
	}
	buf_put_str(&b, slash_href ? "href=z>t</a>" : ">t</a>");
	h = buf_steal(&b, &len);
	html_cpu_within(2, h, len, "t");
	free(h);
}

/* Each attribute name was compared with every one kept before it (about
 * a minute), as was each "x/href" with every attribute in the search for
 * the href. */
START_TEST(attributes_linear)
{
	one_big_tag_renders(false);
}
END_TEST

START_TEST(slash_href_linear)
{
	one_big_tag_renders(true);
}
END_TEST

struct ct_param_case {
	const char *ct;
	/* what each must come out as; NULL: not checked */
	const char *boundary, *charset, *name;
};

static bool
ct_param_is(const char *got, const char *want)
{
	return want == NULL || (got != NULL && strcmp(got, want) == 0);
}

/* Parses c->ct 1000 times, checking the parameters each time. */
static bool
ct_param_job(const void *arg)
{
	const struct ct_param_case *c = arg;
	struct mime_msg *m = mime_parse("", 0);
	const char *type, *b, *cs, *name;
	bool ok = true;

	for (int i = 0; i < 1000 && ok; i++) {
		(void)mime_parse_content_type(m, c->ct, strlen(c->ct), &type, &b, &cs, &name);
		ok = ct_param_is(b, c->boundary) && ct_param_is(cs, c->charset) &&
		     ct_param_is(name, c->name);
	}
	mime_free(&m);
	return ok;
}

/* A Content-Type value of 8 kB (the longest a field keeps) with a
 * thousand "name=a" and "name*1=a" before a line break, 1000 times: each
 * start rescanned the value up to the break (minutes in all). */
START_TEST(content_type_name_linear)
{
	struct ct_param_case c = { NULL, NULL, NULL, "last" };
	struct buf b;
	size_t len;

	buf_init(&b, 0);
	buf_put_str(&b, "text/plain; x");
	for (int i = 0; i < 550; i++)
		buf_put_str(&b, " name=a");
	for (int i = 0; i < 450; i++)
		buf_put_str(&b, " name*1=a");
	buf_put_str(&b, "\n name*0=la; name*1=st;");
	c.ct = buf_steal(&b, &len);
	ut_run_cpu_within(2, ct_param_job, &c);
	free((char *)c.ct);
}
END_TEST

/* Util.pm's patterns as PCRE2 runs them, against which the hand-written
 * matchers of mime_header.c are compared: group 1 of the first match in
 * value, or NULL. */
static char *
ct_param_by_regex(pcre2_code *re, pcre2_match_data *md, const char *value)
{
	PCRE2_SIZE *ov;

	if (pcre2_match(re, (PCRE2_SPTR)value, strlen(value), 0, 0, md, NULL) <= 1)
		return NULL;
	ov = pcre2_get_ovector_pointer(md);
	return xstrndup(value + ov[2], ov[3] - ov[2]);
}

static void
ck_param_eq(const char *what, const char *value, const char *got, const char *want)
{
	ck_assert_msg((got == NULL) == (want == NULL) && (got == NULL || strcmp(got, want) == 0),
		      "%s of [%s]: got [%s], want [%s]", what, ut_escs(value),
		      got != NULL ? ut_escs(got) : "(none)", want != NULL ? ut_escs(want) : "(none)");
}

/* The boundary, charset and name parameters, found by hand in linear
 * time, against the patterns themselves on random values made of the
 * pieces that decide a match: keywords in both cases, white space
 * (a line break among it), '=', quotes, ';', word and other bytes. */
START_TEST(content_type_params_as_regex)
{
	static const char *const pieces[] = {
		"boundary", "BOUNDARY", "charset", "Charset", "name", "filename", "file",
		"=", " ", "\t", "\v", "\n", "\r", "\"", "'", ";", "a", "b", "_", "-", "x9",
	};
	static const char *const patterns[] = {
		"\\bboundary\\s*=\\s*(\"[^\"]+|[^\\s\";]+(?=[\\s;]|$))",
		"\\bcharset\\s*=\\s*[\"']?(.*?)[\"']?(?:;|$)",
		"\\b(?:file)?name\\s*=\\s*[\"']?(.*?)[\"']?(?:;|$)",
	};
	pcre2_code *re[3];
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	unsigned int seed = 12345;
	struct mime_msg *m = mime_parse("", 0);

	for (size_t i = 0; i < 3; i++) {
		int err;
		PCRE2_SIZE off;

		re[i] = pcre2_compile((PCRE2_SPTR)patterns[i], PCRE2_ZERO_TERMINATED,
				      PCRE2_CASELESS, &err, &off, NULL);
		ck_assert_ptr_nonnull(re[i]);
	}

	for (int n = 0; n < 200000; n++) {
		char value[256], *want_b, *want_cs, *want_name;
		const char *type, *b, *cs, *name;
		size_t len = 0, count = 1 + rand_r(&seed) % 24;

		for (size_t i = 0; i < count; i++) {
			const char *piece = pieces[rand_r(&seed) % N_ELEMENTS(pieces)];

			memcpy(value + len, piece, strlen(piece));
			len += strlen(piece);
		}
		value[len] = '\0';
		(void)mime_parse_content_type(m, value, len, &type, &b, &cs, &name);
		want_b = ct_param_by_regex(re[0], md, value);
		if (want_b != NULL) {
			/* the quotes are taken out of the boundary */
			size_t o = 0;

			for (size_t i = 0; want_b[i] != '\0'; i++)
				if (want_b[i] != '"')
					want_b[o++] = want_b[i];
			want_b[o] = '\0';
		}
		want_cs = ct_param_by_regex(re[1], md, value);
		want_name = ct_param_by_regex(re[2], md, value);
		ck_param_eq("boundary", value, b, want_b);
		ck_param_eq("charset", value, cs, want_cs);
		/* (no '*' in the pieces: no RFC 2231 continuations) */
		ck_param_eq("name", value, name, want_name);
		free(want_b);
		free(want_cs);
		free(want_name);
	}
	for (size_t i = 0; i < 3; i++)
		pcre2_code_free(re[i]);
	pcre2_match_data_free(md);
	mime_free(&m);
}
END_TEST

/* The tables' hash is keyed: names made to share a slot under FNV-1a
 * (as header names, URIs or values of a message can be, offline, for
 * any table size) spread under str_hash like any others.  2000 names
 * with FNV-1a's low 12 bits equal take 8 M tries; keyed, they fill about
 * 1550 of 4096 slots, never one. */
START_TEST(string_hash_keyed)
{
	static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	static char names[2000][16];
	static bool slot_used[4096];
	size_t found = 0, slots = 0;

	for (unsigned long i = 0; found < N_ELEMENTS(names); i++) {
		char *name = names[found];
		size_t k = 0;

		name[k++] = 'x';
		name[k++] = '-';
		for (unsigned long x = i; k < 12; x /= 36)
			name[k++] = digits[x % 36];
		name[k] = '\0';
		if ((str_hash_fnv(name, k) & 0xfff) == 0x123)
			found++;
	}
	for (size_t i = 0; i < found; i++) {
		uint32_t h = str_hash(names[i], strlen(names[i])) & 0xfff;

		if (!slot_used[h]) {
			slot_used[h] = true;
			slots++;
		}
	}
	ck_assert_msg(slots > 1000, "%zu names share %zu slots", found, slots);
}
END_TEST

/* Util.pm's address pattern as SpamAssassin writes it, against which
 * hdr.c's rewrite is compared. */
#define UT_QSTR "\"(?:|(?:[^\"\\\\]++|\\\\.)*+)\""
#define UT_MAILRE "(?:\"(?:|(?:[^\"\\\\]++|\\\\.)*+)\"|[^\\@\\s\\<\\>\\(\\)\\[\\]\\,\\:\\;]+)" \
	"\\@(?:[^\\\"\\s\\<\\>\\(\\)\\[\\]\\,\\:\\;]+|\\[[\\d:.]+\\])"
#define UT_ADDRRE "^\\s*(?:(?:((?:" UT_QSTR "|[^\",;<]++)+)\\s*)?<\\s*([^>\\@]*\\S+|\\s*)\\s*>" \
	"(?:\\s*<\\s*(?:(?:" UT_QSTR ")?\\S+|\\s*)\\s*>)*|(?:(" UT_MAILRE ")|((?:" UT_QSTR \
	"|[^\",;<]++)+)))(?:\\s*\\(((?:|(?:[^()\\\\]++|\\\\.)*+))\\))?\\s*(?:[,;]|\\z)"

/* The rewritten address pattern takes the first match Util.pm's takes:
 * the same result and the same groups, on random fields of the pieces
 * its alternatives turn on.  Where the original runs into PCRE2's match
 * limit there is nothing to compare. */
START_TEST(address_pattern_as_util)
{
	static const char *const pieces[] = {
		"<", ">", "<", ">", "\"", "\\", "(", ")", " ", "\t", "\n", "a", "b.c", "@", ",",
		";", ":", "[", "]", "1.2", "x@y.z", "<a>", "\"q\"", "<\"", "><",
	};
	pcre2_code *re[2];
	const char *src[2] = { UT_ADDRRE, hdr_address_pattern() };
	pcre2_match_data *md[2];
	unsigned int seed = 4242, compared = 0;

	for (size_t i = 0; i < 2; i++) {
		int err;
		PCRE2_SIZE off;

		re[i] = pcre2_compile((PCRE2_SPTR)src[i], PCRE2_ZERO_TERMINATED, PCRE2_CASELESS,
				      &err, &off, NULL);
		ck_assert_ptr_nonnull(re[i]);
		(void)pcre2_jit_compile(re[i], PCRE2_JIT_COMPLETE);
		md[i] = pcre2_match_data_create(8, NULL);
	}
	for (int n = 0; n < 300000; n++) {
		char value[256];
		size_t len = 0, count = 1 + rand_r(&seed) % 16;
		int rc[2];

		for (size_t i = 0; i < count; i++) {
			const char *piece = pieces[rand_r(&seed) % N_ELEMENTS(pieces)];

			memcpy(value + len, piece, strlen(piece));
			len += strlen(piece);
		}
		value[len] = '\0';
		for (size_t i = 0; i < 2; i++)
			rc[i] = pcre2_match(re[i], (PCRE2_SPTR)value, len, 0, 0, md[i], NULL);
		if (rc[0] < 0 && rc[0] != PCRE2_ERROR_NOMATCH)
			continue;
		compared++;
		ck_assert_msg(rc[0] == rc[1], "\"%s\": %d, not %d", value, rc[1], rc[0]);
		for (int g = 0; g < 2 * rc[0]; g++)
			ck_assert_msg(pcre2_get_ovector_pointer(md[0])[g] ==
				      pcre2_get_ovector_pointer(md[1])[g],
				      "\"%s\": offset %d", value, g);
	}
	ck_assert_uint_gt(compared, 290000);
	for (size_t i = 0; i < 2; i++) {
		pcre2_code_free(re[i]);
		pcre2_match_data_free(md[i]);
	}
}
END_TEST

static bool
address_fields_job(const void *arg)
{
	const char *const *fields = arg;

	for (int i = 0; i < 30; i++)
		for (size_t f = 0; fields[f] != NULL; f++) {
			struct hdr_addr *a;
			size_t n = hdr_parse_addresses(fields[f], strlen(fields[f]), &a);

			hdr_addrs_free(a, n);
		}
	return true;
}

/* Address fields of the shapes Util.pm's pattern backtracked on, 30
 * times each: an unclosed "<" of 8 kB and a "<x...x>" followed by junk
 * (every end given back to both of the address's runs, quadratic), and
 * rows of "<a>", of "" and of "<\"a>" (2^n ways to fail, each field
 * 10^7 steps before PCRE2's limit ended it). */
START_TEST(address_fields_linear)
{
	char *f[6];
	size_t len;

	f[0] = repeated("<", 8000, "", &len);
	f[1] = repeated("x", 8000, "> y", &len);
	f[1][0] = '<';
	f[2] = repeated("<a>", 40, " y", &len);
	f[3] = repeated("\"", 61, "", &len);
	f[4] = repeated("<\"a>", 40, " y", &len);
	f[5] = NULL;
	ut_run_cpu_within(2, address_fields_job, f);
	for (size_t i = 0; f[i] != NULL; i++)
		free(f[i]);
}
END_TEST

/* What the step bound on the address pattern gives, with the JIT and
 * without: a real field far longer than any sent (300 quoted names, each
 * with an address and a comment) parses whole under it; a run of 40
 * "<\"a>", which needs more than 10^8 steps, yields no address, and the
 * addresses around it are still found. */
START_TEST(address_limit_outcomes)
{
	struct buf b;
	struct hdr_addr *a;
	size_t n, len;
	char *f;

	buf_init(&b, 0);
	for (int i = 0; i < 300; i++)
		ck_assert_int_eq(buf_printf(&b, "%s\"Name %d, Jr.\" <user%d@example.com> (c %d)",
					    i > 0 ? ", " : "", i, i, i), 0);
	n = hdr_parse_addresses(b.data, b.len, &a);
	ck_assert_uint_eq(n, 300);
	ck_assert_str_eq(a[299].address, "user299@example.com");
	ck_assert(strncmp(a[299].phrase, "Name 299, Jr.", 13) == 0);
	hdr_addrs_free(a, n);
	buf_free(&b);

	buf_init(&b, 0);
	buf_put_str(&b, "ann@example.com, ");
	f = repeated("<\"a>", 40, " y, bob@example.com", &len);
	buf_put(&b, f, len);
	free(f);
	/* the pattern gives up on the run of "<\"a>", which yields no
	 * address, and goes on after the next comma */
	n = hdr_parse_addresses(b.data, b.len, &a);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(a[0].address, "ann@example.com");
	ck_assert_ptr_null(a[1].address);
	ck_assert_str_eq(a[2].address, "bob@example.com");
	hdr_addrs_free(a, n);
	buf_free(&b);
}
END_TEST

/* The charset and boundary parameters, 1000 times over an 8 kB value
 * built against each: a thousand "charset=a" before a line break (each
 * start's lazy value ran to the break), and one run of "boundary="
 * ended by a quote (each start's run was given back a byte at a time).
 * Quadratic in the value under PCRE2's interpreter, which runs when the
 * JIT can not (no executable memory, as under systemd's
 * MemoryDenyWriteExecute=yes). */
START_TEST(content_type_charset_boundary_linear)
{
	struct ct_param_case c = { NULL, "last", "last", NULL };
	struct buf b;
	size_t len;

	buf_init(&b, 0);
	buf_put_str(&b, "multipart/mixed; x");
	for (int i = 0; i < 450; i++)
		buf_put_str(&b, " charset=a");
	buf_put_str(&b, " x=");
	for (int i = 0; i < 400; i++)
		buf_put_str(&b, "boundary=");
	buf_put_str(&b, "x\"\n boundary=last; charset=last;");
	c.ct = buf_steal(&b, &len);
	ut_run_cpu_within(2, ct_param_job, &c);
	free((char *)c.ct);
}
END_TEST

static bool
commas_job(const void *arg)
{
	const char *msg = arg;
	struct msgview *mv = msgview_new(&set, msg, strlen(msg), NULL);
	struct buf b;
	bool ok;

	buf_init(&b, 0);
	ok = !msgview_get(mv, "To:addr", &b) && !msgview_get(mv, "ToCc:addr", &b);
	buf_free(&b);
	msgview_free(&mv);
	return ok;
}

/* An address field of n commas is n empty elements, and each took a
 * copy of the whole field as its phrase, which :addr never reads: 24
 * fields of 8000 commas copied 1.5 GB for each request (7 s). */
START_TEST(comma_fields_linear)
{
	struct buf b;
	size_t len;
	char *msg;

	buf_init(&b, 0);
	for (int i = 0; i < 24; i++) {
		buf_put_str(&b, "To: ");
		for (int k = 0; k < 8000; k++)
			buf_put(&b, ",", 1);
		buf_put_str(&b, "\n");
	}
	buf_put_str(&b, "From: a@example.com\nSubject: s\n\nbody\n");
	msg = buf_steal(&b, &len);
	ut_run_cpu_within(3, commas_job, msg);
	free(msg);
}
END_TEST

/* Encoded words cycling through more charsets than the 32 iconv
 * descriptors once cached opened and closed one for each word (8 s for
 * 1 MB of Subject fields): decoding the fields again opens none. */
START_TEST(charset_descriptors_reused)
{
	static const char *const cs[] = {
		"iso-8859-1", "iso-8859-2", "iso-8859-3", "iso-8859-4", "iso-8859-5",
		"iso-8859-6", "iso-8859-7", "iso-8859-8", "iso-8859-9", "iso-8859-10",
		"iso-8859-13", "iso-8859-14", "iso-8859-15", "iso-8859-16", "windows-1250",
		"windows-1251", "windows-1252", "windows-1253", "windows-1254", "windows-1255",
		"windows-1256", "windows-1257", "windows-1258", "koi8-r", "koi8-u", "ibm437",
		"ibm850", "ibm852", "ibm855", "ibm857", "ibm860", "ibm861", "ibm862", "ibm863",
		"ibm865", "ibm866", "ibm869", "cp1125",
	};
	struct buf b, out;
	size_t len, opens;
	char *msg;

	buf_init(&b, 0);
	buf_put_str(&b, "From: a@example.com\nSubject: ");
	for (size_t i = 0; i < N_ELEMENTS(cs); i++)
		buf_putf(&b, "=?%s?Q?a=E9?= ", cs[i]);
	buf_put_str(&b, "\n\nbody\n");
	msg = buf_steal(&b, &len);
	buf_init(&out, 0);
	for (int round = 0; round < 2; round++) {
		struct msgview *mv = msgview_new(&set, msg, len, NULL);

		if (round == 1)
			opens = mime_charset_opens();
		out.len = 0;
		ck_assert(msgview_get(mv, "Subject", &out));
		ck_assert(out.len > 3 && memcmp(out.data, "a\xc3\xa9", 3) == 0);
		msgview_free(&mv);
	}
	ck_assert_uint_eq(mime_charset_opens(), opens);
	buf_free(&out);
	free(msg);
}
END_TEST

/* Inbound X-Spam-* fields are cut out of the whole header section: past
 * MESSAGE_HEADERS_MAX fields and past a line that is no field, both of
 * which mail readers still show as header, while the body keeps its
 * X-Spam-* lines. */
START_TEST(inbound_spam_fields_removed)
{
	struct buf in;
	char *copy;
	size_t len;
	const char *out, *tail;

	buf_init(&in, 0);
	buf_put_str(&in, "From: a@example.com\nX-Spam-Status: Yes,\n\tscore=99\n");
	for (int i = 0; i < 10050; i++)
		buf_putf(&in, "X-H%d: v\n", i);
	buf_put_str(&in, "X-Spam-Flag: YES\nSubject: s\nnot a field\n"
		    "x-spam-score : 9\r\n folded\r\nX-Spam-: kept\n\n"
		    "X-Spam-Flag: body\n");
	out = scoring_clean(in.data, in.len, &copy, &len);
	ck_assert_ptr_nonnull(copy);
	ck_assert_ptr_null(memmem(out, len, "X-Spam-Status", 13));
	ck_assert_ptr_null(memmem(out, len, "X-Spam-Flag: YES", 16));
	ck_assert_ptr_null(memmem(out, len, "x-spam-score", 12));
	ck_assert_ptr_null(memmem(out, len, "folded", 6));
	tail = "X-H10049: v\nSubject: s\nnot a field\nX-Spam-: kept\n\nX-Spam-Flag: body\n";
	ck_assert_ptr_nonnull(memmem(out, len, tail, strlen(tail)));
	ck_assert_uint_eq(len, in.len - strlen("X-Spam-Status: Yes,\n\tscore=99\n") -
			  strlen("X-Spam-Flag: YES\n") -
			  strlen("x-spam-score : 9\r\n folded\r\n"));
	free(copy);
	/* The header section ends at its empty line, as Dovecot reads it,
	 * not at SpamAssassin's "--" line or fourth line that is no field */
	out = scoring_clean("A: b\n--b\nX-Spam-Flag: YES\n\nbody\n", 32, &copy, &len);
	ck_assert_ptr_nonnull(copy);
	ck_assert_uint_eq(len, 15);
	ck_assert(memcmp(out, "A: b\n--b\n\nbody\n", 15) == 0);
	free(copy);
	out = scoring_clean("A: b\n1\n2\n3\nX-Spam-A: 1\n4\nX-Spam-B: 1\n", 37, &copy, &len);
	ck_assert_ptr_nonnull(copy);
	ck_assert_uint_eq(len, 13);
	ck_assert(memcmp(out, "A: b\n1\n2\n3\n4\n", 13) == 0);
	free(copy);
	/* none: the input itself */
	out = scoring_clean("A: b\n\nX-Spam-Flag: YES\n", 23, &copy, &len);
	ck_assert_ptr_null(copy);
	ck_assert_uint_eq(len, 23);
	buf_free(&in);
}
END_TEST

/* The one mbox boundary rule, for the whole-buffer reader and the
 * streaming one alike: a "From " line after an empty line. */
START_TEST(mbox_boundary)
{
	static const char lf[] = "X: 1\n\nbody\n\nFrom b@c Mon\nY: 2\n";
	static const char crlf[] = "X: 1\r\n\r\nbody\r\n\r\nFrom b@c Mon\r\n";
	static const char para[] = "X: 1\n\nbody\nFrom here on\nmore\n";
	static const char empty_first[] = "\nFrom b@c Mon\n";
	static const char split[] = "x\n\nFrom b@c Mon\n";

	ck_assert_ptr_eq(scoring_mbox_boundary(lf, lf, lf + strlen(lf)), strstr(lf, "From b"));
	ck_assert_ptr_eq(scoring_mbox_boundary(crlf, crlf, crlf + strlen(crlf)),
			 strstr(crlf, "From b"));
	/* an unescaped "From " inside a paragraph stays in its message */
	ck_assert_ptr_null(scoring_mbox_boundary(para, para, para + strlen(para)));
	/* a message whose first line is empty */
	ck_assert_ptr_eq(scoring_mbox_boundary(empty_first, empty_first,
					       empty_first + strlen(empty_first)),
			 empty_first + 1);
	/* the separator must end before end */
	ck_assert_ptr_null(scoring_mbox_boundary(lf, lf, strstr(lf, "From b") + 4));
	/* bytes before from are context: the empty line is seen, but a
	 * newline before from is not looked at again */
	ck_assert_ptr_eq(scoring_mbox_boundary(split, split + 2, split + strlen(split)),
			 split + 3);
	ck_assert_ptr_null(scoring_mbox_boundary(split, split + 3, split + strlen(split)));
}
END_TEST

/* scoring_mbox_count counts what scoring_mbox_next gives, without
 * copying the messages it has to unquote. */
START_TEST(mbox_count)
{
	static const char *const inputs[] = {
		"",
		"X: 1\n\nnot an mbox\n",
		"From a\nX: 1\n\nbody\n",
		"From a\nX: 1\n\n>From quoted\n\nFrom b\nY: 2\n\nmore\nFrom inside\n\n",
		"From a\r\nX: 1\r\n\r\nFrom b\r\n\r\nFrom c\r\n",
		"From a\n\nFrom b\n\nFrom c\n\n>>From x\n",
		"From no newline at all",
	};

	for (size_t i = 0; i < N_ELEMENTS(inputs); i++) {
		struct scoring_mbox mb;
		const char *msg;
		size_t len;
		unsigned int n = 0;

		scoring_mbox_init(&mb, inputs[i], strlen(inputs[i]));
		while (scoring_mbox_next(&mb, &msg, &len))
			n++;
		scoring_mbox_free(&mb);
		ck_assert_uint_eq(scoring_mbox_count(inputs[i], strlen(inputs[i])), n);
	}
	ck_assert_uint_eq(scoring_mbox_count(inputs[3], strlen(inputs[3])), 2);
	ck_assert_uint_eq(scoring_mbox_count(inputs[5], strlen(inputs[5])), 3);
}
END_TEST

static Suite *
msgview_suite(void)
{
	Suite *s = suite_create("msgview");
	TCase *t;

	t = tcase_create("decoding");
	tcase_add_checked_fixture(t, settings_setup, settings_teardown);
	tcase_add_test(t, qp_latin1_body);
	tcase_add_test(t, rfc2047_headers);
	tcase_add_test(t, body_white_space);
	tcase_add_test(t, crlf_header_values);
	tcase_add_test(t, many_requests);
	tcase_add_loop_test(t, decode_field, 0, N_ELEMENTS(decode_cases));
	tcase_add_loop_test(t, normalize, 0, N_ELEMENTS(norm_cases));
	tcase_add_loop_test(t, base64, 0, N_ELEMENTS(b64_cases));
	tcase_add_test(t, qp);
	tcase_add_test(t, qp_like_reference);
	suite_add_tcase(s, t);

	t = tcase_create("rendering");
	tcase_add_checked_fixture(t, settings_setup, settings_teardown);
	tcase_add_test(t, html_render_body);
	tcase_add_test(t, html_uris);
	tcase_add_loop_test(t, bayes_text_views, 0, N_ELEMENTS(text_cases));
	tcase_add_test(t, html_stats);
	tcase_add_loop_test(t, html_tokenizer, 0, N_ELEMENTS(html_cases));
	tcase_add_loop_test(t, html_attr_rules, 0, N_ELEMENTS(attr_cases));
	tcase_add_test(t, long_lines_split);
	tcase_add_test(t, scan_size);
	suite_add_tcase(s, t);

	t = tcase_create("get");
	tcase_add_checked_fixture(t, settings_setup, settings_teardown);
	tcase_add_test(t, get_forms);
	tcase_add_test(t, get_first_last_all);
	tcase_add_test(t, get_all_raw_pristine);
	tcase_add_test(t, get_text_in_place);
	tcase_add_test(t, envelope_from_param);
	tcase_add_loop_test(t, addresses, 0, N_ELEMENTS(addr_cases));
	tcase_add_test(t, addresses_input_names_bounded);
	tcase_add_test(t, addresses_per_request_bounded);
	tcase_add_test(t, hosts_and_domains);
	tcase_add_test(t, mimeheader_parts);
	tcase_add_loop_test(t, content_type_name, 0, N_ELEMENTS(ct_name_cases));
	suite_add_tcase(s, t);

	t = tcase_create("malformed");
	tcase_add_checked_fixture(t, settings_setup, settings_teardown);
	tcase_add_test(t, missing_boundary);
	tcase_add_test(t, broken_base64_part);
	tcase_add_test(t, deep_nesting);
	tcase_add_test(t, deep_rfc822);
	tcase_add_test(t, many_parts);
	tcase_add_test(t, inbound_spam_fields_removed);
	tcase_add_test(t, line_index_bounded);
	tcase_add_test(t, nested_parts_bounded);
	tcase_add_test(t, header_count_bounded);
	tcase_add_test(t, header_count_bounded_over_parts);
	tcase_add_test(t, nested_rfc822_bounded);
	tcase_add_test(t, html_text_events_bounded);
	tcase_add_test(t, decoded_text_shared);
	tcase_add_test(t, nested_mixed_views_bounded);
	tcase_add_test(t, nested_in_place_same);
	tcase_add_test(t, pristine_fields_bounded);
	tcase_add_test(t, pristine_text_in_place_bounded);
	tcase_add_test(t, header_lines_not_indexed_bounded);
	tcase_add_test(t, pristine_fields_one_text_bounded);
	tcase_add_loop_test(t, odd_messages, 0, N_ELEMENTS(odd_cases));
	suite_add_tcase(s, t);

	t = tcase_create("complexity");
	tcase_add_checked_fixture(t, settings_setup, settings_teardown);
	tcase_add_test(t, marked_sections_linear);
	tcase_add_test(t, attributes_linear);
	tcase_add_test(t, slash_href_linear);
	tcase_add_test(t, content_type_params_as_regex);
	tcase_add_test(t, string_hash_keyed);
	tcase_add_test(t, address_pattern_as_util);
	tcase_add_test(t, address_limit_outcomes);
	tcase_add_test(t, comma_fields_linear);
	tcase_add_test(t, charset_descriptors_reused);
	suite_add_tcase(s, t);

	t = tcase_create("complexity without JIT");
	tcase_add_checked_fixture(t, settings_setup_no_jit, settings_teardown);
	tcase_add_test(t, content_type_name_linear);
	tcase_add_test(t, content_type_charset_boundary_linear);
	tcase_add_test(t, address_fields_linear);
	tcase_add_test(t, address_limit_outcomes);
	suite_add_tcase(s, t);

	t = tcase_create("mbox");
	tcase_add_test(t, mbox_boundary);
	tcase_add_test(t, mbox_count);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	return ut_run(msgview_suite);
}
