/* eval_relay: SpamAssassin's tests that read the Received chain and the
 * relays built from it, the Date and Message-ID against it
 * (Plugin/RelayEval.pm, the forged-webmail and ratware parts of
 * Plugin/HeaderEval.pm). */
#include "config.h"

#include <stdlib.h>

#include "eval.h"

struct eval_relay_state {
	int unused;
};

void
eval_relay_state_free(struct eval_relay_state **state)
{
	free(*state);
	*state = NULL;
}

const struct eval_family eval_family_relay = { NULL, 0, NULL, 0 };
