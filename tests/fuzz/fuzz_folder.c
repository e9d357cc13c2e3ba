/* libFuzzer target: a Sieve fileinto folder name to its Maildir++
 * directory (maildir_name_to_disk, as pipeline_sieve.c calls it with
 * folder_separator '.' or '/'; the first input byte picks it), and the
 * way back (maildir_name_from_disk, modified UTF-7 both ways).
 *
 * The name is hostile (a user's script).  Checked on every accepted
 * name: the result is "" (INBOX) or ".L1.L2..." with no empty level, at
 * most MAILDIR_FOLDER_DISK_MAX bytes of printable ASCII without '/', so
 * it is one directory entry inside the Maildir, never "." or "..", and
 * never one of the Maildir's own entries (tmp, new, cur, ...); it decodes
 * back to the name (INBOX's case aside), and encoding that again gives
 * the same directory.  Random modified UTF-7 is decoded too, and what
 * decodes encodes back to the same bytes. */
#include "config.h"

#include <stdint.h>
#include <strings.h>

#include "fuzz_msg.h"
#include "maildir_name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_disk(const char *name, char sep, const char *disk)
{
	size_t len = strlen(disk);
	char back[4 * MAILDIR_FOLDER_NAME_MAX + 8], again[MAILDIR_FOLDER_DISK_SIZE];
	const char *why;

	if (len > MAILDIR_FOLDER_DISK_MAX)
		abort();
	if (len == 0) {
		if (strcasecmp(name, "INBOX") != 0)
			abort();
		return;
	}
	if (disk[0] != '.' || disk[len - 1] == '.' || strstr(disk, "..") != NULL)
		abort();
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)disk[i] < 0x20 || (unsigned char)disk[i] > 0x7e || disk[i] == '/' || disk[i] == '*' ||
		    disk[i] == '%')
			abort();
	if (maildir_name_from_disk(disk, sep, back, sizeof(back)) != 0)
		abort();
	/* Only "INBOX" as the first level may change (its case). */
	if (strcmp(back, name) != 0 &&
	    !(strncasecmp(name, "INBOX", 5) == 0 && name[5] == sep &&
	      strncmp(back, "INBOX", 5) == 0 && strcmp(back + 5, name + 5) == 0))
		abort();
	if (maildir_name_to_disk(back, sep, again, sizeof(again), &why) != 0 ||
	    strcmp(again, disk) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[2 * MAILDIR_FOLDER_NAME_MAX + 2], disk[MAILDIR_FOLDER_DISK_SIZE];
	char utf8[4 * MAILDIR_FOLDER_DISK_SIZE], mutf7[sizeof(name)];
	const char *why = NULL;
	char sep;
	int n;

	if (size == 0)
		return 0;
	sep = (data[0] & 1) ? '/' : '.';
	data++;
	size--;
	if (size > sizeof(name) - 1)
		size = sizeof(name) - 1;
	/* Sieve strings can not hold NUL; the name stops at the first one
	 * as it would in the action list. */
	memcpy(name, data, size);
	name[size] = '\0';
	if (maildir_name_to_disk(name, sep, disk, sizeof(disk), &why) == 0) {
		if (why != NULL)
			abort();
		check_disk(name, sep, disk);
	} else if (why == NULL || disk[0] != '\0') {
		abort();
	}
	/* A small output buffer: refused, never overrun. */
	{
		char small[8];

		if (maildir_name_to_disk(name, sep, small, sizeof(small), &why) == 0 &&
		    strlen(small) >= sizeof(small))
			abort();
	}
	/* The input as on-disk modified UTF-7. */
	n = maildir_mutf7_decode((const char *)data, size, utf8, sizeof(utf8));
	if (n >= 0) {
		int m = maildir_mutf7_encode(utf8, (size_t)n, mutf7, sizeof(mutf7));

		if (m < 0 || (size_t)m != size || memcmp(mutf7, data, size) != 0)
			abort();
	}
	/* And as a whole on-disk name. */
	if (size > 0 && data[0] == '.' && memchr(data, '\0', size) == NULL)
		(void)!maildir_name_from_disk(name, sep, utf8, sizeof(utf8));
	return 0;
}
