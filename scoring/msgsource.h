/* The messages named on a tool's command line: a file holding one message,
 * an mbox file ("From " separated; read as scoring_mbox_next gives the
 * messages), a Maildir (its cur/ and new/, in name order), or another
 * folder (its files, in name order).  Shared
 * by lmtpd-score and lmtpd-learn. */
#ifndef LMTPD_MSGSOURCE_H
#define LMTPD_MSGSOURCE_H

#include <stddef.h>
#include "compat.h"

/* The largest message read (matches the daemon's default
 * max_message_size); an mbox file bigger than that is read message by
 * message.  Keep the text of msgsource_walk's errors in step. */
#define MSGSOURCE_INPUT_MAX (50ULL * 1024 * 1024)

/* Calls fn for every message under path with its name (the file, or
 * "FILE:N" for the N-th message of an mbox holding several); fn returns 0,
 * or -1 to report that message failed.  A file that cannot be read is
 * reported through err(path, why).  Returns 0, or -1 when anything failed
 * or could not be read. */
int msgsource_walk(const char *path,
		   int (*fn)(const char *name, const char *data, size_t len, void *ctx),
		   void *ctx, void (*err)(const char *path, const char *why)) ATTR_WUR;
/* Reads all of fd into out (bounded by out's maximum).  Returns 0 or -1
 * with errno (EMSGSIZE when too large). */
struct buf;
int msgsource_read_fd(int fd, struct buf *out) ATTR_WUR;

#endif
