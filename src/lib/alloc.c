/*
 * alloc.c: the synchronous resource allocator calls.  Each builds its
 * function call with the shared builders (alloc_codec.c), runs it with
 * ra_call() and decodes the reply with the shared decoders; bulk calls
 * are chunked so no call touches more than half the connection's batch.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ra_alloc.h"

/* Build-and-run shorthand: b is the builder's return value. */
#define SYNC(ctx, b, a, dec, res) \
	((b) != 0 ? -1 : ra_call_decode((ctx), (a), (dec), (res)))

int
ra_pool_create(struct ra_context *ctx, const char *pool,
    const struct ra_pool_conf *conf)
{
	struct ra_args a;
	struct ra_result res;

	return SYNC(ctx, ra_build_pool_create(&a, ra_prefix(ctx), pool, conf,
	    &ctx->err, ctx->errstr), &a, ra_decode_integer, &res);
}

int
ra_pool_get(struct ra_context *ctx, const char *pool,
    struct ra_pool_conf *conf)
{
	struct ra_args a;
	struct ra_result res;

	if (SYNC(ctx, ra_build_pool_get(&a, ra_prefix(ctx), pool, &ctx->err,
	    ctx->errstr), &a, ra_decode_pool, &res) != 0)
		return -1;
	*conf = res.u.pool;
	return 0;
}

int
ra_pool_delete(struct ra_context *ctx, const char *pool)
{
	struct ra_args a;
	struct ra_result res;
	unsigned long long cursor = 0;
	int first = 1;

	do {
		if (SYNC(ctx, ra_build_pool_delete(&a, ra_prefix(ctx), pool,
		    cursor, RA_CHUNK(ra_batch(ctx)), first, &ctx->err,
		    ctx->errstr), &a,
		    ra_decode_step, &res) != 0)
			return -1;
		first = 0;
		cursor = ra_result_step(&res).cursor;
	} while (cursor != 0);
	return 0;
}

int
ra_pools(struct ra_context *ctx, struct ra_strlist *out)
{
	struct ra_args a;
	struct ra_result res;

	memset(out, 0, sizeof *out);
	ra_build_pools(&a, ra_prefix(ctx));
	if (ra_call_decode(ctx, &a, ra_decode_strlist, &res) != 0)
		return -1;
	*out = res.u.strs;
	return 0;
}

/* Add items in chunks (RA_CHUNK) with generation gen. */
static int
add_chunks(struct ra_context *ctx, const char *pool, long long gen,
    const struct ra_item *items, size_t n)
{
	struct ra_args a;
	struct ra_result res;
	size_t off, len, batch = RA_CHUNK(ra_batch(ctx));

	for (off = 0; off < n; off += len) {
		len = n - off < batch ? n - off : batch;
		if (SYNC(ctx, ra_build_items_add(&a, ra_prefix(ctx), pool, gen,
		    items + off, len, &ctx->err, ctx->errstr), &a,
		    ra_decode_integer, &res) != 0)
			return -1;
	}
	return 0;
}

int
ra_add(struct ra_context *ctx, const char *pool, const struct ra_item *items,
    size_t n)
{
	struct ra_args a;
	struct ra_result res;

	if (ra_check_key("pool name", pool, &ctx->err, ctx->errstr) != 0 ||
	    ra_check_items(items, n, &ctx->err, ctx->errstr) != 0)
		return -1;
	if (n == 0)	/* still tell an unknown pool */
		return SYNC(ctx, ra_build_items_add(&a, ra_prefix(ctx), pool, 0,
		    NULL, 0, &ctx->err, ctx->errstr), &a, ra_decode_integer,
		    &res);
	return add_chunks(ctx, pool, 0, items, n);
}

int
ra_remove(struct ra_context *ctx, const char *pool, const char *const *keys,
    size_t n)
{
	struct ra_args a;
	struct ra_result res;
	size_t off = 0, len, batch = RA_CHUNK(ra_batch(ctx));

	if (ra_check_key("pool name", pool, &ctx->err, ctx->errstr) != 0 ||
	    ra_check_keys(keys, n, &ctx->err, ctx->errstr) != 0)
		return -1;
	do {
		len = n - off < batch ? n - off : batch;
		if (SYNC(ctx, ra_build_items_remove(&a, ra_prefix(ctx), pool,
		    keys + off, len, &ctx->err, ctx->errstr), &a,
		    ra_decode_integer, &res) != 0)
			return -1;
		off += len;
	} while (off < n);
	return 0;
}

