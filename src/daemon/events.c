/*
 * events.c: the counters of ejections, bans and health changes, their
 * records sent to the pool's event stream in Redis (see events.h), and
 * the glue from release and report answers to them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "proxyurl.h"
#include "redis.h"
#include "xmalloc.h"

struct events {
	struct redis		*redis;		/* (ref) where they go */
	char			 source[96];	/* host:pid */
	unsigned long long	 total[EV__COUNT];
};

static const char *const kind_names[EV__COUNT] = {
	"ejected", "banned", "down", "up", "evicted"
};

struct events *
events_create(struct redis *redis)
{
	struct events *ev = xcalloc(1, sizeof *ev);
	char host[64];

	ev->redis = redis;
	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "?");
	host[sizeof host - 1] = '\0';
	snprintf(ev->source, sizeof ev->source, "%s:%ld", host,
	    (long)getpid());
	return ev;
}

void
events_destroy(struct events *ev)
{
	free(ev);
}

static void
events_sent_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	(void)ra;
	(void)arg;
	if (res->err != RA_OK)
		log_debug("an event was not recorded: %s", res->errstr);
}

void
events_add(struct events *ev, const char *pool, const char *item,
    enum event_kind k, long long until_ms, const char *detail)
{
	struct ra_async *ra;
	char *red, buf[RA_EVENT_TEXT_MAX + 1];

	if (ev == NULL || (unsigned)k >= EV__COUNT)
		return;
	ev->total[k]++;
	if ((ra = redis_ra(ev->redis)) == NULL)
		return;
	red = proxyurl_redact(item);
	/* (a reason longer than an event keeps is cut) */
	snprintf(buf, sizeof buf, "%s", detail != NULL ? detail : "");
	if (ra_async_event_add(ra, pool, kind_names[k], red, until_ms > 0 ?
	    until_ms : 0, buf, ev->source, events_sent_cb, NULL) != 0)
		log_debug("pool %s: an event was not recorded", pool);
	free(red);
}

unsigned long long
events_total(const struct events *ev, enum event_kind k)
{
	return ev != NULL && (unsigned)k < EV__COUNT ? ev->total[k] : 0;
}

void
events_ended(struct daemon *d, const char *pool, enum ra_outcome o,
    const struct ra_result *res, const char *via)
{
	const struct ra_ended *e = &res->u.ended;
	enum event_kind k = o == RA_OUTCOME_BANNED ? EV_BANNED : EV_EJECTED;
	struct timespec ts;
	char *red;
	long long secs;

	if (res->err != RA_OK || e->until_ms <= 0 || e->item == NULL ||
	    (o != RA_OUTCOME_FAILED && o != RA_OUTCOME_BANNED))
		return;
	metrics_count_ejection(d, pool, o);
	events_add(d->events, pool, e->item, k, e->until_ms, via);
	clock_gettime(CLOCK_REALTIME, &ts);
	secs = (e->until_ms - ((long long)ts.tv_sec * 1000 + ts.tv_nsec /
	    1000000) + 500) / 1000;
	red = proxyurl_redact(e->item);
	log_pool(LOG_LEVEL_INFO, pool, "%s %s for %llds (%s %s)", red,
	    kind_names[k], secs > 0 ? secs : 0, via,
	    ra_outcome_name(o));
	free(red);
}

struct events_watch {
	struct daemon	*d;
	char		*pool;
	enum ra_outcome	 o;
	const char	*via;		/* a literal */
};

void *
events_watch(struct daemon *d, const char *pool, enum ra_outcome o,
    const char *via)
{
	struct events_watch *w;

	if (o != RA_OUTCOME_FAILED && o != RA_OUTCOME_BANNED)
		return NULL;
	w = xcalloc(1, sizeof *w);
	w->d = d;
	w->pool = xstrdup(pool);
	w->o = o;
	w->via = via;
	return w;
}

void
events_ended_cb(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct events_watch *w = priv;

	(void)ra;
	if (res->err != RA_OK)
		log_debug("pool %s: %s: %s", w->pool, w->via, res->errstr);
	else
		events_ended(w->d, w->pool, w->o, res, w->via);
	free(w->pool);
	free(w);
}
