/*
 * alloc_codec.c: the allocator's FCALL argument builders (with input
 * validation) and reply decoders, shared by the sync and async calls,
 * plus the small value helpers of the allocator API.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ra_alloc.h"

/* Key suffixes of a pool, in the order of KEYS in lua/item.lua. */
static const char *const pool_suffix[] = {
	":meta", ":items", ":free", ":shared", ":leases", ":lease",
	":quarantine", ":bind", ":bindexp", ":bindrev", ":itemexp", ":fence"
};

static const char *const state_names[RA_STATE__COUNT] = {
	[RA_STATE_ANY] = "any",
	[RA_STATE_FREE] = "free",
	[RA_STATE_LEASED] = "leased",
	[RA_STATE_SHARED] = "shared",
	[RA_STATE_QUARANTINED] = "quarantined",
	[RA_STATE_DRAINING] = "draining",
};

/* State letters of the functions ("" for any). */
static const char *const state_letters[RA_STATE__COUNT] = {
	[RA_STATE_ANY] = "",
	[RA_STATE_FREE] = "f",
	[RA_STATE_LEASED] = "l",
	[RA_STATE_SHARED] = "s",
	[RA_STATE_QUARANTINED] = "q",
	[RA_STATE_DRAINING] = "d",
};

static const char *const outcome_names[RA_OUTCOME__COUNT] = {
	[RA_OUTCOME_NONE] = "NONE",
	[RA_OUTCOME_OK] = "OK",
	[RA_OUTCOME_FAILED] = "FAILED",
	[RA_OUTCOME_BANNED] = "BANNED",
};

const char *
ra_state_name(enum ra_state s)
{
	if ((int)s < 0 || s >= RA_STATE__COUNT)
		return "unknown";
	return state_names[s];
}

int
ra_state_parse(const char *name)
{
	int i;

	for (i = 0; i < RA_STATE__COUNT; i++)
		if (strcasecmp(name, state_names[i]) == 0)
			return i;
	return -1;
}

const char *
ra_outcome_name(enum ra_outcome o)
{
	if ((int)o < 0 || o >= RA_OUTCOME__COUNT)
		return "unknown";
	return outcome_names[o];
}

int
ra_outcome_parse(const char *name)
{
	int i;

	for (i = 0; i < RA_OUTCOME__COUNT; i++)
		if (strcasecmp(name, outcome_names[i]) == 0)
			return i;
	return -1;
}

void
ra_pool_conf_init(struct ra_pool_conf *c)
{
	memset(c, 0, sizeof *c);
	c->shared = 0;
	c->max_shares = 0;
	c->lease_ttl = 60;
	c->bind_ttl = 3600;
	c->eject_failures = 5;
	c->eject_base = 30;
	c->eject_max = 300;
	c->eject_max_percent = 50;
	c->ban_time = 600;
}

void
ra_lease_req_init(struct ra_lease_req *req)
{
	memset(req, 0, sizeof *req);
	req->ttl = RA_TTL_DEFAULT;
	req->bind_ttl = RA_TTL_DEFAULT;
	req->shared = -1;
}

void
ra_lease_deinit(struct ra_lease *l)
{
	if (l == NULL)
		return;
	free(l->item);
	l->item = NULL;
}

void
ra_list_deinit(struct ra_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->items[i].key);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

/* Start a call of a pool function: the 12 pool keys. */
static int
pool_start(struct ra_args *a, int fn, const char *prefix,
    const char *pool, int *err, char *errstr)
{
	return ra_args_pool(a, fn, prefix, pool, pool_suffix,
	    sizeof pool_suffix / sizeof pool_suffix[0], err, errstr);
}

/* The registry of pool names. */
static void
registry_key(struct ra_args *a, const char *prefix)
{
	char buf[RA_KEY_MAX + 16];
	int n;

	n = snprintf(buf, sizeof buf, "%s:pools", prefix);
	ra_args_rawkey(a, buf, (size_t)n < sizeof buf ? (size_t)n :
	    sizeof buf - 1);
}

/* Undo a started call after a late validation failure. */
static int
abandon(struct ra_args *a)
{
	ra_args_deinit(a);
	return -1;
}

