/*
 * req.c: one request of the socket, whatever its command: its reply
 * buffer and error replies, the deadline every Redis call carries (so no
 * request hangs when Redis does), the accounting of calls in flight, the
 * one option parser (KEYWORD value pairs, named in a table) and the
 * callbacks shared by the simple commands.
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

#include <event2/buffer.h>

#include "log.h"
#include "proxyurl.h"
#include "redis.h"
#include "req.h"
#include "xmalloc.h"

/* Free r once nothing refers to it any more. */
void
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
	if (r->list != NULL) {
		ra_list_deinit(r->list);
		free(r->list);
	}
	free(r->keys);
	free(r->counts);
	free(r->hcounts);
	free(r);
}

/* Stop the timers of r and take it off its family's waiters: it is
 * answered or abandoned. */
static void
req_stop(struct req *r)
{
	if (r->deadline != NULL)
		evtimer_del(r->deadline);
	if (r->retry != NULL)
		evtimer_del(r->retry);
	if (r->on_stop != NULL)
		r->on_stop(r);
}

/* The monotonic clock as a timeval. */
void
req_now(struct timeval *tv)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = (suseconds_t)(ts.tv_nsec / 1000);
}

/* Seconds as a timeval. */
void
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
double
req_left(const struct timeval *until)
{
	struct timeval now, left;

	req_now(&now);
	if (!timercmp(&now, until, <))
		return 0;
	timersub(until, &now, &left);
	return (double)left.tv_sec + (double)left.tv_usec / 1e6;
}

bool
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
	struct daemon *d = r->d;

	r->answered = true;
	req_stop(r);
	if (r->c != NULL && r->on_answer != NULL)
		r->on_answer(r);
	r->c = NULL;
	req_maybe_free(r);
	d->on_idle(d);
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
const char *
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

void
req_nopool(struct req *r, const char *pool, const char *why)
{
	char *pools;

	pools = conf_pool_list(r->d->conf);
	if (why != NULL && strncmp(why, "pool ", 5) == 0)
		why += 5;	/* "pool is being deleted" */
	if (why == NULL || strcmp(why, "no such pool") == 0)
		req_error(r, "NOPOOL", "no such pool '%.200s' (pools: %s)",
		    pool, pools);
	else
		req_error(r, "NOPOOL", "no such pool '%.200s' (%s; pools: %s)",
		    pool, why, pools);
	free(pools);
}

/* Answer an allocator error; the pool commands' pool is argv[1]. */
void
req_ra_error(struct req *r, const struct ra_result *res)
{
	const char *why;

	why = res->errstr[0] ? res->errstr : ra_strerror(res->err);
	if (res->err == RA_ERR_NO_SUCH_POOL && r->args.argc > 1) {
		req_nopool(r, r->args.argv[1], why);
		return;
	}
	req_error(r, req_code(res->err), "%s", why);
}

void
req_proxy_ok(struct req *r, struct ra_result *res, int i)
{
	if (res->err != RA_ERR_NOT_FOUND) {
		req_ok_cb(NULL, res, r);
		return;
	}
	if (req_back(r))
		req_error(r, "NOPROXY", "no proxy %.300s in pool %.200s",
		    r->args.argv[i], r->args.argv[1]);
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
bool
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
void
req_arm(struct req *r, double seconds)
{
	struct timeval tv;

	if (r->deadline == NULL)
		r->deadline = evtimer_new(r->d->base, req_deadline_cb, r);
	req_tv(seconds, &tv);
	evtimer_add(r->deadline, &tv);
}

/* The allocator, or NULL after answering -TRYAGAIN. */
struct ra_async *
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
void
req_send_failed(struct req *r)
{
	r->inflight--;
	req_error(r, "TRYAGAIN", "Redis is unreachable");
}

void
req_abandon(struct req *r)
{
	r->c = NULL;
	r->answered = true;
	req_stop(r);
	req_maybe_free(r);
}

/* The deadline of r passed: its family decides, or Redis is late. */
static void
req_deadline_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct req *r = arg;

	if (!req_alive(r))
		return;
	if (r->on_deadline != NULL)
		r->on_deadline(r);
	else
		req_error(r, "TRYAGAIN", "Redis did not answer within %g s",
		    r->d->conf->redis_timeout);
}

/*
 * Parse KEYWORD [value] pairs in any order from args[first..]; vals has
 * one slot per opts entry.  Answers -BADARG and returns -1 on anything
 * unknown, repeated, missing or out of range.
 */
int
req_options(struct req *r, int first, const struct req_opt *opts,
    struct req_optval *vals)
{
	struct resp_args *a = &r->args;
	const struct req_opt *o;
	struct req_optval *v;
	char *e;
	int i;

	for (i = first; i < a->argc; i++) {
		for (o = opts; o->name != NULL; o++) {
			if (strcasecmp(o->name, a->argv[i]) == 0)
				break;
		}
		if (o->name == NULL) {
			req_error(r, "BADARG", "unknown option '%.64s' for %s",
			    a->argv[i], r->name);
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
char *
req_proxy(struct req *r, int i)
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
bool
req_key(struct req *r, int i, const char *what)
{
	if (r->args.len[i] == 0 || r->args.len[i] > RA_KEY_MAX ||
	    strlen(r->args.argv[i]) != r->args.len[i]) {
		req_error(r, "BADARG", "bad %s (1 to %d bytes, no NUL)", what,
		    RA_KEY_MAX);
		return false;
	}
	return true;
}

void
req_ignore_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	if (res->err != RA_OK)
		log_debug("background call: %s", res->errstr);
}

/* +OK on success. */
void
req_ok_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;

	if (!req_result(r, res))
		return;
	resp_status(req_out(r), "OK");
	req_finish(r);
}

/* The integer result. */
void
req_int_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;

	if (!req_result(r, res))
		return;
	resp_int(req_out(r), res->u.integer);
	req_finish(r);
}

/* :1 when something changed, :0 when there was nothing (NOT_FOUND). */
void
req_bool_cb(struct ra_async *ra, struct ra_result *res, void *arg)
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

/* An array of strings (names: no redaction needed). */
void
req_strs_cb(struct ra_async *ra, struct ra_result *res, void *arg)
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
