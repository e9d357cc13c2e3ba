/* Unit tests for lib/cfg: defaults, every key type, "file:line: why"
 * errors, continuation lines, comments, cfg_print and cfg_expand. */
#include "config.h"

#include "check_compat.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cfg.h"
#include "listener.h"
#include "lmtpd_limits.h"

/* Loads text from a fresh file; returns the config or NULL with *error_r.
 * path_r (may be NULL) gets the file's path. */
static struct lmtpd_config *
load_text(const char *text, size_t len, char **error_r, char *path_r,
	  size_t path_size)
{
	static char path[PATH_MAX];

	ut_pathf(path, sizeof(path), "%s/lmtpd.conf", ut_testdir());
	ut_write_file(path, text, len);
	if (path_r != NULL)
		ut_pathf(path_r, path_size, "%s", path);
	return cfg_load(path, error_r);
}

static struct lmtpd_config *
load_ok(const char *text)
{
	char *error = NULL;
	struct lmtpd_config *cfg = load_text(text, strlen(text), &error, NULL, 0);

	ck_assert_msg(cfg != NULL, "config \"%s\" refused: %s", ut_escs(text), error);
	ck_assert_ptr_null(error);
	return cfg;
}

/* Fails unless text is refused with exactly "PATH" + want. */
static void
assert_load_error(const char *text, size_t len, const char *want)
{
	char path[PATH_MAX], full[PATH_MAX + 256], *error = (char *)"unset";
	struct lmtpd_config *cfg = load_text(text, len, &error, path, sizeof(path));

	ck_assert_msg(cfg == NULL, "config \"%s\" accepted", ut_esc(text, len));
	ck_assert_ptr_nonnull(error);
	ut_pathf(full, sizeof(full), "%s%s", path, want);
	ck_assert_msg(strcmp(error, full) == 0, "config \"%s\": got \"%s\", want \"%s\"",
		      ut_esc(text, len), error, full);
	free(error);
}

START_TEST(cfg_defaults)
{
	char *error = (char *)"unset", host[256];
	struct lmtpd_config *cfg = cfg_load(NULL, &error);

	ck_assert_ptr_nonnull(cfg);
	ck_assert_ptr_null(error);
	ck_assert_ptr_null(cfg->path);
	ck_assert_uint_eq(cfg->listen_count, 1);
	ck_assert(!cfg->listen[0].is_unix);
	ck_assert_str_eq(cfg->listen[0].host, "127.0.0.1");
	ck_assert_str_eq(cfg->listen[0].port, "2424");
	ck_assert_uint_eq(cfg->listen_mode, 0660);
	ck_assert_ptr_null(cfg->listen_owner);
	ck_assert_uint_eq(cfg->allow_from_count, 2);
	ck_assert_int_eq(cfg->allow_from[0].family, AF_INET);
	ck_assert_uint_eq(cfg->allow_from[0].prefix, 8);
	ck_assert_int_eq(cfg->allow_from[1].family, AF_INET6);
	ck_assert_uint_eq(cfg->allow_from[1].prefix, 128);
	ck_assert_ptr_null(cfg->user);
	ck_assert_ptr_null(cfg->group);
	ck_assert_uint_eq(cfg->workers, DEF_WORKERS);
	ck_assert_uint_eq(cfg->max_use, DEF_MAX_USE);
	ck_assert_str_eq(cfg->home, LOCALSTATEDIR "/mail/%d/%n");
	ck_assert_str_eq(cfg->mail_location, "%h/Maildir");
	ck_assert_str_eq(cfg->users, "static");
	ck_assert_str_eq(cfg->recipient_delimiter, "+");
	ck_assert_uint_eq(cfg->max_message_size, DEF_MAX_MESSAGE_SIZE);
	ck_assert_uint_eq(cfg->max_message_size, 50 * 1024 * 1024);
	ck_assert_uint_eq(cfg->max_recipients, DEF_MAX_RECIPIENTS);
	ck_assert_uint_eq(cfg->max_errors, DEF_MAX_ERRORS);
	ck_assert_uint_eq(cfg->idle_timeout, DEF_IDLE_TIMEOUT);
	ck_assert_uint_eq(cfg->min_data_rate, DEF_MIN_DATA_RATE);
	ck_assert_str_eq(cfg->state_dir, LOCALSTATEDIR "/lib/lmtpd");
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	ck_assert_str_eq(cfg->hostname, host);
	ck_assert_str_eq(cfg->pid_file, "");
	ck_assert_str_eq(cfg->rules_dir, "/usr/share/spamassassin, " SYSCONFDIR "/lmtpd/rules");
	ck_assert_str_eq(cfg->spam_prefs, "%h/.spamassassin/user_prefs");
	ck_assert(!cfg->spam_report);
	cfg_free(&cfg);
	ck_assert_ptr_null(cfg);
	cfg_free(&cfg);		/* NULL is fine */
}
END_TEST

