/* Unit tests for eval_body.c: SpamAssassin's BodyEval, ImageInfo, the
 * MIMEEval test that reads body lines (check_for_uppercase), WLBLEval's
 * check_mailfrom_matches_rcvd and URI host lists (eval_urihost.c) and
 * URIEval's check_uri_truncated,
 * each through a real rule line and a hand-built message, hit and miss.
 * The expected hits are SpamAssassin's: with LMTPD_EVAL_CASES_DIR set this
 * program writes its rules and cases for tests/tools/sa_eval_cases.py,
 * which runs them through SpamAssassin itself. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_compat.h"
#include "eval_harness.h"
#include "rules.h"

/* loadplugin lines are ignored by lmtpd; SpamAssassin needs them for the
 * plugins sa_eval_cases.py does not load itself. */
static const char rules_cf[] =
	"loadplugin Mail::SpamAssassin::Plugin::ImageInfo\n"
	"loadplugin Mail::SpamAssassin::Plugin::WLBLEval\n"
	"loadplugin Mail::SpamAssassin::Plugin::HTTPSMismatch\n"
	"loadplugin Mail::SpamAssassin::Plugin::URIEval\n"
	"loadplugin Mail::SpamAssassin::Plugin::TextCat\n"
	"loadplugin Mail::SpamAssassin::Plugin::VBounce\n"
	"loadplugin Mail::SpamAssassin::Plugin::WelcomeListSubject\n"
	"ok_languages en\n"
	"trusted_networks 10.0.0.0/8\n"
	"util_rb_2tld co.uk\n"
	"rawbody BLANK eval:check_blank_line_ratio('50','100','4')\n"
	"body TVD eval:tvd_vertical_words('0','10')\n"
	"body STOCK eval:check_stock_info('2')\n"
	"body SHORT eval:check_body_length('100')\n"
	"body SIG_LONG eval:plaintext_sig_length('20')\n"
	"body UPPER eval:check_for_uppercase('75', '100')\n"
	"body UPPER_MID eval:check_for_uppercase('25', '50')\n"
	"body GIF1 eval:image_count('gif','1','1')\n"
	"body PNG1 eval:image_count('png','1','1')\n"
	"body JPEG1 eval:image_count('jpeg',1,1)\n"
	"body IMG2P eval:image_count('all','2')\n"
	"body PIXC eval:pixel_coverage('all','700','300000')\n"
	"body IMGSZ eval:image_size_exact('png','20','30')\n"
	"body IMGRANGE eval:image_size_range('gif','10','10','50','50')\n"
	"body IMGNAMED eval:image_named('logo.gif')\n"
	"body IMGRATIO eval:image_to_text_ratio('all', '0.000', '0.015')\n"
	"rawbody IMGRATIO_RAW eval:image_to_text_ratio('all', '0.000', '0.0002')\n"
	"header RP_MATCH eval:check_mailfrom_matches_rcvd()\n"
	"util_rb_tld com\nutil_rb_tld net\nutil_rb_tld org\nutil_rb_tld biz\nutil_rb_tld info\n"
	"body HTTPS_MIS eval:check_https_http_mismatch('1','10')\n"
	"body HTTPS_MIS2 eval:check_https_http_mismatch('2','3')\n"
	"body HTTPS_IP eval:check_https_ip_mismatch()\n"
	"body BODY_8BITS eval:check_body_8bits()\n"
	"util_rb_tld top xyz ly\n"
	"enlist_uri_host (BADTLD) top XYZ !good.xyz\n"
	"enlist_uri_host (SHORT) bit.ly 1.2.3.4\n"
	"delist_uri_host (SHORT) tinyurl.com\n"
	"enlist_uri_host (GONE) gone.example.com kept.example.com\n"
	"enlist_uri_host (DEEP) k.example.com\n"
	"delist_uri_host gone.example.com\n"
	"delist_uri_host (NOPE) kept.example.com\n"
	"blocklist_uri_host Evil.Example.NET\n"
	"welcomelist_uri_host friend.example.org\n"
	"header URI_BADTLD eval:check_uri_host_listed('BADTLD')\n"
	"header URI_SHORT eval:check_uri_host_listed('SHORT')\n"
	"header URI_GONE eval:check_uri_host_listed('GONE')\n"
	"header URI_DEEP eval:check_uri_host_listed('DEEP')\n"
	"header URI_NOLIST eval:check_uri_host_listed('NOPE')\n"
	"body URI_BLOCK eval:check_uri_host_in_blocklist()\n"
	"body URI_WELCOME eval:check_uri_host_in_welcomelist()\n"
	"body URI_TRUNC eval:check_uri_truncated()\n"
	"ok_locales all\n"
	"ok_locales en ru\n"
	"body FARAWAY_BODY eval:check_for_faraway_charset()\n"
	"header FARAWAY_HDRS eval:check_for_faraway_charset_in_headers()\n"
	"rawbody FARAWAY_MIME eval:check_for_mime('mime_faraway_charset')\n"
	"welcomelist_bounce_relays mx.example.com\n"
	"whitelist_bounce_relays *.Relay.example.org\n"
	"body VB_HAVE eval:have_any_bounce_relays()\n"
	"body VB_MINE eval:check_welcomelist_bounce_relays()\n"
	"welcomelist_subject [Bug *]\n"
	"blocklist_subject Make Money Fast\n"
	"whitelist_subject re: (ticket?)\n"
	"blacklist_subject \\o/\n"
	"blocklist_subject lead?\n"
	"blocklist_subject foo*bar\n"
	"header SUBJ_WL eval:check_subject_in_welcomelist()\n"
	"header SUBJ_BL eval:check_subject_in_blocklist()\n"
	"header SUBJ_BL_OLD eval:check_subject_in_blacklist()\n";

