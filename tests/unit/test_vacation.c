/* Unit tests for sieve/vacation: the RFC 3834/5230 rules, the history in a
 * real Berkeley DB environment in a temporary folder, and the reply text. */
#include "config.h"

#include <gmime/gmime.h>

#include "check_compat.h"

#include "buf.h"
#include "dbenv.h"
#include "message.h"
#include "vacation.h"

#define BASE "From: Alice <alice@example.org>\n" \
	"To: Bob <bob@example.com>\n" \
	"Subject: Lunch?\n" \
	"Message-ID: <m1@example.org>\n"

static const char *const mine[] = { "bob+work@example.com", "b.smith@example.com" };

static struct vacation_request
request(const struct message *msg)
{
	struct vacation_request r = { "bob@example.com", mine, N_ELEMENTS(mine),
				      "alice@example.org", msg, false, "auto:1", 7 };

	return r;
}

/* ---- refusals ---- */

static const struct {
	const char *extra;	/* header lines added to BASE (or a whole header) */
	const char *sender;
	bool spam;
	const char *why;	/* substring, NULL = a reply is fine */
} rules[] = {
	{ "", NULL, false, NULL },
	{ "", "", false, "null envelope sender" },
	{ "", "MAILER-DAEMON@example.org", false, "mailer daemon" },
	{ "", "mailer-daemon@example.org", false, "mailer daemon" },
	{ "", "owner-list@example.org", false, "list" },
	{ "", "list-request@example.org", false, "list" },
	{ "", "LISTSERV@example.org", false, "list" },
	{ "", "majordomo@example.org", false, "list" },
	{ "", "bob@example.com", false, "from the user" },
	{ "", "BOB+work@example.com", false, "from the user" },
	{ "Auto-Submitted: auto-replied\n", NULL, false, "Auto-Submitted" },
	{ "Auto-Submitted: auto-generated (vacation)\n", NULL, false, "Auto-Submitted" },
	{ "Auto-Submitted: no\n", NULL, false, NULL },
	{ "Auto-Submitted: No (comment)\n", NULL, false, NULL },
	{ "Precedence: bulk\n", NULL, false, "Precedence" },
	{ "Precedence: LIST\n", NULL, false, "Precedence" },
	{ "Precedence: junk\n", NULL, false, "Precedence" },
	{ "Precedence: first-class\n", NULL, false, NULL },
	{ "List-Id: <x.example.org>\n", NULL, false, "List-" },
	{ "List-Unsubscribe: <mailto:u@x>\n", NULL, false, "List-" },
	{ "List-Post: NO\n", NULL, false, "List-" },
	{ "", NULL, true, "spam" },
};

START_TEST(refusal_rules)
{
	char text[1024];
	struct message *msg;
	struct vacation_request r;
	const char *why;

	snprintf(text, sizeof(text), "%s%s\nbody\n", BASE, rules[_i].extra);
	msg = message_parse(text, strlen(text));
	r = request(msg);
	if (rules[_i].sender != NULL)
		r.sender = rules[_i].sender;
	r.is_spam = rules[_i].spam;
	why = vacation_refusal(&r);
	if (rules[_i].why == NULL)
		ck_assert_msg(why == NULL, "case %d refused: %s", _i, why);
	else
		ck_assert_msg(why != NULL && strstr(why, rules[_i].why) != NULL,
			      "case %d: %s", _i, why != NULL ? why : "(sent)");
	message_free(&msg);
}
END_TEST

/* RFC 5230 4.5: only mail addressed to the user (To, Cc, Bcc and the
 * Resent- forms), by any of its addresses. */
