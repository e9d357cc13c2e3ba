/* eval_bayes: SpamAssassin's check_bayes (Plugin/Bayes.pm), the eval
 * behind the BAYES_00 .. BAYES_999 rules of 23_bayes.cf.  The probability
 * comes from the classifier for this recipient's database (score.c puts it
 * in the context); while Bayes cannot answer, no BAYES_ rule hits. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "eval.h"

/* check_bayes('min', 'max'): min < p <= max ("0" min: no lower bound,
 * "undef" max: no upper bound), as there. */
static unsigned int
eval_check_bayes(struct eval_ctx *ctx, const struct eval_call *call)
{
	double lo, hi;
	bool no_hi;

	if (!ctx->bayes_active || call->arg_count < 2)
		return 0;
	lo = call->nums[0];
	no_hi = strcmp(call->args[1], "undef") == 0;
	hi = no_hi ? 0 : call->nums[1];
	if ((lo == 0 || ctx->bayes_prob > lo) && (no_hi || ctx->bayes_prob <= hi)) {
		/* test_log, as with detailed_bayes_score 0 (the default) */
		eval_test_log(ctx, "score: %3.4f", ctx->bayes_prob);
		return 1;
	}
	return 0;
}

static const struct eval_entry eval_bayes_entries[] = {
	/* per user: each recipient may have their own database */
	{ "check_bayes", eval_check_bayes, true },
};

const struct eval_family eval_family_bayes = {
	eval_bayes_entries, N_ELEMENTS(eval_bayes_entries), NULL, 0
};
