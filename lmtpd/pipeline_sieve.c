/* pipeline_sieve: where Sieve's action list becomes side effects.
 *
 * Order per recipient (DESIGN "One message, end to end"): one durable copy
 * per distinct target folder (with its flags; a flagged copy goes to cur/),
 * then redirects, then the vacation reply, then the reply for the
 * recipient.  Nothing is ever lost to Sieve:
 * - a folder name that fails validation, a redirect to the recipient
 *   itself, a redirect loop (our own Delivered-To/X-Loop already in the
 *   message) or a redirect the MTA refuses for good (5xx, a sendmail exit
 *   status other than 75) is refused and the message kept in INBOX
 *   instead;
 * - a temporary failure (a copy, a redirect hand-off) is a 4xx for the
 *   recipient, and the MTA retries.  So that the retry repeats nothing,
 *   the copies already stored for this recipient are removed again (and
 *   folders this delivery created, see pipeline_store), and a redirect
 *   handed over is remembered for 24 hours (redirect_dup): the retry
 *   does not send it again.  The vacation reply comes last, after
 *   everything that can fail;
 * - a failed vacation reply or history lookup is only logged.
 * A reject is 550 5.7.1 for this recipient alone (the MTA bounces; lmtpd
 * sends nothing itself, so no backscatter). */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "addrfold.h"
#include "buf.h"
#include "cfg.h"
#include "dsn.h"
#include "lmtpd_limits.h"
#include "fsutil.h"
#include "log.h"
#include "maildir.h"
#include "maildir_keywords.h"
#include "maildir_name.h"
#include "message.h"
#include "pipeline.h"
#include "pipeline_sieve.h"
#include "rcpt.h"
#include "redirect_dup.h"
#include "sieve_run.h"
#include "submit.h"
#include "vacation.h"
#include "xalloc.h"

struct pipeline_sieve {
	struct sieve_runner *runner;
	struct vacation *vacation;
	struct redirect_dup *dup;
	/* who a redirect's target is, as RCPT would find it */
	struct rcpt_resolver *resolver;
	/* The transaction and user script whose run ran out of CPU time:
	 * the same scripts on the same message would again, for each
	 * further recipient (bob+1, bob+2...), holding the worker 30 s a
	 * time; Pigeonhole likewise stops running a script that hit its
	 * resource limit (sieve_resource_usage_timeout). */
	char over_time_id[64];
	char over_time_script[MAIL_PATH_MAX];
};

/* One durable copy: a folder on disk, its Maildir flags and its IMAP
 * keywords (allocated; the strings point into the action list).  Which
 * keywords fit, and which are valid at all, maildir_keywords decides. */
struct pipeline_target {
	char disk[MAILDIR_FOLDER_DISK_SIZE];	/* "" = INBOX */
	char name[MAILDIR_FOLDER_NAME_MAX + 1];	/* as the log shows it */
	char flags[8];
	const char **keywords;
	size_t keyword_count;
};

struct pipeline_sieve *
pipeline_sieve_new(const struct lmtpd_config *cfg)
{
	struct pipeline_sieve *sv = xcalloc(1, sizeof(*sv));
	struct sieve_settings set;

	memset(&set, 0, sizeof(set));
	set.before = cfg->sieve_before;
	set.after = cfg->sieve_after;
	set.max_script_size = cfg->sieve_max_script_size;
	set.max_actions = cfg->sieve_max_actions;
	set.max_redirects = cfg->sieve_max_redirects;
	set.max_cpu_time = cfg->sieve_max_cpu_time;
	set.vacation_max_days = cfg->sieve_vacation_max_days;
	set.sandbox = true;
	set.user_log = true;
	set.max_memory = cfg->sieve_max_memory;
	sv->runner = sieve_runner_new(&set);
	sv->vacation = vacation_new(cfg->state_dir, cfg->sieve_vacation_max_days);
	sv->dup = redirect_dup_new(cfg->state_dir);
	sv->resolver = rcpt_resolver_new(cfg);
	return sv;
}

void
pipeline_sieve_free(struct pipeline_sieve **svp)
{
	struct pipeline_sieve *sv = *svp;

	if (sv == NULL)
		return;
	sieve_runner_free(&sv->runner);
	rcpt_resolver_free(&sv->resolver);
	vacation_free(&sv->vacation);
	redirect_dup_free(&sv->dup);
	free(sv);
	*svp = NULL;
}

static double
pipeline_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The user's script: the users map's sieve_script= or the sieve_script
 * template, expanded; NULL when it can not be used (logged). */
