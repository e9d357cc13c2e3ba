/* score: per-recipient totals and the X-Spam-* headers.  Semantics follow
 * PerMsgStatus: a hit of a rule whose score is 0 in the active score set
 * does not count (got_hit returns early), metas see hit values and run in
 * dependency order, tflags multiple rules add their score once per hit,
 * the total is rounded to three decimals and is spam at >= required_score.
 * The Status header is folded with Util::wrap's algorithm. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval.h"
#include "msgview.h"
#include "rules_int.h"
#include "rules_parse.h"
#include "rules_user.h"
#include "score.h"
#include "xalloc.h"

#define SCORE_PREFS_MAX (1024 * 1024)
/* A total stays within this (RULES_SCORE_ABS_MAX bounds each score; the
 * sum of many still could leave any sane range). */
#define SCORE_TOTAL_MAX 1e12
/* welcomelist_from and friends: the words (added or removed) of one
 * prefs file */
#define SCORE_PREFS_LIST_MAX 10000
/* warnings shown for one prefs file as it is read */
#define SCORE_PREFS_WARNINGS_MAX 20
static int score_prefs_warnings;

/* Conf.pm's score check: -?\d+(\.\d+)? and nothing else (no 1e308,
 * 0x10, inf, nan), within RULES_SCORE_ABS_MAX. */
static bool
score_parse_value(const char *s, double *v)
{
	const char *p = s;
	char *end;

	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p != '\0')
		return false;
	*v = strtod(s, &end);
	return isfinite(*v) && fabs(*v) <= RULES_SCORE_ABS_MAX;
}

struct score_override {
	size_t rule;
	double score[4];
};

struct score_prefs {
	bool have_required;
	double required;
	struct score_override *overrides;
	size_t override_count;
	struct addrlist lists[ADDRLIST_KIND_COUNT];
	bool have_lists;
	/* the site's URI host lists as these prefs change them (NULL: the
	 * site's apply; copied at the first URI host line, and NULL after it
	 * only while neither has a list) */
	struct eval_urihost_lists *urihost;
	/* ok_locales of these prefs (the last good line), NULL for the
	 * site's */
	char *ok_locales;
	/* rules the site scored 0 that these prefs score: matched for
	 * this user only (rules_match_site_zero) */
	size_t *site_zero;
	size_t site_zero_count;
	/* allow_user_rules: the site's rules plus this user's (NULL when
	 * the file defines none) */
	struct ruleset *user_rules;
	unsigned int refs;
	/* the file as read (fstat), for caches */
	struct stat id;
};

/* Whether one more warning of the file being read may be shown: at most
 * SCORE_PREFS_WARNINGS_MAX (a binary file made thousands), then one that
 * says so, at path:line. */
static bool
score_prefs_warn_shown(void (*warn)(const char *), const char *path, unsigned int line)
{
	char msg[600];

	if (score_prefs_warnings < SCORE_PREFS_WARNINGS_MAX) {
		score_prefs_warnings++;
		return true;
	}
	if (score_prefs_warnings++ == SCORE_PREFS_WARNINGS_MAX) {
		snprintf(msg, sizeof(msg), "%s:%u: more than %d warnings; the rest not shown",
			 path, line, SCORE_PREFS_WARNINGS_MAX);
		warn(msg);
	}
	return false;
}

static void
score_prefs_warn(void (*warn)(const char *), const char *path, unsigned int line,
		 const char *why)
{
	char msg[600];

	if (warn == NULL || !score_prefs_warn_shown(warn, path, line))
		return;
	snprintf(msg, sizeof(msg), "%s:%u: %s", path, line, why);
	warn(msg);
}

/* The warn and path of the file being read, for rules_user_load's
 * diagnostics (already "file:line: why"), under the same cap. */
static void (*score_prefs_outer_warn)(const char *);
static const char *score_prefs_outer_path;

static void
score_prefs_counted_warn(const char *msg)
{
	if (score_prefs_outer_warn != NULL &&
	    score_prefs_warn_shown(score_prefs_outer_warn, score_prefs_outer_path, 0))
		score_prefs_outer_warn(msg);
}

static void
score_copy_list(struct addrlist *dst, const struct addrlist *src)
{
	dst->n = 0;
	dst->cap = src->n;
	dst->v = src->n > 0 ? xreallocarray(NULL, src->n, sizeof(*dst->v)) : NULL;
	for (size_t i = 0; i < src->n; i++) {
		dst->v[dst->n].pattern = xstrdup(src->v[i].pattern);
		dst->v[dst->n].rcvd_domain = src->v[i].rcvd_domain != NULL
					     ? xstrdup(src->v[i].rcvd_domain) : NULL;
		dst->n++;
	}
}

/* The words of a list line (addresses, or address and domain). */
static size_t
score_words(const char *value)
{
	size_t n = 0;

	for (const char *s = value + strspn(value, " \t"); *s != '\0';
	     s += strspn(s, " \t")) {
		n++;
		s += strcspn(s, " \t");
	}
	return n;
}

