/*
 * gw_up.c: the gateway's upstream: a libcurl CONNECT_ONLY connection on
 * the daemon's multi handle (a tunnel to the target, or a connection to
 * an http(s) proxy for a plain request in absolute form), connections
 * kept for the next request to the same proxy, bytes both ways within
 * the listener's buffer, the response head (outcome, retry) and body,
 * and the end of a request: the release with its outcome.
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

static void	gw_up_connected(struct gw_req *r);

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

void
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
void
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
void
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
void
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
void
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
void
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
	/* https proxies: their certificate is checked (against
	 * proxy_cacert when set) unless proxy_insecure */
	if (r->set->c.proxy_cacert != NULL)
		curl_easy_setopt(r->h, CURLOPT_PROXY_CAINFO,
		    r->set->c.proxy_cacert);
	if (r->set->c.proxy_insecure) {
		curl_easy_setopt(r->h, CURLOPT_PROXY_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(r->h, CURLOPT_PROXY_SSL_VERIFYHOST, 0L);
	}
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
