/* The MIME tree of a message as SpamAssassin's Message.pm and
 * Message/Node.pm build it: the same line-based header and multipart
 * parser (boundary matching, header/body split heuristics, the 2048-byte
 * line splitting, blank-line squeezing, the 20-level subparse limit and
 * 1000 parts per multipart), the same transfer decoding (Util::qp_decode,
 * Util::base64_decode; anything else, uuencode included, stays raw) and
 * the same charset normalisation to UTF-8 (Node::_normalize with
 * normalize_charset 1; iconv through GMime for the charsets it does not
 * special-case).
 *
 * Everything a tree owns lives in one arena freed by mime_free().  Input
 * bytes are referenced, not copied: the message must outlive the tree.
 * Work is linear in the message size times the nesting depth (at most
 * MIME_SUBPARSE), the node count is capped at MIME_MAX_NODES, and no
 * input makes a function fail: what does not parse is viewed as text.
 * Not thread-safe (shared iconv and regex state); call mime_global_init()
 * once per process before the first tree is built. */
#ifndef LMTPD_MIME_H
#define LMTPD_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Constants.pm: MAX_BODY_LINE_LENGTH, MAX_HEADER_KEY_LENGTH,
 * MAX_HEADER_VALUE_LENGTH, MAX_HEADER_LENGTH. */
#define MIME_MAX_BODY_LINE	2048
#define MIME_MAX_HEADER_KEY	256
#define MIME_MAX_HEADER_VALUE	8192
#define MIME_MAX_HEADER_LENGTH	65536
/* Message.pm: default subparse depth and parts per multipart. */
#define MIME_SUBPARSE		20
#define MIME_MAX_PARTS_PER_MULTIPART 1000
/* Ours, not SpamAssassin's: nodes in one tree (SpamAssassin has no cap;
 * 1000 parts per level times 20 levels would be unbounded in practice). */
#define MIME_MAX_NODES		10000
/* Ours too: header fields the parser keeps in one message, all its parts
 * together.  Each costs up to about a kilobyte in the views the rules
 * read, so a 44 MB message of two million "To:" lines took 1.6 GB.  High
 * enough that hiding a message's own fields behind junk ones takes
 * megabytes of them (no real message comes near; the root's fields are
 * read first), low enough to bound a worker's memory.  Counted over the
 * message, not per part: 80 parts of 100000 fields each (24 MB) took
 * 1.9 GB. */
#define MIME_MAX_HEADERS	100000

/* A growable string; never fails (allocation failure exits, xalloc.h). */
struct mime_str {
	char *p;
	size_t len, cap;
};

void mime_str_add(struct mime_str *s, const void *p, size_t n);
void mime_str_free(struct mime_str *s);
/* Room for n more bytes and the NUL, exactly: for a string whose final
 * size is known, so a large one does not carry the slack of doubling. */
void mime_str_reserve(struct mime_str *s, size_t n);

/* One byte: inline, as the decoders and renderers add most text a byte at
 * a time. */
static inline void
mime_str_addc(struct mime_str *s, char c)
{
	if (s->p != NULL && s->len + 2 <= s->cap) {
		s->p[s->len++] = c;
		s->p[s->len] = '\0';
		return;
	}
	mime_str_add(s, &c, 1);
}

void mime_str_add_cp_wide(struct mime_str *s, uint32_t cp);

/* A Unicode code point as UTF-8 (GLib's encoder; ASCII inline, as most
 * of what the decoders add is). */
static inline void
mime_str_add_cp(struct mime_str *s, uint32_t cp)
{
	if (cp < 0x80)
		mime_str_addc(s, (char)cp);
	else
		mime_str_add_cp_wide(s, cp);
}
/* Appends p[0..n) with its UTF-8 code points below U+0100 as single bytes
 * (how Perl holds a byte string); everything else is copied as it is. */
void mime_latin1_from_utf8(const char *p, size_t n, struct mime_str *out);
/* Whether mime_latin1_from_utf8() would change p[0..n). */
bool mime_latin1_changes(const char *p, size_t n);

/* One header field as Node::header stores it. */
struct mime_hdr {
	const char *name;	/* key as written (SA's header_order entry) */
	size_t name_len;
	char *lname;		/* lowercased key, the lookup name */
	size_t lname_len;	/* strlen(lname), checked before the bytes */
	uint32_t lhash;		/* hash of lname, for get_all_headers' table */
	const char *raw;	/* SA's raw_headers value (folds kept) */
	size_t raw_len;
	char *dec;		/* Node::header's decoded value, built lazily */
	size_t dec_len;
	bool dec_done;
};

/* A body line: p[0..len) followed by "\n" when nl is set. */
struct mime_line {
	const char *p;
	uint32_t len;
	bool nl;
};

struct html_result;

struct mime_node {
	struct mime_node *parent;
	/* Children ("body_parts"); has_kids is SA's "exists body_parts"
	 * (a multipart that found no part still is no leaf). */
	struct mime_node **kids;
	size_t nkids, kids_cap;
	bool has_kids;
	bool is_message;	/* a Message object: the top or a message/rfc822 */

	struct mime_hdr *hdrs;
	size_t nhdrs, hdrs_cap;

	const char *type;	/* SA's {type}, lowercase */
	const char *charset;	/* NULL when not declared */
	const char *name;	/* file name, NULL when none */

	struct mime_line *lines;	/* raw body (leaves only) */
	size_t nlines;
	bool has_raw;

	/* caches */
	bool decoded_done;
	/* in the input itself when the raw lines are its bytes as they
	 * stand: not NUL-terminated then */
	const char *decoded;
	size_t decoded_len;
	bool rendered_done;
	const char *rendered_type;	/* NULL: not text */
	const char *rendered;	/* may be decoded or html->text itself */
	size_t rendered_len;
	bool rendered_utf8;	/* Perl would hold it as characters */
	struct html_result *html;	/* text/html parts only */
};

