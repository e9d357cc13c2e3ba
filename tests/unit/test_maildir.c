/* Unit tests for maildir/maildir: real folders in a temporary directory.
 * Disk-full cases need a small tmpfs and live in test_diskfull.c. */
#include "config.h"

#include <regex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "check_compat.h"

#include "buf.h"
#include "dsn.h"
#include "lmtpd_limits.h"
#include "maildir.h"
#include "maildir_file.h"
#include "maildir_keywords.h"

#define HOST "mx.example.org"

/* Fault injection for the keyword writer, which calls fsync(): this
 * definition takes the place of libc's in this program. */
static bool fsync_skip;			/* durability is not under test */
static int fsync_fail_dirs;		/* directory fsyncs still to fail */
static const char *fsync_swap_from;	/* renamed over fsync_swap_to at the */
static const char *fsync_swap_to;	/* next fsync of a file */

int
fsync(int fd)
{
	struct stat st;

	if (fsync_skip)
		return 0;
	if (fstat(fd, &st) == 0) {
		if (S_ISDIR(st.st_mode) && fsync_fail_dirs > 0) {
			fsync_fail_dirs--;
			errno = EIO;
			return -1;
		}
		if (S_ISREG(st.st_mode) && fsync_swap_from != NULL) {
			ck_assert_int_eq(rename(fsync_swap_from, fsync_swap_to), 0);
			fsync_swap_from = NULL;
		}
	}
	return (int)syscall(SYS_fsync, fd);
}

static int
deliver(const char *root, const char *folder, const char *flags,
	const char *host, const struct iovec *iov, int iovcnt, char *name_r,
	size_t name_size, struct dsn *dsn)
{
	struct maildir_target t = { .root = root, .folder = folder, .flags = flags,
				    .hostname = host };

	return maildir_deliver(&t, iov, iovcnt, name_r, name_size, dsn);
}

static void
assert_dir_mode(const char *path, mode_t mode)
{
	struct stat st;

	ck_assert_msg(lstat(path, &st) == 0, "%s: %s", path, strerror(errno));
	ck_assert_msg(S_ISDIR(st.st_mode), "%s is not a directory", path);
	ck_assert_msg((st.st_mode & 07777) == mode, "%s has mode %o, want %o", path,
		      (unsigned int)(st.st_mode & 07777), (unsigned int)mode);
}

static int
count(const char *root, const char *sub)
{
	char path[PATH_MAX];

	ut_pathf(path, sizeof(path), "%s/%s", root, sub);
	return ut_dir_count(path, NULL, 0);
}

/* The fields of "SECS.MusecPpidQn.HOST,S=size,W=vsize[:2,FLAGS]". */
struct name_parts {
	long long secs;
	long usec, pid;
	unsigned long q;
	char host[128];
	size_t s, w;
	char info[128];		/* ":2,FS" or "" */
};

static void
parse_name(const char *name, struct name_parts *n)
{
	regex_t re;
	regmatch_t m[9];
	char field[128];

	ck_assert_int_eq(regcomp(&re, "^([0-9]+)\\.M([0-9]{6})P([0-9]+)Q([0-9]+)\\."
				 "([^,:/]+),S=([0-9]+),W=([0-9]+)(:2,[A-Z]*)?$",
				 REG_EXTENDED), 0);
	ck_assert_msg(regexec(&re, name, 9, m, 0) == 0, "bad file name '%s'", name);
	regfree(&re);
#define FIELD(i) (snprintf(field, sizeof(field), "%.*s", \
			   (int)(m[i].rm_eo - m[i].rm_so), name + m[i].rm_so), field)
	n->secs = atoll(FIELD(1));
	n->usec = atol(FIELD(2));
	n->pid = atol(FIELD(3));
	n->q = strtoul(FIELD(4), NULL, 10);
	ut_pathf(n->host, sizeof(n->host), "%s", FIELD(5));
	n->s = (size_t)atoll(FIELD(6));
	n->w = (size_t)atoll(FIELD(7));
	if (m[8].rm_so >= 0)
		snprintf(n->info, sizeof(n->info), "%s", FIELD(8));
	else
		n->info[0] = '\0';
#undef FIELD
}

