/* Case folding of address parts, for lookups, paths and database names:
 * one mailbox whatever case the sender wrote it in. */
#ifndef LMTPD_ADDRFOLD_H
#define LMTPD_ADDRFOLD_H

#include <stdbool.h>

/* A new string: s with ASCII letters lowercased and, when s is valid
 * UTF-8 with non-ASCII characters (SMTPUTF8), Unicode full case folding
 * (CaseFolding.txt C+F, locale-independent: "Élève" and "ÉLÈVE" give
 * "élève", "Straße" gives "strasse"), as Postfix's casefold() does for
 * its lookups with smtputf8_enable.  No normalization: a decomposed
 * "é" stays another string than a precomposed one, as in Postfix.
 * Invalid UTF-8 only has its ASCII lowercased (callers refuse it). */
char *addr_casefold(const char *s);
/* Whether a and b are the same once both are case-folded. */
bool addr_casefold_equal(const char *a, const char *b);

#endif
