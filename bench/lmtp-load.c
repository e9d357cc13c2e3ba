/*
 * lmtp-load.c - LMTP (RFC 2033) load generator for the delivery benchmark.
 *
 * A C rewrite of the ideas of lmtp_load.py (the shared reference load
 * generator of this project's benchmark tools): a Python client with one
 * thread per connection spends more CPU per message than the servers it
 * measures, and on a 2-core machine it steals that CPU from them.  This
 * one uses one POSIX thread per connection, blocking sockets, messages
 * prepared once up front, and costs a few microseconds per transaction.
 *
 *   lmtp-load -d MSGDIR [-n 2000] [-c 4] [-r 1] [-u 100] [-b 1]
 *             [-l LATFILE] TARGET
 *
 * TARGET is host:port or unix:/path.  Each of the -c threads holds one
 * connection (greeting, LHLO once) and runs transactions back to back:
 * MAIL FROM, r x RCPT TO, DATA sent in one write (PIPELINING, as Postfix's
 * LMTP client does), the replies read, then the message and ".", then one
 * final reply per accepted recipient.  Message i (0-based) is file
 * (i mod #files) of MSGDIR in name order; its recipients are
 * user<(i*r+k) mod u + b>@example.com, k < r.
 *
 * Files are sent as they are after: dropping a leading mbox "From " line,
 * normalising every line end to CRLF, dot-stuffing.  BODY=8BITMIME is
 * added for 8-bit messages when the server offers it.
 *
 * A transaction is OK only if MAIL and every RCPT got 250, DATA 354 and
 * every final reply 250.  Latency = MAIL written -> last final reply read.
 * Output, one line of key=value pairs on stdout:
 *   messages ok fail rcpt_ok elapsed_s msgs_per_s rcpts_per_s
 *   lat_p50_ms lat_p90_ms lat_p99_ms lat_max_ms lat_mean_ms
 *   cpu_s (this program's user+system CPU while sending, not loading)
 * -l FILE also writes every latency (seconds, one a line).
 * Exit status 1 if any transaction failed.
 *
 * Build: cc -O2 -pthread -o lmtp-load lmtp-load.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct msg {
	char *name;
	char *data;		/* CRLF, dot-stuffed, ends with ".\r\n" */
	size_t len;
	int eightbit;
};

struct conn {
	int fd;
	char buf[65536];
	size_t start, end;
	int pipelining, eightbit;
};

static struct msg *msgs;
static size_t nmsgs;
static int n_total = 2000, n_conc = 1, n_rcpt = 1, n_users = 100, user_base = 1;
static const char *target;
static double *lat;
static unsigned char *okv;
static atomic_int next_tx;
static atomic_int n_errors_printed;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL) {
		perror("malloc");
		exit(2);
	}
	return p;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct msg *)a)->name, ((const struct msg *)b)->name);
}

static void
load_one(const char *dir, const char *name, struct msg *m)
{
	char path[4096];
	struct stat st;
	int fd;
	char *raw, *p, *end, *out;
	size_t o = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(path);
		exit(2);
	}
	raw = xmalloc((size_t)st.st_size + 1);
	if (read(fd, raw, (size_t)st.st_size) != st.st_size) {
		perror(path);
		exit(2);
	}
	close(fd);
	p = raw;
	end = raw + st.st_size;
	if (end - p >= 5 && memcmp(p, "From ", 5) == 0) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	/* worst case: every byte a line end (x2) plus a dot per line */
	out = xmalloc((size_t)(end - p) * 3 + 8);
	m->eightbit = 0;
	while (p < end) {
		char *q = p;

		while (q < end && *q != '\r' && *q != '\n')
			q++;
		if (p < q && *p == '.')
			out[o++] = '.';
		for (char *c = p; c < q; c++)
			if ((unsigned char)*c > 127)
				m->eightbit = 1;
		memcpy(out + o, p, (size_t)(q - p));
		o += (size_t)(q - p);
		out[o++] = '\r';
		out[o++] = '\n';
		if (q < end && *q == '\r' && q + 1 < end && q[1] == '\n')
			q += 2;
		else if (q < end)
			q++;
		p = q;
	}
	memcpy(out + o, ".\r\n", 3);
	o += 3;
	free(raw);
	m->name = strdup(name);
	m->data = out;
	m->len = o;
}