START_TEST(maildir_creates_folders)
{
	char root[PATH_MAX], path[PATH_MAX], name[MAILDIR_NAME_MAX];
	const char *dir = ut_testdir();
	struct iovec iov = { (void *)"Subject: x\n\nbody\n", 17 };
	struct dsn dsn;

	umask(022);
	ut_pathf(root, sizeof(root), "%s/home/alice/Maildir", dir);
	ck_assert_int_eq(deliver(root, NULL, NULL, HOST, &iov, 1, name,
				 sizeof(name), &dsn), 0);
	ck_assert_int_eq(dsn.reason, DSN_DELIVERED);
	assert_dir_mode(root, 0700);
	ut_pathf(path, sizeof(path), "%s/home/alice", dir);
	assert_dir_mode(path, 0700);
	ut_pathf(path, sizeof(path), "%s/home", dir);
	assert_dir_mode(path, 0700);
	for (int i = 0; i < 3; i++) {
		static const char *const sub[] = { "tmp", "new", "cur" };

		ut_pathf(path, sizeof(path), "%s/%s", root, sub[i]);
		assert_dir_mode(path, 0700);
	}
	ck_assert_int_eq(count(root, "new"), 1);
	ck_assert_int_eq(count(root, "cur"), 0);
	ck_assert_int_eq(count(root, "tmp"), 0);
	/* An INBOX is no Maildir++ folder. */
	ut_pathf(path, sizeof(path), "%s/maildirfolder", root);
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

/* folder_created says which delivery made the folder: the one that
 * found nothing there, and none after it, nor one that only had to add
 * a missing tmp/. */
START_TEST(maildir_reports_folder_created)
{
	char root[PATH_MAX], path[PATH_MAX];
	struct iovec iov = { (void *)"x\n", 2 };
	struct dsn dsn;
	bool created = false;
	struct maildir_target t = { .folder = ".New", .hostname = HOST,
				    .folder_created = &created };

	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	t.root = root;
	ck_assert_int_eq(maildir_deliver(&t, &iov, 1, NULL, 0, &dsn), 0);
	ck_assert(created);
	created = false;
	ck_assert_int_eq(maildir_deliver(&t, &iov, 1, NULL, 0, &dsn), 0);
	ck_assert(!created);
	ut_pathf(path, sizeof(path), "%s/.New/tmp", root);
	ck_assert_int_eq(rmdir(path), 0);
	ck_assert_int_eq(maildir_deliver(&t, &iov, 1, NULL, 0, &dsn), 0);
	ck_assert(!created);
	ut_pathf(path, sizeof(path), "%s/.New", root);
	ck_assert_int_eq(count(path, "new"), 3);
}
END_TEST

START_TEST(maildir_existing_folder_kept)
{
	char root[PATH_MAX], path[PATH_MAX];
	struct iovec iov = { (void *)"x\n", 2 };
	struct dsn dsn;

	/* An existing Maildir keeps its modes (the admin's choice). */
	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	ck_assert_int_eq(mkdir(root, 0750), 0);
	for (int i = 0; i < 3; i++) {
		static const char *const sub[] = { "tmp", "new", "cur" };

		ut_pathf(path, sizeof(path), "%s/%s", root, sub[i]);
		ck_assert_int_eq(mkdir(path, 0750), 0);
		ck_assert_int_eq(chmod(path, 0750), 0);
	}
	ck_assert_int_eq(chmod(root, 0750), 0);
	ck_assert_int_eq(deliver(root, NULL, NULL, HOST, &iov, 1, NULL, 0, &dsn), 0);
	assert_dir_mode(root, 0750);
	ut_pathf(path, sizeof(path), "%s/new", root);
	assert_dir_mode(path, 0750);
	ck_assert_int_eq(count(root, "new"), 1);
}
END_TEST

START_TEST(maildir_content_exact)
{
	char root[PATH_MAX], path[PATH_MAX], name[MAILDIR_NAME_MAX], only[256];
	static const char part1[] = "Return-Path: <a@b.example>\n";
	static const char part3[] = "Subject: bin\n\nNUL\0 and bare CR\r here\n";
	struct iovec iov[4] = {
		{ (void *)part1, sizeof(part1) - 1 },
		{ (void *)"", 0 },
		{ (void *)"Delivered-To: c@d.example\n", 26 },
		{ (void *)part3, sizeof(part3) - 1 },
	};
	struct iovec copy[4];
	size_t len, total = sizeof(part1) - 1 + 26 + sizeof(part3) - 1;
	struct dsn dsn;
	char *data;

	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	memcpy(copy, iov, sizeof(iov));
	ck_assert_int_eq(deliver(root, NULL, NULL, HOST, iov, 4, name, sizeof(name),
				 &dsn), 0);
	/* iov is not modified. */
	ck_assert_int_eq(memcmp(copy, iov, sizeof(iov)), 0);
	/* The name returned is the one file in new/. */
	ut_pathf(path, sizeof(path), "%s/new", root);
	ck_assert_int_eq(ut_dir_count(path, only, sizeof(only)), 1);
	ck_assert_str_eq(only, name);
	ut_pathf(path, sizeof(path), "%s/new/%s", root, name);
	data = ut_read_file(path, &len);
	ck_assert_uint_eq(len, total);
	ck_assert_int_eq(memcmp(data, part1, sizeof(part1) - 1), 0);
	ck_assert_int_eq(memcmp(data + sizeof(part1) - 1, "Delivered-To: c@d.example\n",
				26), 0);
	ck_assert_int_eq(memcmp(data + sizeof(part1) - 1 + 26, part3,
				sizeof(part3) - 1), 0);
	free(data);
	ck_assert_int_eq(count(root, "tmp"), 0);
	ck_assert_int_eq(count(root, "cur"), 0);
}
END_TEST

/* Stored size S (bytes, LF line ends) and RFC 822 size W (CRLF). */
static const struct {
	const char *data;
	size_t len, s, w;
} size_cases[] = {
	{ UT_S(""), 0, 0 },
	{ UT_S("x"), 1, 1 },
	{ UT_S("\n"), 1, 2 },
	{ UT_S("Subject: a\n\nbody\n"), 17, 20 },
	{ UT_S("\n\n\n\n"), 4, 8 },
	{ UT_S("no final newline\nx"), 18, 19 },
	/* A CR before the LF: Dovecot adds nothing for that line end. */
	{ UT_S("line one\r\nline two\n"), 19, 20 },
	{ UT_S("\r\n\r\n"), 4, 4 },
	{ UT_S("\r\r\n\n\r"), 5, 6 },
};

START_TEST(maildir_name_format)
{
	char root[PATH_MAX], name[MAILDIR_NAME_MAX];
	struct iovec iov = { (void *)size_cases[_i].data, size_cases[_i].len };
	struct name_parts n;
	struct timeval before, after;
	struct dsn dsn;

	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	gettimeofday(&before, NULL);
	ck_assert_int_eq(deliver(root, NULL, NULL, HOST, &iov, 1, name, sizeof(name),
				 &dsn), 0);
	gettimeofday(&after, NULL);
	parse_name(name, &n);
	ck_assert_int_ge(n.secs, (long long)before.tv_sec);
	ck_assert_int_le(n.secs, (long long)after.tv_sec);
	ck_assert_int_lt(n.usec, 1000000);
	ck_assert_int_eq(n.pid, (long)getpid());
	ck_assert_str_eq(n.host, HOST);
	ck_assert_uint_eq(n.s, size_cases[_i].s);
	ck_assert_uint_eq(n.w, size_cases[_i].w);
	ck_assert_str_eq(n.info, "");
}
END_TEST

/* The CR of a CRLF line end may end one iovec and its LF start the next. */
START_TEST(maildir_vsize_cr_across_iovecs)
{
	char root[PATH_MAX], name[MAILDIR_NAME_MAX];
	struct iovec iov[4] = {
		{ (void *)"Subject: a\r", 11 },
		{ (void *)"", 0 },
		{ (void *)"\nbody\n", 6 },
		{ (void *)"\nend\r", 5 },
	};
	struct name_parts n;
	struct dsn dsn;

	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	ck_assert_int_eq(deliver(root, NULL, NULL, HOST, iov, 4, name, sizeof(name),
				 &dsn), 0);
	parse_name(name, &n);
	ck_assert_uint_eq(n.s, 22);
	ck_assert_uint_eq(n.w, 24);
}
END_TEST

START_TEST(maildir_unique_names)
{
	char root[PATH_MAX], path[PATH_MAX], names[20][MAILDIR_NAME_MAX];
	struct dsn dsn;
	unsigned long last_q = 0;

	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	for (int i = 0; i < 20; i++) {
		char body[32];
		struct iovec iov = { body, 0 };
		struct name_parts n;
		char *data;
		size_t len;

		iov.iov_len = (size_t)snprintf(body, sizeof(body), "message %d\n", i);
		ck_assert_int_eq(deliver(root, NULL, NULL, HOST, &iov, 1, names[i],
					 sizeof(names[i]), &dsn), 0);
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(names[i], names[j]);
		parse_name(names[i], &n);
		ck_assert_uint_gt(n.q, last_q);	/* the counter moves on */
		last_q = n.q;
		ut_pathf(path, sizeof(path), "%s/new/%s", root, names[i]);
		data = ut_read_file(path, &len);
		ck_assert_uint_eq(len, iov.iov_len);
		ck_assert_int_eq(memcmp(data, body, len), 0);
		free(data);
	}
	ck_assert_int_eq(count(root, "new"), 20);
	ck_assert_int_eq(count(root, "tmp"), 0);
}
END_TEST

static const struct {
	const char *flags;
	const char *dir;	/* where the file lands */
	const char *info;	/* the name's suffix */
} flag_cases[] = {
	{ NULL, "new", "" },
	{ "", "new", "" },
	{ "S", "cur", ":2,S" },
	{ "FS", "cur", ":2,FS" },
	{ "DFRST", "cur", ":2,DFRST" },
};

START_TEST(maildir_flags)
{
	char root[PATH_MAX], path[PATH_MAX], name[MAILDIR_NAME_MAX], only[256];
	struct iovec iov = { (void *)"Subject: f\n\n", 12 };
	struct name_parts n;
	struct dsn dsn;

	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	ck_assert_int_eq(deliver(root, NULL, flag_cases[_i].flags, HOST, &iov, 1,
				 name, sizeof(name), &dsn), 0);
	parse_name(name, &n);
	ck_assert_str_eq(n.info, flag_cases[_i].info);
	ck_assert_uint_eq(n.s, 12);
	ut_pathf(path, sizeof(path), "%s/%s", root, flag_cases[_i].dir);
	ck_assert_int_eq(ut_dir_count(path, only, sizeof(only)), 1);
	ck_assert_str_eq(only, name);
	ck_assert_int_eq(count(root, strcmp(flag_cases[_i].dir, "new") == 0 ? "cur"
					  : "new"), 0);
	ck_assert_int_eq(count(root, "tmp"), 0);
}
END_TEST

START_TEST(maildir_folder)
{
	char root[PATH_MAX], path[PATH_MAX], name[MAILDIR_NAME_MAX], only[256];
	struct iovec iov = { (void *)"Subject: w\n\n", 12 };
	struct stat st;
	struct dsn dsn;
	char *data;
	size_t len;

	umask(022);
	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	ck_assert_int_eq(deliver(root, ".Work", NULL, HOST, &iov, 1, name,
				 sizeof(name), &dsn), 0);
	ut_pathf(path, sizeof(path), "%s/.Work", root);
	assert_dir_mode(path, 0700);
	for (int i = 0; i < 3; i++) {
		static const char *const sub[] = { "tmp", "new", "cur" };

		ut_pathf(path, sizeof(path), "%s/.Work/%s", root, sub[i]);
		assert_dir_mode(path, 0700);
	}
	/* Maildir++ marks a folder with an empty "maildirfolder" file. */
	ut_pathf(path, sizeof(path), "%s/.Work/maildirfolder", root);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_size, 0);
	ut_pathf(path, sizeof(path), "%s/.Work/new", root);
	ck_assert_int_eq(ut_dir_count(path, only, sizeof(only)), 1);
	ck_assert_str_eq(only, name);
	ut_pathf(path, sizeof(path), "%s/.Work/new/%s", root, name);
	data = ut_read_file(path, &len);
	ck_assert_uint_eq(len, 12);
	free(data);
	/* Nothing went to INBOX. */
	ck_assert_int_le(count(root, "new"), 0);
	ck_assert_int_eq(count(root, ".Work/tmp"), 0);

	/* A sub-folder is one more flat Maildir++ directory, and flags
	 * still send the file to its cur/. */
	ck_assert_int_eq(deliver(root, ".Work.Sub", "S", HOST, &iov, 1, name,
				 sizeof(name), &dsn), 0);
	ut_pathf(path, sizeof(path), "%s/.Work.Sub/maildirfolder", root);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(count(root, ".Work.Sub/cur"), 1);
	ck_assert_int_eq(count(root, ".Work.Sub/new"), 0);
	ck_assert_int_eq(count(root, ".Work/new"), 1);
	/* Delivering to INBOX afterwards works beside the folders. */
	ck_assert_int_eq(deliver(root, NULL, NULL, HOST, &iov, 1, name,
				 sizeof(name), &dsn), 0);
	ck_assert_int_eq(count(root, "new"), 1);
}
END_TEST

