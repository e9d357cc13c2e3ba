/* sieve_actions: the action list, its helpers and its serialization (the
 * sandboxed interpreter hands its result to the worker through a pipe; the
 * reader checks every length, so a misbehaving child can not make the
 * worker read out of bounds). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sieve_int.h"
#include "xalloc.h"

/* A serialized string or list longer than this is malformed. */
#define SIEVE_SER_STR_MAX (64 * 1024 * 1024)
#define SIEVE_SER_COUNT_MAX 100000

const char *
sieve_action_name(enum sieve_action_kind kind)
{
	switch (kind) {
	case SIEVE_ACT_KEEP: return "keep";
	case SIEVE_ACT_FILEINTO: return "fileinto";
	case SIEVE_ACT_REDIRECT: return "redirect";
	case SIEVE_ACT_VACATION: return "vacation";
	case SIEVE_ACT_REJECT: return "reject";
	case SIEVE_ACT_DISCARD: return "discard";
	}
	return "?";
}

void
sieve_action_clear(struct sieve_action *a)
{
	free(a->folder);
	for (size_t i = 0; i < a->flag_count; i++)
		free(a->flags[i]);
	free(a->flags);
	free(a->address);
	free(a->text);
	free(a->vacation.address);
	free(a->vacation.from);
	free(a->vacation.subject);
	free(a->vacation.reason);
	free(a->vacation.handle);
	for (size_t i = 0; i < a->vacation.address_count; i++)
		free(a->vacation.addresses[i]);
	free(a->vacation.addresses);
	free(a->script);
	memset(a, 0, sizeof(*a));
}

void
sieve_actions_free(struct sieve_actions **ap)
{
	struct sieve_actions *a = *ap;

	if (a == NULL)
		return;
	for (size_t i = 0; i < a->count; i++)
		sieve_action_clear(&a->v[i]);
	free(a->v);
	free(a);
	*ap = NULL;
}

const struct sieve_action *
sieve_actions_find(const struct sieve_actions *a, enum sieve_action_kind kind)
{
	for (size_t i = 0; i < a->count; i++)
		if (a->v[i].kind == kind)
			return &a->v[i];
	return NULL;
}

struct sieve_action *
sieve_actions_append(struct sieve_actions *list)
{
	struct sieve_action *a;

	list->v = xreallocarray(list->v, list->count + 1, sizeof(*list->v));
	a = &list->v[list->count++];
	memset(a, 0, sizeof(*a));
	return a;
}

size_t
sieve_flags_merge(char ***flags_r, size_t *count_r, const char *const *add,
		  size_t add_count)
{
	size_t dropped = 0;

	for (size_t i = 0; i < add_count; i++) {
		const char *p = add[i];

		/* RFC 5232 3: a string may hold several flags, separated by
		 * spaces. */
		while (*p != '\0') {
			size_t len, k;

			while (*p == ' ' || *p == '\t')
				p++;
			len = strcspn(p, " \t");
			if (len == 0)
				break;
			if (len <= SIEVE_FLAG_LEN_MAX) {
				for (k = 0; k < *count_r; k++)
					if (strlen((*flags_r)[k]) == len &&
					    strncasecmp((*flags_r)[k], p, len) == 0)
						break;
				if (k == *count_r && *count_r < SIEVE_FLAGS_MAX) {
					*flags_r = xreallocarray(*flags_r, *count_r + 1,
								 sizeof(char *));
					(*flags_r)[(*count_r)++] = xstrndup(p, len);
				} else if (k == *count_r) {
					dropped++;
				}
			} else {
				dropped++;
			}
			p += len;
		}
	}
	return dropped;
}

size_t
sieve_flags_dropped_add(size_t count, size_t n)
{
	if (count > SIEVE_FLAGS_DROPPED_MAX || n > SIEVE_FLAGS_DROPPED_MAX - count)
		return SIEVE_FLAGS_DROPPED_MAX;
	return count + n;
}

/* Serialization: unsigned numbers as "N;", strings as "LEN:BYTES" or "-"
 * for NULL. */
void
sieve_ser_uint(struct buf *out, unsigned long v)
{
	buf_putf(out, "%lu;", v);
}

void
sieve_ser_str(struct buf *out, const char *s)
{
	if (s == NULL) {
		buf_put(out, "-", 1);
		return;
	}
	buf_putf(out, "%zu:", strlen(s));
	buf_put_str(out, s);
}

