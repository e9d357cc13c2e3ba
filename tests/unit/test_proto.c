/* Unit tests for lmtpd/lmtp_proto, the pure LMTP state machine.
 *
 * A small driver plays the session's part with a fixed policy (senders
 * starting "reject" and recipients starting "unknown" are refused), records
 * one line per event, the replies as the peer reads them and every
 * complete message.  Each table scenario runs three times: all input at
 * once, byte by byte and in chunks of varying size; the results must be the
 * same (STYLE 3.7). */
#include "config.h"

#include <signal.h>

#include "check_compat.h"

#include "buf.h"
#include "lmtp_proto.h"
#include "lmtpd_limits.h"

#define HOST "mx.test"
#define MAX_SIZE 1000000

/* ---- the driver ---- */

struct drv {
	struct lmtp_proto *p;
	struct buf out;		/* replies read by the peer */
	struct buf events;	/* one line per event */
	struct buf msg;		/* the message being received */
	struct buf msgs;	/* complete messages, each followed by EOM */
	char accepted[1100][LMTP_PATH_MAX + 4];
	unsigned int naccepted;
	bool closed;
	bool drain;		/* the peer reads replies at once */
	bool refuse_data;	/* answer DATA / BDAT with 451 */
};

/* Ends each message in drv.msgs. */
#define EOM "\x1e"

struct settings {
	unsigned int max_recipients, max_errors;	/* 0 = default */
	uint64_t max_size;				/* 0 = MAX_SIZE */
	bool no_size_limit;
	bool refuse_data;
};

static void
drv_init(struct drv *d, const struct settings *s)
{
	struct lmtp_proto_settings set = {
		.hostname = HOST,
		.max_message_size = s->no_size_limit ? 0 :
				    s->max_size != 0 ? s->max_size : MAX_SIZE,
		.max_recipients = s->max_recipients != 0 ? s->max_recipients : 100,
		.max_errors = s->max_errors != 0 ? s->max_errors : 20,
	};

	memset(d, 0, sizeof(*d));
	d->p = lmtp_proto_new(&set);
	buf_init(&d->out, 0);
	buf_init(&d->events, 0);
	buf_init(&d->msg, 0);
	buf_init(&d->msgs, 0);
	d->drain = true;
	d->refuse_data = s->refuse_data;
}

static void
drv_free(struct drv *d)
{
	lmtp_proto_free(&d->p);
	ck_assert_ptr_null(d->p);
	buf_free(&d->out);
	buf_free(&d->events);
	buf_free(&d->msg);
	buf_free(&d->msgs);
}

static void __attribute__((format(printf, 2, 3)))
drv_event(struct drv *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ck_assert_int_eq(buf_vprintf(&d->events, fmt, ap), 0);
	va_end(ap);
	ck_assert_int_eq(buf_append(&d->events, "\n", 1), 0);
}

static size_t
drv_drain(struct drv *d)
{
	size_t len;
	const char *out = lmtp_proto_output(d->p, &len);

	if (len == 0)
		return 0;
	ck_assert_int_eq(buf_append(&d->out, out, len), 0);
	lmtp_proto_output_consume(d->p, len);
	return len;
}

static void
drv_handle(struct drv *d, const struct lmtp_event *ev)
{
	char reply[LMTP_PATH_MAX + 64];

	switch (ev->type) {
	case LMTP_EV_NONE:
		break;
	case LMTP_EV_LHLO:
		drv_event(d, "LHLO %s", ut_escs(ev->arg));
		d->naccepted = 0;
		break;
	case LMTP_EV_MAIL: {
		const struct lmtp_mail *m = ev->mail;
		char size[32] = "";

		if (m->size != 0)
			snprintf(size, sizeof(size), " size=%llu",
				 (unsigned long long)m->size);
		drv_event(d, "MAIL <%s>%s%s%s%s%s%s", ut_escs(m->sender), size,
			  m->body_8bit ? " 8bit" : "", m->smtputf8 ? " utf8" : "",
			  m->ret_hdrs ? " hdrs" : "",
			  m->envid[0] != '\0' ? " envid=" : "",
			  m->envid[0] != '\0' ? ut_escs(m->envid) : "");
		if (strncmp(m->sender, "reject", 6) == 0) {
			snprintf(reply, sizeof(reply), "550 5.7.1 <%s> rejected",
				 m->sender);
			lmtp_proto_mail_reply(d->p, false, reply);
		} else {
			lmtp_proto_mail_reply(d->p, true, "250 2.1.0 Ok");
		}
		break;
	}
	case LMTP_EV_RCPT: {
		const struct lmtp_rcpt *r = ev->rcpt;

		drv_event(d, "RCPT <%s>%s%s%s notify=%u", ut_escs(r->addr),
			  r->orcpt[0] != '\0' ? " orcpt=<" : "", ut_escs(r->orcpt),
			  r->orcpt[0] != '\0' ? ">" : "", r->notify);
		if (strncmp(r->addr, "unknown", 7) == 0) {
			snprintf(reply, sizeof(reply), "550 5.1.1 <%s> User unknown",
				 r->addr);
			lmtp_proto_rcpt_reply(d->p, false, reply);
		} else {
			ck_assert_uint_lt(d->naccepted, N_ELEMENTS(d->accepted));
			snprintf(d->accepted[d->naccepted++], sizeof(d->accepted[0]),
				 "%s", r->addr);
			snprintf(reply, sizeof(reply), "250 2.1.5 <%s> OK", r->addr);
			lmtp_proto_rcpt_reply(d->p, true, reply);
		}
		break;
	}
	case LMTP_EV_RCPT_REFUSED:
		drv_event(d, "REFUSED <%s> %s", ut_escs(ev->rcpt->addr), ut_escs(ev->arg));
		break;
	case LMTP_EV_COMMAND_REFUSED:
		/* Not an event of the scenarios (proto_refused_logged checks
		 * them): the reply it names went out. */
		ck_assert(ev->arg[0] == '4' || ev->arg[0] == '5');
		ck_assert(ev->len > 0 && strlen(ev->data) == ev->len);
		break;
	case LMTP_EV_DATA_START:
		drv_event(d, "%s", ev->bdat ? "BDAT" : "DATA");
		ck_assert(lmtp_proto_in_transaction(d->p));
		buf_reset(&d->msg);
		if (d->refuse_data)
			lmtp_proto_data_reply(d->p, false, "451 4.3.0 Try later");
		else
			lmtp_proto_data_reply(d->p, true, NULL);
		break;
	case LMTP_EV_DATA_CHUNK:
		ck_assert_uint_gt(ev->len, 0);
		ck_assert(lmtp_proto_in_transaction(d->p));
		ck_assert_int_eq(buf_append(&d->msg, ev->data, ev->len), 0);
		break;
	case LMTP_EV_DATA_END:
		drv_event(d, "%s", ev->bdat ? "END bdat" : "END");
		ck_assert_int_eq(buf_append(&d->msgs, d->msg.data, d->msg.len), 0);
		ck_assert_int_eq(buf_append_str(&d->msgs, EOM), 0);
		buf_reset(&d->msg);
		/* Exactly one final reply per accepted recipient, in order. */
		for (unsigned int i = 0; i < d->naccepted; i++) {
			snprintf(reply, sizeof(reply), "250 2.0.0 <%s> Saved",
				 d->accepted[i]);
			lmtp_proto_final_reply(d->p, reply);
		}
		d->naccepted = 0;
		break;
	case LMTP_EV_RSET:
		drv_event(d, "RSET");
		d->naccepted = 0;
		break;
	case LMTP_EV_CLOSE:
		drv_event(d, "CLOSE%s%s", ev->arg != NULL ? " " : "",
			  ev->arg != NULL ? ev->arg : "");
		d->closed = true;
		break;
	}
}

static void
drv_pump(struct drv *d)
{
	for (;;) {
		struct lmtp_event ev = lmtp_proto_next(d->p);

		if (ev.type == LMTP_EV_NONE) {
			if (d->drain && drv_drain(d) > 0)
				continue;
			break;
		}
		drv_handle(d, &ev);
	}
	if (d->drain)
		drv_drain(d);
}

/* Feed modes: all at once, byte by byte, chunks of 1..13 bytes. */
#define MODES 3
static const char *const mode_names[MODES] = { "all", "bytes", "chunks" };

static size_t
mode_chunk(int mode, size_t step, size_t left)
{
	size_t n = left;

	if (mode == 1)
		n = 1;
	else if (mode == 2)
		n = 1 + step * 5 % 13;
	return n < left ? n : left;
}

static void
drv_feed(struct drv *d, const char *in, size_t len, int mode)
{
	size_t off = 0, step = 0;

	while (off < len && !d->closed) {
		size_t n = mode_chunk(mode, step++, len - off);

		while (n > 0 && !d->closed) {
			size_t space, k;
			char *dst = lmtp_proto_input_space(d->p, &space);

			if (space == 0) {
				/* Only a peer that does not read its replies
				 * can fill the input buffer. */
				ck_assert(!d->drain);
				return;
			}
			k = n < space ? n : space;
			memcpy(dst, in + off, k);
			lmtp_proto_input_commit(d->p, k);
			off += k;
			n -= k;
			drv_pump(d);
		}
	}
	drv_pump(d);
}

struct expect {
	const char *replies;
	const char *events;
	const char *msgs;	/* NULL: not checked */
	size_t msgs_len;
};

static void
drv_check(struct drv *d, const char *name, int mode, const struct expect *e)
{
	ck_assert_msg(strcmp(d->out.data != NULL ? d->out.data : "", e->replies) == 0,
		      "%s (%s): replies\n# got:  %s\n# want: %s", name,
		      mode_names[mode], ut_esc(d->out.data, d->out.len),
		      ut_escs(e->replies));
	ck_assert_msg(strcmp(d->events.data != NULL ? d->events.data : "",
			     e->events) == 0,
		      "%s (%s): events\n# got:  %s\n# want: %s", name, mode_names[mode],
		      ut_esc(d->events.data, d->events.len), ut_escs(e->events));
	if (e->msgs != NULL)
		ck_assert_msg(d->msgs.len == e->msgs_len &&
			      (e->msgs_len == 0 ||
			       memcmp(d->msgs.data, e->msgs, e->msgs_len) == 0),
			      "%s (%s): messages\n# got:  %s\n# want: %s", name,
			      mode_names[mode], ut_esc(d->msgs.data, d->msgs.len),
			      ut_esc(e->msgs, e->msgs_len));
}

/* Runs one scenario in one mode and checks it. */
static void
run_mode(const char *name, const struct settings *s, const char *in, size_t len,
	 int mode, const struct expect *e)
{
	struct drv d;

	drv_init(&d, s);
	drv_feed(&d, in, len, mode);
	drv_check(&d, name, mode, e);
	drv_free(&d);
}

/* ---- replies and events used by many scenarios ---- */

#define LHLO_OK "250-" HOST "\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n" \
	"250-8BITMIME\r\n250-SIZE 1000000\r\n250-CHUNKING\r\n250-SMTPUTF8\r\n" \
	"250 DSN\r\n"
#define MAIL_OK "250 2.1.0 Ok\r\n"
#define RCPT_OK(a) "250 2.1.5 <" a "> OK\r\n"
#define GO_AHEAD "354 End data with <CR><LF>.<CR><LF>\r\n"
#define SAVED(a) "250 2.0.0 <" a "> Saved\r\n"
#define OK "250 2.0.0 Ok\r\n"
#define BYE "221 2.0.0 " HOST " Bye\r\n"
#define E_UNKNOWN "500 5.5.2 Error: command not recognized\r\n"
#define E_LHLO_FIRST "503 5.5.1 Error: send LHLO first\r\n"
#define E_NEED_MAIL "503 5.5.1 Error: need MAIL command\r\n"
#define E_NO_RCPT "503 5.5.1 Error: no valid recipients\r\n"
#define E_SENDER "501 5.1.7 Bad sender address syntax\r\n"
#define E_RCPT_ADDR "501 5.1.3 Bad recipient address syntax\r\n"
#define E_MAIL_SYNTAX "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
#define E_RCPT_SYNTAX "501 5.5.4 Syntax: RCPT TO:<address>\r\n"
#define E_TOO_LONG "500 5.5.2 Error: line too long\r\n"
#define E_BDAT_FRAMING "501 5.5.4 Syntax: BDAT size [LAST]\r\n421 4.7.0 " HOST \
	" Error: lost BDAT framing\r\n"