START_TEST(refusal_not_to_me)
{
	static const struct {
		const char *header;
		bool to_me;
	} cases[] = {
		{ "To: bob@example.com\n", true },
		{ "To: \"Bob\" <BOB@Example.COM>\n", true },
		{ "Cc: x@y.org,\n bob@example.com\n", true },
		{ "Bcc: b.smith@example.com\n", true },
		{ "Resent-To: bob+work@example.com\n", true },
		{ "To: team@example.com\n", false },
		{ "To: jimbob@example.com\n", false },
		{ "To: bob@example.com.evil.org\n", false },
		{ "To: x.bob@example.com\n", false },
		{ "Reply-To: bob@example.com\n", false },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		char text[512];
		struct message *msg;
		struct vacation_request r;
		const char *why;

		snprintf(text, sizeof(text), "From: alice@example.org\n%s\nbody\n",
			 cases[i].header);
		msg = message_parse(text, strlen(text));
		r = request(msg);
		why = vacation_refusal(&r);
		ck_assert_msg((why == NULL) == cases[i].to_me, "%s: %s", ut_escs(cases[i].header),
			      why != NULL ? why : "(sent)");
		message_free(&msg);
	}
}
END_TEST

/* Mail to an alias (the ORCPT lmtpd adds to my_addresses) or to an
 * address of :addresses is addressed to the user; without them it is
 * not. */
START_TEST(refusal_alias)
{
	static const char text[] = "From: alice@example.org\nTo: Team <team@example.net>\n"
				   "\nbody\n";
	const char *with_alias[] = { "bob@example.com", NULL, "team@example.net" };
	struct message *msg = message_parse(text, strlen(text));
	struct vacation_request r = request(msg);
	const char *why = vacation_refusal(&r);

	ck_assert_msg(why != NULL && strstr(why, "not addressed") != NULL, "%s",
		      why != NULL ? why : "(sent)");
	r.my_addresses = with_alias;
	r.my_address_count = N_ELEMENTS(with_alias);
	why = vacation_refusal(&r);
	ck_assert_msg(why == NULL, "%s", why);
	/* The alias is the user too: no reply to mail from it. */
	r.sender = "TEAM@example.net";
	why = vacation_refusal(&r);
	ck_assert_msg(why != NULL && strstr(why, "from the user") != NULL, "%s",
		      why != NULL ? why : "(sent)");
	message_free(&msg);
}
END_TEST

/* The user's own address in another case is the user, UTF-8 too. */
START_TEST(refusal_user_folded)
{
	struct message *msg = message_parse(BASE "\n", strlen(BASE) + 1);
	struct vacation_request r = request(msg);
	const char *why;

	r.user = "j\xc3\xb6rg@example.com";
	r.sender = "J\xc3\x96RG@EXAMPLE.COM";
	why = vacation_refusal(&r);
	ck_assert_msg(why != NULL && strstr(why, "from the user") != NULL, "%s",
		      why != NULL ? why : "(reply)");
	r.sender = "J\xc3\xb6rgen@example.com";
	why = vacation_refusal(&r);
	ck_assert_msg(why == NULL || strstr(why, "from the user") == NULL, "%s", why);
	message_free(&msg);
}
END_TEST

/* ---- history ---- */

START_TEST(history_days)
{
	const char *dir = ut_testdir();
	struct vacation *v = vacation_new(dir, 60);
	struct message *msg = message_parse(BASE "\n", strlen(BASE) + 1);
	struct vacation_request r = request(msg);
	time_t t0 = 1700000000;

	ck_assert_int_eq(vacation_history_due(v, &r, t0), 1);
	ck_assert_int_eq(vacation_history_record(v, &r, t0), 0);
	/* Once per :days. */
	ck_assert_int_eq(vacation_history_due(v, &r, t0 + 1), 0);
	ck_assert_int_eq(vacation_history_due(v, &r, t0 + 7 * 86400 - 1), 0);
	ck_assert_int_eq(vacation_history_due(v, &r, t0 + 7 * 86400), 1);
	/* :days 1 for the same history. */
	r.days = 1;
	ck_assert_int_eq(vacation_history_due(v, &r, t0 + 86400 - 1), 0);
	ck_assert_int_eq(vacation_history_due(v, &r, t0 + 86400), 1);
	r.days = 7;
	/* The sender in another case is the same sender. */
	r.sender = "ALICE@Example.ORG";
	ck_assert_int_eq(vacation_history_due(v, &r, t0 + 1), 0);
	/* So is a UTF-8 one, folded as recipients are. */
	r.sender = "J\xc3\xbcrgen@b\xc3\xa4r.example";
	ck_assert_int_eq(vacation_history_record(v, &r, t0), 0);
	r.sender = "J\xc3\x9cRGEN@B\xc3\x84R.example";
	ck_assert_int_eq(vacation_history_due(v, &r, t0 + 1), 0);
	r = request(msg);
	/* Another sender, another handle, another user: separate. */
	r.sender = "carol@example.org";
	ck_assert_int_eq(vacation_history_due(v, &r, t0 + 1), 1);
	r = request(msg);
	r.handle = "auto:2";
	ck_assert_int_eq(vacation_history_due(v, &r, t0 + 1), 1);
	r = request(msg);
	r.user = "dave@example.com";
	ck_assert_int_eq(vacation_history_due(v, &r, t0 + 1), 1);
	vacation_free(&v);
	/* The history survives a new handle on the environment (another
	 * worker). */
	v = vacation_new(dir, 60);
	r = request(msg);
	ck_assert_int_eq(vacation_history_due(v, &r, t0 + 1), 0);
	vacation_free(&v);
	message_free(&msg);
}
END_TEST

