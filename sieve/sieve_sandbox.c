/* sieve_sandbox: one long-lived interpreter process per worker.
 *
 * Forking a child for every message cost more than the rest of a delivery
 * together (bench/profile-lmtpd --sieve: clone, wait4 and the copy-on-write
 * faults after them were over a third of lmtpd's CPU, and a worker with
 * compiled rules is a large process to copy).  So the worker forks one
 * interpreter the first time it needs one and sends it each message over a
 * socket pair: the scripts and the message go in, the serialized result
 * (sieve_run.c) comes back.
 *
 * What the per-message child gave, this keeps: a crash, a runaway regex or
 * garbage from the interpreter costs an implicit keep, never the worker.
 * The CPU limit is per message (ITIMER_PROF, whose SIGPROF ends the
 * process), with the same wall-clock backstop as before; after any failure
 * the process is killed and the next message gets a fresh one.  libsieve
 * leaks a little on scripts that do not parse, so the process is also
 * replaced every SIEVE_SANDBOX_RUNS_MAX messages.
 *
 * Frames both ways: 8 bytes of length (little-endian), then the payload. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "sieve_int.h"
#include "xalloc.h"

/* Messages one interpreter process handles before it is replaced. */
#define SIEVE_SANDBOX_RUNS_MAX 1000
/* Largest request the interpreter accepts: the message (bounded by
 * max_message_size before it gets here) plus the scripts. */
#define SIEVE_SANDBOX_REQUEST_MAX ((uint64_t)1 << 34)
/* Bytes of result an interpreter may send back. */
#define SIEVE_SANDBOX_RESULT_MAX (64 * 1024 * 1024)
#define SIEVE_REQUEST_MAGIC "lmtpd-sieve-request-1;"

struct sieve_sandbox {
	pid_t pid;
	int fd;
	unsigned int runs;
	/* Shared with the interpreter (MAP_SHARED, mapped before any fork):
	 * where it was when it stopped. */
	struct sieve_progress *progress;
};

