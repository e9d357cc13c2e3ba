/* eval_html: native versions of SpamAssassin's HTMLEval tests
 * (Plugin/HTMLEval.pm) over the results of HTML.pm for every text/html
 * part ($pms->{html_all}, msgview_html() here): html_test, html_range,
 * html_eval, html_tag_exists, html_tag_balance, html_text_match,
 * html_text_not_match, html_image_only, html_image_ratio,
 * html_title_subject_ratio, html_charset_faraway, check_iframe_src.  A test
 * hits when any HTML part satisfies it, as there.  html_charset_faraway is
 * always false, as in SpamAssassin 4.0: it reads a "charsets" key of each
 * part's results, which HTML.pm keeps in its parser only (get_results()
 * leaves it out of html_all), whatever ok_locales says. */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "eval.h"
#include "html.h"
#include "msgview.h"
#include "rules_int.h"

static const char *
eval_html_arg(const struct eval_call *call, size_t i)
{
	return i < call->arg_count ? call->args[i] : "";
}

/* The scalar results html_test reads; false for a name HTML.pm does not
 * set (or lmtpd does not keep). */
static bool
eval_html_flag(const struct html_result *h, const char *test)
{
	if (strcmp(test, "html") == 0)
		return true;	/* html_start() puts html => 1 */
	if (strcmp(test, "font_low_contrast") == 0)
		return h->font_low_contrast;
	if (strcmp(test, "font_invalid_color") == 0)
		return h->font_invalid_color;
	if (strcmp(test, "font_face_bad") == 0)
		return h->font_face_bad;
	if (strcmp(test, "form_action_mailto") == 0)
		return h->form_action_mailto;
	if (strcmp(test, "embeds") == 0)
		return h->embeds;
	if (strcmp(test, "closed_html") == 0)
		return h->closed_html;
	if (strcmp(test, "closed_body") == 0)
		return h->closed_body;
	return false;
}

/* The numeric results html_range reads; false when undefined. */
static bool
eval_html_value(const struct html_result *h, const char *test, double *v)
{
	if (strcmp(test, "length") == 0)
		*v = (double)h->length;
	else if (strcmp(test, "max_size") == 0)
		*v = h->max_size;
	else if (strcmp(test, "min_size") == 0)
		*v = h->min_size;
	else if (strcmp(test, "image_area") == 0)
		*v = (double)h->image_area;
	else if (strcmp(test, "closed_extra_ratio") == 0 && h->has_closed_extra_ratio)
		*v = h->closed_extra_ratio;
	else if (strcmp(test, "bad_tag_ratio") == 0 && h->has_bad_tag_ratio)
		*v = h->bad_tag_ratio;
	else if (strcmp(test, "non_element_ratio") == 0 && h->has_non_element_ratio)
		*v = h->non_element_ratio;
	else if (strcmp(test, "obfuscation_ratio") == 0 && h->has_obfuscation_ratio)
		*v = h->obfuscation_ratio;
	else if (strcmp(test, "backhair_count") == 0 && h->has_backhair_count)
		*v = (double)h->backhair_count;
	/* Node::rendered's additions */
	else if (strcmp(test, "html_length") == 0)
		*v = (double)h->html_length;
	else if (strcmp(test, "non_space_len") == 0)
		*v = (double)h->non_space_len;
	else if (strcmp(test, "ratio") == 0 && h->has_ratio)
		*v = h->ratio;
	else
		return false;
	return true;
}

static unsigned int
eval_html_test(struct eval_ctx *ctx, const struct eval_call *call)
{
	size_t n;
	const struct html_result *const *all = msgview_html(ctx->mv, &n);

	for (size_t i = 0; i < n; i++)
		if (eval_html_flag(all[i], eval_html_arg(call, 0)))
			return 1;
	return 0;
}

static unsigned int
eval_html_range(struct eval_ctx *ctx, const struct eval_call *call)
{
	size_t n;
	const struct html_result *const *all = msgview_html(ctx->mv, &n);
	const char *max_text = eval_html_arg(call, 2);
	double min = strtod(eval_html_arg(call, 1), NULL);
	bool no_max = call->arg_count < 3 || strcmp(max_text, "inf") == 0;
	double max = no_max ? 0 : strtod(max_text, NULL);

	for (size_t i = 0; i < n; i++) {
		double v;

		if (!eval_html_value(all[i], eval_html_arg(call, 0), &v))
			continue;
		if (no_max ? v > min : v > min && v <= max)
			return 1;
	}
	return 0;
}

