/* msgview: the views SpamAssassin rules look at, built lazily from one
 * parse of the message (mime.c) and cached for every recipient's scoring.
 *
 *   header   PerMsgStatus::_get/get with every modifier and pseudo-header,
 *            joined as Check.pm's do_head_tests joins the list (one get
 *            result per request string is cached)
 *   body     Message::get_rendered_body_text_array: Subject, then every
 *            leaf's Node::rendered text cut at body_part_scan_size, the
 *            paragraph/whitespace squeeze (\s with Perl's Unicode meaning
 *            when any part was decoded to characters), lines of at most
 *            2048 bytes
 *   visible, invisible
 *            the same made of each HTML part's visible (plain parts: all)
 *            or invisible text, the latter without Subject
 *            (get_visible_/get_invisible_rendered_body_text_array, for
 *            Bayes); built only for a message with invisible text
 *   rawbody  Message::get_decoded_body_text_array
 *   uri      uri_collect() over the body and the URIs HTML.pm found
 *
 * Inbound X-Spam-* headers are invisible to header rules, as check()
 * deletes them; the MAIL FROM given to msgview_new() is seen as the
 * Return-Path header an MTA prepends at final delivery. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "hdr.h"
#include "html.h"
#include "mime.h"
#include "msgview.h"
#include "msgview_int.h"
#include "received.h"
#include "strset.h"
#include "uri.h"
#include "xalloc.h"

/* One cached get(): the values as SpamAssassin's get() returns them. */
struct gcache {
	char *request;
	uint32_t hash;		/* str_hash_fnv of request */
	struct strlist vals;
};

struct msgview {
	const struct sa_settings *set;
	const char *data;
	size_t len;
	char *envfrom;
	struct mime_msg *msg;
	bool relays_done;
	struct relays relays;
	bool body_done, raw_done, uris_done, uri_truncated;
	struct strlist body, rawbody, uris, html_uris, uri_hosts;
	/* Bayes' sources; visible is body itself without invisible text */
	bool visible_done, invisible_done, has_invisible;
	struct strlist visible, invisible;
	struct gcache *cache;
	size_t ncache, cache_cap;
	/* cache index + 1 by hash (open addressing, 0 empty); cache_slot_cap
	 * is a power of two over twice ncache */
	uint32_t *cache_slots;
	size_t cache_slot_cap;
	bool envf_done, envf_defined;
	char *envf;
	/* ALL:raw: its fields one after the other, as joined; in the
	 * message itself when they lie there so (pristine_own NULL) */
	bool pristine_done;
	const char *pristine;
	size_t pristine_len;
	char *pristine_own;
	const struct html_result **html;	/* html_all */
	size_t nhtml;
};

static pcre2_code *re_pristine;
static pcre2_match_data *mv_md;

void
msgview_global_init(void)
{
	static bool done;
	int err;
	PCRE2_SIZE off;

	if (done)
		return;
	done = true;
	str_hash_init();
	mime_global_init();
	re_pristine = pcre2_compile((PCRE2_SPTR) "^([^ \\t].*?\\n)(?![ \\t])",
				    PCRE2_ZERO_TERMINATED,
				    PCRE2_MULTILINE | PCRE2_DOTALL | PCRE2_CASELESS, &err, &off,
				    NULL);
	if (re_pristine == NULL)
		abort();
	(void)pcre2_jit_compile(re_pristine, PCRE2_JIT_COMPLETE);
	mv_md = pcre2_match_data_create(4, NULL);
}

struct msgview *
msgview_new(const struct sa_settings *settings, const char *data, size_t len,
	    const char *envelope_from)
{
	struct msgview *mv = xcalloc(1, sizeof(*mv));

	msgview_global_init();
	mv->set = settings;
	mv->data = data;
	mv->len = len;
	if (envelope_from != NULL)
		mv->envfrom = xstrdup(envelope_from);
	strlist_init(&mv->body);
	strlist_init(&mv->rawbody);
	strlist_init(&mv->visible);
	strlist_init(&mv->invisible);
	strlist_init(&mv->uris);
	strlist_init(&mv->uri_hosts);
	strlist_init(&mv->html_uris);
	return mv;
}

void
msgview_free(struct msgview **mvp)
{
	struct msgview *mv = *mvp;

	if (mv == NULL)
		return;
	mime_free(&mv->msg);
	if (mv->relays_done)
		relays_free(&mv->relays);
	strlist_free(&mv->body);
	strlist_free(&mv->rawbody);
	strlist_free(&mv->visible);
	strlist_free(&mv->invisible);
	strlist_free(&mv->uris);
	strlist_free(&mv->uri_hosts);
	strlist_free(&mv->html_uris);
	free(mv->pristine_own);
	for (size_t i = 0; i < mv->ncache; i++) {
		free(mv->cache[i].request);
		strlist_free(&mv->cache[i].vals);
	}
	free(mv->cache);
	free(mv->cache_slots);
	free(mv->html);
	free(mv->envf);
	free(mv->envfrom);
	free(mv);
	*mvp = NULL;
}

