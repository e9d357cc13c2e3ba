/* libFuzzer target: a rule file.  The input is written as the one .cf
 * file of a rules folder and loaded as the daemon loads rules_dir
 * (rules_parse.c, rules_split.c, ReplaceTags, prefilter.c, compiling);
 * the ruleset is then matched against a fixed message and its totals
 * computed, so whatever the parser built is also used. */
#include "config.h"

#include <stdint.h>

#include "fuzz_msg.h"
#include "msgview.h"
#include "rules.h"
#include "score.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dir, *path;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	msgview_global_init();
	dir = fuzz_tmpdir();
	if ((path = malloc(4200)) == NULL)
		abort();
	snprintf(path, 4200, "%s/50_fuzz.cf", dir);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dirs[1] = { dir };
	struct rules_load_result res;
	struct ruleset *rs;
	struct rules_scratch *scratch;
	struct msgview *mv;
	struct rules_hits hits;
	struct score_result r;

	fuzz_write(path, data, size);
	rs = rules_load(dirs, 1, &res);
	if (rs != NULL) {
		scratch = rules_scratch_new(rs);
		mv = msgview_new(rules_settings(rs), fuzz_message, sizeof(fuzz_message) - 1,
				 "a@example.com");
		/* no time limit: a rule set that makes one message slow is what
		 * the fuzzer's -timeout is there to find */
		rules_match(rs, scratch, mv, 0, &hits);
		score_compute(rs, &hits, mv, NULL, &r);
		score_result_free(&r);
		rules_hits_free(&hits);
		msgview_free(&mv);
		rules_scratch_free(&scratch);
		rules_free(&rs);
	}
	rules_load_result_free(&res);
	return 0;
}
