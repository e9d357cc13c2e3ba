/* Unit tests for scoring/bayes*: the tokenizer against SpamAssassin's own
 * _tokenize_line (expected lists made by running Plugin/Bayes.pm 4.0.1 on
 * the same lines), the message tokenizer, the arithmetic against
 * CombineChi.pm (values computed by Perl), and the store (learn, relearn,
 * forget, the seen database, expiry) in a real Berkeley DB environment. */
#include "config.h"

#include "check_compat.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <db.h>
#include <math.h>
#include <stdarg.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "bayes.h"
#include "bayes_tokens_util.h"
#include "buf.h"
#include "dbenv.h"
#include "lmtpd_limits.h"
#include "msgview.h"
#include "sa_settings.h"
#include "strset.h"

static struct sa_settings set;
static struct bayes_settings bs;	/* lmtpd's defaults */
static struct bayes_settings sa_bs;	/* SpamAssassin's: bayes_robinson_s 0.030 */

/* Settings from key/value pairs (k1, v1, k2, v2, ..., NULL); warn (may
 * be NULL) gets what bayes_settings_init refuses. */
static void
settings_warn(struct bayes_settings *out, void (*warn)(const char *msg),
	      const char *first, ...)
{
	struct strlist pairs;
	va_list ap;

	strlist_init(&pairs);
	va_start(ap, first);
	for (const char *k = first; k != NULL; k = va_arg(ap, const char *))
		strlist_add(&pairs, k, strlen(k));
	va_end(ap);
	bayes_settings_init(out, &pairs, warn);
	strlist_free(&pairs);
}

#define settings_of(out, ...) settings_warn(out, NULL, __VA_ARGS__)

static void
setup(void)
{
	msgview_global_init();
	sa_settings_init(&set);
	bayes_settings_init(&bs, NULL, NULL);
	settings_of(&sa_bs, "bayes_robinson_s", "0.030", NULL);
}

