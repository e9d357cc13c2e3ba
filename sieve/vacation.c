/* vacation: RFC 3834/5230 rules, the reply text and the history database.
 *
 * History records (stamp_db.h, in vacation.db) are keyed
 * "user\0sender\0handle" (sender lowercased) and hold the time of the
 * last reply; those older than max_days are purged. Every key holds two
 * NULs, so none is stamp_db's purge position. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "log.h"
#include "message.h"
#include "addrfold.h"
#include "stamp_db.h"
#include "vacation.h"
#include "xalloc.h"

#define VACATION_DB "vacation.db"
#define VACATION_KEY_MAX 2048
/* Folding the reply's References: the line length RFC 5322 2.1.1 asks
 * for, and the longest word kept (with the field name it stays under the
 * 998 a line must not pass). */
#define VACATION_FOLD_COLUMNS 78
#define VACATION_FOLD_WORD_MAX 900
/* UTF-8 bytes in one encoded-word of the Subject: "=?utf-8?B?", 52
 * base64 characters and "?=" make 64, so "Subject: " and one word stay
 * within the 76 characters RFC 2047 allows a line with encoded-words. */
#define VACATION_WORD_BYTES 39
/* RFC 5322 2.1.1 and RFC 2045 2.8: no line of 8bit text over 998 octets. */
#define VACATION_LINE_MAX 998

struct vacation {
	struct stamp_db *history;
	unsigned int max_days;
};

/* --- the rules --- */

static bool
vacation_atext(unsigned char c)
{
	return isalnum(c) || strchr("!#$%&'*+/=?^_`{|}~-.", c) != NULL || c >= 0x80;
}

/* Whether addr appears in text as a whole address (case-insensitive):
 * not preceded by a local-part character, not followed by a domain one. */
static bool
vacation_has_address(const char *text, const char *addr)
{
	size_t alen = strlen(addr);

	if (alen == 0)
		return false;
	for (const char *p = text; (p = strcasestr(p, addr)) != NULL; p++) {
		unsigned char after = (unsigned char)p[alen];
		bool domain_goes_on = isalnum(after) || after == '-' || after == '_' ||
				      (after == '.' && isalnum((unsigned char)p[alen + 1]));

		if ((p == text || !vacation_atext((unsigned char)p[-1])) && !domain_goes_on)
			return true;
	}
	return false;
}

static bool
vacation_field_has(const struct message *msg, const char *name, const char *addr)
{
	char value[8192];

	for (size_t i = 0; i < msg->header_count; i++) {
		const struct message_header *h = &msg->headers[i];

		if (h->name_len != strlen(name) ||
		    strncasecmp(msg->data + h->start, name, h->name_len) != 0)
			continue;
		message_header_value(msg, h, value, sizeof(value));
		if (vacation_has_address(value, addr))
			return true;
	}
	return false;
}

/* The first value of field name, unfolded, lowercased, up to ';' or '(',
 * trimmed; "" if absent. */
