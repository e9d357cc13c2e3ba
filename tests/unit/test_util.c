/* Unit tests for lib/: buf, log (escaping and the delivery line), dsn,
 * netaddr, message and fsutil. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "check_compat.h"

#include "buf.h"
#include "dsn.h"
#include "utf8.h"
#include "fsutil.h"
#include "lmtpd_limits.h"
#include "log.h"
#include "message.h"
#include "netaddr.h"
#include "xalloc.h"

/* ---- xmap ---- */

/* A mapping comes zeroed and writable, keeps its bytes when it grows (and
 * may move), and the new part is zeroed too. */
START_TEST(xmap_grow_keeps)
{
	size_t len = 3u << 20, big = 9u << 20;
	unsigned char *p = xmap_alloc(len);

	for (size_t i = 0; i < len; i += 4093)
		ck_assert_uint_eq(p[i], 0);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 7);
	p = xmap_grow(p, len, big);
	for (size_t i = 0; i < len; i++)
		ck_assert_uint_eq(p[i], (unsigned char)(i * 7));
	for (size_t i = len; i < big; i += 4093)
		ck_assert_uint_eq(p[i], 0);
	p[big - 1] = 1;
	xmap_free(p, big);
	xmap_free(NULL, 0);
}
END_TEST

/* ---- buf ---- */

/* Appending exactly n bytes to an empty buffer whose maximum is 16. */
static const struct {
	size_t n;
	int ret;
} buf_limit_cases[] = {
	{ 15, 0 },	/* max - 1 */
	{ 16, 0 },	/* max */
	{ 17, -1 },	/* max + 1 */
	{ 0, 0 },
};

START_TEST(buf_limit)
{
	struct buf b;
	char src[32];

	memset(src, 'x', sizeof(src));
	buf_init(&b, 16);
	errno = 0;
	ck_assert_int_eq(buf_append(&b, src, buf_limit_cases[_i].n),
			 buf_limit_cases[_i].ret);
	if (buf_limit_cases[_i].ret < 0) {
		ck_assert_int_eq(errno, EMSGSIZE);
		ck_assert_uint_eq(b.len, 0);
	} else {
		ck_assert_uint_eq(b.len, buf_limit_cases[_i].n);
		ck_assert(b.data == NULL || b.data[b.len] == '\0');
	}
	buf_free(&b);
}
END_TEST

