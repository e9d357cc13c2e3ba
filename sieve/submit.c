/* submit: SMTP client and sendmail runner for redirect and vacation mail.
 *
 * SECURITY: no shell is ever involved.  The program gets a fixed argument
 * vector whose addresses come after "--" (so none can pass for an option),
 * a fixed environment, standard descriptors only, and the signal state of
 * a fresh process.  Addresses with control characters, spaces or angle
 * brackets are refused before anything is sent, so nothing from a script
 * can inject SMTP commands.  Every wait is bounded by the timeout. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "log.h"
#include "submit.h"
#include "xalloc.h"

#define SUBMIT_REPLY_LINE_MAX 4096
#define SUBMIT_REPLY_LINES_MAX 100
#define SUBMIT_ERRTEXT_MAX 400
#define SUBMIT_EX_TEMPFAIL 75	/* sysexits.h */

struct submit_conn {
	int fd;
	double deadline;	/* the whole hand-off */
	unsigned int step;	/* seconds per step */
	char in[SUBMIT_REPLY_LINE_MAX * 2];
	size_t in_len;
	bool eightbitmime, smtputf8;
};

static double
submit_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
submit_wait_ms(const struct submit_conn *c)
{
	double step_end = submit_now() + c->step;
	double end = step_end < c->deadline ? step_end : c->deadline;
	double left = end - submit_now();

	return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

bool
submit_address_usable(const char *a, bool may_be_empty)
{
	size_t len = strlen(a);
	bool quoted = false;

	if (len == 0)
		return may_be_empty;
	/* A leading '-' could read as an option to a sendmail program that
	 * ignores "--". */
	if (len > 256 || a[0] == '-')
		return false;
	for (const char *p = a; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch < 0x20 || ch == 0x7f)
			return false;
		if (quoted && ch == '\\') {
			/* RFC 5321 quoted-pair: a printable character */
			if ((unsigned char)p[1] < 0x20 || p[1] == 0x7f)
				return false;
			p++;
			continue;
		}
		if (ch == '"')
			quoted = !quoted;
		else if (!quoted && (ch == ' ' || ch == '<' || ch == '>'))
			return false;
	}
	return !quoted;
}

const char *
submit_check(const char *s)
{
	const char *hp, *colon;

	if (s[0] == '/')
		return NULL;
	if (strncmp(s, "smtp:", 5) != 0)
		return "must be smtp:HOST:PORT or the absolute path of a "
		       "sendmail-compatible program";
	hp = s + 5;
	if (hp[0] == '[') {
		const char *close = strchr(hp, ']');

		if (close == NULL || close == hp + 1 || close[1] != ':')
			return "bad [IPv6]:PORT";
		colon = close + 1;
	} else {
		colon = strrchr(hp, ':');
		if (colon == NULL || colon == hp)
			return "must be smtp:HOST:PORT";
	}
	{
		char *end;
		long port = strtol(colon + 1, &end, 10);

		if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
			return "bad port";
	}
	return NULL;
}

/* --- SMTP --- */

static int
submit_connect(struct submit_conn *c, const char *spec, char *err, size_t errsize)
{
	char host[256], port[16];
	const char *hp = spec + 5, *colon;
	struct addrinfo hints, *res = NULL, *ai;
	int ret;

	if (hp[0] == '[') {
		const char *close = strchr(hp, ']');

		snprintf(host, sizeof(host), "%.*s", (int)(close - hp - 1), hp + 1);
		colon = close + 1;
	} else {
		colon = strrchr(hp, ':');
		snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
	}
	snprintf(port, sizeof(port), "%s", colon + 1);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	ret = getaddrinfo(host, port, &hints, &res);
	if (ret != 0) {
		snprintf(err, errsize, "%s: %s", spec, gai_strerror(ret));
		return -1;
	}
	snprintf(err, errsize, "%s: no address", spec);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);
		struct pollfd pfd;
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (fd < 0) {
			snprintf(err, errsize, "socket: %s", strerror(errno));
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			snprintf(err, errsize, "connect to %s failed: %s", spec, strerror(errno));
			close_quietly(fd);
			continue;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		ret = poll(&pfd, 1, submit_wait_ms(c));
		if (ret <= 0) {
			snprintf(err, errsize, "connect to %s: %s", spec,
				 ret == 0 ? "timed out" : strerror(errno));
			close_quietly(fd);
			continue;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
			snprintf(err, errsize, "connect to %s failed: %s", spec,
				 strerror(soerr != 0 ? soerr : errno));
			close_quietly(fd);
			continue;
		}
		c->fd = fd;
		freeaddrinfo(res);
		return 0;
	}
	freeaddrinfo(res);
	return -1;
}

