/* utf8: the one UTF-8 validity check of addresses, parameters and log
 * values (RFC 3629: no overlongs, surrogates or code points past U+10FFFF). */
#include "config.h"

#include "utf8.h"

size_t
utf8_decode(const unsigned char *s, size_t left, uint32_t *cp_r)
{
	size_t n, i;
	uint32_t cp;

	if (left == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	if (n > left)
		return 0;
	cp = s[0] & (0x3f >> (n - 1));
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

bool
utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(s + i, len - i, &cp);

		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

bool
utf8_cp_disorders(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	       cp == 0x200e || cp == 0x200f || cp == 0x061c ||
	       /* shown as nothing, with no part in any script or emoji
		* sequence (unlike ZWJ and ZWNJ) */
	       cp == 0x00ad || cp == 0x200b || (cp >= 0x2060 && cp <= 0x2064) ||
	       cp == 0xfeff || cp == 0x180e || (cp >= 0xfff9 && cp <= 0xfffb);
}

bool
utf8_has_disorder(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(s + i, len - i, &cp);

		if (n == 0)
			n = 1;
		else if (utf8_cp_disorders(cp))
			return true;
		i += n;
	}
	return false;
}
