/* rules_split: compiles a rule's regex with PCRE2's 8-bit library even when
 * the pattern is too large for it.  Debian builds libpcre2-8 with 2-byte
 * links, so compiled code is capped at 64 KiB; a few of SpamAssassin's
 * ReplaceTags-expanded `__` sub-rules (__MY_MALWARE is 223 KB of source)
 * exceed that ("regular expression is too large").
 *
 * Such a pattern is split at an alternation into as few pieces as compile:
 * P(?:A|B|C)S becomes P(?:A|B)S and P(?:C)S, descending into the largest
 * unquantified group when the alternation is not at the top, and into an
 * alternative that is too large on its own.  The rule hits when any piece
 * matches, which is exactly when the whole pattern matches (backtracking
 * tries every alternative at every position).  For tflags multiple, where
 * each match is counted, rules_pieces_match() takes the leftmost match of
 * all pieces, the earliest piece on a tie: the whole pattern's own match as
 * long as the text before each split group (P) can match in only one way;
 * a multiple rule whose P could match in several ways is refused, since
 * its count could differ.  A pattern with no alternation to split but a
 * group repeated {n,m} times (which PCRE2 compiles n..m times over) has
 * repeats turned into calls of the group (non-atomic since PCRE2 10.30, so
 * the same matches): for {n}, only those beyond what compiles written out,
 * since calls run slower.  Patterns that refer to groups by number or name, or
 * use verbs or conditionals, are never rewritten: piece boundaries would
 * change what those refer to.  Bounded: pieces, depth and compile calls. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "rules_int.h"
#include "xalloc.h"

#define SPLIT_DEPTH_MAX 16
/* Trial compiles per pattern: a binary search per piece needs about
 * log2(alternatives) of them. */
#define SPLIT_COMPILES_MAX 1024

struct split {
	const char *pat;
	size_t len;
	uint32_t options;
	bool ext;		/* /x: # comments */
	bool multiple;		/* counted matches must stay identical */
	unsigned int compiles;
	pcre2_code **pieces;
	size_t count;
	char *why;
	size_t why_size;
};

static bool
split_quantifier_at(const char *p, size_t i, size_t e)
{
	return i < e && (p[i] == '?' || p[i] == '*' || p[i] == '+' ||
			 (p[i] == '{' && i + 1 < e && p[i + 1] >= '0' && p[i + 1] <= '9'));
}

/* End of the token at i: an escape, a class, a (?#...) comment, an /x
 * comment, or one character.  Parentheses and | are one-character
 * tokens for the caller to interpret. */
static size_t
split_token_end(const struct split *sp, size_t i, size_t e)
{
	const char *p = sp->pat;

	if (p[i] == '\\') {
		if (i + 1 < e && p[i + 1] == 'Q') {
			const char *q = memmem(p + i + 2, e - i - 2, "\\E", 2);

			return q != NULL ? (size_t)(q - p) + 2 : e;
		}
		if (i + 1 < e && p[i + 1] == 'c')	/* \c[ is a control char */
			return i + 3 <= e ? i + 3 : e;
		return i + 2 <= e ? i + 2 : e;
	}
	if (p[i] == '[') {
		size_t j = i + 1;

		if (j < e && p[j] == '^')
			j++;
		if (j < e && p[j] == ']')	/* a leading ] is literal */
			j++;
		while (j < e && p[j] != ']') {
			if (p[j] == '\\') {
				if (j + 1 < e && p[j + 1] == 'Q') {
					const char *q = memmem(p + j + 2, e - j - 2, "\\E", 2);

					j = q != NULL ? (size_t)(q - p) + 2 : e;
					continue;
				}
				j += 2;
			} else if (p[j] == '[' && j + 1 < e &&
				   (p[j + 1] == ':' || p[j + 1] == '.' || p[j + 1] == '=')) {
				const char *q = memmem(p + j + 2, e - j - 2,
						       (char[]){ p[j + 1], ']' }, 2);

				j = q != NULL ? (size_t)(q - p) + 2 : j + 1;
			} else {
				j++;
			}
		}
		return j < e ? j + 1 : e;
	}
	if (p[i] == '(' && i + 2 < e && p[i + 1] == '?' && p[i + 2] == '#') {
		const char *q = memchr(p + i, ')', e - i);

		return q != NULL ? (size_t)(q - p) + 1 : e;
	}
	if (p[i] == '#' && sp->ext) {
		const char *q = memchr(p + i, '\n', e - i);

		return q != NULL ? (size_t)(q - p) + 1 : e;
	}
	return i + 1;
}

