/* scoring: glue between the config, the ruleset, the message views and the
 * totals.  Inbound X-Spam-* fields are cut out before the views are built
 * (the message is copied only when it has any), so rules never see a
 * sender's own verdict. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "bayes.h"
#include "cfg.h"
#include "log.h"
#include "message.h"
#include "msgview.h"
#include "received.h"
#include "rules.h"
#include "rules_int.h"
#include "rules_user.h"
#include "scoring.h"
#include "xalloc.h"

/* A generous per-message backstop: the PCRE2 limits already bound each
 * match, this only guards against a pathological sum of them. */
#define SCORING_TIME_LIMIT 20.0
/* Prefs files kept per process (parsed, with user rules compiled): the
 * recipients a worker sees often. */
#define SCORING_PREFS_CACHE_MAX 32

struct scoring_prefs_entry {
	char *path;
	struct score_prefs *prefs;
	unsigned long used;	/* for least-recently-used eviction */
};

struct scoring_prefs_cache {
	struct scoring_prefs_entry e[SCORING_PREFS_CACHE_MAX];
	size_t n;
	unsigned long clock;
};

struct scoring {
	struct ruleset *rs;
	struct rules_load_result load;
	struct rules_scratch *scratch;
	char *hostname;
	char *home_template;
	char *prefs_template;
	bool report;
	/* Bayes: NULL when use_bayes is 0; opened on first use in each
	 * process */
	struct bayes_settings bayes_settings;
	struct bayes *bayes;
	bool bayes_on, autolearn_on, per_user;
	/* allow_user_rules: parsed and compiled prefs, per process */
	struct scoring_prefs_cache *prefs_cache;
};

struct scoring_msg {
	char *copy;		/* the message without X-Spam-*, when needed */
	const char *data;	/* what the views see */
	size_t len;
	struct msgview *mv;
	struct rules_hits hits;
	bool have_tokens;
	struct bayes_tokens tokens;
	/* with one site-wide database every recipient gets the first
	 * recipient's answer (autolearn must not change it midway) */
	bool have_prob;
	double prob;
	int bayes_answer;	/* bayes_classify's, 0 when not asked */
	bool lazy_timeout_logged;
};

static void
scoring_bayes_warning(const char *msg)
{
	log_warn("rules: %s", msg);
}

static char **
scoring_split_dirs(const char *list, size_t *count_r)
{
	char *copy = xstrdup(list), *tok, *save = NULL;
	char **dirs = NULL;
	size_t n = 0;

	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t", &save)) {
		dirs = xreallocarray(dirs, n + 1, sizeof(*dirs));
		dirs[n++] = xstrdup(tok);
	}
	free(copy);
	*count_r = n;
	return dirs;
}

struct scoring *
scoring_new(const struct lmtpd_config *cfg, const char *rules_override, FILE *lint_out)
{
	const char *list = rules_override != NULL ? rules_override : cfg->rules_dir;
	struct scoring *sc;
	char **dirs;
	size_t count;

	dirs = scoring_split_dirs(list, &count);
	if (count == 0) {
		free(dirs);
		return NULL;
	}
	msgview_global_init();
	sc = xcalloc(1, sizeof(*sc));
	sc->rs = rules_load((const char *const *)dirs, count, &sc->load);
	for (size_t i = 0; i < count; i++)
		free(dirs[i]);
	free(dirs);
	for (size_t i = 0; i < sc->load.diag_count; i++) {
		const struct rules_diag *d = &sc->load.diags[i];

		if (lint_out != NULL)
			fprintf(lint_out, "%s:%u: %s%s\n", d->file, d->line,
				d->error ? "error: " : "", d->message);
		else if (d->error)
			log_warn("rules: %s:%u: %s", d->file, d->line, d->message);
		else if (d->logged && d->line > 0)
			log_warn("rules: %s:%u: %s", d->file, d->line, d->message);
		else if (d->logged)
			log_warn("rules: %s: %s", d->file, d->message);
	}
	if (lint_out != NULL)
		fprintf(lint_out, "%u rules loaded, %u skipped, %u errors\n",
			sc->load.rules_loaded, sc->load.rules_skipped, sc->load.errors);
	else
		log_info("rules: %u loaded, %u skipped (see lmtpd-score --lint), "
			 "%u errors", sc->load.rules_loaded, sc->load.rules_skipped,
			 sc->load.errors);
	/* Not an error: the rules still run, only slower; systemd's
	 * MemoryDenyWriteExecute=yes is the usual cause. */
	if (sc->load.patterns_not_jit > 0) {
		static const char fmt[] = "rules: PCRE2's JIT refused %u of %u patterns: they "
					  "run in its interpreter, about half as fast (no "
					  "executable memory? systemd's MemoryDenyWriteExecute=yes "
					  "forbids it)";

		if (lint_out != NULL) {
			fprintf(lint_out, "warning: ");
			fprintf(lint_out, fmt, sc->load.patterns_not_jit, sc->load.patterns);
			fprintf(lint_out, "\n");
		} else {
			log_warn(fmt, sc->load.patterns_not_jit, sc->load.patterns);
		}
	}
	sc->hostname = xstrdup(cfg->hostname);
	sc->home_template = xstrdup(cfg->home);
	sc->prefs_template = xstrdup(cfg->spam_prefs);
	sc->report = cfg->spam_report;
	if (sc->rs->use_bayes) {
		bayes_settings_init(&sc->bayes_settings, &sc->rs->bayes_settings,
				    lint_out != NULL ? NULL : scoring_bayes_warning);
		sc->bayes = bayes_new(&sc->bayes_settings, cfg->state_dir, cfg->bayes_per_user);
		sc->per_user = cfg->bayes_per_user;
		sc->bayes_on = true;
		sc->autolearn_on = sc->bayes_settings.auto_learn;
	}
	sc->prefs_cache = xcalloc(1, sizeof(*sc->prefs_cache));
	scoring_after_fork(sc);
	return sc;
}

