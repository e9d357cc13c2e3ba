/* mime_header: header fields of the MIME tree as Node.pm keeps them
 * (raw values, decoded values built on first use, lookups by lowercased
 * name through a hash), get_all_headers with its MAX_HEADER_LENGTH cut,
 * and Util::parse_content_type, whose regular expressions for the
 * boundary, charset and name parameters are matched by hand, in linear
 * time, with or without PCRE2's JIT (only the test for "name*0=" runs
 * under PCRE2). */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "hdr.h"
#include "mime.h"
#include "strset.h"
#include "xalloc.h"

/* ---- Util::parse_content_type ---- */

static pcre2_code *re_name0;
static pcre2_match_data *re_md;

/* One match of Util.pm's (case-insensitive, no /s, no /m)
 *
 *   \bcharset\s*=\s*["']?(.*?)["']?(?:;|$)                  (words "charset")
 *   \b(?:file)?name\s*=\s*["']?(.*?)["']?(?:;|$)          (words "filename", "name")
 *   \b(?:file)?name\*(\d+)\s*=\s*["']?(.*?)["']?(?:;|$)   (the same, cont true)
 *
 * found as PCRE2 finds it, in time linear in the value.  Under PCRE2 each
 * start that fails scans its value up to the line break that stops ".",
 * so a decoded value of many "name=a" before a "=0A" took time quadratic
 * in its length: up to 50 ms for one 8 kB field, minutes for a message
 * of them (for charset only where the JIT can not run, which otherwise
 * skips to the literal).
 * A start's value, once "\s*=\s*" and the quote took what they could,
 * matches exactly when the first ';' or LF from it is a ';', the final
 * LF or none (giving back white space or the quote never helps: no ';'
 * nor end lies in what they took that the value could not reach), and
 * each start lies past the value of the one before it: so a value that
 * begins before the LF the last start failed on fails too. */
struct name_param {
	size_t end;		/* where the match ends */
	size_t idx_b, idx_e;	/* the digits (cont) */
	size_t val_b, val_e;	/* the value */
};

static bool
re_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static bool
re_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool
ascii_prefix_ci(const char *s, size_t n, const char *lit)
{
	size_t k = strlen(lit);

	if (n < k)
		return false;
	for (size_t i = 0; i < k; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c != (unsigned char)lit[i])
			return false;
	}
	return true;
}

/* Where "\s*=\s*" at q ends with all the white space taken, or SIZE_MAX
 * when there is no '=' (why taking it all is enough: at each caller). */
static size_t
after_equals(const char *s, size_t n, size_t q)
{
	while (q < n && re_space((unsigned char)s[q]))
		q++;
	if (q >= n || s[q] != '=')
		return SIZE_MAX;
	q++;
	while (q < n && re_space((unsigned char)s[q]))
		q++;
	return q;
}

/* The first of words (lowercase, NULL-terminated) that s starts with,
 * ignoring ASCII case: its length, or 0. */
static size_t
ascii_prefix_ci_any(const char *s, size_t n, const char *const *words)
{
	for (; *words != NULL; words++)
		if (ascii_prefix_ci(s, n, *words))
			return strlen(*words);
	return 0;
}

static bool
param_match(const char *s, size_t n, size_t from, const char *const *words, bool cont,
	    struct name_param *m)
{
	size_t blocked = 0;	/* an LF that stops every value starting up to it */
	bool have_blocked = false;

	for (size_t p = from; p < n; p++) {
		size_t q = p, v, k;

		if (p > 0 && re_word((unsigned char)s[p - 1]))
			continue;
		if ((k = ascii_prefix_ci_any(s + q, n - q, words)) == 0)
			continue;
		q += k;
		if (cont) {
			if (q >= n || s[q] != '*')
				continue;
			m->idx_b = ++q;
			while (q < n && s[q] >= '0' && s[q] <= '9')
				q++;
			if (q == m->idx_b)
				continue;
			m->idx_e = q;
		}
		if ((q = after_equals(s, n, q)) == SIZE_MAX)
			continue;
		if (q < n && (s[q] == '"' || s[q] == '\''))
			q++;
		v = q;
		if (have_blocked && v <= blocked)
			continue;
		/* (.*?)["']?(?:;|$), lazily */
		for (size_t e = v;; e++) {
			if (e == n) {
				m->val_b = v;
				m->val_e = m->end = n;
				return true;
			}
			if (s[e] == '"' || s[e] == '\'') {
				if (e + 1 == n || (e + 2 == n && s[e + 1] == '\n')) {
					m->val_b = v;
					m->val_e = e;
					m->end = e + 1;
					return true;
				}
				if (s[e + 1] == ';') {
					m->val_b = v;
					m->val_e = e;
					m->end = e + 2;
					return true;
				}
			} else if (s[e] == ';') {
				m->val_b = v;
				m->val_e = e;
				m->end = e + 1;
				return true;
			} else if (s[e] == '\n') {
				if (e + 1 == n) {
					m->val_b = v;
					m->val_e = m->end = e;
					return true;
				}
				blocked = e;
				have_blocked = true;
				break;
			}
		}
	}
	return false;
}

