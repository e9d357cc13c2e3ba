/* baytokdump: prints the Bayes tokens lmtpd-learn would learn from each
 * message, in the format tests/tools/sa_bayes_tokens.pl prints
 * SpamAssassin's (tests/tools/cmp_bayes_tokens.py compares the two):
 *
 *   == NAME      each message (a file, or FILE:N of an mbox)
 *   T <token>    its distinct tokens, sorted bytewise
 *   P <r> <prob> with --prob: bayes_classify()'s answer (1 scored, 0 not,
 *                2 no strong token, -1 error) and the probability to 17 digits, so a change
 *                meant to leave results alone can be checked exactly
 *
 * Tokens are escaped: backslash, LF, CR and NUL as \\ \n \r \0.
 *
 * usage: baytokdump [-c CONF] [--rules DIR[,DIR]] [--prob] [--no-tokens] PATH...
 * The rules (and so the bayes_* settings, the stopwords and what decides a
 * URI's domain) are the config's rules_dir, or --rules; only --prob opens
 * the database (the config's state_dir, read only). */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bayes.h"
#include "cfg.h"
#include "msgsource.h"
#include "scoring.h"

static void
esc(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (p[i]) {
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		case '\0':
			fputs("\\0", stdout);
			break;
		default:
			putchar(p[i]);
		}
	}
}

static bool opt_prob, opt_tokens = true;

static int
dump_one(const char *name, const char *data, size_t len, void *ctx)
{
	struct scoring *sc = ctx;
	struct bayes_tokens toks;

	scoring_tokenize(sc, data, len, &toks);
	printf("== %s\n", name);
	for (size_t i = 0; opt_tokens && i < toks.list.n; i++) {
		fputs("T ", stdout);
		esc(toks.list.v[i].p, toks.list.v[i].len);
		putchar('\n');
	}
	if (opt_prob) {
		double p = 0;
		int r = bayes_classify(scoring_bayes(sc), NULL, &toks, &p);

		printf("P %d %.17g\n", r, r == 1 ? p : 0.0);
	}
	bayes_tokens_free(&toks);
	return 0;
}

static void
dump_error(const char *path, const char *why)
{
	fprintf(stderr, "baytokdump: %s: %s\n", path, why);
}

int
main(int argc, char **argv)
{
	const char *conf = NULL, *rules = NULL;
	struct lmtpd_config *cfg;
	struct scoring *sc;
	char *error = NULL;
	int i, status = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc)
			rules = argv[++i];
		else if (strcmp(argv[i], "--prob") == 0)
			opt_prob = true;
		else if (strcmp(argv[i], "--no-tokens") == 0)
			opt_tokens = false;
		else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "usage: baytokdump [-c CONF] [--rules DIR[,DIR]] [--prob] "
				"[--no-tokens] PATH...\n");
			return 2;
		} else
			break;
	}
	if (i >= argc) {
		fprintf(stderr, "baytokdump: no message\n");
		return 2;
	}
	cfg = cfg_load(conf, &error);
	if (cfg == NULL) {
		fprintf(stderr, "baytokdump: %s\n", error);
		free(error);
		return 2;
	}
	sc = scoring_new(cfg, rules, NULL);
	if (sc == NULL || scoring_bayes(sc) == NULL) {
		fprintf(stderr, "baytokdump: no rules, or use_bayes 0\n");
		cfg_free(&cfg);
		scoring_free(&sc);
		return 2;
	}
	for (; i < argc; i++)
		if (msgsource_walk(argv[i], dump_one, sc, dump_error) < 0)
			status = 1;
	scoring_free(&sc);
	cfg_free(&cfg);
	return status;
}
