/*
 * probe.c: one probe's life, for the prober (prober.c, which decides
 * what to probe and records the verdicts).
 *
 * Curl checks run on the daemon's curl multi handle (curlev.c);
 * plugins without curl start a child whose pipe and exit are watched on
 * the loop.  Per probe
 * as little as can be is done: easy handles are reset and reused
 * (curl_easy_reset keeps their allocations), and a proxy URL is split
 * into the parts the plugins get once, then found in a table (entries
 * unused for a while are dropped).
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <curl/curl.h>

#include "curlev.h"
#include "log.h"
#include "pp_util.h"
#include "probe.h"
#include "prober_int.h"
#include "proxyurl.h"
#include "xmalloc.h"

#define PROBE_OUT_MAX		4096	/* bytes of child output kept */
#define PROBE_REAP_MS		10	/* polls for a child that closed */
#define PROBE_IDLE_HANDLES	256	/* reset easy handles kept for reuse */
#define PROBE_PROXY_SWEEP	60.0	/* s between sweeps of the URL table:
					 * an entry unused since the last one
					 * goes */

/* A proxy URL split into the parts the plugins get, in the URL table. */
struct probe_proxy {
	int			 refs;		/* probes using it */
	bool			 used;		/* since the last sweep */
	const char		*url;		/* the strings live after the */
	const char		*scheme;	/* struct, one allocation */
	const char		*host;
	const char		*user;		/* or NULL */
	const char		*password;	/* or NULL */
	int			 port;
	struct probe_proxy	*next;		/* in its bucket */
};

/* One probe running. */
struct probe {
	struct probes		*ps;		/* (ref) */
	struct probe_check	*check;		/* (ref) kept by the starter */
	const char		*pool;		/* (ref) kept by the starter */
	struct probe_proxy	*proxy;		/* counted reference */
	const char		*url;		/* proxy->url */
	struct pp_proxy		 px;		/* points into proxy */
	double			 started;	/* monotonic s */

	CURL			*h;		/* curl checks: owned handle */
	struct curlev_xfer	 xfer;		/* h's, on the daemon's multi */
	void			*state;		/* plugin per-probe state */

	struct pp_child		 child;		/* spawn checks */
	struct event		*ev_read;	/* owned: child output */
	struct event		*ev_timer;	/* owned: deadline, reap polls */
	char			*out;		/* owned child output, NUL-ended */
	size_t			 outlen;
	bool			 eof;		/* output closed */
	bool			 killed;	/* timed out, group killed */

	probe_verdict_fn	*fn;		/* gets the verdict */
	void			*arg;		/* its argument */
	TAILQ_ENTRY(probe)	 entry;
};
TAILQ_HEAD(probe_list, probe);

struct probes {
	struct event_base	*base;		/* (ref) the daemon's loop */
	struct curlev		*curl;		/* (ref) the daemon's multi */
	struct probe_list	 probes;	/* running probes */
	CURL			*idle[PROBE_IDLE_HANDLES]; /* owned, reset */
	unsigned		 nidle;
	struct probe_proxy	**proxies;	/* owned URL table */
	size_t			 nbuckets;	/* a power of two, or 0 */
	size_t			 nproxies;
	double			 proxy_sweep;	/* monotonic s of the next sweep */
};

static void	probe_finish(struct probe *p, struct pp_result *res);

/* A curl check's transfer ended: the plugin judges it. */
static void
probe_curl_done(struct curlev_xfer *x, CURLcode rc)
{
	struct probe *p = (struct probe *)((char *)x -
	    offsetof(struct probe, xfer));
	struct pp_result res;

	memset(&res, 0, sizeof res);
	res.verdict = PP_UNKNOWN;
	res.latency_ms = pp_curl_ms(p->h, CURLINFO_TOTAL_TIME_T);
	p->check->type->judge(p->check->conf, &p->px, p->h, rc, p->state,
	    &res);
	p->state = NULL;
	probe_finish(p, &res);
}

/* ------------------------------------------------------------------ */
/* The URL table                                                        */
/* ------------------------------------------------------------------ */

/* FNV-1a of a URL. */
static size_t
proxy_hash(const char *url)
{
	size_t h = 2166136261u;

	for (; *url != '\0'; url++)
		h = (h ^ (unsigned char)*url) * 16777619u;
	return h;
}

