/* msgview_text: the body and rawbody views.
 *
 *   body     Message::get_rendered_body_text_array: Subject, then every
 *            leaf's Node::rendered text cut at body_part_scan_size
 *            (characters), "\n" between parts, the paragraph and white
 *            space squeeze (Perl's \s, Unicode when any part was decoded
 *            to characters, else ASCII, and then Latin-1 bytes stay bytes),
 *            lines of at most MAX_BODY_LINE_LENGTH bytes split at a space;
 *            the same of the visible or the invisible text only
 *            (Node::visible_rendered, invisible_rendered; no Subject for
 *            the invisible text)
 *   rawbody  Message::get_decoded_body_text_array: text and message
 *            leaves (not text/calendar) transfer-decoded but not
 *            converted, cut at rawbody_part_scan_size, in paragraphs of
 *            2 to 4 KB
 *
 * Linear in the decoded text: the index() searches of the Perl are
 * bounded by the windows whose hits it would accept. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "mime.h"
#include "msgview_int.h"
#include "xalloc.h"

/* ---- body ---- */

static size_t
u8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	if (p[0] < 0x80 || n < 2) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) {
		*cp = ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
		return 2;
	}
	if ((p[0] & 0xf0) == 0xe0 && n >= 3 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80) {
		*cp = ((uint32_t)(p[0] & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) |
		      (p[2] & 0x3f);
		return 3;
	}
	if ((p[0] & 0xf8) == 0xf0 && n >= 4 && (p[1] & 0xc0) == 0x80 &&
	    (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80) {
		*cp = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) |
		      ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
		return 4;
	}
	*cp = p[0];
	return 1;
}

/* Perl's \s: Unicode on character strings, ASCII on byte strings.  Returns
 * the byte length of the space at p, 0 if none. */
static size_t
space_at(const char *s, size_t n, bool uni)
{
	unsigned char c = (unsigned char)s[0];
	uint32_t cp;
	size_t k;

	if (c == ' ' || (c >= '\t' && c <= '\r'))
		return 1;
	if (!uni || c < 0x80)
		return 0;
	k = u8_decode((const unsigned char *)s, n, &cp);
	if (k > 1 && (cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
		      cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
		      cp == 0x3000))
		return k;
	return 0;
}

/* Cuts a part's text at the scan size as get_body_text_array_common does;
 * sizes count characters (UTF-8) or bytes.  Returns the kept length. */
static size_t
scan_cut(const char *t, size_t n, size_t scansize, bool utf8)
{
	size_t chars = 0, off = 0;

	if (scansize == 0)
		return n;
	/* find the byte offset of character scansize */
	if (utf8) {
		while (off < n && chars < scansize) {
			off++;
			while (off < n && ((unsigned char)t[off] & 0xc0) == 0x80)
				off++;
			chars++;
		}
		if (off >= n)
			return n;
	} else {
		if (n <= scansize)
			return n;
		off = scansize;
	}
	/* index($rnd, "\n", $scansize) within 1024 characters, then " " */
	for (int pass = 0; pass < 2; pass++) {
		char want = pass == 0 ? '\n' : ' ';
		size_t p = off, c = 0;

		while (p < n && c <= 1024) {
			if (t[p] == want)
				return p + 1;
			p++;
			if (utf8)
				while (p < n && ((unsigned char)t[p] & 0xc0) == 0x80)
					p++;
			c++;
		}
	}
	return off;
}

static void
latin1_to_utf8(const char *p, size_t n, struct mime_str *out)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x80) {
			mime_str_addc(out, (char)c);
		} else {
			char b[2] = { (char)(0xc0 | (c >> 6)), (char)(0x80 | (c & 0x3f)) };

			mime_str_add(out, b, 2);
		}
	}
}

/* split_into_array_of_short_lines */
static void
short_lines(const char *s, size_t n, struct strlist *out)
{
	size_t b = 0;

	while (b < n) {
		const char *nl = memchr(s + b, '\n', n - b);
		size_t e = nl != NULL ? (size_t)(nl - s) + 1 : n;

		while (e - b > MIME_MAX_BODY_LINE) {
			size_t len = 0;

			/* rindex($line, ' ', 2048) + 1 */
			for (size_t k = MIME_MAX_BODY_LINE + 1; k-- > 0;)
				if (s[b + k] == ' ') {
					len = k + 1;
					break;
				}
			if (len == 0)
				len = MIME_MAX_BODY_LINE;
			strlist_add(out, s + b, len);
			b += len;
		}
		strlist_add(out, s + b, e - b);
		b = e;
	}
}