void
scoring_free(struct scoring **scp)
{
	struct scoring *sc = *scp;

	if (sc == NULL)
		return;
	rules_scratch_free(&sc->scratch);
	bayes_free(&sc->bayes);
	if (sc->rs != NULL && sc->rs->use_bayes)
		bayes_settings_free(&sc->bayes_settings);
	for (size_t i = 0; sc->prefs_cache != NULL && i < sc->prefs_cache->n; i++) {
		free(sc->prefs_cache->e[i].path);
		score_prefs_free(&sc->prefs_cache->e[i].prefs);
	}
	free(sc->prefs_cache);
	rules_free(&sc->rs);
	rules_load_result_free(&sc->load);
	free(sc->hostname);
	free(sc->home_template);
	free(sc->prefs_template);
	free(sc);
	*scp = NULL;
}

void
scoring_before_fork(struct scoring *sc)
{
	if (sc != NULL)
		received_init(true);
}

void
scoring_before_fork_batch(struct scoring *sc, bool copy_bayes)
{
	/* No received_init: compiling (and JIT-compiling) every Received
	 * pattern here is serial work ahead of all the processes; each
	 * compiles the ones it uses and JIT-compiles the ones it uses often
	 * for less (-j 2 over 1500 messages: 119 M instructions less before
	 * the fork, 25 to 51 M more in each process).  The Bayes database is
	 * copied once here instead of by every process, which read its pages
	 * into the shared page cache at the same moment and waited on each
	 * other's latches. */
	if (copy_bayes && sc->bayes != NULL && sc->bayes_on)
		bayes_prepare_fork(sc->bayes);
}

void
scoring_after_fork(struct scoring *sc)
{
	/* Scratch made before fork would be shared memory-wise but is
	 * written during matches; each process gets its own. */
	rules_scratch_free(&sc->scratch);
	sc->scratch = rules_scratch_new(sc->rs);
	if (sc->bayes != NULL)
		bayes_after_fork(sc->bayes);
}

void
scoring_set_bayes(struct scoring *sc, bool use, bool autolearn)
{
	sc->bayes_on = use && sc->bayes != NULL;
	sc->autolearn_on = sc->bayes_on && autolearn && sc->bayes_settings.auto_learn;
	if (sc->bayes != NULL)
		bayes_set_read_only(sc->bayes, !sc->autolearn_on);
}

struct bayes *
scoring_bayes(struct scoring *sc)
{
	return sc->bayes;
}

const struct bayes_settings *
scoring_bayes_settings(const struct scoring *sc)
{
	return &sc->bayes_settings;
}

void
scoring_tokenize(const struct scoring *sc, const char *data, size_t len,
		 struct bayes_tokens *out)
{
	struct msgview *mv = msgview_new(rules_settings(sc->rs), data, len, NULL);

	bayes_tokenize(&sc->bayes_settings, mv, data, len, out);
	msgview_free(&mv);
}