#define TOO_MANY_ERRORS "421 4.7.0 " HOST " Error: too many errors\r\n"

/* The usual transaction opening, and its replies and events. */
#define OPEN "LHLO client\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
#define OPEN_R LHLO_OK MAIL_OK RCPT_OK("c@d.example")
#define OPEN_E "LHLO client\nMAIL <a@b.example>\nRCPT <c@d.example> notify=0\n"
#define LHLO_E "LHLO client\n"

/* ---- the scenario table ---- */

struct proto_case {
	const char *name;
	const char *in;
	size_t in_len;
	struct settings set;
	struct expect e;
};

#define IN(lit) .in = (lit), .in_len = sizeof(lit) - 1
#define MSGS(lit) .msgs = (lit), .msgs_len = sizeof(lit) - 1

static const struct proto_case cases[] = {
	/* -- greeting and simple commands -- */
	{ "lhlo", IN("LHLO client\r\n"), {0},
	  { LHLO_OK, LHLO_E, NULL, 0 } },
	{ "lhlo lowercase, extra spaces", IN("lhlo   client.example\r\n"), {0},
	  { LHLO_OK, "LHLO client.example\n", NULL, 0 } },
	{ "lhlo without size limit", IN("LHLO client\r\n"), { .no_size_limit = true },
	  { "250-" HOST "\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
	    "250-8BITMIME\r\n250-SIZE\r\n250-CHUNKING\r\n250-SMTPUTF8\r\n250 DSN\r\n",
	    LHLO_E, NULL, 0 } },
	{ "lhlo without argument", IN("LHLO\r\nLHLO  \r\nLHLO client\r\n"), {0},
	  { "501 5.5.4 Syntax: LHLO hostname\r\n501 5.5.4 Syntax: LHLO hostname\r\n"
	    LHLO_OK, LHLO_E, NULL, 0 } },
	{ "helo and ehlo refused", IN("HELO client\r\nEHLO client\r\nLHLO client\r\n"),
	  {0}, { "500 5.5.1 Error: this is LMTP, use LHLO\r\n"
		 "500 5.5.1 Error: this is LMTP, use LHLO\r\n" LHLO_OK, LHLO_E,
		 NULL, 0 } },
	{ "unknown commands", IN("FOO\r\nLHLOX client\r\n\r\nMAILFROM:<a@b>\r\n"), {0},
	  { E_UNKNOWN E_UNKNOWN E_UNKNOWN E_UNKNOWN, "", NULL, 0 } },
	{ "not implemented", IN("EXPN x\r\nSTARTTLS\r\nAUTH PLAIN\r\nETRN x\r\nTURN\r\n"),
	  {0}, { "502 5.5.1 Error: command not implemented\r\n"
		 "502 5.5.1 Error: command not implemented\r\n"
		 "502 5.5.1 Error: command not implemented\r\n"
		 "502 5.5.1 Error: command not implemented\r\n"
		 "502 5.5.1 Error: command not implemented\r\n", "", NULL, 0 } },
	{ "noop rset help vrfy",
	  IN("NOOP\r\nRSET\r\nHELP\r\nVRFY alice\r\nVRFY\r\nNOOP some text\r\n"), {0},
	  { OK OK "214 2.0.0 Commands: LHLO MAIL RCPT DATA BDAT RSET NOOP VRFY QUIT "
	    "HELP\r\n252 2.5.2 Cannot VRFY user, but will accept message and "
	    "attempt delivery\r\n501 5.5.4 Syntax: VRFY address\r\n" OK, "", NULL, 0 } },
	{ "quit ends the session", IN("LHLO client\r\nQUIT\r\nNOOP\r\n"), {0},
	  { LHLO_OK BYE, LHLO_E "CLOSE\n", NULL, 0 } },
	{ "bare LF ends a command", IN("LHLO client\nNOOP\nQUIT\n"), {0},
	  { LHLO_OK OK BYE, LHLO_E "CLOSE\n", NULL, 0 } },
	{ "NUL in a command", IN("NO\0OP\r\nLHLO a\0b\r\nNOOP\r\n"), {0},
	  { "500 5.5.2 Error: NUL character in command\r\n"
	    "500 5.5.2 Error: NUL character in command\r\n" OK, "", NULL, 0 } },

	/* -- sequence errors (503) -- */
	{ "mail before lhlo", IN("MAIL FROM:<a@b.example>\r\nLHLO client\r\n"), {0},
	  { E_LHLO_FIRST LHLO_OK, LHLO_E, NULL, 0 } },
	{ "rcpt before mail", IN("LHLO client\r\nRCPT TO:<c@d.example>\r\n"), {0},
	  { LHLO_OK E_NEED_MAIL, LHLO_E, NULL, 0 } },
	{ "data before mail", IN("LHLO client\r\nDATA\r\n"), {0},
	  { LHLO_OK E_NEED_MAIL, LHLO_E, NULL, 0 } },
	{ "data without recipient",
	  IN("LHLO client\r\nMAIL FROM:<a@b.example>\r\nDATA\r\nNOOP\r\n"), {0},
	  { LHLO_OK MAIL_OK E_NO_RCPT OK, LHLO_E "MAIL <a@b.example>\n", NULL, 0 } },
	{ "data after refused recipients only",
	  IN("LHLO client\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<unknown1@d.example>\r\n"
	     "RCPT TO:<unknown2@d.example>\r\nDATA\r\nRCPT TO:<c@d.example>\r\n"
	     "DATA\r\nhi\r\n.\r\n"), {0},
	  { LHLO_OK MAIL_OK "550 5.1.1 <unknown1@d.example> User unknown\r\n"
	    "550 5.1.1 <unknown2@d.example> User unknown\r\n" E_NO_RCPT
	    RCPT_OK("c@d.example") GO_AHEAD SAVED("c@d.example"),
	    LHLO_E "MAIL <a@b.example>\nRCPT <unknown1@d.example> notify=0\n"
	    "RCPT <unknown2@d.example> notify=0\nRCPT <c@d.example> notify=0\n"
	    "DATA\nEND\n", MSGS("hi\n" EOM) } },
	{ "nested mail",
	  IN("LHLO client\r\nMAIL FROM:<a@b.example>\r\nMAIL FROM:<x@y.example>\r\n"), {0},
	  { LHLO_OK MAIL_OK "503 5.5.1 Error: nested MAIL command\r\n",
	    LHLO_E "MAIL <a@b.example>\n", NULL, 0 } },
	{ "mail refused by policy",
	  IN("LHLO client\r\nMAIL FROM:<reject@b.example>\r\nRCPT TO:<c@d.example>\r\n"
	     "MAIL FROM:<a@b.example>\r\n"), {0},
	  { LHLO_OK "550 5.7.1 <reject@b.example> rejected\r\n" E_NEED_MAIL MAIL_OK,
	    LHLO_E "MAIL <reject@b.example>\nMAIL <a@b.example>\n", NULL, 0 } },
	{ "data with an argument", IN(OPEN "DATA now\r\n"), {0},
	  { OPEN_R "501 5.5.4 Syntax: DATA\r\n", OPEN_E, NULL, 0 } },
	{ "rset ends the transaction",
	  IN(OPEN "RSET\r\nDATA\r\nRCPT TO:<c@d.example>\r\n"), {0},
	  { OPEN_R OK E_NEED_MAIL E_NEED_MAIL, OPEN_E "RSET\n", NULL, 0 } },
	{ "lhlo ends the transaction",
	  IN(OPEN "LHLO again\r\nDATA\r\nMAIL FROM:<>\r\n"), {0},
	  { OPEN_R LHLO_OK E_NEED_MAIL MAIL_OK, OPEN_E "LHLO again\nMAIL <>\n", NULL, 0 } },

	/* -- MAIL syntax and parameters -- */
	{ "mail null sender", IN("LHLO client\r\nMAIL FROM:<>\r\n"), {0},
	  { LHLO_OK MAIL_OK, LHLO_E "MAIL <>\n", NULL, 0 } },
	{ "mail space after colon, lowercase",
	  IN("LHLO client\r\nmail from: <A@B.example>\r\n"), {0},
	  { LHLO_OK MAIL_OK, LHLO_E "MAIL <A@B.example>\n", NULL, 0 } },
	{ "mail without brackets", IN("LHLO client\r\nMAIL FROM:a@b.example SIZE=5\r\n"),
	  {0}, { LHLO_OK MAIL_OK, LHLO_E "MAIL <a@b.example> size=5\n", NULL, 0 } },
	{ "mail source route", IN("LHLO client\r\nMAIL FROM:<@r1.example,@r2.example:a@b.example>\r\n"),
	  {0}, { LHLO_OK MAIL_OK, LHLO_E "MAIL <a@b.example>\n", NULL, 0 } },
	{ "mail quoted local part",
	  IN("LHLO client\r\nMAIL FROM:<\"a b>c\"@b.example>\r\n"), {0},
	  { LHLO_OK MAIL_OK, LHLO_E "MAIL <\"a b>c\"@b.example>\n", NULL, 0 } },
	{ "mail bad paths",
	  IN("LHLO client\r\nMAIL FROM:<a@b.example\r\nMAIL FROM:<a>\r\n"
	     "MAIL FROM:<a b@c.example>\r\nMAIL FROM:<a<b@c.example>\r\n"
	     "MAIL FROM:<@r1.example a@b.example>\r\nMAIL FROM:<\"a@b.example>\r\n"
	     "MAIL FROM:<a@>\r\nMAIL FROM:<@b.example>\r\nNOOP\r\n"), {0},
	  { LHLO_OK E_SENDER E_SENDER E_SENDER E_SENDER E_SENDER E_SENDER E_SENDER
	    E_SENDER OK, LHLO_E, NULL, 0 } },
	{ "mail bad syntax",
	  IN("LHLO client\r\nMAIL TO:<a@b.example>\r\nMAIL FROM<a@b.example>\r\n"
	     "MAIL FROM:<a@b.example>x\r\nMAIL\r\n"), {0},
	  { LHLO_OK E_MAIL_SYNTAX E_MAIL_SYNTAX E_MAIL_SYNTAX E_MAIL_SYNTAX, LHLO_E,
	    NULL, 0 } },
	{ "mail SIZE at the limit",
	  IN("LHLO client\r\nMAIL FROM:<a@b.example> SIZE=1000000\r\n"), {0},
	  { LHLO_OK MAIL_OK, LHLO_E "MAIL <a@b.example> size=1000000\n", NULL, 0 } },
	{ "mail SIZE one below the limit",
	  IN("LHLO client\r\nMAIL FROM:<a@b.example> SIZE=999999\r\n"), {0},
	  { LHLO_OK MAIL_OK, LHLO_E "MAIL <a@b.example> size=999999\n", NULL, 0 } },
	{ "mail SIZE over the limit",
	  IN("LHLO client\r\nMAIL FROM:<a@b.example> SIZE=1000001\r\nNOOP\r\n"), {0},
	  { LHLO_OK "552 5.3.4 Message size exceeds fixed limit\r\n" OK, LHLO_E,
	    NULL, 0 } },
	{ "mail SIZE without a limit",
	  IN("LHLO client\r\nMAIL FROM:<a@b.example> SIZE=99999999999\r\n"),
	  { .no_size_limit = true },
	  { "250-" HOST "\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
	    "250-8BITMIME\r\n250-SIZE\r\n250-CHUNKING\r\n250-SMTPUTF8\r\n250 DSN\r\n"
	    MAIL_OK, LHLO_E "MAIL <a@b.example> size=99999999999\n", NULL, 0 } },
	/* RFC 1870: size-value is 1*20DIGIT; 2^64, 20 digits, is over any
	 * limit (552), 21 digits a syntax error. */
	{ "mail bad SIZE",
	  IN("LHLO client\r\nMAIL FROM:<a@b.example> SIZE=abc\r\n"
	     "MAIL FROM:<a@b.example> SIZE=\r\nMAIL FROM:<a@b.example> SIZE=-1\r\n"
	     "MAIL FROM:<a@b.example> SIZE=18446744073709551616\r\n"
	     "MAIL FROM:<a@b.example> SIZE=99999999999999999999\r\n"
	     "MAIL FROM:<a@b.example> SIZE=123456789012345678901\r\n"
	     "MAIL FROM:<a@b.example> SIZE=1234567890123456789012345\r\n"), {0},
	  { LHLO_OK "501 5.5.4 Bad SIZE parameter\r\n501 5.5.4 Bad SIZE parameter\r\n"
	    "501 5.5.4 Bad SIZE parameter\r\n"
	    "552 5.3.4 Message size exceeds fixed limit\r\n"
	    "552 5.3.4 Message size exceeds fixed limit\r\n"
	    "501 5.5.4 Bad SIZE parameter\r\n501 5.5.4 Bad SIZE parameter\r\n",
	    LHLO_E, NULL, 0 } },
	{ "mail SIZE past 2^64 without a limit",
	  IN("LHLO client\r\nMAIL FROM:<a@b.example> SIZE=18446744073709551616\r\n"),
	  { .no_size_limit = true },
	  { "250-" HOST "\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
	    "250-8BITMIME\r\n250-SIZE\r\n250-CHUNKING\r\n250-SMTPUTF8\r\n250 DSN\r\n"
	    MAIL_OK, LHLO_E "MAIL <a@b.example> size=18446744073709551615\n", NULL, 0 } },
	{ "mail every parameter",
	  IN("LHLO client\r\nMAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME SMTPUTF8 "
	     "RET=HDRS ENVID=QQ+2B1 AUTH=<>\r\n"), {0},
	  { LHLO_OK MAIL_OK,
	    LHLO_E "MAIL <a@b.example> size=10 8bit utf8 hdrs envid=QQ+1\n", NULL, 0 } },
	{ "mail parameters are case-insensitive",
	  IN("LHLO client\r\nMAIL FROM:<a@b.example> body=8bitmime ret=hdrs smtputf8\r\n"),
	  {0}, { LHLO_OK MAIL_OK, LHLO_E "MAIL <a@b.example> 8bit utf8 hdrs\n", NULL, 0 } },
	{ "mail BODY=7BIT RET=FULL",
	  IN("LHLO client\r\nMAIL FROM:<a@b.example> BODY=7BIT RET=FULL\r\n"), {0},
	  { LHLO_OK MAIL_OK, LHLO_E "MAIL <a@b.example>\n", NULL, 0 } },
	{ "mail bad BODY, RET, ENVID",
	  IN("LHLO client\r\nMAIL FROM:<a@b.example> BODY=BINARYMIME\r\n"
	     "MAIL FROM:<a@b.example> RET=ALL\r\nMAIL FROM:<a@b.example> ENVID=a+2\r\n"
	     "MAIL FROM:<a@b.example> ENVID=a+0Ab\r\n"
	     "MAIL FROM:<a@b.example> ENVID=a+C3+A9\r\n"), {0},
	  { LHLO_OK "555 5.5.4 Unsupported BODY parameter\r\n"
	    "501 5.5.4 Bad RET parameter\r\n501 5.5.4 Bad ENVID parameter\r\n"
	    "501 5.5.4 Bad ENVID parameter\r\n501 5.5.4 Bad ENVID parameter\r\n",
	    LHLO_E, NULL, 0 } },
	/* A known parameter without its value (or with one it does not
	 * take) is a syntax error (501), an unknown one 555; "=x" names
	 * none. */
	{ "mail unknown parameter",
	  IN("LHLO client\r\nMAIL FROM:<a@b.example> FOO=bar\r\n"
	     "MAIL FROM:<a@b.example> XYZZY\r\nMAIL FROM:<a@b.example> SMTPUTF8=yes\r\n"
	     "MAIL FROM:<a@b.example> SIZE\r\nMAIL FROM:<a@b.example> NOTIFY=NEVER\r\n"
	     "MAIL FROM:<a@b.example> =x\r\nMAIL FROM:<a@b.example> body\r\n"),
	  {0}, { LHLO_OK "555 5.5.4 Unsupported option: FOO\r\n"
		 "555 5.5.4 Unsupported option: XYZZY\r\n"
		 "501 5.5.4 Bad SMTPUTF8 parameter\r\n"
		 "501 5.5.4 Bad SIZE parameter\r\n"
		 "555 5.5.4 Unsupported option: NOTIFY\r\n"
		 "501 5.5.4 Bad parameter syntax\r\n"
		 "501 5.5.4 Bad BODY parameter\r\n", LHLO_E, NULL, 0 } },
	{ "mail non-ASCII sender needs SMTPUTF8",
	  IN("LHLO client\r\nMAIL FROM:<j\xc3\xb6rg@b.example>\r\n"
	     "MAIL FROM:<j\xc3\xb6rg@b.example> SMTPUTF8\r\n"), {0},
	  { LHLO_OK "553 5.6.7 Non-ASCII sender requires SMTPUTF8\r\n" MAIL_OK,
	    LHLO_E "MAIL <j\\xc3\\xb6rg@b.example> utf8\n", NULL, 0 } },

	/* A backslash escapes only a printable character (RFC 5321
	 * quoted-pairSMTP), and qtextSMTP has no controls either: "\<CR>"
	 * would put a CR into Return-Path and Received (header injection). */
	{ "mail control characters in a quoted local part",
	  IN("LHLO client\r\nMAIL FROM:<\"a\\\rX-Spam-Flag: NO\\\rX:\"@b.c>\r\n"
	     "MAIL FROM:<\"a\\\tb\"@b.example>\r\nMAIL FROM:<\"a\\\x7f" "b\"@b.example>\r\n"
	     "MAIL FROM:<\"a\\\x01" "b\"@b.example>\r\nMAIL FROM:<\"a\\\x1b" "b\"@b.example>\r\n"
	     "MAIL FROM:<\"a\rb\"@b.example>\r\nMAIL FROM:<\"a\tb\"@b.example>\r\n"
	     "MAIL FROM:<\"a\x7f" "b\"@b.example>\r\nMAIL FROM:<\"a\x1b" "b\"@b.example>\r\n"
	     "MAIL FROM:<\"a\\ b\\\"c\\\\\"@b.example>\r\n"), {0},
	  { LHLO_OK E_SENDER E_SENDER E_SENDER E_SENDER E_SENDER E_SENDER E_SENDER
	    E_SENDER E_SENDER MAIL_OK,
	    LHLO_E "MAIL <\"a\\x5c b\\x5c\"c\\x5c\\x5c\"@b.example>\n", NULL, 0 } },
	/* C1 controls (U+0080-U+009F) and U+2028/U+2029 are refused like
	 * ASCII controls, bare, quoted or escaped; their neighbours are not. */
	{ "mail UTF-8 control characters",
	  IN("LHLO client\r\nMAIL FROM:<a\xc2\x85" "b@b.example> SMTPUTF8\r\n"
	     "MAIL FROM:<\"a\xc2\x80\"@b.example> SMTPUTF8\r\n"
	     "MAIL FROM:<\"a\\\xe2\x80\xa8\"@b.example> SMTPUTF8\r\n"
	     "MAIL FROM:<a@b\xe2\x80\xa9.example> SMTPUTF8\r\n"
	     "MAIL FROM:<a\xc2\xa0" "b@b.example> SMTPUTF8\r\n"), {0},
	  { LHLO_OK E_SENDER E_SENDER E_SENDER E_SENDER MAIL_OK,
	    LHLO_E "MAIL <a\\xc2\\xa0b@b.example> utf8\n", NULL, 0 } },
	/* A sender's domain is not held to RFC 5321 as a recipient's is: the
	 * MTA took the message already, and a 5xx here would bounce it.  An
	 * empty domain is still refused. */
	{ "mail domain lenient",
	  IN("LHLO client\r\nMAIL FROM:<x@mail_out.example>\r\nRSET\r\n"
	     "MAIL FROM:<x@ex.com:25>\r\nRSET\r\nMAIL FROM:<x@>\r\nMAIL FROM:<>\r\n"), {0},
	  { LHLO_OK MAIL_OK OK MAIL_OK OK E_SENDER MAIL_OK,
	    LHLO_E "MAIL <x@mail_out.example>\nRSET\nMAIL <x@ex.com:25>\nRSET\nMAIL <>\n",
	    NULL, 0 } },

	/* -- RCPT syntax and parameters -- */
	{ "rcpt forms",
	  IN("LHLO client\r\nMAIL FROM:<>\r\nRCPT TO: <c@d.example>\r\n"
	     "rcpt to:e@f.example\r\nRCPT TO:<postmaster>\r\n"
	     "RCPT TO:<\"x y\"@d.example>\r\nRCPT TO:<@r.example:g@h.example>\r\n"), {0},
	  { LHLO_OK MAIL_OK RCPT_OK("c@d.example") RCPT_OK("e@f.example")
	    RCPT_OK("postmaster") RCPT_OK("\"x y\"@d.example") RCPT_OK("g@h.example"),
	    LHLO_E "MAIL <>\nRCPT <c@d.example> notify=0\nRCPT <e@f.example> notify=0\n"
	    "RCPT <postmaster> notify=0\nRCPT <\"x y\"@d.example> notify=0\n"
	    "RCPT <g@h.example> notify=0\n", NULL, 0 } },
	{ "rcpt bad addresses",
	  IN("LHLO client\r\nMAIL FROM:<>\r\nRCPT TO:<>\r\nRCPT TO:<c>\r\n"
	     "RCPT TO:<c@>\r\nRCPT TO:<c@d.example\r\nRCPT TO:<c\x01@d.example>\r\n"
	     "RCPT TO:<c d@e.example>\r\nRCPT FROM:<c@d.example>\r\n"
	     "RCPT TO:<c@d.example>x\r\nRCPT TO c@d.example\r\nNOOP\r\n"
	     "RCPT TO:<a@b@c.example>\r\nRCPT TO:<\"a\"@b@c.example>\r\n"
	     "RCPT TO:<a\"@\"b@c.example>\r\nRCPT TO:<\"a\".\"b@c\"@d.example>\r\n"
	     "RCPT TO:<\"a@b\"@c.example>\r\nRCPT TO:<\"a\\\"@b\"@c.example>\r\n"), {0},
	  { LHLO_OK MAIL_OK E_RCPT_ADDR E_RCPT_ADDR E_RCPT_ADDR E_RCPT_ADDR E_RCPT_ADDR
	    E_RCPT_ADDR E_RCPT_SYNTAX E_RCPT_SYNTAX E_RCPT_SYNTAX OK
	    E_RCPT_ADDR E_RCPT_ADDR E_RCPT_ADDR E_RCPT_ADDR RCPT_OK("\"a@b\"@c.example")
	    RCPT_OK("\"a\\\"@b\"@c.example"),
	    LHLO_E "MAIL <>\nRCPT <\"a@b\"@c.example> notify=0\n"
	    "RCPT <\"a\\x5c\"@b\"@c.example> notify=0\n", NULL, 0 } },
	{ "rcpt NOTIFY",
	  IN("LHLO client\r\nMAIL FROM:<>\r\nRCPT TO:<a@x.example> NOTIFY=SUCCESS,FAILURE\r\n"
	     "RCPT TO:<b@x.example> NOTIFY=NEVER\r\n"
	     "RCPT TO:<c@x.example> notify=delay,success,failure\r\n"), {0},
	  { LHLO_OK MAIL_OK RCPT_OK("a@x.example") RCPT_OK("b@x.example")
	    RCPT_OK("c@x.example"),
	    LHLO_E "MAIL <>\nRCPT <a@x.example> notify=6\nRCPT <b@x.example> notify=1\n"
	    "RCPT <c@x.example> notify=14\n", NULL, 0 } },
	{ "rcpt bad NOTIFY",
	  IN("LHLO client\r\nMAIL FROM:<>\r\nRCPT TO:<a@x.example> NOTIFY=NEVER,SUCCESS\r\n"
	     "RCPT TO:<a@x.example> NOTIFY=BOGUS\r\nRCPT TO:<a@x.example> NOTIFY=\r\n"
	     "RCPT TO:<a@x.example> NOTIFY=SUCCESS,\r\n"
	     "RCPT TO:<a@x.example> NOTIFY=,SUCCESS\r\n"), {0},
	  { LHLO_OK MAIL_OK "501 5.5.4 Bad NOTIFY parameter\r\n"
	    "501 5.5.4 Bad NOTIFY parameter\r\n501 5.5.4 Bad NOTIFY parameter\r\n"
	    "501 5.5.4 Bad NOTIFY parameter\r\n501 5.5.4 Bad NOTIFY parameter\r\n",
	    LHLO_E "MAIL <>\n", NULL, 0 } },
	{ "rcpt ORCPT with xtext",
	  IN("LHLO client\r\nMAIL FROM:<> SMTPUTF8\r\n"
	     "RCPT TO:<a@x.example> ORCPT=rfc822;A+2Bfolder+40x.example\r\n"
	     "RCPT TO:<b@x.example> ORCPT=utf-8;j\\x{F6}rg@x.example NOTIFY=FAILURE\r\n"
	     "RCPT TO:<c@x.example> ORCPT=x-unknown;opaque\r\n"), {0},
	  { LHLO_OK MAIL_OK RCPT_OK("a@x.example") RCPT_OK("b@x.example")
	    RCPT_OK("c@x.example"),
	    LHLO_E "MAIL <> utf8\nRCPT <a@x.example> orcpt=<A+folder@x.example> notify=0\n"
	    "RCPT <b@x.example> orcpt=<j\\xc3\\xb6rg@x.example> notify=4\n"
	    "RCPT <c@x.example> orcpt=<opaque> notify=0\n", NULL, 0 } },
	{ "rcpt bad ORCPT",
	  IN("LHLO client\r\nMAIL FROM:<>\r\nRCPT TO:<a@x.example> ORCPT=rfc822\r\n"
	     "RCPT TO:<a@x.example> ORCPT=;a@x.example\r\n"
	     "RCPT TO:<a@x.example> ORCPT=rfc822;a+4\r\n"
	     "RCPT TO:<a@x.example> ORCPT=rfc822;a+0D+0A@x.example\r\n"
	     "RCPT TO:<a@x.example> ORCPT=utf-8;\\x{110000}\r\n"), {0},
	  { LHLO_OK MAIL_OK "501 5.5.4 Bad ORCPT parameter\r\n"
	    "501 5.5.4 Bad ORCPT parameter\r\n501 5.5.4 Bad ORCPT parameter\r\n"
	    "501 5.5.4 Bad ORCPT parameter\r\n501 5.5.4 Bad ORCPT parameter\r\n",
	    LHLO_E "MAIL <>\n", NULL, 0 } },
	/* ORCPT goes into X-Original-To: what a path may not hold, it may not
	 * hold either; raw UTF-8 only with SMTPUTF8 (RFC 6533). */
	{ "rcpt ORCPT with a control character or raw 8-bit",
	  IN("LHLO client\r\nMAIL FROM:<>\r\n"
	     "RCPT TO:<a@x.example> ORCPT=utf-8;a\\x{2028}b@x.example\r\n"
	     "RCPT TO:<a@x.example> ORCPT=utf-8;a\\x{85}c@x.example\r\n"
	     "RCPT TO:<a@x.example> ORCPT=rfc822;a+C2+85@x.example\r\n"
	     "RCPT TO:<a@x.example> ORCPT=rfc822;a+FF@x.example\r\n"
	     "RCPT TO:<a@x.example> ORCPT=utf-8;j\xc3\xb6rg@x.example\r\nRSET\r\n"
	     "MAIL FROM:<> SMTPUTF8\r\n"
	     "RCPT TO:<a@x.example> ORCPT=utf-8;j\xc3\xb6rg@x.example\r\n"
	     "RCPT TO:<b@x.example> ORCPT=utf-8;j\xc2\x85rg@x.example\r\n"), {0},
	  { LHLO_OK MAIL_OK "501 5.5.4 Bad ORCPT parameter\r\n"
	    "501 5.5.4 Bad ORCPT parameter\r\n501 5.5.4 Bad ORCPT parameter\r\n"
	    "501 5.5.4 Bad ORCPT parameter\r\n501 5.5.4 Bad ORCPT parameter\r\n" OK
	    MAIL_OK RCPT_OK("a@x.example") "501 5.5.4 Bad ORCPT parameter\r\n",
	    LHLO_E "MAIL <>\nRSET\nMAIL <> utf8\n"
	    "RCPT <a@x.example> orcpt=<j\\xc3\\xb6rg@x.example> notify=0\n", NULL, 0 } },
	/* The echoed keyword must not end the reply line or carry escapes. */
	{ "unknown parameter echoed as printable ASCII",
	  IN("LHLO client\r\nMAIL FROM:<a@b.example> X\rY\x1b[31m\xff=1\r\n"
	     "MAIL FROM:<>\r\nRCPT TO:<a@x.example> Z\r250-fake=2\r\n"), {0},
	  { LHLO_OK "555 5.5.4 Unsupported option: X?Y?[31m?\r\n" MAIL_OK
	    "555 5.5.4 Unsupported option: Z?250-fake\r\n",
	    LHLO_E "MAIL <>\n", NULL, 0 } },
	{ "rcpt unknown parameter",
	  IN("LHLO client\r\nMAIL FROM:<>\r\nRCPT TO:<a@x.example> FOO=1\r\n"
	     "RCPT TO:<a@x.example> SIZE=5\r\nRCPT TO:<a@x.example> NOTIFY\r\n"
	     "RCPT TO:<a@x.example> orcpt\r\n"), {0},
	  { LHLO_OK MAIL_OK "555 5.5.4 Unsupported option: FOO\r\n"
	    "555 5.5.4 Unsupported option: SIZE\r\n501 5.5.4 Bad NOTIFY parameter\r\n"
	    "501 5.5.4 Bad ORCPT parameter\r\n", LHLO_E "MAIL <>\n", NULL, 0 } },
	{ "rcpt non-ASCII needs SMTPUTF8",
	  IN("LHLO client\r\nMAIL FROM:<>\r\nRCPT TO:<j\xc3\xb6rg@x.example>\r\nRSET\r\n"
	     "MAIL FROM:<> SMTPUTF8\r\nRCPT TO:<j\xc3\xb6rg@x.example>\r\n"), {0},
	  { LHLO_OK MAIL_OK "553 5.6.7 Non-ASCII recipient requires SMTPUTF8\r\n" OK
	    MAIL_OK RCPT_OK("j\xc3\xb6rg@x.example"),
	    LHLO_E "MAIL <>\nRSET\nMAIL <> utf8\nRCPT <j\\xc3\\xb6rg@x.example> notify=0\n",
	    NULL, 0 } },

	{ "rcpt control characters in a quoted local part",
	  IN("LHLO client\r\nMAIL FROM:<>\r\nRCPT TO:<\"a\\\rX-Spam-Flag: NO\\\rX:\"@b.c>\r\n"
	     "RCPT TO:<\"a\\\tb\"@d.example>\r\nRCPT TO:<\"a\\\x7f" "b\"@d.example>\r\n"
	     "RCPT TO:<\"a\\\x01" "b\"@d.example>\r\nRCPT TO:<\"a\\\x1b" "b\"@d.example>\r\n"
	     "RCPT TO:<\"a\rb\"@d.example>\r\nRCPT TO:<\"a\tb\"@d.example>\r\n"
	     "RCPT TO:<\"a\x7f" "b\"@d.example>\r\nRCPT TO:<\"a\x1b" "b\"@d.example>\r\n"
	     "RCPT TO:<\"a\\ b\"@d.example>\r\n"), {0},
	  { LHLO_OK MAIL_OK E_RCPT_ADDR E_RCPT_ADDR E_RCPT_ADDR E_RCPT_ADDR E_RCPT_ADDR
	    E_RCPT_ADDR E_RCPT_ADDR E_RCPT_ADDR E_RCPT_ADDR RCPT_OK("\"a\\ b\"@d.example"),
	    LHLO_E "MAIL <>\nRCPT <\"a\\x5c b\"@d.example> notify=0\n", NULL, 0 } },
	{ "rcpt UTF-8 control characters",
	  IN("LHLO client\r\nMAIL FROM:<> SMTPUTF8\r\nRCPT TO:<a\xc2\x85" "b@ex.com>\r\n"
	     "RCPT TO:<a\xc2\x80" "b@ex.com>\r\nRCPT TO:<a\xc2\x9f" "b@ex.com>\r\n"
	     "RCPT TO:<a\xe2\x80\xa8" "b@ex.com>\r\nRCPT TO:<a\xe2\x80\xa9" "b@ex.com>\r\n"
	     "RCPT TO:<\"a\xc2\x85" "b\"@ex.com>\r\nRCPT TO:<\"a\\\xc2\x85" "b\"@ex.com>\r\n"
	     "RCPT TO:<a@ex\xc2\x85.com>\r\n"
	     "RCPT TO:<a\xc2\xa0" "b@ex.com>\r\nRCPT TO:<a\xe2\x80\xa7" "b@ex.com>\r\n"
	     "RCPT TO:<a\xe2\x80\xaa" "b@ex.com>\r\n"), {0},
	  { LHLO_OK MAIL_OK E_RCPT_ADDR E_RCPT_ADDR E_RCPT_ADDR E_RCPT_ADDR E_RCPT_ADDR
	    E_RCPT_ADDR E_RCPT_ADDR E_RCPT_ADDR RCPT_OK("a\xc2\xa0" "b@ex.com")
	    RCPT_OK("a\xe2\x80\xa7" "b@ex.com") RCPT_OK("a\xe2\x80\xaa" "b@ex.com"),
	    LHLO_E "MAIL <> utf8\nRCPT <a\\xc2\\xa0b@ex.com> notify=0\n"
	    "RCPT <a\\xe2\\x80\\xa7b@ex.com> notify=0\n"
	    "RCPT <a\\xe2\\x80\\xaab@ex.com> notify=0\n", NULL, 0 } },
	/* -- max_recipients (3 here): limit - 1, limit, limit + 1 -- */
	{ "recipients below the limit",
	  IN("LHLO client\r\nMAIL FROM:<>\r\nRCPT TO:<r1@x.example>\r\n"
	     "RCPT TO:<r2@x.example>\r\nDATA\r\nm\r\n.\r\n"), { .max_recipients = 3 },
	  { LHLO_OK MAIL_OK RCPT_OK("r1@x.example") RCPT_OK("r2@x.example") GO_AHEAD
	    SAVED("r1@x.example") SAVED("r2@x.example"),
	    LHLO_E "MAIL <>\nRCPT <r1@x.example> notify=0\nRCPT <r2@x.example> notify=0\n"
	    "DATA\nEND\n", MSGS("m\n" EOM) } },
	{ "recipients at the limit",
	  IN("LHLO client\r\nMAIL FROM:<>\r\nRCPT TO:<r1@x.example>\r\n"
	     "RCPT TO:<unknown@x.example>\r\nRCPT TO:<r2@x.example>\r\n"
	     "RCPT TO:<r3@x.example>\r\nDATA\r\nm\r\n.\r\n"), { .max_recipients = 3 },
	  { LHLO_OK MAIL_OK RCPT_OK("r1@x.example")
	    "550 5.1.1 <unknown@x.example> User unknown\r\n" RCPT_OK("r2@x.example")
	    RCPT_OK("r3@x.example") GO_AHEAD SAVED("r1@x.example") SAVED("r2@x.example")
	    SAVED("r3@x.example"),
	    LHLO_E "MAIL <>\nRCPT <r1@x.example> notify=0\nRCPT <unknown@x.example> "
	    "notify=0\nRCPT <r2@x.example> notify=0\nRCPT <r3@x.example> notify=0\n"
	    "DATA\nEND\n", MSGS("m\n" EOM) } },
	{ "recipients over the limit",
	  IN("LHLO client\r\nMAIL FROM:<>\r\nRCPT TO:<r1@x.example>\r\n"
	     "RCPT TO:<r2@x.example>\r\nRCPT TO:<r3@x.example>\r\n"
	     "RCPT TO:<r4@x.example>\r\nRCPT TO:<r5@x.example>\r\nDATA\r\nm\r\n.\r\n"
	     "MAIL FROM:<>\r\nRCPT TO:<r4@x.example>\r\n"), { .max_recipients = 3 },
	  { LHLO_OK MAIL_OK RCPT_OK("r1@x.example") RCPT_OK("r2@x.example")
	    RCPT_OK("r3@x.example") "452 4.5.3 <r4@x.example> Too many recipients\r\n"
	    "452 4.5.3 <r5@x.example> Too many recipients\r\n" GO_AHEAD SAVED("r1@x.example")
	    SAVED("r2@x.example") SAVED("r3@x.example") MAIL_OK RCPT_OK("r4@x.example"),
	    LHLO_E "MAIL <>\nRCPT <r1@x.example> notify=0\nRCPT <r2@x.example> notify=0\n"
	    "RCPT <r3@x.example> notify=0\n"
	    "REFUSED <r4@x.example> 452 4.5.3 <r4@x.example> Too many recipients\n"
	    "REFUSED <r5@x.example> 452 4.5.3 <r5@x.example> Too many recipients\n"
	    "DATA\nEND\nMAIL <>\nRCPT <r4@x.example> notify=0\n", MSGS("m\n" EOM) } },

	/* -- max_errors (3 here) -- */
	{ "errors below the limit", IN("FOO\r\nHELO x\r\nNOOP\r\n"), { .max_errors = 3 },
	  { E_UNKNOWN "500 5.5.1 Error: this is LMTP, use LHLO\r\n" OK, "", NULL, 0 } },
	{ "errors at the limit close",
	  IN("FOO\r\nMAIL FROM:<a@b.example>\r\nLHLO\r\nNOOP\r\n"), { .max_errors = 3 },
	  { E_UNKNOWN E_LHLO_FIRST "501 5.5.4 Syntax: LHLO hostname\r\n"
	    TOO_MANY_ERRORS, "CLOSE too many errors\n", NULL, 0 } },
	{ "errors of any kind count",
	  IN("LHLO client\r\nNO\0OP\r\nRCPT TO:<a@b>\r\nDATA\r\nQUIT\r\n"),
	  { .max_errors = 3 },
	  { LHLO_OK "500 5.5.2 Error: NUL character in command\r\n" E_NEED_MAIL
	    E_NEED_MAIL TOO_MANY_ERRORS, LHLO_E "CLOSE too many errors\n", NULL, 0 } },

	/* Postfix's smtpd_hard_error_limit counts the errors "without
	 * delivering mail": a delivery starts the count over, so a
	 * connection kept open for hours is not cut by a few bad
	 * recipients spread over it. */
	{ "a delivery starts the error count over",
	  IN("LHLO client\r\nFOO\r\nFOO\r\nMAIL FROM:<a@b.example>\r\n"
	     "RCPT TO:<c@d.example>\r\nDATA\r\nx\r\n.\r\nFOO\r\nFOO\r\nNOOP\r\n"
	     "FOO\r\n"),
	  { .max_errors = 3 },
	  { LHLO_OK E_UNKNOWN E_UNKNOWN MAIL_OK RCPT_OK("c@d.example") GO_AHEAD
	    SAVED("c@d.example") E_UNKNOWN E_UNKNOWN OK E_UNKNOWN TOO_MANY_ERRORS,
	    LHLO_E "MAIL <a@b.example>\nRCPT <c@d.example> notify=0\nDATA\nEND\n"
	    "CLOSE too many errors\n", MSGS("x\n" EOM) } },

	/* "MAIL FROM:" with no path is no null sender ("<>" is). */
	{ "mail without a path",
	  IN("LHLO client\r\nMAIL FROM:\r\nMAIL FROM:   \r\nMAIL FROM: SIZE=10\r\n"
	     "MAIL FROM:<>\r\n"), {0},
	  { LHLO_OK E_SENDER E_SENDER E_SENDER MAIL_OK, LHLO_E "MAIL <>\n", NULL, 0 } },
	/* RFC 5321 4.1.1.5 and 4.1.1.10: RSET and QUIT take none; trailing
	 * white space is no argument (Postfix splits at it). */
	{ "rset and quit take no argument",
	  IN(OPEN "RSET x\r\nQUIT now\r\nDATA \r\nx\r\n.\r\nRSET  \r\nQUIT \r\n"), {0},
	  { OPEN_R "501 5.5.4 Syntax: RSET\r\n" "501 5.5.4 Syntax: QUIT\r\n" GO_AHEAD
	    SAVED("c@d.example") OK BYE, OPEN_E "DATA\nEND\nCLOSE\n", MSGS("x\n" EOM) } },

	/* -- pipelining: replies in command order, across transactions -- */
	{ "pipelined transactions",
	  IN("LHLO client\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
	     "RCPT TO:<unknown@d.example>\r\nRCPT TO:<e@d.example>\r\nDATA\r\n"
	     "Subject: one\r\n\r\nfirst\r\n.\r\n"
	     "MAIL FROM:<>\r\nRCPT TO:<f@d.example>\r\nNOOP\r\nDATA\r\n"
	     "second\r\n.\r\nRSET\r\nQUIT\r\n"), {0},
	  { LHLO_OK MAIL_OK RCPT_OK("c@d.example")
	    "550 5.1.1 <unknown@d.example> User unknown\r\n" RCPT_OK("e@d.example")
	    GO_AHEAD SAVED("c@d.example") SAVED("e@d.example") MAIL_OK
	    RCPT_OK("f@d.example") OK GO_AHEAD SAVED("f@d.example") OK BYE,
	    LHLO_E "MAIL <a@b.example>\nRCPT <c@d.example> notify=0\n"
	    "RCPT <unknown@d.example> notify=0\nRCPT <e@d.example> notify=0\nDATA\nEND\n"
	    "MAIL <>\nRCPT <f@d.example> notify=0\nDATA\nEND\nCLOSE\n",
	    MSGS("Subject: one\n\nfirst\n" EOM "second\n" EOM) } },
	{ "data refused by the caller",
	  IN(OPEN "DATA\r\nNOOP\r\nRSET\r\n"), { .refuse_data = true },
	  { OPEN_R "451 4.3.0 Try later\r\n" OK OK, OPEN_E "DATA\nRSET\n", MSGS("") } },

	/* -- DATA: unstuffing, line ends, the end of data -- */
	{ "data CRLF to LF", IN(OPEN "DATA\r\nSubject: t\r\n\r\nline1\r\nline2\r\n.\r\n"),
	  {0}, { OPEN_R GO_AHEAD SAVED("c@d.example"), OPEN_E "DATA\nEND\n",
		 MSGS("Subject: t\n\nline1\nline2\n" EOM) } },
	{ "data dot-unstuffing",
	  IN(OPEN "DATA\r\n..leading\r\n...\r\n..\r\n. \r\n.x\r\nmid.dle.\r\n.\r\n"), {0},
	  { OPEN_R GO_AHEAD SAVED("c@d.example"), OPEN_E "DATA\nEND\n",
	    MSGS(".leading\n..\n.\n \nx\nmid.dle.\n" EOM) } },
	{ "data empty message", IN(OPEN "DATA\r\n.\r\nNOOP\r\n"), {0},
	  { OPEN_R GO_AHEAD SAVED("c@d.example") OK, OPEN_E "DATA\nEND\n", MSGS(EOM) } },
	{ "data bare LF dot LF does not end",
	  IN(OPEN "DATA\r\na\n.\nb\r\n.\r\n"), {0},
	  { OPEN_R GO_AHEAD SAVED("c@d.example"), OPEN_E "DATA\nEND\n",
	    MSGS("a\n.\nb\n" EOM) } },
	{ "data bare CR dot CR does not end",
	  IN(OPEN "DATA\r\na\r.\rb\r\n.\r\n"), {0},
	  { OPEN_R GO_AHEAD SAVED("c@d.example"), OPEN_E "DATA\nEND\n",
	    MSGS("a\r.\rb\n" EOM) } },
	{ "data LF dot CRLF does not end (smuggling)",
	  IN(OPEN "DATA\r\na\n.\r\nMAIL FROM:<evil@x.example>\r\n.\r\n"), {0},
	  { OPEN_R GO_AHEAD SAVED("c@d.example"), OPEN_E "DATA\nEND\n",
	    MSGS("a\n.\nMAIL FROM:<evil@x.example>\n" EOM) } },
	{ "data CRLF dot LF does not end (smuggling)",
	  IN(OPEN "DATA\r\na\r\n.\nRCPT TO:<evil@x.example>\r\n.\r\n"), {0},
	  { OPEN_R GO_AHEAD SAVED("c@d.example"), OPEN_E "DATA\nEND\n",
	    MSGS("a\n\nRCPT TO:<evil@x.example>\n" EOM) } },
	{ "data CR dot CRLF does not end (smuggling)",
	  IN(OPEN "DATA\r\na\r.\r\nQUIT\r\n.\r\n"), {0},
	  { OPEN_R GO_AHEAD SAVED("c@d.example"), OPEN_E "DATA\nEND\n",
	    MSGS("a\r.\nQUIT\n" EOM) } },
	{ "data CRLF dot CR x does not end",
	  IN(OPEN "DATA\r\nx\r\n.\rQUIT\r\n.\r\r\n.\r\n"), {0},
	  { OPEN_R GO_AHEAD SAVED("c@d.example"), OPEN_E "DATA\nEND\n",
	    MSGS("x\n\rQUIT\n\r\n" EOM) } },
	{ "data bare CR and NUL kept",
	  IN(OPEN "DATA\r\na\0b\rc\r\r\nd\r\n.\r\n"), {0},
	  { OPEN_R GO_AHEAD SAVED("c@d.example"), OPEN_E "DATA\nEND\n",
	    MSGS("a\0b\rc\r\nd\n" EOM) } },
	{ "data commands inside are data",
	  IN(OPEN "DATA\r\nQUIT\r\nRSET\r\n\r\n.\r\nNOOP\r\n"), {0},
	  { OPEN_R GO_AHEAD SAVED("c@d.example") OK, OPEN_E "DATA\nEND\n",
	    MSGS("QUIT\nRSET\n\n" EOM) } },
	{ "data no final newline before the dot",
	  IN(OPEN "DATA\r\nabc\r\n.\r\n"), {0},
	  { OPEN_R GO_AHEAD SAVED("c@d.example"), OPEN_E "DATA\nEND\n",
	    MSGS("abc\n" EOM) } },

	/* -- BDAT (RFC 3030) -- */
	{ "bdat one chunk", IN(OPEN "BDAT 5 LAST\r\nab\r\nc"), {0},
	  { OPEN_R SAVED("c@d.example"), OPEN_E "BDAT\nEND bdat\n", MSGS("ab\nc" EOM) } },
	{ "bdat CRLF split across chunks",
	  IN(OPEN "BDAT 3\r\nab\rBDAT 3 LAST\r\n\ncd"), {0},
	  { OPEN_R "250 2.0.0 3 octets received\r\n" SAVED("c@d.example"),
	    OPEN_E "BDAT\nEND bdat\n", MSGS("ab\ncd" EOM) } },
	{ "bdat CR then not LF across chunks",
	  IN(OPEN "BDAT 2\r\na\rBDAT 1 LAST\r\nb"), {0},
	  { OPEN_R "250 2.0.0 2 octets received\r\n" SAVED("c@d.example"),
	    OPEN_E "BDAT\nEND bdat\n", MSGS("a\rb" EOM) } },
	{ "bdat final CR kept", IN(OPEN "BDAT 2 LAST\r\na\r"), {0},
	  { OPEN_R SAVED("c@d.example"), OPEN_E "BDAT\nEND bdat\n", MSGS("a\r" EOM) } },
	{ "bdat 0 LAST ends",
	  IN(OPEN "BDAT 2\r\nhiBDAT 0\r\nBDAT 0 LAST\r\nNOOP\r\n"), {0},
	  { OPEN_R "250 2.0.0 2 octets received\r\n250 2.0.0 0 octets received\r\n"
	    SAVED("c@d.example") OK, OPEN_E "BDAT\nEND bdat\n", MSGS("hi" EOM) } },
	{ "bdat 0 LAST alone", IN(OPEN "bdat 0 last\r\n"), {0},
	  { OPEN_R SAVED("c@d.example"), OPEN_E "BDAT\nEND bdat\n", MSGS(EOM) } },
	{ "bdat has no dot handling", IN(OPEN "BDAT 8 LAST\r\n..x\r\n.\r\nNOOP\r\n"), {0},
	  { OPEN_R SAVED("c@d.example") OK, OPEN_E "BDAT\nEND bdat\n",
	    MSGS("..x\n.\n" EOM) } },
	{ "bdat without MAIL consumes the chunk",
	  IN("LHLO client\r\nBDAT 6\r\nQUIT\r\nNOOP\r\n"), {0},
	  { LHLO_OK E_NEED_MAIL OK, LHLO_E, MSGS("") } },
	{ "bdat without recipient consumes the chunk",
	  IN("LHLO client\r\nMAIL FROM:<>\r\nRCPT TO:<unknown@x.example>\r\n"
	     "BDAT 6 LAST\r\nRSET\r\nNOOP\r\n"), {0},
	  { LHLO_OK MAIL_OK "550 5.1.1 <unknown@x.example> User unknown\r\n" E_NO_RCPT
	    OK, LHLO_E "MAIL <>\nRCPT <unknown@x.example> notify=0\n", MSGS("") } },
	{ "bdat then DATA or RCPT",
	  IN(OPEN "BDAT 2\r\nhiDATA\r\nRCPT TO:<e@f.example>\r\nBDAT 1 LAST\r\n!"), {0},
	  { OPEN_R "250 2.0.0 2 octets received\r\n"
	    "503 5.5.1 Error: DATA after BDAT\r\n503 5.5.1 Error: RCPT after BDAT\r\n"
	    SAVED("c@d.example"), OPEN_E "BDAT\nEND bdat\n", MSGS("hi!" EOM) } },
	{ "bdat refused by the caller",
	  IN(OPEN "BDAT 5\r\nhelloBDAT 3 LAST\r\nabcNOOP\r\n"), { .refuse_data = true },
	  { OPEN_R "451 4.3.0 Try later\r\n" E_NEED_MAIL OK, OPEN_E "BDAT\n",
	    MSGS("") } },
	{ "bdat aborted by RSET",
	  IN(OPEN "BDAT 2\r\nhiRSET\r\nMAIL FROM:<>\r\nRCPT TO:<e@f.example>\r\n"
	     "BDAT 2 LAST\r\nyo"), {0},
	  { OPEN_R "250 2.0.0 2 octets received\r\n" OK MAIL_OK RCPT_OK("e@f.example")
	    SAVED("e@f.example"),
	    OPEN_E "BDAT\nRSET\nMAIL <>\nRCPT <e@f.example> notify=0\nBDAT\nEND bdat\n",
	    MSGS("yo" EOM) } },
	{ "bdat without size closes", IN(OPEN "BDAT\r\nNOOP\r\n"), {0},
	  { OPEN_R E_BDAT_FRAMING, OPEN_E "CLOSE lost BDAT framing\n", NULL, 0 } },
	{ "bdat with a bad size closes", IN(OPEN "BDAT x1\r\nNOOP\r\n"), {0},
	  { OPEN_R E_BDAT_FRAMING, OPEN_E "CLOSE lost BDAT framing\n", NULL, 0 } },
	{ "bdat with a negative size closes", IN(OPEN "BDAT -1\r\nNOOP\r\n"), {0},
	  { OPEN_R E_BDAT_FRAMING, OPEN_E "CLOSE lost BDAT framing\n", NULL, 0 } },
	{ "bdat with a huge size closes",
	  IN(OPEN "BDAT 99999999999999999999\r\nNOOP\r\n"), {0},
	  { OPEN_R E_BDAT_FRAMING, OPEN_E "CLOSE lost BDAT framing\n", NULL, 0 } },
	{ "bdat with a bad keyword closes", IN(OPEN "BDAT 5 MORE\r\nhello"), {0},
	  { OPEN_R E_BDAT_FRAMING, OPEN_E "CLOSE lost BDAT framing\n", NULL, 0 } },
	{ "bdat with a non-numeric size closes", IN(OPEN "BDAT abc LAST\r\nhello"), {0},
	  { OPEN_R E_BDAT_FRAMING, OPEN_E "CLOSE lost BDAT framing\n", NULL, 0 } },
	{ "bdat with LAST glued to junk closes", IN(OPEN "BDAT 5 LASTX\r\nhello"), {0},
	  { OPEN_R E_BDAT_FRAMING, OPEN_E "CLOSE lost BDAT framing\n", NULL, 0 } },
	{ "bdat size glued to junk closes", IN("LHLO client\r\nBDAT 5x\r\nhello"), {0},
	  { LHLO_OK E_BDAT_FRAMING, LHLO_E "CLOSE lost BDAT framing\n", NULL, 0 } },
};

