/* sieve_text: the script text lmtpd hands to libsieve and the strings it
 * gets back: the end-of-script sentinel, the rewriting of setflag and
 * removeflag around libsieve's imap4flags bugs, the command markers that
 * tell which command runs (for error lines, libsieve's silent refusals
 * and the vacation arguments libsieve cuts or drops), and the undoing of
 * quoted-string escapes libsieve leaves in (see sieve_exec.c).
 *
 * The scanner only has to be right for scripts libsieve validated; on
 * anything else it must merely stay in bounds (it never reads past len). */
#include "config.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "sieve_int.h"
#include "xalloc.h"

static char sieve_sentinel_name[64];

const char *
sieve_sentinel(void)
{
	if (sieve_sentinel_name[0] == '\0') {
		unsigned char r[12];
		char *p;

		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
			/* Not secret, just unguessable by a script author;
			 * the pid and time are a poor but working fallback. */
			unsigned long long x = (unsigned long long)getpid() * 2654435761ULL ^
					       (unsigned long long)time(NULL);

			memcpy(r, &x, sizeof(x));
			memset(r + sizeof(x), 0x5a, sizeof(r) - sizeof(x));
		}
		p = sieve_sentinel_name + snprintf(sieve_sentinel_name,
						   sizeof(sieve_sentinel_name), "X-Lmtpd-End-");
		for (size_t i = 0; i < sizeof(r); i++)
			p += snprintf(p, 3, "%02x", r[i]);
	}
	return sieve_sentinel_name;
}

/* The prefix of the helper flags of sieve_rewrite_flags(). */
const char *
sieve_flag_prefix(void)
{
	static char prefix[80];

	if (prefix[0] == '\0')
		snprintf(prefix, sizeof(prefix), "$%s-", sieve_sentinel() + 2);
	return prefix;
}

/* s cut at max bytes (xstrndup copies exactly n bytes). */
char *
sieve_strdup_max(const char *s, size_t max)
{
	return xstrndup(s, strnlen(s, max));
}

/* A string as the script meant it: RFC 5228 2.4.2 escapes ("\\" and
 * "\"", and any other "\x" is "x") undone, unless it holds a line break
 * (a multi-line text: string, which has no escapes). */
char *
sieve_unescape(const char *in, size_t max)
{
	char *out;
	size_t o = 0;

	if (in == NULL)
		return NULL;
	if (strchr(in, '\n') != NULL)
		return sieve_strdup_max(in, max);
	out = xmalloc(strlen(in) + 1);
	for (const char *p = in; *p != '\0' && o < max; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		out[o++] = *p;
	}
	out[o] = '\0';
	return out;
}

char *
sieve_strdup_utf8(const char *s, size_t max)
{
	size_t n, lead, need;
	unsigned char c;

	if (s == NULL)
		return NULL;
	n = strnlen(s, max);
	/* Back over continuation bytes to the last lead byte; keep it only
	 * if its whole sequence is there. */
	lead = n;
	while (lead > 0 && n - lead < 4 && ((unsigned char)s[lead - 1] & 0xc0) == 0x80)
		lead--;
	if (lead > 0) {
		c = (unsigned char)s[lead - 1];
		need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		if (c >= 0xc0 && n - (lead - 1) < need)
			n = lead - 1;
	}
	return xstrndup(s, n);
}

static bool
sieve_ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

/* RFC 5228 2.2 tokens, as far as this file needs them. */
enum sieve_tok {
	SIEVE_TOK_END,
	SIEVE_TOK_SPACE,	/* white space or a comment */
	SIEVE_TOK_STRING,	/* "quoted" */
	SIEVE_TOK_TEXT,		/* text: ... . */
	SIEVE_TOK_TAG,		/* :name */
	SIEVE_TOK_IDENT,	/* a name, or a number with its K/M/G */
	SIEVE_TOK_OTHER,	/* one character: ; , [ ] { } ( ) ... */
};