static void
teardown(void)
{
	bayes_settings_free(&bs);
	bayes_settings_free(&sa_bs);
	sa_settings_free(&set);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The tokens sorted and joined with "|". */
static char *
sorted(char **v, size_t n)
{
	struct buf b;

	qsort(v, n, sizeof(*v), cmp_str);
	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		buf_putf(&b, "%s%s", i > 0 ? "|" : "", v[i]);
	return buf_steal(&b, NULL);
}

static char *
sorted_list(const struct strlist *l)
{
	char **v = calloc(l->n + 1, sizeof(*v));
	char *r;

	for (size_t i = 0; i < l->n; i++)
		v[i] = l->v[i].p;
	r = sorted(v, l->n);
	free(v);
	return r;
}

static char *
sorted_text(const char *joined)
{
	char *copy = strdup(joined), *save = NULL, **v = NULL, *r;
	size_t n = 0;

	for (char *t = strtok_r(copy, "|", &save); t != NULL; t = strtok_r(NULL, "|", &save)) {
		v = realloc(v, (n + 1) * sizeof(*v));
		v[n++] = t;
	}
	r = sorted(v, n);
	free(v);
	free(copy);
	return r;
}

/* ---- _tokenize_line, compared with SpamAssassin (no stopwords) ---- */

static const struct {
	int region;
	const char *prefix, *line, *expected;
} lines[] = {
	{ 1, "", "Hello World... this is a TEST of the Foo-Bar---system, visit "
	  "www.Example.com now!",
	  "hello|world|World|this|test|TEST|the|FooBar|foo-bar|foobar|Foo-Bar|system|"
	  "visit|UD:www.Example.com|UD:Example.com|UD:com|wwwExamplecom|www.example.com|"
	  "wwwexamplecom|www.Example.com|now|now!" },
	{ 1, "", "contact john.doe@mail.example.org or call",
	  "contact|U*john.doe|D*mail.example.org|D*example.org|D*org|sk:johndo|"
	  "sk:john.do|call" },
	{ 0, "H*UA:", "Microsoft Outlook Express 6.00.2800.1106",
	  "H*UA:Microsoft|H*UA:Outlook|H*UA:Express|H*UA:6.00.2800.1106" },
	{ 1, "", "Supercalifragilisticexpialidocious caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"
	  "\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88"
	  "\xe3\x81\xa7\xe3\x81\x99",
	  "sk:superca|caf|caf\xc3\xa9|u8:\xe6\x97\xa5|u8:\xe6\x9c\xac|u8:\xe8\xaa\x9e|"
	  "u8:\xe3\x81\xae|u8:\xe3\x83\x86|u8:\xe3\x82\xad|u8:\xe3\x82\xb9|"
	  "u8:\xe3\x83\x88|u8:\xe3\x81\xa7|u8:\xe3\x81\x99" },
	{ 2, "", "http://www.example.com/some/very/long/path/segment?x=1",
	  "http|UD:www.example.com|UD:example.com|UD:com|wwwexamplecom|www.example.com|"
	  "some|very|long|path|segment" },
	{ 0, "HSubject:", "ThisIsAVeryLongHeaderWordIndeed ok", "HSubject:sk:ThisIsA" },
	/* /(.+)\@(.+)$/: the last "@" with something after it */
	{ 1, "", "mail me at foo,@memo@ now or x@@y and @lead trail@ ok",
	  "mail|U*foo,|D*memo@|foomemo|foo,@memo@|now|U*x@|D*y|xy|x@@y|and|lead|@lead|trail|"
	  "trail@" },
	/* title case after a full stop and white space, not elsewhere */
	{ 1, "", "said so. Next Sentence here.  Another one. lower then. X",
	  "said|next|sentence|Sentence|here|another|one|lower|then" },
	{ 1, "", "no title case here. at all", "title|case|here|all" },
	/* invisible text: the prefix on every token, title case as in the body */
	{ 1, "I*:", "Hidden Word... caf\xc3\xa9",
	  "I*:hidden|I*:word|I*:Word|I*:caf|I*:caf\xc3\xa9" },
};

START_TEST(tokenize_line_like_sa)
{
	struct strlist out;
	char *got, *want;

	strlist_init(&out);
	bayes_tokenize_line(&bs, lines[_i].line, strlen(lines[_i].line), lines[_i].prefix,
			    lines[_i].region, &out);
	got = sorted_list(&out);
	want = sorted_text(lines[_i].expected);
	ck_assert_msg(strcmp(got, want) == 0, "line %d:\n got %s\nwant %s", _i, ut_escs(got),
		      ut_escs(want));
	free(got);
	free(want);
	strlist_free(&out);
}
END_TEST

static bool
has_prefix(const struct bayes_tokens *t, const char *prefix)
{
	for (size_t i = 0; i < t->list.n; i++)
		if (strncmp(t->list.v[i].p, prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

#define MSG "Received: from mx.example.net (mx.example.net [192.0.2.7])\n" \
	"\tby mail.example.com with ESMTP id 4F3A21C9AB; Mon, 1 Jan 2024 10:00:00 +0000\n" \
	"From: Alice Smith <alice@mail.example.org>\n" \
	"To: bob@example.com\n" \
	"Subject: Cheap watches\n" \
	"Date: Mon, 1 Jan 2024 10:00:00 +0000\n" \
	"Message-ID: <abc123@mail.example.org>\n" \
	"X-Mailer: FooMail 2.0\n" \
	"List-Id: <list.example.org>\n" \
	"X-Secret-Tracker: zzyzx\n" \
	"\n" \
	"Visit http://shop.example.biz/buy now for cheap watches.\n"

START_TEST(tokenize_message)
{
	struct strlist pairs;
	struct bayes_settings s2;
	struct msgview *mv = msgview_new(&set, MSG, strlen(MSG), "alice@mail.example.org");
	struct bayes_tokens t;

	strlist_init(&pairs);
	strlist_add(&pairs, "bayes_ignore_header", 19);
	strlist_add(&pairs, "X-Secret-Tracker", 16);
	bayes_settings_init(&s2, &pairs, NULL);
	bayes_tokenize(&s2, mv, MSG, strlen(MSG), &t);
	/* addresses of From/To/Cc, also under *Ad; the phrase as N* */
	ck_assert(has_token(&t, "H*F:U*alice"));
	ck_assert(has_token(&t, "H*F:D*mail.example.org"));
	ck_assert(has_token(&t, "H*F:D*org"));
	ck_assert(has_token(&t, "H*F:N*Alice"));
	ck_assert(has_token(&t, "H*Ad:D*example.com"));
	ck_assert(has_token(&t, "HTo:U*bob"));
	/* the envelope sender as Return-Path */
	ck_assert(has_token(&t, "H*p:U*alice"));
	/* Message-ID chewed into words, also under *MI */
	ck_assert(has_token(&t, "H*M:abc123"));
	ck_assert(has_token(&t, "H*MI:abc123"));
	/* X-Mailer compressed, also under *UA */
	ck_assert(has_token(&t, "H*x:FooMail"));
	ck_assert(has_token(&t, "H*UA:FooMail"));
	/* the relays as SpamAssassin 4 names them: untrusted compressed,
	 * external under its lowercase name, " rdns=" words dropped */
	ck_assert(has_token(&t, "H*RU:mx.example.net"));
	ck_assert(has_token(&t, "H*RU:192.0.2.7"));
	ck_assert(has_token(&t, "Hx-spam-relays-external:mx.example.net"));
	ck_assert(has_token(&t, "Hx-spam-relays-external:sk:mail.ex"));
	ck_assert(!has_prefix(&t, "HX-Spam-Relays-"));
	ck_assert(!has_prefix(&t, "H*RU:rdns"));
	/* Received: dates, ids and "with"/"from" dropped, the address as
	 * three octets plus ip* */
	ck_assert(has_token(&t, "H*r:ip*192.0.2.7"));
	ck_assert(has_token(&t, "H*r:192.0.2"));
	ck_assert(!has_prefix(&t, "H*r:4F3A21C9AB"));
	ck_assert(!has_token(&t, "H*r:ESMTP"));
	/* ignored fields: Subject, Date, List-Id, bayes_ignore_header */
	ck_assert(!has_prefix(&t, "HSubject:"));
	ck_assert(!has_prefix(&t, "HDate:"));
	ck_assert(!has_prefix(&t, "HList-Id:"));
	ck_assert(!has_prefix(&t, "HX-Secret-Tracker:"));
	/* the body (Subject first, as the rendered body has it) and URIs */
	ck_assert(has_token(&t, "cheap"));
	ck_assert(has_token(&t, "watches"));
	ck_assert(has_token(&t, "UD:shop.example.biz"));
	ck_assert(has_token(&t, "UD:example.biz"));
	/* distinct, sorted, bounded */
	for (size_t i = 1; i < t.list.n; i++)
		ck_assert_int_lt(strcmp(t.list.v[i - 1].p, t.list.v[i].p), 0);
	ck_assert_ptr_nonnull(strstr(t.seen_key, "<abc123@mail.example.org>\t"));
	bayes_tokens_free(&t);
	bayes_settings_free(&s2);
	strlist_free(&pairs);
	msgview_free(&mv);
}
END_TEST

static char *
seen_key_of(const char *msg)
{
	struct msgview *mv = msgview_new(&set, msg, strlen(msg), NULL);
	struct bayes_tokens t;
	char *key;

	bayes_tokenize(&bs, mv, msg, strlen(msg), &t);
	key = strdup(t.seen_key);
	bayes_tokens_free(&t);
	msgview_free(&mv);
	return key;
}

/* The seen key: a message with a Message-ID is known by it and a hash of
 * its body, as before (the hash below is the one databases hold); one
 * without by its Date, From, Subject, last Received and body, so that two
 * such messages with the same body stay two. */
START_TEST(seen_key_without_message_id)
{
	static const char m1[] = "From: a@x\nSubject: cheap pills\n\nclick here\n";
	static const char m2[] = "From: b@y\nSubject: meeting tomorrow\n\nclick here\n";
	static const char m3[] = "From: a@x\nSubject: cheap pills\n"
				 "Date: Mon, 1 Jan 2024 10:00:00 +0000\n\nclick here\n";
	static const char m4[] = "Received: from a\nReceived: from b\n"
				 "From: a@x\nSubject: cheap pills\n\nclick here\n";
	static const char m5[] = "Received: from a\nReceived: from c\n"
				 "From: a@x\nSubject: cheap pills\n\nclick here\n";
	static const char i1[] = "From: a@x\nSubject: cheap pills\n"
				 "Message-ID: <1@x>\n\nclick here\n";
	static const char i2[] = "From: b@y\nSubject: meeting tomorrow\n"
				 "Message-ID:  <1@x> \n\nclick here\n";
	char *k1 = seen_key_of(m1), *k1b = seen_key_of(m1), *k2 = seen_key_of(m2);
	char *k3 = seen_key_of(m3), *k4 = seen_key_of(m4), *k5 = seen_key_of(m5);
	char *ki1 = seen_key_of(i1), *ki2 = seen_key_of(i2);

	ck_assert_str_eq(k1, k1b);
	ck_assert_str_ne(k1, k2);
	ck_assert_str_ne(k1, k3);
	ck_assert_str_ne(k1, k4);
	ck_assert_str_ne(k4, k5);
	ck_assert_str_eq(ki1, "<1@x>\t003c3dc3e8e4faf3184ee10dad7320a6");
	ck_assert_str_eq(ki1, ki2);
	free(k1);
	free(k1b);
	free(k2);
	free(k3);
	free(k4);
	free(k5);
	free(ki1);
	free(ki2);
}
END_TEST

/* Stopwords (matched case-insensitively, as SpamAssassin compiles
 * '^(?i)'.$re.'$') are dropped, line after line. */
/* The title-word substitution is written out by hand for speed; PCRE2
 * running the pattern SpamAssassin writes is its reference, on random
 * lines over the bytes that matter (capitals, other letters, full stops,
 * every white space, NUL, high bytes PCRE2 does not count as space). */
START_TEST(title_words_like_pcre2)
{
	static const char alphabet[] = "ABZaz.. \t\n\v\f\r-x\0\x85\xa0\xc3\xa9";
	pcre2_code *re;
	pcre2_match_data *md;
	int err;
	PCRE2_SIZE off;
	struct buf got;
	char line[48], want[160];
	unsigned int seed = 12345;

	re = pcre2_compile((PCRE2_SPTR) "(?:^|\\.\\s+)([A-Z])([^A-Z]+)(?:\\s|$)",
			   PCRE2_ZERO_TERMINATED, 0, &err, &off, NULL);
	ck_assert_ptr_nonnull(re);
	md = pcre2_match_data_create_from_pattern(re, NULL);
	buf_init(&got, 0);
	for (int n = 0; n < 200000; n++) {
		size_t len = (size_t)(rand_r(&seed) % 40), wlen = sizeof(want);
		int rc;

		for (size_t i = 0; i < len; i++)
			line[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		rc = pcre2_substitute(re, (PCRE2_SPTR)line, len, 0,
				      PCRE2_SUBSTITUTE_EXTENDED | PCRE2_SUBSTITUTE_GLOBAL, md, NULL,
				      (PCRE2_SPTR) " \\l$1$2 ", PCRE2_ZERO_TERMINATED,
				      (PCRE2_UCHAR *)want, &wlen);
		ck_assert_int_ge(rc, 0);
		bayes_title_words(line, len, &got);
		ck_assert_msg(got.len == wlen && memcmp(got.data, want, wlen) == 0,
			      "line %d: \"%.*s\" gave \"%.*s\", PCRE2 \"%.*s\"", n, (int)len, line,
			      (int)got.len, got.data, (int)wlen, want);
	}
	buf_free(&got);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
}
END_TEST

START_TEST(stopwords_dropped)
{
	static const char line[] = "the and from your Email people Them";
	struct strlist pairs, out;
	struct bayes_settings s2;

	strlist_init(&pairs);
	strlist_add(&pairs, "bayes_stopword_en", 17);
	strlist_add(&pairs, "(?:the|and|from|your|email|people)", 34);
	bayes_settings_init(&s2, &pairs, NULL);
	ck_assert_uint_eq(s2.stopword_count, 1);
	for (int round = 0; round < 3; round++) {
		char *got;

		strlist_init(&out);
		bayes_tokenize_line(&s2, line, strlen(line), "", 1, &out);
		got = sorted_list(&out);
		ck_assert_msg(strcmp(got, "Them|them") == 0, "round %d: %s", round, got);
		free(got);
		strlist_free(&out);
	}
	bayes_settings_free(&s2);
	/* settings loaded again (perhaps at the same address) with other
	 * stopwords: the tokenizer's memory of the first ones must not
	 * answer for them */
	strlist_free(&pairs);
	strlist_init(&pairs);
	strlist_add(&pairs, "bayes_stopword_en", 17);
	strlist_add(&pairs, "(?:them|your)", 13);
	bayes_settings_init(&s2, &pairs, NULL);
	{
		char *got;

		strlist_init(&out);
		bayes_tokenize_line(&s2, line, strlen(line), "", 1, &out);
		got = sorted_list(&out);
		ck_assert_msg(strcmp(got, "Email|and|email|from|people|the") == 0, "%s", got);
		free(got);
		strlist_free(&out);
	}
	bayes_settings_free(&s2);
	strlist_free(&pairs);
}
END_TEST

/* HTML text the reader does not see (same colour as the background,
 * display:none, visibility:hidden, font size 1) becomes "I*:" tokens of
 * its own, joined as HTML.pm joins its invisible pieces; the visible text
 * (Subject first) keeps the plain tokens.  The expected lists are what
 * Plugin/Bayes.pm 4.0.1 learns from the same messages (header tokens left
 * out; "more" is a stopword there, not here without the rule files).  The
 * second message mixes pieces Perl holds as bytes (the visible
 * "&eacute;t&eacute;": Latin-1) and as characters (the invisible text,
 * upgraded by its U+263A). */
static const struct {
	const char *msg, *expected;
} invisible[] = {
	{ "From: Shop <news@shop.example>\nTo: bob@example.com\nSubject: Spring sale\n"
	  "MIME-Version: 1.0\nContent-Type: text/html; charset=iso-8859-1\n\n"
	  "<html><body bgcolor=\"#ffffff\"><p>Visible offer today</p>\n"
	  "<font color=\"#ffffff\">hiddenword unsubscribed caf\xe9</font>\n"
	  "<p>Buy <span style=\"display:none\">zzsecret</span>watches "
	  "<font size=\"1\">tinytext</font></p>\n</body></html>\n",
	  "I*:hiddenword|I*:sk:cafzzs|I*:sk:caf\xc3\xa9zzs|I*:unsubscribed|buy|offer|sale|"
	  "spring|today|visible|watches" },
	{ "From: a@b.example\nTo: c@d.example\nSubject: Mixed\nMIME-Version: 1.0\n"
	  "Content-Type: multipart/alternative; boundary=\"XX\"\n\n"
	  "--XX\nContent-Type: text/plain; charset=us-ascii\n\nplain visible words\n\n"
	  "--XX\nContent-Type: text/html; charset=us-ascii\n\n"
	  "<html><body><p>html visible &eacute;t&eacute;</p><div style=\"display:none\">"
	  "na&iuml;ve &#x263a;smile invisible</div><p>more</p></body></html>\n--XX--\n",
	  "I*:invisible|I*:nave|I*:na\xc3\xafve|I*:smile|I*:\xe2\x98\xbasmile|html|mixed|"
	  "more|plain|t|visible|words|\xe9t\xe9" },
	/* nothing invisible: no I*: token, the rendered text as it is */
	{ "From: a@b.example\nSubject: Plain\nContent-Type: text/html\n\n"
	  "<p>shown text</p><p style=\"color: red\">red words</p>\n",
	  "plain|red|shown|text|words" },
};

START_TEST(tokenize_invisible)
{
	const char *m = invisible[_i].msg;
	struct msgview *mv = msgview_new(&set, m, strlen(m), NULL);
	struct bayes_tokens t;
	struct strlist body;
	char *got, *want;

	bayes_tokenize(&bs, mv, m, strlen(m), &t);
	strlist_init(&body);
	for (size_t i = 0; i < t.list.n; i++)
		if (t.list.v[i].p[0] != 'H')
			strlist_add(&body, t.list.v[i].p, t.list.v[i].len);
	got = sorted_list(&body);
	want = sorted_text(invisible[_i].expected);
	ck_assert_msg(strcmp(got, want) == 0, "message %d:\n got %s\nwant %s", _i, ut_escs(got),
		      ut_escs(want));
	free(got);
	free(want);
	strlist_free(&body);
	bayes_tokens_free(&t);
	msgview_free(&mv);
}
END_TEST

/* BAYES_TOKEN_MAX and BAYES_TOKENS_MAX at and past the limit. */
START_TEST(tokenize_bounds)
{
	struct buf m;
	struct msgview *mv;
	struct bayes_tokens t;

	buf_init(&m, 0);
	buf_put_str(&m, "From: a@b.example\nSubject: x\n\nhttp://");
	for (int i = 0; i < 60; i++)
		buf_put_str(&m, "a");
	buf_put_str(&m, ".example.com/\n");
	for (unsigned int i = 0; i < BAYES_TOKENS_MAX + 500; i++)
		buf_putf(&m, "w%05u ", i);
	buf_put_str(&m, "\n");
	mv = msgview_new(&set, m.data, m.len, NULL);
	bayes_tokenize(&bs, mv, m.data, m.len, &t);
	ck_assert_uint_eq(t.list.n, BAYES_TOKENS_MAX);
	for (size_t i = 0; i < t.list.n; i++)
		ck_assert_uint_le(t.list.v[i].len, BAYES_TOKEN_MAX);
	/* the long URI-like word survived, cut; the last words did not */
	ck_assert(has_prefix(&t, "UD:aaaaaaaa"));
	ck_assert(has_token(&t, "w00000"));
	ck_assert(!has_token(&t, "w03499"));
	bayes_tokens_free(&t);
	msgview_free(&mv);
	buf_free(&m);
}
END_TEST

/* A token over BAYES_TOKEN_MAX bytes keeps its first 47 bytes (fewer to
 * end on a UTF-8 boundary), '~' and 8 bytes of BLAKE2b-128 of the whole
 * in hex: long tokens that differ only at their end stay apart, as in
 * SpamAssassin, which hashes each token whole.  The digests are Python's
 * hashlib.blake2b(token, digest_size=16); the databases keep this form,
 * so it must not change. */
START_TEST(tokenize_long_tokens_hashed)
{
	char line[700], want[BAYES_TOKEN_MAX + 1];
	struct strlist out;
	struct bayes_tokens t;
	int n;

	/* "Start*" + 300 Q + "end1" and "... end2" (a "*" keeps a long word
	 * whole; the lower-case forms come too) */
	n = snprintf(line, sizeof(line), "Start*%0300dend1 Start*%0300dend2", 0, 0);
	ck_assert_int_lt(n, (int)sizeof(line));
	for (char *p = line; *p != '\0'; p++)
		if (*p == '0')
			*p = 'Q';
	strlist_init(&out);
	bayes_tokenize_line(&bs, line, strlen(line), "", 1, &out);
	strlist_init(&t.list);
	for (size_t i = 0; i < out.n; i++) {
		ck_assert_uint_le(out.v[i].len, BAYES_TOKEN_MAX);
		strlist_add(&t.list, out.v[i].p, out.v[i].len);
	}
	snprintf(want, sizeof(want), "Start*%041d~4a5b73a76fba4b84", 0);
	for (char *p = want; *p != '~'; p++)
		if (*p == '0')
			*p = 'Q';
	ck_assert_msg(has_token(&t, want), "no %s", want);
	want[47] = '\0';
	ck_assert(!has_token(&t, want));	/* not cut alone */
	snprintf(want + 47, sizeof(want) - 47, "~0a75e242133eb927");
	ck_assert_msg(has_token(&t, want), "no %s", want);
	strlist_free(&t.list);
	strlist_free(&out);

	/* byte 47 inside a two-byte character: 46 bytes kept */
	strcpy(line, "caf\xc3\xa9*");
	for (int i = 0; i < 40; i++)
		strcat(line, "\xc3\xa9");
	strlist_init(&out);
	bayes_tokenize_line(&bs, line, strlen(line), "", 1, &out);
	strlist_init(&t.list);
	for (size_t i = 0; i < out.n; i++)
		strlist_add(&t.list, out.v[i].p, out.v[i].len);
	memcpy(want, line, 46);
	strcpy(want + 46, "~f8ac0468e123028c");
	ck_assert_msg(has_token(&t, want), "no %s", want);
	strlist_free(&t.list);
	strlist_free(&out);
}
END_TEST

static int settings_warnings;

static const char *settings_key;

static void
count_warning(const char *msg)
{
	if (strncmp(msg, settings_key, strlen(settings_key)) == 0)
		settings_warnings++;
}

/* lmtpd's own settings: SpamAssassin's constants by default; a value out
 * of range is refused with a warning and the default kept. */
START_TEST(settings_lmtpd)
{
	static const char *const bad[][2] = {
		{ "bayes_robinson_s", "0" }, { "bayes_robinson_s", "abc" },
		{ "bayes_robinson_x", "1" }, { "bayes_robinson_x", "-0.5" },
		{ "bayes_min_prob_strength", "0.5" }, { "bayes_n_significant", "0" },
	};
	struct bayes_settings s2;

	ck_assert_double_eq(bs.robinson_s, BAYES_FW_S);
	ck_assert_double_eq(sa_bs.robinson_s, BAYES_FW_S);
	ck_assert_double_eq(bs.robinson_x, BAYES_FW_X);
	ck_assert_double_eq(bs.min_prob_strength, BAYES_MIN_PROB_STRENGTH);
	ck_assert_uint_eq(bs.n_significant, BAYES_N_SIGNIFICANT);
	settings_of(&s2, "bayes_robinson_s", "0.5", "bayes_robinson_x", "0.4",
		    "bayes_min_prob_strength", "0.2", "bayes_n_significant", "20", NULL);
	ck_assert_double_eq(s2.robinson_s, 0.5);
	ck_assert_double_eq(s2.robinson_x, 0.4);
	ck_assert_double_eq(s2.min_prob_strength, 0.2);
	ck_assert_uint_eq(s2.n_significant, 20);
	bayes_settings_free(&s2);
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		settings_warnings = 0;
		settings_key = bad[i][0];
		settings_warn(&s2, count_warning, bad[i][0], bad[i][1], NULL);
		ck_assert_msg(settings_warnings == 1, "%s %s", bad[i][0], bad[i][1]);
		ck_assert_double_eq(s2.robinson_s, BAYES_FW_S);
		ck_assert_double_eq(s2.robinson_x, BAYES_FW_X);
		ck_assert_double_eq(s2.min_prob_strength, BAYES_MIN_PROB_STRENGTH);
		ck_assert_uint_eq(s2.n_significant, BAYES_N_SIGNIFICANT);
		bayes_settings_free(&s2);
	}
}
END_TEST

/* bayes_seen_ttl takes SpamAssassin's durations; a bad one keeps 8d. */
START_TEST(settings_seen_ttl)
{
	static const struct { const char *v; uint32_t secs; } good[] = {
		{ "0", 0 }, { "3600", 3600 }, { "90s", 90 }, { "30m", 1800 },
		{ "12h", 43200 }, { "8d", 691200 }, { "2W", 1209600 }, { "+1", 1 },
		{ "1.5d", 129600 }, { "8 d", 691200 }, { "2.", 2 },
	};
	static const char *const bad[] = { "", "d", "-1", "8x", "8dd", " 8d", ".5d", "8 ",
					   "99999999999w", "4294967296" };
	struct bayes_settings s2;

	ck_assert_uint_eq(bs.seen_ttl, 8 * 86400);
	for (size_t i = 0; i < N_ELEMENTS(good); i++) {
		settings_of(&s2, "bayes_seen_ttl", good[i].v, NULL);
		ck_assert_msg(s2.seen_ttl == good[i].secs, "%s: %u", good[i].v, s2.seen_ttl);
		bayes_settings_free(&s2);
	}
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		settings_warnings = 0;
		settings_key = "bayes_seen_ttl";
		settings_warn(&s2, count_warning, "bayes_seen_ttl", bad[i], NULL);
		ck_assert_msg(settings_warnings == 1 && s2.seen_ttl == 8 * 86400, "%s", bad[i]);
		bayes_settings_free(&s2);
	}
}
END_TEST

/* ---- arithmetic, against CombineChi.pm run by Perl ---- */

START_TEST(math_like_sa)
{
	static const double p1[] = { 0.99, 0.95, 0.9, 0.2 };
	static const double p2[] = { 0.01, 0.05, 0.1, 0.9 };
	double many[150], p;

	ck_assert_double_eq_tol(bayes_combine(100, 200, p1, 4), 0.90940535293669345, 1e-12);
	ck_assert_double_eq_tol(bayes_combine(500, 500, p2, 4), 0.19762852415772358, 1e-12);
	for (int i = 0; i < 150; i++)
		many[i] = 0.999;
	ck_assert_double_eq_tol(bayes_combine(10, 10, many, 150), 1.0, 1e-12);
	for (int i = 0; i < 150; i++)
		many[i] = 0.001;	/* frexp rescaling keeps this finite */
	ck_assert_double_eq_tol(bayes_combine(10, 10, many, 150), 0.0, 1e-12);
	ck_assert(bayes_combine(10, 10, many, 0) < 0);
	ck_assert_double_eq_tol(bayes_chi2q(10.5, 4), 0.23166973807635938, 1e-12);
	ck_assert(bayes_token_prob(3, 1, 500, 300, true, &p));
	ck_assert_double_eq_tol(p, 0.64207656859269768, 1e-12);
	ck_assert(bayes_token_prob(1, 0, 500, 300, true, &p));
	ck_assert_double_eq_tol(p, 0.98654368932038838, 1e-12);
	/* a hapax without bayes_use_hapaxes, an unseen token, no ham */
	ck_assert(!bayes_token_prob(1, 0, 500, 300, false, &p));
	ck_assert(!bayes_token_prob(0, 0, 500, 300, true, &p));
	ck_assert(!bayes_token_prob(3, 1, 500, 0, true, &p));
}
END_TEST

/* Only tokens of strength >= 0.346 count.  SPAMMY_ALONE is combine(100,
 * 100, [f(40, 0)]) by CombineChi.pm, with SpamAssassin's s. */
#define SPAMMY_ALONE 0.74982687984011998
START_TEST(score_counts_strength)
{
	struct bayes_totals tot = { 100, 100, 0, 0, 0, 0 };
	struct bayes_counts c[3] = { { 50, 50, 0 }, { 40, 0, 0 }, { 0, 40, 0 } };
	double p, both;

	/* the neutral token alone: nothing usable */
	ck_assert(!bayes_score_counts(&sa_bs, &tot, c, 1, &p));
	ck_assert(bayes_score_counts(&sa_bs, &tot, c, 2, &p));
	ck_assert_double_eq_tol(p, SPAMMY_ALONE, 1e-12);
	ck_assert(bayes_score_counts(&sa_bs, &tot, c, 3, &both));
	ck_assert_double_eq_tol(both, 0.50012222775157533, 1e-12);
}
END_TEST

/* The reference for bayes_score_counts' choice: qsort by strength, ties
 * in the tokens' order. */
struct ref_strength {
	double prob, strength;
	size_t idx;
};

static int
ref_strength_cmp(const void *a, const void *b)
{
	const struct ref_strength *x = a, *y = b;

	if (x->strength != y->strength)
		return x->strength < y->strength ? 1 : -1;
	return x->idx < y->idx ? -1 : 1;
}

/* Many tokens, many of equal strength (so ties and the n_significant cut
 * both matter): the same probability as combining the strongest by the
 * reference order, bit for bit. */
START_TEST(score_counts_order)
{
	/* as much spam as ham: a token and its mirror are equally strong */
	struct bayes_totals tot = { 300, 300, 0, 0, 0, 0 };
	unsigned int seed = 12345;
	int cut = 0;

	for (int round = 0; round < 200; round++) {
		size_t n = (size_t)(rand_r(&seed) % 1200);
		struct bayes_counts *c = calloc(n + 1, sizeof(*c));
		struct ref_strength *r = calloc(n + 1, sizeof(*r));
		double *probs = calloc(n + 1, sizeof(*probs));
		size_t m = 0;
		double got, want;
		bool ok;

		for (size_t i = 0; i < n; i++) {
			/* lopsided, so that more than n_significant count */
			uint32_t a = (uint32_t)(rand_r(&seed) % 12), b = (uint32_t)(rand_r(&seed) % 3);

			c[i].spam = i % 2 == 0 ? a : b;
			c[i].ham = i % 2 == 0 ? b : a;
		}
		for (size_t i = 0; i < n; i++) {
			double p;

			if (!bayes_token_prob_sx(c[i].spam, c[i].ham, tot.nspam, tot.nham,
						 sa_bs.use_hapaxes, sa_bs.robinson_s,
						 sa_bs.robinson_x, &p) ||
			    fabs(p - 0.5) < sa_bs.min_prob_strength)
				continue;
			r[m].prob = p;
			r[m].strength = fabs(p - 0.5);
			r[m].idx = i;
			m++;
		}
		qsort(r, m, sizeof(*r), ref_strength_cmp);
		cut += m > sa_bs.n_significant;
		if (m > sa_bs.n_significant)
			m = sa_bs.n_significant;
		for (size_t i = 0; i < m; i++)
			probs[i] = r[i].prob;
		want = bayes_combine(tot.nspam, tot.nham, probs, m);
		ok = bayes_score_counts(&sa_bs, &tot, c, n, &got);
		ck_assert_int_eq(ok, want >= 0);
		if (ok)
			ck_assert_msg(got == want, "round %d: %.17g, want %.17g", round, got, want);
		free(c);
		free(r);
		free(probs);
	}
	ck_assert_int_gt(cut, 100);
}
END_TEST

/* Robinson's s and x as settings: f(w) = (s x + n p) / (s + n), and the
 * strength and count of the tokens combined. */
START_TEST(math_settings)
{
	struct bayes_totals tot = { 100, 100, 0, 0, 0, 0 };
	struct bayes_counts c[3] = { { 50, 50, 0 }, { 40, 0, 0 }, { 0, 40, 0 } };
	struct bayes_settings s2;
	double p, q;

	ck_assert(bayes_token_prob_sx(3, 1, 500, 300, true, BAYES_FW_S, BAYES_FW_X, &p));
	ck_assert(bayes_token_prob(3, 1, 500, 300, true, &q));
	ck_assert_double_eq(p, q);
	/* p = 900 / 1400; (1 * 0.5 + 4 p) / 5 */
	ck_assert(bayes_token_prob_sx(3, 1, 500, 300, true, 1.0, 0.5, &p));
	ck_assert_double_eq_tol(p, (0.5 + 4.0 * 900.0 / 1400.0) / 5.0, 1e-12);
	ck_assert(!bayes_token_prob_sx(1, 0, 500, 300, false, 1.0, 0.5, &p));
	/* s = 1: f(40, 0) = (0.5 + 40) / 41, strength 0.488 */
	settings_of(&s2, "bayes_robinson_s", "1", "bayes_robinson_x", "0.5", NULL);
	ck_assert(bayes_score_counts(&s2, &tot, c, 2, &p));
	{
		double one = (0.5 + 40.0) / 41.0;

		ck_assert_double_eq_tol(p, bayes_combine(100, 100, &one, 1), 1e-12);
	}
	bayes_settings_free(&s2);
	/* f(4, 1) = 0.798, strength 0.298: below SpamAssassin's 0.346, above
	 * 0.2; strength 0 takes the neutral token too */
	{
		struct bayes_counts weak = { 4, 1, 0 };

		ck_assert(!bayes_score_counts(&sa_bs, &tot, &weak, 1, &p));
		settings_of(&s2, "bayes_min_prob_strength", "0.2", NULL);
		ck_assert(bayes_score_counts(&s2, &tot, &weak, 1, &p));
		ck_assert(p > 0.5);
		bayes_settings_free(&s2);
	}
	settings_of(&s2, "bayes_min_prob_strength", "0", NULL);
	ck_assert(bayes_score_counts(&s2, &tot, c, 2, &p));
	ck_assert(bayes_score_counts(&sa_bs, &tot, c, 2, &q));
	ck_assert(fabs(p - q) > 1e-6);	/* the neutral token counted */
	bayes_settings_free(&s2);
	/* only the strongest n_significant: the spammy token alone (both are
	 * as strong; the first in the list stays) */
	settings_of(&s2, "bayes_n_significant", "1", NULL);
	ck_assert(bayes_score_counts(&s2, &tot, c + 1, 2, &p));
	ck_assert(p > 0.7 || p < 0.3);
	bayes_settings_free(&s2);
}
END_TEST

/* bayes_robinson_s 0.45 (SpamBayes' unknown_word_strength) against
 * SpamAssassin's 0.030, the default: a token seen once in spam is 0.857,
 * not 0.987, and no longer as strong as one seen forty times; a message of
 * hapaxes says less. */
START_TEST(math_robinson_s)
{
	struct bayes_totals tot = { 100, 100, 0, 0, 0, 0 };
	struct bayes_counts hapax = { 1, 0, 0 }, many = { 40, 0, 0 };
	struct bayes_settings s45;
	double p, sa_p, p40;

	settings_of(&s45, "bayes_robinson_s", "0.45", NULL);
	ck_assert_double_eq(bs.robinson_s, BAYES_FW_S);
	ck_assert(bayes_token_prob_sx(1, 0, 100, 100, true, s45.robinson_s, s45.robinson_x,
				      &p));
	ck_assert_double_eq_tol(p, (0.45 * 0.538 + 1.0) / 1.45, 1e-12);
	ck_assert(bayes_token_prob(1, 0, 100, 100, true, &sa_p));
	ck_assert_double_eq_tol(sa_p, (0.030 * 0.538 + 1.0) / 1.030, 1e-12);
	ck_assert(bayes_token_prob_sx(40, 0, 100, 100, true, s45.robinson_s, s45.robinson_x,
				      &p40));
	ck_assert_double_gt(p40 - p, 0.1);
	ck_assert(bayes_score_counts(&s45, &tot, &hapax, 1, &p));
	ck_assert(bayes_score_counts(&bs, &tot, &hapax, 1, &sa_p));
	ck_assert_double_eq_tol(p, bayes_combine(100, 100, (double[]){ (0.45 * 0.538 + 1.0) /
									1.45 }, 1), 1e-12);
	ck_assert_double_lt(p, sa_p);
	ck_assert(bayes_score_counts(&s45, &tot, &many, 1, &p40));
	ck_assert_double_gt(p40, p);
	bayes_settings_free(&s45);
}
END_TEST

/* ---- the store ---- */

/* A message's tokens (none yet) under the seen-database key seen. */
static struct bayes_tokens
toks_empty(const char *seen)
{
	struct bayes_tokens t;

	strlist_init(&t.list);
	t.arena = NULL;
	t.seen_key = strdup(seen);
	return t;
}

static struct bayes_tokens
toks_of(const char *seen, const char *const *words, size_t n)
{
	struct bayes_tokens t = toks_empty(seen);

	for (size_t i = 0; i < n; i++)
		strlist_add(&t.list, words[i], strlen(words[i]));
	return t;
}

static struct db_env *
env_open(const char *dir)
{
	char *error = NULL;
	struct db_env *env = db_env_open(dir, &error);

	ck_assert_msg(env != NULL, "%s", error);
	return env;
}

/* user's store (NULL: the site's) in env. */
static struct bayes_store *
store_open(struct db_env *env, const char *user)
{
	char *error = NULL;
	struct bayes_store *st = bayes_store_open(env, user, &error);

	ck_assert_msg(st != NULL, "%s", error);
	return st;
}

static struct bayes_counts
counts(struct bayes_store *st, const char *tok, struct bayes_totals *tot)
{
	struct strlist l;
	struct bayes_counts c;

	strlist_init(&l);
	strlist_add(&l, tok, strlen(tok));
	ck_assert_int_eq(bayes_store_lookup(st, &l, tot, &c), 0);
	strlist_free(&l);
	return c;
}

START_TEST(store_learn_relearn_forget)
{
	static const char *const w1[] = { "cheap", "viagra", "watches" };
	static const char *const w2[] = { "lunch", "meeting", "watches" };
	const char *dir = ut_testdir();
	struct db_env *env = env_open(dir);
	struct bayes_store *st = store_open(env, NULL);
	struct bayes_tokens a = toks_of("<a@x>\t01", w1, 3), b = toks_of("<b@x>\t02", w2, 3);
	struct bayes_tokens a2 = toks_of("<a@x>\t03", w1, 3);	/* same ID, other body */
	enum bayes_learn_result r;
	struct bayes_totals tot;
	struct bayes_counts c;

	ck_assert_int_eq(bayes_store_learn(st, &a, BAYES_SPAM, 1000, BAYES_LEARN_DURABLE, &r), 0);
	ck_assert_int_eq(r, BAYES_LEARNED);
	/* twice counts once */
	ck_assert_int_eq(bayes_store_learn(st, &a, BAYES_SPAM, 1001, BAYES_LEARN_DURABLE, &r), 0);
	ck_assert_int_eq(r, BAYES_ALREADY);
	ck_assert_int_eq(bayes_store_learn(st, &b, BAYES_HAM, 1002, 0, &r), 0);
	ck_assert_int_eq(r, BAYES_LEARNED);
	c = counts(st, "watches", &tot);
	ck_assert_uint_eq(tot.nspam, 1);
	ck_assert_uint_eq(tot.nham, 1);
	ck_assert_uint_eq(tot.ntokens, 5);
	ck_assert_uint_eq(c.spam, 1);
	ck_assert_uint_eq(c.ham, 1);
	ck_assert_uint_eq(c.atime, 1002);
	/* autolearn's way (no relearn) leaves one learned the other way */
	ck_assert_int_eq(bayes_store_learn(st, &b, BAYES_SPAM, 1002, BAYES_LEARN_NO_RELEARN,
					   &r), 0);
	ck_assert_int_eq(r, BAYES_OPPOSITE);
	ck_assert_int_eq(bayes_store_learn(st, &b, BAYES_HAM, 1002, BAYES_LEARN_NO_RELEARN,
					   &r), 0);
	ck_assert_int_eq(r, BAYES_ALREADY);
	c = counts(st, "watches", &tot);
	ck_assert_uint_eq(tot.nspam, 1);
	ck_assert_uint_eq(tot.nham, 1);
	ck_assert_uint_eq(c.spam, 1);
	ck_assert_uint_eq(c.ham, 1);
	/* a reused Message-ID with another body is another message */
	ck_assert_int_eq(bayes_store_learn(st, &a2, BAYES_SPAM, 1003, BAYES_LEARN_DURABLE, &r), 0);
	ck_assert_int_eq(r, BAYES_LEARNED);
	c = counts(st, "viagra", &tot);
	ck_assert_uint_eq(tot.nspam, 2);
	ck_assert_uint_eq(c.spam, 2);
	/* learning it the other way moves it */
	ck_assert_int_eq(bayes_store_learn(st, &a, BAYES_HAM, 1004, BAYES_LEARN_DURABLE, &r), 0);
	ck_assert_int_eq(r, BAYES_LEARNED);
	c = counts(st, "viagra", &tot);
	ck_assert_uint_eq(tot.nspam, 1);
	ck_assert_uint_eq(tot.nham, 2);
	ck_assert_uint_eq(c.spam, 1);
	ck_assert_uint_eq(c.ham, 1);
	/* forget: back out, tokens at zero go, unknown ones stay unknown */
	ck_assert_int_eq(bayes_store_learn(st, &a, BAYES_FORGET, 1005, BAYES_LEARN_DURABLE, &r), 0);
	ck_assert_int_eq(r, BAYES_LEARNED);
	ck_assert_int_eq(bayes_store_learn(st, &a, BAYES_FORGET, 1006, BAYES_LEARN_DURABLE, &r), 0);
	ck_assert_int_eq(r, BAYES_UNKNOWN);
	ck_assert_int_eq(bayes_store_learn(st, &a2, BAYES_FORGET, 1007, BAYES_LEARN_DURABLE, &r), 0);
	ck_assert_int_eq(r, BAYES_LEARNED);
	c = counts(st, "cheap", &tot);
	ck_assert_uint_eq(tot.nspam, 0);
	ck_assert_uint_eq(tot.nham, 1);
	ck_assert_uint_eq(c.spam + c.ham, 0);
	ck_assert_uint_eq(tot.ntokens, 3);
	bayes_store_close(&st);
	/* per-user databases are separate files in the same environment */
	st = store_open(env, "Bob/../x@example.com");
	ck_assert_int_eq(bayes_store_totals(st, &tot), 0);
	ck_assert_uint_eq(tot.nham, 0);
	bayes_store_close(&st);
	{
		char path[PATH_MAX];

		ut_pathf(path, sizeof(path), "%s/bayes_toks-bob%%2F..%%2Fx@example.com.db", dir);
		ck_assert_int_eq(access(path, F_OK), 0);
	}
	/* Long users (64 + 1 + 255 bytes is a valid address): two that
	 * differ only at the end have databases of their own, and one of
	 * escaped bytes still fits in a file name. */
	{
		char u1[330], u2[330], u3[330];

		memset(u1, 'a', 64);
		u1[64] = '@';
		memset(u1 + 65, 'd', 250);
		strcpy(u1 + 315, ".org");
		strcpy(u2, u1);
		u2[310] = 'e';
		for (int i = 0; i < 32; i++)
			memcpy(u3 + 2 * i, "\xc3\xa9", 2);
		u3[64] = '@';
		memset(u3 + 65, 'd', 100);
		u3[165] = '\0';
		st = store_open(env, u1);
		ck_assert_int_eq(bayes_store_learn(st, &a, BAYES_SPAM, 2000, BAYES_LEARN_DURABLE, &r), 0);
		ck_assert_int_eq(r, BAYES_LEARNED);
		bayes_store_close(&st);
		st = store_open(env, u2);
		ck_assert_int_eq(bayes_store_totals(st, &tot), 0);
		ck_assert_uint_eq(tot.nspam, 0);
		bayes_store_close(&st);
		st = store_open(env, u1);
		ck_assert_int_eq(bayes_store_totals(st, &tot), 0);
		ck_assert_uint_eq(tot.nspam, 1);
		bayes_store_close(&st);
		st = store_open(env, u3);
		bayes_store_close(&st);
		/* A user written in other case (lmtpd-learn -u) names the
		 * database of the folded address delivery uses, long ones too. */
		u1[0] = 'A';
		u1[300] = 'D';
		st = store_open(env, u1);
		ck_assert_int_eq(bayes_store_totals(st, &tot), 0);
		ck_assert_uint_eq(tot.nspam, 1);
		bayes_store_close(&st);
		st = store_open(env, "\xc3\xa9l\xc3\xa8ve@example.com");
		ck_assert_int_eq(bayes_store_learn(st, &a, BAYES_SPAM, 2001, BAYES_LEARN_DURABLE, &r), 0);
		bayes_store_close(&st);
		st = store_open(env, "\xc3\x89L\xc3\x88VE@Example.COM");
		ck_assert_int_eq(bayes_store_totals(st, &tot), 0);
		ck_assert_uint_eq(tot.nspam, 1);
		bayes_store_close(&st);
	}
	db_env_close(&env);
	bayes_tokens_free(&a);
	bayes_tokens_free(&a2);
	bayes_tokens_free(&b);
}
END_TEST

/* Learns n messages of 100 tokens each, "mMMtTTT", message m at atime
 * 10000 + m: all spam, or with alternate every other one ham. */
static void
learn_numbered(struct bayes_store *st, int n, bool alternate)
{
	enum bayes_learn_result r;

	for (int m = 0; m < n; m++) {
		struct bayes_tokens t;
		char key[32], w[32];

		snprintf(key, sizeof(key), "<%d@x>\t00", m);
		t = toks_empty(key);
		for (int i = 0; i < 100; i++) {
			snprintf(w, sizeof(w), "m%02dt%03d", m, i);
			strlist_add(&t.list, w, strlen(w));
		}
		ck_assert_int_eq(bayes_store_learn(st, &t, alternate && m % 2 == 0 ? BAYES_HAM
						   : BAYES_SPAM, 10000 + m, 0, &r), 0);
		bayes_tokens_free(&t);
	}
}

/* For store_expire_retried: holds a read lock on the page of "m03t050"
 * of dir's bayes_toks.db until a transaction has been refused a lock
 * (expiry's first try, which has deleted tokens before that page by
 * then), then lets go; says on ready_fd when it holds the lock. */
static void
expire_lock_holder(const char *dir, int ready_fd)
{
	char *error = NULL;
	struct db_env *env = db_env_open(dir, &error);
	DB_ENV *de;
	DB *db = NULL;
	DB_TXN *txn;
	DB_LOCK_STAT *ls;
	DBT k, v;
	uint32_t base;

	if (env == NULL || db_env_open_db(env, "bayes_toks.db", DB_BTREE, &db, &error) != 0)
		_exit(2);
	de = db_env_handle(env);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = "m03t050";
	k.size = 7;
	if (de->txn_begin(de, NULL, &txn, 0) != 0 || db->get(db, txn, &k, &v, 0) != 0 ||
	    de->lock_stat(de, &ls, 0) != 0)
		_exit(3);
	base = ls->st_lock_nowait;
	free(ls);
	if (write(ready_fd, "x", 1) != 1)
		_exit(4);
	for (;;) {
		bool refused;

		if (de->lock_stat(de, &ls, 0) != 0)
			_exit(5);
		refused = ls->st_lock_nowait > base;
		free(ls);
		if (refused)
			break;
		usleep(1000);
	}
	(void)txn->abort(txn);
	(void)db->close(db, 0);
	db_env_close(&env);
	_exit(0);
}

/* Expiry whose batch is tried again (a lock refused, its deletions rolled
 * back) starts that batch over: all the tokens due still go. */
START_TEST(store_expire_retried)
{
	const char *dir = ut_testdir();
	struct db_env *env = env_open(dir);
	struct bayes_store *st = store_open(env, NULL);
	struct bayes_totals tot;
	struct bayes_counts c;
	int fds[2], status;
	char x;
	pid_t pid;

	learn_numbered(st, 20, false);
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		expire_lock_holder(dir, fds[1]);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &x, 1), 1);
	close(fds[0]);
	ck_assert_int_eq(bayes_store_expire(st, 1600), 800);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	c = counts(st, "m00t000", &tot);
	ck_assert_uint_eq(tot.ntokens, 1200);
	ck_assert_uint_eq(c.spam, 0);
	c = counts(st, "m07t099", &tot);
	ck_assert_uint_eq(c.spam, 0);
	c = counts(st, "m08t000", &tot);
	ck_assert_uint_eq(c.spam, 1);
	bayes_store_close(&st);
	db_env_close(&env);
}
END_TEST

/* Two processes expiring at the same moment: each planned its removals
 * alone, from the same count, and together they once went past the
 * target. They count down the same totals now, and stop at it. (The
 * overlap depends on the scheduler; what is checked is that the kept
 * number is never undershot.) */
START_TEST(store_expire_concurrent)
{
	const char *dir = ut_testdir();
	struct db_env *env = env_open(dir);
	struct bayes_store *st = store_open(env, NULL);
	struct bayes_totals tot;
	int go[2];
	pid_t pids[2];

	learn_numbered(st, 40, false);
	bayes_store_close(&st);
	db_env_close(&env);
	ck_assert_int_eq(pipe(go), 0);
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			char *error = NULL, x;
			struct db_env *cenv = db_env_open(dir, &error);
			struct bayes_store *cst = cenv != NULL ?
				bayes_store_open(cenv, NULL, &error) : NULL;

			close(go[1]);
			if (cst == NULL || read(go[0], &x, 1) != 1)
				_exit(2);
			_exit(bayes_store_expire(cst, 2000) < 0 ? 3 : 0);
		}
	}
	close(go[0]);
	ck_assert_int_eq(write(go[1], "xx", 2), 2);
	close(go[1]);
	for (int i = 0; i < 2; i++) {
		int status;

		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	env = env_open(dir);
	st = store_open(env, NULL);
	(void)counts(st, "m39t000", &tot);
	/* 4000 tokens, at most 2000: 3/4 of that, 1500, are kept */
	ck_assert_uint_eq(tot.ntokens, 1500);
	bayes_store_close(&st);
	db_env_close(&env);
}
END_TEST

