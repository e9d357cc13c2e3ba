/* Unit tests for sieve/submit: a real SMTP listener on loopback (a child
 * process speaking just enough SMTP, with a scripted misbehaviour) and a
 * sendmail-like program that records its arguments, environment and
 * input.  Also the `submission` value checks of the configuration. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "check_compat.h"

#include "cfg.h"
#include "submit.h"

enum sink_mode { SINK_OK, SINK_REJECT_RCPT, SINK_HANG_DATA, SINK_TEMPFAIL_DATA, SINK_NO_EHLO };

struct sink {
	pid_t pid;
	int port;
	char transcript[PATH_MAX];
};

static ssize_t
sink_line(int fd, char *buf, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		char c;
		ssize_t r = read(fd, &c, 1);

		if (r <= 0)
			return -1;
		buf[n++] = c;
		if (c == '\n')
			break;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

static void
sink_say(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0)
		_exit(3);
}

/* Waits in slices of 0.1 s until the client hangs up; the number of
 * slices (at most 250).  Each slice takes 0.1 s or more, so a count is an
 * upper bound on the wait that a slow machine only makes smaller. */
static int
sink_slices_until_closed(int fd)
{
	int n = 0;

	while (n < 250) {
		struct pollfd p = { fd, POLLIN, 0 };
		char c;

		if (poll(&p, 1, 100) == 0) {
			n++;
			continue;
		}
		if (read(fd, &c, 1) <= 0)
			break;
	}
	return n;
}

/* One connection: records every byte received in transcript. */
static void
sink_serve(int lfd, enum sink_mode mode, const char *transcript)
{
	int fd = accept(lfd, NULL, NULL);
	FILE *t = fopen(transcript, "w");
	char line[4096];
	bool data = false;

	if (fd < 0 || t == NULL)
		_exit(2);
	sink_say(fd, "220 sink ESMTP\r\n");
	while (sink_line(fd, line, sizeof(line)) > 0) {
		fputs(line, t);
		fflush(t);
		if (data) {
			if (strcmp(line, ".\r\n") == 0) {
				data = false;
				if (mode == SINK_HANG_DATA)
					_exit(sink_slices_until_closed(fd));
				sink_say(fd, mode == SINK_TEMPFAIL_DATA ? "451 4.3.0 try later\r\n"
					 : "250 2.0.0 queued as X\r\n");
			}
			continue;
		}
		if (strncmp(line, "EHLO", 4) == 0)
			sink_say(fd, mode == SINK_NO_EHLO ? "502 5.5.1 no\r\n"
				 : "250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n");
		else if (strncmp(line, "HELO", 4) == 0)
			sink_say(fd, "250 sink\r\n");
		else if (strncmp(line, "MAIL", 4) == 0)
			sink_say(fd, "250 2.1.0 ok\r\n");
		else if (strncmp(line, "RCPT", 4) == 0)
			sink_say(fd, mode == SINK_REJECT_RCPT ? "550 5.1.1 no such user\r\n"
				 : "250 2.1.5 ok\r\n");
		else if (strncmp(line, "DATA", 4) == 0) {
			sink_say(fd, "354 go\r\n");
			data = true;
		} else if (strncmp(line, "QUIT", 4) == 0) {
			sink_say(fd, "221 bye\r\n");
			break;
		} else {
			sink_say(fd, "500 what\r\n");
		}
	}
	fclose(t);
	_exit(0);
}

static void
sink_start(struct sink *s, enum sink_mode mode)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(lfd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	s->port = ntohs(sin.sin_port);
	ut_pathf(s->transcript, sizeof(s->transcript), "%s/transcript", ut_testdir());
	s->pid = fork();
	ck_assert_int_ge(s->pid, 0);
	if (s->pid == 0)
		sink_serve(lfd, mode, s->transcript);
	close(lfd);
}

static void
sink_stop(struct sink *s)
{
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
}

static int
send_via(const char *submission, unsigned int timeout, const char *sender,
	 const char *rcpt, const char *message, char *err, size_t errsize)
{
	struct submit_settings set = { submission, timeout, "lmtpd.test" };
	struct iovec iov = { (void *)message, strlen(message) };
	const char *rcpts[1] = { rcpt };

	return submit_message(&set, sender, rcpts, 1, &iov, 1, err, errsize);
}

#define MSG "Subject: hi\n\n.leading dot\nline\r\nbare cr\rend"

