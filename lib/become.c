/* become: the tools' switch from root to the daemon's user (become.h). */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "become.h"
#include "xalloc.h"

int
become_config_user(const struct lmtpd_config *cfg, char **error_r)
{
	struct passwd *pw;
	gid_t gid;

	*error_r = NULL;
	if (geteuid() != 0 || cfg->user == NULL || cfg->user[0] == '\0')
		return 0;
	pw = getpwnam(cfg->user);
	if (pw == NULL) {
		*error_r = xasprintf("unknown user %s", cfg->user);
		return -1;
	}
	gid = pw->pw_gid;
	if (cfg->group != NULL && cfg->group[0] != '\0') {
		struct group *gr = getgrnam(cfg->group);

		if (gr == NULL) {
			*error_r = xasprintf("unknown group %s", cfg->group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (setgid(gid) < 0 || initgroups(cfg->user, gid) < 0 || setuid(pw->pw_uid) < 0) {
		*error_r = xasprintf("becoming %s failed: %s", cfg->user, strerror(errno));
		return -1;
	}
	return 0;
}
