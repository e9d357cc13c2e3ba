/* Between received.c (the chain: trust path, rendering) and received_line.c
 * (one line: SpamAssassin's parse_received_line()).  Not for other
 * modules. */
#ifndef LMTPD_RECEIVED_INT_H
#define LMTPD_RECEIVED_INT_H

#include <stdbool.h>
#include <stddef.h>

/* An owned byte string; p is NUL-terminated, or NULL when never set. */
struct received_str {
	char *p;
	size_t len;
};

void received_str_set(struct received_str *s, const char *p, size_t len);
void received_str_free(struct received_str *s);
/* Perl's truth of a string: not "", not "0". */
bool received_str_true(const struct received_str *s);

enum received_line_result {
	RECEIVED_LINE_SKIP,		/* Perl's "return 0": a handover to ignore */
	RECEIVED_LINE_UNPARSEABLE,	/* Perl's "return" (undef) */
	RECEIVED_LINE_RELAY,
};

/* What parse_received_headers() keeps across lines. */
struct received_chain {
	bool allow_mailfetch_markers;	/* set by the caller */
	bool pop_fetcher_seen;		/* set by the line: restart the parse */
	/* a qmail-scanner line's envelope sender, for the next line */
	bool have_qms_env_from;
	struct received_str qms_env_from;
};

/* One line's fields, cleaned as at Received.pm's "enough:" label when the
 * result is RECEIVED_LINE_RELAY. */
struct received_fields {
	struct received_str ip, helo, rdns, by, id, ident, envfrom, auth;
	bool envfrom_defined;
	bool mta_looked_up_dns;
};

/* raw[0..len): one header value (whitespace is collapsed here).  f is
 * reset first; its strings are reused from call to call and freed with
 * received_fields_free(). */
enum received_line_result received_line_parse(struct received_chain *ch,
					       const char *raw, size_t len,
					       struct received_fields *f);
void received_fields_free(struct received_fields *f);

/* IP_PRIVATE of Mail::SpamAssassin::Constants. */
bool received_ip_private(const char *ip);
/* The first IP_ADDRESS in s[0..len), as a span of s. */
bool received_first_ip(const char *s, size_t len, const char **ip_r, size_t *len_r);

/* A pattern is JIT-compiled once it has been matched this many times
 * with the interpreter (or at once when the interpreter runs into the
 * match limit).  A JIT compile costs 25 K to 2 M instructions (600 K on
 * average) and saves 1 K to 20 K a match (4 K typically): compiling
 * every pattern at first use made one message from the command line
 * cost twice as much, and a run over 1500 messages is cheapest with this
 * between 20 and 100 (measured). */
#define RECEIVED_JIT_AFTER 64

/* For the tests.  Prechecks (a literal the pattern needs, looked up in an
 * index of the line, before PCRE2 is called) on or off: results must not
 * differ. */
void received_prechecks_set(bool on);
unsigned int received_pattern_count(void);
/* Pattern id against s[0..len): RECEIVED_CHECK_MATCH when it matches,
 * _INDEX / _SCAN when its need is met by an index of s / by a scan of s
 * (a match without both is a bug), _SAME when the shortcut the parser
 * takes for the pattern, if any, finds the same match, _NEED when the
 * pattern has a need at all. */
#define RECEIVED_CHECK_MATCH 1u
#define RECEIVED_CHECK_INDEX 2u
#define RECEIVED_CHECK_SCAN 4u
#define RECEIVED_CHECK_SAME 8u
#define RECEIVED_CHECK_NEED 16u
unsigned int received_pattern_check(unsigned int id, const char *s, size_t len);

#endif
