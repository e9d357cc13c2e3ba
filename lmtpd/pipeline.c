/* pipeline: message in, one durable copy (or a clear failure) per recipient
 * out.  Order per recipient: prepend headers, run Sieve, write.  A
 * recipient repeated in one transaction is written once and answered with
 * the first one's outcome. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "buf.h"
#include "cfg.h"
#include "dsn.h"
#include "log.h"
#include "maildir.h"
#include "message.h"
#include "pipeline.h"
#include "pipeline_sieve.h"
#include "lmtpd_limits.h"
#include "rcpt.h"
#include "scoring.h"
#include "xalloc.h"

double
pipeline_elapsed(const struct timespec *from, const struct timespec *to)
{
	double d = (double)(to->tv_sec - from->tv_sec) +
		   (double)(to->tv_nsec - from->tv_nsec) / 1e9;

	return d < 0 ? 0 : d;
}

static void
pipeline_log_message(const struct pipeline_txn *txn, const struct message *msg,
		     size_t size)
{
	char from[LOG_ESCAPE_SIZE], msgid[LOG_ESCAPE_SIZE], value[1024];
	const struct message_header *h = NULL;

	if (msg != NULL)
		h = message_header_find(msg, "Message-ID");
	if (h != NULL) {
		size_t len = message_header_value(msg, h, value, sizeof(value));

		log_escape(msgid, sizeof(msgid), value, len);
	} else {
		msgid[0] = '\0';
	}
	log_info("%s: from=<%s>, size=%zu, nrcpt=%zu%s%s", txn->queue_id,
		 log_escape(from, sizeof(from), txn->sender, strlen(txn->sender)),
		 size, txn->rcpt_count, h != NULL ? ", msgid=" : "", msgid);
}

static void
pipeline_log_rcpt(const struct pipeline_txn *txn, const struct rcpt *r,
		  const char *folder, const double delays[4], const char *score,
		  const char *tests)
{
	struct log_delivery d;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	memset(&d, 0, sizeof(d));
	d.queue_id = txn->queue_id;
	d.to = r->canonical;
	/* Postfix logs orig_to only when it differs from to. */
	if (r->orcpt != NULL && strcmp(r->orcpt, r->canonical) != 0)
		d.orig_to = r->orcpt;
	else if (r->orcpt == NULL && strcmp(r->addr, r->canonical) != 0)
		d.orig_to = r->addr;
	d.folder = dsn_is_success(&r->dsn) ? folder : NULL;
	d.delay = pipeline_elapsed(&txn->t_start, &now);
	memcpy(d.delays, delays, sizeof(d.delays));
	d.dsn = &r->dsn;
	d.score = score;
	d.tests = tests;
	log_delivery(&d);
}

/* The trace headers every copy gets (RFC 5321 4.4 Received, RFC 5322
 * Return-Path, Postfix's X-Original-To and Delivered-To). */
static int
pipeline_prepend(const struct lmtpd_config *cfg, const struct pipeline_txn *txn,
		 const struct rcpt *r, const char *date, const struct buf *spam,
		 bool headless, struct buf *out)
{
	buf_reset(out);
	if (buf_printf(out, "Return-Path: <%s>\n", txn->sender) < 0)
		return -1;
	/* SpamAssassin's place for its fields: right after Return-Path. */
	if (spam->len > 0 && buf_append(out, spam->data, spam->len) < 0)
		return -1;
	if (r->orcpt != NULL && buf_printf(out, "X-Original-To: %s\n", r->orcpt) < 0)
		return -1;
	if (buf_printf(out, "Delivered-To: %s\n", r->canonical) < 0)
		return -1;
	if (buf_printf(out, "Received: from %s (%s)\n\tby %s (lmtpd) with %s id %s\n"
		       "\t(envelope-from <%s>)\n\tfor <%s>; %s\n",
		       txn->client_name, txn->client_addr, cfg->hostname,
		       txn->smtputf8 ? "UTF8LMTP" : "LMTP", txn->queue_id,
		       txn->sender, r->addr, date) < 0)
		return -1;
	if (headless && buf_append(out, "\n", 1) < 0)
		return -1;
	return 0;
}

/* Whether the message starts with a folded line, which would otherwise
 * continue the Received field above it: there is no header section, and
 * its lines go after an empty line, as body, the way Postfix's cleanup
 * ends a header section at its first line that is no header. */
static bool
pipeline_headless(const char *data, size_t len)
{
	return len > 0 && (data[0] == ' ' || data[0] == '\t');
}

void
pipeline_fail_all(struct pipeline_txn *txn, const struct dsn *dsn, size_t size)
{
	double delays[4] = { 0, 0, 0, 0 };
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	delays[0] = pipeline_elapsed(&txn->t_start, &txn->t_received);
	pipeline_log_message(txn, NULL, size);
	for (size_t i = 0; i < txn->rcpt_count; i++) {
		txn->rcpts[i]->dsn = *dsn;
		pipeline_log_rcpt(txn, txn->rcpts[i], NULL, delays, NULL, NULL);
	}
}

static void
pipeline_prefs_warning(const char *msg)
{
	char escaped[LOG_ESCAPE_SIZE];

	/* the file is the user's: its bytes are quoted in the warnings */
	log_warn("user preferences: %s", log_escape(escaped, sizeof(escaped), msg, strlen(msg)));
}

