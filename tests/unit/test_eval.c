/* Unit tests for the eval functions (eval_header.c, eval_mime.c,
 * eval_html.c): each
 * through a real rule line and a hand-built message, hit and miss, with
 * the expected answers worked out from SpamAssassin's Perl
 * (Plugin/HeaderEval.pm, Plugin/RelayEval.pm, Plugin/MIMEEval.pm,
 * Plugin/HTMLEval.pm with HTML.pm). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_compat.h"
#include "msgview.h"
#include "rules.h"

static const char rules_cf[] =
	"header MISSING_TO eval:check_for_missing_to_header()\n"
	"header ENV_FROM_MATCH eval:check_for_matching_env_and_hdr_from()\n"
	"header ALL_CAPS eval:subject_is_all_caps()\n"
	"header ALL_TRUSTED_T eval:check_all_trusted()\n"
	"header NO_RELAYS_T eval:check_no_relays()\n"
	"header UNPARSEABLE_T eval:check_relays_unparseable()\n"
	"header DIFF_DOMAINS eval:check_equal_from_domains()\n"
	"trusted_networks 10.0.0.0/8\n";

struct eval_case {
	const char *name;
	const char *envelope_from;
	const char *message;
	const char *hits;	/* the rules above that must hit, space separated */
};

#define RCVD_TRUSTED \
	"Received: from relay.example.net (relay.example.net [10.1.2.3])\n" \
	"\tby mx.example.com (Postfix) with ESMTP id AAA1\n" \
	"\tfor <a@example.com>; Sun, 22 Nov 2026 10:00:00 +0000\n"
#define RCVD_UNTRUSTED \
	"Received: from mail.example.org (mail.example.org [81.2.69.160])\n" \
	"\tby relay.example.net (Postfix) with ESMTP id BBB2\n" \
	"\tfor <a@example.com>; Sun, 22 Nov 2026 09:59:59 +0000\n"

