/* rules_parse: reads SpamAssassin rule files into a ruleset, following
 * Mail::SpamAssassin::Conf::Parser: "#" comments (unless escaped as "\#"),
 * "lang" lines, if/ifplugin/else/endif, include, require_version, the rule
 * definitions and the settings lmtpd uses.  Directives that belong to
 * SpamAssassin features lmtpd does not have (network tests, reports, header
 * templates) are accepted and ignored; anything else is a diagnostic.
 * ReplaceTags is applied at the end, then default scores, as Parser.pm's
 * fix_tests does.  Bounds: a line is at most RULES_LINE_MAX bytes, includes
 * nest at most RULES_INCLUDE_DEPTH deep, conditionals RULES_IF_DEPTH deep. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "buf.h"
#include "rules_int.h"
#include "prefilter.h"
#include "rules_parse.h"
#include "rules_user.h"
#include "xalloc.h"

#define RULES_LINE_MAX (64 * 1024)
#define RULES_INCLUDE_DEPTH 16
#define RULES_IF_DEPTH 64
#define RULES_FILE_MAX (16 * 1024 * 1024)
/* SpamAssassin's version as the rule files test it ("version >= 4.000000"):
 * lmtpd implements the 4.0 rule language. */
#define RULES_SA_VERSION 4.000001

/* Plugins whose rule-file features lmtpd implements: "ifplugin" and
 * "plugin()" are true for these and false for the rest, so rules of
 * plugins lmtpd lacks are not loaded.  The eval families are listed once
 * lmtpd has (some of) their functions; unimplemented functions of a listed
 * family are skipped one by one and shown by --lint. */
static const char *const rules_plugins[] = {
	"Mail::SpamAssassin::Plugin::Check",
	"Mail::SpamAssassin::Plugin::ReplaceTags",
	"Mail::SpamAssassin::Plugin::MIMEHeader",
	"Mail::SpamAssassin::Plugin::WLBLEval",
	"Mail::SpamAssassin::Plugin::HeaderEval",
	"Mail::SpamAssassin::Plugin::BodyEval",
	"Mail::SpamAssassin::Plugin::ImageInfo",
	"Mail::SpamAssassin::Plugin::MIMEEval",
	"Mail::SpamAssassin::Plugin::HTMLEval",
	"Mail::SpamAssassin::Plugin::RelayEval",
	"Mail::SpamAssassin::Plugin::FreeMail",
	/* check_https_http_mismatch, and URIEval's check_https_ip_mismatch
	 * and check_uri_truncated (eval_body.c) */
	"Mail::SpamAssassin::Plugin::HTTPSMismatch",
	"Mail::SpamAssassin::Plugin::URIEval",
	/* the classifier (bayes.c) and its check_bayes (eval_bayes.c) */
	"Mail::SpamAssassin::Plugin::Bayes",
	/* the bounce rules of 20_vbounce.cf and their two evals
	 * (eval_vbounce.c) */
	"Mail::SpamAssassin::Plugin::VBounce",
	/* welcomelist_subject and blocklist_subject (eval.c) */
	"Mail::SpamAssassin::Plugin::WelcomeListSubject",
};

/* "can(...)" answers: Conf features of the rule language lmtpd supports. */
static const char *const rules_can[] = {
	"Mail::SpamAssassin::Conf::feature_bayes_stopwords",
	"Mail::SpamAssassin::Conf::feature_originating_ip_headers",
	"Mail::SpamAssassin::Conf::feature_dns_local_ports_permit_avoid",
	"Mail::SpamAssassin::Conf::feature_yesno_takes_args",
	"Mail::SpamAssassin::Conf::feature_bug6558_free",
	"Mail::SpamAssassin::Conf::feature_registryboundaries",
	"Mail::SpamAssassin::Conf::feature_dns_block_rule",
	"Mail::SpamAssassin::Conf::feature_compile_regexp",
	"Mail::SpamAssassin::Conf::feature_blocklist_welcomelist",
	"Mail::SpamAssassin::Conf::feature_welcomelist_blocklist",
	"Mail::SpamAssassin::Conf::feature_header_address_parser",
	"Mail::SpamAssassin::Conf::feature_local_tests_only",
	"Mail::SpamAssassin::Conf::feature_header_first_last",
	"Mail::SpamAssassin::Conf::feature_header_match_many",
	"Mail::SpamAssassin::Conf::feature_get_host",
	"Mail::SpamAssassin::Conf::perl_min_version_5010000",
	"Mail::SpamAssassin::Conf::feature_uri_host_listed",
};

/* Directives of SpamAssassin features lmtpd does not have, or handles
 * elsewhere: accepted silently. */
static const char *const rules_ignored[] = {
	"add_header", "adsp_override", "askdns", "bayes_ignore_header",
	"bayes_ignore_from", "bayes_ignore_to", "clear_headers",
	"clear_originating_ip_headers", "clear_report_template",
	"clear_unsafe_report_template", "clear_util_rb", "def_welcomelist_auth",
	"def_whitelist_auth", "def_welcomelist_from_dkim",
	"def_whitelist_from_dkim", "def_welcomelist_from_spf",
	"def_whitelist_from_spf", "dns_available", "dns_block_rule",
	"dns_local_ports_avoid", "dns_local_ports_permit", "dns_server",
	"enlist_addrlist", "fns_check", "fns_ignore_dkim",
	"fns_ignore_headers", "freemail_domains", "freemail_import_whitelist_auth",
	"freemail_import_welcomelist_auth", "freemail_whitelist",
	"freemail_welcomelist", "loadplugin", "ok_languages", "ok_locales",
	"originating_ip_headers", "redirector_pattern",
	"report", "report_charset", "report_contact", "report_safe",
	"reuse", "skip_rbl_checks", "test", "tryplugin",
	"unsafe_report", "uridnsbl", "uridnsbl_skip_domain", "uridnssub",
	"urirhsbl", "urirhssub", "url_shortener", "url_shortener_get",
	"use_auto_welcomelist", "use_auto_whitelist", "welcomelist_auth",
	"whitelist_auth", "welcomelist_from_dkim", "whitelist_from_dkim",
	"welcomelist_from_spf", "whitelist_from_spf",
	"util_rb_tld_skip", "lock_method", "bayes_path", "auto_welcomelist_path",
	"normalize_charset", "dcc_home", "pyzor_path", "razor_config",
	"use_dcc", "use_pyzor", "use_razor2", "score_set",
	"header_rules_matching", "txrep_factor",
};

/* The add_header lines of SpamAssassin's 10_default_prefs.cf: the
 * headers lmtpd writes (DESIGN.md), so not worth a word.  Compared as
 * SpamAssassin reads the line: area, name, then the template without
 * its surrounding blanks and quotes. */
