/* lmtpd-sieve: checks a Sieve script, and with a message shows what lmtpd
 * would do with it (like Pigeonhole's sieve-test); nothing is delivered or
 * sent.
 *
 *   lmtpd-sieve [-c CONF] [-e from=ADDR] [-e to=ADDR] SCRIPT [MESSAGE]
 *   lmtpd-sieve -x
 *
 * Exit status: 0 valid (and ran without error), 1 the script has errors
 * (printed as "SCRIPT: line N: error: ..."), 2 usage or I/O error. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "buf.h"
#include "cfg.h"
#include "addrfold.h"
#include "log.h"
#include "message.h"
#include "rcpt.h"
#include "sieve_run.h"
#include "vacation.h"
#include "xalloc.h"

/* status 0 (-h, --help): the usage on stdout, as asked for; else on
 * stderr for a usage error. */
static void
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
		"usage: lmtpd-sieve [-c CONF] [-e from=ADDR] [-e to=ADDR] SCRIPT [MESSAGE]\n"
		"       lmtpd-sieve -x\n"
		"  -c CONF       take limits and recipient_delimiter from CONF\n"
		"  -e from=ADDR  envelope sender (default: none, the null sender)\n"
		"  -e to=ADDR    envelope recipient (default: recipient@localhost)\n"
		"  -x            list the Sieve extensions supported\n");
	exit(status);
}

