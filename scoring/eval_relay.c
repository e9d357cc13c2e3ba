/* eval_relay: SpamAssassin's tests that read the Received chain and the
 * relays built from it, the Date and Message-ID against it
 * (Plugin/RelayEval.pm, the forged-webmail, date and ratware parts of
 * Plugin/HeaderEval.pm, Util::parse_rfc822_date).  Each follows the Perl
 * line by line, quirks included (check_outlook_message_id parses the whole
 * Received text, _check_received_helos keeps only the oldest relay's
 * verdict, the Juno test's second branch always hits), so the shipped
 * rules keep their meaning.
 *
 * Nothing here reads the clock or the local time zone: dates are converted
 * with a proleptic Gregorian day count (Time::Local::timegm), and every
 * comparison is between dates found in the message.  The Perl regular
 * expressions are compiled as written with PCRE2 (JIT) on first use and
 * run under a match limit; a match that hits it counts as no match (only
 * hostile input gets there).  Header values may hold NULs: they are
 * handled as (pointer, length). */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "buf.h"
#include "eval.h"
#include "hdr.h"
#include "log.h"
#include "msgview.h"
#include "received.h"
#include "rules_int.h"
#include "uri.h"
#include "xalloc.h"

/* ---------------------------------------------------------------------- */
/* Mail::SpamAssassin::Constants, the /x layout removed */

#define OCT "(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)"
#define IPV4RE "\\b" OCT "\\." OCT "\\." OCT "\\." OCT "\\b"
#define IP6_TAIL4 OCT "\\." OCT "\\." OCT "\\." OCT
#define IPRE "(?i:(?:\\b(?<!:)" IP6_TAIL4 "\\b|(?:IPv6:|(?<![a-f0-9:]))(?:(?:(?:[a-f0-9]{1,4}:){6}|::(?:[a-f0-9]{1,4}:){0,5}|(?:[a-f0-9]{1,4}:){1,5}:|[a-f0-9]{1,4}::(?:[a-f0-9]{1,4}:){1,4}|(?:[a-f0-9]{1,4}:){2}:(?:[a-f0-9]{1,4}:){1,3}|(?:[a-f0-9]{1,4}:){3}:(?:[a-f0-9]{1,4}:){1,2}|(?:[a-f0-9]{1,4}:){4}:[a-f0-9]{1,4}:)" IP6_TAIL4 "|(?:[a-f0-9]{1,4}:){7}[a-f0-9]{1,4}|:(?::[a-f0-9]{1,4}){1,7}|(?:[a-f0-9]{1,4}:){1,7}:|[a-f0-9]{1,4}:(?::[a-f0-9]{1,4}){1,6}|(?:[a-f0-9]{1,4}:){2}(?::[a-f0-9]{1,4}){1,5}|(?:[a-f0-9]{1,4}:){3}(?::[a-f0-9]{1,4}){1,4}|(?:[a-f0-9]{1,4}:){4}(?::[a-f0-9]{1,4}){1,3}|(?:[a-f0-9]{1,4}:){5}(?::[a-f0-9]{1,4}){1,2}|(?:[a-f0-9]{1,4}:){6}:[a-f0-9]{1,4}|::)(?![a-f0-9:])))"
#define PRIV4 "(?:10|127|169\\.254|172\\.(?:1[6-9]|2[0-9]|3[01])|192\\.168|100\\.(?:6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7]))\\..*"
#define IPPRIVRE "(?i:^(?:" PRIV4 "|(?:(?:IPv6:|(?<![a-f0-9:]))(?:(?:(?:0{1,4}:){5}ffff:|::(?:0{1,4}:){0,4}ffff:|(?:0{1,4}:){1,4}:ffff:|0{1,4}::(?:0{1,4}:){1,3}ffff:|(?:0{1,4}:){2}:0{1,2}:ffff:|(?:0{1,4}:){3}:0:ffff:|(?:0{1,4}:){4}:ffff:)" PRIV4 "|fe[89ab][0-9a-f]:.*|(?:0{1,4}:){7}0{0,3}1|:(?::0{1,4}){0,6}:0{0,3}1|0{1,4}:(?::0{1,4}){0,5}:0{0,3}1|(?:0{1,4}:){2}(?::0{1,4}){0,4}:0{0,3}1|(?:0{1,4}:){3}(?::0{1,4}){0,3}:0{0,3}1|(?:0{1,4}:){4}(?::0{1,4}){0,2}:0{0,3}1|(?:0{1,4}:){5}(?::0{1,4}){0,1}:0{0,3}1|(?:0{1,4}:){6}:0{0,3}1)(?![a-f0-9:]))))"
#define MONTHS "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"

#define CI PCRE2_CASELESS

enum rp {
	/* Util::parse_rfc822_date */
	RP_D_DMY, RP_D_MDTY, RP_D_DMY2, RP_D_TIME, RP_D_NUMTZ, RP_D_TZ,
	/* HeaderEval: dates and ids */
	RP_RCVD_DATE, RP_RCVD_LOCAL, RP_RCVD_QMAIL_UID, RP_RCVD_FETCHMAIL,
	RP_RATWARE_MID, RP_SRS,
	/* gated_through_received_hdr_remover */
	RP_EZMLM, RP_EZMLM_DLTO, RP_QMAIL_INVOKED, RP_MSN_GROUPS_RCVD,
	/* hotmail, MSN groups */
	RP_IP, RP_HM_PICKUP, RP_HM_ORIGINATOR, RP_HM1, RP_HM2, RP_HM3, RP_HM4,
	RP_HM5, RP_HM6, RP_HM_FORGED, RP_HM_FROM, RP_MSN_TO, RP_MSN_PICKUP,
	/* eudoramail, yahoo, juno, gmail, aol, gw05 */
	RP_EUDORA_FROM, RP_WHOWHERE,
	RP_Y_FROM, RP_Y_TRUSTED, RP_Y_UNTRUSTED, RP_Y1, RP_Y2, RP_Y3, RP_Y4,
	RP_Y5, RP_Y_REPLY, RP_Y6,
	RP_J_FROM, RP_J1, RP_J2, RP_J3, RP_J4, RP_J5, RP_J6,
	RP_G_FROM, RP_G1, RP_G2, RP_G3,
	RP_AOL_RLY, RP_AOL_VIA, RP_AOL_ESMTP,
	RP_GW05,
	/* RelayEval */
	RP_IS_IPV4, RP_IS_PRIVATE, RP_NUMERIC_HELO, RP_DOTCOM_HELO,
	RP_COUNT
};

