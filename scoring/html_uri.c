/* html_uri: the URIs HTML.pm collects (href, src, background, action,
 * data-saferedirecturl, meta refresh, base) with its canon_uri and the
 * RFC 2396 resolution of target_uri against <base href>. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "html_int.h"
#include "xalloc.h"

void
html_add_uri_key(struct hp *hp, const char *u, size_t n)
{
	bool created;

	html_smap_find(&hp->uris, u, n, true, &created);
}

/* A NUL-terminated copy of p[0..n), which may hold NULs itself. */
static char *
dup_bytes(const char *p, size_t n)
{
	char *d = xmalloc(n + 1);

	if (n > 0)
		memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

/* canon_uri: trim [\s\xA0] at both ends, cap at MAX_URI_LENGTH (8192)
 * characters.  utf8: u is a character string (UTF-8), else bytes. */
char *
html_canon_uri(struct hp *hp, const char *u, size_t n, bool utf8, size_t *len_r)
{
	size_t b = 0, e = n, adv;

	if (!utf8) {
		while (b < e && ((unsigned char)u[b] == 0xa0 || is_ws_ascii(u[b])))
			b++;
		while (e > b && ((unsigned char)u[e - 1] == 0xa0 || is_ws_ascii(u[e - 1])))
			e--;
		if (e - b > 8192) {
			hp->r->uri_truncated = true;
			e = b + 8192;
		}
		*len_r = e - b;
		return dup_bytes(u + b, e - b);
	}
	while (b < e) {
		uint32_t c = get_utf8((const unsigned char *)u + b, e - b, &adv);

		if (!(c == 0xa0 || uni_space(c)))
			break;
		b += adv;
	}
	while (e > b) {
		size_t k = e - 1;

		while (k > b && ((unsigned char)u[k] & 0xc0) == 0x80)
			k--;
		uint32_t c = get_utf8((const unsigned char *)u + k, e - k, &adv);

		if (!(c == 0xa0 || uni_space(c)))
			break;
		e = k;
	}
	if (e - b > 8192) {
		size_t i = b, chars = 0;

		while (i < e && chars < 8192) {
			get_utf8((const unsigned char *)u + i, e - i, &adv);
			i += adv;
			chars++;
		}
		if (i < e) {
			hp->r->uri_truncated = true;
			e = i;
		}
	}
	*len_r = e - b;
	return dup_bytes(u + b, e - b);
}

/* ---- RFC 2396 resolution (HTML.pm target_uri) ---- */

struct puri {
	const char *scheme, *auth, *path, *query, *frag;
	size_t scheme_n, auth_n, path_n, query_n, frag_n;
};

/* ^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))? */
static void
parse_uri(const char *u, size_t n, struct puri *p)
{
	size_t i = 0;

	memset(p, 0, sizeof(*p));
	while (i < n && u[i] != ':' && u[i] != '/' && u[i] != '?' && u[i] != '#')
		i++;
	if (i > 0 && i < n && u[i] == ':') {
		p->scheme = u;
		p->scheme_n = i;
		u += i + 1;
		n -= i + 1;
	}
	i = 0;
	if (n >= 2 && u[0] == '/' && u[1] == '/') {
		i = 2;
		while (i < n && u[i] != '/' && u[i] != '?' && u[i] != '#')
			i++;
		p->auth = u + 2;
		p->auth_n = i - 2;
		u += i;
		n -= i;
	}
	i = 0;
	while (i < n && u[i] != '?' && u[i] != '#')
		i++;
	p->path = u;
	p->path_n = i;
	u += i;
	n -= i;
	if (n > 0 && u[0] == '?') {
		i = 1;
		while (i < n && u[i] != '#')
			i++;
		p->query = u + 1;
		p->query_n = i - 1;
		u += i;
		n -= i;
	}
	if (n > 0 && u[0] == '#') {
		/* (.*) stops at a newline */
		i = 1;
		while (i < n && u[i] != '\n')
			i++;
		p->frag = u + 1;
		p->frag_n = i - 1;
	}
}

static void
remove_dot_segments(const char *in, size_t n, struct mime_str *out)
{
	struct mime_str buf = { 0 };
	size_t i = 0;

	/* s@^(?:\.\.?/)@/@ */
	if (n >= 2 && in[0] == '.' && in[1] == '/') {
		mime_str_addc(&buf, '/');
		i = 2;
	} else if (n >= 3 && in[0] == '.' && in[1] == '.' && in[2] == '/') {
		mime_str_addc(&buf, '/');
		i = 3;
	}
	mime_str_add(&buf, in + i, n - i);
	out->len = 0;
	mime_str_add(out, "", 0);
	/* while ($input): a string "0" is false in Perl too */
	size_t pos = 0;
	const char *s = buf.p;
	size_t len = buf.len;

	while (pos < len && !(len - pos == 1 && s[pos] == '0')) {
		const char *c = s + pos;
		size_t rem = len - pos;

		if (rem >= 2 && c[0] == '/' && c[1] == '.' && (rem == 2 || c[2] == '/')) {
			/* s@^/\.(?:$|/)@/@ */
			pos += (rem == 2) ? 2 : 3;
			pos--;
			buf.p[pos] = '/';
		} else if (rem >= 3 && c[0] == '/' && c[1] == '.' && c[2] == '.' &&
			   (rem == 3 || c[3] == '/')) {
			pos += (rem == 3) ? 3 : 4;
			pos--;
			buf.p[pos] = '/';
			/* $output =~ s@/?[^/]*$@@ */
			size_t e = out->len;
			while (e > 0 && out->p[e - 1] != '/')
				e--;
			if (e > 0)
				e--;
			out->len = e;
			out->p[e] = '\0';
		} else {
			/* s@(/?[^/]*)@@ */
			size_t k = 0;

			if (c[0] == '/')
				k = 1;
			while (k < rem && c[k] != '/')
				k++;
			mime_str_add(out, c, k);
			pos += k;
			if (k == 0)
				break;
		}
	}
	mime_str_free(&buf);
}

static char *
target_uri(const char *base, size_t bn, const char *r, size_t rn, size_t *len_r)
{
	struct puri R, B;
	struct mime_str t_path = { 0 }, res = { 0 };
	const char *t_scheme = NULL, *t_auth = NULL, *t_query = NULL;
	size_t t_scheme_n = 0, t_auth_n = 0, t_query_n = 0;
	bool has_scheme, has_auth, has_query;

	parse_uri(r, rn, &R);
	parse_uri(base, bn, &B);
	if (R.scheme != NULL && B.scheme != NULL && R.scheme_n == B.scheme_n &&
	    memcmp(R.scheme, B.scheme, R.scheme_n) == 0)
		R.scheme = NULL;
	mime_str_add(&t_path, "", 0);
	if (R.scheme != NULL) {
		t_scheme = R.scheme;
		t_scheme_n = R.scheme_n;
		t_auth = R.auth;
		t_auth_n = R.auth_n;
		remove_dot_segments(R.path, R.path_n, &t_path);
		t_query = R.query;
		t_query_n = R.query_n;
	} else {
		if (R.auth != NULL) {
			t_auth = R.auth;
			t_auth_n = R.auth_n;
			remove_dot_segments(R.path, R.path_n, &t_path);
			t_query = R.query;
			t_query_n = R.query_n;
		} else {
			if (R.path_n == 0) {
				mime_str_add(&t_path, B.path, B.path_n);
				if (R.query != NULL) {
					t_query = R.query;
					t_query_n = R.query_n;
				} else {
					t_query = B.query;
					t_query_n = B.query_n;
				}
			} else {
				if (R.path[0] == '/') {
					remove_dot_segments(R.path, R.path_n, &t_path);
				} else {
					/* _merge_uri */
					struct mime_str m = { 0 };

					if (B.auth != NULL && B.path_n == 0) {
						mime_str_addc(&m, '/');
						mime_str_add(&m, R.path, R.path_n);
					} else {
						size_t k = B.path_n;

						if (memchr(B.path, '/', B.path_n) != NULL) {
							while (k > 0 && B.path[k - 1] != '/')
								k--;
						} else {
							k = 0;
						}
						mime_str_add(&m, B.path, k);
						mime_str_add(&m, R.path, R.path_n);
					}
					remove_dot_segments(m.p, m.len, &t_path);
					mime_str_free(&m);
				}
				t_query = R.query;
				t_query_n = R.query_n;
			}
			t_auth = B.auth;
			t_auth_n = B.auth_n;
		}
		t_scheme = B.scheme;
		t_scheme_n = B.scheme_n;
	}
	has_scheme = t_scheme != NULL && !(t_scheme_n == 1 && t_scheme[0] == '0');
	has_auth = t_auth != NULL;
	has_query = t_query != NULL;
	mime_str_add(&res, "", 0);
	if (has_scheme) {
		mime_str_add(&res, t_scheme, t_scheme_n);
		mime_str_addc(&res, ':');
	} else if (has_auth) {
		if (t_auth_n >= 4 && strncasecmp(t_auth, "www", 3) == 0) {
			size_t k = 3;
			while (k < t_auth_n && isdigit((unsigned char)t_auth[k]))
				k++;
			if (k < t_auth_n && t_auth[k] == '.')
				mime_str_add(&res, "http:", 5);
		} else if (t_auth_n >= 4 && strncasecmp(t_auth, "ftp", 3) == 0) {
			size_t k = 3;
			while (k < t_auth_n && isdigit((unsigned char)t_auth[k]))
				k++;
			if (k < t_auth_n && t_auth[k] == '.')
				mime_str_add(&res, "ftp:", 4);
		}
	}
	if (has_auth) {
		mime_str_add(&res, "//", 2);
		mime_str_add(&res, t_auth, t_auth_n);
	}
	mime_str_add(&res, t_path.p, t_path.len);
	if (has_query) {
		mime_str_addc(&res, '?');
		mime_str_add(&res, t_query, t_query_n);
	}
	if (R.frag != NULL) {
		mime_str_addc(&res, '#');
		mime_str_add(&res, R.frag, R.frag_n);
	}
	mime_str_free(&t_path);
	*len_r = res.len;
	return res.p;
}

/* Returns true when a uri_detail entry was made (a non-empty target). */
static bool
push_uri(struct hp *hp, const char *uri, size_t ulen, bool utf8)
{
	size_t n;
	char *u = html_canon_uri(hp, uri, ulen, utf8, &n);
	bool added = false;

	if (n == 0) {
		free(u);
		return false;
	}
	if ((strncasecmp(u, "data:", 5) == 0) || (strncasecmp(u, "mailto:", 7) == 0) ||
	    (strncasecmp(u, "file:", 5) == 0) || (strncasecmp(u, "cid:", 4) == 0) ||
	    (strncasecmp(u, "tel:", 4) == 0)) {
		html_add_uri_key(hp, u, n);
		added = true;
	} else {
		const char *base = hp->base_href != NULL ? hp->base_href : "";
		size_t tn;
		char *t = target_uri(base, hp->base_href != NULL ? hp->base_len : 0, u, n, &tn);

		if (tn > 0) {
			html_add_uri_key(hp, t, tn);
			added = true;
		}
		free(t);
	}
	free(u);
	return added;
}

void
html_pm_uri(struct hp *hp, const char *tag, struct attr *a, size_t n)
{
	if (!strcmp(tag, "body") || !strcmp(tag, "table") || !strcmp(tag, "tr") ||
	    !strcmp(tag, "td")) {
		const char *bg = attr_get(a, n, "background");

		if (bg != NULL)
			(void)push_uri(hp, bg, attr_len(a, n, "background"), attr_utf8(a, n, "background"));
	} else if (!strcmp(tag, "a") || !strcmp(tag, "area") || !strcmp(tag, "link") ||
		   !strcmp(tag, "img") || !strcmp(tag, "frame") || !strcmp(tag, "iframe") ||
		   !strcmp(tag, "embed") || !strcmp(tag, "script") || !strcmp(tag, "bgsound")) {
		bool is_href = tag[0] == 'a' || tag[0] == 'l';
		const char *key = is_href ? "href" : "src";
		const char *v;
		size_t vl;
		bool vu;

		/* bad formatted html: an attribute named like "\w{1,8}/href"
		 * becomes the href (html_tests sees the change too).  The
		 * first attribute named key is looked for once: one renamed
		 * to key becomes it when there was none, and one that ends
		 * up named "" was never it (its name held a '/'). */
		size_t h = 0;

		while (h < n && strcmp(a[h].name, key) != 0)
			h++;
		for (size_t i = 0; i < n; i++) {
			const char *sl = strstr(a[i].name, is_href ? "/href" : "/src");

			if (sl == NULL || sl == a[i].name || !ascii_alnum_us((unsigned char)sl[-1]))
				continue;
			if (h < n) {
				free(a[h].val);
				a[h].val = a[i].val;
				a[h].len = a[i].len;
				a[h].utf8 = a[i].utf8;
				a[i].val = xstrdup("");
				a[i].len = 0;
				free(a[i].name);
				a[i].name = xstrdup("");
			} else {
				free(a[i].name);
				a[i].name = xstrdup(key);
				h = i;
			}
		}
		for (size_t i = 0; is_href && i < n; i++) {
			/* s/\x{FEFF}//g on the attribute itself (html_tests reads
			 * it again for the anchor) */
			if (strcmp(a[i].name, "href") != 0)
				continue;
			size_t o = 0;

			for (size_t k = 0; k < a[i].len; k++) {
				if (k + 2 < a[i].len && (unsigned char)a[i].val[k] == 0xef &&
				    (unsigned char)a[i].val[k + 1] == 0xbb &&
				    (unsigned char)a[i].val[k + 2] == 0xbf) {
					k += 2;
					continue;
				}
				a[i].val[o++] = a[i].val[k];
			}
			a[i].val[o] = '\0';
			a[i].len = o;
		}
		v = attr_get(a, n, key);
		vl = attr_len(a, n, key);
		vu = attr_utf8(a, n, key);
		/* a uri_detail entry typed "iframe" (check_iframe_src) */
		if (v != NULL && push_uri(hp, v, vl, vu) && !strcmp(tag, "iframe"))
			hp->r->iframe_src = true;
		if (is_href) {
			const char *sr = attr_get(a, n, "data-saferedirecturl");

			if (sr != NULL)
				(void)push_uri(hp, sr, attr_len(a, n, "data-saferedirecturl"),
					 attr_utf8(a, n, "data-saferedirecturl"));
		}
	} else if (!strcmp(tag, "form")) {
		const char *act = attr_get(a, n, "action");

		if (act != NULL)
			(void)push_uri(hp, act, attr_len(a, n, "action"), attr_utf8(a, n, "action"));
	} else if (!strcmp(tag, "base")) {
		const char *href = attr_get(a, n, "href");

		if (href != NULL && *href != '\0' && strcmp(href, "0") != 0) {
			bool hu = attr_utf8(a, n, "href");
			size_t ul;
			char *u = html_canon_uri(hp, href, attr_len(a, n, "href"), hu, &ul);

			(void)push_uri(hp, u, ul, hu);
			/* m@^(?:https?|ftp):/{0,2}@i */
			if (strncasecmp(u, "http:", 5) == 0 || strncasecmp(u, "https:", 6) == 0 ||
			    strncasecmp(u, "ftp:", 4) == 0) {
				/* s@^([a-z]+:/{0,2}[^/]+/.*?)[^/\.]+\.[^/\.]{2,4}$@$1@i */
				size_t len = strlen(u), i = 0;

				while (i < len && isalpha((unsigned char)u[i]))
					i++;
				if (i < len && u[i] == ':') {
					size_t j = i + 1, k;

					for (k = 0; k < 2 && j < len && u[j] == '/'; k++)
						j++;
					/* [^/]+/ then lazily up to a final file name */
					size_t h = j;
					while (h < len && u[h] != '/')
						h++;
					if (h > j && h < len && memchr(u, '\n', len) == NULL) {
						/* find the last '/', then check file.ext */
						size_t last = len;
						while (last > h && u[last - 1] != '/')
							last--;
						/* file part u[last..len): [^/.]+\.[^/.]{2,4} */
						const char *f = u + last;
						const char *dot = strrchr(f, '.');
						if (dot != NULL && dot > f) {
							size_t extn = strlen(dot + 1);
							bool okf = extn >= 2 && extn <= 4;
							for (const char *q = f; q < dot; q++)
								if (*q == '.' || *q == '/')
									okf = false;
							if (okf)
								u[last] = '\0';
						}
					}
				}
				size_t bl = strlen(u);
				char *nb = xmalloc(bl + 2);
				memcpy(nb, u, bl);
				if (bl == 0 || u[bl - 1] != '/')
					nb[bl++] = '/';
				nb[bl] = '\0';
				free(hp->base_href);
				hp->base_href = nb;
				hp->base_len = bl;
			}
			free(u);
		}
	} else if (!strcmp(tag, "meta")) {
		const char *he = attr_get(a, n, "http-equiv"), *ct = attr_get(a, n, "content");

		if (he != NULL && ct != NULL && strcasestr(he, "refresh") != NULL) {
			/* \burl\s*= */
			const char *m = NULL;

			for (const char *q = ct; (q = strcasestr(q, "url")) != NULL; q++) {
				if (q > ct && ascii_alnum_us((unsigned char)q[-1]))
					continue;
				const char *e = q + 3;
				while (is_ws_ascii(*e))
					e++;
				if (*e == '=') {
					m = q;
					break;
				}
			}
			if (m != NULL) {
				/* s/^.*\burl\s*=\s* //i (greedy: the last one on the first line) */
				const char *last = m, *q = m;

				while ((q = strcasestr(q + 1, "url")) != NULL) {
					if (memchr(ct, '\n', (size_t)(q - ct)) != NULL)
						break;
					if (ascii_alnum_us((unsigned char)q[-1]))
						continue;
					const char *e = q + 3;
					while (is_ws_ascii(*e))
						e++;
					if (*e == '=')
						last = q;
				}
				const char *v = last + 3;
				while (is_ws_ascii(*v))
					v++;
				v++;
				while (is_ws_ascii(*v))
					v++;
				size_t vl = strlen(v);
				/* s/\s*;.* //i */
				const char *semi = strchr(v, ';');
				if (semi != NULL) {
					const char *e = semi;
					while (e > v && is_ws_ascii(e[-1]))
						e--;
					/* ".*" stops at a newline */
					const char *nl = strchr(semi, '\n');
					struct mime_str t = { 0 };
					mime_str_add(&t, v, (size_t)(e - v));
					if (nl != NULL)
						mime_str_add(&t, nl, strlen(nl));
					(void)push_uri(hp, t.p, t.len, attr_utf8(a, n, "content"));
					mime_str_free(&t);
				} else {
					(void)push_uri(hp, v, vl, attr_utf8(a, n, "content"));
				}
			}
		}
	}
}
