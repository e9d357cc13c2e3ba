/* Unit tests for the FreeMail eval functions (eval_freemail.c) and the
 * HeaderEval recipient, template, subject and illegal-character checks
 * (eval_header.c): each through a real rule line and a hand-built
 * message, hit and miss, with the expected answers worked out from
 * SpamAssassin's Perl (Plugin/FreeMail.pm, Plugin/HeaderEval.pm) and
 * confirmed by SpamAssassin itself (tests/tools/sa_eval_cases.py). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_compat.h"
#include "eval_harness.h"
#include "rules.h"

static const char rules_cf[] =
	"util_rb_tld com org net uk\n"
	"util_rb_2tld co.uk\n"
	"freemail_domains gmail.com yahoo.com hotmail.* *.free.example aol.co*.*\n"
	"freemail_domains bad_entry!.com\n"
	"freemail_welcomelist friend@gmail.com trusted.yahoo.com\n"
	"freemail_max_body_emails 5\n"
	"freemail_max_body_freemails 3\n"
	"freemail_skip_when_over_max 1\n"
	"freemail_skip_bulk_envfrom 1\n"
	"freemail_add_describe_email 0\n"
	"freemail_import_welcomelist_auth 0\n"
	"header FM_FROM eval:check_freemail_from()\n"
	"header FM_FROM_DIGIT eval:check_freemail_from('\\d@')\n"
	"header FM_ENV_DIGIT eval:check_freemail_header('EnvelopeFrom', '\\d@')\n"
	"header FM_REPLYTO eval:check_freemail_header('Reply-To')\n"
	"header FM_REPLYTO_ADDR eval:check_freemail_header('Reply-To:addr')\n"
	"header FM_RT eval:check_freemail_replyto('replyto')\n"
	"header FM_REPLY eval:check_freemail_replyto('reply')\n"
	"header FM_BODY eval:check_freemail_body()\n"
	"header FM_BODY_DIGIT eval:check_freemail_body('\\d@')\n"
	"loadplugin Mail::SpamAssassin::Plugin::FromNameSpoof\n"
	"fns_add_addrlist (PayPal) *@paypal.com *@PAYPAL.co.uk\n"
	"fns_add_addrlist (bank) *@bank.example.com\n"
	"fns_remove_addrlist (bank) *@bank.example.com\n"
	"fns_remove_addrlist (gone) *@gone.example.com\n"
	"fns_extrachars 50\n"
	"fns_check 1\n"
	"fns_ignore_headers X-Fns-Skip X-Other-Skip\n"
	"fns_ignore_dkim example.net\n"
	"header FNS_SPOOF eval:check_fromname_spoof()\n"
	"header FNS_SPOOF0 eval:check_fromname_spoof('0')\n"
	"header FNS_SPOOF2 eval:check_fromname_spoof('2')\n"
	"header FNS_SPOOFX eval:check_fromname_spoof('7')\n"
	"header FNS_DIFF eval:check_fromname_different()\n"
	"header FNS_DOMDIFF eval:check_fromname_domain_differ()\n"
	"header FNS_EMAIL eval:check_fromname_contains_email()\n"
	"header FNS_EQ_TO eval:check_fromname_equals_to()\n"
	"header FNS_OWNERS eval:check_fromname_owners_differ()\n"
	"header FNS_EQ_RT eval:check_fromname_equals_replyto()\n";

static const char header_cf[] =
	"header SORTED eval:sorted_recipients()\n"
	"header SIMILAR eval:similar_recipients('0.65','undef')\n"
	"header UNRESOLVED eval:check_unresolved_template()\n"
	"header LOCALPART eval:check_for_to_in_subject('user')\n"
	"header TO_IN_SUBJ eval:check_for_to_in_subject('address')\n"
	"header GATED eval:gated_through_received_hdr_remover()\n"
	"header SUBJ_ILLEGAL eval:check_illegal_chars('Subject','0.00','2')\n"
	"header FROM_ILLEGAL eval:check_illegal_chars('From','0.20','2')\n"
	"header HEAD_ILLEGAL eval:check_illegal_chars('ALL','0.010','2')\n"
	"header FARAWAY_HDR eval:check_for_faraway_charset_in_headers()\n"
	"enlist_addrlist (SUSP) *@*.top *@example.xyz\n"
	"enlist_addrlist (SUSP) Boss@Example.org\n"
	"header IN_LIST eval:check_from_in_list('SUSP')\n"
	"header REPLYTO_IN_LIST eval:check_replyto_in_list('SUSP')\n"
	"header NO_LIST eval:check_from_in_list('NOPE')\n";

#define RCVD \
	"Received: from mail.example.org (mail.example.org [81.2.69.160])\n" \
	"\tby mx.example.com (Postfix) with ESMTP id BBB2\n" \
	"\tfor <a@example.com>; Sun, 22 Nov 2026 09:59:59 +0000\n"

static const struct eval_case fm_cases[] = {
	{ "not freemail", "bob@example.org",
	  RCVD "From: Bob <bob@example.org>\nTo: a@example.com\n\nhello\n", "" },
	{ "freemail from", "joe@example.org",
	  RCVD "From: Joe <Joe@GMail.com>\nTo: a@example.com\n\nhello\n", "FM_FROM" },
	{ "freemail envelope, digit", "joe77@yahoo.com",
	  RCVD "From: Joe <joe@example.org>\nTo: a@example.com\n\nhello\n",
	  "FM_FROM FM_FROM_DIGIT FM_ENV_DIGIT" },
	{ "wildcard domains", "x@example.org",
	  RCVD "From: x1@hotmail.de\nReply-To: y@mail.free.example\nTo: a@example.com\n\nhi\n",
	  "FM_FROM FM_FROM_DIGIT FM_REPLYTO FM_REPLYTO_ADDR FM_RT FM_REPLY" },
	{ "wildcard needs whole labels", "x@example.org",
	  RCVD "From: x@hotmail.co.uk\nReply-To: y@free.example\nTo: a@example.com\n\nhi\n", "" },
	{ "aol.co*.*", "x@example.org",
	  RCVD "From: x@aol.co.uk\nTo: a@example.com\n\nhi\n", "FM_FROM" },
	{ "welcomelisted address and domain", "x@example.org",
	  RCVD "From: friend@gmail.com\nReply-To: z@trusted.yahoo.com\nTo: a@example.com\n\nhi\n",
	  "" },
	{ "default welcomelist", "x@example.org",
	  RCVD "From: support@gmail.com\nReply-To: bounce-@yahoo.com\nTo: a@example.com\n\nhi\n",
	  "" },
	/* the default welcomelist wants "bounce-" right before the "@" */
	{ "default welcomelist is anchored", "x@example.org",
	  RCVD "From: support@gmail.com\nReply-To: bounce-123@yahoo.com\nTo: a@example.com\n\nhi\n",
	  "FM_REPLYTO FM_REPLYTO_ADDR" },
	/* From and Reply-To both freemail but different: FM_RT and FM_REPLY */
	{ "different freemails", "x@example.org",
	  RCVD "From: a@gmail.com\nReply-To: b@yahoo.com\nTo: a@example.com\n\nhi\n",
	  "FM_FROM FM_REPLYTO FM_REPLYTO_ADDR FM_RT FM_REPLY" },
	{ "same freemail in both", "x@example.org",
	  RCVD "From: a@gmail.com\nReply-To: A@gmail.com\nTo: a@example.com\n\nhi\n",
	  "FM_FROM FM_REPLYTO FM_REPLYTO_ADDR" },
	/* a bulk envelope sender skips the Reply-To comparison */
	{ "bulk envelope", "list-bounces@example.org",
	  RCVD "From: a@gmail.com\nReply-To: b@yahoo.com\nTo: a@example.com\n\nhi\n",
	  "FM_FROM FM_REPLYTO FM_REPLYTO_ADDR" },
	/* From freemail, body names another freemail: FM_REPLY only */
	{ "body freemail", "x@example.org",
	  RCVD "From: a@gmail.com\nTo: a@example.com\n\nwrite to other9@yahoo.com today\n",
	  "FM_FROM FM_REPLY FM_BODY FM_BODY_DIGIT" },
	{ "body freemail equals from", "x@example.org",
	  RCVD "From: a@gmail.com\nTo: a@example.com\n\nwrite to a@gmail.com today\n",
	  "FM_FROM FM_BODY" },
	/* Reply-To freemail, body another: FM_RT via the body */
	{ "reply-to vs body", "x@example.org",
	  RCVD "From: a@example.org\nReply-To: r@gmail.com\nTo: a@example.com\n\n"
	  "contact c@hotmail.com\n", "FM_REPLYTO FM_REPLYTO_ADDR FM_RT FM_BODY" },
	/* addresses followed by "word:" or ">" and inside URLs are dropped */
	{ "body clean-ups", "x@example.org",
	  RCVD "From: a@gmail.com\nTo: a@example.com\n\n"
	  "b@yahoo.com wrote: hi\n<c@hotmail.com>\nhttp://x.example.com/?u=d@gmail.com\n",
	  "FM_FROM" },
	{ "body address before fax: kept", "x@example.org",
	  RCVD "From: a@gmail.com\nTo: a@example.com\n\nb@yahoo.com fax: 123\n",
	  "FM_FROM FM_REPLY FM_BODY" },
	/* too many body freemails (3): the body is skipped */
	{ "too many freemails", "x@example.org",
	  RCVD "From: a@gmail.com\nTo: a@example.com\n\n"
	  "b@yahoo.com c@yahoo.com d@yahoo.com\n", "FM_FROM" },
	{ "too many addresses", "x@example.org",
	  RCVD "From: a@gmail.com\nTo: a@example.com\n\n"
	  "b@yahoo.com c@example.org d@example.org e@example.org f@example.org\n", "FM_FROM" },
	{ "unknown tld in body", "x@example.org",
	  RCVD "From: a@gmail.com\nTo: a@example.com\n\nb@yahoo.zzz\n", "FM_FROM" },
	{ "html mailto", "x@example.org",
	  RCVD "From: a@gmail.com\nTo: a@example.com\nContent-Type: text/html\n\n"
	  "<html><body><a href=\"mailto:Zed@Yahoo.com\">write</a></body></html>\n",
	  "FM_FROM FM_REPLY FM_BODY" },
	{ "resent-from wins", "x@example.org",
	  RCVD "Resent-From: r@example.org\nFrom: a@gmail.com\nTo: a@example.com\n\nhi\n", "" },
	/* hostile: NUL, invalid UTF-8, a long local part, many @ */
	{ "hostile", "x@example.org",
	  RCVD "From: \"\xff\xfe\" <a\xc3(@gmail.com>\nReply-To: @@@@@\nTo: a@example.com\n\n"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "@yahoo.com @@@@ x@@yahoo.com \xff@yahoo.com\n", "" },
};

