/* become: taking on the configured user and group (become.h). */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "become.h"
#include "xalloc.h"

static bool
is_set(const char *name)
{
	return name != NULL && name[0] != '\0';
}

int
become_resolve(const struct lmtpd_config *cfg, uid_t *uid_r, gid_t *gid_r, char **error_r)
{
	*error_r = NULL;
	*uid_r = (uid_t)-1;
	*gid_r = (gid_t)-1;
	if (is_set(cfg->user)) {
		struct passwd *pw = getpwnam(cfg->user);

		if (pw == NULL) {
			*error_r = xasprintf("user %s does not exist", cfg->user);
			return -1;
		}
		*uid_r = pw->pw_uid;
		*gid_r = pw->pw_gid;
	}
	if (is_set(cfg->group)) {
		struct group *gr = getgrnam(cfg->group);

		if (gr == NULL) {
			*error_r = xasprintf("group %s does not exist", cfg->group);
			return -1;
		}
		*gid_r = gr->gr_gid;
	}
	return 0;
}

int
become_possible(const char *user, uid_t uid, gid_t gid, char **error_r)
{
	char target[300];

	*error_r = NULL;
	/* Started as that user already (systemd's User=): nothing to switch,
	 * and without root initgroups() would fail. */
	if (geteuid() == 0 ||
	    ((uid == (uid_t)-1 || (uid == getuid() && uid == geteuid())) &&
	     (gid == (gid_t)-1 || (gid == getgid() && gid == getegid()))))
		return 0;
	if (uid != (uid_t)-1)
		snprintf(target, sizeof(target), "user %s (uid %ld, gid %ld)",
			 is_set(user) ? user : "-", (long)uid, (long)gid);
	else
		snprintf(target, sizeof(target), "group gid %ld", (long)gid);
	*error_r = xasprintf("switching to %s needs root; running as uid %ld, gid %ld",
			     target, (long)geteuid(), (long)getegid());
	return -1;
}

int
become_switch(const char *user, uid_t uid, gid_t gid, char **error_r)
{
	*error_r = NULL;
	if (geteuid() != 0)
		return become_possible(user, uid, gid, error_r);
	if (gid != (gid_t)-1) {
		/* Groups first: after setuid there is no right left to drop
		 * root's supplementary groups. */
		if (is_set(user) ? initgroups(user, gid) < 0 : setgroups(1, &gid) < 0) {
			*error_r = xasprintf("setting supplementary groups failed: %s",
					     strerror(errno));
			return -1;
		}
		if (setgid(gid) < 0) {
			*error_r = xasprintf("setgid(%ld) failed: %s", (long)gid, strerror(errno));
			return -1;
		}
	}
	if (uid != (uid_t)-1 && setuid(uid) < 0) {
		*error_r = xasprintf("setuid(%ld) failed: %s", (long)uid, strerror(errno));
		return -1;
	}
	return 0;
}

int
become_config_user(const struct lmtpd_config *cfg, char **error_r)
{
	uid_t uid;
	gid_t gid;

	*error_r = NULL;
	if (geteuid() != 0 || !is_set(cfg->user))
		return 0;
	if (become_resolve(cfg, &uid, &gid, error_r) < 0)
		return -1;
	return become_switch(cfg->user, uid, gid, error_r);
}
