/* redirect_dup: which redirects went out already, so that the MTA's retry
 * of a delivery that was answered 4xx after a redirect was handed over
 * does not send that redirect again (Pigeonhole's duplicate check for
 * redirect, and its lifetime of 24 hours).
 *
 * The key is a SHA-256 over the message's identity, the recipient and
 * the redirect target.  The identity is Resent-Message-ID with
 * Resent-From when the message was resent, else Message-ID, else (no
 * Message-ID at all) a SHA-256 of the message as received: a retry
 * brings the same bytes.  Records live in "redirect.db" in the shared
 * Berkeley DB environment (lib/dbenv.h), opened on first use in the
 * process that uses it (after fork).
 *
 * A database problem is never a delivery problem: it is logged and the
 * redirect is sent (better a second copy than a lost one). */
#ifndef LMTPD_REDIRECT_DUP_H
#define LMTPD_REDIRECT_DUP_H

#include <stddef.h>
#include <time.h>
#include "compat.h"

#define REDIRECT_DUP_SECS (24 * 3600)
#define REDIRECT_DUP_KEY_SIZE 32

struct message;
struct redirect_dup;

struct redirect_dup *redirect_dup_new(const char *state_dir);
void redirect_dup_free(struct redirect_dup **d);

/* The key for redirecting msg, delivered to rcpt, to target (addresses
 * compared case-insensitively). */
void redirect_dup_key(const struct message *msg, const char *rcpt, const char *target,
		      unsigned char key[REDIRECT_DUP_KEY_SIZE]);
/* 1: sent within REDIRECT_DUP_SECS before now; 0: not; -1: database
 * error (logged). */
int redirect_dup_seen(struct redirect_dup *d, const unsigned char *key, time_t now) ATTR_WUR;
/* Records a redirect sent at now.  Returns 0 or -1 (logged). */
int redirect_dup_record(struct redirect_dup *d, const unsigned char *key,
			time_t now) ATTR_WUR;

#endif
