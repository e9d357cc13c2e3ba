/* Scoring one message for one recipient: the rule hits of the message
 * (rules_match, once per message) totalled with that user's scores,
 * welcome/block lists and threshold, and the X-Spam-* headers rendered from
 * the result exactly as SpamAssassin's default add_header templates do.
 *
 * Per-user preferences come from a SpamAssassin user_prefs file: the lines
 * required_score, score, and the welcomelist/blocklist family (_from,
 * _from_rcvd, _to, more_spam_to, all_spam_to and their un- forms).  Rule
 * definitions only when the site's rule files say allow_user_rules 1: then
 * the file's header, body, rawbody, full, uri and meta rules (with their
 * score, describe and tflags lines) are compiled for that user
 * (rules_user.c), and totalled with the site's.  A score line may enable a
 * header, body, rawbody, full, uri or meta rule the site scored 0, as
 * under spamd: the caller matches those rules for that user first
 * (score_prefs_site_zero, rules_match_site_zero). */
#ifndef LMTPD_SCORE_H
#define LMTPD_SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "compat.h"
#include "rules.h"

struct msgview;
struct score_prefs;

/* Reads a user_prefs file.  A missing file gives NULL and no error (the
 * site settings apply); a bad line is reported through warn (may be NULL)
 * as "file:line: why" and skipped. */
struct score_prefs *score_prefs_load(const struct ruleset *rs, const char *path,
				     void (*warn)(const char *msg));
void score_prefs_free(struct score_prefs **prefs);
/* The rules the site scored 0 that prefs give a score (NULL prefs: none);
 * rules_match_site_zero must see them before the total is computed. */
const size_t *score_prefs_site_zero(const struct score_prefs *prefs, size_t *count_r);

/* allow_user_rules: the site's rules plus the user's own from prefs
 * (NULL prefs, or none defined: NULL).  Valid while prefs lives. */
const struct ruleset *score_prefs_rules(const struct score_prefs *prefs);
/* Another reference (score_prefs_free drops one), for caches. */
struct score_prefs *score_prefs_ref(struct score_prefs *prefs);
/* Whether prefs were read from the file st describes (device, inode,
 * size, mtime and ctime unchanged). */
struct stat;
bool score_prefs_same_file(const struct score_prefs *prefs, const struct stat *st);

struct score_hit {
	size_t rule;
	unsigned int count;	/* > 1 for tflags multiple */
	double score;		/* the points of one hit */
};

struct score_result {
	/* the ruleset hits index, set by score_compute: the user's rules
	 * when they were used (valid while the prefs live), else the site's;
	 * score_tests, spamhdr_render and score_report read names from it */
	const struct ruleset *rules;
	double score;		/* rounded to 3 decimals, as SpamAssassin */
	double required;
	bool is_spam;
	struct score_hit *hits;	/* scored rules that hit, sorted by name */
	size_t hit_count;
	const char *autolearn;	/* "no", "ham", "spam", "disabled", ... */
	int score_set;
	bool time_limit_exceeded;
	/* PerMsgStatus::_get_autolearn_points: the hits rescored without
	 * Bayes (set & ~2), rules with tflags learn, noautolearn and userconf
	 * left out; head and body points by rule type (metas split by their
	 * dependencies); learned_points: the tflags learn rules (BAYES_*). */
	double autolearn_points, head_points, body_points, learned_points;
	double bayes_prob;	/* -1 when Bayes did not answer */
	/* test_log lines of the evals (copies; only those of rules in hits
	 * are shown), for X-Spam-Report. */
	struct rules_log *logs;
	size_t log_count;
};

/* Totals hits for one recipient (prefs may be NULL: site settings). */
void score_compute(const struct ruleset *rs, const struct rules_hits *hits,
		   struct msgview *mv, const struct score_prefs *prefs,
		   struct score_result *out);
/* The same with Bayes: bayes_available when the database has learned
 * enough to answer (score set 2 then applies, as in SpamAssassin, whose
 * set follows is_scan_available), and the message's probability for this
 * recipient (bayes_prob < 0: no answer for this message), which
 * check_bayes (the BAYES_* rules) sees. */
void score_compute_bayes(const struct ruleset *rs, const struct rules_hits *hits,
			 struct msgview *mv, const struct score_prefs *prefs,
			 bool bayes_available, double bayes_prob, struct score_result *out);
/* AutoLearnThreshold's verdict on a result: 1 learn as spam, 0 as ham,
 * -1 neither (between the thresholds, too few head or body points, the
 * learner disagreeing, or the verdict not matching is_spam). */
int score_autolearn_verdict(const struct score_result *r, double threshold_nonspam,
			    double threshold_spam);
void score_result_free(struct score_result *r);

/* "5.7" as SpamAssassin prints it (a ham just below the threshold prints
 * as 4.9, never 5.0). */
void score_format(const struct score_result *r, char *out, size_t out_size);
/* "RULE_A,RULE_B" (names repeated for multiple hits) or "none". */
void score_tests(const struct score_result *r, struct buf *out);

/* The X-Spam-* header block (each line ending in "\n"):
 * X-Spam-Checker-Version, X-Spam-Flag (spam only), X-Spam-Level,
 * X-Spam-Status (folded as SpamAssassin folds it), X-Spam-Score, and
 * when report is true X-Spam-Report, SpamAssassin's _REPORT_ (the header
 * report_safe 0 adds), on every message:
 *   X-Spam-Report: 
 *   	*  1.5 RULE_NAME BODY: Description, wrapped at 75 columns
 *   	*      continued
 *   	*      [test_log line]
 * one line per hit, in name order (empty when nothing hit). */
void spamhdr_render(const struct score_result *r, const char *hostname, bool report,
		    struct buf *out);
/* The end of SpamAssassin's report template (10_default_prefs.cf) as
 * get_report renders it: "Content analysis details:   (5.7 points, 5.0
 * required)", a blank line, the " pts rule name  description" table head
 * and _SUMMARY_, one line per hit, then a blank line. */
void score_report(const struct score_result *r, struct buf *out);

#endif
