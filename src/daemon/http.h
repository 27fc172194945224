/*
 * http.h: the HTTP endpoint (http.c, libevent's evhttp): /metrics (the
 * METRICS text), /status.json, a status page for admins (/) and a page
 * per pool (/pool/NAME), on the address of the http group, off unless
 * the group is set.
 */
#ifndef HTTP_H
#define HTTP_H

#include "conf.h"

struct daemon;
struct http;

/* The endpoint of d (not listening yet). */
struct http *http_create(struct daemon *d);
/*
 * Listen where c says: a new or changed address is bound first, then
 * the old listener (and its connections) closes; no http group closes
 * it.  All or nothing: 0, or -1 with *cause "file:line: http.listen:
 * ..." and no change when the new address cannot be bound.
 */
int	http_configure(struct http *h, const struct conf *c, char **cause);
/* Stop: close the listener and its connections (requests still waiting
 * for Redis are dropped). */
void	http_stop(struct http *h);
/* Requests waiting for Redis. */
unsigned http_pending(const struct http *h);
/* Close and free; after Redis is gone (no callback is due any more).
 * NULL is a no-op. */
void	http_destroy(struct http *h);

#endif /* HTTP_H */
