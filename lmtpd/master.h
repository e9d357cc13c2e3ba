/* The master process: listeners, privilege drop, worker supervision,
 * reload (SIGHUP) and orderly stop (SIGTERM). */
#ifndef LMTPD_MASTER_H
#define LMTPD_MASTER_H

#include <stdbool.h>

struct lmtpd_config;

/* Runs until stopped; takes ownership of cfg.  Returns the exit status. */
int master_run(struct lmtpd_config *cfg, const char *config_path, bool foreground);

#endif
