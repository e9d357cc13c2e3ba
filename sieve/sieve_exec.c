/* sieve_exec: one script through libsieve 2.2.6 (Debian's libsieve2).
 *
 * Facts about libsieve this file is built around (checked on bookworm):
 * - sieve2_validate()/sieve2_execute() return SIEVE2_OK even when the
 *   script has errors: only the ERRCALL callbacks tell;
 * - the callback table ends with a {SIEVE2_VALUE_FIRST, NULL} entry (the
 *   library walks it until value 0; SIEVE2_VALUE_LAST makes
 *   sieve2_callbacks() fail with SIEVE2_ERROR_UNSUPPORTED);
 * - it reports nothing for `stop` and nothing for the imap4flags
 *   internal variable, and does not track the implicit keep.  So the text
 *   handed to execute ends with a sentinel the user can not name:
 *   `if exists "X-Lmtpd-End-<random>" { keep; }`.  Our getheader callback
 *   sees the sentinel's name when execution reaches the end (no `stop`),
 *   and the keep that follows carries the internal flags the implicit
 *   keep must use (RFC 5232 3);
 * - keep/fileinto hand over the current flags as the stringlist "flags";
 *   vacation hands over "address", "fromaddr", "subject", "message",
 *   "hash" (only with :handle), "days" and "mime" (non-zero with :mime),
 *   after doing part of RFC 5230's checks itself (Auto-Submitted,
 *   Precedence, the user's address in To/Cc/Bcc, system senders, the
 *   user as sender).  A refusal there is silent and knows neither the
 *   ORCPT nor the spam verdict, so while the vacation command runs the
 *   header and envelope callbacks hand libsieve values that pass
 *   (sieve_vacation_lookup) and lmtpd's own rules (vacation.h) decide,
 *   with a log line;
 * - with a GETSUBADDRESS callback, every address part (:localpart,
 *   :domain, :user, :detail) comes from that callback;
 * - quoted strings reach the callbacks with their backslash escapes still
 *   in ("\\Seen" arrives as two backslashes and "Seen"): strings without a
 *   line break (quoted strings, in practice) are unescaped here; multi-line
 *   text: strings have no escapes and are left alone;
 * - imap4flags is broken in two ways: `setflag` on a non-empty flag list
 *   frees the list and keeps a pointer into it (use after free, usually a
 *   crash), and `removeflag` of the most recently added flag drops every
 *   flag.  The text handed to execute is rewritten (sieve_rewrite_flags):
 *   each `removeflag` first adds a flag of its own (so the flag removed is
 *   never the first in the list), each `setflag` becomes "add a flag of
 *   its own, remove it (which clears the list), addflag"; those helper
 *   flags never leave this file (sieve_text.c does the rewriting);
 * - it reports no line for run-time errors, and when it refuses an action
 *   as incompatible (`keep; reject "no";`, a redirect after a reject) it
 *   just ends execution, with no error callback.  So before each action
 *   command (and stop), and inside each if/elsif test, the text for
 *   execute tests a header that never exists, named after that command
 *   (sieve_rewrite); our getheader callback sees the name and knows the
 *   command about to run and its line (also written to the page shared
 *   with the worker, sieve_progress, for errors of a process stopped by
 *   the CPU limit).  An execution that ends neither at the sentinel nor at a stop
 *   was cut short by libsieve at the last command marked: a run-time
 *   error, as Pigeonhole makes of such a conflict;
 * - vacation's subject is copied into a 128-byte buffer (cut mid-way
 *   through a UTF-8 character) and its :addresses are not passed on: both
 *   are taken from the script text the marker points at;
 * - address errors in message headers are reported through
 *   ERRCALL_ADDRESS at run time and the test just does not match; the
 *   same callback at validation time means the script itself holds a bad
 *   address (redirect "not an address");
 * - libsieve_strconcat, which builds its error texts and the addresses it
 *   parses out of message headers, writes its NUL one byte past the
 *   buffer when the pieces fill it exactly (a From: domain of 255 bytes
 *   under an address test, an unsupported `require` name of 255 bytes).
 *   libsieve calls it through its PLT, so the correct one below takes
 *   its place in every program linked with this file.
 *
 * Callbacks only record; the strings libsieve passes are copied, the
 * strings handed to libsieve live in the view until it is freed. */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sieve2.h>

#include "log.h"
#include "sieve_int.h"
#include "xalloc.h"

/* libsieve 2.2.6's (non-reentrant) address lexer: libsieve_addr_parse_buffer
 * restarts its input but not its start condition, so a header value that
 * ends inside a comment "(", a quoted string or a domain literal "[" leaves
 * every later address and envelope test of the run unable to parse (they
 * silently do not match).  Exported by the library, not declared in
 * sieve2.h; flex's yylex_destroy() resets the start condition. */
#ifdef HAVE_LIBSIEVE_ADDRLEX_DESTROY
extern int libsieve_addrlex_destroy(void);
#endif

