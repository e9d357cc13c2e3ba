/* msgview: XXX being written (views of a message for the rules). */
#include "config.h"

#include <stdlib.h>

#include "msgview.h"
#include "received.h"
#include "xalloc.h"

struct msgview {
	const char *data;
	size_t len;
	struct strlist empty;
};

struct msgview *
msgview_new(const struct sa_settings *settings, const char *data, size_t len,
	    const char *envelope_from)
{
	struct msgview *mv = xcalloc(1, sizeof(*mv));

	(void)settings;
	(void)envelope_from;
	mv->data = data;
	mv->len = len;
	return mv;
}

void
msgview_free(struct msgview **mv)
{
	free(*mv);
	*mv = NULL;
}

bool
msgview_get(struct msgview *mv, const char *request, struct buf *out)
{
	(void)mv; (void)request; (void)out;
	return false;
}

size_t msgview_part_count(struct msgview *mv) { (void)mv; return 0; }

bool
msgview_part_get(struct msgview *mv, size_t part, const char *request, struct buf *out)
{
	(void)mv; (void)part; (void)request; (void)out;
	return false;
}

const struct strlist *msgview_body(struct msgview *mv) { return &mv->empty; }
const struct strlist *msgview_rawbody(struct msgview *mv) { return &mv->empty; }
const struct strlist *msgview_uris(struct msgview *mv) { return &mv->empty; }

void
msgview_full(struct msgview *mv, const char **data_r, size_t *len_r)
{
	*data_r = mv->data;
	*len_r = mv->len;
}

const struct relays *
msgview_relays(struct msgview *mv)
{
	static struct relays none = { NULL, 0, 0, 0, 0, NULL, NULL, NULL, NULL, -1, -1 };

	(void)mv;
	return &none;
}

void
msgview_global_init(void)
{
}
