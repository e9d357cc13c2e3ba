/* sieve_run: finds and reads the scripts, keeps the validation cache, runs
 * the before/user/after sequence (in the interpreter process,
 * sieve_sandbox.c, unless told not to) and resolves what the scripts
 * recorded into one action list.
 *
 * The interpreter's only output is the serialized result; the worker
 * bounds what it reads, the time it waits (sieve_max_cpu_time) and treats
 * anything odd (a signal, an early end, a malformed result) as a failed
 * script: implicit keep. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "fsutil.h"
#include "log.h"
#include "sieve_int.h"
#include "xalloc.h"

/* Scripts kept in the validation cache (per process). */
#define SIEVE_CACHE_MAX 512
/* *.sieve files taken from a sieve_before/sieve_after folder. */
#define SIEVE_DIR_SCRIPTS_MAX 64
/* Pigeonhole rotates a user's SCRIPT.log past 10 KiB. */
#define SIEVE_USER_LOG_MAX (10 * 1024)

struct sieve_cache_entry {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	bool valid;
	char *errors;
	unsigned long used;
};

struct sieve_runner {
	struct sieve_settings set;
	struct sieve_cache_entry *cache;
	size_t cache_count;
	unsigned long tick;
	unsigned long validations;
	struct sieve_sandbox *sandbox;	/* the interpreter process */
};

struct sieve_runner *
sieve_runner_new(const struct sieve_settings *set)
{
	struct sieve_runner *r = xcalloc(1, sizeof(*r));

	r->set = *set;
	if (r->set.max_actions == 0)
		r->set.max_actions = 1;
	if (r->set.max_cpu_time == 0)
		r->set.max_cpu_time = 1;
	if (r->set.vacation_max_days == 0)
		r->set.vacation_max_days = 1;
	r->sandbox = sieve_sandbox_new();
	/* Header decoding (RFC 2047); a no-op if scoring did it already. */
	g_mime_init();
	return r;
}

void
sieve_runner_free(struct sieve_runner **rp)
{
	struct sieve_runner *r = *rp;

	if (r == NULL)
		return;
	for (size_t i = 0; i < r->cache_count; i++) {
		free(r->cache[i].path);
		free(r->cache[i].errors);
	}
	free(r->cache);
	sieve_sandbox_free(&r->sandbox);
	free(r);
	*rp = NULL;
}

pid_t
sieve_runner_interpreter(const struct sieve_runner *r)
{
	return sieve_sandbox_pid(r->sandbox);
}

unsigned long
sieve_runner_validations(const struct sieve_runner *r)
{
	return r->validations;
}

static struct sieve_cache_entry *
sieve_cache_find(struct sieve_runner *r, const struct sieve_script *s)
{
	for (size_t i = 0; i < r->cache_count; i++) {
		struct sieve_cache_entry *e = &r->cache[i];

		if (strcmp(e->path, s->path) != 0)
			continue;
		if (e->dev != s->st.st_dev || e->ino != s->st.st_ino ||
		    e->size != s->st.st_size ||
		    e->mtime.tv_sec != s->st.st_mtim.tv_sec ||
		    e->mtime.tv_nsec != s->st.st_mtim.tv_nsec ||
		    e->ctime.tv_sec != s->st.st_ctim.tv_sec ||
		    e->ctime.tv_nsec != s->st.st_ctim.tv_nsec)
			return NULL;
		e->used = ++r->tick;
		return e;
	}
	return NULL;
}

static void
sieve_cache_store(struct sieve_runner *r, const struct sieve_script *s)
{
	struct sieve_cache_entry *e = NULL;

	for (size_t i = 0; i < r->cache_count && e == NULL; i++)
		if (strcmp(r->cache[i].path, s->path) == 0)
			e = &r->cache[i];
	if (e == NULL && r->cache_count < SIEVE_CACHE_MAX) {
		r->cache = xreallocarray(r->cache, r->cache_count + 1, sizeof(*r->cache));
		e = &r->cache[r->cache_count++];
		memset(e, 0, sizeof(*e));
	} else if (e == NULL) {
		/* Full: the least recently used entry goes. */
		e = &r->cache[0];
		for (size_t i = 1; i < r->cache_count; i++)
			if (r->cache[i].used < e->used)
				e = &r->cache[i];
	}
	free(e->path);
	free(e->errors);
	e->path = xstrdup(s->path);
	e->dev = s->st.st_dev;
	e->ino = s->st.st_ino;
	e->size = s->st.st_size;
	e->mtime = s->st.st_mtim;
	e->ctime = s->st.st_ctim;
	e->valid = s->valid;
	e->errors = s->errors != NULL ? xstrdup(s->errors) : NULL;
	e->used = ++r->tick;
}