/* History records (keys "user\0sender\0handle") whose sender starts with
 * prefix ("" = all). */
static unsigned int
count_records(const char *dir, const char *prefix)
{
	char *error = NULL;
	struct db_env *env = db_env_open(dir, &error);
	DB *db;
	DBC *cur;
	DBT k, d;
	unsigned int n = 0;

	ck_assert_msg(env != NULL, "%s", error);
	ck_assert_int_eq(db_env_open_db(env, "vacation.db", DB_BTREE, &db, &error), 0);
	ck_assert_int_eq(db->cursor(db, NULL, &cur, 0), 0);
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	while (cur->get(cur, &k, &d, DB_NEXT) == 0) {
		const char *key = k.data;
		const char *nul = memchr(key, '\0', k.size);
		size_t rest = nul != NULL ? k.size - (size_t)(nul + 1 - key) : 0;

		if (nul == NULL || memchr(nul + 1, '\0', rest) == NULL)
			continue;	/* not a history record */
		if (rest >= strlen(prefix) && memcmp(nul + 1, prefix, strlen(prefix)) == 0)
			n++;
	}
	cur->close(cur);
	db->close(db, 0);
	db_env_close(&env);
	return n;
}

/* Entries older than max_days go away as new ones are written. */
START_TEST(history_purge)
{
	const char *dir = ut_testdir();
	struct vacation *v = vacation_new(dir, 10);
	struct message *msg = message_parse(BASE "\n", strlen(BASE) + 1);
	struct vacation_request r = request(msg);
	char sender[64];
	time_t old = 1600000000, now = old + 30 * 86400;

	for (int i = 0; i < 100; i++) {
		snprintf(sender, sizeof(sender), "old%d@example.org", i);
		r.sender = sender;
		ck_assert_int_eq(vacation_history_record(v, &r, old), 0);
	}
	/* 256 writes in all trigger one purge. */
	for (int i = 100; i < 256; i++) {
		snprintf(sender, sizeof(sender), "new%d@example.org", i);
		r.sender = sender;
		ck_assert_int_eq(vacation_history_record(v, &r, now), 0);
	}
	vacation_free(&v);
	ck_assert_uint_eq(count_records(dir, ""), 156);
	message_free(&msg);
}
END_TEST

/* A purge walks a bounded number of entries, each one going on where the
 * last stopped: expired entries behind more than one walk's worth of
 * current ones go too. */
START_TEST(history_purge_reaches_all)
{
	const char *dir = ut_testdir();
	struct vacation *v = vacation_new(dir, 10);
	struct message *msg = message_parse(BASE "\n", strlen(BASE) + 1);
	struct vacation_request r = request(msg);
	char sender[64];
	time_t now = 1700000000, old = now - 30 * 86400;

	for (int i = 0; i < 1100; i++) {
		snprintf(sender, sizeof(sender), "aa%04d@example.org", i);
		r.sender = sender;
		ck_assert_int_eq(vacation_history_record(v, &r, now), 0);
	}
	for (int i = 0; i < 300; i++) {
		snprintf(sender, sizeof(sender), "zz%04d@example.org", i);
		r.sender = sender;
		ck_assert_int_eq(vacation_history_record(v, &r, old), 0);
	}
	ck_assert_uint_eq(count_records(dir, "zz"), 300);
	for (int i = 0; i < 2000; i++) {
		snprintf(sender, sizeof(sender), "aa%04d@example.org", i % 1100);
		r.sender = sender;
		ck_assert_int_eq(vacation_history_record(v, &r, now), 0);
	}
	vacation_free(&v);
	ck_assert_uint_eq(count_records(dir, "zz"), 0);
	ck_assert_uint_eq(count_records(dir, "aa"), 1100);
	message_free(&msg);
}
END_TEST

