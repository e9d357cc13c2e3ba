/* Recipients: parsing an RCPT address into user, detail and domain,
 * refusing anything that could steer a path (DESIGN invariant 5), and
 * resolving the user's home and Maildir through `users` (static or map).
 *
 * Normalisation: the local part is unquoted, split at the first character of
 * recipient_delimiter, and lowercased (ASCII) with the domain, as Postfix
 * and Dovecot treat local parts.  %u is "local@domain", %n "local", %d
 * "domain" (a bare "postmaster" gets the config's hostname as domain). */
#ifndef LMTPD_RCPT_H
#define LMTPD_RCPT_H

#include <stdbool.h>
#include <stddef.h>
#include "compat.h"
#include "dsn.h"

struct lmtpd_config;

struct rcpt {
	char *addr;		/* as given in RCPT TO (unquoted path) */
	char *orcpt;		/* ORCPT=, NULL if not given */
	unsigned int notify;
	char *user;		/* %u */
	char *local;		/* %n */
	char *domain;		/* %d */
	char *detail;		/* NULL when the address had none */
	char delimiter;		/* the recipient_delimiter it was split at */
	/* The address lowercased, with its detail, and the local part
	 * quoted again when it is not a Dot-string (RFC 5321 4.1.2): the
	 * log's to= and the Delivered-To header, as Postfix writes them. */
	char *canonical;
	char *home;
	char *maildir;
	char *sieve_script;	/* from the map, NULL = the config's */
	/* Index of the first recipient with the same user+detail in the
	 * transaction, or -1: such a recipient is delivered once and both
	 * get the same reply. */
	int same_as;
	struct dsn dsn;
	/* delivered only by a Sieve redirect: the copy went back to the MTA
	 * (a delivery report says "relayed", not "delivered") */
	bool relayed;
};

/* Where a case-folded local part of len bytes splits into user and
 * detail: the first of delimiters, as Postfix's split_addr cuts (never
 * at the start, never postmaster, mailer-daemon or double-bounce, nor,
 * with '-', owner-* and *-request); len when it does not split (a NUL
 * is never a delimiter). */
size_t rcpt_detail_split(const char *local, size_t len, const char *delimiters);
/* Whether the local part of an RCPT path, as written (len bytes), is one
 * Quoted-string (RFC 5321), or unquoted text without '@' or '"' (other
 * characters are left to rcpt_parse, as leniently as Postfix):
 * "a@b"@c.example is an address, a@b@c.example and a"@"b@c.example are
 * not. */
bool rcpt_local_part_syntax_ok(const char *local, size_t len);
/* Splits and checks addr; on success fills user/local/domain/detail.
 * Returns -1 with dsn_r DSN_BAD_ADDRESS (and a reason) if the address may
 * not be used to build a path. */
int rcpt_parse(const struct lmtpd_config *cfg, const char *addr,
	       struct rcpt *rcpt, struct dsn *dsn_r) ATTR_WUR;

/* What makes a case-folded local part and domain (one dot of an absolute
 * domain already gone) unusable as a recipient, as rcpt_parse refuses
 * them: true and the reason in why.  local NULL checks the domain alone
 * (a users map "@domain" key). */
bool rcpt_address_problem(const char *local, const char *domain, char *why,
			  size_t why_size);

struct rcpt_resolver;

struct rcpt_resolver *rcpt_resolver_new(const struct lmtpd_config *cfg);
void rcpt_resolver_free(struct rcpt_resolver **res);

/* Parses addr and looks the user up.  Returns a new rcpt (DSN_RCPT_OK) or
 * NULL with dsn_r set: DSN_UNKNOWN_USER, DSN_BAD_ADDRESS, or DSN_TEMP_FAIL
 * when the map cannot be read (the MTA retries rather than bounces). */
struct rcpt *rcpt_resolve(struct rcpt_resolver *res, const char *addr,
			  const char *orcpt, struct dsn *dsn_r);
void rcpt_free(struct rcpt **rcpt);

#endif
