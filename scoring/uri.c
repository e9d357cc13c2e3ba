/* uri: a port of SpamAssassin 4.0.1's URI list (PerMsgStatus.pm
 * get_uri_list, _tbirdurire, _process_text_uri_list, add_uri_detail_list;
 * Util.pm uri_list_canonicalize, url_encode, idn_to_ascii, is_fqdn_valid;
 * RegistryBoundaries.pm is_domain_valid, uri_to_domain).  The regexes whose
 * backtracking decides the result are PCRE2 copies of the Perl ones (same
 * byte semantics: no UTF mode, ASCII \w \s \b and case folding, as Perl
 * gives for SpamAssassin's octet strings); the plain ones are written out.
 *
 * Body lines are octets, as SpamAssassin has them; HTML URIs are characters
 * (UTF-8 here), as HTML.pm returns them, which changes what url_encode and
 * the IDN step make of non-ASCII ("character mode" below).  IDN hosts go
 * through libidn2 with the flags Net::LibIDN2 is called with.
 *
 * Limits: URI_MAX_* in uri.h, a PCRE2 match limit on every match (a hostile
 * URI makes a redirector pattern give up, not spin), URIs cut to
 * URI_MAX_LENGTH. */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <idn2.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "uri.h"
#include "xalloc.h"

/* Enough for backtracking over a whole URI, small enough that a hostile
 * one fails fast (the match then counts as no match). */
#define URI_MATCH_LIMIT		200000
#define URI_DEPTH_LIMIT		20000
#define URI_JIT_STACK_MAX	(1024 * 1024)

/* ---- small strings ---- */

struct ubuf {
	char *p;
	size_t len, cap;
};

