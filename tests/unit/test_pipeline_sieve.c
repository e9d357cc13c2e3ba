/* Unit tests for lmtpd/pipeline_sieve: a Sieve action list becoming
 * side effects for one recipient.  Real scripts through the real libsieve
 * (sandboxed, as the daemon runs it), real Maildirs in a temporary home,
 * and redirects handed to a recording sendmail-like program.  What must
 * hold (DESIGN "One message, end to end"): one copy per distinct folder
 * with the flags of every fileinto naming it; a folder name that fails
 * validation, a redirect to the recipient itself or a looping redirect
 * keeps the message in INBOX instead; reject stores nothing; a failed
 * redirect hand-off is a temporary failure for the recipient. */
#include "config.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/uio.h>

#include "check_compat.h"

#include "cfg.h"
#include "dsn.h"
#include "message.h"
#include "pipeline.h"
#include "pipeline_sieve.h"
#include "rcpt.h"

#define RETURN_PATH "Return-Path: <alice@example.org>\n"
#define MESSAGE "From: Alice <alice@example.org>\n" \
	"To: Bob <bob@example.com>\n" \
	"Subject: lunch\n" \
	"Message-ID: <m1@example.org>\n" \
	"\n" \
	"Tomorrow at noon?\n"

struct fixture {
	char dir[PATH_MAX];		/* the test's folder */
	char home[PATH_MAX];		/* bob's home */
	char maildir[PATH_MAX];
	struct lmtpd_config *cfg;
	struct rcpt_resolver *resolver;
	struct rcpt *rcpt;
	struct pipeline_sieve *sv;
	char folders[256];
};

/* The recording sendmail: argv one per line, stdin copied; exits with
 * STATUS. */
static void
write_sendmail(const char *dir, int status, char *prog, size_t size)
{
	char text[3 * PATH_MAX];

	ut_pathf(prog, size, "%s/sendmail", dir);
	snprintf(text, sizeof(text),
		 "#!/bin/sh\n"
		 "for a in \"$@\"; do printf '%%s\\n' \"$a\"; done > %s/argv\n"
		 "cat > %s/stdin\n"
		 "exit %d\n", dir, dir, status);
	ut_write_text(prog, text);
	ck_assert_int_eq(chmod(prog, 0755), 0);
}

/* bob@example.com (or addr) with home under a fresh test folder, his
 * script SCRIPT (NULL: none) at ~/.dovecot.sieve, and the recording
 * sendmail exiting with sendmail_status. */
