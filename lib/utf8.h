#ifndef LMTPD_UTF8_H
#define LMTPD_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the character at s (left bytes there, at least 1): returns its
 * length (1..4) and sets *cp_r, or returns 0 if it is invalid: a stray
 * continuation byte, a truncated or overlong sequence, a surrogate, a
 * code point above U+10FFFF. */
size_t utf8_decode(const unsigned char *s, size_t left, uint32_t *cp_r);

/* Whether the len bytes at s are valid UTF-8 (ASCII included). */
bool utf8_valid(const unsigned char *s, size_t len);

/* Whether cp, beyond ASCII, ends, reorders or hides text where it is
 * shown: a C1 control (NEL among them), LINE or PARAGRAPH SEPARATOR, a
 * bidirectional mark, embedding, override or isolate, or a character
 * shown as nothing (SOFT HYPHEN, ZERO WIDTH SPACE, WORD JOINER and the
 * invisible operators, ZERO WIDTH NO-BREAK SPACE, MONGOLIAN VOWEL
 * SEPARATOR, the interlinear annotation marks). */
bool utf8_cp_disorders(uint32_t cp);
/* Whether the len bytes at s (valid UTF-8) hold such a character. */
bool utf8_has_disorder(const unsigned char *s, size_t len);

#endif
