/* maildir_name: Sieve folder names to Maildir++ directories, IMAP flags to
 * Maildir info letters, and the subscriptions file.
 *
 * SECURITY: a folder name comes from a user's script.  Every byte is
 * checked before an on-disk name is produced, and the on-disk alphabet is
 * printable ASCII without '/' (modified UTF-7 only uses A-Z a-z 0-9 + , &
 * and '-'), so no name can leave the Maildir or hide as "." or "..".  The
 * subscriptions file is replaced atomically (write the lock file, fsync,
 * rename over the old one) and only ever opened under the Maildir's
 * directory fd with O_NOFOLLOW. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "maildir_dotlock.h"
#include "maildir_file.h"
#include "maildir_name.h"
#include "utf8.h"

/* Dovecot's dotlock on the subscriptions file. */
#define SUBS_FILE "subscriptions"
#define SUBS_LOCK "subscriptions.lock"
#define SUBS_V2_HEADER "V\t2\n\n"
/* A subscriptions file this big is not one lmtpd will rewrite. */
#define SUBS_FILE_MAX (4 * 1024 * 1024)

static const char mutf7_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

struct mutf7_out {
	char *p;
	size_t len, size;
	bool overflow;
};

static void
mutf7_put(struct mutf7_out *o, char c)
{
	if (o->len + 1 >= o->size) {
		o->overflow = true;
		return;
	}
	o->p[o->len++] = c;
}

/* Writes the UTF-16 units u[0..n) as modified base64 between '&' and '-'. */
static void
mutf7_put_run(struct mutf7_out *o, const uint16_t *u, size_t n)
{
	uint32_t bits = 0;
	int nbits = 0;

	mutf7_put(o, '&');
	for (size_t i = 0; i < n; i++) {
		bits = (bits << 16) | u[i];
		nbits += 16;
		while (nbits >= 6) {
			nbits -= 6;
			mutf7_put(o, mutf7_alphabet[(bits >> nbits) & 0x3f]);
		}
	}
	if (nbits > 0)
		mutf7_put(o, mutf7_alphabet[(bits << (6 - nbits)) & 0x3f]);
	mutf7_put(o, '-');
}

int
maildir_mutf7_encode(const char *utf8, size_t len, char *out, size_t out_size)
{
	const unsigned char *s = (const unsigned char *)utf8;
	struct mutf7_out o = { out, 0, out_size, false };
	/* A run of non-ASCII characters, as UTF-16; flushed at the next
	 * printable ASCII character.  UNSAFE: a run is at most len units
	 * (every UTF-8 sequence gives at most 2 units for 4 bytes). */
	uint16_t *run;
	size_t nrun = 0, i = 0;

	if (out_size == 0)
		return -1;
	run = malloc((len + 1) * sizeof(*run));
	if (run == NULL)
		return -1;
	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(s + i, len - i, &cp);

		if (n == 0) {
			free(run);
			return -1;
		}
		i += n;
		if (cp >= 0x20 && cp <= 0x7e) {
			if (nrun > 0) {
				mutf7_put_run(&o, run, nrun);
				nrun = 0;
			}
			mutf7_put(&o, (char)cp);
			if (cp == '&')
				mutf7_put(&o, '-');
		} else if (cp >= 0x10000) {
			cp -= 0x10000;
			run[nrun++] = (uint16_t)(0xd800 + (cp >> 10));
			run[nrun++] = (uint16_t)(0xdc00 + (cp & 0x3ff));
		} else {
			run[nrun++] = (uint16_t)cp;
		}
	}
	if (nrun > 0)
		mutf7_put_run(&o, run, nrun);
	free(run);
	if (o.overflow)
		return -1;
	out[o.len] = '\0';
	return (int)o.len;
}

static int
mutf7_value(char c)
{
	const char *p = c != '\0' ? strchr(mutf7_alphabet, c) : NULL;

	return p == NULL ? -1 : (int)(p - mutf7_alphabet);
}

