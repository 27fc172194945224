/*
 * events.c: the ring of recent ejections, bans and health changes (see
 * events.h), and the glue from release and report answers to it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "proxyurl.h"
#include "xmalloc.h"

struct events {
	struct event_rec	 v[EVENTS_MAX];
	size_t			 next;		/* slot of the next event */
	size_t			 n;		/* slots in use */
	unsigned long long	 total[EV__COUNT];
};

static const char *const kind_names[EV__COUNT] = {
	"ejected", "banned", "down", "up", "evicted"
};

const char *
event_kind_name(enum event_kind k)
{
	return (unsigned)k < EV__COUNT ? kind_names[k] : "?";
}

struct events *
events_create(void)
{
	return xcalloc(1, sizeof(struct events));
}

static void
event_clear(struct event_rec *e)
{
	free(e->pool);
	free(e->proxy);
	free(e->detail);
	memset(e, 0, sizeof *e);
}

void
events_destroy(struct events *ev)
{
	size_t i;

	if (ev == NULL)
		return;
	for (i = 0; i < EVENTS_MAX; i++)
		event_clear(&ev->v[i]);
	free(ev);
}

void
events_add(struct events *ev, const char *pool, const char *item,
    enum event_kind k, long long until_ms, const char *detail)
{
	struct event_rec *e;

	if (ev == NULL || (unsigned)k >= EV__COUNT)
		return;
	e = &ev->v[ev->next];
	event_clear(e);
	e->at = time(NULL);
	e->pool = xstrdup(pool);
	e->proxy = proxyurl_redact(item);
	e->kind = k;
	e->until_ms = until_ms;
	e->detail = detail != NULL && *detail != '\0' ? xstrdup(detail) : NULL;
	ev->next = (ev->next + 1) % EVENTS_MAX;
	if (ev->n < EVENTS_MAX)
		ev->n++;
	ev->total[k]++;
}

const struct event_rec *
events_get(const struct events *ev, size_t i)
{
	if (ev == NULL || i >= ev->n)
		return NULL;
	return &ev->v[(ev->next + EVENTS_MAX - 1 - i) % EVENTS_MAX];
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
	    event_kind_name(k), secs > 0 ? secs : 0, via,
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