static const struct {
	const char *re;
	uint32_t flags;
} rp_src[RP_COUNT] = {
	[RP_D_DMY] = { " (\\d+) " MONTHS " (\\d{4}) ", CI },
	[RP_D_MDTY] = { " " MONTHS " +(\\d+) \\d+:\\d+:\\d+ (\\d{4}) ", CI },
	[RP_D_DMY2] = { " (\\d+) " MONTHS " (\\d{2,3}) ", CI },
	[RP_D_TIME] = { " (\\d?\\d):(\\d\\d)(:(\\d\\d))? ", 0 },
	[RP_D_NUMTZ] = { " ([-+]\\d{4}) ", 0 },
	[RP_D_TZ] = { "\\b([A-Z]{2,4}(?:-DST)?)\\b", 0 },

	[RP_RCVD_DATE] = { "(\\s.?\\d+ \\S\\S\\S \\d+ \\d+:\\d+:\\d+ \\S+)", 0 },
	[RP_RCVD_LOCAL] = { "\\bfrom (?:localhost\\s|(?:\\S+ ){1,2}\\S*\\b127\\.0\\.0\\.1\\b)", 0 },
	[RP_RCVD_QMAIL_UID] = { "qmail \\d+ invoked by uid \\d+", 0 },
	[RP_RCVD_FETCHMAIL] = { "\\bby localhost with \\w+ \\(fetchmail-[\\d.]+", 0 },
	[RP_RATWARE_MID] = { "<[A-Z]{28}\\.([^>]+?)>", 0 },
	[RP_SRS] = { "^SRS\\d[=+-]", CI },

	[RP_EZMLM] = { "^contact \\S+\\@\\S+\\; run by ezmlm$", PCRE2_MULTILINE },
	[RP_EZMLM_DLTO] = { "^mailing list \\S+\\@\\S+", PCRE2_MULTILINE },
	[RP_QMAIL_INVOKED] = { "qmail \\d+ invoked (?:from network|by .{3,20})\\); \\d+ ... \\d+", 0 },
	[RP_MSN_GROUPS_RCVD] = { "from groups\\.msn\\.com \\(\\S+\\.msn\\.com ", 0 },

	[RP_IP] = { IPRE, 0 },
	[RP_HM_PICKUP] = { "from mail pickup service by hotmail\\.com with Microsoft SMTPSVC;", 0 },
	[RP_HM_ORIGINATOR] = { "hotmail\\.com|msonline\\-outlook", 0 },
	[RP_HM1] = { "from (?:\\S*\\.)?hotmail.com \\(\\S+\\.hotmail(?:\\.msn)?\\.com[ \\)]", 0 },
	[RP_HM2] = { "from \\S*\\.outbound\\.protection\\.outlook\\.com \\(\\S+\\.outbound\\.protection\\.outlook\\.com[ \\)]", 0 },
	[RP_HM3] = { "from \\S*\\.(?:eur|nam)prd\\d+\\.prod\\.outlook\\.com \\(" IPRE "\\)", 0 },
	[RP_HM4] = { "from \\S*\\.hotmail.com \\(\\[" IPRE "\\][ \\):]", 0 },
	[RP_HM5] = { "from \\S+ by \\S+\\.hotmail(?:\\.msn)?\\.com with HTTP\\;", 0 },
	[RP_HM6] = { "from \\[66\\.218.\\S+\\] by \\S+\\.yahoo\\.com", 0 },
	[RP_HM_FORGED] = { "(?:from |HELO |helo=)\\S*hotmail\\.com\\b", 0 },
	[RP_HM_FROM] = { "\\bhotmail\\.com$", CI },
	[RP_MSN_TO] = { "<(\\S+)\\@groups\\.msn\\.com>", CI },
	[RP_MSN_PICKUP] = { "from mail pickup service by ((?:p\\d\\d\\.)groups\\.msn\\.com)\\b", 0 },

	[RP_EUDORA_FROM] = { "\\beudoramail\\.com$", CI },
	[RP_WHOWHERE] = { "by \\S*whowhere.com\\;", 0 },
	[RP_Y_FROM] = { "\\byahoo\\.com$", CI },
	[RP_Y_TRUSTED] = { " rdns=\\S+\\.yahoo\\.com ", 0 },
	[RP_Y_UNTRUSTED] = { "^[^\\]]+ rdns=\\S+\\.yahoo\\.com ", 0 },
	[RP_Y1] = { "by web\\S+\\.mail\\S*\\.yahoo\\.com via HTTP", 0 },
	[RP_Y2] = { "by sonic\\S+\\.consmr\\.mail\\S*\\.yahoo\\.com with HTTP", 0 },
	[RP_Y3] = { "by smtp\\S+\\.yahoo\\.com with SMTP", 0 },
	[RP_Y4] = { "from \\[" IPRE "\\] by \\S+\\.(?:groups|scd|dcn)\\.yahoo\\.com with NNFMP", 0 },
	[RP_Y5] = { "\\bmailer\\d+\\.bulk\\.scd\\.yahoo\\.com\\b", 0 },
	[RP_Y_REPLY] = { "\\@reply\\.yahoo\\.com$", CI },
	[RP_Y6] = { "by \\w+\\.\\w+\\.yahoo\\.com \\(\\d+\\.\\d+\\.\\d+\\/\\d+\\.\\d+\\.\\d+\\)(?: with ESMTP)? id \\w+", 0 },
	[RP_J_FROM] = { "\\bjuno\\.com$", CI },
	[RP_J1] = { "from.*\\b(?:juno|untd)\\.com.*[\\[\\(]" IPRE "[\\]\\)].*by", 0 },
	[RP_J2] = { " cookie\\.(?:juno|untd)\\.com ", 0 },
	[RP_J3] = { "from.*\\bmail\\.com.*\\[" IPRE "\\].*by", 0 },
	[RP_J4] = { "\\bmail\\.com", 0 },
	[RP_J5] = { "from (webmail\\S+\\.untd\\.com) \\(\\1 \\[" IPRE "\\]\\) by", 0 },
	[RP_J6] = { "^Webmail Version \\d", 0 },
	[RP_G_FROM] = { "\\bgmail\\.com$", CI },
	[RP_G1] = { "by 10\\.\\S+ with SMTP id \\S+", 0 },
	[RP_G2] = { "by 2002\\:a\\d\\d\\:\\w+\\:\\S+ with SMTP id \\S+", 0 },
	[RP_G3] = { "by smtp\\.googlemail\\.com with ESMTPSA id \\S+", 0 },
	[RP_AOL_RLY] = { " rly-[a-z][a-z]\\d\\d\\.", CI },
	[RP_AOL_VIA] = { "\\/AOL-\\d+\\.\\d+\\.\\d+\\)", 0 },
	[RP_AOL_ESMTP] = { "ESMTP id (?:RELAY|MAILRELAY|MAILIN)", 0 },
	[RP_GW05] = { "\\nfrom\\s(\\S+)\\sby\\s(\\S+)\\swith\\sESMTP\\;\\s+\\S\\S\\S,\\s+\\d+\\s+\\S\\S\\S\\s+"
		      "\\d{4}\\s+\\d\\d:\\d\\d:\\d\\d\\s+[-+]*\\d{4}\\n$", PCRE2_DOTALL },

	[RP_IS_IPV4] = { "^" IPV4RE "$", 0 },
	[RP_IS_PRIVATE] = { "^" IPPRIVRE "$", 0 },
	[RP_NUMERIC_HELO] = { "\\bhelo=(" IPV4RE ")(?=[\\000-\\040,;\\[()<>]|\\z)", CI },
	[RP_DOTCOM_HELO] = { "(?:\\.|^)(lycos\\.com|lycos\\.co\\.uk|hotmail\\.com|localhost\\.com|"
			     "excite\\.com|caramail\\.com|cs\\.com|aol\\.com|msn\\.com|yahoo\\.com|"
			     "drizzle\\.com)$", CI },
};

/* Backtracking bound per match, as in received_line.c: far above what a
 * real header needs, low enough that hostile input costs milliseconds. */
#define RELAY_MATCH_LIMIT 200000
#define RELAY_DEPTH_LIMIT 10000

static pcre2_code *rp_code[RP_COUNT];
static pcre2_match_data *rp_md;
static pcre2_match_context *rp_mctx;
static const char *rp_subj;

static void
rp_setup(void)
{
	if (rp_md != NULL)
		return;
	rp_md = pcre2_match_data_create(16, NULL);
	rp_mctx = pcre2_match_context_create(NULL);
	if (rp_md == NULL || rp_mctx == NULL)
		log_panic("eval_relay: out of memory for PCRE2 match data");
	pcre2_set_match_limit(rp_mctx, RELAY_MATCH_LIMIT);
	pcre2_set_depth_limit(rp_mctx, RELAY_DEPTH_LIMIT);
}

