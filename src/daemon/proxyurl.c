/*
 * proxyurl.c: proxy URLs: validation and normalisation with curl_url,
 * and redaction of the credentials they carry.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "proxyurl.h"
#include "xmalloc.h"

#define PROXYURL_MAX	1024	/* RA_KEY_MAX: the longest identity */

static const char *proxyurl_schemes[] = {
	"http", "https", "socks4", "socks4a", "socks5", "socks5h", NULL
};

/* Get one part; NULL when absent.  The caller frees with curl_free. */
static char *
proxyurl_part(CURLU *u, CURLUPart part)
{
	char *s = NULL;

	if (curl_url_get(u, part, &s, 0) != CURLUE_OK)
		return NULL;
	return s;
}

/*
 * Whether the host as written (after "scheme://", any more slashes, which
 * curl skips, and the userinfo, up to the path) holds a '%'.  curl
 * decodes a %-escaped host, and the decoded text can mean another host
 * when parsed again: http://0%36:3 gave http://06:3, which is
 * http://0.0.0.6:3.  The normal form is the proxy's identity, so it must
 * normalise to itself: such hosts are refused (no proxy host needs
 * escapes, and an IPv6 zone "%25eth0" was dropped).
 */
static int
proxyurl_host_escaped(const char *url)
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

/* One pass of proxyurl_normalise. */
static char *
proxyurl_normalise1(const char *url, char **cause)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL;
	char *pass = NULL, *path = NULL, *query = NULL, *frag = NULL;
	char *out = NULL, *e, *p;
	const char **s;
	CURLUcode rc;
	long v;

	*cause = NULL;
	for (p = (char *)url; *p != '\0'; p++) {
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p)) {
			xasprintf(cause, "proxy URL contains a space or a "
			    "control character");
			return NULL;
		}
	}
	if (*url == '\0') {
		xasprintf(cause, "empty proxy URL");
		return NULL;
	}
	if (strstr(url, "://") == NULL) {
		xasprintf(cause, "proxy URL needs a scheme "
		    "(http, https, socks4, socks4a, socks5, socks5h)");
		return NULL;
	}
	if (proxyurl_host_escaped(url)) {
		xasprintf(cause, "proxy URL host must not be %%-escaped "
		    "(nor have an IPv6 zone)");
		return NULL;
	}
	if ((u = curl_url()) == NULL) {
		xasprintf(cause, "out of memory");
		return NULL;
	}
	rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (rc != CURLUE_OK) {
		xasprintf(cause, "bad proxy URL: %s", curl_url_strerror(rc));
		goto out;
	}
	scheme = proxyurl_part(u, CURLUPART_SCHEME);
	for (s = proxyurl_schemes; scheme != NULL && *s != NULL; s++) {
		if (strcasecmp(scheme, *s) == 0)
			break;
	}
	if (scheme == NULL || *s == NULL) {
		xasprintf(cause, "unsupported proxy scheme %s (expected http, "
		    "https, socks4, socks4a, socks5 or socks5h)",
		    scheme ? scheme : "(none)");
		goto out;
	}
	if ((host = proxyurl_part(u, CURLUPART_HOST)) == NULL || *host == '\0') {
		xasprintf(cause, "proxy URL has no host");
		goto out;
	}
	if ((port = proxyurl_part(u, CURLUPART_PORT)) == NULL) {
		xasprintf(cause, "proxy URL has no port");
		goto out;
	}
	v = strtol(port, &e, 10);
	if (*e != '\0' || v < 1 || v > 65535) {
		xasprintf(cause, "proxy port %s out of range 1-65535", port);
		goto out;
	}
	path = proxyurl_part(u, CURLUPART_PATH);
	query = proxyurl_part(u, CURLUPART_QUERY);
	frag = proxyurl_part(u, CURLUPART_FRAGMENT);
	if ((path != NULL && *path != '\0' && strcmp(path, "/") != 0) ||
	    query != NULL || frag != NULL) {
		xasprintf(cause, "proxy URL must not have a path, query or "
		    "fragment");
		goto out;
	}
	user = proxyurl_part(u, CURLUPART_USER);
	pass = proxyurl_part(u, CURLUPART_PASSWORD);
	for (p = scheme; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	for (p = host; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if (pass != NULL && user == NULL) {
		xasprintf(cause, "proxy URL has a password but no user");
		goto out;
	}
	xasprintf(&out, "%s://%s%s%s%s%s:%ld", scheme, user ? user : "",
	    pass ? ":" : "", pass ? pass : "", user ? "@" : "", host, v);
	if (strlen(out) > PROXYURL_MAX) {
		free(out);
		out = NULL;
		xasprintf(cause, "proxy URL longer than %d bytes", PROXYURL_MAX);
		goto out;
	}
	/* a byte curl decoded into the host (a guard: %-escaped hosts are
	 * refused above) */
	for (p = out; *p != '\0'; p++) {
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p)) {
			free(out);
			out = NULL;
			xasprintf(cause, "proxy URL host contains a space or a "
			    "control character");
			break;
		}
	}

out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(user);
	curl_free(pass);
	curl_free(path);
	curl_free(query);
	curl_free(frag);
	curl_url_cleanup(u);
	return out;
}

char *
proxyurl_normalise(const char *url, char **cause)
{
	char *out, *again, *why;

	if ((out = proxyurl_normalise1(url, cause)) == NULL)
		return NULL;
	/* a guard for what the checks above miss: the identity is a normal
	 * form that normalises to itself */
	again = proxyurl_normalise1(out, &why);
	if (again == NULL || strcmp(again, out) != 0) {
		xasprintf(cause, "proxy URL has no stable normal form (%s "
		    "reads as %s)", out, again != NULL ? again : why);
		free(out);
		out = NULL;
	}
	free(again);
	free(why);
	return out;
}

/*
 * Append text[0..n) to a growing buffer.
 */
static void
proxyurl_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		*buf = xreallocarray(*buf, 1, *cap);
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

char *
proxyurl_redact_text(const char *text)
{
	const char *p = text, *sep, *ui, *q, *colon, *at;
	char *buf = NULL;
	size_t len = 0, cap = 0;

	proxyurl_append(&buf, &len, &cap, "", 0);
	while ((sep = strstr(p, "://")) != NULL) {
		ui = sep + 3;
		/* the userinfo ends at the last '@' before a '/', a blank
		 * or the end (a password may hold '@' and quotes) */
		colon = at = NULL;
		for (q = ui; *q != '\0' && *q != '/' &&
		    !isspace((unsigned char)*q); q++) {
			if (*q == '@')
				at = q;
			else if (*q == ':' && colon == NULL)
				colon = q;
		}
		if (at != NULL && colon != NULL && colon < at) {
			proxyurl_append(&buf, &len, &cap, p,
			    (size_t)(colon + 1 - p));
			proxyurl_append(&buf, &len, &cap, "***@", 4);
			p = at + 1;
		} else {
			proxyurl_append(&buf, &len, &cap, p, (size_t)(ui - p));
			p = ui;
		}
	}
	proxyurl_append(&buf, &len, &cap, p, strlen(p));
	return buf;
}

char *
proxyurl_redact(const char *url)
{
	return proxyurl_redact_text(url);
}
