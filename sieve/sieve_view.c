/* sieve_view: the message as libsieve's callbacks see it: the header
 * block as it will be stored (lmtpd's fields, then the message's own),
 * indexed once, values unfolded and (outside address fields) RFC 2047
 * decoded, looked up once per field name.  Every string handed to libsieve
 * lives until the view is freed, since libsieve keeps pointers past the
 * callback that returned them. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "message.h"
#include "sieve_int.h"
#include "xalloc.h"

/* Header fields whose values are addresses: handed to address tests raw,
 * because libsieve parses addresses out of them (a decoded display name
 * may hold ',' or '<'). */
static const char *const sieve_address_fields[] = {
	"from", "sender", "reply-to", "to", "cc", "bcc", "resent-from",
	"resent-sender", "resent-to", "resent-cc", "resent-bcc", "return-path",
	"delivered-to", "x-original-to", "envelope-to", "errors-to",
	"disposition-notification-to", "mail-followup-to", "mail-reply-to",
};

struct sieve_hcache {
	char *name;
	enum sieve_field_use use;
	char **values;		/* NULL-terminated; NULL: no such field */
};

struct sieve_view {
	const struct sieve_msg *msg;
	char *header;		/* the header block as stored */
	size_t header_len;
	struct message *parsed;
	struct sieve_hcache *cache;
	size_t cache_count;
	/* Strings handed to libsieve (freed with the view). */
	char **strings;
	size_t string_count;
};

char *
sieve_view_keep(struct sieve_view *v, char *s)
{
	v->strings = xreallocarray(v->strings, v->string_count + 1, sizeof(char *));
	v->strings[v->string_count++] = s;
	return s;
}

char **
sieve_view_one(struct sieve_view *v, char *s)
{
	char **one = xcalloc(2, sizeof(char *));

	one[0] = sieve_view_keep(v, s);
	return (char **)sieve_view_keep(v, (char *)one);
}

/* The header block of msg (its fields and the empty line after them, or
 * all of it when there is no such line): its first SIEVE_HEADER_VIEW_MAX
 * bytes go to b when b is not NULL; returns the length of its fields
 * alone (up to the end of the last field's line). */
static size_t
sieve_header_block(const struct sieve_msg *msg, struct buf *b)
{
	size_t total = 0, fields = 0;
	int nl = 0;

	for (int i = 0; i < msg->iovcnt && nl < 2; i++) {
		const char *p = msg->iov[i].iov_base;
		size_t len = msg->iov[i].iov_len, k;

		for (k = 0; k < len && nl < 2; k++) {
			if (p[k] == '\n') {
				if (nl++ == 0)
					fields = total + k + 1;
			} else if (p[k] != '\r')
				nl = 0;
		}
		if (b != NULL && total < SIEVE_HEADER_VIEW_MAX)
			buf_put(b, p, k < SIEVE_HEADER_VIEW_MAX - total ? k
				: SIEVE_HEADER_VIEW_MAX - total);
		total += k;
	}
	return nl == 2 ? fields : total;
}

bool
sieve_header_view_cut(const struct sieve_msg *msg)
{
	size_t total = 0;

	/* A message that fits needs no scan: every delivery but the rare
	 * huge one.  Fields that fit, and only the empty line after them
	 * not, leave the scripts nothing unseen. */
	for (int i = 0; i < msg->iovcnt; i++)
		total += msg->iov[i].iov_len;
	if (total <= SIEVE_HEADER_VIEW_MAX)
		return false;
	return sieve_header_block(msg, NULL) > SIEVE_HEADER_VIEW_MAX;
}

struct sieve_view *
sieve_view_new(const struct sieve_msg *msg)
{
	struct sieve_view *v = xcalloc(1, sizeof(*v));
	struct buf b;

	v->msg = msg;
	/* Copies the header block (up to the empty line) out of the
	 * segments: lmtpd's fields and the message's own, as stored. */
	buf_init(&b, 0);
	(void)sieve_header_block(msg, &b);
	v->header = buf_steal(&b, &v->header_len);
	if (v->header == NULL) {
		v->header = xstrdup("");
		v->header_len = 0;
	}
	v->parsed = message_parse(v->header, v->header_len);
	return v;
}

void
sieve_view_free(struct sieve_view **vp)
{
	struct sieve_view *v = *vp;

	if (v == NULL)
		return;
	for (size_t i = 0; i < v->cache_count; i++) {
		free(v->cache[i].name);
		free(v->cache[i].values);
	}
	free(v->cache);
	for (size_t i = 0; i < v->string_count; i++)
		free(v->strings[i]);
	free(v->strings);
	message_free(&v->parsed);
	free(v->header);
	free(v);
	*vp = NULL;
}

bool
sieve_is_address_field(const char *name)
{
	for (size_t i = 0; i < N_ELEMENTS(sieve_address_fields); i++)
		if (strcasecmp(name, sieve_address_fields[i]) == 0)
			return true;
	return false;
}

