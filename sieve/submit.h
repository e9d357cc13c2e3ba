/* submit: hands a message to the MTA for sending (Sieve redirect and
 * vacation), as the `submission` setting says:
 *
 *   smtp:HOST:PORT   SMTP to the MTA (HOST may be [v6]); EHLO, MAIL FROM,
 *                    RCPT TO per recipient, DATA with CRLF line ends and
 *                    dot-stuffing; every step under `timeout`
 *   /path/to/prog    a sendmail-compatible program, run without a shell
 *                    with the fixed argument vector
 *                    `prog -i -f SENDER -- RCPT...` (SENDER "<>" for the
 *                    null sender), the message on its standard input, a
 *                    minimal environment and no other descriptors; exit
 *                    status 0 means accepted
 *
 * Success means the MTA took responsibility (250 after DATA, exit 0).
 * Anything else is a failure with a reason, and one of two kinds:
 * refused for good (SUBMIT_REFUSED: a 5xx reply to MAIL FROM, RCPT TO,
 * DATA or the end of data; a UTF-8 address and an MTA without SMTPUTF8;
 * a program exit status other than 0 and 75, EX_TEMPFAIL) or temporary
 * (-1: everything else, including a 4xx, a 5xx to the greeting or EHLO,
 * a connection problem, a timeout, exit status 75, a program killed by a
 * signal or one that can not be run).
 * The caller decides (redirect: 451 for a temporary failure, a refusal
 * keeps the message; vacation: logged). */
#ifndef LMTPD_SUBMIT_H
#define LMTPD_SUBMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>
#include "compat.h"

struct submit_settings {
	const char *submission;	/* "smtp:host:port" or an absolute path */
	unsigned int timeout;	/* seconds for each step, and 5x that in all */
	const char *hostname;	/* the EHLO name */
};

/* Checks the syntax of a submission value; NULL if fine, else why. */
const char *submit_check(const char *submission);
/* Whether a can be handed to the MTA as a path (MAIL FROM, RCPT TO) and
 * to a sendmail program as an argument: no control character, a space or
 * angle bracket only inside a quoted local part, no leading '-', at most
 * 256 bytes; empty only with may_be_empty (the null sender).  What fails
 * here fails every time: not a reason to try again later. */
bool submit_address_usable(const char *a, bool may_be_empty);

#define SUBMIT_REFUSED (-2)

/* Sends iov[0..iovcnt) (LF or CRLF line ends) from sender ("" = null
 * sender) to rcpts.  Returns 0, -1 (temporary failure) or SUBMIT_REFUSED
 * (permanent), each failure with error_r. */
int submit_message(const struct submit_settings *set, const char *sender,
		   const char *const *rcpts, size_t rcpt_count,
		   const struct iovec *iov, int iovcnt,
		   char *error_r, size_t error_size) ATTR_WUR;

#endif
