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

#include "fsutil.h"
#include "maildir_dotlock.h"
#include "maildir_keywords.h"

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

/* Reads the file as Dovecot does: "IDX NAME" lines, others ignored.
 * Returns 0 (a missing file is an empty table) or -1 with errno. */
static int
kw_read(int dirfd, struct kw_table *t)
{
	char *text, *line, *next;
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd;

	kw_table_clear(t);
	fd = openat(dirfd, KW_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0) {
		close_quietly(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > KW_FILE_MAX) {
		close_quietly(fd);
		errno = EFBIG;
		return -1;
	}
	text = malloc((size_t)st.st_size + 1);
	if (text == NULL) {
		close_quietly(fd);
		return -1;
	}
	while (len < (size_t)st.st_size &&
	       (n = read(fd, text + len, (size_t)st.st_size - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(text);
			close_quietly(fd);
			return -1;
		}
		len += (size_t)n;
	}
	close_quietly(fd);
	text[len] = '\0';
	t->mtime = st.st_mtime;
	for (line = text; line != NULL && *line != '\0'; line = next) {
		char *sp, *end;
		long idx;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		sp = strchr(line, ' ');
		if (sp == NULL || sp == line)
			continue;
		*sp = '\0';
		errno = 0;
		idx = strtol(line, &end, 10);
		if (*end != '\0' || errno != 0 || idx < 0 || idx >= MAILDIR_KEYWORDS_MAX ||
		    sp[1] == '\0')
			continue;
		free(t->name[idx]);
		t->name[idx] = strdup(sp + 1);
	}
	free(text);
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

/* Takes Dovecot's dovecot-uidlist.lock, marked as ours; 0, or -1 with
 * errno (EWOULDBLOCK: a live holder kept it). */
static int
uidlist_lock(int dirfd)
{
	char text[300], host[256];
	int len, fd, err;

	maildir_dotlock_host(host, sizeof(host));
	len = snprintf(text, sizeof(text), "%ld:%s", (long)getpid(), host);
	fd = maildir_dotlock_take(dirfd, UIDLIST_LOCK);
	if (fd < 0)
		return -1;
	if (write_full(fd, text, (size_t)len) < 0 || close_checked(fd) < 0) {
		err = errno;
		(void)unlinkat(dirfd, UIDLIST_LOCK, 0);
		errno = err;
		return -1;
	}
	return 0;
}

/* Replaces the file with t (under the uidlist lock, as Dovecot does: any
 * dovecot-keywords.lock is then a leftover). */
static int
kw_write(int dirfd, const struct kw_table *t)
{
	char line[MAILDIR_KEYWORD_LEN_MAX + 16];
	struct stat st;
	int fd, err;

	(void)unlinkat(dirfd, KW_TEMP, 0);
	fd = openat(dirfd, KW_TEMP, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return -1;
	for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		int n;

		if (t->name[i] == NULL)
			continue;
		n = snprintf(line, sizeof(line), "%d %s\n", i, t->name[i]);
		if (n < 0 || (size_t)n >= sizeof(line) || write_full(fd, line, (size_t)n) < 0)
			goto fail;
	}
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

void
maildir_keywords_letters(int folder_fd, const char *const *keywords, size_t count,
			 char *out, size_t out_size, struct maildir_keywords_result *res)
{
	const char *want[MAILDIR_KEYWORDS_MAX];
	struct kw_table t = { { NULL }, 0 };
	bool have[MAILDIR_KEYWORDS_MAX] = { false };
	size_t nwant = 0, missing = 0, o = 0;

	res->dropped = 0;
	res->why[0] = '\0';
	for (size_t i = 0; i < count; i++) {
		bool dup = false;

		if (!kw_is_atom(keywords[i])) {
			kw_drop(res, "not an IMAP keyword (an atom of at most 200 bytes)");
			continue;
		}
		for (size_t k = 0; k < nwant && !dup; k++)
			dup = strcasecmp(want[k], keywords[i]) == 0;
		if (dup)
			continue;
		if (nwant == MAILDIR_KEYWORDS_MAX) {
			kw_drop(res, "more than 26 keywords");
			continue;
		}
		want[nwant++] = keywords[i];
	}
	if (nwant > 0 && kw_read(folder_fd, &t) < 0) {
		res->dropped += nwant;
		snprintf(res->why, sizeof(res->why), "reading " KW_FILE ": %s",
			 strerror(errno));
		nwant = 0;
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
		if (uidlist_lock(folder_fd) < 0) {
			res->dropped += missing;
			snprintf(res->why, sizeof(res->why), UIDLIST_LOCK ": %s",
				 errno == EWOULDBLOCK ? "held by another process"
				 : strerror(errno));
			goto letters;
		}
		/* Under the lock the file is what Dovecot last wrote. */
		if (kw_read(folder_fd, &t) < 0) {
			res->dropped += missing;
			snprintf(res->why, sizeof(res->why), "reading " KW_FILE ": %s",
				 strerror(errno));
			memset(have, 0, sizeof(have));
			(void)unlinkat(folder_fd, UIDLIST_LOCK, 0);
			goto letters;
		}
		memset(have, 0, sizeof(have));
		for (size_t k = 0; k < nwant; k++) {
			int idx = kw_find(&t, want[k]);

			for (int i = 0; idx < 0 && i < MAILDIR_KEYWORDS_MAX; i++)
				if (t.name[i] == NULL) {
					t.name[i] = strdup(want[k]);
					if (t.name[i] != NULL) {
						idx = i;
						changed = true;
					}
				}
			if (idx >= 0)
				have[idx] = true;
			else
				kw_drop(res, "all 26 keyword letters in use");
		}
		if (changed && kw_write(folder_fd, &t) < 0) {
			size_t lost = 0;
			struct kw_table old = { { NULL }, 0 };
			int err = errno;

			/* Only the letters the file on disk names may be used. */
			if (kw_read(folder_fd, &old) < 0)
				kw_table_clear(&old);
			for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
				if (have[i] && (old.name[i] == NULL ||
						strcmp(old.name[i], t.name[i]) != 0)) {
					have[i] = false;
					lost++;
				}
			res->dropped += lost;
			snprintf(res->why, sizeof(res->why), "writing " KW_FILE ": %s",
				 strerror(err));
			kw_table_clear(&old);
		}
		(void)unlinkat(folder_fd, UIDLIST_LOCK, 0);
	}
letters:
	for (int i = 0; i < MAILDIR_KEYWORDS_MAX && o + 1 < out_size; i++)
		if (have[i])
			out[o++] = (char)('a' + i);
	if (out_size > 0)
		out[o] = '\0';
	kw_table_clear(&t);
}
