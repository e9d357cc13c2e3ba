/* dbenv: the shared transactional Berkeley DB environment, and the
 * protocol (dbenv.h) that keeps a killed process from blocking the others:
 * liveness by fcntl locks, recovery only when nobody holds the
 * environment, into fresh regions.  Logs are removed automatically once
 * checkpointed, and the environment is checkpointed by whoever notices the
 * log grew, so state_dir stays bounded without a cron job. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "dbenv.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

/* Lock conflicts: retried after a random pause, about a second in all. */
#define DB_TXN_RETRIES 60
#define DB_TXN_PAUSE_US 20000
/* The shared page cache: the Bayes token database of a site is a few MB
 * (8 MB at 150000 tokens); Berkeley DB's default, 256 KB, made every
 * lookup a read(2).  A DB_CONFIG file in state_dir overrides it, as
 * Berkeley DB documents; it takes effect when the regions are made anew,
 * which every open with nobody else holding the environment does. */
#define DB_CACHE_BYTES (32U * 1024 * 1024)
/* Mutexes: Berkeley DB sizes its mutex region for a full cache (10,466
 * with the cache above) and initializes every one when the regions are
 * made, which every open alone does: 1.4 MB written, about 400 page
 * faults, a seventh of scoring one message from the command line.  One
 * process uses about 500 plus one per cached page; the region grows on
 * demand up to the maximum, which is well over the old fixed count. */
#define DB_MUTEX_INIT 2048
#define DB_MUTEX_MAX 40000
/* Files up to this size that a process opens read-only are mapped
 * instead of read page by page into the cache (Berkeley DB's default is
 * 10 MB; a site's token database is 8 MB at 150,000 tokens, and may be
 * allowed more).  Berkeley DB stops using the map by itself once any
 * process opens the file for writing. */
#define DB_MMAP_BYTES (256U * 1024 * 1024)
/* Checkpoint once this much log was written (KiB). */
#define DB_CHECKPOINT_KB 1024
/* Log file size.  Opening the environment reads the whole last log file
 * to find the end of the log: with Berkeley DB's default, 10 MB, that
 * was 80 M instructions at every start of lmtpd-score or lmtpd-learn
 * (scoring one message from the command line took 70-80 ms, 60-70 now).
 * A file per checkpoint interval keeps it short; files are removed
 * automatically. */
#define DB_LOG_FILE_BYTES (1024U * 1024)
/* How long a waiting opener sleeps between attempts. */
#define DB_ATTACH_POLL_MS 100
/* "Recovery waits for pids ..." is logged at most this often. */
#define DB_PENDING_LOG_SECS 10

#define DB_LOCK_NAME "lmtpd-db.lock"
#define DB_MARKER_NAME "lmtpd-db.recover"
#define DB_USERS_NAME "lmtpd-db.users"

#define DB_OPEN_FLAGS (DB_CREATE | DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL | DB_INIT_TXN)

struct db_env {
	DB_ENV *env;		/* NULL once let go of (stale) */
	char *dir;
	pid_t pid;		/* the process that opened it */
	unsigned int refs;
	int lock_fd;		/* read lock on DIR/lmtpd-db.lock */
	int user_fd;		/* write lock on DIR/lmtpd-db.users/PID */
	char *user_path;
	bool stale;
	DB_LSN opened_at;	/* the end of the log once opened */
	struct db_env *next;
};

/* The users of one process (vacation and Bayes in a worker) share one
 * handle: a second open of the same dir gets it, the last close closes. */
static struct db_env *db_envs;
static unsigned int db_attach_wait_secs;

/* Handles let go of (stale): never called into again, kept reachable
 * only so that a leak checker does not count them. */
struct db_env_stale_handle {
	DB_ENV *env;
	struct db_env_stale_handle *next;
};
static struct db_env_stale_handle *db_stale_handles;

static _Atomic int64_t db_watch_local;
static _Atomic int64_t *db_watch = &db_watch_local;
static unsigned int db_watch_depth;

int64_t
db_env_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
db_env_watch_slot(_Atomic int64_t *slot)
{
	db_watch = slot != NULL ? slot : &db_watch_local;
	db_watch_depth = 0;
	atomic_store(db_watch, 0);
}

void
db_env_busy_begin(void)
{
	if (db_watch_depth++ == 0) {
		int64_t now = db_env_now_ms();

		/* 0 means "not busy" */
		atomic_store(db_watch, now != 0 ? now : 1);
	}
}

void
db_env_busy_end(void)
{
	if (db_watch_depth > 0 && --db_watch_depth == 0)
		atomic_store(db_watch, 0);
}

int64_t
db_env_busy_ms(void)
{
	int64_t since = atomic_load(db_watch);

	return since == 0 ? 0 : db_env_now_ms() - since;
}

void
db_env_set_attach_wait(unsigned int seconds)
{
	db_attach_wait_secs = seconds;
}

