/* dsn: the reply table of DESIGN.md, implemented once. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dsn.h"
#include "lmtpd_limits.h"

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

/* The MTA copies the reply into bounces and its log: only printable ASCII. */
static void
dsn_sanitize(char *out, size_t out_size, const char *in)
{
	size_t o = 0;

	for (; *in != '\0' && o + 1 < out_size; in++)
		out[o++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
	out[o] = '\0';
}

void
dsn_reply(const struct dsn *dsn, const char *addr, const char *id, char *out,
	  size_t out_size)
{
	struct dsn_entry e = dsn_entry(dsn->reason);
	char text[DSN_TEXT_MAX], who[LMTP_PATH_MAX + 4] = "";
	size_t room;
	int n;

	if (dsn->reason == DSN_REJECTED && dsn->text[0] != '\0')
		dsn_sanitize(text, sizeof(text), dsn->text);
	else
		snprintf(text, sizeof(text), "%s", e.reply);
	if (addr != NULL) {
		char a[LMTP_PATH_MAX + 1];

		dsn_sanitize(a, sizeof(a), addr);
		snprintf(who, sizeof(who), "<%s> ", a);
	}
	n = snprintf(out, out_size, "%d %s %s%s%s", e.code, e.status, who,
		     id != NULL ? id : "", id != NULL ? " " : "");
	if (n < 0 || (size_t)n >= out_size)
		return;
	/* A Sieve reason can be long: the text is cut so the line stays
	 * within RFC 5321's 512 octets. */
	room = (size_t)n < DSN_REPLY_LINE_MAX ? DSN_REPLY_LINE_MAX - (size_t)n : 0;
	snprintf(out + n, out_size - (size_t)n, "%.*s", (int)room, text);
}
