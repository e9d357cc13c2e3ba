/* Unit tests for maildir/maildir_name: Sieve folder names to Maildir++
 * directories (valid and hostile names, modified UTF-7 both ways), IMAP
 * flags to Maildir letters, and the subscriptions file. */
#include "config.h"

#include "check_compat.h"

#include "maildir_name.h"

/* ---- names ---- */

static const struct {
	const char *name;
	char sep;
	const char *disk;	/* NULL: refused */
} name_cases[] = {
	{ "INBOX", '.', "" },
	{ "inbox", '.', "" },
	{ "InBoX", '/', "" },
	{ "Work", '.', ".Work" },
	{ "Work.Sub", '.', ".Work.Sub" },
	{ "Work/Sub", '/', ".Work.Sub" },
	{ "INBOX.Child", '.', ".INBOX.Child" },
	/* INBOX's children are one hierarchy whatever the case of INBOX
	 * (Dovecot's mailbox_alloc); only the first level is INBOX. */
	{ "inbox.Child", '.', ".INBOX.Child" },
	{ "InBoX/Child/x", '/', ".INBOX.Child.x" },
	{ "Work.inbox", '.', ".Work.inbox" },
	{ "Inboxes.x", '.', ".Inboxes.x" },
	{ "a b", '.', ".a b" },
	{ "Tom & Jerry", '.', ".Tom &- Jerry" },
	{ "Grüße", '.', ".Gr&APwA3w-e" },
	{ "日本語", '.', ".&ZeVnLIqe-" },
	{ "x😀y", '.', ".x&2D3eAA-y" },
	{ "A.Grüße/x", '/', NULL },	/* '.' in a level with '/' */
	/* Hostile or broken. */
	{ "", '.', NULL },
	{ ".", '.', NULL },
	{ "..", '.', NULL },
	{ "../x", '/', NULL },
	{ "a/../../etc", '/', NULL },
	{ "a/../b", '.', NULL },
	{ ".hidden", '.', NULL },
	{ "a..b", '.', NULL },
	{ "a.", '.', NULL },
	{ "/a", '/', NULL },
	{ "a//b", '/', NULL },
	{ "a/b", '.', NULL },		/* '/' with the '.' separator */
	{ "a\nb", '.', NULL },
	{ "a\tb", '.', NULL },
	{ "a\x7f" "b", '.', NULL },
	{ "a\xc2\x85" "b", '.', NULL },	/* C1 control NEL */
	/* shown as another name by an IMAP client: RIGHT-TO-LEFT
	 * OVERRIDE, LINE SEPARATOR, ZERO WIDTH SPACE */
	{ "Inbox\xe2\x80\xae" "kroW", '.', NULL },
	{ "a\xe2\x80\xa8" "b", '.', NULL },
	{ "Wo\xe2\x80\x8b" "rk", '.', NULL },
	{ "a\xff" "b", '.', NULL },	/* invalid UTF-8 */
	{ "\xc0\xae\xc0\xae", '.', NULL },	/* overlong "..": invalid */
	{ "a\xed\xa0\x80" "b", '.', NULL },	/* surrogate */
	{ "a*", '.', NULL },
	{ "50%", '.', NULL },
	{ "Work", '\\', NULL },	/* bad separator */
	/* Dovecot refuses a name that begins with '~' (SELECT: "Invalid
	 * mailbox name"): a copy filed there could never be read.  Inside a
	 * name it is fine. */
	{ "~", '.', NULL },
	{ "~root", '.', NULL },
	{ "~/x", '/', NULL },
	{ "a.~b", '.', ".a.~b" },
};

START_TEST(name_table)
{
	char out[MAILDIR_FOLDER_DISK_SIZE];
	const char *why = NULL;
	int ret = maildir_name_to_disk(name_cases[_i].name, name_cases[_i].sep, out,
				       sizeof(out), &why);

	if (name_cases[_i].disk == NULL) {
		ck_assert_msg(ret < 0, "'%s' accepted as '%s'", ut_escs(name_cases[_i].name),
			      ut_escs(out));
		ck_assert_ptr_nonnull(why);
		ck_assert_str_eq(out, "");
	} else {
		ck_assert_msg(ret == 0, "'%s' refused: %s", ut_escs(name_cases[_i].name),
			      why);
		ck_assert_str_eq(out, name_cases[_i].disk);
		/* On disk: one directory entry, never "." or "..". */
		ck_assert_ptr_null(strchr(out, '/'));
		ck_assert(strcmp(out, ".") != 0 && strcmp(out, "..") != 0);
	}
}
END_TEST

