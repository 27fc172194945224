/*
 * alloc_async.c: the asynchronous allocator calls on a hiredis async
 * context.  They use the builders and decoders of alloc_codec.c, like the
 * sync calls; add, remove and assign chain one function call per chunk and
 * run the caller's callback once at the end.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ra_alloc.h"

/* Deliver a validation error through the callback at once; returns 0. */
static int
early_error(struct ra_async *ra, int err, const char *errstr,
    ra_async_fn *fn, void *priv)
{
	struct ra_result res;

	memset(&res, 0, sizeof res);
	res.err = err;
	memcpy(res.errstr, errstr, RA_ERRSTR_LEN);
	fn(ra, &res, priv);
	return 0;
}

/* Send a built call, or report the builder's error (b != 0). */
static int
async_run(struct ra_async *ra, int b, struct ra_args *a, int err,
    const char *errstr, ra_decode_fn *dec, ra_result_free_fn *rfree,
    ra_async_fn *fn, void *priv)
{
	if (b != 0)
		return early_error(ra, err, errstr, fn, priv);
	return ra_async_call(ra, a, dec, rfree, fn, priv);
}

/* Shorthand: declares err/errstr, builds with BUILD, sends. */
#define ASYNC(BUILD, dec, rfree) do {					\
	struct ra_args a;						\
	int err = 0;							\
	char errstr[RA_ERRSTR_LEN] = "";				\
	int b = (BUILD);						\
	return async_run(ra, b, &a, err, errstr, (dec), (rfree), fn,	\
	    priv);							\
} while (0)

#define PFX	ra_async_prefix(ra)

int
ra_async_pool_create(struct ra_async *ra, const char *pool,
    const struct ra_pool_conf *conf, ra_async_fn *fn, void *priv)
{
	ASYNC(ra_build_pool_create(&a, PFX, pool, conf, &err, errstr),
	    ra_decode_integer, NULL);
}

int
ra_async_pool_get(struct ra_async *ra, const char *pool, ra_async_fn *fn,
    void *priv)
{
	ASYNC(ra_build_pool_get(&a, PFX, pool, &err, errstr), ra_decode_pool,
	    NULL);
}

int
ra_async_pools(struct ra_async *ra, ra_async_fn *fn, void *priv)
{
	ASYNC(ra_build_pools(&a, PFX), ra_decode_strlist,
	    ra_free_strlist_result);
}

int
ra_async_lease(struct ra_async *ra, const char *pool,
    const struct ra_lease_req *req, ra_async_fn *fn, void *priv)
{
	ASYNC(ra_build_lease(&a, PFX, pool, req, &err, errstr),
	    ra_decode_lease, ra_free_lease_result);
}

int
ra_async_renew(struct ra_async *ra, const char *pool, const char *token,
    double ttl, ra_async_fn *fn, void *priv)
{
	ASYNC(ra_build_renew(&a, PFX, pool, token, ttl, &err, errstr),
	    ra_decode_integer, NULL);
}

int
ra_async_release(struct ra_async *ra, const char *pool, const char *token,
    enum ra_outcome outcome, double latency_ms, ra_async_fn *fn, void *priv)
{
	ASYNC(ra_build_release(&a, PFX, pool, token, outcome, latency_ms,
	    &err, errstr), ra_decode_ended, ra_free_ended_result);
}

int
ra_async_report(struct ra_async *ra, const char *pool, const char *item,
    enum ra_outcome outcome, double latency_ms, ra_async_fn *fn, void *priv)
{
	ASYNC(ra_build_report(&a, PFX, pool, item, outcome, latency_ms, &err,
	    errstr), ra_decode_ended, ra_free_ended_result);
}

int
ra_async_quarantine(struct ra_async *ra, const char *pool, const char *item,
    double seconds, ra_async_fn *fn, void *priv)
{
	ASYNC(ra_build_quarantine(&a, PFX, pool, item, seconds, &err, errstr),
	    ra_decode_integer, NULL);
}