static bool
score_prefs_list_line(struct score_prefs *p, const struct ruleset *rs,
		      const char *key, const char *value, size_t *words_used, bool *capped,
		      const char **why_r)
{
	static const struct {
		const char *key;
		enum addrlist_kind kind;
		int mode;	/* 0 add, 1 remove, 2 rcvd, 3 a whole line */
	} table[] = {
		{ "welcomelist_from", ADDRLIST_WELCOME_FROM, 0 },
		{ "whitelist_from", ADDRLIST_WELCOME_FROM, 0 },
		{ "unwelcomelist_from", ADDRLIST_WELCOME_FROM, 1 },
		{ "unwhitelist_from", ADDRLIST_WELCOME_FROM, 1 },
		{ "blocklist_from", ADDRLIST_BLOCK_FROM, 0 },
		{ "blacklist_from", ADDRLIST_BLOCK_FROM, 0 },
		{ "unblocklist_from", ADDRLIST_BLOCK_FROM, 1 },
		{ "unblacklist_from", ADDRLIST_BLOCK_FROM, 1 },
		{ "welcomelist_from_rcvd", ADDRLIST_WELCOME_FROM_RCVD, 2 },
		{ "whitelist_from_rcvd", ADDRLIST_WELCOME_FROM_RCVD, 2 },
		{ "welcomelist_to", ADDRLIST_WELCOME_TO, 0 },
		{ "whitelist_to", ADDRLIST_WELCOME_TO, 0 },
		{ "more_spam_to", ADDRLIST_MORE_SPAM_TO, 0 },
		{ "all_spam_to", ADDRLIST_ALL_SPAM_TO, 0 },
		{ "blocklist_to", ADDRLIST_BLOCK_TO, 0 },
		{ "blacklist_to", ADDRLIST_BLOCK_TO, 0 },
		{ "welcomelist_bounce_relays", ADDRLIST_WELCOME_BOUNCE_RELAYS, 0 },
		{ "whitelist_bounce_relays", ADDRLIST_WELCOME_BOUNCE_RELAYS, 0 },
		{ "welcomelist_subject", ADDRLIST_WELCOME_SUBJECT, 3 },
		{ "whitelist_subject", ADDRLIST_WELCOME_SUBJECT, 3 },
		{ "blocklist_subject", ADDRLIST_BLOCK_SUBJECT, 3 },
		{ "blacklist_subject", ADDRLIST_BLOCK_SUBJECT, 3 },
	};

	if (eval_urihost_key(key)) {
		const char *why = NULL;

		if (*words_used + score_words(value) > SCORE_PREFS_LIST_MAX) {
			*capped = true;
			return true;
		}
		*words_used += score_words(value);
		/* SpamAssassin parses user_prefs into its copy of the site's
		 * configuration: delist_uri_host removes a site entry too */
		if (p->urihost == NULL)
			p->urihost = eval_urihost_copy(rs->settings.urihost);
		if (eval_urihost_apply(&p->urihost, key, value,
				       eval_urihost_count(rs->settings.urihost) +
				       EVAL_URIHOST_USER_LISTS, &why) < 0)
			*why_r = why;
		return true;
	}
	for (size_t i = 0; i < N_ELEMENTS(table); i++) {
		if (strcmp(key, table[i].key) != 0)
			continue;
		if (!p->have_lists) {
			for (int k = 0; k < ADDRLIST_KIND_COUNT; k++)
				score_copy_list(&p->lists[k], &rs->lists[k]);
			p->have_lists = true;
		}
		/* A removed word scans the whole list: 185,000 words in a
		 * 1 MB file took 69 s when every added one did too. */
		if (*words_used + score_words(value) > SCORE_PREFS_LIST_MAX) {
			*capped = true;
			return true;
		}
		*words_used += score_words(value);
		if (table[i].mode == 0)
			addrlist_add_words(&p->lists[table[i].kind], value);
		else if (table[i].mode == 1)
			addrlist_remove_words(&p->lists[table[i].kind], value);
		else if (table[i].mode == 3)
			addrlist_add_line(&p->lists[table[i].kind], value);
		else
			addrlist_add_rcvd(&p->lists[table[i].kind], value);
		return true;
	}
	return false;
}

static void
score_prefs_score_line(struct score_prefs *p, const struct ruleset *rs, char *value,
		       void (*warn)(const char *), const char *path, unsigned int line)
{
	char *save = NULL, *name = strtok_r(value, " \t", &save), *tok;
	double v[4];
	int n = 0;
	size_t rule;

	if (name == NULL || !strmap_get(rs->by_name, name, &rule)) {
		score_prefs_warn(warn, path, line, "score for an unknown rule");
		return;
	}
	while (n < 5 && (tok = strtok_r(NULL, " \t", &save)) != NULL) {
		if (n == 4) {
			n++;	/* a fifth value: neither 1 nor 4 */
			break;
		}
		if (!score_parse_value(tok, &v[n])) {
			score_prefs_warn(warn, path, line, "bad score value");
			return;
		}
		n++;
	}
	if (n != 1 && n != 4) {
		score_prefs_warn(warn, path, line, "expected 1 or 4 score values");
		return;
	}
	p->overrides = xreallocarray(p->overrides, p->override_count + 1,
				     sizeof(*p->overrides));
	p->overrides[p->override_count].rule = rule;
	for (int k = 0; k < 4; k++)
		p->overrides[p->override_count].score[k] = v[n == 1 ? 0 : k];
	p->override_count++;
	if (rules_site_zero(rs, rule)) {
		bool have = false;

		for (size_t k = 0; k < p->site_zero_count; k++)
			have |= p->site_zero[k] == rule;
		if (!have) {
			p->site_zero = xreallocarray(p->site_zero, p->site_zero_count + 1,
						     sizeof(*p->site_zero));
			p->site_zero[p->site_zero_count++] = rule;
		}
	}
}

/* allow_user_rules: whether key/value is a line for the user's own rules;
 * if so it goes into rtext at its line number (rlines: lines so far), for
 * the parser, which refuses what would change a site rule. */
static bool
score_prefs_user_rule_line(const struct ruleset *rs, const char *key, const char *value,
			   unsigned int line, struct buf *rtext, unsigned int *rlines)
{
	static const char *const defs[] = { "header", "body", "rawbody", "full", "uri",
					    "meta" };
	static const char *const about[] = { "score", "describe", "tflags", "priority" };
	bool def = false, other = false;
	size_t name_len = strcspn(value, " \t");
	char name[256];
	size_t index;

	for (size_t i = 0; i < N_ELEMENTS(defs); i++)
		def |= strcmp(key, defs[i]) == 0;
	for (size_t i = 0; i < N_ELEMENTS(about); i++)
		other |= strcmp(key, about[i]) == 0;
	if (!def && !other)
		return false;
	snprintf(name, sizeof(name), "%.*s", (int)name_len, value);
	/* a site rule's score is the prefs' own business; the parser refuses
	 * any other change to a site rule */
	if (strcmp(key, "score") == 0 && strmap_get(rs->by_name, name, &index))
		return false;
	while (*rlines + 1 < line) {
		buf_put_str(rtext, "\n");
		(*rlines)++;
	}
	buf_putf(rtext, "%s %s\n", key, value);
	(*rlines)++;
	return true;
}

