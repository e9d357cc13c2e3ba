/* Unit tests for lmtpd/spool: memory up to SPOOL_MEMORY_MAX, then a spill
 * file that is mapped at the end; max_size counting; spool_begin. */
#include "config.h"

#include <stdint.h>

#include "check_compat.h"

#include "dsn.h"
#include "lmtpd_limits.h"
#include "spool.h"

/* A byte pattern that shows any misplaced or repeated block. */
static char
pattern(size_t i)
{
	return (char)((i * 7 + i / 4093) & 0xff);
}

/* Writes n pattern bytes in chunks of varying size (1 .. 9000). */
static void
write_pattern(struct spool *s, size_t n)
{
	char chunk[9000];
	size_t done = 0, step = 1;

	while (done < n) {
		size_t len = step < n - done ? step : n - done;

		for (size_t i = 0; i < len; i++)
			chunk[i] = pattern(done + i);
		spool_write(s, chunk, len);
		done += len;
		step = step * 3 % 8999 + 1;
	}
}

static void
assert_pattern(const char *data, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (data[i] != pattern(i))
			ck_abort_msg("byte %zu differs", i);
}

/* Open descriptors that name something inside dir; the size of the last
 * one goes to size_r. */
static int
fds_into(const char *dir, off_t *size_r)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;
	size_t dlen = strlen(dir);

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		char link[PATH_MAX + 32], target[PATH_MAX + 32];
		struct stat st;
		ssize_t len;

		if (de->d_name[0] == '.')
			continue;
		ut_pathf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		if (strncmp(target, dir, dlen) != 0 || target[dlen] != '/')
			continue;
		n++;
		if (size_r != NULL && stat(link, &st) == 0)
			*size_r = st.st_size;
	}
	closedir(d);
	return n;
}

START_TEST(spool_memory)
{
	const char *dir = ut_testdir();
	struct spool *s = spool_new(dir, 0);
	struct dsn dsn;
	const char *data;
	size_t size;

	spool_begin(s);
	spool_write(s, "Subject: x\n", 11);
	spool_write(s, "", 0);
	spool_write(s, "\nbody\0with NUL\n", 15);
	ck_assert_uint_eq(spool_received(s), 26);
	ck_assert_int_eq(spool_finish(s, &data, &size, &dsn), 0);
	ck_assert_uint_eq(size, 26);
	ck_assert_int_eq(memcmp(data, "Subject: x\n\nbody\0with NUL\n", 26), 0);
	/* Nothing on disk for a small message. */
	ck_assert_int_eq(fds_into(dir, NULL), 0);
	ck_assert_int_eq(ut_dir_count(dir, NULL, 0), 0);
	spool_free(&s);
	ck_assert_ptr_null(s);
	spool_free(&s);
}
END_TEST

START_TEST(spool_empty)
{
	struct spool *s = spool_new(ut_testdir(), 100);
	struct dsn dsn;
	const char *data = NULL;
	size_t size = 99;

	spool_begin(s);
	ck_assert_int_eq(spool_finish(s, &data, &size, &dsn), 0);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(size, 0);
	ck_assert_uint_eq(spool_received(s), 0);
	spool_free(&s);
}
END_TEST

/* SPOOL_MEMORY_MAX - 1, SPOOL_MEMORY_MAX and SPOOL_MEMORY_MAX + 1 bytes with
 * a spill folder that does not exist: only the last needs the folder. */
START_TEST(spool_memory_limit)
{
	char dir[PATH_MAX], want[PATH_MAX + 64];
	size_t n = SPOOL_MEMORY_MAX - 1 + (size_t)_i;
	struct spool *s;
	struct dsn dsn;
	const char *data;
	size_t size;

	ut_pathf(dir, sizeof(dir), "%s/missing", ut_testdir());
	s = spool_new(dir, 0);
	spool_begin(s);
	write_pattern(s, n);
	ck_assert_uint_eq(spool_received(s), n);
	if (n <= SPOOL_MEMORY_MAX) {
		ck_assert_int_eq(spool_finish(s, &data, &size, &dsn), 0);
		ck_assert_uint_eq(size, n);
		assert_pattern(data, n);
	} else {
		ck_assert_int_eq(spool_finish(s, &data, &size, &dsn), -1);
		ck_assert_int_eq(dsn.reason, DSN_TEMP_FAIL);
		ut_pathf(want, sizeof(want), "spool file in %s: %s", dir,
			 strerror(ENOENT));
		ck_assert_str_eq(dsn.text, want);
	}
	spool_free(&s);
}
END_TEST

