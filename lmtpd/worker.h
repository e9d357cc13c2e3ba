/* A worker process: accepts connections on the inherited listeners and
 * serves them one at a time, until max_use connections or a stop signal
 * (SIGTERM or SIGHUP from the master: finish the transaction in flight,
 * answer 421, exit). */
#ifndef LMTPD_WORKER_H
#define LMTPD_WORKER_H

#include <signal.h>
#include <stddef.h>
#include "compat.h"

struct lmtpd_config;
struct listener;
struct scoring;

/* scoring may be NULL (rules_dir empty). */
void worker_main(const struct lmtpd_config *cfg, struct scoring *scoring,
		 const struct listener *ls, size_t count) ATTR_NORETURN;
/* Runs the handlers of the signals that came while blocked, by lifting
 * the mask to wait_mask for a moment (the master's and the workers'
 * stop signals are only unblocked while they wait, and ppoll() returns
 * a ready descriptor without taking one). */
void worker_take_pending_signals(const sigset_t *wait_mask);

#endif