static void
ub_reserve(struct ubuf *b, size_t n)
{
	size_t need = b->len + n + 1;

	if (need < b->len)
		log_panic("uri: size overflow");
	if (need > b->cap) {
		size_t cap = b->cap < 64 ? 64 : b->cap;

		while (cap < need)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
}

static void
ub_add(struct ubuf *b, const void *p, size_t n)
{
	ub_reserve(b, n);
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
ub_addc(struct ubuf *b, char c)
{
	ub_add(b, &c, 1);
}

static void
ub_set(struct ubuf *b, const void *p, size_t n)
{
	b->len = 0;
	ub_add(b, p, n);
}

static void
ub_free(struct ubuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void
push3(struct strlist *l, const char *a, size_t alen, const char *b, size_t blen,
      const char *c, size_t clen)
{
	char *p = xmalloc(alen + blen + clen + 1);

	memcpy(p, a, alen);
	memcpy(p + alen, b, blen);
	memcpy(p + alen + blen, c, clen);
	p[alen + blen + clen] = '\0';
	strlist_add_owned(l, p, alen + blen + clen);
}

static inline char
lc_ascii(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static inline bool
is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Perl's \w on octets. */
static inline bool
is_word(unsigned char c)
{
	return is_alnum(c) || c == '_';
}

/* Perl's \s on octets (5.18+: VT included). */
static inline bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static inline int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One character of a character-mode string: its length in bytes and its
 * code point.  A byte that starts no valid UTF-8 sequence is taken as the
 * Latin-1 character it would be. */
static size_t
utf8_char(const char *str, size_t len, uint32_t *cp_r)
{
	const unsigned char *s = (const unsigned char *)str;
	uint32_t cp;
	size_t n;

	if (s[0] < 0xc2 || s[0] > 0xf4) {
		*cp_r = s[0];
		return 1;
	}
	n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (len < n)
		goto bad;
	cp = s[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			goto bad;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		goto bad;
	*cp_r = cp;
	return n;
bad:
	*cp_r = s[0];
	return 1;
}

/* Perl's \s for a character string (Unicode White_Space). */
static bool
is_uspace(uint32_t cp)
{
	return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 ||
	       cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
	       cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* Perl's \w for a character string; past Latin-1 an approximation (most
 * code points there are letters, the punctuation blocks are not). */
static bool
is_uword(uint32_t cp)
{
	if (cp < 0x80)
		return is_word((unsigned char)cp);
	if (cp <= 0xff)
		return cp == 0xaa || cp == 0xb5 || cp == 0xba ||
		       (cp >= 0xc0 && cp != 0xd7 && cp != 0xf7);
	return !((cp >= 0x2000 && cp <= 0x2bff) || (cp >= 0x3000 && cp <= 0x303f) ||
		 (cp >= 0xfe30 && cp <= 0xfe6f) || (cp >= 0xff00 && cp <= 0xff0f) ||
		 (cp >= 0xff1a && cp <= 0xff20) || (cp >= 0xff3b && cp <= 0xff40) ||
		 (cp >= 0xff5b && cp <= 0xff65));
}

/* Bytes of the first URI_MAX_LENGTH characters (Perl's substr). */
static size_t
max_length(const char *s, size_t len, bool chars)
{
	size_t i = 0, n = 0;
	uint32_t cp;

	if (!chars || len <= URI_MAX_LENGTH)
		return len < URI_MAX_LENGTH ? len : URI_MAX_LENGTH;
	while (i < len && n < URI_MAX_LENGTH) {
		i += utf8_char(s + i, len - i, &cp);
		n++;
	}
	return i;
}

static bool
prefix_ci(const char *s, size_t len, const char *pfx)
{
	size_t n = strlen(pfx);

	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lc_ascii(s[i]) != pfx[i])
			return false;
	return true;
}

static void
lc_into(struct ubuf *out, const char *s, size_t len)
{
	ub_set(out, s, len);
	for (size_t i = 0; i < len; i++)
		out->p[i] = lc_ascii(out->p[i]);
}

/* ---- patterns ---- */

/* The delimiter sets of _tbirdurire. */
#define TB_START	"><\"'`,{[(|\\s\\x1b\\xa0"
#define TB_END		"><\"`}\\]{[|\\s\\x1b\\xa0"
#define TB_END_EMAIL	TB_END ",('\\x80-\\xff"
#define TB_END_PLUSAT	TB_END_EMAIL "@"
#define TB_SCSTART	"[!\"#$&'()*+,/:;<=>?@\\[\\\\\\]^`{|}~\\s\\x1b\\xa0]"
/* RegistryBoundaries' valid_tlds_re: "(?<![a-zA-Z0-9-])(?:tld|...)" then
 * "(?!(?:[a-zA-Z0-9-]|\.[a-zA-Z0-9]))".  The lookarounds make a TLD match
 * only a whole label, so matching the label possessively and asking the
 * TLD set (callout 1) accepts exactly the same strings. */
#define TB_TLD		"(?<![a-zA-Z0-9-])[a-zA-Z0-9-]++(?C1)(?![a-zA-Z0-9-]|\\.[a-zA-Z0-9])"
/* The runs of non-delimiters are possessive ("{1,2048}+"): each is followed,
 * directly or after the optional path, by a lookahead for a delimiter or
 * the end, so giving back characters can only put a non-delimiter there
 * and fail; Perl's backtracking would find nothing more, only slower. */
#define TB_SCHEMELESS	"([a-z\\d][a-z\\d._-]{0,251}\\." TB_TLD ")\\.?(?::\\d{1,5})?(?:/[^" TB_END "]{1,2048}+)?"
#define TB_KNOWN	"(?:(?:https?|ftp)://|(?:www\\d{0,2}|ftp)\\.)[^" TB_END "]{1,2048}+"
#define TB_MAIL		"(?:mailto:[^" TB_END_EMAIL "]{1,2048}+|[^" TB_END_PLUSAT "]{1,251}+@[^" TB_END_EMAIL "]{1,251}+)"

enum uri_re {
	RE_TBIRD,
	RE_SPLIT,
	RE_HARDREDIR,
	RE_MAIL_Q,
	RE_MAIL_AMP,
	RE_MAIL_20,
	RE_MAIL_LT,
	RE_DOTTED_IP,
	RE_IS_IP,
	RE_COUNT
};

static const struct {
	const char *pattern;
	uint32_t options;
} uri_re_src[RE_COUNT] = {
	[RE_TBIRD] = {
		"(?:\\b|(?<=\\x1b\\(.)|(?<=[" TB_START "]))"
		"(?:(?:(" TB_KNOWN ")(?=[" TB_END "]|\\z))"
		"|(?:(" TB_MAIL ")(?=[" TB_END_EMAIL "]|\\z))"
		"|(?:(?:^|(?<=" TB_SCSTART "))(" TB_SCHEMELESS ")(?=[" TB_END "]|\\z)))",
		PCRE2_CASELESS },
	[RE_SPLIT] = { "^(https?://)([^@/?#]*@)?([^/?#:]+)((?::(\\d*))?.*)$", PCRE2_CASELESS },
	[RE_HARDREDIR] = { "(https?:/{0,2}[^&#]+)", PCRE2_CASELESS },
	[RE_MAIL_Q] = { "^([^@]+@[^?]+)\\?", 0 },
	[RE_MAIL_AMP] = { "^([^@]+@[^?&]+)&", 0 },
	[RE_MAIL_20] = { "^(?:mailto:)?(?:%20)*([^@]+@[^?&%]+)", 0 },
	[RE_MAIL_LT] = { "^[^?&]*<([^@>]+@[^>]+)>", 0 },
	[RE_DOTTED_IP] = {
		"^((?:0x[0-9a-f]+|\\d+)\\.)((?:0x[0-9a-f]+|\\d+)\\.)"
		"((?:0x[0-9a-f]+|\\d+)\\.)(0x[0-9a-f]+|\\d+)$", PCRE2_CASELESS },
	/* Constants.pm IS_IP_ADDRESS. */
	[RE_IS_IP] = {
		"^(?:"
		"\\b(?<!:)"
		"(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\."
		"(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\."
		"(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\."
		"(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\b"
		"|"
		"(?:IPv6:|(?<![a-f0-9:]))"
		"(?:"
		"(?:(?:[a-f0-9]{1,4}:){6}"
		"|::(?:[a-f0-9]{1,4}:){0,5}"
		"|(?:[a-f0-9]{1,4}:){1,5}:"
		"|[a-f0-9]{1,4}::(?:[a-f0-9]{1,4}:){1,4}"
		"|(?:[a-f0-9]{1,4}:){2}:(?:[a-f0-9]{1,4}:){1,3}"
		"|(?:[a-f0-9]{1,4}:){3}:(?:[a-f0-9]{1,4}:){1,2}"
		"|(?:[a-f0-9]{1,4}:){4}:[a-f0-9]{1,4}:"
		")"
		"(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\."
		"(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\."
		"(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\."
		"(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)"
		"|(?:[a-f0-9]{1,4}:){7}[a-f0-9]{1,4}"
		"|:(?::[a-f0-9]{1,4}){1,7}"
		"|(?:[a-f0-9]{1,4}:){1,7}:"
		"|[a-f0-9]{1,4}:(?::[a-f0-9]{1,4}){1,6}"
		"|(?:[a-f0-9]{1,4}:){2}(?::[a-f0-9]{1,4}){1,5}"
		"|(?:[a-f0-9]{1,4}:){3}(?::[a-f0-9]{1,4}){1,4}"
		"|(?:[a-f0-9]{1,4}:){4}(?::[a-f0-9]{1,4}){1,3}"
		"|(?:[a-f0-9]{1,4}:){5}(?::[a-f0-9]{1,4}){1,2}"
		"|(?:[a-f0-9]{1,4}:){6}:[a-f0-9]{1,4}"
		"|::"
		")"
		"(?![a-f0-9:])"
		")$", PCRE2_CASELESS },
};

static struct {
	bool ready;
	pcre2_code *code[RE_COUNT];
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit_stack;
	pcre2_compile_context *cctx;
	bool tb_end[256];		/* the bytes of TB_END, asked of PCRE2 */
	const struct sa_settings *set;	/* for the TLD callout */
} uri_re;

/* Callout 1: the label that ends here (the lookbehind before it makes
 * it a whole label) is a known TLD.  0 goes on, 1 backtracks. */
static int
uri_tld_callout(pcre2_callout_block *cb, void *data)
{
	const struct sa_settings *set = data;
	size_t end = cb->current_position, start = end;
	char label[64];

	while (start > 0 && end - start < sizeof(label)) {
		unsigned char c = cb->subject[start - 1];

		if (!is_alnum(c) && c != '-')
			break;
		start--;
	}
	/* no TLD is 64 long */
	if (end - start >= sizeof(label) || end == start || set->tlds == NULL)
		return 1;
	for (size_t i = start; i < end; i++)
		label[i - start] = lc_ascii((char)cb->subject[i]);
	return strset_contains(set->tlds, label, end - start) ? 0 : 1;
}

static pcre2_code *
uri_compile(const char *pattern, size_t len, uint32_t options, const char **why_r)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, len, options, &err, &off,
					 uri_re.cctx);

	if (code == NULL) {
		static char msg[160];

		pcre2_get_error_message(err, (PCRE2_UCHAR *)msg, sizeof(msg));
		*why_r = msg;
		return NULL;
	}
	/* Without JIT PCRE2 interprets: slower, same answers. */
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	return code;
}

/* TB_END as PCRE2 reads it ("\\s" is its set, not isspace's). */
static void
uri_tb_end_table(void)
{
	const char *why = NULL;
	pcre2_code *cls = uri_compile("[" TB_END "]", PCRE2_ZERO_TERMINATED, PCRE2_CASELESS, &why);
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);

	if (cls == NULL || md == NULL)
		log_panic("uri: delimiter class: %s", why != NULL ? why : "out of memory");
	for (int b = 0; b < 256; b++) {
		unsigned char byte = (unsigned char)b;

		uri_re.tb_end[b] = pcre2_match(cls, &byte, 1, 0, PCRE2_ANCHORED, md, NULL) > 0;
	}
	pcre2_match_data_free(md);
	pcre2_code_free(cls);
}

static void
uri_setup(void)
{
	const char *why = NULL;

	if (uri_re.ready)
		return;
	uri_re.cctx = pcre2_compile_context_create(NULL);
	if (uri_re.cctx == NULL)
		log_panic("uri: out of memory");
	/* Perl's "." and "$" know only LF. */
	pcre2_set_newline(uri_re.cctx, PCRE2_NEWLINE_LF);
	for (int i = 0; i < RE_COUNT; i++) {
		uri_re.code[i] = uri_compile(uri_re_src[i].pattern, PCRE2_ZERO_TERMINATED,
					     uri_re_src[i].options, &why);
		if (uri_re.code[i] == NULL)
			log_panic("uri: pattern %d: %s", i, why);
	}
	uri_re.md = pcre2_match_data_create(64, NULL);
	uri_re.mctx = pcre2_match_context_create(NULL);
	uri_re.jit_stack = pcre2_jit_stack_create(32 * 1024, URI_JIT_STACK_MAX, NULL);
	if (uri_re.md == NULL || uri_re.mctx == NULL)
		log_panic("uri: out of memory");
	pcre2_set_match_limit(uri_re.mctx, URI_MATCH_LIMIT);
	pcre2_set_depth_limit(uri_re.mctx, URI_DEPTH_LIMIT);
	if (uri_re.jit_stack != NULL)
		pcre2_jit_stack_assign(uri_re.mctx, NULL, uri_re.jit_stack);
	uri_tb_end_table();
	uri_re.ready = true;
}

/* Runs code over s[0..len) from off.  Returns true on a match; the
 * offsets are then in uri_re.md.  A match error (limit) is no match. */
static bool
re_run(const pcre2_code *code, const char *s, size_t len, size_t off)
{
	int rc = pcre2_match(code, (PCRE2_SPTR)s, len, off, 0, uri_re.md, uri_re.mctx);

	return rc >= 0;
}

static bool
re_match(enum uri_re re, const char *s, size_t len)
{
	return re_run(uri_re.code[re], s, len, 0);
}

/* Group n of the last match: false when it did not take part. */
static bool
re_group(int n, const char *s, const char **p_r, size_t *len_r)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(uri_re.md);

	*p_r = NULL;
	*len_r = 0;
	if ((uint32_t)n >= pcre2_get_ovector_count(uri_re.md) || ov[2 * n] == PCRE2_UNSET)
		return false;
	*p_r = s + ov[2 * n];
	*len_r = ov[2 * n + 1] - ov[2 * n];
	return true;
}

