/* sieve_text: the script text lmtpd hands to libsieve and the strings it
 * gets back: the end-of-script sentinel, the rewriting of setflag and
 * removeflag around libsieve's imap4flags bugs, and the undoing of
 * quoted-string escapes libsieve leaves in (see sieve_exec.c). */
#include "config.h"

#include <stdbool.h>
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

static bool
sieve_ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

/* Rewrites the setflag and removeflag commands of text (see the top of
 * this file) without changing line numbers: comments, quoted strings,
 * multi-line strings and tags are copied as they are. */
void
sieve_rewrite_flags(const char *text, size_t len, struct buf *out)
{
	size_t i = 0;
	unsigned int n = 0;

	while (i < len) {
		char c = text[i];
		size_t start = i;

		if (c == '#') {
			while (i < len && text[i] != '\n')
				i++;
		} else if (c == '/' && i + 1 < len && text[i + 1] == '*') {
			const char *end = memmem(text + i + 2, len - i - 2, "*/", 2);

			i = end != NULL ? (size_t)(end - text) + 2 : len;
		} else if (c == '"') {
			for (i++; i < len && text[i] != '"'; i++)
				if (text[i] == '\\' && i + 1 < len)
					i++;
			if (i < len)
				i++;
		} else if (c == ':') {
			/* A tag such as :flags. */
			for (i++; i < len && sieve_ident_char(text[i]); i++)
				;
		} else if (sieve_ident_char(c) && !(c >= '0' && c <= '9')) {
			size_t ilen;

			while (i < len && sieve_ident_char(text[i]))
				i++;
			ilen = i - start;
			if (ilen == 4 && strncasecmp(text + start, "text", 4) == 0 &&
			    i < len && text[i] == ':') {
				/* text: ... up to a line holding only ".". */
				const char *p = text + i, *end = text + len;

				for (;;) {
					const char *nl = memchr(p, '\n', (size_t)(end - p));

					if (nl == NULL) {
						i = len;
						break;
					}
					p = nl + 1;
					if ((end - p >= 2 && p[0] == '.' && p[1] == '\n') ||
					    (end - p >= 3 && p[0] == '.' && p[1] == '\r' &&
					     p[2] == '\n')) {
						i = (size_t)(p - text) + 1;
						break;
					}
				}
			} else if (ilen == 7 && strncasecmp(text + start, "setflag", 7) == 0) {
				n++;
				buf_putf(out, "addflag \"%s%u\"; removeflag \"%s%u\"; addflag",
					 sieve_flag_prefix(), n, sieve_flag_prefix(), n);
				continue;
			} else if (ilen == 10 &&
				   strncasecmp(text + start, "removeflag", 10) == 0) {
				n++;
				buf_putf(out, "addflag \"%s%u\"; removeflag", sieve_flag_prefix(), n);
				continue;
			}
		} else {
			i++;
		}
		buf_put(out, text + start, i - start);
	}
}
