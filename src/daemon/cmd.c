/*
 * cmd.c: the commands of the proxypoold socket.  A table maps each word to
 * its arity, flags (admin, write, needs Redis) and handler; handlers parse
 * KEYWORD value options with one shared parser, call the asynchronous
 * allocator and answer from its callback.  Every call carries a deadline
 * so no request hangs when Redis does.  LEASE ... WAIT requests queue per
 * pool and are served in arrival order.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "cmd.h"
#include "embedded.h"
#include "log.h"
#include "plugin.h"
#include "prober.h"
#include "proxyurl.h"
#include "redis.h"
#include "server.h"
#include "xmalloc.h"

#define CMD_WAIT_MAX	3600.0	/* longest LEASE ... WAIT, s */
#define CMD_LIST_MAX	10000	/* LIST COUNT bound */

/* ------------------------------------------------------------------ */
/* Requests                                                             */
/* ------------------------------------------------------------------ */

/* Free r once nothing refers to it any more. */
static void
req_maybe_free(struct req *r)
{
	if (!r->answered || r->inflight > 0 || r->wq != NULL)
		return;
	if (r->deadline != NULL)
		event_free(r->deadline);
	if (r->retry != NULL)
		event_free(r->retry);
	resp_args_free(&r->args);
	if (r->hcounts != NULL) {
		/* one per name, or one for STATS pool */
		size_t i, n = r->names.n > 0 ? r->names.n : 1;

		for (i = 0; i < n; i++)
			ra_health_counts_deinit(&r->hcounts[i]);
	}
	ra_strlist_deinit(&r->names);
	free(r->counts);
	free(r->hcounts);
	free(r);
}

/* Stop the timers of r and take it off the LOCK waiters: it is answered
 * or abandoned. */
static void
req_stop(struct req *r)
{
	if (r->deadline != NULL)
		evtimer_del(r->deadline);
	if (r->retry != NULL)
		evtimer_del(r->retry);
	if (r->lockwait) {
		TAILQ_REMOVE(&r->d->lockwaits, r, lentry);
		r->lockwait = false;
	}
}

/* The monotonic clock as a timeval. */
static void
req_now(struct timeval *tv)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = (suseconds_t)(ts.tv_nsec / 1000);
}

/* Seconds as a timeval. */
static void
req_tv(double seconds, struct timeval *tv)
{
	if (seconds < 0)
		seconds = 0;
	tv->tv_sec = (time_t)seconds;
	tv->tv_usec = (suseconds_t)((seconds - (double)tv->tv_sec) * 1e6);
	if (tv->tv_usec >= 1000000)
		tv->tv_usec = 999999;
}

/* Seconds from now until the monotonic time *until (0 when passed). */
static double
req_left(const struct timeval *until)
{
	struct timeval now, left;

	req_now(&now);
	if (!timercmp(&now, until, <))
		return 0;
	timersub(until, &now, &left);
	return (double)left.tv_sec + (double)left.tv_usec / 1e6;
}

static bool
req_alive(const struct req *r)
{
	return r->c != NULL && !r->answered;
}

struct evbuffer *
req_out(struct req *r)
{
	if (!req_alive(r))
		return NULL;
	return r->c->reply;
}

void
req_finish(struct req *r)
{
	struct client *c = r->c;
	struct daemon *d = r->d;

	r->answered = true;
	req_stop(r);
	if (c != NULL) {
		client_flush(c);
		r->c = NULL;
		c->req = NULL;
		event_base_gettimeofday_cached(d->base, &c->answered);
		if (d->stopping) {
			client_close_after_write(c);
			/* written whole: no write callback will close it */
			if (evbuffer_get_length(bufferevent_get_output(c->bev))
			    == 0)
				client_close(c);
		} else
			client_process(c);
	}
	req_maybe_free(r);
	daemon_check_stopped(d);
}

void
req_error(struct req *r, const char *code, const char *fmt, ...)
{
	struct evbuffer *out;
	char *msg, *red;
	va_list ap;

	if ((out = req_out(r)) == NULL) {
		req_maybe_free(r);
		return;
	}
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	red = proxyurl_redact_text(msg);
	resp_error(out, "%s %s", code, red);
	free(red);
	free(msg);
	r->d->stats.errors++;
	if (strcmp(code, "TRYAGAIN") == 0)
		r->d->stats.tryagain++;
	req_finish(r);
}

/* The code word of an allocator error. */
static const char *
req_code(int err)
{
	switch (err) {
	case RA_ERR_EMPTY:
		return "EMPTY";
	case RA_ERR_NOT_OWNED:
		return "NOTOWNED";
	case RA_ERR_NO_SUCH_POOL:
		return "NOPOOL";
	case RA_ERR_BAD_ARGUMENT:
		return "BADARG";
	case RA_ERR_BUSY:
		return "BUSY";
	case RA_ERR_IO:
	case RA_ERR_BACKEND_DOWN:
	case RA_ERR_TIMEOUT:
		return "TRYAGAIN";
	default:
		return "ERR";
	}
}

/* Answer an allocator error. */
static void
req_ra_error(struct req *r, const struct ra_result *res)
{
	req_error(r, req_code(res->err), "%s", res->errstr[0] ? res->errstr :
	    ra_strerror(res->err));
}

/* A callback of r came back: one less in flight.  Returns false (and
 * frees r when possible) if r must not be answered any more. */
bool
req_back(struct req *r)
{
	r->inflight--;
	if (req_alive(r))
		return true;
	req_maybe_free(r);
	return false;
}

/* A call of r came back with res: true when r is to be answered from
 * it, false when r is gone or got res' error as its answer. */
static bool
req_result(struct req *r, const struct ra_result *res)
{
	if (!req_back(r))
		return false;
	if (res->err != RA_OK) {
		req_ra_error(r, res);
		return false;
	}
	return true;
}

static void req_deadline_cb(evutil_socket_t fd, short ev, void *arg);

/* Arm the deadline of r: seconds from now. */
static void
req_arm(struct req *r, double seconds)
{
	struct timeval tv;

	if (r->deadline == NULL)
		r->deadline = evtimer_new(r->d->base, req_deadline_cb, r);
	req_tv(seconds, &tv);
	evtimer_add(r->deadline, &tv);
}

/* The allocator, or NULL after answering -TRYAGAIN. */
static struct ra_async *
req_ra(struct req *r)
{
	struct ra_async *ra;

	if ((ra = redis_ra(r->d->redis)) == NULL) {
		req_error(r, "TRYAGAIN", "Redis is unreachable");
		return NULL;
	}
	return ra;
}

