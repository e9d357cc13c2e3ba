/* hdr: header decoding and address/host/IP extraction, ported from
 * Node::_decode_header and Util::parse_header_addresses (hosts, domains
 * and IPs are in hdr_host.c).  SpamAssassin's own regular
 * expressions are compiled with PCRE2 where their backtracking decides
 * the result (encoded words, the address parser, IP_ADDRESS); the rest is
 * written out by hand with the same semantics. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "hdr.h"
#include "xalloc.h"

#define EW "=\\?[A-Za-z0-9*_-]+\\?[bqBQ]\\?[^?]*\\?="
/* Util.pm's quoted string is "(?:|(?:[^"\\]++|\\.)*+)": its empty
 * alternative matches the same span as the possessive run when the quotes
 * are adjacent, so a row of "" was 2^n ways to fail (10^7 steps, PCRE2's
 * default limit, for 60 quotes).  Without it the same spans match. */
#define QSTR "\"(?:[^\"\\\\]++|\\\\.)*+\""
#define MAILRE "(?:" QSTR "|[^\\@\\s\\<\\>\\(\\)\\[\\]\\,\\:\\;]+)" \
	"\\@(?:[^\\\"\\s\\<\\>\\(\\)\\[\\]\\,\\:\\;]+|\\[[\\d:.]+\\])"
/* Util.pm's address pattern, rewritten to take the same first match in
 * linear time where PCRE2 backtracked: "<\s*([^>\@]*\S+|\s*)" gave
 * every end of the address back to both runs in turn (quadratic in an
 * unclosed "<<<..."), now first the longest ends past a '>' or '@', then
 * the shorter ones once each.  A "<...>" that ends right before a further
 * "<x" (x neither space nor quote) in the same run of non-spaces ends no
 * address and no "<...>" after it: what could follow it, the longer match
 * through that "<x" comes to first, so "<a><a>..." was 2^n ways to fail;
 * the lookahead skips those ends.  The comment has no empty alternative,
 * as QSTR.  The differential test in test_msgview.c holds it to the
 * original. */
#define ANGLE_END ">(?!(?<=\\S>)<[^\\s\"])"
#define ADDRRE "^\\s*(?:(?:((?:" QSTR "|[^\",;<]++)+)\\s*)?<\\s*" \
	"([^>\\@]*+\\S+|[^>\\@]+(?<=\\S)|\\s*)\\s*" ANGLE_END \
	"(?:\\s*<\\s*(?:(?:" QSTR ")?\\S+|\\s*)\\s*" ANGLE_END ")*|(?:(" MAILRE ")|((?:" QSTR \
	"|[^\",;<]++)+)))(?:\\s*\\(((?:[^()\\\\]++|\\\\.)*+)\\))?\\s*(?:[,;]|\\z)"

/* Backtracking bound per address: a quoted "<...>" in a row of them
 * ("<\"a><\"a>...") can still fail in 2^n ways, which PCRE2's default
 * limit let cost 10^7 steps (0.3 s without JIT) for each address field.
 * Like received_line.c's bound: far above what real addresses need (the
 * training corpus's results do not change), a millisecond at worst. */
#define HDR_ADDR_MATCH_LIMIT 200000

static pcre2_code *re_ew_ws, *re_ew_tok, *re_group, *re_addr, *re_mail_full,
	*re_mail_angle, *re_comment, *re_qphrase;
/* md serves the outer loops, md2 the helpers they call */
static pcre2_match_data *md, *md2;
static pcre2_match_context *addr_mctx;

const char *
hdr_address_pattern(void)
{
	return ADDRRE;
}

static pcre2_code *
compile(const char *pat, uint32_t opts)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *c = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts, &err,
				      &off, NULL);

	if (c == NULL) {
		PCRE2_UCHAR buf[256];

		pcre2_get_error_message(err, buf, sizeof(buf));
		fprintf(stderr, "hdr: pattern error at %zu: %s\n", (size_t)off, buf);
		abort();	/* constant patterns: a bug, not input */
	}
	(void)pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
	return c;
}