START_TEST(proto_table)
{
	const struct proto_case *c = &cases[_i / MODES];

	run_mode(c->name, &c->set, c->in, c->in_len, _i % MODES, &c->e);
}
END_TEST

/* ---- generated scenarios ---- */

/* Runs every feed mode over one scenario. */
static void
run_all_modes(const char *name, const struct settings *s, const char *in,
	      size_t len, const struct expect *e)
{
	for (int mode = 0; mode < MODES; mode++)
		run_mode(name, s, in, len, mode, e);
}

/* A MAIL or RCPT the parser refuses is an event for the log, with the
 * reply and the command line (cut to LMTP_REFUSED_LINE_MAX); the one that
 * reaches max_errors is the close instead. */
START_TEST(proto_refused_logged)
{
	static const char in[] =
		"LHLO client\r\nMAIL FROM:<a@b@>\r\nMAIL FROM:<a@b.example> SIZE=99999999\r\n"
		"MAIL FROM:<a@b.example>\r\nRCPT TO:<no-domain>\r\nRCPT TO:<x@y.example> FOO=1\r\n"
		"RCPT TO:<\xc3\xa9@y.example>\r\nRCPT TO:<";
	static const char *const want[][2] = {
		{ "501 5.1.7 Bad sender address syntax", "MAIL FROM:<a@b@>" },
		{ "552 5.3.4 Message size exceeds fixed limit",
		  "MAIL FROM:<a@b.example> SIZE=99999999" },
		{ "501 5.1.3 Bad recipient address syntax", "RCPT TO:<no-domain>" },
		{ "555 5.5.4 Unsupported option: FOO", "RCPT TO:<x@y.example> FOO=1" },
		{ "553 5.6.7 Non-ASCII recipient requires SMTPUTF8",
		  "RCPT TO:<\xc3\xa9@y.example>" },
		{ "501 5.1.3 Bad recipient address syntax", NULL },
	};
	struct lmtp_proto_settings set = { HOST, MAX_SIZE, 100, 20 };
	struct lmtp_proto *p = lmtp_proto_new(&set);
	char long_rcpt[LMTP_REFUSED_LINE_MAX + 100], *space;
	size_t n = 0, avail, len;
	struct lmtp_event ev;

	/* the last line: longer than what is kept */
	memset(long_rcpt, 'x', sizeof(long_rcpt));
	memcpy(long_rcpt + sizeof(long_rcpt) - 3, ">\r\n", 3);
	space = lmtp_proto_input_space(p, &avail);
	len = sizeof(in) - 1;
	ck_assert_uint_ge(avail, len + sizeof(long_rcpt));
	memcpy(space, in, len);
	memcpy(space + len, long_rcpt, sizeof(long_rcpt));
	lmtp_proto_input_commit(p, len + sizeof(long_rcpt));
	while ((ev = lmtp_proto_next(p)).type != LMTP_EV_NONE) {
		if (ev.type == LMTP_EV_MAIL) {
			lmtp_proto_mail_reply(p, true, "250 2.1.0 Ok");
		} else if (ev.type == LMTP_EV_COMMAND_REFUSED) {
			ck_assert_uint_lt(n, N_ELEMENTS(want));
			ck_assert_str_eq(ev.arg, want[n][0]);
			if (want[n][1] != NULL) {
				ck_assert_str_eq(ev.data, want[n][1]);
			} else {
				ck_assert_uint_eq(ev.len, LMTP_REFUSED_LINE_MAX);
				ck_assert(strncmp(ev.data, "RCPT TO:<xxx", 12) == 0);
			}
			n++;
		}
	}
	ck_assert_uint_eq(n, N_ELEMENTS(want));
	lmtp_proto_free(&p);
}
END_TEST

