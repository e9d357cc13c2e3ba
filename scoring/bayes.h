/* Bayes: a trainable classifier in SpamAssassin's manner (Plugin/Bayes.pm,
 * Bayes/CombineChi.pm).  Three parts:
 *
 *   bayes_tok.c    the tokenizer: header tokens prefixed by field
 *                  ("H*Ad:", "H*r:", ...), words of the rendered body,
 *                  URI domains ("UD:"), bounded token length and count
 *                  (BAYES_TOKEN_MAX, BAYES_TOKENS_MAX in lmtpd_limits.h)
 *   bayes_store.c  token counts (spam, ham, last learned) and the totals in
 *                  Berkeley DB (lib/dbenv.h), a seen database so a message
 *                  counts once, and expiry keeping the database bounded
 *   bayes.c        settings, Robinson's per-token probability, Fisher's
 *                  chi-square combining, and the per-process front end
 *
 * Every database error is reported (-1, logged as a warning) and never
 * fails a delivery: the caller scores without Bayes.  A struct bayes is per
 * process (it opens the environment on first use, after fork); not
 * thread-safe. */
#ifndef LMTPD_BAYES_H
#define LMTPD_BAYES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "compat.h"
#include "strlist.h"

struct msgview;
struct strset;

/* SpamAssassin's constants (Bayes/CombineChi.pm, Plugin/Bayes.pm). */
#define BAYES_FW_X		0.538	/* Robinson's x: prob of an unseen token */
#define BAYES_FW_S		0.030	/* Robinson's s: strength of x */
#define BAYES_MIN_PROB_STRENGTH	0.346	/* |p - 0.5| below this: ignored */
#define BAYES_N_SIGNIFICANT	150	/* strongest tokens combined */

/* The bayes_* settings of the rule files, SpamAssassin's names and
 * defaults. */
struct bayes_settings {
	unsigned int min_spam_num;		/* bayes_min_spam_num 200 */
	unsigned int min_ham_num;		/* bayes_min_ham_num 200 */
	bool auto_learn;			/* bayes_auto_learn 1 */
	double auto_learn_threshold_nonspam;	/* 0.1 */
	double auto_learn_threshold_spam;	/* 12.0 */
	bool use_hapaxes;			/* bayes_use_hapaxes 1 */
	unsigned int max_token_length;		/* bayes_max_token_length 15 */
	bool auto_expire;			/* bayes_auto_expire 1 */
	unsigned int expiry_max_db_size;	/* bayes_expiry_max_db_size 150000 */
	/* bayes_seen_ttl 8d (SpamAssassin's Redis store; its file store never
	 * expires the seen database): seconds a message may go unlearned and
	 * unpresented before it is forgotten as seen; 0 keeps it for ever */
	uint32_t seen_ttl;
	struct strset *ignore_headers;		/* bayes_ignore_header, lowercased */
	/* bayes_stopword_languages and bayes_stopword_xx: the compiled
	 * "^(?i)RE$" patterns of the enabled languages (pcre2_code *). */
	void **stopwords;
	size_t stopword_count;
	/* Tells these settings from any others of the process, freed ones
	 * included (the tokenizer remembers stopword answers by it). */
	uint64_t serial;
	/* lmtpd's own settings, not SpamAssassin's, whose constants above
	 * are their defaults: bayes_robinson_s, bayes_robinson_x,
	 * bayes_min_prob_strength, bayes_n_significant (bench/bayes-cv
	 * compares values on the training messages). */
	double robinson_s, robinson_x, min_prob_strength;
	unsigned int n_significant;
};

/* Parses key/value pairs (the ruleset's bayes_settings); warn (may be
 * NULL) gets "key: why" for bad values, which keep their defaults. */
void bayes_settings_init(struct bayes_settings *s, const struct strlist *pairs,
			 void (*warn)(const char *msg));
void bayes_settings_free(struct bayes_settings *s);

/* ---- tokenizer (bayes_tok.c) ---- */

/* The distinct tokens of one message (each at most BAYES_TOKEN_MAX bytes,
 * at most BAYES_TOKENS_MAX of them), sorted bytewise, and the key the seen
 * database knows the message by: its Message-ID and a hash of its body, so
 * a message reusing another's ID still counts once; without an ID, the
 * hash covers its Date, From, Subject and last Received too. */
struct bayes_tokens {
	struct strlist list;
	char *seen_key;
	/* NULL: list owns its strings (a list built by hand); else
	 * bayes_tokenize's one block holding them all */
	char *arena;
};

