/* prefilter: which regex rules can possibly match a piece of text, from
 * the literal strings their patterns require.
 *
 * Each pattern is parsed (Perl syntax, as the rule files write it) into a
 * small tree and reduced to a set of literals such that every match of the
 * pattern contains at least one of them: the technique of RE2's prefilter
 * and SpamAssassin's own sa-compile.  All the literals of a view go into one
 * Vectorscan literal database (case-insensitive, which is a superset for
 * case-sensitive patterns); one scan per line then names the literals
 * present, hence the candidate rules, and PCRE2 confirms each candidate.
 * A pattern whose requirement cannot be established (".*", short literals,
 * constructs the parser does not know) runs on every line: the analysis may
 * only make the candidate set larger than the true matches, never smaller.
 *
 * Literal databases compile in milliseconds, unlike regex prefilter
 * databases (minutes for SpamAssassin's rule set), so the daemon starts and
 * reloads fast.
 *
 * The same parse also derives a byte-set gate (prefilter_bytes) for the
 * patterns without literals: a few sets of bytes such that every match
 * contains a byte of each (a literal gives its byte in both cases, a class
 * its bytes; a sequence all its items' sets, an alternation the rarest
 * union of one set per branch, anything optional or unknown nothing).  A line that
 * lacks every byte of one set cannot match, and the obfuscation classes
 * and high-bit sets of such rules are absent from most lines.  Case is
 * always folded (a superset of case-sensitive matching), so inline (?i)
 * and (?-i) need no tracking. */
#include "config.h"

#include <ctype.h>
#include <hs/hs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "byteset.h"
#include "prefilter.h"
#include "strlist.h"
#include "xalloc.h"

/* Limits of the analysis: beyond them a set is "unknown", which only costs
 * speed. */
#define PF_EXACT_MAX 16		/* strings in an exact set */
#define PF_STR_MAX 64		/* length of a literal kept */
#define PF_REQ_MAX 256		/* strings in a required set */
#define PF_CLASS_MAX 8		/* characters of a class kept exact */
#define PF_MIN_LITERAL 3	/* shorter literals select too little */
#define PF_DEPTH_MAX 200

/* A set of strings; "valid" false means unknown/unbounded. */
struct pf_set {
	bool valid;
	struct strlist s;
};

struct pf_info {
	struct pf_set exact;	/* every string the node can match */
	struct pf_set req;	/* every match contains one of these */
	struct byteset_req bytes;	/* every match has a byte of each */
};

struct pf_parser {
	const char *p, *end;
	bool extended;
	int depth;
	bool error;
	/* A construct the literal analysis passes over but whose bytes are
	 * not known for sure (a verb, a literal '{'): no byte-set gate. */
	bool bytes_unsure;
};

static void
pf_set_init(struct pf_set *s, bool valid)
{
	s->valid = valid;
	strlist_init(&s->s);
}

static void
pf_set_free(struct pf_set *s)
{
	strlist_free(&s->s);
	s->valid = false;
}

static bool
pf_set_has(const struct pf_set *s, const char *p, size_t len)
{
	for (size_t i = 0; i < s->s.n; i++)
		if (s->s.v[i].len == len && memcmp(s->s.v[i].p, p, len) == 0)
			return true;
	return false;
}

static void
pf_set_add(struct pf_set *s, const char *p, size_t len)
{
	if (!pf_set_has(s, p, len))
		strlist_add(&s->s, p, len);
}

/* For a string known not to be in s (copied from another set): the
 * check of pf_set_add made loading the rules quadratic in set sizes, a
 * quarter of lmtpd-score's start-up. */
static void
pf_set_add_new(struct pf_set *s, const char *p, size_t len)
{
	strlist_add(&s->s, p, len);
}

static void
pf_info_free(struct pf_info *i)
{
	pf_set_free(&i->exact);
	pf_set_free(&i->req);
}

/* The empty string only. */
static struct pf_info
pf_empty(void)
{
	struct pf_info i;

	pf_set_init(&i.exact, true);
	pf_set_add(&i.exact, "", 0);
	pf_set_init(&i.req, false);
	i.bytes.n = 0;
	return i;
}

static struct pf_info
pf_unknown(void)
{
	struct pf_info i;

	pf_set_init(&i.exact, false);
	pf_set_init(&i.req, false);
	i.bytes.n = 0;
	return i;
}

/* The required set implied by i (its exact set, or its requirement),
 * taken out of i: every caller frees i next, and copying the sets was most
 * of the analysis' cost. */
static struct pf_set
pf_req_take(struct pf_info *i)
{
	struct pf_set r;

	pf_set_init(&r, false);
	if (i->exact.valid) {
		for (size_t k = 0; k < i->exact.s.n; k++)
			if (i->exact.s.v[k].len == 0)
				return r;
		r = i->exact;
		pf_set_init(&i->exact, false);
		return r;
	}
	if (i->req.valid) {
		r = i->req;
		pf_set_init(&i->req, false);
	}
	return r;
}

/* How selective a required set is: the length of its shortest string
 * (longer is rarer), 0 when unknown. */
static size_t
pf_quality(const struct pf_set *r)
{
	size_t q = PF_STR_MAX + 1;

	if (!r->valid || r->s.n == 0)
		return 0;
	for (size_t k = 0; k < r->s.n; k++)
		if (r->s.v[k].len < q)
			q = r->s.v[k].len;
	return q;
}

static bool
pf_better(const struct pf_set *a, const struct pf_set *b)
{
	size_t qa = pf_quality(a), qb = pf_quality(b);

	if (qa != qb)
		return qa > qb;
	return a->valid && (!b->valid || a->s.n < b->s.n);
}

static struct pf_info
pf_concat(struct pf_info a, struct pf_info b)
{
	struct pf_info out;
	struct pf_set ra, rb;

	pf_set_init(&out.exact, false);
	pf_set_init(&out.req, false);
	out.bytes = a.bytes;
	byteset_req_merge(&out.bytes, &b.bytes);
	if (a.exact.valid && b.exact.valid &&
	    a.exact.s.n * b.exact.s.n <= PF_EXACT_MAX) {
		bool ok = true;

		out.exact.valid = true;
		for (size_t i = 0; i < a.exact.s.n && ok; i++)
			for (size_t j = 0; j < b.exact.s.n && ok; j++) {
				size_t la = a.exact.s.v[i].len, lb = b.exact.s.v[j].len;
				char buf[2 * PF_STR_MAX];

				if (la + lb > PF_STR_MAX) {
					ok = false;
					break;
				}
				memcpy(buf, a.exact.s.v[i].p, la);
				memcpy(buf + la, b.exact.s.v[j].p, lb);
				pf_set_add(&out.exact, buf, la + lb);
			}
		if (ok) {
			pf_info_free(&a);
			pf_info_free(&b);
			return out;
		}
		pf_set_free(&out.exact);
		pf_set_init(&out.exact, false);
	}
	/* Not exact any more: keep the better requirement of the two. */
	ra = pf_req_take(&a);
	rb = pf_req_take(&b);
	if (pf_better(&ra, &rb)) {
		out.req = ra;
		pf_set_free(&rb);
	} else {
		out.req = rb;
		pf_set_free(&ra);
	}
	pf_info_free(&a);
	pf_info_free(&b);
	return out;
}