static void
sandbox_put_len(unsigned char out[8], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		out[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
sandbox_get_len(const unsigned char in[8])
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | in[i];
	return v;
}

/* Script texts and the message may hold any byte, NUL included. */
static void
sandbox_ser_bytes(struct buf *out, const char *p, size_t n)
{
	buf_putf(out, "%zu:", n);
	buf_put(out, p, n);
}

static int
sandbox_de_bytes(const char *data, size_t len, size_t *pos, char **p_r, size_t *n_r)
{
	unsigned long n;
	size_t p = *pos, digits = 0;

	n = 0;
	while (p < len && data[p] >= '0' && data[p] <= '9' && digits < 18) {
		n = n * 10 + (unsigned long)(data[p] - '0');
		p++;
		digits++;
	}
	if (digits == 0 || p >= len || data[p] != ':' || n > len - p - 1)
		return -1;
	p++;
	*p_r = xstrndup(data + p, n);
	*n_r = n;
	*pos = p + n;
	return 0;
}

static void
sandbox_request(struct buf *out, const struct sieve_script *scripts, size_t n,
		const struct sieve_msg *msg)
{
	unsigned char len[8] = { 0 };

	buf_put(out, len, sizeof(len));
	buf_put_str(out, SIEVE_REQUEST_MAGIC);
	sieve_ser_uint(out, n);
	for (size_t i = 0; i < n; i++) {
		const struct sieve_script *s = &scripts[i];

		sieve_ser_str(out, s->path);
		sieve_ser_uint(out, (unsigned long)s->role);
		sandbox_ser_bytes(out, s->text != NULL ? s->text : "", s->text != NULL ? s->len : 0);
		sieve_ser_str(out, s->read_error);
		sieve_ser_uint(out, (unsigned long)(s->cached + 1));
		sieve_ser_str(out, s->cached_errors);
	}
	sieve_ser_str(out, msg->env_from);
	sieve_ser_str(out, msg->env_to);
	sieve_ser_str(out, msg->recipient_delimiter);
	sieve_ser_uint(out, msg->size);
	{
		size_t body = 0;

		for (int i = 0; i < msg->iovcnt; i++)
			body += msg->iov[i].iov_len;
		buf_putf(out, "%zu:", body);
		for (int i = 0; i < msg->iovcnt; i++)
			buf_put(out, msg->iov[i].iov_base, msg->iov[i].iov_len);
	}
	sandbox_put_len((unsigned char *)out->data, out->len - 8);
}

/* The interpreter's side of sandbox_request: scripts[] and msg point into
 * storage the caller frees with sandbox_parsed_free.  -1 if malformed. */
struct sandbox_parsed {
	struct sieve_script *scripts;
	size_t count;
	char *env_from, *env_to, *delimiter, *body;
	struct iovec iov;
	struct sieve_msg msg;
};

static void
sandbox_parsed_free(struct sandbox_parsed *p)
{
	for (size_t i = 0; i < p->count; i++) {
		struct sieve_script *s = &p->scripts[i];

		free(s->path);
		free(s->text);
		free(s->read_error);
		free(s->cached_errors);
		free(s->errors);
	}
	free(p->scripts);
	free(p->env_from);
	free(p->env_to);
	free(p->delimiter);
	free(p->body);
	memset(p, 0, sizeof(*p));
}

static int
sandbox_parse(const char *data, size_t len, struct sandbox_parsed *p)
{
	size_t pos = strlen(SIEVE_REQUEST_MAGIC), body_len;
	unsigned long count, v;

	memset(p, 0, sizeof(*p));
	if (len < pos || memcmp(data, SIEVE_REQUEST_MAGIC, pos) != 0 ||
	    sieve_de_uint(data, len, &pos, &count) < 0 || count > len)
		return -1;
	p->scripts = xcalloc(count == 0 ? 1 : count, sizeof(*p->scripts));
	for (; p->count < count; p->count++) {
		struct sieve_script *s = &p->scripts[p->count];

		if (sieve_de_str(data, len, &pos, &s->path) < 0 || s->path == NULL ||
		    sieve_de_uint(data, len, &pos, &v) < 0 || v > SIEVE_ROLE_AFTER)
			return -1;
		s->role = (enum sieve_role)v;
		if (sandbox_de_bytes(data, len, &pos, &s->text, &s->len) < 0 ||
		    sieve_de_str(data, len, &pos, &s->read_error) < 0 ||
		    sieve_de_uint(data, len, &pos, &v) < 0 || v > 2 ||
		    sieve_de_str(data, len, &pos, &s->cached_errors) < 0)
			return -1;
		s->cached = (int)v - 1;
	}
	if (sieve_de_str(data, len, &pos, &p->env_from) < 0 || p->env_from == NULL ||
	    sieve_de_str(data, len, &pos, &p->env_to) < 0 || p->env_to == NULL ||
	    sieve_de_str(data, len, &pos, &p->delimiter) < 0 || p->delimiter == NULL ||
	    sieve_de_uint(data, len, &pos, &v) < 0 ||
	    sandbox_de_bytes(data, len, &pos, &p->body, &body_len) < 0 || pos != len)
		return -1;
	p->iov.iov_base = p->body;
	p->iov.iov_len = body_len;
	p->msg.iov = &p->iov;
	p->msg.iovcnt = 1;
	p->msg.size = v;
	p->msg.env_from = p->env_from;
	p->msg.env_to = p->env_to;
	p->msg.recipient_delimiter = p->delimiter;
	return 0;
}

/* Returns 0 at a clean end of input, -1 on anything else. */
static int
sandbox_child_read(int fd, void *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t got = read(fd, (char *)p + done, n - done);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		done += (size_t)got;
	}
	return 0;
}

/* The interpreter's exit status when an allocation failed: over
 * sieve_max_memory, as a rule. */
#define SANDBOX_EXIT_NO_MEMORY 4

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN 1
#endif
#endif

#ifndef SANDBOX_ASAN
static void __attribute__((noreturn))
sandbox_out_of_memory(size_t size)
{
	(void)size;
	_exit(SANDBOX_EXIT_NO_MEMORY);
}

/* The address-space cap set, 0 for none, and the page size (sysconf is
 * not async-signal-safe: read once, before the handler can run). */
static uint64_t sandbox_as_limit;
static uint64_t sandbox_page_size;

/* The process's address space in bytes, async-signal-safe; 0 if unknown. */
static uint64_t
sandbox_address_space(void)
{
	char text[64];
	uint64_t pages = 0;
	ssize_t n;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, text, sizeof(text) - 1);
	(void)close(fd);
	for (ssize_t i = 0; i < n && text[i] >= '0' && text[i] <= '9'; i++)
		pages = pages * 10 + (uint64_t)(text[i] - '0');
	return pages * sandbox_page_size;
}

