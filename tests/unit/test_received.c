/* Unit tests for scoring/received.c: the Received formats of the common
 * MTAs parsed as SpamAssassin 4.0 parses them, the trust path with and
 * without trusted_networks / internal_networks / msa_networks, and bounds
 * on hostile input.  Every expected string was produced by SpamAssassin
 * 4.0.1 itself (tests/tools/sa_relays.pl -l) on these hand-written lines. */
#include "config.h"

#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_compat.h"
#include "received.h"
#include "received_int.h"
#include "received_lines.h"
#include "sa_settings.h"
#include "strlist.h"

/* One Received header on its own: expect is the relay's as_string, ""
 * when SpamAssassin skips the line, NULL when it cannot parse it. */
struct line_case {
	const char *name;
	const char *line;
	const char *expect;
};

static const struct line_case line_cases[] = {
	{ "postfix",
	  "from mail.example.org (mail.example.org [198.51.100.7]) by"
	  " mx.example.net (Postfix) with ESMTPS id 4Xk2Lm0Qz9z1 for"
	  " <bob@example.net>; Tue, 5 Mar 2024 10:11:12 +0100 (CET)",
	  "[ ip=198.51.100.7 rdns=mail.example.org helo=mail.example.org"
	  " by=mx.example.net ident= envfrom= intl=0 id=4Xk2Lm0Qz9z1 auth="
	  " msa=0 ]" },
	{ "postfix_unknown_rdns",
	  "from helo.example.org (unknown [198.51.100.8]) by"
	  " mx.example.net (Postfix) with ESMTP id 7A1B2C3D4E; Tue, 5 Mar"
	  " 2024 10:11:12 +0100",
	  "[ ip=198.51.100.8 rdns= helo=helo.example.org by=mx.example.net"
	  " ident= envfrom= intl=0 id=7A1B2C3D4E auth= msa=0 ]" },
	{ "postfix_sasl_sender",
	  "from laptop (dsl-203-0-113-9.example.com [203.0.113.9])"
	  " (Authenticated sender: alice) by smtp.example.net (Postfix)"
	  " with ESMTPSA id 5F6E7D8C9B; Tue, 5 Mar 2024 10:11:12 +0100",
	  "[ ip=203.0.113.9 rdns=dsl-203-0-113-9.example.com helo=laptop"
	  " by=smtp.example.net ident= envfrom= intl=1 id=5F6E7D8C9B"
	  " auth=ESMTPSA msa=0 ]" },
	{ "sendmail",
	  "from client.example.org (client.example.org [198.51.100.20]) by"
	  " relay.example.net (8.15.2/8.15.2) with ESMTP id 425AbCdE012345"
	  " for <bob@example.net>; Tue, 5 Mar 2024 10:11:12 +0100",
	  "[ ip=198.51.100.20 rdns=client.example.org"
	  " helo=client.example.org by=relay.example.net ident= envfrom="
	  " intl=0 id=425AbCdE012345 auth= msa=0 ]" },
	{ "sendmail_authenticated_forged",
	  "from [192.168.1.5] (dsl-203-0-113-10.example.com [203.0.113.10]"
	  " (may be forged)) (authenticated bits=0) by relay.example.net"
	  " (8.15.2/8.15.2) with ESMTP id 425AbCdF012346; Tue, 5 Mar 2024"
	  " 10:11:12 +0100",
	  "[ ip=203.0.113.10 rdns=dsl-203-0-113-10.example.com"
	  " helo=!192.168.1.5! by=relay.example.net ident= envfrom= intl=1"
	  " id=425AbCdF012346 auth=Sendmail msa=0 ]" },
	{ "sendmail_submit_localhost",
	  "from localhost (root@localhost) by relay.example.net"
	  " (8.15.2/8.15.2/Submit) id 425AbCdG012347; Tue, 5 Mar 2024"
	  " 10:11:12 +0100",
	  "" },
	{ "sendmail_ident",
	  "from host.example.org (IDENT:joe@host.example.org"
	  " [198.51.100.21]) by relay.example.net (8.9.3/8.9.3) with SMTP"
	  " id KAA01234; Tue, 5 Mar 2024 10:11:12 +0100",
	  "[ ip=198.51.100.21 rdns=host.example.org helo=host.example.org"
	  " by=relay.example.net ident=joe envfrom= intl=0 id=KAA01234"
	  " auth= msa=0 ]" },
	{ "exim_helo",
	  "from mx.example.org ([198.51.100.30] helo=smtp.example.org) by"
	  " mail.example.net with esmtps (TLS1.3) tls"
	  " TLS_AES_256_GCM_SHA384 (Exim 4.96) (envelope-from"
	  " <list-bounces@example.org>) id 1rhQ2x-000AbC-1Z for"
	  " bob@example.net; Tue, 05 Mar 2024 10:11:12 +0100",
	  "[ ip=198.51.100.30 rdns=mx.example.org helo=smtp.example.org"
	  " by=mail.example.net ident= envfrom=list-bounces@example.org"
	  " intl=0 id=1rhQ2x-000AbC-1Z auth= msa=0 ]" },
	{ "exim_bracket_ident",
	  "from [198.51.100.31] (helo=unnamed ident=nobody) by"
	  " mail.example.net with smtp (Exim 4.96) id 1rhQ2y-000AbD-2A;"
	  " Tue, 05 Mar 2024 10:11:12 +0100",
	  "[ ip=198.51.100.31 rdns= helo=unnamed by=mail.example.net"
	  " ident=nobody envfrom= intl=0 id=1rhQ2y-000AbD-2A auth= msa=0 ]" },
	{ "exim_local",
	  "from bob by mail.example.net with local (Exim 4.96)"
	  " (envelope-from <bob@example.net>) id 1rhQ2z-000AbE-3B; Tue, 05"
	  " Mar 2024 10:11:12 +0100",
	  "" },
	{ "exim_esmtpsa_port",
	  "from laptop.example.org ([203.0.113.11]:54321"
	  " helo=[192.168.0.2]) by mail.example.net with esmtpsa (TLS1.2)"
	  " tls TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (Exim 4.96)"
	  " (envelope-from <carol@example.net>) id 1rhQ30-000AbF-4C; Tue,"
	  " 05 Mar 2024 10:11:12 +0100",
	  "[ ip=203.0.113.11 rdns=laptop.example.org helo=!192.168.0.2!"
	  " by=mail.example.net ident= envfrom=carol@example.net intl=1"
	  " id=1rhQ30-000AbF-4C auth=esmtpsa msa=0 ]" },
	{ "qmail_unknown_helo",
	  "from unknown (HELO mail.example.org) (198.51.100.40) by"
	  " mx.example.net with SMTP; 5 Mar 2024 09:11:12 -0000",
	  "[ ip=198.51.100.40 rdns= helo=mail.example.org"
	  " by=mx.example.net ident= envfrom= intl=0 id= auth= msa=0 ]" },
	{ "qmail_helo_ident",
	  "from smtp.example.org (HELO relay.example.org)"
	  " (joe@198.51.100.41) by mx.example.net with SMTP; 5 Mar 2024"
	  " 09:11:12 -0000",
	  "[ ip=198.51.100.41 rdns=smtp.example.org helo=relay.example.org"
	  " by=mx.example.net ident=joe envfrom= intl=0 id= auth= msa=0 ]" },
	{ "qmail_plain",
	  "from smtp.example.org (198.51.100.42) by mx.example.net with"
	  " SMTP; 5 Mar 2024 09:11:12 -0000",
	  "[ ip=198.51.100.42 rdns=smtp.example.org helo=smtp.example.org"
	  " by=mx.example.net ident= envfrom= intl=0 id= auth= msa=0 ]" },
	{ "qmail_uid",
	  "(qmail 12345 invoked by uid 1000); 5 Mar 2024 09:11:12 -0000",
	  "" },
	{ "qmail_network",
	  "(qmail 12346 invoked from network); 5 Mar 2024 09:11:12 -0000",
	  "" },
	{ "qmail_ldap",
	  "from unknown (HELO [198.51.100.43]) ([198.51.100.43])"
	  " (envelope-sender <joe@example.org>) by mx.example.net"
	  " (qmail-ldap-1.03) with SMTP for <bob@example.net>; 5 Mar 2024"
	  " 09:11:12 -0000",
	  "[ ip=198.51.100.43 rdns= helo=!198.51.100.43! by=mx.example.net"
	  " ident= envfrom=joe@example.org intl=0 id= auth= msa=0 ]" },
	{ "exchange_smtp_server",
	  "from EXCH01.corp.example.net (10.1.2.3) by"
	  " EXCH02.corp.example.net (10.1.2.4) with Microsoft SMTP Server"
	  " (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)"
	  " id 15.1.2507.35; Tue, 5 Mar 2024 10:11:12 +0100",
	  "[ ip=10.1.2.3 rdns=EXCH01.corp.example.net"
	  " helo=EXCH01.corp.example.net by=EXCH02.corp.example.net ident="
	  " envfrom= intl=1 id=15.1.2507.35 auth= msa=0 ]" },
	{ "exchange_mapi",
	  "from DB9PR01MB1234.eurprd01.prod.example.com"
	  " ([fe80::1234:5678:9abc:def0]) by"
	  " DB9PR01MB1234.eurprd01.prod.example.com"
	  " ([fe80::1234:5678:9abc:def0%4]) with mapi id 15.20.7339.035;"
	  " Tue, 5 Mar 2024 09:11:12 +0000",
	  "[ ip=fe80::1234:5678:9abc:def0 rdns="
	  " helo=DB9PR01MB1234.eurprd01.prod.example.com"
	  " by=DB9PR01MB1234.eurprd01.prod.example.com ident= envfrom="
	  " intl=1 id= auth= msa=0 ]" },
	{ "exchange_smtpsvc",
	  "from ws01 ([203.0.113.50]) by exch.example.net with Microsoft"
	  " SMTPSVC(6.0.3790.4675); Tue, 5 Mar 2024 10:11:12 +0100",
	  "[ ip=203.0.113.50 rdns= helo=ws01 by=exch.example.net ident="
	  " envfrom= intl=0 id= auth= msa=0 ]" },
	{ "exchange_pickup",
	  "from mail pickup service by exch.example.net with Microsoft"
	  " SMTPSVC; Tue, 5 Mar 2024 10:11:12 +0100",
	  "" },
	{ "lotus_domino",
	  "from notes.example.org ([198.51.100.60]) by domino.example.net"
	  " (Lotus Domino Release 8.5.3FP6) with ESMTP id"
	  " 2024030510111200-12345; Tue, 5 Mar 2024 10:11:12 +0100",
	  "[ ip=198.51.100.60 rdns= helo=notes.example.org"
	  " by=domino.example.net ident= envfrom= intl=0"
	  " id=2024030510111200-12345 auth= msa=0 ]" },
	{ "mdaemon",
	  "from client [198.51.100.61] by mdaemon.example.net [192.0.2.61]"
	  " with SMTP (MDaemon PRO v19.0.2) for <bob@example.net>; Tue, 05"
	  " Mar 2024 10:11:12 +0100",
	  "[ ip=198.51.100.61 rdns= helo=client by=mdaemon.example.net"
	  " ident= envfrom= intl=0 id= auth= msa=0 ]" },
	{ "courier_auth",
	  "from gw.example.org ([198.51.100.62]) (AUTH: LOGIN"
	  " joe@example.org) by courier.example.net with esmtp; Tue, 05"
	  " Mar 2024 10:11:12 +0100",
	  "[ ip=198.51.100.62 rdns= helo=gw.example.org"
	  " by=courier.example.net ident= envfrom= intl=1 id= auth=LOGIN"
	  " msa=0 ]" },
	{ "communigate_verified",
	  "from mta.example.org ([198.51.100.63] verified) by"
	  " cgp.example.net (CommuniGate Pro SMTP 6.3.5) with ESMTPS id"
	  " 123456789 for bob@example.net; Tue, 05 Mar 2024 10:11:12 +0100",
	  "[ ip=198.51.100.63 rdns=mta.example.org helo=mta.example.org"
	  " by=cgp.example.net ident= envfrom= intl=0 id=123456789 auth="
	  " msa=0 ]" },
	{ "communigate_account",
	  "from [203.0.113.64] (account joe@example.net HELO laptop) by"
	  " cgp.example.net (CommuniGate Pro SMTP 6.3.5) with ESMTPSA id"
	  " 123456790; Tue, 05 Mar 2024 10:11:12 +0100",
	  "[ ip=203.0.113.64 rdns= helo=laptop by=cgp.example.net ident="
	  " envfrom= intl=1 id=123456790 auth=ESMTPSA msa=0 ]" },
	{ "simta",
	  "FROM relay.example.org (smtp.example.org [198.51.100.65]) BY"
	  " simta.example.net ID 65E6E2D0.1A2B3.12345 ; 5 Mar 2024"
	  " 04:11:12 -0500",
	  "[ ip=198.51.100.65 rdns=smtp.example.org helo=relay.example.org"
	  " by=simta.example.net ident= envfrom= intl=0"
	  " id=65E6E2D0.1A2B3.12345 auth= msa=0 ]" },
	{ "xmail",
	  "from relay.example.org (198.51.100.66:41234) by"
	  " xmail.example.net with [XMail 1.27 ESMTP Server] id <S1A2B3C>"
	  " for <bob@example.net> from <joe@example.org>; Tue, 5 Mar 2024"
	  " 10:11:12 +0100",
	  "[ ip=198.51.100.66 rdns= helo=relay.example.org"
	  " by=xmail.example.net ident= envfrom=joe@example.org intl=0"
	  " id=S1A2B3C auth= msa=0 ]" },
	{ "ecelerity",
	  "from ([198.51.100.67:41235] helo=relay.example.org) by"
	  " ecelerity.example.net (ecelerity 4.2.1.55 r(Core:4.2.1.12))"
	  " with ESMTP id 12/34-56789-ABCDEF01; Tue, 05 Mar 2024 10:11:12"
	  " +0100",
	  "[ ip=198.51.100.67 rdns= helo=relay.example.org"
	  " by=ecelerity.example.net ident= envfrom= intl=0"
	  " id=12/34-56789-ABCDEF01 auth= msa=0 ]" },
	{ "postfix_ipv6",
	  "from mail.example.org (mail.example.org [IPv6:2001:db8::25]) by"
	  " mx.example.net (Postfix) with ESMTPS id 4Xk2Lm0Qz9z2 for"
	  " <bob@example.net>; Tue, 5 Mar 2024 10:11:12 +0100",
	  "[ ip=2001:db8::25 rdns=mail.example.org helo=mail.example.org"
	  " by=mx.example.net ident= envfrom= intl=0 id=4Xk2Lm0Qz9z2 auth="
	  " msa=0 ]" },
	{ "esmtp_v4mapped",
	  "from mail.example.org (mail.example.org [::ffff:198.51.100.68])"
	  " by mx.example.net with esmtp; Tue, 05 Mar 2024 10:11:12 +0100",
	  "[ ip=198.51.100.68 rdns=mail.example.org helo=mail.example.org"
	  " by=mx.example.net ident= envfrom= intl=0 id= auth= msa=0 ]" },
	{ "postfix_localhost",
	  "from localhost (localhost [127.0.0.1]) by mx.example.net"
	  " (Postfix) with ESMTP id 0A1B2C3D4F for <bob@example.net>; Tue,"
	  " 5 Mar 2024 10:11:12 +0100",
	  "[ ip=127.0.0.1 rdns=localhost helo=localhost by=mx.example.net"
	  " ident= envfrom= intl=1 id=0A1B2C3D4F auth= msa=0 ]" },
	{ "fetchmail_pop3",
	  "from pop.example.org [198.51.100.69] by localhost with POP3"
	  " (fetchmail-6.4.37) for <bob@localhost> (single-drop); Tue, 05"
	  " Mar 2024 10:11:12 +0100",
	  "" },
	{ "qmail_scanner",
	  "from 198.51.100.70 by mx.example.net (envelope-from"
	  " <joe@example.org>, uid 89) with qmail-scanner-2.10 (clamdscan:"
	  " 0.103.11. Clear:RC:0(198.51.100.70):. Processed in 0.1 secs);"
	  " 05 Mar 2024 09:11:12 -0000",
	  "" },
	{ "from_by_semicolon",
	  "from webmail.example.net by mx.example.net; Tue, 5 Mar 2024"
	  " 10:11:12 +0100",
	  "" },
	{ "unparseable",
	  "from weird stuff here",
	  NULL },
	{ "yahoo_via_http",
	  "from [198.51.100.71] by web.example.net via HTTP; Tue, 05 Mar"
	  " 2024 01:11:12 PST",
	  "[ ip=198.51.100.71 rdns= helo= by=web.example.net ident="
	  " envfrom= intl=0 id= auth= msa=0 ]" },
	{ "rdns_trailing_dot",
	  "from helo.example.org (rdns.example.org. [198.51.100.72]) by"
	  " mx.example.net (Postfix) with ESMTP id 1B2C3D4E5F; Tue, 5 Mar"
	  " 2024 10:11:12 +0100",
	  "[ ip=198.51.100.72 rdns=rdns.example.org helo=helo.example.org"
	  " by=mx.example.net ident= envfrom= intl=0 id=1B2C3D4E5F auth="
	  " msa=0 ]" },
	{ "exim_bracket_helo",
	  "from [198.51.100.73] (helo=[198.51.100.73]) by mail.example.net"
	  " with esmtp (Exim 4.96) id 1rhQ31-000AbG-5D; Tue, 05 Mar 2024"
	  " 10:11:12 +0100",
	  "[ ip=198.51.100.73 rdns= helo=!198.51.100.73!"
	  " by=mail.example.net ident= envfrom= intl=0 id=1rhQ31-000AbG-5D"
	  " auth= msa=0 ]" },
	{ "envfrom_zero",
	  "from client.example.org (client.example.org [198.51.100.74]) by"
	  " relay.example.net (8.15.2/8.15.2) with ESMTP id 425AbCdH012348"
	  " (envelope-from 0); Tue, 5 Mar 2024 10:11:12 +0100",
	  "[ ip=198.51.100.74 rdns=client.example.org"
	  " helo=client.example.org by=relay.example.net ident= envfrom="
	  " intl=0 id=425AbCdH012348 auth= msa=0 ]" },
};