static struct pf_info
pf_alternate(struct pf_info a, struct pf_info b)
{
	struct pf_info out;
	struct pf_set ra, rb;

	pf_set_init(&out.exact, false);
	pf_set_init(&out.req, false);
	byteset_req_either(&out.bytes, &a.bytes, &b.bytes);
	if (a.exact.valid && b.exact.valid && a.exact.s.n + b.exact.s.n <= PF_EXACT_MAX) {
		out.exact.valid = true;
		for (size_t i = 0; i < a.exact.s.n; i++)
			pf_set_add_new(&out.exact, a.exact.s.v[i].p, a.exact.s.v[i].len);
		for (size_t i = 0; i < b.exact.s.n; i++)
			pf_set_add(&out.exact, b.exact.s.v[i].p, b.exact.s.v[i].len);
		pf_info_free(&a);
		pf_info_free(&b);
		return out;
	}
	ra = pf_req_take(&a);
	rb = pf_req_take(&b);
	if (ra.valid && rb.valid && ra.s.n + rb.s.n <= PF_REQ_MAX) {
		out.req = ra;
		pf_set_init(&ra, false);
		for (size_t i = 0; i < rb.s.n; i++)
			pf_set_add(&out.req, rb.s.v[i].p, rb.s.v[i].len);
	}
	pf_set_free(&ra);
	pf_set_free(&rb);
	pf_info_free(&a);
	pf_info_free(&b);
	return out;
}

static struct pf_info
pf_repeat(struct pf_info x, unsigned int min, unsigned int max)
{
	struct pf_info out;

	if (min == 0) {
		/* May match nothing: no requirement; x? stays exact. */
		if (max == 1 && x.exact.valid && x.exact.s.n + 1 <= PF_EXACT_MAX) {
			pf_set_add(&x.exact, "", 0);
			pf_set_free(&x.req);
			pf_set_init(&x.req, false);
			x.bytes.n = 0;
			return x;
		}
		pf_info_free(&x);
		return pf_unknown();
	}
	if (min == max && min <= 4 && x.exact.valid) {
		struct pf_info acc = pf_empty();

		for (unsigned int k = 0; k < min; k++) {
			struct pf_info copy;

			pf_set_init(&copy.exact, true);
			pf_set_init(&copy.req, false);
			copy.bytes = x.bytes;
			for (size_t i = 0; i < x.exact.s.n; i++)
				pf_set_add_new(&copy.exact, x.exact.s.v[i].p, x.exact.s.v[i].len);
			acc = pf_concat(acc, copy);
		}
		pf_info_free(&x);
		return acc;
	}
	/* x{n,} with n >= 1: at least one x, so x's requirement holds. */
	pf_set_init(&out.exact, false);
	out.req = pf_req_take(&x);
	out.bytes = x.bytes;
	pf_info_free(&x);
	return out;
}

/* ---- parser ---------------------------------------------------------------- */

static struct pf_info pf_parse_alt(struct pf_parser *ps);

static unsigned char
pf_fold(unsigned char c)
{
	return (unsigned char)tolower(c);
}

static struct pf_info
pf_char(unsigned char c)
{
	struct pf_info i;
	char ch = (char)pf_fold(c);
	struct byteset b;

	pf_set_init(&i.exact, true);
	pf_set_add(&i.exact, &ch, 1);
	pf_set_init(&i.req, false);
	memset(&b, 0, sizeof(b));
	byteset_add(&b, c);
	byteset_fold(&b);
	i.bytes.n = 0;
	byteset_req_add(&i.bytes, &b);
	return i;
}

static void
pf_skip_extended(struct pf_parser *ps)
{
	while (ps->extended && ps->p < ps->end) {
		/* PCRE2 also skips NEL (0x85) under /x. */
		if (isspace((unsigned char)*ps->p) || (unsigned char)*ps->p == 0x85) {
			ps->p++;
		} else if (*ps->p == '#') {
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
		} else {
			break;
		}
	}
}

static int
pf_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* An escape that stands for one byte (\xHH, \x{HH}, \n, \t, \0oo, \cX,
 * \e, or an escaped punctuation): returns it, or -1 when the escape is a
 * class, an assertion or anything else. p points after the backslash. */
static int
pf_escape_byte(const char **pp, const char *end)
{
	const char *p = *pp;
	char c = *p++;
	int v;

	switch (c) {
	case 'n': v = '\n'; break;
	case 'r': v = '\r'; break;
	case 't': v = '\t'; break;
	case 'f': v = '\f'; break;
	case 'e': v = 27; break;
	case 'a': v = 7; break;
	case 'x':
		if (p < end && *p == '{') {
			const char *q = p + 1;

			v = 0;
			while (q < end && *q != '}' && pf_hex(*q) >= 0 && v <= 0xff)
				v = v * 16 + pf_hex(*q++);
			if (q >= end || *q != '}' || v > 0xff)
				return -1;
			p = q + 1;
		} else {
			v = 0;
			for (int k = 0; k < 2 && p < end && pf_hex(*p) >= 0; k++)
				v = v * 16 + pf_hex(*p++);
		}
		break;
	case '0':
		v = 0;
		for (int k = 0; k < 2 && p < end && *p >= '0' && *p <= '7'; k++)
			v = v * 8 + (*p++ - '0');
		break;
	case 'c':
		if (p >= end)
			return -1;
		v = toupper((unsigned char)*p++) ^ 0x40;
		break;
	default:
		if (isalnum((unsigned char)c))
			return -1;	/* \d \w \b \1 \p ...: not one byte */
		v = (unsigned char)c;
		break;
	}
	*pp = p;
	return v;
}

/* [:name:] or [:^name:] from p (at the '['), close at the ':]': adds its
 * bytes to bits, or returns false when the name is not a known one. */
static bool
pf_posix_class(const char *p, const char *close, struct byteset *bits)
{
	struct byteset cls;
	bool negated = false;

	p += 2;
	if (p < close && *p == '^') {
		negated = true;
		p++;
	}
	for (const char *q = p; q < close; q++)
		if (*q < 'a' || *q > 'z')
			return false;
	if (!byteset_posix_class(p, (size_t)(close - p), &cls))
		return false;
	if (negated)
		byteset_invert(&cls);
	for (int w = 0; w < 4; w++)
		bits->w[w] |= cls.w[w];
	return true;
}

/* [...]: exact when it holds few characters, unknown otherwise; its bytes
 * (all of them, case-folded) for the byte-set gate when every item is
 * understood. */