static const char *const name_words[] = { "filename", "name", NULL };
static const char *const charset_words[] = { "charset", NULL };

/* One match of Util.pm's
 *
 *   \bboundary\s*=\s*("[^"]+|[^\s";]+(?=[\s;]|$))     (case-insensitive)
 *
 * as PCRE2 finds it, in linear time: [b, e) is the group.  Where "=\s*"
 * ends (giving back white space never helps, as neither branch starts
 * with it), a quote and one more byte that is not one always match, to
 * the next quote or the end; else the run of bytes that are neither
 * white space, '"' nor ';' matches whole when something ends it but a
 * quote, and not at all when a quote does (a shorter run is followed by
 * a run byte, which the lookahead refuses).  Under PCRE2's interpreter
 * each start inside a run of "boundary=" gave the rest of the run back
 * a byte at a time, quadratic in the value; a start whose run lies in
 * one already refused fails the same way. */
static bool
boundary_param_match(const char *s, size_t n, size_t *b, size_t *e)
{
	size_t refused_to = 0;	/* a run ended by a quote, from where it began */
	bool have_refused = false;

	for (size_t p = 0; p < n; p++) {
		size_t q = p, r;

		if (p > 0 && re_word((unsigned char)s[p - 1]))
			continue;
		if (!ascii_prefix_ci(s + q, n - q, "boundary"))
			continue;
		if ((q = after_equals(s, n, q + 8)) == SIZE_MAX)
			continue;
		if (q + 1 < n && s[q] == '"' && s[q + 1] != '"') {
			r = q + 1;
			while (r < n && s[r] != '"')
				r++;
			*b = q;
			*e = r;
			return true;
		}
		if (have_refused && q < refused_to)
			continue;
		r = q;
		while (r < n && !re_space((unsigned char)s[r]) && s[r] != '"' && s[r] != ';')
			r++;
		if (r == q)
			continue;
		if (r < n && s[r] == '"') {
			refused_to = r;
			have_refused = true;
			continue;
		}
		*b = q;
		*e = r;
		return true;
	}
	return false;
}


static pcre2_code *
re_compile(const char *pat, uint32_t opts)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *c = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts,
				      &err, &off, NULL);

	if (c == NULL)
		abort();	/* a constant pattern: a bug, not input */
	(void)pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
	return c;
}

void
mime_header_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	re_name0 = re_compile("\\b(?:file)?name\\*0\\s*=", PCRE2_CASELESS);
	re_md = pcre2_match_data_create(16, NULL);
}

/* Returns the match's ovector or NULL. */
static PCRE2_SIZE *
re_match(pcre2_code *re, const char *s, size_t n, size_t start)
{
	int rc = pcre2_match(re, (PCRE2_SPTR)s, n, start, 0, re_md, NULL);

	return rc > 0 ? pcre2_get_ovector_pointer(re_md) : NULL;
}

