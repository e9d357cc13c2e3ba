/* rules: turns the parsed rule definitions into something fast to run and
 * runs it.  Regex rules compile with PCRE2 (JIT); the body, rawbody, full
 * and uri patterns also go into one Vectorscan database per view, compiled
 * in prefilter mode: Vectorscan reports a superset of the patterns that can
 * match each line, and PCRE2 confirms every candidate, so results are
 * exactly PCRE2's while most patterns are never run.  Patterns Vectorscan
 * cannot take run on every line.  Every PCRE2 match is bounded by
 * match_limit and heap_limit; a pattern that hits a limit counts as no
 * match. */
#include "config.h"

#include <ctype.h>
#include <hs/hs.h>
#include <math.h>
#include "prefilter.h"
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "msgview.h"
#include "rules_int.h"
#include "eval.h"
#include "rules_parse.h"
#include "strset.h"
#include "xalloc.h"

/* PCRE2 bounds per match call: generous for real rules (SpamAssassin's
 * Perl has none), small enough that a hostile pattern/message pair costs
 * milliseconds, not minutes. */
#define RULES_MATCH_LIMIT 1000000
#define RULES_DEPTH_LIMIT 10000
#define RULES_HEAP_LIMIT_KIB 20480
/* Hits counted per rule and view (tflags multiple without maxhits). */
#define RULES_HITS_MAX 1000
/* Bytes of a header rule's required literal the prefilter looks for. */
#define RULES_HEADER_LITERAL_MAX 16

/* ---- strmap --------------------------------------------------------- */

struct strmap_slot {
	char *key;
	size_t value;
	uint32_t hash;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap, count;
};


struct strmap *
strmap_new_sized(size_t cap)
{
	struct strmap *m = xcalloc(1, sizeof(*m));

	m->cap = 16;
	while (m->cap < cap && m->cap < ((size_t)1 << 30))
		m->cap *= 2;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	return m;
}

struct strmap *
strmap_new(void)
{
	return strmap_new_sized(1024);
}

void
strmap_free(struct strmap **mp)
{
	struct strmap *m = *mp;

	if (m == NULL)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	free(m);
	*mp = NULL;
}

static struct strmap_slot *
strmap_find(const struct strmap *m, const char *key, uint32_t h)
{
	size_t i = h & (m->cap - 1);

	while (m->slots[i].key != NULL &&
	       (m->slots[i].hash != h || strcmp(m->slots[i].key, key) != 0))
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

void
strmap_put(struct strmap *m, const char *key, size_t value)
{
	uint32_t h = str_hash(key, strlen(key));
	struct strmap_slot *s;

	if ((m->count + 1) * 2 > m->cap) {
		struct strmap_slot *old = m->slots;
		size_t old_cap = m->cap;

		m->cap *= 2;
		m->slots = xcalloc(m->cap, sizeof(*m->slots));
		for (size_t i = 0; i < old_cap; i++)
			if (old[i].key != NULL)
				*strmap_find(m, old[i].key, old[i].hash) = old[i];
		free(old);
	}
	s = strmap_find(m, key, h);
	if (s->key == NULL) {
		s->key = xstrdup(key);
		s->hash = h;
		m->count++;
	}
	s->value = value;
}

bool
strmap_get(const struct strmap *m, const char *key, size_t *value_r)
{
	const struct strmap_slot *s = strmap_find(m, key, str_hash(key, strlen(key)));

	if (s->key == NULL)
		return false;
	*value_r = s->value;
	return true;
}

const char *
strmap_key_at(const struct strmap *m, size_t slot)
{
	if (slot >= m->cap)
		return NULL;
	return m->slots[slot].key != NULL ? m->slots[slot].key : "";
}

/* ---- regexes ----------------------------------------------------------- */

/* (constant strings: loading calls this from several threads) */
const char *
rules_flag_letters(uint32_t options)
{
	static const char *const letters[16] = {
		"", "i", "m", "im", "s", "is", "ms", "ims",
		"x", "ix", "mx", "imx", "sx", "isx", "msx", "imsx"
	};

	return letters[((options & PCRE2_CASELESS) ? 1 : 0) |
		       ((options & PCRE2_MULTILINE) ? 2 : 0) |
		       ((options & PCRE2_DOTALL) ? 4 : 0) |
		       ((options & PCRE2_EXTENDED) ? 8 : 0)];
}

/* Util::compile_regexp's delimiter handling: /re/, m{re}, m(re), m<re>,
 * m[re], m!re! (any non-word delimiter but backslash), flags after. */
int
rules_split_regex(const char *written, char **pattern_r, uint32_t *options_r,
		  char *why, size_t why_size)
{
	const char *p = written, *body, *end, *mods;
	char delim;
	size_t len = strlen(written);
	uint32_t options = 0;

	if (*p == '/') {
		delim = '/';
		p++;
	} else if ((p[0] == 'm' || (p[0] == 'q' && p[1] == 'r'))) {
		p += p[0] == 'm' ? 1 : 2;
		switch (*p) {
		case '{': delim = '}'; break;
		case '(': delim = ')'; break;
		case '<': delim = '>'; break;
		case '[': delim = ']'; break;
		default:
			if (*p == '\0' || isalnum((unsigned char)*p) || *p == '_' ||
			    *p == '\\' || isspace((unsigned char)*p)) {
				snprintf(why, why_size, "missing regexp delimiters");
				return -1;
			}
			delim = *p;
			break;
		}
		p++;
	} else {
		snprintf(why, why_size, "missing regexp delimiters");
		return -1;
	}
	body = p;
	/* The last delimiter followed only by modifier letters. */
	end = written + len;
	mods = end;
	while (mods > body && isalpha((unsigned char)mods[-1]))
		mods--;
	if (mods == body || mods[-1] != delim) {
		snprintf(why, why_size, "invalid end delimiter/mods");
		return -1;
	}
	for (const char *m = mods; m < end; m++) {
		switch (*m) {
		case 'i': options |= PCRE2_CASELESS; break;
		case 'm': options |= PCRE2_MULTILINE; break;
		case 's': options |= PCRE2_DOTALL; break;
		case 'x': options |= PCRE2_EXTENDED; break;
		case 'n': options |= PCRE2_NO_AUTO_CAPTURE; break;
		/* o (compile once), p (preserve), g, and the charset
		 * modifiers change nothing for a single match here. */
		case 'o': case 'p': case 'g': case 'a': case 'u': case 'l': case 'd':
			break;
		default:
			snprintf(why, why_size, "unknown regexp modifier '%c'", *m);
			return -1;
		}
	}
	len = (size_t)(mods - 1 - body);
	if (memmem(body, len, "(?{", 3) != NULL || memmem(body, len, "(??{", 4) != NULL) {
		snprintf(why, why_size, "eval (?{}) found");
		return -1;
	}
	*pattern_r = xstrndup(body, len);
	*options_r = options;
	return 0;
}

static pcre2_code *
rules_compile_regex_jit(const char *written, bool jit, char *why, size_t why_size)
{
	char *pattern;
	uint32_t options;
	int err;
	PCRE2_SIZE erroff;
	pcre2_code *re;

	if (rules_split_regex(written, &pattern, &options, why, why_size) < 0)
		return NULL;
	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, options, &err,
			   &erroff, NULL);
	if (re == NULL) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(err, msg, sizeof(msg));
		snprintf(why, why_size, "%s at offset %zu", (char *)msg, (size_t)erroff);
		free(pattern);
		return NULL;
	}
	/* JIT is an optimisation: without it the interpreter runs. */
	if (jit)
		(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	free(pattern);
	return re;
}

size_t
rules_regex_code_size(const pcre2_code *code)
{
	size_t size = 0, jit = 0;

	(void)pcre2_pattern_info(code, PCRE2_INFO_SIZE, &size);
	if (pcre2_pattern_info(code, PCRE2_INFO_JITSIZE, &jit) != 0)
		jit = 0;
	return size + jit;
}

pcre2_code *
rules_compile_regex(const char *written, char *why, size_t why_size)
{
	return rules_compile_regex_jit(written, true, why, why_size);
}

/* ---- loading and compiling ---------------------------------------------- */

bool
rules_header_modifiers_valid(const char *header)
{
	static const char *const mods[] = { "raw", "addr", "name", "host", "domain",
					    "ip", "revip", "first", "last" };
	const char *colon = strchr(header, ':');

	while (colon != NULL) {
		const char *next = strchr(colon + 1, ':');
		size_t len = next != NULL ? (size_t)(next - colon - 1) : strlen(colon + 1);
		bool ok = false;

		for (size_t i = 0; i < N_ELEMENTS(mods); i++)
			if (strlen(mods[i]) == len && strncmp(colon + 1, mods[i], len) == 0)
				ok = true;
		if (!ok)
			return false;
		colon = next;
	}
	return true;
}

/* "fn(args)": arguments are Perl literals: 'quoted', "quoted", numbers,
 * barewords. */
int
rules_parse_eval(struct rules_build *b, struct rule *r, const char *call)
{
	const char *open = strchr(call, '('), *close = strrchr(call, ')'), *p;
	struct eval_call *ec;
	size_t name_len;

	(void)b;
	if (open == NULL || close == NULL || close < open)
		return -1;
	for (p = close + 1; *p != '\0'; p++)
		if (!isspace((unsigned char)*p))
			return -1;
	name_len = (size_t)(open - call);
	while (name_len > 0 && isspace((unsigned char)call[name_len - 1]))
		name_len--;
	if (name_len == 0)
		return -1;
	ec = xcalloc(1, sizeof(*ec));
	ec->name = xstrndup(call, name_len);
	ec->type = r->type;
	p = open + 1;
	while (p < close) {
		struct buf arg;

		while (p < close && (isspace((unsigned char)*p) || *p == ','))
			p++;
		if (p >= close)
			break;
		buf_init(&arg, 0);
		if (*p == '\'' || *p == '"') {
			char q = *p++;

			while (p < close && *p != q) {
				if (*p == '\\' && p + 1 < close && (p[1] == q || p[1] == '\\'))
					p++;
				buf_put(&arg, p, 1);
				p++;
			}
			if (p < close)
				p++;
		} else {
			while (p < close && *p != ',' && !isspace((unsigned char)*p)) {
				buf_put(&arg, p, 1);
				p++;
			}
		}
		ec->args = xreallocarray(ec->args, ec->arg_count + 1, sizeof(*ec->args));
		ec->args[ec->arg_count++] = buf_steal(&arg, NULL);
	}
	ec->nums = xcalloc(ec->arg_count > 0 ? ec->arg_count : 1, sizeof(*ec->nums));
	ec->arg_re = xcalloc(ec->arg_count > 0 ? ec->arg_count : 1, sizeof(*ec->arg_re));
	ec->arg_re_tried = xcalloc(ec->arg_count > 0 ? ec->arg_count : 1,
				   sizeof(*ec->arg_re_tried));
	for (size_t i = 0; i < ec->arg_count; i++)
		ec->nums[i] = strtod(ec->args[i], NULL);
	ec->fn = eval_lookup(ec->name);
	ec->per_user = eval_is_per_user(ec->name);
	ec->reads_locales = strcmp(ec->name, "check_for_faraway_charset") == 0 ||
		strcmp(ec->name, "check_for_faraway_charset_in_headers") == 0 ||
		(strcmp(ec->name, "check_for_mime") == 0 && ec->arg_count > 0 &&
		 strcmp(ec->args[0], "mime_faraway_charset") == 0);
	r->eval = ec;
	return 0;
}

