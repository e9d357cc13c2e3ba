/* cfg: the config file parser and the table of keys.  The table is the one
 * list of keys: parsing, defaults, validation and `lmtpd -n` all walk it.
 * Lines are bounded (CFG_LINE_MAX); values are validated at load time so a
 * running daemon never meets a bad value. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cfg.h"
#include "lmtpd_limits.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif
#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

enum cfg_type {
	CFG_STRING,	/* printable characters but blanks, may be empty */
	CFG_NAME,	/* a non-empty word; "" allowed when the default is unset */
	CFG_PATH,	/* absolute path, or empty */
	CFG_TEMPLATE,	/* path template with % escapes */
	CFG_UINT,
	CFG_SIZE,	/* bytes with K/M/G */
	CFG_TIME,	/* seconds with s/m/h/d */
	CFG_MODE,	/* octal permissions */
	CFG_LISTEN,
	CFG_NETS,
	CFG_USERS,
	CFG_BOOL,	/* yes/no */
	CFG_DIRS,	/* comma list of absolute folders, may be empty */
	CFG_CHOICE,	/* one of the words in escapes, separated by '|' */
	CFG_SUBMISSION,	/* smtp:HOST:PORT or an absolute program path */
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t offset;
	const char *def;	/* NULL = computed at load (hostname) */
	unsigned long min, max;	/* CFG_UINT, CFG_TIME; min also CFG_SIZE */
	const char *escapes;	/* CFG_TEMPLATE: allowed after %; CFG_CHOICE: a|b */
};

#define F(field) offsetof(struct lmtpd_config, field)

/* In the order of lmtpd.conf(5) and the sample file: `lmtpd -n` prints
 * in this order, so its output reads alongside them. */
static const struct cfg_key cfg_keys[] = {
	{ "listen", CFG_LISTEN, F(listen), "127.0.0.1:2424", 0, 0, NULL },
	{ "listen_mode", CFG_MODE, F(listen_mode), "0660", 0, 0, NULL },
	{ "listen_owner", CFG_NAME, F(listen_owner), "", 0, 0, NULL },
	{ "allow_from", CFG_NETS, F(allow_from), "127.0.0.0/8, ::1", 0, 0, NULL },
	{ "user", CFG_NAME, F(user), "", 0, 0, NULL },
	{ "group", CFG_NAME, F(group), "", 0, 0, NULL },
	{ "workers", CFG_UINT, F(workers), "4", 1, 1024, NULL },
	{ "max_use", CFG_UINT, F(max_use), "1000", 1, UINT_MAX, NULL },
	{ "pid_file", CFG_PATH, F(pid_file), "", 0, 0, NULL },
	{ "hostname", CFG_NAME, F(hostname), NULL, 0, 0, NULL },
	{ "state_dir", CFG_PATH, F(state_dir), LOCALSTATEDIR "/lib/lmtpd", 0, 0, NULL },
	{ "users", CFG_USERS, F(users), "static", 0, 0, NULL },
	{ "recipient_delimiter", CFG_STRING, F(recipient_delimiter), "+", 0, 0, NULL },
	{ "home", CFG_TEMPLATE, F(home), LOCALSTATEDIR "/mail/%d/%n", 0, 0, "und%" },
	{ "mail_location", CFG_TEMPLATE, F(mail_location), "%h/Maildir", 0, 0, "hund%" },
	{ "max_message_size", CFG_SIZE, F(max_message_size), "50M", 0, 0, NULL },
	{ "max_recipients", CFG_UINT, F(max_recipients), "1000", 1, 100000, NULL },
	{ "max_errors", CFG_UINT, F(max_errors), "20", 1, 10000, NULL },
	{ "idle_timeout", CFG_TIME, F(idle_timeout), "300s", 1, 86400, NULL },
	{ "min_data_rate", CFG_UINT, F(min_data_rate), "500", 0, UINT_MAX, NULL },
	{ "rules_dir", CFG_DIRS, F(rules_dir),
	  "/usr/share/spamassassin, " SYSCONFDIR "/lmtpd/rules", 0, 0, NULL },
	{ "spam_prefs", CFG_TEMPLATE, F(spam_prefs), "%h/.spamassassin/user_prefs",
	  0, 0, "hund%" },
	{ "spam_report", CFG_BOOL, F(spam_report), "no", 0, 0, NULL },
	{ "db_stall_timeout", CFG_TIME, F(db_stall_timeout), "30s", 1, 3600, NULL },
	{ "bayes_per_user", CFG_BOOL, F(bayes_per_user), "no", 0, 0, NULL },
	{ "sieve_script", CFG_TEMPLATE, F(sieve_script), "%h/.dovecot.sieve", 0, 0, "hund%" },
	{ "sieve_before", CFG_PATH, F(sieve_before), "", 0, 0, NULL },
	{ "sieve_after", CFG_PATH, F(sieve_after), "", 0, 0, NULL },
	{ "folder_separator", CFG_CHOICE, F(folder_separator), ".", 0, 0, ".|/" },
	{ "submission", CFG_SUBMISSION, F(submission), "smtp:127.0.0.1:25", 0, 0, NULL },
	{ "submission_timeout", CFG_TIME, F(submission_timeout), "30s", 1, 3600, NULL },
	/* 0 would not mean "no limit" as for max_message_size but refuse
	 * every script: a typo, not a wish. */
	{ "sieve_max_script_size", CFG_SIZE, F(sieve_max_script_size), "1M", 1, 0, NULL },
	{ "sieve_max_actions", CFG_UINT, F(sieve_max_actions), "32", 1, 10000, NULL },
	{ "sieve_max_redirects", CFG_UINT, F(sieve_max_redirects), "4", 0, 100, NULL },
	{ "sieve_max_cpu_time", CFG_TIME, F(sieve_max_cpu_time), "30s", 1, 3600, NULL },
	{ "sieve_max_memory", CFG_SIZE, F(sieve_max_memory), "512M", 0, 0, NULL },
	{ "sieve_vacation_max_days", CFG_UINT, F(sieve_vacation_max_days), "60", 1, 3650,
	  NULL },
};

