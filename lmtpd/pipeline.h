/* The per-message pipeline (DESIGN "One message, end to end"): the one
 * place where the modules meet.  For every recipient it builds the headers
 * lmtpd prepends, decides the folder, writes the copy durably and records
 * the outcome in rcpt->dsn, logging one line per recipient and one per
 * message.  Scoring (scoring/) and Sieve (sieve/) plug in between parsing
 * and writing. */
#ifndef LMTPD_PIPELINE_H
#define LMTPD_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct lmtpd_config;
struct pipeline_sieve;
struct rcpt;
struct scoring;
struct dsn;

struct pipeline_txn {
	const char *queue_id;
	const char *sender;		/* "" = null sender */
	const char *client_name;	/* the LHLO argument */
	const char *client_addr;	/* "127.0.0.1", "unix" */
	bool smtputf8;
	struct rcpt **rcpts;
	size_t rcpt_count;
	struct timespec t_start;	/* MAIL FROM accepted */
	struct timespec t_received;	/* end of data */
	/* Called (when set) as soon as rcpts[i]->dsn is final, in order, so
	 * the MTA gets each reply without waiting for the recipients after
	 * it (Postfix's lmtp_data_done_timeout applies to each reply).
	 * Returns false when the reply could not be sent (the client is
	 * gone): the recipients after it are not delivered. */
	bool (*rcpt_done)(void *ctx, size_t i);
	void *rcpt_done_ctx;
};

/* Delivers data[0..size) to every recipient; afterwards each rcpt->dsn holds
 * its outcome.  Never fails as a whole: every error is per recipient.
 * With sc (NULL: scoring off) the message is matched once and scored per
 * recipient with that user's preferences; its X-Spam-* fields replace any
 * the message came with.  With sv (NULL: every copy goes to INBOX) each
 * recipient's Sieve scripts decide (pipeline_sieve.h). */
void pipeline_deliver(const struct lmtpd_config *cfg, struct scoring *sc,
		      struct pipeline_sieve *sv, struct pipeline_txn *txn,
		      const char *data, size_t size);
/* Records the same outcome for every recipient (message too large, spool
 * failure) and logs it. */
void pipeline_fail_all(struct pipeline_txn *txn, const struct dsn *dsn,
		       size_t size);

double pipeline_elapsed(const struct timespec *from, const struct timespec *to);

#endif
