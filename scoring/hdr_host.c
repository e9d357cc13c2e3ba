/* hdr_host: what PerMsgStatus::_get's :host, :domain, :ip and :revip
 * modifiers do (its hostRE over the TLD list, RegistryBoundaries'
 * trim_domain, Util::reverse_ip_address), with Util::is_fqdn_valid and
 * Util::idn_to_ascii (libidn2, as Net::LibIDN2).  IP_ADDRESS is
 * Constants.pm's pattern under PCRE2. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <idn2.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "hdr.h"
#include "xalloc.h"

#define IPRE "(?:\\b(?<!:)(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\.(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\.(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\.(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\b" \
	"|(?:IPv6:|(?<![a-f0-9:]))(?:(?:(?:[a-f0-9]{1,4}:){6}|::(?:[a-f0-9]{1,4}:){0,5}|(?:[a-f0-9]{1,4}:){1,5}:|[a-f0-9]{1,4}::(?:[a-f0-9]{1,4}:){1,4}|(?:[a-f0-9]{1,4}:){2}:(?:[a-f0-9]{1,4}:){1,3}|(?:[a-f0-9]{1,4}:){3}:(?:[a-f0-9]{1,4}:){1,2}|(?:[a-f0-9]{1,4}:){4}:[a-f0-9]{1,4}:)" \
	"(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\.(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\.(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)\\.(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)" \
	"|(?:[a-f0-9]{1,4}:){7}[a-f0-9]{1,4}|:(?::[a-f0-9]{1,4}){1,7}|(?:[a-f0-9]{1,4}:){1,7}:|[a-f0-9]{1,4}:(?::[a-f0-9]{1,4}){1,6}|(?:[a-f0-9]{1,4}:){2}(?::[a-f0-9]{1,4}){1,5}|(?:[a-f0-9]{1,4}:){3}(?::[a-f0-9]{1,4}){1,4}|(?:[a-f0-9]{1,4}:){4}(?::[a-f0-9]{1,4}){1,3}|(?:[a-f0-9]{1,4}:){5}(?::[a-f0-9]{1,4}){1,2}|(?:[a-f0-9]{1,4}:){6}:[a-f0-9]{1,4}|::)(?![a-f0-9:]))"

static pcre2_code *re_ip;
static pcre2_match_data *ip_md;

void
hdr_host_init(void)
{
	int err;
	PCRE2_SIZE off;

	re_ip = pcre2_compile((PCRE2_SPTR) "(?<!\\.)\\b(" IPRE ")\\b(?!\\.)",
			      PCRE2_ZERO_TERMINATED, PCRE2_CASELESS, &err, &off, NULL);
	if (re_ip == NULL)
		abort();	/* a constant pattern: a bug, not input */
	(void)pcre2_jit_compile(re_ip, PCRE2_JIT_COMPLETE);
	ip_md = pcre2_match_data_create(8, NULL);
}

static bool
pspace(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

bool
hdr_is_fqdn_valid(const char *host, size_t len)
{
	char h[512];
	size_t n = 0;

	if (len > 400)
		return false;
	for (size_t i = 0; i < len; i++)
		h[n++] = (char)tolower((unsigned char)host[i]);
	while (n > 0 && h[n - 1] == '.')
		n--;
	h[n] = '\0';
	if (n > 253)
		return false;
	/* split(/\./): trailing empty fields were stripped above */
	size_t labels = 1;
	for (size_t i = 0; i < n; i++)
		if (h[i] == '.')
			labels++;
	if (n == 0 || labels < 2)
		return false;
	size_t cnt = labels, b = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && h[i] != '.')
			continue;
		size_t l = i - b;
		const char *p = h + b;

		if (l < 1 || l > 63)
			return false;
		for (size_t k = 0; k < l; k++) {
			char c = p[k];
			bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
				  (c == '-' && k > 0 && k < l - 1);

			if (!ok)
				return false;
		}
		if ((cnt == 2 || cnt == 1) && memchr(p, '_', l) != NULL)
			return false;
		cnt--;
		b = i + 1;
	}
	return true;
}