static const char all_keys_conf[] =
	"# every key, none at its default\n"
	"listen = 127.0.0.1:2525, [::1]:2526,unix:/tmp/lmtpd.sock\n"
	"listen_mode = 0600\n"
	"listen_owner = root\n"
	"allow_from = 10.0.0.0/8 192.168.0.0/16,::1\n"
	"user = root\n"
	"group = root\n"
	"workers = 8\n"
	"max_use = 5\n"
	"home = /srv/mail/%d/%n\n"
	"mail_location = %h/Mail\n"
	"users = /etc/lmtpd/users\n"
	"recipient_delimiter = +-\n"
	"max_message_size = 10K\n"
	"max_recipients = 50\n"
	"max_errors = 3\n"
	"idle_timeout = 2m\n"
	"min_data_rate = 0\n"
	"state_dir = /var/lib/lmtpd-test\n"
	"hostname = mx.example.org\n"
	"pid_file = /run/lmtpd.pid\n";

/* The system's host name is the default hostname only when it is one: an
 * odd name (a '+', a quote, non-ASCII) gives "localhost" and a warning,
 * never a daemon that can not load its own defaults. */
#define LABEL63 "a23456789012345678901234567890123456789012345678901234567890123"
#define LABEL62 "a2345678901234567890123456789012345678901234567890123456789012"
/* 4 labels of 63 and 3 dots: 255 bytes */
#define NAME255 LABEL63 "." LABEL63 "." LABEL63 "." LABEL62 "x"
START_TEST(cfg_hostname_default)
{
	static const struct {
		const char *system, *want;
	} cases[] = {
		{ "mx.example.org", "mx.example.org" },
		{ "mx.example.org.", "mx.example.org" },
		{ "host_1", "host_1" },
		{ "", "localhost" },
		{ "a+b", "localhost" },
		{ "it's", "localhost" },
		{ "h\xc3\xb6st", "localhost" },
		{ "a..b", "localhost" },
		{ "a b", "localhost" },
		/* Postfix's valid_hostname: hyphens inside labels only, labels
		 * of at most 63 bytes, not all digits. */
		{ "mx-1.ex-ample.org", "mx-1.ex-ample.org" },
		{ "3com.example", "3com.example" },
		{ "12345", "localhost" },
		{ "10.0.0.1", "localhost" },
		{ "-mx", "localhost" },
		{ "mx-", "localhost" },
		{ "a.-b", "localhost" },
		{ LABEL63 ".example", LABEL63 ".example" },
		{ "x" LABEL63 ".example", "localhost" },
		{ NAME255, NAME255 },
		{ NAME255 ".x", "localhost" },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		char *got = cfg_hostname_default_from(cases[i].system);

		ck_assert_msg(strcmp(got, cases[i].want) == 0, "%s: %s", cases[i].system, got);
		free(got);
	}
}
END_TEST

START_TEST(cfg_all_keys)
{
	struct lmtpd_config *cfg = load_ok(all_keys_conf);

	ck_assert_ptr_nonnull(cfg->path);
	ck_assert_uint_eq(cfg->listen_count, 3);
	ck_assert_str_eq(cfg->listen[0].host, "127.0.0.1");
	ck_assert_str_eq(cfg->listen[0].port, "2525");
	ck_assert_str_eq(cfg->listen[1].host, "::1");
	ck_assert_str_eq(cfg->listen[1].port, "2526");
	ck_assert(cfg->listen[2].is_unix);
	ck_assert_str_eq(cfg->listen[2].path, "/tmp/lmtpd.sock");
	ck_assert_uint_eq(cfg->listen_mode, 0600);
	ck_assert_str_eq(cfg->listen_owner, "root");
	ck_assert_uint_eq(cfg->allow_from_count, 3);
	ck_assert_uint_eq(cfg->allow_from[1].prefix, 16);
	ck_assert_int_eq(cfg->allow_from[2].family, AF_INET6);
	ck_assert_str_eq(cfg->user, "root");
	ck_assert_str_eq(cfg->group, "root");
	ck_assert_uint_eq(cfg->workers, 8);
	ck_assert_uint_eq(cfg->max_use, 5);
	ck_assert_str_eq(cfg->home, "/srv/mail/%d/%n");
	ck_assert_str_eq(cfg->mail_location, "%h/Mail");
	ck_assert_str_eq(cfg->users, "/etc/lmtpd/users");
	ck_assert_str_eq(cfg->recipient_delimiter, "+-");
	ck_assert_uint_eq(cfg->max_message_size, 10240);
	ck_assert_uint_eq(cfg->max_recipients, 50);
	ck_assert_uint_eq(cfg->max_errors, 3);
	ck_assert_uint_eq(cfg->idle_timeout, 120);
	ck_assert_uint_eq(cfg->min_data_rate, 0);
	ck_assert_str_eq(cfg->state_dir, "/var/lib/lmtpd-test");
	ck_assert_str_eq(cfg->hostname, "mx.example.org");
	ck_assert_str_eq(cfg->pid_file, "/run/lmtpd.pid");
	cfg_free(&cfg);
}
END_TEST

/* The later key types: yes/no and a list of absolute folders. */
static const struct {
	const char *text;
	bool spam_report;
	const char *rules_dir;
} scoring_cases[] = {
	{ "spam_report = yes\n", true, NULL },
	{ "spam_report = 1\n", true, NULL },
	{ "spam_report = no\n", false, NULL },
	{ "spam_report = 0\n", false, NULL },
	{ "rules_dir =\n", false, "" },
	{ "rules_dir = /a\n", false, "/a" },
	{ "rules_dir = /a, /b/c,/d\n", false, "/a, /b/c,/d" },
	{ "rules_dir = /a,\n  /b\n", false, "/a, /b" },
};

