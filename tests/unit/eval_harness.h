/* Shared harness of the eval unit tests (test_eval*.c): tables of cases,
 * each a message and the rules that must hit it, checked against lmtpd
 * or, with LMTPD_EVAL_CASES_DIR set, written out for
 * tests/tools/sa_eval_cases.py to run through SpamAssassin itself. */
#ifndef LMTPD_EVAL_HARNESS_H
#define LMTPD_EVAL_HARNESS_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

#include "rules.h"

struct eval_case {
	const char *name;
	const char *envelope_from;
	const char *message;
	const char *hits;	/* the table's rules that must hit, space separated */
};

/* One table of cases and the rules each case is checked on. */
struct eh_table {
	const char *const *names;
	size_t n_names;
	const struct eval_case *cases;
	size_t n_cases;
};

/* True when name is a word of the space-separated list. */
bool eh_listed(const char *list, const char *name);

/* Writes rules_text to a new test folder (from eh_main's testdir) and
 * loads it; no errors. */
struct ruleset *eh_load(const char *rules_text, struct rules_load_result *res);

/* Matches message (len bytes) and sets out[i] to whether names[i] hit. */
void eh_match(struct ruleset *rs, const char *message, size_t len, const char *envelope_from,
	      const char *const *names, size_t n_names, bool *out);

/* Loads rules_text and checks that exactly the rules named in hits out
 * of names[] hit message; what names the failing case. */
void eh_check_message(const char *rules_text, const char *const *names, size_t n_names,
		      const char *what, const char *message, size_t len,
		      const char *envelope_from, const char *hits);

/* eh_check_message on a case. */
void eh_check_hits(const char *rules_text, const char *const *names, size_t n_names,
		   const struct eval_case *c);

/* With LMTPD_EVAL_CASES_DIR=DIR, writes rules_text to DIR/rules.cf and
 * every case of the tables, numbered on, to DIR/NNN.eml and DIR/NNN.exp
 * (the names, "|", the hits, "|", the case name) instead of testing;
 * else runs the suite.  testdir is the test program's ut_testdir: the
 * folder state of check_compat.h is private to each file. */
int eh_main(Suite *(*make_suite)(void), const char *(*testdir)(void), const char *rules_text,
	    const struct eh_table *tables, size_t n_tables);

#endif