static struct pf_info
pf_parse_class(struct pf_parser *ps)
{
	unsigned char seen[256];
	bool negated = false, unknown = false, bits_sure = true;
	size_t count = 0;
	int prev = -1;
	struct pf_info out;
	struct byteset bits;

	memset(seen, 0, sizeof(seen));
	memset(&bits, 0, sizeof(bits));
	if (ps->p < ps->end && *ps->p == '^') {
		negated = true;
		ps->p++;
	}
	/* A ']' first is a literal. */
	if (ps->p < ps->end && *ps->p == ']') {
		seen[']'] = 1;
		byteset_add(&bits, ']');
		prev = ']';
		ps->p++;
	}
	while (ps->p < ps->end && *ps->p != ']') {
		bool escaped = false;
		int c;

		if (*ps->p == '[' && ps->p + 1 < ps->end && ps->p[1] == ':') {
			const char *close = strstr(ps->p, ":]");

			if (close == NULL || close >= ps->end) {
				ps->error = true;
				return pf_unknown();
			}
			if (!pf_posix_class(ps->p, close, &bits))
				bits_sure = false;
			ps->p = close + 2;
			unknown = true;
			prev = -1;
			continue;
		}
		if (*ps->p == '\\' && ps->p + 1 < ps->end) {
			const char *q = ps->p + 1;

			c = pf_escape_byte(&q, ps->end);
			if (c < 0) {
				struct byteset cls;

				/* \d \s \w etc., or \Q: many characters. */
				if (byteset_escape_class(ps->p[1], &cls)) {
					for (int w = 0; w < 4; w++)
						bits.w[w] |= cls.w[w];
				} else {
					bits_sure = false;
				}
				ps->p += 2;
				if (ps->p[-1] == 'x' || ps->p[-1] == 'p' || ps->p[-1] == 'P' ||
				    ps->p[-1] == 'N' || ps->p[-1] == 'o') {
					if (ps->p < ps->end && *ps->p == '{') {
						while (ps->p < ps->end && *ps->p != '}')
							ps->p++;
						if (ps->p < ps->end)
							ps->p++;
					}
				}
				unknown = true;
				prev = -1;
				continue;
			}
			ps->p = q;
			escaped = true;
		} else {
			c = (unsigned char)*ps->p++;
		}
		/* An escaped '-' is a literal, never a range. */
		if (c == '-' && !escaped && prev >= 0 && ps->p < ps->end && *ps->p != ']') {
			int hi;

			if (*ps->p == '\\') {
				const char *q = ps->p + 1;

				hi = pf_escape_byte(&q, ps->end);
				if (hi < 0) {
					unknown = true;
					bits_sure = false;
					ps->p += 2;
					prev = -1;
					continue;
				}
				ps->p = q;
			} else {
				hi = (unsigned char)*ps->p++;
			}
			if (hi < prev)
				bits_sure = false;
			else
				byteset_add_range(&bits, (unsigned char)prev, (unsigned char)hi);
			if (hi < prev || hi - prev > PF_CLASS_MAX * 2) {
				unknown = true;
			} else {
				for (int k = prev; k <= hi; k++)
					if (!seen[pf_fold((unsigned char)k)]++)
						count++;
			}
			prev = -1;
			continue;
		}
		if (!seen[pf_fold((unsigned char)c)]++)
			count++;
		byteset_add(&bits, (unsigned char)c);
		prev = c;
	}
	if (ps->p >= ps->end) {
		ps->error = true;
		return pf_unknown();
	}
	ps->p++;	/* ']' */
	if (negated || unknown || count == 0 || count > PF_CLASS_MAX) {
		out = pf_unknown();
	} else {
		pf_set_init(&out.exact, true);
		pf_set_init(&out.req, false);
		for (int k = 0; k < 256; k++)
			if (seen[k]) {
				char ch = (char)k;

				pf_set_add(&out.exact, &ch, 1);
			}
	}
	out.bytes.n = 0;
	if (bits_sure) {
		/* Complement first, then fold: a superset of the class under
		 * /i and without it. */
		if (negated)
			byteset_invert(&bits);
		byteset_fold(&bits);
		byteset_req_add(&out.bytes, &bits);
	}
	return out;
}

/* (...) after the '(' */
static struct pf_info
pf_parse_group(struct pf_parser *ps)
{
	bool zero_width = false, saved_ext = ps->extended;
	struct pf_info in;

	/* (*VERB), (*atomic:...), (*UTF)-style options: what they do to the
	 * rest (skips, case folding beyond ASCII) is not followed here, and
	 * read as text they would require text no match holds. */
	if (ps->p < ps->end && *ps->p == '*') {
		ps->error = true;
		return pf_unknown();
	}
	if (ps->p < ps->end && *ps->p == '?') {
		ps->p++;
		if (ps->p >= ps->end) {
			ps->error = true;
			return pf_unknown();
		}
		switch (*ps->p) {
		case ':': case '>': case '|':
			ps->p++;
			break;
		case '=': case '!':
			zero_width = true;
			ps->p++;
			break;
		case '<':
			if (ps->p + 1 < ps->end && (ps->p[1] == '=' || ps->p[1] == '!')) {
				zero_width = true;
				ps->p += 2;
				break;
			}
			/* (?<name>...) */
			while (ps->p < ps->end && *ps->p != '>')
				ps->p++;
			ps->p++;
			break;
		case 'P':
			if (ps->p + 1 < ps->end && ps->p[1] == '<') {
				while (ps->p < ps->end && *ps->p != '>')
					ps->p++;
				ps->p++;
				break;
			}
			ps->error = true;
			return pf_unknown();
		case '\'':
			ps->p++;
			while (ps->p < ps->end && *ps->p != '\'')
				ps->p++;
			ps->p++;
			break;
		case '#':
			while (ps->p < ps->end && *ps->p != ')')
				ps->p++;
			if (ps->p < ps->end)
				ps->p++;
			return pf_empty();
		default: {
			/* Inline flags: (?imsx-imsx) or (?imsx-imsx:...). */
			bool on = true, ext = ps->extended;

			while (ps->p < ps->end && *ps->p != ')' && *ps->p != ':') {
				if (*ps->p == '-')
					on = false;
				else if (*ps->p == 'x')
					ext = on;
				else if (*ps->p == '^')
					ext = false;
				else if (strchr("imsnpadlu", *ps->p) == NULL) {
					ps->error = true;
					return pf_unknown();
				}
				ps->p++;
			}
			if (ps->p >= ps->end) {
				ps->error = true;
				return pf_unknown();
			}
			if (*ps->p == ')') {
				/* Applies to the rest of the enclosing group. */
				ps->p++;
				ps->extended = ext;
				return pf_empty();
			}
			ps->p++;
			ps->extended = ext;
			break;
		}
		}
	}
	in = pf_parse_alt(ps);
	ps->extended = saved_ext;
	if (ps->p >= ps->end || *ps->p != ')') {
		ps->error = true;
		pf_info_free(&in);
		return pf_unknown();
	}
	ps->p++;
	if (zero_width) {
		pf_info_free(&in);
		return pf_empty();
	}
	return in;
}

static struct pf_info
pf_parse_atom(struct pf_parser *ps)
{
	char c = *ps->p++;

	switch (c) {
	case '(':
		return pf_parse_group(ps);
	case '[':
		return pf_parse_class(ps);
	case '.':
		return pf_unknown();
	case '^':
	case '$':
		return pf_empty();
	case '\\': {
		const char *q = ps->p;
		int b;

		if (q >= ps->end) {
			ps->error = true;
			return pf_unknown();
		}
		if (*q == 'Q') {
			/* \Q...\E: literal text. */
			struct pf_info acc = pf_empty();
			const char *e = ps->p + 1;

			while (e < ps->end && !(e[0] == '\\' && e + 1 < ps->end && e[1] == 'E'))
				acc = pf_concat(acc, pf_char((unsigned char)*e++));
			ps->p = e < ps->end ? e + 2 : e;
			return acc;
		}
		if (strchr("bBAzZGK", *q) != NULL) {
			ps->p++;
			return pf_empty();
		}
		b = pf_escape_byte(&q, ps->end);
		if (b >= 0) {
			ps->p = q;
			return pf_char((unsigned char)b);
		}
		{
			struct byteset cls;

			if (byteset_escape_class(*ps->p, &cls)) {
				struct pf_info i = pf_unknown();

				ps->p++;
				byteset_fold(&cls);
				byteset_req_add(&i.bytes, &cls);
				return i;
			}
		}
		/* \p{..} \1 \g{..} \k<..> \N \R \X ...: some characters. */
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '{' || *ps->p == '<') &&
		    strchr("pPxogkN", ps->p[-1]) != NULL) {
			char close = *ps->p == '{' ? '}' : '>';

			while (ps->p < ps->end && *ps->p != close)
				ps->p++;
			if (ps->p < ps->end)
				ps->p++;
		}
		return pf_unknown();
	}
	default:
		/* A '{' that is no quantifier: literal in PCRE2 10.42, a
		 * quantifier in some forms ({,n}) in later versions. */
		if (c == '{')
			ps->bytes_unsure = true;
		return pf_char((unsigned char)c);
	}
}