START_TEST(smtp_ok)
{
	struct sink s;
	char spec[64], err[512], *t;

	sink_start(&s, SINK_OK);
	snprintf(spec, sizeof(spec), "smtp:127.0.0.1:%d", s.port);
	ck_assert_msg(send_via(spec, 5, "alice@example.org", "carol@example.net", MSG, err,
			       sizeof(err)) == 0, "%s", err);
	waitpid(s.pid, NULL, 0);
	t = ut_read_file(s.transcript, NULL);
	ck_assert_str_eq(t,
		"EHLO lmtpd.test\r\n"
		"MAIL FROM:<alice@example.org>\r\n"
		"RCPT TO:<carol@example.net>\r\n"
		"DATA\r\n"
		"Subject: hi\r\n"
		"\r\n"
		"..leading dot\r\n"
		"line\r\n"
		"bare cr\r\n"
		"end\r\n"
		".\r\n"
		"QUIT\r\n");
	free(t);
}
END_TEST

START_TEST(smtp_null_sender_8bit_helo)
{
	struct sink s;
	char spec[64], err[512], *t;

	sink_start(&s, SINK_NO_EHLO);
	snprintf(spec, sizeof(spec), "smtp:[127.0.0.1]:%d", s.port);
	ck_assert_msg(send_via(spec, 5, "", "carol@example.net", "Subject: Grüße\n\nx\n", err,
			       sizeof(err)) == 0, "%s", err);
	waitpid(s.pid, NULL, 0);
	t = ut_read_file(s.transcript, NULL);
	ck_assert_msg(strstr(t, "HELO lmtpd.test\r\nMAIL FROM:<>\r\n") != NULL, "%s", t);
	free(t);
	/* With EHLO: BODY=8BITMIME for 8-bit data. */
	sink_start(&s, SINK_OK);
	snprintf(spec, sizeof(spec), "smtp:localhost:%d", s.port);
	ck_assert_msg(send_via(spec, 5, "", "carol@example.net", "Subject: Grüße\n\nx\n", err,
			       sizeof(err)) == 0, "%s", err);
	waitpid(s.pid, NULL, 0);
	t = ut_read_file(s.transcript, NULL);
	ck_assert_msg(strstr(t, "MAIL FROM:<> BODY=8BITMIME\r\n") != NULL, "%s", t);
	free(t);
	/* A UTF-8 address: SMTPUTF8 where offered, else no transaction. */
	sink_start(&s, SINK_OK);
	snprintf(spec, sizeof(spec), "smtp:127.0.0.1:%d", s.port);
	ck_assert_msg(send_via(spec, 5, "", "j\xc3\xb6rg@example.net", "Subject: x\n\nx\n", err,
			       sizeof(err)) == 0, "%s", err);
	waitpid(s.pid, NULL, 0);
	t = ut_read_file(s.transcript, NULL);
	ck_assert_msg(strstr(t, "MAIL FROM:<> SMTPUTF8\r\nRCPT TO:<j\xc3\xb6rg@example.net>\r\n")
		      != NULL, "%s", t);
	free(t);
	sink_start(&s, SINK_NO_EHLO);
	snprintf(spec, sizeof(spec), "smtp:127.0.0.1:%d", s.port);
	ck_assert_int_eq(send_via(spec, 5, "", "j\xc3\xb6rg@example.net", "Subject: x\n\nx\n",
				  err, sizeof(err)), SUBMIT_REFUSED);	/* as Postfix: for good */
	ck_assert_msg(strstr(err, "does not offer SMTPUTF8") != NULL, "%s", err);
	sink_stop(&s);
	t = ut_read_file(s.transcript, NULL);
	ck_assert_msg(strstr(t, "RCPT") == NULL, "%s", t);
	free(t);
}
END_TEST

