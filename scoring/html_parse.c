/* html_parse: a tokenizer that behaves as HTML::Parser 3.81 does with
 * the options SpamAssassin's HTML.pm sets (api_version 3, marked_sections
 * 1, everything else default), feeding HTML.pm's handlers in html.c.
 *
 * Text runs, start tags (any run of non-space non-'>' as the name,
 * attributes quoted, unquoted or bare, the first of a repeated attribute
 * wins, a bare one gets its name as value), end tags (up to '>', quotes
 * skipped as MSIE does), comments ("<!--" to "--" [space] ">", at the end
 * of input to the first ">"), "<!...>" declarations and bogus comments,
 * marked sections, processing instructions, literal mode after
 * script/style/xmp/iframe/plaintext (no entity decoding) and
 * title/textarea (decoded), its entity rules (a prefix of an unterminated
 * Latin-1 entity decodes in text) and its end-of-document rules.  Entity
 * names come from libxml2's HTML 4 table (the 253 of HTML::Entities).
 * Linear in the input. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>

#include "html_int.h"
#include "strset.h"
#include "xalloc.h"

/* ---- entity decoding (HTML::Parser decode_entities) ---- */

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
			mime_str_add_cp(out, cp);
			i = s;
		} else {
			mime_str_addc(out, '&');
			mime_str_add(out, p + ent_start, s - ent_start);
			i = s;
		}
	}
	return upgraded;
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
		html_pm_text(hp, p, n, hp->in_utf8);
		return;
	}
	struct mime_str *d = &hp->ev_decoded;
	bool flagged;

	d->len = 0;
	mime_str_add(d, "", 0);
	flagged = decode_entities(p, n, true, hp->in_utf8, d);
	html_pm_text(hp, d->p, d->len, flagged);
}

static void
ev_end(struct hp *hp, const char *name, size_t n)
{
	if (!ev_pre(hp, EV_END))
		return;
	char *tag = name_dup(name, n);

	html_pm_tag(hp, tag, NULL, 0, -1);
	free(tag);
}

static void
ev_comment(struct hp *hp, const char *p, size_t n)
{
	if (!ev_pre(hp, EV_COMMENT))
		return;
	html_pm_comment(hp, p, n);
}

static void
ev_decl(struct hp *hp, const char *p, size_t n)
{
	if (!ev_pre(hp, EV_DECL))
		return;
	html_pm_declaration(hp, p, n);
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
	/* the names kept so far, hashed (indexes into a) once a tag has
	 * more than a few: a tag of 100000 attributes compared each with
	 * all before it */
	size_t hcap = 0, *seen = NULL;

	if (nt > 8) {
		for (hcap = 16; hcap < 2 * nt; hcap *= 2)
			;
		seen = xreallocarray(NULL, hcap, sizeof(*seen));
		for (size_t i = 0; i < hcap; i++)
			seen[i] = SIZE_MAX;
	}

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
				mime_latin1_from_utf8(d.p, d.len, &l);
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
		size_t slot = 0;
		bool dup = false;

		if (seen != NULL) {
			slot = str_hash(name, strlen(name)) & (hcap - 1);
			while (seen[slot] != SIZE_MAX && !dup) {
				dup = strcmp(a[seen[slot]].name, name) == 0;
				if (!dup)
					slot = (slot + 1) & (hcap - 1);
			}
			if (!dup)
				seen[slot] = na;
		} else {
			dup = attr_get(a, na, name) != NULL;
		}
		if (dup) {
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
	free(seen);
	html_pm_tag(hp, tag, a, na, 1);
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

/* The keyword in force is the highest of every open section's; each
 * level keeps the highest up to it, so a push or pop costs the same at
 * any depth (a million unclosed "<![include[" rescanned the stack on
 * every one). */
static void
ms_update(struct hp *hp)
{
	hp->ms = hp->ms_n > 0 ? (enum ms)hp->ms_stack[hp->ms_n - 1] : MS_NONE;
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
		if (hp->ms_n > 0 && hp->ms_stack[hp->ms_n - 1] > best)
			best = hp->ms_stack[hp->ms_n - 1];
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
void
html_parser_feed(struct hp *hp, const char *p, size_t n)
{
	if (n == 0)
		return;
	if (hp->pend.len == 0) {
		/* nothing held back: parse the chunk where it is (a whole
		 * part's text comes in one chunk) and keep only its tail */
		const char *s = parse_buf(hp, p, p + n);

		mime_str_add(&hp->pend, s, n - (size_t)(s - p));
		return;
	}
	mime_str_add(&hp->pend, p, n);
	const char *beg = hp->pend.p, *end = beg + hp->pend.len;
	const char *s = parse_buf(hp, beg, end);
	size_t used = (size_t)(s - beg);

	memmove(hp->pend.p, hp->pend.p + used, hp->pend.len - used);
	hp->pend.len -= used;
	hp->pend.p[hp->pend.len] = '\0';
}

/* HTML::Parser::eof */
void
html_parser_eof(struct hp *hp)
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