int
ra_async_bind(struct ra_async *ra, const char *pool, const char *name,
    const char *item, double ttl, ra_async_fn *fn, void *priv)
{
	ASYNC(ra_build_bind(&a, PFX, pool, name, item, ttl, &err, errstr),
	    ra_decode_integer, NULL);
}

int
ra_async_unbind(struct ra_async *ra, const char *pool, const char *name,
    ra_async_fn *fn, void *priv)
{
	ASYNC(ra_build_unbind(&a, PFX, pool, name, &err, errstr),
	    ra_decode_integer, NULL);
}

int
ra_async_binding(struct ra_async *ra, const char *pool, const char *name,
    ra_async_fn *fn, void *priv)
{
	ASYNC(ra_build_binding(&a, PFX, pool, name, &err, errstr),
	    ra_decode_str, ra_free_str_result);
}

int
ra_async_bindings(struct ra_async *ra, const char *pool, const char *item,
    ra_async_fn *fn, void *priv)
{
	ASYNC(ra_build_bindings(&a, PFX, pool, item, &err, errstr),
	    ra_decode_strlist, ra_free_strlist_result);
}

int
ra_async_counts(struct ra_async *ra, const char *pool, ra_async_fn *fn,
    void *priv)
{
	ASYNC(ra_build_counts(&a, PFX, pool, &err, errstr), ra_decode_counts,
	    NULL);
}

int
ra_async_list(struct ra_async *ra, const char *pool, enum ra_state filter,
    unsigned long long cursor, unsigned count, ra_async_fn *fn, void *priv)
{
	if (count > ra_async_batch(ra))
		count = ra_async_batch(ra);
	ASYNC(ra_build_list(&a, PFX, pool, filter, cursor, count, &err,
	    errstr), ra_decode_list, ra_free_list_result);
}

int
ra_async_gc(struct ra_async *ra, const char *pool, unsigned count,
    ra_async_fn *fn, void *priv)
{
	if (count == 0 || count > RA_CHUNK(ra_async_batch(ra)))
		count = RA_CHUNK(ra_async_batch(ra));
	ASYNC(ra_build_gc(&a, PFX, pool, count, &err, errstr), ra_decode_gc,
	    NULL);
}

/* ---- chained calls: add, remove, assign, pool_delete ---- */

enum chain_kind {
	CHAIN_ADD,		/* items_add chunks */
	CHAIN_REMOVE,		/* items_remove chunks */
	CHAIN_ASSIGN,		/* assign_begin, items_add chunks, sweep */
	CHAIN_DELETE		/* pool_delete steps */
};

enum chain_step {
	STEP_BEGIN,		/* assign_begin sent */
	STEP_CHUNKS,		/* add/remove chunks */
	STEP_SWEEP		/* sweep / delete steps */
};

/* A multi-call operation in flight; owns copies of everything. */
struct chain {
	enum chain_kind		 kind;
	enum chain_step		 step;
	char			*pool;		/* owned */
	struct ra_item		*items;		/* owned, keys owned */
	char			**keys;		/* owned (remove) */
	size_t			 n;		/* items or keys */
	size_t			 off;		/* next chunk starts here */
	long long		 gen;		/* assign generation */
	unsigned long long	 cursor;	/* sweep cursor */
	long long		 total;		/* summed step results */
	ra_async_fn		*fn;		/* the caller's callback */
	void			*priv;		/* (ref) its argument */
};

static void
chain_free(struct chain *c)
{
	size_t i;

	if (c == NULL)
		return;
	if (c->items != NULL)
		for (i = 0; i < c->n; i++)
			free((char *)c->items[i].key);
	if (c->keys != NULL)
		for (i = 0; i < c->n; i++)
			free(c->keys[i]);
	free(c->items);
	free(c->keys);
	free(c->pool);
	free(c);
}