START_TEST(store_expire)
{
	struct db_env *env = env_open(ut_testdir());
	struct bayes_store *st = store_open(env, NULL);
	struct bayes_totals tot;
	struct bayes_counts c;
	long n;

	learn_numbered(st, 20, true);
	ck_assert_int_eq(bayes_store_totals(st, &tot), 0);
	ck_assert_uint_eq(tot.ntokens, 2000);
	/* under the limit: nothing */
	ck_assert_int_eq(bayes_store_expire(st, 2000), 0);
	/* over: down to 3/4 of 1600, the oldest first */
	n = bayes_store_expire(st, 1600);
	ck_assert_int_eq(n, 800);
	c = counts(st, "m00t000", &tot);
	ck_assert_uint_eq(tot.ntokens, 1200);
	ck_assert_uint_eq(c.spam + c.ham, 0);
	c = counts(st, "m07t099", &tot);
	ck_assert_uint_eq(c.spam + c.ham, 0);
	c = counts(st, "m08t000", &tot);
	ck_assert_uint_eq(c.ham, 1);
	c = counts(st, "m19t050", &tot);
	ck_assert_uint_eq(c.spam, 1);
	ck_assert_uint_eq(tot.nspam, 10);
	bayes_store_close(&st);
	db_env_close(&env);
}
END_TEST

