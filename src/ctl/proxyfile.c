/*
 * proxyfile.c: read a proxy list file for "proxypoolctl add POOL -f FILE",
 * in the format of proxypoold's proxies_file: one proxy a line,
 * "URL [priority=N] [expires=S]", blank lines and # comments skipped.
 * Every bad line is reported as file:line so the whole file can be refused
 * before anything is sent to the daemon.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
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

/*
 * Whether the host as written (after "scheme://", any more slashes, which
 * curl skips, and the userinfo, up to the path) holds a '%': the daemon
 * refuses those, as a decoded host can read as another one
 * (http://0%36:3 is 06, then 0.0.0.6).  As proxyurl_host_escaped in
 * src/daemon/proxyurl.c.
 */
static int
proxyfile_host_escaped(const char *url)
{
	const char *host, *end, *p;

	if ((host = strstr(url, "://")) == NULL)
		return 0;
	host += 3;
	host += strspn(host, "/");
	end = host + strcspn(host, "/?#");
	for (p = host; p < end; p++) {
		if (*p == '@')
			host = p + 1;
	}
	return memchr(host, '%', (size_t)(end - host)) != NULL;
}

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
	if (proxyfile_host_escaped(url))
		return "%-escaped host (or IPv6 zone)";
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

	for (i = 0; i < pf->n; i++) {
		free(pf->v[i].url);
		free(pf->v[i].expires);
	}
	free(pf->v);
	pf->v = NULL;
	pf->n = pf->cap = 0;
}

/* Append an entry (url and expires are taken over). */
static void
proxyfile_push(struct proxyfile *pf, char *url, unsigned line, int has_prio,
    long prio, char *expires)
{
	if (pf->n == pf->cap) {
		pf->cap = pf->cap == 0 ? 64 : pf->cap * 2;
		pf->v = xreallocarray(pf->v, pf->cap, sizeof *pf->v);
	}
	pf->v[pf->n].url = url;
	pf->v[pf->n].line = line;
	pf->v[pf->n].has_priority = has_prio;
	pf->v[pf->n].priority = prio;
	pf->v[pf->n].expires = expires;
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

/* Report the later copies of URLs listed twice as bad lines.  Returns
 * how many there are. */
static int
proxyfile_dups(struct proxyfile *pf, const char *path, FILE *errf)
{
	struct proxyfile_entry *sorted;
	size_t i, first;
	int bad = 0;
	char *r;

	if (pf->n < 2)
		return 0;
	sorted = xcalloc(pf->n, sizeof *sorted);
	memcpy(sorted, pf->v, pf->n * sizeof *sorted);
	qsort(sorted, pf->n, sizeof *sorted, proxyfile_cmp);
	first = 0;
	for (i = 1; i < pf->n; i++) {
		if (strcmp(sorted[i].url, sorted[first].url) != 0) {
			first = i;
			continue;
		}
		r = out_redact(sorted[i].url);
		fprintf(errf, "%s:%u: %s: duplicate of line %u\n", path,
		    sorted[i].line, r, sorted[first].line);
		free(r);
		bad++;
	}
	free(sorted);
	return bad;
}

/*
 * Parse the words after the URL ("priority=N", "expires=S") into the
 * entry fields.  Returns NULL, or what is wrong (static or in why, size
 * whysize).
 */
static const char *
proxyfile_words(char *rest, int *has_prio, long *prio, char **expires,
    char *why, size_t whysize)
{
	char *tok, *save, *e;
	double d;

	*has_prio = 0;
	*expires = NULL;
	for (tok = strtok_r(rest, " \t\r\n\v\f", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t\r\n\v\f", &save)) {
		if (strncmp(tok, "priority=", 9) == 0) {
			errno = 0;
			*prio = strtol(tok + 9, &e, 10);
			if (errno != 0 || *e != '\0' || e == tok + 9 ||
			    *prio < -1000000 || *prio > 1000000) {
				snprintf(why, whysize, "bad priority '%.40s' "
				    "(an integer, -1000000 to 1000000)",
				    tok + 9);
				goto fail;
			}
			*has_prio = 1;
		} else if (strncmp(tok, "expires=", 8) == 0) {
			errno = 0;
			d = strtod(tok + 8, &e);
			if (errno != 0 || *e != '\0' || e == tok + 8 ||
			    !isfinite(d) || d < 0 || d > 315360000) {
				snprintf(why, whysize, "bad expires '%.40s' "
				    "(seconds, 0 to 315360000)", tok + 8);
				goto fail;
			}
			free(*expires);
			*expires = xstrdup(tok + 8);
		} else {
			snprintf(why, whysize, "unexpected '%.40s' (expected "
			    "priority=N or expires=S)", tok);
			goto fail;
		}
	}
	return NULL;
fail:
	free(*expires);
	*expires = NULL;
	return why;
}

int
proxyfile_load(struct proxyfile *pf, const char *path, FILE *errf)
{
	FILE *f;
	char *buf = NULL, *s, *e, *r, *safe, *expires, whybuf[128];
	size_t cap = 0;
	long prio = 0;
	int has_prio;
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
		/* a comment runs from '#' to the end of the line */
		if ((e = strchr(buf, '#')) != NULL)
			*e = '\0';
		s = buf;
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			continue;
		e = s + strcspn(s, " \t\r\n\v\f");
		if (*e != '\0')
			*e++ = '\0';
		why = proxyfile_check_url(s);
		if (why == NULL)
			why = proxyfile_words(e, &has_prio, &prio, &expires,
			    whybuf, sizeof whybuf);
		if (why != NULL) {
			r = out_redact(s);
			safe = out_sanitize(r, strlen(r));
			fprintf(errf, "%s:%u: %s: %s\n", path, line, safe, why);
			free(safe);
			free(r);
			bad++;
			continue;
		}
		proxyfile_push(pf, xstrdup(s), line, has_prio, prio, expires);
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