START_TEST(spool_spill)
{
	const char *dir = ut_testdir();
	size_t n = 3 * SPOOL_MEMORY_MAX + 12345;
	struct spool *s = spool_new(dir, 0);
	struct dsn dsn;
	const char *data;
	size_t size;
	off_t file_size = -1;

	spool_begin(s);
	write_pattern(s, n);
	ck_assert_uint_eq(spool_received(s), n);
	ck_assert_int_eq(spool_finish(s, &data, &size, &dsn), 0);
	ck_assert_uint_eq(size, n);
	assert_pattern(data, n);
	/* One open, nameless file holds it: a crash leaves nothing. */
	ck_assert_int_eq(fds_into(dir, &file_size), 1);
	ck_assert_int_eq(file_size, (off_t)n);
	ck_assert_int_eq(ut_dir_count(dir, NULL, 0), 0);
	/* A new message closes it and starts in memory again. */
	spool_begin(s);
	ck_assert_int_eq(fds_into(dir, NULL), 0);
	ck_assert_uint_eq(spool_received(s), 0);
	spool_write(s, "small\n", 6);
	ck_assert_int_eq(spool_finish(s, &data, &size, &dsn), 0);
	ck_assert_uint_eq(size, 6);
	ck_assert_int_eq(memcmp(data, "small\n", 6), 0);
	ck_assert_int_eq(fds_into(dir, NULL), 0);
	/* Spill again, then free: the file goes away. */
	spool_begin(s);
	write_pattern(s, SPOOL_MEMORY_MAX + 1);
	ck_assert_int_eq(fds_into(dir, NULL), 1);
	spool_free(&s);
	ck_assert_int_eq(fds_into(dir, NULL), 0);
}
END_TEST

/* max_size 100: 99 and 100 bytes fit, 101 is too large; 0 is no limit. */
static const struct {
	uint64_t max;
	size_t n;
	bool ok;
} size_cases[] = {
	{ 100, 99, true },
	{ 100, 100, true },
	{ 100, 101, false },
	{ 100, 5000, false },
	{ 0, 5000, true },
	{ 1, 0, true },
	{ 1, 1, true },
	{ 1, 2, false },
	/* Limits past the memory part. */
	{ SPOOL_MEMORY_MAX + 10, SPOOL_MEMORY_MAX + 9, true },
	{ SPOOL_MEMORY_MAX + 10, SPOOL_MEMORY_MAX + 10, true },
	{ SPOOL_MEMORY_MAX + 10, SPOOL_MEMORY_MAX + 11, false },
};

START_TEST(spool_max_size)
{
	struct spool *s = spool_new(ut_testdir(), size_cases[_i].max);
	struct dsn dsn;
	const char *data;
	size_t size;
	char want[128];

	spool_begin(s);
	write_pattern(s, size_cases[_i].n);
	/* Dropped bytes are still counted. */
	ck_assert_uint_eq(spool_received(s), size_cases[_i].n);
	if (size_cases[_i].ok) {
		ck_assert_int_eq(spool_finish(s, &data, &size, &dsn), 0);
		ck_assert_uint_eq(size, size_cases[_i].n);
		assert_pattern(data, size);
	} else {
		ck_assert_int_eq(spool_finish(s, &data, &size, &dsn), -1);
		ck_assert_int_eq(dsn.reason, DSN_TOO_LARGE);
		snprintf(want, sizeof(want), "message size %zu exceeds "
			 "max_message_size %llu", size_cases[_i].n,
			 (unsigned long long)size_cases[_i].max);
		ck_assert_str_eq(dsn.text, want);
	}
	spool_free(&s);
}
END_TEST

