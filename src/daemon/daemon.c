/*
 * daemon.c: proxypoold's life on the loop: start-up (embedded Redis,
 * Redis connection, socket), pool sync to Redis on every connection and
 * reload, signals (SIGHUP reload, SIGTERM/SIGINT graceful stop, a second
 * one exits at once), the waiter retry timer and a periodic GC sweep.
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
#include "daemon.h"
#include "embedded.h"
#include "log.h"
#include "plugin.h"
#include "prober.h"
#include "redis.h"
#include "resp.h"
#include "server.h"
#include "xmalloc.h"

#define DAEMON_GC_INTERVAL	5	/* s between GC sweeps */
/* Reclaimed per kind by one sweep call: the most the library gives one
 * call (half a batch, about 1 ms of Redis time). */
#define DAEMON_GC_COUNT		(RA_BATCH_DEFAULT / 2)
#define DAEMON_RESYNC_DELAY	2	/* s before retrying a failed sync */
#define DAEMON_PROBE_BURST	16	/* probe callbacks between polls */
#define DAEMON_PROBE_US		500	/* or this long, whichever first */

/* One pool sync call came back. */
static void
daemon_sync_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct daemon *d = arg;
	struct req *r;

	if (res->err != RA_OK) {
		log_warn("pool sync: %s", res->errstr);
		if (d->sync_error == NULL)
			d->sync_error = xstrdup(res->errstr);
	}
	if (--d->syncing > 0)
		return;
	if (d->sync_error == NULL)
		log_info("pools synced to Redis");
	/* the RELOAD that asked for this sync, if its client is still here */
	r = d->reload_req;
	d->reload_req = NULL;
	if (r != NULL && req_back(r)) {
		if (d->sync_error != NULL)
			req_error(r, "TRYAGAIN", "configuration loaded, but "
			    "the pool sync failed: %s (it is retried on "
			    "reconnect)", d->sync_error);
		else {
			resp_status(req_out(r), "OK");
			req_finish(r);
		}
	}
	/* Redis answered but could not take the pools (loading, read-only
	 * replica, out of memory): try again soon, not only on reconnect */
	if (d->sync_error != NULL && redis_connected(d->redis) &&
	    !d->stopping) {
		struct timeval tv = { DAEMON_RESYNC_DELAY, 0 };

		evtimer_add(d->resync_ev, &tv);
	}
	free(d->sync_error);
	d->sync_error = NULL;
	waitq_serve_all(d);
	if (d->reload_pending) {
		d->reload_pending = false;
		daemon_reload(d, NULL, NULL);
	}
}

void
daemon_sync_pools(struct daemon *d, const struct conf *old)
{
	struct ra_async *ra = redis_ra(d->redis);
	const struct conf_pool *p;
	size_t i;

	if (ra == NULL)
		return;
	d->syncing++;	/* hold: the callbacks may not finish first */
	for (i = 0; old != NULL && i < old->npools; i++) {
		if (conf_pool_find(d->conf, old->pools[i].name) != NULL)
			continue;
		log_pool(LOG_LEVEL_INFO, old->pools[i].name, "removed from "
		    "the configuration: draining");
		waitq_fail(d, old->pools[i].name, "NOPOOL", "pool removed");
		d->syncing++;
		if (ra_async_pool_delete(ra, old->pools[i].name,
		    daemon_sync_cb, d) != 0)
			d->syncing--;
	}
	for (i = 0; i < d->conf->npools; i++) {
		p = &d->conf->pools[i];
		d->syncing++;
		if (ra_async_pool_create(ra, p->name, &p->ra, daemon_sync_cb,
		    d) != 0) {
			d->syncing--;
			continue;
		}
		d->syncing++;
		if (ra_async_assign(ra, p->name, p->items, p->nitems,
		    daemon_sync_cb, d) != 0)
			d->syncing--;
		log_pool(LOG_LEVEL_DEBUG, p->name, "sync: %zu proxies",
		    p->nitems);
	}
	/* release the hold through the same path */
	{
		struct ra_result res;

		memset(&res, 0, sizeof res);
		daemon_sync_cb(ra, &res, d);
	}
}

/* A pool sync failed while Redis was up: again, unless one runs. */
static void
daemon_resync_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct daemon *d = arg;

	if (d->syncing == 0 && !d->stopping) {
		log_info("retrying the pool sync");
		daemon_sync_pools(d, NULL);
	}
}

/* (Re)start the waiter retry timer at the configured listen.wait_retry. */
static void
daemon_arm_retry(struct daemon *d)
{
	struct timeval tv;

	tv.tv_sec = (time_t)d->conf->wait_retry;
	tv.tv_usec = (suseconds_t)((d->conf->wait_retry - (double)tv.tv_sec) *
	    1e6);
	evtimer_add(d->retry_ev, &tv);
}

