/* Unit tests for sieve/sieve_run: real scripts through the real libsieve,
 * in the sandbox as the daemon runs them.  Each case renders the resolved
 * action list as one line, so a table says what a script must do:
 *
 *   keep[*]{FLAGS}  the keep (* = implicit)
 *   fileinto(F){FLAGS}  redirect(A)  reject(R)  discard
 *   vacation(to=A,from=F,subj=S,days=N[,mime][,addr=A1|A2])
 *   ERROR  when the run failed (error_text checked separately)
 *
 * Covered: every action and test libsieve offers (keep, fileinto, discard,
 * stop, redirect, reject, vacation, imap4flags; envelope, address, header,
 * exists, size, allof/anyof/not, :is/:contains/:matches/:regex,
 * :user/:detail/:localpart/:domain, relational :value/:count with
 * i;ascii-numeric), the implicit keep rules, before/after scripts, the
 * limits, the error paths, the validation cache and the user log. */
#include "config.h"

#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <sys/uio.h>
#include <time.h>

#include "check_compat.h"

#include "buf.h"
#include "sieve_int.h"
#include "sieve_run.h"

#define PREPEND "Return-Path: <alice@example.org>\n" \
	"X-Spam-Flag: YES\n" \
	"X-Spam-Score: 7\n" \
	"Delivered-To: bob+lists@example.com\n"
#define MESSAGE "From: Alice <alice@example.org>\n" \
	"To: Bob <bob+lists@example.com>\n" \
	"Cc: carol@example.net, \"Dave\" <dave@example.net>\n" \
	"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus Berlin\n" \
	"X-Multi: one\n" \
	"X-Multi: two\n" \
	"X-Number: 42\n" \
	"X-Folded: first\n\tsecond\n" \
	"Message-ID: <m1@example.org>\n" \
	"\n" \
	"Hello Bob.\n"

static struct sieve_settings
settings(void)
{
	struct sieve_settings s = { NULL, NULL, 1024 * 1024, 32, 4, 10, 60, true, true, 0 };

	return s;
}

/* Renders an action list as the one-line form described above. */
static void
render(const struct sieve_actions *a, char *out, size_t size)
{
	struct buf b;

	buf_init(&b, 0);
	if (a->error)
		buf_put_str(&b, "ERROR ");
	for (size_t i = 0; i < a->count; i++) {
		const struct sieve_action *x = &a->v[i];

		if (i > 0)
			buf_put_str(&b, " ");
		switch (x->kind) {
		case SIEVE_ACT_KEEP:
			buf_putf(&b, "keep%s", x->implicit ? "*" : "");
			break;
		case SIEVE_ACT_FILEINTO:
			buf_putf(&b, "fileinto(%s)", x->folder);
			break;
		case SIEVE_ACT_REDIRECT:
			buf_putf(&b, "redirect(%s)", x->address);
			break;
		case SIEVE_ACT_REJECT:
			buf_putf(&b, "reject(%s)", x->text);
			break;
		case SIEVE_ACT_DISCARD:
			buf_put_str(&b, "discard");
			break;
		case SIEVE_ACT_VACATION:
			buf_putf(&b, "vacation(to=%s,from=%s,subj=%s,days=%u%s",
				 x->vacation.address,
				 x->vacation.from != NULL ? x->vacation.from : "-",
				 x->vacation.subject != NULL ? x->vacation.subject : "-",
				 x->vacation.days, x->vacation.mime ? ",mime" : "");
			for (size_t k = 0; k < x->vacation.address_count; k++)
				buf_putf(&b, "%s%s", k == 0 ? ",addr=" : "|",
					 x->vacation.addresses[k]);
			buf_put_str(&b, ")");
			break;
		}
		if (x->flag_count > 0) {
			buf_put_str(&b, "{");
			for (size_t k = 0; k < x->flag_count; k++)
				buf_putf(&b, "%s%s", k > 0 ? "," : "", x->flags[k]);
			buf_put_str(&b, "}");
		}
	}
	snprintf(out, size, "%s", b.data != NULL ? b.data : "");
	buf_free(&b);
}

struct run {
	const char *from, *to, *prepend, *message;
	const char *before, *after;	/* script texts (NULL: none) */
	struct sieve_settings set;
};

static struct run
run_defaults(void)
{
	struct run r = { "alice@example.org", "bob+lists@example.com", PREPEND, MESSAGE,
			 NULL, NULL, settings() };

	return r;
}

/* Writes script (if not NULL) to DIR/user.sieve and runs it; returns
 * the list (caller frees) and the script's path in path_r. */
static struct sieve_actions *
run_in(const char *dir, const char *script, struct run *r, char *path_r, size_t path_size)
{
	char path[PATH_MAX], before[PATH_MAX], after[PATH_MAX];
	struct iovec iov[2];
	struct sieve_msg msg;
	struct sieve_runner *runner;
	struct sieve_actions *a;

	ut_pathf(path, sizeof(path), "%s/user.sieve", dir);
	if (script != NULL)
		ut_write_text(path, script);
	if (r->before != NULL) {
		ut_pathf(before, sizeof(before), "%s/before.sieve", dir);
		ut_write_text(before, r->before);
		r->set.before = before;
	}
	if (r->after != NULL) {
		ut_pathf(after, sizeof(after), "%s/after.sieve", dir);
		ut_write_text(after, r->after);
		r->set.after = after;
	}
	iov[0].iov_base = (void *)r->prepend;
	iov[0].iov_len = strlen(r->prepend);
	iov[1].iov_base = (void *)r->message;
	iov[1].iov_len = strlen(r->message);
	memset(&msg, 0, sizeof(msg));
	msg.iov = iov;
	msg.iovcnt = 2;
	msg.size = iov[1].iov_len;
	msg.env_from = r->from;
	msg.env_to = r->to;
	msg.recipient_delimiter = "+";
	runner = sieve_runner_new(&r->set);
	a = sieve_run(runner, path, &msg);
	sieve_runner_free(&runner);
	if (path_r != NULL)
		snprintf(path_r, path_size, "%s", path);
	return a;
}

static void
expect(const char *script, struct run *r, const char *want)
{
	struct sieve_actions *a = run_in(ut_testdir(), script, r, NULL, 0);
	char got[4096];

	render(a, got, sizeof(got));
	ck_assert_msg(strcmp(got, want) == 0, "script:\n%s\ngot:  %s\nwant: %s\nerror: %s",
		      script, got, want, a->error_text);
	sieve_actions_free(&a);
}

/* ---- the table: one script, the default message and envelope ---- */

