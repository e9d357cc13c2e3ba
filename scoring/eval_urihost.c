/* WLBLEval's URI host lists: enlist_uri_host (NAME) host..., delist_uri_host,
 * blocklist_uri_host and welcomelist_uri_host (the lists BLOCK and WELCOME)
 * and the evals that read them, check_uri_host_listed(NAME),
 * check_uri_host_in_blocklist() and check_uri_host_in_welcomelist().
 *
 * A host of the message's URIs is looked up whole, then with its leading
 * labels stripped one by one (sub.example.com, example.com, com); the
 * most specific entry found decides, and a "!" entry says no.  An IP
 * address must be listed as written.  As in SpamAssassin, user_prefs may
 * change the lists (URI_HOST_IN_BLOCKLIST is a "userconf" rule), so the
 * evals run per recipient with that user's copy (score.c).
 *
 * Bounds: at most URIHOST_KEYS_MAX names of a host are looked up; a
 * list's map starts with 16 slots (a prefs file may name up to
 * EVAL_URIHOST_USER_LISTS lists of its own, score.c); the hosts of a
 * message are uri.c's, at most URI_MAX_HOSTS. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "msgview.h"
#include "rules_int.h"
#include "sa_settings.h"
#include "uri.h"
#include "xalloc.h"

/* Values in a list's map: a "!" entry, a listed one, and one removed by
 * delist_uri_host (strmap has no delete; removed reads as absent). */
enum urihost_verdict {
	URIHOST_EXCEPT,
	URIHOST_LISTED,
	URIHOST_REMOVED,
};

/* SpamAssassin keeps at most this many names per host (the most general:
 * "sanity limit, keep tail"). */
#define URIHOST_KEYS_MAX 11

struct eval_urihost_lists {
	char **names;		/* in order of first use */
	struct strmap **maps;	/* host -> enum urihost_verdict */
	size_t n;
	size_t named;		/* of them, other than BLOCK and WELCOME */
	struct strmap *index;	/* name -> its index */
};

void
eval_urihost_free(struct eval_urihost_lists **lists)
{
	struct eval_urihost_lists *l = *lists;

	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->names[i]);
		strmap_free(&l->maps[i]);
	}
	free(l->names);
	free(l->maps);
	strmap_free(&l->index);
	free(l);
	*lists = NULL;
}

static struct strmap *
urihost_find(const struct eval_urihost_lists *l, const char *name)
{
	size_t i;

	return l != NULL && strmap_get(l->index, name, &i) ? l->maps[i] : NULL;
}

/* BLOCK and WELCOME, which the shipped rules read, never count against a
 * cap on lists. */
static bool
urihost_counted(const char *name)
{
	return strcmp(name, "BLOCK") != 0 && strcmp(name, "WELCOME") != 0;
}

static struct strmap *
urihost_append(struct eval_urihost_lists *l, const char *name)
{
	l->names = xreallocarray(l->names, l->n + 1, sizeof(*l->names));
	l->maps = xreallocarray(l->maps, l->n + 1, sizeof(*l->maps));
	l->names[l->n] = xstrdup(name);
	/* most lists are short, and a prefs file may name many */
	l->maps[l->n] = strmap_new_sized(16);
	strmap_put(l->index, name, l->n);
	if (urihost_counted(name))
		l->named++;
	return l->maps[l->n++];
}

static struct eval_urihost_lists *
urihost_lists_new(void)
{
	struct eval_urihost_lists *l = xcalloc(1, sizeof(*l));

	l->index = strmap_new_sized(16);
	return l;
}

/* NULL when name is new and there are max_lists lists already (BLOCK and
 * WELCOME not counted). */
static struct strmap *
urihost_get_or_add(struct eval_urihost_lists **lists, const char *name, size_t max_lists)
{
	struct eval_urihost_lists *l;
	struct strmap *m;

	if (*lists == NULL)
		*lists = urihost_lists_new();
	l = *lists;
	if ((m = urihost_find(l, name)) != NULL)
		return m;
	if (urihost_counted(name) && l->named >= max_lists)
		return NULL;
	return urihost_append(l, name);
}

