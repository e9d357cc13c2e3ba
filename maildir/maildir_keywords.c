/* maildir_keywords: IMAP keywords as Dovecot's Maildir letters.
 *
 * SECURITY: the keywords come from a user's Sieve script and the files
 * from the user's Maildir.  A keyword is stored only when it is an IMAP
 * atom (printable ASCII without atom-specials, so it can not break a line
 * of the file); the file is read bounded, opened with O_NOFOLLOW under the
 * folder's fd, and written to a fresh lock file renamed over it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "maildir_dotlock.h"
#include "maildir_file.h"
#include "maildir_keywords.h"
#include "xalloc.h"

#define KW_FILE "dovecot-keywords"
#define KW_TEMP "dovecot-keywords.lock"
#define UIDLIST_LOCK "dovecot-uidlist.lock"
/* 26 lines of at most "25 " + a keyword; anything larger is not
 * Dovecot's file. */
#define KW_FILE_MAX (64 * 1024)

struct kw_table {
	char *name[MAILDIR_KEYWORDS_MAX];
	time_t mtime;		/* of the file read; 0 = none */
};

static void
kw_table_clear(struct kw_table *t)
{
	for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		free(t->name[i]);
		t->name[i] = NULL;
	}
	t->mtime = 0;
}

/* RFC 3501 flag-keyword: an atom (no "(){ %*\"\\]" and no controls,
 * ASCII only). */
static bool
kw_is_atom(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > MAILDIR_KEYWORD_LEN_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("(){%*\"\\]", *p) != NULL)
			return false;
	return true;
}

static void
kw_drop(struct maildir_keywords_result *res, const char *why)
{
	res->dropped++;
	if (res->why[0] == '\0')
		snprintf(res->why, sizeof(res->why), "%s", why);
}

/* Dovecot's str_to_uint() on an index: digits only (no sign, no
 * space), below the letter count. */
static int
kw_parse_index(const char *s, unsigned int *idx_r)
{
	unsigned int v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned int)(*s - '0');
		if (v >= MAILDIR_KEYWORDS_MAX)
			return -1;
	}
	*idx_r = v;
	return 0;
}

static int
kw_find(const struct kw_table *t, const char *name)
{
	for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		if (t->name[i] != NULL && strcasecmp(t->name[i], name) == 0)
			return i;
	return -1;
}

/* Reads the file as Dovecot does: "IDX NAME" lines, others (and a later
 * line naming a keyword already named) ignored.  Returns 0 (a missing
 * file is an empty table) or -1 with errno (EINVAL: not a regular file,
 * EFBIG: too large). */
static int
kw_read(int dirfd, struct kw_table *t)
{
	struct buf b;
	char *line, *next;
	struct stat st;
	int r;

	kw_table_clear(t);
	buf_init(&b, KW_FILE_MAX);
	r = maildir_read_regular(dirfd, KW_FILE, &b, &st);
	if (r <= 0) {
		int err = errno;

		buf_free(&b);
		errno = err;
		return r;
	}
	t->mtime = st.st_mtime;
	for (line = b.data; line != NULL && *line != '\0'; line = next) {
		unsigned int idx;
		char *sp;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		sp = strchr(line, ' ');
		if (sp == NULL)
			continue;
		*sp = '\0';
		if (kw_parse_index(line, &idx) < 0 || sp[1] == '\0' || kw_find(t, sp + 1) >= 0)
			continue;
		free(t->name[idx]);
		t->name[idx] = xstrdup(sp + 1);
	}
	buf_free(&b);
	return 0;
}

/* Takes Dovecot's dovecot-uidlist.lock, marked as ours; 0, or -1 with
 * errno (EWOULDBLOCK: a live holder kept it). */
