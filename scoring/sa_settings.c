/* sa_settings: defaults and NetSet handling for the settings the views
 * use.  NetSet semantics follow Mail::SpamAssassin::NetSet: entries are
 * checked in order and the first that matches decides; a "!" entry
 * excludes. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "compat.h"
#include "sa_settings.h"
#include "uri.h"
#include "xalloc.h"

void
sa_settings_init(struct sa_settings *set)
{
	memset(set, 0, sizeof(*set));
	set->tlds = strset_new();
	set->tlds_2 = strset_new();
	set->tlds_3 = strset_new();
	set->body_part_scan_size = 50000;
	set->rawbody_part_scan_size = 500000;
}

void
sa_settings_free(struct sa_settings *set)
{
	strset_free(&set->tlds);
	strset_free(&set->tlds_2);
	strset_free(&set->tlds_3);
	free(set->trusted_networks.entries);
	free(set->internal_networks.entries);
	free(set->msa_networks.entries);
	for (size_t i = 0; i < set->envelope_sender_header_count; i++)
		free(set->envelope_sender_headers[i]);
	free(set->envelope_sender_headers);
	uri_redirector_free(set);
	eval_freemail_conf_free(&set->freemail);
	eval_named_lists_free(&set->named_lists);
	eval_urihost_free(&set->urihost);
	eval_fromname_conf_free(&set->fromname);
	free(set->ok_languages);
	free(set->ok_locales);
	memset(set, 0, sizeof(*set));
}

/* "1.2." and "1.2" (SpamAssassin's partial IPv4 forms) mean 1.2.0.0/16. */
static int
sa_netset_partial_v4(const char *token, struct netaddr_net *net)
{
	unsigned int octets[4] = { 0, 0, 0, 0 };
	int n = 0;
	const char *p = token;

	while (*p != '\0' && n < 4) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);

		if (end == p || v > 255)
			return -1;
		octets[n++] = (unsigned int)v;
		if (*end == '\0')
			break;
		if (*end != '.')
			return -1;
		p = end + 1;
	}
	if (n == 0 || n >= 4)
		return -1;
	memset(net, 0, sizeof(*net));
	net->family = AF_INET;
	for (int i = 0; i < 4; i++)
		net->addr[i] = (unsigned char)octets[i];
	net->prefix = (unsigned int)n * 8;
	return 0;
}

int
sa_netset_add(struct sa_netset *set, const char *token, const char **why_r)
{
	struct sa_netset_entry e;
	char buf[128];

	memset(&e, 0, sizeof(e));
	if (token[0] == '!') {
		e.exclude = true;
		token++;
	}
	snprintf(buf, sizeof(buf), "%s", token);
	/* "[::1]/128" is accepted by SpamAssassin too. */
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (close != NULL) {
			memmove(close, close + 1, strlen(close));
			memmove(buf, buf + 1, strlen(buf));
		}
	}
	if (netaddr_parse_net(buf, &e.net, why_r) < 0 &&
	    (strchr(buf, '/') != NULL || sa_netset_partial_v4(buf, &e.net) < 0)) {
		*why_r = "bad network";
		return -1;
	}
	set->entries = xreallocarray(set->entries, set->count + 1, sizeof(*set->entries));
	set->entries[set->count++] = e;
	set->configured = true;
	return 0;
}

bool
sa_netset_contains(const struct sa_netset *set, const char *addr)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		return false;
	for (size_t i = 0; i < set->count; i++)
		if (netaddr_match(&set->entries[i].net, 1, (struct sockaddr *)&ss))
			return !set->entries[i].exclude;
	return false;
}