/* "NOOP xxx..." lines whose length without the line end is LMTP_LINE_MAX
 * - 1, LMTP_LINE_MAX and LMTP_LINE_MAX + 1, ended by CRLF (_i 0..2) or by a
 * bare LF (_i 3..5); the session answers the next command either way. */
START_TEST(proto_line_limit)
{
	size_t line = LMTP_LINE_MAX - 1 + (size_t)(_i % 3);
	const char *eol = _i < 3 ? "\r\n" : "\n";
	char *in = malloc(line + 64);
	struct settings s = {0};
	struct expect e = { NULL, LHLO_E, NULL, 0 };
	size_t len;

	ck_assert_ptr_nonnull(in);
	memcpy(in, "NOOP ", 5);
	memset(in + 5, 'x', line - 5);
	len = line;
	len += (size_t)sprintf(in + len, "%sLHLO client\r\nNOOP\r\n", eol);
	e.replies = line <= LMTP_LINE_MAX ? OK LHLO_OK OK : E_TOO_LONG LHLO_OK OK;
	run_all_modes(_i < 3 ? "line limit, CRLF" : "line limit, LF", &s, in, len, &e);
	free(in);
}
END_TEST

/* Lines far past the limit, past the input buffer, and one with no line
 * end until much later: one 500 each, and the session goes on. */
