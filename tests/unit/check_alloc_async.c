/*
 * check_alloc_async.c: the asynchronous allocator API on libevent against
 * a real redis-server: chained add/assign/remove, lease, renew, release,
 * the other calls, bad arguments through the callback, a lost functions
 * library, many calls in flight, corked calls gathered in batches, and
 * the invariant check walked page by page.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>

#include "ra_alloc.h"
#include "testutil.h"
#include "alloc_testutil.h"

/* The loop, the wrapper and the last result a callback saw. */
struct env {
	struct event_base	*base;
	redisAsyncContext	*ac;
	struct ra_async		*ra;
	int			 calls;		/* callbacks run */
	int			 err;		/* of the last */
	char			 errstr[RA_ERRSTR_LEN];
	long long		 integer;
	struct ra_counts	 counts;
	struct ra_lease		 lease;		/* copied, item owned */
	char			*str;		/* owned */
	size_t			 nstrs;
	size_t			 nlist;
	long long		 gc_leases;
	long long		 ended_until;	/* release, report */
	char			 ended_item[64];
};

static void
env_open(struct env *e, unsigned batch)
{
	memset(e, 0, sizeof *e);
	e->base = event_base_new();
	e->ac = redisAsyncConnectUnix(tu_redis_socket());
	ck_assert_int_eq(e->ac->err, 0);
	redisLibeventAttach(e->ac, e->base);
	e->ra = ra_async_create(e->ac, NULL, batch);
	ck_assert_ptr_nonnull(e->ra);
}

static void
env_close(struct env *e)
{
	redisAsyncFree(e->ac);
	ra_async_destroy(e->ra);
	event_base_free(e->base);
	ra_lease_deinit(&e->lease);
	free(e->str);
}

/* Run the loop until n more callbacks ran (bounded by a timeout). */
static void
env_wait(struct env *e, int n)
{
	struct timeval tv = { 0, 20000 };
	int target = e->calls + n, rounds = 0;

	while (e->calls < target) {
		event_base_loopexit(e->base, &tv);
		event_base_dispatch(e->base);
		ck_assert_int_lt(++rounds, 1500);
	}
}

/* The one callback: copy what the test looks at. */
static void
done(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct env *e = priv;

	e->calls++;
	e->err = res->err;
	memcpy(e->errstr, res->errstr, RA_ERRSTR_LEN);
	if (res->err != RA_OK)
		return;
	e->integer = res->u.integer;
}

static void
done_lease(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct env *e = priv;

	done(ra, res, priv);
	if (res->err != RA_OK)
		return;
	ra_lease_deinit(&e->lease);
	e->lease = res->u.lease;
	e->lease.item = strdup(res->u.lease.item);
}

/* release, report: u.ended */
static void
done_ended(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct env *e = priv;

	done(ra, res, priv);
	if (res->err != RA_OK)
		return;
	e->ended_until = res->u.ended.until_ms;
	snprintf(e->ended_item, sizeof e->ended_item, "%s",
	    res->u.ended.item != NULL ? res->u.ended.item : "");
}

static void
done_counts(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct env *e = priv;

	done(ra, res, priv);
	if (res->err == RA_OK)
		e->counts = res->u.counts;
}

static void
done_str(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct env *e = priv;

	done(ra, res, priv);
	free(e->str);
	e->str = NULL;
	if (res->err == RA_OK && res->u.str != NULL)
		e->str = strdup(res->u.str);
}

static void
done_strs(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct env *e = priv;

	done(ra, res, priv);
	if (res->err == RA_OK)
		e->nstrs = res->u.strs.n;
}

static void
done_list(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct env *e = priv;

	done(ra, res, priv);
	if (res->err == RA_OK)
		e->nlist = res->u.list.n;
}

static void
done_gc(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct env *e = priv;

	done(ra, res, priv);
	if (res->err == RA_OK)
		e->gc_leases = res->u.gc.leases;
}

/* n items "a0".. with priority 0. */
static struct ra_item *
make_items(size_t n, char (**keys)[16])
{
	struct ra_item *it = calloc(n, sizeof *it);
	size_t i;

	*keys = calloc(n, sizeof **keys);
	for (i = 0; i < n; i++) {
		snprintf((*keys)[i], sizeof (*keys)[i], "a%zu", i);
		it[i].key = (*keys)[i];
	}
	return it;
}