/* Learns message key (one token of its own) as spam at when. */
static enum bayes_learn_result
learn_keyed(struct bayes_store *st, const char *key, time_t when)
{
	const char *word = key;
	struct bayes_tokens t = toks_of(key, &word, 1);
	enum bayes_learn_result r;

	ck_assert_int_eq(bayes_store_learn(st, &t, BAYES_SPAM, when, 0, &r), 0);
	bayes_tokens_free(&t);
	return r;
}

/* Seen entries go bayes_seen_ttl after a message was last learned or
 * presented again, a purge goes on where the last one stopped, and an
 * entry from before entries had a time gets one at the first purge. */
START_TEST(store_seen_ttl)
{
	struct db_env *env = env_open(ut_testdir());
	struct bayes_store *st = store_open(env, NULL);
	struct bayes_totals tot;
	char key[32];
	DB *raw = NULL;
	char *error = NULL;
	DBT k, v;

	bayes_store_set_seen_ttl(st, 800);
	ck_assert_int_eq(learn_keyed(st, "<a@x>\t1", 1000), BAYES_LEARNED);
	ck_assert_int_eq(learn_keyed(st, "<b@x>\t2", 1000), BAYES_LEARNED);
	ck_assert_int_eq(learn_keyed(st, "<c@x>\t3", 1000), BAYES_LEARNED);
	/* presented again: a refreshes (past ttl / 8), b only too early to */
	ck_assert_int_eq(learn_keyed(st, "<a@x>\t1", 1150), BAYES_ALREADY);
	ck_assert_int_eq(learn_keyed(st, "<b@x>\t2", 1050), BAYES_ALREADY);
	ck_assert_int_eq(bayes_store_purge_seen(st, 1799, SIZE_MAX), 0);
	ck_assert_int_eq(bayes_store_purge_seen(st, 1800, SIZE_MAX), 2);
	ck_assert_int_eq(learn_keyed(st, "<a@x>\t1", 1800), BAYES_ALREADY);
	/* forgotten as seen, so it counts again: the price of a bounded file */
	ck_assert_int_eq(learn_keyed(st, "<b@x>\t2", 1800), BAYES_LEARNED);
	ck_assert_int_eq(bayes_store_totals(st, &tot), 0);
	ck_assert_uint_eq(tot.nspam, 4);
	/* ttl 0: never */
	bayes_store_set_seen_ttl(st, 0);
	ck_assert_int_eq(bayes_store_purge_seen(st, 100000, SIZE_MAX), 0);
	bayes_store_set_seen_ttl(st, 800);
	ck_assert_int_eq(bayes_store_purge_seen(st, 100000, SIZE_MAX), 2);

	/* 1000 entries, the first 500 in key order presented again later */
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "<k%04d>\tff", i);
		ck_assert_int_eq(learn_keyed(st, key, 2000), BAYES_LEARNED);
	}
	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "<k%04d>\tff", i);
		ck_assert_int_eq(learn_keyed(st, key, 2700), BAYES_ALREADY);
	}
	/* each purge looks at about 500 and the next goes on from there */
	ck_assert_int_eq(bayes_store_purge_seen(st, 2800, 500), 0);
	ck_assert_int_eq(bayes_store_purge_seen(st, 2800, 500), 499);
	ck_assert_int_eq(bayes_store_purge_seen(st, 2800, 500), 1);
	ck_assert_int_eq(bayes_store_purge_seen(st, 2800, 500), 0);

	/* an entry of the class alone: timed at the first purge, gone a ttl on */
	ck_assert_int_eq(db_env_open_db(env, "bayes_seen.db", DB_BTREE, &raw, &error), 0);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)"<old>\t00";
	k.size = 8;
	v.data = (void *)"s";
	v.size = 1;
	ck_assert_int_eq(raw->put(raw, NULL, &k, &v, DB_AUTO_COMMIT), 0);
	db_env_close_db(env, &raw);
	ck_assert_int_eq(bayes_store_purge_seen(st, 5000, SIZE_MAX), 500);
	ck_assert_int_eq(bayes_store_purge_seen(st, 5799, SIZE_MAX), 0);
	ck_assert_int_eq(learn_keyed(st, "<old>\t00", 5799), BAYES_ALREADY);
	ck_assert_int_eq(bayes_store_purge_seen(st, 6600, SIZE_MAX), 1);
	ck_assert_int_eq(learn_keyed(st, "<old>\t00", 6600), BAYES_LEARNED);
	bayes_store_close(&st);
	db_env_close(&env);
}
END_TEST

