/* mime: the MIME tree as SpamAssassin's Message.pm builds it.
 *
 * Message->new (header section, mbox From line, CRLF handling, the
 * 20-blank-line squeeze, the blank line inserted before a multipart body
 * that does not start with its boundary) and parse_body/_parse_multipart/
 * _parse_normal are ported line for line: the same regular expressions
 * decide what is a boundary, a header or a body line, long lines are split
 * at 2048 bytes as SA splits them, and a message/rfc822 part is decoded
 * and parsed as a new message.  Lines are (pointer, length, newline)
 * triples into the input or into decoded buffers, so nothing is copied
 * but the per-part line arrays.
 *
 * Bounds: SpamAssassin's subparse depth (20) and 1000 parts per multipart,
 * plus MIME_MAX_NODES over the whole tree; a part's lines are a run of
 * its multipart's line array (copied only where a line is split), so the
 * index costs about one entry per line however deep the nesting. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hdr.h"
#include "html.h"
#include "mime.h"
#include "xalloc.h"

/* ---- arena ---- */

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	char data[];
};

struct mime_arena {
	struct arena_block *head;
	/* line arrays, node lists and html results to free */
	void **frees;
	size_t nfrees, frees_cap;
	struct html_result **htmls;
	size_t nhtmls, htmls_cap;
};

void *
mime_alloc(struct mime_msg *msg, size_t n)
{
	struct mime_arena *a = msg->arena;
	struct arena_block *b = a->head;

	n = (n + 15) & ~(size_t)15;
	if (b == NULL || b->cap - b->used < n) {
		size_t cap = n > 32768 ? n : 32768;

		b = xmalloc(sizeof(*b) + cap);
		b->cap = cap;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->used;

	b->used += n;
	return p;
}

char *
mime_strndup(struct mime_msg *msg, const char *p, size_t n)
{
	char *s = mime_alloc(msg, n + 1);

	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static void
arena_track(struct mime_msg *msg, void *p)
{
	struct mime_arena *a = msg->arena;

	if (a->nfrees == a->frees_cap) {
		a->frees_cap = a->frees_cap ? a->frees_cap * 2 : 64;
		a->frees = xreallocarray(a->frees, a->frees_cap, sizeof(void *));
	}
	a->frees[a->nfrees++] = p;
}

/* Frees p, tracked by arena_track, now. */
static void
arena_release(struct mime_msg *msg, void *p)
{
	struct mime_arena *a = msg->arena;

	/* the latest first: p was tracked a moment ago */
	for (size_t i = a->nfrees; i-- > 0;)
		if (a->frees[i] == p) {
			free(p);
			a->frees[i] = a->frees[--a->nfrees];
			return;
		}
}

/* s's text, owned by msg from now on (s is left empty).  A part's
 * decoded or rendered text can be as large as the message: it is kept
 * where it was built, less the slack of its doubling, instead of being
 * copied into the arena. */
static char *
arena_adopt(struct mime_msg *msg, struct mime_str *s)
{
	char *p;

	if (s->p == NULL || s->len < 32768) {
		p = mime_strndup(msg, s->p != NULL ? s->p : "", s->len);
		mime_str_free(s);
		return p;
	}
	p = s->cap > s->len + 1 ? xrealloc(s->p, s->len + 1) : s->p;
	arena_track(msg, p);
	s->p = NULL;
	s->len = s->cap = 0;
	return p;
}

/* ---- initialisation ---- */

void
mime_global_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	mime_charset_init();
	mime_header_init();
	hdr_global_init();
}

/* ---- lines ---- */

struct lines {
	struct mime_line *v;
	size_t n, cap;
	/* v is a run of the enclosing multipart's array, not v's own */
	bool borrowed;
};

static void
lines_push(struct lines *l, const char *p, size_t len, bool nl)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n].p = p;
	l->v[l->n].len = (uint32_t)len;
	l->v[l->n].nl = nl;
	l->n++;
}

static void
split_lines(const char *data, size_t len, struct lines *l)
{
	size_t i = 0, n = 0;

	/* Sized once: doubling left up to half the array unused and, while
	 * realloc moved it, both copies alive (a 40 MB message of empty
	 * lines is 36 million 16-byte entries). */
	for (const char *q = data, *end = data + len;
	     (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++)
		n++;
	/* + 2: a last line without its newline, and the empty line
	 * message_new may put in front of a multipart body */
	if (n + 2 > l->cap) {
		l->cap = n + 2;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t e = nl != NULL ? (size_t)(nl - data) : len;

		/* lines beyond 4 GB cannot come from a bounded spool */
		lines_push(l, data + i, e - i, nl != NULL);
		i = nl != NULL ? e + 1 : len;
	}
}

static size_t
llen(const struct mime_line *l)
{
	return l->len + (l->nl ? 1 : 0);
}

/* The character at i of the logical line (content, then "\n"). */
static char
lch(const struct mime_line *l, size_t i)
{
	return i < l->len ? l->p[i] : '\n';
}

static bool
pspace(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* /^[\041-\071\073-\176]+[ \t]*:/ (with_ws) or /^[\041-\071\073-\176]+:/ */
static bool
header_like(const struct mime_line *l, bool with_ws)
{
	size_t n = llen(l), i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)lch(l, i);

		if (c < 041 || c > 0176 || c == ':')
			break;
		i++;
	}
	if (i == 0)
		return false;
	if (with_ws)
		while (i < n && (lch(l, i) == ' ' || lch(l, i) == '\t'))
			i++;
	return i < n && lch(l, i) == ':';
}

