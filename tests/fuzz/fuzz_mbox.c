/* libFuzzer target: an mbox file (or a plain message file) through
 * scoring_mbox_init/next, as lmtpd-score and lmtpd-learn read what they
 * are given, and through msgsource's reader for an mbox too big to read
 * whole (msgsource_walk_mbox_stream, included from msgsource.c: it is
 * static).
 *
 * Checked: every message returned lies inside the input, or is the
 * unquoted copy the reader holds; the messages of the input come in order
 * and do not overlap; their total length never exceeds the input's;
 * scoring_mbox_count agrees with the calls to next(); a file that is no
 * mbox is one message, itself; and for an mbox of several messages the
 * streaming reader gives the same messages, in the same order. */
#include "../../scoring/msgsource.c"

#include <sys/mman.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_mbox_msgs {
	char **data;
	size_t *len;
	size_t count, next;
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int
fuzz_mbox_streamed(const char *name, const char *data, size_t len, void *ctx)
{
	struct fuzz_mbox_msgs *m = ctx;

	(void)name;
	if (m->next >= m->count || m->len[m->next] != len ||
	    (len > 0 && memcmp(m->data[m->next], data, len) != 0))
		abort();
	m->next++;
	return 0;
}

static void
fuzz_mbox_err(const char *path, const char *why)
{
	(void)path;
	(void)why;
	/* no message of a fuzz input is over 50 MB, and a memfd reads */
	abort();
}

/* The streaming reader on the same bytes must give msgs. */
static void
fuzz_mbox_stream(const char *data, size_t size, struct fuzz_mbox_msgs *msgs)
{
	int fd = memfd_create("fuzz_mbox", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	msgs->next = 0;
	if (msgsource_walk_mbox_stream("fuzz", fd, fuzz_mbox_streamed, msgs, fuzz_mbox_err) != 0)
		abort();
	if (msgs->next != msgs->count)
		abort();
	(void)close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *udata, size_t size)
{
	const char *data = (const char *)udata, *in_end = data + size, *prev_end = data;
	struct scoring_mbox mb;
	struct fuzz_mbox_msgs msgs = { NULL, NULL, 0, 0 };
	const char *msg;
	size_t len, total = 0, cap = 0;
	unsigned int count;
	bool is_mbox;

	count = scoring_mbox_count(data, size);
	scoring_mbox_init(&mb, data, size);
	is_mbox = mb.is_mbox;
	while (scoring_mbox_next(&mb, &msg, &len)) {
		if (msg >= data && msg <= in_end) {
			if (len > (size_t)(in_end - msg) || msg < prev_end)
				abort();
			prev_end = msg + len;
		} else if (mb.copy == NULL || msg != mb.copy) {
			abort();
		}
		total += len;
		if (total > size)
			abort();
		if (!is_mbox && (msg != data || len != size))
			abort();
		if (msgs.count == cap) {
			cap = cap * 2 + 8;
			msgs.data = xrealloc(msgs.data, cap * sizeof(*msgs.data));
			msgs.len = xrealloc(msgs.len, cap * sizeof(*msgs.len));
		}
		msgs.data[msgs.count] = xmalloc(len + 1);
		if (len > 0)
			memcpy(msgs.data[msgs.count], msg, len);
		msgs.len[msgs.count++] = len;
	}
	scoring_mbox_free(&mb);
	if (msgs.count != count)
		abort();
	if (!is_mbox && msgs.count != (size > 0 ? 1u : 0u))
		abort();
	/* One message alone is the whole file after its "From " line there,
	 * but one of several in the stream: compare mboxes of several. */
	if (is_mbox && msgs.count > 1)
		fuzz_mbox_stream(data, size, &msgs);
	for (size_t i = 0; i < msgs.count; i++)
		free(msgs.data[i]);
	free(msgs.data);
	free(msgs.len);
	return 0;
}
