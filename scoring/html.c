/* html: SpamAssassin's HTML.pm rendering on top of a tokenizer that
 * behaves as HTML::Parser 3.81 does with the options HTML.pm sets
 * (api_version 3, marked_sections 1, everything else default).
 *
 * Tokenizer: text runs, start tags (any run of non-space non-'>' as the
 * name, attributes with quoted, unquoted or no values, first value of a
 * repeated attribute wins, a valueless attribute gets its name as value),
 * end tags (anything up to '>', quotes skipped as MSIE does), comments
 * ("<!--" to "--" [space] ">", at end of input to the first ">"), "<!...>"
 * declarations and bogus comments, marked sections, processing
 * instructions, literal mode after script/style/xmp/iframe/plaintext
 * (no entity decoding) and title/textarea (decoded), and its end of
 * document rules (unclosed script/style become empty, unterminated markup
 * a comment, text held back at the end of a chunk).
 *
 * Renderer: HTML.pm's html_tag/html_text/display_text with its text style
 * stack, whitespace elements, invisible text, URI collection (target_uri
 * against <base href>) and statistics.  All lists grow with the input
 * only; the style stack keeps per-tag counts so closing a tag never scans
 * the stack. */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>

#include "html.h"
#include "mime.h"
#include "xalloc.h"

/* ---- character classes (HTML::Parser's hctype table) ---- */

static bool
hp_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0;
}

static bool
hp_name_first(unsigned char c)
{
	return isalpha(c) || c == '_' || c == ':';
}

static bool
hp_name_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == ':' || c == '.' || c == '-';
}

static bool
hp_not_space_gt(unsigned char c)
{
	return !hp_space(c) && c != '>';
}

static bool
hp_not_space_eq_gt(unsigned char c)
{
	return !hp_space(c) && c != '>' && c != '=';
}

static bool
ascii_alnum_us(unsigned char c)
{
	return isalnum(c) || c == '_';
}

static bool
is_ws_ascii(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static char
lc(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* ---- UTF-8 helpers ---- */

static void
put_utf8(struct mime_str *out, uint32_t cp)
{
	char b[4];

	if (cp < 0x80) {
		b[0] = (char)cp;
		mime_str_add(out, b, 1);
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		mime_str_add(out, b, 2);
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		mime_str_add(out, b, 3);
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		mime_str_add(out, b, 4);
	}
}

/* Decodes one UTF-8 character at p (lenient: a bad byte is itself). */
static uint32_t
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
static bool
uni_space(uint32_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0xa0 ||
	       c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 ||
	       c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

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

static uint64_t
smap_hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static struct smap_ent *
smap_find(struct smap *m, const char *k, size_t n, bool create, bool *created)
{
	if (created != NULL)
		*created = false;
	if (m->cap == 0) {
		if (!create)
			return NULL;
		m->cap = 32;
		m->v = xcalloc(m->cap, sizeof(*m->v));
	}
	if (create && (m->n + 1) * 2 > m->cap) {
		struct smap old = *m;

		m->cap *= 2;
		m->v = xcalloc(m->cap, sizeof(*m->v));
		m->n = 0;
		for (size_t i = 0; i < old.cap; i++) {
			if (old.v[i].key == NULL)
				continue;
			size_t j = smap_hash(old.v[i].key, old.v[i].len) & (m->cap - 1);
			while (m->v[j].key != NULL)
				j = (j + 1) & (m->cap - 1);
			m->v[j] = old.v[i];
			m->n++;
		}
		free(old.v);
	}
	size_t i = smap_hash(k, n) & (m->cap - 1);
	while (m->v[i].key != NULL) {
		if (m->v[i].len == n && memcmp(m->v[i].key, k, n) == 0)
			return &m->v[i];
		i = (i + 1) & (m->cap - 1);
	}
	if (!create)
		return NULL;
	m->v[i].key = xstrndup(k, n);
	m->v[i].len = n;
	m->v[i].val = 0;
	m->v[i].order = m->n;
	m->n++;
	if (created != NULL)
		*created = true;
	return &m->v[i];
}

static void
smap_free(struct smap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->v[i].key);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/* ---- tag tables (HTML.pm) ---- */

enum {
	T_ELEM = 1,		/* %elements */
	T_TRICK = 2,		/* %tricks */
	T_STYLE = 4,		/* %elements_text_style */
	T_WS = 8,		/* %elements_whitespace */
	T_URI = 16,		/* %elements_uri */
};

struct tagdef {
	const char *name;
	int flags;
};

/* Sorted by name for bsearch. */
static const struct tagdef tagdefs[] = {
	{ "a", T_ELEM | T_STYLE | T_URI }, { "abbr", T_ELEM }, { "acronym", T_ELEM },
	{ "address", T_ELEM }, { "applet", T_ELEM }, { "area", T_ELEM | T_URI },
	{ "b", T_ELEM }, { "base", T_ELEM | T_URI }, { "basefont", T_ELEM | T_STYLE },
	{ "bdo", T_ELEM }, { "bgsound", T_TRICK | T_URI }, { "big", T_ELEM | T_STYLE },
	{ "blockquote", T_ELEM | T_WS }, { "body", T_ELEM | T_STYLE | T_URI },
	{ "br", T_ELEM | T_WS }, { "button", T_ELEM }, { "caption", T_ELEM },
	{ "center", T_ELEM }, { "cite", T_ELEM }, { "code", T_ELEM }, { "col", T_ELEM },
	{ "colgroup", T_ELEM }, { "dd", T_ELEM | T_WS }, { "del", T_ELEM },
	{ "dfn", T_ELEM }, { "dir", T_ELEM }, { "div", T_ELEM | T_STYLE | T_WS },
	{ "dl", T_ELEM }, { "dt", T_ELEM | T_WS }, { "em", T_ELEM },
	{ "embed", T_TRICK | T_WS | T_URI }, { "fieldset", T_ELEM }, { "font", T_ELEM | T_STYLE },
	{ "form", T_ELEM | T_URI }, { "frame", T_ELEM | T_URI }, { "frameset", T_ELEM },
	{ "h1", T_ELEM | T_WS }, { "h2", T_ELEM | T_WS }, { "h3", T_ELEM | T_WS },
	{ "h4", T_ELEM | T_WS }, { "h5", T_ELEM | T_WS }, { "h6", T_ELEM | T_WS },
	{ "head", T_ELEM }, { "hr", T_ELEM | T_WS }, { "html", T_ELEM }, { "i", T_ELEM },
	{ "iframe", T_ELEM | T_URI }, { "img", T_ELEM | T_URI }, { "input", T_ELEM },
	{ "ins", T_ELEM }, { "isindex", T_ELEM }, { "kbd", T_ELEM }, { "label", T_ELEM },
	{ "legend", T_ELEM }, { "li", T_ELEM | T_WS }, { "link", T_ELEM | T_URI },
	{ "listing", T_TRICK | T_WS }, { "map", T_ELEM }, { "marquee", T_STYLE },
	{ "menu", T_ELEM }, { "meta", T_ELEM | T_URI }, { "nobr", T_ELEM },
	{ "noframes", T_ELEM }, { "noscript", T_ELEM }, { "object", T_ELEM },
	{ "ol", T_ELEM }, { "optgroup", T_ELEM }, { "option", T_ELEM },
	{ "p", T_ELEM | T_STYLE | T_WS }, { "param", T_ELEM },
	{ "plaintext", T_TRICK | T_WS }, { "pre", T_ELEM | T_WS }, { "q", T_ELEM },
	{ "s", T_ELEM }, { "samp", T_ELEM }, { "script", T_ELEM | T_URI },
	{ "select", T_ELEM }, { "small", T_ELEM | T_STYLE }, { "span", T_ELEM | T_STYLE },
	{ "strike", T_ELEM }, { "strong", T_ELEM }, { "style", T_ELEM }, { "sub", T_ELEM },
	{ "sup", T_ELEM }, { "table", T_ELEM | T_STYLE | T_URI }, { "tbody", T_ELEM },
	{ "td", T_ELEM | T_STYLE | T_WS | T_URI }, { "textarea", T_ELEM }, { "tfoot", T_ELEM },
	{ "th", T_ELEM | T_STYLE | T_WS }, { "thead", T_ELEM },
	{ "title", T_ELEM | T_WS }, { "tr", T_ELEM | T_STYLE | T_URI }, { "tt", T_ELEM },
	{ "u", T_ELEM }, { "ul", T_ELEM }, { "var", T_ELEM }, { "x-sigsep", T_ELEM },
	{ "x-tab", T_ELEM }, { "xmp", T_TRICK | T_WS },
};

static int
tagdef_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, ((const struct tagdef *)b)->name);
}

static int
tag_flags(const char *tag)
{
	const struct tagdef *d = bsearch(tag, tagdefs, N_ELEMENTS(tagdefs),
					 sizeof(tagdefs[0]), tagdef_cmp);

	return d == NULL ? 0 : d->flags;
}

/* The text-style tags, as indices for the per-tag stack counts. */
enum stag {
	ST_DEFAULT, ST_BODY, ST_FONT, ST_TABLE, ST_TR, ST_TD, ST_BIG, ST_SMALL,
	ST_BASEFONT, ST_MARQUEE, ST_SPAN, ST_P, ST_DIV, ST_A, ST_COUNT
};

static const char *const stag_names[ST_COUNT] = {
	"default", "body", "font", "table", "tr", "td", "big", "small",
	"basefont", "marquee", "span", "p", "div", "a"
};

static int
stag_of(const char *tag)
{
	if (strcmp(tag, "th") == 0)
		return ST_TD;
	for (int i = 1; i < ST_COUNT; i++)
		if (strcmp(tag, stag_names[i]) == 0)
			return i;
	return -1;
}

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
	int *ms_stack;			/* max marked-section keyword per level */
	size_t ms_n, ms_cap;
	enum ms ms;
	bool in_utf8;

	/* renderer */
	struct html_result *r;
	struct mime_str text;
	size_t pieces_cap;
	struct style *st;
	size_t nst, st_cap;
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
};

/* ---- renderer helpers ---- */

static void
add_uri_key(struct hp *hp, const char *u, size_t n)
{
	bool created;

	smap_find(&hp->uris, u, n, true, &created);
}

static const char *
attr_get(const struct attr *a, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i].name, name) == 0)
			return a[i].val;
	return NULL;
}

static size_t
attr_len(const struct attr *a, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i].name, name) == 0)
			return a[i].len;
	return 0;
}

static bool
attr_utf8(const struct attr *a, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i].name, name) == 0)
			return a[i].utf8;
	return false;
}