/* Remove, in bounded steps, every item older than generation gen. */
static int
sweep(struct ra_context *ctx, const char *pool, long long gen)
{
	struct ra_args a;
	struct ra_result res;
	unsigned long long cursor = 0;

	do {
		if (SYNC(ctx, ra_build_assign_sweep(&a, ra_prefix(ctx), pool,
		    gen, cursor, RA_CHUNK(ra_batch(ctx)), &ctx->err,
		    ctx->errstr), &a,
		    ra_decode_step, &res) != 0)
			return -1;
		cursor = ra_result_step(&res).cursor;
	} while (cursor != 0);
	return 0;
}

int
ra_assign(struct ra_context *ctx, const char *pool,
    const struct ra_item *items, size_t n)
{
	struct ra_args a;
	struct ra_result res;
	long long gen;

	if (ra_check_key("pool name", pool, &ctx->err, ctx->errstr) != 0 ||
	    ra_check_items(items, n, &ctx->err, ctx->errstr) != 0)
		return -1;
	if (SYNC(ctx, ra_build_assign_begin(&a, ra_prefix(ctx), pool,
	    &ctx->err, ctx->errstr), &a, ra_decode_integer, &res) != 0)
		return -1;
	gen = res.u.integer;
	if (add_chunks(ctx, pool, gen, items, n) != 0)
		return -1;
	return sweep(ctx, pool, gen);
}

int
ra_clear(struct ra_context *ctx, const char *pool)
{
	return ra_assign(ctx, pool, NULL, 0);
}

int
ra_list(struct ra_context *ctx, const char *pool, enum ra_state filter,
    unsigned long long cursor, unsigned count, struct ra_list *out)
{
	struct ra_args a;
	struct ra_result res;

	memset(out, 0, sizeof *out);
	if (count > ra_batch(ctx))
		count = ra_batch(ctx);
	if (SYNC(ctx, ra_build_list(&a, ra_prefix(ctx), pool, filter, cursor,
	    count, &ctx->err, ctx->errstr), &a, ra_decode_list, &res) != 0)
		return -1;
	*out = res.u.list;
	return 0;
}

int
ra_counts(struct ra_context *ctx, const char *pool, struct ra_counts *out)
{
	struct ra_args a;
	struct ra_result res;

	if (SYNC(ctx, ra_build_counts(&a, ra_prefix(ctx), pool, &ctx->err,
	    ctx->errstr), &a, ra_decode_counts, &res) != 0)
		return -1;
	*out = res.u.counts;
	return 0;
}

int
ra_lease(struct ra_context *ctx, const char *pool,
    const struct ra_lease_req *req, struct ra_lease *out)
{
	struct ra_args a;
	struct ra_result res;

	memset(out, 0, sizeof *out);
	if (SYNC(ctx, ra_build_lease(&a, ra_prefix(ctx), pool, req, &ctx->err,
	    ctx->errstr), &a, ra_decode_lease, &res) != 0)
		return -1;
	*out = res.u.lease;
	return 0;
}

int
ra_renew(struct ra_context *ctx, const char *pool, const char *token,
    double ttl, long long *expires_ms)
{
	struct ra_args a;
	struct ra_result res;

	if (SYNC(ctx, ra_build_renew(&a, ra_prefix(ctx), pool, token, ttl,
	    &ctx->err, ctx->errstr), &a, ra_decode_integer, &res) != 0)
		return -1;
	if (expires_ms != NULL)
		*expires_ms = res.u.integer;
	return 0;
}

/* Run a built release or report (built: its builder's return) and give
 * what the _ex forms give. */
static int
ended_call(struct ra_context *ctx, int built, struct ra_args *a,
    long long *until_ms)
{
	struct ra_result res;

	if (SYNC(ctx, built, a, ra_decode_ended, &res) != 0)
		return -1;
	if (until_ms != NULL)
		*until_ms = res.u.ended.until_ms;
	ra_free_ended_result(&res);
	return 0;
}

int
ra_release_ex(struct ra_context *ctx, const char *pool, const char *token,
    enum ra_outcome outcome, double latency_ms, long long *until_ms)
{
	struct ra_args a;

	return ended_call(ctx, ra_build_release(&a, ra_prefix(ctx), pool,
	    token, outcome, latency_ms, &ctx->err, ctx->errstr), &a, until_ms);
}