START_TEST(test_async_lease_cycle)
{
	struct ra_context *ctx = tu_connect();
	struct ra_pool_conf c;
	struct env e;
	struct ra_item *it;
	char (*keys)[16];
	char token[RA_TOKEN_LEN + 1];

	env_open(&e, 0);
	ra_pool_conf_init(&c);
	ck_assert_int_eq(ra_async_pool_create(e.ra, "p", &c, done, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, 0);
	ck_assert_int_eq(e.integer, 1);
	it = make_items(3, &keys);
	ck_assert_int_eq(ra_async_add(e.ra, "p", it, 3, done, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, 0);
	ck_assert_int_eq(e.integer, 3);
	ck_assert_int_eq(ra_async_lease(e.ra, "p", NULL, done_lease, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, 0);
	ck_assert_str_eq(e.lease.item, "a0");
	memcpy(token, e.lease.token, sizeof token);
	ck_assert_int_eq(ra_async_renew(e.ra, "p", token, 100, done, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, 0);
	ck_assert_int_gt(e.integer, e.lease.expires_ms);
	ck_assert_int_eq(ra_async_counts(e.ra, "p", done_counts, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.counts.leased, 1);
	ck_assert_int_eq(e.counts.free, 2);
	ck_assert_int_eq(ra_async_release(e.ra, "p", token, RA_OUTCOME_OK, 3,
	    done, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, 0);
	ck_assert_int_eq(ra_async_release(e.ra, "p", token, RA_OUTCOME_OK, 3,
	    done, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, RA_ERR_NOT_OWNED);
	/* bad arguments come through the callback at once */
	ck_assert_int_eq(ra_async_renew(e.ra, "p", token, -3, done, &e), 0);
	ck_assert_int_eq(e.err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_async_lease(e.ra, "", NULL, done_lease, &e), 0);
	ck_assert_int_eq(e.err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_async_lease(e.ra, "nope", NULL, done_lease, &e),
	    0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, RA_ERR_NO_SUCH_POOL);
	at_sound(ctx, "p");
	free(it);
	free(keys);
	env_close(&e);
	ra_free(ctx);
}
END_TEST

START_TEST(test_async_chunks)
{
	struct ra_context *ctx = tu_connect();
	struct ra_pool_conf c;
	struct env e;
	struct ra_item *it;
	char (*keys)[16];
	const char *rm[3] = { "a1", "a2", "zz" };
	int calls;

	/* batch 7: 50 items take 8 chunks, one callback */
	env_open(&e, 7);
	ra_pool_conf_init(&c);
	ck_assert_int_eq(ra_async_pool_create(e.ra, "p", &c, done, &e), 0);
	env_wait(&e, 1);
	it = make_items(50, &keys);
	calls = e.calls;
	ck_assert_int_eq(ra_async_add(e.ra, "p", it, 50, done, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.calls, calls + 1);
	ck_assert_int_eq(e.err, 0);
	ck_assert_int_eq(e.integer, 50);
	ck_assert_int_eq(at_counts(ctx, "p").total, 50);
	ck_assert_int_eq(ra_async_lease(e.ra, "p", NULL, done_lease, &e), 0);
	env_wait(&e, 1);
	ck_assert_str_eq(e.lease.item, "a0");
	/* assign the last 20: a0 (leased) drains, 29 go */
	ck_assert_int_eq(ra_async_assign(e.ra, "p", it + 30, 20, done, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, 0);
	ck_assert_int_eq(e.integer, 30);
	{
		struct ra_counts n = at_counts(ctx, "p");

		ck_assert_int_eq(n.total, 21);
		ck_assert_int_eq(n.draining, 1);
		ck_assert_int_eq(n.free, 20);
	}
	at_sound(ctx, "p");
	rm[0] = "a31";
	rm[1] = "a32";
	ck_assert_int_eq(ra_async_remove(e.ra, "p", rm, 3, done, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, 0);
	ck_assert_int_eq(e.integer, 2);
	/* a bad item rejects the whole add before anything is sent */
	it[10].key = "";
	ck_assert_int_eq(ra_async_add(e.ra, "p", it, 50, done, &e), 0);
	ck_assert_int_eq(e.err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_async_assign(e.ra, "p", it, 50, done, &e), 0);
	ck_assert_int_eq(e.err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(at_counts(ctx, "p").total, 19);
	/* chains report errors once */
	calls = e.calls;
	ck_assert_int_eq(ra_async_assign(e.ra, "nope", it + 30, 20, done, &e),
	    0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.calls, calls + 1);
	ck_assert_int_eq(e.err, RA_ERR_NO_SUCH_POOL);
	ck_assert_int_eq(ra_async_add(e.ra, "nope", it + 30, 20, done, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, RA_ERR_NO_SUCH_POOL);
	at_sound(ctx, "p");
	ck_assert_int_eq(ra_async_pool_delete(e.ra, "p", done, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, 0);
	ck_assert_int_eq(e.integer, 1);		/* a0 still draining */
	free(it);
	free(keys);
	env_close(&e);
	ra_free(ctx);
}
END_TEST

START_TEST(test_async_other_calls)
{
	struct ra_context *ctx = tu_connect();
	struct env e;
	redisContext *rc;

	at_pool(ctx, "p", 0, 0, 3);
	env_open(&e, 0);
	rc = tu_redis();
	freeReplyObject(redisCommand(rc, "FUNCTION FLUSH"));
	redisFree(rc);
	ck_assert_int_eq(ra_async_bind(e.ra, "p", "n", "item-001", 0, done,
	    &e), 0);
	env_wait(&e, 1);
	ck_assert_msg(e.err == 0, "bind: %s", e.errstr);
	ck_assert_int_eq(ra_async_binding(e.ra, "p", "n", done_str, &e), 0);
	env_wait(&e, 1);
	ck_assert_str_eq(e.str, "item-001");
	ck_assert_int_eq(ra_async_bindings(e.ra, "p", "item-001", done_strs,
	    &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.nstrs, 1);
	ck_assert_int_eq(ra_async_unbind(e.ra, "p", "n", done, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.integer, 1);
	ck_assert_int_eq(ra_async_binding(e.ra, "p", "n", done_str, &e), 0);
	env_wait(&e, 1);
	ck_assert_ptr_null(e.str);
	ck_assert_int_eq(ra_async_report(e.ra, "p", "item-002",
	    RA_OUTCOME_BANNED, -1, done_ended, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, 0);
	/* the ban is answered: its end and the item */
	ck_assert_int_gt(e.ended_until, 0);
	ck_assert_str_eq(e.ended_item, "item-002");
	ck_assert_int_eq(ra_async_report(e.ra, "p", "item-001",
	    RA_OUTCOME_OK, -1, done_ended, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, 0);
	ck_assert_int_eq(e.ended_until, 0);
	ck_assert_str_eq(e.ended_item, "");
	ck_assert_int_eq(ra_async_quarantine(e.ra, "p", "item-000", 5, done,
	    &e), 0);
	env_wait(&e, 1);
	ck_assert_int_gt(e.integer, 0);
	ck_assert_int_eq(ra_async_list(e.ra, "p", RA_STATE_QUARANTINED, 0, 10,
	    done_list, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.nlist, 2);
	ck_assert_int_eq(ra_async_gc(e.ra, "p", 10, done_gc, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, 0);
	ck_assert_int_eq(e.gc_leases, 0);
	ck_assert_int_eq(ra_async_pools(e.ra, done_strs, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.nstrs, 1);
	ck_assert_int_eq(ra_async_pool_get(e.ra, "p", done, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, 0);
	at_sound(ctx, "p");
	env_close(&e);
	ra_free(ctx);
}
END_TEST

/* Many leases in flight at once: each item handed out once. */
struct burst {
	struct env	*e;
	char		 seen[200];	/* per item index */
	int		 dup;
	int		 ok;
};

static void
burst_done(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct burst *b = priv;
	int idx;

	b->e->calls++;
	if (res->err != RA_OK) {
		b->e->err = res->err;
		return;
	}
	idx = atoi(res->u.lease.item + 1);
	if (b->seen[idx]++)
		b->dup++;
	b->ok++;
}

START_TEST(test_async_in_flight)
{
	struct ra_context *ctx = tu_connect();
	struct ra_pool_conf c;
	struct env e;
	struct burst b;
	struct ra_item *it;
	char (*keys)[16];
	int i;

	env_open(&e, 0);
	ra_pool_conf_init(&c);
	ck_assert_int_eq(ra_pool_create(ctx, "p", &c), 0);
	it = make_items(150, &keys);
	ck_assert_int_eq(ra_add(ctx, "p", it, 150), 0);
	memset(&b, 0, sizeof b);
	b.e = &e;
	for (i = 0; i < 200; i++)
		ck_assert_int_eq(ra_async_lease(e.ra, "p", NULL, burst_done,
		    &b), 0);
	env_wait(&e, 200);
	ck_assert_int_eq(b.ok, 150);
	ck_assert_int_eq(b.dup, 0);
	ck_assert_int_eq(e.err, RA_ERR_EMPTY);
	at_sound(ctx, "p");
	free(it);
	free(keys);
	env_close(&e);
	ra_free(ctx);
}
END_TEST

/* Function calls Redis ran so far (INFO commandstats). */
static long long
fcalls(void)
{
	redisContext *rc = tu_redis();
	redisReply *r = redisCommand(rc, "INFO commandstats");
	const char *p;
	long long n = -1;

	ck_assert_ptr_nonnull(r);
	if ((p = strstr(r->str, "cmdstat_fcall:calls=")) != NULL)
		n = atoll(p + strlen("cmdstat_fcall:calls="));
	freeReplyObject(r);
	redisFree(rc);
	return n < 0 ? 0 : n;
}

/* Results of corked calls, one slot per call. */
struct corked {
	struct env	*e;
	int		 err[64];
	char		 item[64][16];
	char		 token[64][RA_TOKEN_LEN + 1];
	int		 done[64];
};

static struct corked_op {
	struct corked	*c;
	int		 i;
} ops[64];

/* Run the loop once, for 20 ms. */
static void
env_spin(struct env *e)
{
	struct timeval tv = { 0, 20000 };

	event_base_loopexit(e->base, &tv);
	event_base_dispatch(e->base);
}

static void
corked_done(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct corked_op *o = priv;
	struct corked *c = o->c;

	c->e->calls++;
	c->done[o->i]++;
	c->err[o->i] = res->err;
}

static void
corked_lease(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct corked_op *o = priv;

	corked_done(ra, res, priv);
	if (res->err != RA_OK)
		return;
	snprintf(o->c->item[o->i], sizeof o->c->item[o->i], "%s",
	    res->u.lease.item);
	memcpy(o->c->token[o->i], res->u.lease.token, RA_TOKEN_LEN + 1);
}

static void *
op(struct corked *c, int i)
{
	ops[i].c = c;
	ops[i].i = i;
	return &ops[i];
}

START_TEST(test_async_cork)
{
	struct ra_context *ctx = tu_connect();
	struct ra_pool_conf conf;
	struct corked c;
	struct env e;
	struct ra_item *it;
	char (*keys)[16];
	redisContext *rc;
	long long f0;
	char banned[16];
	int i, j;

	env_open(&e, 0);
	ra_pool_conf_init(&conf);
	ck_assert_int_eq(ra_pool_create(ctx, "p", &conf), 0);
	ck_assert_int_eq(ra_pool_create(ctx, "q", &conf), 0);
	it = make_items(50, &keys);
	ck_assert_int_eq(ra_add(ctx, "p", it, 50), 0);
	ck_assert_int_eq(ra_add(ctx, "q", it, 2), 0);
	memset(&c, 0, sizeof c);
	c.e = &e;

	/* three leases of p in one call, q's lease alone, each answered
	 * as if sent alone; a stale renewal fails by itself */
	f0 = fcalls();
	ra_async_cork(e.ra);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(ra_async_lease(e.ra, "p", NULL, corked_lease,
		    op(&c, i)), 0);
	ck_assert_int_eq(ra_async_lease(e.ra, "q", NULL, corked_lease,
	    op(&c, 3)), 0);
	ck_assert_int_eq(ra_async_renew(e.ra, "p", "0123456789abcdef0123"
	    "456789abcdef", 10, corked_done, op(&c, 4)), 0);
	env_spin(&e);
	ck_assert_int_eq(e.calls, 0);		/* nothing sent yet */
	ra_async_uncork(e.ra);
	env_wait(&e, 5);
	ck_assert_int_eq(fcalls() - f0, 2);
	for (i = 0; i < 4; i++)
		ck_assert_msg(c.err[i] == 0 && c.done[i] == 1, "op %d: %d", i,
		    c.err[i]);
	ck_assert_str_eq(c.item[0], "a0");
	ck_assert_str_eq(c.item[1], "a1");
	ck_assert_str_eq(c.item[2], "a2");
	ck_assert_str_eq(c.item[3], "a0");
	ck_assert_int_eq(c.err[4], RA_ERR_NOT_OWNED);
	ck_assert_int_eq(at_counts(ctx, "p").leased, 3);

	/* a release, a renewal and a lease of p together */
	memset(c.done, 0, sizeof c.done);
	ra_async_cork(e.ra);
	ck_assert_int_eq(ra_async_release(e.ra, "p", c.token[0],
	    RA_OUTCOME_OK, 5, corked_done, op(&c, 0)), 0);
	ck_assert_int_eq(ra_async_renew(e.ra, "p", c.token[1], 30, corked_done,
	    op(&c, 1)), 0);
	ck_assert_int_eq(ra_async_lease(e.ra, "p", NULL, corked_lease,
	    op(&c, 5)), 0);
	/* any other call sends what is held first: counts sees it done */
	ck_assert_int_eq(ra_async_counts(e.ra, "p", done_counts, &e), 0);
	env_wait(&e, 4);
	ck_assert_int_eq(c.done[0] + c.done[1] + c.done[5], 3);
	ck_assert_int_eq(c.err[0] + c.err[1] + c.err[5], 0);
	ck_assert_str_eq(c.item[5], "a3");
	ck_assert_int_eq(e.counts.leased, 3);
	ra_async_uncork(e.ra);
	at_sound(ctx, "p");

	/* a release of a batch that bans its item answers the ban (the
	 * end of the quarantine and the item) like a release on its own */
	snprintf(banned, sizeof banned, "%s", c.item[1]);
	ck_assert_str_ne(banned, "");
	ra_async_cork(e.ra);
	ck_assert_int_eq(ra_async_release(e.ra, "p", c.token[1],
	    RA_OUTCOME_BANNED, -1, done_ended, &e), 0);
	ck_assert_int_eq(ra_async_lease(e.ra, "p", NULL, corked_lease,
	    op(&c, 1)), 0);
	ra_async_uncork(e.ra);
	env_wait(&e, 2);
	ck_assert_int_eq(c.err[1], 0);
	ck_assert_int_gt(e.ended_until, 0);
	ck_assert_str_eq(e.ended_item, banned);
	ck_assert_int_eq(at_counts(ctx, "p").quarantined, 1);
	ck_assert_int_eq(ra_quarantine(ctx, "p", e.ended_item, 0), 0);
	ck_assert_int_eq(at_counts(ctx, "p").quarantined, 0);

	/* past RA_CORK_MAX a call goes at once; every lease distinct */
	f0 = fcalls();
	ra_async_cork(e.ra);
	for (i = 0; i < 40; i++)
		ck_assert_int_eq(ra_async_lease(e.ra, "p", NULL, corked_lease,
		    op(&c, 10 + i)), 0);
	env_wait(&e, RA_CORK_MAX);	/* the first RA_CORK_MAX, corked */
	ck_assert_int_eq(fcalls() - f0, 1);
	for (i = 10, j = 0; i < 50; i++)
		j += c.done[i];
	ck_assert_int_eq(j, RA_CORK_MAX);
	ra_async_uncork(e.ra);
	env_wait(&e, 40 - RA_CORK_MAX);
	ck_assert_int_eq(fcalls() - f0, 2);
	for (i = 10; i < 50; i++) {
		ck_assert_msg(c.err[i] == 0, "lease %d: %d", i, c.err[i]);
		for (j = 10; j < i; j++)
			ck_assert_str_ne(c.item[i], c.item[j]);
	}
	ck_assert_int_eq(at_counts(ctx, "p").leased, 43);
	at_sound(ctx, "p");

	/* the error of the whole call reaches each; a lost library is
	 * loaded again and the batch sent once more */
	ra_async_cork(e.ra);
	ck_assert_int_eq(ra_async_lease(e.ra, "nope", NULL, corked_lease,
	    op(&c, 0)), 0);
	ck_assert_int_eq(ra_async_lease(e.ra, "nope", NULL, corked_lease,
	    op(&c, 1)), 0);
	ra_async_uncork(e.ra);
	env_wait(&e, 2);
	ck_assert_int_eq(c.err[0], RA_ERR_NO_SUCH_POOL);
	ck_assert_int_eq(c.err[1], RA_ERR_NO_SUCH_POOL);
	rc = tu_redis();
	freeReplyObject(redisCommand(rc, "FUNCTION FLUSH"));
	redisFree(rc);
	ra_async_cork(e.ra);
	ck_assert_int_eq(ra_async_release(e.ra, "p", c.token[10],
	    RA_OUTCOME_NONE, -1, corked_done, op(&c, 0)), 0);
	ck_assert_int_eq(ra_async_lease(e.ra, "p", NULL, corked_lease,
	    op(&c, 1)), 0);
	ra_async_uncork(e.ra);
	env_wait(&e, 2);
	ck_assert_int_eq(c.err[0], 0);
	ck_assert_int_eq(c.err[1], 0);
	ck_assert_int_eq(at_counts(ctx, "p").leased, 43);

	/* a malformed operation list is refused whole, before anything */
	rc = tu_redis();
	{
		static const char *bad[] = {
			"lease", "renew x", "release 0123456789abcdef OK",
			"lease 0123456789abcdef -1 -1 '' -1 '' 0 nope"
		};
		char cmd[512];
		redisReply *r;

		for (i = 0; i < 4; i++) {
			snprintf(cmd, sizeof cmd, "FCALL %s 12 {ra:p}:meta "
			    "{ra:p}:items {ra:p}:free {ra:p}:shared {ra:p}:leases "
			    "{ra:p}:lease {ra:p}:quarantine {ra:p}:bind "
			    "{ra:p}:bindexp {ra:p}:bindrev {ra:p}:itemexp "
			    "{ra:p}:fence %s", ra_functions[RA_FN_BATCH].name,
			    bad[i]);
			r = redisCommand(rc, cmd);
			ck_assert_ptr_nonnull(r);
			ck_assert_msg(r->type == REDIS_REPLY_ERROR &&
			    strncmp(r->str, "BAD_ARGUMENT", 12) == 0,
			    "%s: %s", bad[i], r->type == REDIS_REPLY_ERROR ?
			    r->str : "not an error");
			freeReplyObject(r);
		}
	}
	redisFree(rc);
	ck_assert_int_eq(at_counts(ctx, "p").leased, 43);

	/* a pool being deleted: leases refused, releases still done */
	ck_assert_int_eq(ra_pool_delete(ctx, "q"), 0);
	ra_async_cork(e.ra);
	ck_assert_int_eq(ra_async_lease(e.ra, "q", NULL, corked_lease,
	    op(&c, 0)), 0);
	ck_assert_int_eq(ra_async_release(e.ra, "q", c.token[3],
	    RA_OUTCOME_OK, -1, corked_done, op(&c, 1)), 0);
	ra_async_uncork(e.ra);
	env_wait(&e, 2);
	ck_assert_int_eq(c.err[0], RA_ERR_NO_SUCH_POOL);
	ck_assert_int_eq(c.err[1], 0);

	/* destroyed while holding: each told, nothing sent */
	memset(c.done, 0, sizeof c.done);
	f0 = fcalls();
	ra_async_cork(e.ra);
	ck_assert_int_eq(ra_async_lease(e.ra, "p", NULL, corked_lease,
	    op(&c, 0)), 0);
	ck_assert_int_eq(ra_async_lease(e.ra, "p", NULL, corked_lease,
	    op(&c, 1)), 0);
	ra_async_destroy(e.ra);
	e.ra = NULL;
	ck_assert_int_eq(c.done[0] + c.done[1], 2);
	ck_assert_int_eq(c.err[0], RA_ERR_BACKEND_DOWN);
	ck_assert_int_eq(c.err[1], RA_ERR_BACKEND_DOWN);
	ck_assert_int_eq(fcalls() - f0, 0);
	at_sound(ctx, "p");
	free(it);
	free(keys);
	env_close(&e);
	ra_free(ctx);
}
END_TEST

/* FCALL and FCALL_RO calls Redis has run so far. */
static long long
fcall_count(redisContext *rc)
{
	redisReply *r = redisCommand(rc, "INFO commandstats");
	const char *names[] = { "cmdstat_fcall:calls=",
	    "cmdstat_fcall_ro:calls=" };
	long long n = 0;
	const char *p;
	size_t i;

	ck_assert_ptr_nonnull(r);
	for (i = 0; i < 2; i++)
		if ((p = strstr(r->str, names[i])) != NULL)
			n += atoll(p + strlen(names[i]));
	freeReplyObject(r);
	return n;
}

START_TEST(test_async_check)
{
	struct ra_context *ctx = tu_connect();
	redisContext *rc = tu_redis();
	struct ra_strlist v;
	struct ra_pool_conf c;
	struct env e;
	struct ra_item *it;
	char (*keys)[16];
	long long before;

	/* batch 7: the 300 items (a hash past the listpack encoding, which
	 * a scan returns whole) are walked in pages of about 7, a call each */
	env_open(&e, 7);
	ra_pool_conf_init(&c);
	ck_assert_int_eq(ra_async_pool_create(e.ra, "p", &c, done, &e), 0);
	env_wait(&e, 1);
	it = make_items(300, &keys);
	ck_assert_int_eq(ra_async_add(e.ra, "p", it, 300, done, &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, RA_OK);
	before = fcall_count(rc);
	ck_assert_int_eq(ra_async_check_invariants(e.ra, "p", done_strs, &e),
	    0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, RA_OK);
	ck_assert_uint_eq(e.nstrs, 0);
	/* 11 phases, the items' one of several pages */
	ck_assert_int_ge(fcall_count(rc) - before, 11 + 300 / 7 / 2);
	/* damage: a free item out of the free set, as the sync check sees */
	freeReplyObject(redisCommand(rc, "ZREM {ra:p}:free a3"));
	freeReplyObject(redisCommand(rc, "HSET {ra:p}:bind m missing"));
	ck_assert_int_eq(ra_check_invariants(ctx, "p", &v), 0);
	ck_assert_uint_ge(v.n, 2);
	ck_assert_int_eq(ra_async_check_invariants(e.ra, "p", done_strs, &e),
	    0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, RA_OK);
	ck_assert_uint_eq(e.nstrs, v.n);
	ra_strlist_deinit(&v);
	/* no pool, bad name */
	ck_assert_int_eq(ra_async_check_invariants(e.ra, "nope", done_strs,
	    &e), 0);
	env_wait(&e, 1);
	ck_assert_int_eq(e.err, RA_ERR_NO_SUCH_POOL);
	ck_assert_int_eq(ra_async_check_invariants(e.ra, "", done_strs, &e),
	    0);
	ck_assert_int_eq(e.err, RA_ERR_BAD_ARGUMENT);
	free(it);
	free(keys);
	env_close(&e);
	redisFree(rc);
	ra_free(ctx);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("alloc_async");
	TCase *tc;

	tc = tcase_create("calls");
	tcase_add_test(tc, test_async_lease_cycle);
	tcase_add_test(tc, test_async_other_calls);
	suite_add_tcase(s, tc);
	tc = tcase_create("chains");
	tcase_add_test(tc, test_async_chunks);
	tcase_add_test(tc, test_async_in_flight);
	tcase_add_test(tc, test_async_cork);
	tcase_add_test(tc, test_async_check);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
