/* eval_mime: native versions of SpamAssassin's MIMEEval tests that read
 * the MIME structure (Plugin/MIMEEval.pm): check_for_mime(field),
 * check_for_mime_html, check_for_mime_html_only, check_mime_multipart_ratio,
 * check_msg_parse_flags, check_for_ascii_text_illegal,
 * check_abundant_unicode_ratio, check_qp_ratio, check_ma_non_text,
 * check_base64_length; and a test of another plugin that walks the same
 * tree: BodyEval's multipart_alternative_difference(_count).
 * (check_for_faraway_charset reads the body: eval_body.c.)
 *
 * _check_attachments walks every part in find_parts() order once per
 * message, and every raw line of the leaves, and sets the mime_* fields
 * those tests read; this is a port of it, quirks included:
 *   - mime_qp_count starts as the number of parts declaring
 *     quoted-printable, but once any QP line was seen it becomes the count
 *     of needlessly encoded characters (=20 and friends) instead;
 *   - mime_multipart_alternative is set on the way, so only parts after
 *     the first multipart/alternative count towards mime_multipart_ratio;
 *   - mime_faraway_charset is set by the first part whose charset (with a
 *     letter in it) ok_locales does not allow, and never while ok_locales
 *     holds "all", the default;
 *   - mime_missing_boundary, mime_base64_blanks and mimepart_limit_exceeded
 *     are never set on the per-message status check_for_mime reads: 0.
 * Everything is linear in the message size (one pass over the raw lines,
 * one over the rendered text of the text parts). */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "eval.h"
#include "html.h"
#include "html_int.h"
#include "mime.h"
#include "msgview.h"
#include "rules_int.h"
#include "xalloc.h"

