/* bayes_tok: SpamAssassin's Bayes tokenizer (Plugin/Bayes.pm tokenize,
 * _tokenize_line, _tokenize_headers and the _pre_chew_* helpers), with
 * its constants: title case ignored, long 8-bit runs as UTF-8 characters,
 * long tokens as "sk:" skips (not in URIs), mail addresses and URI-like
 * words chewed into U*, D* and UD: tokens, body tokens decomposed.  Its
 * substitutions are SpamAssassin's own regular expressions, run with
 * PCRE2.  The sources are SpamAssassin's default bayes_token_sources:
 * header, visible (the body's visible text, Subject first), invisible
 * (HTML text the reader does not see: "I*:" tokens) and uri.  Not taken
 * over: the MIME-digest source (off by default there too) and the SHA-1
 * token hashing (tokens are stored as text, so --dump can show them).
 *
 * Bounds: each token at most BAYES_TOKEN_MAX bytes (a longer one is cut
 * and keeps a hash of the whole, see tok_push), at most
 * BAYES_TOKENS_MAX distinct tokens per message (headers first, then URIs,
 * the visible body, the invisible text), and the rendered views are
 * already bounded by msgview. */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "bayes.h"
#include "buf.h"
#include "hdr.h"
#include "lmtpd_limits.h"
#include "log.h"
#include "msgview.h"
#include "strset.h"
#include "xalloc.h"

/* Header fields that are noise for Bayes ($IGNORED_HDRS). */
static const char tok_ignored_hdrs[] =
	"^(?ix: (?:X-)?Sender"
	"  |Delivered-To |Delivery-Date"
	"  |(?:X-)?Envelope-To"
	"  |X-MIME-Auto[Cc]onverted |X-Converted-To-Plain-Text"
	"  |Subject"
	"  |Date"
	"  |X-List|(?:X-)?Mailing-List"
	"  |(?:X-)?List-(?:Archive|Help|Id|Owner|Post|Subscribe"
	"    |Unsubscribe|Host|Id|Manager|Admin|Comment"
	"    |Name|Url)"
	"  |X-Unsub(?:scribe)?"
	"  |X-Mailman-Version |X-Been[Tt]here |X-Loop"
	"  |Mail-Followup-To"
	"  |X-eGroups-(?:Return|From)"
	"  |X-MDMailing-List"
	"  |X-XEmacs-List"
	"  |X-Sympa-To"
	"  |(?:X-)?Resent-(?:From|To|Date)"
	"  |(?:X-)?Original-(?:From|To|Date)"
	"  |X-MailScanner(?:-SpamCheck)?"
	"  |X-Spam(?:-(?:Status|Level|Flag|Report|Hits|Score|Checker-Version))?"
	"  |X-Antispam |X-RBL-Warning |X-Mailscanner"
	"  |X-MDaemon-Deliver-To |X-Virus-Scanned"
	"  |X-Mass-Check-Id"
	"  |X-Pyzor |X-DCC-\\S{2,25}-Metrics"
	"  |X-Filtered-B[Yy] |X-Scanned-By |X-Scanner"
	"  |X-AP-Spam-(?:Score|Status) |X-RIPE-Spam-Status"
	"  |X-SpamCop-[^:]+"
	"  |X-SMTPD |(?:X-)?Spam-Apparently-To"
	"  |SPAM |X-Perlmx-Spam"
	"  |X-Bogosity"
	"  |Content-Class |Thread-(?:Index|Topic)"
	"  |X-Original[Aa]rrival[Tt]ime"
	"  |(?:X-)?Status |X-Flags |X-Keywords |Replied |Forwarded"
	"  |Lines |Content-Length"
	"  |X-UIDL? |X-IMAPbase"
	"  |X-Bugzilla-[^:]+"
	"  |X-VM-(?:Bookmark|(?:POP|IMAP)-Retrieved|Labels|Last-Modified"
	"    |Summary-Format|VHeader|v\\d-Data|Message-Order)"
	"  | X-Gnus-Mail-Source"
	"  | Xref"
	"):";

/* Fields whose value only marks their presence ($MARK_PRESENCE_ONLY_HDRS). */
static const char tok_presence_hdrs[] =
	"^(?ix: X-Face"
	"  |X-(?:Gnu-?PG|PGP|GPG)(?:-Key)?-Fingerprint"
	"  |D(?:KIM|omainKey)-Signature"
	"  |X-Google-DKIM-Signature"
	"  |ARC-(?:Message-Signature|Seal)"
	"  |Autocrypt"
	")$";

/* %HEADER_NAME_COMPRESSION (names compared case-sensitively, as there). */
static const struct {
	const char *name, *short_name;
} tok_compress[] = {
	{ "Message-Id", "*m" }, { "Message-ID", "*M" }, { "Received", "*r" },
	{ "User-Agent", "*u" }, { "References", "*f" }, { "In-Reply-To", "*i" },
	{ "From", "*F" }, { "Reply-To", "*R" }, { "Return-Path", "*p" },
	{ "Return-path", "*rp" }, { "X-Mailer", "*x" },
	{ "X-Authentication-Warning", "*a" }, { "Organization", "*o" },
	{ "Organisation", "*o" }, { "Content-Type", "*ct" },
	{ "Content-Disposition", "*cd" }, { "Content-Transfer-Encoding", "*ce" },
	/* SpamAssassin 4 keeps metadata under lowercase names */
	{ "x-spam-relays-trusted", "*RT" }, { "x-spam-relays-untrusted", "*RU" },
};

enum tok_re {
	RE_IGNORED, RE_PRESENCE,
	RE_ELLIPSIS, RE_DASHES,
	RE_MID1, RE_MID2, RE_MID3,
	RE_RCVD1, RE_RCVD2, RE_RCVD3, RE_RCVD4, RE_RCVD5,
	RE_CT_BOUNDARY, RE_CT_WORDS,
	RE_COUNT
};

static const struct {
	const char *pattern;
	uint32_t options;
} tok_patterns[RE_COUNT] = {
	[RE_IGNORED] = { tok_ignored_hdrs, 0 },
	[RE_PRESENCE] = { tok_presence_hdrs, 0 },
	[RE_ELLIPSIS] = { "(\\w)(\\.{3,6})(\\w)", PCRE2_DOTALL },
	[RE_DASHES] = { "(\\w)(\\-{2,6})(\\w)", PCRE2_DOTALL },
	[RE_MID1] = { "<([0-9a-f]{4})[0-9a-f]{4}[0-9a-f]{4}\\$([0-9a-f]{4})[0-9a-f]{4}\\$"
		      "([0-9a-f]{8})\\@(\\S+)>", 0 },
	[RE_MID2] = { "<[A-Za-z0-9]{7}-[A-Za-z0-9]{6}-0[A-Za-z0-9]\\@", 0 },
	[RE_MID3] = { "<20\\d\\d[01]\\d[0123]\\d[012]\\d[012345]\\d[012345]\\d\\."
		      "[A-F0-9]{10,12}\\@", 0 },
	[RE_RCVD1] = { "\\swith\\sSMTP\\sid\\sg[\\dA-Z]{10,12}\\s", PCRE2_DOTALL },
	[RE_RCVD2] = { "\\swith\\sESMTP\\sid\\s[\\dA-F]{10,12}\\s", PCRE2_DOTALL },
	[RE_RCVD3] = { "\\bid\\s[a-zA-Z0-9]{7,20}\\b", PCRE2_DOTALL },
	[RE_RCVD4] = { "\\bid\\s[A-Za-z0-9]{7}-[A-Za-z0-9]{6}-0[A-Za-z0-9]", PCRE2_DOTALL },
	[RE_RCVD5] = { "(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\\s)?"
		       "[0-3\\s]?[0-9]\\s"
		       "(?:Jan|Feb|Ma[ry]|Apr|Ju[nl]|Aug|Sep|Oct|Nov|Dec)\\s"
		       "(?:19|20)?[0-9]{2}\\s"
		       "[0-2][0-9](?:\\:[0-5][0-9]){1,2}\\s"
		       "(?:\\s*\\(|\\)|\\s*(?:[+-][0-9]{4})|\\s*(?:UT|[A-Z]{2,3}T))*", 0 },
	/* the sixth and seventh of Received and those of the relay
	 * pseudo-headers, and the fourth of Message-ID and those of a
	 * boundary, are written out below */
	[RE_CT_BOUNDARY] = { "boundary=[\"'](.*?)[\"']", PCRE2_CASELESS },
	[RE_CT_WORDS] = { "\\b(?:text|charset)\\b", 0 },
};

/* Byte classes: kept by the first substitution of _tokenize_line
 * ([A-Za-z0-9,@*!_'"$. -]), trimmed at a token's ends ([-'".,]), \w,
 * [A-Z], and neither \w nor ':' nor '*' (what "Foo!" -> "Foo" drops). */