/* A NUL-terminated copy of p[0..n), which may hold NULs itself. */
static char *
dup_bytes(const char *p, size_t n)
{
	char *d = xmalloc(n + 1);

	if (n > 0)
		memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

/* canon_uri: trim [\s\xA0] at both ends, cap at MAX_URI_LENGTH (8192)
 * characters.  utf8: u is a character string (UTF-8), else bytes. */
static char *
canon_uri(struct hp *hp, const char *u, size_t n, bool utf8, size_t *len_r)
{
	size_t b = 0, e = n, adv;

	if (!utf8) {
		while (b < e && ((unsigned char)u[b] == 0xa0 || is_ws_ascii(u[b])))
			b++;
		while (e > b && ((unsigned char)u[e - 1] == 0xa0 || is_ws_ascii(u[e - 1])))
			e--;
		if (e - b > 8192) {
			hp->r->uri_truncated = true;
			e = b + 8192;
		}
		*len_r = e - b;
		return dup_bytes(u + b, e - b);
	}
	while (b < e) {
		uint32_t c = get_utf8((const unsigned char *)u + b, e - b, &adv);

		if (!(c == 0xa0 || uni_space(c)))
			break;
		b += adv;
	}
	while (e > b) {
		size_t k = e - 1;

		while (k > b && ((unsigned char)u[k] & 0xc0) == 0x80)
			k--;
		uint32_t c = get_utf8((const unsigned char *)u + k, e - k, &adv);

		if (!(c == 0xa0 || uni_space(c)))
			break;
		e = k;
	}
	if (e - b > 8192) {
		size_t i = b, chars = 0;

		while (i < e && chars < 8192) {
			get_utf8((const unsigned char *)u + i, e - i, &adv);
			i += adv;
			chars++;
		}
		if (i < e) {
			hp->r->uri_truncated = true;
			e = i;
		}
	}
	*len_r = e - b;
	return dup_bytes(u + b, e - b);
}

/* ---- RFC 2396 resolution (HTML.pm target_uri) ---- */

struct puri {
	const char *scheme, *auth, *path, *query, *frag;
	size_t scheme_n, auth_n, path_n, query_n, frag_n;
};

/* ^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))? */
static void
parse_uri(const char *u, size_t n, struct puri *p)
{
	size_t i = 0;

	memset(p, 0, sizeof(*p));
	while (i < n && u[i] != ':' && u[i] != '/' && u[i] != '?' && u[i] != '#')
		i++;
	if (i > 0 && i < n && u[i] == ':') {
		p->scheme = u;
		p->scheme_n = i;
		u += i + 1;
		n -= i + 1;
	}
	i = 0;
	if (n >= 2 && u[0] == '/' && u[1] == '/') {
		i = 2;
		while (i < n && u[i] != '/' && u[i] != '?' && u[i] != '#')
			i++;
		p->auth = u + 2;
		p->auth_n = i - 2;
		u += i;
		n -= i;
	}
	i = 0;
	while (i < n && u[i] != '?' && u[i] != '#')
		i++;
	p->path = u;
	p->path_n = i;
	u += i;
	n -= i;
	if (n > 0 && u[0] == '?') {
		i = 1;
		while (i < n && u[i] != '#')
			i++;
		p->query = u + 1;
		p->query_n = i - 1;
		u += i;
		n -= i;
	}
	if (n > 0 && u[0] == '#') {
		/* (.*) stops at a newline */
		i = 1;
		while (i < n && u[i] != '\n')
			i++;
		p->frag = u + 1;
		p->frag_n = i - 1;
	}
}

static void
remove_dot_segments(const char *in, size_t n, struct mime_str *out)
{
	struct mime_str buf = { 0 };
	size_t i = 0;

	/* s@^(?:\.\.?/)@/@ */
	if (n >= 2 && in[0] == '.' && in[1] == '/') {
		mime_str_addc(&buf, '/');
		i = 2;
	} else if (n >= 3 && in[0] == '.' && in[1] == '.' && in[2] == '/') {
		mime_str_addc(&buf, '/');
		i = 3;
	}
	mime_str_add(&buf, in + i, n - i);
	out->len = 0;
	mime_str_add(out, "", 0);
	/* while ($input): a string "0" is false in Perl too */
	size_t pos = 0;
	const char *s = buf.p;
	size_t len = buf.len;

	while (pos < len && !(len - pos == 1 && s[pos] == '0')) {
		const char *c = s + pos;
		size_t rem = len - pos;

		if (rem >= 2 && c[0] == '/' && c[1] == '.' && (rem == 2 || c[2] == '/')) {
			/* s@^/\.(?:$|/)@/@ */
			pos += (rem == 2) ? 2 : 3;
			pos--;
			buf.p[pos] = '/';
		} else if (rem >= 3 && c[0] == '/' && c[1] == '.' && c[2] == '.' &&
			   (rem == 3 || c[3] == '/')) {
			pos += (rem == 3) ? 3 : 4;
			pos--;
			buf.p[pos] = '/';
			/* $output =~ s@/?[^/]*$@@ */
			size_t e = out->len;
			while (e > 0 && out->p[e - 1] != '/')
				e--;
			if (e > 0)
				e--;
			out->len = e;
			out->p[e] = '\0';
		} else {
			/* s@(/?[^/]*)@@ */
			size_t k = 0;

			if (c[0] == '/')
				k = 1;
			while (k < rem && c[k] != '/')
				k++;
			mime_str_add(out, c, k);
			pos += k;
			if (k == 0)
				break;
		}
	}
	mime_str_free(&buf);
}

static char *
target_uri(const char *base, size_t bn, const char *r, size_t rn, size_t *len_r)
{
	struct puri R, B;
	struct mime_str t_path = { 0 }, res = { 0 };
	const char *t_scheme = NULL, *t_auth = NULL, *t_query = NULL;
	size_t t_scheme_n = 0, t_auth_n = 0, t_query_n = 0;
	bool has_scheme, has_auth, has_query;

	parse_uri(r, rn, &R);
	parse_uri(base, bn, &B);
	if (R.scheme != NULL && B.scheme != NULL && R.scheme_n == B.scheme_n &&
	    memcmp(R.scheme, B.scheme, R.scheme_n) == 0)
		R.scheme = NULL;
	mime_str_add(&t_path, "", 0);
	if (R.scheme != NULL) {
		t_scheme = R.scheme;
		t_scheme_n = R.scheme_n;
		t_auth = R.auth;
		t_auth_n = R.auth_n;
		remove_dot_segments(R.path, R.path_n, &t_path);
		t_query = R.query;
		t_query_n = R.query_n;
	} else {
		if (R.auth != NULL) {
			t_auth = R.auth;
			t_auth_n = R.auth_n;
			remove_dot_segments(R.path, R.path_n, &t_path);
			t_query = R.query;
			t_query_n = R.query_n;
		} else {
			if (R.path_n == 0) {
				mime_str_add(&t_path, B.path, B.path_n);
				if (R.query != NULL) {
					t_query = R.query;
					t_query_n = R.query_n;
				} else {
					t_query = B.query;
					t_query_n = B.query_n;
				}
			} else {
				if (R.path[0] == '/') {
					remove_dot_segments(R.path, R.path_n, &t_path);
				} else {
					/* _merge_uri */
					struct mime_str m = { 0 };

					if (B.auth != NULL && B.path_n == 0) {
						mime_str_addc(&m, '/');
						mime_str_add(&m, R.path, R.path_n);
					} else {
						size_t k = B.path_n;

						if (memchr(B.path, '/', B.path_n) != NULL) {
							while (k > 0 && B.path[k - 1] != '/')
								k--;
						} else {
							k = 0;
						}
						mime_str_add(&m, B.path, k);
						mime_str_add(&m, R.path, R.path_n);
					}
					remove_dot_segments(m.p, m.len, &t_path);
					mime_str_free(&m);
				}
				t_query = R.query;
				t_query_n = R.query_n;
			}
			t_auth = B.auth;
			t_auth_n = B.auth_n;
		}
		t_scheme = B.scheme;
		t_scheme_n = B.scheme_n;
	}
	has_scheme = t_scheme != NULL && !(t_scheme_n == 1 && t_scheme[0] == '0');
	has_auth = t_auth != NULL;
	has_query = t_query != NULL;
	mime_str_add(&res, "", 0);
	if (has_scheme) {
		mime_str_add(&res, t_scheme, t_scheme_n);
		mime_str_addc(&res, ':');
	} else if (has_auth) {
		if (t_auth_n >= 4 && strncasecmp(t_auth, "www", 3) == 0) {
			size_t k = 3;
			while (k < t_auth_n && isdigit((unsigned char)t_auth[k]))
				k++;
			if (k < t_auth_n && t_auth[k] == '.')
				mime_str_add(&res, "http:", 5);
		} else if (t_auth_n >= 4 && strncasecmp(t_auth, "ftp", 3) == 0) {
			size_t k = 3;
			while (k < t_auth_n && isdigit((unsigned char)t_auth[k]))
				k++;
			if (k < t_auth_n && t_auth[k] == '.')
				mime_str_add(&res, "ftp:", 4);
		}
	}
	if (has_auth) {
		mime_str_add(&res, "//", 2);
		mime_str_add(&res, t_auth, t_auth_n);
	}
	mime_str_add(&res, t_path.p, t_path.len);
	if (has_query) {
		mime_str_addc(&res, '?');
		mime_str_add(&res, t_query, t_query_n);
	}
	if (R.frag != NULL) {
		mime_str_addc(&res, '#');
		mime_str_add(&res, R.frag, R.frag_n);
	}
	mime_str_free(&t_path);
	*len_r = res.len;
	return res.p;
}

static void
push_uri(struct hp *hp, const char *uri, size_t ulen, bool utf8)
{
	size_t n;
	char *u = canon_uri(hp, uri, ulen, utf8, &n);

	if (n == 0) {
		free(u);
		return;
	}
	if ((strncasecmp(u, "data:", 5) == 0) || (strncasecmp(u, "mailto:", 7) == 0) ||
	    (strncasecmp(u, "file:", 5) == 0) || (strncasecmp(u, "cid:", 4) == 0) ||
	    (strncasecmp(u, "tel:", 4) == 0)) {
		add_uri_key(hp, u, n);
	} else {
		const char *base = hp->base_href != NULL ? hp->base_href : "";
		size_t tn;
		char *t = target_uri(base, hp->base_href != NULL ? hp->base_len : 0, u, n, &tn);

		if (tn > 0)
			add_uri_key(hp, t, tn);
		free(t);
	}
	free(u);
}

/* ---- colors ---- */

static const struct {
	const char *name;
	unsigned int rgb;
} html_colors[] = {
	{ "aliceblue", 0xf0f8ff }, { "antiquewhite", 0xfaebd7 }, { "aqua", 0x00ffff },
	{ "aquamarine", 0x7fffd4 }, { "azure", 0xf0ffff }, { "beige", 0xf5f5dc },
	{ "bisque", 0xffe4c4 }, { "black", 0x000000 }, { "blanchedalmond", 0xffebcd },
	{ "blue", 0x0000ff }, { "blueviolet", 0x8a2be2 }, { "brown", 0xa52a2a },
	{ "burlywood", 0xdeb887 }, { "cadetblue", 0x5f9ea0 }, { "chartreuse", 0x7fff00 },
	{ "chocolate", 0xd2691e }, { "coral", 0xff7f50 }, { "cornflowerblue", 0x6495ed },
	{ "cornsilk", 0xfff8dc }, { "crimson", 0xdc143c }, { "cyan", 0x00ffff },
	{ "darkblue", 0x00008b }, { "darkcyan", 0x008b8b }, { "darkgoldenrod", 0xb8860b },
	{ "darkgray", 0xa9a9a9 }, { "darkgreen", 0x006400 }, { "darkgrey", 0xa9a9a9 },
	{ "darkkhaki", 0xbdb76b }, { "darkmagenta", 0x8b008b }, { "darkolivegreen", 0x556b2f },
	{ "darkorange", 0xff8c00 }, { "darkorchid", 0x9932cc }, { "darkred", 0x8b0000 },
	{ "darksalmon", 0xe9967a }, { "darkseagreen", 0x8fbc8f }, { "darkslateblue", 0x483d8b },
	{ "darkslategray", 0x2f4f4f }, { "darkslategrey", 0x2f4f4f },
	{ "darkturquoise", 0x00ced1 }, { "darkviolet", 0x9400d3 }, { "deeppink", 0xff1493 },
	{ "deepskyblue", 0x00bfff }, { "dimgray", 0x696969 }, { "dimgrey", 0x696969 },
	{ "dodgerblue", 0x1e90ff }, { "firebrick", 0xb22222 }, { "floralwhite", 0xfffaf0 },
	{ "forestgreen", 0x228b22 }, { "fuchsia", 0xff00ff }, { "gainsboro", 0xdcdcdc },
	{ "ghostwhite", 0xf8f8ff }, { "gold", 0xffd700 }, { "goldenrod", 0xdaa520 },
	{ "gray", 0x808080 }, { "green", 0x008000 }, { "greenyellow", 0xadff2f },
	{ "grey", 0x808080 }, { "honeydew", 0xf0fff0 }, { "hotpink", 0xff69b4 },
	{ "indianred", 0xcd5c5c }, { "indigo", 0x4b0082 }, { "ivory", 0xfffff0 },
	{ "khaki", 0xf0e68c }, { "lavender", 0xe6e6fa }, { "lavenderblush", 0xfff0f5 },
	{ "lawngreen", 0x7cfc00 }, { "lemonchiffon", 0xfffacd }, { "lightblue", 0xadd8e6 },
	{ "lightcoral", 0xf08080 }, { "lightcyan", 0xe0ffff },
	{ "lightgoldenrodyellow", 0xfafad2 }, { "lightgray", 0xd3d3d3 },
	{ "lightgreen", 0x90ee90 }, { "lightgrey", 0xd3d3d3 }, { "lightpink", 0xffb6c1 },
	{ "lightsalmon", 0xffa07a }, { "lightseagreen", 0x20b2aa }, { "lightskyblue", 0x87cefa },
	{ "lightslategray", 0x778899 }, { "lightslategrey", 0x778899 },
	{ "lightsteelblue", 0xb0c4de }, { "lightyellow", 0xffffe0 }, { "lime", 0x00ff00 },
	{ "limegreen", 0x32cd32 }, { "linen", 0xfaf0e6 }, { "magenta", 0xff00ff },
	{ "maroon", 0x800000 }, { "mediumaquamarine", 0x66cdaa }, { "mediumblue", 0x0000cd },
	{ "mediumorchid", 0xba55d3 }, { "mediumpurple", 0x9370db },
	{ "mediumseagreen", 0x3cb371 }, { "mediumslateblue", 0x7b68ee },
	{ "mediumspringgreen", 0x00fa9a }, { "mediumturquoise", 0x48d1cc },
	{ "mediumvioletred", 0xc71585 }, { "midnightblue", 0x191970 }, { "mintcream", 0xf5fffa },
	{ "mistyrose", 0xffe4e1 }, { "moccasin", 0xffe4b5 }, { "navajowhite", 0xffdead },
	{ "navy", 0x000080 }, { "oldlace", 0xfdf5e6 }, { "olive", 0x808000 },
	{ "olivedrab", 0x6b8e23 }, { "orange", 0xffa500 }, { "orangered", 0xff4500 },
	{ "orchid", 0xda70d6 }, { "palegoldenrod", 0xeee8aa }, { "palegreen", 0x98fb98 },
	{ "paleturquoise", 0xafeeee }, { "palevioletred", 0xdb7093 }, { "papayawhip", 0xffefd5 },
	{ "peachpuff", 0xffdab9 }, { "peru", 0xcd853f }, { "pink", 0xffc0cb },
	{ "plum", 0xdda0dd }, { "powderblue", 0xb0e0e6 }, { "purple", 0x800080 },
	{ "red", 0xff0000 }, { "rosybrown", 0xbc8f8f }, { "royalblue", 0x4169e1 },
	{ "saddlebrown", 0x8b4513 }, { "salmon", 0xfa8072 }, { "sandybrown", 0xf4a460 },
	{ "seagreen", 0x2e8b57 }, { "seashell", 0xfff5ee }, { "sienna", 0xa0522d },
	{ "silver", 0xc0c0c0 }, { "skyblue", 0x87ceeb }, { "slateblue", 0x6a5acd },
	{ "slategray", 0x708090 }, { "slategrey", 0x708090 }, { "snow", 0xfffafa },
	{ "springgreen", 0x00ff7f }, { "steelblue", 0x4682b4 }, { "tan", 0xd2b48c },
	{ "teal", 0x008080 }, { "thistle", 0xd8bfd8 }, { "tomato", 0xff6347 },
	{ "turquoise", 0x40e0d0 }, { "violet", 0xee82ee }, { "wheat", 0xf5deb3 },
	{ "white", 0xffffff }, { "whitesmoke", 0xf5f5f5 }, { "yellow", 0xffff00 },
	{ "yellowgreen", 0x9acd32 },
};

/* Parses "rgb(" ... with the given separators rule; returns true and the
 * three numbers when the regex in name_to_rgb would match. */
static bool
rgb_match(const char *c, bool percent, unsigned long v[3])
{
	const char *p = c;

	while ((p = strstr(p, "rgb(")) != NULL) {
		const char *q = p + 4;
		int k;

		for (k = 0; k < 3; k++) {
			char *end;

			if (!isdigit((unsigned char)*q))
				break;
			v[k] = strtoul(q, &end, 10);
			q = end;
			if (percent) {
				if (*q != '%')
					break;
				q++;
			}
			if (k < 2) {
				if (*q != ',')
					break;
				q++;
				while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' ||
				       *q == '\f' || *q == '\v')
					q++;
			} else {
				while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' ||
				       *q == '\f' || *q == '\v')
					q++;
				if (*q != ')')
					break;
			}
		}
		if (k == 3)
			return true;
		p += 4;
	}
	return false;
}

