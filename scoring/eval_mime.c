/* eval_mime: native versions of SpamAssassin's MIMEEval tests that read
 * the MIME structure (Plugin/MIMEEval.pm): check_for_mime(field),
 * check_for_mime_html, check_for_mime_html_only.
 *
 * _check_attachments walks every part in find_parts() order once per
 * message and sets the mime_* fields those tests read; this is a port of
 * the parts of it they need, quirks included:
 *   - mime_qp_count counts quoted-printable parts from the headers, but is
 *     replaced by the number of needlessly encoded bytes once any QP line
 *     was seen (so a QP part with no such byte does not count);
 *   - mime_faraway_charset stays 0: with ok_locales "all" (the default,
 *     and lmtpd has no locale setting) SpamAssassin never sets it;
 *   - mime_base64_blanks and mimepart_limit_exceeded are never set on the
 *     per-message status SpamAssassin reads them from, so they never hit. */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "eval.h"
#include "mime.h"
#include "msgview.h"
#include "rules_int.h"
#include "xalloc.h"

struct eval_mime_state {
	unsigned int body_html_count, body_text_count;
	unsigned int base64_count, attachment;
	double qp_count;
	bool base64_encoded_text, bad_iso_charset, qp_long_line;
};

void
eval_mime_state_free(struct eval_mime_state **state)
{
	free(*state);
	*state = NULL;
}

/* Node::get_header(name) in scalar context, chomped and lowercased (as
 * _check_attachments uses it); "" when absent. */
