/* A growable byte buffer with a hard maximum: appends past the maximum fail
 * with errno EMSGSIZE instead of growing, so a hostile peer can never make a
 * buffer exceed the bound its owner chose.  Contents are (data, len); a NUL
 * is kept after the last byte so text can be used as a C string when the
 * caller knows it holds no NUL. */
#ifndef LMTPD_BUF_H
#define LMTPD_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include "compat.h"

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;	/* 0 = no limit beyond SIZE_MAX */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* Returns 0, or -1 with errno EMSGSIZE when len + n would exceed max. */
int buf_append(struct buf *b, const void *p, size_t n) ATTR_WUR;
int buf_append_str(struct buf *b, const char *s) ATTR_WUR;
int buf_printf(struct buf *b, const char *fmt, ...) ATTR_PRINTF(2, 3) ATTR_WUR;
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) ATTR_PRINTF(2, 0) ATTR_WUR;
/* For buffers without a maximum (max 0), whose appends can only fail on
 * size_t overflow: that is a bug, so these panic instead of returning. */
void buf_put(struct buf *b, const void *p, size_t n);
void buf_put_str(struct buf *b, const char *s);
void buf_putf(struct buf *b, const char *fmt, ...) ATTR_PRINTF(2, 3);
/* Drops the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Hands the data to the caller (who frees it) and resets the buffer. */
char *buf_steal(struct buf *b, size_t *len_r);

#endif
