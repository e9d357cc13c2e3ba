/* libFuzzer target: an LMTP session (lmtp_proto.c) and the recipient
 * addresses it hands on (rcpt.c's rcpt_parse), as the worker drives them.
 * The first input byte chooses how the rest is fed (its low 4 bits: bytes
 * per write, 0 = all at once) and how the "server" answers (bit 4: refuse
 * every RCPT, bit 5: refuse DATA, bit 6: let replies pile up rather than
 * read them at once); the rest is what the client sends. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "dsn.h"
#include "lmtp_proto.h"
#include "rcpt.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lmtpd_config *cfg;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *error = NULL;

	(void)argc;
	(void)argv;
	if ((cfg = cfg_load(NULL, &error)) == NULL)
		abort();
	return 0;
}

struct fz {
	struct lmtp_proto *p;
	bool refuse_rcpt, refuse_data, lazy;
	unsigned int accepted;
	bool closed;
};

static void
fz_drain(struct fz *f)
{
	size_t len;

	(void)lmtp_proto_output(f->p, &len);
	lmtp_proto_output_consume(f->p, len);
}

static void
fz_pump(struct fz *f)
{
	for (;;) {
		struct lmtp_event ev = lmtp_proto_next(f->p);

		switch (ev.type) {
		case LMTP_EV_NONE:
			/* the real worker sends replies when told nothing
			 * more can happen until it does */
			if (f->lazy) {
				size_t len;

				(void)lmtp_proto_output(f->p, &len);
				if (len > 0) {
					fz_drain(f);
					continue;
				}
			}
			return;
		case LMTP_EV_MAIL:
			lmtp_proto_mail_reply(f->p, true, "250 2.1.0 OK");
			break;
		case LMTP_EV_RCPT: {
			struct rcpt r;
			struct dsn dsn;
			bool ok;

			memset(&r, 0, sizeof(r));
			ok = rcpt_parse(cfg, ev.rcpt->addr, &r, &dsn) == 0;
			free(r.user);
			free(r.local);
			free(r.domain);
			free(r.detail);
			free(r.canonical);
			ok = ok && !f->refuse_rcpt;
			lmtp_proto_rcpt_reply(f->p, ok, ok ? "250 2.1.5 OK" : "550 5.1.1 No");
			if (ok)
				f->accepted++;
			break;
		}
		case LMTP_EV_DATA_START:
			lmtp_proto_data_reply(f->p, !f->refuse_data,
					      f->refuse_data ? "451 4.3.0 Later" : NULL);
			break;
		case LMTP_EV_DATA_END:
			for (; f->accepted > 0; f->accepted--)
				lmtp_proto_final_reply(f->p, "250 2.0.0 Saved");
			break;
		case LMTP_EV_LHLO:
		case LMTP_EV_RSET:
			f->accepted = 0;
			break;
		case LMTP_EV_CLOSE:
			f->closed = true;
			return;
		case LMTP_EV_RCPT_REFUSED:
		case LMTP_EV_DATA_CHUNK:
			break;
		}
		if (!f->lazy)
			fz_drain(f);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lmtp_proto_settings set = {
		.hostname = "mx.example.org",
		.max_message_size = 4096,
		.max_recipients = 5,
		.max_errors = 10,
	};
	struct fz f;
	size_t step, off = 1;

	if (size == 0)
		return 0;
	memset(&f, 0, sizeof(f));
	step = data[0] & 0x0f;
	f.refuse_rcpt = (data[0] & 0x10) != 0;
	f.refuse_data = (data[0] & 0x20) != 0;
	f.lazy = (data[0] & 0x40) != 0;
	f.p = lmtp_proto_new(&set);
	while (off < size && !f.closed) {
		size_t space, n;
		char *in = lmtp_proto_input_space(f.p, &space);

		if (space == 0) {
			fz_pump(&f);
			if (f.closed)
				break;
			fz_drain(&f);
			in = lmtp_proto_input_space(f.p, &space);
			/* input buffered, no decision owed, output read: the
			 * engine must have made room */
			if (space == 0)
				abort();
		}
		n = size - off;
		if (step != 0 && n > step)
			n = step;
		if (n > space)
			n = space;
		memcpy(in, data + off, n);
		lmtp_proto_input_commit(f.p, n);
		off += n;
		fz_pump(&f);
	}
	if (!f.closed) {
		lmtp_proto_input_eof(f.p);
		fz_pump(&f);
	}
	fz_drain(&f);
	lmtp_proto_free(&f.p);
	return 0;
}
