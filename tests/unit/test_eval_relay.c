/* Unit tests for eval_relay.c: SpamAssassin's Date-against-Received,
 * Outlook Message-ID, ratware, forged-webmail Received and RelayEval
 * tests, each through a real rule line and a hand-built message, hit and
 * miss.  The expectations are SpamAssassin's (tests/tools/sa_eval_cases.py
 * runs these cases through it when LMTPD_EVAL_CASES_DIR is set), plus
 * hostile input (huge and NUL-laden headers) that must neither crash nor
 * take long, and a check that no result depends on the local time zone. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "check_compat.h"
#include "eval_harness.h"
#include "rules.h"

static const char rules_cf[] =
	"header PAST_03_06 eval:check_for_shifted_date('-6', '-3')\n"
	"header PAST_06_12 eval:check_for_shifted_date('-12', '-6')\n"
	"header PAST_96_XX eval:check_for_shifted_date('undef', '-96')\n"
	"header FUT_03_06 eval:check_for_shifted_date('3', '6')\n"
	"header FUT_12_24 eval:check_for_shifted_date('12', '24')\n"
	"header FUT_Q_PLUS eval:check_for_shifted_date('2920', 'undef')\n"
	"header OUTLOOK eval:check_outlook_message_id()\n"
	"header RATWARE_NAME eval:check_ratware_name_id()\n"
	"header RATWARE_EFROM eval:check_ratware_envelope_from()\n"
	"header GATED eval:gated_through_received_hdr_remover()\n"
	"header HM_FORGED eval:check_for_forged_hotmail_received_headers()\n"
	"header HM_NONE eval:check_for_no_hotmail_received_headers()\n"
	"header MSN_GROUPS eval:check_for_msn_groups_headers()\n"
	"header EUDORA eval:check_for_forged_eudoramail_received_headers()\n"
	"header YAHOO eval:check_for_forged_yahoo_received_headers()\n"
	"header JUNO eval:check_for_forged_juno_received_headers()\n"
	"header GMAIL eval:check_for_forged_gmail_received_headers()\n"
	"header AOL eval:check_for_fake_aol_relay_in_rcvd()\n"
	"header GW05 eval:check_for_forged_gw05_received_headers()\n"
	"header NUM_HELO eval:check_for_numeric_helo()\n"
	"header ILLEGAL_IP eval:check_for_illegal_ip()\n"
	"header HELO_IP eval:helo_ip_mismatch()\n"
	"header NO_REVERSE eval:check_for_sender_no_reverse()\n"
	"header DOTCOM_HELO eval:check_for_no_rdns_dotcom_helo()\n"
	"header RCVD_TRAIL eval:check_for_forged_received_trail()\n"
	"header IP_HELO eval:check_for_forged_received_ip_helo()\n"
	"trusted_networks 10.0.0.0/8\n"
	"util_rb_tld com net org\n";

/* Received at 22 Nov 2026 10:00:00 UTC from a public relay. */
#define RCVD(date) \
	"Received: from mail.example.org (mail.example.org [81.2.69.160])\n" \
	"\tby mx.example.com (Postfix) with ESMTP id AAA1\n" \
	"\tfor <a@example.com>; " date "\n"
#define RCVD10 RCVD("Sun, 22 Nov 2026 10:00:00 +0000")
#define TO "To: a@example.com\n"

/* ---- Date against Received, Outlook Message-ID ---- */

static const char *const date_names[] = {
	"PAST_03_06", "PAST_06_12", "PAST_96_XX", "FUT_03_06", "FUT_12_24", "FUT_Q_PLUS",
	"OUTLOOK",
};