/* Appends code point cp as UTF-8. */
static void
utf8_put(struct mutf7_out *o, uint32_t cp)
{
	if (cp < 0x80) {
		mutf7_put(o, (char)cp);
	} else if (cp < 0x800) {
		mutf7_put(o, (char)(0xc0 | (cp >> 6)));
		mutf7_put(o, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		mutf7_put(o, (char)(0xe0 | (cp >> 12)));
		mutf7_put(o, (char)(0x80 | ((cp >> 6) & 0x3f)));
		mutf7_put(o, (char)(0x80 | (cp & 0x3f)));
	} else {
		mutf7_put(o, (char)(0xf0 | (cp >> 18)));
		mutf7_put(o, (char)(0x80 | ((cp >> 12) & 0x3f)));
		mutf7_put(o, (char)(0x80 | ((cp >> 6) & 0x3f)));
		mutf7_put(o, (char)(0x80 | (cp & 0x3f)));
	}
}

int
maildir_mutf7_decode(const char *in, size_t len, char *out, size_t out_size)
{
	struct mutf7_out o = { out, 0, out_size, false };
	size_t i = 0;
	/* The previous input was a base64 run: another run right after it
	 * is not canonical (the encoder makes one run of both), and would
	 * give a second on-disk name for the same folder. */
	bool after_run = false;

	if (out_size == 0)
		return -1;
	while (i < len) {
		unsigned char c = (unsigned char)in[i];
		uint32_t bits = 0, high = 0;
		int nbits = 0;
		size_t units = 0;

		if (c < 0x20 || c > 0x7e)
			return -1;
		if (c != '&') {
			mutf7_put(&o, (char)c);
			i++;
			after_run = false;
			continue;
		}
		i++;
		if (i < len && in[i] == '-') {
			mutf7_put(&o, '&');
			i++;
			after_run = false;
			continue;
		}
		if (after_run)
			return -1;
		for (; i < len && in[i] != '-'; i++) {
			int v = mutf7_value(in[i]);

			if (v < 0)
				return -1;
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			{
				uint32_t u = (bits >> nbits) & 0xffff;

				units++;
				if (high != 0) {
					if (u < 0xdc00 || u > 0xdfff)
						return -1;
					utf8_put(&o, 0x10000 + ((high - 0xd800) << 10) +
						 (u - 0xdc00));
					high = 0;
				} else if (u >= 0xd800 && u <= 0xdbff) {
					high = u;
				} else if (u >= 0xdc00 && u <= 0xdfff) {
					return -1;
				} else if (u >= 0x20 && u <= 0x7e) {
					/* Printable ASCII must not be encoded. */
					return -1;
				} else {
					utf8_put(&o, u);
				}
			}
		}
		/* A run ends in '-', holds whole units, has no dangling high
		 * surrogate, and pads with zero bits only. */
		if (i >= len || units == 0 || high != 0 || nbits >= 6 ||
		    (bits & ((1u << nbits) - 1)) != 0)
			return -1;
		i++;
		after_run = true;
	}
	if (o.overflow)
		return -1;
	out[o.len] = '\0';
	return (int)o.len;
}

/* The problem with one level (UTF-8, not empty), or NULL. */
static const char *
name_level_problem(const char *s, size_t len, char sep)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	if (len == 0)
		return "empty hierarchy level";
	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(u + i, len - i, &cp);

		if (n == 0)
			return "invalid UTF-8";
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
			return "control character";
		/* as in addresses: IMAP clients show the decoded name, where
		 * these would show one folder under another's name */
		if (utf8_cp_disorders(cp))
			return "bidirectional formatting, line separator or invisible character";
		if (cp == '/')
			return "'/' in a folder name";
		if (cp == '.' && sep != '.')
			return "'.' in a folder name (folder_separator is '/')";
		if (cp == '*' || cp == '%')
			return "IMAP wildcard ('*' or '%') in a folder name";
		i += n;
	}
	return NULL;
}

