/*
 * redis.c: an asynchronous Redis connection of the daemon (the main one,
 * and the probes' own).  hiredis async on the daemon's libevent loop; on
 * connect AUTH, SELECT and CLIENT SETNAME are pipelined ahead of
 * everything; a PING every second that stays unanswered past the timeout
 * drops the connection (pending calls then fail with BACKEND_DOWN, so no
 * request hangs); reconnects back off from 50 ms to 1 s, and an outage
 * is logged when it starts and every 10 s while it lasts.  The allocator
 * handle is corked from its first use in a pass of the event loop to
 * the end of that pass, so the leases, renewals and releases of the
 * pass go to Redis as one call per pool.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "log.h"
#include "proxyurl.h"
#include "redis.h"
#include "xmalloc.h"

#define REDIS_BACKOFF_MIN	50	/* ms */
#define REDIS_BACKOFF_MAX	1000	/* clients get TRYAGAIN meanwhile: a
					 * Redis back is used within 1 s */
#define REDIS_LOG_EVERY		10	/* s between "still down" lines */

struct redis {
	struct event_base	*base;		/* (ref) */
	char			*url;		/* owned */
	char			*where;		/* owned, redacted url */
	char			*label;		/* owned, where and role, logs */
	char			 name[64];	/* CLIENT SETNAME */
	char			 buf[1024];	/* strings of opt point here */
	struct ra_options	 opt;		/* parsed url */
	char			*password;	/* owned or NULL */
	double			 timeout;	/* s */
	redisAsyncContext	*ac;		/* owned by hiredis; NULL: none */
	bool			 connected;	/* ac is usable */
	bool			 ready;		/* AUTH/SELECT done */
	struct ra_async		*ra;		/* owned wrapper */
	struct event		*retry_ev;	/* owned reconnect timer */
	struct event		*ping_ev;	/* owned keepalive timer */
	struct event		*flush_ev;	/* owned: uncorks ra */
	bool			 corked;	/* flush_ev is active */
	struct timeval		 ping_sent;	/* outstanding PING, 0 = none */
	int			 backoff;	/* next reconnect delay, ms */
	int			 priority;	/* of the socket events, -1 = default */
	unsigned long long	 reconnects;	/* successful connects - 1 */
	unsigned long long	 connects;
	time_t			 down_since;	/* when the outage began, 0 = up */
	time_t			 down_logged;	/* when it was last logged */
	redis_connect_fn	*fn;		/* (ref) on connect */
	redis_connect_fn	*fail_fn;	/* (ref) on a failed connect */
	void			*arg;		/* of fn and fail_fn */
	bool			 destroying;	/* no reconnect */
};

static void redis_connect(struct redis *rd);

struct redis *
redis_create(struct event_base *base, const char *role, const char *url,
    const char *password, const char *prefix, double timeout,
    redis_connect_fn *fn, void *arg, char **cause)
{
	struct redis *rd;
	char err[256];

	rd = xcalloc(1, sizeof *rd);
	rd->base = base;
	rd->url = xstrdup(url);
	rd->where = proxyurl_redact(url);
	/* the main connection's lines read as they always did */
	if (strcmp(role, "main") == 0)
		rd->label = xstrdup(rd->where);
	else
		xasprintf(&rd->label, "%s (%s)", rd->where, role);
	snprintf(rd->name, sizeof rd->name, "proxypoold-%s-%ld", role,
	    (long)getpid());
	if (ra_options_parse_url(&rd->opt, rd->url, rd->buf, sizeof rd->buf,
	    err, sizeof err) != 0) {
		xasprintf(cause, "redis.url: %s", err);
		redis_destroy(rd);
		return NULL;
	}
	if (password != NULL)
		rd->password = xstrdup(password);
	else if (rd->opt.password != NULL)
		rd->password = xstrdup(rd->opt.password);
	rd->timeout = timeout;
	rd->fn = fn;
	rd->arg = arg;
	rd->backoff = REDIS_BACKOFF_MIN;
	rd->priority = -1;
	if ((rd->ra = ra_async_create(NULL, prefix, 0)) == NULL) {
		xasprintf(cause, "out of memory");
		redis_destroy(rd);
		return NULL;
	}
	return rd;
}