static void
vacation_keyword(const struct message *msg, const char *name, char *out, size_t size)
{
	const struct message_header *h = message_header_find(msg, name);
	size_t n;

	out[0] = '\0';
	if (h == NULL)
		return;
	message_header_value(msg, h, out, size);
	n = strcspn(out, ";(");
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
		out[--n] = '\0';
	for (char *p = out; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
}

/* RFC 3834 2: senders that are mail systems or lists. */
static bool
vacation_system_sender(const char *sender)
{
	const char *at = strrchr(sender, '@');
	size_t llen = at != NULL ? (size_t)(at - sender) : strlen(sender);
	char local[256];

	if (llen >= sizeof(local))
		llen = sizeof(local) - 1;
	memcpy(local, sender, llen);
	local[llen] = '\0';
	return strcasecmp(local, "MAILER-DAEMON") == 0 ||
	       strcasecmp(local, "LISTSERV") == 0 ||
	       strcasecmp(local, "majordomo") == 0 ||
	       strncasecmp(local, "owner-", 6) == 0 ||
	       (llen >= 8 && strcasecmp(local + llen - 8, "-request") == 0);
}

const char *
vacation_refusal(const struct vacation_request *req)
{
	static const char *const to_fields[] = {
		"To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc"
	};
	const struct message *msg = req->msg;
	char kw[256];
	bool to_me = false;

	if (req->sender == NULL || req->sender[0] == '\0')
		return "null envelope sender";
	if (vacation_system_sender(req->sender))
		return "sender is a mailer daemon or a list";
	if (req->user != NULL && addr_casefold_equal(req->sender, req->user))
		return "message is from the user";
	for (size_t i = 0; i < req->my_address_count; i++)
		if (req->my_addresses[i] != NULL &&
		    addr_casefold_equal(req->sender, req->my_addresses[i]))
			return "message is from the user";
	vacation_keyword(msg, "Auto-Submitted", kw, sizeof(kw));
	if (message_header_find(msg, "Auto-Submitted") != NULL && strcmp(kw, "no") != 0)
		return "Auto-Submitted message";
	vacation_keyword(msg, "Precedence", kw, sizeof(kw));
	if (strcmp(kw, "bulk") == 0 || strcmp(kw, "list") == 0 || strcmp(kw, "junk") == 0)
		return "Precedence: bulk, list or junk";
	for (size_t i = 0; i < msg->header_count; i++)
		if (msg->headers[i].name_len > 5 &&
		    strncasecmp(msg->data + msg->headers[i].start, "List-", 5) == 0)
			return "mailing list message (List-* field)";
	if (req->is_spam)
		return "message is spam";
	/* RFC 5230 4.5: only mail addressed to the user (libsieve skips
	 * this check when :from is given). */
	for (size_t f = 0; f < N_ELEMENTS(to_fields) && !to_me; f++) {
		if (req->user != NULL && vacation_field_has(msg, to_fields[f], req->user))
			to_me = true;
		for (size_t i = 0; i < req->my_address_count && !to_me; i++)
			if (req->my_addresses[i] != NULL &&
			    vacation_field_has(msg, to_fields[f], req->my_addresses[i]))
				to_me = true;
	}
	if (!to_me)
		return "message not addressed to the user";
	return NULL;
}

/* --- history --- */

struct vacation *
vacation_new(const char *state_dir, unsigned int max_days)
{
	struct vacation *v = xcalloc(1, sizeof(*v));

	v->history = stamp_db_new(state_dir, VACATION_DB, "vacation", "no vacation replies");
	v->max_days = max_days > 0 ? max_days : 1;
	return v;
}

void
vacation_free(struct vacation **vp)
{
	struct vacation *v = *vp;

	if (v == NULL)
		return;
	stamp_db_free(&v->history);
	free(v);
	*vp = NULL;
}

static size_t
vacation_key(const struct vacation_request *req, char *key, size_t size)
{
	/* The sender is compared case-insensitively, folded as recipients
	 * are (a UTF-8 sender in another case was answered already). */
	char *sender = addr_casefold(req->sender);
	int n = snprintf(key, size, "%s%c%s%c%s", req->user != NULL ? req->user : "", '\0',
			 sender, '\0', req->handle != NULL ? req->handle : "");

	free(sender);
	if (n < 0)
		return 0;
	return (size_t)n >= size ? size - 1 : (size_t)n;
}

int
vacation_history_due(struct vacation *v, const struct vacation_request *req, time_t now)
{
	char key[VACATION_KEY_MAX];
	uint64_t sent_at;
	int found = stamp_db_get(v->history, key, vacation_key(req, key, sizeof(key)), &sent_at);

	if (found < 0)
		return -1;
	if (found > 0 && (uint64_t)now < sent_at + (uint64_t)req->days * 86400)
		return 0;
	return 1;
}

int
vacation_history_record(struct vacation *v, const struct vacation_request *req,
			time_t now)
{
	char key[VACATION_KEY_MAX];

	return stamp_db_put(v->history, key, vacation_key(req, key, sizeof(key)), now,
			    (uint64_t)v->max_days * 86400);
}

/* --- the reply --- */

/* Header text: control characters become spaces (no header injection from
 * a script), at most max bytes. */
static char *
vacation_header_text(const char *in, size_t max)
{
	char *out = xmalloc(max + 1);
	size_t o = 0;

	for (; *in != '\0' && o < max; in++)
		out[o++] = ((unsigned char)*in < 0x20 || *in == 0x7f) ? ' ' : *in;
	/* Cut at max: back to a whole UTF-8 character (a broken one would
	 * make the RFC 2047 encoding of the subject invalid). */
	if (*in != '\0' && ((unsigned char)*in & 0xc0) == 0x80) {
		while (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
			o--;
		if (o > 0 && (unsigned char)out[o - 1] >= 0xc0)
			o--;
	}
	out[o] = '\0';
	return out;
}

/* A References list cut to a length may end inside a message-id; an id
 * is "<...>", so a last word without its '>' goes (white space is spaces
 * here: vacation_header_text made it so). */
static void
vacation_drop_partial_id(char *refs)
{
	size_t n = strlen(refs);

	while (n > 0 && refs[n - 1] == ' ')
		n--;
	if (n > 0 && refs[n - 1] != '>')
		while (n > 0 && refs[n - 1] != ' ')
			n--;
	refs[n] = '\0';
}

static bool
vacation_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* Appends text with LF line ends (CRLF and lone CR become LF). */
static void
vacation_put_lf(struct buf *out, const char *text)
{
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\r') {
			if (p[1] != '\n')
				buf_put(out, "\n", 1);
			continue;
		}
		buf_put(out, p, 1);
	}
	if (out->len == 0 || out->data[out->len - 1] != '\n')
		buf_put(out, "\n", 1);
}

