/*
 * proxyurl.h: proxy URLs, for proxypoold and proxypoolctl alike:
 * validation and normalisation (libcurl's URL API) and credential
 * redaction.  proxypoolctl checks a list file with the very code the
 * daemon will run on it, so what the one accepts the other does.
 */
#ifndef PROXYURL_H
#define PROXYURL_H

#define PROXYURL_MAX	1024	/* RA_KEY_MAX: the longest identity */

/*
 * Check a proxy URL (scheme http, https, socks4, socks4a, socks5,
 * socks5h; a host; a port 1-65535; optional user:password; nothing else)
 * and return its normalised form "scheme://[user[:pass]@]host:port",
 * which is the proxy's identity in the pool.  NULL with *cause set on a
 * bad URL ("proxy URL has no port": a sentence that names its subject,
 * for messages that do not show the URL); the caller frees both.
 */
char	*proxyurl_normalise(const char *url, char **cause);

/*
 * As proxyurl_normalise, but a bad URL is described by *brief, a short
 * static text ("no port") for messages that show the URL next to it
 * ("file:line: URL: no port").  brief may be NULL.
 */
char	*proxyurl_normalise_brief(const char *url, const char **brief);

/* NULL when url is a good proxy URL, else a short static description. */
const char *proxyurl_check(const char *url);

/* The parts of a proxy URL, each an owned string (proxyurl_split). */
struct proxyurl_parts {
	char	*scheme;	/* as written: normalised URLs have it lower */
	char	*host;		/* an IPv6 literal without its brackets */
	int	 port;		/* the scheme's default (socks: 1080) if none */
	char	*user;		/* %-decoded, or NULL */
	char	*password;	/* %-decoded, or NULL */
};

/*
 * Split a URL (normally one proxyurl_normalise made: the daemon probes
 * the identities of its pools) into its parts; 0, or -1 with *cause and
 * nothing to free.  proxyurl_parts_free frees the parts after a 0.
 */
int	 proxyurl_split(const char *url, struct proxyurl_parts *pt,
	    char **cause);
void	 proxyurl_parts_free(struct proxyurl_parts *pt);

/* A copy of a URL with the password shown as "***". */
char	*proxyurl_redact(const char *url);

/* A copy of any text with every "scheme://user:password@" redacted. */
char	*proxyurl_redact_text(const char *text);

#endif /* PROXYURL_H */