static void
db_errcall(const DB_ENV *env, const char *prefix, const char *msg)
{
	(void)env;
	(void)prefix;
	log_warn("berkeley db: %s", msg);
}

static void
db_msgcall(const DB_ENV *env, const char *msg)
{
	(void)env;
	log_info("berkeley db: %s", msg);
}

/* ---- files of the protocol ---- */

static char *
db_path(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

char *
db_env_marker_path(const char *dir)
{
	return db_path(dir, DB_MARKER_NAME);
}

static bool
db_marker_exists(const char *dir)
{
	char *path = db_env_marker_path(dir);
	struct stat st;
	bool exists = lstat(path, &st) == 0;

	free(path);
	return exists;
}

int
db_env_request_recovery(const char *dir, const char *why)
{
	char *path = db_env_marker_path(dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	int saved;

	saved = errno;
	if (fd >= 0) {
		(void)close(fd);
		log_warn("berkeley db: recovery of the environment in %s requested: %s",
			 dir, why);
	} else {
		log_error("berkeley db: can not request recovery of %s (%s): %s", dir,
			  why, strerror(saved));
	}
	free(path);
	errno = saved;
	return fd >= 0 ? 0 : -1;
}

/* An fcntl lock on the whole file: F_SETLK (cmd) tries, F_SETLKW waits. */
static int
db_lock_cmd(int fd, int cmd, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	return fcntl(fd, cmd, &fl);
}

static int
db_setlk(int fd, short type)
{
	return db_lock_cmd(fd, F_SETLK, type);
}

static int
db_setlkw(int fd, short type)
{
	return db_lock_cmd(fd, F_SETLKW, type);
}

/* True when nobody holds a lock on fd's file (its owner is gone). */
static bool
db_unlocked(int fd)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	return fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_UNLCK;
}

/* Calls fn for each registered process's file in DIR/lmtpd-db.users (not
 * the ".new-" files of a registration in progress). */
static void
db_users_each(const char *dir, void (*fn)(const char *path, const char *pid, void *),
	      void *ctx)
{
	char *users = db_path(dir, DB_USERS_NAME);
	DIR *d = opendir(users);
	struct dirent *de;

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			char *path;

			if (de->d_name[0] == '.')
				continue;
			path = xasprintf("%s/%s", users, de->d_name);
			fn(path, de->d_name, ctx);
			free(path);
		}
		(void)closedir(d);
	}
	free(users);
}

struct db_dead_ctx {
	char *dead;		/* comma list of dead pids */
	char *alive;		/* comma list of live ones */
};

static void
db_list_add(char **list, const char *item)
{
	char *old = *list;

	*list = old == NULL ? xstrdup(item) : xasprintf("%s, %s", old, item);
	free(old);
}

static void
db_classify_user(const char *path, const char *pid, void *vctx)
{
	struct db_dead_ctx *c = vctx;
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;

	if (fd < 0)
		return;		/* gone meanwhile: a clean close */
	/* A clean close unlinks the file before it lets go of the lock: an
	 * unlocked file that is still linked belongs to a dead process. */
	if (db_unlocked(fd) && fstat(fd, &st) == 0 && st.st_nlink > 0)
		db_list_add(&c->dead, pid);
	else
		db_list_add(&c->alive, pid);
	(void)close(fd);
}

static void
db_remove_user_file(const char *path, const char *pid, void *ctx)
{
	(void)pid;
	(void)ctx;
	(void)unlink(path);
}

/* Removes what a recovery replaces: the region files (and an old
 * DB_REGISTER file), and every registration, stale ".new-" ones included.
 * Returns what the region files held on disk (their reservation, when
 * the open that made them got it). */
static uint64_t
db_remove_regions(const char *dir)
{
	char *users = db_path(dir, DB_USERS_NAME);
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t held = 0;

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, "__db.", 5) == 0) {
				char *path = xasprintf("%s/%s", dir, de->d_name);
				int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
				struct stat st;
				bool regular = fd >= 0 && fstat(fd, &st) == 0 &&
					       S_ISREG(st.st_mode);

				if (regular)
					held += (uint64_t)st.st_blocks * 512;

				/* Emptied first: a process that let go of the
				 * environment keeps the file mapped, and with it
				 * the blocks reserved for it, until it exits.
				 * Nobody holds the environment now, and a handle
				 * let go of is never called into again. */
				if (regular)
					(void)ftruncate(fd, 0);
				if (fd >= 0)
					(void)close(fd);
				if (unlink(path) < 0 && errno != ENOENT)
					log_warn("berkeley db: unlink(%s) failed: %s", path,
						 strerror(errno));
				free(path);
			}
		}
		(void)closedir(d);
	}
	d = opendir(users);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			char *path;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			path = xasprintf("%s/%s", users, de->d_name);
			db_remove_user_file(path, NULL, NULL);
			free(path);
		}
		(void)closedir(d);
	}
	free(users);
	return held;
}

