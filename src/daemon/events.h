/*
 * events.h: the ejections, bans and health changes this daemon sees (its
 * releases and reports answered, its own health checks) are counted here
 * for INFO and appended to the pool's event stream in Redis
 * (ra_event_add), which every daemon on that Redis shares: the status
 * page, each pool page and /status.json read it back (ra_events_get).
 */
#ifndef EVENTS_H
#define EVENTS_H

#include "redis_allocator.h"

#define EVENTS_SHOWN	64	/* events a page shows */

enum event_kind {
	EV_EJECTED,	/* FAILED outcomes reached eject_failures */
	EV_BANNED,	/* a BANNED outcome */
	EV_DOWN,	/* a health check found it DOWN */
	EV_UP,		/* a health check found it UP again */
	EV_EVICTED,	/* DOWN past evict_after: removed */
	EV__COUNT
};

struct events;
struct daemon;
struct redis;

/* Events sent over redis (the main connection), named by this daemon
 * (host:pid) as their source. */
struct events *events_create(struct redis *redis);
void	events_destroy(struct events *ev);	/* NULL: no-op */

/* Count an event and append it to the pool's stream (not waited for; a
 * failure is logged at debug level); item is redacted here, detail may
 * be NULL. */
void	events_add(struct events *ev, const char *pool, const char *item,
	    enum event_kind k, long long until_ms, const char *detail);
/* Events of kind k this daemon saw since its start, all pools. */
unsigned long long events_total(const struct events *ev, enum event_kind k);

/*
 * A release or report with outcome o was answered (res: its result): an
 * ejection or a ban it caused (res->u.ended) is counted for METRICS and
 * remembered, and logged; via says who sent it (RELEASE, REPORT,
 * gateway).  Nothing happens for other outcomes or an error.
 */
void	events_ended(struct daemon *d, const char *pool, enum ra_outcome o,
	    const struct ra_result *res, const char *via);
/*
 * For a release or report nobody waits for (the gateway's): priv for
 * events_ended_cb, which calls events_ended and frees it; NULL (use no
 * callback of ours) when o cannot eject (NONE, OK).
 */
void	*events_watch(struct daemon *d, const char *pool, enum ra_outcome o,
	    const char *via);
void	events_ended_cb(struct ra_async *ra, struct ra_result *res,
	    void *priv);

#endif /* EVENTS_H */