enum { TOK_KEEP = 1, TOK_TRIM = 2, TOK_W = 4, TOK_UPPER = 8, TOK_NONW = 16 };
static unsigned char tok_class[256];
/* An ASCII byte as the first substitution of _tokenize_line leaves it:
 * itself if TOK_KEEP, else a space. */
static unsigned char tok_ascii[128];

static void
tok_class_init(void)
{
	for (int c = 0; c < 256; c++) {
		bool w = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			 (c >= '0' && c <= '9') || c == '_';

		tok_class[c] = (unsigned char)((w || (c != 0 && strchr(",@*!_'\"$. -", c) != NULL) ?
						TOK_KEEP : 0) |
					       (c != 0 && strchr("-'\".,", c) != NULL ? TOK_TRIM : 0) |
					       (w ? TOK_W : 0) |
					       (c >= 'A' && c <= 'Z' ? TOK_UPPER : 0) |
					       (!w && c != ':' && c != '*' ? TOK_NONW : 0));
		if (c < 128)
			tok_ascii[c] = (tok_class[c] & TOK_KEEP) != 0 ? (unsigned char)c : ' ';
	}
}

static pcre2_code *tok_re[RE_COUNT];
static pcre2_match_data *tok_md;

static void
tok_init(void)
{
	if (tok_md != NULL)
		return;
	for (int i = 0; i < RE_COUNT; i++) {
		int err;
		PCRE2_SIZE off;

		tok_re[i] = pcre2_compile((PCRE2_SPTR)tok_patterns[i].pattern,
					  PCRE2_ZERO_TERMINATED, tok_patterns[i].options,
					  &err, &off, NULL);
		if (tok_re[i] == NULL)
			log_panic("bayes: pattern %d does not compile", i);
		(void)pcre2_jit_compile(tok_re[i], PCRE2_JIT_COMPLETE);
	}
	tok_class_init();
	tok_md = pcre2_match_data_create(16, NULL);
}

static bool
tok_match(int re, const char *s, size_t len)
{
	return pcre2_match(tok_re[re], (PCRE2_SPTR)s, len, 0, 0, tok_md, NULL) >= 0;
}

/* At most this many bytes of a substitution's buffers are kept from call
 * to call. */
#define TOK_SCRATCH_KEEP 65536

/* pcre2_substitute (extended syntax) of s[0..len) into out; false when it
 * fails (a match limit, a bad replacement), as Perl's s/// that finds
 * nothing. */
static bool
tok_pcre2_subst(pcre2_code *re, pcre2_match_data *md, const char *s, size_t len,
		const char *repl, bool global, struct buf *out)
{
	static char *scratch;
	static size_t cap;
	uint32_t opts = PCRE2_SUBSTITUTE_EXTENDED | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH |
			(global ? PCRE2_SUBSTITUTE_GLOBAL : 0);
	PCRE2_SIZE outlen;
	int rc;

	if (cap < len * 2 + 64) {
		cap = len * 2 + 64;
		scratch = xrealloc(scratch, cap);
	}
	outlen = cap;
	rc = pcre2_substitute(re, (PCRE2_SPTR)s, len, 0, opts, md, NULL, (PCRE2_SPTR)repl,
			      PCRE2_ZERO_TERMINATED, (PCRE2_UCHAR *)scratch, &outlen);
	if (rc == PCRE2_ERROR_NOMEMORY) {
		cap = outlen + 1;
		scratch = xrealloc(scratch, cap);
		outlen = cap;
		rc = pcre2_substitute(re, (PCRE2_SPTR)s, len, 0, opts, md, NULL, (PCRE2_SPTR)repl,
				      PCRE2_ZERO_TERMINATED, (PCRE2_UCHAR *)scratch, &outlen);
	}
	if (rc >= 0) {
		buf_reset(out);
		buf_put(out, scratch, outlen);
	}
	if (cap > TOK_SCRATCH_KEEP) {
		free(scratch);
		scratch = NULL;
		cap = 0;
	}
	return rc >= 0;
}

static int
tok_jit_match(pcre2_code *re, pcre2_match_data *md, const char *s, size_t len, size_t at)
{
	int rc = pcre2_jit_match(re, (PCRE2_SPTR)s, len, at, 0, md, NULL);

	if (rc == PCRE2_ERROR_JIT_BADOPTION)	/* no JIT code for it */
		rc = pcre2_match(re, (PCRE2_SPTR)s, len, at, 0, md, NULL);
	return rc;
}

/* Appends repl with $N (N all the digits there) replaced by group N of
 * the match whose ovector is ov (rc from the match); false when repl has
 * anything else pcre2_substitute would read (a backslash, "${", "$$") or
 * names a group the match did not set. */
static bool
tok_expand(const char *repl, const char *s, const PCRE2_SIZE *ov, int rc, struct buf *out)
{
	const char *lit = repl, *p = repl;

	while (*p != '\0') {
		unsigned long g = 0;
		const char *d;

		if (*p == '\\')
			return false;
		if (*p != '$') {
			p++;
			continue;
		}
		buf_put(out, lit, (size_t)(p - lit));
		for (d = p + 1; *d >= '0' && *d <= '9'; d++)
			g = g < 65536 ? g * 10 + (unsigned long)(*d - '0') : g;
		if (d == p + 1 || g >= (unsigned long)rc || ov[2 * g] == PCRE2_UNSET)
			return false;
		buf_put(out, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
		lit = p = d;
	}
	buf_put(out, lit, (size_t)(p - lit));
	return true;
}

/* Gives the substitution pcre2_substitute with PCRE2_SUBSTITUTE_EXTENDED
 * gives (without PCRE2_SUBSTITUTE_GLOBAL when !global), and false when
 * that would fail or find nothing, out then left alone.  Its own loop of
 * JIT matches: pcre2_substitute runs every match through pcre2_match's
 * checks and reads the replacement again each time, which cost 6000
 * instructions a Received header.  What the loop does not do itself (an
 * empty match, a match before where the search started, a replacement
 * that is more than text and $N) it leaves to pcre2_substitute. */
static bool
tok_subst_loop(pcre2_code *re, pcre2_match_data *md, const char *s, size_t len,
	       const char *repl, bool global, struct buf *out,
	       size_t (*first)(const char *s, size_t len, size_t from))
{
	static struct buf res;
	const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	size_t done = 0;
	bool any = false, ok = true;

	for (;;) {
		/* first: where a match can start at the earliest (SIZE_MAX:
		 * nowhere); the pattern must not look behind its start */
		size_t from = first != NULL ? first(s, len, done) : done;
		int rc = from <= len ? tok_jit_match(re, md, s, len, from) : PCRE2_ERROR_NOMATCH;

		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0) {	/* a match limit: pcre2_substitute fails too */
			any = false;
			break;
		}
		if (rc == 0 || ov[1] <= ov[0] || ov[0] < done) {
			ok = false;
			break;
		}
		if (!any)
			buf_reset(&res);
		any = true;
		buf_put(&res, s + done, ov[0] - done);
		if (!tok_expand(repl, s, ov, rc, &res)) {
			ok = false;
			break;
		}
		done = ov[1];
		if (!global)
			break;
	}
	if (!ok)
		any = tok_pcre2_subst(re, md, s, len, repl, global, out);
	else if (any) {
		struct buf t = *out;

		buf_put(&res, s + done, len - done);
		*out = res;	/* out's memory becomes the next call's */
		res = t;
	}
	if (res.cap > TOK_SCRATCH_KEEP)
		buf_free(&res);
	return any;
}

bool
bayes_subst_re(void *re, void *md, const char *s, size_t len, const char *repl, bool global,
	       struct buf *out)
{
	return tok_subst_loop(re, md, s, len, repl, global, out, NULL);
}

/* Where a match of Received's date pattern can start, at or after from:
 * its month's name comes 2 to 8 bytes after its start ("Mon, 01 Jan"),
 * and it looks at nothing before its start.  The JIT would try every
 * place of a Received header, most of it before the date. */
static size_t
tok_rcvd_date_first(const char *s, size_t len, size_t from)
{
	static const char months[] = "JanFebMarMayAprJunJulAugSepOctNovDec";

	for (size_t i = from; i + 3 <= len; i++) {
		switch (s[i]) {
		case 'J': case 'F': case 'M': case 'A': case 'S': case 'O': case 'N': case 'D':
			break;
		default:
			continue;
		}
		for (size_t k = 0; k < sizeof(months) - 1; k += 3)
			if (s[i] == months[k] && s[i + 1] == months[k + 1] &&
			    s[i + 2] == months[k + 2])
				return i >= from + 8 ? i - 8 : from;
	}
	return SIZE_MAX;
}

/* s/RE_RCVD5//g (a date with its zone) into out; false, out untouched,
 * when there is none. */
bool
bayes_subst_rcvd_date(const char *s, size_t len, struct buf *out)
{
	tok_init();
	return tok_subst_loop(tok_re[RE_RCVD5], tok_md, s, len, "", true, out,
			      tok_rcvd_date_first);
}