static bool
rules_default_add_header(const char *value)
{
	static const struct {
		const char *area, *name, *template;
	} defaults[] = {
		{ "all", "Checker-Version",
		  "SpamAssassin _VERSION_ (_SUBVERSION_) on _HOSTNAME_" },
		{ "spam", "Flag", "_YESNOCAPS_" },
		{ "all", "Level", "_STARS(*)_" },
		{ "all", "Status", "_YESNO_, score=_SCORE_ required=_REQD_ tests=_TESTS_ "
		  "autolearn=_AUTOLEARN_ version=_VERSION_" },
	};
	size_t area_len = strcspn(value, " \t"), name_len, len;
	const char *name = value + area_len, *template;

	name += strspn(name, " \t");
	name_len = strcspn(name, " \t");
	template = name + name_len;
	template += strspn(template, " \t");
	len = strlen(template);
	while (len > 0 && (template[len - 1] == ' ' || template[len - 1] == '\t'))
		len--;
	if (len >= 2 && template[0] == '"' && template[len - 1] == '"') {
		template++;
		len -= 2;
	}
	for (size_t i = 0; i < N_ELEMENTS(defaults); i++)
		if (strlen(defaults[i].area) == area_len &&
		    strncmp(defaults[i].area, value, area_len) == 0 &&
		    strlen(defaults[i].name) == name_len &&
		    strncmp(defaults[i].name, name, name_len) == 0 &&
		    strlen(defaults[i].template) == len &&
		    strncmp(defaults[i].template, template, len) == 0)
			return true;
	return false;
}

struct if_frame {
	bool skip_before;
	unsigned int line;
};

struct rules_parser {
	struct rules_build *b;
	const char *file;	/* interned path of the current file */
	unsigned int line;
	bool skip;
	struct if_frame ifs[RULES_IF_DEPTH];
	unsigned int if_depth;
	unsigned int include_depth;
};

struct rules_diag *
rules_diag_add(struct rules_build *b, const char *file, unsigned int line,
	       bool error, const char *fmt, ...)
{
	struct rules_load_result *r = b->result;
	struct rules_diag *d;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = xstrdup(fmt);
	va_end(ap);
	/* A hostile or broken rule file must not grow this without bound. */
	if (r->diag_count >= 100000) {
		free(msg);
		return NULL;
	}
	r->diags = xreallocarray(r->diags, r->diag_count + 1, sizeof(*r->diags));
	d = &r->diags[r->diag_count++];
	d->file = xstrdup(file != NULL ? file : "(none)");
	d->line = line;
	d->error = error;
	d->logged = false;
	d->message = msg;
	if (error)
		r->errors++;
	return d;
}

static const char *
rules_intern_path(struct rules_build *b, const char *path)
{
	strlist_add(&b->paths, path, strlen(path));
	return b->paths.v[b->paths.n - 1].p;
}

struct rule *
rules_get_or_add(struct rules_build *b, const char *name)
{
	struct ruleset *rs = b->rs;
	size_t index;

	if (strmap_get(rs->by_name, name, &index))
		return &rs->rules[index];
	if (rs->count == b->cap) {
		b->cap = b->cap == 0 ? 1024 : b->cap * 2;
		rs->rules = xreallocarray(rs->rules, b->cap, sizeof(*rs->rules));
	}
	memset(&rs->rules[rs->count], 0, sizeof(*rs->rules));
	rs->rules[rs->count].name = xstrdup(name);
	rs->rules[rs->count].subrule = strncmp(name, "__", 2) == 0;
	rs->rules[rs->count].header_slot = -1;
	strmap_put(rs->by_name, name, rs->count);
	return &rs->rules[rs->count++];
}

/* The rule a line of ps changes.  A user's rules overlay the site's
 * table, whose rules (and their strings) every user shares: a user's file
 * may not change those (scoring them is the prefs' business, before the
 * parser), so that is refused here, where every change passes. */
static struct rule *
rules_rule_to_change(struct rules_parser *ps, const char *name)
{
	const struct ruleset *rs = ps->b->rs;
	size_t index;

	if (rs->site == NULL)
		return rules_get_or_add(ps->b, name);
	if (strmap_get(rs->by_name, name, &index)) {
		if (index >= rs->user_first)
			return &ps->b->rs->rules[index];
		rules_diag_add(ps->b, ps->file, ps->line, true,
			       "%s: a site rule; users may only score it", name);
		return NULL;
	}
	/* score, describe and tflags lines name rules too: bounded apart
	 * from the rules defined (RULES_USER_MAX), each name is a slot */
	if (rs->count - rs->user_first >= RULES_USER_NAMES_MAX) {
		rules_diag_add(ps->b, ps->file, ps->line, true,
			       "%s: more than %d rule names, line ignored", name,
			       RULES_USER_NAMES_MAX);
		return NULL;
	}
	return rules_get_or_add(ps->b, name);
}

/* RULENAME_RE: [_a-zA-Z][_a-zA-Z0-9]{0,127} */
static bool
rules_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 100 || !(isalpha((unsigned char)name[0]) || name[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_')
			return false;
	return true;
}

/* ---- if/ifplugin expressions -------------------------------------- */

struct cond_lexer {
	const char *p;
	char tok[256];
	bool error;
	const struct strlist *compat;	/* enable_compat names */
};

static bool
cond_in_list(const char *word, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], word) == 0)
			return true;
	return false;
}

static void
cond_next(struct cond_lexer *lx)
{
	const char *p = lx->p;
	size_t n = 0;

	while (isspace((unsigned char)*p))
		p++;
	lx->tok[0] = '\0';
	if (*p == '\0') {
		lx->p = p;
		return;
	}
	if (isalnum((unsigned char)*p) || *p == '_' || *p == '.' ||
	    ((*p == '-' || *p == '+') && isdigit((unsigned char)p[1]))) {
		if (*p == '-' || *p == '+')
			lx->tok[n++] = *p++;
		while ((isalnum((unsigned char)*p) || *p == '_' || *p == ':' ||
			*p == '.') && n + 1 < sizeof(lx->tok))
			lx->tok[n++] = *p++;
	} else if ((p[0] == '&' && p[1] == '&') || (p[0] == '|' && p[1] == '|') ||
		   (p[0] == '>' && p[1] == '=') || (p[0] == '<' && p[1] == '=') ||
		   (p[0] == '=' && p[1] == '=') || (p[0] == '!' && p[1] == '=')) {
		lx->tok[n++] = *p++;
		lx->tok[n++] = *p++;
	} else if (strchr("()!<>", *p) != NULL) {
		lx->tok[n++] = *p++;
	} else {
		lx->error = true;
		p++;
	}
	lx->tok[n] = '\0';
	lx->p = p;
}

static double cond_or(struct cond_lexer *lx);