/* The connection failed or was lost (what: why): logged when an outage
 * begins, then every REDIS_LOG_EVERY s while it lasts. */
static void
redis_log_down(struct redis *rd, const char *what, const char *why)
{
	time_t now = time(NULL);

	if (rd->destroying)
		return;
	if (rd->down_since == 0) {
		rd->down_since = rd->down_logged = now;
		log_warn("redis %s: %s%s; %s", rd->label, what, why,
		    *what != '\0' ? "retrying" : "reconnecting");
	} else if (now - rd->down_logged >= REDIS_LOG_EVERY) {
		rd->down_logged = now;
		log_warn("redis %s: %s%s; still retrying (down for %lld s)",
		    rd->label, what, why, (long long)(now - rd->down_since));
	}
}

/* Schedule a reconnect after the current backoff, then double it. */
static void
redis_schedule(struct redis *rd)
{
	struct timeval tv;

	if (rd->destroying)
		return;
	tv.tv_sec = rd->backoff / 1000;
	tv.tv_usec = (rd->backoff % 1000) * 1000;
	evtimer_add(rd->retry_ev, &tv);
	rd->backoff *= 2;
	if (rd->backoff > REDIS_BACKOFF_MAX)
		rd->backoff = REDIS_BACKOFF_MAX;
}

static void
redis_retry_cb(evutil_socket_t fd, short ev, void *arg)
{
	redis_connect(arg);
}

/* The connection is gone (error or our own free): forget it. */
static void
redis_lost(struct redis *rd, const char *why)
{
	rd->ac = NULL;
	rd->connected = false;
	rd->ready = false;
	timerclear(&rd->ping_sent);
	ra_async_set_context(rd->ra, NULL);
	redis_log_down(rd, "", why);
	redis_schedule(rd);
}

static void
redis_disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct redis *rd = ac->data;

	if (rd == NULL || rd->ac != ac)
		return;
	redis_lost(rd, status == REDIS_OK ? "disconnected" :
	    (ac->errstr[0] ? ac->errstr : "connection lost"));
}

/* AUTH or SELECT answered. */
static void
redis_setup_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	struct redis *rd = ac->data;
	redisReply *r = reply;

	if (rd == NULL || r == NULL)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		log_error("redis %s: %s", rd->label, r->str);
		rd->ac = NULL;
		rd->connected = false;
		ra_async_set_context(rd->ra, NULL);
		ac->data = NULL;
		redisAsyncDisconnect(ac);
		redis_schedule(rd);
	}
}

/* CLIENT SETNAME answered: a server refusing it (an ACL) still serves. */
static void
redis_name_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	struct redis *rd = ac->data;
	redisReply *r = reply;

	if (rd != NULL && r != NULL && r->type == REDIS_REPLY_ERROR)
		log_debug("redis %s: CLIENT SETNAME: %s", rd->label, r->str);
}

static void
redis_connect_cb(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *)cac;
	struct redis *rd = ac->data;

	if (rd == NULL || rd->ac != ac)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees ac after this callback */
		rd->ac = NULL;
		redis_log_down(rd, "cannot connect: ", ac->errstr);
		redis_schedule(rd);
		if (rd->fail_fn != NULL)
			rd->fail_fn(rd->arg);
		return;
	}
	if (rd->password != NULL) {
		if (rd->opt.username != NULL)
			redisAsyncCommand(ac, redis_setup_cb, NULL,
			    "AUTH %s %s", rd->opt.username, rd->password);
		else
			redisAsyncCommand(ac, redis_setup_cb, NULL, "AUTH %s",
			    rd->password);
	}
	if (rd->opt.db != 0)
		redisAsyncCommand(ac, redis_setup_cb, NULL, "SELECT %d",
		    rd->opt.db);
	redisAsyncCommand(ac, redis_name_cb, NULL, "CLIENT SETNAME %s",
	    rd->name);
	rd->connected = true;
	rd->backoff = REDIS_BACKOFF_MIN;
	rd->down_since = 0;
	if (rd->connects++ > 0)
		rd->reconnects++;
	ra_async_set_context(rd->ra, ac);
	log_info("redis %s: connected", rd->label);
	if (rd->fn != NULL)
		rd->fn(rd->arg);
}