/* s/re/repl/ (g with global) into out. */
static void
tok_subst(int re, const char *s, size_t len, const char *repl, bool global, struct buf *out)
{
	if (!bayes_subst_re(tok_re[re], tok_md, s, len, repl, global, out)) {
		buf_reset(out);
		buf_put(out, s, len);
	}
}

/* In place: v = f(v), one of the substitutions written out, through
 * tmp. */
static void
tok_subst_by(bool (*f)(const char *, size_t, struct buf *), struct buf *v, struct buf *tmp)
{
	if (f(v->data != NULL ? v->data : "", v->len, tmp)) {
		struct buf t = *v;

		*v = *tmp;
		*tmp = t;
	}
}

/* In place: s = subst(s). */
static void
tok_subst_buf(int re, struct buf *s, const char *repl, bool global)
{
	(void)bayes_subst_re(tok_re[re], tok_md, s->data != NULL ? s->data : "", s->len, repl,
			     global, s);
}

/* s/[^_A-Za-z0-9]/ /g in place (the fourth Message-ID substitution),
 * byte by byte: the text is not UTF-8 to PCRE2 there. */
void
bayes_subst_nonword(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
		      c == '_'))
			s[i] = ' ';
	}
}

/* s/[a-fA-F0-9]/H/g in place (of a Content-Type boundary). */
void
bayes_subst_hex(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'))
			s[i] = 'H';
	}
}

/* s/([-_\.=]+)/ $1 /g into out (of a Content-Type boundary): the
 * leftmost, greedy match is each whole run, so every run gets a space on
 * either side. */
void
bayes_subst_punct(const char *s, size_t len, struct buf *out)
{
	size_t done = 0;

	buf_reset(out);
	for (size_t i = 0; i < len;) {
		size_t j = i;

		while (j < len && (s[j] == '-' || s[j] == '_' || s[j] == '.' || s[j] == '='))
			j++;
		if (j == i) {
			i++;
			continue;
		}
		buf_put(out, s + done, i - done);
		buf_put(out, " ", 1);
		buf_put(out, s + i, j - i);
		buf_put(out, " ", 1);
		done = i = j;
	}
	buf_put(out, s + done, len - done);
}

/* \w as PCRE2 has it without UCP (its built-in, ASCII tables). */
static bool
tok_word_byte(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_';
}

static bool
tok_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Makes out a copy of s[0..len) to be shortened in place (each
 * substitution written this way replaces a match by something no longer). */
static char *
tok_copy_to_shorten(const char *s, size_t len, struct buf *out)
{
	buf_reset(out);
	buf_put(out, s, len);
	return out->data;
}

/* s/ [a-z]+=/ /g into out (the "ip=", "rdns=" ... of the relay
 * pseudo-headers); false, out untouched, when there is none.  A match
 * starts at a space, and the greedy [a-z]+ gives back only letters, so
 * the leftmost is the first space followed by letters and '='. */
bool
bayes_subst_relays(const char *s, size_t len, struct buf *out)
{
	char *d = NULL;
	size_t w = 0;

	for (size_t i = 0; i < len;) {
		const char *sp = memchr(s + i, ' ', len - i);
		size_t k = sp != NULL ? (size_t)(sp - s) : len, j;

		/* no match starts before the next space */
		if (d != NULL) {
			memcpy(d + w, s + i, k - i);
			w += k - i;
		}
		if (k >= len)
			break;
		for (j = k + 1; j < len && s[j] >= 'a' && s[j] <= 'z'; j++)
			;
		if (j > k + 1 && j < len && s[j] == '=') {
			if (d == NULL) {
				d = tok_copy_to_shorten(s, len, out);
				w = k;
			}
			d[w++] = ' ';
			i = j + 1;
		} else {
			/* nor one before j: letters */
			if (d != NULL) {
				memcpy(d + w, s + k, j - k);
				w += j - k;
			}
			i = j;
		}
	}
	if (d == NULL)
		return false;
	d[w] = '\0';
	out->len = w;
	return true;
}

/* s/\b(?:with|from|for|SMTP|ESMTP)\b/ /g into out (Received); false, out
 * untouched, when there is none.  The words differ in their first two
 * bytes, so at most one can match at a place. */
bool
bayes_subst_rcvd_words(const char *s, size_t len, struct buf *out)
{
	char *d = NULL;
	size_t w = 0;

	for (size_t i = 0; i < len; i++) {
		const char *word;
		size_t n;

		switch (s[i]) {
		case 'w':
			word = "with";
			break;
		case 'f':
			word = i + 1 < len && s[i + 1] == 'o' ? "for" : "from";
			break;
		case 'S':
			word = "SMTP";
			break;
		case 'E':
			word = "ESMTP";
			break;
		default:
			goto copy;
		}
		n = strlen(word);
		if ((i > 0 && tok_word_byte((unsigned char)s[i - 1])) || len - i < n ||
		    memcmp(s + i, word, n) != 0 ||
		    (i + n < len && tok_word_byte((unsigned char)s[i + n])))
			goto copy;
		if (d == NULL) {
			d = tok_copy_to_shorten(s, len, out);
			w = i;
		}
		d[w++] = ' ';
		i += n - 1;
		continue;
copy:
		if (d != NULL)
			d[w++] = s[i];
	}
	if (d == NULL)
		return false;
	d[w] = '\0';
	out->len = w;
	return true;
}

/* Where 1 to 3 digits and then c end, from s[i] (0: not so).  Greedy
 * \d{1,3} gives nothing back that could be c, so one look decides. */
static size_t
tok_octet_end(const char *s, size_t len, size_t i, char c)
{
	size_t j = i;

	while (j < len && j - i < 3 && tok_digit((unsigned char)s[j]))
		j++;
	if (j == i || j >= len || s[j] != c)
		return 0;
	return j;
}

/* s/\b(\d{1,3}\.)(\d{1,3}\.)(\d{1,3})(\.\d{1,3})\b/$1$2$3 ip*$1$2$3$4 /g
 * into out (Received); false, out untouched, when there is none.
 * SpamAssassin's private-range branch compares "10." with "10" and never
 * runs: every address keeps three octets and gets its ip*. */
bool
bayes_subst_rcvd_ip(const char *s, size_t len, struct buf *out)
{
	size_t done = 0;
	bool any = false;

	for (size_t i = 0; i < len; i++) {
		size_t a, b, c, d;

		if (!tok_digit((unsigned char)s[i]) ||
		    (i > 0 && tok_word_byte((unsigned char)s[i - 1])))
			continue;
		if ((a = tok_octet_end(s, len, i, '.')) == 0 ||
		    (b = tok_octet_end(s, len, a + 1, '.')) == 0 ||
		    (c = tok_octet_end(s, len, b + 1, '.')) == 0)
			continue;
		/* \d{1,3}\b: the greedy run, backing off only onto digits,
		 * which \b refuses; so the whole run, at most 3 digits */
		for (d = c + 1; d < len && tok_digit((unsigned char)s[d]); d++)
			;
		if (d == c + 1 || d - (c + 1) > 3 ||
		    (d < len && tok_word_byte((unsigned char)s[d])))
			continue;
		if (!any)
			buf_reset(out);
		any = true;
		buf_put(out, s + done, i - done);
		buf_put(out, s + i, c - i);
		buf_put(out, " ip*", 4);
		buf_put(out, s + i, d - i);
		buf_put(out, " ", 1);
		done = d;
		i = d - 1;
	}
	if (any)
		buf_put(out, s + done, len - done);
	return any;
}

static bool
tok_cont(unsigned char c)
{
	return c >= 0x80 && c <= 0xBF;
}

/* The first substitution of _tokenize_line: what is not a word byte, a
 * UTF-8 character or a Latin-1 letter becomes a space, byte for byte (so
 * in place, the length unchanged). */
static void
tok_normalize(const char *s, size_t len, struct buf *out)
{
	unsigned char *p;

	buf_reset(out);
	buf_put(out, s, len);
	p = (unsigned char *)out->data;
	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		uint64_t w;

		/* 8 ASCII bytes at a time: no UTF-8 to look at */
		if (i + 8 <= len && (memcpy(&w, p + i, 8), (w & 0x8080808080808080ULL) == 0)) {
			unsigned char *q = p + i;

			q[0] = tok_ascii[q[0]];
			q[1] = tok_ascii[q[1]];
			q[2] = tok_ascii[q[2]];
			q[3] = tok_ascii[q[3]];
			q[4] = tok_ascii[q[4]];
			q[5] = tok_ascii[q[5]];
			q[6] = tok_ascii[q[6]];
			q[7] = tok_ascii[q[7]];
			i += 8;
			continue;
		}
		if (c < 0x80) {
			if ((tok_class[c] & TOK_KEEP) == 0)
				p[i] = ' ';
			i++;
		} else if (c >= 0xC0 && c <= 0xDF && i + 1 < len && tok_cont(p[i + 1])) {
			i += 2;
		} else if (c >= 0xE0 && c <= 0xEF && i + 2 < len && tok_cont(p[i + 1]) &&
			   tok_cont(p[i + 2])) {
			i += 3;
		} else if (c >= 0xF0 && c <= 0xF4 && i + 3 < len && tok_cont(p[i + 1]) &&
			   tok_cont(p[i + 2]) && tok_cont(p[i + 3])) {
			i += 4;
		} else {
			if (c < 0xA1)
				p[i] = ' ';
			i++;
		}
	}
}

