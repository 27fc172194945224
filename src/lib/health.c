/*
 * health.c: health state calls (lua/health_*.lua): claim due checks,
 * record a probe result, schedule new items, read the totals and the
 * health of some items.  Sync and async forms share the builders and
 * decoders below.
 */
#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ra_internal.h"

/* The 12 pool keys of the allocator functions, then the 4 health keys. */
static const char *const health_suffix[] = {
	":meta", ":items", ":free", ":shared", ":leases", ":lease",
	":quarantine", ":bind", ":bindexp", ":bindrev", ":itemexp", ":fence",
	":due", ":health", ":hstats", ":hlast"
};

static const char *const verdict_names[RA_PROBE__COUNT] = {
	"UP", "WARN", "DOWN", "UNKNOWN"
};

static const char *const health_names[RA_HEALTH__COUNT] = {
	"unknown", "up", "down"
};

const char *
ra_probe_verdict_name(enum ra_probe_verdict v)
{
	return (unsigned)v < RA_PROBE__COUNT ? verdict_names[v] : "?";
}

const char *
ra_health_name(enum ra_health h)
{
	return (unsigned)h < RA_HEALTH__COUNT ? health_names[h] : "?";
}

void
ra_health_conf_init(struct ra_health_conf *c)
{
	memset(c, 0, sizeof *c);
	c->rise = 2;
	c->fall = 3;
	c->inter = c->fastinter = c->downinter = 30;
	c->jitter = 0.1;
	c->latency_step = 100;
	c->evict_after = 0;
	c->end_quarantine = 0;
}

void
ra_health_counts_deinit(struct ra_health_counts *c)
{
	if (c != NULL)
		ra_strlist_deinit(&c->errors);
}

void
ra_health_infos_deinit(struct ra_health_infos *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->n; i++)
		free(h->v[i].reason);
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

/* Start a health function call; -1 with err set on a bad pool name. */
static int
health_start(struct ra_args *a, int fn, const char *prefix,
    const char *pool, int *err, char *errstr)
{
	return ra_args_pool(a, fn, prefix, pool, health_suffix,
	    sizeof health_suffix / sizeof health_suffix[0], err, errstr);
}

static int
build_claim(struct ra_args *a, const char *prefix, const char *pool,
    unsigned count, double lease, int *err, char *errstr)
{
	if (count < 1 || count > 10000) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "claim count must be from 1 to 10000");
		return -1;
	}
	if (ra_check_ttl("claim lease", lease, false, err, errstr) != 0 ||
	    health_start(a, RA_FN_HEALTH_CLAIM, prefix, pool, err,
	    errstr) != 0)
		return -1;
	ra_args_ll(a, count);
	ra_args_ms(a, lease);
	return 0;
}

/* Seconds as whole ms, at least 1. */
static long long
health_ms(double s)
{
	long long ms = llround(s * 1000.0);

	return ms < 1 ? 1 : ms;
}

/*
 * A result as health_report reads it (struct '<BdHI4Hc0', little endian):
 * verdict 1..4 (UP, WARN, DOWN, UNKNOWN), latency ms (double, < 0
 * unknown), a random per mille for the jitter, ms since the probe
 * started, the reason's length and the reason (at most
 * REPORT_REASON_MAX bytes: the function keeps no more).  One argument
 * for the batch instead of six per result: Redis makes a Lua string of
 * each argument, and the function parsed four of them as numbers.
 */
#define REPORT_FIXED		17
#define REPORT_REASON_MAX	200

