/* received_line: one Received header as SpamAssassin 4.0's
 * parse_received_line() sees it.
 *
 * The patterns are Perl's, in Received.pm's order (the first that matches
 * wins; several fall through with partial results, as there), compiled
 * with PCRE2 (JIT) on first use; IP_ADDRESS, IP_PRIVATE and LOCALHOST are
 * Mail::SpamAssassin::Constants' with the /x layout removed.  Every match
 * runs under a PCRE2 match limit: a pattern that hits it counts as not
 * matching (only hostile input gets there).  Lines are (pointer, length):
 * a header may hold NULs.
 *
 * Most patterns are tried on a line they cannot match: before PCRE2 is
 * called, a cheap precheck looks up the literals the pattern needs (its
 * "need") in an index of the byte pairs of the line, and a pattern whose
 * need is not met counts as not matching without being run.  The checks
 * only ever answer "cannot match" when that is true, so results do not
 * change (the tests hold every pattern against many lines both ways). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "log.h"
#include "received.h"
#include "received_int.h"
#include "xalloc.h"

/* ---------------------------------------------------------------------- */
/* Patterns */

/* Mail::SpamAssassin::Constants IP_ADDRESS (IPv4, IPv6, IPv4-mapped). */
#define IPRE "(?i:(?:\\b(?<!:)(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\.(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\.(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\.(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\b|(?:IPv6:|(?<![a-f0-9:]))(?:(?:(?:[a-f0-9]{1,4}:){6}|::(?:[a-f0-9]{1,4}:){0,5}|(?:[a-f0-9]{1,4}:){1,5}:|[a-f0-9]{1,4}::(?:[a-f0-9]{1,4}:){1,4}|(?:[a-f0-9]{1,4}:){2}:(?:[a-f0-9]{1,4}:){1,3}|(?:[a-f0-9]{1,4}:){3}:(?:[a-f0-9]{1,4}:){1,2}|(?:[a-f0-9]{1,4}:){4}:[a-f0-9]{1,4}:)(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\.(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\.(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\.(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)|(?:[a-f0-9]{1,4}:){7}[a-f0-9]{1,4}|:(?::[a-f0-9]{1,4}){1,7}|(?:[a-f0-9]{1,4}:){1,7}:|[a-f0-9]{1,4}:(?::[a-f0-9]{1,4}){1,6}|(?:[a-f0-9]{1,4}:){2}(?::[a-f0-9]{1,4}){1,5}|(?:[a-f0-9]{1,4}:){3}(?::[a-f0-9]{1,4}){1,4}|(?:[a-f0-9]{1,4}:){4}(?::[a-f0-9]{1,4}){1,3}|(?:[a-f0-9]{1,4}:){5}(?::[a-f0-9]{1,4}){1,2}|(?:[a-f0-9]{1,4}:){6}:[a-f0-9]{1,4}|::)(?![a-f0-9:])))"

/* Constants' LOCALHOST. */
#define LOCALHOSTRE "(?i:(?:localhost(?:\\.localdomain)?|\\b(?<!:)127\\.0\\.0\\.1\\b|(?:IPv6:|(?<![a-f0-9:]))(?:(?:(?:0{1,4}:){5}ffff:|::(?:0{1,4}:){0,4}ffff:|(?:0{1,4}:){1,4}:ffff:|0{1,4}::(?:0{1,4}:){1,3}ffff:|(?:0{1,4}:){2}:0{1,2}:ffff:|(?:0{1,4}:){3}:0:ffff:|(?:0{1,4}:){4}:ffff:)127\\.0\\.0\\.1|(?:0{1,4}:){7}0{0,3}1|:(?::0{1,4}){0,6}:0{0,3}1|0{1,4}:(?::0{1,4}){0,5}:0{0,3}1|(?:0{1,4}:){2}(?::0{1,4}){0,4}:0{0,3}1|(?:0{1,4}:){3}(?::0{1,4}){0,3}:0{0,3}1|(?:0{1,4}:){4}(?::0{1,4}){0,2}:0{0,3}1|(?:0{1,4}:){5}(?::0{1,4}){0,1}:0{0,3}1|(?:0{1,4}:){6}:0{0,3}1)(?![a-f0-9:])))"

/* Constants' IP_PRIVATE. */
#define IPPRIVRE "(?i:^(?:(?:10|127|169\\.254|172\\.(?:1[6-9]|2[0-9]|3[01])|192\\.168|100\\.(?:6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7]))\\..*|(?:(?:IPv6:|(?<![a-f0-9:]))(?:(?:(?:0{1,4}:){5}ffff:|::(?:0{1,4}:){0,4}ffff:|(?:0{1,4}:){1,4}:ffff:|0{1,4}::(?:0{1,4}:){1,3}ffff:|(?:0{1,4}:){2}:0{1,2}:ffff:|(?:0{1,4}:){3}:0:ffff:|(?:0{1,4}:){4}:ffff:)(?:10|127|169\\.254|172\\.(?:1[6-9]|2[0-9]|3[01])|192\\.168|100\\.(?:6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7]))\\..*|fe[89ab][0-9a-f]:.*|(?:0{1,4}:){7}0{0,3}1|:(?::0{1,4}){0,6}:0{0,3}1|0{1,4}:(?::0{1,4}){0,5}:0{0,3}1|(?:0{1,4}:){2}(?::0{1,4}){0,4}:0{0,3}1|(?:0{1,4}:){3}(?::0{1,4}){0,3}:0{0,3}1|(?:0{1,4}:){4}(?::0{1,4}){0,2}:0{0,3}1|(?:0{1,4}:){5}(?::0{1,4}){0,1}:0{0,3}1|(?:0{1,4}:){6}:0{0,3}1)(?![a-f0-9:]))))"

/* The HELO character class of the helo= / HELO patterns. */
#define HELOC "-A-Za-z0-9\\.\\^+_&:=?!@%*\\$\\\\\\/"

enum pat {
	/* the whole line */
	P_FROM_ANY, P_WITH_LOCAL_FOR, P_FROM_BY_SEMI, P_BRACKET_NUM, P_DATE,
	P_ID, P_HELO_EQ, P_HELO_CMD, P_BY,
	/* authentication */
	P_AUTH_WITH, P_AUTH_GMAIL, P_AUTH_GMAIL_TLS, P_AUTH_COURIER,
	P_AUTH_SENDMAIL, P_AUTH_GMX, P_AUTH_CRITPATH, P_AUTH_POSTFIX,
	P_AUTH_CGP, P_AUTH_DAV, P_AUTH_VIA_HTTP,
	/* after "from " */
	P_ENVFROM, P_SQUIRREL, P_SQUIRREL_IP, P_AOL, P_AOL_WEBMAIL,
	P_SMTPSVC, P_SMTPSVC_PICKUP, P_MSSMTP, P_MSSMTP_IP,
	P_XMAIL, P_XMAIL_ID, P_XMAIL_FROM,
	P_ECELERITY, P_ECEL_HELO, P_ECEL_IP,
	P_EXIM_LOCAL, P_EXIM_BRACKET, P_SUB_HELO, P_SUB_IDENT, P_EXIM_RDNS,
	P_EXIM_PLAIN, P_EXIM_FIRST, P_EXIM_PAREN, P_EXIM_IP, P_EXIM_BY,
	P_POSTFIX_SP, P_POSTFIX_NOSP, P_SCALIX, P_LOTUS,
	P_WITH_HTTP, P_HTTP_IMP, P_QMAIL_LDAP, P_SENDMAIL,
	P_IDENT_PREFIX, P_IDENT_AT,
	P_EXCH55, P_HELO_EQ_BY, P_UNKNOWN_DOMAIN, P_ATTBI, P_IDENT_BRACKET,
	P_HOTMAIL, P_IP_START, P_QPSMTPD, P_LHLO, P_GMX, P_SMTPD_FOR,
	P_QMAIL, P_QMAIL_A, P_QMAIL_B, P_QMAIL_C, P_QMAIL_D,
	P_YAHOO_HTTP, P_SPACE_BRACKET, P_PAREN_HELO, P_BRACKET_BY,
	P_PAREN_IP_BY, P_MDAEMON, P_MDAEMON_PRO, P_SENDMAIL_BRACKET,
	P_SENDMAIL_RDNS, P_SENDMAIL_PORT, P_SENDMAIL_AUTHBITS, P_POPIMAP,
	P_QMAILISH_HELO, P_QMAILISH, P_OUTBLAZE, P_SMAP, P_SMAP_HELO,
	P_POSTOFFICE, P_ARGOSOFT, P_SMTPL, P_BSMTP, P_SPIKE, P_YAHOO_SMTP,
	P_CGP_ACCOUNT, P_CGP_VERIFIED, P_CIPHERTRUST, P_IRONPORT,
	P_CONTENT_TECH, P_BLS, P_TUMBLEWEED, P_POBOX, P_FSECURE, P_ALTAVISTA,
	P_SMTPD32, P_CSMAP, P_MAILGATE, P_UNVERIFIED, P_PROXY, P_CGP_EXIM,
	P_KDE, P_OBTUSE, P_YAHOO_LOGIN, P_XORIG,
	/* handovers to skip */
	P_IGN_LOCAL_IDENT, P_IGN_LOCAL_ESMTP, P_IGN_AVG, P_IGN_UID,
	P_IGN_ADDR_BY, P_IGN_UNKNOWN_LOCAL, P_IGN_LOCALHOST,
	P_IGN_LOCALHOST_PAREN, P_IGN_LOCALHOST_BRACKET, P_IGN_COURIER_AUTH,
	P_IGN_UNIX, P_IGN_AMAZON, P_IGN_GROUPWISE, P_IGN_RAPTOR,
	P_QMAIL_SCANNER, P_IGN_WITH_LOCAL, P_IGN_CYRUS, P_IGN_BY_WITH,
	P_IGN_WITH_BY, P_IGN_SENDGRID, P_IGN_OPENSMTPD, P_IGN_LSMTP,
	P_IGN_MAILENABLE, P_IGN_FACEBOOK, P_IGN_GMAILAPI, P_IGN_ID_ONLY,
	P_IGN_JETSEND, P_GUESS_HELO,
	/* after "FROM " and "(from " */
	P_SIMTA, P_NAVGW, P_SUBMIT_LOCALHOST, P_JQUEUEMAIL,
	/* fall-through and clean-up */
	P_ANY_BRACKET_IP, P_RDNS_UNKNOWN, P_IP_SCOPE, P_IP_V4MAPPED,
	P_IP_PRIVATE, P_IP_ADDRESS,
	P_COUNT
};