static bool
pipeline_script_path(const struct lmtpd_config *cfg, const struct pipeline_txn *txn,
		     const struct rcpt *r, char *out, size_t size)
{
	struct cfg_template_vars vars = { r->user, r->local, r->domain, r->home };
	const char *tmpl = r->sieve_script != NULL ? r->sieve_script : cfg->sieve_script;

	if (tmpl == NULL || tmpl[0] == '\0')
		return false;
	if (cfg_expand(tmpl, &vars, out, size) < 0 || out[0] != '/' || path_has_dotdot(out)) {
		log_warn("%s: sieve: <%s>: unusable script path from '%s'", txn->queue_id,
			 r->canonical, tmpl);
		return false;
	}
	return true;
}

static void
pipeline_folders_add(char *folders, size_t size, const char *name)
{
	size_t len = strlen(folders);

	snprintf(folders + len, size - len, "%s%s", len > 0 ? "," : "", name);
}

/* Adds the keywords among an action's flags (IMAP flags not starting
 * with a backslash) to x, each once (as maildir_keywords compares them):
 * a script filing into one folder again and again adds nothing more. */
static void
pipeline_target_keywords(struct pipeline_target *x, const struct sieve_action *a)
{
	for (size_t i = 0; i < a->flag_count; i++) {
		bool known = false;

		if (a->flags[i][0] == '\\')
			continue;
		for (size_t k = 0; k < x->keyword_count && !known; k++)
			known = strcasecmp(x->keywords[k], a->flags[i]) == 0;
		if (known)
			continue;
		x->keywords = xreallocarray(x->keywords, x->keyword_count + 1,
					    sizeof(*x->keywords));
		x->keywords[x->keyword_count++] = a->flags[i];
	}
}

/* Adds (or merges into) the target for disk; a (may be NULL) gives the
 * keywords. */
static void
pipeline_target_add(struct pipeline_target **t, size_t *n, const char *disk,
		    const char *name, const char *flags, const struct sieve_action *a)
{
	struct pipeline_target *x;
	char merged[8];

	for (size_t i = 0; i < *n; i++) {
		x = &(*t)[i];
		if (strcmp(x->disk, disk) != 0)
			continue;
		/* Same folder twice: one copy, the flags of both (kept in
		 * Maildir's letter order). */
		{
			const char *order = "DFRST";
			size_t o = 0;

			for (const char *l = order; *l != '\0'; l++)
				if (strchr(x->flags, *l) != NULL || strchr(flags, *l) != NULL)
					merged[o++] = *l;
			merged[o] = '\0';
			snprintf(x->flags, sizeof(x->flags), "%s", merged);
		}
		if (a != NULL)
			pipeline_target_keywords(x, a);
		return;
	}
	*t = xreallocarray(*t, *n + 1, sizeof(**t));
	x = &(*t)[(*n)++];
	memset(x, 0, sizeof(*x));
	snprintf(x->disk, sizeof(x->disk), "%s", disk);
	snprintf(x->name, sizeof(x->name), "%s", name);
	snprintf(x->flags, sizeof(x->flags), "%s", flags);
	if (a != NULL)
		pipeline_target_keywords(x, a);
}

/* The copies the actions ask for, folder names validated. */
static struct pipeline_target *
pipeline_targets(const struct lmtpd_config *cfg, const struct pipeline_txn *txn,
		 const struct rcpt *r, const struct sieve_actions *a, size_t *n_r)
{
	struct pipeline_target *t = NULL;
	size_t n = 0;
	char sep = cfg->folder_separator[0];

	for (size_t i = 0; a != NULL && i < a->count; i++) {
		const struct sieve_action *x = &a->v[i];
		char disk[MAILDIR_FOLDER_DISK_SIZE], letters[8], esc[LOG_ESCAPE_SIZE];
		const char *why = NULL;
		size_t unknown = 0;

		if (x->kind != SIEVE_ACT_KEEP && x->kind != SIEVE_ACT_FILEINTO)
			continue;
		/* Keywords are stored (pipeline_target_keywords); a system
		 * flag IMAP does not have can not be. */
		maildir_flags_from_imap((const char *const *)x->flags, x->flag_count,
					letters, sizeof(letters), &unknown);
		if (unknown > 0)
			log_info("%s: sieve: <%s>: %zu unknown system flag(s) not stored",
				 txn->queue_id, r->canonical, unknown);
		if (maildir_name_to_disk(x->folder, sep, disk, sizeof(disk), &why) < 0) {
			log_warn("%s: sieve: <%s>: fileinto \"%s\" refused: %s; "
				 "keeping the message in INBOX", txn->queue_id, r->canonical,
				 log_escape(esc, sizeof(esc), x->folder, strlen(x->folder)),
				 why);
			pipeline_target_add(&t, &n, "", "INBOX", letters, x);
			continue;
		}
		pipeline_target_add(&t, &n, disk, disk[0] == '\0' ? "INBOX" : x->folder,
				    letters, x);
	}
	if (a == NULL)
		pipeline_target_add(&t, &n, "", "INBOX", "", NULL);
	*n_r = n;
	return t;
}