static void
fixture_setup(struct fixture *f, const char *addr, const char *script,
	      int sendmail_status, const char *extra_config)
{
	char path[PATH_MAX], prog[PATH_MAX], text[4 * PATH_MAX], *error = NULL;
	struct dsn dsn;

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "%s", ut_testdir());
	write_sendmail(f->dir, sendmail_status, prog, sizeof(prog));
	snprintf(text, sizeof(text),
		 "hostname = mx.example.org\n"
		 "users = static\n"
		 "home = %s/home/%%n\n"
		 "mail_location = %%h/Maildir\n"
		 "state_dir = %s/state\n"
		 "submission = %s\n"
		 "%s", f->dir, f->dir, prog, extra_config != NULL ? extra_config : "");
	ut_pathf(path, sizeof(path), "%s/lmtpd.conf", f->dir);
	ut_write_text(path, text);
	f->cfg = cfg_load(path, &error);
	ck_assert_msg(f->cfg != NULL, "%s", error);
	f->resolver = rcpt_resolver_new(f->cfg);
	f->rcpt = rcpt_resolve(f->resolver, addr != NULL ? addr : "bob@example.com", NULL,
			       &dsn);
	ck_assert_msg(f->rcpt != NULL, "%s", dsn.text);
	snprintf(f->home, sizeof(f->home), "%s", f->rcpt->home);
	snprintf(f->maildir, sizeof(f->maildir), "%s", f->rcpt->maildir);
	ut_pathf(path, sizeof(path), "%s/home", f->dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(mkdir(f->home, 0700), 0);
	ut_pathf(path, sizeof(path), "%s/state", f->dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	if (script != NULL) {
		ut_pathf(path, sizeof(path), "%s/.dovecot.sieve", f->home);
		ut_write_text(path, script);
	}
	f->sv = pipeline_sieve_new(f->cfg);
}

static void
fixture_teardown(struct fixture *f)
{
	pipeline_sieve_free(&f->sv);
	rcpt_free(&f->rcpt);
	rcpt_resolver_free(&f->resolver);
	cfg_free(&f->cfg);
}

/* Delivers the message (with extra header lines on top, which the
 * message parse sees too) through Sieve. */
static void
deliver(struct fixture *f, const char *extra_headers)
{
	char prepend[1024], data[2048];
	struct pipeline_txn txn;
	struct iovec iov[2];
	struct message *msg;
	double delays[4] = { 0 };
	int n;

	n = snprintf(prepend, sizeof(prepend), "%sDelivered-To: %s\n%s", RETURN_PATH,
		     f->rcpt->canonical, extra_headers != NULL ? extra_headers : "");
	ck_assert_int_lt(n, (int)sizeof(prepend));
	n = snprintf(data, sizeof(data), "%s%s",
		     extra_headers != NULL ? extra_headers : "", MESSAGE);
	ck_assert_int_lt(n, (int)sizeof(data));
	msg = message_parse(data, strlen(data));
	ck_assert_ptr_nonnull(msg);
	memset(&txn, 0, sizeof(txn));
	txn.queue_id = "TESTQID";
	txn.sender = "alice@example.org";
	txn.client_name = "localhost";
	txn.client_addr = "unix";
	iov[0] = (struct iovec){ prepend, strlen(prepend) };
	iov[1] = (struct iovec){ data, strlen(data) };
	pipeline_sieve_deliver(f->cfg, f->sv, &txn, f->rcpt, msg, iov, 2, false, delays,
			       f->folders, sizeof(f->folders));
	message_free(&msg);
}

/* Messages in FOLDER ("" = INBOX) under sub ("new" or "cur"); the last
 * file name into last_r. */
static int
count_in(const struct fixture *f, const char *folder, const char *sub, char *last_r,
	 size_t last_size)
{
	char path[PATH_MAX];

	if (folder[0] != '\0')
		ut_pathf(path, sizeof(path), "%s/.%s/%s", f->maildir, folder, sub);
	else
		ut_pathf(path, sizeof(path), "%s/%s", f->maildir, sub);
	if (access(path, F_OK) < 0)
		return 0;
	return ut_dir_count(path, last_r, last_size);
}

/* What a delivery came to: the reply's reason, the folders it was filed
 * into, and how many copies INBOX's new/ holds (a macro, so that a
 * failure names the test's line). */
#define assert_outcome(f, reason_want, folders_want, inbox_new) do {			\
		ck_assert_int_eq((f)->rcpt->dsn.reason, (reason_want));	\
		ck_assert_str_eq((f)->folders, (folders_want));			\
		ck_assert_int_eq(count_in((f), "", "new", NULL, 0), (inbox_new));	\
	} while (0)