static bool
ldh(char c)
{
	return isalnum((unsigned char)c) || c == '-';
}

static bool
is_tld(const struct sa_settings *set, const char *p, size_t n)
{
	char buf[128];

	if (n == 0 || n >= sizeof(buf) || set == NULL || set->tlds == NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)tolower((unsigned char)p[i]);
	return strset_contains(set->tlds, buf, n);
}

/* hostRE anchored at s: (?<![._-])(\S{1,251}\.$tlds)(?![._-]) */
static bool
host_at(const struct sa_settings *set, const char *l, size_t n, size_t s, size_t *end_r)
{
	size_t run = 0;

	if (s > 0 && (l[s - 1] == '.' || l[s - 1] == '_' || l[s - 1] == '-'))
		return false;
	/* \S{1,251}: no need to look further than that */
	while (run < 252 && s + run < n && !pspace(l[s + run]))
		run++;
	if (run == 0)
		return false;
	for (size_t k = run < 251 ? run : 251; k >= 1; k--) {
		size_t dot = s + k;

		if (dot >= n || l[dot] != '.')
			continue;
		size_t t = dot + 1, e = t;

		while (e < n && ldh(l[e]))
			e++;
		if (e == t)
			continue;
		if (e < n && (l[e] == '.' || l[e] == '_'))
			continue;
		if (!is_tld(set, l + t, e - t))
			continue;
		*end_r = e;
		return true;
	}
	return false;
}

static bool
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3;
		else
			return false;
		if (i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
		/* is_valid_utf_8: no overlongs, surrogates or > U+10FFFF */
		if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f) ||
		    (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f))
			return false;
		i += k + 1;
	}
	return true;
}

void
hdr_idn_to_ascii(const char *s, size_t n, struct mime_str *out)
{
	static const char *const dots[] = {
		"\xe2\x80\xa4", "\xe3\x80\x82", "\xef\xbc\x8e", "\xef\xbd\xa1",
		"\xef\xb9\x92"
	};
	bool plain = true, latin1 = true;
	struct mime_str in = { 0 };
	char *ace = NULL;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(isalnum(c) || c == '_' || c == '.' || c == ':' || c == '[' || c == ']' ||
		      c == '-'))
			plain = false;
		if (!(isalnum(c) || c == '_' || c == '.' || c == '-' || (c >= 0xc0 && c <= 0xd6) ||
		      (c >= 0xd8 && c <= 0xde) || (c >= 0xe0 && c <= 0xf6) ||
		      (c >= 0xf8 && c <= 0xfe)))
			latin1 = false;
	}
	if (plain || !(utf8_valid((const unsigned char *)s, n) || latin1)) {
		/* all ASCII, or no charset detected: lowercased */
		for (size_t i = 0; i < n; i++)
			mime_str_addc(out, (char)tolower((unsigned char)s[i]));
		return;
	}
	mime_str_add(&in, "", 0);
	if (utf8_valid((const unsigned char *)s, n)) {
		for (size_t i = 0; i < n; i++) {
			size_t k;

			for (k = 0; k < N_ELEMENTS(dots); k++)
				if (i + 3 <= n && memcmp(s + i, dots[k], 3) == 0)
					break;
			if (k < N_ELEMENTS(dots)) {
				mime_str_addc(&in, '.');
				i += 2;
			} else {
				mime_str_addc(&in, s[i]);
			}
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c < 0x80) {
				mime_str_addc(&in, (char)c);
			} else {
				mime_str_addc(&in, (char)(0xc0 | (c >> 6)));
				mime_str_addc(&in, (char)(0x80 | (c & 0x3f)));
			}
		}
	}
	/* libidn2 stops at a NUL, as Net::LibIDN2 does */
	if (idn2_to_ascii_8z(in.p, &ace, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) == IDN2_OK)
		mime_str_add(out, ace, strlen(ace));
	else if (utf8_valid((const unsigned char *)s, n))
		mime_str_add(out, in.p, in.len);	/* dots mapped, case kept */
	else
		mime_str_add(out, s, n);
	idn2_free(ace);
	mime_str_free(&in);
}

