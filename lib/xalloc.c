/* xalloc: allocation wrappers that end the process on failure. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "xalloc.h"

static void ATTR_NORETURN
xalloc_fail(size_t size)
{
	log_fatal("out of memory allocating %zu bytes", size);
}

void *
xmalloc(size_t size)
{
	void *p = malloc(size == 0 ? 1 : size);

	if (p == NULL)
		xalloc_fail(size);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		xalloc_fail(n * size);
	return p;
}

void *
xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size == 0 ? 1 : size);

	if (q == NULL)
		xalloc_fail(size);
	return q;
}

void *
xreallocarray(void *p, size_t n, size_t elem_size)
{
	if (elem_size != 0 && n > SIZE_MAX / elem_size)
		xalloc_fail(SIZE_MAX);
	return xrealloc(p, n * elem_size);
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		xalloc_fail(strlen(fmt));
	va_end(ap);
	return p;
}

void *
xmap_alloc(size_t len)
{
	void *p = mmap(NULL, len == 0 ? 1 : len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		xalloc_fail(len);
#ifdef MADV_HUGEPAGE
	(void)madvise(p, len, MADV_HUGEPAGE);	/* a hint: refused is fine */
#endif
	return p;
}

void *
xmap_grow(void *p, size_t len, size_t newlen)
{
	void *q = mremap(p, len == 0 ? 1 : len, newlen, MREMAP_MAYMOVE);

	if (q == MAP_FAILED)
		xalloc_fail(newlen);
#ifdef MADV_HUGEPAGE
	(void)madvise(q, newlen, MADV_HUGEPAGE);
#endif
	return q;
}

void
xmap_free(void *p, size_t len)
{
	if (p != NULL)
		(void)munmap(p, len == 0 ? 1 : len);
}
