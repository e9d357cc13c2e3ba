/* lmtpd-score: SpamAssassin-syntax scoring from the command line.
 *
 *   lmtpd-score [-c CONF] [--rules DIR[,DIR]] [-u USER | -p PREFS] [-r] [-e] < MSG
 *       writes MSG with the X-Spam-* headers added (inbound ones removed);
 *       -r prints a report of the rules that hit instead; -e exits 1 for spam
 *   lmtpd-score [...] [-j N] PATH...
 *       scores files, Maildirs (cur/ and new/) and mbox files, one line per
 *       message: PATH<TAB>SCORE<TAB>REQUIRED<TAB>TESTS (FILE:N for the N-th
 *       message of an mbox holding several); the rules are compiled once
 *   lmtpd-score [...] --lint
 *       lists every rule file problem and every skipped rule with file:line
 *   lmtpd-score [...] --hits PATH...
 *       one line per message with every non-meta rule that hit (sub-rules
 *       included), for comparing the engine with SpamAssassin
 *   lmtpd-score [...] --list-rules
 *       NAME<TAB>KIND<TAB>WHY-NOT-RUN for every defined rule
 *
 * Exits 2 on usage or configuration errors, 1 if any message could not be
 * read (file mode) or, with -e, if the message is spam. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bayes.h"
#include "become.h"
#include "buf.h"
#include "cfg.h"
#include "dbenv.h"
#include "fsutil.h"
#include "log.h"
#include "msgsource.h"
#include "msgview.h"
#include "rcpt.h"
#include "rules.h"
#include "score.h"
#include "scoring.h"
#include "xalloc.h"

#define SCORE_INPUT_MAX MSGSOURCE_INPUT_MAX

struct options {
	const char *config;
	const char *rules;
	const char *user;
	/* -u's recipient as the daemon finds it: its user (the prefs'
	 * key) and home */
	char *user_key, *user_home;
	const char *prefs;
	bool report, exit_code, lint, hits, list_rules;
	unsigned int jobs;
};

/* status 0 (-h, --help): the usage on stdout, as asked for; else on
 * stderr for a usage error. */
static void
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
		"usage: lmtpd-score [-c CONF] [--rules DIR[,DIR]] [-u USER | -p PREFS]\n"
		"                   [-r] [-e] [--lint] [--hits] [--list-rules] [-j N] [PATH...]\n");
	exit(status);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
warn_line(const char *msg)
{
	fprintf(stderr, "lmtpd-score: warning: %s\n", msg);
}

static bool opt_hits;

/* In a -j process, whole lines are written in batches of at most
 * PIPE_BUF bytes: a write that size to a pipe is never interleaved with
 * the other processes' writes, and one write a batch costs less than one a
 * line (line buffering wrote 3046 times over the held-out set, and woke a
 * reader at the other end of a pipe as often). */
static bool out_batching;
static bool out_failed;
static struct buf out_batch;

static void
out_write(const char *data, size_t len)
{
	if (len > 0 && write_full(STDOUT_FILENO, data, len) < 0)
		out_failed = true;
}

static void
out_flush(void)
{
	out_write(out_batch.data, out_batch.len);
	buf_reset(&out_batch);
}

/* One message's line, ending in a newline. */
static void
out_line(const struct buf *line)
{
	if (!out_batching) {
		fwrite(line->data, 1, line->len, stdout);
		if (ferror(stdout))
			out_failed = true;
		return;
	}
	if (out_batch.len + line->len > PIPE_BUF)
		out_flush();
	if (line->len > PIPE_BUF)
		out_write(line->data, line->len);
	else
		buf_put(&out_batch, line->data, line->len);
}

/* --hits: every non-meta rule that hit, __ sub-rules included, by name;
 * like SpamAssassin, not the rules the score set in use (0: no Bayes, no
 * network tests) scores 0: lmtpd matches them for the other sets only. */