/* /^--\Q$b\E(--)?\s*$/: 0 no, 1 boundary, 2 closing boundary.  With
 * closing false only the first form (\s*$ right after the boundary). */
static int
boundary_match(const struct mime_line *l, const char *b, size_t bn, bool closing)
{
	size_t n = llen(l), i;

	if (n < 2 + bn || l->len < 2 || l->p[0] != '-' || l->p[1] != '-')
		return 0;
	for (i = 0; i < bn; i++)
		if (lch(l, 2 + i) != b[i])
			return 0;
	i = 2 + bn;
	if (closing && i + 1 < n && lch(l, i) == '-' && lch(l, i + 1) == '-') {
		size_t j = i + 2;

		while (j < n && pspace(lch(l, j)))
			j++;
		if (j == n)
			return 2;
	}
	while (i < n && pspace(lch(l, i)))
		i++;
	return i == n ? 1 : 0;
}

/* ---- nodes ---- */

static struct mime_node *
node_new(struct mime_msg *msg)
{
	struct mime_node *n = mime_alloc(msg, sizeof(*n));

	memset(n, 0, sizeof(*n));
	return n;
}

static void
add_kid(struct mime_msg *msg, struct mime_node *parent, struct mime_node *kid)
{
	if (parent->nkids == parent->kids_cap) {
		size_t cap = parent->kids_cap ? parent->kids_cap * 2 : 4;
		struct mime_node **v = mime_alloc(msg, cap * sizeof(*v));

		if (parent->nkids > 0)
			memcpy(v, parent->kids, parent->nkids * sizeof(*v));
		parent->kids = v;
		parent->kids_cap = cap;
	}
	parent->kids[parent->nkids++] = kid;
	parent->has_kids = true;
	kid->parent = parent;
}

/* The last decoded value of a header (Node::header in scalar context). */
static const char *
node_header(struct mime_msg *msg, struct mime_node *node, const char *lname,
	    size_t *len_r)
{
	struct mime_hdr *h = mime_hdr_last(node, lname);

	if (h == NULL) {
		*len_r = 0;
		return NULL;
	}
	return mime_hdr_decoded(msg, h, len_r);
}

static void parse_body(struct mime_msg *msg, struct mime_node *node,
		       const char *boundary, struct lines *body, int subparse,
		       size_t *count);

/* The pristine header text of the top message (ALL:raw): the input
 * itself while every line added is the input's bytes as they stand,
 * each right after the one before; a copy from the first line that is
 * not (a CR added in a CRLF message).  Two million "To:" lines were a
 * 46 MB copy of the input beside it. */
struct pristine {
	const char *start;	/* data after the mbox From line */
	size_t len;		/* bytes of it in place */
	bool copied;
	struct mime_str copy;
};

/* Adds line cur, which reads as cs (cur with any CR added), to p. */
static void
pristine_add(struct pristine *p, const struct mime_line *cur, const struct mime_str *cs)
{
	if (!p->copied) {
		if (cur->p == p->start + p->len && cs->len == llen(cur)) {
			p->len += cs->len;
			return;
		}
		p->copied = true;
		mime_str_add(&p->copy, "", 0);
		mime_str_add(&p->copy, p->start, p->len);
	}
	mime_str_add(&p->copy, cs->p, cs->len);
}

/* The line of data[0..len) that starts at *off (< len), and *off moved
 * past it: the header's lines are read this way, not indexed. */
static struct mime_line
line_at(const char *data, size_t len, size_t *off)
{
	const char *nl = memchr(data + *off, '\n', len - *off);
	size_t e = nl != NULL ? (size_t)(nl - data) : len;
	struct mime_line l = { data + *off, (uint32_t)(e - *off), nl != NULL };

	*off = nl != NULL ? e + 1 : len;
	return l;
}

/* Message->new on data: a Message node with its headers parsed and its
 * body queued (parsed right away here).  pre, when not NULL, is the
 * index split_lines() would make of data, borrowed: the lines of the
 * message/rfc822 part data is the text of, no longer needed there.
 * Without one, only the body's lines are indexed: an index of the
 * header's lines (two million "To:" lines, 32 MB) served one pass. */