/* The token at *i; advances *i past it. */
static enum sieve_tok
sieve_token(const char *text, size_t len, size_t *ip)
{
	size_t i = *ip, start = i;
	enum sieve_tok t;
	char c;

	if (i >= len)
		return SIEVE_TOK_END;
	c = text[i];
	if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
		while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' ||
				   text[i] == '\n'))
			i++;
		t = SIEVE_TOK_SPACE;
	} else if (c == '#') {
		while (i < len && text[i] != '\n')
			i++;
		t = SIEVE_TOK_SPACE;
	} else if (c == '/' && i + 1 < len && text[i + 1] == '*') {
		const char *end = memmem(text + i + 2, len - i - 2, "*/", 2);

		i = end != NULL ? (size_t)(end - text) + 2 : len;
		t = SIEVE_TOK_SPACE;
	} else if (c == '"') {
		for (i++; i < len && text[i] != '"'; i++)
			if (text[i] == '\\' && i + 1 < len)
				i++;
		if (i < len)
			i++;
		t = SIEVE_TOK_STRING;
	} else if (c == ':') {
		for (i++; i < len && sieve_ident_char(text[i]); i++)
			;
		t = SIEVE_TOK_TAG;
	} else if (sieve_ident_char(c)) {
		while (i < len && sieve_ident_char(text[i]))
			i++;
		t = SIEVE_TOK_IDENT;
		if (i - start == 4 && strncasecmp(text + start, "text", 4) == 0 &&
		    i < len && text[i] == ':' && !(c >= '0' && c <= '9')) {
			/* text: ... up to a line holding only ".". */
			const char *p = text + i, *end = text + len;

			t = SIEVE_TOK_TEXT;
			for (;;) {
				const char *nl = memchr(p, '\n', (size_t)(end - p));

				if (nl == NULL) {
					i = len;
					break;
				}
				p = nl + 1;
				if ((end - p >= 2 && p[0] == '.' && p[1] == '\n') ||
				    (end - p >= 3 && p[0] == '.' && p[1] == '\r' && p[2] == '\n')) {
					i = (size_t)(p - text) + 1;
					break;
				}
			}
		}
	} else {
		i++;
		t = SIEVE_TOK_OTHER;
	}
	*ip = i;
	return t;
}

/* The value of a STRING or TEXT token text[start..end): escapes undone
 * (RFC 5228 2.4.2), or the lines of a text: with dot-stuffing undone; at
 * most max bytes, cut at a whole UTF-8 character. */
static char *
sieve_token_value(const char *text, size_t start, size_t end, enum sieve_tok t, size_t max)
{
	struct buf b;
	char *raw, *out;

	buf_init(&b, 0);
	if (t == SIEVE_TOK_STRING) {
		/* Without the quotes (the closing one may be missing). */
		size_t stop = end > start + 1 && text[end - 1] == '"' ? end - 1 : end;

		for (size_t i = start + 1; i < stop && b.len <= max; i++) {
			if (text[i] == '\\' && i + 1 < stop)
				i++;
			buf_put(&b, text + i, 1);
		}
	} else {
		/* After the line of "text:", up to the line holding ".". */
		const char *p = memchr(text + start, '\n', end - start);
		const char *stop = text + end;

		/* The token ends with the "." of the last line, which is not
		 * part of the value (the line break before it is). */
		if (end - start >= 2 && stop[-1] == '.' && stop[-2] == '\n')
			stop--;
		for (p = p != NULL ? p + 1 : stop; p < stop && b.len <= max;) {
			const char *nl = memchr(p, '\n', (size_t)(stop - p));
			const char *eol = nl != NULL ? nl + 1 : stop;

			if (eol - p >= 2 && p[0] == '.' && p[1] == '.')
				p++;
			buf_put(&b, p, (size_t)(eol - p));
			p = eol;
		}
	}
	raw = buf_steal(&b, NULL);
	out = sieve_strdup_utf8(raw != NULL ? raw : "", max);
	free(raw);
	return out;
}

/* The next token that is not white space or a comment. */
static enum sieve_tok
sieve_token_solid(const char *text, size_t len, size_t *ip, size_t *start_r)
{
	enum sieve_tok t;

	do {
		*start_r = *ip;
		t = sieve_token(text, len, ip);
	} while (t == SIEVE_TOK_SPACE);
	return t;
}

static bool
sieve_tag_is(const char *text, size_t start, size_t end, const char *tag)
{
	return end - start == strlen(tag) && strncasecmp(text + start, tag, end - start) == 0;
}

/* The :subject, :from and :addresses of the vacation command whose arguments
 * start at i (RFC 5230 4: tags, then the reason, then ';'). */
