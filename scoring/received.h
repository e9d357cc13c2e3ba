/* The Received chain, parsed the way SpamAssassin's Message::Metadata::
 * Received does, into relays and the X-Spam-Relays-{Trusted,Untrusted,
 * Internal,External} pseudo-headers, using trusted_networks and
 * internal_networks (and SpamAssassin's inference when they are unset). */
#ifndef LMTPD_RECEIVED_H
#define LMTPD_RECEIVED_H

#include <stdbool.h>
#include <stddef.h>
#include "sa_settings.h"
#include "strlist.h"

struct relay {
	char *ip, *rdns, *helo, *by, *ident, *envfrom, *id, *auth;
	bool ip_private;
	bool intl;		/* internal */
	bool msa;
	bool trusted;
};

struct relays {
	struct relay *v;	/* parsed relays, newest (topmost) first */
	size_t n;
	size_t num_trusted;	/* v[0 .. num_trusted) are trusted */
	size_t num_internal;	/* v[0 .. num_internal) are internal */
	unsigned int num_unparseable;
	/* The pseudo-header values, exactly as SpamAssassin renders them
	 * ("[ ip=... rdns=... helo=... by=... ident=... envfrom=... intl=0
	 * id=... auth=... msa=0 ] [ ... ]"), "" when empty. */
	char *str_trusted, *str_untrusted, *str_internal, *str_external;
	/* Index (into the list given to received_parse) of the Received
	 * header added by the last trusted / internal relay, -1 if none:
	 * ALL-TRUSTED etc. and EnvelopeFrom need them. */
	int last_trusted_index, last_internal_index;
};

/* received: the values of the message's Received headers, topmost first,
 * as SpamAssassin hands them to its parser (raw, unfolded).  Never fails:
 * what does not parse is counted in num_unparseable. */
void received_parse(const struct sa_settings *set, const struct strlist *received,
		    struct relays *out);
void relays_free(struct relays *relays);

#endif
