/* lmtp_session: the I/O side of one LMTP connection.  Every wait is
 * bounded: idle_timeout per read and per command line (Postfix's
 * smtpd_per_record_deadline), and during DATA/BDAT a deadline that grows
 * with the bytes received at min_data_rate (Postfix's
 * smtpd_min_data_rate), so a slow-drip client cannot hold a worker.
 * Replies are flushed when no complete command is buffered (RFC 2920
 * pipelining) or when too many are queued. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "dsn.h"
#include "buf.h"
#include "delivery_report.h"
#include "lmtp_proto.h"
#include "lmtpd_limits.h"
#include "lmtp_session.h"
#include "log.h"
#include "pipeline.h"
#include "rcpt.h"
#include "spool.h"
#include "submit.h"
#include "worker.h"
#include "xalloc.h"

struct session_txn {
	bool active;
	char queue_id[24];
	char *sender;
	bool smtputf8;
	char envid[101];	/* ENVID=, decoded; "" if none */
	bool ret_full;		/* RET=FULL */
	struct rcpt **rcpts;
	size_t rcpt_count, rcpt_cap;
	struct timespec t_start;
	struct timespec t_data;		/* DATA/first BDAT accepted */
};

struct session {
	const struct lmtp_session_env *env;
	struct lmtp_proto *proto;
	int fd;
	char peer[64];
	char client_name[256];
	struct session_txn txn;
	bool closing;
	/* since when a refused BDAT chunk is read (discarding is set): it is
	 * under the same deadline as accepted data */
	struct timespec t_discard;
	bool discarding;
	/* a flush of final replies failed: nothing more is sent or run */
	bool peer_gone;
	const char *last_command;	/* for "lost connection after X" */
	/* When the command line now partly in began (0: none), and the
	 * count of complete lines then: a byte per idle_timeout must not
	 * keep one line, and its worker, forever. */
	double line_since;
	uint64_t line_count;
};

static unsigned int session_queue_counter;

static void
session_txn_free(struct session_txn *t)
{
	for (size_t i = 0; i < t->rcpt_count; i++)
		rcpt_free(&t->rcpts[i]);
	free(t->rcpts);
	free(t->sender);
	memset(t, 0, sizeof(*t));
}

/* Postfix-style queue id: unique per host in practice (time, microseconds,
 * pid, counter), short enough to grep. */
static void
session_new_queue_id(char *out, size_t out_size)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, out_size, "%08llX%05lX%03X",
		 (unsigned long long)ts.tv_sec & 0xffffffffULL,
		 (long)(ts.tv_nsec / 1000),
		 (unsigned int)(getpid() * 31u + ++session_queue_counter) & 0xfffu);
}

/* The LHLO name goes into Received: keep it to printable ASCII. */
static void
session_set_client_name(struct session *s, const char *name)
{
	size_t o = 0;

	for (; *name != '\0' && o + 1 < sizeof(s->client_name); name++)
		s->client_name[o++] = (*name > 0x20 && *name < 0x7f &&
				       *name != '(' && *name != ')') ? *name : '?';
	s->client_name[o] = '\0';
}

static double
session_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits for fd to become ready; returns 1 ready, 0 timeout, -1 error or
 * stop signal with errno EINTR. */
static int
session_wait(struct session *s, short events, double timeout)
{
	struct pollfd pfd = { .fd = s->fd, .events = events };
	struct timespec ts;
	int n;

	if (timeout < 0)
		timeout = 0;
	ts.tv_sec = (time_t)timeout;
	ts.tv_nsec = (long)((timeout - (double)ts.tv_sec) * 1e9);
	n = ppoll(&pfd, 1, &ts, s->env->wait_mask);
	if (n < 0)
		return -1;
	return n;
}

/* Whether the daemon stops or reloads, once no transaction is open.  A
 * stop signal that came while the worker was busy (delivering, waiting
 * on the MTA for a redirect) is pending, not yet seen: it is only
 * unblocked inside ppoll(), and ppoll() returns a ready descriptor
 * without taking it.  So it is taken here, before a command after the
 * transaction's end is run. */
