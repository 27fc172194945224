/*
 * where.h: the "file:line: what: problem" form of every error about a
 * line of a file: proxypoold's configuration ("what" is the setting) and
 * proxies files, proxypoolctl's list files ("what" is the proxy URL).
 * One formatter, so the form (which tests and scripts parse) cannot
 * drift between them.
 */
#ifndef WHERE_H
#define WHERE_H

#include <stdarg.h>

/* A new string "file:line: what: " then fmt; the caller frees. */
char	*where_fmt(const char *file, unsigned line, const char *what,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
char	*where_vfmt(const char *file, unsigned line, const char *what,
	    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

#endif /* WHERE_H */