static double
cond_primary(struct cond_lexer *lx)
{
	char word[256];

	if (strcmp(lx->tok, "(") == 0) {
		double v;

		cond_next(lx);
		v = cond_or(lx);
		if (strcmp(lx->tok, ")") != 0)
			lx->error = true;
		cond_next(lx);
		return v;
	}
	if (strcmp(lx->tok, "!") == 0) {
		cond_next(lx);
		return cond_primary(lx) != 0 ? 0 : 1;
	}
	snprintf(word, sizeof(word), "%s", lx->tok);
	if (word[0] == '\0') {
		lx->error = true;
		return 0;
	}
	cond_next(lx);
	if (strcmp(word, "plugin") == 0 || strcmp(word, "can") == 0 ||
	    strcmp(word, "has") == 0) {
		char arg[256];
		bool yes;

		if (strcmp(lx->tok, "(") != 0) {
			lx->error = true;
			return 0;
		}
		cond_next(lx);
		snprintf(arg, sizeof(arg), "%s", lx->tok);
		cond_next(lx);
		if (strcmp(lx->tok, ")") != 0)
			lx->error = true;
		cond_next(lx);
		if (strcmp(word, "plugin") == 0) {
			/* Parser.pm renames these two for compatibility. */
			if (strcmp(arg, "Mail::SpamAssassin::Plugin::WhiteListSubject") == 0)
				snprintf(arg, sizeof(arg), "%s",
					 "Mail::SpamAssassin::Plugin::WelcomeListSubject");
			yes = cond_in_list(arg, rules_plugins, N_ELEMENTS(rules_plugins));
		} else {
			static const char compat[] = "Mail::SpamAssassin::Conf::compat_";

			yes = cond_in_list(arg, rules_can, N_ELEMENTS(rules_can)) ||
			      eval_can(arg);
			for (size_t i = 0; !yes && strncmp(arg, compat, sizeof(compat) - 1) == 0 &&
					   i < lx->compat->n; i++)
				yes = strcmp(arg + sizeof(compat) - 1, lx->compat->v[i].p) == 0;
		}
		return yes ? 1 : 0;
	}
	if (strcmp(word, "version") == 0)
		return RULES_SA_VERSION;
	if (strcmp(word, "perl_version") == 0)
		return 5.036000;
	if (strcmp(word, "local_tests_only") == 0)
		return 1;	/* lmtpd runs no network tests */
	if (isdigit((unsigned char)word[0]) || word[0] == '-' || word[0] == '+' ||
	    word[0] == '.')
		return strtod(word, NULL);
	lx->error = true;
	return 0;
}

static double
cond_cmp(struct cond_lexer *lx)
{
	double a = cond_primary(lx);

	for (;;) {
		char op[sizeof(lx->tok)];
		double b;

		snprintf(op, sizeof(op), "%s", lx->tok);
		if (strcmp(op, ">=") != 0 && strcmp(op, "<=") != 0 &&
		    strcmp(op, "==") != 0 && strcmp(op, "!=") != 0 &&
		    strcmp(op, "<") != 0 && strcmp(op, ">") != 0)
			return a;
		cond_next(lx);
		b = cond_primary(lx);
		if (strcmp(op, ">=") == 0)
			a = a >= b;
		else if (strcmp(op, "<=") == 0)
			a = a <= b;
		else if (strcmp(op, "==") == 0)
			a = a == b;
		else if (strcmp(op, "!=") == 0)
			a = a != b;
		else if (strcmp(op, "<") == 0)
			a = a < b;
		else
			a = a > b;
	}
}

static double
cond_and(struct cond_lexer *lx)
{
	double a = cond_cmp(lx);

	while (strcmp(lx->tok, "&&") == 0) {
		double b;

		cond_next(lx);
		b = cond_cmp(lx);
		a = a != 0 ? b : a;
	}
	return a;
}

static double
cond_or(struct cond_lexer *lx)
{
	double a = cond_and(lx);

	while (strcmp(lx->tok, "||") == 0) {
		double b;

		cond_next(lx);
		b = cond_and(lx);
		a = a != 0 ? a : b;
	}
	return a;
}

/* Returns 1 true, 0 false, -1 unparseable. */
static int
rules_cond_eval(const char *expr, const struct strlist *compat)
{
	struct cond_lexer lx = { expr, "", false, compat };
	double v;

	cond_next(&lx);
	v = cond_or(&lx);
	if (lx.error || lx.tok[0] != '\0')
		return -1;
	return v != 0 ? 1 : 0;
}

/* ---- directives ---------------------------------------------------- */

static char *
rules_word(char **s)
{
	char *p = *s, *w;

	while (*p == ' ' || *p == '\t')
		p++;
	w = p;
	while (*p != '\0' && *p != ' ' && *p != '\t')
		p++;
	if (*p != '\0')
		*p++ = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	*s = p;
	return w;
}