#define CFG_KEY_COUNT N_ELEMENTS(cfg_keys)

static char *
cfg_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' ||
			   end[-1] == '\n'))
		*--end = '\0';
	return s;
}

/* Splits a comma (or space) separated list into trimmed non-empty items. */
static char **
cfg_split_list(const char *value, size_t *count_r)
{
	char *copy = xstrdup(value), *tok, *save = NULL;
	char **items = NULL;
	size_t n = 0;

	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t", &save)) {
		items = xreallocarray(items, n + 1, sizeof(*items));
		items[n++] = xstrdup(tok);
	}
	free(copy);
	*count_r = n;
	return items;
}

static void
cfg_free_list(char **items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

static int
cfg_parse_number(const char *value, uint64_t *out, const char *units,
		 const uint64_t *mult)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)value[0]))
		return -1;
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		const char *u = strchr(units, tolower((unsigned char)*end));

		if (u == NULL || end[1] != '\0' || *end == '\0')
			return -1;
		if (v > UINT64_MAX / mult[u - units])
			return -1;
		v *= mult[u - units];
	}
	*out = v;
	return 0;
}

static bool
cfg_template_valid(const char *value, const char *escapes, bool needs_home,
		   bool built_in, const char **why)
{
	const char *p;

	for (p = value; *p != '\0'; p++) {
		if (*p != '%')
			continue;
		if (p[1] == '\0' || strchr(escapes, p[1]) == NULL) {
			*why = "unknown % escape";
			return false;
		}
		p++;
	}
	if (value[0] != '/' && !(needs_home && strncmp(value, "%h", 2) == 0)) {
		*why = needs_home ? "must be an absolute path or start with %h"
				  : "must be an absolute path";
		return false;
	}
	/* Delivery refuses every path with one (rcpt.c): say so now rather
	 * than answer 451 to every recipient.  A built-in default with one
	 * (configure's --localstatedir) is left to that refusal, so that the
	 * tools which deliver nothing still run. */
	if (!built_in && path_has_dotdot(value)) {
		*why = "must not have a '..' component";
		return false;
	}
	return true;
}

/* submission: "smtp:HOST:PORT" (HOST may be [IPv6]) or the absolute path
 * of a sendmail-compatible program.  Returns true when fine. */
