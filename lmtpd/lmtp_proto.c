/* lmtp_proto: the LMTP state machine.  Owns command framing, syntax,
 * command sequencing, DATA dot-unstuffing and BDAT chunk counting.  Policy
 * (who is a valid recipient, where data goes) belongs to the caller.
 * Bounds: a command line is at most LMTP_LINE_MAX bytes, the input buffer
 * LMTP_INPUT_BUFFER, and queued output stops command processing at
 * LMTP_OUTPUT_HIGH_WATER until the peer reads it. */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "dsn.h"
#include "lmtpd_limits.h"
#include "lmtp_proto.h"
#include "log.h"
#include "rcpt.h"
#include "utf8.h"
#include "xalloc.h"

enum lmtp_state {
	LMTP_STATE_COMMAND,
	LMTP_STATE_DATA,	/* after 354 */
	LMTP_STATE_BDAT,	/* inside a BDAT chunk */
	LMTP_STATE_CLOSED,
};

enum lmtp_wait {
	LMTP_WAIT_NONE,
	LMTP_WAIT_MAIL,
	LMTP_WAIT_RCPT,
	LMTP_WAIT_DATA,
	LMTP_WAIT_FINAL,
};

/* DATA decoder states, see the policy in lmtp_proto.h. */
enum lmtp_dot_state {
	DOT_LINE_START,		/* after CRLF */
	DOT_DOT,		/* "." at line start */
	DOT_DOT_CR,		/* ".\r" at line start */
	DOT_IN_LINE,
	DOT_CR,			/* "\r" inside a line */
};

struct lmtp_proto {
	struct lmtp_proto_settings set;
	enum lmtp_state state;
	enum lmtp_wait wait;

	char in[LMTP_INPUT_BUFFER];
	size_t in_start, in_end;
	bool discarding_line;	/* inside an over-long command line */
	uint64_t command_lines;	/* complete command lines taken */
	bool eof;

	/* Decoded data handed out by the last DATA_CHUNK event. */
	char dec[LMTP_INPUT_BUFFER + 8];

	struct buf out;

	bool have_lhlo;
	bool have_mail;
	bool smtputf8;
	unsigned int rcpt_accepted;
	unsigned int finals_owed;
	bool bdat_active;	/* a BDAT transfer has started in this txn */
	bool bdat_refused;	/* the current chunk is being discarded */
	char bdat_reply[256];	/* answers the discarded chunk */
	/* of LMTP_EV_RCPT_REFUSED and LMTP_EV_COMMAND_REFUSED */
	char refused_reply[LMTP_PATH_MAX + 64];
	bool bdat_last;
	bool bdat_cr;		/* a CR ended the previous BDAT bytes */
	uint64_t bdat_left;
	uint64_t bdat_size;
	bool pending_data_end;	/* DATA_END to emit after the current chunk */
	enum lmtp_dot_state dot;

	struct lmtp_mail mail;
	struct lmtp_rcpt rcpt;
	char lhlo_arg[LMTP_LINE_MAX + 1];

	struct lmtp_proto_stats stats;
	/* Errors since mail was last delivered: what max_errors bounds, as
	 * Postfix's smtpd_hard_error_limit ("errors a client may make
	 * without delivering mail"), so a connection the MTA keeps open
	 * for hours is not cut by a few bad recipients spread over it. */
	unsigned int errors_undelivered;
	/* The last MAIL or RCPT the parser refused, for the log (its reply
	 * in refused_reply). */
	char refused_line[LMTP_REFUSED_LINE_MAX + 1];
};

struct lmtp_proto *
lmtp_proto_new(const struct lmtp_proto_settings *settings)
{
	struct lmtp_proto *p = xcalloc(1, sizeof(*p));

	p->set = *settings;
	p->set.hostname = xstrdup(settings->hostname);
	buf_init(&p->out, 0);
	return p;
}

void
lmtp_proto_free(struct lmtp_proto **pp)
{
	struct lmtp_proto *p = *pp;

	if (p == NULL)
		return;
	free((char *)p->set.hostname);
	buf_free(&p->out);
	free(p);
	*pp = NULL;
}

char *
lmtp_proto_input_space(struct lmtp_proto *p, size_t *space_r)
{
	if (p->in_start > 0) {
		memmove(p->in, p->in + p->in_start, p->in_end - p->in_start);
		p->in_end -= p->in_start;
		p->in_start = 0;
	}
	*space_r = sizeof(p->in) - p->in_end;
	return p->in + p->in_end;
}

void
lmtp_proto_input_commit(struct lmtp_proto *p, size_t n)
{
	if (n > sizeof(p->in) - p->in_end)
		log_panic("lmtp_proto_input_commit: %zu bytes overflow", n);
	p->in_end += n;
}

bool
lmtp_proto_has_input(const struct lmtp_proto *p)
{
	return p->in_end > p->in_start;
}

void
lmtp_proto_input_eof(struct lmtp_proto *p)
{
	p->eof = true;
}

void
lmtp_proto_reply(struct lmtp_proto *p, const char *reply)
{
	/* The output buffer has no maximum: the caller stops feeding input
	 * at LMTP_OUTPUT_HIGH_WATER, which bounds it. */
	if (buf_append_str(&p->out, reply) < 0 || buf_append(&p->out, "\r\n", 2) < 0)
		log_panic("lmtp_proto_reply: output buffer");
}

