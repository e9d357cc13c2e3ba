/* A user's own rules (allow_user_rules 1): see rules_user.c.  Internal to
 * scoring/. */
#ifndef LMTPD_RULES_USER_H
#define LMTPD_RULES_USER_H

#include <stddef.h>
#include "rules.h"

/* At most this many rules per prefs file, and this many bytes per pattern
 * or meta expression: what one user can make every delivery to them cost
 * (compiling happens once per prefs file and process). */
#define RULES_USER_MAX 100
#define RULES_USER_PATTERN_MAX 2048
/* And at most this much compiled code (PCRE2's and JIT's) per prefs file:
 * a 2 KB pattern can compile to 64 KB and more, and a worker caches the
 * rules of 32 prefs files. */
#define RULES_USER_CODE_MAX (1024 * 1024)
/* Rule names a prefs file may bring in, defined or only scored,
 * described or flagged (each takes a slot of the user's rule table). */
#define RULES_USER_NAMES_MAX (4 * RULES_USER_MAX)

/* Builds the site's ruleset plus the rules of text (rule lines of the
 * prefs file path, the other lines left empty so line numbers match; it
 * is modified).  Every line the user's rules cannot use is reported
 * through warn (may be NULL) as "path:line: why" and left out.  The
 * result shares the site's compiled state: it must not outlive site;
 * free it with rules_user_free, never rules_free. */
struct ruleset *rules_user_load(const struct ruleset *site, const char *path, char *text,
				void (*warn)(const char *msg));
void rules_user_free(struct ruleset **user_rules);
/* Matches the user's rules against the message (whose site rules hits
 * already holds; hits->count is the user ruleset's count). */
void rules_match_user(const struct ruleset *user_rules, struct rules_scratch *scratch,
		      struct msgview *mv, struct rules_hits *hits);

#endif
