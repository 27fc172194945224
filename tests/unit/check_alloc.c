/*
 * check_alloc.c: the resource allocator against a real redis-server:
 * lease order, tokens and fences, expiry without gc, shared leases,
 * soft binding, health and ejection, bulk changes, bad input, NOSCRIPT,
 * and the invariant check after every test and a randomized run.
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
	struct ra_lease l;
	struct ra_item bad[2] = { { "ok", 0, 0 }, { "", 0, 0 } };
	char big[RA_KEY_MAX + 2];
	char *before, *after;
	redisContext *rc;
	redisReply *r;

	at_pool(ctx, "p", 0, 0, 3);
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
	ck_assert_int_eq(ra_lease(ctx, "p", &req, &l), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	req.ttl = NAN;
	ck_assert_int_eq(ra_lease(ctx, "p", &req, &l), -1);
	req.ttl = 1e12;
	ck_assert_int_eq(ra_lease(ctx, "p", &req, &l), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	req.ttl = RA_TTL_DEFAULT;
	req.name = "";
	ck_assert_int_eq(ra_lease(ctx, "p", &req, &l), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_lease(ctx, "", NULL, &l), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_lease(ctx, big, NULL, &l), -1);
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
	/* the scripts check too, for callers other than this library */
	rc = tu_redis();
	r = redisCommand(rc, "EVALSHA %s 12 {ra:p}:meta {ra:p}:items "
	    "{ra:p}:free {ra:p}:shared {ra:p}:leases {ra:p}:lease "
	    "{ra:p}:quarantine {ra:p}:bind {ra:p}:bindexp {ra:p}:bindrev "
	    "{ra:p}:itemexp {ra:p}:fence 0 good 0 0 %b 0 0",
	    ra_scripts[RA_SCRIPT_ITEMS_ADD].sha, "a\0b", (size_t)3);
	ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
	ck_assert_ptr_nonnull(strstr(r->str, "BAD_ARGUMENT"));
	ck_assert_ptr_nonnull(strstr(r->str, "NUL"));
	freeReplyObject(r);
	r = redisCommand(rc, "EVALSHA %s 12 {ra:p}:meta {ra:p}:items "
	    "{ra:p}:free {ra:p}:shared {ra:p}:leases {ra:p}:lease "
	    "{ra:p}:quarantine {ra:p}:bind {ra:p}:bindexp {ra:p}:bindrev "
	    "{ra:p}:itemexp {ra:p}:fence %s -7",
	    ra_scripts[RA_SCRIPT_RENEW].sha, l.token);
	ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
	ck_assert_ptr_nonnull(strstr(r->str, "BAD_ARGUMENT"));
	freeReplyObject(r);
	r = redisCommand(rc, "EVALSHA %s 12 {ra:p}:meta {ra:p}:items "
	    "{ra:p}:free {ra:p}:shared {ra:p}:leases {ra:p}:lease "
	    "{ra:p}:quarantine {ra:p}:bind {ra:p}:bindexp {ra:p}:bindrev "
	    "{ra:p}:itemexp {ra:p}:fence 00112233445566778899aabbccddeeff nan "
	    "-1 '' -1 '' 5", ra_scripts[RA_SCRIPT_LEASE].sha);
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

START_TEST(test_noscript)
{
	struct ra_context *ctx = tu_connect();
	redisContext *rc = tu_redis();
	redisReply *r;
	struct ra_lease l;

	at_pool(ctx, "p", 0, 0, 1);
	r = redisCommand(rc, "SCRIPT FLUSH");
	freeReplyObject(r);
	lease_ok(ctx, "p", -1, &l);
	ck_assert_str_eq(l.item, "item-000");
	r = redisCommand(rc, "SCRIPT FLUSH");
	freeReplyObject(r);
	ck_assert_int_eq(ra_release(ctx, "p", l.token, RA_OUTCOME_OK, -1), 0);
	ck_assert_int_eq(at_counts(ctx, "p").free, 1);
	at_sound(ctx, "p");
	redisFree(rc);
	ra_lease_deinit(&l);
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
	tcase_add_test(tc, test_expiry_without_gc);
	tcase_add_test(tc, test_pool_settings);
	tcase_add_test(tc, test_noscript);
	suite_add_tcase(s, tc);

	tc = tcase_create("shared");
	tcase_add_test(tc, test_shared);
	tcase_add_test(tc, test_shared_prefers_class_then_holders);
	suite_add_tcase(s, tc);

	tc = tcase_create("input");
	tcase_add_test(tc, test_bad_input);
	suite_add_tcase(s, tc);

	return tu_run(s);
}
