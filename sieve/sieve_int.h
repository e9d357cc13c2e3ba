/* Internals shared by the files of the Sieve adapter (not for the rest of
 * lmtpd): running one script through libsieve (sieve_exec.c) and the
 * action-list helpers (sieve_actions.c). */
#ifndef LMTPD_SIEVE_INT_H
#define LMTPD_SIEVE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include "buf.h"
#include "sieve_actions.h"
#include "sieve_run.h"

/* A redirect address (RFC 5321 path) and a reject reason. */
#define SIEVE_ADDRESS_MAX 256
#define SIEVE_REJECT_MAX 1000
/* A vacation reason (scripts are bounded anyway). */
#define SIEVE_REASON_MAX (1024 * 1024)
/* Error text kept per script. */
#define SIEVE_SCRIPT_ERRORS_MAX 4096

/* The message as libsieve's callbacks see it, built once per recipient. */
struct sieve_view;

struct sieve_view *sieve_view_new(const struct sieve_msg *msg);
void sieve_view_free(struct sieve_view **view);
const struct sieve_msg *sieve_view_msg(const struct sieve_view *view);
/* How a field's values are handed to libsieve. */
enum sieve_field_use {
	/* Unfolded; RFC 2047 decoded except in address fields (libsieve
	 * parses addresses out of those): what a name the script text was
	 * not rewritten for gets (exists, vacation's own checks). */
	SIEVE_FIELD_PLAIN,
	/* For a header test: every field decoded, address fields too
	 * (RFC 5228 2.7.2), as Pigeonhole does. */
	SIEVE_FIELD_DECODED,
	/* For an address test: raw, each address (or group member) its own
	 * value, so one libsieve can not parse costs only itself. */
	SIEVE_FIELD_ADDRESSES,
};

/* The values of field name (NULL-terminated; NULL when absent), valid
 * until the view is freed. */
char **sieve_view_lookup(struct sieve_view *view, const char *name,
			 enum sieve_field_use use);
/* Whether name is a field whose value is a list of addresses. */
bool sieve_is_address_field(const char *name);
/* The addresses of an address-list value: a copy of each element (group
 * members; group names, empty elements and white space around dropped)
 * goes to add(ctx, start, len); at most max of them. */
void sieve_address_elements(const char *value, size_t max,
			    void (*add)(void *ctx, const char *start, size_t len), void *ctx);
/* Keeps s (malloc'd) until the view is freed; returns s. */
char *sieve_view_keep(struct sieve_view *view, char *s);
/* A value list of s alone (malloc'd), kept until the view is freed. */
char **sieve_view_one(struct sieve_view *view, char *s);

/* Script text (sieve_text.c). */
/* The header name of the end-of-script sentinel, random per process. */
const char *sieve_sentinel(void);
/* The prefix of the helper flags sieve_rewrite() adds. */
const char *sieve_flag_prefix(void);
/* The field a header name from libsieve asks for, and how (a name
 * sieve_rewrite() put in a header or address test; any other name is
 * itself, SIEVE_FIELD_PLAIN). */
const char *sieve_field_marker(const char *name, enum sieve_field_use *use_r);
/* For the name sieve_rewrite() put in a :count test (made a :value test
 * of the count): the field names it counts, joined by ',', and how to
 * read them; NULL for any other name. */
const char *sieve_count_marker(const char *name, enum sieve_field_use *use_r);
/* Turns the lower-case quantifiers of numbers ("1k") to upper case in
 * place, the only case libsieve's lexer knows. */
void sieve_upcase_quantifiers(char *text, size_t len);

/* The action commands sieve_rewrite() marks (and stop). */
enum sieve_cmd_kind {
	SIEVE_CMD_KEEP,
	SIEVE_CMD_FILEINTO,
	SIEVE_CMD_REDIRECT,
	SIEVE_CMD_REJECT,
	SIEVE_CMD_DISCARD,
	SIEVE_CMD_VACATION,
	SIEVE_CMD_STOP,
	SIEVE_CMD_SETFLAG,
	SIEVE_CMD_ADDFLAG,
	SIEVE_CMD_REMOVEFLAG,
	SIEVE_CMD_IF,		/* if or elsif: its test is marked */
};

/* Commands marked per script; past this the rest runs unmarked (no line
 * in its errors). */
#define SIEVE_CMDS_MAX 4096

struct sieve_cmd {
	enum sieve_cmd_kind kind;
	unsigned int line;
	/* VACATION: the arguments libsieve passes on cut, changed or not at
	 * all, as the script wrote them (escapes undone, each bounded); NULL
	 * and 0 when not given. */
	char *subject;
	char *from;
	char **addresses;
	size_t address_count;
};