static int
submit_send(struct submit_conn *c, const char *data, size_t len, char *err, size_t errsize)
{
	while (len > 0) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);

		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { c->fd, POLLOUT, 0 };
			int r = poll(&pfd, 1, submit_wait_ms(c));

			if (r > 0 || (r < 0 && errno == EINTR))
				continue;
			snprintf(err, errsize, "write to MTA: %s",
				 r == 0 ? "timed out" : strerror(errno));
			return -1;
		}
		snprintf(err, errsize, "write to MTA failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Reads one reply; returns its code (the text of the last line goes to
 * text), or -1 (err set). */
static int
submit_reply(struct submit_conn *c, char *text, size_t text_size, char *err,
	     size_t errsize, bool ehlo)
{
	unsigned int lines = 0;

	for (;;) {
		char *nl = memchr(c->in, '\n', c->in_len);

		if (nl != NULL) {
			size_t len = (size_t)(nl - c->in) + 1, tlen = len - 1;
			int code;

			if (tlen > 0 && c->in[tlen - 1] == '\r')
				tlen--;
			c->in[tlen] = '\0';
			if (tlen < 3 || c->in[0] < '2' || c->in[0] > '5' ||
			    (tlen > 3 && c->in[3] != ' ' && c->in[3] != '-')) {
				snprintf(err, errsize, "bad reply from MTA: %.100s", c->in);
				return -1;
			}
			code = atoi(c->in);
			if (ehlo && tlen > 4) {
				const char *kw = c->in + 4;

				if (strncasecmp(kw, "8BITMIME", 8) == 0)
					c->eightbitmime = true;
				else if (strncasecmp(kw, "SMTPUTF8", 8) == 0)
					c->smtputf8 = true;
			}
			if (text_size > 0) {
				size_t tl = tlen < text_size - 1 ? tlen : text_size - 1;

				memcpy(text, c->in, tl);
				text[tl] = '\0';
			}
			if (tlen == 3 || c->in[3] == ' ') {
				memmove(c->in, c->in + len, c->in_len - len);
				c->in_len -= len;
				return code;
			}
			memmove(c->in, c->in + len, c->in_len - len);
			c->in_len -= len;
			if (++lines > SUBMIT_REPLY_LINES_MAX) {
				snprintf(err, errsize, "reply from MTA too long");
				return -1;
			}
			continue;
		}
		if (c->in_len >= sizeof(c->in) - 1) {
			snprintf(err, errsize, "reply line from MTA too long");
			return -1;
		}
		{
			struct pollfd pfd = { c->fd, POLLIN, 0 };
			int r = poll(&pfd, 1, submit_wait_ms(c));
			ssize_t n;

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				snprintf(err, errsize, "read from MTA: %s",
					 r == 0 ? "timed out" : strerror(errno));
				return -1;
			}
			n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, 0);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				snprintf(err, errsize, "MTA closed the connection%s%s",
					 n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
				return -1;
			}
			c->in_len += (size_t)n;
		}
	}
}

/* Sends line (with CRLF) and reads the reply; returns the code or -1. */
static int
submit_cmd(struct submit_conn *c, const char *line, char *text, size_t text_size,
	   char *err, size_t errsize)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "%s\r\n", line);

	if (n < 0 || (size_t)n >= sizeof(buf)) {
		snprintf(err, errsize, "command too long");
		return -1;
	}
	if (submit_send(c, buf, (size_t)n, err, errsize) < 0)
		return -1;
	return submit_reply(c, text, text_size, err, errsize,
			    strncasecmp(line, "EHLO", 4) == 0);
}

static bool
submit_has_8bit(const struct iovec *iov, int iovcnt)
{
	for (int i = 0; i < iovcnt; i++) {
		const unsigned char *p = iov[i].iov_base;

		for (size_t k = 0; k < iov[i].iov_len; k++)
			if (p[k] >= 0x80)
				return true;
	}
	return false;
}