static void
parse_one(const struct sa_settings *set, const char *line, struct relays *r)
{
	struct strlist l;

	strlist_init(&l);
	strlist_add(&l, line, strlen(line));
	received_parse(set, &l, r);
	strlist_free(&l);
}

START_TEST(test_line_formats)
{
	const struct line_case *c = &line_cases[_i];
	struct sa_settings set;
	struct relays r;

	sa_settings_init(&set);
	parse_one(&set, c->line, &r);
	if (c->expect == NULL) {
		ck_assert_msg(r.n == 0 && r.num_unparseable == 1,
			      "%s: expected unparseable", c->name);
	} else if (c->expect[0] == '\0') {
		ck_assert_msg(r.n == 0 && r.num_unparseable == 0,
			      "%s: expected a skipped line", c->name);
		ck_assert_int_eq(r.last_trusted_index, 0);
	} else {
		ck_assert_msg(r.n == 1, "%s: %zu relays", c->name, r.n);
		ck_assert_msg(strcmp(r.v[0].as_string, c->expect) == 0,
			      "%s:\n got    %s\n wanted %s", c->name,
			      r.v[0].as_string, c->expect);
		ck_assert_str_eq(r.num_trusted == 1 ? r.str_trusted : r.str_untrusted,
				 c->expect);
		ck_assert_int_eq(r.v[0].index, 0);
	}
	relays_free(&r);
	sa_settings_free(&set);
}
END_TEST

