/* Allocation that never returns NULL: an allocation failure in lmtpd is not
 * recoverable per recipient, so the process logs and exits; the MTA sees a
 * dropped connection and retries (DESIGN invariant 2). */
#ifndef LMTPD_XALLOC_H
#define LMTPD_XALLOC_H

#include <stddef.h>
#include "compat.h"

/* What a failed allocation does instead of logging and exiting (a child
 * process that its parent reports for); NULL for the default. */
void xalloc_set_failure(void (*fail)(size_t size));

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
/* Grows an array of n elements of size elem_size; aborts on overflow. */
void *xreallocarray(void *p, size_t n, size_t elem_size);
char *xstrdup(const char *s);
/* Unlike strndup(3): copies exactly n bytes (slices of buffers that are
 * not NUL-terminated, NULs included) and adds a NUL; s must hold n bytes. */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) ATTR_PRINTF(1, 2);
/* Large tables as zeroed anonymous mappings that the kernel may back with
 * transparent huge pages (where it allows them on request): one page
 * fault per 2 MB instead of one per 4 KB.  Sizes as given to xmap_alloc. */
void *xmap_alloc(size_t len);
void *xmap_grow(void *p, size_t len, size_t newlen);
void xmap_free(void *p, size_t len);

#endif
