/*
 * gateway.c: the gateway's listeners, client connections and requests.
 *
 * A connection starts by its first byte: 5 is SOCKS5 (gw_socks.c),
 * anything else HTTP (gw_http.c).  A request names its pool (and maybe
 * a session) in the proxy user name; it is a LEASE of that pool (the
 * allocator's own call), then an upstream connection made by libcurl
 * with CONNECT_ONLY on the daemon's multi handle (curlev.c):
 *
 *  - CONNECT and SOCKS5: a tunnel to host:port through the proxy, for
 *    every proxy type curl speaks; then bytes both ways.
 *  - a plain request through an http(s) proxy: a connection to the
 *    proxy, which gets the request in absolute form with the proxy's
 *    own credentials; through a SOCKS proxy: a tunnel to the target,
 *    which gets it in origin form.  The response head is read (the
 *    outcome, a retry), the body streamed (re-chunked when needed).
 *
 * Both directions are bounded by the listener's buffer: a side that is
 * not read from stops the other side's reads.  The lease ends with a
 * RELEASE carrying the outcome and the latency to the response head (or
 * to the tunnel).  Requests of one session share one lease, got by the
 * session's name (a binding), and report their outcomes one by one.
 */
#include "config.h"

#include <errno.h>
#include <regex.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "curlev.h"
#include "daemon.h"
#include "gateway.h"
#include "gw_http.h"
#include "gw_socks.h"
#include "log.h"
#include "metrics.h"
#include "proxyurl.h"
#include "redis.h"
#include "xmalloc.h"

#define GW_PRIORITY	1		/* the clients' priority */
#define GW_RECV		16384		/* bytes per upstream read */
#define GW_BAN_SAMPLE	8192		/* body bytes ban_body looks at */
#define GW_IDLE_HANDLES	64		/* reset easy handles kept */
#define GW_TRIED_MAX	11		/* 1 + the most retries */
#define GW_KEEP_MAX	256		/* idle upstream connections kept */
#define GW_KEEP_PROXY	16		/* ... to one proxy */
#define GW_KEEP_SECS	30		/* ... for this long at most */

/* An upstream connection to an http(s) proxy kept after a response that
 * left it open, for the next request leased on that proxy. */
struct gw_keep {
	struct gateway		*gw;		/* (ref) */
	char			*proxy;		/* owned: the lease's item */
	CURL			*h;		/* owned, still on the multi */
	curl_socket_t		 fd;
	struct event		*ev;		/* owned: closed, or too old */
	TAILQ_ENTRY(gw_keep)	 entry;
};
TAILQ_HEAD(gw_keep_list, gw_keep);

/* A listener's settings, shared by the requests that started under
 * them (a reload makes new ones). */
struct gw_set {
	int			 refs;
	struct conf_gateway	 c;		/* strings and lists owned */
	regex_t			 ban_re;
	bool			 has_ban_re;
	double			 wait_retry;	/* listen.wait_retry */
};

/* Counters of one listener (INFO, METRICS). */
#define GW_COUNTERS(X)							\
	X(connections, "connections", "Client connections accepted.")	\
	X(requests, "requests", "Plain HTTP requests.")			\
	X(tunnels, "tunnels", "CONNECT and SOCKS5 tunnels.")		\
	X(ok, "ok", "Requests and tunnels released OK.")		\
	X(failed, "failed", "Released FAILED.")				\
	X(banned, "banned", "Released BANNED.")				\
	X(retries, "retries", "Attempts on another proxy.")		\
	X(errors, "errors", "Error answers made by the gateway.")	\
	X(auth_failures, "auth_failures", "Bad or missing credentials.") \
	X(bytes_in, "bytes_in", "Body and tunnel bytes from the clients.")		\
	X(bytes_out, "bytes_out", "Body and tunnel bytes to the clients.")		\
	X(latency_ms, "latency_ms", "Sum of latencies to the response "	\
	    "head, ms.")						\
	X(latency_n, "latency_count", "Latencies summed.")

struct gw_stats {
#define GW_COUNTER_FIELD(f, name, help) unsigned long long f;
	GW_COUNTERS(GW_COUNTER_FIELD)
#undef GW_COUNTER_FIELD
};

struct gw_conn;
TAILQ_HEAD(gw_conn_list, gw_conn);

struct gw_listener {
	struct gateway		*gw;		/* (ref) */
	int			 refs;		/* gw's list, connections */
	char			*addr;		/* owned: as configured */
	struct evconnlistener	*lev;		/* owned, NULL once closed */
	struct gw_set		*set;		/* (ref) current settings */
	unsigned		 nconns;
	struct gw_stats		 stats;
	TAILQ_ENTRY(gw_listener) entry;
};
TAILQ_HEAD(gw_listener_list, gw_listener);

struct gw_session;
TAILQ_HEAD(gw_session_list, gw_session);

struct gateway {
	struct daemon		*d;		/* (ref) */
	struct gw_listener_list	 listeners;	/* open and closing */
	struct gw_conn_list	 conns;
	unsigned		 nconns;
	struct gw_session_list	 sessions;
	CURL			*idle[GW_IDLE_HANDLES];
	unsigned		 nidle;
	struct gw_keep_list	 keep;		/* newest first */
	unsigned		 nkeep;
	bool			 stopping;
};

enum gw_mode {
	GW_DETECT,		/* no byte yet */
	GW_HTTP,		/* HTTP requests */
	GW_SOCKS,		/* SOCKS5 handshake */
	GW_TUNNEL,		/* bytes both ways */
	GW_CLOSING		/* write what is left, then close */
};

enum gw_kind {
	GW_PLAIN,		/* absolute-form request */
	GW_CONNECT,		/* CONNECT tunnel */
	GW_SOCKS5		/* SOCKS5 tunnel */
};

struct gw_req;

struct gw_conn {
	struct gateway		*gw;		/* (ref) */
	struct gw_listener	*l;		/* (ref, counted) */
	struct bufferevent	*bev;		/* owned, owns the fd */
	char			 peer[64];	/* for logs */
	enum gw_mode		 mode;
	struct gw_http		 rq;		/* request parser */
	struct gw_socks		 socks;
	struct gw_req		*req;		/* (ref) current request */
	struct event		*idle_ev;	/* owned idle timer */
	TAILQ_ENTRY(gw_conn)	 entry;
};

/* A session: the requests of one session ID share one lease. */
struct gw_session {
	struct gateway		*gw;		/* (ref) */
	char			*pool;		/* owned */
	char			*id;		/* owned */
	double			 ttl;		/* binding TTL, s (0: pool's) */
	double			 lease_ttl;	/* s, RA_TTL_DEFAULT: pool's */
	struct ra_lease		 lease;		/* while held */
	bool			 held;
	bool			 leasing;	/* a lease call is out */
	int			 refs;		/* requests using the lease */
	char			*last;		/* owned: the last proxy used */
	bool			 moved;		/* the last lease moved it */
	TAILQ_HEAD(, gw_req)	 waiting;	/* requests for the lease */
	struct event		*timer;		/* owned: renew, or forget */
	TAILQ_ENTRY(gw_session)	 entry;
};

/* One request or tunnel. */
struct gw_req {
	struct gateway		*gw;		/* (ref) */
	struct gw_conn		*c;		/* (ref) NULL once gone */
	struct gw_listener	*l;		/* (ref, counted) */
	struct gw_set		*set;		/* (ref, counted) */
	enum gw_kind		 kind;
	int			 inflight;	/* Redis calls out */
	bool			 ended;		/* released, nothing more */

	char			*pool;		/* owned */
	char			*session;	/* owned, or NULL */
	double			 session_ttl;
	char			*host;		/* owned target host */
	int			 port;
	char			*hostport;	/* owned, for the logs */
	char			 holder[96];	/* who holds the lease, for LIST */

	/* the lease: own, or the session's */
	struct ra_lease		 lease;
	bool			 leased;
	struct gw_session	*sess;		/* (ref) when the session's */
	char			*tried[GW_TRIED_MAX]; /* owned proxies tried */
	int			 ntried;
	char			*failed_token;	/* owned: the lease that failed,
						 * held while the next comes */
	double			 wait_until;	/* monotonic s, WAIT deadline */
	struct event		*timer;		/* owned: WAIT retry, response
						 * deadline, renewals */

	/* the upstream */
	CURL			*h;		/* owned, on the multi handle */
	struct curlev_xfer	 xfer;
	bool			 connecting;
	bool			 forward;	/* plain request to the proxy
						 * itself (http, https proxy) */
	bool			 reused;	/* a kept connection */
	curl_socket_t		 fd;
	struct event		*up_rev;	/* owned: upstream readable */
	struct event		*up_wev;	/* owned: upstream writable */
	bool			 up_paused;	/* client output is full */
	struct evbuffer		*up_out;	/* owned: bytes for upstream */