static void
sieve_script_free(struct sieve_script *s)
{
	free(s->path);
	free(s->text);
	free(s->read_error);
	free(s->cached_errors);
	free(s->errors);
}

/* Reads a script; sets read_error instead of failing.  Returns false only
 * for a user script that does not exist (skipped, not an error). */
static bool
sieve_read_script(struct sieve_runner *r, struct sieve_script *s)
{
	struct buf b;
	char chunk[8192];
	ssize_t n;
	int fd;

	fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if ((errno == ENOENT || errno == ENOTDIR) && s->role == SIEVE_ROLE_USER)
			return false;
		s->read_error = xasprintf("open failed: %s", strerror(errno));
		return true;
	}
	if (fstat(fd, &s->st) < 0) {
		s->read_error = xasprintf("fstat failed: %s", strerror(errno));
		close_quietly(fd);
		return true;
	}
	if (!S_ISREG(s->st.st_mode)) {
		s->read_error = xstrdup("not a regular file");
		close_quietly(fd);
		return true;
	}
	if ((uint64_t)s->st.st_size > r->set.max_script_size) {
		s->read_error = xasprintf("script too large (%lld bytes; "
					  "sieve_max_script_size = %llu)",
					  (long long)s->st.st_size,
					  (unsigned long long)r->set.max_script_size);
		close_quietly(fd);
		return true;
	}
	buf_init(&b, r->set.max_script_size + 1);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			s->read_error = xasprintf("read failed: %s", strerror(errno));
			break;
		}
		if (buf_append(&b, chunk, (size_t)n) < 0) {
			s->read_error = xasprintf("script too large "
						  "(sieve_max_script_size = %llu)",
						  (unsigned long long)r->set.max_script_size);
			break;
		}
	}
	close_quietly(fd);
	if (s->read_error != NULL) {
		buf_free(&b);
		return true;
	}
	s->text = buf_steal(&b, &s->len);
	if (s->text == NULL)
		s->text = xstrdup("");
	return true;
}

static int
sieve_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
sieve_add_script(struct sieve_script **list, size_t *count, const char *path,
		 enum sieve_role role)
{
	struct sieve_script *s;

	*list = xreallocarray(*list, *count + 1, sizeof(**list));
	s = &(*list)[(*count)++];
	memset(s, 0, sizeof(*s));
	s->path = xstrdup(path);
	s->role = role;
	s->cached = -1;
}

/* sieve_before/sieve_after: a file, or a folder whose *.sieve files run in
 * name order (Pigeonhole's rule).  A missing one is the admin's mistake:
 * logged, and the rest runs. */
