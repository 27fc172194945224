/*
 * check_alloc.c: the resource allocator against a real redis-server:
 * lease order, tokens and fences, expiry without gc, shared leases,
 * soft binding, health and ejection, bulk changes, bad input, a lost
 * functions library, and the invariant check after every test and a
 * randomized run.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ra_alloc.h"
#include "testutil.h"
#include "alloc_testutil.h"

/* Lease with the defaults (or shared), asserting success. */
static void
lease_ok(struct ra_context *ctx, const char *pool, int shared,
    struct ra_lease *l)
{
	struct ra_lease_req req;

	ra_lease_req_init(&req);
	req.shared = shared;
	ck_assert_msg(ra_lease(ctx, pool, &req, l) == 0, "lease: %s %s",
	    ra_strerror(ctx->err), ctx->errstr);
}

/* Lease expecting err. */
static void
lease_fails(struct ra_context *ctx, const char *pool, int err)
{
	struct ra_lease l;

	ck_assert_int_eq(ra_lease(ctx, pool, NULL, &l), -1);
	ck_assert_msg(ctx->err == err, "expected %s, got %s (%s)",
	    ra_strerror(err), ra_strerror(ctx->err), ctx->errstr);
}

START_TEST(test_lease_order)
{
	struct ra_context *ctx = tu_connect();
	struct ra_item it[] = {
		{ "a", 1, 0 }, { "b", 0, 0 }, { "c", 0, 0 }, { "d", 2, 0 }
	};
	const char *want[] = { "b", "c", "a", "d" };
	struct ra_lease l[4], x;
	int i;

	at_pool(ctx, "p", 0, 0, 0);
	ck_assert_int_eq(ra_add(ctx, "p", it, 4), 0);
	for (i = 0; i < 4; i++) {
		lease_ok(ctx, "p", -1, &l[i]);
		ck_assert_str_eq(l[i].item, want[i]);
		ck_assert_int_eq(strlen(l[i].token), RA_TOKEN_LEN);
		if (i > 0)
			ck_assert_int_gt(l[i].fence, l[i - 1].fence);
	}
	lease_fails(ctx, "p", RA_ERR_EMPTY);
	/* back in the order released: c before b (least recently used) */
	ck_assert_int_eq(ra_release(ctx, "p", l[1].token, RA_OUTCOME_OK, -1),
	    0);
	ck_assert_int_eq(ra_release(ctx, "p", l[0].token, RA_OUTCOME_OK, -1),
	    0);
	ck_assert_int_eq(ra_release(ctx, "p", l[2].token, RA_OUTCOME_NONE,
	    -1), 0);
	lease_ok(ctx, "p", -1, &x);
	ck_assert_str_eq(x.item, "c");
	ra_lease_deinit(&x);
	lease_ok(ctx, "p", -1, &x);
	ck_assert_str_eq(x.item, "b");
	ra_lease_deinit(&x);
	lease_ok(ctx, "p", -1, &x);
	ck_assert_str_eq(x.item, "a");
	ra_lease_deinit(&x);
	at_sound(ctx, "p");
	for (i = 0; i < 4; i++)
		ra_lease_deinit(&l[i]);
	ra_free(ctx);
}
END_TEST

START_TEST(test_tokens)
{
	struct ra_context *ctx = tu_connect();
	struct ra_lease l, m;
	struct ra_counts c;
	long long exp, exp2;
	char *before, *after;

	at_pool(ctx, "p", 0, 0, 2);
	lease_ok(ctx, "p", -1, &l);
	ck_assert_int_gt(l.expires_ms, at_redis_ms() + 55000);
	ck_assert_int_eq(l.shared, 0);
	ck_assert_int_eq(l.bound, 0);
	c = at_counts(ctx, "p");
	ck_assert_int_eq(c.total, 2);
	ck_assert_int_eq(c.free, 1);
	ck_assert_int_eq(c.leased, 1);
	ck_assert_int_eq(c.leases, 1);
	/* a stale token changes nothing */
	before = at_snapshot();
	ck_assert_int_eq(ra_renew(ctx, "p", "0123456789abcdef0123456789abcdef",
	    10, &exp), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_OWNED);
	ck_assert_int_eq(ra_release(ctx, "p",
	    "0123456789abcdef0123456789abcdef", RA_OUTCOME_FAILED, 5), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_OWNED);
	after = at_snapshot();
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	ck_assert_int_eq(ra_renew(ctx, "p", l.token, 300, &exp), 0);
	ck_assert_int_gt(exp, l.expires_ms);
	ck_assert_int_eq(ra_renew(ctx, "p", l.token, 1, &exp2), 0);
	ck_assert_int_lt(exp2, exp);
	ck_assert_int_eq(ra_release(ctx, "p", l.token, RA_OUTCOME_OK, 12), 0);
	ck_assert_int_eq(ra_release(ctx, "p", l.token, RA_OUTCOME_OK, 12), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_OWNED);
	ck_assert_int_eq(ra_renew(ctx, "p", l.token, 1, &exp2), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_OWNED);
	/* the item went back and can be leased with a new token */
	lease_ok(ctx, "p", -1, &m);
	ck_assert_str_ne(m.token, l.token);
	ck_assert_int_gt(m.fence, l.fence);
	c = at_counts(ctx, "p");
	ck_assert_int_eq(c.leases, 1);
	at_sound(ctx, "p");
	ra_lease_deinit(&l);
	ra_lease_deinit(&m);
	ra_free(ctx);
}
END_TEST

/* A lost fence counter (a Redis without persistence restarted, a key
 * lost) starts again from the Redis clock, so fences still grow. */
START_TEST(test_fence_survives_data_loss)
{
	struct ra_context *ctx = tu_connect();
	redisContext *rc = tu_redis();
	struct ra_lease l, m;
	long long t0, f1, f2;

	at_pool(ctx, "p", 0, 0, 2);
	t0 = at_redis_ms();
	lease_ok(ctx, "p", -1, &l);
	ck_assert_int_ge(l.fence, t0 * 1000);
	/* a restart takes longer than a millisecond */
	while (at_redis_ms() <= l.fence / 1000)
		;
	freeReplyObject(redisCommand(rc, "DEL {ra:p}:fence"));
	lease_ok(ctx, "p", -1, &m);
	ck_assert_int_gt(m.fence, l.fence);
	ck_assert_int_le(m.fence, (at_redis_ms() + 1) * 1000);
	/* the lock's counter too */
	ck_assert_int_eq(ra_lock(ctx, "fl", "A", 5, &f1), 0);
	ck_assert_int_eq(ra_unlock(ctx, "fl", "A"), 0);
	while (at_redis_ms() <= f1 / 1000)
		;
	freeReplyObject(redisCommand(rc, "DEL {ra:lock:fl}:fence"));
	ck_assert_int_eq(ra_lock(ctx, "fl", "A", 5, &f2), 0);
	ck_assert_int_gt(f2, f1);
	ck_assert_int_eq(ra_release(ctx, "p", l.token, RA_OUTCOME_OK, -1), 0);
	/* Redis drops the connection (CLIENT KILL, a restart): the next
	 * call connects again before it sends, and succeeds */
	freeReplyObject(redisCommand(rc, "CLIENT KILL TYPE normal SKIPME yes"));
	ck_assert_int_eq(ra_release(ctx, "p", m.token, RA_OUTCOME_OK, -1), 0);
	at_sound(ctx, "p");
	ra_lease_deinit(&l);
	ra_lease_deinit(&m);
	redisFree(rc);
	ra_free(ctx);
}
END_TEST