/* libsieve does not check what malloc returns: at the cap it follows a
 * NULL.  A fault with the address space at the cap is the cap's doing,
 * and said so; any other is the crash it is. */
static void
sandbox_fault(int sig)
{
	if (sandbox_as_limit > 0 &&
	    sandbox_address_space() + 16 * 1024 * 1024 >= sandbox_as_limit)
		_exit(SANDBOX_EXIT_NO_MEMORY);
	(void)signal(sig, SIG_DFL);
	(void)raise(sig);
}
#endif

/* Caps the interpreter's address space at what it maps now (the worker's,
 * inherited) plus max_memory: a script that makes libsieve hold the parse
 * of every address of a huge header once per test, thousands of times,
 * grew the process by gigabytes within its CPU time.  Not under
 * AddressSanitizer, which reserves terabytes of address space. */
static void
sandbox_limit_memory(uint64_t max_memory)
{
#ifndef SANDBOX_ASAN
	long page_size = sysconf(_SC_PAGESIZE);
	struct rlimit as;
	uint64_t cap;

	if (max_memory == 0 || page_size <= 0 || getrlimit(RLIMIT_AS, &as) < 0)
		return;
	sandbox_page_size = (uint64_t)page_size;
	cap = sandbox_address_space();
	if (cap == 0 || max_memory >= RLIM_INFINITY - cap)
		return;
	cap += max_memory;
	/* Never above a limit the admin set (systemd's LimitAS=): lower
	 * only, the hard limit as it is. */
	if (as.rlim_cur != RLIM_INFINITY && as.rlim_cur <= cap)
		return;
	if (as.rlim_max != RLIM_INFINITY && as.rlim_max < cap)
		cap = as.rlim_max;
	as.rlim_cur = (rlim_t)cap;
	if (setrlimit(RLIMIT_AS, &as) == 0) {
		sandbox_as_limit = cap;
		xalloc_set_failure(sandbox_out_of_memory);
		(void)signal(SIGSEGV, sandbox_fault);
		(void)signal(SIGBUS, sandbox_fault);
	}
#else
	(void)max_memory;
#endif
}

static void __attribute__((noreturn))
sandbox_child(const struct sieve_settings *set, int fd)
{
	struct rlimit core = { 0, 0 };
	struct itimerval cpu, off;
	sigset_t none;

	/* Keep only the socket: the worker's listeners must close when the
	 * worker closes them, not live on in here. */
	if (fd != 3) {
		if (dup2(fd, 3) < 0)
			_exit(1);
		fd = 3;
	}
	(void)close_range(4, ~0U, 0);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	(void)setrlimit(RLIMIT_CORE, &core);
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGPROF, SIG_DFL);
	(void)signal(SIGTERM, SIG_DFL);
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGINT, SIG_IGN);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	sandbox_limit_memory(set->max_memory);
	memset(&cpu, 0, sizeof(cpu));
	cpu.it_value.tv_sec = set->max_cpu_time;
	memset(&off, 0, sizeof(off));
	for (;;) {
		unsigned char len[8];
		struct sandbox_parsed req;
		struct buf out;
		uint64_t n;
		char *data;

		if (sandbox_child_read(fd, len, sizeof(len)) < 0)
			_exit(0);
		n = sandbox_get_len(len);
		if (n > SIEVE_SANDBOX_REQUEST_MAX)
			_exit(1);
		data = xmalloc((size_t)n + 1);
		if (sandbox_child_read(fd, data, (size_t)n) < 0 ||
		    sandbox_parse(data, (size_t)n, &req) < 0)
			_exit(1);
		free(data);
		buf_init(&out, 0);
		buf_put(&out, len, sizeof(len));
		(void)setitimer(ITIMER_PROF, &cpu, NULL);
		sieve_sequence_serialized(set, req.scripts, req.count, &req.msg, &out);
		(void)setitimer(ITIMER_PROF, &off, NULL);
		sandbox_put_len((unsigned char *)out.data, out.len - 8);
		if (write_full(fd, out.data, out.len) < 0)
			_exit(1);
		buf_free(&out);
		sandbox_parsed_free(&req);
	}
}

