/* Delivery outcomes.  A struct dsn is what happened to one recipient (or to
 * one RCPT command): a reason from the closed list below plus free text for
 * the log.  The reason alone decides the SMTP code, the RFC 3463 status and
 * the log's status= word; that mapping is the reply table of DESIGN.md and
 * lives in exactly one switch, in dsn.c. */
#ifndef LMTPD_DSN_H
#define LMTPD_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include "compat.h"

enum dsn_reason {
	DSN_DELIVERED,		/* 250 2.0.0 */
	DSN_DISCARDED,		/* 250 2.0.0, status=discarded */
	DSN_SENDER_OK,		/* 250 2.1.0 at MAIL */
	DSN_RCPT_OK,		/* 250 2.1.5 at RCPT */
	DSN_UNKNOWN_USER,	/* 550 5.1.1 */
	DSN_BAD_ADDRESS,	/* 501 5.1.3 */
	DSN_TOO_MANY_RCPTS,	/* 452 4.5.3 */
	DSN_OVER_QUOTA,		/* 552 5.2.2 */
	DSN_OVER_QUOTA_TEMP,	/* 452 4.2.2 */
	DSN_TOO_LARGE,		/* 552 5.3.4 */
	DSN_REJECTED,		/* 550 5.7.1, reply text from the Sieve script */
	DSN_DISK_FULL,		/* 452 4.3.1: ENOSPC, EDQUOT */
	DSN_TEMP_FAIL,		/* 451 4.3.0: anything else transient */
	DSN_SHUTDOWN,		/* 421 4.3.2 */
};

#define DSN_TEXT_MAX 512
/* A reply line without its CRLF (RFC 5321 4.5.3.1.5: 512 with it). */
#define DSN_REPLY_LINE_MAX 510

struct dsn {
	enum dsn_reason reason;
	/* For the log (what failed, with the errno text); for DSN_REJECTED
	 * also the reason given to the MTA. */
	char text[DSN_TEXT_MAX];
};

void dsn_set(struct dsn *dsn, enum dsn_reason reason, const char *fmt, ...)
	ATTR_PRINTF(3, 4);
/* ENOSPC and EDQUOT give DSN_DISK_FULL, every other errno DSN_TEMP_FAIL;
 * the text is fmt followed by ": " and strerror(err). */
void dsn_set_errno(struct dsn *dsn, int err, const char *fmt, ...)
	ATTR_PRINTF(3, 4);

int dsn_code(const struct dsn *dsn);
const char *dsn_status(const struct dsn *dsn);	/* "2.0.0" */
/* The log's status= word: sent, deferred, bounced or discarded. */
const char *dsn_log_status(const struct dsn *dsn);
bool dsn_is_success(const struct dsn *dsn);

/* One LMTP reply line without CRLF, e.g.
 * "250 2.0.0 <a@b> 1A2B3C4D Saved", at most DSN_REPLY_LINE_MAX
 * characters (the text is cut); addr and id may be NULL.  The text is
 * fixed per reason so internal paths never reach the MTA, except for
 * DSN_REJECTED whose (sanitised) text is the script's reason.  Beyond
 * printable ASCII, utf8 (an SMTPUTF8 transaction, RFC 6531 3.7.4.2)
 * keeps UTF-8 characters in the address and that text; each other byte
 * becomes '?'. */
void dsn_reply(const struct dsn *dsn, const char *addr, const char *id, bool utf8,
	       char *out, size_t out_size);

#endif