START_TEST(test_expiry_without_gc)
{
	struct ra_context *ctx = tu_connect();
	struct ra_lease_req req;
	struct ra_lease l, m;
	long long t0;
	int tries = 0;

	at_pool(ctx, "p", 0, 0, 1);
	ra_lease_req_init(&req);
	req.ttl = 0.1;
	ck_assert_int_eq(ra_lease(ctx, "p", &req, &l), 0);
	t0 = at_redis_ms();
	lease_fails(ctx, "p", RA_ERR_EMPTY);
	/* no gc: the lease path reclaims it once its 100 ms are over */
	while (ra_lease(ctx, "p", &req, &m) != 0) {
		ck_assert_int_eq(ctx->err, RA_ERR_EMPTY);
		ck_assert_int_lt(++tries, 200);
		at_sleep_ms(10);
	}
	ck_assert_int_ge(at_redis_ms() - t0, 80);
	ck_assert_str_eq(m.item, l.item);
	ck_assert_int_eq(ra_renew(ctx, "p", l.token, 1, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_OWNED);
	ck_assert_int_eq(ra_release(ctx, "p", l.token, RA_OUTCOME_OK, -1), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_OWNED);
	at_sound(ctx, "p");
	/* an expired lease not yet reclaimed cannot be renewed either */
	at_sleep_ms(150);
	ck_assert_int_eq(ra_renew(ctx, "p", m.token, 10, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_OWNED);
	ck_assert_int_eq(at_counts(ctx, "p").free, 1);
	at_sound(ctx, "p");
	ra_lease_deinit(&l);
	ra_lease_deinit(&m);
	ra_free(ctx);
}
END_TEST

START_TEST(test_pool_settings)
{
	struct ra_context *ctx = tu_connect();
	struct ra_pool_conf c, g;
	struct ra_strlist pools;

	ck_assert_int_eq(ra_pool_get(ctx, "nope", &g), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NO_SUCH_POOL);
	lease_fails(ctx, "nope", RA_ERR_NO_SUCH_POOL);
	ra_pool_conf_init(&c);
	c.shared = 1;
	c.max_shares = 3;
	c.lease_ttl = 1.5;
	c.bind_ttl = 0;
	c.eject_failures = 2;
	ck_assert_int_eq(ra_pool_create(ctx, "b", &c), 0);
	ck_assert_int_eq(ra_pool_create(ctx, "a", &c), 0);
	ck_assert_int_eq(ra_pool_get(ctx, "b", &g), 0);
	ck_assert_int_eq(g.shared, 1);
	ck_assert_int_eq(g.max_shares, 3);
	ck_assert(fabs(g.lease_ttl - 1.5) < 1e-9);
	ck_assert(g.bind_ttl == 0);
	ck_assert_int_eq(g.eject_failures, 2);
	ck_assert(fabs(g.ban_time - 600) < 1e-9);
	ck_assert_int_eq(ra_pools(ctx, &pools), 0);
	ck_assert_int_eq(pools.n, 2);
	ck_assert_str_eq(pools.v[0], "a");
	ck_assert_str_eq(pools.v[1], "b");
	ra_strlist_deinit(&pools);
	ck_assert_int_eq(ra_pool_delete(ctx, "a"), 0);
	ck_assert_int_eq(ra_pools(ctx, &pools), 0);
	ck_assert_int_eq(pools.n, 1);
	ra_strlist_deinit(&pools);
	ck_assert_int_eq(ra_pool_get(ctx, "a", &g), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NO_SUCH_POOL);
	ra_free(ctx);
}
END_TEST

START_TEST(test_shared)
{
	struct ra_context *ctx = tu_connect();
	struct ra_lease l[7];
	struct ra_counts c;
	int i, n0 = 0, n1 = 0;

	at_pool(ctx, "s", 1, 3, 2);
	/* fewest holders first: alternates between the two items */
	for (i = 0; i < 6; i++) {
		lease_ok(ctx, "s", -1, &l[i]);
		ck_assert_int_eq(l[i].shared, 1);
		if (strcmp(l[i].item, "item-000") == 0)
			n0++;
		else
			n1++;
		ck_assert_int_le(abs(n0 - n1), 1);
	}
	ck_assert_int_eq(n0, 3);
	ck_assert_int_eq(n1, 3);
	/* max_shares 3 reached on both */
	lease_fails(ctx, "s", RA_ERR_EMPTY);
	c = at_counts(ctx, "s");
	ck_assert_int_eq(c.shared, 2);
	ck_assert_int_eq(c.leases, 6);
	ck_assert_int_eq(c.free, 0);
	at_sound(ctx, "s");
	/* one released: that item has room again */
	ck_assert_int_eq(ra_release(ctx, "s", l[0].token, RA_OUTCOME_OK, -1),
	    0);
	lease_ok(ctx, "s", -1, &l[6]);
	ck_assert_str_eq(l[6].item, l[0].item);
	/* an exclusive lease never takes a shared item */
	lease_fails(ctx, "s", RA_ERR_EMPTY);
	{
		struct ra_lease_req req;
		struct ra_lease x;

		ra_lease_req_init(&req);
		req.shared = 0;
		ck_assert_int_eq(ra_lease(ctx, "s", &req, &x), -1);
		ck_assert_int_eq(ctx->err, RA_ERR_EMPTY);
	}
	for (i = 1; i < 7; i++)
		ck_assert_int_eq(ra_release(ctx, "s", l[i].token,
		    RA_OUTCOME_NONE, -1), 0);
	c = at_counts(ctx, "s");
	ck_assert_int_eq(c.free, 2);
	ck_assert_int_eq(c.shared, 0);
	ck_assert_int_eq(c.leases, 0);
	at_sound(ctx, "s");
	for (i = 0; i < 7; i++)
		ra_lease_deinit(&l[i]);
	ra_free(ctx);
}
END_TEST

START_TEST(test_shared_prefers_class_then_holders)
{
	struct ra_context *ctx = tu_connect();
	struct ra_item it[] = { { "good", 0, 0 }, { "bad", 5, 0 } };
	struct ra_lease l[4];
	int i;

	at_pool(ctx, "s", 1, 0, 0);
	ck_assert_int_eq(ra_add(ctx, "s", it, 2), 0);
	/* unlimited shares: the better class keeps winning */
	for (i = 0; i < 4; i++) {
		lease_ok(ctx, "s", -1, &l[i]);
		ck_assert_str_eq(l[i].item, "good");
	}
	ck_assert_int_eq(at_counts(ctx, "s").leases, 4);
	at_sound(ctx, "s");
	for (i = 0; i < 4; i++)
		ra_lease_deinit(&l[i]);
	ra_free(ctx);
}
END_TEST

START_TEST(test_bad_input)
{
	struct ra_context *ctx = tu_connect();
	struct ra_lease_req req;
	struct ra_lease l, scratch;
	struct ra_item bad[2] = { { "ok", 0, 0 }, { "", 0, 0 } };
	char big[RA_KEY_MAX + 2];
	char *before, *after;
	redisContext *rc;
	redisReply *r;

	at_pool(ctx, "p", 0, 0, 3);
	/* no items: nothing happens, but the pool must exist */
	ck_assert_msg(ra_add(ctx, "p", NULL, 0) == 0, "%s", ctx->errstr);
	ck_assert_int_eq(ra_add(ctx, "nope", NULL, 0), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NO_SUCH_POOL);
	lease_ok(ctx, "p", -1, &l);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	before = at_snapshot();
	/* C side checks */
	ck_assert_int_eq(ra_add(ctx, "p", bad, 2), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(ctx->errstr, "empty"));
	bad[1].key = big;
	ck_assert_int_eq(ra_add(ctx, "p", bad, 2), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(ctx->errstr, "over"));
	bad[1].key = "fine";
	bad[1].expires = -1;
	ck_assert_int_eq(ra_add(ctx, "p", bad, 2), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	bad[1].expires = NAN;
	ck_assert_int_eq(ra_add(ctx, "p", bad, 2), -1);
	bad[1].expires = 0;
	bad[1].priority = 1 << 20;
	ck_assert_int_eq(ra_add(ctx, "p", bad, 2), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_assign(ctx, "p", bad, 2), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ra_lease_req_init(&req);
	req.ttl = -5;
	ck_assert_int_eq(ra_lease(ctx, "p", &req, &scratch), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	req.ttl = NAN;
	ck_assert_int_eq(ra_lease(ctx, "p", &req, &scratch), -1);
	req.ttl = 1e12;
	ck_assert_int_eq(ra_lease(ctx, "p", &req, &scratch), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	req.ttl = RA_TTL_DEFAULT;
	req.name = "";
	ck_assert_int_eq(ra_lease(ctx, "p", &req, &scratch), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_lease(ctx, "", NULL, &scratch), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_lease(ctx, big, NULL, &scratch), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_renew(ctx, "p", l.token, -1.5, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_renew(ctx, "p", l.token, INFINITY, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_renew(ctx, "p", "not-hex", 1, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_release(ctx, "p", l.token, 42, -1), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_bind(ctx, "p", "n", "", 1), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_quarantine(ctx, "p", "item-000", -1), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_add(ctx, "nosuch", bad, 1), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NO_SUCH_POOL);
	/* the functions check too, for callers other than this library */
	rc = tu_redis();
	r = redisCommand(rc, "FCALL %s 12 {ra:p}:meta {ra:p}:items "
	    "{ra:p}:free {ra:p}:shared {ra:p}:leases {ra:p}:lease "
	    "{ra:p}:quarantine {ra:p}:bind {ra:p}:bindexp {ra:p}:bindrev "
	    "{ra:p}:itemexp {ra:p}:fence 0 good 0 0 %b 0 0",
	    ra_functions[RA_FN_ITEMS_ADD].name, "a\0b", (size_t)3);
	ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
	ck_assert_ptr_nonnull(strstr(r->str, "BAD_ARGUMENT"));
	ck_assert_ptr_nonnull(strstr(r->str, "NUL"));
	freeReplyObject(r);
	r = redisCommand(rc, "FCALL %s 12 {ra:p}:meta {ra:p}:items "
	    "{ra:p}:free {ra:p}:shared {ra:p}:leases {ra:p}:lease "
	    "{ra:p}:quarantine {ra:p}:bind {ra:p}:bindexp {ra:p}:bindrev "
	    "{ra:p}:itemexp {ra:p}:fence %s -7",
	    ra_functions[RA_FN_RENEW].name, l.token);
	ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
	ck_assert_ptr_nonnull(strstr(r->str, "BAD_ARGUMENT"));
	freeReplyObject(r);
	r = redisCommand(rc, "FCALL %s 12 {ra:p}:meta {ra:p}:items "
	    "{ra:p}:free {ra:p}:shared {ra:p}:leases {ra:p}:lease "
	    "{ra:p}:quarantine {ra:p}:bind {ra:p}:bindexp {ra:p}:bindrev "
	    "{ra:p}:itemexp {ra:p}:fence 00112233445566778899aabbccddeeff nan "
	    "-1 '' -1 '' 5", ra_functions[RA_FN_LEASE].name);
	ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
	ck_assert_ptr_nonnull(strstr(r->str, "BAD_ARGUMENT"));
	freeReplyObject(r);
	redisFree(rc);
	after = at_snapshot();
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	at_sound(ctx, "p");
	ra_lease_deinit(&l);
	ra_free(ctx);
}
END_TEST

START_TEST(test_lost_library)
{
	struct ra_context *ctx = tu_connect();
	redisContext *rc = tu_redis();
	redisReply *r;
	struct ra_lease l;

	at_pool(ctx, "p", 0, 0, 1);
	r = redisCommand(rc, "FUNCTION FLUSH");
	freeReplyObject(r);
	lease_ok(ctx, "p", -1, &l);
	ck_assert_str_eq(l.item, "item-000");
	r = redisCommand(rc, "FUNCTION FLUSH");
	freeReplyObject(r);
	ck_assert_int_eq(ra_release(ctx, "p", l.token, RA_OUTCOME_OK, -1), 0);
	ck_assert_int_eq(at_counts(ctx, "p").free, 1);
	at_sound(ctx, "p");
	redisFree(rc);
	ra_lease_deinit(&l);
	ra_free(ctx);
}
END_TEST

/* Lease with a binding name and TTLs. */
static int
lease_named(struct ra_context *ctx, const char *pool, const char *name,
    double bind_ttl, struct ra_lease *l)
{
	struct ra_lease_req req;

	ra_lease_req_init(&req);
	req.name = name;
	req.bind_ttl = bind_ttl;
	req.holder = "tester";
	return ra_lease(ctx, pool, &req, l);
}

START_TEST(test_binding_lease)
{
	struct ra_context *ctx = tu_connect();
	struct ra_lease l, m, o;
	struct ra_strlist names;
	char *item;

	at_pool(ctx, "p", 0, 0, 3);
	ck_assert_int_eq(lease_named(ctx, "p", "sess", RA_TTL_DEFAULT, &l), 0);
	ck_assert_int_eq(l.bound, 0);
	ck_assert_int_eq(ra_binding(ctx, "p", "sess", &item), 0);
	ck_assert_str_eq(item, l.item);
	free(item);
	ck_assert_int_eq(ra_release(ctx, "p", l.token, RA_OUTCOME_OK, -1), 0);
	/* the binding survives the release; the item is least recently
	 * used last, yet the name gets it back */
	ck_assert_int_eq(lease_named(ctx, "p", "sess", RA_TTL_DEFAULT, &m), 0);
	ck_assert_int_eq(m.bound, 1);
	ck_assert_str_eq(m.item, l.item);
	/* held: another lease with the name gets another item, rebinds */
	ck_assert_int_eq(lease_named(ctx, "p", "sess", RA_TTL_DEFAULT, &o), 0);
	ck_assert_int_eq(o.bound, 0);
	ck_assert_str_ne(o.item, m.item);
	ck_assert_int_eq(ra_binding(ctx, "p", "sess", &item), 0);
	ck_assert_str_eq(item, o.item);
	free(item);
	ck_assert_int_eq(ra_bindings(ctx, "p", o.item, &names), 0);
	ck_assert_int_eq(names.n, 1);
	ck_assert_str_eq(names.v[0], "sess");
	ra_strlist_deinit(&names);
	ck_assert_int_eq(ra_bindings(ctx, "p", m.item, &names), 0);
	ck_assert_int_eq(names.n, 0);
	ra_strlist_deinit(&names);
	at_sound(ctx, "p");
	ra_lease_deinit(&l);
	ra_lease_deinit(&m);
	ra_lease_deinit(&o);
	ra_free(ctx);
}
END_TEST

START_TEST(test_binding_calls)
{
	struct ra_context *ctx = tu_connect();
	struct ra_strlist names;
	struct ra_lease l;
	char *item;
	int tries = 0;
	long long t0;

	at_pool(ctx, "p", 0, 0, 3);
	ck_assert_int_eq(ra_bind(ctx, "p", "x", "nosuch", 10), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_FOUND);
	ck_assert_int_eq(ra_bind(ctx, "p", "a", "item-002", 0), 0);
	t0 = at_redis_ms();
	ck_assert_int_eq(ra_bind(ctx, "p", "b", "item-002", 0.15), 0);
	ck_assert_int_eq(ra_bind(ctx, "p", "c", "item-001", RA_TTL_DEFAULT),
	    0);
	ck_assert_int_eq(ra_bindings(ctx, "p", "item-002", &names), 0);
	ck_assert_int_eq(names.n, 2);
	ck_assert_str_eq(names.v[0], "a");
	ck_assert_str_eq(names.v[1], "b");
	ra_strlist_deinit(&names);
	ck_assert_int_eq(at_counts(ctx, "p").bindings, 3);
	/* a lease by name takes the bound item, not the LRU one */
	ck_assert_int_eq(lease_named(ctx, "p", "a", RA_TTL_DEFAULT, &l), 0);
	ck_assert_str_eq(l.item, "item-002");
	ck_assert_int_eq(l.bound, 1);
	ck_assert_int_eq(ra_release(ctx, "p", l.token, RA_OUTCOME_OK, -1), 0);
	ra_lease_deinit(&l);
	/* b expires with its 150 ms TTL, without gc */
	for (;;) {
		ck_assert_int_eq(ra_binding(ctx, "p", "b", &item), 0);
		if (item == NULL)
			break;
		free(item);
		ck_assert_int_lt(++tries, 100);
		at_sleep_ms(10);
	}
	ck_assert_int_ge(at_redis_ms() - t0, 150);
	ck_assert_int_eq(ra_unbind(ctx, "p", "b"), 0);
	ck_assert_int_eq(ra_unbind(ctx, "p", "a"), 1);
	ck_assert_int_eq(ra_unbind(ctx, "p", "a"), 0);
	ck_assert_int_eq(ra_binding(ctx, "p", "a", &item), 0);
	ck_assert_ptr_null(item);
	ck_assert_int_eq(at_counts(ctx, "p").bindings, 1);
	/* removing an item drops its bindings */
	{
		const char *k[] = { "item-001" };

		ck_assert_int_eq(ra_remove(ctx, "p", k, 1), 0);
	}
	ck_assert_int_eq(ra_binding(ctx, "p", "c", &item), 0);
	ck_assert_ptr_null(item);
	ck_assert_int_eq(at_counts(ctx, "p").bindings, 0);
	at_sound(ctx, "p");
	ra_free(ctx);
}
END_TEST

START_TEST(test_binding_ttl_on_lease)
{
	struct ra_context *ctx = tu_connect();
	struct ra_lease l;
	char *item;
	int tries = 0;

	at_pool(ctx, "p", 0, 0, 2);
	ck_assert_int_eq(lease_named(ctx, "p", "s", 0.1, &l), 0);
	ck_assert_int_eq(ra_release(ctx, "p", l.token, RA_OUTCOME_NONE, -1),
	    0);
	ra_lease_deinit(&l);
	do {
		ck_assert_int_lt(++tries, 100);
		at_sleep_ms(10);
		ck_assert_int_eq(ra_binding(ctx, "p", "s", &item), 0);
		free(item);
	} while (item != NULL);
	/* gone from the reverse index as well */
	ck_assert_int_eq(at_counts(ctx, "p").bindings, 0);
	at_sound(ctx, "p");
	ra_free(ctx);
}
END_TEST

START_TEST(test_quarantine)
{
	struct ra_context *ctx = tu_connect();
	struct ra_lease l, m;
	struct ra_counts c;
	int tries = 0;
	long long t0;

	at_pool(ctx, "p", 0, 0, 2);
	lease_ok(ctx, "p", -1, &l);
	/* quarantine a held item: the lease stays valid.  2 s: the checks
	 * below must see it still quarantined on a loaded machine */
	t0 = at_redis_ms();
	ck_assert_int_eq(ra_quarantine(ctx, "p", l.item, 2), 0);
	c = at_counts(ctx, "p");
	ck_assert_int_eq(c.quarantined, 1);
	ck_assert_int_eq(c.leased, 0);
	ck_assert_int_eq(c.leases, 1);
	ck_assert_int_eq(ra_renew(ctx, "p", l.token, 10, NULL), 0);
	/* releasing it keeps it quarantined (no script error) */
	ck_assert_int_eq(ra_release(ctx, "p", l.token, RA_OUTCOME_OK, -1), 0);
	c = at_counts(ctx, "p");
	ck_assert_int_eq(c.quarantined, 1);
	ck_assert_int_eq(c.free, 1);
	lease_ok(ctx, "p", -1, &m);
	ck_assert_str_ne(m.item, l.item);
	lease_fails(ctx, "p", RA_ERR_EMPTY);
	ck_assert_int_eq(ra_release(ctx, "p", m.token, RA_OUTCOME_OK, -1), 0);
	ra_lease_deinit(&m);
	/* it comes back by itself when the quarantine ends (not before:
	 * both times on the Redis clock) */
	for (;;) {
		lease_ok(ctx, "p", -1, &m);
		if (strcmp(m.item, l.item) == 0)
			break;
		ck_assert_int_eq(ra_release(ctx, "p", m.token, RA_OUTCOME_OK,
		    -1), 0);
		ra_lease_deinit(&m);
		ck_assert_int_lt(++tries, 1000);
		ck_assert_int_lt(at_redis_ms() - t0, 30000);
		at_sleep_ms(20);
	}
	ck_assert_int_ge(at_redis_ms() - t0, 2000);
	ra_lease_deinit(&m);
	/* lifting a quarantine with 0 */
	ck_assert_int_eq(ra_quarantine(ctx, "p", "item-001", 100), 0);
	ck_assert_int_eq(at_counts(ctx, "p").quarantined, 1);
	ck_assert_int_eq(ra_quarantine(ctx, "p", "item-001", 0), 0);
	ck_assert_int_eq(at_counts(ctx, "p").quarantined, 0);
	ck_assert_int_eq(ra_quarantine(ctx, "p", "nosuch", 1), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_FOUND);
	at_sound(ctx, "p");
	ra_lease_deinit(&l);
	ra_free(ctx);
}
END_TEST

/* The item_info of key in the pool (test fails if absent). */
static struct ra_item_info
info_of(struct ra_context *ctx, const char *pool, const char *key)
{
	struct ra_list l;
	struct ra_item_info out;
	unsigned long long cursor = 0;
	size_t i;
	int found = 0;

	memset(&out, 0, sizeof out);
	do {
		ck_assert_int_eq(ra_list(ctx, pool, RA_STATE_ANY, cursor, 100,
		    &l), 0);
		for (i = 0; i < l.n; i++)
			if (strcmp(l.items[i].key, key) == 0) {
				out = l.items[i];
				out.key = NULL;
				found = 1;
			}
		cursor = l.cursor;
		ra_list_deinit(&l);
	} while (cursor != 0);
	ck_assert_msg(found, "%s not listed", key);
	return out;
}

START_TEST(test_ejection)
{
	struct ra_context *ctx = tu_connect();
	struct ra_pool_conf c;
	struct ra_item_info in;
	long long now, after, len1, len2, until;
	int i;

	ra_pool_conf_init(&c);
	c.eject_failures = 3;
	c.eject_base = 10;
	c.eject_max = 25;
	c.eject_max_percent = 50;
	c.ban_time = 100;
	ck_assert_int_eq(ra_pool_create(ctx, "p", &c), 0);
	{
		struct ra_item it[4] = { { "a", 0, 0 }, { "b", 0, 0 },
		    { "c", 0, 0 }, { "d", 0, 0 } };
		ck_assert_int_eq(ra_add(ctx, "p", it, 4), 0);
	}
	/* two failures, then OK resets the count */
	ck_assert_int_eq(ra_report(ctx, "p", "a", RA_OUTCOME_FAILED, 100), 0);
	ck_assert_int_eq(ra_report(ctx, "p", "a", RA_OUTCOME_FAILED, 200), 0);
	in = info_of(ctx, "p", "a");
	ck_assert_int_eq(in.failures, 2);
	ck_assert(fabs(in.latency_ms - 120) < 0.01);	/* 100*.8 + 200*.2 */
	ck_assert_int_eq(ra_report(ctx, "p", "a", RA_OUTCOME_OK, -1), 0);
	in = info_of(ctx, "p", "a");
	ck_assert_int_eq(in.failures, 0);
	ck_assert_int_eq(in.state, RA_STATE_FREE);
	/* three in a row: ejected for base * 1, which the third report
	 * says (_ex: the end of the quarantine it earned; 0 before) */
	now = at_redis_ms();
	for (i = 0; i < 3; i++) {
		until = -1;
		ck_assert_int_eq(ra_report_ex(ctx, "p", "a",
		    RA_OUTCOME_FAILED, -1, &until), 0);
		if (i < 2)
			ck_assert_int_eq(until, 0);
	}
	after = at_redis_ms();
	in = info_of(ctx, "p", "a");
	ck_assert_int_eq(in.state, RA_STATE_QUARANTINED);
	ck_assert_int_eq(in.ejections, 1);
	ck_assert_int_eq(until, in.until_ms);
	/* ejected between now and after (one clock: Redis') */
	len1 = in.until_ms - now;
	ck_assert_int_ge(len1, 10000);
	ck_assert_int_le(in.until_ms - after, 10000);
	/* lift it, fail again: the second ejection lasts base * 2 */
	ck_assert_int_eq(ra_quarantine(ctx, "p", "a", 0), 0);
	now = at_redis_ms();
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(ra_report(ctx, "p", "a", RA_OUTCOME_FAILED,
		    -1), 0);
	after = at_redis_ms();
	in = info_of(ctx, "p", "a");
	ck_assert_int_eq(in.ejections, 2);
	len2 = in.until_ms - now;
	ck_assert_int_ge(len2, 20000);
	ck_assert_int_le(in.until_ms - after, 20000);
	/* the third is capped at eject_max */
	ck_assert_int_eq(ra_quarantine(ctx, "p", "a", 0), 0);
	now = at_redis_ms();
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(ra_report(ctx, "p", "a", RA_OUTCOME_FAILED,
		    -1), 0);
	after = at_redis_ms();
	in = info_of(ctx, "p", "a");
	ck_assert_int_ge(in.until_ms - now, 25000);
	ck_assert_int_le(in.until_ms - after, 25000);
	/* 50 % of 4 items: b may go too, c may not */
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(ra_report(ctx, "p", "b", RA_OUTCOME_FAILED,
		    -1), 0);
	for (i = 0; i < 5; i++) {
		/* held back by max_percent: not an ejection */
		ck_assert_int_eq(ra_report_ex(ctx, "p", "c",
		    RA_OUTCOME_FAILED, -1, &until), 0);
		ck_assert_int_eq(until, 0);
	}
	ck_assert_int_eq(info_of(ctx, "p", "b").state, RA_STATE_QUARANTINED);
	in = info_of(ctx, "p", "c");
	ck_assert_int_eq(in.state, RA_STATE_FREE);
	ck_assert_int_eq(in.failures, 5);
	ck_assert_int_eq(at_counts(ctx, "p").quarantined, 2);
	/* BANNED through a release: ban_time */
	{
		struct ra_lease l;

		lease_ok(ctx, "p", -1, &l);
		now = at_redis_ms();
		ck_assert_int_eq(ra_release_ex(ctx, "p", l.token,
		    RA_OUTCOME_BANNED, 50, &until), 0);
		after = at_redis_ms();
		in = info_of(ctx, "p", l.item);
		ck_assert_int_eq(in.state, RA_STATE_QUARANTINED);
		ck_assert_int_eq(until, in.until_ms);
		ck_assert_int_ge(in.until_ms - now, 100000);
		ck_assert_int_le(in.until_ms - after, 100000);
		ra_lease_deinit(&l);
	}
	ck_assert_int_eq(ra_report(ctx, "p", "zz", RA_OUTCOME_OK, -1), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_FOUND);
	at_sound(ctx, "p");
	ra_free(ctx);
}
END_TEST

START_TEST(test_item_expiry)
{
	struct ra_context *ctx = tu_connect();
	struct ra_item it[] = { { "rent", 0, 2 }, { "own", 5, 0 } };
	struct ra_lease l, m;
	long long t0;
	int tries = 0;

	at_pool(ctx, "p", 0, 0, 0);
	t0 = at_redis_ms();
	ck_assert_int_eq(ra_add(ctx, "p", it, 2), 0);
	lease_ok(ctx, "p", -1, &l);
	ck_assert_str_eq(l.item, "rent");
	/* (2 s: long enough that a loaded machine leases it before it
	 * expires) */
	ck_assert_int_lt(at_redis_ms() - t0, 2000);
	/* release must not reset the item's own expiry */
	ck_assert_int_eq(ra_release(ctx, "p", l.token, RA_OUTCOME_OK, -1), 0);
	ra_lease_deinit(&l);
	while (at_counts(ctx, "p").total != 1) {
		ck_assert_int_lt(++tries, 1000);
		ck_assert_int_lt(at_redis_ms() - t0, 20000);
		at_sleep_ms(20);
	}
	ck_assert_int_ge(at_redis_ms() - t0, 2000);
	lease_ok(ctx, "p", -1, &l);
	ck_assert_str_eq(l.item, "own");
	ra_lease_deinit(&l);
	/* a leased expiring item drains, and leaves when released */
	it[0].expires = 2;
	t0 = at_redis_ms();
	ck_assert_int_eq(ra_add(ctx, "p", it, 1), 0);
	lease_ok(ctx, "p", -1, &m);
	ck_assert_str_eq(m.item, "rent");
	tries = 0;
	while (at_counts(ctx, "p").draining != 1) {
		ck_assert_int_lt(++tries, 1000);
		ck_assert_int_lt(at_redis_ms() - t0, 20000);
		at_sleep_ms(20);
	}
	ck_assert_int_ge(at_redis_ms() - t0, 2000);
	at_sound(ctx, "p");
	ck_assert_int_eq(ra_release(ctx, "p", m.token, RA_OUTCOME_OK, -1), 0);
	ck_assert_int_eq(at_counts(ctx, "p").total, 1);
	at_sound(ctx, "p");
	ra_lease_deinit(&m);
	ra_free(ctx);
}
END_TEST

START_TEST(test_assign_drains)
{
	struct ra_context *ctx = tu_connect();
	struct ra_item keep[] = { { "item-001", 3, 0 }, { "new", 0, 0 } };
	struct ra_lease l[3];
	struct ra_counts c;
	char *item;
	int i;

	at_pool(ctx, "p", 0, 0, 3);
	for (i = 0; i < 3; i++)
		lease_ok(ctx, "p", -1, &l[i]);
	ck_assert_int_eq(ra_bind(ctx, "p", "n0", "item-000", 0), 0);
	ck_assert_int_eq(ra_release(ctx, "p", l[2].token, RA_OUTCOME_OK, -1),
	    0);
	ra_lease_deinit(&l[2]);
	/* item-000 leased and dropped: drains; item-002 free: gone */
	ck_assert_int_eq(ra_assign(ctx, "p", keep, 2), 0);
	c = at_counts(ctx, "p");
	ck_assert_int_eq(c.total, 3);
	ck_assert_int_eq(c.draining, 1);
	ck_assert_int_eq(c.free, 1);
	ck_assert_int_eq(c.leased, 1);
	ck_assert_int_eq(info_of(ctx, "p", "item-001").priority, 3);
	at_sound(ctx, "p");
	/* a draining item cannot be bound or leased */
	ck_assert_int_eq(ra_bind(ctx, "p", "n1", "item-000", 0), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_FOUND);
	lease_ok(ctx, "p", -1, &l[2]);
	ra_lease_deinit(&l[2]);
	lease_fails(ctx, "p", RA_ERR_EMPTY);
	/* its lease stays valid; on release it leaves with its binding */
	ck_assert_int_eq(ra_renew(ctx, "p", l[0].token, 5, NULL), 0);
	ck_assert_int_eq(ra_release(ctx, "p", l[0].token, RA_OUTCOME_OK, -1),
	    0);
	c = at_counts(ctx, "p");
	ck_assert_int_eq(c.total, 2);
	ck_assert_int_eq(c.draining, 0);
	ck_assert_int_eq(ra_binding(ctx, "p", "n0", &item), 0);
	ck_assert_ptr_null(item);
	at_sound(ctx, "p");
	/* clear: everything goes, held ones drain */
	ck_assert_int_eq(ra_clear(ctx, "p"), 0);
	c = at_counts(ctx, "p");
	ck_assert_int_eq(c.total, 2);
	ck_assert_int_eq(c.draining, 2);
	at_sound(ctx, "p");
	for (i = 0; i < 2; i++)
		ra_lease_deinit(&l[i]);
	ra_free(ctx);
}
END_TEST

START_TEST(test_assign_big)
{
	struct ra_context *ctx = tu_connect();
	struct ra_item *it;
	char (*keys)[24];
	size_t i, n = 5000;
	struct ra_counts c;
	redisContext *rc;
	redisReply *r;

	it = calloc(n, sizeof *it);
	keys = calloc(n, sizeof *keys);
	for (i = 0; i < n; i++) {
		snprintf(keys[i], sizeof keys[i], "k%zu", i);
		it[i].key = keys[i];
	}
	at_pool(ctx, "p", 0, 0, 0);
	ck_assert_int_eq(ra_add(ctx, "p", it, n), 0);
	ck_assert_int_eq(at_counts(ctx, "p").total, (long long)n);
	/* keep the odd half */
	for (i = 0; i < n / 2; i++)
		it[i].key = keys[2 * i + 1];
	ck_assert_int_eq(ra_assign(ctx, "p", it, n / 2), 0);
	c = at_counts(ctx, "p");
	ck_assert_int_eq(c.total, (long long)n / 2);
	ck_assert_int_eq(c.free, (long long)n / 2);
	rc = tu_redis();
	r = redisCommand(rc, "HEXISTS {ra:p}:items k0");
	ck_assert_int_eq(r->integer, 0);
	freeReplyObject(r);
	r = redisCommand(rc, "HEXISTS {ra:p}:items k1");
	ck_assert_int_eq(r->integer, 1);
	freeReplyObject(r);
	redisFree(rc);
	at_sound(ctx, "p");
	free(it);
	free(keys);
	ra_free(ctx);
}
END_TEST

START_TEST(test_list)
{
	struct ra_context *ctx = tu_connect();
	struct ra_list l;
	struct ra_lease x;
	unsigned long long cursor = 0;
	size_t total = 0, leased = 0, i;
	int pages = 0;

	at_pool(ctx, "p", 0, 0, 1000);
	lease_ok(ctx, "p", -1, &x);
	do {
		ck_assert_int_eq(ra_list(ctx, "p", RA_STATE_ANY, cursor, 50,
		    &l), 0);
		ck_assert_int_le(l.n, 120);
		total += l.n;
		cursor = l.cursor;
		ra_list_deinit(&l);
		ck_assert_int_lt(++pages, 200);
	} while (cursor != 0);
	ck_assert_int_ge(total, 1000);
	ck_assert_int_ge(pages, 3);
	cursor = 0;
	do {
		ck_assert_int_eq(ra_list(ctx, "p", RA_STATE_LEASED, cursor, 100,
		    &l), 0);
		for (i = 0; i < l.n; i++) {
			ck_assert_int_eq(l.items[i].state, RA_STATE_LEASED);
			ck_assert_int_eq(l.items[i].holders, 1);
			ck_assert_str_eq(l.items[i].key, x.item);
		}
		leased += l.n;
		cursor = l.cursor;
		ra_list_deinit(&l);
	} while (cursor != 0);
	ck_assert_int_eq(leased, 1);
	ck_assert_int_eq(ra_list(ctx, "nope", RA_STATE_ANY, 0, 10, &l), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NO_SUCH_POOL);
	ra_lease_deinit(&x);
	ra_free(ctx);
}
END_TEST

START_TEST(test_gc)
{
	struct ra_context *ctx = tu_connect();
	struct ra_lease_req req;
	struct ra_lease l;
	struct ra_gc_stats g;
	long long last = 0;
	int i;

	at_pool(ctx, "p", 0, 0, 30);
	ra_lease_req_init(&req);
	req.ttl = 0.5;
	for (i = 0; i < 30; i++) {
		ck_assert_int_eq(ra_lease(ctx, "p", &req, &l), 0);
		last = l.expires_ms;
		ra_lease_deinit(&l);
	}
	ck_assert_int_eq(ra_bind(ctx, "p", "n", "item-001", 0.05), 0);
	while (at_redis_ms() <= last)
		at_sleep_ms(20);
	ck_assert_int_eq(ra_gc(ctx, "p", 10, &g), 0);
	ck_assert_int_eq(g.leases, 10);
	ck_assert_int_eq(g.bindings, 1);
	ck_assert_int_eq(ra_gc(ctx, "p", 0, &g), 0);
	ck_assert_int_eq(g.leases, 20);
	ck_assert_int_eq(at_counts(ctx, "p").free, 30);
	at_sound(ctx, "p");
	ra_free(ctx);
}
END_TEST

/*
 * A backlog bigger than a call's time budget: one gc call with a count
 * of every lease stops after about 1 ms of Redis time and says there is
 * more (1,500 lease ends take several ms on any machine); further calls
 * reclaim the rest, the last one saying there is nothing more.
 */
START_TEST(test_gc_time_budget)
{
	enum { N = 1500 };
	struct ra_context *ctx = tu_connect();
	redisContext *rc = tu_redis();
	struct ra_lease_req req;
	struct ra_lease l;
	struct ra_gc_stats g;
	long long last = 0, total;
	redisReply *r;
	int i;

	at_pool(ctx, "p", 0, 0, N);
	ra_lease_req_init(&req);
	req.ttl = 1;
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(ra_lease(ctx, "p", &req, &l), 0);
		last = l.expires_ms;
		ra_lease_deinit(&l);
	}
	while (at_redis_ms() <= last)
		at_sleep_ms(20);
	r = redisCommand(rc, "FCALL %s 12 {ra:p}:meta {ra:p}:items "
	    "{ra:p}:free {ra:p}:shared {ra:p}:leases {ra:p}:lease "
	    "{ra:p}:quarantine {ra:p}:bind {ra:p}:bindexp {ra:p}:bindrev "
	    "{ra:p}:itemexp {ra:p}:fence %d", ra_functions[RA_FN_GC].name, N);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	ck_assert_int_eq(r->elements, 5);
	total = r->element[0]->integer;
	ck_assert_int_gt(total, 0);
	ck_assert_int_lt(total, N);
	ck_assert_int_eq(r->element[4]->integer, 1);
	freeReplyObject(r);
	for (i = 0; i < 1000; i++) {
		ck_assert_int_eq(ra_gc(ctx, "p", 0, &g), 0);
		total += g.leases;
		if (!g.more && g.leases == 0)
			break;
	}
	ck_assert_int_eq(total, N);
	ck_assert_int_eq(g.more, 0);
	ck_assert_int_eq(at_counts(ctx, "p").free, N);
	at_sound(ctx, "p");
	redisFree(rc);
	ra_free(ctx);
}
END_TEST

START_TEST(test_pool_delete_drains)
{
	struct ra_context *ctx = tu_connect();
	struct ra_lease l;
	struct ra_strlist pools;
	redisContext *rc;
	redisReply *r;

	at_pool(ctx, "p", 0, 0, 1500);
	lease_ok(ctx, "p", -1, &l);
	ck_assert_int_eq(ra_bind(ctx, "p", "n", l.item, 0), 0);
	ck_assert_int_eq(ra_pool_delete(ctx, "p"), 0);
	ck_assert_int_eq(ra_pools(ctx, &pools), 0);
	ck_assert_int_eq(pools.n, 0);
	ra_strlist_deinit(&pools);
	lease_fails(ctx, "p", RA_ERR_NO_SUCH_POOL);
	ck_assert_int_eq(at_counts(ctx, "p").draining, 1);
	ck_assert_int_eq(at_counts(ctx, "p").total, 1);
	/* the last release removes every key */
	ck_assert_int_eq(ra_release(ctx, "p", l.token, RA_OUTCOME_OK, -1), 0);
	rc = tu_redis();
	r = redisCommand(rc, "DBSIZE");
	ck_assert_int_eq(r->integer, 0);
	freeReplyObject(r);
	redisFree(rc);
	ck_assert_int_eq(ra_counts(ctx, "p", &(struct ra_counts){ 0 }), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NO_SUCH_POOL);
	ra_lease_deinit(&l);
	ra_free(ctx);
}
END_TEST

START_TEST(test_check_finds_damage)
{
	struct ra_context *ctx = tu_connect();
	struct ra_strlist v;
	struct ra_lease l;
	redisContext *rc = tu_redis();
	size_t i;
	int lost = 0, two = 0, nolease = 0, bind = 0, counter = 0, due = 0;
	int exp = 0;
	char rec[64] = "\0\0\0\0\0\0\xf0\x3f";	/* 1.0 */

	at_pool(ctx, "p", 0, 0, 5);
	lease_ok(ctx, "p", -1, &l);
	ck_assert_int_eq(ra_bind(ctx, "p", "n", "item-004", 0), 0);
	at_sound(ctx, "p");
	/* break it by hand in every way the check knows */
	freeReplyObject(redisCommand(rc, "ZREM {ra:p}:free item-001"));
	freeReplyObject(redisCommand(rc, "ZADD {ra:p}:quarantine 1 item-002"));
	/* records: expiry (a little-endian double), item, NUL, holder */
	freeReplyObject(redisCommand(rc, "HSET {ra:p}:lease feedfeedfeedfeed "
	    "%b", "\0\0\0\0\0\0\0\0" "ghost\0", (size_t)14));
	snprintf(rec + 8, sizeof rec - 8, "%s", l.item);
	freeReplyObject(redisCommand(rc, "HSET {ra:p}:lease %s %b", l.token,
	    rec, 8 + strlen(l.item) + 1));
	freeReplyObject(redisCommand(rc, "HSET {ra:p}:bind m missing"));
	freeReplyObject(redisCommand(rc, "HINCRBY {ra:p}:meta nshared 5"));
	/* reclaim would skip the lease until then */
	freeReplyObject(redisCommand(rc, "HSET {ra:p}:meta rdue "
	    "8000000000000000"));
	ck_assert_int_eq(ra_check_invariants(ctx, "p", &v), 0);
	for (i = 0; i < v.n; i++) {
		if (strstr(v.v[i], "item-001") && strstr(v.v[i], "lost"))
			lost = 1;
		if (strstr(v.v[i], "item-002") && strstr(v.v[i], "two states"))
			two = 1;
		if (strstr(v.v[i], "ghost") && strstr(v.v[i], "missing"))
			nolease = 1;
		if (strstr(v.v[i], "binding m") && strstr(v.v[i], "missing"))
			bind = 1;
		if (strstr(v.v[i], "counter"))
			counter = 1;
		if (strstr(v.v[i], l.token) && strstr(v.v[i], "before the rdue"))
			due = 1;
		if (strstr(v.v[i], l.token) && strstr(v.v[i], "expiry 1 in the "
		    "record"))
			exp = 1;
	}
	ck_assert_msg(lost && two && nolease && bind && counter && due && exp,
	    "lost %d two %d lease %d bind %d counter %d due %d expiry %d "
	    "(%zu lines)", lost, two, nolease, bind, counter, due, exp, v.n);
	ra_strlist_deinit(&v);
	ck_assert_int_eq(ra_check_invariants(ctx, "nope", &v), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NO_SUCH_POOL);
	redisFree(rc);
	ra_lease_deinit(&l);
	ra_free(ctx);
}
END_TEST

/* A lease the randomized test knows about. */
struct held {
	char		*item;		/* owned */
	char		 token[RA_TOKEN_LEN + 1];
	long long	 granted;	/* ms, Redis clock */
	long long	 expires;	/* ms, Redis clock */
	int		 shared;
	int		 crashed;	/* forgotten: never renewed or released */
	int		 over;		/* released */
};

/* Fail if a new lease on item overlaps a live exclusive one (or is
 * exclusive and overlaps any live one). */
static void
check_overlap(struct held *h, size_t n, const struct held *x)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (h[i].over || strcmp(h[i].item, x->item) != 0)
			continue;
		if (h[i].expires <= x->granted)
			continue;
		ck_assert_msg(h[i].shared && x->shared,
		    "%s granted twice: %s lease until %lld, new %s lease at "
		    "%lld", x->item, h[i].shared ? "shared" : "exclusive",
		    h[i].expires, x->shared ? "shared" : "exclusive",
		    x->granted);
	}
}

static int
ok_err(int err)
{
	return err == RA_ERR_EMPTY || err == RA_ERR_NOT_OWNED ||
	    err == RA_ERR_NOT_FOUND;
}

START_TEST(test_random_ops)
{
	struct ra_context *ctx = tu_connect();
	struct ra_pool_conf pc;
	struct held *h;
	size_t nh = 0, caph = 20000, i;
	char key[32], name[32];
	unsigned seed = 12345u + (unsigned)_i;
	int op, k, rc, nops = 6000;
	long long now;

	srand(seed);
	ra_pool_conf_init(&pc);
	pc.shared = _i;
	pc.max_shares = 3;
	pc.lease_ttl = 0.2;
	pc.bind_ttl = 0.3;
	pc.eject_failures = 2;
	pc.eject_base = 0.05;
	pc.eject_max = 0.2;
	pc.ban_time = 0.1;
	ck_assert_int_eq(ra_pool_create(ctx, "r", &pc), 0);
	h = calloc(caph, sizeof *h);
	for (op = 0; op < nops; op++) {
		int what = rand() % 100;

		snprintf(key, sizeof key, "px-%02d", rand() % 60);
		snprintf(name, sizeof name, "n%d", rand() % 12);
		if (what < 8) {
			struct ra_item it = { key, rand() % 4,
			    rand() % 4 == 0 ? 0.05 + (rand() % 300) / 1000.0 : 0 };
			ck_assert_msg(ra_add(ctx, "r", &it, 1) == 0, "add: %s",
			    ctx->errstr);
		} else if (what < 11) {
			const char *kk[1] = { key };
			ck_assert_int_eq(ra_remove(ctx, "r", kk, 1), 0);
		} else if (what < 45 && nh < caph) {
			struct ra_lease_req req;
			struct ra_lease l;
			struct held *x = &h[nh];

			ra_lease_req_init(&req);
			req.ttl = 0.02 + (rand() % 300) / 1000.0;
			req.shared = rand() % 3 - 1;
			if (rand() % 3 == 0)
				req.name = name;
			rc = ra_lease(ctx, "r", &req, &l);
			if (rc != 0) {
				ck_assert_msg(ctx->err == RA_ERR_EMPTY,
				    "lease: %s", ctx->errstr);
				continue;
			}
			x->item = l.item;
			memcpy(x->token, l.token, sizeof x->token);
			x->expires = l.expires_ms;
			x->granted = l.expires_ms - llround(req.ttl * 1000);
			x->shared = l.shared;
			x->crashed = rand() % 5 == 0;	/* client dies */
			check_overlap(h, nh, x);
			nh++;
		} else if (what < 80 && nh > 0) {
			struct held *x = &h[rand() % nh];
			int sub = rand() % 4;

			if (x->crashed || x->over)
				continue;
			if (sub == 0) {
				long long exp;
				double ttl = 0.02 + (rand() % 200) / 1000.0;

				if (ra_renew(ctx, "r", x->token, ttl, &exp) == 0)
					x->expires = exp;
				else
					ck_assert_msg(ok_err(ctx->err),
					    "renew: %s", ctx->errstr);
			} else {
				rc = ra_release(ctx, "r", x->token,
				    (enum ra_outcome)(rand() % 4),
				    rand() % 2 ? rand() % 500 : -1);
				if (rc != 0)
					ck_assert_msg(ok_err(ctx->err),
					    "release: %s", ctx->errstr);
				now = at_redis_ms();
				/* released (or expired): over either way */
				x->over = 1;
				x->expires = now;
			}
		} else if (what < 86) {
			rc = ra_report(ctx, "r", key,
			    (enum ra_outcome)(rand() % 4), rand() % 300);
			ck_assert_msg(rc == 0 || ok_err(ctx->err), "report: %s",
			    ctx->errstr);
		} else if (what < 91) {
			rc = ra_bind(ctx, "r", name, key,
			    rand() % 2 ? 0 : 0.1);
			ck_assert_msg(rc == 0 || ok_err(ctx->err), "bind: %s",
			    ctx->errstr);
		} else if (what < 93) {
			ck_assert_int_ge(ra_unbind(ctx, "r", name), 0);
		} else if (what < 96) {
			rc = ra_quarantine(ctx, "r", key,
			    (rand() % 200) / 1000.0);
			ck_assert_msg(rc == 0 || ok_err(ctx->err),
			    "quarantine: %s", ctx->errstr);
		} else if (what < 98) {
			ck_assert_int_eq(ra_gc(ctx, "r", 5, NULL), 0);
		} else if (what < 99) {
			struct ra_item it[30];
			char keys[30][32];

			for (k = 0; k < 30; k++) {
				snprintf(keys[k], sizeof keys[k], "px-%02d",
				    rand() % 60);
				it[k].key = keys[k];
				it[k].priority = rand() % 3;
				it[k].expires = 0;
			}
			ck_assert_int_eq(ra_assign(ctx, "r", it, 30), 0);
		} else
			at_sleep_ms(5);
		if (op % 1000 == 999)
			at_sound(ctx, "r");
	}
	at_sound(ctx, "r");
	/* let every lease, binding, quarantine lapse: all comes back */
	at_sleep_ms(400);
	for (k = 0; k < 200; k++) {
		struct ra_gc_stats g;

		ck_assert_int_eq(ra_gc(ctx, "r", 1000, &g), 0);
		if (g.leases + g.bindings + g.items + g.quarantine == 0)
			break;
	}
	{
		struct ra_counts c = at_counts(ctx, "r");

		ck_assert_int_eq(c.leases, 0);
		ck_assert_int_eq(c.leased + c.shared + c.draining +
		    c.quarantined, 0);
		ck_assert_int_eq(c.free, c.total);
	}
	at_sound(ctx, "r");
	for (i = 0; i < nh; i++)
		free(h[i].item);
	free(h);
	ra_free(ctx);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("alloc");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_test(tc, test_lease_order);
	tcase_add_test(tc, test_tokens);
	tcase_add_test(tc, test_fence_survives_data_loss);
	tcase_add_test(tc, test_expiry_without_gc);
	tcase_add_test(tc, test_pool_settings);
	tcase_add_test(tc, test_lost_library);
	suite_add_tcase(s, tc);

	tc = tcase_create("shared");
	tcase_add_test(tc, test_shared);
	tcase_add_test(tc, test_shared_prefers_class_then_holders);
	suite_add_tcase(s, tc);

	tc = tcase_create("binding");
	tcase_add_test(tc, test_binding_lease);
	tcase_add_test(tc, test_binding_calls);
	tcase_add_test(tc, test_binding_ttl_on_lease);
	suite_add_tcase(s, tc);

	tc = tcase_create("health");
	tcase_add_test(tc, test_quarantine);
	tcase_add_test(tc, test_ejection);
	tcase_add_test(tc, test_item_expiry);
	suite_add_tcase(s, tc);

	tc = tcase_create("bulk");
	tcase_add_test(tc, test_assign_drains);
	tcase_add_test(tc, test_assign_big);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_gc);
	tcase_add_test(tc, test_gc_time_budget);
	tcase_add_test(tc, test_pool_delete_drains);
	suite_add_tcase(s, tc);

	tc = tcase_create("invariants");
	tcase_add_test(tc, test_check_finds_damage);
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_add_loop_test(tc, test_random_ops, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("input");
	tcase_add_test(tc, test_bad_input);
	suite_add_tcase(s, tc);

	return tu_run(s);
}