/* is_fqdn_valid(idn_to_ascii($host), 1) */
bool
hdr_fqdn_valid_idn(const char *p, size_t n)
{
	struct mime_str a = { 0 };
	bool ok;

	mime_str_add(&a, "", 0);
	hdr_idn_to_ascii(p, n, &a);
	ok = hdr_is_fqdn_valid(a.p, a.len);
	mime_str_free(&a);
	return ok;
}

bool
hdr_find_host(const struct sa_settings *set, const char *line, size_t len,
	      bool from_addr, struct mime_str *out)
{
	if (from_addr) {
		/* /.*\@(\S+)/ on the first line with one */
		size_t b = 0;

		while (b < len) {
			size_t e = b;

			while (e < len && line[e] != '\n')
				e++;
			for (size_t at = e; at-- > b;) {
				if (line[at] != '@')
					continue;
				size_t h = at + 1, he = h;

				while (he < e && !pspace(line[he]))
					he++;
				if (he > h) {
					mime_str_add(out, line + h, he - h);
					return true;
				}
			}
			b = e + 1;
		}
		return false;
	}
	/* /.*\@$hostRE/: rightmost '@' per line, first line that works */
	{
		size_t b = 0;
		bool found = false;
		size_t hb = 0, hend = 0;

		while (b < len && !found) {
			size_t e = b;

			while (e < len && line[e] != '\n')
				e++;
			for (size_t at = e; at-- > b;) {
				size_t end;

				if (line[at] == '@' && host_at(set, line, len, at + 1, &end)) {
					hb = at + 1;
					hend = end;
					found = true;
					break;
				}
			}
			b = e + 1;
		}
		if (found && hdr_fqdn_valid_idn(line + hb, hend - hb)) {
			mime_str_add(out, line + hb, hend - hb);
			return true;
		}
	}
	/* while (/$hostRE/g) */
	for (size_t p = 0; p < len;) {
		size_t end;

		if (host_at(set, line, len, p, &end)) {
			if (hdr_fqdn_valid_idn(line + p, end - p)) {
				mime_str_add(out, line + p, end - p);
				return true;
			}
			p = end;
			continue;
		}
		p++;
	}
	return false;
}

static bool
us_state(const char *p, size_t n)
{
	static const char *const states =
		" ak al ar az ca co ct dc de fl ga gu hi ia id il in ks ky la ma md me mi"
		" mn mo ms mt nc nd ne nh nj nm nv ny oh ok or pa pr ri sc sd tn tx ut va"
		" vi vt wa wi wv wy ";
	char k[5];

	if (n != 2)
		return false;
	k[0] = ' ';
	k[1] = p[0];
	k[2] = p[1];
	k[3] = ' ';
	k[4] = '\0';
	return strstr(states, k) != NULL;
}

void
hdr_trim_domain(const struct sa_settings *set, const char *host, size_t len,
		struct mime_str *out)
{
	struct mime_str d = { 0 };
	size_t b = 0, e;

	mime_str_add(&d, "", 0);
	/* lc; tr/././s */
	for (size_t i = 0; i < len; i++) {
		char c = (char)tolower((unsigned char)host[i]);

		if (c == '.' && d.len > 0 && d.p[d.len - 1] == '.')
			continue;
		mime_str_addc(&d, c);
	}
	e = d.len;
	while (b < e && d.p[b] == '.')
		b++;
	while (e > b && d.p[e - 1] == '.')
		e--;
	if (e == b) {
		mime_str_free(&d);
		mime_str_add(out, "", 0);
		return;
	}
	/* labels */
	size_t starts[256], nl = 0;

