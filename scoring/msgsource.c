/* msgsource: walks files, mbox files and Maildirs for the tools. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "msgsource.h"
#include "scoring.h"
#include "xalloc.h"

int
msgsource_read_fd(int fd, struct buf *out)
{
	char chunk[65536];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (buf_append(out, chunk, (size_t)n) < 0)
			return -1;
	}
	return 0;
}

/* Opens path for reading.  O_NONBLOCK: open() of a FIFO without a writer
 * would wait forever (silently); opened this way, a FIFO that has a writer
 * (bash's <(cmd)) is still read to its end, one without reads as empty. */
static int
msgsource_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	int flags, saved;

	if (fd < 0)
		return -1;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* An mbox too big to read whole, read message by message: only the one
 * being read is in memory (each within MSGSOURCE_INPUT_MAX; a larger one
 * is reported and skipped), so an archive of any size can be learned or
 * scored.  The messages are those scoring_mbox_next gives for the whole
 * file, every one "FILE:N" (the file holds more than one: one message
 * alone this big is refused before). */
static int
msgsource_walk_mbox_stream(const char *path, int fd,
			   int (*fn)(const char *name, const char *data, size_t len, void *ctx),
			   void *ctx, void (*err)(const char *path, const char *why))
{
	/* Reads of at least this much between two looks for the end of the
	 * message, doubled while it is not found: linear in its size. */
	const size_t step = 1024 * 1024;
	size_t len = 0, cap = 0, want = step;
	char *win = NULL, name[8192];
	unsigned int n = 0;
	/* while skipping: newlines before win + decided were looked at */
	size_t decided = 0;
	bool eof = false, skipping = false;
	int status = 0;

	for (;;) {
		struct scoring_mbox mb;
		const char *msg, *boundary, *first_nl;
		size_t msg_len, used, body;

		while (!eof && len < want) {
			ssize_t got;

			if (cap - len < 65536) {
				cap = cap * 2 > len + 65536 ? cap * 2 : len + 65536;
				win = xrealloc(win, cap);
			}
			got = read(fd, win + len, cap - len);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				err(path, strerror(errno));
				free(win);
				return -1;
			}
			if (got == 0)
				eof = true;
			len += (size_t)got;
		}
		if (len == 0)
			break;
		if (skipping) {
			/* The rest of a message too large: only its last bytes
			 * are kept, for a boundary that straddles two reads. */
			boundary = scoring_mbox_boundary(win, win + decided, win + len);
			if (boundary == NULL) {
				if (eof)
					break;
				/* keep what a boundary straddling this read and
				 * the next needs: "\n\r\nFrom " */
				used = len > 8 ? len - 8 : 0;
				decided = len - used > 5 ? len - used - 5 : 0;
			} else {
				used = (size_t)(boundary - win);
				skipping = false;
			}
			memmove(win, win + used, len - used);
			len -= used;
			want = len + step;
			continue;
		}
		/* the message's bytes in the file, after its "From " line */
		first_nl = memchr(win, '\n', len);
		body = first_nl != NULL ? (size_t)(first_nl - win) + 1 : len;
		scoring_mbox_init(&mb, win, len);
		mb.first = false;	/* one of several: nothing is the message's own */
		if (!scoring_mbox_next(&mb, &msg, &msg_len))
			break;
		used = (size_t)(mb.p - win);
		if ((used < len || eof) && used - body <= MSGSOURCE_INPUT_MAX) {
			snprintf(name, sizeof(name), "%s:%u", path, ++n);
			if (fn(name, msg, msg_len, ctx) < 0)
				status = -1;
			scoring_mbox_free(&mb);
			memmove(win, win + used, len - used);
			len -= used;
			want = step;
			continue;
		}
		scoring_mbox_free(&mb);
		/* The window stops growing at MSGSOURCE_INPUT_MAX + step: a
		 * message whose end is not in it by then is too large even
		 * when most of it is its "From " line (or that line has no
		 * end), else nothing more would be read and this would go
		 * round for ever. */
		if (len - body > MSGSOURCE_INPUT_MAX || len >= MSGSOURCE_INPUT_MAX + step) {
			snprintf(name, sizeof(name), "%s:%u", path, ++n);
			err(name, "message too large (over the 50 MB of one message); skipped");
			status = -1;
			skipping = true;
			decided = 0;
			want = len;	/* look at what is here first */
			continue;
		}
		want = len * 2 > MSGSOURCE_INPUT_MAX + step ? MSGSOURCE_INPUT_MAX + step : len * 2;
	}
	free(win);
	return status;
}

