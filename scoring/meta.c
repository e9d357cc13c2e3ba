/* meta: SpamAssassin meta-rule expressions.  The lexer follows
 * Constants.pm ARITH_EXPRESSION_LEXER and the semantics are Perl's, which
 * the shipped rules rely on: "&&" and "||" yield an operand's value (not a
 * boolean), "!" and comparisons yield 1 or 0, arithmetic is on numbers.
 * A rule name reads that rule's hit value (0 when absent or not hit);
 * rules_matching(GLOB) is the sum of the matching rules' values, as
 * Parser.pm expands it.  Expressions are bounded (META_NODES_MAX). */
#include "config.h"

#include <ctype.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"
#include "xalloc.h"

#define META_NODES_MAX 4096

enum meta_op {
	META_NUM,	/* value */
	META_RULE,	/* rule index */
	META_NOT,
	META_NEG,
	META_AND,
	META_OR,
	META_XOR,
	META_ADD,
	META_SUB,
	META_MUL,
	META_DIV,
	META_LT,
	META_GT,
	META_LE,
	META_GE,
	META_EQ,
	META_NE,
};

struct meta_node {
	enum meta_op op;
	double value;
	size_t rule;
	int a, b;	/* operand node indices */
	unsigned int size;	/* nodes in the subtree */
	bool has_div;		/* a division in the subtree */
	/* a rule in the subtree may be pending when read (meta_mark_lazy):
	 * without one, neither costs nor ranges are worth working out */
	bool may_pend;
};

struct meta_prog {
	struct meta_node *nodes;
	size_t count;
	int root;
	size_t *deps;
	size_t dep_count;
};

struct meta_parser {
	const char *p;
	char tok[160];
	const struct strmap *names;
	struct meta_prog *prog;
	const char *error;
	/* rules_matching() names, expanded by the caller */
	bool in_glob;
};

static void
meta_lex(struct meta_parser *mp)
{
	const char *p = mp->p;
	size_t n = 0;

	while (isspace((unsigned char)*p))
		p++;
	mp->tok[0] = '\0';
	if (*p == '\0') {
		mp->p = p;
		return;
	}
	if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
		while ((isdigit((unsigned char)*p) || *p == '.') && n + 1 < sizeof(mp->tok))
			mp->tok[n++] = *p++;
	} else if (isalpha((unsigned char)*p) || *p == '_') {
		while ((isalnum((unsigned char)*p) || *p == '_' || *p == ':') &&
		       n + 1 < sizeof(mp->tok))
			mp->tok[n++] = *p++;
	} else if ((p[0] == '&' && p[1] == '&') || (p[0] == '|' && p[1] == '|') ||
		   (p[0] == '>' && p[1] == '=') || (p[0] == '<' && p[1] == '=') ||
		   (p[0] == '=' && p[1] == '=') || (p[0] == '!' && p[1] == '=')) {
		mp->tok[n++] = *p++;
		mp->tok[n++] = *p++;
	} else if (strchr("()!<>+-*/^", *p) != NULL) {
		mp->tok[n++] = *p++;
	} else {
		mp->error = "unexpected character";
		p++;
	}
	mp->tok[n] = '\0';
	mp->p = p;
}

static int
meta_node(struct meta_parser *mp, enum meta_op op, int a, int b)
{
	struct meta_prog *prog = mp->prog;

	if (prog->count >= META_NODES_MAX) {
		mp->error = "expression too long";
		return 0;
	}
	prog->nodes = xreallocarray(prog->nodes, prog->count + 1, sizeof(*prog->nodes));
	prog->nodes[prog->count] = (struct meta_node){ op, 0, 0, a, b, 1, op == META_DIV, false };
	for (int k = 0; k < 2; k++) {
		int c = k == 0 ? a : b;

		/* (after a parse error an operand may be 0: any node will do) */
		if (c >= 0 && (size_t)c < prog->count) {
			prog->nodes[prog->count].size += prog->nodes[c].size;
			prog->nodes[prog->count].has_div |= prog->nodes[c].has_div;
		}
	}
	return (int)prog->count++;
}