	/* plain requests */
	struct evbuffer		*body;		/* owned copy for retries, or
						 * NULL once over retry_body */
	bool			 body_done;	/* the client sent all of it */
	struct gw_http		 rs;		/* response parser */
	bool			 rs_init;
	bool			 chunk_out;	/* re-chunk the body to the client */
	bool			 close_after;	/* the client connection ends */
	char			*sample;	/* owned: the body's start, for
						 * ban_body (NULL without one) */
	size_t			 nsample;

	double			 started;	/* monotonic s: upstream begun */
	double			 active;	/* tunnels: last byte either way */
	double			 renew_at;	/* tunnels: next renewal */
	bool			 sent_client;	/* a byte went to the client */
	enum ra_outcome		 outcome;
	double			 latency_ms;	/* -1 unknown */
	const char		*error;		/* last failure, static */
	int			 error_status;	/* 502, 504 */
	TAILQ_ENTRY(gw_req)	 sentry;	/* in the session's waiting */
	bool			 swaiting;
};

static void	gw_conn_read_cb(struct bufferevent *bev, void *arg);
static void	gw_conn_write_cb(struct bufferevent *bev, void *arg);
static void	gw_conn_event_cb(struct bufferevent *bev, short what,
		    void *arg);
static void	gw_conn_process(struct gw_conn *c);
static void	gw_conn_close(struct gw_conn *c);
static void	gw_req_lease(struct gw_req *r);
static void	gw_req_upstream(struct gw_req *r);
static void	gw_req_fail(struct gw_req *r, int status, const char *code,
		    const char *msg);
static void	gw_req_finish(struct gw_req *r);
static void	gw_up_flush(struct gw_req *r);
static void	gw_up_read(struct gw_req *r);
static void	gw_session_put(struct gw_req *r);
static void	gw_conn_idle(struct gw_conn *c);
static void	gw_up_connected(struct gw_req *r);

static double
gw_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
gw_tv(double s, struct timeval *tv)
{
	if (s < 0)
		s = 0;
	tv->tv_sec = (time_t)s;
	tv->tv_usec = (suseconds_t)((s - (double)tv->tv_sec) * 1e6);
}

/* ------------------------------------------------------------------ */
/* Settings and listeners                                               */
/* ------------------------------------------------------------------ */

static struct gw_set *
gw_set_new(const struct conf_gateway *cg, double wait_retry)
{
	struct gw_set *s = xcalloc(1, sizeof *s);

	s->refs = 1;
	s->c = *cg;
	s->c.listen = xstrdup(cg->listen);
	s->c.pool = xstrdup(cg->pool);
	s->c.password = cg->password != NULL ? xstrdup(cg->password) : NULL;
	s->c.ban_body = cg->ban_body != NULL ? xstrdup(cg->ban_body) : NULL;
	s->c.ban_statuses = xreallocarray(NULL, cg->nban_statuses + 1,
	    sizeof *cg->ban_statuses);
	memcpy(s->c.ban_statuses, cg->ban_statuses, cg->nban_statuses *
	    sizeof *cg->ban_statuses);
	s->c.proxy_statuses = xreallocarray(NULL, cg->nproxy_statuses + 1,
	    sizeof *cg->proxy_statuses);
	memcpy(s->c.proxy_statuses, cg->proxy_statuses, cg->nproxy_statuses *
	    sizeof *cg->proxy_statuses);
	s->c.file = NULL;
	if (s->c.ban_body != NULL && regcomp(&s->ban_re, s->c.ban_body,
	    REG_EXTENDED | REG_NOSUB) == 0)
		s->has_ban_re = true;
	s->wait_retry = wait_retry;
	return s;
}

static void
gw_set_unref(struct gw_set *s)
{
	if (s == NULL || --s->refs > 0)
		return;
	free(s->c.listen);
	free(s->c.pool);
	free(s->c.password);
	free(s->c.ban_body);
	free(s->c.ban_statuses);
	free(s->c.proxy_statuses);
	if (s->has_ban_re)
		regfree(&s->ban_re);
	free(s);
}

static bool
gw_status_in(const int *list, size_t n, int status)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (list[i] == status)
			return true;
	}
	return false;
}

static void
gw_listener_unref(struct gw_listener *l)
{
	if (--l->refs > 0)
		return;
	gw_set_unref(l->set);
	free(l->addr);
	free(l);
}

static void
gw_listener_close(struct gw_listener *l)
{
	if (l->lev != NULL) {
		evconnlistener_free(l->lev);
		l->lev = NULL;
	}
}

static void
gw_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct gw_listener *l = arg;
	struct gateway *gw = l->gw;
	struct gw_conn *c;
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0, one = 1;

	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)sa;

		evutil_inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
		port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;

		evutil_inet_ntop(AF_INET6, &sin6->sin6_addr, host,
		    sizeof host);
		port = ntohs(sin6->sin6_port);
	}
	if (gw->stopping || l->nconns >= (unsigned)l->set->c.max_clients) {
		log_warn("gateway %s: refusing %s:%d: %s", l->addr, host, port,
		    gw->stopping ? "stopping" : "max_clients reached");
		evutil_closesocket(fd);
		return;
	}
	/* answers go out in pieces (head, body): no Nagle wait between
	 * them for the client's delayed ACK */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c = xcalloc(1, sizeof *c);
	c->gw = gw;
	c->l = l;
	l->refs++;
	l->nconns++;
	l->stats.connections++;
	snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
	c->bev = bufferevent_socket_new(gw->d->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_error("out of memory");
		abort();
	}
	bufferevent_priority_set(c->bev, GW_PRIORITY);
	c->mode = GW_DETECT;
	TAILQ_INSERT_TAIL(&gw->conns, c, entry);
	gw->nconns++;
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    (size_t)l->set->c.buffer + GW_HEAD_MAX);
	bufferevent_setwatermark(c->bev, EV_WRITE,
	    (size_t)l->set->c.buffer / 2, 0);
	bufferevent_setcb(c->bev, gw_conn_read_cb, gw_conn_write_cb,
	    gw_conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	gw_conn_idle(c);	/* the first request must come in time */
	log_debug("gateway %s: connection from %s", l->addr, c->peer);
	(void)lev;
	(void)salen;
}

static void
gw_listen_error_cb(struct evconnlistener *lev, void *arg)
{
	struct gw_listener *l = arg;

	log_warn("gateway %s: accept: %s", l->addr,
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	(void)lev;
}

/* Bind addr; NULL with *cause. */
static struct evconnlistener *
gw_bind(struct gateway *gw, const char *addr, struct gw_listener *l,
    char **cause)
{
	struct sockaddr_storage ss;
	struct evconnlistener *lev;
	int len = (int)sizeof ss;

	memset(&ss, 0, sizeof ss);
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss,
	    &len) != 0) {
		xasprintf(cause, "gateway %s: not ADDRESS:PORT", addr);
		return NULL;
	}
	lev = evconnlistener_new_bind(gw->d->base, gw_accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, (struct sockaddr *)&ss, len);
	if (lev == NULL) {
		xasprintf(cause, "gateway %s: cannot listen: %s", addr,
		    strerror(errno));
		return NULL;
	}
	evconnlistener_set_error_cb(lev, gw_listen_error_cb);
	return lev;
}

static struct gw_listener *
gw_listener_find(struct gateway *gw, const char *addr)
{
	struct gw_listener *l;

	TAILQ_FOREACH(l, &gw->listeners, entry) {
		if (l->lev != NULL && strcmp(l->addr, addr) == 0)
			return l;
	}
	return NULL;
}

