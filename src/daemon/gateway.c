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
 *
 * This file: listeners, client connections, routing and credentials,
 * the client's input.  gw_lease.c: leases and sessions.  gw_up.c: the
 * upstream, the response, the end of a request.  gw_int.h: what they
 * share.
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
#include "gateway.h"
#include "gw_int.h"
#include "log.h"
#include "metrics.h"
#include "proxyurl.h"
#include "redis.h"
#include "xmalloc.h"

static void	gw_conn_read_cb(struct bufferevent *bev, void *arg);
static void	gw_conn_write_cb(struct bufferevent *bev, void *arg);
static void	gw_conn_event_cb(struct bufferevent *bev, short what,
		    void *arg);

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
	s->c.proxy_cacert = cg->proxy_cacert != NULL ?
	    xstrdup(cg->proxy_cacert) : NULL;
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
	free(s->c.proxy_cacert);
	free(s->c.ban_statuses);
	free(s->c.proxy_statuses);
	if (s->has_ban_re)
		regfree(&s->ban_re);
	free(s);
}

bool
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
void
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
void
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
void
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

void
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

void
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

void
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
