/*
 * daemon.c: proxypoold's life on the loop: start-up (embedded Redis,
 * Redis connections, socket, prober), signals (SIGHUP reload,
 * SIGTERM/SIGINT graceful stop, a second one exits at once), the stop,
 * and a periodic GC sweep.  Reloads and the pool sync are reload.c.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "client.h"
#include "cmd.h"
#include "compat.h"
#include "curlev.h"
#include "daemon.h"
#include "embedded.h"
#include "events.h"
#include "gateway.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "plugin.h"
#include "prober.h"
#include "reload.h"
#include "redis.h"
#include "resp.h"
#include "server.h"
#include "xmalloc.h"

#define DAEMON_GC_INTERVAL	5	/* s between GC sweeps */
/* Reclaimed per kind by one sweep call: the most the library gives one
 * call (half a batch, about 1 ms of Redis time). */
#define DAEMON_GC_COUNT		(RA_BATCH_DEFAULT / 2)
#define DAEMON_PROBE_BURST	16	/* probe callbacks between polls */
#define DAEMON_PROBE_US		500	/* or this long, whichever first */

/* Redis (re)connected: make sure it has our pools. */
static void
daemon_connected(void *arg)
{
	struct daemon *d = arg;

	reload_sync_pools(d, NULL);
	prober_kick(d->prober);
}

/* A connection to Redis failed: an embedded redis-server whose socket
 * is gone is restarted. */
static void
daemon_redis_failed(void *arg)
{
	struct daemon *d = arg;

	embedded_check(d->embedded);
}

/* The probe connection is up: claims resume. */
static void
daemon_probe_connected(void *arg)
{
	struct daemon *d = arg;

	prober_kick(d->prober);
}

/* The prober's view of the Redis handle: its own connection, so clients'
 * calls never wait behind its batches; NULL (probes pause) while down. */
static struct ra_async *
daemon_prober_ra(void *arg)
{
	struct daemon *d = arg;

	return d->redis_probe != NULL ? redis_ra(d->redis_probe) : NULL;
}

static void
daemon_sighup_cb(evutil_socket_t sig, short ev, void *arg)
{
	struct daemon *d = arg;

	log_info("SIGHUP: reloading %s", d->conf_path);
	log_reopen();
	reload_config(d, NULL, NULL);
}

static void
daemon_stop_timeout_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct daemon *d = arg;

	log_warn("stop: requests still in flight, exiting anyway");
	event_base_loopbreak(d->base);
}

void
daemon_stop(struct daemon *d)
{
	struct client *c, *next;
	struct timeval tv;

	if (d->stopping++ > 0) {
		log_warn("second stop signal: exiting now");
		event_base_loopbreak(d->base);
		return;
	}
	log_info("stopping: no new clients, answering requests in flight");
	sd_notify(0, "STOPPING=1");
	server_close_listener(d);
	gateway_stop(d->gw);
	http_stop(d->http);
	waitq_fail(d, NULL, "TRYAGAIN", "proxypoold is shutting down");
	lockwait_fail_all(d, "TRYAGAIN", "proxypoold is shutting down");
	/* idle clients go now; the others once their answer is sent */
	TAILQ_FOREACH_SAFE(c, &d->clients, entry, next) {
		if (c->req == NULL && evbuffer_get_length(
		    bufferevent_get_output(c->bev)) == 0)
			client_close(c);
		else
			client_close_after_write(c);
	}
	tv.tv_sec = (time_t)d->conf->redis_timeout + 2;
	tv.tv_usec = 0;
	d->stop_ev = evtimer_new(d->base, daemon_stop_timeout_cb, d);
	evtimer_add(d->stop_ev, &tv);
	daemon_check_stopped(d);
}

void
daemon_check_stopped(struct daemon *d)
{
	if (d->stopping && d->nclients == 0 &&
	    gateway_connections(d->gw) == 0)
		event_base_loopbreak(d->base);
}

static void
daemon_sigterm_cb(evutil_socket_t sig, short ev, void *arg)
{
	struct daemon *d = arg;

	log_info("signal %d received", (int)sig);
	daemon_stop(d);
}

/* Waiters: a proxy may have come back elsewhere (another daemon, an
 * expired lease); try again. */