/* Double the URL table (or make it), rehashing every entry. */
static void
proxy_grow(struct probes *ps)
{
	struct probe_proxy **nb, *e, *next;
	size_t i, n = ps->nbuckets ? ps->nbuckets * 2 : 256, b;

	nb = xcalloc(n, sizeof *nb);
	for (i = 0; i < ps->nbuckets; i++)
		for (e = ps->proxies[i]; e != NULL; e = next) {
			next = e->next;
			b = proxy_hash(e->url) & (n - 1);
			e->next = nb[b];
			nb[b] = e;
		}
	free(ps->proxies);
	ps->proxies = nb;
	ps->nbuckets = n;
}

/* Copy s to *at; returns the copy, moves *at past it. */
static const char *
proxy_put(char **at, const char *s)
{
	char *d = *at;
	size_t n = strlen(s) + 1;

	memcpy(d, s, n);
	*at += n;
	return d;
}

/* Split url into the parts the plugins get (one allocation); NULL with
 * *cause. */
static struct probe_proxy *
proxy_parse(const char *url, char **cause)
{
	struct proxyurl_parts pt;
	struct probe_proxy *e;
	const char *user, *pass;
	char *at;
	size_t len;

	if (proxyurl_split(url, &pt, cause) != 0)
		return NULL;
	user = pt.user;
	pass = pt.password;
	len = sizeof *e + strlen(url) + 1 + strlen(pt.scheme) + 1 +
	    strlen(pt.host) + 1 + (user ? strlen(user) + 1 : 0) +
	    (pass ? strlen(pass) + 1 : 0);
	e = xcalloc(1, len);
	at = (char *)(e + 1);
	e->url = proxy_put(&at, url);
	e->scheme = proxy_put(&at, pt.scheme);
	e->host = proxy_put(&at, pt.host);
	e->user = user ? proxy_put(&at, user) : NULL;
	e->password = pass ? proxy_put(&at, pass) : NULL;
	e->port = pt.port;
	proxyurl_parts_free(&pt);
	return e;
}

/* The parts of url, parsed on its first probe; NULL with *cause. */
static struct probe_proxy *
proxy_get(struct probes *ps, const char *url, char **cause)
{
	struct probe_proxy *e;
	size_t b;

	if (ps->nbuckets != 0) {
		b = proxy_hash(url) & (ps->nbuckets - 1);
		for (e = ps->proxies[b]; e != NULL; e = e->next)
			if (strcmp(e->url, url) == 0)
				goto found;
	}
	if ((e = proxy_parse(url, cause)) == NULL)
		return NULL;
	if (ps->nproxies >= ps->nbuckets)
		proxy_grow(ps);
	b = proxy_hash(url) & (ps->nbuckets - 1);
	e->next = ps->proxies[b];
	ps->proxies[b] = e;
	ps->nproxies++;
found:
	e->refs++;
	e->used = true;
	return e;
}

/* Drop the entries no probe used since the last sweep (all: at exit). */
static void
proxy_sweep(struct probes *ps, bool all)
{
	struct probe_proxy **ep, *e;
	size_t i;

	for (i = 0; i < ps->nbuckets; i++) {
		ep = &ps->proxies[i];
		while ((e = *ep) != NULL) {
			if (all || (!e->used && e->refs == 0)) {
				*ep = e->next;
				free(e);
				ps->nproxies--;
				continue;
			}
			e->used = false;
			ep = &e->next;
		}
	}
	if (all) {
		free(ps->proxies);
		ps->proxies = NULL;
		ps->nbuckets = 0;
	}
}

/* ------------------------------------------------------------------ */
/* Probes                                                               */
/* ------------------------------------------------------------------ */

/* An easy handle for a probe: a reset one from earlier probes if any. */
static CURL *
probes_handle(struct probes *ps)
{
	if (ps->nidle > 0)
		return ps->idle[--ps->nidle];
	return curl_easy_init();
}

/* A probe is done with h (removed from the multi handle): keep it. */
static void
probes_handle_put(struct probes *ps, CURL *h)
{
	if (ps->nidle == PROBE_IDLE_HANDLES) {
		curl_easy_cleanup(h);
		return;
	}
	curl_easy_reset(h);
	ps->idle[ps->nidle++] = h;
}

/*
 * Free a probe; with verdict, its verdict function gets res (NULL:
 * cancelled) once the transfer and the plugin's state are gone, since
 * it may drop the check they were made with.
 */