static bool
cfg_submission_valid(const char *value, const char **why)
{
	const char *hp, *colon;
	char *end;
	long port;

	if (value[0] == '/')
		return true;
	*why = "must be smtp:HOST:PORT or the absolute path of a sendmail-compatible "
	       "program";
	if (strncmp(value, "smtp:", 5) != 0)
		return false;
	hp = value + 5;
	if (hp[0] == '[') {
		const char *close = strchr(hp, ']');

		if (close == NULL || close == hp + 1 || close[1] != ':')
			return false;
		colon = close + 1;
	} else {
		colon = strrchr(hp, ':');
		if (colon == NULL || colon == hp || strpbrk(hp, " \t/") != NULL)
			return false;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 1 || port > 65535) {
		*why = "port must be a number from 1 to 65535";
		return false;
	}
	return true;
}

/* Letters, digits, '-' and '_' in labels joined by single dots, at most
 * 255 bytes ("" is left to the caller). */
static bool
cfg_hostname_valid(const char *value)
{
	/* Postfix's valid_hostname(): a name the MTA in front would refuse
	 * in its own myhostname must not reach replies and Received fields
	 * here either. */
	size_t label_len = 0;
	bool non_numeric = false;
	const char *p;

	for (p = value; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		if (isalnum(ch) || ch == '_') {
			if (++label_len > 63)
				return false;
			if (!isdigit(ch))
				non_numeric = true;
		} else if (ch == '-') {
			non_numeric = true;
			if (++label_len == 1 || p[1] == '\0' || p[1] == '.')
				return false;
		} else if (ch == '.') {
			if (label_len == 0 || p[1] == '\0')
				return false;
			label_len = 0;
		} else {
			return false;
		}
	}
	return non_numeric && p - value <= 255;
}