struct score_prefs *
score_prefs_load(const struct ruleset *rs, const char *path, void (*warn)(const char *))
{
	struct score_prefs *p;
	char line[8192];
	unsigned int lineno = 0, rlines = 0;
	size_t total = 0;
	bool capped = false, capped_warned = false;
	size_t list_words = 0;
	struct buf rtext;
	struct stat st;
	FILE *f;
	/* O_NONBLOCK: the file is the user's, and a FIFO there would hold
	 * the delivery (and the worker) in open() until someone writes. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	score_prefs_warnings = 0;
	if (fd < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			score_prefs_warn(warn, path, 0, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		score_prefs_warn(warn, path, 0, "not a regular file; ignored");
		(void)close(fd);
		return NULL;
	}
	f = fdopen(fd, "r");
	if (f == NULL) {
		score_prefs_warn(warn, path, 0, strerror(errno));
		(void)close(fd);
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	p->refs = 1;
	p->id = st;
	buf_init(&rtext, 0);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s = line, *key, *value;
		const char *bad = NULL;
		/* what fgets read, NUL bytes included (strlen stops at the
		 * first: a file of NULs was read to its end, however large,
		 * and a NUL hid a line's excess from the check below) */
		off_t pos = ftello(f);
		size_t len = pos >= 0 && (size_t)pos >= total ? (size_t)pos - total
							     : strlen(line);

		lineno++;
		total += len;
		if (total > SCORE_PREFS_MAX) {
			score_prefs_warn(warn, path, lineno, "file too large; rest ignored");
			break;
		}
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			/* Skipped to its end: the rest of the line would
			 * read as lines of its own (a comment's tail as a
			 * directive). */
			int c;

			/* its newline counted too: the next line's length is
			 * what ftello says less what was read before */
			while (total <= SCORE_PREFS_MAX && (c = getc(f)) != EOF) {
				total++;
				if (c == '\n')
					break;
			}
			score_prefs_warn(warn, path, lineno, "line too long; ignored");
			continue;
		}
		rules_strip_comment(s);
		while (isspace((unsigned char)*s))
			s++;
		len = strlen(s);
		while (len > 0 && isspace((unsigned char)s[len - 1]))
			s[--len] = '\0';
		if (len == 0)
			continue;
		key = s;
		value = s + strcspn(s, " \t");
		if (*value != '\0')
			*value++ = '\0';
		value += strspn(value, " \t");
		for (char *k = key; *k != '\0'; k++)
			*k = *k == '-' ? '_' : (char)tolower((unsigned char)*k);
		if (strcmp(key, "required_score") == 0 || strcmp(key, "required_hits") == 0) {
			double v;

			if (!score_parse_value(value, &v))
				score_prefs_warn(warn, path, lineno, "bad required_score");
			else {
				p->required = v;
				p->have_required = true;
			}
		} else if (strcmp(key, "ok_locales") == 0) {
			/* a user setting in SpamAssassin (its faraway-charset
			 * rules carry tflags userconf); Conf.pm refuses an
			 * empty one and keeps the last good line */
			if (*value == '\0')
				score_prefs_warn(warn, path, lineno,
						 "ok_locales: missing required value");
			else {
				free(p->ok_locales);
				p->ok_locales = xstrdup(value);
			}
		} else if (rs->allow_user_rules &&
			   score_prefs_user_rule_line(rs, key, value, lineno,
						      &rtext, &rlines)) {
			/* for the user's rules, below */
		} else if (strcmp(key, "score") == 0) {
			score_prefs_score_line(p, rs, value, warn, path, lineno);
		} else if (score_prefs_list_line(p, rs, key, value, &list_words, &capped,
						 &bad)) {
			if (bad != NULL) {
				char why[200];

				snprintf(why, sizeof(why), "%s: %s", key, bad);
				score_prefs_warn(warn, path, lineno, why);
			}
			if (capped && !capped_warned) {
				char why[200];

				snprintf(why, sizeof(why), "more than %d list words (addresses "
					 "and URI hosts); the rest ignored", SCORE_PREFS_LIST_MAX);
				score_prefs_warn(warn, path, lineno, why);
				capped_warned = true;
			}
		} else {
			char why[200];

			snprintf(why, sizeof(why), "'%s' is not allowed in user preferences",
				 key);
			score_prefs_warn(warn, path, lineno, why);
		}
	}
	fclose(f);
	if (rtext.len > 0)
	{
		/* the user rules' diagnostics count against the same cap */
		score_prefs_outer_warn = warn;
		score_prefs_outer_path = path;
		p->user_rules = rules_user_load(rs, path, rtext.data,
						warn != NULL ? score_prefs_counted_warn : NULL);
		score_prefs_outer_warn = NULL;
	}
	buf_free(&rtext);
	return p;
}

void
score_prefs_free(struct score_prefs **pp)
{
	struct score_prefs *p = *pp;

	if (p == NULL)
		return;
	*pp = NULL;
	if (--p->refs > 0)
		return;
	rules_user_free(&p->user_rules);
	free(p->overrides);
	free(p->site_zero);
	if (p->have_lists)
		for (int k = 0; k < ADDRLIST_KIND_COUNT; k++)
			addrlist_free(&p->lists[k]);
	eval_urihost_free(&p->urihost);
	free(p->ok_locales);
	free(p);
	*pp = NULL;
}

const size_t *
score_prefs_site_zero(const struct score_prefs *prefs, size_t *count_r)
{
	*count_r = prefs != NULL ? prefs->site_zero_count : 0;
	return prefs != NULL ? prefs->site_zero : NULL;
}

const struct ruleset *
score_prefs_rules(const struct score_prefs *prefs)
{
	return prefs != NULL ? prefs->user_rules : NULL;
}

struct score_prefs *
score_prefs_ref(struct score_prefs *prefs)
{
	prefs->refs++;
	return prefs;
}

bool
score_prefs_same_file(const struct score_prefs *prefs, const struct stat *st)
{
	return prefs->id.st_dev == st->st_dev && prefs->id.st_ino == st->st_ino &&
	       prefs->id.st_size == st->st_size &&
	       prefs->id.st_mtim.tv_sec == st->st_mtim.tv_sec &&
	       prefs->id.st_mtim.tv_nsec == st->st_mtim.tv_nsec &&
	       prefs->id.st_ctim.tv_sec == st->st_ctim.tv_sec &&
	       prefs->id.st_ctim.tv_nsec == st->st_ctim.tv_nsec;
}

