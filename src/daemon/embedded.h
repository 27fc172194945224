/*
 * embedded.h: a private redis-server supervised by proxypoold when
 * redis.url is "embedded": UNIX socket in the state directory, no TCP
 * port, AOF persistence, noeviction; restarted with backoff if it dies.
 * The state directory is locked (proxypoold.lock) while either runs.
 */
#ifndef EMBEDDED_H
#define EMBEDDED_H

#include <sys/types.h>

#include <event2/event.h>

struct embedded;

/* Start redis-server (binary server) in state_dir; NULL with cause. */
struct embedded *embedded_start(struct event_base *base, const char *server,
	    const char *state_dir, char **cause);
/* Stop the server (SIGTERM, then SIGKILL after a few seconds). */
void	embedded_destroy(struct embedded *e);
/* A connection to it failed: if its socket is gone (removed by hand or
 * by another redis-server), restart it so it binds a new one. */
void	embedded_check(struct embedded *e);
/* "unix:///state_dir/redis.sock" for redis_create. */
const char *embedded_url(const struct embedded *e);
pid_t	embedded_pid(const struct embedded *e);	/* 0 when none */
unsigned embedded_restarts(const struct embedded *e);

#endif /* EMBEDDED_H */
