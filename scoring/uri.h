/* URIs for "uri" rules, as SpamAssassin's PerMsgStatus::get_uri_list()
 * finds them: in the rendered text (the Thunderbird/Outlook linkifying
 * rules of _process_text_uri_list, schemeless www./ftp. hosts and bare
 * domains with a valid TLD, mailto: from addresses), in HTML (href, src
 * and the other link attributes HTML.pm collects), each canonicalised by
 * Util::uri_list_canonicalize (scheme, %-decoding, redirector targets,
 * IP forms).
 *
 * The compiled patterns and the match state are process-wide, built on
 * first use: not thread-safe (a worker scores one message at a time). */
#ifndef LMTPD_URI_H
#define LMTPD_URI_H

#include <stdbool.h>
#include "sa_settings.h"
#include "strlist.h"

/* SpamAssassin's MAX_URI_LENGTH: longer URIs (HTML input and every
 * canonical form) are cut to this many bytes. */
#define URI_MAX_LENGTH		8192
/* Distinct URIs kept per message (SpamAssassin has no bound; the corpus
 * tops out near 70).  Past it the rest of the message is not scanned. */
#define URI_MAX_COUNT		2000
/* Raw candidates examined per message (text matches plus HTML URIs). */
#define URI_MAX_CANDIDATES	10000
/* Redirect targets followed per raw URI (uri_list_canonicalize unwraps
 * one level per pass and loops over what it found). */
#define URI_MAX_REDIRECTS	16
/* Distinct host names kept per message for the URI host lists.  The
 * scan goes on past URI_MAX_COUNT URIs for them (up to
 * URI_MAX_CANDIDATES), so that a blocklisted link cannot hide behind
 * 2000 others. */
#define URI_MAX_HOSTS		10000

/* What uri_collect finds besides the list. */
struct uri_collect_more {
	/* a URI was cut to URI_MAX_LENGTH, in HTML or as a canonical form
	 * (PerMsgStatus's uri_truncated, which check_uri_truncated reads);
	 * only ever set */
	bool truncated;
	/* NULL, or where the host names go that WLBLEval's URI host lists
	 * are looked up with: get_uri_detail_list's "hosts" (uri_to_domain's
	 * unstripped host: lowercased, IDN in ASCII form, an IP address as
	 * written) of every canonical form of every URI whose raw form is not
	 * a mailto: (check_uri_host_listed skips those by their raw form, so
	 * the mailto: form of an HTML href "a@b.example%20" counts), once
	 * each, in order of discovery */
	struct strlist *hosts;
};

/* body: the 'body' view, SpamAssassin's get_decoded_stripped_body_text_array
 * (Subject first, paragraphs, lines of at most 2048 bytes), taken as octets
 * as SpamAssassin has them.  html_uris: the raw URIs HTML.pm collects (the
 * keys of uri_detail: href/src/... after base-href resolution, trimmed), as
 * UTF-8: HTML.pm returns them as Perl characters, so a character up to
 * U+00FF %-encodes to one %xx and one past it is kept (invalid UTF-8 bytes
 * count as Latin-1 characters).  Either may be NULL.  Appends the canonical
 * list (deduplicated, in order of discovery) to out; entries already in out
 * are not repeated.  Never fails; hostile input is cut by the URI_MAX_*
 * bounds and PCRE2 match limits.  more (may be NULL) gets the rest of
 * what was found. */
void uri_collect(const struct sa_settings *set, const struct strlist *body,
		 const struct strlist *html_uris, struct strlist *out,
		 struct uri_collect_more *more);

/* One URI's canonical forms (Util::uri_list_canonicalize, the raw URI
 * itself included, each cut to URI_MAX_LENGTH), deduplicated, appended.
 * uri is taken as octets, like a URI found in the text. */
void uri_canonicalize(const struct sa_settings *set, const char *uri, size_t len,
		      struct strlist *out);

/* RegistryBoundaries::is_domain_valid: dom (any case, IDN allowed) has a
 * dot and ends in a TLD of set->tlds. */
bool uri_domain_valid(const struct sa_settings *set, const char *dom, size_t len);

/* Constants.pm IS_IP_ADDRESS: all of s is an IPv4 or IPv6 address. */
bool uri_is_ip_address(const char *s, size_t len);
/* RegistryBoundaries::uri_to_domain(uri) returns a domain; *is_ip_r says
 * whether what it returns is an IP address (which is_domain_valid then
 * refuses). */
bool uri_to_domain_defined(const struct sa_settings *set, const char *uri, size_t len,
			   bool *is_ip_r);

/* The redirector_pattern setting: value is a Perl regex literal as
 * Util::compile_regexp takes it (/re/flags, m{re}flags, m're'flags ...;
 * flags i m s x), compiled and appended to set->redirector_patterns.
 * Returns 1, or -1 with *why_r on a bad value. */
int uri_redirector_add(struct sa_settings *set, const char *value,
		       const char **why_r);
/* Frees set->redirector_patterns (called by sa_settings_free). */
void uri_redirector_free(struct sa_settings *set);

#endif
