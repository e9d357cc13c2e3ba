/* Unit tests for the rule engine: rule-file parsing (conditionals, include,
 * ReplaceTags, scores), meta expressions with Perl semantics, the
 * required-literal prefilter (never fewer candidates than true matches),
 * totals, and the X-Spam-* rendering. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_compat.h"
#include "mime.h"
#include "msgview.h"
#include "prefilter.h"
#include "rules.h"
#include "rules_int.h"
#include "rules_parse.h"
#include "rules_user.h"
#include "buf.h"
#include "score.h"
#include "strlist.h"

static char tmpdir[256];
/* What loading a user's prefs warned about (user_prefs_load). */
static struct buf user_warnings;

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_rules.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	buf_init(&user_warnings, 0);
}

static void
teardown(void)
{
	char cmd[512];

	buf_free(&user_warnings);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Writes tmpdir/name; path_r (may be NULL) gets its path. */
static void
write_file(const char *name, const char *data, size_t len, char *path_r, size_t path_size)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	if (path_r != NULL)
		snprintf(path_r, path_size, "%s", path);
}

static void
write_cf(const char *name, const char *text)
{
	write_file(name, text, strlen(text), NULL, 0);
}

static struct ruleset *
load(struct rules_load_result *res)
{
	const char *dirs[] = { tmpdir };

	return rules_load(dirs, 1, res);
}

/* The rules of text (written as name), which must load without errors. */
static struct ruleset *
load_clean(const char *name, const char *text)
{
	struct rules_load_result res;
	struct ruleset *rs;

	write_cf(name, text);
	rs = load(&res);
	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(res.errors, 0);
	rules_load_result_free(&res);
	return rs;
}

/* Every rule of rs matched against message into hits, sub-rules no meta
 * asked for included; returns the views (the caller frees them). */
static struct msgview *
match_message(const struct ruleset *rs, const char *message, const char *envelope_from,
	      double time_limit, struct rules_hits *hits)
{
	struct rules_scratch *scratch = rules_scratch_new(rs);
	struct msgview *mv = msgview_new(rules_settings(rs), message, strlen(message),
					 envelope_from);

	rules_match(rs, scratch, mv, time_limit, hits);
	rules_scratch_free(&scratch);
	rules_resolve_all(rs, hits);
	return mv;
}

/* No rule of rs hit yet (the caller sets counts, then frees hits->hits). */
static void
hits_none(const struct ruleset *rs, struct rules_hits *hits)
{
	memset(hits, 0, sizeof(*hits));
	hits->count = rules_count(rs);
	hits->hits = calloc(hits->count, sizeof(*hits->hits));
	ck_assert_ptr_nonnull(hits->hits);
}

static const struct rule *
rule(const struct ruleset *rs, const char *name)
{
	long i = rules_find(rs, name);

	ck_assert_msg(i >= 0, "rule %s missing", name);
	return &rs->rules[i];
}

/* An admin's add_header and remove_header lines do nothing in lmtpd:
 * each is a logged diagnostic, not an error, except SpamAssassin's own
 * four add_header lines (what lmtpd writes), however they are spaced
 * or quoted. */