static void
put_le(unsigned char *p, uint64_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

/* Pack p at out; returns the bytes written. */
static size_t
report_put(unsigned char *out, const struct ra_health_probe *p)
{
	double lat = p->latency_ms < 0 ? -1 : p->latency_ms;
	size_t rl = p->reason != NULL ? strlen(p->reason) : 0;
	uint64_t bits;

	if (rl > REPORT_REASON_MAX)
		rl = REPORT_REASON_MAX;
	memcpy(&bits, &lat, sizeof bits);
	out[0] = (unsigned char)(p->verdict + 1);
	put_le(out + 1, bits, 8);
	put_le(out + 9, (uint64_t)(random() % 1000), 2);
	put_le(out + 11, (uint64_t)llround(p->elapsed_ms), 4);
	put_le(out + 15, rl, 2);
	if (rl > 0)
		memcpy(out + REPORT_FIXED, p->reason, rl);
	return REPORT_FIXED + rl;
}

static int
build_report(struct ra_args *a, const char *prefix, const char *pool,
    const struct ra_health_probe *probes, size_t n,
    const struct ra_health_conf *hc, int *err, char *errstr)
{
	unsigned char *blob;
	size_t i, len;

	if (n < 1 || n > RA_HEALTH_BATCH) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "1 to %d results per call", RA_HEALTH_BATCH);
		return -1;
	}
	if (hc->rise < 1 || hc->fall < 1 || hc->rise > 1000 ||
	    hc->fall > 1000 || !(hc->jitter >= 0 && hc->jitter <= 0.5) ||
	    !(hc->latency_step >= 0 && hc->latency_step <= 3600000)) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "bad health settings (rise, fall, jitter, latency_step)");
		return -1;
	}
	if (ra_check_ttl("inter", hc->inter, false, err, errstr) != 0 ||
	    ra_check_ttl("fastinter", hc->fastinter, false, err, errstr) != 0 ||
	    ra_check_ttl("downinter", hc->downinter, false, err, errstr) != 0 ||
	    ra_check_ttl("evict_after", hc->evict_after, false, err,
	    errstr) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		if ((unsigned)probes[i].verdict >= RA_PROBE__COUNT ||
		    !isfinite(probes[i].latency_ms) ||
		    !(probes[i].elapsed_ms >= 0 &&
		    probes[i].elapsed_ms < 86400000)) {
			ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
			    "result %zu: bad verdict or latency", i + 1);
			return -1;
		}
		if (ra_check_key("item", probes[i].item, err, errstr) != 0)
			return -1;
	}
	if (health_start(a, RA_FN_HEALTH_REPORT, prefix, pool, err,
	    errstr) != 0)
		return -1;
	ra_args_ll(a, hc->rise);
	ra_args_ll(a, hc->fall);
	ra_args_ll(a, health_ms(hc->inter));
	ra_args_ll(a, health_ms(hc->fastinter));
	ra_args_ll(a, health_ms(hc->downinter));
	ra_args_ll(a, llround(hc->jitter * 1000.0));
	ra_args_ll(a, llround(hc->latency_step));
	ra_args_ll(a, hc->evict_after > 0 ? health_ms(hc->evict_after) : 0);
	ra_args_ll(a, hc->end_quarantine ? 1 : 0);
	/* the results' fixed fields and reasons in one packed argument
	 * (report_put), then their items */
	if ((blob = malloc(n * (REPORT_FIXED + REPORT_REASON_MAX))) == NULL) {
		ra_set_error(err, errstr, RA_ERR_OOM, "out of memory");
		return -1;
	}
	for (i = 0, len = 0; i < n; i++)
		len += report_put(blob + len, &probes[i]);
	ra_args_bin(a, (const char *)blob, len);
	free(blob);
	for (i = 0; i < n; i++)
		ra_args_str(a, probes[i].item);
	return 0;
}

static int
build_sync(struct ra_args *a, const char *prefix, const char *pool,
    unsigned long long cursor, unsigned count, double spread, int *err,
    char *errstr)
{
	if (count < 1 || count > 10000) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "sync count must be from 1 to 10000");
		return -1;
	}
	if (ra_check_ttl("spread", spread, false, err, errstr) != 0 ||
	    health_start(a, RA_FN_HEALTH_SYNC, prefix, pool, err,
	    errstr) != 0)
		return -1;
	ra_args_ll(a, (long long)cursor);
	ra_args_ll(a, count);
	ra_args_ms(a, spread);
	ra_args_ll(a, random() % 1000);
	return 0;
}

static int
build_counts(struct ra_args *a, const char *prefix, const char *pool,
    int *err, char *errstr)
{
	return health_start(a, RA_FN_HEALTH_COUNTS, prefix, pool, err,
	    errstr);
}

