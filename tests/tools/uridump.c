/* uridump: runs uri_collect() on the inputs tests/tools/sa_uris.pl dumped
 * from SpamAssassin, so scoring/uri.c can be compared with get_uri_list()
 * in isolation.
 *
 * usage: uridump [-r RULES_DIR] [-o OUTDIR] FILE.in...
 *
 * RULES_DIR (default /usr/share/spamassassin): its *.cf files give the
 * util_rb_tld, util_rb_2tld, util_rb_3tld and redirector_pattern lines.
 * FILE.in: "B <line>" body lines and "H <uri>" HTML URIs, escaped (\\ \n
 * \r \0).  Prints "U <uri>" per URI, sorted bytewise, to stdout or to
 * OUTDIR/NAME.c for FILE NAME.in. */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sa_settings.h"
#include "strlist.h"
#include "uri.h"
#include "xalloc.h"

static int
load_rules(struct sa_settings *set, const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);

	if (n < 0) {
		perror(dir);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]->d_name);
		char path[4096], line[65536];
		FILE *f;

		if (len < 4 || strcmp(names[i]->d_name + len - 3, ".cf") != 0) {
			free(names[i]);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		free(names[i]);
		if ((f = fopen(path, "r")) == NULL) {
			perror(path);
			continue;
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			char *p = line, *key, *value, *e;
			const char *why = NULL;

			p += strspn(p, " \t");
			if (strncmp(p, "util_rb_", 8) != 0 && strncmp(p, "redirector_pattern", 18) != 0)
				continue;
			key = p;
			p += strcspn(p, " \t\r\n");
			if (*p == '\0')
				continue;
			*p++ = '\0';
			value = p + strspn(p, " \t");
			e = value + strlen(value);
			while (e > value && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' ||
					     e[-1] == '\t'))
				*--e = '\0';
			if (sa_settings_apply(set, key, value, &why) < 0)
				fprintf(stderr, "%s: %s: %s\n", path, key, why);
		}
		fclose(f);
	}
	free(names);
	return 0;
}

static size_t
unescape(char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len) {
			char c = s[++i];

			s[o++] = c == 'n' ? '\n' : c == 'r' ? '\r' : c == '0' ? '\0' : c;
		} else
			s[o++] = s[i];
	}
	return o;
}

static void
put_escaped(FILE *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		switch (s[i]) {
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\0': fputs("\\0", out); break;
		default: putc(s[i], out);
		}
}

static int
item_cmp(const void *a, const void *b)
{
	const struct strlist_item *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->p, y->p, n);

	return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

static int
run_file(const struct sa_settings *set, const char *path, const char *outdir)
{
	struct strlist body, html, out;
	FILE *f = fopen(path, "r"), *o = stdout;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	strlist_init(&body);
	strlist_init(&html);
	strlist_init(&out);
	while ((n = getline(&line, &cap, f)) > 0) {
		size_t len = (size_t)n;

		if (line[len - 1] == '\n')
			len--;
		if (len < 2 || line[1] != ' ')
			continue;
		len = 2 + unescape(line + 2, len - 2);
		if (line[0] == 'B')
			strlist_add(&body, line + 2, len - 2);
		else if (line[0] == 'H')
			strlist_add(&html, line + 2, len - 2);
	}
	free(line);
	fclose(f);

	uri_collect(set, &body, &html, &out, NULL);
	if (out.n > 1)
		qsort(out.v, out.n, sizeof(*out.v), item_cmp);

	if (outdir != NULL) {
		const char *base = strrchr(path, '/');
		char opath[4096];
		size_t bl;

		base = base != NULL ? base + 1 : path;
		bl = strlen(base);
		if (bl > 3 && strcmp(base + bl - 3, ".in") == 0)
			bl -= 3;
		snprintf(opath, sizeof(opath), "%s/%.*s.c", outdir, (int)bl, base);
		if ((o = fopen(opath, "w")) == NULL) {
			perror(opath);
			return -1;
		}
	}
	for (size_t i = 0; i < out.n; i++) {
		fputs("U ", o);
		put_escaped(o, out.v[i].p, out.v[i].len);
		putc('\n', o);
	}
	if (o != stdout && fclose(o) != 0) {
		perror("fclose");
		return -1;
	}
	strlist_free(&body);
	strlist_free(&html);
	strlist_free(&out);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *rules = "/usr/share/spamassassin", *outdir = NULL;
	struct sa_settings set;
	int opt, ret = 0;

	while ((opt = getopt(argc, argv, "r:o:")) != -1)
		switch (opt) {
		case 'r': rules = optarg; break;
		case 'o': outdir = optarg; break;
		default:
			fprintf(stderr, "usage: uridump [-r RULES_DIR] [-o OUTDIR] FILE.in...\n");
			return 2;
		}
	sa_settings_init(&set);
	if (load_rules(&set, rules) < 0)
		return 1;
	for (int i = optind; i < argc; i++)
		if (run_file(&set, argv[i], outdir) < 0)
			ret = 1;
	sa_settings_free(&set);
	return ret;
}
