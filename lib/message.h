/* The received message: its bytes (LF line endings, as spooled) and an index
 * of its header fields, built once and read-only afterwards.  The message
 * does not own its bytes: the spool that produced them must outlive it.
 *
 * Header parsing is forgiving, as a delivery agent must be: the header
 * block ends at the first empty line, or at the first line that is neither
 * a field ("name:") nor a continuation; everything after is the body.  At
 * most MESSAGE_HEADERS_MAX fields are indexed; later ones stay in the bytes
 * but are not found by lookups (headers_truncated says so). */
#ifndef LMTPD_MESSAGE_H
#define LMTPD_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>
#include <time.h>
#include "compat.h"

struct message_header {
	size_t start;		/* offset of the field name */
	size_t name_len;
	size_t value_start;	/* first byte after the colon */
	size_t end;		/* one past the field's final LF (or data end) */
};

struct message {
	const char *data;
	size_t size;
	size_t body_offset;	/* first body byte (after the empty line) */
	struct message_header *headers;
	size_t header_count;
	bool headers_truncated;
};

/* Indexes data[0..size); never fails (a message with no header is one with
 * header_count 0).  Free with message_free(). */
struct message *message_parse(const char *data, size_t size);
void message_free(struct message **msg);

/* The size of the message in iov[0..iovcnt) with every bare LF as CRLF:
 * what Dovecot serves as RFC822.SIZE (a Maildir file's W=), and Sieve's
 * size test (RFC 5228 5.9: the message as RFC 5322 has it, lines ending
 * in CRLF); *size_r is its size as stored. */
size_t message_imap_size(const struct iovec *iov, int iovcnt, size_t *size_r);

/* Whether the line at p (left bytes) starts a header field ("Name:" or
 * the obsolete "Name :"); if so *name_len_r is the name's length. */
bool message_field_start(const char *p, size_t left, size_t *name_len_r);

/* The first field named name (case-insensitive), or NULL. */
const struct message_header *message_header_find(const struct message *msg,
						 const char *name);
/* The value of hdr unfolded (CR/LF of continuations removed, leading and
 * trailing white space trimmed), into out (NUL-terminated, cut to fit).
 * Returns the length written. */
size_t message_header_value(const struct message *msg,
			    const struct message_header *hdr, char *out,
			    size_t out_size);

/* RFC 5322 3.3 date-time of when, local time, into out (64 bytes are
 * enough); the epoch if the time can not be formatted. Returns out. */
char *message_format_date(char *out, size_t out_size, time_t when);

#endif