/* The same lines folded over several physical lines, as a header arrives. */
START_TEST(test_line_folded)
{
	const struct line_case *c = &line_cases[_i];
	struct sa_settings set;
	struct relays flat, folded;
	size_t n = 0, blanks = 0, len = strlen(c->line);
	char *f = malloc(2 * len + 1);

	/* every third blank becomes a fold: "\n\t" */
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < len; i++) {
		if (c->line[i] == ' ' && ++blanks % 3 == 0) {
			f[n++] = '\n';
			f[n++] = '\t';
		} else
			f[n++] = c->line[i];
	}
	f[n] = '\0';
	sa_settings_init(&set);
	parse_one(&set, c->line, &flat);
	parse_one(&set, f, &folded);
	ck_assert_str_eq(flat.str_trusted, folded.str_trusted);
	ck_assert_str_eq(flat.str_untrusted, folded.str_untrusted);
	ck_assert_uint_eq(flat.num_unparseable, folded.num_unparseable);
	relays_free(&flat);
	relays_free(&folded);
	sa_settings_free(&set);
	free(f);
}
END_TEST

START_TEST(test_relay_fields)
{
	struct sa_settings set;
	struct relays r;

	sa_settings_init(&set);
	/* Postfix looks up rDNS: "unknown" means it has none */
	parse_one(&set, line_cases[1].line, &r);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_str_eq(r.v[0].ip, "198.51.100.8");
	ck_assert_str_eq(r.v[0].rdns, "");
	ck_assert(r.v[0].no_reverse_dns);
	ck_assert(!r.v[0].rdns_not_in_headers);
	ck_assert(!r.v[0].ip_private);
	ck_assert(!r.v[0].trusted && !r.v[0].intl && !r.v[0].msa);
	relays_free(&r);

	/* Exchange records no rDNS: not known to be missing */
	parse_one(&set, "from WS01 ([203.0.113.50]) by Exch.Example.NET with "
		  "Microsoft SMTPSVC(6.0.3790.4675); Tue, 5 Mar 2024 10:11:12 +0100", &r);
	ck_assert_uint_eq(r.n, 1);
	ck_assert(!r.v[0].no_reverse_dns);
	ck_assert(r.v[0].rdns_not_in_headers);
	ck_assert_str_eq(r.v[0].helo, "WS01");
	ck_assert_str_eq(r.v[0].lc_helo, "ws01");
	ck_assert_str_eq(r.v[0].by, "Exch.Example.NET");
	ck_assert_str_eq(r.v[0].lc_by, "exch.example.net");
	relays_free(&r);

	/* private address, "[ip]" HELO rendered with '!' */
	parse_one(&set, "from [192.168.1.5] (Host.Example.COM [192.168.1.5]) by "
		  "relay.example.net (8.15.2/8.15.2) with ESMTP id x1; "
		  "Tue, 5 Mar 2024 10:11:12 +0100", &r);
	ck_assert_uint_eq(r.n, 1);
	ck_assert(r.v[0].ip_private);
	ck_assert(r.v[0].trusted && r.v[0].intl);
	ck_assert_str_eq(r.v[0].helo, "!192.168.1.5!");
	ck_assert_str_eq(r.v[0].lc_rdns, "host.example.com");
	relays_free(&r);
	sa_settings_free(&set);
}
END_TEST

/* Whole chains, topmost first, under several settings. */
#define H_LOCAL "from localhost (localhost [127.0.0.1]) by mail.example.net (Postfix) with ESMTP id AAAA1111; Tue, 5 Mar 2024 10:11:12 +0100"
#define H_PRIV "from gw.example.net (gw.example.net [10.0.0.2]) by mx.example.net (Postfix) with ESMTP id BBBB2222; Tue, 5 Mar 2024 10:11:12 +0100"
#define H_MX "from mx.example.net (mx.example.net [192.0.2.10]) by store.example.net (Postfix) with ESMTP id CCCC3333; Tue, 5 Mar 2024 10:11:12 +0100"
#define H_AUTH "from laptop (dsl.example.com [203.0.113.9]) by smtp.example.net (Postfix) with ESMTPSA id DDDD4444; Tue, 5 Mar 2024 10:11:12 +0100"
#define H_PUB "from mail.example.org (mail.example.org [198.51.100.7]) by mx.example.net (Postfix) with ESMTP id 4Xk2Lm0Qz9z1; Tue, 5 Mar 2024 10:11:12 +0100"
#define H_UID "(qmail 12345 invoked by uid 1000); 5 Mar 2024 09:11:12 -0000"
#define H_POP "from pop.example.org [198.51.100.69] by localhost with POP3 (fetchmail-6.4.37) for <bob@localhost> (single-drop); Tue, 05 Mar 2024 10:11:12 +0100"
#define H_QMS "from 198.51.100.70 by mx.example.net (envelope-from <joe@example.org>, uid 89) with qmail-scanner-2.10 (clamdscan: 0.103.11. Clear:RC:0(198.51.100.70):. Processed in 0.1 secs); 05 Mar 2024 09:11:12 -0000"
#define H_QMAIL "from smtp.example.org (198.51.100.42) by mx.example.net with SMTP; 5 Mar 2024 09:11:12 -0000"
#define H_BAD "from weird stuff here"

