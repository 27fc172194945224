/*
 * metrics.c: INFO (the daemon's state, Redis INFO style) and METRICS (its
 * counters and each pool's proxies by state, Prometheus text format; the
 * HTTP endpoint's /metrics writes the same text, metrics_write).
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "client.h"
#include "cmd.h"
#include "embedded.h"
#include "events.h"
#include "gateway.h"
#include "hist.h"
#include "metrics.h"
#include "plugin.h"
#include "prober.h"
#include "proxyurl.h"
#include "redis.h"
#include "req.h"
#include "xmalloc.h"

/* One configured pool's counters, from its first event on. */
struct metrics_pool {
	char		*name;		/* owned */
	unsigned long long releases[RA_OUTCOME__COUNT]; /* by outcome */
	unsigned long long reports[RA_OUTCOME__COUNT];	/* by outcome */
	unsigned long long ejections[RA_OUTCOME__COUNT]; /* FAILED, BANNED */
	struct hist	 lease_wait;	/* LEASE arrival to grant, s */
	TAILQ_ENTRY(metrics_pool) entry;
};

/* The daemon's counters by pool (a pool removed by a reload keeps its
 * entry, not written while it is not configured; counters never go
 * back). */
struct metrics {
	TAILQ_HEAD(, metrics_pool) pools;
};

struct metrics *
metrics_create(void)
{
	struct metrics *m = xcalloc(1, sizeof *m);

	TAILQ_INIT(&m->pools);
	return m;
}

void
metrics_destroy(struct metrics *m)
{
	struct metrics_pool *mp;

	if (m == NULL)
		return;
	while ((mp = TAILQ_FIRST(&m->pools)) != NULL) {
		TAILQ_REMOVE(&m->pools, mp, entry);
		free(mp->name);
		free(mp);
	}
	free(m);
}

/* The entry of pool, made on first use; NULL when the pool is not
 * configured (nothing to count, and no name from a client is kept). */
static struct metrics_pool *
metrics_pool(struct daemon *d, const char *pool)
{
	struct metrics_pool *mp;

	if (d->metrics == NULL || conf_pool_find(d->conf, pool) == NULL)
		return NULL;
	TAILQ_FOREACH(mp, &d->metrics->pools, entry) {
		if (strcmp(mp->name, pool) == 0)
			return mp;
	}
	mp = xcalloc(1, sizeof *mp);
	mp->name = xstrdup(pool);
	TAILQ_INSERT_TAIL(&d->metrics->pools, mp, entry);
	return mp;
}

void
metrics_count_release(struct daemon *d, const char *pool, enum ra_outcome o)
{
	struct metrics_pool *mp;

	if ((unsigned)o < RA_OUTCOME__COUNT &&
	    (mp = metrics_pool(d, pool)) != NULL)
		mp->releases[o]++;
}

void
metrics_count_report(struct daemon *d, const char *pool, enum ra_outcome o)
{
	struct metrics_pool *mp;

	if ((unsigned)o < RA_OUTCOME__COUNT &&
	    (mp = metrics_pool(d, pool)) != NULL)
		mp->reports[o]++;
}

void
metrics_count_ejection(struct daemon *d, const char *pool, enum ra_outcome o)
{
	struct metrics_pool *mp;

	if ((o == RA_OUTCOME_FAILED || o == RA_OUTCOME_BANNED) &&
	    (mp = metrics_pool(d, pool)) != NULL)
		mp->ejections[o]++;
}

void
metrics_lease_wait(struct daemon *d, const char *pool, double seconds)
{
	struct metrics_pool *mp;

	if ((mp = metrics_pool(d, pool)) != NULL)
		hist_observe(&mp->lease_wait, seconds);
}

/* The entry of a configured pool, or NULL when nothing was counted. */
static const struct metrics_pool *
metrics_pool_find(const struct metrics *m, const char *pool)
{
	const struct metrics_pool *mp;

	if (m == NULL)
		return NULL;
	TAILQ_FOREACH(mp, &m->pools, entry) {
		if (strcmp(mp->name, pool) == 0)
			return mp;
	}
	return NULL;
}