/* A purge takes now once, at its start; a learn in another process a
 * second later stamps its entry after that now.  That entry is new, not
 * old: forgetting it would count the message again at its next learn,
 * and a --forget or a relearn as the other class would no longer take
 * its counts back. */
START_TEST(store_seen_purge_keeps_entries_newer_than_its_now)
{
	struct db_env *env = env_open(ut_testdir());
	struct bayes_store *st = store_open(env, NULL);
	struct bayes_totals tot;

	bayes_store_set_seen_ttl(st, 800);
	ck_assert_int_eq(learn_keyed(st, "<new@x>\t1", 2001), BAYES_LEARNED);
	ck_assert_int_eq(bayes_store_purge_seen(st, 2000, SIZE_MAX), 0);
	ck_assert_int_eq(learn_keyed(st, "<new@x>\t1", 2002), BAYES_ALREADY);
	ck_assert_int_eq(bayes_store_totals(st, &tot), 0);
	ck_assert_uint_eq(tot.nspam, 1);
	/* a clock set back by more than the ttl still lets it go */
	ck_assert_int_eq(bayes_store_purge_seen(st, 1000, SIZE_MAX), 1);
	bayes_store_close(&st);
	db_env_close(&env);
}
END_TEST

/* A handle caches the counts it read; a learn through another handle, or
 * in another process with its own environment handle, must show in its
 * next lookup (the generation counter), and so must an expiry. */
