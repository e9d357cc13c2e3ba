/* A helper both Bayes test programs use: static inline, so a program that
 * does not call it gets no unused-function warning. */
#ifndef LMTPD_BAYES_TOKENS_UTIL_H
#define LMTPD_BAYES_TOKENS_UTIL_H

#include <stdbool.h>
#include <string.h>

#include "bayes.h"

/* A linear search, not a bsearch: the tests also hold lists whose order
 * is what they check. */
static inline bool
has_token(const struct bayes_tokens *t, const char *tok)
{
	for (size_t i = 0; i < t->list.n; i++)
		if (strcmp(t->list.v[i].p, tok) == 0)
			return true;
	return false;
}

#endif