static int
check_outcome(enum ra_outcome o, double latency_ms, int *err, char *errstr)
{
	if ((int)o < 0 || o >= RA_OUTCOME__COUNT) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "unknown outcome %d", (int)o);
		return -1;
	}
	if (isnan(latency_ms) || latency_ms > 86400000.0) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "latency %g ms out of range", latency_ms);
		return -1;
	}
	return 0;
}

static int
check_token(const char *token, int *err, char *errstr)
{
	size_t i, len;

	if (token == NULL || (len = strlen(token)) < 16 || len > 64)
		goto bad;
	for (i = 0; i < len; i++)
		if (strchr("0123456789abcdefABCDEF", token[i]) == NULL)
			goto bad;
	return 0;
bad:
	ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
	    "token must be 16 to 64 hex digits");
	return -1;
}

int
ra_check_items(const struct ra_item *items, size_t n, int *err, char *errstr)
{
	size_t i;

	if (n > 0 && items == NULL) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT, "no items");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (ra_check_key("item", items[i].key, err, errstr) != 0)
			goto bad;
		if (items[i].priority < RA_PRIO_MIN ||
		    items[i].priority > RA_PRIO_MAX) {
			ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
			    "priority %d out of range (%d to %d)",
			    items[i].priority, RA_PRIO_MIN, RA_PRIO_MAX);
			goto bad;
		}
		if (ra_check_ttl("item expiry", items[i].expires, false, err,
		    errstr) != 0)
			goto bad;
	}
	return 0;
bad:
	{
		char tmp[RA_ERRSTR_LEN];

		snprintf(tmp, sizeof tmp, "item %zu: %s", i, errstr);
		memcpy(errstr, tmp, RA_ERRSTR_LEN);
	}
	return -1;
}

int
ra_check_keys(const char *const *keys, size_t n, int *err, char *errstr)
{
	size_t i;

	if (n > 0 && keys == NULL) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT, "no items");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (ra_check_key("item", keys[i], err, errstr) != 0)
			return -1;
	return 0;
}

int
ra_build_pool_create(struct ra_args *a, const char *prefix, const char *pool,
    const struct ra_pool_conf *c, int *err, char *errstr)
{
	if (c == NULL) {
		memset(a, 0, sizeof *a);
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT, "no settings");
		return -1;
	}
	if (c->shared != 0 && c->shared != 1) {
		memset(a, 0, sizeof *a);
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "shared must be 0 or 1");
		return -1;
	}
	if (c->max_shares > 1000000 || c->eject_failures > 1000000 ||
	    c->eject_max_percent > 100) {
		memset(a, 0, sizeof *a);
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "max_shares, eject_failures or eject_max_percent "
		    "out of range");
		return -1;
	}
	if (ra_check_ttl("lease_ttl", c->lease_ttl, false, err, errstr) ||
	    ra_check_ttl("bind_ttl", c->bind_ttl, false, err, errstr) ||
	    ra_check_ttl("eject_base", c->eject_base, false, err, errstr) ||
	    ra_check_ttl("eject_max", c->eject_max, false, err, errstr) ||
	    ra_check_ttl("ban_time", c->ban_time, false, err, errstr)) {
		memset(a, 0, sizeof *a);
		return -1;
	}
	if (llround(c->lease_ttl * 1000.0) < 1) {
		memset(a, 0, sizeof *a);
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "lease_ttl must be at least 1 ms");
		return -1;
	}
	if (pool_start(a, RA_FN_POOL_CREATE, prefix, pool, err,
	    errstr) != 0)
		return -1;
	registry_key(a, prefix);
	ra_args_str(a, pool);
	ra_args_ll(a, c->shared);
	ra_args_ll(a, c->max_shares);
	ra_args_ms(a, c->lease_ttl);
	ra_args_ms(a, c->bind_ttl);
	ra_args_ll(a, c->eject_failures);
	ra_args_ms(a, c->eject_base);
	ra_args_ms(a, c->eject_max);
	ra_args_ll(a, c->eject_max_percent);
	ra_args_ms(a, c->ban_time);
	return 0;
}

int
ra_build_pool_get(struct ra_args *a, const char *prefix, const char *pool,
    int *err, char *errstr)
{
	return pool_start(a, RA_FN_POOL_GET, prefix, pool, err, errstr);
}