/* A database that can not be opened: -1 (no reply), never a crash, and
 * nothing stuck: it is tried again later. */
/* Another user of the environment in the same process (Bayes in a
 * worker) holds it open: vacation shares that handle (DB_REGISTER allows
 * one per process) instead of failing to open its own. */
START_TEST(history_shared_env)
{
	const char *dir = ut_testdir();
	char *error = NULL;
	struct db_env *other = db_env_open(dir, &error);
	struct vacation *v = vacation_new(dir, 60);
	struct message *msg = message_parse(BASE "\n", strlen(BASE) + 1);
	struct vacation_request r = request(msg);
	DB *db = NULL;

	ck_assert_msg(other != NULL, "%s", error);
	ck_assert_int_eq(vacation_history_due(v, &r, 1700000000), 1);
	ck_assert_int_eq(vacation_history_record(v, &r, 1700000000), 0);
	ck_assert_int_eq(vacation_history_due(v, &r, 1700000001), 0);
	vacation_free(&v);
	/* The other user's handle still works after vacation let go. */
	ck_assert_int_eq(db_env_open_db(other, "other.db", DB_BTREE, &db, &error), 0);
	ck_assert_int_eq(db->close(db, 0), 0);
	db_env_close(&other);
	ck_assert_ptr_null(other);
	message_free(&msg);
}
END_TEST

START_TEST(history_db_error)
{
	char path[PATH_MAX];
	struct vacation *v;
	struct message *msg = message_parse(BASE "\n", strlen(BASE) + 1);
	struct vacation_request r = request(msg);

	ut_pathf(path, sizeof(path), "%s/not-a-dir", ut_testdir());
	ut_write_text(path, "x");
	v = vacation_new(path, 60);
	ck_assert_int_eq(vacation_history_due(v, &r, 1700000000), -1);
	ck_assert_int_eq(vacation_history_record(v, &r, 1700000000), -1);
	vacation_free(&v);
	message_free(&msg);
}
END_TEST

/* ---- the reply ---- */

/* The reply of rep, composed into b (buf_free it) and parsed (free the
 * result). */
static struct message *
compose(const struct vacation_reply *rep, struct buf *b)
{
	buf_init(b, 0);
	vacation_compose(rep, b);
	return message_parse(b->data, b->len);
}

/* The value of msg's field name, which must be there. */
static const char *
header(const struct message *msg, const char *name, char *value, size_t size)
{
	const struct message_header *h = message_header_find(msg, name);

	ck_assert_msg(h != NULL, "no %s", name);
	message_header_value(msg, h, value, size);
	return value;
}

START_TEST(compose_plain)
{
	struct vacation_reply rep = { "bob@example.com", "alice@example.org",
				      "Re: Lunch?", "I am away\r\nuntil Monday.",
				      false, "<m1@example.org>", "<m0@example.org>",
				      "mx.example.com" };
	struct buf b;
	struct message *msg = compose(&rep, &b);
	char value[256];

#define HDR(name, want) ck_assert_str_eq(header(msg, name, value, sizeof(value)), want)
	HDR("From", "bob@example.com");
	HDR("To", "<alice@example.org>");
	HDR("Subject", "Re: Lunch?");
	HDR("Auto-Submitted", "auto-replied (vacation)");
	HDR("In-Reply-To", "<m1@example.org>");
	HDR("References", "<m0@example.org> <m1@example.org>");
	HDR("Content-Type", "text/plain; charset=utf-8");
#undef HDR
	ck_assert_ptr_nonnull(message_header_find(msg, "Date"));
	header(msg, "Message-ID", value, sizeof(value));
	ck_assert_msg(strstr(value, "@mx.example.com>") != NULL, "%s", value);
	ck_assert_str_eq(b.data + msg->body_offset, "I am away\nuntil Monday.\n");
	message_free(&msg);
	buf_free(&b);
}
END_TEST