int
maildir_name_to_disk(const char *name, char sep, char *out, size_t out_size,
		     const char **why_r)
{
	size_t len = strlen(name), o = 0, levels = 0;
	const char *p = name;

	*why_r = NULL;
	if (out_size == 0) {
		*why_r = "no room";
		return -1;
	}
	out[0] = '\0';
	if (sep != '.' && sep != '/') {
		*why_r = "bad folder separator";
		return -1;
	}
	if (len == 0) {
		*why_r = "empty folder name";
		return -1;
	}
	if (len > MAILDIR_FOLDER_NAME_MAX) {
		*why_r = "folder name too long";
		return -1;
	}
	if (strcasecmp(name, "INBOX") == 0)
		return 0;
	/* Dovecot refuses a mailbox name that begins with '~' ("Invalid
	 * mailbox name: Begins with '~'"): a copy filed there could never be
	 * read over IMAP. */
	if (name[0] == '~') {
		*why_r = "folder name begins with '~'";
		return -1;
	}
	for (;;) {
		const char *end = strchr(p, sep);
		size_t llen = end != NULL ? (size_t)(end - p) : strlen(p);
		char enc[MAILDIR_FOLDER_DISK_SIZE];
		int elen;

		if ((*why_r = name_level_problem(p, llen, sep)) != NULL) {
			out[0] = '\0';
			return -1;
		}
		if (++levels > MAILDIR_FOLDER_LEVELS_MAX) {
			*why_r = "too many hierarchy levels";
			out[0] = '\0';
			return -1;
		}
		/* "inbox.Sub" is INBOX's child "INBOX.Sub", as IMAP clients
		 * and Dovecot's mailbox_alloc() see it, not a folder of its
		 * own beside it. */
		if (levels == 1 && llen == 5 && strncasecmp(p, "INBOX", 5) == 0)
			elen = snprintf(enc, sizeof(enc), "INBOX");
		else
			elen = maildir_mutf7_encode(p, llen, enc, sizeof(enc));
		/* UNSAFE: o + 1 + elen < out_size is checked before the copy,
		 * and the on-disk bound before that. */
		if (elen < 0 || o + 1 + (size_t)elen > MAILDIR_FOLDER_DISK_MAX) {
			*why_r = "folder name too long on disk";
			out[0] = '\0';
			return -1;
		}
		if (o + 1 + (size_t)elen >= out_size) {
			*why_r = "no room";
			out[0] = '\0';
			return -1;
		}
		out[o++] = '.';
		memcpy(out + o, enc, (size_t)elen);
		o += (size_t)elen;
		out[o] = '\0';
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
}

int
maildir_name_from_disk(const char *disk, char sep, char *out, size_t out_size)
{
	size_t o = 0;
	const char *p;

	if (out_size == 0)
		return -1;
	if (disk[0] == '\0') {
		if (out_size < 6)
			return -1;
		memcpy(out, "INBOX", 6);
		return 0;
	}
	if (disk[0] != '.')
		return -1;
	p = disk + 1;
	for (;;) {
		const char *end = strchr(p, '.');
		size_t llen = end != NULL ? (size_t)(end - p) : strlen(p);
		int n;

		if (llen == 0)
			return -1;
		if (o > 0) {
			if (o + 1 >= out_size)
				return -1;
			out[o++] = sep;
		}
		n = maildir_mutf7_decode(p, llen, out + o, out_size - o);
		if (n < 0)
			return -1;
		o += (size_t)n;
		if (end == NULL)
			break;
		p = end + 1;
	}
	out[o] = '\0';
	return 0;
}

void
maildir_flags_from_imap(const char *const *flags, size_t count, char *out,
			size_t out_size, size_t *unknown_r)
{
	static const struct {
		const char *name;
		char letter;
	} map[] = {
		/* In Maildir's required (ASCII) order. */
		{ "\\Draft", 'D' }, { "\\Flagged", 'F' }, { "\\Answered", 'R' },
		{ "\\Seen", 'S' }, { "\\Deleted", 'T' },
	};
	bool set[N_ELEMENTS(map)] = { false };
	size_t unknown = 0, o = 0;

	for (size_t i = 0; i < count; i++) {
		size_t k;

		if (flags[i][0] != '\\' || strcasecmp(flags[i], "\\Recent") == 0)
			continue;
		for (k = 0; k < N_ELEMENTS(map); k++)
			if (strcasecmp(flags[i], map[k].name) == 0)
				break;
		if (k == N_ELEMENTS(map))
			unknown++;
		else
			set[k] = true;
	}
	for (size_t k = 0; k < N_ELEMENTS(map) && o + 1 < out_size; k++)
		if (set[k])
			out[o++] = map[k].letter;
	if (out_size > 0)
		out[o] = '\0';
	if (unknown_r != NULL)
		*unknown_r = unknown;
}

int
maildir_folder_state(const char *root, const char *disk)
{
	struct stat st;
	int fd, ret;

	if (disk[0] != '.' || strchr(disk, '/') != NULL)
		return -1;
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstatat(fd, disk, &st, AT_SYMLINK_NOFOLLOW) < 0)
		ret = errno == ENOENT ? 0 : -1;
	else
		ret = S_ISDIR(st.st_mode) ? 1 : -1;
	close_quietly(fd);
	return ret;
}