static const struct {
	const char *hostname, *escaped;
} host_cases[] = {
	{ "mx.example.org", "mx.example.org" },
	{ "a/b", "a\\057b" },
	{ "a:b", "a\\072b" },
	{ "/:/", "\\057\\072\\057" },
};

START_TEST(maildir_hostname_escaped)
{
	char root[PATH_MAX], name[MAILDIR_NAME_MAX];
	struct iovec iov = { (void *)"x\n", 2 };
	struct name_parts n;
	struct dsn dsn;

	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	ck_assert_int_eq(deliver(root, NULL, NULL, host_cases[_i].hostname, &iov, 1,
				 name, sizeof(name), &dsn), 0);
	ck_assert_ptr_null(strchr(name, '/'));
	ck_assert_ptr_null(strchr(name, ':'));
	parse_name(name, &n);
	ck_assert_str_eq(n.host, host_cases[_i].escaped);
	ck_assert_int_eq(count(root, "new"), 1);
}
END_TEST

START_TEST(maildir_many_iovecs)
{
	enum { PARTS = 2500, PART = 997 };
	char root[PATH_MAX], path[PATH_MAX], name[MAILDIR_NAME_MAX];
	struct iovec *iov = calloc(PARTS, sizeof(*iov));
	char *buf = malloc((size_t)PARTS * PART), *data;
	struct name_parts n;
	struct dsn dsn;
	size_t len, lf = 0;

	ck_assert_ptr_nonnull(iov);
	ck_assert_ptr_nonnull(buf);
	/* More iovecs than IOV_MAX, a few MB: written completely, in order. */
	for (size_t i = 0; i < (size_t)PARTS * PART; i++) {
		buf[i] = i % 61 == 60 ? '\n' : (char)('A' + i % 23);
		lf += buf[i] == '\n';
	}
	for (int i = 0; i < PARTS; i++) {
		iov[i].iov_base = buf + (size_t)i * PART;
		iov[i].iov_len = PART;
	}
	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	ck_assert_int_eq(deliver(root, NULL, NULL, HOST, iov, PARTS, name,
				 sizeof(name), &dsn), 0);
	parse_name(name, &n);
	ck_assert_uint_eq(n.s, (size_t)PARTS * PART);
	ck_assert_uint_eq(n.w, (size_t)PARTS * PART + lf);
	ut_pathf(path, sizeof(path), "%s/new/%s", root, name);
	data = ut_read_file(path, &len);
	ck_assert_uint_eq(len, (size_t)PARTS * PART);
	ck_assert_int_eq(memcmp(data, buf, len), 0);
	free(data);
	free(buf);
	free(iov);
}
END_TEST

START_TEST(maildir_root_is_file)
{
	char root[PATH_MAX], name[MAILDIR_NAME_MAX] = "untouched";
	struct iovec iov = { (void *)"x\n", 2 };
	struct dsn dsn;
	char *data;
	size_t len;

	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	ut_write_text(root, "I am a file\n");
	ck_assert_int_eq(deliver(root, NULL, NULL, HOST, &iov, 1, name, sizeof(name),
				 &dsn), -1);
	ck_assert_int_eq(dsn.reason, DSN_TEMP_FAIL);
	ck_assert_msg(strstr(dsn.text, root) != NULL &&
		      strstr(dsn.text, strerror(ENOTDIR)) != NULL, "%s", dsn.text);
	ck_assert_str_eq(name, "untouched");
	data = ut_read_file(root, &len);
	ck_assert_str_eq(data, "I am a file\n");
	free(data);
	/* A folder below it fails the same way. */
	ck_assert_int_eq(deliver(root, ".Work", NULL, HOST, &iov, 1, NULL, 0, &dsn),
			 -1);
	ck_assert_int_eq(dsn.reason, DSN_TEMP_FAIL);
}
END_TEST

