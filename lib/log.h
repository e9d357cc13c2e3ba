/* Diagnostics, one line per event, to syslog (facility mail) or to stderr.
 *
 * Every line starts "PROG[PID]: "; warnings, errors, fatal and panic lines
 * carry Postfix's "warning: " / "error: " / "fatal: " / "panic: " words so
 * admins can grep for them.  Lines are written with one write(2) so that
 * workers sharing stderr never interleave within a line.  Values that come
 * from the network must go through log_escape() first. */
#ifndef LMTPD_LOG_H
#define LMTPD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include "compat.h"

struct dsn;

/* Longest escaped value written into a log line; longer values end in "...". */
#define LOG_VALUE_MAX 256

void log_open(const char *progname, bool to_stderr);
/* Turns on debug lines (log_debug) when verbose is true. */
void log_set_verbose(bool verbose);
bool log_to_stderr(void);
/* Drops info lines (tools print results, not progress). */
void log_set_quiet(bool quiet);

void log_debug(const char *fmt, ...) ATTR_PRINTF(1, 2);
void log_info(const char *fmt, ...) ATTR_PRINTF(1, 2);
void log_warn(const char *fmt, ...) ATTR_PRINTF(1, 2);
void log_error(const char *fmt, ...) ATTR_PRINTF(1, 2);
/* Startup and configuration only: logs and exits with status 1. */
void log_fatal(const char *fmt, ...) ATTR_PRINTF(1, 2) ATTR_NORETURN;
/* A broken invariant (a bug): logs and aborts for a core dump. */
void log_panic(const char *fmt, ...) ATTR_PRINTF(1, 2) ATTR_NORETURN;

/* Copies src[0..len) into dst as printable text: control bytes, DEL and
 * backslash become \xNN, valid UTF-8 is kept, invalid bytes are escaped; the
 * result is cut at LOG_VALUE_MAX bytes with "...".  dst must hold at least
 * LOG_VALUE_MAX + 8 bytes; returns dst. */
char *log_escape(char *dst, size_t dst_size, const char *src, size_t len);
/* The same, also escaping the ASCII characters in extra (NULL: none). */
char *log_escape_extra(char *dst, size_t dst_size, const char *src, size_t len,
		       const char *extra);
#define LOG_ESCAPE_SIZE (LOG_VALUE_MAX + 8)

/* The per-recipient delivery record, formatted in exactly one place. */
struct log_delivery {
	const char *queue_id;
	const char *to;		/* the recipient as lmtpd resolved it */
	const char *orig_to;	/* ORCPT or the address as given, NULL if same */
	const char *folder;	/* NULL unless delivered */
	const char *score;	/* "5.7/5.0", NULL without scoring */
	const char *tests;	/* "A,B" or "none", NULL without scoring */
	double delay;		/* seconds since MAIL FROM */
	double delays[4];	/* receive / score / sieve / write */
	const struct dsn *dsn;
};
void log_delivery(const struct log_delivery *d);

#endif