START_TEST(smtp_failures)
{
	struct sink s;
	char spec[64], err[512];
	int status;

	sink_start(&s, SINK_REJECT_RCPT);
	snprintf(spec, sizeof(spec), "smtp:127.0.0.1:%d", s.port);
	/* A 5xx for the message is final; a 4xx asks for a retry. */
	ck_assert_int_eq(send_via(spec, 5, "a@b.c", "nobody@example.net", MSG, err,
				  sizeof(err)), SUBMIT_REFUSED);
	ck_assert_msg(strstr(err, "RCPT TO: 550 5.1.1") != NULL, "%s", err);
	sink_stop(&s);

	sink_start(&s, SINK_TEMPFAIL_DATA);
	snprintf(spec, sizeof(spec), "smtp:127.0.0.1:%d", s.port);
	ck_assert_int_eq(send_via(spec, 5, "a@b.c", "c@d.e", MSG, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "451 4.3.0") != NULL, "%s", err);
	sink_stop(&s);

	/* A server that never answers the end of data: the timeout (1 s)
	 * hangs up within 30 of the sink's slices of 0.1 s. */
	sink_start(&s, SINK_HANG_DATA);
	snprintf(spec, sizeof(spec), "smtp:127.0.0.1:%d", s.port);
	ck_assert_int_eq(send_via(spec, 1, "a@b.c", "c@d.e", MSG, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "timed out") != NULL, "%s", err);
	ck_assert_int_eq(waitpid(s.pid, &status, 0), s.pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_le(WEXITSTATUS(status), 30);

	/* Nobody listening. */
	sink_start(&s, SINK_OK);
	sink_stop(&s);
	snprintf(spec, sizeof(spec), "smtp:127.0.0.1:%d", s.port);
	ck_assert_int_eq(send_via(spec, 2, "a@b.c", "c@d.e", MSG, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "connect") != NULL, "%s", err);
}
END_TEST

/* Nothing from a script reaches the MTA as a command. */
START_TEST(hostile_addresses)
{
	char err[256];

	ck_assert_int_eq(send_via("smtp:127.0.0.1:9", 1, "a@b.c",
				  "x@y.z>\r\nRCPT TO:<evil@x.org", MSG, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unusable recipient address");
	ck_assert_int_eq(send_via("/bin/true", 1, "a@b.c", "-oQ/tmp/x", MSG, err,
				  sizeof(err)), -1);
	ck_assert_int_eq(send_via("smtp:127.0.0.1:9", 1, "a b@c", "x@y.z", MSG, err,
				  sizeof(err)), -1);
	ck_assert_str_eq(err, "unusable sender address");
	ck_assert_int_eq(send_via("smtp:127.0.0.1:9", 1, "\"a\\\rX: y\"@c", "x@y.z", MSG,
				  err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unusable sender address");
	/* a quoted local part may hold spaces and escaped quotes */
	ck_assert(submit_address_usable("\"a b\\\"c\"@d.e", false));
	ck_assert(!submit_address_usable("\"a b@d.e", false));
	ck_assert(!submit_address_usable("-f@d.e", false));
	ck_assert(submit_address_usable("", true) && !submit_address_usable("", false));
	ck_assert_int_eq(send_via("relative/sendmail", 1, "a@b.c", "x@y.z", MSG, err,
				  sizeof(err)), -1);
	ck_assert_int_eq(send_via("smtp:nohost", 1, "a@b.c", "x@y.z", MSG, err,
				  sizeof(err)), -1);
	ck_assert_ptr_null(submit_check("smtp:[::1]:25"));
	ck_assert_ptr_null(submit_check("/usr/sbin/sendmail"));
	ck_assert_ptr_nonnull(submit_check("smtp:host:0"));
	ck_assert_ptr_nonnull(submit_check("smtp:host:65536"));
	ck_assert_ptr_nonnull(submit_check("smtp:[::1]25"));
	ck_assert_ptr_nonnull(submit_check("sendmail"));
}
END_TEST

/* ---- the sendmail-compatible program ---- */

/* A fake sendmail: records argv (one per line), the environment and the
 * open descriptors, copies stdin, exits with $FAKE_STATUS (from a file,
 * since the environment is not passed). */
static void
fake_sendmail(const char *dir, const char *status_and_behaviour, char *prog, size_t size)
{
	char text[2048];

	ut_pathf(prog, size, "%s/sendmail", dir);
	snprintf(text, sizeof(text),
		 "#!/bin/sh\n"
		 "d=%s\n"
		 "for a in \"$0\" \"$@\"; do printf '%%s\\n' \"$a\"; done > $d/argv\n"
		 "env > $d/env\n"
		 "ls /proc/$$/fd > $d/fds\n"
		 "cat > $d/stdin\n"
		 "%s\n", dir, status_and_behaviour);
	ut_write_text(prog, text);
	ck_assert_int_eq(chmod(prog, 0755), 0);
}

START_TEST(program_ok)
{
	const char *dir = ut_testdir();
	char prog[PATH_MAX], path[PATH_MAX], err[512], *t;
	int leak = open("/dev/null", O_RDONLY);	/* must not reach the child */

	fake_sendmail(dir, "exit 0", prog, sizeof(prog));
	ck_assert_msg(send_via(prog, 5, "alice@example.org", "carol@example.net", MSG, err,
			       sizeof(err)) == 0, "%s", err);
	ut_pathf(path, sizeof(path), "%s/argv", dir);
	t = ut_read_file(path, NULL);
	ck_assert_str_eq(t + strlen(prog) + 1,
			 "-i\n-f\nalice@example.org\n--\ncarol@example.net\n");
	free(t);
	ut_pathf(path, sizeof(path), "%s/stdin", dir);
	t = ut_read_file(path, NULL);
	ck_assert_str_eq(t, MSG);
	free(t);
	ut_pathf(path, sizeof(path), "%s/env", dir);
	t = ut_read_file(path, NULL);
	ck_assert_msg(strstr(t, "PATH=/usr/sbin:/usr/bin:/sbin:/bin") != NULL, "%s", t);
	ck_assert_msg(strstr(t, "HOME=") == NULL && strstr(t, "CK_") == NULL, "%s", t);
	free(t);
	/* Only 0, 1, 2 (and what the shell and ls open themselves: 10 and
	 * up, or ls's directory). */
	ut_pathf(path, sizeof(path), "%s/fds", dir);
	t = ut_read_file(path, NULL);
	{
		bool seen[3] = { false, false, false };

		for (char *p = t; *p != '\0';) {
			long fd = strtol(p, &p, 10);

			if (fd >= 0 && fd < 3)
				seen[fd] = true;
			ck_assert_msg(fd < 3 || fd >= 10 || fd != leak, "fd %d leaked", leak);
			while (*p == '\n')
				p++;
		}
		ck_assert(seen[0] && seen[1] && seen[2]);
	}
	free(t);
	close(leak);
	/* The null sender is "<>". */
	ck_assert_int_eq(send_via(prog, 5, "", "carol@example.net", MSG, err, sizeof(err)), 0);
	ut_pathf(path, sizeof(path), "%s/argv", dir);
	t = ut_read_file(path, NULL);
	ck_assert_msg(strstr(t, "\n-f\n<>\n--\n") != NULL, "%s", t);
	free(t);
}
END_TEST

START_TEST(program_failures)
{
	const char *dir = ut_testdir();
	char prog[PATH_MAX], path[PATH_MAX], err[512], *ticks;

	fake_sendmail(dir, "echo 'queue file write error' >&2; exit 75", prog, sizeof(prog));
	ck_assert_int_eq(send_via(prog, 5, "a@b.c", "c@d.e", MSG, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "exited with status 75: queue file write error") != NULL,
		      "%s", err);
	/* Hangs: killed at the deadline (5 x timeout), within 80 of its
	 * sleeps of 0.1 s (each takes that long or longer, so a slow
	 * machine only counts fewer). */
	fake_sendmail(dir, "i=0; while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); "
		      "echo $i > $d/ticks.new; mv $d/ticks.new $d/ticks; done",
		      prog, sizeof(prog));
	ck_assert_int_eq(send_via(prog, 1, "a@b.c", "c@d.e", MSG, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "timed out") != NULL, "%s", err);
	ut_pathf(path, sizeof(path), "%s/ticks", dir);
	ticks = ut_read_file(path, NULL);
	ck_assert_msg(atoi(ticks) >= 1 && atoi(ticks) <= 80, "%d sleeps", atoi(ticks));
	free(ticks);
	/* Does not read its input and fails: any status but 75 is final. */
	fake_sendmail(dir, "exit 1", prog, sizeof(prog));
	ck_assert_int_eq(send_via(prog, 5, "a@b.c", "c@d.e", MSG, err, sizeof(err)),
			 SUBMIT_REFUSED);
	fake_sendmail(dir, "echo 'no such user' >&2; exit 67", prog, sizeof(prog));
	ck_assert_int_eq(send_via(prog, 5, "a@b.c", "c@d.e", MSG, err, sizeof(err)),
			 SUBMIT_REFUSED);
	ck_assert_msg(strstr(err, "status 67: no such user") != NULL, "%s", err);
	/* Killed by a signal: no answer about the message. */
	fake_sendmail(dir, "kill -KILL $$", prog, sizeof(prog));
	ck_assert_int_eq(send_via(prog, 5, "a@b.c", "c@d.e", MSG, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "signal 9") != NULL, "%s", err);
	/* Missing program. */
	ck_assert_int_eq(send_via("/nonexistent/sendmail", 5, "a@b.c", "c@d.e", MSG, err,
				  sizeof(err)), -1);
	ck_assert_msg(strstr(err, "status 75") != NULL, "%s", err);
}
END_TEST

/* A big message through the program (pipe buffers fill up). */
START_TEST(program_big_message)
{
	const char *dir = ut_testdir();
	char prog[PATH_MAX], path[PATH_MAX], err[512];
	size_t size = 4 * 1024 * 1024, got;
	char *big = malloc(size + 1), *t;

	memset(big, 'x', size);
	for (size_t i = 100; i < size; i += 100)
		big[i] = '\n';
	big[size] = '\0';
	fake_sendmail(dir, "exit 0", prog, sizeof(prog));
	ck_assert_msg(send_via(prog, 10, "a@b.c", "c@d.e", big, err, sizeof(err)) == 0, "%s",
		      err);
	ut_pathf(path, sizeof(path), "%s/stdin", dir);
	t = ut_read_file(path, &got);
	ck_assert_uint_eq(got, size);
	ck_assert(memcmp(t, big, size) == 0);
	free(t);
	free(big);
}
END_TEST

/* ---- configuration ---- */

START_TEST(config_values)
{
	static const struct {
		const char *text;
		const char *error;	/* NULL: loads */
	} cases[] = {
		{ "submission = smtp:127.0.0.1:25\n", NULL },
		{ "submission = smtp:[::1]:587\n", NULL },
		{ "submission = /usr/sbin/sendmail\n", NULL },
		{ "submission = sendmail\n", "'submission': must be" },
		{ "submission = smtp:host\n", "'submission': must be" },
		{ "submission = smtp:host:99999\n", "port must be" },
		{ "folder_separator = /\n", NULL },
		{ "folder_separator = :\n", "'folder_separator' must be one of: .|/" },
		{ "sieve_before = relative.sieve\n", "must be an absolute path" },
		{ "sieve_script = ~/.sieve\n", "'sieve_script'" },
		{ "sieve_script = %h/sieve/%n.sieve\n", NULL },
		{ "sieve_max_redirects = 101\n", "from 0 to 100" },
		{ "sieve_max_actions = 0\n", "from 1 to 10000" },
		{ "sieve_max_cpu_time = 2m\n", NULL },
		{ "sieve_max_script_size = 64K\n", NULL },
		{ "sieve_vacation_max_days = 0\n", "from 1 to 3650" },
		{ "submission_timeout = 0\n", "'submission_timeout'" },
	};
	char path[PATH_MAX];

	ut_pathf(path, sizeof(path), "%s/lmtpd.conf", ut_testdir());
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		char *error = NULL;
		struct lmtpd_config *cfg;

		ut_write_text(path, cases[i].text);
		cfg = cfg_load(path, &error);
		if (cases[i].error == NULL) {
			ck_assert_msg(cfg != NULL, "%s: %s", cases[i].text, error);
		} else {
			ck_assert_msg(cfg == NULL && strstr(error, cases[i].error) != NULL,
				      "%s: %s", cases[i].text, error != NULL ? error : "loaded");
		}
		cfg_free(&cfg);
		free(error);
	}
}
END_TEST

START_TEST(config_defaults)
{
	char *error = NULL;
	struct lmtpd_config *cfg = cfg_load(NULL, &error);

	ck_assert_ptr_nonnull(cfg);
	ck_assert_str_eq(cfg->sieve_script, "%h/.dovecot.sieve");
	ck_assert_str_eq(cfg->sieve_before, "");
	ck_assert_str_eq(cfg->sieve_after, "");
	ck_assert_str_eq(cfg->folder_separator, ".");
	ck_assert_str_eq(cfg->submission, "smtp:127.0.0.1:25");
	ck_assert_uint_eq(cfg->submission_timeout, 30);
	ck_assert_uint_eq(cfg->sieve_max_script_size, 1024 * 1024);
	ck_assert_uint_eq(cfg->sieve_max_actions, 32);
	ck_assert_uint_eq(cfg->sieve_max_redirects, 4);
	ck_assert_uint_eq(cfg->sieve_max_cpu_time, 30);
	ck_assert_uint_eq(cfg->sieve_vacation_max_days, 60);
	cfg_free(&cfg);
}
END_TEST

static Suite *
submit_suite(void)
{
	Suite *s = suite_create("submit");
	TCase *tc;

	tc = ut_tcase(s, "smtp", true);
	tcase_add_test(tc, smtp_ok);
	tcase_add_test(tc, smtp_null_sender_8bit_helo);
	tcase_add_test(tc, smtp_failures);
	tcase_add_test(tc, hostile_addresses);
	tc = ut_tcase(s, "program", true);
	tcase_add_test(tc, program_ok);
	tcase_add_test(tc, program_failures);
	tcase_add_test(tc, program_big_message);
	tc = ut_tcase(s, "config", true);
	tcase_add_test(tc, config_values);
	tcase_add_test(tc, config_defaults);
	return s;
}

int
main(void)
{
	/* The daemon's workers ignore SIGPIPE; so does this test. */
	signal(SIGPIPE, SIG_IGN);
	return ut_run(submit_suite);
}
