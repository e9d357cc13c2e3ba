/* eval_mime: native versions of SpamAssassin's MIMEEval tests that read
 * the MIME structure (Plugin/MIMEEval.pm): check_for_mime(field),
 * check_for_mime_html, check_for_mime_html_only.
 *
 * _check_attachments walks every part in find_parts() order once per
 * message and sets the mime_* fields those tests read; this is a port of
 * the parts of it they need, quirks included:
 *   - the per-line quoted-printable analysis never runs: it compares
 *     $cte with "quoted-printable", but Node::get_header() hands back the
 *     value with two newlines and one chomp leaves one, so the comparison
 *     is never true (checked against SpamAssassin 4.0 itself).  Hence
 *     mime_qp_count is the number of parts declaring quoted-printable and
 *     mime_qp_long_line is never set;
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
	unsigned int qp_count;
	bool base64_encoded_text, bad_iso_charset;
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

static struct eval_mime_state *
eval_mime_state(struct eval_ctx *ctx)
{
	struct eval_mime_state *st;
	struct mime_msg *msg;

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

		free(cte);
		free(cd);
		free(charset);
	}
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
		return st->qp_count > 0;
	if (strcmp(field, "mime_attachment") == 0)
		return st->attachment > 0;
	if (strcmp(field, "mime_base64_encoded_text") == 0)
		return st->base64_encoded_text;
	if (strcmp(field, "mime_bad_iso_charset") == 0)
		return st->bad_iso_charset;
	if (strcmp(field, "mime_body_html_count") == 0)
		return st->body_html_count > 0;
	if (strcmp(field, "mime_body_text_count") == 0)
		return st->body_text_count > 0;
	/* mime_qp_long_line, mime_faraway_charset, mime_base64_blanks,
	 * mimepart_limit_exceeded and anything unknown: never set (see the
	 * top of the file). */
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