/* Validates value for key and stores it; returns NULL or a malloc'd reason. */
static char *
cfg_set(struct lmtpd_config *cfg, const struct cfg_key *key, const char *value, bool built_in)
{
	void *field = (char *)cfg + key->offset;
	const char *why = NULL;
	uint64_t n;

	switch (key->type) {
	case CFG_STRING:
		/* recipient_delimiter: no address is split at a blank or a
		 * control character on purpose. */
		for (const char *p = value; *p != '\0'; p++) {
			if ((unsigned char)*p <= 0x20 || *p == 0x7f)
				return xasprintf("'%s' must not have white space or a "
						 "control character", key->name);
			/* The local part is cut at the first byte of the set, as
			 * Postfix does: a byte of a UTF-8 character would cut
			 * other characters that share it. */
			if ((unsigned char)*p >= 0x80)
				return xasprintf("'%s' must be ASCII characters", key->name);
		}
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return NULL;
	case CFG_NAME:
		if (strpbrk(value, " \t,/") != NULL)
			return xasprintf("'%s' must be a single name", key->name);
		for (const char *p = value; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return xasprintf("'%s' has a control character", key->name);
		/* It goes into every reply, Received field and Maildir file
		 * name (where ':' starts the flags): a host name, as Postfix's
		 * valid_hostname takes it. */
		if (strcmp(key->name, "hostname") == 0 && value[0] != '\0' &&
		    !cfg_hostname_valid(value))
			return xasprintf("'hostname' must be a host name (labels of letters, "
					 "digits, '_' and inner '-' joined by single dots, at most 63 bytes "
					 "a label and 255 in all, not all digits)");
		/* Only a key whose default is unset may be emptied: hostname
		 * is used as text in every reply and Maildir file name. */
		if (value[0] == '\0' && (key->def == NULL || key->def[0] != '\0'))
			return xasprintf("'%s' must not be empty", key->name);
		free(*(char **)field);
		*(char **)field = value[0] == '\0' ? NULL : xstrdup(value);
		return NULL;
	case CFG_PATH:
		if (value[0] != '\0' && value[0] != '/')
			return xasprintf("'%s' must be an absolute path", key->name);
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return NULL;
	case CFG_TEMPLATE:
		if (!cfg_template_valid(value, key->escapes,
					strchr(key->escapes, 'h') != NULL, built_in, &why))
			return xasprintf("'%s': %s", key->name, why);
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return NULL;
	case CFG_BOOL:
		if (strcmp(value, "yes") == 0 || strcmp(value, "1") == 0)
			*(bool *)field = true;
		else if (strcmp(value, "no") == 0 || strcmp(value, "0") == 0)
			*(bool *)field = false;
		else
			return xasprintf("'%s' must be yes or no (or 1 or 0)", key->name);
		return NULL;
	case CFG_DIRS: {
		size_t count;
		char **items = cfg_split_list(value, &count);
		char *err = NULL;

		for (size_t i = 0; i < count && err == NULL; i++)
			if (items[i][0] != '/')
				err = xasprintf("'%s' entry '%s' must be an absolute path",
						key->name, items[i]);
		cfg_free_list(items, count);
		if (err != NULL)
			return err;
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return NULL;
	}
	case CFG_CHOICE: {
		size_t len = strlen(value);

		for (const char *c = key->escapes; *c != '\0';) {
			size_t clen = strcspn(c, "|");

			if (clen == len && len > 0 && strncmp(c, value, len) == 0) {
				free(*(char **)field);
				*(char **)field = xstrdup(value);
				return NULL;
			}
			c += clen;
			if (*c == '|')
				c++;
		}
		return xasprintf("'%s' must be one of: %s", key->name, key->escapes);
	}
	case CFG_SUBMISSION:
		if (cfg_submission_valid(value, &why)) {
			free(*(char **)field);
			*(char **)field = xstrdup(value);
			return NULL;
		}
		return xasprintf("'%s': %s", key->name, why);
	case CFG_USERS:
		if (strcmp(value, "static") != 0 && value[0] != '/')
			return xasprintf("'users' must be 'static' or the absolute path of a map");
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return NULL;
	case CFG_UINT:
		if (cfg_parse_number(value, &n, "", NULL) < 0 || n < key->min ||
		    n > key->max)
			return xasprintf("'%s' must be a number from %lu to %lu",
					 key->name, key->min, key->max);
		*(unsigned int *)field = (unsigned int)n;
		return NULL;
	case CFG_TIME: {
		static const uint64_t mult[] = { 1, 60, 3600, 86400 };

		if (cfg_parse_number(value, &n, "smhd", mult) < 0 || n < key->min ||
		    n > key->max)
			return xasprintf("'%s' must be a time from %lus to %lus "
					 "(suffix s, m, h or d)", key->name,
					 key->min, key->max);
		*(unsigned int *)field = (unsigned int)n;
		return NULL;
	}
	case CFG_SIZE: {
		static const uint64_t mult[] = { 1024, 1024 * 1024,
						 1024 * 1024 * 1024 };

		if (cfg_parse_number(value, &n, "kmg", mult) < 0 || n < key->min)
			return key->min == 0
				? xasprintf("'%s' must be a size in bytes, with an "
					    "optional K, M or G", key->name)
				: xasprintf("'%s' must be a size in bytes, not 0, with "
					    "an optional K, M or G", key->name);
		*(uint64_t *)field = n;
		return NULL;
	}
	case CFG_MODE: {
		char *end;
		unsigned long m;

		errno = 0;
		m = strtoul(value, &end, 8);
		/* Set-id and sticky bits mean nothing on a socket: a value
		 * with them is a typo, not a wish.  strtoul also takes a
		 * sign ("-0", "+660"): octal digits only. */
		if (value[0] == '\0' || *end != '\0' || errno != 0 || m > 0777 ||
		    value[strspn(value, "01234567")] != '\0')
			return xasprintf("'%s' must be an octal mode like 0660 "
					 "(at most 0777)", key->name);
		*(unsigned int *)field = (unsigned int)m;
		return NULL;
	}
	case CFG_LISTEN: {
		size_t count, i;
		char **items = cfg_split_list(value, &count);
		struct netaddr_listen *l;
		char *err = NULL;

		if (count == 0) {
			cfg_free_list(items, count);
			return xasprintf("'listen' needs at least one address");
		}
		l = xcalloc(count, sizeof(*l));
		for (i = 0; i < count && err == NULL; i++) {
			if (netaddr_parse_listen(items[i], &l[i], &why) < 0) {
				err = xasprintf("'listen' entry '%s': %s", items[i], why);
				break;
			}
			/* The second bind would fail as if another daemon held
			 * the address ("is lmtpd already running?"). */
			for (size_t j = 0; j < i && err == NULL; j++)
				if (l[j].is_unix == l[i].is_unix &&
				    (l[i].is_unix ? strcmp(l[j].path, l[i].path) == 0
						  : strcmp(l[j].host, l[i].host) == 0 &&
						    strcmp(l[j].port, l[i].port) == 0))
					err = xasprintf("'listen' entry '%s' is given twice",
							items[i]);
		}
		cfg_free_list(items, count);
		if (err != NULL) {
			free(l);
			return err;
		}
		free(cfg->listen);
		cfg->listen = l;
		cfg->listen_count = count;
		return NULL;
	}
	case CFG_NETS: {
		size_t count, i;
		char **items = cfg_split_list(value, &count);
		struct netaddr_net *nets = xcalloc(count, sizeof(*nets));
		char *err = NULL;

		for (i = 0; i < count && err == NULL; i++)
			if (netaddr_parse_net(items[i], &nets[i], &why) < 0)
				err = xasprintf("'allow_from' entry '%s': %s", items[i], why);
		cfg_free_list(items, count);
		if (err != NULL) {
			free(nets);
			return err;
		}
		free(cfg->allow_from);
		cfg->allow_from = nets;
		cfg->allow_from_count = count;
		return NULL;
	}
	}
	return xasprintf("internal error: key type");
}

/* An unknown key as the error shows it: every byte outside printable ASCII
 * as \xNN, so that a byte order mark or a no-break space an editor put
 * there is seen.  Allocated. */
static char *
cfg_key_visible(const char *name)
{
	char *out = xmalloc(strlen(name) * 4 + 1), *o = out;

	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p > 0x20 && *p < 0x7f && *p != '\\')
			*o++ = (char)*p;
		else
			o += sprintf(o, "\\x%02x", *p);
	}
	*o = '\0';
	return out;
}

