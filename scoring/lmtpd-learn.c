/* lmtpd-learn: trains lmtpd's Bayes classifier, like sa-learn.
 *
 *   lmtpd-learn [-c CONF] [--rules DIR[,DIR]] [-u USER] --spam|--ham|--forget PATH...
 *       learns (or forgets) every message of the files, mbox files, folders and
 *       Maildirs; a message learned before with the same class is skipped,
 *       one learned the other way is moved
 *   lmtpd-learn [-c CONF] [-u USER] --dump [--tokens]
 *       the counts (nspam, nham, ntokens, ...); --tokens adds one line per
 *       token: probability, spam count, ham count, last learned, token
 *   lmtpd-learn [-c CONF] [-u USER] --expire
 *       expires tokens now when the database is over bayes_expiry_max_db_size,
 *       and seen messages older than bayes_seen_ttl
 *
 * The database is the one the daemon uses: state_dir of the config, the
 * site-wide one, or USER's with bayes_per_user = yes; run as root, it
 * becomes the config's `user` first.  Each message is one
 * durable transaction, so the daemon may deliver meanwhile and a crash
 * loses at most the message being learned.  Stuck inside Berkeley DB for
 * db_stall_timeout (a process died holding the environment), it asks for
 * recovery and starts itself over (what it learned is skipped the second
 * time).  Exits 0, 1 when a message could not be read or learned, 2 on
 * usage or configuration errors. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bayes.h"
#include "become.h"
#include "cfg.h"
#include "dbenv.h"
#include "log.h"
#include "msgsource.h"
#include "rcpt.h"
#include "scoring.h"
#include "xalloc.h"

enum learn_mode { MODE_NONE, MODE_SPAM, MODE_HAM, MODE_FORGET, MODE_DUMP, MODE_EXPIRE };

struct learn {
	const struct scoring *sc;
	struct bayes *bayes;
	const char *user;
	enum bayes_class cls;
	unsigned int examined, learned;
	bool verbose;
};

/* Runs started over by the watchdog, at most; then it gives up. */
#define LEARN_MAX_RESTARTS 3
/* How long a start waits for a pending recovery of the environment. */
#define LEARN_ATTACH_WAIT_SECS 120
#define LEARN_RESTARTS_VAR "LMTPD_LEARN_RESTARTS"

/* What the SIGALRM watchdog needs, prepared beforehand: a signal handler
 * may only make async-signal-safe calls. */
static struct {
	int64_t stall_ms;
	char *marker;
	char **argv;
	char **envp;		/* with LMTPD_LEARN_RESTARTS one higher */
	bool may_restart;
} learn_watch;

static void
learn_say(const char *text)
{
	if (write(STDERR_FILENO, text, strlen(text)) < 0)
		return;
}

static void
learn_on_alarm(int sig)
{
	int saved = errno;
	int fd;

	(void)sig;
	if (db_env_busy_ms() <= learn_watch.stall_ms) {
		(void)alarm(1);
		errno = saved;
		return;
	}
	fd = open(learn_watch.marker, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0)
		(void)close(fd);
	learn_say("lmtpd-learn: stuck inside Berkeley DB for longer than db_stall_timeout "
		  "(a process died holding the environment?); recovery requested\n");
	if (learn_watch.may_restart) {
		learn_say("lmtpd-learn: starting over once it is recovered "
			  "(what was learned already is skipped)\n");
		(void)execve("/proc/self/exe", learn_watch.argv, learn_watch.envp);
		learn_say("lmtpd-learn: starting over failed\n");
	}
	_exit(1);
}

/* The watchdog (see the top of the file). */
static void
learn_watchdog(const struct lmtpd_config *cfg, int argc, char **argv)
{
	extern char **environ;
	const char *prev = getenv(LEARN_RESTARTS_VAR);
	unsigned long restarts = prev != NULL ? strtoul(prev, NULL, 10) : 0;
	struct sigaction sa;
	sigset_t alrm;
	size_t n = 0, k = 0;

	learn_watch.stall_ms = (int64_t)cfg->db_stall_timeout * 1000;
	learn_watch.marker = db_env_marker_path(cfg->state_dir);
	learn_watch.may_restart = restarts < LEARN_MAX_RESTARTS;
	learn_watch.argv = xcalloc((size_t)argc + 1, sizeof(char *));
	for (int i = 0; i < argc; i++)
		learn_watch.argv[i] = argv[i];
	while (environ[n] != NULL)
		n++;
	learn_watch.envp = xcalloc(n + 2, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], LEARN_RESTARTS_VAR "=",
			    sizeof(LEARN_RESTARTS_VAR)) != 0)
			learn_watch.envp[k++] = environ[i];
	learn_watch.envp[k] = xasprintf("%s=%lu", LEARN_RESTARTS_VAR, restarts + 1);
	if (restarts > 0)
		fprintf(stderr, "lmtpd-learn: started over (%lu)\n", restarts);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = learn_on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGALRM, &sa, NULL);
	/* A start from the handler inherits its blocked SIGALRM. */
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	(void)sigprocmask(SIG_UNBLOCK, &alrm, NULL);
	(void)alarm(1);
}