/* Index just past the ')' closing the group opened at i, or e. */
static size_t
split_group_end(const struct split *sp, size_t i, size_t e)
{
	unsigned int depth = 0;

	while (i < e) {
		size_t next = split_token_end(sp, i, e);

		if (next == i + 1 && sp->pat[i] == '(')
			depth++;
		else if (next == i + 1 && sp->pat[i] == ')' && --depth == 0)
			return next;
		i = next;
	}
	return e;
}

/* Length of an inline option setting "(?imsx-imsx)" or "(?^...)" at i
 * (without ':'), 0 if there is none. */
static size_t
split_option_setting(const char *p, size_t i, size_t e)
{
	size_t j = i + 2;

	if (i + 2 >= e || p[i] != '(' || p[i + 1] != '?')
		return 0;
	while (j < e && (strchr("imnsxJU^-", p[j]) != NULL && p[j] != '\0'))
		j++;
	return j < e && p[j] == ')' && j > i + 2 ? j + 1 - i : 0;
}

/* Constructs whose meaning depends on which groups exist, or on more than
 * the branch they sit in. */
static const char *
split_unsafe(const struct split *sp)
{
	static const char *const seqs[] = { "(?P=", "(?P>", "(?&", "(?R", "(?(", "(?|",
					    "(*", "(?+", "\\g", "\\k",
					    "\\K" };
	const char *p = sp->pat;

	for (size_t i = 0; i < sp->len; i = split_token_end(sp, i, sp->len)) {
		for (size_t k = 0; k < N_ELEMENTS(seqs); k++)
			if (strncmp(p + i, seqs[k], strlen(seqs[k])) == 0)
				return "group references, conditionals or verbs";
		if (p[i] == '\\' && i + 1 < sp->len && p[i + 1] >= '1' && p[i + 1] <= '9')
			return "a back reference";
		/* (?1) (?-1): calls by number (not (?-i) or (?-i:...)) */
		if (p[i] == '(' && i + 3 < sp->len && p[i + 1] == '?' &&
		    ((p[i + 2] >= '0' && p[i + 2] <= '9') ||
		     (p[i + 2] == '-' && p[i + 3] >= '0' && p[i + 3] <= '9')))
			return "a group call";
		if (!sp->ext && p[i] == '(' && i + 1 < sp->len && p[i + 1] == '?') {
			size_t j = i + 2;

			while (j < sp->len && strchr("imnsxJU^-", p[j]) != NULL && p[j] != '\0') {
				if (p[j] == 'x')
					return "an inline x flag";
				j++;
			}
		}
	}
	return NULL;
}

/* Whether the pattern has \G, which matches only at the start offset of
 * a search. */
static bool
split_start_dependent(const struct split *sp)
{
	for (size_t i = 0; i < sp->len; i = split_token_end(sp, i, sp->len))
		if (sp->pat[i] == '\\' && i + 1 < sp->len && sp->pat[i + 1] == 'G')
			return true;
	return false;
}

static void
split_free_pieces(struct split *sp)
{
	for (size_t i = 0; i < sp->count; i++)
		pcre2_code_free(sp->pieces[i]);
	free(sp->pieces);
	sp->pieces = NULL;
	sp->count = 0;
}

/* Compiles text; 1 on success (*re_r set), 0 when too large, -1 on any
 * other error (why set). */