static void
hex2(char *out, unsigned long d)
{
	/* dec2hex: "0" prefix below 16, then %lx */
	if (d < 16)
		sprintf(out, "0%lx", d);
	else
		sprintf(out, "%lx", d);
}

/* HTML.pm name_to_rgb: "#rrggbb" or "invalid". */
static void
name_to_rgb(const char *in, char out[16])
{
	char buf[256];
	size_t n = 0, b = 0, e;

	for (const char *p = in; *p != '\0' && n < sizeof(buf) - 1; p++)
		buf[n++] = lc(*p);
	buf[n] = '\0';
	while (b < n && (buf[b] == ' ' || (buf[b] >= '\t' && buf[b] <= '\r')))
		b++;
	e = n;
	while (e > b && (buf[e - 1] == ' ' || (buf[e - 1] >= '\t' && buf[e - 1] <= '\r')))
		e--;
	buf[e] = '\0';
	char *c = buf + b;
	{
		size_t lo = 0, hi = N_ELEMENTS(html_colors);

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			int r = strcmp(c, html_colors[mid].name);

			if (r == 0) {
				snprintf(out, 16, "#%06x", html_colors[mid].rgb);
				return;
			}
			if (r < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	/* m/^[#a-f0-9]*$|rgb\([\d%, ]*\)/i */
	bool ok = true;
	for (char *p = c; *p != '\0'; p++)
		if (!(*p == '#' || isdigit((unsigned char)*p) || (*p >= 'a' && *p <= 'f')))
			ok = false;
	if (!ok) {
		const char *p = c;

		while ((p = strstr(p, "rgb(")) != NULL) {
			const char *q = p + 4;

			while (isdigit((unsigned char)*q) || *q == '%' || *q == ',' || *q == ' ')
				q++;
			if (*q == ')') {
				ok = true;
				break;
			}
			p += 4;
		}
	}
	if (!ok) {
		snprintf(out, 16, "invalid");
		return;
	}
	char col[256];
	snprintf(col, sizeof(col), "%s", c);
	unsigned long v[3];
	if (rgb_match(col, true, v)) {
		char h[3][24];

		for (int i = 0; i < 3; i++)
			hex2(h[i], (unsigned long)((double)v[i] / 100 * 255));
		snprintf(col, sizeof(col), "#%s%s%s", h[0], h[1], h[2]);
	}
	if (rgb_match(col, false, v)) {
		char h[3][24];

		for (int i = 0; i < 3; i++)
			hex2(h[i], v[i]);
		snprintf(col, sizeof(col), "#%s%s%s", h[0], h[1], h[2]);
	}
	if (col[0] != '#') {
		snprintf(out, 16, "invalid");
		return;
	}
	char hx[256];
	size_t hn = 0;
	for (char *p = col; *p != '\0'; p++)
		if (isxdigit((unsigned char)*p))
			hx[hn++] = lc(*p);
	hx[hn] = '\0';
	if (hn > 6)
		hn = 6;
	if (hn > 3 && hn < 6)
		hn = 3;
	hx[hn] = '\0';
	while (hn % 3 != 0)
		hx[hn++] = '0';
	hx[hn] = '\0';
	if (hn == 3) {
		char d[7] = { hx[0], hx[0], hx[1], hx[1], hx[2], hx[2], 0 };

		snprintf(out, 16, "#%s", d);
		return;
	}
	out[0] = '#';
	memcpy(out + 1, hx, hn + 1);
}

/* parse_css_background: the values of the last layer, appended to vals
 * (as one NUL-separated list in out, count in *n). */
static void
css_background_last_layer(const char *bg, struct strlist *vals)
{
	struct mime_str tok = { 0 };
	struct strlist layer;
	int stack[64];
	int sp = 0, state = 0;

	strlist_init(&layer);
	mime_str_add(&tok, "", 0);
	for (const char *p = bg; *p != '\0'; p++) {
		char ch = *p;

		if (state == 0) {
			if (ch == ' ') {
				if (tok.len > 0)
					strlist_add(&layer, tok.p, tok.len);
				tok.len = 0;
			} else if (ch == '(' || ch == '"' || ch == '\'') {
				mime_str_addc(&tok, ch);
				if (sp < 64)
					stack[sp++] = state;
				state = ch == '(' ? 1 : ch == '"' ? 2 : 3;
			} else if (ch == ',') {
				if (tok.len > 0)
					strlist_add(&layer, tok.p, tok.len);
				tok.len = 0;
				/* push @layers, [ @tokens ]; only the last matters */
				strlist_free(&layer);
				strlist_init(&layer);
				/* an empty layer stays "the last" if nothing follows */
			} else {
				mime_str_addc(&tok, ch);
			}
		} else if (state == 1) {
			mime_str_addc(&tok, ch);
			if (ch == ')') {
				strlist_add(&layer, tok.p, tok.len);
				tok.len = 0;
				state = sp > 0 ? stack[--sp] : 0;
			} else if (ch == '"' || ch == '\'') {
				if (sp < 64)
					stack[sp++] = state;
				state = ch == '"' ? 2 : 3;
			}
		} else {
			mime_str_addc(&tok, ch);
			if ((state == 2 && ch == '"') || (state == 3 && ch == '\''))
				state = sp > 0 ? stack[--sp] : 0;
		}
	}
	if (tok.len > 0)
		strlist_add(&layer, tok.p, tok.len);
	for (size_t i = 0; i < layer.n; i++)
		strlist_add(vals, layer.v[i].p, layer.v[i].len);
	strlist_free(&layer);
	mime_str_free(&tok);
}

/* ---- text style stack ---- */

static struct style *
st_top(struct hp *hp)
{
	return &hp->st[hp->nst - 1];
}

static void
st_push(struct hp *hp, const struct style *s)
{
	if (hp->nst == hp->st_cap) {
		hp->st_cap = hp->st_cap ? hp->st_cap * 2 : 16;
		hp->st = xreallocarray(hp->st, hp->st_cap, sizeof(*hp->st));
	}
	hp->st[hp->nst++] = *s;
	hp->stcount[s->tag]++;
}

static void
st_pop(struct hp *hp)
{
	hp->nst--;
	hp->stcount[hp->st[hp->nst].tag]--;
}

static void
close_table_tag(struct hp *hp, int tag)
{
	if (hp->stcount[tag] == 0)
		return;
	while (hp->nst > 0) {
		int top = st_top(hp)->tag;

		/* the default element's tag "default" is true in Perl */
		if ((tag == ST_TD && (top == ST_FONT || top == ST_TD)) ||
		    (tag == ST_TR && (top == ST_FONT || top == ST_TD || top == ST_TR)))
			st_pop(hp);
		else
			break;
	}
}

static void
close_tag(struct hp *hp, int tag)
{
	if (hp->stcount[tag] == 0)
		return;
	while (hp->nst > 1) {
		int t = st_top(hp)->tag;

		st_pop(hp);
		if (t == tag)
			break;
	}
}

static const char *
pool_str(struct hp *hp, const char *p, size_t n)
{
	strlist_add(&hp->strpool, p, n);
	return hp->strpool.v[hp->strpool.n - 1].p;
}

static void
text_style(struct hp *hp, const char *tagname, const struct attr *attrs,
	   size_t nattrs, int num)
{
	int tag = stag_of(tagname);

	if (tag < 0)
		return;
	if (num != 1) {
		if (tag != ST_BODY)
			close_tag(hp, tag);
		return;
	}
	if (tag == ST_BASEFONT) {
		const char *sz = attr_get(attrs, nattrs, "size");

		if (sz != NULL) {
			const char *p = sz;

			while (is_ws_ascii(*p))
				p++;
			if (isdigit((unsigned char)*p)) {
				hp->basefont = strtol(p, NULL, 10);
				return;
			}
		}
	}
	if (tag == ST_TD || tag == ST_TR)
		close_table_tag(hp, tag);

	struct style nw = *st_top(hp);

	nw.tag = tag;
	if (tag == ST_BIG || tag == ST_SMALL) {
		nw.size += tag == ST_BIG ? 1 : -1;
		st_push(hp, &nw);
		return;
	}
	for (size_t i = 0; i < nattrs; i++) {
		const char *name = attrs[i].name, *val = attrs[i].val;
		bool ok;

		switch (tag) {
		case ST_BASEFONT:
		case ST_FONT:
			ok = !strcmp(name, "color") || !strcmp(name, "face") || !strcmp(name, "size");
			break;
		case ST_BODY:
			ok = !strcmp(name, "text") || !strcmp(name, "bgcolor") ||
			     !strcmp(name, "link") || !strcmp(name, "alink") ||
			     !strcmp(name, "vlink") || !strcmp(name, "background");
			break;
		case ST_MARQUEE:
			ok = !strcmp(name, "bgcolor") || !strcmp(name, "background");
			break;
		case ST_TABLE:
		case ST_TD:
		case ST_TR:
			ok = !strcmp(name, "bgcolor") || !strcmp(name, "style");
			break;
		case ST_SPAN:
		case ST_P:
		case ST_DIV:
		case ST_A:
			ok = !strcmp(name, "style");
			break;
		default:
			ok = false;
		}
		if (!ok)
			continue;
		if (!strcmp(name, "text") || !strcmp(name, "color")) {
			name_to_rgb(val, nw.fg);
		} else if (!strcmp(name, "size")) {
			const char *p = val;

			while (is_ws_ascii(*p))
				p++;
			if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]))
				nw.size = hp->basefont + strtol(p, NULL, 10);
			else if (isdigit((unsigned char)*p))
				nw.size = strtol(p, NULL, 10);
		} else if (!strcmp(name, "style")) {
			char *sty = xstrdup(val);
			char *save = NULL;

			/* split(/;/, ...) drops trailing empty fields */
			for (char *part = sty, *next; part != NULL; part = next) {
				char *semi = strchr(part, ';');

				next = semi != NULL ? semi + 1 : NULL;
				if (semi != NULL)
					*semi = '\0';
				char *p = part;

				while (is_ws_ascii(*p))
					p++;
				bool bgp = strncasecmp(p, "background-", 11) == 0 &&
					   strncasecmp(p + 11, "color:", 6) == 0;
				if (bgp || strncasecmp(p, "color:", 6) == 0) {
					/* (background-)?color:\s*(.+?)\s*$ */
					char *v = p + (bgp ? 17 : 6);

					while (is_ws_ascii(*v))
						v++;
					size_t vl = strlen(v);
					while (vl > 0 && is_ws_ascii(v[vl - 1]))
						vl--;
					/* .+? needs one char and no newline inside */
					if (vl == 0 || memchr(v, '\n', vl) != NULL)
						goto other;
					char value[512];
					size_t k = vl < sizeof(value) - 1 ? vl : sizeof(value) - 1;
					for (size_t j = 0; j < k; j++)
						value[j] = lc(v[j]);
					value[k] = '\0';
					/* s/\s*!\s*important$// */
					{
						char *imp = strstr(value, "important");

						while (imp != NULL && strcmp(imp, "important") != 0)
							imp = strstr(imp + 1, "important");
						if (imp != NULL) {
							char *q = imp;

							while (q > value && is_ws_ascii(q[-1]))
								q--;
							if (q > value && q[-1] == '!') {
								q--;
								while (q > value && is_ws_ascii(q[-1]))
									q--;
								*q = '\0';
							}
						}
					}
					char *dst = bgp ? nw.bg : nw.fg;
					if (strstr(value, "rgb") != NULL) {
						char digits[512];
						size_t dn = 0;
						unsigned long rgb[3] = { 0, 0, 0 };
						int idx = 0;

						for (char *q = value; *q; q++)
							if (isdigit((unsigned char)*q) || *q == ',')
								digits[dn++] = *q;
						digits[dn] = '\0';
						/* split(/,/) then @rgb[0..2] */
						char *q = digits;
						while (idx < 3 && q != NULL) {
							char *comma = strchr(q, ',');
							if (comma != NULL)
								*comma = '\0';
							unsigned long x = strtoul(q, NULL, 10);
							rgb[idx++] = x > 255 ? 255 : x;
							q = comma != NULL ? comma + 1 : NULL;
						}
						snprintf(dst, 16, "#%02lx%02lx%02lx", rgb[0], rgb[1], rgb[2]);
					} else if (strcmp(value, "inherit") == 0) {
						/* nothing */
					} else if (strcmp(value, "transparent") == 0) {
						snprintf(dst, 16, "transparent");
					} else {
						name_to_rgb(value, dst);
					}
					continue;
				}
				if (strncmp(p, "background:", 11) == 0) {
					char *v = p + 11;

					while (is_ws_ascii(*v))
						v++;
					size_t vl = strlen(v);
					while (vl > 0 && is_ws_ascii(v[vl - 1]))
						vl--;
					if (vl == 0 || memchr(v, '\n', vl) != NULL)
						goto other;
					char *bgv = xstrndup(v, vl);
					for (char *q = bgv; *q; q++)
						*q = lc(*q);
					struct strlist vals;
					strlist_init(&vals);
					css_background_last_layer(bgv, &vals);
					for (size_t j = 0; j < vals.n; j++) {
						char c[16];

						name_to_rgb(vals.v[j].p, c);
						if (strcmp(c, "invalid") != 0) {
							memcpy(nw.bg, c, sizeof(c));
							break;
						}
					}
					strlist_free(&vals);
					free(bgv);
					continue;
				}
			other:
				/* ^\s*([a-z_-]+)\s*:\s*(\S.*?)\s*$ */
				{
					char *q = p;

					while ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
					       *q == '_' || *q == '-')
						q++;
					if (q == p)
						continue;
					char *ne = q;
					while (is_ws_ascii(*q))
						q++;
					if (*q != ':')
						continue;
					q++;
					while (is_ws_ascii(*q))
						q++;
					size_t vl = strlen(q);
					while (vl > 0 && is_ws_ascii(q[vl - 1]))
						vl--;
					if (vl == 0 || memchr(q, '\n', vl) != NULL)
						continue;
					size_t nl = (size_t)(ne - p);
					if (nl == 7 && memcmp(p, "display", 7) == 0)
						nw.display = pool_str(hp, q, vl);
					else if (nl == 10 && memcmp(p, "visibility", 10) == 0)
						nw.visibility = pool_str(hp, q, vl);
				}
			}
			(void)save;
			free(sty);
			if (strcmp(nw.bg, "transparent") == 0)
				memcpy(nw.bg, st_top(hp)->bg, sizeof(nw.bg));
			if (strcmp(nw.fg, "transparent") == 0)
				memcpy(nw.fg, nw.bg, sizeof(nw.fg));
		}
		/* bgcolor: HTML.pm converts the attribute but never stores it */
		if (nw.size > hp->r->max_size)
			hp->r->max_size = (int)(nw.size > 1000000 ? 1000000 : nw.size);
		else if (nw.size < hp->r->min_size)
			hp->r->min_size = (int)(nw.size < -1000000 ? -1000000 : nw.size);
	}
	st_push(hp, &nw);
}