static const struct eval_case date_cases[] = {
	{ "date matches", NULL, RCVD10 "Date: Sun, 22 Nov 2026 10:00:00 +0000\n" TO "\nx\n", "" },
	{ "4.5 hours ahead", NULL, RCVD10 "Date: Sun, 22 Nov 2026 14:30:00 +0000\n" TO "\nx\n",
	  "FUT_03_06" },
	{ "5 hours behind", NULL, RCVD10 "Date: Sun, 22 Nov 2026 05:00:00 +0000\n" TO "\nx\n",
	  "PAST_03_06" },
	/* EST is -0500: 10:00 EST is 15:00 UTC. */
	{ "named zone", NULL, RCVD10 "Date: Sun, 22 Nov 2026 10:00:00 EST\n" TO "\nx\n",
	  "FUT_03_06" },
	/* An unknown zone counts as -0000; so does a lowercase one. */
	{ "unknown zone", NULL, RCVD10 "Date: Sun, 22 Nov 2026 10:00:00 XYZ\n" TO "\nx\n", "" },
	{ "lowercase zone", NULL, RCVD10 "Date: Sun, 22 Nov 2026 15:00:00 est\n" TO "\nx\n",
	  "FUT_03_06" },
	/* two-digit year (< 50 is 20xx), no seconds */
	{ "two-digit year", NULL, RCVD10 "Date: 22 Nov 26 23:00 +0000\n" TO "\nx\n", "FUT_12_24" },
	{ "years ahead", NULL, RCVD10 "Date: Thu, 1 Jan 2037 00:00:00 +0000\n" TO "\nx\n",
	  "FUT_Q_PLUS" },
	/* past 2037 is forced to 2037 */
	{ "year 2099", NULL, RCVD10 "Date: 1 Jan 2099 00:00:00 +0000\n" TO "\nx\n", "FUT_Q_PLUS" },
	{ "five days behind", NULL, RCVD10 "Date: Tue, 17 Nov 2026 10:00:00 +0000\n" TO "\nx\n",
	  "PAST_96_XX" },
	/* 31 Nov is moved to 1 Dec: four hours after this Received */
	{ "day past month end", NULL,
	  RCVD("Tue, 1 Dec 2026 06:00:00 +0000") "Date: 31 Nov 2026 10:00:00 +0000\n" TO "\nx\n",
	  "FUT_03_06" },
	{ "day zero", NULL, RCVD10 "Date: 0 Dec 2026 10:00:00 +0000\n" TO "\nx\n", "" },
	/* hour 99 is forced to 23 */
	{ "hour out of range", NULL, RCVD10 "Date: 22 Nov 2026 99:00:00 +0000\n" TO "\nx\n",
	  "FUT_12_24" },
	/* "Mon DD hh:mm:ss YYYY": the time goes with the date match, so
	 * the time of day reads as 00:00:00, ten hours behind. */
	{ "asctime form", NULL, RCVD10 "Date: Sun Nov 22 14:30:00 2026\n" TO "\nx\n",
	  "PAST_06_12" },
	{ "no date", NULL, RCVD10 TO "\nx\n", "" },
	{ "unparseable date", NULL, RCVD10 "Date: yesterday, around noon\n" TO "\nx\n", "" },
	{ "no received", NULL, "Date: Sun, 22 Nov 2026 18:00:00 +0000\n" TO "\nx\n", "" },
	/* The Received date closest to Date wins. */
	{ "closest received", NULL,
	  RCVD10 RCVD("Sun, 22 Nov 2026 09:00:00 +0000")
	  "Date: Sun, 22 Nov 2026 13:30:00 +0000\n" TO "\nx\n", "FUT_03_06" },
	/* A bottom Received equal to Date is left out when others exist. */
	{ "bottom equal to date dropped", NULL,
	  RCVD("Sun, 22 Nov 2026 14:00:00 +0000") RCVD("Sun, 22 Nov 2026 09:00:00 +0000")
	  "Date: Sun, 22 Nov 2026 09:00:00 +0000\n" TO "\nx\n", "PAST_03_06" },
	/* Resent-Date comes first. */
	{ "resent-date", NULL,
	  RCVD10 "Resent-Date: Sun, 22 Nov 2026 14:30:00 +0000\n"
	  "Date: Sun, 22 Nov 2026 10:00:00 +0000\n" TO "\nx\n", "FUT_03_06" },
	/* A fetchmail line is the time of the fetch and is skipped. */
	{ "fetchmail line skipped", NULL,
	  "Received: from mx.example.com [81.2.69.1]\n\tby localhost with POP3 (fetchmail-6.4.37)\n"
	  "\tfor <a@localhost> (single-drop); Sun, 22 Nov 2026 14:00:00 +0000 (UTC)\n"
	  RCVD10 "Date: Sun, 22 Nov 2026 14:30:00 +0000\n" TO "\nx\n", "FUT_03_06" },
	/* Outlook's time stamp 01dd7a68 is 22 Nov 2026 10:00:00 UTC. */
	{ "outlook id matches date", NULL,
	  RCVD10 "Date: Sun, 22 Nov 2026 10:00:00 +0000\n"
	  "Message-ID: <000001dd7a68$0123abcd$4567ef01@pc>\n" TO "\nx\n", "" },
	/* 01dd78d5 is 20 Nov 2026 10:00: matches neither Date nor Received. */
	{ "outlook id off", NULL,
	  RCVD10 "Date: Sun, 22 Nov 2026 10:00:00 +0000\n"
	  "Message-ID: <000001dd78d5$0123abcd$4567ef01@pc>\n" TO "\nx\n", "OUTLOOK" },
	{ "outlook id matches received", NULL,
	  RCVD("Fri, 20 Nov 2026 10:00:00 +0000") "Date: Sun, 22 Nov 2026 10:00:00 +0000\n"
	  "Message-ID: <000001dd78d5$0123abcd$4567ef01@pc>\n" TO "\nx\n", "" },
	{ "outlook id uppercase hex", NULL,
	  RCVD10 "Date: Sun, 22 Nov 2026 10:00:00 +0000\n"
	  "Message-ID: <000001DD78D5$0123ABCD$4567EF01@pc>\n" TO "\nx\n", "" },
};