static const struct cfg_key *
cfg_find_key(const char *name, size_t *index_r)
{
	for (size_t i = 0; i < CFG_KEY_COUNT; i++)
		if (strcmp(cfg_keys[i].name, name) == 0) {
			*index_r = i;
			return &cfg_keys[i];
		}
	return NULL;
}

char *
cfg_hostname_default_from(const char *system)
{
	size_t len = system != NULL ? strlen(system) : 0;
	char *host;

	if (len == 0)
		return xstrdup("localhost");
	/* an absolute name ("mx.example.com.") is the same host */
	host = xstrndup(system, len > 1 && system[len - 1] == '.' ? len - 1 : len);
	if (!cfg_hostname_valid(host)) {
		/* The built-in default must load (it is checked like a
		 * configured hostname): an odd system name is not fatal. */
		log_warn("the system's host name is not usable as 'hostname' "
			 "(labels of letters, digits, '_' and inner '-', not all digits); using \"localhost\": "
			 "set 'hostname' in the configuration");
		free(host);
		return xstrdup("localhost");
	}
	return host;
}

static char *
cfg_default_hostname(void)
{
	char host[256];

	if (gethostname(host, sizeof(host) - 1) < 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	return cfg_hostname_default_from(host);
}

/* Checks that need the whole config or the system (users exist).  *key_r
 * names the key at fault, so the error can carry its line. */
static char *
cfg_check(const struct lmtpd_config *cfg, const char **key_r)
{
	*key_r = "user";
	if (cfg->user != NULL && getpwnam(cfg->user) == NULL)
		return xasprintf("'user': no such user '%s'", cfg->user);
	*key_r = "group";
	if (cfg->group != NULL && getgrnam(cfg->group) == NULL)
		return xasprintf("'group': no such group '%s'", cfg->group);
	*key_r = "listen_owner";
	if (cfg->listen_owner != NULL && getpwnam(cfg->listen_owner) == NULL)
		return xasprintf("'listen_owner': no such user '%s'", cfg->listen_owner);
	*key_r = "state_dir";
	if (cfg->state_dir[0] == '\0')
		return xasprintf("'state_dir' must be set");
	return NULL;
}

static struct lmtpd_config *
cfg_new_defaults(void)
{
	struct lmtpd_config *cfg = xcalloc(1, sizeof(*cfg));
	size_t i;

	cfg->text = xcalloc(CFG_KEY_COUNT, sizeof(char *));
	for (i = 0; i < CFG_KEY_COUNT; i++) {
		char *def = cfg_keys[i].def != NULL ? xstrdup(cfg_keys[i].def)
						    : cfg_default_hostname();
		char *err = cfg_set(cfg, &cfg_keys[i], def, true);

		if (err != NULL)
			log_panic("built-in default of '%s': %s", cfg_keys[i].name, err);
		cfg->text[i] = def;
	}
	return cfg;
}

void
cfg_free(struct lmtpd_config **cfgp)
{
	struct lmtpd_config *cfg = *cfgp;
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < CFG_KEY_COUNT; i++) {
		void *field = (char *)cfg + cfg_keys[i].offset;

		switch (cfg_keys[i].type) {
		case CFG_STRING:
		case CFG_NAME:
		case CFG_PATH:
		case CFG_TEMPLATE:
		case CFG_USERS:
		case CFG_DIRS:
		case CFG_CHOICE:
		case CFG_SUBMISSION:
			free(*(char **)field);
			break;
		case CFG_LISTEN:
		case CFG_NETS:
			free(*(void **)field);
			break;
		default:
			break;
		}
		free(cfg->text[i]);
	}
	free(cfg->text);
	free(cfg->path);
	free(cfg);
	*cfgp = NULL;
}