static void
sieve_scan_vacation(const char *text, size_t len, size_t i, struct sieve_cmd *cmd)
{
	for (;;) {
		size_t start, tstart, tend;
		enum sieve_tok t = sieve_token_solid(text, len, &i, &start);

		if (t != SIEVE_TOK_TAG)
			break;	/* the reason, or the end of the command */
		tstart = start;
		tend = i;
		t = sieve_token_solid(text, len, &i, &start);
		if (sieve_tag_is(text, tstart, tend, ":subject") &&
		    (t == SIEVE_TOK_STRING || t == SIEVE_TOK_TEXT)) {
			free(cmd->subject);
			cmd->subject = sieve_token_value(text, start, i, t, 998);
		} else if (sieve_tag_is(text, tstart, tend, ":from") &&
			   (t == SIEVE_TOK_STRING || t == SIEVE_TOK_TEXT)) {
			free(cmd->from);
			cmd->from = sieve_token_value(text, start, i, t, SIEVE_ADDRESS_MAX);
		} else if (sieve_tag_is(text, tstart, tend, ":addresses")) {
			bool list = t == SIEVE_TOK_OTHER && text[start] == '[';

			if (list)
				t = sieve_token_solid(text, len, &i, &start);
			while (t == SIEVE_TOK_STRING || t == SIEVE_TOK_TEXT) {
				if (cmd->address_count < SIEVE_VACATION_ADDRESSES_MAX) {
					cmd->addresses = xreallocarray(cmd->addresses,
								       cmd->address_count + 1,
								       sizeof(char *));
					cmd->addresses[cmd->address_count++] =
						sieve_token_value(text, start, i, t,
								  SIEVE_ADDRESS_MAX);
				}
				if (!list)
					break;
				t = sieve_token_solid(text, len, &i, &start);
				if (t == SIEVE_TOK_OTHER && text[start] == ',')
					t = sieve_token_solid(text, len, &i, &start);
			}
		} else if (t == SIEVE_TOK_TAG) {
			/* A tag without an argument (:mime): look at this one
			 * again. */
			i = start;
		}
		/* Other tags' arguments (:days N, :handle) are
		 * skipped with them. */
	}
}

static const struct {
	const char *name;
	enum sieve_cmd_kind kind;
} sieve_cmd_names[] = {
	{ "keep", SIEVE_CMD_KEEP },
	{ "fileinto", SIEVE_CMD_FILEINTO },
	{ "redirect", SIEVE_CMD_REDIRECT },
	{ "reject", SIEVE_CMD_REJECT },
	{ "discard", SIEVE_CMD_DISCARD },
	{ "vacation", SIEVE_CMD_VACATION },
	{ "stop", SIEVE_CMD_STOP },
	{ "setflag", SIEVE_CMD_SETFLAG },
	{ "addflag", SIEVE_CMD_ADDFLAG },
	{ "removeflag", SIEVE_CMD_REMOVEFLAG },
	{ "if", SIEVE_CMD_IF },
	{ "elsif", SIEVE_CMD_IF },
};

const char *
sieve_cmd_name(enum sieve_cmd_kind kind)
{
	for (size_t i = 0; i < N_ELEMENTS(sieve_cmd_names); i++)
		if (sieve_cmd_names[i].kind == kind)
			return sieve_cmd_names[i].name;
	return "?";
}