static struct mime_msg *
mv_msg(struct msgview *mv)
{
	if (mv->msg == NULL) {
		mv->msg = mime_parse(mv->data, mv->len);
		if (mv->envfrom != NULL) {
			char *raw = xasprintf(" <%s>\n", mv->envfrom);

			mime_prepend_header(mv->msg, mv->msg->root, "Return-Path", raw);
			free(raw);
		}
	}
	return mv->msg;
}

/* ---- small helpers ---- */

static void
sl_add_str(struct strlist *l, const struct mime_str *s)
{
	strlist_add(l, s->p != NULL ? s->p : "", s->len);
}

/* Node::get_header($name, $raw) in list context, appended to vals. */
static void
get_header_list(struct msgview *mv, struct mime_node *node, const char *lname,
		bool raw, struct strlist *vals)
{
	struct mime_msg *msg = mv_msg(mv);
	size_t pos = 0;
	struct mime_hdr *h;

	if (raw) {
		/* raw_header() trims the key */
		char key[512];
		size_t b = 0, e = strlen(lname);

		while (b < e && isspace((unsigned char)lname[b]))
			b++;
		while (e > b && isspace((unsigned char)lname[e - 1]))
			e--;
		if (e - b >= sizeof(key))
			return;
		memcpy(key, lname + b, e - b);
		key[e - b] = '\0';
		while ((h = mime_hdr_next(node, key, &pos)) != NULL) {
			struct mime_str s = { 0 };
			const char *r = h->raw;
			size_t rl = h->raw_len;

			/* s/\015?\012\s+/ /gs */
			mime_str_add(&s, "", 0);
			for (size_t k = 0; k < rl; k++) {
				if (r[k] == '\n' || (r[k] == '\r' && k + 1 < rl && r[k + 1] == '\n')) {
					size_t m = r[k] == '\r' ? k + 2 : k + 1;

					if (m < rl && isspace((unsigned char)r[m])) {
						while (m < rl && isspace((unsigned char)r[m]))
							m++;
						mime_str_addc(&s, ' ');
						k = m - 1;
						continue;
					}
				}
				mime_str_addc(&s, r[k]);
			}
			sl_add_str(vals, &s);
			mime_str_free(&s);
		}
		return;
	}
	while ((h = mime_hdr_next(node, lname, &pos)) != NULL) {
		size_t dl;
		const char *d = mime_hdr_decoded(msg, h, &dl);
		char *v = xmalloc(dl + 2);

		memcpy(v, d, dl);
		v[dl] = '\n';
		v[dl + 1] = '\0';
		strlist_add_owned(vals, v, dl + 1);
	}
}

/* Node::raw_header in list context: raw values, folds kept. */
static void
raw_header_list(struct msgview *mv, const char *lname, struct strlist *vals)
{
	struct mime_node *root = mv_msg(mv)->root;
	char key[512];
	size_t b = 0, e = strlen(lname), pos = 0;
	struct mime_hdr *h;

	while (b < e && isspace((unsigned char)lname[b]))
		b++;
	while (e > b && isspace((unsigned char)lname[e - 1]))
		e--;
	if (e - b >= sizeof(key))
		return;
	memcpy(key, lname + b, e - b);
	key[e - b] = '\0';
	while ((h = mime_hdr_next(root, key, &pos)) != NULL)
		strlist_add(vals, h->raw, h->raw_len);
}