static void
rules_define(struct rules_parser *ps, enum rule_type type, char *value)
{
	char *name = rules_word(&value);
	struct rule *r;

	if (!rules_name_valid(name)) {
		rules_diag_add(ps->b, ps->file, ps->line, true,
			       "invalid rule name '%s'", name);
		return;
	}
	if (*value == '\0') {
		rules_diag_add(ps->b, ps->file, ps->line, true,
			       "rule %s has no definition", name);
		return;
	}
	r = rules_rule_to_change(ps, name);
	if (r == NULL)
		return;
	/* A later definition replaces an earlier one (Parser.pm add_test). */
	free(r->header);
	free(r->if_unset);
	free(r->pattern);
	free(r->gate_pattern);
	free(r->meta_src);
	r->header = r->if_unset = r->pattern = r->gate_pattern = r->meta_src = NULL;
	r->neg = r->exists = false;
	r->type = type;
	r->defined = true;
	r->file = ps->file;
	r->line = ps->line;
	r->skip = RULE_RUNS;
	rules_eval_free(&r->eval);
	if (type != RULE_META && strncmp(value, "eval:", 5) == 0) {
		if (rules_parse_eval(ps->b, r, value + 5) < 0)
			rules_diag_add(ps->b, ps->file, ps->line, true,
				       "rule %s: bad eval call '%s'", name, value);
		return;
	}
	switch (type) {
	case RULE_META:
		r->meta_src = xstrdup(value);
		return;
	case RULE_HEADER:
	case RULE_MIMEHEADER: {
		char *p = value, *op, *hdr_end;

		if (strncmp(value, "exists:", 7) == 0) {
			char *h = value + 7;
			size_t len = strlen(h);

			if (len > 0 && h[len - 1] == ':')
				h[--len] = '\0';
			if (len == 0 || strspn(h, "abcdefghijklmnopqrstuvwxyz"
					       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != len) {
				rules_diag_add(ps->b, ps->file, ps->line, true,
					       "rule %s: invalid header name '%s'", name, h);
				r->defined = false;
				return;
			}
			r->exists = true;
			r->header = xstrdup(h);
			return;
		}
		/* Hdr[:mod[:mod]] (=~|!~) pattern [if-unset: X] */
		while (*p != '\0' && (isalnum((unsigned char)*p) || strchr("_.-:", *p) != NULL))
			p++;
		hdr_end = p;
		while (*p == ' ' || *p == '\t')
			p++;
		op = p;
		if (hdr_end == value || !((op[0] == '=' || op[0] == '!') && op[1] == '~')) {
			rules_diag_add(ps->b, ps->file, ps->line, true,
				       "rule %s: invalid header test '%s'", name, value);
			r->defined = false;
			return;
		}
		r->neg = op[0] == '!';
		*hdr_end = '\0';
		if (hdr_end > value && hdr_end[-1] == ':')
			hdr_end[-1] = '\0';
		r->header = xstrdup(value);
		p = op + 2;
		while (*p == ' ' || *p == '\t')
			p++;
		{
			/* "[if-unset: X]" at the end (Parser.pm: \s+\[if-unset:\s+(.+)\]$) */
			char *unset = strstr(p, "[if-unset:");
			size_t plen = strlen(p);

			if (unset != NULL && unset > p && isspace((unsigned char)unset[-1]) &&
			    plen > 0 && p[plen - 1] == ']') {
				char *v = unset + 10;

				while (*v == ' ' || *v == '\t')
					v++;
				p[plen - 1] = '\0';
				r->if_unset = xstrdup(v);
				while (unset > p && isspace((unsigned char)unset[-1]))
					unset--;
				*unset = '\0';
			}
		}
		r->pattern = xstrdup(p);
		if (!rules_header_modifiers_valid(r->header)) {
			rules_diag_add(ps->b, ps->file, ps->line, true,
				       "rule %s: invalid header modifier in '%s'", name,
				       r->header);
			r->defined = false;
		}
		return;
	}
	default:
		r->pattern = xstrdup(value);
		return;
	}
}

static void
rules_set_score(struct rules_parser *ps, char *value)
{
	char *name = rules_word(&value), *tok;
	double scores[4];
	bool relative = false;
	int n = 0;
	struct rule *r;

	while (n < 4 && *(tok = rules_word(&value)) != '\0') {
		char *end;
		size_t len = strlen(tok);

		if (tok[0] == '(' && len > 2 && tok[len - 1] == ')') {
			relative = true;
			tok[len - 1] = '\0';
			tok++;
		}
		scores[n] = strtod(tok, &end);
		if (*end != '\0' || !isfinite(scores[n]) || fabs(scores[n]) > RULES_SCORE_ABS_MAX) {
			rules_diag_add(ps->b, ps->file, ps->line, true,
				       "score %s: bad value '%s'", name, tok);
			return;
		}
		n++;
	}
	if (n != 1 && n != 4) {
		rules_diag_add(ps->b, ps->file, ps->line, true,
			       "score %s: expected 1 or 4 values", name);
		return;
	}
	if (!rules_name_valid(name)) {
		rules_diag_add(ps->b, ps->file, ps->line, true, "score: invalid rule name '%s'",
			       name);
		return;
	}
	r = rules_rule_to_change(ps, name);
	if (r == NULL)
		return;
	/* where a rule was first named, until a definition says where it is */
	if (r->file == NULL) {
		r->file = ps->file;
		r->line = ps->line;
	}
	for (int i = 0; i < 4; i++) {
		double v = scores[n == 1 ? 0 : i];

		r->score[i] = relative && r->score_set ? r->score[i] + v : v;
	}
	r->score_set = true;
}

static void
rules_set_tflags(struct rules_parser *ps, char *value)
{
	char *name = rules_word(&value), *tok;
	struct rule *r;

	if (!rules_name_valid(name))
		return;
	r = rules_rule_to_change(ps, name);
	if (r == NULL)
		return;
	r->tflags = 0;
	r->maxhits = 0;
	while (*(tok = rules_word(&value)) != '\0') {
		if (strcmp(tok, "multiple") == 0)
			r->tflags |= TFLAG_MULTIPLE;
		else if (strcmp(tok, "net") == 0)
			r->tflags |= TFLAG_NET;
		else if (strcmp(tok, "nice") == 0)
			r->tflags |= TFLAG_NICE;
		else if (strcmp(tok, "learn") == 0)
			r->tflags |= TFLAG_LEARN;
		else if (strcmp(tok, "userconf") == 0)
			r->tflags |= TFLAG_USERCONF;
		else if (strcmp(tok, "noautolearn") == 0)
			r->tflags |= TFLAG_NOAUTOLEARN;
		else if (strcmp(tok, "autolearn_body") == 0)
			r->tflags |= TFLAG_AUTOLEARN_BODY;
		else if (strcmp(tok, "nosubject") == 0)
			r->tflags |= TFLAG_NOSUBJECT;
		else if (strcmp(tok, "nolog") == 0)
			r->tflags |= TFLAG_NOLOG;
		else if (strncmp(tok, "maxhits=", 8) == 0)
			r->maxhits = (unsigned int)strtoul(tok + 8, NULL, 10);
		/* publish, a, domains_only, ips_only, ...: no effect here. */
	}
}

static void
rules_set_map(struct strmap *map, struct strlist *values, char *value)
{
	char *name = rules_word(&value);

	strlist_add(values, value, strlen(value));
	strmap_put(map, name, values->n - 1);
}

/* welcomelist_from and friends (WLBLEval), site-wide. */
static bool
rules_addrlist_directive(struct rules_build *b, const char *key, char *value)
{
	static const struct {
		const char *key;
		enum addrlist_kind kind;
		bool remove, rcvd, line;
	} table[] = {
		{ "welcomelist_from", ADDRLIST_WELCOME_FROM, false, false, false },
		{ "whitelist_from", ADDRLIST_WELCOME_FROM, false, false, false },
		{ "unwelcomelist_from", ADDRLIST_WELCOME_FROM, true, false, false },
		{ "unwhitelist_from", ADDRLIST_WELCOME_FROM, true, false, false },
		{ "blocklist_from", ADDRLIST_BLOCK_FROM, false, false, false },
		{ "blacklist_from", ADDRLIST_BLOCK_FROM, false, false, false },
		{ "unblocklist_from", ADDRLIST_BLOCK_FROM, true, false, false },
		{ "unblacklist_from", ADDRLIST_BLOCK_FROM, true, false, false },
		{ "welcomelist_from_rcvd", ADDRLIST_WELCOME_FROM_RCVD, false, true, false },
		{ "whitelist_from_rcvd", ADDRLIST_WELCOME_FROM_RCVD, false, true, false },
		{ "def_welcomelist_from_rcvd", ADDRLIST_DEF_WELCOME_FROM_RCVD, false, true, false },
		{ "def_whitelist_from_rcvd", ADDRLIST_DEF_WELCOME_FROM_RCVD, false, true, false },
		{ "welcomelist_to", ADDRLIST_WELCOME_TO, false, false, false },
		{ "whitelist_to", ADDRLIST_WELCOME_TO, false, false, false },
		{ "more_spam_to", ADDRLIST_MORE_SPAM_TO, false, false, false },
		{ "all_spam_to", ADDRLIST_ALL_SPAM_TO, false, false, false },
		{ "blocklist_to", ADDRLIST_BLOCK_TO, false, false, false },
		{ "blacklist_to", ADDRLIST_BLOCK_TO, false, false, false },
		{ "welcomelist_bounce_relays", ADDRLIST_WELCOME_BOUNCE_RELAYS, false, false, false },
		{ "whitelist_bounce_relays", ADDRLIST_WELCOME_BOUNCE_RELAYS, false, false, false },
		{ "welcomelist_subject", ADDRLIST_WELCOME_SUBJECT, false, false, true },
		{ "whitelist_subject", ADDRLIST_WELCOME_SUBJECT, false, false, true },
		{ "blocklist_subject", ADDRLIST_BLOCK_SUBJECT, false, false, true },
		{ "blacklist_subject", ADDRLIST_BLOCK_SUBJECT, false, false, true },
	};

	for (size_t i = 0; i < N_ELEMENTS(table); i++) {
		if (strcmp(key, table[i].key) != 0)
			continue;
		if (table[i].remove)
			addrlist_remove_words(&b->rs->lists[table[i].kind], value);
		else if (table[i].line)
			addrlist_add_line(&b->rs->lists[table[i].kind], value);
		else if (table[i].rcvd)
			addrlist_add_rcvd(&b->rs->lists[table[i].kind], value);
		else
			addrlist_add_words(&b->rs->lists[table[i].kind], value);
		return true;
	}
	return false;
}

static bool
rules_bool_value(const char *value, bool *out)
{
	if (strcmp(value, "1") == 0 || strcasecmp(value, "yes") == 0)
		*out = true;
	else if (strcmp(value, "0") == 0 || strcasecmp(value, "no") == 0)
		*out = false;
	else
		return false;
	return true;
}

static void
rules_directive(struct rules_parser *ps, const char *key, char *value)
{
	struct rules_build *b = ps->b;
	const char *why = NULL;
	int handled;

	if (strcmp(key, "header") == 0)
		rules_define(ps, RULE_HEADER, value);
	else if (strcmp(key, "body") == 0)
		rules_define(ps, RULE_BODY, value);
	else if (strcmp(key, "meta") == 0)
		rules_define(ps, RULE_META, value);
	else if (strcmp(key, "rawbody") == 0)
		rules_define(ps, RULE_RAWBODY, value);
	else if (strcmp(key, "uri") == 0)
		rules_define(ps, RULE_URI, value);
	else if (strcmp(key, "full") == 0)
		rules_define(ps, RULE_FULL, value);
	else if (strcmp(key, "mimeheader") == 0)
		rules_define(ps, RULE_MIMEHEADER, value);
	else if (strcmp(key, "score") == 0)
		rules_set_score(ps, value);
	else if (strcmp(key, "describe") == 0) {
		char *name = rules_word(&value);

		struct rule *r = rules_name_valid(name) ? rules_rule_to_change(ps, name) : NULL;

		if (r != NULL) {
			free(r->describe);
			r->describe = xstrdup(value);
		}
	} else if (strcmp(key, "tflags") == 0)
		rules_set_tflags(ps, value);
	else if (strcmp(key, "priority") == 0) {
		char *name = rules_word(&value);

		struct rule *r = rules_name_valid(name) ? rules_rule_to_change(ps, name) : NULL;

		if (r != NULL)
			r->priority = (int)strtol(value, NULL, 10);
	} else if (strcmp(key, "required_score") == 0 || strcmp(key, "required_hits") == 0) {
		char *end;
		double v = strtod(value, &end);

		if (*value == '\0' || *end != '\0' || !isfinite(v) || fabs(v) > RULES_SCORE_ABS_MAX)
			rules_diag_add(b, ps->file, ps->line, true, "invalid '%s' value", key);
		else
			b->rs->required_score = v;
	} else if (strcmp(key, "allow_user_rules") == 0) {
		bool on;

		/* Rules in user preferences (score.c, rules_user.c); the
		 * last line read wins, as for SpamAssassin's settings. */
		if (!rules_bool_value(value, &on))
			rules_diag_add(b, ps->file, ps->line, true, "invalid '%s' value", key);
		else
			b->rs->allow_user_rules = on;
	} else if (strcmp(key, "report_wrap_width") == 0) {
		char *end;
		long v = strtol(value, &end, 10);

		/* Util::wrap takes 0 as 77 ("shift || 77"), and loops for ever
		 * on a negative width: refused */
		if (*value == '\0' || *end != '\0' || v < 0 || v > 100000)
			rules_diag_add(b, ps->file, ps->line, true, "invalid '%s' value", key);
		else
			b->rs->report_wrap_width = v == 0 ? 77 : (unsigned int)v;
	} else if (strcmp(key, "use_bayes") == 0) {
		if (!rules_bool_value(value, &b->rs->use_bayes))
			rules_diag_add(b, ps->file, ps->line, true, "invalid '%s' value", key);
	} else if (strcmp(key, "replace_tag") == 0)
		rules_set_map(b->replace_tag, &b->replace_values, value);
	else if (strcmp(key, "replace_pre") == 0)
		rules_set_map(b->replace_pre, &b->replace_values, value);
	else if (strcmp(key, "replace_inter") == 0)
		rules_set_map(b->replace_inter, &b->replace_values, value);
	else if (strcmp(key, "replace_post") == 0)
		rules_set_map(b->replace_post, &b->replace_values, value);
	else if (strcmp(key, "replace_rules") == 0) {
		char *tok;

		while (*(tok = rules_word(&value)) != '\0')
			strlist_add(&b->replace_rules, tok, strlen(tok));
	} else if (strcmp(key, "replace_start") == 0) {
		free(b->replace_start);
		b->replace_start = xstrdup(value);
	} else if (strcmp(key, "replace_end") == 0) {
		free(b->replace_end);
		b->replace_end = xstrdup(value);
	} else if (strncmp(key, "bayes_", 6) == 0) {
		/* Bayes settings are read by the Bayes classifier. */
		strlist_add(&b->bayes_settings, key, strlen(key));
		strlist_add(&b->bayes_settings, value, strlen(value));
	} else if (strcmp(key, "enable_compat") == 0) {
		/* Conf.pm: a name of [a-zA-Z0-9_]{1,128} */
		size_t n = strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "0123456789_");

		if (n == 0 || n > 128 || value[n] != '\0')
			rules_diag_add(b, ps->file, ps->line, true,
				       "enable_compat: invalid value '%s'", value);
		else
			strlist_add(&b->compat, value, n);
	} else if (strcmp(key, "rewrite_header") == 0) {
		/* An admin's local.cf often says "rewrite_header Subject
		 * [SPAM]": say at start, not only in --lint, that no subject
		 * will change. */
		struct rules_diag *diag = rules_diag_add(
			b, ps->file, ps->line, false,
			"rewrite_header is ignored: lmtpd does not change the messages it "
			"delivers; filter on X-Spam-Flag (in Sieve, for instance)");

		if (diag != NULL)
			diag->logged = true;
	} else if ((strcmp(key, "add_header") == 0 && !rules_default_add_header(value)) ||
		   strcmp(key, "remove_header") == 0) {
		/* "add_header all Report _REPORT_" and the like are common in
		 * an admin's local.cf: say at start that the header will not
		 * be there.  SpamAssassin's own four lines are what lmtpd
		 * writes anyway. */
		size_t area_len = strcspn(value, " \t");
		size_t gap = strspn(value + area_len, " \t");
		size_t words = area_len + gap + strcspn(value + area_len + gap, " \t");
		int shown = words > 80 ? 80 : (int)words;
		struct rules_diag *diag = rules_diag_add(
			b, ps->file, ps->line, false,
			"%s %.*s is ignored: lmtpd writes X-Spam-Flag, X-Spam-Level, "
			"X-Spam-Status, X-Spam-Score and X-Spam-Checker-Version as "
			"SpamAssassin's defaults do, and X-Spam-Report with spam_report "
			"in lmtpd.conf", key, shown, value);

		if (diag != NULL)
			diag->logged = true;
	} else if (*value == '\0' && (strcmp(key, "welcomelist_subject") == 0 ||
					strcmp(key, "whitelist_subject") == 0 ||
					strcmp(key, "blocklist_subject") == 0 ||
					strcmp(key, "blacklist_subject") == 0)) {
		/* SpamAssassin compiles an empty pattern, which every Subject
		 * matches: -100 (or 100) points on all mail is no one's
		 * intent */
		struct rules_diag *diag = rules_diag_add(
			b, ps->file, ps->line, false,
			"%s without a value is ignored (SpamAssassin would match every "
			"Subject with it)", key);

		if (diag != NULL)
			diag->logged = true;
	} else if (rules_addrlist_directive(b, key, value)) {
		/* done */
	} else if ((handled = sa_settings_apply(&b->rs->settings, key, value, &why)) != 0) {
		if (handled < 0)
			rules_diag_add(b, ps->file, ps->line, true, "invalid '%s' value: %s",
				       key, why);
	} else if (cond_in_list(key, rules_ignored, N_ELEMENTS(rules_ignored)) ||
		   strncmp(key, "util_rb_", 8) == 0 || strncmp(key, "dns_", 4) == 0 ||
		   strncmp(key, "url_shortener", 13) == 0 || strncmp(key, "report_", 7) == 0) {
		/* A feature lmtpd does not have; harmless. */
	} else {
		rules_diag_add(b, ps->file, ps->line, true, "unknown directive '%s'", key);
	}
}

