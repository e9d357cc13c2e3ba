/* mime_charset: transfer decoding (Util::qp_decode, Util::base64_decode)
 * and charset normalisation to UTF-8 (Node::_normalize with
 * normalize_charset on and without Encode::Detect, as on Debian).
 *
 * _normalize's decision ladder is kept step by step: all-ASCII text in an
 * ASCII-compatible declared charset is returned as is; 8-bit text that is
 * valid UTF-8 is taken as UTF-8 whatever was declared (unless the caller
 * insists on the declared charset, as RFC 2047 words do); then the
 * declared charset (ISO-8859-1 read as Windows-1252, UTF-16 by
 * SpamAssassin's endianness guess, GB18030 as GBK), then Windows-1252
 * strictly when the bytes look like it, then Windows-1252 with U+FFFD as
 * the last resort.  Declared charsets go through GMime's name table and
 * iconv; Windows-1252 and UTF-8 validity are done here (Encode's strict
 * UTF-8 rejects surrogates and noncharacters, and so does this). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "mime.h"
#include "strset.h"
#include "xalloc.h"

void
mime_str_add(struct mime_str *s, const void *p, size_t n)
{
	if (s->len + n + 1 > s->cap || s->p == NULL) {
		size_t cap = s->cap < 64 ? 64 : s->cap;

		while (cap < s->len + n + 1)
			cap *= 2;
		s->p = xrealloc(s->p, cap);
		s->cap = cap;
	}
	if (n > 0)
		memcpy(s->p + s->len, p, n);
	s->len += n;
	s->p[s->len] = '\0';
}

void
mime_str_reserve(struct mime_str *s, size_t n)
{
	if (s->len + n + 1 > s->cap || s->p == NULL) {
		s->p = xrealloc(s->p, s->len + n + 1);
		s->cap = s->len + n + 1;
		s->p[s->len] = '\0';
	}
}

void
mime_str_add_cp_wide(struct mime_str *s, uint32_t cp)
{
	char b[6];

	mime_str_add(s, b, (size_t)g_unichar_to_utf8(cp, b));
}

void
mime_str_free(struct mime_str *s)
{
	free(s->p);
	s->p = NULL;
	s->len = s->cap = 0;
}

/* ---- transfer decodings ---- */

static int
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

/* Each pass copies the runs between the bytes it looks at whole. */
void
mime_qp_decode(const char *p, size_t len, struct mime_str *out)
{
	struct mime_str a = { 0 }, b = { 0 };
	size_t i = 0;

	/* s/[ \t]+(?=\r?\n)//g */
	mime_str_add(&a, "", 0);
	while (i < len) {
		size_t j = i;

		while (j < len && p[j] != ' ' && p[j] != '\t')
			j++;
		mime_str_add(&a, p + i, j - i);
		i = j;
		if (i >= len)
			break;
		while (j < len && (p[j] == ' ' || p[j] == '\t'))
			j++;
		if (!((j < len && p[j] == '\n') ||
		      (j + 1 < len && p[j] == '\r' && p[j + 1] == '\n')))
			mime_str_add(&a, p + i, j - i);
		i = j;
	}
	/* s/=\r?\n//g */
	mime_str_add(&b, "", 0);
	for (i = 0; i < a.len;) {
		const char *eq = memchr(a.p + i, '=', a.len - i);
		size_t e = eq != NULL ? (size_t)(eq - a.p) : a.len;

		mime_str_add(&b, a.p + i, e - i);
		i = e;
		if (i >= a.len)
			break;
		if (i + 1 < a.len && a.p[i + 1] == '\n')
			i += 2;
		else if (i + 2 < a.len && a.p[i + 1] == '\r' && a.p[i + 2] == '\n')
			i += 3;
		else
			mime_str_addc(&b, a.p[i++]);
	}
	/* s/=([0-9a-fA-F]{2})/chr(hex($1))/ge */
	for (i = 0; i < b.len;) {
		const char *eq = memchr(b.p + i, '=', b.len - i);
		size_t e = eq != NULL ? (size_t)(eq - b.p) : b.len;
		int h, l;

		mime_str_add(out, b.p + i, e - i);
		i = e;
		if (i >= b.len)
			break;
		if (i + 2 < b.len && (h = hexval((unsigned char)b.p[i + 1])) >= 0 &&
		    (l = hexval((unsigned char)b.p[i + 2])) >= 0) {
			mime_str_addc(out, (char)(h * 16 + l));
			i += 3;
			continue;
		}
		mime_str_addc(out, b.p[i++]);
	}
	if (out->p == NULL)
		mime_str_add(out, "", 0);
	mime_str_free(&a);
	mime_str_free(&b);
}

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static bool
perl_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Decodes values as a bit stream, floor(6n/8) bytes. */
static void
b64_bits(const int *v, size_t n, struct mime_str *out)
{
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 6) | (uint32_t)v[i];
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			mime_str_addc(out, (char)((acc >> bits) & 0xff));
		}
	}
}