/* ---- ratware ---- */

static const char *const ratware_names[] = { "RATWARE_NAME", "RATWARE_EFROM" };

#define RATWARE_MID "Message-ID: <ABCDEFGHIJKLMNOPQRSTUVWXYZAB.bob@example.org>\n"

static const struct eval_case ratware_cases[] = {
	{ "name id", NULL, RCVD10 RATWARE_MID "From: \"Bob Smith\" <bob@example.org>\n" TO "\nx\n",
	  "RATWARE_NAME" },
	{ "name id, no phrase", NULL, RCVD10 RATWARE_MID "From: bob@example.org\n" TO "\nx\n", "" },
	{ "name id, empty phrase", NULL, RCVD10 RATWARE_MID "From: \"\" <bob@example.org>\n" TO
	  "\nx\n", "" },
	{ "name id, 27 capitals", NULL,
	  RCVD10 "Message-ID: <ABCDEFGHIJKLMNOPQRSTUVWXYZA.bob@example.org>\n"
	  "From: \"Bob\" <bob@example.org>\n" TO "\nx\n", "" },
	{ "envelope from", "bounce-example.com-alice@spam.example.net",
	  RCVD10 "To: alice@example.com\n\nx\n", "RATWARE_EFROM" },
	{ "envelope from, other user", "bounce-example.com-bob@spam.example.net",
	  RCVD10 "To: alice@example.com\n\nx\n", "" },
	{ "envelope from, SRS", "SRS0=abcd=example.com-alice@spam.example.net",
	  RCVD10 "To: alice@example.com\n\nx\n", "" },
	/* the domain is trimmed to its registered part */
	{ "envelope from, subdomain", "x.example.com.alice@spam.example.net",
	  RCVD10 "To: alice@mail.example.com\n\nx\n", "RATWARE_EFROM" },
	{ "envelope from, unknown tld", "x.example.zz.alice@spam.example.net",
	  RCVD10 "To: alice@example.zz\n\nx\n", "" },
};

/* ---- forged webmail Received trails ---- */

static const char *const webmail_names[] = {
	"GATED", "HM_FORGED", "HM_NONE", "MSN_GROUPS", "EUDORA", "YAHOO", "JUNO", "GMAIL", "AOL",
	"GW05",
};