START_TEST(buf_limit_incremental)
{
	struct buf b;

	buf_init(&b, 10);
	ck_assert_int_eq(buf_append_str(&b, "12345"), 0);
	ck_assert_int_eq(buf_append_str(&b, "6789"), 0);	/* 9 = max - 1 */
	ck_assert_int_eq(buf_append(&b, "0", 1), 0);		/* 10 = max */
	errno = 0;
	ck_assert_int_eq(buf_append(&b, "!", 1), -1);		/* 11 */
	ck_assert_int_eq(errno, EMSGSIZE);
	/* A failed append leaves the contents alone. */
	ck_assert_uint_eq(b.len, 10);
	ck_assert_str_eq(b.data, "1234567890");
	/* A printf that would not fit fails the same way. */
	buf_consume(&b, 3);
	ck_assert_str_eq(b.data, "4567890");
	errno = 0;
	ck_assert_int_eq(buf_printf(&b, "%d", 1234), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_str_eq(b.data, "4567890");
	ck_assert_int_eq(buf_printf(&b, "%s%d", "a", 12), 0);
	ck_assert_str_eq(b.data, "4567890a12");
	ck_assert_uint_eq(b.len, 10);
	buf_free(&b);
}
END_TEST

START_TEST(buf_binary_and_steal)
{
	struct buf b;
	char *p;
	size_t len;

	buf_init(&b, 0);	/* no limit */
	ck_assert_int_eq(buf_append(&b, "a\0b", 3), 0);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(buf_append(&b, "0123456789", 10), 0);
	ck_assert_uint_eq(b.len, 10003);
	ck_assert_int_eq(memcmp(b.data, "a\0b0123", 7), 0);
	ck_assert_int_eq(b.data[b.len], '\0');
	buf_consume(&b, 10000);
	ck_assert_uint_eq(b.len, 3);
	ck_assert_str_eq(b.data, "789");
	buf_consume(&b, 99);		/* more than len: empties */
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	ck_assert_int_eq(buf_append_str(&b, "kept"), 0);
	p = buf_steal(&b, &len);
	ck_assert_uint_eq(len, 4);
	ck_assert_str_eq(p, "kept");
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	free(p);
	/* Stealing an empty buffer still gives a string. */
	p = buf_steal(&b, &len);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(p, "");
	free(p);
	buf_reset(&b);
	buf_free(&b);
}
END_TEST

/* ---- log_escape ---- */

static const struct {
	const char *name;
	const char *in;
	size_t len;
	const char *out;
} escape_cases[] = {
	{ "plain", UT_S("alice@example.com"), "alice@example.com" },
	{ "empty", UT_S(""), "" },
	{ "controls", UT_S("a\r\nb\tc\x01"), "a\\x0d\\x0ab\\x09c\\x01" },
	{ "nul", UT_S("a\0b"), "a\\x00b" },
	{ "del", UT_S("\x7f"), "\\x7f" },
	{ "backslash", UT_S("a\\x41"), "a\\x5cx41" },
	{ "utf8 2 bytes", UT_S("J\xc3\xb6rg"), "J\xc3\xb6rg" },
	{ "utf8 3 bytes", UT_S("\xe2\x82\xac"), "\xe2\x82\xac" },
	{ "utf8 4 bytes", UT_S("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80" },
	{ "lone lead byte", UT_S("a\xc3"), "a\\xc3" },
	{ "lone continuation", UT_S("\x80z"), "\\x80z" },
	{ "overlong slash", UT_S("\xc0\xaf"), "\\xc0\\xaf" },
	{ "overlong 3 bytes", UT_S("\xe0\x80\xaf"), "\\xe0\\x80\\xaf" },
	{ "surrogate", UT_S("\xed\xa0\x80"), "\\xed\\xa0\\x80" },
	{ "above U+10FFFF", UT_S("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80" },
	{ "latin1", UT_S("caf\xe9!"), "caf\\xe9!" },
	{ "truncated seq", UT_S("\xe2\x82"), "\\xe2\\x82" },
	/* Characters that end or reorder a line in a log viewer: C1 NEL,
	 * LINE SEPARATOR, RIGHT-TO-LEFT OVERRIDE, an isolate; kept: ZWJ. */
	{ "nel", UT_S("a\xc2\x85" "b"), "a\\xc2\\x85" "b" },
	{ "line separator", UT_S("a\xe2\x80\xa8" "b"), "a\\xe2\\x80\\xa8" "b" },
	{ "rlo", UT_S("x\xe2\x80\xae" "fdp.exe"), "x\\xe2\\x80\\xae" "fdp.exe" },
	{ "isolate", UT_S("\xe2\x81\xa6"), "\\xe2\\x81\\xa6" },
	{ "zwj", UT_S("\xe2\x80\x8d"), "\xe2\x80\x8d" },
	/* and what shows as nothing */
	{ "zwsp", UT_S("a\xe2\x80\x8b" "b"), "a\\xe2\\x80\\x8b" "b" },
	{ "bom", UT_S("\xef\xbb\xbf"), "\\xef\\xbb\\xbf" },
};

START_TEST(log_escape_table)
{
	char out[LOG_ESCAPE_SIZE];

	log_escape(out, sizeof(out), escape_cases[_i].in, escape_cases[_i].len);
	ck_assert_msg(strcmp(out, escape_cases[_i].out) == 0,
		      "%s: got \"%s\", want \"%s\"", escape_cases[_i].name, out,
		      escape_cases[_i].out);
}
END_TEST

/* LOG_VALUE_MAX - 1, LOG_VALUE_MAX and LOG_VALUE_MAX + 1 input bytes. */
START_TEST(log_escape_truncation)
{
	char in[LOG_VALUE_MAX + 16], out[LOG_ESCAPE_SIZE], want[LOG_ESCAPE_SIZE];
	size_t len = LOG_VALUE_MAX - 1 + (size_t)_i;

	memset(in, 'a', sizeof(in));
	log_escape(out, sizeof(out), in, len);
	if (len <= LOG_VALUE_MAX) {
		memset(want, 'a', len);
		want[len] = '\0';
	} else {
		memset(want, 'a', LOG_VALUE_MAX);
		strcpy(want + LOG_VALUE_MAX, "...");
	}
	ck_assert_str_eq(out, want);
	ck_assert_uint_le(strlen(out), LOG_VALUE_MAX + 3);
}
END_TEST

START_TEST(log_escape_no_split)
{
	char in[LOG_VALUE_MAX + 16], out[LOG_ESCAPE_SIZE], want[LOG_ESCAPE_SIZE];

	/* An escape that does not fit is not cut in half. */
	memset(in, 'a', sizeof(in));
	in[LOG_VALUE_MAX - 2] = '\x01';
	log_escape(out, sizeof(out), in, LOG_VALUE_MAX + 4);
	memset(want, 'a', LOG_VALUE_MAX - 2);
	strcpy(want + LOG_VALUE_MAX - 2, "...");
	ck_assert_str_eq(out, want);

	/* Nor is a UTF-8 sequence. */
	memset(in, 'a', sizeof(in));
	memcpy(in + LOG_VALUE_MAX - 1, "\xc3\xb6", 2);
	log_escape(out, sizeof(out), in, LOG_VALUE_MAX + 1);
	memset(want, 'a', LOG_VALUE_MAX - 1);
	strcpy(want + LOG_VALUE_MAX - 1, "...");
	ck_assert_str_eq(out, want);

	/* A small destination is never overrun and still says "...". */
	memset(out, '#', sizeof(out));
	log_escape(out, 10, in, 40);
	ck_assert_str_eq(out, "aaaaaa...");
	ck_assert_int_eq(out[10], '#');
	log_escape(out, 1, in, 40);
	ck_assert_str_eq(out, "");
}
END_TEST

/* Runs fn with stderr sent to a file and returns what it wrote. */
static char *
capture_stderr(void (*fn)(void))
{
	char path[PATH_MAX];
	int fd, saved;
	char *text;

	ut_pathf(path, sizeof(path), "%s/stderr", ut_testdir());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	fn();
	ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
	close(saved);
	close(fd);
	text = ut_read_file(path, NULL);
	return text;
}

static void
log_some_lines(void)
{
	log_open("lmtpd", true);
	log_info("hello %d", 1);
	log_warn("careful");
	log_error("broken");
	log_debug("hidden");
	log_set_verbose(true);
	log_debug("shown");
	log_set_verbose(false);
}

START_TEST(log_levels)
{
	char *text = capture_stderr(log_some_lines), want[512];
	long pid = (long)getpid();

	snprintf(want, sizeof(want),
		 "lmtpd[%ld]: hello 1\n"
		 "lmtpd[%ld]: warning: careful\n"
		 "lmtpd[%ld]: error: broken\n"
		 "lmtpd[%ld]: debug: shown\n", pid, pid, pid, pid);
	ck_assert_str_eq(text, want);
	free(text);
}
END_TEST

static void
log_two_deliveries(void)
{
	struct dsn ok, fail;
	struct log_delivery d = {
		.queue_id = "7F3A21C9",
		.to = "b@y.net",
		.orig_to = "B+l@y.net",
		.folder = "INBOX",
		.score = "1.3/5.0",
		.tests = "BAYES_20,HTML_MESSAGE",
		.delay = 0.21,
		.delays = { 0.15, 0.03, 0.01, 0.02 },
		.dsn = &ok,
	};

	log_open("lmtpd", true);
	dsn_set(&ok, DSN_DELIVERED, "delivered to maildir");
	log_delivery(&d);
	/* A folder name is the user's text: it can not forge fields. */
	d.folder = "x, dsn=5.0.0, status=bounced (fake)";
	d.score = NULL;
	log_delivery(&d);
	/* A failure: no folder, no scoring; hostile bytes escaped. */
	dsn_set(&fail, DSN_DISK_FULL, "link(a, b) failed: No space left\non device");
	d = (struct log_delivery){ .queue_id = "7F3A21C9", .to = "c\r@y.net",
				   .delay = 0.02, .delays = { 0.015, 0, 0, 0 },
				   .dsn = &fail };
	log_delivery(&d);
}

START_TEST(log_delivery_line)
{
	char *text = capture_stderr(log_two_deliveries), want[1024];
	long pid = (long)getpid();

	snprintf(want, sizeof(want),
		 "lmtpd[%ld]: 7F3A21C9: to=<b@y.net>, orig_to=<B+l@y.net>, "
		 "folder=INBOX, score=1.3/5.0, tests=BAYES_20,HTML_MESSAGE, "
		 "delay=0.210, delays=0.150/0.030/0.010/0.020, dsn=2.0.0, "
		 "status=sent (delivered to maildir)\n"
		 "lmtpd[%ld]: 7F3A21C9: to=<b@y.net>, orig_to=<B+l@y.net>, "
		 "folder=x, dsn\\x3d5.0.0, status\\x3dbounced \\x28fake\\x29, "
		 "delay=0.210, delays=0.150/0.030/0.010/0.020, dsn=2.0.0, "
		 "status=sent (delivered to maildir)\n"
		 "lmtpd[%ld]: 7F3A21C9: to=<c\\x0d@y.net>, delay=0.020, "
		 "delays=0.015/0.000/0.000/0.000, dsn=4.3.1, status=deferred "
		 "(link(a, b) failed: No space left\\x0aon device)\n", pid, pid, pid);
	ck_assert_str_eq(text, want);
	free(text);
}
END_TEST

/* ---- dsn ---- */

static const struct {
	enum dsn_reason reason;
	int code;
	const char *status, *log_word;
	bool success;
	const char *reply;	/* with addr "a@b" and id "ID" */
} dsn_cases[] = {
	{ DSN_DELIVERED, 250, "2.0.0", "sent", true, "250 2.0.0 <a@b> ID Saved" },
	{ DSN_DISCARDED, 250, "2.0.0", "discarded", true, "250 2.0.0 <a@b> ID Saved" },
	{ DSN_SENDER_OK, 250, "2.1.0", "sent", true, "250 2.1.0 <a@b> ID Ok" },
	{ DSN_RCPT_OK, 250, "2.1.5", "sent", true, "250 2.1.5 <a@b> ID OK" },
	{ DSN_UNKNOWN_USER, 550, "5.1.1", "bounced", false,
	  "550 5.1.1 <a@b> ID User unknown" },
	{ DSN_BAD_ADDRESS, 501, "5.1.3", "bounced", false,
	  "501 5.1.3 <a@b> ID Bad recipient address syntax" },
	{ DSN_TOO_MANY_RCPTS, 452, "4.5.3", "deferred", false,
	  "452 4.5.3 <a@b> ID Too many recipients" },
	{ DSN_OVER_QUOTA, 552, "5.2.2", "bounced", false,
	  "552 5.2.2 <a@b> ID Mailbox is full" },
	{ DSN_OVER_QUOTA_TEMP, 452, "4.2.2", "deferred", false,
	  "452 4.2.2 <a@b> ID Mailbox is full" },
	{ DSN_TOO_LARGE, 552, "5.3.4", "bounced", false,
	  "552 5.3.4 <a@b> ID Message too big for system" },
	{ DSN_REJECTED, 550, "5.7.1", "bounced", false,
	  "550 5.7.1 <a@b> ID internal detail" },
	{ DSN_DISK_FULL, 452, "4.3.1", "deferred", false,
	  "452 4.3.1 <a@b> ID Insufficient system storage" },
	{ DSN_TEMP_FAIL, 451, "4.3.0", "deferred", false,
	  "451 4.3.0 <a@b> ID Temporary internal error" },
	{ DSN_SHUTDOWN, 421, "4.3.2", "deferred", false,
	  "421 4.3.2 <a@b> ID Service shutting down" },
};

START_TEST(dsn_table)
{
	struct dsn d;
	char reply[600];

	/* The text is for the log; only a reject shows it to the MTA. */
	dsn_set(&d, dsn_cases[_i].reason, "internal %s", "detail");
	ck_assert_str_eq(d.text, "internal detail");
	ck_assert_int_eq(dsn_code(&d), dsn_cases[_i].code);
	ck_assert_str_eq(dsn_status(&d), dsn_cases[_i].status);
	ck_assert_str_eq(dsn_log_status(&d), dsn_cases[_i].log_word);
	ck_assert_int_eq(dsn_is_success(&d), dsn_cases[_i].success);
	/* The status's class agrees with the code's. */
	ck_assert_int_eq(dsn_status(&d)[0] - '0', dsn_code(&d) / 100);
	dsn_reply(&d, "a@b", "ID", false, reply, sizeof(reply));
	ck_assert_str_eq(reply, dsn_cases[_i].reply);
}
END_TEST

START_TEST(dsn_table_complete)
{
	/* Every reason of the enum is in the table above. */
	ck_assert_int_eq(N_ELEMENTS(dsn_cases), DSN_SHUTDOWN + 1);
	for (size_t i = 0; i < N_ELEMENTS(dsn_cases); i++)
		ck_assert_int_eq(dsn_cases[i].reason, (int)i);
}
END_TEST

static const struct {
	int err;
	enum dsn_reason reason;
	const char *reply;
} errno_cases[] = {
	{ ENOSPC, DSN_DISK_FULL, "452 4.3.1 Insufficient system storage" },
	{ EDQUOT, DSN_DISK_FULL, "452 4.3.1 Insufficient system storage" },
	{ EIO, DSN_TEMP_FAIL, "451 4.3.0 Temporary internal error" },
	{ EACCES, DSN_TEMP_FAIL, "451 4.3.0 Temporary internal error" },
	{ ENOENT, DSN_TEMP_FAIL, "451 4.3.0 Temporary internal error" },
	{ EMFILE, DSN_TEMP_FAIL, "451 4.3.0 Temporary internal error" },
};

START_TEST(dsn_errno)
{
	struct dsn d;
	char want[DSN_TEXT_MAX], reply[256];

	dsn_set_errno(&d, errno_cases[_i].err, "write(%s) failed", "/m/tmp/x");
	ck_assert_int_eq(d.reason, errno_cases[_i].reason);
	snprintf(want, sizeof(want), "write(/m/tmp/x) failed: %s",
		 strerror(errno_cases[_i].err));
	ck_assert_str_eq(d.text, want);
	dsn_reply(&d, NULL, NULL, false, reply, sizeof(reply));
	ck_assert_str_eq(reply, errno_cases[_i].reply);
}
END_TEST

START_TEST(dsn_errno_long_text)
{
	struct dsn d;
	char path[DSN_TEXT_MAX * 2];

	/* The errno text never overflows the fixed text field. */
	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	dsn_set_errno(&d, ENOSPC, "open(%s) failed", path);
	ck_assert_int_eq(d.reason, DSN_DISK_FULL);
	ck_assert_uint_eq(strlen(d.text), DSN_TEXT_MAX - 1);
}
END_TEST

START_TEST(dsn_reply_format)
{
	struct dsn d;
	char reply[600], small[16];

	dsn_set(&d, DSN_DELIVERED, "x");
	dsn_reply(&d, NULL, NULL, false, reply, sizeof(reply));
	ck_assert_str_eq(reply, "250 2.0.0 Saved");
	dsn_reply(&d, "a@b", NULL, false, reply, sizeof(reply));
	ck_assert_str_eq(reply, "250 2.0.0 <a@b> Saved");
	dsn_reply(&d, NULL, "1A2B", false, reply, sizeof(reply));
	ck_assert_str_eq(reply, "250 2.0.0 1A2B Saved");
	/* Control and 8-bit bytes in the address never reach the MTA raw. */
	dsn_reply(&d, "a\r\nb\xc3\xb6@c", "ID", false, reply, sizeof(reply));
	ck_assert_str_eq(reply, "250 2.0.0 <a??b??@c> ID Saved");
	/* The longest path RCPT takes (256 octets) is shown whole. */
	{
		char addr[257], want[300];

		memset(addr, 'a', sizeof(addr) - 1);
		memcpy(addr + 250, "@b.org", 7);
		dsn_reply(&d, addr, "ID", false, reply, sizeof(reply));
		snprintf(want, sizeof(want), "250 2.0.0 <%s> ID Saved", addr);
		ck_assert_str_eq(reply, want);
	}
	/* Cut to the buffer, always terminated. */
	memset(small, '#', sizeof(small));
	dsn_reply(&d, "a@b", "ID", false, small, sizeof(small));
	ck_assert_str_eq(small, "250 2.0.0 <a@b>");
	/* ... and never inside a UTF-8 character: "250 2.0.0 <j" and one
	 * byte of the first two-byte "\xc3\xbc" would fill 15 bytes. */
	dsn_reply(&d, "j\xc3\xbc\xc3\xbc\xc3\xbc@b", "ID", true, small, sizeof(small));
	ck_assert_str_eq(small, "250 2.0.0 <j\xc3\xbc");
	ck_assert(utf8_valid((const unsigned char *)small, strlen(small)));
}
END_TEST

START_TEST(dsn_reject_text)
{
	struct dsn d;
	char reply[600];

	/* A Sieve reason goes to the MTA, printable ASCII only. */
	dsn_set(&d, DSN_REJECTED, "go away\r\n250 fake\tline \xc3\xa9");
	dsn_reply(&d, "a@b", "ID", false, reply, sizeof(reply));
	ck_assert_str_eq(reply, "550 5.7.1 <a@b> ID go away??250 fake?line ??");
	ck_assert_ptr_null(strpbrk(reply, "\r\n"));
	/* A long reason with the longest address: the line is cut to
	 * RFC 5321's 512 octets (CRLF included). */
	{
		char addr[257], want[DSN_REPLY_LINE_MAX + 1];
		int n;

		memset(addr, 'a', sizeof(addr) - 1);
		memcpy(addr + 249, "@b.org", 7);
		dsn_set(&d, DSN_REJECTED, "%0500d", 7);
		dsn_reply(&d, addr, "6B13ED1592F48FD7", false, reply, sizeof(reply));
		ck_assert_uint_eq(strlen(reply), DSN_REPLY_LINE_MAX);
		n = snprintf(want, sizeof(want), "550 5.7.1 <%s> 6B13ED1592F48FD7 ", addr);
		memset(want + n, '0', sizeof(want) - 1 - (size_t)n);
		want[sizeof(want) - 1] = '\0';
		ck_assert_str_eq(reply, want);
	}
	/* In an SMTPUTF8 transaction the MTA takes UTF-8 (RFC 6531): a
	 * German reason and address stay readable; controls, a C1 control,
	 * RIGHT-TO-LEFT OVERRIDE and invalid UTF-8 do not pass. */
	dsn_set(&d, DSN_REJECTED, "zu gro\xc3\x9f\r\n\xc2\x85\xe2\x80\xae\xff!");
	dsn_reply(&d, "j\xc3\xbcrgen@b", "ID", true, reply, sizeof(reply));
	ck_assert_str_eq(reply, "550 5.7.1 <j\xc3\xbcrgen@b> ID zu gro\xc3\x9f" "????????" "!");
	/* Cut to 512 octets between characters, never inside one. */
	{
		char reason[600];
		size_t lead = DSN_REPLY_LINE_MAX - strlen("550 5.7.1 ") - 1;

		memset(reason, 'x', lead);
		strcpy(reason + lead, "\xc3\xa9\xc3\xa9");
		dsn_set(&d, DSN_REJECTED, "%s", reason);
		dsn_reply(&d, NULL, NULL, true, reply, sizeof(reply));
		ck_assert_uint_eq(strlen(reply), DSN_REPLY_LINE_MAX - 1);
		ck_assert_int_eq(reply[strlen(reply) - 1], 'x');
		dsn_reply(&d, NULL, NULL, false, reply, sizeof(reply));
		ck_assert_uint_eq(strlen(reply), DSN_REPLY_LINE_MAX);
		ck_assert_int_eq(reply[strlen(reply) - 1], '?');
	}
	/* No reason given: the fixed text. */
	dsn_set(&d, DSN_REJECTED, "%s", "");
	dsn_reply(&d, NULL, NULL, false, reply, sizeof(reply));
	ck_assert_str_eq(reply, "550 5.7.1 Rejected");
}
END_TEST

/* ---- netaddr ---- */

static const struct {
	const char *spec;
	int ret;
	bool is_unix;
	const char *host_or_path, *port;
} listen_cases[] = {
	{ "127.0.0.1:2424", 0, false, "127.0.0.1", "2424" },
	{ "localhost:24", 0, false, "localhost", "24" },
	{ "[::1]:2424", 0, false, "::1", "2424" },
	{ "[2001:db8::5]:65535", 0, false, "2001:db8::5", "65535" },
	{ "*:1", 0, false, "*", "1" },
	{ "unix:/run/lmtpd/lmtp.sock", 0, true, "/run/lmtpd/lmtp.sock", NULL },
	{ "unix:relative.sock", -1, false, NULL, NULL },
	{ "unix:", -1, false, NULL, NULL },
	{ "127.0.0.1", -1, false, NULL, NULL },
	{ ":2424", -1, false, NULL, NULL },
	{ "host:", -1, false, NULL, NULL },
	{ "host:0", -1, false, NULL, NULL },
	{ "host:65536", -1, false, NULL, NULL },
	{ "host:24x", -1, false, NULL, NULL },
	{ "host:-24", -1, false, NULL, NULL },
	{ "host:99999999999999999999", -1, false, NULL, NULL },
	{ "[::1]2424", -1, false, NULL, NULL },
	{ "[::1]", -1, false, NULL, NULL },
	{ "[::1:2424", -1, false, NULL, NULL },
	{ "[]:2424", -1, false, NULL, NULL },
	{ "", -1, false, NULL, NULL },
};

START_TEST(netaddr_listen)
{
	struct netaddr_listen l;
	const char *why = NULL;
	int ret = netaddr_parse_listen(listen_cases[_i].spec, &l, &why);

	ck_assert_msg(ret == listen_cases[_i].ret, "'%s': ret %d",
		      listen_cases[_i].spec, ret);
	if (ret < 0) {
		ck_assert_ptr_nonnull(why);
		ck_assert_uint_gt(strlen(why), 0);
		return;
	}
	ck_assert_int_eq(l.is_unix, listen_cases[_i].is_unix);
	if (l.is_unix) {
		ck_assert_str_eq(l.path, listen_cases[_i].host_or_path);
	} else {
		ck_assert_str_eq(l.host, listen_cases[_i].host_or_path);
		ck_assert_str_eq(l.port, listen_cases[_i].port);
	}
}
END_TEST

START_TEST(netaddr_listen_unix_length)
{
	struct netaddr_listen l;
	const char *why;
	char spec[200];
	size_t max = sizeof(l.path) - 1;	/* sun_path keeps a NUL */

	/* sun_path length: max - 1 and max fit, max + 1 does not. */
	for (size_t len = max - 1; len <= max + 1; len++) {
		strcpy(spec, "unix:/");
		memset(spec + 6, 's', len - 1);
		spec[5 + len] = '\0';
		ck_assert_int_eq(netaddr_parse_listen(spec, &l, &why),
				 len <= max ? 0 : -1);
		if (len <= max)
			ck_assert_uint_eq(strlen(l.path), len);
	}
}
END_TEST

static const struct {
	const char *spec;
	int ret;
	int family;
	unsigned int prefix;
} net_cases[] = {
	{ "10.0.0.0/8", 0, AF_INET, 8 },
	{ "192.0.2.1", 0, AF_INET, 32 },
	{ "0.0.0.0/0", 0, AF_INET, 0 },
	{ "127.0.0.1/32", 0, AF_INET, 32 },
	{ "::1", 0, AF_INET6, 128 },
	{ "2001:db8::/32", 0, AF_INET6, 32 },
	{ "::/0", 0, AF_INET6, 0 },
	{ "::ffff:10.0.0.0/104", 0, AF_INET6, 104 },
	{ "10.0.0.0/33", -1, 0, 0 },
	{ "::/129", -1, 0, 0 },
	{ "10.0.0.0/", -1, 0, 0 },
	{ "10.0.0.0/-1", -1, 0, 0 },
	{ "10.0.0.0/8x", -1, 0, 0 },
	{ "300.0.0.0/8", -1, 0, 0 },
	{ "10.0.0/8", -1, 0, 0 },
	{ "example.com", -1, 0, 0 },
	{ "/8", -1, 0, 0 },
	{ "", -1, 0, 0 },
	{ "1:2:3:4:5:6:7:8:9", -1, 0, 0 },
	{ "0000:0000:0000:0000:0000:0000:0000:0000:0000/8", -1, 0, 0 },
};

START_TEST(netaddr_net)
{
	struct netaddr_net n;
	const char *why = NULL;
	int ret = netaddr_parse_net(net_cases[_i].spec, &n, &why);

	ck_assert_msg(ret == net_cases[_i].ret, "'%s': ret %d", net_cases[_i].spec,
		      ret);
	if (ret < 0) {
		ck_assert_ptr_nonnull(why);
		return;
	}
	ck_assert_int_eq(n.family, net_cases[_i].family);
	ck_assert_uint_eq(n.prefix, net_cases[_i].prefix);
}
END_TEST

static void
sockaddr_of(const char *text, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':') == NULL) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, text, &sin->sin_addr), 1);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
	}
}

