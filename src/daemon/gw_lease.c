/*
 * gw_lease.c: the gateway's leases: one per plain request or tunnel (a
 * WAIT retried every listen.wait_retry, a failed proxy held while the
 * next is leased), and sessions, whose requests share one lease taken
 * by the session's name (a binding) and report their outcomes one by
 * one; the last one out gives the lease back.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/util.h>

#include "daemon.h"
#include "events.h"
#include "gateway.h"
#include "gw_int.h"
#include "log.h"
#include "metrics.h"
#include "proxyurl.h"
#include "redis.h"
#include "xmalloc.h"

/* ------------------------------------------------------------------ */
/* Leases                                                               */
/* ------------------------------------------------------------------ */

static void
gw_ignore_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	if (res->err != RA_OK)
		log_debug("gateway: %s", res->errstr);
	(void)ra;
	(void)arg;
}

struct ra_async *
gw_ra(struct gateway *gw)
{
	return redis_ra(gw->d->redis);
}

/* Give a lease back with an outcome (nobody waits for the answer, so
 * proxypoold_releases_total counts it as sent). */
void
gw_release(struct gateway *gw, const char *pool, const char *token,
    enum ra_outcome o, double latency_ms)
{
	struct ra_async *ra = gw_ra(gw);
	void *w = events_watch(gw->d, pool, o, "gateway");

	if (ra == NULL || ra_async_release(ra, pool, token, o, latency_ms,
	    w != NULL ? events_ended_cb : gw_ignore_cb, w) != 0) {
		log_pool(LOG_LEVEL_WARN, pool, "gateway: cannot release a "
		    "lease; it expires with its TTL");
		free(w);
	} else
		metrics_count_release(gw->d, pool, o);
}

void
gw_count_outcome(struct gw_listener *l, enum ra_outcome o, double lat)
{
	switch (o) {
	case RA_OUTCOME_OK:
		l->stats.ok++;
		break;
	case RA_OUTCOME_FAILED:
		l->stats.failed++;
		break;
	case RA_OUTCOME_BANNED:
		l->stats.banned++;
		break;
	default:
		break;
	}
	if (lat >= 0) {
		l->stats.latency_ms += (unsigned long long)(lat + 0.5);
		l->stats.latency_n++;
	}
}

static void gw_lease_cb(struct ra_async *ra, struct ra_result *res,
    void *arg);

static void
gw_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_req *r = arg;

	gw_req_lease(r);
	(void)fd;
	(void)what;
}

void
gw_req_timer(struct gw_req *r, double s, event_callback_fn cb)
{
	struct timeval tv;

	if (r->timer == NULL)
		r->timer = evtimer_new(r->gw->d->base, cb, r);
	else {
		evtimer_del(r->timer);
		event_assign(r->timer, r->gw->d->base, -1, 0, cb, r);
	}
	gw_tv(s, &tv);
	evtimer_add(r->timer, &tv);
}

static bool
gw_tried(struct gw_req *r, const char *item)
{
	int i;

	for (i = 0; i < r->ntried; i++) {
		if (strcmp(r->tried[i], item) == 0)
			return true;
	}
	return false;
}

/* A lease to use: record it, let the failed one go, connect. */
static void
gw_req_got(struct gw_req *r)
{
	if (r->failed_token != NULL) {
		gw_release(r->gw, r->pool, r->failed_token,
		    RA_OUTCOME_FAILED, -1);
		free(r->failed_token);
		r->failed_token = NULL;
	}
	if (r->ntried < GW_TRIED_MAX)
		r->tried[r->ntried++] = xstrdup(r->lease.item);
	gw_req_upstream(r);
}

/* The lease could not be had: answer the client. */
static void
gw_lease_failed(struct gw_req *r, int err, const char *errstr)
{
	char msg[RA_ERRSTR_LEN + 512];

	if (r->failed_token != NULL) {
		gw_release(r->gw, r->pool, r->failed_token,
		    RA_OUTCOME_FAILED, -1);
		free(r->failed_token);
		r->failed_token = NULL;
	}
	if (r->ntried > 0) {
		/* a retry found nothing else: the first failure stands */
		gw_req_fail(r, r->error_status, "FAILED", r->error);
		return;
	}
	switch (err) {
	case RA_ERR_EMPTY:
		snprintf(msg, sizeof msg, "no free proxy in pool %s",
		    r->pool);
		gw_req_fail(r, 502, "EMPTY", msg);
		break;
	case RA_ERR_NO_SUCH_POOL: {
		char *pools = conf_pool_list(r->gw->d->conf);

		snprintf(msg, sizeof msg, "no such pool '%.200s' (pools: %s)",
		    r->pool, pools);
		free(pools);
		gw_req_fail(r, 502, "NOPOOL", msg);
		break;
	}
	case RA_ERR_BAD_ARGUMENT:
		gw_req_fail(r, 400, "BADARG", errstr);
		break;
	default:
		gw_req_fail(r, 503, "TRYAGAIN", "Redis is unreachable");
		break;
	}
}