static int
split_try(struct split *sp, const char *text, size_t len, pcre2_code **re_r)
{
	int err;
	PCRE2_SIZE erroff;
	PCRE2_UCHAR msg[256];

	if (++sp->compiles > SPLIT_COMPILES_MAX) {
		snprintf(sp->why, sp->why_size,
			 "regular expression is too large, and splitting it needs more than "
			 "%d trial compiles", SPLIT_COMPILES_MAX);
		return -1;
	}
	*re_r = pcre2_compile((PCRE2_SPTR)text, len, sp->options, &err, &erroff, NULL);
	if (*re_r != NULL)
		return 1;
	if (err == PCRE2_ERROR_PATTERN_TOO_LARGE)
		return 0;
	pcre2_get_error_message(err, msg, sizeof(msg));
	snprintf(sp->why, sp->why_size, "%s at offset %zu of a split piece", (char *)msg,
		 (size_t)erroff);
	return -1;
}

static int
split_add(struct split *sp, pcre2_code *re)
{
	if (sp->count >= RULES_PIECES_MAX) {
		pcre2_code_free(re);
		snprintf(sp->why, sp->why_size,
			 "regular expression is too large, even split in %d pieces",
			 RULES_PIECES_MAX);
		return -1;
	}
	sp->pieces = xreallocarray(sp->pieces, sp->count + 1, sizeof(*sp->pieces));
	sp->pieces[sp->count++] = re;
	return 0;
}

/* T[0,start) + alternatives [i..j] joined by | + T[end,len), compiled. */
static int
split_try_range(struct split *sp, const struct buf *t, size_t start, size_t end,
		const size_t *alt_s, const size_t *alt_e, size_t i, size_t j,
		struct buf *text, pcre2_code **re_r)
{
	buf_reset(text);
	buf_put(text, t->data, start);
	for (size_t k = i; k <= j; k++) {
		if (k > i)
			buf_put(text, "|", 1);
		buf_put(text, t->data + alt_s[k], alt_e[k] - alt_s[k]);
	}
	buf_put(text, t->data + end, t->len - end);
	return split_try(sp, text->data != NULL ? text->data : "", text->len, re_r);
}

/* Body of a plain group (capturing, (?:, (?flags:) opened at i, or 0. */
static size_t
split_plain_body(const char *p, size_t i, size_t e)
{
	size_t j;

	if (i + 1 < e && p[i + 1] != '?' && p[i + 1] != '*')
		return i + 1;
	if (i + 2 < e && p[i + 2] == ':')
		return i + 3;
	for (j = i + 2; j < e && p[j] != '\0' && strchr("imnsJU^-", p[j]) != NULL; j++)
		;
	return j > i + 2 && j < e && p[j] == ':' ? j + 1 : 0;
}

/* The largest alternation in [s,e) whose alternatives can become separate
 * pieces: [s,e) itself or the body of a group reached only through plain,
 * unquantified groups (a repeat or a lookaround would let a split change
 * what matches).  Leading option settings stay out of it (every piece
 * keeps them); one between alternatives rules the alternation out, as it
 * carries into the branches after it. */
static void
split_find(const struct split *sp, size_t s, size_t e, size_t *best_s, size_t *best_e)
{
	const char *p = sp->pat;
	size_t opt, alts = 1;
	bool setting = false;

	while ((opt = split_option_setting(p, s, e)) > 0)
		s += opt;
	for (size_t i = s; i < e;) {
		size_t next = split_token_end(sp, i, e);

		if (next == i + 1 && p[i] == '(') {
			size_t close = split_group_end(sp, i, e), body;

			if (split_option_setting(p, i, e) > 0)
				setting = true;
			else if ((body = split_plain_body(p, i, e)) > 0 && close > body &&
				 !split_quantifier_at(p, close, e))
				split_find(sp, body, close - 1, best_s, best_e);
			i = close;
			continue;
		}
		if (next == i + 1 && p[i] == '|')
			alts++;
		i = next;
	}
	if (alts >= 2 && !setting && e - s > *best_e - *best_s) {
		*best_s = s;
		*best_e = e;
	}
}

/* Whether text [0,s) before a split alternation can match in only one
 * way: nothing but group openers and atoms, no alternation, quantifier or
 * complete group, so the leftmost match of the pieces (the earliest on a
 * tie) is the whole pattern's, and tflags multiple counts the same. */