/* ---- RegistryBoundaries and Util helpers ---- */

/* SpamAssassin's is_valid_utf_8 (RFC 3629 strict). */
static bool
utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return false;
		if (len - i <= n)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += n + 1;
	}
	return true;
}

/* Util::idn_to_ascii of the octets s[0..len) (a character string goes in
 * as its UTF-8, as Perl's utf8::encode gives it).  Returns false when
 * libidn2 was asked and failed: out then holds the input (alternative
 * dots made ".") unchanged in case, as SpamAssassin keeps it. */
static bool
idn_to_ascii(const char *s, size_t len, struct ubuf *out)
{
	static const char *const dots[] = {
		"\xe2\x80\xa4", "\xe3\x80\x82", "\xef\xbc\x8e", "\xef\xbd\xa1", "\xef\xb9\x92"
	};
	bool plain = true, latin1 = true;
	struct ubuf in = { 0 };
	char *ace = NULL;
	bool ok;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(is_alnum(c) || c == '_' || c == '.' || c == ':' || c == '[' ||
		      c == ']' || c == '-'))
			plain = false;
		if (!(is_alnum(c) || c == '_' || c == '.' || c == '-' ||
		      (c >= 0xc0 && c <= 0xd6) || (c >= 0xd8 && c <= 0xde) ||
		      (c >= 0xe0 && c <= 0xf6) || (c >= 0xf8 && c <= 0xfe)))
			latin1 = false;
	}
	if (plain) {
		lc_into(out, s, len);
		return true;
	}
	if (utf8_valid((const unsigned char *)s, len)) {
		out->len = 0;
		for (size_t i = 0; i < len; i++) {
			size_t k;

			for (k = 0; k < N_ELEMENTS(dots); k++)
				if (i + 3 <= len && memcmp(s + i, dots[k], 3) == 0)
					break;
			if (k < N_ELEMENTS(dots)) {
				ub_addc(out, '.');
				i += 2;
			} else
				ub_addc(out, s[i]);
		}
		ub_set(&in, out->p, out->len);
	} else if (latin1) {
		ub_set(out, s, len);
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c < 0x80)
				ub_addc(&in, (char)c);
			else {
				ub_addc(&in, (char)(0xc0 | (c >> 6)));
				ub_addc(&in, (char)(0x80 | (c & 0x3f)));
			}
		}
	} else {
		/* no charset detected: garbage in, garbage out */
		lc_into(out, s, len);
		return true;
	}
	ub_addc(&in, '\0');	/* libidn2 stops at the first NUL, as the XS did */
	ok = idn2_to_ascii_8z(in.p, &ace, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) == IDN2_OK;
	if (ok)
		ub_set(out, ace, strlen(ace));
	idn2_free(ace);
	ub_free(&in);
	return ok;
}

/* RegistryBoundaries::is_domain_valid. */
static bool
domain_valid(const struct sa_settings *set, const char *dom, size_t len, bool is_ascii,
	     struct ubuf *tmp)
{
	const char *dot;

	if (is_ascii)
		lc_into(tmp, dom, len);
	else
		(void)idn_to_ascii(dom, len, tmp);
	for (size_t i = 0; i < tmp->len; i++)
		if (is_space((unsigned char)tmp->p[i]))
			return false;
	dot = memrchr(tmp->p, '.', tmp->len);
	if (dot == NULL || dot + 1 == tmp->p + tmp->len)
		return false;
	return set->tlds != NULL &&
	       strset_contains(set->tlds, dot + 1, (size_t)(tmp->p + tmp->len - dot - 1));
}

bool
uri_domain_valid(const struct sa_settings *set, const char *dom, size_t len)
{
	struct ubuf tmp = { 0 };
	bool ok = domain_valid(set, dom, len, false, &tmp);

	ub_free(&tmp);
	return ok;
}

/* Util::is_fqdn_valid($host, 1). */
static bool
fqdn_valid(const char *host, size_t len)
{
	size_t cnt = 0, start;

	while (len > 0 && host[len - 1] == '.')
		len--;
	if (len > 253 || len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (host[i] == '.')
			cnt++;
	cnt++;
	if (cnt < 2)
		return false;
	start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && host[i] != '.')
			continue;
		size_t l = i - start;
		const char *lab = host + start;

		if (l < 1 || l > 63)
			return false;
		for (size_t k = 0; k < l; k++) {
			unsigned char c = (unsigned char)lc_ascii(lab[k]);

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			      c == '_' || (c == '-' && k > 0 && k < l - 1)))
				return false;
			if (c == '_' && cnt <= 2)
				return false;
		}
		cnt--;
		start = i + 1;
	}
	return true;
}

/* RegistryBoundaries::uri_to_domain($uri) is defined. */
static bool
uri_has_domain(const struct sa_settings *set, const char *uri, size_t len,
	       struct ubuf *u, struct ubuf *host, struct ubuf *tmp)
{
	char *p;
	size_t n;