int
gateway_configure(struct gateway *gw, const struct conf *c, char **cause)
{
	struct gw_listener **made, *l, *next;
	size_t i, j, nmade = 0;
	bool keep;

	/* bind every new address first: nothing changes on a failure */
	made = xcalloc(c->ngateways + 1, sizeof *made);
	for (i = 0; i < c->ngateways; i++) {
		if (gw_listener_find(gw, c->gateways[i].listen) != NULL)
			continue;
		l = xcalloc(1, sizeof *l);
		l->gw = gw;
		l->refs = 1;
		l->addr = xstrdup(c->gateways[i].listen);
		made[nmade++] = l;
		if ((l->lev = gw_bind(gw, l->addr, l, cause)) == NULL) {
			for (j = 0; j < nmade; j++) {
				gw_listener_close(made[j]);
				free(made[j]->addr);
				free(made[j]);
			}
			free(made);
			return -1;
		}
	}
	for (j = 0; j < nmade; j++)
		TAILQ_INSERT_TAIL(&gw->listeners, made[j], entry);
	free(made);
	/* new settings for all; the removed ones stop accepting */
	TAILQ_FOREACH_SAFE(l, &gw->listeners, entry, next) {
		keep = false;
		for (i = 0; i < c->ngateways && l->lev != NULL; i++) {
			if (strcmp(c->gateways[i].listen, l->addr) != 0)
				continue;
			if (l->set == NULL)
				log_info("gateway listening on %s (pool %s)",
				    l->addr, c->gateways[i].pool);
			gw_set_unref(l->set);
			l->set = gw_set_new(&c->gateways[i], c->wait_retry);
			keep = true;
			break;
		}
		if (keep)
			continue;
		if (l->lev != NULL)
			log_info("gateway %s: removed; its connections go on",
			    l->addr);
		gw_listener_close(l);
		TAILQ_REMOVE(&gw->listeners, l, entry);
		gw_listener_unref(l);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Answers made by the gateway                                         */
/* ------------------------------------------------------------------ */

static const char *
gw_reason(int status)
{
	switch (status) {
	case 200: return "Connection established";
	case 400: return "Bad Request";
	case 405: return "Method Not Allowed";
	case 407: return "Proxy Authentication Required";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Error";
	}
}

/* An error answer of the gateway on c: code goes in X-Proxypool-Error
 * (or NULL), msg in the body.  The connection closes after it. */
static void
gw_answer(struct gw_conn *c, int status, const char *code, const char *msg)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char *body;
	int n;

	n = xasprintf(&body, "%d %s: %s\n", status, gw_reason(status), msg);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status,
	    gw_reason(status));
	if (status == 407)
		evbuffer_add_printf(out, "Proxy-Authenticate: Basic "
		    "realm=\"proxypoold\"\r\n");
	if (code != NULL)
		evbuffer_add_printf(out, "X-Proxypool-Error: %s\r\n", code);
	evbuffer_add_printf(out, "Content-Type: text/plain\r\n"
	    "Content-Length: %d\r\nConnection: close\r\n\r\n%s", n, body);
	free(body);
	c->l->stats.errors++;
	c->mode = GW_CLOSING;
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */
/* ------------------------------------------------------------------ */

static void
gw_conn_free(struct gw_conn *c)
{
	struct gateway *gw = c->gw;
	struct gw_listener *l = c->l;

	TAILQ_REMOVE(&gw->conns, c, entry);
	gw->nconns--;
	if (c->idle_ev != NULL)
		event_free(c->idle_ev);
	bufferevent_free(c->bev);
	if (c->rq.p.data != NULL)
		gw_http_free(&c->rq);
	l->nconns--;
	gw_listener_unref(l);
	free(c);
	if (gw->stopping && gw->nconns == 0)
		gw->d->on_idle(gw->d);
}

/* Close now; the request in flight is abandoned (its lease released). */
static void
gw_conn_close(struct gw_conn *c)
{
	struct gw_req *r = c->req;

	if (r != NULL) {
		r->c = NULL;
		c->req = NULL;
		if (!r->ended) {
			if (r->kind != GW_PLAIN && r->up_rev != NULL &&
			    r->outcome == RA_OUTCOME_NONE)
				r->outcome = RA_OUTCOME_OK;	/* tunnel over */
			gw_req_finish(r);
		}
	}
	gw_conn_free(c);
}

static void
gw_conn_closing_write_cb(struct bufferevent *bev, void *arg)
{
	struct gw_conn *c = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		gw_conn_close(c);
}

static void
gw_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct gw_conn *c = arg;

	if (what & BEV_EVENT_EOF) {
		/* the client finished sending: a request in flight goes on
		 * (a half-closed tunnel or a body read to the end) */
		if (c->req != NULL && c->mode == GW_HTTP &&
		    c->req->body_done) {
			bufferevent_disable(bev, EV_READ);
			c->req->close_after = true;
			return;
		}
	}
	gw_conn_close(c);
}

/* Written below the low mark: upstream reads may go on. */
static void
gw_conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct gw_conn *c = arg;
	struct gw_req *r = c->req;

	if (c->mode == GW_CLOSING) {
		gw_conn_closing_write_cb(bev, arg);
		return;
	}
	if (r != NULL && r->up_paused) {
		r->up_paused = false;
		if (r->up_rev != NULL)
			event_add(r->up_rev, NULL);
		gw_up_read(r);
	}
}

static void
gw_conn_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_conn *c = arg;

	if (c->req != NULL)
		return;
	log_debug("gateway %s: %s idle, closing", c->l->addr, c->peer);
	gw_conn_close(c);
	(void)fd;
	(void)what;
}

/* Between requests: the idle timer runs. */
static void
gw_conn_idle(struct gw_conn *c)
{
	struct timeval tv;

	if (c->l->set->c.idle_timeout <= 0)
		return;
	if (c->idle_ev == NULL)
		c->idle_ev = evtimer_new(c->gw->d->base, gw_conn_idle_cb, c);
	gw_tv(c->l->set->c.idle_timeout, &tv);
	evtimer_add(c->idle_ev, &tv);
}

static void
gw_conn_close_after_write(struct gw_conn *c)
{
	c->mode = GW_CLOSING;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		gw_conn_close(c);
}

/* ------------------------------------------------------------------ */
/* Requests: routing and credentials                                   */
/* ------------------------------------------------------------------ */

/*
 * The proxy user name "POOL[-session-ID][-ttl-S]": pool (empty: the
 * listener's), session and its TTL.  -1 on a bad TTL.
 */
static int
gw_route(struct gw_req *r, const char *user)
{
	const char *s, *t, *end;
	char *e;
	double ttl;

	r->session_ttl = r->set->c.session_ttl;
	if (user == NULL || *user == '\0') {
		r->pool = xstrdup(r->set->c.pool);
		return 0;
	}
	end = user + strlen(user);
	t = strstr(user, "-ttl-");
	s = strstr(user, "-session-");
	if (t != NULL && s != NULL && t < s)
		t = strstr(s, "-ttl-");
	if (t != NULL) {
		errno = 0;
		ttl = strtod(t + 5, &e);
		if (errno != 0 || e == t + 5 || *e != '\0' || !(ttl > 0) ||
		    ttl > RA_TTL_MAX)
			return -1;
		r->session_ttl = ttl;
		end = t;
	}
	if (s != NULL && s < end) {
		if (s + 9 >= end)
			return -1;
		r->session = xstrndup(s + 9, (size_t)(end - s - 9));
		end = s;
	}
	r->pool = end > user ? xstrndup(user, (size_t)(end - user)) :
	    xstrdup(r->set->c.pool);
	return 0;
}

/* Constant-time compare of the password. */
static bool
gw_password_ok(const char *want, const char *got)
{
	size_t n = strlen(want), m = got != NULL ? strlen(got) : 0, i;
	unsigned char d = (unsigned char)(n != m);

	for (i = 0; i < n; i++)
		d |= (unsigned char)(want[i] ^ (i < m ? got[i] : 0));
	return d == 0 && got != NULL;
}

static struct gw_req *
gw_req_new(struct gw_conn *c, enum gw_kind kind)
{
	struct gw_req *r = xcalloc(1, sizeof *r);

	r->gw = c->gw;
	r->c = c;
	r->l = c->l;
	r->l->refs++;
	r->set = c->l->set;
	r->set->refs++;
	r->kind = kind;
	r->fd = -1;
	r->latency_ms = -1;
	r->up_out = evbuffer_new();
	snprintf(r->holder, sizeof r->holder, "gateway %s client %s",
	    c->l->addr, c->peer);
	c->req = r;
	if (c->idle_ev != NULL)
		evtimer_del(c->idle_ev);
	if (kind == GW_PLAIN)
		c->l->stats.requests++;
	else
		c->l->stats.tunnels++;
	return r;
}

static void
gw_req_maybe_free(struct gw_req *r)
{
	int i;

	if (!r->ended || r->inflight > 0 || r->c != NULL)
		return;
	for (i = 0; i < r->ntried; i++)
		free(r->tried[i]);
	free(r->failed_token);
	free(r->pool);
	free(r->session);
	free(r->host);
	free(r->hostport);
	if (r->leased && r->sess == NULL)
		ra_lease_deinit(&r->lease);
	if (r->body != NULL)
		evbuffer_free(r->body);
	evbuffer_free(r->up_out);
	if (r->rs_init)
		gw_http_free(&r->rs);
	free(r->sample);
	gw_listener_unref(r->l);
	gw_set_unref(r->set);
	free(r);
}

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

static struct ra_async *
gw_ra(struct gateway *gw)
{
	return redis_ra(gw->d->redis);
}

