/*
 * cmd_pool.c: the pool commands: POOLS, STATS, LIST, ADD, REMOVE, GC,
 * CHECK (an on-demand health check) and VERIFY (the invariant check).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include <event2/buffer.h>

#include "client.h"
#include "cmd.h"
#include "log.h"
#include "prober.h"
#include "proxyurl.h"
#include "req.h"
#include "xmalloc.h"

#define CMD_LIST_MAX	10000	/* LIST COUNT bound */
/* VERIFY's deadline, in redis.timeout: the walk is a call per page. */
#define CMD_VERIFY_TIMEOUTS	30

/* POOLS */
void
cmd_pools(struct req *r)
{
	struct ra_async *ra;

	if ((ra = req_ra(r)) != NULL)
		REQ_CALL(r, ra_async_pools(ra, req_strs_cb, r));
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
	resp_field_int(out, "proxies_up", h->up);
	resp_field_int(out, "proxies_down", h->down);
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
		req_nopool(r, r->args.argv[1], NULL);
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
void
cmd_stats(struct req *r)
{
	struct ra_async *ra;

	if (r->args.argc == 2 && !req_key(r, 1, "pool"))
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
		REQ_CALL(r, ra_async_pools(ra, cmd_stats_all_cb, r));
}

/* LIST's answer: the page, and each proxy's health when hi is not
 * NULL (hi->v[i] for l->items[i]); a pool with a check whose health
 * could not be read says unknown. */
static void
cmd_list_reply(struct req *r, const struct ra_list *l,
    const struct ra_health_infos *hi)
{
	const struct conf_pool *cp = conf_pool_find(r->d->conf,
	    r->args.argv[1]);
	bool checked = cp != NULL && cp->check != NULL;
	static const struct ra_health_info none = { 0, RA_HEALTH_UNKNOWN, 0,
	    0, -1, NULL };
	const struct ra_item_info *it;
	const struct ra_health_info *h;
	struct evbuffer *out;
	char cur[32], *red;
	long long now, down_at, until, since;
	size_t i;

	/* a health check's DOWN quarantine lasts RA_TTL_MAX from the
	 * moment the proxy went DOWN, until it is UP again: shown as no
	 * end (until 0) and down_since */
	now = (long long)time(NULL) * 1000;
	down_at = now + (long long)(RA_TTL_MAX * 1000 / 2);
	out = req_out(r);
	resp_array(out, 2);
	snprintf(cur, sizeof cur, "%llu", l->cursor);
	resp_str(out, cur);
	resp_array(out, (long long)l->n);
	for (i = 0; i < l->n; i++) {
		it = &l->items[i];
		h = hi != NULL && i < hi->n ? &hi->v[i] : &none;
		until = it->until_ms;
		since = 0;
		if (it->state == RA_STATE_QUARANTINED && until >= down_at) {
			since = until - (long long)(RA_TTL_MAX * 1000);
			until = 0;
		}
		resp_array(out, 26);
		red = proxyurl_redact(it->key);
		resp_field_str(out, "proxy", red);
		free(red);
		resp_field_str(out, "state", ra_state_name(it->state));
		resp_field_int(out, "priority", it->priority);
		resp_field_int(out, "holders", it->holders);
		resp_field_int(out, "expires", it->expires_ms);
		resp_field_int(out, "until", until);
		resp_field_int(out, "down_since", since);
		resp_field_int(out, "failures", it->failures);
		resp_field_int(out, "latency", llround(it->latency_ms));
		resp_field_str(out, "health", hi == NULL ? (checked ?
		    "unknown" : "none") : !h->known ? "unknown" :
		    ra_health_name(h->state));
		resp_field_int(out, "last_check", h->last_ms);
		resp_field_int(out, "next_check", h->next_ms > 0 ? h->next_ms :
		    0);
		resp_field_str(out, "last_error", h->reason != NULL ?
		    h->reason : "");
	}
	req_finish(r);
}

/* A health_read in flight. */
struct health_read {
	char			*pool;		/* owned */
	const char *const	*keys;		/* (ref) the caller's */
	size_t			 n;
	struct ra_health_infos	 got;		/* owned: read so far */
	health_read_fn		*fn;
	void			*arg;
};

static void health_read_cb(struct ra_async *ra, struct ra_result *res,
    void *arg);

/* The caller's callback with what was read (NULL: it failed). */
static void
health_read_end(struct health_read *hr, bool ok)
{
	hr->fn(hr->arg, ok ? &hr->got : NULL);
	ra_health_infos_deinit(&hr->got);
	free(hr->pool);
	free(hr);
}

/* Ask for the next chunk: 0, or -1 when it could not be sent. */
static int
health_read_next(struct ra_async *ra, struct health_read *hr)
{
	size_t left = hr->n - hr->got.n;

	return ra_async_health_get(ra, hr->pool, hr->keys + hr->got.n,
	    left < RA_HEALTH_GET_MAX ? left : RA_HEALTH_GET_MAX,
	    health_read_cb, hr);
}

static void
health_read_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct health_read *hr = arg;
	struct ra_health_infos *got = &res->u.hinfos;
	size_t left = hr->n - hr->got.n;

	if (res->err != RA_OK || got->n != (left < RA_HEALTH_GET_MAX ? left :
	    RA_HEALTH_GET_MAX)) {
		health_read_end(hr, false);
		return;
	}
	/* take the entries over (their reasons with them) */
	memcpy(hr->got.v + hr->got.n, got->v, got->n * sizeof *got->v);
	hr->got.n += got->n;
	free(got->v);
	got->v = NULL;
	got->n = 0;
	if (hr->got.n == hr->n)
		health_read_end(hr, true);
	else if (health_read_next(ra, hr) != 0)
		health_read_end(hr, false);
}