/* A quantifier after an atom, if any: {n}, {n,}, {n,m}, *, +, ? with an
 * optional lazy/possessive suffix.  A '{' that is not a quantifier is a
 * literal, as in Perl. */
static bool
pf_parse_quant(struct pf_parser *ps, unsigned int *min_r, unsigned int *max_r)
{
	const char *p = ps->p;
	unsigned long lo = 0, hi;

	if (p >= ps->end)
		return false;
	if (*p == '*' || *p == '+' || *p == '?') {
		*min_r = *p == '+' ? 1 : 0;
		*max_r = *p == '?' ? 1 : ~0u;
		p++;
	} else if (*p == '{') {
		const char *q = p + 1;
		bool have_lo = false;

		while (q < ps->end && isdigit((unsigned char)*q)) {
			lo = lo * 10 + (unsigned long)(*q++ - '0');
			have_lo = true;
			if (lo > 100000)
				return false;
		}
		hi = lo;
		if (q < ps->end && *q == ',') {
			q++;
			hi = ~0u;
			if (q < ps->end && isdigit((unsigned char)*q)) {
				hi = 0;
				while (q < ps->end && isdigit((unsigned char)*q)) {
					hi = hi * 10 + (unsigned long)(*q++ - '0');
					if (hi > 100000)
						return false;
				}
			}
		}
		if (!have_lo || q >= ps->end || *q != '}')
			return false;
		*min_r = (unsigned int)lo;
		*max_r = (unsigned int)hi;
		p = q + 1;
	} else {
		return false;
	}
	if (p < ps->end && (*p == '?' || *p == '+'))
		p++;
	ps->p = p;
	return true;
}

/* Keeps the better of *best and cand (cand is consumed). */
static void
pf_keep_better(struct pf_set *best, struct pf_set cand)
{
	if (pf_better(&cand, best)) {
		pf_set_free(best);
		*best = cand;
	} else {
		pf_set_free(&cand);
	}
}

/* A sequence: runs of exact atoms are multiplied out into literals; an
 * atom that is not exact ends the run, and the best requirement among the
 * runs and the inexact atoms' own requirements is the sequence's. */
static struct pf_info
pf_parse_concat(struct pf_parser *ps)
{
	struct pf_info run = pf_empty();
	struct pf_set best;
	struct byteset_req seq;	/* every atom's, each as repeated */
	bool broken = false;

	pf_set_init(&best, false);
	seq.n = 0;
	for (;;) {
		struct pf_info atom;
		struct byteset_req atom_bytes;
		unsigned int min, max;

		pf_skip_extended(ps);
		if (ps->p >= ps->end || *ps->p == '|' || *ps->p == ')' || ps->error)
			break;
		bool open_tail = false;

		atom = pf_parse_atom(ps);
		atom_bytes = atom.bytes;
		pf_skip_extended(ps);
		while (pf_parse_quant(ps, &min, &max)) {
			if (min == 0)
				atom_bytes.n = 0;
			if (open_tail) {
				/* A quantifier on what already has an open
				 * tail: only its requirement may survive. */
				struct pf_info inexact = pf_unknown();

				inexact.req = pf_req_take(&atom);
				pf_info_free(&atom);
				atom = inexact;
				open_tail = false;
			}
			if (atom.exact.valid && min >= 1 && min <= 4 && max != min) {
				/* x{n,m} is x^n, then more of x or not: x^n
				 * still extends the run ("res+" needs "res"),
				 * and the run ends after it. */
				atom = pf_repeat(atom, min, min);
				open_tail = true;
			} else {
				atom = pf_repeat(atom, min, max);
			}
			pf_skip_extended(ps);
		}
		byteset_req_merge(&seq, &atom_bytes);
		if (atom.exact.valid) {
			struct pf_info joined = pf_concat(run, atom);

			if (joined.exact.valid && open_tail) {
				pf_keep_better(&best, pf_req_take(&joined));
				pf_info_free(&joined);
				run = pf_empty();
				broken = true;
				continue;
			}
			if (joined.exact.valid) {
				run = joined;
				continue;
			}
			/* Too many combinations: start a new run at atom.
			 * pf_concat consumed both; the atom is rebuilt
			 * from the joined requirement's loss, so keep the
			 * joined requirement as a candidate instead. */
			pf_keep_better(&best, pf_req_take(&joined));
			pf_info_free(&joined);
			run = pf_empty();
			broken = true;
			continue;
		}
		pf_keep_better(&best, pf_req_take(&run));
		pf_keep_better(&best, pf_req_take(&atom));
		pf_info_free(&run);
		pf_info_free(&atom);
		run = pf_empty();
		broken = true;
	}
	if (!broken) {
		pf_set_free(&best);
		run.bytes = seq;
		return run;
	}
	pf_keep_better(&best, pf_req_take(&run));
	pf_info_free(&run);
	run = pf_unknown();
	run.req = best;
	run.bytes = seq;
	return run;
}

static struct pf_info
pf_parse_alt(struct pf_parser *ps)
{
	struct pf_info acc;

	if (++ps->depth > PF_DEPTH_MAX) {
		ps->error = true;
		return pf_unknown();
	}
	acc = pf_parse_concat(ps);
	while (!ps->error && ps->p < ps->end && *ps->p == '|') {
		ps->p++;
		acc = pf_alternate(acc, pf_parse_concat(ps));
	}
	ps->depth--;
	return acc;
}

bool
prefilter_analyse(const char *pattern, size_t len, bool extended, struct strlist *out,
		  struct byteset_req *bytes_r)
{
	struct pf_parser ps = { pattern, pattern + len, extended, 0, false, false };
	struct pf_info info = pf_parse_alt(&ps);
	struct pf_set req;
	bool ok;

	if (ps.p != ps.end)
		ps.error = true;
	bytes_r->n = 0;
	if (!ps.error && !ps.bytes_unsure)
		*bytes_r = info.bytes;
	req = pf_req_take(&info);
	ok = !ps.error && req.valid && req.s.n > 0 && pf_quality(&req) >= PF_MIN_LITERAL;
	if (ok)
		for (size_t i = 0; i < req.s.n; i++)
			strlist_add(out, req.s.v[i].p, req.s.v[i].len);
	pf_set_free(&req);
	pf_info_free(&info);
	return ok;
}

bool
prefilter_literals(const char *pattern, size_t len, bool extended, struct strlist *out)
{
	struct byteset_req bytes;

	return prefilter_analyse(pattern, len, extended, out, &bytes);
}

bool
prefilter_bytes(const char *pattern, size_t len, bool extended, struct byteset_req *out)
{
	struct strlist literals;

	strlist_init(&literals);
	(void)prefilter_analyse(pattern, len, extended, &literals, out);
	strlist_free(&literals);
	return out->n > 0;
}

/* ---- approximations of ReplaceTags values ------------------------------- */

