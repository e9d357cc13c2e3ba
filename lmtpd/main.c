/* lmtpd: command line.  -c FILE config (none: built-in defaults), -f stay in
 * the foreground and log to stderr, -n print the effective config, -t check
 * the config and exit, -v debug logging. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "become.h"
#include "cfg.h"
#include "log.h"
#include "master.h"
#include "sieve_run.h"

/* status 0 (-h, --help): the usage on stdout, as asked for; else on
 * stderr for a usage error. */
static void
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr, "usage: lmtpd [-c FILE] [-f] [-n] [-t] [-v]\n"
		"  -c FILE  configuration file (default: built-in defaults)\n"
		"  -f       stay in the foreground, log to stderr\n"
		"  -n       print the effective configuration and exit\n"
		"  -t       check the configuration and exit\n"
		"  -v       log debug lines\n");
	exit(status);
}

/* Validates sieve_before and sieve_after (a file or a folder's *.sieve);
 * errors go to stderr as "FILE: line N: error: ...". */
static int
check_sieve(const struct lmtpd_config *cfg)
{
	struct sieve_settings set = { NULL, NULL, cfg->sieve_max_script_size, 1, 1, 1, 1,
				      false, false, 0 };
	struct sieve_runner *runner = sieve_runner_new(&set);
	const char *paths[2] = { cfg->sieve_before, cfg->sieve_after };
	int status = 0;

	for (size_t i = 0; i < 2; i++) {
		struct stat st;
		DIR *d;
		struct dirent *de;

		if (paths[i][0] == '\0')
			continue;
		if (stat(paths[i], &st) < 0) {
			fprintf(stderr, "lmtpd: %s: %s\n", paths[i], strerror(errno));
			status = 1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (sieve_validate_file(runner, paths[i], stderr) != 0)
				status = 1;
			continue;
		}
		if ((d = opendir(paths[i])) == NULL) {
			fprintf(stderr, "lmtpd: %s: %s\n", paths[i], strerror(errno));
			status = 1;
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			size_t len = strlen(de->d_name);
			char path[4096];

			if (de->d_name[0] == '.' || len < 7 ||
			    strcmp(de->d_name + len - 6, ".sieve") != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", paths[i], de->d_name);
			if (sieve_validate_file(runner, path, stderr) != 0)
				status = 1;
		}
		closedir(d);
	}
	sieve_runner_free(&runner);
	return status;
}

/* SIGHUP rereads the file after the switch to `user`: -t, typically run
 * as root by a unit's ExecReload, says when that reload would fail.  A
 * child takes on the user and tries to open the file. */
/* Whether user (as the daemon runs) may access path for mode (R_OK,
 * X_OK): 1 yes, 0 no, -1 not known (not root, no user, or no child). */
static int
check_access_as_user(const struct lmtpd_config *cfg, const char *path, int mode)
{
	pid_t pid;
	int status;

	if (geteuid() != 0 || cfg->user == NULL || cfg->user[0] == '\0')
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char *error;

		if (become_config_user(cfg, &error) < 0)
			_exit(2);
		_exit(access(path, mode) < 0 ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) > 1)
		return -1;
	return WEXITSTATUS(status) == 0 ? 1 : 0;
}

static void
check_config_readable(const struct lmtpd_config *cfg, const char *path)
{
	if (path != NULL && check_access_as_user(cfg, path, R_OK) == 0)
		fprintf(stderr, "lmtpd: warning: user %s cannot read %s: a reload "
			"(SIGHUP) will fail; make it readable to %s or restart "
			"instead of reloading\n", cfg->user, path, cfg->user);
}