struct sieve_exec_state {
	struct sieve_view *view;
	struct sieve_budget *budget;
	struct sieve_script_result *res;
	const char *script;
	const char *text;
	size_t text_len;
	bool validate;
	bool sentinel_keep;	/* the next keep is the sentinel's */
	bool over_budget;
	/* The commands of the text executed, and the one running now
	 * (index + 1; 0 before the first). */
	struct sieve_cmds cmds;
	size_t cur;
};

/* libsieve 2.2.6's own helper (sv_util/util.c), with room for the NUL:
 * its "size - pos < len" let the pieces fill the buffer and the NUL go
 * past it.  The result is freed by libsieve_free(), which is free(). */
static unsigned long sieve_strconcat_calls;

char *
libsieve_strconcat(const char *str, ...)
{
	va_list va;
	struct buf b;
	char *out;

	sieve_strconcat_calls++;
	if (str == NULL)
		return NULL;
	buf_init(&b, 0);
	va_start(va, str);
	for (; str != NULL; str = va_arg(va, const char *))
		buf_put_str(&b, str);
	va_end(va);
	out = buf_steal(&b, NULL);
	return out != NULL ? out : xstrdup("");
}

/* A message address did not parse: libsieve's address lexer may be left
 * inside a comment, quoted string or domain literal.  The lexer is the
 * process's (flex globals), so the flag is too: a run that ends right
 * after the failed parse must not leave it to the next script or
 * message. */
static bool sieve_addr_lex_dirty;

/* Resets the address lexer after a failed parse; called between tests
 * and before each run, never while libsieve is inside the address
 * parser. */
static void
sieve_addr_lex_reset(void)
{
	if (sieve_addr_lex_dirty) {
#ifdef HAVE_LIBSIEVE_ADDRLEX_DESTROY
		(void)libsieve_addrlex_destroy();
#endif
		sieve_addr_lex_dirty = false;
	}
}

/* The line of the command running now; 0 when not known. */
static int
sieve_cur_line(const struct sieve_exec_state *st)
{
	return st->cur > 0 && st->cur <= st->cmds.count ? (int)st->cmds.v[st->cur - 1].line : 0;
}

static const struct sieve_cmd *
sieve_cur_cmd(const struct sieve_exec_state *st, enum sieve_cmd_kind kind)
{
	if (st->cur == 0 || st->cur > st->cmds.count || st->cmds.v[st->cur - 1].kind != kind)
		return NULL;
	return &st->cmds.v[st->cur - 1];
}

static void
sieve_add_error(struct sieve_exec_state *st, int lineno, const char *msg)
{
	struct buf *e = &st->res->errors;
	char esc[LOG_ESCAPE_SIZE];

	log_escape(esc, sizeof(esc), msg != NULL ? msg : "unknown error",
		   msg != NULL ? strlen(msg) : 13);
	if (e->len > SIEVE_SCRIPT_ERRORS_MAX)
		return;
	if (lineno > 0)
		buf_putf(e, "line %d: error: %s\n", lineno, esc);
	else
		buf_putf(e, "error: %s\n", esc);
}

static void
sieve_fail(struct sieve_exec_state *st, const char *fmt, ...) ATTR_PRINTF(2, 3);

static void
sieve_fail(struct sieve_exec_state *st, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (st->res->status == SIEVE_SCRIPT_OK)
		st->res->status = SIEVE_SCRIPT_FAILED;
	sieve_add_error(st, sieve_cur_line(st), msg);
}

/* Counts an action against sieve_max_actions; false once over. */
static bool
sieve_charge(struct sieve_exec_state *st)
{
	if (st->budget->actions_left == 0) {
		if (!st->over_budget)
			sieve_fail(st, "total number of actions exceeds the limit "
				   "(sieve_max_actions = %u)", st->budget->max_actions);
		st->over_budget = true;
		return false;
	}
	st->budget->actions_left--;
	return true;
}