static const char *const rule_names[] = {
	"BLANK", "TVD", "STOCK", "SHORT", "SIG_LONG", "UPPER", "UPPER_MID",
	"GIF1", "PNG1", "JPEG1", "IMG2P", "PIXC", "IMGSZ", "IMGRANGE", "IMGNAMED",
	"IMGRATIO", "IMGRATIO_RAW", "RP_MATCH",
};

#define HEAD "From: a@example.org\nTo: b@example.com\n"
#define MP(sub) HEAD "MIME-Version: 1.0\nContent-Type: multipart/" sub "; boundary=\"XX\"\n\n"
#define PART(ct, body) "--XX\nContent-Type: " ct "\n\n" body
#define IMG(ct, b64) "--XX\nContent-Type: " ct "\nContent-Transfer-Encoding: base64\n\n" b64 "\n"
#define END "--XX--\n"
#define LOUD "THIS IS A VERY LOUD MESSAGE WITH LOTS OF CAPITAL LETTERS IN IT\n"
#define LOUD5 LOUD LOUD LOUD LOUD LOUD
#define MIXED "HELLO THERE my friend how are you\n"
#define MIXED8 MIXED MIXED MIXED MIXED MIXED MIXED MIXED MIXED
/* Images made for these tests: a GIF of 40x20, a PNG of 30x20, a JPEG
 * of 200x100 (width x height), a PNG of 600x500 and broken ones. */
#define GIF_40x20 "R0lGODlhKAAUAIAAAAAAAAAAADs="
#define PNG_30x20 "iVBORw0KGgoAAAANSUhEUgAAAB4AAAAUCAIAAAAVyRqTAAAAAElFTkSuQmCC"
#define PNG_600x500 "iVBORw0KGgoAAAANSUhEUgAAAlgAAAH0CAIAAABuMsSDAAAAAElFTkSuQmCC"
#define PNG_CUT "iVBORw0KGgoAAAANSUhEUgAAAB4AAAAUCAI="
#define JPEG_200x100 "/9j/4AAQSkZJRgABAQAAAQABAAD/wAARCABkAMgDASIAAhEBAxEB/9k="
#define JPEG_BAD_LEN "/9j/4AAAZ2FyYmFnZQ=="
#define JPEG_CUT "/9j/wAARCAA="
#define GIF_CUT "R0lG"
#define RCVD(rdns) \
	"Received: from " rdns " (" rdns " [81.2.69.160])\n" \
	"\tby mx.example.com (Postfix) with ESMTP id AAA1\n" \
	"\tfor <b@example.com>; Sun, 22 Nov 2026 10:00:00 +0000\n"
#define STOCK_TEXT "Stock Symbol: FOOC\nMy Company: Foo Corp\n"

static const struct eval_case cases[] = {
	/* check_body_length: the bytes after the header section */
	{ "plain short", NULL, HEAD "\nhello world, this is a test\n", "SHORT" },
	{ "plain long", NULL, HEAD "\n" LOUD LOUD, "" },
	/* tvd_vertical_words: the largest share of spaces in any body line
	 * longer than 5 bytes, here 2 of 34 */
	{ "few spaces", NULL, HEAD "\nSupercalifragilistic\nexpialidocious\n", "TVD SHORT" },
	/* check_blank_line_ratio: 6 of 9 lines blank */
	{ "blank lines", NULL, HEAD "\na\n\n\n\nb\n\n\n\nc\n", "BLANK SHORT" },
	{ "too few lines", NULL, HEAD "\n\n\n\n", "SHORT" },
	/* check_for_uppercase: over 200 bytes of lines with inner spaces */
	{ "all caps", NULL, HEAD "\n" LOUD5, "UPPER" },
	{ "caps in koi8-r", NULL,
	  HEAD "Content-Type: text/plain; charset=koi8-r\n\n" LOUD5, "" },
	{ "caps in a big5 part", NULL,
	  MP("mixed") PART("text/plain; charset=BIG5", LOUD5) END, "" },
	{ "caps, short", NULL, HEAD "\n" LOUD, "SHORT" },
	{ "mixed case", NULL, HEAD "\n" MIXED8, "UPPER_MID" },
	{ "caps, base64 lines left", NULL,
	  HEAD "\nQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx "
	  "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx "
	  "THIS IS LOUD\n", "TVD" },
	/* check_stock_info: distinct "label:" words of the first text/plain
	 * part; only the first alternative of the word pattern is anchored,
	 * so "Stock Symbol" counts as "symbol" */
	{ "stock", NULL, HEAD "\n" STOCK_TEXT, "STOCK SHORT" },
	{ "stock, invalid utf-8", NULL,
	  HEAD "Content-Type: text/plain; charset=utf-8\n\nStock Symbol: F\xff\xfe\n"
	  "My Company: \xc3 x\n", "STOCK SHORT" },
	{ "one stock word", NULL, HEAD "\nTicker: FOOC\nDear: friend\n", "SHORT" },
	{ "stock in html only", NULL,
	  HEAD "Content-Type: text/html\n\n<p>Stock Symbol: FOOC</p><p>My Company: Foo</p>\n",
	  "SHORT" },
	/* plaintext_sig_length: the text after the last "-- " line, unless
	 * 4 bytes or less follow it */
	{ "signature", NULL,
	  HEAD "\nHello\n-- \nBob Example, Example Corp, www.example.com\n", "SHORT SIG_LONG" },
	{ "decoy signature", NULL, HEAD "\nHello\n--\nab\n", "SHORT" },
	/* ImageInfo: base64 image parts only */
	{ "gif attached", NULL,
	  MP("mixed") PART("text/plain", "see the picture attached to this mail\n")
	  IMG("image/gif; name=\"logo.gif\"", GIF_40x20) END,
	  "GIF1 IMGNAMED IMGRANGE PIXC" },
	{ "png and jpeg", NULL,
	  MP("mixed") PART("text/plain", "hi\n") IMG("image/png", PNG_30x20)
	  IMG("image/jpeg", JPEG_200x100) END,
	  "PNG1 JPEG1 IMG2P PIXC IMGSZ IMGRATIO IMGRATIO_RAW" },
	{ "jpg type", NULL,
	  MP("mixed") PART("text/plain", "hi\n") IMG("image/jpg", JPEG_200x100) END,
	  "JPEG1 PIXC IMGRATIO IMGRATIO_RAW" },
	{ "image not base64", NULL,
	  MP("mixed") PART("text/plain", "hi\n")
	  "--XX\nContent-Type: image/gif; name=\"logo.gif\"\n\nGIF89a(\n" END, "SHORT" },
	{ "broken images", NULL,
	  MP("mixed") PART("text/plain", "hi\n") IMG("image/png", PNG_CUT)
	  IMG("image/jpeg", JPEG_BAD_LEN) IMG("image/jpeg", JPEG_CUT)
	  IMG("image/gif; name=\"logo.gif\"", GIF_CUT) END, "PNG1 GIF1 IMG2P" },
	{ "big png", NULL,
	  MP("mixed") PART("text/plain", "hi\n") IMG("image/png", PNG_600x500) END,
	  "PNG1 PIXC IMGRATIO IMGRATIO_RAW" },
	/* check_mailfrom_matches_rcvd: the first untrusted relay's domain */
	{ "return path matches relay", "bob@mail.example.org",
	  RCVD("smtp.example.org") HEAD "\nhi\n", "SHORT RP_MATCH" },
	{ "return path, other relay", "bob@mail.example.org",
	  RCVD("smtp.example.net") HEAD "\nhi\n", "SHORT" },
	{ "return path, co.uk", "bob@shop.example.co.uk",
	  RCVD("mx1.example.co.uk") HEAD "\nhi\n", "SHORT RP_MATCH" },
	{ "return path, other co.uk", "bob@shop.example.co.uk",
	  RCVD("mx1.other.co.uk") HEAD "\nhi\n", "SHORT" },
	{ "return path without a dot", "bob@localhost",
	  RCVD("localhost") HEAD "\nhi\n", "SHORT" },
};

