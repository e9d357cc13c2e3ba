/* The scoring module's front door for the daemon and the tools: load the
 * rules named by the config, score a message once, total it per recipient,
 * and produce the X-Spam-* headers and the message without inbound X-Spam-*
 * headers (a sender cannot vouch for itself).
 *
 * scoring_new() runs in the master before fork (rules are compiled once and
 * shared copy-on-write); every process then calls scoring_after_fork()
 * before scoring, for its own match scratch space. */
#ifndef LMTPD_SCORING_H
#define LMTPD_SCORING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/uio.h>
#include "buf.h"
#include "compat.h"
#include "score.h"

struct lmtpd_config;
struct scoring;
struct scoring_msg;

/* Loads the rules of cfg->rules_dir (rules_override, a comma list, replaces
 * it).  With lint_out, every diagnostic is printed there as
 * "file:line: message"; without, errors are logged as warnings.  Returns
 * NULL when rules_dir is empty (scoring is off). */
struct scoring *scoring_new(const struct lmtpd_config *cfg, const char *rules_override,
			    FILE *lint_out);
void scoring_free(struct scoring **sc);
/* Before forking long-lived processes that will score (the daemon's
 * workers): compiles now what would otherwise be compiled in each of them
 * on first use. */
void scoring_before_fork(struct scoring *sc);
/* Before forking the processes of a batch (lmtpd-score -j): the same
 * minus the compiling each of them does cheaper on its own, on demand;
 * with copy_bayes (a batch long enough to pay for it), the whole Bayes
 * database is copied once here for all of them (bayes_prepare_fork). */
void scoring_before_fork_batch(struct scoring *sc, bool copy_bayes);
void scoring_after_fork(struct scoring *sc);
const struct ruleset *scoring_rules(const struct scoring *sc);
unsigned int scoring_lint_errors(const struct scoring *sc);

/* The prefs of user ("local@domain", as rcpt_resolve made it) with home
 * its home directory, from the spam_prefs template; NULL when there is
 * none.  With allow_user_rules they come from (and go into) sc's
 * per-process cache of compiled prefs files. */
struct score_prefs *scoring_prefs_for_home(struct scoring *sc, const char *user,
					   const char *home,
					   void (*warn)(const char *msg));

/* Parses and matches a message once (data must outlive the result).  sc
 * is not const here nor in the totals below: matching writes this
 * process's scratch space in it, and Bayes opens, reads and learns
 * through its classifier. */
struct scoring_msg *scoring_msg_new(struct scoring *sc, const char *data,
				    size_t len, const char *envelope_from);
void scoring_msg_free(struct scoring_msg **msg);
/* Totals for one recipient (prefs may be NULL).  With Bayes on, the
 * message is classified against user's database (with bayes_per_user; else
 * the site's; user may be NULL) and, with autolearn, learned when
 * AutoLearnThreshold says so (out->autolearn "spam"/"ham", "no", "failed"
 * when the database failed).  A database error never fails this: the
 * recipient is scored without Bayes. */
void scoring_msg_total(struct scoring *sc, struct scoring_msg *msg,
		       const struct score_prefs *prefs, const char *user,
		       struct score_result *out);
/* Bayes for this process: use it (the daemon's default when use_bayes is
 * 1) and autolearn (when bayes_auto_learn is also 1).  Tools that only
 * read turn autolearn off, and Bayes then opens its databases read-only
 * (bayes_set_read_only). */
void scoring_set_bayes(struct scoring *sc, bool use, bool autolearn);
/* The classifier (NULL when use_bayes is 0), for lmtpd-learn; writable,
 * so only from a writable sc. */
struct bayes *scoring_bayes(struct scoring *sc);
/* The bayes_* settings of the rule files (meaningful when scoring_bayes
 * is not NULL). */
struct bayes_settings;
const struct bayes_settings *scoring_bayes_settings(const struct scoring *sc);
/* The message's Bayes tokens (made once per message). */
struct bayes_tokens;
const struct bayes_tokens *scoring_msg_tokens(const struct scoring *sc,
					      struct scoring_msg *msg);
/* The Bayes tokens of a message without matching any rule (lmtpd-learn);
 * free with bayes_tokens_free.  Reads sc only (the tokenizer's memos are
 * its own, per process). */
void scoring_tokenize(const struct scoring *sc, const char *data, size_t len,
		      struct bayes_tokens *out);
/* The raw rule hits of the message (before per-user totals): rule index
 * -> count, for diagnostics and the parity test.  Sub-rules no meta has
 * asked for yet are matched first. */
const struct rules_hits *scoring_msg_hits(const struct scoring *sc,
					  const struct scoring_msg *msg);
/* Both, for a one-off message. */
void scoring_score_message(struct scoring *sc, const char *data, size_t len,
			   const char *envelope_from, const struct score_prefs *prefs,
			   struct score_result *out);

/* The X-Spam-* block for a result (spam_report from the config decides
 * X-Spam-Report). */
void scoring_headers(const struct scoring *sc, const struct score_result *r,
		     struct buf *out);
/* The message with inbound X-Spam-* header fields removed: data itself
 * when it has none (no copy), else a copy stored in *copy_r that the
 * caller frees (*copy_r is NULL otherwise).  Never fails. */
const char *scoring_clean(const char *data, size_t len, char **copy_r, size_t *len_r);
/* The message as scoring saw it, inbound X-Spam-* removed: what is
 * delivered.  Valid while m lives. */
const char *scoring_msg_data(const struct scoring_msg *m, size_t *len_r);
/* The whole rewritten message: a leading Return-Path, the X-Spam-* block,
 * then the message without inbound X-Spam-* (line ends as in the input). */
void scoring_rewrite(const struct scoring *sc, const char *data, size_t len,
		     const struct score_result *r, struct buf *out);

/* Messages of an mbox buffer (or the one message of a plain file), as
 * they were before they went into the mbox, so that a message counts the
 * same from an mbox as from its own file: the "From " separator lines and
 * the empty line the format adds before each of them (and at the end) are
 * not part of the messages, and ">From ", ">>From ", ... lines lose one
 * '>' (mboxrd; in an mboxo file, a body line that was ">From " before it
 * went in comes out as "From ").  A message returned lives until the next
 * call or scoring_mbox_free. */
struct scoring_mbox {
	const char *p, *end;
	bool is_mbox;
	bool first;		/* the next message is the file's first */
	char *copy;		/* the message unquoted, when it had to be */
};
void scoring_mbox_init(struct scoring_mbox *mb, const char *data, size_t len);
bool scoring_mbox_next(struct scoring_mbox *mb, const char **msg_r, size_t *len_r);
void scoring_mbox_free(struct scoring_mbox *mb);
unsigned int scoring_mbox_count(const char *data, size_t len);
/* Where the next message of an mbox starts: the first "From " line after
 * an empty line whose newline lies in [from, end), or NULL.  The message
 * began at start (<= from); the bytes between are only looked at, so a
 * caller reading in pieces can give the end of the last piece again. */
const char *scoring_mbox_boundary(const char *start, const char *from, const char *end);

#endif
