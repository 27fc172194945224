/*
 * cmd_lease.c: LEASE, RENEW, RELEASE and REPORT, and the queues of
 * LEASE ... WAIT requests: one per pool, served in arrival order, one
 * lease call in flight per pool, woken by releases through this daemon
 * (and GC) and by the periodic retry.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "client.h"
#include "cmd.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "redis.h"
#include "req.h"
#include "xmalloc.h"

/* The LEASE ... WAIT requests of one pool, served in arrival order. */
struct waitq {
	char			*pool;		/* owned pool name */
	TAILQ_HEAD(, req)	 reqs;		/* waiting requests, oldest first */
	struct req		*trying;	/* (ref) head with a lease in flight */
	TAILQ_ENTRY(waitq)	 entry;
};

static void cmd_lease_cb(struct ra_async *ra, struct ra_result *res,
    void *arg);
static void waitq_serve(struct daemon *d, struct waitq *wq);

/* Give back a lease nobody will receive. */
static void
cmd_lease_giveback(struct req *r, const struct ra_lease *l)
{
	struct ra_async *ra = redis_ra(r->d->redis);

	if (ra == NULL || ra_async_release(ra, r->args.argv[1], l->token,
	    RA_OUTCOME_NONE, -1, req_ignore_cb, NULL) != 0)
		log_pool(LOG_LEVEL_WARN, r->args.argv[1], "cannot give back "
		    "an unclaimed lease; it expires with its TTL");
}

static void
cmd_lease_reply(struct req *r, const struct ra_lease *l)
{
	struct evbuffer *out = req_out(r);

	resp_array(out, 12);
	resp_field_str(out, "proxy", l->item);
	resp_field_str(out, "token", l->token);
	resp_field_int(out, "expires", l->expires_ms);
	resp_field_int(out, "fence", l->fence);
	resp_field_int(out, "shared", l->shared ? 1 : 0);
	resp_field_int(out, "bound", l->bound ? 1 : 0);
	r->d->stats.leases++;
	if (log_level >= LOG_LEVEL_DEBUG && r->c != NULL)
		log_client(LOG_LEVEL_DEBUG, r->c, "pool %s: leased %s fence "
		    "%lld", r->args.argv[1], l->item, l->fence);
	req_finish(r);
}

static struct waitq *
waitq_get(struct daemon *d, const char *pool)
{
	struct waitq *wq;

	TAILQ_FOREACH(wq, &d->waitqs, entry) {
		if (strcmp(wq->pool, pool) == 0)
			return wq;
	}
	wq = xcalloc(1, sizeof *wq);
	wq->pool = xstrdup(pool);
	TAILQ_INIT(&wq->reqs);
	TAILQ_INSERT_TAIL(&d->waitqs, wq, entry);
	return wq;
}

static struct waitq *
waitq_find(struct daemon *d, const char *pool)
{
	struct waitq *wq;

	TAILQ_FOREACH(wq, &d->waitqs, entry) {
		if (strcmp(wq->pool, pool) == 0)
			return wq;
	}
	return NULL;
}

/* Queue r at the tail of its pool's waiters. */
static void
waitq_add(struct req *r)
{
	struct waitq *wq = waitq_get(r->d, r->args.argv[1]);

	r->wq = wq;
	TAILQ_INSERT_TAIL(&wq->reqs, r, wentry);
}

static void
waitq_remove(struct req *r)
{
	struct waitq *wq = r->wq;

	if (wq == NULL)
		return;
	if (wq->trying == r)
		wq->trying = NULL;
	TAILQ_REMOVE(&wq->reqs, r, wentry);
	r->wq = NULL;
}

/* Try to lease for the oldest waiter of wq (one attempt in flight). */
static void
waitq_serve(struct daemon *d, struct waitq *wq)
{
	struct ra_async *ra;
	struct req *r;

	while (wq->trying == NULL && (r = TAILQ_FIRST(&wq->reqs)) != NULL) {
		if (!req_alive(r)) {
			waitq_remove(r);
			req_maybe_free(r);
			continue;
		}
		if ((ra = redis_ra(d->redis)) == NULL)
			return;
		wq->trying = r;
		r->inflight++;
		req_now(&r->sent);
		if (ra_async_lease(ra, wq->pool, &r->lease, cmd_lease_cb,
		    r) != 0) {
			r->inflight--;
			wq->trying = NULL;
		}
		return;
	}
}