struct eval_mime_state {
	/* _check_attachments */
	unsigned int body_html_count, body_text_count;
	unsigned int base64_count, attachment;
	unsigned long qp_count, qp_bytes, ascii_text_illegal;
	double qp_ratio, text_unicode_ratio, multipart_ratio;
	bool qp_long_line, base64_encoded_text, bad_iso_charset, multipart_alternative;
	bool faraway_charset;
	/* check_base64_length: the longest raw base64 line, "\n" included */
	bool have_base64_length;
	size_t base64_length;
	/* _multipart_alternative_difference */
	bool have_madiff;
	double madiff;
	size_t madiff_html, madiff_text;
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

/* Perl's \s on a byte string. */
static bool
eval_mime_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* One raw body line as Perl holds it: the bytes plus its "\n". */
struct eval_mime_line {
	const unsigned char *p;
	size_t len;		/* without the newline */
	size_t full;		/* length($_) */
};

/* m/=(?:09|3[0-9ABCEF]|[2456][0-9A-F]|7[0-9A-E])/g in list context,
 * then the trailing run of =09/=20 before the final white space, which
 * is not counted (m/((?:=09|=20)+)\s*$/). */
static unsigned long
eval_mime_qp_needless(const struct eval_mime_line *l)
{
	const unsigned char *p = l->p;
	size_t n = l->len, end;
	unsigned long qp = 0, trailing = 0;

	for (size_t i = 0; i + 2 < n; i++) {
		unsigned char a = p[i + 1], b = p[i + 2];
		bool hex = (b >= '0' && b <= '9') || (b >= 'A' && b <= 'F');

		if (p[i] != '=')
			continue;
		if ((a == '0' && b == '9') ||
		    (a == '3' && hex && b != 'D') ||
		    ((a == '2' || a == '4' || a == '5' || a == '6') && hex) ||
		    (a == '7' && hex && b != 'F')) {
			qp++;
			i += 2;
		}
	}
	if (qp == 0)
		return 0;
	end = n;
	while (end > 0 && eval_mime_space(p[end - 1]))
		end--;
	while (end >= 3 && p[end - 3] == '=' &&
	       ((p[end - 2] == '0' && p[end - 1] == '9') ||
		(p[end - 2] == '2' && p[end - 1] == '0'))) {
		trailing++;
		end -= 3;
	}
	return qp - trailing;
}

/* s/&#x[0-9A-F]{4};//g: how many it removes. */
static size_t
eval_mime_unicode_escapes(const struct eval_mime_line *l)
{
	size_t subs = 0;

	for (size_t i = 0; i + 8 <= l->len; i++) {
		const unsigned char *q = l->p + i;
		bool ok = q[0] == '&' && q[1] == '#' && q[2] == 'x' && q[7] == ';';

		for (size_t k = 3; ok && k < 7; k++)
			ok = (q[k] >= '0' && q[k] <= '9') || (q[k] >= 'A' && q[k] <= 'F');
		if (ok) {
			subs++;
			i += 7;
		}
	}
	return subs;
}

static struct eval_mime_line
eval_mime_line(const struct mime_line *ml)
{
	struct eval_mime_line l = { (const unsigned char *)ml->p, ml->len, ml->len };

	if (ml->nl)
		l.full++;
	return l;
}

/* MIMEEval::_check_attachments */
static struct eval_mime_state *
eval_mime_state(struct eval_ctx *ctx)
{
	struct eval_mime_state *st;
	struct mime_msg *msg;
	/* per leaf: its type and the text bytes counted for the ratio
	 * (-1: undefined, an attachment) */
	const char **part_type;
	long *part_bytes;
	size_t parts = 0;
	unsigned long qp_count = 0, qp_bytes = 0, normal_chars = 0, unicode_chars = 0;

	if (ctx->mime != NULL)
		return ctx->mime;
	st = xcalloc(1, sizeof(*st));
	ctx->mime = st;
	st->multipart_ratio = 1.0;
	msg = msgview_mime(ctx->mv);
	part_type = xcalloc(msg->nnodes + 1, sizeof(*part_type));
	part_bytes = xcalloc(msg->nnodes + 1, sizeof(*part_bytes));
	for (size_t i = 0; i < msg->nnodes; i++) {
		struct mime_node *node = msg->nodes[i];
		struct mime_hdr *cth = mime_hdr_last(node, "content-type");
		const char *ctype = "text/plain", *boundary = NULL, *charset_raw = NULL, *name = NULL;
		char *cte, *cd, *charset;
		const char *ct_value = NULL;
		size_t ct_len = 0, part;
		bool attach, qp_lines, ascii_check, unicode_check, count_bytes;

		if (cth != NULL)
			ct_value = mime_hdr_decoded(msg, cth, &ct_len);
		(void)mime_parse_content_type(msg, ct_value, ct_len, &ctype, &boundary,
					      &charset_raw, &name);
		if (strcmp(ctype, "multipart/alternative") == 0)
			st->multipart_alternative = true;
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
		attach = strstr(cd, "attachment") != NULL;
		if (cd[0] != '\0' && attach)
			st->attachment++;
		if (strncmp(ctype, "text", 4) == 0 && strstr(cte, "base64") != NULL &&
		    (charset[0] == '\0' || eval_mime_ascii_charset(charset)) &&
		    !(cd[0] != '\0' && (strncmp(cd, "attachment", 10) == 0 ||
					strncmp(cd, "inline", 6) == 0)))
			st->base64_encoded_text = true;
		if (eval_mime_bad_iso(charset))
			st->bad_iso_charset = true;
		/* (charset is lowercased: /[a-z]/i) */
		if (!st->faraway_charset && strpbrk(charset, "abcdefghijklmnopqrstuvwxyz") != NULL &&
		    !sa_locales_all(ctx->ok_locales) &&
		    !sa_charset_ok(ctx->ok_locales, charset, strlen(charset)))
			st->faraway_charset = true;

		/* the raw lines of the leaves */
		if (node->has_kids)
			goto next;
		part = parts++;
		part_type[part] = ctype;
		part_bytes[part] = attach ? -1 : 0;
		count_bytes = !attach && (strcmp(ctype, "text/plain") == 0 ||
					  strcmp(ctype, "text/html") == 0);
		qp_lines = strcmp(cte, "quoted-printable") == 0;
		ascii_check = strcmp(ctype, "text/plain") == 0 &&
			(charset_raw == NULL || strcmp(charset, "us-ascii") == 0);
		unicode_check = strcmp(ctype, "text/plain") == 0 &&
			(cte[0] == '\0' || strcmp(cte, "7bit") == 0 || strcmp(cte, "8bit") == 0);
		for (size_t k = 0; k < node->nlines; k++) {
			struct eval_mime_line l = eval_mime_line(&node->lines[k]);

			if (st->multipart_alternative && count_bytes)
				part_bytes[part] += (long)l.full;
			if (qp_lines && !(l.len >= 6 && memcmp(l.p, "SPAM: ", 6) == 0)) {
				/* RFC 5322's 78, plus the newline */
				if (l.full > 78 + 1)
					st->qp_long_line = true;
				qp_bytes += l.full;
				if (memchr(l.p, '=', l.len) != NULL)
					qp_count += eval_mime_qp_needless(&l);
			}
			if (ascii_check) {
				for (size_t j = 0; j < l.len; j++)
					if (l.p[j] == 0 || l.p[j] == '\r' || l.p[j] >= 0x80) {
						st->ascii_text_illegal++;
						break;
					}
			}
			if (unicode_check) {
				size_t subs = eval_mime_unicode_escapes(&l);

				normal_chars += l.full - 8 * subs;
				unicode_chars += subs;
			}
		}
next:
		free(cte);
		free(cd);
		free(charset);
	}
	if (qp_bytes > 0) {
		st->qp_ratio = (double)qp_count / (double)qp_bytes;
		st->qp_count = qp_count;
		st->qp_bytes = qp_bytes;
	}
	if (normal_chars > 0)
		st->text_unicode_ratio = (double)unicode_chars / (double)normal_chars;
	if (st->multipart_alternative) {
		long text = -1, html = -1;

		/* bug 4207: the sizes of the last parts */
		for (size_t i = parts; i-- > 0;) {
			if (part_bytes[i] < 0)
				continue;
			if (html < 0 && strcmp(part_type[i], "text/html") == 0)
				html = part_bytes[i];
			else if (text < 0 && strcmp(part_type[i], "text/plain") == 0)
				text = part_bytes[i];
			if (html >= 0 && text >= 0)
				break;
		}
		if (text >= 0 && html > 0)
			st->multipart_ratio = (double)text / (double)html;
	}
	free(part_type);
	free(part_bytes);
	return st;
}

static const char *
eval_mime_arg(const struct eval_call *call, size_t i)
{
	return i < call->arg_count ? call->args[i] : "";
}

/* Perl's numeric value of a string: a decimal prefix, else 0. */
static double
eval_mime_num(const char *s)
{
	const char *p = s;
	char *end;
	double v;

	while (eval_mime_space((unsigned char)*p))
		p++;
	if (*p == '+' || *p == '-')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		return 0;
	v = strtod(s, &end);
	return end == s ? 0 : v;
}

static unsigned int
eval_check_for_mime(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct eval_mime_state *st = eval_mime_state(ctx);
	const char *field = eval_mime_arg(call, 0);

	if (strcmp(field, "mime_base64_count") == 0)
		return st->base64_count > 0;
	if (strcmp(field, "mime_qp_count") == 0)
		return st->qp_count > 0;
	if (strcmp(field, "mime_qp_bytes") == 0)
		return st->qp_bytes > 0;
	if (strcmp(field, "mime_qp_long_line") == 0)
		return st->qp_long_line;
	if (strcmp(field, "mime_qp_ratio") == 0)
		return st->qp_ratio != 0;
	if (strcmp(field, "mime_attachment") == 0)
		return st->attachment > 0;
	if (strcmp(field, "mime_base64_encoded_text") == 0)
		return st->base64_encoded_text;
	if (strcmp(field, "mime_bad_iso_charset") == 0)
		return st->bad_iso_charset;
	if (strcmp(field, "mime_faraway_charset") == 0)
		return st->faraway_charset;
	if (strcmp(field, "mime_body_html_count") == 0)
		return st->body_html_count > 0;
	if (strcmp(field, "mime_body_text_count") == 0)
		return st->body_text_count > 0;
	if (strcmp(field, "mime_multipart_alternative") == 0)
		return st->multipart_alternative;
	if (strcmp(field, "mime_multipart_ratio") == 0)
		return st->multipart_ratio != 0;
	if (strcmp(field, "mime_ascii_text_illegal") == 0)
		return st->ascii_text_illegal > 0;
	if (strcmp(field, "mime_text_unicode_ratio") == 0)
		return st->text_unicode_ratio != 0;
	/* mime_missing_boundary, mime_base64_blanks,
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

static unsigned int
eval_check_mime_multipart_ratio(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct eval_mime_state *st = eval_mime_state(ctx);

	return st->multipart_ratio >= eval_mime_num(eval_mime_arg(call, 0)) &&
		st->multipart_ratio < eval_mime_num(eval_mime_arg(call, 1));
}

static unsigned int
eval_check_for_ascii_text_illegal(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return eval_mime_state(ctx)->ascii_text_illegal > 0;
}

/* The ratio must look like /^\d{0,3}\.\d{1,3}$/. */
static unsigned int
eval_check_abundant_unicode_ratio(struct eval_ctx *ctx, const struct eval_call *call)
{
	const char *r = eval_mime_arg(call, 0);
	size_t ip = strspn(r, "0123456789"), fp;

	if (ip > 3 || r[ip] != '.')
		return 0;
	fp = strspn(r + ip + 1, "0123456789");
	if (fp < 1 || fp > 3 || !(r[ip + 1 + fp] == '\0' ||
				  (r[ip + 1 + fp] == '\n' && r[ip + 2 + fp] == '\0')))
		return 0;
	return eval_mime_state(ctx)->text_unicode_ratio >= eval_mime_num(r);
}

static unsigned int
eval_check_qp_ratio(struct eval_ctx *ctx, const struct eval_call *call)
{
	return eval_mime_state(ctx)->qp_ratio >= eval_mime_num(eval_mime_arg(call, 0));
}

/* $pms->{msg}->{$type} is defined: the parser's flags. */
static unsigned int
eval_check_msg_parse_flags(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct mime_flags *f = &msgview_mime(ctx->mv)->flags;
	const char *t = eval_mime_arg(call, 0);

	if (strcmp(t, "missing_head_body_separator") == 0)
		return f->missing_head_body_separator;
	if (strcmp(t, "missing_mime_headers") == 0)
		return f->missing_mime_headers;
	if (strcmp(t, "missing_mime_head_body_separator") == 0)
		return f->missing_mime_head_body_separator;
	if (strcmp(t, "mime_epilogue_exists") == 0)
		return f->mime_epilogue_exists;
	if (strcmp(t, "mimepart_limit_exceeded") == 0)
		return f->mimepart_limit_exceeded;
	if (strcmp(t, "truncated_header") == 0)
		return f->truncated_header;
	return 0;
}

/* A direct leaf child of a multipart/alternative that is neither text,
 * multipart/related nor application/rtf.  find_parts(qr/./, 1, 0) looks
 * one level down only, and returns the container itself if it is a
 * leaf. */
static bool
eval_mime_ma_non_text_leaf(const struct mime_node *p)
{
	return strcasecmp(p->type, "multipart/related") != 0 &&
		strcasecmp(p->type, "application/rtf") != 0 &&
		strncasecmp(p->type, "text/", 5) != 0;
}

static unsigned int
eval_check_ma_non_text(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct mime_msg *msg = msgview_mime(ctx->mv);

	(void)call;
	for (size_t i = 0; i < msg->nnodes; i++) {
		const struct mime_node *map = msg->nodes[i];

		if (strcmp(map->type, "multipart/alternative") != 0)
			continue;
		if (!map->has_kids) {
			if (eval_mime_ma_non_text_leaf(map))
				return 1;
			continue;
		}
		for (size_t k = 0; k < map->nkids; k++)
			if (!map->kids[k]->has_kids && eval_mime_ma_non_text_leaf(map->kids[k]))
				return 1;
	}
	return 0;
}

/* MIMEEval::_check_base64_length: the longest raw line of a leaf whose
 * Content-Transfer-Encoding is exactly base64 (not application/ics). */
static size_t
eval_mime_base64_length(struct eval_ctx *ctx)
{
	struct eval_mime_state *st = eval_mime_state(ctx);
	struct mime_msg *msg;

	if (st->have_base64_length)
		return st->base64_length;
	st->have_base64_length = true;
	msg = msgview_mime(ctx->mv);
	for (size_t i = 0; i < msg->nnodes; i++) {
		struct mime_node *node = msg->nodes[i];
		struct mime_hdr *cth;
		const char *ctype = "text/plain", *boundary, *charset, *name, *ct_value = NULL;
		size_t ct_len = 0;
		char *cte;
		bool b64;

		if (node->has_kids)
			continue;
		cth = mime_hdr_last(node, "content-type");
		if (cth != NULL)
			ct_value = mime_hdr_decoded(msg, cth, &ct_len);
		(void)mime_parse_content_type(msg, ct_value, ct_len, &ctype, &boundary,
					      &charset, &name);
		if (strcmp(ctype, "application/ics") == 0)
			continue;
		cte = eval_mime_header_lc(msg, node, "content-transfer-encoding");
		b64 = strcmp(cte, "base64") == 0;
		free(cte);
		if (!b64)
			continue;
		for (size_t k = 0; k < node->nlines; k++) {
			size_t len = eval_mime_line(&node->lines[k]).full;

			if (len > st->base64_length)
				st->base64_length = len;
		}
	}
	return st->base64_length;
}

static unsigned int
eval_check_base64_length(struct eval_ctx *ctx, const struct eval_call *call)
{
	double len = (double)eval_mime_base64_length(ctx);

	if (call->arg_count > 1 && len > eval_mime_num(call->args[1]))
		return 0;
	return len >= eval_mime_num(eval_mime_arg(call, 0));
}

/* ---- BodyEval::multipart_alternative_difference ---- */

/* The count of each whitespace-separated token with a word character
 * (grep(/\w/, split(/\s+/, $rnd))), keyed in UTF-8 so that a Latin-1
 * byte string and a character string compare as Perl's hash keys do. */
static void
eval_mime_tokens(const char *text, size_t len, bool utf8, struct smap *counts)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0;
	struct mime_str key = { 0 };

	while (i < len) {
		size_t start, end, adv;
		bool word = false;

		/* skip white space */
		while (i < len) {
			uint32_t c = utf8 ? get_utf8(p + i, len - i, &adv) : (adv = 1, p[i]);

			if (!(utf8 ? uni_space(c) : eval_mime_space((unsigned char)c)))
				break;
			i += adv;
		}
		start = i;
		while (i < len) {
			uint32_t c = utf8 ? get_utf8(p + i, len - i, &adv) : (adv = 1, p[i]);

			if (utf8 ? uni_space(c) : eval_mime_space((unsigned char)c))
				break;
			if (!word)
				word = html_perl_word(c, utf8);
			i += adv;
		}
		end = i;
		if (end == start || !word)
			continue;
		key.len = 0;
		/* NUL as the overlong C0 80: map keys are C strings */
		for (size_t k = start; k < end; k++) {
			if (p[k] == 0) {
				mime_str_add(&key, "\xc0\x80", 2);
			} else if (utf8) {
				mime_str_addc(&key, (char)p[k]);
			} else {
				if (p[k] < 0x80) {
					mime_str_addc(&key, (char)p[k]);
				} else {
					mime_str_addc(&key, (char)(0xc0 | (p[k] >> 6)));
					mime_str_addc(&key, (char)(0x80 | (p[k] & 0x3f)));
				}
			}
		}
		html_smap_find(counts, key.p, key.len, true, NULL)->val++;
	}
	mime_str_free(&key);
}

/* n is top or a part below it.  A subtree is contiguous in the
 * find_parts (pre-order) list, so $part->find_parts() is the run of
 * msg->nodes from top while this holds. */
static bool
eval_mime_below(const struct mime_node *top, const struct mime_node *n)
{
	for (size_t depth = 0; n != NULL && depth < 1000; n = n->parent, depth++)
		if (n == top)
			return true;
	return false;
}

static void
eval_mime_madiff(struct eval_ctx *ctx)
{
	struct eval_mime_state *st = eval_mime_state(ctx);
	struct mime_msg *msg = msgview_mime(ctx->mv);
	const struct mime_node *root = msg->root;
	bool any = false;

	if (st->have_madiff)
		return;
	st->have_madiff = true;
	for (size_t i = 0; i < msg->nnodes; i++)
		if (strncmp(msg->nodes[i]->type, "multipart/alternative", 21) == 0 &&
		    !html_perl_word((unsigned char)msg->nodes[i]->type[21], false))
			any = true;
	if (!any || root == NULL)
		return;
	/* Exchange meeting requests: content_summary() is exactly
	 * (multipart/alternative, text/html, text/calendar). */
	if (strcmp(root->type, "multipart/alternative") == 0 && root->nkids == 2 &&
	    root->kids[0]->nkids == 0 && strcmp(root->kids[0]->type, "text/html") == 0 &&
	    root->kids[1]->nkids == 0 && strcmp(root->kids[1]->type, "text/calendar") == 0)
		return;
	for (size_t i = 0; i < msg->nnodes; i++) {
		const struct mime_node *ma = msg->nodes[i];
		struct smap html = { 0 }, text = { 0 };
		size_t orig = 0, left = 0;

		if (!(strncmp(ma->type, "multipart/alternative", 21) == 0 &&
		      !html_perl_word((unsigned char)ma->type[21], false)))
			continue;
		for (size_t k = i; k < msg->nnodes && eval_mime_below(ma, msg->nodes[k]); k++) {
			struct mime_node *t = msg->nodes[k];
			const char *type, *rnd;
			size_t len;
			bool utf8;

			if (!(strncmp(t->type, "text", 4) == 0 &&
			      !html_perl_word((unsigned char)t->type[4], false)))
				continue;
			rnd = mime_rendered(msg, t, &len, &utf8, &type);
			if (type == NULL)
				continue;
			if (strcmp(type, "text/html") == 0) {
				eval_mime_tokens(rnd, len, utf8, &html);
				/* no words but an image: "\n" marks it */
				if (html.n == 0 && t->html != NULL && html_inside(t->html, "img") >= 0)
					html_smap_find(&html, "\n", 1, true, NULL)->val = 1;
			} else {
				eval_mime_tokens(rnd, len, utf8, &text);
			}
		}
		orig = html.n;
		if (orig > 0) {
			st->madiff_html = orig;
			st->madiff_text = text.n;
			/* a token left when the HTML has it more often than the text */
			for (size_t k = 0; k < html.cap; k++) {
				const struct smap_ent *e = &html.v[k], *te;

				if (e->key == NULL)
					continue;
				te = html_smap_find(&text, e->key, e->len, false, NULL);
				if (te == NULL || e->val - te->val >= 1)
					left++;
			}
			if ((double)left / (double)orig * 100 > st->madiff)
				st->madiff = (double)left / (double)orig * 100;
		}
		html_smap_free(&html);
		html_smap_free(&text);
	}
}

static unsigned int
eval_multipart_alternative_difference(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct eval_mime_state *st;
	const char *max = eval_mime_arg(call, 1);
	double min = eval_mime_num(eval_mime_arg(call, 0));

	eval_mime_madiff(ctx);
	st = ctx->mime;
	return (min == 0 || st->madiff > min) &&
		(strcmp(max, "undef") == 0 || st->madiff <= eval_mime_num(max));
}

static unsigned int
eval_multipart_alternative_difference_count(struct eval_ctx *ctx,
					    const struct eval_call *call)
{
	const struct eval_mime_state *st;

	eval_mime_madiff(ctx);
	st = ctx->mime;
	if (!((double)st->madiff_html > eval_mime_num(eval_mime_arg(call, 1))))
		return 0;
	return (double)st->madiff_text / (double)st->madiff_html >
		eval_mime_num(eval_mime_arg(call, 0));
}

static const struct eval_entry eval_mime_entries[] = {
	{ "check_for_mime", eval_check_for_mime, false },
	{ "check_for_mime_html", eval_check_for_mime_html, false },
	{ "check_for_mime_html_only", eval_check_for_mime_html_only, false },
	{ "check_mime_multipart_ratio", eval_check_mime_multipart_ratio, false },
	{ "check_msg_parse_flags", eval_check_msg_parse_flags, false },
	{ "check_for_ascii_text_illegal", eval_check_for_ascii_text_illegal, false },
	{ "check_abundant_unicode_ratio", eval_check_abundant_unicode_ratio, false },
	{ "check_qp_ratio", eval_check_qp_ratio, false },
	{ "check_ma_non_text", eval_check_ma_non_text, false },
	{ "check_base64_length", eval_check_base64_length, false },
	{ "multipart_alternative_difference", eval_multipart_alternative_difference, false },
	{ "multipart_alternative_difference_count",
	  eval_multipart_alternative_difference_count, false },
};

static const char *const eval_mime_can[] = {
	"Mail::SpamAssassin::Plugin::MIMEEval::has_check_for_ascii_text_illegal",
	"Mail::SpamAssassin::Plugin::MIMEEval::has_check_abundant_unicode_ratio",
	"Mail::SpamAssassin::Plugin::MIMEEval::has_check_qp_ratio",
};

const struct eval_family eval_family_mime = {
	eval_mime_entries, N_ELEMENTS(eval_mime_entries),
	eval_mime_can, N_ELEMENTS(eval_mime_can)
};