static struct mime_node *
message_new(struct mime_msg *msg, const char *data, size_t len, int subparse,
	    bool top, size_t *count, const struct lines *pre)
{
	struct mime_node *node = node_new(msg);
	struct lines L = { 0 };
	/* the next header line: L.v[idx], or data + idx when not indexed */
	size_t idx = 0, hdr_errors = 0, end;
	bool squash, indexed = (pre != NULL && pre->n > 0) || len == 0;
	struct mime_line first;
	struct mime_str header = { 0 };
	struct pristine pristine = { 0 };
	bool have_header = false;

	node->is_message = true;
	if (pre != NULL && pre->n > 0) {
		L = *pre;
		L.borrowed = true;
	} else if (indexed) {
		split_lines(data, len, &L);
	}
	if (indexed && L.n == 0)
		lines_push(&L, "", 0, true);
	end = indexed ? L.n : len;
	if (indexed) {
		first = L.v[0];
	} else {
		size_t off = 0;

		first = line_at(data, len, &off);
	}
	/* /^From\s+(?!:)/: the mbox separator */
	{
		const struct mime_line *f = &first;
		size_t n = llen(f);

		if (n > 5 && memcmp(f->p, "From", 4) == 0 && pspace(lch(f, 4))) {
			size_t ws = 4;

			while (ws < n && pspace(lch(f, ws)))
				ws++;
			if (ws - 4 >= 2 || ws == n || lch(f, ws) != ':')
				idx = indexed ? 1 : n;
		} else if (n == 5 && memcmp(f->p, "From", 4) == 0 && f->nl) {
			idx = indexed ? 1 : n;
		}
	}
	if (top) {
		/* the input minus the mbox From line (the fake line of an
		 * empty message points elsewhere: not used here) */
		size_t skip = idx > 0 ? llen(&first) : 0;

		if (skip > len)
			skip = len;
		msg->pristine = len > 0 ? data + skip : "";
		msg->pristine_len = len - skip;
		pristine.start = msg->pristine;
	}
	{
		bool crlf = false;

		if (idx < end && indexed) {
			const struct mime_line *a = &L.v[idx], *z = &L.v[L.n - 1];

			crlf = (a->nl && a->len > 0 && a->p[a->len - 1] == '\r') ||
			       (z->nl && z->len > 0 && z->p[z->len - 1] == '\r');
		} else if (idx < end) {
			size_t off = idx;
			struct mime_line a = line_at(data, len, &off);

			/* the last line: its CR is the byte before the final LF */
			crlf = (a.nl && a.len > 0 && a.p[a.len - 1] == '\r') ||
			       (len >= 2 && data[len - 1] == '\n' && data[len - 2] == '\r');
		}
		squash = crlf;
	}
	/* cs (the line) and v (a value) are reused from line to line */
	struct mime_str cs = { 0 }, v = { 0 };

	mime_str_add(&header, "", 0);
	for (;;) {
		bool eof = idx >= end;
		size_t at = idx;	/* where the line read here starts */
		struct mime_line cur;
		struct mime_line le = { squash ? "\r" : "", squash ? 1u : 0u, true };

		if (eof)
			cur = le;
		else if (indexed)
			cur = L.v[idx++];
		else
			cur = line_at(data, len, &idx);
		/* s/(?<!\015)\012/\015\012/ in a CRLF message */
		cs.len = 0;
		mime_str_add(&cs, cur.p, cur.len);
		if (cur.nl) {
			if (squash && !(cur.len > 0 && cur.p[cur.len - 1] == '\r'))
				mime_str_addc(&cs, '\r');
			mime_str_addc(&cs, '\n');
		}
		if (cs.len > 0 && (cs.p[0] == ' ' || cs.p[0] == '\t')) {
			have_header = true;
			mime_str_add(&header, cs.p, cs.len);
			if (top)
				pristine_add(&pristine, &cur, &cs);
			continue;
		}
		if (have_header) {
			char *colon = memchr(header.p, ':', header.len);

			if (colon != NULL) {
				size_t klen = (size_t)(colon - header.p);

				/* the value, without the CR of CRLF in a CRLF
				 * message: the runs between CRs copied whole */
				v.len = 0;
				mime_str_add(&v, "", 0);
				for (size_t i = klen + 1; i < header.len;) {
					const char *cr = squash ? memchr(header.p + i, '\r',
									 header.len - i) : NULL;
					size_t e = cr != NULL ? (size_t)(cr - header.p) : header.len;

					mime_str_add(&v, header.p + i, e - i);
					i = e;
					if (i >= header.len)
						break;
					if (!(i + 1 < header.len && header.p[i + 1] == '\n'))
						mime_str_addc(&v, '\r');
					i++;
				}
				while (klen > 0 && (header.p[klen - 1] == ' ' || header.p[klen - 1] == '\t'))
					klen--;
				if (klen > MIME_MAX_HEADER_KEY) {
					klen = MIME_MAX_HEADER_KEY;
					msg->flags.truncated_header = true;
				}
				if (v.len > MIME_MAX_HEADER_VALUE) {
					v.len = MIME_MAX_HEADER_VALUE;
					msg->flags.truncated_header = true;
				}
				mime_node_add_parsed_header(msg, node, header.p, klen, v.p, v.len);
			}
		}
		bool blank = squash ? (cs.len == 2 && cs.p[0] == '\r' && cs.p[1] == '\n') :
				      (cs.len == 1 && cs.p[0] == '\n');
		if (blank) {
			if (eof) {
				if (top)
					msg->flags.missing_head_body_separator = true;
			} else if (top) {
				pristine_add(&pristine, &cur, &cs);
			}
			break;
		}
		if (cs.len >= 2 && cs.p[0] == '-' && cs.p[1] == '-') {
			if (top)
				msg->flags.missing_head_body_separator = true;
			idx = at;
			break;
		}
		if (!header_like(&cur, true)) {
			if (++hdr_errors > 3) {
				if (top)
					msg->flags.missing_head_body_separator = true;
				idx = at;
				break;
			}
		}
		header.len = 0;
		mime_str_add(&header, cs.p, cs.len);
		have_header = true;
		if (top)
			pristine_add(&pristine, &cur, &cs);
	}
	mime_str_free(&cs);
	mime_str_free(&v);
	mime_str_free(&header);
	if (top) {
		if (pristine.copied) {
			msg->pristine_headers_len = pristine.copy.len;
			msg->pristine_headers = arena_adopt(msg, &pristine.copy);
		} else {
			msg->pristine_headers_len = pristine.len;
			msg->pristine_headers = pristine.len > 0 ? pristine.start : "";
		}
		mime_delete_x_spam(node);
	}

	/* the body: CRLF to LF, runs of more than 20 blank lines squeezed;
	 * the header's lines make way in the same array rather than the
	 * body's being copied to a second one (twice the memory at the peak) */
	struct lines B = L;

	if (!indexed) {
		split_lines(data + idx, len - idx, &B);
	} else {
		B.n = L.n - idx;
		if (B.borrowed)
			B.v += idx;	/* a run of another array: no free() of it */
		else
			memmove(B.v, B.v + idx, B.n * sizeof(*B.v));
	}
	if (squash)
		for (size_t i = 0; i < B.n; i++)
			if (B.v[i].nl && B.v[i].len > 0 && B.v[i].p[B.v[i].len - 1] == '\r')
				B.v[i].len--;
	{
		/* walk from the end as Message.pm does: splice keeps 20 */
		bool *drop = xcalloc(B.n + 1, sizeof(bool));
		ptrdiff_t start = -1;

		for (ptrdiff_t cnt = (ptrdiff_t)B.n - 1; cnt >= 0; cnt--) {
			const struct mime_line *l = &B.v[cnt];
			bool bl = true;

			for (size_t k = 0; k < l->len; k++)
				if (!pspace(l->p[k])) {
					bl = false;
					break;
				}
			if (bl) {
				if (start < 0)
					start = cnt;
				if (cnt != 0)
					continue;
			}
			if (start >= 0) {
				ptrdiff_t num = start - cnt;

				if (num > 20)
					for (ptrdiff_t k = 0; k < num - 20; k++)
						drop[cnt + 2 + k] = true;
				start = -1;
			}
		}
		size_t o = 0;
		for (size_t i = 0; i < B.n; i++)
			if (!drop[i])
				B.v[o++] = B.v[i];
		B.n = o;
		free(drop);
	}

	const char *ctv, *type, *boundary, *charset, *name;
	size_t ctl;

	ctv = node_header(msg, node, "content-type", &ctl);
	mime_parse_content_type(msg, ctv, ctl, &type, &boundary, &charset, &name);
	node->type = type;
	if (strncmp(type, "multipart/", 10) == 0 && B.n > 1) {
		bool nonblank = false;

		for (size_t k = 0; k < llen(&B.v[0]); k++)
			if (!pspace(lch(&B.v[0], k)))
				nonblank = true;
		if (nonblank) {
			bool starts = false;

			if (boundary != NULL) {
				size_t bn = strlen(boundary);
				const struct mime_line *f = &B.v[0];

				starts = llen(f) >= bn + 2 && f->len >= 2 && f->p[0] == '-' &&
					 f->p[1] == '-';
				for (size_t k = 0; starts && k < bn; k++)
					if (lch(f, 2 + k) != boundary[k])
						starts = false;
			}
			if (!starts && B.borrowed && idx > 0) {
				/* the header lines' entries are free */
				B.v--;
				B.n++;
			} else if (!starts) {
				if (B.borrowed) {
					struct mime_line *own = xreallocarray(NULL, B.n + 1,
									      sizeof(*own));

					memcpy(own, B.v, B.n * sizeof(*own));
					B.v = own;
					B.cap = B.n + 1;
					B.borrowed = false;
				}
				lines_push(&B, NULL, 0, false);
				memmove(B.v + 1, B.v, (B.n - 1) * sizeof(*B.v));
			}
			if (!starts) {
				B.v[0].p = "";
				B.v[0].len = 0;
				B.v[0].nl = true;
			}
		}
	}
	parse_body(msg, node, boundary, &B, subparse, count);
	/* kept: the parts of a multipart borrow from it */
	if (B.v != NULL && !B.borrowed)
		arena_track(msg, B.v);
	return node;
}