static unsigned int
eval_html_tag_exists(struct eval_ctx *ctx, const struct eval_call *call)
{
	size_t n;
	const struct html_result *const *all = msgview_html(ctx->mv, &n);

	for (size_t i = 0; i < n; i++)
		if (html_inside(all[i], eval_html_arg(call, 0)) >= 0)
			return 1;
	return 0;
}

/* "$val $expr" for the expressions HTMLEval lets through
 * (/^[<>=!\-+ 0-9]+$/): a comparison operator and an integer. html_eval's
 * values need not be integers; html_tag_balance's tag counts are, and
 * are far below 2^53, so they compare exactly as doubles too. */
static bool
eval_html_compare(double val, const char *expr, bool *ok)
{
	static const char *const ops[] = { "==", "!=", "<=", ">=", "<", ">" };
	const char *p = expr;
	char *end;
	double rhs;

	*ok = false;
	while (*p == ' ')
		p++;
	for (size_t k = 0; k < N_ELEMENTS(ops); k++) {
		size_t len = strlen(ops[k]);

		if (strncmp(p, ops[k], len) != 0)
			continue;
		rhs = (double)strtol(p + len, &end, 10);
		while (*end == ' ')
			end++;
		if (end == p + len || *end != '\0')
			return false;
		*ok = true;
		switch (k) {
		case 0: return val == rhs;
		case 1: return val != rhs;
		case 2: return val <= rhs;
		case 3: return val >= rhs;
		case 4: return val < rhs;
		default: return val > rhs;
		}
	}
	return false;
}

/* html_eval(test, expr): "$val $expr" on each part where the result is
 * defined; expr is checked against /^[<>=!\-+ 0-9]+$/ first. */
static unsigned int
eval_html_eval(struct eval_ctx *ctx, const struct eval_call *call)
{
	size_t n;
	const struct html_result *const *all = msgview_html(ctx->mv, &n);
	const char *test = eval_html_arg(call, 0), *expr = eval_html_arg(call, 1);

	if (expr[0] == '\0' || strspn(expr, "<>=!-+ 0123456789") != strlen(expr))
		return 0;
	for (size_t i = 0; i < n; i++) {
		double v;
		bool ok;

		if (!eval_html_value(all[i], test, &v)) {
			/* the flags exist only once set, as 1 */
			if (!eval_html_flag(all[i], test))
				continue;
			v = 1;
		}
		if (eval_html_compare(v, expr, &ok) && ok)
			return 1;
	}
	return 0;
}

static unsigned int
eval_html_tag_balance(struct eval_ctx *ctx, const struct eval_call *call)
{
	size_t n;
	const struct html_result *const *all = msgview_html(ctx->mv, &n);
	const char *tag = eval_html_arg(call, 0);

	if (tag[0] == '\0' || strspn(tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				     "0123456789") != strlen(tag))
		return 0;
	for (size_t i = 0; i < n; i++) {
		int count = html_inside(all[i], tag);
		bool ok;

		if (count < 0)
			continue;
		if (eval_html_compare((double)count, eval_html_arg(call, 1), &ok) && ok)
			return 1;
	}
	return 0;
}

static const struct strlist *
eval_html_texts(const struct html_result *h, const char *name)
{
	if (strcmp(name, "title") == 0)
		return &h->titles;
	if (strcmp(name, "comment") == 0)
		return &h->comments;
	if (strcmp(name, "anchor") == 0)
		return &h->anchors;
	if (strcmp(name, "script") == 0)
		return &h->scripts;
	return NULL;
}

/* html_text_match / html_text_not_match: whether some text of the named
 * kind (want true) matches the pattern, or fails to (want false).  The
 * text is the sender's: the ruleset's match limits bound every search. */
static unsigned int
eval_html_text_any(struct eval_ctx *ctx, const struct eval_call *call, bool want)
{
	size_t n;
	const struct html_result *const *all = msgview_html(ctx->mv, &n);
	pcre2_code *re = eval_arg_regex(call, 1);
	/* no pattern: Perl's /$undef/, which matches every text */
	bool every = call->arg_count < 2;
	pcre2_match_data *md = NULL;
	unsigned int hit = 0;

	if ((re == NULL && !every) || n == 0)
		return 0;
	if (!every && (md = pcre2_match_data_create_from_pattern(re, NULL)) == NULL)
		return 0;
	for (size_t i = 0; i < n && hit == 0; i++) {
		const struct strlist *texts = eval_html_texts(all[i], eval_html_arg(call, 0));

		for (size_t k = 0; texts != NULL && k < texts->n && hit == 0; k++)
			if ((every || pcre2_match(re, (PCRE2_SPTR)texts->v[k].p, texts->v[k].len,
						  0, 0, md, ctx->rs->match_ctx) >= 0) == want)
				hit = 1;
	}
	pcre2_match_data_free(md);
	return hit;
}