struct vacation_fold {
	struct buf *out;
	size_t col;		/* characters on the current line */
	bool words;		/* a word is on the current line */
};

/* Appends the space-separated words of text (control characters are
 * spaces already) to a field, folding before a word that would take the
 * line past VACATION_FOLD_COLUMNS; a word longer than
 * VACATION_FOLD_WORD_MAX (no message id is) is left out. */
static void
vacation_fold_words(struct vacation_fold *f, const char *text)
{
	for (const char *p = text;;) {
		size_t len;

		p += strspn(p, " ");
		if (*p == '\0')
			return;
		len = strcspn(p, " ");
		if (len <= VACATION_FOLD_WORD_MAX) {
			if (f->words && f->col + 1 + len > VACATION_FOLD_COLUMNS) {
				buf_put(f->out, "\n\t", 2);
				f->col = 1;
			} else {
				buf_put(f->out, " ", 1);
				f->col++;
			}
			buf_put(f->out, p, len);
			f->col += len;
			f->words = true;
		}
		p += len;
	}
}

/* A non-ASCII Subject as RFC 2047 encoded-words of VACATION_WORD_BYTES
 * (fewer where a character would be split), folded between words: a
 * reader joins adjacent encoded-words without the white space. */
static void
vacation_put_encoded_subject(struct buf *out, const char *subject)
{
	struct vacation_fold fold = { out, strlen("Subject:"), false };
	size_t n = strlen(subject);

	buf_put_str(out, "Subject:");
	for (size_t i = 0; i < n;) {
		size_t k = n - i < VACATION_WORD_BYTES ? n - i : VACATION_WORD_BYTES;
		gchar *b64;
		char *word;

		while (i + k < n && k > 1 && ((unsigned char)subject[i + k] & 0xc0) == 0x80)
			k--;
		b64 = g_base64_encode((const guchar *)subject + i, k);
		word = xasprintf("=?utf-8?B?%s?=", b64);
		vacation_fold_words(&fold, word);
		free(word);
		g_free(b64);
		i += k;
	}
	buf_put(out, "\n", 1);
}

/* Whether text has a line over VACATION_LINE_MAX octets (CR, LF or CRLF
 * end a line). */
static bool
vacation_long_line(const char *text)
{
	size_t run = 0;

	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n')
			run = 0;
		else if (++run > VACATION_LINE_MAX)
			return true;
	}
	return false;
}

/* The reason as a text/plain body: 8bit, or quoted-printable (GMime's
 * encoder) when a line is too long for 8bit. */