START_TEST(compose_hostile_and_utf8)
{
	struct vacation_reply rep = { "bob@example.com\nBcc: victim@x.org", "alice@example.org",
				      "Grüße\r\nBcc: victim@x.org", "Weg.", false, NULL, NULL,
				      "mx.example.com" };
	struct buf b;
	struct message *msg = compose(&rep, &b);
	char value[512], *decoded;

	/* No header was injected. */
	ck_assert_ptr_null(message_header_find(msg, "Bcc"));
	ck_assert_ptr_null(message_header_find(msg, "In-Reply-To"));
	header(msg, "Subject", value, sizeof(value));
	/* Encoded as RFC 2047, and decodes back (line break as spaces). */
	ck_assert_msg(strncmp(value, "=?", 2) == 0, "%s", value);
	g_mime_init();
	decoded = g_mime_utils_header_decode_text(NULL, value);
	ck_assert_str_eq(decoded, "Grüße  Bcc: victim@x.org");
	g_free(decoded);
	message_free(&msg);
	buf_free(&b);
}
END_TEST

/* A subject past the 900 bytes kept is cut at a whole UTF-8 character,
 * so its RFC 2047 form decodes to valid text. */
START_TEST(compose_long_subject)
{
	char subject[2001], value[8192];
	struct vacation_reply rep = { "bob@example.com", "alice@example.org", subject,
				      "Weg.", false, NULL, NULL, "mx.example.com" };
	struct buf b;
	struct message *msg;
	char *decoded;

	/* "x" then 1000 "ä": byte 900 falls inside a character. */
	subject[0] = 'x';
	for (size_t i = 0; i < 1000; i++)
		memcpy(subject + 1 + 2 * i, "\xc3\xa4", 2);
	subject[2000] = '\0';
	msg = compose(&rep, &b);
	header(msg, "Subject", value, sizeof(value));
	/* RFC 2047: no line with encoded-words over 76 characters, no
	 * encoded-word over 75 */
	for (const char *line = strstr(b.data, "\nSubject:") + 1, *nl;; line = nl + 1) {
		nl = strchr(line, '\n');
		ck_assert_uint_le((size_t)(nl - line), 76);
		if (nl[1] != '\t')
			break;
	}
	/* Each encoded word decoded by hand (base64). */
	decoded = g_malloc0(sizeof(value));
	for (const char *p = value; (p = strstr(p, "=?utf-8?B?")) != NULL;) {
		const char *end = strstr(p + 10, "?=");
		gchar *word;
		guchar *bytes;
		gsize n;

		ck_assert_ptr_nonnull(end);
		ck_assert_uint_le((size_t)(end + 2 - p), 75);
		word = g_strndup(p + 10, (gsize)(end - p - 10));
		bytes = g_base64_decode(word, &n);
		ck_assert_uint_lt(strlen(decoded) + n, sizeof(value));
		strncat(decoded, (const char *)bytes, n);
		g_free(bytes);
		g_free(word);
		p = end + 2;
	}
	ck_assert_msg(strlen(decoded) == 899, "%zu %s", strlen(decoded), value);
	ck_assert(g_utf8_validate(decoded, -1, NULL));
	ck_assert_int_eq(strncmp(decoded, subject, 899), 0);
	g_free(decoded);
	message_free(&msg);
	buf_free(&b);
}
END_TEST

/* A reason with a line over 998 octets goes as quoted-printable (no
 * line over 76), and decodes back to the reason; a shorter one stays
 * 8bit. */