static const struct {
	const char *script, *want;
} cases[] = {
	/* Actions and the implicit keep (RFC 5228 2.10.2, 4). */
	{ "", "keep*" },
	{ "keep;", "keep" },
	{ "keep; keep;", "keep" },
	{ "discard;", "discard" },
	{ "discard; keep;", "keep discard" },
	{ "require \"fileinto\"; fileinto \"Work\";", "fileinto(Work)" },
	{ "require \"fileinto\"; fileinto \"Work\"; keep;", "keep fileinto(Work)" },
	{ "require \"fileinto\"; fileinto \"Work\"; fileinto \"Work\";", "fileinto(Work)" },
	{ "require \"fileinto\"; fileinto \"A\"; fileinto \"B\"; fileinto \"A\";",
	  "fileinto(A) fileinto(B)" },
	{ "require \"fileinto\"; fileinto \"INBOX\"; keep;", "keep" },
	{ "require \"fileinto\"; fileinto \"inbox\";", "fileinto(inbox)" },
	{ "require \"fileinto\"; fileinto \"a\\\\b\\\"c\";", "fileinto(a\\b\"c)" },
	{ "require \"fileinto\"; fileinto \"Grüße.Sub\";", "fileinto(Grüße.Sub)" },
	{ "require \"fileinto\"; discard; fileinto \"X\";", "fileinto(X) discard" },
	{ "stop; discard;", "keep*" },
	{ "if true { stop; } discard;", "keep*" },
	{ "redirect \"carol@example.net\";", "redirect(carol@example.net)" },
	{ "redirect \"carol@example.net\"; keep;", "keep redirect(carol@example.net)" },
	{ "redirect \"Carol <carol@example.net>\"; redirect \"CAROL@example.net\";",
	  "redirect(carol@example.net)" },
	{ "require \"reject\"; reject \"Not wanted\";", "reject(Not wanted)" },
	{ "require \"reject\"; reject text:\nGo\n  away\n.\n;", "reject(Go away)" },
	/* libsieve refuses reject with another action and ends the script
	 * there, silently: a run-time error, as in Pigeonhole. */
	{ "require \"reject\"; keep; reject \"no\";", "ERROR keep*" },
	{ "require \"reject\"; reject \"no\"; keep;", "ERROR keep*" },
	{ "require [\"reject\", \"fileinto\"]; reject \"no\"; fileinto \"X\";",
	  "ERROR keep*" },
	{ "require [\"reject\", \"vacation\"]; reject \"no\"; vacation \"Away\";",
	  "ERROR keep*" },
	{ "require \"reject\"; if false { keep; } reject \"no\";", "reject(no)" },
	{ "require \"reject\"; reject \"no\"; stop;", "reject(no)" },
	{ "require \"reject\"; discard; reject \"no\"; discard;", "reject(no)" },
	{ "require [\"reject\", \"imap4flags\"]; reject \"no\"; addflag \"x\";", "reject(no)" },
	{ "require \"reject\"; reject \"a\"; reject \"b\";", "ERROR keep*" },
	{ "require \"vacation\"; vacation \"Away\";",
	  "keep* vacation(to=alice@example.org,from=bob+lists@example.com,"
	  "subj=Auto: Grüße aus Berlin,days=7)" },
	{ "require \"vacation\"; vacation :days 0 :subject \"Off\" \"Away\";",
	  "keep* vacation(to=alice@example.org,from=bob+lists@example.com,subj=Off,days=1)" },
	{ "require \"vacation\"; vacation :days 1000 \"Away\";",
	  "keep* vacation(to=alice@example.org,from=bob+lists@example.com,"
	  "subj=Auto: Grüße aus Berlin,days=60)" },
	{ "require \"vacation\"; vacation :from \"bob@example.com\" :mime "
	  "\"Content-Type: text/plain\n\nAway\";",
	  "keep* vacation(to=alice@example.org,from=bob@example.com,"
	  "subj=Auto: Grüße aus Berlin,days=7,mime)" },
	/* imap4flags (RFC 5232); libsieve's own setflag/removeflag bugs are
	 * worked around. */
	{ "require \"imap4flags\"; addflag \"\\\\Seen\";", "keep*{\\Seen}" },
	/* (libsieve keeps the list in reverse.) */
	{ "require \"imap4flags\"; setflag [\"\\\\Seen\", \"\\\\Flagged\"];",
	  "keep*{\\Flagged,\\Seen}" },
	/* libsieve keeps "A B" as one flag: removeflag "B" does not match it
	 * (a known gap, documented). */
	{ "require \"imap4flags\"; addflag \"\\\\Seen \\\\Flagged\"; removeflag \"\\\\Flagged\";",
	  "keep*{\\Seen,\\Flagged}" },
	{ "require \"imap4flags\"; addflag [\"\\\\Seen\", \"\\\\Flagged\"]; removeflag \"\\\\Flagged\";",
	  "keep*{\\Seen}" },
	{ "require \"imap4flags\"; addflag \"\\\\Answered\"; addflag \"\\\\Flagged\";"
	  " removeflag \"\\\\Flagged\";", "keep*{\\Answered}" },
	{ "require \"imap4flags\"; addflag \"\\\\Seen\"; setflag \"\\\\Draft\";",
	  "keep*{\\Draft}" },
	{ "require \"imap4flags\"; addflag [\"A\", \"B\"]; removeflag [\"A\", \"B\"];",
	  "keep*" },
	{ "require [\"imap4flags\", \"fileinto\"]; fileinto :flags \"\\\\Seen\" \"Work\";",
	  "fileinto(Work){\\Seen}" },
	{ "require [\"imap4flags\", \"fileinto\"]; addflag \"\\\\Flagged\"; fileinto \"W\";",
	  "fileinto(W){\\Flagged}" },
	{ "require \"imap4flags\"; keep :flags \"\\\\Deleted\"; addflag \"\\\\Seen\";",
	  "keep{\\Deleted,\\Seen}" },
	{ "require [\"imap4flags\", \"fileinto\"]; addflag \"x\";"
	  " if hasflag \"x\" { fileinto \"Has\"; }", "fileinto(Has){x}" },
	{ "require [\"imap4flags\", \"vacation\"]; addflag \"\\\\Seen\"; vacation \"a\";",
	  "keep*{\\Seen} vacation(to=alice@example.org,from=bob+lists@example.com,"
	  "subj=Auto: Grüße aus Berlin,days=7)" },
	/* Tests. */
	{ "if header :is \"subject\" \"Grüße aus Berlin\" { discard; }", "discard" },
	{ "if header :contains \"subject\" \"ÜSSE\" { discard; }", "keep*" },
	{ "if header :contains \"subject\" \"üße\" { discard; }", "discard" },
	{ "if header :contains :comparator \"i;octet\" \"subject\" \"AUS\" { discard; }",
	  "keep*" },
	/* libsieve's ? matches one octet, not one character. */
	{ "if header :matches \"subject\" \"Gr*e * Berl?n\" { discard; }", "discard" },
	{ "if header :matches \"subject\" \"Gr????e *\" { discard; }", "discard" },
	{ "if header :is \"x-multi\" \"two\" { discard; }", "discard" },
	{ "if header :is \"x-folded\" \"first\tsecond\" { discard; }", "discard" },
	{ "if header :is [\"x-none\", \"X-MULTI\"] [\"x\", \"one\"] { discard; }", "discard" },
	{ "require \"regex\"; if header :regex \"subject\" \"^Gr.+e (aus|in) [A-Z]\" "
	  "{ discard; }", "discard" },
	{ "if exists \"x-multi\" { discard; }", "discard" },
	{ "if exists [\"x-multi\", \"x-none\"] { discard; }", "keep*" },
	{ "if exists \"x-spam-flag\" { discard; }", "discard" },
	{ "if size :over 100 { discard; }", "discard" },
	{ "if size :under 100 { discard; }", "keep*" },
	{ "if size :over 1K { discard; }", "keep*" },
	/* "K" / "M" / "G" are ABNF strings, either case (RFC 5234 2.3) */
	{ "if size :over 1k { discard; }", "keep*" },
	{ "if size :under 1k { discard; }", "discard" },
	{ "if anyof (size :over 1m, size :over 3g) { discard; }", "keep*" },
	{ "if size :under 1g { discard; }", "discard" },
	/* libsieve reads numbers into an int: 2G used to wrap negative and
	 * :over held for every message (lmtpd passes INT_MAX instead) */
	{ "if size :over 2G { discard; }", "keep*" },
	{ "if size :over 3G { discard; }", "keep*" },
	{ "if size :over 4294967296 { discard; }", "keep*" },
	{ "if size :over 99999999999999999999999 { discard; }", "keep*" },
	/* 2^34 G is 2^64 bytes: a 64-bit product wraps to 0 */
	{ "if size :over 17179869184G { discard; }", "keep*" },
	{ "if size :over 2097152K { discard; }", "keep*" },
	{ "if size :under 3G { discard; }", "discard" },
	{ "if anyof (false, size :under 2048M) { discard; }", "discard" },
	{ "if size :over 2147483647 { discard; }", "keep*" },
	{ "if size :over 0 { discard; }", "discard" },
	{ "require \"vacation\"; if size :over 5G { discard; } vacation :days 4294967297 \"a\";",
	  "keep* vacation(to=alice@example.org,from=bob+lists@example.com,"
	  "subj=Auto: Grüße aus Berlin,days=60)" },
	{ "if allof (true, exists \"to\") { discard; }", "discard" },
	{ "if allof (true, false) { discard; }", "keep*" },
	{ "if anyof (false, exists \"to\") { discard; }", "discard" },
	{ "if not exists \"to\" { discard; }", "keep*" },
	/* (lmtpd marks each if/elsif test; braces in strings, lists and
	 * parentheses stay part of the test.) */
	{ "if anyof (header :contains \"subject\" \"{\", exists [\"x-multi\", \"to\"]) "
	  "{ discard; }", "discard" },
	{ "if false { keep; } elsif header :contains \"subject\" \"}\" { keep; }\n"
	  "elsif /* { */ allof (exists \"to\", not false) { discard; } else { keep; }",
	  "discard" },
	{ "if address :is \"from\" \"ALICE@example.org\" { discard; }", "discard" },
	{ "if address :localpart \"from\" \"alice\" { discard; }", "discard" },
	{ "if address :domain \"cc\" \"example.net\" { discard; }", "discard" },
	{ "if address :is \"cc\" \"dave@example.net\" { discard; }", "discard" },
	{ "if address :all :contains \"to\" \"@example.com\" { discard; }", "discard" },
	{ "require \"envelope\"; if envelope :is \"from\" \"alice@example.org\" "
	  "{ discard; }", "discard" },
	{ "require \"envelope\"; if envelope :is \"to\" \"bob+lists@example.com\" "
	  "{ discard; }", "discard" },
	{ "require [\"envelope\", \"subaddress\"]; if envelope :detail \"to\" \"lists\" "
	  "{ discard; }", "discard" },
	{ "require [\"envelope\", \"subaddress\"]; if envelope :user \"to\" \"bob\" "
	  "{ discard; }", "discard" },
	{ "require [\"envelope\", \"subaddress\"]; if envelope :detail \"from\" \"\" "
	  "{ discard; }", "keep*" },
	{ "require \"envelope\"; if envelope :domain \"to\" \"example.com\" { discard; }",
	  "discard" },
	{ "require \"envelope\"; if envelope :localpart \"to\" \"bob+lists\" { discard; }",
	  "discard" },
	/* Relational (RFC 5231) with the X-Spam-Score lmtpd prepends. */
	{ "require [\"relational\", \"comparator-i;ascii-numeric\"]; if header :value \"ge\" "
	  ":comparator \"i;ascii-numeric\" \"X-Spam-Score\" \"5\" { discard; }", "discard" },
	{ "require [\"relational\", \"comparator-i;ascii-numeric\"]; if header :value \"lt\" "
	  ":comparator \"i;ascii-numeric\" \"X-Spam-Score\" \"5\" { discard; }", "keep*" },
	{ "require [\"relational\", \"comparator-i;ascii-numeric\"]; if header :value \"gt\" "
	  ":comparator \"i;ascii-numeric\" \"X-Number\" \"9\" { discard; }", "discard" },
	{ "require [\"relational\", \"comparator-i;ascii-numeric\"]; if header :count \"eq\" "
	  ":comparator \"i;ascii-numeric\" \"X-Multi\" \"2\" { discard; }", "discard" },
	{ "require [\"relational\", \"comparator-i;ascii-numeric\"]; if address :count \"ge\" "
	  ":comparator \"i;ascii-numeric\" \"cc\" \"2\" { discard; }", "discard" },
	/* Errors keep the message in INBOX. */
	{ "keep", "ERROR keep*" },
	{ "require \"body\"; discard;", "ERROR keep*" },
	{ "require \"include\"; discard;", "ERROR keep*" },
	{ "fileinto \"X\";", "ERROR keep*" },
	{ "redirect \"not an address\";", "ERROR keep*" },
	{ "if header :is \"a\" { discard; }", "ERROR keep*" },
};

START_TEST(table)
{
	struct run r = run_defaults();

	expect(cases[_i].script, &r, cases[_i].want);
}
END_TEST

/* A header that ends inside a comment, quoted string or domain literal
 * left libsieve's address lexer in that state for the rest of the run:
 * every later address and envelope test quietly failed to match, so any
 * sender could switch off a user's address filters. */
START_TEST(address_after_unparsable_header)
{
	static const char *const bad[] = { "(", "\"", "[", "a@b (", "a@[1.2", "=?x?q?(?=" };
	static const char script[] =
		"require [\"fileinto\", \"envelope\"];\n"
		"if address :is \"from\" \"x@y\" { fileinto \"A\"; }\n"
		"if envelope :is \"from\" \"alice@example.org\" { fileinto \"EnvOK\"; }\n"
		"if address :is \"to\" \"bob@example.com\" { fileinto \"ToOK\"; }\n";

	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		struct run r = run_defaults();
		char msg[256];

		snprintf(msg, sizeof(msg), "From: %s\nTo: bob@example.com\nSubject: s\n\nbody\n",
			 bad[i]);
		r.message = msg;
		expect(script, &r, "fileinto(EnvOK) fileinto(ToOK)");
	}
}
END_TEST

/* Address fields as Pigeonhole tests them: a header test reads them RFC
 * 2047 decoded (RFC 5228 2.7.2), an address test finds every address of
 * the list however groups, empty elements and unparsable neighbours
 * stand (RFC 5322 3.4; RFC 5228 5.1 lets only the bad address go
 * unmatched).  libsieve alone matched the raw encoded-words and lost the
 * whole field to one group not first in it. */