static void
gw_lease_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct gw_req *r = arg;

	r->inflight--;
	if (res->err == RA_OK && (r->ended || r->c == NULL)) {
		gw_release(r->gw, r->pool, res->u.lease.token,
		    RA_OUTCOME_NONE, -1);
		ra_lease_deinit(&res->u.lease);
		gw_req_maybe_free(r);
		return;
	}
	if (r->ended || r->c == NULL) {
		gw_req_maybe_free(r);
		return;
	}
	if (res->err == RA_ERR_EMPTY && r->wait_until > gw_now()) {
		gw_req_timer(r, r->set->wait_retry, gw_wait_cb);
		return;
	}
	if (res->err != RA_OK) {
		gw_lease_failed(r, res->err, res->errstr);
		return;
	}
	if (gw_tried(r, res->u.lease.item)) {
		/* a shared pool gave the same proxy again */
		gw_release(r->gw, r->pool, res->u.lease.token,
		    RA_OUTCOME_NONE, -1);
		ra_lease_deinit(&res->u.lease);
		gw_lease_failed(r, RA_ERR_EMPTY, "");
		return;
	}
	r->lease = res->u.lease;
	memset(&res->u.lease, 0, sizeof res->u.lease);
	r->leased = true;
	gw_req_got(r);
	(void)ra;
}

/* ------------------------------------------------------------------ */
/* Sessions                                                             */
/* ------------------------------------------------------------------ */

static struct gw_session *
gw_session_find(struct gateway *gw, const char *pool, const char *id)
{
	struct gw_session *s;

	TAILQ_FOREACH(s, &gw->sessions, entry) {
		if (strcmp(s->pool, pool) == 0 && strcmp(s->id, id) == 0)
			return s;
	}
	return NULL;
}

void
gw_session_free(struct gw_session *s)
{
	TAILQ_REMOVE(&s->gw->sessions, s, entry);
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->held)
		ra_lease_deinit(&s->lease);
	free(s->pool);
	free(s->id);
	free(s->last);
	free(s);
}

static void gw_session_timer_cb(evutil_socket_t fd, short what, void *arg);

static void
gw_session_arm(struct gw_session *s, double sec)
{
	struct timeval tv;

	if (s->timer == NULL)
		s->timer = evtimer_new(s->gw->d->base, gw_session_timer_cb, s);
	gw_tv(sec, &tv);
	evtimer_add(s->timer, &tv);
}

/* How often a held lease is renewed: a third of its TTL. */
double
gw_renew_every(long long expires_ms, double ttl)
{
	double left;

	if (ttl > 0)
		return ttl / 3;
	left = (double)expires_ms / 1000.0 - (double)time(NULL);
	return left > 3 ? left / 3 : 1;
}

static void
gw_session_renew_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct gw_session *s = arg;

	(void)ra;
	if (res->err != RA_OK && res->err != RA_ERR_BACKEND_DOWN)
		log_pool(LOG_LEVEL_WARN, s->pool, "gateway session %s: "
		    "renew: %s", s->id, res->errstr);
}

static void
gw_session_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_session *s = arg;
	struct ra_async *ra;

	(void)fd;
	(void)what;
	if (!s->held) {
		if (s->refs == 0 && !s->leasing)
			gw_session_free(s);
		return;
	}
	/* renew the lease and slide the binding */
	if ((ra = gw_ra(s->gw)) != NULL) {
		ra_async_renew(ra, s->pool, s->lease.token, s->lease_ttl,
		    gw_session_renew_cb, s);
		ra_async_bind(ra, s->pool, s->id, s->lease.item,
		    s->ttl > 0 ? s->ttl : RA_TTL_DEFAULT, gw_ignore_cb, NULL);
	}
	gw_session_arm(s, gw_renew_every(s->lease.expires_ms,
	    s->lease_ttl));
}

static void
gw_session_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct gw_session *s = arg;
	struct gw_req *r, *next;

	(void)ra;
	s->leasing = false;
	if (res->err == RA_OK && TAILQ_EMPTY(&s->waiting)) {
		/* every request gave up */
		gw_release(s->gw, s->pool, res->u.lease.token,
		    RA_OUTCOME_NONE, -1);
		ra_lease_deinit(&res->u.lease);
		gw_session_arm(s, s->ttl > 0 ? s->ttl : 3600);
		return;
	}
	if (res->err == RA_OK) {
		s->lease = res->u.lease;
		memset(&res->u.lease, 0, sizeof res->u.lease);
		s->held = true;
		s->moved = s->last != NULL && strcmp(s->last,
		    s->lease.item) != 0;
		if (s->moved)
			log_pool(LOG_LEVEL_INFO, s->pool, "gateway session "
			    "%s moves to another proxy", s->id);
		free(s->last);
		s->last = xstrdup(s->lease.item);
		gw_session_arm(s, gw_renew_every(s->lease.expires_ms,
		    s->lease_ttl));
	}
	TAILQ_FOREACH_SAFE(r, &s->waiting, sentry, next) {
		TAILQ_REMOVE(&s->waiting, r, sentry);
		r->swaiting = false;
		r->inflight--;
		if (r->ended || r->c == NULL) {
			gw_req_maybe_free(r);
			continue;
		}
		if (res->err != RA_OK) {
			r->sess = NULL;
			gw_lease_failed(r, res->err, res->errstr);
			continue;
		}
		s->refs++;
		r->lease.item = s->lease.item;
		memcpy(r->lease.token, s->lease.token, sizeof r->lease.token);
		r->leased = true;
		gw_req_got(r);
	}
	if (!s->held && s->refs == 0)
		gw_session_arm(s, 0);
}

