/* Unit tests for the eval functions (eval_header.c, eval_mime.c,
 * eval_html.c, and eval.c's address lists): each
 * through a real rule line and a hand-built message, hit and miss, with
 * the expected answers worked out from SpamAssassin's Perl
 * (Plugin/HeaderEval.pm, Plugin/RelayEval.pm, Plugin/MIMEEval.pm,
 * Plugin/HTMLEval.pm with HTML.pm). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_compat.h"
#include "eval.h"
#include "eval_harness.h"
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
	"header COUNT_CT eval:check_header_count_range('Content-Type','2','999')\n"
	"header COUNT_SUBJ eval:check_header_count_range('subject','2','3')\n"
	"trusted_networks 10.0.0.0/8\n";

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

/* check_header_count_range: distinct decoded values of a field. */
static const char *const count_names[] = { "COUNT_CT", "COUNT_SUBJ" };

static const struct eval_case count_cases[] = {
	{ "one of each", NULL, "Subject: a\nContent-Type: text/plain\n\nx\n", "" },
	{ "two subjects", NULL, "Subject: a\nSubject: b\n\nx\n", "COUNT_SUBJ" },
	{ "same subject twice", NULL, "Subject: a\nSubject: a\n\nx\n", "" },
	{ "same once decoded", NULL, "Subject: =?utf-8?q?caf=C3=A9?=\nSubject: caf\xc3\xa9\n\nx\n",
	  "" },
	{ "four subjects", NULL, "Subject: a\nSubject: b\nSubject: c\nSubject: d\n\nx\n",
	  "" },
	{ "two content types", NULL,
	  "Content-Type: text/plain\ncontent-type: text/html\nSubject: x\n\nx\n", "COUNT_CT" },
	{ "none", NULL, "From: a@example.org\n\nx\n", "" },
};

static const char *const header_names[] = {
	"MISSING_TO", "ENV_FROM_MATCH", "ALL_CAPS", "ALL_TRUSTED_T", "NO_RELAYS_T",
	"UNPARSEABLE_T", "DIFF_DOMAINS",
};

START_TEST(eval_count_table)
{
	eh_check_hits(rules_cf, count_names, N_ELEMENTS(count_names), &count_cases[_i]);
}
END_TEST