void
hdr_global_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	re_ew_ws = compile("(" EW ")\\s+(?=" EW ")", PCRE2_DOTALL);
	re_ew_tok = compile("=\\?([A-Za-z0-9*_-]+)\\?([bqBQ])\\?([^?]*)\\?=|([^=]+|.)",
			    PCRE2_DOTALL | PCRE2_ANCHORED);
	re_group = compile("^[^\"()<>]+:\\s*(.*?)\\s*(?:;.*)?", PCRE2_DOTALL);
	re_addr = compile(ADDRRE, PCRE2_CASELESS);
	re_mail_full = compile("^" MAILRE "$", PCRE2_CASELESS);
	re_mail_angle = compile("<(" MAILRE ")>", PCRE2_CASELESS | PCRE2_DOTALL);
	re_comment = compile("\\((?:|(?:[^()\\\\]++|\\\\.)*+)\\)", PCRE2_DOTALL);
	re_qphrase = compile("(?:\"(|(?:[^\"\\\\]++|\\\\.)*+)\"|([^\"]++))",
			     PCRE2_CASELESS | PCRE2_DOTALL);
	hdr_host_init();
	md = pcre2_match_data_create(32, NULL);
	md2 = pcre2_match_data_create(32, NULL);
	addr_mctx = pcre2_match_context_create(NULL);
	if (md == NULL || md2 == NULL || addr_mctx == NULL)
		abort();
	pcre2_set_match_limit(addr_mctx, HDR_ADDR_MATCH_LIMIT);
}

static int
match(pcre2_code *re, const char *s, size_t n, size_t start, PCRE2_SIZE **ov)
{
	int rc = pcre2_match(re, (PCRE2_SPTR)s, n, start, 0, md, NULL);

	*ov = pcre2_get_ovector_pointer(md);
	return rc;
}

static bool
grp(PCRE2_SIZE *ov, int rc, int i)
{
	return i < rc && ov[2 * i] != PCRE2_UNSET;
}