	lc_into(u, uri, len);
	p = u->p;
	n = u->len;
	if (prefix_ci(p, n, "javascript:") || prefix_ci(p, n, "cid:") ||
	    prefix_ci(p, n, "file:"))
		return false;
	if (prefix_ci(p, n, "mailto:")) {
		char *q, *at, *at2;

		p += 7;
		n -= 7;
		if ((q = memchr(p, '?', n)) != NULL)
			n = (size_t)(q - p);
		if ((at = memchr(p, '@', n)) == NULL)
			return false;
		at2 = memchr(at + 1, '@', n - (size_t)(at + 1 - p));
		if (at2 != NULL)
			return false;
		n -= (size_t)(at + 1 - p);
		p = at + 1;
	} else {
		size_t i = 0, k;
		char *at;

		while (i < n && p[i] >= 'a' && p[i] <= 'z')
			i++;
		if (i > 0 && i < n && p[i] == ':') {
			i++;
			for (k = 0; k < 2 && i < n && p[i] == '/'; k++)
				i++;
			p += i;
			n -= i;
		}
		for (i = 0; i < n; i++)
			if (p[i] == '/' || p[i] == '?' || p[i] == '#') {
				n = i;
				break;
			}
		if ((at = memrchr(p, '@', n)) != NULL) {
			n -= (size_t)(at + 1 - p);
			p = at + 1;
		}
		/* s{:\d*$}{}: the last ':' followed only by digits. */
		for (i = n; i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9'; i--)
			;
		if (i > 0 && p[i - 1] == ':')
			n = i - 1;
	}
	for (size_t i = 0; i + 2 < n; i++) {
		unsigned char a = (unsigned char)p[i + 1], b = (unsigned char)p[i + 2];

		if (p[i] != '%')
			continue;
		if ((a == '2' && ((b >= '1' && b <= '9') || (b >= 'a' && b <= 'f'))) ||
		    (a >= '3' && a <= '6' && ((b >= '0' && b <= '9') || (b >= 'a' && b <= 'f'))) ||
		    (a == '7' && ((b >= '0' && b <= '9') || (b >= 'a' && b <= 'e'))))
			return false;
	}
	(void)idn_to_ascii(p, n, host);
	if (re_match(RE_IS_IP, host->p, host->len))
		return true;
	if (!fqdn_valid(host->p, host->len))
		return false;
	return domain_valid(set, host->p, host->len, true, tmp);
}

bool
uri_is_ip_address(const char *s, size_t len)
{
	uri_setup();
	return re_match(RE_IS_IP, s, len);
}

bool
uri_to_domain_defined(const struct sa_settings *set, const char *uri, size_t len,
		      bool *is_ip_r)
{
	struct ubuf u = { 0 }, host = { 0 }, tmp = { 0 };
	bool ok;

	uri_setup();
	ok = uri_has_domain(set, uri, len, &u, &host, &tmp);
	*is_ip_r = ok && re_match(RE_IS_IP, host.p, host.len);
	ub_free(&u);
	ub_free(&host);
	ub_free(&tmp);
	return ok;
}

/* Util::url_encode (which decodes the harmless %XX and encodes the rest).
 * In character mode a character is encoded by its code point, and one
 * past Latin-1 is left alone (Perl's [\177-\377] does not match it). */
static void
url_encode(const char *s, size_t len, struct ubuf *out, bool chars)
{
	static const char hex[] = "0123456789abcdef";

	out->len = 0;
	ub_reserve(out, len);
	for (size_t i = 0; i < len; i++) {
		uint32_t c = (unsigned char)s[i];
		size_t n = 1;

		if (c == '%' && i + 2 < len && hexval((unsigned char)s[i + 1]) >= 0 &&
		    hexval((unsigned char)s[i + 2]) >= 0) {
			char x = s[i + 1], y = s[i + 2];

			if (x >= '2' && x <= '7' && !(x == '2' && y == '0') &&
			    !(x == '7' && (y == 'f' || y == 'F')))
				ub_addc(out, (char)(hexval((unsigned char)x) * 16 +
						    hexval((unsigned char)y)));
			else
				ub_add(out, s + i, 3);
			i += 2;
			continue;
		}
		if (chars && c >= 0x80)
			n = utf8_char(s + i, len - i, &c);
		if (c <= 0x20 || (c >= 0x7f && c <= 0xff) || c == '"' || c == '%' || c == '<' ||
		    c == '>') {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			ub_add(out, e, 3);
		} else
			ub_add(out, s + i, n);
		i += n - 1;
	}
}

static bool
has_pct_hex(const char *s, size_t len)
{
	for (size_t i = 0; i + 2 < len; i++)
		if (s[i] == '%' && hexval((unsigned char)s[i + 1]) >= 0 &&
		    hexval((unsigned char)s[i + 2]) >= 0)
			return true;
	return false;
}

/* The three character-reference passes of uri_list_canonicalize, each
 * over the whole result of the one before. */
static void
decode_refs(struct ubuf *b, struct ubuf *tmp)
{
	static const char *const dots[] = {
		"x2e", "12290", "x3002", "65294", "xff0e", "65377", "xff61"
	};

	for (int pass = 0; pass < 3; pass++) {
		const char *s = b->p;
		size_t len = b->len;

		if (memmem(s, len, "&#", 2) == NULL)
			return;
		tmp->len = 0;
		ub_reserve(tmp, len);
		for (size_t i = 0; i < len; i++) {
			size_t j = i + 2;
			int v = -1;

			if (s[i] != '&' || j > len || s[i + 1] != '#') {
				ub_addc(tmp, s[i]);
				continue;
			}
			if (pass == 0) {
				/* &#0*(3[3-9]|[4-9]\d|1[01]\d|12[0-6]); */
				while (j < len && s[j] == '0')
					j++;
				if (j + 2 < len && s[j + 2] == ';' &&
				    ((s[j] == '3' && s[j + 1] >= '3' && s[j + 1] <= '9') ||
				     (s[j] >= '4' && s[j] <= '9' && s[j + 1] >= '0' && s[j + 1] <= '9'))) {
					v = (s[j] - '0') * 10 + (s[j + 1] - '0');
					j += 3;
				} else if (j + 3 < len && s[j + 3] == ';' && s[j] == '1' &&
					   (((s[j + 1] == '0' || s[j + 1] == '1') &&
					     s[j + 2] >= '0' && s[j + 2] <= '9') ||
					    (s[j + 1] == '2' && s[j + 2] >= '0' && s[j + 2] <= '6'))) {
					v = 100 + (s[j + 1] - '0') * 10 + (s[j + 2] - '0');
					j += 4;
				}
			} else if (pass == 1) {
				/* &#x0*(2[1-9]|[3-6][a-fA-F0-9]|7[0-9a-eA-E]); */
				if (j < len && s[j] == 'x') {
					j++;
					while (j < len && s[j] == '0')
						j++;
					if (j + 2 < len && s[j + 2] == ';') {
						char x = s[j], y = s[j + 1];
						int hy = hexval((unsigned char)y);

						if ((x == '2' && y >= '1' && y <= '9') ||
						    (x >= '3' && x <= '6' && hy >= 0) ||
						    (x == '7' && hy >= 0 && hy <= 14)) {
							v = (x - '0') * 16 + hy;
							j += 3;
						}
					}
				}
			} else {
				for (size_t k = 0; k < N_ELEMENTS(dots); k++) {
					size_t n = strlen(dots[k]);

					if (j + n < len && s[j + n] == ';' &&
					    prefix_ci(s + j, n, dots[k])) {
						v = '.';
						j += n + 1;
						break;
					}
				}
			}
			if (v < 0) {
				ub_addc(tmp, s[i]);
				continue;
			}
			ub_addc(tmp, (char)v);
			i = j - 1;
		}
		ub_set(b, tmp->p, tmp->len);
	}
}

/* Util::decode_ulong_to_ip: the first 8 hex digits of sprintf("%08lx"). */
static void
ulong_to_ip(uint64_t v, struct ubuf *out)
{
	char hex[24], ip[20];
	unsigned int o[4];

	snprintf(hex, sizeof(hex), "%08llx", (unsigned long long)v);
	for (int i = 0; i < 4; i++)
		o[i] = (unsigned int)(hexval((unsigned char)hex[2 * i]) * 16 +
				      hexval((unsigned char)hex[2 * i + 1]));
	snprintf(ip, sizeof(ip), "%u.%u.%u.%u", o[0], o[1], o[2], o[3]);
	ub_set(out, ip, strlen(ip));
}

/* Perl's numification of a digit string: exact up to UV_MAX, then
 * saturated (the NV is cast back to UV_MAX by sprintf). */
static uint64_t
parse_dec_sat(const char *s, size_t len)
{
	uint64_t v = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned int d = (unsigned int)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return UINT64_MAX;
		v = v * 10 + d;
	}
	return v;
}

/* One dotted-IP chunk (digits or 0x.., no dot): the hex, octal and
 * leading-zero rewrites of uri_list_canonicalize, appended to out. */
static void
ip_octet(const char *s, size_t len, struct ubuf *out)
{
	char num[32];
	struct ubuf o = { 0 };
	size_t i, z;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		uint64_t v = 0;

		for (i = 2; i < len; i++) {
			if (v >> 60) {
				v = UINT64_MAX;
				break;
			}
			v = v * 16 + (uint64_t)hexval((unsigned char)s[i]);
		}
		/* sprintf "%d" of the UV (or of UV_MAX after overflow). */
		snprintf(num, sizeof(num), "%lld", (long long)(int64_t)v);
		ub_set(&o, num, strlen(num));
	} else
		ub_set(&o, s, len);
	/* s/^0+([1-3][0-7]{0,2}|[4-7][0-7]?)\b/oct/; the chunk ends before
	 * its dot (or the string), so \b holds at the end. */
	for (z = 0; z < o.len && o.p[z] == '0'; z++)
		;
	if (z > 0 && z < o.len) {
		size_t n = 0, max = 0;
		char c = o.p[z];

		if (c >= '1' && c <= '3')
			max = 3;
		else if (c >= '4' && c <= '7')
			max = 2;
		while (n < max && z + n < o.len && o.p[z + n] >= '0' && o.p[z + n] <= '7')
			n++;
		/* Backtracking to a shorter run never puts \b after a digit. */
		if (n > 0 && (z + n == o.len || !is_word((unsigned char)o.p[z + n]))) {
			unsigned int v = 0;

			for (i = 0; i < n; i++)
				v = v * 8 + (unsigned int)(o.p[z + i] - '0');
			snprintf(num, sizeof(num), "%u", v);
			ub_add(out, num, strlen(num));
			ub_add(out, o.p + z + n, o.len - z - n);
			ub_free(&o);
			return;
		}
	}
	ub_add(out, o.p + z, o.len - z);
	ub_free(&o);
}

/* ---- uri_list_canonicalize ---- */

