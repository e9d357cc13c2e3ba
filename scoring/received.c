/* received: the Received chain as SpamAssassin 4.0 sees it.
 *
 * A port of Mail::SpamAssassin::Message::Metadata::Received's
 * parse_received_headers(): each line goes through received_line_parse()
 * (received_line.c), then the trust path over trusted_networks /
 * internal_networks / msa_networks or, when none is set, SpamAssassin's
 * inference, and the X-Spam-Relays-* strings as make_relay_as_string()
 * renders them.
 *
 * Limits: a value is cut at RECEIVED_MAX_LINE bytes (as SpamAssassin cuts
 * every header value) and at most RECEIVED_MAX_HEADERS lines are looked at,
 * so 10000 headers of 1 MB cost a bounded amount of time. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "received.h"
#include "received_int.h"
#include "xalloc.h"

/* ---------------------------------------------------------------------- */
/* parse_received_headers */

const char *const received_originating_ip_headers_default[] = {
	"X-Yahoo-Post-IP", "X-Originating-IP", "X-Apparently-From", "X-SenderIP",
	"X-AOL-IP", "X-MS-Exchange-CrossTenant-OriginalAttributedTenantConnectingIp",
	NULL
};

bool
received_add_originating(struct strlist *received, const char *value, size_t len)
{
	const char *c;
	size_t clen;
	char *line;

	if (len > RECEIVED_MAX_LINE)
		len = RECEIVED_MAX_LINE;
	if (len == 0 || !received_first_ip(value, len, &c, &clen))
		return false;
	line = xasprintf("from X-Originating-IP: %.*s\n", (int)clen, c);
	strlist_add_owned(received, line, strlen(line));
	return true;
}

/* NetAddr::IP's view of 127.0.0.0/8 and ::1 (IPv4-mapped forms too). */
static bool
ip_is_loopback(const char *ip)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, ip, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, ip, a) != 1)
		return false;
	for (int i = 0; i < 10; i++)
		if (a[i] != 0)
			return false;
	if (a[10] == 0xff && a[11] == 0xff)
		return a[12] == 127;
	if (a[10] != 0 || a[11] != 0)
		return false;
	return a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] == 1;
}

/* trusted_networks and internal_networks always hold 127/8 and ::1
 * (Conf::new_netset adds them first, so no "!" entry can take them out);
 * msa_networks does not. */
static bool
netset_has(const struct sa_netset *set, bool loopback, const char *ip)
{
	if (loopback && ip_is_loopback(ip))
		return true;
	return sa_netset_contains(set, ip);
}

static char *
lc_dup(const char *s)
{
	char *d = xstrdup(s);

	for (char *p = d; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + ('a' - 'A'));
	return d;
}

/* A field for the relay hash: NUL-free (id and auth are not cleaned by
 * SpamAssassin, but a NUL cannot live in a C string). */
static char *
field_dup(const struct received_str *s)
{
	char *d = xmalloc(s->len + 1);

	for (size_t i = 0; i < s->len; i++)
		d[i] = s->p[i] == '\0' ? '!' : s->p[i];
	d[s->len] = '\0';
	return d;
}

/* $as_string =~ s/ KEY\d / KEY$val /: the first such place. */
static void
set_flag(char *s, const char *key, bool val)
{
	size_t klen = strlen(key);

	for (char *p = strstr(s, key); p != NULL; p = strstr(p + 1, key))
		if (p[klen] >= '0' && p[klen] <= '9' && p[klen + 1] == ' ') {
			p[klen] = val ? '1' : '0';
			return;
		}
}

static void
relay_free(struct relay *r)
{
	free(r->ip);
	free(r->rdns);
	free(r->helo);
	free(r->by);
	free(r->ident);
	free(r->envfrom);
	free(r->id);
	free(r->auth);
	free(r->lc_rdns);
	free(r->lc_helo);
	free(r->lc_by);
	free(r->as_string);
	memset(r, 0, sizeof(*r));
}

