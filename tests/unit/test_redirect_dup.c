/* Unit tests for sieve/redirect_dup: what the key is made of, and the
 * records in a real Berkeley DB environment in a temporary folder. */
#include "config.h"

#include "check_compat.h"

#include "dbenv.h"
#include "message.h"
#include "redirect_dup.h"

#define HDRS "From: <alice@example.org>\nSubject: hi\n"

static void
key_of(const char *text, const char *rcpt, const char *target,
       unsigned char key[REDIRECT_DUP_KEY_SIZE])
{
	struct message *msg = message_parse(text, strlen(text));

	redirect_dup_key(msg, rcpt, target, key);
	message_free(&msg);
}

#define SAME(a, b) (memcmp((a), (b), REDIRECT_DUP_KEY_SIZE) == 0)

START_TEST(key_parts)
{
	unsigned char k1[REDIRECT_DUP_KEY_SIZE], k2[REDIRECT_DUP_KEY_SIZE];

	/* Message-ID, recipient and target; the rest of the message not. */
	key_of(HDRS "Message-ID: <m1@x>\n\nbody\n", "bob@example.com", "c@example.net", k1);
	key_of("Message-ID: <m1@x>\n\nother body\n", "bob@example.com", "C@Example.NET", k2);
	ck_assert(SAME(k1, k2));
	key_of(HDRS "Message-ID: <m2@x>\n\nbody\n", "bob@example.com", "c@example.net", k2);
	ck_assert(!SAME(k1, k2));
	key_of(HDRS "Message-ID: <m1@x>\n\nbody\n", "dave@example.com", "c@example.net", k2);
	ck_assert(!SAME(k1, k2));
	key_of(HDRS "Message-ID: <m1@x>\n\nbody\n", "bob@example.com", "d@example.net", k2);
	ck_assert(!SAME(k1, k2));
	/* A resent message is another sending. */
	key_of(HDRS "Message-ID: <m1@x>\nResent-Message-ID: <r1@x>\nResent-From: <b@x>\n\n"
	       "body\n", "bob@example.com", "c@example.net", k2);
	ck_assert(!SAME(k1, k2));
	/* No Message-ID: the message's bytes. */
	key_of(HDRS "\nbody\n", "bob@example.com", "c@example.net", k1);
	key_of(HDRS "\nbody\n", "bob@example.com", "c@example.net", k2);
	ck_assert(SAME(k1, k2));
	key_of(HDRS "\nbody!\n", "bob@example.com", "c@example.net", k2);
	ck_assert(!SAME(k1, k2));
}
END_TEST

START_TEST(records_expire)
{
	const char *dir = ut_testdir();
	struct redirect_dup *d = redirect_dup_new(dir);
	unsigned char k1[REDIRECT_DUP_KEY_SIZE], k2[REDIRECT_DUP_KEY_SIZE];
	time_t t0 = 1800000000;

	key_of(HDRS "Message-ID: <m1@x>\n\n", "bob@example.com", "c@example.net", k1);
	key_of(HDRS "Message-ID: <m1@x>\n\n", "bob@example.com", "d@example.net", k2);
	ck_assert_int_eq(redirect_dup_seen(d, k1, t0), 0);
	ck_assert_int_eq(redirect_dup_record(d, k1, t0), 0);
	ck_assert_int_eq(redirect_dup_seen(d, k1, t0 + 1), 1);
	ck_assert_int_eq(redirect_dup_seen(d, k2, t0 + 1), 0);
	ck_assert_int_eq(redirect_dup_seen(d, k1, t0 + REDIRECT_DUP_SECS - 1), 1);
	ck_assert_int_eq(redirect_dup_seen(d, k1, t0 + REDIRECT_DUP_SECS), 0);
	/* kept across processes: another handle on the same environment */
	redirect_dup_free(&d);
	d = redirect_dup_new(dir);
	ck_assert_int_eq(redirect_dup_seen(d, k1, t0 + 1), 1);
	redirect_dup_free(&d);
	ck_assert_ptr_null(d);
}
END_TEST

/* The records of redirect.db whose key starts with byte first. */
static unsigned int
count_records(const char *dir, unsigned char first)
{
	char *error = NULL;
	struct db_env *env = db_env_open(dir, &error);
	DB *db;
	DBC *cur;
	DBT k, d;
	unsigned int n = 0;

	ck_assert_msg(env != NULL, "%s", error);
	ck_assert_int_eq(db_env_open_db(env, "redirect.db", DB_BTREE, &db, &error), 0);
	ck_assert_int_eq(db->cursor(db, NULL, &cur, 0), 0);
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	while (cur->get(cur, &k, &d, DB_NEXT) == 0)
		if (k.size == REDIRECT_DUP_KEY_SIZE && ((unsigned char *)k.data)[0] == first)
			n++;
	cur->close(cur);
	db->close(db, 0);
	db_env_close(&env);
	return n;
}

/* Records older than a day go however many newer ones sort before them:
 * each purge looks at a bounded number of records, going on where the
 * last one stopped (it once started over at the first key every time,
 * so past its bound nothing was ever removed). */
START_TEST(records_purged_past_the_first)
{
	const char *dir = ut_testdir();
	struct redirect_dup *d = redirect_dup_new(dir);
	unsigned char key[REDIRECT_DUP_KEY_SIZE];
	time_t now = 1800000000, old = now - 3 * REDIRECT_DUP_SECS;

	memset(key, 0, sizeof(key));
	for (unsigned int i = 0; i < 1100; i++) {
		key[0] = 0x00;
		key[1] = (unsigned char)(i >> 8);
		key[2] = (unsigned char)i;
		ck_assert_int_eq(redirect_dup_record(d, key, now), 0);
	}
	for (unsigned int i = 0; i < 300; i++) {
		key[0] = 0xff;
		key[1] = (unsigned char)(i >> 8);
		key[2] = (unsigned char)i;
		ck_assert_int_eq(redirect_dup_record(d, key, old), 0);
	}
	ck_assert_uint_eq(count_records(dir, 0xff), 300);
	for (unsigned int i = 0; i < 2000; i++) {
		key[0] = 0x00;
		key[1] = (unsigned char)((i % 1100) >> 8);
		key[2] = (unsigned char)(i % 1100);
		ck_assert_int_eq(redirect_dup_record(d, key, now), 0);
	}
	redirect_dup_free(&d);
	ck_assert_uint_eq(count_records(dir, 0xff), 0);
	ck_assert_uint_eq(count_records(dir, 0x00), 1100);
}
END_TEST

static Suite *
redirect_dup_suite(void)
{
	Suite *s = suite_create("redirect_dup");
	TCase *tc = ut_tcase(s, "key", false);

	tcase_add_test(tc, key_parts);
	tc = ut_tcase(s, "records", true);
	tcase_add_test(tc, records_expire);
	tcase_add_test(tc, records_purged_past_the_first);
	return s;
}

int
main(void)
{
	return ut_run(redirect_dup_suite);
}
