/* Shared harness of the eval unit tests: see eval_harness.h. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_compat.h"
#include "eval_harness.h"
#include "msgview.h"
#include "rules.h"
#include "score.h"

static const char *(*eh_testdir)(void);

bool
eh_listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

struct ruleset *
eh_load(const char *rules_text, struct rules_load_result *res)
{
	char dir[4096], path[4200];
	const char *dirs[1];
	struct ruleset *rs;

	/* each ut_testdir() call makes a new folder */
	ck_assert_ptr_nonnull(eh_testdir);
	snprintf(dir, sizeof(dir), "%s", eh_testdir());
	ut_pathf(path, sizeof(path), "%s/50_eval.cf", dir);
	ut_write_text(path, rules_text);
	dirs[0] = dir;
	rs = rules_load(dirs, 1, res);
	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(res->errors, 0);
	return rs;
}

void
eh_match(struct ruleset *rs, const char *message, size_t len, const char *envelope_from,
	 const char *const *names, size_t n_names, bool *out)
{
	struct rules_scratch *scratch = rules_scratch_new(rs);
	struct msgview *mv = msgview_new(rules_settings(rs), message, len, envelope_from);
	struct rules_hits hits;
	struct score_result total;

	rules_match(rs, scratch, mv, 0, &hits);
	rules_resolve_all(rs, &hits);
	/* the evals that read per-user lists run here, with the site's */
	score_compute(rs, &hits, mv, NULL, &total);
	for (size_t i = 0; i < n_names; i++) {
		long k = rules_find(rs, names[i]);

		ck_assert_msg(k >= 0, "%s not defined", names[i]);
		out[i] = hits.hits[k] > 0;
		for (size_t h = 0; h < total.hit_count; h++)
			out[i] |= total.hits[h].rule == (size_t)k;
	}
	score_result_free(&total);
	rules_hits_free(&hits);
	msgview_free(&mv);
	rules_scratch_free(&scratch);
}

void
eh_check_message(const char *rules_text, const char *const *names, size_t n_names,
		 const char *what, const char *message, size_t len,
		 const char *envelope_from, const char *hits)
{
	struct rules_load_result res;
	struct ruleset *rs = eh_load(rules_text, &res);
	bool got[32];

	ck_assert_uint_le(n_names, N_ELEMENTS(got));
	eh_match(rs, message, len, envelope_from, names, n_names, got);
	for (size_t i = 0; i < n_names; i++)
		ck_assert_msg(got[i] == eh_listed(hits, names[i]), "%s: %s %s", what, names[i],
			      got[i] ? "hit" : "missed");
	rules_load_result_free(&res);
	rules_free(&rs);
}

void
eh_check_hits(const char *rules_text, const char *const *names, size_t n_names,
	      const struct eval_case *c)
{
	eh_check_message(rules_text, names, n_names, c->name, c->message, strlen(c->message),
			 c->envelope_from, c->hits);
}

static int
dump_table(const char *dir, const struct eh_table *t, unsigned int *serial)
{
	for (size_t i = 0; i < t->n_cases; i++) {
		const struct eval_case *c = &t->cases[i];
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%03u.eml", dir, *serial);
		if ((f = fopen(path, "w")) == NULL)
			return 1;
		if (c->envelope_from != NULL)
			fprintf(f, "Return-Path: <%s>\n", c->envelope_from);
		fputs(c->message, f);
		if (fclose(f) != 0)
			return 1;
		snprintf(path, sizeof(path), "%s/%03u.exp", dir, (*serial)++);
		if ((f = fopen(path, "w")) == NULL)
			return 1;
		for (size_t k = 0; k < t->n_names; k++)
			fprintf(f, "%s%s", k > 0 ? " " : "", t->names[k]);
		fprintf(f, "|%s|%s", c->hits, c->name);
		if (fclose(f) != 0)
			return 1;
	}
	return 0;
}

static int
dump_cases(const char *dir, const char *rules_text, const struct eh_table *tables,
	   size_t n_tables)
{
	unsigned int serial = 0;
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/rules.cf", dir);
	if ((f = fopen(path, "w")) == NULL)
		return 1;
	fputs(rules_text, f);
	if (fclose(f) != 0)
		return 1;
	for (size_t i = 0; i < n_tables; i++)
		if (dump_table(dir, &tables[i], &serial) != 0)
			return 1;
	return 0;
}

int
eh_main(Suite *(*make_suite)(void), const char *(*testdir)(void), const char *rules_text,
	const struct eh_table *tables, size_t n_tables)
{
	const char *dump = getenv("LMTPD_EVAL_CASES_DIR");

	eh_testdir = testdir;
	if (dump != NULL)
		return dump_cases(dump, rules_text, tables, n_tables);
	return ut_run(make_suite);
}