/* An async call could not be queued: Redis went away. */
static void
req_send_failed(struct req *r)
{
	r->inflight--;
	req_error(r, "TRYAGAIN", "Redis is unreachable");
}

void
cmd_abandon(struct req *r)
{
	struct waitq *wq = r->wq;

	r->c = NULL;
	r->answered = true;
	req_stop(r);
	if (wq != NULL && wq->trying != r) {
		TAILQ_REMOVE(&wq->reqs, r, wentry);
		r->wq = NULL;
	}
	req_maybe_free(r);
}

/* ------------------------------------------------------------------ */
/* Option parsing                                                       */
/* ------------------------------------------------------------------ */

enum cmd_opt_type {
	OPT_FLAG,		/* a keyword alone */
	OPT_NUM,		/* keyword and a number within bounds */
	OPT_STR			/* keyword and a word */
};

/* One keyword a command accepts. */
struct cmd_opt {
	const char		*name;
	enum cmd_opt_type	 type;
	double			 min;
	double			 max;
};

/* What the parser found for one keyword. */
struct cmd_optval {
	bool		 set;
	double		 num;
	const char	*str;		/* (ref into args) */
};

/*
 * Parse KEYWORD [value] pairs in any order from args[first..]; vals has
 * one slot per opts entry.  Answers -BADARG and returns -1 on anything
 * unknown, repeated, missing or out of range.
 */
static int
cmd_options(struct req *r, int first, const struct cmd_opt *opts,
    struct cmd_optval *vals)
{
	struct resp_args *a = &r->args;
	const struct cmd_opt *o;
	struct cmd_optval *v;
	char *e;
	int i;

	for (i = first; i < a->argc; i++) {
		for (o = opts; o->name != NULL; o++) {
			if (strcasecmp(o->name, a->argv[i]) == 0)
				break;
		}
		if (o->name == NULL) {
			req_error(r, "BADARG", "unknown option '%.64s' for %s",
			    a->argv[i], r->cmd->name);
			return -1;
		}
		v = &vals[o - opts];
		if (v->set) {
			req_error(r, "BADARG", "%s given twice", o->name);
			return -1;
		}
		v->set = true;
		if (o->type == OPT_FLAG)
			continue;
		if (++i >= a->argc) {
			req_error(r, "BADARG", "%s needs a value", o->name);
			return -1;
		}
		v->str = a->argv[i];
		if (o->type == OPT_STR)
			continue;
		errno = 0;
		v->num = strtod(a->argv[i], &e);
		if (errno || *e != '\0' || e == a->argv[i] ||
		    !isfinite(v->num) || v->num < o->min || v->num > o->max) {
			req_error(r, "BADARG", "%s must be a number from %g to "
			    "%g", o->name, o->min, o->max);
			return -1;
		}
	}
	return 0;
}

/* Normalise the proxy URL in args[i]; answers -BADARG on failure. */
static char *
cmd_proxy(struct req *r, int i)
{
	char *url, *cause;

	if (strlen(r->args.argv[i]) != r->args.len[i]) {
		req_error(r, "BADARG", "proxy URL contains a NUL byte");
		return NULL;
	}
	if ((url = proxyurl_normalise(r->args.argv[i], &cause)) == NULL) {
		req_error(r, "BADARG", "%s", cause);
		free(cause);
	}
	return url;
}

/* Check a key-like argument (pool, name, token): 1..RA_KEY_MAX bytes
 * without NUL. */
static bool
cmd_key(struct req *r, int i, const char *what)
{
	if (r->args.len[i] == 0 || r->args.len[i] > RA_KEY_MAX ||
	    strlen(r->args.argv[i]) != r->args.len[i]) {
		req_error(r, "BADARG", "bad %s (1 to %d bytes, no NUL)", what,
		    RA_KEY_MAX);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* LEASE and its waiters                                                */
/* ------------------------------------------------------------------ */

static void cmd_lease_cb(struct ra_async *ra, struct ra_result *res,
    void *arg);
static void waitq_serve(struct daemon *d, struct waitq *wq);

static void
cmd_ignore_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	if (res->err != RA_OK)
		log_debug("background call: %s", res->errstr);
}

/* Give back a lease nobody will receive. */
static void
cmd_lease_giveback(struct req *r, const struct ra_lease *l)
{
	struct ra_async *ra = redis_ra(r->d->redis);

	if (ra == NULL || ra_async_release(ra, r->args.argv[1], l->token,
	    RA_OUTCOME_NONE, -1, cmd_ignore_cb, NULL) != 0)
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

static void
req_deadline_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct req *r = arg;
	struct waitq *wq = r->wq;
	struct timeval tv, until;

	if (!req_alive(r))
		return;
	if (r->wait > 0 && redis_connected(r->d->redis) &&
	    strcmp(r->cmd->name, "LOCK") == 0) {
		req_error(r, "BUSY", "lock %.200s still held after %g s",
		    r->args.argv[1], r->wait);
		return;
	}
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

/* LEASE pool [NAME n] [TTL s] [WAIT s] [SHARED] */
static void
cmd_lease(struct req *r)
{
	static const struct cmd_opt opts[] = {
		{ "NAME", OPT_STR, 0, 0 },
		{ "TTL", OPT_NUM, 0.001, 315360000 },
		{ "WAIT", OPT_NUM, 0, CMD_WAIT_MAX },
		{ "SHARED", OPT_FLAG, 0, 0 },
		{ "EXCLUSIVE", OPT_FLAG, 0, 0 },
		{ NULL, 0, 0, 0 }
	};
	struct cmd_optval v[5];
	struct ra_async *ra;
	struct waitq *wq;
	double timeout = r->d->conf->redis_timeout;

	memset(v, 0, sizeof v);
	if (!cmd_key(r, 1, "pool") || cmd_options(r, 2, opts, v) != 0)
		return;
	ra_lease_req_init(&r->lease);
	if (v[0].set) {
		if (strlen(v[0].str) == 0 || strlen(v[0].str) > RA_KEY_MAX) {
			req_error(r, "BADARG", "bad NAME");
			return;
		}
		r->lease.name = v[0].str;
	}
	if (v[1].set)
		r->lease.ttl = v[1].num;
	if (v[3].set && v[4].set) {
		req_error(r, "BADARG", "SHARED and EXCLUSIVE together");
		return;
	}
	r->lease.shared = v[3].set ? 1 : v[4].set ? 0 : -1;
	if (r->c != NULL)
		snprintf(r->holder, sizeof r->holder, "pid %ld uid %ld",
		    (long)r->c->pid, (long)r->c->uid);
	r->lease.holder = r->holder;
	r->wait = v[2].set ? v[2].num : 0;
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

/* ------------------------------------------------------------------ */
/* Simple allocator commands                                            */
/* ------------------------------------------------------------------ */

/* +OK on success. */
static void
cmd_ok_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;

	if (!req_result(r, res))
		return;
	resp_status(req_out(r), "OK");
	req_finish(r);
}

/* The integer result. */
static void
cmd_int_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;

	if (!req_result(r, res))
		return;
	resp_int(req_out(r), res->u.integer);
	req_finish(r);
}

/* :1 when something changed, :0 when there was nothing (NOT_FOUND). */
static void
cmd_bool_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;

	if (!req_back(r))
		return;
	if (res->err == RA_ERR_NOT_FOUND) {
		resp_int(req_out(r), 0);
		req_finish(r);
		return;
	}
	if (res->err != RA_OK) {
		req_ra_error(r, res);
		return;
	}
	resp_int(req_out(r), res->u.integer > 0 ? 1 : 0);
	req_finish(r);
}