/* Room for the folder list of one recipient in the log. */
#define PIPELINE_FOLDERS_MAX 512

/* Recipient i is decided: its reply goes out now (txn->rcpt_done).
 * Returns whether the client is gone. */
static bool
pipeline_rcpt_done(const struct pipeline_txn *txn, size_t i)
{
	return txn->rcpt_done != NULL && !txn->rcpt_done(txn->rcpt_done_ctx, i);
}

void
pipeline_deliver(const struct lmtpd_config *cfg, struct scoring *sc,
		 struct pipeline_sieve *sv, struct pipeline_txn *txn, const char *data,
		 size_t size)
{
	struct message *msg = message_parse(data, size);
	struct scoring_msg *sm = NULL;
	struct buf prepend, spam, tests;
	/* The prepended fields, then the message (without inbound X-Spam-*
	 * when scoring is on). */
	struct iovec iov[2];
	char date[64];
	double score_shared = 0;
	bool headless, peer_gone = false;
	/* The folders each recipient's copy went to, for the log (a
	 * repeated recipient shows the first one's). */
	char (*folders)[PIPELINE_FOLDERS_MAX] = xcalloc(txn->rcpt_count > 0 ? txn->rcpt_count : 1,
							sizeof(*folders));

	buf_init(&prepend, 64 * 1024);
	buf_init(&spam, 0);
	buf_init(&tests, 0);
	message_format_date(date, sizeof(date), time(NULL));
	pipeline_log_message(txn, msg, size);
	if (sc != NULL) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		sm = scoring_msg_new(sc, data, size, txn->sender);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		score_shared = pipeline_elapsed(&t0, &t1);
	}
	iov[1].iov_base = (void *)data;
	iov[1].iov_len = size;
	if (sm != NULL) {
		const char *clean;
		size_t clean_len;

		/* Inbound X-Spam-* fields are not delivered either. */
		clean = scoring_msg_data(sm, &clean_len);
		iov[1].iov_base = (void *)clean;
		iov[1].iov_len = clean_len;
	}
	headless = pipeline_headless(iov[1].iov_base, iov[1].iov_len);
	if (headless)
		log_info("%s: message starts with a folded line: no header section, "
			 "its lines delivered as the body", txn->queue_id);
	for (size_t i = 0; i < txn->rcpt_count; i++) {
		struct rcpt *r = txn->rcpts[i];
		double delays[4] = { 0, 0, 0, 0 };
		struct timespec t0, t1;
		char score_text[64] = "";
		bool is_spam = false;

		delays[0] = pipeline_elapsed(&txn->t_start, &txn->t_received);
		if (peer_gone) {
			/* Its reply could not reach the MTA, which will send
			 * the message again: a copy now would be a duplicate. */
			dsn_set(&r->dsn, DSN_TEMP_FAIL, "not delivered: the client is gone");
			pipeline_log_rcpt(txn, r, NULL, delays, NULL, NULL);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		buf_reset(&spam);
		buf_reset(&tests);
		if (sm != NULL) {
			struct score_prefs *prefs = scoring_prefs_for_home(sc, r->user, r->home,
									   pipeline_prefs_warning);
			struct score_result res;
			char shown[32];

			scoring_msg_total(sc, sm, prefs, r->user, &res);
			is_spam = res.is_spam;
			scoring_headers(sc, &res, &spam);
			score_format(&res, shown, sizeof(shown));
			snprintf(score_text, sizeof(score_text), "%s/%2.1f", shown, res.required);
			score_tests(&res, &tests);
			score_result_free(&res);
			score_prefs_free(&prefs);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			delays[1] = score_shared + pipeline_elapsed(&t0, &t1);
			t0 = t1;
		}
		if (r->same_as >= 0) {
			r->dsn = txn->rcpts[r->same_as]->dsn;
			pipeline_log_rcpt(txn, r, folders[r->same_as][0] != '\0' ?
					  folders[r->same_as] : NULL, delays,
					  sm != NULL ? score_text : NULL,
					  sm != NULL ? tests.data : NULL);
			peer_gone = pipeline_rcpt_done(txn, i);
			continue;
		}
		if (pipeline_prepend(cfg, txn, r, date, &spam, headless, &prepend) < 0) {
			dsn_set(&r->dsn, DSN_TEMP_FAIL, "trace headers too long");
			pipeline_log_rcpt(txn, r, NULL, delays, NULL, NULL);
			peer_gone = pipeline_rcpt_done(txn, i);
			continue;
		}
		iov[0].iov_base = prepend.data;
		iov[0].iov_len = prepend.len;
		/* Sieve (when sv), then the copies, redirects and vacation. */
		pipeline_sieve_deliver(cfg, sv, txn, r, msg, iov, 2, is_spam, delays,
				       folders[i], sizeof(folders[i]));
		pipeline_log_rcpt(txn, r, folders[i][0] != '\0' ? folders[i] : NULL, delays,
				  sm != NULL ? score_text : NULL,
				  sm != NULL ? tests.data : NULL);
		peer_gone = pipeline_rcpt_done(txn, i);
	}
	free(folders);
	scoring_msg_free(&sm);
	buf_free(&spam);
	buf_free(&tests);
	buf_free(&prepend);
	message_free(&msg);
}
