/* eval_body: native versions of SpamAssassin's tests that read the body
 * text and the MIME parts rather than the headers:
 *
 *   Plugin/BodyEval.pm   check_blank_line_ratio, tvd_vertical_words,
 *                        check_stock_info, check_body_length,
 *                        plaintext_body_length, plaintext_sig_length,
 *                        plaintext_body_sig_ratio (its
 *                        multipart_alternative_difference tests live with
 *                        MIMEEval's in eval_mime.c)
 *   Plugin/MIMEEval.pm   check_for_uppercase and check_for_faraway_charset
 *                        (the MIMEEval tests that read the body lines)
 *   Plugin/ImageInfo.pm  image_count, pixel_coverage, image_size_exact,
 *                        image_size_range, image_named, image_to_text_ratio
 *   Plugin/WLBLEval.pm   check_mailfrom_matches_rcvd (__RP_MATCHES_RCVD,
 *                        which hits 15% of the training mail; the rest of
 *                        WLBLEval lives in eval.c)
 *
 * Each follows the Perl line by line, quirks included (the PNG scan that
 * steps 8 bytes at a time, the stock-info pattern whose "^" anchors only
 * its first alternative, ...), so the shipped rules keep their meaning.
 * A body eval gets the array its rule type reads: the rendered body lines
 * for "body", the decoded paragraphs for "rawbody" (Check.pm passes
 * those).  Per-message results are cached in struct eval_body_state, as
 * SpamAssassin caches them on $pms. */
#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "buf.h"
#include "eval.h"
#include "hdr.h"
#include "html.h"
#include "mime.h"
#include "msgview.h"
#include "received.h"
#include "rules_int.h"
#include "uri.h"
#include "xalloc.h"

/* Constants.pm MAX_BODY_LINE_LENGTH (split_into_array_of_short_paragraphs). */
#define EVAL_BODY_LINE_MAX 2048
/* Distinct image sizes and names kept per message (SpamAssassin keeps them
 * all; a message with more images than this is pathological). */
#define EVAL_IMAGE_DEMS_MAX 256

enum eval_image_type { IMG_GIF, IMG_PNG, IMG_JPEG, IMG_ALL, IMG_TYPES };

struct eval_image_dem {
	unsigned long h, w;
};

struct eval_image_info {
	unsigned long count;
	double pc;	/* pixel coverage: sum of the areas */
	struct eval_image_dem *dems;
	size_t ndems;
};

struct eval_body_state {
	/* BodyEval */
	bool tvd_done;
	long tvd;
	bool stock_done;
	unsigned long stock;
	bool blank_done;
	double blank_ratio;
	long blank_minlines;
	bool sig_done, sig_defined;
	double sig_body_len, sig_len, sig_ratio;
	/* check_body_length: the rules ask four times a message */
	bool body_length_done;
	size_t body_length;
	/* MIMEEval */
	bool uppercase_done;
	double uppercase;
	/* ImageInfo */
	bool images_done;
	struct eval_image_info img[IMG_TYPES];
	struct strlist img_names;
};

void
eval_body_state_free(struct eval_body_state **state)
{
	struct eval_body_state *st = *state;

	if (st == NULL)
		return;
	for (size_t i = 0; i < IMG_TYPES; i++)
		free(st->img[i].dems);
	strlist_free(&st->img_names);
	free(st);
	*state = NULL;
}

static struct eval_body_state *
eval_body_state(struct eval_ctx *ctx)
{
	if (ctx->body == NULL) {
		ctx->body = xcalloc(1, sizeof(*ctx->body));
		strlist_init(&ctx->body->img_names);
	}
	return ctx->body;
}

static const char *
eval_body_arg(const struct eval_call *call, size_t i)
{
	return i < call->arg_count ? call->args[i] : NULL;
}

/* Perl's numeric value of a string argument ("" and junk are 0). */
static double
eval_body_num(const char *s)
{
	return s != NULL ? strtod(s, NULL) : 0;
}

/* The array Check.pm hands a body eval of this rule's type. */
static const struct strlist *
eval_body_text(struct eval_ctx *ctx, const struct eval_call *call)
{
	return call->type == RULE_RAWBODY ? msgview_rawbody(ctx->mv) : msgview_body(ctx->mv);
}

static bool
eval_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool
eval_is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '_';
}

/* Node::get_header(name) chomped and lowercased, as the plugins compare
 * Content-Transfer-Encoding: the last decoded value, "" when absent. */
static void
eval_node_header_lc(struct mime_msg *msg, struct mime_node *node, const char *lname,
		    struct buf *out)
{
	struct mime_hdr *h = mime_hdr_last(node, lname);
	const char *v;
	size_t len;

	buf_reset(out);
	if (h == NULL)
		return;
	v = mime_hdr_decoded(msg, h, &len);
	buf_put(out, v, len);
	for (size_t i = 0; i < out->len; i++)
		if (out->data[i] >= 'A' && out->data[i] <= 'Z')
			out->data[i] = (char)(out->data[i] - 'A' + 'a');
}

static bool
eval_buf_eq(const struct buf *b, const char *s)
{
	size_t n = strlen(s);

	return b->len == n && memcmp(b->data, s, n) == 0;
}

/* ---- check_blank_line_ratio, tvd_vertical_words ---- */

static unsigned int
eval_check_blank_line_ratio(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct eval_body_state *st = eval_body_state(ctx);
	double min = eval_body_num(eval_body_arg(call, 0));
	double max = eval_body_num(eval_body_arg(call, 1));
	const char *ml = eval_body_arg(call, 2);
	long minlines = ml == NULL || eval_body_num(ml) < 1 ? 1 : (long)eval_body_num(ml);
	double r;

	/* SpamAssassin caches one ratio per minlines; the rules use one. */
	if (!st->blank_done || st->blank_minlines != minlines) {
		const struct strlist *text = msgview_rawbody(ctx->mv);
		unsigned long nlines = 0, blank = 0;

		for (size_t i = 0; i < text->n; i++) {
			const char *p = text->v[i].p, *end = p + text->v[i].len;

			/* split(/^/m, $chunk, -1): lines, the last maybe
			 * without a newline */
			while (p < end) {
				const char *nl = memchr(p, '\n', (size_t)(end - p));
				const char *le = nl != NULL ? nl + 1 : end;
				bool any = false;

				for (const char *q = p; q < le && !any; q++)
					any = !eval_is_space((unsigned char)*q);
				nlines++;
				if (!any)
					blank++;
				p = le;
			}
		}
		st->blank_done = true;
		st->blank_minlines = minlines;
		st->blank_ratio = (long)nlines < minlines ? -1 : 100.0 * (double)blank / (double)nlines;
	}
	r = st->blank_ratio;
	return (min == 0 && r <= max) || (r > min && r <= max);
}

