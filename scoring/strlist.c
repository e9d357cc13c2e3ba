/* strlist: growable list of owned byte strings. */
#include "config.h"

#include <stdlib.h>

#include "strlist.h"
#include "xalloc.h"

void
strlist_init(struct strlist *l)
{
	l->v = NULL;
	l->n = l->cap = 0;
}

void
strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].p);
	free(l->v);
	strlist_init(l);
}

void
strlist_add_owned(struct strlist *l, char *p, size_t len)
{
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 16 : l->cap * 2;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n].p = p;
	l->v[l->n].len = len;
	l->n++;
}

void
strlist_add(struct strlist *l, const char *p, size_t len)
{
	strlist_add_owned(l, xstrndup(p, len), len);
}
