/* redirect_dup: the redirect duplicate database (see redirect_dup.h), a
 * stamp_db of the times redirects were sent. Its keys are 32 bytes, so
 * none is stamp_db's purge position. */
#include "config.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addrfold.h"
#include "message.h"
#include "redirect_dup.h"
#include "stamp_db.h"
#include "xalloc.h"

#define REDIRECT_DUP_DB "redirect.db"

struct redirect_dup {
	struct stamp_db *sent;
};

struct redirect_dup *
redirect_dup_new(const char *state_dir)
{
	struct redirect_dup *d = xcalloc(1, sizeof(*d));

	d->sent = stamp_db_new(state_dir, REDIRECT_DUP_DB, "redirect",
			       "no duplicate check for redirects");
	return d;
}

void
redirect_dup_free(struct redirect_dup **dp)
{
	struct redirect_dup *d = *dp;

	if (d == NULL)
		return;
	stamp_db_free(&d->sent);
	free(d);
	*dp = NULL;
}

static void
redirect_dup_add(GChecksum *sum, const char *s)
{
	/* each part ends with a NUL: "ab"+"c" is not "a"+"bc" */
	g_checksum_update(sum, (const guchar *)s, (gssize)strlen(s) + 1);
}

static void
redirect_dup_add_field(GChecksum *sum, const struct message *msg, const char *name)
{
	const struct message_header *h = message_header_find(msg, name);
	char value[1024] = "";

	if (h != NULL)
		message_header_value(msg, h, value, sizeof(value));
	redirect_dup_add(sum, value);
}

void
redirect_dup_key(const struct message *msg, const char *rcpt, const char *target,
		 unsigned char key[REDIRECT_DUP_KEY_SIZE])
{
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
	char *folded;
	gsize len = REDIRECT_DUP_KEY_SIZE;

	if (message_header_find(msg, "Resent-Message-ID") != NULL) {
		redirect_dup_add(sum, "resent");
		redirect_dup_add_field(sum, msg, "Resent-Message-ID");
		redirect_dup_add_field(sum, msg, "Resent-From");
	} else if (message_header_find(msg, "Message-ID") != NULL) {
		redirect_dup_add(sum, "message-id");
		redirect_dup_add_field(sum, msg, "Message-ID");
	} else {
		unsigned char body[REDIRECT_DUP_KEY_SIZE];
		gsize blen = sizeof(body);
		GChecksum *whole = g_checksum_new(G_CHECKSUM_SHA256);

		g_checksum_update(whole, (const guchar *)msg->data, (gssize)msg->size);
		g_checksum_get_digest(whole, body, &blen);
		g_checksum_free(whole);
		redirect_dup_add(sum, "sha256");
		g_checksum_update(sum, body, (gssize)blen);
	}
	folded = addr_casefold(rcpt);
	redirect_dup_add(sum, folded);
	free(folded);
	folded = addr_casefold(target);
	redirect_dup_add(sum, folded);
	free(folded);
	g_checksum_get_digest(sum, key, &len);
	g_checksum_free(sum);
}

int
redirect_dup_seen(struct redirect_dup *d, const unsigned char *key, time_t now)
{
	uint64_t sent_at;
	int found = stamp_db_get(d->sent, key, REDIRECT_DUP_KEY_SIZE, &sent_at);

	if (found < 0)
		return -1;
	return found > 0 && (uint64_t)now < sent_at + REDIRECT_DUP_SECS ? 1 : 0;
}

int
redirect_dup_record(struct redirect_dup *d, const unsigned char *key, time_t now)
{
	return stamp_db_put(d->sent, key, REDIRECT_DUP_KEY_SIZE, now, REDIRECT_DUP_SECS);
}