static void
sieve_add_admin(struct sieve_script **list, size_t *count, const char *path,
		enum sieve_role role)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	if (path == NULL || path[0] == '\0')
		return;
	if (stat(path, &st) < 0) {
		log_warn("sieve: %s %s: %s", role == SIEVE_ROLE_BEFORE ? "sieve_before"
			 : "sieve_after", path, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		sieve_add_script(list, count, path, role);
		return;
	}
	d = opendir(path);
	if (d == NULL) {
		log_warn("sieve: %s: %s", path, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 7 ||
		    strcmp(de->d_name + len - 6, ".sieve") != 0)
			continue;
		if (n == SIEVE_DIR_SCRIPTS_MAX) {
			log_warn("sieve: %s: more than %d scripts; the rest is ignored",
				 path, SIEVE_DIR_SCRIPTS_MAX);
			break;
		}
		names = xreallocarray(names, n + 1, sizeof(char *));
		names[n++] = xasprintf("%s/%s", path, de->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(char *), sieve_name_cmp);
	for (size_t i = 0; i < n; i++) {
		sieve_add_script(list, count, names[i], role);
		free(names[i]);
	}
	free(names);
}

/* Builds the list of scripts to consider and reads them.  user_script may
 * be NULL. */
static struct sieve_script *
sieve_collect(struct sieve_runner *r, const char *user_script, size_t *count_r)
{
	struct sieve_script *list = NULL;
	size_t n = 0, out = 0;

	sieve_add_admin(&list, &n, r->set.before, SIEVE_ROLE_BEFORE);
	if (user_script != NULL && user_script[0] != '\0')
		sieve_add_script(&list, &n, user_script, SIEVE_ROLE_USER);
	sieve_add_admin(&list, &n, r->set.after, SIEVE_ROLE_AFTER);
	for (size_t i = 0; i < n; i++) {
		struct sieve_script *s = &list[i];

		if (!sieve_read_script(r, s)) {
			sieve_script_free(s);
			continue;
		}
		if (s->read_error == NULL) {
			const struct sieve_cache_entry *e = sieve_cache_find(r, s);

			if (e != NULL) {
				s->cached = e->valid ? 1 : 0;
				s->cached_errors = e->errors != NULL ? xstrdup(e->errors) : NULL;
			}
		}
		list[out++] = *s;
	}
	*count_r = out;
	if (out == 0) {
		free(list);
		return NULL;
	}
	return list;
}

bool
sieve_has_scripts(struct sieve_runner *r, const char *user_script)
{
	struct stat st;

	if ((r->set.before != NULL && r->set.before[0] != '\0') ||
	    (r->set.after != NULL && r->set.after[0] != '\0'))
		return true;
	if (user_script == NULL || user_script[0] == '\0')
		return false;
	/* Only a missing file means "no script": one that can not be
	 * reached (EACCES, ELOOP) is run, fails to open, and that is logged
	 * instead of a silent implicit keep. */
	return stat(user_script, &st) == 0 || (errno != ENOENT && errno != ENOTDIR);
}

static void
sieve_report_script(struct buf *report, const struct sieve_script *s)
{
	sieve_ser_uint(report, s->validated);
	sieve_ser_uint(report, s->valid);
	sieve_ser_uint(report, s->failed);
	sieve_ser_str(report, s->errors);
}

/* The whole result: a magic, the per-script reports, the actions. */
#define SIEVE_RESULT_MAGIC "lmtpd-sieve-result-1;"

void
sieve_sequence_serialized(const struct sieve_settings *set, struct sieve_script *scripts,
			  size_t n, const struct sieve_msg *msg, struct buf *out)
{
	struct sieve_actions *a = xcalloc(1, sizeof(*a));

	sieve_sequence(set, scripts, n, msg, a);
	buf_put_str(out, SIEVE_RESULT_MAGIC);
	sieve_ser_uint(out, n);
	for (size_t i = 0; i < n; i++)
		sieve_report_script(out, &scripts[i]);
	sieve_actions_serialize(a, out);
	sieve_actions_free(&a);
}

/* Reads what sieve_sequence_serialized wrote back into scripts and a new
 * action list; NULL when malformed. */
struct sieve_actions *
sieve_result_parse(const char *data, size_t len, struct sieve_script *scripts, size_t n)
{
	size_t pos = strlen(SIEVE_RESULT_MAGIC);
	unsigned long count, v;
	struct sieve_actions *a;

	if (len < pos || memcmp(data, SIEVE_RESULT_MAGIC, pos) != 0)
		return NULL;
	if (sieve_de_uint(data, len, &pos, &count) < 0 || count != n)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		struct sieve_script *s = &scripts[i];

		free(s->errors);
		s->errors = NULL;
		if (sieve_de_uint(data, len, &pos, &v) < 0)
			return NULL;
		s->validated = v != 0;
		if (sieve_de_uint(data, len, &pos, &v) < 0)
			return NULL;
		s->valid = v != 0;
		if (sieve_de_uint(data, len, &pos, &v) < 0)
			return NULL;
		s->failed = v != 0;
		if (sieve_de_str(data, len, &pos, &s->errors) < 0)
			return NULL;
	}
	a = sieve_actions_deserialize(data, len, &pos);
	if (a != NULL && pos != len)
		sieve_actions_free(&a);
	return a;
}

/* A result that keeps the message in INBOX, for failures around the
 * interpreter itself. */
struct sieve_actions *
sieve_fallback_keep(const char *why)
{
	struct sieve_actions *a = xcalloc(1, sizeof(*a));
	struct sieve_action *x = sieve_actions_append(a);

	x->kind = SIEVE_ACT_KEEP;
	x->folder = xstrdup("INBOX");
	x->implicit = true;
	x->script = xstrdup("");
	a->error = true;
	snprintf(a->error_text, sizeof(a->error_text), "%s", why);
	return a;
}