static int
sa_settings_add_words(struct strset *set, const char *value)
{
	const char *p = value;

	while (*p != '\0') {
		size_t len;
		char word[256];

		p += strspn(p, " \t");
		len = strcspn(p, " \t");
		if (len == 0)
			break;
		if (len < sizeof(word)) {
			for (size_t i = 0; i < len; i++)
				word[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
			strset_add(set, word, len);
		}
		p += len;
	}
	return 1;
}

static int
sa_settings_add_nets(struct sa_netset *set, const char *value, const char **why_r)
{
	char *copy = xstrdup(value), *tok, *save = NULL;
	int ret = 1;

	for (tok = strtok_r(copy, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save))
		if (sa_netset_add(set, tok, why_r) < 0) {
			ret = -1;
			break;
		}
	free(copy);
	return ret;
}

static int
sa_settings_size(size_t *out, const char *value, const char **why_r)
{
	char *end;
	unsigned long long v = strtoull(value, &end, 10);

	if (end == value || *end != '\0') {
		*why_r = "expected a number";
		return -1;
	}
	*out = (size_t)v;
	return 1;
}

int
sa_settings_apply(struct sa_settings *set, const char *key, const char *value,
		  const char **why_r)
{
	if (strncmp(key, "freemail_", 9) == 0 || strcmp(key, "enlist_addrlist") == 0)
		return eval_freemail_apply(set, key, value, why_r);
	if (eval_urihost_key(key))
		return eval_urihost_apply(&set->urihost, key, value, SIZE_MAX, why_r);
	if (strncmp(key, "fns_", 4) == 0)
		return eval_fromname_apply(set, key, value, why_r);
	if ((strcmp(key, "ok_languages") == 0 || strcmp(key, "ok_locales") == 0) &&
	    value[strspn(value, " \t\r\n\f\v")] == '\0') {
		/* Conf.pm refuses a string setting without a value, and the
		 * last good line stays */
		*why_r = "missing required value";
		return -1;
	}
	if (strcmp(key, "ok_languages") == 0) {
		free(set->ok_languages);
		set->ok_languages = xstrdup(value);
		return 1;
	}
	if (strcmp(key, "ok_locales") == 0) {
		free(set->ok_locales);
		set->ok_locales = xstrdup(value);
		return 1;
	}
	if (strcmp(key, "util_rb_tld") == 0)
		return sa_settings_add_words(set->tlds, value);
	if (strcmp(key, "util_rb_2tld") == 0)
		return sa_settings_add_words(set->tlds_2, value);
	if (strcmp(key, "util_rb_3tld") == 0)
		return sa_settings_add_words(set->tlds_3, value);
	if (strcmp(key, "trusted_networks") == 0)
		return sa_settings_add_nets(&set->trusted_networks, value, why_r);
	if (strcmp(key, "internal_networks") == 0)
		return sa_settings_add_nets(&set->internal_networks, value, why_r);
	if (strcmp(key, "msa_networks") == 0)
		return sa_settings_add_nets(&set->msa_networks, value, why_r);
	if (strcmp(key, "clear_trusted_networks") == 0) {
		free(set->trusted_networks.entries);
		memset(&set->trusted_networks, 0, sizeof(set->trusted_networks));
		return 1;
	}
	if (strcmp(key, "clear_internal_networks") == 0) {
		free(set->internal_networks.entries);
		memset(&set->internal_networks, 0, sizeof(set->internal_networks));
		return 1;
	}
	if (strcmp(key, "clear_msa_networks") == 0) {
		free(set->msa_networks.entries);
		memset(&set->msa_networks, 0, sizeof(set->msa_networks));
		return 1;
	}
	if (strcmp(key, "body_part_scan_size") == 0)
		return sa_settings_size(&set->body_part_scan_size, value, why_r);
	if (strcmp(key, "rawbody_part_scan_size") == 0)
		return sa_settings_size(&set->rawbody_part_scan_size, value, why_r);
	if (strcmp(key, "envelope_sender_header") == 0) {
		set->envelope_sender_headers = xreallocarray(set->envelope_sender_headers,
			set->envelope_sender_header_count + 1, sizeof(char *));
		set->envelope_sender_headers[set->envelope_sender_header_count++] =
			xstrdup(value);
		return 1;
	}
	if (strcmp(key, "redirector_pattern") == 0)
		return uri_redirector_add(set, value, why_r);
	if (strcmp(key, "clear_util_rb") == 0) {
		strset_free(&set->tlds);
		strset_free(&set->tlds_2);
		strset_free(&set->tlds_3);
		set->tlds = strset_new();
		set->tlds_2 = strset_new();
		set->tlds_3 = strset_new();
		return 1;
	}
	return 0;
}

/* ---- ok_locales (Locales.pm) ---- */

/* %charsets_for_locale, for the locales a word of ok_locales can name
 * (its first two letters: "zh.big5" is "zh"). */
static const struct {
	const char *locale;
	const char *charsets;
} sa_locale_charsets[] = {
	{ "ja", " EUCJP JISX020119760 JISX020819830 JISX020819900 JISX020819970 "
		"JISX021219900 JISX021320001 JISX021320002 SHIFT_JIS SHIFTJIS ISO2022JP "
		"SJIS JIS7 JISX0201 JISX0208 JISX0212 " },
	{ "ko", " EUCKR KSC56011987 " },
	{ "ru", " KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866 " },
	{ "ka", " KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866 " },
	{ "tg", " KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866 " },
	{ "be", " KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866 " },
	{ "uk", " KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866 " },
	{ "bg", " KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866 " },
	{ "th", " TIS620 " },
	{ "zh", " GB1988 GB2312 GB231219800 GB18030 GBK BIG5HKSCS BIG5 EUCTW ISO2022CN " },
};

static bool
sa_locale_word_is(const char *w, size_t n, const char *what)
{
	return n == strlen(what) && memcmp(w, what, n) == 0;
}

bool
sa_locales_all(const char *ok_locales)
{
	const char *p = ok_locales;

	if (p == NULL)
		return true;
	while (*p != '\0') {
		size_t n;

		p += strspn(p, " \t\r\n\f\v");
		n = strcspn(p, " \t\r\n\f\v");
		if (sa_locale_word_is(p, n, "all"))
			return true;
		p += n;
	}
	return false;
}

bool
sa_charset_ok(const char *ok_locales, const char *cs, size_t len)
{
	/* uc, s/[^A-Z0-9]//g, s/^3D// (broken by quoted-printable); the
	 * s/:.*$// that follows has no colon left to find */
	char c[64], key[68];
	size_t n = 0;
	const char *p;

	for (size_t i = 0; i < len && n < sizeof(c) - 1; i++) {
		char ch = cs[i];

		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		if ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
			c[n++] = ch;
	}
	c[n] = '\0';
	p = c;
	if (strncmp(p, "3D", 2) == 0)	/* once: ^ anchors s///g to the start */
		p += 2;
	if (strcmp(p, "USASCII") == 0 || strcmp(p, "ASCII") == 0 ||
	    strncmp(p, "ISO8859", 7) == 0 || strncmp(p, "ISO10646", 8) == 0 ||
	    strncmp(p, "UTF", 3) == 0 || strncmp(p, "UCS", 3) == 0 ||
	    strncmp(p, "CP125", 5) == 0 || strncmp(p, "WINDOWS", 7) == 0 ||
	    strcmp(p, "IBM852") == 0 || strncmp(p, "UNICODE11UTF7", 13) == 0 ||
	    strncmp(p, "UNICODE11UTF8", 13) == 0 || strcmp(p, "XUNKNOWN") == 0 ||
	    strcmp(p, "ISO") == 0)
		return true;
	/* a charset longer than any in the table matches none */
	if (n == sizeof(c) - 1)
		return false;
	snprintf(key, sizeof(key), " %s ", p);
	for (const char *w = ok_locales != NULL ? ok_locales : ""; *w != '\0';) {
		size_t wn;
		char loc[3] = "en";

		w += strspn(w, " \t\r\n\f\v");
		wn = strcspn(w, " \t\r\n\f\v");
		if (wn == 0)
			break;
		/* s/^([a-z][a-z]).*$/$1/; "C" is "en", which adds nothing
		 * to the always-allowed charsets */
		if (wn >= 2 && w[0] >= 'a' && w[0] <= 'z' && w[1] >= 'a' && w[1] <= 'z') {
			loc[0] = w[0];
			loc[1] = w[1];
		} else if (!sa_locale_word_is(w, wn, "C")) {
			w += wn;
			continue;
		}
		for (size_t i = 0; i < N_ELEMENTS(sa_locale_charsets); i++)
			if (strcmp(loc, sa_locale_charsets[i].locale) == 0 &&
			    strstr(sa_locale_charsets[i].charsets, key) != NULL)
				return true;
		w += wn;
	}
	return false;
}
