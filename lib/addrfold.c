/* addrfold: case folding of address parts (GLib's Unicode tables). */
#include "config.h"

#include <glib.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addrfold.h"
#include "xalloc.h"

char *
addr_casefold(const char *s)
{
	bool ascii = true;
	char *out;

	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			ascii = false;
	if (!ascii && g_utf8_validate(s, -1, NULL)) {
		gchar *folded = g_utf8_casefold(s, -1);

		/* copied so callers free it with free(), not g_free() */
		out = xstrdup(folded);
		g_free(folded);
		return out;
	}
	out = xstrdup(s);
	for (char *p = out; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + ('a' - 'A'));
	return out;
}

bool
addr_casefold_equal(const char *a, const char *b)
{
	char *fa, *fb;
	bool same;

	if (strcasecmp(a, b) == 0)
		return true;
	fa = addr_casefold(a);
	fb = addr_casefold(b);
	same = strcmp(fa, fb) == 0;
	free(fa);
	free(fb);
	return same;
}