START_TEST(cfg_scoring_keys)
{
	struct lmtpd_config *cfg = load_ok(scoring_cases[_i].text);

	ck_assert_int_eq(cfg->spam_report, scoring_cases[_i].spam_report);
	if (scoring_cases[_i].rules_dir != NULL)
		ck_assert_str_eq(cfg->rules_dir, scoring_cases[_i].rules_dir);
	cfg_free(&cfg);
}
END_TEST

START_TEST(cfg_empty_values)
{
	struct lmtpd_config *cfg = load_ok("recipient_delimiter =\n"
					   "allow_from =\n"
					   "user =\n"
					   "pid_file =\n");

	ck_assert_str_eq(cfg->recipient_delimiter, "");
	ck_assert_uint_eq(cfg->allow_from_count, 0);
	ck_assert_ptr_null(cfg->user);
	ck_assert_str_eq(cfg->pid_file, "");
	cfg_free(&cfg);
}
END_TEST

/* One "key = value" line; want is the typed value, or fails when bad. */
static const struct {
	const char *key, *value;
	bool ok;
	uint64_t want;
} number_cases[] = {
	/* sizes */
	{ "max_message_size", "0", true, 0 },
	{ "max_message_size", "1", true, 1 },
	{ "max_message_size", "1k", true, 1024 },
	{ "max_message_size", "1K", true, 1024 },
	{ "max_message_size", "2M", true, 2 * 1024 * 1024 },
	{ "max_message_size", "3g", true, 3ULL * 1024 * 1024 * 1024 },
	{ "max_message_size", "17179869183G", true, 17179869183ULL << 30 },
	{ "max_message_size", "18446744073709551615", true, UINT64_MAX },
	{ "max_message_size", "17179869184G", false, 0 },	/* 2^64 */
	{ "max_message_size", "18446744073709551616", false, 0 },
	{ "max_message_size", "1T", false, 0 },
	{ "max_message_size", "1KB", false, 0 },
	{ "max_message_size", "1.5M", false, 0 },
	{ "max_message_size", "-1", false, 0 },
	{ "max_message_size", "+1", false, 0 },
	{ "max_message_size", "K", false, 0 },
	{ "max_message_size", "", false, 0 },
	{ "sieve_max_script_size", "1", true, 1 },
	{ "sieve_max_script_size", "64k", true, 65536 },
	{ "sieve_max_script_size", "0", false, 0 },
	{ "sieve_max_script_size", "0K", false, 0 },
	{ "sieve_max_script_size", "-1", false, 0 },
	/* times: 1s .. 86400s */
	{ "idle_timeout", "1", true, 1 },
	{ "idle_timeout", "30s", true, 30 },
	{ "idle_timeout", "5m", true, 300 },
	{ "idle_timeout", "1H", true, 3600 },
	{ "idle_timeout", "1d", true, 86400 },
	{ "idle_timeout", "86400", true, 86400 },
	{ "idle_timeout", "86401", false, 0 },
	{ "idle_timeout", "2d", false, 0 },
	{ "idle_timeout", "0", false, 0 },
	{ "idle_timeout", "0s", false, 0 },
	{ "idle_timeout", "5x", false, 0 },
	{ "idle_timeout", "1ss", false, 0 },
	{ "idle_timeout", "s", false, 0 },
	/* unsigned numbers with ranges */
	{ "workers", "1", true, 1 },
	{ "workers", "1023", true, 1023 },
	{ "workers", "1024", true, 1024 },
	{ "workers", "1025", false, 0 },
	{ "workers", "0", false, 0 },
	{ "workers", "-1", false, 0 },
	{ "workers", "+4", false, 0 },
	{ "workers", "4x", false, 0 },
	{ "workers", "4k", false, 0 },
	{ "workers", "", false, 0 },
	{ "max_use", "4294967295", true, 4294967295ULL },
	{ "max_use", "4294967296", false, 0 },
	{ "max_recipients", "100000", true, 100000 },
	{ "max_recipients", "100001", false, 0 },
	{ "max_errors", "10000", true, 10000 },
	{ "max_errors", "10001", false, 0 },
	{ "min_data_rate", "0", true, 0 },
	/* modes */
	{ "listen_mode", "0660", true, 0660 },
	{ "listen_mode", "660", true, 0660 },
	{ "listen_mode", "0", true, 0 },
	{ "listen_mode", "0777", true, 0777 },
	{ "listen_mode", "01777", false, 0 },
	{ "listen_mode", "010000", false, 0 },
	{ "listen_mode", "0689", false, 0 },
	{ "listen_mode", "rw", false, 0 },
	{ "listen_mode", "-1", false, 0 },
	{ "listen_mode", "-0", false, 0 },
	{ "listen_mode", "+660", false, 0 },
	{ "listen_mode", "0660 0", false, 0 },
	{ "listen_mode", "", false, 0 },
};