size_t
sieve_cmd_marker_index(const char *name)
{
	const char *sentinel = sieve_sentinel();
	size_t slen = strlen(sentinel);
	unsigned long n = 0;
	const char *p;

	if (strncasecmp(name, sentinel, slen) != 0 || name[slen] != '-' ||
	    (name[slen + 1] != 'c' && name[slen + 1] != 'C'))
		return 0;
	p = name + slen + 2;
	if (*p < '0' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9' && n <= SIEVE_CMDS_MAX; p++)
		n = n * 10 + (unsigned long)(*p - '0');
	if (*p != '\0' || n >= SIEVE_CMDS_MAX)
		return 0;
	return (size_t)n + 1;
}

void
sieve_cmds_free(struct sieve_cmds *cmds)
{
	for (size_t i = 0; i < cmds->count; i++) {
		struct sieve_cmd *c = &cmds->v[i];

		free(c->subject);
		free(c->from);
		for (size_t k = 0; k < c->address_count; k++)
			free(c->addresses[k]);
		free(c->addresses);
	}
	free(cmds->v);
	memset(cmds, 0, sizeof(*cmds));
}

static unsigned int
sieve_count_lines(const char *p, size_t n)
{
	unsigned int lines = 0;

	for (const char *end = p + n; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
		lines++;
	return lines;
}

/* Whether the token [start, end) is a number (digits, then K, M or G)
 * above INT_MAX.  libsieve reads numbers into an int, so "size :over 2G"
 * became negative and held for every message. */
static bool
sieve_number_too_large(const char *text, size_t start, size_t end)
{
	uint64_t value = 0, mult = 1;
	size_t digits_end = end;

	if (start == end || text[start] < '0' || text[start] > '9')
		return false;
	switch (text[end - 1] & ~0x20) {	/* either case (RFC 5234 2.3) */
	case 'K':
		mult = 1024;
		digits_end--;
		break;
	case 'M':
		mult = 1024 * 1024;
		digits_end--;
		break;
	case 'G':
		mult = 1024 * 1024 * 1024;
		digits_end--;
		break;
	default:
		break;
	}
	for (size_t k = start; k < digits_end; k++) {
		if (text[k] < '0' || text[k] > '9')
			return false;
		/* stops growing past INT_MAX, so it stays below 2^35 */
		if (value <= INT_MAX)
			value = value * 10 + (uint64_t)(text[k] - '0');
	}
	/* (value * mult, up to 2^65, would wrap: "17179869184G" is 2^64) */
	return value > INT_MAX || value * mult > INT_MAX;
}

/* Whether the token [start, end) is a number with a lower-case
 * quantifier ("1k"): RFC 5228 8.1's "K" / "M" / "G" are ABNF strings,
 * which match either case, but libsieve's lexer knows only upper case. */
static bool
sieve_number_lower_quantifier(const char *text, size_t start, size_t end)
{
	char q = text[end - 1];

	return end - start >= 2 && text[start] >= '0' && text[start] <= '9' &&
	       (q == 'k' || q == 'm' || q == 'g');
}

/* Copies the token [start, end) of type t, a number too large for
 * libsieve as INT_MAX: larger than any message lmtpd hands it (the size
 * is capped there too), so the answers stay the script's. */
static void
sieve_put_token(struct buf *out, const char *text, size_t start, size_t end,
		enum sieve_tok t)
{
	if (t == SIEVE_TOK_IDENT && sieve_number_too_large(text, start, end)) {
		buf_putf(out, "%d", INT_MAX);
	} else if (t == SIEVE_TOK_IDENT && sieve_number_lower_quantifier(text, start, end)) {
		buf_put(out, text + start, end - start - 1);
		buf_putf(out, "%c", text[end - 1] & ~0x20);
	} else {
		buf_put(out, text + start, end - start);
	}
}

void
sieve_upcase_quantifiers(char *text, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t start = i;

		if (sieve_token(text, len, &i) == SIEVE_TOK_IDENT &&
		    sieve_number_lower_quantifier(text, start, i))
			text[i - 1] &= ~0x20;
	}
}

/* After the sentinel, '-' and prefix (NULL: none), the kind letter of a
 * field marker: what follows it, with *use_r, or NULL when name is no
 * such marker. */
static const char *
sieve_marker_kind(const char *name, char prefix, enum sieve_field_use *use_r)
{
	const char *sentinel = sieve_sentinel();
	size_t slen = strlen(sentinel);
	const char *p = name + slen + 1;

	if (strncasecmp(name, sentinel, slen) != 0 || name[slen] != '-')
		return NULL;
	if (prefix != '\0' && (*p++ | 0x20) != prefix)
		return NULL;
	switch (*p | 0x20) {
	case 'h':
		*use_r = SIEVE_FIELD_DECODED;
		return p + 1;
	case 'a':
		*use_r = SIEVE_FIELD_ADDRESSES;
		return p + 1;
	default:
		return NULL;
	}
}

const char *
sieve_count_marker(const char *name, enum sieve_field_use *use_r)
{
	return sieve_marker_kind(name, 'n', use_r);
}

const char *
sieve_field_marker(const char *name, enum sieve_field_use *use_r)
{
	const char *field = sieve_marker_kind(name, '\0', use_r);

	if (field != NULL)
		return field;
	*use_r = SIEVE_FIELD_PLAIN;
	return name;
}

/* The header names of the list at *ip (a string, or [ strings ]) joined
 * by ',' into names, *ip moved past the list; false for a list it does
 * not make out or a name a marker can not carry. */
static bool
sieve_field_list(const char *text, size_t len, size_t *ip, struct buf *names)
{
	size_t i = *ip, start;
	enum sieve_tok t = sieve_token_solid(text, len, &i, &start);
	bool list = t == SIEVE_TOK_OTHER && text[start] == '[';

	if (list)
		t = sieve_token_solid(text, len, &i, &start);
	for (;;) {
		char *name;
		bool plain;

		if (t != SIEVE_TOK_STRING || names->len > 1024)
			return false;
		name = sieve_token_value(text, start, i, t, 64);
		plain = name[0] != '\0' && strlen(name) < 64 && strpbrk(name, ",\"\\") == NULL;
		for (const char *c = name; plain && *c != '\0'; c++)
			plain = (unsigned char)*c > 0x20 && (unsigned char)*c < 0x7f;
		if (plain)
			buf_putf(names, "%s%s", names->len > 0 ? "," : "", name);
		free(name);
		if (!plain)
			return false;
		if (!list)
			break;
		t = sieve_token_solid(text, len, &i, &start);
		if (t == SIEVE_TOK_OTHER && text[start] == ']')
			break;
		if (t != SIEVE_TOK_OTHER || text[start] != ',')
			return false;
		t = sieve_token_solid(text, len, &i, &start);
	}
	*ip = i;
	return true;
}

static bool
sieve_tag_takes_string(const char *text, size_t start, size_t end)
{
	return sieve_tag_is(text, start, end, ":comparator") ||
	       sieve_tag_is(text, start, end, ":count") ||
	       sieve_tag_is(text, start, end, ":value");
}

static bool
sieve_tag_is_address_part(const char *text, size_t start, size_t end)
{
	return sieve_tag_is(text, start, end, ":all") ||
	       sieve_tag_is(text, start, end, ":localpart") ||
	       sieve_tag_is(text, start, end, ":domain") ||
	       sieve_tag_is(text, start, end, ":user") ||
	       sieve_tag_is(text, start, end, ":detail");
}

/* A :count test (header or address) whose name ended at *ip, as a
 * :value test of one field that holds the count (sieve_count_marker): the
 * same comparison of the number with the keys (RFC 5231 4.2), counted
 * over every name of the list and 0 for none, where libsieve counts each
 * name apart and an absent field not at all.  The address part goes (a
 * count has none).  Writes up to the keys; false (nothing written, *ip
 * unchanged) for a test it does not make out. */
static bool
sieve_rewrite_count(const char *text, size_t len, size_t *ip, unsigned int *line,
		    struct buf *out, char kind)
{
	size_t i = *ip, start, emitted = out->len;
	struct buf tags, names;
	enum sieve_tok t;
	bool count = false, ok = false;
	unsigned int spanned;

	buf_init(&tags, 0);
	buf_init(&names, 0);
	for (;;) {
		t = sieve_token_solid(text, len, &i, &start);
		if (t != SIEVE_TOK_TAG)
			break;
		if (sieve_tag_is(text, start, i, ":count")) {
			count = true;
			buf_put_str(&tags, " :value");
		} else if (!sieve_tag_is_address_part(text, start, i)) {
			buf_putf(&tags, " %.*s", (int)(i - start), text + start);
		}
		if (sieve_tag_takes_string(text, start, i)) {
			t = sieve_token_solid(text, len, &i, &start);
			if (t != SIEVE_TOK_STRING)
				goto done;
			buf_putf(&tags, " %.*s", (int)(i - start), text + start);
		}
	}
	i = start;
	if (!count || !sieve_field_list(text, len, &i, &names))
		goto done;
	buf_putf(out, "header%s \"%s-n%c%s\"", tags.data != NULL ? tags.data : "",
		 sieve_sentinel(), kind, names.data);
	/* at least the lines the test's start spanned, so the later
	 * commands stay on theirs */
	spanned = sieve_count_lines(text + *ip, i - *ip);
	for (unsigned int n = sieve_count_lines(out->data + emitted, out->len - emitted);
	     n < spanned; n++)
		buf_put(out, "\n", 1);
	*line += spanned;
	*ip = i;
	ok = true;
done:
	buf_free(&tags);
	buf_free(&names);
	return ok;
}

/* Copies the arguments of the header or address test whose name ended at
 * *ip, with each address field's name among its header names turned into
 * the name sieve_field_marker() reads back (kind 'h' or 'a'), so the
 * getheader callback knows which test asks.  Stops after the header
 * names, or at the first token that is none of these (the caller copies
 * it). */
static void
sieve_mark_fields(const char *text, size_t len, size_t *ip, unsigned int *line,
		  struct buf *out, char kind)
{
	size_t i = *ip, start;
	enum sieve_tok t;
	bool list = false, arg = false;

	for (;;) {
		start = i;
		t = sieve_token(text, len, &i);
		if (t == SIEVE_TOK_SPACE) {
			/* copied below */
		} else if (arg) {
			/* the argument of :comparator, :count or :value */
			arg = false;
		} else if (!list && t == SIEVE_TOK_TAG) {
			arg = sieve_tag_takes_string(text, start, i);
		} else if (!list && t == SIEVE_TOK_OTHER && text[start] == '[') {
			list = true;
		} else if (list && t == SIEVE_TOK_OTHER && text[start] == ',') {
			/* the next name */
		} else if (list && t == SIEVE_TOK_OTHER && text[start] == ']') {
			buf_put(out, "]", 1);
			break;
		} else if (t == SIEVE_TOK_STRING) {
			char *name = sieve_token_value(text, start, i, t, 64);

			if (sieve_is_address_field(name))
				buf_putf(out, "\"%s-%c%s\"", sieve_sentinel(), kind, name);
			else
				buf_put(out, text + start, i - start);
			free(name);
			*line += sieve_count_lines(text + start, i - start);
			if (list)
				continue;
			break;
		} else {
			/* not a header name: the caller copies it */
			i = start;
			break;
		}
		sieve_put_token(out, text, start, i, t);
		*line += sieve_count_lines(text + start, i - start);
	}
	*ip = i;
}

const char *
sieve_null_sender_field(void)
{
	static char name[80];

	if (name[0] == '\0')
		snprintf(name, sizeof(name), "%s-e", sieve_sentinel());
	return name;
}

/* The end of the string list (a string, or [ strings ]) that starts at
 * *ip, past white space; false when there is none.  With parts set, also
 * tells whether the list names "from" and anything else. */
static bool
sieve_skip_string_list(const char *text, size_t len, size_t *ip, bool *from_r, bool *other_r)
{
	size_t start;
	enum sieve_tok t = sieve_token_solid(text, len, ip, &start);
	bool list = t == SIEVE_TOK_OTHER && text[start] == '[';

	if (list)
		t = sieve_token_solid(text, len, ip, &start);
	for (;;) {
		if (t != SIEVE_TOK_STRING && t != SIEVE_TOK_TEXT)
			return false;
		if (from_r != NULL) {
			char *part = sieve_token_value(text, start, *ip, t, 64);

			if (strcasecmp(part, "from") == 0)
				*from_r = true;
			else
				*other_r = true;
			free(part);
		}
		if (!list)
			return true;
		t = sieve_token_solid(text, len, ip, &start);
		if (t == SIEVE_TOK_OTHER && text[start] == ']')
			return true;
		if (t != SIEVE_TOK_OTHER || text[start] != ',')
			return false;
		t = sieve_token_solid(text, len, ip, &start);
	}
}

/* For a message from the null sender, the envelope test whose name ended
 * at *ip: RFC 5228 5.4 matches the null reverse-path as the empty string
 * whatever the address part, but libsieve can not parse "" and never
 * matches.  So "from" is asked of a header test on a field that holds ""
 * (sieve_null_sender_field), without the address part:
 *   envelope TAGS "from" KEYS        -> header TAGS' "FIELD" KEYS
 *   envelope TAGS ["from","to"] KEYS -> anyof(header TAGS' "FIELD" KEYS,
 *                                            envelope TAGS "to" KEYS)
 * Returns false (nothing written, *ip unchanged) for a test it does not
 * make out. */
static bool
sieve_rewrite_null_envelope(const char *text, size_t len, size_t *ip, unsigned int *line,
			    struct buf *out)
{
	static const char *const address_parts[] = {
		":all", ":localpart", ":domain", ":user", ":detail",
	};
	size_t i = *ip, start, tags_start = *ip, parts_start, keys_start, emitted;
	unsigned int spanned;
	struct buf tags;
	enum sieve_tok t;
	bool from = false, other = false;

	buf_init(&tags, 0);
	for (;;) {
		bool address_part = false;

		t = sieve_token_solid(text, len, &i, &start);
		if (t != SIEVE_TOK_TAG)
			break;
		for (size_t k = 0; k < N_ELEMENTS(address_parts); k++)
			address_part |= sieve_tag_is(text, start, i, address_parts[k]);
		if (!address_part)
			buf_putf(&tags, " %.*s", (int)(i - start), text + start);
		if (sieve_tag_is(text, start, i, ":comparator") ||
		    sieve_tag_is(text, start, i, ":count") ||
		    sieve_tag_is(text, start, i, ":value")) {
			size_t astart;

			t = sieve_token_solid(text, len, &i, &astart);
			if (t != SIEVE_TOK_STRING) {
				buf_free(&tags);
				return false;
			}
			buf_putf(&tags, " %.*s", (int)(i - astart), text + astart);
		}
	}
	parts_start = start;
	i = start;
	if (!sieve_skip_string_list(text, len, &i, &from, &other)) {
		buf_free(&tags);
		return false;
	}
	keys_start = i;
	if (!sieve_skip_string_list(text, len, &i, NULL, NULL) || !from) {
		buf_free(&tags);
		return false;
	}
	emitted = out->len;
	if (other) {
		/* "to" is the one other part libsieve knows (validation
		 * refuses the rest: sieve_envelope_parts_ok). */
		buf_putf(out, "anyof(header%s \"%s\" %.*s, envelope%.*s \"to\" %.*s)",
			 tags.data != NULL ? tags.data : "", sieve_null_sender_field(),
			 (int)(i - keys_start), text + keys_start,
			 (int)(parts_start - tags_start), text + tags_start,
			 (int)(i - keys_start), text + keys_start);
	} else {
		buf_putf(out, "header%s \"%s\" %.*s", tags.data != NULL ? tags.data : "",
			 sieve_null_sender_field(), (int)(i - keys_start), text + keys_start);
	}
	/* As many lines as the test spanned (at least), so the later
	 * commands stay on their lines. */
	spanned = sieve_count_lines(text + *ip, i - *ip);
	for (unsigned int n = sieve_count_lines(out->data + emitted, out->len - emitted);
	     n < spanned; n++)
		buf_put(out, "\n", 1);
	*line += spanned;
	buf_free(&tags);
	*ip = i;
	return true;
}

/* Copies the test that starts at *ip (after an if or elsif) as
 * anyof(exists "MARKER", TEST) (as TEST for index SIZE_MAX), with its
 * header, address, :count and null-sender envelope tests rewritten: up
 * to the "{" of its block, outside parentheses and lists. */
static void
sieve_mark_test(const char *text, size_t len, size_t *ip, unsigned int *line,
		struct buf *out, size_t index, bool null_sender)
{
	size_t i = *ip;
	unsigned int depth = 0;

	if (index != SIZE_MAX)
		buf_putf(out, " anyof(exists \"%s-c%zu\", ", sieve_sentinel(), index);
	while (i < len) {
		size_t start = i;
		enum sieve_tok t = sieve_token(text, len, &i);

		if (t == SIEVE_TOK_OTHER) {
			char c = text[start];

			if (c == '{' && depth == 0) {
				i = start;
				break;
			}
			if (c == '(' || c == '[')
				depth++;
			else if ((c == ')' || c == ']') && depth > 0)
				depth--;
		}
		if (null_sender && t == SIEVE_TOK_IDENT &&
		    sieve_tag_is(text, start, i, "envelope") &&
		    sieve_rewrite_null_envelope(text, len, &i, line, out))
			continue;
		if (t == SIEVE_TOK_IDENT && (sieve_tag_is(text, start, i, "header") ||
					     sieve_tag_is(text, start, i, "address"))) {
			char kind = (text[start] | 0x20) == 'h' ? 'h' : 'a';

			if (sieve_rewrite_count(text, len, &i, line, out, kind))
				continue;
			buf_put(out, text + start, i - start);
			sieve_mark_fields(text, len, &i, line, out, kind);
			continue;
		}
		sieve_put_token(out, text, start, i, t);
		*line += sieve_count_lines(text + start, i - start);
	}
	if (index != SIZE_MAX)
		buf_put(out, ") ", 2);
	*ip = i;
}

bool
sieve_envelope_parts_ok(const char *text, size_t len, char *bad, size_t bad_size,
			unsigned int *line_r)
{
	size_t i = 0;

	while (i < len) {
		size_t start = i, tstart, tend;
		enum sieve_tok t = sieve_token(text, len, &i);
		bool list;

		if (t != SIEVE_TOK_IDENT || !sieve_tag_is(text, start, i, "envelope"))
			continue;
		*line_r = 1 + sieve_count_lines(text, start);
		/* Tags (RFC 5228 5.4): :comparator, and relational's :count and
		 * :value, take a string; the others stand alone. */
		while ((t = sieve_token_solid(text, len, &i, &tstart)) == SIEVE_TOK_TAG) {
			tend = i;
			if (sieve_tag_is(text, tstart, tend, ":comparator") ||
			    sieve_tag_is(text, tstart, tend, ":count") ||
			    sieve_tag_is(text, tstart, tend, ":value"))
				(void)sieve_token_solid(text, len, &i, &start);
		}
		list = t == SIEVE_TOK_OTHER && text[tstart] == '[';
		if (list)
			t = sieve_token_solid(text, len, &i, &tstart);
		while (t == SIEVE_TOK_STRING || t == SIEVE_TOK_TEXT) {
			char *part = sieve_token_value(text, tstart, i, t, 64);
			bool ok = strcasecmp(part, "from") == 0 || strcasecmp(part, "to") == 0;

			if (!ok) {
				snprintf(bad, bad_size, "%s", part);
				free(part);
				return false;
			}
			free(part);
			if (!list)
				break;
			t = sieve_token_solid(text, len, &i, &tstart);
			if (t == SIEVE_TOK_OTHER && text[tstart] == ',')
				t = sieve_token_solid(text, len, &i, &tstart);
		}
	}
	return true;
}

bool
sieve_requires_ok(const char *text, size_t len, char *why, size_t why_size,
		  unsigned int *line_r)
{
	static const char *const comparators[] = {
		"i;octet", "i;ascii-casemap", "i;ascii-numeric",
	};
	/* The match type of the test being read, and its comparator. */
	char match[16] = "", comparator[32] = "";
	size_t i = 0, start;

	*line_r = 1;
	while (i < len) {
		enum sieve_tok t;

		start = i;
		t = sieve_token(text, len, &i);
		if (t == SIEVE_TOK_SPACE || t == SIEVE_TOK_STRING || t == SIEVE_TOK_TEXT) {
			*line_r += sieve_count_lines(text + start, i - start);
			continue;
		}
		if (t == SIEVE_TOK_IDENT) {
			/* a new test (or command): its tags follow */
			match[0] = comparator[0] = '\0';
			continue;
		}
		if (t != SIEVE_TOK_TAG)
			continue;
		if (sieve_tag_is(text, start, i, ":contains") ||
		    sieve_tag_is(text, start, i, ":matches") ||
		    sieve_tag_is(text, start, i, ":regex")) {
			snprintf(match, sizeof(match), "%.*s", (int)(i - start), text + start);
		} else if (sieve_tag_is(text, start, i, ":comparator")) {
			char *name;
			bool known = false;

			do {
				start = i;
				t = sieve_token(text, len, &i);
				*line_r += sieve_count_lines(text + start, i - start);
			} while (t == SIEVE_TOK_SPACE);
			if (t != SIEVE_TOK_STRING)
				continue;	/* libsieve's parser says what is wrong */
			name = sieve_token_value(text, start, i, t, 64);
			for (size_t k = 0; k < N_ELEMENTS(comparators); k++)
				known |= strcasecmp(name, comparators[k]) == 0;
			if (!known) {
				snprintf(why, why_size, "unknown comparator \"%s\"", name);
				free(name);
				return false;
			}
			snprintf(comparator, sizeof(comparator), "%s", name);
			free(name);
		} else {
			continue;
		}
		/* RFC 4790 9.1: i;ascii-numeric has equality and ordering, no
		 * substring match (RFC 5228 2.7.3: an error). */
		if (match[0] != '\0' && strcasecmp(comparator, "i;ascii-numeric") == 0) {
			snprintf(why, why_size, "comparator \"i;ascii-numeric\" does not support %s",
				 match);
			return false;
		}
	}
	return true;
}

/* Whether the quoted-string token s[0..n) (s[0] is '"') has its closing
 * quote, scanned as sieve_token scans it. */
static bool
sieve_string_closed(const char *s, size_t n)
{
	size_t i;

	for (i = 1; i < n && s[i] != '"'; i++)
		if (s[i] == '\\' && i + 1 < n)
			i++;
	return i < n;
}

const char *
sieve_text_unterminated(const char *text, size_t len, unsigned int *line_r)
{
	size_t i = 0;

	while (i < len) {
		size_t start = i;
		enum sieve_tok t = sieve_token(text, len, &i);

		if ((t == SIEVE_TOK_SPACE && len - start >= 2 && text[start] == '/' &&
		     text[start + 1] == '*' &&
		     (i - start < 4 || text[i - 2] != '*' || text[i - 1] != '/')) ||
		    (t == SIEVE_TOK_STRING && !sieve_string_closed(text + start, i - start))) {
			*line_r = 1 + sieve_count_lines(text, start);
			return t == SIEVE_TOK_STRING ? "unterminated string" : "unterminated comment";
		}
	}
	return NULL;
}

void
sieve_rewrite(const char *text, size_t len, bool null_sender, struct buf *out,
	      struct sieve_cmds *cmds)
{
	size_t i = 0;
	unsigned int n = 0, line = 1;

	memset(cmds, 0, sizeof(*cmds));
	while (i < len) {
		size_t start = i;
		enum sieve_tok t = sieve_token(text, len, &i);
		size_t k;

		if (t == SIEVE_TOK_IDENT) {
			for (k = 0; k < N_ELEMENTS(sieve_cmd_names); k++)
				if (sieve_tag_is(text, start, i, sieve_cmd_names[k].name))
					break;
		} else {
			k = N_ELEMENTS(sieve_cmd_names);
		}
		if (k == N_ELEMENTS(sieve_cmd_names)) {
			sieve_put_token(out, text, start, i, t);
			line += sieve_count_lines(text + start, i - start);
			continue;
		}
		if (cmds->count < SIEVE_CMDS_MAX) {
			struct sieve_cmd *c;

			cmds->v = xreallocarray(cmds->v, cmds->count + 1, sizeof(*cmds->v));
			c = &cmds->v[cmds->count];
			memset(c, 0, sizeof(*c));
			c->kind = sieve_cmd_names[k].kind;
			c->line = line;
			if (c->kind == SIEVE_CMD_VACATION)
				sieve_scan_vacation(text, len, i, c);
			if (c->kind != SIEVE_CMD_IF)
				buf_putf(out, "if exists \"%s-c%zu\" {} ", sieve_sentinel(),
					 cmds->count);
			cmds->count++;
		} else {
			cmds->overflow = true;
		}
		switch (sieve_cmd_names[k].kind) {
		case SIEVE_CMD_IF:
			buf_put(out, text + start, i - start);
			/* The marker goes into the test: nothing can stand
			 * between a block and its elsif.  Past SIEVE_CMDS_MAX
			 * there is none, but the test means the same. */
			sieve_mark_test(text, len, &i, &line, out,
					cmds->overflow ? SIZE_MAX : cmds->count - 1, null_sender);
			break;
		case SIEVE_CMD_SETFLAG:
			n++;
			buf_putf(out, "addflag \"%s%u\"; removeflag \"%s%u\"; addflag",
				 sieve_flag_prefix(), n, sieve_flag_prefix(), n);
			break;
		case SIEVE_CMD_REMOVEFLAG:
			n++;
			buf_putf(out, "addflag \"%s%u\"; removeflag", sieve_flag_prefix(), n);
			break;
		default:
			buf_put(out, text + start, i - start);
			break;
		}
	}
}
