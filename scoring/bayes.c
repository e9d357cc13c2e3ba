/* bayes: the settings, the arithmetic and the per-process front end.
 *
 * The arithmetic is SpamAssassin's: Robinson's f(w) with s = 0.030 and x = 0.538 for
 * each token (_compute_prob_for_all_tokens), the 150 strongest tokens of
 * strength >= 0.346, combined with Fisher's chi-square method
 * (Bayes/CombineChi.pm, frexp rescaling included); every constant is a
 * setting of lmtpd's own (bayes_robinson_s, ...).
 *
 * The front end opens the Berkeley DB environment under state_dir on first
 * use and keeps the site-wide store and the last user's store open.  A
 * database error closes everything and is logged; the next message tries
 * again, so a broken or busy database costs Bayes, never mail. */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bayes.h"
#include "dbenv.h"
#include "log.h"
#include "strset.h"
#include "xalloc.h"

#define BAYES_LN2 0.69314718055994530942

/* ---- settings ---- */

static bool
settings_uint(const char *v, unsigned int *out)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);

	if (*v == '\0' || *v == '-' || *end != '\0' || n > 100000000UL)
		return false;
	*out = (unsigned int)n;
	return true;
}

static bool
settings_double(const char *v, double *out)
{
	char *end;
	double d = strtod(v, &end);

	if (*v == '\0' || *end != '\0' || !isfinite(d))
		return false;
	*out = d;
	return true;
}

/* A value in [lo, hi]; *out unchanged otherwise. */
static bool
settings_range(const char *v, double lo, double hi, double *out)
{
	double d;

	if (!settings_double(v, &d) || d < lo || d > hi)
		return false;
	*out = d;
	return true;
}

static bool
settings_uint_range(const char *v, unsigned int lo, unsigned int hi, unsigned int *out)
{
	unsigned int n;

	if (!settings_uint(v, &n) || n < lo || n > hi)
		return false;
	*out = n;
	return true;
}

/* SpamAssassin's durations (Conf/Parser.pm's set_duration_value):
 * [+]digits[.digits], then s, m, h, d or w (spaces before it allowed);
 * seconds without a unit. */
static bool
settings_duration(const char *v, uint32_t *out)
{
	static const char units[] = "smhdw";
	static const double secs[] = { 1, 60, 3600, 86400, 604800 };
	const char *p = v, *unit;
	double n = 0, scale = 1;

	if (*p == '+')
		p++;
	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		n = n * 10 + (*p++ - '0');
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			n += (*p - '0') * (scale /= 10);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0') {
		unit = strchr(units, tolower((unsigned char)*p));
		if (unit == NULL || p[1] != '\0')
			return false;
		n *= secs[unit - units];
	} else if (p > v && (p[-1] == ' ' || p[-1] == '\t')) {
		return false;	/* trailing blanks without a unit: SpamAssassin refuses them */
	}
	if (!(n <= UINT32_MAX))
		return false;
	*out = (uint32_t)n;
	return true;
}

static bool
settings_bool(const char *v, bool *out)
{
	if (strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0)
		*out = true;
	else if (strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 ||
		 strcasecmp(v, "false") == 0)
		*out = false;
	else
		return false;
	return true;
}

static void
settings_warn(void (*warn)(const char *), const char *key, const char *why)
{
	char msg[300];

	if (warn == NULL)
		return;
	snprintf(msg, sizeof(msg), "%s: %s", key, why);
	warn(msg);
}