/* ---- opening ---- */

/* The end of the log (zero if it can not be read). */
static DB_LSN
db_log_end(DB_ENV *env)
{
	DB_LOG_STAT *ls = NULL;
	DB_LSN lsn = { 0, 0 };

	if (env->log_stat(env, &ls, 0) == 0 && ls != NULL) {
		lsn.file = ls->st_cur_file;
		lsn.offset = ls->st_cur_offset;
	}
	free(ls);
	return lsn;
}

static DB_ENV *
db_env_create_handle(char **error_r)
{
	DB_ENV *env;
	int ret;

	if ((ret = db_env_create(&env, 0)) != 0) {
		*error_r = xasprintf("db_env_create failed: %s", db_strerror(ret));
		return NULL;
	}
	env->set_errcall(env, db_errcall);
	env->set_msgcall(env, db_msgcall);
	(void)env->set_cachesize(env, 0, DB_CACHE_BYTES, 1);
	(void)env->set_mp_mmapsize(env, DB_MMAP_BYTES);
	(void)env->mutex_set_init(env, DB_MUTEX_INIT);
	(void)env->mutex_set_max(env, DB_MUTEX_MAX);
	(void)env->set_lk_detect(env, DB_LOCK_DEFAULT);
	(void)env->set_timeout(env, DB_LOCK_TIMEOUT_MS * 1000, DB_SET_LOCK_TIMEOUT);
	(void)env->set_timeout(env, DB_LOCK_TIMEOUT_MS * 1000, DB_SET_TXN_TIMEOUT);
	(void)env->set_lg_max(env, DB_LOG_FILE_BYTES);
	(void)env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1);
	return env;
}

/* Berkeley DB keeps its regions in files it maps, and grows a region on
 * demand by writing the file's new last byte: the pages in between are
 * holes.  The first touch of a hole on a full file system is a SIGBUS, not
 * ENOSPC: a worker dies in the middle of a delivery (the MTA retries it,
 * and the recipients already written get the message twice), and so does
 * lmtpd-learn.  So every region file gets the blocks of its largest size
 * at once, past its end (FALLOC_FL_KEEP_SIZE: Berkeley DB still sees the
 * size it wrote), and an environment a full file system can not hold
 * fails to open with a clear error instead.  Reserving blocks a file has
 * already got takes none, so every opener does it, not only the one that
 * made the regions.
 *
 * Berkeley DB 5.3 names region N __db.00N and makes them in this order:
 * the primary region (its largest size is get_memory_max), the mutex
 * region, then one per cache (test_dbenv checks this against the
 * library).  Sizes and largest sizes are multiples of 8 KiB. */

/* The room a new environment's regions take once reserved, with the
 * built-in sizes (47 MB: db_reserve_regions), rounded up; and what else
 * its making and recovery write (log, checkpoint). */
#define DB_REGIONS_BYTES_DEFAULT (48ULL * 1024 * 1024)
#define DB_REGIONS_MARGIN_BYTES (1ULL * 1024 * 1024)

/* The largest size region file ID (1-based) can reach, 0 if none. */
static uint64_t
db_region_max(uint32_t id, uint64_t primary, uint64_t mutexes, uint64_t cache,
	      uint32_t ncache)
{
	if (id == 1)
		return primary;
	if (id == 2)
		return mutexes;
	if (id >= 3 && id - 3 < ncache)
		return cache;
	return 0;
}

static bool
db_fallocate_unsupported(int err)
{
	return err == EOPNOTSUPP || err == ENOSYS || err == EINVAL;
}