static unsigned int
eval_tvd_vertical_words(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct eval_body_state *st = eval_body_state(ctx);
	double min = eval_body_num(eval_body_arg(call, 0));
	double max = eval_body_num(eval_body_arg(call, 1));

	if (max >= 100)
		max = 101;
	if (!st->tvd_done) {
		const struct strlist *text = eval_body_text(ctx, call);

		st->tvd_done = true;
		st->tvd = -1;
		for (size_t i = 0; i < text->n; i++) {
			size_t l = text->v[i].len, spaces = 0, nonspaces;
			long pct;

			if (l <= 5)
				continue;
			for (size_t k = 0; k < l; k++)
				spaces += text->v[i].p[k] == ' ';
			nonspaces = l - spaces;
			if (spaces > nonspaces || nonspaces == 0)
				pct = 100;
			else
				pct = (long)(100 * spaces / nonspaces);
			if (pct > st->tvd)
				st->tvd = pct;
		}
	}
	return (double)st->tvd >= min && (double)st->tvd < max;
}

/* ---- check_stock_info ---- */

/* Message::split_into_array_of_short_paragraphs, calling fn on each
 * piece.  Lengths count bytes; Perl counts characters when the part was
 * decoded to characters, so a UTF-8 text over 2048 bytes may be cut at
 * other places (only a "label:" line across a cut could differ). */
static void
eval_short_paragraphs(const char *s, size_t len,
		      void (*fn)(const char *p, size_t n, void *arg), void *arg)
{
	size_t ofs = 0, j;

	if (len <= EVAL_BODY_LINE_MAX) {
		fn(s, len, arg);
		return;
	}
	while (len - ofs > 2 * EVAL_BODY_LINE_MAX) {
		static const char seps[] = "\n> ";
		bool found = false;

		for (size_t k = 0; k < 3 && !found; k++) {
			const char *f = memchr(s + ofs + EVAL_BODY_LINE_MAX, seps[k],
					       len - ofs - EVAL_BODY_LINE_MAX);

			if (f != NULL && (size_t)(f - s) - ofs + 1 <= 2 * EVAL_BODY_LINE_MAX) {
				j = (size_t)(f - s);
				found = true;
			}
		}
		if (!found)
			j = ofs + EVAL_BODY_LINE_MAX;
		fn(s + ofs, j - ofs + 1, arg);
		ofs = j + 1;
	}
	if (ofs < len)
		fn(s + ofs, len - ofs, arg);
}

struct eval_stock_ctx {
	pcre2_code *line_re, *word_re;
	pcre2_match_data *md;
	unsigned int hits;	/* bit per alternative found */
	unsigned long count;
	struct strlist seen;
};

static void
eval_stock_chunk(const char *p, size_t n, void *arg)
{
	struct eval_stock_ctx *sc = arg;
	PCRE2_SIZE start = 0;

	while (start <= n) {
		PCRE2_SIZE *ov;
		char word[64];
		size_t wl = 0;
		int rc = pcre2_match(sc->line_re, (PCRE2_SPTR)p, n, start, 0, sc->md, NULL);

		if (rc < 2)
			break;
		ov = pcre2_get_ovector_pointer(sc->md);
		/* lc, then tr/a-z//cd */
		for (PCRE2_SIZE k = ov[2]; k < ov[3] && wl < sizeof(word) - 1; k++) {
			char c = p[k];

			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c >= 'a' && c <= 'z')
				word[wl++] = c;
		}
		word[wl] = '\0';
		{
			pcre2_match_data *md2 = pcre2_match_data_create(2, NULL);

			if (md2 != NULL &&
			    pcre2_match(sc->word_re, (PCRE2_SPTR)word, wl, 0, 0, md2, NULL) >= 2) {
				PCRE2_SIZE *o2 = pcre2_get_ovector_pointer(md2);
				bool dup = false;

				for (size_t s = 0; s < sc->seen.n && !dup; s++)
					dup = sc->seen.v[s].len == o2[3] - o2[2] &&
						memcmp(sc->seen.v[s].p, word + o2[2], o2[3] - o2[2]) == 0;
				if (!dup) {
					strlist_add(&sc->seen, word + o2[2], o2[3] - o2[2]);
					sc->count++;
				}
			}
			pcre2_match_data_free(md2);
		}
		start = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
	}
}