START_TEST(compose_long_reason_line)
{
	char *reason = g_strnfill(14000, 'w');
	struct vacation_reply rep = { "bob@example.com", "alice@example.org", "Away", NULL,
				      false, NULL, NULL, "mx.example.com" };
	struct buf b, want;
	struct message *msg;
	char value[256], *body, *decoded;
	GMimeEncoding dec;
	size_t n;

	memcpy(reason + 5000, "\r\nGr\xc3\xbc\xc3\x9f=e ", 11);
	rep.reason = reason;
	msg = compose(&rep, &b);
	ck_assert_str_eq(header(msg, "Content-Transfer-Encoding", value, sizeof(value)),
			 "quoted-printable");
	body = b.data + msg->body_offset;
	for (const char *line = body, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1)
		ck_assert_uint_le((size_t)(nl - line), 76);
	g_mime_init();
	g_mime_encoding_init_decode(&dec, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	decoded = g_malloc(g_mime_encoding_outlen(&dec, strlen(body)) + 1);
	n = g_mime_encoding_flush(&dec, body, strlen(body), decoded);
	buf_init(&want, 0);
	buf_put(&want, reason, 5000);
	buf_put_str(&want, "\n");
	buf_put(&want, reason + 5002, 14000 - 5002);
	buf_put_str(&want, "\n");
	ck_assert_uint_eq(n, want.len);
	ck_assert(memcmp(decoded, want.data, n) == 0);
	g_free(decoded);
	buf_free(&want);
	message_free(&msg);
	buf_free(&b);

	reason[998] = '\0';	/* 998 octets: 8bit */
	msg = compose(&rep, &b);
	ck_assert_str_eq(header(msg, "Content-Transfer-Encoding", value, sizeof(value)), "8bit");
	message_free(&msg);
	buf_free(&b);
	g_free(reason);
}
END_TEST

/* A long thread's References (folded in the original, so unfolded it is
 * one long line) is folded again: every id, in order, then the
 * original's Message-ID, and no line past 78 characters; a word no line
 * could hold is left out. */
START_TEST(compose_long_references)
{
	char refs[4096], value[8192], want[8192];
	struct vacation_reply rep = { "bob@example.com", "alice@example.org", "Re: x",
				      "Weg.", false, "<last@example.org>", refs,
				      "mx.example.com" };
	struct buf b;
	struct message *msg;
	size_t o = 0, w = 0;
	char *line, *save = NULL, *head;

	for (int i = 0; i < 40; i++) {
		o += (size_t)snprintf(refs + o, sizeof(refs) - o, "%s<id%02d.%s@example.org>",
				      i == 0 ? "" : i % 3 == 0 ? "\r\n\t" : " ", i,
				      "abcdefghijklmnopqrstuvwxyz0123");
		w += (size_t)snprintf(want + w, sizeof(want) - w, "<id%02d.%s@example.org> ", i,
				      "abcdefghijklmnopqrstuvwxyz0123");
		if (i == 20) {
			refs[o++] = ' ';
			memset(refs + o, 'x', 1000);
			o += 1000;
			refs[o] = '\0';
		}
	}
	snprintf(want + w, sizeof(want) - w, "<last@example.org>");
	msg = compose(&rep, &b);
	header(msg, "References", value, sizeof(value));
	/* Unfolded, the folds are "\t" where the words had a space. */
	for (char *p = value; *p != '\0'; p++)
		if (*p == '\t')
			*p = ' ';
	/* (Not ck_assert_str_eq: Check can not print strings this long.) */
	ck_assert_msg(strcmp(value, want) == 0, "References: %.200s...", value);
	head = g_strndup(b.data, msg->body_offset);
	for (line = strtok_r(head, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		ck_assert_msg(strlen(line) <= 78, "%zu: %s", strlen(line), line);
	g_free(head);
	message_free(&msg);
	buf_free(&b);
}
END_TEST

/* A References list longer than the reply keeps (4000 bytes) is cut at
 * a whole message-id: no id is left without its '>', and the original's
 * Message-ID still ends the list. */
START_TEST(compose_references_cut_whole)
{
	char refs[8192], value[8192];
	struct vacation_reply rep = { "bob@example.com", "alice@example.org", "Re: x",
				      "Weg.", false, "<last@example.org>", refs,
				      "mx.example.com" };
	struct buf b;
	struct message *msg;
	size_t o = 0;
	char *word, *save = NULL, *last = NULL;
	int words = 0;

	for (int i = 0; i < 120; i++)
		o += (size_t)snprintf(refs + o, sizeof(refs) - o, "%s<id%03d.%s@example.org>",
				      i == 0 ? "" : " ", i, "abcdefghijklmnopq");
	ck_assert_uint_gt(o, 4000);
	msg = compose(&rep, &b);
	header(msg, "References", value, sizeof(value));
	for (word = strtok_r(value, " \t", &save); word != NULL;
	     word = strtok_r(NULL, " \t", &save)) {
		ck_assert_msg(word[0] == '<' && word[strlen(word) - 1] == '>', "%s", word);
		last = word;
		words++;
	}
	ck_assert_ptr_nonnull(last);
	ck_assert_str_eq(last, "<last@example.org>");
	ck_assert_int_gt(words, 80);
	message_free(&msg);
	buf_free(&b);
}
END_TEST

/* A Message-ID cut on its way (over 900 bytes) is left out, not written
 * without its '>'; :from must be one mailbox. */
START_TEST(compose_cut_msgid_and_from)
{
	char id[1200];
	struct vacation_reply rep = { "bob@example.com", "alice@example.org", "s", "r",
				      false, id, NULL, "mx.example.com" };
	struct buf b;
	struct message *msg;

	id[0] = '<';
	memset(id + 1, 'x', 1000);
	memcpy(id + 1001, "@example.org", 13);
	g_mime_init();
	msg = compose(&rep, &b);
	ck_assert_ptr_null(message_header_find(msg, "In-Reply-To"));
	message_free(&msg);
	buf_free(&b);

	ck_assert(vacation_from_usable("bob@example.com"));
	ck_assert(vacation_from_usable("Bob Smith <bob@example.com>"));
	ck_assert(!vacation_from_usable("a@b.c, evil@x.net"));
	ck_assert(!vacation_from_usable("list: a@b.c, d@e.f;"));
	ck_assert(!vacation_from_usable("bob"));
	ck_assert(!vacation_from_usable("bob@example.com\nBcc: x@y"));
	ck_assert(!vacation_from_usable(""));
	ck_assert(!vacation_from_usable(NULL));
}
END_TEST

START_TEST(compose_mime)
{
	struct vacation_reply rep = { "bob@example.com", "alice@example.org", NULL,
				      "Content-Type: text/html\n\n<p>Away</p>", true, NULL, NULL,
				      "mx.example.com" };
	struct buf b;
	struct message *msg = compose(&rep, &b);
	char value[256];

	ck_assert_str_eq(header(msg, "Content-Type", value, sizeof(value)), "text/html");
	ck_assert_str_eq(header(msg, "Subject", value, sizeof(value)), "Automated reply");
	ck_assert_str_eq(b.data + msg->body_offset, "<p>Away</p>\n");
	message_free(&msg);
	buf_free(&b);
}
END_TEST

static Suite *
vacation_suite(void)
{
	Suite *s = suite_create("vacation");
	TCase *tc;

	tc = ut_tcase(s, "rules", false);
	tcase_add_loop_test(tc, refusal_rules, 0, N_ELEMENTS(rules));
	tcase_add_test(tc, refusal_not_to_me);
	tcase_add_test(tc, refusal_alias);
	tcase_add_test(tc, refusal_user_folded);
	tc = ut_tcase(s, "history", true);
	tcase_add_test(tc, history_days);
	tcase_add_test(tc, history_purge);
	tcase_add_test(tc, history_purge_reaches_all);
	tcase_add_test(tc, history_shared_env);
	tcase_add_test(tc, history_db_error);
	tc = ut_tcase(s, "compose", false);
	tcase_add_test(tc, compose_plain);
	tcase_add_test(tc, compose_hostile_and_utf8);
	tcase_add_test(tc, compose_long_subject);
	tcase_add_test(tc, compose_long_reason_line);
	tcase_add_test(tc, compose_long_references);
	tcase_add_test(tc, compose_references_cut_whole);
	tcase_add_test(tc, compose_mime);
	tcase_add_test(tc, compose_cut_msgid_and_from);
	return s;
}

int
main(void)
{
	return ut_run(vacation_suite);
}