/* Whether s/(?:^|\.\s+)([A-Z])([^A-Z]+)(?:\s|$)/.../ can match at all: an
 * uppercase letter first, or after a full stop and white space. */
static bool
tok_title_possible(const char *s, size_t len)
{
	if (len > 0 && s[0] >= 'A' && s[0] <= 'Z')
		return true;
	for (const char *d = memchr(s, '.', len); d != NULL;
	     d = memchr(d + 1, '.', len - (size_t)(d + 1 - s))) {
		const char *q = d + 1, *end = s + len;

		if (q >= end || !(*q == ' ' || (*q >= '\t' && *q <= '\r')))
			continue;
		while (q < end && (*q == ' ' || (*q >= '\t' && *q <= '\r')))
			q++;
		if (q < end && *q >= 'A' && *q <= 'Z')
			return true;
	}
	return false;
}

static bool
tok_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool
tok_upper(unsigned char c)
{
	return c >= 'A' && c <= 'Z';
}

/* Of a title word whose capital is s[c]: where the match ends (what it
 * consumes) with *word_end_r where $2 ends, or 0 when there is none.
 * ([^A-Z]+) is greedy and gives back bytes until (?:\s|$) holds: a run
 * that reaches the end matches whole ($); else the match needs the run's
 * last white space at or after its second byte, which it consumes. */
static size_t
title_word_end(const unsigned char *s, size_t len, size_t c, size_t *word_end_r)
{
	size_t r = c + 1, last_space = 0;

	while (r < len && !tok_upper(s[r])) {
		if (r > c + 1 && tok_space(s[r]))
			last_space = r;
		r++;
	}
	if (r == c + 1)
		return 0;
	if (r == len) {
		*word_end_r = len;
		return len;
	}
	if (last_space == 0)
		return 0;
	*word_end_r = last_space;
	return last_space + 1;
}

void
bayes_title_words(const char *str, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t copied = 0, p = 0;
	char lower[2] = { ' ', 0 };

	buf_reset(out);
	while (p < len) {
		size_t c = 0, end = 0, word_end = 0;

		if (p == 0 && tok_upper(s[0]))
			end = title_word_end(s, len, 0, &word_end);
		if (end == 0 && s[p] == '.') {
			/* \.\s+ takes every white space: a capital must follow */
			size_t q = p + 1;

			while (q < len && tok_space(s[q]))
				q++;
			if (q > p + 1 && q < len && tok_upper(s[q])) {
				c = q;
				end = title_word_end(s, len, c, &word_end);
			}
		}
		if (end == 0) {
			p++;
			continue;
		}
		lower[1] = (char)(s[c] + ('a' - 'A'));
		buf_put(out, str + copied, p - copied);
		buf_put(out, lower, 2);
		buf_put(out, str + c + 1, word_end - c - 1);
		buf_put(out, " ", 1);
		copied = p = end;
	}
	buf_put(out, str + copied, len - copied);
}

/* Where tokens go: a list, and for a message the set of those it holds
 * already (an open-addressing table of indexes into the list, sized for
 * BAYES_TOKENS_MAX), so a repeated token costs no copy. */
#define TOK_SEEN_SLOTS 8192	/* a power of two, over 2 x BAYES_TOKENS_MAX */
struct tok_sink {
	struct strlist *list;
	uint32_t *seen;		/* NULL: keep duplicates (bayes_tokenize_line) */
	uint32_t *used;		/* the slots set, to clear them afterwards */
};


/* The text of a message's tokens while it is tokenized, each with a NUL:
 * room for BAYES_TOKENS_MAX of the longest. */
static char tok_store[BAYES_TOKENS_MAX * (BAYES_TOKEN_MAX + 1)];
static size_t tok_store_len;

/* Where the next token is put together: for a message, the free end of
 * its store, where it stays if it is new (tok_push checks the room);
 * else a buffer of its own. */
static char *
tok_next(const struct tok_sink *out)
{
	static char own[BAYES_TOKEN_MAX + 1];

	return out->seen != NULL ? tok_store + tok_store_len : own;
}

/* Adds t[0..n) (from tok_next) unless the message has it. */
static void
tok_sink_add(struct tok_sink *out, char *t, size_t n)
{
	struct strlist *l = out->list;
	uint32_t *slot;

	if (out->seen == NULL) {
		strlist_add(l, t, n);
		return;
	}
	for (uint32_t h = str_hash_fnv(t, n);; h++) {
		const struct strlist_item *it;

		slot = &out->seen[h & (TOK_SEEN_SLOTS - 1)];
		if (*slot == 0)
			break;
		it = &l->v[*slot - 1];
		if (it->len == n && memcmp(it->p, t, n) == 0)
			return;
	}
	/* kept where it is, in the message's store (bayes_tokenize moves it
	 * into one block at the end): a malloc and a free per token cost
	 * more */
	t[n] = '\0';
	tok_store_len += n + 1;
	if (l->n < l->cap) {
		l->v[l->n].p = t;
		l->v[l->n].len = n;
		l->n++;
	} else
		strlist_add_owned(l, t, n);
	*slot = (uint32_t)l->n;
	out->used[l->n - 1] = (uint32_t)(slot - out->seen);
}

/* Whether the sink takes no more tokens (a message holds
 * BAYES_TOKENS_MAX). */
static bool
tok_sink_full(const struct tok_sink *out)
{
	return out->seen != NULL && out->list->n >= BAYES_TOKENS_MAX;
}

/* A token longer than BAYES_TOKEN_MAX: its first bytes, '~' and this many
 * hex digits of a hash of the whole.  SpamAssassin keeps every token
 * whole (it stores a hash of each), so two long tokens that differ only
 * past the first bytes must stay two tokens here too. */
#define TOK_LONG_HASH_HEX 16
#define TOK_LONG_KEEP (BAYES_TOKEN_MAX - 1 - TOK_LONG_HASH_HEX)

/* The first 8 bytes of BLAKE2b-128 of a + b, in hex: the same on every
 * machine and in every version, as the database keeps it. */
static void
tok_long_hash(const char *a, size_t al, const char *b, size_t bl, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	crypto_generichash_state st;
	unsigned char h[crypto_generichash_BYTES_MIN];

	str_hash_init();	/* sodium_init */
	if (crypto_generichash_init(&st, NULL, 0, sizeof(h)) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)a, al) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)b, bl) != 0 ||
	    crypto_generichash_final(&st, h, sizeof(h)) != 0)
		log_panic("bayes: BLAKE2b failed");
	for (size_t i = 0; i < TOK_LONG_HASH_HEX / 2; i++) {
		hex[2 * i] = digits[h[i] >> 4];
		hex[2 * i + 1] = digits[h[i] & 15];
	}
}

/* Adds a + b as one token (a: a field's prefix such as "H*F:", "UD:", or
 * nothing).  Over BAYES_TOKEN_MAX bytes it is cut to TOK_LONG_KEEP bytes
 * or fewer, on a UTF-8 boundary of the whole, and the hash of the whole
 * added. */
static void
tok_push(struct tok_sink *out, const char *a, size_t al, const char *b, size_t bl)
{
	size_t n = al + bl;
	char *t;

	if (n == 0 || tok_sink_full(out))
		return;
	t = tok_next(out);
	if (n <= BAYES_TOKEN_MAX) {
		memcpy(t, a, al);
		memcpy(t + al, b, bl);
	} else {
		size_t keep = TOK_LONG_KEEP, from_a;

		/* the byte after the kept ones starts a character */
		while (keep > 0 && tok_cont((unsigned char)(keep < al ? a[keep] : b[keep - al])))
			keep--;
		from_a = keep < al ? keep : al;
		memcpy(t, a, from_a);
		memcpy(t + from_a, b, keep - from_a);
		t[keep] = '~';
		tok_long_hash(a, al, b, bl, t + keep + 1);
		n = keep + 1 + TOK_LONG_HASH_HEX;
	}
	tok_sink_add(out, t, n);
}

/* _tokenize_mail_addrs: U*local, D*domain and D* of each parent.  addr
 * holds no NUL (a C string, or a token, whose NULs became spaces). */