/* Start an async call: inflight accounting and the Redis deadline. */
#define CMD_CALL(r, call) do {						\
	(r)->inflight++;						\
	req_arm((r), (r)->d->conf->redis_timeout);			\
	if ((call) != 0)						\
		req_send_failed(r);					\
} while (0)

/* RENEW pool token [TTL s] */
static void
cmd_renew(struct req *r)
{
	static const struct cmd_opt opts[] = {
		{ "TTL", OPT_NUM, 0.001, 315360000 },
		{ NULL, 0, 0, 0 }
	};
	struct cmd_optval v[1];
	struct ra_async *ra;

	memset(v, 0, sizeof v);
	if (!cmd_key(r, 1, "pool") || !cmd_key(r, 2, "token") ||
	    cmd_options(r, 3, opts, v) != 0 || (ra = req_ra(r)) == NULL)
		return;
	CMD_CALL(r, ra_async_renew(ra, r->args.argv[1], r->args.argv[2],
	    v[0].set ? v[0].num : RA_TTL_DEFAULT, cmd_int_cb, r));
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
		if ((wq = waitq_find(d, r->args.argv[1])) != NULL)
			waitq_serve(d, wq);
	}
	cmd_ok_cb(ra, res, arg);
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
static void
cmd_release(struct req *r)
{
	static const struct cmd_opt opts[] = {
		{ "OK", OPT_FLAG, 0, 0 },
		{ "FAILED", OPT_FLAG, 0, 0 },
		{ "BANNED", OPT_FLAG, 0, 0 },
		{ "LATENCY", OPT_NUM, 0, 86400000 },
		{ NULL, 0, 0, 0 }
	};
	struct cmd_optval v[4];
	struct ra_async *ra;
	int outcome = RA_OUTCOME_NONE, i;

	memset(v, 0, sizeof v);
	if (!cmd_key(r, 1, "pool") || !cmd_key(r, 2, "token") ||
	    cmd_options(r, 3, opts, v) != 0)
		return;
	for (i = 0; i < 3; i++) {
		if (!v[i].set)
			continue;
		if (outcome != RA_OUTCOME_NONE) {
			req_error(r, "BADARG", "one outcome at most");
			return;
		}
		outcome = RA_OUTCOME_OK + i;
	}
	if ((ra = req_ra(r)) == NULL)
		return;
	CMD_CALL(r, ra_async_release(ra, r->args.argv[1], r->args.argv[2],
	    outcome, v[3].set ? v[3].num : -1, cmd_release_cb, r));
}

/* REPORT pool proxy OK|FAILED|BANNED [LATENCY ms] */
static void
cmd_report(struct req *r)
{
	static const struct cmd_opt opts[] = {
		{ "LATENCY", OPT_NUM, 0, 86400000 },
		{ NULL, 0, 0, 0 }
	};
	struct cmd_optval v[1];
	struct ra_async *ra;
	char *url;
	int outcome;

	memset(v, 0, sizeof v);
	if (!cmd_key(r, 1, "pool"))
		return;
	if ((outcome = cmd_outcome(r->args.argv[3])) < 0) {
		req_error(r, "BADARG", "outcome must be OK, FAILED or BANNED");
		return;
	}
	if (cmd_options(r, 4, opts, v) != 0 || (url = cmd_proxy(r, 2)) == NULL)
		return;
	if ((ra = req_ra(r)) != NULL)
		CMD_CALL(r, ra_async_report(ra, r->args.argv[1], url, outcome,
		    v[0].set ? v[0].num : -1, cmd_ok_cb, r));
	free(url);
}

/* BIND pool name proxy [TTL s] */
static void
cmd_bind(struct req *r)
{
	static const struct cmd_opt opts[] = {
		{ "TTL", OPT_NUM, 0, 315360000 },
		{ NULL, 0, 0, 0 }
	};
	struct cmd_optval v[1];
	struct ra_async *ra;
	char *url;

	memset(v, 0, sizeof v);
	if (!cmd_key(r, 1, "pool") || !cmd_key(r, 2, "name") ||
	    cmd_options(r, 4, opts, v) != 0 || (url = cmd_proxy(r, 3)) == NULL)
		return;
	if ((ra = req_ra(r)) != NULL)
		CMD_CALL(r, ra_async_bind(ra, r->args.argv[1], r->args.argv[2],
		    url, v[0].set ? v[0].num : RA_TTL_DEFAULT, cmd_ok_cb, r));
	free(url);
}

/* UNBIND pool name */
static void
cmd_unbind(struct req *r)
{
	struct ra_async *ra;

	if (!cmd_key(r, 1, "pool") || !cmd_key(r, 2, "name") ||
	    (ra = req_ra(r)) == NULL)
		return;
	CMD_CALL(r, ra_async_unbind(ra, r->args.argv[1], r->args.argv[2],
	    cmd_bool_cb, r));
}

