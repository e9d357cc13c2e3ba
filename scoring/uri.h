/* URIs for "uri" rules, as SpamAssassin's PerMsgStatus::get_uri_list()
 * finds them: in the rendered text (the Thunderbird/Outlook linkifying
 * rules of _process_text_uri_list, schemeless www./ftp. hosts and bare
 * domains with a valid TLD, mailto: from addresses), in HTML (href, src
 * and the other link attributes HTML.pm collects), each canonicalised by
 * Util::uri_list_canonicalize (scheme, %-decoding, redirector targets,
 * IP forms). */
#ifndef LMTPD_URI_H
#define LMTPD_URI_H

#include "sa_settings.h"
#include "strlist.h"

/* body: the 'body' view (rendered lines); html_uris: raw URIs collected
 * from HTML parts.  Appends the canonical list (deduplicated) to out. */
void uri_collect(const struct sa_settings *set, const struct strlist *body,
		 const struct strlist *html_uris, struct strlist *out);

/* One URI's canonical forms (Util::uri_list_canonicalize), appended. */
void uri_canonicalize(const struct sa_settings *set, const char *uri, size_t len,
		      struct strlist *out);

#endif