/* A tag value such as SpamAssassin's <A> lists every look-alike of a letter:
 * a class of single bytes, then dozens of UTF-8 sequences and HTML
 * entities, each its own alternative.  PCRE2 tries them one by one at each
 * position, which made a handful of rules built from such tags the
 * costliest of the whole rule set.  An approximation keeps the single-byte
 * alternatives as one class and replaces each group of longer ones by its
 * first bytes and a run of any bytes of the right length: it matches every
 * string the value matches (and more), with a few alternatives instead of
 * dozens.  A rule is then tried with its tags approximated first, and only
 * where that matches as written (rules_parse.c). */

/* Longer alternatives' length bound: beyond it the value is left alone. */
#define AP_LEN_MAX 64

struct ap_info {
	unsigned int min, max;		/* length bounds; max <= AP_LEN_MAX */
	struct byteset first;		/* bytes a non-empty match starts with */
};

static bool ap_parse_alt(struct pf_parser *ps, struct ap_info *out);

/* The bytes of one single-byte atom at ps->p (a class, an escape, '.' or a
 * literal), folded; false for anything else. */
static bool
ap_atom_bytes(struct pf_parser *ps, struct byteset *out)
{
	char c = *ps->p;

	memset(out, 0, sizeof(*out));
	if (c == '[') {
		struct pf_info in;
		bool ok;

		ps->p++;
		in = pf_parse_class(ps);
		ok = !ps->error && in.bytes.n == 1;
		if (ok)
			*out = in.bytes.set[0];
		pf_info_free(&in);
		return ok;
	}
	if (c == '\\') {
		const char *q = ps->p + 1;
		int b;

		if (q >= ps->end)
			return false;
		b = pf_escape_byte(&q, ps->end);
		if (b >= 0) {
			byteset_add(out, (unsigned char)b);
		} else if (byteset_escape_class(*q, out)) {
			q++;
		} else {
			return false;
		}
		ps->p = q;
		byteset_fold(out);
		return true;
	}
	if (c == '.') {
		/* newline too: a superset with /s and without */
		byteset_add_range(out, 0, 255);
		ps->p++;
		return true;
	}
	if (strchr("()|*+?{}^$", c) != NULL)
		return false;
	byteset_add(out, (unsigned char)c);
	byteset_fold(out);
	ps->p++;
	return true;
}

/* ?, *, +, {n}, {n,m}, lazy or not; false (quantifier or not) for a
 * possessive one, which the approximation could turn into no match. */
static bool
ap_parse_quant(struct pf_parser *ps, unsigned int *min_r, unsigned int *max_r, bool *unbounded_r)
{
	unsigned int min, max;

	*min_r = *max_r = 1;
	*unbounded_r = false;
	if (ps->p >= ps->end || strchr("?*+{", *ps->p) == NULL)
		return true;
	if (*ps->p == '{' && !(ps->p + 1 < ps->end && isdigit((unsigned char)ps->p[1])))
		return false;	/* a literal '{' in PCRE2: not worth the care */
	{
		const char *start = ps->p, *proper_end;

		if (!pf_parse_quant(ps, &min, &max))
			return false;
		proper_end = *start == '{'
			? (const char *)memchr(start, '}', (size_t)(ps->p - start)) + 1
			: start + 1;
		if (ps->p > proper_end && ps->p[-1] == '+')
			return false;
	}
	*min_r = min;
	*max_r = max;
	*unbounded_r = max == ~0u || max > AP_LEN_MAX;
	return true;
}

/* A sequence of atoms, up to '|' or ')' or the end. */
static bool
ap_parse_seq(struct pf_parser *ps, struct ap_info *out)
{
	bool nullable_so_far = true;

	out->min = out->max = 0;
	memset(&out->first, 0, sizeof(out->first));
	while (ps->p < ps->end && *ps->p != '|' && *ps->p != ')') {
		struct ap_info atom;
		unsigned int qmin, qmax;
		bool unbounded;

		if (*ps->p == '(') {
			if (ps->end - ps->p < 3 || ps->p[1] != '?' || ps->p[2] != ':')
				return false;	/* captures, assertions, flags: no */
			ps->p += 3;
			if (!ap_parse_alt(ps, &atom) || ps->p >= ps->end || *ps->p != ')')
				return false;
			ps->p++;
		} else {
			if (!ap_atom_bytes(ps, &atom.first))
				return false;
			atom.min = atom.max = 1;
		}
		if (!ap_parse_quant(ps, &qmin, &qmax, &unbounded) || unbounded)
			return false;
		if (nullable_so_far)
			for (int w = 0; w < 4; w++)
				out->first.w[w] |= atom.first.w[w];
		if (atom.min * qmin > 0)
			nullable_so_far = false;
		out->min += atom.min * qmin;
		out->max += atom.max * qmax;
		if (out->max > AP_LEN_MAX)
			return false;
	}
	return true;
}

static bool
ap_parse_alt(struct pf_parser *ps, struct ap_info *out)
{
	struct ap_info alt;

	if (++ps->depth > PF_DEPTH_MAX || !ap_parse_seq(ps, out))
		return false;
	while (ps->p < ps->end && *ps->p == '|') {
		ps->p++;
		if (!ap_parse_seq(ps, &alt))
			return false;
		out->min = alt.min < out->min ? alt.min : out->min;
		out->max = alt.max > out->max ? alt.max : out->max;
		for (int w = 0; w < 4; w++)
			out->first.w[w] |= alt.first.w[w];
	}
	ps->depth--;
	return true;
}

/* [...] holding exactly the bytes of s, every byte as \xHH. */
static void
ap_put_class(struct buf *out, const struct byteset *s)
{
	buf_put_str(out, "[");
	for (int lo = 0; lo < 256; lo++) {
		int hi = lo;

		if (!byteset_has(s, (unsigned char)lo))
			continue;
		while (hi + 1 < 256 && byteset_has(s, (unsigned char)(hi + 1)))
			hi++;
		buf_putf(out, "\\x%02x", lo);
		if (hi > lo)
			buf_putf(out, "-\\x%02x", hi);
		lo = hi;
	}
	buf_put_str(out, "]");
}

bool
prefilter_approximate(const char *value, size_t len, struct buf *out)
{
	/* the longer alternatives grouped by length bounds */
	struct { unsigned int min, max; struct byteset first; } groups[8];
	size_t ngroups = 0, nalts = 0;
	struct byteset singles;
	bool nullable = false, any_single = false;
	struct pf_parser ps = { value, value + len, false, 0, false, false };

	/* Only a value that is one (?:...) group: anything else is
	 * substituted as text and could mean something else around the
	 * tag (an unwrapped '|', a quantifier after it). */
	if (len < 5 || strncmp(value, "(?:", 3) != 0 || value[len - 1] != ')')
		return false;
	memset(&singles, 0, sizeof(singles));
	ps.p += 3;
	ps.end--;
	for (;;) {
		struct ap_info alt;

		if (!ap_parse_seq(&ps, &alt) || ps.error)
			return false;
		nalts++;
		if (alt.max == 0) {
			nullable = true;
		} else if (alt.min == 1 && alt.max == 1) {
			for (int w = 0; w < 4; w++)
				singles.w[w] |= alt.first.w[w];
			any_single = true;
		} else {
			size_t g;

			if (alt.min == 0) {
				nullable = true;
				alt.min = 1;
			}
			for (g = 0; g < ngroups; g++)
				if (groups[g].min == alt.min && groups[g].max == alt.max)
					break;
			if (g == ngroups) {
				if (ngroups == sizeof(groups) / sizeof(groups[0]))
					return false;
				groups[ngroups].min = alt.min;
				groups[ngroups].max = alt.max;
				memset(&groups[ngroups].first, 0, sizeof(groups[ngroups].first));
				ngroups++;
			}
			for (int w = 0; w < 4; w++)
				groups[g].first.w[w] |= alt.first.w[w];
		}
		if (ps.p >= ps.end)
			break;
		if (*ps.p != '|')
			return false;	/* a ')' closing nothing */
		ps.p++;
	}
	/* Single bytes only, or no fewer alternatives: nothing to gain. */
	if (ngroups == 0 || any_single + ngroups + nullable >= nalts)
		return false;
	buf_put_str(out, "(?:");
	if (any_single)
		ap_put_class(out, &singles);
	for (size_t g = 0; g < ngroups; g++) {
		if (any_single || g > 0)
			buf_put_str(out, "|");
		ap_put_class(out, &groups[g].first);
		buf_putf(out, "[\\s\\S]{%u,%u}", groups[g].min - 1, groups[g].max - 1);
	}
	if (nullable)
		buf_put_str(out, "|");
	buf_put_str(out, ")");
	return true;
}