static const struct eval_case hdr_cases[] = {
	{ "plain", NULL,
	  RCVD "From: a@example.org\nTo: b@example.com\nSubject: hello\n\nx\n", "" },
	{ "no received", NULL, "From: a@example.org\nTo: b@example.com\n\nx\n", "GATED" },
	{ "msn groups", NULL,
	  "Received: from groups.msn.com (tk2dcpuba01.msn.com [65.54.195.210])\n"
	  "\tby mx.example.com; Sun, 22 Nov 2026 09:59:59 +0000\n"
	  "From: a@example.org\nTo: b@example.com\n\nx\n", "GATED" },
	{ "sorted recipients", NULL,
	  RCVD "From: a@example.org\nTo: aa@x.example, ab@x.example, ac@x.example, "
	  "ad@x.example,\n ae@x.example, af@x.example, ag@x.example\n\nx\n", "SORTED" },
	{ "unsorted, alike", NULL,
	  RCVD "From: a@example.org\nTo: jo9@x.example, jo1@x.example, jo2@x.example, "
	  "jo3@x.example,\n jo4@x.example\n\nx\n", "SIMILAR" },
	{ "sorted and alike, in To and Cc", NULL,
	  RCVD "From: a@example.org\nTo: jo1@x.example, jo2@x.example, jo3@x.example\n"
	  "Cc: jo4@x.example,\n jo5@x.example, jo6@x.example, jo7@x.example\n\nx\n",
	  "SORTED SIMILAR" },
	/* case-insensitive repeats count once: six left, too few to sort */
	{ "repeats", NULL,
	  RCVD "From: a@example.org\nTo: aa@x.example, AA@x.example, ab@x.example, "
	  "ac@x.example,\n ad@x.example, ae@x.example, af@x.example\n\nx\n", "" },
	{ "not alike", NULL,
	  RCVD "From: a@example.org\nTo: john@one.example, mary@two.example, "
	  "bob@three.example,\n zed@four.example, kim@five.example\n\nx\n", "" },
	{ "similar hosts", NULL,
	  RCVD "From: a@example.org\nTo: john@mail1.example, mary@mail2.example, "
	  "bob@mail3.example,\n zed@mail4.example, kim@mail5.example\n\nx\n", "SIMILAR" },
	{ "template", NULL,
	  RCVD "From: a@example.org\nTo: b@example.com\nX-Mailer: %MAILER_NAME\n\nx\n",
	  "UNRESOLVED" },
	/* no header at all: ALL is empty (clang's UBSan caught NULL + 0
	 * here; gcc's does not check that) */
	{ "no headers", NULL, "\nx\n", "GATED" },
	{ "template in subject ignored", NULL,
	  RCVD "From: a@example.org\nTo: b@example.com\nSubject: %SUBJECT\n\nx\n", "" },
	{ "localpart in subject", NULL,
	  RCVD "From: a@example.org\nTo: joe@example.com\nSubject: joe, your order\n\nx\n",
	  "LOCALPART" },
	{ "re: localpart", NULL,
	  RCVD "From: a@example.org\nTo: joe@example.com\nSubject: Re: hello Joe\n\nx\n",
	  "LOCALPART" },
	{ "address in subject", NULL,
	  RCVD "From: a@example.org\nTo: joe@example.com\nSubject: news for Joe@Example.com\n\nx\n",
	  "TO_IN_SUBJ" },
	/* the user is in the Subject, but not in a form the pattern names:
	 * holding it is not enough */
	{ "localpart inside a word", NULL,
	  RCVD "From: a@example.org\nTo: joe@example.com\nSubject: ask Joey today\n\nx\n", "" },
	{ "address inside a longer one", NULL,
	  RCVD "From: a@example.org\nTo: joe@example.com\nSubject: for JOE@EXAMPLE.COMPANY\n\nx\n",
	  "" },
	/* bytes past ASCII in the user: matched as they are, the letters
	 * around them folded */
	{ "localpart past ascii", NULL,
	  RCVD "From: a@example.org\nTo: j\xc3\xb6rg@example.com\nSubject: Re: J\xc3\xb6RG\n\nx\n",
	  "LOCALPART" },
	{ "address in capitals", NULL,
	  RCVD "From: a@example.org\nTo: joe@example.com\nSubject: for JOE@EXAMPLE.COM today\n\nx\n",
	  "TO_IN_SUBJ" },
	{ "localpart with regex chars", NULL,
	  RCVD "From: a@example.org\nTo: \"x\" <j.o+e@example.com>\nSubject: j.o+e\n\nx\n",
	  "LOCALPART" },
	{ "illegal subject", NULL,
	  RCVD "From: a@example.org\nTo: b@example.com\nSubject: caf\xe9 cr\xe8me\n\nx\n",
	  "SUBJ_ILLEGAL" },
	{ "illegal header bytes", NULL,
	  "From: a@example.org\nSubject: \xe9\xe9\xe9\xe9\n\nx\n",
	  "SUBJ_ILLEGAL HEAD_ILLEGAL GATED" },
	{ "utf-8 subject is fine", NULL,
	  RCVD "From: a@example.org\nTo: b@example.com\nSubject: caf\xc3\xa9 cr\xc3\xa8me\n\nx\n",
	  "" },
	{ "one exempt byte", NULL,
	  RCVD "From: a@example.org\nTo: b@example.com\nSubject: price \xa3 10 \xe9\n\nx\n",
	  "" },
	{ "two exempt bytes", NULL,
	  RCVD "From: a@example.org\nTo: b@example.com\nSubject: price \xa3 10 \xa3\n\nx\n",
	  "SUBJ_ILLEGAL" },
	{ "illegal from", NULL,
	  RCVD "From: \xc1\xc2\xc3\xc4\xc5\xc6 <a@x.org>\nTo: b@example.com\n\nx\n",
	  "FROM_ILLEGAL HEAD_ILLEGAL" },
	{ "controls in utf-8", NULL,
	  RCVD "From: a@example.org\nTo: b@example.com\nSubject: caf\xc3\xa9 \x01\x02\n\nx\n",
	  "SUBJ_ILLEGAL HEAD_ILLEGAL" },
	/* enlist_addrlist and WLBLEval's check_from_in_list/_replyto_ */
	{ "from in list", NULL,
	  RCVD "From: x@Mail.TOP\nTo: b@example.com\n\nx\n", "IN_LIST" },
	{ "envelope sender in list", "boss@example.org",
	  RCVD "From: x@example.net\nTo: b@example.com\n\nx\n", "IN_LIST" },
	{ "first reply-to in list", NULL,
	  RCVD "From: x@example.net\nReply-To: a@example.xyz, b@example.net\n"
	  "To: b@example.com\n\nx\n", "REPLYTO_IN_LIST" },
	{ "second reply-to not looked at", NULL,
	  RCVD "From: x@example.net\nReply-To: b@example.net, a@example.xyz\n"
	  "To: b@example.com\n\nx\n", "" },
	{ "top is not a subdomain glob", NULL,
	  RCVD "From: x@top\nTo: b@example.com\n\nx\n", "" },
	{ "ezmlm without received", NULL,
	  "Mailing-List: contact list-help@example.org; run by ezmlm\n"
	  "From: a@example.org\nTo: b@example.com\n\nx\n", "GATED" },
};