/* Limits at limit-1, limit, limit+1. */
START_TEST(name_limits)
{
	char name[MAILDIR_FOLDER_NAME_MAX + 16], out[MAILDIR_FOLDER_DISK_SIZE];
	const char *why;
	size_t n;

	/* On-disk length: the leading dot plus the name. */
	n = MAILDIR_FOLDER_DISK_MAX - 1;
	memset(name, 'a', n);
	name[n] = '\0';
	ck_assert_int_eq(maildir_name_to_disk(name, '.', out, sizeof(out), &why), 0);
	ck_assert_uint_eq(strlen(out), MAILDIR_FOLDER_DISK_MAX);
	name[n] = 'a';
	name[n + 1] = '\0';
	ck_assert_int_eq(maildir_name_to_disk(name, '.', out, sizeof(out), &why), -1);
	/* Input length beyond MAILDIR_FOLDER_NAME_MAX: refused before any
	 * work. */
	memset(name, 'a', MAILDIR_FOLDER_NAME_MAX + 1);
	name[MAILDIR_FOLDER_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(maildir_name_to_disk(name, '.', out, sizeof(out), &why), -1);
	ck_assert_str_eq(why, "folder name too long");
	/* Levels. */
	name[0] = '\0';
	for (int i = 0; i < MAILDIR_FOLDER_LEVELS_MAX; i++)
		strcat(name, i == 0 ? "l" : ".l");
	ck_assert_int_eq(maildir_name_to_disk(name, '.', out, sizeof(out), &why), 0);
	strcat(name, ".l");
	ck_assert_int_eq(maildir_name_to_disk(name, '.', out, sizeof(out), &why), -1);
	ck_assert_str_eq(why, "too many hierarchy levels");
	/* A small output buffer is reported, not overrun. */
	ck_assert_int_eq(maildir_name_to_disk("Work", '.', out, 4, &why), -1);
}
END_TEST

/* RFC 3501 5.1.3 examples and a round trip over many code points. */
START_TEST(mutf7_round_trip)
{
	static const struct {
		const char *utf8, *mutf7;
	} cases[] = {
		{ "~peter/mail/日本語/台北", "~peter/mail/&ZeVnLIqe-/&U,BTFw-" },
		{ "&", "&-" },
		{ "a&b", "a&-b" },
		{ "", "" },
		{ "é", "&AOk-" },
		{ "\xf0\x9f\x98\x80", "&2D3eAA-" },
	};
	char enc[256], dec[256];

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		int n = maildir_mutf7_encode(cases[i].utf8, strlen(cases[i].utf8), enc,
					     sizeof(enc));

		ck_assert_int_ge(n, 0);
		ck_assert_str_eq(enc, cases[i].mutf7);
		n = maildir_mutf7_decode(enc, strlen(enc), dec, sizeof(dec));
		ck_assert_int_ge(n, 0);
		ck_assert_str_eq(dec, cases[i].utf8);
	}
	/* Every BMP code point outside the surrogates (in runs), and some
	 * astral ones, survive the trip. */
	for (unsigned int cp = 0x20; cp < 0x30000; cp += cp < 0x800 ? 1 : 97) {
		char utf8[16];
		size_t len;
		int n;

		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		if (cp < 0x80) {
			if (cp == 0x7f)
				continue;
			utf8[0] = (char)cp;
			len = 1;
		} else if (cp < 0x800) {
			utf8[0] = (char)(0xc0 | (cp >> 6));
			utf8[1] = (char)(0x80 | (cp & 0x3f));
			len = 2;
		} else if (cp < 0x10000) {
			utf8[0] = (char)(0xe0 | (cp >> 12));
			utf8[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			utf8[2] = (char)(0x80 | (cp & 0x3f));
			len = 3;
		} else {
			utf8[0] = (char)(0xf0 | (cp >> 18));
			utf8[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
			utf8[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
			utf8[3] = (char)(0x80 | (cp & 0x3f));
			len = 4;
		}
		/* Surround with ASCII to test run boundaries. */
		memmove(utf8 + 1, utf8, len);
		utf8[0] = 'x';
		utf8[len + 1] = 'y';
		utf8[len + 2] = '\0';
		n = maildir_mutf7_encode(utf8, len + 2, enc, sizeof(enc));
		ck_assert_msg(n > 0, "cp %x", cp);
		/* Printable ASCII only, and no '/' that the name did not have. */
		for (int k = 0; k < n; k++)
			ck_assert(enc[k] >= 0x20 && enc[k] < 0x7f && (enc[k] != '/' || cp == '/'));
		n = maildir_mutf7_decode(enc, (size_t)n, dec, sizeof(dec));
		ck_assert_msg(n >= 0, "cp %x: %s", cp, enc);
		ck_assert_msg(strcmp(dec, utf8) == 0, "cp %x", cp);
	}
}
END_TEST

START_TEST(mutf7_decode_rejects)
{
	static const char *const bad[] = {
		"&",		/* unterminated */
		"&AOk",		/* no '-' */
		"&AGE-",	/* encodes printable 'a' */
		"&2D0-",	/* lone high surrogate */
		"&3gA-",	/* lone low surrogate */
		"&AO!-",	/* bad base64 */
		"&AOl-",	/* non-zero padding bits */
		"&AOk-&AOk-",	/* two runs back to back: the encoder makes "&AOkA6Q-" */
		"x&AOk-&AOk-y",
		"a\x01",	/* control */
		"\xc3\xa9",	/* 8-bit */
	};
	char out[64];

	for (size_t i = 0; i < N_ELEMENTS(bad); i++)
		ck_assert_msg(maildir_mutf7_decode(bad[i], strlen(bad[i]), out,
						   sizeof(out)) < 0, "%s", ut_escs(bad[i]));
	/* Output too small. */
	ck_assert_int_lt(maildir_mutf7_encode("Grüße", strlen("Grüße"), out, 4), 0);
	ck_assert_int_lt(maildir_mutf7_decode("&AOk-", 5, out, 2), 0);
}
END_TEST

START_TEST(name_from_disk)
{
	char out[256];

	ck_assert_int_eq(maildir_name_from_disk(".Work.Gr&APwA3w-e", '/', out, sizeof(out)), 0);
	ck_assert_str_eq(out, "Work/Grüße");
	ck_assert_int_eq(maildir_name_from_disk(".Work.Gr&APwA3w-e", '.', out, sizeof(out)), 0);
	ck_assert_str_eq(out, "Work.Grüße");
	ck_assert_int_eq(maildir_name_from_disk("", '.', out, sizeof(out)), 0);
	ck_assert_str_eq(out, "INBOX");
	ck_assert_int_eq(maildir_name_from_disk("Work", '.', out, sizeof(out)), -1);
	ck_assert_int_eq(maildir_name_from_disk(".a..b", '.', out, sizeof(out)), -1);
}
END_TEST

/* ---- flags ---- */

START_TEST(flags_map)
{
	const char *all[] = { "\\Seen", "\\deleted", "\\FLAGGED", "\\Answered", "\\Draft",
			      "\\Recent", "$Label1", "\\Unknown", "\\Seen", "\\Other" };
	const char *keywords[] = { "$Label1", "Junk", "Seen" };
	char out[8];
	size_t unknown = 99;

	/* only the unknown system flags count: keywords are stored apart */
	maildir_flags_from_imap(all, N_ELEMENTS(all), out, sizeof(out), &unknown);
	ck_assert_str_eq(out, "DFRST");
	ck_assert_uint_eq(unknown, 2);
	unknown = 99;
	maildir_flags_from_imap(keywords, N_ELEMENTS(keywords), out, sizeof(out), &unknown);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(unknown, 0);
	maildir_flags_from_imap(NULL, 0, out, sizeof(out), &unknown);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(unknown, 0);
	maildir_flags_from_imap(all, 1, out, sizeof(out), NULL);
	ck_assert_str_eq(out, "S");
	/* Truncated, never overrun. */
	maildir_flags_from_imap(all, N_ELEMENTS(all), out, 3, NULL);
	ck_assert_str_eq(out, "DF");
}
END_TEST

/* ---- subscriptions ---- */

static char *
subs_path(const char *root, char *out, size_t size)
{
	ut_pathf(out, size, "%s/subscriptions", root);
	return out;
}

START_TEST(subscribe_new_file)
{
	const char *root = ut_testdir();
	char path[PATH_MAX], err[256], *text;

	ck_assert_int_eq(maildir_subscribe(root, ".Work", NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(maildir_subscribe(root, ".Work.Sub", NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(maildir_subscribe(root, ".Gr&APwA3w-e", NULL, err, sizeof(err)), 0);
	/* Already listed: unchanged. */
	ck_assert_int_eq(maildir_subscribe(root, ".Work", NULL, err, sizeof(err)), 0);
	text = ut_read_file(subs_path(root, path, sizeof(path)), NULL);
	ck_assert_str_eq(text, "V\t2\n\nWork\nWork\tSub\nGr&APwA3w-e\n");
	free(text);
	/* The lock is gone. */
	ut_pathf(path, sizeof(path), "%s/subscriptions.lock", root);
	ck_assert_int_eq(access(path, F_OK), -1);
	/* Refused input. */
	ck_assert_int_eq(maildir_subscribe(root, "Work", NULL, err, sizeof(err)), -1);
	ck_assert_int_eq(maildir_subscribe(root, ".a/b", NULL, err, sizeof(err)), -1);
}
END_TEST

START_TEST(subscribe_old_format)
{
	const char *root = ut_testdir();
	char path[PATH_MAX], err[256], *text;

	ut_write_text(subs_path(root, path, sizeof(path)), "Old\nOld.Sub");
	ck_assert_int_eq(maildir_subscribe(root, ".Old.Sub", NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(maildir_subscribe(root, ".New.Sub", NULL, err, sizeof(err)), 0);
	text = ut_read_file(path, NULL);
	ck_assert_str_eq(text, "Old\nOld.Sub\nNew.Sub\n");
	free(text);
}
END_TEST

/* What a failed delivery takes back: only the line it added, in either
 * format; added_r tells an added line from one listed before. */
START_TEST(unsubscribe_both_formats)
{
	const char *root = ut_testdir();
	char path[PATH_MAX], err[256], *text;
	bool added = true;

	ck_assert_int_eq(maildir_subscribe(root, ".Work", &added, err, sizeof(err)), 0);
	ck_assert(added);
	ck_assert_int_eq(maildir_subscribe(root, ".Work.Sub", &added, err, sizeof(err)), 0);
	ck_assert_int_eq(maildir_subscribe(root, ".Work", &added, err, sizeof(err)), 0);
	ck_assert(!added);
	ck_assert_int_eq(maildir_unsubscribe(root, ".Work", err, sizeof(err)), 0);
	text = ut_read_file(subs_path(root, path, sizeof(path)), NULL);
	ck_assert_str_eq(text, "V\t2\n\nWork\tSub\n");
	free(text);
	/* not listed: nothing to do */
	ck_assert_int_eq(maildir_unsubscribe(root, ".Other", err, sizeof(err)), 0);
	/* a folder that is there (made again by another delivery) keeps its
	 * line */
	ut_pathf(path, sizeof(path), "%s/.Work.Sub", root);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(maildir_unsubscribe(root, ".Work.Sub", err, sizeof(err)), 0);
	text = ut_read_file(subs_path(root, path, sizeof(path)), NULL);
	ck_assert_str_eq(text, "V\t2\n\nWork\tSub\n");
	free(text);
	ut_pathf(path, sizeof(path), "%s/.Work.Sub", root);
	ck_assert_int_eq(rmdir(path), 0);
	subs_path(root, path, sizeof(path));
	ck_assert_int_eq(maildir_unsubscribe(root, ".Work.Sub", err, sizeof(err)), 0);
	text = ut_read_file(path, NULL);
	ck_assert_str_eq(text, "V\t2\n\n");
	free(text);

	/* the old format, a last line without LF, the name listed twice */
	ut_write_text(path, "Old\nOld.Sub\nOlder\nOld.Sub");
	ck_assert_int_eq(maildir_unsubscribe(root, ".Old.Sub", err, sizeof(err)), 0);
	text = ut_read_file(path, NULL);
	ck_assert_str_eq(text, "Old\nOlder\n");
	free(text);
	ut_pathf(path, sizeof(path), "%s/subscriptions.lock", root);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(maildir_unsubscribe(root, "Old", err, sizeof(err)), -1);
}
END_TEST

START_TEST(subscribe_lock_busy_and_stale)
{
	const char *root = ut_testdir();
	char path[PATH_MAX], lock[PATH_MAX], err[256], *text;
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };

	ut_pathf(lock, sizeof(lock), "%s/subscriptions.lock", root);
	/* Someone else's fresh lock: we give up (after ~2s), and leave it. */
	ut_write_text(lock, "theirs");
	ck_assert_int_eq(maildir_subscribe(root, ".Work", NULL, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "lock") != NULL, "%s", err);
	text = ut_read_file(lock, NULL);
	ck_assert_str_eq(text, "theirs");
	free(text);
	/* A stale one is taken over. */
	ck_assert_int_eq(utimensat(AT_FDCWD, lock, old, 0), 0);
	ck_assert_int_eq(maildir_subscribe(root, ".Work", NULL, err, sizeof(err)), 0);
	text = ut_read_file(subs_path(root, path, sizeof(path)), NULL);
	ck_assert_str_eq(text, "V\t2\n\nWork\n");
	free(text);
}
END_TEST

START_TEST(folder_exists)
{
	const char *root = ut_testdir();
	char path[PATH_MAX];

	ck_assert(!maildir_folder_exists(root, ".Work"));
	ut_pathf(path, sizeof(path), "%s/.Work", root);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert(maildir_folder_exists(root, ".Work"));
	/* A symlink is not a folder. */
	ut_pathf(path, sizeof(path), "%s/.Link", root);
	ck_assert_int_eq(symlink("/tmp", path), 0);
	ck_assert(!maildir_folder_exists(root, ".Link"));
	ck_assert(!maildir_folder_exists(root, "../x"));
	ck_assert(!maildir_folder_exists("/nonexistent/x", ".Work"));
	ck_assert_int_eq(maildir_folder_state(root, ".Work"), 1);
	ck_assert_int_eq(maildir_folder_state(root, ".None"), 0);
	ck_assert_int_eq(maildir_folder_state(root, ".Link"), -1);
	ck_assert_int_eq(maildir_folder_state(root, "../x"), -1);
	ck_assert_int_eq(maildir_folder_state("/nonexistent/x", ".Work"), 0);
}
END_TEST

static Suite *
maildir_name_suite(void)
{
	Suite *s = suite_create("maildir_name");
	TCase *tc;

	tc = ut_tcase(s, "names", false);
	tcase_add_loop_test(tc, name_table, 0, N_ELEMENTS(name_cases));
	tcase_add_test(tc, name_limits);
	tcase_add_test(tc, name_from_disk);
	tc = ut_tcase(s, "mutf7", false);
	tcase_add_test(tc, mutf7_round_trip);
	tcase_add_test(tc, mutf7_decode_rejects);
	tc = ut_tcase(s, "flags", false);
	tcase_add_test(tc, flags_map);
	tc = ut_tcase(s, "subscriptions", true);
	tcase_add_test(tc, subscribe_new_file);
	tcase_add_test(tc, subscribe_old_format);
	tcase_add_test(tc, unsubscribe_both_formats);
	tcase_add_test(tc, subscribe_lock_busy_and_stale);
	tcase_add_test(tc, folder_exists);
	return s;
}

int
main(void)
{
	return ut_run(maildir_name_suite);
}