int
health_read(struct ra_async *ra, const char *pool, const char *const *keys,
    size_t n, health_read_fn *fn, void *arg)
{
	struct health_read *hr;

	if (n == 0)
		return -1;
	hr = xcalloc(1, sizeof *hr);
	hr->pool = xstrdup(pool);
	hr->keys = keys;
	hr->n = n;
	hr->got.v = xcalloc(n, sizeof *hr->got.v);
	hr->fn = fn;
	hr->arg = arg;
	if (health_read_next(ra, hr) != 0) {
		ra_health_infos_deinit(&hr->got);
		free(hr->pool);
		free(hr);
		return -1;
	}
	return 0;
}

/* LIST's page with its health (hi NULL: it could not be read). */
static void
cmd_list_health_cb(void *arg, struct ra_health_infos *hi)
{
	struct req *r = arg;

	if (req_back(r))
		cmd_list_reply(r, r->list, hi);
}

static void
cmd_list_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;
	const struct conf_pool *cp;
	const char **keys;
	size_t i, n;

	if (!req_result(r, res))
		return;
	n = res->u.list.n;
	cp = conf_pool_find(r->d->conf, r->args.argv[1]);
	if (n == 0 || cp == NULL || cp->check == NULL) {
		cmd_list_reply(r, &res->u.list, NULL);
		return;
	}
	/* the page outlives this callback while its health is read */
	r->list = xcalloc(1, sizeof *r->list);
	r->list->items = xcalloc(n, sizeof *r->list->items);
	for (i = 0; i < n; i++) {
		r->list->items[i] = res->u.list.items[i];
		r->list->items[i].key = xstrdup(res->u.list.items[i].key);
	}
	r->list->n = n;
	r->list->cursor = res->u.list.cursor;
	keys = xcalloc(n, sizeof *keys);
	for (i = 0; i < n; i++)
		keys[i] = r->list->items[i].key;
	r->keys = keys;
	r->inflight++;
	if (health_read(ra, r->args.argv[1], keys, n, cmd_list_health_cb,
	    r) != 0) {
		r->inflight--;
		cmd_list_reply(r, r->list, NULL);
	}
}

/* LIST pool [STATE s] [CURSOR c] [COUNT n] */
void
cmd_list(struct req *r)
{
	enum { O_STATE, O_CURSOR, O_COUNT, O_N };
	static const struct req_opt opts[] = {
		[O_STATE] = { "STATE", OPT_STR, 0, 0 },
		[O_CURSOR] = { "CURSOR", OPT_STR, 0, 0 },
		[O_COUNT] = { "COUNT", OPT_NUM, 1, CMD_LIST_MAX },
		[O_N] = { NULL, 0, 0, 0 }
	};
	struct req_optval v[O_N];
	struct ra_async *ra;
	unsigned long long cursor = 0;
	int state = RA_STATE_ANY;
	char *e;

	memset(v, 0, sizeof v);
	if (!req_key(r, 1, "pool") || req_options(r, 2, opts, v) != 0)
		return;
	if (v[O_STATE].set && strcasecmp(v[O_STATE].str, "any") != 0 &&
	    (state = ra_state_parse(v[O_STATE].str)) < 0) {
		req_error(r, "BADARG", "unknown STATE (free, leased, shared, "
		    "quarantined, draining)");
		return;
	}
	if (v[O_CURSOR].set) {
		errno = 0;
		cursor = strtoull(v[O_CURSOR].str, &e, 10);
		if (errno || *e != '\0' || e == v[O_CURSOR].str ||
		    !isdigit((unsigned char)v[O_CURSOR].str[0])) {
			req_error(r, "BADARG", "bad CURSOR");
			return;
		}
	}
	if (v[O_COUNT].set && v[O_COUNT].num != floor(v[O_COUNT].num)) {
		req_error(r, "BADARG", "COUNT must be an integer");
		return;
	}
	if ((ra = req_ra(r)) == NULL)
		return;
	REQ_CALL(r, ra_async_list(ra, r->args.argv[1], state, cursor,
	    v[O_COUNT].set ? (unsigned)v[O_COUNT].num : 100, cmd_list_cb, r));
}