enum cfg { CFG_NONE, CFG_TRUSTED, CFG_INTERNAL, CFG_BOTH, CFG_MSA };

static const char *const cfg_lines[][3] = {
	[CFG_NONE] = { NULL },
	[CFG_TRUSTED] = { "trusted_networks", "192.0.2.0/24 10.0.0.0/8", NULL },
	[CFG_INTERNAL] = { "internal_networks", "192.0.2.10", NULL },
	[CFG_BOTH] = { "trusted_networks", "192.0.2.0/24 10.0.0.0/8", "192.0.2.0/24" },
	[CFG_MSA] = { "trusted_networks", "192.0.2.0/24 10.0.0.0/8", "10.0.0.2" },
};

struct chain_case {
	const char *name;
	enum cfg cfg;
	const char *hdrs[6];
	const char *originating;	/* an X-Originating-IP value */
	const char *trusted;		/* the relays' IPs, comma-separated */
	const char *untrusted;
	size_t num_internal;
	unsigned int unparseable;
	int last_trusted, last_internal;
	const char *msa;		/* msa= of every relay, in order */
};

static const struct chain_case chain_cases[] = {
	{ "private then public", CFG_NONE, { H_PRIV, H_PUB }, NULL,
	  "10.0.0.2", "198.51.100.7", 1, 0, 0, 0, "00" },
	{ "skipped lines count", CFG_NONE, { H_UID, H_LOCAL, H_PRIV, H_PUB, H_AUTH }, NULL,
	  "127.0.0.1,10.0.0.2", "198.51.100.7,203.0.113.9", 2, 0, 2, 2, "0000" },
	{ "auth extends trust", CFG_NONE, { H_AUTH, H_PUB }, NULL,
	  "203.0.113.9", "198.51.100.7", 1, 0, 0, 0, "00" },
	{ "unparseable on top", CFG_NONE, { H_BAD, H_PRIV, H_PUB }, NULL,
	  "10.0.0.2", "198.51.100.7", 1, 1, 1, 1, "00" },
	{ "mail fetcher restarts", CFG_NONE, { H_LOCAL, H_POP, H_PRIV, H_PUB }, NULL,
	  "10.0.0.2", "198.51.100.7", 1, 0, 2, 2, "00" },
	{ "qmail-scanner envfrom", CFG_NONE, { H_QMS, H_QMAIL }, NULL,
	  "", "198.51.100.42", 0, 0, 0, 0, "0" },
	{ "originating ip", CFG_NONE, { H_PRIV, H_PUB }, "[192.168.77.1]",
	  "10.0.0.2", "198.51.100.7,192.168.77.1", 1, 0, 0, 0, "000" },
	{ "inference stops", CFG_NONE, { H_LOCAL, H_MX, H_PRIV, H_AUTH, H_PUB }, NULL,
	  "127.0.0.1", "192.0.2.10,10.0.0.2,203.0.113.9,198.51.100.7", 1, 0, 0, 0, "00000" },
	{ "empty", CFG_NONE, { NULL }, NULL, "", "", 0, 0, -1, -1, "" },

	{ "trusted: chain", CFG_TRUSTED, { H_LOCAL, H_MX, H_PRIV, H_AUTH, H_PUB }, NULL,
	  "127.0.0.1,192.0.2.10,10.0.0.2,203.0.113.9", "198.51.100.7", 4, 0, 3, 3, "00000" },
	{ "trusted: skipped lines", CFG_TRUSTED, { H_UID, H_LOCAL, H_PRIV, H_PUB, H_AUTH }, NULL,
	  "127.0.0.1,10.0.0.2", "198.51.100.7,203.0.113.9", 2, 0, 2, 2, "0000" },

	{ "internal only", CFG_INTERNAL, { H_LOCAL, H_MX, H_PRIV, H_AUTH, H_PUB }, NULL,
	  "127.0.0.1,192.0.2.10", "10.0.0.2,203.0.113.9,198.51.100.7", 2, 0, 1, 1, "00000" },
	{ "internal only: private not trusted", CFG_INTERNAL, { H_PRIV, H_PUB }, NULL,
	  "", "10.0.0.2,198.51.100.7", 0, 0, -1, -1, "00" },

	{ "both: chain", CFG_BOTH, { H_LOCAL, H_MX, H_PRIV, H_AUTH, H_PUB }, NULL,
	  "127.0.0.1,192.0.2.10,10.0.0.2,203.0.113.9", "198.51.100.7", 2, 0, 3, 1, "00000" },
	{ "both: unparseable", CFG_BOTH, { H_BAD, H_PRIV, H_PUB }, NULL,
	  "10.0.0.2", "198.51.100.7", 0, 1, 1, 0, "00" },

	{ "msa: trust continues", CFG_MSA, { H_LOCAL, H_MX, H_PRIV, H_AUTH, H_PUB }, NULL,
	  "127.0.0.1,192.0.2.10,10.0.0.2,203.0.113.9,198.51.100.7", "", 5, 0, 4, 4, "00100" },
	{ "msa: originating", CFG_MSA, { H_PRIV, H_PUB }, "[192.168.77.1]",
	  "10.0.0.2,198.51.100.7,192.168.77.1", "", 3, 0, 2, 2, "100" },
};

static void
apply_cfg(struct sa_settings *set, enum cfg cfg)
{
	const char *const *c = cfg_lines[cfg];
	const char *why = NULL;

	if (c[0] == NULL)
		return;
	ck_assert_int_eq(sa_settings_apply(set, c[0], c[1], &why), 1);
	if (c[2] != NULL)
		ck_assert_int_eq(sa_settings_apply(set, cfg == CFG_MSA ?
			"msa_networks" : "internal_networks", c[2], &why), 1);
}

static void
join_ips(const struct relays *r, size_t from, size_t to, char *buf, size_t size)
{
	buf[0] = '\0';
	for (size_t i = from; i < to; i++) {
		if (i > from)
			strncat(buf, ",", size - strlen(buf) - 1);
		strncat(buf, r->v[i].ip, size - strlen(buf) - 1);
	}
}

START_TEST(test_chains)
{
	const struct chain_case *c = &chain_cases[_i];
	struct sa_settings set;
	struct strlist l;
	struct relays r;
	char buf[512], msa[16];

	sa_settings_init(&set);
	apply_cfg(&set, c->cfg);
	strlist_init(&l);
	for (size_t i = 0; i < N_ELEMENTS(c->hdrs) && c->hdrs[i] != NULL; i++)
		strlist_add(&l, c->hdrs[i], strlen(c->hdrs[i]));
	if (c->originating != NULL)
		ck_assert(received_add_originating(&l, c->originating,
						   strlen(c->originating)));
	received_parse(&set, &l, &r);

	join_ips(&r, 0, r.num_trusted, buf, sizeof(buf));
	ck_assert_msg(strcmp(buf, c->trusted) == 0, "%s: trusted %s", c->name, buf);
	join_ips(&r, r.num_trusted, r.n, buf, sizeof(buf));
	ck_assert_msg(strcmp(buf, c->untrusted) == 0, "%s: untrusted %s", c->name, buf);
	ck_assert_msg(r.num_internal == c->num_internal, "%s: %zu internal",
		      c->name, r.num_internal);
	ck_assert_uint_eq(r.num_unparseable, c->unparseable);
	ck_assert_msg(r.last_trusted_index == c->last_trusted &&
		      r.last_internal_index == c->last_internal,
		      "%s: last_trusted %d last_internal %d", c->name,
		      r.last_trusted_index, r.last_internal_index);
	for (size_t i = 0; i < r.n && i + 1 < sizeof(msa); i++) {
		msa[i] = r.v[i].msa ? '1' : '0';
		msa[i + 1] = '\0';
		ck_assert(r.v[i].trusted == (i < r.num_trusted));
		ck_assert(r.v[i].intl == (i < r.num_internal));
		ck_assert(strstr(r.v[i].as_string, r.v[i].intl ? " intl=1 " : " intl=0 ") != NULL);
	}
	if (r.n == 0)
		msa[0] = '\0';
	ck_assert_str_eq(msa, c->msa);
	if (r.n == 0) {
		ck_assert_str_eq(r.str_trusted, "");
		ck_assert_str_eq(r.str_external, "");
	}
	relays_free(&r);
	strlist_free(&l);
	sa_settings_free(&set);
}
END_TEST

