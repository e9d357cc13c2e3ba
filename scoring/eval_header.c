/* eval_header: native versions of SpamAssassin's HeaderEval and RelayEval
 * tests (Plugin/HeaderEval.pm, Plugin/RelayEval.pm), the ones that read
 * only the message's headers and the relay list built from Received.
 * Each follows the Perl line by line, quirks included, so the shipped
 * rules and their scores keep their meaning. */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "eval.h"
#include "mime.h"
#include "msgview.h"
#include "received.h"
#include "rules_int.h"
#include "strlist.h"
#include "strset.h"
#include "xalloc.h"

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

/* ---- HeaderEval: recipients, templates, illegal characters ---- */

/* Bounds for hostile headers: addresses looked at (SpamAssassin stops at
 * 256 distinct ones), patterns compiled per process. */
#define EVAL_HEADER_MAX_ADDRS 4096

/* Fixed patterns of this file, compiled once per process on first use
 * (not thread-safe: a worker scores one message at a time). */
enum eh_re {
	EH_RE_TEMPLATE,
	EH_RE_TEMPLATE_OK,
	EH_RE_ENCODED_WORD,
	EH_RE_COUNT
};

static const char *const eh_re_src[EH_RE_COUNT] = {
	[EH_RE_TEMPLATE] = "%[A-Z][A-Z_-]",
	[EH_RE_TEMPLATE_OK] =
		"^(?:X-VMS-To|X-UIDL|X-Face|To|Cc|From|Subject|References|In-Reply-To"
		"|(?:X-|Resent-|X-Original-)?Message-Id):",
	/* check_for_faraway_charset_in_headers' /=\?(.+?)\?.\?.*?\?=/g; "."
	 * stops at a newline, as Perl's */
	[EH_RE_ENCODED_WORD] = "(*LF)=\\?(.+?)\\?.\\?.*?\\?=",
};

static const uint32_t eh_re_opts[EH_RE_COUNT] = {
	[EH_RE_TEMPLATE_OK] = PCRE2_CASELESS,
};

static struct {
	bool tried;
	pcre2_code *re[EH_RE_COUNT];
	pcre2_match_data *md;
	pcre2_match_context *mctx;
} eh;

static bool
eh_init(void)
{
	if (eh.tried)
		return eh.mctx != NULL;
	eh.tried = true;
	for (int i = 0; i < EH_RE_COUNT; i++) {
		int err;
		PCRE2_SIZE off;

		eh.re[i] = pcre2_compile((PCRE2_SPTR)eh_re_src[i], PCRE2_ZERO_TERMINATED,
					 eh_re_opts[i], &err, &off, NULL);
		if (eh.re[i] == NULL)
			return false;
		(void)pcre2_jit_compile(eh.re[i], PCRE2_JIT_COMPLETE);
	}
	eh.md = pcre2_match_data_create(8, NULL);
	if (eh.md == NULL)
		return false;
	eh.mctx = pcre2_match_context_create(NULL);
	if (eh.mctx != NULL)
		(void)pcre2_set_match_limit(eh.mctx, 1000000);
	return eh.mctx != NULL;
}

static bool
eh_match_re(pcre2_code *re, const char *s, size_t len)
{
	return pcre2_match(re, (PCRE2_SPTR)(s != NULL ? s : ""), len, 0, 0, eh.md, eh.mctx) >= 0;
}

static bool
eh_match(enum eh_re which, const char *s, size_t len)
{
	return eh_match_re(eh.re[which], s, len);
}

/* Util::is_valid_utf_8: strict UTF-8 (no overlongs, surrogates or past
 * U+10FFFF). */
static bool
eval_valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xBF;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			n = 1;
		else if (c == 0xE0) {
			n = 2;
			lo = 0xA0;
		} else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
			n = 2;
		else if (c == 0xED) {
			n = 2;
			hi = 0x9F;
		} else if (c == 0xF0) {
			n = 3;
			lo = 0x90;
		} else if (c >= 0xF1 && c <= 0xF3)
			n = 3;
		else if (c == 0xF4) {
			n = 3;
			hi = 0x8F;
		} else
			return false;
		if (len - i - 1 < n || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return false;
		i += n + 1;
	}
	return true;
}

/* check_illegal_chars(header, ratio, count): the raw header has at least
 * count bytes that should have been MIME-encoded, making up at least
 * ratio of it; valid UTF-8 without controls is fine (4.0). */
