/* Settings from the rule files (SpamAssassin's Conf) that the message views
 * need: what is a TLD, which networks are trusted or internal, how much text
 * to scan.  Filled by the rule-file parser (rules_parse.c), read-only while
 * messages are scored, shared copy-on-write by the workers. */
#ifndef LMTPD_SA_SETTINGS_H
#define LMTPD_SA_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include "netaddr.h"
#include "strset.h"

struct pcre2_real_code_8;
struct eval_freemail_conf;
struct eval_fromname_conf;
struct eval_named_lists;
struct eval_urihost_lists;

/* One entry of trusted_networks / internal_networks / msa_networks, in
 * SpamAssassin's NetSet syntax ("!" excludes, "1.2.3.4/24", "1.2.", "::1"). */
struct sa_netset_entry {
	struct netaddr_net net;
	bool exclude;
};

struct sa_netset {
	struct sa_netset_entry *entries;
	size_t count;
	bool configured;	/* any line given (SA infers trust otherwise) */
};

struct sa_settings {
	/* RegistryBoundaries: util_rb_tld, util_rb_2tld, util_rb_3tld. */
	struct strset *tlds;
	struct strset *tlds_2;
	struct strset *tlds_3;

	struct sa_netset trusted_networks;
	struct sa_netset internal_networks;
	struct sa_netset msa_networks;

	/* Conf defaults: body_part_scan_size 50000, rawbody_part_scan_size
	 * 500000 (0 = no limit). */
	size_t body_part_scan_size;
	size_t rawbody_part_scan_size;

	/* envelope_sender_header: headers that carry the envelope sender,
	 * checked first by EnvelopeFrom. */
	char **envelope_sender_headers;
	size_t envelope_sender_header_count;

	/* redirector_pattern, compiled (uri_redirector_add), in rule-file
	 * order; group 1 is the redirect target. */
	struct pcre2_real_code_8 **redirector_patterns;
	size_t redirector_pattern_count;

	/* The FreeMail plugin's settings (eval_freemail.c), NULL until a
	 * freemail_* line is seen. */
	struct eval_freemail_conf *freemail;
	/* enlist_addrlist (NAME) ...: the named address lists WLBLEval's
	 * check_from_in_list reads (eval_freemail.c), NULL when none. */
	struct eval_named_lists *named_lists;
	/* enlist_uri_host (NAME) ..., blocklist_uri_host, ...: the URI host
	 * lists check_uri_host_listed reads (eval_urihost.c), NULL when
	 * none. */
	struct eval_urihost_lists *urihost;
	/* The FromNameSpoof plugin's fns_* settings (eval_fromname.c), NULL
	 * until an fns_* line is seen. */
	struct eval_fromname_conf *fromname;
	/* TextCat's ok_languages (check_body_8bits reads it); NULL = "all",
	 * SpamAssassin's default. */
	char *ok_languages;
	/* ok_locales (the last line; NULL = "all", SpamAssassin's default):
	 * the faraway-charset tests read it through sa_charset_ok(). */
	char *ok_locales;
};

/* Defaults as in SpamAssassin's Conf.pm; allocates the empty sets. */
void sa_settings_init(struct sa_settings *set);
void sa_settings_free(struct sa_settings *set);
/* NetSet matching as SpamAssassin does it: the first matching entry
 * decides, "!" entries exclude.  Returns true when addr (text, IPv4 or
 * IPv6) is in the set. */
bool sa_netset_contains(const struct sa_netset *set, const char *addr);
/* Applies one rule-file line that belongs to these settings (util_rb_tld,
 * util_rb_2tld, util_rb_3tld, trusted_networks, internal_networks,
 * msa_networks and their clear_ forms, body_part_scan_size,
 * rawbody_part_scan_size, envelope_sender_header).  Returns 1 when handled,
 * 0 when key is not one of these, -1 on a bad value (*why_r set).
 * redirector_pattern (uri_redirector_add) and clear_util_rb are handled
 * too. */
int sa_settings_apply(struct sa_settings *set, const char *key, const char *value,
		      const char **why_r);
/* The FreeMail plugin's lines (freemail_domains, freemail_welcomelist,
 * freemail_whitelist, freemail_max_body_emails, ...), into set->freemail;
 * the same return values as sa_settings_apply; enlist_addrlist too
 * (eval_freemail.c). */
int eval_freemail_apply(struct sa_settings *set, const char *key, const char *value,
			const char **why_r);
void eval_freemail_conf_free(struct eval_freemail_conf **conf);
void eval_named_lists_free(struct eval_named_lists **lists);
/* The URI host list lines (enlist_uri_host, delist_uri_host,
 * blocklist_uri_host, welcomelist_uri_host and their black/white forms),
 * into *lists (made on first use): the same return values as
 * sa_settings_apply.  The rule files' lines go into set->urihost, a
 * user_prefs file's into that user's copy (eval_urihost.c). */
bool eval_urihost_key(const char *key);
/* A new list past max_lists is refused (-1), BLOCK and WELCOME never
 * (they do not count): a user's file may add only a few to the site's. */
int eval_urihost_apply(struct eval_urihost_lists **lists, const char *key, const char *value,
		       size_t max_lists, const char **why_r);
/* Lists other than BLOCK and WELCOME. */
size_t eval_urihost_count(const struct eval_urihost_lists *lists);
/* Lists a user_prefs file may add to the site's. */
#define EVAL_URIHOST_USER_LISTS 64
struct eval_urihost_lists *eval_urihost_copy(const struct eval_urihost_lists *lists);
void eval_urihost_free(struct eval_urihost_lists **lists);
/* The FromNameSpoof plugin's fns_* lines, into set->fromname; the same
 * return values as sa_settings_apply (eval_fromname.c). */
int eval_fromname_apply(struct sa_settings *set, const char *key, const char *value,
			const char **why_r);
void eval_fromname_conf_free(struct eval_fromname_conf **conf);
/* ok_locales (the site's setting, or a user's) holds the word "all" (or
 * is NULL): the faraway-charset tests are off. */
bool sa_locales_all(const char *ok_locales);
/* Locales::is_charset_ok_for_locales(cs, ok_locales): the Latin, Unicode
 * and Windows charsets always, else those of a listed locale (ja, ko, ru
 * and the other Cyrillic ones, th, zh).  SpamAssassin also counts the
 * locale of its own environment (LANG and friends); a daemon's
 * environment says nothing of its users, so lmtpd does not. */
bool sa_charset_ok(const char *ok_locales, const char *cs, size_t len);

/* Parses one NetSet token; -1 on error with *why_r. */
int sa_netset_add(struct sa_netset *set, const char *token, const char **why_r);

#endif
