/* delivery_report: the "delivered" delivery status notification (RFC 3461
 * 5.2.2, RFC 3464) for recipients whose RCPT asked for NOTIFY=SUCCESS.
 * lmtpd offers DSN, so an MTA that relays to it (Postfix) passes NOTIFY on
 * and leaves the success report to the final hop: without this nobody
 * would send it. One report per transaction, to the envelope sender, from
 * the null sender, through `submission`, as Postfix's own reports are. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "delivery_report.h"
#include "message.h"
#include "utf8.h"

/* As Postfix's bounce_size_limit: the original text a report carries at
 * most. RET=FULL for a larger message returns its header only. */
#define DELIVERY_REPORT_RETURN_MAX 50000

static bool
delivery_report_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* The length of the header in data (LF line ends), its fields without
 * the empty line that ends it; the whole message if it has none. */
static size_t
delivery_report_header_len(const char *data, size_t size)
{
	const char *p = data, *end = data + size;

	if (size > 0 && data[0] == '\n')
		return 0;
	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		p++;
		if (p < end && *p == '\n')
			return (size_t)(p - data);
	}
	return size;
}

/* A cut on a line boundary at most max bytes into data. */
static size_t
delivery_report_cut(const char *data, size_t size, size_t max)
{
	if (size <= max)
		return size;
	while (max > 0 && data[max - 1] != '\n')
		max--;
	return max;
}

static void
delivery_report_address(struct buf *out, const char *field, const char *addr)
{
	buf_putf(out, "%s: %s; %s\n", field,
		 delivery_report_ascii(addr) ? "rfc822" : "utf-8", addr);
}

void
delivery_report_compose(const struct delivery_report *r, struct buf *out)
{
	size_t head = delivery_report_header_len(r->message, r->message_size);
	bool full = r->ret_full && r->message_size <= DELIVERY_REPORT_RETURN_MAX;
	size_t returned = full ? r->message_size
			       : delivery_report_cut(r->message, head, DELIVERY_REPORT_RETURN_MAX);
	bool global = !delivery_report_ascii(r->sender);
	char date[64], boundary[96];

	for (size_t i = 0; i < r->rcpt_count; i++)
		global = global || !delivery_report_ascii(r->rcpts[i].addr) ||
			 (r->rcpts[i].orcpt != NULL && !delivery_report_ascii(r->rcpts[i].orcpt));
	message_format_date(date, sizeof(date), time(NULL));
	/* A boundary the returned text does not hold: the queue id is unique,
	 * and a counter settles the rest. */
	for (unsigned int n = 0;; n++) {
		snprintf(boundary, sizeof(boundary), "%s.%u/%s", r->queue_id, n, r->hostname);
		if (memmem(r->message, returned, boundary, strlen(boundary)) == NULL)
			break;
	}

	buf_putf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\n", r->hostname);
	buf_putf(out, "To: <%s>\n", r->sender);
	buf_put_str(out, "Subject: Successful Mail Delivery Report\n");
	buf_putf(out, "Date: %s\n", date);
	buf_putf(out, "Message-ID: <%s.report@%s>\n", r->queue_id, r->hostname);
	buf_put_str(out, "Auto-Submitted: auto-replied\n");
	buf_put_str(out, "MIME-Version: 1.0\n");
	buf_putf(out, "Content-Type: multipart/report; report-type=%s;\n"
		 "\tboundary=\"%s\"\n",
		 global ? "global-delivery-status" : "delivery-status", boundary);
	buf_put_str(out, "Content-Transfer-Encoding: 8bit\n\n");
	buf_put_str(out, "This is a MIME-encapsulated message.\n\n");

	buf_putf(out, "--%s\n", boundary);
	buf_put_str(out, "Content-Description: Notification\n"
		    "Content-Type: text/plain; charset=utf-8\n\n");
	buf_putf(out, "This is the mail system at host %s.\n\n", r->hostname);
	buf_put_str(out, "Your message was successfully delivered to the destination(s)\n"
		    "listed below. If the message was delivered to a mailbox you will\n"
		    "receive no further notifications.\n\n");
	for (size_t i = 0; i < r->rcpt_count; i++)
		buf_putf(out, "<%s>: %s\n", r->rcpts[i].addr, r->rcpts[i].relayed ?
			 "forwarded by the recipient's filter; no further notifications" :
			 "delivered to mailbox");
	buf_put_str(out, "\n");

	buf_putf(out, "--%s\n", boundary);
	buf_putf(out, "Content-Description: Delivery report\n"
		 "Content-Type: message/%s\n\n",
		 global ? "global-delivery-status" : "delivery-status");
	buf_putf(out, "Reporting-MTA: dns; %s\n", r->hostname);
	buf_putf(out, "X-Lmtpd-Queue-ID: %s\n", r->queue_id);
	/* RFC 3461 6.3 a: decoded from its xtext (lmtp_proto took only
	 * printable ASCII, as RFC 3461 4.4 asks of it) */
	if (r->envid != NULL && r->envid[0] != '\0')
		buf_putf(out, "Original-Envelope-Id: %s\n", r->envid);
	buf_putf(out, "Arrival-Date: %s\n", message_format_date(date, sizeof(date), r->arrival));
	for (size_t i = 0; i < r->rcpt_count; i++) {
		buf_put_str(out, "\n");
		delivery_report_address(out, "Final-Recipient", r->rcpts[i].addr);
		if (r->rcpts[i].orcpt != NULL)
			delivery_report_address(out, "Original-Recipient", r->rcpts[i].orcpt);
		buf_putf(out, "Action: %s\nStatus: 2.0.0\n",
			 r->rcpts[i].relayed ? "relayed" : "delivered");
	}
	buf_put_str(out, "\n");

	buf_putf(out, "--%s\n", boundary);
	if (full)
		buf_putf(out, "Content-Description: Delivered Message\n"
			 "Content-Type: message/%s\n\n", global ? "global" : "rfc822");
	else
		buf_putf(out, "Content-Description: Message Headers\n"
			 "Content-Type: %s\n\n",
			 global ? "message/global-headers" : "text/rfc822-headers");
	buf_put(out, r->message, returned);
	if (returned > 0 && r->message[returned - 1] != '\n')
		buf_put_str(out, "\n");
	buf_putf(out, "\n--%s--\n", boundary);
}