static void
meta_add_dep(struct meta_prog *prog, size_t rule)
{
	for (size_t i = 0; i < prog->dep_count; i++)
		if (prog->deps[i] == rule)
			return;
	prog->deps = xreallocarray(prog->deps, prog->dep_count + 1, sizeof(*prog->deps));
	prog->deps[prog->dep_count++] = rule;
}

static int meta_parse_or(struct meta_parser *mp);

static int
meta_index_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* rules_matching(GLOB): "*" and "?" over rule names, summed in rule
 * order: the map's slot order follows a hash keyed afresh in each
 * process, and a sum of fractions must not vary from one run to the
 * next.  (The order lazy rules are asked for may: it follows what each
 * process has seen (meta_eval_and), which only a backstop timeout in the
 * middle of a message could show.) */
static int
meta_rules_matching(struct meta_parser *mp, const char *glob)
{
	int sum = meta_node(mp, META_NUM, -1, -1);
	size_t *found = NULL, count = 0, cap = 0;

	mp->prog->nodes[sum].value = 0;
	for (size_t i = 0; ; i++) {
		const char *name = strmap_key_at(mp->names, i);
		size_t index;

		if (name == NULL)
			break;
		if (*name == '\0' || fnmatch(glob, name, 0) != 0)
			continue;
		if (!strmap_get(mp->names, name, &index))
			continue;
		if (count == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			found = xreallocarray(found, cap, sizeof(*found));
		}
		found[count++] = index;
	}
	if (count > 1)
		qsort(found, count, sizeof(*found), meta_index_cmp);
	for (size_t k = 0; k < count && mp->error == NULL; k++) {
		int leaf = meta_node(mp, META_RULE, -1, -1);

		mp->prog->nodes[leaf].rule = found[k];
		meta_add_dep(mp->prog, found[k]);
		sum = meta_node(mp, META_ADD, sum, leaf);
	}
	free(found);
	return sum;
}

static int
meta_parse_primary(struct meta_parser *mp)
{
	char tok[sizeof(mp->tok)];
	int n;

	if (mp->error != NULL)
		return 0;
	snprintf(tok, sizeof(tok), "%s", mp->tok);
	if (strcmp(tok, "(") == 0) {
		meta_lex(mp);
		n = meta_parse_or(mp);
		if (strcmp(mp->tok, ")") != 0)
			mp->error = "missing ')'";
		meta_lex(mp);
		return n;
	}
	if (strcmp(tok, "!") == 0) {
		meta_lex(mp);
		return meta_node(mp, META_NOT, meta_parse_primary(mp), -1);
	}
	if (strcmp(tok, "-") == 0) {
		meta_lex(mp);
		return meta_node(mp, META_NEG, meta_parse_primary(mp), -1);
	}
	if (strcmp(tok, "+") == 0) {
		meta_lex(mp);
		return meta_parse_primary(mp);
	}
	if (isdigit((unsigned char)tok[0]) || tok[0] == '.') {
		char *end;
		double v = strtod(tok, &end);

		if (*end != '\0')
			mp->error = "bad number";
		n = meta_node(mp, META_NUM, -1, -1);
		mp->prog->nodes[n].value = v;
		meta_lex(mp);
		return n;
	}
	if (isalpha((unsigned char)tok[0]) || tok[0] == '_') {
		size_t index;

		meta_lex(mp);
		if (strcmp(tok, "rules_matching") == 0 && strcmp(mp->tok, "(") == 0) {
			/* The glob is lexed raw: it may hold '*' and '?'. */
			const char *close = strchr(mp->p, ')');
			char glob[160];
			size_t len;

			if (close == NULL) {
				mp->error = "missing ')'";
				return 0;
			}
			len = (size_t)(close - mp->p);
			while (len > 0 && isspace((unsigned char)*mp->p)) {
				mp->p++;
				len--;
			}
			while (len > 0 && isspace((unsigned char)mp->p[len - 1]))
				len--;
			if (len == 0 || len >= sizeof(glob)) {
				mp->error = "bad rules_matching()";
				return 0;
			}
			memcpy(glob, mp->p, len);
			glob[len] = '\0';
			mp->p = close + 1;
			meta_lex(mp);
			return meta_rules_matching(mp, glob);
		}
		if (strchr(tok, ':') != NULL) {
			mp->error = "invalid token";
			return 0;
		}
		if (strcmp(tok, "local_tests_only") == 0) {
			n = meta_node(mp, META_NUM, -1, -1);
			mp->prog->nodes[n].value = 1;
			return n;
		}
		if (strmap_get(mp->names, tok, &index)) {
			n = meta_node(mp, META_RULE, -1, -1);
			mp->prog->nodes[n].rule = index;
			meta_add_dep(mp->prog, index);
		} else {
			/* Parser.pm: an undefined dependency reads as 0. */
			n = meta_node(mp, META_NUM, -1, -1);
			mp->prog->nodes[n].value = 0;
		}
		return n;
	}
	mp->error = tok[0] == '\0' ? "unexpected end" : "unexpected token";
	return 0;
}

