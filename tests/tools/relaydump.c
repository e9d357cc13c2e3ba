/* relaydump: prints what scoring/received.c makes of a message's Received
 * chain, in the format tests/tools/sa_relays.pl prints SpamAssassin's, so
 * the two can be diffed over a corpus.
 *
 * usage: relaydump [-n] [-P] [-c 'KEY VALUE']... MESSAGE...
 *        relaydump [-n] [-P] [-c 'KEY VALUE']... -l LINES
 *
 * -n turns the parser's prechecks off (the output must not change); -P
 * also holds every pattern against every Received line (blanks
 * collapsed, and from each word on) and reports a pattern that matches
 * although its precheck says it cannot (exit status 1).
 *
 * -c applies one settings line (trusted_networks, internal_networks,
 * msa_networks...).  The header section is split the way SpamAssassin's
 * Mail::SpamAssassin::Message does (continuations, at most three bad lines,
 * values cut at 8192 bytes, unfolded and trimmed); the synthetic
 * originating-IP lines of 10_default_prefs.cf's originating_ip_headers are
 * appended after the Received headers, as SpamAssassin does.  With -l,
 * each line of LINES is the one Received header of a message of its own
 * (named "line N"), as sa_relays.pl -l does. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "received.h"
#include "received_int.h"
#include "sa_settings.h"
#include "strlist.h"
#include "xalloc.h"

#define MAX_KEY 256
#define MAX_VALUE 8192

struct header {
	char *key;
	char *value;		/* decoded: unfolded, trimmed, no newlines */
	size_t len;
};

struct headers {
	struct header *v;
	size_t n, cap;
};

static char *
read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, got;

	if (f == NULL)
		return NULL;
	do {
		if (cap - len < 65536) {
			cap = cap == 0 ? 65536 : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
	} while (got > 0);
	fclose(f);
	buf[len] = '\0';
	*len_r = len;
	return buf;
}

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Mail::SpamAssassin::Message::Node::header() and _decode_header(): unfold,
 * trim, drop the remaining line ends.  Non-ASCII is left as it is
 * (SpamAssassin normalizes it to UTF-8). */
static void
headers_add(struct headers *h, const char *field, size_t flen)
{
	const char *colon = memchr(field, ':', flen);
	size_t klen, vlen, a, b, n = 0;
	const char *v;
	char *out;

	if (colon == NULL)
		return;
	klen = (size_t)(colon - field);
	while (klen > 0 && (field[klen - 1] == ' ' || field[klen - 1] == '\t'))
		klen--;
	if (klen > MAX_KEY)
		klen = MAX_KEY;
	v = colon + 1;
	vlen = flen - (size_t)(v - field);
	if (vlen > MAX_VALUE)
		vlen = MAX_VALUE;
	out = xmalloc(vlen + 1);
	for (size_t i = 0; i < vlen; i++) {
		if (v[i] == '\n' && i + 1 < vlen && (v[i + 1] == ' ' || v[i + 1] == '\t')) {
			out[n++] = ' ';
			while (i + 1 < vlen && (v[i + 1] == ' ' || v[i + 1] == '\t'))
				i++;
			continue;
		}
		out[n++] = v[i];
	}
	a = 0;
	b = n;
	while (b > 0 && is_ws(out[b - 1]))
		b--;
	while (a < b && is_ws(out[a]))
		a++;
	/* s/\015?\012//gs */
	n = 0;
	for (size_t i = a; i < b; i++) {
		if (out[i] == '\r' && i + 1 < b && out[i + 1] == '\n') {
			i++;
			continue;
		}
		if (out[i] == '\n')
			continue;
		out[n++] = out[i];
	}
	out[n] = '\0';
	if (h->n == h->cap) {
		h->cap = h->cap == 0 ? 32 : h->cap * 2;
		h->v = xreallocarray(h->v, h->cap, sizeof(*h->v));
	}
	h->v[h->n].key = xstrndup(field, klen);
	h->v[h->n].value = out;
	h->v[h->n].len = n;
	h->n++;
}