static pcre2_code *
rp_compile(enum rp id)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *code;

	if (rp_code[id] != NULL)
		return rp_code[id];
	code = pcre2_compile((PCRE2_SPTR)rp_src[id].re, PCRE2_ZERO_TERMINATED,
			     rp_src[id].flags, &err, &off, NULL);
	if (code == NULL) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(err, msg, sizeof(msg));
		log_panic("eval_relay: pattern %d does not compile at %zu: %s", (int)id,
			  (size_t)off, (const char *)msg);
	}
	/* Without JIT the interpreter gives the same answers, slower. */
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	rp_code[id] = code;
	return code;
}

/* Matches pattern id against s[0..len); captures stay readable with
 * rp_cap() until the next match. */
static bool
rp(enum rp id, const char *s, size_t len)
{
	rp_setup();
	if (pcre2_match(rp_compile(id), (PCRE2_SPTR)s, len, 0, 0, rp_md, rp_mctx) < 0)
		return false;
	rp_subj = s;
	return true;
}

static bool
rpb(enum rp id, const struct buf *b)
{
	return rp(id, b->data != NULL ? b->data : "", b->len);
}

static bool
rps(enum rp id, const char *s)
{
	return rp(id, s, strlen(s));
}

/* Capture n of the last match; false when it did not take part. */
static bool
rp_cap(unsigned int n, const char **p_r, size_t *len_r)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(rp_md);

	if (n >= pcre2_get_ovector_count(rp_md) || ov[2 * n] == PCRE2_UNSET) {
		*p_r = "";
		*len_r = 0;
		return false;
	}
	*p_r = rp_subj + ov[2 * n];
	*len_r = ov[2 * n + 1] - ov[2 * n];
	return true;
}

static void
rp_span(size_t *a_r, size_t *b_r)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(rp_md);

	*a_r = ov[0];
	*b_r = ov[1];
}

/* ---------------------------------------------------------------------- */
/* Header access as $pms->get() in scalar context */

/* get(request, undef): true and the value when the header exists. */
static bool
rl_get_def(struct eval_ctx *ctx, const char *request, struct buf *out)
{
	buf_reset(out);
	if (!msgview_get(ctx->mv, request, out)) {
		buf_reset(out);
		return false;
	}
	return true;
}

/* get(request): "" when absent.  For :addr (and EnvelopeFrom) requests
 * scalar get() returns only the first value; msgview joins them all with
 * "\n", which an address never holds, so the first line is that value. */
static void
rl_get(struct eval_ctx *ctx, const char *request, struct buf *out)
{
	(void)rl_get_def(ctx, request, out);
	if (strstr(request, ":addr") != NULL && out->len > 0) {
		const char *nl = memchr(out->data, '\n', out->len);

		if (nl != NULL) {
			out->len = (size_t)(nl - out->data);
			out->data[out->len] = '\0';
		}
	}
}

static bool
rl_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool
rl_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* s/\s+/ /gs in place. */
static void
rl_squeeze(struct buf *b)
{
	size_t o = 0;
	bool prev_space = false;

	for (size_t i = 0; i < b->len; i++) {
		bool sp = rl_space((unsigned char)b->data[i]);

		if (sp && prev_space)
			continue;
		b->data[o++] = sp ? ' ' : b->data[i];
		prev_space = sp;
	}
	b->len = o;
	if (b->data != NULL)
		b->data[o] = '\0';
}

/* Perl's \S somewhere in s[0..n). */
static bool
rl_has_nonspace(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!rl_space((unsigned char)s[i]))
			return true;
	return false;
}

/* ---------------------------------------------------------------------- */
/* Util::parse_rfc822_date */

/* Time::Local::timegm's day count from 1970-01-01 (proleptic Gregorian). */
static long long
rl_days_from_civil(long long y, unsigned int m, unsigned int d)
{
	long long era;
	unsigned int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned int)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

/* Perl's numeric value of a run of ASCII digits, saturated: every caller
 * compares it with small bounds. */
static unsigned long
rl_num(const char *p, size_t n)
{
	unsigned long v = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			break;
		v = v * 10 + (unsigned long)(p[i] - '0');
		if (v > 100000000UL)
			return 100000000UL;
	}
	return v;
}

/* Replaces the span [a, b) of s with one space (Perl's s/.../ /). */
static void
rl_cut(struct buf *s, size_t a, size_t b)
{
	memmove(s->data + a + 1, s->data + b, s->len - b);
	s->data[a] = ' ';
	s->len = s->len - (b - a) + 1;
	s->data[s->len] = '\0';
}

static const struct {
	const char *name;
	int off;	/* seconds east of UTC */
} rl_tz[] = {
	{ "UT", 0 }, { "UTC", 0 },
	{ "NDT", -(2 * 60 + 30) * 60 }, { "AST", -4 * 3600 }, { "ADT", -3 * 3600 },
	{ "NST", -(3 * 60 + 30) * 60 }, { "EST", -5 * 3600 }, { "EDT", -4 * 3600 },
	{ "CST", -6 * 3600 }, { "CDT", -5 * 3600 }, { "MST", -7 * 3600 },
	{ "MDT", -6 * 3600 }, { "PST", -8 * 3600 }, { "PDT", -7 * 3600 },
	{ "HST", -10 * 3600 }, { "AKST", -9 * 3600 }, { "AKDT", -8 * 3600 },
	{ "HADT", -9 * 3600 }, { "HAST", -10 * 3600 },
	{ "GMT", 0 }, { "BST", 3600 }, { "IST", 3600 }, { "WET", 0 }, { "WEST", 3600 },
	{ "CET", 3600 }, { "CEST", 2 * 3600 }, { "EET", 2 * 3600 }, { "EEST", 3 * 3600 },
	{ "MSK", 3 * 3600 }, { "MSD", 4 * 3600 }, { "MET", 3600 }, { "MEZ", 3600 },
	{ "MEST", 2 * 3600 }, { "MESZ", 2 * 3600 },
	{ "BRST", -2 * 3600 }, { "BRT", -3 * 3600 },
	{ "AEST", 10 * 3600 }, { "AEDT", 11 * 3600 }, { "ACST", (9 * 60 + 30) * 60 },
	{ "ACDT", (10 * 60 + 30) * 60 }, { "AWST", 8 * 3600 },
	{ "NZST", 12 * 3600 }, { "NZDT", 13 * 3600 },
	{ "JST", 9 * 3600 }, { "KST", 9 * 3600 }, { "HKT", 8 * 3600 }, { "SGT", 8 * 3600 },
	{ "PHT", 8 * 3600 }, { "IDT", 3 * 3600 },
};

static unsigned int
rl_month(const char *p)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";

	for (unsigned int i = 0; i < 12; i++)
		if (strncasecmp(p, names + 3 * i, 3) == 0)
			return i + 1;
	return 0;
}

/* date[0..len): true and the time_t in *t_r, or false where Perl returns
 * undef (no day-month-year found, or a day Time::Local refuses). */