static void
cmd_binding_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;
	char *red;

	if (!req_back(r))
		return;
	if (res->err == RA_ERR_NOT_FOUND) {
		resp_nil(req_out(r));
		req_finish(r);
		return;
	}
	if (res->err != RA_OK) {
		req_ra_error(r, res);
		return;
	}
	if (res->u.str == NULL)
		resp_nil(req_out(r));
	else {
		red = proxyurl_redact(res->u.str);
		resp_str(req_out(r), red);
		free(red);
	}
	req_finish(r);
}

/* BINDING pool name */
static void
cmd_binding(struct req *r)
{
	struct ra_async *ra;

	if (!cmd_key(r, 1, "pool") || !cmd_key(r, 2, "name") ||
	    (ra = req_ra(r)) == NULL)
		return;
	CMD_CALL(r, ra_async_binding(ra, r->args.argv[1], r->args.argv[2],
	    cmd_binding_cb, r));
}

/* An array of strings (names: no redaction needed). */
static void
cmd_strs_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;
	struct evbuffer *out;
	size_t i;

	if (!req_result(r, res))
		return;
	out = req_out(r);
	resp_array(out, (long long)res->u.strs.n);
	for (i = 0; i < res->u.strs.n; i++)
		resp_str(out, res->u.strs.v[i]);
	req_finish(r);
}

/* BINDINGS pool proxy */
static void
cmd_bindings(struct req *r)
{
	struct ra_async *ra;
	char *url;

	if (!cmd_key(r, 1, "pool") || (url = cmd_proxy(r, 2)) == NULL)
		return;
	if ((ra = req_ra(r)) != NULL)
		CMD_CALL(r, ra_async_bindings(ra, r->args.argv[1], url,
		    cmd_strs_cb, r));
	free(url);
}

/* POOLS */
static void
cmd_pools(struct req *r)
{
	struct ra_async *ra;

	if ((ra = req_ra(r)) != NULL)
		CMD_CALL(r, ra_async_pools(ra, cmd_strs_cb, r));
}

/* One pool's STATS as a flat field/value array: the allocator's counts,
 * the health counts of every instance (Redis) and this instance's probes. */
static void
cmd_stats_one(struct req *r, struct evbuffer *out, const char *pool,
    const struct ra_counts *k, const struct ra_health_counts *h)
{
	struct prober_stats ps;
	struct evbuffer *e;
	size_t i, len;
	char *text;

	prober_stats(r->d->prober, pool, &ps);
	resp_array(out, 34);
	resp_field_str(out, "pool", pool);
	resp_field_int(out, "total", k->total);
	resp_field_int(out, "free", k->free);
	resp_field_int(out, "leased", k->leased);
	resp_field_int(out, "shared", k->shared);
	resp_field_int(out, "quarantined", k->quarantined);
	resp_field_int(out, "draining", k->draining);
	resp_field_int(out, "leases", k->leases);
	resp_field_int(out, "bindings", k->bindings);
	resp_field_str(out, "check", ps.active ? ps.type : "none");
	resp_field_int(out, "up", h->up);
	resp_field_int(out, "down", h->down);
	resp_field_int(out, "probes", h->probes);
	resp_field_int(out, "local_probes", (long long)ps.probes);
	resp_field_int(out, "probes_per_sec", llround(ps.probes_per_sec));
	resp_field_int(out, "probes_inflight", ps.inflight);
	/* errors by reason, every instance: "reason=count; ..." */
	e = evbuffer_new();
	for (i = 0; i < h->errors.n; i++)
		evbuffer_add_printf(e, "%s%s", i ? "; " : "", h->errors.v[i]);
	len = evbuffer_get_length(e);
	text = xmalloc(len + 1);
	evbuffer_remove(e, text, len);
	text[len] = '\0';
	evbuffer_free(e);
	resp_field_str(out, "errors", text);
	free(text);
}

/* Both answers of one pool came: keep them (index i of the request). */
static void
cmd_stats_keep(struct req *r, size_t i, struct ra_result *res, bool health)
{
	if (res->err == RA_OK) {
		if (health) {
			r->hcounts[i] = res->u.hcounts;
			memset(&res->u.hcounts, 0, sizeof res->u.hcounts);
		} else
			r->counts[i] = res->u.counts;
	} else if (res->err == RA_ERR_NO_SUCH_POOL)
		r->counts[i].total = -1;	/* deleted meanwhile */
	else if (r->err == RA_OK) {
		r->err = res->err;
		memcpy(r->errstr, res->errstr, sizeof r->errstr);
	}
}

/* STATS pool: both answers are in (or the calls failed): reply. */
static void
cmd_stats_done(struct req *r)
{
	if (!req_alive(r)) {
		req_maybe_free(r);
		return;
	}
	if (r->err != RA_OK) {
		req_error(r, req_code(r->err), "%s", r->errstr);
		return;
	}
	if (r->counts[0].total < 0) {
		req_error(r, "NOPOOL", "no such pool");
		return;
	}
	cmd_stats_one(r, req_out(r), r->args.argv[1], &r->counts[0],
	    &r->hcounts[0]);
	req_finish(r);
}

/* STATS pool: counts then health counts, answered together. */
static void
cmd_stats_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;
	bool health = r->done++ == 1;

	cmd_stats_keep(r, 0, res, health);
	if (!req_back(r) || r->inflight > 0)
		return;
	cmd_stats_done(r);
}

/* STATS without a pool: two calls per pool (counts, health counts),
 * answered together; replies come back in order on one connection. */
static void
cmd_stats_all_counts_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;
	struct evbuffer *out;
	size_t i, idx = r->done++, n = 0;

	cmd_stats_keep(r, idx / 2, res, idx % 2 == 1);
	if (!req_back(r) || r->inflight > 0)
		return;
	if (r->err != RA_OK) {
		req_error(r, req_code(r->err), "%s", r->errstr);
		return;
	}
	out = req_out(r);
	for (i = 0; i < r->names.n; i++)
		n += r->counts[i].total >= 0;
	resp_array(out, (long long)n);
	for (i = 0; i < r->names.n; i++) {
		if (r->counts[i].total >= 0)
			cmd_stats_one(r, out, r->names.v[i], &r->counts[i],
			    &r->hcounts[i]);
	}
	req_finish(r);
}