static int
build_get(struct ra_args *a, const char *prefix, const char *pool,
    const char *const *keys, size_t n, int *err, char *errstr)
{
	size_t i;

	if (n < 1 || n > RA_HEALTH_GET_MAX) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "1 to %d items per call", RA_HEALTH_GET_MAX);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (ra_check_key("item", keys[i], err, errstr) != 0)
			return -1;
	if (health_start(a, RA_FN_HEALTH_GET, prefix, pool, err, errstr) != 0)
		return -1;
	for (i = 0; i < n; i++)
		ra_args_str(a, keys[i]);
	return 0;
}

/* An unexpected reply shape. */
static void
health_bad_reply(struct ra_result *res, const char *what)
{
	ra_set_error(&res->err, res->errstr, RA_ERR_PROTOCOL,
	    "unexpected reply to %s", what);
}

static void
decode_claim(const redisReply *r, struct ra_result *res)
{
	ra_decode_names(r, res, "health_claim");
}

static void
free_claim(struct ra_result *res)
{
	ra_strlist_deinit(&res->u.strs);
}

/*
 * The answers of health_report: one string, an ANSWER_LEN record per
 * result (struct '<BBHHI4HdB', little endian): state, prev, successes,
 * failures, latency ms * 10, latency class, next due ms (double), flags.
 */
#define ANSWER_LEN		21
#define ANSWER_EVICTED		0x01
#define ANSWER_UNQUARANTINED	0x02
#define ANSWER_GONE		0x04

static uint64_t
get_le(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | p[n];
	return v;
}

static void
decode_one(const unsigned char *p, struct ra_health_result *h)
{
	uint64_t bits = get_le(p + 12, 8);
	double next;

	memcpy(&next, &bits, sizeof next);
	memset(h, 0, sizeof *h);
	h->state = (enum ra_health)(p[0] < RA_HEALTH__COUNT ? p[0] : 0);
	h->prev = (enum ra_health)(p[1] < RA_HEALTH__COUNT ? p[1] : 0);
	h->successes = (unsigned)get_le(p + 2, 2);
	h->failures = (unsigned)get_le(p + 4, 2);
	h->latency_ms = (double)get_le(p + 6, 4) / 10.0;
	h->latency_class = (int)get_le(p + 10, 2);
	h->next_ms = (long long)next;
	h->evicted = (p[20] & ANSWER_EVICTED) != 0;
	h->unquarantined = (p[20] & ANSWER_UNQUARANTINED) != 0;
	h->gone = (p[20] & ANSWER_GONE) != 0;
}

/* A report of one result. */
static void
decode_report(const redisReply *r, struct ra_result *res)
{
	if (r->type != REDIS_REPLY_STRING || r->len != ANSWER_LEN) {
		health_bad_reply(res, "health_report");
		return;
	}
	decode_one((const unsigned char *)r->str, &res->u.health);
}

static void
decode_batch(const redisReply *r, struct ra_result *res)
{
	struct ra_health_results *b = &res->u.hbatch;
	size_t i, n;

	memset(b, 0, sizeof *b);
	if (r->type != REDIS_REPLY_STRING || r->len == 0 ||
	    r->len % ANSWER_LEN != 0) {
		health_bad_reply(res, "health_report");
		return;
	}
	n = r->len / ANSWER_LEN;
	if ((b->v = calloc(n, sizeof *b->v)) == NULL) {
		ra_set_error(&res->err, res->errstr, RA_ERR_OOM,
		    "out of memory");
		return;
	}
	for (i = 0; i < n; i++)
		decode_one((const unsigned char *)r->str + i * ANSWER_LEN,
		    &b->v[i]);
	b->n = n;
}

static void
free_batch(struct ra_result *res)
{
	free(res->u.hbatch.v);
	res->u.hbatch.v = NULL;
}

static void
decode_integer(const redisReply *r, struct ra_result *res)
{
	if (!ra_reply_ll(r, &res->u.integer))
		health_bad_reply(res, "health_sync");
}