void
bayes_settings_init(struct bayes_settings *s, const struct strlist *pairs,
		    void (*warn)(const char *))
{
	static uint64_t serials;
	/* bayes_stopword_xx patterns by language, and the enabled ones */
	struct strlist langs, words;
	char *enabled = xstrdup("en");

	memset(s, 0, sizeof(*s));
	s->serial = ++serials;
	s->min_spam_num = 200;
	s->min_ham_num = 200;
	s->auto_learn = true;
	s->auto_learn_threshold_nonspam = 0.1;
	s->auto_learn_threshold_spam = 12.0;
	s->use_hapaxes = true;
	s->max_token_length = 15;
	s->auto_expire = true;
	s->seen_ttl = 8 * 86400;
	s->expiry_max_db_size = 150000;
	s->robinson_s = BAYES_FW_S;
	s->robinson_x = BAYES_FW_X;
	s->min_prob_strength = BAYES_MIN_PROB_STRENGTH;
	s->n_significant = BAYES_N_SIGNIFICANT;
	s->ignore_headers = strset_new();
	strlist_init(&langs);
	strlist_init(&words);
	for (size_t i = 0; pairs != NULL && i + 1 < pairs->n; i += 2) {
		const char *k = pairs->v[i].p, *v = pairs->v[i + 1].p;
		bool ok = true;

		if (strcmp(k, "bayes_min_spam_num") == 0)
			ok = settings_uint(v, &s->min_spam_num);
		else if (strcmp(k, "bayes_min_ham_num") == 0)
			ok = settings_uint(v, &s->min_ham_num);
		else if (strcmp(k, "bayes_auto_learn") == 0)
			ok = settings_bool(v, &s->auto_learn);
		else if (strcmp(k, "bayes_auto_learn_threshold_nonspam") == 0)
			ok = settings_double(v, &s->auto_learn_threshold_nonspam);
		else if (strcmp(k, "bayes_auto_learn_threshold_spam") == 0)
			ok = settings_double(v, &s->auto_learn_threshold_spam);
		else if (strcmp(k, "bayes_use_hapaxes") == 0)
			ok = settings_bool(v, &s->use_hapaxes);
		else if (strcmp(k, "bayes_max_token_length") == 0)
			ok = settings_uint(v, &s->max_token_length) && s->max_token_length >= 3;
		else if (strcmp(k, "bayes_auto_expire") == 0)
			ok = settings_bool(v, &s->auto_expire);
		else if (strcmp(k, "bayes_expiry_max_db_size") == 0)
			ok = settings_uint(v, &s->expiry_max_db_size) &&
			     s->expiry_max_db_size >= 1000;
		else if (strcmp(k, "bayes_seen_ttl") == 0)
			ok = settings_duration(v, &s->seen_ttl);
		else if (strcmp(k, "bayes_robinson_s") == 0)
			ok = settings_range(v, 1e-6, 100, &s->robinson_s);
		else if (strcmp(k, "bayes_robinson_x") == 0)
			ok = settings_range(v, 0.01, 0.99, &s->robinson_x);
		else if (strcmp(k, "bayes_min_prob_strength") == 0)
			ok = settings_range(v, 0, 0.49, &s->min_prob_strength);
		else if (strcmp(k, "bayes_n_significant") == 0)
			ok = settings_uint_range(v, 1, 10000, &s->n_significant);
		else if (strcmp(k, "bayes_ignore_header") == 0) {
			char *copy = xstrdup(v), *save = NULL;

			for (char *w = strtok_r(copy, " \t", &save); w != NULL;
			     w = strtok_r(NULL, " \t", &save)) {
				for (char *c = w; *c != '\0'; c++)
					*c = (char)tolower((unsigned char)*c);
				(void)strset_add(s->ignore_headers, w, strlen(w));
			}
			free(copy);
		} else if (strcmp(k, "bayes_stopword_languages") == 0) {
			free(enabled);
			enabled = xstrdup(v);
		} else if (strncmp(k, "bayes_stopword_", 15) == 0 && strlen(k) == 17) {
			/* a later line for a language replaces the earlier */
			for (size_t j = 0; j < langs.n; j++)
				if (strcmp(langs.v[j].p, k + 15) == 0)
					langs.v[j].p[0] = '\0';
			strlist_add(&langs, k + 15, 2);
			strlist_add(&words, v, strlen(v));
		}
		/* other bayes_* settings (paths, journal, store modules) have no
		 * meaning here */
		if (!ok)
			settings_warn(warn, k, "invalid value, default kept");
	}
	if (strcmp(enabled, "disable") != 0) {
		char *save = NULL;

		for (char *w = strtok_r(enabled, " ,\t", &save); w != NULL;
		     w = strtok_r(NULL, " ,\t", &save)) {
			bool found = false;

			for (size_t j = langs.n; j-- > 0;) {
				char *pat;
				pcre2_code *re;
				int err;
				PCRE2_SIZE off;

				if (strcasecmp(langs.v[j].p, w) != 0)
					continue;
				found = true;
				/* SpamAssassin compiles '^(?i)'.$re.'$' */
				pat = xasprintf("^(?i)%s$", words.v[j].p);
				re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, 0,
						   &err, &off, NULL);
				free(pat);
				if (re == NULL) {
					settings_warn(warn, "bayes_stopword", "does not compile");
					break;
				}
				(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
				s->stopwords = xreallocarray(s->stopwords, s->stopword_count + 1,
							     sizeof(*s->stopwords));
				s->stopwords[s->stopword_count++] = re;
				break;
			}
			if (!found && pairs != NULL && pairs->n > 0)
				settings_warn(warn, "bayes_stopword_languages",
					      "a language without stopwords");
		}
	}
	free(enabled);
	strlist_free(&langs);
	strlist_free(&words);
}