static bool
rl_parse_date(const char *date, size_t len, long long *t_r)
{
	struct buf s;
	const char *p;
	size_t n, a, b, ylen;
	unsigned long dd, mon, yyyy, hh = 0, mm = 0, ss = 0, max_dd;
	unsigned int dd_cap, mon_cap;
	long long tzoff = 0, t;
	bool ok = false;

	buf_init(&s, 0);
	/* " $date ", then a comma and the spaces after it become one space,
	 * then s/\s+/ /gs */
	buf_put(&s, " ", 1);
	for (size_t i = 0; i < len; i++) {
		if (date[i] == ',') {
			buf_put(&s, " ", 1);
			while (i + 1 < len && date[i + 1] == ' ')
				i++;
		} else {
			buf_put(&s, date + i, 1);
		}
	}
	buf_put(&s, " ", 1);
	rl_squeeze(&s);

	if (rp(RP_D_DMY, s.data, s.len)) {
		dd_cap = 1;
		mon_cap = 2;
	} else if (rp(RP_D_MDTY, s.data, s.len)) {
		dd_cap = 2;
		mon_cap = 1;
	} else if (rp(RP_D_DMY2, s.data, s.len)) {
		dd_cap = 1;
		mon_cap = 2;
	} else {
		goto out;
	}
	(void)rp_cap(dd_cap, &p, &n);
	dd = rl_num(p, n);
	(void)rp_cap(mon_cap, &p, &n);
	mon = rl_month(p);
	(void)rp_cap(3, &p, &n);
	yyyy = rl_num(p, n);
	ylen = n;
	rp_span(&a, &b);
	rl_cut(&s, a, b);

	if (ylen == 2 && yyyy < 50)
		yyyy += 2000;
	else if (ylen != 4)
		yyyy += 1900;

	if (rp(RP_D_TIME, s.data, s.len)) {
		(void)rp_cap(1, &p, &n);
		hh = rl_num(p, n);
		(void)rp_cap(2, &p, &n);
		mm = rl_num(p, n);
		if (rp_cap(4, &p, &n))
			ss = rl_num(p, n);
		rp_span(&a, &b);
		rl_cut(&s, a, b);
	}

	if (rp(RP_D_NUMTZ, s.data, s.len)) {
		(void)rp_cap(1, &p, &n);
		tzoff = (long long)(rl_num(p + 1, 2) * 60 + rl_num(p + 3, 2)) * 60;
		if (p[0] == '-')
			tzoff = -tzoff;
	} else if (rp(RP_D_TZ, s.data, s.len)) {
		(void)rp_cap(1, &p, &n);
		for (size_t i = 0; i < N_ELEMENTS(rl_tz); i++)
			if (strlen(rl_tz[i].name) == n && memcmp(rl_tz[i].name, p, n) == 0) {
				tzoff = rl_tz[i].off;
				break;
			}
	}
	/* every other zone is "-0000": no offset */

	if (ss > 59)
		ss = 59;
	if (mm > 59)
		mm = 59;
	if (hh > 23)
		hh = 23;
	max_dd = 31;
	if (mon == 4 || mon == 6 || mon == 9 || mon == 11)
		max_dd = 30;
	else if (mon == 2)
		max_dd = (yyyy % 4 == 0 && (yyyy % 100 != 0 || yyyy % 400 == 0)) ? 29 : 28;
	if (dd > max_dd) {
		dd = 1;
		if (++mon > 12) {
			mon = 1;
			yyyy++;
		}
	}
	if (yyyy > 2037)
		yyyy = 2037;
	else if (yyyy < 1970)
		yyyy = 1970;
	/* Time::Local croaks on day 0 (a day past the month's end was moved
	 * to the 1st above). */
	if (dd < 1 || mon < 1)
		goto out;
	t = rl_days_from_civil((long long)yyyy, (unsigned int)mon, (unsigned int)dd) * 86400 +
	    (long long)(hh * 3600 + mm * 60 + ss);
	/* A "+" zone never takes the time below 0 (year 1970). */
	if (tzoff < 0)
		t += -tzoff;
	else if (t < tzoff)
		t = 0;
	else
		t -= tzoff;
	*t_r = t;
	ok = true;
out:
	buf_free(&s);
	return ok;
}

/* ---------------------------------------------------------------------- */
/* Per-message state: what SpamAssassin caches on $pms */

struct eval_relay_state {
	bool have_date_diff;
	long long date_diff;
	bool have_hotmail;
	bool hotmail_forged, hotmail_none;
	bool have_forged;
	unsigned int mismatch_from, mismatch_ip_helo;
	bool have_dotcom;
	bool no_rdns_dotcom_helo;
	int gated;	/* -1 not yet known */
};

void
eval_relay_state_free(struct eval_relay_state **state)
{
	free(*state);
	*state = NULL;
}

static struct eval_relay_state *
rl_state(struct eval_ctx *ctx)
{
	if (ctx->relay == NULL) {
		ctx->relay = xcalloc(1, sizeof(*ctx->relay));
		ctx->relay->gated = -1;
	}
	return ctx->relay;
}

/* ---------------------------------------------------------------------- */
/* HeaderEval: dates */

/* _get_date_header_time: the first Resent-Date, else Date, value that
 * parses. */
static bool
rl_date_header_time(struct eval_ctx *ctx, long long *t_r)
{
	static const char *const names[] = { "Resent-Date", "Date" };
	struct buf v;
	bool found = false;

	buf_init(&v, 0);
	for (size_t h = 0; h < N_ELEMENTS(names) && !found; h++) {
		const char *p, *end;

		if (!rl_get_def(ctx, names[h], &v))
			continue;
		/* Decoded values hold no newline and each ends in one. */
		p = v.data;
		end = v.data + v.len;
		while (p < end && !found) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = (size_t)((nl != NULL ? nl : end) - p);

			if (n > 0 && rl_parse_date(p, n, t_r))
				found = true;
			p += n + 1;
		}
	}
	buf_free(&v);
	return found;
}

/* _get_received_header_times: the dates of the non-blank Received lines,
 * topmost first, that parse; a first line from localhost (or qmail's
 * "invoked by uid") is dropped only when a fetchmail line follows it, and
 * a fetchmail line is dropped (those are the times of the fetch).
 * Returns the count; *out is malloc'd (NULL when none). */
static size_t
rl_received_times(struct eval_ctx *ctx, long long **out)
{
	struct buf rcvd;
	const char *p, *end;
	const char *first[2] = { NULL, NULL };
	size_t flen[2] = { 0, 0 }, nfirst = 0, skip = 0, n_out = 0, cap = 0;

	*out = NULL;
	buf_init(&rcvd, 0);
	rl_get(ctx, "Received", &rcvd);
	/* no Received: data is NULL, and NULL + 0 is undefined in C */
	if (rcvd.data == NULL)
		return 0;
	end = rcvd.data + rcvd.len;
	for (p = rcvd.data; p < end && nfirst < 2;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl != NULL ? nl : end) - p);

		if (rl_has_nonspace(p, n)) {
			first[nfirst] = p;
			flen[nfirst++] = n;
		}
		p += n + 1;
	}
	if (nfirst > 0) {
		size_t next = rp(RP_RCVD_LOCAL, first[0], flen[0]) ||
				      rp(RP_RCVD_QMAIL_UID, first[0], flen[0]) ? 1 : 0;

		if (nfirst > next && rp(RP_RCVD_FETCHMAIL, first[next], flen[next]))
			skip = next + 1;
	}
	for (p = rcvd.data; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl != NULL ? nl : end) - p);
		const char *d;
		size_t dn;
		long long t;

		if (!rl_has_nonspace(p, n)) {
			/* not a line to Perl's grep */
		} else if (skip > 0) {
			skip--;
		} else if (rp(RP_RCVD_DATE, p, n) && rp_cap(1, &d, &dn) &&
			   rl_parse_date(d, dn, &t)) {
			if (n_out == cap) {
				cap = cap > 0 ? cap * 2 : 8;
				*out = xreallocarray(*out, cap, sizeof(**out));
			}
			(*out)[n_out++] = t;
		}
		p += n + 1;
	}
	buf_free(&rcvd);
	return n_out;
}

/* _check_date_diff: Date minus the Received date closest to it (the
 * bottom one left out when it equals Date and others exist); 0 when
 * either is missing. */