/* data/len: the message the msgview views (for the body hash). */
void bayes_tokenize(const struct bayes_settings *s, struct msgview *mv,
		    const char *data, size_t len, struct bayes_tokens *out);
void bayes_tokens_free(struct bayes_tokens *t);
/* _tokenize_line's s/(?:^|\.\s+)([A-Z])([^A-Z]+)(?:\s|$)/ \l$1$2 /g over
 * str (as PCRE2 runs it, without its match limits) into out, which is
 * reset first. */
struct buf;
void bayes_title_words(const char *str, size_t len, struct buf *out);
/* s/RE/REPL/ (g when global) of s[0..len) into out (no maximum) as
 * pcre2_substitute with PCRE2_SUBSTITUTE_EXTENDED gives it; re is an
 * 8-bit pcre2_code, md match data for it.  False when the substitution
 * finds nothing or fails (a match limit): out is then left as it was.
 * out may be the buffer s is in. */
bool bayes_subst_re(void *re, void *md, const char *s, size_t len, const char *repl,
		    bool global, struct buf *out);
/* Three of _tokenize_headers' substitutions written out (the unit test
 * compares them with PCRE2 running SpamAssassin's patterns), byte by
 * byte: s/[^_A-Za-z0-9]/ /g and s/[a-fA-F0-9]/H/g in place, and
 * s/([-_\.=]+)/ $1 /g into out, which is reset first. */
void bayes_subst_nonword(char *s, size_t len);
void bayes_subst_hex(char *s, size_t len);
void bayes_subst_punct(const char *s, size_t len, struct buf *out);
/* And three of the Received and relay headers', into out (reset first),
 * false (out untouched) when nothing matches: s/ [a-z]+=/ /g,
 * s/\b(?:with|from|for|SMTP|ESMTP)\b/ /g and
 * s/\b(\d{1,3}\.)(\d{1,3}\.)(\d{1,3})(\.\d{1,3})\b/$1$2$3 ip*$1$2$3$4 /g;
 * and Received's date substitution, PCRE2 starting only where a month's
 * name allows. */
bool bayes_subst_rcvd_date(const char *s, size_t len, struct buf *out);
bool bayes_subst_relays(const char *s, size_t len, struct buf *out);
bool bayes_subst_rcvd_words(const char *s, size_t len, struct buf *out);
bool bayes_subst_rcvd_ip(const char *s, size_t len, struct buf *out);
/* One line of text as _tokenize_line does it: region 0 header, 1 body,
 * 2 URI; tokens (duplicates included, prefixed) are added to out. */
void bayes_tokenize_line(const struct bayes_settings *s, const char *line, size_t len,
			 const char *prefix, int region, struct strlist *out);

/* ---- store (bayes_store.c) ---- */

struct db_env;
struct bayes_store;

struct bayes_counts {
	uint32_t spam, ham, atime;
};

struct bayes_totals {
	uint32_t nspam, nham, ntokens;
	uint32_t oldest_atime, newest_atime, last_expire;
};

enum bayes_class {
	BAYES_SPAM,
	BAYES_HAM,
	BAYES_FORGET
};

enum bayes_learn_result {
	BAYES_LEARNED,		/* counted (or moved from the other class) */
	BAYES_ALREADY,		/* seen with this class already: unchanged */
	BAYES_UNKNOWN,		/* forget of a message never learned */
	BAYES_OPPOSITE,		/* learned the other way, and BAYES_LEARN_NO_RELEARN */
};

/* How bayes_store_learn and bayes_learn learn (or'ed together). */
enum bayes_learn_flags {
	/* the commit reaches the log on disk before returning (lmtpd-learn);
	 * without, a crash may lose the last few autolearns, never
	 * consistency */
	BAYES_LEARN_DURABLE = 1,
	/* a message learned the other way stays as it is (BAYES_OPPOSITE):
	 * autolearn never overrides what was trained by hand, as
	 * SpamAssassin's (its bug 3704, no_relearn) */
	BAYES_LEARN_NO_RELEARN = 2,
};

/* Opens the databases of user (NULL: the site-wide ones) in env; user is
 * encoded into a file name (no '/', no leading '.').  Returns NULL with
 * *error_r (malloc'd). */
struct bayes_store *bayes_store_open(struct db_env *env, const char *user,
				     char **error_r) ATTR_WUR;
