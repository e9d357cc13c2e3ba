/* lmtpd-map FILE...: compiles each text users map into FILE.db, as postmap
 * does; the daemon picks up the new .db at its next lookup. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usermap.h"

int
main(int argc, char **argv)
{
	int status = 0;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		/* asked for: on stdout, and no error */
		bool asked = argc >= 2;

		fprintf(asked ? stdout : stderr, "usage: lmtpd-map FILE...\n"
			"Compiles the text users map FILE into FILE.db.\n");
		return asked ? 0 : 2;
	}
	for (int i = 1; i < argc; i++) {
		char *error;

		if (usermap_compile(argv[i], &error) < 0) {
			fprintf(stderr, "lmtpd-map: %s\n", error);
			free(error);
			status = 1;
		}
	}
	return status;
}