static struct sieve_action *
sieve_record(struct sieve_exec_state *st, enum sieve_action_kind kind)
{
	struct sieve_script_result *r = st->res;
	struct sieve_action *a;

	r->v = xreallocarray(r->v, r->count + 1, sizeof(*r->v));
	a = &r->v[r->count++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->script = xstrdup(st->script);
	return a;
}

static void
sieve_take_flags(struct sieve_exec_state *st, sieve2_context_t *c, char ***flags_r,
		 size_t *count_r)
{
	char **flags = sieve2_getvalue_stringlist(c, "flags");
	const char *prefix = sieve_flag_prefix();
	size_t i;

	for (i = 0; flags != NULL && flags[i] != NULL && i < 1000; i++) {
		char *flag = sieve_unescape(flags[i], SIEVE_FLAG_LEN_MAX * 8);
		const char *one[1] = { flag };

		if (strncmp(flag, prefix, strlen(prefix)) != 0)
			st->res->flags_dropped = sieve_flags_dropped_add(st->res->flags_dropped,
					sieve_flags_merge(flags_r, count_r, one, 1));
		free(flag);
	}
	for (; flags != NULL && flags[i] != NULL; i++)
		st->res->flags_dropped = sieve_flags_dropped_add(st->res->flags_dropped, 1);
}

static int
cb_keep(sieve2_context_t *c, void *ctx)
{
	struct sieve_exec_state *st = ctx;
	struct sieve_action *a;

	if (st->sentinel_keep) {
		/* Not an action: the internal flags at the end. */
		st->sentinel_keep = false;
		sieve_take_flags(st, c, &st->res->end_flags, &st->res->end_flag_count);
		return SIEVE2_OK;
	}
	if (!sieve_charge(st))
		return SIEVE2_OK;
	a = sieve_record(st, SIEVE_ACT_KEEP);
	a->folder = xstrdup("INBOX");
	sieve_take_flags(st, c, &a->flags, &a->flag_count);
	return SIEVE2_OK;
}

static int
cb_fileinto(sieve2_context_t *c, void *ctx)
{
	struct sieve_exec_state *st = ctx;
	const char *mbox = sieve2_getvalue_string(c, "mailbox");
	struct sieve_action *a;

	if (!sieve_charge(st))
		return SIEVE2_OK;
	a = sieve_record(st, SIEVE_ACT_FILEINTO);
	/* Validated (and refused if need be) by the pipeline, which knows
	 * the Maildir++ rules; the length bound is only a sanity cap. */
	a->folder = sieve_unescape(mbox != NULL ? mbox : "", 4096);
	sieve_take_flags(st, c, &a->flags, &a->flag_count);
	return SIEVE2_OK;
}

/* "Name <a@b>" or " a@b " -> "a@b"; NULL when it is not a plain address
 * we would hand to the MTA. */
static char *
sieve_clean_address(const char *in)
{
	const char *start = in, *end, *lt = strchr(in, '<'), *at;
	size_t len;

	if (lt != NULL) {
		const char *gt = strchr(lt, '>');

		if (gt == NULL)
			return NULL;
		start = lt + 1;
		end = gt;
	} else {
		end = in + strlen(in);
	}
	while (start < end && (*start == ' ' || *start == '\t'))
		start++;
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	len = (size_t)(end - start);
	if (len == 0 || len > SIEVE_ADDRESS_MAX)
		return NULL;
	for (const char *p = start; p < end; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch <= 0x20 || ch == 0x7f || strchr("<>()[],;:\\\"", ch) != NULL)
			return NULL;
	}
	at = memrchr(start, '@', len);
	if (at == NULL || at == start || at == end - 1)
		return NULL;
	return xstrndup(start, len);
}

static int
cb_redirect(sieve2_context_t *c, void *ctx)
{
	struct sieve_exec_state *st = ctx;
	const char *addr = sieve2_getvalue_string(c, "address");
	struct sieve_action *a;
	char *clean;

	if (!sieve_charge(st))
		return SIEVE2_OK;
	if (st->budget->redirects_left == 0) {
		sieve_fail(st, "too many redirects (sieve_max_redirects = %u)",
			   st->budget->max_redirects);
		return SIEVE2_OK;
	}
	st->budget->redirects_left--;
	{
		char *plain = sieve_unescape(addr != NULL ? addr : "", SIEVE_ADDRESS_MAX * 2);

		clean = sieve_clean_address(plain);
		free(plain);
	}
	if (clean == NULL) {
		char esc[LOG_ESCAPE_SIZE];

		sieve_fail(st, "redirect: invalid address '%s'",
			   log_escape(esc, sizeof(esc), addr != NULL ? addr : "",
				      addr != NULL ? strlen(addr) : 0));
		return SIEVE2_OK;
	}
	a = sieve_record(st, SIEVE_ACT_REDIRECT);
	a->address = clean;
	return SIEVE2_OK;
}

/* The reason goes into one LMTP reply line: white space runs (multi-line
 * text: strings) become one space, the length is bounded. */
static char *
sieve_one_line(const char *in, size_t max)
{
	char *out = xmalloc(max + 1);
	size_t o = 0;
	bool space = false;

	for (; *in != '\0' && o < max; in++) {
		if (*in == '\r' || *in == '\n' || *in == '\t' || *in == ' ') {
			space = o > 0;
			continue;
		}
		if (space && o + 1 < max)
			out[o++] = ' ';
		space = false;
		out[o++] = *in;
	}
	out[o] = '\0';
	return out;
}

static int
cb_reject(sieve2_context_t *c, void *ctx)
{
	struct sieve_exec_state *st = ctx;
	const char *msg = sieve2_getvalue_string(c, "message");
	struct sieve_action *a;

	if (!sieve_charge(st))
		return SIEVE2_OK;
	a = sieve_record(st, SIEVE_ACT_REJECT);
	{
		char *plain = sieve_unescape(msg != NULL ? msg : "", SIEVE_REJECT_MAX * 2);

		a->text = sieve_one_line(plain, SIEVE_REJECT_MAX);
		free(plain);
	}
	return SIEVE2_OK;
}

static int
cb_discard(sieve2_context_t *c, void *ctx)
{
	struct sieve_exec_state *st = ctx;

	(void)c;
	if (sieve_charge(st))
		(void)sieve_record(st, SIEVE_ACT_DISCARD);
	return SIEVE2_OK;
}

