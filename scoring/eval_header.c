/* eval_header: native versions of SpamAssassin's HeaderEval and RelayEval
 * tests (Plugin/HeaderEval.pm, Plugin/RelayEval.pm), the ones that read
 * only the message's headers and the relay list built from Received.
 * Each follows the Perl line by line, quirks included, so the shipped
 * rules and their scores keep their meaning. */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "buf.h"
#include "eval.h"
#include "msgview.h"
#include "received.h"
#include "rules_int.h"

/* $pms->get(request) in scalar context: "" when the header is absent. */
static void
eval_header_get(struct eval_ctx *ctx, const char *request, struct buf *out)
{
	buf_reset(out);
	if (!msgview_get(ctx->mv, request, out))
		buf_reset(out);
}

/* Perl's \s on a byte string. */
static bool
eval_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool
eval_is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
eval_is_word(unsigned char c)
{
	return eval_is_alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* check_for_missing_to_header: neither To nor Apparently-To has a value. */
static unsigned int
eval_check_for_missing_to_header(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct buf v;
	bool missing;

	(void)call;
	buf_init(&v, 0);
	eval_header_get(ctx, "To", &v);
	if (v.len == 0)
		eval_header_get(ctx, "Apparently-To", &v);
	missing = v.len == 0;
	buf_free(&v);
	return missing ? 1 : 0;
}

/* check_for_matching_env_and_hdr_from: lc EnvelopeFrom:addr eq lc
 * From:addr (Perl's lc on bytes: ASCII only); two empty values match. */
static unsigned int
eval_check_for_matching_env_and_hdr_from(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct buf env, from;
	bool same;

	(void)call;
	buf_init(&env, 0);
	buf_init(&from, 0);
	eval_header_get(ctx, "EnvelopeFrom:addr", &env);
	eval_header_get(ctx, "From:addr", &from);
	same = env.len == from.len;
	for (size_t i = 0; same && i < env.len; i++) {
		unsigned char a = (unsigned char)env.data[i], b = (unsigned char)from.data[i];

		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (unsigned char)(b - 'A' + 'a');
		same = a == b;
	}
	buf_free(&env);
	buf_free(&from);
	return same ? 1 : 0;
}

/* Length of a leading "(?:(?:Re|Fwd|...):\s*)+" (bug 6805), 0 if none. */
static size_t
eval_reply_prefix(const char *s, size_t len)
{
	static const char *const words[] = {
		"Re", "Fwd", "Fw", "Aw", "Antwort", "WG", "SV", "VB", "VS", "VL",
	};
	size_t pos = 0;

	for (;;) {
		size_t matched = 0;

		for (size_t w = 0; w < N_ELEMENTS(words) && matched == 0; w++) {
			size_t n = strlen(words[w]);

			if (len - pos > n && strncasecmp(s + pos, words[w], n) == 0 &&
			    s[pos + n] == ':')
				matched = n + 1;
		}
		if (matched == 0)
			return pos;
		pos += matched;
		while (pos < len && eval_is_space((unsigned char)s[pos]))
			pos++;
	}
}

/* Constants.pm's CHARSETS_LIKELY_TO_FP_AS_CAPS inside an encoded word:
 * /=\?[-_a-z0-9]*(?:koi|jp|...|tis)[-_a-z0-9]*\?/i. */
static bool
eval_has_caps_charset(const char *s, size_t len)
{
	static const char *const names[] = {
		"koi", "jp", "jis", "euc", "gb", "big5", "isoir", "cp1251",
		"windows-1251", "georgianps", "pt154", "tis",
	};

	for (size_t i = 0; i + 1 < len; i++) {
		size_t start, end;

		if (s[i] != '=' || s[i + 1] != '?')
			continue;
		start = i + 2;
		end = start;
		while (end < len && eval_is_word((unsigned char)s[end]))
			end++;
		if (end >= len || s[end] != '?')
			continue;
		/* The charset token is start..end; one of the names inside it. */
		for (size_t k = 0; k < N_ELEMENTS(names); k++) {
			size_t n = strlen(names[k]);

			for (size_t p = start; p + n <= end; p++)
				if (strncasecmp(s + p, names[k], n) == 0)
					return true;
		}
	}
	return false;
}

/* subject_is_all_caps: a subject of several words, at least 10 bytes
 * once trimmed and stripped of reply prefixes, whose letters are all
 * capitals; not for charsets whose text often looks like capitals. */
static unsigned int
eval_subject_is_all_caps(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct buf v;
	const char *s;
	size_t len, prefix, letters = 0;
	bool has_space = false, lower = false, result;

	(void)call;
	buf_init(&v, 0);
	eval_header_get(ctx, "Subject", &v);
	s = v.data != NULL ? v.data : "";
	len = v.len;
	while (len > 0 && eval_is_space((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && eval_is_space((unsigned char)s[len - 1]))
		len--;
	prefix = eval_reply_prefix(s, len);
	s += prefix;
	len -= prefix;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (eval_is_space(c))
			has_space = true;
		if (eval_is_alpha(c)) {
			letters++;
			if (c >= 'a' && c <= 'z')
				lower = true;
		}
	}
	result = has_space && len >= 10 && letters > 0 && !lower;
	if (result) {
		eval_header_get(ctx, "Subject:raw", &v);
		if (eval_has_caps_charset(v.data != NULL ? v.data : "", v.len))
			result = false;
	}
	buf_free(&v);
	return result ? 1 : 0;
}

/* The "second-level" domain check_equal_from_domains compares: what
 * follows the last "@" (/\@([^@]*)\z/), cut by
 * s/^.+\.([^\.]+\.[^\.]+)$/$1/ to its last two labels when there are
 * more.  Empty when there is no "@". */
static void
eval_from_domain(const char *addr, size_t len, const char **d_r, size_t *n_r)
{
	const char *at = NULL, *d, *last, *prev = NULL;
	size_t n;

	for (size_t i = 0; i < len; i++)
		if (addr[i] == '@')
			at = addr + i;
	*d_r = "";
	*n_r = 0;
	if (at == NULL)
		return;
	d = at + 1;
	n = (size_t)(addr + len - d);
	*d_r = d;
	*n_r = n;
	if (memchr(d, '\n', n) != NULL)
		return;
	last = memrchr(d, '.', n);
	if (last == NULL || last == d + n - 1)
		return;
	if (last > d)
		prev = memrchr(d, '.', (size_t)(last - d));
	/* .+ before prev and a non-empty label between prev and last */
	if (prev == NULL || prev == d || prev + 1 == last)
		return;
	*d_r = prev + 1;
	*n_r = (size_t)(d + n - *d_r);
}

/* check_equal_from_domains: the From: and envelope sender domains
 * differ (compared case-insensitively, as lc does on bytes). */
static unsigned int
eval_check_equal_from_domains(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct buf from, env;
	const char *fd, *ed;
	size_t fn, en;
	bool differ = false;

	(void)call;
	buf_init(&from, 0);
	buf_init(&env, 0);
	eval_header_get(ctx, "From:addr", &from);
	eval_header_get(ctx, "EnvelopeFrom:addr", &env);
	eval_from_domain(from.data != NULL ? from.data : "", from.len, &fd, &fn);
	eval_from_domain(env.data != NULL ? env.data : "", env.len, &ed, &en);
	if (fn > 0 && en > 0) {
		differ = fn != en;
		for (size_t i = 0; !differ && i < fn; i++) {
			unsigned char a = (unsigned char)fd[i], b = (unsigned char)ed[i];

			if (a >= 'A' && a <= 'Z')
				a = (unsigned char)(a - 'A' + 'a');
			if (b >= 'A' && b <= 'Z')
				b = (unsigned char)(b - 'A' + 'a');
			differ = a != b;
		}
	}
	buf_free(&from);
	buf_free(&env);
	return differ ? 1 : 0;
}

/* RelayEval: counts of the relay list (trusted, untrusted, unparseable). */
static unsigned int
eval_check_all_trusted(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct relays *r = msgview_relays(ctx->mv);

	(void)call;
	return r->num_trusted > 0 && r->n == r->num_trusted && r->num_unparseable == 0;
}

static unsigned int
eval_check_no_relays(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct relays *r = msgview_relays(ctx->mv);

	(void)call;
	return r->n == 0 && r->num_unparseable == 0;
}

static unsigned int
eval_check_relays_unparseable(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return msgview_relays(ctx->mv)->num_unparseable > 0 ? 1 : 0;
}

static const struct eval_entry eval_header_entries[] = {
	{ "check_for_missing_to_header", eval_check_for_missing_to_header, false },
	{ "check_for_matching_env_and_hdr_from", eval_check_for_matching_env_and_hdr_from,
	  false },
	{ "subject_is_all_caps", eval_subject_is_all_caps, false },
	{ "check_equal_from_domains", eval_check_equal_from_domains, false },
	{ "check_all_trusted", eval_check_all_trusted, false },
	{ "check_no_relays", eval_check_no_relays, false },
	{ "check_relays_unparseable", eval_check_relays_unparseable, false },
};

const struct eval_family eval_family_header = {
	eval_header_entries, N_ELEMENTS(eval_header_entries), NULL, 0
};