int
ra_build_pool_delete(struct ra_args *a, const char *prefix, const char *pool,
    unsigned long long cursor, unsigned count, int first, int *err,
    char *errstr)
{
	char buf[32];

	if (pool_start(a, RA_FN_POOL_DELETE, prefix, pool, err,
	    errstr) != 0)
		return -1;
	registry_key(a, prefix);
	ra_args_key(a, prefix, pool, ":events");	/* its history goes */
	ra_args_str(a, pool);
	snprintf(buf, sizeof buf, "%llu", cursor);
	ra_args_str(a, buf);
	ra_args_ll(a, count ? count : RA_BATCH_DEFAULT);
	ra_args_ll(a, first ? 1 : 0);
	return 0;
}

int
ra_build_pools(struct ra_args *a, const char *prefix)
{
	ra_args_init(a, RA_FN_POOLS);
	registry_key(a, prefix);
	return 0;
}

int
ra_build_items_add(struct ra_args *a, const char *prefix, const char *pool,
    long long gen, const struct ra_item *items, size_t n, int *err,
    char *errstr)
{
	size_t i;

	if (pool_start(a, RA_FN_ITEMS_ADD, prefix, pool, err, errstr) != 0)
		return -1;
	if (ra_check_items(items, n, err, errstr) != 0)
		return abandon(a);
	ra_args_ll(a, gen);
	for (i = 0; i < n; i++) {
		ra_args_str(a, items[i].key);
		ra_args_ll(a, items[i].priority);
		ra_args_ms(a, items[i].expires);
	}
	return 0;
}

int
ra_build_items_remove(struct ra_args *a, const char *prefix,
    const char *pool, const char *const *keys, size_t n, int *err,
    char *errstr)
{
	size_t i;

	if (pool_start(a, RA_FN_ITEMS_REMOVE, prefix, pool, err,
	    errstr) != 0)
		return -1;
	if (ra_check_keys(keys, n, err, errstr) != 0)
		return abandon(a);
	for (i = 0; i < n; i++)
		ra_args_str(a, keys[i]);
	return 0;
}

int
ra_build_assign_begin(struct ra_args *a, const char *prefix,
    const char *pool, int *err, char *errstr)
{
	return pool_start(a, RA_FN_ASSIGN_BEGIN, prefix, pool, err,
	    errstr);
}

int
ra_build_assign_sweep(struct ra_args *a, const char *prefix,
    const char *pool, long long gen, unsigned long long cursor,
    unsigned count, int *err, char *errstr)
{
	char buf[32];

	if (pool_start(a, RA_FN_ASSIGN_SWEEP, prefix, pool, err,
	    errstr) != 0)
		return -1;
	ra_args_ll(a, gen);
	snprintf(buf, sizeof buf, "%llu", cursor);
	ra_args_str(a, buf);
	ra_args_ll(a, count ? count : RA_BATCH_DEFAULT);
	return 0;
}

int
ra_build_lease(struct ra_args *a, const char *prefix, const char *pool,
    const struct ra_lease_req *req, int *err, char *errstr)
{
	struct ra_lease_req def;
	char token[RA_TOKEN_LEN + 1];

	memset(a, 0, sizeof *a);
	if (req == NULL) {
		ra_lease_req_init(&def);
		req = &def;
	}
	if (req->name != NULL &&
	    ra_check_key("binding name", req->name, err, errstr) != 0)
		return -1;
	if (req->holder != NULL && strlen(req->holder) > RA_KEY_MAX) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "holder over %d bytes", RA_KEY_MAX);
		return -1;
	}
	if (ra_check_ttl("lease ttl", req->ttl, true, err, errstr) != 0 ||
	    ra_check_ttl("binding ttl", req->bind_ttl, true, err, errstr) != 0)
		return -1;
	if (req->ttl != RA_TTL_DEFAULT && llround(req->ttl * 1000.0) < 1) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "lease ttl must be at least 1 ms");
		return -1;
	}
	if (req->shared < -1 || req->shared > 1) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "shared must be -1, 0 or 1");
		return -1;
	}
	if (ra_random_token(token) != 0) {
		ra_set_error(err, errstr, RA_ERR_IO,
		    "cannot read random bytes for a token");
		return -1;
	}
	if (pool_start(a, RA_FN_LEASE, prefix, pool, err, errstr) != 0)
		return -1;
	ra_args_str(a, token);
	ra_args_ms(a, req->ttl);
	ra_args_ll(a, req->shared);
	ra_args_str(a, req->name != NULL ? req->name : "");
	ra_args_ms(a, req->bind_ttl);
	ra_args_str(a, req->holder != NULL ? req->holder : "");
	ra_args_ll(a, RA_RECLAIM_BATCH);
	return 0;
}