static unsigned int
eval_check_stock_info(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct eval_body_state *st = eval_body_state(ctx);
	double min = eval_body_num(eval_body_arg(call, 0));

	if (!st->stock_done) {
		static pcre2_code *line_re[2], *word_re;
		static bool tried;
		struct mime_msg *msg = msgview_mime(ctx->mv);
		struct mime_node *part = NULL;

		st->stock_done = true;
		if (!tried) {
			int err;
			PCRE2_SIZE off;
			static const char line_pat[] =
				"^\\s*([^:\\s][^:\\n]{2,29})\\s*:\\s*\\S";

			tried = true;
			line_re[0] = pcre2_compile((PCRE2_SPTR)line_pat, PCRE2_ZERO_TERMINATED,
						   PCRE2_MULTILINE, &err, &off, NULL);
			line_re[1] = pcre2_compile((PCRE2_SPTR)line_pat, PCRE2_ZERO_TERMINATED,
						   PCRE2_MULTILINE | PCRE2_UTF | PCRE2_UCP |
						   PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
			word_re = pcre2_compile((PCRE2_SPTR)
				"(^trad(?:e|ing)date|company(?:name)?|"
				"s\\w?(?:t\\w?o\\w?c\\w?k|y\\w?m(?:\\w?b\\w?o\\w?l)?)|"
				"t(?:arget|icker)|(?:opening|current)p(?:rice)?|"
				"p(?:rojected|osition)|expectations|weeks?high|marketperformance|"
				"(?:year|week|month|day|price)(?:target|estimates?)|sector|"
				"r(?:ecommendation|ating))$", PCRE2_ZERO_TERMINATED, 0, &err, &off,
				NULL);
		}
		/* the first part of type qr@^text/plain$@ */
		for (size_t i = 0; i < msg->nnodes && part == NULL; i++)
			if (strcmp(msg->nodes[i]->type, "text/plain") == 0)
				part = msg->nodes[i];
		if (part != NULL && line_re[0] != NULL && line_re[1] != NULL && word_re != NULL) {
			const char *type, *rnd;
			size_t len;
			bool utf8;

			rnd = mime_rendered(msg, part, &len, &utf8, &type);
			if (rnd != NULL && type != NULL) {
				struct eval_stock_ctx sc = { line_re[utf8 ? 1 : 0], word_re, NULL, 0, 0,
							     { NULL, 0, 0 } };

				sc.md = pcre2_match_data_create(4, NULL);
				if (sc.md != NULL)
					eval_short_paragraphs(rnd, len, eval_stock_chunk, &sc);
				pcre2_match_data_free(sc.md);
				st->stock = sc.count;
				strlist_free(&sc.seen);
			}
		}
	}
	return min == 0 || (double)st->stock >= min;
}

/* ---- check_body_length ---- */

/* Message.pm's pristine_body_length. */
static size_t
eval_pristine_body_length(struct mime_msg *msg)
{
	size_t len;

	(void)mime_pristine_body(msg, &len);
	return len;
}

static unsigned int
eval_check_body_length(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct eval_body_state *st = eval_body_state(ctx);
	double min = eval_body_num(eval_body_arg(call, 0));

	if (!st->body_length_done) {
		st->body_length = eval_pristine_body_length(msgview_mime(ctx->mv));
		st->body_length_done = true;
	}
	return (double)st->body_length <= min;
}

/* ---- plaintext_body_length, plaintext_sig_length, plaintext_body_sig_ratio ---- */

static void
eval_sig_ratio(struct eval_ctx *ctx, struct eval_body_state *st)
{
	struct mime_msg *msg = msgview_mime(ctx->mv);
	struct mime_node *part = NULL;
	const char *text;
	size_t len, len_b, len_s = 0, pos = 0;

	st->sig_done = true;
	/* the first part of type qr/^text\/plain/ */
	for (size_t i = 0; i < msg->nnodes && part == NULL; i++)
		if (strncmp(msg->nodes[i]->type, "text/plain", 10) == 0)
			part = msg->nodes[i];
	if (part == NULL)
		return;
	text = mime_decoded(msg, part, &len);
	if (text == NULL) {
		text = "";
		len = 0;
	}
	len_b = len;
	/* /^-- ?\r?$/mg: the last delimiter with more than 4 bytes after it */
	while (pos <= len) {
		const char *nl = pos < len ? memchr(text + pos, '\n', len - pos) : NULL;
		size_t le = nl != NULL ? (size_t)(nl - text) : len;
		size_t ll = le - pos, end;

		/* "--", "-- ", "--\r", "-- \r" before a newline or the end */
		if (ll >= 2 && ll <= 4 && text[pos] == '-' && text[pos + 1] == '-' &&
		    (ll == 2 || (ll == 3 && (text[pos + 2] == ' ' || text[pos + 2] == '\r')) ||
		     (ll == 4 && text[pos + 2] == ' ' && text[pos + 3] == '\r'))) {
			end = le;
			if (len - end > 4) {
				len_b = pos;
				len_s = len - end;
			}
		}
		if (nl == NULL)
			break;
		pos = le + 1;
	}
	st->sig_defined = true;
	st->sig_body_len = (double)len_b;
	st->sig_len = (double)len_s;
	st->sig_ratio = len_s ? (double)len_b / (double)len_s : 1e6;
}

static unsigned int
eval_plaintext_check(struct eval_ctx *ctx, const struct eval_call *call, int which)
{
	struct eval_body_state *st = eval_body_state(ctx);
	const char *max = eval_body_arg(call, 1);
	double v;

	if (!st->sig_done)
		eval_sig_ratio(ctx, st);
	if (!st->sig_defined)
		return 0;
	v = which == 0 ? st->sig_body_len : which == 1 ? st->sig_len : st->sig_ratio;
	if (v < eval_body_num(eval_body_arg(call, 0)))
		return 0;
	if (max != NULL && v > eval_body_num(max))
		return 0;
	/* plaintext_body_sig_ratio's "defined $max ? ... : 10**6" is true */
	return 1;
}

static unsigned int
eval_plaintext_body_length(struct eval_ctx *ctx, const struct eval_call *call)
{
	return eval_plaintext_check(ctx, call, 0);
}

static unsigned int
eval_plaintext_sig_length(struct eval_ctx *ctx, const struct eval_call *call)
{
	return eval_plaintext_check(ctx, call, 1);
}

static unsigned int
eval_plaintext_body_sig_ratio(struct eval_ctx *ctx, const struct eval_call *call)
{
	return eval_plaintext_check(ctx, call, 2);
}

/* ---- MIMEEval: check_for_uppercase ---- */

/* Constants.pm CHARSETS_LIKELY_TO_FP_AS_CAPS, anchored:
 * /^[-_a-z0-9]*(?:koi|jp|jis|euc|gb|big5|isoir|cp1251|windows-1251|
 * georgianps|pt154|tis)[-_a-z0-9]*$/i */
static bool
eval_charset_fp_as_caps(const char *cs, size_t len)
{
	static const char *const words[] = {
		"koi", "jp", "jis", "euc", "gb", "big5", "isoir", "cp1251", "windows-1251",
		"georgianps", "pt154", "tis",
	};

	if (len > 0 && cs[len - 1] == '\n')
		len--;	/* $ before a final newline */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)cs[i];

		if (!(eval_is_word(c) || c == '-'))
			return false;
	}
	for (size_t i = 0; i < len; i++)
		for (size_t w = 0; w < N_ELEMENTS(words); w++) {
			size_t n = strlen(words[w]);

			if (len - i >= n && strncasecmp(cs + i, words[w], n) == 0)
				return true;
		}
	return false;
}