static void
print_hits(struct scoring *sc, const char *name, const char *data, size_t len)
{
	struct scoring_msg *m = scoring_msg_new(sc, data, len, NULL);
	const struct rules_hits *h = scoring_msg_hits(sc, m);
	const struct ruleset *rs = scoring_rules(sc);
	const char **names = NULL;
	size_t n = 0;
	struct buf line;

	for (size_t i = 0; i < h->count; i++)
		if (h->hits[i] > 0 && rules_counts_in_set(rs, i, 0)) {
			names = xreallocarray(names, n + 1, sizeof(*names));
			names[n++] = rules_name(rs, i);
		}
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_str);
	buf_init(&line, 0);
	buf_putf(&line, "%s\t", name);
	for (size_t i = 0; i < n; i++)
		buf_putf(&line, "%s%s", i > 0 ? "," : "", names[i]);
	buf_putf(&line, "%s\n", n == 0 ? "none" : "");
	out_line(&line);
	buf_free(&line);
	free(names);
	scoring_msg_free(&m);
}

/* What file mode scores with: -p/-u prefs apply to every message, as they
 * would for that recipient in the daemon. */
struct score_ctx {
	struct scoring *sc;
	const struct score_prefs *prefs;
	unsigned long scored;	/* messages, in this process */
};

/* After this many messages a run counts as one over folders, whose
 * Bayes lookups are cheaper from a copy of the whole token database
 * (bayes_set_bulk); a path may be a Maildir or an mbox, so the count,
 * not the number of paths, tells. */
#define SCORE_BULK_AFTER 8
/* A file this big holds more than SCORE_BULK_AFTER messages of the usual
 * size (an mbox), or one message big enough that a copy is nothing next
 * to scoring it. */
#define SCORE_BULK_FILE_BYTES (1024 * 1024)

static void
print_line(const struct score_ctx *ctx, const char *name, const char *data, size_t len)
{
	struct scoring *sc = ctx->sc;
	struct score_result r;
	struct buf tests, line;
	char score[64];

	if (opt_hits) {
		print_hits(sc, name, data, len);
		return;
	}
	scoring_score_message(sc, data, len, NULL, ctx->prefs, &r);
	buf_init(&tests, 0);
	score_tests(&r, &tests);
	score_format(&r, score, sizeof(score));
	buf_init(&line, 0);
	buf_putf(&line, "%s\t%s\t%2.1f\t%s\n", name, score, r.required, tests.data);
	out_line(&line);
	buf_free(&line);
	buf_free(&tests);
	score_result_free(&r);
}

static int
score_one(const char *name, const char *data, size_t len, void *vctx)
{
	struct score_ctx *ctx = vctx;

	if (++ctx->scored == SCORE_BULK_AFTER && scoring_bayes(ctx->sc) != NULL)
		bayes_set_bulk(scoring_bayes(ctx->sc), true);
	print_line(ctx, name, data, len);
	return 0;
}

static void
score_error(const char *path, const char *why)
{
	fprintf(stderr, "lmtpd-score: %s: %s\n", path, why);
}

/* One path: a Maildir, an mbox or a single message.  Returns -1 if it
 * could not be read. */
static int
score_path(struct score_ctx *ctx, const char *path)
{
	return msgsource_walk(path, score_one, ctx, score_error);
}

/* Whether a -j run is long enough for one copy of the whole Bayes
 * database before the fork to pay: more paths than SCORE_BULK_AFTER, or a
 * Maildir or a file big enough to be an mbox of several messages.  A few
 * messages are answered by a few B-tree searches; --hits shows no Bayes
 * answer at all. */
static bool
score_worth_bayes_copy(char **paths, int count)
{
	if (opt_hits)
		return false;
	if (count > SCORE_BULK_AFTER)
		return true;
	for (int i = 0; i < count; i++) {
		struct stat st;

		if (stat(paths[i], &st) == 0 &&
		    (S_ISDIR(st.st_mode) || st.st_size >= SCORE_BULK_FILE_BYTES))
			return true;
	}
	return false;
}

/* -j N: N processes take the paths one at a time, from a counter they
 * share, so that they end together however the work falls (taking every
 * N-th path left one process up to a tenth of the run behind the other on
 * the held-out set); each prints its own lines. */