static void ATTR_PRINTF(2, 3)
lmtp_replyf(struct lmtp_proto *p, const char *fmt, ...)
{
	char line[LMTP_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	lmtp_proto_reply(p, line);
}

const char *
lmtp_proto_output(const struct lmtp_proto *p, size_t *len_r)
{
	*len_r = p->out.len;
	return p->out.data;
}

void
lmtp_proto_output_consume(struct lmtp_proto *p, size_t n)
{
	buf_consume(&p->out, n);
}

const struct lmtp_proto_stats *
lmtp_proto_stats(const struct lmtp_proto *p)
{
	return &p->stats;
}

/* A chunk read only to be refused (no MAIL, or the transaction already
 * refused) is not one: a stop need not wait for it, and at the slowest
 * rate allowed a large one took days. */
bool
lmtp_proto_in_transaction(const struct lmtp_proto *p)
{
	return p->have_mail || p->state == LMTP_STATE_DATA ||
	       (p->state == LMTP_STATE_BDAT && !p->bdat_refused) ||
	       p->wait != LMTP_WAIT_NONE;
}

bool
lmtp_proto_in_data(const struct lmtp_proto *p)
{
	return (p->state == LMTP_STATE_DATA || p->state == LMTP_STATE_BDAT ||
		p->bdat_active) && !p->bdat_refused;
}

bool
lmtp_proto_partial_command(const struct lmtp_proto *p)
{
	return p->state == LMTP_STATE_COMMAND &&
	       (p->in_start < p->in_end || p->discarding_line);
}

bool
lmtp_proto_line_cut(const struct lmtp_proto *p)
{
	return p->state == LMTP_STATE_COMMAND &&
	       (p->discarding_line ||
		(p->in_start < p->in_end && p->in[p->in_end - 1] != '\n'));
}

uint64_t
lmtp_proto_command_lines(const struct lmtp_proto *p)
{
	return p->command_lines;
}

bool
lmtp_proto_discarding(const struct lmtp_proto *p, uint64_t *done_r)
{
	bool discarding = p->state == LMTP_STATE_BDAT && p->bdat_refused;

	*done_r = discarding ? p->bdat_size - p->bdat_left : 0;
	return discarding;
}

static void
lmtp_txn_reset(struct lmtp_proto *p)
{
	p->have_mail = false;
	p->smtputf8 = false;
	p->rcpt_accepted = 0;
	p->finals_owed = 0;
	p->bdat_active = false;
	p->bdat_refused = false;
	p->bdat_cr = false;
	p->pending_data_end = false;
	memset(&p->mail, 0, sizeof(p->mail));
}

bool
lmtp_proto_shutdown(struct lmtp_proto *p, const char *reply)
{
	if (lmtp_proto_in_transaction(p))
		return false;
	if (p->state != LMTP_STATE_CLOSED) {
		lmtp_proto_reply(p, reply);
		p->state = LMTP_STATE_CLOSED;
	}
	return true;
}

/* Counts a protocol error; past max_errors the session ends (RFC 5321
 * 4.1.1.5 lets a server close after repeated errors). */
static struct lmtp_event
lmtp_error(struct lmtp_proto *p, const char *reply)
{
	struct lmtp_event ev = { .type = LMTP_EV_NONE };

	p->stats.errors++;
	p->errors_undelivered++;
	lmtp_proto_reply(p, reply);
	if (p->errors_undelivered >= p->set.max_errors) {
		lmtp_replyf(p, "421 4.7.0 %s Error: too many errors", p->set.hostname);
		p->state = LMTP_STATE_CLOSED;
		ev.type = LMTP_EV_CLOSE;
		ev.arg = "too many errors";
	}
	return ev;
}

/* lmtp_error for a MAIL or RCPT line the parser refuses: the caller logs
 * it (an admin must see why the MTA bounced a recipient without the
 * MTA's log), unless the error closes the session, which is logged. */
static struct lmtp_event
lmtp_refuse(struct lmtp_proto *p, const char *line, const char *reply)
{
	struct lmtp_event ev = lmtp_error(p, reply);

	if (ev.type != LMTP_EV_NONE)
		return ev;
	snprintf(p->refused_reply, sizeof(p->refused_reply), "%s", reply);
	snprintf(p->refused_line, sizeof(p->refused_line), "%s", line);
	ev.type = LMTP_EV_COMMAND_REFUSED;
	ev.arg = p->refused_reply;
	ev.data = p->refused_line;
	ev.len = strlen(p->refused_line);
	return ev;
}

int
lmtp_xtext_decode(const char *in, size_t len, char *out, size_t out_size)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned int v;
		char hex[3] = { 0 };

		if (in[i] == '+') {
			if (i + 2 >= len || !isxdigit((unsigned char)in[i + 1]) ||
			    !isxdigit((unsigned char)in[i + 2]))
				return -1;
			hex[0] = in[i + 1];
			hex[1] = in[i + 2];
			v = (unsigned int)strtoul(hex, NULL, 16);
			i += 2;
		} else if (in[i] == '\\' && i + 1 < len && in[i + 1] == 'x' &&
			   i + 2 < len && in[i + 2] == '{') {
			/* RFC 6533 utf-8-addr-xtext: \x{HH..} is a code point. */
			const char *end = memchr(in + i + 3, '}', len - i - 3);
			char num[9];
			size_t nlen;
			unsigned long cp;
			char *stop;

			if (end == NULL)
				return -1;
			nlen = (size_t)(end - (in + i + 3));
			if (nlen == 0 || nlen > 6)
				return -1;
			memcpy(num, in + i + 3, nlen);
			num[nlen] = '\0';
			/* 1*6HEXDIG only: strtoul alone also takes " 41",
			 * "+41" and "0x41". */
			if (strspn(num, "0123456789abcdefABCDEF") != nlen)
				return -1;
			cp = strtoul(num, &stop, 16);
			if (*stop != '\0' || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
				return -1;
			i = (size_t)(end - in);
			/* Encode the code point as UTF-8. */
			if (cp < 0x80) {
				v = (unsigned int)cp;
			} else {
				char u[4];
				size_t ulen;

				if (cp < 0x800) {
					u[0] = (char)(0xc0 | (cp >> 6));
					u[1] = (char)(0x80 | (cp & 0x3f));
					ulen = 2;
				} else if (cp < 0x10000) {
					u[0] = (char)(0xe0 | (cp >> 12));
					u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
					u[2] = (char)(0x80 | (cp & 0x3f));
					ulen = 3;
				} else {
					u[0] = (char)(0xf0 | (cp >> 18));
					u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
					u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
					u[3] = (char)(0x80 | (cp & 0x3f));
					ulen = 4;
				}
				if (o + ulen >= out_size)
					return -1;
				memcpy(out + o, u, ulen);
				o += ulen;
				continue;
			}
		} else {
			v = (unsigned char)in[i];
		}
		if (v < 0x20 || v == 0x7f || o + 1 >= out_size)
			return -1;
		out[o++] = (char)v;
	}
	if (out_size == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

/* Whether a control character starts at s: C0 and DEL, and in UTF-8 the
 * C1 controls (U+0080-U+009F) and the line and paragraph separators
 * (U+2028, U+2029), which some readers take as line ends.  The path goes
 * into the headers lmtpd writes (Return-Path, Received, Delivered-To), and
 * any of these could break a header line there. */
static bool
lmtp_control_at(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	if (u[0] < 0x20 || u[0] == 0x7f)
		return true;
	if (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f)
		return true;
	return u[0] == 0xe2 && u[1] == 0x80 && (u[2] == 0xa8 || u[2] == 0xa9);
}

/* Parses "<path>" (or a bare path, as Postfix tolerates) at *pos into out.
 * Strips an RFC 5321 source route ("@a,@b:"), keeps quoted local parts as
 * written.  Returns -1 on bad syntax, or on a control character anywhere,
 * quoted or escaped included. */
static int
lmtp_parse_path(const char **pos, char *out, size_t out_size, bool *non_ascii_r)
{
	const char *s = *pos, *start, *end;
	bool bracket = false, quoted = false;
	size_t len;

	*non_ascii_r = false;
	while (*s == ' ')
		s++;
	if (*s == '<') {
		bracket = true;
		s++;
	}
	start = s;
	for (end = s; *end != '\0'; end++) {
		unsigned char c = (unsigned char)*end;

		if (lmtp_control_at(end))
			return -1;
		if (c >= 0x80)
			*non_ascii_r = true;
		if (quoted) {
			if (c == '\\' && end[1] != '\0') {
				/* RFC 5321 quoted-pairSMTP escapes printable
				 * ASCII only (RFC 6531 adds UTF-8), never a
				 * control: a "\<CR>" would put a raw CR in the
				 * headers. */
				end++;
				if (lmtp_control_at(end))
					return -1;
				if ((unsigned char)*end >= 0x80)
					*non_ascii_r = true;
			} else if (c == '"') {
				quoted = false;
			}
			continue;
		}
		if (c == '"')
			quoted = true;
		else if (bracket && c == '>')
			break;
		else if (!bracket && c == ' ')
			break;
		else if (c == '<' || (bracket && c == ' '))
			return -1;
	}
	/* "MAIL FROM:" with nothing is no path: the null path is "<>". */
	if (quoted || (bracket && *end != '>') || (!bracket && end == start))
		return -1;
	/* Source route: "@hosta,@hostb:user@domain" (RFC 5321 4.1.2). */
	if (*start == '@') {
		const char *colon = memchr(start, ':', (size_t)(end - start));

		if (colon == NULL)
			return -1;
		start = colon + 1;
	}
	len = (size_t)(end - start);
	if (len >= out_size || len > LMTP_PATH_MAX)
		return -1;
	memcpy(out, start, len);
	out[len] = '\0';
	*pos = bracket ? end + 1 : end;
	return 0;
}

/* An address other than the null path must be local@domain (RFC 5321
 * 4.1.2); lmtpd also accepts "postmaster" alone (4.5.1).  Whether a
 * recipient's domain is a domain is rcpt.c's to say (and log); a sender's
 * is taken as the MTA passed it: the MTA took the message already, and
 * refusing its sender here would bounce it.  (Control characters, which
 * could break the headers, lmtp_parse_path refuses for both.) */
static bool
lmtp_address_valid(const char *addr)
{
	const char *at = strrchr(addr, '@');

	if (strcasecmp(addr, "postmaster") == 0)
		return true;
	return at != NULL && at != addr && at[1] != '\0';
}

/* A recipient's local part is one Quoted-string, or holds no '@' and no
 * quote (rcpt_local_part_syntax_ok), as Dovecot's LMTP requires of the
 * '@': "a@b@c.example" is a route, not a mailbox, to Postfix's resolver
 * (resolve_dequoted_address), and taken as "a@b"@c.example here it would
 * deliver into a mailbox named a@b.  The domain is the part after the
 * last '@' (lmtp_address_valid). */
static bool
lmtp_rcpt_local_valid(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at == NULL || rcpt_local_part_syntax_ok(addr, (size_t)(at - addr));
}

static bool
lmtp_keyword_is(const char *param, size_t klen, const char *key)
{
	return strlen(key) == klen && strncasecmp(param, key, klen) == 0;
}

/* The parameters MAIL and RCPT take. */
static const char *const mail_params[] = {
	"SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH", NULL,
};
static const char *const rcpt_params[] = { "NOTIFY", "ORCPT", NULL };

/* The reply to a parameter none of the command's branches took: "501 Bad
 * KEY parameter" for one of known used with a value it does not take (or
 * without one), else "555 Unsupported option: KEY" with the keyword as
 * the client sent it, cut to 64 bytes and printable ASCII only (a CR in
 * it would end the reply line early, and the MTA copies reply text into
 * bounces and its log). */

static const char *
lmtp_unsupported_option(char *why, size_t why_size, const char *param, size_t klen,
			const char *const *known)
{
	char shown[65];
	size_t n = klen < sizeof(shown) - 1 ? klen : sizeof(shown) - 1;

	/* "=x" names no option; a known one without the value it takes (or
	 * with one it does not) is a syntax error, not an unknown option. */
	if (klen == 0) {
		snprintf(why, why_size, "501 5.5.4 Bad parameter syntax");
		return why;
	}
	for (; *known != NULL; known++) {
		if (lmtp_keyword_is(param, klen, *known)) {
			snprintf(why, why_size, "501 5.5.4 Bad %s parameter", *known);
			return why;
		}
	}

	for (size_t i = 0; i < n; i++)
		shown[i] = param[i] >= 0x20 && param[i] < 0x7f ? param[i] : '?';
	shown[n] = '\0';
	snprintf(why, why_size, "555 5.5.4 Unsupported option: %s", shown);
	return why;
}

/* Whether an ORCPT, decoded, can go into X-Original-To: valid UTF-8 with no
 * control character (lmtp_control_at), as a path must be. */
static bool
lmtp_orcpt_usable(const char *orcpt)
{
	if (!utf8_valid((const unsigned char *)orcpt, strlen(orcpt)))
		return false;
	for (const char *c = orcpt; *c != '\0'; c++)
		if (lmtp_control_at(c))
			return false;
	return true;
}

/* The parameters after a path: "KEY=VALUE KEY ...".  Returns a reply line
 * on the first bad one, NULL when all are fine. */
static const char *
lmtp_parse_mail_params(struct lmtp_proto *p, const char *s, struct lmtp_mail *m,
		       char *why, size_t why_size)
{
	while (*s != '\0') {
		const char *param, *eq, *value;
		size_t plen, klen, vlen;

		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		param = s;
		while (*s != '\0' && *s != ' ')
			s++;
		plen = (size_t)(s - param);
		eq = memchr(param, '=', plen);
		klen = eq != NULL ? (size_t)(eq - param) : plen;
		value = eq != NULL ? eq + 1 : NULL;
		vlen = eq != NULL ? plen - klen - 1 : 0;
		if (lmtp_keyword_is(param, klen, "SIZE") && value != NULL) {
			char num[24];
			char *end;

			if (vlen == 0 || vlen > 20 || strspn(value, "0123456789") < vlen)
				return "501 5.5.4 Bad SIZE parameter";
			memcpy(num, value, vlen);
			num[vlen] = '\0';
			errno = 0;
			m->size = strtoull(num, &end, 10);
			/* RFC 1870: up to 20 digits; one past 2^64 is over
			 * any limit, not a syntax error */
			if (errno == ERANGE && vlen <= 20)
				m->size = UINT64_MAX;
			else if (errno != 0)
				return "501 5.5.4 Bad SIZE parameter";
			if (p->set.max_message_size != 0 &&
			    m->size > p->set.max_message_size)
				return "552 5.3.4 Message size exceeds fixed limit";
		} else if (lmtp_keyword_is(param, klen, "BODY") && value != NULL) {
			if (vlen == 4 && strncasecmp(value, "7BIT", 4) == 0)
				m->body_8bit = false;
			else if (vlen == 8 && strncasecmp(value, "8BITMIME", 8) == 0)
				m->body_8bit = true;
			else
				return "555 5.5.4 Unsupported BODY parameter";
		} else if (lmtp_keyword_is(param, klen, "SMTPUTF8") && value == NULL) {
			m->smtputf8 = true;
		} else if (lmtp_keyword_is(param, klen, "RET") && value != NULL) {
			if (vlen == 4 && strncasecmp(value, "FULL", 4) == 0)
				m->ret_hdrs = !(m->ret_full = true);
			else if (vlen == 4 && strncasecmp(value, "HDRS", 4) == 0)
				m->ret_full = !(m->ret_hdrs = true);
			else
				return "501 5.5.4 Bad RET parameter";
		} else if (lmtp_keyword_is(param, klen, "ENVID") && value != NULL) {
			if (lmtp_xtext_decode(value, vlen, m->envid, sizeof(m->envid)) < 0)
				return "501 5.5.4 Bad ENVID parameter";
			/* RFC 3461 4.4: printable ASCII once decoded; it goes
			 * into delivery reports as it is */
			for (const char *c = m->envid; *c != '\0'; c++)
				if (*c < 0x20 || *c > 0x7e)
					return "501 5.5.4 Bad ENVID parameter";
		} else if (lmtp_keyword_is(param, klen, "AUTH") && value != NULL) {
			/* RFC 4954 5: the submitter identity; nothing to do
			 * for final delivery. */
		} else {
			return lmtp_unsupported_option(why, why_size, param, klen, mail_params);
		}
	}
	return NULL;
}

static const char *
lmtp_parse_rcpt_params(const char *s, struct lmtp_rcpt *r, bool smtputf8, char *why,
		       size_t why_size)
{
	while (*s != '\0') {
		const char *param, *eq, *value;
		size_t plen, klen, vlen;

		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		param = s;
		while (*s != '\0' && *s != ' ')
			s++;
		plen = (size_t)(s - param);
		eq = memchr(param, '=', plen);
		klen = eq != NULL ? (size_t)(eq - param) : plen;
		value = eq != NULL ? eq + 1 : NULL;
		vlen = eq != NULL ? plen - klen - 1 : 0;
		if (lmtp_keyword_is(param, klen, "NOTIFY") && value != NULL) {
			const char *w = value, *vend = value + vlen;

			r->notify = 0;
			/* RFC 3461 4.1: one or more keywords; an empty list
			 * or an empty last item is a syntax error. */
			if (vlen == 0 || value[vlen - 1] == ',')
				return "501 5.5.4 Bad NOTIFY parameter";
			while (w < vend) {
				const char *comma = memchr(w, ',', (size_t)(vend - w));
				size_t wl = (size_t)((comma != NULL ? comma : vend) - w);

				if (wl == 5 && strncasecmp(w, "NEVER", 5) == 0)
					r->notify |= LMTP_NOTIFY_NEVER;
				else if (wl == 7 && strncasecmp(w, "SUCCESS", 7) == 0)
					r->notify |= LMTP_NOTIFY_SUCCESS;
				else if (wl == 7 && strncasecmp(w, "FAILURE", 7) == 0)
					r->notify |= LMTP_NOTIFY_FAILURE;
				else if (wl == 5 && strncasecmp(w, "DELAY", 5) == 0)
					r->notify |= LMTP_NOTIFY_DELAY;
				else
					return "501 5.5.4 Bad NOTIFY parameter";
				w += wl + (comma != NULL ? 1 : 0);
			}
			if ((r->notify & LMTP_NOTIFY_NEVER) != 0 &&
			    r->notify != LMTP_NOTIFY_NEVER)
				return "501 5.5.4 Bad NOTIFY parameter";
		} else if (lmtp_keyword_is(param, klen, "ORCPT") && value != NULL) {
			const char *semi = memchr(value, ';', vlen);

			/* RFC 3461 4.2: addr-type ";" xtext.  rfc822 and
			 * RFC 6533's utf-8 are decoded; other types are kept
			 * as written. */
			if (semi == NULL || semi == value || vlen > LMTP_ORCPT_MAX)
				return "501 5.5.4 Bad ORCPT parameter";
			/* Raw UTF-8 is RFC 6533's utf-8-addr-unitext,
			 * only with SMTPUTF8; without it, \\x{...} or
			 * xtext's +HH spell what is not ASCII. */
			for (size_t k = 0; k < vlen && !smtputf8; k++)
				if ((unsigned char)value[k] >= 0x80)
					return "501 5.5.4 Bad ORCPT parameter";
			if (lmtp_xtext_decode(semi + 1, vlen - (size_t)(semi + 1 - value),
					      r->orcpt, sizeof(r->orcpt)) < 0 ||
			    !lmtp_orcpt_usable(r->orcpt))
				return "501 5.5.4 Bad ORCPT parameter";
		} else {
			return lmtp_unsupported_option(why, why_size, param, klen, rcpt_params);
		}
	}
	return NULL;
}

static bool
lmtp_command_is(const char *line, size_t len, const char *verb)
{
	size_t vlen = strlen(verb);

	return len >= vlen && strncasecmp(line, verb, vlen) == 0 &&
	       (line[vlen] == '\0' || line[vlen] == ' ');
}

static struct lmtp_event
lmtp_cmd_lhlo(struct lmtp_proto *p, const char *arg)
{
	struct lmtp_event ev = { .type = LMTP_EV_LHLO };
	uint64_t size = p->set.max_message_size;

	while (*arg == ' ')
		arg++;
	if (*arg == '\0')
		return lmtp_error(p, "501 5.5.4 Syntax: LHLO hostname");
	p->stats.lhlo++;
	snprintf(p->lhlo_arg, sizeof(p->lhlo_arg), "%s", arg);
	lmtp_replyf(p, "250-%s", p->set.hostname);
	lmtp_proto_reply(p, "250-PIPELINING");
	lmtp_proto_reply(p, "250-ENHANCEDSTATUSCODES");
	lmtp_proto_reply(p, "250-8BITMIME");
	if (size != 0)
		lmtp_replyf(p, "250-SIZE %llu", (unsigned long long)size);
	else
		lmtp_proto_reply(p, "250-SIZE");
	lmtp_proto_reply(p, "250-CHUNKING");
	lmtp_proto_reply(p, "250-SMTPUTF8");
	lmtp_proto_reply(p, "250 DSN");
	/* RFC 5321 4.1.4: a new greeting aborts the transaction; the
	 * LHLO event tells the session both (new name, no transaction). */
	if (p->have_mail)
		lmtp_txn_reset(p);
	p->have_lhlo = true;
	ev.arg = p->lhlo_arg;
	return ev;
}

static struct lmtp_event
lmtp_cmd_mail(struct lmtp_proto *p, const char *line)
{
	struct lmtp_event ev = { .type = LMTP_EV_MAIL };
	const char *s = line + 4, *bad;
	char why[128];
	bool non_ascii;

	if (!p->have_lhlo)
		return lmtp_refuse(p, line, "503 5.5.1 Error: send LHLO first");
	if (p->have_mail)
		return lmtp_refuse(p, line, "503 5.5.1 Error: nested MAIL command");
	while (*s == ' ')
		s++;
	if (strncasecmp(s, "FROM:", 5) != 0)
		return lmtp_refuse(p, line, "501 5.5.4 Syntax: MAIL FROM:<address>");
	s += 5;
	memset(&p->mail, 0, sizeof(p->mail));
	if (lmtp_parse_path(&s, p->mail.sender, sizeof(p->mail.sender), &non_ascii) < 0 ||
	    (p->mail.sender[0] != '\0' && !lmtp_address_valid(p->mail.sender)))
		return lmtp_refuse(p, line, "501 5.1.7 Bad sender address syntax");
	if (*s != '\0' && *s != ' ')
		return lmtp_refuse(p, line, "501 5.5.4 Syntax: MAIL FROM:<address>");
	bad = lmtp_parse_mail_params(p, s, &p->mail, why, sizeof(why));
	if (bad != NULL)
		return lmtp_refuse(p, line, bad);
	if (non_ascii && !p->mail.smtputf8)
		return lmtp_refuse(p, line, "553 5.6.7 Non-ASCII sender requires SMTPUTF8");
	p->stats.mail++;
	p->wait = LMTP_WAIT_MAIL;
	ev.mail = &p->mail;
	return ev;
}

static struct lmtp_event
lmtp_cmd_rcpt(struct lmtp_proto *p, const char *line)
{
	struct lmtp_event ev = { .type = LMTP_EV_RCPT };
	const char *s = line + 4, *bad;
	char why[128];
	bool non_ascii;

	if (!p->have_mail)
		return lmtp_refuse(p, line, "503 5.5.1 Error: need MAIL command");
	if (p->bdat_active)
		return lmtp_refuse(p, line, "503 5.5.1 Error: RCPT after BDAT");
	while (*s == ' ')
		s++;
	if (strncasecmp(s, "TO:", 3) != 0)
		return lmtp_refuse(p, line, "501 5.5.4 Syntax: RCPT TO:<address>");
	s += 3;
	memset(&p->rcpt, 0, sizeof(p->rcpt));
	if (lmtp_parse_path(&s, p->rcpt.addr, sizeof(p->rcpt.addr), &non_ascii) < 0 ||
	    !lmtp_address_valid(p->rcpt.addr) || !lmtp_rcpt_local_valid(p->rcpt.addr))
		return lmtp_refuse(p, line, "501 5.1.3 Bad recipient address syntax");
	if (*s != '\0' && *s != ' ')
		return lmtp_refuse(p, line, "501 5.5.4 Syntax: RCPT TO:<address>");
	bad = lmtp_parse_rcpt_params(s, &p->rcpt, p->mail.smtputf8, why, sizeof(why));
	if (bad != NULL)
		return lmtp_refuse(p, line, bad);
	if (non_ascii && !p->mail.smtputf8)
		return lmtp_refuse(p, line, "553 5.6.7 Non-ASCII recipient requires SMTPUTF8");
	p->stats.rcpt++;
	if (p->rcpt_accepted >= p->set.max_recipients) {
		/* RFC 5321 4.5.3.1.10: 452 tells the client to send the
		 * rest in a later transaction. */
		struct dsn dsn;
		char reply[LMTP_PATH_MAX + 64];

		dsn_set(&dsn, DSN_TOO_MANY_RCPTS, "max_recipients reached");
		dsn_reply(&dsn, p->rcpt.addr, NULL, p->mail.smtputf8, reply, sizeof(reply));
		lmtp_proto_reply(p, reply);
		snprintf(p->refused_reply, sizeof(p->refused_reply), "%s", reply);
		ev.type = LMTP_EV_RCPT_REFUSED;
		ev.rcpt = &p->rcpt;
		ev.arg = p->refused_reply;
		return ev;
	}
	p->wait = LMTP_WAIT_RCPT;
	ev.rcpt = &p->rcpt;
	return ev;
}

/* Whether a command that takes no argument got one: trailing spaces are
 * none, as Postfix splits the line at white space. */
static bool
lmtp_has_argument(const char *arg)
{
	return arg[strspn(arg, " ")] != '\0';
}

static struct lmtp_event
lmtp_cmd_data(struct lmtp_proto *p, const char *arg)
{
	struct lmtp_event ev = { .type = LMTP_EV_DATA_START };

	if (lmtp_has_argument(arg))
		return lmtp_error(p, "501 5.5.4 Syntax: DATA");
	if (!p->have_mail)
		return lmtp_error(p, "503 5.5.1 Error: need MAIL command");
	if (p->bdat_active)
		return lmtp_error(p, "503 5.5.1 Error: DATA after BDAT");
	if (p->rcpt_accepted == 0)
		return lmtp_error(p, "503 5.5.1 Error: no valid recipients");
	p->stats.data++;
	p->wait = LMTP_WAIT_DATA;
	return ev;
}

static struct lmtp_event
lmtp_cmd_bdat(struct lmtp_proto *p, const char *arg)
{
	struct lmtp_event ev = { .type = LMTP_EV_NONE };
	char *end;
	unsigned long long size;

	while (*arg == ' ')
		arg++;
	errno = 0;
	size = strtoull(arg, &end, 10);
	if (!isdigit((unsigned char)*arg) || errno != 0 || (*end != '\0' && *end != ' ') ||
	    (*end == ' ' && strcasecmp(end + strspn(end, " "), "LAST") != 0)) {
		/* The chunk size is unknown, so the rest of the stream can
		 * not be framed: close (RFC 3030 leaves no way to resync). */
		p->stats.errors++;
		p->errors_undelivered++;
		lmtp_replyf(p, "501 5.5.4 Syntax: BDAT size [LAST]");
		lmtp_replyf(p, "421 4.7.0 %s Error: lost BDAT framing", p->set.hostname);
		p->state = LMTP_STATE_CLOSED;
		ev.type = LMTP_EV_CLOSE;
		ev.arg = "lost BDAT framing";
		return ev;
	}
	p->stats.bdat++;
	p->bdat_size = size;
	p->bdat_left = size;
	p->bdat_last = *end == ' ';
	p->state = LMTP_STATE_BDAT;
	if (!p->have_mail || p->rcpt_accepted == 0) {
		/* Read the chunk, then refuse it. */
		p->stats.errors++;
		p->errors_undelivered++;
		p->bdat_refused = true;
		snprintf(p->bdat_reply, sizeof(p->bdat_reply), "%s",
			 p->have_mail ? "503 5.5.1 Error: no valid recipients"
				      : "503 5.5.1 Error: need MAIL command");
		return ev;
	}
	p->bdat_refused = false;
	if (!p->bdat_active) {
		p->bdat_active = true;
		p->bdat_cr = false;
		p->wait = LMTP_WAIT_DATA;
		ev.type = LMTP_EV_DATA_START;
		ev.bdat = true;
	}
	return ev;
}

static struct lmtp_event
lmtp_command(struct lmtp_proto *p, char *line, size_t len)
{
	struct lmtp_event ev = { .type = LMTP_EV_NONE };

	if (lmtp_command_is(line, len, "LHLO"))
		return lmtp_cmd_lhlo(p, line + 4);
	if (lmtp_command_is(line, len, "MAIL"))
		return lmtp_cmd_mail(p, line);
	if (lmtp_command_is(line, len, "RCPT"))
		return lmtp_cmd_rcpt(p, line);
	if (lmtp_command_is(line, len, "DATA"))
		return lmtp_cmd_data(p, line + 4);
	if (lmtp_command_is(line, len, "BDAT"))
		return lmtp_cmd_bdat(p, line + 4);
	if (lmtp_command_is(line, len, "RSET")) {
		if (lmtp_has_argument(line + 4))
			return lmtp_error(p, "501 5.5.4 Syntax: RSET");
		p->stats.rset++;
		lmtp_proto_reply(p, "250 2.0.0 Ok");
		if (p->have_mail) {
			lmtp_txn_reset(p);
			ev.type = LMTP_EV_RSET;
		}
		return ev;
	}
	if (lmtp_command_is(line, len, "NOOP")) {
		lmtp_proto_reply(p, "250 2.0.0 Ok");
		return ev;
	}
	if (lmtp_command_is(line, len, "QUIT")) {
		if (lmtp_has_argument(line + 4))
			return lmtp_error(p, "501 5.5.4 Syntax: QUIT");
		p->stats.quit++;
		lmtp_replyf(p, "221 2.0.0 %s Bye", p->set.hostname);
		p->state = LMTP_STATE_CLOSED;
		ev.type = LMTP_EV_CLOSE;
		return ev;
	}
	if (lmtp_command_is(line, len, "VRFY")) {
		if (line[4] == '\0' || line[5] == '\0')
			return lmtp_error(p, "501 5.5.4 Syntax: VRFY address");
		lmtp_proto_reply(p, "252 2.5.2 Cannot VRFY user, but will accept "
				 "message and attempt delivery");
		return ev;
	}
	if (lmtp_command_is(line, len, "HELP")) {
		lmtp_proto_reply(p, "214 2.0.0 Commands: LHLO MAIL RCPT DATA BDAT "
				 "RSET NOOP VRFY QUIT HELP");
		return ev;
	}
	if (lmtp_command_is(line, len, "HELO") || lmtp_command_is(line, len, "EHLO"))
		return lmtp_error(p, "500 5.5.1 Error: this is LMTP, use LHLO");
	if (lmtp_command_is(line, len, "EXPN") || lmtp_command_is(line, len, "STARTTLS") ||
	    lmtp_command_is(line, len, "AUTH") || lmtp_command_is(line, len, "ETRN") ||
	    lmtp_command_is(line, len, "TURN"))
		return lmtp_error(p, "502 5.5.1 Error: command not implemented");
	p->stats.unknown++;
	return lmtp_error(p, "500 5.5.2 Error: command not recognized");
}

/* Runs the DATA decoder over the buffered input; fills dec and returns a
 * DATA_CHUNK (possibly after which DATA_END follows). */
static struct lmtp_event
lmtp_data(struct lmtp_proto *p)
{
	struct lmtp_event ev = { .type = LMTP_EV_NONE };
	size_t i = p->in_start, o = 0;
	bool end = false;

	while (i < p->in_end && !end) {
		char c = p->in[i++];

		switch (p->dot) {
		case DOT_LINE_START:
			if (c == '.') {
				p->dot = DOT_DOT;
				break;
			}
			goto in_line;
		case DOT_DOT:
			if (c == '\r') {
				p->dot = DOT_DOT_CR;
				break;
			}
			/* The leading dot was stuffing: drop it. */
			goto in_line;
		case DOT_DOT_CR:
			if (c == '\n') {
				end = true;
				break;
			}
			p->dot = DOT_CR;
			goto in_cr;
		case DOT_CR:
		in_cr:
			if (c == '\n') {
				p->dec[o++] = '\n';
				p->dot = DOT_LINE_START;
				break;
			}
			p->dec[o++] = '\r';
			if (c == '\r')
				break;
			goto in_line;
		case DOT_IN_LINE:
		in_line:
			if (c == '\r') {
				p->dot = DOT_CR;
			} else {
				p->dec[o++] = c;
				p->dot = DOT_IN_LINE;
			}
			break;
		}
	}
	p->in_start = i;
	if (end) {
		p->state = LMTP_STATE_COMMAND;
		p->pending_data_end = true;
	}
	if (o > 0) {
		ev.type = LMTP_EV_DATA_CHUNK;
		ev.data = p->dec;
		ev.len = o;
		return ev;
	}
	if (p->pending_data_end) {
		p->pending_data_end = false;
		p->finals_owed = p->rcpt_accepted;
		p->wait = LMTP_WAIT_FINAL;
		ev.type = LMTP_EV_DATA_END;
	}
	return ev;
}

static struct lmtp_event
lmtp_bdat(struct lmtp_proto *p)
{
	struct lmtp_event ev = { .type = LMTP_EV_NONE };
	size_t avail = p->in_end - p->in_start, take, o = 0, i;

	take = p->bdat_left < avail ? (size_t)p->bdat_left : avail;
	if (p->bdat_refused) {
		p->in_start += take;
		p->bdat_left -= take;
	} else {
		for (i = 0; i < take; i++) {
			char c = p->in[p->in_start + i];

			if (p->bdat_cr) {
				p->bdat_cr = false;
				if (c == '\n') {
					p->dec[o++] = '\n';
					continue;
				}
				p->dec[o++] = '\r';
			}
			if (c == '\r')
				p->bdat_cr = true;
			else
				p->dec[o++] = c;
		}
		p->in_start += take;
		p->bdat_left -= take;
		if (p->bdat_left == 0 && p->bdat_last && p->bdat_cr) {
			p->dec[o++] = '\r';
			p->bdat_cr = false;
		}
	}
	if (p->bdat_left == 0) {
		p->state = LMTP_STATE_COMMAND;
		if (p->bdat_refused) {
			p->bdat_refused = false;
			lmtp_proto_reply(p, p->bdat_reply);
		} else if (p->bdat_last) {
			p->pending_data_end = true;
		} else {
			lmtp_replyf(p, "250 2.0.0 %llu octets received",
				    (unsigned long long)p->bdat_size);
		}
	}
	if (o > 0) {
		ev.type = LMTP_EV_DATA_CHUNK;
		ev.data = p->dec;
		ev.len = o;
		return ev;
	}
	if (p->pending_data_end) {
		p->pending_data_end = false;
		p->finals_owed = p->rcpt_accepted;
		p->wait = LMTP_WAIT_FINAL;
		ev.type = LMTP_EV_DATA_END;
		ev.bdat = true;
	}
	return ev;
}

struct lmtp_event
lmtp_proto_next(struct lmtp_proto *p)
{
	struct lmtp_event ev = { .type = LMTP_EV_NONE };

	if (p->wait != LMTP_WAIT_NONE)
		log_panic("lmtp_proto_next: a decision is owed (%d)", (int)p->wait);
	for (;;) {
		char *nl, *line;
		size_t len;

		if (p->state == LMTP_STATE_CLOSED)
			return ev;
		if (p->pending_data_end) {
			p->pending_data_end = false;
			p->finals_owed = p->rcpt_accepted;
			p->wait = LMTP_WAIT_FINAL;
			ev.type = LMTP_EV_DATA_END;
			ev.bdat = p->bdat_active;
			return ev;
		}
		if (p->state == LMTP_STATE_DATA) {
			if (p->in_start == p->in_end)
				return ev;
			return lmtp_data(p);
		}
		if (p->state == LMTP_STATE_BDAT) {
			if (p->in_start == p->in_end && p->bdat_left > 0)
				return ev;
			ev = lmtp_bdat(p);
			if (ev.type != LMTP_EV_NONE)
				return ev;
			continue;
		}
		/* Commands: stop when the peer is not reading its replies. */
		if (p->out.len >= LMTP_OUTPUT_HIGH_WATER)
			return ev;
		if (p->in_start == p->in_end)
			return ev;
		nl = memchr(p->in + p->in_start, '\n', p->in_end - p->in_start);
		if (nl == NULL) {
			/* + 1: the CR of a CRLF may already be here. */
			if (p->in_end - p->in_start > LMTP_LINE_MAX + 1) {
				p->in_start = p->in_end;
				p->discarding_line = true;
			}
			return ev;
		}
		line = p->in + p->in_start;
		len = (size_t)(nl - line);
		p->in_start += len + 1;
		p->command_lines++;
		/* The limit is on the command, not on its line end: a CRLF
		 * line and a bare LF line get the same one. */
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (p->discarding_line || len > LMTP_LINE_MAX) {
			p->discarding_line = false;
			ev = lmtp_error(p, "500 5.5.2 Error: line too long");
			if (ev.type != LMTP_EV_NONE)
				return ev;
			continue;
		}
		if (memchr(line, '\0', len) != NULL) {
			ev = lmtp_error(p, "500 5.5.2 Error: NUL character in command");
			if (ev.type != LMTP_EV_NONE)
				return ev;
			continue;
		}
		line[len] = '\0';
		ev = lmtp_command(p, line, len);
		if (ev.type != LMTP_EV_NONE)
			return ev;
	}
}

void
lmtp_proto_mail_reply(struct lmtp_proto *p, bool accepted, const char *reply)
{
	if (p->wait != LMTP_WAIT_MAIL)
		log_panic("lmtp_proto_mail_reply without MAIL");
	p->wait = LMTP_WAIT_NONE;
	p->have_mail = accepted;
	if (accepted)
		p->smtputf8 = p->mail.smtputf8;
	lmtp_proto_reply(p, reply);
}

void
lmtp_proto_rcpt_reply(struct lmtp_proto *p, bool accepted, const char *reply)
{
	if (p->wait != LMTP_WAIT_RCPT)
		log_panic("lmtp_proto_rcpt_reply without RCPT");
	p->wait = LMTP_WAIT_NONE;
	if (accepted)
		p->rcpt_accepted++;
	lmtp_proto_reply(p, reply);
}

void
lmtp_proto_data_reply(struct lmtp_proto *p, bool accepted, const char *reply)
{
	if (p->wait != LMTP_WAIT_DATA)
		log_panic("lmtp_proto_data_reply without DATA");
	p->wait = LMTP_WAIT_NONE;
	if (p->bdat_active) {
		if (!accepted) {
			/* The chunk is still read; the refusal answers it
			 * and ends the transaction. */
			lmtp_txn_reset(p);
			p->bdat_refused = true;
			snprintf(p->bdat_reply, sizeof(p->bdat_reply), "%s", reply);
		}
		return;
	}
	if (accepted) {
		lmtp_proto_reply(p, "354 End data with <CR><LF>.<CR><LF>");
		p->state = LMTP_STATE_DATA;
		p->dot = DOT_LINE_START;
	} else {
		lmtp_proto_reply(p, reply);
	}
}

void
lmtp_proto_final_reply(struct lmtp_proto *p, const char *reply)
{
	if (p->wait != LMTP_WAIT_FINAL || p->finals_owed == 0)
		log_panic("lmtp_proto_final_reply without DATA end");
	lmtp_proto_reply(p, reply);
	if (reply[0] == '2')
		p->errors_undelivered = 0;
	if (--p->finals_owed == 0) {
		p->wait = LMTP_WAIT_NONE;
		lmtp_txn_reset(p);
	}
}