static void rules_parse_file(struct rules_parser *ps, const char *path);

static void
rules_conditional(struct rules_parser *ps, const char *key, const char *value)
{
	char expr[RULES_LINE_MAX + 32];
	int v;

	if (ps->if_depth == RULES_IF_DEPTH) {
		rules_diag_add(ps->b, ps->file, ps->line, true, "conditionals nested too deep");
		ps->skip = true;
		return;
	}
	ps->ifs[ps->if_depth].skip_before = ps->skip;
	ps->ifs[ps->if_depth].line = ps->line;
	ps->if_depth++;
	if (strcmp(key, "ifplugin") == 0)
		snprintf(expr, sizeof(expr), "plugin (%s)", value);
	else
		snprintf(expr, sizeof(expr), "%s", value);
	v = rules_cond_eval(expr, &ps->b->compat);
	if (v < 0) {
		rules_diag_add(ps->b, ps->file, ps->line, true,
			       "unparseable condition '%s'", value);
		v = 0;
	}
	if (v == 0)
		ps->skip = true;
}

void
rules_strip_comment(char *line)
{
	char *p;

	for (p = line; *p != '\0'; p++) {
		if (*p == '#' && (p == line || p[-1] != '\\')) {
			*p = '\0';
			break;
		}
	}
	for (p = line; (p = strstr(p, "\\#")) != NULL;)
		memmove(p, p + 1, strlen(p));
}