static void
parse_normal(struct mime_msg *msg, struct mime_node *node, const char *boundary,
	     struct lines *body)
{
	const char *ctv, *type, *b, *charset, *name;
	size_t ctl, dl;
	bool missing;

	ctv = node_header(msg, node, "content-type", &ctl);
	missing = mime_parse_content_type(msg, ctv, ctl, &type, &b, &charset, &name);
	if (!missing)
		node->type = (strncmp(type, "multipart/", 10) != 0 || boundary != NULL) ?
			     type : "text/plain";
	node->charset = charset;
	const char *disp = node_header(msg, node, "content-disposition", &dl);

	/* /name=\s*"?([^";]+)"?/i */
	const char *nm = NULL;
	size_t nml = 0;
	if (disp != NULL) {
		for (size_t i = 0; i + 5 <= dl; i++) {
			if (strncasecmp(disp + i, "name=", 5) != 0)
				continue;
			size_t j = i + 5;

			while (j < dl && pspace(disp[j]))
				j++;
			if (j < dl && disp[j] == '"')
				j++;
			size_t k = j;
			while (k < dl && disp[k] != '"' && disp[k] != ';')
				k++;
			if (k > j) {
				nm = disp + j;
				nml = k - j;
				break;
			}
		}
	}
	if (nm != NULL)
		node->name = mime_strndup(msg, nm, nml);
	else if (name != NULL && *name != '\0' && strcmp(name, "0") != 0)
		node->name = name;
	node->lines = body->v;
	node->nlines = body->n;
	node->has_raw = true;
	if (body->v != NULL && !body->borrowed)
		arena_track(msg, body->v);
	body->v = NULL;
	body->n = body->cap = 0;
	body->borrowed = false;
}

