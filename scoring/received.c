/* received: XXX being written. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "received.h"
#include "xalloc.h"

void
received_parse(const struct sa_settings *set, const struct strlist *received,
	       struct relays *out)
{
	(void)set;
	(void)received;
	memset(out, 0, sizeof(*out));
	out->str_trusted = xstrdup("");
	out->str_untrusted = xstrdup("");
	out->str_internal = xstrdup("");
	out->str_external = xstrdup("");
	out->last_trusted_index = out->last_internal_index = -1;
}

void
relays_free(struct relays *r)
{
	free(r->str_trusted);
	free(r->str_untrusted);
	free(r->str_internal);
	free(r->str_external);
	free(r->v);
	memset(r, 0, sizeof(*r));
}