/* Give a lease back with an outcome (nobody waits for the answer, so
 * proxypoold_releases_total counts it as sent). */
static void
gw_release(struct gateway *gw, const char *pool, const char *token,
    enum ra_outcome o, double latency_ms)
{
	struct ra_async *ra = gw_ra(gw);

	if (ra == NULL || ra_async_release(ra, pool, token, o, latency_ms,
	    gw_ignore_cb, NULL) != 0)
		log_pool(LOG_LEVEL_WARN, pool, "gateway: cannot release a "
		    "lease; it expires with its TTL");
	else
		metrics_count_release(gw->d, pool, o);
}

static void
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

static void
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

static void
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
static double
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
static void
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
static void
gw_session_put(struct gw_req *r)
{
	struct gw_session *s = r->sess;
	struct ra_async *ra;

	if (r->swaiting) {
		TAILQ_REMOVE(&s->waiting, r, sentry);
		r->swaiting = false;
		r->inflight--;
		r->sess = NULL;
		return;
	}
	if (!r->leased)
		return;
	if (r->outcome != RA_OUTCOME_NONE && (ra = gw_ra(r->gw)) != NULL)
		ra_async_report(ra, s->pool, s->lease.item, r->outcome,
		    r->latency_ms, gw_ignore_cb, NULL);
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

/* ------------------------------------------------------------------ */
/* The upstream                                                         */
/* ------------------------------------------------------------------ */

static CURL *
gw_handle(struct gateway *gw)
{
	if (gw->nidle > 0)
		return gw->idle[--gw->nidle];
	return curl_easy_init();
}

static void
gw_keep_free(struct gw_keep *k)
{
	struct gateway *gw = k->gw;

	TAILQ_REMOVE(&gw->keep, k, entry);
	gw->nkeep--;
	event_free(k->ev);
	curlev_remove(gw->d->curl, k->h);
	curl_easy_cleanup(k->h);
	free(k->proxy);
	free(k);
}

/* A kept connection spoke (the proxy closed it) or grew old: drop it. */
static void
gw_keep_cb(evutil_socket_t fd, short what, void *arg)
{
	gw_keep_free(arg);
	(void)fd;
	(void)what;
}

/* Keep the upstream of r for another request to the same proxy. */
static void
gw_keep_put(struct gw_req *r)
{
	struct gateway *gw = r->gw;
	struct gw_keep *k, *old = NULL;
	struct timeval tv = { GW_KEEP_SECS, 0 };
	unsigned same = 0;

	TAILQ_FOREACH(k, &gw->keep, entry) {
		if (strcmp(k->proxy, r->lease.item) == 0) {
			same++;
			old = k;
		}
	}
	if (same >= GW_KEEP_PROXY)
		gw_keep_free(old);
	else if (gw->nkeep >= GW_KEEP_MAX)
		gw_keep_free(TAILQ_LAST(&gw->keep, gw_keep_list));
	k = xcalloc(1, sizeof *k);
	k->gw = gw;
	k->proxy = xstrdup(r->lease.item);
	k->h = r->h;
	k->fd = r->fd;
	k->ev = event_new(gw->d->base, k->fd, EV_READ, gw_keep_cb, k);
	event_add(k->ev, &tv);
	TAILQ_INSERT_HEAD(&gw->keep, k, entry);
	gw->nkeep++;
	r->h = NULL;		/* gw_up_close leaves it alone */
}

/* A kept connection to proxy, taken; NULL if none. */
static struct gw_keep *
gw_keep_get(struct gateway *gw, const char *proxy)
{
	struct gw_keep *k;

	TAILQ_FOREACH(k, &gw->keep, entry) {
		if (strcmp(k->proxy, proxy) == 0)
			return k;
	}
	return NULL;
}

/* Stop using the upstream of r (its connection closes). */
static void
gw_up_close(struct gw_req *r)
{
	struct gateway *gw = r->gw;

	if (r->up_rev != NULL) {
		event_free(r->up_rev);
		r->up_rev = NULL;
	}
	if (r->up_wev != NULL) {
		event_free(r->up_wev);
		r->up_wev = NULL;
	}
	if (r->h != NULL) {
		curlev_remove(gw->d->curl, r->h);
		if (gw->nidle < GW_IDLE_HANDLES) {
			curl_easy_reset(r->h);
			gw->idle[gw->nidle++] = r->h;
		} else
			curl_easy_cleanup(r->h);
		r->h = NULL;
	}
	r->fd = -1;
	r->connecting = false;
	r->up_paused = false;
	evbuffer_drain(r->up_out, evbuffer_get_length(r->up_out));
}

/* Release (or report) with the outcome, end the upstream, free the
 * request when nothing refers to it. */
static void
gw_req_finish(struct gw_req *r)
{
	if (r->ended)
		return;
	r->ended = true;
	if (r->timer != NULL) {
		event_free(r->timer);
		r->timer = NULL;
	}
	gw_up_close(r);
	gw_count_outcome(r->l, r->outcome, r->latency_ms);
	if (r->sess != NULL)
		gw_session_put(r);
	else if (r->leased)
		gw_release(r->gw, r->pool, r->lease.token, r->outcome,
		    r->latency_ms);
	if (r->failed_token != NULL)
		gw_release(r->gw, r->pool, r->failed_token,
		    RA_OUTCOME_FAILED, -1);
	if (r->c != NULL && r->c->req == r)
		r->c->req = NULL;
	r->c = NULL;
	gw_req_maybe_free(r);
}

/* Answer the client with an error (if nothing was sent yet) and end r;
 * the client connection closes. */
static void
gw_req_fail(struct gw_req *r, int status, const char *code, const char *msg)
{
	struct gw_conn *c = r->c;
	unsigned char rep[GW_SOCKS_OUT_MAX];
	size_t n;
	int sr;

	if (c != NULL && !r->sent_client) {
		if (r->kind == GW_SOCKS5) {
			sr = status == 504 ? GW_SOCKS_TTL : status == 502 &&
			    code != NULL && strcmp(code, "FAILED") == 0 ?
			    GW_SOCKS_HOSTUNREACH : GW_SOCKS_FAILURE;
			n = gw_socks_reply(rep, sr);
			bufferevent_write(c->bev, rep, n);
			c->l->stats.errors++;
		} else
			gw_answer(c, status, code, msg);
	}
	log_debug("gateway %s: %s %s: %d %s", r->l->addr, r->pool,
	    r->hostport != NULL ? r->hostport : "", status, msg);
	gw_req_finish(r);
	if (c != NULL)
		gw_conn_close_after_write(c);
}

/* Another proxy, when the rules allow it: true if one is being tried. */
static bool
gw_req_retry(struct gw_req *r, int status, const char *why)
{
	/* a plain request goes again when its body so far is kept */
	bool replay = r->kind != GW_PLAIN || r->body != NULL;

	r->error = why;
	r->error_status = status;
	if (r->sent_client || !replay || r->c == NULL ||
	    r->ntried > r->set->c.retries ||
	    (r->sess != NULL && !r->set->c.rotate_on_error) ||
	    (r->sess != NULL && r->sess->refs > 1))
		return false;
	r->l->stats.retries++;
	log_debug("gateway %s: %s via %s failed (%s), trying another proxy",
	    r->l->addr, r->hostport, r->tried[r->ntried - 1], why);
	gw_up_close(r);
	gw_count_outcome(r->l, RA_OUTCOME_FAILED, -1);
	if (r->sess != NULL) {
		/* the session moves: drop its lease, lease by name again
		 * while the failed one is held, so it is not returned */
		struct gw_session *s = r->sess;

		r->failed_token = xstrdup(s->lease.token);
		r->leased = false;
		r->lease.item = NULL;
		s->refs--;
		s->held = false;
		free(s->lease.item);
		s->lease.item = NULL;
		gw_session_lease(r);
		return true;
	}
	r->failed_token = xstrdup(r->lease.token);
	ra_lease_deinit(&r->lease);
	r->leased = false;
	r->outcome = RA_OUTCOME_NONE;
	gw_req_lease(r);
	return true;
}

/* A failure before the response: retry, or answer it. */
static void
gw_req_upstream_failed(struct gw_req *r, int status, const char *why)
{
	if (r->reused && !r->sent_client && r->c != NULL &&
	    (r->kind != GW_PLAIN || r->body != NULL)) {
		/* the proxy closed a kept connection as we used it: the
		 * proxy is not at fault; a new connection */
		gw_up_close(r);
		gw_req_upstream(r);
		return;
	}
	r->outcome = RA_OUTCOME_FAILED;
	if (gw_req_retry(r, status, why))
		return;
	gw_req_fail(r, status, "FAILED", why);
}

static void
gw_up_rev_cb(evutil_socket_t fd, short what, void *arg)
{
	gw_up_read(arg);
	(void)fd;
	(void)what;
}

static void
gw_up_wev_cb(evutil_socket_t fd, short what, void *arg)
{
	gw_up_flush(arg);
	(void)fd;
	(void)what;
}

/* Send what up_out holds; the client's reads stop while it is full. */
static void
gw_up_flush(struct gw_req *r)
{
	struct gw_conn *c = r->c;
	unsigned char *p;
	size_t len, n;
	CURLcode rc;

	while ((len = evbuffer_get_length(r->up_out)) > 0) {
		if (len > GW_RECV)
			len = GW_RECV;
		p = evbuffer_pullup(r->up_out, (ev_ssize_t)len);
		n = 0;
		rc = curl_easy_send(r->h, p, len, &n);
		if (rc == CURLE_AGAIN) {
			event_add(r->up_wev, NULL);
			break;
		}
		if (rc != CURLE_OK) {
			if (!r->sent_client && r->kind == GW_PLAIN) {
				gw_req_upstream_failed(r, 502, "sending to "
				    "the proxy failed");
				return;
			}
			r->outcome = RA_OUTCOME_FAILED;
			gw_req_finish(r);
			if (c != NULL)
				gw_conn_close_after_write(c);
			return;
		}
		evbuffer_drain(r->up_out, n);
	}
	if (c == NULL)
		return;
	len = evbuffer_get_length(r->up_out);
	if (len < (size_t)r->set->c.buffer) {
		if (c->mode == GW_TUNNEL || !r->body_done)
			bufferevent_enable(c->bev, EV_READ);
	} else
		bufferevent_disable(c->bev, EV_READ);
}

static void gw_resp_body(void *arg, const char *data, size_t len);

/* Bytes of the response body to the client (re-chunked if needed). */
static void
gw_client_body(struct gw_req *r, const char *data, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(r->c->bev);

	if (len == 0)
		return;
	if (r->nsample < GW_BAN_SAMPLE - 1 && r->set->has_ban_re) {
		size_t n = GW_BAN_SAMPLE - 1 - r->nsample;

		if (r->sample == NULL)
			r->sample = xmalloc(GW_BAN_SAMPLE);

		if (n > len)
			n = len;
		memcpy(r->sample + r->nsample, data, n);
		r->nsample += n;
		r->sample[r->nsample] = '\0';
	}
	if (r->chunk_out)
		evbuffer_add_printf(out, "%zx\r\n", len);
	evbuffer_add(out, data, len);
	if (r->chunk_out)
		evbuffer_add(out, "\r\n", 2);
	r->l->stats.bytes_out += len;
}

static void
gw_resp_body(void *arg, const char *data, size_t len)
{
	struct gw_req *r = arg;

	if (r->c != NULL)
		gw_client_body(r, data, len);
}

/* The headers the gateway adds to what it forwards to the client. */
static void
gw_our_headers(struct gw_req *r, struct evbuffer *out)
{
	char *red;

	if (r->set->c.proxy_header && r->lease.item != NULL) {
		red = proxyurl_redact(r->lease.item);
		evbuffer_add_printf(out, "X-Proxypool-Proxy: %s\r\n", red);
		free(red);
	}
	if (r->sess != NULL) {
		evbuffer_add_printf(out, "X-Proxypool-Session: %s\r\n",
		    r->sess->id);
		if (r->sess->moved)
			evbuffer_add_printf(out, "X-Proxypool-Session-Moved: "
			    "1\r\n");
	}
}

/* The response head is here: outcome, retry, or on to the client. */
static int
gw_resp_head(struct gw_req *r)
{
	struct gw_head *hd = &r->rs.head;
	struct gw_conn *c = r->c;
	struct evbuffer *out;
	bool client_ka;
	size_t i;

	if (hd->status >= 100 && hd->status < 200) {
		/* 100 Continue and the like: the body streams anyway */
		return 0;
	}
	if (r->timer != NULL)
		evtimer_del(r->timer);
	r->latency_ms = (gw_now() - r->started) * 1000.0;
	if (r->forward && gw_status_in(r->set->c.proxy_statuses,
	    r->set->c.nproxy_statuses, hd->status)) {
		r->outcome = RA_OUTCOME_FAILED;
		if (gw_req_retry(r, 502, "the proxy answered an error"))
			return -1;
	} else if (gw_status_in(r->set->c.ban_statuses,
	    r->set->c.nban_statuses, hd->status))
		r->outcome = RA_OUTCOME_BANNED;
	else
		r->outcome = RA_OUTCOME_OK;
	out = bufferevent_get_output(c->bev);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", hd->status,
	    hd->reason);
	for (i = 0; i < hd->nhdrs; i++) {
		if (gw_head_hop(hd, hd->hdrs[i].name))
			continue;
		evbuffer_add_printf(out, "%s: %s\r\n", hd->hdrs[i].name,
		    hd->hdrs[i].value);
	}
	client_ka = c->rq.head.keepalive && !r->close_after;
	r->chunk_out = false;
	if (!r->rs.no_body && hd->status != 204 && hd->status != 304) {
		if (hd->chunked || (hd->length < 0 && c->rq.head.minor >= 1))
			r->chunk_out = true;
		else if (hd->length < 0)
			client_ka = false;	/* ends with the connection */
	}
	if (r->chunk_out)
		evbuffer_add_printf(out, "Transfer-Encoding: chunked\r\n");
	gw_our_headers(r, out);
	if (!client_ka)
		r->close_after = true;
	evbuffer_add_printf(out, "Connection: %s\r\n\r\n", client_ka ?
	    "keep-alive" : "close");
	r->sent_client = true;
	return 0;
}