/* HTTPSMismatch.pm and URIEval's check_https_ip_mismatch: an anchor's
 * text against its href, per HTML part. */
static const char *const https_names[] = { "HTTPS_MIS", "HTTPS_MIS2", "HTTPS_IP" };

#define HTML(body) HEAD "Subject: links\nMIME-Version: 1.0\nContent-Type: text/html\n\n" \
	"<html><body>\n" body "\n</body></html>\n"

static const struct eval_case https_cases[] = {
	{ "other domain, and to an IP", NULL,
	  HTML("<a href=\"http://evil.example.net/login\">https://www.paypal.com/login</a> "
	       "<a href=\"http://1.2.3.4/x\">https://bank.example.com/</a>"),
	  "HTTPS_MIS HTTPS_IP" },
	{ "same URL", NULL,
	  HTML("<a href=\"https://www.paypal.com/login\">https://www.paypal.com/login</a>"), "" },
	{ "same domain, other host", NULL,
	  HTML("<a href=\"http://login.paypal.com/x\">see https://www.paypal.com/</a>"), "" },
	{ "case differs", NULL,
	  HTML("<a href=\"http://evil.example.net/\">https://WWW.PayPal.COM</a>"), "HTTPS_MIS" },
	{ "IP to IP", NULL, HTML("<a href=\"http://1.2.3.4/\">https://5.6.7.8/</a>"), "" },
	{ "userinfo before the IP", NULL,
	  HTML("<a href=\"https://user@10.0.0.1/\">go to https:secure</a>"), "HTTPS_IP" },
	{ "two anchored domains", NULL,
	  HTML("<a href=\"http://a.example.net/\">https://b.example.org/</a> "
	       "<a href=\"http://c.example.net/\">x</a>"), "HTTPS_MIS HTTPS_MIS2" },
	{ "four anchored domains", NULL,
	  HTML("<a href=\"http://a.example.net/\">https://b.example.org/</a> "
	       "<a href=\"http://c.example.net/\">x</a> <a href=\"http://d.example.biz/\">y</a> "
	       "<a href=\"http://e.example.info/\">z</a>"), "HTTPS_MIS" },
	/* A key repeated is one anchored domain, and the texts of all its
	 * anchors count, not only the first one's. */
	{ "repeated key, mismatch in a later anchor", NULL,
	  HTML("<a href=\"http://a.example.net/\">x</a> "
	       "<a href=\"http://c.example.net/\">y</a> "
	       "<a href=\"http://a.example.net/\">z</a> "
	       "<a href=\"http://a.example.net/\">https://b.example.org/</a> "
	       "<a href=\"http://c.example.net/\">w</a>"), "HTTPS_MIS HTTPS_MIS2" },
	{ "one key twice", NULL,
	  HTML("<a href=\"http://a.example.net/\">https://b.example.org/</a> "
	       "<a href=\"http://a.example.net/\">https://b.example.org/</a>"), "HTTPS_MIS" },
	{ "unknown TLD in the text", NULL,
	  HTML("<a href=\"http://a.example.net/\">https://b.nosuchtld/</a>"), "" },
	{ "an IP in the text", NULL,
	  HTML("<a href=\"http://a.example.net/\">https://1.2.3.4/</a>"), "HTTPS_MIS" },
	{ "mailto href", NULL,
	  HTML("<a href=\"mailto:x@example.net\">https://b.example.org/</a>"), "" },
	{ "image anchor", NULL,
	  HTML("<a href=\"http://a.example.net/\"><img src=\"x.gif\"></a>"), "" },
	{ "not HTML", NULL,
	  HEAD "\nhttp://evil.example.net/ https://www.paypal.com/\n", "" },
};