struct sieve_cmds {
	struct sieve_cmd *v;
	size_t count;
	bool overflow;		/* more than SIEVE_CMDS_MAX commands */
};

/* The text handed to libsieve's execute: setflag/removeflag rewritten
 * around libsieve's bugs, and before each command of enum sieve_cmd_kind
 * a test of a header that never exists, named after the command's index
 * in cmds (sieve_cmd_marker_index), so the getheader callback learns which
 * command runs next; the test of an if or elsif becomes
 * anyof(exists "MARKER", TEST), the same truth value.  Everything is inserted on the command's own line:
 * line numbers stay the script's.  With null_sender, envelope tests of
 * "from" become header tests of sieve_null_sender_field().  cmds is
 * filled (free it with sieve_cmds_free). */
void sieve_rewrite(const char *text, size_t len, bool null_sender, struct buf *out,
		   struct sieve_cmds *cmds);
/* The field whose one value is "": what an envelope test of "from"
 * reads for a message from the null sender (RFC 5228 5.4). */
const char *sieve_null_sender_field(void);
void sieve_cmds_free(struct sieve_cmds *cmds);
/* "unterminated comment" or "unterminated string" when the script ends
 * inside a bracket comment or a quoted string (*line_r: where it began),
 * else NULL.  Such a script is a syntax error (RFC 5228 2.3, 2.4.2), but
 * with lmtpd's end-of-script test appended libsieve would read that test
 * as part of it and report something else, or nothing. */
const char *sieve_text_unterminated(const char *text, size_t len, unsigned int *line_r);
/* Whether every envelope test of the script names only the parts
 * "from" and "to" (any case).  libsieve 2.2.6 accepts any part name and
 * then evaluates the test on memory it never set (an interpreter crash,
 * or a match by chance).  If not, the first other part (cut to bad_size)
 * and the line of its test. */
bool sieve_envelope_parts_ok(const char *text, size_t len, char *bad, size_t bad_size,
			     unsigned int *line_r);
/* Whether the script's comparators are ones there are, and do the match
 * asked of them (RFC 5228 2.7.3, RFC 4790 9.1; Pigeonhole refuses both):
 * libsieve 2.2.6 lets an unknown comparator, and i;ascii-numeric with a
 * substring match, pass and runs the test as silently false.  If not,
 * why (cut to why_size) and the line. */
bool sieve_requires_ok(const char *text, size_t len, char *why, size_t why_size,
		       unsigned int *line_r);
/* If name is the marker of command i, i + 1; else 0. */
size_t sieve_cmd_marker_index(const char *name);
/* "keep", "fileinto", ... */
const char *sieve_cmd_name(enum sieve_cmd_kind kind);
/* Where the interpreter is: sieve_sandbox.c shares this with the worker
 * (a page mapped before the fork), so a run stopped by the CPU limit or a
 * crash can still name the script and the line.  NULL when inline. */
struct sieve_progress {
	volatile int script;		/* index in the run's scripts, -1 none */
	volatile unsigned int line;	/* of the last command marked, 0 none */
};
extern struct sieve_progress *sieve_progress;

/* s cut at max bytes and back to the last whole UTF-8 character (an
 * incomplete sequence at the end, from this cut or an earlier one, is
 * dropped); NULL for NULL. */
char *sieve_strdup_utf8(const char *s, size_t max);
/* RFC 5228 2.4.2 escapes undone unless s holds a line break; at most max
 * bytes; NULL for NULL. */
char *sieve_unescape(const char *s, size_t max);
/* s cut at max bytes. */
char *sieve_strdup_max(const char *s, size_t max);

/* What one script did. */
enum sieve_script_status {
	SIEVE_SCRIPT_OK,
	SIEVE_SCRIPT_INVALID,	/* does not parse or needs a missing extension */
	SIEVE_SCRIPT_FAILED,	/* run-time error or a limit */
};

struct sieve_script_result {
	enum sieve_script_status status;
	/* "line N: error: MESSAGE" lines, bounded. */
	struct buf errors;
	/* Recorded actions in script order (KEEP, FILEINTO, REDIRECT,
	 * REJECT, DISCARD, VACATION). */
	struct sieve_action *v;
	size_t count;
	/* Execution reached the end of the script (false: `stop`, or
	 * libsieve gave up on an action it considers incompatible). */
	bool end_reached;
	/* The imap4flags internal variable at the end (for the implicit
	 * keep). */
	char **end_flags;
	size_t end_flag_count;
	/* Flags sieve_take_flags could not keep (sieve_flags_merge), at
	 * most SIEVE_FLAGS_DROPPED_MAX. */
	size_t flags_dropped;
};

