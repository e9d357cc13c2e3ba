/* delivery_report: the RFC 3464 "delivered" report for NOTIFY=SUCCESS
 * (delivery_report.c says why lmtpd sends it). */
#ifndef LMTPD_DELIVERY_REPORT_H
#define LMTPD_DELIVERY_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct buf;

struct delivery_report_rcpt {
	const char *addr;	/* as given in RCPT TO */
	const char *orcpt;	/* ORCPT=, decoded; NULL if none */
	bool relayed;		/* handed on (a Sieve redirect), not stored */
};

struct delivery_report {
	const char *hostname;
	const char *queue_id;
	const char *sender;	/* the envelope sender: who gets the report */
	const char *envid;	/* ENVID=, decoded (printable ASCII); NULL or "" if none */
	bool ret_full;		/* RET=FULL: the whole message, if small enough */
	time_t arrival;
	const struct delivery_report_rcpt *rcpts;
	size_t rcpt_count;
	const char *message;	/* as received, LF line ends */
	size_t message_size;
};

/* Appends the report (LF line ends) to out. A sender, recipient or ORCPT
 * with non-ASCII characters makes it RFC 6533's global form. */
void delivery_report_compose(const struct delivery_report *r, struct buf *out);

#endif