START_TEST(proto_huge_lines)
{
	static const size_t sizes[] = { 10 * LMTP_LINE_MAX, LMTP_INPUT_BUFFER + 100,
					3 * LMTP_INPUT_BUFFER };
	size_t n = sizes[_i];
	char *in = malloc(2 * n + 64);
	struct settings s = {0};
	struct expect e = { E_TOO_LONG E_TOO_LONG OK, "", NULL, 0 };
	size_t len = 0;

	ck_assert_ptr_nonnull(in);
	memset(in, 'A', n);
	len = n;
	memcpy(in + len, "\r\n", 2);
	len += 2;
	memset(in + len, 'B', n);
	len += n;
	memcpy(in + len, "\nNOOP\r\n", 7);
	len += 7;
	run_all_modes("huge lines", &s, in, len, &e);
	free(in);
}
END_TEST

/* A RCPT path of LMTP_PATH_MAX - 1, LMTP_PATH_MAX and LMTP_PATH_MAX + 1
 * octets, and the same for MAIL. */
START_TEST(proto_path_limit)
{
	size_t plen = LMTP_PATH_MAX - 1 + (size_t)_i;
	char addr[LMTP_PATH_MAX + 8], in[1024], replies[2048], events[1024];
	struct settings s = {0};
	struct expect e = { replies, events, NULL, 0 };
	bool ok = plen <= LMTP_PATH_MAX;

	memset(addr, 'a', plen - 10);
	memcpy(addr + plen - 10, "@x.example", 11);
	ck_assert_uint_eq(strlen(addr), plen);
	snprintf(in, sizeof(in), "LHLO client\r\nMAIL FROM:<%s>\r\nMAIL FROM:<>\r\n"
		 "RCPT TO:<%s>\r\nNOOP\r\n", addr, addr);
	if (ok) {
		snprintf(replies, sizeof(replies), LHLO_OK MAIL_OK
			 "503 5.5.1 Error: nested MAIL command\r\n"
			 "250 2.1.5 <%s> OK\r\n" OK, addr);
		snprintf(events, sizeof(events), LHLO_E "MAIL <%s>\n"
			 "RCPT <%s> notify=0\n", addr, addr);
	} else {
		snprintf(replies, sizeof(replies), LHLO_OK E_SENDER MAIL_OK E_RCPT_ADDR OK);
		snprintf(events, sizeof(events), LHLO_E "MAIL <>\n");
	}
	run_all_modes("path limit", &s, in, strlen(in), &e);
}
END_TEST