START_TEST(store_cache_sees_other_writers)
{
	static const char *const w1[] = { "alpha", "beta" };
	static const char *const w2[] = { "beta", "gamma" };
	const char *dir = ut_testdir();
	char *error = NULL;
	struct db_env *env = env_open(dir);
	struct bayes_store *reader = store_open(env, NULL), *writer = store_open(env, NULL);
	struct bayes_tokens a = toks_of("<a@x>\t01", w1, 2), b = toks_of("<b@x>\t02", w2, 2);
	enum bayes_learn_result r;
	struct bayes_totals tot;
	struct bayes_counts c;
	pid_t pid;
	int st;

	/* unknown tokens are cached too */
	c = counts(reader, "beta", &tot);
	ck_assert_uint_eq(c.spam + c.ham, 0);
	ck_assert_int_eq(bayes_store_learn(writer, &a, BAYES_SPAM, 1000, BAYES_LEARN_DURABLE, &r), 0);
	c = counts(reader, "beta", &tot);
	ck_assert_uint_eq(c.spam, 1);
	ck_assert_uint_eq(tot.nspam, 1);
	c = counts(reader, "beta", &tot);	/* from the cache now */
	ck_assert_uint_eq(c.spam, 1);
	/* another process, its own environment handle */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct db_env *e2 = db_env_open(dir, &error);
		struct bayes_store *s2 = e2 != NULL ? bayes_store_open(e2, NULL, &error) : NULL;
		int ok = s2 != NULL &&
			 bayes_store_learn(s2, &b, BAYES_HAM, 1001, BAYES_LEARN_DURABLE, &r) == 0 &&
			 r == BAYES_LEARNED;

		bayes_store_close(&s2);
		db_env_close(&e2);
		_exit(ok ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	c = counts(reader, "beta", &tot);
	ck_assert_uint_eq(c.spam, 1);
	ck_assert_uint_eq(c.ham, 1);
	c = counts(reader, "gamma", &tot);
	ck_assert_uint_eq(c.ham, 1);
	/* forget through the other handle */
	ck_assert_int_eq(bayes_store_learn(writer, &a, BAYES_FORGET, 1002, BAYES_LEARN_DURABLE, &r), 0);
	c = counts(reader, "alpha", &tot);
	ck_assert_uint_eq(c.spam + c.ham, 0);
	c = counts(reader, "beta", &tot);
	ck_assert_uint_eq(c.spam, 0);
	ck_assert_uint_eq(c.ham, 1);
	/* expiry: down to 1 token, gamma (older) and alpha (a hapax) go */
	c = counts(reader, "gamma", &tot);
	ck_assert_uint_eq(c.ham, 1);
	ck_assert_int_eq(bayes_store_learn(writer, &a, BAYES_SPAM, 5000, BAYES_LEARN_DURABLE, &r), 0);
	ck_assert_int_gt(bayes_store_expire(writer, 2), 0);
	c = counts(reader, "gamma", &tot);
	ck_assert_uint_eq(c.spam + c.ham, 0);
	c = counts(reader, "alpha", &tot);
	ck_assert_uint_eq(c.spam + c.ham, 0);
	c = counts(reader, "beta", &tot);
	ck_assert_uint_eq(c.spam, 1);
	ck_assert_uint_eq(c.ham, 1);
	bayes_store_close(&reader);
	bayes_store_close(&writer);
	db_env_close(&env);
	bayes_tokens_free(&a);
	bayes_tokens_free(&b);
}
END_TEST

/* A lookup never sees part of a learn: another process learns messages
 * of two tokens, the first and the last in key order, while this one
 * looks up those and many in between (so that a small learn can commit
 * while it reads); the two counts must equal the ham total. */
START_TEST(store_lookup_never_sees_half_a_learn)
{
	enum { NTOK = 3000, NMSG = 4000 };
	const char *dir = ut_testdir();
	struct db_env *env = env_open(dir);
	struct bayes_store *reader = store_open(env, NULL);
	static char names[NTOK][8];
	const char *words[NTOK];
	struct bayes_counts *cnt = calloc(NTOK, sizeof(*cnt));
	struct bayes_totals tot;
	struct strlist l;
	unsigned int lookups = 0, torn = 0, during = 0;
	pid_t pid;
	int st = 0;

	ck_assert_ptr_nonnull(cnt);
	strlist_init(&l);
	for (int i = 0; i < NTOK; i++) {
		snprintf(names[i], sizeof(names[i]), "t%04d", i);
		words[i] = names[i];
		strlist_add(&l, names[i], strlen(names[i]));
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *error = NULL;
		struct db_env *e2 = db_env_open(dir, &error);
		struct bayes_store *w = e2 != NULL ? bayes_store_open(e2, NULL, &error) : NULL;
		int ok = w != NULL;

		for (int m = 0; ok && m < NMSG; m++) {
			char key[32];
			struct bayes_tokens t;
			enum bayes_learn_result r;

			snprintf(key, sizeof(key), "<m%d@x>\t%02x", m, m);
			const char *two[2] = { words[0], words[NTOK - 1] };

			t = toks_of(key, two, 2);
			ok = bayes_store_learn(w, &t, BAYES_HAM, 1000 + m, 0, &r) == 0 &&
			     r == BAYES_LEARNED;
			bayes_tokens_free(&t);
			/* A lookup that a learn commits into starts over: with
			 * learns back to back, a loaded machine (make -j2 in
			 * CI) let every lookup finish only before or after the
			 * whole run, and the check below saw none during it.
			 * A gap now and then gives it a window. */
			if (m % 64 == 63) {
				struct timespec gap = { 0, 2000000 };

				(void)nanosleep(&gap, NULL);
			}
		}
		bayes_store_close(&w);
		db_env_close(&e2);
		_exit(ok ? 0 : 1);
	}
	for (;;) {
		pid_t done = waitpid(pid, &st, WNOHANG);

		ck_assert_int_ge(done, 0);
		ck_assert_int_eq(bayes_store_lookup(reader, &l, &tot, cnt), 0);
		lookups++;
		if (tot.nham > 0 && tot.nham < NMSG)
			during++;
		if (cnt[0].ham != tot.nham || cnt[NTOK - 1].ham != tot.nham)
			torn++;
		if (done == pid)
			break;
	}
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_uint_eq(tot.nham, NMSG);
	ck_assert_msg(torn == 0, "%u of %u lookups saw part of a learn", torn, lookups);
	/* not vacuous: lookups ran while the learns went on */
	ck_assert_uint_gt(during, 0);
	strlist_free(&l);
	free(cnt);
	bayes_store_close(&reader);
	db_env_close(&env);
}
END_TEST

/* More distinct tokens than the cache holds: it starts over and still
 * answers right. */
START_TEST(store_cache_full)
{
	struct db_env *env = env_open(ut_testdir());
	struct bayes_store *st = store_open(env, NULL);
	struct bayes_tokens t = toks_empty("<f@x>\t00");
	enum bayes_learn_result r;
	struct bayes_totals tot;
	struct bayes_counts *cs;
	struct strlist l;
	char w[32];
	size_t n = BAYES_CACHE_TOKENS + 1000;

	for (int i = 0; i < 100; i++) {
		snprintf(w, sizeof(w), "k%06d", i * 7);
		strlist_add(&t.list, w, strlen(w));
	}
	ck_assert_int_eq(bayes_store_learn(st, &t, BAYES_SPAM, 1000, 0, &r), 0);
	bayes_tokens_free(&t);
	strlist_init(&l);
	for (size_t i = 0; i < n; i++) {
		snprintf(w, sizeof(w), "k%06zu", i);
		strlist_add(&l, w, strlen(w));
	}
	cs = calloc(n, sizeof(*cs));
	for (int round = 0; round < 2; round++) {
		ck_assert_int_eq(bayes_store_lookup(st, &l, &tot, cs), 0);
		for (size_t i = 0; i < n; i++)
			ck_assert_uint_eq(cs[i].spam, i % 7 == 0 && i < 700 ? 1 : 0);
	}
	free(cs);
	strlist_free(&l);
	bayes_store_close(&st);
	db_env_close(&env);
}
END_TEST

/* Learns one spam of the n tokens s00000, s00001, ... at time 1000. */
static void
learn_numbered_spam(struct bayes_store *st, const char *seen, int n)
{
	struct bayes_tokens t = toks_empty(seen);
	enum bayes_learn_result r;
	char w[32];

	for (int i = 0; i < n; i++) {
		snprintf(w, sizeof(w), "s%05d", i);
		strlist_add(&t.list, w, strlen(w));
	}
	ck_assert_int_eq(bayes_store_learn(st, &t, BAYES_SPAM, 1000, 0, &r), 0);
	bayes_tokens_free(&t);
}

/* Enough single-token searches under one generation make the handle read
 * the whole database once; it then answers known and unknown tokens from
 * that copy, and drops it when another handle learns. */
START_TEST(store_snapshot)
{
	static const char *const again[] = { "never", "s00001" };
	char *error = NULL;
	struct db_env *env = env_open(ut_testdir());
	struct bayes_store *reader = store_open(env, NULL), *writer = store_open(env, NULL);
	struct bayes_tokens t;
	enum bayes_learn_result r;
	struct bayes_totals tot;
	struct bayes_counts c;
	char w[32];

	learn_numbered_spam(writer, "<s@x>\t00", 1600);
	/* 1600 tokens: a copy after 100 searches, not before */
	for (int i = 0; i < 99; i++) {
		snprintf(w, sizeof(w), "u%05d", i);
		c = counts(reader, w, &tot);
		ck_assert_uint_eq(c.spam + c.ham, 0);
	}
	ck_assert_uint_eq(bayes_store_snapshot_size(reader), 0);
	c = counts(reader, "s00001", &tot);
	ck_assert_uint_eq(c.spam, 1);
	c = counts(reader, "s01599", &tot);
	ck_assert_uint_eq(bayes_store_snapshot_size(reader), 1600);
	ck_assert_uint_eq(c.spam, 1);
	ck_assert_uint_eq(c.atime, 1000);
	ck_assert_uint_eq(tot.ntokens, 1600);
	c = counts(reader, "never", &tot);
	ck_assert_uint_eq(c.spam + c.ham + c.atime, 0);
	/* a learn elsewhere: the copy goes, the new counts show */
	t = toks_of("<h@x>\t00", again, 2);
	ck_assert_int_eq(bayes_store_learn(writer, &t, BAYES_HAM, 2000, 0, &r), 0);
	bayes_tokens_free(&t);
	c = counts(reader, "never", &tot);
	ck_assert_uint_eq(bayes_store_snapshot_size(reader), 0);
	ck_assert_uint_eq(c.ham, 1);
	c = counts(reader, "s00001", &tot);
	ck_assert_uint_eq(c.spam, 1);
	ck_assert_uint_eq(c.ham, 1);
	ck_assert_uint_eq(c.atime, 2000);
	ck_assert_uint_eq(tot.ntokens, 1601);
	/* more tokens than the totals say (written past the store here): no
	 * copy for this generation, and the lookups still answer right */
	{
		DB *db = NULL;
		struct bayes_counts extra = { 7, 0, 3000 };

		ck_assert_int_eq(db_env_open_db(env, "bayes_toks.db", DB_BTREE, &db, &error), 0);
		for (int i = 0; i < 400; i++) {
			DBT k, v;

			snprintf(w, sizeof(w), "x%05d", i);
			memset(&k, 0, sizeof(k));
			memset(&v, 0, sizeof(v));
			k.data = w;
			k.size = (u_int32_t)strlen(w);
			v.data = &extra;
			v.size = sizeof(extra);
			ck_assert_int_eq(db->put(db, NULL, &k, &v, DB_AUTO_COMMIT), 0);
		}
		db_env_close_db(env, &db);
	}
	t = toks_of("<h2@x>\t00", again, 1);
	ck_assert_int_eq(bayes_store_learn(writer, &t, BAYES_HAM, 3000, 0, &r), 0);
	bayes_tokens_free(&t);
	for (int i = 0; i < 150; i++) {
		snprintf(w, sizeof(w), "x%05d", i);
		c = counts(reader, w, &tot);
		ck_assert_uint_eq(c.spam, 7);
	}
	ck_assert_uint_eq(tot.ntokens, 1601);
	ck_assert_uint_eq(bayes_store_snapshot_size(reader), 0);
	c = counts(reader, "never", &tot);
	ck_assert_uint_eq(c.ham, 2);
	bayes_store_close(&reader);
	bayes_store_close(&writer);
	db_env_close(&env);
}
END_TEST

/* A handle told that many lookups follow copies the database at its first
 * lookup, not after ntokens / 16 searches, and takes a new copy at the
 * first lookup after a learn elsewhere. */
START_TEST(store_snapshot_bulk)
{
	static const char *const again[] = { "s00001" };
	struct db_env *env = env_open(ut_testdir());
	struct bayes_store *reader = store_open(env, NULL), *writer = store_open(env, NULL);
	struct bayes_tokens t;
	enum bayes_learn_result r;
	struct bayes_totals tot;
	struct bayes_counts c;

	learn_numbered_spam(writer, "<b@x>\t00", 1600);
	c = counts(reader, "s00002", &tot);
	ck_assert_uint_eq(c.spam, 1);
	ck_assert_uint_eq(bayes_store_snapshot_size(reader), 0);
	bayes_store_set_bulk(reader, true);
	c = counts(reader, "never", &tot);
	ck_assert_uint_eq(bayes_store_snapshot_size(reader), 1600);
	ck_assert_uint_eq(c.spam + c.ham + c.atime, 0);
	t = toks_of("<h@x>\t00", again, 1);
	ck_assert_int_eq(bayes_store_learn(writer, &t, BAYES_HAM, 2000, 0, &r), 0);
	bayes_tokens_free(&t);
	c = counts(reader, "s00001", &tot);
	ck_assert_uint_eq(bayes_store_snapshot_size(reader), 1600);
	ck_assert_uint_eq(c.spam, 1);
	ck_assert_uint_eq(c.ham, 1);
	ck_assert_uint_eq(c.atime, 2000);
	/* and back: the copy is kept for its generation, no new one after */
	bayes_store_set_bulk(reader, false);
	t = toks_of("<h2@x>\t00", again, 1);
	ck_assert_int_eq(bayes_store_learn(writer, &t, BAYES_HAM, 3000, 0, &r), 0);
	bayes_tokens_free(&t);
	c = counts(reader, "s00001", &tot);
	ck_assert_uint_eq(bayes_store_snapshot_size(reader), 0);
	ck_assert_uint_eq(c.ham, 2);
	bayes_store_close(&reader);
	bayes_store_close(&writer);
	db_env_close(&env);
}
END_TEST

/* Recovery asked for between opening the environment and its database
 * (a process died in it just then): that learn fails, but the next one
 * opens the environment again at once (here nobody else holds it, so it
 * recovers) instead of leaving Bayes off for ten seconds, which made
 * lmtpd-learn fail every message it had left. */
START_TEST(front_end_recovery_between_opens)
{
	static const char *const w[] = { "alpha", "beta" };
	const char *dir = ut_testdir();
	struct db_env *env = env_open(dir);
	struct bayes_settings s2;
	struct bayes *b;
	struct bayes_tokens t = toks_of("<r@x>\t0", w, 2);
	enum bayes_learn_result r;

	settings_of(&s2, NULL);
	b = bayes_new(&s2, dir, false);
	ck_assert_int_eq(db_env_request_recovery(dir, "unit test"), 0);
	/* b gets this process's handle, then finds the recovery pending */
	ck_assert_int_eq(bayes_learn(b, NULL, &t, BAYES_SPAM, BAYES_LEARN_DURABLE, &r), -1);
	ck_assert_int_eq(bayes_learn(b, NULL, &t, BAYES_SPAM, BAYES_LEARN_DURABLE, &r), 0);
	ck_assert_int_eq(r, BAYES_LEARNED);
	db_env_close(&env);
	bayes_free(&b);
	bayes_settings_free(&s2);
	bayes_tokens_free(&t);
}
END_TEST

/* bayes_classify on a message of words. */
static int
classify_words(struct bayes *b, const char *const *words, size_t n, double *p_r)
{
	struct bayes_tokens q = toks_of("<q@x>\t0", words, n);
	int ret = bayes_classify(b, NULL, &q, p_r);

	bayes_tokens_free(&q);
	return ret;
}

/* bayes_per_user: one user's database that does not open (damaged)
 * costs that user Bayes, not every user for the next seconds. */
START_TEST(front_end_user_failure_is_that_users)
{
	static const char *const spamw[] = { "cheap", "viagra" };
	static const char *const hamw[] = { "lunch", "meeting" };
	static const char *const users[] = { "alice@example.com", "bob@example.com" };
	const char *dir = ut_testdir();
	struct bayes_settings s2;
	enum bayes_learn_result r;
	struct bayes *b;
	char path[PATH_MAX];
	double p;

	settings_of(&s2, "bayes_min_spam_num", "1", "bayes_min_ham_num", "1", NULL);
	b = bayes_new(&s2, dir, true);
	for (size_t u = 0; u < N_ELEMENTS(users); u++) {
		struct bayes_tokens sp = toks_of("<s@x>\t0", spamw, 2);
		struct bayes_tokens hm = toks_of("<h@x>\t0", hamw, 2);

		ck_assert_int_eq(bayes_learn(b, users[u], &sp, BAYES_SPAM, BAYES_LEARN_DURABLE, &r), 0);
		ck_assert_int_eq(bayes_learn(b, users[u], &hm, BAYES_HAM, BAYES_LEARN_DURABLE, &r), 0);
		bayes_tokens_free(&sp);
		bayes_tokens_free(&hm);
	}
	bayes_free(&b);
	/* bob's token file damaged */
	ut_pathf(path, sizeof(path), "%s/bayes_toks-bob@example.com.db", dir);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(unlink(path), 0);
	ut_write_text(path, "not a Berkeley DB file, whatever it says\n");
	b = bayes_new(&s2, dir, true);
	{
		struct bayes_tokens q = toks_of("<q@x>\t0", spamw, 2);

		ck_assert_int_eq(bayes_classify(b, "bob@example.com", &q, &p), -1);
		ck_assert_int_eq(bayes_classify(b, "alice@example.com", &q, &p), 1);
		ck_assert_double_gt(p, 0.5);
		ck_assert_int_eq(bayes_classify(b, "bob@example.com", &q, &p), -1);
		ck_assert_int_eq(bayes_classify(b, "alice@example.com", &q, &p), 1);
		bayes_tokens_free(&q);
	}
	bayes_free(&b);
	bayes_settings_free(&s2);
}
END_TEST

/* The counts of tok as the database holds them now (a fresh handle: the
 * cache of one that looked it up before keeps the old time). */
static struct bayes_counts
counts_now(struct db_env *env, const char *tok)
{
	struct bayes_store *fresh = store_open(env, NULL);
	struct bayes_totals tot;
	struct bayes_counts c = counts(fresh, tok, &tot);

	bayes_store_close(&fresh);
	return c;
}

/* Tokens a classified message holds get its time, at most once per
 * BAYES_TOUCH_SECS, without moving the generation; so expiry drops the
 * tokens mail no longer shows first, not the ones learned first. */
START_TEST(store_touch_keeps_seen_tokens)
{
	static const char *const keys[] = { "tokA", "tokB", "tokC", "tokD", "tokE" };
	static const time_t when[] = { 1000, 2000, 3000, 3000, 3000 };
	struct db_env *env = env_open(ut_testdir());
	struct bayes_store *st = store_open(env, NULL);
	static const bool all[3] = { true, true, true };
	struct bayes_counts c[3];
	struct bayes_totals tot;
	struct strlist l;
	uint32_t later = 1000 + BAYES_TOUCH_SECS;

	for (size_t i = 0; i < N_ELEMENTS(keys); i++)
		ck_assert_int_eq(learn_keyed(st, keys[i], when[i]), BAYES_LEARNED);
	strlist_init(&l);
	strlist_add(&l, "tokA", 4);
	strlist_add(&l, "tokC", 4);
	strlist_add(&l, "unknown", 7);
	ck_assert_int_eq(bayes_store_lookup(st, &l, &tot, c), 0);
	/* tokC is too recent to need it, an unknown token has nothing */
	ck_assert_int_eq(bayes_store_touch(st, &l, c, all, later), 1);
	ck_assert_uint_eq(counts_now(env, "tokA").atime, later);
	ck_assert_uint_eq(counts_now(env, "tokA").spam, 1);
	ck_assert_uint_eq(counts_now(env, "tokC").atime, 3000);
	ck_assert_uint_eq(counts_now(env, "unknown").atime, 0);
	/* the same (cached) counts again: remembered as touched */
	ck_assert_int_eq(bayes_store_lookup(st, &l, &tot, c), 0);
	ck_assert_uint_eq(c[0].atime, 1000);
	ck_assert_int_eq(bayes_store_touch(st, &l, c, all, later + 60), 0);
	ck_assert_uint_eq(counts_now(env, "tokA").atime, later);
	/* another handle whose counts are as old: the database says it was
	 * touched a minute ago, so nothing is written */
	{
		struct bayes_store *other = store_open(env, NULL);
		struct bayes_counts old[3] = { { 1, 0, 1000 }, { 1, 0, 3000 }, { 0, 0, 0 } };

		ck_assert_int_eq(bayes_store_touch(other, &l, old, all, later + 60), 0);
		bayes_store_close(&other);
	}
	strlist_free(&l);
	/* expiry to 3 of 5 tokens: tokB, learned after tokA but not seen
	 * since, goes, and tokA stays */
	ck_assert_int_eq(bayes_store_expire(st, 4), 2);
	ck_assert_uint_eq(counts_now(env, "tokA").spam, 1);
	ck_assert_uint_eq(counts_now(env, "tokB").spam, 0);
	bayes_store_close(&st);
	db_env_close(&env);
}
END_TEST

/* The daemon's classifying touches the tokens that decided, as
 * SpamAssassin's scan does (not a neutral one); lmtpd-score's
 * (read-only) touches none. */
START_TEST(front_end_classify_touches)
{
	static const char *const spamw[] = { "neutral", "strong" };
	static const char *const hamw[] = { "hamonly", "neutral" };
	const char *dir = ut_testdir();
	struct bayes_settings s2;
	struct bayes *b;
	double p;

	{
		struct db_env *env = env_open(dir);
		struct bayes_store *st = store_open(env, NULL);
		struct bayes_tokens sp = toks_of("<s@x>\t0", spamw, 2);
		struct bayes_tokens hm = toks_of("<h@x>\t0", hamw, 2);
		enum bayes_learn_result r;

		/* learned in 1970 */
		ck_assert_int_eq(bayes_store_learn(st, &sp, BAYES_SPAM, 1000, 0, &r), 0);
		ck_assert_int_eq(bayes_store_learn(st, &hm, BAYES_HAM, 1000, 0, &r), 0);
		bayes_tokens_free(&sp);
		bayes_tokens_free(&hm);
		bayes_store_close(&st);
		db_env_close(&env);
	}
	settings_of(&s2, "bayes_min_spam_num", "1", "bayes_min_ham_num", "1", NULL);
	for (int read_only = 1; read_only >= 0; read_only--) {
		struct bayes_tokens t = toks_of("<q@x>\t0", spamw, 2);
		struct db_env *env;
		uint32_t atime, neutral;

		b = bayes_new(&s2, dir, true);
		bayes_set_read_only(b, read_only);
		ck_assert_int_eq(bayes_classify(b, NULL, &t, &p), 1);
		bayes_tokens_free(&t);
		bayes_free(&b);
		env = env_open(dir);
		atime = counts_now(env, "strong").atime;
		neutral = counts_now(env, "neutral").atime;
		db_env_close(&env);
		ck_assert_uint_eq(neutral, 1000);
		if (read_only)
			ck_assert_uint_eq(atime, 1000);
		else
			ck_assert_uint_gt(atime, 1000000000);
	}
	bayes_settings_free(&s2);
}
END_TEST

/* Whether the seen database holds key. */
static bool
seen_has(const char *dir, const char *key)
{
	struct db_env *env = env_open(dir);
	char *error = NULL;
	DB *raw = NULL;
	DBT k, v;
	int ret;

	ck_assert_msg(db_env_open_db(env, "bayes_seen.db", DB_BTREE, &raw, &error) == 0, "%s",
		      error);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)strlen(key);
	v.flags = DB_DBT_MALLOC;
	ret = raw->get(raw, NULL, &k, &v, 0);
	free(v.data);
	db_env_close_db(env, &raw);
	db_env_close(&env);
	ck_assert(ret == 0 || ret == DB_NOTFOUND);
	return ret == 0;
}