bool
mime_parse_content_type(struct mime_msg *msg, const char *ct, size_t len,
			const char **type_r, const char **boundary_r,
			const char **charset_r, const char **name_r)
{
	bool missing = false;
	struct name_param np1;
	size_t bb, be;

	if (ct == NULL || len == 0 || (len == 1 && ct[0] == '0')) {
		missing = true;
		ct = "text/plain; charset=us-ascii";
		len = strlen(ct);
	}
	*boundary_r = *charset_r = *name_r = NULL;
	if (boundary_param_match(ct, len, &bb, &be)) {
		struct mime_str b = { 0 };

		for (size_t i = bb; i < be; i++)
			if (ct[i] != '"')
				mime_str_addc(&b, ct[i]);
		*boundary_r = mime_strndup(msg, b.p != NULL ? b.p : "", b.len);
		mime_str_free(&b);
	}
	if (param_match(ct, len, 0, charset_words, false, &np1))
		*charset_r = mime_strndup(msg, ct + np1.val_b, np1.val_e - np1.val_b);
	if (param_match(ct, len, 0, name_words, false, &np1))
		*name_r = mime_strndup(msg, ct + np1.val_b, np1.val_e - np1.val_b);
	if ((*name_r == NULL || **name_r == '\0' || strcmp(*name_r, "0") == 0) &&
	    re_match(re_name0, ct, len, 0) != NULL) {
		/* RFC 2231 continuations: $name[$1] = $2, joined in order */
		struct { unsigned long idx; size_t b, e; } parts[64];
		size_t np = 0, start = 0;
		struct mime_str nm = { 0 };

		while (np < 64 && param_match(ct, len, start, name_words, true, &np1)) {
			parts[np].idx = strtoul(ct + np1.idx_b, NULL, 10);
			parts[np].b = np1.val_b;
			parts[np].e = np1.val_e;
			np++;
			start = np1.end;
			if (start > len)
				break;
		}
		mime_str_add(&nm, "", 0);
		for (unsigned long want = 0; want < 64; want++) {
			/* a later assignment to the same index wins */
			for (size_t i = np; i-- > 0;)
				if (parts[i].idx == want) {
					mime_str_add(&nm, ct + parts[i].b, parts[i].e - parts[i].b);
					break;
				}
		}
		*name_r = mime_strndup(msg, nm.p, nm.len);
		mime_str_free(&nm);
	}
	/* the type itself */
	size_t b = 0, e;
	while (b < len && (ct[b] == ' ' || (ct[b] >= '\t' && ct[b] <= '\r')))
		b++;
	e = b;
	while (e < len && ct[e] != ';')
		e++;
	/* s@^([^/]+(?:/[^/\s]*)?).*$@$1@s */
	size_t k = b;
	while (k < e && ct[k] != '/')
		k++;
	if (k > b && k < e) {
		k++;
		while (k < e && ct[k] != '/' && !(ct[k] == ' ' || (ct[k] >= '\t' && ct[k] <= '\r')))
			k++;
	}
	char *t = mime_alloc(msg, k - b + 16);
	size_t tn = 0;
	for (size_t i = b; i < k; i++)
		t[tn++] = (char)tolower((unsigned char)ct[i]);
	t[tn] = '\0';
	if (tn == 0)
		missing = true;
	if (tn == 0 || (strncmp(t, "text", 4) == 0 && !isalnum((unsigned char)t[4]) &&
			t[4] != '_' && strcmp(t, "text/x-vcard") != 0 &&
			strcmp(t, "text/calendar") != 0 && strcmp(t, "text/html") != 0)) {
		strcpy(t, "text/plain");
		tn = 10;
	}
	/* tr/\000-\040\177-\377\042\050\051\054\072-\077\100\133-\135//d */
	size_t o = 0;
	for (size_t i = 0; i < tn; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '(' || c == ')' || c == ',' ||
		    (c >= ':' && c <= '?') || c == '@' || (c >= '[' && c <= ']'))
			continue;
		t[o++] = (char)c;
	}
	t[o] = '\0';
	*type_r = t;
	return missing;
}

/* ---- headers ---- */