static bool
split_prefix_deterministic(const struct split *sp, size_t s)
{
	const char *p = sp->pat;

	for (size_t i = 0; i < s;) {
		size_t next = split_token_end(sp, i, s), opt, body;

		if (next == i + 1 && p[i] == '(') {
			if ((opt = split_option_setting(p, i, s)) > 0)
				i += opt;
			else if ((body = split_plain_body(p, i, s)) > 0)
				i = body;
			else
				return false;
			continue;
		}
		if (next == i + 1 && strchr("|)?*+", p[i]) != NULL)
			return false;
		if (split_quantifier_at(p, i, s))
			return false;
		i = next;
	}
	return true;
}

/* Compiles t, split into pieces when it is too large: its largest
 * splittable alternation is cut into runs of alternatives as long as
 * compile (a binary search per run), and an alternative too large on its
 * own is split again in the text with only that alternative left.  At
 * depth 0, t is the whole pattern, which the caller has just found too
 * large (and counted in sp->compiles): it is not compiled again. */
static int
split_text(struct split *sp, const struct buf *t, unsigned int depth)
{
	pcre2_code *re = NULL, *best = NULL;
	size_t best_s = 0, best_e = 0, *alt_s = NULL, *alt_e = NULL, n = 0, i;
	struct buf text;
	int rc;

	if (depth > 0) {
		rc = split_try(sp, t->data, t->len, &re);
		if (rc != 0)
			return rc > 0 ? split_add(sp, re) : -1;
	}
	if (depth > SPLIT_DEPTH_MAX) {
		snprintf(sp->why, sp->why_size,
			 "regular expression is too large, and its alternations nest too deep "
			 "to split");
		return -1;
	}
	sp->pat = t->data;
	sp->len = t->len;
	split_find(sp, 0, t->len, &best_s, &best_e);
	if (best_e == 0) {
		snprintf(sp->why, sp->why_size,
			 "regular expression is too large, and has no alternation to split at");
		return -1;
	}
	if (sp->multiple && !split_prefix_deterministic(sp, best_s)) {
		snprintf(sp->why, sp->why_size,
			 "regular expression is too large, and splitting it would change how "
			 "many times it matches (tflags multiple)");
		return -1;
	}
	alt_s = xreallocarray(NULL, 1, sizeof(*alt_s));
	alt_s[0] = best_s;
	for (i = best_s; i < best_e;) {
		size_t next = split_token_end(sp, i, best_e);

		if (next == i + 1 && sp->pat[i] == '(') {
			i = split_group_end(sp, i, best_e);
			continue;
		}
		if (next == i + 1 && sp->pat[i] == '|') {
			alt_s = xreallocarray(alt_s, n + 2, sizeof(*alt_s));
			alt_e = xreallocarray(alt_e, n + 1, sizeof(*alt_e));
			alt_e[n++] = i;
			alt_s[n] = i + 1;
		}
		i = next;
	}
	alt_e = xreallocarray(alt_e, n + 1, sizeof(*alt_e));
	alt_e[n++] = best_e;

	buf_init(&text, 0);
	rc = 0;
	for (i = 0; i < n && rc == 0;) {
		size_t lo = i, hi = n;	/* hi: the first run end known not to compile */

		rc = split_try_range(sp, t, best_s, best_e, alt_s, alt_e, i, i, &text, &re);
		if (rc < 0)
			break;
		if (rc == 0) {
			/* too large on its own: split what is left with it */
			struct buf one = text;

			buf_init(&text, 0);
			rc = split_text(sp, &one, depth + 1);
			buf_free(&one);
			/* the recursion pointed them at one's text, now freed */
			sp->pat = t->data;
			sp->len = t->len;
			i++;
			continue;
		}
		best = re;
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;

			rc = split_try_range(sp, t, best_s, best_e, alt_s, alt_e, i, mid, &text,
					     &re);
			if (rc < 0)
				break;
			if (rc > 0) {
				pcre2_code_free(best);
				best = re;
				lo = mid;
			} else {
				hi = mid;
			}
		}
		if (rc < 0) {
			pcre2_code_free(best);
			break;
		}
		rc = split_add(sp, best);
		i = lo + 1;
	}
	buf_free(&text);
	free(alt_s);
	free(alt_e);
	return rc < 0 ? -1 : 0;
}

