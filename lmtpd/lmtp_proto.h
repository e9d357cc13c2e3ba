/* The LMTP protocol engine (RFC 2033, with RFC 5321 where LMTP inherits it,
 * RFC 1870 SIZE, RFC 3030 CHUNKING, RFC 3461 DSN parameters, RFC 6531
 * SMTPUTF8): bytes in, events and queued replies out, no sockets, so it can
 * be fuzzed and unit-tested byte by byte.
 *
 * Use:
 *   lmtp_proto_input_space() / lmtp_proto_input_commit()  feed bytes;
 *   lmtp_proto_next()  returns the next event, LMTP_EV_NONE when more input
 *                      is needed (or the output must be drained first);
 *   lmtp_proto_output() / lmtp_proto_output_consume()  replies to send.
 * MAIL, RCPT and DATA_START events wait for the caller's decision
 * (lmtp_proto_mail_reply, lmtp_proto_rcpt_reply, lmtp_proto_data_reply);
 * DATA_END waits for one lmtp_proto_final_reply() per accepted recipient,
 * in RCPT order.  Calling lmtp_proto_next() while a decision is owed is a
 * bug (log_panic).
 *
 * Data policy (LMTP_DATA_POLICY): only CRLF "." CRLF ends DATA.  A bare LF
 * or bare CR never starts a line for dot-unstuffing or for the end of data
 * (no SMTP smuggling).  CRLF is stored as LF, as Maildir readers expect; a
 * bare LF is stored as LF (it is a line end to every Maildir reader); a bare
 * CR and NUL bytes are stored unchanged.  BDAT data gets the same CRLF->LF
 * conversion and no dot handling. */
#ifndef LMTPD_LMTP_PROTO_H
#define LMTPD_LMTP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "compat.h"
#include "lmtpd_limits.h"

/* What of a refused command line is kept for the log. */
#define LMTP_REFUSED_LINE_MAX 300

enum lmtp_event_type {
	LMTP_EV_NONE,
	LMTP_EV_LHLO,		/* arg: the client's name; ends any transaction */
	LMTP_EV_MAIL,		/* mail: needs lmtp_proto_mail_reply() */
	LMTP_EV_RCPT,		/* rcpt: needs lmtp_proto_rcpt_reply() */
	LMTP_EV_RCPT_REFUSED,	/* rcpt refused here, arg: the reply queued (to log) */
	LMTP_EV_COMMAND_REFUSED,	/* a MAIL or RCPT the parser refused (to log);
				 * arg: the reply queued, data/len: the command
				 * line (cut to LMTP_REFUSED_LINE_MAX) */
	LMTP_EV_DATA_START,	/* needs lmtp_proto_data_reply() */
	LMTP_EV_DATA_CHUNK,	/* data, len: message bytes, LF line ends */
	LMTP_EV_DATA_END,	/* needs one lmtp_proto_final_reply() per rcpt */
	LMTP_EV_RSET,		/* the transaction is gone (RSET, failed BDAT) */
	LMTP_EV_CLOSE,		/* send what is queued, then close; arg: why the
				 * engine ends the session with 421 (to log),
				 * NULL after QUIT */
};

enum lmtp_notify {
	LMTP_NOTIFY_NEVER = 1,
	LMTP_NOTIFY_SUCCESS = 2,
	LMTP_NOTIFY_FAILURE = 4,
	LMTP_NOTIFY_DELAY = 8,
};

struct lmtp_mail {
	char sender[260];	/* "" for the null sender */
	uint64_t size;		/* SIZE=, 0 if not given */
	bool body_8bit;		/* BODY=8BITMIME */
	bool smtputf8;
	bool ret_hdrs;		/* RET=HDRS */
	bool ret_full;		/* RET=FULL (neither: RET not given) */
	char envid[101];	/* ENVID=, decoded; RFC 3461 caps it at 100 */
};

struct lmtp_rcpt {
	char addr[260];
	/* ORCPT= address, decoded (never longer than its xtext, at most
	 * LMTP_ORCPT_MAX); "" if none */
	char orcpt[LMTP_ORCPT_MAX + 1];
	unsigned int notify;	/* enum lmtp_notify bits, 0 if not given */
};