int
ra_build_renew(struct ra_args *a, const char *prefix, const char *pool,
    const char *token, double ttl, int *err, char *errstr)
{
	memset(a, 0, sizeof *a);
	if (check_token(token, err, errstr) != 0 ||
	    ra_check_ttl("lease ttl", ttl, true, err, errstr) != 0)
		return -1;
	if (ttl != RA_TTL_DEFAULT && llround(ttl * 1000.0) < 1) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "lease ttl must be at least 1 ms");
		return -1;
	}
	if (pool_start(a, RA_FN_RENEW, prefix, pool, err, errstr) != 0)
		return -1;
	ra_args_str(a, token);
	ra_args_ms(a, ttl);
	return 0;
}

/* ARGV of an outcome and a latency. */
static void
args_outcome(struct ra_args *a, enum ra_outcome o, double latency_ms)
{
	ra_args_str(a, outcome_names[o]);
	if (latency_ms < 0)
		ra_args_ll(a, -1);
	else
		ra_args_double(a, latency_ms);
}

int
ra_build_release(struct ra_args *a, const char *prefix, const char *pool,
    const char *token, enum ra_outcome outcome, double latency_ms, int *err,
    char *errstr)
{
	memset(a, 0, sizeof *a);
	if (check_token(token, err, errstr) != 0 ||
	    check_outcome(outcome, latency_ms, err, errstr) != 0)
		return -1;
	if (pool_start(a, RA_FN_RELEASE, prefix, pool, err, errstr) != 0)
		return -1;
	ra_args_str(a, token);
	args_outcome(a, outcome, latency_ms);
	return 0;
}

int
ra_build_report(struct ra_args *a, const char *prefix, const char *pool,
    const char *item, enum ra_outcome outcome, double latency_ms, int *err,
    char *errstr)
{
	memset(a, 0, sizeof *a);
	if (ra_check_key("item", item, err, errstr) != 0 ||
	    check_outcome(outcome, latency_ms, err, errstr) != 0)
		return -1;
	if (pool_start(a, RA_FN_REPORT, prefix, pool, err, errstr) != 0)
		return -1;
	ra_args_str(a, item);
	args_outcome(a, outcome, latency_ms);
	return 0;
}

int
ra_build_quarantine(struct ra_args *a, const char *prefix, const char *pool,
    const char *item, double seconds, int *err, char *errstr)
{
	memset(a, 0, sizeof *a);
	if (ra_check_key("item", item, err, errstr) != 0 ||
	    ra_check_ttl("quarantine time", seconds, false, err, errstr) != 0)
		return -1;
	if (pool_start(a, RA_FN_QUARANTINE, prefix, pool, err,
	    errstr) != 0)
		return -1;
	ra_args_str(a, item);
	ra_args_ms(a, seconds);
	return 0;
}

int
ra_build_bind(struct ra_args *a, const char *prefix, const char *pool,
    const char *name, const char *item, double ttl, int *err, char *errstr)
{
	memset(a, 0, sizeof *a);
	if (ra_check_key("binding name", name, err, errstr) != 0 ||
	    ra_check_key("item", item, err, errstr) != 0 ||
	    ra_check_ttl("binding ttl", ttl, true, err, errstr) != 0)
		return -1;
	if (pool_start(a, RA_FN_BIND, prefix, pool, err, errstr) != 0)
		return -1;
	ra_args_str(a, name);
	ra_args_str(a, item);
	ra_args_ms(a, ttl);
	return 0;
}