static bool
pspace(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* ---- _decode_header ---- */

static bool
keep_encoded(const char *lname)
{
	/* ^(?:Received|(?:Resent-)?(?:Message-ID|Date)|MIME-Version|
	 *     References|In-Reply-To|List-.*)\z  (i) */
	const char *n = lname;

	if (strncmp(n, "resent-", 7) == 0 &&
	    (strcmp(n + 7, "message-id") == 0 || strcmp(n + 7, "date") == 0))
		return true;
	return strcmp(n, "received") == 0 || strcmp(n, "message-id") == 0 ||
	       strcmp(n, "date") == 0 || strcmp(n, "mime-version") == 0 ||
	       strcmp(n, "references") == 0 || strcmp(n, "in-reply-to") == 0 ||
	       (strncmp(n, "list-", 5) == 0 && strchr(n, '\n') == NULL);
}

void
hdr_decode_field(const char *body, size_t len, const char *lname, struct mime_str *out)
{
	struct mime_str a = { 0 }, b = { 0 };
	bool high = false;

	if (len == 0)
		return;
	/* Most fields are one line of ASCII without an encoded word: all
	 * that follows leaves them as they are. */
	{
		size_t i = 0;

		while (i < len && body[i] != '\n' && (unsigned char)body[i] < 0x80)
			i++;
		if (i == len && (keep_encoded(lname) || memmem(body, len, "=?", 2) == NULL)) {
			mime_str_add(out, body, len);
			return;
		}
	}
	/* s/\n[ \t]/\n /g; s/\015?\012//g */
	mime_str_add(&a, "", 0);
	for (size_t i = 0; i < len; i++) {
		if (body[i] == '\n')
			continue;
		if (body[i] == '\r' && i + 1 < len && body[i + 1] == '\n')
			continue;
		if ((unsigned char)body[i] >= 0x80)
			high = true;
		mime_str_addc(&a, body[i]);
	}
	if (high) {
		mime_str_add(&b, "", 0);
		mime_normalize(a.p, a.len, "UTF-8", false, &b);
		mime_str_free(&a);
		a = b;
		memset(&b, 0, sizeof(b));
	}
	if (keep_encoded(lname) || memmem(a.p, a.len, "=?", 2) == NULL) {
		mime_str_add(out, a.p, a.len);
		mime_str_free(&a);
		return;
	}
	/* drop white space between adjacent encoded words */
	{
		PCRE2_SIZE olen = a.len * 2 + 64;
		PCRE2_UCHAR *o = xmalloc(olen);
		int rc = pcre2_substitute(re_ew_ws, (PCRE2_SPTR)a.p, a.len, 0,
					  PCRE2_SUBSTITUTE_GLOBAL, md, NULL,
					  (PCRE2_SPTR) "$1", 2, o, &olen);

		if (rc >= 0) {
			a.len = 0;
			mime_str_add(&a, o, olen);
		}
		free(o);
	}
	/* sections: runs of the same encoding (non-encoded text has "") */
	struct sect {
		struct mime_str s;
		char enc[80];
	} *sec = NULL;
	size_t ns = 0, cap = 0, pos = 0;

	while (pos < a.len) {
		PCRE2_SIZE *ov;
		int rc = match(re_ew_tok, a.p, a.len, pos, &ov);
		char enc[80];
		struct mime_str piece = { 0 };

		if (rc <= 0)
			break;
		mime_str_add(&piece, "", 0);
		if (grp(ov, rc, 1)) {
			size_t el = ov[3] - ov[2];

			if (el >= sizeof(enc))
				el = sizeof(enc) - 1;
			for (size_t i = 0; i < el; i++)
				enc[i] = (char)tolower((unsigned char)a.p[ov[2] + i]);
			enc[el] = '\0';
			char cte = a.p[ov[4]];
			const char *d = a.p + ov[6];
			size_t dl = ov[7] - ov[6];

			if (cte == 'B' || cte == 'b') {
				mime_base64_decode(d, dl, &piece);
			} else {
				struct mime_str q = { 0 };

				mime_str_add(&q, "", 0);
				for (size_t i = 0; i < dl; i++) {
					if (d[i] == '_')
						mime_str_add(&q, "=20", 3);
					else
						mime_str_addc(&q, d[i]);
				}
				mime_qp_decode(q.p, q.len, &piece);
				mime_str_free(&q);
			}
		} else {
			enc[0] = '\0';
			mime_str_add(&piece, a.p + ov[8], ov[9] - ov[8]);
		}
		if (ns > 0 && strcmp(sec[ns - 1].enc, enc) == 0) {
			mime_str_add(&sec[ns - 1].s, piece.p, piece.len);
		} else {
			if (ns == cap) {
				cap = cap ? cap * 2 : 8;
				sec = xreallocarray(sec, cap, sizeof(*sec));
			}
			memset(&sec[ns], 0, sizeof(sec[ns]));
			mime_str_add(&sec[ns].s, piece.p, piece.len);
			memcpy(sec[ns].enc, enc, sizeof(enc));
			ns++;
		}
		mime_str_free(&piece);
		pos = ov[1] > pos ? ov[1] : pos + 1;
	}
	for (size_t i = 0; i < ns; i++) {
		char *star = strchr(sec[i].enc, '*');

		if (star != NULL)
			*star = '\0';
		/* s{\*.*\z}{}: an RFC 2231 language tag; no charset left
		 * means the text is taken as it is */
		if (sec[i].enc[0] == '\0')
			mime_str_add(out, sec[i].s.p, sec[i].s.len);
		else
			mime_normalize(sec[i].s.p, sec[i].s.len, sec[i].enc, true, out);
		mime_str_free(&sec[i].s);
	}
	free(sec);
	mime_str_free(&a);
	if (out->p == NULL)
		mime_str_add(out, "", 0);
}

/* ---- parse_header_addresses ---- */


static char *
dupn(const char *p, size_t n)
{
	return xstrndup(p, n);
}

/* Removes every match of re from s (a global s///). */
static void
strip_all(pcre2_code *re, struct mime_str *s)
{
	PCRE2_SIZE olen = s->len + 64;
	PCRE2_UCHAR *o = xmalloc(olen);
	int rc = pcre2_substitute(re, (PCRE2_SPTR)s->p, s->len, 0, PCRE2_SUBSTITUTE_GLOBAL,
				  md2, NULL, (PCRE2_SPTR) "", 0, o, &olen);

	if (rc >= 0) {
		s->len = 0;
		mime_str_add(s, o, olen);
	}
	free(o);
}

static bool
valid_parsed_address(const char *a)
{
	size_t q = 0;

	if (a == NULL)
		return false;
	if (strncmp(a, "\"\"@", 3) == 0)
		return false;
	for (const char *p = a; *p; p++)
		if (*p == '"')
			q++;
	return q != 1;
}

static bool
mail_full(const char *s)
{
	return pcre2_match(re_mail_full, (PCRE2_SPTR)s, strlen(s), 0, 0, md2, NULL) > 0;
}

/* s/^(([^\@]*)\@([^\@]*)).*\/$1/ and the user/host split. */
static void
split_address(struct hdr_addr *r)
{
	char *at = strchr(r->address, '@');

	if (at == NULL)
		return;
	char *at2 = strchr(at + 1, '@');

	if (at2 != NULL)
		*at2 = '\0';
	/* ".*" stops at a newline but the address has none here */
	r->user = dupn(r->address, (size_t)(at - r->address));
	r->host = xstrdup(at + 1);
}

static void
push_addr(struct hdr_addr **v, size_t *n, size_t *cap, struct hdr_addr *a)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	(*v)[(*n)++] = *a;
}