/* The per-pool series of this daemon: releases and reports by outcome,
 * the lease wait and probe latency histograms; every configured pool,
 * zero before its first event, so rate() sees the series start. */
static void
metrics_write_pools(struct daemon *d, struct evbuffer *b)
{
	static const char *const outcomes[RA_OUTCOME__COUNT] = { "none",
	    "ok", "failed", "banned" };
	/* the counters by outcome (from: the first outcome they have) */
	static const struct outcome_series {
		const char	*name, *help;
		size_t		 off;
		int		 from;
	} outcome_series[] = {
		{ "releases", "Leases given back here (RELEASE, and the "
		    "gateway's), by pool and outcome.",
		    offsetof(struct metrics_pool, releases), RA_OUTCOME_NONE },
		{ "reports", "REPORTs answered here, by pool and outcome.",
		    offsetof(struct metrics_pool, reports), RA_OUTCOME_NONE },
		{ "ejections", "Proxies taken out of service by the outcomes "
		    "of releases and reports answered here: outcome failed "
		    "(eject_failures reached), banned (ban_time).",
		    offsetof(struct metrics_pool, ejections),
		    RA_OUTCOME_FAILED },
	};
	static const struct metrics_pool zero;
	const struct conf *conf = d->conf;
	const struct metrics_pool *mp;
	const struct outcome_series *sr;
	const unsigned long long *v;
	struct prober_stats ps;
	char labels[RA_KEY_MAX + 16];
	size_t i, k;
	int o;

	for (k = 0; k < sizeof outcome_series / sizeof outcome_series[0];
	    k++) {
		sr = &outcome_series[k];
		evbuffer_add_printf(b, "# HELP proxypoold_%s_total %s\n"
		    "# TYPE proxypoold_%s_total counter\n", sr->name, sr->help,
		    sr->name);
		for (i = 0; i < conf->npools; i++) {
			if ((mp = metrics_pool_find(d->metrics,
			    conf->pools[i].name)) == NULL)
				mp = &zero;
			v = (const unsigned long long *)(const void *)
			    ((const char *)mp + sr->off);
			for (o = sr->from; o < RA_OUTCOME__COUNT; o++)
				evbuffer_add_printf(b, "proxypoold_%s_total"
				    "{pool=\"%s\",outcome=\"%s\"} %llu\n",
				    sr->name, conf->pools[i].name,
				    outcomes[o], v[o]);
		}
	}
	evbuffer_add_printf(b, "# HELP proxypoold_lease_wait_seconds Time "
	    "from a LEASE's arrival to its grant (WAIT included).\n"
	    "# TYPE proxypoold_lease_wait_seconds histogram\n");
	for (i = 0; i < conf->npools; i++) {
		if ((mp = metrics_pool_find(d->metrics,
		    conf->pools[i].name)) == NULL)
			mp = &zero;
		snprintf(labels, sizeof labels, "pool=\"%s\"",
		    conf->pools[i].name);
		hist_write(&mp->lease_wait, "proxypoold_lease_wait_seconds",
		    labels, b);
	}
	evbuffer_add_printf(b, "# HELP proxypoold_probe_latency_seconds Run "
	    "time of the health checks finished here.\n"
	    "# TYPE proxypoold_probe_latency_seconds histogram\n");
	for (i = 0; i < conf->npools; i++) {
		prober_stats(d->prober, conf->pools[i].name, &ps);
		if (!ps.active)
			continue;
		snprintf(labels, sizeof labels, "pool=\"%s\"",
		    conf->pools[i].name);
		hist_write(&ps.latency, "proxypoold_probe_latency_seconds",
		    labels, b);
	}
}