static const struct eval_case cases[] = {
	/* check_for_missing_to_header: To, else Apparently-To */
	{ "to present", NULL, "To: a@example.com\nSubject: hello there\n\nx\n",
	  "ENV_FROM_MATCH NO_RELAYS_T" },
	{ "no to", NULL, "Subject: hello there\n\nx\n", "ENV_FROM_MATCH MISSING_TO NO_RELAYS_T" },
	/* SpamAssassin's get('To') of an empty field is "\n", not "". */
	{ "empty to", NULL, "To:\nSubject: hello there\n\nx\n", "ENV_FROM_MATCH NO_RELAYS_T" },
	{ "apparently-to", NULL, "Apparently-To: a@example.com\n\nx\n", "ENV_FROM_MATCH NO_RELAYS_T" },
	/* check_for_matching_env_and_hdr_from: case-insensitive; no envelope
	 * sender and no From: is a match too, so most cases here hit it. */
	{ "env matches from", "Bob@Example.ORG",
	  "From: Bob <bob@example.org>\nTo: a@example.com\n\nx\n", "ENV_FROM_MATCH NO_RELAYS_T" },
	{ "env differs", "bounce@lists.example.org",
	  "From: Bob <bob@example.org>\nTo: a@example.com\n\nx\n", "NO_RELAYS_T" },
	/* check_equal_from_domains: the last two labels of each domain */
	{ "other domain", "x@Mail.Other.NET",
	  "From: Bob <bob@example.org>\nTo: a@example.com\n\nx\n", "DIFF_DOMAINS NO_RELAYS_T" },
	{ "same second-level domain", "bounce@lists.EXAMPLE.org",
	  "From: Bob <bob@mx.example.org>\nTo: a@example.com\n\nx\n", "NO_RELAYS_T" },
	{ "both empty", NULL, "To: a@example.com\n\nx\n", "ENV_FROM_MATCH NO_RELAYS_T" },
	/* subject_is_all_caps */
	{ "caps subject", NULL, "To: a@example.com\nSubject: MAKE MONEY FAST NOW\n\nx\n",
	  "ENV_FROM_MATCH ALL_CAPS NO_RELAYS_T" },
	{ "caps with digits and reply prefix", NULL,
	  "To: a@example.com\nSubject: Re: FWD: WIN 1000 DOLLARS!!\n\nx\n", "ENV_FROM_MATCH ALL_CAPS NO_RELAYS_T" },
	{ "one word", NULL, "To: a@example.com\nSubject: URGENTURGENTURGENT\n\nx\n", "ENV_FROM_MATCH NO_RELAYS_T" },
	{ "short", NULL, "To: a@example.com\nSubject: BUY NOW\n\nx\n", "ENV_FROM_MATCH NO_RELAYS_T" },
	{ "short after prefix", NULL, "To: a@example.com\nSubject: Re: Re: BUY IT\n\nx\n",
	  "ENV_FROM_MATCH NO_RELAYS_T" },
	{ "mixed case", NULL, "To: a@example.com\nSubject: MAKE MONEY Fast NOW\n\nx\n",
	  "ENV_FROM_MATCH NO_RELAYS_T" },
	{ "no letters", NULL, "To: a@example.com\nSubject: 1234 5678 9012\n\nx\n", "ENV_FROM_MATCH NO_RELAYS_T" },
	{ "koi8 encoded", NULL,
	  "To: a@example.com\nSubject: =?koi8-r?Q?ABCDEF_GHIJKL?=\n\nx\n", "ENV_FROM_MATCH NO_RELAYS_T" },
	{ "utf-8 encoded caps", NULL,
	  "To: a@example.com\nSubject: =?utf-8?Q?ABCDEF_GHIJKL?=\n\nx\n", "ENV_FROM_MATCH ALL_CAPS NO_RELAYS_T" },
	/* RelayEval: trusted 10/8 only */
	{ "all trusted", NULL, RCVD_TRUSTED "To: a@example.com\n\nx\n", "ENV_FROM_MATCH ALL_TRUSTED_T" },
	/* A line SpamAssassin skips without counting it (no "from"). */
	{ "skipped line", NULL,
	  RCVD_TRUSTED "Received: this is not a received header at all\n"
	  "To: a@example.com\n\nx\n", "ENV_FROM_MATCH ALL_TRUSTED_T" },
	{ "one untrusted", NULL, RCVD_TRUSTED RCVD_UNTRUSTED "To: a@example.com\n\nx\n", "ENV_FROM_MATCH" },
	{ "unparseable", NULL,
	  RCVD_TRUSTED "Received: from weird stuff here by mx.example.net; "
	  "Sun, 22 Nov 2026 09:00:00 +0000\n"
	  "To: a@example.com\n\nx\n", "ENV_FROM_MATCH UNPARSEABLE_T" },
};

static bool
listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

/* Loads rules_text, matches message, and checks that exactly the rules
 * named in hits (space separated) out of names[] hit. */
static void
check_hits(const char *rules_text, const char *const *names, size_t n_names,
	   const struct eval_case *c)
{
	char dir[4096], path[4200];
	const char *dirs[1];
	struct rules_load_result res;
	struct ruleset *rs;
	struct rules_scratch *scratch;
	struct msgview *mv;
	struct rules_hits hits;

	snprintf(dir, sizeof(dir), "%s", ut_testdir());
	ut_pathf(path, sizeof(path), "%s/50_eval.cf", dir);
	ut_write_text(path, rules_text);
	dirs[0] = dir;
	rs = rules_load(dirs, 1, &res);
	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(res.errors, 0);
	scratch = rules_scratch_new(rs);
	mv = msgview_new(rules_settings(rs), c->message, strlen(c->message), c->envelope_from);
	rules_match(rs, scratch, mv, 0, &hits);
	for (size_t i = 0; i < n_names; i++) {
		long k = rules_find(rs, names[i]);

		ck_assert_msg(k >= 0, "%s not defined", names[i]);
		ck_assert_msg((hits.hits[k] > 0) == listed(c->hits, names[i]),
			      "%s: %s %s", c->name, names[i], hits.hits[k] > 0 ? "hit" : "missed");
	}
	rules_hits_free(&hits);
	msgview_free(&mv);
	rules_scratch_free(&scratch);
	rules_load_result_free(&res);
	rules_free(&rs);
}