/* need: literals the pattern cannot match without, checked before PCRE2
 * is called (a failed check is a failed match, so results do not change;
 * see need_met).  '&' separates literals that are all required, '|'
 * alternatives of which one is; a leading '^' means "starts with".  Every
 * literal is required by the pattern in any case (a caseless check), so
 * "LO " stands for (?:HELO|EHLO) and "0:0" for \d+:\d+ (the checks compare
 * byte classes: a letter in either case, any digit).  NULL: no check. */
struct pat_src {
	const char *re;
	uint32_t flags;
	const char *need;
};

#define CI PCRE2_CASELESS

static const struct pat_src pat_src[P_COUNT] = {
	[P_FROM_ANY] = { "^\\(?from ", CI },
	[P_WITH_LOCAL_FOR] = { "\\bwith local for\\b", 0,
	  "with local for" },
	[P_FROM_BY_SEMI] = { "^from (\\S+) by [^\\s;]+ ?;", CI,
	  " by &;" },
	[P_BRACKET_NUM] = { "^\\[[\\d.]+\\]$", 0 },
	[P_DATE] = { "[\\s;]+(?:(?:Mon|T(?:ue|hu)|Wed|Fri|S(?:at|un)), )?\\d+ (?:J(?:an|u[nl])|Feb|Ma[ry]|A(?:pr|ug)|Sep|Oct|Nov|Dec) \\d+ \\d+:\\d+(?::\\d+)? \\S+$", 0,
	  "0:0" },
	[P_ID] = { " id <?([^\\s<>;]{3,})", 0,
	  " id" },
	[P_HELO_EQ] = { "\\bhelo=([" HELOC "]+)(?:[^" HELOC "]|$)", 0,
	  "helo=" },
	[P_HELO_CMD] = { "\\b(?:HELO|EHLO) ([" HELOC "]+)(?:[^" HELOC "]|$)", 0,
	  "LO " },
	[P_BY] = { " by (\\S+)(?:[^-A-Za-z0-9\\;\\.]|$)", 0,
	  " by " },

	[P_AUTH_WITH] = { " with ((?:ES|L|UTF8S|UTF8L)MTPS?A|ASMTP|HTTP[SU]?)(?: |;|$)", CI,
	  " with &MTPA|MTPSA|ASMTP|HTTP" },
	[P_AUTH_GMAIL] = { " by mx\\.google\\.com with ESMTPS id [a-z0-9]{1,4}sm[0-9]{2,9}[a-z]{3}\\.[0-9]{1,3}\\.[0-9]{4}\\.(?:[0-6][0-9]\\.){4}[0-6][0-9]", 0,
	  " by mx.google.com with ESMTPS id " },
	[P_AUTH_GMAIL_TLS] = { "\\(version=([^ ]+) cipher=([^\\)]+)\\)", 0,
	  "(version=& cipher=" },
	[P_AUTH_COURIER] = { "^from .*?(?:\\]\\)|\\)\\]) \\(AUTH: (LOGIN|PLAIN|DIGEST-MD5|CRAM-MD5) \\S+(?:, .*?)?\\) by ", 0,
	  "^from & (AUTH: &) by &])|)]" },
	[P_AUTH_SENDMAIL] = { "^from .*?(?:\\](?: \\([^)]*\\))?\\)|\\)\\]) .*?\\(.*?authenticated.*?\\).*? by", 0,
	  "^from &authenticated& by" },
	[P_AUTH_GMX] = { "from \\S* \\((?:HELO|EHLO) (\\S*)\\) \\[(" IPRE ")\\] by (mail\\.gmx\\.(?:net|com)) \\([^\\)]+\\) with ((?:ESMTP|SMTP))", 0,
	  "] by mail.gmx.&LO " },
	[P_AUTH_CRITPATH] = { "\\) by .+ \\(\\d{1,2}\\.\\d\\.\\d{3}(?:\\.\\d{1,3})?\\) \\(authenticated as .+\\) id ", 0,
	  ") by &) (authenticated as & id " },
	[P_AUTH_POSTFIX] = { "\\) \\(Authenticated sender: \\S+\\) by \\S+ \\(([^\\)]+)\\) with ", 0,
	  ") (Authenticated sender: &) with " },
	[P_AUTH_CGP] = { "CommuniGate Pro (HTTP|SMTP|XIMSS|IMAP)", 0,
	  "CommuniGate Pro " },
	[P_AUTH_DAV] = { " with Microsoft Exchange Server HTTP-DAV\\b", 0,
	  " with Microsoft Exchange Server HTTP-DAV" },
	[P_AUTH_VIA_HTTP] = { " \\(via (HTTP.?)\\)(?: |;|$)", CI,
	  " (via HTTP" },

	[P_ENVFROM] = { "(?:return-path:? |envelope-(?:sender|from)[ =])(\\S+)\\b", CI,
	  "return-path|envelope-" },
	[P_SQUIRREL] = { " \\((?:SquirrelMail|NaSMail) authenticated user ", 0,
	  "Mail authenticated user " },
	[P_SQUIRREL_IP] = { "(" IPRE ")\\b(?![.-]).{10,80}by (\\S+) with HTTP", 0,
	  "by & with HTTP" },
	[P_AOL] = { "with HTTP \\(WebMailUI\\)", 0,
	  "with HTTP (WebMailUI)" },
	[P_AOL_WEBMAIL] = { "(" IPRE ") by (\\S+) \\(" IPRE "\\) with HTTP \\(WebMailUI\\)", 0,
	  ") with HTTP (WebMailUI)" },
	[P_SMTPSVC] = { "^(\\S*) \\(\\[(" IPRE ")\\][^\\)]{0,40}\\) by (\\S+) with Microsoft SMTPSVC", 0,
	  " ([&) by & with Microsoft SMTPSVC" },
	[P_SMTPSVC_PICKUP] = { "^mail pickup service by (\\S+) with Microsoft SMTPSVC$", 0,
	  "^mail pickup service by & with Microsoft SMTPSVC" },
	[P_MSSMTP] = { " with (?:Microsoft SMTP Server|mapi id) (?:\\([^\\)]+\\) )?\\d+\\.\\d+\\.\\d+\\.\\d+(?:$| )", 0,
	  " with Microsoft SMTP Server | with mapi id " },
	[P_MSSMTP_IP] = { "^(\\S+) \\(\\[?(" IPRE ")(?:%[A-Z0-9._~-]*)?\\]?\\) by (\\S+) ", 0,
	  " (&) by " },
	[P_XMAIL] = { "^(\\S+) \\((\\[?" IPRE "\\]?)(?::\\d+)\\) by (\\S+)(?: \\(\\S+\\))? with \\[XMail", 0 },
	[P_XMAIL_ID] = { " id <(\\S+)>", 0 },
	[P_XMAIL_FROM] = { " from <(\\S+)>", 0 },
	[P_ECELERITY] = { "\\(ecelerity\\b", 0,
	  "(ecelerity" },
	[P_ECEL_HELO] = { "^\\(\\[(" IPRE "):\\d+\\] helo=(\\S+)\\) by (\\S+) ", 0,
	  "^([&] helo=&) by " },
	[P_ECEL_IP] = { "^\\S+ \\(\\[(" IPRE "):\\d+\\]\\) by (\\S+) ", 0,
	  " ([&]) by " },
	[P_EXIM_LOCAL] = { "\\bwith local(?:-\\S+)? ", 0,
	  "with local" },
	[P_EXIM_BRACKET] = { "^\\[(" IPRE ")\\] \\((.*?)\\) by (\\S+) ", 0,
	  "^[&] (&) by " },
	[P_SUB_HELO] = { "helo=(\\S+)", 0,
	  "helo=" },
	[P_SUB_IDENT] = { "ident=(\\S*)", 0,
	  "ident=" },
	[P_EXIM_RDNS] = { "^(\\S+) \\(\\[(" IPRE ")\\](.*?)\\) by (\\S+) ", 0,
	  " ([&) by " },
	[P_EXIM_PLAIN] = { "^(\\S+) \\[(" IPRE ")\\](:\\d+)? by (\\S+) ", 0,
	  " [& by " },
	[P_EXIM_FIRST] = { "^(\\S+) ", 0,
	  " " },
	[P_EXIM_PAREN] = { " \\((\\S+)\\) ", 0,
	  " (&) " },
	[P_EXIM_IP] = { " \\[(" IPRE ")(?:\\.\\d+)?\\] ", 0,
	  " [&] " },
	[P_EXIM_BY] = { "by (\\S+) ", 0,
	  "by " },
	[P_POSTFIX_SP] = { "^(\\S+) \\((\\S+) \\[(" IPRE ")\\]\\) by (\\S+) ", 0,
	  " (& [&]) by " },
	[P_POSTFIX_NOSP] = { "^(\\S+) \\((\\S+)\\[(" IPRE ")\\]\\) by (\\S+) ", 0,
	  " (&]) by " },
	[P_SCALIX] = { "^(\\S+) \\( ?(" IPRE ")\\) by (\\S+)", 0,
	  " (&) by " },
	[P_LOTUS] = { "^(\\S+) \\(\\[(" IPRE ")\\]\\) by (\\S+) \\(Lotus", 0,
	  " ([&]) by & (Lotus" },
	[P_WITH_HTTP] = { "\\bwith HTTP\\b", 0,
	  "with HTTP" },
	[P_HTTP_IMP] = { "^(" IPRE ") \\(\\[" IPRE "\\]\\) by (\\S+)", 0,
	  " ([&]) by " },
	[P_QMAIL_LDAP] = { " by \\S+ \\(qmail-\\S+\\) with ", 0,
	  " by & (qmail-&) with " },
	[P_SENDMAIL] = { "^(\\S+) \\((\\S+) \\[(" IPRE ")\\].*\\) by (\\S+) \\(", 0,
	  " (& [&) by " },
	[P_IDENT_PREFIX] = { "^IDENT:([^\\@]*)\\@", 0,
	  "^IDENT:&@" },
	[P_IDENT_AT] = { "^([^\\@]*)\\@", 0,
	  "@" },
	[P_EXCH55] = { "^(\\S+) \\((\\S+) \\[(" IPRE ")\\]\\) by (\\S+) with \\S+ \\(", 0,
	  " (& [&]) by & with " },
	[P_HELO_EQ_BY] = { "^(\\S+) \\(\\[(" IPRE ")\\] helo=(\\S+)\\) by (\\S+) with ", 0,
	  " ([&] helo=&) by & with " },
	[P_UNKNOWN_DOMAIN] = { "^(\\S+) \\(<unknown\\S*>\\[(" IPRE ")\\]\\) by (\\S+) ", 0,
	  " (<unknown&]) by " },
	[P_ATTBI] = { "^(\\S+) \\((\\S+\\.\\S+)\\[(" IPRE ")\\]\\) by (\\S+) ", 0,
	  " (&]) by " },
	[P_IDENT_BRACKET] = { "^(\\S+) \\((\\S*)\\@\\[(" IPRE ")\\].*\\) by (\\S+) \\(", 0,
	  "@[&) by " },
	[P_HOTMAIL] = { "by (\\S+\\.hotmail\\.msn\\.com) ", 0,
	  "by &.hotmail.msn.com " },
	[P_IP_START] = { "^(" IPRE ") ", 0 },
	[P_QPSMTPD] = { "^(\\S+) \\((?:HELO|EHLO) (\\S*)\\) \\((" IPRE ")\\) by (\\S+) \\(qpsmtpd\\/\\S+\\) with (?:ESMTP|SMTP)", 0,
	  "(qpsmtpd/" },
	[P_LHLO] = { "^(\\S+) \\(LHLO (\\S*)\\) \\((" IPRE ")\\) by (\\S+) with LMTP", 0,
	  " (LHLO & with LMTP" },
	[P_GMX] = { "^(\\S+) \\((?:HELO|EHLO) (\\S*)\\) \\[(" IPRE ")\\] by (\\S+) \\([^\\)]+\\) with (?:ESMTP|SMTP)", 0,
	  "LO &] by &) with &SMTP" },
	[P_SMTPD_FOR] = { "^(\\S+) \\(\\[(" IPRE ")\\]\\) by (\\S+) via smtpd \\(for \\S+\\) with SMTP\\(", 0,
	  " via smtpd (for &) with SMTP(" },
	[P_QMAIL] = { "^\\S+( \\((?:HELO|EHLO) \\S*\\))? \\((\\S+\\@)?\\[?" IPRE "\\]?\\)( \\(envelope-sender <\\S+>\\))? by \\S+( \\(.+\\))* with (.* )?(SMTP|QMQP)(?! id )", 0,
	  ") by & with &SMTP|QMQP" },
	[P_QMAIL_A] = { "^(\\S+) \\((?:HELO|EHLO) ([^ \\(\\)]*)\\) \\((\\S*)\\@\\[?(" IPRE ")\\]?\\)( \\(envelope-sender <\\S+>\\))? by (\\S+)", 0 },
	[P_QMAIL_B] = { "^(\\S+) \\((?:HELO|EHLO) ([^ \\(\\)]*)\\) \\(\\[?(" IPRE ")\\]?\\)( \\(envelope-sender <\\S+>\\))? by (\\S+)", 0 },
	[P_QMAIL_C] = { "^(\\S+) \\((\\S*)\\@\\[?(" IPRE ")\\]?\\)( \\(envelope-sender <\\S+>\\))? by (\\S+)", 0 },
	[P_QMAIL_D] = { "^(\\S+) \\(\\[?(" IPRE ")\\]?\\)( \\(envelope-sender <\\S+>\\))? by (\\S+)", 0 },
	[P_YAHOO_HTTP] = { "^\\[(" IPRE ")\\] by (\\S+) via HTTP$", 0 },
	[P_SPACE_BRACKET] = { "^(\\S+) \\( \\[(" IPRE ")\\]\\).*? by (\\S+) ", 0,
	  " ( [& by " },
	[P_PAREN_HELO] = { "^\\((\\S+) \\[(" IPRE ")\\]\\) by (\\S+) ", 0,
	  "^(&]) by " },
	[P_BRACKET_BY] = { "^\\[(" IPRE ")\\] by (\\S+) ", 0,
	  "^[&] by " },
	[P_PAREN_IP_BY] = { "^\\(\\[?(" IPRE ")\\]?\\) by (\\S+) ", 0,
	  "^(&) by " },
	[P_MDAEMON] = { "^(\\S+) \\[(" IPRE ")\\] by (\\S+) \\[" IPRE "\\] with ", 0,
	  " [&] by &] with " },
	[P_MDAEMON_PRO] = { "^(\\S+) \\[\\((" IPRE ")\\)\\] by (\\S+) \\(" IPRE "\\) ", 0,
	  " [(&)] by " },
	[P_SENDMAIL_BRACKET] = { "^(\\S+) \\(\\[(" IPRE ")\\]\\) by (\\S+) \\(", 0,
	  " ([&]) by " },
	[P_SENDMAIL_RDNS] = { "^(\\S+) \\((\\S+) \\[(" IPRE ")\\]\\).*? by (\\S+)\\b", 0,
	  " (& [&])& by" },
	[P_SENDMAIL_PORT] = { "^(\\S+) \\(\\[(" IPRE ")(?:[.:]\\d+)?\\]\\).*? by (\\S+) ", 0,
	  " ([&])& by " },
	[P_SENDMAIL_AUTHBITS] = { "^(\\S+) \\((\\S+) \\[(" IPRE ")\\]\\)(?: \\(authenticated bits=\\d+\\))? by (\\S+) \\(", 0,
	  " (& [&) by " },
	[P_POPIMAP] = { "with (?:POP3|IMAP)", 0,
	  "with POP3|with IMAP" },
	[P_QMAILISH_HELO] = { "^(\\S+) \\((?:HELO|EHLO) ([^\\)]*)\\) \\((\\S*@)?\\[?(" IPRE ")\\]?\\).* by (\\S+) ", 0,
	  " (&LO & by " },
	[P_QMAILISH] = { "^(\\S+) \\((\\S*@)?\\[?(" IPRE ")\\]?\\).* by (\\S+) ", 0,
	  " (& by " },
	[P_OUTBLAZE] = { "^\\[(" IPRE ")\\] by (\\S+) with http for ", 0 },
	[P_SMAP] = { "^(\\S+)\\((" IPRE ")\\) by (\\S+) via smap ", 0 },
	[P_SMAP_HELO] = { "^(\\S+)\\((" IPRE "), (?:HELO|EHLO) (\\S*)\\) by (\\S+) via smap ", 0,
	  ", &LO &) by & via smap " },
	[P_POSTOFFICE] = { "^\\[(" IPRE ")\\] by (\\S+) \\(Post", 0 },
	[P_ARGOSOFT] = { "^\\[(" IPRE ")\\] by (\\S+) \\(ArGoSoft", 0 },
	[P_SMTPL] = { "^(" IPRE ") by (\\S+) \\((?:SMTPL|InterScan)\\b", 0,
	  " by & (SMTPL| (InterScan" },
	[P_BSMTP] = { "^\\S+ by \\S+ with BSMTP", 0 },
	[P_SPIKE] = { "^(\\S+) \\((\\S+) \\[(" IPRE ")\\]\\) by (\\S+) with ", 0,
	  " (& [&]) by & with " },
	[P_YAHOO_SMTP] = { "^(\\S+) \\((?:HELO|EHLO) (\\S*)\\) \\((?:(\\S+)\\@)?(" IPRE ").*?\\) by (\\S+) with ", 0,
	  "LO &) (&) by & with " },
	[P_CGP_ACCOUNT] = { "^\\[(" IPRE ")\\] \\((?:account \\S+ )?(?:HELO|EHLO) (\\S*)\\) by (\\S+) \\(", 0,
	  "^[&LO &) by " },
	[P_CGP_VERIFIED] = { "^(\\S+) \\(\\[(" IPRE ")\\] verified\\) by (\\S+) \\(", 0 },
	[P_CIPHERTRUST] = { "^\\(\\[(" IPRE ")\\]\\) by (\\S+) with ", 0,
	  "^([&]) by & with " },
	[P_IRONPORT] = { "^([^\\d]\\S+) \\((" IPRE ")\\) by (\\S+) ", 0,
	  " (&) by " },
	[P_CONTENT_TECH] = { "^\\S+ \\(\\S+\\) by \\S+ \\(Content Technologies ", 0,
	  " (Content Technologies " },
	[P_BLS] = { "^(\\S+) \\(\\[(" IPRE ")\\] \\[(\\S+)\\]\\) by (\\S+) with ", 0,
	  " ([&] [&]) by & with " },
	[P_TUMBLEWEED] = { "^(" IPRE ") by (\\S+) with ", 0,
	  " by & with " },
	[P_POBOX] = { "^(\\S+) \\((\\S+)\\[(" IPRE ")\\]\\) by (\\S+) ", 0,
	  " (&]) by " },
	[P_FSECURE] = { "^\\[(" IPRE ")\\]\\S+ \\((?:HELO|EHLO) (\\S*)\\) by (\\S+) ", 0,
	  "^[&LO &) by " },
	[P_ALTAVISTA] = { "^(" IPRE ") \\((?:HELO|EHLO) (\\S*)\\) by (\\S+) ", 0,
	  " (&LO &) by " },
	[P_SMTPD32] = { "^(\\S+) \\[(" IPRE ")\\] by (\\S+) ", 0,
	  " [&] by " },
	[P_CSMAP] = { "^(\\S+)\\((" IPRE ")\\) by (\\S+) ", 0,
	  ") by " },
	[P_MAILGATE] = { "^\\[(" IPRE ")\\] by (\\S+) \\(MailGate ", 0,
	  "^[& (MailGate " },
	[P_UNVERIFIED] = { "^(\\S+) \\(unverified \\[(" IPRE ")\\]\\) by (\\S+) ", 0,
	  " (unverified [&]) by " },
	[P_PROXY] = { "^(" IPRE ") \\([A-Za-z][^\\)]+\\) by (\\S+) with ", 0,
	  " (&) by & with " },
	[P_CGP_EXIM] = { "^\\[(" IPRE ")\\] \\(([^\\)]+)\\) by (\\S+) ", 0,
	  "^[&] (&) by " },
	[P_KDE] = { "^(\\S+) \\((?:\\S+\\@)?(" IPRE ")\\) by (\\S+) with ", 0,
	  " (&) by & with " },
	[P_OBTUSE] = { "^(\\S+)\\((" IPRE ")\\)(?:, claiming to be \"(\\S+)\")? via \\S+ by (\\S+),", 0,
	  " via &,& by " },
	[P_YAHOO_LOGIN] = { "^(\\S+) \\((\\S+)@(" IPRE ") with login\\) by (\\S+\\.yahoo\\.com) with SMTP", 0,
	  " with login) by &.yahoo.com with SMTP" },
	[P_XORIG] = { "^X-Originating-IP: (" IPRE ")$", 0,
	  "^X-Originating-IP: " },

	[P_IGN_LOCAL_IDENT] = { "^\\S+ \\([^\\s\\@]+\\@" LOCALHOSTRE "\\) by \\S+ \\(", 0,
	  " (&@&) by & (" },
	[P_IGN_LOCAL_ESMTP] = { "^\\S+ \\S+ by \\S+ with local-e?smtp ", 0,
	  " by & with local-&smtp " },
	[P_IGN_AVG] = { "^127\\.0\\.0\\.1 \\(AVG SMTP \\S+ \\[\\S+\\]\\)", 0,
	  "^127.0.0.1 (AVG SMTP " },
	[P_IGN_UID] = { "^\\S+\\@\\S+ by \\S+ by uid \\S+ ", 0,
	  "@& by uid " },
	[P_IGN_ADDR_BY] = { "^\\S+\\@\\S+ by \\S+ ", 0,
	  "@& by " },
	[P_IGN_UNKNOWN_LOCAL] = { "^Unknown\\/Local \\(", 0,
	  "^Unknown/Local (" },
	[P_IGN_LOCALHOST] = { "^" LOCALHOSTRE " \\((?:\\S+\\@)?" LOCALHOSTRE "[\\)\\[]", 0,
	  " (" },
	[P_IGN_LOCALHOST_PAREN] = { "^\\S+ \\((?:\\S+\\@)?" LOCALHOSTRE "\\) ", 0,
	  " (&) " },
	[P_IGN_LOCALHOST_BRACKET] = { "^\\S+ \\(\\S+\\@\\S+ \\[" LOCALHOSTRE "\\]\\) ", 0,
	  " (&@& [&]) " },
	[P_IGN_COURIER_AUTH] = { "^\\(AUTH: \\S+\\) by \\S+ with ", 0,
	  "^(AUTH: &) by & with " },
	[P_IGN_UNIX] = { "^localhost \\(localhost \\[\\[UNIX: localhost\\]\\]\\) by ", 0,
	  "^localhost (localhost [[UNIX: localhost]]) by " },
	[P_IGN_AMAZON] = { "^\\S+\\.amazon\\.com by \\S+\\.amazon\\.com with ESMTP \\(peer crosscheck: ", 0,
	  ".amazon.com by &.amazon.com with ESMTP (peer crosscheck: " },
	[P_IGN_GROUPWISE] = { "^[^\\.]+ by \\S+ with Novell_GroupWise", 0,
	  " by & with Novell_GroupWise" },
	[P_IGN_RAPTOR] = { "^no\\.name\\.available by \\S+ via smtpd \\(for ", 0,
	  "^no.name.available by & via smtpd (for " },
	[P_QMAIL_SCANNER] = { "^\\S+ by \\S+ \\(.{0,100}\\) with qmail-scanner", 0,
	  " by & (&) with qmail-scanner" },
	[P_IGN_WITH_LOCAL] = { "^\\S+ by \\S+ with local", 0,
	  " by & with local" },
	[P_IGN_CYRUS] = { "^\\S+ \\(\\[unix socket\\]\\) by \\S+ \\(Cyrus v[0-9]*?\\.[0-9]*?\\.[0-9]*?\\) with LMTPA", 0,
	  " ([unix socket]) by & (Cyrus v&) with LMTPA" },
	[P_IGN_BY_WITH] = { "^\\S+ by \\S+ (?:with|via|for|\\()", 0,
	  " by " },
	[P_IGN_WITH_BY] = { "^\\S+ (?:(?:with|via|for) \\S+|\\(unverified\\)) by\\b", 0,
	  " by" },
	[P_IGN_SENDGRID] = { "^\\S+ \\(unknown\\) by \\S+ \\(SG\\) with \\b", 0,
	  " (unknown) by & (SG) with " },
	[P_IGN_OPENSMTPD] = { "^\\S+ \\(\\S+ \\[local\\]\\) by \\S+ \\(OpenSMTPD\\) with \\b", 0,
	  " [local]) by & (OpenSMTPD) with " },
	[P_IGN_LSMTP] = { "\\(LSMTP for", 0,
	  "(LSMTP for" },
	[P_IGN_MAILENABLE] = { "^\\(\\[" LOCALHOSTRE "\\]\\) with MailEnable ", 0,
	  "^([&]) with MailEnable " },
	[P_IGN_FACEBOOK] = { "^facebook\\.com \\([^\\)]+\\) by facebook\\.com with Thrift id \\S+$", 0,
	  "^facebook.com (&) by facebook.com with Thrift id " },
	[P_IGN_GMAILAPI] = { "^\\S+ named \\S+ by gmailapi\\.google\\.com with HTTPREST$", 0,
	  " named & by gmailapi.google.com with HTTPREST" },
	[P_IGN_ID_ONLY] = { "^\\S+ id \\S+$", 0,
	  " id " },
	[P_IGN_JETSEND] = { "^\\[<.*? \\(Jetsend", 0,
	  "^[<& (Jetsend" },
	[P_GUESS_HELO] = { "^(\\S+)[^-A-Za-z0-9\\.]", 0 },

	[P_SIMTA] = { "^(\\S+) \\((\\S+) \\[(" IPRE ")\\]\\) BY (\\S+) (?:\\([^\\)]+\\) WITH SMTP )?ID <?(\\S+?)>?(?: FOR <[^>]+>)?$", 0,
	  " (& [&]) BY & ID " },
	[P_NAVGW] = { "^(\\S*) \\[(" IPRE ")\\]\\) by (\\S+) \\(NAVGW .*?\\) with ", 0,
	  " [&]) by & (NAVGW &) with " },
	[P_SUBMIT_LOCALHOST] = { "^\\S+\\@localhost\\) by \\S+ ", 0,
	  "@localhost) by " },
	[P_JQUEUEMAIL] = { "^[^\\s\\@]+\\@[^)]+\\) by \\S+\\(jqueuemail\\) id [^\\s;]+", 0,
	  "@&) by &(jqueuemail) id " },

	[P_ANY_BRACKET_IP] = { "\\[(" IPRE ")\\]", 0,
	  "[&]" },
	[P_RDNS_UNKNOWN] = { "^unknown$", CI,
	  "^unknown" },
	[P_IP_SCOPE] = { "%[A-Z0-9._~-]*\\z", CI | PCRE2_DOTALL,
	  "%" },
	[P_IP_V4MAPPED] = { "^0*:0*:(?:0*:)*ffff:(\\d+\\.\\d+\\.\\d+\\.\\d+)$", CI,
	  "^0|^:&ffff:" },
	[P_IP_PRIVATE] = { IPPRIVRE, 0,
	  "^1|^i|^f|^0|^:" },
	[P_IP_ADDRESS] = { "(" IPRE ")", 0 },
};

