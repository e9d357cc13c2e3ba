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

/* Bounds on hostile input.  SpamAssassin itself cuts every header value at
 * 8192 bytes (MAX_HEADER_VALUE_LENGTH), so a longer value is cut there
 * before it is parsed; headers after the first RECEIVED_MAX_HEADERS are
 * ignored (not counted as unparseable). */
#define RECEIVED_MAX_LINE 8192
#define RECEIVED_MAX_HEADERS 300

/* One parsed handover, SpamAssassin's relay hash.  Every string is owned,
 * NUL-terminated and never NULL ("" when absent).  ip, rdns, helo, by,
 * ident and envfrom have the characters [\s\0#[]()<>|] replaced by '!', as
 * SpamAssassin does ("[1.2.3.4]" HELOs read "!1.2.3.4!"). */
struct relay {
	char *ip, *rdns, *helo, *by, *ident, *envfrom, *id, *auth;
	char *lc_rdns, *lc_helo, *lc_by;	/* ASCII-lowercased copies */
	/* "[ ip=... rdns=... helo=... by=... ident=... envfrom=... intl=1
	 * id=... auth=... msa=0 ]", the relay's part of the pseudo-headers. */
	char *as_string;
	bool ip_private;	/* SpamAssassin's IP_PRIVATE: RFC 1918, loopback,
				 * link-local, CGN, fe80::/10 and ::1 */
	bool no_reverse_dns;	/* the MTA is known to look up rDNS and
				 * recorded none */
	bool rdns_not_in_headers;	/* rdns empty, MTA not known to look */
	bool intl;		/* internal */
	bool msa;
	bool trusted;
	int index;		/* its header's index in the received list */
};

struct relays {
	/* Parsed relays, newest (topmost) first.  The trusted ones come first
	 * and the internal ones are a prefix of those, so:
	 * trusted = v[0 .. num_trusted), untrusted = v[num_trusted .. n),
	 * internal = v[0 .. num_internal), external = v[num_internal .. n).
	 * Relays above a mail-fetcher marker ("with POP3"/"with IMAP" inside
	 * the trusted part) are dropped, as SpamAssassin drops them. */
	struct relay *v;
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
	 * ALL-TRUSTED etc. and EnvelopeFrom need them.  As in SpamAssassin,
	 * skipped and unparseable headers inside the trusted part count too,
	 * and the synthetic originating-IP lines are part of the list. */
	int last_trusted_index, last_internal_index;
};

/* received: the values of the message's Received headers, topmost first,
 * as SpamAssassin hands them to its parser (unfolded; folding that is left
 * is unfolded here too), followed by the synthetic lines of
 * received_add_originating().  Never fails: what does not parse is counted
 * in num_unparseable.  out is filled even when received is empty; free it
 * with relays_free().  Compiles its patterns on first use (see
 * received_init); not thread-safe. */
void received_parse(const struct sa_settings *set, const struct strlist *received,
		    struct relays *out);
void relays_free(struct relays *relays);

/* Compiles every pattern now, with jit JIT-compiles them too, so that
 * processes forked after share them (scoring_before_fork).  Otherwise
 * received_parse compiles each pattern the first time it needs it and
 * JIT-compiles it once it has been used RECEIVED_JIT_AFTER times: all 152
 * take 28 M instructions to compile and 91 M more to JIT-compile, which
 * was most of what scoring one message from the command line cost. */
void received_init(bool jit);
/* How many of the patterns are compiled so far, how many of those have
 * JIT code, and how many there are (for tests). */
void received_patterns_compiled(unsigned int *compiled_r, unsigned int *jitted_r,
				unsigned int *total_r);

/* SpamAssassin's originating_ip_headers (X-Originating-IP and the like,
 * set in 10_default_prefs.cf): for each such header name, in that order,
 * the caller takes the value of the message's last header of that name
 * and calls this, which appends "from X-Originating-IP: IP" (IP the first
 * address in value) to received when value holds one.  Returns true when
 * a line was added. */
bool received_add_originating(struct strlist *received, const char *value, size_t len);
/* The list 10_default_prefs.cf sets, NULL-terminated. */
extern const char *const received_originating_ip_headers_default[];

#endif