static int
db_reserve_regions(DB_ENV *env, const char *dir, char **error_r)
{
	static bool unsupported_logged;
	uint32_t gbytes = 0, bytes = 0;
	DB_MUTEX_STAT *ms = NULL;
	DB_MPOOL_STAT *mp = NULL;
	uint64_t primary, mutexes, cache, total = 0;
	uint32_t ncache;
	int ret;

	if ((ret = env->get_memory_max(env, &gbytes, &bytes)) != 0 ||
	    (ret = env->mutex_stat(env, &ms, 0)) != 0 ||
	    (ret = env->memp_stat(env, &mp, NULL, 0)) != 0) {
		free(ms);
		*error_r = xasprintf("reading the region sizes of the database environment "
				     "in %s failed: %s", dir, db_strerror(ret));
		return -1;
	}
	primary = (uint64_t)gbytes * 1024 * 1024 * 1024 + bytes;
	mutexes = ms->st_regmax;
	/* several caches (a DB_CONFIG's choice) each get the whole: more
	 * than needed, never less */
	cache = mp->st_regmax;
	ncache = mp->st_ncache;
	free(ms);
	free(mp);
	for (uint32_t id = 1; id <= 2 + ncache; id++)
		total += db_region_max(id, primary, mutexes, cache, ncache);
	for (uint32_t id = 1; id <= 2 + ncache; id++) {
		uint64_t max = db_region_max(id, primary, mutexes, cache, ncache);
		char name[24];
		char *path;
		int fd;

		if (max == 0)
			continue;
		(void)snprintf(name, sizeof(name), "__db.%03u", id);
		path = db_path(dir, name);
		fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 && errno == ENOENT) {
			/* regions in memory (DB_PRIVATE, DB_SYSTEM_MEM in a
			 * DB_CONFIG): no file to reserve */
			free(path);
			continue;
		}
		if (fd < 0) {
			*error_r = xasprintf("open(%s) failed: %s", path, strerror(errno));
			free(path);
			return -1;
		}
		do
			ret = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)max);
		while (ret < 0 && errno == EINTR);
		if (ret < 0 && db_fallocate_unsupported(errno)) {
			if (!unsupported_logged)
				log_warn("berkeley db: the file system of %s can not reserve "
					 "blocks (fallocate: %s): a full file system there "
					 "can kill the processes using the database environment",
					 dir, strerror(errno));
			unsupported_logged = true;
		} else if (ret < 0) {
			*error_r = xasprintf("reserving %llu MB for the database environment's "
					     "regions in %s failed: %s (%s)",
					     (unsigned long long)(total >> 20) + 1, dir,
					     strerror(errno), name);
			(void)close(fd);
			free(path);
			return -1;
		}
		(void)close(fd);
		free(path);
	}
	return 0;
}

/* Before new regions are made (they are touched while they are made,
 * before db_reserve_regions can run): is there room for them?  need is
 * what the regions replaced had, at least the built-in sizes' room. */
static bool
db_room_for_regions(const char *dir, uint64_t need, char **error_r)
{
	struct statvfs vfs;
	uint64_t avail;

	if (statvfs(dir, &vfs) < 0)
		return true;	/* the open will tell */
	avail = (uint64_t)(geteuid() == 0 ? vfs.f_bfree : vfs.f_bavail) * vfs.f_frsize;
	if (need < DB_REGIONS_BYTES_DEFAULT)
		need = DB_REGIONS_BYTES_DEFAULT;
	need += DB_REGIONS_MARGIN_BYTES;
	if (avail >= need)
		return true;
	*error_r = xasprintf("no room for the database environment in %s: its regions need "
			     "%llu MB, %llu MB free (No space left on device)", dir,
			     (unsigned long long)(need >> 20), (unsigned long long)(avail >> 20));
	return false;
}

static DB_ENV *
db_env_open_handle(const char *dir, bool recover, char **error_r)
{
	DB_ENV *env = db_env_create_handle(error_r);
	int ret;

	if (env == NULL)
		return NULL;
	ret = env->open(env, dir, DB_OPEN_FLAGS | (recover ? DB_RECOVER : 0), 0600);
	if (ret != 0) {
		*error_r = xasprintf("%s of the database environment in %s failed: %s",
				     recover ? "recovery" : "open", dir, db_strerror(ret));
		(void)env->close(env, 0);
		return NULL;
	}
	if (db_reserve_regions(env, dir, error_r) < 0) {
		(void)env->close(env, 0);
		return NULL;
	}
	return env;
}

/* After a recovery that was asked for (a process met DB_RUNRECOVERY):
 * a database file with a damaged page panics Berkeley DB again at its
 * next read, and recovery can not mend a page, so every recovery would
 * be followed by another, and every user of the environment (Bayes,
 * vacation, redirects) would be without it most of the time. Each *.db
 * file is verified, still under the exclusive lock with the recovered
 * pages flushed, and one that fails is moved aside as
 * NAME.damaged-SECONDS (kept for the admin) with an error in the log: it
 * is made anew, empty, at its next open. */
/* Berkeley DB writes a line per bad page while verifying: only the
 * first goes into the log line that says the file is damaged. */
static char db_verify_first[256];

static void
db_verify_errcall(const DB_ENV *env, const char *prefix, const char *msg)
{
	(void)env;
	(void)prefix;
	if (db_verify_first[0] == '\0')
		snprintf(db_verify_first, sizeof(db_verify_first), "%s", msg);
}

/* Files that only make sense together: Bayes's seen database says which
 * messages its token database holds. One moved aside alone would leave
 * the other claiming what is no longer there (a message "already
 * learned" into an empty token database), so its partner goes too. */
static const char *const db_partners[][2] = {
	{ "bayes_toks", "bayes_seen" },
};

static void
db_move_aside(const char *dir, const char *name, const char *why, time_t now)
{
	char *path = db_path(dir, name);
	char *aside = xasprintf("%s.damaged-%lld", path, (long long)now);

	if (rename(path, aside) == 0)
		log_error("berkeley db: %s %s: moved aside to %s; it starts again empty",
			  path, why, aside);
	else if (errno != ENOENT)
		log_error("berkeley db: %s %s, and can not be moved aside: %s", path, why,
			  strerror(errno));
	free(aside);
	free(path);
}