static bool
session_stopping(const struct session *s)
{
	if (lmtp_proto_in_transaction(s->proto))
		return false;
	if (!*s->env->stop)
		worker_take_pending_signals(s->env->wait_mask);
	return *s->env->stop;
}

/* Once the daemon stops or reloads, a transaction still runs to its end,
 * but a client that then sends nothing, or takes none of our replies, for
 * this long (seconds) is let go (with 421 4.3.2 when it can still read)
 * and its MTA retries: one stalled client must not hold a stop for
 * idle_timeout (300 s by default), past most service managers'
 * patience. */
#define SESSION_STOP_GRACE 10.0

/* Sends everything queued.  Returns -1 when the peer is gone or too slow. */
static int
session_flush(struct session *s)
{
	double deadline = session_now() + s->env->cfg->idle_timeout;

	for (;;) {
		size_t len;
		const char *out = lmtp_proto_output(s->proto, &len);
		ssize_t n;

		if (len == 0)
			return 0;
		n = write(s->fd, out, len);
		if (n > 0) {
			lmtp_proto_output_consume(s->proto, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			double wait = deadline - session_now();
			bool grace = false;
			int r;

			if (*s->env->stop && wait > SESSION_STOP_GRACE) {
				wait = SESSION_STOP_GRACE;
				grace = true;
			}
			r = session_wait(s, POLLOUT, wait);
			if (r > 0 || (r < 0 && errno == EINTR))
				continue;
			/* Which bound fired: idle_timeout may be shorter than
			 * the stop grace. */
			if (r == 0 && grace)
				log_info("stopping: %s takes none of its replies for %.0f s "
					 "(stop grace); closing", s->peer, SESSION_STOP_GRACE);
			else if (r == 0 && *s->env->stop)
				log_info("stopping: %s takes none of its replies (idle_timeout "
					 "%u s); closing", s->peer, s->env->cfg->idle_timeout);
			else if (r == 0)
				log_info("timeout writing to %s (idle_timeout %u s)", s->peer,
					 s->env->cfg->idle_timeout);
			return -1;
		}
		if (errno != EPIPE && errno != ECONNRESET)
			log_info("write to %s failed: %s", s->peer, strerror(errno));
		return -1;
	}
}

static void
session_reply_dsn(struct session *s, const struct dsn *dsn, const char *addr,
		  char *out, size_t out_size)
{
	dsn_reply(dsn, addr, s->txn.active ? s->txn.queue_id : NULL, s->txn.smtputf8, out,
		  out_size);
}

/* The 421 4.3.2 a client gets when the daemon stops or reloads, between
 * transactions or when it lets go of one left unfinished. */
static void
session_shutdown_reply(const struct session *s, char *out, size_t out_size)
{
	struct dsn dsn;

	dsn_set(&dsn, DSN_SHUTDOWN, "stopping");
	dsn_reply(&dsn, NULL, s->env->cfg->hostname, false, out, out_size);
}

static void
session_on_mail(struct session *s, const struct lmtp_mail *mail)
{
	char reply[LMTP_PATH_MAX + 64];
	struct dsn dsn;

	session_txn_free(&s->txn);
	s->txn.active = true;
	session_new_queue_id(s->txn.queue_id, sizeof(s->txn.queue_id));
	s->txn.sender = xstrdup(mail->sender);
	s->txn.smtputf8 = mail->smtputf8;
	snprintf(s->txn.envid, sizeof(s->txn.envid), "%s", mail->envid);
	s->txn.ret_full = mail->ret_full;
	clock_gettime(CLOCK_REALTIME, &s->txn.t_start);
	dsn_set(&dsn, DSN_SENDER_OK, "sender ok");
	session_reply_dsn(s, &dsn, mail->sender, reply, sizeof(reply));
	lmtp_proto_mail_reply(s->proto, true, reply);
}

static void
session_on_rcpt(struct session *s, const struct lmtp_rcpt *req)
{
	struct dsn dsn;
	struct rcpt *r;
	char reply[512], addr[LOG_ESCAPE_SIZE];

	r = rcpt_resolve(s->env->resolver, req->addr, req->orcpt, &dsn);
	session_reply_dsn(s, &dsn, req->addr, reply, sizeof(reply));
	if (r == NULL) {
		log_escape(addr, sizeof(addr), req->addr, strlen(req->addr));
		log_info("%s: reject: RCPT from %s: %s; to=<%s> (%s)", s->txn.queue_id,
			 s->peer, reply, addr, dsn.text);
		lmtp_proto_rcpt_reply(s->proto, false, reply);
		return;
	}
	r->notify = req->notify;
	for (size_t i = 0; i < s->txn.rcpt_count; i++) {
		const struct rcpt *o = s->txn.rcpts[i];

		if (o->same_as < 0 && strcmp(o->canonical, r->canonical) == 0) {
			r->same_as = (int)i;
			break;
		}
	}
	if (s->txn.rcpt_count == s->txn.rcpt_cap) {
		s->txn.rcpt_cap = s->txn.rcpt_cap == 0 ? 8 : s->txn.rcpt_cap * 2;
		s->txn.rcpts = xreallocarray(s->txn.rcpts, s->txn.rcpt_cap,
					     sizeof(*s->txn.rcpts));
	}
	s->txn.rcpts[s->txn.rcpt_count++] = r;
	lmtp_proto_rcpt_reply(s->proto, true, reply);
}

struct session_finals {
	struct session *s;
	size_t sent;		/* final replies queued so far */
	bool gone;		/* a flush failed: the peer is gone */
};

/* One recipient's final reply, sent now: a slow recipient after it (a
 * Sieve script at its CPU limit) must not hold the replies of those
 * already delivered past the MTA's timeout, which would have it retry
 * (and duplicate) them. */
static bool
session_rcpt_done(void *ctx, size_t i)
{
	struct session_finals *f = ctx;
	struct session *s = f->s;
	char reply[600];

	for (; f->sent <= i && f->sent < s->txn.rcpt_count; f->sent++) {
		const struct rcpt *r = s->txn.rcpts[f->sent];

		session_reply_dsn(s, &r->dsn, r->addr, reply, sizeof(reply));
		lmtp_proto_final_reply(s->proto, reply);
	}
	if (!f->gone && session_flush(s) < 0) {
		f->gone = true;
		log_info("%s: lost connection while sending final replies to %s; "
			 "the remaining recipients are not delivered", s->txn.queue_id, s->peer);
	}
	return !f->gone;
}

/* RFC 3461 5.2.2: the recipients delivered that asked for NOTIFY=SUCCESS
 * get the "delivered" report ("relayed" for a copy only redirected), sent to the envelope sender (never to the
 * null sender). It is sent after the 250s, so a report that can not be
 * handed to the MTA is logged, and the mail stays delivered. */
static void
session_send_delivery_report(struct session *s, const char *data, size_t size)
{
	const struct lmtpd_config *cfg = s->env->cfg;
	struct submit_settings set = { cfg->submission, cfg->submission_timeout,
				       cfg->hostname };
	struct delivery_report_rcpt *rr;
	struct delivery_report report = {
		cfg->hostname, s->txn.queue_id, s->txn.sender, s->txn.envid,
		s->txn.ret_full, s->txn.t_start.tv_sec, NULL, 0, data, size
	};
	char err[512], esc[LOG_ESCAPE_SIZE];
	const char *to[1] = { s->txn.sender };
	struct buf text;
	struct iovec iov;

	if (s->txn.sender[0] == '\0')
		return;
	rr = xreallocarray(NULL, s->txn.rcpt_count + 1, sizeof(*rr));
	for (size_t i = 0; i < s->txn.rcpt_count; i++) {
		const struct rcpt *r = s->txn.rcpts[i];

		/* A copy a Sieve script discarded was delivered nowhere:
		 * no report says it was. */
		if ((r->notify & LMTP_NOTIFY_SUCCESS) != 0 && r->dsn.reason == DSN_DELIVERED)
			rr[report.rcpt_count++] = (struct delivery_report_rcpt){
				r->addr, r->orcpt, r->relayed };
	}
	report.rcpts = rr;
	log_escape(esc, sizeof(esc), s->txn.sender, strlen(s->txn.sender));
	if (report.rcpt_count == 0) {
		free(rr);
		return;
	}
	if (!submit_address_usable(s->txn.sender, false)) {
		log_warn("%s: no delivery report to <%s>: not an address the MTA can take",
			 s->txn.queue_id, esc);
		free(rr);
		return;
	}
	buf_init(&text, 0);
	delivery_report_compose(&report, &text);
	iov.iov_base = text.data;
	iov.iov_len = text.len;
	if (submit_message(&set, "", to, 1, &iov, 1, err, sizeof(err)) < 0)
		log_warn("%s: delivery report to <%s> failed: %s", s->txn.queue_id, esc, err);
	else
		log_info("%s: delivery report sent to <%s> (%zu recipient%s)", s->txn.queue_id,
			 esc, report.rcpt_count, report.rcpt_count == 1 ? "" : "s");
	buf_free(&text);
	free(rr);
}

static void
session_on_data_end(struct session *s)
{
	struct session_finals finals = { s, 0, false };
	struct pipeline_txn pt;
	struct dsn dsn;
	const char *data = NULL;
	size_t size = 0;
	char reply[600];

	memset(&pt, 0, sizeof(pt));
	pt.queue_id = s->txn.queue_id;
	pt.sender = s->txn.sender;
	pt.client_name = s->client_name[0] != '\0' ? s->client_name : "unknown";
	pt.client_addr = s->peer;
	pt.smtputf8 = s->txn.smtputf8;
	pt.rcpts = s->txn.rcpts;
	pt.rcpt_count = s->txn.rcpt_count;
	pt.t_start = s->txn.t_start;
	pt.rcpt_done = session_rcpt_done;
	pt.rcpt_done_ctx = &finals;
	clock_gettime(CLOCK_REALTIME, &pt.t_received);
	if (spool_finish(s->env->spool, &data, &size, &dsn) < 0) {
		data = NULL;
		pipeline_fail_all(&pt, &dsn, (size_t)spool_received(s->env->spool));
	} else
		pipeline_deliver(s->env->cfg, s->env->scoring, s->env->sieve, &pt, data,
				 size);
	for (size_t i = finals.sent; i < s->txn.rcpt_count; i++) {
		const struct rcpt *r = s->txn.rcpts[i];

		session_reply_dsn(s, &r->dsn, r->addr, reply, sizeof(reply));
		lmtp_proto_final_reply(s->proto, reply);
	}
	/* The replies go out first: the MTA must not wait on the report's
	 * submission for them. */
	if (!finals.gone && data != NULL) {
		if (session_flush(s) < 0)
			finals.gone = true;
		session_send_delivery_report(s, data, size);
	}
	spool_begin(s->env->spool);
	session_txn_free(&s->txn);
	/* Nothing more for this client: not its pipelined commands, and no
	 * second wait for idle_timeout on a flush that can not succeed. */
	if (finals.gone)
		s->closing = s->peer_gone = true;
}

/* The engine ends the session with a 421 (why: "too many errors", "lost
 * BDAT framing"): the disconnect line alone says neither why nor that the
 * recipients of an open transaction got no final reply (their MTA
 * retries them). */
static void
session_log_dropped(const struct session *s, const char *why)
{
	char bytes[48] = "";

	if (lmtp_proto_in_data(s->proto))
		snprintf(bytes, sizeof(bytes), " (%llu bytes)",
			 (unsigned long long)spool_received(s->env->spool));
	if (s->txn.active && s->txn.rcpt_count > 0)
		log_info("%s: %s after %s%s from %s; its transaction is left unfinished",
			 s->txn.queue_id, why, s->last_command, bytes, s->peer);
	else
		log_info("%s after %s%s from %s", why, s->last_command, bytes, s->peer);
}

static void
session_handle(struct session *s, const struct lmtp_event *ev)
{
	switch (ev->type) {
	case LMTP_EV_NONE:
		break;
	case LMTP_EV_LHLO:
		s->last_command = "LHLO";
		session_txn_free(&s->txn);
		session_set_client_name(s, ev->arg);
		break;
	case LMTP_EV_MAIL:
		s->last_command = "MAIL";
		session_on_mail(s, ev->mail);
		break;
	case LMTP_EV_RCPT:
		s->last_command = "RCPT";
		session_on_rcpt(s, ev->rcpt);
		break;
	case LMTP_EV_RCPT_REFUSED: {
		char addr[LOG_ESCAPE_SIZE], reply[LOG_ESCAPE_SIZE];

		s->last_command = "RCPT";
		log_escape(addr, sizeof(addr), ev->rcpt->addr, strlen(ev->rcpt->addr));
		log_escape(reply, sizeof(reply), ev->arg, strlen(ev->arg));
		log_info("%s: reject: RCPT from %s: %s; to=<%s> (max_recipients reached)",
			 s->txn.queue_id, s->peer, reply, addr);
		break;
	}
	case LMTP_EV_COMMAND_REFUSED: {
		char line[LOG_ESCAPE_SIZE], reply[LOG_ESCAPE_SIZE];

		s->last_command = strncasecmp(ev->data, "MAIL", 4) == 0 ? "MAIL" : "RCPT";
		log_escape(line, sizeof(line), ev->data, ev->len);
		log_escape(reply, sizeof(reply), ev->arg, strlen(ev->arg));
		log_info("%s: reject: %s from %s: %s; command: %s",
			 s->txn.active ? s->txn.queue_id : "NOQUEUE", s->last_command, s->peer,
			 reply, line);
		break;
	}
	case LMTP_EV_DATA_START:
		s->last_command = ev->bdat ? "BDAT" : "DATA";
		spool_begin(s->env->spool);
		clock_gettime(CLOCK_MONOTONIC, &s->txn.t_data);
		lmtp_proto_data_reply(s->proto, true, NULL);
		break;
	case LMTP_EV_DATA_CHUNK:
		spool_write(s->env->spool, ev->data, ev->len);
		break;
	case LMTP_EV_DATA_END:
		s->last_command = "END-OF-MESSAGE";
		session_on_data_end(s);
		break;
	case LMTP_EV_RSET:
		s->last_command = "RSET";
		session_txn_free(&s->txn);
		break;
	case LMTP_EV_CLOSE:
		if (ev->arg != NULL)
			session_log_dropped(s, ev->arg);
		s->closing = true;
		break;
	}
}

/* Which bound a read wait ran to, so the log names the one that fired. */
enum session_limit {
	SESSION_LIMIT_IDLE,		/* idle_timeout */
	SESSION_LIMIT_DATA_RATE,	/* the DATA deadline of min_data_rate */
	SESSION_LIMIT_STOP_GRACE,	/* SESSION_STOP_GRACE */
	SESSION_LIMIT_LINE,		/* idle_timeout for a whole command line */
};

/* When DATA (or the first BDAT) was accepted, on session_now()'s clock. */
static double
session_data_start(const struct session *s)
{
	return (double)s->txn.t_data.tv_sec + (double)s->txn.t_data.tv_nsec / 1e9;
}

/* How long the next read may wait: idle_timeout, or less when the DATA
 * deadline (grown by min_data_rate) comes first or the daemon stops;
 * *limit_r says which. */
static double
session_read_timeout(struct session *s, enum session_limit *limit_r)
{
	const struct lmtpd_config *cfg = s->env->cfg;
	double timeout = cfg->idle_timeout;

	uint64_t discarded;
	bool discarding = lmtp_proto_discarding(s->proto, &discarded);

	*limit_r = SESSION_LIMIT_IDLE;
	if (discarding && !s->discarding)
		clock_gettime(CLOCK_MONOTONIC, &s->t_discard);
	s->discarding = discarding;
	/* A refused chunk too: its bytes are read to the end, and one byte
	 * per idle_timeout must not hold a worker for as long as its size. */
	if (discarding && cfg->min_data_rate > 0) {
		double deadline = (double)s->t_discard.tv_sec +
				  (double)s->t_discard.tv_nsec / 1e9 + cfg->idle_timeout +
				  (double)discarded / cfg->min_data_rate;
		double left = deadline - session_now();

		if (left < timeout) {
			timeout = left;
			*limit_r = SESSION_LIMIT_DATA_RATE;
		}
	} else if (lmtp_proto_in_data(s->proto) && cfg->min_data_rate > 0) {
		double deadline = session_data_start(s) + cfg->idle_timeout +
				  (double)spool_received(s->env->spool) /
				  cfg->min_data_rate;
		double left = deadline - session_now();

		if (left < timeout) {
			timeout = left;
			*limit_r = SESSION_LIMIT_DATA_RATE;
		}
	} else if (s->line_since > 0) {
		double left = s->line_since + cfg->idle_timeout - session_now();

		if (left < timeout) {
			timeout = left;
			*limit_r = SESSION_LIMIT_LINE;
		}
	}
	if (*s->env->stop && timeout > SESSION_STOP_GRACE) {
		timeout = SESSION_STOP_GRACE;
		*limit_r = SESSION_LIMIT_STOP_GRACE;
	}
	return timeout;
}

/* Notes when the command line partly in began: before each wait for
 * input, so a line that began since the last wait began during the read
 * just made. */
static void
session_track_line(struct session *s)
{
	uint64_t lines = lmtp_proto_command_lines(s->proto);

	if (!lmtp_proto_partial_command(s->proto)) {
		s->line_since = 0;
	} else if (s->line_since == 0 || lines != s->line_count) {
		s->line_since = session_now();
	}
	s->line_count = lines;
}

/* Logs why a client in a transaction is let go while the daemon stops:
 * the bound that fired is not always the stop grace (idle_timeout may be
 * shorter, and the DATA deadline may come first). */
static void
session_log_stop_timeout(const struct session *s, enum session_limit limit)
{
	const struct lmtpd_config *cfg = s->env->cfg;

	switch (limit) {
	case SESSION_LIMIT_IDLE:
		log_info("stopping: nothing from %s for %u s (idle_timeout) after %s; "
			 "its transaction is left unfinished", s->peer,
			 cfg->idle_timeout, s->last_command);
		break;
	case SESSION_LIMIT_STOP_GRACE:
		log_info("stopping: nothing from %s for %.0f s (stop grace) after %s; "
			 "its transaction is left unfinished", s->peer,
			 SESSION_STOP_GRACE, s->last_command);
		break;
	case SESSION_LIMIT_LINE:
		log_info("stopping: %s took over %u s (idle_timeout) to send one "
			 "command line after %s; its transaction is left unfinished",
			 s->peer, cfg->idle_timeout, s->last_command);
		break;
	case SESSION_LIMIT_DATA_RATE:
		/* Not "nothing for N s": a client trickling bytes below the
		 * rate reaches the deadline without ever going quiet. */
		log_info("stopping: %s missed the DATA deadline (%llu bytes in %.1f s, "
			 "min_data_rate %u bytes/s, idle_timeout %u s) after %s; "
			 "its transaction is left unfinished", s->peer,
			 (unsigned long long)spool_received(s->env->spool),
			 session_now() - session_data_start(s), cfg->min_data_rate,
			 cfg->idle_timeout, s->last_command);
		break;
	}
}

static void
session_log_disconnect(struct session *s)
{
	const struct lmtp_proto_stats *st = lmtp_proto_stats(s->proto);

	log_info("disconnect from %s lhlo=%u mail=%u rcpt=%u data=%u bdat=%u "
		 "rset=%u quit=%u unknown=%u errors=%u", s->peer, st->lhlo, st->mail,
		 st->rcpt, st->data, st->bdat, st->rset, st->quit, st->unknown,
		 st->errors);
}

void
lmtp_session_run(const struct lmtp_session_env *env, int fd, const char *peer)
{
	struct lmtp_proto_settings set;
	struct session s;
	char line[512];
	bool eof = false;
	uint64_t discarded;

	memset(&s, 0, sizeof(s));
	s.env = env;
	s.fd = fd;
	s.last_command = "CONNECT";
	snprintf(s.peer, sizeof(s.peer), "%s", peer);
	set.hostname = env->cfg->hostname;
	set.max_message_size = env->cfg->max_message_size;
	set.max_recipients = env->cfg->max_recipients;
	set.max_errors = env->cfg->max_errors;
	s.proto = lmtp_proto_new(&set);
	log_info("connect from %s", s.peer);
	snprintf(line, sizeof(line), "220 %s LMTP lmtpd ready", env->cfg->hostname);
	lmtp_proto_reply(s.proto, line);

	while (!s.closing) {
		struct lmtp_event ev;
		enum session_limit limit;
		size_t space, queued;
		char *in;
		ssize_t n;
		int r;

		/* Once stopping, no command after the transaction's end is
		 * taken, even one that came in the same read: a client that
		 * pipelines MAIL after each end of data would otherwise keep
		 * the old worker until it is killed. */
		while (!s.closing && !session_stopping(&s) &&
		       (ev = lmtp_proto_next(s.proto)).type != LMTP_EV_NONE)
			session_handle(&s, &ev);
		if (s.closing)
			break;
		if (session_stopping(&s)) {
			session_shutdown_reply(&s, line, sizeof(line));
			(void)lmtp_proto_shutdown(s.proto, line);
			break;
		}
		/* The engine stops taking commands at the output high water
		 * mark; once the replies are out, the commands already
		 * buffered must run before we wait for more input, or a
		 * client that sent them all waits for idle_timeout. */
		(void)lmtp_proto_output(s.proto, &queued);
		if (session_flush(&s) < 0)
			goto lost;
		if (queued >= LMTP_OUTPUT_HIGH_WATER && lmtp_proto_has_input(s.proto))
			continue;
		in = lmtp_proto_input_space(s.proto, &space);
		if (space == 0)
			continue;	/* replies were drained; commands wait */
		n = read(fd, in, space);
		if (n > 0) {
			lmtp_proto_input_commit(s.proto, (size_t)n);
			continue;
		}
		if (n == 0) {
			eof = true;
			goto lost;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			log_info("read from %s failed: %s", s.peer, strerror(errno));
			goto lost;
		}
		session_track_line(&s);
		r = session_wait(&s, POLLIN, session_read_timeout(&s, &limit));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_error("poll failed: %s", strerror(errno));
			goto lost;
		}
		if (r == 0 && *env->stop) {
			session_log_stop_timeout(&s, limit);
			session_shutdown_reply(&s, line, sizeof(line));
			lmtp_proto_reply(s.proto, line);
			break;
		}
		if (r == 0) {
			/* Not only "nothing for N s": a client may send a byte
			 * a second and never end its line. */
			if (limit == SESSION_LIMIT_LINE)
				log_info("timeout after %s from %s: one command line took "
					 "over %u s (idle_timeout)", s.last_command, s.peer,
					 env->cfg->idle_timeout);
			else if (lmtp_proto_in_data(s.proto))
				/* as Postfix: what was received of the message */
				log_info("%s: timeout after %s (%llu bytes) from %s",
					 s.txn.queue_id, s.last_command,
					 (unsigned long long)spool_received(env->spool), s.peer);
			else
				log_info("timeout after %s from %s", s.last_command, s.peer);
			snprintf(line, sizeof(line), "421 4.4.2 %s Error: timeout exceeded",
				 env->cfg->hostname);
			lmtp_proto_reply(s.proto, line);
			break;
		}
	}
	if (!s.peer_gone)
		(void)session_flush(&s);
	goto done;
lost:
	if (s.txn.active || lmtp_proto_in_transaction(s.proto)) {
		if (lmtp_proto_in_data(s.proto))
			log_info("%s: lost connection after %s (%llu bytes) from %s",
				 s.txn.queue_id, s.last_command,
				 (unsigned long long)spool_received(env->spool), s.peer);
		else
			log_info("lost connection after %s from %s", s.last_command,
				 s.peer);
	} else if (lmtp_proto_discarding(s.proto, &discarded)) {
		/* no transaction, but what was sent is not nothing either */
		log_info("lost connection in a refused BDAT chunk (%llu bytes of it) from %s",
			 (unsigned long long)discarded, s.peer);
	} else if (eof && lmtp_proto_line_cut(s.proto))
		/* a command cut off: the disconnect line alone would not say
		 * that its half was dropped.  Only at the end of the input:
		 * a failed write leaves unread lines, ended or not, behind. */
		log_info("lost connection in a command line after %s from %s",
			 s.last_command, s.peer);
done:
	session_log_disconnect(&s);
	spool_begin(env->spool);
	session_txn_free(&s.txn);
	lmtp_proto_free(&s.proto);
	if (close(fd) < 0 && errno != EINTR)
		log_info("close(%s) failed: %s", s.peer, strerror(errno));
}
