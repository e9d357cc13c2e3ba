/* The outcome of the Sieve scripts for one message and one recipient: an
 * ordered list of actions, already resolved over the before, user and
 * after scripts (the implicit keep decided once, duplicate stores merged,
 * duplicate redirects dropped).  It is data only: nothing has been written
 * or sent when it is handed over; the pipeline performs each action and
 * logs it.
 *
 * Invariants the pipeline may rely on:
 * - a list with a SIEVE_ACT_REJECT holds nothing else (a reject wins: the
 *   MTA bounces the message, so no copy is stored, redirected or
 *   answered);
 * - every folder appears once among the KEEP/FILEINTO entries, which come
 *   first, in the order the scripts named them; "INBOX" (any case) is the
 *   keep;
 * - with error set, the list is exactly one implicit KEEP of INBOX plus
 *   whatever earlier, completed scripts recorded: a script that failed
 *   contributes nothing, so mail is never lost to a broken script. */
#ifndef LMTPD_SIEVE_ACTIONS_H
#define LMTPD_SIEVE_ACTIONS_H

#include <stdbool.h>
#include <stddef.h>

/* Most IMAP flags kept per action, and the longest flag. */
#define SIEVE_FLAGS_MAX 32
#define SIEVE_FLAG_LEN_MAX 128
/* flags_dropped stops here instead of wrapping (the old unsigned int
 * bound; it fits size_t and the serialized unsigned long everywhere). */
#define SIEVE_FLAGS_DROPPED_MAX 4294967295UL

enum sieve_action_kind {
	SIEVE_ACT_KEEP,		/* store in INBOX (explicit or implicit keep) */
	SIEVE_ACT_FILEINTO,	/* store in folder */
	SIEVE_ACT_REDIRECT,	/* hand to the MTA for address */
	SIEVE_ACT_VACATION,	/* answer the sender (RFC 5230) */
	SIEVE_ACT_REJECT,	/* 550 5.7.1 text */
	SIEVE_ACT_DISCARD,	/* explicit discard (cancels the implicit keep) */
};

/* :addresses entries kept per vacation action. */
#define SIEVE_VACATION_ADDRESSES_MAX 64

struct sieve_vacation {
	char *address;		/* whom to answer: the envelope sender, "" for none */
	char *from;		/* :from, or the user's address found in the message */
	char *subject;		/* :subject, or libsieve's "Re: ..." */
	char *reason;		/* the text; a MIME entity with :mime */
	char *handle;		/* :handle, or derived from the arguments */
	/* :addresses (RFC 5230 4.5): more of the user's addresses, as the
	 * script gave them (libsieve does not pass them on). */
	char **addresses;
	size_t address_count;
	unsigned int days;	/* :days, clamped to 1..sieve_vacation_max_days */
	bool mime;
};

struct sieve_action {
	enum sieve_action_kind kind;
	/* KEEP/FILEINTO: the Sieve folder name (UTF-8, folder_separator
	 * between levels; "INBOX" for KEEP) and its IMAP flags, one flag per
	 * entry, case-insensitively distinct. */
	char *folder;
	char **flags;
	size_t flag_count;
	bool implicit;		/* KEEP: the implicit keep */
	char *address;		/* REDIRECT */
	char *text;		/* REJECT: the reason */
	struct sieve_vacation vacation;	/* VACATION */
	/* The script that asked for it ("" for the implicit keep). */
	char *script;
};

#define SIEVE_ERROR_TEXT_MAX 1024

struct sieve_actions {
	struct sieve_action *v;
	size_t count;
	/* A script failed (parse, run time, a limit, a crash or timeout of
	 * the interpreter): error_text says "FILE: line N: error: ..." for
	 * the first failure. */
	bool error;
	char error_text[SIEVE_ERROR_TEXT_MAX];
	/* The failure was sieve_max_cpu_time (or its wall-clock slack). */
	bool over_time;
	/* Scripts that ran (for the log and lmtpd-sieve). */
	unsigned int scripts_run;
	/* IMAP flags the scripts set that were left off (more than
	 * SIEVE_FLAGS_MAX for one copy, or longer than SIEVE_FLAG_LEN_MAX),
	 * for the log; at most SIEVE_FLAGS_DROPPED_MAX. */
	size_t flags_dropped;
};

void sieve_actions_free(struct sieve_actions **actions);
/* The first action of kind, or NULL. */
const struct sieve_action *sieve_actions_find(const struct sieve_actions *actions,
					      enum sieve_action_kind kind);
/* "keep", "fileinto", ... */
const char *sieve_action_name(enum sieve_action_kind kind);

#endif