	starts[nl++] = b;
	for (size_t i = b; i < e && nl < 255; i++)
		if (d.p[i] == '.')
			starts[nl++] = i + 1;
	size_t first = 0;	/* index of the first domain label */
	while (nl - first > 1) {
		size_t cnt = nl - first;
		const char *from = d.p + starts[first];
		size_t flen = e - starts[first];

		if (cnt == 2) {
			if (set != NULL && set->tlds_2 != NULL &&
			    strset_contains(set->tlds_2, from, flen))
				break;
		} else if (cnt == 3) {
			const char *l2 = d.p + starts[first + 2];
			size_t l2n = e - starts[first + 2];

			if (l2n == 2 && l2[0] == 'u' && l2[1] == 's') {
				const char *l1 = d.p + starts[first + 1];

				if (us_state(l1, starts[first + 2] - starts[first + 1] - 1))
					break;
			} else if (set != NULL && set->tlds_3 != NULL &&
				   strset_contains(set->tlds_3, from, flen)) {
				break;
			}
		} else if (cnt == 4) {
			const char *l0 = d.p + starts[first];
			size_t l0n = starts[first + 1] - starts[first] - 1;
			const char *l1 = d.p + starts[first + 1];
			size_t l1n = starts[first + 2] - starts[first + 1] - 1;
			const char *l2 = d.p + starts[first + 2];
			size_t l2n = starts[first + 3] - starts[first + 2] - 1;
			const char *l3 = d.p + starts[first + 3];
			size_t l3n = e - starts[first + 3];

			if (l3n == 2 && l3[0] == 'u' && l3[1] == 's' &&
			    ((l0n == 3 && memcmp(l0, "pvt", 3) == 0 && l1n == 3 &&
			      memcmp(l1, "k12", 3) == 0) ||
			     (l0n == 2 && l0[0] == 'c' && (l0[1] == 'i' || l0[1] == 'o'))) &&
			    us_state(l2, l2n))
				break;
		}
		first++;
	}
	if (first > 0)
		first--;
	mime_str_add(out, d.p + starts[first], e - starts[first]);
	mime_str_free(&d);
}

bool
hdr_find_ip(const char *line, size_t len, bool reverse, struct mime_str *out)
{
	int rc = pcre2_match(re_ip, (PCRE2_SPTR)line, len, 0, 0, ip_md, NULL);
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(ip_md);

	if (rc <= 0)
		return false;
	const char *ip = line + ov[2];
	size_t n = ov[3] - ov[2];

	if (!reverse) {
		mime_str_add(out, ip, n);
		return true;
	}
	char buf[128];

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, ip, n);
	buf[n] = '\0';
	unsigned a, b, c, d;
	char tail;

	if (sscanf(buf, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &tail) == 4 &&
	    strspn(buf, "0123456789.") == n) {
		char r[64];

		/* /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\z/: digits as written */
		const char *parts[4];
		size_t plen[4], k = 0;
		const char *p = buf;

		while (k < 4) {
			parts[k] = p;
			plen[k] = strcspn(p, ".");
			p += plen[k] + (p[plen[k]] == '.' ? 1 : 0);
			k++;
		}
		snprintf(r, sizeof(r), "%.*s.%.*s.%.*s.%.*s", (int)plen[3], parts[3],
			 (int)plen[2], parts[2], (int)plen[1], parts[1], (int)plen[0], parts[0]);
		mime_str_add(out, r, strlen(r));
		return true;
	}
	/* IPv6: nibbles of the full form, reversed (an "IPv6:" prefix in
	 * the match fails reverse_ip_address's syntax check) */
	const char *v6 = buf;

	if (strchr(v6, ':') == NULL || strspn(v6, "0123456789abcdefABCDEF:.") != strlen(v6))
		return false;
	unsigned char addr[16];

	if (inet_pton(AF_INET6, v6, addr) != 1)
		return false;
	char r[80];
	size_t o = 0;

	for (int i = 15; i >= 0; i--) {
		static const char hx[] = "0123456789abcdef";

		r[o++] = hx[addr[i] & 0xf];
		r[o++] = '.';
		r[o++] = hx[addr[i] >> 4];
		r[o++] = '.';
	}
	r[o - 1] = '\0';
	mime_str_add(out, r, o - 1);
	return true;
}