void
rules_eval_free(struct eval_call **ecp)
{
	struct eval_call *ec = *ecp;

	if (ec == NULL)
		return;
	for (size_t i = 0; i < ec->arg_count; i++) {
		free(ec->args[i]);
		pcre2_code_free(ec->arg_re[i]);
	}
	free(ec->args);
	free(ec->nums);
	free(ec->arg_re);
	free(ec->arg_re_tried);
	free((char *)ec->name);
	free(ec);
	*ecp = NULL;
}

void
rules_free_rule(struct rule *r)
{
	free(r->name);
	free(r->describe);
	free(r->header);
	free(r->if_unset);
	free(r->pattern);
	free(r->gate_pattern);
	free(r->meta_src);
	rules_regex_free(&r->re);
	rules_eval_free(&r->eval);
	meta_free(&r->meta);
}

static void
rules_add_index(size_t **list, size_t *count, size_t index)
{
	*list = xreallocarray(*list, *count + 1, sizeof(**list));
	(*list)[(*count)++] = index;
}

static int
rules_header_slot(struct ruleset *rs, const char *request)
{
	for (size_t i = 0; i < rs->header_request_count; i++)
		if (strcmp(rs->header_requests[i].request, request) == 0)
			return (int)i;
	rs->header_requests = xreallocarray(rs->header_requests,
					    rs->header_request_count + 1,
					    sizeof(*rs->header_requests));
	memset(&rs->header_requests[rs->header_request_count], 0,
	       sizeof(*rs->header_requests));
	rs->header_requests[rs->header_request_count].request = xstrdup(request);
	return (int)rs->header_request_count++;
}

static bool
rules_any_score(const struct rule *r, bool use_bayes)
{
	/* Score sets 0 (no Bayes) and 2 (Bayes), without network tests. */
	return r->score[0] != 0 || (use_bayes && r->score[2] != 0);
}

const char *
rules_type_name(enum rule_type t)
{
	static const char *const names[] = { "header", "mimeheader", "body",
					     "rawbody", "full", "uri", "meta" };

	return names[t];
}

/* Adds rule i to those that run on every element, behind gate (NULL or
 * n == 0: none). */
static void
rules_add_always(struct ruleset *rs, struct prefilter *pf, size_t i,
		 const struct byteset_req *gate)
{
	rs->rules[i].always_slot1 = pf->always_count + 1;
	pf->gates = xreallocarray(pf->gates, pf->always_count + 1, sizeof(*pf->gates));
	pf->gates[pf->always_count].n = 0;
	if (gate != NULL && gate->n > 0) {
		pf->gates[pf->always_count] = *gate;
		pf->gated_count++;
	}
	rules_add_index(&pf->always, &pf->always_count, i);
}

/* How many bytes PCRE2 takes for the start of a match of any piece: 1 for
 * a known first byte (2 caseless), the size of its start set, 256 when it
 * knows nothing and tries every position. */
static unsigned int
rules_pieces_starts(pcre2_code *const *pieces, size_t count)
{
	unsigned int worst = 0;

	for (size_t i = 0; i < count; i++) {
		uint32_t first = 0;
		const uint8_t *bitmap = NULL;
		unsigned int n = 256;

		if (pcre2_pattern_info(pieces[i], PCRE2_INFO_FIRSTCODETYPE, &first) == 0 &&
		    first == 1) {
			n = 2;
		} else if (pcre2_pattern_info(pieces[i], PCRE2_INFO_FIRSTBITMAP, &bitmap) == 0 &&
			   bitmap != NULL) {
			n = 0;
			for (int b = 0; b < 32; b++)
				n += (unsigned int)__builtin_popcount(bitmap[b]);
		}
		if (n > worst)
			worst = n;
	}
	return worst;
}

/* written without its leading items that may match nothing, when what
 * follows selects (prefilter_trim_prefix); NULL when not. */
static char *
rules_trimmed(const char *written)
{
	char *pattern, *out = NULL, why[256];
	uint32_t options;
	size_t offset;

	if (rules_split_regex(written, &pattern, &options, why, sizeof(why)) < 0)
		return NULL;
	offset = (options & PCRE2_EXTENDED) != 0 ? 0
		 : prefilter_trim_prefix(pattern, strlen(pattern));
	if (offset > 0)
		out = xasprintf("m\x01%s\x01%s", pattern + offset, rules_flag_letters(options));
	free(pattern);
	return out;
}

/* Compiles r's gate, its pattern with ReplaceTags approximated
 * (gate_pattern).  One that does not compile (too large, a variable-length
 * lookbehind) only costs speed. */
static void
rules_build_gate(struct rule *r, bool jit)
{
	struct rule_regex gate;
	char why[256];

	if (r->gate_pattern == NULL ||
	    rules_compile_pieces(r->gate_pattern, jit, false, 0, &gate, why, sizeof(why)) < 0)
		return;
	r->re.gate = gate.pieces;
	r->re.gate_count = gate.count;
}

/* For a rule without literals, run on every element: where PCRE2 would
 * try its gate (or itself) at nearly every position (more than
 * RULES_GATE_STARTS_MAX start bytes), a gate without the leading items
 * that keep it from knowing better.  (A rule with literals runs only
 * where they are, and there such a gate mostly matched too: measured, it
 * cost more than it saved.) */
static void
rules_trim_gate(struct rule *r)
{
	char *trimmed, why[256];
	struct rule_regex t;

	if ((r->re.gate_count > 0 ? rules_pieces_starts(r->re.gate, r->re.gate_count)
				  : rules_pieces_starts(r->re.pieces, r->re.count)) <=
	    RULES_GATE_STARTS_MAX)
		return;
	trimmed = rules_trimmed(r->gate_pattern != NULL ? r->gate_pattern : r->pattern);
	if (trimmed == NULL)
		return;
	if (rules_compile_pieces(trimmed, false, false, 0, &t, why, sizeof(why)) == 0) {
		if (rules_pieces_starts(t.pieces, t.count) <= RULES_GATE_STARTS_MAX) {
			for (size_t i = 0; i < r->re.gate_count; i++)
				pcre2_code_free(r->re.gate[i]);
			free(r->re.gate);
			r->re.gate = t.pieces;
			r->re.gate_count = t.count;
			free(r->gate_pattern);
			r->gate_pattern = trimmed;
			trimmed = NULL;
		} else {
			rules_regex_free(&t);
		}
	}
	free(trimmed);
}

/* Recompiles a rule with a repeat_min so that a search can be told the
 * latest start prefilter_repeat_fits found (PCRE2 wants to know at compile
 * time, for its JIT code).  One that does not compile so keeps its code,
 * and searches from every position as before. */
static void
rules_allow_start_max(struct rule *r)
{
	struct rule_regex rx;
	char why[256];

	if (r->repeat_min <= 1 || r->re.offset_limit ||
	    rules_compile_pieces(r->pattern, false,
				 (r->tflags & TFLAG_MULTIPLE) != 0 || r->maxhits != 0,
				 PCRE2_USE_OFFSET_LIMIT, &rx, why, sizeof(why)) < 0)
		return;
	rx.gate = r->re.gate;
	rx.gate_count = r->re.gate_count;
	r->re.gate = NULL;
	r->re.gate_count = 0;
	rules_regex_free(&r->re);
	r->re = rx;
}

/* Orders metas so that every meta comes after the metas it reads;
 * circular ones are excluded (Parser.pm compile_meta_rules). */
/* Which sub-rules wait for a meta to ask for them.  Only metas read a __
 * rule (it is neither scored nor shown), and SpamAssassin's costliest
 * rules are such sub-rules under metas like "__BITCOIN_ID && __MY_MALWARE",
 * whose first operand is rarely true.  Body, rawbody, full and uri rules
 * qualify; header rules, which share one fetch of each header, saved
 * too little to be worth it (0.3% of the instructions), and eval rules
 * are cheap.  The site's __ metas wait to be asked too.  A user's rules
 * (rules_user.c) are never lazy. */
#define RULES_LAZY_META_DEPTH 32

/* Compiled bytes per unit of match_weight. */
#define RULES_WEIGHT_BYTES 4096

/* PCRE2's compiled size without JIT code: the JIT runs alongside the
 * prefilter builds, so some patterns have JIT code by now and some not. */
static size_t
rules_regex_pattern_size(const pcre2_code *code)
{
	size_t size = 0;

	(void)pcre2_pattern_info(code, PCRE2_INFO_SIZE, &size);
	return size;
}

static size_t
rules_match_weight(const struct rule_regex *re)
{
	size_t bytes = 0;

	for (size_t k = 0; k < re->count; k++)
		bytes += rules_regex_pattern_size(re->pieces[k]);
	for (size_t k = 0; k < re->gate_count; k++)
		bytes += rules_regex_pattern_size(re->gate[k]);
	return 1 + bytes / RULES_WEIGHT_BYTES;
}

static void
rules_mark_lazy(struct ruleset *rs)
{
	unsigned char *depth, *may_pend;

	rs->lazy = xcalloc(rs->count > 0 ? rs->count : 1, 1);
	rs->hit_rate = xcalloc(rs->count > 0 ? rs->count : 1, sizeof(*rs->hit_rate));
	for (size_t i = 0; i < rs->count; i++) {
		struct rule *r = &rs->rules[i];
		bool view = r->type == RULE_BODY || r->type == RULE_RAWBODY ||
			    r->type == RULE_FULL || r->type == RULE_URI;

		r->lazy = view && r->subrule && r->skip == RULE_RUNS && r->eval == NULL;
		rs->lazy[i] = r->lazy;
		if (r->lazy)
			r->match_weight = rules_match_weight(&r->re);
		rs->lazy_count += r->lazy;
	}
	/* in meta_order, every meta's reads come before it */
	depth = xcalloc(rs->count > 0 ? rs->count : 1, 1);
	for (size_t k = 0; k < rs->meta_count; k++) {
		size_t i = rs->meta_order[k];
		struct rule *r = &rs->rules[i];
		const size_t *deps;
		size_t nd = meta_deps(r->meta, &deps);
		unsigned int d = 0;

		if (!r->subrule)
			continue;
		for (size_t j = 0; j < nd; j++)
			if (depth[deps[j]] > d)
				d = depth[deps[j]];
		if (d < RULES_LAZY_META_DEPTH) {
			depth[i] = (unsigned char)(d + 1);
			r->lazy_meta = true;
		}
	}
	free(depth);
	/* what a meta may find pending: lazy rules and lazy metas */
	may_pend = xcalloc(rs->count > 0 ? rs->count : 1, 1);
	for (size_t i = 0; i < rs->count; i++)
		may_pend[i] = rs->lazy[i] || rs->rules[i].lazy_meta;
	for (size_t i = 0; i < rs->count; i++)
		if (rs->rules[i].meta != NULL)
			meta_mark_lazy(rs->rules[i].meta, may_pend);
	free(may_pend);
}