int
ra_build_unbind(struct ra_args *a, const char *prefix, const char *pool,
    const char *name, int *err, char *errstr)
{
	memset(a, 0, sizeof *a);
	if (ra_check_key("binding name", name, err, errstr) != 0)
		return -1;
	if (pool_start(a, RA_FN_UNBIND, prefix, pool, err, errstr) != 0)
		return -1;
	ra_args_str(a, name);
	return 0;
}

int
ra_build_binding(struct ra_args *a, const char *prefix, const char *pool,
    const char *name, int *err, char *errstr)
{
	memset(a, 0, sizeof *a);
	if (ra_check_key("binding name", name, err, errstr) != 0)
		return -1;
	if (pool_start(a, RA_FN_BINDING, prefix, pool, err, errstr) != 0)
		return -1;
	ra_args_str(a, name);
	return 0;
}

int
ra_build_bindings(struct ra_args *a, const char *prefix, const char *pool,
    const char *item, int *err, char *errstr)
{
	memset(a, 0, sizeof *a);
	if (ra_check_key("item", item, err, errstr) != 0)
		return -1;
	if (pool_start(a, RA_FN_BINDINGS, prefix, pool, err, errstr) != 0)
		return -1;
	ra_args_str(a, item);
	return 0;
}

int
ra_build_counts(struct ra_args *a, const char *prefix, const char *pool,
    int *err, char *errstr)
{
	if (pool_start(a, RA_FN_COUNTS, prefix, pool, err, errstr) != 0)
		return -1;
	ra_args_ll(a, RA_RECLAIM_BATCH);
	return 0;
}

int
ra_build_list(struct ra_args *a, const char *prefix, const char *pool,
    enum ra_state filter, unsigned long long cursor, unsigned count,
    int *err, char *errstr)
{
	char buf[32];

	memset(a, 0, sizeof *a);
	if ((int)filter < 0 || filter >= RA_STATE__COUNT) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "unknown state filter %d", (int)filter);
		return -1;
	}
	if (pool_start(a, RA_FN_LIST, prefix, pool, err, errstr) != 0)
		return -1;
	snprintf(buf, sizeof buf, "%llu", cursor);
	ra_args_str(a, buf);
	ra_args_ll(a, count ? count : 100);
	ra_args_str(a, state_letters[filter]);
	return 0;
}

int
ra_build_gc(struct ra_args *a, const char *prefix, const char *pool,
    unsigned count, int *err, char *errstr)
{
	if (pool_start(a, RA_FN_GC, prefix, pool, err, errstr) != 0)
		return -1;
	ra_args_ll(a, count ? count : RA_BATCH_DEFAULT);
	return 0;
}

int
ra_build_check(struct ra_args *a, const char *prefix, const char *pool,
    int phase, unsigned long long cursor, unsigned count, int *err,
    char *errstr)
{
	char buf[32];

	if (pool_start(a, RA_FN_CHECK, prefix, pool, err, errstr) != 0)
		return -1;
	ra_args_ll(a, phase);
	snprintf(buf, sizeof buf, "%llu", cursor);
	ra_args_str(a, buf);
	ra_args_ll(a, count ? count : RA_BATCH_DEFAULT);
	return 0;
}

/* ---- decoders ---- */

static void
bad_reply(struct ra_result *res, const char *what)
{
	ra_set_error(&res->err, res->errstr, RA_ERR_PROTOCOL,
	    "unexpected reply to %s", what);
}

/* An array reply of at least n elements? */
static bool
is_array(const redisReply *r, size_t n)
{
	return r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements >= n;
}

/* Integers of an array into v[0..n-1]. */
static bool
array_ll(const redisReply *r, long long *v, size_t n)
{
	size_t i;

	if (!is_array(r, n))
		return false;
	for (i = 0; i < n; i++)
		if (!ra_reply_ll(r->element[i], &v[i]))
			return false;
	return true;
}

/* A decimal cursor string. */
static bool
reply_cursor(const redisReply *r, unsigned long long *c)
{
	char *end;

	if (r == NULL || r->type != REDIS_REPLY_STRING || r->len == 0)
		return false;
	errno = 0;
	*c = strtoull(r->str, &end, 10);
	return errno == 0 && *end == '\0';
}