/* status 0 (-h, --help): the usage on stdout, as asked for; else on
 * stderr for a usage error. */
static void
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
		"usage: lmtpd-learn [-c CONF] [--rules DIR[,DIR]] [-u USER] [-v]\n"
		"                   --spam|--ham|--forget PATH...\n"
		"       lmtpd-learn [-c CONF] [-u USER] --dump [--tokens]\n"
		"       lmtpd-learn [-c CONF] [-u USER] --expire\n");
	exit(status);
}

static void
learn_error(const char *path, const char *why)
{
	fprintf(stderr, "lmtpd-learn: %s: %s\n", path, why);
}

static int
learn_one(const char *name, const char *data, size_t len, void *ctx)
{
	struct learn *l = ctx;
	struct bayes_tokens toks;
	enum bayes_learn_result r;
	int ret;

	l->examined++;
	scoring_tokenize(l->sc, data, len, &toks);
	ret = bayes_learn(l->bayes, l->user, &toks, l->cls, BAYES_LEARN_DURABLE, &r);
	/* Once more: the environment may have gone to recovery under us
	 * (after a process died in it), and opening it again waits for that
	 * recovery (LEARN_ATTACH_WAIT_SECS).  A message half learned was
	 * rolled back, and one learned already is known as such. */
	if (ret < 0)
		ret = bayes_learn(l->bayes, l->user, &toks, l->cls, BAYES_LEARN_DURABLE, &r);
	bayes_tokens_free(&toks);
	if (ret < 0) {
		learn_error(name, "learning failed (see the warning above)");
		return -1;
	}
	if (r == BAYES_LEARNED)
		l->learned++;
	if (l->verbose)
		printf("%s\t%s\n", name, r == BAYES_LEARNED ? "learned" :
		       r == BAYES_ALREADY ? "already learned" : "not learned before");
	return 0;
}

struct dump_ctx {
	const struct bayes_settings *s;
	const struct bayes_totals *tot;
};

static int
dump_token(const char *tok, size_t len, const struct bayes_counts *c, void *vctx)
{
	struct dump_ctx *d = vctx;
	double p = 0.5;

	if (!bayes_token_prob_sx(c->spam, c->ham, d->tot->nspam, d->tot->nham, true,
				 d->s->robinson_s, d->s->robinson_x, &p))
		p = 0.5;
	printf("%.3f %10u %10u %10u  %.*s\n", p, c->spam, c->ham, c->atime, (int)len, tok);
	return 0;
}