static uint64_t
number_field(const struct lmtpd_config *cfg, const char *key)
{
	if (strcmp(key, "max_message_size") == 0)
		return cfg->max_message_size;
	if (strcmp(key, "sieve_max_script_size") == 0)
		return cfg->sieve_max_script_size;
	if (strcmp(key, "idle_timeout") == 0)
		return cfg->idle_timeout;
	if (strcmp(key, "workers") == 0)
		return cfg->workers;
	if (strcmp(key, "max_use") == 0)
		return cfg->max_use;
	if (strcmp(key, "max_recipients") == 0)
		return cfg->max_recipients;
	if (strcmp(key, "max_errors") == 0)
		return cfg->max_errors;
	if (strcmp(key, "min_data_rate") == 0)
		return cfg->min_data_rate;
	if (strcmp(key, "listen_mode") == 0)
		return cfg->listen_mode;
	ck_abort_msg("no field for %s", key);
	return 0;
}

static const char *
number_why(const char *key)
{
	if (strcmp(key, "max_message_size") == 0)
		return "'max_message_size' must be a size in bytes, with an optional "
		       "K, M or G";
	if (strcmp(key, "sieve_max_script_size") == 0)
		return "'sieve_max_script_size' must be a size in bytes, not 0, with "
		       "an optional K, M or G";
	if (strcmp(key, "idle_timeout") == 0)
		return "'idle_timeout' must be a time from 1s to 86400s (suffix s, "
		       "m, h or d)";
	if (strcmp(key, "workers") == 0)
		return "'workers' must be a number from 1 to 1024";
	if (strcmp(key, "max_use") == 0)
		return "'max_use' must be a number from 1 to 4294967295";
	if (strcmp(key, "max_recipients") == 0)
		return "'max_recipients' must be a number from 1 to 100000";
	if (strcmp(key, "max_errors") == 0)
		return "'max_errors' must be a number from 1 to 10000";
	if (strcmp(key, "listen_mode") == 0)
		return "'listen_mode' must be an octal mode like 0660 (at most 0777)";
	ck_abort_msg("no reason for %s", key);
	return NULL;
}

START_TEST(cfg_numbers)
{
	char text[256], want[256];

	/* A comment line first, so the error must name line 2. */
	snprintf(text, sizeof(text), "# numbers\n%s = %s\n", number_cases[_i].key,
		 number_cases[_i].value);
	if (number_cases[_i].ok) {
		struct lmtpd_config *cfg = load_ok(text);

		ck_assert_msg(number_field(cfg, number_cases[_i].key) ==
			      number_cases[_i].want, "%s = %s gave %llu",
			      number_cases[_i].key, number_cases[_i].value,
			      (unsigned long long)number_field(cfg, number_cases[_i].key));
		cfg_free(&cfg);
	} else {
		snprintf(want, sizeof(want), ":2: %s", number_why(number_cases[_i].key));
		assert_load_error(text, strlen(text), want);
	}
}
END_TEST