/* Backtracking bound per match: well above what any real header needs
 * (they are matched in well under 10^4 steps), low enough that a hostile
 * 8 KB line costs milliseconds, not seconds. */
#define RECEIVED_MATCH_LIMIT 200000
#define RECEIVED_DEPTH_LIMIT 10000

static pcre2_code *pat_code[P_COUNT];
static uint32_t pat_uses[P_COUNT];	/* interpreted matches so far */
static bool pat_jit_tried[P_COUNT];
static pcre2_match_data *rx_md;
static pcre2_match_context *rx_mctx;
static const char *rx_subj;

static pcre2_code *
pat_compile(enum pat id)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *code;

	if (pat_code[id] != NULL)
		return pat_code[id];
	code = pcre2_compile((PCRE2_SPTR)pat_src[id].re, PCRE2_ZERO_TERMINATED,
			     pat_src[id].flags, &err, &off, NULL);
	if (code == NULL) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(err, msg, sizeof(msg));
		log_panic("received: pattern %d does not compile at %zu: %s",
			  (int)id, (size_t)off, (const char *)msg);
	}
	pat_code[id] = code;
	return code;
}

static void
pat_jit(enum pat id)
{
	if (pat_jit_tried[id])
		return;
	pat_jit_tried[id] = true;
	/* Without JIT (not built in, or no executable memory) the
	 * interpreter gives the same results, only slower. */
	(void)pcre2_jit_compile(pat_compile(id), PCRE2_JIT_COMPLETE);
}