static void chain_done(struct ra_async *ra, struct ra_result *res,
	    void *priv);

/* Finish: the caller's callback with err or the total. */
static void
chain_end(struct ra_async *ra, struct chain *c, const struct ra_result *err)
{
	struct ra_result res;

	memset(&res, 0, sizeof res);
	if (err != NULL) {
		res.err = err->err;
		memcpy(res.errstr, err->errstr, RA_ERRSTR_LEN);
	} else
		res.u.integer = c->total;
	c->fn(ra, &res, c->priv);
	chain_free(c);
}

/* Send the next call of the chain; 0, or -1 with res filled. */
static int
chain_next(struct ra_async *ra, struct chain *c, struct ra_result *res)
{
	struct ra_args a;
	size_t len, batch = RA_CHUNK(ra_async_batch(ra));
	int b;

	if (c->step == STEP_CHUNKS && (c->off < c->n || (c->n == 0 &&
	    c->kind != CHAIN_ASSIGN && c->off == 0))) {
		len = c->n - c->off < batch ? c->n - c->off : batch;
		if (c->kind == CHAIN_REMOVE)
			b = ra_build_items_remove(&a, PFX, c->pool,
			    (const char *const *)c->keys + c->off, len,
			    &res->err, res->errstr);
		else
			b = ra_build_items_add(&a, PFX, c->pool, c->gen,
			    c->items + c->off, len, &res->err, res->errstr);
		c->off += len;
		if (c->n == 0)
			c->off = 1;	/* the one empty call is done */
		if (b != 0)
			return -1;
		return ra_async_call(ra, &a, ra_decode_integer, NULL,
		    chain_done, c) == 0 ? 0 : -2;
	}
	if (c->step == STEP_SWEEP) {
		if (c->kind == CHAIN_DELETE)
			b = ra_build_pool_delete(&a, PFX, c->pool, c->cursor,
			    (unsigned)batch, c->gen == 0, &res->err,
			    res->errstr);
		else
			b = ra_build_assign_sweep(&a, PFX, c->pool, c->gen,
			    c->cursor, (unsigned)batch, &res->err,
			    res->errstr);
		if (b != 0)
			return -1;
		return ra_async_call(ra, &a, ra_decode_step, NULL, chain_done,
		    c) == 0 ? 0 : -2;
	}
	return 1;	/* nothing left */
}

/* Send the next call or end the chain (after a reply or at start). */
static void
chain_advance(struct ra_async *ra, struct chain *c)
{
	struct ra_result res;
	int rc;

	memset(&res, 0, sizeof res);
	rc = chain_next(ra, c, &res);
	if (rc == 0)
		return;
	if (rc == 1 && c->kind == CHAIN_ASSIGN && c->step == STEP_CHUNKS) {
		c->step = STEP_SWEEP;
		c->cursor = 0;
		chain_advance(ra, c);
		return;
	}
	if (rc == -2)
		ra_set_error(&res.err, res.errstr, RA_ERR_BACKEND_DOWN,
		    "cannot queue the next call");
	chain_end(ra, c, rc == 1 ? NULL : &res);
}

static void
chain_done(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct chain *c = priv;
	struct ra_step step;

	if (res->err != RA_OK) {
		chain_end(ra, c, res);
		return;
	}
	switch (c->step) {
	case STEP_BEGIN:
		c->gen = res->u.integer;
		c->step = STEP_CHUNKS;
		break;
	case STEP_CHUNKS:
		if (c->kind != CHAIN_ASSIGN)
			c->total += res->u.integer;
		break;
	case STEP_SWEEP:
		step = ra_result_step(res);
		if (c->kind == CHAIN_DELETE) {
			c->gen = 1;	/* past the first step */
			c->total = step.n;
		} else
			c->total += step.n;
		c->cursor = step.cursor;
		if (c->cursor == 0) {
			chain_end(ra, c, NULL);
			return;
		}
		break;
	}
	chain_advance(ra, c);
}