static unsigned int
eval_check_illegal_chars(struct eval_ctx *ctx, const struct eval_call *call)
{
	char request[512];
	struct buf v;
	const char *text;
	const unsigned char *s;
	size_t len, hlen, illegal = 0, exempt = 0;
	bool nonascii = false, controls = false, result;
	double ratio, count;

	if (call->arg_count < 3)
		return 0;
	hlen = strlen(call->args[0]);
	if ((size_t)snprintf(request, sizeof(request), "%s%s", call->args[0],
			     hlen >= 4 && strcmp(call->args[0] + hlen - 4, ":raw") == 0 ? "" : ":raw") >=
	    sizeof(request))
		return 0;
	ratio = call->nums[1];
	count = call->nums[2];
	/* ('ALL') is ALL:raw, the whole header section: read in place, not
	 * copied (46 MB of it for two million "To:" lines) */
	buf_init(&v, 0);
	if (!msgview_get_text(ctx->mv, request, &v, &text, &len)) {
		text = NULL;
		buf_reset(&v);
	}
	if (text == NULL) {
		text = v.data != NULL ? v.data : "";
		len = v.len;
	}
	s = (const unsigned char *)text;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c >= 0x80)
			nonascii = true;
		if (c <= 0x08 || c == 0x0B || c == 0x0C || (c >= 0x0E && c <= 0x1F))
			controls = true;
		if (c <= 0x08 || c == 0x0B || c == 0x0C || (c >= 0x0E && c <= 0x1F) || c >= 0x7F)
			illegal++;
		if (c == 0xA2 || c == 0xA3 || c == 0xAE)
			exempt++;
	}
	/* $str !~ /\S/: nothing but white space */
	result = false;
	for (size_t i = 0; i < len && !result; i++)
		result = !eval_is_space(s[i]);
	if (result && nonascii && !controls && eval_valid_utf8(s, len))
		result = false;
	if (result) {
		if (illegal > 0 && strcasecmp(request, "subject:raw") == 0 && exempt == 1)
			illegal--;
		result = (double)illegal / (double)len >= ratio && (double)illegal >= count;
	}
	buf_free(&v);
	return result ? 1 : 0;
}

/* HeaderEval's _check_recipients: are To/Cc (then Bcc) sorted, and how
 * alike are they (TOCC_SORTED_COUNT 7, TOCC_SIMILAR_COUNT 5,
 * TOCC_SIMILAR_LENGTH 2). */
struct eval_recips {
	bool sorted;
	double similar;
};

static int
eval_strcmp_p(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool
eval_lc_eq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		unsigned char x = (unsigned char)*a, y = (unsigned char)*b;

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return *a == *b;
}

static void
eval_check_recipients(struct eval_ctx *ctx, struct eval_recips *out)
{
	struct strlist inputs;
	const char *address[256];
	const char *fqhn[256];
	size_t n = 0, nf = 0;
	const char *previous = "";

	strlist_init(&inputs);
	eval_get_list(ctx->mv, "ToCc:addr", true, EVAL_HEADER_MAX_ADDRS, &inputs);
	if (inputs.n < 5)
		eval_get_list(ctx->mv, "Bcc:addr", true, EVAL_HEADER_MAX_ADDRS, &inputs);
	/* while (my $current = shift @inputs): stops at "" and "0" */
	for (size_t i = 0; i < inputs.n; i++) {
		const char *cur = inputs.v[i].p;

		if (cur[0] == '\0' || strcmp(cur, "0") == 0)
			break;
		if (!eval_lc_eq(cur, previous))
			address[n++] = previous = cur;
		if (n == 256)
			break;
	}
	out->sorted = false;
	if (n >= 7) {
		const char *sorted[256];
		size_t a = 0, b = 0;

		memcpy(sorted, address, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), eval_strcmp_p);
		/* join(',', @address) eq join(',', sort @address), compared
		 * byte by byte without building the strings */
		out->sorted = true;
		for (size_t pa = 0, pb = 0; out->sorted;) {
			char ca = a < n ? (address[a][pa] != '\0' ? address[a][pa]
							 : (a + 1 < n ? ',' : '\0')) : '\0';
			char cb = b < n ? (sorted[b][pb] != '\0' ? sorted[b][pb]
							: (b + 1 < n ? ',' : '\0')) : '\0';

			if (ca != cb)
				out->sorted = false;
			if (ca == '\0' || cb == '\0')
				break;
			if (address[a][pa] == '\0') {
				a++;
				pa = 0;
			} else {
				pa++;
			}
			if (sorted[b][pb] == '\0') {
				b++;
				pb = 0;
			} else {
				pb++;
			}
		}
	}
	out->similar = 0;
	if (n >= 5) {
		unsigned long hits = 0, combinations = 0;

		/* map { m/\@(.*)/ } @address: only those with an "@", so the
		 * hosts shift against the users when one has none (undef = "") */
		for (size_t i = 0; i < n; i++) {
			const char *at = strchr(address[i], '@');

			if (at != NULL)
				fqhn[nf++] = at + 1;
		}
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++) {
				const char *fi = i < nf ? fqhn[i] : "", *fj = j < nf ? fqhn[j] : "";

				if (strncmp(address[i], address[j], 2) == 0)
					hits++;
				if (strncmp(fi, fj, 2) == 0 && strcmp(fi, fj) != 0)
					hits++;
				combinations++;
			}
		out->similar = (double)hits / (double)combinations;
	}
	strlist_free(&inputs);
}