/* Byte classes of the prechecks: one per letter (either case), one for
 * all digits, one per punctuation character the needs use, one for the
 * rest; whitespace is one class with ' '.  A literal of the needs is then
 * "present" when a run of bytes of the same classes is: the check can
 * only err towards calling PCRE2. */
#define NCLASS 64
static uint8_t byte_class[256];

static void need_compile(void);

static void
byte_class_init(void)
{
	static const char punct[] = " ()[].-:;@<>=/,_\"%+!?#&*$\\|'^~{}`";
	unsigned int next = 1;

	for (int c = 'a'; c <= 'z'; c++) {
		byte_class[c] = (uint8_t)next;
		byte_class[c - 'a' + 'A'] = (uint8_t)next++;
	}
	for (int c = '0'; c <= '9'; c++)
		byte_class[c] = (uint8_t)next;
	next++;
	for (size_t i = 0; punct[i] != '\0'; i++)
		byte_class[(unsigned char)punct[i]] = (uint8_t)next++;
	for (int c = '\t'; c <= '\r'; c++)
		byte_class[c] = byte_class[' '];
	if (next > NCLASS)
		log_panic("received: %u byte classes", next);
}

static void
rx_setup(void)
{
	if (rx_md != NULL)
		return;
	byte_class_init();
	need_compile();
	rx_md = pcre2_match_data_create(16, NULL);
	rx_mctx = pcre2_match_context_create(NULL);
	if (rx_md == NULL || rx_mctx == NULL)
		log_panic("received: out of memory for PCRE2 match data");
	pcre2_set_match_limit(rx_mctx, RECEIVED_MATCH_LIMIT);
	pcre2_set_depth_limit(rx_mctx, RECEIVED_DEPTH_LIMIT);
}

