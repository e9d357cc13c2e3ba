/* vacation: the rules around a Sieve vacation reply (RFC 5230 with RFC
 * 3834) and its history.
 *
 * libsieve 2.2.6 does part of RFC 5230's checks before it records a
 * vacation action (Auto-Submitted, Precedence, system senders, the user's
 * address in To/Cc/Bcc unless :from is given) and keeps no history.  This
 * module is the authority: vacation_refusal() applies every rule again,
 * and the (user, sender, handle) history lives in "vacation.db" in the
 * shared Berkeley DB environment (lib/dbenv.h), opened on first use in the
 * process that uses it (after fork).
 *
 * A database problem is never a delivery problem: it is logged and the
 * reply is not sent (better one missed reply than a reply storm). */
#ifndef LMTPD_VACATION_H
#define LMTPD_VACATION_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "buf.h"
#include "compat.h"

struct message;
struct vacation;

struct vacation_request {
	const char *user;	/* the recipient, user@domain without detail */
	/* The recipient's other forms (as given, with detail), and the
	 * address libsieve found or :from; any of them may be NULL. */
	const char *const *my_addresses;
	size_t my_address_count;
	const char *sender;	/* envelope sender; "" = null sender */
	const struct message *msg;	/* the message's own header fields */
	bool is_spam;		/* the recipient's spam verdict */
	const char *handle;	/* RFC 5230 4.2 */
	unsigned int days;	/* >= 1 */
};

/* NULL when an automatic reply may be sent to req->sender, else the
 * reason it may not (a static text): null sender, a MAILER-DAEMON or list
 * sender (RFC 3834 2), Auto-Submitted other than "no", Precedence bulk,
 * list or junk, any List-* field, a message flagged as spam, a message
 * from the user, or not addressed to the user. */
const char *vacation_refusal(const struct vacation_request *req);

/* state_dir holds the Berkeley DB environment; max_days bounds how long
 * history entries are kept. */
struct vacation *vacation_new(const char *state_dir, unsigned int max_days);
void vacation_free(struct vacation **v);

/* 1: no reply to this sender with this handle within req->days, a reply
 * is due; 0: answered recently; -1: database error (logged). */
int vacation_history_due(struct vacation *v, const struct vacation_request *req,
			 time_t now) ATTR_WUR;
/* Records a reply sent at now.  Returns 0 or -1 (logged). */
int vacation_history_record(struct vacation *v, const struct vacation_request *req,
			    time_t now) ATTR_WUR;

struct vacation_reply {
	const char *from;	/* the From: address */
	const char *to;		/* the sender being answered */
	const char *subject;	/* may be NULL: "Automated reply" */
	const char *reason;	/* text, or a MIME entity with mime */
	bool mime;
	const char *in_reply_to;	/* the original's Message-ID, or NULL */
	const char *references;		/* the original's References, or NULL */
	const char *hostname;	/* for the Message-ID */
};

/* The reply message with LF line ends: From, To, Subject (RFC 2047 when
 * not ASCII), Date, Message-ID, In-Reply-To, References,
 * Auto-Submitted: auto-replied (vacation), MIME headers, the reason. */
void vacation_compose(const struct vacation_reply *r, struct buf *out);
/* Whether a vacation :from can be the reply's From: exactly one mailbox
 * with an '@' (optionally with a display name), no line breaks; "a@b,
 * c@d" would make a From with two authors and no Sender (RFC 5322
 * 3.6.2), which Pigeonhole refuses too. */
bool vacation_from_usable(const char *from);

#endif
