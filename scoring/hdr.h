/* Header field decoding and parsing as SpamAssassin does it:
 * Node::_decode_header (RFC 2047 encoded words with its merging rules and
 * charset conversion to UTF-8, raw 8-bit bytes taken as UTF-8 or
 * Windows-1252), Util::parse_header_addresses (the internal address
 * parser, with a fallback for lists it cannot split), and what
 * PerMsgStatus::_get's :host, :domain, :ip and :revip modifiers do
 * (RegistryBoundaries' trim_domain, Util::is_fqdn_valid, the IP_ADDRESS
 * pattern of Constants.pm).  Linear in the input except the regular
 * expressions, which are SpamAssassin's own and run under PCRE2's
 * default match limits.  Not thread-safe (shared match data). */
#ifndef LMTPD_HDR_H
#define LMTPD_HDR_H

#include <stdbool.h>
#include <stddef.h>
#include "mime.h"
#include "sa_settings.h"

/* Compiles the patterns; called by mime_global_init(). */
void hdr_global_init(void);
/* hdr_host.c's part of it. */
void hdr_host_init(void);

/* Node::_decode_header(body, name): body is the unfolded, trimmed value;
 * lname the lowercased field name (Received, Message-ID, Date,
 * MIME-Version, References, In-Reply-To and List-* keep their encoded
 * words).  Appends UTF-8 to out. */
void hdr_decode_field(const char *body, size_t len, const char *lname,
		      struct mime_str *out);

/* One result of parse_header_addresses; NULL members are undef. */
struct hdr_addr {
	char *phrase;
	char *address;
	char *user;
	char *host;
	char *comment;
	bool invalid;
};

/* Parses str; returns the number of addresses and a malloc'd array in
 * *out (free with hdr_addrs_free). */
size_t hdr_parse_addresses(const char *str, size_t len, struct hdr_addr **out);
/* The same for a caller that reads only the addresses: an element with
 * neither phrase nor address gets no phrase rather than a copy of all of
 * str (which made str's n commas cost n copies of it, quadratic in a
 * field of commas). */
size_t hdr_parse_addresses_only(const char *str, size_t len, struct hdr_addr **out);
void hdr_addrs_free(struct hdr_addr *a, size_t n);
/* The address pattern hdr_parse_addresses() runs (PCRE2, caseless), for
 * the test that compares it with Util.pm's. */
const char *hdr_address_pattern(void);

/* Util::idn_to_ascii: ASCII lowercased, an international name in its
 * ACE form (libidn2, as Net::LibIDN2), appended to out. */
void hdr_idn_to_ascii(const char *s, size_t n, struct mime_str *out);

/* Util::is_fqdn_valid($host, 1). */
bool hdr_is_fqdn_valid(const char *host, size_t len);
/* is_fqdn_valid(idn_to_ascii($host), 1), as the address parser asks it. */
bool hdr_fqdn_valid_idn(const char *host, size_t len);

/* :host on one value: from_addr is true when :addr already ran (then the
 * host is whatever follows the last '@').  Appends the host and returns
 * true when one is found. */
bool hdr_find_host(const struct sa_settings *set, const char *line, size_t len,
		   bool from_addr, struct mime_str *out);

/* RegistryBoundaries::trim_domain($host, 1), appended to out. */
void hdr_trim_domain(const struct sa_settings *set, const char *host, size_t len,
		     struct mime_str *out);

/* :ip / :revip on one value; false when no address is found (or, for
 * :revip, when it cannot be reversed). */
bool hdr_find_ip(const char *line, size_t len, bool reverse, struct mime_str *out);

#endif