const struct bayes_tokens *
scoring_msg_tokens(const struct scoring *sc, struct scoring_msg *msg)
{
	if (!msg->have_tokens) {
		bayes_tokenize(&sc->bayes_settings, msg->mv, msg->data, msg->len, &msg->tokens);
		msg->have_tokens = true;
	}
	return &msg->tokens;
}

const struct ruleset *
scoring_rules(const struct scoring *sc)
{
	return sc->rs;
}

unsigned int
scoring_lint_errors(const struct scoring *sc)
{
	return sc->load.errors;
}

/* A prefs file is parsed once per process and change of the file
 * (device, inode, size, mtime, ctime), not once per delivery: with user
 * rules it is compiled code, and without them a large or hostile file
 * (the caps allow 1 MB and 10000 list entries) would be paid for at every
 * recipient of every message.  Its warnings are logged when it is read.  The cache is this
 * process's state in sc, hence sc is not const here nor in the lookups
 * above it. */
static struct score_prefs *
scoring_prefs_cached(struct scoring *sc, const char *path,
		     void (*warn)(const char *msg))
{
	struct scoring_prefs_cache *c = sc->prefs_cache;
	struct score_prefs *p;
	struct stat st;
	size_t k;

	for (k = 0; k < c->n && strcmp(c->e[k].path, path) != 0; k++)
		;
	if (k < c->n && stat(path, &st) == 0 && score_prefs_same_file(c->e[k].prefs, &st)) {
		c->e[k].used = ++c->clock;
		return score_prefs_ref(c->e[k].prefs);
	}
	p = score_prefs_load(sc->rs, path, warn);
	if (k == c->n) {
		if (p == NULL)
			return NULL;
		if (c->n < SCORING_PREFS_CACHE_MAX) {
			c->e[c->n].path = xstrdup(path);
			c->e[c->n].prefs = NULL;
			c->n++;
		} else {
			k = 0;
			for (size_t i = 1; i < c->n; i++)
				if (c->e[i].used < c->e[k].used)
					k = i;
			free(c->e[k].path);
			c->e[k].path = xstrdup(path);
		}
	}
	score_prefs_free(&c->e[k].prefs);
	if (p == NULL) {
		/* gone: forget it */
		free(c->e[k].path);
		c->e[k] = c->e[c->n - 1];
		memset(&c->e[c->n - 1], 0, sizeof(c->e[0]));
		c->n--;
		return NULL;
	}
	c->e[k].prefs = score_prefs_ref(p);
	c->e[k].used = ++c->clock;
	return p;
}

struct score_prefs *
scoring_prefs_for_home(struct scoring *sc, const char *user, const char *home,
		       void (*warn)(const char *msg))
{
	char local[256], path[4096];
	const char *at = strrchr(user, '@');
	struct cfg_template_vars vars;

	if (sc->prefs_template[0] == '\0')
		return NULL;
	snprintf(local, sizeof(local), "%.*s",
		 (int)(at != NULL ? (size_t)(at - user) : strlen(user)), user);
	vars = (struct cfg_template_vars){ user, local, at != NULL ? at + 1 : "", home };
	if (cfg_expand(sc->prefs_template, &vars, path, sizeof(path)) < 0)
		return NULL;
	return scoring_prefs_cached(sc, path, warn);
}

/* The end of the line at pos (one past its LF, or len). */
static size_t
scoring_line_end(const char *data, size_t len, size_t pos)
{
	const char *nl = memchr(data + pos, '\n', len - pos);

	return nl != NULL ? (size_t)(nl - data) + 1 : len;
}