/* The seen entries are purged once every BAYES_SEEN_PURGE_EVERY new
 * messages whoever learns them: here two front ends (two workers) that
 * each learn fewer than that, which a counter of each process's own never
 * purged. */
START_TEST(front_end_seen_purge_counts_every_learner)
{
	const char *dir = ut_testdir();
	struct bayes_settings s2;
	enum bayes_learn_result r;
	struct bayes *b[2];
	int i;

	{
		struct db_env *env = env_open(dir);
		struct bayes_store *st = store_open(env, NULL);

		/* learned in 1970: long past the default ttl of 8 days */
		ck_assert_int_eq(learn_keyed(st, "<old1@x>\t0", 1000), BAYES_LEARNED);
		ck_assert_int_eq(learn_keyed(st, "<old2@x>\t0", 1000), BAYES_LEARNED);
		bayes_store_close(&st);
		db_env_close(&env);
	}
	settings_of(&s2, "bayes_min_spam_num", "1", NULL);
	b[0] = bayes_new(&s2, dir, true);
	b[1] = bayes_new(&s2, dir, true);
	for (i = 2; i < BAYES_SEEN_PURGE_EVERY; i++) {
		char key[32], word[32];
		const char *w = word;
		struct bayes_tokens t;

		if (i == BAYES_SEEN_PURGE_EVERY - 1)
			ck_assert(seen_has(dir, "<old1@x>\t0"));
		snprintf(key, sizeof(key), "<m%d@x>\t0", i);
		snprintf(word, sizeof(word), "word%d", i);
		t = toks_of(key, &w, 1);
		ck_assert_int_eq(bayes_learn(b[i % 2], NULL, &t, BAYES_SPAM, 0, &r), 0);
		ck_assert_int_eq(r, BAYES_LEARNED);
		bayes_tokens_free(&t);
	}
	ck_assert(!seen_has(dir, "<old1@x>\t0"));
	ck_assert(!seen_has(dir, "<old2@x>\t0"));
	ck_assert(seen_has(dir, "<m2@x>\t0"));
	bayes_free(&b[0]);
	bayes_free(&b[1]);
	bayes_settings_free(&s2);
}
END_TEST