static void
daemon_retry_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct daemon *d = arg;

	waitq_serve_all(d);
}

/* One pool's part of the periodic sweep, while it has a backlog. */
struct gc_sweep {
	struct daemon	*d;		/* (ref) */
	char		*pool;		/* owned copy of the name */
};

static void daemon_gc_done_cb(struct ra_async *, struct ra_result *, void *);

/* Send one gc call of sw's pool; frees sw if it cannot be sent. */
static void
daemon_gc_send(struct ra_async *ra, struct gc_sweep *sw)
{
	if (ra_async_gc(ra, sw->pool, DAEMON_GC_COUNT, daemon_gc_done_cb,
	    sw) != 0) {
		free(sw->pool);
		free(sw);
	}
}

/*
 * A gc call answered.  One that reclaimed DAEMON_GC_COUNT of a kind, or
 * ran out of its time budget, may have left more behind, so the next call
 * goes at once, until the backlog of a mass expiry is gone.
 */
static void
daemon_gc_done_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct gc_sweep *sw = arg;
	struct daemon *d = sw->d;
	const long long full = DAEMON_GC_COUNT;
	const struct ra_gc_stats *g = &res->u.gc;

	if (res->err == RA_OK && (g->leases > 0 || g->quarantine > 0))
		waitq_serve_all(d);
	if (res->err == RA_OK && !d->stopping && (g->more ||
	    g->leases >= full || g->bindings >= full || g->items >= full ||
	    g->quarantine >= full)) {
		d->stats.gc_continued++;
		daemon_gc_send(ra, sw);
		return;
	}
	free(sw->pool);
	free(sw);
}

/* Periodic sweep of every configured pool, in bounded calls. */
static void
daemon_gc_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct daemon *d = arg;
	struct ra_async *ra = redis_ra(d->redis);
	struct gc_sweep *sw;
	size_t i;

	if (ra == NULL || d->stopping)
		return;
	for (i = 0; i < d->conf->npools; i++) {
		sw = xmalloc(sizeof *sw);
		sw->d = d;
		sw->pool = xstrdup(d->conf->pools[i].name);
		daemon_gc_send(ra, sw);
	}
}