const char *
scoring_clean(const char *data, size_t len, char **copy_r, size_t *len_r)
{
	struct buf out;
	size_t pos = 0, copied = 0;
	bool any = false;

	*copy_r = NULL;
	*len_r = len;
	/* The header section as RFC 5322 (and Dovecot, and mail readers)
	 * reads it: up to its empty line, whatever lines that are no field
	 * come before.  Not SpamAssassin's, which ends at a "--" line or a
	 * fourth line that is no field, nor message_parse's index, which
	 * stops at MESSAGE_HEADERS_MAX fields and at the first line that is
	 * no field: a sender put a forged X-Spam-Flag past each of those,
	 * and it was delivered where IMAP clients and Sieve see a field.
	 * No cap on the fields cut out either. */
	while (pos < len) {
		size_t end = scoring_line_end(data, len, pos), name_len;
		bool field = message_field_start(data + pos, len - pos, &name_len);

		if (data[pos] == '\n' || (data[pos] == '\r' && end - pos == 2 &&
					   data[pos + 1] == '\n'))
			break;
		if (field && name_len > 7 && strncasecmp(data + pos, "X-Spam-", 7) == 0) {
			while (end < len && (data[end] == ' ' || data[end] == '\t'))
				end = scoring_line_end(data, len, end);
			if (!any)
				buf_init(&out, 0);
			any = true;
			buf_put(&out, data + copied, pos - copied);
			copied = end;
		}
		pos = end;
	}
	if (!any)
		return data;
	buf_put(&out, data + copied, len - copied);
	*copy_r = buf_steal(&out, len_r);
	return *copy_r;
}

const char *
scoring_msg_data(const struct scoring_msg *m, size_t *len_r)
{
	*len_r = m->len;
	return m->data;
}

struct scoring_msg *
scoring_msg_new(struct scoring *sc, const char *data, size_t len,
		const char *envelope_from)
{
	struct scoring_msg *m = xcalloc(1, sizeof(*m));

	/* A sender can't vouch for itself: inbound X-Spam-* fields are
	 * neither scored nor delivered. */
	m->data = scoring_clean(data, len, &m->copy, &m->len);
	m->mv = msgview_new(rules_settings(sc->rs), data, len, envelope_from);
	rules_match(sc->rs, sc->scratch, m->mv, SCORING_TIME_LIMIT, &m->hits);
	if (m->hits.time_limit_exceeded)
		log_warn("scoring: time limit of %.0fs exceeded, remaining rules skipped",
			 SCORING_TIME_LIMIT);
	return m;
}

void
scoring_msg_free(struct scoring_msg **mp)
{
	struct scoring_msg *m = *mp;

	if (m == NULL)
		return;
	rules_hits_free(&m->hits);
	if (m->have_tokens)
		bayes_tokens_free(&m->tokens);
	msgview_free(&m->mv);
	free(m->copy);
	free(m);
	*mp = NULL;
}

static void scoring_msg_total_rules(struct scoring *sc, struct scoring_msg *msg,
				    const struct ruleset *rs, const struct rules_hits *hits,
				    const struct score_prefs *prefs, const char *user,
				    struct score_result *out);

void
scoring_msg_total(struct scoring *sc, struct scoring_msg *msg,
		  const struct score_prefs *prefs, const char *user,
		  struct score_result *out)
{
	size_t n_zero;
	const size_t *zero = score_prefs_site_zero(prefs, &n_zero);

	const struct ruleset *rs = sc->rs, *user_rules = score_prefs_rules(prefs);
	struct rules_hits user_hits;
	const struct rules_hits *hits = &msg->hits;

	/* rules the site scored 0 that this user scores: matched now, once
	 * per message */
	if (n_zero > 0)
		rules_match_site_zero(sc->rs, sc->scratch, msg->mv, zero, n_zero, &msg->hits);
	/* the user's own rules (allow_user_rules): the site's hits, then
	 * theirs, matched on the views already built */
	memset(&user_hits, 0, sizeof(user_hits));
	if (user_rules != NULL) {
		/* the copy below shares what the site's hits leave pending */
		rules_resolve_all(sc->rs, &msg->hits);
		user_hits = msg->hits;
		user_hits.count = rules_count(user_rules);
		user_hits.hits = xcalloc(user_hits.count, sizeof(*user_hits.hits));
		memcpy(user_hits.hits, msg->hits.hits,
		       msg->hits.count * sizeof(*user_hits.hits));
		user_hits.site_zero_done = NULL;
		rules_match_user(user_rules, sc->scratch, msg->mv, &user_hits);
		rs = user_rules;
		hits = &user_hits;
	}
	scoring_msg_total_rules(sc, msg, rs, hits, prefs, user, out);
	if (out->time_limit_exceeded && !msg->hits.time_limit_exceeded &&
	    !msg->lazy_timeout_logged) {
		log_warn("scoring: time limit of %.0fs exceeded, remaining sub-rules skipped",
			 SCORING_TIME_LIMIT);
		msg->lazy_timeout_logged = true;
	}
	/* (the logs and the rest are msg->hits', lent) */
	free(user_hits.hits);
}