static void
tok_mail_addr(const char *addr, size_t len, struct tok_sink *out)
{
	const char *at = NULL, *dom;
	size_t dlen;

	/* /(.+)\@(.+)$/: the last "@" with something on both sides */
	for (size_t i = len > 1 ? len - 1 : 0; i-- > 1;)
		if (addr[i] == '@') {
			at = addr + i;
			break;
		}
	if (at == NULL)
		return;
	tok_push(out, "U*", 2, addr, (size_t)(at - addr));
	dom = at + 1;
	dlen = (size_t)(addr + len - dom);
	for (;;) {
		const char *dot;

		tok_push(out, "D*", 2, dom, dlen);
		/* s/^[^\.]+\.(.+)$/$1/: the label before the first dot goes */
		dot = memchr(dom, '.', dlen);
		if (dot == NULL || dot == dom || (size_t)(dot + 1 - dom) >= dlen)
			break;
		dlen -= (size_t)(dot + 1 - dom);
		dom = dot + 1;
	}
}

static bool
tok_match_stopword(const struct bayes_settings *s, const char *tok, size_t len)
{
	for (size_t i = 0; i < s->stopword_count; i++) {
		/* the JIT's own entry skips pcre2_match's checks, a third of
		 * the cost for words this short; without JIT code it refuses.
		 * It also skips the UTF-8 check, which no stopword needs: they
		 * compile as "^(?i)RE$", so a "(*UTF)" inside cannot compile */
		int rc = pcre2_jit_match(s->stopwords[i], (PCRE2_SPTR)tok, len, 0, 0, tok_md,
					 NULL);

		if (rc == PCRE2_ERROR_JIT_BADOPTION)
			rc = pcre2_match(s->stopwords[i], (PCRE2_SPTR)tok, len, 0, 0, tok_md, NULL);
		if (rc >= 0)
			return true;
	}
	return false;
}

/* The answers of tok_match_stopword by word: the same words come back in
 * every message, and each check runs the pattern of every enabled
 * language.  Direct-mapped (a word replaces the one in its slot), so the
 * memory is fixed (896 KB: with 8192 slots, words pushing each other out
 * cost 9 M instructions over 1500 messages); tied to the settings'
 * serial, so settings loaded again never see another's answers. */
#define STOP_MEMO_SLOTS 32768
#define STOP_MEMO_LEN 22

struct stop_memo {
	uint32_t hash;
	uint8_t len;			/* 0: empty */
	bool stop;
	char tok[STOP_MEMO_LEN];
};

static struct stop_memo *stop_memo;
static uint64_t stop_memo_serial;

static bool
tok_is_stopword(const struct bayes_settings *s, const char *tok, size_t len)
{
	uint32_t h;
	struct stop_memo *m;

	if (len == 0 || len > STOP_MEMO_LEN)
		return tok_match_stopword(s, tok, len);
	if (stop_memo == NULL || stop_memo_serial != s->serial) {
		if (stop_memo == NULL)	/* touched all over: see xmap_alloc */
			stop_memo = xmap_alloc(STOP_MEMO_SLOTS * sizeof(*stop_memo));
		else
			memset(stop_memo, 0, STOP_MEMO_SLOTS * sizeof(*stop_memo));
		stop_memo_serial = s->serial;
	}
	h = str_hash_fnv(tok, len);
	m = &stop_memo[h & (STOP_MEMO_SLOTS - 1)];
	if (m->len != len || m->hash != h || memcmp(m->tok, tok, len) != 0) {
		m->hash = h;
		m->len = (uint8_t)len;
		memcpy(m->tok, tok, len);
		m->stop = tok_match_stopword(s, tok, len);
	}
	return m->stop;
}

/* The UTF-8-aware length of the first 7 characters of a skip token. */
static size_t
tok_seven_chars(const unsigned char *p, size_t len)
{
	size_t i = 0;

	for (int k = 0; k < 7; k++) {
		size_t n = 1;

		if (i >= len)
			return len + 1;
		if (p[i] >= 0xC0 && p[i] <= 0xDF && i + 1 < len && tok_cont(p[i + 1]))
			n = 2;
		else if (p[i] >= 0xE0 && p[i] <= 0xEF && i + 2 < len && tok_cont(p[i + 1]) &&
			 tok_cont(p[i + 2]))
			n = 3;
		else if (p[i] >= 0xF0 && p[i] <= 0xF4 && i + 3 < len && tok_cont(p[i + 1]) &&
			 tok_cont(p[i + 2]) && tok_cont(p[i + 3]))
			n = 4;
		i += n;
	}
	return i;
}

/* Keeps the bytes of tok[0..len) that are \w, ':' or '*' in d. */
static size_t
tok_strip_nonw(const char *tok, size_t len, char *d)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if ((tok_class[(unsigned char)tok[i]] & TOK_NONW) == 0)
			d[n++] = tok[i];
	return n;
}

static void
tok_one(const struct bayes_settings *s, const char *prefix, size_t pl, int region, char *tok,
	size_t len, struct tok_sink *out)
{
	unsigned int classes = 0;
	char sk[3 + 7 * 4];

	/* trim -'". at either end */
	while (len > 0 && (tok_class[(unsigned char)*tok] & TOK_TRIM) != 0) {
		tok++;
		len--;
	}
	while (len > 0 && (tok_class[(unsigned char)tok[len - 1]] & TOK_TRIM) != 0)
		len--;
	if (len < 3)
		return;
	if (s->stopword_count > 0 && tok_is_stopword(s, tok, len))
		return;
	for (size_t i = 0; i < len; i++)
		classes |= tok_class[(unsigned char)tok[i]];
	/* '@' and '.' are TOK_NONW: a word of letters and digits is no
	 * address and no domain */
	if ((region == 1 || region == 2) && (classes & TOK_NONW) != 0) {
		bool addr = false, uri = false;

		for (size_t i = 1; i + 1 < len; i++) {
			if (tok[i] == '@' && tok[i - 1] != ' ' && tok[i + 1] != ' ') {
				addr = true;
				break;
			}
			if (tok[i] == '.' && tok[i - 1] != ' ' &&
			    ((tok[i + 1] | 0x20) >= 'a' && (tok[i + 1] | 0x20) <= 'z'))
				uri = true;
		}
		if (addr)
			tok_mail_addr(tok, len, out);
		else if (uri) {
			const char *d = tok;
			size_t dl = len;

			tok_push(out, "UD:", 3, tok, len);
			/* s/^[^\.]+\.(.+)$/$1/ repeatedly */
			for (;;) {
				const char *dot = memchr(d, '.', dl);

				if (dot == NULL || dot == d || (size_t)(dot + 1 - d) >= dl)
					break;
				dl -= (size_t)(dot + 1 - d);
				d = dot + 1;
				tok_push(out, "UD:", 3, d, dl);
			}
		}
	}
	if (len > s->max_token_length && memchr(tok, '*', len) == NULL) {
		const unsigned char *p = (const unsigned char *)tok;
		bool cont2 = false, found = false;

		for (size_t i = 0; i + 1 < len; i++)
			if (tok_cont(p[i]) && tok_cont(p[i + 1]))
				cont2 = true;
		if (cont2) {
			/* ([\xE0-\xEF] | [\xF0-\xF4][\x80-\xBF]) [\x80-\xBF]{2} */
			for (size_t i = 0; i < len;) {
				size_t n = 0;

				if (p[i] >= 0xE0 && p[i] <= 0xEF && i + 2 < len &&
				    tok_cont(p[i + 1]) && tok_cont(p[i + 2]))
					n = 3;
				else if (p[i] >= 0xF0 && p[i] <= 0xF4 && i + 3 < len &&
					 tok_cont(p[i + 1]) && tok_cont(p[i + 2]) &&
					 tok_cont(p[i + 3]))
					n = 4;
				if (n > 0) {
					char u8[3 + 4] = "u8:";

					/* prefix + "u8:" + the character, one token */
					memcpy(u8 + 3, tok + i, n);
					tok_push(out, prefix, pl, u8, 3 + n);
					found = true;
					i += n;
				} else
					i++;
			}
			if (found)
				return;
		}
		if (region == 0 || region == 1) {
			size_t seven = tok_seven_chars(p, len);

			/* ^(7 chars).{2,}\z -> sk:$1 */
			if (seven + 2 <= len) {
				memcpy(sk, "sk:", 3);
				memcpy(sk + 3, tok, seven);
				tok = sk;
				len = 3 + seven;
				classes = 0;
				for (size_t i = 0; i < len; i++)
					classes |= tok_class[(unsigned char)tok[i]];
			}
		}
	}
	if ((region == 1 || region == 2) && (classes & (TOK_NONW | TOK_UPPER)) != 0) {
		/* the whole token counts: a long one keeps a hash of it all */
		char small[BAYES_TOKEN_MAX * 4 + 16];
		char *d = len < sizeof(small) ? small : xmalloc(len);

		if ((classes & TOK_NONW) != 0)	/* "Foo!" -> "Foo" */
			tok_push(out, prefix, pl, d, tok_strip_nonw(tok, len, d));
		if ((classes & TOK_UPPER) != 0) {	/* "foo!", then "foo" */
			for (size_t i = 0; i < len; i++) {
				unsigned char c = (unsigned char)tok[i];

				d[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			}
			tok_push(out, prefix, pl, d, len);
			if ((classes & TOK_NONW) != 0)
				tok_push(out, prefix, pl, d, tok_strip_nonw(d, len, d));
		}
		if (d != small)
			free(d);
	}
	tok_push(out, prefix, pl, tok, len);
}

/* Whether s holds n c's in a row (memmem's general search cost more). */
static bool
tok_has_run(const char *s, size_t len, char c, size_t n)
{
	const char *end = s + len;

	for (const char *p = memchr(s, c, len); p != NULL;) {
		size_t run = 1;

		while (p + run < end && p[run] == c)
			run++;
		if (run >= n)
			return true;
		p += run;
		p = p < end ? memchr(p, c, (size_t)(end - p)) : NULL;
	}
	return false;
}

/* _tokenize_line into out; the text is worked on in buffers kept from
 * line to line. */
static void
tok_line(const struct bayes_settings *s, const char *line, size_t len, const char *prefix,
	 int region, struct tok_sink *out)
{
	static struct buf a, b;
	size_t pl = strlen(prefix);
	char *p, *end;

	tok_normalize(line, len, &a);
	if (a.len >= 5 && tok_has_run(a.data, a.len, '.', 3))
		tok_subst_buf(RE_ELLIPSIS, &a, "$1 $2 $3", true);
	if (a.len >= 4 && tok_has_run(a.data, a.len, '-', 2))
		tok_subst_buf(RE_DASHES, &a, "$1 $2 $3", true);
	if ((region == 1 || region == 2) && tok_title_possible(a.data, a.len)) {
		bayes_title_words(a.data, a.len, &b);
		buf_reset(&a);
		buf_put(&a, b.data != NULL ? b.data : "", b.len);
	}
	/* split on white space: tok_normalize made every other white space
	 * byte a space, and what ran after it adds only spaces; a space
	 * over the buffer's closing NUL ends the last token */
	if (a.data == NULL)
		buf_put(&a, "", 0);
	p = a.data;
	end = p + a.len;
	*end = ' ';
	while (p < end) {
		char *q;

		while (p < end && *p == ' ')
			p++;
		q = p;
		while (*q != ' ')
			q++;
		if (q > p)
			tok_one(s, prefix, pl, region, p, (size_t)(q - p), out);
		p = q;
	}
	*end = '\0';
	/* keep the memory of ordinary lines only */
	if (a.cap > TOK_SCRATCH_KEEP)
		buf_free(&a);
	if (b.cap > TOK_SCRATCH_KEEP)
		buf_free(&b);
}

void
bayes_tokenize_line(const struct bayes_settings *s, const char *line, size_t len,
		    const char *prefix, int region, struct strlist *out)
{
	struct tok_sink sink = { out, NULL, NULL };

	tok_init();
	tok_line(s, line, len, prefix, region, &sink);
}

/* ---- headers ---- */

struct tok_hdr {
	const char *key;	/* static, or the name tok_headers holds */
	struct buf val;
};

struct tok_hdrs {
	struct tok_hdr *v;
	size_t n, cap;
};

static void
tok_hdrs_add(struct tok_hdrs *h, const char *key, const char *val, size_t len)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i].key, key) == 0) {
			buf_put(&h->v[i].val, " ", 1);
			buf_put(&h->v[i].val, val, len);
			return;
		}
	if (h->n == h->cap) {
		h->cap = h->cap == 0 ? 32 : h->cap * 2;
		h->v = xreallocarray(h->v, h->cap, sizeof(*h->v));
	}
	h->v[h->n].key = key;
	buf_init(&h->v[h->n].val, 0);
	buf_put(&h->v[h->n].val, val, len);
	h->n++;
}