static int
meta_parse_mul(struct meta_parser *mp)
{
	int a = meta_parse_primary(mp);

	while (mp->error == NULL && (strcmp(mp->tok, "*") == 0 || strcmp(mp->tok, "/") == 0)) {
		enum meta_op op = mp->tok[0] == '*' ? META_MUL : META_DIV;

		meta_lex(mp);
		a = meta_node(mp, op, a, meta_parse_primary(mp));
	}
	return a;
}

static int
meta_parse_add(struct meta_parser *mp)
{
	int a = meta_parse_mul(mp);

	while (mp->error == NULL && (strcmp(mp->tok, "+") == 0 || strcmp(mp->tok, "-") == 0)) {
		enum meta_op op = mp->tok[0] == '+' ? META_ADD : META_SUB;

		meta_lex(mp);
		a = meta_node(mp, op, a, meta_parse_mul(mp));
	}
	return a;
}

static int
meta_parse_rel(struct meta_parser *mp)
{
	int a = meta_parse_add(mp);

	for (;;) {
		enum meta_op op;

		if (strcmp(mp->tok, "<") == 0)
			op = META_LT;
		else if (strcmp(mp->tok, ">") == 0)
			op = META_GT;
		else if (strcmp(mp->tok, "<=") == 0)
			op = META_LE;
		else if (strcmp(mp->tok, ">=") == 0)
			op = META_GE;
		else
			return a;
		meta_lex(mp);
		a = meta_node(mp, op, a, meta_parse_add(mp));
	}
}

static int
meta_parse_eq(struct meta_parser *mp)
{
	int a = meta_parse_rel(mp);

	while (mp->error == NULL && (strcmp(mp->tok, "==") == 0 || strcmp(mp->tok, "!=") == 0)) {
		enum meta_op op = mp->tok[0] == '=' ? META_EQ : META_NE;

		meta_lex(mp);
		a = meta_node(mp, op, a, meta_parse_rel(mp));
	}
	return a;
}

/* Perl: "^" (bitwise) binds tighter than "&&". */
static int
meta_parse_xor(struct meta_parser *mp)
{
	int a = meta_parse_eq(mp);

	while (mp->error == NULL && strcmp(mp->tok, "^") == 0) {
		meta_lex(mp);
		a = meta_node(mp, META_XOR, a, meta_parse_eq(mp));
	}
	return a;
}

static int
meta_parse_and(struct meta_parser *mp)
{
	int a = meta_parse_xor(mp);

	while (mp->error == NULL && strcmp(mp->tok, "&&") == 0) {
		meta_lex(mp);
		a = meta_node(mp, META_AND, a, meta_parse_xor(mp));
	}
	return a;
}

static int
meta_parse_or(struct meta_parser *mp)
{
	int a = meta_parse_and(mp);

	while (mp->error == NULL && strcmp(mp->tok, "||") == 0) {
		meta_lex(mp);
		a = meta_node(mp, META_OR, a, meta_parse_and(mp));
	}
	return a;
}

/* Subtrees this small are looked through for rules still to be matched,
 * their costs, chances and ranges; larger ones are evaluated as written
 * (a && chain of thirty reads is 60 nodes; a comparison's range is
 * worked out again after each value fetched). */
#define META_LOOK_SIZE_MAX 64