START_TEST(spool_too_large_bounds_disk)
{
	const char *dir = ut_testdir();
	uint64_t max = SPOOL_MEMORY_MAX + 4096;
	struct spool *s = spool_new(dir, max);
	struct dsn dsn;
	const char *data;
	size_t size, n = 4 * SPOOL_MEMORY_MAX;
	off_t file_size = -1;

	spool_begin(s);
	write_pattern(s, n);
	ck_assert_uint_eq(spool_received(s), n);
	/* What is past max_message_size never reaches the disk. */
	ck_assert_int_eq(fds_into(dir, &file_size), 1);
	ck_assert_int_le(file_size, (off_t)max);
	ck_assert_int_eq(spool_finish(s, &data, &size, &dsn), -1);
	ck_assert_int_eq(dsn.reason, DSN_TOO_LARGE);
	/* The next message starts from zero. */
	spool_begin(s);
	ck_assert_uint_eq(spool_received(s), 0);
	spool_write(s, "ok\n", 3);
	ck_assert_int_eq(spool_finish(s, &data, &size, &dsn), 0);
	ck_assert_uint_eq(size, 3);
	ck_assert_int_eq(memcmp(data, "ok\n", 3), 0);
	spool_free(&s);
}
END_TEST

START_TEST(spool_begin_resets)
{
	struct spool *s = spool_new(ut_testdir(), 10);
	struct dsn dsn;
	const char *data;
	size_t size;

	spool_begin(s);
	spool_write(s, "first message\n", 14);
	ck_assert_int_eq(spool_finish(s, &data, &size, &dsn), -1);
	spool_begin(s);
	spool_write(s, "second", 6);
	ck_assert_int_eq(spool_finish(s, &data, &size, &dsn), 0);
	ck_assert_uint_eq(size, 6);
	ck_assert_int_eq(memcmp(data, "second", 6), 0);
	/* A begin in the middle of a message discards it. */
	spool_begin(s);
	spool_write(s, "abandoned", 9);
	spool_begin(s);
	spool_write(s, "third", 5);
	ck_assert_uint_eq(spool_received(s), 5);
	ck_assert_int_eq(spool_finish(s, &data, &size, &dsn), 0);
	ck_assert_uint_eq(size, 5);
	ck_assert_int_eq(memcmp(data, "third", 5), 0);
	spool_free(&s);
}
END_TEST

START_TEST(spool_spill_error)
{
	char dir[PATH_MAX];
	struct spool *s;
	struct dsn dsn;
	const char *data;
	size_t size;

	/* The spill folder is a regular file: a temporary failure, reported
	 * at the end; the rest of the data is still counted. */
	ut_pathf(dir, sizeof(dir), "%s/file", ut_testdir());
	ut_write_text(dir, "not a folder");
	s = spool_new(dir, 0);
	spool_begin(s);
	write_pattern(s, 2 * SPOOL_MEMORY_MAX);
	ck_assert_uint_eq(spool_received(s), 2 * SPOOL_MEMORY_MAX);
	ck_assert_int_eq(spool_finish(s, &data, &size, &dsn), -1);
	ck_assert_int_eq(dsn.reason, DSN_TEMP_FAIL);
	ck_assert_ptr_nonnull(strstr(dsn.text, strerror(ENOTDIR)));
	/* Too large wins over the spill error: the MTA must not retry. */
	spool_free(&s);
	s = spool_new(dir, SPOOL_MEMORY_MAX + 1);
	spool_begin(s);
	write_pattern(s, 2 * SPOOL_MEMORY_MAX);
	ck_assert_int_eq(spool_finish(s, &data, &size, &dsn), -1);
	ck_assert_int_eq(dsn.reason, DSN_TOO_LARGE);
	spool_free(&s);
}
END_TEST

static Suite *
spool_suite(void)
{
	Suite *s = suite_create("spool");
	TCase *tc;

	tc = ut_tcase(s, "memory", true);
	tcase_add_test(tc, spool_memory);
	tcase_add_test(tc, spool_empty);
	tcase_add_loop_test(tc, spool_memory_limit, 0, 3);
	tcase_add_test(tc, spool_begin_resets);
	tc = ut_tcase(s, "spill", true);
	tcase_add_test(tc, spool_spill);
	tcase_add_test(tc, spool_spill_error);
	tc = ut_tcase(s, "max_size", true);
	tcase_add_loop_test(tc, spool_max_size, 0, N_ELEMENTS(size_cases));
	tcase_add_test(tc, spool_too_large_bounds_disk);
	return s;
}

int
main(void)
{
	return ut_run(spool_suite);
}