static void
scoring_msg_total_rules(struct scoring *sc, struct scoring_msg *msg,
			const struct ruleset *rs, const struct rules_hits *hits,
			const struct score_prefs *prefs, const char *user,
			struct score_result *out)
{
	double prob = -1;
	int verdict, answer;
	enum bayes_learn_result lr;

	if (!sc->bayes_on) {
		score_compute(rs, hits, msg->mv, prefs, out);
		return;
	}
	/* A database problem only costs this message its Bayes rules
	 * (logged by bayes.c). */
	if (msg->have_prob && !sc->per_user) {
		prob = msg->prob;
		answer = msg->bayes_answer;
	} else {
		/* tokens only for a database that can answer (autolearn below
		 * makes them when it learns) */
		answer = bayes_ready(sc->bayes, user) != 1 ? 0 :
			 bayes_classify(sc->bayes, user, scoring_msg_tokens(sc, msg), &prob);
		if (answer != 1)
			prob = -1;
		msg->have_prob = true;
		msg->prob = prob;
		msg->bayes_answer = answer;
	}
	score_compute_bayes(rs, hits, msg->mv, prefs, answer == 1 || answer == 2, prob, out);
	if (!sc->autolearn_on) {
		out->autolearn = sc->bayes_settings.auto_learn ? "no" : "disabled";
		return;
	}
	verdict = score_autolearn_verdict(out, sc->bayes_settings.auto_learn_threshold_nonspam,
					  sc->bayes_settings.auto_learn_threshold_spam);
	if (verdict < 0)
		return;
	/* Never over what was learned the other way (by hand, most likely):
	 * SpamAssassin then says "unavailable", having learned nothing. */
	if (bayes_learn(sc->bayes, user, scoring_msg_tokens(sc, msg),
			verdict ? BAYES_SPAM : BAYES_HAM,
			BAYES_LEARN_NO_RELEARN, &lr) < 0)
		out->autolearn = "failed";
	else if (lr == BAYES_OPPOSITE)
		out->autolearn = "unavailable";
	else
		out->autolearn = verdict ? "spam" : "ham";
}

const struct rules_hits *
scoring_msg_hits(const struct scoring *sc, const struct scoring_msg *msg)
{
	rules_resolve_all(sc->rs, &msg->hits);
	return &msg->hits;
}

void
scoring_score_message(struct scoring *sc, const char *data, size_t len,
		      const char *envelope_from, const struct score_prefs *prefs,
		      struct score_result *out)
{
	struct scoring_msg *m = scoring_msg_new(sc, data, len, envelope_from);

	scoring_msg_total(sc, m, prefs, NULL, out);
	scoring_msg_free(&m);
}

void
scoring_headers(const struct scoring *sc, const struct score_result *r, struct buf *out)
{
	spamhdr_render(r, sc->hostname, sc->report, out);
}

void
scoring_rewrite(const struct scoring *sc, const char *data, size_t len,
		const struct score_result *r, struct buf *out)
{
	char *copy;
	size_t clean_len;
	const char *clean = scoring_clean(data, len, &copy, &clean_len);
	struct buf hdrs;
	const char *nl = memchr(data, '\n', len);
	bool crlf = nl != NULL && nl > data && nl[-1] == '\r';
	size_t skip = 0;

	data = clean;
	len = clean_len;
	/* SpamAssassin puts its fields after a leading Return-Path. */
	if (len > 12 && strncasecmp(data, "Return-Path:", 12) == 0) {
		struct message *msg = message_parse(data, len);

		if (msg->header_count > 0) {
			skip = msg->headers[0].end;
			buf_put(out, data, skip);
		}
		message_free(&msg);
	}
	buf_init(&hdrs, 0);
	scoring_headers(sc, r, &hdrs);
	for (size_t i = 0; i < hdrs.len; i++) {
		if (hdrs.data[i] == '\n' && crlf)
			buf_put(out, "\r", 1);
		buf_put(out, &hdrs.data[i], 1);
	}
	buf_free(&hdrs);
	buf_put(out, data + skip, len - skip);
	free(copy);
}

void
scoring_mbox_init(struct scoring_mbox *mb, const char *data, size_t len)
{
	mb->p = data;
	mb->end = data + len;
	mb->is_mbox = len >= 5 && memcmp(data, "From ", 5) == 0;
	mb->first = true;
	mb->copy = NULL;
}

void
scoring_mbox_free(struct scoring_mbox *mb)
{
	free(mb->copy);
	mb->copy = NULL;
}