void
mime_base64_decode(const char *p, size_t len, struct mime_str *out)
{
	char *s = xmalloc(len + 1);
	int *v = xmalloc((len + 1) * sizeof(int));
	size_t n = 0, nv = 0;
	bool clean;

	mime_str_add(out, "", 0);
	/* s/\s+//g */
	for (size_t i = 0; i < len; i++)
		if (!perl_space((unsigned char)p[i]))
			s[n++] = p[i];
	/* length % 4 == 0 && m|^(?:[A-Za-z0-9+/=]{2,}={0,2})$| */
	clean = n % 4 == 0 && n >= 2;
	for (size_t i = 0; clean && i < n; i++)
		if (b64val((unsigned char)s[i]) < 0 && s[i] != '=')
			clean = false;
	if (clean) {
		/* s/(=+)(?!=*$)/'A' x length($1)/ge, then MIME::Base64,
		 * which stops at the (now final) padding */
		size_t tail = n;

		while (tail > 0 && s[tail - 1] == '=')
			tail--;
		for (size_t i = 0; i < tail; i++)
			v[nv++] = s[i] == '=' ? 0 : b64val((unsigned char)s[i]);
		b64_bits(v, nv, out);
	} else {
		/* tr{A-Za-z0-9+/=}{}cd; s/=+$//; '=' reads as 63 (uuencode
		 * translation); a lone final character is dropped */
		size_t m = 0;

		for (size_t i = 0; i < n; i++)
			if (b64val((unsigned char)s[i]) >= 0 || s[i] == '=')
				s[m++] = s[i];
		while (m > 0 && s[m - 1] == '=')
			m--;
		if (m % 4 == 1)
			m--;
		for (size_t i = 0; i < m; i++)
			v[nv++] = s[i] == '=' ? 63 : b64val((unsigned char)s[i]);
		/* unpack("u") decodes 84-character lines: same bit stream,
		 * since 84 characters are exactly 63 bytes */
		b64_bits(v, nv, out);
	}
	free(s);
	free(v);
}

/* ---- UTF-8 and Windows-1252 ---- */

/* Encode's strict UTF-8: no overlongs, surrogates, noncharacters or
 * code points above U+10FFFF. */
static bool
utf8_strict_valid(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = p[i];
		uint32_t cp;
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		if (cp >= 0xd800 && cp <= 0xdfff)
			return false;
		if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
			return false;
		i += k + 1;
	}
	return true;
}