/* Lease for a request of a session. */
void
gw_session_lease(struct gw_req *r)
{
	struct gateway *gw = r->gw;
	struct gw_session *s;
	struct ra_lease_req lr;
	struct ra_async *ra;

	if ((s = gw_session_find(gw, r->pool, r->session)) == NULL) {
		s = xcalloc(1, sizeof *s);
		s->gw = gw;
		s->pool = xstrdup(r->pool);
		s->id = xstrdup(r->session);
		TAILQ_INIT(&s->waiting);
		TAILQ_INSERT_TAIL(&gw->sessions, s, entry);
	}
	s->ttl = r->session_ttl;
	s->lease_ttl = r->set->c.lease_ttl > 0 ? r->set->c.lease_ttl :
	    RA_TTL_DEFAULT;
	r->sess = s;
	if (s->held) {
		s->refs++;
		r->lease.item = s->lease.item;
		memcpy(r->lease.token, s->lease.token, sizeof r->lease.token);
		r->leased = true;
		gw_req_got(r);
		return;
	}
	TAILQ_INSERT_TAIL(&s->waiting, r, sentry);
	r->swaiting = true;
	r->inflight++;
	if (s->leasing)
		return;
	if ((ra = gw_ra(gw)) == NULL) {
		struct ra_result res;

		memset(&res, 0, sizeof res);
		res.err = RA_ERR_BACKEND_DOWN;
		snprintf(res.errstr, sizeof res.errstr, "Redis is "
		    "unreachable");
		s->leasing = true;
		gw_session_cb(NULL, &res, s);
		return;
	}
	ra_lease_req_init(&lr);
	lr.name = s->id;
	lr.ttl = s->lease_ttl;
	lr.bind_ttl = s->ttl > 0 ? s->ttl : RA_TTL_DEFAULT;
	lr.holder = r->holder;
	s->leasing = true;
	if (ra_async_lease(ra, s->pool, &lr, gw_session_cb, s) != 0) {
		struct ra_result res;

		memset(&res, 0, sizeof res);
		res.err = RA_ERR_BACKEND_DOWN;
		snprintf(res.errstr, sizeof res.errstr, "Redis is "
		    "unreachable");
		gw_session_cb(NULL, &res, s);
	}
}

/* A request of a session is over: report its outcome; the last one out
 * gives the lease back. */
void
gw_session_put(struct gw_req *r)
{
	struct gw_session *s = r->sess;
	struct ra_async *ra;
	void *w;

	if (r->swaiting) {
		TAILQ_REMOVE(&s->waiting, r, sentry);
		r->swaiting = false;
		r->inflight--;
		r->sess = NULL;
		return;
	}
	if (!r->leased)
		return;
	if (r->outcome != RA_OUTCOME_NONE && (ra = gw_ra(r->gw)) != NULL) {
		w = events_watch(r->gw->d, s->pool, r->outcome, "gateway");
		if (ra_async_report(ra, s->pool, s->lease.item, r->outcome,
		    r->latency_ms, w != NULL ? events_ended_cb : gw_ignore_cb,
		    w) != 0)
			free(w);
	}
	r->leased = false;
	r->lease.item = NULL;
	r->sess = NULL;
	if (--s->refs > 0 || !s->held)
		return;
	gw_release(r->gw, s->pool, s->lease.token, RA_OUTCOME_NONE, -1);
	ra_lease_deinit(&s->lease);
	s->held = false;
	/* forgotten after its binding would have ended */
	if (s->timer != NULL)
		evtimer_del(s->timer);
	gw_session_arm(s, s->ttl > 0 ? s->ttl : 3600);
}

void
gw_req_lease(struct gw_req *r)
{
	struct ra_lease_req lr;
	struct ra_async *ra;

	if (r->session != NULL) {
		gw_session_lease(r);
		return;
	}
	if ((ra = gw_ra(r->gw)) == NULL) {
		gw_lease_failed(r, RA_ERR_BACKEND_DOWN, "");
		return;
	}
	ra_lease_req_init(&lr);
	lr.ttl = r->set->c.lease_ttl > 0 ? r->set->c.lease_ttl :
	    RA_TTL_DEFAULT;
	lr.holder = r->holder;
	r->inflight++;
	if (ra_async_lease(ra, r->pool, &lr, gw_lease_cb, r) != 0) {
		r->inflight--;
		gw_lease_failed(r, RA_ERR_BACKEND_DOWN, "");
	}
}