static size_t
meta_cost_add(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* About what evaluating the subtree at i would fetch: 0 when it reads
 * only values known already; the sum of fetch->cost of what is pending
 * (each pending read costs 1 more, so without costs any read counts).
 * Past limit the sum stops: any answer over it will do. */
static size_t
meta_cost(const struct meta_prog *prog, int i, const struct meta_fetch *fetch, size_t limit)
{
	const struct meta_node *n = &prog->nodes[i];
	size_t a;

	if (!n->may_pend)
		return 0;
	if (n->size > META_LOOK_SIZE_MAX)
		return SIZE_MAX;
	switch (n->op) {
	case META_NUM:
		return 0;
	case META_RULE:
		if (!fetch->pending[n->rule])
			return 0;
		/* (over a limit of 0 already: whether it is pending was the
		 * question) */
		if (limit == 0 || fetch->cost == NULL)
			return 1;
		return meta_cost_add(1, fetch->cost(fetch->ctx, n->rule));
	case META_NOT:
	case META_NEG:
		return meta_cost(prog, n->a, fetch, limit);
	default:
		a = meta_cost(prog, n->a, fetch, limit);
		if (a > limit)
			return a;
		return meta_cost_add(a, meta_cost(prog, n->b, fetch, limit - a));
	}
}

/* A pending rule's chance of being true when fetch gives none: rules
 * seldom hit. */
#define META_CHANCE_DEFAULT 0.1
/* x > n over pending rules, where n is mostly above what they usually
 * add up to */
#define META_CHANCE_GREATER 0.1

/* About how likely the subtree at i is to be true: what is known is
 * known, a pending rule as likely as fetch->chance says, the parts taken
 * as independent; a comparison or sum over pending rules is guessed
 * (x > n seldom, x < n mostly). */
static double
meta_chance(const struct meta_prog *prog, int i, const double *values,
	    const struct meta_fetch *fetch)
{
	const struct meta_node *n = &prog->nodes[i];
	double a, b;

	if (n->op == META_NUM)
		return n->value != 0;
	if (n->op == META_RULE && !fetch->pending[n->rule])
		return values[n->rule] != 0;
	/* a known subtree is not evaluated for a guess; nor a large one
	 * looked through */
	if (!n->may_pend || n->size > META_LOOK_SIZE_MAX)
		return 0.5;
	switch (n->op) {
	case META_RULE:
		return fetch->chance != NULL ? fetch->chance(fetch->ctx, n->rule)
					     : META_CHANCE_DEFAULT;
	case META_NOT:
		return 1 - meta_chance(prog, n->a, values, fetch);
	case META_NEG:
		return meta_chance(prog, n->a, values, fetch);
	case META_AND:
		a = meta_chance(prog, n->a, values, fetch);
		b = meta_chance(prog, n->b, values, fetch);
		return a * b;
	case META_OR:
		a = meta_chance(prog, n->a, values, fetch);
		b = meta_chance(prog, n->b, values, fetch);
		return 1 - (1 - a) * (1 - b);
	case META_GT:
	case META_GE:
		return META_CHANCE_GREATER;
	case META_LT:
	case META_LE:
	case META_EQ:
	case META_NE:
		return 1 - META_CHANCE_GREATER;
	default:
		return 0.5;
	}
}

static bool
meta_is_comparison(enum meta_op op)
{
	return op == META_LT || op == META_GT || op == META_LE || op == META_GE ||
	       op == META_EQ || op == META_NE;
}

/* The values a subtree may still take: [lo, hi], or NaN as well (from
 * inf - inf or 0 * inf, or a value that is one), which no comparison but
 * != holds for.  xor: no range at all. */
struct meta_range {
	double lo, hi;
	bool nan, xor;
};

static struct meta_range
meta_range_exact(double v)
{
	if (isnan(v))
		return (struct meta_range){ -INFINITY, INFINITY, true, false };
	return (struct meta_range){ v, v, false, false };
}

/* Of an arithmetic step over a and b: where either holds an infinity,
 * an inf - inf or 0 * inf inside may be NaN. */
static struct meta_range
meta_range_step(double lo, double hi, struct meta_range a, struct meta_range b)
{
	bool nan = a.nan || b.nan || isinf(a.lo) || isinf(a.hi) || isinf(b.lo) ||
		   isinf(b.hi) || isnan(lo) || isnan(hi);

	if (isnan(lo) || isnan(hi))
		return (struct meta_range){ -INFINITY, INFINITY, true, a.xor || b.xor };
	return (struct meta_range){ lo, hi, nan, a.xor || b.xor };
}

static bool
meta_range_zero(struct meta_range r)
{
	return r.lo == 0 && r.hi == 0 && !r.nan && !r.xor;
}

/* (NaN is true in Perl too) */
static bool
meta_range_nonzero(struct meta_range r)
{
	return (r.lo > 0 || r.hi < 0) && !r.xor;
}

static struct meta_range
meta_range_union(struct meta_range a, struct meta_range b)
{
	return (struct meta_range){ fmin(a.lo, b.lo), fmax(a.hi, b.hi), a.nan || b.nan,
				    a.xor || b.xor };
}

/* A comparison's range: 1 or 0 when it is sure of its answer.  With a
 * NaN possible on either side, "true" is never sure (a comparison with a
 * NaN is false; != is handled by its caller). */
static struct meta_range
meta_range_truth(bool sure_true, bool sure_false, struct meta_range a, struct meta_range b)
{
	if (a.xor || b.xor)
		return (struct meta_range){ 0, 1, false, true };
	if (sure_true && !a.nan && !b.nan)
		return meta_range_exact(1);
	if (sure_false)
		return meta_range_exact(0);
	return (struct meta_range){ 0, 1, false, false };
}

/* What the subtree at i can evaluate to, from the values known and each
 * pending one anything from 0 to its most.  Never for a subtree with a
 * division: Perl dies on one by zero, which only evaluating shows.  Each
 * step rounds monotonically, so the bounds hold in doubles too. */
static struct meta_range
meta_range(const struct meta_prog *prog, int i, const double *values,
	   const struct meta_fetch *fetch)
{
	const struct meta_node *n = &prog->nodes[i];
	struct meta_range a, b, r;

	switch (n->op) {
	case META_NUM:
		return meta_range_exact(n->value);
	case META_RULE:
		if (fetch->pending[n->rule])
			return (struct meta_range){ 0, fetch->most != NULL
							   ? fetch->most(fetch->ctx, n->rule) : INFINITY,
						    false, false };
		return meta_range_exact(values[n->rule]);
	case META_NOT:
		a = meta_range(prog, n->a, values, fetch);
		if (a.xor)
			return a;
		return meta_range_zero(a) ? meta_range_exact(1) : meta_range_nonzero(a)
			? meta_range_exact(0) : (struct meta_range){ 0, 1, false, false };
	case META_NEG:
		a = meta_range(prog, n->a, values, fetch);
		return (struct meta_range){ -a.hi, -a.lo, a.nan, a.xor };
	case META_AND:
		/* Perl's value: the left operand when false, else the right */
		a = meta_range(prog, n->a, values, fetch);
		if (meta_range_zero(a))
			return meta_range_exact(0);
		b = meta_range(prog, n->b, values, fetch);
		if (meta_range_nonzero(a))
			return b;
		r = meta_range_union(meta_range_exact(0), b);
		r.xor |= a.xor;
		return r;
	case META_OR:
		a = meta_range(prog, n->a, values, fetch);
		if (meta_range_nonzero(a))
			return a;
		b = meta_range(prog, n->b, values, fetch);
		return meta_range_zero(a) ? b : meta_range_union(a, b);
	default:
		break;
	}
	a = meta_range(prog, n->a, values, fetch);
	b = meta_range(prog, n->b, values, fetch);
	switch (n->op) {
	case META_ADD:
		return meta_range_step(a.lo + b.lo, a.hi + b.hi, a, b);
	case META_SUB:
		return meta_range_step(a.lo - b.hi, a.hi - b.lo, a, b);
	case META_MUL: {
		double p[4] = { a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi };
		double lo = p[0], hi = p[0];

		for (size_t k = 0; k < 4; k++) {
			if (isnan(p[k]))
				return meta_range_step(NAN, NAN, a, b);
			lo = fmin(lo, p[k]);
			hi = fmax(hi, p[k]);
		}
		return meta_range_step(lo, hi, a, b);
	}
	case META_LT:
		return meta_range_truth(a.hi < b.lo, a.lo >= b.hi, a, b);
	case META_GT:
		return meta_range_truth(a.lo > b.hi, a.hi <= b.lo, a, b);
	case META_LE:
		return meta_range_truth(a.hi <= b.lo, a.lo > b.hi, a, b);
	case META_GE:
		return meta_range_truth(a.lo >= b.hi, a.hi < b.lo, a, b);
	case META_EQ:
		return meta_range_truth(a.lo == a.hi && b.lo == b.hi && a.lo == b.lo,
					a.hi < b.lo || a.lo > b.hi, a, b);
	case META_NE:
		/* true with a NaN; false only for two equal numbers */
		r = meta_range_truth(a.lo == a.hi && b.lo == b.hi && a.lo == b.lo && !a.nan &&
				     !b.nan, a.hi < b.lo || a.lo > b.hi, a, b);
		if (!r.xor && r.lo == r.hi)
			r = meta_range_exact(1 - r.lo);
		return r;
	default:
		/* xor: evaluated as written */
		return (struct meta_range){ -INFINITY, INFINITY, true, true };
	}
}

/* The rule node in the subtree at i that is pending and cheapest to
 * fetch (the first of equals), or -1.  Not one Perl would not read: the
 * right side of an && whose left is surely 0, or of an || whose left is
 * surely true. */
static int
meta_cheapest_pending(const struct meta_prog *prog, int i, const double *values,
		      const struct meta_fetch *fetch, size_t *cost_r)
{
	const struct meta_node *n = &prog->nodes[i];
	int best = -1, other;
	size_t cost = SIZE_MAX, other_cost;
	bool right = n->op != META_NOT && n->op != META_NEG;

	switch (n->op) {
	case META_NUM:
		return -1;
	case META_RULE:
		if (!fetch->pending[n->rule])
			return -1;
		*cost_r = fetch->cost != NULL ? fetch->cost(fetch->ctx, n->rule) : 0;
		return i;
	case META_AND:
		right = !meta_range_zero(meta_range(prog, n->a, values, fetch));
		break;
	case META_OR:
		right = !meta_range_nonzero(meta_range(prog, n->a, values, fetch));
		break;
	default:
		break;
	}
	if ((other = meta_cheapest_pending(prog, n->a, values, fetch, &other_cost)) >= 0) {
		best = other;
		cost = other_cost;
	}
	if (right && (other = meta_cheapest_pending(prog, n->b, values, fetch, &other_cost)) >= 0 &&
	    (best < 0 || other_cost < cost)) {
		best = other;
		cost = other_cost;
	}
	*cost_r = cost;
	return best;
}

/* A comparison: answered from its range when that is sure, fetching the
 * cheapest pending value until it is.  The rules a meta sums
 * (__EXTORT_MANY adds fourteen) are mostly known to be 0 once the views
 * are scanned, and then the costly ones never run.  With an xor in it,
 * as written. */
static bool
meta_compare_settled(const struct meta_prog *prog, int i, const double *values,
		     const struct meta_fetch *fetch, double *answer)
{
	const struct meta_node *n = &prog->nodes[i];

	if (fetch == NULL || !n->may_pend || n->has_div || n->size > META_LOOK_SIZE_MAX)
		return false;
	/* each fetch clears a pending leaf, and there are fewer than size */
	for (unsigned int round = 0; round <= n->size; round++) {
		struct meta_range r = meta_range(prog, i, values, fetch);
		size_t unused_cost;
		int leaf;

		if (r.xor)
			return false;
		if (r.lo == r.hi && !r.nan) {
			*answer = r.lo;
			return true;
		}
		if ((leaf = meta_cheapest_pending(prog, i, values, fetch, &unused_cost)) < 0)
			return false;
		fetch->fetch(fetch->ctx, prog->nodes[leaf].rule);
	}
	return false;
}

/* Operands of one && chain looked at, at most (the rest is one operand),
 * and pending ones put in an order of their own (the rest are read on
 * the way).  Small: a frame per nested && (x && (y && (...))), 2000 deep
 * in a meta of 14 kB, and a meta may ask for another. */
#define META_CHAIN_MAX 64
#define META_CHAIN_PENDING_MAX 6

struct meta_operand {
	int node;
	size_t from_last;	/* 0: the chain's last operand, Xk */
	double key;		/* cost for each time it is false */
};

/* Whether a is read before b: the smaller key, and among equals Perl's
 * order (further from the last first). */
static bool
meta_operand_before(const struct meta_operand *a, const struct meta_operand *b)
{
	if (a->key != b->key)
		return a->key < b->key;
	return a->from_last > b->from_last;
}

static double meta_eval_node(const struct meta_prog *prog, int i, const double *values,
			     const struct meta_fetch *fetch, bool *div_zero);

/* An operand of xor as an integer: a cast of NaN or of what lies past
 * long long is undefined in C, so those saturate (NaN: 0). */
static long long
meta_integer(double v)
{
	if (isnan(v))
		return 0;
	if (v >= 9223372036854775807.0)
		return LLONG_MAX;
	if (v <= -9223372036854775808.0)
		return LLONG_MIN;
	return (long long)v;
}

/* A chain X1 && X2 && ... && Xk with something pending and no division
 * (Perl dies on one by zero, in the order it reads).  Its value is 0 if
 * any operand is 0, else Xk's, whatever order they are read in; so they
 * are read in the order of least expected cost: by what each costs for
 * each time it is false, cost / P(false), the known ones (cost 0) first
 * and Perl's order among equals.  __MY_MALWARE && __PASSWORD reads the
 * cheap, seldom true __PASSWORD first; in __MONEY_FORM && ... &&
 * !__FR_SPACING_8, the negated rule is cheap but seldom false, so it
 * waits. */
static double
meta_eval_and(const struct meta_prog *prog, int i, const double *values,
	      const struct meta_fetch *fetch, bool *div_zero)
{
	struct meta_operand ops[META_CHAIN_PENDING_MAX];
	size_t k = 0, n = 0;
	int left = i;
	double last = 1;

	/* ((X1 && X2) && X3): the right operands from the last, then X1.
	 * What is known is read on the way (one at 0 ends it all, the most
	 * common way out); the pending ones wait. */
	for (;;) {
		bool first = prog->nodes[left].op != META_AND || n + 1 >= META_CHAIN_MAX;
		int node = first ? left : prog->nodes[left].b;

		if (meta_cost(prog, node, fetch, 0) == 0 || k == META_CHAIN_PENDING_MAX) {
			double v = meta_eval_node(prog, node, values, fetch, div_zero);

			if (v == 0)
				return 0;
			if (n == 0)
				last = v;
		} else {
			ops[k].node = node;
			ops[k].from_last = n;
			ops[k++].key = 0;
		}
		n++;
		if (first)
			break;
		left = prog->nodes[left].a;
	}
	/* Only between two to be fetched does the order need costs and
	 * chances. */
	for (size_t j = 0; j < k && k > 1; j++) {
		size_t cost = meta_cost(prog, ops[j].node, fetch, SIZE_MAX);
		double chance = meta_chance(prog, ops[j].node, values, fetch);

		/* (too large to look through: read last) */
		ops[j].key = cost == SIZE_MAX ? INFINITY : (double)cost / fmax(1 - chance, 1e-3);
	}
	/* (a stable insertion sort: k is small) */
	for (size_t j = 1; j < k; j++) {
		struct meta_operand o = ops[j];
		size_t m = j;

		for (; m > 0 && meta_operand_before(&o, &ops[m - 1]); m--)
			ops[m] = ops[m - 1];
		ops[m] = o;
	}
	for (size_t j = 0; j < k; j++) {
		double v = meta_eval_node(prog, ops[j].node, values, fetch, div_zero);

		if (v == 0)
			return 0;
		if (ops[j].from_last == 0)
			last = v;
	}
	return last;
}

static double
meta_eval_node(const struct meta_prog *prog, int i, const double *values,
	       const struct meta_fetch *fetch, bool *div_zero)
{
	const struct meta_node *n = &prog->nodes[i];
	double a, b;

	switch (n->op) {
	case META_NUM:
		return n->value;
	case META_RULE:
		if (values == NULL)
			return 0;
		if (fetch != NULL && fetch->pending[n->rule])
			fetch->fetch(fetch->ctx, n->rule);
		return values[n->rule];
	case META_NOT:
		return meta_eval_node(prog, n->a, values, fetch, div_zero) != 0 ? 0 : 1;
	case META_NEG:
		return -meta_eval_node(prog, n->a, values, fetch, div_zero);
	case META_AND:
		if (fetch != NULL && n->may_pend && !n->has_div)
			return meta_eval_and(prog, i, values, fetch, div_zero);
		a = meta_eval_node(prog, n->a, values, fetch, div_zero);
		return a != 0 ? meta_eval_node(prog, n->b, values, fetch, div_zero) : a;
	case META_OR:
		a = meta_eval_node(prog, n->a, values, fetch, div_zero);
		return a != 0 ? a : meta_eval_node(prog, n->b, values, fetch, div_zero);
	default:
		break;
	}
	if (meta_is_comparison(n->op) && meta_compare_settled(prog, i, values, fetch, &a))
		return a;
	a = meta_eval_node(prog, n->a, values, fetch, div_zero);
	b = meta_eval_node(prog, n->b, values, fetch, div_zero);
	switch (n->op) {
	case META_XOR:
		return (double)(meta_integer(a) ^ meta_integer(b));
	case META_ADD:
		return a + b;
	case META_SUB:
		return a - b;
	case META_MUL:
		return a * b;
	case META_DIV:
		if (b == 0) {
			*div_zero = true;
			return 0;
		}
		return a / b;
	case META_LT:
		return a < b;
	case META_GT:
		return a > b;
	case META_LE:
		return a <= b;
	case META_GE:
		return a >= b;
	case META_EQ:
		return a == b;
	case META_NE:
		return a != b;
	default:
		return 0;
	}
}

struct meta_prog *
meta_compile(const char *expr, const struct strmap *names, char *why, size_t why_size)
{
	struct meta_parser mp;
	bool div_zero = false;

	memset(&mp, 0, sizeof(mp));
	mp.p = expr;
	mp.names = names;
	mp.prog = xcalloc(1, sizeof(*mp.prog));
	/* Parser.pm is_meta_valid: Perl syntax only, no code. */
	if (strpbrk(expr, "$@%;{}") != NULL || strstr(expr, "->") != NULL) {
		snprintf(why, why_size, "invalid characters in meta expression");
		meta_free(&mp.prog);
		return NULL;
	}
	meta_lex(&mp);
	mp.prog->root = meta_parse_or(&mp);
	if (mp.error == NULL && mp.tok[0] != '\0')
		mp.error = "trailing tokens";
	if (mp.error == NULL && mp.prog->count == 0)
		mp.error = "empty expression";
	/* is_meta_valid evaluates with every rule at 0: a division that can
	 * then be by zero makes the rule invalid in SpamAssassin too. */
	if (mp.error == NULL) {
		(void)meta_eval_node(mp.prog, mp.prog->root, NULL, NULL, &div_zero);
		if (div_zero)
			mp.error = "division by zero possible";
	}
	if (mp.error != NULL) {
		snprintf(why, why_size, "%s", mp.error);
		meta_free(&mp.prog);
		return NULL;
	}
	return mp.prog;
}

void
meta_free(struct meta_prog **progp)
{
	if (*progp == NULL)
		return;
	free((*progp)->nodes);
	free((*progp)->deps);
	free(*progp);
	*progp = NULL;
}

void
meta_mark_lazy(struct meta_prog *prog, const unsigned char *lazy)
{
	/* operands come before the node that reads them */
	for (size_t i = 0; i < prog->count; i++) {
		struct meta_node *n = &prog->nodes[i];
		const struct meta_node *a = n->a >= 0 ? &prog->nodes[n->a] : NULL;
		const struct meta_node *b = n->b >= 0 ? &prog->nodes[n->b] : NULL;

		switch (n->op) {
		case META_NUM:
			n->may_pend = false;
			break;
		case META_RULE:
			n->may_pend = lazy[n->rule] != 0;
			break;
		case META_NOT:
		case META_NEG:
			n->may_pend = a->may_pend;
			break;
		default:
			n->may_pend = a->may_pend || b->may_pend;
			break;
		}
	}
}

size_t
meta_deps(const struct meta_prog *prog, const size_t **deps_r)
{
	*deps_r = prog->deps;
	return prog->dep_count;
}

double
meta_eval(const struct meta_prog *prog, const double *values,
	  const struct meta_fetch *fetch)
{
	bool div_zero = false;
	double v = meta_eval_node(prog, prog->root, values, fetch, &div_zero);

	/* A runtime division by zero dies in Perl: the meta does not hit. */
	return div_zero || isnan(v) ? 0 : v;
}