static int
uidlist_lock(int dirfd, struct maildir_dotlock *lock_r)
{
	char text[300], host[256];
	int len, err;

	maildir_dotlock_host(host, sizeof(host));
	len = snprintf(text, sizeof(text), "%ld:%s", (long)getpid(), host);
	if (len < 0 || (size_t)len >= sizeof(text)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (maildir_dotlock_take(dirfd, UIDLIST_LOCK, lock_r) < 0)
		return -1;
	if (write_full(lock_r->fd, text, (size_t)len) < 0 || close_checked(lock_r->fd) < 0) {
		err = errno;
		lock_r->fd = -1;
		if (maildir_dotlock_release(lock_r) < 0) {
			/* Reported as err: the lock was never usable. */
		}
		errno = err;
		return -1;
	}
	lock_r->fd = -1;
	return 0;
}

/* One "IDX NAME\n" line; no bound on NAME (Dovecot may have written a
 * long one, which is kept). */
static int
kw_write_line(int fd, int idx, const char *name)
{
	char num[16];
	int n = snprintf(num, sizeof(num), "%d ", idx);

	if (n < 0 || (size_t)n >= sizeof(num)) {
		errno = EINVAL;
		return -1;
	}
	if (write_full(fd, num, (size_t)n) < 0 || write_full(fd, name, strlen(name)) < 0 ||
	    write_full(fd, "\n", 1) < 0)
		return -1;
	return 0;
}

/* Replaces the file with t (under the uidlist lock, as Dovecot does: any
 * dovecot-keywords.lock is then a leftover).  -1 with errno also when the
 * rename was done but the folder's fsync failed: the change may not
 * survive a crash. */
static int
kw_write(int dirfd, const struct kw_table *t, const struct maildir_dotlock *lock)
{
	struct stat st;
	int fd, err;

	(void)unlinkat(dirfd, KW_TEMP, 0);	/* a leftover, if any */
	fd = maildir_create_file(dirfd, KW_TEMP);
	if (fd < 0)
		return -1;
	for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		if (t->name[i] != NULL && kw_write_line(fd, i, t->name[i]) < 0)
			goto fail;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (t->mtime != 0 && st.st_mtime <= t->mtime) {
		/* Dovecot re-reads the file only when its mtime moves. */
		struct timespec ts[2] = { { 0, UTIME_OMIT }, { t->mtime + 1, 0 } };

		if (futimens(fd, ts) < 0)
			goto fail;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close_checked(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	/* Taken over meanwhile (after 120 s): the file is someone else's
	 * to write now. */
	if (maildir_dotlock_check(lock) < 0)
		goto fail;
	if (renameat(dirfd, KW_TEMP, dirfd, KW_FILE) < 0)
		goto fail;
	return fsync(dirfd);
fail:
	err = errno;
	if (fd >= 0)
		close_quietly(fd);
	(void)unlinkat(dirfd, KW_TEMP, 0);
	errno = err;
	return -1;
}

/* Whether keywords[i] repeats an earlier one (IMAP keywords are
 * case-insensitive). */
static bool
kw_repeated(const char *const *keywords, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (strcasecmp(keywords[k], keywords[i]) == 0)
			return true;
	return false;
}

void
maildir_keywords_letters(int folder_fd, const char *const *keywords, size_t count,
			 char *letters_r, size_t letters_size,
			 struct maildir_keywords_result *res_r)
{
	const char *want[MAILDIR_KEYWORDS_MAX];
	struct kw_table t = { { NULL }, 0 };
	struct maildir_dotlock lock;
	bool have[MAILDIR_KEYWORDS_MAX] = { false }, added[MAILDIR_KEYWORDS_MAX] = { false };
	size_t nwant = 0, missing = 0, o = 0;

	res_r->dropped = 0;
	res_r->why[0] = '\0';
	res_r->warning[0] = '\0';
	for (size_t i = 0; i < count; i++) {
		if (kw_repeated(keywords, i))
			continue;
		if (!kw_is_atom(keywords[i])) {
			kw_drop(res_r, "not an IMAP keyword (an atom of at most 200 bytes)");
			continue;
		}
		if (nwant == MAILDIR_KEYWORDS_MAX) {
			kw_drop(res_r, "more than 26 keywords");
			continue;
		}
		want[nwant++] = keywords[i];
	}
	if (nwant > 0 && kw_read(folder_fd, &t) < 0) {
		res_r->dropped += nwant;
		snprintf(res_r->why, sizeof(res_r->why), "reading " KW_FILE ": %s",
			 strerror(errno));
		goto letters;
	}
	for (size_t k = 0; k < nwant; k++) {
		int idx = kw_find(&t, want[k]);

		if (idx >= 0)
			have[idx] = true;
		else
			missing++;
	}
	if (missing > 0) {
		bool changed = false;

		/* A live holder (a long IMAP sync) is not waited for long:
		 * the message then goes in without the new keywords. */
		if (uidlist_lock(folder_fd, &lock) < 0) {
			res_r->dropped += missing;
			snprintf(res_r->why, sizeof(res_r->why), UIDLIST_LOCK ": %s",
				 errno == EWOULDBLOCK ? "held by another process"
				 : strerror(errno));
			goto letters;
		}
		memset(have, 0, sizeof(have));
		/* Under the lock the file is what Dovecot last wrote. */
		if (kw_read(folder_fd, &t) < 0) {
			res_r->dropped += nwant;
			snprintf(res_r->why, sizeof(res_r->why), "reading " KW_FILE ": %s",
				 strerror(errno));
			goto unlock;
		}
		for (size_t k = 0; k < nwant; k++) {
			int idx = kw_find(&t, want[k]);

			for (int i = 0; idx < 0 && i < MAILDIR_KEYWORDS_MAX; i++)
				if (t.name[i] == NULL) {
					t.name[i] = xstrdup(want[k]);
					added[i] = true;
					idx = i;
					changed = true;
				}
			if (idx >= 0)
				have[idx] = true;
			else
				kw_drop(res_r, "all 26 keyword letters in use");
		}
		if (changed && kw_write(folder_fd, &t, &lock) < 0) {
			/* Even when the rename was done, the file may lose
			 * the change in a crash while the message keeps the
			 * letter: only letters named before are used. */
			size_t lost = 0;

			if (res_r->why[0] == '\0')
				snprintf(res_r->why, sizeof(res_r->why), "writing " KW_FILE ": %s",
					 strerror(errno));
			for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
				if (added[i]) {
					have[i] = false;
					lost++;
				}
			res_r->dropped += lost;
		}
unlock:
		if (maildir_dotlock_release(&lock) < 0)
			snprintf(res_r->warning, sizeof(res_r->warning),
				 "removing " UIDLIST_LOCK ": %s", strerror(errno));
	}
letters:
	for (int i = 0; i < MAILDIR_KEYWORDS_MAX && o + 1 < letters_size; i++)
		if (have[i])
			letters_r[o++] = (char)('a' + i);
	if (letters_size > 0)
		letters_r[o] = '\0';
	kw_table_clear(&t);
}