/* INFO: the daemon's state, Redis INFO style. */
void
cmd_info(struct req *r)
{
	struct daemon *d = r->d;
	const struct daemon_stats *s = &d->stats;
	struct evbuffer *b = evbuffer_new();
	unsigned nlock = 0;
	struct client *c;
	unsigned pending = 0;
	size_t len;
	char *text;

	/* requests not answered yet (on Redis or waiting), this one aside */
	TAILQ_FOREACH(c, &d->clients, entry) {
		if (c->req != NULL && c->req != r)
			pending++;
	}
	evbuffer_add_printf(b, "# Server\r\nversion:%s\r\npid:%ld\r\n"
	    "uptime_in_seconds:%lld\r\nconfig_file:%s\r\nsocket:%s\r\n\r\n",
	    PACKAGE_VERSION, (long)getpid(),
	    (long long)(time(NULL) - d->started), d->conf_path,
	    d->conf->socket);
	nlock = lockwait_count(d);
	evbuffer_add_printf(b, "# Clients\r\nconnected_clients:%u\r\n"
	    "max_clients:%d\r\nwaiting_clients:%u\r\nlock_waiters:%u\r\n"
	    "pending_requests:%u\r\nadmin:%d\r\n\r\n", d->nclients,
	    d->conf->max_clients, waitq_count(d), nlock, pending,
	    r->c != NULL && r->c->admin);
	evbuffer_add_printf(b, "# Redis\r\nredis_url:%s\r\n"
	    "redis_connected:%d\r\nredis_reconnects:%llu\r\n"
	    "redis_probe_connected:%d\r\nredis_probe_reconnects:%llu\r\n"
	    "embedded:%d\r\n"
	    "embedded_pid:%ld\r\nembedded_restarts:%u\r\nprefix:%s\r\n\r\n",
	    redis_where(d->redis), redis_connected(d->redis),
	    redis_reconnects(d->redis), redis_connected(d->redis_probe),
	    redis_reconnects(d->redis_probe), d->embedded != NULL,
	    (long)embedded_pid(d->embedded), embedded_restarts(d->embedded),
	    d->conf->redis_prefix);
	evbuffer_add_printf(b, "# Stats\r\n");
#define INFO_COUNTER(f, info, metric, help)				\
	evbuffer_add_printf(b, info ":%llu\r\n", s->f);
	DAEMON_COUNTERS(INFO_COUNTER)
#undef INFO_COUNTER
	evbuffer_add_printf(b, "ejections:%llu\r\nbans:%llu\r\n"
	    "health_down_events:%llu\r\nhealth_up_events:%llu\r\n"
	    "evictions:%llu\r\n\r\n", events_total(d->events, EV_EJECTED),
	    events_total(d->events, EV_BANNED),
	    events_total(d->events, EV_DOWN), events_total(d->events, EV_UP),
	    events_total(d->events, EV_EVICTED));
	{
		unsigned long long probes;
		unsigned inflight;
		double rate;

		prober_totals(d->prober, &probes, &inflight, &rate);
		evbuffer_add_printf(b, "# Health\r\ncheck_plugins:%s\r\n"
		    "probes:%llu\r\nprobes_per_sec:%.1f\r\n"
		    "probes_inflight:%u\r\n", plugin_names(), probes, rate,
		    inflight);
		for (len = 0; len < d->conf->npools; len++) {
			struct prober_stats ps;

			prober_stats(d->prober, d->conf->pools[len].name, &ps);
			if (!ps.active)
				continue;
			evbuffer_add_printf(b, "health_%s:check=%s,probes=%llu,"
			    "per_sec=%.1f,inflight=%u,probes_up=%llu,"
			    "probes_warn=%llu,probes_down=%llu,"
			    "probes_unknown=%llu\r\n",
			    d->conf->pools[len].name, ps.type, ps.probes,
			    ps.probes_per_sec, ps.inflight, ps.up, ps.warn,
			    ps.down, ps.unknown);
			if (*ps.errors != '\0')
				evbuffer_add_printf(b, "health_%s_errors:%s\r\n",
				    d->conf->pools[len].name, ps.errors);
		}
		evbuffer_add_printf(b, "\r\n");
	}
	evbuffer_add_printf(b, "# Pools\r\npools:%zu\r\n", d->conf->npools);
	for (len = 0; len < d->conf->npools; len++)
		evbuffer_add_printf(b, "pool_%s:proxies=%zu,shared=%d,"
		    "lease_ttl=%g\r\n", d->conf->pools[len].name,
		    d->conf->pools[len].nitems, d->conf->pools[len].ra.shared,
		    d->conf->pools[len].ra.lease_ttl);
	evbuffer_add_printf(b, "\r\n");
	gateway_info(d->gw, b);
	len = evbuffer_get_length(b);
	text = xmalloc(len + 1);
	evbuffer_remove(b, text, len);
	text[len] = '\0';
	evbuffer_free(b);
	{
		char *red = proxyurl_redact_text(text);

		resp_bulk(req_out(r), red, strlen(red));
		free(red);
	}
	free(text);
	req_finish(r);
}

