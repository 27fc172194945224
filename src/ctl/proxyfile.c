/*
 * proxyfile.c: read a proxy list file for "proxypoolctl add POOL -f FILE",
 * in the format of proxypoold's proxies_file, with the daemon's own
 * parser (proxylist.h) and URL check (proxyurl.h).  Every bad line is
 * reported as file:line so the whole file can be refused before anything
 * is sent to the daemon.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "proxylist.h"
#include "proxyurl.h"
#include "where.h"

void
proxyfile_clear(struct proxyfile *pf)
{
	size_t i;

	for (i = 0; i < pf->n; i++) {
		free(pf->v[i].url);
		free(pf->v[i].key);
		free(pf->v[i].expires);
	}
	free(pf->v);
	pf->v = NULL;
	pf->n = pf->cap = 0;
}

/* Append an entry (url, key and expires are taken over). */
static void
proxyfile_push(struct proxyfile *pf, char *url, char *key, unsigned line,
    const struct proxylist_line *l)
{
	struct proxyfile_entry *e;

	if (pf->n == pf->cap) {
		pf->cap = pf->cap == 0 ? 64 : pf->cap * 2;
		pf->v = xreallocarray(pf->v, pf->cap, sizeof *pf->v);
	}
	e = &pf->v[pf->n++];
	e->url = url;
	e->key = key;
	e->line = line;
	e->has_priority = l->has_priority;
	e->priority = l->priority;
	e->expires = l->expires_text != NULL ? xstrdup(l->expires_text) :
	    NULL;
}

/* Report "file:line: URL: why" with the URL redacted and terminal-safe. */
static void
proxyfile_report(FILE *errf, const char *path, unsigned line,
    const char *url, const char *why)
{
	char *r, *safe, *msg;

	r = proxyurl_redact(url);
	safe = out_sanitize(r, strlen(r));
	msg = where_fmt(path, line, safe, "%s", why);
	fprintf(errf, "%s\n", msg);
	free(msg);
	free(safe);
	free(r);
}

/* Report the later copies of proxies listed twice as bad lines, in file
 * order.  Returns how many there are. */
static int
proxyfile_dups(struct proxyfile *pf, const char *path, FILE *errf)
{
	const char **keys;
	size_t *first, i;
	char why[64];
	int bad = 0;

	if (pf->n < 2)
		return 0;
	keys = xcalloc(pf->n, sizeof *keys);
	first = xcalloc(pf->n, sizeof *first);
	for (i = 0; i < pf->n; i++)
		keys[i] = pf->v[i].key;
	if (proxylist_dups(keys, pf->n, first) > 0) {
		for (i = 0; i < pf->n; i++) {
			if (first[i] == i)
				continue;
			snprintf(why, sizeof why, "duplicate of line %u",
			    pf->v[first[i]].line);
			proxyfile_report(errf, path, pf->v[i].line,
			    pf->v[i].url, why);
			bad++;
		}
	}
	free(first);
	free(keys);
	return bad;
}

int
proxyfile_load(struct proxyfile *pf, const char *path, FILE *errf)
{
	struct proxylist_line l;
	enum proxylist_error e;
	FILE *f;
	char *buf = NULL, *key, *why;
	const char *brief;
	size_t cap = 0;
	ssize_t len;
	unsigned line = 0;
	int bad = 0;

	memset(pf, 0, sizeof *pf);
	if (strcmp(path, "-") == 0)
		f = stdin;
	else if ((f = fopen(path, "r")) == NULL) {
		fprintf(errf, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&buf, &cap, f)) != -1) {
		line++;
		e = proxylist_parse(buf, (size_t)len, &l);
		if (e == PROXYLIST_NUL) {
			why = proxylist_strerror(e, &l, true);
			fprintf(errf, "%s:%u: %s\n", path, line, why);
			free(why);
			bad++;
			continue;
		}
		if (l.url == NULL)
			continue;
		/* the URL's problem first, then the words' */
		if ((key = proxyurl_normalise_brief(l.url, &brief)) == NULL) {
			proxyfile_report(errf, path, line, l.url, brief);
			bad++;
			continue;
		}
		if (e != PROXYLIST_OK) {
			why = proxylist_strerror(e, &l, true);
			proxyfile_report(errf, path, line, l.url, why);
			free(why);
			free(key);
			bad++;
			continue;
		}
		proxyfile_push(pf, xstrdup(l.url), key, line, &l);
	}
	if (ferror(f)) {
		fprintf(errf, "%s: %s\n", path, strerror(errno));
		bad = -1;
	}
	free(buf);
	if (f != stdin)
		fclose(f);
	if (bad == -1) {
		proxyfile_clear(pf);
		return -1;
	}
	bad += proxyfile_dups(pf, path, errf);
	if (bad > 0)
		proxyfile_clear(pf);
	return bad;
}