/* Whole files that are refused, and the error after the file name. */
static const struct {
	const char *text;
	size_t len;
	const char *want;
} error_cases[] = {
	{ UT_S("nosuch = 1\n"), ":1: unknown key 'nosuch'" },
	{ UT_S("Workers = 1\n"), ":1: unknown key 'Workers'" },
	{ UT_S("= 1\n"), ":1: unknown key ''" },
	/* A UTF-8 byte order mark, a no-break space: seen in the error. */
	{ UT_S("\xef\xbb\xbfworkers = 2\n"), ":1: unknown key '\\xef\\xbb\\xbfworkers'" },
	{ UT_S("max_use = 3\nmax\xc2\xa0use = 3\n"), ":2: unknown key 'max\\xc2\\xa0use'" },
	{ UT_S("# c\n\n   # indented comment\nworkers = 2\n\nnosuch = 1\n"),
	  ":6: unknown key 'nosuch'" },
	{ UT_S("workers = 2\nmax_use = 3\nworkers = 3\n"),
	  ":3: 'workers' already set at line 1" },
	{ UT_S("workers = 2\nworkers = 2\n"), ":2: 'workers' already set at line 1" },
	{ UT_S("workers\n"), ":1: expected 'key = value'" },
	{ UT_S(" workers = 2\n"), ":1: continuation line without a key" },
	{ UT_S("max_use = 3\nworkers = 0"), ":2: 'workers' must be a number from 1 to 1024" },
	{ UT_S("workers = 2 # eight\n"), ":1: 'workers': a '#' after the value does not "
	  "start a comment; put comments on lines of their own" },
	/* Accepted, it split james@ at the 'a' (at every letter of "plus"). */
	{ UT_S("recipient_delimiter = + # plus\n"), ":1: 'recipient_delimiter': a '#' "
	  "after the value does not start a comment; put comments on lines of their own" },
	{ UT_S("sieve_before = /etc/lmtpd/before.sieve\t# spam to Junk\n"),
	  ":1: 'sieve_before': a '#' after the value does not start a comment; put "
	  "comments on lines of their own" },
	{ UT_S("allow_from = 10.0.0.0/8,\n  # not a continuation\n  ::1 #v6\n"),
	  ":1: 'allow_from': a '#' after the value does not start a comment; put "
	  "comments on lines of their own" },
	{ UT_S("recipient_delimiter = + -\n"),
	  ":1: 'recipient_delimiter' must not have white space or a control character" },
	{ UT_S("recipient_delimiter = +\x01\n"),
	  ":1: 'recipient_delimiter' must not have white space or a control character" },
	/* An error in a continued value names the key's line. */
	{ UT_S("listen = 127.0.0.1:1,\n  bogus\nworkers = 2\n"),
	  ":1: 'listen' entry 'bogus': expected host:port or unix:/path" },
	{ UT_S("listen = 127.0.0.1\n"),
	  ":1: 'listen' entry '127.0.0.1': expected host:port or unix:/path" },
	{ UT_S("listen = 127.0.0.1:0\n"),
	  ":1: 'listen' entry '127.0.0.1:0': port must be a number from 1 to 65535" },
	{ UT_S("listen = unix:lmtp.sock\n"),
	  ":1: 'listen' entry 'unix:lmtp.sock': a UNIX socket path must be absolute" },
	{ UT_S("listen = [::1]2424\n"),
	  ":1: 'listen' entry '[::1]2424': expected [address]:port" },
	{ UT_S("listen =\n"), ":1: 'listen' needs at least one address" },
	{ UT_S("listen = 127.0.0.1:2424, unix:/run/l.sock 127.0.0.1:2424\n"),
	  ":1: 'listen' entry '127.0.0.1:2424' is given twice" },
	{ UT_S("listen = [::1]:24,\n  unix:/run/l.sock, unix:/run/l.sock\n"),
	  ":1: 'listen' entry 'unix:/run/l.sock' is given twice" },
	{ UT_S("allow_from = 10.0.0.0/33\n"),
	  ":1: 'allow_from' entry '10.0.0.0/33': bad prefix length" },
	{ UT_S("allow_from = 10.0.0.0/8, ::1/129\n"),
	  ":1: 'allow_from' entry '::1/129': bad prefix length" },
	{ UT_S("allow_from = 10.0.0.0/8, localhost\n"),
	  ":1: 'allow_from' entry 'localhost': bad network address" },
	{ UT_S("home = /srv/%q\n"), ":1: 'home': unknown % escape" },
	{ UT_S("home = /srv/%h\n"), ":1: 'home': unknown % escape" },
	{ UT_S("home = /srv/%\n"), ":1: 'home': unknown % escape" },
	{ UT_S("home = srv/%n\n"), ":1: 'home': must be an absolute path" },
	{ UT_S("home = /srv/../mail/%n\n"), ":1: 'home': must not have a '..' component" },
	{ UT_S("mail_location = %h/Maildir/..\n"),
	  ":1: 'mail_location': must not have a '..' component" },
	{ UT_S("sieve_script = %h/../x.sieve\n"),
	  ":1: 'sieve_script': must not have a '..' component" },
	{ UT_S("home = %h/x\n"), ":1: 'home': unknown % escape" },
	{ UT_S("mail_location = Maildir\n"),
	  ":1: 'mail_location': must be an absolute path or start with %h" },
	{ UT_S("mail_location = %h/%x\n"), ":1: 'mail_location': unknown % escape" },
	{ UT_S("users = users.txt\n"),
	  ":1: 'users' must be 'static' or the absolute path of a map" },
	{ UT_S("users =\n"), ":1: 'users' must be 'static' or the absolute path of a map" },
	{ UT_S("state_dir = var/lib\n"), ":1: 'state_dir' must be an absolute path" },
	{ UT_S("pid_file = lmtpd.pid\n"), ":1: 'pid_file' must be an absolute path" },
	{ UT_S("user = a b\n"), ":1: 'user' must be a single name" },
	{ UT_S("group = a,b\n"), ":1: 'group' must be a single name" },
	{ UT_S("listen_owner = ../x\n"), ":1: 'listen_owner' must be a single name" },
	{ UT_S("hostname = mx example\n"), ":1: 'hostname' must be a single name" },
	/* hostname has no "unset": it names this host in replies and
	 * Maildir file names. */
	{ UT_S("hostname =\n"), ":1: 'hostname' must not be empty" },
	/* It goes into replies, Received fields and Maildir file names. */
#define HOSTNAME_WHY ":1: 'hostname' must be a host name (labels of letters, digits, '_' " \
	"and inner '-' joined by single dots, at most 63 bytes a label and 255 in all, " \
	"not all digits)"
	{ UT_S("hostname = a\rb\x01" "c\n"), ":1: 'hostname' has a control character" },
	{ UT_S("user = a\x7f\n"), ":1: 'user' has a control character" },
	{ UT_S("hostname = mx:2\n"), HOSTNAME_WHY },
	{ UT_S("hostname = mx..example\n"), HOSTNAME_WHY },
	{ UT_S("hostname = .mx\n"), HOSTNAME_WHY },
	{ UT_S("hostname = m\xc3\xa9\n"), HOSTNAME_WHY },
	/* What Postfix's valid_hostname refuses besides. */
	{ UT_S("hostname = -mx.example\n"), HOSTNAME_WHY },
	{ UT_S("hostname = mx-.example\n"), HOSTNAME_WHY },
	{ UT_S("hostname = mx.-example\n"), HOSTNAME_WHY },
	{ UT_S("hostname = mx.example-\n"), HOSTNAME_WHY },
	{ UT_S("hostname = mx.\n"), HOSTNAME_WHY },
	{ UT_S("hostname = 123.456\n"), HOSTNAME_WHY },
	{ UT_S("hostname = 192.0.2.1\n"), HOSTNAME_WHY },
	{ UT_S("hostname = a234567890123456789012345678901234567890123456789012345678901234"
	       ".example\n"), HOSTNAME_WHY },
	{ UT_S("recipient_delimiter = +\xc3\xa9\n"),
	  ":1: 'recipient_delimiter' must be ASCII characters" },
	/* Checks against the system still name the line. */
	{ UT_S("workers = 2\nuser = lmtpd-no-such-user\n"),
	  ":2: 'user': no such user 'lmtpd-no-such-user'" },
	{ UT_S("group = lmtpd-no-such-group\n"),
	  ":1: 'group': no such group 'lmtpd-no-such-group'" },
	{ UT_S("\nlisten_owner = lmtpd-no-such-user\n"),
	  ":2: 'listen_owner': no such user 'lmtpd-no-such-user'" },
	{ UT_S("state_dir =\n"), ":1: 'state_dir' must be set" },
	{ UT_S("workers = 2\n\0workers = 3\n"), ": NUL byte in file" },
	{ UT_S("spam_report = maybe\n"), ":1: 'spam_report' must be yes or no (or 1 or 0)" },
	{ UT_S("spam_report =\n"), ":1: 'spam_report' must be yes or no (or 1 or 0)" },
	{ UT_S("spam_report = Yes\n"), ":1: 'spam_report' must be yes or no (or 1 or 0)" },
	{ UT_S("rules_dir = /usr/share/spamassassin, rules\n"),
	  ":1: 'rules_dir' entry 'rules' must be an absolute path" },
	{ UT_S("spam_prefs = %h/%x\n"), ":1: 'spam_prefs': unknown % escape" },
	{ UT_S("spam_prefs = prefs\n"),
	  ":1: 'spam_prefs': must be an absolute path or start with %h" },
};

