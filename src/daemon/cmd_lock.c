/*
 * cmd_lock.c: LOCK and UNLOCK, and the LOCK ... WAIT waiters: retried
 * when the holder's TTL runs out (or every CMD_LOCK_POLL s, for unlocks
 * through other daemons) and at once after an UNLOCK through this one.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "cmd.h"
#include "redis.h"
#include "req.h"

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

/* The deadline of a LOCK passed: with WAIT and Redis there, the lock
 * stayed held. */
static void
lock_deadline(struct req *r)
{
	if (r->wait > 0 && redis_connected(r->d->redis))
		req_error(r, "BUSY", "lock %.200s still held after %g s",
		    r->args.argv[1], r->wait);
	else
		req_error(r, "TRYAGAIN", "Redis did not answer within %g s",
		    r->d->conf->redis_timeout);
}

/* A LOCK is answered or abandoned: it is no longer a waiter. */
static void
lock_stop(struct req *r)
{
	if (r->lockwait) {
		TAILQ_REMOVE(&r->d->lockwaits, r, lentry);
		r->lockwait = false;
	}
}

unsigned
lockwait_count(struct daemon *d)
{
	struct req *r;
	unsigned n = 0;

	TAILQ_FOREACH(r, &d->lockwaits, lentry)
		n++;
	return n;
}

/* LOCK name owner ttl [WAIT s] */
void
cmd_lock(struct req *r)
{
	enum { O_WAIT, O_N };
	static const struct req_opt opts[] = {
		[O_WAIT] = { "WAIT", OPT_NUM, 0, REQ_WAIT_MAX },
		[O_N] = { NULL, 0, 0, 0 }
	};
	struct req_optval v[O_N];
	char errstr[RA_ERRSTR_LEN], *e;
	struct timeval now, tv;
	double ttl, timeout = r->d->conf->redis_timeout;

	r->on_deadline = lock_deadline;
	r->on_stop = lock_stop;
	memset(v, 0, sizeof v);
	if (!req_key(r, 1, "lock name") || !req_key(r, 2, "owner") ||
	    req_options(r, 4, opts, v) != 0)
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
	r->wait = v[O_WAIT].set ? v[O_WAIT].num : 0;
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
	req_ok_cb(ra, res, arg);
}

/* UNLOCK name owner */
void
cmd_unlock(struct req *r)
{
	struct ra_async *ra;
	char errstr[RA_ERRSTR_LEN];

	if (!req_key(r, 1, "lock name") || !req_key(r, 2, "owner"))
		return;
	if (ra_lock_check(r->args.argv[1], r->args.argv[2], 1, errstr) != 0) {
		req_error(r, "BADARG", "%s", errstr);
		return;
	}
	if ((ra = req_ra(r)) == NULL)
		return;
	REQ_CALL(r, ra_async_unlock(ra, r->args.argv[1], r->args.argv[2],
	    cmd_unlock_cb, r));
}