static bool
hexcolor(const char *s, int rgb[3])
{
	if (*s == '#')
		s++;
	if (strlen(s) != 6)
		return false;
	for (int i = 0; i < 6; i++)
		if (!(isdigit((unsigned char)s[i]) || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	for (int i = 0; i < 3; i++) {
		char b[3] = { s[2 * i], s[2 * i + 1], 0 };

		rgb[i] = (int)strtol(b, NULL, 16);
	}
	return true;
}

static bool
font_invisible(struct hp *hp)
{
	const struct style *s = st_top(hp);
	size_t fl = strlen(s->fg), bl = strlen(s->bg);
	const char *f6 = fl > 6 ? s->fg + fl - 6 : s->fg;
	const char *b6 = bl > 6 ? s->bg + bl - 6 : s->bg;
	int a[3], b[3];

	if (strcmp(f6, b6) == 0) {
		hp->r->font_low_contrast = true;
		return true;
	}
	if (hexcolor(s->fg, a) && hexcolor(s->bg, b)) {
		double r = a[0] - b[0], g = a[1] - b[1], bb = a[2] - b[2];
		double d = sqrt(pow(0.2126 * r, 2) + pow(0.7152 * g, 2) + pow(0.0722 * bb, 2));

		if (d < 12) {
			hp->r->font_low_contrast = true;
			return true;
		}
	}
	if (strcmp(s->fg, "invalid") == 0 || strcmp(s->bg, "invalid") == 0) {
		hp->r->font_invalid_color = true;
		return true;
	}
	if (s->size <= 1)
		return true;
	if (s->display != NULL && strcasecmp(s->display, "none") == 0)
		return true;
	if (s->visibility != NULL && strcasecmp(s->visibility, "hidden") == 0)
		return true;
	return false;
}

/* ---- display_text ---- */

static void
add_piece(struct hp *hp, const char *p, size_t n, bool ws, bool invisible)
{
	struct html_result *r = hp->r;

	if (r->npieces == hp->pieces_cap) {
		hp->pieces_cap = hp->pieces_cap ? hp->pieces_cap * 2 : 64;
		r->pieces = xreallocarray(r->pieces, hp->pieces_cap, sizeof(*r->pieces));
	}
	r->pieces[r->npieces].start = hp->text.len;
	r->pieces[r->npieces].whitespace = ws;
	r->pieces[r->npieces].invisible = invisible;
	r->npieces++;
	mime_str_add(&hp->text, p, n);
}

static void
display_ws(struct hp *hp, const char *ws)
{
	struct html_result *r = hp->r;

	if (r->npieces > 0) {
		struct html_piece *last = &r->pieces[r->npieces - 1];

		/* trim a trailing space of a visible text element */
		if (!last->whitespace && !last->invisible && hp->text.len > last->start &&
		    hp->text.p[hp->text.len - 1] == ' ') {
			hp->text.len--;
			hp->text.p[hp->text.len] = '\0';
		}
	}
	add_piece(hp, ws, strlen(ws), true, false);
}

static void
display_text(struct hp *hp, const char *p, size_t n, bool invisible)
{
	struct mime_str t = { 0 };
	size_t i = 0;

	mime_str_add(&t, "", 0);
	/* s/[ \t\n\r\f\x0b]+|\xc2\xa0/ / (U+00C2 U+00A0 as characters) */
	while (i < n) {
		if (is_ws_ascii(p[i])) {
			while (i < n && is_ws_ascii(p[i]))
				i++;
			mime_str_addc(&t, ' ');
		} else if (i + 3 < n && (unsigned char)p[i] == 0xc3 &&
			   (unsigned char)p[i + 1] == 0x82 && (unsigned char)p[i + 2] == 0xc2 &&
			   (unsigned char)p[i + 3] == 0xa0) {
			mime_str_addc(&t, ' ');
			i += 4;
		} else {
			mime_str_addc(&t, p[i]);
			i++;
		}
	}
	size_t off = 0;
	struct html_result *r = hp->r;

	if (r->npieces > 0 && !invisible && r->pieces[r->npieces - 1].whitespace &&
	    t.len > 0 && t.p[0] == ' ')
		off = 1;
	add_piece(hp, t.p + off, t.len - off, false, invisible);
	mime_str_free(&t);
}

/* ---- entity decoding (HTML::Parser decode_entities) ---- */

/* Code points below U+0100 (all a byte string holds) back to bytes. */
static void
utf8_to_latin1(const char *p, size_t n, struct mime_str *out)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c == 0xc2 || c == 0xc3) && i + 1 < n &&
		    ((unsigned char)p[i + 1] & 0xc0) == 0x80) {
			mime_str_addc(out, (char)(((c & 0x03) << 6) | ((unsigned char)p[i + 1] & 0x3f)));
			i++;
			continue;
		}
		mime_str_addc(out, (char)c);
	}
}

/* Appends the decoded p[0..n); returns true when the result would be a
 * Perl character string (input was, or a replacement above U+00FF). */
static bool
decode_entities(const char *p, size_t n, bool expand_prefix, bool utf8,
		struct mime_str *out)
{
	size_t i = 0;
	bool upgraded = utf8;
	uint32_t high_surrogate = 0;

	while (i < n) {
		if (p[i] != '&') {
			mime_str_addc(out, p[i]);
			i++;
			continue;
		}
		size_t ent_start = i + 1, s = i + 1;
		bool have = false;
		uint32_t cp = 0;
		bool repl_utf8 = false;

		if (s < n && p[s] == '#') {
			uint32_t num = 0;
			bool ok = false;

			s++;
			if (s < n && (p[s] == 'x' || p[s] == 'X')) {
				s++;
				while (s < n && isxdigit((unsigned char)p[s])) {
					int d = isdigit((unsigned char)p[s]) ? p[s] - '0' :
						(lc(p[s]) - 'a' + 10);
					num = num << 4 | (uint32_t)d;
					if (num > 0x10FFFF) {
						ok = false;
						break;
					}
					s++;
					ok = true;
				}
			} else {
				while (s < n && isdigit((unsigned char)p[s])) {
					num = num * 10 + (uint32_t)(p[s] - '0');
					if (num > 0x10FFFF) {
						ok = false;
						break;
					}
					s++;
					ok = true;
				}
			}
			if (num != 0 && ok) {
				if (!upgraded && num <= 255) {
					cp = num;
					have = true;
				} else if (num == 0xFFFE || num == 0xFFFF) {
					/* illegal: left as is */
				} else {
					if ((num & 0xFFFFFC00) == 0xDC00) {
						if (high_surrogate != 0) {
							/* back up over the U+FFFD */
							out->len -= 3;
							num = ((high_surrogate - 0xD800) << 10) +
							      (num - 0xDC00) + 0x10000;
							high_surrogate = 0;
						} else {
							num = 0xFFFD;
						}
					} else if ((num & 0xFFFFFC00) == 0xD800) {
						high_surrogate = num;
						num = 0xFFFD;
					} else {
						high_surrogate = 0;
						if ((num >= 0xFDD0 && num <= 0xFDEF) ||
						    (num & 0xFFFE) == 0xFFFE || num > 0x10FFFF)
							num = 0xFFFD;
					}
					cp = num;
					have = true;
					repl_utf8 = true;
				}
			}
		} else {
			size_t name = s;
			const htmlEntityDesc *d = NULL;
			char nb[40];

			while (s < n && ascii_alnum_us((unsigned char)p[s]))
				s++;
			if (s > name) {
				/* no entity name is longer than 8: a longer run can
				 * only match by its prefix */
				size_t nl = s - name < sizeof(nb) - 1 ? s - name : sizeof(nb) - 1;

				memcpy(nb, p + name, nl);
				nb[nl] = '\0';
				if (s - name < sizeof(nb) - 1) {
					d = htmlEntityLookup((const xmlChar *)nb);
					/* Latin-1 (and amp/lt/gt/quot/apos) need no
					 * ';', the others only count with one */
					if (d != NULL && d->value >= 256 && !(s < n && p[s] == ';'))
						d = NULL;
				}
				if (d == NULL && expand_prefix) {
					size_t top = s - name - 1 < nl ? s - name - 1 : nl;

					for (size_t k = top; k > 0; k--) {
						nb[k] = '\0';
						d = htmlEntityLookup((const xmlChar *)nb);
						if (d != NULL && d->value < 256) {
							s = name + k;
							break;
						}
						d = NULL;
					}
				}
			}
			if (d != NULL) {
				cp = d->value;
				have = true;
				repl_utf8 = cp > 255;
			}
			high_surrogate = 0;
		}
		if (have) {
			if (s < n && p[s] == ';')
				s++;
			if (!(s < n && p[s] == '&'))
				high_surrogate = 0;
			if (repl_utf8)
				upgraded = true;
			put_utf8(out, cp);
			i = s;
		} else {
			mime_str_addc(out, '&');
			mime_str_add(out, p + ent_start, s - ent_start);
			i = s;
		}
	}
	return upgraded;
}

