/*
 * proxyfile.c: read a proxy list file for "proxypoolctl add POOL -f FILE":
 * one URL a line, blank lines and # comments skipped, every bad line
 * reported as file:line so the whole file can be refused before anything
 * is sent to the daemon.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "ctl.h"

#define PROXYFILE_URL_MAX	1024	/* longest proxy URL, as the daemon */

/* The schemes libcurl can use as a proxy. */
static const char *proxyfile_schemes[] = {
	"http", "https", "socks4", "socks4a", "socks5", "socks5h", NULL
};

const char *
proxyfile_check_url(const char *url)
{
	CURLU *u;
	CURLUcode rc;
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	char *query = NULL, *frag = NULL, *user = NULL, *pass = NULL;
	const char *why = NULL;
	const unsigned char *p;
	size_t i;
	long n;

	if (*url == '\0')
		return "empty URL";
	if (strlen(url) > PROXYFILE_URL_MAX)
		return "URL longer than 1024 bytes";
	for (p = (const unsigned char *)url; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f)
			return "blank or control character in URL";
	}
	if (strstr(url, "://") == NULL)
		return "not a URL (expected scheme://host:port)";
	if ((u = curl_url()) == NULL)
		return "out of memory";
	rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (rc != CURLUE_OK) {
		why = "malformed URL";
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		why = "no scheme";
		goto out;
	}
	for (i = 0; proxyfile_schemes[i] != NULL; i++) {
		if (strcasecmp(scheme, proxyfile_schemes[i]) == 0)
			break;
	}
	if (proxyfile_schemes[i] == NULL) {
		why = "unsupported scheme (use http, https, socks4, socks4a, "
		    "socks5 or socks5h)";
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    *host == '\0') {
		why = "no host";
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK) {
		why = "no port";
		goto out;
	}
	n = strtol(port, NULL, 10);
	if (n < 1 || n > 65535) {
		why = "port out of range 1-65535";
		goto out;
	}
	if ((curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK &&
	    *path != '\0' && strcmp(path, "/") != 0) ||
	    curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
		why = "a proxy URL has no path, query or fragment";
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_OK)
		why = "password without a user";
out:
	curl_free(pass);
	curl_free(user);
	curl_free(frag);
	curl_free(query);
	curl_free(path);
	curl_free(port);
	curl_free(host);
	curl_free(scheme);
	curl_url_cleanup(u);
	return why;
}

void
proxyfile_clear(struct proxyfile *pf)
{
	size_t i;

	for (i = 0; i < pf->n; i++)
		free(pf->v[i].url);
	free(pf->v);
	pf->v = NULL;
	pf->n = pf->cap = 0;
}

/* Append an entry (url is taken over). */
static void
proxyfile_push(struct proxyfile *pf, char *url, unsigned line)
{
	if (pf->n == pf->cap) {
		pf->cap = pf->cap == 0 ? 64 : pf->cap * 2;
		pf->v = xreallocarray(pf->v, pf->cap, sizeof *pf->v);
	}
	pf->v[pf->n].url = url;
	pf->v[pf->n].line = line;
	pf->n++;
}

/* qsort order of entries: by URL, then by line. */
static int
proxyfile_cmp(const void *a, const void *b)
{
	const struct proxyfile_entry *x = a, *y = b;
	int c;

	if ((c = strcmp(x->url, y->url)) != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Drop the later copies of URLs listed twice, reporting each.  Keeps
 * file order. */
static void
proxyfile_dedup(struct proxyfile *pf, const char *path, FILE *errf)
{
	struct proxyfile_entry *sorted;
	unsigned *drop;
	size_t i, j, first, maxline = 0;
	char *r;

	if (pf->n < 2)
		return;
	sorted = xcalloc(pf->n, sizeof *sorted);
	memcpy(sorted, pf->v, pf->n * sizeof *sorted);
	qsort(sorted, pf->n, sizeof *sorted, proxyfile_cmp);
	for (i = 0; i < pf->n; i++) {
		if (pf->v[i].line > maxline)
			maxline = pf->v[i].line;
	}
	drop = xcalloc(maxline + 1, sizeof *drop);
	first = 0;
	for (i = 1; i < pf->n; i++) {
		if (strcmp(sorted[i].url, sorted[first].url) != 0) {
			first = i;
			continue;
		}
		drop[sorted[i].line] = sorted[first].line;
	}
	for (i = j = 0; i < pf->n; i++) {
		if (drop[pf->v[i].line] != 0) {
			r = out_redact(pf->v[i].url);
			fprintf(errf, "%s:%u: warning: %s already on line %u, "
			    "ignored\n", path, pf->v[i].line, r,
			    drop[pf->v[i].line]);
			free(r);
			free(pf->v[i].url);
			continue;
		}
		pf->v[j++] = pf->v[i];
	}
	pf->n = j;
	free(drop);
	free(sorted);
}

int
proxyfile_load(struct proxyfile *pf, const char *path, FILE *errf)
{
	FILE *f;
	char *buf = NULL, *s, *e, *r, *safe;
	size_t cap = 0;
	ssize_t len;
	unsigned line = 0;
	int bad = 0;
	const char *why;

	memset(pf, 0, sizeof *pf);
	if (strcmp(path, "-") == 0)
		f = stdin;
	else if ((f = fopen(path, "r")) == NULL) {
		fprintf(errf, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&buf, &cap, f)) != -1) {
		line++;
		if (memchr(buf, '\0', len) != NULL) {
			fprintf(errf, "%s:%u: NUL byte in line\n", path, line);
			bad++;
			continue;
		}
		s = buf;
		while (isspace((unsigned char)*s))
			s++;
		/* a comment runs from a '#' at the start or after a blank */
		for (e = s; *e != '\0'; e++) {
			if (*e == '#' && (e == s || isspace((unsigned char)e[-1])))
				break;
		}
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		*e = '\0';
		if (*s == '\0')
			continue;
		if ((why = proxyfile_check_url(s)) != NULL) {
			r = out_redact(s);
			safe = out_sanitize(r, strlen(r));
			fprintf(errf, "%s:%u: %s: %s\n", path, line, safe, why);
			free(safe);
			free(r);
			bad++;
			continue;
		}
		proxyfile_push(pf, xstrdup(s), line);
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
	proxyfile_dedup(pf, path, errf);
	return bad;
}