void
waitq_serve_all(struct daemon *d)
{
	struct waitq *wq;

	TAILQ_FOREACH(wq, &d->waitqs, entry)
		waitq_serve(d, wq);
}

void
waitq_fail(struct daemon *d, const char *pool, const char *code,
    const char *msg)
{
	struct waitq *wq;
	struct req *r, *next;

	TAILQ_FOREACH(wq, &d->waitqs, entry) {
		if (pool != NULL && strcmp(pool, wq->pool) != 0)
			continue;
		TAILQ_FOREACH_SAFE(r, &wq->reqs, wentry, next) {
			if (wq->trying == r) {
				/* its callback cleans up */
				req_error(r, code, "%s", msg);
				continue;
			}
			waitq_remove(r);
			if (req_alive(r))
				req_error(r, code, "%s", msg);
			else
				req_maybe_free(r);
		}
	}
}

void
waitq_free_all(struct daemon *d)
{
	struct waitq *wq;

	while ((wq = TAILQ_FIRST(&d->waitqs)) != NULL) {
		TAILQ_REMOVE(&d->waitqs, wq, entry);
		free(wq->pool);
		free(wq);
	}
}

unsigned
waitq_count(struct daemon *d)
{
	struct waitq *wq;
	struct req *r;
	unsigned n = 0;

	TAILQ_FOREACH(wq, &d->waitqs, entry) {
		TAILQ_FOREACH(r, &wq->reqs, wentry)
			n++;
	}
	return n;
}

unsigned
waitq_pool_count(struct daemon *d, const char *pool)
{
	struct waitq *wq;
	struct req *r;
	unsigned n = 0;

	TAILQ_FOREACH(wq, &d->waitqs, entry) {
		if (strcmp(wq->pool, pool) != 0)
			continue;
		TAILQ_FOREACH(r, &wq->reqs, wentry)
			n++;
	}
	return n;
}

static void
cmd_lease_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;
	struct daemon *d = r->d;
	struct waitq *wq = r->wq;
	bool was_trying = wq != NULL && wq->trying == r;

	if (was_trying)
		wq->trying = NULL;
	r->inflight--;
	if (!req_alive(r)) {
		if (res->err == RA_OK)
			cmd_lease_giveback(r, &res->u.lease);
		waitq_remove(r);
		req_maybe_free(r);
		if (wq != NULL)
			waitq_serve(d, wq);
		return;
	}
	if (res->err == RA_OK) {
		struct timeval now, waited;

		req_now(&now);
		timersub(&now, &r->arrived, &waited);
		metrics_lease_wait(d, r->args.argv[1], waited.tv_sec +
		    waited.tv_usec / 1e6);
		waitq_remove(r);
		cmd_lease_reply(r, &res->u.lease);
		if (wq != NULL)
			waitq_serve(d, wq);
		return;
	}
	if (res->err == RA_ERR_EMPTY && r->wait > 0 && !r->wait_over) {
		if (wq == NULL)
			waitq_add(r);
		return;		/* a release or the retry timer wakes it */
	}
	waitq_remove(r);
	if (res->err == RA_ERR_EMPTY)
		d->stats.empty++;
	if (res->err == RA_ERR_EMPTY && r->wait > 0)
		req_error(r, "EMPTY", "no proxy free in pool %s within %g s",
		    r->args.argv[1], r->wait);
	else
		req_ra_error(r, res);
	if (wq != NULL)
		waitq_serve(d, wq);
}

/* The deadline of a LEASE passed: its WAIT, or Redis' timeout. */
static void
lease_deadline(struct req *r)
{
	struct waitq *wq = r->wq;
	struct timeval tv, until;

	/* the WAIT is over but a lease call is out: that call keeps the
	 * rest of its Redis timeout, its answer (or -TRYAGAIN) ends r */
	if (r->wait > 0 && !r->wait_over && r->inflight > 0) {
		r->wait_over = true;
		if (wq != NULL && wq->trying != r)
			waitq_remove(r);
		req_tv(r->d->conf->redis_timeout, &tv);
		timeradd(&r->sent, &tv, &until);
		req_arm(r, req_left(&until));
		return;
	}
	if (r->wait > 0 && !r->wait_over && redis_connected(r->d->redis)) {
		if (wq != NULL && wq->trying != r)
			waitq_remove(r);
		r->d->stats.empty++;
		req_error(r, "EMPTY", "no proxy free in pool %s within %g s",
		    r->args.argv[1], r->wait);
		return;
	}
	if (wq != NULL && wq->trying != r)
		waitq_remove(r);
	req_error(r, "TRYAGAIN", "Redis did not answer within %g s",
	    r->d->conf->redis_timeout);
}