static void
rules_order_metas(struct rules_build *b)
{
	struct ruleset *rs = b->rs;
	unsigned char *state = xcalloc(rs->count, 1);	/* 0 new, 1 placed */
	size_t pending = 0, placed;
	size_t *metas = NULL;

	for (size_t i = 0; i < rs->count; i++)
		if (rs->rules[i].type == RULE_META && rs->rules[i].meta != NULL &&
		    (rs->rules[i].skip == RULE_RUNS || rs->rules[i].skip == RULE_SITE_ZERO))
			rules_add_index(&metas, &pending, i);
	do {
		placed = 0;
		for (size_t k = 0; k < pending; k++) {
			size_t i = metas[k];
			const size_t *deps;
			size_t nd = meta_deps(rs->rules[i].meta, &deps);
			bool ready = true;

			if (state[i])
				continue;
			for (size_t d = 0; d < nd && ready; d++) {
				const struct rule *dep = &rs->rules[deps[d]];

				if (dep->type == RULE_META && dep->meta != NULL &&
				    (dep->skip == RULE_RUNS || dep->skip == RULE_SITE_ZERO) &&
				    !state[deps[d]])
					ready = false;
			}
			if (ready) {
				state[i] = 1;
				rules_add_index(&rs->meta_order, &rs->meta_count, i);
				placed++;
			}
		}
	} while (placed > 0);
	for (size_t k = 0; k < pending; k++) {
		size_t i = metas[k];

		if (!state[i]) {
			rs->rules[i].skip = RULE_SKIP_META;
			rules_diag_add(b, rs->rules[i].file, rs->rules[i].line, false,
				       "meta %s: circular dependencies, excluded",
				       rs->rules[i].name);
		}
	}
	free(metas);
	free(state);
}

/* ---- loading on every core ----------------------------------------------- */

/* Loading SpamAssassin's rules takes about 0.4 s of CPU, most of it work
 * done once per rule or pattern, each independent of the others':
 * compiling (seven huge extortion patterns take nearly half of it all),
 * finding the required literals, building the Vectorscan databases and
 * JIT-compiling.  Those steps run on every core the process may use, before
 * any worker is forked, so the threads are gone by then.  What they make is
 * put together in rule order afterwards: the rule set, its diagnostics and
 * its prefilters are the same on one core or eight. */
#define RULES_THREADS_MAX 8

struct rules_parallel {
	void (*fn)(void *ctx, size_t i);
	void *ctx;
	size_t count;
	atomic_size_t next;
};

static void *
rules_parallel_worker(void *arg)
{
	struct rules_parallel *w = arg;
	size_t i;

	while ((i = atomic_fetch_add(&w->next, 1)) < w->count)
		w->fn(w->ctx, i);
	return NULL;
}

/* Rules picked for work side by side: index[k] for k < count, longest
 * pattern first, so that the longest tasks start first and no core is
 * left with one at the end while the others wait (the extortion rules'
 * 100-220 KB patterns take 10-30 ms each to compile); slot[i] is k + 1
 * for rule i = index[k], 0 for a rule not picked. */
struct rules_batch {
	size_t *index, *slot, count;
};

struct rules_by_length {
	size_t len, index;
};

static int
rules_by_length_cmp(const void *a, const void *b)
{
	const struct rules_by_length *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? 1 : -1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* The rules of rs that pick says yes to; each has a pattern. */
static void
rules_batch_pick(const struct ruleset *rs, struct rules_batch *batch,
		 bool (*pick)(const struct ruleset *rs, const struct rule *r))
{
	size_t n = rs->count > 0 ? rs->count : 1;
	struct rules_by_length *v = xcalloc(n, sizeof(*v));

	batch->index = xcalloc(n, sizeof(*batch->index));
	batch->slot = xcalloc(n, sizeof(*batch->slot));
	batch->count = 0;
	for (size_t i = 0; i < rs->count; i++)
		if (pick(rs, &rs->rules[i])) {
			v[batch->count].len = strlen(rs->rules[i].pattern);
			v[batch->count++].index = i;
		}
	qsort(v, batch->count, sizeof(*v), rules_by_length_cmp);
	for (size_t k = 0; k < batch->count; k++) {
		batch->index[k] = v[k].index;
		batch->slot[v[k].index] = k + 1;
	}
	free(v);
}

static void
rules_batch_free(struct rules_batch *batch)
{
	free(batch->index);
	free(batch->slot);
	memset(batch, 0, sizeof(*batch));
}

/* fn(ctx, i) for every i < count, in no particular order, on the cores this
 * process may run on (taskset, CPUAffinity=).  This thread is one of the
 * workers; a thread that can not start leaves its share to the others.
 * The helpers block every signal, so the daemon's handlers run where they
 * always did. */
static void
rules_parallel(size_t count, void (*fn)(void *ctx, size_t i), void *ctx)
{
	struct rules_parallel w = { fn, ctx, count, 0 };
	size_t threads = 1;
	pthread_t tid[RULES_THREADS_MAX];
	cpu_set_t allowed;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	sigset_t all, old;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0 && CPU_COUNT(&allowed) > 0)
		cpus = CPU_COUNT(&allowed);
	if (cpus > 1)
		threads = (size_t)cpus < RULES_THREADS_MAX ? (size_t)cpus : RULES_THREADS_MAX;
	if (threads > count)
		threads = count > 0 ? count : 1;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (size_t t = 1; t < threads; t++)
		if (pthread_create(&tid[t], NULL, rules_parallel_worker, &w) != 0) {
			threads = t;
			break;
		}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	(void)rules_parallel_worker(&w);
	for (size_t t = 1; t < threads; t++)
		(void)pthread_join(tid[t], NULL);
}

/* What the literal analysis found for one rule (rules_analyse_one). */
struct rules_analysis {
	bool filtered;			/* behind literals */
	struct strlist literals;	/* every match holds one */
	struct strlist counted;		/* repeat_min's literals */
	struct byteset_req gate;	/* when not filtered */
};

struct rules_analyse_batch {
	struct ruleset *rs;
	struct rules_batch batch;	/* the rules analysed */
	struct rules_analysis *out;	/* out[k] for batch.index[k] */
};

/* The rules a view's prefilter is built from. */
static bool
rules_prefilter_candidate(const struct rule *r, enum rule_type type)
{
	return r->type == type && r->skip == RULE_RUNS && r->re.count > 0;
}

/* A header rule whose value may be absent is matched against its
 * [if-unset: ...] text, which the scanned values do not hold: it always
 * runs. */
static bool
rules_header_always(const struct rule *r)
{
	return r->type == RULE_HEADER && (r->if_unset != NULL || r->header_slot < 0);
}

static void
rules_analyse_one(void *ctx, size_t k)
{
	struct rules_analyse_batch *ab = ctx;
	struct rule *r = &ab->rs->rules[ab->batch.index[k]];
	struct rules_analysis *a = &ab->out[k];
	char *pattern = NULL, why[256];
	uint32_t options;

	strlist_init(&a->literals);
	strlist_init(&a->counted);
	a->gate.n = 0;
	a->filtered = rules_split_regex(r->pattern, &pattern, &options, why, sizeof(why)) == 0 &&
		      prefilter_analyse(pattern, strlen(pattern),
					(options & PCRE2_EXTENDED) != 0, &a->literals, &a->gate);
	if (!a->filtered) {
		if (r->type != RULE_FULL && r->type != RULE_HEADER)
			rules_trim_gate(r);
	} else if (r->type != RULE_HEADER) {
		r->repeat_min = prefilter_repeat_min(pattern, strlen(pattern),
						     (options & PCRE2_EXTENDED) != 0, &a->counted);
	}
	free(pattern);
}

static bool
rules_analyse_pick(const struct ruleset *rs, const struct rule *r)
{
	(void)rs;
	return r->type != RULE_META && r->type != RULE_MIMEHEADER &&
	       rules_prefilter_candidate(r, r->type) && !rules_header_always(r);
}

/* Analyses every rule a prefilter is built from, side by side. */
static void
rules_analyse_all(struct ruleset *rs, struct rules_analyse_batch *ab)
{
	ab->rs = rs;
	rules_batch_pick(rs, &ab->batch, rules_analyse_pick);
	ab->out = xcalloc(ab->batch.count > 0 ? ab->batch.count : 1, sizeof(*ab->out));
	rules_parallel(ab->batch.count, rules_analyse_one, ab);
}

static void
rules_analyse_free(struct rules_analyse_batch *ab)
{
	for (size_t k = 0; k < ab->batch.count; k++) {
		strlist_free(&ab->out[k].literals);
		strlist_free(&ab->out[k].counted);
	}
	free(ab->out);
	ab->out = NULL;
	rules_batch_free(&ab->batch);
}

/* One view's literals, whose rules they belong to, and the databases made
 * of them. */
struct rules_view_build {
	struct strlist literals, counted;
	size_t *owner, owner_cap, *count_owner, count_owner_cap;
	struct prefilter_db *db, *count_db;
	char db_error[256], count_error[256];
};

static void
rules_owned_add(struct strlist *list, size_t **owner, size_t *cap, const struct strlist *add,
		size_t rule)
{
	for (size_t k = 0; k < add->n; k++)
		strlist_add(list, add->v[k].p, add->v[k].len);
	if (list->n > *cap) {
		*cap = list->n * 2;
		*owner = xreallocarray(*owner, *cap, sizeof(**owner));
	}
	for (size_t k = list->n - add->n; k < list->n; k++)
		(*owner)[k] = rule;
}

/* Puts one view's analyses together in rule order: its rules without
 * literals (each with its byte-set gate) and the literal lists. */
static void
rules_assemble_view(struct ruleset *rs, enum rule_type type,
		    const struct rules_analyse_batch *ab, struct rules_view_build *vb)
{
	struct prefilter *pf = &rs->views[type];

	for (size_t i = 0; i < rs->count; i++) {
		const struct rule *r = &rs->rules[i];
		const struct rules_analysis *a;
		size_t before = vb->literals.n;

		if (!rules_prefilter_candidate(r, type))
			continue;
		if (rules_header_always(r) || ab->batch.slot[i] == 0) {
			rules_add_always(rs, pf, i, NULL);
			continue;
		}
		a = &ab->out[ab->batch.slot[i] - 1];
		if (!a->filtered) {
			rules_add_always(rs, pf, i, &a->gate);
		} else {
			pf->filtered_count++;
			if (a->counted.n > 0) {
				rules_owned_add(&vb->counted, &vb->count_owner,
						&vb->count_owner_cap, &a->counted, i);
				pf->counted_count++;
			}
		}
		rules_owned_add(&vb->literals, &vb->owner, &vb->owner_cap, &a->literals, i);
		/* Vectorscan took 0.15 s to compile the header literals whole,
		 * at every start (the long X-Mailer and Received names share
		 * long beginnings), 0.03 s cut to their first 16 bytes, which
		 * every match holds as well. */
		for (size_t k = before; k < vb->literals.n; k++)
			if (type == RULE_HEADER && vb->literals.v[k].len > RULES_HEADER_LITERAL_MAX)
				vb->literals.v[k].len = RULES_HEADER_LITERAL_MAX;
	}
}