/* MIMEEval::get_charset_from_ct_line */
static bool
eval_charset_from_ct(const char *ct, size_t len, const char **cs_r, size_t *cs_len_r)
{
	for (int pass = 0; pass < 3; pass++)
		for (size_t i = 0; i + 8 <= len; i++) {
			const char *v = ct + i + 8;
			size_t n = 0;

			if (strncasecmp(ct + i, "charset=", 8) != 0)
				continue;
			if (pass < 2) {
				char q = pass == 0 ? '"' : '\'';

				if (i + 9 > len || *v != q)
					continue;
				v++;
				while (v + n < ct + len && v[n] != q)
					n++;
				if (n == 0 || v + n >= ct + len)
					continue;
			} else {
				while (v + n < ct + len && !eval_is_space((unsigned char)v[n]))
					n++;
				if (n == 0)
					continue;
			}
			*cs_r = v;
			*cs_len_r = n;
			return true;
		}
	return false;
}

/* MIMEEval's check_for_faraway_charset: the message's own Content-Type
 * names a charset ok_locales does not allow, and the text the rule reads
 * is mostly 8-bit (are_more_high_bits_set: no more 7-bit bytes than
 * 8-bit ones, and over 3 of those, over the lines joined with "\n"), as
 * KOI8-R and the like also hold plain ASCII. */
static unsigned int
eval_check_for_faraway_charset(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct strlist *body;
	unsigned long high = 0, total = 0;
	struct buf ct;
	const char *cs;
	size_t cl;
	bool faraway;

	if (sa_locales_all(ctx->ok_locales))
		return 0;
	buf_init(&ct, 0);
	faraway = msgview_get(ctx->mv, "Content-Type", &ct) &&
		  eval_charset_from_ct(ct.data, ct.len, &cs, &cl) &&
		  !sa_charset_ok(ctx->ok_locales, cs, cl);
	buf_free(&ct);
	if (!faraway)
		return 0;
	body = eval_body_text(ctx, call);
	for (size_t i = 0; i < body->n; i++) {
		const unsigned char *p = (const unsigned char *)body->v[i].p;

		total += body->v[i].len + (i > 0);
		for (size_t k = 0; k < body->v[i].len; k++)
			high += p[k] >= 0x80;
	}
	return total - high <= high && high > 3;
}

/* MIMEEval::body_charset_is_likely_to_fp: the top Content-Type's
 * charset, or any part's (mime_html_charsets, each lowercased). */
static bool
eval_body_charset_fp(struct eval_ctx *ctx)
{
	struct mime_msg *msg = msgview_mime(ctx->mv);
	struct buf ct;
	const char *cs;
	size_t cl;
	bool fp = false;

	buf_init(&ct, 0);
	if (msgview_get(ctx->mv, "Content-Type", &ct) &&
	    eval_charset_from_ct(ct.data, ct.len, &cs, &cl))
		fp = eval_charset_fp_as_caps(cs, cl);
	buf_free(&ct);
	for (size_t i = 0; i < msg->nnodes && !fp; i++) {
		struct mime_node *node = msg->nodes[i];
		struct mime_hdr *cth = mime_hdr_last(node, "content-type");
		const char *ctype = "text/plain", *boundary = NULL, *charset = NULL, *name = NULL;
		const char *v = NULL;
		size_t vl = 0;
		bool letter = false;

		if (cth != NULL)
			v = mime_hdr_decoded(msg, cth, &vl);
		(void)mime_parse_content_type(msg, v, vl, &ctype, &boundary, &charset, &name);
		if (charset == NULL)
			continue;
		for (const char *p = charset; *p != '\0' && !letter; p++)
			letter = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
		/* split(' ', "cs1 cs2"): a charset with blanks in it is
		 * several words */
		if (!letter)
			continue;
		for (const char *p = charset; *p != '\0' && !fp;) {
			size_t n;

			while (*p != '\0' && eval_is_space((unsigned char)*p))
				p++;
			n = 0;
			while (p[n] != '\0' && !eval_is_space((unsigned char)p[n]))
				n++;
			if (n > 0)
				fp = eval_charset_fp_as_caps(p, n);
			p += n;
		}
	}
	return fp;
}

static unsigned int
eval_check_for_uppercase(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct eval_body_state *st = eval_body_state(ctx);
	double min = eval_body_num(eval_body_arg(call, 0));
	double max = eval_body_num(eval_body_arg(call, 1));

	if (!st->uppercase_done) {
		const struct strlist *body = eval_body_text(ctx, call);
		unsigned long len = 0, lower = 0, upper = 0;

		st->uppercase_done = true;
		st->uppercase = 0;
		if (eval_body_charset_fp(ctx))
			return 0;
		for (size_t i = 0; i < body->n; i++) {
			const char *p = body->v[i].p;
			size_t l = body->v[i].len, k, run, cut_from = l, cut_to = l;
			bool inner = false;

			/* /\S\s+\S/ */
			for (k = 1; k + 1 < l && !inner; k++) {
				if (!eval_is_space((unsigned char)p[k]) ||
				    eval_is_space((unsigned char)p[k - 1]))
					continue;
				run = k;
				while (run < l && eval_is_space((unsigned char)p[run]))
					run++;
				inner = run < l;
				k = run - 1;
			}
			if (!inner)
				continue;
			/* /^(?:[A-Za-z0-9+\/=]{60,76} ){2}/: lingering base64 */
			{
				size_t pos = 0, groups = 0;

				while (groups < 2) {
					size_t n = 0;

					while (pos + n < l && n < 77 &&
					       (eval_is_word((unsigned char)p[pos + n]) ||
						p[pos + n] == '+' || p[pos + n] == '/' ||
						p[pos + n] == '=') && p[pos + n] != '_')
						n++;
					if (n < 60 || n > 76 || pos + n >= l || p[pos + n] != ' ')
						break;
					pos += n + 1;
					groups++;
				}
				if (groups == 2)
					continue;
			}
			/* s/\x1b\$B.*\x1b\(B//gs: first ESC $ B to last ESC ( B */
			for (k = 0; k + 2 < l; k++)
				if (p[k] == 0x1b && p[k + 1] == '$' && p[k + 2] == 'B')
					break;
			if (k + 2 < l) {
				for (size_t e = l; e >= k + 6; e--)
					if (p[e - 3] == 0x1b && p[e - 2] == '(' && p[e - 1] == 'B') {
						cut_from = k;
						cut_to = e;
						break;
					}
			}
			len += l - (cut_to - cut_from);
			for (k = 0; k < l; k++) {
				unsigned char c = (unsigned char)p[k];

				if (k >= cut_from && k < cut_to)
					continue;
				if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
					lower++;
				else if (c >= 'A' && c <= 'Z')
					upper++;
			}
		}
		if (len < 200)
			return 0;
		if (upper + lower > 0)
			st->uppercase = (double)upper / (double)(upper + lower) * 100;
	}
	return st->uppercase > min && st->uppercase <= max;
}