void
received_patterns_compiled(unsigned int *compiled_r, unsigned int *jitted_r,
			   unsigned int *total_r)
{
	*compiled_r = *jitted_r = 0;
	for (int i = 0; i < P_COUNT; i++) {
		size_t size = 0;

		if (pat_code[i] == NULL)
			continue;
		(*compiled_r)++;
		if (pcre2_pattern_info(pat_code[i], PCRE2_INFO_JITSIZE, &size) == 0 && size > 0)
			(*jitted_r)++;
	}
	*total_r = P_COUNT;
}

void
received_init(bool jit)
{
	rx_setup();
	for (int i = 0; i < P_COUNT; i++) {
		(void)pat_compile((enum pat)i);
		if (jit)
			pat_jit((enum pat)i);
	}
}

/* Matches pattern id against s[0..len), trying start positions from
 * start on; the captures stay readable with rx_cap() until the next
 * match. */
static bool
rx_at(enum pat id, const char *s, size_t len, size_t start)
{
	pcre2_code *code;
	int rc;

	rx_setup();
	code = pat_compile(id);
	if (!pat_jit_tried[id] && ++pat_uses[id] > RECEIVED_JIT_AFTER)
		pat_jit(id);
	if (!pat_jit_tried[id]) {
		rc = pcre2_match(code, (PCRE2_SPTR)s, len, start, 0, rx_md, rx_mctx);
		if (rc != PCRE2_ERROR_MATCHLIMIT && rc != PCRE2_ERROR_DEPTHLIMIT &&
		    rc != PCRE2_ERROR_HEAPLIMIT)
			goto done;
		/* The JIT counts towards the match limit its own way: a
		 * line that runs into it gets the JIT's answer, as when
		 * every pattern was JIT-compiled from the start (and the
		 * JIT is the faster one on such lines). */
		pat_jit(id);
	}
	/* the JIT's own entry skips pcre2_match's checks; without JIT code
	 * it refuses */
	rc = pcre2_jit_match(code, (PCRE2_SPTR)s, len, start, 0, rx_md, rx_mctx);
	if (rc == PCRE2_ERROR_JIT_BADOPTION)
		rc = pcre2_match(code, (PCRE2_SPTR)s, len, start, 0, rx_md, rx_mctx);
done:
	if (rc < 0)
		return false;
	rx_subj = s;
	return true;
}

static bool
rx(enum pat id, const char *s, size_t len)
{
	return rx_at(id, s, len, 0);
}

/* Capture n of the last match; false when the group did not take part
 * (Perl's undefined $n). */
static bool
rx_cap(unsigned int n, const char **p_r, size_t *len_r)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(rx_md);

	if (n >= pcre2_get_ovector_count(rx_md) || ov[2 * n] == PCRE2_UNSET) {
		*p_r = "";
		*len_r = 0;
		return false;
	}
	*p_r = rx_subj + ov[2 * n];
	*len_r = ov[2 * n + 1] - ov[2 * n];
	return true;
}

static void
rx_span(size_t *start_r, size_t *end_r)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(rx_md);

	*start_r = ov[0];
	*end_r = ov[1];
}

/* ---------------------------------------------------------------------- */
/* Prechecks */

static bool
is_space(unsigned char c)
{
	/* Perl's \s: [ \t\n\v\f\r] */
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Which pairs of byte classes occur next to each other in the line being
 * parsed (pair[a] bit b: a byte of class a followed by one of class b),
 * and which classes occur: one pass over the line answers "can it contain
 * this literal?" for every need at a few instructions each, where a
 * memmem() or a PCRE2 call costs hundreds. */
struct line_index {
	uint64_t pair[NCLASS];
	uint64_t seen;
};

static struct line_index line_ix;

static void
line_index_build(struct line_index *ix, const char *s, size_t len)
{
	unsigned int prev;

	memset(ix, 0, sizeof(*ix));
	if (len == 0)
		return;
	prev = byte_class[(unsigned char)s[0]];
	ix->seen = UINT64_C(1) << prev;
	for (size_t i = 1; i < len; i++) {
		unsigned int c = byte_class[(unsigned char)s[i]];

		ix->pair[prev] |= UINT64_C(1) << c;
		ix->seen |= UINT64_C(1) << c;
		prev = c;
	}
}

/* Adds the pairs of s[0..len) to the index (text spliced into the line). */
static void
line_index_add(struct line_index *ix, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned int c = byte_class[(unsigned char)s[i]];

		ix->seen |= UINT64_C(1) << c;
		if (i + 1 < len)
			ix->pair[c] |= UINT64_C(1) << byte_class[(unsigned char)s[i + 1]];
	}
}

/* The needs, compiled by need_compile() into byte classes: pattern id's
 * literals are need_lit[id][0 .. need_n[id]), each group's last one
 * flagged NEED_GROUP_END. */
#define NEED_MAX_LITS 8
#define NEED_POOL 2048
#define NEED_PREFIX 1
#define NEED_GROUP_END 2

struct need_lit {
	uint16_t off;		/* into need_pool */
	uint8_t len;
	uint8_t flags;
};

static struct need_lit need_lit[P_COUNT][NEED_MAX_LITS];
static uint8_t need_n[P_COUNT];
static uint8_t need_pool[NEED_POOL];

static void
need_compile(void)
{
	size_t used = 0;

	for (int id = 0; id < P_COUNT; id++) {
		const char *g = pat_src[id].need;
		unsigned int k = 0;

		while (g != NULL && *g != '\0') {
			size_t n = strcspn(g, "|&");
			struct need_lit *l = &need_lit[id][k];

			if (k == NEED_MAX_LITS || n == 0 || n > UINT8_MAX ||
			    NEED_POOL - used < n)
				log_panic("received: need of pattern %d too big", id);
			l->flags = 0;
			if (*g == '^') {
				l->flags |= NEED_PREFIX;
				g++;
				n--;
			}
			for (size_t i = 0; i < n; i++)
				need_pool[used + i] = byte_class[(unsigned char)g[i]];
			l->off = (uint16_t)used;
			l->len = (uint8_t)n;
			used += n;
			g += n;
			if (*g != '|')
				l->flags |= NEED_GROUP_END;
			if (*g != '\0')
				g++;
			k++;
		}
		need_n[id] = (uint8_t)k;
	}
}

static bool
class_eq(const char *s, const uint8_t *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (byte_class[(unsigned char)s[i]] != c[i])
			return false;
	return true;
}

/* Can the pairs of ix hold the classes c[0..n)? */
static bool
index_maybe(const struct line_index *ix, const uint8_t *c, size_t n)
{
	if (n == 1)
		return (ix->seen >> c[0]) & 1;
	for (size_t i = 0; i + 1 < n; i++)
		if (!((ix->pair[c[i]] >> c[i + 1]) & 1))
			return false;
	return true;
}

/* Can s[0..len) hold l?  With ix (an index of a text s is part of), from
 * its pairs; else by a scan of s. */
static bool
lit_maybe(const struct need_lit *l, const char *s, size_t len, const struct line_index *ix)
{
	const uint8_t *c = need_pool + l->off;

	if (l->len > len)
		return false;
	if (l->flags & NEED_PREFIX)
		return class_eq(s, c, l->len);
	if (ix != NULL)
		return index_maybe(ix, c, l->len);
	for (size_t i = 0; i + l->len <= len; i++)
		if (class_eq(s + i, c, l->len))
			return true;
	return false;
}

/* Whether pattern id's need allows a match in s[0..len). */
static bool
need_met(enum pat id, const char *s, size_t len, const struct line_index *ix)
{
	const struct need_lit *l = need_lit[id], *end = l + need_n[id];

	while (l < end) {
		bool ok = false;

		for (;;) {
			if (!ok)
				ok = lit_maybe(l, s, len, ix);
			if (l++->flags & NEED_GROUP_END)
				break;
		}
		if (!ok)
			return false;
	}
	return true;
}

/* Can the indexed line hold the text lit[0..n)? */
static bool
index_maybe_text(const struct line_index *ix, const char *lit, size_t n)
{
	if (n == 1)
		return (ix->seen >> byte_class[(unsigned char)lit[0]]) & 1;
	for (size_t i = 0; i + 1 < n; i++)
		if (!((ix->pair[byte_class[(unsigned char)lit[i]]] >>
		       byte_class[(unsigned char)lit[i + 1]]) & 1))
			return false;
	return true;
}

/* Prechecks on, or off for the tests that compare the two. */
static bool prechecks = true;

/* rx() after the pattern's need, for a subject that is part of the line
 * line_ix was built from. */
static bool
rx_line(enum pat id, const char *s, size_t len)
{
	if (prechecks && !need_met(id, s, len, &line_ix))
		return false;
	return rx(id, s, len);
}

/* rx() after the pattern's need, for any other subject (a field). */
static bool
rx_field(enum pat id, const char *s, size_t len)
{
	if (prechecks && !need_met(id, s, len, NULL))
		return false;
	return rx(id, s, len);
}

/* ---------------------------------------------------------------------- */
/* Owned byte strings (a header may hold NULs) */

void
received_str_set(struct received_str *s, const char *p, size_t len)
{
	char *n = xmalloc(len + 1);

	memcpy(n, p, len);
	n[len] = '\0';
	free(s->p);
	s->p = n;
	s->len = len;
}

/* $field = "": in place when there is a buffer (it holds len + 1 >= 1
 * bytes), as the fields are cleared eight times a line. */
static void
str_clear(struct received_str *s)
{
	if (s->p == NULL) {
		received_str_set(s, "", 0);
		return;
	}
	s->p[0] = '\0';
	s->len = 0;
}

void
received_str_free(struct received_str *s)
{
	free(s->p);
	s->p = NULL;
	s->len = 0;
}

/* $field = $n */
static void
str_cap(struct received_str *s, unsigned int n)
{
	const char *p;
	size_t len;

	(void)rx_cap(n, &p, &len);
	received_str_set(s, p, len);
}

static bool
str_eq(const struct received_str *s, const char *lit)
{
	size_t n = strlen(lit);

	return s->len == n && (n == 0 || memcmp(s->p, lit, n) == 0);
}

/* Perl truth of a string: defined, not "" and not "0". */
bool
received_str_true(const struct received_str *s)
{
	return s->len > 0 && !(s->len == 1 && s->p[0] == '0');
}

static bool
rxs(enum pat id, const struct received_str *s)
{
	return rx_field(id, s->len > 0 ? s->p : "", s->len);
}