/* Whether subject is the "Re: ..." libsieve made from the message. */
static bool
sieve_generated_subject(struct sieve_exec_state *st, const char *subject)
{
	char **values = st->view != NULL
			? sieve_view_lookup(st->view, "subject", SIEVE_FIELD_PLAIN) : NULL;

	return values != NULL && values[0] != NULL && strncmp(subject, "Re: ", 4) == 0 &&
	       strncmp(subject + 4, values[0], 100) == 0;
}

/* The reply's subject: :subject as the script wrote it; else "Auto: " and
 * the message's whole Subject, or "Automated reply" for a message without
 * one (RFC 5230 4.3 and RFC 3834 3.1.5, as Pigeonhole does; libsieve
 * makes "Re: " and a copy cut at 127 bytes); else (a command past
 * SIEVE_CMDS_MAX) what libsieve passed, back to a whole UTF-8
 * character. */
static char *
sieve_vacation_subject(struct sieve_exec_state *st, const struct sieve_cmd *cmd,
		       const char *subject)
{
	char **values;

	if (cmd != NULL && cmd->subject != NULL)
		return sieve_strdup_utf8(cmd->subject, 998);
	values = st->view != NULL
		 ? sieve_view_lookup(st->view, "subject", SIEVE_FIELD_PLAIN) : NULL;
	if (cmd != NULL) {
		char *full, *out;

		if (values == NULL || values[0] == NULL ||
		    values[0][strspn(values[0], " \t")] == '\0')
			return xstrdup("Automated reply");
		full = xasprintf("Auto: %s", values[0]);
		out = sieve_strdup_utf8(full, 998);
		free(full);
		return out;
	}
	if (subject == NULL)
		return NULL;
	/* libsieve's own "Re: <Subject>" is message text, not a script
	 * string: only a :subject is unescaped. */
	if (sieve_generated_subject(st, subject))
		return sieve_strdup_utf8(subject, 998);
	{
		char *plain = sieve_unescape(subject, 998);
		char *out = sieve_strdup_utf8(plain, 998);

		free(plain);
		return out;
	}
}

/* RFC 5230 4.2: without :handle, the handle is derived from :subject,
 * :from and the reason as the script wrote them (NULL: not given), not
 * from the subject made from the message or the address libsieve found
 * (the recipient with its detail): one reply per :days, whatever the
 * message's Subject or the detail it came to.  libsieve 2.2.6 leaves
 * the handle NULL. */
static char *
sieve_vacation_handle(const char *subject, const char *from, const char *reason,
		      bool mime)
{
	const char *parts[3] = { subject, from, reason };
	unsigned long long h = 14695981039346656037ULL;	/* FNV-1a 64 */

	for (size_t i = 0; i < 3; i++) {
		for (const char *p = parts[i] != NULL ? parts[i] : ""; *p != '\0'; p++) {
			h ^= (unsigned char)*p;
			h *= 1099511628211ULL;
		}
		/* absent and "" differ */
		h ^= parts[i] != NULL ? 0xff : 0xfe;
		h *= 1099511628211ULL;
	}
	h ^= mime ? 1 : 0;
	h *= 1099511628211ULL;
	return xasprintf("auto:%016llx", h);
}

/* A placeholder sender libsieve's vacation checks let through. */
#define SIEVE_VACATION_SENDER "vacation-sender@lmtpd.invalid"

/* Header lookups of libsieve's own vacation checks (while the vacation
 * command runs): no Auto-Submitted or Precedence, and the recipient as
 * one more Bcc, after the real ones (so the address it finds is the one
 * it found before whenever the message names one).  Returns true when
 * *values_r is the answer (NULL: absent). */
