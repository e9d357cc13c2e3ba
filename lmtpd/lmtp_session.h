/* One LMTP connection: socket I/O with timeouts around the protocol engine
 * (lmtp_proto), recipient lookup at RCPT, spooling at DATA and the
 * pipeline at end of data.  Runs in a worker, one connection at a time. */
#ifndef LMTPD_LMTP_SESSION_H
#define LMTPD_LMTP_SESSION_H

#include <signal.h>
#include <stdbool.h>

struct lmtpd_config;
struct pipeline_sieve;
struct rcpt_resolver;
struct scoring;
struct spool;

struct lmtp_session_env {
	const struct lmtpd_config *cfg;
	struct scoring *scoring;	/* NULL: no scoring */
	struct pipeline_sieve *sieve;	/* NULL: no Sieve, INBOX only */
	struct rcpt_resolver *resolver;
	struct spool *spool;
	/* Set by the worker's signal handler: finish the transaction in
	 * flight, then answer 421 and close. */
	volatile sig_atomic_t *stop;
	/* The signal mask to wait with (stop signals unblocked); they stay
	 * blocked elsewhere, so a stop request is never missed between a
	 * check and a wait. */
	const sigset_t *wait_mask;
};

/* Serves the connection on fd (non-blocking) until QUIT, EOF, timeout or a
 * stop request; closes fd.  peer is "127.0.0.1" or "unix". */
void lmtp_session_run(const struct lmtp_session_env *env, int fd, const char *peer);

#endif