static const struct eval_case webmail_cases[] = {
	{ "plain", NULL, RCVD10 "From: bob@example.org\n" TO "\nx\n", "" },
	/* Without any Received header the mail went through a remover. */
	{ "no received", NULL, "From: bob@hotmail.com\n" TO "\nx\n", "GATED" },
	{ "no received, gmail", NULL, "From: bob@gmail.com\n" TO "\nx\n", "GATED GMAIL" },
	{ "ezmlm", NULL,
	  "Mailing-List: contact list-help@example.org; run by ezmlm\n"
	  "Delivered-To: mailing list list@example.org\n"
	  "Received: (qmail 1234 invoked from network); 22 Nov 2026 10:00:00 -0000\n"
	  RCVD10 "From: bob@example.org\n" TO "\nx\n", "GATED" },
	{ "hotmail from, no hotmail relay", NULL, RCVD10 "From: bob@Hotmail.com\n" TO "\nx\n",
	  "HM_NONE" },
	{ "hotmail helo forged", NULL,
	  "Received: from hotmail.com ([81.2.69.160]) by mx.example.com with SMTP; "
	  "Sun, 22 Nov 2026 10:00:00 +0000\n" "From: bob@example.org\n" TO "\nx\n", "HM_FORGED" },
	{ "hotmail genuine", NULL,
	  "Received: from mc1-f1.hotmail.com (mc1-s1.hotmail.com [65.54.236.1])\n"
	  "\tby mx.example.com (Postfix) with ESMTP id AAA1; Sun, 22 Nov 2026 10:00:00 +0000\n"
	  "X-Originating-IP: [81.2.69.7]\n" "From: bob@hotmail.com\n" TO "\nx\n", "" },
	{ "hotmail relay without originating ip", NULL,
	  "Received: from mc1-f1.hotmail.com (mc1-s1.hotmail.com [65.54.236.1])\n"
	  "\tby mx.example.com (Postfix) with ESMTP id AAA1; Sun, 22 Nov 2026 10:00:00 +0000\n"
	  "From: bob@hotmail.com\n" TO "\nx\n", "HM_FORGED" },
	{ "msn groups", "mylist-bounce@groups.msn.com",
	  "Received: from mail pickup service by p12.groups.msn.com with Microsoft SMTPSVC;\n"
	  "\tSun, 22 Nov 2026 10:00:00 -0800\n"
	  "To: <mylist@groups.msn.com>\nMessage-Id: <mylist-abc123@groups.msn.com>\n"
	  "From: bob@hotmail.com\n\nx\n", "MSN_GROUPS" },
	{ "msn groups, other message-id", "mylist-bounce@groups.msn.com",
	  "Received: from mail pickup service by p12.groups.msn.com with Microsoft SMTPSVC;\n"
	  "\tSun, 22 Nov 2026 10:00:00 -0800\n"
	  "To: <mylist@groups.msn.com>\nMessage-Id: <abc123@example.org>\n"
	  "From: bob@hotmail.com\n\nx\n", "HM_NONE" },
	{ "eudoramail", NULL, RCVD10 "From: bob@eudoramail.com\n" TO "\nx\n", "EUDORA" },
	{ "yahoo forged", NULL, RCVD10 "From: bob@yahoo.com\n" TO "\nx\n", "YAHOO" },
	{ "yahoo web", NULL,
	  "Received: from [81.2.69.160] by web12345.mail.yahoo.com via HTTP;\n"
	  "\tSun, 22 Nov 2026 10:00:00 PST\n" "From: bob@yahoo.com\n" TO "\nx\n", "" },
	{ "yahoo relay rdns", NULL,
	  "Received: from smtp1.mail.yahoo.com (smtp1.mail.yahoo.com [216.136.1.1])\n"
	  "\tby mx.example.com (Postfix) with ESMTP id AAA1; Sun, 22 Nov 2026 10:00:00 +0000\n"
	  "From: bob@yahoo.com\n" TO "\nx\n", "" },
	{ "juno without originating ip", NULL, RCVD10 "From: bob@juno.com\n" TO "\nx\n", "JUNO" },
	{ "juno genuine", NULL,
	  "Received: from m1.juno.com (m1.juno.com [64.136.1.1])\n"
	  "\tby mx.example.com (Postfix) with ESMTP id AAA1; Sun, 22 Nov 2026 10:00:00 +0000\n"
	  "X-Originating-IP: [81.2.69.7]\nX-Mailer: Juno 5.0.33\n"
	  "From: bob@juno.com\n" TO "\nx\n", "" },
	{ "juno, other mailer", NULL,
	  "Received: from m1.juno.com (m1.juno.com [64.136.1.1])\n"
	  "\tby mx.example.com (Postfix) with ESMTP id AAA1; Sun, 22 Nov 2026 10:00:00 +0000\n"
	  "X-Originating-IP: [81.2.69.7]\nX-Mailer: Outlook\n"
	  "From: bob@juno.com\n" TO "\nx\n", "JUNO" },
	{ "gmail forged", NULL, RCVD10 "From: bob@gmail.com\n" TO "\nx\n", "GMAIL" },
	{ "gmail genuine", NULL,
	  "Received: from pc (host.example.net. [81.2.69.7])\n"
	  "\tby smtp.googlemail.com with ESMTPSA id abc123; Sun, 22 Nov 2026 10:00:00 -0800\n"
	  "From: bob@gmail.com\n" TO "\nx\n", "" },
	{ "aol relay", NULL,
	  "Received: from rly-xa01.mx.aol.com (rly-xa01.mx.aol.com [81.2.69.9])\n"
	  "\tby mx.example.com (Postfix) with ESMTP id AAA1; Sun, 22 Nov 2026 10:00:00 +0000\n"
	  "From: bob@example.org\n" TO "\nx\n", "AOL" },
	{ "aol relay genuine", NULL,
	  "Received: from rly-xa01.mx.aol.com (rly-xa01.mail.aol.com [81.2.69.9])\n"
	  "\tby mx.example.com (8.8.8/8.8.8/AOL-5.0.0) with ESMTP id AAA1;\n"
	  "\tSun, 22 Nov 2026 10:00:00 +0000\n" "From: bob@example.org\n" TO "\nx\n", "" },
	{ "gw05", NULL,
	  RCVD10 "Received: from abc by gw05 with ESMTP; Sun, 22 Nov 2026 09:00:00 +0000\n"
	  "From: bob@example.org\n" TO "\nx\n", "GW05" },
	{ "gw05 with a dotted host", NULL,
	  RCVD10 "Received: from abc by gw05.example.com with ESMTP; Sun, 22 Nov 2026 09:00:00 +0000\n"
	  "From: bob@example.org\n" TO "\nx\n", "" },
};

