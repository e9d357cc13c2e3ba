/* The users map: a text file compiled by lmtpd-map into FILE.db, a Berkeley
 * DB hash (the postmap model).  Text format, one entry per line:
 *
 *     alice@example.com   home=/srv/mail/alice
 *     @example.org        home=/srv/mail/org/%n mail_location=%h/Maildir
 *     bob@example.com
 *
 * Keys are full addresses without detail or "@domain" catch-alls, stored
 * lowercased; the value is zero or more attributes (home=, mail_location=,
 * sieve_script=) separated by white space; "#" starts a comment line and a
 * line starting with white space continues the previous one.  Readers notice
 * a rebuilt FILE.db (lmtpd-map replaces it atomically by rename) and reopen
 * it on their next lookup. */
#ifndef LMTPD_USERMAP_H
#define LMTPD_USERMAP_H

#include <stdbool.h>
#include <stddef.h>
#include "compat.h"

#define USERMAP_VALUE_MAX 4096

struct usermap_attrs {
	char *home;		/* NULL = the config's template */
	char *mail_location;
	char *sieve_script;
};

/* Parses an attribute list; -1 and a static reason in *why_r on error. */
int usermap_parse_value(const char *value, struct usermap_attrs *attrs,
			const char **why_r) ATTR_WUR;
void usermap_attrs_free(struct usermap_attrs *attrs);

struct usermap;

/* Does not open anything yet; path is the text map (".db" is added). */
struct usermap *usermap_new(const char *path);
void usermap_free(struct usermap **map);

/* Looks key up.  Returns 1 found (value copied into value_r), 0 not found,
 * -1 on error (the map is missing or unreadable: *error_r says why). */
int usermap_lookup(struct usermap *map, const char *key, char *value_r,
		   size_t value_size, const char **error_r) ATTR_WUR;

/* Compiles the text map at path into path.db.  On error returns -1 and
 * *error_r (malloc'd) is "file:line: why". */
int usermap_compile(const char *path, char **error_r) ATTR_WUR;

#endif