static size_t
parse_internal(const char *str, size_t len, struct hdr_addr **out)
{
	struct mime_str s = { 0 };
	struct hdr_addr *v = NULL;
	size_t n = 0, cap = 0;
	PCRE2_SIZE *ov;
	int rc;

	mime_str_add(&s, str, len);
	while (s.len > 0 && pspace(s.p[s.len - 1]))
		s.len--;
	s.p[s.len] = '\0';
	/* s/\\\\//g */
	{
		size_t o = 0;

		for (size_t i = 0; i < s.len; i++) {
			if (s.p[i] == '\\' && i + 1 < s.len && s.p[i + 1] == '\\') {
				i++;
				continue;
			}
			s.p[o++] = s.p[i];
		}
		s.len = o;
		s.p[o] = '\0';
	}
	/* s/^[^"()<>]+:\s*(.*?)\s*(?:;.*)?/$1/gs */
	if ((rc = match(re_group, s.p, s.len, 0, &ov)) > 0) {
		struct mime_str t = { 0 };

		mime_str_add(&t, s.p + ov[2], ov[3] - ov[2]);
		mime_str_add(&t, s.p + ov[1], s.len - ov[1]);
		mime_str_free(&s);
		s = t;
	}
	bool nonspace = false;
	for (size_t i = 0; i < s.len; i++)
		if (!pspace(s.p[i]))
			nonspace = true;
	if (!nonspace) {
		mime_str_free(&s);
		*out = NULL;
		return 0;
	}
	while (s.len > 0 &&
	       (rc = pcre2_match(re_addr, (PCRE2_SPTR)s.p, s.len, 0, 0, md, addr_mctx)) > 0) {
		struct hdr_addr r;
		char *phrase = NULL, *address = NULL, *comment = NULL;
		bool angle = false;

		memset(&r, 0, sizeof(r));
		ov = pcre2_get_ovector_pointer(md);
		if (grp(ov, rc, 1))
			phrase = dupn(s.p + ov[2], ov[3] - ov[2]);
		else if (grp(ov, rc, 4))
			phrase = dupn(s.p + ov[8], ov[9] - ov[8]);
		if (grp(ov, rc, 2)) {
			address = dupn(s.p + ov[4], ov[5] - ov[4]);
			angle = true;
		} else if (grp(ov, rc, 3)) {
			address = dupn(s.p + ov[6], ov[7] - ov[6]);
		}
		if (grp(ov, rc, 5))
			comment = dupn(s.p + ov[10], ov[11] - ov[10]);
		size_t consumed = ov[1];

		if (angle) {
			struct mime_str t = { 0 };

			mime_str_add(&t, address, strlen(address));
			strip_all(re_comment, &t);
			free(address);
			address = mail_full(t.p) ? xstrdup(t.p) : NULL;
			mime_str_free(&t);
		}
		if (!valid_parsed_address(address)) {
			free(address);
			address = NULL;
		}
		if (phrase != NULL) {
			struct mime_str np = { 0 };
			size_t pl = strlen(phrase), p = 0;
			bool any = false;

			mime_str_add(&np, "", 0);
			while (p < pl) {
				int r2 = match(re_qphrase, phrase, pl, p, &ov);

				if (r2 <= 0)
					break;
				any = true;
				if (grp(ov, r2, 1)) {
					/* s/\\(?!\\)//g; s/\\\\/\\/g */
					const char *q = phrase + ov[2];
					size_t ql = ov[3] - ov[2];
					struct mime_str u = { 0 };

					mime_str_add(&u, "", 0);
					for (size_t i = 0; i < ql; i++) {
						if (q[i] == '\\' && !(i + 1 < ql && q[i + 1] == '\\'))
							continue;
						mime_str_addc(&u, q[i]);
					}
					for (size_t i = 0; i < u.len; i++) {
						if (u.p[i] == '\\' && i + 1 < u.len && u.p[i + 1] == '\\') {
							mime_str_addc(&np, '\\');
							i++;
							continue;
						}
						mime_str_addc(&np, u.p[i]);
					}
					mime_str_free(&u);
				} else if (grp(ov, r2, 2)) {
					struct mime_str t = { 0 };

					mime_str_add(&t, phrase + ov[4], ov[5] - ov[4]);
					strip_all(re_comment, &t);
					mime_str_add(&np, t.p, t.len);
					mime_str_free(&t);
				}
				p = ov[1] > p ? ov[1] : p + 1;
			}
			free(phrase);
			phrase = any ? xstrdup(np.p) : NULL;
			mime_str_free(&np);
			if (phrase == NULL)
				phrase = NULL;
			if (address == NULL && phrase != NULL && mail_full(phrase) &&
			    valid_parsed_address(phrase)) {
				/* ^[^\@]*\@([^\@]*) and a valid host */
				char *at = strchr(phrase, '@');
				char *at2 = at != NULL ? strchr(at + 1, '@') : NULL;
				size_t hl = at2 != NULL ? (size_t)(at2 - at - 1) : strlen(at + 1);
				char *h = dupn(at + 1, hl);
				bool ok = hdr_fqdn_valid_idn(h, strlen(h));

				free(h);
				if (ok) {
					address = phrase;
					phrase = NULL;
				}
			}
			if (phrase != NULL) {
				if ((address != NULL && strcmp(phrase, address) == 0) ||
				    *phrase == '\0') {
					free(phrase);
					phrase = NULL;
				}
			}
		}
		if (phrase == NULL && comment != NULL)
			phrase = xstrdup(comment);
		r.phrase = phrase;
		r.comment = comment;
		r.address = address;
		if (address != NULL)
			split_address(&r);
		r.invalid = r.host == NULL || !hdr_fqdn_valid_idn(r.host, strlen(r.host));
		push_addr(&v, &n, &cap, &r);
		/* remove the match */
		memmove(s.p, s.p + consumed, s.len - consumed);
		s.len -= consumed;
		s.p[s.len] = '\0';
		if (consumed == 0)
			break;
	}
	if (memchr(s.p, '@', s.len) != NULL) {
		size_t p = 0;

		while (p < s.len && (rc = match(re_mail_angle, s.p, s.len, p, &ov)) > 0) {
			struct hdr_addr r;

			memset(&r, 0, sizeof(r));
			p = ov[1] > p ? ov[1] : p + 1;
			r.address = dupn(s.p + ov[2], ov[3] - ov[2]);
			if (!valid_parsed_address(r.address)) {
				free(r.address);
				continue;
			}
			split_address(&r);
			r.invalid = r.host == NULL || !hdr_fqdn_valid_idn(r.host, strlen(r.host));
			push_addr(&v, &n, &cap, &r);
		}
	}
	mime_str_free(&s);
	*out = v;
	return n;
}