static void
cmd_stats_all_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;
	size_t i;
	int rc;

	if (!req_result(r, res))
		return;
	/* take the names: the result is freed after this callback */
	r->names = res->u.strs;
	memset(&res->u.strs, 0, sizeof res->u.strs);
	if (r->names.n == 0) {
		resp_array(req_out(r), 0);
		req_finish(r);
		return;
	}
	r->counts = xcalloc(r->names.n, sizeof *r->counts);
	r->hcounts = xcalloc(r->names.n, sizeof *r->hcounts);
	for (i = 0; i < 2 * r->names.n; i++) {
		r->inflight++;
		if (i % 2 == 0)
			rc = ra_async_counts(ra, r->names.v[i / 2],
			    cmd_stats_all_counts_cb, r);
		else
			rc = ra_async_health_counts(ra, r->names.v[i / 2],
			    cmd_stats_all_counts_cb, r);
		if (rc != 0) {
			r->inflight--;
			if (r->inflight == 0)
				req_error(r, "TRYAGAIN", "Redis is unreachable");
			else if (r->err == RA_OK) {
				r->err = RA_ERR_BACKEND_DOWN;
				snprintf(r->errstr, sizeof r->errstr,
				    "Redis is unreachable");
			}
			return;
		}
	}
}

/* STATS [pool] */
static void
cmd_stats(struct req *r)
{
	struct ra_async *ra;

	if (r->args.argc == 2 && !cmd_key(r, 1, "pool"))
		return;
	if ((ra = req_ra(r)) == NULL)
		return;
	if (r->args.argc == 2) {
		r->counts = xcalloc(1, sizeof *r->counts);
		r->hcounts = xcalloc(1, sizeof *r->hcounts);
		/* hold r while queueing: a callback may run at once */
		r->inflight++;
		req_arm(r, r->d->conf->redis_timeout);
		r->inflight++;
		if (ra_async_counts(ra, r->args.argv[1], cmd_stats_cb, r) != 0)
			r->inflight--;
		else {
			r->inflight++;
			if (ra_async_health_counts(ra, r->args.argv[1],
			    cmd_stats_cb, r) != 0)
				r->inflight--;
		}
		if (r->done + (size_t)r->inflight < 3 && r->err == RA_OK) {
			r->err = RA_ERR_BACKEND_DOWN;
			snprintf(r->errstr, sizeof r->errstr,
			    "Redis is unreachable");
		}
		if (--r->inflight == 0)
			cmd_stats_done(r);
	} else
		CMD_CALL(r, ra_async_pools(ra, cmd_stats_all_cb, r));
}

static void
cmd_list_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;
	struct evbuffer *out;
	const struct ra_item_info *it;
	char cur[32], *red;
	size_t i;

	if (!req_result(r, res))
		return;
	out = req_out(r);
	resp_array(out, 2);
	snprintf(cur, sizeof cur, "%llu", res->u.list.cursor);
	resp_str(out, cur);
	resp_array(out, (long long)res->u.list.n);
	for (i = 0; i < res->u.list.n; i++) {
		it = &res->u.list.items[i];
		resp_array(out, 16);
		red = proxyurl_redact(it->key);
		resp_field_str(out, "proxy", red);
		free(red);
		resp_field_str(out, "state", ra_state_name(it->state));
		resp_field_int(out, "priority", it->priority);
		resp_field_int(out, "holders", it->holders);
		resp_field_int(out, "expires", it->expires_ms);
		resp_field_int(out, "until", it->until_ms);
		resp_field_int(out, "failures", it->failures);
		resp_field_int(out, "latency", llround(it->latency_ms));
	}
	req_finish(r);
}

/* LIST pool [STATE s] [CURSOR c] [COUNT n] */
static void
cmd_list(struct req *r)
{
	static const struct cmd_opt opts[] = {
		{ "STATE", OPT_STR, 0, 0 },
		{ "CURSOR", OPT_STR, 0, 0 },
		{ "COUNT", OPT_NUM, 1, CMD_LIST_MAX },
		{ NULL, 0, 0, 0 }
	};
	struct cmd_optval v[3];
	struct ra_async *ra;
	unsigned long long cursor = 0;
	int state = RA_STATE_ANY;
	char *e;

	memset(v, 0, sizeof v);
	if (!cmd_key(r, 1, "pool") || cmd_options(r, 2, opts, v) != 0)
		return;
	if (v[0].set && strcasecmp(v[0].str, "any") != 0 &&
	    (state = ra_state_parse(v[0].str)) < 0) {
		req_error(r, "BADARG", "unknown STATE (free, leased, shared, "
		    "quarantined, draining)");
		return;
	}
	if (v[1].set) {
		errno = 0;
		cursor = strtoull(v[1].str, &e, 10);
		if (errno || *e != '\0' || e == v[1].str ||
		    !isdigit((unsigned char)v[1].str[0])) {
			req_error(r, "BADARG", "bad CURSOR");
			return;
		}
	}
	if (v[2].set && v[2].num != floor(v[2].num)) {
		req_error(r, "BADARG", "COUNT must be an integer");
		return;
	}
	if ((ra = req_ra(r)) == NULL)
		return;
	CMD_CALL(r, ra_async_list(ra, r->args.argv[1], state, cursor,
	    v[2].set ? (unsigned)v[2].num : 100, cmd_list_cb, r));
}

/* ADD pool url [PRIORITY p] [EXPIRES s] */
static void
cmd_add(struct req *r)
{
	static const struct cmd_opt opts[] = {
		{ "PRIORITY", OPT_NUM, -1000000, 1000000 },
		{ "EXPIRES", OPT_NUM, 0, 315360000 },
		{ NULL, 0, 0, 0 }
	};
	struct cmd_optval v[2];
	struct ra_async *ra;
	struct ra_item item;
	char *url;

	memset(v, 0, sizeof v);
	if (!cmd_key(r, 1, "pool") || cmd_options(r, 3, opts, v) != 0)
		return;
	if (v[0].set && v[0].num != floor(v[0].num)) {
		req_error(r, "BADARG", "PRIORITY must be an integer");
		return;
	}
	if ((url = cmd_proxy(r, 2)) == NULL)
		return;
	item.key = url;
	item.priority = v[0].set ? (int)v[0].num : 0;
	item.expires = v[1].set ? v[1].num : 0;
	if ((ra = req_ra(r)) != NULL) {
		if (r->c != NULL)
			log_client(LOG_LEVEL_INFO, r->c, "pool %s: ADD %s",
			    r->args.argv[1], url);
		CMD_CALL(r, ra_async_add(ra, r->args.argv[1], &item, 1,
		    cmd_ok_cb, r));
	}
	free(url);
}