/*
 * hiredis on the loop.  hiredis' own libevent adapter (0.14) makes its
 * read event one-shot and adds it again after every reply: one
 * epoll_ctl per reply.  Here the read event persists; hiredis' addRead
 * after a reply finds it pending and changes nothing.  The write event
 * is added only while hiredis has bytes it could not write.
 */
struct redis_ev {
	redisAsyncContext	*ac;		/* (ref) */
	struct event		*rev;		/* owned, EV_PERSIST */
	struct event		*wev;		/* owned */
};

static void
redis_ev_read(evutil_socket_t fd, short what, void *arg)
{
	struct redis_ev *e = arg;

	redisAsyncHandleRead(e->ac);
	(void)fd;
	(void)what;
}

static void
redis_ev_write(evutil_socket_t fd, short what, void *arg)
{
	struct redis_ev *e = arg;

	redisAsyncHandleWrite(e->ac);
	(void)fd;
	(void)what;
}

static void
redis_ev_add_read(void *arg)
{
	struct redis_ev *e = arg;

	if (!event_pending(e->rev, EV_READ, NULL))
		event_add(e->rev, NULL);
}

static void
redis_ev_del_read(void *arg)
{
	event_del(((struct redis_ev *)arg)->rev);
}

static void
redis_ev_add_write(void *arg)
{
	struct redis_ev *e = arg;

	if (!event_pending(e->wev, EV_WRITE, NULL))
		event_add(e->wev, NULL);
}

static void
redis_ev_del_write(void *arg)
{
	event_del(((struct redis_ev *)arg)->wev);
}

static void
redis_ev_cleanup(void *arg)
{
	struct redis_ev *e = arg;

	event_free(e->rev);
	event_free(e->wev);
	free(e);
}

/* Attach ac to base, its socket events at priority (or the default). */
static void
redis_ev_attach(redisAsyncContext *ac, struct event_base *base, int priority)
{
	struct redis_ev *e = xcalloc(1, sizeof *e);

	e->ac = ac;
	e->rev = event_new(base, ac->c.fd, EV_READ | EV_PERSIST,
	    redis_ev_read, e);
	e->wev = event_new(base, ac->c.fd, EV_WRITE, redis_ev_write, e);
	if (e->rev == NULL || e->wev == NULL) {
		log_error("out of memory");
		abort();
	}
	if (priority >= 0) {
		event_priority_set(e->rev, priority);
		event_priority_set(e->wev, priority);
	}
	ac->ev.addRead = redis_ev_add_read;
	ac->ev.delRead = redis_ev_del_read;
	ac->ev.addWrite = redis_ev_add_write;
	ac->ev.delWrite = redis_ev_del_write;
	ac->ev.cleanup = redis_ev_cleanup;
	ac->ev.data = e;
	/* the connect completes on a write event, as with hiredis' own */
	event_add(e->rev, NULL);
	event_add(e->wev, NULL);
}

static void
redis_connect(struct redis *rd)
{
	redisAsyncContext *ac;

	if (rd->ac != NULL || rd->destroying)
		return;
	if (rd->opt.path != NULL)
		ac = redisAsyncConnectUnix(rd->opt.path);
	else
		ac = redisAsyncConnect(rd->opt.host, rd->opt.port);
	if (ac == NULL || ac->err) {
		redis_log_down(rd, "cannot connect: ",
		    ac != NULL ? ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		redis_schedule(rd);
		if (rd->fail_fn != NULL)
			rd->fail_fn(rd->arg);
		return;
	}
	ac->data = rd;
	rd->ac = ac;
	redis_ev_attach(ac, rd->base, rd->priority);
	redisAsyncSetConnectCallback(ac, redis_connect_cb);
	redisAsyncSetDisconnectCallback(ac, redis_disconnect_cb);
}

static void
redis_pong_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	struct redis *rd = ac->data;

	if (rd != NULL && rd->ac == ac)
		timerclear(&rd->ping_sent);
}

