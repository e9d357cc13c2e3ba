/* sieve_sequence: the before, user and after scripts of one message run
 * in order and resolved into one action list (Pigeonhole's semantics, see
 * sieve_run.h).  Runs in the sandbox child (or inline for lmtpd-sieve). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sieve_int.h"
#include "xalloc.h"

struct sieve_progress *sieve_progress;

struct sieve_resolve {
	struct sieve_actions stores;	/* FILEINTO, merged per folder */
	struct sieve_actions others;	/* REDIRECT, VACATION */
	char *reject, *reject_script;
	bool discard;
	char *discard_script;
	bool final_keep, keep_explicit;
	const char *keep_script;
	char **keep_flags;
	size_t keep_flag_count;
	size_t flags_dropped;		/* by the merges, for the log */
};

static bool
sieve_same_folder(const char *a, const char *b)
{
	if (strcasecmp(a, "INBOX") == 0 && strcasecmp(b, "INBOX") == 0)
		return true;
	return strcmp(a, b) == 0;
}

static void
sieve_take_action(struct sieve_resolve *rs, struct sieve_action *a)
{
	struct sieve_action *x;

	switch (a->kind) {
	case SIEVE_ACT_KEEP:
		break;		/* decided at the end of the script */
	case SIEVE_ACT_FILEINTO:
		for (size_t i = 0; i < rs->stores.count; i++) {
			x = &rs->stores.v[i];
			if (sieve_same_folder(x->folder, a->folder)) {
				rs->flags_dropped = sieve_flags_dropped_add(rs->flags_dropped,
					sieve_flags_merge(&x->flags, &x->flag_count,
							  (const char *const *)a->flags,
							  a->flag_count));
				return;
			}
		}
		x = sieve_actions_append(&rs->stores);
		*x = *a;
		memset(a, 0, sizeof(*a));
		break;
	case SIEVE_ACT_REDIRECT:
		/* RFC 5228 4.2: a second redirect to the same address is
		 * ignored. */
		for (size_t i = 0; i < rs->others.count; i++) {
			x = &rs->others.v[i];
			if (x->kind == SIEVE_ACT_REDIRECT &&
			    strcasecmp(x->address, a->address) == 0)
				return;
		}
		x = sieve_actions_append(&rs->others);
		*x = *a;
		memset(a, 0, sizeof(*a));
		break;
	case SIEVE_ACT_VACATION:
		if (sieve_actions_find(&rs->others, SIEVE_ACT_VACATION) != NULL)
			return;
		x = sieve_actions_append(&rs->others);
		*x = *a;
		memset(a, 0, sizeof(*a));
		break;
	case SIEVE_ACT_REJECT:
		if (rs->reject == NULL) {
			rs->reject = a->text;
			rs->reject_script = a->script;
			a->text = NULL;
			a->script = NULL;
		}
		break;
	case SIEVE_ACT_DISCARD:
		if (!rs->discard) {
			rs->discard = true;
			rs->discard_script = a->script;
			a->script = NULL;
		}
		break;
	}
}

static void
sieve_keep_flags_reset(struct sieve_resolve *rs)
{
	for (size_t i = 0; i < rs->keep_flag_count; i++)
		free(rs->keep_flags[i]);
	free(rs->keep_flags);
	rs->keep_flags = NULL;
	rs->keep_flag_count = 0;
}

/* Sets the first error of the run: "FILE: line N: error: ...". */
static void
sieve_set_error(struct sieve_actions *out, const char *path, const char *errors)
{
	size_t len;

	if (out->error)
		return;
	out->error = true;
	len = errors != NULL ? strcspn(errors, "\n") : 0;
	snprintf(out->error_text, sizeof(out->error_text), "%s: %.*s", path,
		 (int)len, len > 0 ? errors : "error");
}