/* REMOVE pool url */
static void
cmd_remove(struct req *r)
{
	struct ra_async *ra;
	const char *keys[1];
	char *url;

	if (!cmd_key(r, 1, "pool") || (url = cmd_proxy(r, 2)) == NULL)
		return;
	keys[0] = url;
	if ((ra = req_ra(r)) != NULL) {
		if (r->c != NULL)
			log_client(LOG_LEVEL_INFO, r->c, "pool %s: REMOVE %s",
			    r->args.argv[1], url);
		CMD_CALL(r, ra_async_remove(ra, r->args.argv[1], keys, 1,
		    cmd_bool_cb, r));
	}
	free(url);
}

static void
cmd_gc_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;
	struct evbuffer *out;

	if (!req_result(r, res))
		return;
	out = req_out(r);
	resp_array(out, 8);
	resp_field_int(out, "leases", res->u.gc.leases);
	resp_field_int(out, "bindings", res->u.gc.bindings);
	resp_field_int(out, "items", res->u.gc.items);
	resp_field_int(out, "quarantine", res->u.gc.quarantine);
	if (res->u.gc.leases > 0 || res->u.gc.quarantine > 0)
		waitq_serve_all(r->d);
	req_finish(r);
}

/* GC pool */
static void
cmd_gc(struct req *r)
{
	struct ra_async *ra;

	if (!cmd_key(r, 1, "pool") || (ra = req_ra(r)) == NULL)
		return;
	CMD_CALL(r, ra_async_gc(ra, r->args.argv[1], RA_BATCH_DEFAULT,
	    cmd_gc_cb, r));
}

/* The on-demand check of CHECK finished. */
static void
cmd_check_done(void *arg, const struct pp_result *res)
{
	static const char *const verdicts[] = { "UP", "WARN", "DOWN",
	    "UNKNOWN" };
	struct req *r = arg;
	struct evbuffer *out;
	char lat[32];

	if (!req_back(r))
		return;
	out = req_out(r);
	resp_array(out, 6);
	resp_field_str(out, "verdict", verdicts[res->verdict]);
	if (res->latency_ms >= 0)
		snprintf(lat, sizeof lat, "%.1f", res->latency_ms);
	else
		snprintf(lat, sizeof lat, "-1");
	resp_field_str(out, "latency", lat);
	resp_field_str(out, "reason", res->reason);
	req_finish(r);
}

/* CHECK pool url: run the pool's check on url now (the health state is
 * not touched); answered when the check ends, within its timeout. */
static void
cmd_check(struct req *r)
{
	char *url, *cause;

	if (!cmd_key(r, 1, "pool") || (url = cmd_proxy(r, 2)) == NULL)
		return;
	r->inflight++;
	if (prober_check_now(r->d->prober, r->args.argv[1], url,
	    cmd_check_done, r, &cause) != 0) {
		r->inflight--;
		req_error(r, "ERR", "%s", cause);
		free(cause);
	}
	free(url);
}

/* RELOAD */
static void
cmd_reload(struct req *r)
{
	char *cause = NULL;

	if (r->d->syncing > 0) {
		req_error(r, "TRYAGAIN", "pools are being synced to Redis "
		    "(a reload or a reconnection); try again");
		return;
	}
	if (daemon_reload(r->d, r, &cause) != 0) {
		req_error(r, "ERR", "%s", cause);
		free(cause);
	}
	/* else answered when the pools are synced */
}

/* INFO: the daemon's state, Redis INFO style. */
static void
cmd_info(struct req *r)
{
	struct daemon *d = r->d;
	const struct daemon_stats *s = &d->stats;
	struct evbuffer *b = evbuffer_new();
	struct req *lr;
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
	TAILQ_FOREACH(lr, &d->lockwaits, lentry)
		nlock++;
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
	evbuffer_add_printf(b, "# Stats\r\ncommands:%llu\r\nleases:%llu\r\n"
	    "empty:%llu\r\nreleases:%llu\r\nerrors:%llu\r\ntryagain:%llu\r\n"
	    "denied:%llu\r\naccepted:%llu\r\nrejected:%llu\r\n"
	    "protocol_errors:%llu\r\nreloads:%llu\r\nreload_failures:%llu\r\n"
	    "gc_continued:%llu\r\n\r\n", s->commands, s->leases, s->empty,
	    s->releases, s->errors, s->tryagain, s->denied, s->accepted,
	    s->rejected, s->protocol, s->reloads, s->reload_failures,
	    s->gc_continued);
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
			    "per_sec=%.1f,inflight=%u,up=%llu,warn=%llu,"
			    "down=%llu,unknown=%llu\r\n",
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

/* METRICS: the daemon's counters and, when Redis answered, each
 * configured pool's proxies by state, in Prometheus text format. */
static void
cmd_metrics_reply(struct req *r)
{
	static const char *const states[] = { "free", "leased", "shared",
	    "quarantined", "draining" };
	struct daemon *d = r->d;
	const struct daemon_stats *s = &d->stats;
	const struct ra_counts *k;
	struct evbuffer *b;
	long long v[5];
	size_t len, i, j;
	char *text;

	if (!req_alive(r)) {
		req_maybe_free(r);
		return;
	}
	b = evbuffer_new();

#define COUNTER(n, h, v) evbuffer_add_printf(b, "# HELP proxypoold_" n	\
	" " h "\n# TYPE proxypoold_" n " counter\nproxypoold_" n " %llu\n", \
	(unsigned long long)(v))
#define GAUGE(n, h, v) evbuffer_add_printf(b, "# HELP proxypoold_" n	\
	" " h "\n# TYPE proxypoold_" n " gauge\nproxypoold_" n " %llu\n", \
	(unsigned long long)(v))
	COUNTER("commands_total", "Requests dispatched.", s->commands);
	COUNTER("leases_total", "Leases granted.", s->leases);
	COUNTER("lease_empty_total", "LEASE answered EMPTY.", s->empty);
	COUNTER("releases_total", "Leases released.", s->releases);
	COUNTER("errors_total", "Error replies.", s->errors);
	COUNTER("tryagain_total", "TRYAGAIN replies (Redis unreachable).",
	    s->tryagain);
	COUNTER("denied_total", "Admin commands denied.", s->denied);
	COUNTER("connections_total", "Connections accepted.", s->accepted);
	COUNTER("connections_rejected_total", "Connections over max_clients.",
	    s->rejected);
	COUNTER("protocol_errors_total", "Clients closed on bad requests.",
	    s->protocol);
	COUNTER("reloads_total", "Successful reloads.", s->reloads);
	COUNTER("reload_failures_total", "Rejected reloads.",
	    s->reload_failures);
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
	if (r->counts != NULL) {
		evbuffer_add_printf(b, "# HELP proxypoold_pool_proxies Proxies "
		    "of a pool by state (Redis).\n# TYPE proxypoold_pool_proxies "
		    "gauge\n");
		for (i = 0; i < r->names.n; i++) {
			k = &r->counts[i];
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
				    r->names.v[i], states[j], v[j]);
		}
		evbuffer_add_printf(b, "# HELP proxypoold_pool_leases Leases "
		    "held in a pool (Redis).\n# TYPE proxypoold_pool_leases "
		    "gauge\n");
		for (i = 0; i < r->names.n; i++) {
			if (r->counts[i].total >= 0)
				evbuffer_add_printf(b, "proxypoold_pool_leases"
				    "{pool=\"%s\"} %lld\n", r->names.v[i],
				    r->counts[i].leases);
		}
	}
	len = evbuffer_get_length(b);
	text = xmalloc(len + 1);
	evbuffer_remove(b, text, len);
	evbuffer_free(b);
	resp_bulk(req_out(r), text, len);
	free(text);
	req_finish(r);
}

