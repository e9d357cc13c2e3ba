/* score: per-recipient totals and the X-Spam-* headers.  Semantics follow
 * PerMsgStatus: a hit of a rule whose score is 0 in the active score set
 * does not count (got_hit returns early), metas see hit values and run in
 * dependency order, tflags multiple rules add their score once per hit,
 * the total is rounded to three decimals and is spam at >= required_score.
 * The Status header is folded with Util::wrap's algorithm. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "msgview.h"
#include "rules_int.h"
#include "rules_parse.h"
#include "score.h"
#include "xalloc.h"

#define SCORE_PREFS_MAX (1024 * 1024)

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
};

static void
score_prefs_warn(void (*warn)(const char *), const char *path, unsigned int line,
		 const char *why)
{
	char msg[600];

	if (warn == NULL)
		return;
	snprintf(msg, sizeof(msg), "%s:%u: %s", path, line, why);
	warn(msg);
}

static void
score_copy_list(struct addrlist *dst, const struct addrlist *src)
{
	dst->n = 0;
	dst->v = NULL;
	for (size_t i = 0; i < src->n; i++) {
		dst->v = xreallocarray(dst->v, dst->n + 1, sizeof(*dst->v));
		dst->v[dst->n].pattern = xstrdup(src->v[i].pattern);
		dst->v[dst->n].rcvd_domain = src->v[i].rcvd_domain != NULL
					     ? xstrdup(src->v[i].rcvd_domain) : NULL;
		dst->n++;
	}
}

static bool
score_prefs_list_line(struct score_prefs *p, const struct ruleset *rs,
		      const char *key, const char *value)
{
	static const struct {
		const char *key;
		enum addrlist_kind kind;
		int mode;	/* 0 add, 1 remove, 2 rcvd */
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
	};

	for (size_t i = 0; i < N_ELEMENTS(table); i++) {
		if (strcmp(key, table[i].key) != 0)
			continue;
		if (!p->have_lists) {
			for (int k = 0; k < ADDRLIST_KIND_COUNT; k++)
				score_copy_list(&p->lists[k], &rs->lists[k]);
			p->have_lists = true;
		}
		if (table[i].mode == 0)
			addrlist_add_words(&p->lists[table[i].kind], value);
		else if (table[i].mode == 1)
			addrlist_remove_words(&p->lists[table[i].kind], value);
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
	while (n < 4 && (tok = strtok_r(NULL, " \t", &save)) != NULL) {
		char *end;

		v[n] = strtod(tok, &end);
		if (*end != '\0' || !isfinite(v[n])) {
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
}

struct score_prefs *
score_prefs_load(const struct ruleset *rs, const char *path, void (*warn)(const char *))
{
	struct score_prefs *p;
	char line[8192];
	unsigned int lineno = 0;
	size_t total = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		if (errno != ENOENT && errno != ENOTDIR)
			score_prefs_warn(warn, path, 0, strerror(errno));
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s = line, *key, *value, *hash;
		size_t len = strlen(line);

		lineno++;
		total += len;
		if (total > SCORE_PREFS_MAX) {
			score_prefs_warn(warn, path, lineno, "file too large; rest ignored");
			break;
		}
		for (hash = s; (hash = strchr(hash, '#')) != NULL; hash++)
			if (hash == s || hash[-1] != '\\') {
				*hash = '\0';
				break;
			}
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
			char *end;
			double v = strtod(value, &end);

			if (*value == '\0' || *end != '\0' || !isfinite(v))
				score_prefs_warn(warn, path, lineno, "bad required_score");
			else {
				p->required = v;
				p->have_required = true;
			}
		} else if (strcmp(key, "score") == 0) {
			score_prefs_score_line(p, rs, value, warn, path, lineno);
		} else if (!score_prefs_list_line(p, rs, key, value)) {
			char why[200];

			snprintf(why, sizeof(why), "'%s' is not allowed in user preferences",
				 key);
			score_prefs_warn(warn, path, lineno, why);
		}
	}
	fclose(f);
	return p;
}