/* Redis (re)connected: make sure it has our pools. */
static void
daemon_connected(void *arg)
{
	struct daemon *d = arg;

	daemon_sync_pools(d, NULL);
	prober_kick(d->prober);
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

int
daemon_reload(struct daemon *d, struct req *r, char **cause)
{
	struct conf *next, *old;
	char *why = NULL, *kept;

	sd_notify(0, "RELOADING=1");
	if (d->syncing > 0) {
		if (r == NULL) {
			d->reload_pending = true;
			return 0;
		}
		xasprintf(cause, "the previous reload is still being applied; "
		    "try again");
		sd_notify(0, "READY=1");
		return -1;
	}
	if ((next = conf_load(d->conf_path, &why)) == NULL) {
		d->stats.reload_failures++;
		log_warn("reload failed, keeping the running configuration: %s",
		    why);
		if (cause != NULL)
			*cause = why;
		else
			free(why);
		sd_notify(0, "READY=1");
		return -1;
	}
	/* the checks are part of the configuration: all or nothing */
	if (prober_configure(d->prober, next, &why) != 0) {
		d->stats.reload_failures++;
		log_warn("reload failed, keeping the running configuration: %s",
		    why);
		conf_destroy(next);
		if (cause != NULL)
			*cause = why;
		else
			free(why);
		sd_notify(0, "READY=1");
		return -1;
	}
	if ((kept = conf_keep_noreload(d->conf, next)) != NULL) {
		log_warn("reload: %s cannot change without a restart; the "
		    "running values stay", kept);
		free(kept);
	}
	if (!conf_same_log(d->conf, next)) {
		if (log_open(next->log_file, next->log_syslog, next->log_level,
		    &why) != 0) {
			log_warn("reload: log: %s; keeping the old log", why);
			free(why);
		}
	}
	log_level = next->log_level;
	redis_set_timeout(d->redis, next->redis_timeout);
	redis_set_timeout(d->redis_probe, next->redis_timeout);
	old = d->conf;
	d->conf = next;
	server_apply_conf(d);
	if (next->wait_retry != old->wait_retry)
		daemon_arm_retry(d);
	d->stats.reloads++;
	log_info("configuration reloaded from %s (%zu pools)", d->conf_path,
	    next->npools);
	if (r != NULL && redis_connected(d->redis)) {
		d->reload_req = r;	/* held until the sync ends */
		r->inflight++;
	} else if (r != NULL) {
		log_warn("reload: Redis is unreachable; pools sync on "
		    "reconnect");
		resp_status(req_out(r), "OK");
		req_finish(r);
	}
	daemon_sync_pools(d, old);
	conf_destroy(old);
	sd_notify(0, "READY=1");
	return 0;
}

static void
daemon_sighup_cb(evutil_socket_t sig, short ev, void *arg)
{
	struct daemon *d = arg;

	log_info("SIGHUP: reloading %s", d->conf_path);
	log_reopen();
	daemon_reload(d, NULL, NULL);
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
	if (d->stopping && d->nclients == 0)
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
 * A gc call answered.  One that reclaimed DAEMON_GC_COUNT of a kind may
 * have left more behind, so the next call goes at once, until the backlog of
 * a mass expiry is gone.
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
	if (res->err == RA_OK && !d->stopping && (g->leases >= full ||
	    g->bindings >= full || g->items >= full || g->quarantine >= full)) {
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
	d->on_reload = daemon_reload;
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
	if (server_listen(d, cause) != 0)
		return -1;
	if ((d->prober = prober_create(d->base, daemon_prober_ra, d)) == NULL) {
		xasprintf(cause, "cannot create the curl multi handle");
		return -1;
	}
	/* probe replies wait while clients' are served, as probes do */
	redis_set_priority(d->redis_probe, prober_priority(d->prober));
	if (prober_configure(d->prober, conf, cause) != 0)
		return -1;
	d->resync_ev = evtimer_new(d->base, daemon_resync_cb, d);
	redis_start(d->redis);
	redis_start(d->redis_probe);

	d->retry_ev = event_new(d->base, -1, EV_PERSIST, daemon_retry_cb, d);
	daemon_arm_retry(d);
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
	prober_destroy(d->prober);
	d->prober = NULL;
	/* answers to dropped requests arrive as BACKEND_DOWN here */
	redis_destroy(d->redis_probe);
	d->redis_probe = NULL;
	redis_destroy(d->redis);
	d->redis = NULL;
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