static void
db_move_damaged_aside(DB_ENV *env, const char *dir)
{
	time_t now = time(NULL);
	DIR *d;
	struct dirent *e;

	(void)env->txn_checkpoint(env, 0, 0, DB_FORCE);
	(void)env->memp_sync(env, NULL);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		char *path, *why, *partner = NULL;
		DB *db;
		int ret;

		if (len < 4 || strcmp(e->d_name + len - 3, ".db") != 0 ||
		    strncmp(e->d_name, "__db", 4) == 0)
			continue;
		path = db_path(dir, e->d_name);
		/* No environment: a plain read of the file; the handle is
		 * gone after verify, whatever it returns. */
		if (db_create(&db, NULL, 0) != 0) {
			free(path);
			continue;
		}
		db_verify_first[0] = '\0';
		db->set_errcall(db, db_verify_errcall);
		ret = db->verify(db, path, NULL, NULL, DB_NOORDERCHK);
		free(path);
		/* Only damage: a file that can not be read now (EACCES,
		 * EMFILE) keeps its history. */
		if (ret != DB_VERIFY_BAD) {
			if (ret != 0 && ret != ENOENT)
				log_warn("berkeley db: could not verify %s/%s: %s", dir,
					 e->d_name, db_strerror(ret));
			continue;
		}
		why = xasprintf("is damaged (%s)", db_verify_first[0] != '\0' ?
				db_verify_first : db_strerror(ret));
		for (size_t i = 0; i < N_ELEMENTS(db_partners) && partner == NULL; i++)
			for (int side = 0; side < 2 && partner == NULL; side++) {
				size_t plen = strlen(db_partners[i][side]);

				if (strncmp(e->d_name, db_partners[i][side], plen) == 0)
					partner = xasprintf("%s%s", db_partners[i][!side],
							    e->d_name + plen);
			}
		db_move_aside(dir, e->d_name, why, now);
		if (partner != NULL) {
			char *pwhy = xasprintf("goes with the damaged %s", e->d_name);

			db_move_aside(dir, partner, pwhy, now);
			free(pwhy);
			free(partner);
		}
		free(why);
	}
	(void)closedir(d);
}

/* With the exclusive lock held (nobody else has the environment open):
 * recovery if anything asks for it, into fresh regions. */
static DB_ENV *
db_env_open_alone(const char *dir, char **error_r)
{
	struct db_dead_ctx c = { NULL, NULL };
	char *reg = db_path(dir, "__db.register");
	struct stat st;
	bool marker = db_marker_exists(dir), old_register = lstat(reg, &st) == 0;
	uint64_t need;
	DB_ENV *env;

	free(reg);
	/* Under the exclusive lock every registration left is a dead one.
	 * Alone, the regions are made anew every time (normal recovery is
	 * quick: the log is checkpointed at every close), so nothing a
	 * crash or an older lmtpd left in them can matter, and settings that
	 * only apply at creation (the cache size) do; it is only worth a log
	 * line when something asked for it. */
	db_users_each(dir, db_classify_user, &c);
	if (marker || c.dead != NULL || c.alive != NULL || old_register)
		log_warn("berkeley db: recovering the environment in %s (%s)", dir,
			 marker ? "recovery was requested" :
			 old_register ? "left by an older lmtpd" :
			 "a process died while holding it");
	need = db_remove_regions(dir);
	if (!db_room_for_regions(dir, need, error_r)) {
		free(c.dead);
		free(c.alive);
		return NULL;
	}
	env = db_env_open_handle(dir, true, error_r);
	/* what a reservation that failed half-way got goes back */
	if (env == NULL)
		(void)db_remove_regions(dir);
	if (env != NULL && marker)
		db_move_damaged_aside(env, dir);
	if (env != NULL && marker) {
		char *path = db_env_marker_path(dir);

		(void)unlink(path);
		free(path);
	}
	if (env != NULL && (marker || c.dead != NULL || c.alive != NULL || old_register))
		log_info("berkeley db: recovered the environment in %s", dir);
	free(c.dead);
	free(c.alive);
	return env;
}

/* Registers this process in DIR/lmtpd-db.users: PID, locked for as long
 * as the environment is open.  Written under a temporary name and renamed,
 * so a scanner never sees it unlocked. */
static int
db_register(struct db_env *e, char **error_r)
{
	char *users = db_path(e->dir, DB_USERS_NAME);
	char *tmp = xasprintf("%s/.new-%ld", users, (long)getpid());
	char text[32];
	int fd = -1, len;

	e->user_path = xasprintf("%s/%ld", users, (long)getpid());
	if (mkdir(users, 0700) < 0 && errno != EEXIST)
		goto fail;
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || db_setlk(fd, F_WRLCK) < 0)
		goto fail;
	len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (write_full(fd, text, (size_t)len) < 0)
		goto fail;
	{
		/* A file of our pid already there is a dead process's whose
		 * pid came round again. */
		int old = open(e->user_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);

		if (old >= 0) {
			(void)close(old);
			(void)db_env_request_recovery(e->dir,
				"a process died while holding it (its pid is in use again)");
		}
	}
	if (rename(tmp, e->user_path) < 0)
		goto fail;
	e->user_fd = fd;
	free(users);
	free(tmp);
	return 0;