/* Folders (".Name") in the Maildir. */
static int
count_folders(const struct fixture *f)
{
	DIR *d = opendir(f->maildir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static bool
sendmail_ran(const struct fixture *f)
{
	char path[PATH_MAX];

	ut_pathf(path, sizeof(path), "%s/argv", f->dir);
	return access(path, F_OK) == 0;
}

START_TEST(no_script_is_inbox)
{
	struct fixture f;

	fixture_setup(&f, NULL, NULL, 0, NULL);
	deliver(&f, NULL);
	assert_outcome(&f, DSN_DELIVERED, "INBOX", 1);
	ck_assert_int_eq(count_folders(&f), 0);
	fixture_teardown(&f);
}
END_TEST

/* The size test counts the message as RFC 5322 has it (CRLF line ends),
 * what IMAP shows as RFC822.SIZE (RFC 5228 5.9), not the LF bytes stored:
 * a message just over N octets that way is :over N, one of exactly N
 * octets is neither :over nor :under N. */
START_TEST(size_test_counts_crlf)
{
	static const char stored[] = RETURN_PATH "Delivered-To: bob@example.com\n" MESSAGE;
	size_t lf_size = sizeof(stored) - 1, lines = 0;
	char script[256];
	struct fixture f;

	for (const char *p = stored; *p != '\0'; p++)
		lines += *p == '\n';
	snprintf(script, sizeof(script), "require \"fileinto\";\n"
		 "if size :over %zu { fileinto \"OverStored\"; }\n"
		 "if size :over %zu { fileinto \"OverCRLF\"; }\n"
		 "if size :under %zu { fileinto \"UnderCRLF\"; }\n"
		 "if size :under %zu { fileinto \"UnderOneMore\"; }\n",
		 lf_size, lf_size + lines, lf_size + lines, lf_size + lines + 1);
	fixture_setup(&f, NULL, script, 0, NULL);
	deliver(&f, NULL);
	assert_outcome(&f, DSN_DELIVERED, "OverStored,UnderOneMore", 0);
	fixture_teardown(&f);
}
END_TEST

/* Sieve off (no pipeline_sieve): INBOX even with a script in place. */
START_TEST(sieve_off_ignores_script)
{
	struct fixture f;

	fixture_setup(&f, NULL, "discard;\n", 0, NULL);
	pipeline_sieve_free(&f.sv);
	deliver(&f, NULL);
	assert_outcome(&f, DSN_DELIVERED, "INBOX", 1);
	fixture_teardown(&f);
}
END_TEST

/* Two fileintos naming one folder: one copy, in cur/ with both flags in
 * Maildir's letter order, and the new folder subscribed. */
START_TEST(same_folder_twice_one_copy_flags_merged)
{
	struct fixture f;
	char last[256], path[PATH_MAX], *subs;

	fixture_setup(&f, NULL,
		      "require [\"fileinto\", \"imap4flags\"];\n"
		      "fileinto :flags \"\\\\Seen\" \"Work\";\n"
		      "fileinto :flags \"\\\\Flagged\" \"Work\";\n", 0, NULL);
	deliver(&f, NULL);
	assert_outcome(&f, DSN_DELIVERED, "Work", 0);
	ck_assert_int_eq(count_in(&f, "Work", "new", NULL, 0), 0);
	ck_assert_int_eq(count_in(&f, "Work", "cur", last, sizeof(last)), 1);
	ck_assert_msg(strlen(last) > 5 && strcmp(last + strlen(last) - 5, ":2,FS") == 0,
		      "flags of %s", last);
	ut_pathf(path, sizeof(path), "%s/subscriptions", f.maildir);
	subs = ut_read_file(path, NULL);
	ck_assert_ptr_nonnull(strstr(subs, "Work\n"));
	free(subs);
	fixture_teardown(&f);
}
END_TEST

/* Keywords of both fileintos naming one folder are merged (once each,
 * case-insensitively) and stored as Dovecot's letters. */
START_TEST(keywords_stored_per_folder)
{
	struct fixture f;
	char last[256], path[PATH_MAX], *kw;

	fixture_setup(&f, NULL,
		      "require [\"fileinto\", \"imap4flags\"];\n"
		      "fileinto :flags [\"\\\\Seen\", \"$Label1\"] \"Work\";\n"
		      "fileinto :flags [\"$label1\", \"$Junk\"] \"Work\";\n", 0, NULL);
	deliver(&f, NULL);
	ck_assert_int_eq(f.rcpt->dsn.reason, DSN_DELIVERED);
	ck_assert_int_eq(count_in(&f, "Work", "cur", last, sizeof(last)), 1);
	ck_assert_msg(strlen(last) > 6 && strcmp(last + strlen(last) - 6, ":2,Sab") == 0,
		      "flags of %s", last);
	ut_pathf(path, sizeof(path), "%s/.Work/dovecot-keywords", f.maildir);
	kw = ut_read_file(path, NULL);
	ck_assert_str_eq(kw, "0 $Label1\n1 $Junk\n");
	free(kw);
	fixture_teardown(&f);
}
END_TEST

/* fileinto and keep: two copies, both listed (in libsieve's action
 * order). */
START_TEST(fileinto_and_keep_two_copies)
{
	struct fixture f;

	fixture_setup(&f, NULL, "require \"fileinto\";\nfileinto \"Lists.Dev\";\nkeep;\n", 0,
		      NULL);
	deliver(&f, NULL);
	ck_assert_int_eq(f.rcpt->dsn.reason, DSN_DELIVERED);
	ck_assert_msg(strcmp(f.folders, "Lists.Dev,INBOX") == 0 ||
		      strcmp(f.folders, "INBOX,Lists.Dev") == 0, "folders %s", f.folders);
	ck_assert_int_eq(count_in(&f, "", "new", NULL, 0), 1);
	ck_assert_int_eq(count_in(&f, "Lists.Dev", "new", NULL, 0), 1);
	fixture_teardown(&f);
}
END_TEST

/* Keywords that can not be stored take no letter from valid ones: 6
 * non-atoms before 26 valid keywords (32 flags, Sieve's most for an
 * action) still leave all 26 stored. */
START_TEST(keywords_invalid_not_counted)
{
	struct fixture f;
	char script[2048], last[256];
	size_t o;

	o = (size_t)snprintf(script, sizeof(script),
			     "require [\"fileinto\", \"imap4flags\"];\nfileinto :flags [");
	for (int i = 0; i < 6; i++)
		o += (size_t)snprintf(script + o, sizeof(script) - o, "\"bad(%d\", ", i);
	for (int i = 0; i < 26; i++)
		o += (size_t)snprintf(script + o, sizeof(script) - o, "%s\"k%d\"",
				      i > 0 ? ", " : "", i);
	snprintf(script + o, sizeof(script) - o, "] \"Work\";\n");
	ck_assert_int_lt(strlen(script), sizeof(script) - 1);
	fixture_setup(&f, NULL, script, 0, NULL);
	deliver(&f, NULL);
	ck_assert_int_eq(f.rcpt->dsn.reason, DSN_DELIVERED);
	ck_assert_int_eq(count_in(&f, "Work", "cur", last, sizeof(last)), 1);
	ck_assert_msg(strstr(last, ":2,abcdefghijklmnopqrstuvwxyz") != NULL, "flags of %s",
		      last);
	fixture_teardown(&f);
}
END_TEST

/* Every path under a folder, sorted, except those under skip. */
#define LS_MAX 4096
static char *ls_paths[LS_MAX];
static size_t ls_count;
static const char *ls_skip;

static int
ls_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (strncmp(path, ls_skip, strlen(ls_skip)) == 0)
		return 0;
	ck_assert_uint_lt(ls_count, LS_MAX);
	ls_paths[ls_count++] = strdup(path);
	return 0;
}

static int
ls_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted listing of dir (paths under skip left out), one per line. */
static char *
ls_tree(const char *dir, const char *skip)
{
	size_t len = 1, o = 0;
	char *text;

	ls_count = 0;
	ls_skip = skip;
	ck_assert_int_eq(nftw(dir, ls_one, 16, FTW_PHYS), 0);
	qsort(ls_paths, ls_count, sizeof(ls_paths[0]), ls_cmp);
	for (size_t i = 0; i < ls_count; i++)
		len += strlen(ls_paths[i]) + 1;
	text = malloc(len);
	ck_assert_ptr_nonnull(text);
	for (size_t i = 0; i < ls_count; i++) {
		o += (size_t)sprintf(text + o, "%s\n", ls_paths[i]);
		free(ls_paths[i]);
	}
	text[o] = '\0';
	return text;
}

/* Folder names that would leave the Maildir, or that Maildir++ can not
 * hold, are refused and the message kept in INBOX; nothing is created
 * outside the Maildir. */
static const char *const bad_folders[] = {
	"../../escape", "a/../../b", "/etc", "Work/../..", "..", ".hidden",
	"a..b", "", "tab\there",
};

START_TEST(bad_folder_kept_in_inbox)
{
	struct fixture f;
	char script[256], *before, *after;

	snprintf(script, sizeof(script), "require \"fileinto\";\nfileinto \"%s\";\n",
		 bad_folders[_i]);
	fixture_setup(&f, NULL, script, 0, NULL);
	/* Wherever a folder name like "../../escape" would land: nothing
	 * outside the Maildir appears or changes name. */
	before = ls_tree(f.dir, f.maildir);
	deliver(&f, NULL);
	after = ls_tree(f.dir, f.maildir);
	ck_assert_str_eq(after, before);
	free(before);
	free(after);
	assert_outcome(&f, DSN_DELIVERED, "INBOX", 1);
	ck_assert_int_eq(count_folders(&f), 0);
	fixture_teardown(&f);
}
END_TEST

/* A symlink where the folder should be is never followed. */
START_TEST(symlinked_folder_kept_in_inbox)
{
	struct fixture f;
	char path[PATH_MAX], outside[PATH_MAX];

	fixture_setup(&f, NULL, "require \"fileinto\";\nfileinto \"Work\";\n", 0, NULL);
	ut_pathf(outside, sizeof(outside), "%s/outside", f.dir);
	ck_assert_int_eq(mkdir(outside, 0700), 0);
	ck_assert_int_eq(mkdir(f.maildir, 0700), 0);
	ut_pathf(path, sizeof(path), "%s/.Work", f.maildir);
	ck_assert_int_eq(symlink(outside, path), 0);
	deliver(&f, NULL);
	assert_outcome(&f, DSN_DELIVERED, "INBOX", 1);
	ck_assert_int_eq(ut_dir_count(outside, NULL, 0), 0);
	fixture_teardown(&f);
}
END_TEST

START_TEST(reject_stores_nothing)
{
	struct fixture f;

	fixture_setup(&f, NULL, "require \"reject\";\nreject \"not from you\";\n", 0, NULL);
	deliver(&f, NULL);
	ck_assert_int_eq(f.rcpt->dsn.reason, DSN_REJECTED);
	ck_assert_str_eq(f.rcpt->dsn.text, "not from you");
	ck_assert_str_eq(f.folders, "");
	ck_assert_int_eq(count_in(&f, "", "new", NULL, 0), 0);
	fixture_teardown(&f);
}
END_TEST

START_TEST(discard_stores_nothing)
{
	struct fixture f;

	fixture_setup(&f, NULL, "discard;\n", 0, NULL);
	deliver(&f, NULL);
	assert_outcome(&f, DSN_DISCARDED, "", 0);
	fixture_teardown(&f);
}
END_TEST

/* A redirect replaces the implicit keep; the copy handed over has no
 * Return-Path (the MTA writes its own) but keeps Delivered-To (loop
 * detection downstream), and the envelope sender is the original one. */
START_TEST(redirect_hands_off_copy)
{
	struct fixture f;
	char path[PATH_MAX], *argv_text, *in;

	fixture_setup(&f, NULL, "redirect \"carol@example.net\";\n", 0, NULL);
	deliver(&f, NULL);
	assert_outcome(&f, DSN_DELIVERED, "", 0);
	ut_pathf(path, sizeof(path), "%s/argv", f.dir);
	argv_text = ut_read_file(path, NULL);
	ck_assert_str_eq(argv_text, "-i\n-f\nalice@example.org\n--\ncarol@example.net\n");
	free(argv_text);
	ut_pathf(path, sizeof(path), "%s/stdin", f.dir);
	in = ut_read_file(path, NULL);
	ck_assert_ptr_null(strstr(in, "Return-Path:"));
	ck_assert_ptr_nonnull(strstr(in, "Delivered-To: bob@example.com\n"));
	ck_assert_ptr_nonnull(strstr(in, "Subject: lunch\n"));
	free(in);
	fixture_teardown(&f);
}
END_TEST

/* The hand-off failing is a temporary failure: the MTA retries, and the
 * redirect is never lost. */
START_TEST(redirect_failure_is_temporary)
{
	struct fixture f;

	fixture_setup(&f, NULL, "redirect \"carol@example.net\";\n", 75, NULL);
	deliver(&f, NULL);
	ck_assert_int_eq(f.rcpt->dsn.reason, DSN_TEMP_FAIL);
	ck_assert_ptr_nonnull(strstr(f.rcpt->dsn.text, "carol@example.net"));
	fixture_teardown(&f);
}
END_TEST

/* Redirects to the recipient itself (any case, with or without a
 * detail) are refused and the message is kept instead: nothing is
 * handed to the MTA. */
static const char *const self_addresses[] = {
	"bob@example.com", "BOB@Example.COM", "bob+lists@example.com",
};

START_TEST(redirect_to_self_kept)
{
	struct fixture f;
	char script[256];

	snprintf(script, sizeof(script), "redirect \"%s\";\n", self_addresses[_i]);
	fixture_setup(&f, NULL, script, 0, NULL);
	deliver(&f, NULL);
	assert_outcome(&f, DSN_DELIVERED, "INBOX", 1);
	ck_assert(!sendmail_ran(&f));
	fixture_teardown(&f);
}
END_TEST

/* The recipient's own address in another case, UTF-8 too, is itself. */
START_TEST(redirect_to_self_folded_kept)
{
	struct fixture f;

	fixture_setup(&f, "j\xc3\xb6rg@example.com", "redirect \"J\xc3\x96RG+x@EXAMPLE.COM\";\n",
		      0, NULL);
	deliver(&f, NULL);
	assert_outcome(&f, DSN_DELIVERED, "INBOX", 1);
	ck_assert(!sendmail_ran(&f));
	fixture_teardown(&f);
}
END_TEST

/* A message that came through this recipient before (an X-Loop or a
 * Delivered-To naming it already in the message) is not redirected
 * again (RFC 5228 4.2): kept instead. */
static const char *const loop_headers[] = {
	"Delivered-To: bob@example.com\n",
	"X-Loop: <Bob@example.com>\n",
};

START_TEST(redirect_loop_kept)
{
	struct fixture f;

	fixture_setup(&f, NULL, "redirect \"carol@example.net\";\n", 0, NULL);
	deliver(&f, loop_headers[_i]);
	assert_outcome(&f, DSN_DELIVERED, "INBOX", 1);
	ck_assert(!sendmail_ran(&f));
	fixture_teardown(&f);
}
END_TEST

/* A script that fails to compile keeps the message in INBOX. */
START_TEST(broken_script_kept_in_inbox)
{
	struct fixture f;

	fixture_setup(&f, NULL, "if this is not sieve {\n", 0, NULL);
	deliver(&f, NULL);
	assert_outcome(&f, DSN_DELIVERED, "INBOX", 1);
	fixture_teardown(&f);
}
END_TEST

/* A script path with ".." is not run (a user name must not choose
 * another user's script).  lmtpd.conf refuses such a template, so it can
 * only come from the users map's sieve_script=, set here as
 * rcpt_resolve() sets it from there. */
START_TEST(script_path_with_dotdot_not_run)
{
	struct fixture f;
	char path[PATH_MAX];

	fixture_setup(&f, NULL, NULL, 0, NULL);
	free(f.rcpt->sieve_script);
	f.rcpt->sieve_script = strdup("%h/../shared.sieve");
	ck_assert_ptr_nonnull(f.rcpt->sieve_script);
	ut_pathf(path, sizeof(path), "%s/home/shared.sieve", f.dir);
	ut_write_text(path, "discard;\n");
	deliver(&f, NULL);
	assert_outcome(&f, DSN_DELIVERED, "INBOX", 1);
	fixture_teardown(&f);
}
END_TEST

static Suite *
pipeline_sieve_suite(void)
{
	Suite *s = suite_create("pipeline_sieve");
	TCase *tc = ut_tcase(s, "actions", true);

	tcase_add_test(tc, no_script_is_inbox);
	tcase_add_test(tc, size_test_counts_crlf);
	tcase_add_test(tc, sieve_off_ignores_script);
	tcase_add_test(tc, same_folder_twice_one_copy_flags_merged);
	tcase_add_test(tc, keywords_stored_per_folder);
	tcase_add_test(tc, keywords_invalid_not_counted);
	tcase_add_test(tc, fileinto_and_keep_two_copies);
	tcase_add_loop_test(tc, bad_folder_kept_in_inbox, 0,
			    (int)(sizeof(bad_folders) / sizeof(bad_folders[0])));
	tcase_add_test(tc, symlinked_folder_kept_in_inbox);
	tcase_add_test(tc, reject_stores_nothing);
	tcase_add_test(tc, discard_stores_nothing);
	tcase_add_test(tc, redirect_hands_off_copy);
	tcase_add_test(tc, redirect_failure_is_temporary);
	tcase_add_test(tc, redirect_to_self_folded_kept);
	tcase_add_loop_test(tc, redirect_to_self_kept, 0,
			    (int)(sizeof(self_addresses) / sizeof(self_addresses[0])));
	tcase_add_loop_test(tc, redirect_loop_kept, 0,
			    (int)(sizeof(loop_headers) / sizeof(loop_headers[0])));
	tcase_add_test(tc, broken_script_kept_in_inbox);
	tcase_add_test(tc, script_path_with_dotdot_not_run);
	return s;
}

int
main(void)
{
	return ut_run(pipeline_sieve_suite);
}
