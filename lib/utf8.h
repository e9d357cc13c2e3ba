#ifndef LMTPD_UTF8_H
#define LMTPD_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence of a non-ASCII character at s
 * (2..4), or 0 if it is invalid: a stray continuation byte, a truncated
 * or overlong sequence, a surrogate, a code point above U+10FFFF. left is
 * how many bytes s holds. */
size_t utf8_seq_len(const unsigned char *s, size_t left);

/* Whether the len bytes at s are valid UTF-8 (ASCII included). */
bool utf8_valid(const unsigned char *s, size_t len);

#endif
