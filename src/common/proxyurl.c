/*
 * proxyurl.c: proxy URLs: validation and normalisation with curl_url,
 * and redaction of the credentials they carry.  proxypoold (its
 * configuration and its commands) and proxypoolctl (its list files) both
 * use these, so a URL is judged, and hidden, one way only.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "proxyurl.h"
#include "xmalloc.h"

/* The schemes libcurl can use as a proxy (the messages below list them
 * too). */
static const char *proxyurl_schemes[] = {
	"http", "https", "socks4", "socks4a", "socks5", "socks5h", NULL
};

/* Why a URL is refused. */
enum proxyurl_why {
	PROXYURL_OK,
	PROXYURL_BLANK,
	PROXYURL_EMPTY,
	PROXYURL_NOT_URL,
	PROXYURL_ESCAPED,
	PROXYURL_NOMEM,
	PROXYURL_MALFORMED,
	PROXYURL_NO_SCHEME,
	PROXYURL_SCHEME,
	PROXYURL_NO_HOST,
	PROXYURL_NO_PORT,
	PROXYURL_PORT,
	PROXYURL_PATH,
	PROXYURL_PASSWORD,
	PROXYURL_LONG,
	PROXYURL_HOST_BLANK,
	PROXYURL_UNSTABLE
};

/*
 * The short form of each reason, for messages that show the URL before
 * it (proxypoolctl's "file:line: URL: problem"); the long forms, which
 * name their subject and carry details, are made where the reason is
 * found.
 */