fail:
	*error_r = xasprintf("registering in %s failed: %s", users, strerror(errno));
	if (fd >= 0) {
		(void)unlink(tmp);
		(void)close(fd);
	}
	free(users);
	free(tmp);
	free(e->user_path);
	e->user_path = NULL;
	return -1;
}

/* Lets go of the protocol's locks and registration (the Berkeley DB
 * handle is the caller's business). */
static void
db_unregister(struct db_env *e)
{
	if (e->user_path != NULL)
		(void)unlink(e->user_path);
	free(e->user_path);
	e->user_path = NULL;
	if (e->user_fd >= 0)
		(void)close(e->user_fd);
	e->user_fd = -1;
	if (e->lock_fd >= 0)
		(void)close(e->lock_fd);
	e->lock_fd = -1;
}

/* Takes the shared lock (or the exclusive one, and recovers) and opens
 * the Berkeley DB handle.  Returns 1 on success, 0 when recovery is
 * pending on others (try later), -1 on error. */
static int
db_attach_once(struct db_env *e, char **error_r)
{
	if (db_setlk(e->lock_fd, F_WRLCK) == 0) {
		e->env = db_env_open_alone(e->dir, error_r);
		/* Turning a write lock into a read lock is atomic: nobody
		 * can slip in between. */
		if (db_setlk(e->lock_fd, F_RDLCK) < 0 && e->env != NULL) {
			*error_r = xasprintf("fcntl(%s/%s) failed: %s", e->dir,
					     DB_LOCK_NAME, strerror(errno));
			(void)e->env->close(e->env, 0);
			e->env = NULL;
		}
		return e->env != NULL ? 1 : -1;
	}
	if (errno != EAGAIN && errno != EACCES) {
		*error_r = xasprintf("fcntl(%s/%s) failed: %s", e->dir, DB_LOCK_NAME,
				     strerror(errno));
		return -1;
	}
	if (db_marker_exists(e->dir))
		return 0;
	/* Held exclusively without a pending recovery: someone is opening
	 * alone, for a moment; wait for the lock to become shared. */
	if (db_setlkw(e->lock_fd, F_RDLCK) < 0)
		return 0;
	/* The marker may have appeared meanwhile: then don't join. */
	if (db_marker_exists(e->dir)) {
		(void)db_setlk(e->lock_fd, F_UNLCK);
		return 0;
	}
	e->env = db_env_open_handle(e->dir, false, error_r);
	return e->env != NULL ? 1 : -1;
}

struct db_env *
db_env_open(const char *dir, char **error_r)
{
	struct db_env *e;
	char *lock;
	int64_t deadline;
	int r;

	*error_r = NULL;
	for (e = db_envs; e != NULL; e = e->next)
		if (e->pid == getpid() && !e->stale && strcmp(e->dir, dir) == 0) {
			e->refs++;
			return e;
		}
	if (mkdir_parents(dir, 0700, NULL) < 0) {
		*error_r = xasprintf("mkdir(%s) failed: %s", dir, strerror(errno));
		return NULL;
	}
	e = xcalloc(1, sizeof(*e));
	e->dir = xstrdup(dir);
	e->user_fd = -1;
	lock = db_path(dir, DB_LOCK_NAME);
	e->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (e->lock_fd < 0) {
		*error_r = xasprintf("open(%s) failed: %s", lock, strerror(errno));
		free(lock);
		free(e->dir);
		free(e);
		return NULL;
	}
	free(lock);
	deadline = db_env_now_ms() + (int64_t)db_attach_wait_secs * 1000;
	db_env_busy_begin();
	while ((r = db_attach_once(e, error_r)) == 0 && db_env_now_ms() < deadline) {
		struct timespec ts = { 0, DB_ATTACH_POLL_MS * 1000000L };

		/* Waiting is not being stuck inside Berkeley DB. */
		db_env_busy_end();
		(void)nanosleep(&ts, NULL);
		db_env_busy_begin();
	}
	if (r == 1)
		e->opened_at = db_log_end(e->env);
	if (r == 1 && db_register(e, error_r) < 0) {
		(void)e->env->close(e->env, 0);
		e->env = NULL;
		r = -1;
	}
	db_env_busy_end();
	if (r != 1) {
		if (r == 0)
			*error_r = xasprintf("the database environment in %s is waiting for "
					     "recovery (a process died while holding it)", dir);
		db_unregister(e);
		free(e->dir);
		free(e);
		errno = r == 0 ? EAGAIN : EIO;
		return NULL;
	}
	e->pid = getpid();
	e->refs = 1;
	e->next = db_envs;
	db_envs = e;
	return e;
}