/* Reads the whole file; config files are small, 1 MB is far beyond any. */
static char *
cfg_read_file(const char *path, char **error_r)
{
	struct buf b;
	char chunk[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		*error_r = xasprintf("%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	buf_init(&b, 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(&b, chunk, n) < 0) {
			*error_r = xasprintf("%s: file too large", path);
			break;
		}
	}
	if (*error_r == NULL && ferror(f))
		*error_r = xasprintf("%s: read error: %s", path, strerror(errno));
	if (fclose(f) != 0 && *error_r == NULL)
		*error_r = xasprintf("%s: close error: %s", path, strerror(errno));
	if (*error_r == NULL && memchr(b.data == NULL ? "" : b.data, '\0', b.len) != NULL)
		*error_r = xasprintf("%s: NUL byte in file", path);
	if (*error_r != NULL) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

struct cfg_pending {
	size_t key_index;
	unsigned int line;
	struct buf value;
};

static char *
cfg_commit(struct lmtpd_config *cfg, const char *path, struct cfg_pending *p)
{
	const struct cfg_key *key = &cfg_keys[p->key_index];
	char *value = cfg_trim(p->value.data == NULL ? (char *)"" : p->value.data);
	char *why;

	/* A comment after a value would be part of it: "+ # plus" made
	 * every 'p', 'l', 'u' and 's' a recipient_delimiter.  No value
	 * has a use for a blank before a '#', so refuse the line. */
	if (strstr(value, " #") != NULL || strstr(value, "\t#") != NULL)
		return xasprintf("%s:%u: '%s': a '#' after the value does not start a "
				 "comment; put comments on lines of their own", path,
				 p->line, key->name);
	why = cfg_set(cfg, key, value, false);

	if (why != NULL) {
		char *err = xasprintf("%s:%u: %s", path, p->line, why);

		free(why);
		return err;
	}
	free(cfg->text[p->key_index]);
	cfg->text[p->key_index] = xstrdup(value);
	return NULL;
}

struct lmtpd_config *
cfg_load(const char *path, char **error_r)
{
	struct lmtpd_config *cfg = cfg_new_defaults();
	unsigned int set_at[CFG_KEY_COUNT] = { 0 };
	struct cfg_pending pending = { 0, 0, { NULL, 0, 0, 0 } };
	char *text, *line, *next, *err = NULL;
	const char *bad_key;
	unsigned int lineno = 0;

	*error_r = NULL;
	if (path == NULL)
		goto checks;
	cfg->path = xstrdup(path);
	text = cfg_read_file(path, &err);
	if (text == NULL)
		goto fail;
	buf_init(&pending.value, CFG_LINE_MAX * 16);
	for (line = text; line != NULL && err == NULL; line = next) {
		char *eq, *name;
		const struct cfg_key *key;
		size_t index;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		if (strlen(line) > CFG_LINE_MAX) {
			err = xasprintf("%s:%u: line too long", path, lineno);
			break;
		}
		if (cfg_trim(line)[0] == '\0' || cfg_trim(line)[0] == '#')
			continue;
		if (line[0] == ' ' || line[0] == '\t') {
			/* A continuation line, as in Postfix's main.cf. */
			if (pending.line == 0) {
				err = xasprintf("%s:%u: continuation line without a key",
						path, lineno);
				break;
			}
			if (buf_append(&pending.value, " ", 1) < 0 ||
			    buf_append_str(&pending.value, cfg_trim(line)) < 0)
				err = xasprintf("%s:%u: value too long", path, lineno);
			continue;
		}
		if (pending.line != 0) {
			err = cfg_commit(cfg, path, &pending);
			pending.line = 0;
			if (err != NULL)
				break;
		}
		eq = strchr(line, '=');
		if (eq == NULL) {
			err = xasprintf("%s:%u: expected 'key = value'", path, lineno);
			break;
		}
		*eq = '\0';
		name = cfg_trim(line);
		key = cfg_find_key(name, &index);
		if (key == NULL) {
			char *shown = cfg_key_visible(name);

			err = xasprintf("%s:%u: unknown key '%s'", path, lineno, shown);
			free(shown);
			break;
		}
		if (set_at[index] != 0) {
			err = xasprintf("%s:%u: '%s' already set at line %u", path,
					lineno, name, set_at[index]);
			break;
		}
		set_at[index] = lineno;
		pending.key_index = index;
		pending.line = lineno;
		buf_reset(&pending.value);
		if (buf_append_str(&pending.value, cfg_trim(eq + 1)) < 0)
			err = xasprintf("%s:%u: value too long", path, lineno);
	}
	if (err == NULL && pending.line != 0)
		err = cfg_commit(cfg, path, &pending);
	buf_free(&pending.value);
	free(text);
	if (err != NULL)
		goto fail;
checks:
	err = cfg_check(cfg, &bad_key);
	if (err != NULL) {
		size_t index = 0;
		char *full;

		/* A bad value is "file:line: why" like any other (DESIGN). */
		if (cfg_find_key(bad_key, &index) != NULL && set_at[index] != 0)
			full = xasprintf("%s:%u: %s", path, set_at[index], err);
		else
			full = xasprintf("%s: %s", path != NULL ? path : "(defaults)", err);

		free(err);
		err = full;
		goto fail;
	}
	return cfg;
fail:
	*error_r = err;
	cfg_free(&cfg);
	return NULL;
}

void
cfg_print(const struct lmtpd_config *cfg, FILE *out)
{
	for (size_t i = 0; i < CFG_KEY_COUNT; i++)
		fprintf(out, "%s = %s\n", cfg_keys[i].name, cfg->text[i]);
}

int
cfg_expand(const char *tmpl, const struct cfg_template_vars *vars, char *out,
	   size_t out_size)
{
	size_t o = 0;
	const char *p;

	/* Even "" needs room for its NUL. */
	if (out_size == 0)
		return -1;
	for (p = tmpl; *p != '\0'; p++) {
		const char *add = NULL;
		char one[2] = { *p, '\0' };
		size_t len;

		if (*p == '%' && p[1] != '\0') {
			p++;
			switch (*p) {
			case 'u': add = vars->u; break;
			case 'n': add = vars->n; break;
			case 'd': add = vars->d; break;
			case 'h': add = vars->h; break;
			case '%': add = "%"; break;
			default: one[0] = *p; add = one; break;
			}
			if (add == NULL)
				add = "";
		} else {
			add = one;
		}
		len = strlen(add);
		if (len >= out_size - o)
			return -1;
		memcpy(out + o, add, len);
		o += len;
	}
	out[o] = '\0';
	return 0;
}
