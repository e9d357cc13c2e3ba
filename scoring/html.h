/* HTML rendering as SpamAssassin's HTML.pm does it, for the body view:
 * the text of an HTML part with block tags turned into line breaks,
 * script, style and comments dropped, entities decoded and whitespace
 * squeezed, plus the URIs HTML.pm collects (href, src, background,
 * action, meta refresh, base) and the statistics its html_test eval
 * functions read.
 *
 * The tokenizer reproduces HTML::Parser 3.81 as HTML.pm configures it
 * (marked sections on, literal mode for script, style, xmp, iframe,
 * plaintext, title and textarea, its entity rules and its end-of-document
 * handling), because rendering differences change what body rules see;
 * entity names come from libxml2's HTML 4 table (the same 253 entities as
 * HTML::Entities).  Linear in the input; every list is bounded by the
 * input size.  Not thread-safe. */
#ifndef LMTPD_HTML_H
#define LMTPD_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include "strlist.h"

/* One tag name and how often it is open ("inside" in HTML.pm). */
struct html_inside {
	char *tag;
	int count;
};

/* HTML.pm's get_results() plus what Node::rendered adds.  Ratios are
 * only meaningful when their "has_" flag is set, as SpamAssassin only
 * sets them then. */
struct html_result {
	/* The rendered text: UTF-8, or Latin-1 bytes when !text_utf8 (how
	 * Perl would hold it); pieces[] mark runs of HTML.pm's text
	 * elements that share their flags, each from its start to the
	 * next one's. */
	char *text;
	size_t text_len;
	bool text_utf8;
	struct html_piece {
		size_t start;		/* offset into text */
		bool whitespace;	/* inserted for a block tag */
		bool invisible;		/* html_font_invisible() said so */
		bool utf8;		/* Perl holds this piece as characters */
	} *pieces;
	size_t npieces;

	/* URIs: every key of HTML.pm's uri hash (targets resolved against
	 * <base href>, and the raw href of each <a>), in first-seen order. */
	struct strlist uris;
	bool uri_truncated;
	struct strlist anchors;		/* anchor text per <a> */
	/* The canonical href of each <a> (HTML.pm's anchor_last, "" without
	 * one), parallel to anchors: the uri_detail{KEY}{anchor_text} keys. */
	struct strlist anchor_uris;
	struct strlist comments;	/* comments, "<!--" and "-->" included */
	struct strlist scripts;		/* text inside <script> */
	struct strlist titles;		/* text of each <title> */
	char *charsets;			/* <meta http-equiv=Content-Type> charsets */

	/* Counters and flags (HTML.pm names). */
	unsigned long tags, tags_seen, elements, elements_seen;
	unsigned long closed_extra, obfuscation, backhair_count;
	unsigned long image_area;
	size_t length;			/* input characters */
	int min_size, max_size;
	bool closed_html, closed_body;
	bool font_low_contrast, font_invalid_color, font_face_bad;
	bool form_action_mailto, embeds;
	bool iframe_src;		/* an <iframe src> made a URI (uri_detail type iframe) */
	bool has_closed_extra_ratio, has_bad_tag_ratio, has_non_element_ratio,
	     has_obfuscation_ratio, has_backhair_count;
	double closed_extra_ratio, bad_tag_ratio, non_element_ratio,
	       obfuscation_ratio;

	/* "inside": every tag name seen, with its final open count. */
	struct html_inside *inside;
	size_t ninside;

	/* Node::rendered: html_length (characters of the rendered text),
	 * non_space_len, and ratio ((bytes in - chars out) / bytes in). */
	size_t html_length, non_space_len;
	bool has_ratio;
	double ratio;
};

/* Parses and renders text[0..len): UTF-8 when utf8 is true (a part
 * Node::_normalize decoded), else plain bytes (ASCII in practice).
 * raw_len is the part's length before charset decoding (for ratio).
 * Never fails; the result is freed with html_result_free(). */
struct html_result *html_render(const char *text, size_t len, bool utf8,
				size_t raw_len);
void html_result_free(struct html_result **r);

/* get_rendered_text(invisible => 0 or 1): a malloc'd copy, UTF-8 like
 * text. */
char *html_text_filtered(const struct html_result *r, bool invisible,
			 size_t *len_r);
/* Whether Perl would hold that text as characters (one of its pieces is):
 * when false it holds Latin-1 bytes, as for text when !text_utf8. */
bool html_text_filtered_utf8(const struct html_result *r, bool invisible);
/* Whether any text element is invisible. */
bool html_has_invisible(const struct html_result *r);

/* Number of times tag (lowercase) is open at the end, -1 if never seen. */
int html_inside(const struct html_result *r, const char *tag);

#endif