/* What this recipient's delivery has stored so far: the copies (paths),
 * the folders it created and those it subscribed (disk names), all
 * allocated. */
struct pipeline_undo {
	char **files;
	size_t nfiles;
	char **folders;
	size_t nfolders;
	char **subscribed;
	size_t nsubscribed;
};

static void
pipeline_undo_push(char ***v, size_t *n, char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = s;
}

static void
pipeline_undo_free(struct pipeline_undo *u)
{
	for (size_t i = 0; i < u->nfiles; i++)
		free(u->files[i]);
	for (size_t i = 0; i < u->nfolders; i++)
		free(u->folders[i]);
	for (size_t i = 0; i < u->nsubscribed; i++)
		free(u->subscribed[i]);
	free(u->files);
	free(u->folders);
	free(u->subscribed);
	memset(u, 0, sizeof(*u));
}

/* Removes root/disk again if it holds nothing but an empty Maildir
 * skeleton (tmp, new, cur, maildirfolder): anything else in it, a message
 * another delivery stored meanwhile, leaves it.  tmp goes first (a
 * leftover is likeliest there); should new/ or cur/ fill up meanwhile,
 * the folder stays without tmp/, which the next delivery creates.
 * Returns whether the folder is gone. */
static bool
pipeline_unmake_folder(const struct pipeline_txn *txn, const struct rcpt *r,
		       const char *disk)
{
	static const char *const parts[] = { "tmp", "new", "cur" };
	int root = open(r->maildir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd = root < 0 ? -1 : openat(root, disk, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					O_CLOEXEC);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *e;
	bool other = dir == NULL;

	while (dir != NULL && (e = readdir(dir)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    strcmp(e->d_name, "new") != 0 && strcmp(e->d_name, "cur") != 0 &&
		    strcmp(e->d_name, "tmp") != 0 && strcmp(e->d_name, "maildirfolder") != 0)
			other = true;
	for (size_t i = 0; !other && i < N_ELEMENTS(parts); i++)
		if (unlinkat(fd, parts[i], AT_REMOVEDIR) < 0 && errno != ENOENT)
			other = true;
	if (!other && ((unlinkat(fd, "maildirfolder", 0) < 0 && errno != ENOENT) ||
		       unlinkat(root, disk, AT_REMOVEDIR) < 0))
		other = true;
	if (!other) {
		if (fsync(root) < 0)
			log_warn("%s: <%s>: fsync(%s) failed: %s", txn->queue_id, r->canonical,
				 r->maildir, strerror(errno));
		log_info("%s: <%s>: folder %s created by this delivery removed again",
			 txn->queue_id, r->canonical, disk);
	}
	if (dir != NULL)
		(void)closedir(dir);
	else if (fd >= 0)
		close_quietly(fd);
	if (root >= 0)
		close_quietly(root);
	return !other;
}

/* Whether list v[0..n) holds s. */
static bool
pipeline_undo_has(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* Before a 4xx: removes what this recipient's delivery stored (the copies,
 * then the folders it created, and their subscriptions), so that the
 * MTA's retry is not a second copy and no client is left subscribed to a
 * folder that is not there.  What can not be removed is logged: the
 * retry will duplicate it. */
static void
pipeline_undo(const struct pipeline_txn *txn, const struct rcpt *r, struct pipeline_undo *u)
{
	size_t removed = 0;

	for (size_t i = 0; i < u->nfiles; i++) {
		char *slash = strrchr(u->files[i], '/');

		/* Gone already: an IMAP client moved it from new/ to cur/
		 * meanwhile, where it stays, and so does the duplicate. */
		if (unlink(u->files[i]) < 0) {
			log_error("%s: <%s>: unlink(%s) failed: %s; the retry will store "
				  "this copy again", txn->queue_id, r->canonical, u->files[i],
				  errno == ENOENT ? "moved meanwhile (read by a client)" :
				  strerror(errno));
			continue;
		}
		removed++;
		*slash = '\0';
		if (fsync_path(u->files[i]) < 0)
			log_warn("%s: <%s>: fsync(%s) failed: %s", txn->queue_id, r->canonical,
				 u->files[i], strerror(errno));
		*slash = '/';
	}
	if (removed > 0)
		log_info("%s: <%s>: %zu stored cop%s removed again for the retry",
			 txn->queue_id, r->canonical, removed, removed == 1 ? "y" : "ies");
	for (size_t i = u->nfolders; i-- > 0;) {
		char err[512];

		/* A folder another delivery stored into meanwhile stays, and
		 * so does its subscription. */
		if (!pipeline_unmake_folder(txn, r, u->folders[i]) ||
		    !pipeline_undo_has(u->subscribed, u->nsubscribed, u->folders[i]))
			continue;
		if (maildir_unsubscribe(r->maildir, u->folders[i], err, sizeof(err)) < 0)
			log_warn("%s: <%s>: unsubscribing removed folder %s: %s; clients "
				 "will list it subscribed until it is created again",
				 txn->queue_id, r->canonical, u->folders[i], err);
		else
			log_info("%s: <%s>: subscription to folder %s removed again",
				 txn->queue_id, r->canonical, u->folders[i]);
	}
}

/* Writes one copy; returns 0 or -1 with r->dsn set.  The copy, and a
 * folder this call created, go to u.
 *
 * A folder lmtpd creates is subscribed (as Dovecot's autocreate with
 * autosubscribe does), once: whoever unsubscribes it later means it, so
 * existing folders are never subscribed again.  "Created" is decided
 * before the store, so a store or subscribe that fails must not leave
 * the folder behind (the retry would find it and never subscribe it):
 * the failure is a 4xx and pipeline_undo removes the copy and the empty
 * skeleton again, so the retry creates and subscribes it.  A failed
 * subscription is a 4xx rather than a warning for that reason; it is
 * rare (the lock held for 2 s, a full disk) and the retry is cheap.  A
 * marker of pending subscriptions would need a write on a disk that may
 * be full, where rmdir always works. */
static int
pipeline_store(const struct lmtpd_config *cfg, const struct pipeline_txn *txn,
	       struct rcpt *r, const struct pipeline_target *t, const struct iovec *iov,
	       int iovcnt, char *folders, size_t folders_size, struct pipeline_undo *u)
{
	struct maildir_target target;
	struct maildir_keywords_result kr = { 0, "", "" };
	char filename[MAILDIR_NAME_MAX], err[512];
	int state = t->disk[0] != '\0' ? maildir_folder_state(r->maildir, t->disk) : 1;
	bool is_new = state == 0, created = false, added = false;
	struct pipeline_target inbox;
	int stored;

	if (state < 0) {
		/* A symlink (or a file) where the folder should be: never
		 * follow it out of the Maildir. */
		log_warn("%s: <%s>: %s/%s is not a folder; keeping the message in INBOX",
			 txn->queue_id, r->canonical, r->maildir, t->disk);
		inbox = *t;
		inbox.disk[0] = '\0';
		snprintf(inbox.name, sizeof(inbox.name), "INBOX");
		t = &inbox;
	}
	target = (struct maildir_target){
		.root = r->maildir,
		.folder = t->disk[0] != '\0' ? t->disk : NULL,
		.flags = t->flags[0] != '\0' ? t->flags : NULL,
		.hostname = cfg->hostname,
		.keywords = t->keywords,
		.keyword_count = t->keyword_count,
		.keywords_result = &kr,
		.folder_created = &created,
	};
	if (is_new)
		pipeline_undo_push(&u->folders, &u->nfolders, xstrdup(t->disk));
	stored = maildir_deliver(&target, iov, iovcnt, filename, sizeof(filename), &r->dsn);
	/* There when looked at, but taken back since by a delivery that
	 * failed, and made again by this one: this delivery's new folder
	 * now, to subscribe, and to take back should this one fail. */
	if (created && !is_new && t->disk[0] != '\0') {
		is_new = true;
		pipeline_undo_push(&u->folders, &u->nfolders, xstrdup(t->disk));
	}
	if (stored < 0)
		return -1;
	pipeline_undo_push(&u->files, &u->nfiles,
			   xasprintf("%s%s%s/%s/%s", r->maildir, t->disk[0] != '\0' ? "/" : "",
				     t->disk, strstr(filename, ":2,") != NULL ? "cur" : "new",
				     filename));
	if (kr.dropped > 0)
		log_warn("%s: <%s>: %zu keyword(s) not stored in %s: %s", txn->queue_id,
			 r->canonical, kr.dropped, t->name, kr.why);
	if (kr.warning[0] != '\0')
		log_warn("%s: <%s>: %s: %s", txn->queue_id, r->canonical, t->name, kr.warning);
	/* cur/ when the name carries flags, system or keyword letters */
	log_debug("%s: %s: stored as %s/%s%s%s/%s", txn->queue_id, r->user, r->maildir,
		  t->disk, t->disk[0] != '\0' ? "/" : "",
		  strstr(filename, ":2,") != NULL ? "cur" : "new", filename);
	if (is_new) {
		int subscribed = maildir_subscribe(r->maildir, t->disk, &added, err, sizeof(err));

		/* (a line written before a later step failed is taken back
		 * with the folder too) */
		if (added)
			pipeline_undo_push(&u->subscribed, &u->nsubscribed, xstrdup(t->disk));
		if (subscribed < 0) {
			log_warn("%s: <%s>: subscribing folder %s: %s", txn->queue_id,
				 r->canonical, t->disk, err);
			dsn_set(&r->dsn, DSN_TEMP_FAIL, "subscribing new folder %s failed: %s",
				t->name, err);
			return -1;
		}
	}
	pipeline_folders_add(folders, folders_size, t->name);
	return 0;
}

/* Whether field name of msg holds addr as its whole value (trimmed,
 * angle brackets ignored, case-insensitive). */
static bool
pipeline_field_is(const struct message *msg, const char *name, const char *addr)
{
	char value[1024];

	for (size_t i = 0; i < msg->header_count; i++) {
		const struct message_header *h = &msg->headers[i];
		const char *v;
		size_t len;

		if (h->name_len != strlen(name) ||
		    strncasecmp(msg->data + h->start, name, h->name_len) != 0)
			continue;
		message_header_value(msg, h, value, sizeof(value));
		v = value;
		len = strlen(v);
		if (len >= 2 && v[0] == '<' && v[len - 1] == '>') {
			v++;
			len -= 2;
		}
		if (len == strlen(addr) && strncasecmp(v, addr, len) == 0)
			return true;
	}
	return false;
}

/* RFC 5228 4.2 loop protection: the message passed through this
 * recipient's delivery before (our Delivered-To, or an X-Loop naming it). */
static bool
pipeline_is_loop(const struct message *msg, const struct rcpt *r)
{
	return pipeline_field_is(msg, "Delivered-To", r->canonical) ||
	       pipeline_field_is(msg, "Delivered-To", r->user) ||
	       pipeline_field_is(msg, "X-Loop", r->canonical) ||
	       pipeline_field_is(msg, "X-Loop", r->user);
}

/* user+detail@domain -> user@domain, as delivery splits it; addr is
 * case-folded as r's parts are. */
static bool
pipeline_same_user_folded(const struct lmtpd_config *cfg, const struct rcpt *r,
			  const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t llen, split;

	if (strcmp(addr, r->canonical) == 0 || strcmp(addr, r->user) == 0 ||
	    addr_casefold_equal(addr, r->addr))
		return true;
	if (at == NULL || strcasecmp(at + 1, r->domain) != 0)
		return false;
	llen = (size_t)(at - addr);
	split = rcpt_detail_split(addr, llen, cfg->recipient_delimiter);
	return split == strlen(r->local) && strncasecmp(addr, r->local, split) == 0;
}

/* Whether a redirect to addr would come back to r's mailbox.  Asked of
 * the users map as RCPT asks it (with a map, john-doe may be a user of
 * its own, not john's detail); by the split alone when the map can not
 * answer now. */
static bool
pipeline_same_user(struct pipeline_sieve *sv, const struct lmtpd_config *cfg,
		   const struct rcpt *r, const char *addr)
{
	char *folded = addr_casefold(addr);
	bool same = pipeline_same_user_folded(cfg, r, folded);
	struct rcpt *target;
	struct dsn dsn;

	if (same && sv != NULL && sv->resolver != NULL &&
	    strcmp(folded, r->canonical) != 0 && strcmp(folded, r->user) != 0) {
		target = rcpt_resolve(sv->resolver, addr, NULL, &dsn);
		if (target != NULL)
			same = strcmp(target->user, r->user) == 0;
		else if (dsn.reason == DSN_UNKNOWN_USER)
			same = false;
		rcpt_free(&target);
	}
	free(folded);
	return same;
}

/* Hands the message to the MTA for address, unless that was done
 * already (an earlier attempt of this delivery answered 4xx): 0 handed
 * over (or before), 1 refused for good (logged; the caller keeps the
 * message), -1 a temporary failure with r->dsn set.  A redirect is
 * recorded only once the MTA took it, as Pigeonhole does ("discarded
 * duplicate forward"). */
static int
pipeline_redirect(const struct lmtpd_config *cfg, struct pipeline_sieve *sv,
		  const struct pipeline_txn *txn, struct rcpt *r, const struct message *msg,
		  const char *address, const struct iovec *iov, int iovcnt)
{
	struct submit_settings set = { cfg->submission, cfg->submission_timeout,
				       cfg->hostname };
	struct iovec *copy;
	const char *rcpts[1] = { address };
	const char *nl;
	char err[512], esc[LOG_ESCAPE_SIZE];
	unsigned char key[REDIRECT_DUP_KEY_SIZE];
	int ret;

	log_escape(esc, sizeof(esc), address, strlen(address));
	redirect_dup_key(msg, r->canonical, address, key);
	if (redirect_dup_seen(sv->dup, key, time(NULL)) == 1) {
		log_info("%s: sieve: <%s>: redirect to <%s> not sent again: discarded "
			 "duplicate forward (handed to the MTA before)", txn->queue_id,
			 r->canonical, esc);
		return 0;
	}
	/* The copy as stored, without our Return-Path (the MTA writes its
	 * own at final delivery); Delivered-To stays, for loop detection. */
	copy = xcalloc((size_t)iovcnt, sizeof(*copy));
	memcpy(copy, iov, sizeof(*copy) * (size_t)iovcnt);
	nl = memchr(copy[0].iov_base, '\n', copy[0].iov_len);
	if (nl != NULL && copy[0].iov_len >= 12 &&
	    strncasecmp(copy[0].iov_base, "Return-Path:", 12) == 0) {
		size_t skip = (size_t)(nl - (const char *)copy[0].iov_base) + 1;

		copy[0].iov_base = (char *)copy[0].iov_base + skip;
		copy[0].iov_len -= skip;
	}
	ret = submit_message(&set, txn->sender, rcpts, 1, copy, iovcnt, err, sizeof(err));
	free(copy);
	if (ret == SUBMIT_REFUSED) {
		log_warn("%s: sieve: <%s>: redirect to <%s> failed (permanent failure): %s; "
			 "keeping the message", txn->queue_id, r->canonical, esc, err);
		return 1;
	}
	if (ret < 0) {
		log_warn("%s: sieve: <%s>: redirect to <%s> failed: %s", txn->queue_id,
			 r->canonical, esc, err);
		dsn_set(&r->dsn, DSN_TEMP_FAIL, "redirect to <%s> failed: %s", address, err);
		return -1;
	}
	log_info("%s: sieve: <%s>: redirected to <%s> via %s", txn->queue_id, r->canonical,
		 esc, cfg->submission);
	if (redirect_dup_record(sv->dup, key, time(NULL)) < 0)
		log_warn("%s: sieve: <%s>: redirect to <%s> not recorded: a retry would send "
			 "it again", txn->queue_id, r->canonical, esc);
	return 0;
}

static void
pipeline_vacation(const struct lmtpd_config *cfg, struct pipeline_sieve *sv,
		  const struct pipeline_txn *txn, const struct rcpt *r,
		  const struct message *msg, bool is_spam, const struct sieve_vacation *v)
{
	/* The user's addresses (RFC 5230 4.5): as given in RCPT TO, the
	 * canonical form, the original recipient before aliasing (ORCPT:
	 * mail sent to an alias is addressed to the user), :from, and the
	 * script's :addresses. */
	const char *mine[4 + SIEVE_VACATION_ADDRESSES_MAX] = {
		r->addr, r->canonical, r->orcpt, v->from
	};
	size_t nmine = 4;
	struct vacation_request req = { r->user, mine, 0, txn->sender, msg, is_spam,
					v->handle, v->days };
	struct submit_settings set = { cfg->submission, cfg->submission_timeout,
				       cfg->hostname };
	const struct message_header *h;
	char msgid[1024] = "", refs[4096] = "", err[512], esc[LOG_ESCAPE_SIZE];
	const char *why, *from = r->user, *to[1] = { txn->sender };
	struct vacation_reply reply;
	struct iovec iov;
	struct buf text;
	time_t now = time(NULL);
	int due;

	for (size_t i = 0; i < v->address_count && nmine < N_ELEMENTS(mine); i++)
		mine[nmine++] = v->addresses[i];
	req.my_address_count = nmine;
	log_escape(esc, sizeof(esc), txn->sender, strlen(txn->sender));
	if ((why = vacation_refusal(&req)) != NULL) {
		log_info("%s: sieve: <%s>: no vacation reply to <%s>: %s", txn->queue_id,
			 r->canonical, esc, why);
		return;
	}
	due = vacation_history_due(sv->vacation, &req, now);
	if (due <= 0) {
		log_info("%s: sieve: <%s>: no vacation reply to <%s>: %s", txn->queue_id,
			 r->canonical, esc, due == 0 ? "already answered within :days"
			 : "vacation history unavailable");
		return;
	}
	/* :from when it is one mailbox; else the user's own address. */
	if (vacation_from_usable(v->from)) {
		from = v->from;
	} else if (v->from != NULL && v->from[0] != '\0') {
		char fesc[LOG_ESCAPE_SIZE];

		log_warn("%s: sieve: <%s>: vacation :from \"%s\" is not one address; "
			 "the reply is from <%s>", txn->queue_id, r->canonical,
			 log_escape(fesc, sizeof(fesc), v->from, strlen(v->from)), r->user);
	}
	if ((h = message_header_find(msg, "Message-ID")) != NULL)
		message_header_value(msg, h, msgid, sizeof(msgid));
	if ((h = message_header_find(msg, "References")) != NULL)
		message_header_value(msg, h, refs, sizeof(refs));
	reply = (struct vacation_reply){ from, txn->sender, v->subject, v->reason, v->mime,
					 msgid, refs, cfg->hostname };
	buf_init(&text, 0);
	vacation_compose(&reply, &text);
	iov.iov_base = text.data;
	iov.iov_len = text.len;
	/* RFC 3834 3.3: the reply goes out with a null envelope sender. */
	if (submit_message(&set, "", to, 1, &iov, 1, err, sizeof(err)) < 0) {
		log_warn("%s: sieve: <%s>: vacation reply to <%s> failed: %s", txn->queue_id,
			 r->canonical, esc, err);
	} else {
		log_info("%s: sieve: <%s>: vacation reply sent to <%s>", txn->queue_id,
			 r->canonical, esc);
		if (vacation_history_record(sv->vacation, &req, now) < 0)
			log_warn("%s: sieve: <%s>: vacation history not updated", txn->queue_id,
				 r->canonical);
	}
	buf_free(&text);
}

void
pipeline_sieve_deliver(const struct lmtpd_config *cfg, struct pipeline_sieve *sv,
		       const struct pipeline_txn *txn, struct rcpt *r,
		       const struct message *msg, const struct iovec *iov, int iovcnt,
		       bool is_spam, double delays[4], char *folders, size_t folders_size)
{
	struct sieve_actions *a = NULL;
	struct pipeline_target *targets = NULL;
	struct pipeline_undo undo = { NULL, 0, NULL, 0, NULL, 0 };
	size_t ntargets = 0, stored = 0, redirected = 0;
	char script[MAIL_PATH_MAX];
	const struct sieve_action *x;
	bool have_script = false, inbox_needed = false;
	double t0 = pipeline_now(), t1;

	folders[0] = '\0';
	if (sv != NULL)
		have_script = pipeline_script_path(cfg, txn, r, script, sizeof(script));
	if (sv == NULL || !sieve_has_scripts(sv->runner, have_script ? script : NULL)) {
		/* no Sieve for this recipient: INBOX */
	} else if (strcmp(sv->over_time_id, txn->queue_id) == 0 &&
		   strcmp(sv->over_time_script, have_script ? script : "") == 0) {
		log_warn("%s: sieve: <%s>: not run: the same scripts ran out of CPU time on "
			 "this message for an earlier recipient; keeping the message in INBOX",
			 txn->queue_id, r->canonical);
	} else {
		size_t stored_size;
		/* The size test sees what IMAP's RFC822.SIZE shows (RFC
		 * 5228 5.9: CRLF line ends), not the LF bytes stored. */
		struct sieve_msg smsg = { iov, iovcnt, message_imap_size(iov, iovcnt, &stored_size),
					  txn->sender, r->addr, cfg->recipient_delimiter };

		if (sieve_header_view_cut(&smsg))
			log_warn("%s: sieve: <%s>: header block over %d KiB: the scripts' "
				 "header and address tests see only its first %d KiB",
				 txn->queue_id, r->canonical, SIEVE_HEADER_VIEW_MAX / 1024,
				 SIEVE_HEADER_VIEW_MAX / 1024);
		a = sieve_run(sv->runner, have_script ? script : NULL, &smsg);
		if (a->over_time) {
			snprintf(sv->over_time_id, sizeof(sv->over_time_id), "%s", txn->queue_id);
			snprintf(sv->over_time_script, sizeof(sv->over_time_script), "%s",
				 have_script ? script : "");
		}
		if (a->error)
			log_warn("%s: sieve: <%s>: %s; keeping the message in INBOX",
				 txn->queue_id, r->canonical, a->error_text);
		else if (a->flags_dropped > 0)
			log_warn("%s: sieve: <%s>: %zu IMAP flag(s) left off: a copy keeps at "
				 "most %d flags of at most %d bytes", txn->queue_id, r->canonical,
				 a->flags_dropped, SIEVE_FLAGS_MAX, SIEVE_FLAG_LEN_MAX);
	}
	t1 = pipeline_now();
	delays[2] = t1 - t0;
	t0 = t1;

	if (a != NULL && (x = sieve_actions_find(a, SIEVE_ACT_REJECT)) != NULL) {
		dsn_set(&r->dsn, DSN_REJECTED, "%s", x->text[0] != '\0' ? x->text
			: "Message rejected by the recipient's filter");
		goto done;
	}
	targets = pipeline_targets(cfg, txn, r, a, &ntargets);
	for (size_t i = 0; i < ntargets; i++) {
		if (pipeline_store(cfg, txn, r, &targets[i], iov, iovcnt, folders,
				   folders_size, &undo) < 0)
			goto failed;
		stored++;
	}
	for (size_t i = 0; a != NULL && i < a->count; i++) {
		char esc[LOG_ESCAPE_SIZE];

		x = &a->v[i];
		if (x->kind != SIEVE_ACT_REDIRECT)
			continue;
		log_escape(esc, sizeof(esc), x->address, strlen(x->address));
		if (pipeline_same_user(sv, cfg, r, x->address)) {
			log_warn("%s: sieve: <%s>: redirect to <%s> refused: that is the "
				 "recipient itself; keeping the message", txn->queue_id,
				 r->canonical, esc);
			inbox_needed = true;
			continue;
		}
		if (pipeline_is_loop(msg, r)) {
			log_warn("%s: sieve: <%s>: redirect to <%s> refused: mail loop "
				 "(the message was delivered to <%s> before); keeping the "
				 "message", txn->queue_id, r->canonical, esc, r->canonical);
			inbox_needed = true;
			continue;
		}
		if (!submit_address_usable(x->address, false) ||
		    !submit_address_usable(txn->sender, true)) {
			/* A 4xx here would be retried until the MTA gives
			 * up and bounces: the address never gets better. */
			log_warn("%s: sieve: <%s>: redirect to <%s> refused: %s cannot "
				 "be handed to the MTA; keeping the message", txn->queue_id,
				 r->canonical, esc,
				 submit_address_usable(x->address, false)
				 ? "the envelope sender" : "that address");
			inbox_needed = true;
			continue;
		}
		switch (pipeline_redirect(cfg, sv, txn, r, msg, x->address, iov, iovcnt)) {
		case 0:
			redirected++;
			break;
		case 1:
			inbox_needed = true;
			break;
		default:
			goto failed;
		}
	}
	if (inbox_needed && stored == 0) {
		struct pipeline_target inbox;

		memset(&inbox, 0, sizeof(inbox));
		snprintf(inbox.name, sizeof(inbox.name), "INBOX");
		if (pipeline_store(cfg, txn, r, &inbox, iov, iovcnt, folders,
				   folders_size, &undo) < 0)
			goto failed;
		stored++;
	}
	if (a != NULL && sv != NULL && (x = sieve_actions_find(a, SIEVE_ACT_VACATION)) != NULL)
		pipeline_vacation(cfg, sv, txn, r, msg, is_spam, &x->vacation);
	if (stored > 0)
		dsn_set(&r->dsn, DSN_DELIVERED, "delivered to maildir");
	else if (redirected > 0) {
		dsn_set(&r->dsn, DSN_DELIVERED, "redirected by sieve");
		r->relayed = true;
	}
	else
		dsn_set(&r->dsn, DSN_DISCARDED, "discarded by sieve");
	goto done;
failed:
	pipeline_undo(txn, r, &undo);
	folders[0] = '\0';
done:
	pipeline_undo_free(&undo);
	delays[3] = pipeline_now() - t0;
	for (size_t i = 0; i < ntargets; i++)
		free(targets[i].keywords);
	free(targets);
	sieve_actions_free(&a);
}
