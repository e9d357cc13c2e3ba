/* mvdump: prints the views msgview builds for one message, in the format
 * tests/tools/sa_views.pl prints SpamAssassin's (tests/tools/cmp_views.py
 * compares the two):
 *
 *   B <line>                  each body line (msgview_body)
 *   R <paragraph>             each rawbody item (msgview_rawbody)
 *   G <req> TAB <0|1> TAB <v> msgview_get() for each -g request
 *   M <n> TAB <req> TAB <0|1> TAB <v>
 *                             msgview_part_get() for each part and -m request
 *   H <uri>                   each raw URI HTML.pm collected
 *   U <uri>                   each URI of msgview_uris()
 *
 * Strings are escaped: backslash, LF, CR and NUL as \\ \n \r \0.  An mbox
 * "From " first line is dropped before the message is viewed.
 *
 * usage: mvdump [--cf FILE]... [-e ENVFROM] [-g REQ]... [-m REQ]...
 *               [-s SECTIONS] MESSAGE...
 * --cf reads SpamAssassin configuration lines (util_rb_tld and the other
 * settings sa_settings_apply() knows; everything else is ignored);
 * -s limits the output to the given section letters (default "BRGMHU").
 * With several messages, each is preceded by "== PATH". */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "msgview.h"
#include "sa_settings.h"
#include "xalloc.h"

static void
esc(FILE *f, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (p[i]) {
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\0':
			fputs("\\0", f);
			break;
		default:
			fputc(p[i], f);
		}
	}
}

static void
read_cf(struct sa_settings *set, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL) {
		fprintf(stderr, "mvdump: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		char *p = line, *hash, *key, *val;
		const char *why = NULL;

		/* comments: an unescaped # */
		for (hash = p; (hash = strchr(hash, '#')) != NULL; hash++)
			if (hash == p || hash[-1] != '\\') {
				*hash = '\0';
				break;
			}
		while (*p == ' ' || *p == '\t')
			p++;
		size_t l = strlen(p);
		while (l > 0 && (p[l - 1] == '\n' || p[l - 1] == '\r' || p[l - 1] == ' ' ||
				 p[l - 1] == '\t'))
			p[--l] = '\0';
		if (*p == '\0')
			continue;
		key = p;
		val = p + strcspn(p, " \t");
		if (*val != '\0') {
			*val++ = '\0';
			val += strspn(val, " \t");
		}
		if (sa_settings_apply(set, key, val, &why) < 0)
			fprintf(stderr, "mvdump: %s: %s %s: %s\n", path, key, val,
				why != NULL ? why : "bad value");
	}
	free(line);
	fclose(f);
}

static char *
slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[65536];
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "mvdump: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf_init(&b, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&b, chunk, n) < 0)
			break;
	fclose(f);
	if (b.data == NULL && buf_append(&b, "", 0) < 0)
		return NULL;
	return buf_steal(&b, len_r);
}

int
main(int argc, char **argv)
{
	struct sa_settings set;
	const char **greq = NULL, **mreq = NULL;
	size_t ng = 0, nm = 0;
	const char *envfrom = NULL, *sections = "BRGMHU";
	int i, status = 0, nfiles;

	msgview_global_init();
	sa_settings_init(&set);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--cf") == 0 && i + 1 < argc) {
			read_cf(&set, argv[++i]);
		} else if (strcmp(argv[i], "-g") == 0 && i + 1 < argc) {
			greq = xreallocarray(greq, ng + 1, sizeof(*greq));
			greq[ng++] = argv[++i];
		} else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) {
			mreq = xreallocarray(mreq, nm + 1, sizeof(*mreq));
			mreq[nm++] = argv[++i];
		} else if (strcmp(argv[i], "-e") == 0 && i + 1 < argc) {
			envfrom = argv[++i];
		} else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
			sections = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "usage: mvdump [--cf FILE]... [-e ENVFROM] [-g REQ]... "
				"[-m REQ]... [-s SECTIONS] MESSAGE...\n");
			return 2;
		} else {
			break;
		}
	}
	nfiles = argc - i;
	if (nfiles <= 0) {
		fprintf(stderr, "mvdump: no message\n");
		return 2;
	}
	for (; i < argc; i++) {
		size_t len, off = 0;
		char *data = slurp(argv[i], &len);
		struct msgview *mv;
		struct buf out;

		if (data == NULL) {
			status = 1;
			continue;
		}
		if (len >= 5 && memcmp(data, "From ", 5) == 0) {
			const char *nl = memchr(data, '\n', len);

			off = nl != NULL ? (size_t)(nl - data) + 1 : len;
		}
		if (nfiles > 1)
			printf("== %s\n", argv[i]);
		mv = msgview_new(&set, data + off, len - off, envfrom);
		buf_init(&out, 0);
		if (strchr(sections, 'B') != NULL) {
			const struct strlist *l = msgview_body(mv);

			for (size_t k = 0; k < l->n; k++) {
				fputs("B ", stdout);
				esc(stdout, l->v[k].p, l->v[k].len);
				fputc('\n', stdout);
			}
		}
		if (strchr(sections, 'R') != NULL) {
			const struct strlist *l = msgview_rawbody(mv);

			for (size_t k = 0; k < l->n; k++) {
				fputs("R ", stdout);
				esc(stdout, l->v[k].p, l->v[k].len);
				fputc('\n', stdout);
			}
		}
		if (strchr(sections, 'G') != NULL) {
			for (size_t k = 0; k < ng; k++) {
				bool found;

				buf_reset(&out);
				found = msgview_get(mv, greq[k], &out);
				printf("G %s\t%d\t", greq[k], found ? 1 : 0);
				esc(stdout, out.data != NULL ? out.data : "", out.len);
				fputc('\n', stdout);
			}
		}
		if (strchr(sections, 'M') != NULL) {
			size_t parts = msgview_part_count(mv);

			for (size_t p = 0; p < parts; p++)
				for (size_t k = 0; k < nm; k++) {
					bool found;

					buf_reset(&out);
					found = msgview_part_get(mv, p, mreq[k], &out);
					printf("M %zu\t%s\t%d\t", p + 1, mreq[k], found ? 1 : 0);
					esc(stdout, out.data != NULL ? out.data : "", out.len);
					fputc('\n', stdout);
				}
		}
		if (strchr(sections, 'H') != NULL) {
			const struct strlist *l = msgview_html_uris(mv);

			for (size_t k = 0; k < l->n; k++) {
				fputs("H ", stdout);
				esc(stdout, l->v[k].p, l->v[k].len);
				fputc('\n', stdout);
			}
		}
		if (strchr(sections, 'U') != NULL) {
			const struct strlist *l = msgview_uris(mv);

			for (size_t k = 0; k < l->n; k++) {
				fputs("U ", stdout);
				esc(stdout, l->v[k].p, l->v[k].len);
				fputc('\n', stdout);
			}
		}
		buf_free(&out);
		msgview_free(&mv);
		free(data);
	}
	sa_settings_free(&set);
	free(greq);
	free(mreq);
	return status;
}
