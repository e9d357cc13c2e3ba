/* Runs a harness's inputs (files named on the command line) one after
 * the other in one process, without libFuzzer: linked with a harness and
 * the plain (gcc, no sanitizer) build, so valgrind can watch libraries
 * ASan does not see into, such as libsieve (see README.md). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
	static uint8_t buf[1 << 20];

	(void)LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		size_t n;

		if (f == NULL) {
			perror(argv[i]);
			return 1;
		}
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		fprintf(stderr, "replay: %s\n", argv[i]);
		(void)LLVMFuzzerTestOneInput(buf, n);
	}
	return 0;
}
