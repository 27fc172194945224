/*
 * events.h: the recent ejections, bans and health changes this daemon
 * saw (its releases and reports answered, its own health checks), kept
 * in a ring of the last EVENTS_MAX for the status page, /status.json and
 * INFO's counters.  Only what passed through this daemon: on a shared
 * Redis, each instance shows its own.
 */
#ifndef EVENTS_H
#define EVENTS_H

#include <time.h>

#include "redis_allocator.h"

#define EVENTS_MAX	64

enum event_kind {
	EV_EJECTED,	/* FAILED outcomes reached eject_failures */
	EV_BANNED,	/* a BANNED outcome */
	EV_DOWN,	/* a health check found it DOWN */
	EV_UP,		/* a health check found it UP again */
	EV_EVICTED,	/* DOWN past evict_after: removed */
	EV__COUNT
};

struct event_rec {
	time_t		 at;		/* wall clock, s */
	char		*pool;		/* owned */
	char		*proxy;		/* owned, redacted */
	enum event_kind	 kind;
	long long	 until_ms;	/* ejected, banned: quarantine end */
	char		*detail;	/* owned: how (RELEASE, REPORT,
					 * gateway) or the check's reason */
};

struct events;
struct daemon;

struct events *events_create(void);
void	events_destroy(struct events *ev);	/* NULL: no-op */
const char *event_kind_name(enum event_kind k);

/* Remember an event; item is redacted here; detail may be NULL. */
void	events_add(struct events *ev, const char *pool, const char *item,
	    enum event_kind k, long long until_ms, const char *detail);
/* The i-th most recent event (0: the newest), NULL past the last. */
const struct event_rec *events_get(const struct events *ev, size_t i);
/* Events of kind k since the start, all pools. */
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