/* The rendering of a chain, exactly: internal and external are cut at a
 * different place than trusted and untrusted. */
START_TEST(test_chain_strings)
{
	struct sa_settings set;
	struct strlist l;
	struct relays r;

	sa_settings_init(&set);
	apply_cfg(&set, CFG_BOTH);
	strlist_init(&l);
	strlist_add(&l, H_MX, strlen(H_MX));
	strlist_add(&l, H_PRIV, strlen(H_PRIV));
	strlist_add(&l, H_PUB, strlen(H_PUB));
	received_parse(&set, &l, &r);
	ck_assert_str_eq(r.str_trusted,
		"[ ip=192.0.2.10 rdns=mx.example.net helo=mx.example.net by=store.example.net"
		" ident= envfrom= intl=1 id=CCCC3333 auth= msa=0 ]"
		" [ ip=10.0.0.2 rdns=gw.example.net helo=gw.example.net by=mx.example.net"
		" ident= envfrom= intl=0 id=BBBB2222 auth= msa=0 ]");
	ck_assert_str_eq(r.str_untrusted,
		"[ ip=198.51.100.7 rdns=mail.example.org helo=mail.example.org"
		" by=mx.example.net ident= envfrom= intl=0 id=4Xk2Lm0Qz9z1 auth= msa=0 ]");
	ck_assert_str_eq(r.str_internal,
		"[ ip=192.0.2.10 rdns=mx.example.net helo=mx.example.net by=store.example.net"
		" ident= envfrom= intl=1 id=CCCC3333 auth= msa=0 ]");
	ck_assert_str_eq(r.str_external,
		"[ ip=10.0.0.2 rdns=gw.example.net helo=gw.example.net by=mx.example.net"
		" ident= envfrom= intl=0 id=BBBB2222 auth= msa=0 ]"
		" [ ip=198.51.100.7 rdns=mail.example.org helo=mail.example.org"
		" by=mx.example.net ident= envfrom= intl=0 id=4Xk2Lm0Qz9z1 auth= msa=0 ]");
	relays_free(&r);

	/* the qmail-scanner line hands its envelope sender down */
	strlist_free(&l);
	strlist_add(&l, H_QMS, strlen(H_QMS));
	strlist_add(&l, H_QMAIL, strlen(H_QMAIL));
	received_parse(&set, &l, &r);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_str_eq(r.v[0].envfrom, "joe@example.org");
	ck_assert_int_eq(r.v[0].index, 1);
	relays_free(&r);
	strlist_free(&l);
	sa_settings_free(&set);
}
END_TEST

START_TEST(test_originating)
{
	struct strlist l;

	strlist_init(&l);
	ck_assert(!received_add_originating(&l, "", 0));
	ck_assert(!received_add_originating(&l, "no address", 10));
	ck_assert(received_add_originating(&l, "x 203.0.113.5, 10.0.0.1", 23));
	ck_assert_uint_eq(l.n, 1);
	ck_assert_str_eq(l.v[0].p, "from X-Originating-IP: 203.0.113.5\n");
	strlist_free(&l);
	ck_assert_str_eq(received_originating_ip_headers_default[1], "X-Originating-IP");
}
END_TEST

/* CPU seconds of this process (Check runs each test in a child of its
 * own): the bounds below are on the parser's work, and a busy machine
 * stretches the wall clock, not this. */
static double
cpu_now(void)
{
	struct timespec ts;

	ck_assert_int_eq(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts), 0);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 10000 headers of 1 MB each (one buffer shared by every entry). */
static void
hostile_run(const char *pattern, size_t plen, double max_seconds)
{
	const size_t mb = 1024 * 1024, count = 10000;
	struct sa_settings set;
	struct strlist l;
	struct relays r;
	char *big = malloc(mb + 1);
	double t0;

	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i < mb; i++)
		big[i] = pattern[i % plen];
	big[mb] = '\0';
	l.v = calloc(count, sizeof(*l.v));
	ck_assert_ptr_nonnull(l.v);
	l.n = l.cap = count;
	for (size_t i = 0; i < count; i++) {
		l.v[i].p = big;
		l.v[i].len = mb;
	}
	sa_settings_init(&set);
	t0 = cpu_now();
	received_parse(&set, &l, &r);
	ck_assert_msg(cpu_now() - t0 < max_seconds, "'%.20s...' took %.2f s of CPU",
		      pattern, cpu_now() - t0);
	ck_assert_uint_le(r.n, RECEIVED_MAX_HEADERS);
	ck_assert_uint_le(r.n + r.num_unparseable, RECEIVED_MAX_HEADERS);
	ck_assert_int_lt(r.last_trusted_index, RECEIVED_MAX_HEADERS);
	relays_free(&r);
	sa_settings_free(&set);
	free(l.v);
	free(big);
}

static const struct {
	const char *p;
	size_t len;
} hostile_patterns[] = {
	{ UT_S("a") },
	{ UT_S("from a (b [10.1.2.3]) by c.example (Postfix) with ESMTP id x; ") },
	{ UT_S("from a (b [10.1.2.3] x) by") },
	{ UT_S("from a (1.2.3.4) by b (x) (y) with X ") },
	{ UT_S("(((((((([[[[1.2.3.4]]]]") },
	{ UT_S("from x]) (authenticated ") },
	{ UT_S("from helo= by ; 1 Jan") },
	{ UT_S("from a:b::c:1.2.3.4 ") },
	{ UT_S("from \0\r\n\t \x0b\xff[1.2.3.4]\0 by \0") },
};

START_TEST(test_hostile)
{
	/* the bound is generous for sanitizer builds; a real run takes well
	 * under a second */
	hostile_run(hostile_patterns[_i].p, hostile_patterns[_i].len, 20.0);
}
END_TEST

START_TEST(test_many_headers)
{
	struct sa_settings set;
	struct strlist l;
	struct relays r;

	sa_settings_init(&set);
	strlist_init(&l);
	for (int i = 0; i < 10000; i++)
		strlist_add(&l, i % 2 ? H_PRIV : H_LOCAL,
			    strlen(i % 2 ? H_PRIV : H_LOCAL));
	received_parse(&set, &l, &r);
	ck_assert_uint_eq(r.n, RECEIVED_MAX_HEADERS);
	ck_assert_uint_eq(r.num_trusted, RECEIVED_MAX_HEADERS);
	ck_assert_int_eq(r.last_trusted_index, RECEIVED_MAX_HEADERS - 1);
	relays_free(&r);
	strlist_free(&l);
	sa_settings_free(&set);
}
END_TEST

/* NULs in a header: the relay strings stay C strings. */
START_TEST(test_nul_bytes)
{
	static const char line[] = "from a\0b (c [198.51.100.9]) by d (Postfix) "
		"with ESMTP id x\0y; Tue, 5 Mar 2024 10:11:12 +0100";
	struct sa_settings set;
	struct strlist l;
	struct relays r;

	sa_settings_init(&set);
	strlist_init(&l);
	strlist_add(&l, line, sizeof(line) - 1);
	received_parse(&set, &l, &r);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_str_eq(r.v[0].helo, "a!b");
	ck_assert_str_eq(r.v[0].id, "x!y");
	ck_assert_str_eq(r.v[0].ip, "198.51.100.9");
	relays_free(&r);
	strlist_free(&l);
	sa_settings_free(&set);
}
END_TEST

/* Runs fn in a child of its own (the compiled patterns are process
 * state, and no earlier test may have compiled any); fn returns 0 when
 * all is well. */
static void
in_child(int (*fn)(void))
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(fn());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}

static void
parse_n(const char *line, size_t len, unsigned int n)
{
	struct sa_settings set;
	struct strlist l;
	struct relays r;

	sa_settings_init(&set);
	strlist_init(&l);
	strlist_add(&l, line, len);
	for (unsigned int i = 0; i < n; i++) {
		received_parse(&set, &l, &r);
		relays_free(&r);
	}
	strlist_free(&l);
	sa_settings_free(&set);
}

