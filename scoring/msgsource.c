/* msgsource: walks files, mbox files and Maildirs for the tools. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "msgsource.h"
#include "scoring.h"

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

static int
msgsource_read_file(const char *path, struct buf *out)
{
	/* O_NONBLOCK: open() of a FIFO without a writer would wait forever
	 * (silently); opened this way, a FIFO that has a writer (bash's
	 * <(cmd)) is still read to its end, one without reads as empty. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	int ret, flags, saved;

	if (fd < 0)
		return -1;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	ret = msgsource_read_fd(fd, out);
	saved = errno;
	(void)close(fd);
	errno = saved;
	return ret;
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
	int status = 0;

	if (stat(path, &st) < 0) {
		err(path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		static const char *const subs[] = { "cur", "new" };
		bool maildir = false;

		for (size_t s = 0; s < 2; s++) {
			char dir[4096];

			snprintf(dir, sizeof(dir), "%s/%s", path, subs[s]);
			if (msgsource_walk_folder(dir, fn, ctx, err, &status) >= 0)
				maildir = true;
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
	buf_init(&b, MSGSOURCE_INPUT_MAX);
	if (msgsource_read_file(path, &b) < 0) {
		/* XXX: an mbox is read whole, so the limit is the file's,
		 * not each message's (lmtpd-learn(1)) */
		err(path, errno == EMSGSIZE ? "file too large (over the 50 MB read of one "
			  "file; split an mbox into smaller files)" : strerror(errno));
		buf_free(&b);
		return -1;
	}
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