/* ---- RelayEval ---- */

static const char *const relay_names[] = {
	"NUM_HELO", "ILLEGAL_IP", "HELO_IP", "NO_REVERSE", "DOTCOM_HELO", "RCVD_TRAIL", "IP_HELO",
};

#define RCVD_HOP(helo, rdns, ip, by) \
	"Received: from " helo " (" rdns " [" ip "])\n" \
	"\tby " by " (Postfix) with ESMTP id AAA1; Sun, 22 Nov 2026 10:00:00 +0000\n"

static const struct eval_case relay_cases[] = {
	{ "plain", NULL, RCVD10 TO "\nx\n", "NO_REVERSE" },
	{ "private sender", NULL, RCVD_HOP("pc.lan", "pc.lan", "192.168.1.2", "mx.example.com")
	  TO "\nx\n", "" },
	{ "numeric helo elsewhere", NULL,
	  RCVD_HOP("81.2.69.1", "mail.example.org", "82.3.4.5", "mx.example.com") TO "\nx\n",
	  "NUM_HELO HELO_IP NO_REVERSE IP_HELO" },
	{ "numeric helo, same /24", NULL,
	  RCVD_HOP("81.2.69.1", "mail.example.org", "81.2.69.5", "mx.example.com") TO "\nx\n",
	  "NUM_HELO NO_REVERSE" },
	{ "numeric helo, same /16", NULL,
	  RCVD_HOP("81.2.70.1", "mail.example.org", "81.2.69.5", "mx.example.com") TO "\nx\n",
	  "NUM_HELO HELO_IP NO_REVERSE" },
	/* SpamAssassin's private-address test there never works (see
	 * eval_relay.c): a private HELO counts too, for NUM_HELO only. */
	{ "private numeric helo", NULL,
	  RCVD_HOP("10.1.1.1", "mail.example.org", "81.2.69.5", "mx.example.com") TO "\nx\n",
	  "NUM_HELO NO_REVERSE" },
	{ "dotcom helo, no rdns", NULL,
	  RCVD_HOP("yahoo.com", "unknown", "81.2.69.160", "mx.example.com") TO "\nx\n",
	  "DOTCOM_HELO" },
	{ "dotcom helo with rdns", NULL,
	  RCVD_HOP("yahoo.com", "mail.example.org", "81.2.69.160", "mx.example.com") TO "\nx\n",
	  "NO_REVERSE" },
	/* Only the oldest public relay's verdict counts. */
	{ "dotcom helo, then a clean older relay", NULL,
	  RCVD_HOP("yahoo.com", "unknown", "81.2.69.160", "mx.example.com")
	  RCVD_HOP("mail.example.org", "mail.example.org", "81.2.69.161", "mail.example.org")
	  TO "\nx\n", "NO_REVERSE" },
	{ "consistent trail", NULL,
	  RCVD_HOP("a.foo.net", "a.foo.net", "81.2.69.1", "mx.example.com")
	  RCVD_HOP("b.bar.net", "b.bar.net", "81.2.69.2", "c.foo.net")
	  RCVD_HOP("d.qux.net", "d.qux.net", "81.2.69.3", "e.bar.net") TO "\nx\n", "NO_REVERSE" },
	{ "forged trail", NULL,
	  RCVD_HOP("a.foo.net", "a.foo.net", "81.2.69.1", "mx.example.com")
	  RCVD_HOP("b.bar.net", "b.bar.net", "81.2.69.2", "c.baz.net")
	  RCVD_HOP("d.qux.net", "d.qux.net", "81.2.69.3", "e.zzz.net") TO "\nx\n",
	  "NO_REVERSE RCVD_TRAIL" },
	{ "one mismatch only", NULL,
	  RCVD_HOP("a.foo.net", "a.foo.net", "81.2.69.1", "mx.example.com")
	  RCVD_HOP("b.bar.net", "b.bar.net", "81.2.69.2", "c.baz.net") TO "\nx\n", "NO_REVERSE" },
	/* msn.com receiving from hotmail.com is not a mismatch */
	{ "hotmail to msn", NULL,
	  RCVD_HOP("a.foo.net", "a.foo.net", "81.2.69.1", "mx.example.com")
	  RCVD_HOP("b.hotmail.com", "b.hotmail.com", "81.2.69.2", "c.baz.net")
	  RCVD_HOP("d.qux.net", "d.qux.net", "81.2.69.3", "e.msn.com") TO "\nx\n", "NO_REVERSE" },
};