void
sieve_sequence(const struct sieve_settings *set, struct sieve_script *scripts, size_t n,
	       const struct sieve_msg *msg, struct sieve_actions *out)
{
	struct sieve_view *view = sieve_view_new(msg);
	struct sieve_budget budget = {
		set->max_actions, set->max_redirects, set->max_actions,
		set->max_redirects, set->vacation_max_days
	};
	struct sieve_resolve rs;
	struct sieve_action *x;
	size_t i;

	memset(&rs, 0, sizeof(rs));
	rs.final_keep = true;
	for (i = 0; i < n; i++) {
		struct sieve_script *s = &scripts[i];
		struct sieve_script_result res;
		bool cancelled = false, explicit_keep = false;

		if (s->read_error != NULL) {
			s->failed = true;
			s->errors = xasprintf("error: %s\n", s->read_error);
			sieve_set_error(out, s->path, s->errors);
			break;
		}
		if (s->cached == 0) {
			sieve_set_error(out, s->path, s->cached_errors);
			break;
		}
		if (sieve_progress != NULL) {
			sieve_progress->line = 0;
			sieve_progress->script = (int)i;
		}
		if (s->cached < 0) {
			sieve_exec_script(s->path, s->text, s->len, true, NULL, &budget, &res);
			s->validated = true;
			s->valid = res.status == SIEVE_SCRIPT_OK;
			if (!s->valid) {
				s->errors = buf_steal(&res.errors, NULL);
				sieve_script_result_free(&res);
				sieve_set_error(out, s->path, s->errors);
				break;
			}
			sieve_script_result_free(&res);
		}
		sieve_exec_script(s->path, s->text, s->len, false, view, &budget, &res);
		if (sieve_progress != NULL)
			sieve_progress->script = -1;
		if (res.status != SIEVE_SCRIPT_OK) {
			s->failed = true;
			s->errors = buf_steal(&res.errors, NULL);
			sieve_script_result_free(&res);
			sieve_set_error(out, s->path, s->errors);
			break;
		}
		out->scripts_run++;
		/* RFC 5228 2.10.2: fileinto, redirect, reject and discard
		 * cancel the implicit keep; an explicit keep is a keep. */
		sieve_keep_flags_reset(&rs);
		for (size_t k = 0; k < res.count; k++) {
			struct sieve_action *a = &res.v[k];

			if (a->kind == SIEVE_ACT_KEEP) {
				explicit_keep = true;
				rs.flags_dropped = sieve_flags_dropped_add(rs.flags_dropped,
					sieve_flags_merge(&rs.keep_flags, &rs.keep_flag_count,
							  (const char *const *)a->flags,
							  a->flag_count));
			} else if (a->kind != SIEVE_ACT_VACATION) {
				cancelled = true;
			}
			sieve_take_action(&rs, a);
		}
		if (!cancelled)
			rs.flags_dropped = sieve_flags_dropped_add(rs.flags_dropped,
				sieve_flags_merge(&rs.keep_flags, &rs.keep_flag_count,
						  (const char *const *)res.end_flags,
						  res.end_flag_count));
		rs.final_keep = explicit_keep || !cancelled;
		rs.keep_explicit = explicit_keep;
		rs.keep_script = s->path;
		rs.flags_dropped = sieve_flags_dropped_add(rs.flags_dropped,
							   res.flags_dropped);
		sieve_script_result_free(&res);
		/* Pigeonhole (sieve_multiscript_run): the next script runs
		 * only while the keep is in effect; a `stop` ends only its own
		 * script. */
		if (!rs.final_keep)
			break;
	}
	sieve_view_free(&view);
	if (out->error) {
		/* Whatever the failed script recorded is gone already; mail
		 * goes to INBOX (DESIGN invariant 4). */
		rs.final_keep = true;
		rs.keep_explicit = false;
		sieve_keep_flags_reset(&rs);
		free(rs.reject);
		free(rs.reject_script);
		rs.reject = rs.reject_script = NULL;
	}
	if (rs.reject != NULL) {
		/* A reject wins: the MTA bounces, nothing else happens. */
		x = sieve_actions_append(out);
		x->kind = SIEVE_ACT_REJECT;
		x->text = rs.reject;
		x->script = rs.reject_script;
		rs.reject = rs.reject_script = NULL;
		goto done;
	}
	if (rs.final_keep) {
		x = sieve_actions_append(out);
		x->kind = SIEVE_ACT_KEEP;
		x->folder = xstrdup("INBOX");
		x->implicit = !rs.keep_explicit;
		x->script = xstrdup(rs.keep_explicit && rs.keep_script != NULL ?
				    rs.keep_script : "");
		x->flags = rs.keep_flags;
		x->flag_count = rs.keep_flag_count;
		rs.keep_flags = NULL;
		rs.keep_flag_count = 0;
	}
	for (i = 0; i < rs.stores.count; i++) {
		struct sieve_action *f = &rs.stores.v[i];
		struct sieve_action *keep = rs.final_keep ? &out->v[0] : NULL;

		if (keep != NULL && sieve_same_folder(f->folder, "INBOX")) {
			/* fileinto "INBOX" and the keep: one copy. */
			rs.flags_dropped = sieve_flags_dropped_add(rs.flags_dropped,
				sieve_flags_merge(&keep->flags, &keep->flag_count,
						  (const char *const *)f->flags, f->flag_count));
			keep->implicit = false;
			continue;
		}
		x = sieve_actions_append(out);
		*x = *f;
		memset(f, 0, sizeof(*f));
	}
	for (i = 0; i < rs.others.count; i++) {
		x = sieve_actions_append(out);
		*x = rs.others.v[i];
		memset(&rs.others.v[i], 0, sizeof(rs.others.v[i]));
	}
	if (rs.discard) {
		x = sieve_actions_append(out);
		x->kind = SIEVE_ACT_DISCARD;
		x->script = rs.discard_script;
		rs.discard_script = NULL;
	}
done:
	/* after a failure the flags are gone with the rest */
	if (!out->error)
		out->flags_dropped = rs.flags_dropped;
	for (i = 0; i < rs.stores.count; i++)
		sieve_action_clear(&rs.stores.v[i]);
	free(rs.stores.v);
	for (i = 0; i < rs.others.count; i++)
		sieve_action_clear(&rs.others.v[i]);
	free(rs.others.v);
	free(rs.reject);
	free(rs.reject_script);
	free(rs.discard_script);
	sieve_keep_flags_reset(&rs);
}
