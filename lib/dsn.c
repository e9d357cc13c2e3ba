/* dsn: the reply table of DESIGN.md, implemented once. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dsn.h"
#include "lmtpd_limits.h"
#include "utf8.h"

struct dsn_entry {
	int code;
	const char *status;
	const char *log_status;
	const char *reply;
};

static struct dsn_entry
dsn_entry(enum dsn_reason reason)
{
	switch (reason) {
	case DSN_DELIVERED:
		return (struct dsn_entry){ 250, "2.0.0", "sent", "Saved" };
	case DSN_DISCARDED:
		return (struct dsn_entry){ 250, "2.0.0", "discarded", "Saved" };
	case DSN_SENDER_OK:
		return (struct dsn_entry){ 250, "2.1.0", "sent", "Ok" };
	case DSN_RCPT_OK:
		return (struct dsn_entry){ 250, "2.1.5", "sent", "OK" };
	case DSN_UNKNOWN_USER:
		return (struct dsn_entry){ 550, "5.1.1", "bounced", "User unknown" };
	case DSN_BAD_ADDRESS:
		return (struct dsn_entry){ 501, "5.1.3", "bounced",
					   "Bad recipient address syntax" };
	case DSN_TOO_MANY_RCPTS:
		return (struct dsn_entry){ 452, "4.5.3", "deferred",
					   "Too many recipients" };
	case DSN_OVER_QUOTA:
		return (struct dsn_entry){ 552, "5.2.2", "bounced",
					   "Mailbox is full" };
	case DSN_OVER_QUOTA_TEMP:
		return (struct dsn_entry){ 452, "4.2.2", "deferred",
					   "Mailbox is full" };
	case DSN_TOO_LARGE:
		return (struct dsn_entry){ 552, "5.3.4", "bounced",
					   "Message too big for system" };
	case DSN_REJECTED:
		return (struct dsn_entry){ 550, "5.7.1", "bounced", "Rejected" };
	case DSN_DISK_FULL:
		return (struct dsn_entry){ 452, "4.3.1", "deferred",
					   "Insufficient system storage" };
	case DSN_TEMP_FAIL:
		return (struct dsn_entry){ 451, "4.3.0", "deferred",
					   "Temporary internal error" };
	case DSN_SHUTDOWN:
		return (struct dsn_entry){ 421, "4.3.2", "deferred",
					   "Service shutting down" };
	}
	return (struct dsn_entry){ 451, "4.3.0", "deferred", "Temporary internal error" };
}

void
dsn_set(struct dsn *dsn, enum dsn_reason reason, const char *fmt, ...)
{
	va_list ap;

	dsn->reason = reason;
	va_start(ap, fmt);
	vsnprintf(dsn->text, sizeof(dsn->text), fmt, ap);
	va_end(ap);
}

void
dsn_set_errno(struct dsn *dsn, int err, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	dsn->reason = err == ENOSPC || err == EDQUOT ? DSN_DISK_FULL : DSN_TEMP_FAIL;
	va_start(ap, fmt);
	vsnprintf(dsn->text, sizeof(dsn->text), fmt, ap);
	va_end(ap);
	len = strlen(dsn->text);
	snprintf(dsn->text + len, sizeof(dsn->text) - len, ": %s", strerror(err));
}

int
dsn_code(const struct dsn *dsn)
{
	return dsn_entry(dsn->reason).code;
}

const char *
dsn_status(const struct dsn *dsn)
{
	return dsn_entry(dsn->reason).status;
}

const char *
dsn_log_status(const struct dsn *dsn)
{
	return dsn_entry(dsn->reason).log_status;
}

bool
dsn_is_success(const struct dsn *dsn)
{
	return dsn_code(dsn) / 100 == 2;
}

/* The MTA copies the reply into bounces and its log: printable ASCII,
 * and with utf8 whole UTF-8 characters that neither end nor reorder a
 * line; '?' for every other byte. */
static void
dsn_sanitize(char *out, size_t out_size, const char *in, bool utf8)
{
	const unsigned char *u = (const unsigned char *)in;
	size_t o = 0, left = strlen(in);

	while (left > 0 && o + 1 < out_size) {
		uint32_t cp;
		size_t n = utf8 && *u >= 0x80 ? utf8_decode(u, left, &cp) : 0;

		if (n > 0 && !utf8_cp_disorders(cp)) {
			if (o + n >= out_size)
				break;
			memcpy(out + o, u, n);
			o += n;
		} else {
			out[o++] = (*u >= 0x20 && *u < 0x7f) ? (char)*u : '?';
			n = 1;
		}
		u += n;
		left -= n;
	}
	out[o] = '\0';
}

/* How many of the first len bytes of s (UTF-8 or sanitised ASCII) to
 * keep when at most room fit: never half a character. */
static size_t
dsn_cut(const char *s, size_t len, size_t room)
{
	if (len <= room)
		return len;
	while (room > 0 && ((unsigned char)s[room] & 0xc0) == 0x80)
		room--;
	return room;
}

void
dsn_reply(const struct dsn *dsn, const char *addr, const char *id, bool utf8, char *out,
	  size_t out_size)
{
	struct dsn_entry e = dsn_entry(dsn->reason);
	char text[DSN_TEXT_MAX], who[LMTP_PATH_MAX + 4] = "";
	char line[DSN_REPLY_LINE_MAX + 1];
	size_t room, len;
	int n;

	if (dsn->reason == DSN_REJECTED && dsn->text[0] != '\0')
		dsn_sanitize(text, sizeof(text), dsn->text, utf8);
	else
		snprintf(text, sizeof(text), "%s", e.reply);
	if (addr != NULL) {
		char a[LMTP_PATH_MAX + 1];

		dsn_sanitize(a, sizeof(a), addr, utf8);
		snprintf(who, sizeof(who), "<%s> ", a);
	}
	/* The whole line first (the longest address leaves room for its
	 * prefix), then as much of it as out holds: never half a character
	 * in either cut. */
	n = snprintf(line, sizeof(line), "%d %s %s%s%s", e.code, e.status, who,
		     id != NULL ? id : "", id != NULL ? " " : "");
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	/* A Sieve reason can be long: the text is cut so the line stays
	 * within RFC 5321's 512 octets. */
	room = (size_t)n < DSN_REPLY_LINE_MAX ? DSN_REPLY_LINE_MAX - (size_t)n : 0;
	len = (size_t)n + dsn_cut(text, strlen(text), room);
	memcpy(line + n, text, len - (size_t)n);
	if (out_size == 0)
		return;
	len = dsn_cut(line, len, out_size - 1);
	memcpy(out, line, len);
	out[len] = '\0';
}