static const struct {
	const char *nets;	/* space separated */
	const char *addr;
	bool match;
} match_cases[] = {
	{ "127.0.0.0/8", "127.0.0.1", true },
	{ "127.0.0.0/8", "127.255.255.255", true },
	{ "127.0.0.0/8", "128.0.0.1", false },
	{ "192.168.0.0/23", "192.168.1.255", true },
	{ "192.168.0.0/23", "192.168.2.0", false },
	{ "192.168.0.128/25", "192.168.0.127", false },
	{ "192.168.0.128/25", "192.168.0.128", true },
	{ "10.1.2.3", "10.1.2.3", true },
	{ "10.1.2.3", "10.1.2.4", false },
	{ "0.0.0.0/0", "203.0.113.9", true },
	{ "::1", "::1", true },
	{ "::1", "::2", false },
	{ "2001:db8::/32", "2001:db8:ffff::1", true },
	{ "2001:db8::/33", "2001:db8:8000::1", false },
	/* IPv4-mapped IPv6 peers match IPv4 networks. */
	{ "127.0.0.0/8", "::ffff:127.0.0.1", true },
	{ "127.0.0.0/8", "::ffff:10.0.0.1", false },
	{ "::ffff:127.0.0.1", "::ffff:127.0.0.1", true },
	/* A plain IPv4 peer does not match an IPv6 network. */
	{ "::ffff:127.0.0.1", "127.0.0.1", false },
	{ "::/0", "127.0.0.1", false },
	{ "10.0.0.0/8 ::1 127.0.0.0/8", "127.0.0.2", true },
	{ "10.0.0.0/8 ::1", "::1", true },
	{ "", "127.0.0.1", false },
};