START_TEST(relay_date_table)
{
	eh_check_hits(rules_cf, date_names, N_ELEMENTS(date_names), &date_cases[_i]);
}
END_TEST

START_TEST(relay_ratware_table)
{
	eh_check_hits(rules_cf, ratware_names, N_ELEMENTS(ratware_names), &ratware_cases[_i]);
}
END_TEST

START_TEST(relay_webmail_table)
{
	eh_check_hits(rules_cf, webmail_names, N_ELEMENTS(webmail_names), &webmail_cases[_i]);
}
END_TEST

START_TEST(relay_relay_table)
{
	eh_check_hits(rules_cf, relay_names, N_ELEMENTS(relay_names), &relay_cases[_i]);
}
END_TEST

/* The local time zone never matters: the date cases give the same hits
 * far east and far west of UTC. */
START_TEST(relay_dates_ignore_local_zone)
{
	static const char *const zones[] = { "Pacific/Kiritimati", "Etc/GMT+12", "Asia/Kathmandu" };

	for (size_t z = 0; z < N_ELEMENTS(zones); z++) {
		ck_assert_int_eq(setenv("TZ", zones[z], 1), 0);
		tzset();
		for (size_t i = 0; i < N_ELEMENTS(date_cases); i++)
			eh_check_hits(rules_cf, date_names, N_ELEMENTS(date_names), &date_cases[i]);
	}
}
END_TEST

/* Hostile headers: huge, NUL-laden, digit floods, thousands of Received
 * lines.  Every rule must answer (bounded time, no crash) and the
 * answers stay the plain ones. */