/* $s =~ s/PATTERN// (first match, no /g): true when something matched. */
static bool
str_subst_del(struct received_str *s, enum pat id)
{
	size_t a, b;
	char *n;

	if (!rxs(id, s))
		return false;
	rx_span(&a, &b);
	n = xmalloc(s->len - (b - a) + 1);
	memcpy(n, s->p, a);
	memcpy(n + a, s->p + b, s->len - b);
	n[s->len - (b - a)] = '\0';
	free(s->p);
	s->p = n;
	s->len -= b - a;
	return true;
}

/* P_DATE on the line s[0..len).  The part of a match after its leading
 * [\s;]+ has at most five whitespace bytes (one more when $ matches
 * before a final newline) and reaches the end, so every match starts in
 * or after the [\s;] run around the seventh whitespace byte from the
 * end; PCRE2 can start there, which finds the same leftmost match
 * without trying every space of the line (P_DATE has no lookbehind). */
static bool
date_match(const char *s, size_t len)
{
	size_t start = 0, ws = 0;

	if (!prechecks)
		return rx(P_DATE, s, len);
	if (!need_met(P_DATE, s, len, &line_ix))
		return false;
	for (size_t i = len; i > 0; i--) {
		if (is_space((unsigned char)s[i - 1]) && ++ws == 7) {
			start = i - 1;
			while (start > 0 && (is_space((unsigned char)s[start - 1]) ||
					     s[start - 1] == ';'))
				start--;
			break;
		}
	}
	return rx_at(P_DATE, s, len, start);
}

/* Whether s[0..len), part of the indexed line, holds lit. */
static bool
line_has(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	if (prechecks && !index_maybe_text(&line_ix, lit, n))
		return false;
	return memmem(s, len, lit, n) != NULL;
}

/* ---------------------------------------------------------------------- */
/* parse_received_line */

void
received_fields_free(struct received_fields *f)
{
	received_str_free(&f->ip);
	received_str_free(&f->helo);
	received_str_free(&f->rdns);
	received_str_free(&f->by);
	received_str_free(&f->id);
	received_str_free(&f->ident);
	received_str_free(&f->envfrom);
	received_str_free(&f->auth);
}

/* s/\s+/ /g; s/^ //; s/ $//; 1 while s/\s?;$//; */
static void
line_normalize(struct received_str *out, const char *in, size_t len)
{
	char *p = xmalloc(len + 1);
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (is_space((unsigned char)in[i])) {
			while (i + 1 < len && is_space((unsigned char)in[i + 1]))
				i++;
			p[n++] = ' ';
		} else
			p[n++] = in[i];
	}
	if (n > 0 && p[n - 1] == ' ')
		n--;
	if (n > 0 && p[0] == ' ') {
		memmove(p, p + 1, n - 1);
		n--;
	}
	while (n > 0 && p[n - 1] == ';') {
		n--;
		if (n > 0 && p[n - 1] == ' ')
			n--;
	}
	p[n] = '\0';
	out->p = p;
	out->len = n;
}

/* $_ =~ s/\)by /) by / */
static void
line_fix_by(struct received_str *s)
{
	const char *hit;
	size_t at;
	char *n;

	if (prechecks && !index_maybe_text(&line_ix, ")by ", 4))
		return;
	hit = memmem(s->p, s->len, ")by ", 4);
	if (hit == NULL)
		return;
	at = (size_t)(hit - s->p) + 1;
	n = xmalloc(s->len + 2);
	memcpy(n, s->p, at);
	n[at] = ' ';
	memcpy(n + at + 1, s->p + at, s->len - at);
	n[s->len + 1] = '\0';
	free(s->p);
	s->p = n;
	s->len++;
	line_index_add(&line_ix, n + at - 1, 3);	/* ") b" */
}

/* $sub =~ s/helo=(\S+)// and $helo = $1;
 * $sub =~ s/ident=(\S*)// and $ident = $1; */
static void
sub_helo_ident(struct received_fields *f, const char *p, size_t len)
{
	struct received_str sub = { NULL, 0 };
	const char *c;
	size_t clen;

	received_str_set(&sub, p, len);
	if (rxs(P_SUB_HELO, &sub)) {
		(void)rx_cap(1, &c, &clen);
		received_str_set(&f->helo, c, clen);
		(void)str_subst_del(&sub, P_SUB_HELO);
	}
	if (rxs(P_SUB_IDENT, &sub)) {
		(void)rx_cap(1, &c, &clen);
		received_str_set(&f->ident, c, clen);
	}
	received_str_free(&sub);
}

/* Leading blanks and '<'s, trailing '>'s and blanks go, as SpamAssassin's
 * two substitutions on $envfrom do. */
static void
envfrom_clean(struct received_str *e)
{
	size_t a = 0, b = e->len;

	while (a < b && is_space((unsigned char)e->p[a]))
		a++;
	while (a < b && e->p[a] == '<')
		a++;
	while (b > a && is_space((unsigned char)e->p[b - 1]))
		b--;
	while (b > a && e->p[b - 1] == '>')
		b--;
	memmove(e->p, e->p + a, b - a);
	e->len = b - a;
	e->p[e->len] = '\0';
}

/* s/[\s\000\#\[\]\(\)\<\>\|]/!/gs */
static void
strip_chars(struct received_str *s)
{
	for (size_t i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->p[i];

		if (is_space(c) || c == '\0' || c == '#' || c == '[' || c == ']' ||
		    c == '(' || c == ')' || c == '<' || c == '>' || c == '|')
			s->p[i] = '!';
	}
}

static void
found_pop_fetcher_sig(struct received_chain *ch)
{
	if (ch->allow_mailfetch_markers)
		ch->pop_fetcher_seen = true;
}

/* Sets the fields as "$helo = $a; $ip = $b; $by = $c" for the captures
 * given (0 = leave that field alone). */
static void
set3(struct received_fields *f, unsigned int helo, unsigned int ip, unsigned int by)
{
	if (helo != 0)
		str_cap(&f->helo, helo);
	if (ip != 0)
		str_cap(&f->ip, ip);
	if (by != 0)
		str_cap(&f->by, by);
}

/* The body of parse_received_line() after "from ", from the Squirrel/AOL
 * tests to the HELO guess.  Returns RECEIVED_LINE_RELAY for "goto enough",
 * RECEIVED_LINE_SKIP for "return 0" and RECEIVED_LINE_UNPARSEABLE to carry on with the
 * fall-through tests. */
