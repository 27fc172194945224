/*
 * xmalloc.h: allocation that never returns NULL, for proxypoold and
 * proxypoolctl alike: out of memory, the program says so and aborts
 * instead of carrying half-built state around.
 */
#ifndef XMALLOC_H
#define XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void	*xmalloc(size_t size);
void	*xcalloc(size_t n, size_t size);
void	*xreallocarray(void *p, size_t n, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
int	 xasprintf(char **out, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	 xvasprintf(char **out, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));

#endif /* XMALLOC_H */