static bool
valid_field_start(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && line[i] >= 041 && line[i] <= 0176 && line[i] != ':')
		i++;
	if (i == 0)
		return false;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < len && line[i] == ':';
}

static void
split_headers(const char *msg, size_t len, struct headers *h)
{
	const char *p = msg, *end = msg + len;
	const char *field = NULL;
	size_t flen = 0;
	int errors = 0;

	if (len >= 5 && memcmp(msg, "From ", 5) == 0) {
		const char *nl = memchr(msg, '\n', len);

		p = nl == NULL ? end : nl + 1;
	}
	for (;;) {
		const char *nl, *line;
		size_t llen;
		bool eof = p >= end;

		if (eof) {
			line = "\n";
			llen = 1;
		} else {
			nl = memchr(p, '\n', (size_t)(end - p));
			line = p;
			llen = nl == NULL ? (size_t)(end - p) : (size_t)(nl - p) + 1;
			p += llen;
		}
		if (llen > 0 && (line[0] == ' ' || line[0] == '\t')) {
			if (field == NULL) {
				field = line;
				flen = 0;
			}
			flen = (size_t)(line + llen - field);
			continue;
		}
		if (field != NULL)
			headers_add(h, field, flen);
		field = NULL;
		if ((llen == 1 && line[0] == '\n') ||
		    (llen == 2 && line[0] == '\r' && line[1] == '\n'))
			break;
		if (llen >= 2 && line[0] == '-' && line[1] == '-')
			break;
		if (!valid_field_start(line, llen) && ++errors > 3)
			break;
		field = line;
		flen = llen;
		if (eof)
			break;
	}
}

static void
print_esc(const char *label, const char *s)
{
	fputs(label, stdout);
	fputc(' ', stdout);
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\\': fputs("\\\\", stdout); break;
		case '\n': fputs("\\n", stdout); break;
		case '\r': fputs("\\r", stdout); break;
		default: fputc(*s, stdout);
		}
	}
	fputc('\n', stdout);
}

static bool check_needs;
static unsigned long need_violations;

static void
check_subject(const char *s, size_t len)
{
	for (unsigned int id = 0; id < received_pattern_count(); id++) {
		unsigned int r = received_pattern_check(id, s, len);

		if (!(r & RECEIVED_CHECK_SAME) ||
		    ((r & RECEIVED_CHECK_MATCH) &&
		     (!(r & RECEIVED_CHECK_INDEX) || !(r & RECEIVED_CHECK_SCAN)))) {
			need_violations++;
			printf("precheck pattern %u %#x: %.*s\n", id, r, (int)len, s);
		}
	}
}

static void
check_line(const char *line, size_t len)
{
	char *c = xmalloc(len + 1);
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		bool sp = line[i] == ' ' || (line[i] >= '\t' && line[i] <= '\r');

		if (!sp)
			c[n++] = line[i];
		else if (n > 0 && c[n - 1] != ' ')
			c[n++] = ' ';
	}
	check_subject(line, len);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || c[i - 1] == ' ' || c[i - 1] == '(')
			check_subject(c + i, n - i);
	free(c);
}