static long long
rl_date_diff(struct eval_ctx *ctx)
{
	struct eval_relay_state *st = rl_state(ctx);
	long long date, *times;
	size_t n;

	if (st->have_date_diff)
		return st->date_diff;
	st->have_date_diff = true;
	st->date_diff = 0;
	if (!rl_date_header_time(ctx, &date))
		return 0;
	n = rl_received_times(ctx, &times);
	if (n > 1 && date - times[n - 1] == 0)
		n--;
	/* sort { abs($a) <=> abs($b) } is a stable merge sort: of equal
	 * magnitudes the first wins. */
	for (size_t i = 0; i < n; i++) {
		long long d = date - times[i];

		if (i == 0 || llabs(d) < llabs(st->date_diff))
			st->date_diff = d;
	}
	free(times);
	return st->date_diff;
}

/* Perl's numeric value of a rule argument ('-6', '2920'). */
static double
rl_arg_num(const char *s)
{
	return strtod(s, NULL);
}

static const char *
rl_arg(const struct eval_call *call, size_t i)
{
	return i < call->arg_count && call->args[i] != NULL ? call->args[i] : "undef";
}

/* check_for_shifted_date(min, max): min <= Date - Received < max hours,
 * either bound 'undef'. */
static unsigned int
rl_check_for_shifted_date(struct eval_ctx *ctx, const struct eval_call *call)
{
	const char *min = rl_arg(call, 0), *max = rl_arg(call, 1);
	double diff = (double)rl_date_diff(ctx);

	return (strcmp(min, "undef") == 0 || diff >= 3600 * rl_arg_num(min)) &&
	       (strcmp(max, "undef") == 0 || diff < 3600 * rl_arg_num(max));
}

/* Outlook's Message-ID carries a time stamp; check_outlook_message_id
 * compares it with Date and then with the first date that
 * parse_rfc822_date finds in the whole Received text (the Perl's match
 * against a single Received date does not assign $_). */
static long long
rl_outlook_expected(const struct buf *v)
{
	long long t = 0;
	double e;

	if (!rl_parse_date(v->data != NULL ? v->data : "", v->len, &t))
		t = 0;
	e = (double)t * 0.0023283064365387;
	e += 27111902.8329849;
	return (long long)e;
}

static int
rl_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static unsigned int
rl_check_outlook_message_id(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct buf v;
	long long token = 0, diff;
	bool hit = false;

	(void)call;
	buf_init(&v, 0);
	rl_get(ctx, "MESSAGEID", &v);
	/* ^<[0-9a-f]{4}([0-9a-f]{8})\$[0-9a-f]{8}\$[0-9a-f]{8}\@ */
	if (v.len < 1 + 12 + 1 + 8 + 1 + 8 + 1 || v.data[0] != '<')
		goto out;
	for (size_t i = 1; i < 40; i++) {
		bool sep = i == 13 || i == 22;

		if (i == 31) {
			if (v.data[i] != '@')
				goto out;
			break;
		}
		if (sep ? v.data[i] != '$' : rl_hex(v.data[i]) < 0)
			goto out;
		if (i >= 5 && i < 13)
			token = token * 16 + rl_hex(v.data[i]);
	}
	rl_get(ctx, "Date", &v);
	diff = token - rl_outlook_expected(&v);
	if (llabs(diff) < 250)
		goto out;
	rl_get(ctx, "Received", &v);
	diff = token - rl_outlook_expected(&v);
	hit = llabs(diff) >= 250;
out:
	buf_free(&v);
	return hit;
}

/* check_ratware_name_id: Message-ID "<28 capitals.REST>" and From
 * "\"name\" <REST>". */
static unsigned int
rl_check_ratware_name_id(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct buf mid, from;
	const char *rest;
	size_t rn;
	bool hit = false;

	(void)call;
	buf_init(&mid, 0);
	buf_init(&from, 0);
	rl_get(ctx, "MESSAGEID", &mid);
	rl_get(ctx, "From", &from);
	if (rpb(RP_RATWARE_MID, &mid) && rp_cap(1, &rest, &rn)) {
		/* /\"[^\"]+\"\s*<\Q$1\E>/: find "<REST>", then back over
		 * \s* to a quote whose previous quote is not adjacent. */
		for (size_t i = 0; !hit && i + rn + 2 <= from.len; i++) {
			size_t q;

			if (from.data[i] != '<' || from.data[i + 1 + rn] != '>' ||
			    memcmp(from.data + i + 1, rest, rn) != 0)
				continue;
			q = i;
			while (q > 0 && rl_space((unsigned char)from.data[q - 1]))
				q--;
			if (q == 0 || from.data[q - 1] != '"')
				continue;
			q--;	/* the closing quote */
			for (size_t k = q; k > 0; k--)
				if (from.data[k - 1] == '"') {
					hit = k - 1 + 1 < q;
					break;
				}
		}
	}
	buf_free(&mid);
	buf_free(&from);
	return hit;
}