static void
decode_counts(const redisReply *r, struct ra_result *res)
{
	struct ra_health_counts *c = &res->u.hcounts;
	const redisReply *e;
	long long n;
	size_t i;

	memset(c, 0, sizeof *c);
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
	    !ra_reply_ll(r->element[0], &c->up) ||
	    !ra_reply_ll(r->element[1], &c->down) ||
	    !ra_reply_ll(r->element[2], &c->probes) ||
	    (e = r->element[3])->type != REDIS_REPLY_ARRAY ||
	    e->elements % 2 != 0) {
		health_bad_reply(res, "health_counts");
		return;
	}
	if (e->elements > 0 && (c->errors.v = calloc(e->elements / 2,
	    sizeof *c->errors.v)) == NULL) {
		ra_set_error(&res->err, res->errstr, RA_ERR_OOM,
		    "out of memory");
		return;
	}
	for (i = 0; i + 1 < e->elements; i += 2) {
		if (e->element[i]->type != REDIS_REPLY_STRING ||
		    !ra_reply_ll(e->element[i + 1], &n)) {
			ra_strlist_deinit(&c->errors);
			health_bad_reply(res, "health_counts");
			return;
		}
		if (asprintf(&c->errors.v[c->errors.n], "%s=%lld",
		    e->element[i]->str, n) == -1) {
			ra_strlist_deinit(&c->errors);
			ra_set_error(&res->err, res->errstr, RA_ERR_OOM,
			    "out of memory");
			return;
		}
		c->errors.n++;
	}
}

static void
free_counts(struct ra_result *res)
{
	ra_health_counts_deinit(&res->u.hcounts);
}

/* health_get: per item { state, since, last, next, reason }. */
static void
decode_get(const redisReply *r, struct ra_result *res)
{
	struct ra_health_infos *h = &res->u.hinfos;
	struct ra_health_info *in;
	const redisReply *e;
	long long st;
	size_t i;

	memset(h, 0, sizeof *h);
	if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
		health_bad_reply(res, "health_get");
		return;
	}
	if ((h->v = calloc(r->elements, sizeof *h->v)) == NULL) {
		ra_set_error(&res->err, res->errstr, RA_ERR_OOM,
		    "out of memory");
		return;
	}
	for (i = 0; i < r->elements; i++) {
		e = r->element[i];
		in = &h->v[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 5 ||
		    !ra_reply_ll(e->element[0], &st) || st < -1 ||
		    st >= RA_HEALTH__COUNT ||
		    !ra_reply_ll(e->element[1], &in->since_ms) ||
		    !ra_reply_ll(e->element[2], &in->last_ms) ||
		    !ra_reply_ll(e->element[3], &in->next_ms) ||
		    e->element[4]->type != REDIS_REPLY_STRING) {
			ra_health_infos_deinit(h);
			health_bad_reply(res, "health_get");
			return;
		}
		in->known = st >= 0;
		in->state = st >= 0 ? (enum ra_health)st : RA_HEALTH_UNKNOWN;
		if ((in->reason = strdup(e->element[4]->str)) == NULL) {
			ra_health_infos_deinit(h);
			ra_set_error(&res->err, res->errstr, RA_ERR_OOM,
			    "out of memory");
			return;
		}
		h->n = i + 1;
	}
}

static void
free_get(struct ra_result *res)
{
	ra_health_infos_deinit(&res->u.hinfos);
}

int
ra_health_claim(struct ra_context *ctx, const char *pool, unsigned count,
    double lease, struct ra_strlist *out)
{
	struct ra_result res;
	struct ra_args a;

	memset(out, 0, sizeof *out);
	if (build_claim(&a, ra_prefix(ctx), pool, count, lease, &ctx->err,
	    ctx->errstr) != 0 || ra_call_decode(ctx, &a, decode_claim, &res) != 0)
		return -1;
	*out = res.u.strs;
	return 0;
}

int
ra_health_report(struct ra_context *ctx, const char *pool, const char *item,
    enum ra_probe_verdict v, double latency_ms, const char *reason,
    const struct ra_health_conf *hc, struct ra_health_result *out)
{
	struct ra_health_probe p = { item, v, latency_ms, reason, 0 };

	return ra_health_report_batch(ctx, pool, &p, 1, hc, out);
}