/* Pushes line l onto part, split at MAX_BODY_LINE_LENGTH as SA does. */
static void
push_split(struct lines *part, const struct mime_line *l)
{
	const char *p = l->p;
	size_t len = l->len;
	bool nl = l->nl;

	while (len + (nl ? 1 : 0) > MIME_MAX_BODY_LINE) {
		lines_push(part, p, MIME_MAX_BODY_LINE, true);
		p += MIME_MAX_BODY_LINE;
		len -= MIME_MAX_BODY_LINE;
	}
	lines_push(part, p, len, nl);
}

/* Adds body line l to the part being cut out: a part's lines are a run
 * of the multipart's own, so the run is borrowed (no copy) until a line
 * must be split; each level of nesting copied every line before, and 18
 * levels around 4 million short lines took 1.2 GB for an 8 MB message. */
static void
part_push(struct lines *part, const struct mime_line *l)
{
	bool whole = l->len + (l->nl ? 1u : 0u) <= MIME_MAX_BODY_LINE;

	if (whole && part->n == 0 && part->v == NULL) {
		part->v = (struct mime_line *)l;
		part->n = 1;
		part->borrowed = true;
		return;
	}
	if (whole && part->borrowed && part->v + part->n == l) {
		part->n++;
		return;
	}
	if (part->borrowed) {
		struct mime_line *v = xreallocarray(NULL, part->n + 64, sizeof(*v));

		memcpy(v, part->v, part->n * sizeof(*v));
		part->v = v;
		part->cap = part->n + 64;
		part->borrowed = false;
	}
	push_split(part, l);
}

static void
add_part_header(struct mime_msg *msg, struct mime_node *part, struct mime_str *h)
{
	/* split(/:\s*\/, $header, 2) */
	char *colon = memchr(h->p, ':', h->len);

	if (colon == NULL)
		return;
	size_t k = (size_t)(colon - h->p), v = k + 1;

	while (v < h->len && pspace(h->p[v]))
		v++;
	mime_node_add_parsed_header(msg, part, h->p, k, h->p + v, h->len - v);
}

static void
parse_multipart(struct mime_msg *msg, struct mime_node *node, const char *boundary,
		struct lines *body, int subparse, size_t *count)
{
	size_t bn = strlen(boundary), first = 0, i;
	bool nested = false;

	node->has_kids = true;
	subparse--;
	for (i = 0; i < body->n; i++) {
		if (boundary_match(&body->v[i], boundary, bn, false)) {
			if (i + 1 < body->n && !header_like(&body->v[i + 1], false))
				msg->flags.missing_mime_headers = true;
			break;
		}
	}
	if (i < body->n)
		first = i + 1;

	struct mime_node *part = node_new(msg);
	struct lines pa = { 0 };
	bool have_pa = false, in_body = false, have_header = false;
	struct mime_str header = { 0 };
	size_t partcnt = 0;
	size_t line_count = body->n - first;