static double
score_of(const struct ruleset *rs, const struct score_prefs *prefs, size_t rule, int set)
{
	if (prefs != NULL)
		for (size_t i = prefs->override_count; i-- > 0;)
			if (prefs->overrides[i].rule == rule)
				return prefs->overrides[i].score[set];
	return rs->rules[rule].score[set];
}

static int
score_hit_cmp(const void *a, const void *b, void *ctx)
{
	const struct ruleset *rs = ctx;
	const struct score_hit *x = a, *y = b;

	return strcmp(rs->rules[x->rule].name, rs->rules[y->rule].name);
}

void
score_compute(const struct ruleset *rs, const struct rules_hits *hits,
	      struct msgview *mv, const struct score_prefs *prefs,
	      struct score_result *out)
{
	score_compute_bayes(rs, hits, mv, prefs, false, -1, out);
}

/* _get_autolearn_testtype: 1 head, 2 body, 3 meta, 0 neither. */
static int
score_autolearn_type(const struct rule *r)
{
	enum rule_type t = r->eval != NULL ? r->eval->type : r->type;

	switch (t) {
	case RULE_HEADER:
		return 1;
	case RULE_BODY:
	case RULE_RAWBODY:
	case RULE_URI:
		return 2;
	case RULE_META:
		return 3;
	default:
		return 0;
	}
}

static double
score_round3(double v)
{
	char tmp[64];

	snprintf(tmp, sizeof(tmp), "%0.3f", v);
	return strtod(tmp, NULL);
}

static void
score_autolearn_points(const struct ruleset *rs, const struct score_prefs *prefs,
		       int set, struct score_result *out)
{
	int base = set & ~2;
	double points = 0;

	for (size_t k = 0; k < out->hit_count; k++) {
		const struct rule *r = &rs->rules[out->hits[k].rule];
		double sc;
		int type;

		if (r->tflags & (TFLAG_NOAUTOLEARN | TFLAG_USERCONF))
			continue;
		if (r->tflags & TFLAG_LEARN) {
			out->learned_points += score_of(rs, prefs, out->hits[k].rule, set);
			continue;
		}
		sc = score_of(rs, prefs, out->hits[k].rule, base);
		if (sc == 0)
			continue;
		type = (r->tflags & TFLAG_AUTOLEARN_BODY) ? 2 : score_autolearn_type(r);
		if (type == 1)
			out->head_points += sc;
		else if (type == 2)
			out->body_points += sc;
		else if (type == 3 && r->meta != NULL) {
			const size_t *deps;
			size_t n = meta_deps(r->meta, &deps);
			unsigned int dh = 0, db = 0;

			for (size_t d = 0; d < n; d++) {
				int dt = score_autolearn_type(&rs->rules[deps[d]]);

				if (dt == 1)
					dh++;
				else if (dt == 2)
					db++;
			}
			if (dh + db > 0) {
				out->head_points += score_round3(sc * dh / (dh + db));
				out->body_points += score_round3(sc * db / (dh + db));
			}
		}
		points += sc;
	}
	out->autolearn_points = score_round3(points);
}

int
score_autolearn_verdict(const struct score_result *r, double min, double max)
{
	if (r->autolearn_points < min) {
		/* ham, unless the learner said spam */
		if (r->learned_points > 1.0 || r->is_spam)
			return -1;
		return 0;
	}
	if (r->autolearn_points < max)
		return -1;
	if (r->body_points < 3 || r->head_points < 3 || r->learned_points < -1.0 ||
	    !r->is_spam)
		return -1;
	return 1;
}

/* One recipient's values of the rules a meta reads only when it asks:
 * sub-rules rules_match left unmatched, and the site's __ metas. */
struct score_lazy {
	const struct ruleset *rs;
	const struct rules_hits *hits;
	const struct score_prefs *prefs;
	int set;
	double *values;
	unsigned char *pending;
	struct meta_fetch fetch;
	/* score_cost's answers for pending metas, worked out once a
	 * message (NULL until asked; 0: not yet, else the cost + 1, or
	 * SIZE_MAX): only an estimate, so one made before some of what the
	 * meta reads was fetched still serves */
	size_t *meta_cost;
};

static double
score_most(void *ctx, size_t i)
{
	struct score_lazy *z = ctx;

	return rules_value_most(z->rs, i);
}

static double
score_chance(void *ctx, size_t i)
{
	struct score_lazy *z = ctx;

	return rules_hit_chance(z->rs, i);
}

/* Rules score_cost looks at for one answer: metas that share what they
 * read would otherwise be walked once per path to them. */
#define SCORE_COST_VISITS 256

/* A pending meta costs what it would read (SIZE_MAX when that is more
 * than SCORE_COST_VISITS rules to look at). */
static size_t
score_cost_within(struct score_lazy *z, size_t i, unsigned int *visits)
{
	const struct rule *r = &z->rs->rules[i];
	const size_t *deps;
	size_t nd, cost = 0;

	if (!z->pending[i])
		return 0;
	if (*visits == 0)
		return SIZE_MAX;
	(*visits)--;
	if (!r->lazy_meta)
		return rules_hit_cost(z->rs, z->hits, i);
	nd = meta_deps(r->meta, &deps);
	for (size_t j = 0; j < nd && cost < SIZE_MAX; j++) {
		size_t c = score_cost_within(z, deps[j], visits);

		cost = cost > SIZE_MAX - c ? SIZE_MAX : cost + c;
	}
	return cost;
}

static size_t
score_cost(void *ctx, size_t i)
{
	struct score_lazy *z = ctx;
	unsigned int visits = SCORE_COST_VISITS;

	if (!z->pending[i] || !z->rs->rules[i].lazy_meta)
		return score_cost_within(z, i, &visits);
	if (z->meta_cost == NULL)
		z->meta_cost = xcalloc(z->rs->count, sizeof(*z->meta_cost));
	if (z->meta_cost[i] == 0) {
		size_t cost = score_cost_within(z, i, &visits);

		z->meta_cost[i] = cost == SIZE_MAX ? SIZE_MAX : cost + 1;
	}
	return z->meta_cost[i] == SIZE_MAX ? SIZE_MAX : z->meta_cost[i] - 1;
}