START_TEST(maildir_parent_is_file)
{
	char base[PATH_MAX], root[PATH_MAX];
	struct iovec iov = { (void *)"x\n", 2 };
	struct dsn dsn;

	ut_pathf(base, sizeof(base), "%s/home", ut_testdir());
	ut_write_text(base, "file");
	ut_pathf(root, sizeof(root), "%s/alice/Maildir", base);
	ck_assert_int_eq(deliver(root, NULL, NULL, HOST, &iov, 1, NULL, 0, &dsn), -1);
	ck_assert_int_eq(dsn.reason, DSN_TEMP_FAIL);
}
END_TEST

/* A symlinked tmp/ or new/ is refused: a user who controls the Maildir
 * must not make lmtpd write elsewhere. */
START_TEST(maildir_symlinked_subdir)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	const char *sub = subs[_i];
	const char *dir = ut_testdir();
	char root[PATH_MAX], path[PATH_MAX], elsewhere[PATH_MAX];
	struct iovec iov = { (void *)"x\n", 2 };
	struct dsn dsn;

	ut_pathf(root, sizeof(root), "%s/Maildir", dir);
	ut_pathf(elsewhere, sizeof(elsewhere), "%s/elsewhere", dir);
	ck_assert_int_eq(mkdir(root, 0700), 0);
	ck_assert_int_eq(mkdir(elsewhere, 0700), 0);
	for (int i = 0; i < 3; i++) {
		ut_pathf(path, sizeof(path), "%s/%s", root, subs[i]);
		if (strcmp(subs[i], sub) == 0)
			ck_assert_int_eq(symlink(elsewhere, path), 0);
		else
			ck_assert_int_eq(mkdir(path, 0700), 0);
	}
	/* new/ for no flags, cur/ with flags: each is the destination once. */
	ck_assert_int_eq(deliver(root, NULL, strcmp(sub, "cur") == 0 ? "S" : NULL,
				 HOST, &iov, 1, NULL, 0, &dsn), -1);
	ck_assert_int_eq(dsn.reason, DSN_TEMP_FAIL);
	ck_assert_int_eq(ut_dir_count(elsewhere, NULL, 0), 0);
	ck_assert_int_le(count(root, "new"), 0);
	ck_assert_int_le(count(root, "cur"), 0);
	ck_assert_int_le(count(root, "tmp"), 0);
}
END_TEST

START_TEST(maildir_path_too_long)
{
	char root[MAIL_PATH_MAX + 64];
	struct iovec iov = { (void *)"x\n", 2 };
	struct dsn dsn;
	size_t len;

	ut_pathf(root, sizeof(root), "%s/", ut_testdir());
	len = strlen(root);
	memset(root + len, 'd', sizeof(root) - len - 1);
	root[sizeof(root) - 1] = '\0';
	ck_assert_int_eq(deliver(root, NULL, NULL, HOST, &iov, 1, NULL, 0, &dsn), -1);
	ck_assert_int_eq(dsn.reason, DSN_TEMP_FAIL);
	ck_assert_ptr_nonnull(strstr(dsn.text, "too long"));
}
END_TEST

/* ---- IMAP keywords (maildir_keywords) ---- */

/* Delivers one message to INBOX of a fresh Maildir under the test's
 * folder with flags and keywords; the stored name into name_r. */
static void
deliver_kw(const char *root, const char *flags, const char *const *kw, size_t n,
	   char *name_r, size_t name_size, struct maildir_keywords_result *kr)
{
	struct iovec iov = { (char *)"Subject: kw\n\nbody\n", 18 };
	struct maildir_target t = { .root = root, .flags = flags, .hostname = HOST,
				    .keywords = kw, .keyword_count = n,
				    .keywords_result = kr };
	struct dsn dsn;

	ck_assert_msg(maildir_deliver(&t, &iov, 1, name_r, name_size, &dsn) == 0, "%s",
		      dsn.text);
}

static const char *
info_of(const char *name)
{
	const char *info = strstr(name, ":2,");

	return info != NULL ? info + 3 : "";
}

static char *
read_keywords_file(const char *root)
{
	char path[PATH_MAX];

	ut_pathf(path, sizeof(path), "%s/dovecot-keywords", root);
	return ut_read_file(path, NULL);
}

/* A fresh Maildir folder under the test's folder, its dovecot-keywords
 * holding text (NULL: none). */
static void
kw_maildir(char *root, size_t root_size, const char *text)
{
	char path[PATH_MAX];

	ut_pathf(root, root_size, "%s/Maildir", ut_testdir());
	ck_assert_int_eq(mkdir(root, 0700), 0);
	if (text != NULL) {
		ut_pathf(path, sizeof(path), "%s/dovecot-keywords", root);
		ut_write_text(path, text);
	}
}

static bool
exists_in(const char *root, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	ut_pathf(path, sizeof(path), "%s/%s", root, name);
	return lstat(path, &st) == 0;
}

START_TEST(keywords_new_file)
{
	char root[PATH_MAX], name[MAILDIR_NAME_MAX], *text;
	const char *kw[] = { "$Label1", "$Junk", "$label1" };
	struct maildir_keywords_result kr;

	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	deliver_kw(root, "S", kw, N_ELEMENTS(kw), name, sizeof(name), &kr);
	ck_assert_str_eq(info_of(name), "Sab");
	ck_assert_int_eq(kr.dropped, 0);
	text = read_keywords_file(root);
	ck_assert_str_eq(text, "0 $Label1\n1 $Junk\n");
	free(text);
	ck_assert_int_eq(count(root, "cur"), 1);
	ck_assert(!exists_in(root, "dovecot-uidlist.lock"));
	ck_assert(!exists_in(root, "dovecot-keywords.lock"));
}
END_TEST

/* Keywords only (no system flag) still go to cur/ with ":2,". */
START_TEST(keywords_without_flags)
{
	char root[PATH_MAX], name[MAILDIR_NAME_MAX];
	const char *kw[] = { "NonJunk" };
	struct maildir_keywords_result kr;

	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	deliver_kw(root, NULL, kw, 1, name, sizeof(name), &kr);
	ck_assert_str_eq(info_of(name), "a");
	ck_assert_int_eq(count(root, "cur"), 1);
	ck_assert_int_eq(count(root, "new"), 0);
}
END_TEST

/* Letters Dovecot assigned are reused (case-insensitively); a new keyword
 * takes the lowest free letter, the file keeps every line, and its mtime
 * grows past the old one (Dovecot re-reads the file only then). */
START_TEST(keywords_existing_file)
{
	char root[PATH_MAX], path[PATH_MAX], name[MAILDIR_NAME_MAX], *text;
	const char *kw[] = { "$LABEL1", "Work" };
	struct maildir_keywords_result kr;
	struct timespec future[2] = { { 0, UTIME_OMIT }, { time(NULL) + 1000, 0 } };
	struct stat st;

	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	ck_assert_int_eq(mkdir(root, 0700), 0);
	ut_pathf(path, sizeof(path), "%s/dovecot-keywords", root);
	ut_write_text(path, "0 Foo\ngarbage line\n3 $label1\n99 out of range\n");
	ck_assert_int_eq(utimensat(AT_FDCWD, path, future, 0), 0);
	deliver_kw(root, "F", kw, N_ELEMENTS(kw), name, sizeof(name), &kr);
	ck_assert_str_eq(info_of(name), "Fbd");
	ck_assert_int_eq(kr.dropped, 0);
	text = read_keywords_file(root);
	ck_assert_str_eq(text, "0 Foo\n1 Work\n3 $label1\n");
	free(text);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_gt(st.st_mtime, future[1].tv_sec);
}
END_TEST