struct canon_state {
	bool chars;	/* character mode: the URI came from HTML */
	struct ubuf nuri, host, nhost, nhost_r, tmp, tmp2, target;
};

/* In place: drop LF, trim Perl's \s (Unicode's in character mode), drop
 * CR. */
static size_t
strip_ws(char *s, size_t len, bool chars)
{
	size_t o = 0, a = 0, b;
	uint32_t cp;

	for (size_t i = 0; i < len; i++)
		if (s[i] != '\n')
			s[o++] = s[i];
	len = o;
	while (a < len) {
		size_t n = chars ? utf8_char(s + a, len - a, &cp) : (cp = (unsigned char)s[a], 1);

		if (chars ? !is_uspace(cp) : !is_space((unsigned char)cp))
			break;
		a += n;
	}
	b = len;
	while (b > a) {
		size_t k = b - 1, n;

		if (chars)
			while (k > a && b - k < 4 && ((unsigned char)s[k] & 0xc0) == 0x80)
				k--;
		n = chars ? utf8_char(s + k, b - k, &cp) : (cp = (unsigned char)s[k], 1);
		if (k + n != b) {
			k = b - 1;
			cp = (unsigned char)s[k];
		}
		if (chars ? !is_uspace(cp) : !is_space((unsigned char)cp))
			break;
		b = k;
	}
	o = 0;
	for (size_t i = a; i < b; i++)
		if (s[i] != '\r')
			s[o++] = s[i];
	s[o] = '\0';
	return o;
}

/* Perl's \w at s (false at the end): for "\b" after a port. */
static bool
word_at(const struct canon_state *st, const char *s, size_t len)
{
	uint32_t cp;

	if (len == 0)
		return false;
	if (!st->chars)
		return is_word((unsigned char)s[0]);
	(void)utf8_char(s, len, &cp);
	return is_uword(cp);
}

static void
canon_state_free(struct canon_state *st)
{
	ub_free(&st->nuri);
	ub_free(&st->host);
	ub_free(&st->nhost);
	ub_free(&st->nhost_r);
	ub_free(&st->tmp);
	ub_free(&st->tmp2);
	ub_free(&st->target);
}

static void
canon_mail(const char *u, size_t len, struct strlist *nuris)
{
	const char *g;
	size_t glen;

	if (re_match(RE_MAIL_Q, u, len) && re_group(1, u, &g, &glen))
		strlist_add(nuris, g, glen);
	if (re_match(RE_MAIL_AMP, u, len) && re_group(1, u, &g, &glen))
		strlist_add(nuris, g, glen);
	if (memmem(u, len, "%20", 3) != NULL && re_match(RE_MAIL_20, u, len) &&
	    re_group(1, u, &g, &glen))
		push3(nuris, "mailto:", 7, g, glen, "", 0);
	if (re_match(RE_MAIL_LT, u, len) && re_group(1, u, &g, &glen))
		push3(nuris, "mailto:", 7, g, glen, "", 0);
}

/* The host-dependent rewrites for one http(s) URI. */
static void
canon_http(const struct sa_settings *set, struct canon_state *st, struct strlist *uris,
	   struct strlist *nuris)
{
	const char *s = st->nuri.p, *g = NULL;
	size_t glen = 0;
	const char *proto = NULL, *rest = NULL;
	size_t proto_len = 0, rest_len = 0, rest_noport_len = 0;
	const char *rest_noport = NULL;
	bool has_auth, proto_http, port80, found = false;
	char proto_buf[16];

	if (!re_match(RE_SPLIT, s, st->nuri.len))
		return;
	re_group(1, s, &proto, &proto_len);
	if (proto_len >= sizeof(proto_buf))
		return;
	memcpy(proto_buf, proto, proto_len);
	proto = proto_buf;
	has_auth = re_group(2, s, &g, &glen);
	re_group(3, s, &g, &glen);
	ub_set(&st->host, g, glen);
	re_group(4, s, &rest, &rest_len);
	proto_http = proto_len == 7 && memcmp(proto, "http://", 7) == 0;
	if (!re_group(5, s, &g, &glen) || glen == 0) {
		port80 = proto_http;
	} else {
		port80 = glen == 2 && memcmp(g, "80", 2) == 0;
		rest_noport = rest;
		rest_noport_len = rest_len;
		/* s/^:80\b// for http://, s/^:443\b// otherwise */
		if (proto_http) {
			if (rest_len >= 3 && memcmp(rest, ":80", 3) == 0 &&
			    !word_at(st, rest + 3, rest_len - 3)) {
				rest_noport += 3;
				rest_noport_len -= 3;
				push3(nuris, proto, proto_len, st->host.p, st->host.len,
				      rest_noport, rest_noport_len);
			}
		} else if (rest_len >= 4 && memcmp(rest, ":443", 4) == 0 &&
			   !word_at(st, rest + 4, rest_len - 4)) {
			rest_noport += 4;
			rest_noport_len -= 4;
			push3(nuris, proto, proto_len, st->host.p, st->host.len,
			      rest_noport, rest_noport_len);
		}
	}

	/* $nhost = idn_to_ascii($host); if it is not lc($host), use it */
	{
		bool differ, high = false;

		(void)idn_to_ascii(st->host.p, st->host.len, &st->nhost);
		for (size_t i = 0; i < st->host.len; i++)
			if ((unsigned char)st->host.p[i] >= 0x80)
				high = true;
		if (st->chars && high) {
			/* $nhost is octets (ACE, or the UTF-8 libidn2 refused),
			 * never equal to the characters of lc($host); joined
			 * with character strings Perl reads it as Latin-1. */
			differ = true;
			st->nhost_r.len = 0;
			for (size_t i = 0; i < st->nhost.len; i++) {
				unsigned char c = (unsigned char)st->nhost.p[i];

				if (c < 0x80)
					ub_addc(&st->nhost_r, (char)c);
				else {
					ub_addc(&st->nhost_r, (char)(0xc0 | (c >> 6)));
					ub_addc(&st->nhost_r, (char)(0x80 | (c & 0x3f)));
				}
			}
		} else {
			lc_into(&st->tmp, st->host.p, st->host.len);
			differ = st->nhost.len != st->tmp.len ||
				 memcmp(st->nhost.p, st->tmp.p, st->tmp.len) != 0;
			ub_set(&st->nhost_r, st->nhost.p, st->nhost.len);
		}
		if (differ) {
			push3(nuris, proto, proto_len, st->nhost_r.p, st->nhost_r.len,
			      rest, rest_len);
			if (rest_noport != NULL && rest_noport_len > 0)
				push3(nuris, proto, proto_len, st->nhost_r.p, st->nhost_r.len,
				      rest_noport, rest_noport_len);
			ub_set(&st->host, st->nhost_r.p, st->nhost_r.len);
		}
	}

	/* tr/\x00-\x20//d */
	{
		size_t o = 0;

		for (size_t i = 0; i < st->host.len; i++)
			if ((unsigned char)st->host.p[i] > 0x20)
				st->host.p[o++] = st->host.p[i];
		if (o != st->host.len) {
			st->host.len = o;
			st->host.p[o] = '\0';
			push3(nuris, proto, proto_len, st->host.p, st->host.len, rest, rest_len);
		}
	}

	/* Redirectors: the configured patterns first, then any http(s): in
	 * the rest. */
	if (uris->n <= URI_MAX_REDIRECTS) {
		ub_set(&st->target, proto, proto_len);
		ub_add(&st->target, st->host.p, st->host.len);
		ub_add(&st->target, rest, rest_len);
		for (size_t i = 0; i < set->redirector_pattern_count; i++) {
			const char *t = st->target.p;

			if (!re_run(set->redirector_patterns[i], t, st->target.len, 0))
				continue;
			if (!re_group(1, t, &g, &glen) || memchr(g, '.', glen) == NULL)
				continue;
			strlist_add(uris, g, glen);
			found = true;
			break;
		}
		if (!found && re_match(RE_HARDREDIR, rest, rest_len) &&
		    re_group(1, rest, &g, &glen) && memchr(g, '.', glen) != NULL)
			strlist_add(uris, g, glen);
	}