static void
relay_from_fields(struct relay *r, const struct received_fields *f, int index)
{
	memset(r, 0, sizeof(*r));
	r->ip = field_dup(&f->ip);
	r->rdns = field_dup(&f->rdns);
	r->helo = field_dup(&f->helo);
	r->by = field_dup(&f->by);
	r->ident = field_dup(&f->ident);
	/* make_relay_as_string: $relay->{envfrom} || '' */
	r->envfrom = f->envfrom_defined && received_str_true(&f->envfrom) ?
		field_dup(&f->envfrom) : xstrdup("");
	r->id = field_dup(&f->id);
	r->auth = field_dup(&f->auth);
	r->lc_rdns = lc_dup(r->rdns);
	r->lc_helo = lc_dup(r->helo);
	r->lc_by = lc_dup(r->by);
	if (r->rdns[0] == '\0') {
		if (f->mta_looked_up_dns)
			r->no_reverse_dns = true;
		else
			r->rdns_not_in_headers = true;
	}
	r->ip_private = received_ip_private(r->ip);
	r->index = index;
}

/* "[ ip=%s rdns=%s helo=%s by=%s ident=%s envfrom=%s intl=0 id=%s auth=%s
 * msa=0 ]", then the flags set as SpamAssassin sets them (the first
 * " msa=D " may be in auth).  Put together by hand: vasprintf cost 3 K
 * instructions a relay. */
static void
relay_render(struct relay *r)
{
	const char *part[] = {
		"[ ip=", r->ip, " rdns=", r->rdns, " helo=", r->helo, " by=", r->by,
		" ident=", r->ident, " envfrom=", r->envfrom, " intl=0 id=", r->id,
		" auth=", r->auth, " msa=0 ]",
	};
	size_t plen[sizeof(part) / sizeof(part[0])], len = 0, at = 0;

	for (size_t i = 0; i < sizeof(part) / sizeof(part[0]); i++) {
		plen[i] = strlen(part[i]);
		len += plen[i];
	}
	free(r->as_string);
	r->as_string = xmalloc(len + 1);
	for (size_t i = 0; i < sizeof(part) / sizeof(part[0]); i++) {
		memcpy(r->as_string + at, part[i], plen[i]);
		at += plen[i];
	}
	r->as_string[at] = '\0';
	set_flag(r->as_string, " intl=", r->intl);
	set_flag(r->as_string, " msa=", r->msa);
}

struct relay_vec {
	struct relay *v;
	size_t n, cap;
};

static void
relay_vec_push(struct relay_vec *vec, const struct relay *r)
{
	if (vec->n == vec->cap) {
		vec->cap = vec->cap == 0 ? 8 : vec->cap * 2;
		vec->v = xreallocarray(vec->v, vec->cap, sizeof(*vec->v));
	}
	vec->v[vec->n++] = *r;
}

static char *
join_relays(const struct relay *v, size_t from, size_t to)
{
	size_t len = 0, at = 0;
	char *s;

	for (size_t i = from; i < to; i++)
		len += strlen(v[i].as_string) + 1;
	s = xmalloc(len + 1);
	for (size_t i = from; i < to; i++) {
		size_t l = strlen(v[i].as_string);

		if (i > from)
			s[at++] = ' ';
		memcpy(s + at, v[i].as_string, l);
		at += l;
	}
	s[at] = '\0';
	return s;
}

void
received_parse(const struct sa_settings *set, const struct strlist *received,
	       struct relays *out)
{
	const struct sa_netset *trusted = &set->trusted_networks;
	const struct sa_netset *internal = &set->internal_networks;
	const struct sa_netset *msa = &set->msa_networks;
	bool user_trust = trusted->configured, user_internal = internal->configured;
	bool in_trusted = true, in_internal = true, found_msa = false;
	struct relay_vec tr = { NULL, 0, 0 }, un = { NULL, 0, 0 };
	size_t num_internal = 0;
	struct received_chain ch;
	struct received_fields f;
	size_t count;

	memset(out, 0, sizeof(*out));
	out->last_trusted_index = out->last_internal_index = -1;
	memset(&ch, 0, sizeof(ch));
	memset(&f, 0, sizeof(f));
	ch.allow_mailfetch_markers = true;

	if (user_trust && !user_internal)
		internal = trusted;	/* compatibility with SpamAssassin 2.60 */
	else if (!user_trust && user_internal)
		trusted = internal;

