/* master: the prefork supervisor (DESIGN "Process model").  It binds the
 * listeners, drops privileges, forks `workers` processes and keeps that many
 * alive.  SIGHUP re-reads the config: on success a new generation of workers
 * starts and the old one is told to finish its transaction and exit; on
 * error the old config stays and the error is logged.  SIGTERM/SIGINT:
 * workers finish what is in flight, then everything exits; a worker still
 * busy after idle_timeout is killed (its MTA retries what got no 250). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "become.h"
#include "cfg.h"
#include "dbenv.h"
#include "fsutil.h"
#include "lmtpd_limits.h"
#include "listener.h"
#include "log.h"
#include "master.h"
#include "scoring.h"
#include "sieve_run.h"
#include "worker.h"
#include "xalloc.h"

struct worker_slot {
	pid_t pid;
	unsigned int generation;
	size_t watch;		/* its entry in master.db_watch */
	/* When a reload made it a worker of the old configuration; 0 while
	 * it is current.  It finishes its transaction, but not forever. */
	time_t retired_at;
};

/* Entries of the "inside Berkeley DB since" table the workers share with
 * the master: workers of the current and of an old generation. */
#define MASTER_WATCH_SLOTS 2048

struct master {
	struct lmtpd_config *cfg;
	/* Compiled rules, built before the workers fork so they share them
	 * copy-on-write; NULL when rules_dir is empty. */
	struct scoring *scoring;
	const char *config_path;
	struct listener *ls;
	size_t ls_count;
	uid_t uid;
	gid_t gid;
	bool dropped;
	struct worker_slot *slots;
	size_t slot_count, slot_cap;
	unsigned int generation;
	time_t respawn_second;
	unsigned int respawns_this_second;
	/* After a failed fork, no other try before this time: the loop
	 * must come back to ppoll() to take signals and reap. */
	time_t spawn_retry_at;
	/* Shared with the workers (MAP_SHARED): when each entered Berkeley
	 * DB, 0 when it is not inside.  A worker inside for longer than
	 * db_stall_timeout is blocked on what a dead process held. */
	_Atomic int64_t *db_watch;
	time_t db_checked;
	int pid_fd;		/* holds the lock on pid_file; -1 without one */
	char *pid_path;		/* the pid_file written (a reload may change the key) */
	/* The pipe to the parent of a daemon, which waits for the start to
	 * end (master_ready); -1 in the foreground and once told. */
	int ready_fd;
};

static volatile sig_atomic_t master_got_term, master_got_hup, master_got_chld;

/* Seconds for the master's deadlines, on CLOCK_MONOTONIC: a clock set
 * back (NTP at boot) must not hold off every fork, nor one set forward
 * kill every worker of the old configuration at once.  From 1: 0 is a
 * deadline not set. */
static time_t
master_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + 1;
}

static void
master_on_signal(int sig)
{
	if (sig == SIGHUP)
		master_got_hup = 1;
	else if (sig == SIGCHLD)
		master_got_chld = 1;
	else
		master_got_term = 1;
}

static int
master_resolve_user(const struct lmtpd_config *cfg, uid_t *uid_r, gid_t *gid_r)
{
	char *error;

	if (become_resolve(cfg, uid_r, gid_r, &error) < 0) {
		log_error("%s", error);
		free(error);
		return -1;
	}
	return 0;
}

static int
master_drop_privileges(struct master *m)
{
	char *error;

	if (m->cfg->user != NULL || m->cfg->group != NULL) {
		if (become_switch(m->cfg->user, m->uid, m->gid, &error) < 0) {
			log_error("%s", error);
			free(error);
			return -1;
		}
		m->dropped = true;
	}
	/* Also for `user = root`, or a user whose uid is 0. */
	if (geteuid() == 0)
		log_warn("running as root: set 'user' (and 'group') to an unprivileged "
			 "user so that mail is not written as root");
	return 0;
}

/* Missing parents of state_dir are made 0755 (as root, they must stay
 * passable for `user`), state_dir itself 0700. */