static const uint16_t cp1252_hi[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

/* strict: false when a byte has no mapping (nothing appended). */
static bool
cp1252_decode(const unsigned char *p, size_t n, bool strict, struct mime_str *out)
{
	if (strict)
		for (size_t i = 0; i < n; i++)
			if (p[i] >= 0x80 && p[i] < 0xa0 && cp1252_hi[p[i] - 0x80] == 0)
				return false;
	for (size_t i = 0; i < n; i++) {
		uint32_t cp = p[i];

		if (cp >= 0x80 && cp < 0xa0)
			cp = cp1252_hi[cp - 0x80] ? cp1252_hi[cp - 0x80] : 0xfffd;
		mime_str_add_cp(out, cp);
	}
	return true;
}

/* ---- iconv through GMime ---- */

/* Charset names Encode::find_encoding does not know, or knows under a
 * name iconv lacks. */
static const char *
encode_name(const char *cs, bool *none)
{
	static const char *const unknown[] = {
		"x-unknown", "unknown-8bit", "default", "x-user-defined",
		"iso-8859-8-i", "iso-8859-6-i", "iso-8859-8-e", "iso-8859-6-e",
	};

	*none = false;
	/* "" would be the locale's charset to iconv; Encode knows no "" */
	if (*cs == '\0' || strcasecmp(cs, "char") == 0 || strcasecmp(cs, "wchar_t") == 0) {
		*none = true;
		return NULL;
	}
	for (size_t i = 0; i < N_ELEMENTS(unknown); i++)
		if (strcasecmp(cs, unknown[i]) == 0) {
			*none = true;
			return NULL;
		}
	/* GMime widens some names to a superset (GB2312 to GBK, KS C 5601
	 * to EUC-KR); Encode decodes exactly what is named, and text that
	 * fails the named table takes SpamAssassin's fallback path */
	static const struct {
		const char *name, *iconv;
	} exact[] = {
		{ "gb2312", "EUC-CN" }, { "csgb2312", "EUC-CN" }, { "euc-cn", "EUC-CN" },
		{ "x-euc-cn", "EUC-CN" }, { "ks_c_5601-1987", "CP949" },
		{ "ks_c_5601", "CP949" }, { "x-windows-949", "CP949" },
		{ "x-sjis", "SHIFT_JIS" }, { "unicode-1-1-utf-7", "UTF-7" },
	};

	for (size_t i = 0; i < N_ELEMENTS(exact); i++)
		if (strcasecmp(cs, exact[i].name) == 0)
			return exact[i].iconv;
	return g_mime_charset_iconv_name(cs);
}

/* Returns 1 decoded, 0 invalid input (strict), -1 no such charset.  Not
 * strict: undecodable bytes become U+FFFD, one per byte. */
/* iconv descriptors by name, opened once per process (plain iconv_open:
 * g_mime_iconv_open would map the name through GMime's table again) and
 * kept while they are among the CD_CACHE_MAX used last.  An open costs
 * tens of microseconds (the gconv module is looked up and mapped): with
 * room for only 32 names, encoded words cycling through 60 charsets
 * opened and closed one each, 8 s for 1 MB of Subject fields.  Glibc
 * knows about 1100 names an encoded word can spell, so the working set of
 * a message's fields fits; names seen once (a part's charset) are evicted
 * first.  A name failing to open is kept too, as -1. */
#define CD_CACHE_MAX	2048	/* a power of two */
#define CD_NAME_MAX	48

static struct cd_ent {
	char name[CD_NAME_MAX];
	iconv_t cd;
	uint64_t used;		/* when last returned: the oldest goes first */
	int next;		/* in its bucket, -1 at the end */
} cds[CD_CACHE_MAX];
static int cd_bucket[CD_CACHE_MAX];
static size_t ncds, cd_opens;
static uint64_t cd_clock;

size_t
mime_charset_opens(void)
{
	return cd_opens;
}

static size_t
cd_slot(const char *name)
{
	return str_hash(name, strlen(name)) & (CD_CACHE_MAX - 1);
}

static struct cd_ent *
cd_find(const char *name)
{
	if (ncds == 0)
		return NULL;
	for (int i = cd_bucket[cd_slot(name)]; i >= 0; i = cds[i].next)
		if (strcmp(cds[i].name, name) == 0)
			return &cds[i];
	return NULL;
}

/* Takes the least recently used entry out of its bucket and closes it. */
static int
cd_evict(void)
{
	int old = 0;

	for (int i = 1; i < CD_CACHE_MAX; i++)
		if (cds[i].used < cds[old].used)
			old = i;
	for (int *link = &cd_bucket[cd_slot(cds[old].name)]; *link >= 0;
	     link = &cds[*link].next)
		if (*link == old) {
			*link = cds[old].next;
			break;
		}
	if (cds[old].cd != (iconv_t)-1)
		iconv_close(cds[old].cd);
	return old;
}

static iconv_t
cd_get(const char *name)
{
	struct cd_ent *e = cd_find(name);
	iconv_t cd;
	int i;

	if (e != NULL) {
		e->used = ++cd_clock;
		if (e->cd != (iconv_t)-1)
			iconv(e->cd, NULL, NULL, NULL, NULL);
		return e->cd;
	}
	cd = iconv_open("UTF-8", name);
	cd_opens++;
	if (strlen(name) >= CD_NAME_MAX)
		return cd;	/* not cached: cd_put() closes it */
	if (ncds == 0)
		for (size_t k = 0; k < CD_CACHE_MAX; k++)
			cd_bucket[k] = -1;
	i = ncds < CD_CACHE_MAX ? (int)ncds++ : cd_evict();
	snprintf(cds[i].name, sizeof(cds[i].name), "%s", name);
	cds[i].cd = cd;
	cds[i].used = ++cd_clock;
	cds[i].next = cd_bucket[cd_slot(name)];
	cd_bucket[cd_slot(name)] = i;
	return cd;
}

static void
cd_put(const char *name, iconv_t cd)
{
	if (cd_find(name) != NULL)
		return;
	if (cd != (iconv_t)-1)
		iconv_close(cd);
}

static int
iconv_decode(const char *name, const char *p, size_t n, bool strict,
	     struct mime_str *out)
{
	iconv_t cd = cd_get(name);
	size_t start = out->len;
	char buf[4096];
	char *in = (char *)p;
	size_t inleft = n;
	int ret = 1;

	if (cd == (iconv_t)-1)
		return -1;
	while (inleft > 0) {
		char *o = buf;
		size_t oleft = sizeof(buf);
		size_t r = iconv(cd, &in, &inleft, &o, &oleft);

		mime_str_add(out, buf, sizeof(buf) - oleft);
		if (r == (size_t)-1) {
			if (errno == E2BIG)
				continue;
			if (strict) {
				ret = 0;
				break;
			}
			if (errno == EINVAL) {
				/* a character cut by the end: Encode's multi-byte
				 * tables drop it, its UTF-8 decoder substitutes */
				if (strcasecmp(name, "UTF-8") == 0)
					mime_str_add_cp(out, 0xfffd);
				break;
			}
			/* EILSEQ: substitute and go on */
			mime_str_add_cp(out, 0xfffd);
			in++;
			inleft--;
			iconv(cd, NULL, NULL, NULL, NULL);
		}
	}
	if (ret == 1) {
		char *o = buf;
		size_t oleft = sizeof(buf);

		if (iconv(cd, NULL, NULL, &o, &oleft) != (size_t)-1)
			mime_str_add(out, buf, sizeof(buf) - oleft);
	}
	cd_put(name, cd);
	if (ret == 0) {
		out->len = start;
		if (out->p != NULL)
			out->p[start] = '\0';
	}
	return ret;
}

/* ---- Node::_normalize ---- */

static bool
ieq(const char *a, size_t an, const char *b)
{
	return an == strlen(b) && strncasecmp(a, b, an) == 0;
}

static bool
all_digits(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

/* ^(?: (?:US-)?ASCII | ANSI[_ ]?X3\.4-(?:1986|1968) | ISO646-US )\z */
static bool
cs_is_ascii(const char *cs)
{
	size_t n = strlen(cs);

	if (ieq(cs, n, "ascii") || ieq(cs, n, "us-ascii") || ieq(cs, n, "iso646-us"))
		return true;
	if (n >= 4 && strncasecmp(cs, "ansi", 4) == 0) {
		const char *p = cs + 4;

		if (*p == '_' || *p == ' ')
			p++;
		return strcasecmp(p, "x3.4-1986") == 0 || strcasecmp(p, "x3.4-1968") == 0;
	}
	return false;
}

/* ^(?: ISO[ -]?8859(?:-\d{1,2})? | Windows-\d{4} | UTF-?8 |
 *      (KOI8|EUC)-[A-Z]{1,2} | Big5 | GBK | GB[ -]?18030(?:-20\d\d)? )\z */
static bool
cs_is_ext_ascii(const char *cs)
{
	size_t n = strlen(cs);
	const char *p;

	if (n >= 3 && strncasecmp(cs, "iso", 3) == 0) {
		p = cs + 3;
		if (*p == ' ' || *p == '-')
			p++;
		if (strncmp(p, "8859", 4) != 0)
			return false;
		p += 4;
		if (*p == '\0')
			return true;
		if (*p != '-')
			return false;
		p++;
		size_t d = strlen(p);
		return (d == 1 || d == 2) && all_digits(p, d);
	}
	if (n == 12 && strncasecmp(cs, "windows-", 8) == 0)
		return all_digits(cs + 8, 4);
	if (ieq(cs, n, "utf-8") || ieq(cs, n, "utf8") || ieq(cs, n, "big5") ||
	    ieq(cs, n, "gbk"))
		return true;
	if ((n == 6 || n == 7) && (strncasecmp(cs, "koi8-", 5) == 0)) {
		for (p = cs + 5; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
				return false;
		return true;
	}
	if ((n == 5 || n == 6) && (strncasecmp(cs, "euc-", 4) == 0)) {
		for (p = cs + 4; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
				return false;
		return true;
	}
	return false;
}

/* ^GB[ -]?18030(?:-20\d\d)?\z */
static bool
cs_is_gb18030(const char *cs)
{
	const char *p = cs;

	if (strncasecmp(p, "gb", 2) != 0)
		return false;
	p += 2;
	if (*p == ' ' || *p == '-')
		p++;
	if (strncmp(p, "18030", 5) != 0)
		return false;
	p += 5;
	if (*p == '\0')
		return true;
	return p[0] == '-' && p[1] == '2' && p[2] == '0' && all_digits(p + 3, 2) &&
	       p[3] != '\0' && p[4] != '\0' && p[5] == '\0';
}

static bool
cs_is_utf8(const char *cs)
{
	return strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0;
}

/* The names Encode::JP::JIS7 answers to. */
static bool
is_jis7(const char *cs)
{
	return strcasecmp(cs, "iso-2022-jp") == 0 || strcasecmp(cs, "iso-2022-jp-1") == 0 ||
	       strcasecmp(cs, "7bit-jis") == 0 || strcasecmp(cs, "jis") == 0;
}

/* Node::detect_utf16: 1 LE, 2 BE, 0 unknown (or a BOM). */
static int
detect_utf16(const unsigned char *p, size_t n)
{
	unsigned long le = 0, be = 0, he = 0, ho = 0, lo_e = 0, lo_o = 0;

	if (n >= 2 && ((p[0] == 0xff && p[1] == 0xfe) || (p[0] == 0xfe && p[1] == 0xff)))
		return 0;
	for (size_t i = 0; i < n; i += 2) {
		unsigned a = p[i], b = i + 1 < n ? p[i + 1] : 0;

		he += a >> 4;
		ho += b >> 4;
		lo_e += a & 0xf;
		lo_o += b & 0xf;
		if (a == 0x20 && b == 0x00 && i + 1 < n)
			le++;
		if (a == 0x00 && b == 0x20 && i + 1 < n)
			be++;
	}
	if (he + lo_e > (ho + lo_o) * 4)
		le++;
	if ((ho + lo_o) * 4 > he + lo_e)
		be++;
	if (le > be)
		return 1;
	if (be > le)
		return 2;
	return 0;
}

static bool
cp1252_lookalike(const unsigned char *p, size_t n)
{
	/* only \x00-\x7f \xa0 \xa9 \xad \x82 \x84 \x85 \x91-\x97 \x99
	 * \xc0-\xd6 \xd8-\xde \xe0-\xf6 \xf8-\xfe */
	for (size_t i = 0; i < n; i++) {
		unsigned c = p[i];

		if (c < 0x80 || c == 0xa0 || c == 0xa9 || c == 0xad || c == 0x82 ||
		    c == 0x84 || c == 0x85 || (c >= 0x91 && c <= 0x97) || c == 0x99 ||
		    (c >= 0xc0 && c <= 0xd6) || (c >= 0xd8 && c <= 0xde) ||
		    (c >= 0xe0 && c <= 0xf6) || (c >= 0xf8 && c <= 0xfe))
			continue;
		return false;
	}
	return true;
}

bool
mime_normalize_unchanged(const char *data, size_t len, const char *charset, bool insist,
			 bool *utf8_r)
{
	const unsigned char *p = (const unsigned char *)data;
	bool ascii = true;

	for (size_t i = 0; i < len && ascii; i++)
		if (p[i] >= 0x80)
			ascii = false;
	/* ASCII in an ASCII-compatible charset, or valid UTF-8 unless the
	 * charset is insisted on: mime_normalize copies these as they are */
	if (ascii && (cs_is_ascii(charset) || cs_is_ext_ascii(charset))) {
		*utf8_r = false;
		return true;
	}
	if (!ascii && !insist && utf8_strict_valid(p, len)) {
		*utf8_r = true;
		return true;
	}
	return false;
}

bool
mime_normalize(const char *data, size_t len, const char *charset, bool insist,
	       struct mime_str *out)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t cnt8 = 0;
	bool tried_utf8, have = false, utf8;
	size_t start = out->len;

	if (mime_normalize_unchanged(data, len, charset, insist, &utf8)) {
		mime_str_add(out, data, len);
		return utf8;
	}
	for (size_t i = 0; i < len; i++)
		if (p[i] >= 0x80)
			cnt8++;
	/* mime_normalize_unchanged tried it as strict UTF-8 */
	tried_utf8 = cnt8 > 0 && !insist;
	if ((strcasecmp(charset, "ascii") == 0 || strcasecmp(charset, "us-ascii") == 0) &&
	    !insist) {
		/* no decoder attempt */
	} else if (strncasecmp(charset, "utf", 3) == 0 &&
		   (strncmp(charset + 3, "16", 2) == 0 ||
		    ((charset[3] == ' ' || charset[3] == '-') &&
		     strncmp(charset + 4, "16", 2) == 0))) {
		int e = detect_utf16(p, len);

		if (e != 0 && iconv_decode(e == 1 ? "UTF-16LE" : "UTF-16BE", data, len,
					   true, out) == 1)
			return true;
	} else {
		const char *name;
		bool none = false;
		bool is_w1252 = strcasecmp(charset, "iso-8859-1") == 0 ||
				strcasecmp(charset, "iso8859-1") == 0 ||
				strcasecmp(charset, "windows-1252") == 0 ||
				strcasecmp(charset, "cp1252") == 0;

		if (is_w1252) {
			if (cp1252_decode(p, len, !insist, out))
				return true;
		} else if (cs_is_utf8(charset)) {
			if (!tried_utf8) {
				if (insist) {
					/* decode without FB_CROAK: bad bytes -> U+FFFD */
					int r = iconv_decode("UTF-8", data, len, false, out);

					if (r == 1)
						return true;
				} else if (utf8_strict_valid(p, len)) {
					mime_str_add(out, data, len);
					return true;
				}
			}
		} else {
			name = cs_is_gb18030(charset) ? "GBK" : encode_name(charset, &none);
			if (!none && name != NULL && is_jis7(charset) && !insist) {
				/* Encode::JP::JIS7 with a check flag cuts the text
				 * at its first 8-bit byte and decodes the rest of
				 * it without complaint */
				size_t k = 0;

				while (k < len && p[k] < 0x80)
					k++;
				if (iconv_decode(name, data, k, false, out) == 1)
					have = true;
			} else if (!none && name != NULL) {
				int r = iconv_decode(name, data, len, !insist, out);

				if (r == 1)
					have = true;
			}
		}
	}
	if (have)
		return true;
	if (cnt8 == 0) {
		out->len = start;
		mime_str_add(out, data, len);
		return false;
	}
	if (cp1252_lookalike(p, len) && cp1252_decode(p, len, true, out))
		return true;
	cp1252_decode(p, len, false, out);
	return true;
}


void
mime_charset_init(void)
{
	g_mime_init();
}
