/* SpamAssassin's VBounce plugin: have_any_bounce_relays() and
 * check_welcomelist_bounce_relays() (check_whitelist_bounce_relays), which
 * 20_vbounce.cf's BOUNCE_MESSAGE, CRBOUNCE_MESSAGE, VBOUNCE_MESSAGE and
 * ANY_BOUNCE_MESSAGE read to tell a bounce of mail the site sent (its
 * relays, welcomelist_bounce_relays, named in a quoted Received: line)
 * from backscatter.  The relays list may come from user_prefs, so both
 * run per recipient (score.c).
 *
 * Names are taken as Plugin/VBounce.pm takes them, quirks included: in
 * the rendered body, a space-delimited word with a dot inside on a line
 * starting "Received:" (after ">" quoting); in the raw body, from the
 * first such line on, a whitespace-delimited one of a Received: field
 * with its folded lines.  Perl's /g resumes after the delimiter a match
 * ended with, so of "a.b c.d" only "a.b" is taken.  Linear in the body:
 * a folded field is scanned again only from the word its last scan could
 * not finish, not from its start as the Perl does (a 5 MB field took it
 * minutes).  A NUL is part of a name, as for Perl. */
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
#include "rules_parse.h"
#include "xalloc.h"

static bool
vb_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* /^[> ]*Received:/i */
static bool
vb_received_line(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && (p[i] == '>' || p[i] == ' '))
		i++;
	return len - i >= 9 && strncasecmp(p + i, "Received:", 9) == 0;
}

/* The matches of / (\S+\.\S+) / (spaces_only) or /\s(\S+\.\S+)\s/ in
 * s[*pos..len), from *pos on; true at the first whose word is listed.
 * *pos ends where a scan of s with more text appended must start again:
 * at a word that runs to the end (the text after it decides), else after
 * what was scanned (every earlier start fails the same way again). */
static bool
vb_scan(const struct addrlist *list, const char *s, size_t len, size_t *pos,
	bool spaces_only)
{
	size_t i = *pos;

	while (i < len) {
		size_t j, dot_lo, dot_hi;
		bool dot = false;

		if (spaces_only ? s[i] != ' ' : !vb_is_space((unsigned char)s[i])) {
			i++;
			continue;
		}
		for (j = i + 1; j < len && !vb_is_space((unsigned char)s[j]); j++)
			;
		if (j == len) {
			*pos = i;
			return false;
		}
		/* \S+\.\S+ between the delimiters: a dot with a byte on
		 * either side inside the word */
		dot_lo = i + 2;
		dot_hi = j >= 2 ? j - 2 : 0;
		for (size_t k = dot_lo; k <= dot_hi && k < j && !dot; k++)
			dot = s[k] == '.';
		if (!dot || (spaces_only ? s[j] != ' ' : !vb_is_space((unsigned char)s[j]))) {
			i = j > i + 1 ? j : i + 1;
			continue;
		}
		if (addrlist_match_len(list, s + i + 1, j - i - 1, NULL))
			return true;
		i = j + 1;
	}
	*pos = len;
	return false;
}

static const struct addrlist *
vb_relays(struct eval_ctx *ctx)
{
	return eval_addrlist(ctx, ADDRLIST_WELCOME_BOUNCE_RELAYS);
}

static unsigned int
eval_have_any_bounce_relays(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return vb_relays(ctx)->n > 0;
}

/* /Received:/i anywhere in p[0..len) */
static bool
vb_mentions_received(const char *p, size_t len)
{
	for (size_t i = 0; i + 9 <= len; i++)
		if ((p[i] == 'r' || p[i] == 'R') && strncasecmp(p + i, "Received:", 9) == 0)
			return true;
	return false;
}

static unsigned int
eval_check_welcomelist_bounce_relays(struct eval_ctx *ctx, const struct eval_call *call)
{
	const struct addrlist *list = vb_relays(ctx);
	const struct strlist *body;
	const char *raw, *end, *line;
	size_t raw_len, field_pos = 0;
	bool found_received = false;
	struct buf field;
	unsigned int hit = 0;

	(void)call;
	if (list->n == 0)
		return 0;
	body = msgview_body(ctx->mv);
	for (size_t i = 0; i < body->n; i++) {
		size_t pos = 0;

		if (vb_received_line(body->v[i].p, body->v[i].len) &&
		    vb_scan(list, body->v[i].p, body->v[i].len, &pos, true))
			return 1;
	}
	/* the raw body too: the headers of an attached message/rfc822 */
	raw = mime_pristine_body(msgview_mime(ctx->mv), &raw_len);
	if (!vb_mentions_received(raw, raw_len))
		return 0;
	end = raw + raw_len;
	buf_init(&field, 0);
	for (line = raw; line < end && !hit;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = (size_t)((nl != NULL ? nl : end) - line);

		found_received |= vb_received_line(line, n);
		if (found_received) {
			/* a folded line joins the field (without its newline,
			 * as the Perl joins them) */
			if (n == 0 || !vb_is_space((unsigned char)line[0])) {
				buf_reset(&field);
				field_pos = 0;
			}
			buf_put(&field, line, n);
			if (vb_received_line(field.data, field.len) &&
			    vb_scan(list, field.data, field.len, &field_pos, false))
				hit = 1;
		}
		line = nl != NULL ? nl + 1 : end;
	}
	buf_free(&field);
	return hit;
}

static const struct eval_entry eval_vbounce_entries[] = {
	{ "have_any_bounce_relays", eval_have_any_bounce_relays, true },
	{ "check_welcomelist_bounce_relays", eval_check_welcomelist_bounce_relays, true },
	{ "check_whitelist_bounce_relays", eval_check_welcomelist_bounce_relays, true },
};

const struct eval_family eval_family_vbounce = {
	eval_vbounce_entries, N_ELEMENTS(eval_vbounce_entries), NULL, 0
};