static void
rules_line(struct rules_parser *ps, char *line)
{
	char *p, *value, *key;
	size_t len;

	rules_strip_comment(line);
	while (*line == ' ' || *line == '\t' || *line == '\r' || *line == '\v' || *line == '\f')
		line++;
	len = strlen(line);
	while (len > 0 && isspace((unsigned char)line[len - 1]))
		line[--len] = '\0';
	if (len == 0)
		return;
	/* "lang xx DIRECTIVE": lmtpd's language is en_US, as SpamAssassin's
	 * under LANG=C. */
	if (strncmp(line, "lang", 4) == 0 && (line[4] == ' ' || line[4] == '\t')) {
		char *rest = line + 4, *code = rules_word(&rest);

		if (strncasecmp("en_US", code, strlen(code)) != 0 || code[0] == '\0')
			return;
		line = rest;
	}
	value = line;
	key = rules_word(&value);
	for (p = key; *p != '\0'; p++)
		*p = *p == '-' ? '_' : (char)tolower((unsigned char)*p);

	if (strcmp(key, "endif") == 0) {
		if (ps->if_depth == 0) {
			rules_diag_add(ps->b, ps->file, ps->line, true,
				       "'endif' without 'if'");
			return;
		}
		ps->skip = ps->ifs[--ps->if_depth].skip_before;
		return;
	}
	if (strcmp(key, "ifplugin") == 0 || strcmp(key, "if") == 0) {
		if (*value == '\0') {
			rules_diag_add(ps->b, ps->file, ps->line, true,
				       "missing '%s' condition", key);
			value = "0";
		}
		rules_conditional(ps, key, value);
		return;
	}
	if (strcmp(key, "else") == 0) {
		bool blocked = false;

		if (ps->if_depth == 0) {
			rules_diag_add(ps->b, ps->file, ps->line, true, "'else' without 'if'");
			return;
		}
		/* Bug 7848: blocked anywhere in the stack stays blocked. */
		for (unsigned int i = 0; i < ps->if_depth; i++)
			if (ps->ifs[i].skip_before)
				blocked = true;
		ps->skip = blocked ? true : !ps->skip;
		return;
	}
	if (ps->skip)
		return;
	if (strcmp(key, "include") == 0) {
		char path[4096];
		const char *slash = strrchr(ps->file, '/');

		if (*value == '\0') {
			rules_diag_add(ps->b, ps->file, ps->line, true, "missing 'include' value");
			return;
		}
		if (value[0] == '/' || slash == NULL)
			snprintf(path, sizeof(path), "%s", value);
		else
			snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - ps->file),
				 ps->file, value);
		if (ps->include_depth >= RULES_INCLUDE_DEPTH) {
			rules_diag_add(ps->b, ps->file, ps->line, true,
				       "include nested too deep: %s", path);
			return;
		}
		ps->include_depth++;
		rules_parse_file(ps, path);
		ps->include_depth--;
		return;
	}
	if (strcmp(key, "require_version") == 0) {
		/* SpamAssassin skips the rest of a file written for another
		 * version; lmtpd reads the 4.0 language. */
		if (strncmp(value, "4.", 2) != 0 && strcmp(value, "@@VERSION@@") != 0) {
			rules_diag_add(ps->b, ps->file, ps->line, false,
				       "file requires SpamAssassin %s; skipping the rest", value);
			ps->skip = true;
		}
		return;
	}
	rules_directive(ps, key, value);
}

static void
rules_parse_file(struct rules_parser *ps, const char *path)
{
	const char *saved_file = ps->file;
	unsigned int saved_line = ps->line, saved_depth = ps->if_depth;
	bool saved_skip = ps->skip;
	char *text, *line, *next;
	struct stat st;
	FILE *f;
	size_t n;

	f = fopen(path, "r");
	if (f == NULL) {
		rules_diag_add(ps->b, ps->file, ps->line, true, "cannot read %s: %s", path,
			       strerror(errno));
		return;
	}
	if (fstat(fileno(f), &st) < 0 || st.st_size > RULES_FILE_MAX) {
		rules_diag_add(ps->b, path, 0, true, "file too large or unreadable");
		fclose(f);
		return;
	}
	text = xmalloc((size_t)st.st_size + 1);
	n = fread(text, 1, (size_t)st.st_size, f);
	text[n] = '\0';
	fclose(f);
	ps->file = rules_intern_path(ps->b, path);
	ps->line = 0;
	for (line = text; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		ps->line++;
		if (strlen(line) > RULES_LINE_MAX) {
			rules_diag_add(ps->b, ps->file, ps->line, true, "line too long");
			continue;
		}
		rules_line(ps, line);
	}
	/* Parser.pm "file end": unclosed conditionals end with the file. */
	while (ps->if_depth > saved_depth) {
		ps->if_depth--;
		rules_diag_add(ps->b, ps->file, ps->ifs[ps->if_depth].line, true,
			       "unclosed 'if'");
	}
	ps->skip = saved_skip;
	free(text);
	ps->file = saved_file;
	ps->line = saved_line;
}