/* Both rule texts in one file, as the dump writes them. */

#define FNS_ALL "FNS_SPOOF FNS_SPOOF0 FNS_SPOOF2 FNS_SPOOFX FNS_DIFF FNS_DOMDIFF FNS_EMAIL FNS_OWNERS"
#define FNS_TO "To: a@example.com\n"

/* FromNameSpoof (Plugin/FromNameSpoof.pm): an address in the From name
 * compared with the From address, its domain and its owner. */
static const struct eval_case fns_cases[] = {
	{ "fns plain name", "x@example.org",
	  RCVD "From: Bob <bob@example.org>\n" FNS_TO "\nhi\n", "" },
	{ "fns spoof", "x@example.org",
	  RCVD "From: \"paypal@paypal.com\" <x@evil.net>\n" FNS_TO "\nhi\n", FNS_ALL },
	{ "fns spoof, upper case", "x@example.org",
	  RCVD "From: \"PayPal@PayPal.COM\" <X@Evil.NET>\n" FNS_TO "\nhi\n", FNS_ALL },
	{ "fns same owner by list", "x@example.org",
	  RCVD "From: \"service@paypal.co.uk\" <x@paypal.com>\n" FNS_TO "\nhi\n",
	  "FNS_SPOOF0 FNS_SPOOF2 FNS_DIFF FNS_DOMDIFF FNS_EMAIL" },
	{ "fns removed list entry", "x@example.org",
	  RCVD "From: \"a@bank.example.com\" <b@bank.example.net>\n" FNS_TO "\nhi\n",
	  "FNS_SPOOF0 FNS_SPOOF2 FNS_DIFF FNS_DOMDIFF FNS_EMAIL" },
	{ "fns same domain", "x@example.org",
	  RCVD "From: \"info@example.org\" <bob@example.org>\n" FNS_TO "\nhi\n",
	  "FNS_SPOOF0 FNS_DIFF FNS_EMAIL" },
	{ "fns subdomain", "x@example.org",
	  RCVD "From: \"a@mail.example.org\" <b@example.org>\n" FNS_TO "\nhi\n",
	  "FNS_SPOOF0 FNS_DIFF FNS_EMAIL" },
	{ "fns name is the address", "x@example.org",
	  RCVD "From: \"bob@example.org\" <bob@example.org>\n" FNS_TO "\nhi\n", "FNS_EMAIL" },
	{ "fns equals to", "x@example.org",
	  RCVD "From: \"a@example.com\" <x@evil.net>\n" FNS_TO "\nhi\n", FNS_ALL " FNS_EQ_TO" },
	{ "fns equals cc", "x@example.org",
	  RCVD "From: \"c@example.com\" <x@evil.net>\n" FNS_TO "Cc: Cee <c@example.com>\n\nhi\n",
	  FNS_ALL " FNS_EQ_TO" },
	/* all_to_addrs keeps the case: an upper-case Cc is another address */
	{ "fns equals cc, case differs", "x@example.org",
	  RCVD "From: \"c@example.com\" <x@evil.net>\n" FNS_TO "Cc: Cee <C@example.com>\n\nhi\n",
	  FNS_ALL },
	{ "fns equals reply-to", "x@example.org",
	  RCVD "From: \"paypal@paypal.com\" <x@evil.net>\nReply-To: PayPal@paypal.com\n"
	  FNS_TO "\nhi\n", FNS_ALL " FNS_EQ_RT" },
	{ "fns name too long", "x@example.org",
	  RCVD "From: \"Dear customer, this is your bank writing about the account of "
	  "paypal@paypal.com, please read\" <x@evil.net>\n" FNS_TO "\nhi\n", "FNS_EMAIL" },
	{ "fns name just close enough", "x@example.org",
	  RCVD "From: \"Customer service of the bank paypal@paypal.com\" <x@evil.net>\n"
	  FNS_TO "\nhi\n", FNS_ALL },
	{ "fns ignored header", "x@example.org",
	  RCVD "From: \"paypal@paypal.com\" <x@evil.net>\nX-Fns-Skip: yes\n" FNS_TO "\nhi\n", "" },
	{ "fns ignored header, zero", "x@example.org",
	  RCVD "From: \"paypal@paypal.com\" <x@evil.net>\nx-other-skip: 0\n" FNS_TO "\nhi\n",
	  "" },
	{ "fns ignored header, empty", "x@example.org",
	  RCVD "From: \"paypal@paypal.com\" <x@evil.net>\nX-Fns-Skip:\n" FNS_TO "\nhi\n", "" },
	{ "fns unknown tld in name", "x@example.org",
	  RCVD "From: \"paypal@paypal.invalidtld\" <x@evil.net>\n" FNS_TO "\nhi\n", "" },
	{ "fns unknown tld in from", "x@example.org",
	  RCVD "From: \"paypal@paypal.com\" <x@evil.invalidtld>\n" FNS_TO "\nhi\n", "" },
	{ "fns no from", "x@example.org", RCVD FNS_TO "Subject: x\n\nhi\n", "" },
	{ "fns ip domain", "x@example.org",
	  RCVD "From: \"a@81.2.69.160\" <x@evil.net>\n" FNS_TO "\nhi\n", FNS_ALL },
	{ "fns two at signs", "x@example.org",
	  RCVD "From: \"a@b@paypal.com\" <x@evil.net>\n" FNS_TO "\nhi\n", FNS_ALL },
	{ "fns trailing dot", "x@example.org",
	  RCVD "From: \"paypal@paypal.com.\" <x@paypal.com>\n" FNS_TO "\nhi\n", "" },
	{ "fns encoded name", "x@example.org",
	  RCVD "From: =?UTF-8?B?cGF5cGFsQHBheXBhbC5jb20=?= <x@evil.net>\n" FNS_TO "\nhi\n",
	  FNS_ALL },
	{ "fns invalid utf-8 and controls", "x@example.org",
	  RCVD "From: \"\xff\xfe\x01 paypal@paypal.com \xc3\x28\" <x@evil.net>\n" FNS_TO "\nhi\n",
	  FNS_ALL },
	{ "fns two from addresses", "x@example.org",
	  RCVD "From: \"paypal@paypal.com\" <x@evil.net>, \"b@bank.example.com\" <y@example.org>\n"
	  FNS_TO "\nhi\n", FNS_ALL },
	{ "fns unbalanced quotes and brackets", "x@example.org",
	  RCVD "From: \"paypal@paypal.com <<x@evil.net\n" FNS_TO "\nhi\n", "" },
};