int
sieve_de_uint(const char *data, size_t len, size_t *pos, unsigned long *v_r)
{
	unsigned long v = 0;
	size_t p = *pos, digits = 0;

	while (p < len && isdigit((unsigned char)data[p]) && digits < 18) {
		unsigned long d = (unsigned long)(data[p] - '0');

		/* 18 digits overflow a 32-bit unsigned long */
		if (v > (ULONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		p++;
		digits++;
	}
	if (digits == 0 || p >= len || data[p] != ';')
		return -1;
	*pos = p + 1;
	*v_r = v;
	return 0;
}

int
sieve_de_str(const char *data, size_t len, size_t *pos, char **s_r)
{
	unsigned long n = 0;
	size_t p = *pos, digits = 0;

	*s_r = NULL;
	if (p < len && data[p] == '-') {
		*pos = p + 1;
		return 0;
	}
	while (p < len && isdigit((unsigned char)data[p]) && digits < 18) {
		n = n * 10 + (unsigned long)(data[p] - '0');
		p++;
		digits++;
	}
	if (digits == 0 || p >= len || data[p] != ':' || n > SIEVE_SER_STR_MAX ||
	    n > len - p - 1)
		return -1;
	p++;
	if (memchr(data + p, '\0', n) != NULL)
		return -1;
	*s_r = xstrndup(data + p, n);
	*pos = p + n;
	return 0;
}

void
sieve_actions_serialize(const struct sieve_actions *a, struct buf *out)
{
	sieve_ser_uint(out, a->error);
	sieve_ser_str(out, a->error_text);
	sieve_ser_uint(out, a->scripts_run);
	sieve_ser_uint(out, a->flags_dropped);
	sieve_ser_uint(out, a->count);
	for (size_t i = 0; i < a->count; i++) {
		const struct sieve_action *x = &a->v[i];

		sieve_ser_uint(out, (unsigned long)x->kind);
		sieve_ser_str(out, x->folder);
		sieve_ser_uint(out, x->flag_count);
		for (size_t k = 0; k < x->flag_count; k++)
			sieve_ser_str(out, x->flags[k]);
		sieve_ser_uint(out, x->implicit);
		sieve_ser_str(out, x->address);
		sieve_ser_str(out, x->text);
		sieve_ser_str(out, x->vacation.address);
		sieve_ser_str(out, x->vacation.from);
		sieve_ser_str(out, x->vacation.subject);
		sieve_ser_str(out, x->vacation.reason);
		sieve_ser_str(out, x->vacation.handle);
		sieve_ser_uint(out, x->vacation.days);
		sieve_ser_uint(out, x->vacation.mime);
		sieve_ser_uint(out, x->vacation.address_count);
		for (size_t k = 0; k < x->vacation.address_count; k++)
			sieve_ser_str(out, x->vacation.addresses[k]);
		sieve_ser_str(out, x->script);
	}
}

struct sieve_actions *
sieve_actions_deserialize(const char *data, size_t len, size_t *pos)
{
	struct sieve_actions *a = xcalloc(1, sizeof(*a));
	unsigned long v, count;
	char *s = NULL;

#define GET_U(dst) do { if (sieve_de_uint(data, len, pos, &v) < 0) goto bad; (dst) = v; } while (0)
	/* The child is sandboxed, not trusted: a field gets only values of
	 * its type, never a wrapped or truncated one. */
#define GET_BOOL(dst) do { GET_U(v); if (v > 1) goto bad; (dst) = v != 0; } while (0)
#define GET_UINT(dst) do { GET_U(v); if (v > UINT_MAX) goto bad; (dst) = (unsigned int)v; } while (0)
#define GET_S(dst) do { if (sieve_de_str(data, len, pos, &(dst)) < 0) goto bad; } while (0)
	GET_BOOL(a->error);
	GET_S(s);
	if (s != NULL)
		snprintf(a->error_text, sizeof(a->error_text), "%s", s);
	free(s);
	s = NULL;
	GET_UINT(a->scripts_run);
	GET_U(a->flags_dropped);
	if (a->flags_dropped > SIEVE_FLAGS_DROPPED_MAX)
		goto bad;	/* the child saturates: more is a broken stream */
	GET_U(count);
	if (count > SIEVE_SER_COUNT_MAX)
		goto bad;
	for (unsigned long i = 0; i < count; i++) {
		struct sieve_action *x = sieve_actions_append(a);
		unsigned long nflags;

		GET_U(v);
		if (v > SIEVE_ACT_DISCARD)
			goto bad;
		x->kind = (enum sieve_action_kind)v;
		GET_S(x->folder);
		GET_U(nflags);
		if (nflags > SIEVE_FLAGS_MAX)
			goto bad;
		x->flags = nflags > 0 ? xcalloc(nflags, sizeof(char *)) : NULL;
		for (unsigned long k = 0; k < nflags; k++) {
			x->flag_count = k + 1;
			GET_S(x->flags[k]);
			if (x->flags[k] == NULL)
				goto bad;
		}
		GET_BOOL(x->implicit);
		GET_S(x->address);
		GET_S(x->text);
		GET_S(x->vacation.address);
		GET_S(x->vacation.from);
		GET_S(x->vacation.subject);
		GET_S(x->vacation.reason);
		GET_S(x->vacation.handle);
		GET_UINT(x->vacation.days);
		GET_BOOL(x->vacation.mime);
		GET_U(nflags);
		if (nflags > SIEVE_VACATION_ADDRESSES_MAX)
			goto bad;
		x->vacation.addresses = nflags > 0 ? xcalloc(nflags, sizeof(char *)) : NULL;
		for (unsigned long k = 0; k < nflags; k++) {
			x->vacation.address_count = k + 1;
			GET_S(x->vacation.addresses[k]);
			if (x->vacation.addresses[k] == NULL)
				goto bad;
		}
		GET_S(x->script);
		if ((x->kind == SIEVE_ACT_KEEP || x->kind == SIEVE_ACT_FILEINTO) &&
		    x->folder == NULL)
			goto bad;
		if (x->kind == SIEVE_ACT_REDIRECT && x->address == NULL)
			goto bad;
		if (x->kind == SIEVE_ACT_VACATION &&
		    (x->vacation.address == NULL || x->vacation.reason == NULL))
			goto bad;
	}
#undef GET_U
#undef GET_BOOL
#undef GET_UINT
#undef GET_S
	return a;
bad:
	free(s);
	sieve_actions_free(&a);
	return NULL;
}