/* -t checks what the daemon would trip over at its first delivery. */
static int
check_config(const struct lmtpd_config *cfg)
{
	int status = 0;

	{
		/* What the start would refuse: a user or group lmtpd can
		 * not become. */
		uid_t uid;
		gid_t gid;
		char *error = NULL;

		if (become_resolve(cfg, &uid, &gid, &error) < 0 ||
		    become_possible(cfg->user, uid, gid, &error) < 0) {
			fprintf(stderr, "lmtpd: %s\n", error);
			free(error);
			status = 1;
		}
	}
	if (strcmp(cfg->users, "static") != 0) {
		char db[4096];
		struct stat st;

		snprintf(db, sizeof(db), "%s.db", cfg->users);
		if (stat(db, &st) < 0) {
			fprintf(stderr, "lmtpd: users map %s is not compiled: run "
				"lmtpd-map %s\n", db, cfg->users);
			status = 1;
		}
	}
	/* The administrator's Sieve scripts run for every recipient: a
	 * broken one would keep every message in INBOX. */
	if (cfg->sieve_before[0] != '\0' || cfg->sieve_after[0] != '\0')
		status |= check_sieve(cfg);
	/* The interpreter holds the message two to three times over. */
	if (cfg->sieve_max_memory != 0 && cfg->max_message_size != 0 &&
	    cfg->sieve_max_memory / 3 < cfg->max_message_size)
		fprintf(stderr, "lmtpd: warning: sieve_max_memory is less than three times "
			"max_message_size: Sieve may run out of memory on the largest "
			"messages (kept in INBOX)\n");
	/* A warning, as the daemon only logs it: a reload checked with -t
	 * must not be refused for it. */
	if (!sieve_strconcat_mended())
		fprintf(stderr, "lmtpd: warning: libsieve calls its own "
			"libsieve_strconcat, not lmtpd's: its one-byte heap overflow "
			"(libsieve 2.2.6) is not mended; was libsieve rebuilt with "
			"-Bsymbolic?\n");
	/* A sendmail program that is not there fails only at the first
	 * redirect (a 451 for that recipient) or success report. */
	if (cfg->submission[0] == '/') {
		struct stat st;

		if (stat(cfg->submission, &st) < 0) {
			fprintf(stderr, "lmtpd: submission %s: %s\n", cfg->submission,
				strerror(errno));
			status = 1;
		} else if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
			fprintf(stderr, "lmtpd: submission %s: not an executable file\n",
				cfg->submission);
			status = 1;
		} else if (check_access_as_user(cfg, cfg->submission, X_OK) == 0) {
			fprintf(stderr, "lmtpd: submission %s: user %s may not run it\n",
				cfg->submission, cfg->user);
			status = 1;
		}
	}
	return status;
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	bool foreground = false, print = false, test = false, verbose = false;
	struct lmtpd_config *cfg;
	char *error, *absolute = NULL;
	int c, status;

	/* (getopt knows short options only) */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0)
			usage(0);
	while ((c = getopt(argc, argv, "c:fntvh")) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'f': foreground = true; break;
		case 'n': print = true; break;
		case 't': test = true; break;
		case 'v': verbose = true; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	log_open("lmtpd", foreground || print || test);
	log_set_verbose(verbose);
	/* A daemon changes to "/": SIGHUP must still find the file. */
	if (path != NULL && path[0] != '/' && !print && !test) {
		absolute = realpath(path, NULL);
		if (absolute == NULL) {
			fprintf(stderr, "lmtpd: %s: %s\n", path, strerror(errno));
			return 1;
		}
		path = absolute;
	}
	cfg = cfg_load(path, &error);
	if (cfg == NULL) {
		fprintf(stderr, "lmtpd: %s\n", error);
		free(error);
		return 1;
	}
	if (print) {
		cfg_print(cfg, stdout);
		cfg_free(&cfg);
		return 0;
	}
	if (test) {
		check_config_readable(cfg, path);
		status = check_config(cfg);
		if (status == 0)
			printf("lmtpd: configuration %s is valid\n",
			       path != NULL ? path : "(built-in defaults)");
		cfg_free(&cfg);
		return status;
	}
	status = master_run(cfg, path, foreground);
	free(absolute);
	return status;
}