/* ---- ImageInfo ---- */

static void
eval_image_add(struct eval_body_state *st, enum eval_image_type t, struct mime_node *node,
	       unsigned long w, unsigned long h)
{
	struct eval_image_info *ii = &st->img[t];
	bool have = false;

	if (w == 0 || h == 0)
		return;
	ii->pc += (double)w * (double)h;
	for (size_t i = 0; i < ii->ndems && !have; i++)
		have = ii->dems[i].h == h && ii->dems[i].w == w;
	if (!have && ii->ndems < EVAL_IMAGE_DEMS_MAX) {
		ii->dems = xrealloc(ii->dems, (ii->ndems + 1) * sizeof(*ii->dems));
		ii->dems[ii->ndems].h = h;
		ii->dems[ii->ndems].w = w;
		ii->ndems++;
	}
	if (node->name != NULL && node->name[0] != '\0' && strcmp(node->name, "0") != 0 &&
	    st->img_names.n < EVAL_IMAGE_DEMS_MAX) {
		for (size_t i = 0; i < st->img_names.n; i++)
			if (strcmp(st->img_names.v[i].p, node->name) == 0)
				return;
		strlist_add(&st->img_names, node->name, strlen(node->name));
	}
}

static unsigned long
eval_be16(const unsigned char *p)
{
	return ((unsigned long)p[0] << 8) | p[1];
}

static unsigned long
eval_be32(const unsigned char *p)
{
	return ((unsigned long)p[0] << 24) | ((unsigned long)p[1] << 16) |
		((unsigned long)p[2] << 8) | p[3];
}

/* The get_details subs: width and height from the decoded image, 0 when
 * the data does not say. */
static void
eval_image_gif(const unsigned char *d, size_t len, unsigned long *w, unsigned long *h)
{
	/* decode(13), then s/^GIF(8[79]a)//, unpack("vv") */
	if (len > 13)
		len = 13;
	if (len < 6 || memcmp(d, "GIF8", 4) != 0 || (d[4] != '7' && d[4] != '9') || d[5] != 'a')
		return;
	if (len >= 10) {
		*w = d[6] | ((unsigned long)d[7] << 8);
		*h = d[8] | ((unsigned long)d[9] << 8);
	}
}

static void
eval_image_png(const unsigned char *d, size_t len, unsigned long *w, unsigned long *h)
{
	/* The chunk walk steps 8 bytes at a time whatever the chunk's
	 * length (the Perl never skips a chunk's data). */
	if (len < 8 || memcmp(d, "\x89PNG\r\n\x1a\n", 8) != 0)
		return;
	for (size_t pos = 8; pos < len; pos += 8) {
		unsigned long clen;

		if (len - pos < 8)
			break;	/* a partial type is never IEND or IHDR */
		clen = eval_be32(d + pos);
		if (memcmp(d + pos + 4, "IEND", 4) == 0)
			break;
		if (memcmp(d + pos + 4, "IHDR", 4) != 0 || clen != 13)
			continue;
		/* substr($data, $pos, 17) less its last 4 bytes (the CRC) */
		if (len - (pos + 8) >= 12) {
			*w = eval_be32(d + pos + 8);
			*h = eval_be32(d + pos + 12);
		}
		break;
	}
}

static void
eval_image_jpeg(const unsigned char *d, size_t len, unsigned long *w, unsigned long *h)
{
	size_t pos = 2;

	if (len < 2 || d[0] != 0xff || d[1] != 0xd8)
		return;
	while (pos < len) {
		unsigned int mark;
		unsigned long blen;
		size_t avail;

		if (d[pos] != 0xff || len - pos < 2)
			break;
		mark = d[pos + 1];
		if (mark == 0xda || mark == 0xd9 || len - pos < 4)
			break;
		blen = eval_be16(d + pos + 2);
		if (blen < 2)
			break;
		pos += 4;
		avail = len - pos;
		if (avail > blen - 2)
			avail = blen - 2;
		if ((mark >= 0xc0 && mark <= 0xc3) || (mark >= 0xc5 && mark <= 0xc7) ||
		    (mark >= 0xc9 && mark <= 0xcb) || (mark >= 0xcd && mark <= 0xcf)) {
			/* unpack("CnnC"): precision, height, width */
			if (avail >= 5) {
				*h = eval_be16(d + pos + 1);
				*w = eval_be16(d + pos + 3);
			}
			break;
		}
		pos += avail;
	}
}

/* ImageInfo::_get_images */
static void
eval_get_images(struct eval_ctx *ctx, struct eval_body_state *st)
{
	struct mime_msg *msg = msgview_mime(ctx->mv);
	struct buf cte;

	st->images_done = true;
	buf_init(&cte, 0);
	for (size_t i = 0; i < msg->nnodes; i++) {
		struct mime_node *node = msg->nodes[i];
		const char *sub;
		enum eval_image_type t;
		const unsigned char *d;
		size_t len;
		unsigned long w = 0, h = 0;

		/* find_parts(qr@^image/(?:gif|png|jpe?g)$@, 1) */
		if (node->has_kids || strncmp(node->type, "image/", 6) != 0)
			continue;
		sub = node->type + 6;
		if (strcmp(sub, "gif") == 0)
			t = IMG_GIF;
		else if (strcmp(sub, "png") == 0)
			t = IMG_PNG;
		else if (strcmp(sub, "jpeg") == 0 || strcmp(sub, "jpg") == 0)
			t = IMG_JPEG;
		else
			continue;
		eval_node_header_lc(msg, node, "content-transfer-encoding", &cte);
		if (!eval_buf_eq(&cte, "base64"))
			continue;
		d = (const unsigned char *)mime_decoded(msg, node, &len);
		if (d == NULL)
			len = 0;
		if (len > 0) {
			if (t == IMG_GIF)
				eval_image_gif(d, len, &w, &h);
			else if (t == IMG_PNG)
				eval_image_png(d, len, &w, &h);
			else
				eval_image_jpeg(d, len, &w, &h);
		}
		eval_image_add(st, t, node, w, h);
		st->img[t].count++;
	}
	buf_free(&cte);
	for (size_t t = 0; t < IMG_ALL; t++) {
		st->img[IMG_ALL].pc += st->img[t].pc;
		st->img[IMG_ALL].count += st->img[t].count;
		for (size_t k = 0; k < st->img[t].ndems; k++) {
			struct eval_image_info *all = &st->img[IMG_ALL];
			bool have = false;

			for (size_t j = 0; j < all->ndems && !have; j++)
				have = all->dems[j].h == st->img[t].dems[k].h &&
					all->dems[j].w == st->img[t].dems[k].w;
			if (!have && all->ndems < EVAL_IMAGE_DEMS_MAX) {
				all->dems = xrealloc(all->dems, (all->ndems + 1) * sizeof(*all->dems));
				all->dems[all->ndems++] = st->img[t].dems[k];
			}
		}
	}
}