static void
load_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t cap = 0;

	if (d == NULL) {
		perror(dir);
		exit(2);
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (nmsgs == cap) {
			cap = cap ? cap * 2 : 256;
			msgs = realloc(msgs, cap * sizeof(*msgs));
		}
		msgs[nmsgs].name = strdup(e->d_name);
		nmsgs++;
	}
	closedir(d);
	if (nmsgs == 0) {
		fprintf(stderr, "no message files in %s\n", dir);
		exit(2);
	}
	qsort(msgs, nmsgs, sizeof(*msgs), name_cmp);
	for (size_t i = 0; i < nmsgs; i++) {
		char *n = msgs[i].name;

		load_one(dir, n, &msgs[i]);
		free(n);
	}
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Reads one line (without CRLF) into line; returns its length or -1. */
static int
read_line(struct conn *c, char *line, size_t size)
{
	size_t o = 0;

	for (;;) {
		while (c->start < c->end) {
			char ch = c->buf[c->start++];

			if (ch == '\n') {
				if (o > 0 && line[o - 1] == '\r')
					o--;
				line[o] = '\0';
				return (int)o;
			}
			if (o + 1 < size)
				line[o++] = ch;
		}
		ssize_t n = read(c->fd, c->buf, sizeof(c->buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c->start = 0;
		c->end = (size_t)n;
	}
}

/* Reads one (possibly multi-line) reply; returns its code or -1.  With
 * caps, records PIPELINING and 8BITMIME. */
static int
read_reply(struct conn *c, int caps)
{
	char line[1024];

	for (;;) {
		int n = read_line(c, line, sizeof(line));

		if (n < 0)
			return -1;
		if (n < 3)
			return 0;
		if (caps && n > 4) {
			if (strncasecmp(line + 4, "PIPELINING", 10) == 0)
				c->pipelining = 1;
			if (strncasecmp(line + 4, "8BITMIME", 8) == 0)
				c->eightbit = 1;
		}
		if (n == 3 || line[3] != '-')
			return atoi(line);
	}
}

static int
conn_open(struct conn *c)
{
	int fd;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (strncmp(target, "unix:", 5) == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", target + 5);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			perror(target);
			if (fd >= 0)
				close(fd);
			return -1;
		}
	} else {
		char host[256];
		const char *colon = strrchr(target, ':');
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
		int one = 1, r;

		if (colon == NULL || (size_t)(colon - target) >= sizeof(host)) {
			fprintf(stderr, "bad target %s\n", target);
			exit(2);
		}
		memcpy(host, target, (size_t)(colon - target));
		host[colon - target] = '\0';
		r = getaddrinfo(host, colon + 1, &hints, &ai);
		if (r != 0) {
			fprintf(stderr, "%s: %s\n", target, gai_strerror(r));
			return -1;
		}
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			perror(target);
			freeaddrinfo(ai);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		freeaddrinfo(ai);
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	c->fd = fd;
	if (read_reply(c, 0) != 220)
		goto fail;
	if (write_all(fd, "LHLO loadgen.example.org\r\n", 26) < 0 ||
	    read_reply(c, 1) != 250)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "lmtp-load: greeting/LHLO failed on %s\n", target);
	close(fd);
	c->fd = -1;
	return -1;
}

static void
report_error(int i, const char *what, int code)
{
	if (atomic_fetch_add(&n_errors_printed, 1) < 10)
		fprintf(stderr, "lmtp-load: msg %d (%s): %s %d\n", i,
			msgs[(size_t)i % nmsgs].name, what, code);
}

/* One transaction; returns 1 OK, 0 failed (connection usable), -1 the
 * connection is broken. */
static int
transaction(struct conn *c, int i)
{
	const struct msg *m = &msgs[(size_t)i % nmsgs];
	char cmds[8192];
	int o, ok = 1, accepted = 0, code;
	int rcpt_ok[64];

	o = snprintf(cmds, sizeof(cmds), "MAIL FROM:<bench-sender@example.org>%s\r\n",
		     m->eightbit && c->eightbit ? " BODY=8BITMIME" : "");
	for (int k = 0; k < n_rcpt; k++)
		o += snprintf(cmds + o, sizeof(cmds) - (size_t)o,
			      "RCPT TO:<user%d@example.com>\r\n",
			      (i * n_rcpt + k) % n_users + user_base);
	o += snprintf(cmds + o, sizeof(cmds) - (size_t)o, "DATA\r\n");
	if (c->pipelining) {
		if (write_all(c->fd, cmds, (size_t)o) < 0)
			return -1;
	}
	/* Without PIPELINING: one command, one reply. */
	{
		char *p = cmds;
		int nreplies = n_rcpt + 2;

		for (int k = 0; k < nreplies; k++) {
			if (!c->pipelining) {
				char *nl = strchr(p, '\n');

				if (write_all(c->fd, p, (size_t)(nl + 1 - p)) < 0)
					return -1;
				p = nl + 1;
			}
			code = read_reply(c, 0);
			if (code < 0)
				return -1;
			if (k == 0 && code != 250) {
				report_error(i, "MAIL", code);
				ok = 0;
			} else if (k > 0 && k <= n_rcpt) {
				rcpt_ok[k - 1] = code == 250;
				accepted += code == 250;
				if (code != 250) {
					report_error(i, "RCPT", code);
					ok = 0;
				}
			} else if (k == n_rcpt + 1 && code != 354) {
				report_error(i, "DATA", code);
				if (write_all(c->fd, "RSET\r\n", 6) < 0 ||
				    read_reply(c, 0) < 0)
					return -1;
				return 0;
			}
		}
	}
	if (write_all(c->fd, m->data, m->len) < 0)
		return -1;
	for (int k = 0; k < n_rcpt; k++) {
		if (!rcpt_ok[k])
			continue;
		code = read_reply(c, 0);
		if (code < 0)
			return -1;
		if (code != 250) {
			report_error(i, "final", code);
			ok = 0;
		}
	}
	(void)accepted;
	return ok;
}

static void *
worker(void *arg)
{
	struct conn *c = xmalloc(sizeof(*c));

	(void)arg;
	c->fd = -1;
	for (;;) {
		int i = atomic_fetch_add(&next_tx, 1), r;
		double t0;

		if (i >= n_total)
			break;
		if (c->fd < 0 && conn_open(c) < 0) {
			lat[i] = 0;
			okv[i] = 0;
			continue;
		}
		t0 = now();
		r = transaction(c, i);
		lat[i] = now() - t0;
		okv[i] = r == 1;
		if (r < 0) {
			report_error(i, "connection lost", 0);
			close(c->fd);
			c->fd = -1;
		}
	}
	if (c->fd >= 0) {
		if (write_all(c->fd, "QUIT\r\n", 6) == 0)
			(void)read_reply(c, 0);
		close(c->fd);
	}
	free(c);
	return NULL;
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile. */
static double
pct(const double *v, int n, double p)
{
	int k = (int)((p / 100.0) * n + 0.999999) - 1;

	if (k < 0)
		k = 0;
	if (k >= n)
		k = n - 1;
	return v[k];
}

int
main(int argc, char **argv)
{
	const char *dir = NULL, *latfile = NULL;
	pthread_t *th;
	double t0, el, sum = 0, cpu0, cpu;
	int opt, ok = 0;

	while ((opt = getopt(argc, argv, "d:n:c:r:u:b:l:")) != -1) {
		switch (opt) {
		case 'd': dir = optarg; break;
		case 'n': n_total = atoi(optarg); break;
		case 'c': n_conc = atoi(optarg); break;
		case 'r': n_rcpt = atoi(optarg); break;
		case 'u': n_users = atoi(optarg); break;
		case 'b': user_base = atoi(optarg); break;
		case 'l': latfile = optarg; break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || dir == NULL || n_total < 1 || n_conc < 1 ||
	    n_rcpt < 1 || n_rcpt > 64 || n_users < n_rcpt)
		goto usage;
	target = argv[optind];
	load_dir(dir);
	lat = calloc((size_t)n_total, sizeof(double));
	okv = calloc((size_t)n_total, 1);
	th = calloc((size_t)n_conc, sizeof(*th));
	cpu0 = cpu_seconds();
	t0 = now();
	for (int t = 0; t < n_conc; t++)
		if (pthread_create(&th[t], NULL, worker, NULL) != 0) {
			perror("pthread_create");
			return 2;
		}
	for (int t = 0; t < n_conc; t++)
		pthread_join(th[t], NULL);
	el = now() - t0;
	cpu = cpu_seconds() - cpu0;
	for (int i = 0; i < n_total; i++) {
		ok += okv[i];
		sum += lat[i];
	}
	if (latfile != NULL) {
		FILE *f = fopen(latfile, "w");

		if (f == NULL) {
			perror(latfile);
			return 2;
		}
		for (int i = 0; i < n_total; i++)
			fprintf(f, "%.6f\n", lat[i]);
		fclose(f);
	}
	qsort(lat, (size_t)n_total, sizeof(double), dbl_cmp);
	printf("messages=%d ok=%d fail=%d rcpt_ok=%d elapsed_s=%.4f msgs_per_s=%.1f "
	       "rcpts_per_s=%.1f lat_p50_ms=%.3f lat_p90_ms=%.3f lat_p99_ms=%.3f "
	       "lat_max_ms=%.3f lat_mean_ms=%.3f cpu_s=%.4f\n",
	       n_total, ok, n_total - ok, ok * n_rcpt, el, n_total / el,
	       ok * n_rcpt / el, pct(lat, n_total, 50) * 1e3,
	       pct(lat, n_total, 90) * 1e3, pct(lat, n_total, 99) * 1e3,
	       lat[n_total - 1] * 1e3, sum / n_total * 1e3, cpu);
	return ok == n_total ? 0 : 1;
usage:
	fprintf(stderr, "usage: lmtp-load -d MSGDIR [-n N] [-c C] [-r R] [-u USERS] "
		"[-b USER_BASE] [-l LATFILE] host:port|unix:/path\n");
	return 2;
}