/* ENVID of 99, 100 and 101 octets (RFC 3461 4.4: at most 100). */
START_TEST(proto_envid_limit)
{
	size_t n = 99 + (size_t)_i;
	char envid[128], in[512], events[512];
	struct settings s = {0};
	struct expect e = { NULL, events, NULL, 0 };

	memset(envid, 'e', n);
	envid[n] = '\0';
	snprintf(in, sizeof(in), "LHLO client\r\nMAIL FROM:<> ENVID=%s\r\n", envid);
	if (n <= 100) {
		e.replies = LHLO_OK MAIL_OK;
		snprintf(events, sizeof(events), LHLO_E "MAIL <> envid=%s\n", envid);
	} else {
		e.replies = LHLO_OK "501 5.5.4 Bad ENVID parameter\r\n";
		snprintf(events, sizeof(events), LHLO_E);
	}
	run_all_modes("envid limit", &s, in, strlen(in), &e);
}
END_TEST

/* A message bigger than the input buffer, with long lines, many stuffed
 * dots and a CRLF at every buffer boundary offset. */
START_TEST(proto_data_large)
{
	size_t body = 3 * LMTP_INPUT_BUFFER + 777, len = 0, mlen = 0;
	/* The last line may run up to 4000 bytes past body. */
	char *in = malloc(2 * body + 16384), *want = malloc(body + 8192);
	struct settings s = {0};
	struct expect e = { OPEN_R GO_AHEAD SAVED("c@d.example") OK,
			    OPEN_E "DATA\nEND\n", want, 0 };

	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(want);
	len = (size_t)sprintf(in, OPEN "DATA\r\n");
	for (size_t i = 0; mlen < body; i++) {
		/* Line i: i % 3 == 0 starts with a dot (stuffed on the
		 * wire), lengths vary from 0 to 4000. */
		size_t l = i * 37 % 4001;

		if (i % 3 == 0) {
			in[len++] = '.';
			in[len++] = '.';
			want[mlen++] = '.';
		}
		for (size_t k = 0; k < l; k++) {
			char c = (char)('a' + (i + k) % 26);

			in[len++] = c;
			want[mlen++] = c;
		}
		in[len++] = '\r';
		in[len++] = '\n';
		want[mlen++] = '\n';
	}
	memcpy(want + mlen, EOM, 1);
	e.msgs_len = mlen + 1;
	len += (size_t)sprintf(in + len, ".\r\nNOOP\r\n");
	run_all_modes("large message", &s, in, len, &e);
	free(in);
	free(want);
}
END_TEST

