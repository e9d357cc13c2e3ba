/* The rule-file loader's state while a ruleset is being built; see
 * rules_parse.c.  Internal to scoring/. */
#ifndef LMTPD_RULES_PARSE_H
#define LMTPD_RULES_PARSE_H

#include <stdbool.h>
#include <stdint.h>
#include "compat.h"
#include "rules_int.h"
#include "strlist.h"

struct rules_build {
	struct ruleset *rs;
	struct rules_load_result *result;
	size_t cap;			/* allocated rules */
	struct strlist paths;		/* interned file names */
	/* ReplaceTags */
	struct strmap *replace_tag, *replace_pre, *replace_inter, *replace_post;
	struct strlist replace_values;
	struct strlist replace_rules;
	char *replace_start, *replace_end;
	/* bayes_* lines as key, value pairs, for the classifier */
	struct strlist bayes_settings;
	/* enable_compat NAME: can(Mail::SpamAssassin::Conf::compat_NAME) is
	 * true for these */
	struct strlist compat;
};

/* The diagnostic added (valid until the next one), NULL past the cap. */
struct rules_diag *rules_diag_add(struct rules_build *b, const char *file, unsigned int line,
				  bool error, const char *fmt, ...) ATTR_PRINTF(5, 6);
struct rule *rules_get_or_add(struct rules_build *b, const char *name);
void rules_parse_dir(struct rules_build *b, const char *dir);
/* Parses text (modified in place) as if it were a file named origin. */
void rules_parse_text(struct rules_build *b, const char *origin, char *text);
void rules_apply_replace_tags(struct rules_build *b);
/* Scores rules first.. that have no score line as Parser.pm does: 1.0,
 * 0.01 for T_ rules, negative for "nice" ones. */
void rules_default_scores(struct rules_build *b, size_t first);

/* "fn(args)" after "eval:"; fills r->eval (fn NULL when unimplemented). */
int rules_parse_eval(struct rules_build *b, struct rule *r, const char *call);
/* Frees an eval call and its arguments (name included); *ec becomes NULL. */
void rules_eval_free(struct eval_call **ec);
/* Header name with at most two of :raw :addr :name :host :domain :ip
 * :revip :first :last. */
bool rules_header_modifiers_valid(const char *header);
/* "imsx" letters for PCRE2 options. */
const char *rules_flag_letters(uint32_t options);

/* can(Plugin::Family::has_xxx) for eval families lmtpd implements. */
bool eval_can(const char *method);

/* Address lists (welcomelist_from, ...). */
void addrlist_add_words(struct addrlist *l, const char *value);
void addrlist_remove_words(struct addrlist *l, const char *value);
/* The whole of value, lowercased, as one glob that may match anywhere
 * (WelcomeListSubject's welcomelist_subject: one string per line, its
 * blanks included, every other character literal). */
void addrlist_add_line(struct addrlist *l, const char *value);
/* "addr relay-domain" (the _rcvd forms). */
void addrlist_add_rcvd(struct addrlist *l, const char *value);
void addrlist_free(struct addrlist *l);
/* SpamAssassin's glob match of addr (lowercased) against the list. */
bool addrlist_match(const struct addrlist *l, const char *addr, size_t *index_r);
/* The same for s[0..len), which may hold NUL bytes (a subject, a relay
 * name from a body). */
bool addrlist_match_len(const struct addrlist *l, const char *s, size_t len, size_t *index_r);

#endif