/* ---- HTML.pm handlers ---- */

static struct mime_str *
grow_strs(struct mime_str **v, size_t *n, size_t *cap)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	mime_str_add(&(*v)[*n], "", 0);
	return &(*v)[(*n)++];
}

static long *
inside_slot(struct hp *hp, const char *tag, bool *seen)
{
	bool created;
	struct smap_ent *e = smap_find(&hp->inside, tag, strlen(tag), true, &created);

	*seen = !created;
	return &e->val;
}

static bool
inside_pos(struct hp *hp, const char *tag)
{
	struct smap_ent *e = smap_find(&hp->inside, tag, strlen(tag), false, NULL);

	return e != NULL && e->val > 0;
}

static bool
word_class(uint32_t c, bool utf8)
{
	/* [^\s\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e] */
	if (c < 0x80)
		return !(uni_space(c) || (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) ||
			 (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e));
	return !(utf8 && uni_space(c));
}

/* Perl's \w.  Beyond ASCII only on character strings, and there
 * approximately: letters and digits are everything but the punctuation
 * and symbol blocks below. */
static bool
is_w(uint32_t c, bool utf8)
{
	if (c < 0x80)
		return isalnum((int)c) || c == '_';
	if (!utf8 || uni_space(c))
		return false;
	if (c < 0xc0)
		return c == 0xaa || c == 0xb5 || c == 0xba;
	if (c == 0xd7 || c == 0xf7)
		return false;
	if (c >= 0x2000 && c <= 0x2bff)
		return false;
	if (c >= 0x3000 && c <= 0x303f)
		return c >= 0x3005 && c <= 0x3007;
	if ((c >= 0xff00 && c <= 0xff0f) || (c >= 0xff1a && c <= 0xff20) ||
	    (c >= 0xff3b && c <= 0xff40) || (c >= 0xff5b && c <= 0xff65))
		return c == 0xff3f;
	if (c >= 0xfe30 && c <= 0xfe6f)
		return false;
	return true;
}

static void
html_uri(struct hp *hp, const char *tag, struct attr *a, size_t n)
{
	if (!strcmp(tag, "body") || !strcmp(tag, "table") || !strcmp(tag, "tr") ||
	    !strcmp(tag, "td")) {
		const char *bg = attr_get(a, n, "background");

		if (bg != NULL)
			push_uri(hp, bg, attr_len(a, n, "background"), attr_utf8(a, n, "background"));
	} else if (!strcmp(tag, "a") || !strcmp(tag, "area") || !strcmp(tag, "link") ||
		   !strcmp(tag, "img") || !strcmp(tag, "frame") || !strcmp(tag, "iframe") ||
		   !strcmp(tag, "embed") || !strcmp(tag, "script") || !strcmp(tag, "bgsound")) {
		bool is_href = tag[0] == 'a' || tag[0] == 'l';
		const char *key = is_href ? "href" : "src";
		const char *v;
		size_t vl;
		bool vu;

		/* bad formatted html: an attribute named like "\w{1,8}/href"
		 * becomes the href (html_tests sees the change too) */
		for (size_t i = 0; i < n; i++) {
			const char *sl = strstr(a[i].name, is_href ? "/href" : "/src");
			size_t h;

			if (sl == NULL || sl == a[i].name || !ascii_alnum_us((unsigned char)sl[-1]))
				continue;
			for (h = 0; h < n; h++)
				if (h != i && strcmp(a[h].name, key) == 0)
					break;
			if (h < n) {
				free(a[h].val);
				a[h].val = a[i].val;
				a[h].len = a[i].len;
				a[h].utf8 = a[i].utf8;
				a[i].val = xstrdup("");
				a[i].len = 0;
				free(a[i].name);
				a[i].name = xstrdup("");
			} else {
				free(a[i].name);
				a[i].name = xstrdup(key);
			}
		}
		for (size_t i = 0; is_href && i < n; i++) {
			/* s/\x{FEFF}//g on the attribute itself (html_tests reads
			 * it again for the anchor) */
			if (strcmp(a[i].name, "href") != 0)
				continue;
			size_t o = 0;

			for (size_t k = 0; k < a[i].len; k++) {
				if (k + 2 < a[i].len && (unsigned char)a[i].val[k] == 0xef &&
				    (unsigned char)a[i].val[k + 1] == 0xbb &&
				    (unsigned char)a[i].val[k + 2] == 0xbf) {
					k += 2;
					continue;
				}
				a[i].val[o++] = a[i].val[k];
			}
			a[i].val[o] = '\0';
			a[i].len = o;
		}
		v = attr_get(a, n, key);
		vl = attr_len(a, n, key);
		vu = attr_utf8(a, n, key);
		if (v != NULL)
			push_uri(hp, v, vl, vu);
		if (is_href) {
			const char *sr = attr_get(a, n, "data-saferedirecturl");

			if (sr != NULL)
				push_uri(hp, sr, attr_len(a, n, "data-saferedirecturl"),
					 attr_utf8(a, n, "data-saferedirecturl"));
		}
	} else if (!strcmp(tag, "form")) {
		const char *act = attr_get(a, n, "action");

		if (act != NULL)
			push_uri(hp, act, attr_len(a, n, "action"), attr_utf8(a, n, "action"));
	} else if (!strcmp(tag, "base")) {
		const char *href = attr_get(a, n, "href");

		if (href != NULL && *href != '\0' && strcmp(href, "0") != 0) {
			bool hu = attr_utf8(a, n, "href");
			size_t ul;
			char *u = canon_uri(hp, href, attr_len(a, n, "href"), hu, &ul);

			push_uri(hp, u, ul, hu);
			/* m@^(?:https?|ftp):/{0,2}@i */
			if (strncasecmp(u, "http:", 5) == 0 || strncasecmp(u, "https:", 6) == 0 ||
			    strncasecmp(u, "ftp:", 4) == 0) {
				/* s@^([a-z]+:/{0,2}[^/]+/.*?)[^/\.]+\.[^/\.]{2,4}$@$1@i */
				size_t len = strlen(u), i = 0;

				while (i < len && isalpha((unsigned char)u[i]))
					i++;
				if (i < len && u[i] == ':') {
					size_t j = i + 1, k;

					for (k = 0; k < 2 && j < len && u[j] == '/'; k++)
						j++;
					/* [^/]+/ then lazily up to a final file name */
					size_t h = j;
					while (h < len && u[h] != '/')
						h++;
					if (h > j && h < len && memchr(u, '\n', len) == NULL) {
						/* find the last '/', then check file.ext */
						size_t last = len;
						while (last > h && u[last - 1] != '/')
							last--;
						/* file part u[last..len): [^/.]+\.[^/.]{2,4} */
						const char *f = u + last;
						const char *dot = strrchr(f, '.');
						if (dot != NULL && dot > f) {
							size_t extn = strlen(dot + 1);
							bool okf = extn >= 2 && extn <= 4;
							for (const char *q = f; q < dot; q++)
								if (*q == '.' || *q == '/')
									okf = false;
							if (okf)
								u[last] = '\0';
						}
					}
				}
				size_t bl = strlen(u);
				char *nb = xmalloc(bl + 2);
				memcpy(nb, u, bl);
				if (bl == 0 || u[bl - 1] != '/')
					nb[bl++] = '/';
				nb[bl] = '\0';
				free(hp->base_href);
				hp->base_href = nb;
				hp->base_len = bl;
			}
			free(u);
		}
	} else if (!strcmp(tag, "meta")) {
		const char *he = attr_get(a, n, "http-equiv"), *ct = attr_get(a, n, "content");

		if (he != NULL && ct != NULL && strcasestr(he, "refresh") != NULL) {
			/* \burl\s*= */
			const char *m = NULL;

			for (const char *q = ct; (q = strcasestr(q, "url")) != NULL; q++) {
				if (q > ct && ascii_alnum_us((unsigned char)q[-1]))
					continue;
				const char *e = q + 3;
				while (is_ws_ascii(*e))
					e++;
				if (*e == '=') {
					m = q;
					break;
				}
			}
			if (m != NULL) {
				/* s/^.*\burl\s*=\s* //i (greedy: the last one on the first line) */
				const char *last = m, *q = m;

				while ((q = strcasestr(q + 1, "url")) != NULL) {
					if (memchr(ct, '\n', (size_t)(q - ct)) != NULL)
						break;
					if (ascii_alnum_us((unsigned char)q[-1]))
						continue;
					const char *e = q + 3;
					while (is_ws_ascii(*e))
						e++;
					if (*e == '=')
						last = q;
				}
				const char *v = last + 3;
				while (is_ws_ascii(*v))
					v++;
				v++;
				while (is_ws_ascii(*v))
					v++;
				size_t vl = strlen(v);
				/* s/\s*;.* //i */
				const char *semi = strchr(v, ';');
				if (semi != NULL) {
					const char *e = semi;
					while (e > v && is_ws_ascii(e[-1]))
						e--;
					/* ".*" stops at a newline */
					const char *nl = strchr(semi, '\n');
					struct mime_str t = { 0 };
					mime_str_add(&t, v, (size_t)(e - v));
					if (nl != NULL)
						mime_str_add(&t, nl, strlen(nl));
					push_uri(hp, t.p, t.len, attr_utf8(a, n, "content"));
					mime_str_free(&t);
				} else {
					push_uri(hp, v, vl, attr_utf8(a, n, "content"));
				}
			}
		}
	}
}

static bool
font_face_ok(const char *f)
{
	/* ^\s*["'.]?[a-z ][a-z -]*[a-z]\d?["']?(?:,\s*["']?[a-z][a-z -]*[a-z]\d?["']?)*;?$ (i) */
	const char *p = f;
	bool first = true;

	while (is_ws_ascii(*p))
		p++;
	for (;;) {
		if (first) {
			if (*p == '"' || *p == '\'' || *p == '.')
				p++;
		} else {
			if (*p == '"' || *p == '\'')
				p++;
		}
		/* [a-z ] (first item) or [a-z] then [a-z -]* then [a-z] */
		const char *s = p;
		if (!(isalpha((unsigned char)*p) || (first && *p == ' ')))
			return false;
		p++;
		while (isalpha((unsigned char)*p) || *p == ' ' || *p == '-')
			p++;
		/* backtrack to a final letter */
		const char *e = p;
		while (e > s + 1 && !isalpha((unsigned char)e[-1]))
			e--;
		if (e <= s + 1 || !isalpha((unsigned char)e[-1]))
			return false;
		p = e;
		if (isdigit((unsigned char)*p))
			p++;
		if (*p == '"' || *p == '\'')
			p++;
		if (*p == ',') {
			p++;
			while (is_ws_ascii(*p))
				p++;
			first = false;
			continue;
		}
		if (*p == ';')
			p++;
		return *p == '\0' || (*p == '\n' && p[1] == '\0');
	}
}