void
ra_decode_integer(const redisReply *r, struct ra_result *res)
{
	if (r != NULL && r->type == REDIS_REPLY_NIL) {
		res->u.integer = 0;
		return;
	}
	if (!ra_reply_ll(r, &res->u.integer))
		bad_reply(res, "a call answering an integer");
}

/* release, report: 1, or { until, item } when the outcome ejected or
 * banned the item. */
void
ra_decode_ended(const redisReply *r, struct ra_result *res)
{
	struct ra_ended *e = &res->u.ended;
	long long one;

	memset(e, 0, sizeof *e);
	if (ra_reply_ll(r, &one) && one == 1)
		return;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    !ra_reply_ll(r->element[0], &e->until_ms) || e->until_ms <= 1 ||
	    r->element[1]->type != REDIS_REPLY_STRING) {
		e->until_ms = 0;
		bad_reply(res, "release or report");
		return;
	}
	if ((e->item = strdup(r->element[1]->str)) == NULL) {
		e->until_ms = 0;
		ra_set_error(&res->err, res->errstr, RA_ERR_OOM,
		    "out of memory");
	}
}

void
ra_decode_lease(const redisReply *r, struct ra_result *res)
{
	struct ra_lease *l = &res->u.lease;
	long long v[3];
	size_t i;

	memset(l, 0, sizeof *l);
	if (!is_array(r, 6) || r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[5]->type != REDIS_REPLY_STRING ||
	    r->element[5]->len != RA_TOKEN_LEN) {
		bad_reply(res, "lease");
		return;
	}
	for (i = 0; i < 3; i++)
		if (!ra_reply_ll(r->element[i + 1], &v[i])) {
			bad_reply(res, "lease");
			return;
		}
	if ((l->item = ra_reply_strdup(r->element[0])) == NULL) {
		ra_set_error(&res->err, res->errstr, RA_ERR_OOM,
		    "out of memory");
		return;
	}
	memcpy(l->token, r->element[5]->str, RA_TOKEN_LEN);
	l->token[RA_TOKEN_LEN] = '\0';
	l->expires_ms = v[0];
	l->fence = v[1];
	l->shared = v[2] != 0;
	if (!ra_reply_ll(r->element[4], &v[0])) {
		ra_lease_deinit(l);
		bad_reply(res, "lease");
		return;
	}
	l->bound = v[0] != 0;
}

void
ra_decode_counts(const redisReply *r, struct ra_result *res)
{
	long long v[8];
	struct ra_counts *c = &res->u.counts;

	if (!array_ll(r, v, 8)) {
		bad_reply(res, "counts");
		return;
	}
	c->total = v[0];
	c->free = v[1];
	c->leased = v[2];
	c->shared = v[3];
	c->quarantined = v[4];
	c->draining = v[5];
	c->leases = v[6];
	c->bindings = v[7];
}

/* The state of a state letter from a function. */
static enum ra_state
state_of(const char *s)
{
	int i;

	for (i = 1; i < RA_STATE__COUNT; i++)
		if (strcmp(s, state_letters[i]) == 0)
			return (enum ra_state)i;
	return RA_STATE_ANY;
}

void
ra_decode_list(const redisReply *r, struct ra_result *res)
{
	struct ra_list *l = &res->u.list;
	const redisReply *arr, *e;
	long long v[6];
	size_t i, j;

	memset(l, 0, sizeof *l);
	if (!is_array(r, 2) || !reply_cursor(r->element[0], &l->cursor) ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		bad_reply(res, "list");
		return;
	}
	arr = r->element[1];
	if (arr->elements > 0 &&
	    (l->items = calloc(arr->elements, sizeof *l->items)) == NULL) {
		ra_set_error(&res->err, res->errstr, RA_ERR_OOM,
		    "out of memory");
		return;
	}
	for (i = 0; i < arr->elements; i++) {
		struct ra_item_info *it = &l->items[i];

		e = arr->element[i];
		if (!is_array(e, 9) || e->element[1]->type != REDIS_REPLY_STRING)
			goto bad;
		for (j = 0; j < 6; j++)
			if (!ra_reply_ll(e->element[j + 2], &v[j]))
				goto bad;
		if (!ra_reply_double(e->element[8], &it->latency_ms))
			goto bad;
		if ((it->key = ra_reply_strdup(e->element[0])) == NULL)
			goto bad;
		l->n = i + 1;
		it->state = state_of(e->element[1]->str);
		it->priority = (int)v[0];
		it->holders = (int)v[1];
		it->expires_ms = v[2];
		it->until_ms = v[3];
		it->failures = (unsigned)v[4];
		it->ejections = (unsigned)v[5];
	}
	return;
bad:
	ra_list_deinit(l);
	bad_reply(res, "list");
}