/* Let go of the environment without another call into it: its regions
 * may hold a mutex a dead process left locked.  The handle and its
 * mappings are left behind on purpose (a little memory until exit). */
static void
db_env_let_go(struct db_env *e)
{
	struct db_env_stale_handle *h;

	if (e->stale)
		return;
	e->stale = true;
	h = xmalloc(sizeof(*h));
	h->env = e->env;
	h->next = db_stale_handles;
	db_stale_handles = h;
	e->env = NULL;
	db_unregister(e);
}

bool
db_env_stale(struct db_env *e)
{
	if (e->stale)
		return true;
	if (e->pid != getpid() || !db_marker_exists(e->dir))
		return false;
	log_warn("berkeley db: letting go of the environment in %s for its recovery",
		 e->dir);
	db_env_let_go(e);
	return true;
}

void
db_env_poll(void)
{
	for (struct db_env *e = db_envs; e != NULL; e = e->next)
		(void)db_env_stale(e);
}

void
db_env_close(struct db_env **ep)
{
	struct db_env *e = *ep;

	if (e == NULL)
		return;
	*ep = NULL;
	if (e->pid != getpid()) {
		/* Inherited across fork: the parent's, not ours to close. */
		return;
	}
	if (--e->refs > 0)
		return;
	for (struct db_env **p = &db_envs; *p != NULL; p = &(*p)->next)
		if (*p == e) {
			*p = e->next;
			break;
		}
	if (!e->stale && !db_env_stale(e) && e->env != NULL) {
		/* The last one out checkpoints whatever the log's size, with
		 * no database open: the next recovery then starts at a
		 * checkpoint that names no file, and opens none.  Had it
		 * opened one, that file could no longer be mapped by a
		 * read-only opener (DB_MMAP_BYTES) for the regions' life.
		 * Not when nothing was logged since this process opened the
		 * environment (a read-only run): the last checkpoint is then
		 * as good, and a checkpoint costs a log write and an
		 * fdatasync. */
		bool last = db_unlocked(e->lock_fd);
		DB_LSN end = db_log_end(e->env);

		db_env_busy_begin();
		if (!last)
			(void)e->env->txn_checkpoint(e->env, DB_CHECKPOINT_KB, 0, 0);
		else if (end.file == 0 || log_compare(&end, &e->opened_at) != 0)
			(void)e->env->txn_checkpoint(e->env, 0, 0, 0);
		(void)e->env->close(e->env, 0);
		db_env_busy_end();
	}
	db_unregister(e);
	free(e->dir);
	free(e);
}

DB_ENV *
db_env_handle(struct db_env *e)
{
	return e->env;
}

struct db_open_ctx {
	DB *db;
	const char *name;
	DBTYPE type;
	uint32_t flags;
};

static int
db_open_in_txn(DB_TXN *txn, void *ctx)
{
	struct db_open_ctx *c = ctx;

	return c->db->open(c->db, txn, c->name, NULL, c->type, c->flags, 0600);
}

static int
db_env_open_db_flags(struct db_env *e, const char *name, DBTYPE type, uint32_t flags,
		     DB **db_r, char **error_r)
{
	struct db_open_ctx c = { NULL, name, type, flags };
	int ret;

	*error_r = NULL;
	if (db_env_stale(e)) {
		*error_r = xasprintf("open(%s/%s) failed: the environment awaits recovery",
				     e->dir, name);
		errno = EAGAIN;
		return -1;
	}
	if ((ret = db_create(&c.db, e->env, 0)) != 0) {
		*error_r = xasprintf("db_create(%s) failed: %s", name, db_strerror(ret));
		errno = EIO;
		return -1;
	}
	/* Opening takes locks that DB_TXN_NOWAIT can not cover: plain
	 * transaction, bounded by the lock timeout, retried a few times. */
	db_env_busy_begin();
	for (int attempt = 0; attempt < 5; attempt++) {
		DB_TXN *txn = NULL;

		if ((ret = e->env->txn_begin(e->env, NULL, &txn, 0)) != 0)
			break;
		ret = db_open_in_txn(txn, &c);
		if (ret == 0) {
			ret = txn->commit(txn, 0);
			break;
		}
		(void)txn->abort(txn);
		if (ret != DB_LOCK_DEADLOCK && ret != DB_LOCK_NOTGRANTED)
			break;
	}
	db_env_busy_end();
	if (ret != 0) {
		*error_r = xasprintf("open(%s/%s) failed: %s", e->dir, name, db_strerror(ret));
		if (ret == DB_RUNRECOVERY)
			(void)db_env_request_recovery(e->dir, "Berkeley DB asked for it");
		else
			(void)c.db->close(c.db, 0);
		errno = ret == ENOENT ? ENOENT : EIO;
		return -1;
	}
	*db_r = c.db;
	return 0;
}