static void
check_hits(const char *const *names, size_t n_names, const struct eval_case *c)
{
	char cf[sizeof(rules_cf) + sizeof(header_cf)];

	snprintf(cf, sizeof(cf), "%s%s", rules_cf, header_cf);
	eh_check_hits(cf, names, n_names, c);
}

static const char *const fm_names[] = {
	"FM_FROM", "FM_FROM_DIGIT", "FM_ENV_DIGIT", "FM_REPLYTO", "FM_REPLYTO_ADDR",
	"FM_RT", "FM_REPLY", "FM_BODY", "FM_BODY_DIGIT",
};

static const char *const hdr_names[] = {
	"SORTED", "SIMILAR", "UNRESOLVED", "LOCALPART", "TO_IN_SUBJ", "GATED",
	"SUBJ_ILLEGAL", "FROM_ILLEGAL", "HEAD_ILLEGAL", "FARAWAY_HDR", "IN_LIST",
	"REPLYTO_IN_LIST", "NO_LIST",
};

static const char *const fns_names[] = {
	"FNS_SPOOF", "FNS_SPOOF0", "FNS_SPOOF2", "FNS_SPOOFX", "FNS_DIFF", "FNS_DOMDIFF",
	"FNS_EMAIL", "FNS_EQ_TO", "FNS_OWNERS", "FNS_EQ_RT",
};

