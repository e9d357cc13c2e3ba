/* usermap: compile and read the users map.  Readers stat the .db before
 * each lookup and reopen it when its inode or mtime changed, so a rebuilt
 * map takes effect without a restart.  The compiler writes a temporary file
 * beside the map and renames it over FILE.db, so a reader never sees a
 * half-written database. */
#include "config.h"

#include <ctype.h>
#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "lmtpd_limits.h"
#include "addrfold.h"
#include "log.h"
#include "rcpt.h"
#include "usermap.h"
#include "xalloc.h"

struct usermap {
	char *db_path;
	DB *db;
	ino_t ino;
	dev_t dev;
	off_t size;
	struct timespec mtime;
	char error[300];
};

static bool
usermap_attr_path_valid(const char *v, bool may_use_home)
{
	if (v[0] == '\0')
		return false;
	if (v[0] != '/' && !(may_use_home && strncmp(v, "%h", 2) == 0))
		return false;
	/* the daemon refuses every delivery path with "..": refused here,
	 * not with a 451 for each recipient until the mail expires */
	if (path_has_dotdot(v))
		return false;
	for (const char *p = v; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
		if (*p == '%' && (p[1] == '\0' || strchr("hund%", p[1]) == NULL ||
				  (p[1] == 'h' && !may_use_home)))
			return false;
		if (*p == '%')
			p++;
	}
	return true;
}

int
usermap_parse_value(const char *value, struct usermap_attrs *attrs,
		    const char **why_r)
{
	char *copy = xstrdup(value), *tok, *save = NULL;
	int ret = 0;

	memset(attrs, 0, sizeof(*attrs));
	for (tok = strtok_r(copy, " \t", &save); tok != NULL && ret == 0;
	     tok = strtok_r(NULL, " \t", &save)) {
		char **slot = NULL;
		bool may_use_home = true;
		const char *v;

		if (strncmp(tok, "home=", 5) == 0) {
			slot = &attrs->home;
			may_use_home = false;
			v = tok + 5;
		} else if (strncmp(tok, "mail_location=", 14) == 0) {
			slot = &attrs->mail_location;
			v = tok + 14;
		} else if (strncmp(tok, "sieve_script=", 13) == 0) {
			slot = &attrs->sieve_script;
			v = tok + 13;
		} else {
			*why_r = "unknown attribute (expected home=, mail_location= "
				 "or sieve_script=)";
			ret = -1;
			break;
		}
		if (*slot != NULL) {
			*why_r = "attribute given twice";
			ret = -1;
		} else if (!usermap_attr_path_valid(v, may_use_home)) {
			/* Named, so that the map's author knows which of the
			 * line's attributes it is. */
			*why_r = !may_use_home ? "home must be an absolute path, with "
						 "escapes %u %n %d, no '..'"
				 : slot == &attrs->mail_location
				 ? "mail_location must be an absolute path or start "
				   "with %h, with escapes %h %u %n %d, no '..'"
				 : "sieve_script must be an absolute path or start "
				   "with %h, with escapes %h %u %n %d, no '..'";
			ret = -1;
		} else {
			*slot = xstrdup(v);
		}
	}
	free(copy);
	if (ret < 0)
		usermap_attrs_free(attrs);
	return ret;
}

void
usermap_attrs_free(struct usermap_attrs *attrs)
{
	free(attrs->home);
	free(attrs->mail_location);
	free(attrs->sieve_script);
	memset(attrs, 0, sizeof(*attrs));
}

struct usermap *
usermap_new(const char *path)
{
	struct usermap *map = xcalloc(1, sizeof(*map));

	map->db_path = xasprintf("%s.db", path);
	return map;
}

/* Berkeley DB's own messages about a map (a damaged file gives dozens per
 * read) go to the log, at most this many per lookup. */
#define USERMAP_DB_MESSAGES_MAX 3

static unsigned int usermap_db_messages;

static void
usermap_db_errcall(const DB_ENV *env, const char *prefix, const char *msg)
{
	(void)env;
	usermap_db_messages++;
	if (usermap_db_messages <= USERMAP_DB_MESSAGES_MAX)
		log_warn("users map %s: Berkeley DB: %s", prefix != NULL ? prefix : "",
			 msg);
	else if (usermap_db_messages == USERMAP_DB_MESSAGES_MAX + 1)
		log_warn("users map %s: Berkeley DB: more messages not logged",
			 prefix != NULL ? prefix : "");
}

static void
usermap_close(struct usermap *map)
{
	if (map->db != NULL) {
		(void)map->db->close(map->db, 0);
		map->db = NULL;
	}
}