int
db_env_open_db(struct db_env *e, const char *name, DBTYPE type, DB **db_r,
	       char **error_r)
{
	return db_env_open_db_flags(e, name, type, DB_CREATE, db_r, error_r);
}

int
db_env_open_db_read_only(struct db_env *e, const char *name, DBTYPE type, DB **db_r,
			 char **error_r)
{
	return db_env_open_db_flags(e, name, type, DB_RDONLY, db_r, error_r);
}

void
db_env_close_db(struct db_env *e, DB **dbp)
{
	DB *db = *dbp;

	*dbp = NULL;
	if (db == NULL || e == NULL || e->stale || e->pid != getpid())
		return;
	db_env_busy_begin();
	(void)db->close(db, 0);
	db_env_busy_end();
}

static int
db_env_run(struct db_env *e, uint32_t flags, bool checkpoint, int attempts,
	   int (*fn)(DB_TXN *txn, void *ctx), void *ctx)
{
	int ret = 0;

	if (db_env_stale(e))
		return DB_RUNRECOVERY;
	db_env_busy_begin();
	for (int attempt = 0; attempt < attempts; attempt++) {
		DB_TXN *txn = NULL;

		if (attempt > 0) {
			struct timespec ts = { 0, (long)(random() % DB_TXN_PAUSE_US) * 1000 };

			(void)nanosleep(&ts, NULL);
		}
		ret = e->env->txn_begin(e->env, NULL, &txn, flags | DB_TXN_NOWAIT);
		if (ret != 0)
			break;
		ret = fn(txn, ctx);
		if (ret == 0) {
			ret = txn->commit(txn, 0);
			if (ret == 0 && checkpoint)
				(void)e->env->txn_checkpoint(e->env, DB_CHECKPOINT_KB, 0, 0);
			break;
		}
		(void)txn->abort(txn);
		if (ret != DB_LOCK_DEADLOCK && ret != DB_LOCK_NOTGRANTED)
			break;
	}
	db_env_busy_end();
	if (ret == DB_RUNRECOVERY) {
		(void)db_env_request_recovery(e->dir, "Berkeley DB asked for it");
		(void)db_env_stale(e);
	}
	return ret;
}

int
db_env_txn(struct db_env *e, uint32_t flags, int (*fn)(DB_TXN *txn, void *ctx), void *ctx)
{
	return db_env_run(e, flags, true, DB_TXN_RETRIES, fn, ctx);
}

int
db_env_txn_once(struct db_env *e, uint32_t flags, int (*fn)(DB_TXN *txn, void *ctx), void *ctx)
{
	return db_env_run(e, flags, true, 1, fn, ctx);
}

int
db_env_read(struct db_env *e, int (*fn)(DB_TXN *txn, void *ctx), void *ctx)
{
	return db_env_run(e, DB_READ_COMMITTED | DB_TXN_NOSYNC, false, DB_TXN_RETRIES, fn, ctx);
}

/* ---- maintenance (the master, and the daemon at start) ---- */

int
db_env_maintain(const char *dir)
{
	static int64_t last_pending_log;
	struct db_dead_ctx c = { NULL, NULL };
	char *lock = db_path(dir, DB_LOCK_NAME);
	char *error = NULL;
	int fd, ret = 0;
	DB_ENV *env;

	for (struct db_env *e = db_envs; e != NULL; e = e->next)
		if (e->pid == getpid() && !e->stale && strcmp(e->dir, dir) == 0) {
			/* Its own locks would look like nobody's. */
			log_error("berkeley db: maintenance of %s in a process that holds it",
				  dir);
			free(lock);
			return -1;
		}
	fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	free(lock);
	if (fd < 0)
		return 0;	/* no environment here (yet) */
	db_users_each(dir, db_classify_user, &c);
	if (c.dead != NULL && !db_marker_exists(dir)) {
		char *why = xasprintf("process %s died while holding it", c.dead);

		(void)db_env_request_recovery(dir, why);
		free(why);
	}
	if (!db_marker_exists(dir)) {
		ret = 0;
	} else if (db_setlk(fd, F_WRLCK) == 0) {
		env = db_env_open_alone(dir, &error);
		if (env != NULL) {
			(void)env->close(env, 0);
			ret = 1;
		} else {
			log_error("berkeley db: %s", error);
			free(error);
			ret = -1;
		}
	} else {
		int64_t now = db_env_now_ms();

		if (now - last_pending_log >= DB_PENDING_LOG_SECS * 1000) {
			last_pending_log = now;
			log_warn("berkeley db: recovery of %s waits for process(es) %s to let go",
				 dir, c.alive != NULL ? c.alive : "(registering)");
		}
		ret = -1;
	}
	free(c.dead);
	free(c.alive);
	(void)close(fd);	/* also drops the write lock */
	return ret;
}