/* The response is complete: release, and the client goes on. */
static void
gw_resp_done(struct gw_req *r)
{
	struct gw_conn *c = r->c;
	bool keep;

	if (r->chunk_out)
		evbuffer_add(bufferevent_get_output(c->bev), "0\r\n\r\n", 5);
	if (r->outcome == RA_OUTCOME_OK && r->set->has_ban_re &&
	    r->nsample > 0 && regexec(&r->set->ban_re, r->sample, 0, NULL,
	    0) == 0)
		r->outcome = RA_OUTCOME_BANNED;
	keep = !r->close_after && r->body_done;
	if (r->forward && r->rs.head.keepalive && r->h != NULL &&
	    evbuffer_get_length(r->up_out) == 0 && r->body_done &&
	    r->rs.head.status >= 200)
		gw_keep_put(r);
	gw_req_finish(r);
	if (!keep) {
		gw_conn_close_after_write(c);
		return;
	}
	gw_http_next(&c->rq);
	gw_conn_idle(c);
	gw_conn_process(c);
}

/* Read from the upstream while the client takes it. */
static void
gw_up_read(struct gw_req *r)
{
	char buf[GW_RECV];
	struct gw_conn *c;
	enum gw_http_state st;
	size_t n, used, off;
	CURLcode rc;

	while ((c = r->c) != NULL && !r->ended && r->h != NULL &&
	    !r->connecting) {
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) >=
		    (size_t)r->set->c.buffer) {
			r->up_paused = true;
			event_del(r->up_rev);
			return;
		}
		n = 0;
		rc = curl_easy_recv(r->h, buf, sizeof buf, &n);
		if (rc == CURLE_AGAIN)
			return;
		if (rc != CURLE_OK || n == 0) {
			/* closed or reset */
			if (r->kind != GW_PLAIN) {
				gw_req_finish(r);
				gw_conn_close_after_write(c);
				return;
			}
			if (rc == CURLE_OK && r->rs.state != GW_HTTP_MORE &&
			    gw_http_eof(&r->rs) == GW_HTTP_DONE) {
				gw_resp_done(r);
				return;
			}
			if (!r->sent_client) {
				gw_req_upstream_failed(r, 502, "the upstream "
				    "closed the connection before answering");
				return;
			}
			r->outcome = RA_OUTCOME_FAILED;
			gw_req_finish(r);
			gw_conn_close(c);	/* the response is cut */
			return;
		}
		if (r->kind != GW_PLAIN) {
			bufferevent_write(c->bev, buf, n);
			r->l->stats.bytes_out += n;
			r->active = gw_now();
			continue;
		}
		for (off = 0; off < n && !r->ended; off += used) {
			st = gw_http_feed(&r->rs, buf + off, n - off, &used);
			if (st == GW_HTTP_ERROR) {
				if (!r->sent_client) {
					gw_req_upstream_failed(r, 502,
					    "the upstream sent a malformed "
					    "response");
					return;
				}
				r->outcome = RA_OUTCOME_FAILED;
				gw_req_finish(r);
				gw_conn_close(c);
				return;
			}
			if (st == GW_HTTP_HEAD) {
				if (gw_resp_head(r) != 0)
					return;		/* retrying */
				if (r->rs.head.status < 200) {
					/* an interim answer: read on */
					gw_http_next(&r->rs);
					gw_http_set_no_body(&r->rs,
					    c->rq.head.head_method);
					continue;
				}
				if (r->rs.state == GW_HTTP_DONE) {
					gw_resp_done(r);
					return;
				}
			} else if (st == GW_HTTP_DONE) {
				gw_resp_done(r);
				return;
			}
			if (used == 0)
				break;
		}
	}
}

