/* Unit tests for sieve/redirect_dup: what the key is made of, and the
 * records in a real Berkeley DB environment in a temporary folder. */
#include "config.h"

#include "check_compat.h"

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

static Suite *
redirect_dup_suite(void)
{
	Suite *s = suite_create("redirect_dup");
	TCase *tc = ut_tcase(s, "key", false);

	tcase_add_test(tc, key_parts);
	tc = ut_tcase(s, "records", true);
	tcase_add_test(tc, records_expire);
	return s;
}

int
main(void)
{
	return ut_run(redirect_dup_suite);
}