/* One pool's counts for METRICS came back. */
static void
cmd_metrics_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;

	if (res->err == RA_OK)
		r->counts[r->done] = res->u.counts;
	else
		r->counts[r->done].total = -1;	/* left out */
	r->done++;
	if (!req_back(r) || r->inflight > 0)
		return;
	cmd_metrics_reply(r);
}

/* METRICS: ask Redis for each configured pool's counts (pipelined), then
 * answer; without Redis the daemon's own metrics only. */
static void
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
	r->inflight++;		/* hold r while queueing */
	req_arm(r, conf->redis_timeout);
	for (i = 0; i < r->names.n; i++) {
		r->inflight++;
		if (ra_async_counts(ra, r->names.v[i], cmd_metrics_cb,
		    r) != 0) {
			/* not queued: this and the rest are left out */
			r->inflight--;
			for (; i < r->names.n; i++)
				r->counts[i].total = -1;
			break;
		}
	}
	if (--r->inflight == 0)
		cmd_metrics_reply(r);
}

/* ------------------------------------------------------------------ */
/* LOCK and UNLOCK                                                      */
/* ------------------------------------------------------------------ */

#define CMD_LOCK_POLL	0.25	/* s between LOCK ... WAIT attempts at most
				   (for unlocks through other daemons) */

static void cmd_lock_send(struct req *r);

static void
cmd_lock_retry_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct req *r = arg;

	if (req_alive(r))
		cmd_lock_send(r);
}

/* Retry r after seconds, as a LOCK waiter an UNLOCK of its name wakes. */
static void
cmd_lock_later(struct req *r, double seconds)
{
	struct timeval tv;

	if (r->retry == NULL)
		r->retry = evtimer_new(r->d->base, cmd_lock_retry_cb, r);
	req_tv(seconds, &tv);
	evtimer_add(r->retry, &tv);
	if (!r->lockwait) {
		TAILQ_INSERT_TAIL(&r->d->lockwaits, r, lentry);
		r->lockwait = true;
	}
}

/* The lock name was released through this daemon: its waiters try at
 * once (from the loop, in arrival order). */
static void
cmd_lock_wake(struct daemon *d, const char *name)
{
	struct req *r;

	TAILQ_FOREACH(r, &d->lockwaits, lentry) {
		if (r->inflight == 0 && strcmp(r->args.argv[1], name) == 0)
			cmd_lock_later(r, 0);
	}
}

void
lockwait_fail_all(struct daemon *d, const char *code, const char *msg)
{
	struct req *r, *next;

	TAILQ_FOREACH_SAFE(r, &d->lockwaits, lentry, next)
		req_error(r, code, "%s", msg);
}

static void
cmd_lock_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;
	double wait, left;

	if (!req_back(r))
		return;
	if (res->err == RA_ERR_BUSY && r->wait > 0 &&
	    (left = req_left(&r->wait_until)) > 0) {
		/* try again when the holder's TTL runs out, or sooner */
		wait = res->u.integer > 0 ? (double)res->u.integer / 1e3 :
		    CMD_LOCK_POLL;
		if (wait > CMD_LOCK_POLL)
			wait = CMD_LOCK_POLL;
		if (wait > left)
			wait = left;
		cmd_lock_later(r, wait);
		return;
	}
	if (res->err != RA_OK) {
		req_ra_error(r, res);
		return;
	}
	resp_int(req_out(r), res->u.integer);
	req_finish(r);
}

/* One LOCK attempt. */
static void
cmd_lock_send(struct req *r)
{
	struct ra_async *ra;
	double ttl = strtod(r->args.argv[3], NULL);

	if ((ra = req_ra(r)) == NULL)
		return;
	r->inflight++;
	if (ra_async_lock(ra, r->args.argv[1], r->args.argv[2], ttl,
	    RA_LOCK_REENTRANT, cmd_lock_cb, r) != 0)
		req_send_failed(r);
}

/* LOCK name owner ttl [WAIT s] */
static void
cmd_lock(struct req *r)
{
	static const struct cmd_opt opts[] = {
		{ "WAIT", OPT_NUM, 0, CMD_WAIT_MAX },
		{ NULL, 0, 0, 0 }
	};
	struct cmd_optval v[1];
	char errstr[RA_ERRSTR_LEN], *e;
	struct timeval now, tv;
	double ttl, timeout = r->d->conf->redis_timeout;

	memset(v, 0, sizeof v);
	if (!cmd_key(r, 1, "lock name") || !cmd_key(r, 2, "owner") ||
	    cmd_options(r, 4, opts, v) != 0)
		return;
	errno = 0;
	ttl = strtod(r->args.argv[3], &e);
	if (errno || *e != '\0' || e == r->args.argv[3] || !isfinite(ttl)) {
		req_error(r, "BADARG", "ttl must be a number of seconds");
		return;
	}
	if (ra_lock_check(r->args.argv[1], r->args.argv[2], ttl, errstr) != 0) {
		req_error(r, "BADARG", "%s", errstr);
		return;
	}
	r->wait = v[0].set ? v[0].num : 0;
	req_now(&now);
	req_tv(r->wait, &tv);
	timeradd(&now, &tv, &r->wait_until);
	req_arm(r, r->wait + timeout);
	cmd_lock_send(r);
}

