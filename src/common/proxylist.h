/*
 * proxylist.h: the proxies file format, read by proxypoold (a pool's
 * proxies_file) and proxypoolctl ("add POOL -f FILE"): one proxy a line,
 * "URL [priority=N] [expires=S]", blank lines and # comments skipped;
 * and the duplicate check both run on the proxies read.
 */
#ifndef PROXYLIST_H
#define PROXYLIST_H

#include <stdbool.h>
#include <stddef.h>

#define PROXYLIST_PRIORITY_MAX	1000000		/* |priority=N| at most */
#define PROXYLIST_EXPIRES_MAX	315360000	/* expires=S at most, s: RA_TTL_MAX
					 * of redis_allocator.h (asserted in
					 * src/daemon/conf.c), for programs
					 * that do not use the library */

/* What is wrong with a line. */
enum proxylist_error {
	PROXYLIST_OK,
	PROXYLIST_NUL,		/* a NUL byte in the line */
	PROXYLIST_PRIORITY,	/* priority=N not an integer in bounds */
	PROXYLIST_EXPIRES,	/* expires=S not seconds in bounds */
	PROXYLIST_WORD		/* a word that is neither */
};

/* One line, parsed in place: the pointers are into the line. */
struct proxylist_line {
	char		*url;		/* the URL as written, NULL when the
					   line holds none */
	bool		 has_priority;	/* priority=N was given */
	long		 priority;	/* its value */
	const char	*expires_text;	/* expires=S as written, or NULL */
	double		 expires;	/* its value, 0 when not given */
	const char	*bad;		/* the offending word on an error */
};

/*
 * Parse one line of len bytes (as getline read it, NULs included) in
 * place; the last priority= and expires= win.  Returns PROXYLIST_OK, with
 * l->url NULL for a blank or comment line, or what is wrong (l->bad the
 * word).  The URL itself is not checked here: see proxyurl.h.
 */
enum proxylist_error proxylist_parse(char *line, size_t len,
	    struct proxylist_line *l);

/*
 * A new string saying what is wrong: terse ("bad priority x") after the
 * setting name of proxypoold's configuration errors, or explained ("bad
 * priority 'x' (an integer, -1000000 to 1000000)") after the URL in
 * proxypoolctl's.
 */
char	*proxylist_strerror(enum proxylist_error e,
	    const struct proxylist_line *l, bool explain);

/*
 * Find the proxies listed twice among n keys (normalised URLs, in
 * reading order): first[i] is set to the index of the earliest key equal
 * to keys[i], i itself for a key seen first.  Returns how many keys are
 * repeats.  O(n log n): lists hold many thousands of proxies.
 */
size_t	 proxylist_dups(const char *const *keys, size_t n, size_t *first);

#endif /* PROXYLIST_H */