/* Response deadline (plain) passed. */
static void
gw_resp_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_req *r = arg;

	(void)fd;
	(void)what;
	gw_req_upstream_failed(r, 504, "the upstream did not answer in "
	    "time");
}

/* A tunnel's renewal came back: a lease lost (it expired while Redis
 * was away, and may be someone else's now) ends the tunnel. */
static void
gw_tunnel_renewed(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct gw_req *r = arg;
	struct gw_conn *c;

	(void)ra;
	r->inflight--;
	if (r->ended || (c = r->c) == NULL) {
		gw_req_maybe_free(r);
		return;
	}
	if (res->err == RA_OK) {
		r->lease.expires_ms = res->u.integer;
		return;
	}
	if (res->err != RA_ERR_NOT_OWNED)
		return;		/* Redis away: the next tick tries again */
	log_pool(LOG_LEVEL_WARN, r->pool, "gateway %s: the lease of the "
	    "tunnel to %s is lost; closing it", r->l->addr, r->hostport);
	r->leased = false;
	gw_req_finish(r);
	gw_conn_close_after_write(c);
}

/* A tunnel's tick: close it when idle, renew its own lease when due. */
static void
gw_tunnel_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_req *r = arg;
	double now = gw_now(), idle = r->set->c.idle_timeout, every;
	struct ra_async *ra;

	(void)fd;
	(void)what;
	if (idle > 0 && now - r->active >= idle && r->c != NULL) {
		struct gw_conn *c = r->c;

		log_debug("gateway %s: tunnel to %s idle, closing", r->l->addr,
		    r->hostport);
		gw_req_finish(r);
		gw_conn_close_after_write(c);
		return;
	}
	every = gw_renew_every(r->lease.expires_ms, r->set->c.lease_ttl);
	if (now >= r->renew_at) {
		if (r->sess == NULL && r->leased &&
		    (ra = gw_ra(r->gw)) != NULL) {
			r->inflight++;
			if (ra_async_renew(ra, r->pool, r->lease.token,
			    r->set->c.lease_ttl > 0 ? r->set->c.lease_ttl :
			    RA_TTL_DEFAULT, gw_tunnel_renewed, r) != 0)
				r->inflight--;
		}
		r->renew_at = now + every;
	}
	if (idle > 0 && idle / 4 < every)
		every = idle / 4 > 0.05 ? idle / 4 : 0.05;
	gw_req_timer(r, every, gw_tunnel_tick_cb);
}

/* Write the request head for this upstream into up_out. */
static void
gw_req_head_out(struct gw_req *r)
{
	struct gw_head *hd = &r->c->rq.head;
	struct evbuffer *up = r->up_out, *head;
	struct proxyurl_parts pt;
	char *cause, *cred, *b64;
	size_t i;

	/* body bytes past retry_body may be waiting already */
	head = r->up_out = evbuffer_new();

	if (r->forward)
		evbuffer_add_printf(r->up_out, "%s http://%s%s%s:%d%s HTTP/1.1"
		    "\r\n", hd->method, strchr(r->host, ':') ? "[" : "",
		    r->host, strchr(r->host, ':') ? "]" : "", r->port, hd->path);
	else
		evbuffer_add_printf(r->up_out, "%s %s HTTP/1.1\r\n",
		    hd->method, hd->path);
	for (i = 0; i < hd->nhdrs; i++) {
		if (gw_head_hop(hd, hd->hdrs[i].name) ||
		    strcasecmp(hd->hdrs[i].name, "expect") == 0)
			continue;
		evbuffer_add_printf(r->up_out, "%s: %s\r\n", hd->hdrs[i].name,
		    hd->hdrs[i].value);
	}
	if (gw_head_get(hd, "host") == NULL)
		evbuffer_add_printf(r->up_out, "Host: %s\r\n", r->hostport);
	/* the proxy's own credentials (only a URL with an '@' has some) */
	if (r->forward && strchr(r->lease.item, '@') != NULL &&
	    proxyurl_split(r->lease.item, &pt, &cause) == 0) {
		if (pt.user != NULL) {
			xasprintf(&cred, "%s:%s", pt.user, pt.password != NULL ?
			    pt.password : "");
			b64 = gw_base64(cred, strlen(cred));
			evbuffer_add_printf(r->up_out, "Proxy-Authorization: "
			    "Basic %s\r\n", b64);
			free(b64);
			free(cred);
		}
		proxyurl_parts_free(&pt);
	} else if (r->forward && strchr(r->lease.item, '@') != NULL)
		free(cause);
	if (hd->chunked)
		evbuffer_add_printf(r->up_out, "Transfer-Encoding: chunked\r\n");
	evbuffer_add_printf(r->up_out, "Connection: %s\r\n\r\n",
	    "keep-alive");
	if (r->body != NULL)
		evbuffer_add_buffer_reference(head, r->body);
	evbuffer_prepend_buffer(up, head);
	evbuffer_free(head);
	r->up_out = up;
}

/* The upstream connection is made (or not). */
static void
gw_up_done(struct curlev_xfer *x, CURLcode rc)
{
	struct gw_req *r = (struct gw_req *)((char *)x -
	    offsetof(struct gw_req, xfer));
	curl_socket_t sock = CURL_SOCKET_BAD;
	long code = 0;
	char why[160];

	r->connecting = false;
	if (rc != CURLE_OK) {
		curl_easy_getinfo(r->h, CURLINFO_HTTP_CONNECTCODE, &code);
		if (code != 0 && code != 200)
			snprintf(why, sizeof why, "the proxy refused the "
			    "tunnel (%ld)", code);
		else
			snprintf(why, sizeof why, "%s", curl_easy_strerror(rc));
		log_debug("gateway %s: %s via proxy: %s", r->l->addr,
		    r->hostport, why);
		gw_req_upstream_failed(r, rc == CURLE_OPERATION_TIMEDOUT ?
		    504 : 502, rc == CURLE_OPERATION_TIMEDOUT ? "the proxy "
		    "timed out" : code != 0 && code != 200 ? "the proxy "
		    "refused the tunnel" : "the proxy could not be reached");
		return;
	}
	if (curl_easy_getinfo(r->h, CURLINFO_ACTIVESOCKET, &sock) !=
	    CURLE_OK || sock == CURL_SOCKET_BAD) {
		gw_req_upstream_failed(r, 502, "no upstream socket");
		return;
	}
	r->fd = sock;
	gw_up_connected(r);
}

/* The upstream is there (new, or a kept one): go on with the request. */
static void
gw_up_connected(struct gw_req *r)
{
	struct gw_conn *c = r->c;
	struct evbuffer *out;
	unsigned char rep[GW_SOCKS_OUT_MAX];
	size_t n;

	r->up_rev = event_new(r->gw->d->base, r->fd, EV_READ | EV_PERSIST,
	    gw_up_rev_cb, r);
	r->up_wev = event_new(r->gw->d->base, r->fd, EV_WRITE, gw_up_wev_cb,
	    r);
	event_priority_set(r->up_rev, GW_PRIORITY);
	event_priority_set(r->up_wev, GW_PRIORITY);
	event_add(r->up_rev, NULL);
	if (r->kind == GW_PLAIN) {
		gw_req_head_out(r);
		gw_req_timer(r, r->set->c.timeout, gw_resp_timeout_cb);
		gw_up_flush(r);
		return;
	}
	/* a tunnel: tell the client, then bytes both ways */
	r->latency_ms = (gw_now() - r->started) * 1000.0;
	r->outcome = RA_OUTCOME_OK;
	out = bufferevent_get_output(c->bev);
	if (r->kind == GW_SOCKS5) {
		n = gw_socks_reply(rep, GW_SOCKS_OK);
		evbuffer_add(out, rep, n);
	} else {
		evbuffer_add_printf(out, "HTTP/1.1 200 Connection "
		    "established\r\n");
		gw_our_headers(r, out);
		evbuffer_add_printf(out, "\r\n");
	}
	r->sent_client = true;
	c->mode = GW_TUNNEL;
	r->active = gw_now();
	r->renew_at = r->active + gw_renew_every(r->lease.expires_ms,
	    r->set->c.lease_ttl);
	gw_req_timer(r, 0.05, gw_tunnel_tick_cb);
	/* what the client sent after its request (a TLS hello) */
	gw_conn_process(c);
}