struct sieve_budget {
	unsigned int actions_left;
	unsigned int redirects_left;
	unsigned int max_actions, max_redirects;
	unsigned int vacation_max_days;
};

/* Validates text[0..len) (validate) or runs it on view (!validate; view
 * must not be NULL).  script names the script in recorded actions. */
/* libsieve's internal string joiner, replaced by sieve_exec.c's (libsieve
 * 2.2.6's writes one byte past its buffer): pieces up to a NULL, in one
 * malloc'd string. */
char *libsieve_strconcat(const char *str, ...);
void sieve_exec_script(const char *script, const char *text, size_t len, bool validate,
		       struct sieve_view *view, struct sieve_budget *budget,
		       struct sieve_script_result *res);
void sieve_script_result_free(struct sieve_script_result *res);

/* One script of a run, as sieve_run read it, and what the run reported
 * about it (for the validation cache and the user's log). */
enum sieve_role { SIEVE_ROLE_BEFORE, SIEVE_ROLE_USER, SIEVE_ROLE_AFTER };

struct sieve_script {
	char *path;
	enum sieve_role role;
	char *text;
	size_t len;
	char *read_error;	/* set: could not be used */
	struct stat st;
	int cached;		/* -1 unknown, 0 invalid, 1 valid */
	char *cached_errors;
	/* Reported back by the run. */
	bool validated, valid, failed;
	char *errors;
};

/* The run as bytes (sieve_run.c): what the interpreter process sends
 * back, and its reading; NULL when malformed. */
struct buf;
void sieve_sequence_serialized(const struct sieve_settings *set, struct sieve_script *scripts,
			       size_t n, const struct sieve_msg *msg, struct buf *out);
struct sieve_actions *sieve_result_parse(const char *data, size_t len,
					 struct sieve_script *scripts, size_t n);
/* An implicit keep in INBOX with error set, for failures around the
 * interpreter itself. */
struct sieve_actions *sieve_fallback_keep(const char *why);

/* The long-lived interpreter process of a worker (sieve_sandbox.c),
 * started on first use. */
struct sieve_sandbox;
struct sieve_sandbox *sieve_sandbox_new(void);
void sieve_sandbox_free(struct sieve_sandbox **sandbox);
pid_t sieve_sandbox_pid(const struct sieve_sandbox *sandbox);
struct sieve_actions *sieve_sandbox_run(struct sieve_sandbox *sandbox,
					const struct sieve_settings *set,
					struct sieve_script *scripts, size_t n,
					const struct sieve_msg *msg);

/* Runs scripts[0..n) on msg with set's limits (sieve_sequence.c); fills
 * out and each script's validated/valid/failed/errors. */
void sieve_sequence(const struct sieve_settings *set, struct sieve_script *scripts,
		    size_t n, const struct sieve_msg *msg, struct sieve_actions *out);

/* Action helpers. */
void sieve_action_clear(struct sieve_action *a);
struct sieve_action *sieve_actions_append(struct sieve_actions *list);
/* Splits each flag at white space, drops duplicates (case-insensitive),
 * appends to *flags_r (bounded by SIEVE_FLAGS_MAX).  Returns how many
 * flags did not fit (past SIEVE_FLAGS_MAX, or longer than
 * SIEVE_FLAG_LEN_MAX), for the log. */
size_t sieve_flags_merge(char ***flags_r, size_t *count_r, const char *const *add,
			 size_t add_count);
/* count + n, saturated at SIEVE_FLAGS_DROPPED_MAX (count already at most
 * that). */
size_t sieve_flags_dropped_add(size_t count, size_t n);

/* Serialization of a resolved action list (sandbox child -> parent). */
void sieve_actions_serialize(const struct sieve_actions *a, struct buf *out);
/* Returns a list, or NULL when data is malformed. *pos advances. */
struct sieve_actions *sieve_actions_deserialize(const char *data, size_t len,
						size_t *pos);
void sieve_ser_uint(struct buf *out, unsigned long v);
void sieve_ser_str(struct buf *out, const char *s);
int sieve_de_uint(const char *data, size_t len, size_t *pos, unsigned long *v_r);
/* *s_r is malloc'd (NULL for a NULL string). */
int sieve_de_str(const char *data, size_t len, size_t *pos, char **s_r);

#endif
