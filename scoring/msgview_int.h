/* Internal to msgview*.c: the text views, built by msgview_text.c for
 * msgview.c, which caches them per message. */
#ifndef LMTPD_MSGVIEW_INT_H
#define LMTPD_MSGVIEW_INT_H

#include <stddef.h>
#include "mime.h"
#include "sa_settings.h"
#include "strlist.h"

struct html_result;

/* Which text of each part a body view is made of (Node::rendered,
 * visible_rendered, invisible_rendered). */
enum msgview_text {
	MV_TEXT_ALL,
	MV_TEXT_VISIBLE,	/* HTML's visible text; plain text as it is */
	MV_TEXT_INVISIBLE,	/* HTML's invisible text only, no Subject */
};

/* The body view of which into body.  With MV_TEXT_ALL, the raw URIs of
 * the text/html parts go into html_uris and their HTML.pm results are
 * appended to *html (*nhtml of them, the array realloc'd, the results
 * owned by msg); the other views leave those alone (may be NULL). */
void msgview_build_body(struct mime_msg *msg, const struct sa_settings *set,
			enum msgview_text which, struct strlist *body,
			struct strlist *html_uris, const struct html_result ***html,
			size_t *nhtml);
/* The rawbody view into out. */
void msgview_build_rawbody(struct mime_msg *msg, const struct sa_settings *set,
			   struct strlist *out);

#endif