/* ---- leading items a gate can do without ----------------------------- */

/* Many rules without literals start with items that may match nothing,
 * "(?:\b|\s)[_\W]{0,3}v..." or "\b_{0,3}x...": PCRE2 then knows no first
 * byte and tries every position of every line.  Whatever the pattern
 * matches, the rest after such items matches too (at the end of what they
 * matched), so the rest is a gate for the rule; when it starts with a
 * literal or a small class, PCRE2 skips to where that byte is. */

/* Bytes a first item may stand for and still select (a class of a letter
 * and its look-alikes, case folded). */
#define TP_SELECTIVE_MAX 24
#define TP_DEPTH_MAX 8

/* The end of the atom at p (a group, class, escape or character), or NULL
 * for one this does not read. */
static const char *
tp_atom_end(const char *p, const char *end)
{
	if (*p == '\\') {
		if (p + 1 >= end)
			return NULL;
		if (strchr("xopPNgk", p[1]) != NULL && p + 2 < end && (p[2] == '{' || p[2] == '<')) {
			const char *q = memchr(p + 2, p[2] == '{' ? '}' : '>', (size_t)(end - p - 2));

			return q != NULL ? q + 1 : NULL;
		}
		if (p[1] == 'x') {
			const char *q = p + 2;

			for (int k = 0; k < 2 && q < end && isxdigit((unsigned char)*q); k++)
				q++;
			return q;
		}
		if (p[1] == 'Q' || p[1] == 'c' || p[1] == '0')
			return NULL;	/* \Q..\E, \cX, octal: not worth reading */
		return p + 2;
	}
	if (*p == '[') {
		const char *q = p + 1;

		if (q < end && *q == '^')
			q++;
		if (q < end && *q == ']')
			q++;
		while (q < end && *q != ']') {
			if (*q == '[' && q + 1 < end && q[1] == ':') {
				const char *c = strstr(q, ":]");

				if (c == NULL || c >= end)
					return NULL;
				q = c + 2;
				continue;
			}
			q += *q == '\\' && q + 1 < end ? 2 : 1;
		}
		return q < end ? q + 1 : NULL;
	}
	if (*p == '(') {
		int depth = 0;
		const char *q = p;

		while (q < end) {
			if (*q == '\\') {
				q += 2;
				continue;
			}
			if (*q == '[') {
				q = tp_atom_end(q, end);
				if (q == NULL)
					return NULL;
				continue;
			}
			if (*q == '(')
				depth++;
			else if (*q == ')' && --depth == 0)
				return q + 1;
			q++;
		}
		return NULL;
	}
	return p + 1;
}

/* The end of a quantifier at p (p itself if none), *min_r its minimum. */
static const char *
tp_quant_end(const char *p, const char *end, unsigned int *min_r)
{
	*min_r = 1;
	if (p >= end)
		return p;
	if (*p == '*' || *p == '?') {
		*min_r = 0;
		p++;
	} else if (*p == '+') {
		p++;
	} else if (*p == '{' && p + 1 < end && isdigit((unsigned char)p[1])) {
		unsigned long n = 0;
		const char *q = p + 1;

		/* {n}, {n,} or {n,m}; anything else is literal text to PCRE2
		 * 10.42 ({2,3,4}, {2,,}) */
		for (; q < end && isdigit((unsigned char)*q); q++)
			if (n < 100000)
				n = n * 10 + (unsigned long)(*q - '0');
		if (q < end && *q == ',')
			for (q++; q < end && isdigit((unsigned char)*q); q++)
				;
		if (q >= end || *q != '}')
			return p;	/* a literal '{' */
		*min_r = (unsigned int)n;
		p = q + 1;
	} else {
		return p;
	}
	if (p < end && (*p == '?' || *p == '+'))
		p++;
	return p;
}

static int tp_seq(const char *p, const char *end, int depth, bool want_selective);

/* A group's inside [p, end) (after its opening): 1 when some alternative
 * may match nothing (want_selective: when every one starts selectively),
 * 0 when not, -1 when it can not be read. */
static int
tp_alternatives(const char *p, const char *end, int depth, bool want_selective)
{
	const char *start = p;
	bool any = false, all = true;

	while (p <= end) {
		if (p == end || *p == '|') {
			int r = tp_seq(start, p, depth + 1, want_selective);

			if (r < 0)
				return -1;
			any = any || r == 1;
			all = all && r == 1;
			start = p + 1;
			if (p == end)
				break;
			p++;
			continue;
		}
		p = tp_atom_end(p, end);
		if (p == NULL)
			return -1;
	}
	return want_selective ? all : any;
}

/* Whether an atom (and its quantifier) may match nothing: 1 yes, 0 no,
 * -1 unknown.  An inline option setting is unknown: it must stay. */
static int
tp_nullable(const char *a, const char *a_end, unsigned int min, int depth)
{
	if (min == 0)
		return 1;
	if (*a == '^' || *a == '$')
		return 1;
	if (*a == '\\')
		return strchr("bBAzZK", a[1]) != NULL ? 1 : 0;
	if (*a != '(')
		return 0;
	if (depth > TP_DEPTH_MAX)
		return -1;
	if (a[1] != '?')
		return tp_alternatives(a + 1, a_end - 1, depth, false);
	switch (a[2]) {
	case '=': case '!': case '#':
		return 1;
	case '<':
		if (a[3] == '=' || a[3] == '!')
			return 1;
		return -1;	/* a named group: not worth the care */
	case ':': case '>':
		return tp_alternatives(a + 3, a_end - 1, depth, false);
	default:
		return -1;	/* option settings, branch resets, ... */
	}
}

/* Whether an atom selects its start: a character, an escaped one, \d, a
 * class of at most TP_SELECTIVE_MAX bytes, or a group whose alternatives
 * all start so. */
