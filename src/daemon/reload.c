/*
 * reload.c: the configuration and the pools in Redis: RELOAD and SIGHUP
 * (all or nothing: a file or check that does not load keeps the running
 * configuration), the sync of every configured pool to Redis on each
 * connection and reload (pools removed from the file drain), its retry
 * when Redis answered but could not take them, and the LEASE ... WAIT
 * retry timer whose period the configuration sets.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "cmd.h"
#include "compat.h"
#include "conf.h"
#include "gateway.h"
#include "http.h"
#include "log.h"
#include "prober.h"
#include "redis.h"
#include "reload.h"
#include "req.h"
#include "server.h"
#include "xmalloc.h"

#define RELOAD_RESYNC_DELAY	2	/* s before a failed sync is retried */

/* One pool sync call came back. */
static void
sync_cb(struct ra_async *ra, struct ra_result *res, void *arg)
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
	if (d->sync_error == NULL) {
		log_info("pools synced to Redis");
		prober_items_added(d->prober, NULL);
	}
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
		struct timeval tv = { RELOAD_RESYNC_DELAY, 0 };

		evtimer_add(d->resync_ev, &tv);
	}
	free(d->sync_error);
	d->sync_error = NULL;
	waitq_serve_all(d);
	if (d->reload_pending) {
		d->reload_pending = false;
		reload_config(d, NULL, NULL);
	}
}

void
reload_sync_pools(struct daemon *d, const struct conf *old)
{
	struct ra_async *ra = redis_ra(d->redis);
	const struct conf_pool *p;
	char *msg, *pools;
	size_t i;

	if (ra == NULL)
		return;
	d->syncing++;	/* hold: the callbacks may not finish first */
	for (i = 0; old != NULL && i < old->npools; i++) {
		if (conf_pool_find(d->conf, old->pools[i].name) != NULL)
			continue;
		log_pool(LOG_LEVEL_INFO, old->pools[i].name, "removed from "
		    "the configuration: draining");
		pools = conf_pool_list(d->conf);
		xasprintf(&msg, "pool '%.200s' was removed by a reload "
		    "(pools: %s)", old->pools[i].name, pools);
		waitq_fail(d, old->pools[i].name, "NOPOOL", msg);
		free(msg);
		free(pools);
		d->syncing++;
		if (ra_async_pool_delete(ra, old->pools[i].name,
		    sync_cb, d) != 0)
			d->syncing--;
	}
	for (i = 0; i < d->conf->npools; i++) {
		p = &d->conf->pools[i];
		d->syncing++;
		if (ra_async_pool_create(ra, p->name, &p->ra, sync_cb,
		    d) != 0) {
			d->syncing--;
			continue;
		}
		d->syncing++;
		if (ra_async_assign(ra, p->name, p->items, p->nitems,
		    sync_cb, d) != 0)
			d->syncing--;
		log_pool(LOG_LEVEL_DEBUG, p->name, "sync: %zu proxies",
		    p->nitems);
	}
	/* release the hold through the same path */
	{
		struct ra_result res;

		memset(&res, 0, sizeof res);
		sync_cb(ra, &res, d);
	}
}

/* A pool sync failed while Redis was up: again, unless one runs. */
void
reload_resync_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct daemon *d = arg;

	if (d->syncing == 0 && !d->stopping) {
		log_info("retrying the pool sync");
		reload_sync_pools(d, NULL);
	}
}

/* (Re)start the waiter retry timer at the configured listen.wait_retry. */
void
reload_arm_retry(struct daemon *d)
{
	struct timeval tv;

	tv.tv_sec = (time_t)d->conf->wait_retry;
	tv.tv_usec = (suseconds_t)((d->conf->wait_retry - (double)tv.tv_sec) *
	    1e6);
	evtimer_add(d->retry_ev, &tv);
}

/* What a configuration is applied to besides d->conf, in order. */
enum { RELOAD_PROBER, RELOAD_GATEWAY, RELOAD_HTTP, RELOAD_STAGES };

static int
reload_stage(struct daemon *d, int stage, const struct conf *c, char **why)
{
	switch (stage) {
	case RELOAD_PROBER:
		return prober_configure(d->prober, c, why);
	case RELOAD_GATEWAY:
		return gateway_configure(d->gw, c, why);
	default:
		return http_configure(d->http, c, why);
	}
}

/* A reload refused: say why, keep the running configuration. */
static int
reload_refused(struct daemon *d, struct conf *next, char *why, char **cause)
{
	d->stats.reload_failures++;
	log_warn("reload failed, keeping the running configuration: %s", why);
	conf_destroy(next);
	if (cause != NULL)
		*cause = why;
	else
		free(why);
	sd_notify(0, "READY=1");
	return -1;
}

int
reload_config(struct daemon *d, struct req *r, char **cause)
{
	struct conf *next, *old;
	char *why = NULL, *kept;
	int stage;

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
	if ((next = conf_load(d->conf_path, &why)) == NULL)
		return reload_refused(d, NULL, why, cause);
	/* the checks, the gateway's listeners and the HTTP endpoint are
	 * part of the configuration: all or nothing */
	for (stage = 0; stage < RELOAD_STAGES; stage++) {
		if (reload_stage(d, stage, next, &why) == 0)
			continue;
		while (--stage >= 0) {
			if (reload_stage(d, stage, d->conf, &kept) != 0)
				free(kept);
		}
		return reload_refused(d, next, why, cause);
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
		reload_arm_retry(d);
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
	reload_sync_pools(d, old);
	conf_destroy(old);
	sd_notify(0, "READY=1");
	return 0;
}