static unsigned int
eval_sorted_recipients(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct eval_recips r;

	(void)call;
	eval_check_recipients(ctx, &r);
	return r.sorted ? 1 : 0;
}

static unsigned int
eval_similar_recipients(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct eval_recips r;
	const char *min = call->arg_count > 0 ? call->args[0] : "undef";
	const char *max = call->arg_count > 1 ? call->args[1] : "undef";

	eval_check_recipients(ctx, &r);
	return (strcmp(min, "undef") == 0 || r.similar >= strtod(min, NULL)) &&
	       (strcmp(max, "undef") == 0 || r.similar < strtod(max, NULL));
}

/* check_unresolved_template: a header line (other than the usual
 * suspects) with a %TEMPLATE_TAG left in it. */
static unsigned int
eval_check_unresolved_template(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct buf all;
	const char *p, *end;
	unsigned int hit = 0;

	(void)call;
	if (!eh_init())
		return 0;
	buf_init(&all, 0);
	eval_header_get(ctx, "ALL", &all);
	p = all.data;
	/* no headers: data is NULL, and NULL + 0 is undefined in C */
	end = p != NULL ? p + all.len : NULL;
	while (p != NULL && p < end && hit == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl != NULL ? nl : end) - p);

		if (eh_match(EH_RE_TEMPLATE, p, len) && !eh_match(EH_RE_TEMPLATE_OK, p, len))
			hit = 1;
		p += len + 1;
	}
	buf_free(&all);
	return hit;
}

static char *
eh_ascii_lower_dup(const char *s, size_t len)
{
	char *out = xmalloc(len + 1);

	for (size_t i = 0; i < len; i++)
		out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
	out[len] = '\0';
	return out;
}

/* Whether needle occurs in hay with ASCII letters folded, as PCRE2's
 * caseless matching folds them outside UTF mode.  memmem keeps it linear
 * for a hostile Subject and To. */
static bool
eh_contains_caseless(const char *hay, size_t hay_len, const char *needle, size_t needle_len)
{
	char *h, *n;
	bool found;

	if (needle_len == 0)
		return true;
	if (needle_len > hay_len)
		return false;
	h = eh_ascii_lower_dup(hay, hay_len);
	n = eh_ascii_lower_dup(needle, needle_len);
	found = memmem(h, hay_len, n, needle_len) != NULL;
	free(h);
	free(n);
	return found;
}

/* check_for_to_in_subject('address'|'user'): the Subject names the
 * first To: address, or its user part in one of the usual forms. */