	mime_str_add(&header, "", 0);
	for (i = first; i < body->n; i++) {
		const struct mime_line *l = &body->v[i];
		int bm = boundary_match(l, boundary, bn, true);
		bool found_end = bm != 0, found_last = bm == 2;

		if (found_end && nested) {
			found_end = false;
			if (found_last)
				nested = false;
		}
		line_count--;
		if (line_count == 0 || found_end) {
			if (!found_end) {
				part_push(&pa, l);
				have_pa = true;
			} else if (have_pa && pa.n > 0) {
				pa.v[pa.n - 1].nl = false;
				if (pa.v[pa.n - 1].len == 0)
					pa.n--;
			}
			/* a header still pending here is dropped, as SA drops it */
			const char *ctv, *type, *pb, *cs, *nm;
			size_t ctl;
			bool missing;

			ctv = node_header(msg, part, "content-type", &ctl);
			missing = mime_parse_content_type(msg, ctv, ctl, &type, &pb, &cs, &nm);
			part->type = type;
			if (missing && strcmp(node->type, "multipart/digest") == 0)
				part->type = "message/rfc822";
			if (pb == NULL || *pb == '\0' || strcmp(pb, "0") == 0)
				pb = boundary;
			add_kid(msg, node, part);
			(*count)++;
			if (*count >= MIME_MAX_NODES) {
				msg->flags.node_limit_exceeded = true;
				part->type = part->type != NULL ? part->type : "text/plain";
				node->has_kids = true;
				parse_normal(msg, part, pb, &pa);
			} else {
				parse_body(msg, part, pb, &pa, subparse, count);
			}
			/* kept: the parts inside it may borrow from it */
			if (pa.v != NULL && !pa.borrowed)
				arena_track(msg, pa.v);
			memset(&pa, 0, sizeof(pa));
			have_pa = false;
			if (found_last)
				break;
			if (line_count > 0 && !header_like(&body->v[i + 1], false))
				msg->flags.missing_mime_headers = true;
			if (++partcnt == MIME_MAX_PARTS_PER_MULTIPART) {
				msg->flags.mimepart_limit_exceeded = true;
				mime_str_free(&header);
				return;
			}
			in_body = false;
			part = node_new(msg);
			have_header = false;
			header.len = 0;
			continue;
		}
		if (!in_body) {
			if (header_like(l, true)) {
				if (have_header)
					add_part_header(msg, part, &header);
				header.len = 0;
				mime_str_add(&header, l->p, l->len);
				if (l->nl)
					mime_str_addc(&header, '\n');
				have_header = true;
				continue;
			}
			if (llen(l) > 0 && (l->p[0] == ' ' || l->p[0] == '\t') && have_header) {
				mime_str_add(&header, l->p, l->len);
				if (l->nl)
					mime_str_addc(&header, '\n');
				continue;
			}
			if (have_header) {
				add_part_header(msg, part, &header);
				/* only the last header before the body is checked */
				char *colon = memchr(header.p, ':', header.len);
				size_t k = colon != NULL ? (size_t)(colon - header.p) : 0;

				if (k == 12 && strncasecmp(header.p, "content-type", 12) == 0) {
					const char *ctv, *t, *nb, *cs, *nm;
					size_t ctl;

					ctv = node_header(msg, part, "content-type", &ctl);
					mime_parse_content_type(msg, ctv, ctl, &t, &nb, &cs, &nm);
					if (nb != NULL && strcmp(nb, boundary) == 0)
						nested = true;
				}
				have_header = false;
				header.len = 0;
			}
			in_body = true;
			/* /^\r?$/ */
			if ((l->len == 0) || (l->len == 1 && l->p[0] == '\r'))
				continue;
			msg->flags.missing_mime_head_body_separator = true;
		}
		part_push(&pa, l);
		have_pa = true;
	}
	mime_str_free(&header);
	if (!pa.borrowed)
		free(pa.v);
	for (size_t k = body->n - line_count; line_count > 0 && k < body->n; k++) {
		const struct mime_line *l = &body->v[k];
		bool other = false;

		for (size_t j = 0; j < llen(l); j++)
			if (!pspace(lch(l, j)) && lch(l, j) != '.')
				other = true;
		if (other) {
			msg->flags.mime_epilogue_exists = true;
			break;
		}
	}
}

static void
parse_body(struct mime_msg *msg, struct mime_node *node, const char *boundary,
	   struct lines *body, int subparse, size_t *count)
{
	if (strncmp(node->type, "multipart/", 10) == 0 && boundary != NULL && subparse > 0) {
		parse_multipart(msg, node, boundary, body, subparse, count);
		return;
	}
	bool owned = body->v != NULL && !body->borrowed;

	parse_normal(msg, node, boundary, body);
	if (strncmp(node->type, "message/", 8) == 0 &&
	    strcmp(node->type, "message/partial") != 0 && subparse > 0) {
		size_t dl;
		const char *d = mime_decoded(msg, node, &dl);

		if ((strcmp(node->type, "message/rfc822") == 0 ||
		     strcmp(node->type, "message/global") == 0) && dl > 0 &&
		    *count < MIME_MAX_NODES) {
			/* d is the lines' own bytes: they index it already */
			bool in_place = node->nlines > 0 && d == node->lines[0].p;
			struct lines pre = { node->lines, node->nlines, 0, true };

			(*count)++;
			/* Else its lines are in d now: freed before the
			 * message inside is indexed, as each level of nesting
			 * held its own index of the same lines (19 levels
			 * around 4 million short lines: 1.5 GB for an 8 MB
			 * message). */
			if (owned && !in_place)
				arena_release(msg, node->lines);
			node->has_raw = false;
			node->lines = NULL;
			node->nlines = 0;
			struct mime_node *inner = message_new(msg, d, dl, subparse - 1, false,
							      count, in_place ? &pre : NULL);

			add_kid(msg, node, inner);
			node->decoded_done = false;
			node->decoded = NULL;
			node->decoded_len = 0;
		}
	}
}