int
ra_release(struct ra_context *ctx, const char *pool, const char *token,
    enum ra_outcome outcome, double latency_ms)
{
	return ra_release_ex(ctx, pool, token, outcome, latency_ms, NULL);
}

int
ra_report_ex(struct ra_context *ctx, const char *pool, const char *item,
    enum ra_outcome outcome, double latency_ms, long long *until_ms)
{
	struct ra_args a;

	return ended_call(ctx, ra_build_report(&a, ra_prefix(ctx), pool, item,
	    outcome, latency_ms, &ctx->err, ctx->errstr), &a, until_ms);
}

int
ra_report(struct ra_context *ctx, const char *pool, const char *item,
    enum ra_outcome outcome, double latency_ms)
{
	return ra_report_ex(ctx, pool, item, outcome, latency_ms, NULL);
}

int
ra_quarantine(struct ra_context *ctx, const char *pool, const char *item,
    double seconds)
{
	struct ra_args a;
	struct ra_result res;

	return SYNC(ctx, ra_build_quarantine(&a, ra_prefix(ctx), pool, item,
	    seconds, &ctx->err, ctx->errstr), &a, ra_decode_integer, &res);
}

int
ra_bind(struct ra_context *ctx, const char *pool, const char *name,
    const char *item, double ttl)
{
	struct ra_args a;
	struct ra_result res;

	return SYNC(ctx, ra_build_bind(&a, ra_prefix(ctx), pool, name, item,
	    ttl, &ctx->err, ctx->errstr), &a, ra_decode_integer, &res);
}

int
ra_unbind(struct ra_context *ctx, const char *pool, const char *name)
{
	struct ra_args a;
	struct ra_result res;

	if (SYNC(ctx, ra_build_unbind(&a, ra_prefix(ctx), pool, name,
	    &ctx->err, ctx->errstr), &a, ra_decode_integer, &res) != 0)
		return -1;
	return (int)res.u.integer;
}

int
ra_binding(struct ra_context *ctx, const char *pool, const char *name,
    char **item)
{
	struct ra_args a;
	struct ra_result res;

	*item = NULL;
	if (SYNC(ctx, ra_build_binding(&a, ra_prefix(ctx), pool, name,
	    &ctx->err, ctx->errstr), &a, ra_decode_str, &res) != 0)
		return -1;
	*item = res.u.str;
	return 0;
}

int
ra_bindings(struct ra_context *ctx, const char *pool, const char *item,
    struct ra_strlist *names)
{
	struct ra_args a;
	struct ra_result res;

	memset(names, 0, sizeof *names);
	if (SYNC(ctx, ra_build_bindings(&a, ra_prefix(ctx), pool, item,
	    &ctx->err, ctx->errstr), &a, ra_decode_strlist, &res) != 0)
		return -1;
	*names = res.u.strs;
	return 0;
}

int
ra_gc(struct ra_context *ctx, const char *pool, unsigned count,
    struct ra_gc_stats *out)
{
	struct ra_args a;
	struct ra_result res;

	if (count == 0 || count > RA_CHUNK(ra_batch(ctx)))
		count = RA_CHUNK(ra_batch(ctx));
	if (SYNC(ctx, ra_build_gc(&a, ra_prefix(ctx), pool, count, &ctx->err,
	    ctx->errstr), &a, ra_decode_gc, &res) != 0)
		return -1;
	if (out != NULL)
		*out = res.u.gc;
	return 0;
}

int
ra_check_invariants(struct ra_context *ctx, const char *pool,
    struct ra_strlist *out)
{
	struct ra_check_walk w;
	struct ra_args a;
	redisReply *r;
	int rc;

	memset(out, 0, sizeof *out);
	ra_check_walk_init(&w);
	while (w.phase != 0) {
		if (ra_build_check(&a, ra_prefix(ctx), pool, w.phase,
		    w.cursor, ra_batch(ctx), &ctx->err, ctx->errstr) != 0)
			goto fail;
		r = ra_call(ctx, &a);
		ra_args_deinit(&a);
		if (r == NULL)
			goto fail;
		rc = ra_check_walk_step(&w, r, &ctx->err, ctx->errstr);
		freeReplyObject(r);
		if (rc != 0)
			goto fail;
	}
	if (ra_check_walk_finish(&w, &ctx->err, ctx->errstr) != 0)
		return -1;
	*out = w.out;
	return 0;

fail:
	ra_strlist_deinit(&w.out);
	return -1;
}