static bool
submit_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* The message with CRLF line ends and dot-stuffing, then ".". */
static int
submit_data(struct submit_conn *c, const struct iovec *iov, int iovcnt, char *err,
	    size_t errsize)
{
	struct buf out;
	bool bol = true, prev_cr = false;
	int ret = 0;

	buf_init(&out, 0);
	for (int i = 0; i < iovcnt && ret == 0; i++) {
		const char *p = iov[i].iov_base;

		for (size_t k = 0; k < iov[i].iov_len; k++) {
			char ch = p[k];

			if (prev_cr && ch != '\n') {
				/* A lone CR ends a line too. */
				buf_put(&out, "\n", 1);
				bol = true;
			}
			if (bol && ch == '.')
				buf_put(&out, ".", 1);
			if (ch == '\n') {
				if (!prev_cr)
					buf_put(&out, "\r", 1);
				buf_put(&out, "\n", 1);
				bol = true;
			} else {
				buf_put(&out, &ch, 1);
				bol = false;
			}
			prev_cr = ch == '\r';
			if (out.len >= 64 * 1024) {
				ret = submit_send(c, out.data, out.len, err, errsize);
				buf_reset(&out);
				if (ret < 0)
					break;
			}
		}
	}
	if (ret == 0) {
		if (prev_cr)
			buf_put(&out, "\n", 1);
		else if (!bol)
			buf_put(&out, "\r\n", 2);
		buf_put(&out, ".\r\n", 3);
		ret = submit_send(c, out.data, out.len, err, errsize);
	}
	buf_free(&out);
	return ret;
}

static int
submit_smtp(const struct submit_settings *set, const char *sender,
	    const char *const *rcpts, size_t rcpt_count, const struct iovec *iov,
	    int iovcnt, char *err, size_t errsize)
{
	struct submit_conn c;
	char line[1024], text[SUBMIT_REPLY_LINE_MAX];
	bool utf8;
	int code, ret = -1;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.step = set->timeout;
	c.deadline = submit_now() + 5.0 * set->timeout;
	if (submit_connect(&c, set->submission, err, errsize) < 0)
		return -1;
	/* A 5xx to the greeting or EHLO is about our link to the MTA (its
	 * configuration can change: temporary); a 5xx to MAIL, RCPT or the
	 * message itself is the MTA's final word on this message. */
#define EXPECT(cond, what) do { if (code < 0) goto out; if (!(cond)) { \
		snprintf(err, errsize, "%s: %s", what, text); goto out; } } while (0)
#define EXPECT_FINAL(cond, what) do { if (code >= 500) ret = SUBMIT_REFUSED; \
		EXPECT(cond, what); } while (0)
	code = submit_reply(&c, text, sizeof(text), err, errsize, false);
	EXPECT(code == 220, "MTA greeting");
	snprintf(line, sizeof(line), "EHLO %s", set->hostname);
	code = submit_cmd(&c, line, text, sizeof(text), err, errsize);
	if (code >= 500) {
		snprintf(line, sizeof(line), "HELO %s", set->hostname);
		code = submit_cmd(&c, line, text, sizeof(text), err, errsize);
	}
	EXPECT(code == 250, "EHLO");
	utf8 = !submit_ascii(sender);
	for (size_t i = 0; i < rcpt_count; i++)
		utf8 = utf8 || !submit_ascii(rcpts[i]);
	/* RFC 6531 3.2: a UTF-8 address only with SMTPUTF8 (raw 8-bit
	 * bytes in RCPT would be mangled or refused later, out of sight).
	 * For good, as Postfix bounces such mail ("5.6.7 SMTPUTF8 is
	 * required, but was not offered"): a temporary failure would have
	 * the MTA retry the whole delivery until its queue lifetime and then
	 * bounce it, where a refusal keeps the message in INBOX. */
	if (utf8 && !c.smtputf8) {
		snprintf(err, errsize, "the MTA does not offer SMTPUTF8, which a UTF-8 "
			 "address needs");
		ret = SUBMIT_REFUSED;
		goto out;
	}
	snprintf(line, sizeof(line), "MAIL FROM:<%s>%s%s", sender,
		 c.eightbitmime && submit_has_8bit(iov, iovcnt) ? " BODY=8BITMIME" : "",
		 utf8 && c.smtputf8 ? " SMTPUTF8" : "");
	code = submit_cmd(&c, line, text, sizeof(text), err, errsize);
	EXPECT_FINAL(code == 250, "MAIL FROM");
	for (size_t i = 0; i < rcpt_count; i++) {
		snprintf(line, sizeof(line), "RCPT TO:<%s>", rcpts[i]);
		code = submit_cmd(&c, line, text, sizeof(text), err, errsize);
		EXPECT_FINAL(code == 250 || code == 251, "RCPT TO");
	}
	code = submit_cmd(&c, "DATA", text, sizeof(text), err, errsize);
	EXPECT_FINAL(code == 354, "DATA");
	if (submit_data(&c, iov, iovcnt, err, errsize) < 0)
		goto out;
	code = submit_reply(&c, text, sizeof(text), err, errsize, false);
	EXPECT_FINAL(code == 250, "end of data");