static void
probe_free(struct probe *p, bool verdict, struct pp_result *res)
{
	struct probes *ps = p->ps;

	TAILQ_REMOVE(&ps->probes, p, entry);
	if (p->h != NULL) {
		curlev_remove(ps->curl, p->h);
		probes_handle_put(ps, p->h);
	}
	if (p->ev_read != NULL)
		event_free(p->ev_read);
	if (p->ev_timer != NULL)
		event_free(p->ev_timer);
	if (p->child.fd >= 0)
		close(p->child.fd);
	free(p->out);
	if (verdict)
		p->fn(p->arg, p->check, p->url, p->started, res);
	if (p->proxy != NULL)
		p->proxy->refs--;
	free(p);
}

/* The parts of the probe's URL for the plugins; -1 with *cause. */
static int
probe_parse_url(struct probe *p, const char *url, char **cause)
{
	struct probe_proxy *e;

	if ((e = proxy_get(p->ps, url, cause)) == NULL)
		return -1;
	p->proxy = e;
	p->url = e->url;
	p->px.url = e->url;
	p->px.scheme = e->scheme;
	p->px.host = e->host;
	p->px.port = e->port;
	p->px.user = e->user;
	p->px.password = e->password;
	p->px.pool = p->pool;
	return 0;
}

/* Try to reap the child; true once it is gone (status in *st). */
static bool
probe_child_reaped(struct probe *p, int *st)
{
	pid_t r;

	do
		r = waitpid(p->child.pid, st, WNOHANG);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return false;
	if (r == -1)
		*st = -2;	/* reaped by someone else: status lost */
	return true;
}

/* The child is reaped (or lost): judge it. */
static void
probe_child_done(struct probe *p, int st)
{
	struct pp_result res;

	memset(&res, 0, sizeof res);
	res.verdict = PP_UNKNOWN;
	res.latency_ms = (prober_now() - p->started) * 1000.0;
	p->out[p->outlen] = '\0';
	if (st == -2) {
		snprintf(res.reason, sizeof res.reason,
		    "child exit status lost");
	} else
		p->check->type->reap(p->check->conf, &p->px, p->out,
		    p->outlen, p->killed ? -1 : st, &res);
	probe_finish(p, &res);
}

/* Deadline, or a poll for a child that closed its output. */
static void
probe_child_timer(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct timeval tv = { 0, PROBE_REAP_MS * 1000 };
	double left;
	int st;

	if (probe_child_reaped(p, &st)) {
		probe_child_done(p, st);
		return;
	}
	left = p->check->timeout - (prober_now() - p->started);
	if (!p->killed && left <= 0) {
		/* the whole group: a shell's children hold the pipe too */
		kill(-p->child.pid, SIGKILL);
		p->killed = true;
	} else if (!p->killed && !p->eof) {
		/* still talking: wake at the deadline */
		tv.tv_sec = (time_t)left;
		tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec) * 1e6);
	}
	/* else poll until it is reaped */
	evtimer_add(p->ev_timer, &tv);
}

