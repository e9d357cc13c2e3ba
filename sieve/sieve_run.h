/* sieve_run: runs the admin's before scripts, the user's script and the
 * admin's after scripts on one message with libsieve, and returns the
 * resolved action list (sieve_actions.h).
 *
 * Semantics (Pigeonhole's for sieve_before/sieve_after):
 * - the scripts run in order: sieve_before (a file, or a folder's *.sieve
 *   in name order), the user's script, sieve_after; a missing user script
 *   is skipped;
 * - the next script runs only while the keep is in effect (the implicit
 *   keep not cancelled by fileinto, redirect, reject or discard, or an
 *   explicit keep); a `stop` in the user's script also ends the sequence;
 *   the keep of a script that is not the last one to run is deferred, so
 *   the implicit keep is decided once, by the last script;
 * - a script that does not parse, fails at run time or exceeds a limit
 *   contributes nothing; the sequence ends and the message is kept in
 *   INBOX (error set, error_text says why, with file and line).
 *
 * Safety: every script is hostile input.  Scripts are read with a size
 * limit; libsieve runs in a separate process with a CPU and wall-clock
 * limit per message (sandbox; one long-lived process per worker, replaced
 * after any failure), so a crash or a runaway regex in the interpreter
 * costs an implicit keep, never the worker; callbacks only record actions.
 * Validation results are cached per process until a script's file changes
 * (device, inode, size, mtime), so a broken script is reported once per
 * change, in the daemon log and in FILE.log beside a user's script (as
 * Pigeonhole does; rotated to FILE.log.0 past 10 KiB).
 *
 * Not thread-safe; one runner per process (create it after fork). */
#ifndef LMTPD_SIEVE_RUN_H
#define LMTPD_SIEVE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/uio.h>
#include "compat.h"
#include "sieve_actions.h"

struct sieve_settings {
	const char *before;		/* file or folder; NULL or "" = none */
	const char *after;
	uint64_t max_script_size;	/* bytes */
	unsigned int max_actions;	/* per message, all scripts together */
	unsigned int max_redirects;
	unsigned int max_cpu_time;	/* seconds, per message */
	unsigned int vacation_max_days;
	/* Run libsieve in a child process (the daemon).  lmtpd-sieve and
	 * unit tests may run it inline. */
	bool sandbox;
	/* Write errors of the user's script to SCRIPT.log beside it. */
	bool user_log;
	/* Bytes the interpreter process may grow by (address space), 0 for
	 * no limit; only with sandbox. */
	uint64_t max_memory;
};

/* The message as the recipient's copy will be stored: iov[0..iovcnt) is
 * the prepended header block followed by the message, so header tests
 * see the X-Spam-* fields lmtpd added.  size is the size test's value. */
struct sieve_msg {
	const struct iovec *iov;
	int iovcnt;
	size_t size;
	const char *env_from;		/* "" = null sender */
	const char *env_to;		/* the recipient as given in RCPT TO */
	const char *recipient_delimiter;	/* "" = none */
};

struct sieve_runner;

/* settings' strings must outlive the runner. */
struct sieve_runner *sieve_runner_new(const struct sieve_settings *set);
void sieve_runner_free(struct sieve_runner **runner);

/* Header bytes a script can see: the rest of a huge header block is not
 * searched (sieve_header_view_cut says when, for the log). */
#define SIEVE_HEADER_VIEW_MAX (1024 * 1024)
bool sieve_header_view_cut(const struct sieve_msg *msg);

/* Whether there is anything to run for user_script (NULL: none): a before
 * or after script is configured, or user_script exists.  When false,
 * sieve_run would return a plain implicit keep. */
bool sieve_has_scripts(struct sieve_runner *runner, const char *user_script);

/* Runs the scripts; never fails (see above).  user_script may be NULL or a
 * path that does not exist.  Free the result with sieve_actions_free(). */
struct sieve_actions *sieve_run(struct sieve_runner *runner, const char *user_script,
				const struct sieve_msg *msg);

/* The interpreter process now serving this runner, 0 if none (it starts
 * with the first sandboxed run and is replaced after a failure). */
pid_t sieve_runner_interpreter(const struct sieve_runner *runner);

/* How many script validations this runner has made (each valid or
 * invalid script once per change of its file; for tests and the debug
 * log). */
unsigned long sieve_runner_validations(const struct sieve_runner *runner);

/* Validates one script file (lmtpd-sieve): returns 0 if it is valid, 1 if
 * not (each error printed to err as "FILE: line N: error: MESSAGE"), -1
 * if it can not be read (printed too). */
int sieve_validate_file(struct sieve_runner *runner, const char *path, FILE *err);

/* The extensions libsieve offers with lmtpd's callbacks, space separated
 * (static text). */
const char *sieve_extensions(void);

/* Whether libsieve calls lmtpd's libsieve_strconcat (which mends
 * libsieve 2.2.6's one-byte heap overflow) and not its own. */
bool sieve_strconcat_mended(void);

#endif