static int
learn_dump(struct bayes *b, const struct bayes_settings *s, const char *user, bool tokens)
{
	struct bayes_totals t;
	static const char fmt[] = "%3.3f %10u %10u %10u  non-token data: %s\n";

	if (bayes_totals(b, user, &t) < 0)
		return 1;
	printf(fmt, 0.0, 0, 3, 0, "bayes db version");
	printf(fmt, 0.0, 0, t.nspam, 0, "nspam");
	printf(fmt, 0.0, 0, t.nham, 0, "nham");
	printf(fmt, 0.0, 0, t.ntokens, 0, "ntokens");
	printf(fmt, 0.0, 0, t.oldest_atime, 0, "oldest atime");
	printf(fmt, 0.0, 0, t.newest_atime, 0, "newest atime");
	printf(fmt, 0.0, 0, t.last_expire, 0, "last expiry atime");
	if (tokens) {
		struct dump_ctx d = { s, &t };
		struct bayes_store *st = bayes_store_for(b, user);

		if (st == NULL || bayes_store_walk(st, dump_token, &d) < 0)
			return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rules", required_argument, NULL, 'R' },
		{ "spam", no_argument, NULL, 'S' },
		{ "ham", no_argument, NULL, 'H' },
		{ "forget", no_argument, NULL, 'F' },
		{ "dump", no_argument, NULL, 'D' },
		{ "tokens", no_argument, NULL, 'T' },
		{ "expire", no_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *rules = NULL;
	enum learn_mode mode = MODE_NONE;
	struct learn l;
	struct lmtpd_config *cfg;
	struct scoring *sc;
	const struct bayes_settings *settings;
	char *error = NULL;
	bool tokens = false;
	char **argv_given, *user_key = NULL;
	int c, status = 0;

	memset(&l, 0, sizeof(l));
	/* getopt_long permutes argv: keep it as given, for a start over */
	argv_given = xcalloc((size_t)argc + 1, sizeof(char *));
	memcpy(argv_given, argv, (size_t)argc * sizeof(char *));
	log_open("lmtpd-learn", true);
	log_set_quiet(true);
	while ((c = getopt_long(argc, argv, "c:u:vh", longopts, NULL)) != -1) {
		enum learn_mode m = MODE_NONE;

		switch (c) {
		case 'c': config = optarg; break;
		case 'R': rules = optarg; break;
		case 'u': l.user = optarg; break;
		case 'v': l.verbose = true; break;
		case 'T': tokens = true; break;
		case 'S': m = MODE_SPAM; break;
		case 'H': m = MODE_HAM; break;
		case 'F': m = MODE_FORGET; break;
		case 'D': m = MODE_DUMP; break;
		case 'E': m = MODE_EXPIRE; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
		if (m != MODE_NONE) {
			if (mode != MODE_NONE)
				usage(2);
			mode = m;
		}
	}
	if (mode == MODE_NONE || (tokens && mode != MODE_DUMP))
		usage(2);
	if ((mode == MODE_SPAM || mode == MODE_HAM || mode == MODE_FORGET) == (optind == argc))
		usage(2);
	cfg = cfg_load(config, &error);
	if (cfg == NULL) {
		fprintf(stderr, "lmtpd-learn: %s\n", error);
		free(error);
		return 2;
	}
	if (become_config_user(cfg, &error) < 0) {
		fprintf(stderr, "lmtpd-learn: %s\n", error);
		free(error);
		cfg_free(&cfg);
		free(user_key);
		return 2;
	}
	if (l.user != NULL && cfg->bayes_per_user) {
		/* The user as the daemon resolves the recipient at RCPT
		 * (case folded, +detail off), so a per-user database is the
		 * one its deliveries read and autolearn into; after the
		 * switch to the daemon's user, which reads the users map. */
		struct rcpt_resolver *res = rcpt_resolver_new(cfg);
		struct dsn dsn;
		struct rcpt *r = rcpt_resolve(res, l.user, NULL, &dsn);

		rcpt_resolver_free(&res);
		if (r == NULL) {
			fprintf(stderr, "lmtpd-learn: -u %s: %s\n", l.user, dsn.text);
			cfg_free(&cfg);
			return 2;
		}
		l.user = user_key = xstrdup(r->user);
		rcpt_free(&r);
	}
	learn_watchdog(cfg, argc, argv_given);
	db_env_set_attach_wait(LEARN_ATTACH_WAIT_SECS);
	sc = scoring_new(cfg, rules, NULL);
	if (sc == NULL || scoring_bayes(sc) == NULL) {
		fprintf(stderr, "lmtpd-learn: %s\n", sc == NULL ?
			"no rules_dir: Bayes needs the rule files' settings" :
			"use_bayes is 0 in the rule files");
		scoring_free(&sc);
		cfg_free(&cfg);
		free(user_key);
		return 2;
	}
	if (l.user != NULL && !cfg->bayes_per_user)
		fprintf(stderr, "lmtpd-learn: bayes_per_user is no: "
			"using the site-wide database\n");
	l.sc = sc;
	l.bayes = scoring_bayes(sc);
	settings = scoring_bayes_settings(sc);
	switch (mode) {
	case MODE_DUMP:
		status = learn_dump(l.bayes, settings, l.user, tokens);
		break;
	case MODE_EXPIRE: {
		struct bayes_store *st = bayes_store_for(l.bayes, l.user);
		long n = st != NULL ? bayes_store_expire(st, settings->expiry_max_db_size) : -1;
		long seen = n >= 0 ? bayes_store_purge_seen(st, time(NULL), SIZE_MAX) : -1;

		if (n < 0 || seen < 0)
			status = 1;
		if (n >= 0)
			printf("expired %ld tokens\n", n);
		if (seen >= 0)
			printf("forgot %ld seen message(s) older than bayes_seen_ttl\n", seen);
		break;
	}
	default:
		l.cls = mode == MODE_SPAM ? BAYES_SPAM : mode == MODE_HAM ? BAYES_HAM
									    : BAYES_FORGET;
		for (int i = optind; i < argc; i++)
			if (msgsource_walk(argv[i], learn_one, &l, learn_error) < 0)
				status = 1;
		printf("%s tokens from %u message(s) (%u message(s) examined)\n",
		       mode == MODE_FORGET ? "Forgot" : "Learned", l.learned, l.examined);
		if (fflush(stdout) != 0)
			status = 1;
		break;
	}
	scoring_free(&sc);
	cfg_free(&cfg);
	free(argv_given);
	free(user_key);
	return status;
}