/* The image info of the type named in the rule, NULL for a type
 * ImageInfo does not know (its hash has no such key). */
static struct eval_image_info *
eval_images(struct eval_ctx *ctx, const char *type)
{
	static const char *const names[IMG_TYPES] = { "gif", "png", "jpeg", "all" };
	struct eval_body_state *st = eval_body_state(ctx);

	if (!st->images_done)
		eval_get_images(ctx, st);
	for (size_t t = 0; type != NULL && t < IMG_TYPES; t++)
		if (strcmp(type, names[t]) == 0)
			return &st->img[t];
	return NULL;
}

/* ImageInfo::result_check */
static bool
eval_result_check(const char *min, const char *max, double value, bool nomaxequal)
{
	if (value < eval_body_num(min))
		return false;
	if (max != NULL && value > eval_body_num(max))
		return false;
	if (nomaxequal && value == eval_body_num(max))
		return false;
	return true;
}

static unsigned int
eval_image_count(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct eval_image_info *ii;

	if (eval_body_arg(call, 1) == NULL)
		return 0;
	ii = eval_images(ctx, eval_body_arg(call, 0));
	return ii != NULL && eval_result_check(eval_body_arg(call, 1), eval_body_arg(call, 2),
					       (double)ii->count, false);
}

static unsigned int
eval_pixel_coverage(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct eval_image_info *ii;

	if (eval_body_arg(call, 0) == NULL || eval_body_arg(call, 1) == NULL)
		return 0;
	ii = eval_images(ctx, eval_body_arg(call, 0));
	return ii != NULL && eval_result_check(eval_body_arg(call, 1), eval_body_arg(call, 2),
					       ii->pc, false);
}

static unsigned int
eval_image_to_text_ratio(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct eval_image_info *ii;
	const struct strlist *body;
	size_t textlen = 0;

	if (eval_body_arg(call, 0) == NULL || eval_body_arg(call, 1) == NULL ||
	    eval_body_arg(call, 2) == NULL)
		return 0;
	ii = eval_images(ctx, eval_body_arg(call, 0));
	body = eval_body_text(ctx, call);
	for (size_t i = 0; i < body->n; i++)
		textlen += body->v[i].len;
	if (textlen == 0 || ii == NULL || !(ii->pc > 0))
		return 0;
	return eval_result_check(eval_body_arg(call, 1), eval_body_arg(call, 2),
				 (double)textlen / ii->pc, true);
}

static unsigned int
eval_image_size_exact(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct eval_image_info *ii;
	const char *hs = eval_body_arg(call, 1), *ws = eval_body_arg(call, 2);

	if (eval_body_arg(call, 0) == NULL || hs == NULL || ws == NULL)
		return 0;
	ii = eval_images(ctx, eval_body_arg(call, 0));
	/* exists $dems->{"${height}x${width}"}: the strings as written */
	for (size_t i = 0; ii != NULL && i < ii->ndems; i++) {
		char key[64], want[64];

		snprintf(key, sizeof(key), "%lux%lu", ii->dems[i].h, ii->dems[i].w);
		snprintf(want, sizeof(want), "%sx%s", hs, ws);
		if (strcmp(key, want) == 0)
			return 1;
	}
	return 0;
}

static unsigned int
eval_image_size_range(struct eval_ctx *ctx, const struct eval_call *call)
{
	struct eval_image_info *ii;
	const char *maxh = eval_body_arg(call, 3), *maxw = eval_body_arg(call, 4);

	if (eval_body_arg(call, 0) == NULL || eval_body_arg(call, 1) == NULL ||
	    eval_body_arg(call, 2) == NULL)
		return 0;
	ii = eval_images(ctx, eval_body_arg(call, 0));
	for (size_t i = 0; ii != NULL && i < ii->ndems; i++) {
		double h = (double)ii->dems[i].h, w = (double)ii->dems[i].w;

		if (h < eval_body_num(eval_body_arg(call, 1)) ||
		    w < eval_body_num(eval_body_arg(call, 2)))
			continue;
		if (maxh != NULL && h > eval_body_num(maxh))
			continue;
		if (maxw != NULL && w > eval_body_num(maxw))
			continue;
		return 1;
	}
	return 0;
}

static unsigned int
eval_image_named(struct eval_ctx *ctx, const struct eval_call *call)
{
	const char *name = eval_body_arg(call, 0);
	struct eval_body_state *st;

	if (name == NULL)
		return 0;
	(void)eval_images(ctx, NULL);
	st = ctx->body;
	for (size_t i = 0; i < st->img_names.n; i++)
		if (strcmp(st->img_names.v[i].p, name) == 0)
			return 1;
	return 0;
}

/* ---- WLBLEval::check_mailfrom_matches_rcvd ---- */

/* RegistryBoundaries::split_domain's domain of host (lowercased). */
static void
eval_reg_domain(struct eval_ctx *ctx, const char *host, size_t len, struct mime_str *out)
{
	out->len = 0;
	hdr_trim_domain(&ctx->rs->settings, host, len, out);
}

