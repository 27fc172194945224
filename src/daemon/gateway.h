/*
 * gateway.h: proxypoold as the proxy (gateway.c).  Each listener of the
 * gateway section speaks HTTP/1.1 forward proxy (absolute-form requests,
 * CONNECT) and SOCKS5 on one TCP port; every request or tunnel is a
 * lease from a pool, forwarded through the leased upstream on the
 * daemon's curl multi handle, and released with the outcome seen.
 */
#ifndef GATEWAY_H
#define GATEWAY_H

#include <event2/buffer.h>

#include "conf.h"

struct daemon;
struct gateway;

/* The gateway of d (no listener yet). */
struct gateway *gateway_create(struct daemon *d);
/*
 * Make the listeners those of c: new ones are bound, changed ones take
 * their new settings for new requests, removed ones stop accepting
 * (their open connections and tunnels go on).  All or nothing: 0, or -1
 * with *cause and no change when a new address cannot be bound.
 */
int	gateway_configure(struct gateway *gw, const struct conf *c,
	    char **cause);
/* Stop accepting; idle connections close, the others after their
 * request (tunnels are closed). */
void	gateway_stop(struct gateway *gw);
/* Connections still open. */
unsigned gateway_connections(const struct gateway *gw);
/* Close everything and free. */
void	gateway_destroy(struct gateway *gw);
/* INFO's "# Gateway" section and METRICS' gateway series. */
void	gateway_info(const struct gateway *gw, struct evbuffer *out);
void	gateway_metrics(const struct gateway *gw, struct evbuffer *out);

#endif /* GATEWAY_H */