/* A chain with copies of pool and items/keys; NULL when out of memory. */
static struct chain *
chain_create(enum chain_kind kind, const char *pool,
    const struct ra_item *items, const char *const *keys, size_t n,
    ra_async_fn *fn, void *priv)
{
	struct chain *c;
	size_t i;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	c->kind = kind;
	c->fn = fn;
	c->priv = priv;
	if ((c->pool = strdup(pool)) == NULL)
		goto fail;
	if (items != NULL && n > 0) {
		if ((c->items = calloc(n, sizeof *c->items)) == NULL)
			goto fail;
		for (i = 0; i < n; i++) {
			c->items[i] = items[i];
			if ((c->items[i].key = strdup(items[i].key)) == NULL)
				goto fail;
			c->n = i + 1;
		}
	}
	if (keys != NULL && n > 0) {
		if ((c->keys = calloc(n, sizeof *c->keys)) == NULL)
			goto fail;
		for (i = 0; i < n; i++) {
			if ((c->keys[i] = strdup(keys[i])) == NULL)
				goto fail;
			c->n = i + 1;
		}
	}
	return c;
fail:
	chain_free(c);
	return NULL;
}

/* Start a chain: the first call is sent now; -1 if it cannot be. */
static int
chain_start(struct ra_async *ra, struct chain *c)
{
	struct ra_args a;
	struct ra_result res;
	int rc;

	memset(&res, 0, sizeof res);
	if (c->step == STEP_BEGIN) {
		if (ra_build_assign_begin(&a, PFX, c->pool, &res.err,
		    res.errstr) != 0) {
			chain_end(ra, c, &res);
			return 0;
		}
		if (ra_async_call(ra, &a, ra_decode_integer, NULL, chain_done,
		    c) != 0) {
			chain_free(c);
			return -1;
		}
		return 0;
	}
	rc = chain_next(ra, c, &res);
	if (rc == -2) {
		chain_free(c);
		return -1;
	}
	if (rc != 0)
		chain_end(ra, c, rc == 1 ? NULL : &res);
	return 0;
}

/*
 * Check the arguments of a chained call, copy them and send its first step.
 * A bad argument is delivered through fn at once.  Returns 0, or -1 when
 * out of memory or the first call cannot be sent (fn is not called).
 */
static int
chain_launch(struct ra_async *ra, enum chain_kind kind, const char *pool,
    const struct ra_item *items, const char *const *keys, size_t n,
    ra_async_fn *fn, void *priv)
{
	struct chain *c;
	int err = 0;
	char errstr[RA_ERRSTR_LEN] = "";

	if (ra_check_key("pool name", pool, &err, errstr) != 0 ||
	    ((kind == CHAIN_ADD || kind == CHAIN_ASSIGN) &&
	    ra_check_items(items, n, &err, errstr) != 0) ||
	    (kind == CHAIN_REMOVE && ra_check_keys(keys, n, &err,
	    errstr) != 0))
		return early_error(ra, err, errstr, fn, priv);
	if ((c = chain_create(kind, pool, items, keys, n, fn, priv)) == NULL)
		return -1;
	switch (kind) {
	case CHAIN_ASSIGN:
		c->step = STEP_BEGIN;
		break;
	case CHAIN_DELETE:
		c->step = STEP_SWEEP;
		break;
	default:
		c->step = STEP_CHUNKS;
		break;
	}
	return chain_start(ra, c);
}

int
ra_async_add(struct ra_async *ra, const char *pool,
    const struct ra_item *items, size_t n, ra_async_fn *fn, void *priv)
{
	return chain_launch(ra, CHAIN_ADD, pool, items, NULL, n, fn, priv);
}

int
ra_async_remove(struct ra_async *ra, const char *pool,
    const char *const *keys, size_t n, ra_async_fn *fn, void *priv)
{
	return chain_launch(ra, CHAIN_REMOVE, pool, NULL, keys, n, fn, priv);
}