static void
cmd_unlock_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;

	if (res->err == RA_OK)
		cmd_lock_wake(r->d, r->args.argv[1]);
	cmd_ok_cb(ra, res, arg);
}

/* UNLOCK name owner */
static void
cmd_unlock(struct req *r)
{
	struct ra_async *ra;
	char errstr[RA_ERRSTR_LEN];

	if (!cmd_key(r, 1, "lock name") || !cmd_key(r, 2, "owner"))
		return;
	if (ra_lock_check(r->args.argv[1], r->args.argv[2], 1, errstr) != 0) {
		req_error(r, "BADARG", "%s", errstr);
		return;
	}
	if ((ra = req_ra(r)) == NULL)
		return;
	CMD_CALL(r, ra_async_unlock(ra, r->args.argv[1], r->args.argv[2],
	    cmd_unlock_cb, r));
}

static void
cmd_ping(struct req *r)
{
	if (r->args.argc == 2)
		resp_bulk(req_out(r), r->args.argv[1], r->args.len[1]);
	else
		resp_status(req_out(r), "PONG");
	req_finish(r);
}

static void
cmd_quit(struct req *r)
{
	struct client *c = r->c;

	resp_status(req_out(r), "OK");
	client_close_after_write(c);
	req_finish(r);
}

/* CLIENT SETNAME and friends: accepted and ignored, for client libraries
 * that send them on connect. */
static void
cmd_client(struct req *r)
{
	if (strcasecmp(r->args.argv[1], "GETNAME") == 0)
		resp_nil(req_out(r));
	else if (strcasecmp(r->args.argv[1], "ID") == 0)
		resp_int(req_out(r), (long long)r->c->id);
	else
		resp_status(req_out(r), "OK");
	req_finish(r);
}

/* COMMAND (redis-cli asks for command docs): nothing to tell. */
static void
cmd_command(struct req *r)
{
	resp_array(req_out(r), 0);
	req_finish(r);
}

static const struct cmd_entry cmd_table[] = {
	{ "LEASE", 2, 10, CMD_WRITE | CMD_REDIS, cmd_lease,
	    "LEASE pool [NAME n] [TTL s] [WAIT s] [SHARED]" },
	{ "RENEW", 3, 5, CMD_WRITE | CMD_REDIS, cmd_renew,
	    "RENEW pool token [TTL s]" },
	{ "RELEASE", 3, 6, CMD_WRITE | CMD_REDIS, cmd_release,
	    "RELEASE pool token [OK|FAILED|BANNED] [LATENCY ms]" },
	{ "REPORT", 4, 6, CMD_WRITE | CMD_REDIS, cmd_report,
	    "REPORT pool proxy OK|FAILED|BANNED [LATENCY ms]" },
	{ "BIND", 4, 6, CMD_WRITE | CMD_REDIS, cmd_bind,
	    "BIND pool name proxy [TTL s]" },
	{ "UNBIND", 3, 3, CMD_WRITE | CMD_REDIS, cmd_unbind,
	    "UNBIND pool name" },
	{ "BINDING", 3, 3, CMD_REDIS, cmd_binding, "BINDING pool name" },
	{ "BINDINGS", 3, 3, CMD_REDIS, cmd_bindings, "BINDINGS pool proxy" },
	{ "POOLS", 1, 1, CMD_REDIS, cmd_pools, "POOLS" },
	{ "STATS", 1, 2, CMD_REDIS, cmd_stats, "STATS [pool]" },
	{ "LIST", 2, 8, CMD_ADMIN | CMD_REDIS, cmd_list,
	    "LIST pool [STATE s] [CURSOR c] [COUNT n]" },
	{ "ADD", 3, 7, CMD_ADMIN | CMD_WRITE | CMD_REDIS, cmd_add,
	    "ADD pool url [PRIORITY p] [EXPIRES s]" },
	{ "REMOVE", 3, 3, CMD_ADMIN | CMD_WRITE | CMD_REDIS, cmd_remove,
	    "REMOVE pool url" },
	{ "CHECK", 3, 3, CMD_ADMIN, cmd_check, "CHECK pool url" },
	{ "GC", 2, 2, CMD_ADMIN | CMD_WRITE | CMD_REDIS, cmd_gc, "GC pool" },
	{ "RELOAD", 1, 1, CMD_ADMIN, cmd_reload, "RELOAD" },
	{ "INFO", 1, 2, 0, cmd_info, "INFO" },
	{ "METRICS", 1, 1, CMD_ADMIN, cmd_metrics, "METRICS" },
	{ "LOCK", 4, 6, CMD_WRITE | CMD_REDIS, cmd_lock,
	    "LOCK name owner ttl [WAIT s]" },
	{ "UNLOCK", 3, 3, CMD_WRITE | CMD_REDIS, cmd_unlock,
	    "UNLOCK name owner" },
	{ "PING", 1, 2, 0, cmd_ping, "PING [message]" },
	{ "QUIT", 1, 1, 0, cmd_quit, "QUIT" },
	{ "CLIENT", 2, -1, 0, cmd_client, "CLIENT subcommand ..." },
	{ "COMMAND", 1, -1, 0, cmd_command, "COMMAND" },
	{ NULL, 0, 0, 0, NULL, NULL }
};

void
cmd_dispatch(struct client *c, struct resp_args *args)
{
	struct daemon *d = c->d;
	const struct cmd_entry *e;
	struct req *r;

	d->stats.commands++;
	r = xcalloc(1, sizeof *r);
	r->d = d;
	r->c = c;
	r->args = *args;
	c->req = r;
	for (e = cmd_table; e->name != NULL; e++) {
		if (strcasecmp(e->name, args->argv[0]) == 0)
			break;
	}
	if (e->name == NULL) {
		req_error(r, "ERR", "unknown command '%.64s'", args->argv[0]);
		return;
	}
	r->cmd = e;
	if (args->argc < e->min_args ||
	    (e->max_args >= 0 && args->argc > e->max_args)) {
		req_error(r, "ERR", "wrong number of arguments: %s", e->usage);
		return;
	}
	if ((e->flags & CMD_ADMIN) && !c->admin) {
		d->stats.denied++;
		log_client(LOG_LEVEL_INFO, c, "%s denied (not an admin)",
		    e->name);
		req_error(r, "DENIED", "%s is an admin command", e->name);
		return;
	}
	e->fn(r);
}