/* max_recipients at its default-sized limit (1000) with pipelining: every
 * accepted recipient gets exactly one final reply. */
START_TEST(proto_many_recipients)
{
	struct settings s = { .max_recipients = 1000 };
	struct drv d;
	char line[128];
	struct buf in;
	const char *p;
	unsigned int saved = 0, too_many = 0;

	buf_init(&in, 0);
	ck_assert_int_eq(buf_append_str(&in, "LHLO client\r\nMAIL FROM:<>\r\n"), 0);
	for (int i = 0; i < 1001; i++) {
		snprintf(line, sizeof(line), "RCPT TO:<r%d@x.example>\r\n", i);
		ck_assert_int_eq(buf_append_str(&in, line), 0);
	}
	ck_assert_int_eq(buf_append_str(&in, "DATA\r\nm\r\n.\r\n"), 0);
	drv_init(&d, &s);
	drv_feed(&d, in.data, in.len, 0);
	for (p = d.out.data; (p = strstr(p, " Saved\r\n")) != NULL; p++)
		saved++;
	for (p = d.out.data; (p = strstr(p, "452 4.5.3")) != NULL; p++)
		too_many++;
	ck_assert_uint_eq(saved, 1000);
	ck_assert_uint_eq(too_many, 1);
	ck_assert_ptr_nonnull(strstr(d.out.data, "<r999@x.example> Saved\r\n"));
	ck_assert_ptr_null(strstr(d.out.data, "<r1000@x.example> OK"));
	ck_assert_uint_eq(lmtp_proto_stats(d.p)->rcpt, 1001);
	drv_free(&d);
	buf_free(&in);
}
END_TEST

/* ---- the caller's contract ---- */

static struct drv contract;

static void
contract_until_data_end(void)
{
	static const char in[] = OPEN "RCPT TO:<e@d.example>\r\nDATA\r\nx\r\n.\r\n";
	struct settings s = {0};
	struct lmtp_event ev;
	size_t space;
	char *dst;

	drv_init(&contract, &s);
	dst = lmtp_proto_input_space(contract.p, &space);
	memcpy(dst, in, sizeof(in) - 1);
	lmtp_proto_input_commit(contract.p, sizeof(in) - 1);
	while ((ev = lmtp_proto_next(contract.p)).type != LMTP_EV_DATA_END) {
		ck_assert_int_ne(ev.type, LMTP_EV_NONE);
		drv_handle(&contract, &ev);
	}
	ck_assert_uint_eq(contract.naccepted, 2);
}

/* Two accepted recipients: one final reply is not enough... */
START_TEST(proto_final_missing)
{
	contract_until_data_end();
	lmtp_proto_final_reply(contract.p, "250 2.0.0 <c@d.example> Saved");
	(void)lmtp_proto_next(contract.p);	/* a decision is owed: panic */
}
END_TEST

/* ... and a third one is a bug too. */
START_TEST(proto_final_extra)
{
	contract_until_data_end();
	lmtp_proto_final_reply(contract.p, "250 2.0.0 <c@d.example> Saved");
	lmtp_proto_final_reply(contract.p, "250 2.0.0 <e@d.example> Saved");
	ck_assert_int_eq(lmtp_proto_next(contract.p).type, LMTP_EV_NONE);
	lmtp_proto_final_reply(contract.p, "250 2.0.0 <x@d.example> Saved");
}
END_TEST

START_TEST(proto_final_exact)
{
	const char *out;
	size_t len;

	contract_until_data_end();
	ck_assert(lmtp_proto_in_transaction(contract.p));
	lmtp_proto_final_reply(contract.p, "250 2.0.0 <c@d.example> Saved");
	ck_assert(lmtp_proto_in_transaction(contract.p));
	lmtp_proto_final_reply(contract.p, "250 2.0.0 <e@d.example> Saved");
	ck_assert(!lmtp_proto_in_transaction(contract.p));
	ck_assert_int_eq(lmtp_proto_next(contract.p).type, LMTP_EV_NONE);
	out = lmtp_proto_output(contract.p, &len);
	ck_assert_ptr_nonnull(strstr(out, GO_AHEAD "250 2.0.0 <c@d.example> Saved\r\n"
				     "250 2.0.0 <e@d.example> Saved\r\n"));
	drv_free(&contract);
}
END_TEST

START_TEST(proto_rcpt_reply_unasked)
{
	struct settings s = {0};

	drv_init(&contract, &s);
	lmtp_proto_rcpt_reply(contract.p, true, "250 2.1.5 Ok");
}
END_TEST

/* ---- output high-water ---- */

START_TEST(proto_output_high_water)
{
	struct settings s = {0};
	struct drv d;
	size_t space, len, total = 0, noops = 0, line = strlen(OK);
	char *dst;
	const char *out;

	/* A peer that sends commands but never reads the replies. */
	drv_init(&d, &s);
	d.drain = false;
	dst = lmtp_proto_input_space(d.p, &space);
	ck_assert_uint_eq(space, LMTP_INPUT_BUFFER);
	while (space >= 6) {
		memcpy(dst, "NOOP\r\n", 6);
		lmtp_proto_input_commit(d.p, 6);
		noops++;
		dst = lmtp_proto_input_space(d.p, &space);
	}
	ck_assert_uint_gt(noops * line, LMTP_OUTPUT_HIGH_WATER);
	/* Commands stop once the replies reach the high-water mark... */
	ck_assert_int_eq(lmtp_proto_next(d.p).type, LMTP_EV_NONE);
	out = lmtp_proto_output(d.p, &len);
	ck_assert_uint_ge(len, LMTP_OUTPUT_HIGH_WATER);
	ck_assert_uint_lt(len, LMTP_OUTPUT_HIGH_WATER + line);
	ck_assert(lmtp_proto_has_input(d.p));
	/* ... and stay stopped while nobody reads. */
	ck_assert_int_eq(lmtp_proto_next(d.p).type, LMTP_EV_NONE);
	ck_assert_int_eq(lmtp_proto_next(d.p).type, LMTP_EV_NONE);
	(void)lmtp_proto_output(d.p, &total);
	ck_assert_uint_eq(total, len);
	/* Reading the replies lets the rest through, in order. */
	total = 0;
	for (;;) {
		out = lmtp_proto_output(d.p, &len);
		if (len == 0)
			break;
		ck_assert_uint_eq(len % line, 0);
		for (size_t i = 0; i < len; i += line)
			ck_assert_int_eq(memcmp(out + i, OK, line), 0);
		total += len;
		lmtp_proto_output_consume(d.p, len);
		ck_assert_int_eq(lmtp_proto_next(d.p).type, LMTP_EV_NONE);
	}
	ck_assert(!lmtp_proto_has_input(d.p));
	ck_assert_uint_eq(total, noops * line);
	/* Space for input comes back once the commands are read. */
	(void)lmtp_proto_input_space(d.p, &space);
	ck_assert_uint_eq(space, LMTP_INPUT_BUFFER);
	drv_free(&d);
}
END_TEST

START_TEST(proto_high_water_data)
{
	struct settings s = {0};
	struct drv d;
	size_t len;
	char filler[1024];

	/* Queued replies hold back commands, not message data: the data
	 * and its end still come through, the command after it waits. */
	drv_init(&d, &s);
	d.drain = false;
	drv_feed(&d, UT_S(OPEN "DATA\r\n"), 0);
	memset(filler, 'f', sizeof(filler) - 1);
	filler[sizeof(filler) - 1] = '\0';
	for (size_t i = 0; i <= LMTP_OUTPUT_HIGH_WATER / sizeof(filler); i++)
		lmtp_proto_reply(d.p, filler);
	drv_feed(&d, UT_S("line\r\n.\r\nNOOP\r\n"), 0);
	ck_assert_str_eq(d.events.data, OPEN_E "DATA\nEND\n");
	ck_assert_int_eq(memcmp(d.msgs.data, "line\n" EOM, 6), 0);
	ck_assert(lmtp_proto_has_input(d.p));		/* the NOOP */
	drv_drain(&d);
	drv_pump(&d);
	drv_drain(&d);
	ck_assert(!lmtp_proto_has_input(d.p));
	len = strlen(d.out.data);
	ck_assert_str_eq(d.out.data + len - strlen(SAVED("c@d.example") OK),
			 SAVED("c@d.example") OK);
	drv_free(&d);
}
END_TEST

/* ---- shutdown, state queries, stats ---- */

START_TEST(proto_shutdown)
{
	struct settings s = {0};
	struct drv d;
	size_t len;
	const char *out;

	drv_init(&d, &s);
	drv_feed(&d, UT_S(OPEN), 0);
	ck_assert(lmtp_proto_in_transaction(d.p));
	ck_assert(!lmtp_proto_in_data(d.p));
	/* Never in the middle of a transaction. */
	ck_assert(!lmtp_proto_shutdown(d.p, "421 4.3.2 " HOST " Service shutting down"));
	(void)lmtp_proto_output(d.p, &len);
	ck_assert_uint_eq(len, 0);
	drv_feed(&d, UT_S("DATA\r\nabc\r\n"), 0);
	ck_assert(lmtp_proto_in_data(d.p));
	ck_assert(!lmtp_proto_shutdown(d.p, "421 4.3.2 x"));
	drv_feed(&d, UT_S(".\r\n"), 0);
	ck_assert(!lmtp_proto_in_transaction(d.p));
	ck_assert(!lmtp_proto_in_data(d.p));
	/* Between transactions: the reply, then nothing more. */
	ck_assert(lmtp_proto_shutdown(d.p, "421 4.3.2 " HOST " Service shutting down"));
	out = lmtp_proto_output(d.p, &len);
	ck_assert_str_eq(out, "421 4.3.2 " HOST " Service shutting down\r\n");
	lmtp_proto_output_consume(d.p, len);
	ck_assert(lmtp_proto_shutdown(d.p, "421 again"));
	drv_feed(&d, UT_S("NOOP\r\n"), 0);
	ck_assert_int_eq(lmtp_proto_next(d.p).type, LMTP_EV_NONE);
	(void)lmtp_proto_output(d.p, &len);
	ck_assert_uint_eq(len, 0);
	drv_free(&d);
}
END_TEST

