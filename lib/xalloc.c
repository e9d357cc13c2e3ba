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

static void (*xalloc_failure)(size_t size);

static void ATTR_NORETURN
xalloc_fail(size_t size)
{
	if (xalloc_failure != NULL)
		xalloc_failure(size);
	log_fatal("out of memory allocating %zu bytes", size);
}

void
xalloc_set_failure(void (*fail)(size_t size))
{
	xalloc_failure = fail;
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

/* A huge page is 2 MB on x86-64 and arm64; the kernel places (and backs)
 * only whole, aligned 2 MB stretches of a mapping with them, and aligns a
 * mapping whose length is a multiple of that.  From 1 MB on, a table is
 * mapped in whole huge pages: the memory is reserved, not used, until
 * touched, and a table of 1 MB touched at random took ~250 faults. */
#define XMAP_HUGE ((size_t)2 << 20)

static size_t
xmap_len(size_t len)
{
	if (len == 0)
		return 1;
	if (len >= XMAP_HUGE / 2 && len <= SIZE_MAX - XMAP_HUGE)
		return (len + XMAP_HUGE - 1) & ~(XMAP_HUGE - 1);
	return len;
}

void *
xmap_alloc(size_t len)
{
	void *p = mmap(NULL, xmap_len(len), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		xalloc_fail(len);
#ifdef MADV_HUGEPAGE
	(void)madvise(p, xmap_len(len), MADV_HUGEPAGE);	/* a hint: refused is fine */
#endif
	return p;
}

void *
xmap_grow(void *p, size_t len, size_t newlen)
{
	void *q = mremap(p, xmap_len(len), xmap_len(newlen), MREMAP_MAYMOVE);

	if (q == MAP_FAILED)
		xalloc_fail(newlen);
#ifdef MADV_HUGEPAGE
	(void)madvise(q, xmap_len(newlen), MADV_HUGEPAGE);
#endif
	return q;
}

void
xmap_free(void *p, size_t len)
{
	if (p != NULL)
		(void)munmap(p, xmap_len(len));
}