void
bayes_settings_free(struct bayes_settings *s)
{
	strset_free(&s->ignore_headers);
	for (size_t i = 0; i < s->stopword_count; i++)
		pcre2_code_free(s->stopwords[i]);
	free(s->stopwords);
	memset(s, 0, sizeof(*s));
}

/* ---- arithmetic ---- */

bool
bayes_token_prob(uint32_t s, uint32_t n, uint32_t ns, uint32_t nn, bool use_hapaxes,
		 double *prob_r)
{
	return bayes_token_prob_sx(s, n, ns, nn, use_hapaxes, BAYES_FW_S, BAYES_FW_X, prob_r);
}

bool
bayes_token_prob_sx(uint32_t s, uint32_t n, uint32_t ns, uint32_t nn, bool use_hapaxes,
		    double rs, double rx, double *prob_r)
{
	double prob, robn;
	unsigned int threshold = use_hapaxes ? 1 : 2;

	if (ns == 0 || nn == 0 || (uint64_t)s + n < threshold)
		return false;
	prob = ((double)s * nn) / ((double)n * ns + (double)s * nn);
	robn = (double)s + n;
	*prob_r = (rs * rx + robn * prob) / (rs + robn);
	return true;
}

double
bayes_chi2q(double x2, size_t halfv)
{
	double m = x2 / 2.0, sum, term;

	sum = term = exp(-m);
	for (size_t i = 1; i < halfv; i++) {
		term *= m / (double)i;
		sum += term;
	}
	return sum < 1.0 ? sum : 1.0;
}

double
bayes_combine(uint32_t ns, uint32_t nn, const double *probs, size_t n)
{
	double S, H;
	int Sexp = 0, Hexp = 0;

	if (n == 0 || (uint64_t)ns + nn == 0)
		return -1;
	S = (double)ns / ((double)ns + nn);
	H = (double)nn / ((double)ns + nn);
	for (size_t i = 0; i < n; i++) {
		S *= 1.0 - probs[i];
		H *= probs[i];
		if (S < 1e-200) {
			int e;

			S = frexp(S, &e);
			Sexp += e;
		}
		if (H < 1e-200) {
			int e;

			H = frexp(H, &e);
			Hexp += e;
		}
	}
	S = log(S) + Sexp * BAYES_LN2;
	H = log(H) + Hexp * BAYES_LN2;
	S = 1.0 - bayes_chi2q(-2.0 * S, n);
	H = 1.0 - bayes_chi2q(-2.0 * H, n);
	return ((S - H) + 1.0) / 2.0;
}

struct strength {
	double prob, strength;
	size_t idx;		/* the token's place: ties keep that order */
};

/* Stronger first; ties in the tokens' order. */
static bool
strength_before(const struct strength *x, const struct strength *y)
{
	return x->strength > y->strength || (x->strength == y->strength && x->idx < y->idx);
}

/* In strength_before's order (total: places differ), by a merge sort
 * with the comparison inline: qsort's calls through a pointer were a third
 * of the classifier's own instructions. */
static void
strength_sort(struct strength *v, size_t n, struct strength *tmp)
{
	size_t half, i, j, k;

	if (n < 16) {
		for (i = 1; i < n; i++) {
			struct strength x = v[i];

			for (j = i; j > 0 && strength_before(&x, &v[j - 1]); j--)
				v[j] = v[j - 1];
			v[j] = x;
		}
		return;
	}
	half = n / 2;
	strength_sort(v, half, tmp);
	strength_sort(v + half, n - half, tmp);
	memcpy(tmp, v, half * sizeof(*v));
	for (i = 0, j = half, k = 0; i < half && j < n; k++)
		v[k] = strength_before(&v[j], &tmp[i]) ? v[j++] : tmp[i++];
	while (i < half)
		v[k++] = tmp[i++];
}