/* Decode an array of strings into res->u.strs; a reply of another shape
 * is reported as an unexpected reply to what. */
void
ra_decode_names(const redisReply *r, struct ra_result *res, const char *what)
{
	struct ra_strlist *s = &res->u.strs;
	size_t i;

	memset(s, 0, sizeof *s);
	if (!is_array(r, 0)) {
		bad_reply(res, what);
		return;
	}
	if (r->elements > 0 &&
	    (s->v = calloc(r->elements, sizeof *s->v)) == NULL) {
		ra_set_error(&res->err, res->errstr, RA_ERR_OOM,
		    "out of memory");
		return;
	}
	for (i = 0; i < r->elements; i++) {
		if ((s->v[i] = ra_reply_strdup(r->element[i])) == NULL) {
			ra_strlist_deinit(s);
			bad_reply(res, what);
			return;
		}
		s->n = i + 1;
	}
}

void
ra_decode_strlist(const redisReply *r, struct ra_result *res)
{
	ra_decode_names(r, res, "a call answering names");
}

void
ra_decode_str(const redisReply *r, struct ra_result *res)
{
	res->u.str = NULL;
	if (r != NULL && r->type == REDIS_REPLY_NIL)
		return;
	if (r == NULL || r->type != REDIS_REPLY_STRING) {
		bad_reply(res, "binding");
		return;
	}
	if ((res->u.str = ra_reply_strdup(r)) == NULL)
		ra_set_error(&res->err, res->errstr, RA_ERR_OOM,
		    "out of memory");
}

void
ra_decode_pool(const redisReply *r, struct ra_result *res)
{
	struct ra_pool_conf *c = &res->u.pool;
	long long v[9];

	if (!array_ll(r, v, 9)) {
		bad_reply(res, "pool_get");
		return;
	}
	c->shared = (int)v[0];
	c->max_shares = (unsigned)v[1];
	c->lease_ttl = v[2] / 1000.0;
	c->bind_ttl = v[3] / 1000.0;
	c->eject_failures = (unsigned)v[4];
	c->eject_base = v[5] / 1000.0;
	c->eject_max = v[6] / 1000.0;
	c->eject_max_percent = (unsigned)v[7];
	c->ban_time = v[8] / 1000.0;
}

void
ra_decode_gc(const redisReply *r, struct ra_result *res)
{
	long long v[5];

	if (!array_ll(r, v, 5)) {
		bad_reply(res, "gc");
		return;
	}
	res->u.gc.leases = v[0];
	res->u.gc.bindings = v[1];
	res->u.gc.items = v[2];
	res->u.gc.quarantine = v[3];
	res->u.gc.more = v[4] != 0 ? 1 : 0;
}

/* Kept in the bytes of res->u: see struct ra_step (ra_alloc.h). */
void
ra_decode_step(const redisReply *r, struct ra_result *res)
{
	struct ra_step s;

	if (!is_array(r, 2) || !reply_cursor(r->element[0], &s.cursor) ||
	    !ra_reply_ll(r->element[1], &s.n)) {
		bad_reply(res, "a sweep step");
		return;
	}
	memcpy(&res->u, &s, sizeof s);
}

void
ra_decode_raw(const redisReply *r, struct ra_result *res)
{
	memcpy(&res->u, &r, sizeof r);
}

/* ---- the invariant check's walk ---- */

/* Append a copy of s to l; -1 when out of memory. */
static int
strlist_add(struct ra_strlist *l, const char *s, size_t len)
{
	char **v, *copy;

	if ((copy = malloc(len + 1)) == NULL)
		return -1;
	memcpy(copy, s, len);
	copy[len] = '\0';
	if ((v = realloc(l->v, (l->n + 1) * sizeof *v)) == NULL) {
		free(copy);
		return -1;
	}
	l->v = v;
	l->v[l->n++] = copy;
	return 0;
}