START_TEST(test_add_header_lines_logged)
{
	static const unsigned int logged_lines[] = { 5, 6, 7, 9 };
	struct rules_load_result res;
	struct ruleset *rs;

	write_cf("10_headers.cf",
		 "clear_headers\n"
		 "add_header all Checker-Version SpamAssassin _VERSION_ (_SUBVERSION_) on _HOSTNAME_\n"
		 "add_header   spam  Flag\t\"_YESNOCAPS_\"  \n"
		 "add_header all Status \"_YESNO_, score=_SCORE_ required=_REQD_ tests=_TESTS_ "
		 "autolearn=_AUTOLEARN_ version=_VERSION_\"\n"
		 "add_header all Report _REPORT_\n"
		 "add_header all Level _STARS(+)_\n"
		 "add_header ham Flag _YESNOCAPS_\n"
		 "add_header all Level _STARS(*)_\n"
		 "remove_header all Checker-Version\n");
	rs = load(&res);
	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(res.errors, 0);
	/* then the prefilter's summary of each view */
	ck_assert_uint_ge(res.diag_count, N_ELEMENTS(logged_lines));
	ck_assert(strstr(res.diags[N_ELEMENTS(logged_lines)].file, "10_headers.cf") == NULL);
	for (size_t i = 0; i < N_ELEMENTS(logged_lines); i++) {
		ck_assert_ptr_nonnull(strstr(res.diags[i].file, "10_headers.cf"));
		ck_assert_uint_eq(res.diags[i].line, logged_lines[i]);
		ck_assert(!res.diags[i].error);
		ck_assert(res.diags[i].logged);
		ck_assert_ptr_nonnull(strstr(res.diags[i].message, " is ignored: lmtpd writes "));
	}
	ck_assert_str_eq(res.diags[0].message + strcspn(res.diags[0].message, ":"),
			 ": lmtpd writes X-Spam-Flag, X-Spam-Level, X-Spam-Status, "
			 "X-Spam-Score and X-Spam-Checker-Version as SpamAssassin's "
			 "defaults do, and X-Spam-Report with spam_report in lmtpd.conf");
	ck_assert(strncmp(res.diags[0].message, "add_header all Report is", 24) == 0);
	ck_assert(strncmp(res.diags[2].message, "add_header ham Flag is", 22) == 0);
	ck_assert(strncmp(res.diags[3].message, "remove_header all Checker-Version is",
			  36) == 0);
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

START_TEST(test_conditionals)
{
	struct rules_load_result res;
	struct ruleset *rs;

	write_cf("10_a.cf",
		 "ifplugin Mail::SpamAssassin::Plugin::ReplaceTags\n"
		 "body IN_PLUGIN /a/\n"
		 "endif\n"
		 "ifplugin Mail::SpamAssassin::Plugin::DKIM\n"
		 "body NO_PLUGIN /b/\n"
		 "else\n"
		 "body ELSE_BRANCH /c/\n"
		 "endif\n"
		 "if (version >= 3.004000)\n"
		 "body VERSION_OK /d/\n"
		 "endif\n"
		 "if (version >= 9.0)\n"
		 "body VERSION_FUTURE /e/\n"
		 "endif\n"
		 "if !plugin(Mail::SpamAssassin::Plugin::MIMEHeader)\n"
		 "body NOT_MIMEHEADER /f/\n"
		 "endif\n"
		 "if can(Mail::SpamAssassin::Conf::feature_bug6558_free)\n"
		 "body CAN_FEATURE /g/\n"
		 "endif\n"
		 "if !can(Mail::SpamAssassin::Conf::compat_no_such_flag)\n"
		 "body NOT_CAN /h/\n"
		 "endif\n"
		 /* SpamAssassin's init.pre enables this one everywhere */
		 "if !can(Mail::SpamAssassin::Conf::compat_welcomelist_blocklist)\n"
		 "body OLD_LIST_NAMES /k/\n"
		 "endif\n"
		 "if can(Mail::SpamAssassin::Conf::compat_site_flag)\n"
		 "body COMPAT_TOO_EARLY /l/\n"
		 "endif\n"
		 "enable_compat site_flag\n"
		 "enable_compat bad-flag\n"
		 "if can(Mail::SpamAssassin::Conf::compat_site_flag)\n"
		 "body COMPAT_ENABLED /m/\n"
		 "endif\n"
		 "if can(Mail::SpamAssassin::Conf::compat_site_fla)\n"
		 "body COMPAT_PREFIX /n/\n"
		 "endif\n"
		 "ifplugin Mail::SpamAssassin::Plugin::DKIM\n"
		 "  if (version >= 3.0)\n"
		 "  body NESTED_BLOCKED /i/\n"
		 "  else\n"
		 "  body NESTED_ELSE_BLOCKED /j/\n"
		 "  endif\n"
		 "endif\n");
	rs = load(&res);
	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(res.errors, 1);
	ck_assert_str_eq(res.diags[0].message, "enable_compat: invalid value 'bad-flag'");
	ck_assert(rule(rs, "IN_PLUGIN")->defined);
	ck_assert_int_lt(rules_find(rs, "NO_PLUGIN"), 0);
	ck_assert(rule(rs, "ELSE_BRANCH")->defined);
	ck_assert(rule(rs, "VERSION_OK")->defined);
	ck_assert_int_lt(rules_find(rs, "VERSION_FUTURE"), 0);
	ck_assert_int_lt(rules_find(rs, "NOT_MIMEHEADER"), 0);
	ck_assert(rule(rs, "CAN_FEATURE")->defined);
	ck_assert(rule(rs, "NOT_CAN")->defined);
	ck_assert_int_lt(rules_find(rs, "OLD_LIST_NAMES"), 0);
	ck_assert_int_lt(rules_find(rs, "COMPAT_TOO_EARLY"), 0);
	ck_assert(rule(rs, "COMPAT_ENABLED")->defined);
	ck_assert_int_lt(rules_find(rs, "COMPAT_PREFIX"), 0);
	/* Bug 7848: an else inside a blocked block stays blocked. */
	ck_assert_int_lt(rules_find(rs, "NESTED_BLOCKED"), 0);
	ck_assert_int_lt(rules_find(rs, "NESTED_ELSE_BLOCKED"), 0);
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

START_TEST(test_comments_lang_include)
{
	struct rules_load_result res;
	struct ruleset *rs;

	write_cf("sub.inc", "body FROM_INCLUDE /x/\n");
	write_cf("20_b.cf",
		 "# a comment\n"
		 "body HASH_RULE /a\\#b/   # trailing comment\n"
		 "lang de describe HASH_RULE Deutsch\n"
		 "describe HASH_RULE English\n"
		 "lang en describe LANG_EN_RULE In English\n"
		 "body LANG_EN_RULE /y/\n"
		 "include sub.inc\n"
		 "BoDy UPPER_KEY /z/\n");
	rs = load(&res);
	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(res.errors, 0);
	ck_assert_str_eq(rule(rs, "HASH_RULE")->pattern, "/a#b/");
	ck_assert_str_eq(rule(rs, "HASH_RULE")->describe, "English");
	ck_assert_str_eq(rule(rs, "LANG_EN_RULE")->describe, "In English");
	ck_assert(rule(rs, "FROM_INCLUDE")->defined);
	ck_assert(rule(rs, "UPPER_KEY")->defined);
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

START_TEST(test_scores_and_skips)
{
	struct rules_load_result res;
	struct ruleset *rs;
	const struct rule *r;

	write_cf("30_c.cf",
		 "body ONE /one/\n"
		 "score ONE 2.5\n"
		 "body FOUR /four/\n"
		 "score FOUR 1 2 3 4\n"
		 "score FOUR (0.5) (0) (0.5) (0)\n"
		 "body DEFAULTED /d/\n"
		 "body T_TESTING /t/\n"
		 "body NICE_RULE /n/\n"
		 "tflags NICE_RULE nice\n"
		 "body ZERO /z/\n"
		 "score ZERO 0\n"
		 "header NETRULE eval:check_rbl('x', 'y.example.')\n"
		 "tflags NETRULE net\n"
		 "meta NETMETA ONE && !NETRULE\n"
		 "tflags NETMETA net\n"
		 "header EVAL_MISSING eval:no_such_function()\n"
		 "body BROKEN /(unclosed/\n"
		 "required_score 6.5\n"
		 "frobnicate yes\n");
	rs = load(&res);
	ck_assert_ptr_nonnull(rs);
	ck_assert(rules_required_score(rs) == 6.5);
	ck_assert(rule(rs, "ONE")->score[0] == 2.5 && rule(rs, "ONE")->score[3] == 2.5);
	r = rule(rs, "FOUR");
	ck_assert(r->score[0] == 1.5 && r->score[1] == 2 && r->score[2] == 3.5 &&
		  r->score[3] == 4);
	ck_assert(rule(rs, "DEFAULTED")->score[0] == 1.0);
	ck_assert(rule(rs, "T_TESTING")->score[0] == 0.01);
	ck_assert(rule(rs, "NICE_RULE")->score[0] == -1.0);
	/* compiled, run only for users whose prefs score it */
	ck_assert_int_eq(rule(rs, "ZERO")->skip, RULE_SITE_ZERO);
	ck_assert_int_eq(rule(rs, "NETRULE")->skip, RULE_SKIP_NET);
	/* Check.pm skips only eval rules for tflags net: metas run. */
	ck_assert_int_eq(rule(rs, "NETMETA")->skip, RULE_RUNS);
	ck_assert_int_eq(rule(rs, "EVAL_MISSING")->skip, RULE_SKIP_EVAL);
	ck_assert_int_eq(rule(rs, "BROKEN")->skip, RULE_SKIP_BROKEN);
	/* The broken regex and the unknown directive are errors with
	 * file:line; the rest still loaded. */
	ck_assert_int_eq(res.errors, 2);
	{
		bool saw_line = false;

		for (size_t i = 0; i < res.diag_count; i++)
			if (res.diags[i].error && res.diags[i].line == 19 &&
			    strstr(res.diags[i].message, "frobnicate") != NULL)
				saw_line = true;
		ck_assert(saw_line);
	}
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

/* A rule defined again replaces the earlier definition, eval call and
 * all (the fuzzer found the first call's name leaked: the sanitizer
 * build's LeakSanitizer fails this test without the fix). */
START_TEST(test_eval_redefined)
{
	struct rules_load_result res;
	struct ruleset *rs;
	const struct rule *r;

	write_cf("30_c.cf",
		 "header TWICE eval:check_for_shifted_date('-6', '-3')\n"
		 "header TWICE eval:check_for_shifted_date('3', '6')\n"
		 "header THEN_BODY eval:check_for_shifted_date('1', '2')\n"
		 "body THEN_BODY /x/\n");
	rs = load(&res);
	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(res.errors, 0);
	r = rule(rs, "TWICE");
	ck_assert_ptr_nonnull(r->eval);
	ck_assert_uint_eq(r->eval->arg_count, 2);
	ck_assert_str_eq(r->eval->args[0], "3");
	ck_assert_ptr_null(rule(rs, "THEN_BODY")->eval);
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

/* A hostile header section for the bounds below: Subject, two million
 * "To:" lines (42 MB), then a field with a control byte (past the
 * fields the parser keeps, still in ALL:raw). */
static void
many_to_lines(struct buf *in)
{
	const size_t n = 2u * 1024 * 1024;

	buf_init(in, 0);
	buf_put_str(in, "Subject: early subject\n");
	for (size_t i = 0; i < n; i++)
		buf_putf(in, "To: u%07zu@exam.com\n", i);
	buf_put_str(in, "X-Ctl: a\001b\n\nbody\n");
}

struct match_job {
	const struct ruleset *rs;
	struct rules_scratch *scratch;
	const struct buf *in;
	const char *const *hit, *const *miss;	/* rules that must (not) hit */
};

/* Matches the message and checks the rules that must and must not hit. */
static bool
match_job_run(const void *arg)
{
	const struct match_job *j = arg;
	struct msgview *mv = msgview_new(rules_settings(j->rs), j->in->data, j->in->len, NULL);
	struct rules_hits hits;
	bool ok = true;

	rules_match(j->rs, j->scratch, mv, 0, &hits);
	rules_resolve_all(j->rs, &hits);
	for (size_t i = 0; j->hit[i] != NULL; i++)
		ok = ok && hits.hits[rules_find(j->rs, j->hit[i])] > 0;
	for (size_t i = 0; j->miss[i] != NULL; i++)
		ok = ok && hits.hits[rules_find(j->rs, j->miss[i])] == 0;
	rules_hits_free(&hits);
	msgview_free(&mv);
	return ok;
}

/* rules_text's rules on the message in (hit and miss as above), within
 * extra bytes of address space (without AddressSanitizer; with it, the
 * hits only). */
static void
match_within(const char *rules_text, const struct buf *in, const char *const *hit,
	     const char *const *miss, size_t extra)
{
	struct ruleset *rs = load_clean("40_bound.cf", rules_text);
	struct match_job j = { rs, rules_scratch_new(rs), in, hit, miss };

	if (UT_UNDER_ASAN)
		ck_assert(match_job_run(&j));
	else
		ut_run_within(extra, match_job_run, &j);
	rules_scratch_free(&j.scratch);
	rules_free(&rs);
}

/* A header value of 64 KB or more that the view holds as one text
 * (ALL:raw) is scanned for the rules' literals where it lies instead of
 * being copied among the other values: the copy was 46 MB for two
 * million "To:" lines.  The same rules hit; within the fields the parser
 * keeps and 30 MB. */
START_TEST(test_header_value_apart_bounded)
{
	static const char *const hit[] = { "RAW_FIRST", "RAW_LAST", "RAW_CTL", "SUBJ", NULL };
	static const char *const miss[] = { "RAW_NONE", "RAW_NEG", "SUBJ_NONE", NULL };
	struct buf in;

	many_to_lines(&in);
	match_within("header RAW_FIRST ALL:raw =~ /^Subject: early subject\\nTo: u0000000\\@/\n"
		     "header RAW_LAST ALL:raw =~ /u2097151\\@exam\\.com\\nX-Ctl/\n"
		     "header RAW_CTL ALL:raw =~ /X-Ctl: a\\x01b\\n\\z/\n"
		     "header SUBJ Subject =~ /early subject/\n"
		     "header RAW_NONE ALL:raw =~ /nowhere-at-all/\n"
		     "header RAW_NEG ALL:raw !~ /u0001000\\@exam/\n"
		     "header SUBJ_NONE Subject =~ /u0000000/\n",
		     &in, hit, miss, MIME_MAX_HEADERS * 256u + 30u * 1024 * 1024);
	buf_free(&in);
}
END_TEST

/* check_illegal_chars('ALL') reads ALL:raw where the view holds it, not
 * a copy (46 MB for two million "To:" lines); the same bounds. */
START_TEST(test_illegal_chars_in_place_bounded)
{
	static const char *const hit[] = { "ILLEGAL", "SUBJ", NULL };
	static const char *const miss[] = { "ILLEGAL_RATIO", NULL };
	struct buf in;

	many_to_lines(&in);
	match_within("header ILLEGAL eval:check_illegal_chars('ALL','0.00000001','1')\n"
		     "header ILLEGAL_RATIO eval:check_illegal_chars('ALL','0.5','1')\n"
		     "header SUBJ Subject =~ /early subject/\n",
		     &in, hit, miss, MIME_MAX_HEADERS * 256u + 30u * 1024 * 1024);
	buf_free(&in);
}
END_TEST

START_TEST(test_header_rule_forms)
{
	struct rules_load_result res;
	struct ruleset *rs;
	const struct rule *r;

	write_cf("40_h.cf",
		 "header SUBJ Subject =~ /hello/i\n"
		 "header NEG From:addr !~ /\\@example\\.com$/ [if-unset: none@example.com]\n"
		 "header EXISTS exists:X-Mailer\n"
		 "header BADMOD Subject:bogus =~ /x/\n"
		 "header CURLY To =~ m{^a/b}i\n"
		 "mimeheader MIME_CT Content-Type =~ /text\\/html/\n");
	rs = load(&res);
	ck_assert_ptr_nonnull(rs);
	r = rule(rs, "SUBJ");
	ck_assert_str_eq(r->header, "Subject");
	ck_assert(!r->neg);
	r = rule(rs, "NEG");
	ck_assert_str_eq(r->header, "From:addr");
	ck_assert(r->neg);
	ck_assert_str_eq(r->if_unset, "none@example.com");
	ck_assert_str_eq(r->pattern, "/\\@example\\.com$/");
	ck_assert(rule(rs, "EXISTS")->exists);
	ck_assert_str_eq(rule(rs, "EXISTS")->header, "X-Mailer");
	ck_assert(!rule(rs, "BADMOD")->defined);
	ck_assert_uint_eq(rule(rs, "CURLY")->re.count, 1);
	ck_assert_int_eq(rule(rs, "MIME_CT")->type, RULE_MIMEHEADER);
	ck_assert_int_eq(res.errors, 1);
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

START_TEST(test_replace_tags)
{
	struct rules_load_result res;
	struct ruleset *rs;
	char *pattern;
	uint32_t options;
	char why[128];

	write_cf("25_r.cf",
		 "replace_tag A (?:a|4)\n"
		 "replace_tag B [b8]\n"
		 "replace_tag AB <A><B>\n"
		 "replace_inter SP \\s*\n"
		 "replace_pre P (?:x)\n"
		 "body TAGGED /<A><B>c/i\n"
		 "body NESTED /<AB>/\n"
		 "body INTER /<inter SP><A><B>/\n"
		 "body PRE /<pre P><A>/\n"
		 "body UNLISTED /<A>/\n"
		 "replace_rules TAGGED NESTED INTER PRE\n");
	rs = load(&res);
	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(res.errors, 0);
	ck_assert_int_eq(rules_split_regex(rule(rs, "TAGGED")->pattern, &pattern, &options,
					   why, sizeof(why)), 0);
	ck_assert_str_eq(pattern, "(?:a|4)[b8]c");
	ck_assert(options & PCRE2_CASELESS);
	free(pattern);
	ck_assert_int_eq(rules_split_regex(rule(rs, "NESTED")->pattern, &pattern, &options,
					   why, sizeof(why)), 0);
	ck_assert_str_eq(pattern, "(?:a|4)[b8]");
	free(pattern);
	/* Perl's split gives a leading empty element and one between the
	 * adjacent tags: both become the inter value. */
	ck_assert_int_eq(rules_split_regex(rule(rs, "INTER")->pattern, &pattern, &options,
					   why, sizeof(why)), 0);
	ck_assert_str_eq(pattern, "\\s*(?:a|4)\\s*[b8]");
	free(pattern);
	ck_assert_int_eq(rules_split_regex(rule(rs, "PRE")->pattern, &pattern, &options,
					   why, sizeof(why)), 0);
	ck_assert_str_eq(pattern, "(?:x)(?:a|4)");
	free(pattern);
	ck_assert_str_eq(rule(rs, "UNLISTED")->pattern, "/<A>/");
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

/* Metas evaluated through score_compute with hand-set hit counts. */
/* A tag whose value holds the tag itself grows the pattern with every
 * pass (16 copies, six passes: 16^6 times the value, the fuzzer's find);
 * the rule is refused with an error instead, the others still load. */
START_TEST(test_replace_tags_bounded)
{
	struct rules_load_result res;
	struct ruleset *rs;
	bool saw = false;

	write_cf("30_c.cf",
		 "replace_tag A x<A><A><A><A><A><A><A><A><A><A><A><A><A><A><A><A>\n"
		 "replace_tag B [b8]\n"
		 "body SELF /<A>/\n"
		 "body FINE /<B>ig/\n"
		 "replace_rules SELF FINE\n");
	rs = load(&res);
	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(res.errors, 1);
	for (size_t i = 0; i < res.diag_count; i++)
		if (res.diags[i].error && res.diags[i].line == 3 &&
		    strstr(res.diags[i].message, "SELF") != NULL)
			saw = true;
	ck_assert(saw);
	ck_assert(rules_find(rs, "SELF") < 0 || !rule(rs, "SELF")->defined);
	ck_assert_ptr_nonnull(strstr(rule(rs, "FINE")->pattern, "[b8]ig"));
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

START_TEST(test_meta_semantics)
{
	struct rules_load_result res;
	struct ruleset *rs;
	struct rules_hits hits;
	struct score_result r;
	struct buf tests;

	write_cf("50_m.cf",
		 "body __A /a/\n"
		 "body __B /b/\n"
		 "body __C /c/\n"
		 "tflags __C multiple\n"
		 "meta AND_RULE __A && __B\n"
		 "meta OR_RULE __A || __B\n"
		 "meta NOT_RULE !__B\n"
		 "meta COUNT3 __C >= 3\n"
		 "meta SUM2 (__A + __B + __C) > 3\n"
		 "meta META_OF_META AND_RULE && COUNT3\n"
		 "meta UNDEF_DEP __A && NO_SUCH_RULE\n"
		 "meta GLOB rules_matching(__?) >= 2\n"
		 "meta DIVZERO __A / __B\n"
		 "meta LOOP_A LOOP_B\n"
		 "meta LOOP_B LOOP_A\n"
		 "score AND_RULE 1\nscore OR_RULE 0.5\nscore NOT_RULE 0.25\n"
		 "score COUNT3 2\nscore SUM2 4\nscore META_OF_META 8\nscore UNDEF_DEP 16\n"
		 "score GLOB 0.125\n");
	rs = load(&res);
	ck_assert_ptr_nonnull(rs);
	/* Division by a rule that can be 0 is refused, as is_meta_valid does;
	 * the loop is excluded. */
	ck_assert_int_eq(rule(rs, "DIVZERO")->skip, RULE_SKIP_BROKEN);
	ck_assert_int_eq(rule(rs, "LOOP_A")->skip, RULE_SKIP_META);
	hits_none(rs, &hits);
	hits.hits[rules_find(rs, "__A")] = 1;
	hits.hits[rules_find(rs, "__C")] = 3;
	score_compute(rs, &hits, NULL, NULL, &r);
	buf_init(&tests, 0);
	score_tests(&r, &tests);
	/* __A=1 __B=0 __C=3: OR, NOT, COUNT3, SUM2 (1+0+3>3), GLOB (two
	 * of __A __B __C hit: value 1+3 >= 2).  Not AND, META_OF_META,
	 * UNDEF_DEP. */
	ck_assert_str_eq(tests.data, "COUNT3,GLOB,NOT_RULE,OR_RULE,SUM2");
	ck_assert(r.score == 0.5 + 0.25 + 2 + 4 + 0.125);
	ck_assert(r.is_spam);
	score_result_free(&r);
	buf_free(&tests);
	free(hits.hits);
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

/* A meta evaluated with some values pending (fetched when asked for)
 * gives what it gives with all of them known, however the comparisons
 * are answered from ranges and whichever side of && is read first:
 * random expressions over rules of every kind of bound, random values
 * within those bounds, random pending sets and costs. */
/* What one evaluation with pending values is given, per rule. */
struct meta_trial {
	double *truth, *values, *most, *chance;
	size_t *cost;
	unsigned char *pending;
};

static void
meta_trial_new(struct meta_trial *t, size_t n)
{
	t->truth = calloc(n, sizeof(*t->truth));
	t->values = calloc(n, sizeof(*t->values));
	t->most = calloc(n, sizeof(*t->most));
	t->chance = calloc(n, sizeof(*t->chance));
	t->cost = calloc(n, sizeof(*t->cost));
	t->pending = calloc(n, 1);
	ck_assert(t->truth && t->values && t->most && t->chance && t->cost && t->pending);
}

static void
meta_trial_free(struct meta_trial *t)
{
	free(t->truth);
	free(t->values);
	free(t->most);
	free(t->chance);
	free(t->cost);
	free(t->pending);
}

struct fetch_count {
	struct meta_trial *t;
	unsigned int fetched;
};

static double
most_of(void *ctx, size_t rule)
{
	return ((struct fetch_count *)ctx)->t->most[rule];
}

static size_t
cost_of(void *ctx, size_t rule)
{
	return ((struct fetch_count *)ctx)->t->cost[rule];
}

static double
chance_of(void *ctx, size_t rule)
{
	return ((struct fetch_count *)ctx)->t->chance[rule];
}


static void
fetch_counted(void *ctx, size_t rule)
{
	struct fetch_count *fc = ctx;

	fc->t->pending[rule] = 0;
	fc->t->values[rule] = fc->t->truth[rule];
	fc->fetched++;
}

/* Appends a random expression of about depth levels to out. */
static void
random_meta(struct buf *out, unsigned int depth, unsigned int *seed)
{
	static const char *const ops[] = { "&&", "||", "+", "-", "*", "<", ">", "<=", ">=",
					   "==", "!=", "^", "/ 2 +", "*" };
	unsigned int pick = (unsigned int)rand_r(seed);

	if (depth == 0 || pick % 5 == 0) {
		/* 1e150, and three of them multiplied: inf (then inf - inf
		 * and 0 * inf are NaN) */
		if (pick % 17 == 0)
			ck_assert_int_eq(buf_printf(out, "(1%0150u * 1%0150u * 1%0150u)", 0, 0, 0),
					 0);
		else if (pick % 13 == 0)
			ck_assert_int_eq(buf_printf(out, "1%0150u", 0), 0);
		else if (pick % 7 == 0)
			ck_assert_int_eq(buf_printf(out, "%u", pick / 7 % 4), 0);
		else
			ck_assert_int_eq(buf_printf(out, "__R%u", pick / 5 % 6), 0);
		return;
	}
	if (pick % 11 == 1) {
		ck_assert_int_eq(buf_printf(out, "!("), 0);
		random_meta(out, depth - 1, seed);
		ck_assert_int_eq(buf_printf(out, ")"), 0);
		return;
	}
	ck_assert_int_eq(buf_printf(out, "("), 0);
	random_meta(out, depth - 1, seed);
	ck_assert_int_eq(buf_printf(out, " %s ", ops[pick / 3 % N_ELEMENTS(ops)]), 0);
	random_meta(out, depth - 1, seed);
	ck_assert_int_eq(buf_printf(out, ")"), 0);
}

START_TEST(test_meta_pending_as_known)
{
	enum { RULES = 6, METAS = 300, ROUNDS = 40 };
	/* __R0-__R2 hit once at most, __R3 up to maxhits 3, __R4 up to
	 * RULES_HITS_MAX; __R5 is a meta, unbounded */
	static const double values_of[RULES][4] = {
		{ 0, 1, 0, 1 }, { 0, 1, 1, 0 }, { 1, 0, 0, 0 },
		{ 0, 1, 2, 3 }, { 0, 2, 7, 40 }, { 0, 1, 2.5, 9 },
	};
	struct buf cf;
	struct ruleset *rs;
	unsigned int seed = 20261207, compared = 0, fewer = 0;
	long ri[RULES];

	buf_init(&cf, 0);
	ck_assert_int_eq(buf_printf(&cf, "body __R0 /r0/\nbody __R1 /r1/\nbody __R2 /r2/\n"
				    "body __R3 /r3/\ntflags __R3 multiple maxhits=3\n"
				    "body __R4 /r4/\ntflags __R4 multiple\n"
				    "meta __R5 __R0 + 1\n"), 0);
	for (int m = 0; m < METAS; m++) {
		ck_assert_int_eq(buf_printf(&cf, "meta M%03d ", m), 0);
		random_meta(&cf, 1 + m % 5, &seed);
		ck_assert_int_eq(buf_printf(&cf, "\n"), 0);
	}
	/* a meta that can divide by zero is refused at load (as
	 * is_meta_valid does); the rest must load */
	write_cf("50_p.cf", cf.data);
	{
		struct rules_load_result res;

		rs = load(&res);
		ck_assert_ptr_nonnull(rs);
		rules_load_result_free(&res);
	}
	for (int k = 0; k < RULES; k++) {
		char name[8];

		snprintf(name, sizeof(name), "__R%d", k);
		ri[k] = rules_find(rs, name);
		ck_assert_int_ge(ri[k], 0);
	}
	for (int m = 0; m < METAS; m++) {
		char name[8];
		long mi;

		snprintf(name, sizeof(name), "M%03d", m);
		mi = rules_find(rs, name);
		if (mi < 0 || rs->rules[mi].meta == NULL)
			continue;
		for (int round = 0; round < ROUNDS; round++) {
			size_t n = rules_count(rs);
			struct meta_trial t;
			struct fetch_count fc = { &t, 0 };
			struct meta_fetch fetch = { NULL, fetch_counted, &fc, most_of, cost_of,
						    chance_of };
			unsigned int pending_count = 0;
			double eager, lazy;

			meta_trial_new(&t, n);
			fetch.pending = t.pending;
			for (int k = 0; k < RULES; k++) {
				unsigned int pick = (unsigned int)rand_r(&seed);

				/* any chance at all: it may only order the reads */
				t.chance[ri[k]] = (double)(pick % 101) / 100;

				t.truth[ri[k]] = values_of[k][pick % 4];
				t.most[ri[k]] = rules_value_most(rs, (size_t)ri[k]);
				ck_assert(t.truth[ri[k]] <= t.most[ri[k]]);
				t.cost[ri[k]] = pick / 4 % 3;
				if (pick / 16 % 2) {
					t.pending[ri[k]] = 1;
					pending_count++;
				} else {
					t.values[ri[k]] = t.truth[ri[k]];
				}
			}
			eager = meta_eval(rs->rules[mi].meta, t.truth, NULL);
			lazy = meta_eval(rs->rules[mi].meta, t.values, &fetch);
			ck_assert_msg(eager == lazy || (isnan(eager) && isnan(lazy)),
				      "%s = %s: %g with all known, %g pending",
				      name, rs->rules[mi].meta_src, eager, lazy);
			ck_assert_uint_le(fc.fetched, pending_count);
			compared++;
			fewer += fc.fetched < pending_count;
			meta_trial_free(&t);
		}
	}
	/* most metas loaded; and reads were spared, or this tests little */
	ck_assert_uint_gt(compared, METAS * ROUNDS / 2);
	ck_assert_uint_gt(fewer, compared / 10);
	buf_free(&cf);
	rules_free(&rs);
}
END_TEST

/* How often a lazy rule was true when asked: once in ten before it was
 * asked; then its own record, the old half forgotten past 4096 asks. */
START_TEST(test_hit_chance)
{
	struct ruleset *rs = load_clean("50_h.cf", "body __A /a/\nbody __B /b/\n");
	size_t a = (size_t)rules_find(rs, "__A"), b = (size_t)rules_find(rs, "__B");

	ck_assert(fabs(rules_hit_chance(rs, a) - 0.1) < 1e-9);
	for (int k = 0; k < 90; k++)
		rules_hit_note(rs, a, false);
	ck_assert(fabs(rules_hit_chance(rs, a) - 0.01) < 1e-9);
	ck_assert(fabs(rules_hit_chance(rs, b) - 0.1) < 1e-9);
	/* 10000 asks, all true, then 10000 all false: what came before
	 * fades */
	for (int k = 0; k < 10000; k++)
		rules_hit_note(rs, a, true);
	ck_assert(rules_hit_chance(rs, a) > 0.9);
	for (int k = 0; k < 10000; k++)
		rules_hit_note(rs, a, false);
	ck_assert(rules_hit_chance(rs, a) < 0.1);
	rules_free(&rs);
}
END_TEST

/* The letters of __A, __B... in the order fetched. */
struct fetch_order {
	struct fetch_count fc;	/* first: fetch_counted reads it */
	const struct ruleset *rs;
	char order[8];
};

static void
fetch_ordered(void *ctx, size_t rule)
{
	struct fetch_order *fo = ctx;
	size_t len = strlen(fo->order);

	fetch_counted(&fo->fc, rule);
	ck_assert_uint_lt(len + 1, sizeof(fo->order));
	fo->order[len] = rules_name(fo->rs, rule)[2];
}

/* 1e150 (a meta's longest number is 159 digits): three of them
 * multiplied are inf */
#define ZEROS50 "00000000000000000000000000000000000000000000000000"
#define BIG "1" ZEROS50 ZEROS50 ZEROS50
#define INF "(" BIG " * " BIG " * " BIG ")"

/* What the ranges and the costs spare, case by case. */
START_TEST(test_meta_pending_spared)
{
	struct ruleset *rs = load_clean("50_s.cf",
		"body __A /a/\nbody __B /b/\nbody __C /c/\n"
		"body __M /m/\ntflags __M multiple maxhits=2\n"
		"meta SUM (__A + __B + __C) > 1\n"
		"meta FEW __M > 2\n"
		"meta BOTH __A && __B\n"
		"meta DIV (__A / 2) && __B\n"
		"meta NOT_B __A && !__B\n"
		"meta NOT_A !__A && __B\n"
		"meta CHAIN __A && __B && __C\n"
		/* 0 * inf is NaN, and NaN <= inf is false */
		"meta NAN_LE (__A * " INF ") <= " INF "\n");
	static const struct {
		const char *meta;
		double a, b, c, m;		/* the values; -1: pending */
		size_t cost_a, cost_b;
		double chance_b;		/* 0: meta.c's default */
		double want;
		const char *fetched;		/* in order */
	} cases[] = {
		/* two known 0: at most 1, never over 1 */
		{ "SUM", 0, 0, -1, 0, 0, 0, 0, 0, "" },
		/* two known 1: over 1 whatever __C is */
		{ "SUM", 1, 1, -1, 0, 0, 0, 0, 1, "" },
		/* one known 1: __C decides */
		{ "SUM", 1, 0, -1, 0, 0, 0, 0, 0, "C" },
		/* all pending: the cheapest first, until sure (__C and __B at
		 * 0 leave __A at most 1) */
		{ "SUM", -1, -1, -1, 0, 5, 1, 0, 0, "CB" },
		/* maxhits=2 can not be over 2 */
		{ "FEW", 0, 0, 0, -1, 0, 0, 0, 0, "" },
		/* && reads the cheaper side first; a false one spares the other */
		{ "BOTH", -1, -1, 0, 0, 9, 1, 0, 0, "B" },
		{ "BOTH", -1, -1, 0, 0, 1, 9, 0, 0, "A" },
		/* equal costs: Perl's order */
		{ "BOTH", -1, -1, 0, 0, 3, 3, 0, 0, "A" },
		/* ...unless the cheap side is most often true, and spares
		 * little: seen true 95 times in 100, or a negated rule */
		{ "BOTH", -1, -1, 0, 0, 9, 1, 0.95, 0, "A" },
		{ "NOT_B", -1, -1, 0, 0, 9, 2, 0, 0, "A" },
		{ "NOT_A", -1, -1, 0, 0, 2, 9, 0, 0, "B" },
		/* __A known 0: 0 * inf, NaN, is not <= inf; nothing to fetch */
		{ "NAN_LE", 0, -1, -1, 0, 0, 0, 0, 0, "" },
		/* a chain, read by cost for each time false: __C (cost 1)
		 * first, and it is 0 */
		{ "CHAIN", -1, -1, -1, 0, 9, 5, 0, 0, "C" },
		{ "CHAIN", -1, -1, 1, 0, 9, 5, 0, 0, "B" },
		/* a division keeps Perl's order (it dies on the one it reaches) */
		{ "DIV", -1, -1, 0, 0, 9, 1, 0, 0, "A" },
	};
	/* a pending value is this: __M 2, the others 0 */
	static const double truth_of[] = { 0, 0, 0, 2 };

	for (size_t c = 0; c < N_ELEMENTS(cases); c++) {
		size_t n = rules_count(rs);
		const char *names[] = { "__A", "__B", "__C", "__M" };
		const double given[] = { cases[c].a, cases[c].b, cases[c].c, cases[c].m };
		struct meta_trial t;
		struct fetch_order fo = { { &t, 0 }, rs, "" };
		struct meta_fetch fetch = { NULL, fetch_ordered, &fo, most_of, cost_of,
					    chance_of };

		meta_trial_new(&t, n);
		fetch.pending = t.pending;
		for (size_t k = 0; k < N_ELEMENTS(names); k++) {
			long i = rules_find(rs, names[k]);

			t.most[i] = rules_value_most(rs, (size_t)i);
			t.truth[i] = truth_of[k];
			if (given[k] < 0)
				t.pending[i] = 1;
			else
				t.truth[i] = t.values[i] = given[k];
		}
		t.cost[rules_find(rs, "__A")] = cases[c].cost_a;
		t.cost[rules_find(rs, "__B")] = cases[c].cost_b;
		for (size_t k = 0; k < n; k++)
			t.chance[k] = 0.1;
		if (cases[c].chance_b > 0)
			t.chance[rules_find(rs, "__B")] = cases[c].chance_b;
		ck_assert_msg(meta_eval(rule(rs, cases[c].meta)->meta, t.values, &fetch) ==
			      cases[c].want, "case %zu", c);
		ck_assert_msg(strcmp(fo.order, cases[c].fetched) == 0, "case %zu: fetched %s, not %s",
			      c, fo.order, cases[c].fetched);
		meta_trial_free(&t);
	}
	rules_free(&rs);
}
END_TEST

/* rules_matching() sums the rules it names in rule order, whatever order
 * the name map's slots (under a hash keyed per process) hold them in. */
START_TEST(test_meta_rules_matching_order)
{
	struct buf cf;
	struct ruleset *rs;
	const size_t *deps;
	size_t n;

	buf_init(&cf, 0);
	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(buf_printf(&cf, "body __G%02d /g%02d/\n", i, i), 0);
	ck_assert_int_eq(buf_printf(&cf, "meta ALL_G rules_matching(__G*) > 0\n"), 0);
	rs = load_clean("50_g.cf", cf.data);
	n = meta_deps(rule(rs, "ALL_G")->meta, &deps);
	ck_assert_uint_eq(n, 40);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq((long)deps[i], rules_find(rs, "__G00") + (long)i);
	buf_free(&cf);
	rules_free(&rs);
}
END_TEST

/* Sub-rules only metas read are matched when a meta asks for them: a meta
 * whose first operand is false leaves its second unmatched, and every
 * total is what matching everything first gives. */
static const char lazy_cf[] =
	"body __CHEAP /cheap/\n"
	"body __COSTLY /costly/\n"
	/* no required literal: on every line, behind its byte-set gate */
	"body __NOLIT /[0-9]{3}x/\n"
	"tflags __NOLIT multiple\n"
	"rawbody __RAW /rawthing/\n"
	"uri __URI /example\\.org/\n"
	"full __FULL /Subject: lazy/\n"
	"meta GATED __CHEAP && __COSTLY\n"
	"meta COUNTS __NOLIT > 1\n"
	"meta __INNER __RAW || __URI\n"
	"meta OUTER __INNER && __FULL\n"
	"body NOT_LAZY /costly/\n"
	/* a known false right operand spares the left one, unless a
	 * division is in either (Perl dies on the one it reaches) */
	"header __HDR_NO exists:X-Not-There\n"
	"body __PRICEY /pricey/\n"
	"body __PRICEY2 /pricey2/\n"
	"meta GUARDED __PRICEY && __HDR_NO\n"
	"meta DIVIDED (__PRICEY2 / 2) && __HDR_NO\n"
	/* both without literals: the larger pattern costs more, so its
	 * false smaller partner is read first and spares it */
	"body __WORDY /(?:[a-z]{3}[0-9]|[0-9]{2}[a-z]){1,80}/\n"
	"body __TERSE /[0-9]{3}y/\n"
	"meta WEIGHED __WORDY && __TERSE\n"
	/* named in no element: known to be 0 once the views are scanned,
	 * so the sum can not pass 1 and __NOLIT2 is never read */
	"body __ABSENT /absentword/\n"
	"body __NOLIT2 /[0-9]{2}x/\n"
	"meta SUMMED (__NOLIT2 + __ABSENT) > 1\n"
	/* settled without a meta asking */
	"body __ABSENT2 /otherabsentword/\n"
	"meta UNASKED __HDR_NO && __ABSENT2\n"
	"score GATED 1\nscore COUNTS 2\nscore OUTER 4\nscore NOT_LAZY 0.5\n"
	"score GUARDED 8\nscore DIVIDED 16\nscore WEIGHED 32\nscore SUMMED 64\n"
	"score UNASKED 128\n";

static void
lazy_total(const struct ruleset *rs, const char *message, bool resolve_first,
	   struct rules_hits *hits, struct msgview **mv_r, struct buf *tests)
{
	struct rules_scratch *scratch = rules_scratch_new(rs);
	struct score_result r;

	*mv_r = msgview_new(rules_settings(rs), message, strlen(message), NULL);
	rules_match(rs, scratch, *mv_r, 0, hits);
	/* the hits outlive the scratch, as they may in the daemon */
	rules_scratch_free(&scratch);
	if (resolve_first)
		rules_resolve_all(rs, hits);
	score_compute(rs, hits, *mv_r, NULL, &r);
	buf_reset(tests);
	score_tests(&r, tests);
	score_result_free(&r);
}

START_TEST(test_lazy_subrules)
{
	static const char *const messages[] = {
		"Subject: lazy\n\ncostly 123x 456x pricey2\nhttp://example.org/ rawthing\n",
		"Subject: other\n\ncheap and costly 123x\n",
	};
	static const char *const want[] = { "COUNTS,NOT_LAZY,OUTER", "GATED,NOT_LAZY" };
	struct ruleset *rs = load_clean("70_lazy.cf", lazy_cf);
	struct buf lazy, eager;

	ck_assert(rule(rs, "__COSTLY")->lazy && rule(rs, "__NOLIT")->lazy);
	ck_assert(!rule(rs, "NOT_LAZY")->lazy && !rule(rs, "__INNER")->lazy);
	ck_assert(rule(rs, "__WORDY")->always_slot1 != 0 && rule(rs, "__TERSE")->always_slot1 != 0);
	ck_assert(rule(rs, "__NOLIT2")->always_slot1 != 0 && rule(rs, "__ABSENT")->always_slot1 == 0);
	ck_assert_uint_gt(rule(rs, "__WORDY")->match_weight, rule(rs, "__TERSE")->match_weight);
	buf_init(&lazy, 0);
	buf_init(&eager, 0);
	for (size_t m = 0; m < N_ELEMENTS(messages); m++) {
		struct rules_hits hits, all;
		struct msgview *mv, *mv_all;

		lazy_total(rs, messages[m], false, &hits, &mv, &lazy);
		lazy_total(rs, messages[m], true, &all, &mv_all, &eager);
		ck_assert_str_eq(lazy.data, want[m]);
		ck_assert_str_eq(eager.data, want[m]);
		if (m == 0) {
			/* __CHEAP missed: nobody asked for __COSTLY; __RAW was
			 * asked for (and missed) before __URI */
			ck_assert(rules_hit_pending(&hits, rules_find(rs, "__COSTLY")));
			ck_assert(!rules_hit_pending(&hits, rules_find(rs, "__RAW")));
			ck_assert_uint_eq(hits.hits[rules_find(rs, "__NOLIT")], 2);
			ck_assert(rules_hit_pending(&hits, rules_find(rs, "__PRICEY")));
			ck_assert(!rules_hit_pending(&hits, rules_find(rs, "__PRICEY2")));
			ck_assert(rules_hit_pending(&hits, rules_find(rs, "__WORDY")));
			ck_assert(!rules_hit_pending(&hits, rules_find(rs, "__TERSE")));
			ck_assert(!rules_hit_pending(&hits, rules_find(rs, "__ABSENT")));
			ck_assert(!rules_hit_pending(&hits, rules_find(rs, "__ABSENT2")));
			ck_assert(rules_hit_pending(&hits, rules_find(rs, "__NOLIT2")));
		} else {
			ck_assert(!rules_hit_pending(&hits, rules_find(rs, "__COSTLY")));
		}
		/* asked for later, every sub-rule counts as if matched first */
		rules_resolve_all(rs, &hits);
		for (size_t i = 0; i < rules_count(rs); i++)
			ck_assert_msg(hits.hits[i] == all.hits[i], "%s: %u, matched first %u",
				      rules_name(rs, i), hits.hits[i], all.hits[i]);
		rules_hits_free(&hits);
		rules_hits_free(&all);
		msgview_free(&mv);
		msgview_free(&mv_all);
	}
	buf_free(&lazy);
	buf_free(&eager);
	rules_free(&rs);
}
END_TEST

START_TEST(test_multiple_scores_each_hit)
{
	struct rules_load_result res;
	struct ruleset *rs;
	struct rules_hits hits;
	struct score_result r;
	struct buf tests;
	char shown[32];

	write_cf("60_x.cf",
		 "body MULTI /x/\n"
		 "tflags MULTI multiple maxhits=3\n"
		 "score MULTI 1.5\n"
		 "body ZERO_HIT /z/\n"
		 "score ZERO_HIT 0\n"
		 "meta NEEDS_ZERO ZERO_HIT\n"
		 "score NEEDS_ZERO 3\n");
	rs = load(&res);
	hits_none(rs, &hits);
	hits.hits[rules_find(rs, "MULTI")] = 3;
	/* A rule scored 0 does not run; even a stray count must not reach
	 * metas (got_hit returns early). */
	hits.hits[rules_find(rs, "ZERO_HIT")] = 1;
	score_compute(rs, &hits, NULL, NULL, &r);
	buf_init(&tests, 0);
	score_tests(&r, &tests);
	ck_assert_str_eq(tests.data, "MULTI,MULTI,MULTI");
	ck_assert(r.score == 4.5);
	score_format(&r, shown, sizeof(shown));
	ck_assert_str_eq(shown, "4.5");
	score_result_free(&r);
	buf_free(&tests);
	free(hits.hits);
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

/* A ham just below the threshold prints 4.9, never 5.0 (bug 6419). */
START_TEST(test_score_format)
{
	struct score_result r;
	char out[32];

	memset(&r, 0, sizeof(r));
	r.required = 5.0;
	r.score = 4.96;
	r.is_spam = false;
	score_format(&r, out, sizeof(out));
	ck_assert_str_eq(out, "4.9");
	r.score = 5.0;
	r.is_spam = true;
	score_format(&r, out, sizeof(out));
	ck_assert_str_eq(out, "5.0");
	r.score = -0.3;
	r.is_spam = false;
	score_format(&r, out, sizeof(out));
	ck_assert_str_eq(out, "-0.3");
	r.score = 12.34;
	r.is_spam = true;
	score_format(&r, out, sizeof(out));
	ck_assert_str_eq(out, "12.3");
}
END_TEST

START_TEST(test_headers_rendering)
{
	struct rules_load_result res;
	struct ruleset *rs;
	struct rules_hits hits;
	struct score_result r;
	struct buf out;
	char name[64];
	char *status, *level;

	/* Enough long rule names to force folding at 79 columns. */
	for (int i = 0; i < 8; i++) {
		char line[128];

		snprintf(name, sizeof(name), "%d.cf", 70 + i);
		snprintf(line, sizeof(line), "body RULE_WITH_A_LONG_NAME_%d /r%d/\nscore "
			 "RULE_WITH_A_LONG_NAME_%d 1.1\n", i, i, i);
		write_cf(name, line);
	}
	rs = load(&res);
	hits_none(rs, &hits);
	for (size_t i = 0; i < hits.count; i++)
		hits.hits[i] = 1;
	score_compute(rs, &hits, NULL, NULL, &r);
	buf_init(&out, 0);
	spamhdr_render(&r, "mx.example", false, &out);
	ck_assert_ptr_nonnull(strstr(out.data, "X-Spam-Checker-Version: lmtpd "));
	ck_assert_ptr_nonnull(strstr(out.data, " on mx.example\n"));
	ck_assert_ptr_nonnull(strstr(out.data, "X-Spam-Flag: YES\n"));
	level = strstr(out.data, "X-Spam-Level: ");
	ck_assert_ptr_nonnull(level);
	ck_assert(strncmp(level, "X-Spam-Level: ********\n", 23) == 0);
	ck_assert_ptr_nonnull(strstr(out.data, "X-Spam-Score: 8\n"));
	status = strstr(out.data, "X-Spam-Status: Yes, score=8.8 required=5.0 tests=");
	ck_assert_ptr_nonnull(status);
	/* Folded with a TAB, no line longer than 79 columns. */
	for (char *p = status, *nl; *p != '\0' && strncmp(p, "X-Spam-Score", 12) != 0;
	     p = nl + 1) {
		nl = strchr(p, '\n');
		ck_assert_ptr_nonnull(nl);
		ck_assert_int_le(nl - p + (*p == '\t' ? 7 : 0), 79);
		if (p != status)
			ck_assert_int_eq(*p, '\t');
	}
	ck_assert_ptr_nonnull(strstr(status, "autolearn=no"));
	score_result_free(&r);
	buf_free(&out);
	free(hits.hits);
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

/* X-Spam-Report and the -r report: SpamAssassin's _REPORT_ (the header
 * report_safe 0 adds) and the report template's _SUMMARY_ table, byte for
 * byte.  The expected text is what SpamAssassin 4.0.1 wrote for these
 * rules and this message ("report_safe 0", "add_header all Report
 * _REPORT_"), its entries put in name order (SpamAssassin's order is its
 * Perl hash order, different from run to run): the areas (BODY:, RAW:,
 * URI:, FULL:, none for header, meta and eval header rules), scores of
 * 10 and more without decimals, one line per hit of a multiple rule,
 * descriptions wrapped at 75 columns with Util::wrap's quirks (a line of
 * exactly 75 columns puts the next space on the next line; a word wider
 * than the line stands alone), the freemail address FreeMail logs (tflags
 * nolog: *REDACTED*), and a non-ASCII line as an RFC 2047 word. */
static const char report_cf[] =
	"required_score 5\n"
	"util_rb_tld com org net\n"
	"freemail_domains gmail.com\n"
	"body R_BODY /buy now/\n"
	"describe R_BODY Says buy now, a phrase that marketing people like to put in "
	"every subject line they write\n"
	"score R_BODY 1.5\n"
	"rawbody R_RAW /<b>/\n"
	"describe R_RAW Bold\n"
	"score R_RAW 0.2\n"
	"uri R_URI /example\\.com/\n"
	"describe R_URI Links to example dot com\n"
	"score R_URI -0.5\n"
	"full R_FULL /^Subject:/m\n"
	"score R_FULL 0.01\n"
	"header R_HDR Subject =~ /buy/i\n"
	"describe R_HDR Subject mentions buying\n"
	"score R_HDR 12\n"
	"body R_MULTI /now/\n"
	"tflags R_MULTI multiple\n"
	"describe R_MULTI Says now\n"
	"score R_MULTI 0.3\n"
	"meta R_META R_BODY && R_HDR\n"
	"describe R_META Body and subject agree\n"
	"score R_META -10.5\n"
	"header R_FM_FROM eval:check_freemail_from()\n"
	"describe R_FM_FROM Sender is freemail\n"
	"score R_FM_FROM 0.1\n"
	"header R_FM_REPLYTO eval:check_freemail_replyto('replyto')\n"
	"describe R_FM_REPLYTO From and Reply-To are different freemail addresses (a long "
	"description to wrap)\n"
	"score R_FM_REPLYTO 0.2\n"
	"header R_FM_NOLOG eval:check_freemail_from()\n"
	"tflags R_FM_NOLOG nolog\n"
	"describe R_FM_NOLOG Freemail, not logged\n"
	"score R_FM_NOLOG 0.1\n"
	"header R_EXACTLY75 Subject =~ /buy/i\n"
	"describe R_EXACTLY75 abcdefghij abcdefghij abcdefghij abcdefghij abcdefghij12 next "
	"words\n"
	"score R_EXACTLY75 0.1\n"
	"header R_UTF8 Subject =~ /buy/i\n"
	"describe R_UTF8 Subject says \"buy\" \xe2\x80\x94 in a caf\xc3\xa9, na\xc3\xafvely\n"
	"score R_UTF8 0.1\n"
	"header R_LONGWORD Subject =~ /buy/i\n"
	"describe R_LONGWORD See http://www.example.com/a/very/long/path/that/does/not/fit/"
	"on/one/line/at/all/x.html please\n"
	"score R_LONGWORD 0.1\n";

static const char report_msg[] =
	"From: Some One <a.rather.long.local.part.for.testing@gmail.com>\n"
	"Reply-To: another.quite.long.local.part.to.wrap@gmail.com\n"
	"To: b@example.org\n"
	"Subject: buy now\n"
	"Message-ID: <r1@example.org>\n"
	"Date: Thu, 01 Jan 2026 00:00:00 +0000\n"
	"Content-Type: text/html\n"
	"\n"
	"<html><body><b>buy now</b> now now <a href=\"http://www.example.com/x\">link</a>"
	"</body></html>\n";

static const char report_header[] =
	"X-Spam-Report: \n"
	"\t*  1.5 R_BODY BODY: Says buy now, a phrase that marketing people like to\n"
	"\t*      put in every subject line they write\n"
	"\t*  0.1 R_EXACTLY75 abcdefghij abcdefghij abcdefghij abcdefghij abcdefghij12\n"
	"\t*       next words\n"
	"\t*  0.1 R_FM_FROM Sender is freemail\n"
	"\t*      [a.rather.long.local.part.for.testing(at)gmail.com]\n"
	"\t*  0.1 R_FM_NOLOG Freemail, not logged\n"
	"\t*      [*REDACTED*]\n"
	"\t*  0.2 R_FM_REPLYTO From and Reply-To are different freemail addresses (a\n"
	"\t*      long description to wrap)\n"
	"\t*      [a.rather.long.local.part.for.testing(at)gmail.com -> "
	"another.quite.long.local.part.to.wrap(at)gmail.com]\n"
	"\t*  0.0 R_FULL FULL: No description available.\n"
	"\t*   12 R_HDR Subject mentions buying\n"
	"\t*  0.1 R_LONGWORD See\n"
	"\t*      http://www.example.com/a/very/long/path/that/does/not/fit/on/one/line/at/"
	"all/x.html\n"
	"\t*       please\n"
	"\t*  -10 R_META Body and subject agree\n"
	"\t*  0.3 R_MULTI BODY: Says now\n"
	"\t*  0.3 R_MULTI BODY: Says now\n"
	"\t*  0.3 R_MULTI BODY: Says now\n"
	"\t*  0.3 R_MULTI BODY: Says now\n"
	"\t*  0.2 R_RAW RAW: Bold\n"
	"\t* -0.5 R_URI URI: Links to example dot com\n"
	"\t*  0.1 R_UTF8 Subject says \"buy\" =?UTF-8?B?4oCUIGluIGEgY2Fmw6ksIG5hw692ZWx5?=\n";

static const char report_summary[] =
	"Content analysis details:   (4.6 points, 5.0 required)\n"
	"\n"
	" pts rule name              description\n"
	"---- ---------------------- --------------------------------------------------\n"
	" 1.5 R_BODY                 BODY: Says buy now, a phrase that marketing people like to put\n"
	"                             in every subject line they write\n"
	" 0.1 R_EXACTLY75            abcdefghij abcdefghij abcdefghij abcdefghij abcdefghij12\n"
	"                            next words\n"
	" 0.1 R_FM_FROM              Sender is freemail\n"
	"                           [a.rather.long.local.part.for.testing(at)gmail.com]\n"
	" 0.1 R_FM_NOLOG             Freemail, not logged\n"
	"                            [*REDACTED*]\n"
	" 0.2 R_FM_REPLYTO           From and Reply-To are different freemail addresses (a\n"
	"                            long description to wrap)\n"
	"[a.rather.long.local.part.for.testing(at)gmail.com -> "
	"another.quite.long.local.part.to.wrap(at)gmail.com]\n"
	" 0.0 R_FULL                 FULL: No description available.\n"
	"  12 R_HDR                  Subject mentions buying\n"
	" 0.1 R_LONGWORD             See\n"
	"                            http://www.example.com/a/very/long/path/that/does/not/fit/"
	"on/one/line/at/all/x.html\n"
	"                             please\n"
	" -10 R_META                 Body and subject agree\n"
	" 0.3 R_MULTI                BODY: Says now\n"
	" 0.3 R_MULTI                BODY: Says now\n"
	" 0.3 R_MULTI                BODY: Says now\n"
	" 0.3 R_MULTI                BODY: Says now\n"
	" 0.2 R_RAW                  RAW: Bold\n"
	"-0.5 R_URI                  URI: Links to example dot com\n"
	" 0.1 R_UTF8                 Subject says \"buy\" \xe2\x80\x94 in a caf\xc3\xa9, "
	"na\xc3\xafvely\n"
	"\n";

static void
report_score(const char *cf, const char *message, double bayes_prob, struct ruleset **rs_r,
	     struct score_result *r)
{
	struct msgview *mv;
	struct rules_hits hits;

	*rs_r = load_clean("50_report.cf", cf);
	mv = match_message(*rs_r, message, NULL, 0, &hits);
	score_compute_bayes(*rs_r, &hits, mv, NULL, bayes_prob >= 0, bayes_prob, r);
	rules_hits_free(&hits);
	msgview_free(&mv);
}

/* Score set 2 whenever Bayes can answer, as SpamAssassin switches on
 * is_scan_available: also for a message that has no token strong
 * enough (no BAYES_* rule hits).  Set 0 only while Bayes is off or not
 * trained enough. */
START_TEST(test_score_set_follows_bayes_available)
{
	static const char cf[] =
		"body SET_WORD /setword/\n"
		"score SET_WORD 1.0 2.0 3.0 4.0\n"
		"body BAYES_50 eval:check_bayes('0.40', '0.60')\n"
		"score BAYES_50 0 0 0.8 0.8\n";
	static const char msg[] = "Subject: x\n\nsetword\n";
	struct ruleset *rs = load_clean("50_sets.cf", cf);
	struct rules_hits hits;
	struct msgview *mv = match_message(rs, msg, NULL, 0, &hits);
	struct score_result r;

	score_compute_bayes(rs, &hits, mv, NULL, false, -1, &r);
	ck_assert_double_eq_tol(r.score, 1.0, 1e-9);
	score_result_free(&r);
	score_compute_bayes(rs, &hits, mv, NULL, true, -1, &r);
	ck_assert_double_eq_tol(r.score, 3.0, 1e-9);
	score_result_free(&r);
	score_compute_bayes(rs, &hits, mv, NULL, true, 0.5, &r);
	ck_assert_double_eq_tol(r.score, 3.8, 1e-9);
	score_result_free(&r);
	rules_hits_free(&hits);
	msgview_free(&mv);
	rules_free(&rs);
}
END_TEST

START_TEST(test_report_format)
{
	struct ruleset *rs;
	struct score_result r;
	struct buf out;
	const char *rep;

	report_score(report_cf, report_msg, -1, &rs, &r);
	buf_init(&out, 0);
	spamhdr_render(&r, "mx.example", true, &out);
	rep = strstr(out.data, "X-Spam-Report: ");
	ck_assert_ptr_nonnull(rep);
	/* the last field of the block */
	ck_assert_str_eq(rep, report_header);
	buf_reset(&out);
	score_report(&r, &out);
	ck_assert_str_eq(out.data, report_summary);
	/* Without report, no field. */
	buf_reset(&out);
	spamhdr_render(&r, "mx.example", false, &out);
	ck_assert_ptr_null(strstr(out.data, "X-Spam-Report"));
	buf_free(&out);
	score_result_free(&r);
	rules_free(&rs);
}
END_TEST

/* report_wrap_width from the rule files (here 40), as SpamAssassin 4.0.1
 * wrote it for report_cf and report_msg: narrower lines, and a non-ASCII
 * line encoded between its printable head and tail. */
static const char report_header_40[] =
	"X-Spam-Report: \n"
	"\t*  1.5 R_BODY BODY: Says buy now, a\n"
	"\t*      phrase that marketing people like\n"
	"\t*       to put in every subject line\n"
	"\t*      they write\n"
	"\t*  0.1 R_EXACTLY75 abcdefghij abcdefghij\n"
	"\t*       abcdefghij abcdefghij\n"
	"\t*      abcdefghij12 next words\n"
	"\t*  0.1 R_FM_FROM Sender is freemail\n"
	"\t*      [a.rather.long.local.part.for.testing(at)gmail.com]\n"
	"\t*  0.1 R_FM_NOLOG Freemail, not logged\n"
	"\t*      [*REDACTED*]\n"
	"\t*  0.2 R_FM_REPLYTO From and Reply-To\n"
	"\t*      are different freemail addresses\n"
	"\t*      (a long description to wrap)\n"
	"\t*      [a.rather.long.local.part.for.testing(at)gmail.com -> "
	"another.quite.long.local.part.to.wrap(at)gmail.com]\n"
	"\t*  0.0 R_FULL FULL: No description\n"
	"\t*      available.\n"
	"\t*   12 R_HDR Subject mentions buying\n"
	"\t*  0.1 R_LONGWORD See\n"
	"\t*      http://www.example.com/a/very/long/path/that/does/not/fit/on/one/line/at/"
	"all/x.html\n"
	"\t*       please\n"
	"\t*  -10 R_META Body and subject agree\n"
	"\t*  0.3 R_MULTI BODY: Says now\n"
	"\t*  0.3 R_MULTI BODY: Says now\n"
	"\t*  0.3 R_MULTI BODY: Says now\n"
	"\t*  0.3 R_MULTI BODY: Says now\n"
	"\t*  0.2 R_RAW RAW: Bold\n"
	"\t* -0.5 R_URI URI: Links to example dot\n"
	"\t*      com\n"
	"\t*  0.1 R_UTF8 Subject says \"buy\" =?UTF-8?B?4oCU?= in\n"
	"\t*      a =?UTF-8?B?Y2Fmw6ksIG5hw692ZWx5?=\n";

START_TEST(test_report_wrap_width)
{
	struct ruleset *rs;
	struct score_result r;
	struct buf cf, out;
	struct rules_load_result res;

	buf_init(&cf, 0);
	buf_put_str(&cf, report_cf);
	buf_put_str(&cf, "report_wrap_width 40\n");
	report_score(cf.data, report_msg, -1, &rs, &r);
	buf_init(&out, 0);
	spamhdr_render(&r, "mx.example", true, &out);
	ck_assert_str_eq(strstr(out.data, "X-Spam-Report: "), report_header_40);
	buf_free(&out);
	score_result_free(&r);
	rules_free(&rs);
	buf_free(&cf);
	/* A negative width (Util::wrap would loop for ever) is refused. */
	write_cf("50_report.cf", "report_wrap_width -3\n");
	rs = load(&res);
	ck_assert_int_eq(res.errors, 1);
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

/* What nothing hit: an empty field, as SpamAssassin writes "add_header all
 * Report _REPORT_" then; and the Bayes rules' test_log line (Bayes.pm:
 * "score: %3.4f" of the probability). */
START_TEST(test_report_empty_and_bayes)
{
	static const char cf[] =
		"body NOTHING /no such text/\n"
		"body BAYES_99 eval:check_bayes('0.99', '1.00')\n"
		"tflags BAYES_99 learn\n"
		"describe BAYES_99 Bayes spam probability is 99 to 100%\n"
		"score BAYES_99 0 0 3.5 3.5\n";
	struct ruleset *rs;
	struct score_result r;
	struct buf out;

	report_score(cf, "Subject: hi\n\nhello\n", -1, &rs, &r);
	buf_init(&out, 0);
	spamhdr_render(&r, "mx.example", true, &out);
	ck_assert_ptr_nonnull(strstr(out.data, "\nX-Spam-Report: \n"));
	ck_assert_str_eq(strstr(out.data, "X-Spam-Report: "), "X-Spam-Report: \n");
	score_result_free(&r);
	rules_free(&rs);

	report_score(cf, "Subject: hi\n\nhello\n", 0.99954, &rs, &r);
	buf_reset(&out);
	spamhdr_render(&r, "mx.example", true, &out);
	ck_assert_str_eq(strstr(out.data, "X-Spam-Report: "),
			 "X-Spam-Report: \n"
			 "\t*  3.5 BAYES_99 BODY: Bayes spam probability is 99 to 100%\n"
			 "\t*      [score: 0.9995]\n");
	buf_free(&out);
	score_result_free(&r);
	rules_free(&rs);
}
END_TEST

/* A user's "score RULE n" for a rule the site scored 0, as spamd takes
 * it (checked with spamd 4.0.1, user_prefs through --virtual-config-dir):
 * header, body, rawbody, full, uri and meta rules then run for that user,
 * eval and mimeheader rules do not; a meta still needs its dependencies to
 * run, so scoring a meta over rules the site scored 0 is not enough.  The
 * rules stay out of rules_match: only rules_match_site_zero, for prefs
 * that score them, matches them. */
static const char site_zero_cf[] =
	"util_rb_tld com\n"
	"freemail_domains gmail.com\n"
	"body Z_BODY /zeroword/\n"
	"score Z_BODY 0\n"
	"header Z_HDR Subject =~ /zeroword/\n"
	"score Z_HDR 0\n"
	"header Z_EXISTS exists:X-Zero\n"
	"score Z_EXISTS 0\n"
	"uri Z_URI /zero\\.example\\.com/\n"
	"score Z_URI 0\n"
	"rawbody Z_RAW /zeroword/\n"
	"score Z_RAW 0\n"
	"full Z_FULL /zeroword/\n"
	"score Z_FULL 0\n"
	"body Z_MULTI /zeroword/\n"
	"tflags Z_MULTI multiple\n"
	"score Z_MULTI 0\n"
	"body __Z_SUB /zeroword/\n"
	"meta Z_META_SUB __Z_SUB\n"
	"score Z_META_SUB 0\n"
	"meta Z_META_DEPS Z_BODY && Z_HDR\n"
	"score Z_META_DEPS 0\n"
	"mimeheader Z_MIME Content-Type =~ /text/\n"
	"score Z_MIME 0\n"
	"header Z_EVAL eval:check_freemail_from()\n"
	"score Z_EVAL 0\n"
	"body ALWAYS /zeroword/\n"
	"score ALWAYS 0.5\n";

static const char site_zero_msg[] =
	"From: someone@gmail.com\n"
	"Subject: zeroword here\n"
	"X-Zero: 1\n"
	"Content-Type: text/plain\n"
	"\n"
	"zeroword and zeroword again http://zero.example.com/x\n";

static void
user_warn(const char *msg)
{
	buf_putf(&user_warnings, "%s\n", msg);
}

/* text as a user's prefs file, loaded; its warnings (only) in
 * user_warnings. */
static struct score_prefs *
user_prefs_load(const struct ruleset *rs, const char *text)
{
	char path[512];

	write_file("user_prefs", text, strlen(text), path, sizeof(path));
	buf_reset(&user_warnings);
	return score_prefs_load(rs, path, user_warn);
}

/* One recipient: their prefs (NULL: none) loaded, the site-zero rules
 * they score matched, the total's tests and score. */
static void
site_zero_tests(struct ruleset *rs, const char *prefs_text, struct rules_hits *hits,
		struct msgview *mv, struct buf *tests, double *score_r)
{
	struct score_prefs *prefs = NULL;
	struct score_result r;
	const size_t *zero;
	size_t n;

	if (prefs_text != NULL) {
		prefs = user_prefs_load(rs, prefs_text);
		ck_assert_ptr_nonnull(prefs);
	}
	zero = score_prefs_site_zero(prefs, &n);
	if (n > 0) {
		struct rules_scratch *scratch = rules_scratch_new(rs);

		rules_match_site_zero(rs, scratch, mv, zero, n, hits);
		rules_scratch_free(&scratch);
	}
	score_compute(rs, hits, mv, prefs, &r);
	buf_reset(tests);
	score_tests(&r, tests);
	*score_r = r.score;
	score_result_free(&r);
	score_prefs_free(&prefs);
}

START_TEST(test_user_scores_site_zero_rule)
{
	static const char *const enabled[] = { "Z_BODY", "Z_HDR", "Z_EXISTS", "Z_URI",
					       "Z_RAW", "Z_FULL", "Z_MULTI", "Z_META_SUB",
					       "Z_META_DEPS" };
	struct ruleset *rs;
	struct msgview *mv;
	struct rules_hits hits;
	struct buf tests;
	double score;

	rs = load_clean("50_zero.cf", site_zero_cf);
	for (size_t i = 0; i < N_ELEMENTS(enabled); i++)
		ck_assert_msg(rules_site_zero(rs, (size_t)rules_find(rs, enabled[i])),
			      "%s", enabled[i]);
	ck_assert(!rules_site_zero(rs, (size_t)rules_find(rs, "Z_MIME")));
	ck_assert(!rules_site_zero(rs, (size_t)rules_find(rs, "Z_EVAL")));
	ck_assert(!rules_site_zero(rs, (size_t)rules_find(rs, "ALWAYS")));

	mv = match_message(rs, site_zero_msg, NULL, 0, &hits);
	/* The site-wide pass does not touch them (__Z_SUB, a sub-rule, runs;
	 * Z_MIME and Z_EVAL are not run at all). */
	for (size_t i = 0; i < N_ELEMENTS(enabled); i++)
		ck_assert_uint_eq(hits.hits[rules_find(rs, enabled[i])], 0);
	ck_assert_uint_eq(hits.hits[rules_find(rs, "Z_MIME")], 0);
	ck_assert_uint_eq(hits.hits[rules_find(rs, "Z_EVAL")], 0);
	ck_assert_uint_eq(hits.hits[rules_find(rs, "__Z_SUB")], 1);
	ck_assert_uint_eq(hits.hits[rules_find(rs, "ALWAYS")], 1);
	buf_init(&tests, 0);

	/* No prefs, or prefs that do not score them: the site's result. */
	site_zero_tests(rs, NULL, &hits, mv, &tests, &score);
	ck_assert_str_eq(tests.data, "ALWAYS");
	site_zero_tests(rs, "required_score 4\n", &hits, mv, &tests, &score);
	ck_assert_str_eq(tests.data, "ALWAYS");
	ck_assert_ptr_null(hits.site_zero_done);

	/* A meta over rules the site scored 0 and this user does not score:
	 * they do not run, the meta does not hit (spamd: the same). */
	site_zero_tests(rs, "score Z_META_DEPS 2.0\n", &hits, mv, &tests, &score);
	ck_assert_str_eq(tests.data, "ALWAYS");

	/* Every kind spamd enables; eval and mimeheader rules stay off. */
	site_zero_tests(rs,
			"score Z_BODY 1.1\nscore Z_HDR 1.2\nscore Z_EXISTS 0.3\n"
			"score Z_URI 1.3\nscore Z_RAW 1.4\nscore Z_FULL 1.5\n"
			"score Z_MULTI 0.1\nscore Z_META_SUB 1.8\n"
			"score Z_META_DEPS 2 2 2 2\n"
			"score Z_MIME 1.6\nscore Z_EVAL 1.7\n",
			&hits, mv, &tests, &score);
	ck_assert_str_eq(tests.data, "ALWAYS,Z_BODY,Z_EXISTS,Z_FULL,Z_HDR,Z_META_DEPS,"
			 "Z_META_SUB,Z_MULTI,Z_MULTI,Z_MULTI,Z_RAW,Z_URI");
	ck_assert(fabs(score - (0.5 + 1.1 + 0.3 + 1.5 + 1.2 + 2 + 1.8 + 0.3 + 1.4 + 1.3))
		  < 1e-9);
	/* Matched once per message: the next recipient reuses the counts. */
	ck_assert_ptr_nonnull(hits.site_zero_done);
	ck_assert_uint_eq(hits.hits[rules_find(rs, "Z_MULTI")], 3);

	/* Another recipient without those scores still gets the site's
	 * result, though the rules were matched for the first. */
	site_zero_tests(rs, NULL, &hits, mv, &tests, &score);
	ck_assert_str_eq(tests.data, "ALWAYS");
	ck_assert(score == 0.5);
	/* Scoring it 0 again turns it off. */
	site_zero_tests(rs, "score Z_BODY 1\nscore Z_BODY 0\n", &hits, mv, &tests,
			&score);
	ck_assert_str_eq(tests.data, "ALWAYS");

	buf_free(&tests);
	rules_hits_free(&hits);
	msgview_free(&mv);
	rules_free(&rs);
}
END_TEST

/* URI host lists in user_prefs change that user's copy of the site's
 * lists, as SpamAssassin parses user_prefs into its copy of the site
 * configuration: blocklist_uri_host and welcomelist_uri_host add, a "!"
 * entry or delist_uri_host takes a site entry away; other recipients of
 * the same message keep the site's lists. */
START_TEST(test_user_uri_host_lists)
{
	static const char cf[] =
		"util_rb_tld com org net\n"
		"enlist_uri_host (SITE) shop.example.org\n"
		"header SITE_LISTED eval:check_uri_host_listed('SITE')\n"
		"score SITE_LISTED 1.5\n"
		"body U_BLOCK eval:check_uri_host_in_blocklist()\n"
		"score U_BLOCK 100\n"
		"body U_WELCOME eval:check_uri_host_in_welcomelist()\n"
		"score U_WELCOME -100\n";
	static const char msg[] =
		"From: a@example.com\nTo: b@example.com\nSubject: offer\n\n"
		"see http://www.shop.example.org/ and http://mail.example.net/x\n";
	struct ruleset *rs = load_clean("50_urihost.cf", cf);
	struct rules_hits hits;
	struct msgview *mv = match_message(rs, msg, NULL, 0, &hits);
	struct buf tests;
	double score;

	buf_init(&tests, 0);
	site_zero_tests(rs, NULL, &hits, mv, &tests, &score);
	ck_assert_str_eq(tests.data, "SITE_LISTED");
	site_zero_tests(rs, "blocklist_uri_host Example.NET\n", &hits, mv, &tests, &score);
	ck_assert_str_eq(tests.data, "SITE_LISTED,U_BLOCK");
	ck_assert_str_eq(user_warnings.data != NULL ? user_warnings.data : "", "");
	site_zero_tests(rs, "whitelist_uri_host shop.example.org\n"
			"delist_uri_host (SITE) shop.example.org\n", &hits, mv, &tests, &score);
	ck_assert_str_eq(tests.data, "U_WELCOME");
	site_zero_tests(rs, "enlist_uri_host (SITE) !www.shop.example.org\n", &hits, mv,
			&tests, &score);
	ck_assert_str_eq(tests.data, "none");
	site_zero_tests(rs, "delist_uri_host shop.example.org\n", &hits, mv, &tests, &score);
	ck_assert_str_eq(tests.data, "none");
	/* a file may add EVAL_URIHOST_USER_LISTS lists of its own, no more
	 * (each costs a map); the site's and the named ones still take
	 * entries */
	{
		struct buf many;

		buf_init(&many, 0);
		for (int i = 0; i < EVAL_URIHOST_USER_LISTS + 5; i++)
			buf_putf(&many, "enlist_uri_host (L%d) h%d.example.com\n", i, i);
		buf_put_str(&many, "enlist_uri_host (SITE) !www.shop.example.org\n"
			    "blocklist_uri_host example.net\n");
		site_zero_tests(rs, many.data, &hits, mv, &tests, &score);
		ck_assert_str_eq(tests.data, "U_BLOCK");
		ck_assert_msg(strstr(user_warnings.data, "user_prefs:65: enlist_uri_host: too many "
				     "lists; line ignored") != NULL, "%s", user_warnings.data);
		ck_assert(strstr(user_warnings.data, "user_prefs:64:") == NULL);
		buf_free(&many);
	}
	/* a bad line is skipped; the site's lists are untouched by all this */
	site_zero_tests(rs, "\nenlist_uri_host no-name-given\n", &hits, mv, &tests, &score);
	ck_assert_str_eq(tests.data, "SITE_LISTED");
	ck_assert_msg(strstr(user_warnings.data, "user_prefs:2: enlist_uri_host: missing "
			     "required value") != NULL, "%s", user_warnings.data);
	site_zero_tests(rs, NULL, &hits, mv, &tests, &score);
	ck_assert_str_eq(tests.data, "SITE_LISTED");
	ck_assert(score == 1.5);
	buf_free(&tests);
	rules_hits_free(&hits);
	msgview_free(&mv);
	rules_free(&rs);
}
END_TEST

/* welcomelist_bounce_relays (VBounce) and blocklist_subject
 * (WelcomeListSubject) in user_prefs are that user's. */
START_TEST(test_user_bounce_relays)
{
	static const char cf[] =
		"body VB_HAVE eval:have_any_bounce_relays()\n"
		"body VB_MINE eval:check_welcomelist_bounce_relays()\n"
		"header S_BL eval:check_subject_in_blocklist()\n";
	static const char msg[] =
		"From: MAILER-DAEMON@example.net\nTo: b@example.com\nSubject: failure\n\n"
		"Received: from a.example.net by mx.example.com (Postfix) id 1\n";
	struct ruleset *rs = load_clean("50_vbounce.cf", cf);
	struct rules_hits hits;
	struct msgview *mv = match_message(rs, msg, NULL, 0, &hits);
	struct buf tests;
	double score;

	buf_init(&tests, 0);
	site_zero_tests(rs, NULL, &hits, mv, &tests, &score);
	ck_assert_str_eq(tests.data, "none");
	site_zero_tests(rs, "whitelist_bounce_relays MX.example.com\n", &hits, mv, &tests,
			&score);
	ck_assert_str_eq(tests.data, "VB_HAVE,VB_MINE");
	site_zero_tests(rs, "welcomelist_bounce_relays *.example.org\n", &hits, mv, &tests,
			&score);
	ck_assert_str_eq(tests.data, "VB_HAVE");
	site_zero_tests(rs, "blocklist_subject  FAIL\n", &hits, mv, &tests, &score);
	ck_assert_str_eq(tests.data, "S_BL");
	site_zero_tests(rs, "blocklist_subject fail ure\n", &hits, mv, &tests, &score);
	ck_assert_str_eq(tests.data, "none");
	buf_free(&tests);
	rules_hits_free(&hits);
	msgview_free(&mv);
	rules_free(&rs);
}
END_TEST

/* ok_locales in user_prefs, as in SpamAssassin (the faraway-charset
 * rules carry tflags userconf): the three tests run again with the
 * user's setting, over the site's; an empty line is refused with a
 * warning and the site's stays. */
START_TEST(test_user_ok_locales)
{
	static const char cf[] =
		"body CS_FAR eval:check_for_faraway_charset()\n"
		"header CS_FAR_HDR eval:check_for_faraway_charset_in_headers()\n"
		"rawbody __MIME_FAR eval:check_for_mime('mime_faraway_charset')\n"
		"meta MIME_FAR __MIME_FAR\n"
		"header NOT_LOCALES eval:check_for_mime('mime_qp_count')\n";
	static const char msg[] =
		"From: =?koi8-r?B?8NLJ18XU?= <a@example.ru>\nTo: b@example.com\n"
		"Subject: test\nMIME-Version: 1.0\n"
		"Content-Type: text/plain; charset=koi8-r\n"
		"Content-Transfer-Encoding: 8bit\n\n"
		"\xf0\xd2\xc9\xd7\xc5\xd4 \xf0\xd2\xc9\xd7\xc5\xd4 \xf0\xd2\xc9\n";
	static const struct {
		const char *site, *prefs, *tests;
	} cases[] = {
		{ "", NULL, "none" },
		{ "", "ok_locales en\n", "CS_FAR,CS_FAR_HDR,MIME_FAR" },
		{ "", "ok_locales en ru\n", "none" },
		{ "", "ok_locales ja\nok_locales ru\n", "none" },
		{ "", "ok_locales en\nok_locales  \n", "CS_FAR,CS_FAR_HDR,MIME_FAR" },
		{ "ok_locales en\n", NULL, "CS_FAR,CS_FAR_HDR,MIME_FAR" },
		{ "ok_locales en\n", "ok_locales all\n", "none" },
		{ "ok_locales en\n", "ok_locales ru\n", "none" },
		{ "ok_locales en\n", "ok_locales\n", "CS_FAR,CS_FAR_HDR,MIME_FAR" },
		{ "ok_locales en\n", "score CS_FAR 0\nok_locales all\n", "none" },
		{ "ok_locales en\n", "score CS_FAR 0\n", "CS_FAR_HDR,MIME_FAR" },
	};
	struct buf tests;

	buf_init(&tests, 0);
	for (size_t c = 0; c < N_ELEMENTS(cases); c++) {
		char text[512];
		struct ruleset *rs;
		struct rules_hits hits;
		struct msgview *mv;
		double score;

		snprintf(text, sizeof(text), "%s%s", cases[c].site, cf);
		rs = load_clean("50_locales.cf", text);
		mv = match_message(rs, msg, NULL, 0, &hits);
		site_zero_tests(rs, cases[c].prefs, &hits, mv, &tests, &score);
		ck_assert_msg(strcmp(tests.data, cases[c].tests) == 0, "case %zu: %s", c,
			      tests.data);
		if (cases[c].prefs != NULL && strstr(cases[c].prefs, "ok_locales\n") != NULL)
			ck_assert_ptr_nonnull(strstr(user_warnings.data,
						     ": ok_locales: missing required value"));
		else if (cases[c].prefs != NULL && strstr(cases[c].prefs, "  \n") != NULL)
			ck_assert_ptr_nonnull(strstr(user_warnings.data, ":2: ok_locales"));
		else if (cases[c].prefs != NULL)
			ck_assert_str_eq(user_warnings.data != NULL ? user_warnings.data : "", "");
		rules_hits_free(&hits);
		msgview_free(&mv);
		rules_free(&rs);
	}
	buf_free(&tests);
}
END_TEST

/* allow_user_rules: a switch of the rule files (the last line wins); 0 and
 * 1 are silent, anything else invalid. */
START_TEST(test_allow_user_rules_setting)
{
	static const struct {
		const char *text;
		int errors;
		bool on;
	} cases[] = {
		{ "allow_user_rules 1\n", 0, true },
		{ "allow_user_rules 0\n", 0, false },
		{ "", 0, false },
		{ "allow_user_rules 1\nallow_user_rules 0\n", 0, false },
		{ "allow_user_rules 2\n", 1, false },
	};

	for (size_t c = 0; c < N_ELEMENTS(cases); c++) {
		struct rules_load_result res;
		struct ruleset *rs;
		char text[256];

		snprintf(text, sizeof(text), "%sbody OK_RULE /x/\n", cases[c].text);
		write_cf("50_a.cf", text);
		rs = load(&res);
		ck_assert_int_eq(res.errors, cases[c].errors);
		for (size_t i = 0; i < res.diag_count; i++)
			ck_assert(strstr(res.diags[i].message, "allow_user_rules") == NULL ||
				  cases[c].errors > 0);
		ck_assert(rs->allow_user_rules == cases[c].on);
		ck_assert_int_eq(rule(rs, "OK_RULE")->skip, RULE_RUNS);
		rules_load_result_free(&res);
		rules_free(&rs);
	}
}
END_TEST


static const char user_site_cf[] =
	"body SITE_WORD /sitewordhere/\n"
	"describe SITE_WORD Site word\n"
	"score SITE_WORD 1.5\n"
	"body __SITE_SUB /lottery/i\n"
	"header SITE_NEVER Subject =~ /neverever/\n";

static const char user_prefs_text[] =
	"required_score 4\n"
	"body MY_BODY /cheap\\s+pills/i\n"		/* 2 */
	"describe MY_BODY Cheap pills mentioned\n"
	"score MY_BODY 3.0\n"
	"tflags MY_BODY multiple\n"
	"header MY_SUBJ Subject =~ /urgent/i\n"		/* 6 */
	"score MY_SUBJ 0.5\n"
	"meta MY_META MY_BODY && __SITE_SUB\n"		/* 8 */
	"score MY_META 2\n"
	"meta MY_META_NO MY_SUBJ && SITE_NEVER\n"
	"header MY_EXISTS exists:X-Mine\n"
	"score MY_EXISTS 0.25\n"
	"body SITE_WORD /x/\n"				/* 13: a site rule */
	"tflags SITE_WORD nice\n"			/* 14 */
	"score SITE_WORD 1.0\n"				/* the user's score */
	"body MY_BAD /unclosed(/\n"			/* 16 */
	"body MY_EVAL eval:check_for_foo()\n"		/* 17 */
	"score NOT_DEFINED 1\n"				/* 18 */
	"body MY_ZERO /cheap/\n"
	"score MY_ZERO 0\n"
	"meta MY_LOOP1 MY_LOOP2\n"			/* 21 */
	"meta MY_LOOP2 MY_LOOP1\n"			/* 22 */
	"body __MY_SUB /win the/i\n"
	"meta MY_SUBMETA __MY_SUB\n";

static const char user_msg[] =
	"From: a@example.org\n"
	"To: b@example.org\n"
	"Subject: URGENT offer\n"
	"X-Mine: yes\n"
	"\n"
	"Buy cheap pills now, cheap  pills! Win the lottery. sitewordhere\n";

/* One recipient's result, as scoring_msg_total makes it: the site's hits
 * (matched once), then the user's rules on the same views. */
static void
user_total(const struct ruleset *rs, const struct rules_hits *site_hits,
	   struct msgview *mv, const struct score_prefs *prefs, struct score_result *r)
{
	const struct ruleset *ur = score_prefs_rules(prefs);
	struct rules_hits uh = *site_hits;
	struct rules_scratch *scratch = rules_scratch_new(rs);

	if (ur != NULL) {
		uh.count = rules_count(ur);
		uh.hits = calloc(uh.count, sizeof(*uh.hits));
		memcpy(uh.hits, site_hits->hits, site_hits->count * sizeof(*uh.hits));
		rules_match_user(ur, scratch, mv, &uh);
	}
	score_compute(ur != NULL ? ur : rs, &uh, mv, prefs, r);
	if (ur != NULL)
		free(uh.hits);
	rules_scratch_free(&scratch);
}

static bool
user_warned(unsigned int line, const char *text)
{
	char want[64];
	const char *w = user_warnings.data != NULL ? user_warnings.data : "";

	snprintf(want, sizeof(want), "user_prefs:%u: ", line);
	for (const char *p = w; (p = strstr(p, want)) != NULL; p++) {
		const char *eol = strchr(p, '\n');

		if (eol != NULL && memmem(p, (size_t)(eol - p), text, strlen(text)) != NULL)
			return true;
	}
	return false;
}

/* A prefs line longer than the line buffer is skipped whole with a
 * warning: its tail is not read as a line of its own, and the lines
 * after it keep their numbers. */
START_TEST(test_prefs_long_line)
{
	struct ruleset *rs;
	struct msgview *mv;
	struct rules_hits hits;
	struct score_prefs *prefs;
	struct score_result r;
	struct buf text;

	buf_init(&text, 0);
	rs = load_clean("50_site.cf",
			"required_score 5\nbody SITE_WORD /buy/\nscore SITE_WORD 1\n");
	buf_put_str(&text, "required_score 7\n#");
	for (int i = 0; i < 8190; i++)
		buf_put(&text, "x", 1);
	/* and one right after it: the newline that ends the first counts */
	buf_put_str(&text, "required_score 1\n#");
	for (int i = 0; i < 8190; i++)
		buf_put(&text, "x", 1);
	buf_put_str(&text, "required_score 2\nbogus_key 1\n");
	prefs = user_prefs_load(rs, text.data);
	ck_assert_ptr_nonnull(prefs);
	ck_assert(user_warned(2, "line too long; ignored"));
	ck_assert(user_warned(3, "line too long; ignored"));
	ck_assert(user_warned(4, "'bogus_key' is not allowed"));
	mv = match_message(rs, user_msg, NULL, 0, &hits);
	score_compute(rs, &hits, mv, prefs, &r);
	ck_assert(r.required == 7.0);
	score_result_free(&r);
	rules_hits_free(&hits);
	msgview_free(&mv);
	score_prefs_free(&prefs);
	rules_free(&rs);
	buf_free(&text);
}
END_TEST

/* Score values as SpamAssassin's Conf.pm takes them (-?\d+(\.\d+)?),
 * within RULES_SCORE_ABS_MAX: a score of 1e19 became LONG_MIN stars, a
 * memset over the stack that killed the worker.  A NUL does not hide a
 * line's length (a file of NULs was read to its end, however large). */
START_TEST(test_prefs_score_values)
{
	static const char nul_tail[] = "required_score 20\n";
	struct ruleset *rs;
	struct score_prefs *prefs;
	struct score_result r;
	struct buf text, out;
	char path[512];

	rs = load_clean("50_site.cf",
			"required_score 5\nbody SITE_WORD /buy/\nscore SITE_WORD 1\n");
	prefs = user_prefs_load(rs, "score SITE_WORD 1e19\n"
				"score SITE_WORD 0x10\n"
				"score SITE_WORD 1000000.5\n"
				"score SITE_WORD 1 2 3 4 5\n"
				"required_score 1e308\n"
				"required_score inf\n"
				"score SITE_WORD -100\n"
				"required_score 6.5\n");
	ck_assert_ptr_nonnull(prefs);
	for (unsigned int line = 1; line <= 4; line++)
		ck_assert_msg(user_warned(line, "bad score value") ||
			      user_warned(line, "1 or 4 score values"), "line %u", line);
	ck_assert(user_warned(5, "bad required_score"));
	ck_assert(user_warned(6, "bad required_score"));
	ck_assert(!user_warned(7, "") && !user_warned(8, ""));
	score_prefs_free(&prefs);

	/* "#", a NUL, a line's worth of bytes, then a directive: one line
	 * too long, not a comment and a directive. */
	buf_init(&text, 0);
	buf_put(&text, "#\0", 2);
	for (int i = 0; i < 8189; i++)
		buf_put(&text, "x", 1);
	buf_put(&text, nul_tail, strlen(nul_tail));
	write_file("user_prefs", text.data, text.len, path, sizeof(path));
	buf_reset(&user_warnings);
	prefs = score_prefs_load(rs, path, user_warn);
	ck_assert_ptr_nonnull(prefs);
	ck_assert(user_warned(1, "line too long; ignored"));
	{
		struct rules_hits hits;

		hits_none(rs, &hits);
		score_compute(rs, &hits, NULL, prefs, &r);
		ck_assert(r.required == 5.0);
		score_result_free(&r);
		rules_hits_free(&hits);
	}
	score_prefs_free(&prefs);
	buf_free(&text);

	/* At most 20 warnings for one file (a binary one made thousands),
	 * then one that says so; and at most 10000 list entries. */
	buf_init(&text, 0);
	for (int i = 0; i < 30; i++)
		buf_put_str(&text, "bogus_key 1\n");
	for (int i = 0; i < 10001; i++)
		buf_putf(&text, "welcomelist_from w%d@example.com\n", i);
	prefs = user_prefs_load(rs, text.data);
	ck_assert_ptr_nonnull(prefs);
	ck_assert(user_warned(20, "'bogus_key' is not allowed"));
	ck_assert(!user_warned(21, "'bogus_key' is not allowed"));
	ck_assert(user_warned(21, "more than 20 warnings; the rest not shown"));
	ck_assert(!user_warned(30 + 10001, "more than 10000 list words (addresses and URI hosts)"));
	score_prefs_free(&prefs);
	buf_reset(&text);
	for (int i = 0; i < 10001; i++)
		buf_putf(&text, "welcomelist_from w%d@example.com\n", i);
	prefs = user_prefs_load(rs, text.data);
	ck_assert_ptr_nonnull(prefs);
	ck_assert(user_warned(10001, "more than 10000 list words (addresses and URI hosts)"));
	ck_assert(!user_warned(10000, "more than"));
	/* ... and they are not taken: w9999 is on the list, w10000 not. */
	{
		struct ruleset *wl = load_clean("50_wl.cf",
						"header T_WL eval:check_from_in_welcomelist()\n"
						"score T_WL -100\n");
		const char *from[2] = { "w9999@example.com", "w10000@example.com" };

		score_prefs_free(&prefs);
		prefs = user_prefs_load(wl, text.data);
		for (int k = 0; k < 2; k++) {
			char m[128];
			struct rules_hits hits;
			struct msgview *mv;
			struct buf tests;

			snprintf(m, sizeof(m), "From: %s\nSubject: s\n\nbody\n", from[k]);
			mv = match_message(wl, m, NULL, 0, &hits);
			score_compute(wl, &hits, mv, prefs, &r);
			buf_init(&tests, 0);
			score_tests(&r, &tests);
			ck_assert_msg((strstr(tests.data, "T_WL") != NULL) == (k == 0), "%s: %s",
				      from[k], tests.data);
			buf_free(&tests);
			score_result_free(&r);
			rules_hits_free(&hits);
			msgview_free(&mv);
		}
		rules_free(&wl);
	}
	score_prefs_free(&prefs);
	/* Removals count too (each scans the list), and a long line is
	 * not let through past the cap. */
	buf_reset(&text);
	for (int i = 0; i < 9999; i++)
		buf_putf(&text, "%s a%d@example.com%s", i % 400 == 0 ? "welcomelist_from" : "",
			 i, i % 400 == 399 || i == 9998 ? "\n" : "");
	buf_put_str(&text, "unwelcomelist_from a1@example.com a2@example.com\n");
	write_file("user_prefs", text.data, text.len, path, sizeof(path));
	buf_reset(&user_warnings);
	prefs = score_prefs_load(rs, path, user_warn);
	ck_assert_ptr_nonnull(prefs);
	ck_assert(!user_warned(1, "line too long"));
	ck_assert(user_warned(26, "more than 10000 list words (addresses and URI hosts)"));
	score_prefs_free(&prefs);
	buf_free(&text);

	/* Site files are bounded alike; and however a total came out, the
	 * header has at most 50 stars and a whole-number score. */
	{
		struct rules_load_result res;

		write_cf("60_big.cf", "score SITE_WORD 1e19\nrequired_score -1e308\n");
		rules_free(&rs);
		rs = load(&res);
		unsigned int found = 0;

		ck_assert_ptr_nonnull(rs);
		for (size_t i = 0; i < res.diag_count; i++)
			if (res.diags[i].error && strstr(res.diags[i].file, "60_big.cf") != NULL)
				found |= 1u << res.diags[i].line;
		ck_assert_uint_eq(found, (1u << 1) | (1u << 2));
		rules_load_result_free(&res);
	}
	memset(&r, 0, sizeof(r));
	r.score = 1e19;
	r.required = 5;
	r.is_spam = true;
	buf_init(&out, 0);
	spamhdr_render(&r, "mx.example", false, &out);
	ck_assert_ptr_nonnull(strstr(out.data, "X-Spam-Level: "
				     "**************************************************\n"));
	ck_assert_ptr_nonnull(strstr(out.data, "X-Spam-Score: 10000000000000000000\n"));
	buf_free(&out);
	rules_free(&rs);
}
END_TEST

/* allow_user_rules 1: a user's prefs define rules that count for that
 * user exactly as site rules (tests, score, headers, report), may read
 * site rules in metas, and cannot touch site rules except by scoring
 * them; bad rules are reported with file:line and left out.  Without the
 * switch the same lines are refused as before. */
START_TEST(test_user_rules)
{
	struct ruleset *rs;
	struct msgview *mv;
	struct rules_hits hits;
	struct score_prefs *prefs;
	struct score_result r;
	struct buf out;
	const struct ruleset *ur;
	char text[1024];

	buf_init(&out, 0);
	snprintf(text, sizeof(text), "allow_user_rules 1\n%s", user_site_cf);
	rs = load_clean("50_site.cf", text);
	mv = match_message(rs, user_msg, NULL, 0, &hits);

	/* no prefs: the site's result */
	user_total(rs, &hits, mv, NULL, &r);
	score_tests(&r, &out);
	ck_assert_str_eq(out.data, "SITE_WORD");
	score_result_free(&r);

	prefs = user_prefs_load(rs, user_prefs_text);
	ck_assert_ptr_nonnull(prefs);
	ur = score_prefs_rules(prefs);
	ck_assert_ptr_nonnull(ur);
	ck_assert_uint_eq(rules_count(ur), rules_count(rs) + 13);
	ck_assert(user_warned(13, "a site rule; users may only score it"));
	ck_assert(user_warned(14, "a site rule; users may only score it"));
	ck_assert(user_warned(16, "body MY_BAD: invalid regexp"));
	ck_assert(user_warned(17, "MY_EVAL: eval and mimeheader rules are not allowed"));
	ck_assert(user_warned(18, "NOT_DEFINED: no such rule"));
	ck_assert(user_warned(21, "circular") || user_warned(22, "circular"));
	user_total(rs, &hits, mv, prefs, &r);
	ck_assert_ptr_eq(r.rules, ur);
	buf_reset(&out);
	/* (the site's ruleset given: the result knows it used the user's) */
	score_tests(&r, &out);
	ck_assert_str_eq(out.data, "MY_BODY,MY_BODY,MY_EXISTS,MY_META,MY_SUBJ,MY_SUBMETA,"
				   "SITE_WORD");
	/* 3 + 3 + 0.25 + 2 + 0.5 + 1 (MY_SUBMETA unscored) + 1.0 (the
	 * user's score for SITE_WORD) */
	ck_assert_double_eq_tol(r.score, 10.75, 1e-9);
	ck_assert_double_eq_tol(r.required, 4.0, 1e-9);
	ck_assert(r.is_spam);
	buf_reset(&out);
	spamhdr_render(&r, "host", true, &out);
	ck_assert_ptr_nonnull(strstr(out.data, "tests=MY_BODY,MY_BODY,"));
	ck_assert_ptr_nonnull(strstr(out.data, "*  3.0 MY_BODY BODY: Cheap pills mentioned"));
	buf_reset(&out);
	score_report(&r, &out);
	ck_assert_ptr_nonnull(strstr(out.data, " 2.0 MY_META                No description"));
	score_result_free(&r);
	/* Past rules_match's backstop the user's rules are not run either:
	 * only the site's hits count, and the result says it was cut. */
	{
		struct rules_hits late = hits;

		late.has_deadline = true;
		ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &late.deadline), 0);
		late.deadline.tv_sec -= 1;
		user_total(rs, &late, mv, prefs, &r);
		ck_assert(r.time_limit_exceeded);
		buf_reset(&out);
		score_tests(&r, &out);
		ck_assert_str_eq(out.data, "SITE_WORD");
		score_result_free(&r);
	}
	score_prefs_free(&prefs);

	/* Another recipient of the same message: the site's result (the
	 * user's rules were matched into a copy of the hits). */
	user_total(rs, &hits, mv, NULL, &r);
	buf_reset(&out);
	score_tests(&r, &out);
	ck_assert_str_eq(out.data, "SITE_WORD");
	score_result_free(&r);
	rules_hits_free(&hits);
	msgview_free(&mv);
	rules_free(&rs);

	/* Without allow_user_rules: refused as before, scores still apply. */
	rs = load_clean("50_site.cf", user_site_cf);
	prefs = user_prefs_load(rs, user_prefs_text);
	ck_assert_ptr_null(score_prefs_rules(prefs));
	ck_assert(user_warned(2, "'body' is not allowed in user preferences"));
	ck_assert(user_warned(8, "'meta' is not allowed in user preferences"));
	ck_assert(user_warned(4, "score for an unknown rule"));
	score_prefs_free(&prefs);
	rules_free(&rs);
	buf_free(&out);
}
END_TEST

/* What one user can make lmtpd compile is bounded: rule count, pattern
 * length and compiled size. */
START_TEST(test_user_rules_bounded)
{
	struct ruleset *rs;
	struct score_prefs *prefs;
	struct buf text;

	buf_init(&text, 0);
	rs = load_clean("50_site.cf", "allow_user_rules 1\nbody SITE /x/\n");
	for (int i = 0; i < 101; i++)
		buf_putf(&text, "body U_%d /word%d/\n", i, i);
	buf_put_str(&text, "body U_LONG /");
	for (int i = 0; i < 2100; i++)
		buf_put_str(&text, "a");
	buf_put_str(&text, "/\n");
	prefs = user_prefs_load(rs, text.data);
	ck_assert_ptr_nonnull(score_prefs_rules(prefs));
	ck_assert(user_warned(101, "more than 100 user rules"));
	ck_assert(!user_warned(100, "more than"));
	ck_assert(user_warned(102, "more than 100 user rules") ||
		  user_warned(102, "longer than 2048 bytes"));
	ck_assert_int_eq(rule(score_prefs_rules(prefs), "U_99")->skip, RULE_RUNS);
	ck_assert_int_ne(rule(score_prefs_rules(prefs), "U_100")->skip, RULE_RUNS);
	score_prefs_free(&prefs);

	buf_reset(&text);
	buf_put_str(&text, "body U_LONG /");
	for (int i = 0; i < 2100; i++)
		buf_put_str(&text, "a");
	buf_put_str(&text, "/\nbody U_OK /ok/\n");
	prefs = user_prefs_load(rs, text.data);
	ck_assert(user_warned(1, "longer than 2048 bytes"));
	ck_assert_int_ne(rule(score_prefs_rules(prefs), "U_LONG")->skip, RULE_RUNS);
	ck_assert_int_eq(rule(score_prefs_rules(prefs), "U_OK")->skip, RULE_RUNS);
	score_prefs_free(&prefs);

	/* Short patterns that compile big (a group repeated 200 times) add
	 * up: past the code budget the rest are skipped, the first run. */
	buf_reset(&text);
	for (int i = 0; i < 100; i++)
		buf_putf(&text, "body U_BIG_%d /(?:[a-z]+q[0-9]+|z[xy]{2,5}%d){200}/\n", i, i);
	prefs = user_prefs_load(rs, text.data);
	ck_assert_ptr_nonnull(strstr(user_warnings.data, "compile to more than 1048576 bytes"));
	ck_assert(!user_warned(1, "compile to more than"));
	/* (one warning per skipped rule, cut at 20 for the file) */
	ck_assert(!user_warned(100, "compile to more than"));
	ck_assert(user_warned(0, "more than 20 warnings; the rest not shown"));
	ck_assert_int_eq(rule(score_prefs_rules(prefs), "U_BIG_0")->skip, RULE_RUNS);
	ck_assert_int_ne(rule(score_prefs_rules(prefs), "U_BIG_99")->skip, RULE_RUNS);
	score_prefs_free(&prefs);

	/* Names only scored or described take table slots too: bounded. */
	buf_reset(&text);
	for (int i = 0; i < 500; i++)
		buf_putf(&text, "describe U_NAME_%d nothing\n", i);
	prefs = user_prefs_load(rs, text.data);
	ck_assert(user_warned(401, "more than 400 rule names"));
	ck_assert(!user_warned(400, "more than"));
	ck_assert_uint_le(rules_count(score_prefs_rules(prefs)), rules_count(rs) + 400);
	score_prefs_free(&prefs);
	rules_free(&rs);
	buf_free(&text);
}
END_TEST

struct lit_case {
	const char *pattern;
	bool extended;
	const char *expect;	/* literals joined by "|", NULL = none */
};

START_TEST(test_prefilter_literals)
{
	static const struct lit_case cases[] = {
		{ "buy now", false, "buy now" },
		{ "\\bfree\\s+money\\b", false, "money" },
		{ "(?:viagra|cialis)", false, "viagra|cialis" },
		{ "colou?r scheme", false, "colour scheme|color scheme" },
		{ "[Vv]iagra", false, "viagra" },
		{ "a.*b", false, NULL },
		{ "ab", false, NULL },				/* too short */
		{ "(?i)Hello", false, "hello" },
		{ "x{3}yz", false, "xxxyz" },
		{ "(?:foo)?bar", false, "foobar|bar" },
		{ "\\x41BC", false, "abc" },
		{ "pay(?=ment)ee", false, "payee" },
		{ "win  ner # comment", true, "winner" },
		{ "\\Qa.b*c\\E", false, "a.b*c" },
		{ "[^a]bc", false, NULL },
		{ "(?<name>abc)d", false, "abcd" },
		{ "abc\\1", false, "abc" },
		{ "foo|.", false, NULL },
		{ "(unbalanced", false, NULL },
		/* x{n,m}: the n copies every match has extend the run. */
		{ "res+", false, "res" },
		{ "ad+res+e?", false, "res" },
		{ "x(?:ab)+cd", false, "xab" },
		{ "a+bcd", false, "bcd" },
		{ "(?:ab){2,}c", false, "abab" },
		{ "ab+?cd", false, NULL },			/* "ab", then "cd": too short */
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct strlist out;
		struct buf joined;
		bool ok;

		strlist_init(&out);
		buf_init(&joined, 0);
		ok = prefilter_literals(cases[i].pattern, strlen(cases[i].pattern),
					cases[i].extended, &out);
		for (size_t k = 0; k < out.n; k++)
			buf_putf(&joined, "%s%s", k > 0 ? "|" : "", out.v[k].p);
		if (cases[i].expect == NULL)
			ck_assert_msg(!ok, "%s gave '%s'", cases[i].pattern,
				      joined.data != NULL ? joined.data : "");
		else
			ck_assert_msg(ok && strcmp(joined.data, cases[i].expect) == 0,
				      "%s: got '%s', want '%s'", cases[i].pattern,
				      joined.data != NULL ? joined.data : "(none)",
				      cases[i].expect);
		strlist_free(&out);
		buf_free(&joined);
	}
}
END_TEST

/* Soundness: whenever PCRE2 finds a match, one of the pattern's literals
 * is in the text (case-insensitively). */
START_TEST(test_prefilter_sound)
{
	static const char *const patterns[] = {
		"\\b(?:click|tap)\\s+(?:here|below)\\b", "(?i)unsubscribe(?:\\s+now)?",
		"f(?:ree|r33)\\s?gift", "[Cc]redit\\s?card", "(?:a|b)(?:c|d)(?:e|f)gh",
		"x{2,}yzq", "(?:hot|warm)+ deals",
	};
	static const char *const texts[] = {
		"please Click  Here now", "UNSUBSCRIBE now", "a fr33 gift for you",
		"your CREDITcard", "bdegh", "xxxyzq", "hothot deals", "nothing to see",
		"tap below", "warmwarm deals",
	};

	for (size_t p = 0; p < N_ELEMENTS(patterns); p++) {
		struct strlist lits;
		char why[128];
		char *written = NULL;
		pcre2_code *re;

		strlist_init(&lits);
		ck_assert(prefilter_literals(patterns[p], strlen(patterns[p]), false, &lits));
		ck_assert_int_ge(asprintf(&written, "/%s/", patterns[p]), 0);
		re = rules_compile_regex(written, why, sizeof(why));
		ck_assert_ptr_nonnull(re);
		for (size_t t = 0; t < N_ELEMENTS(texts); t++) {
			pcre2_match_data *md = pcre2_match_data_create(4, NULL);
			bool matched = pcre2_match(re, (PCRE2_SPTR)texts[t], strlen(texts[t]),
						   0, 0, md, NULL) >= 0;
			bool present = false;

			for (size_t k = 0; k < lits.n && !present; k++)
				present = strcasestr(texts[t], lits.v[k].p) != NULL;
			ck_assert_msg(!matched || present, "%s matched '%s' without a literal",
				      patterns[p], texts[t]);
			pcre2_match_data_free(md);
		}
		pcre2_code_free(re);
		free(written);
		strlist_free(&lits);
	}
}
END_TEST

START_TEST(test_regex_delimiters)
{
	static const struct {
		const char *written;
		const char *pattern;
		uint32_t options;
	} cases[] = {
		{ "/abc/", "abc", 0 },
		{ "/a\\/b/i", "a\\/b", PCRE2_CASELESS },
		{ "m{a/b}sx", "a/b", PCRE2_DOTALL | PCRE2_EXTENDED },
		{ "m!x!m", "x", PCRE2_MULTILINE },
		{ "m(a(b)c)", "a(b)c", 0 },
		{ "qr/z/", "z", 0 },
	};
	char why[128];

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		char *pattern;
		uint32_t options;

		ck_assert_int_eq(rules_split_regex(cases[i].written, &pattern, &options, why,
						   sizeof(why)), 0);
		ck_assert_str_eq(pattern, cases[i].pattern);
		ck_assert_uint_eq(options, cases[i].options);
		free(pattern);
	}
	ck_assert_int_lt(rules_split_regex("abc", &(char *){ NULL }, &(uint32_t){ 0 },
					   why, sizeof(why)), 0);
	ck_assert_int_lt(rules_split_regex("/a(?{ system() })/", &(char *){ NULL },
					   &(uint32_t){ 0 }, why, sizeof(why)), 0);
	ck_assert_int_lt(rules_split_regex("/abc/q", &(char *){ NULL }, &(uint32_t){ 0 },
					   why, sizeof(why)), 0);
}
END_TEST

/* Filler alternatives: enough of them make a pattern too large for the
 * 8-bit library (64 KiB of compiled code), none matches the messages
 * below. */
static void
put_filler(struct buf *b, int count)
{
	for (int i = 0; i < count; i++)
		buf_putf(b, "|w%dq[xyz]{1,40}", i);
}

/* head, count alternatives of filler, tail: a rule line too large for one
 * 8-bit pattern. */
static void
put_huge(struct buf *b, const char *head, int count, const char *tail)
{
	buf_put_str(b, head);
	put_filler(b, count);
	buf_put_str(b, tail);
}

/* Hits of every rule of cf (written as 90_huge.cf) on message. */
static struct ruleset *
huge_match(const char *cf, size_t cf_len, const char *message, struct rules_load_result *res,
	   struct rules_hits *hits)
{
	struct msgview *mv;
	struct ruleset *rs;

	write_file("90_huge.cf", cf, cf_len, NULL, 0);
	rs = load(res);
	ck_assert_ptr_nonnull(rs);
	mv = match_message(rs, message, NULL, 0, hits);
	msgview_free(&mv);
	return rs;
}

static bool
has_diag(const struct rules_load_result *res, unsigned int line, bool error,
	 const char *text)
{
	for (size_t i = 0; i < res->diag_count; i++)
		if (res->diags[i].line == line && res->diags[i].error == error &&
		    strstr(res->diags[i].file, "90_huge.cf") != NULL &&
		    strstr(res->diags[i].message, text) != NULL)
			return true;
	return false;
}

/* Whether rule name's gate has its tags approximated (a run of any bytes
 * stands for a tag's multi-byte alternatives). */
static bool
tags_approximated(const struct ruleset *rs, const char *name)
{
	const char *gate = rule(rs, name)->gate_pattern;

	return gate != NULL && strstr(gate, "[\\s\\S]{") != NULL;
}

/* ReplaceTags rules get a gate, their pattern with the tags approximated,
 * where approximating can only widen what matches; elsewhere none.  Gated
 * rules hit exactly where a twin written out by hand (no gate) does. */
START_TEST(test_replace_tags_gate)
{
	static const char cf[] =
		"replace_tag A (?:[aA4]|[\\xc3][\\xa0\\xa1]|[\\xc4][\\x80]|&\\#(?:97|65);|&\\#x61;)\n"
		"replace_tag Y (?:[yY]|[\\xc3][\\xbd\\xbf]|[\\xc5][\\xb7])\n"
		"replace_tag M (?:[mM]|rn|[\\xd0][\\x9c\\xbc])\n"
		"replace_tag S [sS5]\n"
		"body GATED /\\b<M><A><Y>\\b/i\n"
		"body TWIN /\\b(?:[mM]|rn|[\\xd0][\\x9c\\xbc])(?:[aA4]|[\\xc3][\\xa0\\xa1]|[\\xc4][\\x80]|&\\#(?:97|65);|&\\#x61;)(?:[yY]|[\\xc3][\\xbd\\xbf]|[\\xc5][\\xb7])\\b/i\n"
		"body LOOKAHEAD /x(?=<A>)/\n"
		"body NEGATED /x(?!<A>)y/\n"
		"body BEHIND /(?<!<A>)y/\n"
		"body INCLASS /[<A>]z/\n"
		"body EXTENDED /<A> <Y>/x\n"
		"body BACKREF /(<A>)\\1/\n"
		"body POSSESSIVE /<A>++z/\n"
		"body ATOMIC /(?><A>+)a/\n"
		"body VERB /(*COMMIT)<A>/\n"
		"body SINGLE /<S>z/\n"
		"body QUOTED /\\Q<A>\\E/\n"
		"body COMMENTED /(?#<A>)x<A>/\n"
		"body INLINE_X /(?x)<A> <Y>/\n"
		"replace_rules GATED LOOKAHEAD NEGATED BEHIND INCLASS EXTENDED BACKREF POSSESSIVE\n"
		"replace_rules ATOMIC VERB SINGLE QUOTED COMMENTED INLINE_X\n";
	static const char *const ungated[] = {
		"NEGATED", "BEHIND", "INCLASS", "EXTENDED", "BACKREF", "POSSESSIVE", "ATOMIC",
		"VERB", "SINGLE", "QUOTED", "COMMENTED", "INLINE_X",
	};
	static const char *const bodies[] = {
		"may", "MAY", "rnay", "m\xc3\xa0y", "m&#x61;y", "\xd0\x9c" "4\xc5\xb7", "m&#98;y",
		"m\xc3\xa2y", "rn\xc3y", "mayday", "x ray", "my", "m a y",
	};
	struct rules_load_result res;
	struct rules_hits hits;
	struct ruleset *rs;

	rs = huge_match(cf, sizeof(cf) - 1, "Subject: t\n\nmay\n", &res, &hits);
	rules_hits_free(&hits);
	ck_assert_ptr_nonnull(rule(rs, "GATED")->gate_pattern);
	ck_assert_uint_ge(rule(rs, "GATED")->re.gate_count, 1);
	ck_assert(tags_approximated(rs, "GATED"));
	ck_assert(tags_approximated(rs, "LOOKAHEAD"));
	ck_assert(!tags_approximated(rs, "TWIN"));
	for (size_t i = 0; i < N_ELEMENTS(ungated); i++)
		ck_assert_msg(!tags_approximated(rs, ungated[i]), "%s has a gate: %s",
			      ungated[i], rule(rs, ungated[i])->gate_pattern);
	rules_load_result_free(&res);
	rules_free(&rs);

	for (size_t b = 0; b < N_ELEMENTS(bodies); b++) {
		char *msg = NULL;

		ck_assert_int_ge(asprintf(&msg, "Subject: t\n\nsee %s here\n", bodies[b]), 0);
		rs = huge_match(cf, sizeof(cf) - 1, msg, &res, &hits);
		ck_assert_msg(hits.hits[rules_find(rs, "GATED")] ==
			      hits.hits[rules_find(rs, "TWIN")], "%s: GATED %u, TWIN %u",
			      bodies[b], hits.hits[rules_find(rs, "GATED")],
			      hits.hits[rules_find(rs, "TWIN")]);
		ck_assert_msg(hits.hits[rules_find(rs, "GATED")] == (b < 5), "%s: GATED %u",
			      bodies[b], hits.hits[rules_find(rs, "GATED")]);
		rules_hits_free(&hits);
		rules_load_result_free(&res);
		rules_free(&rs);
		free(msg);
	}
}
END_TEST

/* A rule that starts with items that may match nothing, so that PCRE2
 * would try it at nearly every position, gets a gate without them, which
 * PCRE2 can start at its first byte; hits are those of the rule itself
 * (the gate matches "xvia", the rule does not). */
START_TEST(test_trim_gate)
{
	static const char cf[] =
		"body TRIMMED /(?:\\b|\\s)[_\\W]{0,3}v[_\\W]?i[_\\W]?a\\b/i\n"
		"rawbody RAW_TRIMMED /(?:\\b|\\s)[_\\W]{0,3}v[_\\W]?i[_\\W]?a\\b/i\n"
		"header H_UNTRIMMED Subject =~ /(?:\\b|\\s)[_\\W]{0,3}via/\n"
		"body UNTRIMMED /\\b\\w+via/\n"
		"body UNNEEDED /\\b_{0,3}v[_\\W]?i[_\\W]?a\\b/i\n";
	static const struct {
		const char *body;
		unsigned int hit;
	} cases[] = {
		{ "buy v.i.a now", 1 }, { "buy _V_I-A now", 1 }, { "buy xvia now", 0 },
		{ "buy via", 1 }, { "nothing here", 0 },
	};
	struct rules_load_result res;
	struct rules_hits hits;
	struct ruleset *rs;

	for (size_t c = 0; c < N_ELEMENTS(cases); c++) {
		char *msg = NULL;

		ck_assert_int_ge(asprintf(&msg, "Subject: s\n\n%s\n", cases[c].body), 0);
		rs = huge_match(cf, sizeof(cf) - 1, msg, &res, &hits);
		if (c == 0) {
			ck_assert_str_eq(rule(rs, "TRIMMED")->gate_pattern,
					 "m\x01v[_\\W]?i[_\\W]?a\\b\x01i");
			ck_assert_str_eq(rule(rs, "RAW_TRIMMED")->gate_pattern,
					 "m\x01v[_\\W]?i[_\\W]?a\\b\x01i");
			ck_assert_uint_eq(rule(rs, "TRIMMED")->re.gate_count, 1);
			ck_assert_ptr_null(rule(rs, "H_UNTRIMMED")->gate_pattern);
			ck_assert_ptr_null(rule(rs, "UNTRIMMED")->gate_pattern);
			/* PCRE2 starts it at '_', 'v' or 'V' already */
			ck_assert_ptr_null(rule(rs, "UNNEEDED")->gate_pattern);
		}
		ck_assert_msg(hits.hits[rules_find(rs, "TRIMMED")] == cases[c].hit, "%s: %u",
			      cases[c].body, hits.hits[rules_find(rs, "TRIMMED")]);
		ck_assert_msg(hits.hits[rules_find(rs, "RAW_TRIMMED")] == cases[c].hit, "%s: raw %u",
			      cases[c].body, hits.hits[rules_find(rs, "RAW_TRIMMED")]);
		rules_hits_free(&hits);
		rules_load_result_free(&res);
		rules_free(&rs);
		free(msg);
	}
}
END_TEST

/* Header rules behind the one scan of all header values for required
 * literals: a literal counts only inside the value of the rule's own
 * request, at every place it occurs (also after an earlier value held
 * it), up to both ends of the value; a rule ruled out is a miss, and its
 * !~ form a hit; [if-unset: ...] and exists: rules still answer for an
 * absent header; a rule without literals behind a byte-set gate. */
START_TEST(test_header_prefilter)
{
	static const char cf[] =
		"header FROM_PILL From =~ /pill/i\n"
		"header SUBJ_PILL Subject =~ /pill/i\n"
		"tflags SUBJ_PILL multiple\n"
		"header SUBJ_WHOLE Subject =~ /^Pills$/\n"
		"header SUBJ_SELLER Subject =~ /seller/i\n"
		"header TO_SELLER To =~ /seller/i\n"
		"header SUBJ_NOT_VIAGRA Subject !~ /viagra/i\n"
		"header SUBJ_NOT_PILL Subject !~ /pill/i\n"
		"header UNSET_DEFAULT X-Missing =~ /default/ [if-unset: the default]\n"
		"header MISSING_LIT X-Missing =~ /default/\n"
		"header MISSING_NOT X-Missing !~ /default/\n"
		"header HAS_MAILER exists:X-Mailer\n"
		"header DIGITS_ONLY Message-Id =~ /^<\\d+\\@/\n"
		"header GATED_DIGITS Subject =~ /^\\d+$/\n"
		/* verbs: read as text they required "*skip" */
		"header VERB_SKIP Subject =~ /pi(*SKIP)ll/i\n"
		"header VERB_ATOMIC Subject =~ /(*atomic:pil|pill)ls/i\n";
	static const struct {
		const char *name;
		unsigned int subj_pills, subj_x2;
	} expect[] = {
		{ "FROM_PILL", 1, 1 }, { "SUBJ_PILL", 1, 2 }, { "SUBJ_WHOLE", 1, 0 },
		{ "SUBJ_SELLER", 0, 0 }, { "TO_SELLER", 1, 1 },
		{ "SUBJ_NOT_VIAGRA", 1, 1 }, { "SUBJ_NOT_PILL", 0, 0 },
		{ "UNSET_DEFAULT", 1, 1 }, { "MISSING_LIT", 0, 0 }, { "MISSING_NOT", 1, 1 },
		{ "HAS_MAILER", 1, 1 }, { "DIGITS_ONLY", 1, 1 }, { "GATED_DIGITS", 0, 0 },
		{ "VERB_SKIP", 1, 1 }, { "VERB_ATOMIC", 1, 0 },
	};
	static const char *subjects[] = { "Pills", "pill or PILL" };
	struct rules_load_result res;
	struct ruleset *rs;

	write_cf("40_hp.cf", cf);
	rs = load(&res);
	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(res.errors, 0);
	/* the literal rules are behind the scan, the others gated or run */
	ck_assert_uint_eq(rs->views[RULE_HEADER].filtered_count, 9);
	ck_assert_uint_eq(rule(rs, "UNSET_DEFAULT")->always_slot1 > 0, 1);
	ck_assert_uint_eq(rule(rs, "GATED_DIGITS")->always_slot1 > 0, 1);
	ck_assert_uint_eq(rs->views[RULE_HEADER].gated_count, 2);
	rules_load_result_free(&res);
	for (size_t m = 0; m < N_ELEMENTS(subjects); m++) {
		struct rules_hits hits;
		struct msgview *mv;
		char *msg = NULL;

		ck_assert_int_ge(asprintf(&msg, "From: Pill Seller <s@example.com>\n"
					  "To: seller@example.net\n"
					  "Subject: %s\n"
					  "Message-Id: <12345@example.com>\n"
					  "X-Mailer: x\n\nbody\n", subjects[m]), 0);
		mv = match_message(rs, msg, NULL, 0, &hits);
		for (size_t k = 0; k < N_ELEMENTS(expect); k++) {
			unsigned int want = m == 0 ? expect[k].subj_pills : expect[k].subj_x2;

			ck_assert_msg(hits.hits[rules_find(rs, expect[k].name)] == want,
				      "Subject %s: %s hit %u times, expected %u", subjects[m],
				      expect[k].name, hits.hits[rules_find(rs, expect[k].name)],
				      want);
		}
		rules_hits_free(&hits);
		msgview_free(&mv);
		free(msg);
	}
	/* What the scan and the gate decide is final: given patterns that
	 * would match "Pills" without their literal or gate bytes, the rules
	 * still miss (a check that PCRE2 never sees the value). */
	{
		static const char *const swapped[] = { "SUBJ_SELLER", "GATED_DIGITS" };
		pcre2_code *mine[N_ELEMENTS(swapped)], *theirs[N_ELEMENTS(swapped)];
		struct rules_hits hits;
		struct msgview *mv;
		char why[256];

		for (size_t k = 0; k < N_ELEMENTS(swapped); k++) {
			struct rule *r = &rs->rules[rules_find(rs, swapped[k])];

			mine[k] = rules_compile_regex("/Pills/", why, sizeof(why));
			ck_assert_ptr_nonnull(mine[k]);
			theirs[k] = r->re.pieces[0];
			r->re.pieces[0] = mine[k];
		}
		mv = match_message(rs, "From: Pill Seller <s@example.com>\nSubject: Pills\n\nb\n",
				   NULL, 0, &hits);
		for (size_t k = 0; k < N_ELEMENTS(swapped); k++) {
			struct rule *r = &rs->rules[rules_find(rs, swapped[k])];

			ck_assert_msg(hits.hits[rules_find(rs, swapped[k])] == 0,
				      "%s ran on a value its prefilter rules out", swapped[k]);
			r->re.pieces[0] = theirs[k];
			pcre2_code_free(mine[k]);
		}
		rules_hits_free(&hits);
		msgview_free(&mv);
	}
	rules_free(&rs);
}
END_TEST

/* A rule that is one group repeated n times runs on an element only
 * where the group's literals occur n times; a sub-rule that waits for its
 * meta is noted only for such elements.  The hits are those of PCRE2. */
START_TEST(test_repeat_count_gate)
{
	static const char cf[] =
		"body CHEAP3 /(?:cheap\\W+){3}/i\n"
		"body __CHEAP2 /(?:cheap\\W+){2}/i\n"
		"meta CHEAP2_META __CHEAP2\n"
		"body CHEAP_ONE /cheap/\n"
		"rawbody RAW_CHEAP3 /(?:cheap\\W+){3}/i\n"
		/* text to PCRE2 10.42, not a repeat */
		"body BRACES /(?:cheap){2,3,4}/\n"
		"body VERB /(?:che(*SKIP)ap\\W+){2}/i\n";
	static const struct {
		const char *body;
		unsigned int cheap3, cheap2;
	} cases[] = {
		{ "cheap cheap cheap pills\n", 1, 1 },
		{ "Cheap, CHEAP: cheap!\n", 1, 1 },
		{ "cheap cheap pills\n", 0, 1 },
		{ "cheap pills\n\ncheap cheap\n", 0, 1 },
		{ "cheap pills\n\ncheap pills\n\ncheap pills\n", 0, 0 },
		{ "cheapcheapcheap\n", 0, 0 },
		{ "cheap{2,3,4} cheap\n", 0, 0 },
	};
	struct ruleset *rs = load_clean("40_rep.cf", cf);

	ck_assert_uint_eq(rule(rs, "CHEAP3")->repeat_min, 3);
	ck_assert_uint_eq(rule(rs, "__CHEAP2")->repeat_min, 2);
	ck_assert_uint_le(rule(rs, "CHEAP_ONE")->repeat_min, 1);
	ck_assert_uint_eq(rule(rs, "RAW_CHEAP3")->repeat_min, 3);
	ck_assert_uint_le(rule(rs, "BRACES")->repeat_min, 1);
	ck_assert_uint_le(rule(rs, "VERB")->repeat_min, 1);
	ck_assert(rule(rs, "__CHEAP2")->lazy);
	for (size_t c = 0; c < N_ELEMENTS(cases); c++) {
		struct rules_hits hits;
		struct msgview *mv;
		char *msg = NULL;

		ck_assert_int_ge(asprintf(&msg, "Subject: s\n\n%s", cases[c].body), 0);
		mv = match_message(rs, msg, NULL, 0, &hits);
		ck_assert_msg(hits.hits[rules_find(rs, "CHEAP3")] == cases[c].cheap3, "%s: %u",
			      cases[c].body, hits.hits[rules_find(rs, "CHEAP3")]);
		ck_assert_msg(hits.hits[rules_find(rs, "RAW_CHEAP3")] == cases[c].cheap3,
			      "%s: raw %u", cases[c].body, hits.hits[rules_find(rs, "RAW_CHEAP3")]);
		ck_assert_msg(hits.hits[rules_find(rs, "__CHEAP2")] == cases[c].cheap2, "%s: %u",
			      cases[c].body, hits.hits[rules_find(rs, "__CHEAP2")]);
		ck_assert_uint_eq(hits.hits[rules_find(rs, "BRACES")],
				  strstr(cases[c].body, "cheap{2,3,4}") != NULL);
		ck_assert_uint_eq(hits.hits[rules_find(rs, "VERB")], cases[c].cheap2);
		rules_hits_free(&hits);
		msgview_free(&mv);
		free(msg);
	}
	/* The count is final: with the bound raised above what the line
	 * holds, PCRE2 never sees it, and the rules miss what they match. */
	{
		struct rules_hits hits;
		struct msgview *mv;

		rs->rules[rules_find(rs, "CHEAP3")].repeat_min = 4;
		rs->rules[rules_find(rs, "__CHEAP2")].repeat_min = 4;
		mv = match_message(rs, "Subject: s\n\ncheap cheap cheap pills\n", NULL, 0, &hits);
		ck_assert_uint_eq(hits.hits[rules_find(rs, "CHEAP3")], 0);
		ck_assert_uint_eq(hits.hits[rules_find(rs, "__CHEAP2")], 0);
		ck_assert_uint_eq(hits.hits[rules_find(rs, "RAW_CHEAP3")], 1);
		rules_hits_free(&hits);
		msgview_free(&mv);
	}
	rules_free(&rs);
}
END_TEST

/* Loading JIT-compiles every piece and gate of the rules that run, on
 * all cores at the end (rules_build_prefilters_and_jit; a repeat-count
 * rule's pieces last, once compiled again for their offset limit), and
 * none of a rule the site scored 0, which runs interpreted for the few
 * users who score it. */
START_TEST(test_jit_all)
{
	static const char cf[] =
		"body RUNS /cheap\\s+pills/i\n"
		"header HDR Subject =~ /^hello/\n"
		"body GATED /(?:\\b|\\s)[_\\W]{0,3}v[_\\W]?i[_\\W]?a\\b/i\n"
		"body ZERO /never/\n"
		"score ZERO 0\n"
		/* recompiled for its repeat count, then JIT-compiled last */
		"body REPEATED /(?:cheap\\W+){3}/i\n";
	static const char *const running[] = { "RUNS", "HDR", "GATED", "REPEATED" };
	uint32_t jit = 0;
	struct rules_load_result res;
	struct ruleset *rs;
	size_t size, patterns = 0;

	ck_assert_int_eq(pcre2_config(PCRE2_CONFIG_JIT, &jit), 0);
	if (!jit)
		return;	/* a PCRE2 built without JIT: nothing to check */
	write_cf("40_jit.cf", cf);
	rs = load(&res);
	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(res.errors, 0);
	ck_assert_uint_gt(rule(rs, "GATED")->re.gate_count, 0);
	ck_assert(rule(rs, "REPEATED")->repeat_min == 3 && rule(rs, "REPEATED")->re.offset_limit);
	for (size_t k = 0; k < N_ELEMENTS(running); k++) {
		const struct rule *r = rule(rs, running[k]);

		patterns += r->re.count + r->re.gate_count;
		for (size_t i = 0; i < r->re.count; i++) {
			ck_assert_int_eq(pcre2_pattern_info(r->re.pieces[i], PCRE2_INFO_JITSIZE,
							    &size), 0);
			ck_assert_msg(size > 0, "%s piece %zu not JIT-compiled", running[k], i);
		}
		for (size_t i = 0; i < r->re.gate_count; i++) {
			ck_assert_int_eq(pcre2_pattern_info(r->re.gate[i], PCRE2_INFO_JITSIZE,
							    &size), 0);
			ck_assert_msg(size > 0, "%s gate %zu not JIT-compiled", running[k], i);
		}
	}
	ck_assert_int_eq(pcre2_pattern_info(rule(rs, "ZERO")->re.pieces[0], PCRE2_INFO_JITSIZE,
					    &size), 0);
	ck_assert_uint_eq(size, 0);
	/* counted once each, and none refused */
	ck_assert_uint_eq(res.patterns, patterns);
	ck_assert_uint_eq(res.patterns_not_jit, 0);
	rules_load_result_free(&res);
	rules_free(&rs);
}
END_TEST

static void ATTR_PRINTF(2, 3)
put(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ck_assert_int_ge(buf_vprintf(b, fmt, ap), 0);
	va_end(ap);
}

static void
put_rule(size_t rule, void *ctx)
{
	put(ctx, " %zu", rule);
}

/* What loading made of a rule set, as text: every rule's state and
 * compiled sizes, every view's prefilter, every diagnostic. */
static void
load_fingerprint(const struct ruleset *rs, const struct rules_load_result *res, struct buf *out)
{
	put(out, "loaded %u skipped %u errors %u patterns %u not_jit %u\n",
		   res->rules_loaded, res->rules_skipped, res->errors, res->patterns,
		   res->patterns_not_jit);
	for (size_t d = 0; d < res->diag_count; d++)
		put(out, "%s:%u:%d %s\n", res->diags[d].file, res->diags[d].line,
			   res->diags[d].error, res->diags[d].message);
	for (size_t i = 0; i < rs->count; i++) {
		const struct rule *r = &rs->rules[i];

		put(out, "%s skip %d always %zu repeat %u pieces %zu gates %zu limit %d "
			   "lazy %d weight %zu slot %d gate %s", r->name, (int)r->skip, r->always_slot1,
			   r->repeat_min, r->re.count, r->re.gate_count, r->re.offset_limit,
			   r->lazy, r->match_weight, r->header_slot,
			   r->gate_pattern != NULL ? r->gate_pattern : "-");
		for (size_t k = 0; k < r->re.count; k++)
			put(out, " %zu", rules_regex_code_size(r->re.pieces[k]));
		for (size_t k = 0; k < r->re.gate_count; k++)
			put(out, " g%zu", rules_regex_code_size(r->re.gate[k]));
		put(out, "\n");
	}
	put(out, "meta order:");
	for (size_t k = 0; k < rs->meta_count; k++)
		put(out, " %zu", rs->meta_order[k]);
	put(out, "\n");
	for (int t = 0; t < RULE_TYPE_COUNT; t++) {
		const struct prefilter *pf = &rs->views[t];

		put(out, "view %d db %d counts %d filtered %zu counted %zu always %zu "
			   "gated %zu:", t, pf->db != NULL, pf->count_db != NULL, pf->filtered_count,
			   pf->counted_count, pf->always_count, pf->gated_count);
		for (size_t k = 0; k < pf->always_count; k++) {
			put(out, " %zu/%u", pf->always[k], pf->gates[k].n);
			for (unsigned int g = 0; g < pf->gates[k].n; g++)
				for (size_t b = 0; b < sizeof(pf->gates[k].set[g]); b++)
					put(out, "%02x",
						   ((const unsigned char *)&pf->gates[k].set[g])[b]);
		}
		/* each database's rules, literal by literal */
		put(out, "\nliterals:");
		prefilter_name_all(pf->db, put_rule, out);
		put(out, "\ncounted:");
		prefilter_name_all(pf->count_db, put_rule, out);
		put(out, "\n");
	}
}

/* Loading runs its compiles, analyses, databases and JIT on every core the
 * process may use and puts the results together in rule order: pinned to
 * one core, SpamAssassin's rules load into the same rule set. */
START_TEST(test_load_same_on_one_core)
{
	const char *dirs[] = { "/usr/share/spamassassin" };
	struct rules_load_result res;
	struct ruleset *rs;
	struct buf all, one;
	cpu_set_t allowed, single;

	ck_assert_int_eq(access(dirs[0], R_OK), 0);
	ck_assert_int_eq(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
	if (CPU_COUNT(&allowed) < 2) {
		/* both loads would run on one thread: nothing to compare */
		fprintf(stderr, "test_load_same_on_one_core: one core only, not run\n");
		return;
	}
	buf_init(&all, 0);
	buf_init(&one, 0);
	rs = rules_load(dirs, 1, &res);
	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(res.errors, 0);
	load_fingerprint(rs, &res, &all);
	rules_load_result_free(&res);
	rules_free(&rs);

	CPU_ZERO(&single);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &allowed)) {
			CPU_SET(c, &single);
			break;
		}
	ck_assert_int_eq(sched_setaffinity(0, sizeof(single), &single), 0);
	rs = rules_load(dirs, 1, &res);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(allowed), &allowed), 0);
	ck_assert_ptr_nonnull(rs);
	load_fingerprint(rs, &res, &one);
	rules_load_result_free(&res);
	rules_free(&rs);

	ck_assert_uint_gt(all.len, 100000);
	ck_assert_msg(all.len == one.len && memcmp(all.data, one.data, all.len) == 0,
		      "loading on %d cores and on one differ", CPU_COUNT(&allowed));
	buf_free(&all);
	buf_free(&one);
}
END_TEST

/* The compiles run side by side, longest pattern first; their errors are
 * still reported in rule order, among the other diagnostics. */
START_TEST(test_load_diagnostics_in_order)
{
	struct buf cf, want;
	struct rules_load_result res;
	struct ruleset *rs;
	size_t seen = 0;

	buf_init(&cf, 0);
	buf_init(&want, 0);
	for (int i = 0; i < 60; i++) {
		if (i % 7 == 3) {
			/* broken, and longer than its neighbours */
			put(&cf, "body BAD%d /(?:unclosed%0*d/\n", i, 40 + i, i);
			put(&want, "body BAD%d: invalid regexp|", i);
		} else if (i % 11 == 5) {
			put(&cf, "body EVAL%d eval:no_such_eval_%d()\n", i, i);
			put(&want, "body EVAL%d: eval:no_such_eval_%d() not implemented|",
				   i, i);
		} else {
			put(&cf, "body FINE%d /fine%d/\n", i, i);
		}
	}
	write_cf("40_order.cf", cf.data);
	rs = load(&res);
	ck_assert_ptr_nonnull(rs);
	for (size_t d = 0; d < res.diag_count; d++) {
		const char *m = res.diags[d].message;

		if (strncmp(m, "body BAD", 8) != 0 && strncmp(m, "body EVAL", 9) != 0)
			continue;
		/* each expected message, in order, starts the next one */
		ck_assert_msg(seen < want.len && strncmp(want.data + seen, m,
							 strcspn(want.data + seen, "|")) == 0,
			      "diagnostic %zu out of order: %s", d, m);
		seen += strcspn(want.data + seen, "|") + 1;
	}
	ck_assert_uint_eq(seen, want.len);
	ck_assert_uint_eq(res.errors, 9);
	rules_load_result_free(&res);
	rules_free(&rs);
	buf_free(&cf);
	buf_free(&want);
}
END_TEST

/* Patterns too large for PCRE2's 8-bit library are split at an
 * alternation into pieces that compile, and match as the whole pattern
 * would: any piece for a hit, and for tflags multiple the same count (the
 * leftmost match of all pieces, the earliest piece on a tie).  What
 * cannot be split that way is reported with file:line and skipped. */
START_TEST(test_huge_pattern_split)
{
	static const char msg[] =
		"From: a@example.org\n"
		"Subject: test\n"
		"\n"
		"first line has w1499qyyend in it\n"
		"a1b2 a1 b2 b2a1b2\n"
		"tail target word\n";
	struct rules_load_result res;
	struct rules_hits hits;
	struct ruleset *rs;
	struct buf cf;

	buf_init(&cf, 0);
	/* 1: the alternation in a group between a prefix and a suffix */
	put_huge(&cf, "body HUGE /\\b(?:nomatch", 1500, ")end\\b/\n");
	/* 2: the same pattern with nothing that matches */
	put_huge(&cf, "body HUGE_NO /\\b(?:nomatch", 1500, ")endx\\b/\n");
	/* 3: top-level alternation, counted: "a1b2" comes first and "a1" and
	 * "b2" last, so adding up the pieces' own matches would count 10;
	 * the whole pattern matches w1499qyy on the first line, then a1b2,
	 * a1, b2, b2, a1b2 */
	put_huge(&cf, "body HUGE_MULTI /(?i)a1b2", 1500, "|a1|b2/\ntflags HUGE_MULTI multiple\n");
	/* 4: counted, but what comes before the alternation can match in two
	 * ways: the pieces' leftmost matches could differ, so refused */
	put_huge(&cf, "body HUGE_MULTI_BAD /(?:^|\\s)(?:a1b2", 1500, ")/\ntflags HUGE_MULTI_BAD multiple\n");
	/* 5: no alternation at all: reported and skipped */
	buf_put_str(&cf, "body HUGE_FLAT /x");
	for (int i = 0; i < 1500; i++)
		buf_putf(&cf, "w%dq[xyz]{1,40}", i);
	buf_put_str(&cf, "/\n");
	/* 6: one alternative too large on its own: split again inside it */
	put_huge(&cf, "body HUGE_NESTED /tail (?:zzz|(?:nope", 1500, "|target)) word/\n");
	/* 7: a repeated group, no alternation outside it: its repeats
	 * become calls of the group */
	put_huge(&cf, "body HUGE_REPEAT /(?:(?:a1", 700, "|b2)\\s?){3}/\n");
	buf_put_str(&cf, "body SMALL /target/\n");
	/* 11: a back reference: pieces would renumber the groups */
	put_huge(&cf, "body HUGE_BACKREF /(a1)(?:zz", 1500, ")\\1/\n");
	/* 12: counted with \G: a piece that failed at one start can match
	 * at the next, so its failures are not kept between counts; the
	 * count is that of the same small pattern, SMALL_G */
	put_huge(&cf, "body HUGE_G /\\G(?:first|line", 1500, "|\\s)/\ntflags HUGE_G multiple\n");
	buf_put_str(&cf, "body SMALL_G /\\G(?:first|line|\\s)/\ntflags SMALL_G multiple\n");

	rs = huge_match(cf.data, cf.len, msg, &res, &hits);
	ck_assert_uint_eq(rule(rs, "SMALL")->re.count, 1);
	ck_assert_uint_gt(rule(rs, "HUGE")->re.count, 1);
	ck_assert_uint_lt(rule(rs, "HUGE")->re.count, 10);
	ck_assert_int_eq(rule(rs, "HUGE")->skip, RULE_RUNS);
	ck_assert(has_diag(&res, 1, false, "split in"));
	ck_assert_uint_eq(hits.hits[rules_find(rs, "HUGE")], 1);
	ck_assert_uint_eq(hits.hits[rules_find(rs, "HUGE_NO")], 0);
	ck_assert_uint_gt(rule(rs, "HUGE_MULTI")->re.count, 1);
	ck_assert_uint_eq(hits.hits[rules_find(rs, "HUGE_MULTI")], 6);
	ck_assert(!rule(rs, "HUGE_MULTI")->re.start_dependent);
	ck_assert_uint_gt(rule(rs, "HUGE_G")->re.count, 1);
	ck_assert(rule(rs, "HUGE_G")->re.start_dependent);
	ck_assert_uint_ge(hits.hits[rules_find(rs, "SMALL_G")], 3);
	ck_assert_uint_eq(hits.hits[rules_find(rs, "HUGE_G")],
			  hits.hits[rules_find(rs, "SMALL_G")]);
	ck_assert_int_eq(rule(rs, "HUGE_MULTI_BAD")->skip, RULE_SKIP_BROKEN);
	ck_assert(has_diag(&res, 5, true, "tflags multiple"));
	ck_assert_int_eq(rule(rs, "HUGE_FLAT")->skip, RULE_SKIP_BROKEN);
	ck_assert(has_diag(&res, 7, true, "no alternation to split at"));
	ck_assert_uint_gt(rule(rs, "HUGE_NESTED")->re.count, 1);
	ck_assert_uint_eq(hits.hits[rules_find(rs, "HUGE_NESTED")], 1);
	ck_assert(rule(rs, "HUGE_REPEAT")->re.repeat_calls);
	ck_assert_uint_eq(hits.hits[rules_find(rs, "HUGE_REPEAT")], 1);
	ck_assert_uint_eq(hits.hits[rules_find(rs, "SMALL")], 1);
	ck_assert_int_eq(rule(rs, "HUGE_BACKREF")->skip, RULE_SKIP_BROKEN);
	ck_assert(has_diag(&res, 11, true, "a back reference keeps it from being split"));
	ck_assert_int_eq(res.errors, 3);
	rules_hits_free(&hits);
	rules_load_result_free(&res);
	rules_free(&rs);
	buf_free(&cf);
}
END_TEST

/* The pieces' match is the whole pattern's, per piece boundary: every
 * subject, every start offset, against the pattern compiled whole (small
 * enough here) and as forced pieces. */
START_TEST(test_pieces_leftmost)
{
	static const char *const alts[] = { "a1b2", "a1", "b", "b2a", "", "2" };
	static const char *const subjects[] = { "a1b2 a1 b2 b2a1b2", "xxb2a1", "2a1b",
						"", "zz" };
	char why[256];

	for (size_t cut = 1; cut < N_ELEMENTS(alts); cut++) {
		struct rule_regex rx = { 0 };
		struct buf whole, left, right;
		pcre2_code *re;
		pcre2_match_data *md = pcre2_match_data_create(8, NULL);

		buf_init(&whole, 0);
		buf_init(&left, 0);
		buf_init(&right, 0);
		buf_put_str(&whole, "/");
		buf_put_str(&left, "/");
		buf_put_str(&right, "/");
		for (size_t k = 0; k < N_ELEMENTS(alts); k++) {
			struct buf *side = k < cut ? &left : &right;
			bool first = k == 0 || k == cut;

			buf_putf(&whole, "%s%s", k > 0 ? "|" : "", alts[k]);
			buf_putf(side, "%s%s", first ? "" : "|", alts[k]);
		}
		buf_put_str(&whole, "/");
		buf_put_str(&left, "/");
		buf_put_str(&right, "/");
		re = rules_compile_regex(whole.data, why, sizeof(why));
		ck_assert_ptr_nonnull(re);
		rx.count = 2;
		rx.pieces = calloc(2, sizeof(*rx.pieces));
		rx.pieces[0] = rules_compile_regex(left.data, why, sizeof(why));
		rx.pieces[1] = rules_compile_regex(right.data, why, sizeof(why));
		ck_assert_ptr_nonnull(rx.pieces[0]);
		ck_assert_ptr_nonnull(rx.pieces[1]);
		for (size_t s = 0; s < N_ELEMENTS(subjects); s++) {
			size_t len = strlen(subjects[s]);

			for (size_t start = 0; start <= len; start++) {
				size_t ms = 0, me = 0;
				int rc = pcre2_match(re, (PCRE2_SPTR)subjects[s], len, start, 0,
						     md, NULL);
				int rc2 = rules_pieces_match(&rx, subjects[s], len, start, false,
							     md, NULL, NULL, &ms, &me);
				const PCRE2_SIZE *ov;

				ck_assert_int_eq(rc >= 0, rc2 >= 0);
				if (rc < 0)
					continue;
				/* (md was reused: match the whole again) */
				pcre2_match(re, (PCRE2_SPTR)subjects[s], len, start, 0, md, NULL);
				ov = pcre2_get_ovector_pointer(md);
				ck_assert_msg(ov[0] == ms && ov[1] == me,
					      "cut %zu, \"%s\" from %zu: %zu-%zu, pieces %zu-%zu",
					      cut, subjects[s], start, (size_t)ov[0],
					      (size_t)ov[1], ms, me);
			}
			/* counting as tflags multiple does, the pieces keeping
			 * their matches between counts: the same matches */
			{
				struct rules_piece_next next[2] = { 0 };
				size_t ws = 0, ps = 0;

				for (;;) {
					size_t ms = 0, me = 0;
					int rc = pcre2_match(re, (PCRE2_SPTR)subjects[s], len, ws,
							     0, md, NULL);
					int rc2 = ps <= len
						? rules_pieces_match(&rx, subjects[s], len, ps,
								     false, md, NULL, next,
								     &ms, &me)
						: -1;
					const PCRE2_SIZE *ov;

					if (ws > len)
						rc = -1;
					ck_assert_int_eq(rc >= 0, rc2 >= 0);
					if (rc < 0)
						break;
					pcre2_match(re, (PCRE2_SPTR)subjects[s], len, ws, 0, md,
						    NULL);
					ov = pcre2_get_ovector_pointer(md);
					ck_assert_msg(ov[0] == ms && ov[1] == me,
						      "cut %zu, \"%s\" counted: %zu-%zu, "
						      "pieces %zu-%zu", cut, subjects[s],
						      (size_t)ov[0], (size_t)ov[1], ms, me);
					ws = ps = me > ms ? me : me + 1;
				}
			}
		}
		pcre2_code_free(re);
		rules_regex_free(&rx);
		pcre2_match_data_free(md);
		buf_free(&whole);
		buf_free(&left);
		buf_free(&right);
	}
}
END_TEST


/* Matching, per rule type: what each kind of rule sees of a message and
 * how hits are counted (the expected counts are SpamAssassin's). */
static const char match_cf[] =
	"header H_SUBJ Subject =~ /hello/i\n"
	"header H_NEG Subject !~ /hello/i\n"
	"header H_EXISTS exists:X-Foo\n"
	"header H_ABSENT exists:X-Absent\n"
	"header H_UNSET X-Missing =~ /^default$/ [if-unset: default]\n"
	"header H_RAW Subject:raw =~ /=\\?utf-8\\?q\\?/i\n"
	"header H_DECODED Subject =~ /caf\\xc3\\xa9/\n"
	"header H_ADDR From:addr =~ /^bob\\@example\\.org$/\n"
	"header H_NAME From:name =~ /^Bob Smith$/\n"
	"header H_ALL ALL =~ /^X-Foo: bar$/m\n"
	"header H_TOCC ToCc =~ /carol\\@example\\.net/\n"
	"header H_MSGID MESSAGEID =~ /abc\\@example/\n"
	"header H_ENVFROM EnvelopeFrom =~ /bounce\\@example/\n"
	"body B_WORD /\\bviagra\\b/i\n"
	"body B_TAG /<b>/\n"
	"body B_MULTI /spam/\n"
	"tflags B_MULTI multiple\n"
	"body B_MAX /spam/\n"
	"tflags B_MAX multiple maxhits=2\n"
	"body B_ONE /spam/\n"
	"body B_HOSTILE /^(a+)+$/\n"
	/* tflags nosubject skips the body's first line, the Subject */
	"body B_NOSUBJ /\\S/\n"
	"tflags B_NOSUBJ nosubject\n"
	"body B_ANYTEXT /\\S/\n"
	"body B_SUBJ_MULTI /\\bsubj\\b/\n"
	"tflags B_SUBJ_MULTI multiple\n"
	"body B_NOSUBJ_MULTI /\\bsubj\\b/\n"
	"tflags B_NOSUBJ_MULTI multiple nosubject\n"
	"body B_LONG_A /a{1000}/\n"
	"rawbody RB_TAG /<b>bold/\n"
	"full F_SUBJ /^Subject: /m\n"
	/* URIs are recognised by their TLD, from the rule files (20_aux_tlds.cf) */
	"util_rb_tld com\n"
	"uri U_PATH /example\\.com\\/path/\n"
	"mimeheader M_ZIP Content-Type =~ /application\\/zip/\n"
	"mimeheader M_NOZIP Content-Type !~ /application\\/zip/\n"
	"mimeheader M_UNSET X-None =~ /^none$/ [if-unset: none]\n"
	"mimeheader M_TYPES Content-Type =~ /text\\//\n"
	"tflags M_TYPES multiple\n";

struct match_case {
	const char *name;
	const char *envelope_from;
	const char *message;
	const char *counts;	/* "RULE=N ..."; rules not named must not hit */
};

static const struct match_case match_cases[] = {
	{ "plain", "bounce@example.org",
	  "From: Bob Smith <bob@example.org>\n"
	  "To: carol@example.net\n"
	  "Subject: =?utf-8?q?Hello_caf=C3=A9?=\n"
	  "Message-ID: <abc@example.org>\n"
	  "X-Foo: bar\n"
	  "\n"
	  "Buy VIAGRA now spam spam spam\n\nhttp://example.com/path\n",
	  "H_SUBJ=1 H_EXISTS=1 H_UNSET=1 H_RAW=1 H_DECODED=1 H_ADDR=1 H_NAME=1 H_ALL=1 "
	  "H_TOCC=1 H_MSGID=1 H_ENVFROM=1 B_WORD=1 B_MULTI=3 B_MAX=2 B_ONE=1 F_SUBJ=1 "
	  "U_PATH=1 M_NOZIP=1 M_UNSET=1 B_NOSUBJ=1 B_ANYTEXT=1" },
	{ "multipart", NULL,
	  "From: x@example.org\n"
	  "Subject: other\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"BB\"\n"
	  "\n"
	  "--BB\n"
	  "Content-Type: text/html\n"
	  "\n"
	  "<html><body><b>bold</b> text</body></html>\n"
	  "--BB\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "plain part\n"
	  "--BB\n"
	  "Content-Type: application/zip\n"
	  "Content-Transfer-Encoding: base64\n"
	  "\n"
	  "UEsDBAoAAAAAAA==\n"
	  "--BB--\n",
	  "H_NEG=1 H_UNSET=1 F_SUBJ=1 RB_TAG=1 M_ZIP=1 M_UNSET=1 M_TYPES=2 B_NOSUBJ=1 "
	  "B_ANYTEXT=1" },
	/* PCRE2's match limit ends the exponential search: no hit, no hang;
	 * the rest of the line's rules still run. */
	{ "hostile", NULL,
	  "Subject: x\n\n"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\n"
	  "spam\n",
	  "H_NEG=1 H_UNSET=1 F_SUBJ=1 B_MULTI=1 B_MAX=1 B_ONE=1 M_NOZIP=1 M_UNSET=1 "
	  "B_NOSUBJ=1 B_ANYTEXT=1" },
	/* A Subject and an empty body: the nosubject rules see nothing (so
	 * SpamAssassin's EMPTY_MESSAGE, !__NONEMPTY_BODY, can hit). */
	{ "subject_only", NULL,
	  "Subject: subj only\n\n\n",
	  "H_NEG=1 H_UNSET=1 F_SUBJ=1 M_NOZIP=1 M_UNSET=1 B_ANYTEXT=1 B_SUBJ_MULTI=1" },
	/* The word in the Subject and twice in the body. */
	{ "subject_and_body", NULL,
	  "Subject: subj here\n\nsubj body\n\nsubj again\n",
	  "H_NEG=1 H_UNSET=1 F_SUBJ=1 M_NOZIP=1 M_UNSET=1 B_ANYTEXT=1 B_NOSUBJ=1 "
	  "B_SUBJ_MULTI=3 B_NOSUBJ_MULTI=2" },
};

static unsigned int
expected_count(const char *counts, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = counts; (p = strstr(p, name)) != NULL; p += n)
		if ((p == counts || p[-1] == ' ') && p[n] == '=')
			return (unsigned int)strtoul(p + n + 1, NULL, 10);
	return 0;
}

static void
match_one(const struct match_case *c, double time_limit, struct rules_hits *hits,
	  struct ruleset **rs_r)
{
	struct msgview *mv;

	*rs_r = load_clean("50_match.cf", match_cf);
	mv = match_message(*rs_r, c->message, c->envelope_from, time_limit, hits);
	msgview_free(&mv);
}

START_TEST(test_match_rule_types)
{
	const struct match_case *c = &match_cases[_i];
	struct rules_hits hits;
	struct ruleset *rs;

	match_one(c, 0, &hits, &rs);
	ck_assert(!hits.time_limit_exceeded);
	for (size_t i = 0; i < rules_count(rs); i++) {
		const char *name = rules_name(rs, i);

		if (name[0] == '_' || !rules_defined(rs, i))
			continue;
		ck_assert_msg(hits.hits[i] == expected_count(c->counts, name),
			      "%s: %s hit %u times, expected %u", c->name, name, hits.hits[i],
			      expected_count(c->counts, name));
	}
	rules_hits_free(&hits);
	rules_free(&rs);
}
END_TEST

/* The wall-clock backstop, made certain by a deadline already past when
 * the views are reached: the header rules ran, no view rule did, and the
 * result says so (the caller logs it). */
START_TEST(test_match_backstop)
{
	struct rules_hits hits;
	struct ruleset *rs;

	match_one(&match_cases[0], 1e-9, &hits, &rs);
	ck_assert(hits.time_limit_exceeded);
	ck_assert_uint_eq(hits.hits[rules_find(rs, "H_SUBJ")], 1);
	ck_assert_uint_eq(hits.hits[rules_find(rs, "B_WORD")], 0);
	ck_assert_uint_eq(hits.hits[rules_find(rs, "U_PATH")], 0);
	rules_hits_free(&hits);
	rules_free(&rs);
}
END_TEST

/* Parser.pm add_to_addrlist: NUL, "\\" and "(" of a pattern become "_";
 * the address is only lowercased, so its "(" is not an "_". */
START_TEST(test_addrlist_like_spamassassin)
{
	struct addrlist l = { 0 };

	addrlist_add_words(&l, "a(b@example.com  *@Example.ORG x?y@h.example c\\d@e.example");
	addrlist_add_rcvd(&l, "r(s@example.net  Relay.Example.NET");
	ck_assert(addrlist_match(&l, "A_B@example.com", NULL));
	ck_assert(!addrlist_match(&l, "a(b@example.com", NULL));
	ck_assert(addrlist_match(&l, "c_d@e.example", NULL));
	ck_assert(!addrlist_match(&l, "c\\d@e.example", NULL));
	ck_assert(addrlist_match(&l, "X(Y@h.example", NULL));
	ck_assert(addrlist_match(&l, "(q)@example.org", NULL));
	ck_assert(!addrlist_match(&l, "r(s@example.net", NULL));
	ck_assert(addrlist_match(&l, "r_s@example.net", NULL));
	ck_assert_str_eq(l.v[l.n - 1].rcvd_domain, "relay.example.net");
	addrlist_free(&l);
}
END_TEST

/* Entries are not checked for duplicates when added, so a repeated word
 * must change no answer and one removal must take out every copy. */
START_TEST(test_addrlist_repeated_words)
{
	struct addrlist l = { 0 };

	for (int i = 0; i < 3; i++)
		addrlist_add_words(&l, "a@example.com *@example.org a@example.com");
	for (int i = 0; i < 40; i++) {
		char word[32];

		(void)snprintf(word, sizeof(word), "u%d@example.net", i);
		addrlist_add_words(&l, word);
	}
	ck_assert_uint_eq(l.n, 49);
	ck_assert(addrlist_match(&l, "A@Example.com", NULL));
	ck_assert(addrlist_match(&l, "u39@example.net", NULL));
	addrlist_remove_words(&l, "A@EXAMPLE.COM u7@example.net");
	ck_assert_uint_eq(l.n, 42);
	ck_assert(!addrlist_match(&l, "a@example.com", NULL));
	ck_assert(!addrlist_match(&l, "u7@example.net", NULL));
	ck_assert(addrlist_match(&l, "b@example.org", NULL));
	ck_assert(addrlist_match(&l, "u8@example.net", NULL));
	addrlist_free(&l);

	addrlist_add_rcvd(&l, "r@example.net relay1.example.net");
	addrlist_add_rcvd(&l, "r@example.net relay2.example.net");
	ck_assert_uint_eq(l.n, 2);
	ck_assert_str_ne(l.v[0].rcvd_domain, l.v[1].rcvd_domain);
	addrlist_remove_words(&l, "r@example.net");
	ck_assert_uint_eq(l.n, 0);
	addrlist_free(&l);
}
END_TEST

/* The definition of a glob, for test_addrlist_glob_differential: '*'
 * any run of bytes, '?' one byte, anything else itself. */
static bool
glob_reference(const char *pat, const char *s)
{
	if (*pat == '\0')
		return *s == '\0';
	if (*pat == '*')
		return glob_reference(pat + 1, s) || (*s != '\0' && glob_reference(pat, s + 1));
	return *s != '\0' && (*pat == '?' || *pat == *s) && glob_reference(pat + 1, s + 1);
}

/* Up to max bytes drawn from alphabet into out, NUL-terminated; returns
 * the length. */
static size_t
random_word(unsigned int *seed, const char *alphabet, size_t max, char *out)
{
	size_t len, n = strlen(alphabet);

	*seed = *seed * 1103515245u + 12345u;
	len = (*seed >> 16) % (max + 1);
	for (size_t i = 0; i < len; i++) {
		*seed = *seed * 1103515245u + 12345u;
		out[i] = alphabet[(*seed >> 16) % n];
	}
	out[len] = '\0';
	return len;
}

/* addrlist_match (its tail check, then its walk) against the definition
 * on random patterns and addresses over a small alphabet, where stars,
 * marks and repeats meet often. */
START_TEST(test_addrlist_glob_differential)
{
	static const char pat_bytes[] = "ab@.*?";
	static const char addr_bytes[] = "ab@.";
	unsigned int seed = 12345, matches = 0;

	for (int round = 0; round < 200000; round++) {
		char pat[12], addr[12];
		size_t pl;
		struct addrlist l = { 0 };

		pl = random_word(&seed, pat_bytes, 8, pat);
		(void)random_word(&seed, addr_bytes, 9, addr);
		if (pl == 0)
			continue;	/* an empty word is no entry */
		addrlist_add_words(&l, pat);
		ck_assert_uint_eq(l.n, 1);
		ck_assert_msg(addrlist_match(&l, addr, NULL) == glob_reference(pat, addr),
			      "pattern \"%s\", address \"%s\"", pat, addr);
		matches += glob_reference(pat, addr);
		addrlist_free(&l);
	}
	/* both answers were drawn often */
	ck_assert_uint_gt(matches, 10000);
	ck_assert_uint_lt(matches, 190000);
}
END_TEST

static Suite *
rules_suite(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = ut_tcase(s, "rules", false);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_conditionals);
	tcase_add_test(tc, test_add_header_lines_logged);
	tcase_add_test(tc, test_comments_lang_include);
	tcase_add_test(tc, test_scores_and_skips);
	tcase_add_test(tc, test_eval_redefined);
	tcase_add_test(tc, test_header_rule_forms);
	tcase_add_test(tc, test_header_value_apart_bounded);
	tcase_add_test(tc, test_illegal_chars_in_place_bounded);
	tcase_add_test(tc, test_replace_tags);
	tcase_add_test(tc, test_replace_tags_bounded);
	tcase_add_test(tc, test_replace_tags_gate);
	tcase_add_test(tc, test_trim_gate);
	tcase_add_test(tc, test_meta_semantics);
	tcase_add_test(tc, test_meta_rules_matching_order);
	tcase_add_test(tc, test_lazy_subrules);
	tcase_add_test(tc, test_meta_pending_as_known);
	tcase_add_test(tc, test_meta_pending_spared);
	tcase_add_test(tc, test_hit_chance);
	tcase_add_test(tc, test_multiple_scores_each_hit);
	tcase_add_test(tc, test_score_format);
	tcase_add_test(tc, test_headers_rendering);
	tcase_add_test(tc, test_report_format);
	tcase_add_test(tc, test_score_set_follows_bayes_available);
	tcase_add_test(tc, test_report_empty_and_bayes);
	tcase_add_test(tc, test_report_wrap_width);
	tcase_add_test(tc, test_user_scores_site_zero_rule);
	tcase_add_test(tc, test_user_uri_host_lists);
	tcase_add_test(tc, test_user_bounce_relays);
	tcase_add_test(tc, test_user_ok_locales);
	tcase_add_test(tc, test_allow_user_rules_setting);
	tcase_add_test(tc, test_prefs_long_line);
	tcase_add_test(tc, test_prefs_score_values);
	tcase_add_test(tc, test_user_rules);
	tcase_add_test(tc, test_user_rules_bounded);
	tcase_add_test(tc, test_prefilter_literals);
	tcase_add_test(tc, test_prefilter_sound);
	tcase_add_test(tc, test_header_prefilter);
	tcase_add_test(tc, test_jit_all);
	tcase_add_test(tc, test_load_same_on_one_core);
	tcase_add_test(tc, test_load_diagnostics_in_order);
	tcase_add_test(tc, test_repeat_count_gate);
	tcase_add_test(tc, test_regex_delimiters);
	tcase_add_test(tc, test_huge_pattern_split);
	tcase_add_test(tc, test_pieces_leftmost);
	tcase_add_loop_test(tc, test_match_rule_types, 0, N_ELEMENTS(match_cases));
	tcase_add_test(tc, test_match_backstop);
	tcase_add_test(tc, test_addrlist_like_spamassassin);
	tcase_add_test(tc, test_addrlist_repeated_words);
	tcase_add_test(tc, test_addrlist_glob_differential);
	return s;
}

int
main(void)
{
	return ut_run(rules_suite);
}