/* A small RFC 5322 address-list reader standing in for Email::Address::XS
 * (Dovecot's parser), which SpamAssassin consults when its own parser
 * finds fewer addresses than the commas promise.  What matters is how
 * many elements it finds and which come back empty: an empty element
 * (",,") gives an object with neither phrase nor address, and so does a
 * word without "@" that is not the last element; SpamAssassin then uses
 * the whole input as the phrase.  An empty element after the last comma
 * is not counted. */
/* SpamAssassin names every such element after the whole field, so n
 * commas give n copies of it: quadratic in the field, and a 100 KB
 * message of 12 From: fields of 8000 commas each took 42 s and 3.8 GB
 * to score.  Past this many in one field an element stays nameless, as
 * one with "use input as name" off; no field written by a person comes
 * near it. */
#define HDR_INPUT_NAMES_MAX	64

static size_t
parse_list(const char *str, size_t len, bool input_phrase, struct hdr_addr **out)
{
	struct hdr_addr *v = NULL;
	size_t n = 0, cap = 0, i = 0, input_names = 0;
	struct mime_str s = { 0 };

	mime_str_add(&s, "", 0);
	for (size_t k = 0; k < len; k++) {
		if (str[k] == '\\' && k + 1 < len && str[k + 1] == '\\') {
			k++;
			continue;
		}
		mime_str_addc(&s, str[k]);
	}
	/* a group: "name:" before the members, ";" after them */
	bool group = false;
	{
		size_t k = 0;

		while (k < s.len && strchr("\"()<>:", s.p[k]) == NULL)
			k++;
		if (k < s.len && s.p[k] == ':') {
			i = k + 1;
			group = true;
		}
	}
	while (i <= s.len) {
		size_t b = i;
		int depth = 0;
		bool quote = false, angle = false, last;

		while (i < s.len) {
			char c = s.p[i];

			if (quote) {
				if (c == '\\')
					i++;
				else if (c == '"')
					quote = false;
			} else if (c == '"') {
				quote = true;
			} else if (c == '(') {
				depth++;
			} else if (c == ')' && depth > 0) {
				depth--;
			} else if (c == '<' && depth == 0) {
				angle = true;
			} else if (c == '>' && depth == 0) {
				angle = false;
			} else if ((c == ',' || c == ';') && depth == 0 && !angle) {
				break;
			}
			i++;
		}
		last = i >= s.len;
		/* one element s.p[b..i) */
		struct mime_str phrase = { 0 }, comment = { 0 }, addr = { 0 };
		size_t k = b;
		bool in_angle = false, have_angle = false, blank = true;

		for (size_t q = b; q < i && q < s.len; q++)
			if (!pspace(s.p[q]))
				blank = false;
		if (blank && (last || group)) {
			/* nothing after the last comma, or an empty group */
			i++;
			continue;
		}
		mime_str_add(&phrase, "", 0);
		mime_str_add(&comment, "", 0);
		mime_str_add(&addr, "", 0);
		while (k < i) {
			char c = s.p[k];

			if (c == '"' && !in_angle) {
				k++;
				while (k < i && s.p[k] != '"') {
					if (s.p[k] == '\\' && k + 1 < i)
						k++;
					mime_str_addc(&phrase, s.p[k]);
					k++;
				}
				k++;
				continue;
			}
			if (c == '(') {
				int d = 1;

				k++;
				while (k < i && d > 0) {
					if (s.p[k] == '(')
						d++;
					else if (s.p[k] == ')')
						d--;
					if (d > 0)
						mime_str_addc(&comment, s.p[k]);
					k++;
				}
				continue;
			}
			if (c == '<') {
				in_angle = true;
				have_angle = true;
				addr.len = 0;
				k++;
				continue;
			}
			if (c == '>') {
				in_angle = false;
				k++;
				continue;
			}
			if (in_angle) {
				if (!pspace(c))
					mime_str_addc(&addr, c);
			} else {
				mime_str_addc(&phrase, c);
			}
			k++;
		}
		/* trim and squeeze the phrase */
		struct mime_str ph = { 0 };
		mime_str_add(&ph, "", 0);
		for (size_t q = 0; q < phrase.len; q++) {
			if (pspace(phrase.p[q])) {
				if (ph.len > 0 && ph.p[ph.len - 1] != ' ')
					mime_str_addc(&ph, ' ');
				continue;
			}
			mime_str_addc(&ph, phrase.p[q]);
		}
		while (ph.len > 0 && ph.p[ph.len - 1] == ' ')
			ph.len--;
		ph.p[ph.len] = '\0';
		if (!have_angle && strchr(ph.p, '@') != NULL && strchr(ph.p, ' ') == NULL) {
			addr.len = 0;
			mime_str_add(&addr, ph.p, ph.len);
			ph.len = 0;
			ph.p[0] = '\0';
		}
		struct hdr_addr r;

		memset(&r, 0, sizeof(r));
		if (addr.len > 0 && strchr(addr.p, '@') != NULL) {
			r.address = xstrdup(addr.p);
			split_address(&r);
		}
		/* a bare word is a phrase only at the end of the list */
		if (ph.len > 0 && (have_angle || last))
			r.phrase = xstrdup(ph.p);
		if (comment.len > 0)
			r.comment = xstrdup(comment.p);
		if (r.phrase == NULL && r.comment != NULL)
			r.phrase = xstrdup(r.comment);
		if (r.phrase == NULL && r.address == NULL && input_phrase &&
		    input_names < HDR_INPUT_NAMES_MAX) {
			r.phrase = xstrdup(s.p);	/* "use input as name" */
			input_names++;
		}
		r.invalid = r.host == NULL || !hdr_is_fqdn_valid(r.host, strlen(r.host));
		push_addr(&v, &n, &cap, &r);
		mime_str_free(&phrase);
		mime_str_free(&comment);
		mime_str_free(&addr);
		mime_str_free(&ph);
		i++;
	}
	mime_str_free(&s);
	*out = v;
	return n;
}