/* The same for a process that only classifies: the files must exist
 * (errno ENOENT if not), and are opened read-only, which lets Berkeley DB
 * map them instead of reading them page by page while nobody writes. */
struct bayes_store *bayes_store_open_read_only(struct db_env *env, const char *user,
					       char **error_r) ATTR_WUR;
void bayes_store_close(struct bayes_store **st);

/* Reads the totals and the counts of tokens[0..n) (sorted; may be NULL)
 * in one transaction; unknown tokens count zero.  Returns 0 or -1. */
int bayes_store_lookup(struct bayes_store *st, const struct strlist *tokens,
		       struct bayes_totals *tot_r, struct bayes_counts *counts_r) ATTR_WUR;
int bayes_store_totals(struct bayes_store *st, struct bayes_totals *tot_r) ATTR_WUR;
/* A token's time moves on when a message that holds it is classified, at
 * most once this often (SpamAssassin's tok_touch_all moves it at every
 * scan; expiry only needs to know which tokens mail no longer shows). */
#define BAYES_TOUCH_SECS (12 * 3600)
/* The tokens of a classified message (tokens and the counts its lookup
 * gave) marked in which (those that decided) that are in the database
 * with a time BAYES_TOUCH_SECS or more before atime get atime, so expiry
 * drops the tokens mail no longer shows, not those learned long ago and
 * seen every day.  Counts, totals and the generation do not change.  One
 * attempt: on a lock conflict nothing is touched (the next message will).
 * Returns the number of tokens touched, or -1. */
long bayes_store_touch(struct bayes_store *st, const struct strlist *tokens,
		       const struct bayes_counts *counts, const bool *which, uint32_t atime);
/* Tokens in the handle's copy of the whole database, 0 without one.  A
 * handle that has searched the database for enough single tokens under
 * one generation reads all of it once, then answers from memory until the
 * generation moves (BAYES_SNAPSHOT_TOKENS bounds the memory). */
size_t bayes_store_snapshot_size(const struct bayes_store *st);
/* bulk: many lookups follow under one generation (a command-line run over
 * many messages), so the copy is taken at the first lookup instead. */
void bayes_store_set_bulk(struct bayes_store *st, bool bulk);
/* With bulk set: reads the whole database now (a lookup of no real
 * token).  Returns 0 or -1. */
int bayes_store_preload(struct bayes_store *st) ATTR_WUR;
/* A handle's copy of the database, taken away from it (NULL without one),
 * and given to another handle of the same database: a process that
 * forked keeps reading its parent's copy, shared page by page, for as
 * long as the generation it was made at lasts. */
struct bayes_store_copy;
struct bayes_store_copy *bayes_store_take_copy(struct bayes_store *st);
void bayes_store_give_copy(struct bayes_store *st, struct bayes_store_copy **copy);
void bayes_store_free_copy(struct bayes_store_copy **copy);
/* Learns (or forgets) one message in one transaction: the seen entry, the
 * totals and every token change together or not at all.  flags: enum
 * bayes_learn_flags.  Returns 0 with *result_r, or -1. */
int bayes_store_learn(struct bayes_store *st, const struct bayes_tokens *toks,
		      enum bayes_class cls, time_t atime, unsigned int flags,
		      enum bayes_learn_result *result_r) ATTR_WUR;
/* Seen entries last ttl seconds (0: for ever) from when the message was
 * last learned or presented again: a learn that finds a message already
 * learned then refreshes its entry once it is ttl / 8 old, so a folder
 * trained again and again keeps its messages known.  Set on a store that
 * writes, before its first learn. */
void bayes_store_set_seen_ttl(struct bayes_store *st, uint32_t ttl);
/* New messages learned (all processes) between two purges of the seen
 * entries. */
#define BAYES_SEEN_PURGE_EVERY 256
/* Whether the store's last learn was the one of every
 * BAYES_SEEN_PURGE_EVERY new messages that should purge the seen
 * entries (bayes_store_purge_seen). */
bool bayes_store_seen_purge_due(const struct bayes_store *st);
/* Removes seen entries older than the store's ttl at now, looking at up
 * to max_examined entries (SIZE_MAX: all of them) from where the
 * last purge of this database stopped (kept in the database, so every
 * process goes on with the same pass), in small transactions.  Entries
 * written before seen entries had a time get now's.  Returns the number
 * removed, or -1 (logged). */
long bayes_store_purge_seen(struct bayes_store *st, time_t now, size_t max_examined) ATTR_WUR;
/* When the database holds more than max_tokens tokens, removes the least
 * recently learned down to 3/4 of it (rare ones first among equals), in
 * small transactions.  Returns the number removed, or -1. */
