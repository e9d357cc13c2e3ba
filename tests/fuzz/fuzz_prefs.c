/* libFuzzer target: a user's prefs file (user_prefs) on a site that
 * allows user rules (allow_user_rules 1): score lines, thresholds,
 * lists, and the user's own rules with their budgets (rules_user.c,
 * score.c's prefs parser).  The prefs are then used to score a fixed
 * message, user rules and all.
 *
 * Site rules: FUZZ_RULES (a comma list of folders), default
 * /usr/share/spamassassin, plus a folder of our own saying
 * allow_user_rules 1. */
#include "config.h"

#include <stdint.h>
#include <sys/stat.h>

#include "cfg.h"
#include "fuzz_msg.h"
#include "rules.h"
#include "score.h"
#include "scoring.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char site_cf[] =
	"allow_user_rules 1\n"
	"body SITE_BODY /free money/i\n"
	"score SITE_BODY 1.5\n"
	"header SITE_SUBJ Subject =~ /hello/\n"
	"score SITE_SUBJ 0\n"
	"uri SITE_URI /evil\\.example/\n"
	"meta SITE_META SITE_BODY && SITE_URI\n"
	"score SITE_META 2\n";

static struct lmtpd_config *cfg;
static struct scoring *sc;
static char *prefs_path, *dir, *list;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *rules = getenv("FUZZ_RULES");
	char *error = NULL, path[4200];

	(void)argc;
	(void)argv;
	dir = fuzz_tmpdir();
	snprintf(path, sizeof(path), "%s/site", dir);
	if (mkdir(path, 0700) != 0)
		abort();
	snprintf(path, sizeof(path), "%s/site/90_site.cf", dir);
	fuzz_write(path, site_cf, sizeof(site_cf) - 1);
	if ((list = malloc(8400)) == NULL || (prefs_path = malloc(4200)) == NULL)
		abort();
	snprintf(list, 8400, "%s,%s/site", rules != NULL ? rules : "/usr/share/spamassassin",
		 dir);
	snprintf(prefs_path, 4200, "%s/user_prefs", dir);
	if ((cfg = cfg_load(NULL, &error)) == NULL) {
		fprintf(stderr, "fuzz_prefs: %s\n", error);
		exit(1);
	}
	if ((sc = scoring_new(cfg, list, NULL)) == NULL) {
		fprintf(stderr, "fuzz_prefs: no rules\n");
		exit(1);
	}
	scoring_set_bayes(sc, false, false);
	scoring_after_fork(sc);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct score_prefs *prefs;
	struct score_result r;

	fuzz_write(prefs_path, data, size);
	prefs = score_prefs_load(scoring_rules(sc), prefs_path, NULL);
	scoring_score_message(sc, fuzz_message, sizeof(fuzz_message) - 1, "a@example.com",
			      prefs, &r);
	score_result_free(&r);
	score_prefs_free(&prefs);
	return 0;
}