/* A part's text for the view: the rendered text, or its visible or
 * invisible share (plain text is all visible).  Sets *own when the text
 * had to be made (the caller frees it). */
static const char *
part_text(struct mime_msg *msg, struct mime_node *node, enum msgview_text which,
	  size_t *len_r, bool *utf8_r, const char **type_r, char **own)
{
	const char *r = mime_rendered(msg, node, len_r, utf8_r, type_r);
	bool invisible = which == MV_TEXT_INVISIBLE;
	struct mime_str l = { 0 };
	size_t fl;
	char *f;

	*own = NULL;
	if (r == NULL || which == MV_TEXT_ALL)
		return r;
	if (node->html == NULL || *type_r == NULL || strcmp(*type_r, "text/html") != 0) {
		if (!invisible)
			return r;
		*len_r = 0;	/* invisible_rendered is '' */
		*utf8_r = false;
		return "";
	}
	if (!html_has_invisible(node->html)) {
		if (!invisible)
			return r;	/* every piece: the rendered text itself */
		*len_r = 0;
		*utf8_r = false;
		return "";
	}
	f = html_text_filtered(node->html, invisible, &fl);
	*utf8_r = html_text_filtered_utf8(node->html, invisible);
	if (*utf8_r) {
		*own = f;
		*len_r = fl;
		return f;
	}
	mime_str_add(&l, "", 0);
	mime_latin1_from_utf8(f, fl, &l);
	free(f);
	*own = l.p;
	*len_r = l.len;
	return l.p;
}

void
msgview_build_body(struct mime_msg *msg, const struct sa_settings *set, enum msgview_text which,
		   struct strlist *body, struct strlist *html_uris,
		   const struct html_result ***html, size_t *nhtml)
{
	struct mime_str text = { 0 }, subj = { 0 };
	bool any = false, uni = false;
	size_t scansize = set != NULL ? set->body_part_scan_size : 50000;
	struct part {
		const char *t;
		size_t n;
		bool utf8;
		bool sep;
		char *own;
	} *parts = NULL;
	size_t np = 0;

	for (size_t i = 0; i < msg->nnodes; i++)
		if (!msg->nodes[i]->has_kids)
			any = true;
	if (!any)
		return;
	mime_str_add(&subj, "", 0);
	if (which != MV_TEXT_INVISIBLE) {
		struct mime_hdr *h = mime_hdr_last(msg->root, "subject");
		size_t dl = 0;
		const char *d = h != NULL ? mime_hdr_decoded(msg, h, &dl) : NULL;

		if (d != NULL)
			mime_str_add(&subj, d, dl);
		mime_str_addc(&subj, '\n');
	}
	parts = xcalloc(msg->nnodes + 1, sizeof(*parts));
	{
		bool text_nonempty = false;

		for (size_t i = 0; i < msg->nnodes; i++) {
			struct mime_node *node = msg->nodes[i];
			size_t rl;
			bool utf8;
			const char *type, *r;

			if (node->has_kids)
				continue;
			parts[np].sep = text_nonempty;
			r = part_text(msg, node, which, &rl, &utf8, &type, &parts[np].own);
			if (r != NULL) {
				rl = scan_cut(r, rl, scansize, utf8);
				parts[np].t = r;
				parts[np].n = rl;
				parts[np].utf8 = utf8;
				if (utf8)
					uni = true;
				if (rl > 0)
					text_nonempty = true;
				if (which == MV_TEXT_ALL && type != NULL &&
				    strcmp(type, "text/html") == 0 && node->html != NULL) {
					*html = xreallocarray(*html, *nhtml + 1, sizeof(**html));
					(*html)[(*nhtml)++] = node->html;
					for (size_t k = 0; k < node->html->uris.n; k++)
						strlist_add(html_uris, node->html->uris.v[k].p,
							    node->html->uris.v[k].len);
				}
			}
			np++;
		}
	}
	mime_str_add(&text, "", 0);
	for (size_t i = 0; i < np; i++) {
		if (parts[i].sep)
			mime_str_addc(&text, '\n');
		if (parts[i].t == NULL)
			continue;
		if (uni && !parts[i].utf8)
			latin1_to_utf8(parts[i].t, parts[i].n, &text);
		else
			mime_str_add(&text, parts[i].t, parts[i].n);
	}
	for (size_t i = 0; i < np; i++)
		free(parts[i].own);
	free(parts);

	/* s/\n+\s*\n+/\x00/g: a run of white space holding two newlines,
	 * from its first newline through its last one */
	struct mime_str t1 = { 0 }, out = { 0 };
	size_t i = 0, k;

	/* (both passes copy the runs between the bytes they look at whole) */
	mime_str_add(&t1, "", 0);
	while (i < text.len) {
		const char *nl = memchr(text.p + i, '\n', text.len - i);
		size_t e = nl != NULL ? (size_t)(nl - text.p) : text.len;
		size_t j = e, nls = 0, last = e;

		mime_str_add(&t1, text.p + i, e - i);
		i = e;
		if (i >= text.len)
			break;
		while (j < text.len && (k = space_at(text.p + j, text.len - j, uni)) > 0) {
			if (text.p[j] == '\n') {
				nls++;
				last = j;
			}
			j += k;
		}
		if (nls >= 2) {
			mime_str_addc(&t1, '\0');
			i = last + 1;
		} else {
			mime_str_addc(&t1, '\n');
			i++;
		}
	}
	/* s/\s+/ /g; tr/\x00/\n/ (NULs of the text turn into newlines too) */
	mime_str_add(&out, subj.p, subj.len);
	i = 0;
	while (i < t1.len) {
		size_t e = i;

		while (e < t1.len) {
			unsigned char c = (unsigned char)t1.p[e];

			if (c == ' ' || (c >= '\t' && c <= '\r') || c == '\0' ||
			    (uni && c >= 0x80 && space_at(t1.p + e, t1.len - e, uni) > 0))
				break;
			e++;
		}
		mime_str_add(&out, t1.p + i, e - i);
		i = e;
		if (i >= t1.len)
			break;
		if ((k = space_at(t1.p + i, t1.len - i, uni)) > 0) {
			while (i < t1.len && (k = space_at(t1.p + i, t1.len - i, uni)) > 0)
				i += k;
			mime_str_addc(&out, ' ');
			continue;
		}
		mime_str_addc(&out, '\n');	/* a NUL */
		i++;
	}
	mime_str_free(&t1);
	short_lines(out.p, out.len, body);
	mime_str_free(&out);
	mime_str_free(&text);
	mime_str_free(&subj);
}