static double
sandbox_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sandbox_stop(struct sieve_sandbox *sb, bool kill_it, int *status_r)
{
	int status = 0;

	if (sb->fd >= 0)
		close_quietly(sb->fd);
	sb->fd = -1;
	if (sb->pid > 0) {
		/* Closing the socket ends an idle interpreter. */
		if (kill_it)
			(void)kill(sb->pid, SIGKILL);
		while (waitpid(sb->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	sb->pid = 0;
	sb->runs = 0;
	if (status_r != NULL)
		*status_r = status;
}

static int
sandbox_start(struct sieve_sandbox *sb, const struct sieve_settings *set)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close_quietly(sv[0]);
		close_quietly(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close_quietly(sv[0]);
		sieve_progress = sb->progress;
		sandbox_child(set, sv[1]);
	}
	close_quietly(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
		sb->fd = sv[0];
		sb->pid = pid;
		sandbox_stop(sb, true, NULL);
		return -1;
	}
	sb->fd = sv[0];
	sb->pid = pid;
	sb->runs = 0;
	return 0;
}

enum sandbox_io { SANDBOX_IO_OK, SANDBOX_IO_TIMEOUT, SANDBOX_IO_EOF, SANDBOX_IO_ERROR };

/* Writes all of out, then reads one whole result frame into in, before
 * deadline. */
static enum sandbox_io
sandbox_exchange(int fd, const struct buf *out, struct buf *in, double deadline)
{
	size_t sent = 0;
	uint64_t want = 0;
	bool have_len = false;

	for (;;) {
		struct pollfd pfd = { fd, sent < out->len ? POLLOUT : POLLIN, 0 };
		double left = deadline - sandbox_now();
		int ready;

		if (left <= 0)
			return SANDBOX_IO_TIMEOUT;
		ready = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			return SANDBOX_IO_ERROR;
		if (ready == 0)
			continue;
		if (sent < out->len) {
			ssize_t n = send(fd, out->data + sent, out->len - sent, MSG_NOSIGNAL);

			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n < 0)
				return errno == EPIPE || errno == ECONNRESET ? SANDBOX_IO_EOF
									    : SANDBOX_IO_ERROR;
			sent += (size_t)n;
			continue;
		}
		{
			char chunk[65536];
			size_t room = sizeof(chunk);
			ssize_t got;

			if (have_len && want - in->len < room)
				room = (size_t)(want - in->len);
			else if (!have_len && 8 - in->len < room)
				room = 8 - in->len;
			got = read(fd, chunk, room);
			if (got < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (got < 0)
				return SANDBOX_IO_ERROR;
			if (got == 0)
				return SANDBOX_IO_EOF;
			if (buf_append(in, chunk, (size_t)got) < 0)
				return SANDBOX_IO_ERROR;
		}
		if (!have_len && in->len == 8) {
			want = sandbox_get_len((const unsigned char *)in->data);
			if (want > SIEVE_SANDBOX_RESULT_MAX)
				return SANDBOX_IO_ERROR;
			have_len = true;
			buf_reset(in);
		}
		if (have_len && in->len == want)
			return SANDBOX_IO_OK;
	}
}

struct sieve_sandbox *
sieve_sandbox_new(void)
{
	struct sieve_sandbox *sb = xcalloc(1, sizeof(*sb));
	void *page = mmap(NULL, sizeof(*sb->progress), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	sb->fd = -1;
	/* Without it, errors of a stopped interpreter name no script. */
	sb->progress = page != MAP_FAILED ? page : NULL;
	return sb;
}

void
sieve_sandbox_free(struct sieve_sandbox **sbp)
{
	if (*sbp == NULL)
		return;
	sandbox_stop(*sbp, false, NULL);
	if ((*sbp)->progress != NULL)
		(void)munmap((*sbp)->progress, sizeof(*(*sbp)->progress));
	free(*sbp);
	*sbp = NULL;
}

pid_t
sieve_sandbox_pid(const struct sieve_sandbox *sb)
{
	return sb->pid > 0 ? sb->pid : 0;
}

/* The fallback keep for a run that did not come back, naming the script
 * (and line) it stopped in when the shared page tells: that script failed,
 * so its error also reaches the user's SCRIPT.log. */
static struct sieve_actions *
sandbox_failed(struct sieve_sandbox *sb, struct sieve_script *scripts, size_t n,
	       const char *why)
{
	const char *text = strncmp(why, "sieve: ", 7) == 0 ? why + 7 : why;
	struct sieve_script *s;
	struct sieve_actions *a;
	char *full;
	int idx = sb->progress != NULL ? sb->progress->script : -1;
	unsigned int line = sb->progress != NULL ? sb->progress->line : 0;

	if (idx < 0 || (size_t)idx >= n)
		return sieve_fallback_keep(why);
	s = &scripts[idx];
	free(s->errors);
	s->errors = line > 0 ? xasprintf("line %u: error: %s\n", line, text)
		: xasprintf("error: %s\n", text);
	s->failed = true;
	full = xasprintf("%s: %.*s", s->path, (int)strcspn(s->errors, "\n"), s->errors);
	a = sieve_fallback_keep(full);
	free(full);
	return a;
}

struct sieve_actions *
sieve_sandbox_run(struct sieve_sandbox *sb, const struct sieve_settings *set,
		  struct sieve_script *scripts, size_t n, const struct sieve_msg *msg)
{
	struct buf out, in;
	struct sieve_actions *a = NULL;
	enum sandbox_io io;
	char why[160];
	int status = 0;

	if (sb->pid <= 0 && sandbox_start(sb, set) < 0)
		return sieve_fallback_keep("sieve: could not start the interpreter process");
	if (sb->progress != NULL) {
		sb->progress->script = -1;
		sb->progress->line = 0;
	}
	buf_init(&out, 0);
	sandbox_request(&out, scripts, n, msg);
	buf_init(&in, SIEVE_SANDBOX_RESULT_MAX);
	/* The interpreter may use its CPU limit; the wall clock gets some
	 * slack for a loaded machine. */
	io = sandbox_exchange(sb->fd, &out, &in, sandbox_now() + 2.0 * set->max_cpu_time + 1);
	buf_free(&out);
	if (io == SANDBOX_IO_OK)
		a = sieve_result_parse(in.data, in.len, scripts, n);
	buf_free(&in);
	if (a != NULL) {
		if (++sb->runs >= SIEVE_SANDBOX_RUNS_MAX)
			sandbox_stop(sb, false, NULL);
		return a;
	}
	/* Whatever went wrong, the next message gets a fresh interpreter. */
	sandbox_stop(sb, io != SANDBOX_IO_EOF, &status);
	if (io == SANDBOX_IO_TIMEOUT)
		snprintf(why, sizeof(why), "sieve: time limit exceeded "
			 "(sieve_max_cpu_time = %us)", set->max_cpu_time);
	else if (io == SANDBOX_IO_EOF && WIFSIGNALED(status) && WTERMSIG(status) == SIGPROF)
		snprintf(why, sizeof(why), "sieve: interpreter stopped: "
			 "sieve_max_cpu_time (%us) exceeded", set->max_cpu_time);
	else if (io == SANDBOX_IO_EOF && WIFEXITED(status) &&
		 WEXITSTATUS(status) == SANDBOX_EXIT_NO_MEMORY)
		snprintf(why, sizeof(why), "sieve: interpreter stopped: out of memory "
			 "(sieve_max_memory = %llu%s)",
			 (unsigned long long)(set->max_memory % (1024 * 1024) == 0
					      ? set->max_memory / (1024 * 1024)
					      : set->max_memory % 1024 == 0
					      ? set->max_memory / 1024 : set->max_memory),
			 set->max_memory % (1024 * 1024) == 0 ? "M"
			 : set->max_memory % 1024 == 0 ? "K" : "");
	else if (io == SANDBOX_IO_EOF && WIFSIGNALED(status))
		snprintf(why, sizeof(why), "sieve: interpreter crashed (signal %d)",
			 WTERMSIG(status));
	else if (io == SANDBOX_IO_OK)
		snprintf(why, sizeof(why), "sieve: interpreter returned a malformed result");
	else
		snprintf(why, sizeof(why), "sieve: interpreter failed");
	a = sandbox_failed(sb, scripts, n, why);
	a->over_time = io == SANDBOX_IO_TIMEOUT ||
		(io == SANDBOX_IO_EOF && WIFSIGNALED(status) && WTERMSIG(status) == SIGPROF);
	return a;
}