/* Append a formatted line to l. */
static int __attribute__((format(printf, 2, 3)))
strlist_addf(struct ra_strlist *l, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	return strlist_add(l, buf, (size_t)n < sizeof buf ? (size_t)n :
	    sizeof buf - 1);
}

void
ra_check_walk_init(struct ra_check_walk *w)
{
	memset(w, 0, sizeof *w);
	w->phase = 1;
}

/* A check function reply: { phase, cursor, { lines }, { numbers } }. */
static bool
is_check_reply(const redisReply *r)
{
	return is_array(r, 4) && r->elements == 4 &&
	    r->element[2]->type == REDIS_REPLY_ARRAY &&
	    r->element[3]->type == REDIS_REPLY_ARRAY &&
	    r->element[3]->elements >= 6;
}

int
ra_check_walk_step(struct ra_check_walk *w, const redisReply *r, int *err,
    char *errstr)
{
	long long v;
	size_t j;
	int i;

	if (!is_check_reply(r))
		goto bad;
	for (j = 0; j < r->element[2]->elements; j++) {
		const redisReply *e = r->element[2]->element[j];
		if (e->type == REDIS_REPLY_STRING)
			w->oom |= strlist_add(&w->out, e->str, e->len);
	}
	if (w->phase == RA_CHECK_PHASES) {
		if (r->element[3]->elements < 8)
			goto bad;
		for (i = 0; i < 8; i++)
			if (!ra_reply_ll(r->element[3]->element[i],
			    &w->stored[i]))
				goto bad;
	} else if (w->phase == 1) {
		for (i = 0; i < 6; i++) {
			if (!ra_reply_ll(r->element[3]->element[i], &v))
				goto bad;
			w->seen[i] += v;
		}
	}
	if (!ra_reply_ll(r->element[0], &v) || v < 0 ||
	    v > RA_CHECK_PHASES || r->element[1]->type != REDIS_REPLY_STRING)
		goto bad;
	w->cursor = strtoull(r->element[1]->str, NULL, 10);
	w->phase = (int)v;
	return 0;

bad:
	ra_set_error(err, errstr, RA_ERR_PROTOCOL,
	    "unexpected reply to check");
	return -1;
}

int
ra_check_walk_finish(struct ra_check_walk *w, int *err, char *errstr)
{
	static const char *const names[] = { "free", "leased", "shared",
	    "quarantined", "draining" };
	const long long *seen = w->seen, *stored = w->stored;
	int i;

	/* stored: total free leased shared quarantined draining leases
	 * lease-records; seen: free leased shared quarantined draining
	 * holders */
	if (seen[0] + seen[1] + seen[2] + seen[3] + seen[4] != stored[0])
		w->oom |= strlist_addf(&w->out, "counter: %lld items counted "
		    "by state, %lld in the pool", seen[0] + seen[1] + seen[2] +
		    seen[3] + seen[4], stored[0]);
	for (i = 0; i < 5; i++)
		if (seen[i] != stored[i + 1])
			w->oom |= strlist_addf(&w->out, "counter: %lld items "
			    "%s, counter says %lld", seen[i], names[i],
			    stored[i + 1]);
	if (seen[5] != stored[6] || stored[6] != stored[7])
		w->oom |= strlist_addf(&w->out, "counter: %lld holders on "
		    "items, %lld lease expiries, %lld lease records",
		    seen[5], stored[6], stored[7]);
	if (w->oom) {
		ra_strlist_deinit(&w->out);
		ra_set_error(err, errstr, RA_ERR_OOM, "out of memory");
		return -1;
	}
	return 0;
}

void
ra_free_lease_result(struct ra_result *res)
{
	ra_lease_deinit(&res->u.lease);
}

void
ra_free_list_result(struct ra_result *res)
{
	ra_list_deinit(&res->u.list);
}

void
ra_free_strlist_result(struct ra_result *res)
{
	ra_strlist_deinit(&res->u.strs);
}

void
ra_free_str_result(struct ra_result *res)
{
	free(res->u.str);
	res->u.str = NULL;
}

void
ra_free_ended_result(struct ra_result *res)
{
	free(res->u.ended.item);
	res->u.ended.item = NULL;
}