void
usermap_free(struct usermap **mapp)
{
	if (*mapp == NULL)
		return;
	usermap_close(*mapp);
	free((*mapp)->db_path);
	free(*mapp);
	*mapp = NULL;
}

/* The file holds fewer bytes than its hash metadata counts pages. */
static bool
usermap_short(struct usermap *map, const struct stat *st)
{
	DB_HASH_STAT *hs = NULL;
	bool is_short;

	if (map->db->stat(map->db, NULL, &hs, DB_FAST_STAT) != 0 || hs == NULL)
		return true;
	is_short = (uint64_t)hs->hash_pagecnt * hs->hash_pagesize > (uint64_t)st->st_size;
	free(hs);
	return is_short;
}

static int
usermap_open(struct usermap *map, const char **error_r)
{
	struct stat st;
	int ret;

	if (stat(map->db_path, &st) < 0) {
		snprintf(map->error, sizeof(map->error), "stat(%s) failed: %s",
			 map->db_path, strerror(errno));
		usermap_close(map);
		*error_r = map->error;
		return -1;
	}
	if (map->db != NULL && st.st_ino == map->ino && st.st_dev == map->dev &&
	    st.st_mtim.tv_sec == map->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == map->mtime.tv_nsec)
		return 0;
	usermap_close(map);
	if ((ret = db_create(&map->db, NULL, 0)) != 0) {
		map->db = NULL;
		snprintf(map->error, sizeof(map->error), "db_create failed: %s",
			 db_strerror(ret));
		*error_r = map->error;
		return -1;
	}
	map->db->set_errcall(map->db, usermap_db_errcall);
	map->db->set_errpfx(map->db, map->db_path);
	ret = map->db->open(map->db, NULL, map->db_path, NULL, DB_HASH, DB_RDONLY, 0);
	if (ret != 0) {
		snprintf(map->error, sizeof(map->error), "open(%s) failed: %s",
			 map->db_path, db_strerror(ret));
		usermap_close(map);
		*error_r = map->error;
		return -1;
	}
	/* A file shorter than its own pages (an admin's cp or rsync
	 * --inplace over the map, read half-way) would answer "not found"
	 * for users it holds: 550 for mail a retry would deliver. */
	if (usermap_short(map, &st)) {
		snprintf(map->error, sizeof(map->error), "%s is shorter than the map it "
			 "holds (being copied over? replace it by rename, as lmtpd-map "
			 "does)", map->db_path);
		usermap_close(map);
		*error_r = map->error;
		return -1;
	}
	map->ino = st.st_ino;
	map->dev = st.st_dev;
	map->size = st.st_size;
	map->mtime = st.st_mtim;
	return 0;
}

/* Whether the file changed since it was opened: then a "not found" may
 * come from a copy half written. */
static bool
usermap_changed(const struct usermap *map)
{
	struct stat st;

	return stat(map->db_path, &st) < 0 || st.st_ino != map->ino ||
	       st.st_dev != map->dev || st.st_size != map->size ||
	       st.st_mtim.tv_sec != map->mtime.tv_sec ||
	       st.st_mtim.tv_nsec != map->mtime.tv_nsec;
}

int
usermap_lookup(struct usermap *map, const char *key, char *value_r,
	       size_t value_size, const char **error_r)
{
	DBT k, v;
	int ret;

	usermap_db_messages = 0;
	if (usermap_open(map, error_r) < 0)
		return -1;
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)strlen(key);
	ret = map->db->get(map->db, NULL, &k, &v, 0);
	if (ret == DB_NOTFOUND && usermap_changed(map)) {
		snprintf(map->error, sizeof(map->error), "%s changed while it was read",
			 map->db_path);
		usermap_close(map);
		*error_r = map->error;
		return -1;
	}
	if (ret == DB_NOTFOUND)
		return 0;
	if (ret != 0) {
		snprintf(map->error, sizeof(map->error), "read(%s) failed: %s",
			 map->db_path, db_strerror(ret));
		usermap_close(map);
		*error_r = map->error;
		return -1;
	}
	if (v.size >= value_size) {
		snprintf(map->error, sizeof(map->error), "%s: value of '%s' too long",
			 map->db_path, key);
		*error_r = map->error;
		return -1;
	}
	/* An entry without attributes has an empty value, whose data
	 * Berkeley DB may return as NULL: memcpy must not see it. */
	if (v.size > 0)
		memcpy(value_r, v.data, v.size);
	value_r[v.size] = '\0';
	return 1;
}