static int
score_paths(struct score_ctx *ctx, char **paths, int count, unsigned int jobs)
{
	pid_t *pids;
	int status = 0;
	unsigned int *next_path;

	if (jobs <= 1) {
		for (int i = 0; i < count; i++)
			if (score_path(ctx, paths[i]) < 0)
				status = 1;
		return status;
	}
	next_path = mmap(NULL, sizeof(*next_path), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (next_path == MAP_FAILED) {
		perror("lmtpd-score: mmap");
		return 1;
	}
	*next_path = 0;
	fflush(stdout);
	scoring_before_fork_batch(ctx->sc, score_worth_bayes_copy(paths, count));
	pids = xcalloc(jobs, sizeof(*pids));
	for (unsigned int j = 0; j < jobs; j++) {
		pids[j] = fork();
		if (pids[j] < 0) {
			perror("lmtpd-score: fork");
			status = 1;
			break;
		}
		if (pids[j] == 0) {
			int st = 0;

			scoring_after_fork(ctx->sc);
			/* On a terminal, a line as soon as it is scored. */
			out_batching = !isatty(STDOUT_FILENO);
			buf_init(&out_batch, 0);
			for (;;) {
				unsigned int i = __atomic_fetch_add(next_path, 1,
								    __ATOMIC_RELAXED);

				if (i >= (unsigned int)count)
					break;
				if (score_path(ctx, paths[i]) < 0)
					st = 1;
			}
			out_flush();
			if (fflush(stdout) != 0 || out_failed)
				st = 1;
			if (scoring_bayes(ctx->sc) != NULL)
				bayes_close(scoring_bayes(ctx->sc));
			_exit(st);
		}
	}
	for (unsigned int j = 0; j < jobs; j++) {
		int st;

		if (pids[j] > 0 && (waitpid(pids[j], &st, 0) < 0 || !WIFEXITED(st) ||
				    WEXITSTATUS(st) != 0))
			status = 1;
	}
	free(pids);
	(void)munmap(next_path, sizeof(*next_path));
	return status;
}

/* -u: the recipient as the daemon resolves it at RCPT (case folded,
 * +detail off, the users map's home= when it has one; a bare local part
 * is at hostname), so its prefs are the ones the daemon would read. */
static int
score_resolve_user(const struct lmtpd_config *cfg, struct options *o)
{
	struct rcpt_resolver *res = rcpt_resolver_new(cfg);
	struct dsn dsn;
	struct rcpt *r = rcpt_resolve(res, o->user, NULL, &dsn);

	rcpt_resolver_free(&res);
	if (r == NULL) {
		fprintf(stderr, "lmtpd-score: -u %s: %s\n", o->user, dsn.text);
		return -1;
	}
	o->user_key = xstrdup(r->user);
	o->user_home = xstrdup(r->home);
	rcpt_free(&r);
	return 0;
}

static int
score_stdin(struct scoring *sc, const struct options *o)
{
	struct buf in, out;
	struct score_result r;
	struct score_prefs *prefs = NULL;
	const char *msg;
	size_t len, from_len = 0;
	int status;

	buf_init(&in, SCORE_INPUT_MAX);
	if (msgsource_read_fd(STDIN_FILENO, &in) < 0) {
		fprintf(stderr, "lmtpd-score: stdin: %s\n",
			errno == EMSGSIZE ? "message too large" : strerror(errno));
		return 2;
	}
	if (o->prefs != NULL)
		prefs = score_prefs_load(scoring_rules(sc), o->prefs, warn_line);
	else if (o->user != NULL)
		prefs = scoring_prefs_for_home(sc, o->user_key, o->user_home, warn_line);
	/* stdin is one message, as for spamassassin: a leading mbox "From "
	 * line is not part of it, and is written back in front of it. */
	msg = in.data != NULL ? in.data : "";
	len = in.len;
	if (len >= 5 && memcmp(msg, "From ", 5) == 0) {
		const char *nl = memchr(msg, '\n', len);

		from_len = nl != NULL ? (size_t)(nl + 1 - msg) : len;
	}
	scoring_score_message(sc, msg + from_len, len - from_len, NULL, prefs, &r);
	buf_init(&out, 0);
	if (o->report) {
		score_report(&r, &out);
	} else {
		buf_put(&out, msg, from_len);
		scoring_rewrite(sc, msg + from_len, len - from_len, &r, &out);
	}
	fwrite(out.data != NULL ? out.data : "", 1, out.len, stdout);
	status = o->exit_code && r.is_spam ? 1 : 0;
	score_result_free(&r);
	score_prefs_free(&prefs);
	buf_free(&out);
	buf_free(&in);
	return fflush(stdout) == 0 ? status : 2;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rules", required_argument, NULL, 'R' },
		{ "lint", no_argument, NULL, 'L' },
		{ "hits", no_argument, NULL, 'H' },
		{ "list-rules", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o;
	struct scoring *sc;
	struct lmtpd_config *cfg;
	char *error = NULL;
	bool use_bayes;
	int c, status;

	memset(&o, 0, sizeof(o));
	o.jobs = 1;
	log_open("lmtpd-score", true);
	log_set_quiet(true);
	while ((c = getopt_long(argc, argv, "c:u:p:rej:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o.config = optarg; break;
		case 'R': o.rules = optarg; break;
		case 'u': o.user = optarg; break;
		case 'p': o.prefs = optarg; break;
		case 'r': o.report = true; break;
		case 'e': o.exit_code = true; break;
		case 'L': o.lint = true; break;
		case 'H': o.hits = true; opt_hits = true; break;
		case 'T': o.list_rules = true; break;
		case 'j': {
			char *end;
			unsigned long jobs;

			errno = 0;
			jobs = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || jobs < 1 || jobs > 256) {
				fprintf(stderr, "lmtpd-score: -j takes a number from 1 to 256\n");
				usage(2);
			}
			o.jobs = (unsigned int)jobs;
			break;
		}
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (o.user != NULL && o.prefs != NULL)
		usage(2);
	if (o.hits && optind >= argc) {
		/* the message on stdin would come back with headers, the
		 * hits asked for nowhere */
		fprintf(stderr, "lmtpd-score: --hits takes PATH arguments\n");
		usage(2);
	}
	cfg = cfg_load(o.config, &error);
	if (cfg == NULL) {
		fprintf(stderr, "lmtpd-score: %s\n", error);
		free(error);
		return 2;
	}
	if (o.user != NULL && score_resolve_user(cfg, &o) < 0) {
		cfg_free(&cfg);
		return 2;
	}
	{
		/* Bayes only reads here, and only a database lmtpd-learn or
		 * the daemon made: scoring a file never creates state_dir. */
		char path[4096];
		struct stat st;

		snprintf(path, sizeof(path), "%s/bayes_toks.db", cfg->state_dir);
		use_bayes = !o.lint && !o.list_rules && stat(path, &st) == 0;
	}
	/* Opening the environment makes files in state_dir: run as root,
	 * become the daemon's user first, as lmtpd-learn does, or the daemon
	 * could not open them after. */
	if (use_bayes && become_config_user(cfg, &error) < 0) {
		fprintf(stderr, "lmtpd-score: %s\n", error);
		free(error);
		cfg_free(&cfg);
		return 2;
	}
	/* Bayes: a pending recovery of the database (dbenv.h) is waited for
	 * rather than scoring without it. */
	db_env_set_attach_wait(60);
	sc = scoring_new(cfg, o.rules, o.lint ? stdout : NULL);
	if (sc == NULL) {
		cfg_free(&cfg);
		return 2;
	}
	scoring_set_bayes(sc, use_bayes, false);
	if (o.lint)
		status = scoring_lint_errors(sc) > 0 ? 1 : 0;
	else if (o.list_rules) {
		const struct ruleset *rs = scoring_rules(sc);
		char kind[32];

		for (size_t i = 0; i < rules_count(rs); i++)
			if (rules_defined(rs, i))
				printf("%s\t%s\t%s\n", rules_name(rs, i),
				       rules_kind(rs, i, kind, sizeof(kind)),
				       rules_skip_reason(rs, i));
		status = 0;
	}
	else if (optind < argc) {
		struct score_ctx ctx = { sc, NULL, 0 };
		struct score_prefs *prefs = NULL;

		if (o.prefs != NULL)
			prefs = score_prefs_load(scoring_rules(sc), o.prefs, warn_line);
		else if (o.user != NULL)
			prefs = scoring_prefs_for_home(sc, o.user_key, o.user_home, warn_line);
		ctx.prefs = prefs;
		status = score_paths(&ctx, argv + optind, argc - optind, o.jobs);
		score_prefs_free(&prefs);
	}
	else
		status = score_stdin(sc, &o);
	scoring_free(&sc);
	cfg_free(&cfg);
	free(o.user_key);
	free(o.user_home);
	return status;
}