static int
rules_cf_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
rules_parse_dir(struct rules_build *b, const char *dir)
{
	struct rules_parser ps;
	struct dirent *de;
	char **names = NULL;
	size_t count = 0;
	DIR *d = opendir(dir);

	memset(&ps, 0, sizeof(ps));
	ps.b = b;
	if (d == NULL) {
		struct rules_diag *diag = rules_diag_add(b, dir, 0, false,
							 "rules folder missing: %s",
							 strerror(errno));

		/* the daemon would score with fewer rules, or none, and only
		 * --lint would say why */
		if (diag != NULL)
			diag->logged = true;
		return;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 3 && strcmp(de->d_name + len - 3, ".cf") == 0) {
			names = xreallocarray(names, count + 1, sizeof(*names));
			names[count++] = xasprintf("%s/%s", dir, de->d_name);
		}
	}
	closedir(d);
	if (count > 1)
		qsort(names, count, sizeof(*names), rules_cf_cmp);
	for (size_t i = 0; i < count; i++) {
		ps.skip = false;
		ps.if_depth = 0;
		rules_parse_file(&ps, names[i]);
		free(names[i]);
	}
	free(names);
}

void
rules_parse_text(struct rules_build *b, const char *origin, char *text)
{
	struct rules_parser ps;
	char *line, *next;

	memset(&ps, 0, sizeof(ps));
	ps.b = b;
	ps.file = rules_intern_path(b, origin);
	for (line = text; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		ps.line++;
		if (strlen(line) <= RULES_LINE_MAX)
			rules_line(&ps, line);
	}
}

/* ---- ReplaceTags ------------------------------------------------------ */

static const char *
rules_map_value(const struct rules_build *b, const struct strmap *map,
		const char *name)
{
	size_t i;

	return strmap_get(map, name, &i) ? b->replace_values.v[i].p : NULL;
}

/* Removes the first "<kind NAME>" from re and returns NAME (malloc'd). */
static char *
rules_take_modifier(struct buf *re, const char *start, const char *end,
		    const char *kind)
{
	char head[64];
	char *p, *close, *name;
	size_t hlen;

	snprintf(head, sizeof(head), "%s%s ", start, kind);
	hlen = strlen(head);
	p = strstr(re->data, head);
	if (p == NULL)
		return NULL;
	close = strstr(p + hlen, end);
	if (close == NULL || close == p + hlen)
		return NULL;
	name = xstrndup(p + hlen, (size_t)(close - (p + hlen)));
	memmove(p, close + strlen(end), strlen(close + strlen(end)) + 1);
	re->len = strlen(re->data);
	return name;
}

/* Perl's split(/(<[^<>]+>)/, re): text and tag elements alternate, an
 * empty text element stands between adjacent tags and at the start when
 * re starts with a tag; trailing empty elements are dropped. */
static void
rules_split_tags(const char *re, struct strlist *elems)
{
	const char *p = re;

	for (;;) {
		const char *lt = p, *gt = NULL;

		while ((lt = strchr(lt, '<')) != NULL) {
			const char *q = lt + 1;

			while (*q != '\0' && *q != '<' && *q != '>')
				q++;
			if (*q == '>' && q > lt + 1) {
				gt = q;
				break;
			}
			if (*q == '\0')
				lt = NULL;
			else
				lt = q;
			if (lt == NULL)
				break;
		}
		if (lt == NULL || gt == NULL) {
			if (*p != '\0')
				strlist_add(elems, p, strlen(p));
			return;
		}
		strlist_add(elems, p, (size_t)(lt - p));
		strlist_add(elems, lt, (size_t)(gt - lt) + 1);
		p = gt + 1;
	}
}

/* The longest pattern replace_tag may make: SpamAssassin's expand to a
 * few hundred bytes, but a tag whose value holds the tag itself several
 * times multiplies the pattern with each of the six passes (gigabytes
 * from one line). */
#define RULES_REPLACE_MAX (256 * 1024)

/* Approximations of the replace_tag values (prefilter_approximate), made
 * when first asked for; text[i] is NULL where value i has none. */
struct tag_approx {
	char **text;
	bool *done;
	size_t n;
};

static const char *
rules_tag_approx(const struct rules_build *b, struct tag_approx *ta, size_t i)
{
	const struct strlist_item *v = &b->replace_values.v[i];

	if (i >= ta->n)
		return NULL;
	if (!ta->done[i]) {
		struct buf out;

		ta->done[i] = true;
		buf_init(&out, 0);
		/* A value holding tags is expanded again in a later pass,
		 * where the context check of rules_tags_gateable does not
		 * reach: left as written. */
		if (memchr(v->p, '<', v->len) == NULL &&
		    prefilter_approximate(v->p, v->len, &out))
			ta->text[i] = buf_steal(&out, NULL);
		buf_free(&out);
	}
	return ta->text[i];
}

/* Port of ReplaceTags::finish_parsing_end on one pattern (the part between
 * the delimiters).  Returns a new pattern, or NULL when nothing changed or
 * (with *too_big_r set) when it would grow past RULES_REPLACE_MAX.  With
 * approx, the tags of the pattern itself (the first pass) take their
 * approximations where they have one: a gate for the rule, see
 * rules_tags_gateable. */
static char *
rules_replace_tags(const struct rules_build *b, const char *pattern,
		   struct tag_approx *approx, bool *too_big_r)
{
	const char *start = b->replace_start != NULL ? b->replace_start : "<";
	const char *end = b->replace_end != NULL ? b->replace_end : ">";
	struct buf re;
	int passes = 0;
	bool again;