	/* s/^[^\@]+\@//: "www.fakehostname.com@" user part */
	{
		char *at = memchr(st->host.p, '@', st->host.len);

		if (at != NULL && at > st->host.p) {
			size_t skip = (size_t)(at + 1 - st->host.p);

			memmove(st->host.p, at + 1, st->host.len - skip);
			st->host.len -= skip;
			st->host.p[st->host.len] = '\0';
			push3(nuris, proto, proto_len, st->host.p, st->host.len, rest, rest_len);
		}
	}
	/* s/[^0-9A-Za-z]+$//: "visit http://example.biz!!!" */
	{
		size_t n = st->host.len;

		while (n > 0 && !is_alnum((unsigned char)st->host.p[n - 1]))
			n--;
		if (n != st->host.len) {
			st->host.len = n;
			st->host.p[n] = '\0';
			push3(nuris, proto, proto_len, st->host.p, st->host.len, rest, rest_len);
		}
	}

	/* Hosts that are IP addresses in dotted hex/octal, one hex number
	 * or one decimal number. */
	{
		const char *h = st->host.p;
		size_t hl = st->host.len, i;
		bool all_digits = hl > 0, hex1 = false;

		for (i = 0; i < hl; i++)
			if (h[i] < '0' || h[i] > '9')
				all_digits = false;
		if (hl > 2 && h[0] == '0' && (h[1] == 'x' || h[1] == 'X')) {
			hex1 = true;
			for (i = 2; i < hl; i++)
				if (hexval((unsigned char)h[i]) < 0)
					hex1 = false;
		}
		if (re_match(RE_DOTTED_IP, h, hl)) {
			st->tmp.len = 0;
			for (int k = 1; k <= 4; k++) {
				re_group(k, h, &g, &glen);
				if (k < 4)
					glen--;	/* the dot */
				ip_octet(g, glen, &st->tmp);
				if (k < 4)
					ub_addc(&st->tmp, '.');
			}
			push3(nuris, proto, proto_len, st->tmp.p, st->tmp.len, rest, rest_len);
		} else if (hex1) {
			/* only the last 8 hex digits count */
			uint64_t v = 0;
			size_t from = hl - 2 > 8 ? hl - 8 : 2;

			for (i = from; i < hl; i++)
				v = v * 16 + (uint64_t)hexval((unsigned char)h[i]);
			ulong_to_ip(v, &st->tmp);
			push3(nuris, proto, proto_len, st->tmp.p, st->tmp.len, rest, rest_len);
		} else if (all_digits) {
			ulong_to_ip(parse_dec_sat(h, hl), &st->tmp);
			push3(nuris, proto, proto_len, st->tmp.p, st->tmp.len, rest, rest_len);
		} else if (proto_http && !has_auth && port80 &&
			   !(st->nhost.len == 9 && memcmp(st->nhost.p, "localhost", 9) == 0)) {
			/* http://foobar -> http://www.foobar.com as Firefox does */
			const char *nh = st->nhost_r.p, *label;
			size_t nl = st->nhost_r.len, ll;

			label = nh;
			ll = nl;
			if (nl > 4 && memcmp(nh, "www.", 4) == 0 && memchr(nh + 4, '.', nl - 4) == NULL) {
				label = nh + 4;
				ll = nl - 4;
			}
			if (ll > 0 && memchr(label, '.', ll) == NULL &&
			    !domain_valid(set, st->nhost.p, st->nhost.len, false, &st->tmp2)) {
				ub_set(&st->tmp, "www.", 4);
				ub_add(&st->tmp, label, ll);
				ub_add(&st->tmp, ".com", 4);
				push3(nuris, proto, proto_len, st->tmp.p, st->tmp.len, rest, rest_len);
			}
		}
	}
}

/* Util::uri_list_canonicalize for one URI: appends the forms to res (the
 * raw URI, as stripped, first; duplicates possible). */
static void
canon(const struct sa_settings *set, struct canon_state *st, const char *in, size_t inlen,
      struct strlist *res)
{
	struct strlist uris, nuris;

	strlist_init(&uris);
	strlist_init(&nuris);
	strlist_add(&uris, in, inlen);
	for (size_t i = 0; i < uris.n; i++) {
		char *u = uris.v[i].p;
		size_t len = uris.v[i].len = strip_ws(uris.v[i].p, uris.v[i].len, st->chars);
		char *at;

		uint32_t cp;

		/* length($uri) <= 1: one character may be several bytes */
		if (len <= 1 || (st->chars && utf8_char(u, len, &cp) == len) ||
		    u[0] == '#' || u[0] == '?' || u[0] == '&' || (u[0] == '/' && u[1] != '/'))
			continue;
		at = memchr(u, '@', len);
		if (prefix_ci(u, len, "mailto:") ||
		    (at != NULL && memchr(u, ':', (size_t)(at - u)) == NULL)) {
			canon_mail(u, len, &nuris);
			continue;
		}

		ub_set(&st->nuri, u, len);
		for (size_t k = 0; k < st->nuri.len; k++)
			if (st->nuri.p[k] == '\\')
				st->nuri.p[k] = '/';
		/* http:www.foo.biz -> http://www.foo.biz */
		{
			size_t k = prefix_ci(st->nuri.p, st->nuri.len, "http:") ? 5 :
				   prefix_ci(st->nuri.p, st->nuri.len, "https:") ? 6 : 0;

			if (k > 0) {
				size_t j = k;

				while (j < st->nuri.len && j - k < 2 && st->nuri.p[j] == '/')
					j++;
				ub_set(&st->tmp, st->nuri.p, k);
				ub_add(&st->tmp, "//", 2);
				ub_add(&st->tmp, st->nuri.p + j, st->nuri.len - j);
				ub_set(&st->nuri, st->tmp.p, st->tmp.len);
			}
		}
		if (has_pct_hex(st->nuri.p, st->nuri.len)) {
			url_encode(st->nuri.p, st->nuri.len, &st->tmp, st->chars);
			ub_set(&st->nuri, st->tmp.p, st->tmp.len);
		}
		/* unschemed: http:// (ftp:// for ftp.) as most MUAs do */
		{
			size_t k = 0;

			while (k < st->nuri.len && (is_alnum((unsigned char)st->nuri.p[k]) ||
						    st->nuri.p[k] == '-' || st->nuri.p[k] == '_'))
				k++;
			if (k == 0 || k == st->nuri.len || st->nuri.p[k] != ':') {
				bool ftp = st->nuri.len >= 4 && memcmp(st->nuri.p, "ftp.", 4) == 0;

				ub_set(&st->tmp, ftp ? "ftp://" : "http://", ftp ? 6 : 7);
				ub_add(&st->tmp, st->nuri.p, st->nuri.len);
				ub_set(&st->nuri, st->tmp.p, st->tmp.len);
			}
		}
		/* http://www.foo.biz?id=3 -> http://www.foo.biz/?id=3 */
		{
			size_t k = prefix_ci(st->nuri.p, st->nuri.len, "http://") ? 7 :
				   prefix_ci(st->nuri.p, st->nuri.len, "https://") ? 8 : 0;

			if (k > 0) {
				size_t j = k;

				while (j < st->nuri.len && st->nuri.p[j] != '/' &&
				       st->nuri.p[j] != '?' && st->nuri.p[j] != '#')
					j++;
				if (j > k && j < st->nuri.len && st->nuri.p[j] != '/') {
					ub_set(&st->tmp, st->nuri.p, j);
					ub_addc(&st->tmp, '/');
					ub_add(&st->tmp, st->nuri.p + j, st->nuri.len - j);
					ub_set(&st->nuri, st->tmp.p, st->tmp.len);
				}
			}
		}
		decode_refs(&st->nuri, &st->tmp);
		/* uris may have grown (realloc): index again */
		if (st->nuri.len != uris.v[i].len ||
		    memcmp(st->nuri.p, uris.v[i].p, st->nuri.len) != 0)
			strlist_add(&nuris, st->nuri.p, st->nuri.len);
		canon_http(set, st, &uris, &nuris);
	}
	for (size_t i = 0; i < uris.n; i++)
		strlist_add_owned(res, uris.v[i].p, uris.v[i].len);
	for (size_t i = 0; i < nuris.n; i++)
		strlist_add_owned(res, nuris.v[i].p, nuris.v[i].len);
	free(uris.v);
	free(nuris.v);
}

