/* log: leveled diagnostics to syslog or stderr, value escaping, and the
 * one formatter of the per-recipient delivery line (DESIGN "log lines").
 * A line is bounded at LOG_LINE_MAX bytes; longer ones are cut. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "dsn.h"
#include "log.h"
#include "utf8.h"

#define LOG_LINE_MAX 4096

static const char *log_progname = "lmtpd";
static bool log_stderr = true;
static bool log_verbose;
static bool log_quiet;
/* stderr is systemd's journal: it records program and pid itself and reads
 * the priority from a "<N>" prefix (sd-daemon(3)). */
static bool log_journal;

void
log_open(const char *progname, bool to_stderr)
{
	log_progname = progname;
	log_stderr = to_stderr;
	log_journal = to_stderr && getenv("JOURNAL_STREAM") != NULL;
	if (!to_stderr)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_verbose(bool verbose)
{
	log_verbose = verbose;
}

void
log_set_quiet(bool quiet)
{
	log_quiet = quiet;
}

bool
log_to_stderr(void)
{
	return log_stderr;
}

static void ATTR_PRINTF(3, 0)
log_vwrite(int priority, const char *word, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int saved_errno = errno;
	int n, head = 0;

	if (log_journal)
		head = snprintf(line, sizeof(line), "<%d>%s", priority, word);
	else if (log_stderr)
		head = snprintf(line, sizeof(line), "%s[%ld]: %s", log_progname,
				(long)getpid(), word);
	else
		head = snprintf(line, sizeof(line), "%s", word);
	if (head < 0)
		head = 0;
	errno = saved_errno;
	n = vsnprintf(line + head, sizeof(line) - (size_t)head, fmt, ap);
	if (n < 0)
		n = 0;
	n += head;
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	if (log_stderr) {
		line[n++] = '\n';
		/* A failed log write has nowhere to be reported. */
		if (write(STDERR_FILENO, line, (size_t)n) < 0)
			errno = saved_errno;
	} else {
		line[n] = '\0';
		syslog(priority, "%s", line);
	}
	errno = saved_errno;
}

#define LOG_FUNC(name, prio, word)                  \
	void name(const char *fmt, ...)             \
	{                                           \
		va_list ap;                         \
		va_start(ap, fmt);                  \
		log_vwrite(prio, word, fmt, ap);    \
		va_end(ap);                         \
	}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_quiet)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_INFO, "", fmt, ap);
	va_end(ap);
}

LOG_FUNC(log_warn, LOG_WARNING, "warning: ")
LOG_FUNC(log_error, LOG_ERR, "error: ")

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, "debug: ", fmt, ap);
	va_end(ap);
}

void
log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, "fatal: ", fmt, ap);
	va_end(ap);
	exit(1);
}

void
log_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, "panic: ", fmt, ap);
	va_end(ap);
	abort();
}

char *
log_escape(char *dst, size_t dst_size, const char *src, size_t len)
{
	return log_escape_extra(dst, dst_size, src, len, NULL);
}

char *
log_escape_extra(char *dst, size_t dst_size, const char *src, size_t len,
		 const char *extra)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0, limit;

	if (dst_size == 0)
		return dst;
	limit = dst_size - 1 < LOG_VALUE_MAX ? dst_size - 1 : LOG_VALUE_MAX;
	while (i < len) {
		uint32_t cp;
		size_t seq = utf8_decode(s + i, len - i, &cp);

		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\' &&
		    (extra == NULL || strchr(extra, s[i]) == NULL)) {
			if (o + 1 > limit)
				break;
			dst[o++] = (char)s[i++];
		} else if (s[i] >= 0x80 && seq > 0 && !utf8_cp_disorders(cp)) {
			if (o + seq > limit)
				break;
			memcpy(dst + o, s + i, seq);
			o += seq;
			i += seq;
		} else {
			if (o + 4 > limit)
				break;
			snprintf(dst + o, 5, "\\x%02x", s[i]);
			o += 4;
			i++;
		}
	}
	if (i < len && dst_size >= 4) {
		while (o + 3 > dst_size - 1)
			o--;
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}

void
log_delivery(const struct log_delivery *d)
{
	char to[LOG_ESCAPE_SIZE], orig[LOG_ESCAPE_SIZE], folder[LOG_ESCAPE_SIZE];
	char text[LOG_ESCAPE_SIZE], orig_part[LOG_ESCAPE_SIZE + 16];
	char folder_part[LOG_ESCAPE_SIZE + 16], score_part[512];

	log_escape(to, sizeof(to), d->to, strlen(d->to));
	orig_part[0] = folder_part[0] = score_part[0] = '\0';
	if (d->orig_to != NULL)
		snprintf(orig_part, sizeof(orig_part), ", orig_to=<%s>",
			 log_escape(orig, sizeof(orig), d->orig_to, strlen(d->orig_to)));
	if (d->folder != NULL)
		/* A folder name is the user's text: nothing in it may read
		 * as another field (", status=..."); ',' stays the list
		 * separator. */
		snprintf(folder_part, sizeof(folder_part), ", folder=%s",
			 log_escape_extra(folder, sizeof(folder), d->folder,
					  strlen(d->folder), "=()<>;"));
	if (d->score != NULL)
		snprintf(score_part, sizeof(score_part), ", score=%s, tests=%.400s",
			 d->score, d->tests != NULL ? d->tests : "none");
	log_escape(text, sizeof(text), d->dsn->text, strlen(d->dsn->text));
	log_info("%s: to=<%s>%s%s%s, delay=%.3f, delays=%.3f/%.3f/%.3f/%.3f, "
		 "dsn=%s, status=%s (%s)",
		 d->queue_id, to, orig_part, folder_part, score_part, d->delay,
		 d->delays[0], d->delays[1], d->delays[2], d->delays[3],
		 dsn_status(d->dsn), dsn_log_status(d->dsn), text);
}