static bool
tok_name_is(const char *name, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcasecmp(name, *list) == 0)
			return true;
	return false;
}

/* (?:|X-|Resent-)NAME */
static bool
tok_name_prefixed(const char *name, const char *const *list)
{
	if (strncasecmp(name, "X-", 2) == 0 && tok_name_is(name + 2, list))
		return true;
	if (strncasecmp(name, "Resent-", 7) == 0 && tok_name_is(name + 7, list))
		return true;
	return tok_name_is(name, list);
}

/* Appends " PREFIXWORD" (no space first): buf_putf's formatting cost more
 * than the chewing around it. */
static void
tok_put_word(struct buf *out, const char *prefix, const char *word)
{
	if (out->len > 0)
		buf_put(out, " ", 1);
	buf_put(out, prefix, strlen(prefix));
	buf_put(out, word, strlen(word));
}

static void
tok_chew_addr(const char *val, size_t len, struct buf *out)
{
	struct hdr_addr *addrs = NULL;
	size_t n = hdr_parse_addresses(val, len, &addrs);
	struct strlist toks;
	struct tok_sink sink = { &toks, NULL, NULL };

	strlist_init(&toks);
	buf_reset(out);
	for (size_t i = 0; i < n; i++) {
		if (addrs[i].phrase != NULL) {
			char *save = NULL, *copy = xstrdup(addrs[i].phrase);

			for (char *w = strtok_r(copy, " \t\r\n", &save); w != NULL;
			     w = strtok_r(NULL, " \t\r\n", &save))
				tok_put_word(out, "N*", w);
			free(copy);
		}
		if (addrs[i].address != NULL)
			tok_mail_addr(addrs[i].address, strlen(addrs[i].address), &sink);
	}
	for (size_t i = 0; i < toks.n; i++)
		tok_put_word(out, "", toks.v[i].p);
	strlist_free(&toks);
	hdr_addrs_free(addrs, n);
}

static void
tok_chew_content_type(const char *val, size_t len, struct buf *out, struct buf *tmp)
{
	struct buf boundary;
	int rc;
	PCRE2_SIZE start = 0;

	buf_init(&boundary, 0);
	/* the boundary of the last match is appended, chewed */
	while (start <= len &&
	       (rc = pcre2_match(tok_re[RE_CT_BOUNDARY], (PCRE2_SPTR)val, len, start, 0,
				 tok_md, NULL)) >= 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(tok_md);

		buf_reset(&boundary);
		buf_put(&boundary, val + ov[2], ov[3] - ov[2]);
		start = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
	}
	if (start > 0) {
		tok_subst(RE_CT_BOUNDARY, val, len, " ", true, out);
		bayes_subst_hex(boundary.data, boundary.len);
		bayes_subst_punct(boundary.data != NULL ? boundary.data : "", boundary.len, tmp);
		buf_put(out, tmp->data != NULL ? tmp->data : "", tmp->len);
	} else {	/* no match: s/// would find none either */
		buf_reset(out);
		buf_put(out, val, len);
	}
	tok_subst_buf(RE_CT_WORDS, out, " ", true);
	buf_free(&boundary);
}

/* What becomes of a header by its name alone. */
enum tok_hkind {
	TOK_H_OTHER, TOK_H_MID, TOK_H_ADDR, TOK_H_RCVD, TOK_H_CT, TOK_H_MIME, TOK_H_PRESENCE,
	TOK_H_RELAYS
};
enum { TOK_ALSO_MI = 1, TOK_ALSO_AD = 2, TOK_ALSO_UA = 4 };

#define TOK_HNAME_SLOTS 1024	/* a power of two */
#define TOK_HNAME_LEN 40

struct tok_hname {
	uint32_t hash;
	uint8_t len;		/* 0: empty (no name is empty) */
	bool ignored;		/* $IGNORED_HDRS matches "NAME:" */
	uint8_t kind;		/* enum tok_hkind */
	uint8_t also;		/* TOK_ALSO_*: copied under *MI, *Ad, *UA too */
	const char *key;	/* %HEADER_NAME_COMPRESSION's, or NULL */
	char name[TOK_HNAME_LEN];
};

static void
tok_hname_decide(const char *name, size_t nl, struct tok_hname *h)
{
	static const char *const mid[] = { "Message-Id", NULL };
	static const char *const addr_hdrs[] = {
		"Return-Path", "From", "To", "Cc", "Reply-To", "Errors-To",
		"Mail-Followup-To", "Sender", NULL
	};
	static const char *const mi[] = { "In-Reply-To", "References", "Message-ID", NULL };
	static const char *const ad[] = { "From", "To", "Cc", NULL };
	static const char *const ua[] = { "X-Mailer", "User-Agent", NULL };
	struct buf colon;

	buf_init(&colon, 0);
	buf_put(&colon, name, nl);
	buf_put(&colon, ":", 1);
	h->ignored = tok_match(RE_IGNORED, colon.data, colon.len);
	buf_free(&colon);
	if (tok_name_prefixed(name, mid))
		h->kind = TOK_H_MID;
	else if (tok_name_prefixed(name, addr_hdrs))
		h->kind = TOK_H_ADDR;
	else if (strcmp(name, "Received") == 0)
		h->kind = TOK_H_RCVD;
	else if (strcmp(name, "Content-Type") == 0)
		h->kind = TOK_H_CT;
	else if (strcmp(name, "MIME-Version") == 0)
		h->kind = TOK_H_MIME;
	else if (tok_match(RE_PRESENCE, name, nl))
		h->kind = TOK_H_PRESENCE;
	else if (strncmp(name, "x-spam-relays-", 14) == 0 &&
		 (strcmp(name + 14, "external") == 0 || strcmp(name + 14, "internal") == 0 ||
		  strcmp(name + 14, "trusted") == 0 || strcmp(name + 14, "untrusted") == 0))
		h->kind = TOK_H_RELAYS;
	else
		h->kind = TOK_H_OTHER;
	h->also = (uint8_t)((tok_name_is(name, mi) ? TOK_ALSO_MI : 0) |
			    (tok_name_is(name, ad) ? TOK_ALSO_AD : 0) |
			    (tok_name_is(name, ua) ? TOK_ALSO_UA : 0));
	h->key = NULL;
	for (size_t i = 0; i < N_ELEMENTS(tok_compress); i++)
		if (strcmp(name, tok_compress[i].name) == 0) {
			h->key = tok_compress[i].short_name;
			break;
		}
}