static bool
tp_selective(const char *a, const char *a_end, int depth)
{
	if (*a == '\\') {
		if (a[1] == 'd' || a[1] == 'x')
			return true;
		return !isalnum((unsigned char)a[1]);
	}
	if (*a == '[') {
		struct pf_parser ps = { a + 1, a_end, false, 0, false, false };
		struct pf_info in = pf_parse_class(&ps);
		bool ok = !ps.error && in.bytes.n == 1;
		unsigned int count = 0;

		for (int c = 0; ok && c < 256; c++)
			count += byteset_has(&in.bytes.set[0], (unsigned char)c);
		pf_info_free(&in);
		return ok && count <= TP_SELECTIVE_MAX;
	}
	if (*a == '(') {
		if (depth > TP_DEPTH_MAX)
			return false;
		if (a[1] != '?')
			return tp_alternatives(a + 1, a_end - 1, depth, true) == 1;
		if (a[2] == ':')
			return tp_alternatives(a + 3, a_end - 1, depth, true) == 1;
		return false;
	}
	return strchr(".^$|)", *a) == NULL;
}

/* A sequence [p, end): want_selective false, whether it may match nothing
 * (1/0); true, whether its first item that can not match nothing selects
 * (1/0).  -1 when it can not be read. */
static int
tp_seq(const char *p, const char *end, int depth, bool want_selective)
{
	while (p < end) {
		const char *a = p, *a_end = tp_atom_end(p, end);
		unsigned int min;
		int n;

		if (a_end == NULL || a_end > end)
			return -1;
		p = tp_quant_end(a_end, end, &min);
		n = tp_nullable(a, a_end, min, depth);
		if (n < 0)
			return -1;
		if (n == 0)
			return want_selective ? tp_selective(a, a_end, depth) : 0;
	}
	return want_selective ? 0 : 1;
}

bool
prefilter_gate_unsafe(const char *pattern, size_t len)
{
	const char *end = pattern + len;

	for (const char *q = pattern; q + 1 < end; q++) {
		if (q[0] == '\\') {
			/* quoted text, backreferences, \G */
			if (strchr("Q123456789gkG", q[1]) != NULL)
				return true;
			q++;
			continue;
		}
		if (q[0] == '(' && q[1] == '*')
			return true;	/* a verb */
		if (q[0] == '(' && q[1] == '?') {
			const char *f = q + 2;

			/* a comment, a condition, a branch reset, a recursion
			 * or subroutine call ("(?-1", not "(?-i)"), (?P=name),
			 * (?P>name) */
			if (f < end && strchr("#(|R&+-0123456789", *f) != NULL &&
			    !(*f == '-' && f + 1 < end && !isdigit((unsigned char)f[1])))
				return true;
			if (f + 1 < end && f[0] == 'P' && (f[1] == '=' || f[1] == '>'))
				return true;
			/* inline options: x changes how the rest reads */
			while (f < end && (isalpha((unsigned char)*f) || *f == '-' || *f == '^')) {
				if (*f == 'x')
					return true;
				f++;
			}
		}
	}
	return false;
}

size_t
prefilter_trim_prefix(const char *pattern, size_t len)
{
	const char *p = pattern, *end = pattern + len;

	if (prefilter_gate_unsafe(pattern, len))
		return 0;
	/* a top-level '|': the rest is not a sequence */
	for (const char *q = pattern; q < end;) {
		if (*q == '|' || (q = tp_atom_end(q, end)) == NULL)
			return 0;
	}
	while (p < end) {
		const char *a = p, *a_end = tp_atom_end(p, end);
		unsigned int min;
		int n;

		if (a_end == NULL)
			return 0;
		p = tp_quant_end(a_end, end, &min);
		n = tp_nullable(a, a_end, min, 0);
		if (n < 0)
			return 0;
		if (n == 0)
			return a > pattern && tp_selective(a, a_end, 0) ? (size_t)(a - pattern) : 0;
	}
	return 0;
}

unsigned int
prefilter_repeat_min(const char *pattern, size_t len, bool extended, struct strlist *out)
{
	const char *end = pattern + len, *inner, *group_end;
	unsigned int min;

	if (extended || len < 4 || pattern[0] != '(' || prefilter_gate_unsafe(pattern, len))
		return 1;
	if (pattern[1] != '?')
		inner = pattern + 1;
	else if (pattern[2] == ':')
		inner = pattern + 3;
	else
		return 1;	/* lookarounds, atomic groups, options, ... */
	group_end = tp_atom_end(pattern, end);
	if (group_end == NULL || tp_quant_end(group_end, end, &min) != end || min < 2)
		return 1;
	/* the group's own literals: the whole pattern's may span two
	 * repeats ("abab" for (ab){2}) */
	if (!prefilter_literals(inner, (size_t)(group_end - 1 - inner), false, out))
		return 1;
	return min;
}

/* ---- the literal database ------------------------------------------------- */

struct prefilter_db {
	hs_database_t *db;
	/* literal id -> rule indices */
	size_t **rules;
	size_t *rule_counts;
	size_t *literal_lens;		/* literal id -> its length */
	size_t literal_count;
};

struct prefilter_db *
prefilter_db_build(const struct strlist *literals, const size_t *owner, size_t count,
		   bool every_match, char *error, size_t error_size)
{
	struct prefilter_db *pf = xcalloc(1, sizeof(*pf));
	const char **exprs;
	size_t *lens;
	unsigned int *flags, *ids;
	hs_compile_error_t *cerr = NULL;
	struct strlist uniq;

	strlist_init(&uniq);
	/* Distinct literals, each with the rules that need it. */
	for (size_t i = 0; i < count; i++) {
		size_t id;

		for (id = 0; id < uniq.n; id++)
			if (uniq.v[id].len == literals->v[i].len &&
			    memcmp(uniq.v[id].p, literals->v[i].p, uniq.v[id].len) == 0)
				break;
		if (id == uniq.n) {
			strlist_add(&uniq, literals->v[i].p, literals->v[i].len);
			pf->rules = xreallocarray(pf->rules, uniq.n, sizeof(*pf->rules));
			pf->rule_counts = xreallocarray(pf->rule_counts, uniq.n,
							sizeof(*pf->rule_counts));
			pf->literal_lens = xreallocarray(pf->literal_lens, uniq.n,
							 sizeof(*pf->literal_lens));
			pf->literal_lens[id] = literals->v[i].len;
			pf->rules[id] = NULL;
			pf->rule_counts[id] = 0;
		}
		pf->rules[id] = xreallocarray(pf->rules[id], pf->rule_counts[id] + 1,
					      sizeof(**pf->rules));
		pf->rules[id][pf->rule_counts[id]++] = owner[i];
	}
	pf->literal_count = uniq.n;
	if (uniq.n == 0) {
		strlist_free(&uniq);
		return pf;
	}
	exprs = xcalloc(uniq.n, sizeof(*exprs));
	lens = xcalloc(uniq.n, sizeof(*lens));
	flags = xcalloc(uniq.n, sizeof(*flags));
	ids = xcalloc(uniq.n, sizeof(*ids));
	for (size_t i = 0; i < uniq.n; i++) {
		exprs[i] = uniq.v[i].p;
		lens[i] = uniq.v[i].len;
		flags[i] = HS_FLAG_CASELESS | (every_match ? 0 : HS_FLAG_SINGLEMATCH);
		ids[i] = (unsigned int)i;
	}
	if (hs_compile_lit_multi(exprs, flags, ids, lens, (unsigned int)uniq.n,
				 HS_MODE_BLOCK, NULL, &pf->db, &cerr) != HS_SUCCESS) {
		snprintf(error, error_size, "%s", cerr != NULL ? cerr->message : "?");
		hs_free_compile_error(cerr);
		pf->db = NULL;
	}
	free(exprs);
	free(lens);
	free(flags);
	free(ids);
	strlist_free(&uniq);
	if (pf->db == NULL) {
		prefilter_db_free(&pf);
		return NULL;
	}
	return pf;
}