static const char postfix_line[] = "from a (b [198.51.100.9]) by c (Postfix) "
	"with ESMTP id x; Tue, 5 Mar 2024 10:11:12 +0100";

/* A Received line compiles only the patterns it is tried with, without
 * JIT; RECEIVED_JIT_AFTER lines later they get JIT code. */
static int
compiled_lazily(void)
{
	unsigned int before, b_jit, after, a_jit, n_jit, n1_jit, total;

	received_patterns_compiled(&before, &b_jit, &total);
	parse_n(postfix_line, sizeof(postfix_line) - 1, 1);
	received_patterns_compiled(&after, &a_jit, &total);
	parse_n(postfix_line, sizeof(postfix_line) - 1, RECEIVED_JIT_AFTER - 1);
	received_patterns_compiled(&after, &n_jit, &total);
	parse_n(postfix_line, sizeof(postfix_line) - 1, 1);
	received_patterns_compiled(&after, &n1_jit, &total);
	if (before != 0 || b_jit != 0 || after == 0 || after >= total)
		return 1;
	if (a_jit != 0 || n_jit != 0)
		return 2;	/* JIT code before RECEIVED_JIT_AFTER uses */
	/* the line's patterns have JIT code now, unless there is no JIT */
	received_init(true);
	received_patterns_compiled(&after, &a_jit, &total);
	if (a_jit > 0 && n1_jit == 0)
		return 3;
	return 0;
}

/* received_init(false) compiles every pattern, received_init(true) also
 * JIT-compiles them (when there is a JIT). */
static int
init_all(void)
{
	unsigned int compiled, jitted, total;

	received_init(false);
	received_patterns_compiled(&compiled, &jitted, &total);
	if (compiled != total || jitted != 0)
		return 1;
	received_init(true);
	received_patterns_compiled(&compiled, &jitted, &total);
	return compiled == total && (jitted == total || jitted == 0) ? 0 : 2;
}

/* A line the interpreter gives up on (match limit) gets the JIT's answer
 * at once, as when every pattern was JIT-compiled at first use. */
static int
limit_goes_to_jit(void)
{
	static const char head[] = "from x by y ", unit[] = "]) (authenticated ";
	char line[RECEIVED_MAX_LINE];
	unsigned int compiled, jitted, total;

	/* P_AUTH_SENDMAIL backtracks over every "(authenticated" for a " by"
	 * after it */
	memcpy(line, head, sizeof(head) - 1);
	for (size_t i = sizeof(head) - 1; i < sizeof(line); i++)
		line[i] = unit[i % (sizeof(unit) - 1)];
	parse_n(line, sizeof(line), 1);
	received_patterns_compiled(&compiled, &jitted, &total);
	if (jitted > 0)
		return 0;
	received_init(true);
	received_patterns_compiled(&compiled, &jitted, &total);
	return jitted == 0 ? 0 : 1;	/* no JIT here: nothing to see */
}

START_TEST(test_patterns_compiled_lazily)
{
	in_child(compiled_lazily);
	in_child(init_all);
	in_child(limit_goes_to_jit);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Prechecks: a pattern's need (literals it cannot match without, looked up
 * before PCRE2 is called) must never turn a match into a miss. */

/* Lines made from the SpamAssassin examples by small edits, and lines of
 * Received-ish words, from a fixed seed. */
static uint64_t rnd_state;

static unsigned int
rnd(unsigned int n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (unsigned int)(rnd_state % n);
}

static const char *const words[] = {
	"from", "FROM", "(from", "by", "BY", "with", "WITH", "id", "ID", "via",
	"for", "(", ")", "[", "]", "<", ">", "@", ";", ",", ":", "helo=",
	"helo=x.example", "ident=joe", "HELO", "EHLO", "LHLO", "(HELO", "(EHLO",
	"ESMTP", "ESMTPA", "ESMTPSA", "SMTP", "HTTP", "LMTP", "LMTPA", "QMQP",
	"POP3", "IMAP", "(Postfix)", "(Exim 4.96)", "Exim", "Microsoft", "SMTPSVC",
	"Microsoft SMTP Server", "mapi id", "localhost", "127.0.0.1",
	"[127.0.0.1]", "10.1.2.3", "[10.1.2.3]", "(10.1.2.3)", "198.51.100.7",
	"[198.51.100.7]", "[198.51.100.7:25]", "::1", "IPv6:2001:db8::1",
	"[IPv6:2001:db8::1]", "::ffff:10.0.0.1", "[fe80::1%eth0]", "unknown",
	"(unknown", "<unknown.domain>[10.1.2.3])", "mail.example.org",
	"mx.google.com", "mail.gmx.net", "Tue, 5 Mar 2024 10:11:12 +0100",
	"5 Mar 2024 10:11:12 -0000", "Tue, 5 Mar 2024 10:11", "(authenticated",
	"authenticated", "(authenticated bits=0)", "(authenticated as x)",
	"(Authenticated sender: a)", "(AUTH: LOGIN a)", "(AUTH:", "LOGIN",
	"(qmail-ldap-1.03)", "qmail", "(envelope-sender <a@b.example>)",
	"<a@b.example>", "return-path:", "envelope-from", "envelope-sender=x",
	"unverified", "(unverified [10.1.2.3])", "verified)", "(version=TLS1_2",
	"cipher=X)", "(CommuniGate Pro SMTP 5.1)", "(account x", "(via HTTP)",
	"X-Originating-IP:", "with local", "local-esmtp", "(Lotus Domino",
	"(Scalix SMTP Relay", "[XMail", "(ecelerity", "softdnserr", "IDENT:joe@h",
	"a@[10.1.2.3]", "via smap", "(SMTPL", "(InterScan", "(MailGate",
	"(Content Technologies", "x.hotmail.msn.com", "y.yahoo.com",
	"with login)", "(qpsmtpd/0.9)", "via smtpd (for x)", "SMTP(", "(Post",
	"(ArGoSoft", "BSMTP", "(NAVGW", "(jqueuemail)", "@localhost)",
	"(LSMTP for", "MailEnable", "(SG)", "[local])", "(OpenSMTPD)",
	"named", "gmailapi.google.com", "HTTPREST", "Thrift", "facebook.com",
	"(Jetsend", "[<a@b>]", "qmail-scanner", "by uid 7", "Novell_GroupWise",
	"(peer crosscheck:", ".amazon.com", "no.name.available",
	"Unknown/Local", "[[UNIX: localhost]])", "(AVG SMTP 7 [1])",
	"([unix socket])", "(Cyrus v2.3.14)", "HTTP-DAV", "(WebMailUI)",
	"(SquirrelMail authenticated user", "%", "ffff:", "0:0:0:0:0:ffff:1.2.3.4",
};

static char *
random_line(size_t *len_r)
{
	static const char *const seps[] = { " ", " ", " ", " ", "", "  ", "\t", "\n\t", "; " };
	const size_t cap = 4096, stop = 3000;
	char *buf = malloc(cap);
	size_t n = 0;

	if (buf == NULL)
		ck_abort_msg("out of memory");
	if (rnd(2) == 0) {
		/* an example with words dropped, repeated, swapped in or
		 * changed in case */
		const char *ex = sa_example_lines[rnd(N_ELEMENTS(sa_example_lines))];
		const char *p = ex;

		while (*p != '\0' && n < stop) {
			size_t w = strcspn(p, " ");
			unsigned int op = rnd(12);

			if (n + 2 * w + 64 > cap)
				break;	/* (no word of the examples is that long) */
			if (op == 0)
				;	/* dropped */
			else if (op == 1) {
				const char *x = words[rnd(N_ELEMENTS(words))];

				memcpy(buf + n, x, strlen(x));
				n += strlen(x);
				buf[n++] = ' ';
			} else {
				for (size_t i = 0; i < w; i++)
					buf[n + i] = op == 2 ? (char)(p[i] ^ 0x20) : p[i];
				n += w;
				if (op == 3) {
					buf[n++] = ' ';
					memcpy(buf + n, p, w);
					n += w;
				}
				buf[n++] = op == 4 ? ';' : ' ';
			}
			p += w;
			p += strspn(p, " ");
		}
	} else {
		unsigned int count = 1 + rnd(30);

		for (unsigned int i = 0; i < count && n < stop; i++) {
			const char *x = words[rnd(N_ELEMENTS(words))];
			const char *sep = seps[rnd(N_ELEMENTS(seps))];

			memcpy(buf + n, x, strlen(x));
			n += strlen(x);
			memcpy(buf + n, sep, strlen(sep));
			n += strlen(sep);
		}
	}
	buf[n] = '\0';
	*len_r = n;
	return buf;
}