int
daemon_start(struct daemon *d, struct conf *conf, const char *path,
    char **cause)
{
	struct event_config *cfg;
	struct timeval tv;
	const char *url;

	TAILQ_INIT(&d->clients);
	TAILQ_INIT(&d->waitqs);
	TAILQ_INIT(&d->lockwaits);
	d->listen_fd = -1;
	d->conf = conf;
	d->conf_path = xstrdup(path);
	d->started = time(NULL);
	d->on_idle = daemon_check_stopped;
	d->on_reload = reload_config;
	if ((cfg = event_config_new()) == NULL) {
		xasprintf(cause, "cannot create the event loop");
		return -1;
	}
	/* at most DAEMON_PROBE_BURST probe callbacks (or DAEMON_PROBE_US)
	 * before the loop polls again: a client's request waits for a few
	 * of them, not for every probe that finished at once */
	tv.tv_sec = 0;
	tv.tv_usec = DAEMON_PROBE_US;
	event_config_set_max_dispatch_interval(cfg, &tv, DAEMON_PROBE_BURST,
	    PROBER_PRIORITY);
	/* epoll changes of one pass are merged: a gateway request adds and
	 * removes interest on several sockets within a pass or two (curl's
	 * connect, the upstream, the client's writes).  Safe here: no
	 * descriptor is dup()ed. */
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	d->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (d->base == NULL) {
		xasprintf(cause, "cannot create the event loop");
		return -1;
	}
	d->sig_hup = evsignal_new(d->base, SIGHUP, daemon_sighup_cb, d);
	d->sig_term = evsignal_new(d->base, SIGTERM, daemon_sigterm_cb, d);
	d->sig_int = evsignal_new(d->base, SIGINT, daemon_sigterm_cb, d);
	evsignal_add(d->sig_hup, NULL);
	evsignal_add(d->sig_term, NULL);
	evsignal_add(d->sig_int, NULL);

	/* nothing starts (an embedded redis-server least of all) when
	 * another daemon already serves our socket */
	if (server_check(conf->socket, cause) != 0)
		return -1;
	url = conf->redis_url;
	if (strcmp(url, "embedded") == 0) {
		if ((d->embedded = embedded_start(d->base, conf->redis_server,
		    conf->state_dir, cause)) == NULL)
			return -1;
		url = embedded_url(d->embedded);
	}
	if ((d->redis = redis_create(d->base, "main", url,
	    conf->redis_password, conf->redis_prefix, conf->redis_timeout,
	    daemon_connected, d, cause)) == NULL ||
	    (d->redis_probe = redis_create(d->base, "probe", url,
	    conf->redis_password, conf->redis_prefix, conf->redis_timeout,
	    daemon_probe_connected, d, cause)) == NULL)
		return -1;
	redis_set_fail_cb(d->redis, daemon_redis_failed);
	redis_set_fail_cb(d->redis_probe, daemon_redis_failed);
	if (server_listen(d, cause) != 0)
		return -1;
	if ((d->curl = curlev_create(d->base)) == NULL) {
		xasprintf(cause, "cannot create the curl multi handle");
		return -1;
	}
	d->events = events_create(d->redis);
	d->prober = prober_create(d->curl, daemon_prober_ra, d);
	prober_set_events(d->prober, d->events);
	/* probe replies wait while clients' are served, as probes do */
	redis_set_priority(d->redis_probe, prober_priority(d->prober));
	if (prober_configure(d->prober, conf, cause) != 0)
		return -1;
	d->metrics = metrics_create();
	d->gw = gateway_create(d);
	if (gateway_configure(d->gw, conf, cause) != 0)
		return -1;
	d->http = http_create(d);
	if (http_configure(d->http, conf, cause) != 0)
		return -1;
	d->resync_ev = evtimer_new(d->base, reload_resync_cb, d);
	redis_start(d->redis);
	redis_start(d->redis_probe);

	d->retry_ev = event_new(d->base, -1, EV_PERSIST, daemon_retry_cb, d);
	reload_arm_retry(d);
	tv.tv_sec = DAEMON_GC_INTERVAL;
	tv.tv_usec = 0;
	d->gc_ev = event_new(d->base, -1, EV_PERSIST, daemon_gc_cb, d);
	evtimer_add(d->gc_ev, &tv);
	log_info("proxypoold %s ready (%zu pools, redis %s)", PACKAGE_VERSION,
	    conf->npools, redis_where(d->redis));
	return 0;
}

void
daemon_finish(struct daemon *d)
{
	struct client *c;

	server_close_listener(d);
	d->stopping = 1;
	while ((c = TAILQ_FIRST(&d->clients)) != NULL)
		client_close(c);
	gateway_destroy(d->gw);
	d->gw = NULL;
	prober_destroy(d->prober);
	d->prober = NULL;
	metrics_destroy(d->metrics);
	d->metrics = NULL;
	events_destroy(d->events);
	d->events = NULL;
	curlev_destroy(d->curl);
	d->curl = NULL;
	/* answers to dropped requests arrive as BACKEND_DOWN here */
	redis_destroy(d->redis_probe);
	d->redis_probe = NULL;
	redis_destroy(d->redis);
	d->redis = NULL;
	/* after Redis: its dropped calls have come back */
	http_destroy(d->http);
	d->http = NULL;
	waitq_free_all(d);
	embedded_destroy(d->embedded);
	d->embedded = NULL;
	if (d->retry_ev != NULL)
		event_free(d->retry_ev);
	if (d->gc_ev != NULL)
		event_free(d->gc_ev);
	if (d->resync_ev != NULL)
		event_free(d->resync_ev);
	if (d->stop_ev != NULL)
		event_free(d->stop_ev);
	if (d->sig_hup != NULL)
		event_free(d->sig_hup);
	if (d->sig_term != NULL)
		event_free(d->sig_term);
	if (d->sig_int != NULL)
		event_free(d->sig_int);
	free(d->sync_error);
	conf_destroy(d->conf);
	d->conf = NULL;
	plugin_unload_all();
	free(d->conf_path);
	if (d->base != NULL)
		event_base_free(d->base);
	d->base = NULL;
}