/* Connect to the upstream through the leased proxy. */
static void
gw_req_upstream(struct gw_req *r)
{
	struct gateway *gw = r->gw;
	const char *px = r->lease.item;
	struct gw_keep *k;
	char *url;
	long ms;

	r->forward = r->kind == GW_PLAIN && (strncmp(px, "http://", 7) == 0 ||
	    strncmp(px, "https://", 8) == 0);
	if (r->kind == GW_PLAIN) {
		if (r->rs_init)
			gw_http_free(&r->rs);
		gw_http_init(&r->rs, HTTP_RESPONSE);
		gw_http_set_body(&r->rs, gw_resp_body, r);
		gw_http_set_no_body(&r->rs, r->c->rq.head.head_method);
		r->rs_init = true;
	}
	r->reused = false;
	if (r->forward && (k = gw_keep_get(gw, px)) != NULL) {
		/* a connection the last response left open */
		r->h = k->h;
		r->fd = k->fd;
		k->h = NULL;
		TAILQ_REMOVE(&gw->keep, k, entry);
		gw->nkeep--;
		event_free(k->ev);
		free(k->proxy);
		free(k);
		r->reused = true;
		r->xfer.done = gw_up_done;
		r->xfer.priority = GW_PRIORITY;
		curl_easy_setopt(r->h, CURLOPT_PRIVATE, &r->xfer);
		r->started = gw_now();
		gw_up_connected(r);
		return;
	}
	if ((r->h = gw_handle(gw)) == NULL) {
		gw_req_fail(r, 502, "FAILED", "cannot make a transfer");
		return;
	}
	xasprintf(&url, "http://%s%s%s:%d/", strchr(r->host, ':') ? "[" : "",
	    r->host, strchr(r->host, ':') ? "]" : "", r->port);
	ms = (long)(r->set->c.connect_timeout * 1000.0);
	curl_easy_setopt(r->h, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(r->h, CURLOPT_PROXY, px);
	curl_easy_setopt(r->h, CURLOPT_NOPROXY, "");
	curl_easy_setopt(r->h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(r->h, CURLOPT_HTTPPROXYTUNNEL, r->forward ? 0L : 1L);
	curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->h, CURLOPT_CONNECTTIMEOUT_MS, ms);
	curl_easy_setopt(r->h, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(r->h, CURLOPT_USERAGENT, "proxypoold/"
	    PACKAGE_VERSION);
	r->xfer.done = gw_up_done;
	r->xfer.priority = GW_PRIORITY;
	r->started = gw_now();
	r->connecting = true;
	if (curlev_add(gw->d->curl, r->h, &r->xfer) != 0) {
		curl_easy_cleanup(r->h);
		r->h = NULL;
		r->connecting = false;
		gw_req_fail(r, 502, "FAILED", "cannot queue the transfer");
		return;
	}
}

/* ------------------------------------------------------------------ */
/* Client input                                                         */
/* ------------------------------------------------------------------ */

/* Request body bytes (decoded): to the upstream, kept for retries. */
static void
gw_req_body(void *arg, const char *data, size_t len)
{
	struct gw_conn *c = arg;
	struct gw_req *r = c->req;
	bool chunked;

	if (r == NULL || len == 0)
		return;
	chunked = c->rq.head.chunked;
	r->l->stats.bytes_in += len;
	if (r->body != NULL && evbuffer_get_length(r->body) + len >
	    (size_t)r->set->c.retry_body) {
		/* too big to send again; before the upstream is there, what
		 * was kept goes out first */
		if (r->fd < 0)
			evbuffer_add_buffer(r->up_out, r->body);
		evbuffer_free(r->body);
		r->body = NULL;
	}
	if (r->body != NULL) {
		if (chunked)
			evbuffer_add_printf(r->body, "%zx\r\n", len);
		evbuffer_add(r->body, data, len);
		if (chunked)
			evbuffer_add(r->body, "\r\n", 2);
	}
	/* before the upstream is connected, the kept body is sent with
	 * the head; past retry_body nothing may be lost: it waits here */
	if (r->fd < 0 && r->body != NULL)
		return;
	if (chunked)
		evbuffer_add_printf(r->up_out, "%zx\r\n", len);
	evbuffer_add(r->up_out, data, len);
	if (chunked)
		evbuffer_add(r->up_out, "\r\n", 2);
}

/* Credentials: the user name, true when they may use the listener. */
static bool
gw_auth(struct gw_conn *c, const char *user, const char *password)
{
	const char *want = c->l->set->c.password;

	if (want == NULL)
		return true;
	return user != NULL && gw_password_ok(want, password);
}

/* A complete request head: start the request. */
static void
gw_http_start(struct gw_conn *c)
{
	struct gw_head *hd = &c->rq.head;
	struct gw_req *r;
	const char *auth;
	char *user = NULL, *password = NULL;
	bool ok;

	if (hd->upgrade && !hd->connect) {
		gw_answer(c, 501, NULL, "protocol upgrades are not proxied");
		gw_conn_close_after_write(c);
		return;
	}
	auth = gw_head_get(hd, "proxy-authorization");
	if (auth != NULL && gw_basic_decode(auth, &user, &password) != 0) {
		c->l->stats.auth_failures++;
		gw_answer(c, 407, NULL, "Proxy-Authorization is not Basic "
		    "credentials");
		gw_conn_close_after_write(c);
		return;
	}
	ok = gw_auth(c, user, password);
	free(password);
	if (!ok) {
		free(user);
		c->l->stats.auth_failures++;
		gw_answer(c, 407, NULL, "credentials needed: user POOL"
		    "[-session-ID] and the listener's password");
		gw_conn_close_after_write(c);
		return;
	}
	r = gw_req_new(c, hd->connect ? GW_CONNECT : GW_PLAIN);
	if (gw_route(r, user) != 0) {
		free(user);
		r->pool = r->pool != NULL ? r->pool : xstrdup(r->set->c.pool);
		gw_req_fail(r, 407, NULL, "bad user name: POOL[-session-ID]"
		    "[-ttl-SECONDS]");
		return;
	}
	free(user);
	r->host = xstrdup(hd->host);
	r->port = hd->port;
	xasprintf(&r->hostport, "%s%s%s:%d", strchr(r->host, ':') ? "[" : "",
	    r->host, strchr(r->host, ':') ? "]" : "", r->port);
	r->wait_until = gw_now() + r->set->c.wait;
	if (r->kind == GW_PLAIN) {
		/* the body streams: the client need not wait for the
		 * upstream's permission (which never comes: Expect is not
		 * forwarded) */
		if ((auth = gw_head_get(hd, "expect")) != NULL &&
		    strcasecmp(auth, "100-continue") == 0 && hd->minor >= 1)
			bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n"
			    "\r\n", 25);
		r->body = evbuffer_new();
		r->body_done = !hd->chunked && hd->length <= 0;
		if (!hd->idempotent && !r->body_done && hd->length >
		    r->set->c.retry_body) {
			evbuffer_free(r->body);
			r->body = NULL;
		}
	}
	gw_req_lease(r);
}

/* Parse the buffered HTTP input. */
static void
gw_http_input(struct gw_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	enum gw_http_state st;
	struct gw_req *r;
	size_t len, used;
	char *p;

	while ((len = evbuffer_get_length(in)) > 0 && c->mode == GW_HTTP) {
		r = c->req;
		if (r != NULL && (r->body_done || c->rq.state ==
		    GW_HTTP_DONE)) {
			/* the next request waits for this one's answer */
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		if (r != NULL && evbuffer_get_length(r->up_out) >=
		    (size_t)r->set->c.buffer) {
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		p = (char *)evbuffer_pullup(in, (ev_ssize_t)(len > GW_RECV ?
		    GW_RECV : len));
		st = gw_http_feed(&c->rq, p, len > GW_RECV ? GW_RECV : len,
		    &used);
		evbuffer_drain(in, used);
		if (st == GW_HTTP_ERROR) {
			if (r != NULL) {
				r->outcome = RA_OUTCOME_NONE;
				gw_req_finish(r);
			}
			log_debug("gateway %s: %s: %s", c->l->addr, c->peer,
			    c->rq.errstr);
			if (r == NULL || !r->sent_client)
				gw_answer(c, c->rq.error_status, NULL,
				    c->rq.errstr);
			gw_conn_close_after_write(c);
			return;
		}
		if (st == GW_HTTP_HEAD && r == NULL) {
			gw_http_set_body(&c->rq, gw_req_body, c);
			gw_http_start(c);
			if (c->req == NULL || c->mode != GW_HTTP)
				return;
			if (c->req->kind == GW_CONNECT)
				return;		/* the rest is the tunnel's */
			continue;
		}
		if (st == GW_HTTP_DONE && r != NULL && !r->body_done) {
			r->body_done = true;
			if (c->rq.head.chunked) {
				if (r->body != NULL)
					evbuffer_add(r->body, "0\r\n\r\n", 5);
				if (r->fd >= 0 || r->body == NULL)
					evbuffer_add(r->up_out, "0\r\n\r\n", 5);
			}
		}
		if (r != NULL && r->fd >= 0)
			gw_up_flush(r);
		if (used == 0)
			break;
	}
}

/* The SOCKS5 handshake. */
static void
gw_socks_input(struct gw_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	enum gw_socks_state st;
	struct gw_req *r;
	size_t len, used;
	unsigned char *p;
	bool ok;

	while ((len = evbuffer_get_length(in)) > 0 && c->req == NULL) {
		if (len > 1024)
			len = 1024;
		p = evbuffer_pullup(in, (ev_ssize_t)len);
		st = gw_socks_feed(&c->socks, p, len, &used);
		evbuffer_drain(in, used);
		if (c->socks.outlen > 0)
			bufferevent_write(c->bev, c->socks.out,
			    c->socks.outlen);
		switch (st) {
		case GW_SOCKS_MORE:
			if (used == 0)
				return;
			break;
		case GW_SOCKS_AUTH:
			ok = gw_auth(c, c->socks.user, c->socks.password);
			if (!ok)
				c->l->stats.auth_failures++;
			gw_socks_auth_result(&c->socks, ok);
			bufferevent_write(c->bev, c->socks.out,
			    c->socks.outlen);
			if (!ok) {
				gw_conn_close_after_write(c);
				return;
			}
			break;
		case GW_SOCKS_REQUEST:
			r = gw_req_new(c, GW_SOCKS5);
			if (gw_route(r, c->socks.use_auth ? c->socks.user :
			    NULL) != 0) {
				r->pool = r->pool != NULL ? r->pool :
				    xstrdup(r->set->c.pool);
				gw_req_fail(r, 400, NULL, "bad user name");
				return;
			}
			r->host = xstrdup(c->socks.host);
			r->port = c->socks.port;
			xasprintf(&r->hostport, "%s%s%s:%d",
			    strchr(r->host, ':') ? "[" : "", r->host,
			    strchr(r->host, ':') ? "]" : "", r->port);
			r->wait_until = gw_now() + r->set->c.wait;
			gw_req_lease(r);
			return;
		case GW_SOCKS_ERROR:
			log_debug("gateway %s: %s: SOCKS5: %s", c->l->addr,
			    c->peer, c->socks.errstr);
			c->l->stats.errors++;
			gw_conn_close_after_write(c);
			return;
		}
	}
}

static void
gw_conn_process(struct gw_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	unsigned char first;
	size_t len;

	if (c->mode == GW_DETECT) {
		if (evbuffer_copyout(in, &first, 1) != 1)
			return;
		if (first == 5) {
			c->mode = GW_SOCKS;
			gw_socks_init(&c->socks, c->l->set->c.password != NULL);
		} else {
			c->mode = GW_HTTP;
			gw_http_init(&c->rq, HTTP_REQUEST);
		}
	}
	switch (c->mode) {
	case GW_HTTP:
		if (c->req == NULL)
			bufferevent_enable(c->bev, EV_READ);
		gw_http_input(c);
		break;
	case GW_SOCKS:
		gw_socks_input(c);
		break;
	case GW_TUNNEL:
		len = evbuffer_get_length(in);
		if (len > 0 && c->req != NULL) {
			c->l->stats.bytes_in += len;
			c->req->active = gw_now();
			evbuffer_add_buffer(c->req->up_out, in);
			gw_up_flush(c->req);
		}
		break;
	default:
		break;
	}
}

static void
gw_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct gw_conn *c = arg;

	gw_conn_process(c);
	(void)bev;
}

/* ------------------------------------------------------------------ */
/* Life cycle and reports                                               */
/* ------------------------------------------------------------------ */

struct gateway *
gateway_create(struct daemon *d)
{
	struct gateway *gw = xcalloc(1, sizeof *gw);

	gw->d = d;
	TAILQ_INIT(&gw->listeners);
	TAILQ_INIT(&gw->conns);
	TAILQ_INIT(&gw->sessions);
	TAILQ_INIT(&gw->keep);
	return gw;
}

void
gateway_stop(struct gateway *gw)
{
	struct gw_listener *l;
	struct gw_conn *c, *next;

	gw->stopping = true;
	TAILQ_FOREACH(l, &gw->listeners, entry)
		gw_listener_close(l);
	TAILQ_FOREACH_SAFE(c, &gw->conns, entry, next) {
		if (c->req == NULL || c->mode == GW_TUNNEL)
			gw_conn_close(c);
		else
			c->req->close_after = true;
	}
}

unsigned
gateway_connections(const struct gateway *gw)
{
	return gw != NULL ? gw->nconns : 0;
}

void
gateway_destroy(struct gateway *gw)
{
	struct gw_listener *l;
	struct gw_session *s;
	struct gw_conn *c;

	if (gw == NULL)
		return;
	gw->stopping = true;
	while ((c = TAILQ_FIRST(&gw->conns)) != NULL)
		gw_conn_close(c);
	while ((s = TAILQ_FIRST(&gw->sessions)) != NULL)
		gw_session_free(s);
	while (!TAILQ_EMPTY(&gw->keep))
		gw_keep_free(TAILQ_FIRST(&gw->keep));
	while ((l = TAILQ_FIRST(&gw->listeners)) != NULL) {
		TAILQ_REMOVE(&gw->listeners, l, entry);
		gw_listener_close(l);
		gw_listener_unref(l);
	}
	while (gw->nidle > 0)
		curl_easy_cleanup(gw->idle[--gw->nidle]);
	free(gw);
}

void
gateway_info(const struct gateway *gw, struct evbuffer *b)
{
	const struct gw_listener *l;
	unsigned n = 0;
	int i = 0;

	if (gw != NULL) {
		TAILQ_FOREACH(l, &gw->listeners, entry)
			n += l->lev != NULL;
	}
	evbuffer_add_printf(b, "# Gateway\r\ngateway_listeners:%u\r\n"
	    "gateway_connections:%u\r\ngateway_kept_upstreams:%u\r\n", n,
	    gateway_connections(gw), gw != NULL ? gw->nkeep : 0);
	if (gw == NULL) {
		evbuffer_add_printf(b, "\r\n");
		return;
	}
	TAILQ_FOREACH(l, &gw->listeners, entry) {
		evbuffer_add_printf(b, "gateway_%d:listen=%s,pool=%s,open=%d,"
		    "clients=%u", i++, l->addr, l->set->c.pool, l->lev != NULL,
		    l->nconns);
#define GW_INFO(f, name, help) evbuffer_add_printf(b, "," name "=%llu", \
	l->stats.f);
		GW_COUNTERS(GW_INFO)
#undef GW_INFO
		evbuffer_add_printf(b, "\r\n");
	}
	evbuffer_add_printf(b, "\r\n");
}

void
gateway_metrics(const struct gateway *gw, struct evbuffer *b)
{
	const struct gw_listener *l;

	if (gw == NULL || TAILQ_EMPTY(&gw->listeners))
		return;
#define GW_METRIC(f, name, help)					\
	evbuffer_add_printf(b, "# HELP proxypoold_gateway_" name "_total " \
	    help "\n# TYPE proxypoold_gateway_" name "_total counter\n");	\
	TAILQ_FOREACH(l, &gw->listeners, entry)				\
		evbuffer_add_printf(b, "proxypoold_gateway_" name "_total"	\
		    "{listener=\"%s\",pool=\"%s\"} %llu\n", l->addr,	\
		    l->set->c.pool, l->stats.f);
	GW_COUNTERS(GW_METRIC)
#undef GW_METRIC
	evbuffer_add_printf(b, "# HELP proxypoold_gateway_clients Client "
	    "connections open.\n# TYPE proxypoold_gateway_clients gauge\n");
	TAILQ_FOREACH(l, &gw->listeners, entry)
		evbuffer_add_printf(b, "proxypoold_gateway_clients{listener="
		    "\"%s\",pool=\"%s\"} %u\n", l->addr, l->set->c.pool,
		    l->nconns);
}