/* WLBLEval's URI host lists (a host is looked up whole, then with its
 * leading labels stripped; the most specific entry decides, "!" says no;
 * an IP as written; mailto: URIs left out) and URIEval's
 * check_uri_truncated (a URI over 8192 characters). */
static const char *const urihost_names[] = {
	"URI_BADTLD", "URI_SHORT", "URI_GONE", "URI_DEEP", "URI_NOLIST", "URI_BLOCK",
	"URI_WELCOME", "URI_TRUNC",
};

/* filled in by main(): longer than a case can be written out */
static char long_text_uri[9300], long_html_uri[9300], exact_text_uri[9300];

static const struct eval_case urihost_cases[] = {
	{ "listed TLD", NULL, HEAD "\nsee http://www.shop.top/offer now\n", "URI_BADTLD" },
	{ "TLD listed in capitals", NULL, HEAD "\nsee http://shop.xyz/\n", "URI_BADTLD" },
	{ "excepted host", NULL, HEAD "\nsee http://good.xyz/ and http://www.good.xyz/\n", "" },
	{ "excepted and listed hosts", NULL,
	  HEAD "\nsee http://good.xyz/ and http://bad.xyz/\n", "URI_BADTLD" },
	{ "subdomain of a blocklisted host, in capitals", NULL,
	  HEAD "\nclick http://WWW.EVIL.EXAMPLE.NET/login\n", "URI_BLOCK" },
	{ "parent of a blocklisted host", NULL, HEAD "\nclick http://example.net/\n", "" },
	{ "IP listed as written", NULL, HEAD "\nhttp://1.2.3.4/x and http://1.2.3.5/\n",
	  "URI_SHORT" },
	{ "IP not listed", NULL, HEAD "\nhttp://1.2.3.5/x\n", "" },
	{ "shortener", NULL, HEAD "\nhttps://bit.ly/3abcDEF\n", "URI_SHORT" },
	{ "schemeless host", NULL, HEAD "\ngo to www.evil.example.net today\n", "URI_BLOCK" },
	{ "delisted from every list, kept elsewhere", NULL,
	  HEAD "\nhttp://gone.example.com/ http://kept.example.com/\n", "URI_GONE" },
	{ "delisted only", NULL, HEAD "\nhttp://gone.example.com/\n", "" },
	{ "deep host: the most general names count", NULL,
	  HEAD "\nhttp://a.b.c.d.e.f.g.h.i.j.k.example.com/\n", "URI_DEEP" },
	{ "deep host: past eleven names", NULL,
	  HEAD "\nhttp://a.b.c.d.e.f.g.h.i.j.k.l.example.com/\n", "" },
	{ "mailto and a bare address are not URI hosts", NULL,
	  HEAD "\nwrite to x@evil.example.net or mailto:y@evil.example.net\n", "" },
	{ "HTML href", NULL,
	  HTML("<a href=\"http://friend.example.org/news\">news</a>"), "URI_WELCOME" },
	/* skipped by the raw form: an href that only its canonical forms
	 * make a mailto: still counts */
	{ "HTML href of an address and a blank", NULL,
	  HTML("<a href=\"foo@evil.example.net%20\">x</a>"), "URI_BLOCK" },
	{ "HTML href of a named address", NULL,
	  HTML("<a href=\"Foo &lt;foo@evil.example.net&gt;\">x</a>"), "URI_BLOCK" },
	{ "HTML mailto href", NULL,
	  HTML("<a href=\"mailto:foo@evil.example.net\">x</a>"), "" },
	{ "HTML image source", NULL,
	  HTML("<img src=\"http://cdn.evil.example.net/x.gif\">"), "URI_BLOCK" },
	/* the body's lines are at most 2048 bytes (the URI is cut there) */
	{ "URI over 8192 characters in the text", NULL, long_text_uri, "" },
	{ "URI over 8192 characters in HTML", NULL, long_html_uri, "URI_TRUNC" },
	{ "URI of 8192 characters", NULL, exact_text_uri, "" },
};

/* ok_locales en ru (the last line counts): the charsets of other locales
 * (Big5, GB2312, ISO-2022-JP, EUC-KR, ...) are faraway; Latin, Unicode,
 * Windows and the Cyrillic ones are not.  The body test also needs the
 * text to be mostly 8-bit, and reads only the message's own
 * Content-Type. */
static const char *const faraway_names[] = { "FARAWAY_BODY", "FARAWAY_HDRS", "FARAWAY_MIME" };

#define CT(cs) "MIME-Version: 1.0\nContent-Type: text/plain; charset=" cs "\n" \
	"Content-Transfer-Encoding: 8bit\n"