static void
score_fetch(void *ctx, size_t i)
{
	struct score_lazy *z = ctx;
	const struct rule *r = &z->rs->rules[i];

	z->pending[i] = 0;
	if (score_of(z->rs, z->prefs, i, z->set) == 0)
		return;
	if (r->type == RULE_META) {
		double v = meta_eval(r->meta, z->values, &z->fetch);

		/* got_hit: a hit's value is at least 1. */
		if (v != 0)
			z->values[i] = v > 0 ? v : 1;
	} else {
		unsigned int n = rules_hit_resolve(z->rs, z->hits, i);

		if (n > 0)
			z->values[i] = n;
	}
	/* (past the backstop a rule counts as not hit: that says nothing
	 * of how often it hits) */
	if (!rules_hits_timed_out(z->hits))
		rules_hit_note(z->rs, i, z->values[i] != 0);
}

void
score_compute_bayes(const struct ruleset *rs, const struct rules_hits *hits,
		    struct msgview *mv, const struct score_prefs *prefs,
		    bool bayes_available, double bayes_prob, struct score_result *out)
{
	double *values = xcalloc(rs->count > 0 ? rs->count : 1, sizeof(*values));
	/* no network tests; set 2 while Bayes can answer */
	int set = bayes_available || bayes_prob >= 0 ? 2 : 0;
	struct eval_ctx ctx;
	double total = 0;

	memset(out, 0, sizeof(*out));
	out->rules = rs;
	out->bayes_prob = bayes_prob;
	out->score_set = set;
	out->autolearn = "no";
	out->time_limit_exceeded = hits->time_limit_exceeded;
	struct score_lazy lazy = {
		.rs = rs, .hits = hits, .prefs = prefs, .set = set, .values = values,
		.pending = xcalloc(rs->count > 0 ? rs->count : 1, 1),
	};

	lazy.fetch = (struct meta_fetch){ lazy.pending, score_fetch, &lazy, score_most, score_cost,
					  score_chance };
	for (size_t i = 0; i < rs->count; i++) {
		if (rs->rules[i].lazy_meta || rules_hit_pending(hits, i))
			lazy.pending[i] = 1;
		else if (i < hits->count && hits->hits[i] > 0 && score_of(rs, prefs, i, set) != 0)
			values[i] = hits->hits[i];
	}
	/* Evals reading the user's lists. */
	eval_ctx_init(&ctx, rs, mv, prefs != NULL && prefs->have_lists ? prefs->lists : NULL);
	ctx.urihost = prefs != NULL ? prefs->urihost : NULL;
	ctx.bayes_active = bayes_prob >= 0;
	ctx.bayes_prob = bayes_prob;
	for (size_t k = 0; k < rs->eval_count; k++) {
		size_t i = rs->eval_rules[k];
		const struct rule *r = &rs->rules[i];

		if (!r->eval->per_user || score_of(rs, prefs, i, set) == 0)
			continue;
		ctx.log_rule = i;
		values[i] = eval_run(&ctx, r->eval);
	}
	/* The faraway-charset tests again, with this user's ok_locales. */
	if (prefs != NULL && prefs->ok_locales != NULL) {
		ctx.ok_locales = prefs->ok_locales;
		for (size_t k = 0; k < rs->eval_count; k++) {
			size_t i = rs->eval_rules[k];
			const struct rule *r = &rs->rules[i];

			if (!r->eval->reads_locales || r->eval->per_user ||
			    score_of(rs, prefs, i, set) == 0)
				continue;
			ctx.log_rule = i;
			values[i] = eval_run(&ctx, r->eval);
		}
	}
	/* test_log lines: the message's evals' (copied), then this user's */
	for (size_t k = 0; k < hits->log_count; k++) {
		out->logs = xreallocarray(out->logs, out->log_count + 1, sizeof(*out->logs));
		out->logs[out->log_count].rule = hits->logs[k].rule;
		out->logs[out->log_count++].msg = xstrdup(hits->logs[k].msg);
	}
	eval_take_logs(&ctx, &out->logs, &out->log_count);
	eval_ctx_free(&ctx);
	for (size_t k = 0; k < rs->meta_count; k++) {
		size_t i = rs->meta_order[k];
		double v;

		if (lazy.pending[i] || score_of(rs, prefs, i, set) == 0)
			continue;
		v = meta_eval(rs->rules[i].meta, values, &lazy.fetch);
		/* got_hit: a hit's value is at least 1. */
		if (v != 0)
			values[i] = v > 0 ? v : 1;
	}
	free(lazy.pending);
	free(lazy.meta_cost);
	out->time_limit_exceeded = rules_hits_timed_out(hits);
	for (size_t i = 0; i < rs->count; i++) {
		const struct rule *r = &rs->rules[i];
		unsigned int count;
		double s;

		if (values[i] == 0 || r->subrule)
			continue;
		s = score_of(rs, prefs, i, set);
		/* Each match of a multiple rule is its own got_hit(). */
		count = r->type != RULE_META && (r->tflags & TFLAG_MULTIPLE) != 0
			? (unsigned int)values[i] : 1;
		out->hits = xreallocarray(out->hits, out->hit_count + 1, sizeof(*out->hits));
		out->hits[out->hit_count++] = (struct score_hit){ i, count, s };
		total += s * count;
	}
	free(values);
	/* (hits is NULL when nothing hit: qsort must not see it) */
	if (out->hit_count > 1)
		qsort_r(out->hits, out->hit_count, sizeof(*out->hits), score_hit_cmp,
			(void *)rs);
	/* Scores are bounded where they are read (RULES_SCORE_ABS_MAX), but a
	 * sum of many can still leave any sane range: keep it finite and
	 * printable in the buffers below. */
	if (isnan(total))
		total = 0;
	else if (total > SCORE_TOTAL_MAX)
		total = SCORE_TOTAL_MAX;
	else if (total < -SCORE_TOTAL_MAX)
		total = -SCORE_TOTAL_MAX;
	/* PerMsgStatus::check: sprintf "%0.3f" before comparing. */
	out->score = round(total * 1000) / 1000;
	{
		char tmp[64];

		snprintf(tmp, sizeof(tmp), "%0.3f", total);
		out->score = strtod(tmp, NULL);
	}
	out->required = prefs != NULL && prefs->have_required ? prefs->required
							       : rs->required_score;
	out->is_spam = out->score >= out->required;
	score_autolearn_points(rs, prefs, set, out);
}