void
prefilter_db_free(struct prefilter_db **pfp)
{
	struct prefilter_db *pf = *pfp;

	if (pf == NULL)
		return;
	if (pf->db != NULL)
		hs_free_database(pf->db);
	for (size_t i = 0; i < pf->literal_count; i++)
		free(pf->rules[i]);
	free(pf->rules);
	free(pf->rule_counts);
	free(pf->literal_lens);
	free(pf);
	*pfp = NULL;
}

int
prefilter_alloc_scratch(const struct prefilter_db *pf, hs_scratch_t **scratch)
{
	if (pf == NULL || pf->db == NULL)
		return 0;
	return hs_alloc_scratch(pf->db, scratch) == HS_SUCCESS ? 0 : -1;
}

struct prefilter_scan_at {
	const struct prefilter_db *pf;
	size_t base;
	void (*on_hit)(size_t rule, size_t start, size_t end, void *ctx);
	void *ctx;
};

static int
prefilter_on_literal_at(unsigned int id, unsigned long long from, unsigned long long to,
			unsigned int flags, void *ctx)
{
	struct prefilter_scan_at *sc = ctx;
	size_t end = sc->base + (size_t)to;

	(void)from;
	(void)flags;
	for (size_t k = 0; k < sc->pf->rule_counts[id]; k++)
		sc->on_hit(sc->pf->rules[id][k], end - sc->pf->literal_lens[id], end, sc->ctx);
	return 0;
}

bool
prefilter_scan_at(const struct prefilter_db *pf, hs_scratch_t *scratch, const char *text,
		  size_t len, void (*on_hit)(size_t rule, size_t start, size_t end, void *ctx),
		  void *ctx)
{
	struct prefilter_scan_at sc = { pf, 0, on_hit, ctx };

	if (pf == NULL || pf->db == NULL)
		return true;
	while (len > 0) {
		/* Vectorscan takes an unsigned int length; a longer text
		 * is scanned in overlapping pieces so no literal is cut. */
		unsigned int piece = len > 0x40000000u ? 0x40000000u : (unsigned int)len;

		if (hs_scan(pf->db, text + sc.base, piece, 0, scratch, prefilter_on_literal_at,
			    &sc) != HS_SUCCESS)
			return false;
		if (piece == len)
			break;
		sc.base += piece - 64;
		len -= piece - 64;
	}
	return true;
}

void
prefilter_name_all(const struct prefilter_db *pf, void (*on_rule)(size_t rule, void *ctx),
		   void *ctx)
{
	if (pf == NULL)
		return;
	for (size_t id = 0; id < pf->literal_count; id++)
		for (size_t k = 0; k < pf->rule_counts[id]; k++)
			on_rule(pf->rules[id][k], ctx);
}

struct prefilter_rule_only {
	void (*on_rule)(size_t rule, void *ctx);
	void *ctx;
};

static void
prefilter_rule_only_hit(size_t rule, size_t start, size_t end, void *ctx)
{
	struct prefilter_rule_only *r = ctx;

	(void)start;
	(void)end;
	r->on_rule(rule, r->ctx);
}

void
prefilter_scan(const struct prefilter_db *pf, hs_scratch_t *scratch,
	       const char *text, size_t len, void (*on_rule)(size_t rule, void *ctx),
	       void *ctx)
{
	struct prefilter_rule_only r = { on_rule, ctx };

	/* a scan that fails names every rule: they run as without it */
	if (!prefilter_scan_at(pf, scratch, text, len, prefilter_rule_only_hit, &r))
		prefilter_name_all(pf, on_rule, ctx);
}

/* ---- repeat counts ---------------------------------------------------- */

/* A pattern "(?:G){n}" matches n consecutive pieces of text, each a match
 * of G and so holding an occurrence of one of G's literals; the pieces do
 * not overlap, so neither do those n occurrences, and the first starts
 * where the match does or later.  Occurrences of different literals often
 * share bytes ("names" holds "nam", "name" and "names"; the FF_* fields of
 * SpamAssassin's FILL_THIS_FORM rules have dozens like that), so counting
 * disjoint ones shuts more texts than counting all.  And the same chain
 * bounds where a match can start: PCRE2's unanchored search, which for
 * those rules costs hundreds of cycles at every start position, stops
 * there (pcre2_set_offset_limit). */

/* Occurrences kept per text: beyond it, a text is let through unbounded. */
#define PF_SPANS_MAX 65536

struct prefilter_collect {
	const struct prefilter_db *pf;
	struct prefilter_spans *spans;
	size_t rule;
	bool overflow;
};

static int
prefilter_on_span(unsigned int id, unsigned long long from, unsigned long long to,
		  unsigned int flags, void *ctx)
{
	struct prefilter_collect *c = ctx;
	struct prefilter_spans *sp = c->spans;
	size_t k;

	(void)from;
	(void)flags;
	for (k = 0; k < c->pf->rule_counts[id]; k++)
		if (c->pf->rules[id][k] == c->rule)
			break;
	if (k == c->pf->rule_counts[id])
		return 0;
	if (sp->n == PF_SPANS_MAX) {
		c->overflow = true;
		return 1;	/* stop */
	}
	if (sp->n == sp->cap) {
		sp->cap = sp->cap < 64 ? 64 : sp->cap * 2;
		sp->v = xreallocarray(sp->v, sp->cap, sizeof(*sp->v));
	}
	sp->v[sp->n].end = (size_t)to;
	sp->v[sp->n].start = (size_t)to - c->pf->literal_lens[id];
	sp->n++;
	return 0;
}

/* Latest start first. */
static int
prefilter_span_cmp(const void *a, const void *b)
{
	const struct prefilter_span *x = a, *y = b;

	return x->start < y->start ? 1 : x->start > y->start ? -1 : 0;
}

void
prefilter_spans_free(struct prefilter_spans *spans)
{
	free(spans->v);
	memset(spans, 0, sizeof(*spans));
}

bool
prefilter_repeat_fits(const struct prefilter_db *pf, hs_scratch_t *scratch,
		      struct prefilter_spans *spans, const char *text, size_t len,
		      size_t rule, unsigned int need, size_t *start_max_r)
{
	struct prefilter_collect c = { pf, spans, rule, false };
	size_t bound = SIZE_MAX, picked = 0;
	hs_error_t rc;

	*start_max_r = SIZE_MAX;
	if (pf == NULL || pf->db == NULL || scratch == NULL || len > 0x40000000u)
		return true;
	spans->n = 0;
	rc = hs_scan(pf->db, text, (unsigned int)len, 0, scratch, prefilter_on_span, &c);
	if (c.overflow || (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED))
		return true;
	/* The most disjoint occurrences, latest start first (interval
	 * scheduling, mirrored): each pick is the latest-starting one that
	 * ends before the previous pick starts.  By induction the k-th pick
	 * starts no earlier than the k-th from last of any chain of disjoint
	 * occurrences, so the need-th pick is where the first of any such
	 * chain starts at the latest. */
	/* (v is NULL while nothing was found: qsort must not see it) */
	if (spans->n > 1)
		qsort(spans->v, spans->n, sizeof(*spans->v), prefilter_span_cmp);
	for (size_t k = 0; k < spans->n && picked < need; k++) {
		if (spans->v[k].end > bound)
			continue;
		bound = spans->v[k].start;
		picked++;
	}
	if (picked < need)
		return false;
	*start_max_r = bound;
	return true;
}