/* bayes_score_counts, marking in used_r (n entries, or NULL) the tokens
 * it combined. */
static bool
bayes_score_counts_used(const struct bayes_settings *s, const struct bayes_totals *tot,
			const struct bayes_counts *counts, size_t n, double *prob_r,
			bool *used_r)
{
	struct strength *st = xcalloc(n > 0 ? n : 1, sizeof(*st));
	double *probs;
	size_t m = 0, used = 0;
	double r;

	/* SpamAssassin takes the n_significant strongest, then drops those
	 * under min_prob_strength: the same tokens in the same
	 * order as sorting only those at or over it, since ties are ordered
	 * by the tokens' place (the order combining multiplies in). */
	for (size_t i = 0; i < n; i++) {
		double p;

		if (!bayes_token_prob_sx(counts[i].spam, counts[i].ham, tot->nspam, tot->nham,
					 s->use_hapaxes, s->robinson_s, s->robinson_x, &p))
			continue;
		st[m].prob = p;
		st[m].strength = fabs(p - 0.5);
		st[m].idx = i;
		if (st[m].strength >= s->min_prob_strength)
			m++;
	}
	if (m > 1) {
		struct strength *tmp = xmalloc((m / 2 + 1) * sizeof(*tmp));

		strength_sort(st, m, tmp);
		free(tmp);
	}
	if (m > s->n_significant)
		m = s->n_significant;
	probs = xcalloc(m > 0 ? m : 1, sizeof(*probs));
	for (size_t i = 0; i < m; i++) {
		probs[used++] = st[i].prob;
		if (used_r != NULL)
			used_r[st[i].idx] = true;
	}
	free(st);
	r = bayes_combine(tot->nspam, tot->nham, probs, used);
	free(probs);
	if (r < 0)
		return false;
	*prob_r = r;
	return true;
}

bool
bayes_score_counts(const struct bayes_settings *s, const struct bayes_totals *tot,
		   const struct bayes_counts *counts, size_t n, double *prob_r)
{
	return bayes_score_counts_used(s, tot, counts, n, prob_r, NULL);
}

/* ---- front end ---- */

struct bayes {
	const struct bayes_settings *s;
	char *state_dir;
	bool per_user;
	struct db_env *env;
	struct bayes_store *site;
	struct bayes_store *user_store;
	char *user;		/* whose user_store is open */
	time_t next_try;	/* after an open failure, wait a little */
	/* the user whose database did not open, and until when it is not
	 * tried again: the others' (and the site's) go on meanwhile */
	char *failed_user;
	time_t failed_until;
	bool bulk;		/* bayes_set_bulk */
	bool read_only;		/* bayes_set_read_only */
	bool not_made;		/* read-only, and the store asked for has no file */
	struct bayes_store_copy *inherited;	/* the parent's copy, for site */
};

/* The handle open in this process, closed at exit(): a process that ends
 * without closing the environment leaves its registration in
 * lmtpd-db.users unlocked, which is how a process that died attached looks,
 * and everyone would let go of the environment for a recovery.  (The
 * daemon's workers end with exit(), not through scoring_free.) */
static struct bayes *bayes_at_exit;

static void bayes_close_all(struct bayes *b);
static void bayes_failed(struct bayes *b);

static void
bayes_exit_close(void)
{
	if (bayes_at_exit != NULL)
		bayes_close_all(bayes_at_exit);
	bayes_at_exit = NULL;
}

struct bayes *
bayes_new(const struct bayes_settings *s, const char *state_dir, bool per_user)
{
	struct bayes *b = xcalloc(1, sizeof(*b));

	b->s = s;
	b->state_dir = xstrdup(state_dir);
	b->per_user = per_user;
	return b;
}

static void
bayes_close_all(struct bayes *b)
{
	bayes_store_close(&b->site);
	bayes_store_close(&b->user_store);
	free(b->user);
	b->user = NULL;
	db_env_close(&b->env);
}