int
ra_health_report_batch(struct ra_context *ctx, const char *pool,
    const struct ra_health_probe *probes, size_t n,
    const struct ra_health_conf *hc, struct ra_health_result *out)
{
	struct ra_result res;
	struct ra_args a;

	if (build_report(&a, ra_prefix(ctx), pool, probes, n, hc, &ctx->err,
	    ctx->errstr) != 0 || ra_call_decode(ctx, &a, decode_batch, &res) != 0)
		return -1;
	if (res.u.hbatch.n != n) {
		free_batch(&res);
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_PROTOCOL,
		    "unexpected reply to health_report");
		return -1;
	}
	if (out != NULL)
		memcpy(out, res.u.hbatch.v, n * sizeof *out);
	free_batch(&res);
	return 0;
}

int
ra_health_sync(struct ra_context *ctx, const char *pool,
    unsigned long long cursor, unsigned count, double spread,
    unsigned long long *next)
{
	struct ra_result res;
	struct ra_args a;

	if (build_sync(&a, ra_prefix(ctx), pool, cursor, count, spread,
	    &ctx->err, ctx->errstr) != 0 ||
	    ra_call_decode(ctx, &a, decode_integer, &res) != 0)
		return -1;
	*next = (unsigned long long)res.u.integer;
	return 0;
}

int
ra_health_counts(struct ra_context *ctx, const char *pool,
    struct ra_health_counts *out)
{
	struct ra_result res;
	struct ra_args a;

	memset(out, 0, sizeof *out);
	if (build_counts(&a, ra_prefix(ctx), pool, &ctx->err,
	    ctx->errstr) != 0 || ra_call_decode(ctx, &a, decode_counts, &res) != 0)
		return -1;
	*out = res.u.hcounts;
	return 0;
}

int
ra_health_get(struct ra_context *ctx, const char *pool,
    const char *const *keys, size_t n, struct ra_health_infos *out)
{
	struct ra_result res;
	struct ra_args a;

	memset(out, 0, sizeof *out);
	if (build_get(&a, ra_prefix(ctx), pool, keys, n, &ctx->err,
	    ctx->errstr) != 0 || ra_call_decode(ctx, &a, decode_get, &res) != 0)
		return -1;
	if (res.u.hinfos.n != n) {
		free_get(&res);
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_PROTOCOL,
		    "unexpected reply to health_get");
		return -1;
	}
	*out = res.u.hinfos;
	return 0;
}

int
ra_async_health_claim(struct ra_async *ra, const char *pool, unsigned count,
    double lease, ra_async_fn *fn, void *priv)
{
	RA_ASYNC_BUILT(build_claim(&a, ra_async_prefix(ra), pool, count, lease,
	    &err, errstr), decode_claim, free_claim);
}

int
ra_async_health_report(struct ra_async *ra, const char *pool,
    const char *item, enum ra_probe_verdict v, double latency_ms,
    const char *reason, const struct ra_health_conf *hc, ra_async_fn *fn,
    void *priv)
{
	struct ra_health_probe p = { item, v, latency_ms, reason, 0 };

	RA_ASYNC_BUILT(build_report(&a, ra_async_prefix(ra), pool, &p, 1, hc,
	    &err, errstr), decode_report, NULL);
}

int
ra_async_health_report_batch(struct ra_async *ra, const char *pool,
    const struct ra_health_probe *probes, size_t n,
    const struct ra_health_conf *hc, ra_async_fn *fn, void *priv)
{
	RA_ASYNC_BUILT(build_report(&a, ra_async_prefix(ra), pool, probes, n, hc,
	    &err, errstr), decode_batch, free_batch);
}

int
ra_async_health_sync(struct ra_async *ra, const char *pool,
    unsigned long long cursor, unsigned count, double spread,
    ra_async_fn *fn, void *priv)
{
	RA_ASYNC_BUILT(build_sync(&a, ra_async_prefix(ra), pool, cursor, count,
	    spread, &err, errstr), decode_integer, NULL);
}

int
ra_async_health_counts(struct ra_async *ra, const char *pool,
    ra_async_fn *fn, void *priv)
{
	RA_ASYNC_BUILT(build_counts(&a, ra_async_prefix(ra), pool, &err, errstr),
	    decode_counts, free_counts);
}

int
ra_async_health_get(struct ra_async *ra, const char *pool,
    const char *const *keys, size_t n, ra_async_fn *fn, void *priv)
{
	RA_ASYNC_BUILT(build_get(&a, ra_async_prefix(ra), pool, keys, n, &err,
	    errstr), decode_get, free_get);
}
