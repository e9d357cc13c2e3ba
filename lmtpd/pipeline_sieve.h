/* The Sieve part of the per-message pipeline: run the recipient's scripts
 * (sieve/), then perform the action list: the durable copies (maildir/),
 * then redirects and the vacation reply (sieve/submit), then the
 * recipient's reply.  Every action is logged with the queue id. */
#ifndef LMTPD_PIPELINE_SIEVE_H
#define LMTPD_PIPELINE_SIEVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

struct lmtpd_config;
struct message;
struct pipeline_sieve;
struct pipeline_txn;
struct rcpt;

/* Per-process Sieve state: the script cache and the vacation history.
 * Created in a worker after fork. */
struct pipeline_sieve *pipeline_sieve_new(const struct lmtpd_config *cfg);
void pipeline_sieve_free(struct pipeline_sieve **sv);

/* Delivers the copy iov[0..iovcnt) (iov[0] is the prepended header block,
 * starting with Return-Path) for r: Sieve when sv is not NULL, else INBOX.
 * msg is the received message (for loop and vacation checks).  Sets r->dsn, the sieve and write parts of delays (indexes 2 and
 * 3), and the folders written, comma separated, into folders (empty when
 * none). */
void pipeline_sieve_deliver(const struct lmtpd_config *cfg, struct pipeline_sieve *sv,
			    const struct pipeline_txn *txn, struct rcpt *r,
			    const struct message *msg, const struct iovec *iov, int iovcnt,
			    bool is_spam, double delays[4], char *folders, size_t folders_size);

#endif