static char *
eval_mime_header_lc(struct mime_msg *msg, struct mime_node *node, const char *lname)
{
	struct mime_hdr *h = mime_hdr_last(node, lname);
	const char *v;
	size_t len;
	char *out;

	if (h == NULL)
		return xstrdup("");
	v = mime_hdr_decoded(msg, h, &len);
	out = xstrndup(v, len);
	for (char *p = out; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return out;
}

/* /(?:us-ascii|ansi_x3\.4-1968|...|csascii)/ unanchored, on a lowercased
 * charset. */
static bool
eval_mime_ascii_charset(const char *charset)
{
	static const char *const names[] = {
		"us-ascii", "ansi_x3.4-1968", "iso-ir-6", "ansi_x3.4-1986",
		"iso_646.irv:1991", "ascii", "iso646-us", "us", "ibm367", "cp367",
		"csascii",
	};

	for (size_t i = 0; i < N_ELEMENTS(names); i++)
		if (strstr(charset, names[i]) != NULL)
			return true;
	return false;
}

static bool
eval_mime_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* $charset =~ /iso-\S+-\S+\b/i &&
 * $charset !~ /iso-(?:8859-\d{1,2}|2022-(?:jp|kr))\b/, with PCRE2 so the
 * backtracking is Perl's. */
static bool
eval_mime_bad_iso(const char *cs)
{
	static pcre2_code *bad, *good;
	static pcre2_match_data *md;
	size_t len = strlen(cs);
	int err;
	PCRE2_SIZE off;

	if (strstr(cs, "iso-") == NULL)
		return false;
	if (md == NULL) {
		bad = pcre2_compile((PCRE2_SPTR) "iso-\\S+-\\S+\\b", PCRE2_ZERO_TERMINATED,
				    PCRE2_CASELESS, &err, &off, NULL);
		good = pcre2_compile((PCRE2_SPTR) "iso-(?:8859-\\d{1,2}|2022-(?:jp|kr))\\b",
				     PCRE2_ZERO_TERMINATED, 0, &err, &off, NULL);
		md = pcre2_match_data_create(4, NULL);
		if (bad == NULL || good == NULL || md == NULL)
			return false;
	}
	return pcre2_match(bad, (PCRE2_SPTR)cs, len, 0, 0, md, NULL) >= 0 &&
		pcre2_match(good, (PCRE2_SPTR)cs, len, 0, 0, md, NULL) < 0;
}

/* MIMEEval's qp test: /=(?:09|3[0-9ABCEF]|[2456][0-9A-F]|7[0-9A-E])/g. */
static unsigned int
eval_mime_needless_qp(const char *p, size_t len)
{
	unsigned int n = 0;

	for (size_t i = 0; i + 2 < len; i++) {
		char a = p[i + 1], b = p[i + 2];
		bool hex_upper = (b >= '0' && b <= '9') || (b >= 'A' && b <= 'F');

		if (p[i] != '=')
			continue;
		if ((a == '0' && b == '9') ||
		    (a == '3' && ((b >= '0' && b <= '9') || (b >= 'A' && b <= 'C') ||
				  b == 'E' || b == 'F')) ||
		    ((a == '2' || a == '4' || a == '5' || a == '6') && hex_upper) ||
		    (a == '7' && ((b >= '0' && b <= '9') || (b >= 'A' && b <= 'E')))) {
			n++;
			i += 2;
		}
	}
	return n;
}

/* m/((?:=09|=20)+)\s*$/: the length of the run of =09/=20 that only
 * white space follows to the end of the line, 0 if none. */
static size_t
eval_mime_trailing_qp_space(const char *p, size_t len)
{
	size_t end = len, start;

	/* $ matches at the end or before a final newline; \s* covers both. */
	while (end > 0 && eval_mime_is_space(p[end - 1]))
		end--;
	start = end;
	while (start >= 3 && p[start - 3] == '=' &&
	       ((p[start - 2] == '0' && p[start - 1] == '9') ||
		(p[start - 2] == '2' && p[start - 1] == '0')))
		start -= 3;
	return end - start;
}

static struct eval_mime_state *
eval_mime_state(struct eval_ctx *ctx)
{
	struct eval_mime_state *st;
	struct mime_msg *msg;
	double qp_bytes = 0, qp_count = 0;

	if (ctx->mime != NULL)
		return ctx->mime;
	st = xcalloc(1, sizeof(*st));
	ctx->mime = st;
	msg = msgview_mime(ctx->mv);
	for (size_t i = 0; i < msg->nnodes; i++) {
		struct mime_node *node = msg->nodes[i];
		struct mime_hdr *cth = mime_hdr_last(node, "content-type");
		const char *ctype = "text/plain", *boundary = NULL, *charset_raw = NULL, *name = NULL;
		char *cte, *cd, *charset;
		const char *ct_value = NULL;
		size_t ct_len = 0;

		if (cth != NULL)
			ct_value = mime_hdr_decoded(msg, cth, &ct_len);
		(void)mime_parse_content_type(msg, ct_value, ct_len, &ctype, &boundary,
					      &charset_raw, &name);
		cte = eval_mime_header_lc(msg, node, "content-transfer-encoding");
		cd = eval_mime_header_lc(msg, node, "content-disposition");
		charset = xstrdup(charset_raw != NULL ? charset_raw : "");
		for (char *p = charset; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');

		/* _check_mime_header */
		if (strcmp(ctype, "text/html") == 0)
			st->body_html_count++;
		else if (strncasecmp(ctype, "text", 4) == 0)
			st->body_text_count++;
		if (strstr(cte, "base64") != NULL)
			st->base64_count++;
		else if (strstr(cte, "quoted-printable") != NULL)
			st->qp_count++;
		if (cd[0] != '\0' && strstr(cd, "attachment") != NULL)
			st->attachment++;
		if (strncmp(ctype, "text", 4) == 0 && strstr(cte, "base64") != NULL &&
		    (charset[0] == '\0' || eval_mime_ascii_charset(charset)) &&
		    !(cd[0] != '\0' && (strncmp(cd, "attachment", 10) == 0 ||
					strncmp(cd, "inline", 6) == 0)))
			st->base64_encoded_text = true;
		if (eval_mime_bad_iso(charset))
			st->bad_iso_charset = true;

		/* The raw lines of the leaves. */
		if (!node->has_kids && strcmp(cte, "quoted-printable") == 0) {
			for (size_t l = 0; l < node->nlines; l++) {
				const struct mime_line *line = &node->lines[l];
				size_t len = line->len + (line->nl ? 1 : 0);

				if (line->len >= 6 && memcmp(line->p, "SPAM: ", 6) == 0)
					continue;
				if (len > 78 + 1)
					st->qp_long_line = true;
				qp_bytes += (double)len;
				if (memchr(line->p, '=', line->len) != NULL) {
					unsigned int qp = eval_mime_needless_qp(line->p, line->len);

					if (qp > 0) {
						qp_count += qp;
						qp_count -= (double)eval_mime_trailing_qp_space(
							line->p, line->len) / 3;
					}
				}
			}
		}
		free(cte);
		free(cd);
		free(charset);
	}
	if (qp_bytes > 0)
		st->qp_count = qp_count;
	return st;
}

static const char *
eval_mime_arg(const struct eval_call *call)
{
	return call->arg_count > 0 ? call->args[0] : "";
}

static unsigned int
eval_check_for_mime(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct eval_mime_state *st = eval_mime_state(ctx);
	const char *field = eval_mime_arg(call);

	if (strcmp(field, "mime_base64_count") == 0)
		return st->base64_count > 0;
	if (strcmp(field, "mime_qp_count") == 0)
		return st->qp_count != 0;
	if (strcmp(field, "mime_attachment") == 0)
		return st->attachment > 0;
	if (strcmp(field, "mime_base64_encoded_text") == 0)
		return st->base64_encoded_text;
	if (strcmp(field, "mime_bad_iso_charset") == 0)
		return st->bad_iso_charset;
	if (strcmp(field, "mime_qp_long_line") == 0)
		return st->qp_long_line;
	if (strcmp(field, "mime_body_html_count") == 0)
		return st->body_html_count > 0;
	if (strcmp(field, "mime_body_text_count") == 0)
		return st->body_text_count > 0;
	/* mime_faraway_charset, mime_base64_blanks, mimepart_limit_exceeded
	 * and anything unknown: never set (see the top of the file). */
	return 0;
}

/* $pms->get('Content-Type') =~ m{^text/html}i */
static bool
eval_mime_top_is_html(struct eval_ctx *ctx)
{
	struct buf v;
	bool html;

	buf_init(&v, 0);
	html = msgview_get(ctx->mv, "Content-Type", &v) && v.len >= 9 &&
		strncasecmp(v.data, "text/html", 9) == 0;
	buf_free(&v);
	return html;
}

static unsigned int
eval_check_for_mime_html(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	if (eval_mime_top_is_html(ctx))
		return 1;
	return eval_mime_state(ctx)->body_html_count > 0;
}

static unsigned int
eval_check_for_mime_html_only(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct eval_mime_state *st;

	(void)call;
	if (eval_mime_top_is_html(ctx))
		return 1;
	st = eval_mime_state(ctx);
	return st->body_html_count > 0 && st->body_text_count == 0;
}

static const struct eval_entry eval_mime_entries[] = {
	{ "check_for_mime", eval_check_for_mime, false },
	{ "check_for_mime_html", eval_check_for_mime_html, false },
	{ "check_for_mime_html_only", eval_check_for_mime_html_only, false },
};

const struct eval_family eval_family_mime = {
	eval_mime_entries, N_ELEMENTS(eval_mime_entries), NULL, 0
};