/* Whether the line at p (before end) is ">From ", ">>From ", ... */
static bool
scoring_mbox_quoted_from(const char *p, const char *end)
{
	if (p >= end || *p != '>')
		return false;
	while (p < end && *p == '>')
		p++;
	return end - p >= 5 && memcmp(p, "From ", 5) == 0;
}

/* msg[0..len) with one '>' taken off every quoted "From " line: msg
 * itself when it has none, else mb->copy. */
static const char *
scoring_mbox_unquote(struct scoring_mbox *mb, const char *msg, size_t *len)
{
	const char *end = msg + *len, *p;
	char *out = NULL, *o = NULL;

	for (p = msg; p < end; ) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl != NULL ? nl + 1 : end;

		if (scoring_mbox_quoted_from(p, end)) {
			if (out == NULL) {
				out = o = xmalloc(*len);
				memcpy(o, msg, (size_t)(p - msg));
				o += p - msg;
			}
			memcpy(o, p + 1, (size_t)(next - p - 1));
			o += next - p - 1;
		} else if (out != NULL) {
			memcpy(o, p, (size_t)(next - p));
			o += next - p;
		}
		p = next;
	}
	if (out == NULL)
		return msg;
	mb->copy = out;
	*len = (size_t)(o - out);
	return out;
}

/* Whether the line ending at nl is empty (LF or CRLF), within the message
 * that starts at start. */
static bool
scoring_mbox_after_empty_line(const char *start, const char *nl)
{
	if (nl > start && nl[-1] == '\r')
		nl--;
	return nl == start || nl[-1] == '\n';
}

const char *
scoring_mbox_boundary(const char *start, const char *from, const char *end)
{
	static const char sep[] = "\nFrom ";
	const char *q = from;

	/* A message ends at a "From " line after an empty line, as mbox
	 * writers leave one: an unescaped "From " inside a paragraph of the
	 * body stays in its message. */
	while ((q = memmem(q, (size_t)(end - q), sep, sizeof(sep) - 1)) != NULL) {
		if (scoring_mbox_after_empty_line(start, q))
			return q + 1;
		q++;
	}
	return NULL;
}

/* Steps an mbox past its next message: where the message starts after
 * its "From " line, and where it ends (the next one's "From " line, or
 * the end). */
static const char *
scoring_mbox_skip(struct scoring_mbox *mb, const char **start_r)
{
	const char *q = memchr(mb->p, '\n', (size_t)(mb->end - mb->p));
	const char *start = q != NULL ? q + 1 : mb->end;

	q = scoring_mbox_boundary(start, start, mb->end);
	if (q == NULL)
		q = mb->end;
	mb->p = q;
	*start_r = start;
	return q;
}

bool
scoring_mbox_next(struct scoring_mbox *mb, const char **msg_r, size_t *len_r)
{
	const char *start, *q, *end;
	size_t len;

	free(mb->copy);
	mb->copy = NULL;
	if (mb->p >= mb->end)
		return false;
	if (!mb->is_mbox) {
		*msg_r = mb->p;
		*len_r = (size_t)(mb->end - mb->p);
		mb->p = mb->end;
		return true;
	}
	q = scoring_mbox_skip(mb, &start);
	/* A file of one message after its "From " line is that message, as
	 * spamassassin, spamc and sa-learn read such a file (the corpus's
	 * messages are such files): nothing is the format's. */
	if (mb->first && q == mb->end) {
		mb->first = false;
		*msg_r = start;
		*len_r = (size_t)(q - start);
		return true;
	}
	mb->first = false;
	/* the empty line before the next "From " line (or at the end) is
	 * the format's, not the message's */
	end = q;
	if (end > start && end[-1] == '\n' && scoring_mbox_after_empty_line(start, end - 1))
		end -= end - 1 > start && end[-2] == '\r' ? 2 : 1;
	len = (size_t)(end - start);
	*msg_r = scoring_mbox_unquote(mb, start, &len);
	*len_r = len;
	return true;
}

unsigned int
scoring_mbox_count(const char *data, size_t len)
{
	struct scoring_mbox mb;
	const char *start;
	unsigned int n = 0;

	/* the messages scoring_mbox_next gives, without unquoting them */
	scoring_mbox_init(&mb, data, len);
	if (!mb.is_mbox)
		return len > 0;
	while (mb.p < mb.end) {
		(void)scoring_mbox_skip(&mb, &start);
		n++;
	}
	return n;
}