START_TEST(cfg_errors)
{
	assert_load_error(error_cases[_i].text, error_cases[_i].len,
			  error_cases[_i].want);
}
END_TEST

START_TEST(cfg_missing_file)
{
	char path[PATH_MAX], want[PATH_MAX + 64], *error = NULL;

	ut_pathf(path, sizeof(path), "%s/none.conf", ut_testdir());
	ck_assert_ptr_null(cfg_load(path, &error));
	ut_pathf(want, sizeof(want), "%s: cannot open: %s", path, strerror(ENOENT));
	ck_assert_str_eq(error, want);
	free(error);
}
END_TEST

/* Lines of CFG_LINE_MAX - 1, CFG_LINE_MAX and CFG_LINE_MAX + 1 bytes
 * (without the newline). */
START_TEST(cfg_line_limit)
{
	static const char head[] = "recipient_delimiter = ";
	size_t len = CFG_LINE_MAX - 1 + (size_t)_i;
	char *text = malloc(len + 32);

	ck_assert_ptr_nonnull(text);
	memcpy(text, "workers = 2\n", 12);
	memcpy(text + 12, head, sizeof(head) - 1);
	memset(text + 12 + sizeof(head) - 1, 'x', len - (sizeof(head) - 1));
	memcpy(text + 12 + len, "\n", 2);
	if (len <= CFG_LINE_MAX) {
		struct lmtpd_config *cfg = load_ok(text);

		ck_assert_uint_eq(strlen(cfg->recipient_delimiter),
				  len - (sizeof(head) - 1));
		cfg_free(&cfg);
	} else {
		assert_load_error(text, strlen(text), ":2: line too long");
	}
	free(text);
}
END_TEST

START_TEST(cfg_continuation_and_comments)
{
	struct lmtpd_config *cfg = load_ok(
		"# comment\n"
		"\n"
		"allow_from = 10.0.0.0/8,\n"
		"  192.168.0.0/16\n"
		"\t::1\n"
		"   # an indented comment is a comment, not a continuation\n"
		"workers = 3\r\n"
		"home =   /srv/%d/%n   \n"
		"\n");
	FILE *f;
	char *out = NULL;
	size_t out_len = 0;

	ck_assert_uint_eq(cfg->allow_from_count, 3);
	ck_assert_int_eq(cfg->allow_from[2].family, AF_INET6);
	ck_assert_uint_eq(cfg->workers, 3);
	ck_assert_str_eq(cfg->home, "/srv/%d/%n");
	f = open_memstream(&out, &out_len);
	ck_assert_ptr_nonnull(f);
	cfg_print(cfg, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_nonnull(strstr(out, "\nallow_from = 10.0.0.0/8, 192.168.0.0/16 ::1\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nworkers = 3\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nhome = /srv/%d/%n\n"));
	free(out);
	cfg_free(&cfg);
}
END_TEST

static char *
print_to_string(const struct lmtpd_config *cfg)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(f);
	cfg_print(cfg, f);
	ck_assert_int_eq(fclose(f), 0);
	return out;
}

/* Every line of out is "key = value" with a key seen once; every line of
 * want is a whole line of out, in the same order.  (Keys added later by
 * other features may sit anywhere between them.) */
