/* Internal to msgview*.c: the text views, built by msgview_text.c for
 * msgview.c, which caches them per message. */
#ifndef LMTPD_MSGVIEW_INT_H
#define LMTPD_MSGVIEW_INT_H

#include <stddef.h>
#include "mime.h"
#include "sa_settings.h"
#include "strlist.h"

struct html_result;

/* The body view into body; the raw URIs of the text/html parts into
 * html_uris and their HTML.pm results appended to *html (*nhtml of them,
 * the array realloc'd, the results owned by msg). */
void msgview_build_body(struct mime_msg *msg, const struct sa_settings *set,
			struct strlist *body, struct strlist *html_uris,
			const struct html_result ***html, size_t *nhtml);
/* The rawbody view into out. */
void msgview_build_rawbody(struct mime_msg *msg, const struct sa_settings *set,
			   struct strlist *out);

#endif