/* ---- decoding and rendering ---- */

/* Whether node's raw lines are a run of bytes as they stand in their
 * buffer (each line followed by its own newline, none split, dropped or
 * cut short of a CR): then that run is their decoded text. */
static bool
lines_in_place(const struct mime_node *node, const char **start_r, size_t *len_r)
{
	const struct mime_line *v = node->lines;
	size_t n = node->nlines;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct mime_line *l = &v[i];
		bool last = i + 1 == n;

		if (l->nl ? l->p[l->len] != '\n' : !last)
			return false;
		if (!last && v[i + 1].p != l->p + l->len + 1)
			return false;
	}
	*start_r = v[0].p;
	*len_r = (size_t)(v[n - 1].p + llen(&v[n - 1]) - v[0].p);
	return true;
}

/* s/\r\n/\n/g in place, when on. */
static void
crlf_to_lf(struct mime_str *s, bool on)
{
	size_t o = 0;

	if (!on || s->p == NULL)
		return;
	for (size_t i = 0; i < s->len; i++) {
		if (s->p[i] == '\r' && i + 1 < s->len && s->p[i + 1] == '\n')
			continue;
		s->p[o++] = s->p[i];
	}
	s->len = o;
	s->p[o] = '\0';
}

const char *
mime_decoded(struct mime_msg *msg, struct mime_node *node, size_t *len_r)
{
	if (!node->decoded_done) {
		struct mime_str raw = { 0 }, out = { 0 };
		const char *enc;
		size_t el, total = 0;
		bool qp, b64;

		node->decoded_done = true;
		if (!node->has_raw) {
			node->decoded = NULL;
			node->decoded_len = 0;
			*len_r = 0;
			return NULL;
		}
		enc = node_header(msg, node, "content-transfer-encoding", &el);
		qp = enc != NULL && el == 16 && strncasecmp(enc, "quoted-printable", 16) == 0;
		b64 = enc != NULL && el == 6 && strncasecmp(enc, "base64", 6) == 0;
		if (!qp && !b64 && lines_in_place(node, &node->decoded, &node->decoded_len)) {
			/* nothing to decode and the lines are the bytes of
			 * the input as they stand: each level of
			 * message/rfc822 nesting copied its whole text */
			*len_r = node->decoded_len;
			return node->decoded;
		}
		for (size_t i = 0; i < node->nlines; i++)
			total += node->lines[i].len + 1;
		mime_str_reserve(&raw, total);
		for (size_t i = 0; i < node->nlines; i++) {
			mime_str_add(&raw, node->lines[i].p, node->lines[i].len);
			if (node->lines[i].nl)
				mime_str_addc(&raw, '\n');
		}
		if (qp) {
			mime_qp_decode(raw.p, raw.len, &out);
			crlf_to_lf(&out, true);
		} else if (b64) {
			/* m@^(?:text|message)\b@i */
			bool textish = strncasecmp(node->type, "text/", 5) == 0 ||
				       strncasecmp(node->type, "message/", 8) == 0;

			mime_base64_decode(raw.p, raw.len, &out);
			crlf_to_lf(&out, textish);
		} else {
			out = raw;
			raw = (struct mime_str){ 0 };
		}
		mime_str_free(&raw);
		node->decoded_len = out.len;
		node->decoded = arena_adopt(msg, &out);
	}
	*len_r = node->decoded_len;
	return node->decoded;
}

const char *
mime_effective_type(const struct mime_node *node)
{
	if (node->name != NULL) {
		/* /\.s?html?$/i */
		const char *n = node->name;
		size_t l = strlen(n);

		if (l > 0 && n[l - 1] == '\n')
			l--;
		if (l >= 1 && (n[l - 1] == 'l' || n[l - 1] == 'L'))
			l--;
		if (l >= 4 && strncasecmp(n + l - 4, ".htm", 4) == 0)
			return "text/html";
		if (l >= 5 && strncasecmp(n + l - 5, ".shtm", 5) == 0)
			return "text/html";
	}
	return node->type;
}

bool
mime_latin1_changes(const char *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c == 0xc2 || c == 0xc3) && ((unsigned char)p[i + 1] & 0xc0) == 0x80)
			return true;
	}
	return false;
}

void
mime_latin1_from_utf8(const char *p, size_t n, struct mime_str *out)
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