static void
dump_message(const struct sa_settings *set, const char *name, const char *msg,
	     size_t len)
{
	struct headers h = { NULL, 0, 0 };
	struct strlist rcvd;
	struct relays r;

	split_headers(msg, len, &h);
	strlist_init(&rcvd);
	for (size_t i = 0; i < h.n; i++)
		if (strcasecmp(h.v[i].key, "received") == 0)
			strlist_add(&rcvd, h.v[i].value, h.v[i].len);
	for (size_t k = 0; received_originating_ip_headers_default[k] != NULL; k++) {
		const struct header *last = NULL;

		for (size_t i = 0; i < h.n; i++)
			if (strcasecmp(h.v[i].key, received_originating_ip_headers_default[k]) == 0)
				last = &h.v[i];
		if (last != NULL)
			(void)received_add_originating(&rcvd, last->value, last->len);
	}
	if (check_needs)
		for (size_t i = 0; i < rcvd.n; i++)
			check_line(rcvd.v[i].p, rcvd.v[i].len);
	received_parse(set, &rcvd, &r);
	printf("file %s\n", name);
	print_esc("trusted", r.str_trusted);
	print_esc("untrusted", r.str_untrusted);
	print_esc("internal", r.str_internal);
	print_esc("external", r.str_external);
	printf("unparseable %u\nlast_trusted %d\nlast_internal %d\n",
	       r.num_unparseable, r.last_trusted_index, r.last_internal_index);
	relays_free(&r);
	strlist_free(&rcvd);
	for (size_t i = 0; i < h.n; i++) {
		free(h.v[i].key);
		free(h.v[i].value);
	}
	free(h.v);
}

static void
dump_file(const struct sa_settings *set, const char *path)
{
	size_t len;
	char *msg = read_file(path, &len);

	if (msg == NULL) {
		perror(path);
		exit(1);
	}
	dump_message(set, path, msg, len);
	free(msg);
}

static void
dump_lines(const struct sa_settings *set, const char *path)
{
	size_t len, n = 0;
	char *all = read_file(path, &len);
	const char *p, *end;

	if (all == NULL) {
		perror(path);
		exit(1);
	}
	for (p = all, end = all + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t llen = nl == NULL ? (size_t)(end - p) : (size_t)(nl - p);
		/* the line may hold NULs: no printf */
		static const char head[] = "Received: ", tail[] = "\n\nbody\n";
		size_t mlen = sizeof(head) - 1 + llen + sizeof(tail) - 1;
		char *msg = xmalloc(mlen);
		char name[32];

		memcpy(msg, head, sizeof(head) - 1);
		memcpy(msg + sizeof(head) - 1, p, llen);
		memcpy(msg + sizeof(head) - 1 + llen, tail, sizeof(tail) - 1);
		snprintf(name, sizeof(name), "line %zu", ++n);
		dump_message(set, name, msg, mlen);
		free(msg);
		p += llen + 1;
	}
	free(all);
}

int
main(int argc, char **argv)
{
	struct sa_settings set;
	int i = 1;

	sa_settings_init(&set);
	for (; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0)
			received_prechecks_set(false);
		else if (strcmp(argv[i], "-P") == 0)
			check_needs = true;
		else
			break;
	}
	while (i + 1 < argc && strcmp(argv[i], "-c") == 0) {
		char *line = xstrdup(argv[i + 1]);
		char *sp = line + strcspn(line, " \t");
		const char *why = NULL;

		if (*sp != '\0')
			*sp++ = '\0';
		sp += strspn(sp, " \t");
		if (sa_settings_apply(&set, line, sp, &why) != 1) {
			fprintf(stderr, "relaydump: %s: %s\n", argv[i + 1],
				why != NULL ? why : "unknown setting");
			return 2;
		}
		free(line);
		i += 2;
	}
	if (i >= argc || (strcmp(argv[i], "-l") == 0 && i + 1 >= argc)) {
		fprintf(stderr, "usage: relaydump [-n] [-P] [-c 'KEY VALUE']... MESSAGE...\n"
			"       relaydump [-n] [-P] [-c 'KEY VALUE']... -l LINES\n");
		return 2;
	}
	received_init(true);
	if (strcmp(argv[i], "-l") == 0)
		dump_lines(&set, argv[i + 1]);
	else
		for (; i < argc; i++)
			dump_file(&set, argv[i]);
	sa_settings_free(&set);
	if (need_violations > 0) {
		fprintf(stderr, "relaydump: %lu precheck violations\n", need_violations);
		return 1;
	}
	return 0;
}