/* The front end: not trained enough gives no answer; then it answers. */
START_TEST(front_end_min_counts)
{
	static const char *const spamw[] = { "cheap", "viagra" };
	static const char *const hamw[] = { "lunch", "meeting" };
	const char *dir = ut_testdir();
	struct bayes *b;
	struct bayes_settings s2;
	enum bayes_learn_result r;
	double p;

	settings_of(&s2, "bayes_min_spam_num", "3", "bayes_min_ham_num", "3", NULL);
	ck_assert_uint_eq(s2.min_spam_num, 3);
	b = bayes_new(&s2, dir, false);
	for (int i = 0; i < 3; i++) {
		char key[32];
		struct bayes_tokens s, h;

		snprintf(key, sizeof(key), "<s%d@x>\t0", i);
		s = toks_of(key, spamw, 2);
		snprintf(key, sizeof(key), "<h%d@x>\t0", i);
		h = toks_of(key, hamw, 2);
		ck_assert_int_eq(classify_words(b, spamw, 2, &p), 0);
		ck_assert_int_eq(bayes_learn(b, NULL, &s, BAYES_SPAM, BAYES_LEARN_DURABLE, &r), 0);
		ck_assert_int_eq(bayes_learn(b, NULL, &h, BAYES_HAM, BAYES_LEARN_DURABLE, &r), 0);
		bayes_tokens_free(&s);
		bayes_tokens_free(&h);
	}
	/* tokens seen 3 times each: 0.89 with lmtpd's s of 0.45 (0.99 with
	 * SpamAssassin's 0.030) */
	ck_assert_int_eq(classify_words(b, spamw, 2, &p), 1);
	ck_assert_double_gt(p, 0.85);
	ck_assert_int_eq(classify_words(b, hamw, 2, &p), 1);
	ck_assert_double_lt(p, 0.15);
	/* trained enough, but nothing it knows: no answer, yet available
	 * (score set 2, as SpamAssassin's is_scan_available) */
	{
		static const char *const unknown[] = { "qqzzx", "wwqqv" };

		ck_assert_int_eq(classify_words(b, unknown, 2, &p), 2);
	}
	bayes_free(&b);
	/* a state_dir that cannot be made: an error, never a crash */
	{
		char path[PATH_MAX];

		ut_pathf(path, sizeof(path), "%s/file", dir);
		ut_write_text(path, "not a folder\n");
		ut_pathf(path, sizeof(path), "%s/file/state", dir);
		b = bayes_new(&s2, path, false);
	}
	{
		struct bayes_tokens q = toks_of("<q@x>\t0", spamw, 2);

		ck_assert_int_eq(bayes_classify(b, NULL, &q, &p), -1);
		ck_assert_int_eq(bayes_learn(b, NULL, &q, BAYES_SPAM, BAYES_LEARN_DURABLE, &r), -1);
		bayes_tokens_free(&q);
	}
	bayes_free(&b);
	bayes_settings_free(&s2);
}
END_TEST

/* The front-end tests' database: two words of spam and two of ham, each
 * pair learned from one message, and settings that answer from one
 * message of each class. */
static const char *const fe_spamw[] = { "cheap", "viagra" };
static const char *const fe_hamw[] = { "lunch", "meeting" };

struct front_end {
	struct bayes_settings s;
	struct bayes_tokens spam, ham;
};

static void
front_end_init(struct front_end *fe)
{
	fe->spam = toks_of("<s@x>\t0", fe_spamw, 2);
	fe->ham = toks_of("<h@x>\t0", fe_hamw, 2);
	settings_of(&fe->s, "bayes_min_spam_num", "1", "bayes_min_ham_num", "1", NULL);
}

static void
front_end_learn(struct front_end *fe, struct bayes *b)
{
	enum bayes_learn_result r;

	ck_assert_int_eq(bayes_learn(b, NULL, &fe->spam, BAYES_SPAM, BAYES_LEARN_DURABLE, &r), 0);
	ck_assert_int_eq(bayes_learn(b, NULL, &fe->ham, BAYES_HAM, BAYES_LEARN_DURABLE, &r), 0);
}

static void
front_end_free(struct front_end *fe)
{
	bayes_settings_free(&fe->s);
	bayes_tokens_free(&fe->spam);
	bayes_tokens_free(&fe->ham);
}

/* bayes_set_bulk reaches the store opened after it: one classification
 * leaves a copy of the whole database. */
START_TEST(front_end_bulk)
{
	const char *dir = ut_testdir();
	struct bayes *b;
	struct front_end fe;
	double p;

	front_end_init(&fe);
	/* 102 tokens: single searches would take 6 before a copy */
	for (int i = 0; i < 100; i++) {
		char w[32];

		snprintf(w, sizeof(w), "filler%03d", i);
		strlist_add(&fe.spam.list, w, strlen(w));
	}
	b = bayes_new(&fe.s, dir, false);
	front_end_learn(&fe, b);
	ck_assert_int_eq(classify_words(b, fe_spamw, 2, &p), 1);
	ck_assert_uint_eq(bayes_store_snapshot_size(bayes_store_for(b, NULL)), 0);
	bayes_set_bulk(b, true);
	ck_assert_int_eq(classify_words(b, fe_hamw, 2, &p), 1);
	ck_assert_uint_eq(bayes_store_snapshot_size(bayes_store_for(b, NULL)), 104);
	ck_assert_double_lt(p, 0.5);
	/* a store opened later (after fork) gets it too */
	bayes_close(b);
	ck_assert_int_eq(classify_words(b, fe_spamw, 2, &p), 1);
	ck_assert_uint_eq(bayes_store_snapshot_size(bayes_store_for(b, NULL)), 104);
	ck_assert_double_gt(p, 0.5);
	bayes_free(&b);
	front_end_free(&fe);
}
END_TEST

/* Read-only (lmtpd-score): with nothing learned there is no database,
 * which is no answer, with no log line and no file made; once another
 * front end has learned, it answers from the database. */
START_TEST(front_end_read_only)
{
	const char *dir = ut_testdir();
	char path[4200], logged[256];
	struct bayes *ro, *rw;
	struct front_end fe;
	struct stat st;
	double p;
	FILE *capture = tmpfile();
	int saved_stderr = dup(STDERR_FILENO);
	size_t n;

	front_end_init(&fe);
	ro = bayes_new(&fe.s, dir, false);
	bayes_set_read_only(ro, true);
	ck_assert_ptr_nonnull(capture);
	fflush(stderr);
	ck_assert_int_ge(dup2(fileno(capture), STDERR_FILENO), 0);
	ck_assert_int_eq(classify_words(ro, fe_spamw, 2, &p), 0);
	ck_assert_int_eq(classify_words(ro, fe_spamw, 2, &p), 0);
	fflush(stderr);
	ck_assert_int_ge(dup2(saved_stderr, STDERR_FILENO), 0);
	rewind(capture);
	n = fread(logged, 1, sizeof(logged) - 1, capture);
	logged[n] = '\0';
	ck_assert_msg(n == 0, "logged: %s", logged);
	snprintf(path, sizeof(path), "%s/bayes_toks.db", dir);
	ck_assert_int_eq(stat(path, &st), -1);

	rw = bayes_new(&fe.s, dir, false);
	front_end_learn(&fe, rw);
	ck_assert_int_eq(classify_words(ro, fe_spamw, 2, &p), 1);
	ck_assert_double_gt(p, 0.5);
	ck_assert_int_eq(classify_words(ro, fe_hamw, 2, &p), 1);
	ck_assert_double_lt(p, 0.5);
	bayes_free(&ro);
	bayes_free(&rw);
	(void)close(saved_stderr);
	fclose(capture);
	front_end_free(&fe);
}
END_TEST

/* bayes_prepare_fork copies the database in the parent; a child started
 * after it answers from that copy (no database read of its own) and
 * drops it once another process learns. */
START_TEST(front_end_prepare_fork)
{
	const char *dir = ut_testdir();
	struct bayes *b;
	struct front_end fe;
	int status;
	pid_t pid;

	front_end_init(&fe);
	b = bayes_new(&fe.s, dir, false);
	front_end_learn(&fe, b);
	bayes_prepare_fork(b);
	ck_assert_uint_eq(bayes_store_snapshot_size(bayes_store_for(b, NULL)), 4);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		double p, before = 0;
		int code = 0;
		struct bayes *other;
		enum bayes_learn_result r;
		struct bayes_tokens more = toks_of("<m@x>\t0", fe_spamw, 1);

		bayes_after_fork(b);
		/* the parent's copy, before this process reads anything */
		if (bayes_store_snapshot_size(bayes_store_for(b, NULL)) != 4)
			code = 1;
		else if (classify_words(b, fe_spamw, 2, &before) != 1 || before <= 0.5)
			code = 2;
		/* another handle learns "cheap" as ham: the next lookup sees
		 * it (a new copy, with the new counts) */
		other = bayes_new(&fe.s, dir, false);
		if (code == 0 && bayes_learn(other, NULL, &more, BAYES_HAM, BAYES_LEARN_DURABLE, &r) != 0)
			code = 3;
		if (code == 0 && (classify_words(b, fe_spamw, 2, &p) != 1 || !(p < before)))
			code = 4;
		bayes_tokens_free(&more);
		bayes_close(b);
		bayes_close(other);
		_exit(code);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	bayes_free(&b);
	front_end_free(&fe);
}
END_TEST

static Suite *
bayes_suite(void)
{
	Suite *s = suite_create("bayes");
	TCase *tc;

	tc = ut_tcase(s, "tokenizer", false);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, tokenize_line_like_sa, 0, N_ELEMENTS(lines));
	tcase_add_test(tc, tokenize_message);
	tcase_add_test(tc, seen_key_without_message_id);
	tcase_add_test(tc, stopwords_dropped);
	tcase_add_test(tc, title_words_like_pcre2);
	tcase_add_loop_test(tc, tokenize_invisible, 0, N_ELEMENTS(invisible));
	tcase_add_test(tc, tokenize_bounds);
	tcase_add_test(tc, tokenize_long_tokens_hashed);
	tcase_add_test(tc, settings_lmtpd);
	tcase_add_test(tc, settings_seen_ttl);
	tc = ut_tcase(s, "math", false);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, math_like_sa);
	tcase_add_test(tc, score_counts_strength);
	tcase_add_test(tc, score_counts_order);
	tcase_add_test(tc, math_settings);
	tcase_add_test(tc, math_robinson_s);
	tc = ut_tcase(s, "store", true);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, store_learn_relearn_forget);
	tcase_add_test(tc, store_expire);
	tcase_add_test(tc, store_expire_retried);
	tcase_add_test(tc, store_expire_concurrent);
	tcase_add_test(tc, store_seen_ttl);
	tcase_add_test(tc, store_seen_purge_keeps_entries_newer_than_its_now);
	tcase_add_test(tc, store_cache_sees_other_writers);
	tcase_add_test(tc, store_lookup_never_sees_half_a_learn);
	tcase_add_test(tc, store_cache_full);
	tcase_add_test(tc, store_snapshot);
	tcase_add_test(tc, store_snapshot_bulk);
	tcase_add_test(tc, front_end_bulk);
	tcase_add_test(tc, front_end_read_only);
	tcase_add_test(tc, front_end_prepare_fork);
	tcase_add_test(tc, front_end_min_counts);
	tcase_add_test(tc, front_end_user_failure_is_that_users);
	tcase_add_test(tc, front_end_seen_purge_counts_every_learner);
	tcase_add_test(tc, store_touch_keeps_seen_tokens);
	tcase_add_test(tc, front_end_classify_touches);
	tcase_add_test(tc, front_end_recovery_between_opens);
	return s;
}

int
main(void)
{
	return ut_run(bayes_suite);
}