static const struct eval_case faraway_cases[] = {
	{ "Big5 text", NULL, HEAD "Subject: x\n" CT("big5")
	  "\n\xa4\xa4\xa4\xe5\xa4\xa4\xa4\xe5\xa4\xa4\xa4\xe5\n", "FARAWAY_BODY FARAWAY_MIME" },
	{ "Big5 charset, mostly ASCII text", NULL, HEAD "Subject: x\n" CT("\"Big5\"")
	  "\nthis text is nearly all plain ASCII words \xa4\xa4\n", "FARAWAY_MIME" },
	{ "KOI8-R, allowed by ru", NULL, HEAD "Subject: x\n" CT("koi8-r")
	  "\n\xf0\xd2\xc9\xd7\xc5\xd4 \xf0\xd2\xc9\xd7\xc5\xd4\n", "" },
	{ "windows-1251 and UTF-8 always allowed", NULL, HEAD "Subject: x\n" CT("windows-1251")
	  "\n\xcf\xf0\xe8\xe2\xe5\xf2 \xcf\xf0\xe8\xe2\xe5\xf2\n", "" },
	{ "GB2312 in a later part only", NULL, HEAD "Subject: x\nMIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\n"
	  "Content-Type: text/plain; charset=us-ascii\n\nhello\n--b\n"
	  "Content-Type: text/plain; charset=gb2312\n\n\xd6\xd0\xce\xc4\xd6\xd0\xce\xc4\n--b--\n",
	  "FARAWAY_MIME" },
	{ "charset broken by quoted-printable", NULL, HEAD "Subject: x\n" CT("3Deuc-kr")
	  "\nhello\n", "FARAWAY_MIME" },
	{ "x-unknown", NULL, HEAD "Subject: x\n" CT("x-unknown") "\n\xe4\xe4\xe4\xe4\xe4\n", "" },
	/* are_more_high_bits_set: over 3 8-bit bytes (a Hangul syllable is
	 * 3 in UTF-8), and no more 7-bit ones, the joining newlines
	 * included */
	{ "one EUC-KR syllable", NULL, HEAD CT("euc-kr") "\n\xc7\xd1\n", "FARAWAY_MIME" },
	{ "one EUC-KR syllable and a 7-bit byte", NULL, HEAD CT("euc-kr") "\na\xc7\xd1\n",
	  "FARAWAY_MIME" },
	{ "two EUC-KR syllables", NULL, HEAD "Subject: ab\n" CT("euc-kr") "\n\xc7\xd1\xb1\xdb\n",
	  "FARAWAY_BODY FARAWAY_MIME" },
	{ "two syllables, as many 7-bit bytes with the newlines", NULL,
	  HEAD "Subject: abcd\n" CT("euc-kr") "\n\xc7\xd1\xb1\xdb\n", "FARAWAY_MIME" },
	{ "two syllables, one 7-bit byte fewer", NULL,
	  HEAD "Subject: abc\n" CT("euc-kr") "\n\xc7\xd1\xb1\xdb\n", "FARAWAY_BODY FARAWAY_MIME" },
	{ "a charset without a letter", NULL, HEAD "Subject: x\nMIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\n"
	  "Content-Type: text/plain; charset=\"12345\"\n\nhello\n--b--\n", "" },
	{ "glibc's name for ASCII is faraway", NULL, HEAD "Subject: x\n" CT("ANSI_X3.4-1968")
	  "\nhello\n", "FARAWAY_MIME" },
	{ "Big5 encoded subject", NULL,
	  "From: a@example.org\nTo: b@example.com\nSubject: =?big5?B?pKSk5Q==?=\n\nhi\n",
	  "FARAWAY_HDRS" },
	{ "ISO-2022-JP encoded From name", NULL,
	  "From: =?ISO-2022-JP?B?GyRCJEIkaRsoQg==?= <a@example.org>\nTo: b@example.com\n"
	  "Subject: hi\n\nhi\n", "FARAWAY_HDRS" },
	{ "allowed encoded words", NULL,
	  "From: =?utf-8?Q?J=C3=B6rg?= <a@example.org>\nTo: b@example.com\n"
	  "Subject: =?koi8-r?B?8NLJ18XU?= =?iso-8859-1?Q?caf=E9?=\n\nhi\n", "" },
	{ "faraway word in To only", NULL,
	  "From: a@example.org\nTo: =?big5?B?pKSk5Q==?= <b@example.com>\nSubject: hi\n\nhi\n", "" },
	{ "a later encoded word", NULL,
	  "From: a@example.org\nTo: b@example.com\n"
	  "Subject: =?utf-8?B?aGk=?= and =?gb2312?B?1tDOxA==?=\n\nhi\n", "FARAWAY_HDRS" },
	{ "not an encoded word", NULL,
	  "From: a@example.org\nTo: b@example.com\nSubject: =?big5 no end\n\nhi\n", "" },
};

/* VBounce: the site's relays (welcomelist_bounce_relays) named in a
 * quoted Received: line of a bounce, in the rendered body or in the raw
 * one (an attached message's header, folded lines joined).  One rule
 * only calls check_welcomelist_bounce_relays: SpamAssassin's leaves a
 * body line's match position set when it finds a relay, so a second
 * call in the same message may answer differently (as the shipped rules
 * call it once, the first answer is the one that counts). */
static const char *const vbounce_names[] = { "VB_HAVE", "VB_MINE" };

#define VB_ALL "VB_HAVE VB_MINE"