static unsigned int
eval_html_text_match(struct eval_ctx *ctx, const struct eval_call *call)
{
	return eval_html_text_any(ctx, call, true);
}

static unsigned int
eval_html_text_not_match(struct eval_ctx *ctx, const struct eval_call *call)
{
	return eval_html_text_any(ctx, call, false);
}

/* Perl's numeric value of a rule argument (a decimal prefix, else 0). */
static double
eval_html_num(const char *s)
{
	char *end;
	double v;

	if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0)
		return 0;
	v = strtod(s, &end);
	return end == s ? 0 : v;
}

/* An <img> seen and the HTML length in (min, max]. */
static unsigned int
eval_html_image_only(struct eval_ctx *ctx, const struct eval_call *call)
{
	size_t n;
	const struct html_result *const *all = msgview_html(ctx->mv, &n);
	double min = eval_html_num(eval_html_arg(call, 0));
	double max = eval_html_num(eval_html_arg(call, 1));

	for (size_t i = 0; i < n; i++)
		if (html_inside(all[i], "img") >= 0 && (double)all[i]->length > min &&
		    (double)all[i]->length <= max)
			return 1;
	return 0;
}

/* non_space_len / image_area in (min, max], for parts with an image area. */
static unsigned int
eval_html_image_ratio(struct eval_ctx *ctx, const struct eval_call *call)
{
	size_t n;
	const struct html_result *const *all = msgview_html(ctx->mv, &n);
	double min = eval_html_num(eval_html_arg(call, 0));
	double max = eval_html_num(eval_html_arg(call, 1));

	for (size_t i = 0; i < n; i++) {
		double ratio;

		if (all[i]->image_area == 0)
			continue;
		ratio = (double)all[i]->non_space_len / (double)all[i]->image_area;
		if (ratio > min && ratio <= max)
			return 1;
	}
	return 0;
}

static size_t
eval_html_chars(const char *p, size_t len)
{
	size_t chars = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)p[i] & 0xc0) != 0x80)
			chars++;
	return chars;
}

/* The longest <title> (characters) over the Subject as get() returns it
 * (bytes, its newline included), more than ratio in some part. */
static unsigned int
eval_html_title_subject_ratio(struct eval_ctx *ctx, const struct eval_call *call)
{
	size_t n;
	const struct html_result *const *all = msgview_html(ctx->mv, &n);
	double ratio = eval_html_num(eval_html_arg(call, 0));
	struct buf subject;
	unsigned int hit = 0;

	if (n == 0)
		return 0;
	buf_init(&subject, 0);
	if (!msgview_get(ctx->mv, "Subject", &subject) || subject.len == 0) {
		buf_free(&subject);
		return 0;
	}
	for (size_t i = 0; i < n && hit == 0; i++) {
		double max = 0;

		for (size_t k = 0; k < all[i]->titles.n; k++) {
			const char *t = all[i]->titles.v[k].p;
			size_t len = all[i]->titles.v[k].len;
			double r;

			/* Perl's truth: "" and "0" are false */
			if (len == 0 || (len == 1 && t[0] == '0'))
				continue;
			r = (double)eval_html_chars(t, len) / (double)subject.len;
			if (r > max)
				max = r;
		}
		if (max > ratio)
			hit = 1;
	}
	buf_free(&subject);
	return hit;
}

static unsigned int
eval_html_charset_faraway(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)ctx;
	(void)call;
	return 0;
}

static unsigned int
eval_check_iframe_src(struct eval_ctx *ctx, const struct eval_call *call)
{
	size_t n;
	const struct html_result *const *all = msgview_html(ctx->mv, &n);

	(void)call;
	for (size_t i = 0; i < n; i++)
		if (all[i]->iframe_src)
			return 1;
	return 0;
}

static const struct eval_entry eval_html_entries[] = {
	{ "html_test", eval_html_test, false },
	{ "html_range", eval_html_range, false },
	{ "html_tag_exists", eval_html_tag_exists, false },
	{ "html_tag_balance", eval_html_tag_balance, false },
	{ "html_text_match", eval_html_text_match, false },
	{ "html_text_not_match", eval_html_text_not_match, false },
	{ "html_eval", eval_html_eval, false },
	{ "html_image_only", eval_html_image_only, false },
	{ "html_image_ratio", eval_html_image_ratio, false },
	{ "html_title_subject_ratio", eval_html_title_subject_ratio, false },
	{ "html_charset_faraway", eval_html_charset_faraway, false },
	{ "check_iframe_src", eval_check_iframe_src, false },
};

const struct eval_family eval_family_html = {
	eval_html_entries, N_ELEMENTS(eval_html_entries), NULL, 0
};
