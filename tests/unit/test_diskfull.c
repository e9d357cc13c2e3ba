/* Unit tests that need mounts: Maildir delivery and spool spill on a 64 KiB
 * tmpfs (DESIGN: "disk full -> 452 4.3.1, nothing half-written left
 * behind"), and Maildir delivery through a named tmp/ file, as on file
 * systems without O_TMPFILE (forced by hiding /proc, which the O_TMPFILE
 * path needs to link the file).
 *
 * Each test runs in its own forked process (Check), which moves into a
 * private mount namespace before mounting, so the mounts disappear with the
 * process even when the test fails.  Mounting needs root (CAP_SYS_ADMIN):
 * without it the whole program reports a TAP skip. */
#include "config.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "check_compat.h"

#include "dsn.h"
#include "lmtpd_limits.h"
#include "maildir.h"
#include "spool.h"

#define TMPFS_SIZE (64 * 1024)

static int
private_mounts(void)
{
	static bool done;

	if (done)
		return 0;
	if (unshare(CLONE_NEWNS) < 0)
		return -1;
	/* Keep our mounts out of the parent's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	done = true;
	return 0;
}

static int
mount_small_tmpfs(const char *dir)
{
	if (private_mounts() < 0)
		return -1;
	return mount("lmtpd-unit", dir, "tmpfs", MS_NOSUID | MS_NODEV,
		     "size=64k,mode=0700");
}

/* Without /proc/self/fd an O_TMPFILE can not be linked: maildir falls
 * back to a named file in tmp/. */
static void
hide_proc(void)
{
	ck_assert_int_eq(private_mounts(), 0);
	ck_assert_msg(mount("lmtpd-unit", "/proc", "tmpfs", MS_NOSUID | MS_NODEV,
			    "size=4k,mode=0700") == 0, "mount over /proc: %s",
		      strerror(errno));
	ck_assert_int_eq(access("/proc/self/fd", X_OK), -1);
}

/* LeakSanitizer reads /proc when the test process exits. */
static void
show_proc(void)
{
	ck_assert_int_eq(umount("/proc"), 0);
	ck_assert_int_eq(access("/proc/self/fd", X_OK), 0);
}

/* A fresh tmpfs of TMPFS_SIZE bytes for this test. */
static const char *
small_fs(void)
{
	static char mnt[PATH_MAX];

	ut_pathf(mnt, sizeof(mnt), "%s/mnt", ut_testdir());
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	ck_assert_msg(mount_small_tmpfs(mnt) == 0, "mount tmpfs: %s", strerror(errno));
	return mnt;
}

static int
count(const char *root, const char *sub)
{
	char path[PATH_MAX];

	ut_pathf(path, sizeof(path), "%s/%s", root, sub);
	return ut_dir_count(path, NULL, 0);
}

static int
deliver_bytes(const char *root, const char *folder, size_t n, struct dsn *dsn)
{
	struct maildir_target t = { .root = root, .folder = folder,
				    .hostname = "mx.example.org" };
	char *buf = malloc(n);
	struct iovec iov = { buf, n };
	int ret;

	ck_assert_ptr_nonnull(buf);
	memset(buf, 'm', n);
	ret = maildir_deliver(&t, &iov, 1, NULL, 0, dsn);
	free(buf);
	return ret;
}

START_TEST(maildir_disk_full)
{
	const char *mnt = small_fs();
	char root[PATH_MAX], reply[256];
	struct dsn dsn;

	ut_pathf(root, sizeof(root), "%s/Maildir", mnt);
	ck_assert_int_eq(deliver_bytes(root, NULL, 1000, &dsn), 0);
	/* Three times the file system: ENOSPC while writing tmp/. */
	ck_assert_int_eq(deliver_bytes(root, NULL, 3 * TMPFS_SIZE, &dsn), -1);
	ck_assert_int_eq(dsn.reason, DSN_DISK_FULL);
	ck_assert_ptr_nonnull(strstr(dsn.text, strerror(ENOSPC)));
	dsn_reply(&dsn, NULL, NULL, false, reply, sizeof(reply));
	ck_assert_str_eq(reply, "452 4.3.1 Insufficient system storage");
	/* Nothing half-written: new/ holds only the first message, tmp/
	 * is empty, and the space came back. */
	ck_assert_int_eq(count(root, "new"), 1);
	ck_assert_int_eq(count(root, "cur"), 0);
	ck_assert_int_eq(count(root, "tmp"), 0);
	ck_assert_int_eq(deliver_bytes(root, NULL, 1000, &dsn), 0);
	ck_assert_int_eq(count(root, "new"), 2);
}
END_TEST

START_TEST(maildir_fill_up)
{
	const char *mnt = small_fs();
	char root[PATH_MAX];
	struct dsn dsn;
	int ok = 0;

	/* Fill the file system message by message: every delivery either
	 * succeeds completely or fails with DSN_DISK_FULL and leaves no
	 * file behind. */
	ut_pathf(root, sizeof(root), "%s/Maildir", mnt);
	for (int i = 0; i < 64; i++) {
		if (deliver_bytes(root, NULL, 6000, &dsn) == 0) {
			ok++;
			continue;
		}
		ck_assert_int_eq(dsn.reason, DSN_DISK_FULL);
		break;
	}
	ck_assert_int_gt(ok, 0);
	ck_assert_int_lt(ok, 64);
	ck_assert_int_eq(count(root, "new"), ok);
	ck_assert_int_eq(count(root, "tmp"), 0);
}
END_TEST

START_TEST(maildir_folder_disk_full)
{
	const char *mnt = small_fs();
	char root[PATH_MAX];
	struct dsn dsn;

	ut_pathf(root, sizeof(root), "%s/Maildir", mnt);
	ck_assert_int_eq(deliver_bytes(root, ".Big", 2 * TMPFS_SIZE, &dsn), -1);
	ck_assert_int_eq(dsn.reason, DSN_DISK_FULL);
	ck_assert_int_eq(count(root, ".Big/new"), 0);
	ck_assert_int_eq(count(root, ".Big/tmp"), 0);
}
END_TEST

START_TEST(maildir_named_tmp)
{
	char root[PATH_MAX], path[PATH_MAX], name[MAILDIR_NAME_MAX];
	struct maildir_target t = { .hostname = "mx.example.org" };
	struct iovec iov = { (void *)"Subject: named\n\nbody\n", 22 };
	struct dsn dsn;
	char *data;
	size_t len;

	ut_pathf(root, sizeof(root), "%s/Maildir", ut_testdir());
	hide_proc();
	t.root = root;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(maildir_deliver(&t, &iov, 1, name, sizeof(name),
						 &dsn), 0);
	ck_assert_int_eq(count(root, "new"), 3);
	/* The tmp/ name is gone once the new/ one exists. */
	ck_assert_int_eq(count(root, "tmp"), 0);
	ut_pathf(path, sizeof(path), "%s/new/%s", root, name);
	data = ut_read_file(path, &len);
	ck_assert_uint_eq(len, 22);
	ck_assert_int_eq(memcmp(data, "Subject: named\n\nbody\n", 22), 0);
	free(data);
	t.flags = "S";
	ck_assert_int_eq(maildir_deliver(&t, &iov, 1, name, sizeof(name), &dsn), 0);
	ck_assert_int_eq(count(root, "cur"), 1);
	ck_assert_int_eq(count(root, "tmp"), 0);
	show_proc();
}
END_TEST

START_TEST(maildir_named_tmp_disk_full)
{
	const char *mnt = small_fs();
	char root[PATH_MAX];
	struct dsn dsn;

	hide_proc();
	ut_pathf(root, sizeof(root), "%s/Maildir", mnt);
	ck_assert_int_eq(deliver_bytes(root, NULL, 1000, &dsn), 0);
	ck_assert_int_eq(deliver_bytes(root, NULL, 3 * TMPFS_SIZE, &dsn), -1);
	ck_assert_int_eq(dsn.reason, DSN_DISK_FULL);
	/* The half-written named file is removed, and its space with it. */
	ck_assert_int_eq(count(root, "tmp"), 0);
	ck_assert_int_eq(count(root, "new"), 1);
	ck_assert_int_eq(deliver_bytes(root, NULL, 1000, &dsn), 0);
	ck_assert_int_eq(count(root, "new"), 2);
	show_proc();
}
END_TEST

START_TEST(spool_disk_full)
{
	const char *mnt = small_fs();
	struct spool *s = spool_new(mnt, 0);
	char chunk[8192];
	const char *data;
	size_t size;
	struct dsn dsn;

	memset(chunk, 's', sizeof(chunk));
	spool_begin(s);
	/* Past SPOOL_MEMORY_MAX the spool spills into the full tmpfs. */
	for (size_t done = 0; done < SPOOL_MEMORY_MAX + 2 * TMPFS_SIZE;
	     done += sizeof(chunk))
		spool_write(s, chunk, sizeof(chunk));
	ck_assert_int_eq(spool_finish(s, &data, &size, &dsn), -1);
	ck_assert_int_eq(dsn.reason, DSN_DISK_FULL);
	ck_assert_ptr_nonnull(strstr(dsn.text, strerror(ENOSPC)));
	/* The next message, small, still works. */
	spool_begin(s);
	spool_write(s, "ok\n", 3);
	ck_assert_int_eq(spool_finish(s, &data, &size, &dsn), 0);
	ck_assert_uint_eq(size, 3);
	spool_free(&s);
}
END_TEST

static Suite *
diskfull_suite(void)
{
	Suite *s = suite_create("diskfull");
	TCase *tc;

	tc = ut_tcase(s, "maildir", true);
	tcase_add_test(tc, maildir_disk_full);
	tcase_add_test(tc, maildir_fill_up);
	tcase_add_test(tc, maildir_folder_disk_full);
	tc = ut_tcase(s, "named_tmp", true);
	tcase_add_test(tc, maildir_named_tmp);
	tcase_add_test(tc, maildir_named_tmp_disk_full);
	tc = ut_tcase(s, "spool", true);
	tcase_add_test(tc, spool_disk_full);
	return s;
}

/* Whether a tmpfs can be mounted here, tried in a throw-away child. */
static bool
can_mount(void)
{
	char dir[] = "/tmp/lmtpd-unit-probe.XXXXXX";
	pid_t pid;
	int status;
	bool ok;

	if (mkdtemp(dir) == NULL)
		return false;
	pid = fork();
	if (pid == 0)
		_exit(mount_small_tmpfs(dir) == 0 ? 0 : 1);
	ok = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	     WEXITSTATUS(status) == 0;
	(void)rmdir(dir);
	return ok;
}

int
main(void)
{
	if (!can_mount()) {
		/* TAP's whole-program skip (automake's tap-driver counts it). */
		printf("1..0 # SKIP cannot mount a tmpfs (needs root and "
		       "CAP_SYS_ADMIN)\n");
		return 0;
	}
	return ut_run(diskfull_suite);
}
