/* Shared helpers for the Check unit tests: the main() every program uses,
 * a per-tcase temporary directory, small file helpers and a child run under
 * an address-space limit (the memory-bound tests).
 *
 * Check forks every test, so a test that crashes or hangs fails alone.  The
 * temporary base directory is made by an unchecked fixture (run once per
 * tcase in the parent) and removed by its teardown, so it disappears even
 * when a test fails half way; each test makes its own folder below it with
 * ut_testdir().  Everything here is static inline: a program that does not
 * use a helper gets no unused-function warning. */
#ifndef LMTPD_CHECK_COMPAT_H
#define LMTPD_CHECK_COMPAT_H

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A string literal as (pointer, length), so test tables can hold NULs. */
#define UT_S(lit) (lit), (sizeof(lit) - 1)

/* The per-test timeout: the Makefile exports CK_DEFAULT_TIMEOUT; a test
 * program run by hand gets the same bound. */
#define UT_DEFAULT_TIMEOUT "60"

static char ut_base[PATH_MAX];

/* snprintf that fails the test instead of truncating (paths, mostly). */
static inline void __attribute__((format(printf, 3, 4)))
ut_pathf(char *out, size_t out_size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, out_size, fmt, ap);
	va_end(ap);
	ck_assert_msg(n >= 0 && (size_t)n < out_size, "path too long");
}

/* s[0..len) with control and 8-bit bytes as \xNN, for failure messages
 * (a raw newline would break the TAP line).  Four rotating buffers, so a
 * message may show a few values. */
static inline const char *
ut_esc(const char *s, size_t len)
{
	static char bufs[4][1024];
	static unsigned int next;
	char *out = bufs[next++ % 4];
	size_t o = 0;

	for (size_t i = 0; i < len && o + 8 < sizeof(bufs[0]); i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)sprintf(out + o, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

static inline const char *
ut_escs(const char *s)
{
	return s == NULL ? "(null)" : ut_esc(s, strlen(s));
}

static inline void
ut_base_setup(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(ut_base, sizeof(ut_base), "%s/lmtpd-unit.XXXXXX",
		 tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(ut_base) == NULL) {
		perror("mkdtemp");
		abort();
	}
}

static inline int
ut_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

static inline int
ut_rm_rf(const char *path)
{
	return nftw(path, ut_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void
ut_base_teardown(void)
{
	if (ut_base[0] != '\0' && ut_rm_rf(ut_base) < 0)
		fprintf(stderr, "# could not remove %s: %s\n", ut_base,
			strerror(errno));
	ut_base[0] = '\0';
}

/* A fresh, empty directory for this test (below the tcase's base). */
static inline const char *
ut_testdir(void)
{
	static char dir[PATH_MAX];

	ck_assert_msg(ut_base[0] != '\0', "tcase has no ut_base fixture");
	ut_pathf(dir, sizeof(dir), "%s/t.XXXXXX", ut_base);
	ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
	return dir;
}

static inline void
ut_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "fopen(%s): %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static inline void
ut_write_text(const char *path, const char *text)
{
	ut_write_file(path, text, strlen(text));
}

/* The whole file, NUL-terminated, malloc'd; *len_r gets its size. */
static inline char *
ut_read_file(const char *path, size_t *len_r)
{
	struct stat st;
	char *data;
	int fd = open(path, O_RDONLY);
	ssize_t n;

	ck_assert_msg(fd >= 0, "open(%s): %s", path, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	data = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(data);
	n = read(fd, data, (size_t)st.st_size);
	ck_assert_int_eq(n, st.st_size);
	data[n] = '\0';
	close(fd);
	if (len_r != NULL)
		*len_r = (size_t)n;
	return data;
}

/* Entries of dir other than "." and ".."; -1 if it cannot be opened.  The
 * name of the last one seen goes to last_r when not NULL. */
static inline int
ut_dir_count(const char *dir, char *last_r, size_t last_size)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		if (last_r != NULL)
			snprintf(last_r, last_size, "%s", de->d_name);
	}
	closedir(d);
	return n;
}

static inline TCase *
ut_tcase(Suite *s, const char *name, bool with_tmpdir)
{
	TCase *tc = tcase_create(name);

	if (with_tmpdir)
		tcase_add_unchecked_fixture(tc, ut_base_setup, ut_base_teardown);
	suite_add_tcase(s, tc);
	return tc;
}

/* Runs the suite with TAP on stdout (CK_TAP_LOG_FILE_NAME=- from the
 * Makefile); 0 when every test passed. */
static inline int
ut_run(Suite *(*make_suite)(void))
{
	SRunner *sr;
	int failed;

	/* Before any tcase exists: tcase_create reads it. */
	setenv("CK_DEFAULT_TIMEOUT", UT_DEFAULT_TIMEOUT, 0);
	sr = srunner_create(make_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Whether this build runs under AddressSanitizer, whose shadow memory an
 * address-space limit (ut_run_within) can not hold. */
#if defined(__SANITIZE_ADDRESS__)
#define UT_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UT_UNDER_ASAN 1
#endif
#endif
#ifndef UT_UNDER_ASAN
#define UT_UNDER_ASAN 0
#endif

/* Runs fn(arg) in a child limited to secs seconds of CPU time and asserts
 * that it returned true: for inputs that once took quadratic time, sized
 * so that the linear work is a small part of the limit (and the quadratic
 * one minutes).  AddressSanitizer makes this allocation-heavy work about
 * 50 times slower (the comma fields: 0.03 s, 1.6 s under it, and once
 * over 3 s on a busy machine), so the limit is ten times as long there,
 * still far below the quadratic time. */
static inline void
ut_run_cpu_within(unsigned secs, bool (*fn)(const void *arg), const void *arg)
{
	int st;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit rl;

		rl.rlim_cur = rl.rlim_max = secs * (UT_UNDER_ASAN ? 10 : 1);
		if (setrlimit(RLIMIT_CPU, &rl) < 0)
			_exit(3);
		_exit(fn(arg) ? 0 : 4);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: status %d", st);
}

/* Runs fn(arg) in a child whose address space (RLIMIT_AS) is what this
 * process maps now plus extra bytes, and asserts that it returned true.
 * Not under AddressSanitizer, whose shadow memory such a limit does not
 * allow for. */
static inline void
ut_run_within(size_t extra, bool (*fn)(const void *arg), const void *arg)
{
	unsigned long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	int st;
	pid_t pid;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%lu", &pages), 1);
	fclose(f);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit rl;

		rl.rlim_cur = rl.rlim_max = pages * (size_t)sysconf(_SC_PAGESIZE) + extra;
		if (setrlimit(RLIMIT_AS, &rl) < 0)
			_exit(3);
		_exit(fn(arg) ? 0 : 4);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: status %d", st);
}

/* Makes this process and its children unable to map memory both
 * writable and executable, as systemd's MemoryDenyWriteExecute=yes does,
 * so that PCRE2's JIT fails for patterns compiled afterwards; but only
 * if this process has not JIT-compiled before (the JIT reuses memory it
 * made executable then).  False where the kernel lacks PR_SET_MDWE
 * (before Linux 6.3): the JIT stays.  Callers check with a probe. */
#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_MDWE_REFUSE_EXEC_GAIN 1UL
#endif
static inline bool
ut_deny_jit(void)
{
	return prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0L, 0L, 0L) == 0;
}

#endif
