/* The views of one message that SpamAssassin-syntax rules look at, built
 * once per message and shared by every recipient's scoring:
 *
 *   header rules     msgview_get(): SpamAssassin's PerMsgStatus::get()
 *                    semantics, joined as Check.pm joins them
 *   mimeheader       msgview_part_get() over every MIME part
 *   body             msgview_body(): rendered text (Subject first, text
 *                    parts decoded and converted to UTF-8, HTML rendered,
 *                    paragraphs as lines), as Message::get_rendered_body_text_array
 *   Bayes' text      msgview_body_visible(), msgview_body_invisible(): the
 *                    same of HTML's visible text and of its invisible text
 *                    (get_visible_/get_invisible_rendered_body_text_array)
 *   rawbody          msgview_rawbody(): decoded, not rendered
 *                    (Message::get_decoded_body_text_array)
 *   full             msgview_full(): the pristine message
 *   uri              msgview_uris(): PerMsgStatus::get_uri_list()
 *
 * Everything is bounded by the message size and the scan sizes in
 * sa_settings; malformed MIME is viewed as far as it can be and never
 * fails the view.  Views are built lazily on first use and cached.
 * Not thread-safe; one msgview per message. */
#ifndef LMTPD_MSGVIEW_H
#define LMTPD_MSGVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "sa_settings.h"
#include "strlist.h"

struct msgview;
struct relays;

/* Once per process before any view is built (library initialisation);
 * call it before forking workers. */
void msgview_global_init(void);

/* data[0..len) is the message as delivered (LF or CRLF line ends);
 * it must stay valid until msgview_free.  envelope_from is the SMTP MAIL
 * FROM without brackets ("" for the null sender, NULL if unknown): the
 * views see it as the "Return-Path: <...>" header an MTA prepends at
 * final delivery (get(), ALL, EnvelopeFrom, mimeheader part 0; not
 * msgview_full, which stays the message as given).  Inbound X-Spam-*
 * headers are hidden from get() and mimeheader, as SpamAssassin's check()
 * deletes them (ALL:raw and msgview_full keep them).  settings must
 * outlive the view.  Nothing is parsed before the first view is asked
 * for. */
struct msgview *msgview_new(const struct sa_settings *settings,
			    const char *data, size_t len,
			    const char *envelope_from);
void msgview_free(struct msgview **mv);

/* The value a header rule matches for request ("Subject", "From:addr",
 * "ALL", "ToCc", "MESSAGEID", "EnvelopeFrom", "X-Spam-Relays-Untrusted",
 * with modifiers :raw :addr :name :host :domain :ip :revip :first :last).
 * Returns true and the joined value in out when the header exists, false
 * when it does not (the rule then uses its [if-unset: ...] value). */
bool msgview_get(struct msgview *mv, const char *request, struct buf *out);
/* msgview_get() without the copy when the view holds the joined value
 * as one text (ALL:raw, a header of one value): then *text_r, *len_r
 * are that text, valid until msgview_free(), and out is left alone.
 * Else the value is appended to out as msgview_get() does and *text_r
 * is NULL.  Returns what msgview_get() returns. */
bool msgview_get_text(struct msgview *mv, const char *request, struct buf *out,
		      const char **text_r, size_t *len_r);

/* mimeheader: MIMEHeader.pm's lookup on MIME part i (0 .. count-1, in
 * find_parts order: 0 is the message itself, then every part, multipart
 * containers included).  request is a header name, "ALL", or either with
 * ":raw"; no other modifiers.  As there, "Name" is the last decoded value
 * with a newline (false when absent), "Name:raw" the last raw value, ""
 * (and true) when absent, and "ALL" every header of the part. */
size_t msgview_part_count(struct msgview *mv);
bool msgview_part_get(struct msgview *mv, size_t part, const char *request,
		      struct buf *out);

const struct strlist *msgview_body(struct msgview *mv);
/* The body view of the visible text only (plain text parts and HTML's
 * visible text; Subject first), and of HTML's invisible text (tiny font,
 * low contrast, hidden; no Subject; empty when there is none), as the
 * Bayes plugin reads them. */
const struct strlist *msgview_body_visible(struct msgview *mv);
const struct strlist *msgview_body_invisible(struct msgview *mv);
const struct strlist *msgview_rawbody(struct msgview *mv);
const struct strlist *msgview_uris(struct msgview *mv);
/* Whether a URI was cut to URI_MAX_LENGTH, in HTML or as a canonical form
 * (PerMsgStatus's uri_truncated: URIEval's check_uri_truncated). */
bool msgview_uri_truncated(struct msgview *mv);
/* The host names WLBLEval's URI host lists are looked up with (struct
 * uri_collect_more's hosts), found with msgview_uris(). */
const struct strlist *msgview_uri_hosts(struct msgview *mv);
void msgview_full(struct msgview *mv, const char **data_r, size_t *len_r);

/* The parsed Received chain (trusted/untrusted relays), as received_parse()
 * built it for the X-Spam-Relays-* values; eval functions (welcomelist_from_rcvd,
 * the relay checks) read it.  Never NULL. */
const struct relays *msgview_relays(struct msgview *mv);
/* The parsed MIME tree (mime.h), for the eval families that walk it as
 * SpamAssassin's find_parts() does. */
struct mime_msg;
struct mime_msg *msgview_mime(struct msgview *mv);

/* The raw URIs HTML.pm collected from the text/html parts (the keys of
 * each part's uri hash, in part order), as uri_collect() gets them. */
const struct strlist *msgview_html_uris(struct msgview *mv);

/* HTML.pm's results of each rendered text/html part in part order
 * (SpamAssassin's html_all; the first is its "html"), for the html_test
 * eval functions.  *n_r is 0 for a message without HTML. */
struct html_result;
const struct html_result *const *msgview_html(struct msgview *mv, size_t *n_r);

#endif