START_TEST(address_fields)
{
	static const struct {
		const char *cc, *script, *want;
	} fields[] = {
		{ "x@y.z, Team: bob@example.org;", "address :is \"cc\" \"bob@example.org\"", "A" },
		{ "T: carol@e.net;, bob@example.org", "address :is \"cc\" \"bob@example.org\"",
		  "A" },
		{ "T: carol@e.net;, bob@example.org", "address :is \"cc\" \"carol@e.net\"", "A" },
		{ "undisclosed-recipients:;, bob@example.org",
		  "address :domain \"cc\" \"example.org\"", "A" },
		{ "bob@example.org,", "address :is \"cc\" \"bob@example.org\"", "A" },
		{ "bob@example.org, <>", "address :is \"cc\" \"bob@example.org\"", "A" },
		{ "a.@b.c, bob@example.org", "address :is \"cc\" \"bob@example.org\"", "A" },
		/* separators inside quotes, comments and <> split nothing */
		{ "\"Doe, John; x:y\" <john@ex.net>, (a, b: c;) bob@example.org",
		  "address :is \"cc\" [\"john@ex.net\", \"x\"]", "A" },
		{ "\"Doe, John; x:y\" <john@ex.net>, (a, b: c;) bob@example.org",
		  "address :is \"cc\" \"bob@example.org\"", "A" },
		{ "<\"a>b\"@ex.net>, bob@example.org", "address :is \"cc\" \"bob@example.org\"",
		  "A" },
		{ "undisclosed-recipients:;", "address :matches \"cc\" \"*\"", "keep*" },
		/* the names of a list, and tags before them */
		{ "Team: bob@example.org;", "address :all :comparator \"i;ascii-casemap\" "
		  ":is [\"to\", \"cc\"] \"BOB@example.org\"", "A" },
		{ "x@y.z, Team: bob@example.org;", "not address :is \"cc\" \"bob@example.org\"",
		  "keep*" },
		/* a header test sees the decoded display name, as Pigeonhole */
		{ "=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@ex.org>",
		  "header :contains \"cc\" \"Müller\"", "A" },
		{ "=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@ex.org>",
		  "header :is [\"subject\", \"CC\"] \"Jürgen Müller <jm@ex.org>\"", "A" },
		{ "=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@ex.org>",
		  "header :contains \"cc\" \"C3\"", "keep*" },
		/* and the address test still the address behind it */
		{ "=?UTF-8?Q?M=C3=BCller=2C_J?= <jm@ex.org>, bob@example.org",
		  "address :is \"cc\" \"bob@example.org\"", "A" },
		{ "=?UTF-8?Q?M=C3=BCller=2C_J?= <jm@ex.org>", "address :is \"cc\" \"jm@ex.org\"",
		  "A" },
		/* exists is not a header test */
		{ "Team: ;", "exists \"cc\"", "A" },
		/* tags before the names, their arguments included */
		{ "=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@ex.org>",
		  "header :comparator \"i;ascii-casemap\" :contains \"cc\" \"M\u00fcller\"", "A" },
		{ "x@y.z, Team: bob@example.org;",
		  "address :comparator \"i;octet\" :is \"cc\" \"bob@example.org\"", "A" },
	};

	for (size_t i = 0; i < N_ELEMENTS(fields); i++) {
		struct run r = run_defaults();
		char msg[512], script[512];

		snprintf(msg, sizeof(msg), "From: alice@example.org\nTo: bob@example.com\n"
			 "Cc: %s\nSubject: s\n\nbody\n", fields[i].cc);
		snprintf(script, sizeof(script), "require \"fileinto\";\nif %s {\n"
			 "  fileinto \"A\";\n}\n", fields[i].script);
		r.message = msg;
		expect(script, &r, strcmp(fields[i].want, "A") == 0 ? "fileinto(A)" : fields[i].want);
	}
}
END_TEST

/* libsieve 2.2.6's libsieve_strconcat wrote its NUL one byte past the
 * buffer when the pieces filled it: its first size is the first piece
 * plus 256, so 24 + 1 + 255 bytes fill 280, a size glibc's malloc gives
 * no slack after.  sieve_exec.c's replacement is the one libsieve calls;
 * the same joins happen for a message's From: domain of 255 bytes. */
