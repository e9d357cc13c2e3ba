/* Every bound lmtpd puts on outside input, in one place.  Limits an admin
 * may tune are config keys (their defaults are here, named after the key);
 * the rest are fixed because no sane peer comes near them.  (Named
 * lmtpd_limits.h: "limits.h" would shadow the system header under -Ilib.) */
#ifndef LMTPD_LMTPD_LIMITS_H
#define LMTPD_LMTPD_LIMITS_H

/* Config defaults (see lmtpd.conf(5)). */
#define DEF_MAX_MESSAGE_SIZE	(50ULL * 1024 * 1024)
#define DEF_MAX_RECIPIENTS	1000	/* RFC 5321 4.5.3.1.8 asks for >= 100 */
#define DEF_MAX_ERRORS		20	/* Postfix smtpd_hard_error_limit */
#define DEF_IDLE_TIMEOUT	300	/* seconds, RFC 5321 4.5.3.2.7 */
#define DEF_MIN_DATA_RATE	500	/* bytes/s during DATA, Postfix smtpd_min_data_rate */
#define DEF_WORKERS		4
#define DEF_MAX_USE		1000	/* connections a worker serves before it retires */

/* Fixed limits. */
/* A command line: RFC 5321 allows 512 octets; ESMTP parameters and UTF-8
 * addresses (RFC 6531) need more, Postfix's line_length_limit is 2048. */
#define LMTP_LINE_MAX		2048
/* RFC 5321 4.5.3.1.3: a path is at most 256 octets. */
#define LMTP_PATH_MAX		256
/* RFC 3461 4.2: ORCPT's original-recipient-address (addr-type ";"
 * xtext) is at most 500 characters. */
#define LMTP_ORCPT_MAX		500
/* Replies queued but not yet written; past it the session stops reading
 * commands until the peer reads its replies. */
#define LMTP_OUTPUT_HIGH_WATER	(64 * 1024)
#define LMTP_INPUT_BUFFER	(64 * 1024)
/* Messages up to this size stay in memory; larger ones spill to a file. */
#define SPOOL_MEMORY_MAX	(1024 * 1024)
/* Headers indexed per message; the rest are kept but not looked up. */
#define MESSAGE_HEADERS_MAX	10000
/* Workers that die faster than this many per second make the master wait. */
#define MASTER_RESPAWN_PER_SEC	10
/* Config file line. */
#define CFG_LINE_MAX		8192
/* Longest expanded path (home, Maildir). */
#define MAIL_PATH_MAX		1024
/* Bayes: the longest token stored (bytes, its "H*Ad:"-style prefix
 * included; longer ones are cut), and the distinct tokens taken from one
 * message (SpamAssassin takes up to 50000 body, 10000 URI and 10000 header
 * tokens).  A learn is one transaction locking every database page it
 * touches, so this also bounds its locks; headers come first, then URIs,
 * then body words. */
#define BAYES_TOKEN_MAX		64
#define BAYES_TOKENS_MAX	3000
/* Token counts a process keeps per open Bayes database between lookups (a
 * full cache starts over): 16 bytes of table and a record of 16 bytes
 * plus the token each, at most about 3.6 MB per database, allocated on
 * the first lookup. */
#define BAYES_CACHE_TOKENS	65536
/* Tokens a process may hold in whole copies of its Bayes databases (a
 * lookup-heavy process such as lmtpd-score over a folder reads a database
 * once instead of searching it token by token): 16 bytes of table per
 * token of this bound, and a record of 16 bytes plus the token for each
 * token copied: about 10 MB for a database of SpamAssassin's default
 * size (bayes_expiry_max_db_size 150000), which fits. */
#define BAYES_SNAPSHOT_TOKENS	(256 * 1024)
/* A user's name, %XX-escaped, in per-user Bayes database file names
 * (bytes): with "bayes_toks-" and ".db" within NAME_MAX (255); a longer
 * one is cut and ends in a hash of the whole name. */
#define BAYES_USER_MAX		240

#endif