/* ---- the message's list ---- */

struct collect {
	const struct sa_settings *set;
	struct strlist *out;
	struct strset *have;	/* what out holds */
	struct strset *seen;	/* raw text URIs already handled */
	struct canon_state st;
	struct ubuf u, host, tmp, raw, uri;
	struct strlist res;
	size_t candidates;
	bool truncated;
	struct strlist *hosts;		/* NULL: not asked for */
	struct strset *have_hosts;	/* what hosts holds */
};

static bool
collect_full(const struct collect *c)
{
	if (c->candidates >= URI_MAX_CANDIDATES)
		return true;
	if (c->out->n < URI_MAX_COUNT)
		return false;
	return c->hosts == NULL || c->hosts->n >= URI_MAX_HOSTS;
}

/* add_uri_detail_list: canonicalise, cut, and (valid_domain, for text
 * URIs) keep the forms only when one of them has a valid domain.  HTML
 * URIs are characters. */
static void
collect_add(struct collect *c, const char *uri, size_t len, bool from_text)
{
	bool keep = !from_text;
	bool host_source = c->hosts != NULL && !prefix_ci(uri, len, "mailto:");

	c->candidates++;
	c->res.n = 0;
	c->st.chars = !from_text;
	canon(c->set, &c->st, uri, len, &c->res);
	for (size_t i = 0; i < c->res.n; i++) {
		struct strlist_item *it = &c->res.v[i];
		size_t cut = max_length(it->p, it->len, c->st.chars);

		/* flagged whether or not the forms are kept, as
		 * add_uri_detail_list sets uri_truncated before it checks
		 * the domain */
		c->truncated |= cut < it->len;
		it->len = cut;
		it->p[it->len] = '\0';
		if (!keep && uri_has_domain(c->set, it->p, it->len, &c->u, &c->host, &c->tmp))
			keep = true;
	}
	for (size_t i = 0; i < c->res.n; i++) {
		struct strlist_item *it = &c->res.v[i];

		if (keep && c->out->n < URI_MAX_COUNT && strset_add(c->have, it->p, it->len))
			strlist_add(c->out, it->p, it->len);
		if (keep && host_source && c->hosts->n < URI_MAX_HOSTS &&
		    uri_has_domain(c->set, it->p, it->len, &c->u, &c->host, &c->tmp) &&
		    c->host.len > 0 && strset_add(c->have_hosts, c->host.p, c->host.len))
			strlist_add(c->hosts, c->host.p, c->host.len);
		free(it->p);
	}
	c->res.n = 0;
}

/* One match of _tbirdurire: the cleanup and checks of
 * _process_text_uri_list. */
static void
collect_text_match(struct collect *c, const char *raw, size_t rawlen, int type,
		   const char *schost, size_t schost_len)
{
	struct ubuf *r = &c->raw, *u = &c->uri;
	const char *paren, *close = NULL;
	size_t n;

	ub_set(r, raw, rawlen);
	/* s/(^[^(]*)\).*$/$1/: ")" ends it unless a "(" came first */
	paren = memchr(r->p, '(', r->len);
	n = paren != NULL ? (size_t)(paren - r->p) : r->len;
	for (size_t i = n; i > 0; i--)
		if (r->p[i - 1] == ')') {
			close = r->p + i - 1;
			break;
		}
	if (close != NULL)
		r->len = (size_t)(close - r->p);
	while (r->len > 0 && strchr("-~!@#^&*()_+=:;'?,.", r->p[r->len - 1]) != NULL &&
	       r->p[r->len - 1] != '\0')
		r->len--;
	r->p[r->len] = '\0';

	if (!strset_add(c->seen, r->p, r->len))
		return;
	if (type == 2 && memchr(r->p, '@', r->len) == NULL)
		return;
	if (schost != NULL && !fqdn_valid(schost, schost_len))
		return;
	if (prefix_ci(r->p, r->len, "cid:") || prefix_ci(r->p, r->len, "mid:"))
		return;
	/* /^\w+:\/{0,2}$/ */
	{
		size_t k = 0;

		while (k < r->len && is_word((unsigned char)r->p[k]))
			k++;
		if (k > 0 && k < r->len && r->p[k] == ':') {
			size_t j = k + 1;

			while (j < r->len && j - k - 1 < 2 && r->p[j] == '/')
				j++;
			if (j == r->len)
				return;
		}
	}

	ub_set(u, r->p, r->len);
	if (!prefix_ci(u->p, u->len, "http:") && !prefix_ci(u->p, u->len, "https:") &&
	    !prefix_ci(u->p, u->len, "ftp:") && !prefix_ci(u->p, u->len, "mailto:")) {
		const char *at = memchr(u->p, '@', u->len);
		const char *last_at = memrchr(u->p, '@', u->len);
		const char *slash = memchr(u->p, '/', u->len);
		const char *pfx;
		size_t k = 0, skip = 0;

		if (prefix_ci(u->p, u->len, "www"))
			for (k = 3; k < u->len && k < 5 && u->p[k] >= '0' && u->p[k] <= '9'; k++)
				;
		if (prefix_ci(u->p, u->len, "ftp.")) {
			pfx = "ftp://";
		} else if (k >= 3 && k < u->len && u->p[k] == '.') {
			pfx = "http://";
		} else if (slash != NULL && last_at != NULL && last_at >= slash + 2) {
			/* /\/.+\@/: a "/" before the "@", not an address */
			pfx = "http://";
		} else if (at != NULL) {
			/* /\@.+?\./: a dot at least two after the "@" */
			const char *dot = memrchr(u->p, '.', u->len);

			if (dot == NULL || dot < at + 2)
				return;
			if (memmem(u->p, u->len, "&nbsp;", 6) != NULL)
				return;
			/* s/^(?:skype|e?-?mail)?:+//i */
			if (prefix_ci(u->p, u->len, "skype")) {
				skip = 5;
			} else {
				size_t j = 0;

				if (j < u->len && lc_ascii(u->p[j]) == 'e')
					j++;
				if (j < u->len && u->p[j] == '-')
					j++;
				if (prefix_ci(u->p + j, u->len - j, "mail"))
					skip = j + 4;
			}
			if (skip >= u->len || u->p[skip] != ':')
				skip = 0;
			while (skip < u->len && u->p[skip] == ':')
				skip++;
			pfx = "mailto:";
		} else {
			if (memchr(u->p, '.', u->len) == NULL)
				return;
			pfx = "http://";
		}
		ub_set(&c->tmp, pfx, strlen(pfx));
		ub_add(&c->tmp, u->p + skip, u->len - skip);
		ub_set(u, c->tmp.p, c->tmp.len);
	}

	if (prefix_ci(u->p, u->len, "mailto:")) {
		const char *at, *h;
		size_t hl;

		if (has_pct_hex(u->p, u->len)) {
			url_encode(u->p, u->len, &c->tmp, false);
			ub_set(u, c->tmp.p, c->tmp.len);
		}
		if ((at = memchr(u->p, '@', u->len)) == NULL)
			return;
		h = at + 1;
		hl = 0;
		while (h + hl < u->p + u->len && h[hl] != '?' && h[hl] != '&' && h[hl] != '>')
			hl++;
		while (hl >= 3 && memcmp(h + hl - 3, "%20", 3) == 0)
			hl -= 3;
		if (!domain_valid(c->set, h, hl, false, &c->tmp))
			return;
	}
	collect_add(c, u->p, u->len, true);
}

