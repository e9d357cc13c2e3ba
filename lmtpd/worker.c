/* worker: the accept loop.  Listeners are non-blocking and shared by all
 * workers: a worker that loses the accept race sees EAGAIN and waits again.
 * Stop signals stay blocked except inside ppoll(), so a stop request can
 * not slip in between checking the flag and waiting. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cfg.h"
#include "dbenv.h"
#include "listener.h"
#include "lmtp_session.h"
#include "log.h"
#include "netaddr.h"
#include "pipeline_sieve.h"
#include "rcpt.h"
#include "scoring.h"
#include "spool.h"
#include "worker.h"
#include "xalloc.h"

static volatile sig_atomic_t worker_stop;
static const struct listener *worker_listeners;
static size_t worker_listener_count;

static void
worker_on_stop(int sig)
{
	(void)sig;
	worker_stop = 1;
	/* Let go of the listeners now, not after the transaction in flight:
	 * otherwise, after SIGTERM, clients keep connecting to a socket that
	 * nobody will accept on, and a restarted daemon can not bind the TCP
	 * port until this transaction ends.  Safe here: stop signals are
	 * only unblocked inside ppoll(), never during accept(). */
	for (size_t i = 0; i < worker_listener_count; i++)
		(void)close(worker_listeners[i].fd);
	worker_listener_count = 0;
}

static void
worker_signals(sigset_t *wait_mask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = worker_on_stop;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	(void)sigaction(SIGCHLD, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);

	/* Replaces the master's mask only now that the handlers are in
	 * place: a stop signal sent since the fork is pending, not lost. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	(void)sigprocmask(SIG_SETMASK, &block, NULL);
	sigemptyset(wait_mask);
}

void
worker_take_pending_signals(const sigset_t *wait_mask)
{
	sigset_t pending, blocked;

	if (sigpending(&pending) == 0 && !sigisemptyset(&pending) &&
	    sigprocmask(SIG_SETMASK, wait_mask, &blocked) == 0)
		(void)sigprocmask(SIG_SETMASK, &blocked, NULL);
}

/* Returns whether a session was served: not after a lost accept race,
 * nor for a client refused by allow_from (max_use counts sessions). */
static bool
worker_serve(const struct lmtp_session_env *env, const struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char peer[64];
	int fd;

	fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept on %s failed: %s", l->name, strerror(errno));
		return false;
	}
	if (l->addr.is_unix) {
		snprintf(peer, sizeof(peer), "unix");
	} else {
		netaddr_to_text((struct sockaddr *)&ss, peer, sizeof(peer));
		if (!netaddr_match(env->cfg->allow_from, env->cfg->allow_from_count,
				   (struct sockaddr *)&ss)) {
			static const char refuse[] = "421 4.7.1 Access denied\r\n";

			log_warn("connect from %s refused: not in allow_from", peer);
			/* Best effort: the client is not ours to wait for. */
			if (write(fd, refuse, sizeof(refuse) - 1) < 0)
				errno = 0;
			(void)close(fd);
			return false;
		}
	}
	lmtp_session_run(env, fd, peer);
	return true;
}

void
worker_main(const struct lmtpd_config *cfg, struct scoring *scoring,
	    const struct listener *ls, size_t count)
{
	struct lmtp_session_env env;
	struct pollfd *pfds = xcalloc(count, sizeof(*pfds));
	sigset_t wait_mask;
	unsigned int served = 0;

	worker_listeners = ls;
	worker_listener_count = count;
	worker_signals(&wait_mask);
	env.cfg = cfg;
	env.scoring = scoring;
	if (scoring != NULL)
		scoring_after_fork(scoring);
	env.resolver = rcpt_resolver_new(cfg);
	/* Per process: the script cache and the vacation database handle
	 * (a Berkeley DB handle must not cross fork). */
	env.sieve = pipeline_sieve_new(cfg);
	env.spool = spool_new(cfg->state_dir, cfg->max_message_size);
	env.stop = &worker_stop;
	env.wait_mask = &wait_mask;
	for (size_t i = 0; i < count; i++) {
		pfds[i].fd = ls[i].fd;
		pfds[i].events = POLLIN;
	}
	while (!worker_stop && served < cfg->max_use) {
		/* Wakes each second while idle to let go of a database
		 * environment that awaits recovery (dbenv.h). */
		struct timespec tick = { 1, 0 };
		int n = ppoll(pfds, count, &tick, &wait_mask);

		if (n == 0) {
			db_env_poll();
			continue;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll on listeners failed: %s", strerror(errno));
			break;
		}
		/* When a listener is ready, ppoll() returns it and leaves a
		 * SIGHUP/SIGTERM that came in meanwhile pending: take it now,
		 * or an old-generation worker accepts one more client after
		 * the master has logged the reload. */
		worker_take_pending_signals(&wait_mask);
		for (size_t i = 0; i < count && !worker_stop; i++) {
			if ((pfds[i].revents & POLLIN) == 0)
				continue;
			if (worker_serve(&env, &ls[i]))
				served++;
		}
	}
	spool_free(&env.spool);
	pipeline_sieve_free(&env.sieve);
	rcpt_resolver_free(&env.resolver);
	free(pfds);
	exit(0);
}