/* After the databases are built: a view whose literal database Vectorscan
 * refused runs all its rules on every element; one whose repeat counts it
 * refused searches them from every position. */
static void
rules_finish_view(struct rules_build *b, enum rule_type type, struct rules_view_build *vb)
{
	struct ruleset *rs = b->rs;
	struct prefilter *pf = &rs->views[type];

	pf->db = vb->db;
	if (vb->literals.n > 0 && pf->db == NULL) {
		rules_diag_add(b, "(prefilter)", 0, false,
			       "could not build the %s prefilter (%s); those rules "
			       "run on every line", rules_type_name(type), vb->db_error);
		for (size_t k = 0; k < vb->literals.n; k++)
			if (k == 0 || vb->owner[k] != vb->owner[k - 1])
				rules_add_always(rs, pf, vb->owner[k], NULL);
		pf->filtered_count = 0;
	}
	/* (built side by side with the literal database: kept only with it) */
	if (pf->db != NULL) {
		pf->count_db = vb->count_db;
		if (vb->counted.n > 0 && pf->count_db == NULL)
			rules_diag_add(b, "(prefilter)", 0, false,
				       "could not build the %s repeat counts (%s); those rules "
				       "run wherever a literal is", rules_type_name(type),
				       vb->count_error);
	} else {
		prefilter_db_free(&vb->count_db);
	}
	vb->db = vb->count_db = NULL;
	if (pf->count_db == NULL) {
		for (size_t k = 0; k < vb->counted.n; k++)
			rs->rules[vb->count_owner[k]].repeat_min = 0;
		pf->counted_count = 0;
	}
	for (size_t k = 0; k < vb->counted.n; k++)
		if (k == 0 || vb->count_owner[k] != vb->count_owner[k - 1])
			rules_allow_start_max(&rs->rules[vb->count_owner[k]]);
	free(vb->owner);
	free(vb->count_owner);
	strlist_free(&vb->literals);
	strlist_free(&vb->counted);
}

/* The last step of loading, side by side: the views' literal databases and
 * the JIT compiling of every pattern but those rules_allow_start_max may
 * still replace; then those. */
struct rules_final_work {
	struct rules_view_build *views[RULE_TYPE_COUNT];
	size_t db_count;
	struct {
		struct rules_view_build *vb;
		bool counted;
	} dbs[2 * RULE_TYPE_COUNT];
	pcre2_code **codes;
	size_t code_count, code_cap;
	atomic_uint refused;
};

static void
rules_final_add_code(struct rules_final_work *w, pcre2_code *code)
{
	if (w->code_count == w->code_cap) {
		w->code_cap = w->code_cap < 256 ? 256 : w->code_cap * 2;
		w->codes = xreallocarray(w->codes, w->code_cap, sizeof(*w->codes));
	}
	w->codes[w->code_count++] = code;
}

/* Task 0 (when there are databases) builds all of them, one after the
 * other: Vectorscan does not say that its compiler may run in two threads
 * at once, and one thread building them (about 70 ms) while the others
 * JIT-compile (about 160) takes no longer.  Every other task JIT-compiles
 * one pattern. */
static void
rules_final_one(void *ctx, size_t i)
{
	struct rules_final_work *w = ctx;
	size_t first_code = w->db_count > 0 ? 1 : 0;

	if (i < first_code) {
		for (size_t d = 0; d < w->db_count; d++) {
			struct rules_view_build *vb = w->dbs[d].vb;

			if (w->dbs[d].counted)
				vb->count_db = prefilter_db_build(&vb->counted, vb->count_owner,
								  vb->counted.n, true,
								  vb->count_error,
								  sizeof(vb->count_error));
			else
				vb->db = prefilter_db_build(&vb->literals, vb->owner,
							    vb->literals.n,
							    vb == w->views[RULE_HEADER],
							    vb->db_error, sizeof(vb->db_error));
		}
		return;
	}
	/* A pattern JIT refuses runs interpreted. */
	if (pcre2_jit_compile(w->codes[i - first_code], PCRE2_JIT_COMPLETE) != 0)
		atomic_fetch_add(&w->refused, 1);
}

/* Builds the prefilters of every view (the required literals and, for the
 * rules without any, the byte-set gates), JIT-compiles every pattern of
 * the rules that run and orders their laziness; counts the patterns and
 * those the JIT refused in the load result. */
static void
rules_build_prefilters_and_jit(struct rules_build *b)
{
	static const enum rule_type types[] = { RULE_HEADER, RULE_BODY, RULE_RAWBODY,
						 RULE_FULL, RULE_URI };
	struct ruleset *rs = b->rs;
	struct rules_analyse_batch ab;
	struct rules_view_build vbs[RULE_TYPE_COUNT];
	struct rules_final_work w;
	size_t *deferred, deferred_count = 0, patterns;

	memset(vbs, 0, sizeof(vbs));
	memset(&w, 0, sizeof(w));
	rules_analyse_all(rs, &ab);
	for (size_t t = 0; t < N_ELEMENTS(types); t++) {
		struct rules_view_build *vb = &vbs[types[t]];

		strlist_init(&vb->literals);
		strlist_init(&vb->counted);
		rules_assemble_view(rs, types[t], &ab, vb);
		w.views[types[t]] = vb;
		if (vb->literals.n > 0) {
			w.dbs[w.db_count].vb = vb;
			w.dbs[w.db_count++].counted = false;
		}
		if (vb->counted.n > 0 && vb->literals.n > 0) {
			w.dbs[w.db_count].vb = vb;
			w.dbs[w.db_count++].counted = true;
		}
	}
	rules_analyse_free(&ab);
	/* The patterns rules_allow_start_max may compile again wait (their
	 * gates it keeps). */
	deferred = xcalloc(rs->count > 0 ? rs->count : 1, sizeof(*deferred));
	for (size_t i = 0; i < rs->count; i++) {
		const struct rule *r = &rs->rules[i];

		if (r->skip != RULE_RUNS)
			continue;
		if (r->repeat_min > 1 && r->re.count > 0)
			deferred[deferred_count++] = i;
		else
			for (size_t k = 0; k < r->re.count; k++)
				rules_final_add_code(&w, r->re.pieces[k]);
		for (size_t k = 0; k < r->re.gate_count; k++)
			rules_final_add_code(&w, r->re.gate[k]);
	}
	rules_parallel((w.db_count > 0 ? 1 : 0) + w.code_count, rules_final_one, &w);
	for (size_t t = 0; t < N_ELEMENTS(types); t++)
		rules_finish_view(b, types[t], &vbs[types[t]]);
	rules_mark_lazy(rs);
	patterns = w.code_count;
	w.code_count = 0;
	w.db_count = 0;
	for (size_t d = 0; d < deferred_count; d++) {
		const struct rule *r = &rs->rules[deferred[d]];

		for (size_t k = 0; k < r->re.count; k++)
			rules_final_add_code(&w, r->re.pieces[k]);
	}
	rules_parallel(w.code_count, rules_final_one, &w);
	patterns += w.code_count;
	b->result->patterns = (unsigned int)patterns;
	b->result->patterns_not_jit = atomic_load(&w.refused);
	free(deferred);
	free(w.codes);
}

/* A rule's pattern compiled, with its gate (rules_precompile). */
struct rules_compiled {
	int rc;
	char *why;		/* when rc < 0 */
	bool taken;		/* by rules_compile_all's loop */
};

struct rules_precompiled {
	struct ruleset *rs;
	struct rules_batch batch;	/* the rules compiled */
	struct rules_compiled *out;	/* out[k] for batch.index[k] */
};

/* Compiles r's pattern (not JIT: that comes once the prefilters have
 * decided which form each rule keeps), then its gate. */
static int
rules_compile_rule(struct rule *r, char *why, size_t why_size)
{
	if (rules_compile_pieces(r->pattern, false,
				 (r->tflags & TFLAG_MULTIPLE) != 0 || r->maxhits != 0, 0,
				 &r->re, why, why_size) < 0)
		return -1;
	/* A gate that does not compile (too large, a variable-length
	 * lookbehind) only costs speed. */
	rules_build_gate(r, false);
	return 0;
}

static void
rules_precompile_one(void *ctx, size_t k)
{
	struct rules_precompiled *pc = ctx;
	char why[512];

	pc->out[k].rc = rules_compile_rule(&pc->rs->rules[pc->batch.index[k]], why, sizeof(why));
	if (pc->out[k].rc < 0)
		pc->out[k].why = xstrdup(why);
}

/* Whether rules_compile_all's loop compiles r's pattern: whether r gets
 * that far in it. */
static bool
rules_precompile_pick(const struct ruleset *rs, const struct rule *r)
{
	return r->defined && r->eval == NULL && r->type != RULE_META && !r->exists &&
	       r->pattern != NULL && strstr(r->pattern, "%{") == NULL &&
	       !(r->type == RULE_MIMEHEADER && !rules_any_score(r, rs->use_bayes));
}

/* Compiles, side by side, the patterns of the rules rules_compile_all's
 * loop will want compiled.  The loop then takes each result in rule order
 * (and compiles itself any rule this missed, so the two conditions can
 * only differ in speed). */
static void
rules_precompile(struct ruleset *rs, struct rules_precompiled *pc)
{
	pc->rs = rs;
	rules_batch_pick(rs, &pc->batch, rules_precompile_pick);
	pc->out = xcalloc(pc->batch.count > 0 ? pc->batch.count : 1, sizeof(*pc->out));
	rules_parallel(pc->batch.count, rules_precompile_one, pc);
}

/* Also drops what the loop did not take: were rules_precompile_pick ever
 * to pick a rule the loop skips, that rule would keep code its skip
 * says it has not. */
static void
rules_precompiled_free(struct rules_precompiled *pc)
{
	for (size_t k = 0; k < pc->batch.count; k++) {
		if (!pc->out[k].taken)
			rules_regex_free(&pc->rs->rules[pc->batch.index[k]].re);
		free(pc->out[k].why);
	}
	free(pc->out);
	pc->out = NULL;
	rules_batch_free(&pc->batch);
}