void
score_result_free(struct score_result *r)
{
	free(r->hits);
	for (size_t i = 0; i < r->log_count; i++)
		free(r->logs[i].msg);
	free(r->logs);
	memset(r, 0, sizeof(*r));
}

void
score_format(const struct score_result *r, char *out, size_t out_size)
{
	char score[64], reqd[64];

	snprintf(score, sizeof(score), "%2.1f", r->score);
	snprintf(reqd, sizeof(reqd), "%2.1f", r->required);
	/* Util::get_tag_value_for_score (bug 6419). */
	if (r->is_spam || strtod(score, NULL) < strtod(reqd, NULL))
		snprintf(out, out_size, "%s", score);
	else
		snprintf(out, out_size, "%.15g", strtod(reqd, NULL) - 0.1);
}

void
score_tests(const struct score_result *r, struct buf *out)
{
	const struct ruleset *rs = r->rules;
	bool first = true;

	for (size_t i = 0; i < r->hit_count; i++)
		for (unsigned int c = 0; c < r->hits[i].count; c++) {
			buf_putf(out, "%s%s", first ? "" : ",",
					 rs->rules[r->hits[i].rule].name);
			first = false;
		}
	if (first)
		buf_put_str(out, "none");
}

/* Perl's \s on bytes (no locale, no unicode_strings). */
static bool
score_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* How Util::wrap splits its string. */
enum score_wrap_break {
	WRAP_SPACE,		/* qr/\s/: words and single white space chars */
	WRAP_AFTER_SPACE_COMMA,	/* '(?<=[\s,])': after white space or a comma */
};

static size_t
score_wrap_cols(const struct strlist_item *it)
{
	size_t len = it->len;

	/* tr/\t// * 7: a tab counts 8 */
	for (size_t k = 0; k < it->len; k++)
		if (it->p[k] == '\t')
			len += 7;
	return len;
}

/* Util::wrap(string, prefix, first, length, overflow 0, break), quirks
 * kept: split(/(break)/) keeps each separator as a piece of its own, the
 * first piece of a line is taken whatever its length, lines are joined
 * with "\n" and each later line starts with prefix.  (A prefix wider than
 * length loops for ever there; here such a line takes its next piece.) */
static void
score_wrap(const char *string, const char *prefix, const char *first, size_t length,
	   enum score_wrap_break brk, struct buf *out)
{
	struct strlist arr;
	const char *p, *start;
	size_t pos = 0, split_from;
	bool pos_mod = false;

	strlist_init(&arr);
	/* splice @arr, 0, 0, $first if $first */
	if (*first != '\0' && strcmp(first, "0") != 0)
		strlist_add(&arr, first, strlen(first));
	split_from = arr.n;
	for (p = start = string; *p != '\0'; p++) {
		if (brk == WRAP_SPACE && score_is_space(*p)) {
			strlist_add(&arr, start, (size_t)(p - start));
			strlist_add(&arr, p, 1);
			start = p + 1;
		} else if (brk == WRAP_AFTER_SPACE_COMMA &&
			   (score_is_space(*p) || *p == ',')) {
			strlist_add(&arr, start, (size_t)(p + 1 - start));
			strlist_add(&arr, "", 0);
			start = p + 1;
		}
	}
	strlist_add(&arr, start, (size_t)(p - start));
	/* split drops trailing empty fields */
	while (arr.n > split_from && arr.v[arr.n - 1].len == 0) {
		free(arr.v[arr.n - 1].p);
		arr.n--;
	}
	while (pos + 1 < arr.n) {
		size_t len = score_wrap_cols(&arr.v[pos]);

		if (pos_mod)
			len += score_wrap_cols(&arr.v[pos + 1]);
		if (len <= length || (!pos_mod && pos > 0)) {
			char *merged = xmalloc(arr.v[pos].len + arr.v[pos + 1].len + 1);

			memcpy(merged, arr.v[pos].p, arr.v[pos].len);
			memcpy(merged + arr.v[pos].len, arr.v[pos + 1].p, arr.v[pos + 1].len + 1);
			arr.v[pos].len += arr.v[pos + 1].len;
			free(arr.v[pos].p);
			free(arr.v[pos + 1].p);
			arr.v[pos].p = merged;
			memmove(&arr.v[pos + 1], &arr.v[pos + 2],
				(arr.n - pos - 2) * sizeof(*arr.v));
			arr.n--;
			pos_mod = true;
		} else {
			/* s/\s+$// */
			while (arr.v[pos].len > 0 &&
			       score_is_space(arr.v[pos].p[arr.v[pos].len - 1]))
				arr.v[pos].p[--arr.v[pos].len] = '\0';
			pos++;
			pos_mod = false;
			/* splice @arr, $pos, 0, $prefix */
			strlist_add(&arr, "", 0);
			free(arr.v[arr.n - 1].p);
			memmove(&arr.v[pos + 1], &arr.v[pos], (arr.n - 1 - pos) * sizeof(*arr.v));
			arr.v[pos].p = xstrdup(prefix);
			arr.v[pos].len = strlen(prefix);
		}
	}
	for (size_t i = 0; i < arr.n; i++) {
		if (i > 0)
			buf_put_str(out, "\n");
		buf_put(out, arr.v[i].p, arr.v[i].len);
	}
	strlist_free(&arr);
}

/* PerMsgStatus::_process_header for a value without newlines (fold_headers
 * 1): Util::wrap("X-Spam-NAME!!DATA", "\t", "", 79, 0, '(?<=[\s,])'), no
 * blank lines, the DATA part returned. */
static void
spamhdr_wrap(const char *name, const char *data, struct buf *out)
{
	char *whole = xasprintf("X-Spam-%s!!%s", name, data);
	struct buf wrapped;
	const char *sep;

	buf_init(&wrapped, 0);
	score_wrap(whole, "\t", "", 79, WRAP_AFTER_SPACE_COMMA, &wrapped);
	free(whole);
	sep = strstr(wrapped.data != NULL ? wrapped.data : "", "!!");
	buf_put_str(out, sep != NULL ? sep + 2 : data);
	buf_free(&wrapped);
}

/* The rule type's word in the report (got_hit's $area): what Check.pm
 * passes for each kind of test; header, meta, mimeheader and full eval
 * rules have none. */