static int
master_prepare_state_dir(struct master *m)
{
	const char *dir = m->cfg->state_dir;
	char parent[MAIL_PATH_MAX];
	struct stat st;

	if (!path_parent(dir, parent, sizeof(parent))) {
		log_error("state_dir %s: %s", dir, strerror(ENAMETOOLONG));
		return -1;
	}
	if (strcmp(parent, "/") != 0 && strcmp(parent, ".") != 0 &&
	    mkdir_parents(parent, 0755, NULL) < 0) {
		log_error("state_dir %s: %s: %s", dir, parent, strerror(errno));
		return -1;
	}
	if (mkdir_parents(dir, 0700, NULL) < 0) {
		log_error("state_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	/* state_dir is given to user below: never a directory others share
	 * (state_dir = /tmp would hand /tmp to vmail). */
	if (stat(dir, &st) < 0) {
		log_error("state_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_error("state_dir %s: not a directory", dir);
		return -1;
	}
	if ((st.st_mode & (S_IWOTH | S_ISVTX)) != 0) {
		log_error("state_dir %s: writable by everyone (a shared directory such as "
			  "/tmp): give lmtpd a directory of its own", dir);
		return -1;
	}
	if (!m->dropped && geteuid() == 0 && m->uid != (uid_t)-1 &&
	    chown(dir, m->uid, m->gid) < 0) {
		log_error("state_dir %s: chown: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

static size_t
master_free_watch(const struct master *m)
{
	for (size_t w = 0; w < MASTER_WATCH_SLOTS; w++) {
		bool used = false;

		for (size_t i = 0; i < m->slot_count && !used; i++)
			used = m->slots[i].watch == w;
		if (!used)
			return w;
	}
	return SIZE_MAX;
}

/* Once a second: a worker stuck inside Berkeley DB is waiting for what
 * a dead process held, and nothing will wake it: kill it and have the
 * environment recovered (dbenv.h).  Its client sees the connection drop
 * and the MTA retries what got no reply.  Then the environment's own
 * check: dead holders, and a pending recovery once nobody holds it. */
static void
master_check_db(struct master *m)
{
	int64_t now = db_env_now_ms();
	int64_t limit = (int64_t)m->cfg->db_stall_timeout * 1000;

	if (master_now() == m->db_checked)
		return;
	m->db_checked = master_now();
	for (size_t i = 0; i < m->slot_count; i++) {
		int64_t since = atomic_load(&m->db_watch[m->slots[i].watch]);
		char *why;

		if (since == 0 || now - since <= limit)
			continue;
		why = xasprintf("worker %ld was stuck in it for %lds",
				(long)m->slots[i].pid, (long)((now - since) / 1000));
		log_warn("worker %ld stuck inside Berkeley DB for %lds (db_stall_timeout): "
			 "killing it", (long)m->slots[i].pid, (long)((now - since) / 1000));
		(void)db_env_request_recovery(m->cfg->state_dir, why);
		free(why);
		atomic_store(&m->db_watch[m->slots[i].watch], 0);
		(void)kill(m->slots[i].pid, SIGKILL);
	}
	(void)db_env_maintain(m->cfg->state_dir);
}

/* Returns false when no worker could be started. */
static bool
master_spawn(struct master *m)
{
	pid_t pid, master_pid = getpid();
	time_t now = master_now();
	size_t watch;

	/* A worker that dies at once (say, a bad Maildir root) must not make
	 * the master fork as fast as it can. */
	if (now != m->respawn_second) {
		m->respawn_second = now;
		m->respawns_this_second = 0;
	}
	if (++m->respawns_this_second > MASTER_RESPAWN_PER_SEC) {
		log_warn("workers are dying fast; waiting 1s before starting more");
		sleep(1);
		m->respawn_second = master_now();
		m->respawns_this_second = 0;
	}
	watch = master_free_watch(m);
	if (watch == SIZE_MAX) {
		log_error("more than %d workers alive; not starting another",
			  MASTER_WATCH_SLOTS);
		return false;
	}
	atomic_store(&m->db_watch[watch], 0);
	pid = fork();
	if (pid < 0) {
		log_error("fork failed: %s", strerror(errno));
		return false;
	}
	if (pid == 0) {
		/* A worker that outlives a killed master keeps the listeners
		 * open (a restarted daemon can not bind them) and serves on
		 * with nobody to stop it: have the kernel send it the stop
		 * signal, which still lets its transaction finish. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
			log_warn("prctl(PR_SET_PDEATHSIG) failed: %s", strerror(errno));
		if (getppid() != master_pid)
			_exit(0);
		/* The signals stay blocked as in the master until the worker
		 * has its own handlers (worker_main sets the mask): a SIGTERM
		 * sent now stays pending instead of reaching the inherited
		 * master handler and being lost. */
		/* the pid file is root's when root started lmtpd: a worker
		 * must not be able to write another pid into it (the lock
		 * is the master's, fcntl locks are per process) */
		if (m->pid_fd >= 0)
			(void)close(m->pid_fd);
		free(m->slots);
		db_env_watch_slot(&m->db_watch[watch]);
		worker_main(m->cfg, m->scoring, m->ls, m->ls_count);
	}
	if (m->slot_count == m->slot_cap) {
		m->slot_cap = m->slot_cap == 0 ? 8 : m->slot_cap * 2;
		m->slots = xreallocarray(m->slots, m->slot_cap, sizeof(*m->slots));
	}
	m->slots[m->slot_count++] = (struct worker_slot){ pid, m->generation, watch, 0 };
	return true;
}

static size_t
master_live_workers(const struct master *m, bool current_only)
{
	size_t n = 0;

	for (size_t i = 0; i < m->slot_count; i++)
		if (!current_only || m->slots[i].generation == m->generation)
			n++;
	return n;
}

static void
master_reap(struct master *m)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < m->slot_count; i++) {
			if (m->slots[i].pid != pid)
				continue;
			/* A worker killed may have held the environment: look
			 * now, not up to a second later (master_check_db). */
			if (WIFSIGNALED(status)) {
				log_warn("worker %ld killed by signal %d", (long)pid,
					 WTERMSIG(status));
				m->db_checked = 0;
			}
			else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
				log_warn("worker %ld exited with status %d", (long)pid,
					 WEXITSTATUS(status));
			m->slots[i] = m->slots[--m->slot_count];
			break;
		}
	}
}

static void
master_signal_workers(struct master *m, int sig, bool old_only)
{
	for (size_t i = 0; i < m->slot_count; i++)
		if (!old_only || m->slots[i].generation != m->generation)
			(void)kill(m->slots[i].pid, sig);
}

static void
master_reload(struct master *m)
{
	struct lmtpd_config *cfg;
	struct listener *ls;
	size_t count;
	char *error;
	uid_t uid;
	gid_t gid;

	cfg = cfg_load(m->config_path, &error);
	if (cfg == NULL) {
		log_error("reload failed, keeping the running configuration: %s", error);
		free(error);
		return;
	}
	if (master_resolve_user(cfg, &uid, &gid) < 0 || uid != m->uid || gid != m->gid) {
		log_warn("reload: a change of user or group needs a restart; "
			 "keeping the running configuration");
		cfg_free(&cfg);
		return;
	}
	ls = listener_open_all(cfg, m->ls, m->ls_count, m->uid, m->gid, &count);
	if (ls == NULL) {
		log_error("reload failed (listeners), keeping the running configuration");
		cfg_free(&cfg);
		return;
	}
	listener_close_all(m->ls, m->ls_count, ls, count, true);
	/* The rule files may have changed too: that is most of what an
	 * admin reloads for. */
	scoring_free(&m->scoring);
	m->scoring = scoring_new(cfg, NULL, NULL);
	scoring_before_fork(m->scoring);
	free(m->ls);
	m->ls = ls;
	m->ls_count = count;
	/* Old workers keep their own copy of the old config (fork) and
	 * their inherited listeners; the master may free its copy now. */
	cfg_free(&m->cfg);
	m->cfg = cfg;
	m->generation++;
	for (size_t i = 0; i < m->slot_count; i++)
		if (m->slots[i].retired_at == 0)
			m->slots[i].retired_at = master_now();
	master_signal_workers(m, SIGHUP, true);
	log_info("reloaded configuration %s", m->config_path != NULL ?
		 m->config_path : "(defaults)");
}

/* The running master holds a write lock on its pid_file (taken on the
 * file before it is renamed into place, so the lock is on the inode the
 * name shows).  A lock, unlike a pid that may have been reused, dies
 * with its process. */
static int
master_check_pid_file(const struct lmtpd_config *cfg)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd;

	if (cfg->pid_file[0] == '\0')
		return 0;
	fd = open(cfg->pid_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
		log_error("pid_file %s is locked by process %ld: lmtpd is already "
			  "running", cfg->pid_file, (long)fl.l_pid);
		(void)close(fd);
		return -1;
	}
	(void)close(fd);
	return 0;
}

/* Returns the locked pid file's fd (kept open until exit), or -1 (a
 * failure is logged). */
static int
master_write_pid_file(const struct lmtpd_config *cfg)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char text[32], *tmp;
	int fd, len;
	bool ok;

	/* Written beside and renamed into place: whoever reads the file
	 * (systemd, a test, an init script) sees the whole number or none.
	 * Root writes it: a new file only (O_EXCL), never one a link in a
	 * folder others can write to points at. */
	tmp = xasprintf("%s.tmp", cfg->pid_file);
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	ok = fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0 &&
	     write_full(fd, text, (size_t)len) == 0 && fsync(fd) == 0;
	if (ok && rename(tmp, cfg->pid_file) < 0)
		ok = false;
	if (!ok) {
		log_error("pid_file %s: %s", cfg->pid_file, strerror(errno));
		(void)unlink(tmp);
		if (fd >= 0)
			(void)close(fd);
		fd = -1;
	}
	free(tmp);
	return fd;
}

/* After a failed start, the pid file that names the daemon (now gone: its
 * end of the pipe closed, its lock with it) is removed by the parent,
 * which is still the user that may (root, for /run). */
static void
master_remove_stale_pid_file(const struct lmtpd_config *cfg, pid_t daemon)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char text[32];
	ssize_t n;
	int fd;

	if (cfg->pid_file[0] == '\0')
		return;
	(void)waitpid(daemon, NULL, 0);
	fd = open(cfg->pid_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	n = read(fd, text, sizeof(text) - 1);
	if (n > 0 && fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_UNLCK) {
		text[n] = '\0';
		if (strtol(text, NULL, 10) == (long)daemon)
			(void)unlink(cfg->pid_file);
	}
	(void)close(fd);
}

/* The parent stays until the daemon has started (a byte on the pipe) or
 * has stopped trying (end of file), and exits 0 or 1 accordingly: whoever
 * ran lmtpd learns whether it runs, and finds pid_file written by then.
 * Returns the daemon's end of the pipe. */
static int
master_daemonize(const struct lmtpd_config *cfg)
{
	int fds[2], null;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		log_fatal("pipe failed: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		log_fatal("fork failed: %s", strerror(errno));
	if (pid > 0) {
		char c;
		ssize_t n;

		(void)close(fds[1]);
		do
			n = read(fds[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1) {
			master_remove_stale_pid_file(cfg, pid);
			fprintf(stderr, "lmtpd: the daemon did not start; the mail log says "
				"why\n");
		}
		_exit(n == 1 ? 0 : 1);
	}
	(void)close(fds[0]);
	if (setsid() < 0)
		log_fatal("setsid failed: %s", strerror(errno));
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		(void)dup2(null, STDIN_FILENO);
		(void)dup2(null, STDOUT_FILENO);
		(void)dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			(void)close(null);
	}
	if (chdir("/") < 0)
		log_warn("chdir(/) failed: %s", strerror(errno));
	return fds[1];
}

/* A fork that fails (a process limit, no memory) is tried again only
 * after this many seconds, as Postfix's master throttles a service:
 * the loop goes back to ppoll(), where signals are taken and workers
 * reaped, instead of forking in a tight loop. */
#define MASTER_FORK_RETRY_SECS 5

static void
master_spawn_missing(struct master *m)
{
	size_t live = master_live_workers(m, true);
	time_t now = master_now();

	if (now < m->spawn_retry_at)
		return;
	for (; live < m->cfg->workers; live++) {
		if (!master_spawn(m)) {
			m->spawn_retry_at = now + MASTER_FORK_RETRY_SECS;
			return;
		}
	}
}

/* A worker of the old configuration finishes its transaction, but a
 * client that keeps one open (a NOOP every few seconds, a chunk sent
 * at the slowest rate allowed) must not keep it, its rules and its
 * listeners for ever, nor pile such workers up reload after reload:
 * as at a stop, it gets idle_timeout. */
static void
master_kill_retired(struct master *m)
{
	time_t now = master_now();
	bool due = false;

	for (size_t i = 0; i < m->slot_count && !due; i++)
		due = m->slots[i].retired_at != 0 &&
		      now - m->slots[i].retired_at > (time_t)m->cfg->idle_timeout;
	if (!due)
		return;
	/* one that ended a moment ago is reaped, not killed with a warning
	 * it did not earn (its SIGCHLD waits for the next ppoll) */
	master_reap(m);
	for (size_t i = 0; i < m->slot_count; i++) {
		struct worker_slot *w = &m->slots[i];

		if (w->retired_at == 0 || now - w->retired_at <= (time_t)m->cfg->idle_timeout)
			continue;
		log_warn("reload: killing worker %ld of the old configuration, still busy "
			 "%u s after the reload (idle_timeout)", (long)w->pid,
			 m->cfg->idle_timeout);
		(void)kill(w->pid, SIGKILL);
		w->retired_at = now;	/* again only if it outlives this */
	}
}

/* Handlers first, then the mask: a stop or reload signal that comes
 * while lmtpd starts (binding, the pid file, compiling the rules) is
 * taken once it runs, not the default action that ended the start
 * without a word (SIGHUP's is to terminate). */
static void
master_signals(sigset_t *wait_mask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = master_on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	(void)sigprocmask(SIG_BLOCK, &block, wait_mask);
	sigdelset(wait_mask, SIGTERM);
	sigdelset(wait_mask, SIGINT);
	sigdelset(wait_mask, SIGHUP);
	sigdelset(wait_mask, SIGCHLD);
}

/* Told before any worker is forked: a worker holding the pipe open would
 * keep the parent waiting for as long as it lives. */
static void
master_ready(struct master *m)
{
	if (m->ready_fd < 0)
		return;
	if (write(m->ready_fd, "", 1) != 1)
		log_warn("telling the starting process that lmtpd runs: %s", strerror(errno));
	(void)close(m->ready_fd);
	m->ready_fd = -1;
}

int
master_run(struct lmtpd_config *cfg, const char *config_path, bool foreground)
{
	struct master m;
	sigset_t wait_mask;
	time_t term_at = 0;

	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	m.config_path = config_path;
	m.pid_fd = -1;
	m.ready_fd = -1;
	m.pid_path = NULL;
	/* A daemon's parent only waits for the start to end, with the
	 * signals as they were: Ctrl-C still ends it. */
	if (foreground)
		master_signals(&wait_mask);
	if (master_resolve_user(cfg, &m.uid, &m.gid) < 0 ||
	    master_check_pid_file(cfg) < 0)
		return 1;
	m.ls = listener_open_all(cfg, NULL, 0, m.uid, m.gid, &m.ls_count);
	if (m.ls == NULL)
		return 1;
	if (master_prepare_state_dir(&m) < 0)
		return 1;
	/* Forked before the switch to user, so that pid_file is written by
	 * whoever started lmtpd (root: /run), as Postfix and Dovecot write
	 * theirs; the parent still reports how the start ends. */
	if (!foreground) {
		m.ready_fd = master_daemonize(cfg);
		master_signals(&wait_mask);
	}
	if (cfg->pid_file[0] != '\0') {
		/* as Postfix and Dovecot: no start without it, for whoever
		 * will stop lmtpd by it */
		m.pid_fd = master_write_pid_file(cfg);
		if (m.pid_fd < 0)
			return 1;
		m.pid_path = xstrdup(cfg->pid_file);
	}
	if (master_drop_privileges(&m) < 0)
		return 1;
	/* Spool files, Bayes and vacation databases live there: better no
	 * start than a daemon that defers every message. */
	if (access(cfg->state_dir, R_OK | W_OK | X_OK) < 0) {
		log_error("state_dir %s is not usable by uid %ld: %s", cfg->state_dir,
			  (long)geteuid(), strerror(errno));
		return 1;
	}
	m.db_watch = mmap(NULL, MASTER_WATCH_SLOTS * sizeof(*m.db_watch),
			  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m.db_watch == MAP_FAILED) {
		log_error("mmap failed: %s", strerror(errno));
		return 1;
	}
	/* A Berkeley DB environment left by a crash is recovered before
	 * any worker uses it. */
	(void)db_env_maintain(cfg->state_dir);
	m.scoring = scoring_new(cfg, NULL, NULL);
	scoring_before_fork(m.scoring);

	log_info("lmtpd %s starting: %zu listener(s), %u worker(s)", PACKAGE_VERSION,
		 m.ls_count, cfg->workers);
	if (!sieve_strconcat_mended())
		log_error("libsieve calls its own libsieve_strconcat, not lmtpd's: its "
			  "one-byte heap overflow (libsieve 2.2.6, a 255-byte From: domain "
			  "under an address test) is not mended; was libsieve rebuilt "
			  "with -Bsymbolic?");
	master_ready(&m);
	/* A stop or reload asked for during the start: taken before any
	 * worker is forked, not after a whole set of them. */
	worker_take_pending_signals(&wait_mask);
	for (;;) {
		if (master_got_chld) {
			master_got_chld = 0;
			master_reap(&m);
		}
		if (master_got_term && term_at == 0) {
			term_at = master_now();
			log_info("stopping: workers finish their transactions");
			listener_close_all(m.ls, m.ls_count, NULL, 0, true);
			master_signal_workers(&m, SIGTERM, false);
		}
		if (term_at != 0) {
			if (master_got_hup) {
				/* left set, it kept the loop from ppoll(): no
				 * worker was reaped, and the master spun */
				master_got_hup = 0;
				log_info("reload ignored: stopping");
			}
			if (m.slot_count == 0)
				break;
			if (master_now() - term_at > (time_t)m.cfg->idle_timeout) {
				log_warn("stopping: killing %zu busy worker(s)", m.slot_count);
				master_signal_workers(&m, SIGKILL, false);
				term_at = master_now();
			}
		} else {
			if (master_got_hup) {
				master_got_hup = 0;
				master_reload(&m);
				/* A stop asked for while the rules compiled
				 * (signals blocked) is taken before a whole new
				 * generation is forked only to be stopped. */
				worker_take_pending_signals(&wait_mask);
				if (master_got_term)
					continue;
			}
			master_spawn_missing(&m);
			master_kill_retired(&m);
		}
		master_check_db(&m);
		if (!master_got_chld && !master_got_hup && !(master_got_term && term_at == 0)) {
			struct timespec tick = { 1, 0 };

			/* Wake each second: for the stop deadline and for
			 * master_check_db.  The mask and the sleep change in
			 * one call: a SIGCHLD that is pending when the mask
			 * is lifted must end the sleep, not be handled just
			 * before a full second of it. */
			(void)ppoll(NULL, 0, &tick, &wait_mask);
		}
	}
	/* Every worker is gone, so the master is alone with the environment
	 * (unless lmtpd-learn holds it): a holder that died, or a recovery
	 * asked for while the workers stopped, is dealt with now rather than
	 * at the next start. */
	(void)db_env_maintain(m.cfg->state_dir);
	if (m.pid_path != NULL && !foreground)
		(void)unlink(m.pid_path);
	if (m.pid_fd >= 0)
		(void)close(m.pid_fd);
	free(m.pid_path);
	log_info("stopped");
	free(m.ls);
	free(m.slots);
	(void)munmap(m.db_watch, MASTER_WATCH_SLOTS * sizeof(*m.db_watch));
	scoring_free(&m.scoring);
	cfg_free(&m.cfg);
	return 0;
}
