/* Internals shared by the HTML files: html.c (HTML.pm's handlers and
 * html_render), html_parse.c (the HTML::Parser 3.81 tokenizer),
 * html_style.c (the text style stack, colours, invisible text) and
 * html_uri.c (URI collection and RFC 2396 resolution).  Not an interface
 * for the rest of scoring/: that is html.h. */
#ifndef LMTPD_HTML_INT_H
#define LMTPD_HTML_INT_H

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "html.h"
#include "mime.h"
#include "strlist.h"

/* ---- character classes (HTML::Parser's hctype table) and UTF-8 ---- */

static inline bool
hp_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0;
}

static inline bool
hp_name_first(unsigned char c)
{
	return isalpha(c) || c == '_' || c == ':';
}

static inline bool
hp_name_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == ':' || c == '.' || c == '-';
}

static inline bool
hp_not_space_gt(unsigned char c)
{
	return !hp_space(c) && c != '>';
}

static inline bool
hp_not_space_eq_gt(unsigned char c)
{
	return !hp_space(c) && c != '>' && c != '=';
}

static inline bool
ascii_alnum_us(unsigned char c)
{
	return isalnum(c) || c == '_';
}

static inline bool
is_ws_ascii(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static inline char
lc(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* Decodes one UTF-8 character at p (lenient: a bad byte is itself). */
static inline uint32_t
get_utf8(const unsigned char *p, size_t n, size_t *adv)
{
	if (n == 0) {
		*adv = 0;
		return 0;
	}
	if (p[0] < 0x80 || n < 2) {
		*adv = 1;
		return p[0];
	}
	if ((p[0] & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) {
		*adv = 2;
		return ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
	}
	if ((p[0] & 0xf0) == 0xe0 && n >= 3 && (p[1] & 0xc0) == 0x80 &&
	    (p[2] & 0xc0) == 0x80) {
		*adv = 3;
		return ((uint32_t)(p[0] & 0x0f) << 12) |
		       ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
	}
	if ((p[0] & 0xf8) == 0xf0 && n >= 4 && (p[1] & 0xc0) == 0x80 &&
	    (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80) {
		*adv = 4;
		return ((uint32_t)(p[0] & 0x07) << 18) |
		       ((uint32_t)(p[1] & 0x3f) << 12) |
		       ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
	}
	*adv = 1;
	return p[0];
}

/* Perl's \s on a character string. */
static inline bool
uni_space(uint32_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0xa0 ||
	       c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 ||
	       c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Perl's \w on a character (utf8) or byte string; beyond ASCII an
 * approximation by Unicode blocks (html.c).  Also for eval_mime.c. */
bool html_perl_word(uint32_t c, bool utf8);

/* ---- a small string -> int map (tag counts, URI dedup) ---- */

struct smap_ent {
	char *key;
	size_t len;
	long val;
	size_t order;
};

struct smap {
	struct smap_ent *v;
	size_t cap, n;
};

struct smap_ent *html_smap_find(struct smap *m, const char *k, size_t n, bool create,
				bool *created);
void html_smap_free(struct smap *m);

/* The text-style tags, as indices for the per-tag stack counts. */
enum stag {
	ST_DEFAULT, ST_BODY, ST_FONT, ST_TABLE, ST_TR, ST_TD, ST_BIG, ST_SMALL,
	ST_BASEFONT, ST_MARQUEE, ST_SPAN, ST_P, ST_DIV, ST_A, ST_COUNT
};


/* ---- parser state ---- */

struct style {
	int tag;		/* enum stag */
	char fg[16], bg[16];
	long size;
	const char *display;	/* style_display, NULL if unset */
	const char *visibility;
};

struct attr {
	char *name;		/* lowercased */
	char *val;		/* decoded; never NULL (3.81 gives the name) */
	size_t len;		/* of val, which may hold NULs */
	bool utf8;		/* a Perl character string (else Latin-1 bytes) */
};

enum ms { MS_NONE, MS_INCLUDE, MS_RCDATA, MS_CDATA, MS_IGNORE };

struct hp {
	/* tokenizer */
	struct mime_str pend;		/* unconsumed input */
	const char *lit;		/* literal mode element, NULL if none */
	bool is_cdata;
	bool no_dash_dash_comment_end;
	const char *pending_end_tag;
	int *ms_stack;			/* max marked-section keyword up to each level */
	size_t ms_n, ms_cap;
	enum ms ms;
	bool in_utf8;

	/* renderer */
	struct html_result *r;
	struct mime_str text;
	size_t pieces_cap;
	size_t last_start;		/* where the last text element begins */
	struct style *st;
	size_t nst, st_cap;
	bool invisible, invisible_known;	/* html_font_invisible() of st */
	size_t stcount[ST_COUNT];
	long basefont;
	struct smap inside;
	struct smap uris;
	struct smap backhair;
	char *base_href;
	size_t base_len;
	char *anchor_last;
	struct mime_str *anchors;
	size_t nanchors, anchors_cap;
	struct mime_str *titles;
	size_t ntitles, titles_cap;
	long title_index;
	struct strlist strpool;		/* style strings referenced by st[] */
	bool text_utf8;
	/* per text event scratch: entity-decoded and squeezed text */
	struct mime_str ev_decoded, ev_squeezed;
};


static inline const char *
attr_get(const struct attr *a, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i].name, name) == 0)
			return a[i].val;
	return NULL;
}

static inline size_t
attr_len(const struct attr *a, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i].name, name) == 0)
			return a[i].len;
	return 0;
}

static inline bool
attr_utf8(const struct attr *a, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i].name, name) == 0)
			return a[i].utf8;
	return false;
}

/* html.c: HTML.pm's handlers, called by the tokenizer's events. */
void html_pm_tag(struct hp *hp, const char *tag, struct attr *a, size_t n, int num);
void html_pm_text(struct hp *hp, const char *text, size_t n, bool flagged);
void html_pm_comment(struct hp *hp, const char *p, size_t n);
void html_pm_declaration(struct hp *hp, const char *p, size_t n);

/* html_parse.c: HTML::Parser's parse($chunk) and eof. */
void html_parser_feed(struct hp *hp, const char *p, size_t n);
void html_parser_eof(struct hp *hp);

/* html_style.c: the text style stack. */
void html_st_push(struct hp *hp, const struct style *s);
void html_text_style(struct hp *hp, const char *tagname, const struct attr *attrs,
		     size_t nattrs, int num);
bool html_font_invisible(struct hp *hp);

/* html_uri.c: URIs. */
void html_add_uri_key(struct hp *hp, const char *u, size_t n);
char *html_canon_uri(struct hp *hp, const char *u, size_t n, bool utf8, size_t *len_r);
void html_pm_uri(struct hp *hp, const char *tag, struct attr *a, size_t n);

#endif