static void
probe_child_read(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	char sink[1024];
	struct timeval tv = { 0, 0 };
	ssize_t n;
	int st;

	for (;;) {
		if (p->outlen < PROBE_OUT_MAX)
			n = read(fd, p->out + p->outlen,
			    PROBE_OUT_MAX - p->outlen);
		else
			n = read(fd, sink, sizeof sink);
		if (n > 0) {
			if (p->outlen < PROBE_OUT_MAX)
				p->outlen += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		break;	/* EOF or error: the output is over */
	}
	event_del(p->ev_read);
	close(p->child.fd);
	p->child.fd = -1;
	p->eof = true;
	if (probe_child_reaped(p, &st)) {
		probe_child_done(p, st);
		return;
	}
	tv.tv_usec = PROBE_REAP_MS * 1000;
	evtimer_del(p->ev_timer);
	evtimer_add(p->ev_timer, &tv);
}

/* Nothing is left running after a -1. */
int
probe_start(struct probes *ps, struct probe_check *c, const char *pool,
    const char *url, probe_verdict_fn *fn, void *arg, char **cause)
{
	struct timeval tv;
	struct probe *p;
	long ms;

	p = xcalloc(1, sizeof *p);
	p->ps = ps;
	p->check = c;
	p->pool = pool;
	p->child.fd = -1;
	p->fn = fn;
	p->arg = arg;
	p->started = prober_now();
	TAILQ_INSERT_TAIL(&ps->probes, p, entry);
	if (probe_parse_url(p, url, cause) != 0)
		goto fail;

	if (c->type->spawn != NULL) {
		if (c->type->spawn(c->conf, &p->px, &p->child, cause) != 0) {
			p->child.fd = -1;
			goto fail;
		}
		p->out = xmalloc(PROBE_OUT_MAX + 1);
		p->ev_read = prober_event(ps->base, p->child.fd,
		    EV_READ | EV_PERSIST, probe_child_read, p);
		p->ev_timer = prober_event(ps->base, -1, 0, probe_child_timer,
		    p);
		event_add(p->ev_read, NULL);
		tv.tv_sec = (time_t)c->timeout;
		tv.tv_usec = (suseconds_t)((c->timeout - (double)tv.tv_sec) *
		    1e6);
		evtimer_add(p->ev_timer, &tv);
		return 0;
	}

	if ((p->h = probes_handle(ps)) == NULL) {
		xasprintf(cause, "cannot create a transfer");
		goto fail;
	}
	ms = (long)(c->timeout * 1000.0);
	curl_easy_setopt(p->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->h, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(p->h, CURLOPT_CONNECTTIMEOUT_MS, ms);
	curl_easy_setopt(p->h, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(p->h, CURLOPT_FORBID_REUSE, 1L);
	/* a reused handle must probe as a fresh one: no TLS resumption */
	curl_easy_setopt(p->h, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	/* no proxy environment to consult per probe */
	curl_easy_setopt(p->h, CURLOPT_NOPROXY, "");
	curl_easy_setopt(p->h, CURLOPT_USERAGENT, "proxypoold-check/"
	    PACKAGE_VERSION);
	if (c->type->prepare(c->conf, &p->px, p->h, &p->state, cause) != 0)
		goto fail;
	p->xfer.done = probe_curl_done;
	p->xfer.priority = PROBER_PRIORITY;
	if (curlev_add(ps->curl, p->h, &p->xfer) != 0) {
		xasprintf(cause, "cannot queue the transfer");
		/* prepare succeeded: judge must see it to free its state */
		{
			struct pp_result res;

			memset(&res, 0, sizeof res);
			c->type->judge(c->conf, &p->px, p->h,
			    CURLE_FAILED_INIT, p->state, &res);
			p->state = NULL;
		}
		curl_easy_cleanup(p->h);
		p->h = NULL;
		goto fail;
	}
	return 0;

fail:
	if (p->h != NULL) {
		curl_easy_cleanup(p->h);
		p->h = NULL;
	}
	probe_free(p, false, NULL);
	return -1;
}

/* A probe is over: deliver its verdict and free it. */
static void
probe_finish(struct probe *p, struct pp_result *res)
{
	if ((unsigned)res->verdict > PP_UNKNOWN)
		res->verdict = PP_UNKNOWN;
	res->reason[sizeof res->reason - 1] = '\0';
	probe_free(p, true, res);
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                           */
/* ------------------------------------------------------------------ */

struct probes *
probes_create(struct curlev *curl)
{
	struct probes *ps;

	ps = xcalloc(1, sizeof *ps);
	ps->base = curlev_base(curl);
	ps->curl = curl;
	ps->proxy_sweep = prober_now() + PROBE_PROXY_SWEEP;
	TAILQ_INIT(&ps->probes);
	return ps;
}

void
probes_destroy(struct probes *ps)
{
	struct probe *p;

	if (ps == NULL)
		return;
	while ((p = TAILQ_FIRST(&ps->probes)) != NULL) {
		if (p->h != NULL && p->state != NULL) {
			struct pp_result res;

			memset(&res, 0, sizeof res);
			p->check->type->judge(p->check->conf, &p->px, p->h,
			    CURLE_ABORTED_BY_CALLBACK, p->state, &res);
			p->state = NULL;
		}
		if (p->child.pid > 0 && !p->killed) {
			kill(-p->child.pid, SIGKILL);
			waitpid(p->child.pid, NULL, 0);
		}
		probe_free(p, true, NULL);
	}
	while (ps->nidle > 0)
		curl_easy_cleanup(ps->idle[--ps->nidle]);
	proxy_sweep(ps, true);
	free(ps);
}

void
probes_sweep(struct probes *ps)
{
	if (prober_now() < ps->proxy_sweep)
		return;
	proxy_sweep(ps, false);
	ps->proxy_sweep = prober_now() + PROBE_PROXY_SWEEP;
}