/* The decisions about the header name (a C string), remembered by name
 * (direct-mapped, short names only; 1024 slots for the few hundred names
 * mail has: 1500 training messages have 210, and with 256 slots one name
 * in eight was decided again): the same names come in every message, and
 * deciding runs two patterns and a dozen compares. */
static const struct tok_hname *
tok_hname(const char *name)
{
	static struct tok_hname memo[TOK_HNAME_SLOTS], one;
	size_t nl = strlen(name);
	uint32_t h;
	struct tok_hname *m;

	if (nl == 0 || nl >= TOK_HNAME_LEN) {
		tok_hname_decide(name, nl, &one);
		return &one;
	}
	h = str_hash_fnv(name, nl);
	m = &memo[h & (TOK_HNAME_SLOTS - 1)];
	if (m->len != nl || m->hash != h || memcmp(m->name, name, nl) != 0) {
		tok_hname_decide(name, nl, m);
		m->hash = h;
		m->len = (uint8_t)nl;
		memcpy(m->name, name, nl);
	}
	return m;
}

static void
tok_one_header(const struct bayes_settings *s, const char *name, const struct tok_hname *hn,
	       const char *val, size_t len, struct tok_hdrs *parsed)
{
	struct buf v, tmp;
	char lname[256];
	const char *key = hn->key != NULL ? hn->key : name;
	size_t nl = strlen(name);

	if (nl >= sizeof(lname))
		return;
	for (size_t i = 0; i <= nl; i++)
		lname[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
	if (s->ignore_headers != NULL && strset_contains(s->ignore_headers, lname, nl))
		return;
	buf_init(&v, 0);
	buf_init(&tmp, 0);
	buf_put(&v, val, len);
	if (hn->kind == TOK_H_MID) {
		tok_subst_buf(RE_MID1, &v, " OEA$1 OEB$2 OEC$3 $4 ", true);
		tok_subst_buf(RE_MID2, &v, "", false);
		tok_subst_buf(RE_MID3, &v, "", true);
		if (v.data != NULL)
			bayes_subst_nonword(v.data, v.len);
	} else if (hn->kind == TOK_H_ADDR) {
		tok_chew_addr(val, len, &v);
	} else if (hn->kind == TOK_H_RCVD) {
		tok_subst_buf(RE_RCVD1, &v, " ", true);
		tok_subst_buf(RE_RCVD2, &v, " ", true);
		tok_subst_buf(RE_RCVD3, &v, " ", true);
		tok_subst_buf(RE_RCVD4, &v, " ", true);
		tok_subst_by(bayes_subst_rcvd_date, &v, &tmp);
		tok_subst_by(bayes_subst_rcvd_ip, &v, &tmp);
		tok_subst_by(bayes_subst_rcvd_words, &v, &tmp);
	} else if (hn->kind == TOK_H_CT) {
		tok_chew_content_type(val, len, &v, &tmp);
	} else if (hn->kind == TOK_H_MIME) {
		char *one = memmem(v.data, v.len, "1.0", 3);

		if (one != NULL) {
			memmove(one, one + 3, v.len - (size_t)(one + 3 - v.data) + 1);
			v.len -= 3;
		}
	} else if (hn->kind == TOK_H_PRESENCE) {
		buf_reset(&v);
		buf_put(&v, "1", 1);
	} else if (hn->kind == TOK_H_RELAYS) {
		tok_subst_by(bayes_subst_relays, &v, &tmp);
	}
	if ((hn->also & TOK_ALSO_MI) != 0)
		tok_hdrs_add(parsed, "*MI", v.data != NULL ? v.data : "", v.len);
	if ((hn->also & TOK_ALSO_AD) != 0)
		tok_hdrs_add(parsed, "*Ad", v.data != NULL ? v.data : "", v.len);
	if ((hn->also & TOK_ALSO_UA) != 0)
		tok_hdrs_add(parsed, "*UA", v.data != NULL ? v.data : "", v.len);
	tok_hdrs_add(parsed, key, v.data != NULL ? v.data : "", v.len);
	buf_free(&v);
	buf_free(&tmp);
}

/* Splits "Name: value\n" lines (continuations unfolded) into fields. */
static void
tok_headers(const struct bayes_settings *s, struct msgview *mv, struct tok_sink *out)
{
	/* get_all_metadata(): "name: value" in key order, the names
	 * lowercase as SpamAssassin 4 stores them (so x-spam-relays-external
	 * and -internal are not compressed); the view asks for them by their
	 * usual names */
	static const char *const meta[][2] = {
		{ "x-spam-relays-external", "X-Spam-Relays-External" },
		{ "x-spam-relays-internal", "X-Spam-Relays-Internal" },
		{ "x-spam-relays-trusted", "X-Spam-Relays-Trusted" },
		{ "x-spam-relays-untrusted", "X-Spam-Relays-Untrusted" },
	};
	/* the fields of "ALL", in its buffer: name and value each end with a
	 * NUL written there (over the colon, over the line's end) */
	struct field {
		char *name, *val;
		size_t len;
	} *fields = NULL;
	size_t nfields = 0, cap = 0;
	struct buf all, one;
	struct tok_hdrs parsed = { NULL, 0, 0 };
	size_t rcvd[2] = { SIZE_MAX, SIZE_MAX };	/* the last two Received */
	const struct tok_hname *hn;
	char *p, *end;

	buf_init(&all, 0);
	buf_init(&one, 0);
	if (msgview_get(mv, "ALL", &all) && all.data != NULL) {
		p = all.data;
		end = all.data + all.len;
		while (p < end) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			char *e = nl != NULL ? nl : end;

			if ((*p == ' ' || *p == '\t') && nfields > 0) {
				/* joined as C strings (as "%s %.*s" joined them):
				 * each part to its first NUL, a space between, so
				 * without NULs the line just moves up to the space
				 * where the last line's end was */
				struct field *fl = &fields[nfields - 1];
				const char *z = memchr(fl->val, '\0', fl->len);
				const char *z2 = memchr(p, '\0', (size_t)(e - p));
				size_t vl = z != NULL ? (size_t)(z - fl->val) : fl->len;
				size_t cl = z2 != NULL ? (size_t)(z2 - p) : (size_t)(e - p);

				fl->val[vl] = ' ';
				memmove(fl->val + vl + 1, p, cl);
				fl->len = vl + 1 + cl;
				fl->val[fl->len] = '\0';
			} else {
				char *colon = memchr(p, ':', (size_t)(e - p));

				if (colon != NULL && colon > p) {
					if (nfields == cap) {
						cap = cap == 0 ? 64 : cap * 2;
						fields = xreallocarray(fields, cap, sizeof(*fields));
					}
					*colon = '\0';
					fields[nfields].name = p;
					fields[nfields].val = colon + 1;
					fields[nfields].len = (size_t)(e - colon - 1);
					*e = '\0';	/* the buffer keeps a NUL past its end */
					nfields++;
				}
			}
			p = e + 1;
		}
	}
	for (size_t i = 0; i < nfields; i++) {
		if (strcasecmp(fields[i].name, "Received") == 0) {
			rcvd[0] = rcvd[1];
			rcvd[1] = i;
			continue;
		}
		hn = tok_hname(fields[i].name);
		if (hn->ignored)
			continue;
		tok_one_header(s, fields[i].name, hn, fields[i].val, fields[i].len, &parsed);
	}
	for (size_t k = 0; k < N_ELEMENTS(meta); k++) {
		buf_reset(&one);
		if (msgview_get(mv, meta[k][1], &one) && one.len > 0)
			tok_one_header(s, meta[k][0], tok_hname(meta[k][0]), one.data, one.len,
				       &parsed);
	}
	/* the last Received, then the one before it */
	for (int k = 1; k >= 0; k--)
		if (rcvd[k] != SIZE_MAX)
			tok_one_header(s, "Received", tok_hname("Received"), fields[rcvd[k]].val,
				       fields[rcvd[k]].len, &parsed);
	for (size_t i = 0; i < parsed.n; i++) {
		/* "H" KEY ":", KEY at most 255 bytes (tok_one_header) */
		char prefix[300];
		size_t kl = strlen(parsed.v[i].key);

		prefix[0] = 'H';
		memcpy(prefix + 1, parsed.v[i].key, kl);
		memcpy(prefix + 1 + kl, ":", 2);
		tok_line(s, parsed.v[i].val.data != NULL ? parsed.v[i].val.data : "",
			 parsed.v[i].val.len, prefix, 0, out);
		buf_free(&parsed.v[i].val);
	}
	free(parsed.v);
	free(fields);
	buf_free(&all);
	buf_free(&one);
}