static enum received_line_result
parse_from(struct received_chain *ch, struct received_fields *f, const char *s, size_t n)
{
#define M(id) rx_line((id), s, n)
#define HAS(lit) line_has(s, n, (lit))
	const char *c;
	size_t clen;

	if (M(P_ENVFROM)) {
		str_cap(&f->envfrom, 1);
		f->envfrom_defined = true;
	}

	if (M(P_SQUIRREL) && M(P_SQUIRREL_IP)) {
		set3(f, 0, 1, 2);
		return RECEIVED_LINE_RELAY;
	}

	if (HAS("aol.com") && M(P_AOL) && M(P_AOL_WEBMAIL)) {
		set3(f, 0, 1, 2);
		return RECEIVED_LINE_RELAY;
	}

	if (HAS(" SMTPSVC")) {
		if (M(P_SMTPSVC)) {
			set3(f, 1, 2, 3);
			return RECEIVED_LINE_RELAY;
		}
		if (M(P_SMTPSVC_PICKUP))
			return RECEIVED_LINE_SKIP;
	} else if (M(P_MSSMTP)) {
		if (M(P_MSSMTP_IP)) {
			set3(f, 1, 2, 3);
			str_clear(&f->id);
			return RECEIVED_LINE_RELAY;
		}
	} else if (HAS("[XMail ")) {
		if (M(P_XMAIL)) {
			set3(f, 1, 2, 3);
			if (M(P_XMAIL_ID))
				str_cap(&f->id, 1);
			if (M(P_XMAIL_FROM)) {
				str_cap(&f->envfrom, 1);
				f->envfrom_defined = true;
			}
			return RECEIVED_LINE_RELAY;
		}
	} else if (M(P_ECELERITY)) {
		if (M(P_ECEL_HELO)) {
			set3(f, 2, 1, 3);
			return RECEIVED_LINE_RELAY;
		}
		if (M(P_ECEL_IP)) {
			set3(f, 0, 1, 2);
			return RECEIVED_LINE_RELAY;
		}
	} else if (HAS("Exim")) {
		if (M(P_EXIM_LOCAL))
			return RECEIVED_LINE_SKIP;
		if (M(P_EXIM_BRACKET)) {
			set3(f, 0, 1, 3);
			(void)rx_cap(2, &c, &clen);
			sub_helo_ident(f, c, clen);
			return RECEIVED_LINE_RELAY;
		}
		if (M(P_EXIM_RDNS)) {
			str_cap(&f->rdns, 1);
			set3(f, 1, 2, 4);	/* helo defaults to the rDNS (bug 5112) */
			(void)rx_cap(3, &c, &clen);
			sub_helo_ident(f, c, clen);
			return RECEIVED_LINE_RELAY;
		}
		if (M(P_EXIM_PLAIN)) {
			str_cap(&f->rdns, 1);
			set3(f, 1, 2, 4);
			return RECEIVED_LINE_RELAY;
		}
		/* other odd Exim formats: pick up what can be had */
		if (M(P_EXIM_FIRST))
			str_cap(&f->rdns, 1);
		if (M(P_EXIM_PAREN))
			str_cap(&f->helo, 1);
		if (M(P_EXIM_IP))
			str_cap(&f->ip, 1);
		if (M(P_EXIM_BY)) {
			str_cap(&f->by, 1);
			if (received_str_true(&f->ip))
				return RECEIVED_LINE_RELAY;
		}
		/* else probably forged: fall through */
	} else if (HAS(" (Postfix) with")) {
		if (M(P_POSTFIX_SP) || M(P_POSTFIX_NOSP)) {
			f->mta_looked_up_dns = true;
			str_cap(&f->rdns, 2);
			set3(f, 1, 3, 4);
			if (str_eq(&f->rdns, "unknown"))
				str_clear(&f->rdns);
			return RECEIVED_LINE_RELAY;
		}
	} else if (HAS("(Scalix SMTP Relay")) {
		if (M(P_SCALIX)) {
			set3(f, 1, 2, 3);
			return RECEIVED_LINE_RELAY;
		}
	} else if (HAS(" (Lotus Domino ")) {
		if (M(P_LOTUS)) {
			f->mta_looked_up_dns = false;
			set3(f, 1, 2, 3);
			return RECEIVED_LINE_RELAY;
		}
	}

	if (M(P_WITH_HTTP) && M(P_HTTP_IMP)) {
		set3(f, 0, 1, 2);
		return RECEIVED_LINE_RELAY;
	}

	if (!M(P_QMAIL_LDAP) && M(P_SENDMAIL)) {
		f->mta_looked_up_dns = true;
		str_cap(&f->rdns, 2);
		set3(f, 1, 3, 4);
		if (rxs(P_IDENT_PREFIX, &f->rdns)) {
			str_cap(&f->ident, 1);
			(void)str_subst_del(&f->rdns, P_IDENT_PREFIX);
		}
		if (rxs(P_IDENT_AT, &f->rdns)) {
			str_cap(&f->ident, 1);
			(void)str_subst_del(&f->rdns, P_IDENT_AT);
		}
		return RECEIVED_LINE_RELAY;
	}

	/* OK, at this point formats get a bit non-standard */
	if (M(P_EXCH55)) {
		f->mta_looked_up_dns = true;
		str_cap(&f->rdns, 2);
		set3(f, 1, 3, 4);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_HELO_EQ_BY)) {
		str_cap(&f->rdns, 1);
		set3(f, 3, 2, 4);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_UNKNOWN_DOMAIN)) {
		set3(f, 1, 2, 3);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_ATTBI)) {
		f->mta_looked_up_dns = true;
		str_cap(&f->rdns, 2);
		set3(f, 1, 3, 4);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_IDENT_BRACKET)) {
		f->mta_looked_up_dns = true;
		str_cap(&f->ident, 2);
		set3(f, 1, 3, 4);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_HOTMAIL)) {
		str_cap(&f->by, 1);
		if (M(P_IP_START))
			str_cap(&f->ip, 1);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_QPSMTPD) || M(P_LHLO) || M(P_GMX)) {
		str_cap(&f->rdns, 1);
		set3(f, 2, 3, 4);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_SMTPD_FOR)) {
		set3(f, 1, 2, 3);
		return RECEIVED_LINE_RELAY;
	}

	/* most of the qmail possibilities; not a sendmail line with " id "
	 * after the protocol (bug 4813) */
	if (M(P_QMAIL)) {
		if (M(P_QMAIL_A)) {
			str_cap(&f->rdns, 1);
			str_cap(&f->ident, 3);
			set3(f, 2, 4, 6);
		} else if (M(P_QMAIL_B)) {
			str_cap(&f->rdns, 1);
			set3(f, 2, 3, 5);
		} else if (M(P_QMAIL_C)) {
			str_cap(&f->rdns, 1);
			str_cap(&f->ident, 2);
			set3(f, 1, 3, 5);
		} else if (M(P_QMAIL_D)) {
			str_cap(&f->rdns, 1);
			set3(f, 1, 2, 4);
		}
		if (!str_eq(&f->rdns, "unknown"))
			f->mta_looked_up_dns = true;
		else
			str_clear(&f->rdns);
		return RECEIVED_LINE_RELAY;
	}

	if (n >= 9 && memcmp(s + n - 9, " via HTTP", 9) == 0 && M(P_YAHOO_HTTP)) {
		set3(f, 0, 1, 2);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_SPACE_BRACKET)) {
		set3(f, 0, 2, 3);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_PAREN_HELO)) {
		set3(f, 1, 2, 3);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_BRACKET_BY) || M(P_PAREN_IP_BY)) {
		set3(f, 0, 1, 2);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_MDAEMON)) {
		f->mta_looked_up_dns = true;
		set3(f, 1, 2, 3);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_MDAEMON_PRO)) {
		set3(f, 1, 2, 3);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_SENDMAIL_BRACKET)) {
		f->mta_looked_up_dns = true;
		set3(f, 1, 2, 3);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_SENDMAIL_RDNS)) {
		(void)rx_cap(2, &c, &clen);
		if (clen == 10 && memcmp(c, "softdnserr", 10) == 0)
			f->mta_looked_up_dns = false;	/* bug 2326: couriertcpd */
		else {
			f->mta_looked_up_dns = true;
			str_cap(&f->rdns, 2);
		}
		set3(f, 1, 3, 4);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_SENDMAIL_PORT)) {
		f->mta_looked_up_dns = true;
		set3(f, 1, 2, 3);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_SENDMAIL_AUTHBITS)) {
		f->mta_looked_up_dns = true;
		str_cap(&f->rdns, 2);
		set3(f, 1, 3, 4);
		return RECEIVED_LINE_RELAY;
	}

	/* fetchmail, getmail: a mail fetcher handover */
	if (M(P_POPIMAP)) {
		found_pop_fetcher_sig(ch);
		return RECEIVED_LINE_SKIP;
	}

	if (M(P_QMAILISH_HELO)) {
		f->mta_looked_up_dns = true;
		str_cap(&f->rdns, 1);
		str_cap(&f->helo, 2);
		if (rx_cap(3, &c, &clen) && clen > 0 && c[clen - 1] == '@')
			clen--;
		received_str_set(&f->ident, c, clen);
		set3(f, 0, 4, 5);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_QMAILISH)) {
		f->mta_looked_up_dns = true;
		str_cap(&f->rdns, 1);
		str_cap(&f->helo, 1);	/* qmail drops HELO when = rDNS */
		if (rx_cap(2, &c, &clen) && clen > 0 && c[clen - 1] == '@')
			clen--;
		received_str_set(&f->ident, c, clen);
		set3(f, 0, 3, 4);
		return RECEIVED_LINE_RELAY;
	}

	if (HAS(" with http for ") && M(P_OUTBLAZE)) {
		set3(f, 0, 1, 2);
		return RECEIVED_LINE_RELAY;
	}
	if (HAS(" via smap ") && M(P_SMAP)) {
		f->mta_looked_up_dns = true;
		str_cap(&f->rdns, 1);
		set3(f, 0, 2, 3);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_SMAP_HELO)) {
		f->mta_looked_up_dns = true;
		str_cap(&f->rdns, 1);
		set3(f, 3, 2, 4);
		return RECEIVED_LINE_RELAY;
	}
	if ((HAS(" (Post") && M(P_POSTOFFICE)) ||
	    (HAS(" (ArGoSoft") && M(P_ARGOSOFT)) || M(P_SMTPL)) {
		set3(f, 0, 1, 2);
		return RECEIVED_LINE_RELAY;
	}
	if (HAS(" with BSMTP") && M(P_BSMTP))
		return RECEIVED_LINE_SKIP;	/* BSMTP is not a TCP/IP handover */
	if (M(P_SPIKE)) {
		f->mta_looked_up_dns = true;
		str_cap(&f->rdns, 2);
		set3(f, 1, 3, 4);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_YAHOO_SMTP)) {
		f->mta_looked_up_dns = true;
		str_cap(&f->rdns, 1);
		set3(f, 2, 4, 5);
		if (rx_cap(3, &c, &clen))
			received_str_set(&f->ident, c, clen);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_CGP_ACCOUNT)) {
		set3(f, 2, 1, 3);
		return RECEIVED_LINE_RELAY;
	}
	if (HAS(" (CommuniGate Pro") && M(P_CGP_VERIFIED)) {
		f->mta_looked_up_dns = true;
		str_cap(&f->rdns, 1);
		set3(f, 1, 2, 3);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_CIPHERTRUST)) {
		set3(f, 0, 1, 2);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_IRONPORT)) {
		set3(f, 1, 2, 3);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_CONTENT_TECH))
		return RECEIVED_LINE_SKIP;	/* useless without the IP anyway */
	if (M(P_BLS)) {
		set3(f, 1, 2, 4);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_TUMBLEWEED)) {
		set3(f, 0, 1, 2);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_POBOX)) {
		f->mta_looked_up_dns = true;
		str_cap(&f->rdns, 2);
		set3(f, 1, 3, 4);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_FSECURE) || M(P_ALTAVISTA)) {
		set3(f, 2, 1, 3);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_SMTPD32)) {
		set3(f, 1, 2, 3);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_CSMAP)) {
		str_cap(&f->rdns, 1);
		set3(f, 0, 2, 3);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_MAILGATE)) {
		set3(f, 0, 1, 2);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_UNVERIFIED)) {
		set3(f, 1, 2, 3);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_PROXY)) {
		set3(f, 0, 1, 2);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_CGP_EXIM)) {
		set3(f, 0, 1, 3);
		(void)rx_cap(2, &c, &clen);
		sub_helo_ident(f, c, clen);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_KDE)) {
		str_cap(&f->rdns, 1);
		set3(f, 0, 2, 3);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_OBTUSE)) {
		str_cap(&f->rdns, 1);
		str_cap(&f->helo, 3);	/* "" when absent */
		set3(f, 0, 2, 4);
		(void)rx_cap(1, &c, &clen);
		if (!(clen == 7 && memcmp(c, "UNKNOWN", 7) == 0))
			f->mta_looked_up_dns = true;
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_YAHOO_LOGIN)) {
		set3(f, 1, 3, 4);
		return RECEIVED_LINE_RELAY;
	}
	if (M(P_XORIG)) {
		str_cap(&f->ip, 1);
		str_clear(&f->by);
		return RECEIVED_LINE_RELAY;
	}

	/* handovers to ignore */
	if (M(P_IGN_LOCAL_IDENT) || M(P_IGN_LOCAL_ESMTP) || M(P_IGN_AVG) ||
	    M(P_IGN_UID) || M(P_IGN_ADDR_BY) || M(P_IGN_UNKNOWN_LOCAL) ||
	    M(P_IGN_LOCALHOST) || M(P_IGN_LOCALHOST_PAREN) ||
	    M(P_IGN_LOCALHOST_BRACKET) || M(P_IGN_COURIER_AUTH) ||
	    M(P_IGN_UNIX) || M(P_IGN_AMAZON) || M(P_IGN_GROUPWISE) ||
	    M(P_IGN_RAPTOR))
		return RECEIVED_LINE_SKIP;
	if (M(P_QMAIL_SCANNER)) {
		/* the next (older) handover gets this envelope sender */
		if (f->envfrom_defined) {
			envfrom_clean(&f->envfrom);
			strip_chars(&f->envfrom);
			received_str_set(&ch->qms_env_from, f->envfrom.p, f->envfrom.len);
			ch->have_qms_env_from = true;
		} else
			ch->have_qms_env_from = false;
		return RECEIVED_LINE_SKIP;
	}
	if (M(P_IGN_WITH_LOCAL) || M(P_IGN_CYRUS) || M(P_IGN_BY_WITH) ||
	    M(P_IGN_WITH_BY) || M(P_IGN_SENDGRID) || M(P_IGN_OPENSMTPD) ||
	    M(P_IGN_LSMTP) || M(P_IGN_MAILENABLE) || M(P_IGN_FACEBOOK) ||
	    M(P_IGN_GMAILAPI) || M(P_IGN_ID_ONLY) || M(P_IGN_JETSEND))
		return RECEIVED_LINE_SKIP;

	/* still no HELO: guess */
	if (!received_str_true(&f->helo) && M(P_GUESS_HELO))
		str_cap(&f->helo, 1);
	return RECEIVED_LINE_UNPARSEABLE;