/* Known keywords need no lock and no write. */
START_TEST(keywords_known_no_write)
{
	char root[PATH_MAX], path[PATH_MAX], name[MAILDIR_NAME_MAX], lock[PATH_MAX];
	const char *kw[] = { "Foo" };
	struct maildir_keywords_result kr;
	struct stat before, after;

	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	ck_assert_int_eq(mkdir(root, 0700), 0);
	ut_pathf(path, sizeof(path), "%s/dovecot-keywords", root);
	ut_write_text(path, "2 foo\n");
	/* A fresh lock of a process on another host counts as live: a
	 * writer would wait for it, then drop the keyword with a reason. */
	ut_pathf(lock, sizeof(lock), "%s/dovecot-uidlist.lock", root);
	ut_write_text(lock, "1:elsewhere");
	ck_assert_int_eq(stat(path, &before), 0);
	deliver_kw(root, NULL, kw, 1, name, sizeof(name), &kr);
	ck_assert_str_eq(info_of(name), "c");
	ck_assert_int_eq(kr.dropped, 0);
	ck_assert_str_eq(kr.why, "");
	ck_assert_int_eq(stat(path, &after), 0);
	ck_assert_int_eq(before.st_ino, after.st_ino);
	ck_assert(exists_in(root, "dovecot-uidlist.lock"));
}
END_TEST

/* All 26 letters named: a new keyword is dropped (and said), the known
 * ones are stored, the message delivered. */