/* A LEASE is answered or abandoned: it leaves its pool's queue, unless
 * its lease call is out (that call's callback takes it off). */
static void
lease_stop(struct req *r)
{
	if (r->wq != NULL && r->wq->trying != r)
		waitq_remove(r);
}

/* LEASE pool [NAME n] [TTL s] [WAIT s] [SHARED] */
void
cmd_lease(struct req *r)
{
	enum { O_NAME, O_TTL, O_WAIT, O_SHARED, O_EXCLUSIVE, O_N };
	static const struct req_opt opts[] = {
		[O_NAME] = { "NAME", OPT_STR, 0, 0 },
		[O_TTL] = { "TTL", OPT_NUM, 0.001, RA_TTL_MAX },
		[O_WAIT] = { "WAIT", OPT_NUM, 0, REQ_WAIT_MAX },
		[O_SHARED] = { "SHARED", OPT_FLAG, 0, 0 },
		[O_EXCLUSIVE] = { "EXCLUSIVE", OPT_FLAG, 0, 0 },
		[O_N] = { NULL, 0, 0, 0 }
	};
	struct req_optval v[O_N];
	struct ra_async *ra;
	struct waitq *wq;
	double timeout = r->d->conf->redis_timeout;

	req_now(&r->arrived);
	r->on_deadline = lease_deadline;
	r->on_stop = lease_stop;
	memset(v, 0, sizeof v);
	if (!req_key(r, 1, "pool") || req_options(r, 2, opts, v) != 0)
		return;
	ra_lease_req_init(&r->lease);
	if (v[O_NAME].set) {
		if (strlen(v[O_NAME].str) == 0 ||
		    strlen(v[O_NAME].str) > RA_KEY_MAX) {
			req_error(r, "BADARG", "bad NAME");
			return;
		}
		r->lease.name = v[O_NAME].str;
	}
	if (v[O_TTL].set)
		r->lease.ttl = v[O_TTL].num;
	if (v[O_SHARED].set && v[O_EXCLUSIVE].set) {
		req_error(r, "BADARG", "SHARED and EXCLUSIVE together");
		return;
	}
	r->lease.shared = v[O_SHARED].set ? 1 : v[O_EXCLUSIVE].set ? 0 : -1;
	if (r->c != NULL)
		snprintf(r->holder, sizeof r->holder, "pid %ld uid %ld",
		    (long)r->c->pid, (long)r->c->uid);
	r->lease.holder = r->holder;
	r->wait = v[O_WAIT].set ? v[O_WAIT].num : 0;
	if ((ra = req_ra(r)) == NULL)
		return;
	/* the WAIT ends r; a lease call out then still gets its Redis
	 * timeout (req_deadline_cb) */
	req_arm(r, r->wait > 0 ? r->wait : timeout);
	/* others are already waiting: queue behind them */
	if (r->wait > 0 && (wq = waitq_find(r->d, r->args.argv[1])) != NULL &&
	    !TAILQ_EMPTY(&wq->reqs)) {
		waitq_add(r);
		waitq_serve(r->d, wq);
		return;
	}
	r->inflight++;
	req_now(&r->sent);
	if (ra_async_lease(ra, r->args.argv[1], &r->lease, cmd_lease_cb,
	    r) != 0)
		req_send_failed(r);
}

/* RENEW pool token [TTL s] */
void
cmd_renew(struct req *r)
{
	enum { O_TTL, O_N };
	static const struct req_opt opts[] = {
		[O_TTL] = { "TTL", OPT_NUM, 0.001, RA_TTL_MAX },
		[O_N] = { NULL, 0, 0, 0 }
	};
	struct req_optval v[O_N];
	struct ra_async *ra;

	memset(v, 0, sizeof v);
	if (!req_key(r, 1, "pool") || !req_key(r, 2, "token") ||
	    req_options(r, 3, opts, v) != 0 || (ra = req_ra(r)) == NULL)
		return;
	REQ_CALL(r, ra_async_renew(ra, r->args.argv[1], r->args.argv[2],
	    v[O_TTL].set ? v[O_TTL].num : RA_TTL_DEFAULT, req_int_cb, r));
}