static void
assert_printed(const char *out, const char *want)
{
	const char *p, *from = out;
	char keys[64][64];
	size_t nkeys = 0;

	for (p = out; *p != '\0'; p = strchr(p, '\n') + 1) {
		size_t klen = strspn(p, "abcdefghijklmnopqrstuvwxyz_");

		ck_assert_msg(klen > 0 && strncmp(p + klen, " = ", 3) == 0 &&
			      strchr(p, '\n') != NULL, "bad line: %.60s", p);
		ck_assert_uint_lt(klen, sizeof(keys[0]));
		for (size_t i = 0; i < nkeys; i++)
			ck_assert_msg(strlen(keys[i]) != klen ||
				      strncmp(keys[i], p, klen) != 0,
				      "key printed twice: %.*s", (int)klen, p);
		ck_assert_uint_lt(nkeys, N_ELEMENTS(keys));
		snprintf(keys[nkeys++], sizeof(keys[0]), "%.*s", (int)klen, p);
	}
	for (p = want; *p != '\0'; p = strchr(p, '\n') + 1) {
		size_t len = (size_t)(strchr(p, '\n') - p) + 1;
		const char *hit = from;

		/* A whole line: at the start or after a newline. */
		for (;;) {
			hit = memmem(hit, strlen(hit), p, len);
			if (hit == NULL || hit == out || hit[-1] == '\n')
				break;
			hit++;
		}
		ck_assert_msg(hit != NULL, "line \"%.*s\" missing or out of order",
			      (int)len - 1, p);
		from = hit + len;
	}
}

START_TEST(cfg_print_all)
{
	struct lmtpd_config *cfg = load_ok(all_keys_conf), *again;
	char *out = print_to_string(cfg), *out2, *error = NULL;
	const char *want =
		"listen = 127.0.0.1:2525, [::1]:2526,unix:/tmp/lmtpd.sock\n"
		"listen_mode = 0600\n"
		"listen_owner = root\n"
		"allow_from = 10.0.0.0/8 192.168.0.0/16,::1\n"
		"user = root\n"
		"group = root\n"
		"workers = 8\n"
		"max_use = 5\n"
		"pid_file = /run/lmtpd.pid\n"
		"hostname = mx.example.org\n"
		"state_dir = /var/lib/lmtpd-test\n"
		"users = /etc/lmtpd/users\n"
		"recipient_delimiter = +-\n"
		"home = /srv/mail/%d/%n\n"
		"mail_location = %h/Mail\n"
		"max_message_size = 10K\n"
		"max_recipients = 50\n"
		"max_errors = 3\n"
		"idle_timeout = 2m\n"
		"min_data_rate = 0\n";
	char path[PATH_MAX];

	/* The values as written (trimmed), in documentation order. */
	assert_printed(out, want);
	ck_assert_uint_eq(strncmp(out, "listen = ", 9), 0);
	/* What -n prints loads back to the same configuration. */
	ut_pathf(path, sizeof(path), "%s/printed.conf", ut_testdir());
	ut_write_text(path, out);
	again = cfg_load(path, &error);
	ck_assert_msg(again != NULL, "%s", error);
	out2 = print_to_string(again);
	ck_assert_str_eq(out2, out);
	free(out);
	free(out2);
	cfg_free(&cfg);
	cfg_free(&again);
}
END_TEST

START_TEST(cfg_print_defaults)
{
	char *error = NULL, *out, host[256], want[4096];
	struct lmtpd_config *cfg = cfg_load(NULL, &error), *again;
	char path[PATH_MAX];

	ck_assert_ptr_nonnull(cfg);
	out = print_to_string(cfg);
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	snprintf(want, sizeof(want),
		 "listen = 127.0.0.1:2424\n"
		 "listen_mode = 0660\n"
		 "listen_owner = \n"
		 "allow_from = 127.0.0.0/8, ::1\n"
		 "user = \n"
		 "group = \n"
		 "workers = 4\n"
		 "max_use = 1000\n"
		 "pid_file = \n"
		 "hostname = %s\n"
		 "state_dir = " LOCALSTATEDIR "/lib/lmtpd\n"
		 "users = static\n"
		 "recipient_delimiter = +\n"
		 "home = " LOCALSTATEDIR "/mail/%%d/%%n\n"
		 "mail_location = %%h/Maildir\n"
		 "max_message_size = 50M\n"
		 "max_recipients = 1000\n"
		 "max_errors = 20\n"
		 "idle_timeout = 300s\n"
		 "min_data_rate = 500\n"
		 "rules_dir = /usr/share/spamassassin, " SYSCONFDIR "/lmtpd/rules\n"
		 "spam_prefs = %%h/.spamassassin/user_prefs\n"
		 "spam_report = no\n"
		 "db_stall_timeout = 30s\n"
		 "bayes_per_user = no\n"
		 "sieve_script = %%h/.dovecot.sieve\n"
		 "sieve_before = \n"
		 "sieve_after = \n"
		 "folder_separator = .\n"
		 "submission = smtp:127.0.0.1:25\n"
		 "submission_timeout = 30s\n"
		 "sieve_max_script_size = 1M\n"
		 "sieve_max_actions = 32\n"
		 "sieve_max_redirects = 4\n"
		 "sieve_max_cpu_time = 30s\n"
		 "sieve_max_memory = 512M\n"
		 "sieve_vacation_max_days = 60\n", host);
	assert_printed(out, want);
	ck_assert_uint_eq(strncmp(out, "listen = ", 9), 0);
	/* And it loads back. */
	ut_pathf(path, sizeof(path), "%s/defaults.conf", ut_testdir());
	ut_write_text(path, out);
	again = cfg_load(path, &error);
	ck_assert_msg(again != NULL, "%s", error);
	cfg_free(&again);
	free(out);
	cfg_free(&cfg);
}
END_TEST

/* ---- cfg_expand ---- */

