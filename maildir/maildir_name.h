/* Folder names and flags between Sieve/IMAP and a Maildir++ on disk.
 *
 * A Sieve script names folders in UTF-8 with a hierarchy separator
 * (folder_separator: '.' or '/'); on disk a folder is the directory
 * ".Level1.Level2" in the Maildir, each level in IMAP's modified UTF-7
 * (RFC 3501 5.1.3), as Dovecot's and Courier's Maildir++ layout stores it.
 * The name comes from a user's script, so it is hostile input: it is
 * validated completely before any path is built from it, and the on-disk
 * result can never contain '/', NUL, or be "." or "..".
 *
 * IMAP system flags map to Maildir info letters (\Draft D, \Flagged F,
 * \Answered R, \Seen S, \Deleted T); keywords are counted as unknown
 * here and get their letters from maildir_keywords.
 *
 * The subscriptions file (Dovecot's "V\t2" format, or the older one name
 * per line) gets a folder added under Dovecot's own dotlock
 * ("subscriptions.lock", written then renamed over the file), so Dovecot
 * and lmtpd never lose each other's updates. */
#ifndef LMTPD_MAILDIR_NAME_H
#define LMTPD_MAILDIR_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include "compat.h"

/* Longest folder name accepted from a script, in bytes of UTF-8. */
#define MAILDIR_FOLDER_NAME_MAX	1024
/* Longest on-disk folder name (a single directory entry: NAME_MAX). */
#define MAILDIR_FOLDER_DISK_MAX	255
/* Most hierarchy levels in a folder name. */
#define MAILDIR_FOLDER_LEVELS_MAX 16
/* Room for the on-disk name and its NUL. */
#define MAILDIR_FOLDER_DISK_SIZE (MAILDIR_FOLDER_DISK_MAX + 1)

/* Checks name (UTF-8, separator sep '.' or '/') and writes its on-disk
 * Maildir++ name into out: "" for INBOX (any case), else ".A.B".  Returns
 * 0, or -1 with *why_r (a static text) when the name is refused: empty,
 * too long, too many levels, an empty level (leading, trailing or doubled
 * separator), invalid UTF-8, control characters, '/' or '.' inside a level,
 * the IMAP wildcards '*' and '%'. */
int maildir_name_to_disk(const char *name, char sep, char *out, size_t out_size,
			 const char **why_r) ATTR_WUR;
/* The reverse, for logs and tests: ".A.B" (or "" for INBOX) back to the
 * UTF-8 name with separator sep.  Returns 0, or -1 if disk is not a name
 * maildir_name_to_disk could have produced or out is too small. */
int maildir_name_from_disk(const char *disk, char sep, char *out, size_t out_size)
	ATTR_WUR;

/* Modified UTF-7 of utf8[0..len) into out (NUL-terminated).  Returns the
 * length, or -1 on invalid UTF-8 or when out is too small. */
int maildir_mutf7_encode(const char *utf8, size_t len, char *out, size_t out_size)
	ATTR_WUR;
/* UTF-8 of modified UTF-7 text.  Returns the length, or -1 when the input
 * is not canonical modified UTF-7 or out is too small. */
int maildir_mutf7_decode(const char *mutf7, size_t len, char *out, size_t out_size)
	ATTR_WUR;

/* Maildir info letters, sorted, for IMAP flags ("\Seen", "\flagged", ...;
 * case-insensitive; "\Recent" is ignored).  Other system flags (starting
 * with a backslash), which a Maildir name can not hold, are counted in
 * *unknown_r (may be NULL); keywords are left to maildir_keywords and
 * not counted.  out needs 6 bytes. */
void maildir_flags_from_imap(const char *const *flags, size_t count, char *out,
			     size_t out_size, size_t *unknown_r);

/* Whether the folder disk (from maildir_name_to_disk, not "") exists as a
 * directory (not a symlink) in the Maildir root. */
bool maildir_folder_exists(const char *root, const char *disk);
/* The same as three states: 1 a directory, 0 nothing there (or no
 * Maildir yet), -1 something else (a symlink, a file): not a folder to
 * write into. */
int maildir_folder_state(const char *root, const char *disk);

/* Adds the folder disk (".A.B") to root/subscriptions unless it is listed
 * already; *added_r (may be NULL) says whether this call added it, which
 * it may have done even when a later step fails.  Returns 0, or -1 with
 * error_r (e.g. "open(...) failed: ..."). */
int maildir_subscribe(const char *root, const char *disk, bool *added_r, char *error_r,
		      size_t error_size) ATTR_WUR;
/* Removes the folder disk from root/subscriptions (every line naming it;
 * none there is no error), unless the folder exists: the line then
 * stays.  Returns 0, or -1 with error_r. */
int maildir_unsubscribe(const char *root, const char *disk, char *error_r,
			size_t error_size) ATTR_WUR;

#endif
