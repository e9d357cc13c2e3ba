/* IMAP keywords ($Junk, $Label1, ...) in Maildir file names, shared with
 * Dovecot.
 *
 * Maildir only has letters for the IMAP system flags; Dovecot stores up to
 * 26 keywords per folder as the lowercase letters a..z after them
 * (":2,Sab"), the letter's keyword named in the folder's dovecot-keywords
 * file ("0 $Junk" = a).  A letter the file does not name reaches IMAP
 * clients as "unknown-N", so the file always names a letter before any
 * message carries it.  Dovecot's rules for the file: readers need no lock;
 * a writer holds the folder's dovecot-uidlist.lock dotlock and replaces
 * the file with rename(), its mtime growing with every change (Dovecot
 * re-reads it only when the mtime moves). */
#ifndef LMTPD_MAILDIR_KEYWORDS_H
#define LMTPD_MAILDIR_KEYWORDS_H

#include <stddef.h>

/* Letters Dovecot has per folder. */
#define MAILDIR_KEYWORDS_MAX 26
/* Longest keyword accepted (IMAP sets none; Dovecot's file has lines). */
#define MAILDIR_KEYWORD_LEN_MAX 200

struct maildir_keywords_result {
	/* Keywords that got no letter: not an IMAP atom, all 26 letters
	 * taken, or the file or its lock unusable; why says the first
	 * reason ("" when none was dropped). */
	size_t dropped;
	char why[256];
	/* Not about the message: our dovecot-uidlist.lock could not be
	 * removed ("" when it was). */
	char warning[128];
};

/* Letters (sorted, NUL-terminated; letters_r needs MAILDIR_KEYWORDS_MAX + 1
 * bytes) for keywords[0..count) in the folder open as folder_fd, naming
 * new ones in its dovecot-keywords file.  Keywords match case-insensitively,
 * as in IMAP and Dovecot; repeats are ignored.  Never fails as a whole:
 * what can not be stored is counted in res_r.  Waits at most 2 s for the
 * lock, shared with lmtpd's other processes through flock() on the
 * folder and with Dovecot through its dotlock. */
void maildir_keywords_letters(int folder_fd, const char *const *keywords, size_t count,
			      char *letters_r, size_t letters_size,
			      struct maildir_keywords_result *res_r);

#endif