static void
vacation_put_text_body(struct buf *out, const char *reason)
{
	GMimeEncoding enc;
	struct buf lf;
	char *qp;
	size_t len;

	buf_put_str(out, "Content-Type: text/plain; charset=utf-8\n");
	if (!vacation_long_line(reason)) {
		buf_put_str(out, "Content-Transfer-Encoding: 8bit\n\n");
		vacation_put_lf(out, reason);
		return;
	}
	buf_put_str(out, "Content-Transfer-Encoding: quoted-printable\n\n");
	buf_init(&lf, 0);
	vacation_put_lf(&lf, reason);
	g_mime_encoding_init_encode(&enc, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	qp = xmalloc(g_mime_encoding_outlen(&enc, lf.len) + 1);
	len = g_mime_encoding_flush(&enc, lf.data, lf.len, qp);
	qp[len] = '\0';
	vacation_put_lf(out, qp);
	free(qp);
	buf_free(&lf);
}

bool
vacation_from_usable(const char *from)
{
	InternetAddressList *list;
	InternetAddress *a;
	bool ok = false;

	if (from == NULL || from[0] == '\0' || strpbrk(from, "\r\n") != NULL)
		return false;
	list = internet_address_list_parse(NULL, from);
	if (list == NULL)
		return false;
	if (internet_address_list_length(list) == 1 &&
	    INTERNET_ADDRESS_IS_MAILBOX(a = internet_address_list_get_address(list, 0))) {
		const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));

		ok = addr != NULL && strchr(addr, '@') != NULL && strchr(addr, ',') == NULL;
	}
	g_object_unref(list);
	return ok;
}

/* A Message-ID cut on its way here (over the buffer or the header limit)
 * is no id: an In-Reply-To without its '>' would not parse. */
static bool
vacation_whole_msgid(const char *id)
{
	size_t n = strlen(id);

	while (n > 0 && (id[n - 1] == ' ' || id[n - 1] == '\t'))
		n--;
	return n > 2 && n <= 900 && id[n - 1] == '>';
}

void
vacation_compose(const struct vacation_reply *r, struct buf *out)
{
	char date[64], *subject, *from, *to;
	time_t now = time(NULL);
	unsigned char rnd[8] = { 0 };
	unsigned long long id = 0;

	message_format_date(date, sizeof(date), now);
	if (getrandom(rnd, sizeof(rnd), 0) == (ssize_t)sizeof(rnd))
		memcpy(&id, rnd, sizeof(id));
	from = vacation_header_text(r->from, 256);
	to = vacation_header_text(r->to, 256);
	subject = vacation_header_text(r->subject != NULL && r->subject[0] != '\0'
				       ? r->subject : "Automated reply", 900);
	buf_putf(out, "From: %s\n", from);
	buf_putf(out, "To: <%s>\n", to);
	if (vacation_ascii(subject))
		buf_putf(out, "Subject: %s\n", subject);
	else
		vacation_put_encoded_subject(out, subject);
	buf_putf(out, "Date: %s\n", date);
	buf_putf(out, "Message-ID: <%lld.%ld.%016llx@%s>\n", (long long)now,
		 (long)getpid(), id, r->hostname);
	if (r->in_reply_to != NULL && vacation_whole_msgid(r->in_reply_to)) {
		char *irt = vacation_header_text(r->in_reply_to, 900);
		struct vacation_fold fold = { out, strlen("References:"), false };

		buf_putf(out, "In-Reply-To: %s\n", irt);
		/* RFC 5322 3.6.4: the original's References, then its
		 * Message-ID; a long thread's list is folded, not one line of
		 * thousands of characters. */
		buf_put_str(out, "References:");
		if (r->references != NULL && r->references[0] != '\0') {
			char *refs = vacation_header_text(r->references, 4000);

			vacation_drop_partial_id(refs);
			vacation_fold_words(&fold, refs);
			free(refs);
		}
		vacation_fold_words(&fold, irt);
		buf_put(out, "\n", 1);
		free(irt);
	}
	/* RFC 3834 5 and RFC 5230 5.x. */
	buf_put_str(out, "Auto-Submitted: auto-replied (vacation)\n");
	buf_put_str(out, "MIME-Version: 1.0\n");
	/* With :mime the reason is a MIME entity: its own header, a blank
	 * line, its body. */
	if (r->mime)
		vacation_put_lf(out, r->reason);
	else
		vacation_put_text_body(out, r->reason);
	free(from);
	free(to);
	free(subject);
}