static unsigned int
eval_check_mailfrom_matches_rcvd(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct relays *rel = msgview_relays(ctx->mv);
	struct buf sender;
	const char *at, *dom;
	size_t dl, first, last;
	struct mime_str adrd = { 0 }, rlyd = { 0 };
	unsigned int match = 0;

	(void)call;
	buf_init(&sender, 0);
	if (!msgview_get(ctx->mv, "EnvelopeFrom:addr", &sender) || sender.len == 0) {
		buf_free(&sender);
		return 0;
	}
	/* / \@ ( [^\@]+ \. [^\@]+ ) \z/x (\z: a final newline is part of it) */
	at = memrchr(sender.data, '@', sender.len);
	dom = at != NULL ? at + 1 : NULL;
	dl = dom != NULL ? (size_t)(sender.data + sender.len - dom) : 0;
	if (dom == NULL || dl < 3 || memchr(dom + 1, '.', dl - 2) == NULL) {
		buf_free(&sender);
		return 0;
	}
	if (rel->n > rel->num_trusted) {
		first = rel->num_trusted;	/* the first untrusted relay */
		last = first + 1;
	} else {
		first = 0;			/* else every trusted one */
		last = rel->num_trusted;
	}
	mime_str_add(&adrd, "", 0);
	mime_str_add(&rlyd, "", 0);
	eval_reg_domain(ctx, dom, dl, &adrd);
	for (size_t i = first; i < last && !match; i++) {
		const char *rdns = rel->v[i].lc_rdns;

		if (rdns == NULL || rdns[0] == '\0')
			continue;
		eval_reg_domain(ctx, rdns, strlen(rdns), &rlyd);
		match = adrd.len == rlyd.len && memcmp(adrd.p, rlyd.p, adrd.len) == 0;
	}
	mime_str_free(&adrd);
	mime_str_free(&rlyd);
	buf_free(&sender);
	return match;
}

/* ---- HTTPSMismatch.pm and URIEval.pm's check_https_ip_mismatch ---------
 * Both read HTML.pm's uri_detail: for each <a> href (canonical) the texts
 * of the anchors that carried it.  The per-anchor lists of html.h hold
 * the same thing, one anchor at a time. */

enum https_re {
	HTTPS_RE_IP_KEY,	/* an http(s) URL to a dotted quad (i) */
	HTTPS_RE_IP_TEXT,	/* the same with https only */
	HTTPS_RE_HTTPS,		/* https: (i) */
	HTTPS_RE_KEY_HOST,	/* ^https?://([^/:?#]+) (i) */
	HTTPS_RE_TEXT_HOST,	/* https://([^\s/:?#]+) (i) */
	HTTPS_RE_COUNT
};

static const char *const https_re_src[HTTPS_RE_COUNT] = {
	"^https?:/*(?:[^@/]+@)?\\d+\\.\\d+\\.\\d+\\.\\d+",
	"^https:/*(?:[^@/]+@)?\\d+\\.\\d+\\.\\d+\\.\\d+",
	"https:",
	"^https?://([^/:?#]+)",
	"https://([^\\s/:?#]+)",
};

static pcre2_code *https_re[HTTPS_RE_COUNT];
static pcre2_match_data *https_md;

/* Matches pattern id against s; with group 1 in *g_r when asked.  The
 * patterns are constants compiled on first use (once per process). */
static bool
eval_https_match(enum https_re id, const char *s, size_t len, const char **g_r,
		 size_t *glen_r)
{
	PCRE2_SIZE *ov;
	int rc;

	if (https_re[id] == NULL) {
		int err;
		PCRE2_SIZE off;

		https_re[id] = pcre2_compile((PCRE2_SPTR)https_re_src[id], PCRE2_ZERO_TERMINATED,
					     PCRE2_CASELESS, &err, &off, NULL);
		if (https_re[id] == NULL)
			abort();	/* a constant pattern: a bug, not input */
		(void)pcre2_jit_compile(https_re[id], PCRE2_JIT_COMPLETE);
	}
	if (https_md == NULL && (https_md = pcre2_match_data_create(4, NULL)) == NULL)
		abort();
	rc = pcre2_match(https_re[id], (PCRE2_SPTR)s, len, 0, 0, https_md, NULL);
	if (rc < 0)
		return false;
	if (g_r != NULL) {
		ov = pcre2_get_ovector_pointer(https_md);
		*g_r = s + ov[2];
		*glen_r = ov[3] - ov[2];
	}
	return true;
}

/* check_https_ip_mismatch: an anchor to http(s)://IP whose text names an
 * https: URL that is not one to an IP. */
static unsigned int
eval_check_https_ip_mismatch(struct eval_ctx *ctx, const struct eval_call *call)
{
	size_t n;
	const struct html_result *const *all = msgview_html(ctx->mv, &n);

	(void)call;
	for (size_t h = 0; h < n; h++) {
		const struct html_result *r = all[h];

		for (size_t i = 0; i < r->anchors.n && i < r->anchor_uris.n; i++) {
			const struct strlist_item *key = &r->anchor_uris.v[i];
			const struct strlist_item *text = &r->anchors.v[i];

			if (!eval_https_match(HTTPS_RE_IP_KEY, key->p, key->len, NULL, NULL))
				continue;
			if (eval_https_match(HTTPS_RE_IP_TEXT, text->p, text->len, NULL, NULL))
				continue;
			if (eval_https_match(HTTPS_RE_HTTPS, text->p, text->len, NULL, NULL))
				return 1;
		}
	}
	return 0;
}

/* RegistryBoundaries::trim_domain($host) (not ASCII yet: idn_to_ascii
 * first), into out (reset). */
static void
eval_https_trim(const struct sa_settings *set, const char *host, size_t len,
		struct mime_str *out)
{
	struct mime_str ascii = { 0 };

	hdr_idn_to_ascii(host, len, &ascii);
	out->len = 0;
	hdr_trim_domain(set, ascii.p != NULL ? ascii.p : "", ascii.len, out);
	mime_str_free(&ascii);
}

/* Whether one key's anchor texts name an https host other than the key's
 * own domain (key_dom): the anchors from head on along next (those with
 * the same key, in order; n ends the chain). */
static bool
eval_https_texts_differ(const struct sa_settings *set, const struct html_result *r,
			size_t head, const size_t *next, size_t n,
			const struct mime_str *key_dom, struct mime_str *tmp)
{
	for (size_t j = head; j < n; j = next[j]) {
		const struct strlist_item *text = &r->anchors.v[j];
		const char *host;
		size_t hlen;

		if (!eval_https_match(HTTPS_RE_TEXT_HOST, text->p, text->len, &host, &hlen))
			continue;
		tmp->len = 0;
		if (uri_is_ip_address(host, hlen)) {
			mime_str_add(tmp, host, hlen);
		} else {
			eval_https_trim(set, host, hlen, tmp);
			if (!uri_domain_valid(set, tmp->p, tmp->len))
				continue;
		}
		/* next unless $https: "" and "0" are false in Perl */
		if (tmp->len == 0 || (tmp->len == 1 && tmp->p[0] == '0'))
			continue;
		if (tmp->len == key_dom->len && memcmp(tmp->p, key_dom->p, tmp->len) == 0)
			continue;
		return true;
	}
	return false;
}