/* Every pattern against s[0..len): a match needs its need met, both ways
 * of looking; the patterns that matched are marked in matched. */
static void
check_subject(const char *s, size_t len, bool *matched)
{
	unsigned int count = received_pattern_count();

	for (unsigned int id = 0; id < count; id++) {
		unsigned int r = received_pattern_check(id, s, len);

		/* (Check writes a mark per assertion: only failures are
		 * asserted in these loops) */
		if (!(r & RECEIVED_CHECK_SAME))
			ck_abort_msg("pattern %u: another match with the shortcut in '%.*s'",
				     id, (int)len, s);
		if (!(r & RECEIVED_CHECK_MATCH))
			continue;
		matched[id] = true;
		if (!(r & RECEIVED_CHECK_INDEX) || !(r & RECEIVED_CHECK_SCAN))
			ck_abort_msg("pattern %u matches '%.*s' but its need is not met (%#x)",
				     id, (int)len, s, r);
	}
}

/* What the parser's patterns see of a line: the line with its blanks
 * collapsed (from " " on: what follows "from "), each of its words and
 * each word without its brackets (the fields the later patterns read). */
static void
check_line_subjects(const char *line, size_t len, bool *matched, bool words_too)
{
	char *c = malloc(len + 1);
	size_t n = 0;

	if (c == NULL)
		ck_abort_msg("out of memory");
	for (size_t i = 0; i < len; i++) {
		bool sp = line[i] == ' ' || (line[i] >= '\t' && line[i] <= '\r');

		if (!sp)
			c[n++] = line[i];
		else if (n > 0 && c[n - 1] != ' ')
			c[n++] = ' ';
	}
	c[n] = '\0';
	check_subject(line, len, matched);
	check_subject(c, n, matched);
	for (size_t i = 0; i < n; i++) {
		size_t w;

		if (i > 0 && c[i - 1] != ' ' && c[i - 1] != '(')
			continue;
		check_subject(c + i, n - i, matched);
		if (!words_too)
			continue;
		w = strcspn(c + i, " ");
		check_subject(c + i, w, matched);
		if (w >= 2 && strchr("([<", c[i]) != NULL)
			check_subject(c + i + 1, w - 2, matched);
	}
	free(c);
}

/* Every pattern that has a need matches one of the lines at least once,
 * so that each need has been held against a real match. */
START_TEST(test_precheck_needs)
{
	unsigned int count = received_pattern_count();
	bool *matched = calloc(count, sizeof(*matched));
	char missing[1024] = "";
	size_t used = 0;
	static const char *const extra[] = {
		/* fields and formats no example line above has */
		"unknown", "UNKNOWN", "fe80::1%eth0", "::ffff:10.0.0.1",
		"0:0:0:0:0:FFFF:10.1.2.3", "IDENT:joe@host.example", "joe@host",
		"10.1.2.3", "172.16.0.1", "IPv6:::1", "FE80::1", "helo=a.example",
		"ident=joe",
		"from a.example (HELO a.example) [198.51.100.7] by mail.gmx.net "
		"(mp001) with SMTP; 5 Mar 2024 10:11:12 +0100",
		"from a.example by mx.google.com with ESMTPS id "
		"abcsm12345678xyz.1.2024.01.02.03.04.05; Tue, 5 Mar 2024 10:11:12 -0800 "
		"(version=TLS1_2 cipher=ECDHE-RSA-AES128-GCM-SHA256)",
		"from a ([10.1.2.3]) by b.example (ecelerity 2.1) with ESMTP id x (AUTH: "
		"LOGIN joe) by",
		"from a.example ([198.51.100.7]) (AUTH: LOGIN joe, TLS) by b.example "
		"with esmtp",
		"from a (b [198.51.100.7]) by c (5.5.123) (authenticated as joe) id x",
		"from a.example by b.example with Microsoft Exchange Server HTTP-DAV ;",
		"from a (b [10.1.2.3]) by c.example (CommuniGate Pro HTTP 5.1) (account x)",
		"from a.example by b.example (via HTTP); Tue, 5 Mar 2024 10:11:12 +0100",
		"from 10.1.2.3 (SquirrelMail authenticated user joe) by a.example with HTTP",
		"from a.example ([10.1.2.3]) by b.example with Microsoft SMTP Server "
		"(TLS) 14.3.1.2 x",
		"from a ([10.1.2.3]) by b.example with mapi id 15.20.1943.023",
		"from a ([10.1.2.3]) by b via smtpd (for c) with SMTP(x)",
		"(from joe@x.example) by b(jqueuemail) id c",
		"from a.example ([10.1.2.3]) by b.example with Exim local-x fakes",
		"from [10.1.2.3] (helo=x) by b.example with esmtp (Exim 4)",
		"from a.example [10.1.2.3]:25 by b.example with esmtp (Exim 4)",
		"from a.example (a.example [10.1.2.3]) by b (Lotus Domino Release 5)",
		"from a.example (Scalix SMTP Relay) (10.1.2.3) by b.example",
		"from 10.1.2.3 ([10.1.2.4]) by b.example (IMP) with HTTP",
		"from a (b [10.1.2.3]) by c (Exchange) with SMTP (x) id y",
		"from a ([10.1.2.3] helo=b) by c with esmtp id x",
		"from a (b.c[10.1.2.3]) by d (x) with SMTP id y",
		"from a (joe@[10.1.2.3]) by d.example (8.9) with SMTP id y",
		"from a.example (LHLO b.example) (10.1.2.3) by b.example with LMTP",
		"from a (HELO b) (10.1.2.3) by c (qpsmtpd/0.9) with ESMTP",
		"from [10.1.2.3] by a.example via HTTP",
		"from a ( [10.1.2.3]) as user b by c.example with HTTP",
		"from (b [10.1.2.3]) by c.example with ESMTP id x",
		"from ([10.1.2.3]) by c.example with ESMTP id x",
		"from a [10.1.2.3] by b.example [10.1.2.4] with SMTP",
		"from a [(10.1.2.3)] by b.example (10.1.2.4) with SMTP",
		"from a ([10.1.2.3]) by b.example (8.12)",
		"from a (b [10.1.2.3]) (x) by b.example",
		"from a ([10.1.2.3.25]) (x) by b.example with esmtp",
		"from a (b [10.1.2.3]) (authenticated bits=0) by c (8.12) with ESMTP",
		"from a (HELO b) (c@10.1.2.3) (x) by d with SMTP",
		"from a (c@10.1.2.3) (x) by d with SMTP",
		"from a(10.1.2.3, HELO b) by c via smap (V1.3)",
		"from [10.1.2.3] by a (ArGoSoft Mail Server)",
		"from a (b [10.1.2.3]) by c with ESMTP",
		"from a (HELO b) (joe@10.1.2.3 with plain) by c with SMTP",
		"from [10.1.2.3] (HELO b) by c (d)",
		"from a ([10.1.2.3] verified) by c (CommuniGate Pro SMTP 5)",
		"from a (10.1.2.3) by b with ESMTP",
		"from a ([10.1.2.3] [10.1.2.3]) by c with ESMTP",
		"from 10.1.2.3 by a with ESMTP (Tumbleweed)",
		"from a (b[10.1.2.3]) by c (d) with SMTP",
		"from [10.1.2.3]:50 (HELO b) by c (d)",
		"from 10.1.2.3 (HELO b) by c (d)",
		"from a [10.1.2.3] by b (SMTPD32)",
		"from a(10.1.2.3) by b via csmap",
		"from [10.1.2.3] by a (MailGate 3)",
		"from a (unverified [10.1.2.3]) by b <x>",
		"from 10.1.2.3 (Squid/2) by a with HTTP",
		"from [10.1.2.3] (b c) by d with ESMTP",
		"from a (x@10.1.2.3) by b with SMTP",
		"from a(10.1.2.3) via SMTP by b, id c",
		"from a (b@10.1.2.3 with login) by c.yahoo.com with SMTP",
		"from X-Originating-IP: 10.1.2.3",
		"from a (joe@localhost) by b (c)",
		"from a b by c with local-esmtp (Exim)",
		"from 127.0.0.1 (AVG SMTP 7 [1])",
		"from a@b by c by uid 7 with x",
		"from a@b by c (x)",
		"from Unknown/Local ([?]) by b",
		"from localhost (joe@localhost) by b",
		"from localhost (localhost)",
		"from a (b@c [127.0.0.1]) by d",
		"from (AUTH: x) by b with esmtp",
		"from localhost (localhost [[UNIX: localhost]]) by b",
		"from a.amazon.com by b.amazon.com with ESMTP (peer crosscheck: c)",
		"from a by b with Novell_GroupWise",
		"from no.name.available by b via smtpd (for c) with ESMTP",
		"from a by b (x) with qmail-scanner-1.2",
		"from a by b with local (Exim)",
		"from a ([unix socket]) by b (Cyrus v2.3.14) with LMTPA",
		"from a by b with x", "from a with b by c",
		"from a (unknown) by b (SG) with HTTP",
		"from a (b [local]) by c (OpenSMTPD) with ESMTPA",
		"from a (LSMTP for Windows)",
		"from ([127.0.0.1]) with MailEnable ESMTP",
		"from facebook.com (x) by facebook.com with Thrift id y",
		"from 1 named unknown by gmailapi.google.com with HTTPREST",
		"from a id b",
		"from [<a@b>] (x) (Jetsend MTA)",
		"FROM a (b [10.1.2.3]) BY c ID d",
		"(from a [10.1.2.3]) by b (NAVGW 2) with SMTP",
		"(from joe@localhost) by b (8.12) id c",
		"(from joe@x.example) by b (jqueuemail) id c",
		"from a [10.1.2.3] b",
		"from a (b [10.1.2.3] (may be forged)) by c (8.12) with ESMTP id d",
		"from a (b [10.1.2.3]) by c with SMTP id d (authenticated)",
		"from a (HELO b) ([10.1.2.3]) by c with SMTP",
		"from a ([10.1.2.3]) by b with SMTP",
		"from 10.1.2.3 by a.hotmail.msn.com with HTTP",
		"from a.example ([10.1.2.3]) by b.example with Microsoft SMTPSVC(5);",
		"from mail pickup service by a.example with Microsoft SMTPSVC",
	};

	ck_assert_ptr_nonnull(matched);
	for (size_t i = 0; i < N_ELEMENTS(sa_example_lines); i++)
		check_line_subjects(sa_example_lines[i], strlen(sa_example_lines[i]),
				    matched, true);
	for (size_t i = 0; i < N_ELEMENTS(line_cases); i++)
		check_line_subjects(line_cases[i].line, strlen(line_cases[i].line),
				    matched, true);
	for (size_t i = 0; i < N_ELEMENTS(extra); i++)
		check_line_subjects(extra[i], strlen(extra[i]), matched, true);
	for (size_t i = 0; i < N_ELEMENTS(hostile_patterns); i++)
		check_line_subjects(hostile_patterns[i].p, hostile_patterns[i].len,
				    matched, true);
	rnd_state = 0x9e3779b97f4a7c15u;
	for (unsigned int i = 0; i < 1500; i++) {
		size_t len;
		char *line = random_line(&len);

		check_line_subjects(line, len, matched, false);
		free(line);
	}
	for (unsigned int id = 0; id < count; id++) {
		if ((received_pattern_check(id, "", 0) & RECEIVED_CHECK_NEED) && !matched[id]) {
			int m = snprintf(missing + used, sizeof(missing) - used, " %u", id);

			if (m > 0 && (size_t)m < sizeof(missing) - used)
				used += (size_t)m;
		}
	}
	ck_assert_msg(used == 0, "patterns with a need that never matched:%s", missing);
	free(matched);
}
END_TEST

