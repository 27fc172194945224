/*
 * proxyurl.h: proxy URL validation and normalisation (libcurl's URL API)
 * and credential redaction.
 */
#ifndef PROXYURL_H
#define PROXYURL_H

/*
 * Check a proxy URL (scheme http, https, socks4, socks4a, socks5,
 * socks5h; a host; a port 1-65535; optional user:password; nothing else)
 * and return its normalised form "scheme://[user[:pass]@]host:port",
 * which is the proxy's identity in the pool.  NULL with *cause set on a
 * bad URL; the caller frees both.
 */
char	*proxyurl_normalise(const char *url, char **cause);

/* A copy of a normalised URL with the password shown as "***". */
char	*proxyurl_redact(const char *url);

/* A copy of any text with every "scheme://user:password@" redacted. */
char	*proxyurl_redact_text(const char *text);

#endif /* PROXYURL_H */
