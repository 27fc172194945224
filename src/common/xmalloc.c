/*
 * xmalloc.c: allocation wrappers that abort on out of memory.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xmalloc.h"

/*
 * Out of memory: nothing sensible can be done, say so and stop.  The
 * program's own name (glibc's, set from argv[0]) heads the line, so the
 * daemon, proxypoolctl and the tests each speak for themselves.
 */
static void __attribute__((noreturn))
xmalloc_fatal(size_t size)
{
	char msg[160];
	int n;

	n = snprintf(msg, sizeof msg, "%s: out of memory (%zu bytes)\n",
	    program_invocation_short_name, size);
	if (n >= (int)sizeof msg)
		n = (int)sizeof msg - 1;	/* a long name: cut, not over-read */
	if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
		abort();
	abort();
}

void *
xmalloc(size_t size)
{
	void *p;

	if ((p = malloc(size ? size : 1)) == NULL)
		xmalloc_fatal(size);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p;

	if ((p = calloc(n ? n : 1, size ? size : 1)) == NULL)
		xmalloc_fatal(n * size);
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	void *q;

	if (size != 0 && n > SIZE_MAX / size)
		xmalloc_fatal(SIZE_MAX);
	if ((q = realloc(p, n * size != 0 ? n * size : 1)) == NULL)
		xmalloc_fatal(n * size);
	return q;
}

char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		xmalloc_fatal(strlen(s) + 1);
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p;

	if ((p = strndup(s, n)) == NULL)
		xmalloc_fatal(n + 1);
	return p;
}

int
xvasprintf(char **out, const char *fmt, va_list ap)
{
	int n;

	if ((n = vasprintf(out, fmt, ap)) < 0)
		xmalloc_fatal(strlen(fmt));
	return n;
}

int
xasprintf(char **out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = xvasprintf(out, fmt, ap);
	va_end(ap);
	return n;
}
