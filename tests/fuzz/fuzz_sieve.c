/* libFuzzer target: a user's Sieve script, as the daemon handles it
 * (sieve_run with a fresh runner, so every input is read, validated and
 * then run, never answered from the validation cache): the script read
 * with its size limit, libsieve's validation, the rewritten text for
 * execution (sieve_text.c: flag helpers, command markers, the end
 * sentinel), the callbacks on a fixed message (sieve_view.c: headers,
 * addresses, subaddress), the budgets, the serialized result and its
 * parser (sieve_sequence.c, sieve_actions.c).  It runs inline (no
 * sandbox), so a crash inside libsieve shows here too; in the daemon
 * that costs an implicit keep, not the worker.  The actions are then
 * checked as pipeline_sieve.c would take them: a folder either maps to
 * a Maildir++ name or is refused. */
#include "config.h"

#include <stdint.h>

#include "fuzz_msg.h"
#include "maildir_name.h"
#include "sieve_actions.h"
#include "sieve_run.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *script_path, *dir;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	dir = fuzz_tmpdir();
	if ((script_path = malloc(4200)) == NULL)
		abort();
	snprintf(script_path, 4200, "%s/dovecot.sieve", dir);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char added[] = "X-Spam-Flag: YES\nX-Spam-Score: 7\n";
	struct sieve_settings set = {
		.before = NULL,
		.after = NULL,
		.max_script_size = 1024 * 1024,
		.max_actions = 32,
		.max_redirects = 4,
		.max_cpu_time = 2,
		.vacation_max_days = 30,
		.sandbox = false,
		.user_log = false,
		.max_memory = 0,
	};
	struct iovec iov[2] = {
		{ (void *)added, sizeof(added) - 1 },
		{ (void *)fuzz_message, sizeof(fuzz_message) - 1 },
	};
	struct sieve_msg msg = {
		.iov = iov,
		.iovcnt = 2,
		.size = sizeof(added) - 1 + sizeof(fuzz_message) - 1,
		.env_from = "a@example.com",
		.env_to = "b+detail@example.net",
		.recipient_delimiter = "+",
	};
	struct sieve_runner *runner;
	struct sieve_actions *a;

	fuzz_write(script_path, data, size);
	runner = sieve_runner_new(&set);
	a = sieve_run(runner, script_path, &msg);
	if (a == NULL || a->count == 0)
		abort();	/* never fails: at least the implicit keep */
	for (size_t i = 0; i < a->count; i++) {
		const struct sieve_action *x = &a->v[i];
		char disk[MAILDIR_FOLDER_DISK_SIZE];
		const char *why;

		/* sieve_actions.h's invariants: a reject stands alone, a
		 * folder is stored once. */
		if (x->kind == SIEVE_ACT_REJECT && a->count != 1)
			abort();
		for (size_t j = 0; j < i && x->folder != NULL; j++)
			if (a->v[j].folder != NULL && strcmp(a->v[j].folder, x->folder) == 0)
				abort();

		if ((x->kind == SIEVE_ACT_KEEP || x->kind == SIEVE_ACT_FILEINTO) &&
		    x->folder != NULL &&
		    maildir_name_to_disk(x->folder, '.', disk, sizeof(disk), &why) == 0 &&
		    (strchr(disk, '/') != NULL || (disk[0] != '\0' && disk[0] != '.')))
			abort();
	}
	sieve_actions_free(&a);
	sieve_runner_free(&runner);
	return 0;
}