START_TEST(eval_header_table)
{
	static const char *const names[] = {
		"MISSING_TO", "ENV_FROM_MATCH", "ALL_CAPS", "ALL_TRUSTED_T", "NO_RELAYS_T",
		"UNPARSEABLE_T", "DIFF_DOMAINS",
	};

	check_hits(rules_cf, names, N_ELEMENTS(names), &cases[_i]);
}
END_TEST

static const char mime_cf[] =
	"rawbody B64 eval:check_for_mime('mime_base64_count')\n"
	"rawbody QP eval:check_for_mime('mime_qp_count')\n"
	"rawbody QP_LONG eval:check_for_mime('mime_qp_long_line')\n"
	"rawbody B64_TEXT eval:check_for_mime('mime_base64_encoded_text')\n"
	"rawbody BAD_ISO eval:check_for_mime('mime_bad_iso_charset')\n"
	"rawbody ATTACH eval:check_for_mime('mime_attachment')\n"
	"rawbody FARAWAY eval:check_for_mime('mime_faraway_charset')\n"
	"body HTML eval:check_for_mime_html()\n"
	"body HTML_ONLY eval:check_for_mime_html_only()\n";

#define MP_HEAD(sub) "From: a@example.org\nTo: b@example.com\nMIME-Version: 1.0\n" \
	"Content-Type: multipart/" sub "; boundary=\"XX\"\n\n"

static const struct eval_case mime_cases[] = {
	{ "plain text", NULL, "From: a@example.org\nTo: b@example.com\n\nhello\n", "" },
	{ "html only, top level", NULL,
	  "From: a@example.org\nContent-Type: text/HTML; charset=utf-8\n\n<p>hi</p>\n",
	  "HTML HTML_ONLY" },
	{ "alternative text and html", NULL,
	  MP_HEAD("alternative") "--XX\nContent-Type: text/plain\n\nhi\n"
	  "--XX\nContent-Type: text/html\n\n<p>hi</p>\n--XX--\n", "HTML" },
	/* A text part in base64 with no charset (or an ASCII one), not
	 * marked inline or attachment: MIME_BASE64_TEXT. */
	{ "base64 text", NULL,
	  MP_HEAD("mixed") "--XX\nContent-Type: text/plain; charset=US-ASCII\n"
	  "Content-Transfer-Encoding: base64\n\naGVsbG8K\n--XX--\n", "B64 B64_TEXT" },
	{ "base64 text inline", NULL,
	  MP_HEAD("mixed") "--XX\nContent-Type: text/plain\nContent-Disposition: inline\n"
	  "Content-Transfer-Encoding: base64\n\naGVsbG8K\n--XX--\n", "B64" },
	{ "base64 attachment", NULL,
	  MP_HEAD("mixed") "--XX\nContent-Type: text/plain\n\nhi\n"
	  "--XX\nContent-Type: application/pdf; name=a.pdf\n"
	  "Content-Disposition: attachment; filename=a.pdf\n"
	  "Content-Transfer-Encoding: base64\n\nJVBERi0K\n--XX--\n", "B64 ATTACH" },
	/* QP: every part that declares it, whatever its lines (SpamAssassin
	 * never gets to its per-line analysis, see eval_mime.c), so no long
	 * line is ever reported either. */
	{ "qp", NULL,
	  "From: a@example.org\nContent-Type: text/plain\n"
	  "Content-Transfer-Encoding: quoted-printable\n\nabc=\nd=E9f\n", "QP" },
	{ "qp, long line", NULL,
	  "From: a@example.org\nContent-Type: text/plain\n"
	  "Content-Transfer-Encoding: quoted-printable\n\n"
	  "0123456789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789\n", "QP" },
	{ "qp in a later part", NULL,
	  MP_HEAD("mixed") "--XX\nContent-Type: text/plain\n\nx\n"
	  "--XX\nContent-Type: text/html\nContent-Transfer-Encoding: Quoted-Printable\n\n"
	  "<p>x</p>\n--XX--\n", "QP HTML" },
	{ "bad iso charset", NULL,
	  "From: a@example.org\nContent-Type: text/plain; charset=iso-10646-ucs-2\n\nx\n",
	  "BAD_ISO" },
	{ "good iso charsets", NULL,
	  MP_HEAD("mixed") "--XX\nContent-Type: text/plain; charset=ISO-8859-15\n\nx\n"
	  "--XX\nContent-Type: text/plain; charset=iso-2022-jp\n\nx\n--XX--\n", "" },
	/* ok_locales is "all": never faraway. */
	{ "faraway charset", NULL,
	  "From: a@example.org\nContent-Type: text/plain; charset=koi8-r\n\nx\n", "" },
};

