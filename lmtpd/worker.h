/* A worker process: accepts connections on the inherited listeners and
 * serves them one at a time, until max_use connections or a stop signal
 * (SIGTERM or SIGHUP from the master: finish the transaction in flight,
 * answer 421, exit). */
#ifndef LMTPD_WORKER_H
#define LMTPD_WORKER_H

#include <stddef.h>
#include "compat.h"

struct lmtpd_config;
struct listener;

void worker_main(const struct lmtpd_config *cfg, const struct listener *ls,
		 size_t count) ATTR_NORETURN;

#endif