#undef EXPECT_FINAL
#undef EXPECT
	ret = 0;
	/* The message is the MTA's now; QUIT's answer does not matter. */
	(void)submit_cmd(&c, "QUIT", text, sizeof(text), line, sizeof(line));
out:
	close_quietly(c.fd);
	return ret;
}

/* --- sendmail --- */

static void
submit_child(const char *prog, char *const argv[], int in_fd, int err_fd, pid_t parent)
{
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	sigset_t none;
	int null;

	/* With -i, the end of its input is the end of the message: if the
	 * worker is killed while it writes one (a stop's or a reload's
	 * idle_timeout), the program must die too, not send what it got.
	 * (Postfix's sendmail, killed, leaves postdrop a file without its
	 * end record, which is thrown away.) */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(SUBMIT_EX_TEMPFAIL);
	null = open("/dev/null", O_WRONLY);

	if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0 ||
	    (null >= 0 && dup2(null, STDOUT_FILENO) < 0))
		_exit(SUBMIT_EX_TEMPFAIL);
	/* Only the three standard descriptors survive (the LMTP socket,
	 * the listeners and the database files must not). */
	if (close_range(3, ~0U, 0) < 0)
		for (int fd = 3; fd < 1024; fd++)
			(void)close(fd);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)signal(SIGPIPE, SIG_DFL);
	(void)signal(SIGCHLD, SIG_DFL);
	execve(prog, argv, envp);
	_exit(SUBMIT_EX_TEMPFAIL);
}