static const struct eval_case vbounce_cases[] = {
	{ "our relay in a quoted Received line", NULL,
	  HEAD "Subject: failure\n\nReceived: from x.example.net by mx.example.com (Postfix) "
	  "with ESMTP\n", VB_ALL },
	{ "a relay by pattern, after quoting", NULL,
	  HEAD "Subject: failure\n\n> > Received: by out1.relay.example.org (8.12) id 1\n", VB_ALL },
	{ "the word before takes the space", NULL,
	  HEAD "Subject: failure\n\nReceived: from a.example.net mx.example.com x\n", "VB_HAVE" },
	{ "two spaces between", NULL,
	  HEAD "Subject: failure\n\nReceived: from a.example.net  mx.example.com x\n", VB_ALL },
	/* a rendered line ends in a space, the raw one does not */
	{ "at the end of a rendered line", NULL,
	  HEAD "Subject: failure\n\nReceived: from a.example.net by mx.example.com\n", VB_ALL },
	{ "at the end of a raw line only", NULL,
	  HEAD "Subject: failure\nMIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
	  "--b\nContent-Type: text/plain\n\nsee the attachment\n--b\n"
	  "Content-Type: application/octet-stream\n\n"
	  "Received: from a.example.net by mx.example.com\n--b--\n", "VB_HAVE" },
	{ "not a Received line", NULL,
	  HEAD "Subject: failure\n\nthe relay mx.example.com said no\n", "VB_HAVE" },
	{ "another relay", NULL,
	  HEAD "Subject: failure\n\nReceived: from a by mx.example.net (Postfix) with SMTP\n",
	  "VB_HAVE" },
	{ "an attached message's folded Received field", NULL,
	  HEAD "Subject: failure\nMIME-Version: 1.0\n"
	  "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n"
	  "--b\nContent-Type: text/plain\n\nYour mail could not be delivered.\n--b\n"
	  "Content-Type: message/rfc822\n\nReceived: from client (client [10.1.1.1])\n"
	  "\tby mx.example.com (Postfix) with ESMTP id 1\nFrom: me@example.com\n"
	  "Subject: hi\n\nhello\n--b--\n", VB_ALL },
	{ "a field after the first Received one", NULL,
	  HEAD "Subject: failure\nMIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
	  "--b\nContent-Type: text/plain\n\nsee the attachment\n--b\n"
	  "Content-Type: message/rfc822\n\nReceived: from a (a [10.1.1.1]) by b.example.net\n"
	  "X-Other: x\nReceived: from c\n by mx.example.com with SMTP\n\nhello\n--b--\n",
	  VB_ALL },
	{ "an encoded attachment", NULL,
	  HEAD "Subject: failure\nMIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
	  "--b\nContent-Type: text/plain\n\nsee the attachment\n--b\n"
	  "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
	  "UmVjZWl2ZWQ6IGJ5IG14LmV4YW1wbGUuY29tIHdpdGggU01UUAo=\n--b--\n", "VB_HAVE" },
};

/* WelcomeListSubject: a listed string (glob, one per line, blanks
 * included) anywhere in the decoded Subject, any case. */
static const char *const subject_names[] = { "SUBJ_WL", "SUBJ_BL", "SUBJ_BL_OLD" };

#define SUBJ(s) "From: a@example.org\nTo: b@example.com\nSubject: " s "\n\nhi\n"

static const struct eval_case subject_cases[] = {
	{ "welcomelisted glob", NULL, SUBJ("[Bug 123] crash in parser"), "SUBJ_WL" },
	{ "blocklisted words anywhere, any case", NULL, SUBJ("why not make money FAST now"),
	  "SUBJ_BL SUBJ_BL_OLD" },
	{ "a question mark is one character", NULL, SUBJ("Re: (ticketX) printer"), "SUBJ_WL" },
	{ "the blanks count", NULL, SUBJ("Make  Money Fast"), "" },
	{ "encoded subject", NULL, SUBJ("=?utf-8?B?TWFrZSBNb25leSBGYXN0?="), "SUBJ_BL SUBJ_BL_OLD" },
	{ "a star needs its brackets", NULL, SUBJ("[bug] x"), "" },
	{ "a backslash is literal", NULL, SUBJ("yay \\o/ done"), "SUBJ_BL SUBJ_BL_OLD" },
	{ "no subject", NULL, "From: a@example.org\nTo: b@example.com\n\nMake Money Fast\n", "" },
	/* "?" and "*" do not match the newline that ends the value, nor the
	 * one between two Subject fields or inside an encoded one */
	{ "a question mark at the end", NULL, SUBJ("lead"), "" },
	{ "a question mark inside", NULL, SUBJ("leads here"), "SUBJ_BL SUBJ_BL_OLD" },
	{ "a star across two Subject fields", NULL,
	  "From: a@example.org\nTo: b@example.com\nSubject: foo\nSubject: bar\n\nhi\n", "" },
	{ "a star across an encoded newline", NULL, SUBJ("=?utf-8?q?foo=0Abar?="), "" },
	{ "a star within one line", NULL, SUBJ("foo and bar"), "SUBJ_BL SUBJ_BL_OLD" },
};

/* TextCat's check_body_8bits with ok_languages en: 8 bytes in a row of
 * 0x80-0xff in a rendered body line (UTF-8 after charset conversion). */
static const char *const bits_names[] = { "BODY_8BITS" };

static const struct eval_case bits_cases[] = {
	{ "CJK", NULL, HEAD "Subject: x\nContent-Type: text/plain; charset=utf-8\n\n"
	  "\xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97\xe7\xac\xa6 hello\n", "BODY_8BITS" },
	{ "Latin-1 run", NULL, HEAD "Subject: x\nContent-Type: text/plain; charset=iso-8859-1\n\n"
	  "\xe4\xe4\xe4\xe4 hello\n", "BODY_8BITS" },
	{ "accents apart", NULL, HEAD "Subject: x\nContent-Type: text/plain; charset=utf-8\n\n"
	  "caf\xc3\xa9 na\xc3\xafve\n", "" },
	{ "ASCII", NULL, HEAD "Subject: x\n\nplain words only\n", "" },
};

START_TEST(eval_bits_table)
{
	eh_check_hits(rules_cf, bits_names, N_ELEMENTS(bits_names), &bits_cases[_i]);
}
END_TEST

/* ok_languages "all" (the default) or a language written with 8-bit runs
 * turn the test off. */
START_TEST(eval_bits_languages)
{
	static const char *const variants[] = {
		"body BODY_8BITS eval:check_body_8bits()\n",
		"body BODY_8BITS eval:check_body_8bits()\nok_languages all\n",
		"body BODY_8BITS eval:check_body_8bits()\nok_languages en ja\n",
	};

	for (size_t i = 0; i < N_ELEMENTS(variants); i++)
		eh_check_hits(variants[i], bits_names, N_ELEMENTS(bits_names),
			      &(struct eval_case){ "languages", NULL, bits_cases[0].message, "" });
}
END_TEST