static const char *proxyurl_brief[] = {
	[PROXYURL_OK] = NULL,
	[PROXYURL_BLANK] = "blank or control character in URL",
	[PROXYURL_EMPTY] = "empty URL",
	[PROXYURL_NOT_URL] = "not a URL (expected scheme://host:port)",
	[PROXYURL_ESCAPED] = "%-escaped host (or IPv6 zone)",
	[PROXYURL_NOMEM] = "out of memory",
	[PROXYURL_MALFORMED] = "malformed URL",
	[PROXYURL_NO_SCHEME] = "no scheme",
	[PROXYURL_SCHEME] = "unsupported scheme (use http, https, socks4, "
	    "socks4a, socks5 or socks5h)",
	[PROXYURL_NO_HOST] = "no host",
	[PROXYURL_NO_PORT] = "no port",
	[PROXYURL_PORT] = "port out of range 1-65535",
	[PROXYURL_PATH] = "a proxy URL has no path, query or fragment",
	[PROXYURL_PASSWORD] = "password without a user",
	[PROXYURL_LONG] = "URL longer than 1024 bytes",
	[PROXYURL_HOST_BLANK] = "blank or control character in host",
	[PROXYURL_UNSTABLE] = "no stable normal form"
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

/* One part with curl_url_get's flags, as our own string; NULL when
 * absent.  The caller frees. */
static char *
proxyurl_part_dup(CURLU *u, CURLUPart part, unsigned int flags)
{
	char *s = NULL, *d;

	if (curl_url_get(u, part, &s, flags) != CURLUE_OK)
		return NULL;
	d = xstrdup(s);
	curl_free(s);
	return d;
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

/* One pass of proxyurl_normalise; *why says what is wrong. */
static char *
proxyurl_normalise1(const char *url, char **cause, enum proxyurl_why *why)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL;
	char *pass = NULL, *path = NULL, *query = NULL, *frag = NULL;
	char *out = NULL, *e, *p;
	const char **s;
	CURLUcode rc;
	long v;

	*cause = NULL;
	*why = PROXYURL_OK;
	for (p = (char *)url; *p != '\0'; p++) {
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p)) {
			*why = PROXYURL_BLANK;
			xasprintf(cause, "proxy URL contains a space or a "
			    "control character");
			return NULL;
		}
	}
	if (*url == '\0') {
		*why = PROXYURL_EMPTY;
		xasprintf(cause, "empty proxy URL");
		return NULL;
	}
	if (strstr(url, "://") == NULL) {
		*why = PROXYURL_NOT_URL;
		xasprintf(cause, "proxy URL needs a scheme "
		    "(http, https, socks4, socks4a, socks5, socks5h)");
		return NULL;
	}
	if (proxyurl_host_escaped(url)) {
		*why = PROXYURL_ESCAPED;
		xasprintf(cause, "proxy URL host must not be %%-escaped "
		    "(nor have an IPv6 zone)");
		return NULL;
	}
	if ((u = curl_url()) == NULL) {
		*why = PROXYURL_NOMEM;
		xasprintf(cause, "out of memory");
		return NULL;
	}
	rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (rc != CURLUE_OK) {
		*why = PROXYURL_MALFORMED;
		xasprintf(cause, "bad proxy URL: %s", curl_url_strerror(rc));
		goto out;
	}
	scheme = proxyurl_part(u, CURLUPART_SCHEME);
	for (s = proxyurl_schemes; scheme != NULL && *s != NULL; s++) {
		if (strcasecmp(scheme, *s) == 0)
			break;
	}
	if (scheme == NULL || *s == NULL) {
		*why = scheme != NULL ? PROXYURL_SCHEME : PROXYURL_NO_SCHEME;
		xasprintf(cause, "unsupported proxy scheme %s (expected http, "
		    "https, socks4, socks4a, socks5 or socks5h)",
		    scheme ? scheme : "(none)");
		goto out;
	}
	if ((host = proxyurl_part(u, CURLUPART_HOST)) == NULL || *host == '\0') {
		*why = PROXYURL_NO_HOST;
		xasprintf(cause, "proxy URL has no host");
		goto out;
	}
	if ((port = proxyurl_part(u, CURLUPART_PORT)) == NULL) {
		*why = PROXYURL_NO_PORT;
		xasprintf(cause, "proxy URL has no port");
		goto out;
	}
	v = strtol(port, &e, 10);
	if (*e != '\0' || v < 1 || v > 65535) {
		*why = PROXYURL_PORT;
		xasprintf(cause, "proxy port %s out of range 1-65535", port);
		goto out;
	}
	path = proxyurl_part(u, CURLUPART_PATH);
	query = proxyurl_part(u, CURLUPART_QUERY);
	frag = proxyurl_part(u, CURLUPART_FRAGMENT);
	if ((path != NULL && *path != '\0' && strcmp(path, "/") != 0) ||
	    query != NULL || frag != NULL) {
		*why = PROXYURL_PATH;
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
		*why = PROXYURL_PASSWORD;
		xasprintf(cause, "proxy URL has a password but no user");
		goto out;
	}
	xasprintf(&out, "%s://%s%s%s%s%s:%ld", scheme, user ? user : "",
	    pass ? ":" : "", pass ? pass : "", user ? "@" : "", host, v);
	if (strlen(out) > PROXYURL_MAX) {
		free(out);
		out = NULL;
		*why = PROXYURL_LONG;
		xasprintf(cause, "proxy URL longer than %d bytes", PROXYURL_MAX);
		goto out;
	}
	/* a byte curl decoded into the host (a guard: %-escaped hosts are
	 * refused above) */
	for (p = out; *p != '\0'; p++) {
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p)) {
			free(out);
			out = NULL;
			*why = PROXYURL_HOST_BLANK;
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

/* proxyurl_normalise, with the reason of a refusal. */
static char *
proxyurl_parse(const char *url, char **cause, enum proxyurl_why *why)
{
	char *out, *again, *because;
	enum proxyurl_why why2;

	if ((out = proxyurl_normalise1(url, cause, why)) == NULL)
		return NULL;
	/* a guard for what the checks above miss: the identity is a normal
	 * form that normalises to itself */
	again = proxyurl_normalise1(out, &because, &why2);
	if (again == NULL || strcmp(again, out) != 0) {
		*why = PROXYURL_UNSTABLE;
		xasprintf(cause, "proxy URL has no stable normal form (%s "
		    "reads as %s)", out, again != NULL ? again : because);
		free(out);
		out = NULL;
	}
	free(again);
	free(because);
	return out;
}

char *
proxyurl_normalise(const char *url, char **cause)
{
	enum proxyurl_why why;

	return proxyurl_parse(url, cause, &why);
}

char *
proxyurl_normalise_brief(const char *url, const char **brief)
{
	enum proxyurl_why why;
	char *out, *cause;

	out = proxyurl_parse(url, &cause, &why);
	free(cause);
	if (brief != NULL)
		*brief = proxyurl_brief[why];
	return out;
}

const char *
proxyurl_check(const char *url)
{
	const char *brief;

	free(proxyurl_normalise_brief(url, &brief));
	return brief;
}

int
proxyurl_split(const char *url, struct proxyurl_parts *pt, char **cause)
{
	CURLU *u;
	char *host, *port;
	int rc = -1;

	memset(pt, 0, sizeof *pt);
	if ((u = curl_url()) == NULL) {
		xasprintf(cause, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) !=
	    CURLUE_OK ||
	    (pt->scheme = proxyurl_part_dup(u, CURLUPART_SCHEME, 0)) == NULL) {
		xasprintf(cause, "bad proxy URL");
		goto out;
	}
	if ((host = proxyurl_part(u, CURLUPART_HOST)) == NULL) {
		xasprintf(cause, "proxy URL without a host");
		goto out;
	}
	/* IPv6 literals come bracketed */
	if (*host == '[')
		pt->host = xstrndup(host + 1, strcspn(host + 1, "]"));
	else
		pt->host = xstrdup(host);
	curl_free(host);
	/* curl knows no default port of the socks schemes: theirs */
	port = proxyurl_part_dup(u, CURLUPART_PORT, CURLU_DEFAULT_PORT);
	pt->port = port != NULL ? atoi(port) : 1080;
	free(port);
	pt->user = proxyurl_part_dup(u, CURLUPART_USER, CURLU_URLDECODE);
	pt->password = proxyurl_part_dup(u, CURLUPART_PASSWORD,
	    CURLU_URLDECODE);
	rc = 0;
out:
	if (rc != 0)
		proxyurl_parts_free(pt);
	curl_url_cleanup(u);
	return rc;
}

void
proxyurl_parts_free(struct proxyurl_parts *pt)
{
	free(pt->scheme);
	free(pt->host);
	free(pt->user);
	free(pt->password);
	memset(pt, 0, sizeof *pt);
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
	/*
	 * The userinfo runs from "://" to the last '@' before a '/', a
	 * blank or the end: a password may hold '@', quotes, '?' and '#'.
	 * RFC 3986 (and curl, hence any proxy identity) ends the authority
	 * at '?' and '#' too, but the library's Redis URLs do not (their
	 * password ends at the last '@' of the URL), and a password must not
	 * show because a message holds a URL that is not a good proxy URL:
	 * so this errs on hiding too much ("http://h:1?a:b@c" shows as
	 * "http://h:***@c"), never too little.
	 */
	while ((sep = strstr(p, "://")) != NULL) {
		ui = sep + 3;
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