static void
cmd_release_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;
	struct daemon *d = r->d;
	struct waitq *wq;

	/* a proxy came back: serve this pool's waiters, even if the
	 * releasing client is gone */
	if (res->err == RA_OK) {
		d->stats.releases++;
		metrics_count_release(d, r->args.argv[1],
		    (enum ra_outcome)r->outcome);
		events_ended(d, r->args.argv[1], (enum ra_outcome)r->outcome,
		    res, "RELEASE");
		if ((wq = waitq_find(d, r->args.argv[1])) != NULL)
			waitq_serve(d, wq);
	}
	req_ok_cb(ra, res, arg);
}

/* Parse an outcome word; -1 if it is not one. */
static int
cmd_outcome(const char *s)
{
	if (strcasecmp(s, "OK") == 0)
		return RA_OUTCOME_OK;
	if (strcasecmp(s, "FAILED") == 0)
		return RA_OUTCOME_FAILED;
	if (strcasecmp(s, "BANNED") == 0)
		return RA_OUTCOME_BANNED;
	return -1;
}

/* RELEASE pool token [OK|FAILED|BANNED] [LATENCY ms] */
void
cmd_release(struct req *r)
{
	enum { O_OK, O_FAILED, O_BANNED, O_LATENCY, O_N };
	static const struct req_opt opts[] = {
		[O_OK] = { "OK", OPT_FLAG, 0, 0 },
		[O_FAILED] = { "FAILED", OPT_FLAG, 0, 0 },
		[O_BANNED] = { "BANNED", OPT_FLAG, 0, 0 },
		[O_LATENCY] = { "LATENCY", OPT_NUM, 0, 86400000 },
		[O_N] = { NULL, 0, 0, 0 }
	};
	struct req_optval v[O_N];
	struct ra_async *ra;
	int outcome = RA_OUTCOME_NONE, i;

	memset(v, 0, sizeof v);
	if (!req_key(r, 1, "pool") || !req_key(r, 2, "token") ||
	    req_options(r, 3, opts, v) != 0)
		return;
	/* O_OK, O_FAILED, O_BANNED in the order of RA_OUTCOME_OK... */
	for (i = O_OK; i <= O_BANNED; i++) {
		if (!v[i].set)
			continue;
		if (outcome != RA_OUTCOME_NONE) {
			req_error(r, "BADARG", "one outcome at most");
			return;
		}
		outcome = RA_OUTCOME_OK + (i - O_OK);
	}
	if ((ra = req_ra(r)) == NULL)
		return;
	r->outcome = outcome;
	REQ_CALL(r, ra_async_release(ra, r->args.argv[1], r->args.argv[2],
	    outcome, v[O_LATENCY].set ? v[O_LATENCY].num : -1, cmd_release_cb,
	    r));
}

static void
cmd_report_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;

	if (res->err == RA_OK) {
		metrics_count_report(r->d, r->args.argv[1],
		    (enum ra_outcome)r->outcome);
		events_ended(r->d, r->args.argv[1],
		    (enum ra_outcome)r->outcome, res, "REPORT");
	}
	req_proxy_ok(arg, res, 2);
}

/* REPORT pool proxy OK|FAILED|BANNED [LATENCY ms] */
void
cmd_report(struct req *r)
{
	enum { O_LATENCY, O_N };
	static const struct req_opt opts[] = {
		[O_LATENCY] = { "LATENCY", OPT_NUM, 0, 86400000 },
		[O_N] = { NULL, 0, 0, 0 }
	};
	struct req_optval v[O_N];
	struct ra_async *ra;
	char *url;
	int outcome;

	memset(v, 0, sizeof v);
	if (!req_key(r, 1, "pool"))
		return;
	if ((outcome = cmd_outcome(r->args.argv[3])) < 0) {
		req_error(r, "BADARG", "outcome must be OK, FAILED or BANNED");
		return;
	}
	if (req_options(r, 4, opts, v) != 0 || (url = req_proxy(r, 2)) == NULL)
		return;
	r->outcome = outcome;
	if ((ra = req_ra(r)) != NULL)
		REQ_CALL(r, ra_async_report(ra, r->args.argv[1], url, outcome,
		    v[O_LATENCY].set ? v[O_LATENCY].num : -1, cmd_report_cb, r));
	free(url);
}