/* head, n times fill, tail into out (of 9300 bytes). */
static void
long_uri(char *out, const char *head, char fill, size_t n, const char *tail)
{
	size_t h = strlen(head);

	if (h + n + strlen(tail) >= 9300)
		abort();
	memcpy(out, head, h);
	memset(out + h, fill, n);
	strcpy(out + h + n, tail);
}

START_TEST(eval_faraway_table)
{
	eh_check_hits(rules_cf, faraway_names, N_ELEMENTS(faraway_names), &faraway_cases[_i]);
}
END_TEST

START_TEST(eval_vbounce_table)
{
	eh_check_hits(rules_cf, vbounce_names, N_ELEMENTS(vbounce_names), &vbounce_cases[_i]);
}
END_TEST

START_TEST(eval_subject_table)
{
	eh_check_hits(rules_cf, subject_names, N_ELEMENTS(subject_names), &subject_cases[_i]);
}
END_TEST

/* NUL bytes (which the cases written out for SpamAssassin can not hold;
 * its answers, checked by hand, are the ones here): a NUL does not end a
 * Subject, nor a relay name in a Received line. */
START_TEST(eval_lists_nul)
{
	static const char subject[] =
		"From: a@example.org\nTo: b@example.com\nSubject: zz\0make money fast\n\nhi\n";
	static const char relay[] =
		HEAD "Subject: failure\n\nReceived: by mx.example.com\0junk x\n";

	eh_check_message(rules_cf, subject_names, N_ELEMENTS(subject_names), "NUL subject",
			 subject, sizeof(subject) - 1, NULL, "SUBJ_BL SUBJ_BL_OLD");
	eh_check_message(rules_cf, vbounce_names, N_ELEMENTS(vbounce_names), "NUL relay",
			 relay, sizeof(relay) - 1, NULL, "VB_HAVE");
}
END_TEST

/* One Received field of an attached message folded over 40000 lines,
 * the relay at its end: each folded line is scanned once (SpamAssassin
 * scans the whole field again for each, minutes for this). */
static bool
vbounce_long_field_job(const void *arg)
{
	const char *msg = arg;
	bool got[2];
	struct rules_load_result res;
	struct ruleset *rs = eh_load(rules_cf, &res);

	eh_match(rs, msg, strlen(msg), NULL, vbounce_names, N_ELEMENTS(vbounce_names), got);
	rules_load_result_free(&res);
	rules_free(&rs);
	return got[0] && got[1];
}

START_TEST(eval_vbounce_long_field)
{
	static const char head[] = HEAD "Subject: failure\nMIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\n"
		"Content-Type: text/plain\n\nsee the attachment\n--b\n"
		"Content-Type: application/octet-stream\n\nReceived: from x\n";
	static const char fold[] = " aaaa bbbb cccc\n";
	static const char tail[] = " by mx.example.com x\n--b--\n";
	size_t n = 40000, len = strlen(head) + n * strlen(fold) + strlen(tail);
	char *msg = malloc(len + 1), *p;

	ck_assert_ptr_nonnull(msg);
	p = msg + strlen(head);
	memcpy(msg, head, strlen(head));
	for (size_t i = 0; i < n; i++, p += strlen(fold))
		memcpy(p, fold, strlen(fold));
	strcpy(p, tail);
	ut_run_cpu_within(3, vbounce_long_field_job, msg);
	free(msg);
}
END_TEST

START_TEST(eval_urihost_table)
{
	eh_check_hits(rules_cf, urihost_names, N_ELEMENTS(urihost_names), &urihost_cases[_i]);
}
END_TEST

START_TEST(eval_https_table)
{
	eh_check_hits(rules_cf, https_names, N_ELEMENTS(https_names), &https_cases[_i]);
}
END_TEST

START_TEST(eval_body_table)
{
	eh_check_hits(rules_cf, rule_names, N_ELEMENTS(rule_names), &cases[_i]);
}
END_TEST

/* check_body_length with three limits in one message: the length is
 * worked out once and each rule compares its own limit with it. */
START_TEST(eval_body_length_limits)
{
	static const char cf[] =
		"body LEN_LE_20 eval:check_body_length('20')\n"
		"body LEN_LE_100 eval:check_body_length('100')\n"
		"body LEN_LE_40 eval:check_body_length('40')\n";
	static const char *const names[] = { "LEN_LE_20", "LEN_LE_40", "LEN_LE_100" };
	static const struct eval_case limits[] = {
		{ "10 bytes", NULL, HEAD "\n123456789\n", "LEN_LE_20 LEN_LE_40 LEN_LE_100" },
		{ "30 bytes", NULL, HEAD "\n12345678901234567890123456789\n",
		  "LEN_LE_40 LEN_LE_100" },
		{ "60 bytes", NULL,
		  HEAD "\n12345678901234567890123456789012345678901234567890123456789\n",
		  "LEN_LE_100" },
		{ "128 bytes", NULL, HEAD "\n" LOUD LOUD, "" },
	};

	for (size_t i = 0; i < N_ELEMENTS(limits); i++)
		eh_check_hits(cf, names, N_ELEMENTS(names), &limits[i]);
}
END_TEST

/* Every function is implemented: none of the rules is skipped. */
START_TEST(eval_body_all_loaded)
{
	struct rules_load_result res;
	struct ruleset *rs = eh_load(rules_cf, &res);

	ck_assert_int_eq(res.rules_skipped, 0);
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

/* Hostile input that cannot go through the text dump (NULs), or that is
 * too big to write out: no crash, and the answers that are certain. */
static void
check_none_but(const char *message, size_t len, const char *allowed)
{
	struct rules_load_result res;
	struct ruleset *rs = eh_load(rules_cf, &res);
	bool got[N_ELEMENTS(rule_names)];

	eh_match(rs, message, len, NULL, rule_names, N_ELEMENTS(rule_names), got);
	for (size_t i = 0; i < N_ELEMENTS(rule_names); i++)
		if (!eh_listed(allowed, rule_names[i]))
			ck_assert_msg(!got[i], "%s hit", rule_names[i]);
	rules_load_result_free(&res);
	rules_free(&rs);
}

/* base64 of in[0..n) into out (4 * ((n + 2) / 3) bytes). */
static size_t
b64(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned long v = (unsigned long)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned long)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	return o;
}