void
hdr_addrs_free(struct hdr_addr *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].phrase);
		free(a[i].address);
		free(a[i].user);
		free(a[i].host);
		free(a[i].comment);
	}
	free(a);
}

static size_t
parse_addresses(const char *str, size_t len, bool input_phrase, struct hdr_addr **out)
{
	struct hdr_addr *res = NULL, *xs = NULL;
	size_t n, nx, commas = 0;
	bool nonspace = false;

	*out = NULL;
	for (size_t i = 0; i < len; i++) {
		if (!pspace(str[i]))
			nonspace = true;
		if (str[i] == ',')
			commas++;
	}
	if (!nonspace)
		return 0;
	n = parse_internal(str, len, &res);
	/* Email::Address::XS is asked when the internal parser found
	 * nothing or fewer addresses than the commas promise.  (Its
	 * "maybe nested comments" test counts a match in scalar context,
	 * which is never 2 or more, so that case never happens.) */
	if (n == 0 || n < commas + 1) {
		nx = parse_list(str, len, input_phrase, &xs);
		if (nx > n) {
			hdr_addrs_free(res, n);
			*out = xs;
			return nx;
		}
		hdr_addrs_free(xs, nx);
	}
	*out = res;
	return n;
}

size_t
hdr_parse_addresses(const char *str, size_t len, struct hdr_addr **out)
{
	return parse_addresses(str, len, true, out);
}

size_t
hdr_parse_addresses_only(const char *str, size_t len, struct hdr_addr **out)
{
	return parse_addresses(str, len, false, out);
}