static void
rules_compile_all(struct rules_build *b)
{
	struct ruleset *rs = b->rs;
	struct rules_precompiled pc;

	rules_precompile(rs, &pc);
	for (size_t i = 0; i < rs->count; i++) {
		struct rule *r = &rs->rules[i];
		char why[512];
		bool site_zero;
		int rc;

		if (!r->defined)
			continue;
		/* Check.pm skips only eval rules flagged net in a score set
		 * without network tests; regex and meta rules flagged net
		 * (SPOOFED_FREEMAIL, FROM_BANK_NOAUTH, ...) still run. */
		if ((r->tflags & TFLAG_NET) && r->eval != NULL) {
			r->skip = RULE_SKIP_NET;
			rules_diag_add(b, r->file, r->line, false,
				       "%s %s: network test (tflags net), skipped",
				       rules_type_name(r->type), r->name);
			continue;
		}
		/* A rule the site scored 0 runs only for users whose prefs
		 * score it.  spamd lets prefs do that for header, body,
		 * rawbody, full, uri and meta rules: Check.pm compiles them all
		 * and tests $scoresptr->{RULE} (the user's scores) as each
		 * runs.  Eval rules, mimeheader rules (MIMEHeader.pm registers
		 * evals) among them, are left out of the code spamd compiles
		 * with the site scores before it forks, so there they stay off
		 * (only a one-shot "spamassassin -p" enables those).
		 *
		 * Cost: such a rule is compiled here, in the master, but not
		 * JIT-compiled (JIT is most of the compile time: about 100 of
		 * these rules with SpamAssassin's files cost a few
		 * milliseconds at load without it), so a bad pattern is still
		 * reported at load, never at delivery.  It stays out of the
		 * prefilters, the header groups and every per-message pass: a
		 * message pays for it only when a recipient's prefs score it,
		 * then PCRE2's interpreter matches that one rule, once for all
		 * such recipients (rules_match_site_zero).  Compiling on first
		 * use instead would save those milliseconds but move pattern
		 * errors to delivery time and the compile into every worker. */
		site_zero = !rules_any_score(r, rs->use_bayes);
		if (site_zero && (r->eval != NULL || r->type == RULE_MIMEHEADER)) {
			r->skip = RULE_SKIP_SCORE_ZERO;
			continue;
		}
		if (r->eval != NULL) {
			if (r->eval->fn == NULL) {
				r->skip = RULE_SKIP_EVAL;
				rules_diag_add(b, r->file, r->line, false,
					       "%s %s: eval:%s() not implemented, skipped",
					       rules_type_name(r->type), r->name, r->eval->name);
				continue;
			}
			rules_add_index(&rs->eval_rules, &rs->eval_count, i);
			continue;
		}
		if (r->type == RULE_META) {
			r->meta = meta_compile(r->meta_src, rs->by_name, why, sizeof(why));
			if (r->meta == NULL) {
				r->skip = RULE_SKIP_BROKEN;
				rules_diag_add(b, r->file, r->line, true, "meta %s: %s: %s",
					       r->name, why, r->meta_src);
			} else if (site_zero) {
				r->skip = RULE_SITE_ZERO;
			}
			continue;
		}
		if (site_zero && r->exists) {
			r->skip = RULE_SITE_ZERO;
			continue;
		}
		if (r->exists) {
			r->header_slot = rules_header_slot(rs, r->header);
			if (r->type == RULE_MIMEHEADER)
				rules_add_index(&rs->mimeheader_rules, &rs->mimeheader_count, i);
			continue;
		}
		if (r->pattern == NULL) {
			r->skip = RULE_SKIP_BROKEN;
			continue;
		}
		/* Parser.pm parse_captures: %{TAG} templates need tags
		 * captured by other rules at match time. */
		if (strstr(r->pattern, "%{") != NULL) {
			r->skip = RULE_SKIP_CAPTURE;
			rules_diag_add(b, r->file, r->line, false,
				       "%s %s: capture templates %%{...} not supported, skipped",
				       rules_type_name(r->type), r->name);
			continue;
		}
		/* (JIT later, all at once: rules_build_prefilters_and_jit;
		 * site-zero rules none, see above) */
		if (pc.batch.slot[i] == 0) {
			rc = rules_compile_rule(r, why, sizeof(why));
		} else {
			struct rules_compiled *c = &pc.out[pc.batch.slot[i] - 1];

			c->taken = true;
			rc = c->rc;
			if (rc < 0)
				snprintf(why, sizeof(why), "%s", c->why);
		}
		if (rc < 0) {
			r->skip = RULE_SKIP_BROKEN;
			rules_diag_add(b, r->file, r->line, true, "%s %s: invalid regexp: %s",
				       rules_type_name(r->type), r->name, why);
			continue;
		}
		if (r->re.repeat_calls)
			rules_diag_add(b, r->file, r->line, false,
				       "%s %s: regular expression too large for PCRE2 as written: "
				       "repeats of its group run as calls",
				       rules_type_name(r->type), r->name);
		else if (r->re.count > 1)
			rules_diag_add(b, r->file, r->line, false,
				       "%s %s: regular expression too large for PCRE2 as written: "
				       "split in %zu pieces", rules_type_name(r->type), r->name,
				       r->re.count);
		if (site_zero) {
			/* no header slot: rules_match_site_zero reads the
			 * header itself */
			r->skip = RULE_SITE_ZERO;
			continue;
		}
		if (r->type == RULE_HEADER || r->type == RULE_MIMEHEADER) {
			r->header_slot = rules_header_slot(rs, r->header);
			if (r->type == RULE_MIMEHEADER)
				rules_add_index(&rs->mimeheader_rules, &rs->mimeheader_count, i);
		}
	}
	/* Header rules, grouped by the request they read. */
	for (size_t i = 0; i < rs->count; i++) {
		struct rule *r = &rs->rules[i];

		if (r->type == RULE_HEADER && r->skip == RULE_RUNS && r->header_slot >= 0) {
			struct header_request *hr = &rs->header_requests[r->header_slot];

			rules_add_index(&hr->rules, &hr->rule_count, i);
		}
	}
	rules_precompiled_free(&pc);
	rules_order_metas(b);
	rules_build_prefilters_and_jit(b);
	for (int t = RULE_HEADER; t <= RULE_URI; t++)
		if (t != RULE_MIMEHEADER)
			rules_diag_add(b, "(prefilter)", 0, false,
			       "%s: %zu rules behind required literals (%zu counted: a group "
			       "repeated n times needs its literals n times), %zu run on every "
			       "element (%zu of them behind a byte-set gate)",
			       rules_type_name((enum rule_type)t),
			       rs->views[t].filtered_count, rs->views[t].counted_count,
			       rs->views[t].always_count, rs->views[t].gated_count);
	for (size_t i = 0; i < rs->count; i++) {
		const struct rule *r = &rs->rules[i];

		if (!r->defined)
			continue;
		if (r->skip == RULE_RUNS)
			b->result->rules_loaded++;
		else if (r->skip != RULE_SKIP_SCORE_ZERO && r->skip != RULE_SITE_ZERO)
			b->result->rules_skipped++;
	}
}

struct ruleset *
rules_load(const char *const *dirs, size_t dir_count, struct rules_load_result *result)
{
	struct rules_build b;
	struct ruleset *rs = xcalloc(1, sizeof(*rs));

	memset(result, 0, sizeof(*result));
	memset(&b, 0, sizeof(b));
	b.rs = rs;
	b.result = result;
	b.replace_tag = strmap_new();
	b.replace_pre = strmap_new();
	b.replace_inter = strmap_new();
	b.replace_post = strmap_new();
	/* SpamAssassin's init.pre, which lmtpd does not read, says this in
	 * every install: the rules then score USER_IN_BLOCKLIST and the
	 * other new names, without the deprecated USER_IN_BLACKLIST metas
	 * (60_welcomelist.cf) */
	strlist_add(&b.compat, "welcomelist_blocklist", strlen("welcomelist_blocklist"));
	rs->by_name = strmap_new();
	rs->required_score = 5.0;
	rs->use_bayes = true;
	rs->report_wrap_width = 75;
	sa_settings_init(&rs->settings);
	for (size_t i = 0; i < dir_count; i++)
		rules_parse_dir(&b, dirs[i]);
	rules_apply_replace_tags(&b);
	rules_default_scores(&b, 0);
	rules_compile_all(&b);
	rs->match_ctx = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(rs->match_ctx, RULES_MATCH_LIMIT);
	pcre2_set_depth_limit(rs->match_ctx, RULES_DEPTH_LIMIT);
	pcre2_set_heap_limit(rs->match_ctx, RULES_HEAP_LIMIT_KIB);

	strlist_free(&b.compat);
	strmap_free(&b.replace_tag);
	strmap_free(&b.replace_pre);
	strmap_free(&b.replace_inter);
	strmap_free(&b.replace_post);
	strlist_free(&b.replace_values);
	strlist_free(&b.replace_rules);
	free(b.replace_start);
	free(b.replace_end);
	rs->bayes_settings = b.bayes_settings;
	/* Rule definitions point at interned file names. */
	rs->paths = b.paths;
	return rs;
}

void
rules_load_result_free(struct rules_load_result *result)
{
	for (size_t i = 0; i < result->diag_count; i++) {
		free(result->diags[i].file);
		free(result->diags[i].message);
	}
	free(result->diags);
	memset(result, 0, sizeof(*result));
}

void
rules_free(struct ruleset **rsp)
{
	struct ruleset *rs = *rsp;

	if (rs == NULL)
		return;
	for (size_t i = 0; i < rs->count; i++)
		rules_free_rule(&rs->rules[i]);
	free(rs->rules);
	strmap_free(&rs->by_name);
	for (size_t i = 0; i < rs->header_request_count; i++) {
		free(rs->header_requests[i].request);
		free(rs->header_requests[i].rules);
	}
	free(rs->header_requests);
	free(rs->mimeheader_rules);
	free(rs->eval_rules);
	free(rs->meta_order);
	free(rs->lazy);
	free(rs->hit_rate);
	for (int t = 0; t < RULE_TYPE_COUNT; t++) {
		prefilter_db_free(&rs->views[t].db);
		prefilter_db_free(&rs->views[t].count_db);
		free(rs->views[t].always);
		free(rs->views[t].gates);
	}
	for (int k = 0; k < ADDRLIST_KIND_COUNT; k++)
		addrlist_free(&rs->lists[k]);
	if (rs->match_ctx != NULL)
		pcre2_match_context_free(rs->match_ctx);
	sa_settings_free(&rs->settings);
	strlist_free(&rs->paths);
	strlist_free(&rs->bayes_settings);
	free(rs);
	*rsp = NULL;
}

const struct sa_settings *
rules_settings(const struct ruleset *rs)
{
	return &rs->settings;
}

double
rules_required_score(const struct ruleset *rs)
{
	return rs->required_score;
}

bool
rules_use_bayes(const struct ruleset *rs)
{
	return rs->use_bayes;
}

size_t
rules_count(const struct ruleset *rs)
{
	return rs->count;
}

const char *
rules_name(const struct ruleset *rs, size_t index)
{
	return rs->rules[index].name;
}

const char *
rules_describe(const struct ruleset *rs, size_t index)
{
	return rs->rules[index].describe;
}

const char *
rules_kind(const struct ruleset *rs, size_t index, char *buf, size_t size)
{
	const struct rule *r = &rs->rules[index];

	snprintf(buf, size, "%s%s", r->eval != NULL ? "eval:" : "",
		 rules_type_name(r->type));
	return buf;
}

const char *
rules_skip_reason(const struct ruleset *rs, size_t index)
{
	switch (rs->rules[index].skip) {
	case RULE_RUNS: return "";
	case RULE_SITE_ZERO: return "score 0";
	case RULE_SKIP_SCORE_ZERO: return "score 0";
	case RULE_SKIP_NET: return "network test";
	case RULE_SKIP_EVAL: return "eval not implemented";
	case RULE_SKIP_BROKEN: return "invalid";
	case RULE_SKIP_META: return "unsolvable meta";
	case RULE_SKIP_CAPTURE: return "capture template";
	}
	return "?";
}