/* A chunk read only to be refused is no transaction: a stop closes the
 * session at once instead of waiting for all of it (at the slowest
 * rate allowed, a large one took days).  One of a real transaction is. */
START_TEST(proto_shutdown_refused_chunk)
{
	struct settings s = {0};
	struct drv d;
	uint64_t done;
	size_t len;
	const char *out;

	drv_init(&d, &s);
	drv_feed(&d, UT_S("LHLO client\r\nBDAT 100000000 LAST\r\nxxxx"), 0);
	ck_assert(lmtp_proto_discarding(d.p, &done));
	ck_assert_uint_eq(done, 4);
	ck_assert(!lmtp_proto_in_transaction(d.p));
	(void)lmtp_proto_output(d.p, &len);
	lmtp_proto_output_consume(d.p, len);
	ck_assert(lmtp_proto_shutdown(d.p, "421 4.3.2 " HOST " Service shutting down"));
	out = lmtp_proto_output(d.p, &len);
	ck_assert_str_eq(out, "421 4.3.2 " HOST " Service shutting down\r\n");
	drv_free(&d);

	drv_init(&d, &s);
	drv_feed(&d, UT_S(OPEN "BDAT 100000000 LAST\r\nxxxx"), 0);
	ck_assert(!lmtp_proto_discarding(d.p, &done));
	ck_assert(lmtp_proto_in_transaction(d.p));
	ck_assert(!lmtp_proto_shutdown(d.p, "421 4.3.2 x"));
	drv_free(&d);

	/* MAIL without a valid recipient: refused, but MAIL holds it open
	 * as it holds any transaction that has one */
	drv_init(&d, &s);
	drv_feed(&d, UT_S("LHLO client\r\nMAIL FROM:<a@b.example>\r\n"
			  "BDAT 100000000 LAST\r\nxxxx"), 0);
	ck_assert(lmtp_proto_discarding(d.p, &done));
	ck_assert(lmtp_proto_in_transaction(d.p));
	drv_free(&d);
}
END_TEST

START_TEST(proto_stats)
{
	static const char in[] =
		"LHLO client\r\nFOO\r\nMAIL FROM:<>\r\nRCPT TO:<a@b.example>\r\n"
		"RCPT TO:<unknown@b.example>\r\nDATA\r\nx\r\n.\r\nRSET\r\n"
		"MAIL FROM:<>\r\nRCPT TO:<a@b.example>\r\nBDAT 1 LAST\r\nyHELO x\r\n"
		"QUIT\r\n";
	struct settings s = {0};
	const struct lmtp_proto_stats *st;
	struct drv d;

	drv_init(&d, &s);
	drv_feed(&d, in, sizeof(in) - 1, 0);
	st = lmtp_proto_stats(d.p);
	ck_assert_uint_eq(st->lhlo, 1);
	ck_assert_uint_eq(st->mail, 2);
	ck_assert_uint_eq(st->rcpt, 3);
	ck_assert_uint_eq(st->data, 1);
	ck_assert_uint_eq(st->bdat, 1);
	ck_assert_uint_eq(st->rset, 1);
	ck_assert_uint_eq(st->quit, 1);
	ck_assert_uint_eq(st->unknown, 1);
	ck_assert_uint_eq(st->errors, 2);
	drv_free(&d);
}
END_TEST

/* What the session's per-line deadline reads: a command line partly in
 * (or an over-long one being skipped) is partial until its LF, the line
 * count moves with each complete line, and neither applies to message
 * data. */
START_TEST(proto_partial_command)
{
	static const char txn[] = "MAIL FROM:<>\r\nRCPT TO:<a@b.example>\r\nDATA\r\n";
	static const char msg_part[] = "Subject: x\r\n\r\nno line end";
	struct settings s = {0};
	struct drv d;
	char *huge;

	drv_init(&d, &s);
	ck_assert(!lmtp_proto_partial_command(d.p));
	ck_assert(!lmtp_proto_line_cut(d.p));
	drv_feed(&d, "LHL", 3, 0);
	ck_assert(lmtp_proto_partial_command(d.p));
	ck_assert(lmtp_proto_line_cut(d.p));
	ck_assert_uint_eq(lmtp_proto_command_lines(d.p), 0);
	drv_feed(&d, "O client\r\nNO", 12, 0);
	ck_assert(lmtp_proto_partial_command(d.p));
	ck_assert(lmtp_proto_line_cut(d.p));
	ck_assert_uint_eq(lmtp_proto_command_lines(d.p), 1);
	drv_feed(&d, "OP\r\n", 4, 0);
	ck_assert(!lmtp_proto_partial_command(d.p));
	ck_assert(!lmtp_proto_line_cut(d.p));
	ck_assert_uint_eq(lmtp_proto_command_lines(d.p), 2);
	ck_assert_str_eq(d.out.data, LHLO_OK OK);

	/* Past LMTP_LINE_MAX its bytes are dropped as they come, but the
	 * line is still not over. */
	huge = malloc(3 * LMTP_LINE_MAX);
	ck_assert_ptr_nonnull(huge);
	memset(huge, 'x', 3 * LMTP_LINE_MAX);
	drv_feed(&d, huge, 3 * LMTP_LINE_MAX, 0);
	free(huge);
	ck_assert(!lmtp_proto_has_input(d.p));
	ck_assert(lmtp_proto_partial_command(d.p));
	ck_assert(lmtp_proto_line_cut(d.p));
	drv_feed(&d, "\r\n", 2, 0);
	ck_assert(!lmtp_proto_partial_command(d.p));
	ck_assert_uint_eq(lmtp_proto_command_lines(d.p), 3);

	drv_feed(&d, txn, sizeof(txn) - 1, 0);
	ck_assert_uint_eq(lmtp_proto_command_lines(d.p), 6);
	drv_feed(&d, msg_part, sizeof(msg_part) - 1, 0);
	ck_assert(lmtp_proto_in_data(d.p));
	ck_assert(!lmtp_proto_partial_command(d.p));
	ck_assert(!lmtp_proto_line_cut(d.p));
	drv_free(&d);
}
END_TEST

/* ---- lmtp_xtext_decode ---- */

static const struct {
	const char *in;
	size_t out_size;
	int ret;
	const char *out;
} xtext_cases[] = {
	{ "abc", 16, 0, "abc" },
	{ "", 16, 0, "" },
	{ "a+2Bb", 16, 0, "a+b" },
	{ "+2b+3d", 16, 0, "+=" },
	{ "+41+42+7E", 16, 0, "AB~" },
	{ "j\xc3\xb6rg", 16, 0, "j\xc3\xb6rg" },
	{ "+", 16, -1, NULL },
	{ "a+2", 16, -1, NULL },
	{ "+zz", 16, -1, NULL },
	{ "+2G", 16, -1, NULL },
	{ "+0A", 16, -1, NULL },		/* controls are refused */
	{ "+00", 16, -1, NULL },
	{ "+7F", 16, -1, NULL },
	{ "a\x01", 16, -1, NULL },
	/* RFC 6533 utf-8-addr-xtext */
	{ "\\x{41}", 16, 0, "A" },
	{ "\\x{e9}", 16, 0, "\xc3\xa9" },
	{ "j\\x{F6}rg", 16, 0, "j\xc3\xb6rg" },
	{ "\\x{20AC}", 16, 0, "\xe2\x82\xac" },
	{ "\\x{1F600}", 16, 0, "\xf0\x9f\x98\x80" },
	{ "\\x{10FFFF}", 16, 0, "\xf4\x8f\xbf\xbf" },
	{ "\\x{000041}", 16, 0, "A" },
	{ "\\x{110000}", 16, -1, NULL },
	{ "\\x{D800}", 16, -1, NULL },
	{ "\\x{DFFF}", 16, -1, NULL },
	{ "\\x{}", 16, -1, NULL },
	{ "\\x{1234567}", 16, -1, NULL },
	{ "\\x{41", 16, -1, NULL },
	{ "\\x{G1}", 16, -1, NULL },
	{ "\\x{ 41}", 16, -1, NULL },
	{ "\\x{+41}", 16, -1, NULL },
	{ "\\x{0x41}", 16, -1, NULL },
	{ "\\x{0A}", 16, -1, NULL },
	{ "a\\b", 16, 0, "a\\b" },	/* a lone backslash is itself */
	{ "\\x41", 16, 0, "\\x41" },
	/* Output bounds: the text and its NUL must fit. */
	{ "abc", 4, 0, "abc" },
	{ "abcd", 4, -1, NULL },
	{ "a+2B", 3, 0, "a+" },
	{ "a+2Bc", 3, -1, NULL },
	{ "\\x{E9}", 3, 0, "\xc3\xa9" },
	{ "\\x{E9}", 2, -1, NULL },
	{ "\\x{1F600}", 5, 0, "\xf0\x9f\x98\x80" },
	{ "\\x{1F600}", 4, -1, NULL },
	{ "", 1, 0, "" },
	{ "", 0, -1, NULL },
};

START_TEST(proto_xtext)
{
	char out[32];
	int ret;

	memset(out, '#', sizeof(out));
	ret = lmtp_xtext_decode(xtext_cases[_i].in, strlen(xtext_cases[_i].in), out,
				xtext_cases[_i].out_size);
	ck_assert_msg(ret == xtext_cases[_i].ret, "'%s' in %zu: ret %d",
		      ut_escs(xtext_cases[_i].in), xtext_cases[_i].out_size, ret);
	if (ret == 0)
		ck_assert_str_eq(out, xtext_cases[_i].out);
	ck_assert_int_eq(out[xtext_cases[_i].out_size], '#');
}
END_TEST

START_TEST(proto_xtext_length_bound)
{
	char out[8];

	/* len, not the NUL, bounds the input. */
	ck_assert_int_eq(lmtp_xtext_decode("abcdef", 3, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "abc");
	ck_assert_int_eq(lmtp_xtext_decode("a+2Bb", 2, out, sizeof(out)), -1);
	ck_assert_int_eq(lmtp_xtext_decode("\\x{41}", 5, out, sizeof(out)), -1);
}
END_TEST

static Suite *
proto_suite(void)
{
	Suite *s = suite_create("lmtp_proto");
	TCase *tc;

	tc = ut_tcase(s, "scenarios", false);
	tcase_add_loop_test(tc, proto_table, 0, (int)N_ELEMENTS(cases) * MODES);
	tc = ut_tcase(s, "limits", false);
	tcase_add_loop_test(tc, proto_line_limit, 0, 6);
	tcase_add_loop_test(tc, proto_huge_lines, 0, 3);
	tcase_add_test(tc, proto_refused_logged);
	tcase_add_loop_test(tc, proto_path_limit, 0, 3);
	tcase_add_loop_test(tc, proto_envid_limit, 0, 3);
	tcase_add_test(tc, proto_data_large);
	tcase_add_test(tc, proto_many_recipients);
	tcase_add_test(tc, proto_output_high_water);
	tcase_add_test(tc, proto_high_water_data);
	tc = ut_tcase(s, "contract", false);
	tcase_add_test_raise_signal(tc, proto_final_missing, SIGABRT);
	tcase_add_test_raise_signal(tc, proto_final_extra, SIGABRT);
	tcase_add_test(tc, proto_final_exact);
	tcase_add_test_raise_signal(tc, proto_rcpt_reply_unasked, SIGABRT);
	tcase_add_test(tc, proto_shutdown);
	tcase_add_test(tc, proto_shutdown_refused_chunk);
	tcase_add_test(tc, proto_stats);
	tcase_add_test(tc, proto_partial_command);
	tc = ut_tcase(s, "xtext", false);
	tcase_add_loop_test(tc, proto_xtext, 0, N_ELEMENTS(xtext_cases));
	tcase_add_test(tc, proto_xtext_length_bound);
	return s;
}

int
main(void)
{
	return ut_run(proto_suite);
}
