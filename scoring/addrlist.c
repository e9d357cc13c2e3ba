/* addrlist: welcomelist_from and friends.  An entry is a glob ("*" any
 * string, "?" any character) matched against the whole lowercased address,
 * as Parser.pm add_to_addrlist builds its ^...$ regex.  That turns NUL,
 * backslash and "(" of the pattern into "_", kept here; the address is
 * only lowercased, so its "(" is matched by "*" or "?" but not by "_". */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "rules_parse.h"
#include "xalloc.h"

static char *
addrlist_lower(const char *word, size_t len)
{
	char *p = xstrndup(word, len);

	for (char *q = p; *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	return p;
}

static char *
addrlist_normalize(const char *word, size_t len)
{
	char *p = addrlist_lower(word, len);

	for (char *q = p; *q != '\0'; q++)
		if (*q == '\\' || *q == '(')
			*q = '_';
	return p;
}

/* No duplicate check: a list only answers "does any entry match", so a
 * repeated entry changes no answer, and looking for one made each push
 * scan the list (a 10000-address user_prefs welcomelist cost 0.1 s of
 * every delivery to that user).  Removal takes out every copy. */
static void
addrlist_push(struct addrlist *l, char *pattern, char *domain)
{
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 16 : l->cap * 2;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n].pattern = pattern;
	l->v[l->n].rcvd_domain = domain;
	l->n++;
}

void
addrlist_add_words(struct addrlist *l, const char *value)
{
	const char *p = value;

	for (;;) {
		size_t len;

		p += strspn(p, " \t");
		len = strcspn(p, " \t");
		if (len == 0)
			return;
		addrlist_push(l, addrlist_normalize(p, len), NULL);
		p += len;
	}
}

void
addrlist_remove_words(struct addrlist *l, const char *value)
{
	const char *p = value;

	for (;;) {
		size_t len;
		char *word;

		p += strspn(p, " \t");
		len = strcspn(p, " \t");
		if (len == 0)
			return;
		word = addrlist_normalize(p, len);
		for (size_t i = 0; i < l->n;) {
			if (strcmp(l->v[i].pattern, word) == 0) {
				free(l->v[i].pattern);
				free(l->v[i].rcvd_domain);
				l->v[i] = l->v[--l->n];
			} else {
				i++;
			}
		}
		free(word);
		p += len;
	}
}

void
addrlist_add_rcvd(struct addrlist *l, const char *value)
{
	const char *p = value + strspn(value, " \t");
	size_t alen = strcspn(p, " \t");
	const char *d = p + alen;
	size_t dlen;

	d += strspn(d, " \t");
	dlen = strcspn(d, " \t");
	if (alen == 0 || dlen == 0)
		return;
	addrlist_push(l, addrlist_normalize(p, alen), addrlist_lower(d, dlen));
}

void
addrlist_add_line(struct addrlist *l, const char *value)
{
	char *lower = addrlist_lower(value, strlen(value));

	if (*lower == '\0') {
		free(lower);
		return;
	}
	addrlist_push(l, xasprintf("*%s*", lower), NULL);
	free(lower);
}

void
addrlist_free(struct addrlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].pattern);
		free(l->v[i].rcvd_domain);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
	l->cap = 0;
}

/* Whether s (len bytes) ends with what follows pat's last '*' (all of
 * pat without one), '?' matching any byte: every match needs it, and it
 * fails at once for nearly every entry of a list, where the walk below
 * tries the leading '*' at every byte of the address first. */
static bool
addrlist_tail_fits(const char *pat, const char *s, size_t len)
{
	const char *star = strrchr(pat, '*');
	const char *tail = star != NULL ? star + 1 : pat;
	size_t tail_len = strlen(tail);

	if (tail_len > len)
		return false;
	s += len - tail_len;
	for (size_t i = 0; i < tail_len; i++)
		if (tail[i] != '?' && tail[i] != s[i])
			return false;
	return true;
}

/* Iterative glob match with backtracking on the last '*'; s is len bytes
 * (it may hold a NUL, which only '*' and '?' match). */
static bool
addrlist_glob(const char *pat, const char *s, size_t len)
{
	const char *star = NULL, *resume = NULL, *end = s + len;

	if (!addrlist_tail_fits(pat, s, len))
		return false;

	while (s < end) {
		if (*pat == '*') {
			while (*pat == '*')
				pat++;
			star = pat;
			resume = s;
		} else if (*pat == '?' || *pat == *s) {
			pat++;
			s++;
		} else if (star != NULL) {
			pat = star;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

bool
addrlist_match(const struct addrlist *l, const char *addr, size_t *index_r)
{
	return addrlist_match_len(l, addr, strlen(addr), index_r);
}

bool
addrlist_match_len(const struct addrlist *l, const char *s, size_t len, size_t *index_r)
{
	char *lower;
	bool found = false;

	/* most lists are empty on most sites: no copy for them */
	if (l->n == 0)
		return false;
	lower = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		lower[i] = (char)tolower((unsigned char)s[i]);
	lower[len] = '\0';
	for (size_t i = 0; i < l->n && !found; i++) {
		if (addrlist_glob(l->v[i].pattern, lower, len)) {
			if (index_r != NULL)
				*index_r = i;
			found = true;
		}
	}
	free(lower);
	return found;
}