void
metrics_write(struct daemon *d, const struct ra_strlist *names,
    const struct ra_counts *counts, const struct ra_health_counts *hcounts,
    struct evbuffer *b)
{
	static const char *const states[] = { "free", "leased", "shared",
	    "quarantined", "draining" };
	const struct daemon_stats *s = &d->stats;
	const struct ra_counts *k;
	long long v[5];
	size_t i, j;

	evbuffer_add_printf(b, "# HELP proxypoold_build_info The version "
	    "running (always 1).\n# TYPE proxypoold_build_info gauge\n"
	    "proxypoold_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
#define COUNTER(n, h, v) evbuffer_add_printf(b, "# HELP proxypoold_" n	\
	" " h "\n# TYPE proxypoold_" n " counter\nproxypoold_" n " %llu\n", \
	(unsigned long long)(v))
#define GAUGE(n, h, v) evbuffer_add_printf(b, "# HELP proxypoold_" n	\
	" " h "\n# TYPE proxypoold_" n " gauge\nproxypoold_" n " %llu\n", \
	(unsigned long long)(v))
#define METRICS_COUNTER(f, info, metric, help) COUNTER(metric, help, s->f);
	DAEMON_COUNTERS(METRICS_COUNTER)
#undef METRICS_COUNTER
	COUNTER("redis_reconnects_total", "Reconnections to Redis.",
	    redis_reconnects(d->redis));
	COUNTER("redis_probe_reconnects_total", "Reconnections of the "
	    "health checks' Redis connection.",
	    redis_reconnects(d->redis_probe));
	GAUGE("clients", "Connected clients.", d->nclients);
	GAUGE("waiting_clients", "LEASE requests waiting for a proxy.",
	    waitq_count(d));
	GAUGE("redis_up", "1 when Redis is connected.",
	    redis_connected(d->redis));
	GAUGE("redis_probe_up", "1 when the health checks' Redis connection "
	    "is up.", redis_connected(d->redis_probe));
	GAUGE("pools", "Configured pools.", d->conf->npools);
	GAUGE("uptime_seconds", "Seconds since start.",
	    time(NULL) - d->started);
	{
		unsigned long long probes;
		unsigned inflight;
		double rate;

		prober_totals(d->prober, &probes, &inflight, &rate);
		COUNTER("probes_total", "Health checks finished here.",
		    probes);
		GAUGE("probes_inflight", "Health checks running.", inflight);
	}