void
score_prefs_free(struct score_prefs **pp)
{
	struct score_prefs *p = *pp;

	if (p == NULL)
		return;
	free(p->overrides);
	if (p->have_lists)
		for (int k = 0; k < ADDRLIST_KIND_COUNT; k++)
			addrlist_free(&p->lists[k]);
	free(p);
	*pp = NULL;
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
	score_compute_bayes(rs, hits, mv, prefs, -1, out);
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

void
score_compute_bayes(const struct ruleset *rs, const struct rules_hits *hits,
		    struct msgview *mv, const struct score_prefs *prefs,
		    double bayes_prob, struct score_result *out)
{
	double *values = xcalloc(rs->count > 0 ? rs->count : 1, sizeof(*values));
	/* no network tests; set 2 while Bayes answers */
	int set = bayes_prob >= 0 ? 2 : 0;
	struct eval_ctx ctx;
	double total = 0;

	memset(out, 0, sizeof(*out));
	out->bayes_prob = bayes_prob;
	out->score_set = set;
	out->autolearn = "no";
	out->time_limit_exceeded = hits->time_limit_exceeded;
	for (size_t i = 0; i < rs->count && i < hits->count; i++)
		if (hits->hits[i] > 0 && score_of(rs, prefs, i, set) != 0)
			values[i] = hits->hits[i];
	/* Evals reading the user's lists. */
	eval_ctx_init(&ctx, rs, mv, prefs != NULL && prefs->have_lists ? prefs->lists : NULL);
	ctx.bayes_active = bayes_prob >= 0;
	ctx.bayes_prob = bayes_prob;
	for (size_t k = 0; k < rs->eval_count; k++) {
		size_t i = rs->eval_rules[k];
		const struct rule *r = &rs->rules[i];

		if (!eval_is_per_user(r->eval->name) || score_of(rs, prefs, i, set) == 0)
			continue;
		values[i] = eval_run(&ctx, r->eval);
	}
	eval_ctx_free(&ctx);
	for (size_t k = 0; k < rs->meta_count; k++) {
		size_t i = rs->meta_order[k];
		double v;

		if (score_of(rs, prefs, i, set) == 0)
			continue;
		v = meta_eval(rs->rules[i].meta, values);
		/* got_hit: a hit's value is at least 1. */
		if (v != 0)
			values[i] = v > 0 ? v : 1;
	}
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
score_tests(const struct ruleset *rs, const struct score_result *r, struct buf *out)
{
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

/* Util::wrap($hdr, "\t", "", 79, 0, '(?<=[\s,])') on "X-Spam-NAME!!DATA",
 * returning the DATA part: split after every white space or comma, then
 * greedily join pieces while the line stays within 79 columns (tabs count
 * 8). */
static void
spamhdr_wrap(const char *name, const char *data, struct buf *out)
{
	struct strlist arr;
	char *whole = xasprintf("X-Spam-%s!!%s", name, data);
	const char *p = whole, *start = whole;
	size_t pos = 0;
	int pos_mod = 0;
	struct buf joined;
	char *sep;

	strlist_init(&arr);
	/* split(/((?<=[\s,]))/): pieces, each followed by an empty capture */
	for (; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == ',' || *p == '\r' ||
		    *p == '\f' || *p == '\v') {
			strlist_add(&arr, start, (size_t)(p + 1 - start));
			strlist_add(&arr, "", 0);
			start = p + 1;
		}
	}
	if (*start != '\0')
		strlist_add(&arr, start, strlen(start));
	else
		/* Perl's split drops trailing empty fields. */
		while (arr.n > 0 && arr.v[arr.n - 1].len == 0) {
			free(arr.v[arr.n - 1].p);
			arr.n--;
		}
	while (arr.n > 0 && pos + 1 < arr.n) {
		size_t len = arr.v[pos].len;

		for (size_t k = 0; k < arr.v[pos].len; k++)
			if (arr.v[pos].p[k] == '\t')
				len += 7;
		if (pos_mod != 0) {
			len += arr.v[pos + 1].len;
			for (size_t k = 0; k < arr.v[pos + 1].len; k++)
				if (arr.v[pos + 1].p[k] == '\t')
					len += 7;
		}
		if (len <= 79) {
			char *merged = xasprintf("%s%s", arr.v[pos].p, arr.v[pos + 1].p);

			free(arr.v[pos].p);
			free(arr.v[pos + 1].p);
			arr.v[pos].p = merged;
			arr.v[pos].len = strlen(merged);
			memmove(&arr.v[pos + 1], &arr.v[pos + 2],
				(arr.n - pos - 2) * sizeof(*arr.v));
			arr.n--;
			pos_mod = 1;
		} else {
			size_t l = arr.v[pos].len;

			while (l > 0 && isspace((unsigned char)arr.v[pos].p[l - 1]))
				l--;
			arr.v[pos].p[l] = '\0';
			arr.v[pos].len = l;
			pos++;
			pos_mod = 0;
			/* splice @arr, $pos, 0, "\t" */
			if (arr.n == arr.cap) {
				arr.cap *= 2;
				arr.v = xreallocarray(arr.v, arr.cap, sizeof(*arr.v));
			}
			memmove(&arr.v[pos + 1], &arr.v[pos], (arr.n - pos) * sizeof(*arr.v));
			arr.v[pos].p = xstrdup("\t");
			arr.v[pos].len = 1;
			arr.n++;
		}
	}
	buf_init(&joined, 0);
	for (size_t i = 0; i < arr.n; i++)
		buf_putf(&joined, "%s%s", i > 0 ? "\n" : "", arr.v[i].p);
	strlist_free(&arr);
	free(whole);
	/* s/^\s*\n//gm: no blank lines inside a header */
	sep = strstr(joined.data != NULL ? joined.data : "", "!!");
	buf_put_str(out, sep != NULL ? sep + 2 : data);
	buf_free(&joined);
}

void
spamhdr_render(const struct ruleset *rs, const struct score_result *r,
	       const char *hostname, bool report, struct buf *out)
{
	struct buf tests, status;
	char score[64], stars[51];
	long n;

	buf_init(&tests, 0);
	buf_init(&status, 0);
	score_tests(rs, r, &tests);
	score_format(r, score, sizeof(score));
	buf_putf(out, "X-Spam-Checker-Version: lmtpd %s on %s\n",
			 PACKAGE_VERSION, hostname);
	if (r->is_spam)
		buf_put_str(out, "X-Spam-Flag: YES\n");
	n = r->score >= 1 ? (long)r->score : 0;
	if (n > 50)
		n = 50;
	memset(stars, '*', (size_t)n);
	stars[n] = '\0';
	buf_putf(out, "X-Spam-Level: %s\n", stars);
	buf_putf(&status, "%s, score=%s required=%2.1f tests=%s autolearn=%s "
			 "version=%s", r->is_spam ? "Yes" : "No", score, r->required,
			 tests.data, r->autolearn, PACKAGE_VERSION);
	buf_put_str(out, "X-Spam-Status: ");
	spamhdr_wrap("Status", status.data, out);
	buf_put_str(out, "\n");
	buf_putf(out, "X-Spam-Score: %ld\n",
			 r->score > 0 ? (long)floor(r->score) : 0L);
	if (report && r->hit_count > 0) {
		struct buf rep;

		buf_init(&rep, 0);
		score_report(rs, r, &rep);
		buf_put_str(out, "X-Spam-Report: \n");
		/* Each report line becomes a folded continuation. */
		for (char *line = rep.data, *nl; line != NULL && *line != '\0'; line = nl) {
			nl = strchr(line, '\n');
			if (nl != NULL)
				*nl++ = '\0';
			buf_putf(out, "\t*%s\n", line);
		}
		buf_free(&rep);
	}
	buf_free(&tests);
	buf_free(&status);
}

void
score_report(const struct ruleset *rs, const struct score_result *r, struct buf *out)
{
	buf_put_str(out, " pts rule name              description\n");
	buf_put_str(out, "---- ---------------------- "
				  "--------------------------------------------------\n");
	for (size_t i = 0; i < r->hit_count; i++) {
		const struct rule *rule = &rs->rules[r->hits[i].rule];
		double pts = r->hits[i].score * r->hits[i].count;

		buf_putf(out, "%4.1f %-22s %s\n", pts, rule->name,
				 rule->describe != NULL ? rule->describe
							: "No description available.");
	}
}