void
bayes_free(struct bayes **bp)
{
	struct bayes *b = *bp;

	if (b == NULL)
		return;
	bayes_close_all(b);
	bayes_store_free_copy(&b->inherited);
	free(b->failed_user);
	if (bayes_at_exit == b)
		bayes_at_exit = NULL;
	free(b->state_dir);
	free(b);
	*bp = NULL;
}

void
bayes_close(struct bayes *b)
{
	bayes_close_all(b);
}

void
bayes_set_read_only(struct bayes *b, bool read_only)
{
	b->read_only = read_only;
}

void
bayes_set_bulk(struct bayes *b, bool bulk)
{
	b->bulk = bulk;
	if (b->site != NULL)
		bayes_store_set_bulk(b->site, bulk);
	if (b->user_store != NULL)
		bayes_store_set_bulk(b->user_store, bulk);
}

void
bayes_prepare_fork(struct bayes *b)
{
	struct bayes_store *st;

	if (b->per_user)
		return;
	bayes_set_bulk(b, true);
	st = bayes_store_for(b, NULL);
	if (st != NULL && bayes_store_preload(st) < 0)
		bayes_failed(b);
}

void
bayes_after_fork(struct bayes *b)
{
	/* Berkeley DB handles must not cross fork(): forget them unclosed
	 * (the parent owns them) and open afresh on first use.  A copy of
	 * the site database is plain memory: it stays, for the next site
	 * handle. */
	b->inherited = bayes_store_take_copy(b->site);
	b->site = NULL;
	b->user_store = NULL;
	free(b->user);
	b->user = NULL;
	b->env = NULL;
	b->next_try = 0;
}


/* A database of the open environment did not open.  When the environment
 * went to recovery meanwhile (it was asked for between opening the
 * environment and the database), the next call opens it again at once,
 * which waits for the recovery where the process allows it
 * (lmtpd-learn); other failures wait a little. */
static void
bayes_open_failed(struct bayes *b, char *error, time_t now)
{
	bool recovering;

	if (b->read_only && errno == ENOENT) {
		/* Nothing learned yet (for this user): no answer, as with
		 * too few messages learned. */
		free(error);
		b->not_made = true;
		return;
	}
	recovering = db_env_stale(b->env);

	log_warn("bayes: %s; scoring without Bayes", error);
	free(error);
	bayes_close_all(b);
	b->next_try = recovering ? now : now + 10;
}

static struct bayes_store *
bayes_open_store(struct bayes *b, const char *user, char **error_r)
{
	struct bayes_store *st;

	if (b->read_only)
		return bayes_store_open_read_only(b->env, user, error_r);
	st = bayes_store_open(b->env, user, error_r);
	if (st != NULL)
		bayes_store_set_seen_ttl(st, b->s->seen_ttl);
	return st;
}

struct bayes_store *
bayes_store_for(struct bayes *b, const char *user)
{
	char *error = NULL;
	time_t now = time(NULL);

	b->not_made = false;
	if (!b->per_user)
		user = NULL;
	if (b->env != NULL && db_env_stale(b->env))
		bayes_close_all(b);
	if (b->env == NULL) {
		if (now < b->next_try)
			return NULL;
		b->env = db_env_open(b->state_dir, &error);
		if (b->env == NULL) {
			/* a recovery is soon over; other failures take longer */
			b->next_try = now + (errno == EAGAIN ? 1 : 10);
			log_warn("bayes: %s; scoring without Bayes", error);
			free(error);
			return NULL;
		}
		if (bayes_at_exit == NULL) {
			static bool registered;

			if (!registered && atexit(bayes_exit_close) == 0)
				registered = true;
			bayes_at_exit = b;
		}
	}
	if (user == NULL) {
		if (b->site == NULL) {
			b->site = bayes_open_store(b, NULL, &error);
			if (b->site == NULL)
				bayes_open_failed(b, error, now);
			else {
				bayes_store_set_bulk(b->site, b->bulk);
				bayes_store_give_copy(b->site, &b->inherited);
			}
		}
		return b->site;
	}
	if (b->user != NULL && strcmp(b->user, user) == 0)
		return b->user_store;
	bayes_store_close(&b->user_store);
	free(b->user);
	b->user = NULL;
	if (b->failed_user != NULL && strcmp(b->failed_user, user) == 0 &&
	    now < b->failed_until)
		return NULL;
	b->user_store = bayes_open_store(b, user, &error);
	if (b->user_store == NULL) {
		if ((b->read_only && errno == ENOENT) || db_env_stale(b->env)) {
			bayes_open_failed(b, error, now);
			return NULL;
		}
		/* one user's file (damaged, unreadable): that user only, not
		 * Bayes for everyone for the next seconds */
		log_warn("bayes: %s; scoring without Bayes for this user", error);
		free(error);
		free(b->failed_user);
		b->failed_user = xstrdup(user);
		b->failed_until = now + 10;
		return NULL;
	}
	bayes_store_set_bulk(b->user_store, b->bulk);
	b->user = xstrdup(user);
	return b->user_store;
}