START_TEST(eval_freemail_table)
{
	check_hits(fm_names, N_ELEMENTS(fm_names), &fm_cases[_i]);
}
END_TEST

START_TEST(eval_header_more_table)
{
	check_hits(hdr_names, N_ELEMENTS(hdr_names), &hdr_cases[_i]);
}
END_TEST

START_TEST(eval_fromname_table)
{
	check_hits(fns_names, N_ELEMENTS(fns_names), &fns_cases[_i]);
}
END_TEST

/* A Subject of 1 MB that nearly holds a long To: user everywhere: the
 * search for it stays linear and finds nothing; the same user as the
 * whole of a "Re:" Subject is found. */
START_TEST(eval_to_in_subject_hostile)
{
	size_t n = 1024 * 1024, user = 3000;
	char *msg = malloc(n + 2 * user + 300);
	struct eval_case c = { "huge subject", NULL, NULL, "" };
	size_t o, subject;

	ck_assert_ptr_nonnull(msg);
	o = (size_t)sprintf(msg, RCVD "From: a@example.org\nTo: ");
	memset(msg + o, 'a', user);
	o += user;
	o += (size_t)sprintf(msg + o, "@example.com\nSubject: ");
	subject = o;
	for (size_t i = 0; i < n; i++)
		msg[o++] = (i % user == user - 1) ? 'b' : 'A';
	strcpy(msg + o, "\n\nhi\n");
	c.message = msg;
	check_hits(hdr_names, N_ELEMENTS(hdr_names), &c);

	o = subject + (size_t)sprintf(msg + subject, "Re: ");
	memset(msg + o, 'A', user);
	strcpy(msg + o + user, "\n\nhi\n");
	c.name = "re: long user";
	c.hits = "LOCALPART";
	check_hits(hdr_names, N_ELEMENTS(hdr_names), &c);
	free(msg);
}
END_TEST