/* (?:G){n,m} -> (?<lmtpd_rep>G)(?&lmtpd_rep){n-1,m-1} for the largest
 * such group at the top level; NULL when there is none.  For {n}, copies
 * of the group stay written out before the calls (calls cost more to run
 * than written-out repeats); NULL when copies is not below n. */
static char *
split_repeat_rewrite(const struct split *sp, unsigned long copies)
{
	const char *p = sp->pat;
	size_t best = 0, best_close = 0;
	struct buf out;
	unsigned long lo, hi = 0;
	bool has_hi, open_hi;
	char *q;

	if (strstr(p, "lmtpd_rep") != NULL)
		return NULL;
	for (size_t i = 0; i < sp->len;) {
		size_t next = split_token_end(sp, i, sp->len);

		if (next == i + 1 && p[i] == '(') {
			size_t close = split_group_end(sp, i, sp->len);

			if (i + 2 < sp->len && p[i + 1] == '?' && p[i + 2] == ':' &&
			    close < sp->len && p[close] == '{' && close - i > best_close - best) {
				lo = strtoul(p + close + 1, &q, 10);
				if (q != p + close + 1 && lo >= 1 && lo <= 100 &&
				    (*q == '}' || *q == ',')) {
					best = i;
					best_close = close;
				}
			}
			i = close;
			continue;
		}
		i = next;
	}
	if (best_close == 0)
		return NULL;
	lo = strtoul(p + best_close + 1, &q, 10);
	has_hi = *q == ',';
	open_hi = has_hi && q[1] == '}';
	if (has_hi && !open_hi) {
		hi = strtoul(q + 1, &q, 10);
		if (*q != '}' || hi < lo)
			return NULL;
	} else if (open_hi) {
		q++;
	}
	if (copies > 0 && (has_hi || copies >= lo))
		return NULL;
	buf_init(&out, 0);
	buf_put(&out, p, best);
	buf_put_str(&out, "(?<lmtpd_rep>");
	buf_put(&out, p + best + 3, best_close - best - 3);
	for (unsigned long k = 0; k < copies; k++)
		buf_put(&out, p + best, best_close - best);
	if (copies > 0)
		buf_putf(&out, "(?&lmtpd_rep){%lu}", lo - 1 - copies);
	else if (open_hi)
		buf_putf(&out, "(?&lmtpd_rep){%lu,}", lo - 1);
	else if (has_hi)
		buf_putf(&out, "(?&lmtpd_rep){%lu,%lu}", lo - 1, hi - 1);
	else
		buf_putf(&out, "(?&lmtpd_rep){%lu}", lo - 1);
	/* q is at the closing } of the quantifier */
	buf_put_str(&out, q + 1);
	return buf_steal(&out, NULL);
}

int
rules_compile_pieces(const char *written, bool jit, bool multiple, uint32_t options,
		     struct rule_regex *out, char *why, size_t why_size)
{
	struct split sp;
	struct buf whole;
	char *pattern, *rewritten;
	int rc;
	const char *unsafe;
	int err;
	PCRE2_SIZE erroff;
	pcre2_code *re;

