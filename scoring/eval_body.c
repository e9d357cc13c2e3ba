/* eval_body: SpamAssassin's tests that read the rendered body and the
 * URIs (Plugin/BodyEval.pm and friends, Plugin/ImageInfo.pm). */
#include "config.h"

#include <stdlib.h>

#include "eval.h"

struct eval_body_state {
	int unused;
};

void
eval_body_state_free(struct eval_body_state **state)
{
	free(*state);
	*state = NULL;
}

const struct eval_family eval_family_body = { NULL, 0, NULL, 0 };