	count = received->n < RECEIVED_MAX_HEADERS ? received->n : RECEIVED_MAX_HEADERS;
	for (size_t i = 0; i < count; i++) {
		size_t len = received->v[i].len;
		bool have_qms = false;
		struct received_str qms = { NULL, 0 };
		enum received_line_result res;
		struct relay r;

		/* the qmail-scanner line above described this handover */
		if (ch.have_qms_env_from && received_str_true(&ch.qms_env_from)) {
			have_qms = true;
			qms = ch.qms_env_from;
			ch.qms_env_from.p = NULL;
			ch.qms_env_from.len = 0;
			ch.have_qms_env_from = false;
		}

		if (len > RECEIVED_MAX_LINE)
			len = RECEIVED_MAX_LINE;
		ch.pop_fetcher_seen = false;
		res = received_line_parse(&ch, received->v[i].p, len, &f);
		if (ch.pop_fetcher_seen) {
			/* a mail fetcher handover: restart the parse */
			for (size_t j = 0; j < tr.n; j++)
				relay_free(&tr.v[j]);
			tr.n = 0;
			num_internal = 0;
		}
		if (res == RECEIVED_LINE_UNPARSEABLE)
			out->num_unparseable++;
		if (res != RECEIVED_LINE_RELAY) {
			if (in_trusted)
				out->last_trusted_index++;
			if (in_internal)
				out->last_internal_index++;
			received_str_free(&qms);
			continue;
		}
		if (have_qms) {
			received_str_set(&f.envfrom, qms.p, qms.len);
			f.envfrom_defined = true;
		}
		received_str_free(&qms);
		relay_from_fields(&r, &f, (int)i);

		/* relay status changes only in the trusted part, before an MSA */
		if (in_trusted && !found_msa) {
			if (!user_trust && !user_internal) {
				/* no configuration: infer the handover.  A private
				 * address or authentication extends the trust. */
				if (!r.ip_private && r.auth[0] == '\0') {
					in_trusted = false;
					in_internal = false;
				}
			} else if (r.auth[0] == '\0' && !netset_has(trusted, true, r.ip)) {
				in_trusted = false;	/* no "originating" caller */
				in_internal = false;
			} else {
				if (in_internal && r.auth[0] == '\0' &&
				    !netset_has(internal, true, r.ip))
					in_internal = false;
				if (netset_has(msa, false, r.ip)) {
					found_msa = true;
					r.msa = true;
				}
			}
		}
		r.intl = in_internal;
		r.trusted = in_trusted;
		relay_render(&r);

		if (in_trusted) {
			relay_vec_push(&tr, &r);
			ch.allow_mailfetch_markers = true;
			out->last_trusted_index++;
		} else {
			relay_vec_push(&un, &r);
			ch.allow_mailfetch_markers = false;
		}
		if (in_internal) {
			num_internal++;
			out->last_internal_index++;
		}
	}
	received_fields_free(&f);
	received_str_free(&ch.qms_env_from);

	/* trusted ++ untrusted; internal relays are a prefix of the trusted */
	out->n = tr.n + un.n;
	out->v = xreallocarray(NULL, out->n > 0 ? out->n : 1, sizeof(*out->v));
	if (tr.n > 0)
		memcpy(out->v, tr.v, tr.n * sizeof(*out->v));
	if (un.n > 0)
		memcpy(out->v + tr.n, un.v, un.n * sizeof(*out->v));
	free(tr.v);
	free(un.v);
	out->num_trusted = tr.n;
	out->num_internal = num_internal;
	out->str_trusted = join_relays(out->v, 0, out->num_trusted);
	out->str_untrusted = join_relays(out->v, out->num_trusted, out->n);
	out->str_internal = join_relays(out->v, 0, out->num_internal);
	out->str_external = join_relays(out->v, out->num_internal, out->n);
}

void
relays_free(struct relays *r)
{
	for (size_t i = 0; i < r->n; i++)
		relay_free(&r->v[i]);
	free(r->str_trusted);
	free(r->str_untrusted);
	free(r->str_internal);
	free(r->str_external);
	free(r->v);
	memset(r, 0, sizeof(*r));
	r->last_trusted_index = r->last_internal_index = -1;
}