/* check_https_http_mismatch(min, max): in one HTML part, an anchor to an
 * http(s) domain whose text shows an https URL of another domain, with at
 * least min (default 1) and fewer than max such anchored domains. */
static unsigned int
eval_check_https_http_mismatch(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct sa_settings *set = &ctx->rs->settings;
	const char *min_arg = eval_body_arg(call, 0), *max_arg = eval_body_arg(call, 1);
	double minanchors = eval_body_num(min_arg), maxanchors = eval_body_num(max_arg);
	size_t n;
	const struct html_result *const *all = msgview_html(ctx->mv, &n);
	struct mime_str dom = { 0 }, tmp = { 0 };
	unsigned int result = 0;

	/* $minanchors ||= 1 */
	if (minanchors == 0)
		minanchors = 1;
	for (size_t h = 0; h < n && result == 0; h++) {
		const struct html_result *r = all[h];
		size_t m = r->anchor_uris.n < r->anchors.n ? r->anchor_uris.n : r->anchors.n;
		bool hit = false, *first;
		size_t *next;
		unsigned long anchors = 0;

		/* each key once, as the keys of the hash, with the texts of all
		 * its anchors: grouped by sorting, not by a scan per anchor, as
		 * a message can hold hundreds of thousands of them */
		eval_find_dups(r->anchor_uris.v, m, false, &first, &next);
		for (size_t i = 0; i < m; i++) {
			const struct strlist_item *key = &r->anchor_uris.v[i];
			const char *host;
			size_t hlen;
			bool is_ip;

			if (!first[i])
				continue;
			if (!eval_https_match(HTTPS_RE_KEY_HOST, key->p, key->len, &host, &hlen))
				continue;
			if (uri_is_ip_address(host, hlen))
				continue;
			eval_https_trim(set, host, hlen, &dom);
			if (!uri_to_domain_defined(set, dom.p != NULL ? dom.p : "", dom.len,
						   &is_ip) || is_ip)
				continue;
			if (dom.len == 0 || (dom.len == 1 && dom.p[0] == '0'))
				continue;
			anchors++;
			if (!hit && eval_https_texts_differ(set, r, i, next, m, &dom, &tmp))
				hit = true;
		}
		free(first);
		free(next);
		if (hit && (double)anchors >= minanchors &&
		    (max_arg == NULL || (double)anchors < maxanchors))
			result = 1;
	}
	mime_str_free(&dom);
	mime_str_free(&tmp);
	return result;
}

/* TextCat's check_body_8bits: a body line with 8 bytes in a row from
 * 0x80-0xff, unless ok_languages is "all" (the default) or names a
 * language whose text has such runs.  (TextCat itself, the language
 * guesser, is not part of lmtpd; SpamAssassin's Debian configuration
 * does not load it either, so its rules stay off unless an admin wants
 * them.) */
static unsigned int
eval_check_body_8bits(struct eval_ctx *ctx, const struct eval_call *call)
{
	static const char *const eight_bit_langs[] = {
		"am", "ar", "be", "bg", "cs", "el", "et", "fa", "fi", "he", "hi", "hy", "is",
		"ja", "ka", "ko", "mr", "pt", "ru", "ta", "th", "tr", "uk", "vi", "yi", "zh",
	};
	const char *langs = ctx->rs->settings.ok_languages;
	const struct strlist *body;

	if (langs == NULL)
		return 0;
	for (const char *p = langs; *p != '\0';) {
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f')
			p++;
		n = strcspn(p, " \t\n\r\f");
		if (n == 3 && memcmp(p, "all", 3) == 0)
			return 0;
		for (size_t i = 0; n == 2 && i < N_ELEMENTS(eight_bit_langs); i++)
			if (memcmp(p, eight_bit_langs[i], 2) == 0)
				return 0;
		p += n;
	}
	body = eval_body_text(ctx, call);
	for (size_t i = 0; i < body->n; i++) {
		size_t run = 0;

		for (size_t k = 0; k < body->v[i].len; k++) {
			run = (unsigned char)body->v[i].p[k] >= 0x80 ? run + 1 : 0;
			if (run == 8)
				return 1;
		}
	}
	return 0;
}

/* URIEval's check_uri_truncated: a URI of the message was longer than
 * MAX_URI_LENGTH (8192) and cut, in HTML or as a canonical form. */
static unsigned int
eval_check_uri_truncated(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return msgview_uri_truncated(ctx->mv) ? 1 : 0;
}

static const struct eval_entry eval_body_entries[] = {
	{ "check_mailfrom_matches_rcvd", eval_check_mailfrom_matches_rcvd, false },
	{ "check_blank_line_ratio", eval_check_blank_line_ratio, false },
	{ "tvd_vertical_words", eval_tvd_vertical_words, false },
	{ "check_stock_info", eval_check_stock_info, false },
	{ "check_body_length", eval_check_body_length, false },
	{ "plaintext_body_length", eval_plaintext_body_length, false },
	{ "plaintext_sig_length", eval_plaintext_sig_length, false },
	{ "plaintext_body_sig_ratio", eval_plaintext_body_sig_ratio, false },
	{ "check_for_uppercase", eval_check_for_uppercase, false },
	{ "image_count", eval_image_count, false },
	{ "pixel_coverage", eval_pixel_coverage, false },
	{ "image_to_text_ratio", eval_image_to_text_ratio, false },
	{ "image_size_exact", eval_image_size_exact, false },
	{ "image_size_range", eval_image_size_range, false },
	{ "image_named", eval_image_named, false },
	{ "check_https_http_mismatch", eval_check_https_http_mismatch, false },
	{ "check_https_ip_mismatch", eval_check_https_ip_mismatch, false },
	{ "check_for_faraway_charset", eval_check_for_faraway_charset, false },
	{ "check_uri_truncated", eval_check_uri_truncated, false },
	{ "check_body_8bits", eval_check_body_8bits, false },
};

static const char *const eval_body_can[] = {
	"Mail::SpamAssassin::Plugin::BodyEval::has_check_body_length",
	"Mail::SpamAssassin::Plugin::BodyEval::has_plaintext_body_sig_ratio",
};

const struct eval_family eval_family_body = {
	eval_body_entries, N_ELEMENTS(eval_body_entries),
	eval_body_can, N_ELEMENTS(eval_body_can),
};
