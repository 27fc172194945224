/*
 * where.c: "file:line: what: problem" messages.
 */
#include "config.h"

#include <stdlib.h>

#include "where.h"
#include "xmalloc.h"

char *
where_vfmt(const char *file, unsigned line, const char *what,
    const char *fmt, va_list ap)
{
	char *msg, *out;

	xvasprintf(&msg, fmt, ap);
	xasprintf(&out, "%s:%u: %s: %s", file, line, what, msg);
	free(msg);
	return out;
}

char *
where_fmt(const char *file, unsigned line, const char *what,
    const char *fmt, ...)
{
	va_list ap;
	char *out;

	va_start(ap, fmt);
	out = where_vfmt(file, line, what, fmt, ap);
	va_end(ap);
	return out;
}