const char *
mime_rendered(struct mime_msg *msg, struct mime_node *node, size_t *len_r,
	      bool *utf8_r, const char **type_r)
{
	if (!node->rendered_done) {
		const char *type = mime_effective_type(node);
		size_t dl;
		const char *d;
		const char *cs, *text;
		struct mime_str t = { 0 };
		size_t tl;
		bool utf8;

		node->rendered_done = true;
		if (strcmp(type, "text/plain") != 0 && strcmp(type, "text/html") != 0) {
			node->rendered_type = NULL;
			node->rendered = NULL;
			goto out;
		}
		d = mime_decoded(msg, node, &dl);
		if (d == NULL) {
			d = "";
			dl = 0;
		}
		cs = node->charset != NULL ? node->charset : "us-ascii";
		/* the decoded text lives as long as msg: when normalising
		 * leaves it as it is, it is used in place, not copied */
		if (mime_normalize_unchanged(d, dl, cs, false, &utf8)) {
			text = d;
			tl = dl;
		} else {
			mime_str_add(&t, "", 0);
			utf8 = mime_normalize(d, dl, cs, false, &t);
			text = t.p;
			tl = t.len;
		}
		if (dl > 0 && strcmp(type, "text/html") == 0) {
			struct mime_arena *a = msg->arena;
			struct html_result *r = html_render(text, tl, utf8, dl);

			if (a->nhtmls == a->htmls_cap) {
				a->htmls_cap = a->htmls_cap ? a->htmls_cap * 2 : 8;
				a->htmls = xreallocarray(a->htmls, a->htmls_cap, sizeof(*a->htmls));
			}
			a->htmls[a->nhtmls++] = r;
			node->html = r;
			node->rendered_type = "text/html";
			/* r lives as long as msg too */
			if (r->text_utf8 || !mime_latin1_changes(r->text, r->text_len)) {
				node->rendered = r->text;
				node->rendered_len = r->text_len;
			} else {
				struct mime_str l = { 0 };

				mime_str_reserve(&l, r->text_len);
				mime_latin1_from_utf8(r->text, r->text_len, &l);
				node->rendered_len = l.len;
				node->rendered = arena_adopt(msg, &l);
			}
			node->rendered_utf8 = r->text_utf8;
		} else {
			node->rendered_type = type;
			node->rendered_len = tl;
			node->rendered = text == d ? d : arena_adopt(msg, &t);
			node->rendered_utf8 = utf8;
		}
		mime_str_free(&t);
	}
out:
	*len_r = node->rendered_len;
	*utf8_r = node->rendered_utf8;
	*type_r = node->rendered_type;
	return node->rendered;
}

/* ---- the tree ---- */

static void
collect(struct mime_msg *msg, struct mime_node *n, size_t *cap)
{
	/* find_parts: pre-order; iterative to bound the stack */
	struct mime_node **stack = xmalloc(sizeof(*stack) * 64);
	size_t sp = 0, scap = 64;

	stack[sp++] = n;
	while (sp > 0) {
		struct mime_node *x = stack[--sp];

		if (msg->nnodes == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			msg->nodes = xreallocarray(msg->nodes, *cap, sizeof(*msg->nodes));
		}
		msg->nodes[msg->nnodes++] = x;
		for (size_t i = x->nkids; i-- > 0;) {
			if (sp == scap) {
				scap *= 2;
				stack = xreallocarray(stack, scap, sizeof(*stack));
			}
			stack[sp++] = x->kids[i];
		}
	}
	free(stack);
}

struct mime_msg *
mime_parse(const char *data, size_t len)
{
	struct mime_msg *msg = xcalloc(1, sizeof(*msg));
	size_t count = 1, cap = 0;

	msg->arena = xcalloc(1, sizeof(*msg->arena));
	msg->root = message_new(msg, data, len, MIME_SUBPARSE, true, &count, NULL);
	collect(msg, msg->root, &cap);
	return msg;
}

void
mime_free(struct mime_msg **mp)
{
	struct mime_msg *msg = *mp;

	if (msg == NULL)
		return;
	struct mime_arena *a = msg->arena;

	for (size_t i = 0; i < a->nfrees; i++)
		free(a->frees[i]);
	free(a->frees);
	for (size_t i = 0; i < a->nhtmls; i++)
		html_result_free(&a->htmls[i]);
	free(a->htmls);
	while (a->head != NULL) {
		struct arena_block *b = a->head;

		a->head = b->next;
		free(b);
	}
	free(a);
	free(msg->nodes);
	free(msg);
	*mp = NULL;
}

/* pristine_headers may have gained a CR per line in a CRLF message, so
 * its lines are counted, not its bytes. */
const char *
mime_pristine_body(const struct mime_msg *msg, size_t *len_r)
{
	size_t lines = 0, off = 0;

	*len_r = 0;
	if (msg->pristine_headers_len > 0 &&
	    msg->pristine_headers[msg->pristine_headers_len - 1] != '\n')
		return msg->pristine + msg->pristine_len;
	for (size_t i = 0; i < msg->pristine_headers_len; i++)
		lines += msg->pristine_headers[i] == '\n';
	while (lines > 0 && off < msg->pristine_len) {
		const char *nl = memchr(msg->pristine + off, '\n', msg->pristine_len - off);

		if (nl == NULL) {
			off = msg->pristine_len;
			break;
		}
		off = (size_t)(nl - msg->pristine) + 1;
		lines--;
	}
	*len_r = msg->pristine_len - off;
	return msg->pristine + off;
}
