/* The configuration: `key = value` lines, `#` comment lines, a line that
 * starts with white space continues the previous value.  An unknown key, a
 * bad value or a repeated key is an error "file:line: why".  Every key has
 * a built-in default, so lmtpd runs with no file at all.
 *
 * The struct holds typed values for the code and the effective text of
 * every key for `lmtpd -n`.  A config is immutable once loaded; a reload
 * builds a new one (cfg_load) and frees the old (cfg_free). */
#ifndef LMTPD_CFG_H
#define LMTPD_CFG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "compat.h"
#include "netaddr.h"

struct lmtpd_config {
	char *path;			/* NULL = built-in defaults */

	struct netaddr_listen *listen;
	size_t listen_count;
	unsigned int listen_mode;
	char *listen_owner;		/* NULL = the run-as user */
	struct netaddr_net *allow_from;
	size_t allow_from_count;
	char *user, *group;		/* NULL = stay as started */
	unsigned int workers;
	unsigned int max_use;
	char *home;			/* template: %u %n %d */
	char *mail_location;		/* template: %h %u %n %d */
	char *users;			/* "static" or the text map path */
	char *recipient_delimiter;	/* "" = none */
	uint64_t max_message_size;	/* 0 = no limit */
	unsigned int max_recipients;
	unsigned int max_errors;
	unsigned int idle_timeout;	/* seconds */
	unsigned int min_data_rate;	/* bytes per second, 0 = none */
	unsigned int db_stall_timeout;	/* seconds inside Berkeley DB = stuck */
	char *state_dir;
	char *hostname;
	char *pid_file;			/* "" = none */
	char *rules_dir;		/* comma list, "" = no scoring */
	char *spam_prefs;		/* template: %h %u %n %d */
	bool spam_report;		/* add X-Spam-Report */
	bool bayes_per_user;		/* a Bayes database per user, else site-wide */
	char *sieve_script;		/* template: %h %u %n %d */
	char *sieve_before;		/* file or folder, "" = none */
	char *sieve_after;		/* file or folder, "" = none */
	char *folder_separator;		/* "." or "/" */
	char *submission;		/* "smtp:host:port" or a program path */
	unsigned int submission_timeout;	/* seconds */
	uint64_t sieve_max_script_size;
	unsigned int sieve_max_actions;
	unsigned int sieve_max_redirects;
	unsigned int sieve_max_cpu_time;	/* seconds */
	uint64_t sieve_max_memory;	/* 0 = no limit */
	unsigned int sieve_vacation_max_days;

	char **text;			/* effective value of each key, table order */
};

/* Loads path (NULL = defaults only).  Returns NULL and sets *error_r
 * (malloc'd "file:line: why") on any error. */
struct lmtpd_config *cfg_load(const char *path, char **error_r) ATTR_WUR;
/* The default hostname from the system's host name (gethostname): one
 * trailing dot dropped; "localhost", with a warning, when it is empty or
 * no valid host name.  Allocated. */
char *cfg_hostname_default_from(const char *system);
void cfg_free(struct lmtpd_config **cfg);
/* Writes "key = value" for every key, in documentation order. */
void cfg_print(const struct lmtpd_config *cfg, FILE *out);

/* Template expansion: %u %n %d %h and %% are replaced; returns -1 if the
 * result would not fit out_size. */
struct cfg_template_vars {
	const char *u, *n, *d, *h;
};
int cfg_expand(const char *tmpl, const struct cfg_template_vars *vars,
	       char *out, size_t out_size) ATTR_WUR;

#endif