/* ---- rawbody ---- */

/* split_into_array_of_short_paragraphs */
static void
short_paragraphs(const char *s, size_t n, struct strlist *out)
{
	const size_t M = MIME_MAX_BODY_LINE;
	size_t ofs = 0, j;

	if (n <= M) {
		strlist_add(out, s, n);
		return;
	}
	for (; n - ofs > 2 * M; ofs = j + 1) {
		/* index() from ofs+M; a hit past ofs+2M-1 is refused anyway */
		const char *lo = s + ofs + M;
		size_t win = 2 * M - M;	/* j - ofs + 1 <= 2M: j <= ofs + 2M - 1 */
		const char *hit;

		if (win > n - (ofs + M))
			win = n - (ofs + M);
		if ((hit = memchr(lo, '\n', win)) != NULL ||
		    (hit = memchr(lo, '>', win)) != NULL ||
		    (hit = memchr(lo, ' ', win)) != NULL)
			j = (size_t)(hit - s);
		else
			j = ofs + M;
		strlist_add(out, s + ofs, j - ofs + 1);
	}
	if (ofs < n)
		strlist_add(out, s + ofs, n - ofs);
}

void
msgview_build_rawbody(struct mime_msg *msg, const struct sa_settings *set, struct strlist *out)
{
	size_t scansize = set != NULL ? set->rawbody_part_scan_size : 500000;

	for (size_t i = 0; i < msg->nnodes; i++) {
		struct mime_node *node = msg->nodes[i];
		const char *et;
		size_t dl;
		const char *d;

		if (node->has_kids)
			continue;
		et = mime_effective_type(node);
		/* /^(?:text|message)\b/ */
		if (strncmp(et, "text", 4) == 0)
			et += 4;
		else if (strncmp(et, "message", 7) == 0)
			et += 7;
		else
			continue;
		if (isalnum((unsigned char)*et) || *et == '_')
			continue;
		if (strcmp(node->type, "text/calendar") == 0)
			continue;
		d = mime_decoded(msg, node, &dl);
		if (d == NULL) {
			d = "";
			dl = 0;
		}
		if (scansize > 0 && dl > scansize) {
			const char *hit = NULL;
			size_t win = dl - scansize < 1025 ? dl - scansize : 1025;

			if ((hit = memchr(d + scansize, '\n', win)) != NULL ||
			    (hit = memchr(d + scansize, '>', win)) != NULL ||
			    (hit = memchr(d + scansize, ' ', win)) != NULL)
				dl = (size_t)(hit - d) + 1;
			else
				dl = scansize;
		}
		short_paragraphs(d, dl, out);
	}
}
