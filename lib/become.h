/* become: a tool run as root takes on the configured user before it
 * touches state_dir, so that the files it makes there stay the daemon's
 * (the daemon, running as that user, cannot open root's 0600 files). */
#ifndef LMTPD_BECOME_H
#define LMTPD_BECOME_H

#include "cfg.h"
#include "compat.h"

/* Run as root with a `user` (and maybe `group`) in cfg: becomes that user
 * for good.  Otherwise does nothing.  Returns 0, or -1 with *error_r
 * (malloc'd). */
int become_config_user(const struct lmtpd_config *cfg, char **error_r) ATTR_WUR;

#endif