struct eval_urihost_lists *
eval_urihost_copy(const struct eval_urihost_lists *src)
{
	struct eval_urihost_lists *dst;
	const char *key;
	size_t v;

	if (src == NULL)
		return NULL;
	dst = urihost_lists_new();
	for (size_t i = 0; i < src->n; i++) {
		struct strmap *m = urihost_append(dst, src->names[i]);

		for (size_t slot = 0; (key = strmap_key_at(src->maps[i], slot)) != NULL; slot++)
			if (*key != '\0' && strmap_get(src->maps[i], key, &v) &&
			    v != URIHOST_REMOVED)
				strmap_put(m, key, v);
	}
	return dst;
}

/* Each whitespace-separated word of hosts, ASCII-lowercased (Perl's lc on
 * octets), "!" stripped: into map as its verdict, or removed. */
static void
urihost_words(struct strmap *map, const char *hosts, bool remove)
{
	char *copy = xstrdup(hosts), *save = NULL;

	for (char *w = strtok_r(copy, " \t\r\n\f\v", &save); w != NULL;
	     w = strtok_r(NULL, " \t\r\n\f\v", &save)) {
		bool except = *w == '!';

		if (except)
			w++;
		/* a lone "!": SpamAssassin keeps an empty name, which only a
		 * host ending in a dot could reach; kept out here */
		if (*w == '\0')
			continue;
		for (char *c = w; *c != '\0'; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		if (remove) {
			size_t v;

			if (strmap_get(map, w, &v))
				strmap_put(map, w, URIHOST_REMOVED);
		} else {
			strmap_put(map, w, except ? URIHOST_EXCEPT : URIHOST_LISTED);
		}
	}
	free(copy);
}

bool
eval_urihost_key(const char *key)
{
	static const char *const keys[] = {
		"enlist_uri_host", "delist_uri_host", "blocklist_uri_host",
		"blacklist_uri_host", "welcomelist_uri_host", "whitelist_uri_host",
	};

	for (size_t i = 0; i < N_ELEMENTS(keys); i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

size_t
eval_urihost_count(const struct eval_urihost_lists *lists)
{
	return lists != NULL ? lists->named : 0;
}

int
eval_urihost_apply(struct eval_urihost_lists **lists, const char *key, const char *value,
		   size_t max_lists, const char **why_r)
{
	const char *name = NULL, *hosts = value;
	char *own = NULL;
	struct strmap *m;

	if (!eval_urihost_key(key))
		return 0;
	if (strcmp(key, "blocklist_uri_host") == 0 || strcmp(key, "blacklist_uri_host") == 0) {
		name = "BLOCK";
	} else if (strcmp(key, "welcomelist_uri_host") == 0 ||
		   strcmp(key, "whitelist_uri_host") == 0) {
		name = "WELCOME";
	} else if (strcmp(key, "enlist_uri_host") == 0) {
		if (!eval_list_line_split(value, &own, &hosts)) {
			*why_r = "missing required value";
			return -1;
		}
		name = own;
	}
	if (name != NULL) {
		m = urihost_get_or_add(lists, name, max_lists);
		free(own);
		if (m == NULL) {
			*why_r = "too many lists; line ignored";
			return -1;
		}
		urihost_words(m, hosts, false);
		return 1;
	}
	/* delist_uri_host [(NAME)] host...: without a name, from every list
	 * made so far */
	if (*value == '\0') {
		*why_r = "missing required value";
		return -1;
	}
	if (eval_list_line_split(value, &own, &hosts)) {
		m = urihost_find(*lists, own);
		if (m != NULL)
			urihost_words(m, hosts, true);
		free(own);
		return 1;
	}
	for (size_t i = 0; *lists != NULL && i < (*lists)->n; i++)
		urihost_words((*lists)->maps[i], value, true);
	return 1;
}

static bool
urihost_is_ipv4(const char *h)
{
	int dots = 0;

	for (const char *p = h; *p != '\0'; p++) {
		if (*p == '.') {
			if (p == h || p[-1] == '.')
				return false;
			dots++;
		} else if (*p < '0' || *p > '9') {
			return false;
		}
	}
	return dots == 3 && *h != '\0' && h[strlen(h) - 1] != '.';
}

/* Whether map lists host: true when its most specific entry is a listed
 * one, false for a "!" entry or none; *key_r is the name that matched. */
static bool
urihost_listed(const struct strmap *map, const char *host, const char **key_r)
{
	char literal[URI_MAX_LENGTH + 1];
	const char *keys[URIHOST_KEYS_MAX];
	size_t nkeys = 0, len = strlen(host), v;

	if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 <= URI_MAX_LENGTH) {
		memcpy(literal, host + 1, len - 2);
		literal[len - 2] = '\0';
		keys[nkeys++] = literal;
	} else if (urihost_is_ipv4(host)) {
		keys[nkeys++] = host;
	} else if (len > 0) {
		/* sub.example.com, example.com, com: a long host keeps its
		 * most general names */
		for (const char *h = host;;) {
			const char *dot = strchr(h, '.');

			if (nkeys == URIHOST_KEYS_MAX) {
				memmove(keys, keys + 1, (nkeys - 1) * sizeof(*keys));
				nkeys--;
			}
			keys[nkeys++] = h;
			if (dot == NULL)
				break;
			h = dot + 1;
		}
	}
	for (size_t i = 0; i < nkeys; i++)
		if (strmap_get(map, keys[i], &v) && v != URIHOST_REMOVED) {
			*key_r = keys[i];
			return v == URIHOST_LISTED;
		}
	return false;
}

static unsigned int
urihost_check(struct eval_ctx *ctx, const char *name)
{
	const struct eval_urihost_lists *lists =
		ctx->urihost != NULL ? ctx->urihost : ctx->rs->settings.urihost;
	const struct strmap *map = urihost_find(lists, name);
	const struct strlist *hosts;
	const char *key;

	if (map == NULL)
		return 0;
	hosts = msgview_uri_hosts(ctx->mv);
	for (size_t i = 0; i < hosts->n; i++)
		if (urihost_listed(map, hosts->v[i].p, &key)) {
			if (strcmp(key, hosts->v[i].p) == 0)
				eval_test_log(ctx, "URI: %s", hosts->v[i].p);
			else
				eval_test_log(ctx, "URI: %s (%s)", hosts->v[i].p, key);
			return 1;
		}
	return 0;
}

static unsigned int
eval_check_uri_host_listed(struct eval_ctx *ctx, const struct eval_call *call)
{
	return call->arg_count >= 1 ? urihost_check(ctx, call->args[0]) : 0;
}

static unsigned int
eval_check_uri_host_in_blocklist(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return urihost_check(ctx, "BLOCK");
}

static unsigned int
eval_check_uri_host_in_welcomelist(struct eval_ctx *ctx, const struct eval_call *call)
{
	(void)call;
	return urihost_check(ctx, "WELCOME");
}

static const struct eval_entry eval_urihost_entries[] = {
	{ "check_uri_host_listed", eval_check_uri_host_listed, true },
	{ "check_uri_host_in_blocklist", eval_check_uri_host_in_blocklist, true },
	{ "check_uri_host_in_blacklist", eval_check_uri_host_in_blocklist, true },
	{ "check_uri_host_in_welcomelist", eval_check_uri_host_in_welcomelist, true },
	{ "check_uri_host_in_whitelist", eval_check_uri_host_in_welcomelist, true },
};

const struct eval_family eval_family_urihost = {
	eval_urihost_entries, N_ELEMENTS(eval_urihost_entries), NULL, 0
};
