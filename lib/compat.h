/* Compiler annotations shared by every module. */
#ifndef LMTPD_COMPAT_H
#define LMTPD_COMPAT_H

#define ATTR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ATTR_WUR __attribute__((warn_unused_result))
#define ATTR_NORETURN __attribute__((noreturn))
#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

#endif