void
mime_node_add_header(struct mime_msg *msg, struct mime_node *node, const char *key,
		size_t klen, const char *val, size_t vlen)
{
	struct mime_hdr *h;

	if (node->nhdrs == node->hdrs_cap) {
		size_t cap = node->hdrs_cap ? node->hdrs_cap * 2 : 16;
		struct mime_hdr *v = mime_alloc(msg, cap * sizeof(*v));

		if (node->nhdrs > 0)
			memcpy(v, node->hdrs, node->nhdrs * sizeof(*v));
		node->hdrs = v;
		node->hdrs_cap = cap;
	}
	h = &node->hdrs[node->nhdrs++];
	memset(h, 0, sizeof(*h));
	h->name = mime_strndup(msg, key, klen);
	h->name_len = klen;
	h->lname = mime_strndup(msg, key, klen);
	for (char *p = h->lname; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	h->lname_len = strlen(h->lname);
	h->lhash = str_hash(h->lname, h->lname_len);
	h->raw = mime_strndup(msg, val, vlen);
	h->raw_len = vlen;
}

void
mime_node_add_parsed_header(struct mime_msg *msg, struct mime_node *node, const char *key,
			    size_t klen, const char *val, size_t vlen)
{
	if (msg->parsed_headers >= MIME_MAX_HEADERS) {
		msg->flags.header_limit_exceeded = true;
		return;
	}
	msg->parsed_headers++;
	mime_node_add_header(msg, node, key, klen, val, vlen);
}

const char *
mime_hdr_decoded(struct mime_msg *msg, struct mime_hdr *h, size_t *len_r)
{
	if (!h->dec_done) {
		struct mime_str a = { 0 }, out = { 0 };
		const char *r = h->raw;
		size_t n = h->raw_len, i = 0;

		/* s/\n[ \t]+/ /g; s/\s+$//; s/^\s+//, copying the runs
		 * between line ends whole */
		mime_str_add(&a, "", 0);
		while (i < n) {
			const char *nl = memchr(r + i, '\n', n - i);
			size_t end = nl != NULL ? (size_t)(nl - r) : n;

			mime_str_add(&a, r + i, end - i);
			i = end;
			if (i >= n)
				break;
			if (i + 1 < n && (r[i + 1] == ' ' || r[i + 1] == '\t')) {
				i++;
				while (i < n && (r[i] == ' ' || r[i] == '\t'))
					i++;
				mime_str_addc(&a, ' ');
				continue;
			}
			mime_str_addc(&a, '\n');
			i++;
		}
		size_t b = 0, e = a.len;
		while (e > 0 && (a.p[e - 1] == ' ' || (a.p[e - 1] >= '\t' && a.p[e - 1] <= '\r')))
			e--;
		while (b < e && (a.p[b] == ' ' || (a.p[b] >= '\t' && a.p[b] <= '\r')))
			b++;
		mime_str_add(&out, "", 0);
		hdr_decode_field(a.p + b, e - b, h->lname, &out);
		h->dec = mime_strndup(msg, out.p, out.len);
		h->dec_len = out.len;
		h->dec_done = true;
		mime_str_free(&a);
		mime_str_free(&out);
	}
	*len_r = h->dec_len;
	return h->dec;
}

struct mime_hdr *
mime_hdr_next(struct mime_node *node, const char *lname, size_t *pos)
{
	/* lengths first: hashing the name on every call cost more than
	 * it saved over a message's few dozen fields */
	size_t n = strlen(lname);

	while (*pos < node->nhdrs) {
		struct mime_hdr *x = &node->hdrs[(*pos)++];

		if (x->lname_len == n && memcmp(x->lname, lname, n) == 0)
			return x;
	}
	return NULL;
}

struct mime_hdr *
mime_hdr_last(struct mime_node *node, const char *lname)
{
	size_t n = strlen(lname);

	for (size_t i = node->nhdrs; i-- > 0;)
		if (node->hdrs[i].lname_len == n && memcmp(node->hdrs[i].lname, lname, n) == 0)
			return &node->hdrs[i];
	return NULL;
}

void
mime_delete_header(struct mime_node *node, const char *lname)
{
	size_t o = 0;

	for (size_t i = 0; i < node->nhdrs; i++)
		if (strcmp(node->hdrs[i].lname, lname) != 0)
			node->hdrs[o++] = node->hdrs[i];
	/* (lhash stays valid: entries only move) */
	node->nhdrs = o;
}

/* /^X-Spam-.*$/i on the keys: what check() deletes before the rules run */
void
mime_delete_x_spam(struct mime_node *node)
{
	size_t o = 0;

	for (size_t i = 0; i < node->nhdrs; i++) {
		const char *l = node->hdrs[i].lname;

		if (strncmp(l, "x-spam-", 7) == 0 && strchr(l, '\n') == NULL)
			continue;
		node->hdrs[o++] = node->hdrs[i];
	}
	node->nhdrs = o;
}

void
mime_prepend_header(struct mime_msg *msg, struct mime_node *node, const char *name,
		    const char *raw)
{
	mime_node_add_header(msg, node, name, strlen(name), raw, strlen(raw));
	struct mime_hdr h = node->hdrs[node->nhdrs - 1];

	memmove(node->hdrs + 1, node->hdrs, (node->nhdrs - 1) * sizeof(h));
	node->hdrs[0] = h;
}

/* The raw value as get_header($name, 1) gives it: s/\015?\012\s+/ /gs */
static size_t
raw_unfold(const char *r, size_t rl, struct mime_str *out)
{
	size_t n = 0;

	for (size_t k = 0; k < rl; k++) {
		if (r[k] == '\n' || (r[k] == '\r' && k + 1 < rl && r[k + 1] == '\n')) {
			size_t m = r[k] == '\r' ? k + 2 : k + 1;

			if (m < rl && (r[m] == ' ' || (r[m] >= '\t' && r[m] <= '\r'))) {
				while (m < rl && (r[m] == ' ' || (r[m] >= '\t' && r[m] <= '\r')))
					m++;
				if (out != NULL)
					mime_str_addc(out, ' ');
				n++;
				k = m - 1;
				continue;
			}
		}
		if (out != NULL)
			mime_str_addc(out, r[k]);
		n++;
	}
	return n;
}

void
mime_all_headers(struct mime_msg *msg, struct mime_node *node, bool raw,
		 struct mime_str *out)
{
	/* get_all_headers: names in order of first appearance, every value
	 * of each at its own position; past MAX_HEADER_LENGTH the names
	 * still to come are dropped.  Grouping goes through a hash so 10^5
	 * headers stay linear. */
	size_t n = node->nhdrs, cap = 16;
	bool *keep = xcalloc(n + 1, sizeof(bool));
	size_t *first = xcalloc(n + 1, sizeof(size_t));	/* group leader */
	size_t *next = xcalloc(n + 1, sizeof(size_t));	/* next of the group */
	size_t *slot;
	size_t size = 0;
	bool truncated = false;

	while (cap < n * 2)
		cap *= 2;
	slot = xcalloc(cap, sizeof(size_t));	/* index + 1, 0 = empty */
	for (size_t i = n; i-- > 0;) {
		uint32_t h = node->hdrs[i].lhash;
		size_t j = h & (cap - 1);

		while (slot[j] != 0 && strcmp(node->hdrs[slot[j] - 1].lname, node->hdrs[i].lname) != 0)
			j = (j + 1) & (cap - 1);
		next[i] = slot[j];	/* the later one of the same name */
		slot[j] = i + 1;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t h = node->hdrs[i].lhash;
		size_t j = h & (cap - 1);

		while (strcmp(node->hdrs[slot[j] - 1].lname, node->hdrs[i].lname) != 0)
			j = (j + 1) & (cap - 1);
		first[i] = slot[j] - 1;
	}
	for (size_t i = 0; i < n && !truncated; i++) {
		if (first[i] != i)
			continue;
		const char *ln = node->hdrs[i].lname;
		size_t l = node->hdrs[i].name_len;
		bool found = true;

		if (raw) {
			/* raw_header() trims the key; stored keys are not
			 * trimmed, so a key with spaces finds nothing */
			found = l > 0 && !(ln[0] == ' ' || (ln[0] >= '\t' && ln[0] <= '\r')) &&
				!(ln[l - 1] == ' ' || (ln[l - 1] >= '\t' && ln[l - 1] <= '\r'));
		}
		for (size_t j = i + 1; j != 0; j = next[j - 1]) {
			size_t clen;

			if (!found)
				break;
			if (raw) {
				clen = raw_unfold(node->hdrs[j - 1].raw, node->hdrs[j - 1].raw_len, NULL);
			} else {
				mime_hdr_decoded(msg, &node->hdrs[j - 1], &clen);
				clen++;
			}
			size += l + clen + 2;
			if (size > MIME_MAX_HEADER_LENGTH) {
				truncated = true;
				break;
			}
			keep[j - 1] = true;
		}
	}
	if (truncated)
		msg->flags.truncated_header = true;
	for (size_t j = 0; j < n; j++) {
		if (!keep[j])
			continue;
		struct mime_hdr *h = &node->hdrs[j];

		mime_str_add(out, h->name, h->name_len);
		mime_str_add(out, ": ", 2);
		if (raw) {
			raw_unfold(h->raw, h->raw_len, out);
		} else {
			size_t dl;
			const char *d = mime_hdr_decoded(msg, h, &dl);

			mime_str_add(out, d, dl);
			mime_str_addc(out, '\n');
		}
	}
	if (out->p == NULL)
		mime_str_add(out, "", 0);
	free(keep);
	free(first);
	free(next);
	free(slot);
}