START_TEST(strconcat_exact_fit)
{
	char a[25], b[256], *s, msg[600], script[600];
	struct run r = run_defaults();

	memset(a, 'a', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memset(b, 'b', sizeof(b) - 1);
	b[sizeof(b) - 1] = '\0';
	s = libsieve_strconcat(a, " ", b, NULL);
	ck_assert_uint_eq(strlen(s), 280);
	ck_assert_uint_gt(malloc_usable_size(s), 280);
	free(s);
	s = libsieve_strconcat("", NULL);
	ck_assert_str_eq(s, "");
	free(s);
	ck_assert_ptr_null(libsieve_strconcat(NULL));
	/* Without ASan the overflow goes unseen: this shows libsieve's own
	 * calls reach the replacement. */
	ck_assert(sieve_strconcat_mended());

	memset(b, 'd', sizeof(b) - 1);
	snprintf(msg, sizeof(msg), "From: a@%s\nTo: bob@example.com\nSubject: s\n\nbody\n", b);
	snprintf(script, sizeof(script), "require \"fileinto\";\n"
		 "if address :is \"from\" \"a@%s\" { fileinto \"Long\"; }\n", b);
	r.message = msg;
	expect(script, &r, "fileinto(Long)");
}
END_TEST

/* Error texts carry the file and the line. */
START_TEST(errors_have_lines)
{
	struct run r = run_defaults();
	char path[PATH_MAX], want[PATH_MAX + 64];
	struct sieve_actions *a;

	a = run_in(ut_testdir(), "require \"fileinto\";\n\nif true {\n  fileinto \"x\"\n}\n", &r, path,
		   sizeof(path));
	ck_assert(a->error);
	snprintf(want, sizeof(want), "%s: line 5: error: ", path);
	ck_assert_msg(strncmp(a->error_text, want, strlen(want)) == 0, "%s", a->error_text);
	sieve_actions_free(&a);
	a = run_in(ut_testdir(), "require [\"fileinto\", \"body\"];\nkeep;\n", &r, path,
		   sizeof(path));
	ck_assert(a->error);
	ck_assert_msg(strstr(a->error_text, "line 1") != NULL &&
		      strstr(a->error_text, "body") != NULL, "%s", a->error_text);
	sieve_actions_free(&a);
	/* A script that ends inside a comment or a string: said so, at the
	 * line where it began (libsieve, reading lmtpd's end-of-script test
	 * as part of it, said something else, or nothing). */
	{
		static const struct {
			const char *script, *want;
		} open[] = {
			{ "require \"fileinto\";\nfileinto \"X\";\n/* gone\n", "line 3: error: unterminated comment" },
			{ "/* only a comment", "line 1: error: unterminated comment" },
			{ "keep;\n/*/", "line 2: error: unterminated comment" },
			{ "require \"fileinto\";\nfileinto \"a\\\";\n", "line 2: error: unterminated string" },
		};

		for (size_t i = 0; i < N_ELEMENTS(open); i++) {
			a = run_in(ut_testdir(), open[i].script, &r, path, sizeof(path));
			ck_assert(a->error);
			ck_assert_msg(strstr(a->error_text, open[i].want) != NULL, "%s", a->error_text);
			sieve_actions_free(&a);
		}
		/* Closed ones are fine. */
		a = run_in(ut_testdir(), "/**/ /* a \"b */ keep; # \"\n", &r, path, sizeof(path));
		ck_assert_msg(!a->error, "%s", a->error_text);
		sieve_actions_free(&a);
	}
	/* What libsieve lets pass and then runs as silently false (RFC 5228
	 * 2.7.3, RFC 4790 9.1; Pigeonhole refuses both): an unknown
	 * comparator, i;ascii-numeric asked for a substring match.  A typo
	 * in a comparator must not switch a rule off without a word. */
	{
		static const struct {
			const char *script, *want;
		} refused[] = {
			{ "# \"\n/* :count */\nif header :is :comparator\n\"i;bogus\" \"subject\" \"x\" "
			  "{ discard; }", "line 4: error: unknown comparator \"i;bogus\"" },
			{ "require \"comparator-i;ascii-numeric\";\nif header :contains :comparator "
			  "\"i;ascii-numeric\" \"x\" \"1\" { discard; }",
			  "line 2: error: comparator \"i;ascii-numeric\" does not support :contains" },
			{ "require \"comparator-i;ascii-numeric\";\nif header :comparator "
			  "\"i;ascii-numeric\" :matches \"x\" \"1\" { discard; }",
			  "line 2: error: comparator \"i;ascii-numeric\" does not support :matches" },
		};

		for (size_t i = 0; i < N_ELEMENTS(refused); i++) {
			a = run_in(ut_testdir(), refused[i].script, &r, path, sizeof(path));
			ck_assert_msg(a->error, "%s", refused[i].script);
			ck_assert_msg(strstr(a->error_text, refused[i].want) != NULL, "%s",
				      a->error_text);
			sieve_actions_free(&a);
		}
		/* Known and matching, they are fine; so are envelope, :count,
		 * :value and i;ascii-numeric without their require, which
		 * libsieve runs and scripts written for it rely on (Pigeonhole
		 * would refuse them). */
		a = run_in(ut_testdir(), "require [\"envelope\", \"relational\", "
			   "\"comparator-i;ascii-numeric\"];\nif anyof (envelope :is \"from\" \"x\", "
			   "header :count \"ge\" :comparator \"i;ascii-numeric\" \"to\" \"9\",\n"
			   "header :comparator \"i;octet\" :contains \"x\" \"y\", header "
			   ":comparator \"i;ascii-casemap\" :matches \"x\" \"y\") { discard; }\n",
			   &r, path, sizeof(path));
		ck_assert_msg(!a->error, "%s", a->error_text);
		sieve_actions_free(&a);
		a = run_in(ut_testdir(), "if envelope :is \"from\" \"alice@example.org\" { discard; }",
			   &r, path, sizeof(path));
		ck_assert_msg(!a->error && a->count == 1 && a->v[0].kind == SIEVE_ACT_DISCARD,
			      "%s", a->error_text);
		sieve_actions_free(&a);
		a = run_in(ut_testdir(), "if header :value \"eq\" :comparator \"i;ascii-numeric\" "
			   "\"x-number\" \"42\" { discard; }", &r, path, sizeof(path));
		ck_assert_msg(!a->error && a->count == 1 && a->v[0].kind == SIEVE_ACT_DISCARD,
			      "%s", a->error_text);
		sieve_actions_free(&a);
	}
}
END_TEST

/* Run-time errors name the line of the command that failed (libsieve
 * gives none: lmtpd's markers do), in the result and in the user's log. */
START_TEST(runtime_errors_have_lines)
{
	static const struct {
		const char *script, *want;
		unsigned int max_actions, max_redirects;
	} rt[] = {
		{ "redirect \"a@x.org\";\n\nif true {\n  redirect \"b@x.org\";\n"
		  "  redirect \"c@x.org\";\n}\n",
		  "line 5: error: too many redirects (sieve_max_redirects = 2)", 32, 2 },
		{ "require \"fileinto\";\nfileinto \"A\";\n# x\nfileinto \"B\"; fileinto \"C\";\n",
		  "line 4: error: total number of actions exceeds the limit "
		  "(sieve_max_actions = 2)", 2, 4 },
		{ "require \"reject\";\nkeep;\n/* a\n comment */\nreject text:\nno\n.\n;\n",
		  "line 5: error: reject can not be used with keep, fileinto, redirect", 32, 4 },
		{ "require \"reject\";\nreject \"no\";\n\n  keep;\n",
		  "line 4: error: keep can not be used with reject", 32, 4 },
		/* libsieve accepts a list, lmtpd hands one plain address to
		 * the MTA. */
		{ "keep;\n\nredirect \"a@example.com, b@example.com\";\n",
		  "line 3: error: redirect: invalid address 'a@example.com, b@example.com'",
		  32, 4 },
	};
	char path[PATH_MAX], log[PATH_MAX], want[PATH_MAX + 128], *text;

	for (size_t i = 0; i < N_ELEMENTS(rt); i++) {
		struct run r = run_defaults();
		struct sieve_actions *a;

		r.set.max_actions = rt[i].max_actions;
		r.set.max_redirects = rt[i].max_redirects;
		a = run_in(ut_testdir(), rt[i].script, &r, path, sizeof(path));
		ck_assert(a->error);
		snprintf(want, sizeof(want), "%s: %s", path, rt[i].want);
		ck_assert_msg(strncmp(a->error_text, want, strlen(want)) == 0,
			      "case %zu: %s", i, a->error_text);
		ck_assert_uint_eq(a->count, 1);
		ck_assert(a->v[0].kind == SIEVE_ACT_KEEP && a->v[0].implicit);
		sieve_actions_free(&a);
		ut_pathf(log, sizeof(log), "%s.log", path);
		text = ut_read_file(log, NULL);
		ck_assert_msg(strstr(text, want) != NULL, "case %zu: %s", i, text);
		free(text);
		ck_assert_int_eq(unlink(log), 0);
	}
}
END_TEST

/* libsieve 2.2.6 passes no hash without :handle: one is derived from the
 * arguments (RFC 5230 4.2), stable and different when they differ. */
START_TEST(vacation_handle)
{
	struct run r = run_defaults();
	struct sieve_actions *a, *b, *c;
	const struct sieve_action *va, *vb, *vc;

	a = run_in(ut_testdir(), "require \"vacation\"; vacation \"Away\";", &r, NULL, 0);
	b = run_in(ut_testdir(), "require \"vacation\"; vacation \"Away\";", &r, NULL, 0);
	c = run_in(ut_testdir(), "require \"vacation\"; vacation \"Back soon\";", &r, NULL, 0);
	va = sieve_actions_find(a, SIEVE_ACT_VACATION);
	vb = sieve_actions_find(b, SIEVE_ACT_VACATION);
	vc = sieve_actions_find(c, SIEVE_ACT_VACATION);
	ck_assert(va != NULL && vb != NULL && vc != NULL);
	ck_assert_str_eq(va->vacation.handle, vb->vacation.handle);
	ck_assert_str_ne(va->vacation.handle, vc->vacation.handle);
	ck_assert_str_eq(va->vacation.reason, "Away");
	sieve_actions_free(&a);
	sieve_actions_free(&b);
	sieve_actions_free(&c);
	a = run_in(ut_testdir(), "require \"vacation\"; vacation :handle \"h1\" \"Away\";", &r,
		   NULL, 0);
	va = sieve_actions_find(a, SIEVE_ACT_VACATION);
	ck_assert_str_eq(va->vacation.handle, "handle:h1");
	sieve_actions_free(&a);
}
END_TEST

/* The implicit handle comes from the script's own :subject, :from and
 * reason: not from the "Auto: <Subject>" made from each message, nor from
 * the recipient's detail libsieve passes as the from address, so a
 * sender gets one reply per :days. */
START_TEST(vacation_handle_script_arguments)
{
	static const struct {
		const char *to, *subject;
	} msgs[] = {
		{ "bob+a@example.com", "Lunch?" },
		{ "bob+a@example.com", "Re: Lunch?" },
		{ "bob+b@example.com", "Meeting notes" },
		{ "bob@example.com", "" },
	};
	static const char *const scripts[] = {
		"require \"vacation\"; vacation :days 7 \"I am away this week.\";",
		"require \"vacation\"; vacation :subject \"Away\" \"I am away this week.\";",
		"require \"vacation\"; vacation :from \"bob@example.com\" \"I am away this week.\";",
	};
	char handles[N_ELEMENTS(scripts)][64];

	for (size_t s = 0; s < N_ELEMENTS(scripts); s++) {
		for (size_t i = 0; i < N_ELEMENTS(msgs); i++) {
			struct run r = run_defaults();
			char message[256];
			struct sieve_actions *a;
			const struct sieve_action *v;

			snprintf(message, sizeof(message),
				 "From: alice@example.org\nTo: %s\nSubject: %s\n\nx\n",
				 msgs[i].to, msgs[i].subject);
			r.to = msgs[i].to;
			r.message = message;
			a = run_in(ut_testdir(), scripts[s], &r, NULL, 0);
			v = sieve_actions_find(a, SIEVE_ACT_VACATION);
			ck_assert_msg(v != NULL, "script %zu, message %zu", s, i);
			if (i == 0)
				snprintf(handles[s], sizeof(handles[s]), "%s", v->vacation.handle);
			else
				ck_assert_msg(strcmp(handles[s], v->vacation.handle) == 0,
					      "script %zu, message %zu: %s != %s", s, i,
					      v->vacation.handle, handles[s]);
			sieve_actions_free(&a);
		}
	}
	/* Different arguments, different handles (:subject "" is not no
	 * :subject). */
	ck_assert_str_ne(handles[0], handles[1]);
	ck_assert_str_ne(handles[0], handles[2]);
	ck_assert_str_ne(handles[1], handles[2]);
}
END_TEST

/* libsieve's own vacation refusals are silent and know no ORCPT: while
 * the vacation command runs it sees values that pass, and the action
 * reaches lmtpd's rules (vacation_refusal), which log why not. */
START_TEST(vacation_libsieve_checks_pass)
{
	static const struct {
		const char *from, *headers;
	} refusals[] = {
		{ "alice@example.org", "To: bobby@example.org\n" },
		{ "alice@example.org", "To: bob+lists@example.com\nAuto-Submitted: auto-replied\n" },
		{ "alice@example.org", "To: bob+lists@example.com\nPrecedence: bulk\n" },
		{ "MAILER-DAEMON@example.org", "To: bob+lists@example.com\n" },
		{ "bob+lists@example.com", "To: bob+lists@example.com\n" },
	};

	for (size_t i = 0; i < N_ELEMENTS(refusals); i++) {
		struct run r = run_defaults();
		char message[256];
		struct sieve_actions *a;
		const struct sieve_action *v;

		snprintf(message, sizeof(message), "From: %s\n%sSubject: hi\n\nx\n",
			 refusals[i].from, refusals[i].headers);
		r.from = refusals[i].from;
		r.message = message;
		a = run_in(ut_testdir(), "require \"vacation\"; vacation \"Away\";", &r, NULL, 0);
		v = sieve_actions_find(a, SIEVE_ACT_VACATION);
		ck_assert_msg(v != NULL, "case %zu", i);
		ck_assert_str_eq(v->vacation.address, refusals[i].from);
		sieve_actions_free(&a);
	}
	/* A script's own tests see the real values. */
	{
		struct run r = run_defaults();

		r.message = "From: alice@example.org\nTo: bob+lists@example.com\n"
			    "Precedence: bulk\nSubject: hi\n\nx\n";
		expect("require [\"vacation\", \"fileinto\", \"envelope\"];\n"
		       "vacation \"Away\";\n"
		       "if allof(header :is \"precedence\" \"bulk\",\n"
		       "         envelope :is \"from\" \"alice@example.org\",\n"
		       "         not header :contains \"bcc\" \"bob\") { fileinto \"Bulk\"; }\n",
		       &r, "fileinto(Bulk) vacation(to=alice@example.org,"
		       "from=bob+lists@example.com,subj=Auto: hi,days=7)");
	}
}
END_TEST

/* Not addressed to the user: no vacation, unless :addresses names the
 * address the message was sent to. */
START_TEST(vacation_addresses)
{
	struct run r = run_defaults();

	r.message = "From: alice@example.org\nTo: team@example.net\nSubject: hi\n\nx\n";
	/* libsieve's own "addressed to me" check is made to pass: lmtpd's
	 * (which knows the ORCPT) decides at delivery, and logs why not. */
	expect("require \"vacation\"; vacation \"Away\";", &r,
	       "keep* vacation(to=alice@example.org,from=bob+lists@example.com,"
	       "subj=Auto: hi,days=7)");
	expect("require \"vacation\"; vacation :addresses \"team@example.net\" \"Away\";",
	       &r, "keep* vacation(to=alice@example.org,from=team@example.net,"
	       "subj=Auto: hi,days=7,addr=team@example.net)");
	/* With :from, libsieve skips its "addressed to me" check and does
	 * not pass :addresses on: they come from the script text, so lmtpd
	 * can make the check (tags in any order). */
	expect("require \"vacation\";\nvacation :days 3 :from \"bob@example.com\" :mime\n"
	       "  :addresses [\"team@example.net\", # a comment\n \"Other@Example.org\"]\n"
	       "  :handle \"h\" \"Content-Type: text/plain\n\nAway\";",
	       &r, "keep* vacation(to=alice@example.org,from=bob@example.com,"
	       "subj=Auto: hi,days=3,mime,addr=team@example.net|Other@Example.org)");
	/* The vacation command that ran gives the arguments. */
	expect("require \"vacation\";\n"
	       "if header :is \"subject\" \"other\" {\n"
	       "  vacation :from \"bob@example.com\" :addresses \"a@example.net\" \"A\";\n"
	       "} else {\n"
	       "  vacation :from \"bob@example.com\" :subject \"Off\"\n"
	       "    :addresses [\"b@example.net\"] \"B\";\n"
	       "}\n",
	       &r, "keep* vacation(to=alice@example.org,from=bob@example.com,"
	       "subj=Off,days=7,addr=b@example.net)");
}
END_TEST

/* An :addresses entry with no '@' (outside comments) passes libsieve's
 * validation, then its "addressed to me" check crashed the interpreter
 * on the missing domain (found by tests/fuzz/fuzz_sieve): the script is
 * invalid, with the line, and the message kept.  Inline too, where the
 * crash would take the process with it. */
START_TEST(vacation_addresses_not_addresses)
{
	static const char *const bad[] = { "me", "", "me (x@y.example)", "(c) me", "g:;" };
	char script[256], path[PATH_MAX], want[PATH_MAX + 128];

	for (size_t i = 0; i < 2 * N_ELEMENTS(bad); i++) {
		struct run r = run_defaults();
		struct sieve_actions *a;
		const char *entry = bad[i % N_ELEMENTS(bad)];

		r.set.sandbox = i < N_ELEMENTS(bad);
		r.message = "From: alice@example.org\nTo: other@example.net\nSubject: hi\n\nx\n";
		snprintf(script, sizeof(script), "require \"vacation\";\n\nvacation :addresses "
			 "[\"team@example.net\", \"%s\"] \"Away\";\n", entry);
		a = run_in(ut_testdir(), script, &r, path, sizeof(path));
		ck_assert(a->error);
		snprintf(want, sizeof(want), "%s: line 3: error: vacation :addresses entry "
			 "\"%s\" is not an address", path, entry);
		ck_assert_msg(strncmp(a->error_text, want, strlen(want)) == 0, "%s: %s", entry,
			      a->error_text);
		ck_assert_uint_eq(a->count, 1);
		ck_assert(a->v[0].kind == SIEVE_ACT_KEEP && a->v[0].implicit);
		sieve_actions_free(&a);
	}
	/* An address with a comment or a group is one. */
	{
		struct run r = run_defaults();

		r.message = "From: alice@example.org\nTo: team@example.net\nSubject: hi\n\nx\n";
		expect("require \"vacation\"; vacation :addresses [\"x@example.net (c)\", "
		       "\"g: y@example.net;\", \"team@example.net\"] \"Away\";", &r,
		       "keep* vacation(to=alice@example.org,from=team@example.net,subj=Auto: hi,"
		       "days=7,addr=x@example.net (c)|g: y@example.net;|team@example.net)");
	}
}
END_TEST

/* libsieve accepts any envelope part and then tests memory it never set
 * (envelope :is "xo" "" crashed the interpreter; found by
 * tests/fuzz/fuzz_sieve under valgrind): parts other than from and to
 * make the script invalid, as in Pigeonhole. */
START_TEST(envelope_unknown_part)
{
	static const char *const bad[] = {
		"require \"envelope\";\n\nif envelope :is \"xo\" \"\" { discard; }\n",
		"require \"envelope\";\nif true {\n  if envelope :comparator \"i;octet\" :all "
		"[\"from\", \"xo\"] \"\" { discard; }\n}\n",
	};
	char path[PATH_MAX], want[PATH_MAX + 128];

	for (size_t i = 0; i < 2 * N_ELEMENTS(bad); i++) {
		struct run r = run_defaults();
		struct sieve_actions *a;

		r.set.sandbox = i < N_ELEMENTS(bad);
		a = run_in(ut_testdir(), bad[i % N_ELEMENTS(bad)], &r, path, sizeof(path));
		ck_assert(a->error);
		snprintf(want, sizeof(want), "%s: line 3: error: envelope part \"xo\" is not "
			 "supported", path);
		ck_assert_msg(strncmp(a->error_text, want, strlen(want)) == 0, "case %zu: %s", i,
			      a->error_text);
		ck_assert_uint_eq(a->count, 1);
		ck_assert(a->v[0].kind == SIEVE_ACT_KEEP && a->v[0].implicit);
		sieve_actions_free(&a);
	}
	/* "from" and "to" in any case, after tags with arguments. */
	{
		struct run r = run_defaults();

		expect("require [\"envelope\", \"relational\"];\n"
		       "if envelope :comparator \"i;ascii-casemap\" :matches :all "
		       "[\"FROM\", \"To\"] \"*\" { discard; }", &r, "discard");
		expect("require [\"envelope\", \"relational\"];\n"
		       "if envelope :count \"gt\" :all \"to\" \"5\" { discard; }", &r, "keep*");
	}
}
END_TEST

/* libsieve copies the subject into 128 bytes, cutting a UTF-8 character:
 * the whole :subject, or "Auto: " and the whole Subject, is used. */
START_TEST(vacation_long_subject)
{
	struct run r = run_defaults();
	char script[1024], message[1024], want[2048], umlauts[161];

	for (size_t i = 0; i < 80; i++)
		memcpy(umlauts + 2 * i, "\xc3\xa4", 2);
	umlauts[160] = '\0';
	snprintf(script, sizeof(script), "require \"vacation\";\n"
		 "vacation :subject \"%s\" \"Away\";\n", umlauts);
	snprintf(want, sizeof(want), "keep* vacation(to=alice@example.org,"
		 "from=bob+lists@example.com,subj=%s,days=7)", umlauts);
	expect(script, &r, want);
	expect("require \"vacation\"; vacation :subject \"say \\\"hi\\\"\" \"Away\";", &r,
	       "keep* vacation(to=alice@example.org,from=bob+lists@example.com,"
	       "subj=say \"hi\",days=7)");
	/* A text: string, dot-stuffing undone. */
	expect("require \"vacation\";\nvacation :subject text:\n..Dots\n.\n \"Away\";\n", &r,
	       "keep* vacation(to=alice@example.org,from=bob+lists@example.com,"
	       "subj=.Dots\n,days=7)");
	snprintf(message, sizeof(message), "From: alice@example.org\n"
		 "To: bob+lists@example.com\nSubject: Re: %s\n\nx\n", umlauts);
	r.message = message;
	snprintf(want, sizeof(want), "keep* vacation(to=alice@example.org,"
		 "from=bob+lists@example.com,subj=Auto: Re: %s,days=7)", umlauts);
	expect("require \"vacation\"; vacation \"Away\";", &r, want);
	/* No Subject, or an empty one: RFC 5230 4.3's fixed subject. */
	r.message = "From: alice@example.org\nTo: bob+lists@example.com\n\nx\n";
	expect("require \"vacation\"; vacation \"Away\";", &r,
	       "keep* vacation(to=alice@example.org,from=bob+lists@example.com,"
	       "subj=Automated reply,days=7)");
	r.message = "From: alice@example.org\nTo: bob+lists@example.com\nSubject:  \n\nx\n";
	expect("require \"vacation\"; vacation \"Away\";", &r,
	       "keep* vacation(to=alice@example.org,from=bob+lists@example.com,"
	       "subj=Automated reply,days=7)");
}
END_TEST

/* Past SIEVE_CMDS_MAX commands there are no markers, but a test means
 * what it means anywhere in the script: decoded, split, null sender. */
START_TEST(tests_past_command_limit)
{
	struct run r = run_defaults();
	struct buf b;
	struct sieve_actions *a;
	char got[256];

	buf_init(&b, 0);
	buf_put_str(&b, "require [\"fileinto\", \"envelope\"];\n");
	for (size_t i = 0; i < SIEVE_CMDS_MAX + 10; i++)
		buf_put_str(&b, "if false { keep; }\n");
	buf_put_str(&b, "if header :contains \"cc\" \"M\u00fcller\" { fileinto \"decoded\"; }\n"
		    "if address :is \"to\" \"d@y.org\" { fileinto \"split\"; }\n"
		    "if envelope :is \"from\" \"\" { fileinto \"null\"; }\n");
	r.from = "";
	r.set.max_script_size = 4 * 1024 * 1024;
	r.message = "From: a@b.example\nTo: x@y.z, Team: d@y.org;\n"
		    "Cc: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@ex.org>\nSubject: s\n\nbody\n";
	a = run_in(ut_testdir(), b.data, &r, NULL, 0);
	render(a, got, sizeof(got));
	ck_assert_msg(strcmp(got, "fileinto(decoded) fileinto(split) fileinto(null)") == 0,
		      "%s (%s)", got, a->error_text);
	sieve_actions_free(&a);
	buf_free(&b);
}
END_TEST

/* RFC 5231 4.2: :count counts the values of every name in the list
 * together, and an absent field counts 0; libsieve counted each name
 * apart and an absent one not at all (so "eq 0" never held). */
START_TEST(count_over_names)
{
	static const struct {
		const char *test, *want;
	} tests[] = {
		{ "header :count \"eq\" :comparator \"i;ascii-numeric\" \"received\" \"0\"", "A" },
		{ "header :count \"lt\" :comparator \"i;ascii-numeric\" \"received\" \"1\"", "A" },
		{ "header :count \"gt\" :comparator \"i;ascii-numeric\" \"received\" \"0\"",
		  "keep*" },
		{ "address :all :count \"eq\" :comparator \"i;ascii-numeric\" \"bcc\" \"0\"", "A" },
		{ "header :count \"eq\" :comparator \"i;ascii-numeric\" [\"x-a\", \"x-b\"] \"3\"",
		  "A" },
		{ "header :count \"eq\" :comparator \"i;ascii-numeric\" \"x-a\" \"2\"", "A" },
		{ "address :count \"eq\" :comparator \"i;ascii-numeric\" [\"to\", \"cc\"] \"3\"",
		  "A" },
		{ "address :count \"ge\" :comparator \"i;ascii-numeric\"\n  [\"to\",\n  \"cc\"] "
		  "[\"9\", \"2\"]", "A" },
		{ "not address :count \"ne\" :comparator \"i;ascii-numeric\" \"cc\" \"2\"", "A" },
		{ "header :count \"ge\" :comparator \"i;ascii-numeric\" \"x-a\" \"10\"", "keep*" },
		/* the default comparator compares the number as a string */
		{ "header :count \"eq\" [\"x-a\", \"x-b\", \"cc\"] \"4\"", "A" },
		/* an address test counts the addresses of any field it names */
		{ "address :count \"eq\" :comparator \"i;ascii-numeric\" \"x-rcpt\" \"3\"", "A" },
		/* tests around it keep their fields */
		{ "allof (address :is \"cc\" \"d@ex.org\", header :count \"eq\" "
		  ":comparator \"i;ascii-numeric\" \"to\" \"1\", header :contains \"to\" \"ex\")",
		  "A" },
	};

	for (size_t i = 0; i < N_ELEMENTS(tests); i++) {
		struct run r = run_defaults();
		char script[512];

		r.prepend = "";
		r.message = "From: a@b.example\nTo: b@ex.org\nCc: c@ex.org, Team: d@ex.org;\n"
			    "X-A: 1\nX-A: 2\nX-B: 3\nX-Rcpt: p@x.org, q@y.org, r@z.org\n"
			    "Subject: s\n\nbody\n";
		snprintf(script, sizeof(script), "require [\"fileinto\", \"relational\", "
			 "\"comparator-i;ascii-numeric\"];\nif %s {\n  fileinto \"A\";\n}\n",
			 tests[i].test);
		expect(script, &r, strcmp(tests[i].want, "A") == 0 ? "fileinto(A)"
			: tests[i].want);
	}
}
END_TEST

/* RFC 5228 5.4: the null reverse-path is matched as the empty string,
 * whatever the address part ("file the bounces": envelope :is "from" "").
 * libsieve can not parse "" and never matched. */
START_TEST(envelope_null_sender)
{
	static const struct {
		const char *test, *want;
	} tests[] = {
		{ "envelope :is \"from\" \"\"", "A" },
		{ "envelope :matches \"from\" \"*\"", "A" },
		{ "envelope :localpart :is \"from\" \"\"", "A" },
		{ "envelope :all :comparator \"i;octet\" :is \"from\" [\"x\", \"\"]", "A" },
		{ "envelope :contains \"from\" \"@\"", "keep*" },
		{ "envelope :is \"from\" \"alice@example.org\"", "keep*" },
		{ "not envelope :is \"from\" \"\"", "keep*" },
		{ "envelope :is [\"from\", \"to\"] \"bob+lists@example.com\"", "A" },
		{ "envelope :is [\"to\", \"from\"] \"\"", "A" },
		{ "envelope :domain :is [\"from\", \"to\"] \"example.com\"", "A" },
		{ "envelope :domain :is [\"from\", \"to\"] \"example.org\"", "keep*" },
		{ "envelope :is \"to\" \"bob+lists@example.com\"", "A" },
		{ "anyof (false, envelope\n  :is\n  \"from\"\n  \"\")", "A" },
	};

	for (size_t i = 0; i < N_ELEMENTS(tests); i++) {
		struct run r = run_defaults();
		char script[512];

		r.from = "";
		snprintf(script, sizeof(script), "require [\"fileinto\", \"envelope\"];\n"
			 "if %s {\n  fileinto \"A\";\n}\n", tests[i].test);
		expect(script, &r, strcmp(tests[i].want, "A") == 0 ? "fileinto(A)"
			: tests[i].want);
		/* A sender that is not null is no empty string. */
		if (strstr(tests[i].test, "\"from\" \"\"") != NULL &&
		    strncmp(tests[i].test, "not", 3) != 0) {
			r.from = "alice@example.org";
			expect(script, &r, "keep*");
		}
	}
}
END_TEST

/* After a rewritten test the commands keep their lines: a run-time error
 * names the line the user wrote (lmtpd counts it on the script as
 * written; the rewrite pads the text libsieve gets to the same lines,
 * which nothing libsieve reports at run time shows). */
START_TEST(envelope_null_sender_lines)
{
	struct run r = run_defaults();
	struct sieve_actions *a;

	r.from = "";
	a = run_in(ut_testdir(), "require [\"envelope\", \"reject\"];\n"
		   "if envelope\n :is\n \"from\"\n \"\" { keep; }\n"
		   "reject \"no\";\n", &r, NULL, 0);
	ck_assert(a->error);
	ck_assert_msg(strstr(a->error_text, "line 6") != NULL, "%s", a->error_text);
	sieve_actions_free(&a);
}
END_TEST

/* No vacation to a null sender (libsieve finds no one to answer). */
START_TEST(vacation_null_sender)
{
	struct run r = run_defaults();

	r.from = "";
	/* Recorded with no one to answer: lmtpd's rules refuse it, logged. */
	expect("require \"vacation\"; vacation \"Away\";", &r,
	       "keep* vacation(to=,from=bob+lists@example.com,"
	       "subj=Auto: Gr\xc3\xbc\xc3\x9f" "e aus Berlin,days=7)");
}
END_TEST

/* ---- before / user / after (Pigeonhole's semantics) ---- */

START_TEST(sequence)
{
	struct run r;

	/* The before script files the message: the sequence ends. */
	r = run_defaults();
	r.before = "require \"fileinto\"; if exists \"X-Spam-Flag\" { fileinto \"Junk\"; }";
	expect("discard;", &r, "fileinto(Junk)");
	/* The before script keeps: the user script decides. */
	r = run_defaults();
	r.before = "require \"imap4flags\"; addflag \"\\\\Seen\";";
	expect("require \"fileinto\"; fileinto \"Work\";", &r, "fileinto(Work)");
	/* An explicit keep in a before script is deferred too. */
	r = run_defaults();
	r.before = "require \"fileinto\"; fileinto \"Archive\"; keep;";
	expect("discard;", &r, "fileinto(Archive) discard");
	/* After runs when the user keeps; its result decides the keep. */
	r = run_defaults();
	r.after = "require \"fileinto\"; if exists \"X-Spam-Flag\" { fileinto \"Junk\"; }";
	expect("keep;", &r, "fileinto(Junk)");
	/* A stop ends only the user script: with the keep in effect the
	 * after scripts run (Pigeonhole's sieve_multiscript_run). */
	r = run_defaults();
	r.after = "discard;";
	expect("stop;", &r, "discard");
	r = run_defaults();
	r.after = "discard;";
	expect("require \"fileinto\"; fileinto \"W\"; stop;", &r, "fileinto(W)");
	/* A fileinto in the user script ends it as well. */
	r = run_defaults();
	r.after = "redirect \"x@example.net\";";
	expect("require \"fileinto\"; fileinto \"W\";", &r, "fileinto(W)");
	/* Redirect and vacation of earlier scripts stay. */
	r = run_defaults();
	r.before = "redirect \"copy@example.net\"; keep;";
	expect("", &r, "keep* redirect(copy@example.net)");
	/* A missing user script: before and after still run. */
	r = run_defaults();
	r.before = "require \"imap4flags\"; addflag \"\\\\Seen\";";
	r.after = "require \"fileinto\"; fileinto \"After\";";
	expect(NULL, &r, "fileinto(After)");
	/* A broken user script: the before script's copy stays, the
	 * message goes to INBOX, the after script does not run. */
	r = run_defaults();
	r.before = "require \"fileinto\"; fileinto \"Archive\"; keep;";
	r.after = "discard;";
	expect("syntax error here", &r, "ERROR keep* fileinto(Archive)");
	/* A reject wins over what earlier scripts recorded. */
	r = run_defaults();
	r.before = "redirect \"copy@example.net\"; keep;";
	expect("require \"reject\"; reject \"no\";", &r, "reject(no)");
	/* A broken admin script: INBOX, logged as an error. */
	r = run_defaults();
	r.before = "discard";
	expect("discard;", &r, "ERROR keep*");
}
END_TEST

/* sieve_before as a folder: *.sieve in name order, other files ignored. */
START_TEST(before_folder)
{
	const char *dir = ut_testdir();
	char bdir[PATH_MAX], path[PATH_MAX], got[1024];
	struct run r = run_defaults();
	struct sieve_actions *a;

	ut_pathf(bdir, sizeof(bdir), "%s/before.d", dir);
	ck_assert_int_eq(mkdir(bdir, 0700), 0);
	ut_pathf(path, sizeof(path), "%s/20-second.sieve", bdir);
	ut_write_text(path, "require \"imap4flags\"; addflag \"B\";");
	ut_pathf(path, sizeof(path), "%s/10-first.sieve", bdir);
	ut_write_text(path, "require \"imap4flags\"; addflag \"A\"; redirect \"a@example.net\"; keep;");
	ut_pathf(path, sizeof(path), "%s/30-third.sieve.bak", bdir);
	ut_write_text(path, "discard;");
	ut_pathf(path, sizeof(path), "%s/.hidden.sieve", bdir);
	ut_write_text(path, "discard;");
	r.set.before = bdir;
	a = run_in(dir, "require \"imap4flags\"; addflag \"U\";", &r, NULL, 0);
	render(a, got, sizeof(got));
	/* Each script has its own flag variable: the last one decides. */
	ck_assert_str_eq(got, "keep*{U} redirect(a@example.net)");
	ck_assert_uint_eq(a->scripts_run, 3);
	sieve_actions_free(&a);
}
END_TEST

/* ---- limits ---- */

START_TEST(limit_actions)
{
	struct run r = run_defaults();

	r.set.max_actions = 3;
	expect("require \"fileinto\"; fileinto \"A\"; fileinto \"B\"; fileinto \"C\";", &r,
	       "fileinto(A) fileinto(B) fileinto(C)");
	expect("require \"fileinto\"; fileinto \"A\"; fileinto \"B\"; fileinto \"C\"; "
	       "fileinto \"D\";", &r, "ERROR keep*");
	/* Across scripts: the budget is per message. */
	/* Across scripts: the budget is per message (keep counts). */
	r.before = "require \"fileinto\"; fileinto \"A\"; keep;";
	expect("require \"fileinto\"; fileinto \"C\";", &r, "fileinto(A) fileinto(C)");
	expect("require \"fileinto\"; fileinto \"C\"; fileinto \"D\";", &r,
	       "ERROR keep* fileinto(A)");
}
END_TEST

/* More IMAP flags than a copy keeps, and one too long: the copy keeps
 * SIEVE_FLAGS_MAX of them, and the list says how many were left off (the
 * pipeline logs it), through the sandbox's serialization. */
START_TEST(limit_flags)
{
	struct run r = run_defaults();
	struct buf script;
	struct sieve_actions *a;
	char path[PATH_MAX];

	buf_init(&script, 0);
	buf_put_str(&script, "require \"imap4flags\"; addflag [");
	for (int i = 0; i < SIEVE_FLAGS_MAX + 8; i++)
		buf_putf(&script, "%s\"f%02d\"", i > 0 ? ", " : "", i);
	buf_put_str(&script, ", \"");
	for (int i = 0; i < SIEVE_FLAG_LEN_MAX + 1; i++)
		buf_put(&script, "x", 1);
	buf_put_str(&script, "\"];");
	a = run_in(ut_testdir(), script.data, &r, path, sizeof(path));
	ck_assert(!a->error);
	ck_assert_uint_eq(a->count, 1);
	ck_assert_int_eq(a->v[0].kind, SIEVE_ACT_KEEP);
	ck_assert_uint_eq(a->v[0].flag_count, SIEVE_FLAGS_MAX);
	ck_assert_uint_eq(a->flags_dropped, 9);
	sieve_actions_free(&a);
	/* within the bounds: nothing to report */
	a = run_in(ut_testdir(), "require \"imap4flags\"; addflag [\"a\", \"b\"];", &r, path,
		   sizeof(path));
	ck_assert_uint_eq(a->v[0].flag_count, 2);
	ck_assert_uint_eq(a->flags_dropped, 0);
	sieve_actions_free(&a);
	buf_free(&script);
}
END_TEST

/* flags_dropped crosses the sandbox pipe as the size_t it is: a large
 * count comes back whole, sums saturate instead of wrapping, and a count
 * past the bound (the child never sends one) is a malformed stream. */
START_TEST(flags_dropped_round_trip)
{
	static const size_t counts[] = {
		0, 9, 65536, UINT_MAX - 1, SIEVE_FLAGS_DROPPED_MAX
	};
	static const char *const streams[] = {
		"0;0:0;4294967295;0;", "0;0:0;4294967296;0;",
		"0;0:0;999999999999999999;0;",
	};
	struct sieve_actions a, *back;
	struct buf b;
	size_t pos;

	for (size_t i = 0; i < N_ELEMENTS(counts); i++) {
		memset(&a, 0, sizeof(a));
		a.flags_dropped = counts[i];
		buf_init(&b, 0);
		sieve_actions_serialize(&a, &b);
		pos = 0;
		back = sieve_actions_deserialize(b.data, b.len, &pos);
		ck_assert_msg(back != NULL, "%zu", counts[i]);
		ck_assert_uint_eq(pos, b.len);
		ck_assert_uint_eq(back->flags_dropped, counts[i]);
		sieve_actions_free(&back);
		buf_free(&b);
	}
	for (size_t i = 0; i < N_ELEMENTS(streams); i++) {
		pos = 0;
		back = sieve_actions_deserialize(streams[i], strlen(streams[i]), &pos);
		ck_assert_msg((back != NULL) == (i == 0), "%s", streams[i]);
		if (back != NULL)
			ck_assert_uint_eq(back->flags_dropped, SIEVE_FLAGS_DROPPED_MAX);
		sieve_actions_free(&back);
	}
	ck_assert_uint_eq(sieve_flags_dropped_add(3, 4), 7);
	ck_assert_uint_eq(sieve_flags_dropped_add(SIEVE_FLAGS_DROPPED_MAX - 1, 1),
			  SIEVE_FLAGS_DROPPED_MAX);
	ck_assert_uint_eq(sieve_flags_dropped_add(SIEVE_FLAGS_DROPPED_MAX - 1, 5),
			  SIEVE_FLAGS_DROPPED_MAX);
	ck_assert_uint_eq(sieve_flags_dropped_add(SIEVE_FLAGS_DROPPED_MAX, SIZE_MAX),
			  SIEVE_FLAGS_DROPPED_MAX);
}
END_TEST

/* The daemon reads the sandbox's action list as untrusted: a yes/no field
 * holding 2, or a count past unsigned int, makes the list broken instead
 * of a wrapped or truncated value. */
START_TEST(actions_field_ranges)
{
	static const struct {
		const char *from, *to;	/* in a vacation action's serialization */
		bool ok;
	} edits[] = {
		{ "12345;1;", "12345;1;", true },
		{ "12345;1;", "4294967295;1;", true },
		{ "12345;1;", "4294967296;1;", false },	/* days */
		{ "12345;1;", "12345;2;", false },		/* mime */
	};
	static const char *const streams[] = {
		"0;0:4294967295;0;0;", "1;0:0;0;0;", "2;0:0;0;0;", "0;0:4294967296;0;0;",
	};
	struct sieve_actions a, *back;
	struct sieve_action *x;
	size_t pos;

	memset(&a, 0, sizeof(a));
	x = sieve_actions_append(&a);
	x->kind = SIEVE_ACT_VACATION;
	x->vacation.address = strdup("me@example.org");
	x->vacation.reason = strdup("away");
	ck_assert(x->vacation.address != NULL && x->vacation.reason != NULL);
	x->vacation.days = 12345;
	x->vacation.mime = true;
	for (size_t i = 0; i < N_ELEMENTS(edits); i++) {
		struct buf b, edited;
		char *at;

		buf_init(&b, 0);
		sieve_actions_serialize(&a, &b);
		buf_put(&b, "", 1);
		at = strstr(b.data, edits[i].from);
		ck_assert_ptr_nonnull(at);
		buf_init(&edited, 0);
		buf_put(&edited, b.data, (size_t)(at - b.data));
		buf_put_str(&edited, edits[i].to);
		buf_put_str(&edited, at + strlen(edits[i].from));
		pos = 0;
		back = sieve_actions_deserialize(edited.data, edited.len, &pos);
		ck_assert_msg((back != NULL) == edits[i].ok, "%s", edits[i].to);
		if (back != NULL) {
			ck_assert_uint_eq(back->count, 1);
			ck_assert(back->v[0].vacation.mime);
			ck_assert_uint_eq(back->v[0].vacation.days, strtoul(edits[i].to, NULL, 10));
		}
		sieve_actions_free(&back);
		buf_free(&b);
		buf_free(&edited);
	}
	for (size_t i = 0; i < N_ELEMENTS(streams); i++) {
		pos = 0;
		back = sieve_actions_deserialize(streams[i], strlen(streams[i]), &pos);
		ck_assert_msg((back != NULL) == (i < 2), "%s", streams[i]);
		if (i == 0)
			ck_assert_uint_eq(back->scripts_run, UINT_MAX);
		if (i == 1)
			ck_assert(back->error);
		sieve_actions_free(&back);
	}
	free(x->vacation.address);
	free(x->vacation.reason);
	free(a.v);
}
END_TEST

START_TEST(limit_redirects)
{
	struct run r = run_defaults();

	r.set.max_redirects = 2;
	expect("redirect \"a@x.org\"; redirect \"b@x.org\";", &r,
	       "redirect(a@x.org) redirect(b@x.org)");
	expect("redirect \"a@x.org\"; redirect \"b@x.org\"; redirect \"c@x.org\";", &r,
	       "ERROR keep*");
	r.set.max_redirects = 0;
	expect("redirect \"a@x.org\";", &r, "ERROR keep*");
}
END_TEST

/* The header view holds SIEVE_HEADER_VIEW_MAX bytes: it is cut (and
 * the daemon says so) only when fields go past them, not when only the
 * empty line after the last field does; the segments may split the
 * block anywhere. */
START_TEST(header_view_cut_at_fields)
{
	size_t line = 100, nfields = SIEVE_HEADER_VIEW_MAX / line;
	char *block = malloc(SIEVE_HEADER_VIEW_MAX + 200);
	struct iovec iov[3];
	struct sieve_msg msg = { iov, 3, SIEVE_HEADER_VIEW_MAX + 8, "", "bob@example.com", "" };
	size_t n;

	ck_assert_ptr_nonnull(block);
	for (size_t i = 0; i < nfields; i++) {
		memset(block + i * line, 'x', line - 1);
		memcpy(block + i * line, "X-F: ", 5);
		block[i * line + line - 1] = '\n';
	}
	/* fields of exactly SIEVE_HEADER_VIEW_MAX - 76 bytes, one more of
	 * 76 (LF included) to make them SIEVE_HEADER_VIEW_MAX, then the
	 * empty line as CRLF, then the body */
	n = nfields * line;
	memcpy(block + n, "X-L: ", 5);
	memset(block + n + 5, 'y', SIEVE_HEADER_VIEW_MAX - n - 6);
	block[SIEVE_HEADER_VIEW_MAX - 1] = '\n';
	memcpy(block + SIEVE_HEADER_VIEW_MAX, "\r\nbody\n", 8);
	iov[0] = (struct iovec){ block, 7 };
	iov[1] = (struct iovec){ block + 7, SIEVE_HEADER_VIEW_MAX - 7 };
	iov[2] = (struct iovec){ block + SIEVE_HEADER_VIEW_MAX, 8 };
	ck_assert(!sieve_header_view_cut(&msg));
	/* one byte more in the last field: cut */
	block[SIEVE_HEADER_VIEW_MAX - 1] = 'y';
	memcpy(block + SIEVE_HEADER_VIEW_MAX, "\n\nbody\n", 8);
	ck_assert(sieve_header_view_cut(&msg));
	/* no empty line at all, everything within the limit: not cut */
	iov[1].iov_len = 100;
	msg.iovcnt = 2;
	ck_assert(!sieve_header_view_cut(&msg));
	free(block);
}
END_TEST

START_TEST(limit_script_size)
{
	struct run r = run_defaults();
	char script[200];
	struct sieve_actions *a;

	memset(script, ' ', sizeof(script) - 1);
	script[sizeof(script) - 1] = '\0';
	memcpy(script, "discard;", 8);
	r.set.max_script_size = sizeof(script) - 1;
	expect(script, &r, "discard");
	r.set.max_script_size = sizeof(script) - 2;
	a = run_in(ut_testdir(), script, &r, NULL, 0);
	ck_assert(a->error);
	ck_assert_msg(strstr(a->error_text, "too large") != NULL, "%s", a->error_text);
	sieve_actions_free(&a);
}
END_TEST

/* A runaway :matches (libsieve backtracks) is stopped by the CPU limit:
 * INBOX, and the worker is fine. */
START_TEST(limit_cpu_time)
{
	struct run r = run_defaults();
	char message[1024];
	struct sieve_actions *a;

	char path[PATH_MAX], log[PATH_MAX], want[PATH_MAX + 64], *text;

	snprintf(message, sizeof(message), "Subject: %0300d\n\nx\n", 0);
	r.message = message;
	r.set.max_cpu_time = 1;
	a = run_in(ut_testdir(), "require \"fileinto\";\nif false { keep; }\n"
		   "elsif header :matches \"subject\"\n"
		   "  \"*0*0*0*0*0*0*0*0*0*0*0*0*0*0*1\" { discard; }\n", &r, path, sizeof(path));
	ck_assert(a->error);
	ck_assert_msg(strstr(a->error_text, "sieve_max_cpu_time") != NULL, "%s",
		      a->error_text);
	/* The shared page names the script and the elsif it was in. */
	snprintf(want, sizeof(want), "%s: line 3: error: ", path);
	ck_assert_msg(strncmp(a->error_text, want, strlen(want)) == 0, "%s", a->error_text);
	ck_assert_uint_eq(a->count, 1);
	ck_assert(a->v[0].kind == SIEVE_ACT_KEEP && a->v[0].implicit);
	sieve_actions_free(&a);
	ut_pathf(log, sizeof(log), "%s.log", path);
	text = ut_read_file(log, NULL);
	ck_assert_msg(strstr(text, "user.sieve: line 3: error: ") != NULL &&
		      strstr(text, "sieve_max_cpu_time") != NULL, "%s", text);
	free(text);
}
END_TEST

/* One interpreter process serves message after message; after a failure
 * (here the CPU limit) it is gone and the next message gets a fresh one. */
START_TEST(interpreter_reused_and_replaced)
{
	static const char script[] =
		"require \"fileinto\";\n"
		"if header :matches \"subject\" \"*0*0*0*0*0*0*0*0*0*0*0*0*0*0*1\" { discard; }\n"
		"elsif header :contains \"subject\" \"work\" { fileinto \"Work\"; }\n";
	struct run r = run_defaults();
	char path[PATH_MAX], runaway[1024];
	struct sieve_runner *runner;
	struct sieve_actions *a;
	const char *work = "Subject: work\n\nx\n";
	pid_t first;

	snprintf(runaway, sizeof(runaway), "Subject: %0300d\n\nx\n", 0);
	r.set.max_cpu_time = 1;
	runner = sieve_runner_new(&r.set);
	ut_pathf(path, sizeof(path), "%s/user.sieve", ut_testdir());
	ut_write_text(path, script);
	ck_assert_int_eq(sieve_runner_interpreter(runner), 0);
	for (int i = 0; i < 3; i++) {
		struct iovec iov = { (void *)work, strlen(work) };
		struct sieve_msg msg = { &iov, 1, iov.iov_len, "a@b.c", "bob@example.com", "+" };

		a = sieve_run(runner, path, &msg);
		ck_assert(!a->error);
		ck_assert_uint_eq(a->count, 1);
		ck_assert(a->v[0].kind == SIEVE_ACT_FILEINTO);
		ck_assert_str_eq(a->v[0].folder, "Work");
		sieve_actions_free(&a);
		if (i == 0)
			first = sieve_runner_interpreter(runner);
		ck_assert_int_gt(first, 0);
		ck_assert_int_eq(sieve_runner_interpreter(runner), first);
	}
	{
		struct iovec iov = { runaway, strlen(runaway) };
		struct sieve_msg msg = { &iov, 1, iov.iov_len, "a@b.c", "bob@example.com", "+" };

		a = sieve_run(runner, path, &msg);
		ck_assert(a->error);
		ck_assert_msg(strstr(a->error_text, "sieve_max_cpu_time") != NULL, "%s",
			      a->error_text);
		sieve_actions_free(&a);
	}
	ck_assert_int_eq(sieve_runner_interpreter(runner), 0);
	/* Reaped, not left a zombie. */
	ck_assert_int_eq(kill(first, 0), -1);
	{
		struct iovec iov = { (void *)work, strlen(work) };
		struct sieve_msg msg = { &iov, 1, iov.iov_len, "a@b.c", "bob@example.com", "+" };

		a = sieve_run(runner, path, &msg);
		ck_assert(!a->error && a->count == 1 && a->v[0].kind == SIEVE_ACT_FILEINTO);
		sieve_actions_free(&a);
	}
	ck_assert_int_gt(sieve_runner_interpreter(runner), 0);
	ck_assert_int_ne(sieve_runner_interpreter(runner), first);
	sieve_runner_free(&runner);
}
END_TEST

/* ---- error paths ---- */

START_TEST(unreadable_and_odd_scripts)
{
	const char *dir = ut_testdir();
	char path[PATH_MAX];
	struct run r = run_defaults();
	struct sieve_runner *runner = sieve_runner_new(&r.set);
	struct sieve_actions *a;
	struct iovec iov = { (void *)MESSAGE, strlen(MESSAGE) };
	struct sieve_msg msg = { &iov, 1, strlen(MESSAGE), "a@b.c", "bob@example.com", "+" };

	/* A folder where the script should be. */
	ut_pathf(path, sizeof(path), "%s/dir.sieve", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	a = sieve_run(runner, path, &msg);
	ck_assert(a->error);
	ck_assert_msg(strstr(a->error_text, "not a regular file") != NULL, "%s", a->error_text);
	sieve_actions_free(&a);
	/* A NUL byte. */
	ut_pathf(path, sizeof(path), "%s/nul.sieve", dir);
	ut_write_file(path, "discard;\0x", 10);
	a = sieve_run(runner, path, &msg);
	ck_assert(a->error);
	sieve_actions_free(&a);
	/* Missing: no script at all, a plain keep, no error. */
	ut_pathf(path, sizeof(path), "%s/missing.sieve", dir);
	ck_assert(!sieve_has_scripts(runner, path));
	ck_assert(!sieve_has_scripts(runner, NULL));
	a = sieve_run(runner, path, &msg);
	ck_assert(!a->error);
	ck_assert_uint_eq(a->count, 1);
	ck_assert(a->v[0].kind == SIEVE_ACT_KEEP && a->v[0].implicit);
	sieve_actions_free(&a);
	/* Under a file, not a folder (ENOTDIR): missing too. */
	ut_pathf(path, sizeof(path), "%s/nul.sieve/x.sieve", dir);
	ck_assert(!sieve_has_scripts(runner, path));
	a = sieve_run(runner, path, &msg);
	ck_assert(!a->error);
	sieve_actions_free(&a);
	/* A symlink to itself is there but can not be read: an error to
	 * log, not a silent keep as if there were no script. */
	ut_pathf(path, sizeof(path), "%s/loop.sieve", dir);
	ck_assert_int_eq(symlink("loop.sieve", path), 0);
	ck_assert(sieve_has_scripts(runner, path));
	a = sieve_run(runner, path, &msg);
	ck_assert(a->error);
	ck_assert_msg(strstr(a->error_text, "open failed") != NULL, "%s", a->error_text);
	sieve_actions_free(&a);
	sieve_runner_free(&runner);
}
END_TEST

/* Inline (lmtpd-sieve) and sandboxed runs agree. */
START_TEST(inline_mode)
{
	struct run r = run_defaults();

	r.set.sandbox = false;
	expect("require \"fileinto\"; fileinto \"Work\"; redirect \"a@x.org\";", &r,
	       "fileinto(Work) redirect(a@x.org)");
	expect("keep", &r, "ERROR keep*");
}
END_TEST

/* A script is validated once per change: fixing it takes effect at the
 * next message; a broken one is reported in SCRIPT.log once per change. */
START_TEST(cache_and_user_log)
{
	const char *dir = ut_testdir();
	char path[PATH_MAX], log[PATH_MAX], *text, *again;
	struct run r = run_defaults();
	struct sieve_runner *runner = sieve_runner_new(&r.set);
	struct iovec iov = { (void *)MESSAGE, strlen(MESSAGE) };
	struct sieve_msg msg = { &iov, 1, strlen(MESSAGE), "a@b.c", "bob@example.com", "+" };
	struct sieve_actions *a;
	struct timespec later[2];

	ut_pathf(path, sizeof(path), "%s/user.sieve", dir);
	ut_pathf(log, sizeof(log), "%s/user.sieve.log", dir);
	ut_write_text(path, "require \"fileinto\";\nfileinto \"x\"\n");
	a = sieve_run(runner, path, &msg);
	ck_assert(a->error);
	sieve_actions_free(&a);
	text = ut_read_file(log, NULL);
	/* With file and line. */
	ck_assert_msg(strstr(text, "user.sieve: line ") != NULL &&
		      strstr(text, ": error: ") != NULL, "%s", text);
	for (int i = 0; i < 2; i++) {
		a = sieve_run(runner, path, &msg);
		ck_assert(a->error);
		ck_assert_msg(strstr(a->error_text, "user.sieve: line ") != NULL, "%s",
			      a->error_text);
		sieve_actions_free(&a);
	}
	/* Reported once per change, not per message. */
	again = ut_read_file(log, NULL);
	ck_assert_str_eq(again, text);
	free(again);
	free(text);
	/* Fixed (a new mtime): valid at once. */
	ut_write_text(path, "discard;\n");
	clock_gettime(CLOCK_REALTIME, &later[0]);
	later[0].tv_sec += 5;
	later[1] = later[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, path, later, 0), 0);
	a = sieve_run(runner, path, &msg);
	ck_assert(!a->error);
	ck_assert(a->v[0].kind == SIEVE_ACT_DISCARD);
	sieve_actions_free(&a);
	sieve_runner_free(&runner);
}
END_TEST

static struct sieve_actions *
run_once(struct sieve_runner *runner, const char *path)
{
	static struct iovec iov = { (void *)MESSAGE, sizeof(MESSAGE) - 1 };
	struct sieve_msg msg = { &iov, 1, sizeof(MESSAGE) - 1, "a@b.c", "bob@example.com", "+" };

	return sieve_run(runner, path, &msg);
}

static void
set_mtime(const char *path, time_t sec)
{
	struct timespec t[2] = { { sec, 0 }, { sec, 0 } };

	ck_assert_int_eq(utimensat(AT_FDCWD, path, t, 0), 0);
}

/* A valid script is validated once, not per message; a change of the
 * file with the same size is seen through its mtime (and through its
 * ctime when the mtime is put back, as cp -p or rsync do). */
START_TEST(cache_valid_once_and_same_size)
{
	const char *dir = ut_testdir();
	char path[PATH_MAX];
	struct run r = run_defaults();
	struct sieve_runner *runner = sieve_runner_new(&r.set);
	struct sieve_actions *a;
	struct stat st;

	ut_pathf(path, sizeof(path), "%s/user.sieve", dir);
	ut_write_text(path, "discard;\n");
	set_mtime(path, 1000000000);
	ck_assert_uint_eq(sieve_runner_validations(runner), 0);
	for (int i = 0; i < 3; i++) {
		a = run_once(runner, path);
		ck_assert(!a->error && a->v[0].kind == SIEVE_ACT_DISCARD);
		sieve_actions_free(&a);
		ck_assert_uint_eq(sieve_runner_validations(runner), 1);
	}
	/* Same size (9 bytes), broken, a new mtime: validated again. */
	ut_write_text(path, "keep     ");
	set_mtime(path, 1000000100);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 9);
	a = run_once(runner, path);
	ck_assert(a->error);
	sieve_actions_free(&a);
	ck_assert_uint_eq(sieve_runner_validations(runner), 2);
	/* Only the mtime changes (same bytes): validated again. */
	set_mtime(path, 1000000200);
	a = run_once(runner, path);
	ck_assert(a->error);
	sieve_actions_free(&a);
	ck_assert_uint_eq(sieve_runner_validations(runner), 3);
	/* Fixed, same size, the old mtime put back: the ctime tells (it
	 * moves with the kernel's clock tick, so wait for a new one). */
	ck_assert_int_eq(stat(path, &st), 0);
	ut_write_text(path, "keep;    ");
	set_mtime(path, 1000000200);
	for (int i = 0; i < 100; i++) {
		struct stat now;

		ck_assert_int_eq(stat(path, &now), 0);
		if (now.st_ctim.tv_sec != st.st_ctim.tv_sec ||
		    now.st_ctim.tv_nsec != st.st_ctim.tv_nsec)
			break;
		ck_assert_int_eq(usleep(10000), 0);
		set_mtime(path, 1000000200);
	}
	a = run_once(runner, path);
	ck_assert(!a->error && a->v[0].kind == SIEVE_ACT_KEEP && !a->v[0].implicit);
	sieve_actions_free(&a);
	ck_assert_uint_eq(sieve_runner_validations(runner), 4);
	a = run_once(runner, path);
	ck_assert(!a->error);
	sieve_actions_free(&a);
	ck_assert_uint_eq(sieve_runner_validations(runner), 4);
	sieve_runner_free(&runner);
}
END_TEST