/* Pigeonhole's per-user log: SCRIPT.log beside the script, rotated to
 * SCRIPT.log.0 when it grows past SIEVE_USER_LOG_MAX.  Best effort. */
static void
sieve_user_log(const char *script, const char *errors)
{
	char path[4096], old[4100], stamp[64];
	struct stat st;
	struct buf b;
	time_t now = time(NULL);
	struct tm tm;
	int fd;

	if (errors == NULL || errors[0] == '\0' ||
	    snprintf(path, sizeof(path), "%s.log", script) >= (int)sizeof(path))
		return;
	if (lstat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return;
		if (st.st_size > SIEVE_USER_LOG_MAX) {
			snprintf(old, sizeof(old), "%s.0", path);
			(void)rename(path, old);
		}
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
		  O_NOCTTY | O_NONBLOCK, 0600);
	if (fd < 0)
		return;
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(stamp, sizeof(stamp), "%lld", (long long)now);
	buf_init(&b, 0);
	for (const char *p = errors; *p != '\0';) {
		size_t len = strcspn(p, "\n");

		if (len > 0)
			buf_putf(&b, "%s: %s: %.*s\n", stamp, script, (int)len, p);
		p += len;
		if (*p == '\n')
			p++;
	}
	if (write_full(fd, b.data, b.len) < 0 || close_checked(fd) < 0)
		log_debug("sieve: writing %s failed: %s", path, strerror(errno));
	else
		fd = -1;
	if (fd >= 0)
		close_quietly(fd);
	buf_free(&b);
}

struct sieve_actions *
sieve_run(struct sieve_runner *r, const char *user_script, const struct sieve_msg *msg)
{
	struct sieve_script *scripts;
	struct sieve_actions *a;
	size_t n = 0;

	scripts = sieve_collect(r, user_script, &n);
	if (n == 0) {
		struct sieve_action *x;

		a = xcalloc(1, sizeof(*a));
		x = sieve_actions_append(a);
		x->kind = SIEVE_ACT_KEEP;
		x->folder = xstrdup("INBOX");
		x->implicit = true;
		x->script = xstrdup("");
		return a;
	}
	if (r->set.sandbox) {
		a = sieve_sandbox_run(r->sandbox, &r->set, scripts, n, msg);
	} else {
		struct buf out;

		buf_init(&out, 0);
		sieve_sequence_serialized(&r->set, scripts, n, msg, &out);
		a = sieve_result_parse(out.data, out.len, scripts, n);
		buf_free(&out);
		if (a == NULL)
			a = sieve_fallback_keep("sieve: malformed result");
	}
	for (size_t i = 0; i < n; i++) {
		struct sieve_script *s = &scripts[i];

		if (s->validated) {
			r->validations++;
			log_debug("sieve: %s validated: %s", s->path, s->valid ? "valid" : "invalid");
			sieve_cache_store(r, s);
		}
		if (r->set.user_log && s->role == SIEVE_ROLE_USER &&
		    ((s->validated && !s->valid) || s->failed))
			sieve_user_log(s->path, s->errors);
		sieve_script_free(s);
	}
	free(scripts);
	return a;
}

int
sieve_validate_file(struct sieve_runner *r, const char *path, FILE *err)
{
	struct sieve_script s;
	struct sieve_script_result res;
	struct sieve_budget budget = { 1, 1, 1, 1, 1 };
	int ret;

	memset(&s, 0, sizeof(s));
	s.path = xstrdup(path);
	s.role = SIEVE_ROLE_BEFORE;	/* a missing file is an error here */
	(void)sieve_read_script(r, &s);
	if (s.read_error != NULL) {
		fprintf(err, "%s: error: %s\n", path, s.read_error);
		sieve_script_free(&s);
		return -1;
	}
	sieve_exec_script(path, s.text, s.len, true, NULL, &budget, &res);
	ret = res.status == SIEVE_SCRIPT_OK ? 0 : 1;
	for (const char *p = res.errors.data; p != NULL && *p != '\0';) {
		size_t len = strcspn(p, "\n");

		fprintf(err, "%s: %.*s\n", path, (int)len, p);
		p += len;
		if (*p == '\n')
			p++;
	}
	sieve_script_result_free(&res);
	sieve_script_free(&s);
	return ret;
}