static const char *
score_area(const struct rule *r)
{
	switch (r->eval != NULL ? r->eval->type : r->type) {
	case RULE_BODY:
		return "BODY: ";
	case RULE_RAWBODY:
		return "RAW: ";
	case RULE_URI:
		return "URI: ";
	case RULE_FULL:
		return r->eval != NULL ? "" : "FULL: ";
	default:
		return "";
	}
}

/* PerMsgStatus::_wrap_desc: the description wrapped at report_wrap_width
 * (75 unless the rule files say) as if it started firstlen columns in,
 * later lines after prefix. */
static void
score_wrap_desc(const char *desc, size_t width, size_t firstlen, const char *prefix,
		struct buf *out)
{
	char *first = xmalloc(firstlen + 1);
	struct buf w;
	const char *p;

	memset(first, ' ', firstlen);
	first[firstlen] = '\0';
	buf_init(&w, 0);
	score_wrap(desc, prefix, first, width, WRAP_SPACE, &w);
	/* s/^\s+//s */
	for (p = w.data != NULL ? w.data : ""; score_is_space(*p); p++)
		;
	buf_put_str(out, p);
	buf_free(&w);
	free(first);
}

/* One piece of a test_log line: "[piece]\n" in REPORT (terse); in
 * SUMMARY (lng) right-aligned to column 78 when longer than 47, else
 * after 28 columns. */
static void
score_log_piece(struct buf *terse, struct buf *lng, const char *piece, size_t len)
{
	buf_putf(terse, "[%.*s]\n", (int)len, piece);
	if (len > 47)
		buf_putf(lng, "%*s[%.*s]\n", len + 2 < 78 ? (int)(78 - len - 2) : 0, "",
			 (int)len, piece);
	else
		buf_putf(lng, "%27s [%.*s]\n", "", (int)len, piece);
}

/* PerMsgStatus::check_cleanup: a line per hit (a tflags multiple rule once
 * per match) with its points, name, area and wrapped description, then
 * its test_log lines cut into pieces of 30 to 48 characters.  REPORT
 * (summary false), the X-Spam-Report text:
 *   "* 1.5 NAME AREA description\n*      [log]\n"
 * SUMMARY (summary true), the table of the report template:
 *   " 1.5 NAME (padded to 22) AREA description\n" and the log lines.
 * Hits come in name order: SpamAssassin's come in its Perl hash order,
 * which changes from run to run. */
static void
score_report_text(const struct score_result *r, bool summary, struct buf *out)
{
	const struct ruleset *rs = r->rules;

	for (size_t i = 0; i < r->hit_count; i++) {
		const struct rule *rule = &rs->rules[r->hits[i].rule];
		const char *desc = rule->describe != NULL && *rule->describe != '\0'
				   ? rule->describe : "No description available.";
		const char *area = score_area(rule);
		double sc = r->hits[i].score;
		char score[64];
		struct buf terse, lng;

		snprintf(score, sizeof(score), sc >= 10 || sc <= -10 ? "%4.0f" : "%4.1f", sc);
		buf_init(&terse, 0);
		buf_init(&lng, 0);
		for (size_t k = 0; k < r->log_count; k++) {
			const char *msg;
			size_t len;

			if (r->logs[k].rule != r->hits[i].rule)
				continue;
			msg = (rule->tflags & TFLAG_NOLOG) ? "*REDACTED*" : r->logs[k].msg;
			len = strlen(msg);
			/* while ($msg =~ s/^(.{30,48})\s//): the longest run of 30
			 * to 48 characters (no newline) followed by white space */
			for (;;) {
				size_t cut = 0;

				for (size_t n = len < 48 ? len : 48; n >= 30 && cut == 0; n--)
					if (n < len && score_is_space(msg[n]) &&
					    memchr(msg, '\n', n) == NULL)
						cut = n;
				if (cut == 0)
					break;
				score_log_piece(&terse, &lng, msg, cut);
				msg += cut + 1;
				len -= cut + 1;
			}
			score_log_piece(&terse, &lng, msg, len);
		}
		for (unsigned int c = 0; c < r->hits[i].count; c++) {
			if (summary) {
				buf_putf(out, "%s %-22s %s", score, rule->name, area);
				score_wrap_desc(desc, rs->report_wrap_width,
						3 + strlen(rule->name) + strlen(score) +
						strlen(area), "                            ", out);
				buf_put_str(out, "\n");
				buf_put(out, lng.data != NULL ? lng.data : "", lng.len);
			} else {
				buf_putf(out, "* %s %s %s", score, rule->name, area);
				score_wrap_desc(desc, rs->report_wrap_width,
						4 + strlen(rule->name) + strlen(score) +
						strlen(area), "*      ", out);
				buf_put_str(out, "\n");
				if (terse.len > 0) {
					buf_put_str(out, "*      ");
					buf_put(out, terse.data, terse.len);
				}
			}
		}
		buf_free(&terse);
		buf_free(&lng);
	}
}

static bool
score_printable(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c <= 0x7e);
}

/* PerMsgStatus::mime_encode_header: a line that is not all printable
 * ASCII keeps its leading and trailing runs of printable words and has the
 * rest written as one RFC 2047 word, =?UTF-8?Q?...?= or, when shorter,
 * =?UTF-8?B?...?=. */