int
ra_async_assign(struct ra_async *ra, const char *pool,
    const struct ra_item *items, size_t n, ra_async_fn *fn, void *priv)
{
	return chain_launch(ra, CHAIN_ASSIGN, pool, items, NULL, n, fn, priv);
}

int
ra_async_pool_delete(struct ra_async *ra, const char *pool, ra_async_fn *fn,
    void *priv)
{
	return chain_launch(ra, CHAIN_DELETE, pool, NULL, NULL, 0, fn, priv);
}

/* ---- the invariant check: one check call per page ---- */

/* A check walk in flight. */
struct check_chain {
	char			*pool;		/* owned */
	struct ra_check_walk	 w;		/* the walk so far */
	ra_async_fn		*fn;		/* the caller's callback */
	void			*priv;		/* (ref) its argument */
};

static void check_done(struct ra_async *ra, struct ra_result *res,
	    void *priv);

/* Finish: the caller's callback with err, or the violations. */
static void
check_end(struct ra_async *ra, struct check_chain *cc,
    const struct ra_result *err)
{
	struct ra_result res;

	memset(&res, 0, sizeof res);
	if (err != NULL) {
		res.err = err->err;
		memcpy(res.errstr, err->errstr, RA_ERRSTR_LEN);
		ra_strlist_deinit(&cc->w.out);
	} else if (ra_check_walk_finish(&cc->w, &res.err, res.errstr) == 0)
		res.u.strs = cc->w.out;
	cc->fn(ra, &res, cc->priv);
	if (res.err == RA_OK)
		ra_strlist_deinit(&res.u.strs);
	free(cc->pool);
	free(cc);
}

/* Send the next page: 0, -1 with res filled (a bad argument) or -2 (not
 * queued). */
static int
check_next(struct ra_async *ra, struct check_chain *cc, struct ra_result *res)
{
	struct ra_args a;

	if (ra_build_check(&a, PFX, cc->pool, cc->w.phase, cc->w.cursor,
	    ra_async_batch(ra), &res->err, res->errstr) != 0)
		return -1;
	return ra_async_call(ra, &a, ra_decode_raw, NULL, check_done,
	    cc) == 0 ? 0 : -2;
}

static void
check_done(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct check_chain *cc = priv;
	struct ra_result e;
	int rc;

	if (res->err != RA_OK) {
		check_end(ra, cc, res);
		return;
	}
	memset(&e, 0, sizeof e);
	if (ra_check_walk_step(&cc->w, ra_result_raw(res), &e.err,
	    e.errstr) != 0) {
		check_end(ra, cc, &e);
		return;
	}
	if (cc->w.phase == 0) {
		check_end(ra, cc, NULL);
		return;
	}
	if ((rc = check_next(ra, cc, &e)) == -2)
		ra_set_error(&e.err, e.errstr, RA_ERR_BACKEND_DOWN,
		    "cannot queue the next call");
	if (rc != 0)
		check_end(ra, cc, &e);
}

int
ra_async_check_invariants(struct ra_async *ra, const char *pool,
    ra_async_fn *fn, void *priv)
{
	struct check_chain *cc;
	struct ra_result e;
	int rc;

	memset(&e, 0, sizeof e);
	if (ra_check_key("pool name", pool, &e.err, e.errstr) != 0)
		return early_error(ra, e.err, e.errstr, fn, priv);
	if ((cc = calloc(1, sizeof *cc)) == NULL)
		return -1;
	if ((cc->pool = strdup(pool)) == NULL) {
		free(cc);
		return -1;
	}
	ra_check_walk_init(&cc->w);
	cc->fn = fn;
	cc->priv = priv;
	if ((rc = check_next(ra, cc, &e)) == -2) {
		free(cc->pool);
		free(cc);
		return -1;
	}
	if (rc != 0)
		check_end(ra, cc, &e);
	return 0;
}