static unsigned int
eval_check_for_to_in_subject(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct buf to, subject, re;
	const char *test = call->arg_count > 0 ? call->args[0] : "";
	size_t tolen;
	unsigned int hit = 0;
	pcre2_code *code;
	int err;
	PCRE2_SIZE off;

	if (!eh_init())
		return 0;
	buf_init(&to, 0);
	buf_init(&subject, 0);
	buf_init(&re, 0);
	eval_header_get(ctx, "To:addr", &to);
	/* scalar get of :addr: the first value */
	tolen = to.data != NULL ? strcspn(to.data, "\n") : 0;
	if (tolen > 4096 || (strcmp(test, "address") != 0 && strcmp(test, "user") != 0))
		goto out;
	if (tolen == 0)
		goto out;
	eval_header_get(ctx, "Subject", &subject);
	if (strcmp(test, "user") == 0) {
		const char *at = memchr(to.data, '@', tolen);

		if (at != NULL)
			tolen = (size_t)(at - to.data);
	}
	/* Every alternative of the pattern below holds the address (or
	 * user) as a literal, caseless at most: a Subject without it can not
	 * match, and most do not hold it, so the pattern built for this one
	 * message is not compiled. */
	if (!eh_contains_caseless(subject.data != NULL ? subject.data : "", subject.len,
				  to.data, tolen))
		goto out;
	/* \Q...\E for PCRE2: every byte but [A-Za-z0-9_] escaped */
	{
		struct buf q;

		buf_init(&q, 0);
		for (size_t i = 0; i < tolen; i++) {
			unsigned char c = (unsigned char)to.data[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '_'))
				buf_put(&q, "\\", 1);
			buf_put(&q, (const char *)&c, 1);
		}
		if (strcmp(test, "address") == 0) {
			buf_put(&re, "\\b", 2);
			buf_put(&re, q.data != NULL ? q.data : "", q.len);
			buf_put(&re, "\\b", 2);
		} else {
			const char *parts[] = {
				"^(?:(?:re|fw):\\s*(?:\\w+\\s+)?", "$|(?-i:", ")\\s*[,:;!?-](?:$|\\s)|",
				"$|,\\s*", "[,:;!?-]$)",
			};

			for (size_t k = 0; k < N_ELEMENTS(parts); k++) {
				buf_put(&re, parts[k], strlen(parts[k]));
				if (k + 1 < N_ELEMENTS(parts))
					buf_put(&re, q.data != NULL ? q.data : "", q.len);
			}
		}
		buf_free(&q);
	}
	code = pcre2_compile((PCRE2_SPTR)(re.data != NULL ? re.data : ""), re.len,
			     PCRE2_CASELESS, &err, &off, NULL);
	if (code != NULL) {
		hit = eh_match_re(code, subject.data, subject.len) ? 1 : 0;
		pcre2_code_free(code);
	}
out:
	buf_free(&to);
	buf_free(&subject);
	buf_free(&re);
	return hit;
}

/* check_header_count_range(hdr, min, max): the number of distinct
 * decoded values of the field hdr ($pms->{msg}->get_header in list
 * context, deduplicated) is within [min, max]. */
static unsigned int
eval_check_header_count_range(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct mime_msg *m = msgview_mime(ctx->mv);
	struct strset *uniq;
	struct mime_hdr *h;
	char lname[256];
	size_t pos = 0, n, i;
	double count;

	if (call->arg_count < 3 || m == NULL || m->root == NULL)
		return 0;
	for (i = 0; call->args[0][i] != '\0' && i + 1 < sizeof(lname); i++) {
		char c = call->args[0][i];

		lname[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	lname[i] = '\0';
	/* A set, not a list: a message may carry any number of the field. */
	uniq = strset_new();
	while ((h = mime_hdr_next(m->root, lname, &pos)) != NULL) {
		const char *v = mime_hdr_decoded(m, h, &n);

		(void)strset_add(uniq, v != NULL ? v : "", v != NULL ? n : 0);
	}
	count = (double)strset_count(uniq);
	strset_free(&uniq);
	return count >= call->nums[1] && count <= call->nums[2];
}

/* check_for_faraway_charset_in_headers: an encoded word in From or
 * Subject (raw) names a charset ok_locales does not allow. */
static unsigned int
eval_check_for_faraway_charset_in_headers(struct eval_ctx *ctx, const struct eval_call *call)
{
	static const char *const fields[] = { "From:raw", "Subject:raw" };
	unsigned int hit = 0;
	struct buf v;

	(void)call;
	if (sa_locales_all(ctx->ok_locales) || !eh_init())
		return 0;
	buf_init(&v, 0);
	for (size_t f = 0; f < N_ELEMENTS(fields) && !hit; f++) {
		size_t off = 0;

		/* every value, joined by newlines, which no match crosses */
		eval_header_get(ctx, fields[f], &v);
		while (!hit && off < v.len &&
		       pcre2_match(eh.re[EH_RE_ENCODED_WORD], (PCRE2_SPTR)v.data, v.len, off, 0,
				   eh.md, eh.mctx) >= 0) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(eh.md);

			if (!sa_charset_ok(ctx->ok_locales, v.data + ov[2], ov[3] - ov[2]))
				hit = 1;
			off = ov[1];
		}
	}
	buf_free(&v);
	return hit;
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
	{ "check_illegal_chars", eval_check_illegal_chars, false },
	{ "sorted_recipients", eval_sorted_recipients, false },
	{ "similar_recipients", eval_similar_recipients, false },
	{ "check_unresolved_template", eval_check_unresolved_template, false },
	{ "check_for_to_in_subject", eval_check_for_to_in_subject, false },
	{ "check_header_count_range", eval_check_header_count_range, false },
	{ "check_for_faraway_charset_in_headers", eval_check_for_faraway_charset_in_headers,
	  false },
};

const struct eval_family eval_family_header = {
	eval_header_entries, N_ELEMENTS(eval_header_entries), NULL, 0
};
