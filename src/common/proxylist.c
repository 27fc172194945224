/*
 * proxylist.c: the proxies file format: one proxy a line, "URL
 * [priority=N] [expires=S]", blank lines and # comments skipped; and the
 * duplicate check.  proxypoold and proxypoolctl read such files with this
 * one parser, so a file proxypoolctl accepts is one the daemon accepts.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "proxylist.h"
#include "xmalloc.h"

/* What separates the words of a line. */
#define PROXYLIST_BLANKS	" \t\r\n"

enum proxylist_error
proxylist_parse(char *line, size_t len, struct proxylist_line *l)
{
	char *tok, *save, *e;
	long v;
	double d;

	memset(l, 0, sizeof *l);
	/* a NUL would silently cut the line short */
	if (memchr(line, '\0', len) != NULL)
		return PROXYLIST_NUL;
	/* a comment runs from '#' to the end of the line */
	if ((e = strchr(line, '#')) != NULL)
		*e = '\0';
	if ((l->url = strtok_r(line, PROXYLIST_BLANKS, &save)) == NULL)
		return PROXYLIST_OK;
	while ((tok = strtok_r(NULL, PROXYLIST_BLANKS, &save)) != NULL) {
		l->bad = tok;
		if (strncmp(tok, "priority=", 9) == 0) {
			errno = 0;
			v = strtol(tok + 9, &e, 10);
			if (errno != 0 || *e != '\0' || e == tok + 9 ||
			    v < -PROXYLIST_PRIORITY_MAX ||
			    v > PROXYLIST_PRIORITY_MAX)
				return PROXYLIST_PRIORITY;
			l->has_priority = true;
			l->priority = v;
		} else if (strncmp(tok, "expires=", 8) == 0) {
			errno = 0;
			d = strtod(tok + 8, &e);
			if (errno != 0 || *e != '\0' || e == tok + 8 ||
			    !isfinite(d) || d < 0 || d > PROXYLIST_EXPIRES_MAX)
				return PROXYLIST_EXPIRES;
			l->expires_text = tok + 8;
			l->expires = d;
		} else
			return PROXYLIST_WORD;
	}
	l->bad = NULL;
	return PROXYLIST_OK;
}

char *
proxylist_strerror(enum proxylist_error e, const struct proxylist_line *l,
    bool explain)
{
	const char *bad = l->bad != NULL ? l->bad : "";
	char *s;

	switch (e) {
	case PROXYLIST_OK:
		return xstrdup("no error");
	case PROXYLIST_NUL:
		return xstrdup("NUL byte in line");
	case PROXYLIST_PRIORITY:
		if (explain)
			xasprintf(&s, "bad priority '%.40s' (an integer, "
			    "%d to %d)", bad + 9, -PROXYLIST_PRIORITY_MAX,
			    PROXYLIST_PRIORITY_MAX);
		else
			xasprintf(&s, "bad priority %s", bad + 9);
		return s;
	case PROXYLIST_EXPIRES:
		if (explain)
			xasprintf(&s, "bad expires '%.40s' (seconds, 0 to %d)",
			    bad + 8, PROXYLIST_EXPIRES_MAX);
		else
			xasprintf(&s, "bad expires %s", bad + 8);
		return s;
	case PROXYLIST_WORD:
		if (explain)
			xasprintf(&s, "unexpected '%.40s' (expected "
			    "priority=N or expires=S)", bad);
		else
			xasprintf(&s, "unexpected %s (expected priority=N or "
			    "expires=S)", bad);
		return s;
	}
	return xstrdup("unknown error");
}

/* A key and where it was read, to sort. */
struct proxylist_key {
	const char	*key;
	size_t		 i;
};

/* qsort order: by key, then by reading order. */
static int
proxylist_cmp(const void *a, const void *b)
{
	const struct proxylist_key *x = a, *y = b;
	int c;

	if ((c = strcmp(x->key, y->key)) != 0)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

size_t
proxylist_dups(const char *const *keys, size_t n, size_t *first)
{
	struct proxylist_key *v;
	size_t i, run = 0, dups = 0;

	for (i = 0; i < n; i++)
		first[i] = i;
	if (n < 2)
		return 0;
	v = xreallocarray(NULL, n, sizeof *v);
	for (i = 0; i < n; i++) {
		v[i].key = keys[i];
		v[i].i = i;
	}
	qsort(v, n, sizeof *v, proxylist_cmp);
	/* in each run of equal keys the first read sorts first */
	for (i = 1; i < n; i++) {
		if (strcmp(v[i].key, v[run].key) != 0) {
			run = i;
			continue;
		}
		first[v[i].i] = v[run].i;
		dups++;
	}
	free(v);
	return dups;
}
