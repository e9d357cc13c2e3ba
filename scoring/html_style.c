/* html_style: HTML.pm's text style stack (font, body, table cells,
 * span/p/div/a styles), its colour parsing (name_to_rgb, CSS colours and
 * the background shorthand) and html_font_invisible().  The stack keeps a
 * count per tag so closing a tag never scans it. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <math.h>

#include "html_int.h"
#include "xalloc.h"

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

static struct style *
st_top(struct hp *hp)
{
	return &hp->st[hp->nst - 1];
}

void
html_st_push(struct hp *hp, const struct style *s)
{
	if (hp->nst == hp->st_cap) {
		hp->st_cap = hp->st_cap ? hp->st_cap * 2 : 16;
		hp->st = xreallocarray(hp->st, hp->st_cap, sizeof(*hp->st));
	}
	hp->st[hp->nst++] = *s;
	hp->stcount[s->tag]++;
	hp->invisible_known = false;
}

static void
st_pop(struct hp *hp)
{
	hp->nst--;
	hp->stcount[hp->st[hp->nst].tag]--;
	hp->invisible_known = false;
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

void
html_text_style(struct hp *hp, const char *tagname, const struct attr *attrs,
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
		html_st_push(hp, &nw);
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
	html_st_push(hp, &nw);
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

/* Asked for every text event ("<<<<" is one per "<"), and the answer and
 * the flags it sets depend on the top of the style stack only. */
bool
html_font_invisible(struct hp *hp)
{
	if (!hp->invisible_known) {
		hp->invisible = font_invisible(hp);
		hp->invisible_known = true;
	}
	return hp->invisible;
}
