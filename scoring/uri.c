/* uri: XXX being written. */
#include "config.h"

#include "uri.h"

void
uri_collect(const struct sa_settings *set, const struct strlist *body,
	    const struct strlist *html_uris, struct strlist *out)
{
	(void)set; (void)body; (void)html_uris; (void)out;
}

void
uri_canonicalize(const struct sa_settings *set, const char *uri, size_t len,
		 struct strlist *out)
{
	(void)set;
	strlist_add(out, uri, len);
}
