/* html: SpamAssassin's HTML.pm on top of html_parse.c's HTML::Parser
 * tokenizer: html_tag/html_text/display_text with the whitespace
 * elements, invisible text (html_style.c), URI collection (html_uri.c),
 * anchors, titles, comments, scripts and the statistics the html_test
 * eval functions read, then html_render() putting it together as HTML.pm's
 * parse() does (its &nbsp; and <br/> rewrites, closing a dangling style or
 * script).  All lists grow with the input only. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "html_int.h"
#include "xalloc.h"

/* ---- a small string -> int map (tag counts, URI dedup) ---- */

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

struct smap_ent *
html_smap_find(struct smap *m, const char *k, size_t n, bool create, bool *created)
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

void
html_smap_free(struct smap *m)
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

/* ---- display_text ---- */

/* Appends one of HTML.pm's text elements.  pieces[] holds runs of
 * elements with the same flags, not one entry per element: "<<<<" is one
 * text event per "<", and an entry each took 16 bytes per input byte.
 * The handlers that look at the last element use last_start. */
static void
add_piece(struct hp *hp, const char *p, size_t n, bool ws, bool invisible, bool utf8)
{
	struct html_result *r = hp->r;
	struct html_piece *last = r->npieces > 0 ? &r->pieces[r->npieces - 1] : NULL;

	hp->last_start = hp->text.len;
	mime_str_add(&hp->text, p, n);
	if (last != NULL && last->whitespace == ws && last->invisible == invisible &&
	    last->utf8 == utf8)
		return;
	if (r->npieces == hp->pieces_cap) {
		hp->pieces_cap = hp->pieces_cap ? hp->pieces_cap * 2 : 64;
		r->pieces = xreallocarray(r->pieces, hp->pieces_cap, sizeof(*r->pieces));
	}
	r->pieces[r->npieces].start = hp->last_start;
	r->pieces[r->npieces].whitespace = ws;
	r->pieces[r->npieces].invisible = invisible;
	r->pieces[r->npieces].utf8 = utf8;
	r->npieces++;
}

static void
display_ws(struct hp *hp, const char *ws)
{
	struct html_result *r = hp->r;

	if (r->npieces > 0) {
		struct html_piece *last = &r->pieces[r->npieces - 1];

		/* trim a trailing space of a visible text element */
		if (!last->whitespace && !last->invisible && hp->text.len > hp->last_start &&
		    hp->text.p[hp->text.len - 1] == ' ') {
			hp->text.len--;
			hp->text.p[hp->text.len] = '\0';
		}
	}
	add_piece(hp, ws, strlen(ws), true, false, false);
}

static void
display_text(struct hp *hp, const char *p, size_t n, bool invisible, bool flagged)
{
	struct mime_str t = hp->ev_squeezed;
	size_t i = 0;

	t.len = 0;
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
	add_piece(hp, t.p + off, t.len - off, false, invisible, flagged);
	hp->ev_squeezed = t;
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
	struct smap_ent *e = html_smap_find(&hp->inside, tag, strlen(tag), true, &created);

	*seen = !created;
	return &e->val;
}

static bool
inside_pos(struct hp *hp, const char *tag)
{
	struct smap_ent *e = html_smap_find(&hp->inside, tag, strlen(tag), false, NULL);

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

bool
html_perl_word(uint32_t c, bool utf8)
{
	return is_w(c, utf8);
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
		char *u = href != NULL ? html_canon_uri(hp, href, attr_len(a, n, "href"),
						   attr_utf8(a, n, "href"), &ul) : xstrdup("");

		free(hp->anchor_last);
		hp->anchor_last = u;
		html_add_uri_key(hp, u, ul);
		strlist_add(&hp->r->anchor_uris, u, ul);
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

void
html_pm_tag(struct hp *hp, const char *tag, struct attr *a, size_t n, int num)
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
			html_text_style(hp, tag, a, n, num);
		if (fl & T_WS)
			html_whitespace(hp, tag);
		if (num == 1) {
			if (fl & T_URI)
				html_pm_uri(hp, tag, a, n);
			html_tests(hp, tag, a, n);
		} else {
			if (!strcmp(tag, "html"))
				r->closed_html = true;
			if (!strcmp(tag, "body"))
				r->closed_body = true;
		}
	}
}

void
html_pm_text(struct hp *hp, const char *text, size_t n, bool flagged)
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
		invisible = html_font_invisible(hp);

	bool utf8 = flagged || hp->text_utf8;

	if (r->npieces > 0) {
		/* the previous element's text */
		size_t ps = hp->last_start, pe = hp->text.len;
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
						html_smap_find(&hp->backhair, key, strlen(key), true, NULL);
						break;
					}
				}
			}
		}
	}
	if (flagged && !hp->text_utf8)
		hp->text_utf8 = true;
	display_text(hp, text, n, invisible, flagged);
}

void
html_pm_comment(struct hp *hp, const char *p, size_t n)
{
	strlist_add(&hp->r->comments, p, n);
}

void
html_pm_declaration(struct hp *hp, const char *p, size_t n)
{
	if (n >= 9 && strncasecmp(p, "<!doctype", 9) == 0) {
		bool seen;
		long *cnt = inside_slot(hp, "!doctype", &seen);

		hp->r->elements++;
		hp->r->tags++;
		*cnt = 0;
	}
}

/* ---- the SpamAssassin side: HTML.pm parse() ---- */

static void
preprocess(const char *in, size_t n, bool utf8, struct mime_str *out)
{
	size_t i = 0;

	/* every rewrite shortens the text */
	mime_str_reserve(out, n);
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
	strlist_init(&r->anchor_uris);
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
	html_st_push(&hp, &def);
	r->max_size = 3;
	r->min_size = 3;
	r->length = utf8 ? utf8_chars(text, len) : len;

	preprocess(text, len, utf8, &in);
	html_parser_feed(&hp, in.p, in.len);
	/* bug 7437: unclosed style and script */
	for (int i = 0; i < 100 && inside_pos(&hp, "style"); i++)
		html_parser_feed(&hp, "</style>", 8);
	for (int i = 0; i < 100 && inside_pos(&hp, "script"); i++)
		html_parser_feed(&hp, "</script>", 9);
	html_parser_eof(&hp);
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

	html_smap_free(&hp.inside);
	html_smap_free(&hp.uris);
	html_smap_free(&hp.backhair);
	strlist_free(&hp.strpool);
	free(hp.st);
	free(hp.ms_stack);
	free(hp.base_href);
	free(hp.anchor_last);
	mime_str_free(&hp.pend);
	mime_str_free(&hp.ev_decoded);
	mime_str_free(&hp.ev_squeezed);
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
	strlist_free(&r->anchor_uris);
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

bool
html_text_filtered_utf8(const struct html_result *r, bool invisible)
{
	for (size_t i = 0; i < r->npieces; i++)
		if (r->pieces[i].invisible == invisible && r->pieces[i].utf8)
			return true;
	return false;
}

bool
html_has_invisible(const struct html_result *r)
{
	for (size_t i = 0; i < r->npieces; i++)
		if (r->pieces[i].invisible)
			return true;
	return false;
}

int
html_inside(const struct html_result *r, const char *tag)
{
	for (size_t i = 0; i < r->ninside; i++)
		if (strcmp(r->inside[i].tag, tag) == 0)
			return r->inside[i].count;
	return -1;
}