	buf_init(&re, 0);
	if (buf_append_str(&re, pattern) < 0)
		return NULL;
	do {
		char *pre = rules_take_modifier(&re, start, end, "pre");
		char *post = rules_take_modifier(&re, start, end, "post");
		char *inter = rules_take_modifier(&re, start, end, "inter");
		const char *prev = pre != NULL ? rules_map_value(b, b->replace_pre, pre) : NULL;
		const char *postv = post != NULL ? rules_map_value(b, b->replace_post, post) : NULL;
		const char *interv = inter != NULL ? rules_map_value(b, b->replace_inter, inter) : NULL;
		struct strlist elems;
		struct buf out;

		again = false;
		strlist_init(&elems);
		buf_init(&out, 0);
		rules_split_tags(re.data, &elems);
		for (size_t i = 0; i < elems.n; i++) {
			const char *e = elems.v[i].p;
			bool is_tag = (i % 2) == 1;

			if (!is_tag) {
				if (e[0] == '\0' && interv != NULL && interv[0] != '\0')
					buf_put_str(&out, interv);
				else
					buf_put_str(&out, e);
				continue;
			}
			if (prev != NULL && prev[0] != '\0')
				buf_put_str(&out, prev);
			{
				char *name = xstrndup(e + 1, elems.v[i].len - 2);
				const char *repl = rules_map_value(b, b->replace_tag, name);
				size_t vi;

				if (approx != NULL && passes == 0 &&
				    strmap_get(b->replace_tag, name, &vi)) {
					const char *a = rules_tag_approx(b, approx, vi);

					if (a != NULL)
						repl = a;
				}

				if (repl != NULL && repl[0] != '\0') {
					/* A value holding its own tag grows the
					 * pattern geometrically with each pass. */
					if (out.len + strlen(repl) > RULES_REPLACE_MAX) {
						*too_big_r = true;
						free(name);
						break;
					}
					buf_put_str(&out, repl);
					if (strchr(repl, '<') != NULL && strchr(repl, '>') != NULL)
						again = true;
				} else {
					buf_put_str(&out, e);
				}
				free(name);
			}
			if (postv != NULL && postv[0] != '\0')
				buf_put_str(&out, postv);
		}
		free(pre);
		free(post);
		free(inter);
		strlist_free(&elems);
		buf_reset(&re);
		buf_put(&re, out.data != NULL ? out.data : "", out.len);
		buf_free(&out);
		passes++;
	} while (again && passes <= 5 && !*too_big_r);
	if (*too_big_r || strcmp(re.data, pattern) == 0) {
		buf_free(&re);
		return NULL;
	}
	return buf_steal(&re, NULL);
}

/* Whether a pattern with its tags approximated matches wherever the
 * pattern as expanded does (on the pattern before expansion, default tag
 * delimiters): regex languages grow with their parts, except under a
 * negative assertion, an atomic group or a possessive repeat, or through
 * what prefilter_gate_unsafe refuses (backreferences, verbs, quoted text,
 * ...); a tag in a class would not even be a part; /x would change how a
 * value reads. */
static bool
rules_tags_gateable(const struct rules_build *b, const char *pattern, uint32_t options)
{
	/* groups open: whether each one is a negative or atomic group */
	bool unsafe[RULES_GATE_DEPTH_MAX];
	size_t depth = 0, unsafe_depth = 0;
	bool in_class = false, prev_quant = false;

	if ((options & PCRE2_EXTENDED) != 0 || prefilter_gate_unsafe(pattern, strlen(pattern)) ||
	    (b->replace_start != NULL && strcmp(b->replace_start, "<") != 0) ||
	    (b->replace_end != NULL && strcmp(b->replace_end, ">") != 0))
		return false;
	for (const char *p = pattern; *p != '\0'; p++) {
		bool quant = false;

		if (*p == '\\') {
			if (p[1] == '\0')
				return false;
			p++;
			prev_quant = false;
			continue;
		}
		if (*p == '<') {
			const char *q = p + 1;

			while (*q != '\0' && *q != '<' && *q != '>')
				q++;
			if (*q == '>' && q > p + 1) {
				if (in_class || unsafe_depth > 0)
					return false;
				p = q;
				prev_quant = false;
				continue;
			}
		}
		if (in_class) {
			if (*p == ']')
				in_class = false;
			continue;
		}
		switch (*p) {
		case '[':
			in_class = true;
			if (p[1] == '^')
				p++;
			if (p[1] == ']')
				p++;
			break;
		case '(': {
			bool bad;

			if (depth == RULES_GATE_DEPTH_MAX)
				return false;
			bad = p[1] == '?' && (p[2] == '!' || p[2] == '>' ||
					      (p[2] == '<' && p[3] == '!'));
			unsafe[depth++] = bad;
			unsafe_depth += bad;
			break;
		}
		case ')':
			if (depth > 0)
				unsafe_depth -= unsafe[--depth];
			break;
		case '+':
			/* a '+' right after a repeat makes it possessive */
			if (prev_quant)
				return false;
			quant = true;
			break;
		case '?':
			/* "(?" opens a group: that '?' repeats nothing */
			quant = !(p > pattern && p[-1] == '(');
			break;
		case '*': case '}':
			quant = true;
			break;
		default:
			break;
		}
		prev_quant = quant;
	}
	return true;
}

void
rules_apply_replace_tags(struct rules_build *b)
{
	struct tag_approx approx;

	approx.n = b->replace_values.n;
	approx.text = xcalloc(approx.n + 1, sizeof(*approx.text));
	approx.done = xcalloc(approx.n + 1, sizeof(*approx.done));
	for (size_t i = 0; i < b->replace_rules.n; i++) {
		size_t index;
		struct rule *r;
		char *pattern, *replaced, *written;
		uint32_t options;
		char why[256];
		bool too_big;

		if (!strmap_get(b->rs->by_name, b->replace_rules.v[i].p, &index))
			continue;
		r = &b->rs->rules[index];
		if (r->pattern == NULL || r->eval != NULL)
			continue;
		if (rules_split_regex(r->pattern, &pattern, &options, why, sizeof(why)) < 0)
			continue;
		too_big = false;
		replaced = rules_replace_tags(b, pattern, NULL, &too_big);
		if (too_big) {
			rules_diag_add(b, r->file, r->line, true,
				       "rule %s: pattern longer than %d bytes after replace_tag, "
				       "skipped", r->name, RULES_REPLACE_MAX);
			r->defined = false;
		} else if (replaced != NULL) {
			/* Rewritten with \x01 as the delimiter, which no
			 * pattern contains, and the original flags. */
			written = xasprintf("m\x01%s\x01%s", replaced,
					    rules_flag_letters(options));
			free(r->pattern);
			r->pattern = written;
			if (rules_tags_gateable(b, pattern, options)) {
				char *gate = rules_replace_tags(b, pattern, &approx, &too_big);

				free(r->gate_pattern);
				r->gate_pattern = NULL;
				if (gate != NULL && !too_big && strcmp(gate, replaced) != 0)
					r->gate_pattern = xasprintf("m\x01%s\x01%s", gate,
								    rules_flag_letters(options));
				free(gate);
				too_big = false;
			}
			free(replaced);
		}
		free(pattern);
	}
	for (size_t i = 0; i < approx.n; i++)
		free(approx.text[i]);
	free(approx.text);
	free(approx.done);
}

void
rules_default_scores(struct rules_build *b, size_t first)
{
	for (size_t i = first; i < b->rs->count; i++) {
		struct rule *r = &b->rs->rules[i];
		double s;

		if (!r->defined || r->score_set)
			continue;
		/* Parser.pm fix_tests: T_ rules 0.01, others 1.0, negative
		 * for "nice". */
		s = strncmp(r->name, "T_", 2) == 0 ? 0.01 : 1.0;
		if (r->tflags & TFLAG_NICE)
			s = -s;
		for (int k = 0; k < 4; k++)
			r->score[k] = s;
	}
}