/* A From name of 1 MB holding an address: bounded, no crash; past
 * FNS_MAX_NAME the name is not searched at all. */
START_TEST(eval_fromname_hostile_name)
{
	size_t n = 1024 * 1024;
	char *msg = malloc(n + 300);
	struct eval_case c = { "huge from name", "x@example.org", NULL, "" };
	size_t o;

	ck_assert_ptr_nonnull(msg);
	o = (size_t)sprintf(msg, RCVD "From: \"paypal@paypal.com ");
	for (size_t i = 0; o < n; i++)
		msg[o++] = (i % 7 == 0) ? '@' : (i % 5 == 0 ? '.' : 'a');
	o += (size_t)sprintf(msg + o, "\" <x@evil.net>\nTo: a@example.com\n\nhi\n");
	c.message = msg;
	check_hits(fns_names, N_ELEMENTS(fns_names), &c);
	free(msg);
}
END_TEST

/* Without any freemail_domains line the plugin is off: nothing hits. */
START_TEST(eval_freemail_unconfigured)
{
	static const char cf[] = "util_rb_tld com\nheader FM_FROM eval:check_freemail_from()\n";
	static const char msg[] = "From: a@gmail.com\n\nx\n";
	static const char *const names[] = { "FM_FROM" };
	char dir[4096], path[4200];
	const char *dirs[1];
	struct rules_load_result res;
	struct ruleset *rs;
	bool got;

	snprintf(dir, sizeof(dir), "%s", ut_testdir());
	ut_pathf(path, sizeof(path), "%s/50_eval.cf", dir);
	ut_write_text(path, cf);
	dirs[0] = dir;
	rs = rules_load(dirs, 1, &res);
	ck_assert_ptr_nonnull(rs);
	eh_match(rs, msg, strlen(msg), NULL, names, 1, &got);
	ck_assert(!got);
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

/* A body of many long lines full of "@": bounded, no crash. */
START_TEST(eval_freemail_hostile_body)
{
	size_t n = 2 * 1024 * 1024;
	char *msg = malloc(n + 200);
	struct eval_case c = { "huge body", "x@example.org", NULL, "FM_FROM" };
	size_t o;

	ck_assert_ptr_nonnull(msg);
	o = (size_t)sprintf(msg, RCVD "From: a@gmail.com\nTo: a@example.com\n\n");
	for (size_t i = 0; o < n; i++)
		msg[o++] = (i % 997 == 996) ? '\n' : (i % 3 == 0 ? '@' : (i % 5 == 0 ? '.' : 'a'));
	msg[o++] = '\n';
	msg[o] = '\0';
	c.message = msg;
	check_hits(fm_names, N_ELEMENTS(fm_names), &c);
	free(msg);
}
END_TEST

static Suite *
eval_freemail_suite(void)
{
	Suite *s = suite_create("eval_freemail");
	TCase *tc = ut_tcase(s, "eval_freemail", true);

	tcase_add_loop_test(tc, eval_freemail_table, 0, N_ELEMENTS(fm_cases));
	tcase_add_loop_test(tc, eval_header_more_table, 0, N_ELEMENTS(hdr_cases));
	tcase_add_loop_test(tc, eval_fromname_table, 0, N_ELEMENTS(fns_cases));
	tcase_add_test(tc, eval_fromname_hostile_name);
	tcase_add_test(tc, eval_to_in_subject_hostile);
	tcase_add_test(tc, eval_freemail_unconfigured);
	tcase_add_test(tc, eval_freemail_hostile_body);
	return s;
}

int
main(void)
{
	static const struct eh_table tables[] = {
		{ fm_names, N_ELEMENTS(fm_names), fm_cases, N_ELEMENTS(fm_cases) },
		{ hdr_names, N_ELEMENTS(hdr_names), hdr_cases, N_ELEMENTS(hdr_cases) },
		{ fns_names, N_ELEMENTS(fns_names), fns_cases, N_ELEMENTS(fns_cases) },
	};
	static char cf[sizeof(rules_cf) + sizeof(header_cf)];

	snprintf(cf, sizeof(cf), "%s%s", rules_cf, header_cf);
	return eh_main(eval_freemail_suite, ut_testdir, cf, tables, N_ELEMENTS(tables));
}