/* Keepalive: a PING unanswered for longer than the timeout means Redis
 * hangs; drop the connection so every pending call fails now. */
static void
redis_ping_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct redis *rd = arg;
	redisAsyncContext *ac = rd->ac;
	struct timeval now, d;

	if (ac == NULL || !rd->connected)
		return;
	gettimeofday(&now, NULL);
	if (timerisset(&rd->ping_sent)) {
		timersub(&now, &rd->ping_sent, &d);
		if ((double)d.tv_sec + (double)d.tv_usec / 1e6 > rd->timeout &&
		    (double)d.tv_sec > 1.0) {
			log_warn("redis %s: no answer for %ld s, reconnecting",
			    rd->label, (long)d.tv_sec);
			redis_lost(rd, "not answering");
			ac->data = NULL;
			redisAsyncFree(ac);
		}
		return;
	}
	rd->ping_sent = now;
	redisAsyncCommand(ac, redis_pong_cb, NULL, "PING");
}

/* The end of the pass that corked: send what it gathered. */
static void
redis_flush_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct redis *rd = arg;

	rd->corked = false;
	ra_async_uncork(rd->ra);
	/* write now, in the pass that queued it: the write interest hiredis
	 * adds is dropped again before the loop's changelist reaches epoll
	 * (two epoll_ctl calls fewer per batch), and the calls leave a pass
	 * earlier */
	if (rd->ac != NULL && rd->connected)
		redisAsyncHandleWrite(rd->ac);
}

void
redis_start(struct redis *rd)
{
	struct timeval tv = { 1, 0 };

	rd->retry_ev = evtimer_new(rd->base, redis_retry_cb, rd);
	rd->ping_ev = event_new(rd->base, -1, EV_PERSIST, redis_ping_cb, rd);
	evtimer_add(rd->ping_ev, &tv);
	rd->flush_ev = event_new(rd->base, -1, 0, redis_flush_cb, rd);
	redis_connect(rd);
}

void
redis_destroy(struct redis *rd)
{
	redisAsyncContext *ac;

	if (rd == NULL)
		return;
	rd->destroying = true;
	rd->connected = false;
	ra_async_uncork(rd->ra);	/* sent, then failed by the free */
	if ((ac = rd->ac) != NULL) {
		rd->ac = NULL;
		ra_async_set_context(rd->ra, NULL);
		ac->data = NULL;
		redisAsyncFree(ac);
	}
	if (rd->retry_ev != NULL)
		event_free(rd->retry_ev);
	if (rd->ping_ev != NULL)
		event_free(rd->ping_ev);
	if (rd->flush_ev != NULL)
		event_free(rd->flush_ev);
	ra_async_destroy(rd->ra);
	free(rd->password);
	free(rd->where);
	free(rd->label);
	free(rd->url);
	free(rd);
}

struct ra_async *
redis_ra(struct redis *rd)
{
	if (rd == NULL || !rd->connected)
		return NULL;
	if (!rd->corked && rd->flush_ev != NULL) {
		/* flushed after the events already active at the priority of
		 * the connection (a higher one would run it at once, a lower
		 * one could starve it) */
		event_priority_set(rd->flush_ev, rd->priority >= 0 ?
		    rd->priority : event_base_get_npriorities(rd->base) / 2);
		event_active(rd->flush_ev, EV_TIMEOUT, 1);
		rd->corked = true;
		ra_async_cork(rd->ra);
	}
	return rd->ra;
}

bool
redis_connected(const struct redis *rd)
{
	return rd != NULL && rd->connected;
}

void
redis_set_fail_cb(struct redis *rd, redis_connect_fn *fn)
{
	rd->fail_fn = fn;
}

void
redis_set_priority(struct redis *rd, int priority)
{
	rd->priority = priority;
}

void
redis_set_timeout(struct redis *rd, double timeout)
{
	rd->timeout = timeout;
}

unsigned long long
redis_reconnects(const struct redis *rd)
{
	return rd->reconnects;
}

const char *
redis_where(const struct redis *rd)
{
	return rd->where;
}
