/* libFuzzer target: the config file (lib/cfg.c), as `lmtpd -t` and the
 * master's start and SIGHUP reload read it: cfg_load on the file, then
 * what the daemon does with a loaded config before any mail arrives
 * (cfg_print for `lmtpd -n`, the home/mail_location/sieve_script/
 * spam_prefs templates expanded for a recipient).  A config either
 * loads or is refused with "file:line: why"; nothing in it may crash,
 * hang or leak. */
#include "config.h"

#include <stdint.h>

#include "cfg.h"
#include "fuzz_msg.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *conf_path, *print_path, *dir;
static FILE *devnull;

/* cfg_print's text of cfg (malloc'd). */
static char *
printed(const struct lmtpd_config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		abort();
	cfg_print(cfg, f);
	if (fclose(f) != 0)
		abort();
	return text;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	dir = fuzz_tmpdir();
	if ((conf_path = malloc(4200)) == NULL)
		abort();
	snprintf(conf_path, 4200, "%s/lmtpd.conf", dir);
	if ((print_path = malloc(4200)) == NULL)
		abort();
	snprintf(print_path, 4200, "%s/printed.conf", dir);
	if ((devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lmtpd_config *cfg;
	char *error = NULL;

	fuzz_write(conf_path, data, size);
	cfg = cfg_load(conf_path, &error);
	if (cfg == NULL) {
		/* Refused: always with a "file:line: why" (or "file: why"). */
		if (error == NULL || strncmp(error, conf_path, strlen(conf_path)) != 0)
			abort();
		free(error);
		return 0;
	}
	if (error != NULL)
		abort();
	cfg_print(cfg, devnull);
	{
		/* What `lmtpd -n` prints is a config file that loads as the
		 * same configuration (an admin's way to start a new one). */
		char *text = printed(cfg), *again_text;
		struct lmtpd_config *again;

		fuzz_write(print_path, text, strlen(text));
		again = cfg_load(print_path, &error);
		if (again == NULL) {
			fprintf(stderr, "printed config refused: %s\n%s", error, text);
			abort();
		}
		again_text = printed(again);
		if (strcmp(text, again_text) != 0) {
			fprintf(stderr, "printed config differs:\n%s---\n%s", text, again_text);
			abort();
		}
		free(again_text);
		free(text);
		cfg_free(&again);
	}
	{
		struct cfg_template_vars v = { "user@example.com", "user", "example.com",
					       "/var/mail/example.com/user" };
		const char *tmpl[] = { cfg->home, cfg->mail_location, cfg->sieve_script,
				       cfg->spam_prefs };
		char out[4096];

		for (size_t i = 0; i < sizeof(tmpl) / sizeof(tmpl[0]); i++)
			if (tmpl[i] != NULL)
				(void)!cfg_expand(tmpl[i], &v, out, sizeof(out));
	}
	cfg_free(&cfg);
	if (cfg != NULL)
		abort();
	return 0;
}