START_TEST(user_log_rotates)
{
	const char *dir = ut_testdir();
	char path[PATH_MAX], log[PATH_MAX], old[PATH_MAX], big[12 * 1024];
	struct run r = run_defaults();
	struct sieve_actions *a;
	struct stat st;

	ut_pathf(path, sizeof(path), "%s/user.sieve", dir);
	ut_pathf(log, sizeof(log), "%s/user.sieve.log", dir);
	ut_pathf(old, sizeof(old), "%s/user.sieve.log.0", dir);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\n';
	ut_write_file(log, big, sizeof(big));
	a = run_in(dir, "broken", &r, NULL, 0);
	ck_assert(a->error);
	sieve_actions_free(&a);
	ck_assert_int_eq(stat(old, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)sizeof(big));
	ck_assert_int_eq(stat(log, &st), 0);
	ck_assert_int_lt(st.st_size, 1024);
}
END_TEST

START_TEST(validate_file)
{
	const char *dir = ut_testdir();
	char path[PATH_MAX], *text;
	struct run r = run_defaults();
	struct sieve_runner *runner = sieve_runner_new(&r.set);
	FILE *err = tmpfile();
	size_t n;

	ut_pathf(path, sizeof(path), "%s/v.sieve", dir);
	ut_write_text(path, "require \"fileinto\";\nfileinto \"a\";\n");
	ck_assert_int_eq(sieve_validate_file(runner, path, err), 0);
	ut_write_text(path, "require \"fileinto\";\n\nfileinto \"a\"\n");
	ck_assert_int_eq(sieve_validate_file(runner, path, err), 1);
	ut_pathf(path, sizeof(path), "%s/none.sieve", dir);
	ck_assert_int_eq(sieve_validate_file(runner, path, err), -1);
	text = calloc(1, 4096);
	rewind(err);
	n = fread(text, 1, 4095, err);
	ck_assert_uint_gt(n, 0);
	ck_assert_msg(strstr(text, "v.sieve: line 4: error: syntax error") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "none.sieve: error: open failed") != NULL, "%s", text);
	free(text);
	fclose(err);
	ck_assert_str_eq(sieve_extensions(),
			 "regex imap4flags relational subaddress fileinto reject envelope "
			 "vacation");
	sieve_runner_free(&runner);
}
END_TEST