/* A key is "local@domain" or "@domain", without white space or controls. */
static bool
usermap_key_valid(const char *key)
{
	const char *at = strrchr(key, '@');

	if (at == NULL || at[1] == '\0' || strlen(key) > LMTP_PATH_MAX)
		return false;
	for (const char *p = key; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

static int
usermap_put(DB *db, char *key, const char *value, const char *path,
	    unsigned int line, char **error_r)
{
	/* folded as rcpt_parse folds the addresses looked up */
	char *folded = addr_casefold(key);
	DBT k, v;
	int ret;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = folded;
	k.size = (u_int32_t)strlen(folded);
	v.data = (void *)value;
	v.size = (u_int32_t)strlen(value);
	ret = db->put(db, NULL, &k, &v, DB_NOOVERWRITE);
	if (ret == DB_KEYEXIST)
		*error_r = xasprintf("%s:%u: duplicate key '%s'", path, line, folded);
	else if (ret != 0)
		*error_r = xasprintf("%s:%u: write failed: %s", path, line,
				     db_strerror(ret));
	free(folded);
	return ret == 0 ? 0 : -1;
}

/* A key that names an address the RCPT parser refuses ("x@.", "a..b@c",
 * a local part with '/') compiled, and no lookup could ever reach it. */
static bool
usermap_key_unmatchable(const char *key, const char *path, unsigned int line,
			char **error_r)
{
	char *folded = addr_casefold(key);
	char *at = strrchr(folded, '@');
	char why[128], esc[LOG_ESCAPE_SIZE];
	bool bad;

	*at = '\0';
	bad = rcpt_address_problem(at == folded ? NULL : folded, at + 1, why, sizeof(why));
	if (bad) {
		log_escape(esc, sizeof(esc), key, strlen(key));
		*error_r = xasprintf("%s:%u: bad key '%s' (%s: no recipient address "
				     "can match it)", path, line, esc, why);
	}
	free(folded);
	return bad;
}

static int
usermap_commit_entry(DB *db, struct buf *entry, const char *path,
		     unsigned int line, char **error_r)
{
	char *key, *value;
	struct usermap_attrs attrs;
	const char *why;

	if (entry->len == 0)
		return 0;
	key = entry->data;
	value = key + strcspn(key, " \t");
	if (*value != '\0')
		*value++ = '\0';
	value += strspn(value, " \t");
	if (!usermap_key_valid(key)) {
		char esc[LOG_ESCAPE_SIZE];

		/* an invalid key may hold control bytes: not raw to a terminal */
		log_escape(esc, sizeof(esc), key, strlen(key));
		*error_r = xasprintf("%s:%u: bad key '%s' (expected user@domain "
				     "or @domain)", path, line, esc);
		return -1;
	}
	/* Written as lookups see an address: they take the one final dot
	 * off a domain (an absolute name) and unquote a local part, so a
	 * key with either would never match. */
	if (key[strlen(key) - 1] == '.' && key[strlen(key) - 2] != '@' &&
	    key[strlen(key) - 2] != '.')
		key[strlen(key) - 1] = '\0';
	if (key[0] == '"') {
		*error_r = xasprintf("%s:%u: bad key '%s' (a quoted local part: lookups "
				     "use it unquoted, so write it unquoted)", path, line, key);
		return -1;
	}
	if (usermap_key_unmatchable(key, path, line, error_r))
		return -1;
	if (usermap_parse_value(value, &attrs, &why) < 0) {
		*error_r = xasprintf("%s:%u: %s", path, line, why);
		return -1;
	}
	usermap_attrs_free(&attrs);
	return usermap_put(db, key, value, path, line, error_r);
}

/* Reads one line of in into line (NUL-terminated, without its LF).
 * Returns 1, 0 at the end of the file (or a read error: ferror), -1 for
 * a line longer than size - 1 bytes, -2 for a line with a NUL byte (with
 * fgets the line ended there: the rest of a last line without LF went
 * unchecked, "a@b home=/x<NUL> bogus=1" compiled). */
static int
usermap_read_line(FILE *in, char *line, size_t size, size_t *len_r)
{
	size_t len = 0;
	bool nul = false;
	int c;

	while ((c = getc(in)) != EOF && c != '\n') {
		if (len + 1 >= size)
			return -1;
		if (c == '\0')
			nul = true;
		line[len++] = (char)c;
	}
	line[len] = '\0';
	*len_r = len;
	if (c == EOF && len == 0)
		return 0;
	return nul ? -2 : 1;
}

static int
usermap_take_mode(const char *db_path, const char *tmp_path, char **error_r)
{
	struct stat old;
	mode_t mode = 0644;
	bool have_old = stat(db_path, &old) == 0;

	if (have_old)
		mode = old.st_mode & 07777;
	if (have_old && geteuid() == 0 && chown(tmp_path, old.st_uid, old.st_gid) < 0) {
		*error_r = xasprintf("chown(%s) failed: %s", tmp_path, strerror(errno));
		return -1;
	}
	if (chmod(tmp_path, mode) < 0) {
		*error_r = xasprintf("chmod(%s) failed: %s", tmp_path, strerror(errno));
		return -1;
	}
	return 0;
}

int
usermap_compile(const char *path, char **error_r)
{
	char *db_path = xasprintf("%s.db", path);
	char *tmp_path = xasprintf("%s.db.%ld.tmp", path, (long)getpid());
	char line[CFG_LINE_MAX + 1], dir[PATH_MAX];
	unsigned int lineno = 0, entry_line = 0;
	struct buf entry;
	DB *db = NULL;
	FILE *in;
	int ret = -1, dbret, fd, got;

	*error_r = NULL;
	buf_init(&entry, USERMAP_VALUE_MAX);
	in = fopen(path, "r");
	if (in == NULL) {
		*error_r = xasprintf("%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	(void)unlink(tmp_path);
	if ((dbret = db_create(&db, NULL, 0)) != 0) {
		db = NULL;
		*error_r = xasprintf("db_create failed: %s", db_strerror(dbret));
		goto out;
	}
	dbret = db->open(db, NULL, tmp_path, NULL, DB_HASH, DB_CREATE | DB_EXCL, 0644);
	if (dbret != 0) {
		*error_r = xasprintf("%s: cannot create: %s", tmp_path, db_strerror(dbret));
		goto out;
	}
	for (;;) {
		size_t len;

		if ((got = usermap_read_line(in, line, sizeof(line), &len)) == 0)
			break;
		lineno++;
		if (got == -1) {
			*error_r = xasprintf("%s:%u: line too long", path, lineno);
			goto out;
		}
		if (got == -2) {
			*error_r = xasprintf("%s:%u: NUL byte in line", path, lineno);
			goto out;
		}
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (line[strspn(line, " \t")] == '\0' || line[strspn(line, " \t")] == '#')
			continue;
		if (line[0] == ' ' || line[0] == '\t') {
			if (entry.len == 0) {
				*error_r = xasprintf("%s:%u: continuation line without "
						     "a key", path, lineno);
				goto out;
			}
			if (buf_append(&entry, " ", 1) < 0 ||
			    buf_append_str(&entry, line + strspn(line, " \t")) < 0) {
				*error_r = xasprintf("%s:%u: entry too long", path, lineno);
				goto out;
			}
			continue;
		}
		if (usermap_commit_entry(db, &entry, path, entry_line, error_r) < 0)
			goto out;
		buf_reset(&entry);
		entry_line = lineno;
		if (buf_append_str(&entry, line) < 0) {
			*error_r = xasprintf("%s:%u: entry too long", path, lineno);
			goto out;
		}
	}
	if (ferror(in)) {
		*error_r = xasprintf("%s: read error: %s", path, strerror(errno));
		goto out;
	}
	if (usermap_commit_entry(db, &entry, path, entry_line, error_r) < 0)
		goto out;
	dbret = db->close(db, 0);
	db = NULL;
	if (dbret != 0) {
		*error_r = xasprintf("%s: close failed: %s", tmp_path, db_strerror(dbret));
		goto out;
	}
	/* The old map's mode and owner, which the admin may have set for
	 * the daemon's user; a first map 0644 whatever the umask (with 077
	 * the daemon could not read it: 451 for everyone). */
	if (usermap_take_mode(db_path, tmp_path, error_r) < 0)
		goto out;
	/* Durable before it replaces the old map. */
	fd = open(tmp_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0 || close(fd) < 0) {
		*error_r = xasprintf("%s: fsync failed: %s", tmp_path, strerror(errno));
		goto out;
	}
	if (rename(tmp_path, db_path) < 0) {
		*error_r = xasprintf("rename(%s, %s) failed: %s", tmp_path, db_path,
				     strerror(errno));
		goto out;
	}
	/* and the new name with it: after a crash the old map could come
	 * back, and its new users get 550 */
	if (!path_parent(db_path, dir, sizeof(dir)) || fsync_path(dir) < 0) {
		*error_r = xasprintf("%s: fsync of its folder failed: %s", db_path,
				     strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (db != NULL)
		(void)db->close(db, 0);
	if (ret < 0)
		(void)unlink(tmp_path);
	if (in != NULL)
		(void)fclose(in);
	buf_free(&entry);
	free(db_path);
	free(tmp_path);
	return ret;
}
