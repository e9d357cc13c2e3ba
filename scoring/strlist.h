/* A growable list of owned byte strings (each also NUL-terminated), the
 * representation of body lines, rawbody paragraphs and URIs. */
#ifndef LMTPD_STRLIST_H
#define LMTPD_STRLIST_H

#include <stddef.h>

struct strlist_item {
	char *p;
	size_t len;
};

struct strlist {
	struct strlist_item *v;
	size_t n, cap;
};

void strlist_init(struct strlist *l);
void strlist_free(struct strlist *l);
/* Copies p[0..len). */
void strlist_add(struct strlist *l, const char *p, size_t len);
/* Takes ownership of p (malloc'd, p[len] == '\0'). */
void strlist_add_owned(struct strlist *l, char *p, size_t len);

#endif