#undef COUNTER
#undef GAUGE
	metrics_write_pools(d, b);
	gateway_metrics(d->gw, b);
	if (counts != NULL) {
		evbuffer_add_printf(b, "# HELP proxypoold_pool_proxies Proxies "
		    "of a pool by state (Redis).\n# TYPE proxypoold_pool_proxies "
		    "gauge\n");
		for (i = 0; i < names->n; i++) {
			k = &counts[i];
			if (k->total < 0)
				continue;
			v[0] = k->free;
			v[1] = k->leased;
			v[2] = k->shared;
			v[3] = k->quarantined;
			v[4] = k->draining;
			for (j = 0; j < 5; j++)
				evbuffer_add_printf(b, "proxypoold_pool_proxies"
				    "{pool=\"%s\",state=\"%s\"} %lld\n",
				    names->v[i], states[j], v[j]);
		}
		evbuffer_add_printf(b, "# HELP proxypoold_pool_leases Leases "
		    "held in a pool (Redis).\n# TYPE proxypoold_pool_leases "
		    "gauge\n");
		for (i = 0; i < names->n; i++) {
			if (counts[i].total >= 0)
				evbuffer_add_printf(b, "proxypoold_pool_leases"
				    "{pool=\"%s\"} %lld\n", names->v[i],
				    counts[i].leases);
		}
	}
	if (counts != NULL && hcounts != NULL) {
		evbuffer_add_printf(b, "# HELP proxypoold_pool_health Proxies "
		    "of a pool by health, up or down (Redis).\n# TYPE "
		    "proxypoold_pool_health gauge\n");
		for (i = 0; i < names->n; i++) {
			if (counts[i].total < 0)
				continue;
			evbuffer_add_printf(b, "proxypoold_pool_health{pool=\"%s\","
			    "health=\"up\"} %lld\nproxypoold_pool_health{pool="
			    "\"%s\",health=\"down\"} %lld\n", names->v[i],
			    hcounts[i].up, names->v[i], hcounts[i].down);
		}
	}
}

/* METRICS: the daemon's counters and, when Redis answered, each
 * configured pool's proxies by state, in Prometheus text format. */
static void
cmd_metrics_reply(struct req *r)
{
	struct evbuffer *b;
	size_t len;
	char *text;

	if (!req_alive(r)) {
		req_maybe_free(r);
		return;
	}
	b = evbuffer_new();
	metrics_write(r->d, &r->names, r->counts, r->hcounts, b);
	len = evbuffer_get_length(b);
	text = xmalloc(len + 1);
	evbuffer_remove(b, text, len);
	evbuffer_free(b);
	resp_bulk(req_out(r), text, len);
	free(text);
	req_finish(r);
}

/* One pool's counts or health counts for METRICS came back (in order on
 * one connection: counts then health counts of each pool). */
static void
cmd_metrics_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;
	size_t idx = r->done++, i = idx / 2;

	if (i < r->names.n && res->err == RA_OK) {
		if (idx % 2 == 1) {
			r->hcounts[i] = res->u.hcounts;
			memset(&res->u.hcounts, 0, sizeof res->u.hcounts);
		} else
			r->counts[i] = res->u.counts;
	} else if (i < r->names.n)
		r->counts[i].total = -1;	/* left out */
	if (!req_back(r) || r->inflight > 0)
		return;
	cmd_metrics_reply(r);
}

/* METRICS: ask Redis for each configured pool's counts and health counts
 * (pipelined), then answer; without Redis the daemon's own metrics
 * only. */
void
cmd_metrics(struct req *r)
{
	struct ra_async *ra = redis_ra(r->d->redis);
	const struct conf *conf = r->d->conf;
	size_t i;

	if (ra == NULL || conf->npools == 0) {
		cmd_metrics_reply(r);
		return;
	}
	r->names.n = conf->npools;
	r->names.v = xcalloc(conf->npools, sizeof *r->names.v);
	for (i = 0; i < conf->npools; i++)
		r->names.v[i] = xstrdup(conf->pools[i].name);
	r->counts = xcalloc(conf->npools, sizeof *r->counts);
	r->hcounts = xcalloc(conf->npools, sizeof *r->hcounts);
	r->inflight++;		/* hold r while queueing */
	req_arm(r, conf->redis_timeout);
	for (i = 0; i < 2 * r->names.n; i++) {
		r->inflight++;
		if ((i % 2 == 0 ? ra_async_counts(ra, r->names.v[i / 2],
		    cmd_metrics_cb, r) : ra_async_health_counts(ra,
		    r->names.v[i / 2], cmd_metrics_cb, r)) != 0) {
			/* not queued: this pool and the rest are left out */
			r->inflight--;
			for (i /= 2; i < r->names.n; i++)
				r->counts[i].total = -1;
			break;
		}
	}
	if (--r->inflight == 0)
		cmd_metrics_reply(r);
}