static char *
read_message(const char *path, size_t *len_r)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	struct buf b;
	char chunk[65536];
	size_t n;
	char *data;

	if (f == NULL) {
		fprintf(stderr, "lmtpd-sieve: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	buf_init(&b, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_put(&b, chunk, n);
	if (ferror(f)) {
		fprintf(stderr, "lmtpd-sieve: %s: read error\n", path);
		exit(2);
	}
	if (f != stdin)
		fclose(f);
	data = buf_steal(&b, len_r);
	if (data == NULL) {
		data = xstrdup("");
		*len_r = 0;
	}
	return data;
}

static void
print_quoted(const char *s)
{
	putchar('"');
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
print_flags(const struct sieve_action *a)
{
	if (a->flag_count == 0)
		return;
	fputs(" :flags [", stdout);
	for (size_t i = 0; i < a->flag_count; i++) {
		if (i > 0)
			fputs(", ", stdout);
		print_quoted(a->flags[i]);
	}
	putchar(']');
}

/* The envelope and message a run was given: what delivery's vacation
 * rules look at. */
struct run_context {
	const char *from, *to, *delimiters;
	const struct message *msg;
};

/* Why delivery would not send this vacation reply (vacation_refusal,
 * the rules lmtpd applies), NULL if it would.  The spam verdict and the
 * history are delivery's alone: neither is looked at here. */
static const char *
vacation_refused(const struct run_context *run, const struct sieve_vacation *v)
{
	const char *mine[2 + SIEVE_VACATION_ADDRESSES_MAX] = { run->to, v->from };
	size_t nmine = 2;
	/* split where delivery splits it, on the case-folded address */
	char *to = addr_casefold(run->to);
	const char *at = strrchr(to, '@');
	size_t local_len = at != NULL ? (size_t)(at - to) : strlen(to);
	size_t user_len = rcpt_detail_split(to, local_len, run->delimiters);
	char *user;
	const char *why;

	for (size_t i = 0; i < v->address_count && nmine < N_ELEMENTS(mine); i++)
		mine[nmine++] = v->addresses[i];
	/* the recipient without its detail, as delivery's user@domain */
	if (user_len < local_len)
		user = xasprintf("%.*s%s", (int)user_len, to, at != NULL ? at : "");
	else
		user = xstrdup(to);
	free(to);
	{
		struct vacation_request req = { user, mine, nmine, run->from, run->msg, false,
						v->handle, v->days };

		why = vacation_refusal(&req);
	}
	free(user);
	return why;
}

static void
print_actions(const struct sieve_actions *a, const struct run_context *run)
{
	if (a->error)
		printf("error: %s\n", a->error_text);
	if (a->flags_dropped > 0)
		printf("flags left off: %zu (a copy keeps at most %d flags of at most %d "
		       "bytes)\n", a->flags_dropped, SIEVE_FLAGS_MAX, SIEVE_FLAG_LEN_MAX);
	printf("actions:\n");
	for (size_t i = 0; i < a->count; i++) {
		const struct sieve_action *x = &a->v[i];

		printf("  %s", sieve_action_name(x->kind));
		switch (x->kind) {
		case SIEVE_ACT_KEEP:
			if (x->implicit)
				fputs(" (implicit)", stdout);
			print_flags(x);
			break;
		case SIEVE_ACT_FILEINTO:
			print_flags(x);
			putchar(' ');
			print_quoted(x->folder);
			break;
		case SIEVE_ACT_REDIRECT:
			printf(" <%s>", x->address);
			break;
		case SIEVE_ACT_REJECT:
			putchar(' ');
			print_quoted(x->text);
			break;
		case SIEVE_ACT_VACATION:
			printf(" to <%s> :days %u", x->vacation.address, x->vacation.days);
			if (x->vacation.from != NULL)
				printf(" :from <%s>", x->vacation.from);
			if (x->vacation.subject != NULL) {
				fputs(" :subject ", stdout);
				print_quoted(x->vacation.subject);
			}
			if (x->vacation.address_count > 0) {
				fputs(" :addresses [", stdout);
				for (size_t k = 0; k < x->vacation.address_count; k++) {
					fputs(k > 0 ? ", " : "", stdout);
					print_quoted(x->vacation.addresses[k]);
				}
				putchar(']');
			}
			if (x->vacation.mime)
				fputs(" :mime", stdout);
			printf(" :handle ");
			print_quoted(x->vacation.handle);
			putchar(' ');
			print_quoted(x->vacation.reason);
			{
				const char *why = vacation_refused(run, &x->vacation);

				if (why != NULL)
					printf(" (not sent: %s)", why);
			}
			break;
		case SIEVE_ACT_DISCARD:
			break;
		}
		putchar('\n');
	}
}

int
main(int argc, char **argv)
{
	const char *conf = NULL, *from = "", *to = "recipient@localhost";
	struct lmtpd_config *cfg = NULL;
	struct sieve_settings set;
	struct sieve_runner *runner;
	int c, status;

	log_open("lmtpd-sieve", true);
	log_set_quiet(true);
	/* (getopt knows short options only) */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0)
			usage(0);
	while ((c = getopt(argc, argv, "c:e:xh")) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 'e':
			if (strncmp(optarg, "from=", 5) == 0)
				from = optarg + 5;
			else if (strncmp(optarg, "to=", 3) == 0)
				to = optarg + 3;
			else
				usage(2);
			break;
		case 'x': {
			struct sieve_settings s0 = { NULL, NULL, 1, 1, 1, 1, 1, false, false, 0 };

			runner = sieve_runner_new(&s0);
			printf("%s\n", sieve_extensions());
			sieve_runner_free(&runner);
			return 0;
		}
		case 'h':
			usage(0);
			break;
		default:
			usage(2);
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		usage(2);
	if (conf != NULL) {
		char *error;

		cfg = cfg_load(conf, &error);
		if (cfg == NULL) {
			fprintf(stderr, "lmtpd-sieve: %s\n", error);
			free(error);
			return 2;
		}
	} else {
		char *error;

		cfg = cfg_load(NULL, &error);
		if (cfg == NULL) {
			fprintf(stderr, "lmtpd-sieve: %s\n", error);
			free(error);
			return 2;
		}
	}
	memset(&set, 0, sizeof(set));
	set.max_script_size = cfg->sieve_max_script_size;
	set.max_actions = cfg->sieve_max_actions;
	set.max_redirects = cfg->sieve_max_redirects;
	set.max_cpu_time = cfg->sieve_max_cpu_time;
	set.vacation_max_days = cfg->sieve_vacation_max_days;
	set.sandbox = true;
	set.max_memory = cfg->sieve_max_memory;
	runner = sieve_runner_new(&set);
	status = sieve_validate_file(runner, argv[optind], stderr);
	if (status != 0) {
		sieve_runner_free(&runner);
		cfg_free(&cfg);
		return status < 0 ? 2 : 1;
	}
	if (argc - optind == 2) {
		size_t len, skip = 0, stored_size;
		char *data = read_message(argv[optind + 1], &len);
		struct iovec iov;
		struct sieve_msg msg;
		struct sieve_actions *a;
		struct run_context run;
		struct message *parsed;

		/* An mbox "From " line is not part of the message. */
		if (len >= 5 && memcmp(data, "From ", 5) == 0) {
			const char *nl = memchr(data, '\n', len);

			skip = nl != NULL ? (size_t)(nl - data) + 1 : len;
		}
		iov.iov_base = data + skip;
		iov.iov_len = len - skip;
		memset(&msg, 0, sizeof(msg));
		msg.iov = &iov;
		msg.iovcnt = 1;
		msg.size = message_imap_size(&iov, 1, &stored_size);
		msg.env_from = from;
		msg.env_to = to;
		msg.recipient_delimiter = cfg->recipient_delimiter;
		a = sieve_run(runner, argv[optind], &msg);
		run.from = from;
		run.to = to;
		run.delimiters = cfg->recipient_delimiter;
		run.msg = parsed = message_parse(data + skip, len - skip);
		print_actions(a, &run);
		status = a->error ? 1 : 0;
		sieve_actions_free(&a);
		message_free(&parsed);
		free(data);
	} else {
		printf("%s: valid\n", argv[optind]);
	}
	sieve_runner_free(&runner);
	cfg_free(&cfg);
	return status;
}