/* ADD answered: a new proxy gets its first check within its interval. */
static void
cmd_add_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;

	if (res->err == RA_OK)
		prober_items_added(r->d->prober, r->args.argv[1]);
	req_ok_cb(ra, res, arg);
}

/* ADD pool url [PRIORITY p] [EXPIRES s] */
void
cmd_add(struct req *r)
{
	enum { O_PRIORITY, O_EXPIRES, O_N };
	static const struct req_opt opts[] = {
		[O_PRIORITY] = { "PRIORITY", OPT_NUM, -1000000, 1000000 },
		[O_EXPIRES] = { "EXPIRES", OPT_NUM, 0, RA_TTL_MAX },
		[O_N] = { NULL, 0, 0, 0 }
	};
	struct req_optval v[O_N];
	struct ra_async *ra;
	struct ra_item item;
	char *url;

	memset(v, 0, sizeof v);
	if (!req_key(r, 1, "pool") || req_options(r, 3, opts, v) != 0)
		return;
	if (v[O_PRIORITY].set &&
	    v[O_PRIORITY].num != floor(v[O_PRIORITY].num)) {
		req_error(r, "BADARG", "PRIORITY must be an integer");
		return;
	}
	if ((url = req_proxy(r, 2)) == NULL)
		return;
	item.key = url;
	item.priority = v[O_PRIORITY].set ? (int)v[O_PRIORITY].num : 0;
	item.expires = v[O_EXPIRES].set ? v[O_EXPIRES].num : 0;
	if ((ra = req_ra(r)) != NULL) {
		if (r->c != NULL)
			log_client(LOG_LEVEL_INFO, r->c, "pool %s: ADD %s",
			    r->args.argv[1], url);
		REQ_CALL(r, ra_async_add(ra, r->args.argv[1], &item, 1,
		    cmd_add_cb, r));
	}
	free(url);
}

/* REMOVE pool url */
void
cmd_remove(struct req *r)
{
	struct ra_async *ra;
	const char *keys[1];
	char *url;

	if (!req_key(r, 1, "pool") || (url = req_proxy(r, 2)) == NULL)
		return;
	keys[0] = url;
	if ((ra = req_ra(r)) != NULL) {
		if (r->c != NULL)
			log_client(LOG_LEVEL_INFO, r->c, "pool %s: REMOVE %s",
			    r->args.argv[1], url);
		REQ_CALL(r, ra_async_remove(ra, r->args.argv[1], keys, 1,
		    req_bool_cb, r));
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
void
cmd_gc(struct req *r)
{
	struct ra_async *ra;

	if (!req_key(r, 1, "pool") || (ra = req_ra(r)) == NULL)
		return;
	REQ_CALL(r, ra_async_gc(ra, r->args.argv[1], RA_BATCH_DEFAULT,
	    cmd_gc_cb, r));
}

/* VERIFY's walk is done: the violations, proxy credentials redacted. */
static void
cmd_verify_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;
	struct evbuffer *out;
	size_t i;
	char *red;

	if (!req_result(r, res))
		return;
	out = req_out(r);
	resp_array(out, (long long)res->u.strs.n);
	for (i = 0; i < res->u.strs.n; i++) {
		red = proxyurl_redact_text(res->u.strs.v[i]);
		resp_str(out, red);
		free(red);
	}
	if (res->u.strs.n > 0 && r->c != NULL)
		log_client(LOG_LEVEL_WARN, r->c, "pool %s: VERIFY found %zu "
		    "violations", r->args.argv[1], res->u.strs.n);
	req_finish(r);
}

/* VERIFY pool: the library's invariant check, walked page by page (one
 * bounded call each, sent when the last is answered), so the loop and
 * Redis keep serving meanwhile. */
void
cmd_verify(struct req *r)
{
	struct ra_async *ra;

	if (!req_key(r, 1, "pool") || (ra = req_ra(r)) == NULL)
		return;
	r->inflight++;
	req_arm(r, r->d->conf->redis_timeout * CMD_VERIFY_TIMEOUTS);
	if (ra_async_check_invariants(ra, r->args.argv[1], cmd_verify_cb,
	    r) != 0)
		req_send_failed(r);
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
void
cmd_check(struct req *r)
{
	char *url, *cause;

	if (!req_key(r, 1, "pool") || (url = req_proxy(r, 2)) == NULL)
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