START_TEST(netaddr_match_table)
{
	struct netaddr_net nets[8];
	struct sockaddr_storage ss;
	char list[128], *tok, *save = NULL;
	size_t count = 0;
	const char *why;

	snprintf(list, sizeof(list), "%s", match_cases[_i].nets);
	for (tok = strtok_r(list, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save))
		ck_assert_int_eq(netaddr_parse_net(tok, &nets[count++], &why), 0);
	sockaddr_of(match_cases[_i].addr, &ss);
	ck_assert_msg(netaddr_match(nets, count, (struct sockaddr *)&ss) ==
		      match_cases[_i].match, "%s in [%s]", match_cases[_i].addr,
		      match_cases[_i].nets);
}
END_TEST

START_TEST(netaddr_other_families)
{
	struct netaddr_net n;
	struct sockaddr_un sun;
	struct sockaddr_storage ss;
	const char *why;
	char text[64];

	ck_assert_int_eq(netaddr_parse_net("0.0.0.0/0", &n, &why), 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert(!netaddr_match(&n, 1, (struct sockaddr *)&sun));
	netaddr_to_text((struct sockaddr *)&sun, text, sizeof(text));
	ck_assert_str_eq(text, "unknown");
	sockaddr_of("192.0.2.7", &ss);
	netaddr_to_text((struct sockaddr *)&ss, text, sizeof(text));
	ck_assert_str_eq(text, "192.0.2.7");
	sockaddr_of("2001:db8::7", &ss);
	netaddr_to_text((struct sockaddr *)&ss, text, sizeof(text));
	ck_assert_str_eq(text, "2001:db8::7");
}
END_TEST

/* ---- message ---- */

static const struct {
	const char *name;
	const char *data;
	size_t size;
	size_t header_count;
	size_t body_offset;
	const char *lookup, *value;	/* header_find(lookup) -> value */
} message_cases[] = {
	{ "simple", UT_S("From: a@b\nTo: c@d\n\nbody\n"), 2, 19, "to", "c@d" },
	{ "crlf", UT_S("From: a@b\r\nTo: c@d\r\n\r\nbody\r\n"), 2, 22, "From", "a@b" },
	{ "folded", UT_S("Subject: one\n two\n\tthree\nX: y\n\nbody"), 2, 31,
	  "subject", "one two\tthree" },
	{ "folded crlf", UT_S("Subject: one\r\n two\r\nX: y\r\n\r\nb"), 2, 28,
	  "SUBJECT", "one two" },
	{ "obsolete space before colon", UT_S("Subject : hi\nX: y\n\nb"), 2, 19,
	  "Subject", "hi" },
	{ "obsolete tab before colon", UT_S("Subject\t: hi\n\nb"), 1, 14,
	  "subject", "hi" },
	{ "no blank line", UT_S("From: a@b\nthis is body\n"), 1, 10, "from", "a@b" },
	{ "no header at all", UT_S("just text\nmore\n"), 0, 0, "just text", NULL },
	{ "empty header block", UT_S("\nbody"), 0, 1, "x", NULL },
	{ "empty message", UT_S(""), 0, 0, "from", NULL },
	{ "header without newline", UT_S("From: a@b"), 1, 9, "From", "a@b" },
	{ "trailing spaces trimmed", UT_S("X:   v  \t\n\n"), 1, 11, "x", "v" },
	{ "empty value", UT_S("X:\nY: 1\n\n"), 2, 9, "x", "" },
	{ "leading colon is body", UT_S("A: 1\n: no\n\n"), 1, 5, "a", "1" },
	{ "continuation first is body", UT_S(" x: 1\n\n"), 0, 0, "x", NULL },
	{ "8-bit name is body", UT_S("A: 1\nN\xc3\xa4me: 2\n\n"), 1, 5, "a", "1" },
	{ "first of duplicates", UT_S("R: 1\nR: 2\n\n"), 2, 11, "r", "1" },
	{ "prefix is not a match", UT_S("From: a\n\n"), 1, 9, "Fro", NULL },
	{ "longer is not a match", UT_S("From: a\n\n"), 1, 9, "From2", NULL },
	{ "fold at end of data", UT_S("A: 1\n 2"), 1, 7, "a", "1 2" },
	{ "header value with colon", UT_S("Date: 12:00:01\n\n"), 1, 16, "date",
	  "12:00:01" },
};

START_TEST(message_table)
{
	struct message *m = message_parse(message_cases[_i].data,
					   message_cases[_i].size);
	const struct message_header *h;
	char value[256];

	ck_assert_msg(m->header_count == message_cases[_i].header_count,
		      "%s: %zu headers", message_cases[_i].name, m->header_count);
	ck_assert_msg(m->body_offset == message_cases[_i].body_offset,
		      "%s: body at %zu", message_cases[_i].name, m->body_offset);
	ck_assert(!m->headers_truncated);
	h = message_header_find(m, message_cases[_i].lookup);
	if (message_cases[_i].value == NULL) {
		ck_assert_ptr_null(h);
	} else {
		ck_assert_ptr_nonnull(h);
		message_header_value(m, h, value, sizeof(value));
		ck_assert_msg(strcmp(value, message_cases[_i].value) == 0,
			      "%s: value \"%s\"", message_cases[_i].name, value);
	}
	/* Every indexed field lies inside the header block, in order. */
	for (size_t i = 0; i < m->header_count; i++) {
		ck_assert_uint_lt(m->headers[i].start, m->headers[i].value_start);
		ck_assert_uint_le(m->headers[i].value_start, m->headers[i].end);
		ck_assert_uint_le(m->headers[i].end, m->body_offset);
		ck_assert_int_eq(m->data[m->headers[i].value_start - 1], ':');
		if (i > 0)
			ck_assert_uint_eq(m->headers[i].start, m->headers[i - 1].end);
	}
	message_free(&m);
	ck_assert_ptr_null(m);
}
END_TEST

START_TEST(message_value_cut)
{
	static const char data[] = "Subject: hello world\n\n";
	struct message *m = message_parse(data, sizeof(data) - 1);
	const struct message_header *h = message_header_find(m, "subject");
	char out[6];

	ck_assert_uint_eq(message_header_value(m, h, out, sizeof(out)), 5);
	ck_assert_str_eq(out, "hello");
	ck_assert_uint_eq(message_header_value(m, h, out, 1), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(message_header_value(m, h, out, 0), 0);
	message_free(&m);
	message_free(&m);	/* NULL is fine */
}
END_TEST

/* MESSAGE_HEADERS_MAX - 1, MESSAGE_HEADERS_MAX and MESSAGE_HEADERS_MAX + 1
 * fields (the X-N ones plus "Last"): the ones past the limit stay in the
 * header block, unindexed. */
START_TEST(message_header_limit)
{
	size_t count = MESSAGE_HEADERS_MAX - 2 + (size_t)_i, len = 0;
	char *data = malloc(count * 16 + 32);
	struct message *m;

	ck_assert_ptr_nonnull(data);
	for (size_t i = 0; i < count; i++)
		len += (size_t)sprintf(data + len, "X-%zu: %zu\n", i, i);
	len += (size_t)sprintf(data + len, "Last: yes\n\nbody\n");
	m = message_parse(data, len);
	ck_assert_uint_eq(m->body_offset, len - 5);
	if (count + 1 <= MESSAGE_HEADERS_MAX) {
		ck_assert_uint_eq(m->header_count, count + 1);
		ck_assert(!m->headers_truncated);
		ck_assert_ptr_nonnull(message_header_find(m, "last"));
	} else {
		ck_assert_uint_eq(m->header_count, MESSAGE_HEADERS_MAX);
		ck_assert(m->headers_truncated);
		ck_assert_ptr_null(message_header_find(m, "last"));
	}
	message_free(&m);
	free(data);
}
END_TEST

/* ---- fsutil ---- */

/* fsync as the code under test calls it (the library is linked into this
 * program, so this definition is the one it gets): with fsync_paths set,
 * each folder or file synced is noted by its path. */
static struct buf *fsync_paths;

int
fsync(int fd)
{
	if (fsync_paths != NULL) {
		char link[64], target[PATH_MAX];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0)
			buf_putf(fsync_paths, "%.*s\n", (int)n, target);
	}
	return (int)syscall(SYS_fsync, fd);
}

START_TEST(fsutil_mkdir_parents)
{
	const char *dir = ut_testdir();
	char path[PATH_MAX], file[PATH_MAX], real[PATH_MAX];
	struct buf synced, want;
	struct stat st;
	bool created;

	buf_init(&want, 0);
	umask(022);
	ut_pathf(path, sizeof(path), "%s/a/b//c", dir);
	ck_assert_int_eq(mkdir_parents(path, 0700, &created), 0);
	ck_assert(created);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	ut_pathf(path, sizeof(path), "%s/a/b", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	/* Existing is fine, and not made by this call (another delivery
	 * may have made it a moment ago). */
	created = true;
	ck_assert_int_eq(mkdir_parents(path, 0700, &created), 0);
	ck_assert(!created);
	ck_assert_int_eq(mkdir_parents(path, 0700, NULL), 0);
	/* A trailing slash, the parent there: made, and its entry made
	 * durable in the parent (the new folder itself was synced) */
	ut_pathf(path, sizeof(path), "%s/a/b/new/", dir);
	buf_init(&synced, 0);
	fsync_paths = &synced;
	ck_assert_int_eq(mkdir_parents(path, 0700, &created), 0);
	fsync_paths = NULL;
	ck_assert(created);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ut_pathf(path, sizeof(path), "%s/a/b", dir);
	ck_assert_ptr_nonnull(realpath(path, real));
	buf_putf(&want, "%s\n", real);
	ck_assert_str_eq(synced.data, want.data);
	buf_free(&synced);
	buf_free(&want);
	/* A file in the way is ENOTDIR, as a file or as a parent. */
	ut_pathf(file, sizeof(file), "%s/file", dir);
	ut_write_text(file, "x");
	errno = 0;
	ck_assert_int_eq(mkdir_parents(file, 0700, &created), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	ck_assert(!created);
	ut_pathf(path, sizeof(path), "%s/file/sub", dir);
	errno = 0;
	ck_assert_int_eq(mkdir_parents(path, 0700, NULL), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	ck_assert_int_eq(mkdir_parents("", 0700, NULL), -1);
	/* /proc answers ENOENT with the parent in place: an error, where
	 * retrying by recursion once never ended. */
	errno = 0;
	ck_assert_int_eq(mkdir_parents("/proc/lmtpd-unit/sub", 0700, NULL), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* The folder whose entry a new folder is: fsync'd after the mkdir. */
START_TEST(fsutil_path_parent)
{
	static const struct {
		const char *path, *parent;
	} cases[] = {
		{ "/var/mail/example.com/a/Maildir/", "/var/mail/example.com/a" },
		{ "/var/mail/example.com/a/Maildir", "/var/mail/example.com/a" },
		{ "/var/mail//a///", "/var/mail" },
		{ "/var//mail", "/var" },
		{ "/a", "/" },
		{ "/a/", "/" },
		{ "//a", "/" },
		{ "/", "/" },
		{ "a", "." },
		{ "a/", "." },
		{ "a/b", "a" },
	};
	char out[64], small[4];

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		ck_assert(path_parent(cases[i].path, out, sizeof(out)));
		ck_assert_msg(strcmp(out, cases[i].parent) == 0, "%s: %s", cases[i].path, out);
	}
	ck_assert(!path_parent("/var/mail/x", small, sizeof(small)));
	ck_assert(path_parent("/ab/c", small, sizeof(small)));
	ck_assert_str_eq(small, "/ab");
}
END_TEST

START_TEST(fsutil_writev_many)
{
	const char *dir = ut_testdir();
	char path[PATH_MAX], *back;
	struct iovec iov[3000];
	char bytes[3000];
	size_t len;
	int fd;

	/* More iovecs than IOV_MAX: written in several calls, in order. */
	for (int i = 0; i < 3000; i++) {
		bytes[i] = (char)('a' + i % 26);
		iov[i].iov_base = &bytes[i];
		iov[i].iov_len = 1;
	}
	ut_pathf(path, sizeof(path), "%s/out", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(writev_full(fd, iov, 3000), 0);
	ck_assert_int_eq(write_full(fd, "END", 3), 0);
	ck_assert_int_eq(close_checked(fd), 0);
	back = ut_read_file(path, &len);
	ck_assert_uint_eq(len, 3003);
	ck_assert_int_eq(memcmp(back, bytes, 3000), 0);
	ck_assert_int_eq(memcmp(back + 3000, "END", 3), 0);
	free(back);
	ck_assert_int_eq(fsync_path(dir), 0);
	ck_assert_int_eq(fsync_path(path), -1);	/* not a directory */
}
END_TEST

static Suite *
util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc;

	tc = ut_tcase(s, "xmap", false);
	tcase_add_test(tc, xmap_grow_keeps);
	tc = ut_tcase(s, "buf", false);
	tcase_add_loop_test(tc, buf_limit, 0, N_ELEMENTS(buf_limit_cases));
	tcase_add_test(tc, buf_limit_incremental);
	tcase_add_test(tc, buf_binary_and_steal);

	tc = ut_tcase(s, "log", true);
	tcase_add_loop_test(tc, log_escape_table, 0, N_ELEMENTS(escape_cases));
	tcase_add_loop_test(tc, log_escape_truncation, 0, 3);
	tcase_add_test(tc, log_escape_no_split);
	tcase_add_test(tc, log_levels);
	tcase_add_test(tc, log_delivery_line);

	tc = ut_tcase(s, "dsn", false);
	tcase_add_loop_test(tc, dsn_table, 0, N_ELEMENTS(dsn_cases));
	tcase_add_test(tc, dsn_table_complete);
	tcase_add_loop_test(tc, dsn_errno, 0, N_ELEMENTS(errno_cases));
	tcase_add_test(tc, dsn_errno_long_text);
	tcase_add_test(tc, dsn_reply_format);
	tcase_add_test(tc, dsn_reject_text);

	tc = ut_tcase(s, "netaddr", false);
	tcase_add_loop_test(tc, netaddr_listen, 0, N_ELEMENTS(listen_cases));
	tcase_add_test(tc, netaddr_listen_unix_length);
	tcase_add_loop_test(tc, netaddr_net, 0, N_ELEMENTS(net_cases));
	tcase_add_loop_test(tc, netaddr_match_table, 0, N_ELEMENTS(match_cases));
	tcase_add_test(tc, netaddr_other_families);

	tc = ut_tcase(s, "message", false);
	tcase_add_loop_test(tc, message_table, 0, N_ELEMENTS(message_cases));
	tcase_add_test(tc, message_value_cut);
	tcase_add_loop_test(tc, message_header_limit, 0, 3);

	tc = ut_tcase(s, "fsutil", true);
	tcase_add_test(tc, fsutil_mkdir_parents);
	tcase_add_test(tc, fsutil_path_parent);
	tcase_add_test(tc, fsutil_writev_many);
	return s;
}

int
main(void)
{
	return ut_run(util_suite);
}
