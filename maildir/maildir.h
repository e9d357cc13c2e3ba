/* Durable delivery of one message into one Maildir folder.
 *
 * The message is written in tmp/ (as an anonymous O_TMPFILE when the file
 * system supports it, else under a unique name), fsync'd, linked into new/
 * (cur/ when flags are given, as Maildir requires for ":2," names), and the
 * directory is fsync'd.  maildir_deliver() returns success only after all of
 * that: the caller may then answer 250.  On failure nothing is left in new/
 * or cur/, and dsn_r says why (ENOSPC/EDQUOT -> DSN_DISK_FULL, other errors
 * -> DSN_TEMP_FAIL).
 *
 * File names follow Dovecot and Courier: "SECS.MusecPpidQn.HOST,S=size,W=vsize"
 * where S is the stored size (LF line ends) and W the RFC 822 size (CRLF).
 * Missing directories (the Maildir, its tmp/new/cur, a folder) are created
 * 0700, and their parents fsync'd. */
#ifndef LMTPD_MAILDIR_H
#define LMTPD_MAILDIR_H

#include <stddef.h>
#include <sys/uio.h>
#include "compat.h"

struct dsn;
struct maildir_keywords_result;

struct maildir_target {
	const char *root;	/* the Maildir (absolute path) */
	/* NULL for INBOX, else an on-disk Maildir++ folder name such as
	 * ".Work.Sub", already validated by maildir_name_to_disk(). */
	const char *folder;
	/* IMAP flags as Maildir info letters, sorted ("FS"), or NULL. */
	const char *flags;
	const char *hostname;
	/* IMAP keywords, stored as Dovecot's letters after the flags
	 * (maildir_keywords.h); what could not be stored is counted in
	 * keywords_result (may be NULL).  The message is delivered either
	 * way. */
	const char *const *keywords;
	size_t keyword_count;
	struct maildir_keywords_result *keywords_result;
	/* Set to true when this delivery made the directory it wrote into
	 * (the folder's, or for INBOX the Maildir's); may be NULL, never
	 * set to false. */
	bool *folder_created;
};

#define MAILDIR_NAME_MAX 256

/* Writes the concatenation of iov[0..iovcnt) as one new message.  On success
 * returns 0 and, if filename_r is not NULL, the name given in new/ or cur/.
 * iov is not modified. */
int maildir_deliver(const struct maildir_target *target,
		    const struct iovec *iov, int iovcnt,
		    char *filename_r, size_t filename_size,
		    struct dsn *dsn_r) ATTR_WUR;

#endif