START_TEST(relay_hostile)
{
	static const char *const all[] = {
		"PAST_03_06", "FUT_03_06", "FUT_Q_PLUS", "OUTLOOK", "RATWARE_NAME", "RATWARE_EFROM",
		"GATED", "HM_NONE", "YAHOO", "GMAIL", "AOL", "GW05", "HELO_IP", "RCVD_TRAIL",
		"DOTCOM_HELO", "NUM_HELO",
	};
	struct rules_load_result res;
	struct ruleset *rs = eh_load(rules_cf, &res);
	struct buf m;
	bool got[N_ELEMENTS(all)];
	/* CPU time, not the wall clock: a busy machine does not stretch it. */
	struct timespec start, end;

	ck_assert_int_eq(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start), 0);
	buf_init(&m, 0);
	/* A Date of 200 KB of digits and spaces, NULs in a Received line,
	 * a Message-ID of 50 KB, 3000 Received headers. */
	buf_put_str(&m, "Date: ");
	for (int i = 0; i < 40000; i++)
		buf_put_str(&m, "1 22 ");
	buf_put_str(&m, "\nMessage-ID: <");
	for (int i = 0; i < 50000; i++)
		buf_put_str(&m, "A");
	buf_put_str(&m, ".x>\nFrom: \"a\" <x>\n");
	buf_put(&m, UT_S("Received: from a\0b (c [81.2.69.1]) by d\0e; 22 Nov 2026 10:00:00 +0000\n"));
	for (int i = 0; i < 3000; i++)
		buf_putf(&m, "Received: from h%d.example.org (h%d.example.org [81.2.%d.%d]) "
			 "by mx%d.example.com with ESMTP; %d Nov 2026 %02d:00:00 +0000\n",
			 i, i, (i / 250) % 250, i % 250 + 1, i, i % 28 + 1, i % 24);
	buf_put_str(&m, "To: a@example.com\n\nx\n");
	eh_match(rs, m.data, m.len, NULL, all, N_ELEMENTS(all), got);
	/* The Date has no month name: no date, nothing shifted. */
	ck_assert(!got[0] && !got[1] && !got[2]);
	ck_assert(!got[3] && !got[4] && !got[6]);
	ck_assert_int_eq(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &end), 0);
	ck_assert_msg(end.tv_sec - start.tv_sec < 30, "hostile message took %ld s of CPU",
		      (long)(end.tv_sec - start.tv_sec));

	/* A Date header of NULs and 8-bit bytes, and one of a huge year. */
	buf_reset(&m);
	buf_put_str(&m, RCVD10);
	buf_put(&m, UT_S("Date: \0\0\xff\xfe 22 Nov\0 2026 10:00:00\n"));
	buf_put_str(&m, "To: a@example.com\n\nx\n");
	eh_match(rs, m.data, m.len, NULL, all, N_ELEMENTS(all), got);
	ck_assert(!got[0] && !got[1] && !got[2]);
	buf_reset(&m);
	buf_put_str(&m, RCVD10 "Date: 99999999999999999999999 Nov 99999 99:99:99 +9999\n"
		    "To: a@example.com\n\nx\n");
	eh_match(rs, m.data, m.len, NULL, all, N_ELEMENTS(all), got);
	buf_free(&m);
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

static Suite *
relay_suite(void)
{
	Suite *s = suite_create("eval_relay");
	TCase *tc = ut_tcase(s, "eval_relay", true);

	tcase_add_loop_test(tc, relay_date_table, 0, N_ELEMENTS(date_cases));
	tcase_add_loop_test(tc, relay_ratware_table, 0, N_ELEMENTS(ratware_cases));
	tcase_add_loop_test(tc, relay_webmail_table, 0, N_ELEMENTS(webmail_cases));
	tcase_add_loop_test(tc, relay_relay_table, 0, N_ELEMENTS(relay_cases));
	tcase_add_test(tc, relay_dates_ignore_local_zone);
	tcase_add_test(tc, relay_hostile);
	return s;
}

int
main(void)
{
	static const struct eh_table tables[] = {
		{ date_names, N_ELEMENTS(date_names), date_cases, N_ELEMENTS(date_cases) },
		{ ratware_names, N_ELEMENTS(ratware_names), ratware_cases, N_ELEMENTS(ratware_cases) },
		{ webmail_names, N_ELEMENTS(webmail_names), webmail_cases, N_ELEMENTS(webmail_cases) },
		{ relay_names, N_ELEMENTS(relay_names), relay_cases, N_ELEMENTS(relay_cases) },
	};

	return eh_main(relay_suite, ut_testdir, rules_cf, tables, N_ELEMENTS(tables));
}