static bool
str_same(const struct received_str *a, const struct received_str *b)
{
	if ((a->p == NULL) != (b->p == NULL) || a->len != b->len)
		return false;
	return a->len == 0 || memcmp(a->p, b->p, a->len) == 0;
}

/* One line through received_line_parse with prechecks and without, from
 * the same chain state: the same result, fields and chain state. */
static void
parse_both_ways(const char *line, size_t len, bool fetch_markers)
{
	struct received_chain c[2];
	struct received_fields f[2];
	enum received_line_result res[2];

	memset(c, 0, sizeof(c));
	memset(f, 0, sizeof(f));
	for (int k = 0; k < 2; k++) {
		c[k].allow_mailfetch_markers = fetch_markers;
		received_prechecks_set(k == 0);
		res[k] = received_line_parse(&c[k], line, len, &f[k]);
	}
	received_prechecks_set(true);
	if (res[0] != res[1])
		ck_abort_msg("'%.*s': %d with prechecks, %d without", (int)len, line,
			     res[0], res[1]);
	if (!str_same(&f[0].ip, &f[1].ip) || !str_same(&f[0].helo, &f[1].helo) ||
	    !str_same(&f[0].rdns, &f[1].rdns) || !str_same(&f[0].by, &f[1].by) ||
	    !str_same(&f[0].id, &f[1].id) || !str_same(&f[0].ident, &f[1].ident) ||
	    !str_same(&f[0].envfrom, &f[1].envfrom) || !str_same(&f[0].auth, &f[1].auth) ||
	    f[0].envfrom_defined != f[1].envfrom_defined ||
	    f[0].mta_looked_up_dns != f[1].mta_looked_up_dns ||
	    c[0].pop_fetcher_seen != c[1].pop_fetcher_seen ||
	    c[0].have_qms_env_from != c[1].have_qms_env_from ||
	    !str_same(&c[0].qms_env_from, &c[1].qms_env_from))
		ck_abort_msg("'%.*s': other fields or chain state without prechecks",
			     (int)len, line);
	for (int k = 0; k < 2; k++) {
		received_fields_free(&f[k]);
		received_str_free(&c[k].qms_env_from);
	}
}

START_TEST(test_precheck_same_parse)
{
	for (size_t i = 0; i < N_ELEMENTS(sa_example_lines); i++)
		parse_both_ways(sa_example_lines[i], strlen(sa_example_lines[i]), true);
	for (size_t i = 0; i < N_ELEMENTS(line_cases); i++)
		parse_both_ways(line_cases[i].line, strlen(line_cases[i].line), false);
	for (size_t i = 0; i < N_ELEMENTS(hostile_patterns); i++)
		parse_both_ways(hostile_patterns[i].p, hostile_patterns[i].len, true);
	rnd_state = 0x2545f4914f6cdd1du;
	for (unsigned int i = 0; i < 20000; i++) {
		size_t len;
		char *line = random_line(&len);

		parse_both_ways(line, len, i % 2 == 0);
		free(line);
	}
}
END_TEST

static Suite *
received_suite(void)
{
	Suite *s = suite_create("received");
	TCase *tc;

	tc = ut_tcase(s, "lines", false);
	tcase_add_loop_test(tc, test_line_formats, 0, (int)N_ELEMENTS(line_cases));
	tcase_add_loop_test(tc, test_line_folded, 0, (int)N_ELEMENTS(line_cases));
	tcase_add_test(tc, test_relay_fields);
	tcase_add_test(tc, test_nul_bytes);
	tcase_add_test(tc, test_patterns_compiled_lazily);
	tc = ut_tcase(s, "prechecks", false);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_precheck_needs);
	tcase_add_test(tc, test_precheck_same_parse);
	tc = ut_tcase(s, "trust", false);
	tcase_add_loop_test(tc, test_chains, 0, (int)N_ELEMENTS(chain_cases));
	tcase_add_test(tc, test_chain_strings);
	tcase_add_test(tc, test_originating);
	tc = ut_tcase(s, "limits", false);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_hostile, 0, (int)N_ELEMENTS(hostile_patterns));
	tcase_add_test(tc, test_many_headers);
	return s;
}

int
main(void)
{
	return ut_run(received_suite);
}