bool
rules_counts_in_set(const struct ruleset *rs, size_t index, int set)
{
	const struct rule *r = &rs->rules[index];

	return r->subrule || (set >= 0 && set < 4 && r->score[set] != 0);
}

bool
rules_defined(const struct ruleset *rs, size_t index)
{
	return rs->rules[index].defined;
}

long
rules_find(const struct ruleset *rs, const char *name)
{
	size_t index;

	return strmap_get(rs->by_name, name, &index) ? (long)index : -1;
}

/* ---- matching ------------------------------------------------------------ */

struct rules_scratch {
	pcre2_match_data *md;
	hs_scratch_t *hs;
	/* rs->match_ctx with an offset limit (rules_count_matches), made when
	 * first needed, and the literal occurrences it comes from */
	pcre2_match_context *start_ctx;
	struct prefilter_spans spans;
	/* Candidate flags per rule for the element being scanned. */
	unsigned char *candidate;
	size_t *cand_list;
	size_t cand_count;
	struct buf hval;
	/* Every header request's value, one after the other (each followed
	 * by a newline), scanned once: [hspan_start[h], hspan_end[h]) is
	 * request h's.  A long value the view holds as one text is scanned
	 * there instead (hapart[h], of hapart_len[h] bytes; its span is
	 * empty). */
	struct buf hcat;
	size_t *hspan_start, *hspan_end;
	unsigned char *hfound;
	const char **hapart;
	size_t *hapart_len;
};

/* A message's sub-rules not matched yet (rules_hits.lazy). */
struct rules_lazy {
	/* Its own: the hits may outlive the scratch rules_match used.  Only
	 * md, made at the first match. */
	struct rules_scratch scratch;
	struct msgview *mv;
	unsigned char *pending;		/* per rule */
	size_t count;
	/* Per rule behind the prefilter: the elements it named, in order, as
	 * a list through elems (-1 ends it). */
	int32_t *head, *tail;
	struct rules_lazy_elem {
		uint32_t elem;
		int32_t next;
		size_t start_max;	/* prefilter_repeat_fits, else SIZE_MAX */
	} *elems;
	size_t elem_count, elem_cap;
	/* what each pending rule would still read, for rules_hit_cost: per
	 * rule behind the prefilter, the bytes of the elements it named; per
	 * view, all of its bytes */
	size_t *named_bytes;
	size_t view_bytes[RULE_TYPE_COUNT];
	bool timed_out;		/* a pending rule was asked for past the backstop */
	/* Per view, the bytes each element holds (for the byte-set gates of
	 * rules without literals), made when first needed: one scan of an
	 * element serves every rule asked for later. */
	struct byteset *present[RULE_TYPE_COUNT];
	unsigned char *have_present[RULE_TYPE_COUNT];
};

struct rules_scratch *
rules_scratch_new(const struct ruleset *rs)
{
	struct rules_scratch *s = xcalloc(1, sizeof(*s));
	size_t n;

	s->md = pcre2_match_data_create(64, NULL);
	for (int t = 0; t < RULE_TYPE_COUNT; t++)
		if (prefilter_alloc_scratch(rs->views[t].db, &s->hs) < 0 ||
		    prefilter_alloc_scratch(rs->views[t].count_db, &s->hs) < 0)
			log_panic("hs_alloc_scratch failed");
	s->candidate = xcalloc(rs->count > 0 ? rs->count : 1, 1);
	s->cand_list = xcalloc(rs->count > 0 ? rs->count : 1, sizeof(*s->cand_list));
	buf_init(&s->hval, 0);
	buf_init(&s->hcat, 0);
	n = rs->header_request_count > 0 ? rs->header_request_count : 1;
	s->hspan_start = xcalloc(n, sizeof(*s->hspan_start));
	s->hspan_end = xcalloc(n, sizeof(*s->hspan_end));
	s->hfound = xcalloc(n, 1);
	s->hapart = xcalloc(n, sizeof(*s->hapart));
	s->hapart_len = xcalloc(n, sizeof(*s->hapart_len));
	return s;
}

void
rules_scratch_free(struct rules_scratch **sp)
{
	struct rules_scratch *s = *sp;

	if (s == NULL)
		return;
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->start_ctx);
	prefilter_spans_free(&s->spans);
	if (s->hs != NULL)
		hs_free_scratch(s->hs);
	free(s->candidate);
	free(s->cand_list);
	buf_free(&s->hval);
	buf_free(&s->hcat);
	free(s->hspan_start);
	free(s->hspan_end);
	free(s->hfound);
	free(s->hapart);
	free(s->hapart_len);
	free(s);
	*sp = NULL;
}

void
rules_hits_free(struct rules_hits *hits)
{
	free(hits->hits);
	for (size_t i = 0; i < hits->log_count; i++)
		free(hits->logs[i].msg);
	free(hits->logs);
	free(hits->site_zero_done);
	if (hits->lazy != NULL) {
		free(hits->lazy->pending);
		free(hits->lazy->head);
		free(hits->lazy->tail);
		free(hits->lazy->named_bytes);
		free(hits->lazy->elems);
		pcre2_match_data_free(hits->lazy->scratch.md);
		pcre2_match_context_free(hits->lazy->scratch.start_ctx);
		for (int t = 0; t < RULE_TYPE_COUNT; t++) {
			free(hits->lazy->present[t]);
			free(hits->lazy->have_present[t]);
		}
		free(hits->lazy);
	}
	memset(hits, 0, sizeof(*hits));
}

/* Whether rx's gate rules out a match in subject: no piece of it matches.
 * Any other answer of a piece (a limit hit) leaves it to the rule. */
static bool
rules_gate_shut(const struct ruleset *rs, struct rules_scratch *s, const struct rule_regex *rx,
		const char *subject, size_t len)
{
	if (rx->gate_count == 0)
		return false;
	for (size_t i = 0; i < rx->gate_count; i++)
		if (pcre2_match(rx->gate[i], (PCRE2_SPTR)subject, len, 0, 0, s->md,
				rs->match_ctx) != PCRE2_ERROR_NOMATCH)
			return false;
	return true;
}

/* Counts matches of rule r in subject: at most 1 unless multiple, then at
 * most limit (Perl's //g loop: after an empty match, move on one byte).
 * A split pattern counted keeps each piece's next match from one count to
 * the next, so a piece runs again only once the count has passed it.
 * start_max: no match of r starts after it (prefilter_repeat_fits), or
 * SIZE_MAX. */
static unsigned int
rules_count_matches(const struct ruleset *rs, struct rules_scratch *s,
		    const struct rule *r, const char *subject, size_t len,
		    bool multiple, unsigned int limit, size_t start_max)
{
	struct rules_piece_next next_buf[RULES_PIECES_MAX], *next = NULL;
	pcre2_match_context *mctx = rs->match_ctx;
	PCRE2_SIZE start = 0;
	unsigned int n = 0;

	if (r->re.count == 0)
		return 0;
	if (rules_gate_shut(rs, s, &r->re, subject, len))
		return 0;
	/* Only code compiled for it takes a limit: any other answers a
	 * context with one by an error, which would count as no match. */
	if (start_max < len && r->re.offset_limit) {
		if (s->start_ctx == NULL) {
			s->start_ctx = pcre2_match_context_copy(rs->match_ctx);
			if (s->start_ctx == NULL)
				log_panic("pcre2_match_context_copy failed");
		}
		(void)pcre2_set_offset_limit(s->start_ctx, start_max);
		mctx = s->start_ctx;
	}
	if (r->re.count > 1 && multiple && r->re.count <= RULES_PIECES_MAX &&
	    !r->re.start_dependent) {
		memset(next_buf, 0, r->re.count * sizeof(*next_buf));
		next = next_buf;
	}
	while (start <= len) {
		size_t mstart, mend;
		int rc = rules_pieces_match(&r->re, subject, len, start, !multiple, s->md,
					    mctx, next, &mstart, &mend);

		if (rc < 0)
			break;
		n++;
		if (!multiple || n >= limit)
			break;
		start = mend > mstart ? mend : mend + 1;
	}
	return n;
}

static unsigned int
rules_limit(const struct rule *r)
{
	return r->maxhits != 0 ? r->maxhits : RULES_HITS_MAX;
}

/* Hits of header rule r on subject, its request's value (found: the
 * header exists). */
static unsigned int
rules_header_value_hits(const struct ruleset *rs, struct rules_scratch *s,
			const struct rule *r, bool found, const char *subject, size_t len)
{
	unsigned int n;

	if (r->exists)
		return found ? 1 : 0;
	/* Check.pm: an absent header is undef unless [if-unset: ...] gives a
	 * value; Perl matches undef as "". */
	if (!found) {
		subject = r->if_unset != NULL ? r->if_unset : "";
		len = strlen(subject);
	}
	n = rules_count_matches(rs, s, r, subject, len, (r->tflags & TFLAG_MULTIPLE) != 0,
				rules_limit(r), SIZE_MAX);
	if (r->neg)
		n = n == 0 ? 1 : 0;
	return n;
}

/* The same on the value in s->hval. */
static unsigned int
rules_header_hits(const struct ruleset *rs, struct rules_scratch *s, const struct rule *r,
		  bool found)
{
	return rules_header_value_hits(rs, s, r, found, s->hval.data != NULL ? s->hval.data : "",
				       s->hval.len);
}

static void
rules_on_prefilter(size_t rule, void *ctx)
{
	struct rules_scratch *s = ctx;

	if (!s->candidate[rule]) {
		s->candidate[rule] = 1;
		s->cand_list[s->cand_count++] = rule;
	}
}

/* Whether gate (n == 0: none) lets text through; present holds text's
 * bytes once have_present says so, one pass for all the gated rules of
 * the text. */
static bool
rules_gate_open(const struct byteset_req *gate, const char *text, size_t len,
		struct byteset *present, bool *have_present)
{
	if (gate->n == 0)
		return true;
	if (!*have_present) {
		byteset_of(text, len, present);
		*have_present = true;
	}
	return byteset_req_open(gate, present);
}

struct rules_header_scan {
	const struct ruleset *rs;
	struct rules_scratch *s;
	int slot;	/* of the value scanned apart */
};

/* A header value at least this long, held by the view as one text, is
 * scanned where it is rather than copied into hcat: ALL:raw of two
 * million "To:" lines was a 46 MB copy.  Real header sections stay far
 * below it, so their values still take one scan together. */
#define RULES_HEADER_APART	(64u * 1024)

/* A literal found in the joined values names its rule only inside the
 * value of the rule's own request. */
static void
rules_on_header_literal(size_t rule, size_t start, size_t end, void *ctx)
{
	struct rules_header_scan *hs = ctx;
	struct rules_scratch *s = hs->s;
	int slot = hs->rs->rules[rule].header_slot;

	if (slot < 0 || start < s->hspan_start[slot] || end > s->hspan_end[slot])
		return;
	rules_on_prefilter(rule, s);
}

/* The same in a value scanned apart: any literal found is inside it. */
static void
rules_on_apart_literal(size_t rule, size_t start, size_t end, void *ctx)
{
	struct rules_header_scan *hs = ctx;

	(void)start;
	(void)end;
	if (hs->rs->rules[rule].header_slot == hs->slot)
		rules_on_prefilter(rule, hs->s);
}