/* ASCII case-insensitive equality of n bytes (Perl's /i on octets). */
static bool
rl_eq_ci(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

/* check_ratware_envelope_from: the envelope sender holds the recipient's
 * domain and user ("dom.user@"), as some ratware built it. */
static unsigned int
rl_check_ratware_envelope_from(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct sa_settings *set = &ctx->rs->settings;
	struct buf to, from;
	struct mime_str idn = { NULL, 0, 0 }, dom = { NULL, 0, 0 };
	const char *at;
	size_t ulen;
	bool hit = false;

	(void)call;
	buf_init(&to, 0);
	buf_init(&from, 0);
	rl_get(ctx, "To:addr", &to);
	rl_get(ctx, "EnvelopeFrom:addr", &from);
	if (from.len == 0 || to.len == 0 || rpb(RP_SRS, &from))
		goto out;
	/* /^([^@]+)\@(.+)$/ */
	at = memchr(to.data, '@', to.len);
	if (at == NULL || at == to.data || (size_t)(at - to.data) + 1 >= to.len ||
	    memchr(at + 1, '\n', to.len - (size_t)(at + 1 - to.data)) != NULL)
		goto out;
	ulen = (size_t)(at - to.data);
	hdr_idn_to_ascii(at + 1, to.len - ulen - 1, &idn);
	hdr_trim_domain(set, idn.p != NULL ? idn.p : "", idn.len, &dom);
	if (dom.p == NULL || !uri_domain_valid(set, dom.p, dom.len))
		goto out;
	/* /\b\Q$dom\E.\Q$user\E@/i */
	for (size_t i = 0; !hit && i + dom.len + 1 + ulen + 1 <= from.len; i++) {
		const char *s = from.data + i;
		bool b_left = i > 0 && rl_word((unsigned char)s[-1]);

		if (dom.len == 0 || b_left == rl_word((unsigned char)dom.p[0]))
			continue;
		hit = rl_eq_ci(s, dom.p, dom.len) && s[dom.len] != '\n' &&
		      rl_eq_ci(s + dom.len + 1, to.data, ulen) && s[dom.len + 1 + ulen] == '@';
	}
out:
	mime_str_free(&idn);
	mime_str_free(&dom);
	buf_free(&to);
	buf_free(&from);
	return hit;
}

/* ---------------------------------------------------------------------- */
/* HeaderEval: forged webmail Received trails */

/* gated_through_received_hdr_remover: lists (ezmlm, MSN groups) that drop
 * the Received headers, and mail without any. */
static bool
rl_gated(struct eval_ctx *ctx)
{
	struct eval_relay_state *st = rl_state(ctx);
	struct buf v, w;
	int gated = 0;

	if (st->gated >= 0)
		return st->gated;
	buf_init(&v, 0);
	buf_init(&w, 0);
	if (rl_get_def(ctx, "Mailing-List", &v) && rpb(RP_EZMLM, &v)) {
		rl_get(ctx, "Delivered-To", &v);
		rl_get(ctx, "Received", &w);
		if (rpb(RP_EZMLM_DLTO, &v) && rpb(RP_QMAIL_INVOKED, &w))
			gated = 1;
	}
	if (!gated && (!rl_get_def(ctx, "Received", &w) || rpb(RP_MSN_GROUPS_RCVD, &w)))
		gated = 1;
	buf_free(&v);
	buf_free(&w);
	st->gated = gated;
	return gated;
}

static unsigned int
rl_gated_through_received_hdr_remover(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return rl_gated(ctx);
}

/* Perl's /$pattern/ with interpolated text: compiled per call.  Returns
 * 1 match, 0 no match, -1 when the pattern does not compile (Perl dies:
 * the rule fails). */
static int
rl_dynamic_match(const char *re, size_t re_len, const struct buf *subj)
{
	int err, rc;
	PCRE2_SIZE off;
	pcre2_code *code;
	pcre2_match_data *md;

	code = pcre2_compile((PCRE2_SPTR)re, re_len, 0, &err, &off, NULL);
	if (code == NULL)
		return -1;
	rp_setup();
	md = pcre2_match_data_create_from_pattern(code, NULL);
	if (md == NULL)
		log_panic("eval_relay: out of memory for PCRE2 match data");
	rc = pcre2_match(code, (PCRE2_SPTR)(subj->data != NULL ? subj->data : ""), subj->len, 0,
			 0, md, rp_mctx);
	pcre2_match_data_free(md);
	pcre2_code_free(code);
	return rc >= 0 ? 1 : 0;
}

/* check_for_msn_groups_headers; -1 where the Perl dies (a list name that
 * is not a valid pattern: it is interpolated into the next ones). */
static int
rl_msn_groups(struct eval_ctx *ctx)
{
	struct buf to, v, list, pat;
	const char *p;
	size_t n;
	int res = 0;

	buf_init(&to, 0);
	buf_init(&v, 0);
	buf_init(&list, 0);
	buf_init(&pat, 0);
	rl_get(ctx, "To", &to);
	if (!rpb(RP_MSN_TO, &to) || !rp_cap(1, &p, &n))
		goto out;
	buf_put(&list, p, n);
	rl_get(ctx, "Received", &v);
	if (!rpb(RP_MSN_PICKUP, &v) || !rp_cap(1, &p, &n))
		goto out;
	if (list.len == 13 && memcmp(list.data, "notifications", 13) == 0) {
		buf_put_str(&pat, "^<\\S+\\@");
		buf_put(&pat, p, n);
		buf_put_str(&pat, ">");
		rl_get(ctx, "Message-Id", &v);
		res = rl_dynamic_match(pat.data, pat.len, &v);
	} else {
		buf_put_str(&pat, "^<");
		buf_put(&pat, list.data, list.len);
		buf_put_str(&pat, "-\\S+\\@groups\\.msn\\.com>");
		rl_get(ctx, "Message-Id", &v);
		res = rl_dynamic_match(pat.data, pat.len, &v);
		if (res == 1) {
			buf_reset(&pat);
			buf_put(&pat, list.data, list.len);
			buf_put_str(&pat, "-bounce\\@groups\\.msn\\.com");
			rl_get(ctx, "EnvelopeFrom:addr", &v);
			res = rl_dynamic_match(pat.data, pat.len, &v);
		}
	}
out:
	buf_free(&to);
	buf_free(&v);
	buf_free(&list);
	buf_free(&pat);
	return res;
}

static unsigned int
rl_check_for_msn_groups_headers(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return rl_msn_groups(ctx) == 1;
}

/* _check_for_forged_hotmail_received_headers */
static void
rl_hotmail(struct eval_ctx *ctx)
{
	struct eval_relay_state *st = rl_state(ctx);
	struct buf rcvd, v;
	bool ip, orig;

	if (st->have_hotmail)
		return;
	st->have_hotmail = true;
	buf_init(&rcvd, 0);
	buf_init(&v, 0);
	rl_get(ctx, "Received", &rcvd);
	rl_squeeze(&rcvd);
	if (rpb(RP_HM_PICKUP, &rcvd) || rl_msn_groups(ctx) != 0)
		goto out;
	ip = rl_get_def(ctx, "X-Originating-Ip", &v) && rpb(RP_IP, &v);
	orig = rl_get_def(ctx, "X-OriginatorOrg", &v) && rpb(RP_HM_ORIGINATOR, &v);
	if (rl_gated(ctx))
		goto out;
	if ((ip && (rpb(RP_HM1, &rcvd) || rpb(RP_HM4, &rcvd) || rpb(RP_HM5, &rcvd) ||
		    rpb(RP_HM6, &rcvd))) ||
	    (orig && (rpb(RP_HM2, &rcvd) || rpb(RP_HM3, &rcvd))))
		goto out;
	if (rpb(RP_HM_FORGED, &rcvd)) {
		st->hotmail_forged = true;
	} else {
		rl_get(ctx, "From:addr", &v);
		if (rpb(RP_HM_FROM, &v))
			st->hotmail_none = true;
	}
out:
	buf_free(&rcvd);
	buf_free(&v);
}

static unsigned int
rl_check_for_forged_hotmail_received_headers(struct eval_ctx *ctx,
					     const struct eval_call *call)
{
	(void)call;
	rl_hotmail(ctx);
	return ctx->relay->hotmail_forged;
}

static unsigned int
rl_check_for_no_hotmail_received_headers(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	rl_hotmail(ctx);
	return ctx->relay->hotmail_none;
}

static unsigned int
rl_check_for_forged_eudoramail_received_headers(struct eval_ctx *ctx,
						const struct eval_call *call)
{
	struct buf rcvd, v;
	bool ip, hit = false;

	(void)call;
	buf_init(&rcvd, 0);
	buf_init(&v, 0);
	rl_get(ctx, "From:addr", &v);
	if (!rpb(RP_EUDORA_FROM, &v))
		goto out;
	rl_get(ctx, "Received", &rcvd);
	rl_squeeze(&rcvd);
	ip = rl_get_def(ctx, "X-Sender-Ip", &v) && rpb(RP_IP, &v);
	if (rl_gated(ctx))
		goto out;
	hit = !(rpb(RP_WHOWHERE, &rcvd) && ip);
out:
	buf_free(&rcvd);
	buf_free(&v);
	return hit;
}

static unsigned int
rl_check_for_forged_yahoo_received_headers(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct relays *rel = msgview_relays(ctx->mv);
	struct buf rcvd, from, v, w;
	bool hit = false;

	(void)call;
	buf_init(&rcvd, 0);
	buf_init(&from, 0);
	buf_init(&v, 0);
	buf_init(&w, 0);
	rl_get(ctx, "From:addr", &from);
	if (!rpb(RP_Y_FROM, &from))
		goto out;
	rl_get(ctx, "Received", &rcvd);
	rl_get(ctx, "Resent-From", &v);
	rl_get(ctx, "Resent-To", &w);
	if (v.len > 0 && w.len > 0) {
		rl_get(ctx, "X-Received", &v);
		if (v.len > 0) {
			buf_reset(&rcvd);
			buf_put(&rcvd, v.data, v.len);
		}
	}
	rl_squeeze(&rcvd);
	if (rl_gated(ctx))
		goto out;
	if (rps(RP_Y_TRUSTED, rel->str_trusted) || rps(RP_Y_UNTRUSTED, rel->str_untrusted))
		goto out;
	if (rpb(RP_Y1, &rcvd) || rpb(RP_Y2, &rcvd) || rpb(RP_Y3, &rcvd) || rpb(RP_Y4, &rcvd))
		goto out;
	if (rpb(RP_Y5, &rcvd) && rpb(RP_Y_REPLY, &from))
		goto out;
	if (rpb(RP_Y6, &rcvd))
		goto out;
	hit = true;
out:
	buf_free(&rcvd);
	buf_free(&from);
	buf_free(&v);
	buf_free(&w);
	return hit;
}

static unsigned int
rl_check_for_forged_juno_received_headers(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct buf xorig, xmailer, rcvd;
	bool hit = false;

	(void)call;
	buf_init(&xorig, 0);
	buf_init(&xmailer, 0);
	buf_init(&rcvd, 0);
	rl_get(ctx, "From:addr", &rcvd);
	if (!rpb(RP_J_FROM, &rcvd) || rl_gated(ctx))
		goto out;
	rl_get(ctx, "X-Originating-IP", &xorig);
	rl_get(ctx, "X-Mailer", &xmailer);
	rl_get(ctx, "Received", &rcvd);
	if (xorig.len > 0) {
		if (!rpb(RP_J1, &rcvd) && !rpb(RP_J2, &rcvd))
			hit = true;
		else
			hit = xmailer.len < 5 || memmem(xmailer.data, xmailer.len, "Juno ", 5) == NULL;
	} else {
		/* Every path of the Perl's else branch ends in "return 1":
		 * the last test is on the empty X-Originating-IP. */
		hit = true;
	}
out:
	buf_free(&xorig);
	buf_free(&xmailer);
	buf_free(&rcvd);
	return hit;
}

#define GOOGLE_MESSAGE_STATE_LENGTH_MIN 60
#define GOOGLE_SMTP_SOURCE_LENGTH_MIN 60

static unsigned int
rl_check_for_forged_gmail_received_headers(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct buf v, xgms, xss;
	bool hit = false;

	(void)call;
	buf_init(&v, 0);
	buf_init(&xgms, 0);
	buf_init(&xss, 0);
	rl_get(ctx, "From:addr", &v);
	if (!rpb(RP_G_FROM, &v))
		goto out;
	rl_get(ctx, "X-Gm-Message-State", &xgms);
	rl_get(ctx, "X-Google-Smtp-Source", &xss);
	rl_get(ctx, "X-Received", &v);
	if (rpb(RP_G1, &v) || rpb(RP_G2, &v))
		goto out;
	rl_get(ctx, "Received", &v);
	if (rpb(RP_G3, &v))
		goto out;
	if (xgms.len >= GOOGLE_MESSAGE_STATE_LENGTH_MIN && xss.len >= GOOGLE_SMTP_SOURCE_LENGTH_MIN)
		goto out;
	hit = true;
out:
	buf_free(&v);
	buf_free(&xgms);
	buf_free(&xss);
	return hit;
}

static unsigned int
rl_check_for_fake_aol_relay_in_rcvd(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct buf v;
	bool hit;

	(void)call;
	buf_init(&v, 0);
	rl_get(ctx, "Received", &v);
	rl_squeeze(&v);
	hit = rpb(RP_AOL_RLY, &v) && !rpb(RP_AOL_VIA, &v) && !rpb(RP_AOL_ESMTP, &v);
	buf_free(&v);
	return hit;
}

static unsigned int
rl_check_for_forged_gw05_received_headers(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct buf v;
	const char *h2;
	size_t n;
	bool hit = false;

	(void)call;
	buf_init(&v, 0);
	rl_get(ctx, "Received", &v);
	if (rpb(RP_GW05, &v) && rp_cap(2, &h2, &n))
		hit = memchr(h2, '.', n) == NULL;
	buf_free(&v);
	return hit;
}

/* ---------------------------------------------------------------------- */
/* RelayEval */

static bool
rl_is_ipv4(const char *s)
{
	return rps(RP_IS_IPV4, s);
}

static bool
rl_is_private(const char *s)
{
	return rps(RP_IS_PRIVATE, s);
}

/* check_for_numeric_helo: an IPv4 HELO among the untrusted relays.  The
 * Perl also asks that it not be private, but reads $1 after "local $1",
 * which leaves it undef there (perl warns "uninitialized value $1"): ""
 * is never private, so every such HELO counts, private ones included. */
static unsigned int
rl_check_for_numeric_helo(struct eval_ctx *ctx, const struct eval_call *call)
{
	const char *u = msgview_relays(ctx->mv)->str_untrusted;

	(void)call;
	return u[0] != '\0' && rps(RP_NUMERIC_HELO, u);
}

static unsigned int
rl_check_for_illegal_ip(struct eval_ctx *ctx, const struct eval_call *call)
{
	/* "no longer available" in SpamAssassin 4: always 0 */
	(void)ctx;
	(void)call;
	return 0;
}

static unsigned int
rl_helo_ip_mismatch(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct relays *r = msgview_relays(ctx->mv);

	(void)call;
	for (size_t i = r->num_trusted; i < r->n; i++) {
		const struct relay *rl = &r->v[i];
		size_t d = 0, k;

		if (!rl_is_ipv4(rl->helo) || rl_is_private(rl->helo))
			continue;
		if (!rl_is_ipv4(rl->ip) || rl_is_private(rl->ip) || strcmp(rl->helo, rl->ip) == 0)
			continue;
		/* $relay->{helo} =~ /^(\d+\.\d+\.\d+\.)/: a valid IPv4
		 * always has it; index($relay->{ip}, $1) != 0 */
		for (k = 0; rl->helo[k] != '\0' && d < 3; k++)
			if (rl->helo[k] == '.')
				d++;
		if (d == 3 && strncmp(rl->ip, rl->helo, k) != 0)
			return 1;
	}
	return 0;
}

static unsigned int
rl_check_for_sender_no_reverse(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct relays *r = msgview_relays(ctx->mv);
	const struct relay *s;

	(void)call;
	if (r->n == r->num_trusted)
		return 0;
	s = &r->v[r->n - 1];
	/* As written: it hits when the sender's rDNS has a dot. */
	return strchr(s->rdns, '.') != NULL && !s->ip_private;
}

static unsigned int
rl_check_for_no_rdns_dotcom_helo(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct eval_relay_state *st = rl_state(ctx);
	const struct relays *r = msgview_relays(ctx->mv);

	(void)call;
	if (!st->have_dotcom) {
		st->have_dotcom = true;
		/* _check_received_helos resets the flag for every public
		 * relay: the oldest one decides. */
		for (size_t i = r->num_trusted; i < r->n; i++) {
			const struct relay *rl = &r->v[i];

			if (rl->ip_private)
				continue;
			st->no_rdns_dotcom_helo = rps(RP_DOTCOM_HELO, rl->helo) && rl->no_reverse_dns;
		}
	}
	return st->no_rdns_dotcom_helo;
}

/* RelayEval's hostname_to_domain: h itself (no letters: an IP address;
 * or too few labels), else its last two labels (when the last has three
 * non-blank characters or holds "ie", "fr" or "de") or three.  The result
 * is a span of h: split(/\./) drops trailing empty fields and join puts
 * the dots back. */
static const char *
rl_hostname_to_domain(const char *h, size_t *len_r)
{
	size_t len = strlen(h), end = len, nparts = 1, starts[3] = { 0, 0, 0 }, run = 0;
	bool alpha = false, ok = false;

	*len_r = len;
	for (size_t i = 0; i < len; i++)
		if ((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z'))
			alpha = true;
	if (!alpha)
		return h;
	while (end > 0 && h[end - 1] == '.')
		end--;
	for (size_t i = 0; i < end; i++)
		if (h[i] == '.')
			nparts++;
	for (size_t k = 0, pos = end; k < 3 && k < nparts; k++) {
		size_t st = pos;

		while (st > 0 && h[st - 1] != '.')
			st--;
		starts[k] = st;
		if (st == 0)
			break;
		pos = st - 1;
	}
	/* $parts[-1] =~ /(?:\S{3,}|ie|fr|de)/ */
	for (size_t i = starts[0]; i < end && !ok; i++) {
		run = rl_space((unsigned char)h[i]) ? 0 : run + 1;
		if (run >= 3)
			ok = true;
		if (i + 1 < end && (memcmp(h + i, "ie", 2) == 0 || memcmp(h + i, "fr", 2) == 0 ||
				    memcmp(h + i, "de", 2) == 0))
			ok = true;
	}
	if (nparts > 1 && ok) {
		*len_r = end - starts[1];
		return h + starts[1];
	}
	if (nparts > 2) {
		*len_r = end - starts[2];
		return h + starts[2];
	}
	return h;
}

/* Perl's /^\w+(?:[\w.-]+\.)+\w+$/ without the backtracking: word
 * characters, dots and dashes only, a word character first, and after
 * the last dot (at offset 2 or later) a non-empty run of word
 * characters. */
static bool
rl_hostlike(const char *s, size_t len)
{
	size_t dot = len;

	if (len > 0 && s[len - 1] == '\n')
		len--;
	if (len == 0 || !rl_word((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!rl_word(c) && c != '.' && c != '-')
			return false;
		if (c == '.')
			dot = i;
	}
	if (dot == len || dot < 2 || dot + 1 >= len)
		return false;
	for (size_t i = dot + 1; i < len; i++)
		if (!rl_word((unsigned char)s[i]))
			return false;
	return true;
}

static bool
rl_ipv4_plain(const char *s, size_t len, size_t *classb_r)
{
	/* /^\d+\.\d+\.\d+\.\d+$/ and the length of /^(\d+\.\d+)/ */
	size_t i = 0, dots = 0;

	if (len > 0 && s[len - 1] == '\n')
		len--;
	for (;;) {
		size_t st = i;

		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == st)
			return false;
		if (i == len)
			return dots == 3;
		if (s[i] != '.' || dots == 3)
			return false;
		if (++dots == 2)
			*classb_r = i;
		i++;
	}
}

/* _check_for_forged_received */
static void
rl_forged(struct eval_ctx *ctx)
{
	struct eval_relay_state *st = rl_state(ctx);
	const struct relays *r = msgview_relays(ctx->mv);
	size_t nu = r->n - r->num_trusted;
	const char **from;
	size_t *from_len;

	if (st->have_forged)
		return;
	st->have_forged = true;
	if (nu == 0)
		return;
	from = xreallocarray(NULL, nu, sizeof(*from));
	from_len = xreallocarray(NULL, nu, sizeof(*from_len));
	for (size_t i = 0; i < nu; i++)
		from[i] = rl_hostname_to_domain(r->v[r->num_trusted + i].lc_rdns, &from_len[i]);
	for (size_t i = 0; i < nu; i++) {
		const struct relay *rl = &r->v[r->num_trusted + i];
		size_t by_len, hlo_len, hb = 0, fb = 0;
		const char *by = rl_hostname_to_domain(rl->lc_by, &by_len);
		const char *hlo = rl_hostname_to_domain(rl->lc_helo, &hlo_len);

		if (!rl_hostlike(by, by_len))
			continue;
		if (from[i] != NULL &&
		    ((from_len[i] == 9 && memcmp(from[i], "localhost", 9) == 0) ||
		     (from_len[i] == 21 && memcmp(from[i], "localhost.localdomain", 21) == 0)) &&
		    strcmp(rl->ip, "127.0.0.1") == 0)
			from[i] = NULL;
		if (rl_ipv4_plain(hlo, hlo_len, &hb) &&
		    rl_ipv4_plain(rl->ip, strlen(rl->ip), &fb) &&
		    !(strlen(rl->ip) == hlo_len && memcmp(rl->ip, hlo, hlo_len) == 0) &&
		    !(hb == fb && memcmp(hlo, rl->ip, hb) == 0)) {
			char h[64];

			if (hlo_len < sizeof(h)) {
				memcpy(h, hlo, hlo_len);
				h[hlo_len] = '\0';
				if (!rl_is_private(h))
					st->mismatch_ip_helo++;
			}
		}
		if (i > 0 && from[i - 1] != NULL && rl_hostlike(from[i - 1], from_len[i - 1]) &&
		    !(by_len == from_len[i - 1] && memcmp(by, from[i - 1], by_len) == 0) &&
		    !(by_len == 7 && memcmp(by, "msn.com", 7) == 0 && from_len[i - 1] == 11 &&
		      memcmp(from[i - 1], "hotmail.com", 11) == 0))
			st->mismatch_from++;
	}
	free(from);
	free(from_len);
}

static unsigned int
rl_check_for_forged_received_trail(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	rl_forged(ctx);
	return ctx->relay->mismatch_from > 1;
}

static unsigned int
rl_check_for_forged_received_ip_helo(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	rl_forged(ctx);
	return ctx->relay->mismatch_ip_helo > 0;
}

static const struct eval_entry eval_relay_entries[] = {
	/* HeaderEval */
	{ "check_for_shifted_date", rl_check_for_shifted_date, false },
	{ "check_outlook_message_id", rl_check_outlook_message_id, false },
	{ "check_ratware_name_id", rl_check_ratware_name_id, false },
	{ "check_ratware_envelope_from", rl_check_ratware_envelope_from, false },
	{ "gated_through_received_hdr_remover", rl_gated_through_received_hdr_remover, false },
	{ "check_for_msn_groups_headers", rl_check_for_msn_groups_headers, false },
	{ "check_for_forged_hotmail_received_headers",
	  rl_check_for_forged_hotmail_received_headers, false },
	{ "check_for_no_hotmail_received_headers", rl_check_for_no_hotmail_received_headers,
	  false },
	{ "check_for_forged_eudoramail_received_headers",
	  rl_check_for_forged_eudoramail_received_headers, false },
	{ "check_for_forged_yahoo_received_headers", rl_check_for_forged_yahoo_received_headers,
	  false },
	{ "check_for_forged_juno_received_headers", rl_check_for_forged_juno_received_headers,
	  false },
	{ "check_for_forged_gmail_received_headers", rl_check_for_forged_gmail_received_headers,
	  false },
	{ "check_for_fake_aol_relay_in_rcvd", rl_check_for_fake_aol_relay_in_rcvd, false },
	{ "check_for_forged_gw05_received_headers", rl_check_for_forged_gw05_received_headers,
	  false },
	/* RelayEval */
	{ "check_for_numeric_helo", rl_check_for_numeric_helo, false },
	{ "check_for_illegal_ip", rl_check_for_illegal_ip, false },
	{ "helo_ip_mismatch", rl_helo_ip_mismatch, false },
	{ "check_for_sender_no_reverse", rl_check_for_sender_no_reverse, false },
	{ "check_for_no_rdns_dotcom_helo", rl_check_for_no_rdns_dotcom_helo, false },
	{ "check_for_forged_received_trail", rl_check_for_forged_received_trail, false },
	{ "check_for_forged_received_ip_helo", rl_check_for_forged_received_ip_helo, false },
};

const struct eval_family eval_family_relay = {
	eval_relay_entries, N_ELEMENTS(eval_relay_entries), NULL, 0
};
