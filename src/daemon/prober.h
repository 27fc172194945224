/*
 * prober.h: active health checks.  The prober claims due checks from
 * Redis, runs them through the check plugins on libcurl's multi interface
 * (or as child processes for plugins without curl) on the daemon's
 * libevent loop, and writes each verdict back to Redis in one script.
 */
#ifndef PROBER_H
#define PROBER_H

#include <stdbool.h>

#include <event2/event.h>
#include <libconfig.h>

#include "hist.h"
#include "pp_check.h"
#include "redis_allocator.h"

struct prober;
struct conf;

/* The Redis handle to use now, NULL while disconnected. */
typedef struct ra_async *prober_ra_fn(void *arg);

/* An on-demand check finished (CHECK command); res is valid during the
 * call only. */
typedef void prober_done_fn(void *arg, const struct pp_result *res);

/* Counters of one pool kept by this process (STATS, INFO, METRICS). */
struct prober_stats {
	bool		 active;	/* the pool has a check configured */
	const char	*type;		/* (ref) check type name */
	unsigned long long probes;	/* probes finished here */
	double		 probes_per_sec; /* recent rate, this process */
	unsigned	 inflight;	/* probes of the pool running now */
	unsigned long long up;		/* verdicts seen here, by kind */
	unsigned long long warn;
	unsigned long long down;
	unsigned long long unknown;
	const char	*errors;	/* (ref) "reason=count,..." recent */
	struct hist	 latency;	/* probes' run times, s (a copy) */
};

/*
 * The prober's events run at the lowest of three priorities, the daemon's
 * at the default (middle) one: with clients waiting, a loop iteration
 * serves them before it touches probes.  The daemon's loop also checks
 * for new events after a few probe callbacks (see daemon_start), so a
 * burst of finished probes does not hold a client back either.
 */
#define PROBER_PRIORITIES	3
#define PROBER_PRIORITY		2

/* Create on the daemon's curl multi handle (and its loop); ra_fn(ra_arg)
 * gives the Redis handle when needed. */
struct curlev;
struct prober *prober_create(struct curlev *curl, prober_ra_fn *ra_fn,
	    void *ra_arg);
/* Where health changes go (the daemon's ring of recent events). */
struct events;
void	prober_set_events(struct prober *pr, struct events *ev);
/* Stop everything (running probes are cancelled) and free. */
void	prober_destroy(struct prober *pr);
/* The libevent priority of the prober's events (below the clients'), or
 * -1 when the loop has no priorities: its Redis connection's too. */
int	prober_priority(const struct prober *pr);

/*
 * Load the plugins of the checks group and parse every pool's check
 * group of c.  prober_validate only checks (proxypoold -t);
 * prober_configure then replaces the running checks: new pools start,
 * removed ones stop, changed ones use the new settings from their next
 * probe on.  Both return 0, or -1 with *cause ("file:line: setting:
 * problem"); on error nothing changes.
 */
int	prober_validate(const struct conf *c, char **cause);
int	prober_configure(struct prober *pr, const struct conf *c,
	    char **cause);

/* Redis (re)connected: claim at once. */
void	prober_kick(struct prober *pr);
/* Items were added to pool (NULL: to any; by the pool sync or ADD): the
 * next pass that schedules their first checks starts now, not at its
 * period, so new proxies are probed within their interval. */
void	prober_items_added(struct prober *pr, const char *pool);

/*
 * Run pool's check on url now without touching the health state; fn is
 * called once with the verdict, later, from the loop (never before this
 * returns).  Returns 0, or -1 with *cause (no check configured, bad URL,
 * the program of an exec check cannot start...).
 */
int	prober_check_now(struct prober *pr, const char *pool, const char *url,
	    prober_done_fn *fn, void *arg, char **cause);

/* Fill st for pool; st->active is false when it has no check. */
void	prober_stats(struct prober *pr, const char *pool,
	    struct prober_stats *st);
/* Totals for INFO: probes finished, in flight, plugins loaded. */
void	prober_totals(struct prober *pr, unsigned long long *probes,
	    unsigned *inflight, double *per_sec);

#endif /* PROBER_H */