/* Every byte of a RE_TBIRD match is outside TB_END (each class it
 * consumes with excludes TB_END, and so do its literals), and the match
 * holds a '.', ':' or '@' with another byte of the match after it
 * ("https:/", "www.x", "mailto:x", the local part's "@x", a schemeless
 * URI's ".tld").  So a match lies inside one run of non-TB_END bytes (a
 * word) with a mark before the word's last byte; most words of text have
 * none (a sentence's final "." is the last byte of its word), and PCRE2
 * need not try their positions.  The lookarounds at a word's end give the
 * same answer on the word alone: "(?=[TB_END...]|\z)" holds at both, and
 * the TLD's "(?![a-zA-Z0-9-]|\.[a-zA-Z0-9])" too; lookbehinds see the
 * bytes before the start offset. */
static bool
tb_candidate_word(const char *line, size_t len, size_t *start, size_t *end)
{
	size_t ws = *start;

	for (;;) {
		size_t we;
		bool marked = false;

		while (ws < len && uri_re.tb_end[(unsigned char)line[ws]])
			ws++;
		if (ws == len)
			return false;
		for (we = ws; we < len && !uri_re.tb_end[(unsigned char)line[we]]; we++)
			if (line[we] == '.' || line[we] == ':' || line[we] == '@')
				marked = marked || (we + 1 < len &&
						    !uri_re.tb_end[(unsigned char)line[we + 1]]);
		if (marked) {
			*start = ws;
			*end = we;
			return true;
		}
		ws = we;
	}
}

static void
collect_text(struct collect *c, const char *line, size_t len)
{
	size_t off = 0;

	while (off < len && !collect_full(c)) {
		PCRE2_SIZE *ov;
		const char *g, *h = NULL;
		size_t glen, hlen = 0, word_end;
		int type, rc;

		if (!tb_candidate_word(line, len, &off, &word_end))
			break;
		rc = pcre2_match(uri_re.code[RE_TBIRD], (PCRE2_SPTR)line, word_end, off, 0,
				 uri_re.md, uri_re.mctx);
		if (rc < 0) {
			/* no URI in this word, or a resource limit: the next word */
			off = word_end;
			continue;
		}
		ov = pcre2_get_ovector_pointer(uri_re.md);
		if (re_group(1, line, &g, &glen))
			type = 1;
		else if (re_group(2, line, &g, &glen))
			type = 2;
		else if (re_group(3, line, &g, &glen)) {
			type = 3;
			if (!re_group(4, line, &h, &hlen))
				h = NULL;
		} else
			break;
		off = ov[1] > off ? ov[1] : off + 1;
		collect_text_match(c, g, glen, type, h, hlen);
	}
}

void
uri_collect(const struct sa_settings *set, const struct strlist *body,
	    const struct strlist *html_uris, struct strlist *out,
	    struct uri_collect_more *more)
{
	struct collect c;

	uri_setup();
	memset(&c, 0, sizeof(c));
	c.set = set;
	c.out = out;
	c.have = strset_new();
	c.seen = strset_new();
	if (more != NULL && more->hosts != NULL) {
		c.hosts = more->hosts;
		c.have_hosts = strset_new();
		for (size_t i = 0; i < c.hosts->n; i++)
			strset_add(c.have_hosts, c.hosts->v[i].p, c.hosts->v[i].len);
	}
	strlist_init(&c.res);
	for (size_t i = 0; i < out->n; i++)
		strset_add(c.have, out->v[i].p, out->v[i].len);
	pcre2_set_callout(uri_re.mctx, uri_tld_callout, (void *)set);

	for (size_t i = 0; body != NULL && i < body->n && !collect_full(&c); i++)
		collect_text(&c, body->v[i].p, body->v[i].len);
	for (size_t i = 0; html_uris != NULL && i < html_uris->n && !collect_full(&c); i++) {
		const struct strlist_item *it = &html_uris->v[i];

		/* HTML.pm's canon_uri cuts them too */
		collect_add(&c, it->p, max_length(it->p, it->len, true), false);
	}

	pcre2_set_callout(uri_re.mctx, NULL, NULL);
	if (more != NULL)
		more->truncated |= c.truncated;
	strset_free(&c.have);
	strset_free(&c.have_hosts);
	strset_free(&c.seen);
	strlist_free(&c.res);
	ub_free(&c.u);
	ub_free(&c.host);
	ub_free(&c.tmp);
	ub_free(&c.raw);
	ub_free(&c.uri);
	canon_state_free(&c.st);
}

void
uri_canonicalize(const struct sa_settings *set, const char *uri, size_t len,
		 struct strlist *out)
{
	struct canon_state st;
	struct strlist res;
	struct strset *have = strset_new();

	uri_setup();
	memset(&st, 0, sizeof(st));
	strlist_init(&res);
	canon(set, &st, uri, len > URI_MAX_LENGTH ? URI_MAX_LENGTH : len, &res);
	for (size_t i = 0; i < res.n; i++) {
		size_t n = res.v[i].len > URI_MAX_LENGTH ? URI_MAX_LENGTH : res.v[i].len;

		if (strset_add(have, res.v[i].p, n))
			strlist_add(out, res.v[i].p, n);
	}
	strlist_free(&res);
	strset_free(&have);
	canon_state_free(&st);
}

/* ---- redirector_pattern ---- */

int
uri_redirector_add(struct sa_settings *set, const char *value, const char **why_r)
{
	const char *re, *end;
	char close;
	uint32_t opts = 0;
	size_t len;
	pcre2_code *code;

	uri_setup();
	while (is_space((unsigned char)*value))
		value++;
	len = strlen(value);
	while (len > 0 && is_space((unsigned char)value[len - 1]))
		len--;
	if (len == 0) {
		*why_r = "missing value";
		return -1;
	}
	/* Util::compile_regexp's delimiters */
	if (value[0] == '/') {
		re = value + 1;
		close = '/';
	} else {
		size_t k = value[0] == 'm' ? 1 : (value[0] == 'q' && value[1] == 'r') ? 2 : 0;
		unsigned char d = (unsigned char)value[k];

		if (k == 0 || k >= len || is_word(d) || d == '\\') {
			*why_r = d == '\\' ? "backslash delimiter not allowed" :
				 "missing regexp delimiters";
			return -1;
		}
		close = d == '{' ? '}' : d == '(' ? ')' : d == '<' ? '>' : d == '[' ? ']' : (char)d;
		re = value + k + 1;
	}
	/* the end delimiter, then flags */
	end = value + len;
	while (end > re && end[-1] >= 'a' && end[-1] <= 'z' && end[-1] != 'e')
		end--;
	if (end == re || end[-1] != close) {
		*why_r = "invalid end delimiter/mods";
		return -1;
	}
	for (const char *f = end; f < value + len; f++)
		switch (*f) {
		case 'i': opts |= PCRE2_CASELESS; break;
		case 'm': opts |= PCRE2_MULTILINE; break;
		case 's': opts |= PCRE2_DOTALL; break;
		case 'x': opts |= PCRE2_EXTENDED; break;
		default:
			*why_r = "unsupported regexp modifier";
			return -1;
		}
	end--;
	if (close != '}' && close != ')' && close != ']') {
		/* an unescaped delimiter inside */
		for (const char *p = re; p < end; p++) {
			if (*p == '\\') {
				p++;
				continue;
			}
			if (*p == close) {
				*why_r = "unquoted delimiter found";
				return -1;
			}
		}
	}
	if (memmem(re, (size_t)(end - re), "(?{", 3) != NULL ||
	    memmem(re, (size_t)(end - re), "(??{", 4) != NULL) {
		*why_r = "eval (?{}) found";
		return -1;
	}
	code = uri_compile(re, (size_t)(end - re), opts, why_r);
	if (code == NULL)
		return -1;
	set->redirector_patterns = xreallocarray(set->redirector_patterns,
						 set->redirector_pattern_count + 1,
						 sizeof(*set->redirector_patterns));
	set->redirector_patterns[set->redirector_pattern_count++] = code;
	return 1;
}

void
uri_redirector_free(struct sa_settings *set)
{
	for (size_t i = 0; i < set->redirector_pattern_count; i++)
		pcre2_code_free(set->redirector_patterns[i]);
	free(set->redirector_patterns);
	set->redirector_patterns = NULL;
	set->redirector_pattern_count = 0;
}