/* Every header rule reads one value per message, and each is a PCRE2 call
 * on code gone cold since the last message.  One Vectorscan scan of all
 * the values, joined, looks for the required literals of every rule at
 * once and rules most of them out (a scan per value cost about as much
 * as the calls it saved).  A rule the literals rule out matches nothing
 * (its !~ form hits). */
static void
rules_match_headers(const struct ruleset *rs, struct rules_scratch *s,
		    struct msgview *mv, struct rules_hits *out)
{
	const struct prefilter *pf = &rs->views[RULE_HEADER];
	struct rules_header_scan scan = { rs, s, -1 };
	bool failed;

	buf_reset(&s->hcat);
	for (size_t h = 0; h < rs->header_request_count; h++) {
		size_t start = s->hcat.len;
		const char *text;
		size_t tlen;

		s->hfound[h] = msgview_get_text(mv, rs->header_requests[h].request, &s->hcat,
						&text, &tlen);
		s->hapart[h] = NULL;
		if (text != NULL && tlen >= RULES_HEADER_APART) {
			s->hapart[h] = text;
			s->hapart_len[h] = tlen;
		} else if (text != NULL) {
			buf_put(&s->hcat, text, tlen);
		}
		s->hspan_start[h] = start;
		s->hspan_end[h] = s->hcat.len;
		buf_put(&s->hcat, "\n", 1);
	}
	s->cand_count = 0;
	/* a scan that fails rules nothing out */
	failed = !prefilter_scan_at(pf->db, s->hs, s->hcat.data, s->hcat.len,
				    rules_on_header_literal, &scan);
	for (size_t h = 0; h < rs->header_request_count && !failed; h++) {
		struct rules_header_scan apart = { rs, s, (int)h };

		if (s->hapart[h] != NULL)
			failed = !prefilter_scan_at(pf->db, s->hs, s->hapart[h], s->hapart_len[h],
						    rules_on_apart_literal, &apart);
	}
	if (failed)
		prefilter_name_all(pf->db, rules_on_prefilter, s);
	for (size_t h = 0; h < rs->header_request_count; h++) {
		const struct header_request *hr = &rs->header_requests[h];
		const char *value = s->hapart[h] != NULL ? s->hapart[h] :
				    s->hcat.data + s->hspan_start[h];
		size_t len = s->hapart[h] != NULL ? s->hapart_len[h] :
			     s->hspan_end[h] - s->hspan_start[h];
		struct byteset present;
		bool have_present = false;

		for (size_t k = 0; k < hr->rule_count; k++) {
			size_t i = hr->rules[k];
			const struct rule *r = &rs->rules[i];
			bool ruled_out;

			if (r->exists)
				ruled_out = false;
			else if (r->always_slot1 == 0)
				ruled_out = pf->db != NULL && !s->candidate[i];
			else
				ruled_out = !rules_gate_open(&pf->gates[r->always_slot1 - 1], value,
							     len, &present, &have_present);
			if (ruled_out)
				out->hits[i] = r->neg ? 1 : 0;
			else
				out->hits[i] = rules_header_value_hits(rs, s, r, s->hfound[h],
								       value, len);
		}
	}
	for (size_t k = 0; k < s->cand_count; k++)
		s->candidate[s->cand_list[k]] = 0;
}

/* MIMEHeader.pm's eval_hook_called: every MIME part in find_parts order;
 * an absent field is [if-unset: ...] or undef, which Perl matches as "";
 * hits add up over the parts to the rule's limit.  A negated rule hits
 * when no part matches.  (SpamAssassin 4.0's _check leaves its loop
 * before counting a negated match, so there every !~ rule hits whatever
 * the parts hold; no shipped rule uses !~ with mimeheader, and an admin
 * who writes one means "no part matches".) */
static void
rules_match_mimeheaders(const struct ruleset *rs, struct rules_scratch *s,
			struct msgview *mv, struct rules_hits *out)
{
	size_t parts = msgview_part_count(mv);

	for (size_t k = 0; k < rs->mimeheader_count; k++) {
		size_t i = rs->mimeheader_rules[k];
		const struct rule *r = &rs->rules[i];
		bool multiple = (r->tflags & TFLAG_MULTIPLE) != 0 || r->maxhits != 0;
		unsigned int limit = multiple ? rules_limit(r) : 1, total = 0;
		bool matched = false;

		for (size_t p = 0; p < parts && total < limit && !matched; p++) {
			const char *subject;
			size_t len;
			bool found;

			buf_reset(&s->hval);
			found = msgview_part_get(mv, p, r->header, &s->hval);
			if (r->exists) {
				matched = found;
				continue;
			}
			subject = s->hval.data != NULL ? s->hval.data : "";
			len = s->hval.len;
			if (!found) {
				subject = r->if_unset != NULL ? r->if_unset : "";
				len = strlen(subject);
			}
			if (r->neg) {
				matched = rules_count_matches(rs, s, r, subject, len, false, 1,
							      SIZE_MAX) > 0;
				continue;
			}
			total += rules_count_matches(rs, s, r, subject, len, multiple,
						     limit - total, SIZE_MAX);
		}
		if (r->exists)
			out->hits[i] = matched ? 1 : 0;
		else if (r->neg)
			out->hits[i] = matched ? 0 : 1;
		else
			out->hits[i] = total;
	}
}

static void
rules_lazy_note(struct rules_lazy *lz, size_t rule, size_t elem, size_t len, size_t start_max)
{
	int32_t k;

	if (lz->elem_count == lz->elem_cap) {
		/* bounded by the elements times the rules, both bounded */
		lz->elem_cap = lz->elem_cap < 256 ? 256 : lz->elem_cap * 2;
		lz->elems = xreallocarray(lz->elems, lz->elem_cap, sizeof(*lz->elems));
	}
	k = (int32_t)lz->elem_count++;
	lz->named_bytes[rule] += len;
	lz->elems[k].elem = (uint32_t)elem;
	lz->elems[k].next = -1;
	lz->elems[k].start_max = start_max;
	if (lz->tail[rule] < 0)
		lz->head[rule] = k;
	else
		lz->elems[lz->tail[rule]].next = k;
	lz->tail[rule] = k;
}

static int64_t
rules_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* How far CLOCK_MONOTONIC_COARSE may trail CLOCK_MONOTONIC: twice its
 * resolution; -1 when it can not say. */
static int64_t
rules_coarse_slack(void)
{
	static int64_t slack;
	struct timespec res;

	if (slack == 0)
		slack = clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0 && rules_ns(&res) > 0 &&
				rules_ns(&res) < 1000000000 ? 2 * rules_ns(&res) : -1;
	return slack;
}

/* Whether deadline (CLOCK_MONOTONIC; NULL = none) has passed.  It is
 * read before each element, eval and sub-rule, some 500 times a message,
 * where CLOCK_MONOTONIC costs about 60 cycles a read in a VM.  The coarse
 * clock (14) answers "no" while the deadline is further off than it can
 * trail; only the last few milliseconds read the exact one.  (Were it
 * to trail further, the backstop would only fire that much later.) */
static bool
rules_past(const struct timespec *deadline)
{
	struct timespec now;
	int64_t slack = rules_coarse_slack();

	if (deadline == NULL)
		return false;
	if (slack > 0 && clock_gettime(CLOCK_MONOTONIC_COARSE, &now) == 0 &&
	    rules_ns(&now) + slack < rules_ns(deadline))
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return rules_ns(&now) > rules_ns(deadline);
}

/* Runs the regex rules of one view over its elements (lines, paragraphs,
 * URIs, or the one full text), per SpamAssassin's per-element loops.
 * (deadline: the backstop, checked before each element, since one element
 * can only cost its rules' bounded matches; NULL = none.) */
static void
rules_match_view(const struct ruleset *rs, struct rules_scratch *s,
		 enum rule_type type, const struct strlist *elems,
		 const struct timespec *deadline, struct rules_hits *out)
{
	const struct prefilter *pf = &rs->views[type];

	for (size_t e = 0; e < elems->n && !out->time_limit_exceeded; e++) {
		const char *text = elems->v[e].p;
		size_t len = elems->v[e].len;
		struct byteset present;
		bool have_present = false;

		if (rules_past(deadline)) {
			out->time_limit_exceeded = true;
			break;
		}

		s->cand_count = 0;
		prefilter_scan(pf->db, s->hs, text, len, rules_on_prefilter, s);
		for (size_t pass = 0; pass < 2; pass++) {
			const size_t *list = pass == 0 ? s->cand_list : pf->always;
			size_t count = pass == 0 ? s->cand_count : pf->always_count;

			for (size_t k = 0; k < count; k++) {
				size_t i = list[k];
				const struct rule *r = &rs->rules[i];
				bool multiple = (r->tflags & TFLAG_MULTIPLE) != 0;
				unsigned int limit = rules_limit(r);
				size_t start_max = SIZE_MAX;

				if (pass == 0) {
					s->candidate[i] = 0;
					if (r->repeat_min > 1 &&
					    !prefilter_repeat_fits(pf->count_db, s->hs, &s->spans,
								   text, len, i, r->repeat_min,
								   &start_max))
						continue;
				}
				if (r->lazy) {
					/* rules_hit_resolve runs it on what the
					 * prefilter named (or on every element) */
					if (pass == 0)
						rules_lazy_note(out->lazy, i, e, len, start_max);
					continue;
				}
				if (out->hits[i] >= (multiple ? limit : 1))
					continue;
				/* tflags nosubject (Check.pm's $nosubj): a body rule
				 * skips the first element of the body array, the
				 * Subject's first line (or the first of its pieces when
				 * it was longer than a body line). */
				if (e == 0 && type == RULE_BODY &&
				    (r->tflags & TFLAG_NOSUBJECT) != 0)
					continue;
				if (pass == 1 && pf->gates != NULL &&
				    !rules_gate_open(&pf->gates[k], text, len, &present,
						     &have_present))
					continue;
				out->hits[i] += rules_count_matches(rs, s, r, text, len,
								    multiple,
								    limit - out->hits[i],
								    start_max);
			}
		}
	}
}

bool
rules_site_zero(const struct ruleset *rs, size_t index)
{
	return rs->rules[index].skip == RULE_SITE_ZERO;
}

/* One rule of a view over all its elements, as rules_match_view runs it
 * but without a prefilter. */
static unsigned int
rules_view_hits(const struct ruleset *rs, struct rules_scratch *s, const struct rule *r,
		const struct strlist *elems)
{
	bool multiple = (r->tflags & TFLAG_MULTIPLE) != 0;
	unsigned int limit = multiple ? rules_limit(r) : 1, n = 0;

	for (size_t e = 0; e < elems->n && n < limit; e++) {
		if (e == 0 && r->type == RULE_BODY && (r->tflags & TFLAG_NOSUBJECT) != 0)
			continue;
		n += rules_count_matches(rs, s, r, elems->v[e].p, elems->v[e].len, multiple,
					 limit - n, SIZE_MAX);
	}
	return n;
}