	memset(out, 0, sizeof(*out));
	memset(&sp, 0, sizeof(sp));
	if (rules_split_regex(written, &pattern, &sp.options, why, why_size) < 0)
		return -1;
	sp.options |= options;
	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, sp.options, &err,
			   &erroff, NULL);
	if (re == NULL && err != PCRE2_ERROR_PATTERN_TOO_LARGE) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(err, msg, sizeof(msg));
		snprintf(why, why_size, "%s at offset %zu", (char *)msg, (size_t)erroff);
		free(pattern);
		return -1;
	}
	if (re == NULL) {
		sp.pat = pattern;
		sp.len = strlen(pattern);
		sp.ext = (sp.options & PCRE2_EXTENDED) != 0;
		sp.multiple = multiple;
		sp.why = why;
		sp.why_size = why_size;
		/* the compile above, which split_text does not repeat */
		sp.compiles = 1;
		unsafe = split_unsafe(&sp);
		if (unsafe != NULL) {
			snprintf(why, why_size,
				 "regular expression is too large, and %s keeps it from "
				 "being split", unsafe);
			free(pattern);
			return -1;
		}
		buf_init(&whole, 0);
		buf_put(&whole, pattern, sp.len);
		rc = split_text(&sp, &whole, 0);
		buf_free(&whole);
		sp.pat = pattern;
		sp.len = strlen(pattern);
		if (rc < 0) {
			char first[512];

			split_free_pieces(&sp);
			/* no alternation to split: maybe a repeated group */
			snprintf(first, sizeof(first), "%s", why);
			/* as many written-out repeats as compile */
			for (unsigned long copies = 100; re == NULL && copies-- > 0;) {
				rewritten = split_repeat_rewrite(&sp, copies);
				if (rewritten == NULL)
					continue;
				re = pcre2_compile((PCRE2_SPTR)rewritten, PCRE2_ZERO_TERMINATED,
						   sp.options, &err, &erroff, NULL);
				free(rewritten);
			}
			if (re == NULL) {
				snprintf(why, why_size, "%s", first);
				free(pattern);
				return -1;
			}
			out->repeat_calls = true;
		} else {
			out->pieces = sp.pieces;
			out->count = sp.count;
			/* only counted matches keep pieces' matches: no
			 * need to scan the other patterns */
			out->start_dependent = multiple && split_start_dependent(&sp);
		}
	}
	free(pattern);
	out->offset_limit = (options & PCRE2_USE_OFFSET_LIMIT) != 0;
	if (re != NULL) {
		out->pieces = xcalloc(1, sizeof(*out->pieces));
		out->pieces[0] = re;
		out->count = 1;
	}
	/* JIT is an optimisation: without it the interpreter runs. */
	if (jit)
		for (size_t i = 0; i < out->count; i++)
			(void)pcre2_jit_compile(out->pieces[i], PCRE2_JIT_COMPLETE);
	return 0;
}

void
rules_regex_free(struct rule_regex *rx)
{
	for (size_t i = 0; i < rx->count; i++)
		pcre2_code_free(rx->pieces[i]);
	free(rx->pieces);
	for (size_t i = 0; i < rx->gate_count; i++)
		pcre2_code_free(rx->gate[i]);
	free(rx->gate);
	memset(rx, 0, sizeof(*rx));
}

int
rules_pieces_match(const struct rule_regex *rx, const char *subject, size_t len,
		   size_t start, bool any, pcre2_match_data *md, pcre2_match_context *mctx,
		   struct rules_piece_next *next, size_t *start_r, size_t *end_r)
{
	bool found = false;

	for (size_t i = 0; i < rx->count; i++) {
		size_t ms, me;

		if (next != NULL && next[i].state == PIECE_NONE)
			continue;
		if (next != NULL && next[i].state == PIECE_MATCH && next[i].start >= start) {
			ms = next[i].start;
			me = next[i].end;
		} else {
			const PCRE2_SIZE *ov;
			int rc = pcre2_match(rx->pieces[i], (PCRE2_SPTR)subject, len, start, 0,
					     md, mctx);

			if (rc < 0) {
				if (next != NULL)
					next[i].state = rc == PCRE2_ERROR_NOMATCH ? PIECE_NONE
						: PIECE_UNKNOWN;
				continue;
			}
			ov = pcre2_get_ovector_pointer(md);
			ms = ov[0];
			me = ov[1];
			if (next != NULL)
				next[i] = (struct rules_piece_next){ PIECE_MATCH, ms, me };
		}
		/* leftmost wins; on a tie the earlier piece, whose
		 * alternatives come first in the whole pattern */
		if (!found || ms < *start_r) {
			*start_r = ms;
			*end_r = me;
			found = true;
			if (any || *start_r == start)
				break;
		}
	}
	return found ? 1 : -1;
}