bool
maildir_folder_exists(const char *root, const char *disk)
{
	return maildir_folder_state(root, disk) == 1;
}

/* Whether the line list text[start..len) holds line exactly. */
static bool
subs_has_line(const char *text, size_t start, size_t len, const char *line)
{
	size_t llen = strlen(line);

	while (start < len) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;

		if (end - start == llen && memcmp(text + start, line, llen) == 0)
			return true;
		start = end + 1;
	}
	return false;
}

/* Drops every line of text[start..len) that is exactly line. */
static void
subs_drop_line(struct buf *text, size_t start, const char *line)
{
	size_t llen = strlen(line), in = start, out = start;

	while (in < text->len) {
		const char *nl = memchr(text->data + in, '\n', text->len - in);
		size_t end = nl != NULL ? (size_t)(nl - text->data) + 1 : text->len;
		size_t body = nl != NULL ? end - 1 - in : end - in;

		if (!(body == llen && memcmp(text->data + in, line, llen) == 0)) {
			memmove(text->data + out, text->data + in, end - in);
			out += end - in;
		}
		in = end;
	}
	text->len = out;
}

/* Adds (add) or removes the folder disk in root/subscriptions, rewritten
 * under its dotlock; *changed_r says whether the file changed. */
static int
subs_change(const char *root, const char *disk, bool add, bool *changed_r, char *error_r,
	    size_t error_size)
{
	char line[MAILDIR_FOLDER_DISK_SIZE];
	struct buf cur;
	struct maildir_dotlock lock;
	struct stat st;
	bool v2, locked = false;
	int dirfd, ret = -1;

	*changed_r = false;

	if (disk[0] != '.' || strlen(disk) >= sizeof(line) || strchr(disk, '/') != NULL ||
	    strchr(disk, '\n') != NULL) {
		snprintf(error_r, error_size, "bad folder name");
		return -1;
	}
	dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		snprintf(error_r, error_size, "open(%s) failed: %s", root, strerror(errno));
		return -1;
	}
	buf_init(&cur, SUBS_FILE_MAX);
	if (maildir_dotlock_take(dirfd, SUBS_LOCK, &lock) < 0) {
		snprintf(error_r, error_size, "lock %s/%s failed: %s", root, SUBS_LOCK,
			 strerror(errno));
		goto out;
	}
	locked = true;
	/* A folder there again (another delivery made it while this one
	 * took its own back) keeps its line: that delivery subscribed it
	 * only once it existed, so under this lock the check is final. */
	if (!add && fstatat(dirfd, disk, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		ret = 0;
		goto out;
	}
	/* (a missing file leaves cur empty) */
	if (maildir_read_regular(dirfd, SUBS_FILE, &cur, &st) < 0) {
		snprintf(error_r, error_size, "read %s/%s failed: %s", root, SUBS_FILE,
			 strerror(errno));
		goto out;
	}
	/* Dovecot 2.3 writes "V\t2" with levels separated by TAB; an older
	 * file lists one name per line with the '.' separator. */
	v2 = cur.len == 0 || (cur.len >= strlen(SUBS_V2_HEADER) &&
			       memcmp(cur.data, SUBS_V2_HEADER, strlen(SUBS_V2_HEADER)) == 0);
	snprintf(line, sizeof(line), "%s", disk + 1);
	if (v2)
		for (char *p = line; *p != '\0'; p++)
			if (*p == '.')
				*p = '\t';
	if (add == (cur.len > 0 && subs_has_line(cur.data, v2 ? strlen(SUBS_V2_HEADER) : 0,
						 cur.len, line))) {
		ret = 0;	/* as asked already */
		goto out;
	}
	if (!add)
		subs_drop_line(&cur, v2 ? strlen(SUBS_V2_HEADER) : 0, line);
	else if (cur.len == 0)
		buf_put_str(&cur, SUBS_V2_HEADER);
	else if (cur.data[cur.len - 1] != '\n')
		buf_put(&cur, "\n", 1);
	if (add && (buf_append_str(&cur, line) < 0 || buf_append(&cur, "\n", 1) < 0)) {
		snprintf(error_r, error_size, "%s/%s too large", root, SUBS_FILE);
		goto out;
	}
	if (write_full(lock.fd, cur.data, cur.len) < 0 || fsync(lock.fd) < 0) {
		snprintf(error_r, error_size, "write %s/%s failed: %s", root, SUBS_LOCK,
			 strerror(errno));
		goto out;
	}
	if (close_checked(lock.fd) < 0) {
		lock.fd = -1;
		snprintf(error_r, error_size, "close %s/%s failed: %s", root, SUBS_LOCK,
			 strerror(errno));
		goto out;
	}
	lock.fd = -1;
	if (maildir_dotlock_check(&lock) < 0) {
		snprintf(error_r, error_size, "%s/%s taken over by another process", root,
			 SUBS_LOCK);
		goto out;
	}
	if (renameat(dirfd, SUBS_LOCK, dirfd, SUBS_FILE) < 0) {
		snprintf(error_r, error_size, "rename(%s, %s) in %s failed: %s", SUBS_LOCK,
			 SUBS_FILE, root, strerror(errno));
		goto out;
	}
	maildir_dotlock_renamed(&lock);
	locked = false;
	*changed_r = true;
	if (fsync(dirfd) < 0) {
		snprintf(error_r, error_size, "fsync(%s) failed: %s", root, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	/* Our lock file holds nothing anybody needs; someone else's is
	 * never touched. */
	if (locked && maildir_dotlock_release(&lock) < 0 && ret == 0) {
		snprintf(error_r, error_size, "removing %s/%s failed: %s", root, SUBS_LOCK,
			 strerror(errno));
		ret = -1;
	}
	buf_free(&cur);
	close_quietly(dirfd);
	return ret;
}

int
maildir_subscribe(const char *root, const char *disk, bool *added_r, char *error_r,
		  size_t error_size)
{
	bool changed;
	int ret = subs_change(root, disk, true, &changed, error_r, error_size);

	if (added_r != NULL)
		*added_r = changed;
	return ret;
}

int
maildir_unsubscribe(const char *root, const char *disk, char *error_r, size_t error_size)
{
	bool changed;

	return subs_change(root, disk, false, &changed, error_r, error_size);
}