START_TEST(keywords_full)
{
	char root[PATH_MAX], path[PATH_MAX], name[MAILDIR_NAME_MAX], text[1024];
	const char *kw[] = { "k25", "new", "k0" };
	struct maildir_keywords_result kr;
	size_t o = 0;

	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	ck_assert_int_eq(mkdir(root, 0700), 0);
	for (int i = 0; i < 26; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%d k%d\n", i, i);
	ut_pathf(path, sizeof(path), "%s/dovecot-keywords", root);
	ut_write_text(path, text);
	deliver_kw(root, NULL, kw, N_ELEMENTS(kw), name, sizeof(name), &kr);
	ck_assert_str_eq(info_of(name), "az");
	ck_assert_int_eq(kr.dropped, 1);
	ck_assert_ptr_nonnull(strstr(kr.why, "26"));
	ck_assert(!exists_in(root, "dovecot-uidlist.lock"));
}
END_TEST

/* What is not an IMAP atom never reaches the file (a space or newline
 * would forge lines of it). */
static const char *const bad_keywords[] = {
	"two words", "line\n5 forged", "paren(", "quote\"", "back\\slash", "star*",
	"", "caf\xc3\xa9", "\\Seen",
};

START_TEST(keywords_bad_dropped)
{
	char root[PATH_MAX], name[MAILDIR_NAME_MAX], *text;
	const char *kw[] = { bad_keywords[_i], "Good" };
	struct maildir_keywords_result kr;

	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	deliver_kw(root, NULL, kw, 2, name, sizeof(name), &kr);
	ck_assert_str_eq(info_of(name), "a");
	ck_assert_int_eq(kr.dropped, 1);
	text = read_keywords_file(root);
	ck_assert_str_eq(text, "0 Good\n");
	free(text);
}
END_TEST

/* The pid of a process that has exited (and been waited for). */
static pid_t
dead_pid(void)
{
	pid_t dead = fork();

	ck_assert_int_ge(dead, 0);
	if (dead == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(dead, NULL, 0), dead);
	return dead;
}

/* A live holder of Dovecot's lock (this process, on this host) is waited
 * for a while, then the message goes in without the new keyword and the
 * lock is left alone.  So is a lock naming a pid that only fits a long:
 * cast to pid_t it would name another (here: dead) process. */
START_TEST(keywords_lock_held)
{
	char root[PATH_MAX], lock[PATH_MAX], name[MAILDIR_NAME_MAX], host[256], text[300];
	char *after;
	const char *kw[] = { "New" };
	struct maildir_keywords_result kr;

	kw_maildir(root, sizeof(root), NULL);
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	if (_i == 0)
		snprintf(text, sizeof(text), "%ld:%s", (long)getpid(), host);
	else
		snprintf(text, sizeof(text), "%lld:%s", 4294967296LL + dead_pid(), host);
	ut_pathf(lock, sizeof(lock), "%s/dovecot-uidlist.lock", root);
	ut_write_text(lock, text);
	deliver_kw(root, "S", kw, 1, name, sizeof(name), &kr);
	ck_assert_str_eq(info_of(name), "S");
	ck_assert_int_eq(kr.dropped, 1);
	ck_assert_ptr_nonnull(strstr(kr.why, "held by another process"));
	after = ut_read_file(lock, NULL);
	ck_assert_str_eq(after, text);
	free(after);
	ck_assert(!exists_in(root, "dovecot-keywords"));
}
END_TEST

/* Locks left behind are taken over: a dead process's on this host at
 * once, anyone's after Dovecot's stale timeout. */
START_TEST(keywords_stale_lock)
{
	char root[PATH_MAX], lock[PATH_MAX], name[MAILDIR_NAME_MAX], host[256], text[300];
	const char *kw[] = { "New" };
	struct maildir_keywords_result kr;
	pid_t dead = dead_pid();

	kw_maildir(root, sizeof(root), NULL);
	ut_pathf(lock, sizeof(lock), "%s/dovecot-uidlist.lock", root);
	if (_i != 1) {
		/* Dovecot writes no newline after the host; others may. */
		ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
		snprintf(text, sizeof(text), "%ld:%s%s", (long)dead, host, _i == 2 ? "\n" : "");
		ut_write_text(lock, text);
	} else {
		struct timespec old[2] = { { 0, UTIME_OMIT }, { time(NULL) - 1000, 0 } };

		ut_write_text(lock, "1:some.other.host");
		ck_assert_int_eq(utimensat(AT_FDCWD, lock, old, 0), 0);
	}
	deliver_kw(root, NULL, kw, 1, name, sizeof(name), &kr);
	ck_assert_str_eq(info_of(name), "a");
	ck_assert_int_eq(kr.dropped, 0);
	ck_assert(!exists_in(root, "dovecot-uidlist.lock"));
}
END_TEST

/* A dovecot-keywords that is a symlink is not followed: the keyword is
 * dropped, the message delivered, the target untouched. */
START_TEST(keywords_symlinked_file)
{
	char root[PATH_MAX], path[PATH_MAX], target[PATH_MAX], name[MAILDIR_NAME_MAX];
	char *text;
	const char *kw[] = { "New" };
	struct maildir_keywords_result kr;

	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	ck_assert_int_eq(mkdir(root, 0700), 0);
	ut_pathf(target, sizeof(target), "%s/elsewhere", root);
	ut_write_text(target, "0 Old\n");
	ut_pathf(path, sizeof(path), "%s/dovecot-keywords", root);
	ck_assert_int_eq(symlink(target, path), 0);
	deliver_kw(root, NULL, kw, 1, name, sizeof(name), &kr);
	ck_assert_str_eq(info_of(name), "");
	ck_assert_int_eq(kr.dropped, 1);
	text = ut_read_file(target, NULL);
	ck_assert_str_eq(text, "0 Old\n");
	free(text);
}
END_TEST

/* The file of a folder is the folder's own. */
START_TEST(keywords_per_folder)
{
	char root[PATH_MAX], path[PATH_MAX], name[MAILDIR_NAME_MAX], *text;
	const char *kw[] = { "InFolder" };
	struct iovec iov = { (char *)"Subject: kw\n\nbody\n", 18 };
	struct maildir_keywords_result kr;
	struct maildir_target t = { .folder = ".Work", .hostname = HOST,
				    .keywords = kw, .keyword_count = 1,
				    .keywords_result = &kr };
	struct dsn dsn;

	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	t.root = root;
	ck_assert_msg(maildir_deliver(&t, &iov, 1, name, sizeof(name), &dsn) == 0, "%s",
		      dsn.text);
	ck_assert_str_eq(info_of(name), "a");
	ut_pathf(path, sizeof(path), "%s/.Work", root);
	text = read_keywords_file(path);
	ck_assert_str_eq(text, "0 InFolder\n");
	free(text);
	ck_assert(!exists_in(root, "dovecot-keywords"));
}
END_TEST

/* A FIFO in place of the file or of the lock is refused at once, never
 * opened blocking (the alarm fails a regression instead of hanging). */
START_TEST(keywords_fifo)
{
	static const char *const names[] = { "dovecot-keywords", "dovecot-uidlist.lock" };
	char root[PATH_MAX], path[PATH_MAX], name[MAILDIR_NAME_MAX];
	const char *kw[] = { "New" };
	struct maildir_keywords_result kr;

	kw_maildir(root, sizeof(root), NULL);
	ut_pathf(path, sizeof(path), "%s/%s", root, names[_i]);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	alarm(10);
	deliver_kw(root, "S", kw, 1, name, sizeof(name), &kr);
	alarm(0);
	ck_assert_str_eq(info_of(name), "S");
	ck_assert_int_eq(kr.dropped, 1);
	ck_assert_msg(strstr(kr.why, strerror(EINVAL)) != NULL, "%s", kr.why);
	ck_assert_int_eq(count(root, "cur"), 1);
}
END_TEST

/* A keyword longer than lmtpd accepts, which Dovecot wrote, survives a
 * rewrite, and a new keyword still gets its letter. */
START_TEST(keywords_long_line_kept)
{
	char root[PATH_MAX], path[PATH_MAX], name[MAILDIR_NAME_MAX], line[400], want[400];
	char *text;
	const char *kw[] = { "New" };
	struct maildir_keywords_result kr;

	kw_maildir(root, sizeof(root), NULL);
	memcpy(line, "0 ", 2);
	memset(line + 2, 'x', 300);
	memcpy(line + 302, "\n", 2);
	ut_pathf(path, sizeof(path), "%s/dovecot-keywords", root);
	ut_write_text(path, line);
	deliver_kw(root, NULL, kw, 1, name, sizeof(name), &kr);
	ck_assert_msg(kr.dropped == 0, "%s", kr.why);
	ck_assert_str_eq(info_of(name), "b");
	snprintf(want, sizeof(want), "%s1 New\n", line);
	text = read_keywords_file(root);
	ck_assert_str_eq(text, want);
	free(text);
}
END_TEST

/* Dovecot's parsing: an index is digits only ("+2" and "-0" are not
 * indexes), and a later line naming an already named keyword is
 * skipped. */
START_TEST(keywords_parse_strict)
{
	char root[PATH_MAX], name[MAILDIR_NAME_MAX], *text;
	const char *kw[] = { "Plus", "FOO" };
	struct maildir_keywords_result kr;

	kw_maildir(root, sizeof(root), "0 Foo\n1 foo\n+2 Plus\n-0 Minus\n 3 Space\n");
	deliver_kw(root, NULL, kw, N_ELEMENTS(kw), name, sizeof(name), &kr);
	ck_assert_int_eq(kr.dropped, 0);
	ck_assert_str_eq(info_of(name), "ab");
	text = read_keywords_file(root);
	ck_assert_str_eq(text, "0 Foo\n1 Plus\n");
	free(text);
}
END_TEST

/* The file and the lock get the folder's permission bits for files and
 * its group, whatever lmtpd's umask, as Dovecot creates them. */
START_TEST(keywords_file_mode)
{
	char root[PATH_MAX], path[PATH_MAX], name[MAILDIR_NAME_MAX];
	const char *kw[] = { "New" };
	struct maildir_keywords_result kr;
	struct stat st;
	gid_t gid = geteuid() == 0 ? 4242 : getegid();

	kw_maildir(root, sizeof(root), NULL);
	ck_assert_int_eq(chmod(root, 02750), 0);
	ck_assert_int_eq(chown(root, (uid_t)-1, gid), 0);
	umask(077);
	deliver_kw(root, NULL, kw, 1, name, sizeof(name), &kr);
	umask(022);
	ck_assert_str_eq(info_of(name), "a");
	ut_pathf(path, sizeof(path), "%s/dovecot-keywords", root);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	ck_assert_uint_eq(st.st_gid, gid);
}
END_TEST

/* A write that fails (dovecot-keywords.lock can not be created) leaves
 * the file as it was and the new keyword off; the message goes in. */
START_TEST(keywords_write_fails)
{
	char root[PATH_MAX], path[PATH_MAX], name[MAILDIR_NAME_MAX], *text;
	const char *kw[] = { "Old", "New" };
	struct maildir_keywords_result kr;

	kw_maildir(root, sizeof(root), "0 Old\n");
	ut_pathf(path, sizeof(path), "%s/dovecot-keywords.lock", root);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	deliver_kw(root, "S", kw, N_ELEMENTS(kw), name, sizeof(name), &kr);
	ck_assert_str_eq(info_of(name), "Sa");
	ck_assert_int_eq(kr.dropped, 1);
	ck_assert_msg(strstr(kr.why, "writing") != NULL, "%s", kr.why);
	text = read_keywords_file(root);
	ck_assert_str_eq(text, "0 Old\n");
	free(text);
	ck_assert_int_eq(count(root, "cur"), 1);
	ck_assert(!exists_in(root, "dovecot-uidlist.lock"));
}
END_TEST

/* Renamed into place but the folder's fsync failed: a crash could lose
 * the new line while the message kept the letter, so the letter is not
 * used. */
START_TEST(keywords_dir_fsync_fails)
{
	char root[PATH_MAX], letters[MAILDIR_KEYWORDS_MAX + 1];
	const char *kw[] = { "Old", "New" };
	struct maildir_keywords_result kr;
	int fd;

	kw_maildir(root, sizeof(root), "0 Old\n");
	fd = open(root, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	fsync_fail_dirs = 1;
	maildir_keywords_letters(fd, kw, N_ELEMENTS(kw), letters, sizeof(letters), &kr);
	ck_assert_int_eq(fsync_fail_dirs, 0);
	ck_assert_str_eq(letters, "a");
	ck_assert_int_eq(kr.dropped, 1);
	ck_assert_msg(strstr(kr.why, strerror(EIO)) != NULL, "%s", kr.why);
	close(fd);
}
END_TEST

/* Someone took the uidlist lock over while we wrote (as Dovecot does
 * after 120 s): the new letter is not used, and their lock is not
 * removed; the failed release is reported. */
START_TEST(keywords_lock_taken_over)
{
	char root[PATH_MAX], lock[PATH_MAX], other[PATH_MAX], letters[MAILDIR_KEYWORDS_MAX + 1];
	char *text;
	const char *kw[] = { "New" };
	struct maildir_keywords_result kr;
	int fd;

	kw_maildir(root, sizeof(root), NULL);
	ut_pathf(lock, sizeof(lock), "%s/dovecot-uidlist.lock", root);
	ut_pathf(other, sizeof(other), "%s/other", root);
	ut_write_text(other, "1:elsewhere");
	fd = open(root, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	fsync_swap_from = other;
	fsync_swap_to = lock;
	maildir_keywords_letters(fd, kw, 1, letters, sizeof(letters), &kr);
	ck_assert_ptr_null(fsync_swap_from);
	ck_assert_str_eq(letters, "");
	ck_assert_int_eq(kr.dropped, 1);
	ck_assert_msg(strstr(kr.why, strerror(ESTALE)) != NULL, "%s", kr.why);
	ck_assert_msg(strstr(kr.warning, "dovecot-uidlist.lock") != NULL, "%s", kr.warning);
	text = ut_read_file(lock, NULL);
	ck_assert_str_eq(text, "1:elsewhere");
	free(text);
	ck_assert(!exists_in(root, "dovecot-keywords"));
	close(fd);
}
END_TEST

/* The re-read under the lock fails (Dovecot, holding the lock, left a
 * FIFO in place of the file): every wanted keyword is dropped and
 * counted, known ones too. */
START_TEST(keywords_reread_fails)
{
	char root[PATH_MAX], path[PATH_MAX], lock[PATH_MAX], fifo[PATH_MAX];
	char name[MAILDIR_NAME_MAX], host[256], text[300];
	const char *kw[] = { "Known", "New" };
	struct maildir_keywords_result kr;
	int status;
	pid_t holder;

	kw_maildir(root, sizeof(root), "0 Known\n");
	ut_pathf(path, sizeof(path), "%s/dovecot-keywords", root);
	ut_pathf(fifo, sizeof(fifo), "%s/fifo", root);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ut_pathf(lock, sizeof(lock), "%s/dovecot-uidlist.lock", root);
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	holder = fork();
	ck_assert_int_ge(holder, 0);
	if (holder == 0) {
		struct timespec ts = { 0, 300 * 1000 * 1000 };

		/* Well within the 2 s a delivery waits. */
		nanosleep(&ts, NULL);
		_exit(rename(fifo, path) == 0 && unlink(lock) == 0 ? 0 : 1);
	}
	snprintf(text, sizeof(text), "%ld:%s", (long)holder, host);
	ut_write_text(lock, text);
	alarm(10);
	deliver_kw(root, NULL, kw, N_ELEMENTS(kw), name, sizeof(name), &kr);
	alarm(0);
	ck_assert_int_eq(waitpid(holder, &status, 0), holder);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_str_eq(info_of(name), "");
	ck_assert_int_eq(kr.dropped, 2);
	ck_assert_msg(strstr(kr.why, "reading") != NULL, "%s", kr.why);
}
END_TEST

#define RACE_ROUNDS 50
#define RACE_WRITERS 8

/* Letters a..z of the file's lines into names[] (NULL: unnamed). */
static void
parse_keywords_file(char *text, char *names[MAILDIR_KEYWORDS_MAX])
{
	for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		names[i] = NULL;
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		char *sp = strchr(line, ' ');
		int idx = atoi(line);

		ck_assert_ptr_nonnull(sp);
		ck_assert(idx >= 0 && idx < MAILDIR_KEYWORDS_MAX);
		names[idx] = sp + 1;
	}
}

/* Writers racing over a stale lock: lmtpd's own processes take turns,
 * so no two of them ever both think they hold the lock, and every
 * letter a message gets is the one the final file names for its
 * keyword. */
START_TEST(keywords_concurrent_stale_lock)
{
	char host[256];
	pid_t dead = dead_pid();

	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	/* Many rounds in a few seconds: the locking is under test here. */
	fsync_skip = true;
	for (int round = 0; round < RACE_ROUNDS; round++) {
		char root[PATH_MAX], lock[PATH_MAX], text[300], kwname[RACE_WRITERS][16];
		char *names[MAILDIR_KEYWORDS_MAX], *file;
		pid_t pid[RACE_WRITERS];
		int gate[2], got[RACE_WRITERS];

		ut_pathf(root, sizeof(root), "%s/r%d", ut_testdir(), round);
		ck_assert_int_eq(mkdir(root, 0700), 0);
		ut_pathf(lock, sizeof(lock), "%s/dovecot-uidlist.lock", root);
		snprintf(text, sizeof(text), "%ld:%s", (long)dead, host);
		ut_write_text(lock, text);
		ck_assert_int_eq(pipe(gate), 0);
		for (int w = 0; w < RACE_WRITERS; w++) {
			snprintf(kwname[w], sizeof(kwname[w]), "kw%d", w);
			pid[w] = fork();
			ck_assert_int_ge(pid[w], 0);
			if (pid[w] == 0) {
				const char *kw[1] = { kwname[w] };
				char letters[MAILDIR_KEYWORDS_MAX + 1], c;
				struct maildir_keywords_result kr;
				int fd;

				close(gate[1]);
				/* All start together, once the gate closes. */
				if (read(gate[0], &c, 1) != 0)
					_exit(100);
				fd = open(root, O_RDONLY | O_DIRECTORY);
				if (fd < 0)
					_exit(100);
				maildir_keywords_letters(fd, kw, 1, letters, sizeof(letters),
							 &kr);
				_exit(letters[0] == '\0' ? 0 : 1 + (letters[0] - 'a'));
			}
		}
		close(gate[0]);
		close(gate[1]);
		for (int w = 0; w < RACE_WRITERS; w++) {
			int status;

			ck_assert_int_eq(waitpid(pid[w], &status, 0), pid[w]);
			ck_assert(WIFEXITED(status) && WEXITSTATUS(status) != 100);
			got[w] = WEXITSTATUS(status) - 1;	/* -1: no letter */
		}
		file = read_keywords_file(root);
		parse_keywords_file(file, names);
		/* Every writer gets a letter: 8 keywords fit in 26 letters, and
		 * one that saw its lock taken over by another lmtpd process
		 * would drop its keyword (as keywords_lock_taken_over shows),
		 * which is exactly what the turns must prevent. */
		for (int w = 0; w < RACE_WRITERS; w++) {
			ck_assert_msg(got[w] >= 0, "round %d: %s got no letter", round,
				      kwname[w]);
			ck_assert_msg(names[got[w]] != NULL &&
				      strcmp(names[got[w]], kwname[w]) == 0,
				      "round %d: %s got letter %c, named %s", round,
				      kwname[w], 'a' + got[w],
				      names[got[w]] != NULL ? names[got[w]] : "nothing");
		}
		free(file);
		ck_assert(!exists_in(root, "dovecot-uidlist.lock"));
	}
}
END_TEST

/* A dovecot-keywords file larger than Dovecot's could be is not read:
 * the keyword is dropped with the reason, the message still delivered. */
START_TEST(keywords_file_too_large)
{
	char root[PATH_MAX], path[PATH_MAX], name[MAILDIR_NAME_MAX];
	static char big[64 * 1024 + 2];
	const char *kw[] = { "New" };
	struct maildir_keywords_result kr;

	kw_maildir(root, sizeof(root), NULL);
	memset(big, 'x', sizeof(big) - 1);
	memcpy(big, "0 Old\n", 6);
	ut_pathf(path, sizeof(path), "%s/dovecot-keywords", root);
	ut_write_text(path, big);
	deliver_kw(root, NULL, kw, 1, name, sizeof(name), &kr);
	ck_assert_str_eq(info_of(name), "");
	ck_assert_int_eq(kr.dropped, 1);
	ck_assert_msg(strstr(kr.why, strerror(EFBIG)) != NULL, "%s", kr.why);
}
END_TEST

/* maildir_read_regular: the whole file within the buffer's maximum
 * (over several reads when large), nothing for a missing file, and
 * EFBIG / EINVAL otherwise. */
static const struct {
	const char *what;	/* "file", "none", "link", "fifo", "dir" */
	size_t size;		/* of the file */
	size_t max;		/* of the buffer */
	int ret;
	int err;
} read_cases[] = {
	{ "file", 3, 3, 1, 0 },
	{ "file", 0, 3, 1, 0 },
	{ "file", 4, 3, -1, EFBIG },
	{ "file", 20000, 20000, 1, 0 },
	{ "file", 20001, 20000, -1, EFBIG },
	{ "none", 0, 3, 0, 0 },
	{ "link", 3, 3, -1, EINVAL },
	{ "fifo", 0, 3, -1, EINVAL },
	{ "dir", 0, 3, -1, EINVAL },
};

START_TEST(read_regular)
{
	char dir[PATH_MAX], path[PATH_MAX], target[PATH_MAX], *text;
	struct buf b;
	struct stat st;
	int dirfd, ret;

	ut_pathf(dir, sizeof(dir), "%s/f", ut_testdir());
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ut_pathf(path, sizeof(path), "%s/name", dir);
	text = malloc(read_cases[_i].size + 1);
	ck_assert_ptr_nonnull(text);
	for (size_t k = 0; k < read_cases[_i].size; k++)
		text[k] = (char)('a' + k % 26);
	text[read_cases[_i].size] = '\0';
	if (strcmp(read_cases[_i].what, "file") == 0)
		ut_write_text(path, text);
	else if (strcmp(read_cases[_i].what, "link") == 0) {
		ut_pathf(target, sizeof(target), "%s/target", dir);
		ut_write_text(target, text);
		ck_assert_int_eq(symlink(target, path), 0);
	} else if (strcmp(read_cases[_i].what, "fifo") == 0)
		ck_assert_int_eq(mkfifo(path, 0600), 0);
	else if (strcmp(read_cases[_i].what, "dir") == 0)
		ck_assert_int_eq(mkdir(path, 0700), 0);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dirfd, 0);
	buf_init(&b, read_cases[_i].max);
	alarm(10);
	errno = 0;
	ret = maildir_read_regular(dirfd, "name", &b, &st);
	alarm(0);
	ck_assert_int_eq(ret, read_cases[_i].ret);
	if (ret < 0)
		ck_assert_int_eq(errno, read_cases[_i].err);
	if (ret == 1) {
		ck_assert_uint_eq(b.len, read_cases[_i].size);
		ck_assert_int_eq(memcmp(b.len > 0 ? b.data : "", text, b.len), 0);
		ck_assert_int_eq((long long)st.st_size, (long long)read_cases[_i].size);
		ck_assert(S_ISREG(st.st_mode));
	}
	if (ret == 0)
		ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
	free(text);
	close(dirfd);
}
END_TEST

static Suite *
maildir_suite(void)
{
	Suite *s = suite_create("maildir");
	TCase *tc;

	tc = ut_tcase(s, "deliver", true);
	tcase_add_test(tc, maildir_creates_folders);
	tcase_add_test(tc, maildir_existing_folder_kept);
	tcase_add_test(tc, maildir_reports_folder_created);
	tcase_add_test(tc, maildir_content_exact);
	tcase_add_loop_test(tc, maildir_name_format, 0, N_ELEMENTS(size_cases));
	tcase_add_test(tc, maildir_vsize_cr_across_iovecs);
	tcase_add_test(tc, maildir_unique_names);
	tcase_add_loop_test(tc, maildir_flags, 0, N_ELEMENTS(flag_cases));
	tcase_add_test(tc, maildir_folder);
	tcase_add_loop_test(tc, maildir_hostname_escaped, 0, N_ELEMENTS(host_cases));
	tcase_add_test(tc, maildir_many_iovecs);
	tc = ut_tcase(s, "failures", true);
	tcase_add_test(tc, maildir_root_is_file);
	tcase_add_test(tc, maildir_parent_is_file);
	tcase_add_loop_test(tc, maildir_symlinked_subdir, 0, 3);
	tcase_add_test(tc, maildir_path_too_long);
	tc = ut_tcase(s, "keywords", true);
	tcase_add_test(tc, keywords_new_file);
	tcase_add_test(tc, keywords_without_flags);
	tcase_add_test(tc, keywords_existing_file);
	tcase_add_test(tc, keywords_known_no_write);
	tcase_add_test(tc, keywords_full);
	tcase_add_loop_test(tc, keywords_bad_dropped, 0, N_ELEMENTS(bad_keywords));
	tcase_add_loop_test(tc, keywords_lock_held, 0, 2);
	tcase_add_loop_test(tc, keywords_stale_lock, 0, 3);
	tcase_add_test(tc, keywords_symlinked_file);
	tcase_add_test(tc, keywords_per_folder);
	tcase_add_loop_test(tc, keywords_fifo, 0, 2);
	tcase_add_test(tc, keywords_long_line_kept);
	tcase_add_test(tc, keywords_parse_strict);
	tcase_add_test(tc, keywords_file_mode);
	tcase_add_test(tc, keywords_write_fails);
	tcase_add_test(tc, keywords_dir_fsync_fails);
	tcase_add_test(tc, keywords_lock_taken_over);
	tcase_add_test(tc, keywords_reread_fails);
	tcase_add_test(tc, keywords_concurrent_stale_lock);
	tcase_add_test(tc, keywords_file_too_large);
	tc = ut_tcase(s, "files", true);
	tcase_add_loop_test(tc, read_regular, 0, N_ELEMENTS(read_cases));
	return s;
}

int
main(void)
{
	return ut_run(maildir_suite);
}