START_TEST(eval_mime_table)
{
	static const char *const names[] = {
		"B64", "QP", "QP_LONG", "B64_TEXT", "BAD_ISO", "ATTACH", "FARAWAY", "HTML",
		"HTML_ONLY",
	};

	check_hits(mime_cf, names, N_ELEMENTS(names), &mime_cases[_i]);
}
END_TEST

static const char html_cf[] =
	"body HTML_MSG eval:html_test('html')\n"
	"body LOW_CONTRAST eval:html_test('font_low_contrast')\n"
	"body MAILTO_FORM eval:html_test('form_action_mailto')\n"
	"body HAS_CENTER eval:html_tag_exists('center')\n"
	"body CENTER_OPEN eval:html_tag_balance('center', '!= 0')\n"
	"body BIG_FONT eval:html_range('max_size', '6', 'inf')\n"
	"body SHORT_HTML eval:html_range('length', '0', '1024')\n"
	"body SAVED_FROM eval:html_text_match('comment', '<!-- saved from url=\\(\\d{4}\\)')\n"
	"body LONG_TITLE eval:html_text_match('title', '.{40}')\n";

#define HTML_MSG(body) "From: a@example.org\nContent-Type: text/html\n\n" body

static const struct eval_case html_cases[] = {
	{ "plain text", NULL, "From: a@example.org\n\nhello\n", "" },
	{ "simple html", NULL, HTML_MSG("<html><body><p>hello there</p></body></html>\n"),
	  "HTML_MSG SHORT_HTML" },
	/* Light grey on white is below HTML.pm's contrast threshold. */
	{ "low contrast", NULL,
	  HTML_MSG("<html><body><font color=\"#fefefe\">hidden words here</font>"
		   "</body></html>\n"), "HTML_MSG LOW_CONTRAST SHORT_HTML" },
	{ "mailto form", NULL,
	  HTML_MSG("<html><body><form action=\"mailto:x@example.org\">hi</form>"
		   "</body></html>\n"), "HTML_MSG MAILTO_FORM SHORT_HTML" },
	{ "center left open, huge font", NULL,
	  HTML_MSG("<html><body><center><font size=7>BIG</font></body></html>\n"),
	  "HTML_MSG HAS_CENTER CENTER_OPEN BIG_FONT SHORT_HTML" },
	{ "center closed", NULL,
	  HTML_MSG("<html><body><center>x</center></body></html>\n"),
	  "HTML_MSG HAS_CENTER SHORT_HTML" },
	{ "saved from url, long title", NULL,
	  HTML_MSG("<!-- saved from url=(0022)http://example.com/ --><html><head><title>"
		   "A title that is certainly longer than forty characters</title>"
		   "</head><body>x</body></html>\n"),
	  "HTML_MSG SAVED_FROM LONG_TITLE SHORT_HTML" },
};

