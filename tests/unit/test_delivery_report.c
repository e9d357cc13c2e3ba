/* Unit tests for lmtpd/delivery_report: the RFC 3464 "delivered" report's
 * fields, what of the message it returns (RET), its global form for UTF-8
 * addresses, and a boundary the returned text does not hold. */
#include "config.h"

#include "check_compat.h"

#include "buf.h"
#include "delivery_report.h"
#include "xalloc.h"

static const char message[] =
	"From: <bob@example.org>\nSubject: hello\nMessage-ID: <m1@example.org>\n\n"
	"The body.\n";

static char *
compose(const struct delivery_report *r)
{
	struct buf out;
	char *text;

	buf_init(&out, 0);
	delivery_report_compose(r, &out);
	text = xmalloc(out.len + 1);
	memcpy(text, out.data, out.len);
	text[out.len] = '\0';
	buf_free(&out);
	return text;
}

/* The text of the MIME part whose Content-Type is type, up to the next
 * boundary line. */
static char *
part(const char *text, const char *type)
{
	char needle[128];
	const char *start, *end;

	snprintf(needle, sizeof(needle), "Content-Type: %s\n\n", type);
	start = strstr(text, needle);
	ck_assert_msg(start != NULL, "no %s part in:\n%s", type, text);
	start += strlen(needle);
	end = strstr(start, "\n--");
	ck_assert(end != NULL);
	return xstrndup(start, (size_t)(end - start));
}

START_TEST(report_fields)
{
	const struct delivery_report_rcpt rcpts[] = {
		{ "alice@example.com", NULL, false },
		{ "bob+lists@example.com", "info@example.net", false },
		{ "carol@example.com", NULL, true },
	};
	struct delivery_report r = { "mx.example.com", "6B02A0628F0644D2",
				     "bob@example.org", "id+42 =x", false, 1700000000,
				     rcpts, 3, message, sizeof(message) - 1 };
	char *text = compose(&r), *status, *returned;

	ck_assert_ptr_nonnull(strstr(text, "\nTo: <bob@example.org>\n"));
	ck_assert_ptr_nonnull(strstr(text, "From: Mail Delivery System "
				     "<MAILER-DAEMON@mx.example.com>\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nAuto-Submitted: auto-replied\n"));
	ck_assert_ptr_nonnull(strstr(text, "Content-Type: multipart/report; "
				     "report-type=delivery-status;\n\tboundary=\""));
	ck_assert_ptr_nonnull(strstr(text, "<alice@example.com>: delivered to mailbox\n"
				     "<bob+lists@example.com>: delivered to mailbox\n"
				     "<carol@example.com>: forwarded by the recipient's filter; "
				     "no further notifications\n"));
	status = part(text, "message/delivery-status");
	ck_assert_ptr_nonnull(strstr(status, "Reporting-MTA: dns; mx.example.com\n"));
	/* RFC 3461 6.3: the ENVID as decoded from its xtext. */
	ck_assert_ptr_nonnull(strstr(status, "Original-Envelope-Id: id+42 =x\n"));
	ck_assert_ptr_nonnull(strstr(status, "Arrival-Date: "));
	ck_assert_ptr_nonnull(strstr(status,
		"\n\nFinal-Recipient: rfc822; alice@example.com\n"
		"Action: delivered\nStatus: 2.0.0\n\n"
		"Final-Recipient: rfc822; bob+lists@example.com\n"
		"Original-Recipient: rfc822; info@example.net\n"
		"Action: delivered\nStatus: 2.0.0\n\n"
		"Final-Recipient: rfc822; carol@example.com\n"
		"Action: relayed\nStatus: 2.0.0\n"));
	/* No RET: the header only. */
	returned = part(text, "text/rfc822-headers");
	ck_assert_str_eq(returned, "From: <bob@example.org>\nSubject: hello\n"
			 "Message-ID: <m1@example.org>\n");
	ck_assert_ptr_null(strstr(text, "The body."));
	free(returned);
	free(status);
	free(text);
}
END_TEST

START_TEST(report_ret_full)
{
	const struct delivery_report_rcpt rcpts[] = { { "alice@example.com", NULL, false } };
	struct delivery_report r = { "mx.example.com", "Q1", "bob@example.org", NULL, true,
				     1700000000, rcpts, 1, message, sizeof(message) - 1 };
	char *text = compose(&r), *returned;
	size_t big_size = 60000;
	char *big = xmalloc(big_size);

	returned = part(text, "message/rfc822");
	ck_assert_str_eq(returned, message);
	ck_assert_ptr_null(strstr(text, "Original-Envelope-Id"));
	free(returned);
	free(text);

	/* Past 50,000 bytes, as Postfix's bounce_size_limit: the header only. */
	memset(big, 'x', big_size);
	memcpy(big, "Subject: big\n\n", 14);
	big[big_size - 1] = '\n';
	r.message = big;
	r.message_size = big_size;
	text = compose(&r);
	ck_assert_ptr_null(strstr(text, "message/rfc822"));
	returned = part(text, "text/rfc822-headers");
	ck_assert_str_eq(returned, "Subject: big\n");
	free(returned);
	free(text);
	free(big);
}
END_TEST

START_TEST(report_global_for_utf8)
{
	const struct delivery_report_rcpt rcpts[] = {
		{ "j\xc3\xb6rg@example.com", "info@example.net", false } };
	struct delivery_report r = { "mx.example.com", "Q2", "bob@example.org", NULL, false,
				     1700000000, rcpts, 1, message, sizeof(message) - 1 };
	char *text = compose(&r), *status;

	ck_assert_ptr_nonnull(strstr(text, "report-type=global-delivery-status;"));
	status = part(text, "message/global-delivery-status");
	ck_assert_ptr_nonnull(strstr(status, "Final-Recipient: utf-8; j\xc3\xb6rg@example.com\n"
				     "Original-Recipient: rfc822; info@example.net\n"));
	free(status);
	ck_assert_ptr_nonnull(strstr(text, "Content-Type: message/global-headers\n"));
	free(text);
}
END_TEST

START_TEST(report_boundary_not_in_message)
{
	static const char tricky[] = "Subject: Q3.0/mx.example.com\n\n--Q3.0/mx.example.com\n";
	const struct delivery_report_rcpt rcpts[] = { { "alice@example.com", NULL, false } };
	struct delivery_report r = { "mx.example.com", "Q3", "bob@example.org", NULL, true,
				     1700000000, rcpts, 1, tricky, sizeof(tricky) - 1 };
	char *text = compose(&r);

	ck_assert_ptr_nonnull(strstr(text, "boundary=\"Q3.1/mx.example.com\""));
	ck_assert_ptr_nonnull(strstr(text, "\n--Q3.1/mx.example.com--\n"));
	free(text);
}
END_TEST

static Suite *
delivery_report_suite(void)
{
	Suite *s = suite_create("delivery_report");
	TCase *tc = ut_tcase(s, "compose", false);

	tcase_add_test(tc, report_fields);
	tcase_add_test(tc, report_ret_full);
	tcase_add_test(tc, report_global_for_utf8);
	tcase_add_test(tc, report_boundary_not_in_message);
	return s;
}

int
main(void)
{
	return ut_run(delivery_report_suite);
}