static void
html_tests(struct hp *hp, const char *tag, struct attr *a, size_t n)
{
	struct html_result *r = hp->r;

	if (!strcmp(tag, "font")) {
		const char *face = attr_get(a, n, "face");

		if (face != NULL && !font_face_ok(face))
			r->font_face_bad = true;
	}
	if (!strcmp(tag, "img") && inside_pos(hp, "a") && hp->nanchors > 0) {
		mime_str_add(&hp->anchors[hp->nanchors - 1], "<img>\n", 6);
	}
	if (!strcmp(tag, "img")) {
		const char *w = attr_get(a, n, "width"), *h = attr_get(a, n, "height");

		if (w != NULL && h != NULL) {
			unsigned long width = 0, height = 0;
			char *end;

			if (isdigit((unsigned char)*w)) {
				width = strtoul(w, &end, 10);
				if (*end == '%' && end[1] == '\0')
					width *= 8;
				else if (!(*end == '\0' || (*end == '\n' && end[1] == '\0')))
					width = 0;
			}
			if (isdigit((unsigned char)*h)) {
				height = strtoul(h, &end, 10);
				if (*end == '%' && end[1] == '\0')
					height *= 6;
				else if (!(*end == '\0' || (*end == '\n' && end[1] == '\0')))
					height = 0;
			}
			if (width == 0)
				width = 200;
			if (height == 0)
				height = 200;
			if (width > 100000000)
				width = 100000000;
			if (height > 100000000)
				height = 100000000;
			r->image_area += width * height;
		}
	}
	if (!strcmp(tag, "form")) {
		const char *act = attr_get(a, n, "action");

		if (act != NULL && strcasestr(act, "mailto:") != NULL)
			r->form_action_mailto = true;
	}
	if (!strcmp(tag, "object") || !strcmp(tag, "embed"))
		r->embeds = true;
	if (!strcmp(tag, "a")) {
		const char *href = attr_get(a, n, "href");
		size_t ul = 0;
		char *u = href != NULL ? canon_uri(hp, href, attr_len(a, n, "href"),
						   attr_utf8(a, n, "href"), &ul) : xstrdup("");

		free(hp->anchor_last);
		hp->anchor_last = u;
		add_uri_key(hp, u, ul);
		grow_strs(&hp->anchors, &hp->nanchors, &hp->anchors_cap);
	}
	if (!strcmp(tag, "title")) {
		hp->title_index++;
		grow_strs(&hp->titles, &hp->ntitles, &hp->titles_cap);
	}
	if (!strcmp(tag, "meta")) {
		const char *he = attr_get(a, n, "http-equiv"), *ct = attr_get(a, n, "content");

		if (he != NULL && ct != NULL && strcasestr(he, "content-type") != NULL) {
			/* \bcharset\s*=\s*["']?([^"']+) */
			for (const char *q = ct; (q = strcasestr(q, "charset")) != NULL; q++) {
				if (q > ct && ascii_alnum_us((unsigned char)q[-1]))
					continue;
				const char *e = q + 7;
				while (is_ws_ascii(*e))
					e++;
				if (*e != '=')
					continue;
				e++;
				while (is_ws_ascii(*e))
					e++;
				if (*e == '"' || *e == '\'')
					e++;
				size_t l = strcspn(e, "\"'");
				if (l == 0)
					continue;
				char *old = r->charsets;
				if (old == NULL) {
					r->charsets = xstrndup(e, l);
				} else {
					r->charsets = xasprintf("%s %.*s", old, (int)l, e);
					free(old);
				}
				break;
			}
		}
	}
}

static void
html_whitespace(struct hp *hp, const char *tag)
{
	if (!strcmp(tag, "br") || !strcmp(tag, "div"))
		display_ws(hp, "\n");
	else if (!strcmp(tag, "li") || !strcmp(tag, "th") || !strcmp(tag, "td") ||
		 !strcmp(tag, "dd") || !strcmp(tag, "dt") || !strcmp(tag, "embed") ||
		 (tag[0] == 'h' && isdigit((unsigned char)tag[1]) && tag[2] == '\0'))
		display_ws(hp, " ");
	else if (!strcmp(tag, "p") || !strcmp(tag, "hr") || !strcmp(tag, "blockquote") ||
		 !strcmp(tag, "pre") || !strcmp(tag, "listing") || !strcmp(tag, "plaintext") ||
		 !strcmp(tag, "xmp") || !strcmp(tag, "title"))
		display_ws(hp, "\n\n");
}

static bool
maybe_namespace(const char *tag)
{
	/* ^(?:o|st\d):[\w-]+/?$ */
	const char *p = tag;

	if (p[0] == 'o' && p[1] == ':')
		p += 2;
	else if (p[0] == 's' && p[1] == 't' && isdigit((unsigned char)p[2]) && p[3] == ':')
		p += 4;
	else
		return false;
	if (!(ascii_alnum_us((unsigned char)*p) || *p == '-'))
		return false;
	while (ascii_alnum_us((unsigned char)*p) || *p == '-')
		p++;
	if (*p == '/')
		p++;
	return *p == '\0' || (*p == '\n' && p[1] == '\0');
}

static void
html_tag(struct hp *hp, const char *tag, struct attr *a, size_t n, int num)
{
	struct html_result *r = hp->r;
	bool ns = maybe_namespace(tag), seen;
	int fl = tag_flags(tag);
	long *cnt = inside_slot(hp, tag, &seen);

	if ((fl & T_ELEM) || ns) {
		r->elements++;
		if (!seen)
			r->elements_seen++;
	}
	r->tags++;
	if (!seen)
		r->tags_seen++;
	*cnt += num;
	if (*cnt < 0) {
		*cnt = 0;
		r->closed_extra++;
	}
	if (ns)
		return;
	if (fl & (T_ELEM | T_TRICK)) {
		if (fl & T_STYLE)
			text_style(hp, tag, a, n, num);
		if (fl & T_WS)
			html_whitespace(hp, tag);
		if (num == 1) {
			if (fl & T_URI)
				html_uri(hp, tag, a, n);
			html_tests(hp, tag, a, n);
		} else {
			if (!strcmp(tag, "html"))
				r->closed_html = true;
			if (!strcmp(tag, "body"))
				r->closed_body = true;
		}
	}
}

static void
html_text(struct hp *hp, const char *text, size_t n, bool flagged)
{
	struct html_result *r = hp->r;

	if (inside_pos(hp, "script")) {
		strlist_add(&r->scripts, text, n);
		return;
	}
	if (inside_pos(hp, "style"))
		return;
	if (inside_pos(hp, "a") && hp->nanchors > 0)
		mime_str_add(&hp->anchors[hp->nanchors - 1], text, n);
	if (inside_pos(hp, "title") && hp->title_index >= 0 &&
	    (size_t)hp->title_index < hp->ntitles)
		mime_str_add(&hp->titles[hp->title_index], text, n);

	bool invisible = false, nonblank = false;
	size_t k = 0;

	/* anything left after s/(?:[ \t\n\r\f\x0b]|\xc2\xa0)//g ? */
	while (k < n) {
		if (is_ws_ascii(text[k])) {
			k++;
		} else if (k + 3 < n && (unsigned char)text[k] == 0xc3 &&
			   (unsigned char)text[k + 1] == 0x82 &&
			   (unsigned char)text[k + 2] == 0xc2 &&
			   (unsigned char)text[k + 3] == 0xa0) {
			k += 4;
		} else {
			nonblank = true;
			break;
		}
	}
	if (nonblank)
		invisible = font_invisible(hp);

	bool utf8 = flagged || hp->text_utf8;

	if (r->npieces > 0) {
		/* the previous element's text */
		size_t ps = r->pieces[r->npieces - 1].start, pe = hp->text.len;
		const unsigned char *prev = (const unsigned char *)hp->text.p + ps;
		size_t pn = pe - ps, adv;
		uint32_t first = get_utf8((const unsigned char *)text, n, &adv);

		if (n > 0 && pn > 0 && word_class(first, utf8)) {
			size_t lk = pn - 1;

			while (lk > 0 && (prev[lk] & 0xc0) == 0x80)
				lk--;
			uint32_t last = get_utf8(prev + lk, pn - lk, &adv);

			if (word_class(last, utf8))
				r->obfuscation++;
		}
		/* backhair: \b([class]{1,7})\z on the previous, then
		 * ^([class]{1,7})\b on this text */
		if (pn > 0) {
			size_t offs[8], cnt = 0, pk = pn;

			while (pk > 0 && cnt < 8) {
				size_t j = pk - 1;

				while (j > 0 && (prev[j] & 0xc0) == 0x80)
					j--;
				uint32_t c = get_utf8(prev + j, pk - j, &adv);

				if (!word_class(c, utf8))
					break;
				offs[cnt++] = j;
				pk = j;
			}
			/* leftmost start within the last 7 with a \b */
			size_t start_len = 0;

			for (size_t m = (cnt > 7 ? 7 : cnt); m >= 1; m--) {
				size_t j = offs[m - 1];
				uint32_t c = get_utf8(prev + j, pn - j, &adv);
				bool wl = false;

				if (j > 0) {
					size_t q = j - 1;

					while (q > 0 && (prev[q] & 0xc0) == 0x80)
						q--;
					wl = is_w(get_utf8(prev + q, j - q, &adv), utf8);
				}
				if (wl != is_w(c, utf8)) {
					start_len = m;
					break;
				}
			}
			if (start_len > 0) {
				size_t cnt2 = 0, pos = 0, ends[8];

				while (pos < n && cnt2 < 7) {
					uint32_t c = get_utf8((const unsigned char *)text + pos, n - pos, &adv);

					if (!word_class(c, utf8))
						break;
					pos += adv;
					ends[cnt2++] = pos;
				}
				for (size_t m = cnt2; m >= 1; m--) {
					size_t e = ends[m - 1];
					uint32_t cl = get_utf8((const unsigned char *)text + (m >= 2 ? ends[m - 2] : 0),
							       n, &adv);
					bool wr = e < n && is_w(get_utf8((const unsigned char *)text + e,
									 n - e, &adv), utf8);

					if (is_w(cl, utf8) != wr) {
						char key[32];

						snprintf(key, sizeof(key), "%zu_%zu", start_len, m);
						smap_find(&hp->backhair, key, strlen(key), true, NULL);
						break;
					}
				}
			}
		}
	}
	if (flagged && !hp->text_utf8)
		hp->text_utf8 = true;
	display_text(hp, text, n, invisible);
}

static void
html_comment(struct hp *hp, const char *p, size_t n)
{
	strlist_add(&hp->r->comments, p, n);
}

static void
html_declaration(struct hp *hp, const char *p, size_t n)
{
	if (n >= 9 && strncasecmp(p, "<!doctype", 9) == 0) {
		bool seen;
		long *cnt = inside_slot(hp, "!doctype", &seen);

		hp->r->elements++;
		hp->r->tags++;
		*cnt = 0;
	}
}

/* ---- events ---- */

enum ev { EV_TEXT, EV_COMMENT, EV_START, EV_END, EV_DECL, EV_PROCESS, EV_NONE };

static void ev_end(struct hp *hp, const char *name, size_t n);

/* A tag or attribute name, lowercased.  A NUL is part of a name to
 * HTML::Parser; here it turns into \x01 so "a\0b" never reads as "a". */
static char *
name_dup(const char *p, size_t n)
{
	char *s = xmalloc(n + 1);

	for (size_t i = 0; i < n; i++)
		s[i] = p[i] == '\0' ? '\x01' : lc(p[i]);
	s[n] = '\0';
	return s;
}

static bool
ev_pre(struct hp *hp, enum ev e)
{
	if (hp->pending_end_tag != NULL && e != EV_TEXT && e != EV_COMMENT) {
		const char *t = hp->pending_end_tag;

		hp->pending_end_tag = NULL;
		ev_end(hp, t, strlen(t));
	}
	return hp->ms != MS_IGNORE;
}

static void
ev_text(struct hp *hp, const char *p, size_t n)
{
	if (!ev_pre(hp, EV_TEXT))
		return;
	if (hp->is_cdata) {
		html_text(hp, p, n, hp->in_utf8);
		return;
	}
	struct mime_str d = { 0 };
	bool flagged;

	mime_str_add(&d, "", 0);
	flagged = decode_entities(p, n, true, hp->in_utf8, &d);
	html_text(hp, d.p, d.len, flagged);
	mime_str_free(&d);
}

static void
ev_end(struct hp *hp, const char *name, size_t n)
{
	if (!ev_pre(hp, EV_END))
		return;
	char *tag = name_dup(name, n);

	html_tag(hp, tag, NULL, 0, -1);
	free(tag);
}

static void
ev_comment(struct hp *hp, const char *p, size_t n)
{
	if (!ev_pre(hp, EV_COMMENT))
		return;
	html_comment(hp, p, n);
}

static void
ev_decl(struct hp *hp, const char *p, size_t n)
{
	if (!ev_pre(hp, EV_DECL))
		return;
	html_declaration(hp, p, n);
}

static void
ev_none(struct hp *hp)
{
	(void)ev_pre(hp, EV_NONE);
}

struct tok {
	const char *nb, *ne;	/* attribute name */
	const char *vb, *ve;	/* value (quotes included), vb NULL if none */
};