static void
check_exact(const char *message, size_t len, const char *hits)
{
	eh_check_message(rules_cf, rule_names, N_ELEMENTS(rule_names), "hostile", message, len,
			 NULL, hits);
}

START_TEST(eval_body_hostile)
{
	static const char nuls[] =
		HEAD "Content-Type: multipart/alternative; boundary=\"XX\"\n\n"
		"--XX\nContent-Type: text/plain\n\nhello\0world \0\0 x\n"
		"--XX\nContent-Type: text/html\n\n<p>he\0llo <img src=\"\0\"></p>\n"
		"--XX\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\n"
		"iVBORw0KGgoAAAAN\0SUhEUgAAAB4AAAAUCAI=\n--XX--\n";
	/* A PNG of 4294967295 x 4294967295 pixels: the area is a double,
	 * far above pixel_coverage's range. */
	static const char huge[] =
		HEAD "Content-Type: multipart/mixed; boundary=\"XX\"\n\n"
		"--XX\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\n"
		"iVBORw0KGgoAAAANSUhEUv//////////CAIAAABdlLlpAAAAAElFTkSuQmCC\n--XX--\n";
	size_t big = 3 * 1024 * 1024, n;
	char *msg = malloc(2 * big + 200);
	unsigned char *jpeg = malloc(big);

	ck_assert_ptr_nonnull(msg);
	ck_assert_ptr_nonnull(jpeg);
	check_none_but(nuls, sizeof(nuls) - 1, "TVD SHORT PNG1");
	check_exact(huge, sizeof(huge) - 1, "PNG1 IMGRATIO");
	/* 3 MiB on one line without a space: every body line is 0% spaces */
	n = (size_t)snprintf(msg, 200, "%s\n", HEAD);
	memset(msg + n, 'A', big);
	msg[n + big - 1] = '\n';
	check_exact(msg, n + big, "TVD");
	/* a JPEG of 3 MiB of markers that each claim a 2-byte block (no
	 * data): a bounded walk to the end, no size found */
	jpeg[0] = 0xff;
	jpeg[1] = 0xd8;
	for (size_t i = 2; i + 4 <= big; i += 4)
		memcpy(jpeg + i, "\xff\x01\x00\x02", 4);
	n = (size_t)snprintf(msg, 200, "%s%s", HEAD,
			     "Content-Type: image/jpeg\nContent-Transfer-Encoding: base64\n\n");
	n += b64(jpeg, big, msg + n);
	msg[n++] = '\n';
	check_exact(msg, n, "JPEG1");
	free(jpeg);
	free(msg);
}
END_TEST

static Suite *
eval_body_suite(void)
{
	Suite *s = suite_create("eval_body");
	TCase *tc = ut_tcase(s, "eval_body", true);

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, eval_body_table, 0, N_ELEMENTS(cases));
	tcase_add_loop_test(tc, eval_https_table, 0, N_ELEMENTS(https_cases));
	tcase_add_loop_test(tc, eval_bits_table, 0, N_ELEMENTS(bits_cases));
	tcase_add_loop_test(tc, eval_urihost_table, 0, N_ELEMENTS(urihost_cases));
	tcase_add_loop_test(tc, eval_faraway_table, 0, N_ELEMENTS(faraway_cases));
	tcase_add_loop_test(tc, eval_vbounce_table, 0, N_ELEMENTS(vbounce_cases));
	tcase_add_loop_test(tc, eval_subject_table, 0, N_ELEMENTS(subject_cases));
	tcase_add_test(tc, eval_lists_nul);
	tcase_add_test(tc, eval_vbounce_long_field);
	tcase_add_test(tc, eval_bits_languages);
	tcase_add_test(tc, eval_body_length_limits);
	tcase_add_test(tc, eval_body_all_loaded);
	tcase_add_test(tc, eval_body_hostile);
	return s;
}

int
main(void)
{
	static const struct eh_table tables[] = {
		{ rule_names, N_ELEMENTS(rule_names), cases, N_ELEMENTS(cases) },
		{ https_names, N_ELEMENTS(https_names), https_cases, N_ELEMENTS(https_cases) },
		{ bits_names, N_ELEMENTS(bits_names), bits_cases, N_ELEMENTS(bits_cases) },
		{ urihost_names, N_ELEMENTS(urihost_names), urihost_cases,
		  N_ELEMENTS(urihost_cases) },
		{ faraway_names, N_ELEMENTS(faraway_names), faraway_cases,
		  N_ELEMENTS(faraway_cases) },
		{ vbounce_names, N_ELEMENTS(vbounce_names), vbounce_cases,
		  N_ELEMENTS(vbounce_cases) },
		{ subject_names, N_ELEMENTS(subject_names), subject_cases,
		  N_ELEMENTS(subject_cases) },
	};
	/* "http://www.example.com/" is 23 characters */
	long_uri(long_text_uri, HEAD "\nsee http://www.example.com/", 'a', 9000, " now\n");
	long_uri(exact_text_uri, HEAD "\nsee http://www.example.com/", 'c', 8192 - 23, " now\n");
	long_uri(long_html_uri, HEAD "Subject: links\nMIME-Version: 1.0\nContent-Type: text/html\n"
		 "\n<html><body>\n<a href=\"http://www.example.com/", 'b', 9000,
		 "\">x</a>\n</body></html>\n");

	return eh_main(eval_body_suite, ut_testdir, rules_cf, tables, N_ELEMENTS(tables));
}