/* Facts about the parse that MIMEEval-style checks read. */
struct mime_flags {
	bool missing_head_body_separator;
	bool missing_mime_headers;
	bool missing_mime_head_body_separator;
	bool mime_epilogue_exists;
	bool mimepart_limit_exceeded;
	bool truncated_header;
	bool node_limit_exceeded;	/* ours: MIME_MAX_NODES reached */
	bool header_limit_exceeded;	/* ours: MIME_MAX_HEADERS reached */
};

struct mime_arena;

struct mime_msg {
	struct mime_arena *arena;
	struct mime_node *root;
	/* All nodes in find_parts(qr/./) order (pre-order), root first. */
	struct mime_node **nodes;
	size_t nnodes;
	struct mime_flags flags;
	/* Fields the parser kept, in every node (MIME_MAX_HEADERS). */
	size_t parsed_headers;
	/* The pristine headers (for ALL:raw), as SA keeps them: mbox From
	 * line dropped, bare LF made CRLF in a CRLF message.  The input
	 * itself when that changed nothing; not NUL-terminated. */
	const char *pristine_headers;
	size_t pristine_headers_len;
	/* The message after the mbox From line, if any. */
	const char *pristine;
	size_t pristine_len;
};

/* Message.pm's pristine body: the bytes after the header section as
 * given (empty when the headers ran to the end of the input). */
const char *mime_pristine_body(const struct mime_msg *msg, size_t *len_r);

/* Once per process, before fork: GMime, the regexes (mime.c, hdr.c). */
void mime_global_init(void);
/* GMime's part of it (mime_charset.c). */
void mime_charset_init(void);
/* iconv descriptors opened so far by this process (for tests: a name
 * decoded again reuses its descriptor while among the 2048 used last). */
size_t mime_charset_opens(void);

/* Parses data[0..len).  Never fails. */
struct mime_msg *mime_parse(const char *data, size_t len);
void mime_free(struct mime_msg **msg);

/* Puts a header in front of node's others (raw as SA stores values:
 * " value\n"); msgview adds the MTA's Return-Path this way. */
void mime_prepend_header(struct mime_msg *msg, struct mime_node *node,
			 const char *name, const char *raw);

/* Drops every header named lname (lowercase) from node (delete_header). */
void mime_delete_header(struct mime_node *node, const char *lname);

/* Node::header: the decoded value of header i (no trailing newline). */
const char *mime_hdr_decoded(struct mime_msg *msg, struct mime_hdr *h, size_t *len_r);

/* The headers of node named lname, in message order, through an index
 * walk: set *pos to 0, then call until it returns NULL. */
struct mime_hdr *mime_hdr_next(struct mime_node *node, const char *lname,
			       size_t *pos);
struct mime_hdr *mime_hdr_last(struct mime_node *node, const char *lname);

/* Node::get_all_headers(raw, 0) as one string, appended to out. */
void mime_all_headers(struct mime_msg *msg, struct mime_node *node, bool raw,
		      struct mime_str *out);

/* Node::decode(): transfer-decoded body bytes (not NUL-terminated). */
const char *mime_decoded(struct mime_msg *msg, struct mime_node *node, size_t *len_r);
/* Node::effective_type(). */
const char *mime_effective_type(const struct mime_node *node);
/* Node::rendered(): NULL for non-text parts, else the text in UTF-8
 * (or Latin-1 bytes when *utf8_r is false, as Perl keeps them). */
const char *mime_rendered(struct mime_msg *msg, struct mime_node *node,
			  size_t *len_r, bool *utf8_r, const char **type_r);

/* Util::parse_content_type(): type (lowercase), and copies of boundary,
 * charset and name (NULL when absent) allocated in msg's arena; returns
 * true when the type was missing or invalid (forced text/plain). */
bool mime_parse_content_type(struct mime_msg *msg, const char *ct, size_t len,
			     const char **type_r, const char **boundary_r,
			     const char **charset_r, const char **name_r);

/* Node::_normalize(): data in charset to UTF-8, appended to out.  insist
 * is $insist_on_declared_charset (RFC 2047 words).  Returns true when
 * Perl would hold the result as characters (a decoder ran), false when
 * the input came back unchanged (all ASCII). */
bool mime_normalize(const char *data, size_t len, const char *charset,
		    bool insist, struct mime_str *out);

/* Whether mime_normalize() would append data unchanged; *utf8_r is then
 * what it would return.  Lets a caller use data in place. */
bool mime_normalize_unchanged(const char *data, size_t len, const char *charset,
			      bool insist, bool *utf8_r);

/* Util::qp_decode and Util::base64_decode. */
void mime_qp_decode(const char *p, size_t len, struct mime_str *out);
void mime_base64_decode(const char *p, size_t len, struct mime_str *out);

/* Internal to mime*.c. */
void mime_header_init(void);
void mime_node_add_header(struct mime_msg *msg, struct mime_node *node, const char *key,
			  size_t klen, const char *val, size_t vlen);
/* A field the parser read: past MIME_MAX_HEADERS in the message, dropped. */
void mime_node_add_parsed_header(struct mime_msg *msg, struct mime_node *node, const char *key,
				 size_t klen, const char *val, size_t vlen);
/* What check() deletes before the rules run: /^X-Spam-.*$/i headers. */
void mime_delete_x_spam(struct mime_node *node);

/* Arena allocation for the views built on a tree (freed with it). */
void *mime_alloc(struct mime_msg *msg, size_t n);
char *mime_strndup(struct mime_msg *msg, const char *p, size_t n);

#endif