static int
submit_program(const struct submit_settings *set, const char *sender,
	       const char *const *rcpts, size_t rcpt_count, const struct iovec *iov,
	       int iovcnt, char *err, size_t errsize)
{
	const char **argv = xcalloc(rcpt_count + 6, sizeof(char *));
	int in[2] = { -1, -1 }, errp[2] = { -1, -1 }, status = 0, ret = -1;
	char captured[SUBMIT_ERRTEXT_MAX + 1];
	size_t cap_len = 0, vi = 0, voff = 0;
	double deadline = submit_now() + 5.0 * set->timeout;
	bool timed_out = false;
	pid_t pid, parent;

	argv[0] = set->submission;
	argv[1] = "-i";
	argv[2] = "-f";
	argv[3] = sender[0] != '\0' ? sender : "<>";
	argv[4] = "--";
	for (size_t i = 0; i < rcpt_count; i++)
		argv[5 + i] = rcpts[i];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		snprintf(err, errsize, "pipe failed: %s", strerror(errno));
		goto out;
	}
	parent = getpid();
	pid = fork();
	if (pid < 0) {
		snprintf(err, errsize, "fork failed: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		submit_child(set->submission, (char *const *)argv, in[0], errp[1], parent);
	close_quietly(in[0]);
	close_quietly(errp[1]);
	in[0] = errp[1] = -1;
	(void)fcntl(in[1], F_SETFL, O_NONBLOCK);
	/* Feed the message and drain stderr together, so a program that
	 * complains a lot can not block us. */
	while (in[1] >= 0 || errp[0] >= 0) {
		struct pollfd pfd[2];
		nfds_t nfds = 0;
		int wait_ms = (int)((deadline - submit_now()) * 1000);
		int r;

		if (wait_ms <= 0) {
			timed_out = true;
			break;
		}
		if (in[1] >= 0)
			pfd[nfds++] = (struct pollfd){ in[1], POLLOUT, 0 };
		if (errp[0] >= 0)
			pfd[nfds++] = (struct pollfd){ errp[0], POLLIN, 0 };
		r = poll(pfd, nfds, wait_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			timed_out = r == 0;
			break;
		}
		for (nfds_t k = 0; k < nfds; k++) {
			if (pfd[k].revents == 0)
				continue;
			if (pfd[k].fd == in[1]) {
				ssize_t n;

				while (vi < (size_t)iovcnt && iov[vi].iov_len == voff) {
					vi++;
					voff = 0;
				}
				if (vi == (size_t)iovcnt) {
					close_quietly(in[1]);
					in[1] = -1;
					continue;
				}
				n = write(in[1], (const char *)iov[vi].iov_base + voff,
					  iov[vi].iov_len - voff);
				if (n > 0) {
					voff += (size_t)n;
				} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
					/* The program stopped reading; its
					 * exit status will say why. */
					close_quietly(in[1]);
					in[1] = -1;
				}
			} else {
				char chunk[512];
				ssize_t n = read(errp[0], chunk, sizeof(chunk));

				if (n > 0) {
					size_t take = (size_t)n;

					if (take > SUBMIT_ERRTEXT_MAX - cap_len)
						take = SUBMIT_ERRTEXT_MAX - cap_len;
					memcpy(captured + cap_len, chunk, take);
					cap_len += take;
				} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
					close_quietly(errp[0]);
					errp[0] = -1;
				}
			}
		}
	}
	/* Wait for the exit within what is left of the deadline. */
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errsize, "waitpid failed: %s", strerror(errno));
			goto out;
		}
		if (timed_out || submit_now() > deadline) {
			timed_out = true;
			(void)kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		{
			struct timespec ts = { 0, 5 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	captured[cap_len] = '\0';
	for (size_t i = 0; i < cap_len; i++)
		if ((unsigned char)captured[i] < 0x20)
			captured[i] = ' ';
	if (timed_out) {
		snprintf(err, errsize, "%s timed out", set->submission);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		ret = 0;
	} else if (WIFEXITED(status)) {
		/* sendmail's convention (sysexits.h): EX_TEMPFAIL asks for
		 * a retry, any other status is final (EX_NOUSER, EX_DATAERR,
		 * ...), as Dovecot's sendmail client reads it.  A signal or
		 * a timeout is no answer about the message: temporary. */
		snprintf(err, errsize, "%s exited with status %d%s%s", set->submission,
			 WEXITSTATUS(status), cap_len > 0 ? ": " : "", captured);
		if (WEXITSTATUS(status) != SUBMIT_EX_TEMPFAIL)
			ret = SUBMIT_REFUSED;
	} else {
		snprintf(err, errsize, "%s killed by signal %d", set->submission,
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
out:
	if (in[0] >= 0)
		close_quietly(in[0]);
	if (in[1] >= 0)
		close_quietly(in[1]);
	if (errp[0] >= 0)
		close_quietly(errp[0]);
	if (errp[1] >= 0)
		close_quietly(errp[1]);
	free(argv);
	return ret;
}

int
submit_message(const struct submit_settings *set, const char *sender,
	       const char *const *rcpts, size_t rcpt_count, const struct iovec *iov,
	       int iovcnt, char *err, size_t errsize)
{
	const char *why = submit_check(set->submission);

	err[0] = '\0';
	if (why != NULL) {
		snprintf(err, errsize, "submission %s: %s", set->submission, why);
		return -1;
	}
	if (rcpt_count == 0) {
		snprintf(err, errsize, "no recipient");
		return -1;
	}
	if (!submit_address_usable(sender, true)) {
		snprintf(err, errsize, "unusable sender address");
		return -1;
	}
	for (size_t i = 0; i < rcpt_count; i++)
		if (!submit_address_usable(rcpts[i], false)) {
			snprintf(err, errsize, "unusable recipient address");
			return -1;
		}
	if (set->submission[0] == '/')
		return submit_program(set, sender, rcpts, rcpt_count, iov, iovcnt, err,
				      errsize);
	return submit_smtp(set, sender, rcpts, rcpt_count, iov, iovcnt, err, errsize);
}