struct lmtp_event {
	enum lmtp_event_type type;
	const char *arg;
	const struct lmtp_mail *mail;
	const struct lmtp_rcpt *rcpt;
	const char *data;
	size_t len;
	bool bdat;		/* DATA_START/END: the transfer is BDAT */
};

struct lmtp_proto_settings {
	const char *hostname;
	uint64_t max_message_size;	/* 0 = none; checked against SIZE= */
	unsigned int max_recipients;
	unsigned int max_errors;
};

struct lmtp_proto;

/* settings is copied (hostname too). */
struct lmtp_proto *lmtp_proto_new(const struct lmtp_proto_settings *settings);
void lmtp_proto_free(struct lmtp_proto **p);

/* Where the next input goes and how much fits; space is 0 when the buffer
 * is full of unprocessed input (call lmtp_proto_next first). */
char *lmtp_proto_input_space(struct lmtp_proto *p, size_t *space_r);
void lmtp_proto_input_commit(struct lmtp_proto *p, size_t n);
/* True when unprocessed input is buffered. */
bool lmtp_proto_has_input(const struct lmtp_proto *p);
/* The peer closed its side: any transaction in progress is abandoned. */
void lmtp_proto_input_eof(struct lmtp_proto *p);

struct lmtp_event lmtp_proto_next(struct lmtp_proto *p);

void lmtp_proto_mail_reply(struct lmtp_proto *p, bool accepted, const char *reply);
void lmtp_proto_rcpt_reply(struct lmtp_proto *p, bool accepted, const char *reply);
/* For DATA: a 354 is sent when accepted, else reply.  For BDAT: when refused
 * the chunk is read and discarded, reply answers it, and the transaction is
 * reset (RFC 3030 section 2: no more chunks after a failure). */
void lmtp_proto_data_reply(struct lmtp_proto *p, bool accepted, const char *reply);
void lmtp_proto_final_reply(struct lmtp_proto *p, const char *reply);
/* Queues one raw reply line (CRLF added), e.g. the greeting. */
void lmtp_proto_reply(struct lmtp_proto *p, const char *reply);

/* Between transactions: queue "421" and close.  Returns false (and does
 * nothing) while a transaction is in progress. */
bool lmtp_proto_shutdown(struct lmtp_proto *p, const char *reply);
bool lmtp_proto_in_transaction(const struct lmtp_proto *p);
/* True while the data of an accepted DATA or BDAT is read: the DATA
 * deadline and the byte count apply. A refused BDAT chunk, read only to be
 * discarded, is not: no DATA started, so there is nothing to count from. */
bool lmtp_proto_in_data(const struct lmtp_proto *p);
/* True while part of a command line is in (or an over-long one is being
 * skipped), its end not yet: the session bounds how long a line may take. */
bool lmtp_proto_partial_command(const struct lmtp_proto *p);
/* True when the input ends in the middle of a command line (complete
 * lines waiting to be run do not count): what a client that goes away
 * now leaves cut off. */
bool lmtp_proto_line_cut(const struct lmtp_proto *p);
/* How many complete command lines were taken so far: a change means the
 * partial line, if any, is a new one. */
uint64_t lmtp_proto_command_lines(const struct lmtp_proto *p);
/* True while a refused BDAT chunk is read to be discarded; *done_r is how
 * much of it came so far. */
bool lmtp_proto_discarding(const struct lmtp_proto *p, uint64_t *done_r);

const char *lmtp_proto_output(const struct lmtp_proto *p, size_t *len_r);
void lmtp_proto_output_consume(struct lmtp_proto *p, size_t n);

/* Counters for the disconnect log line. */
struct lmtp_proto_stats {
	unsigned int lhlo, mail, rcpt, data, bdat, rset, quit, unknown, errors;
};
const struct lmtp_proto_stats *lmtp_proto_stats(const struct lmtp_proto *p);

/* Decodes RFC 3461 xtext ("+2B") and RFC 6533 "\x{HH}" into out; -1 on
 * malformed input or when it does not fit. */
int lmtp_xtext_decode(const char *in, size_t len, char *out, size_t out_size) ATTR_WUR;

#endif