START_TEST(eval_html_table)
{
	static const char *const names[] = {
		"HTML_MSG", "LOW_CONTRAST", "MAILTO_FORM", "HAS_CENTER", "CENTER_OPEN",
		"BIG_FONT", "SHORT_HTML", "SAVED_FROM", "LONG_TITLE",
	};

	check_hits(html_cf, names, N_ELEMENTS(names), &html_cases[_i]);
}
END_TEST

static Suite *
eval_suite(void)
{
	Suite *s = suite_create("eval");
	TCase *tc = ut_tcase(s, "eval", true);

	tcase_add_loop_test(tc, eval_header_table, 0, N_ELEMENTS(cases));
	tcase_add_loop_test(tc, eval_mime_table, 0, N_ELEMENTS(mime_cases));
	tcase_add_loop_test(tc, eval_html_table, 0, N_ELEMENTS(html_cases));
	return s;
}

/* LMTPD_EVAL_CASES_DIR=DIR: write the rule lines and every case to DIR
 * instead of testing, for tests/tools/sa_eval_cases.py to run them
 * through SpamAssassin itself. */
static int
dump_table(const char *dir, const char *const *names, size_t n_names,
	   const struct eval_case *table, size_t n, unsigned int *serial)
{
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%03u.eml", dir, *serial);
		if ((f = fopen(path, "w")) == NULL)
			return 1;
		if (table[i].envelope_from != NULL)
			fprintf(f, "Return-Path: <%s>\n", table[i].envelope_from);
		fputs(table[i].message, f);
		if (fclose(f) != 0)
			return 1;
		snprintf(path, sizeof(path), "%s/%03u.exp", dir, (*serial)++);
		if ((f = fopen(path, "w")) == NULL)
			return 1;
		for (size_t k = 0; k < n_names; k++)
			fprintf(f, "%s%s", k > 0 ? " " : "", names[k]);
		fprintf(f, "|%s|%s", table[i].hits, table[i].name);
		if (fclose(f) != 0)
			return 1;
	}
	return 0;
}

static int
dump_cases(const char *dir)
{
	static const char *const header_names[] = {
		"MISSING_TO", "ENV_FROM_MATCH", "ALL_CAPS", "ALL_TRUSTED_T", "NO_RELAYS_T",
		"UNPARSEABLE_T", "DIFF_DOMAINS",
	};
	static const char *const mime_names[] = {
		"B64", "QP", "QP_LONG", "B64_TEXT", "BAD_ISO", "ATTACH", "FARAWAY", "HTML",
		"HTML_ONLY",
	};
	static const char *const html_names[] = {
		"HTML_MSG", "LOW_CONTRAST", "MAILTO_FORM", "HAS_CENTER", "CENTER_OPEN",
		"BIG_FONT", "SHORT_HTML", "SAVED_FROM", "LONG_TITLE",
	};
	unsigned int serial = 0;
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/rules.cf", dir);
	if ((f = fopen(path, "w")) == NULL)
		return 1;
	fprintf(f, "%s%s%s", rules_cf, mime_cf, html_cf);
	if (fclose(f) != 0)
		return 1;
	return dump_table(dir, header_names, N_ELEMENTS(header_names), cases,
			  N_ELEMENTS(cases), &serial) ||
		dump_table(dir, mime_names, N_ELEMENTS(mime_names), mime_cases,
			   N_ELEMENTS(mime_cases), &serial) ||
		dump_table(dir, html_names, N_ELEMENTS(html_names), html_cases,
			   N_ELEMENTS(html_cases), &serial);
}

int
main(void)
{
	const char *dump = getenv("LMTPD_EVAL_CASES_DIR");

	if (dump != NULL)
		return dump_cases(dump);
	return ut_run(eval_suite);
}