static Suite *
sieve_run_suite(void)
{
	Suite *s = suite_create("sieve_run");
	TCase *tc;

	tc = ut_tcase(s, "actions_and_tests", true);
	tcase_add_loop_test(tc, table, 0, N_ELEMENTS(cases));
	tcase_add_test(tc, address_after_unparsable_header);
	tcase_add_test(tc, address_fields);
	tcase_add_test(tc, envelope_null_sender);
	tcase_add_test(tc, count_over_names);
	tcase_add_test(tc, tests_past_command_limit);
	tcase_add_test(tc, envelope_null_sender_lines);
	tcase_add_test(tc, strconcat_exact_fit);
	tcase_add_test(tc, errors_have_lines);
	tcase_add_test(tc, runtime_errors_have_lines);
	tcase_add_test(tc, vacation_handle);
	tcase_add_test(tc, vacation_handle_script_arguments);
	tcase_add_test(tc, vacation_libsieve_checks_pass);
	tcase_add_test(tc, vacation_addresses);
	tcase_add_test(tc, vacation_addresses_not_addresses);
	tcase_add_test(tc, envelope_unknown_part);
	tcase_add_test(tc, vacation_long_subject);
	tcase_add_test(tc, vacation_null_sender);
	tc = ut_tcase(s, "sequence", true);
	tcase_add_test(tc, sequence);
	tcase_add_test(tc, before_folder);
	tc = ut_tcase(s, "limits", true);
	tcase_add_test(tc, limit_actions);
	tcase_add_test(tc, limit_flags);
	tcase_add_test(tc, flags_dropped_round_trip);
	tcase_add_test(tc, actions_field_ranges);
	tcase_add_test(tc, limit_redirects);
	tcase_add_test(tc, limit_script_size);
	tcase_add_test(tc, header_view_cut_at_fields);
	tcase_add_test(tc, limit_cpu_time);
	tcase_add_test(tc, interpreter_reused_and_replaced);
	tc = ut_tcase(s, "errors", true);
	tcase_add_test(tc, unreadable_and_odd_scripts);
	tcase_add_test(tc, inline_mode);
	tcase_add_test(tc, cache_and_user_log);
	tcase_add_test(tc, cache_valid_once_and_same_size);
	tcase_add_test(tc, user_log_rotates);
	tcase_add_test(tc, validate_file);
	return s;
}

int
main(void)
{
	return ut_run(sieve_run_suite);
}