/* The unfolded, trimmed value of h, RFC 2047 encoded words decoded
 * (RFC 5228 2.7.2) when decode is set; not kept. */
static char *
sieve_field_value(struct sieve_view *v, const struct message_header *h, bool decode)
{
	size_t size = h->end - h->value_start + 1;
	char *raw = xmalloc(size);

	message_header_value(v->parsed, h, raw, size);
	if (decode && strstr(raw, "=?") != NULL) {
		char *dec = g_mime_utils_header_decode_text(NULL, raw);

		if (dec != NULL) {
			free(raw);
			raw = xstrdup(dec);
			g_free(dec);
		}
	}
	return raw;
}

/* The end of the comment, quoted string, domain literal or angle address
 * that starts at p (one past its closing character, or the end of the
 * value when it is not closed). */
static const char *
sieve_address_skip(const char *p)
{
	char open = *p;
	char close = open == '(' ? ')' : open == '"' ? '"' : open == '[' ? ']' : '>';
	unsigned int depth = 1;

	for (p++; *p != '\0'; p++) {
		if (*p == '\\' && open != '<' && p[1] != '\0')
			p++;
		else if (open == '(' && *p == '(')
			depth++;
		else if (open == '<' && (*p == '"' || *p == '(' || *p == '['))
			/* a quoted local part, a comment or a domain literal
			 * inside <>: a '>' there does not end it */
			p = sieve_address_skip(p) - 1;
		else if (*p == close && --depth == 0)
			return p + 1;
	}
	return p;
}

void
sieve_address_elements(const char *value, size_t max,
		       void (*add)(void *ctx, const char *start, size_t len), void *ctx)
{
	const char *p = value, *start = value;
	size_t count = 0;

	for (;;) {
		char c = *p;

		if (c == '(' || c == '"' || c == '[' || c == '<') {
			p = sieve_address_skip(p);
			continue;
		}
		if (c == ':') {
			/* "Team: a@b, c@d;": the group's name is no address */
			start = ++p;
			continue;
		}
		if (c == ',' || c == ';' || c == '\0') {
			const char *end = p;

			while (start < end && (*start == ' ' || *start == '\t'))
				start++;
			while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			if (end > start && count < max) {
				add(ctx, start, (size_t)(end - start));
				count++;
			}
			if (c == '\0')
				break;
			start = ++p;
			continue;
		}
		p++;
	}
}

struct sieve_values {
	struct sieve_view *view;
	char **values;
	size_t count;
};

static void
sieve_values_add(void *ctx, const char *start, size_t len)
{
	struct sieve_values *vs = ctx;

	vs->values = xreallocarray(vs->values, vs->count + 2, sizeof(char *));
	vs->values[vs->count++] = sieve_view_keep(vs->view, xstrndup(start, len));
	vs->values[vs->count] = NULL;
}

/* An address list's elements handed to an address test: bounded like the
 * fields themselves (by the header view). */
#define SIEVE_ADDRESS_ELEMENTS_MAX 10000

char **
sieve_view_lookup(struct sieve_view *v, const char *name, enum sieve_field_use use)
{
	struct sieve_hcache *c;
	struct sieve_values vs = { v, NULL, 0 };
	bool address_field = sieve_is_address_field(name);
	size_t i;

	/* A header test of another field is what it always was; an address
	 * test (its :count) splits any field it asks for. */
	if (!address_field && use == SIEVE_FIELD_DECODED)
		use = SIEVE_FIELD_PLAIN;
	for (i = 0; i < v->cache_count; i++)
		if (v->cache[i].use == use && strcasecmp(v->cache[i].name, name) == 0)
			return v->cache[i].values;
	for (i = 0; i < v->parsed->header_count; i++) {
		const struct message_header *h = &v->parsed->headers[i];
		char *value;

		if (h->name_len != strlen(name) ||
		    strncasecmp(v->parsed->data + h->start, name, h->name_len) != 0)
			continue;
		value = sieve_field_value(v, h, use == SIEVE_FIELD_DECODED ||
						  (use == SIEVE_FIELD_PLAIN && !address_field));
		if (use == SIEVE_FIELD_ADDRESSES) {
			sieve_address_elements(value, SIEVE_ADDRESS_ELEMENTS_MAX - vs.count,
					       sieve_values_add, &vs);
			free(value);
		} else {
			sieve_values_add(&vs, value, strlen(value));
			free(value);
		}
	}
	v->cache = xreallocarray(v->cache, v->cache_count + 1, sizeof(*v->cache));
	c = &v->cache[v->cache_count++];
	c->name = xstrdup(name);
	c->use = use;
	c->values = vs.values;
	return c->values;
}

const struct sieve_msg *
sieve_view_msg(const struct sieve_view *v)
{
	return v->msg;
}