static bool
sieve_vacation_lookup(struct sieve_exec_state *st, const char *name, char ***values_r)
{
	const struct sieve_msg *m;
	char **real, **values;
	size_t n = 0;

	if (sieve_cur_cmd(st, SIEVE_CMD_VACATION) == NULL)
		return false;
	if (strcasecmp(name, "auto-submitted") == 0 || strcasecmp(name, "precedence") == 0) {
		*values_r = NULL;
		return true;
	}
	m = sieve_view_msg(st->view);
	if (strcasecmp(name, "bcc") != 0 || m->env_to == NULL || m->env_to[0] == '\0')
		return false;
	real = sieve_view_lookup(st->view, name, SIEVE_FIELD_PLAIN);
	while (real != NULL && real[n] != NULL)
		n++;
	values = xcalloc(n + 2, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		values[i] = real[i];
	values[n] = sieve_view_keep(st->view, xstrdup(m->env_to));
	*values_r = (char **)sieve_view_keep(st->view, (char *)values);
	return true;
}

static int
cb_vacation(sieve2_context_t *c, void *ctx)
{
	struct sieve_exec_state *st = ctx;
	const char *addr = sieve2_getvalue_string(c, "address");
	const char *from = sieve2_getvalue_string(c, "fromaddr");
	const char *subject = sieve2_getvalue_string(c, "subject");
	const char *reason = sieve2_getvalue_string(c, "message");
	const char *hash = sieve2_getvalue_string(c, "hash");
	int days = sieve2_getvalue_int(c, "days");
	const struct sieve_cmd *cmd = sieve_cur_cmd(st, SIEVE_CMD_VACATION);
	const struct sieve_msg *m;
	struct sieve_action *a;

	if (!sieve_charge(st))
		return SIEVE2_OK;
	/* libsieve answers the placeholder: the sender is the envelope's
	 * ("" for the null sender, which lmtpd's rules refuse, logged). */
	m = st->view != NULL ? sieve_view_msg(st->view) : NULL;
	if (m != NULL)
		addr = m->env_from != NULL ? m->env_from : "";
	else if (addr == NULL)
		return SIEVE2_OK;
	a = sieve_record(st, SIEVE_ACT_VACATION);
	a->vacation.address = sieve_strdup_max(addr, SIEVE_ADDRESS_MAX);
	a->vacation.from = sieve_unescape(from, SIEVE_ADDRESS_MAX);
	a->vacation.subject = sieve_vacation_subject(st, cmd, subject);
	if (cmd != NULL && cmd->address_count > 0) {
		a->vacation.addresses = xcalloc(cmd->address_count, sizeof(char *));
		for (size_t i = 0; i < cmd->address_count; i++)
			a->vacation.addresses[i] = xstrdup(cmd->addresses[i]);
		a->vacation.address_count = cmd->address_count;
	}
	a->vacation.reason = sieve_unescape(reason != NULL ? reason : "", SIEVE_REASON_MAX);
	/* libsieve 2.2.6 passes a token value, not 0/1, for :mime. */
	a->vacation.mime = sieve2_getvalue_int(c, "mime") > 0;
	a->vacation.handle = hash != NULL && hash[0] != '\0'
		? xasprintf("handle:%.900s", hash)	/* raw: only compared */
		: sieve_vacation_handle(cmd != NULL ? cmd->subject : NULL,
					cmd != NULL ? cmd->from : NULL,
					a->vacation.reason, a->vacation.mime);
	/* RFC 5230 4.1: at least 1 day; the site sets the maximum. */
	if (days < 1)
		days = 1;
	if ((unsigned int)days > st->budget->vacation_max_days)
		days = (int)st->budget->vacation_max_days;
	a->vacation.days = (unsigned int)days;
	return SIEVE2_OK;
}

static int
cb_err_parse(sieve2_context_t *c, void *ctx)
{
	struct sieve_exec_state *st = ctx;

	st->res->status = SIEVE_SCRIPT_INVALID;
	sieve_add_error(st, sieve2_getvalue_int(c, "lineno"),
			sieve2_getvalue_string(c, "message"));
	return SIEVE2_OK;
}

static int
cb_err_runtime(sieve2_context_t *c, void *ctx)
{
	struct sieve_exec_state *st = ctx;

	if (st->res->status == SIEVE_SCRIPT_OK)
		st->res->status = SIEVE_SCRIPT_FAILED;
	sieve_add_error(st, sieve_cur_line(st), sieve2_getvalue_string(c, "message"));
	return SIEVE2_OK;
}

/* A bad address or header: in the script itself at validation (an
 * error), in the message at run time (the test does not match). */
static int
cb_err_address(sieve2_context_t *c, void *ctx)
{
	struct sieve_exec_state *st = ctx;
	const char *msg = sieve2_getvalue_string(c, "message");

	if (st->validate) {
		char full[512];

		snprintf(full, sizeof(full), "invalid address: %s",
			 msg != NULL ? msg : "?");
		st->res->status = SIEVE_SCRIPT_INVALID;
		sieve_add_error(st, 0, full);
	} else {
		log_debug("sieve: %s: message address not parsed: %s", st->script,
			  msg != NULL ? msg : "?");
		sieve_addr_lex_dirty = true;
	}
	return SIEVE2_OK;
}

static int
cb_getscript(sieve2_context_t *c, void *ctx)
{
	struct sieve_exec_state *st = ctx;
	const char *path = sieve2_getvalue_string(c, "path");
	const char *name = sieve2_getvalue_string(c, "name");

	/* Only the main script: libsieve 2.2.6 has no include. */
	if ((path != NULL && path[0] != '\0') || (name != NULL && name[0] != '\0'))
		return SIEVE2_OK;
	sieve2_setvalue_string(c, "script", (char *)st->text);
	return SIEVE2_OK;
}

/* For a :count test rewritten as :value (sieve_rewrite): one value, the
 * number of values of every field of names (joined by ','), 0 for none. */
static char **
sieve_count_values(struct sieve_exec_state *st, const char *names,
		   enum sieve_field_use use)
{
	size_t n = 0;

	while (*names != '\0') {
		size_t len = strcspn(names, ",");
		char *name = xstrndup(names, len);
		char **values = sieve_view_lookup(st->view, name, use);

		for (size_t k = 0; values != NULL && values[k] != NULL; k++)
			n++;
		free(name);
		names += len + (names[len] == ',');
	}
	return sieve_view_one(st->view, xasprintf("%zu", n));
}

static int
cb_getheader(sieve2_context_t *c, void *ctx)
{
	struct sieve_exec_state *st = ctx;
	const char *name = sieve2_getvalue_string(c, "header");
	char **values;
	size_t cmd;

	sieve_addr_lex_reset();
	if (name == NULL || st->view == NULL)
		return SIEVE2_OK;
	if ((cmd = sieve_cmd_marker_index(name)) > 0) {
		/* Absent, so the marker's test is false. */
		st->cur = cmd;
		if (sieve_progress != NULL && cmd <= st->cmds.count)
			sieve_progress->line = st->cmds.v[cmd - 1].line;
		return SIEVE2_OK;
	}
	if (strcasecmp(name, sieve_null_sender_field()) == 0) {
		sieve2_setvalue_stringlist(c, "body", sieve_view_one(st->view, xstrdup("")));
		return SIEVE2_OK;
	}
	if (strcmp(name, sieve_sentinel()) == 0) {
		st->res->end_reached = true;
		st->sentinel_keep = true;
		/* Present, so the sentinel's keep reports the flags. */
		sieve2_setvalue_stringlist(c, "body", sieve_view_one(st->view, xstrdup("")));
		return SIEVE2_OK;
	}
	if (!sieve_vacation_lookup(st, name, &values)) {
		enum sieve_field_use use;
		const char *names = sieve_count_marker(name, &use), *field;

		if (names != NULL) {
			values = sieve_count_values(st, names, use);
		} else {
			field = sieve_field_marker(name, &use);
			values = sieve_view_lookup(st->view, field, use);
		}
	}
	if (values != NULL)
		sieve2_setvalue_stringlist(c, "body", values);
	return SIEVE2_OK;
}

static int
cb_getenvelope(sieve2_context_t *c, void *ctx)
{
	struct sieve_exec_state *st = ctx;
	const struct sieve_msg *m;

	sieve_addr_lex_reset();
	if (st->view == NULL)
		return SIEVE2_OK;
	m = sieve_view_msg(st->view);

	/* A null sender has no address libsieve can parse: envelope tests
	 * of "from" then read sieve_null_sender_field (sieve_rewrite). */
	if (sieve_cur_cmd(st, SIEVE_CMD_VACATION) != NULL)
		/* libsieve's vacation checks: see sieve_vacation_lookup */
		sieve2_setvalue_string(c, "from", (char *)SIEVE_VACATION_SENDER);
	else if (m->env_from != NULL && m->env_from[0] != '\0')
		sieve2_setvalue_string(c, "from", (char *)m->env_from);
	if (m->env_to != NULL && m->env_to[0] != '\0')
		sieve2_setvalue_string(c, "to", (char *)m->env_to);
	return SIEVE2_OK;
}

static int
cb_getsize(sieve2_context_t *c, void *ctx)
{
	struct sieve_exec_state *st = ctx;
	size_t size = st->view != NULL ? sieve_view_msg(st->view)->size : 0;

	sieve2_setvalue_int(c, "size", size > INT_MAX ? INT_MAX : (int)size);
	return SIEVE2_OK;
}

/* RFC 5233: user and detail split at the first recipient_delimiter
 * character; no delimiter, no detail (so :detail never matches). */
static int
cb_getsubaddress(sieve2_context_t *c, void *ctx)
{
	struct sieve_exec_state *st = ctx;
	const char *addr = sieve2_getvalue_string(c, "address");
	const char *delims, *at;
	char *local, *domain;
	size_t split;

	if (addr == NULL || st->view == NULL)
		return SIEVE2_OK;
	delims = sieve_view_msg(st->view)->recipient_delimiter;
	at = strrchr(addr, '@');
	local = sieve_view_keep(st->view, at != NULL ? xstrndup(addr, (size_t)(at - addr))
						: xstrdup(addr));
	domain = sieve_view_keep(st->view, xstrdup(at != NULL ? at + 1 : ""));
	sieve2_setvalue_string(c, "localpart", local);
	sieve2_setvalue_string(c, "domain", domain);
	split = delims != NULL && delims[0] != '\0' ? strcspn(local, delims) : strlen(local);
	if (local[split] != '\0') {
		sieve2_setvalue_string(c, "user",
				       sieve_view_keep(st->view, xstrndup(local, split)));
		sieve2_setvalue_string(c, "detail", local + split + 1);
	} else {
		sieve2_setvalue_string(c, "user", local);
	}
	return SIEVE2_OK;
}

static sieve2_callback_t sieve_callbacks[] = {
	{ SIEVE2_ACTION_REDIRECT, cb_redirect },
	{ SIEVE2_ACTION_REJECT, cb_reject },
	{ SIEVE2_ACTION_DISCARD, cb_discard },
	{ SIEVE2_ACTION_FILEINTO, cb_fileinto },
	{ SIEVE2_ACTION_KEEP, cb_keep },
	{ SIEVE2_ACTION_VACATION, cb_vacation },
	{ SIEVE2_ERRCALL_RUNTIME, cb_err_runtime },
	{ SIEVE2_ERRCALL_PARSE, cb_err_parse },
	{ SIEVE2_ERRCALL_HEADER, cb_err_address },
	{ SIEVE2_ERRCALL_ADDRESS, cb_err_address },
	{ SIEVE2_SCRIPT_GETSCRIPT, cb_getscript },
	{ SIEVE2_MESSAGE_GETHEADER, cb_getheader },
	{ SIEVE2_MESSAGE_GETENVELOPE, cb_getenvelope },
	{ SIEVE2_MESSAGE_GETSIZE, cb_getsize },
	{ SIEVE2_MESSAGE_GETSUBADDRESS, cb_getsubaddress },
	/* libsieve 2.2.6 stops at value 0 (see above). */
	{ SIEVE2_VALUE_FIRST, NULL },
};

/* libsieve 2.2.6 leaks a parser node when a script does not parse (its
 * error path does not free it).  In the daemon that happens in the
 * sandbox child, which _exit()s; programs that validate inline
 * (lmtpd-sieve, the unit tests) would have LeakSanitizer fail them for a
 * leak that is not ours.  The hook is only called when LSan is linked in. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libsieve.so\n";
}

/* The replacement above works only while libsieve calls the function
 * through its PLT.  A libsieve built with -Bsymbolic or hidden
 * visibility would call its own again, silently: an unsupported
 * "require" name makes libsieve join an error text, so validating one
 * shows whose joiner ran. */
bool
sieve_strconcat_mended(void)
{
	static const char probe[] = "require \"x-lmtpd-strconcat-probe\";\n";
	struct sieve_budget budget = { 1, 1, 1, 1, 1 };
	struct sieve_script_result res;
	unsigned long before = sieve_strconcat_calls;

	sieve_exec_script("(probe)", probe, sizeof(probe) - 1, true, NULL, &budget, &res);
	sieve_script_result_free(&res);
	return sieve_strconcat_calls != before;
}

const char *
sieve_extensions(void)
{
	static char list[256];
	sieve2_context_t *c = NULL;

	if (list[0] != '\0')
		return list;
	if (sieve2_alloc(&c) == SIEVE2_OK && sieve2_callbacks(c, sieve_callbacks) == SIEVE2_OK) {
		const char *ext = sieve2_listextensions(c);

		snprintf(list, sizeof(list), "%s", ext != NULL ? ext : "");
		/* libsieve ends the list with a space. */
		for (size_t n = strlen(list); n > 0 && list[n - 1] == ' '; n--)
			list[n - 1] = '\0';
	}
	if (c != NULL)
		sieve2_free(&c);
	return list;
}

void
sieve_script_result_free(struct sieve_script_result *r)
{
	for (size_t i = 0; i < r->count; i++)
		sieve_action_clear(&r->v[i]);
	free(r->v);
	for (size_t i = 0; i < r->end_flag_count; i++)
		free(r->end_flags[i]);
	free(r->end_flags);
	buf_free(&r->errors);
	memset(r, 0, sizeof(*r));
}

/* libsieve ended execution without an error callback, neither at the end
 * nor at a stop: it refused the last command marked (an action it holds
 * incompatible with one taken before).  Pigeonhole makes a run-time error
 * of such a conflict; so do we (implicit keep, logged with the line). */
static void
sieve_check_refusal(struct sieve_exec_state *st)
{
	const struct sieve_cmd *cmd;

	if (st->res->status != SIEVE_SCRIPT_OK || st->res->end_reached || st->cmds.overflow)
		return;
	if (st->cur == 0 || st->cur > st->cmds.count) {
		/* Not at a command we marked: nothing to tell. */
		return;
	}
	cmd = &st->cmds.v[st->cur - 1];
	/* (After an if's test, only a stop or a refused action ends the
	 * script early, and both are marked after it.) */
	if (cmd->kind == SIEVE_CMD_STOP || cmd->kind == SIEVE_CMD_IF)
		return;
	/* (libsieve 2.2.6 lets discard and the flag commands go with a
	 * reject, and a second vacation be.) */
	if (cmd->kind == SIEVE_CMD_REJECT)
		sieve_fail(st, "reject can not be used with keep, fileinto, redirect, "
			   "vacation or another reject (libsieve refused it and ended "
			   "the script)");
	else
		sieve_fail(st, "%s can not be used with reject (libsieve refused it and "
			   "ended the script)", sieve_cmd_name(cmd->kind));
}

/* Whether a vacation :addresses entry names an address: an '@' outside
 * RFC 5322 comments and quoted strings.  libsieve's validation lets a
 * lone word ("me", "me (comment)") through, and its "addressed to me"
 * check (vacation without :from) then compares that address's missing
 * domain and crashes the interpreter; with :from the entry could never
 * match anything either. */
static bool
sieve_vacation_address_ok(const char *s)
{
	unsigned int depth = 0;
	bool quoted = false;

	for (; *s != '\0'; s++) {
		if (*s == '\\' && (quoted || depth > 0) && s[1] != '\0')
			s++;
		else if (quoted)
			quoted = *s != '"';
		else if (*s == '(')
			depth++;
		else if (*s == ')' && depth > 0)
			depth--;
		else if (depth == 0 && *s == '"')
			quoted = true;
		else if (depth == 0 && *s == '@')
			return true;
	}
	return false;
}

/* Script errors libsieve's validation misses and then trips over at run
 * time: envelope parts other than from and to (sieve_envelope_parts_ok),
 * and :addresses entries (above) of the commands sieve_rewrite() marked. */
static void
sieve_validate_cmds(struct sieve_exec_state *st)
{
	char part[65];
	unsigned int line = 0;

	char why[128];

	if (!sieve_requires_ok(st->text, st->text_len, why, sizeof(why), &line)) {
		st->res->status = SIEVE_SCRIPT_INVALID;
		sieve_add_error(st, (int)line, why);
		return;
	}
	if (!sieve_envelope_parts_ok(st->text, st->text_len, part, sizeof(part), &line)) {
		char msg[128];

		snprintf(msg, sizeof(msg), "envelope part \"%s\" is not supported "
			 "(\"from\" or \"to\")", part);
		st->res->status = SIEVE_SCRIPT_INVALID;
		sieve_add_error(st, (int)line, msg);
		return;
	}
	for (size_t i = 0; i < st->cmds.count; i++) {
		const struct sieve_cmd *cmd = &st->cmds.v[i];

		for (size_t k = 0; cmd->kind == SIEVE_CMD_VACATION && k < cmd->address_count;
		     k++) {
			char msg[SIEVE_ADDRESS_MAX + 64];

			if (sieve_vacation_address_ok(cmd->addresses[k]))
				continue;
			snprintf(msg, sizeof(msg), "vacation :addresses entry \"%s\" is not "
				 "an address", cmd->addresses[k]);
			st->res->status = SIEVE_SCRIPT_INVALID;
			sieve_add_error(st, (int)cmd->line, msg);
			return;
		}
	}
}

void
sieve_exec_script(const char *script, const char *text, size_t len, bool validate,
		  struct sieve_view *view, struct sieve_budget *budget,
		  struct sieve_script_result *res)
{
	struct sieve_exec_state st;
	sieve2_context_t *c = NULL;
	char *full = NULL;
	int ret;

	memset(res, 0, sizeof(*res));
	buf_init(&res->errors, 0);
	memset(&st, 0, sizeof(st));
	st.view = view;
	st.budget = budget;
	st.res = res;
	st.script = script;
	st.validate = validate;
	if (memchr(text, '\0', len) != NULL) {
		res->status = SIEVE_SCRIPT_INVALID;
		sieve_add_error(&st, 0, "NUL byte in script");
		return;
	}
	{
		unsigned int line = 0;
		const char *open = sieve_text_unterminated(text, len, &line);

		if (open != NULL) {
			res->status = SIEVE_SCRIPT_INVALID;
			sieve_add_error(&st, (int)line, open);
			return;
		}
	}
	if (validate) {
		struct buf scratch;

		full = xstrndup(text, len);
		sieve_upcase_quantifiers(full, len);
		/* Only for the commands (sieve_validate_cmds). */
		buf_init(&scratch, 0);
		sieve_rewrite(text, len, false, &scratch, &st.cmds);
		buf_free(&scratch);
	} else {
		/* The sentinel goes on a line of its own, so the script's
		 * line numbers stay what the user wrote. */
		const struct sieve_msg *m = view != NULL ? sieve_view_msg(view) : NULL;
		struct buf b;

		buf_init(&b, 0);
		sieve_rewrite(text, len, m != NULL && (m->env_from == NULL || m->env_from[0] == '\0'),
			      &b, &st.cmds);
		buf_putf(&b, "\nif exists \"%s\" { keep; }\n", sieve_sentinel());
		full = buf_steal(&b, NULL);
	}
	st.text = full;
	st.text_len = strlen(full);
	sieve_addr_lex_reset();
	ret = sieve2_alloc(&c);
	if (ret == SIEVE2_OK)
		ret = sieve2_callbacks(c, sieve_callbacks);
	if (ret == SIEVE2_OK)
		ret = validate ? sieve2_validate(c, &st) : sieve2_execute(c, &st);
	if (ret != SIEVE2_OK) {
		if (res->status == SIEVE_SCRIPT_OK)
			res->status = validate ? SIEVE_SCRIPT_INVALID : SIEVE_SCRIPT_FAILED;
		sieve_add_error(&st, 0, sieve2_errstr(ret));
	}
	if (validate && ret == SIEVE2_OK && res->status == SIEVE_SCRIPT_OK)
		sieve_validate_cmds(&st);
	if (!validate && ret == SIEVE2_OK)
		sieve_check_refusal(&st);
	if (c != NULL)
		sieve2_free(&c);
	free(full);
	sieve_cmds_free(&st.cmds);
	if (res->status != SIEVE_SCRIPT_OK) {
		for (size_t i = 0; i < res->count; i++)
			sieve_action_clear(&res->v[i]);
		res->count = 0;
	}
}