static void
score_mime_encode_header(const char *text, struct buf *out)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *line = text;

	while (*line != '\0') {
		const char *nl = strchr(line, '\n');
		size_t len = nl != NULL ? (size_t)(nl + 1 - line) : strlen(line);
		size_t end = len, q, pre, sfx, run, enc = 0;
		bool printable = true;
		const unsigned char *w;

		/* the line without its \r?\n */
		if (end > 0 && line[end - 1] == '\n') {
			end--;
			if (end > 0 && line[end - 1] == '\r')
				end--;
		}
		for (size_t k = 0; k < end; k++)
			if (!score_printable((unsigned char)line[k]))
				printable = false;
		if (printable && end < len) {
			/* /^[\x09\x20-\x7E]*\r?\n\z/: kept as it is */
			buf_put(out, line, len);
			line += len;
			continue;
		}
		/* suffix: s/((?:^|[ \t])[\x09\x20-\x7E]*(?:\r?\n)?)\z//, or
		 * s/(\r?\n)\z// */
		for (q = end; q > 0 && score_printable((unsigned char)line[q - 1]); q--)
			;
		sfx = end;
		if (q == 0)
			sfx = 0;
		else
			for (size_t k = q; k < end; k++)
				if (line[k] == ' ' || line[k] == '\t') {
					sfx = k;
					break;
				}
		/* prefix: s/^([\x09\x20-\x7E]*(?:[ \t]|\z))// of what is left */
		pre = 0;
		for (run = 0; run < sfx && score_printable((unsigned char)line[run]); run++)
			if (line[run] == ' ' || line[run] == '\t')
				pre = run + 1;
		if (run == sfx)
			pre = sfx;
		buf_put(out, line, pre);
		w = (const unsigned char *)line + pre;
		for (size_t k = 0; k < sfx - pre; k++)
			if (w[k] == '=' || w[k] == '?' || w[k] == '_' || w[k] < 0x20 || w[k] >= 0x7f)
				enc++;
		if (pre == sfx) {
			/* nothing to encode */
		} else if ((double)(sfx - pre + enc * 2) <= 4.0 * (double)(sfx - pre + 2) / 3.0) {
			buf_put_str(out, "=?UTF-8?Q?");
			for (size_t k = 0; k < sfx - pre; k++) {
				if (w[k] == ' ')
					buf_put_str(out, "_");
				else if (w[k] == '=' || w[k] == '?' || w[k] == '_' || w[k] < 0x20 ||
					 w[k] >= 0x7f)
					buf_putf(out, "=%02X", w[k]);
				else
					buf_put(out, &w[k], 1);
			}
			buf_put_str(out, "?=");
		} else {
			size_t wl = sfx - pre;

			buf_put_str(out, "=?UTF-8?B?");
			for (size_t k = 0; k < wl; k += 3) {
				unsigned long v = (unsigned long)w[k] << 16;
				char quad[4];

				if (k + 1 < wl)
					v |= (unsigned long)w[k + 1] << 8;
				if (k + 2 < wl)
					v |= w[k + 2];
				quad[0] = b64[(v >> 18) & 63];
				quad[1] = b64[(v >> 12) & 63];
				quad[2] = k + 1 < wl ? b64[(v >> 6) & 63] : '=';
				quad[3] = k + 2 < wl ? b64[v & 63] : '=';
				buf_put(out, quad, 4);
			}
			buf_put_str(out, "?=");
		}
		buf_put(out, line + sfx, len - sfx);
		line += len;
	}
}

/* X-Spam-Report's value as SpamAssassin writes "add_header ... Report
 * _REPORT_" (what report_safe 0 adds): "\n" . REPORT, trailing newlines
 * dropped, folded by _process_header (each run of white space holding a
 * newline becomes "\n\t"), then mime_encode_header.  Without a hit it is
 * empty. */
static void
spamhdr_report(const struct score_result *r, struct buf *out)
{
	struct buf rep, folded;
	size_t len;

	buf_init(&rep, 0);
	buf_init(&folded, 0);
	buf_put_str(&rep, "\n");
	score_report_text(r, false, &rep);
	/* s/(?:\r?\n)+$// */
	len = rep.len;
	while (len > 0 && rep.data[len - 1] == '\n') {
		len--;
		if (len > 0 && rep.data[len - 1] == '\r')
			len--;
	}
	for (size_t i = 0; i < len;) {
		size_t j = i;
		bool has_nl = false;

		while (j < len && score_is_space(rep.data[j]))
			has_nl |= rep.data[j++] == '\n';
		if (j > i) {
			/* each match of \s*\n\s* becomes "\n\t" */
			if (has_nl)
				buf_put_str(&folded, "\n\t");
			else
				buf_put(&folded, rep.data + i, j - i);
			i = j;
		} else {
			buf_put(&folded, rep.data + i, 1);
			i++;
		}
	}
	score_mime_encode_header(folded.data != NULL ? folded.data : "", out);
	buf_free(&rep);
	buf_free(&folded);
}

void
spamhdr_render(const struct score_result *r, const char *hostname, bool report,
	       struct buf *out)
{
	struct buf tests, status;
	char score[64], stars[51];
	long n;

	buf_init(&tests, 0);
	buf_init(&status, 0);
	score_tests(r, &tests);
	score_format(r, score, sizeof(score));
	buf_putf(out, "X-Spam-Checker-Version: lmtpd %s on %s\n",
			 PACKAGE_VERSION, hostname);
	if (r->is_spam)
		buf_put_str(out, "X-Spam-Flag: YES\n");
	/* (compared as doubles first: converting a score beyond LONG_MAX
	 * (or inf/nan) to long is undefined, and gave LONG_MIN here, i.e. a
	 * memset of 2^63 '*' over the stack) */
	n = r->score >= 50 ? 50 : r->score >= 1 ? (long)r->score : 0;
	memset(stars, '*', (size_t)n);
	stars[n] = '\0';
	buf_putf(out, "X-Spam-Level: %s\n", stars);
	buf_putf(&status, "%s, score=%s required=%2.1f tests=%s autolearn=%s "
			 "version=%s", r->is_spam ? "Yes" : "No", score, r->required,
			 tests.data, r->autolearn, PACKAGE_VERSION);
	buf_put_str(out, "X-Spam-Status: ");
	spamhdr_wrap("Status", status.data, out);
	buf_put_str(out, "\n");
	buf_putf(out, "X-Spam-Score: %.0f\n",
			 r->score > 0 && isfinite(r->score) ? floor(r->score) : 0.0);
	if (report) {
		buf_put_str(out, "X-Spam-Report: ");
		spamhdr_report(r, out);
		buf_put_str(out, "\n");
	}
	buf_free(&tests);
	buf_free(&status);
}

void
score_report(const struct score_result *r, struct buf *out)
{
	char score[64];

	/* The lines of 10_default_prefs.cf's report template from "Content
	 * analysis details" on, as get_report renders them. */
	score_format(r, score, sizeof(score));
	buf_putf(out, "Content analysis details:   (%s points, %2.1f required)\n\n", score,
		 r->required);
	buf_put_str(out, " pts rule name              description\n");
	buf_put_str(out, "---- ---------------------- "
			 "--------------------------------------------------\n");
	score_report_text(r, true, out);
	/* get_report: s/\n*$/\n\n/ */
	buf_put_str(out, "\n");
}