static void
ev_start(struct hp *hp, const char *nb, const char *ne, struct tok *t, size_t nt)
{
	if (!ev_pre(hp, EV_START))
		return;
	char *tag = name_dup(nb, (size_t)(ne - nb));
	struct attr *a = xcalloc(nt + 1, sizeof(*a));
	size_t na = 0;

	for (size_t i = 0; i < nt; i++) {
		char *name = name_dup(t[i].nb, (size_t)(t[i].ne - t[i].nb));
		char *val;
		size_t vlen;
		bool vutf8;

		if (t[i].vb != NULL) {
			const char *b = t[i].vb;
			size_t len = (size_t)(t[i].ve - b);
			struct mime_str d = { 0 };

			if (len >= 2 && (*b == '"' || *b == '\'') && b[len - 1] == *b) {
				b++;
				len -= 2;
			}
			mime_str_add(&d, "", 0);
			vutf8 = decode_entities(b, len, false, hp->in_utf8, &d);
			if (!vutf8) {
				/* a byte string: Latin-1 bytes, as Perl holds it */
				struct mime_str l = { 0 };

				mime_str_add(&l, "", 0);
				utf8_to_latin1(d.p, d.len, &l);
				mime_str_free(&d);
				d = l;
			}
			val = d.p;
			vlen = d.len;
		} else {
			/* 3.81: the name as written */
			vlen = (size_t)(t[i].ne - t[i].nb);
			val = xmalloc(vlen + 1);
			memcpy(val, t[i].nb, vlen);
			val[vlen] = '\0';
			vutf8 = hp->in_utf8;
		}
		if (attr_get(a, na, name) != NULL) {
			free(name);
			free(val);
			continue;
		}
		a[na].name = name;
		a[na].val = val;
		a[na].len = vlen;
		a[na].utf8 = vutf8;
		na++;
	}
	html_tag(hp, tag, a, na, 1);
	for (size_t i = 0; i < na; i++) {
		free(a[i].name);
		free(a[i].val);
	}
	free(a);
	free(tag);
}

/* ---- the tokenizer (HTML::Parser's parse_* functions) ---- */

static const struct {
	const char *name;
	bool cdata;
} literal_elems[] = {
	{ "script", true }, { "style", true }, { "xmp", true }, { "iframe", true },
	{ "plaintext", true }, { "title", false }, { "textarea", false },
};

static const char *
skip_until_gt(const char *s, const char *end)
{
	char quote = '\0', prev = ' ';

	while (s < end) {
		if (!quote && *s == '>')
			return s;
		if (*s == '"' || *s == '\'') {
			if (*s == quote)
				quote = '\0';
			else if (!quote && (prev == ' ' || prev == '='))
				quote = *s;
		}
		prev = *s++;
	}
	return end;
}

/* Returns the position after the markup, beg when more input is needed,
 * NULL when it is no markup. */
static const char *
parse_comment(struct hp *hp, const char *beg, const char *end)
{
	const char *s = beg;

	if (hp->no_dash_dash_comment_end) {
		while (s < end && *s != '>')
			s++;
		if (s < end) {
			s++;
			ev_comment(hp, beg - 4, (size_t)(s - (beg - 4)));
			return s;
		}
		return beg;
	}
	for (;;) {
		const char *tend;

		while (s < end && *s != '-')
			s++;
		tend = s;
		if (s >= end)
			break;
		s++;
		if (s < end && *s == '-') {
			s++;
			while (s < end && hp_space((unsigned char)*s))
				s++;
			if (s < end && *s == '>') {
				s++;
				ev_comment(hp, beg - 4, (size_t)(s - (beg - 4)));
				return s;
			}
		}
		if (s < end) {
			s = tend + 1;
			continue;
		}
		break;
	}
	return beg;
}

static void
ms_update(struct hp *hp)
{
	hp->ms = MS_NONE;
	for (size_t i = 0; i < hp->ms_n; i++)
		if (hp->ms_stack[i] > (int)hp->ms)
			hp->ms = (enum ms)hp->ms_stack[i];
	hp->is_cdata = hp->ms == MS_CDATA;
}

static const char *
parse_marked_section(struct hp *hp, const char *beg, const char *end)
{
	const char *s = beg + 3;
	int best = MS_NONE;
	bool any = false;

	for (;;) {
		while (s < end && hp_space((unsigned char)*s))
			s++;
		while (s < end && hp_name_first((unsigned char)*s)) {
			const char *nb = s;

			s++;
			while (s < end && hp_name_char((unsigned char)*s))
				s++;
			size_t n = (size_t)(s - nb);
			while (s < end && hp_space((unsigned char)*s))
				s++;
			if (s == end)
				return beg;
			int tok = MS_NONE;
			if (n == 7 && strncasecmp(nb, "include", 7) == 0)
				tok = MS_INCLUDE;
			else if (n == 6 && strncasecmp(nb, "rcdata", 6) == 0)
				tok = MS_RCDATA;
			else if (n == 5 && strncasecmp(nb, "cdata", 5) == 0)
				tok = MS_CDATA;
			else if (n == 6 && strncasecmp(nb, "ignore", 6) == 0)
				tok = MS_IGNORE;
			if (tok > best)
				best = tok;
			any = true;
		}
		if (s < end && *s == '-') {
			s++;
			if (s < end && *s == '-') {
				s++;
				for (;;) {
					while (s < end && *s != '-')
						s++;
					if (s >= end)
						return beg;
					s++;
					if (s < end && *s == '-') {
						s++;
						break;
					}
				}
				continue;
			}
			return NULL;
		}
		break;
	}
	if (s < end && *s == '[') {
		s++;
		if (!any)
			best = MS_INCLUDE;
		if (hp->ms_n == hp->ms_cap) {
			hp->ms_cap = hp->ms_cap ? hp->ms_cap * 2 : 8;
			hp->ms_stack = xreallocarray(hp->ms_stack, hp->ms_cap, sizeof(int));
		}
		hp->ms_stack[hp->ms_n++] = best;
		ms_update(hp);
		ev_none(hp);
		return s;
	}
	return NULL;
}

static const char *
parse_decl(struct hp *hp, const char *beg, const char *end)
{
	const char *s = beg + 2;

	if (s < end && *s == '-') {
		s++;
		if (s == end)
			return beg;
		if (*s != '-')
			goto decl_fail;
		s++;
		const char *tmp = parse_comment(hp, s, end);
		return tmp == s ? beg : tmp;
	}
	if (s < end && *s == '[') {
		const char *tmp = parse_marked_section(hp, beg, end);

		if (tmp == NULL)
			goto decl_fail;
		return tmp;
	}
	if (s < end && *s == '>') {
		s++;
		ev_comment(hp, beg, (size_t)(s - beg));
		return s;
	}
	if (s < end && isalpha((unsigned char)*s)) {
		const char *id = s;

		s++;
		while (s < end && hp_name_char((unsigned char)*s))
			s++;
		size_t idn = (size_t)(s - id);
		if (s == end)
			return beg;
		if (!((idn == 7 && strncasecmp(id, "DOCTYPE", 7) == 0) ||
		      (idn == 6 && strncasecmp(id, "ENTITY", 6) == 0)))
			goto decl_fail;
		for (;;) {
			while (s < end && hp_space((unsigned char)*s))
				s++;
			if (s == end)
				return beg;
			if (*s == '"' || *s == '\'') {
				char q = *s;

				s++;
				while (s < end && *s != q)
					s++;
				if (s == end)
					return beg;
				s++;
			} else if (*s == '-') {
				s++;
				if (s == end)
					return beg;
				if (*s != '-')
					goto decl_fail;
				s++;
				for (;;) {
					while (s < end && *s != '-')
						s++;
					if (s == end)
						return beg;
					s++;
					if (s == end)
						return beg;
					if (*s == '-') {
						s++;
						break;
					}
				}
			} else if (*s != '>') {
				s++;
				while (s < end && hp_not_space_gt((unsigned char)*s))
					s++;
				if (s == end)
					return beg;
			} else {
				break;
			}
		}
		if (s == end)
			return beg;
		s++;
		ev_decl(hp, beg, (size_t)(s - beg));
		return s;
	}
decl_fail:
	while (s < end && *s != '>')
		s++;
	if (s < end) {
		s++;
		ev_comment(hp, beg, (size_t)(s - beg));
		return s;
	}
	return beg;
}

static const char *
parse_start(struct hp *hp, const char *beg, const char *end)
{
	const char *s = beg + 1, *nb, *ne;
	struct tok *t = NULL;
	size_t nt = 0, cap = 0;
	const char *ret;

	/* tag name: not space, not '>' */
	nb = s;
	s++;
	while (s < end && hp_not_space_gt((unsigned char)*s))
		s++;
	ne = s;
	while (s < end && hp_space((unsigned char)*s))
		s++;
	if (s == end)
		goto premature;
	while (s < end && hp_not_space_gt((unsigned char)*s)) {
		struct tok tk = { 0 };

		tk.nb = s;
		s++;
		while (s < end && hp_not_space_eq_gt((unsigned char)*s))
			s++;
		if (s == end)
			goto premature;
		tk.ne = s;
		while (s < end && hp_space((unsigned char)*s))
			s++;
		if (s == end)
			goto premature;
		if (*s == '=') {
			s++;
			while (s < end && hp_space((unsigned char)*s))
				s++;
			if (s == end)
				goto premature;
			if (*s == '>') {
				tk.vb = tk.ve = s;
			} else if (*s == '"' || *s == '\'') {
				char q = *s;

				tk.vb = s;
				s++;
				while (s < end && *s != q)
					s++;
				if (s == end)
					goto premature;
				s++;
				tk.ve = s;
			} else {
				tk.vb = s;
				while (s < end && hp_not_space_gt((unsigned char)*s))
					s++;
				if (s == end)
					goto premature;
				tk.ve = s;
			}
			if (nt == cap) {
				cap = cap ? cap * 2 : 8;
				t = xreallocarray(t, cap, sizeof(*t));
			}
			t[nt++] = tk;
			if (*s == '>')
				break;
			while (s < end && hp_space((unsigned char)*s))
				s++;
			if (s == end)
				goto premature;
		} else {
			if (nt == cap) {
				cap = cap ? cap * 2 : 8;
				t = xreallocarray(t, cap, sizeof(*t));
			}
			t[nt++] = tk;
		}
	}
	if (s < end && *s == '>') {
		s++;
		ev_start(hp, nb, ne, t, nt);
		/* literal mode? */
		for (size_t i = 0; i < N_ELEMENTS(literal_elems); i++) {
			size_t ln = strlen(literal_elems[i].name);

			if ((size_t)(ne - nb) == ln && strncasecmp(nb, literal_elems[i].name, ln) == 0) {
				hp->lit = literal_elems[i].name;
				hp->is_cdata = literal_elems[i].cdata;
				break;
			}
		}
		ret = s;
	} else {
		ret = NULL;
	}
	free(t);
	return ret;
premature:
	free(t);
	return beg;
}

static const char *
parse_end(struct hp *hp, const char *beg, const char *end)
{
	const char *s = beg + 2;

	if (s < end && hp_not_space_gt((unsigned char)*s)) {
		const char *nb = s, *ne;

		s++;
		while (s < end && hp_not_space_gt((unsigned char)*s))
			s++;
		ne = s;
		s = skip_until_gt(s, end);
		if (s < end) {
			s++;
			ev_end(hp, nb, (size_t)(ne - nb));
			return s;
		}
		return beg;
	}
	s = skip_until_gt(s, end);
	if (s < end) {
		s++;
		ev_comment(hp, beg, (size_t)(s - beg));
		return s;
	}
	return beg;
}

static const char *
parse_process(struct hp *hp, const char *beg, const char *end)
{
	const char *s = beg + 2;

	(void)hp;
	while (s < end) {
		if (*s == '>')
			return s + 1;	/* no handler in HTML.pm */
		s++;
	}
	return beg;
}