/* ---- the message ---- */

/* A token to sort, with its first 8 bytes as a big-endian number
 * (zero-padded): most comparisons are one of those. */
struct tok_key {
	uint64_t key;
	struct strlist_item it;
};

static uint64_t
tok_key_of(const char *p, size_t len)
{
	uint64_t k = 0;
	size_t n = len < 8 ? len : 8;

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
	if (n == 8) {
		memcpy(&k, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		k = __builtin_bswap64(k);
#endif
		return k;
	}
#endif
	for (size_t i = 0; i < n; i++)
		k |= (uint64_t)(unsigned char)p[i] << (56 - 8 * i);
	return k;
}

/* Bytewise order: equal keys mean equal first min(len, 8) bytes. */
static int
tok_key_cmp(const struct tok_key *x, const struct tok_key *y)
{
	size_t n;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	n = x->it.len < y->it.len ? x->it.len : y->it.len;
	if (n > 8) {
		int c = memcmp(x->it.p + 8, y->it.p + 8, n - 8);

		if (c != 0)
			return c;
	}
	return (x->it.len > y->it.len) - (x->it.len < y->it.len);
}

/* Sorts v[0..n) bytewise: a merge sort on the tokens' keys (qsort's
 * indirect calls and copies were 4% of classifying, a memcmp per
 * comparison another 3%).  The tokens are distinct, so any sort gives
 * the one order. */
static void
tok_sort(struct strlist_item *v, size_t n)
{
	static struct tok_key a[BAYES_TOKENS_MAX], b[BAYES_TOKENS_MAX];
	struct tok_key *src = a, *dst = b;

	if (n > BAYES_TOKENS_MAX)	/* never: tok_sink_add stops there */
		log_panic("bayes: %zu tokens to sort", n);
	for (size_t i = 0; i < n; i++) {
		a[i].key = tok_key_of(v[i].p, v[i].len);
		a[i].it = v[i];
	}
	/* runs of 8 by insertion, then merged pairwise */
	for (size_t lo = 0; lo < n; lo += 8) {
		size_t hi = lo + 8 < n ? lo + 8 : n;

		for (size_t i = lo + 1; i < hi; i++) {
			struct tok_key x = a[i];
			size_t j = i;

			for (; j > lo && tok_key_cmp(&a[j - 1], &x) > 0; j--)
				a[j] = a[j - 1];
			a[j] = x;
		}
	}
	for (size_t w = 8; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t i = lo, j = mid, k = lo;

			while (i < mid && j < hi)
				dst[k++] = tok_key_cmp(&src[j], &src[i]) < 0 ? src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		{
			struct tok_key *t = src;

			src = dst;
			dst = t;
		}
	}
	for (size_t i = 0; i < n; i++)
		v[i] = src[i].it;
}

/* Two independent 64-bit FNV-1a style hashes: 128 bits that only have to
 * tell messages apart, not resist an adversary (a collision merely makes
 * two messages one in the seen database). */
struct tok_hash {
	uint64_t h1, h2;
};

static void
tok_hash_add(struct tok_hash *h, const char *p, size_t len)
{
	for (const char *end = p + len; p < end; p++) {
		h->h1 = (h->h1 ^ (unsigned char)*p) * 0x100000001b3ULL;
		h->h2 = (h->h2 + (unsigned char)*p + 1) * 0x9E3779B97F4A7C15ULL;
		h->h2 ^= h->h2 >> 29;
	}
}

/* The hash of the body of data[0..len), and, for a message without a
 * Message-ID, of its Date, From, Subject and last Received too
 * (SpamAssassin's key for one hashes its Date, last Received and body):
 * else two messages without one and with the same body would be one.
 * The body alone keeps the keys of messages with an ID as they were. */
static void
tok_message_hash(struct msgview *mv, const char *data, size_t len, bool no_id, char out[33])
{
	static const char *const fields[] = { "Date", "From", "Subject", "Received:last" };
	const char *body = NULL;
	struct tok_hash h = { 0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL };

	for (const char *nl = len > 0 ? memchr(data, '\n', len) : NULL;
	     nl != NULL && nl + 1 < data + len;
	     nl = memchr(nl + 1, '\n', (size_t)(data + len - (nl + 1))))
		if (nl[1] == '\n' || (nl[1] == '\r' && nl + 2 < data + len && nl[2] == '\n')) {
			body = nl + 1;
			break;
		}
	if (body == NULL)
		body = data + len;
	tok_hash_add(&h, body, (size_t)(data + len - body));
	if (no_id) {
		struct buf v;

		buf_init(&v, 0);
		for (size_t i = 0; i < N_ELEMENTS(fields); i++) {
			buf_reset(&v);
			/* each value after a NUL, and a missing one as
			 * none at all: no two lists hash alike by moving
			 * bytes from one field to the next */
			tok_hash_add(&h, "", 1);
			if (msgview_get(mv, fields[i], &v) && v.data != NULL) {
				tok_hash_add(&h, "+", 1);
				tok_hash_add(&h, v.data, v.len);
			}
		}
		buf_free(&v);
	}
	snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.h1, (unsigned long long)h.h2);
}

void
bayes_tokenize(const struct bayes_settings *s, struct msgview *mv, const char *data,
	       size_t len, struct bayes_tokens *out)
{
	/* kept from message to message, all zero between messages: a calloc
	 * per message cost more than clearing the slots used */
	static uint32_t seen[TOK_SEEN_SLOTS], used[BAYES_TOKENS_MAX];
	struct tok_sink sink = { &out->list, seen, used };
	const struct {
		const struct strlist *(*view)(struct msgview *mv);
		const char *prefix;
		int region;
	} sources[] = {
		{ msgview_uris, "", 2 },
		{ msgview_body_visible, "", 1 },
		{ msgview_body_invisible, "I*:", 1 },
	};
	struct buf mid;
	char hash[33];
	size_t start, n;

	tok_init();
	strlist_init(&out->list);
	/* room for most messages' tokens (225 on average in the training
	 * messages): growing from 16 by doubling cost 8 M instructions in
	 * 1500 messages */
	out->list.cap = 512;
	out->list.v = xreallocarray(NULL, out->list.cap, sizeof(*out->list.v));
	tok_store_len = 0;
	tok_headers(s, mv, &sink);
	for (size_t k = 0; k < N_ELEMENTS(sources); k++) {
		const struct strlist *lines = sources[k].view(mv);

		for (size_t i = 0; i < lines->n && out->list.n < BAYES_TOKENS_MAX; i++)
			tok_line(s, lines->v[i].p, lines->v[i].len, sources[k].prefix,
				 sources[k].region, &sink);
	}
	for (size_t i = 0; i < out->list.n; i++)
		seen[used[i]] = 0;
	out->arena = xmalloc(tok_store_len > 0 ? tok_store_len : 1);
	memcpy(out->arena, tok_store, tok_store_len);
	for (size_t i = 0; i < out->list.n; i++)
		out->list.v[i].p = out->arena + (out->list.v[i].p - tok_store);
	tok_sort(out->list.v, out->list.n);

	buf_init(&mid, 0);
	if (msgview_get(mv, "Message-ID", &mid) && mid.data != NULL) {
		start = 0;
		n = mid.len;
		while (start < n && (mid.data[start] == ' ' || mid.data[start] == '\t'))
			start++;
		while (n > start && (mid.data[n - 1] == '\n' || mid.data[n - 1] == '\r' ||
				     mid.data[n - 1] == ' ' || mid.data[n - 1] == '\t'))
			n--;
	} else {
		start = n = 0;
	}
	if (n - start > 200)
		n = start + 200;
	tok_message_hash(mv, data, len, n == start, hash);
	out->seen_key = xasprintf("%.*s\t%s", (int)(n - start),
				  mid.data != NULL ? mid.data + start : "", hash);
	buf_free(&mid);
}

void
bayes_tokens_free(struct bayes_tokens *t)
{
	if (t->arena != NULL) {
		free(t->list.v);
		free(t->arena);
		t->arena = NULL;
		strlist_init(&t->list);
	} else
		strlist_free(&t->list);
	free(t->seen_key);
	t->seen_key = NULL;
}
