/*
 * redis.h: an asynchronous Redis connection of proxypoold (hiredis with
 * the libevent adapter; calls are pipelined on it), with AUTH/SELECT, a
 * name (CLIENT SETNAME proxypoold-ROLE-PID), a keepalive that detects a
 * hung server, and reconnection with backoff.  The daemon keeps two: the
 * main one for clients' requests, syncs and GC, and one for the prober's
 * calls, so a LEASE never queues behind a batch of health results.
 */
#ifndef REDIS_H
#define REDIS_H

#include <stdbool.h>

#include <event2/event.h>

#include "redis_allocator.h"

struct redis;

/* Called on every successful (re)connection. */
typedef void redis_connect_fn(void *arg);

/*
 * Prepare a connection to url ("unix:///path", "redis://host:port/db")
 * with an optional password and key prefix; role names it in logs and in
 * CLIENT LIST ("main", "probe"); NULL with cause on a bad URL.  Nothing
 * is connected until redis_start.
 */
struct redis *redis_create(struct event_base *base, const char *role,
	    const char *url, const char *password, const char *prefix,
	    double timeout, redis_connect_fn *fn, void *arg, char **cause);
void	redis_start(struct redis *rd);
/* Disconnect: pending calls are answered with RA_ERR_BACKEND_DOWN. */
void	redis_destroy(struct redis *rd);
/* The allocator handle, NULL while disconnected; corked until the end
 * of the current pass of the event loop (see ra_async_cork). */
struct ra_async *redis_ra(struct redis *rd);
bool	redis_connected(const struct redis *rd);
/* The libevent priority of the connection's socket events from the
 * next connect on (-1, the default: the loop's middle one). */
/* fn (with the arg of redis_create) after each failed connect. */
void	redis_set_fail_cb(struct redis *rd, redis_connect_fn *fn);
void	redis_set_priority(struct redis *rd, int priority);
/* The keepalive and request deadline may change on reload. */
void	redis_set_timeout(struct redis *rd, double timeout);
unsigned long long redis_reconnects(const struct redis *rd);
/* The URL with credentials redacted. */
const char *redis_where(const struct redis *rd);

#endif /* REDIS_H */