static const char *
parse_buf(struct hp *hp, const char *beg, const char *end)
{
	const char *s = beg, *t = beg;

	for (;;) {
		while (hp->lit != NULL) {
			const char *l = hp->lit, *end_text;

			while (s < end && *s != '<')
				s++;
			if (s == end) {
				s = t;
				return s;
			}
			end_text = s;
			s++;
			if (s < end && *s == '/') {
				s++;
				while (*l && s < end && lc(*s) == *l) {
					s++;
					l++;
				}
				if (!*l && strcmp(hp->lit, "plaintext") != 0) {
					const char *eb = end_text + 2, *ee = s;

					while (s < end && hp_space((unsigned char)*s))
						s++;
					if (s < end && *s == '>') {
						s++;
						if (t != end_text)
							ev_text(hp, t, (size_t)(end_text - t));
						ev_end(hp, eb, (size_t)(ee - eb));
						hp->lit = NULL;
						hp->is_cdata = false;
						t = s;
					}
				}
			}
		}
		while (hp->ms == MS_CDATA || hp->ms == MS_RCDATA) {
			while (s < end && *s != ']')
				s++;
			if (s < end && *s == ']') {
				const char *end_text = s;

				s++;
				if (s + 1 < end && s[0] == ']' && s[1] == '>') {
					s += 2;
					if (t != end_text)
						ev_text(hp, t, (size_t)(end_text - t));
					ev_none(hp);
					t = s;
					hp->ms_n--;
					ms_update(hp);
					continue;
				}
			}
			if (s >= end) {
				s = t;
				return s;
			}
		}
		while (s < end && *s != '<') {
			if (hp->ms != MS_NONE && *s == ']') {
				const char *end_text = s;

				s++;
				if (s < end && *s == ']') {
					s++;
					if (s < end && *s == '>') {
						s++;
						ev_text(hp, t, (size_t)(end_text - t));
						ev_none(hp);
						t = s;
						if (hp->ms_n > 0)
							hp->ms_n--;
						ms_update(hp);
						continue;
					}
				}
				/* HTML::Parser steps over one more character here */
				if (s >= end)
					break;
			}
			s++;
		}
		if (s != t) {
			if (s < end && *s == '<') {
				ev_text(hp, t, (size_t)(s - t));
				t = s;
			} else {
				/* hold back trailing white space or a word that
				 * may continue in the next chunk */
				ptrdiff_t i = (s - t) - 1;

				if (hp_space((unsigned char)t[i])) {
					while (i >= 0 && hp_space((unsigned char)t[i]))
						i--;
				} else {
					while (i >= 0 && !hp_space((unsigned char)t[i]))
						i--;
					while (i >= 0 && hp_space((unsigned char)t[i]))
						i--;
				}
				s = t + i + 1;
				if (s != t)
					ev_text(hp, t, (size_t)(s - t));
				return s;
			}
		}
		if (end - s < 3)
			return s;
		s++;
		const char *np;
		unsigned char c = (unsigned char)*s;

		if (hp_name_first(c))
			np = parse_start(hp, t, end);
		else if (c == '/')
			np = parse_end(hp, t, end);
		else if (c == '!')
			np = parse_decl(hp, t, end);
		else if (c == '?')
			np = parse_process(hp, t, end);
		else
			np = NULL;
		if (np != NULL) {
			if (np == t) {
				s = t;
				return s;
			}
			t = s = np;
		}
	}
}

/* HTML::Parser::parse($chunk) */
static void
hp_parse(struct hp *hp, const char *p, size_t n)
{
	if (n == 0)
		return;
	mime_str_add(&hp->pend, p, n);
	const char *beg = hp->pend.p, *end = beg + hp->pend.len;
	const char *s = parse_buf(hp, beg, end);
	size_t used = (size_t)(s - beg);

	memmove(hp->pend.p, hp->pend.p + used, hp->pend.len - used);
	hp->pend.len -= used;
	hp->pend.p[hp->pend.len] = '\0';
}

/* HTML::Parser::eof */
static void
hp_eof(struct hp *hp)
{
	if (hp->pend.len > 0) {
		const char *s = hp->pend.p, *end = s + hp->pend.len;

		while (s < end) {
			if (hp->lit != NULL) {
				const char *l = hp->lit;

				if (!strcmp(l, "plaintext") || !strcmp(l, "xmp") ||
				    !strcmp(l, "iframe") || !strcmp(l, "textarea"))
					break;
				if (!strcmp(l, "script") || !strcmp(l, "style"))
					ev_end(hp, l, strlen(l));
				else
					hp->pending_end_tag = l;
				hp->lit = NULL;
				s = parse_buf(hp, s, end);
				continue;
			}
			if (!hp->no_dash_dash_comment_end && *s == '<') {
				hp->no_dash_dash_comment_end = true;
				s = parse_buf(hp, s, end);
				continue;
			}
			if (*s == '<') {
				const char *s1 = s + 1;

				if (s1 == end || hp_name_first((unsigned char)*s1) || *s1 == '/' ||
				    *s1 == '!' || *s1 == '?') {
					ev_comment(hp, s, (size_t)(end - s));
					s = end;
				}
			}
			break;
		}
		if (s < end)
			ev_text(hp, s, (size_t)(end - s));
		hp->pend.len = 0;
	}
	/* the end_document event: it too flushes a pending end tag */
	ev_none(hp);
}

/* ---- the SpamAssassin side: HTML.pm parse() ---- */

static void
preprocess(const char *in, size_t n, bool utf8, struct mime_str *out)
{
	size_t i = 0;

	mime_str_add(out, "", 0);
	while (i < n) {
		char c = in[i];

		if (c == '&' && n - i >= 6 && memcmp(in + i, "&nbsp;", 6) == 0) {
			mime_str_addc(out, ' ');
			i += 6;
			continue;
		}
		if (c == '<') {
			/* s/<(\w+)\s*\/>/<$1>/gi */
			size_t j = i + 1, adv;

			while (j < n) {
				uint32_t cp = get_utf8((const unsigned char *)in + j, n - j, &adv);

				if (!is_w(cp, utf8))
					break;
				j += adv;
			}
			if (j > i + 1) {
				size_t k = j;

				while (k < n) {
					uint32_t cp = get_utf8((const unsigned char *)in + k, n - k, &adv);

					if (!(utf8 ? uni_space(cp) : (cp < 0x80 && uni_space(cp))))
						break;
					k += adv;
				}
				if (k + 1 < n && in[k] == '/' && in[k + 1] == '>') {
					mime_str_add(out, in + i, j - i);
					mime_str_addc(out, '>');
					i = k + 2;
					continue;
				}
			}
			mime_str_add(out, in + i, j - i);
			i = j;
			continue;
		}
		if ((unsigned char)c == 0xe2 && n - i >= 3 && (unsigned char)in[i + 1] == 0x80 &&
		    ((unsigned char)in[i + 2] == 0x9c || (unsigned char)in[i + 2] == 0x9d)) {
			mime_str_addc(out, '"');
			i += 3;
			continue;
		}
		mime_str_addc(out, c);
		i++;
	}
}

static size_t
utf8_chars(const char *p, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)p[i] & 0xc0) != 0x80)
			c++;
	return c;
}

static int
inside_cmp(const void *a, const void *b)
{
	const struct smap_ent *x = *(const struct smap_ent *const *)a;
	const struct smap_ent *y = *(const struct smap_ent *const *)b;

	return x->order < y->order ? -1 : x->order > y->order;
}

struct html_result *
html_render(const char *text, size_t len, bool utf8, size_t raw_len)
{
	struct hp hp;
	struct html_result *r = xcalloc(1, sizeof(*r));
	struct mime_str in = { 0 };
	struct style def;

	memset(&hp, 0, sizeof(hp));
	hp.r = r;
	hp.in_utf8 = utf8;
	hp.text_utf8 = utf8;
	hp.title_index = -1;
	strlist_init(&r->uris);
	strlist_init(&r->anchors);
	strlist_init(&r->comments);
	strlist_init(&r->scripts);
	strlist_init(&r->titles);
	strlist_init(&hp.strpool);
	mime_str_add(&hp.text, "", 0);
	mime_str_add(&hp.pend, "", 0);

	/* html_start */
	hp.basefont = 3;
	memset(&def, 0, sizeof(def));
	def.tag = ST_DEFAULT;
	snprintf(def.fg, sizeof(def.fg), "#000000");
	snprintf(def.bg, sizeof(def.bg), "#ffffff");
	def.size = 3;
	st_push(&hp, &def);
	r->max_size = 3;
	r->min_size = 3;
	r->length = utf8 ? utf8_chars(text, len) : len;

	preprocess(text, len, utf8, &in);
	hp_parse(&hp, in.p, in.len);
	/* bug 7437: unclosed style and script */
	for (int i = 0; i < 100 && inside_pos(&hp, "style"); i++)
		hp_parse(&hp, "</style>", 8);
	for (int i = 0; i < 100 && inside_pos(&hp, "script"); i++)
		hp_parse(&hp, "</script>", 9);
	hp_eof(&hp);
	mime_str_free(&in);

	/* html_end */
	r->text = hp.text.p;
	r->text_len = hp.text.len;
	r->text_utf8 = hp.text_utf8;
	hp.text.p = NULL;
	{
		struct smap_ent **order = xcalloc(hp.uris.n + 1, sizeof(*order));
		size_t k = 0;

		for (size_t i = 0; i < hp.uris.cap; i++)
			if (hp.uris.v[i].key != NULL)
				order[k++] = &hp.uris.v[i];
		qsort(order, k, sizeof(*order), inside_cmp);
		for (size_t i = 0; i < k; i++)
			strlist_add(&r->uris, order[i]->key, order[i]->len);
		free(order);
	}
	for (size_t i = 0; i < hp.nanchors; i++) {
		strlist_add(&r->anchors, hp.anchors[i].p, hp.anchors[i].len);
		mime_str_free(&hp.anchors[i]);
	}
	free(hp.anchors);
	for (size_t i = 0; i < hp.ntitles; i++) {
		strlist_add(&r->titles, hp.titles[i].p, hp.titles[i].len);
		mime_str_free(&hp.titles[i]);
	}
	free(hp.titles);
	if (r->tags > 0) {
		r->has_closed_extra_ratio = true;
		r->closed_extra_ratio = (double)r->closed_extra / (double)r->tags;
		if (r->elements > 0) {
			r->has_bad_tag_ratio = true;
			r->bad_tag_ratio = ((double)r->tags - (double)r->elements) / (double)r->tags;
		}
	}
	if (r->elements_seen > 0 && r->tags_seen > 0) {
		r->has_non_element_ratio = true;
		r->non_element_ratio = ((double)r->tags_seen - (double)r->elements_seen) /
				       (double)r->tags_seen;
	}
	if (r->tags > 0 && r->obfuscation > 0) {
		r->has_obfuscation_ratio = true;
		r->obfuscation_ratio = (double)r->obfuscation / (double)r->tags;
	}
	if (hp.backhair.n > 0) {
		r->has_backhair_count = true;
		r->backhair_count = hp.backhair.n;
	}
	{
		struct smap_ent **order = xcalloc(hp.inside.n + 1, sizeof(*order));
		size_t k = 0;

		for (size_t i = 0; i < hp.inside.cap; i++)
			if (hp.inside.v[i].key != NULL)
				order[k++] = &hp.inside.v[i];
		qsort(order, k, sizeof(*order), inside_cmp);
		r->inside = xcalloc(k + 1, sizeof(*r->inside));
		for (size_t i = 0; i < k; i++) {
			r->inside[i].tag = xstrdup(order[i]->key);
			r->inside[i].count = (int)(order[i]->val > 1000000 ? 1000000 : order[i]->val);
		}
		r->ninside = k;
		free(order);
	}

	/* Node::rendered's additions */
	{
		size_t chars = r->text_utf8 ? utf8_chars(r->text, r->text_len) : r->text_len;
		size_t space = 0, i = 0, adv;

		while (i < r->text_len) {
			uint32_t c = get_utf8((const unsigned char *)r->text + i, r->text_len - i, &adv);

			if (r->text_utf8 ? uni_space(c) : (c == ' ' || c == '\t' || c == '\n' ||
							   c == '\r' || c == 0x0b))
				space++;
			i += adv;
		}
		r->html_length = chars;
		r->non_space_len = chars - space;
		if (raw_len > 0) {
			r->has_ratio = true;
			r->ratio = ((double)raw_len - (double)chars) / (double)raw_len;
		}
	}

	smap_free(&hp.inside);
	smap_free(&hp.uris);
	smap_free(&hp.backhair);
	strlist_free(&hp.strpool);
	free(hp.st);
	free(hp.ms_stack);
	free(hp.base_href);
	free(hp.anchor_last);
	mime_str_free(&hp.pend);
	return r;
}

void
html_result_free(struct html_result **rp)
{
	struct html_result *r = *rp;

	if (r == NULL)
		return;
	free(r->text);
	free(r->pieces);
	strlist_free(&r->uris);
	strlist_free(&r->anchors);
	strlist_free(&r->comments);
	strlist_free(&r->scripts);
	strlist_free(&r->titles);
	free(r->charsets);
	for (size_t i = 0; i < r->ninside; i++)
		free(r->inside[i].tag);
	free(r->inside);
	free(r);
	*rp = NULL;
}

char *
html_text_filtered(const struct html_result *r, bool invisible, size_t *len_r)
{
	struct mime_str out = { 0 };

	mime_str_add(&out, "", 0);
	for (size_t i = 0; i < r->npieces; i++) {
		size_t b = r->pieces[i].start;
		size_t e = i + 1 < r->npieces ? r->pieces[i + 1].start : r->text_len;

		if (r->pieces[i].invisible == invisible)
			mime_str_add(&out, r->text + b, e - b);
	}
	*len_r = out.len;
	return out.p;
}

int
html_inside(const struct html_result *r, const char *tag)
{
	for (size_t i = 0; i < r->ninside; i++)
		if (strcmp(r->inside[i].tag, tag) == 0)
			return r->inside[i].count;
	return -1;
}