static const struct {
	const char *tmpl;
	size_t out_size;
	int ret;
	const char *want;
} expand_cases[] = {
	{ "%h/Maildir", 64, 0, "/home/alice/Maildir" },
	{ "/srv/%d/%n", 64, 0, "/srv/example.com/alice" },
	{ "/srv/%u", 64, 0, "/srv/alice@example.com" },
	{ "/100%%/%n", 64, 0, "/100%/alice" },
	{ "", 64, 0, "" },
	{ "/x/", 64, 0, "/x/" },
	{ "/a%", 64, 0, "/a%" },	/* a trailing % is kept */
	/* The result must fit with its NUL: 12 bytes need 13. */
	{ "/srv/%n/x", 14, 0, "/srv/alice/x" },
	{ "/srv/%n/x", 13, 0, "/srv/alice/x" },
	{ "/srv/%n/x", 12, -1, NULL },
	{ "/srv/%n/x", 1, -1, NULL },
	{ "%d%d%d", 35, 0, "example.comexample.comexample.com" },
	{ "%d%d%d", 34, 0, "example.comexample.comexample.com" },
	{ "%d%d%d", 33, -1, NULL },
	{ "", 1, 0, "" },
	{ "", 0, -1, NULL },
};

START_TEST(cfg_expand_table)
{
	struct cfg_template_vars vars = { "alice@example.com", "alice", "example.com",
					  "/home/alice" };
	char out[80];
	int ret;

	memset(out, '#', sizeof(out));
	ret = cfg_expand(expand_cases[_i].tmpl, &vars, out, expand_cases[_i].out_size);
	ck_assert_msg(ret == expand_cases[_i].ret, "'%s' in %zu: ret %d",
		      expand_cases[_i].tmpl, expand_cases[_i].out_size, ret);
	if (ret == 0)
		ck_assert_str_eq(out, expand_cases[_i].want);
	/* Never a byte past out_size. */
	ck_assert_int_eq(out[expand_cases[_i].out_size], '#');
}
END_TEST

START_TEST(cfg_expand_missing_var)
{
	struct cfg_template_vars vars = { "a@b", "a", "b", NULL };
	char out[32];

	/* No home yet (expanding home itself): %h is empty. */
	ck_assert_int_eq(cfg_expand("%h/x", &vars, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/x");
}
END_TEST

/* An IPv6 listener takes only IPv6 (so that an IPv4 entry can share its
 * port) and is named with brackets. */
START_TEST(cfg_listen_ipv6_only)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t len = sizeof(sin6);
	int probe = socket(AF_INET6, SOCK_STREAM, 0), on = 0;
	struct lmtpd_config *cfg;
	struct listener *ls;
	char text[64], name[32];
	size_t count;

	/* A free port, from a socket on the IPv6 loopback (skip without). */
	if (probe < 0 || bind(probe, (struct sockaddr *)&sin6, sizeof(sin6)) < 0 ||
	    getsockname(probe, (struct sockaddr *)&sin6, &len) < 0) {
		if (probe >= 0)
			(void)close(probe);
		return;
	}
	(void)close(probe);
	snprintf(text, sizeof(text), "listen = [::1]:%u\n", ntohs(sin6.sin6_port));
	snprintf(name, sizeof(name), "[::1]:%u", ntohs(sin6.sin6_port));
	cfg = load_ok(text);
	ls = listener_open_all(cfg, NULL, 0, (uid_t)-1, (gid_t)-1, &count);
	ck_assert_ptr_nonnull(ls);
	ck_assert_uint_eq(count, 1);
	ck_assert_str_eq(ls[0].name, name);
	len = sizeof(on);
	ck_assert_int_eq(getsockopt(ls[0].fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, &len), 0);
	ck_assert_int_eq(on, 1);
	listener_close_all(ls, count, NULL, 0, true);
	free(ls);
	cfg_free(&cfg);
}
END_TEST

static Suite *
cfg_suite(void)
{
	Suite *s = suite_create("cfg");
	TCase *tc;

	tc = ut_tcase(s, "load", true);
	tcase_add_test(tc, cfg_defaults);
	tcase_add_test(tc, cfg_hostname_default);
	tcase_add_test(tc, cfg_all_keys);
	tcase_add_test(tc, cfg_empty_values);
	tcase_add_loop_test(tc, cfg_scoring_keys, 0, N_ELEMENTS(scoring_cases));
	tcase_add_loop_test(tc, cfg_numbers, 0, N_ELEMENTS(number_cases));
	tcase_add_test(tc, cfg_continuation_and_comments);
	tcase_add_test(tc, cfg_listen_ipv6_only);
	tc = ut_tcase(s, "errors", true);
	tcase_add_loop_test(tc, cfg_errors, 0, N_ELEMENTS(error_cases));
	tcase_add_test(tc, cfg_missing_file);
	tcase_add_loop_test(tc, cfg_line_limit, 0, 3);
	tc = ut_tcase(s, "print", true);
	tcase_add_test(tc, cfg_print_all);
	tcase_add_test(tc, cfg_print_defaults);
	tc = ut_tcase(s, "expand", false);
	tcase_add_loop_test(tc, cfg_expand_table, 0, N_ELEMENTS(expand_cases));
	tcase_add_test(tc, cfg_expand_missing_var);
	return s;
}

int
main(void)
{
	return ut_run(cfg_suite);
}
