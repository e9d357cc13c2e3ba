/* message: header index over the spooled bytes.  One pass, bounded by the
 * message size and MESSAGE_HEADERS_MAX; no allocation proportional to
 * anything but the indexed field count. */
#include "config.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lmtpd_limits.h"
#include "message.h"
#include "xalloc.h"

/* RFC 5322 2.2: field names are printable ASCII except colon. */
bool
message_field_start(const char *p, size_t left, size_t *name_len_r)
{
	size_t i;

	for (i = 0; i < left; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == ':') {
			if (i == 0)
				return false;
			*name_len_r = i;
			return true;
		}
		if (c <= 32 || c >= 127)
			break;
	}
	/* "Name :" (white space before the colon) is obsolete syntax
	 * (RFC 5322 4.5.8) that real mail still carries. */
	if (i > 0 && i < left && (p[i] == ' ' || p[i] == '\t')) {
		size_t j = i;

		while (j < left && (p[j] == ' ' || p[j] == '\t'))
			j++;
		if (j < left && p[j] == ':') {
			*name_len_r = i;
			return true;
		}
	}
	return false;
}

struct message *
message_parse(const char *data, size_t size)
{
	struct message *msg = xcalloc(1, sizeof(*msg));
	size_t pos = 0, cap = 0;

	msg->data = data;
	msg->size = size;
	while (pos < size) {
		const char *line = data + pos;
		const char *nl;
		size_t name_len, end;

		if (line[0] == '\n') {
			pos++;
			break;
		}
		if (line[0] == '\r' && pos + 1 < size && line[1] == '\n') {
			pos += 2;
			break;
		}
		if (!message_field_start(line, size - pos, &name_len))
			break;
		/* The field runs until a line that does not start with WSP. */
		end = pos;
		for (;;) {
			nl = memchr(data + end, '\n', size - end);
			end = nl == NULL ? size : (size_t)(nl - data) + 1;
			if (end >= size || (data[end] != ' ' && data[end] != '\t'))
				break;
		}
		if (msg->header_count < MESSAGE_HEADERS_MAX) {
			struct message_header *h;
			size_t colon = pos + name_len;

			if (msg->header_count == cap) {
				cap = cap == 0 ? 32 : cap * 2;
				msg->headers = xreallocarray(msg->headers, cap,
							     sizeof(*msg->headers));
			}
			while (data[colon] != ':')
				colon++;
			h = &msg->headers[msg->header_count++];
			h->start = pos;
			h->name_len = name_len;
			h->value_start = colon + 1;
			h->end = end;
		} else {
			msg->headers_truncated = true;
		}
		pos = end;
	}
	msg->body_offset = pos;
	return msg;
}

void
message_free(struct message **msgp)
{
	if (*msgp == NULL)
		return;
	free((*msgp)->headers);
	free(*msgp);
	*msgp = NULL;
}

const struct message_header *
message_header_find(const struct message *msg, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < msg->header_count; i++) {
		const struct message_header *h = &msg->headers[i];

		if (h->name_len == len &&
		    strncasecmp(msg->data + h->start, name, len) == 0)
			return h;
	}
	return NULL;
}

size_t
message_header_value(const struct message *msg, const struct message_header *hdr,
		     char *out, size_t out_size)
{
	size_t i, o = 0;

	if (out_size == 0)
		return 0;
	for (i = hdr->value_start; i < hdr->end && o + 1 < out_size; i++) {
		char c = msg->data[i];

		if (c == '\r' || c == '\n')
			continue;
		if (o == 0 && (c == ' ' || c == '\t'))
			continue;
		out[o++] = c;
	}
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
		o--;
	out[o] = '\0';
	return o;
}

char *
message_format_date(char *out, size_t out_size, time_t when)
{
	struct tm tm;

	if (localtime_r(&when, &tm) == NULL ||
	    strftime(out, out_size, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		snprintf(out, out_size, "Thu, 01 Jan 1970 00:00:00 +0000");
	return out;
}

/* An LF already after a CR (a bare CR before the CRLF on the wire is
 * stored as "\r\n") stays one byte: counting it too makes Dovecot find
 * the file shorter than W= and drop the IMAP client mid-FETCH. */
size_t
message_imap_size(const struct iovec *iov, int iovcnt, size_t *size_r)
{
	size_t lf = 0, size = 0;
	char prev = '\0';

	for (int i = 0; i < iovcnt; i++) {
		const char *start = iov[i].iov_base, *p = start,
			   *end = start + iov[i].iov_len;

		if (iov[i].iov_len == 0)
			continue;
		size += iov[i].iov_len;
		while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			if ((p == start ? prev : p[-1]) != '\r')
				lf++;
			p++;
		}
		prev = end[-1];
	}
	*size_r = size;
	return size + lf;
}