long bayes_store_expire(struct bayes_store *st, uint32_t max_tokens) ATTR_WUR;
/* Calls fn for every token (dump, expiry); stops when fn returns
 * non-zero.  Returns 0 or -1. */
int bayes_store_walk(struct bayes_store *st,
		     int (*fn)(const char *tok, size_t len, const struct bayes_counts *c,
			       void *ctx), void *ctx) ATTR_WUR;

/* ---- classifier (bayes.c) ---- */

/* Robinson's f(w) for a token seen s times in spam and n in ham out of ns
 * spam and nn ham messages; false when the token is not usable (never
 * seen, a hapax without use_hapaxes, or ns or nn zero). */
bool bayes_token_prob(uint32_t s, uint32_t n, uint32_t ns, uint32_t nn,
		      bool use_hapaxes, double *prob_r);
/* The same with Robinson's strength rs and unseen-token probability rx
 * (bayes_token_prob uses BAYES_FW_S and BAYES_FW_X). */
bool bayes_token_prob_sx(uint32_t s, uint32_t n, uint32_t ns, uint32_t nn,
			 bool use_hapaxes, double rs, double rx, double *prob_r);
/* CombineChi::chi2q and ::combine; combine returns -1 for an empty list. */
double bayes_chi2q(double x2, size_t halfv);
double bayes_combine(uint32_t ns, uint32_t nn, const double *probs, size_t n);
/* The probability of a message from its token counts (the
 * s->n_significant strongest, those of strength >= s->min_prob_strength);
 * false when nothing is usable. */
bool bayes_score_counts(const struct bayes_settings *s, const struct bayes_totals *tot,
			const struct bayes_counts *counts, size_t n, double *prob_r);

/* The per-process front end: the environment under state_dir, opened on
 * first use; the site-wide store, or one per user with per_user. */
struct bayes;
struct bayes *bayes_new(const struct bayes_settings *s, const char *state_dir,
			bool per_user);
void bayes_free(struct bayes **b);
/* Many messages are to be classified in a row (lmtpd-score over folders):
 * every store opened copies its whole database at its first lookup. */
void bayes_set_bulk(struct bayes *b, bool bulk);
/* This process only classifies (lmtpd-score): stores are opened with
 * bayes_store_open_read_only, and a database not made yet means no Bayes
 * answer, quietly, rather than a logged failure. */
void bayes_set_read_only(struct bayes *b, bool read_only);
/* Before forking processes that will classify many messages: opens the
 * site database and copies it (bayes_set_bulk), so that every child
 * starts from that one copy instead of reading the database itself; the
 * caller keeps the environment open until the children are done.  A
 * no-op with per-user databases. */
void bayes_prepare_fork(struct bayes *b);
/* Forgets handles inherited across fork (call in the child). */
void bayes_after_fork(struct bayes *b);
/* Closes this process's database handles (reopened on the next use): for
 * a process about to _exit(), which skips the atexit close, so that it
 * does not look like one that died holding the environment. */
void bayes_close(struct bayes *b);
/* Whether user's database (the site's when user is NULL) has learned
 * enough to answer: 1 yes, 0 no (or no database yet), -1 on a database
 * error (logged).  Asked before a message is tokenized, which costs more
 * than the answer. */
int bayes_ready(struct bayes *b, const char *user);
/* Returns 1 with *prob_r when the message is scored, 0 when Bayes cannot
 * answer (fewer than bayes_min_*_num learned), 2 when it could but the
 * message has no token strong enough (SpamAssassin then still scores
 * with set 2, its scanner being available), -1 on a database error
 * (logged). */
int bayes_classify(struct bayes *b, const char *user, const struct bayes_tokens *toks,
		   double *prob_r);
/* Learns toks as cls for user (flags: enum bayes_learn_flags); runs
 * expiry when due.  Returns 0 with *result_r or -1 (logged). */
int bayes_learn(struct bayes *b, const char *user, const struct bayes_tokens *toks,
		enum bayes_class cls, unsigned int flags, enum bayes_learn_result *result_r);
/* The totals of user's database (or the site's). */
int bayes_totals(struct bayes *b, const char *user, struct bayes_totals *tot_r);
/* The store of user (NULL or without per_user: the site's), opened if
 * needed; NULL on error (logged). */
struct bayes_store *bayes_store_for(struct bayes *b, const char *user);

#endif