unsigned int
rules_match_one(const struct ruleset *rs, struct rules_scratch *s, struct msgview *mv,
		const struct rule *r)
{
	struct strlist full;
	const char *data;
	size_t len;

	switch (r->type) {
	case RULE_HEADER: {
		bool found;

		buf_reset(&s->hval);
		found = msgview_get(mv, r->header, &s->hval);
		return rules_header_hits(rs, s, r, found);
	}
	case RULE_BODY:
		return rules_view_hits(rs, s, r, msgview_body(mv));
	case RULE_RAWBODY:
		return rules_view_hits(rs, s, r, msgview_rawbody(mv));
	case RULE_URI:
		return rules_view_hits(rs, s, r, msgview_uris(mv));
	case RULE_FULL:
		msgview_full(mv, &data, &len);
		full.v = &(struct strlist_item){ (char *)data, len };
		full.n = full.cap = 1;
		return rules_view_hits(rs, s, r, &full);
	default:
		return 0;
	}
}

/* A lazy view rule's hits, as rules_match_view would have counted them:
 * on the elements the prefilter named for it, or on every element its
 * byte-set gate lets through. */
static unsigned int
rules_lazy_view_hits(const struct ruleset *rs, struct rules_lazy *lz, const struct rule *r,
		     size_t i)
{
	bool multiple = (r->tflags & TFLAG_MULTIPLE) != 0;
	unsigned int limit = multiple ? rules_limit(r) : 1, n = 0;
	bool nosubject = r->type == RULE_BODY && (r->tflags & TFLAG_NOSUBJECT) != 0;
	const struct byteset_req *gate = NULL;
	struct strlist_item full_item;
	struct strlist full;
	const struct strlist *elems;
	const char *data;
	size_t len;

	switch (r->type) {
	case RULE_BODY:
		elems = msgview_body(lz->mv);
		break;
	case RULE_RAWBODY:
		elems = msgview_rawbody(lz->mv);
		break;
	case RULE_URI:
		elems = msgview_uris(lz->mv);
		break;
	default:
		msgview_full(lz->mv, &data, &len);
		full_item = (struct strlist_item){ (char *)data, len };
		full.v = &full_item;
		full.n = full.cap = 1;
		elems = &full;
		break;
	}
	if (r->always_slot1 == 0) {
		for (int32_t k = lz->head[i]; k >= 0 && n < limit; k = lz->elems[k].next) {
			size_t e = lz->elems[k].elem;

			if (e == 0 && nosubject)
				continue;
			n += rules_count_matches(rs, &lz->scratch, r, elems->v[e].p,
						 elems->v[e].len, multiple, limit - n,
						 lz->elems[k].start_max);
		}
		return n;
	}
	if (rs->views[r->type].gates[r->always_slot1 - 1].n > 0)
		gate = &rs->views[r->type].gates[r->always_slot1 - 1];
	for (size_t e = 0; e < elems->n && n < limit; e++) {
		if (e == 0 && nosubject)
			continue;
		if (gate != NULL) {
			if (lz->present[r->type] == NULL) {
				lz->present[r->type] = xreallocarray(NULL, elems->n,
								     sizeof(struct byteset));
				lz->have_present[r->type] = xcalloc(elems->n, 1);
			}
			if (!lz->have_present[r->type][e]) {
				byteset_of(elems->v[e].p, elems->v[e].len,
					   &lz->present[r->type][e]);
				lz->have_present[r->type][e] = 1;
			}
			if (!byteset_req_open(gate, &lz->present[r->type][e]))
				continue;
		}
		n += rules_count_matches(rs, &lz->scratch, r, elems->v[e].p, elems->v[e].len,
					 multiple, limit - n, SIZE_MAX);
	}
	return n;
}

size_t
rules_hit_cost(const struct ruleset *rs, const struct rules_hits *hits, size_t i)
{
	const struct rule *r = &rs->rules[i];
	size_t bytes, weight;

	if (!rules_hit_pending(hits, i))
		return 0;
	bytes = r->always_slot1 == 0 ? hits->lazy->named_bytes[i]
				     : hits->lazy->view_bytes[r->type];
	weight = r->match_weight > 0 ? r->match_weight : 1;
	return bytes > SIZE_MAX / weight ? SIZE_MAX : bytes * weight;
}

/* Past this many asks the counts are halved: what the last few
 * thousand messages were like counts. */
#define RULES_HIT_RATE_WINDOW 4096

double
rules_hit_chance(const struct ruleset *rs, size_t i)
{
	const struct rules_hit_rate *h = &rs->hit_rate[i];

	/* as if it had been asked ten times and been true once */
	return (h->hit + 1.0) / (h->asked + 10.0);
}

void
rules_hit_note(const struct ruleset *rs, size_t i, bool hit)
{
	struct rules_hit_rate *h = &rs->hit_rate[i];

	if (++h->asked > RULES_HIT_RATE_WINDOW) {
		h->asked /= 2;
		h->hit /= 2;
	}
	h->hit += hit;
}

double
rules_value_most(const struct ruleset *rs, size_t i)
{
	const struct rule *r = &rs->rules[i];

	if (r->type == RULE_META)
		return INFINITY;
	return (r->tflags & TFLAG_MULTIPLE) != 0 ? rules_limit(r) : 1;
}

bool
rules_hit_pending(const struct rules_hits *hits, size_t i)
{
	return hits->lazy != NULL && i < hits->lazy->count && hits->lazy->pending[i];
}

unsigned int
rules_hit_resolve(const struct ruleset *rs, const struct rules_hits *hits, size_t i)
{
	struct rules_lazy *lz = hits->lazy;
	const struct rule *r;

	if (!rules_hit_pending(hits, i))
		return i < hits->count ? hits->hits[i] : 0;
	lz->pending[i] = 0;
	r = &rs->rules[i];
	/* The backstop: past it the rule counts as skipped, as any rule
	 * rules_match did not reach. */
	if (hits->time_limit_exceeded || (hits->has_deadline && rules_past(&hits->deadline))) {
		lz->timed_out = true;
		return 0;
	}
	if (lz->scratch.md == NULL) {
		lz->scratch.md = pcre2_match_data_create(64, NULL);
		if (lz->scratch.md == NULL)
			log_panic("pcre2_match_data_create failed");
	}
	hits->hits[i] = rules_lazy_view_hits(rs, lz, r, i);
	return hits->hits[i];
}

bool
rules_hits_timed_out(const struct rules_hits *hits)
{
	return hits->time_limit_exceeded || (hits->lazy != NULL && hits->lazy->timed_out);
}

void
rules_resolve_all(const struct ruleset *rs, const struct rules_hits *hits)
{
	if (hits->lazy == NULL)
		return;
	for (size_t i = 0; i < hits->lazy->count; i++)
		if (hits->lazy->pending[i])
			(void)rules_hit_resolve(rs, hits, i);
}

bool
rules_hits_past_deadline(struct rules_hits *out)
{
	if (!out->time_limit_exceeded && out->has_deadline && rules_past(&out->deadline))
		out->time_limit_exceeded = true;
	return out->time_limit_exceeded;
}

void
rules_match_site_zero(const struct ruleset *rs, struct rules_scratch *s, struct msgview *mv,
		      const size_t *rules, size_t count, struct rules_hits *out)
{
	/* what the backstop stopped stays stopped */
	if (out->time_limit_exceeded)
		return;
	for (size_t k = 0; k < count; k++) {
		size_t i = rules[k];
		const struct rule *r = &rs->rules[i];

		if (i >= out->count || r->skip != RULE_SITE_ZERO || r->type == RULE_META)
			continue;
		if (out->site_zero_done == NULL)
			out->site_zero_done = xcalloc(out->count, 1);
		if (out->site_zero_done[i])
			continue;
		if (rules_hits_past_deadline(out))
			return;
		out->site_zero_done[i] = 1;
		out->hits[i] = rules_match_one(rs, s, mv, r);
	}
}

static size_t
rules_view_bytes(const struct strlist *elems)
{
	size_t n = 0;

	for (size_t e = 0; e < elems->n; e++)
		n += elems->v[e].len;
	return n;
}

/* Once every view has been scanned whole: a pending rule behind the
 * prefilter that it named in no element can not hit, so it stops being
 * pending (a meta reading it then knows its 0 without asking); and what
 * each view holds, for rules_hit_cost. */
static void
rules_lazy_settle(const struct ruleset *rs, struct msgview *mv, struct rules_lazy *lz,
		  size_t full_len)
{
	for (size_t i = 0; i < rs->count; i++)
		if (lz->pending[i] && rs->rules[i].always_slot1 == 0 && lz->head[i] < 0)
			lz->pending[i] = 0;
	lz->view_bytes[RULE_BODY] = rules_view_bytes(msgview_body(mv));
	lz->view_bytes[RULE_RAWBODY] = rules_view_bytes(msgview_rawbody(mv));
	lz->view_bytes[RULE_URI] = rules_view_bytes(msgview_uris(mv));
	lz->view_bytes[RULE_FULL] = full_len;
}

void
rules_match(const struct ruleset *rs, struct rules_scratch *s, struct msgview *mv,
	    double time_limit, struct rules_hits *out)
{
	struct timespec deadline;
	const struct timespec *dl = NULL;
	struct strlist full;
	const char *data;
	size_t len;

	memset(out, 0, sizeof(*out));
	out->count = rs->count;
	out->hits = xcalloc(rs->count > 0 ? rs->count : 1, sizeof(*out->hits));
	if (rs->lazy_count > 0) {
		struct rules_lazy *lz = xcalloc(1, sizeof(*lz));

		lz->mv = mv;
		lz->count = rs->count;
		lz->pending = xmalloc(rs->count > 0 ? rs->count : 1);
		memcpy(lz->pending, rs->lazy, rs->count);
		lz->head = xreallocarray(NULL, rs->count, sizeof(*lz->head));
		lz->tail = xreallocarray(NULL, rs->count, sizeof(*lz->tail));
		memset(lz->head, 0xff, rs->count * sizeof(*lz->head));
		memset(lz->tail, 0xff, rs->count * sizeof(*lz->tail));
		lz->named_bytes = xcalloc(rs->count > 0 ? rs->count : 1, sizeof(*lz->named_bytes));
		out->lazy = lz;
	}
	if (time_limit > 0) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += (time_t)time_limit;
		deadline.tv_nsec += (long)((time_limit - (double)(time_t)time_limit) * 1e9);
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		dl = &deadline;
		out->has_deadline = true;
		out->deadline = deadline;
	}

	rules_match_headers(rs, s, mv, out);
	rules_match_mimeheaders(rs, s, mv, out);
	rules_match_view(rs, s, RULE_BODY, msgview_body(mv), dl, out);
	rules_match_view(rs, s, RULE_RAWBODY, msgview_rawbody(mv), dl, out);
	rules_match_view(rs, s, RULE_URI, msgview_uris(mv), dl, out);
	msgview_full(mv, &data, &len);
	full.v = &(struct strlist_item){ (char *)data, len };
	full.n = full.cap = 1;
	rules_match_view(rs, s, RULE_FULL, &full, dl, out);
	if (out->time_limit_exceeded || rules_past(dl)) {
		out->time_limit_exceeded = true;
		return;
	}
	if (out->lazy != NULL)
		rules_lazy_settle(rs, mv, out->lazy, len);
	rules_match_evals(rs, mv, out);
}