static char *
lower_dup(const char *s)
{
	char *l = xstrdup(s);

	for (char *p = l; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return l;
}

/* ---- relays ---- */

const struct relays *
msgview_relays(struct msgview *mv)
{
	if (!mv->relays_done) {
		struct strlist rcv;
		struct mime_node *root = mv_msg(mv)->root;

		strlist_init(&rcv);
		get_header_list(mv, root, "received", false, &rcv);
		for (size_t i = 0; received_originating_ip_headers_default[i] != NULL; i++) {
			char *l = lower_dup(received_originating_ip_headers_default[i]);
			struct mime_hdr *h = mime_hdr_last(root, l);

			if (h != NULL) {
				size_t dl;
				const char *d = mime_hdr_decoded(mv->msg, h, &dl);
				char *v = xmalloc(dl + 2);

				memcpy(v, d, dl);
				v[dl] = '\n';
				v[dl + 1] = '\0';
				received_add_originating(&rcv, v, dl + 1);
				free(v);
			}
			free(l);
		}
		received_parse(mv->set, &rcv, &mv->relays);
		strlist_free(&rcv);
		mv->relays_done = true;
	}
	return &mv->relays;
}

/* ---- pristine header fields (ALL:raw) ---- */

/* The pristine header fields, SpamAssassin's
 * /^([^ \t].*?\n)(?![ \t])/msgi matches over the header section (after
 * the Return-Path line of the MAIL FROM), as one text: each field ends
 * at its first newline not followed by a blank, so the text splits back
 * into them (pristine_field_len).  A list of them, a malloc each, was
 * 96 MB for two million "To:" lines; the text is the message's own
 * bytes unless a Return-Path is put in front (or a field does not
 * follow the one before, which this regex does not leave). */
static void
pristine_fields(struct msgview *mv, const char **p_r, size_t *len_r)
{
	if (!mv->pristine_done) {
		struct mime_msg *msg = mv_msg(mv);
		struct mime_str ph = { 0 };
		const char *src = msg->pristine_headers;
		size_t len = msg->pristine_headers_len, pos = 0, start = 0, end = 0;
		bool any = false, joined = true;

		mv->pristine_done = true;
		if (mv->envfrom != NULL) {
			char *rp = xasprintf("Return-Path: <%s>\n", mv->envfrom);

			mime_str_add(&ph, rp, strlen(rp));
			free(rp);
			mime_str_add(&ph, src, len);
			src = ph.p;
			len = ph.len;
		}
		while (pos < len) {
			int rc = pcre2_match(re_pristine, (PCRE2_SPTR)src, len, pos, 0, mv_md, NULL);

			if (rc <= 0)
				break;
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(mv_md);

			if (!any)
				start = ov[2];
			else if (ov[2] != end)
				joined = false;
			any = true;
			end = ov[3];
			pos = ov[1] > pos ? ov[1] : pos + 1;
		}
		if (!any) {
			mv->pristine = "";
		} else if (joined && src == ph.p) {
			mv->pristine_own = ph.p;
			ph.p = NULL;
			mv->pristine = mv->pristine_own + start;
			mv->pristine_len = end - start;
		} else if (joined) {
			mv->pristine = src + start;
			mv->pristine_len = end - start;
		} else {
			struct mime_str t = { 0 };

			mime_str_add(&t, "", 0);
			for (pos = 0; pos < len;) {
				int rc = pcre2_match(re_pristine, (PCRE2_SPTR)src, len, pos, 0, mv_md,
						     NULL);

				if (rc <= 0)
					break;
				PCRE2_SIZE *ov = pcre2_get_ovector_pointer(mv_md);

				mime_str_add(&t, src + ov[2], ov[3] - ov[2]);
				pos = ov[1] > pos ? ov[1] : pos + 1;
			}
			mv->pristine_own = t.p;
			mv->pristine = t.p;
			mv->pristine_len = t.len;
		}
		mime_str_free(&ph);
	}
	*p_r = mv->pristine;
	*len_r = mv->pristine_len;
}

/* The length of the pristine field p starts with (the text of
 * pristine_fields() from a field on, len > 0): up to its first newline,
 * past its first byte, that is not followed by a blank. */
static size_t
pristine_field_len(const char *p, size_t len)
{
	for (size_t i = 1; i < len; i++)
		if (p[i] == '\n' && (i + 1 == len || (p[i + 1] != ' ' && p[i + 1] != '\t')))
			return i + 1;
	return len;
}

/* get_all_hdrs_in_rcvd_index_range(start, end, 1, 1, raw) */
static void
hdrs_in_range(struct msgview *mv, long start, long end, bool has_start, bool has_end,
	      bool raw, struct strlist *out)
{
	struct strlist lines;
	long cur = -1;

	if (has_end && end < 0)
		return;
	strlist_init(&lines);
	if (raw) {
		const char *p;
		size_t len, b = 0;

		pristine_fields(mv, &p, &len);
		while (b < len) {
			size_t n = pristine_field_len(p + b, len - b);

			strlist_add(&lines, p + b, n);
			b += n;
		}
	} else {
		struct mime_str all = { 0 };
		size_t b = 0;

		mime_all_headers(mv_msg(mv), mv->msg->root, false, &all);
		while (b < all.len) {
			const char *nl = memchr(all.p + b, '\n', all.len - b);
			size_t e = nl != NULL ? (size_t)(nl - all.p) + 1 : all.len;

			strlist_add(&lines, all.p + b, e - b);
			b = e;
		}
		mime_str_free(&all);
	}
	for (size_t i = 0; i < lines.n; i++) {
		const char *h = lines.v[i].p;

		if (lines.v[i].len >= 9 && strncasecmp(h, "received:", 9) == 0)
			cur++;
		if ((!has_start || start <= cur) && (!has_end || cur < end)) {
			strlist_add(out, h, lines.v[i].len);
		} else if (has_end && cur == end) {
			strlist_add(out, h, lines.v[i].len);
			break;
		}
	}
	strlist_free(&lines);
}

/* ---- EnvelopeFrom ---- */

static const struct strlist *get_list(struct msgview *mv, const char *request);

static bool
first_value(struct msgview *mv, const char *req, const char **v)
{
	const struct strlist *l = get_list(mv, req);

	if (l->n == 0)
		return false;
	*v = l->v[0].p;
	return true;
}

static bool
ok_envf(const char *v)
{
	const char *at = strchr(v, '@');

	return *v == '\0' || (at != NULL && at > v);
}

/* get("ALL") =~ /^Received:.*?^NAME:/smi */
static bool
received_before(struct msgview *mv, const char *name)
{
	const struct strlist *all = get_list(mv, "ALL");
	bool seen = false;
	size_t nl = strlen(name);

	for (size_t i = 0; i < all->n; i++) {
		const char *p = all->v[i].p, *e = p + all->v[i].len;

		/* every line start inside the value counts (/m) */
		for (const char *q = p; q < e;) {
			if (seen && (size_t)(e - q) >= nl && strncasecmp(q, name, nl) == 0)
				return true;
			if ((size_t)(e - q) >= 9 && strncasecmp(q, "received:", 9) == 0)
				seen = true;
			const char *n = memchr(q, '\n', (size_t)(e - q));

			if (n == NULL)
				break;
			q = n + 1;
		}
	}
	return false;
}

static void
envelope_from(struct msgview *mv)
{
	const char *v;

	if (mv->envf_done)
		return;
	mv->envf_done = true;
	if (mv->set != NULL && mv->set->envelope_sender_header_count > 0) {
		const char *h = mv->set->envelope_sender_headers[mv->set->envelope_sender_header_count - 1];
		char *req = xasprintf("%s:first:addr", h);

		if (first_value(mv, req, &v) && ok_envf(v)) {
			mv->envf = xstrdup(v);
			mv->envf_defined = true;
		}
		free(req);
		return;
	}
	const struct relays *r = msgview_relays(mv);
	const struct relay *last = NULL;

	if (r->n > r->num_trusted)
		last = &r->v[r->num_trusted];
	else if (r->num_trusted > 0)
		last = &r->v[r->num_trusted - 1];
	/* received.c keeps "" for an absent envfrom; SpamAssassin never
	 * records an empty one there, so "" reads as undef */
	if (last != NULL && last->envfrom != NULL && *last->envfrom != '\0' &&
	    ok_envf(last->envfrom)) {
		mv->envf = xstrdup(last->envfrom);
		mv->envf_defined = true;
		return;
	}
	if (first_value(mv, "X-Sender:first:addr", &v) && strchr(v, '@') != NULL) {
		const struct strlist *rc = get_list(mv, "Received");

		for (size_t i = 0; i < rc->n; i++)
			if (strstr(rc->v[i].p, "(fetchmail") != NULL)
				return;
	}
	if (first_value(mv, "X-Envelope-From:first:addr", &v)) {
		if (received_before(mv, "x-envelope-from:"))
			return;
		mv->envf = xstrdup(v);
		mv->envf_defined = true;
		return;
	}
	if (first_value(mv, "Envelope-Sender:first:addr", &v) &&
	    !received_before(mv, "envelope-sender:")) {
		mv->envf = xstrdup(v);
		mv->envf_defined = true;
		return;
	}
	if (first_value(mv, "Return-Path:first:addr", &v) &&
	    !received_before(mv, "return-path:")) {
		mv->envf = xstrdup(v);
		mv->envf_defined = true;
		return;
	}
}

/* ---- _get ---- */

/* Addresses (or names) one :addr or :name request gives at most.  Each
 * costs a parse, a few copies and the evals' work after it: a 25 MB
 * message of 4 M To: addresses took 8.6 s and 1.1 GB before this bound,
 * outside the scorer's time limit.  No message written for people lists
 * that many; past it the later fields are not read. */
#define MSGVIEW_ADDRESSES_MAX	10000


static bool
ieq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

static void
name_values(struct msgview *mv, const char *request, bool getraw,
	    const struct strlist *in, struct strlist *out)
{
	for (size_t i = 0; i < in->n && out->n < MSGVIEW_ADDRESSES_MAX; i++) {
		struct hdr_addr *a;
		size_t n = hdr_parse_addresses(in->v[i].p, in->v[i].len, &a);

		for (size_t k = 0; k < n && out->n < MSGVIEW_ADDRESSES_MAX; k++) {
			if (a[k].phrase == NULL)
				continue;
			if (getraw) {
				strlist_add(out, a[k].phrase, strlen(a[k].phrase));
				continue;
			}
			struct mime_str d = { 0 };
			char *lname = xasprintf("pms:get:%s", request);

			for (char *p = lname; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			mime_str_add(&d, "", 0);
			hdr_decode_field(a[k].phrase, strlen(a[k].phrase), lname, &d);
			free(lname);
			bool nonspace = false;

			for (size_t j = 0; j < d.len; j++)
				if (!isspace((unsigned char)d.p[j]))
					nonspace = true;
			if (nonspace) {
				struct mime_str t = { 0 };
				size_t j = 0;

				mime_str_add(&t, "", 0);
				while (j < d.len) {
					if (isspace((unsigned char)d.p[j])) {
						while (j < d.len && isspace((unsigned char)d.p[j]))
							j++;
						mime_str_addc(&t, ' ');
						continue;
					}
					mime_str_addc(&t, d.p[j++]);
				}
				size_t b = 0, e = t.len;

				if (b < e && t.p[b] == ' ')
					b++;
				if (e > b && t.p[e - 1] == ' ')
					e--;
				/* s/^'(.*?)'$/$1/ */
				if (e - b >= 2 && t.p[b] == '\'' && t.p[e - 1] == '\'' &&
				    memchr(t.p + b, '\n', e - b) == NULL) {
					b++;
					e--;
				}
				strlist_add(out, t.p + b, e - b);
				mime_str_free(&t);
			} else {
				strlist_add(out, d.p, d.len);
			}
			mime_str_free(&d);
		}
		hdr_addrs_free(a, n);
	}
	(void)mv;
}

/* PerMsgStatus::_get: fills vals with the (defined) results. */
static void
do_get(struct msgview *mv, const char *request_in, struct strlist *vals)
{
	bool getaddr = false, getname = false, getraw = false, needraw = false;
	bool gethost = false, getdomain = false, getip = false, getrevip = false;
	bool getfirst = false, getlast = false;
	char *request = xstrdup(request_in);
	struct strlist res;
	struct mime_node *root = mv_msg(mv)->root;

	/* while ($request =~ s/:([^:]*)//) */
	for (char *c; (c = strchr(request, ':')) != NULL;) {
		char *e = strchr(c + 1, ':');
		size_t n = e != NULL ? (size_t)(e - c - 1) : strlen(c + 1);
		const char *m = c + 1;

		if (n == 3 && !strncmp(m, "raw", 3))
			getraw = true;
		else if (n == 4 && !strncmp(m, "addr", 4))
			getaddr = needraw = true;
		else if (n == 4 && !strncmp(m, "name", 4))
			getname = needraw = true;
		else if (n == 4 && !strncmp(m, "host", 4))
			gethost = true;
		else if (n == 6 && !strncmp(m, "domain", 6))
			gethost = getdomain = true;
		else if (n == 2 && !strncmp(m, "ip", 2))
			getip = true;
		else if (n == 5 && !strncmp(m, "revip", 5))
			getip = getrevip = true;
		else if (n == 5 && !strncmp(m, "first", 5))
			getfirst = true;
		else if (n == 4 && !strncmp(m, "last", 4))
			getlast = true;
		memmove(c, c + 1 + n, strlen(c + 1 + n) + 1);
	}
	strlist_init(&res);
	if (strcmp(request, "ALL") == 0) {
		if (getraw) {
			const char *p;
			size_t len, b = 0;

			pristine_fields(mv, &p, &len);
			while (b < len) {
				size_t n = pristine_field_len(p + b, len - b);

				strlist_add(vals, p + b, n);
				b += n;
			}
		} else {
			struct mime_str all = { 0 };
			size_t b = 0;

			/* get_all_headers(0) in list context: one per header */
			mime_all_headers(mv->msg, root, false, &all);
			while (b < all.len) {
				/* each element is "Name: value\n"; a decoded value
				 * may hold more newlines, so split on the header
				 * boundaries the way the list was built */
				const char *nl = memchr(all.p + b, '\n', all.len - b);
				size_t e = nl != NULL ? (size_t)(nl - all.p) + 1 : all.len;

				strlist_add(vals, all.p + b, e - b);
				b = e;
			}
			mime_str_free(&all);
		}
		goto done;
	}
	if (strcmp(request, "ALL-TRUSTED") == 0 || strcmp(request, "ALL-INTERNAL") == 0 ||
	    strcmp(request, "ALL-UNTRUSTED") == 0 || strcmp(request, "ALL-EXTERNAL") == 0) {
		const struct relays *r = msgview_relays(mv);
		bool internal = strstr(request, "INTERNAL") || strstr(request, "EXTERNAL");
		long idx = (internal ? r->last_internal_index : r->last_trusted_index) + 1;

		if (strcmp(request, "ALL-TRUSTED") == 0 || strcmp(request, "ALL-INTERNAL") == 0)
			hdrs_in_range(mv, 0, idx, false, true, getraw, vals);
		else
			hdrs_in_range(mv, idx, 0, true, false, getraw, vals);
		goto done;
	}
	if (ieq(request, "EnvelopeFrom")) {
		envelope_from(mv);
		if (mv->envf_defined)
			strlist_add(&res, mv->envf, strlen(mv->envf));
	} else if (ieq(request, "X-Spam-Relays-Untrusted")) {
		const char *s = msgview_relays(mv)->str_untrusted;
		strlist_add(&res, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
	} else if (ieq(request, "X-Spam-Relays-Trusted")) {
		const char *s = msgview_relays(mv)->str_trusted;
		strlist_add(&res, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
	} else if (ieq(request, "X-Spam-Relays-External")) {
		const char *s = msgview_relays(mv)->str_external;
		strlist_add(&res, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
	} else if (ieq(request, "X-Spam-Relays-Internal")) {
		const char *s = msgview_relays(mv)->str_internal;
		strlist_add(&res, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
	} else if (ieq(request, "ToCc")) {
		get_header_list(mv, root, "to", getraw, &res);
		get_header_list(mv, root, "cc", getraw, &res);
	} else if (strcmp(request, "MESSAGEID") == 0) {
		static const char *const ids[] = {
			"x-message-id", "resent-message-id", "x-original-message-id", "message-id"
		};
		struct strlist t;

		strlist_init(&t);
		for (size_t i = 0; i < N_ELEMENTS(ids); i++)
			get_header_list(mv, root, ids[i], getraw, &t);
		for (size_t i = 0; i < t.n; i++)
			if (t.v[i].len > 0)
				strlist_add(&res, t.v[i].p, t.v[i].len);
		strlist_free(&t);
	} else {
		char *l = lower_dup(request);

		if (getraw || needraw)
			raw_header_list(mv, l, &res);
		else
			get_header_list(mv, root, l, false, &res);
		if (res.n == 0) {
			/* metadata */
			if (strcmp(l, "x-senderdomain") == 0) {
				const struct strlist *h = get_list(mv, "EnvelopeFrom:first:addr:host");

				if (h->n > 0) {
					struct mime_str d = { 0 };

					mime_str_add(&d, "", 0);
					hdr_idn_to_ascii(h->v[0].p, h->v[0].len, &d);
					sl_add_str(&res, &d);
					mime_str_free(&d);
				}
			} else if (strcmp(l, "x-authordomain") == 0) {
				const struct strlist *h = get_list(mv, "From:addr:host");
				struct mime_str s = { 0 };

				mime_str_add(&s, "", 0);
				for (size_t i = 0; i < h->n; i++) {
					bool dup = false;

					for (size_t j = 0; j < i; j++)
						if (strcmp(h->v[i].p, h->v[j].p) == 0)
							dup = true;
					if (dup)
						continue;
					if (s.len > 0)
						mime_str_addc(&s, ' ');
					hdr_idn_to_ascii(h->v[i].p, h->v[i].len, &s);
				}
				if (h->n > 0)
					sl_add_str(&res, &s);
				mime_str_free(&s);
			}
		}
		free(l);
	}
	if (res.n == 0)
		goto done;
	if (getfirst || getlast) {
		struct strlist one;

		strlist_init(&one);
		if (getfirst)
			strlist_add(&one, res.v[0].p, res.v[0].len);
		else
			strlist_add(&one, res.v[res.n - 1].p, res.v[res.n - 1].len);
		strlist_free(&res);
		res = one;
	}
	if (getaddr || getname) {
		struct strlist out;

		strlist_init(&out);
		if (getaddr) {
			for (size_t i = 0; i < res.n && out.n < MSGVIEW_ADDRESSES_MAX; i++) {
				struct hdr_addr *a;
				size_t n = hdr_parse_addresses_only(res.v[i].p, res.v[i].len, &a);

				for (size_t k = 0; k < n && out.n < MSGVIEW_ADDRESSES_MAX; k++)
					if (a[k].address != NULL)
						strlist_add(&out, a[k].address, strlen(a[k].address));
				hdr_addrs_free(a, n);
			}
		} else {
			name_values(mv, request, getraw, &res, &out);
		}
		strlist_free(&res);
		res = out;
	}
	if (res.n > 0 && (gethost || getdomain || getip)) {
		struct strlist out;

		strlist_init(&out);
		for (size_t i = 0; i < res.n; i++) {
			struct mime_str h = { 0 };
			bool ok;

			if (gethost)
				ok = hdr_find_host(mv->set, res.v[i].p, res.v[i].len, getaddr, &h);
			else
				ok = hdr_find_ip(res.v[i].p, res.v[i].len, getrevip, &h);
			if (ok && gethost && h.len == 1 && h.p[0] == '0')
				ok = false;	/* if ($host): "0" is false */
			if (ok && getdomain) {
				struct mime_str d = { 0 };

				hdr_trim_domain(mv->set, h.p, h.len, &d);
				mime_str_free(&h);
				h = d;
			}
			if (ok)
				sl_add_str(&out, &h);
			mime_str_free(&h);
		}
		strlist_free(&res);
		res = out;
	}
	for (size_t i = 0; i < res.n; i++)
		strlist_add(vals, res.v[i].p, res.v[i].len);
done:
	strlist_free(&res);
	free(request);
}

static void
cache_slot_put(struct msgview *mv, size_t index)
{
	size_t mask = mv->cache_slot_cap - 1, k = mv->cache[index].hash & mask;

	while (mv->cache_slots[k] != 0)
		k = (k + 1) & mask;
	mv->cache_slots[k] = (uint32_t)(index + 1);
}

static const struct strlist *
get_list(struct msgview *mv, const char *request)
{
	/* The header rules alone ask for well over a hundred requests a
	 * message, each several times: a table, not a walk of the list.
	 * Requests come from the rule files and the code, never from the
	 * message, so an unkeyed hash is enough. */
	uint32_t hash = str_hash_fnv(request, strlen(request));
	struct strlist vals;
	size_t index;

	if (mv->cache_slot_cap > 0) {
		size_t mask = mv->cache_slot_cap - 1;

		for (size_t k = hash & mask; mv->cache_slots[k] != 0; k = (k + 1) & mask) {
			struct gcache *c = &mv->cache[mv->cache_slots[k] - 1];

			if (c->hash == hash && strcmp(c->request, request) == 0)
				return &c->vals;
		}
	}

	strlist_init(&vals);
	do_get(mv, request, &vals);
	if (mv->ncache == mv->cache_cap) {
		mv->cache_cap = mv->cache_cap ? mv->cache_cap * 2 : 32;
		mv->cache = xreallocarray(mv->cache, mv->cache_cap, sizeof(*mv->cache));
	}
	index = mv->ncache++;
	mv->cache[index].request = xstrdup(request);
	mv->cache[index].hash = hash;
	mv->cache[index].vals = vals;
	if (mv->ncache * 2 > mv->cache_slot_cap) {
		while (mv->ncache * 2 > mv->cache_slot_cap)
			mv->cache_slot_cap = mv->cache_slot_cap ? mv->cache_slot_cap * 2 : 64;
		free(mv->cache_slots);
		mv->cache_slots = xcalloc(mv->cache_slot_cap, sizeof(*mv->cache_slots));
		for (size_t i = 0; i < mv->ncache; i++)
			cache_slot_put(mv, i);
	} else {
		cache_slot_put(mv, index);
	}
	return &mv->cache[index].vals;
}

static bool
join_into(const struct strlist *l, struct buf *out)
{
	bool nl;

	if (l->n == 0)
		return false;
	/* join($harr[0] =~ /\n\z/ ? "" : "\n", @harr) */
	nl = !(l->v[0].len > 0 && l->v[0].p[l->v[0].len - 1] == '\n');
	for (size_t i = 0; i < l->n; i++) {
		if (i > 0 && nl && buf_append(out, "\n", 1) < 0)
			break;
		if (buf_append(out, l->v[i].p, l->v[i].len) < 0)
			break;
	}
	return true;
}

bool
msgview_get_text(struct msgview *mv, const char *request, struct buf *out,
		 const char **text_r, size_t *len_r)
{
	const struct strlist *l;

	*text_r = NULL;
	*len_r = 0;
	if (strcmp(request, "ALL:raw") == 0) {
		pristine_fields(mv, text_r, len_r);
		if (*len_r == 0) {
			*text_r = NULL;
			return false;
		}
		return true;
	}
	l = get_list(mv, request);
	if (l->n == 1) {
		*text_r = l->v[0].p;
		*len_r = l->v[0].len;
		return true;
	}
	return join_into(l, out);
}

bool
msgview_get(struct msgview *mv, const char *request, struct buf *out)
{
	/* the fields end in a newline: joined, they are the text */
	if (strcmp(request, "ALL:raw") == 0) {
		const char *p;
		size_t len;

		pristine_fields(mv, &p, &len);
		if (len == 0)
			return false;
		/* past the caller's bound, the fields that fit, as joined */
		if (buf_append(out, p, len) < 0)
			for (size_t b = 0, n; b < len; b += n) {
				n = pristine_field_len(p + b, len - b);
				if (buf_append(out, p + b, n) < 0)
					break;
			}
		return true;
	}
	return join_into(get_list(mv, request), out);
}

/* ---- mimeheader ---- */

struct mime_msg *
msgview_mime(struct msgview *mv)
{
	return mv_msg(mv);
}

size_t
msgview_part_count(struct msgview *mv)
{
	return mv_msg(mv)->nnodes;
}

bool
msgview_part_get(struct msgview *mv, size_t part, const char *request, struct buf *out)
{
	struct mime_msg *msg = mv_msg(mv);
	struct mime_node *node;
	size_t rl = strlen(request);
	/* MIMEHeader.pm: $hdr =~ s/:raw$// */
	bool raw = rl >= 4 && strcmp(request + rl - 4, ":raw") == 0;
	const char *val = NULL;
	size_t vlen = 0;
	bool found = true;
	char *name, *key;
	struct mime_str s = { 0 };
	struct strlist v;

	if (part >= msg->nnodes)
		return false;
	node = msg->nodes[part];
	name = xstrndup(request, raw ? rl - 4 : rl);
	strlist_init(&v);
	if (strcmp(name, "ALL") == 0) {
		/* get_all_headers($getraw, 0) */
		mime_all_headers(msg, node, raw, &s);
		val = s.p;
		vlen = s.len;
	} else if (raw) {
		/* raw_header() in scalar context: the last raw value, ''
		 * when there is none, so a :raw lookup is never unset */
		struct mime_hdr *h = NULL, *x;
		size_t pos = 0, kl;

		key = name;
		while (*key != '\0' && isspace((unsigned char)*key))
			key++;
		kl = strlen(key);
		while (kl > 0 && isspace((unsigned char)key[kl - 1]))
			key[--kl] = '\0';
		for (char *p = key; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		while ((x = mime_hdr_next(node, key, &pos)) != NULL)
			h = x;
		if (h != NULL) {
			val = h->raw;
			vlen = h->raw_len;
		}
	} else {
		/* get_header() in scalar context: the last decoded value
		 * and a newline, undef when there is none */
		for (char *p = name; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		get_header_list(mv, node, name, false, &v);
		if (v.n > 0) {
			val = v.v[v.n - 1].p;
			vlen = v.v[v.n - 1].len;
		} else {
			found = false;
		}
	}
	if (val != NULL && buf_append(out, val, vlen) < 0) {
		/* the caller's bound: the value is cut there */
	}
	strlist_free(&v);
	mime_str_free(&s);
	free(name);
	return found;
}

/* ---- body, rawbody (msgview_text.c) ---- */

const struct strlist *
msgview_body(struct msgview *mv)
{
	if (!mv->body_done) {
		mv->body_done = true;
		msgview_build_body(mv_msg(mv), mv->set, MV_TEXT_ALL, &mv->body, &mv->html_uris,
				   &mv->html, &mv->nhtml);
		for (size_t i = 0; i < mv->nhtml && !mv->has_invisible; i++)
			mv->has_invisible = html_has_invisible(mv->html[i]);
	}
	return &mv->body;
}

const struct strlist *
msgview_body_visible(struct msgview *mv)
{
	const struct strlist *all = msgview_body(mv);

	if (!mv->has_invisible)
		return all;
	if (!mv->visible_done) {
		mv->visible_done = true;
		msgview_build_body(mv_msg(mv), mv->set, MV_TEXT_VISIBLE, &mv->visible, NULL, NULL,
				   NULL);
	}
	return &mv->visible;
}

const struct strlist *
msgview_body_invisible(struct msgview *mv)
{
	(void)msgview_body(mv);
	if (mv->has_invisible && !mv->invisible_done) {
		mv->invisible_done = true;
		msgview_build_body(mv_msg(mv), mv->set, MV_TEXT_INVISIBLE, &mv->invisible, NULL,
				   NULL, NULL);
	}
	return &mv->invisible;
}

const struct strlist *
msgview_rawbody(struct msgview *mv)
{
	if (!mv->raw_done) {
		mv->raw_done = true;
		msgview_build_rawbody(mv_msg(mv), mv->set, &mv->rawbody);
	}
	return &mv->rawbody;
}

/* ---- uris, full ---- */

const struct strlist *
msgview_uris(struct msgview *mv)
{
	if (!mv->uris_done) {
		const struct strlist *body = msgview_body(mv);

		mv->uris_done = true;
		struct uri_collect_more more = { .hosts = &mv->uri_hosts };

		for (size_t i = 0; i < mv->nhtml; i++)
			more.truncated |= mv->html[i]->uri_truncated;
		uri_collect(mv->set, body, &mv->html_uris, &mv->uris, &more);
		mv->uri_truncated = more.truncated;
	}
	return &mv->uris;
}

bool
msgview_uri_truncated(struct msgview *mv)
{
	(void)msgview_uris(mv);
	return mv->uri_truncated;
}

const struct strlist *
msgview_uri_hosts(struct msgview *mv)
{
	(void)msgview_uris(mv);
	return &mv->uri_hosts;
}

const struct strlist *
msgview_html_uris(struct msgview *mv)
{
	(void)msgview_body(mv);
	return &mv->html_uris;
}

void
msgview_full(struct msgview *mv, const char **data_r, size_t *len_r)
{
	struct mime_msg *msg = mv_msg(mv);

	*data_r = msg->pristine;
	*len_r = msg->pristine_len;
}

const struct html_result *const *
msgview_html(struct msgview *mv, size_t *n_r)
{
	(void)msgview_body(mv);
	*n_r = mv->nhtml;
	return mv->html;
}