#undef M
#undef HAS
}

enum received_line_result
received_line_parse(struct received_chain *ch, const char *raw, size_t rawlen, struct received_fields *f)
{
#define M(id) rx_line((id), s.p, s.len)
	struct received_str s = { NULL, 0 };
	enum received_line_result res = RECEIVED_LINE_UNPARSEABLE;
	bool has_by;
	const char *c, *rest;
	size_t clen, a, b, restlen;

	rx_setup();
	line_normalize(&s, raw, rawlen);
	line_index_build(&line_ix, s.p, s.len);
	str_clear(&f->ip);
	str_clear(&f->helo);
	str_clear(&f->rdns);
	str_clear(&f->by);
	str_clear(&f->id);
	str_clear(&f->ident);
	str_clear(&f->envfrom);
	str_clear(&f->auth);
	f->envfrom_defined = false;
	f->mta_looked_up_dns = false;

	/* only lines starting with "from" are of interest (bug 4943: and
	 * "(from") */
	if (!M(P_FROM_ANY) || M(P_WITH_LOCAL_FOR)) {
		res = RECEIVED_LINE_SKIP;
		goto out;
	}
	/* "from host by host ;" but not "from [1.2.3.4] by host;" */
	if (M(P_FROM_BY_SEMI)) {
		(void)rx_cap(1, &c, &clen);
		if (!rx(P_BRACKET_NUM, c, clen)) {
			res = RECEIVED_LINE_SKIP;
			goto out;
		}
	}

	/* the date at the end */
	if (date_match(s.p, s.len)) {
		rx_span(&a, &b);	/* \S+$: b is the end */
		s.len = a;
		s.p[s.len] = '\0';
	}
	line_fix_by(&s);

	if (M(P_ID))
		str_cap(&f->id, 1);
	if (M(P_HELO_EQ) || M(P_HELO_CMD))
		str_cap(&f->helo, 1);
	/* P_BY matching is " by " being there, which both its guards below
	 * ask */
	has_by = M(P_BY);
	if (has_by)
		str_cap(&f->by, 1);
	else
		has_by = line_has(s.p, s.len, " by ");

	/* authenticated handovers */
	if (has_by && M(P_AUTH_WITH)) {
		str_cap(&f->auth, 1);
	} else if (M(P_AUTH_GMAIL) && M(P_AUTH_GMAIL_TLS)) {
		const char *c2;
		size_t c2len;
		char *t;

		(void)rx_cap(1, &c, &clen);
		(void)rx_cap(2, &c2, &c2len);
		t = xasprintf("GMail - transport=%.*s cipher=%.*s", (int)clen, c,
			      (int)c2len, c2);
		received_str_set(&f->auth, t, strlen(t));
		free(t);
	} else if (M(P_AUTH_COURIER)) {
		str_cap(&f->auth, 1);
	} else if (line_has(s.p, s.len, "authenticated") && M(P_AUTH_SENDMAIL)) {
		received_str_set(&f->auth, "Sendmail", 8);
	} else if (M(P_AUTH_GMX)) {
		const char *c2;
		size_t c2len;
		char *t;

		(void)rx_cap(4, &c, &clen);
		(void)rx_cap(3, &c2, &c2len);
		t = xasprintf("GMX (%.*s / %.*s)", (int)clen, c, (int)c2len, c2);
		received_str_set(&f->auth, t, strlen(t));
		free(t);
	} else if (line_has(s.p, s.len, " (authenticated as ") &&
		   M(P_AUTH_CRITPATH)) {
		received_str_set(&f->auth, "CriticalPath", 12);
	} else if (M(P_AUTH_POSTFIX)) {
		(void)rx_cap(1, &c, &clen);
		if (clen == 7 && memcmp(c, "Postfix", 7) == 0)
			received_str_set(&f->auth, c, clen);
		else {
			char *t = xasprintf("Postfix (%.*s)", (int)clen, c);

			received_str_set(&f->auth, t, strlen(t));
			free(t);
		}
	} else if (M(P_AUTH_CGP) && line_has(s.p, s.len, " (account ")) {
		received_str_set(&f->auth, "Communigate", 11);
	} else if (M(P_AUTH_DAV)) {
		received_str_set(&f->auth, "HTTP-DAV", 8);
	} else if (has_by && M(P_AUTH_VIA_HTTP)) {
		str_cap(&f->auth, 1);
	}

	if (s.len >= 5 && memcmp(s.p, "from ", 5) == 0) {
		rest = s.p + 5;
		restlen = s.len - 5;
		res = parse_from(ch, f, rest, restlen);
		if (res != RECEIVED_LINE_UNPARSEABLE)
			goto done;
	} else if (s.len >= 5 && memcmp(s.p, "FROM ", 5) == 0) {
		/* simta, Rockliffe */
		rest = s.p + 5;
		restlen = s.len - 5;
		if (rx_line(P_SIMTA, rest, restlen)) {
			f->mta_looked_up_dns = true;
			str_cap(&f->rdns, 2);
			set3(f, 1, 3, 4);
			str_cap(&f->id, 5);
			if (str_eq(&f->rdns, "unverified"))
				str_clear(&f->rdns);
			res = RECEIVED_LINE_RELAY;
			goto done;
		}
	} else if (s.len >= 6 && memcmp(s.p, "(from ", 6) == 0) {
		rest = s.p + 6;
		restlen = s.len - 6;
		if (rx_line(P_NAVGW, rest, restlen)) {	/* Norton AntiVirus Gateway */
			set3(f, 1, 2, 3);
			res = RECEIVED_LINE_RELAY;
			goto done;
		}
		if (rx_line(P_SUBMIT_LOCALHOST, rest, restlen) ||
		    rx_line(P_JQUEUEMAIL, rest, restlen)) {
			res = RECEIVED_LINE_SKIP;
			goto done;
		}
	} else {
		rest = s.p;
		restlen = s.len;
	}

	/* fall-through: general patterns */
	if (!received_str_true(&f->ip) && rx_line(P_ANY_BRACKET_IP, rest, restlen))
		str_cap(&f->ip, 1);
	res = received_str_true(&f->ip) && received_str_true(&f->by) ? RECEIVED_LINE_RELAY : RECEIVED_LINE_UNPARSEABLE;

done:
	if (res == RECEIVED_LINE_RELAY) {
		/* "enough:" */
		while (f->rdns.len > 0 && f->rdns.p[f->rdns.len - 1] == '.')
			f->rdns.p[--f->rdns.len] = '\0';	/* bug 7810 */
		if (rxs(P_RDNS_UNKNOWN, &f->rdns) || (f->rdns.len > 0 && f->rdns.p[0] == '['))
			str_clear(&f->rdns);
		if (f->ip.len >= 5 && strncasecmp(f->ip.p, "ipv6:", 5) == 0)
			received_str_set(&f->ip, f->ip.p + 5, f->ip.len - 5);
		if (f->ip.len > 0 && f->ip.p[0] == '[')
			received_str_set(&f->ip, f->ip.p + 1, f->ip.len - 1);
		if (f->ip.len > 0 && f->ip.p[f->ip.len - 1] == ']')
			f->ip.p[--f->ip.len] = '\0';
		(void)str_subst_del(&f->ip, P_IP_SCOPE);
		if (rxs(P_IP_V4MAPPED, &f->ip)) {
			(void)rx_cap(1, &c, &clen);
			received_str_set(&f->ip, c, clen);
		}
		if (f->by.len > 0 && f->by.p[f->by.len - 1] == ';')
			f->by.p[--f->by.len] = '\0';
		strip_chars(&f->ip);
		strip_chars(&f->rdns);
		strip_chars(&f->helo);
		strip_chars(&f->by);
		strip_chars(&f->ident);
		if (f->envfrom_defined) {
			envfrom_clean(&f->envfrom);
			strip_chars(&f->envfrom);
		}
	}
out:
	received_str_free(&s);
	return res;
#undef M
}

bool
received_ip_private(const char *ip)
{
	return rx_field(P_IP_PRIVATE, ip, strlen(ip));
}

bool
received_first_ip(const char *s, size_t len, const char **ip_r, size_t *len_r)
{
	if (!rx(P_IP_ADDRESS, s, len))
		return false;
	(void)rx_cap(1, ip_r, len_r);
	return true;
}

void
received_prechecks_set(bool on)
{
	prechecks = on;
}

unsigned int
received_pattern_count(void)
{
	return P_COUNT;
}

unsigned int
received_pattern_check(unsigned int id, const char *s, size_t len)
{
	struct line_index saved = line_ix;
	unsigned int r = 0;
	bool m;
	size_t a = 0, b = 0;

	if (id >= P_COUNT)
		return 0;
	rx_setup();
	line_index_build(&line_ix, s, len);
	m = rx((enum pat)id, s, len);
	if (m) {
		r |= RECEIVED_CHECK_MATCH;
		rx_span(&a, &b);
	}
	if (need_met((enum pat)id, s, len, &line_ix))
		r |= RECEIVED_CHECK_INDEX;
	if (need_met((enum pat)id, s, len, NULL))
		r |= RECEIVED_CHECK_SCAN;
	if (need_n[id] > 0)
		r |= RECEIVED_CHECK_NEED;
	if (id == P_DATE) {
		bool prev = prechecks;
		size_t a2 = 0, b2 = 0;
		bool m2;

		prechecks = true;
		m2 = date_match(s, len);
		prechecks = prev;
		if (m2)
			rx_span(&a2, &b2);
		if (m2 == m && a2 == a && b2 == b)
			r |= RECEIVED_CHECK_SAME;
	} else
		r |= RECEIVED_CHECK_SAME;
	line_ix = saved;
	return r;
}