START_TEST(eval_header_table)
{
	eh_check_hits(rules_cf, header_names, N_ELEMENTS(header_names), &cases[_i]);
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
	/* QP: the parts that declare it count until a QP line is seen; then
	 * mime_qp_count is the number of needlessly encoded characters
	 * (=20, =41, ...; not =3D, not trailing =20/=09), so a QP part with
	 * only necessary escapes does not hit. */
	{ "qp, needed escapes only", NULL,
	  "From: a@example.org\nContent-Type: text/plain\n"
	  "Content-Transfer-Encoding: quoted-printable\n\nabc=\nd=E9f\n", "" },
	{ "qp, needless escapes", NULL,
	  "From: a@example.org\nContent-Type: text/plain\n"
	  "Content-Transfer-Encoding: quoted-printable\n\na=20b=3Dc=41\n", "QP" },
	{ "qp, trailing space escapes", NULL,
	  "From: a@example.org\nContent-Type: text/plain\n"
	  "Content-Transfer-Encoding: quoted-printable\n\nabc=20=09=20\n", "" },
	{ "qp, long line", NULL,
	  "From: a@example.org\nContent-Type: text/plain\n"
	  "Content-Transfer-Encoding: quoted-printable\n\n"
	  "0123456789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789\n", "QP_LONG" },
	{ "qp, 78 characters", NULL,
	  "From: a@example.org\nContent-Type: text/plain\n"
	  "Content-Transfer-Encoding: quoted-printable\n\n"
	  "0123456789012345678901234567890123456789012345678901234567890123456789"
	  "01234567\n", "" },
	/* A multipart container declaring QP counts; it has no lines. */
	{ "qp on the container", NULL,
	  "From: a@example.org\nMIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"XX\"\n"
	  "Content-Transfer-Encoding: quoted-printable\n\n"
	  "--XX\nContent-Type: text/plain\n\nx\n--XX--\n", "QP" },
	{ "qp in a later part", NULL,
	  MP_HEAD("mixed") "--XX\nContent-Type: text/plain\n\nx\n"
	  "--XX\nContent-Type: text/html\nContent-Transfer-Encoding: Quoted-Printable\n\n"
	  "<p>x=3D=20y</p>\n--XX--\n", "QP HTML" },
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

static const char *const mime_names[] = {
	"B64", "QP", "QP_LONG", "B64_TEXT", "BAD_ISO", "ATTACH", "FARAWAY", "HTML",
	"HTML_ONLY",
};

START_TEST(eval_mime_table)
{
	eh_check_hits(mime_cf, mime_names, N_ELEMENTS(mime_names), &mime_cases[_i]);
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

static const char *const html_names[] = {
	"HTML_MSG", "LOW_CONTRAST", "MAILTO_FORM", "HAS_CENTER", "CENTER_OPEN",
	"BIG_FONT", "SHORT_HTML", "SAVED_FROM", "LONG_TITLE",
};

START_TEST(eval_html_table)
{
	eh_check_hits(html_cf, html_names, N_ELEMENTS(html_names), &html_cases[_i]);
}
END_TEST

/* The rest of MIMEEval, BodyEval's multipart_alternative_difference and
 * HeaderEval's check_for_faraway_charset_in_headers (eval_mime.c). */
static const char mime2_cf[] =
	"body MPART_RATIO eval:check_mime_multipart_ratio('0.00','0.01')\n"
	"header HB_SEP eval:check_msg_parse_flags('missing_head_body_separator')\n"
	"body MIME_HB_SEP eval:check_msg_parse_flags('missing_mime_head_body_separator')\n"
	"body MIME_EPI eval:check_msg_parse_flags('mime_epilogue_exists')\n"
	"body MIME_NO_HDRS eval:check_msg_parse_flags('missing_mime_headers')\n"
	"body ASCII_ILLEGAL eval:check_for_ascii_text_illegal()\n"
	"body UNICODE02 eval:check_abundant_unicode_ratio(0.02)\n"
	"body QP_RATIO eval:check_qp_ratio('0.1')\n"
	"body B64_78_79 eval:check_base64_length('78','79')\n"
	"body B64_79 eval:check_base64_length('79')\n"
	"body MA_NON_TEXT eval:check_ma_non_text()\n"
	"body CS_FARAWAY eval:check_for_faraway_charset()\n"
	"header CS_FARAWAY_HDR eval:check_for_faraway_charset_in_headers()\n"
	"body MADIFF eval:multipart_alternative_difference('99', '100')\n"
	"body MADIFF_MID eval:multipart_alternative_difference('20', '60')\n"
	"body MADIFF_COUNT eval:multipart_alternative_difference_count('3', '1')\n"
	"body MA_FLAG eval:check_for_mime('mime_multipart_alternative')\n"
	"body ILLEGAL_FIELD eval:check_for_mime('mime_ascii_text_illegal')\n";

#define MA(text, html) MP_HEAD("alternative") \
	"--XX\nContent-Type: text/plain\n\n" text "\n" \
	"--XX\nContent-Type: text/html\n\n" html "\n--XX--\n"
#define B64_PART(line) MP_HEAD("mixed") "--XX\nContent-Type: text/plain\n\nhi\n" \
	"--XX\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" \
	line "\nQUJD\n--XX--\n"
#define B64_60 "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJz"

static const struct eval_case mime2_cases[] = {
	{ "plain ascii", NULL, "From: a@example.org\nSubject: hi\n\nhello\n", "" },
	/* check_for_ascii_text_illegal: 8-bit bytes in text/plain without a
	 * charset or with us-ascii; fine with a declared 8-bit charset. */
	{ "8bit text, no charset", NULL,
	  "From: a@example.org\nContent-Type: text/plain\n\ncaf\xe9 au lait\n",
	  "ASCII_ILLEGAL ILLEGAL_FIELD" },
	{ "8bit text, us-ascii", NULL,
	  "From: a@example.org\nContent-Type: text/plain; charset=US-ASCII\n\ncaf\xc3\xa9\n",
	  "ASCII_ILLEGAL ILLEGAL_FIELD" },
	/* CRLF line ends: the parser drops the CRs, so no illegal CR */
	{ "crlf text", NULL,
	  "From: a@example.org\r\nContent-Type: text/plain\r\n\r\nhello\r\nthere\r\n", "" },
	{ "8bit text, latin-1", NULL,
	  "From: a@example.org\nContent-Type: text/plain; charset=iso-8859-1\n\ncaf\xe9\n", "" },
	/* check_abundant_unicode_ratio: &#xHHHH; escapes (upper-case hex)
	 * per byte of the rest of the 7bit/8bit text/plain. */
	{ "unicode escapes", NULL,
	  "From: a@example.org\nContent-Type: text/plain\n\n"
	  "&#x0416;&#x0416;&#x0416; some text\n", "UNICODE02" },
	{ "lower-case unicode escapes", NULL,
	  "From: a@example.org\nContent-Type: text/plain\n\n"
	  "&#x04af;&#x04af;&#x04af; some text\n", "" },
	{ "unicode escapes in base64", NULL,
	  "From: a@example.org\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
	  "JiN4MDQxNjsmI3gwNDE2Ow==\n", "" },
	/* check_qp_ratio: needless escapes per QP byte */
	{ "qp ratio", NULL,
	  "From: a@example.org\nContent-Type: text/plain\n"
	  "Content-Transfer-Encoding: quoted-printable\n\n=41=42=43\n", "QP_RATIO" },
	/* check_base64_length: raw lines count their newline */
	{ "base64 76", NULL, B64_PART(B64_60 "QUJDREVGR0hJSktM"), "" },
	{ "base64 77", NULL, B64_PART(B64_60 "QUJDREVGR0hJSktMT"), "B64_78_79" },
	{ "base64 80", NULL, B64_PART(B64_60 "QUJDREVGR0hJSktMTU5P"), "B64_79" },
	{ "base64 80, application/ics", NULL,
	  MP_HEAD("mixed") "--XX\nContent-Type: text/plain\n\nhi\n"
	  "--XX\nContent-Type: application/ics\nContent-Transfer-Encoding: base64\n\n"
	  B64_60 "QUJDREVGR0hJSktMTU5P\n--XX--\n", "" },
	{ "base64 80, other encoding", NULL,
	  MP_HEAD("mixed") "--XX\nContent-Type: text/plain\n\nhi\n"
	  "--XX\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: x-base64\n\n"
	  B64_60 "QUJDREVGR0hJSktMTU5P\n--XX--\n", "" },
	/* check_ma_non_text: a leaf directly under multipart/alternative */
	{ "alternative with an image", NULL,
	  MP_HEAD("alternative") "--XX\nContent-Type: text/plain\n\nhi\n"
	  "--XX\nContent-Type: image/gif\nContent-Transfer-Encoding: base64\n\nR0lGODlh\n--XX--\n",
	  "MA_NON_TEXT MA_FLAG" },
	{ "alternative with rtf", NULL,
	  MP_HEAD("alternative") "--XX\nContent-Type: text/plain\n\nhi\n"
	  "--XX\nContent-Type: application/rtf\n\n{\\rtf1 hi}\n--XX--\n", "MA_FLAG" },
	{ "image below a related part", NULL,
	  MP_HEAD("alternative") "--XX\nContent-Type: text/plain\n\nhello there\n"
	  "--XX\nContent-Type: multipart/related; boundary=\"YY\"\n\n"
	  "--YY\nContent-Type: text/html\n\n<p>hello there</p>\n"
	  "--YY\nContent-Type: image/gif\n\nGIF89a\n--YY--\n--XX--\n", "MA_FLAG" },
	/* multipart_alternative_difference: HTML tokens missing from the
	 * text, in percent; _count: text tokens per HTML token. */
	{ "same words", NULL, MA("Hello world, how are you?", "<p>Hello world, how are you?</p>"),
	  "MA_FLAG" },
	{ "different words", NULL,
	  MA("Hello world, how are you?", "<p>Buy cheap watches now</p>"), "MADIFF MA_FLAG" },
	{ "half different", NULL,
	  MA("alpha beta gamma delta", "<p>alpha beta kappa lambda</p>"), "MADIFF_MID MA_FLAG" },
	{ "repeated html token", NULL,
	  MA("alpha beta", "<p>alpha alpha beta beta</p>"), "MADIFF MA_FLAG" },
	{ "punctuation tokens ignored", NULL,
	  MA("alpha beta", "<p>alpha -- beta ** !!</p>"), "MA_FLAG" },
	{ "image only html", NULL,
	  MA("Hello world", "<img src=\"cid:x@y\">"), "MADIFF MA_FLAG" },
	{ "many text words", NULL,
	  MA("one two three four five six seven eight nine ten eleven", "<p>one two</p>"),
	  "MA_FLAG MADIFF_COUNT" },
	{ "latin-1 and utf-8 tokens", NULL,
	  MP_HEAD("alternative") "--XX\nContent-Type: text/plain; charset=iso-8859-1\n\n"
	  "caf\xe9 cr\xe8me\n--XX\nContent-Type: text/html; charset=utf-8\n\n"
	  "<p>caf\xc3\xa9 cr\xc3\xa8me</p>\n--XX--\n", "MA_FLAG" },
	/* the Exchange meeting request exception */
	{ "html and calendar", NULL,
	  MP_HEAD("alternative") "--XX\nContent-Type: text/html\n\n<p>Meeting today</p>\n"
	  "--XX\nContent-Type: text/calendar\n\nBEGIN:VCALENDAR\n--XX--\n", "MA_FLAG" },
	/* check_mime_multipart_ratio: text/plain bytes per text/html byte of
	 * the last parts after the multipart/alternative ("x\n": 2 of 464) */
	{ "tiny text part", NULL,
	  MA("x",
	     "<p>hello hello hello hello hello hello hello hello hello hello hello hello "
	     "hello hello hello hello hello hello hello hello hello hello hello hello hello "
	     "hello hello hello hello hello hello hello hello hello hello hello hello hello "
	     "hello hello hello hello hello hello hello hello hello hello hello hello hello "
	     "hello hello hello hello hello hello hello hello hello hello hello hello hello "
	     "hello hello hello hello hello hello hello hello hello hello hello hello</p>"),
	  "MPART_RATIO MA_FLAG MADIFF" },
	/* check_msg_parse_flags */
	{ "no header/body separator", NULL,
	  "From: a@example.org\nSubject: hi\nthis line is no header\n", "HB_SEP" },
	{ "epilogue", NULL,
	  MP_HEAD("mixed") "--XX\nContent-Type: text/plain\n\nx\n--XX--\nsome epilogue\n",
	  "MIME_EPI" },
	{ "epilogue of dots", NULL,
	  MP_HEAD("mixed") "--XX\nContent-Type: text/plain\n\nx\n--XX--\n.\n\n", "" },
	{ "part without headers", NULL,
	  MP_HEAD("mixed") "--XX\nno header here\n--XX--\n", "MIME_NO_HDRS MIME_HB_SEP" },
	{ "part header without separator", NULL,
	  MP_HEAD("mixed") "--XX\nContent-Type: text/plain\nno blank line\n--XX--\n",
	  "MIME_HB_SEP" },
	/* ok_locales is "all": never faraway */
	{ "koi8-r everywhere", NULL,
	  "From: =?koi8-r?B?8NLJ18XU?= <a@example.org>\nSubject: =?koi8-r?B?8NLJ18XU?=\n"
	  "Content-Type: text/plain; charset=koi8-r\n\n\xf0\xd2\xc9\xd7\xc5\xd4 \xf0\xd2\xc9\xd7\n",
	  "" },
};

static const char *const mime2_names[] = {
	"MPART_RATIO", "HB_SEP", "MIME_HB_SEP", "MIME_EPI", "MIME_NO_HDRS",
	"ASCII_ILLEGAL", "UNICODE02", "QP_RATIO", "B64_78_79", "B64_79",
	"MA_NON_TEXT", "CS_FARAWAY", "CS_FARAWAY_HDR", "MADIFF", "MADIFF_MID",
	"MADIFF_COUNT", "MA_FLAG", "ILLEGAL_FIELD",
};

START_TEST(eval_mime2_table)
{
	eh_check_hits(mime2_cf, mime2_names, N_ELEMENTS(mime2_names), &mime2_cases[_i]);
}
END_TEST

/* The rest of HTMLEval (eval_html.c). */
static const char html2_cf[] =
	"body IMG_ONLY eval:html_image_only('0000','0400')\n"
	"body IMG_RATIO eval:html_image_ratio('0.000','0.002')\n"
	"body LEN_512 eval:html_eval('length', '< 512')\n"
	"body TITLE_SUBJ eval:html_title_subject_ratio('3.5')\n"
	"body IFRAME eval:check_iframe_src()\n"
	"body HTML_CS_FARAWAY eval:html_charset_faraway()\n"
	"body TITLE_NOT_HELLO eval:html_text_not_match('title', '^Hello')\n";

static const struct eval_case html2_cases[] = {
	{ "plain text", NULL, "From: a@example.org\nSubject: hi\n\nhello\n", "" },
	{ "image only", NULL,
	  HTML_MSG("<html><body><img src=\"http://example.com/a.gif\" width=500 height=400>"
		   "</body></html>\n"), "IMG_ONLY LEN_512" },
	{ "some text and a big image", NULL,
	  HTML_MSG("<html><body><p>Look at this wonderful offer today</p>"
		   "<img src=\"http://example.com/a.gif\" width=\"100%\" height=\"100%\">"
		   "</body></html>\n"), "IMG_ONLY IMG_RATIO LEN_512" },
	/* an image area needs both width and height */
	{ "image without size", NULL,
	  HTML_MSG("<p>Look</p><img src=\"http://example.com/a.gif\">\n"),
	  "IMG_ONLY LEN_512" },
	{ "long html with no image", NULL,
	  HTML_MSG("<html><body><p>"
		   "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod "
		   "tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, "
		   "quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo "
		   "consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse "
		   "cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non "
		   "proident, sunt in culpa qui officia deserunt mollit anim id est laborum. "
		   "Lorem ipsum dolor sit amet again, and again, and again.</p></body></html>\n"),
	  "" },
	{ "long title, short subject", NULL,
	  "From: a@example.org\nSubject: Hi\nContent-Type: text/html\n\n"
	  "<html><head><title>A long title here</title></head><body>x</body></html>\n",
	  "TITLE_SUBJ TITLE_NOT_HELLO LEN_512" },
	{ "title like the subject", NULL,
	  "From: a@example.org\nSubject: Hello and welcome\nContent-Type: text/html\n\n"
	  "<html><head><title>Hello and welcome</title></head><body>x</body></html>\n",
	  "LEN_512" },
	{ "title, no subject", NULL,
	  HTML_MSG("<html><head><title>A long title here</title></head><body>x</body></html>\n"),
	  "TITLE_NOT_HELLO LEN_512" },
	{ "iframe", NULL,
	  HTML_MSG("<p>x</p><iframe src=\"http://example.com/frame\"></iframe>\n"),
	  "IFRAME LEN_512" },
	{ "iframe without src", NULL,
	  HTML_MSG("<p>x</p><iframe src=\"\"></iframe>\n"), "LEN_512" },
	{ "faraway meta charset", NULL,
	  HTML_MSG("<html><head><meta http-equiv=\"Content-Type\" "
		   "content=\"text/html; charset=koi8-r\"></head><body>x</body></html>\n"),
	  "LEN_512" },
};

static const char *const html2_names[] = {
	"IMG_ONLY", "IMG_RATIO", "LEN_512", "TITLE_SUBJ", "IFRAME", "HTML_CS_FARAWAY",
	"TITLE_NOT_HELLO",
};

START_TEST(eval_html2_table)
{
	eh_check_hits(html2_cf, html2_names, N_ELEMENTS(html2_names), &html2_cases[_i]);
}
END_TEST

/* html_text_match's pattern is compiled into the rule's own call:
 * rulesets loaded one after another in one process each get their own
 * pattern (an earlier cache keyed by the argument's address could hand a
 * new rule the freed one's), and 70 patterns each stay the rule's own and
 * are freed with it (an earlier cache of 64 leaked the rest: the
 * sanitizer build's leak check). */
START_TEST(eval_html_pattern_cache)
{
	static const char msg[] = "To: a@example.com\nContent-Type: text/html\n\n"
		"<html><head><title>alpha beta</title></head><body><p>x</p></body></html>\n";
	static const char *const one[] = { "T" };
	enum { MANY = 70 };
	char names_buf[MANY][8], *text;
	const char *names[MANY];
	struct rules_load_result res;
	struct ruleset *rs;
	bool got[MANY];
	size_t cap = 128 * MANY, len = 0;

	for (int round = 0; round < 4; round++) {
		rs = eh_load(round % 2 == 0 ? "body T eval:html_text_match('title', 'alpha')\n"
				 : "body T eval:html_text_match('title', 'gamma')\n", &res);
		eh_match(rs, msg, sizeof(msg) - 1, NULL, one, 1, got);
		ck_assert_msg(got[0] == (round % 2 == 0), "round %d: T %s", round,
			      got[0] ? "hit" : "missed");
		rules_load_result_free(&res);
		rules_free(&rs);
	}
	text = malloc(cap);
	ck_assert_ptr_nonnull(text);
	for (int k = 0; k < MANY; k++) {
		snprintf(names_buf[k], sizeof(names_buf[k]), "T%02d", k);
		names[k] = names_buf[k];
		/* distinct texts; the even ones match the title */
		len += (size_t)snprintf(text + len, cap - len,
					"body %s eval:html_text_match('title', '%s(?:%d)?')\n",
					names[k], k % 2 == 0 ? "alpha" : "gamma", k);
	}
	rs = eh_load(text, &res);
	free(text);
	for (int pass = 0; pass < 2; pass++) {
		eh_match(rs, msg, sizeof(msg) - 1, NULL, names, MANY, got);
		for (int k = 0; k < MANY; k++)
			ck_assert_msg(got[k] == (k % 2 == 0), "pass %d: %s %s", pass, names[k],
				      got[k] ? "hit" : "missed");
	}
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

/* Hostile input through every MIME and HTML eval: NULs, invalid UTF-8,
 * lines far over 2048 bytes, deep nesting.  Nothing may crash, loop or
 * read out of bounds (the sanitizer build checks the last). */
START_TEST(eval_hostile)
{
	static const char *const names[] = { "ASCII_ILLEGAL", "MADIFF", "B64_79" };
	struct rules_load_result res;
	struct ruleset *rs;
	bool got[N_ELEMENTS(names)];
	size_t cap = 1 << 20, len = 0;
	char *msg = malloc(cap);
	const char *head = MP_HEAD("alternative") "--XX\nContent-Type: text/plain\n"
		"Content-Transfer-Encoding: base64\n\n";

	ck_assert_ptr_nonnull(msg);
	len = (size_t)snprintf(msg, cap, "%s", head);
	for (size_t i = 0; i < 100000; i++)
		msg[len++] = "QUJD"[i % 4];
	len += (size_t)snprintf(msg + len, cap - len,
				"\n--XX\nContent-Type: text/plain\n\nnul");
	msg[len++] = '\0';
	len += (size_t)snprintf(msg + len, cap - len, "byte \xff\xfe bad \xc3 utf8 &#x04");
	len += (size_t)snprintf(msg + len, cap - len,
				"\n--XX\nContent-Type: text/html; charset=utf-8\n\n<p>");
	msg[len++] = '\0';
	len += (size_t)snprintf(msg + len, cap - len, "x \xc3\x28 \xed\xa0\x80 <img src=x>");
	for (int d = 0; d < 50; d++)
		len += (size_t)snprintf(msg + len, cap - len, "<div><title>t");
	len += (size_t)snprintf(msg + len, cap - len, "\n--XX--\n");

	{
		size_t n = strlen(mime_cf) + strlen(mime2_cf) + strlen(html_cf) + strlen(html2_cf) + 1;
		char *all = malloc(n);

		ck_assert_ptr_nonnull(all);
		snprintf(all, n, "%s%s%s%s", mime_cf, mime2_cf, html_cf, html2_cf);
		rs = eh_load(all, &res);
		free(all);
	}
	eh_match(rs, msg, len, NULL, names, N_ELEMENTS(names), got);
	/* the NUL and the 8-bit bytes make the us-ascii text illegal; the
	 * 100000-byte base64 line is split at 2048 bytes as SpamAssassin does */
	for (size_t i = 0; i < N_ELEMENTS(names); i++)
		ck_assert_msg(got[i], "%s missed", names[i]);
	rules_load_result_free(&res);
	rules_free(&rs);
	free(msg);
}
END_TEST

/* The matching backstop bounds the message-wide evals as well: past the
 * deadline none runs, and the message says it was cut short. */
START_TEST(eval_backstop)
{
	static const char msg[] = "Subject: hello there\n\nx\n";
	struct rules_load_result res;
	struct ruleset *rs = eh_load(rules_cf, &res);
	struct msgview *mv = msgview_new(rules_settings(rs), msg, strlen(msg), NULL);
	long missing_to = rules_find(rs, "MISSING_TO");
	struct rules_hits hits;

	ck_assert_int_ge(missing_to, 0);
	memset(&hits, 0, sizeof(hits));
	hits.count = rules_count(rs);
	hits.hits = calloc(hits.count, sizeof(*hits.hits));
	ck_assert_ptr_nonnull(hits.hits);
	rules_match_evals(rs, mv, &hits);
	ck_assert_uint_gt(hits.hits[missing_to], 0);
	ck_assert(!hits.time_limit_exceeded);

	memset(hits.hits, 0, hits.count * sizeof(*hits.hits));
	hits.has_deadline = true;
	clock_gettime(CLOCK_MONOTONIC, &hits.deadline);
	hits.deadline.tv_sec -= 1;
	rules_match_evals(rs, mv, &hits);
	ck_assert_uint_eq(hits.hits[missing_to], 0);
	ck_assert(hits.time_limit_exceeded);

	rules_hits_free(&hits);
	msgview_free(&mv);
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

static void
check_addrs(const struct strlist *got, const char *const *want, size_t n)
{
	for (size_t i = 0; i < got->n && i < n; i++)
		ck_assert_str_eq(got->v[i].p, want[i]);
	ck_assert_uint_eq(got->n, n);
}

/* all_to_addrs and all_from_addrs: each address once, where it first
 * appears, over the headers in SpamAssassin's order (To, Delivered-To,
 * X-Original-To, then Cc for the first; From, then X-Envelope-From
 * for the second, dots squeezed before comparing). */
START_TEST(eval_addr_lists)
{
	static const char msg[] =
		"From: x..y@example.org, z@example.org\n"
		"From: x.y@example.org\n"
		"X-Envelope-From: z@example.org\n"
		"To: a@example.com, b@example.com, a@example.co\n"
		"Cc: b@example.com\n"
		"Cc: c@example.com, a@example.com\n"
		"Cc: b@example.com\n"
		"X-Original-To: c@example.com\n"
		"Delivered-To: d@example.com\n"
		"\nx\n";
	static const char *const to[] = {
		"a@example.com", "b@example.com", "a@example.co", "d@example.com", "c@example.com",
	};
	static const char *const from[] = { "x.y@example.org", "z@example.org" };
	struct rules_load_result res;
	struct ruleset *rs = eh_load(rules_cf, &res);
	struct msgview *mv;
	struct eval_ctx ctx;

	mv = msgview_new(rules_settings(rs), msg, sizeof(msg) - 1, NULL);
	eval_ctx_init(&ctx, rs, mv, NULL);
	check_addrs(eval_all_to_addrs(&ctx), to, N_ELEMENTS(to));
	check_addrs(eval_all_from_addrs(&ctx), from, N_ELEMENTS(from));
	eval_ctx_free(&ctx);
	msgview_free(&mv);
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

static Suite *
eval_suite(void)
{
	Suite *s = suite_create("eval");
	TCase *tc = ut_tcase(s, "eval", true);

	tcase_add_loop_test(tc, eval_header_table, 0, N_ELEMENTS(cases));
	tcase_add_loop_test(tc, eval_count_table, 0, N_ELEMENTS(count_cases));
	tcase_add_loop_test(tc, eval_mime_table, 0, N_ELEMENTS(mime_cases));
	tcase_add_loop_test(tc, eval_html_table, 0, N_ELEMENTS(html_cases));
	tcase_add_loop_test(tc, eval_mime2_table, 0, N_ELEMENTS(mime2_cases));
	tcase_add_loop_test(tc, eval_html2_table, 0, N_ELEMENTS(html2_cases));
	tcase_add_test(tc, eval_html_pattern_cache);
	tcase_add_test(tc, eval_hostile);
	tcase_add_test(tc, eval_backstop);
	tcase_add_test(tc, eval_addr_lists);
	return s;
}

int
main(void)
{
	static const struct eh_table tables[] = {
		{ header_names, N_ELEMENTS(header_names), cases, N_ELEMENTS(cases) },
		{ count_names, N_ELEMENTS(count_names), count_cases, N_ELEMENTS(count_cases) },
		{ mime_names, N_ELEMENTS(mime_names), mime_cases, N_ELEMENTS(mime_cases) },
		{ html_names, N_ELEMENTS(html_names), html_cases, N_ELEMENTS(html_cases) },
		{ mime2_names, N_ELEMENTS(mime2_names), mime2_cases, N_ELEMENTS(mime2_cases) },
		{ html2_names, N_ELEMENTS(html2_names), html2_cases, N_ELEMENTS(html2_cases) },
	};
	/* sizeof counts each piece's NUL: room to spare */
	static char cf[sizeof(rules_cf) + sizeof(mime_cf) + sizeof(html_cf) + sizeof(mime2_cf) +
		       sizeof(html2_cf)];

	snprintf(cf, sizeof(cf), "%s%s%s%s%s", rules_cf, mime_cf, html_cf, mime2_cf, html2_cf);
	return eh_main(eval_suite, ut_testdir, cf, tables, N_ELEMENTS(tables));
}