/* The messages of the folder dir: its regular files in name order, but
 * for those whose names start with '.'.  Returns how many names there
 * were, or -1 when the folder cannot be read (errno); *status becomes -1
 * when one failed. */
static int
msgsource_walk_folder(const char *dir,
		      int (*fn)(const char *name, const char *data, size_t len, void *ctx),
		      void *ctx, void (*err)(const char *path, const char *why), int *status)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort), count = 0;

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char file[8192];

		if (names[i]->d_name[0] != '.') {
			struct stat est;

			count++;
			snprintf(file, sizeof(file), "%s/%s", dir, names[i]->d_name);
			/* Inside a folder only regular files are messages: a
			 * symlink to ".." made the walk exponential (two of
			 * them: 2^40 paths), and a FIFO there held the tool
			 * forever. */
			if (lstat(file, &est) < 0) {
				err(file, strerror(errno));
				*status = -1;
			} else if (!S_ISREG(est.st_mode)) {
				err(file, "not a regular file; skipped");
				*status = -1;
			} else if (msgsource_walk(file, fn, ctx, err) < 0) {
				*status = -1;
			}
		}
		free(names[i]);
	}
	free(names);
	return count;
}

int
msgsource_walk(const char *path,
	       int (*fn)(const char *name, const char *data, size_t len, void *ctx),
	       void *ctx, void (*err)(const char *path, const char *why))
{
	struct stat st;
	struct buf b;
	int status = 0, fd;

	if (stat(path, &st) < 0) {
		err(path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		static const char *const subs[] = { "cur", "new" };
		char dirs[2][4096];
		int unreadable[2] = { 0, 0 };	/* errno, 0 when read or absent */
		bool maildir = false;

		for (size_t s = 0; s < 2; s++) {
			snprintf(dirs[s], sizeof(dirs[s]), "%s/%s", path, subs[s]);
			if (msgsource_walk_folder(dirs[s], fn, ctx, err, &status) >= 0)
				maildir = true;
			else if (errno != ENOENT && errno != ENOTDIR)
				unreadable[s] = errno;
		}
		/* A Maildir with a cur/ (or new/) that can not be read has
		 * messages that were not read: said, and the exit status
		 * says so (it was skipped without a word). */
		for (size_t s = 0; s < 2 && maildir; s++) {
			if (unreadable[s] != 0) {
				err(dirs[s], strerror(unreadable[s]));
				status = -1;
			}
		}
		if (maildir)
			return status;
		/* Not a Maildir: a folder of message files (a Maildir's
		 * cur/ itself, say), as sa-learn reads one; one without
		 * any is not silently empty. */
		switch (msgsource_walk_folder(path, fn, ctx, err, &status)) {
		case -1:
			err(path, strerror(errno));
			return -1;
		case 0:
			err(path, "no messages in the folder (and no cur/ or new/)");
			return -1;
		default:
			return status;
		}
	}
	if ((fd = msgsource_open(path)) < 0) {
		err(path, strerror(errno));
		return -1;
	}
	/* An mbox bigger than one message may be is read message by
	 * message; other files are read whole (the limit is a message's). */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size > MSGSOURCE_INPUT_MAX) {
		char head[5];

		if (pread(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) &&
		    memcmp(head, "From ", 5) == 0) {
			status = msgsource_walk_mbox_stream(path, fd, fn, ctx, err);
			(void)close(fd);
			return status;
		}
	}
	buf_init(&b, MSGSOURCE_INPUT_MAX);
	if (msgsource_read_fd(fd, &b) < 0) {
		err(path, errno == EMSGSIZE ? "file too large (over the 50 MB of one message)"
			  : strerror(errno));
		buf_free(&b);
		(void)close(fd);
		return -1;
	}
	(void)close(fd);
	{
		struct scoring_mbox mb;
		const char *msg;
		size_t len;
		unsigned int count = scoring_mbox_count(b.data != NULL ? b.data : "", b.len);

		/* An empty file is no message: said, not skipped in silence. */
		if (b.len == 0) {
			err(path, "empty file, no message");
			status = -1;
		}
		scoring_mbox_init(&mb, b.data != NULL ? b.data : "", b.len);
		for (unsigned int i = 1; scoring_mbox_next(&mb, &msg, &len); i++) {
			char name[8192];

			if (count > 1)
				snprintf(name, sizeof(name), "%s:%u", path, i);
			else
				snprintf(name, sizeof(name), "%s", path);
			if (fn(name, msg, len, ctx) < 0)
				status = -1;
		}
		scoring_mbox_free(&mb);
	}
	buf_free(&b);
	return status;
}