/* After a database error: when the environment awaits recovery, start
 * over on a later message. */
static void
bayes_failed(struct bayes *b)
{
	if (b->env != NULL && db_env_stale(b->env))
		bayes_close_all(b);
}

int
bayes_ready(struct bayes *b, const char *user)
{
	struct bayes_store *st = bayes_store_for(b, user);
	struct bayes_totals tot;

	if (st == NULL)
		return b->not_made ? 0 : -1;
	if (bayes_store_totals(st, &tot) < 0) {
		bayes_failed(b);
		return -1;
	}
	return tot.nspam >= b->s->min_spam_num && tot.nham >= b->s->min_ham_num;
}

int
bayes_classify(struct bayes *b, const char *user, const struct bayes_tokens *toks,
	       double *prob_r)
{
	struct bayes_store *st = bayes_store_for(b, user);
	struct bayes_totals tot;
	struct bayes_counts *counts;
	bool ok, *used;

	if (st == NULL)
		return b->not_made ? 0 : -1;
	counts = xcalloc(toks->list.n > 0 ? toks->list.n : 1, sizeof(*counts));
	if (bayes_store_lookup(st, &toks->list, &tot, counts) < 0) {
		free(counts);
		bayes_failed(b);
		return -1;
	}
	if (tot.nspam < b->s->min_spam_num || tot.nham < b->s->min_ham_num) {
		free(counts);
		return 0;
	}
	used = b->read_only ? NULL : xcalloc(toks->list.n > 0 ? toks->list.n : 1, sizeof(*used));
	ok = bayes_score_counts_used(b->s, &tot, counts, toks->list.n, prob_r, used);
	/* The tokens that decided, as SpamAssassin's scan touches them; not
	 * by lmtpd-score, which only reads. */
	if (ok && used != NULL)
		(void)bayes_store_touch(st, &toks->list, counts, used, (uint32_t)time(NULL));
	free(used);
	free(counts);
	return ok ? 1 : 2;
}

int
bayes_learn(struct bayes *b, const char *user, const struct bayes_tokens *toks,
	    enum bayes_class cls, unsigned int flags, enum bayes_learn_result *result_r)
{
	struct bayes_store *st = bayes_store_for(b, user);
	struct bayes_totals tot;

	if (st == NULL)
		return -1;
	if (bayes_store_learn(st, toks, cls, time(NULL), flags, result_r) < 0) {
		bayes_failed(b);
		return -1;
	}
	if (b->s->auto_expire && *result_r == BAYES_LEARNED &&
	    bayes_store_totals(st, &tot) == 0 && tot.ntokens > b->s->expiry_max_db_size) {
		long n = bayes_store_expire(st, b->s->expiry_max_db_size);

		if (n > 0)
			log_info("bayes: expired %ld tokens", n);
	}
	/* Each learn adds at most one seen entry; looking at four times as
	 * many as were added goes round the whole file within a quarter of
	 * the ttl, so an entry outlives its ttl by at most that much. */
	if (b->s->auto_expire && *result_r == BAYES_LEARNED && bayes_store_seen_purge_due(st)) {
		long n = bayes_store_purge_seen(st, time(NULL), 4 * BAYES_SEEN_PURGE_EVERY);

		if (n > 0)
			log_info("bayes: forgot %ld seen message(s) older than bayes_seen_ttl", n);
	}
	return 0;
}

int
bayes_totals(struct bayes *b, const char *user, struct bayes_totals *tot_r)
{
	struct bayes_store *st = bayes_store_for(b, user);

	if (st == NULL)
		return -1;
	if (bayes_store_totals(st, tot_r) < 0) {
		bayes_failed(b);
		return -1;
	}
	return 0;
}
