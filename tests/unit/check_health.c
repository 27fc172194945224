/*
 * check_health.c: the health state functions against a real redis-server:
 * due checks claimed once between claimers, rise/fall, DOWN items not
 * leased and back after rise, latency sub-classes ordering leases,
 * eviction, the early end of an ejection, counts, items that left.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ra_functions.h"
#include "redis_allocator.h"
#include "testutil.h"
#include "alloc_testutil.h"

/* Health settings for tests: immediate rescheduling is not wanted. */
static void
hc_init(struct ra_health_conf *hc)
{
	ra_health_conf_init(hc);
	hc->inter = 60;
	hc->jitter = 0;
}

static struct ra_health_result
report(struct ra_context *ctx, const char *pool, const char *item,
    enum ra_probe_verdict v, double lat, const struct ra_health_conf *hc)
{
	struct ra_health_result r;

	ck_assert_msg(ra_health_report(ctx, pool, item, v, lat,
	    v == RA_PROBE_UP ? "" : "Failed to connect to 127.0.0.1 port 4242",
	    hc, &r) == 0, "report: %s", ctx->errstr);
	return r;
}

/* Schedule every item (sync pass with no spread). */
static void
sync_all(struct ra_context *ctx, const char *pool)
{
	unsigned long long cur = 0;
	int i = 0;

	do {
		ck_assert_msg(ra_health_sync(ctx, pool, cur, 100, 0, &cur) == 0,
		    "sync: %s", ctx->errstr);
	} while (cur != 0 && ++i < 1000);
}

START_TEST(test_claim_once)
{
	struct ra_context *a = tu_connect(), *b = tu_connect_again();
	struct ra_strlist ca, cb;
	size_t i, j;

	at_pool(a, "p", 0, 0, 40);
	sync_all(a, "p");
	/* two claimers take disjoint halves, then nothing is due */
	ck_assert_int_eq(ra_health_claim(a, "p", 20, 10, &ca), 0);
	ck_assert_int_eq(ra_health_claim(b, "p", 30, 10, &cb), 0);
	ck_assert_uint_eq(ca.n, 20);
	ck_assert_uint_eq(cb.n, 20);
	for (i = 0; i < ca.n; i++)
		for (j = 0; j < cb.n; j++)
			ck_assert_str_ne(ca.v[i], cb.v[j]);
	ra_strlist_deinit(&ca);
	ra_strlist_deinit(&cb);
	ck_assert_int_eq(ra_health_claim(a, "p", 100, 10, &ca), 0);
	ck_assert_uint_eq(ca.n, 0);
	ra_strlist_deinit(&ca);
	/* a second sync pass keeps the claimed times */
	sync_all(a, "p");
	ck_assert_int_eq(ra_health_claim(b, "p", 100, 10, &cb), 0);
	ck_assert_uint_eq(cb.n, 0);
	ra_strlist_deinit(&cb);
	/* a claim lease that passes makes them due again */
	ck_assert_int_eq(ra_health_claim(a, "p", 100, 0.05, &ca), 0);
	ra_strlist_deinit(&ca);
	ra_free(a);
	ra_free(b);
}
END_TEST

/* The largest sync page and claim the API allows: more values than one
 * Lua unpack gives (about 8000). */
START_TEST(test_claim_big)
{
	struct ra_context *ctx = tu_connect();
	struct ra_strlist c;
	unsigned long long next;

	at_pool(ctx, "p", 0, 0, 10000);
	ck_assert_msg(ra_health_sync(ctx, "p", 0, 10000, 0, &next) == 0,
	    "sync: %s", ctx->errstr);
	/* HSCAN's COUNT is a hint: finish the pass */
	while (next != 0)
		ck_assert_int_eq(ra_health_sync(ctx, "p", next, 10000, 0,
		    &next), 0);
	ck_assert_msg(ra_health_claim(ctx, "p", 10000, 10, &c) == 0,
	    "claim: %s", ctx->errstr);
	ck_assert_uint_eq(c.n, 10000);
	ra_strlist_deinit(&c);
	ck_assert_int_eq(ra_health_claim(ctx, "p", 10000, 10, &c), 0);
	ck_assert_uint_eq(c.n, 0);
	ra_strlist_deinit(&c);
	at_sound(ctx, "p");
	ra_free(ctx);
}
END_TEST

START_TEST(test_claim_lease_expires)
{
	struct ra_context *ctx = tu_connect();
	struct ra_strlist c;

	at_pool(ctx, "p", 0, 0, 3);
	sync_all(ctx, "p");
	ck_assert_int_eq(ra_health_claim(ctx, "p", 10, 0.05, &c), 0);
	ck_assert_uint_eq(c.n, 3);
	ra_strlist_deinit(&c);
	at_sleep_ms(80);
	/* the claimer never reported: another one gets them */
	ck_assert_int_eq(ra_health_claim(ctx, "p", 10, 10, &c), 0);
	ck_assert_uint_eq(c.n, 3);
	ra_strlist_deinit(&c);
	ra_free(ctx);
}
END_TEST

START_TEST(test_rise_fall_and_leasing)
{
	struct ra_context *ctx = tu_connect();
	struct ra_health_conf hc;
	struct ra_health_result r;
	struct ra_health_counts hcnt;
	struct ra_counts cnt;
	struct ra_gc_stats gs;
	struct ra_lease l;
	long long now = at_redis_ms();

	hc_init(&hc);
	hc.fastinter = 1;
	hc.downinter = 120;
	at_pool(ctx, "p", 0, 0, 2);
	r = report(ctx, "p", "item-000", RA_PROBE_UP, 10, &hc);
	ck_assert_int_eq(r.state, RA_HEALTH_UNKNOWN);
	ck_assert_uint_eq(r.successes, 1);
	/* changing state: the fast interval (no jitter) from the report,
	 * which ran between now and a second TIME read */
	ck_assert_int_ge(r.next_ms, now + 1000);
	ck_assert_int_le(r.next_ms, at_redis_ms() + 1000);
	r = report(ctx, "p", "item-000", RA_PROBE_UP, 10, &hc);
	ck_assert_int_eq(r.state, RA_HEALTH_UP);
	ck_assert_int_eq(r.prev, RA_HEALTH_UNKNOWN);
	ck_assert_int_ge(r.next_ms, now + 59000);
	/* WARN counts as a success, UNKNOWN counts nothing */
	r = report(ctx, "p", "item-000", RA_PROBE_WARN, 10, &hc);
	ck_assert_int_eq(r.state, RA_HEALTH_UP);
	r = report(ctx, "p", "item-000", RA_PROBE_DOWN, -1, &hc);
	ck_assert_int_eq(r.state, RA_HEALTH_UP);
	ck_assert_uint_eq(r.failures, 1);
	r = report(ctx, "p", "item-000", RA_PROBE_UNKNOWN, -1, &hc);
	ck_assert_uint_eq(r.failures, 1);
	r = report(ctx, "p", "item-000", RA_PROBE_DOWN, -1, &hc);
	ck_assert_int_eq(r.state, RA_HEALTH_UP);
	r = report(ctx, "p", "item-000", RA_PROBE_DOWN, -1, &hc);
	ck_assert_int_eq(r.state, RA_HEALTH_DOWN);
	ck_assert_int_eq(r.prev, RA_HEALTH_UP);
	ck_assert_int_ge(r.next_ms, now + 119000);
	cnt = at_counts(ctx, "p");
	ck_assert_int_eq(cnt.quarantined, 1);
	at_sound(ctx, "p");
	/* a DOWN item is never leased, whatever gc does; WARN and UNKNOWN
	 * reasons count among the errors too */
	ck_assert_int_eq(ra_gc(ctx, "p", 100, &gs), 0);
	ck_assert_int_eq(ra_lease(ctx, "p", NULL, &l), 0);
	ck_assert_str_eq(l.item, "item-001");
	ra_lease_deinit(&l);
	ck_assert_int_eq(ra_lease(ctx, "p", NULL, &l), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_EMPTY);
	ck_assert_int_eq(ra_health_counts(ctx, "p", &hcnt), 0);
	ck_assert_int_eq(hcnt.up, 0);
	ck_assert_int_eq(hcnt.down, 1);
	ck_assert_int_eq(hcnt.probes, 7);
	ck_assert_uint_eq(hcnt.errors.n, 1);
	ck_assert_str_eq(hcnt.errors.v[0],
	    "Failed to connect to #.#.#.# port #=5");
	ra_health_counts_deinit(&hcnt);
	/* back after rise successes */
	r = report(ctx, "p", "item-000", RA_PROBE_UP, 10, &hc);
	ck_assert_int_eq(r.state, RA_HEALTH_DOWN);
	r = report(ctx, "p", "item-000", RA_PROBE_UP, 10, &hc);
	ck_assert_int_eq(r.state, RA_HEALTH_UP);
	cnt = at_counts(ctx, "p");
	ck_assert_int_eq(cnt.quarantined, 0);
	ck_assert_int_eq(ra_lease(ctx, "p", NULL, &l), 0);
	ck_assert_str_eq(l.item, "item-000");
	ra_lease_deinit(&l);
	at_sound(ctx, "p");
	ra_free(ctx);
}
END_TEST

/* Calls of a command Redis ran since the last CONFIG RESETSTAT (the
 * commands a function runs are counted too). */
static long long
calls_of(redisContext *rc, const char *cmd)
{
	redisReply *r = redisCommand(rc, "INFO commandstats");
	char key[64];
	const char *p;
	long long n = 0;

	snprintf(key, sizeof key, "cmdstat_%s:calls=", cmd);
	if ((p = strstr(r->str, key)) != NULL)
		n = atoll(p + strlen(key));
	freeReplyObject(r);
	return n;
}

/* A stable item's result writes nothing but its next due time: the
 * streak counts stop at max(rise, fall) and a latency within 5% (and
 * 1 ms) of the average is not stored. */
START_TEST(test_stable_writes_nothing)
{
	struct ra_context *ctx = tu_connect();
	redisContext *rc = tu_redis();
	struct ra_health_conf hc;
	struct ra_health_result r;
	int i;

	hc_init(&hc);
	at_pool(ctx, "p", 0, 0, 1);
	for (i = 0; i < 4; i++)
		r = report(ctx, "p", "item-000", RA_PROBE_UP, 100, &hc);
	ck_assert_int_eq(r.state, RA_HEALTH_UP);
	ck_assert_uint_eq(r.successes, hc.rise > hc.fall ? hc.rise : hc.fall);
	freeReplyObject(redisCommand(rc, "CONFIG RESETSTAT"));
	r = report(ctx, "p", "item-000", RA_PROBE_UP, 102, &hc);
	ck_assert_int_eq(r.state, RA_HEALTH_UP);
	ck_assert_int_eq(calls_of(rc, "hset"), 0);
	/* a real change is written */
	r = report(ctx, "p", "item-000", RA_PROBE_UP, 400, &hc);
	ck_assert_int_ge(calls_of(rc, "hset"), 1);
	ck_assert(r.latency_ms > 100);
	redisFree(rc);
	ra_free(ctx);
}
END_TEST

/* A sync pass with nothing new to schedule scans nothing; a new item, or
 * a due set that lost entries, makes the next pass scan again. */
START_TEST(test_sync_skips)
{
	struct ra_context *ctx = tu_connect();
	redisContext *rc = tu_redis();
	struct ra_item it = { "new-item", 0, 0 };
	unsigned long long next;
	redisReply *r;

	at_pool(ctx, "p", 0, 0, 40);
	sync_all(ctx, "p");
	freeReplyObject(redisCommand(rc, "CONFIG RESETSTAT"));
	ck_assert_int_eq(ra_health_sync(ctx, "p", 0, 100, 0, &next), 0);
	ck_assert_uint_eq(next, 0);
	ck_assert_int_eq(calls_of(rc, "hscan"), 0);
	/* a new item, while a stale entry (an item gone, not yet claimed)
	 * keeps the due set as big as the pool */
	freeReplyObject(redisCommand(rc, "ZADD {ra:p}:due 9000000000000 ghost"));
	ck_assert_int_eq(ra_add(ctx, "p", &it, 1), 0);
	sync_all(ctx, "p");
	ck_assert_int_ge(calls_of(rc, "hscan"), 1);
	r = redisCommand(rc, "ZSCORE {ra:p}:due new-item");
	ck_assert(r != NULL && r->type == REDIS_REPLY_STRING);
	freeReplyObject(r);
	/* then nothing again */
	freeReplyObject(redisCommand(rc, "CONFIG RESETSTAT"));
	sync_all(ctx, "p");
	ck_assert_int_eq(calls_of(rc, "hscan"), 0);
	/* a held item removed (it drains) loses its due entry, as at an
	 * eviction, and comes back while the stale entry keeps the size */
	{
		struct ra_lease l;
		struct ra_item again = { NULL, 0, 0 };
		const char *back;

		ck_assert_int_eq(ra_lease(ctx, "p", NULL, &l), 0);
		back = again.key = l.item;
		ck_assert_int_eq(ra_remove(ctx, "p", &back, 1), 0);
		freeReplyObject(redisCommand(rc, "ZREM {ra:p}:due %s", back));
		freeReplyObject(redisCommand(rc, "ZADD {ra:p}:due 9000000000000 "
		    "ghost2"));
		ck_assert_int_eq(ra_add(ctx, "p", &again, 1), 0);
		freeReplyObject(redisCommand(rc, "CONFIG RESETSTAT"));
		sync_all(ctx, "p");
		ck_assert_int_ge(calls_of(rc, "hscan"), 1);
		r = redisCommand(rc, "ZSCORE {ra:p}:due %s", back);
		ck_assert(r != NULL && r->type == REDIS_REPLY_STRING);
		freeReplyObject(r);
		freeReplyObject(redisCommand(rc, "ZREM {ra:p}:due ghost2"));
		ck_assert_int_eq(ra_release(ctx, "p", l.token, RA_OUTCOME_OK,
		    -1), 0);
		ra_lease_deinit(&l);
	}
	/* the stale entry goes (as at its claim), and the due set loses one */
	freeReplyObject(redisCommand(rc, "ZREM {ra:p}:due ghost"));
	freeReplyObject(redisCommand(rc, "ZREM {ra:p}:due item-007"));
	sync_all(ctx, "p");
	ck_assert_int_ge(calls_of(rc, "hscan"), 1);
	r = redisCommand(rc, "ZCARD {ra:p}:due");
	ck_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
	ck_assert_int_eq(r->integer, 41);
	freeReplyObject(r);
	at_sound(ctx, "p");
	redisFree(rc);
	ra_free(ctx);
}
END_TEST

/* Two sync passes at once (two instances): one started before an add,
 * one after it and abandoned.  The first one's end must not count the
 * add as covered: HSCAN may have passed the new item's place. */
START_TEST(test_sync_concurrent)
{
	struct ra_context *ctx = tu_connect();
	redisContext *rc = tu_redis();
	struct ra_item late = { "late-item", 0, 0 };
	unsigned long long c1, c2;
	redisReply *r;

	/* a hash table (not a listpack, scanned in one call): passes page */
	freeReplyObject(redisCommand(rc, "CONFIG SET hash-max-listpack-entries "
	    "16"));
	at_pool(ctx, "p", 0, 0, 300);
	sync_all(ctx, "p");
	/* a stale entry keeps the due set as big as the pool */
	freeReplyObject(redisCommand(rc, "ZADD {ra:p}:due 9000000000000 ghost"));
	freeReplyObject(redisCommand(rc, "HINCRBY {ra:p}:meta added 1"));
	ck_assert_int_eq(ra_health_sync(ctx, "p", 0, 5, 0, &c1), 0);
	ck_assert_uint_ne(c1, 0);
	ck_assert_int_eq(ra_add(ctx, "p", &late, 1), 0);
	ck_assert_int_eq(ra_health_sync(ctx, "p", 0, 5, 0, &c2), 0);
	while (c1 != 0)		/* the first pass ends; the second never */
		ck_assert_int_eq(ra_health_sync(ctx, "p", c1, 5, 0, &c1), 0);
	/* as if the first pass had missed it */
	freeReplyObject(redisCommand(rc, "ZREM {ra:p}:due late-item"));
	freeReplyObject(redisCommand(rc, "ZADD {ra:p}:due 9000000000000 "
	    "ghost2"));
	sync_all(ctx, "p");
	r = redisCommand(rc, "ZSCORE {ra:p}:due late-item");
	ck_assert(r != NULL && r->type == REDIS_REPLY_STRING);
	freeReplyObject(r);
	freeReplyObject(redisCommand(rc, "ZREM {ra:p}:due ghost ghost2"));
	freeReplyObject(redisCommand(rc, "CONFIG SET hash-max-listpack-entries "
	    "128"));
	at_sound(ctx, "p");
	redisFree(rc);
	ra_free(ctx);
}
END_TEST

/* The answer of a steady result (the function's short path) is the one
 * the full path gives: every field, the next check inter away. */
START_TEST(test_steady_answer)
{
	struct ra_context *ctx = tu_connect();
	struct ra_health_conf hc;
	struct ra_health_result r, s;
	long long t0, t1;
	int i;

	hc_init(&hc);
	hc.fastinter = 1;
	hc.latency_step = 10;
	at_pool(ctx, "p", 0, 0, 1);
	/* rise 2, fall 3: UP at the second, the count stops at the third */
	for (i = 0; i < 3; i++)
		r = report(ctx, "p", "item-000", RA_PROBE_UP, 25, &hc);
	ck_assert_int_eq(r.state, RA_HEALTH_UP);
	ck_assert_uint_eq(r.successes, 3);
	t0 = at_redis_ms();
	s = report(ctx, "p", "item-000", RA_PROBE_UP, 25.4, &hc);
	t1 = at_redis_ms();
	ck_assert_int_eq(s.state, RA_HEALTH_UP);
	ck_assert_int_eq(s.prev, RA_HEALTH_UP);
	ck_assert_uint_eq(s.successes, 3);
	ck_assert_uint_eq(s.failures, 0);
	ck_assert(s.latency_ms == r.latency_ms);
	ck_assert_int_eq(s.latency_class, 2);
	ck_assert_int_eq(s.latency_class, r.latency_class);
	ck_assert_msg(s.next_ms >= t0 + 60000 && s.next_ms <= t1 + 60000,
	    "next check in %lld ms, not inter", s.next_ms - t0);
	ck_assert(!s.evicted && !s.unquarantined && !s.gone);
	/* rise and fall lowered: the count comes down to the new streak */
	hc.rise = 1;
	hc.fall = 1;
	s = report(ctx, "p", "item-000", RA_PROBE_UP, 25, &hc);
	ck_assert_uint_eq(s.successes, 1);
	at_sound(ctx, "p");
	ra_free(ctx);
}
END_TEST

START_TEST(test_latency_class)
{
	struct ra_context *ctx = tu_connect();
	struct ra_health_conf hc;
	struct ra_health_result r;
	struct ra_item it[] = { { "slow", 0, 0 }, { "fast", 0, 0 },
	    { "best", -1, 0 } };
	struct ra_lease l;
	int i;

	hc_init(&hc);
	hc.latency_step = 50;
	at_pool(ctx, "p", 0, 0, 0);
	ck_assert_int_eq(ra_add(ctx, "p", it, 3), 0);
	for (i = 0; i < 2; i++) {
		r = report(ctx, "p", "slow", RA_PROBE_UP, 400, &hc);
		report(ctx, "p", "fast", RA_PROBE_UP, 5, &hc);
		report(ctx, "p", "best", RA_PROBE_UP, 900, &hc);
	}
	ck_assert_int_eq(r.latency_class, 8);
	ck_assert(r.latency_ms > 399 && r.latency_ms < 401);
	/* static priority first, then latency, whatever the LRU order */
	ck_assert_int_eq(ra_lease(ctx, "p", NULL, &l), 0);
	ck_assert_str_eq(l.item, "best");
	ra_lease_deinit(&l);
	ck_assert_int_eq(ra_lease(ctx, "p", NULL, &l), 0);
	ck_assert_str_eq(l.item, "fast");
	ra_lease_deinit(&l);
	ck_assert_int_eq(ra_lease(ctx, "p", NULL, &l), 0);
	ck_assert_str_eq(l.item, "slow");
	ra_lease_deinit(&l);
	at_sound(ctx, "p");
	ra_free(ctx);
}
END_TEST

START_TEST(test_eviction)
{
	struct ra_context *ctx = tu_connect();
	struct ra_health_conf hc;
	struct ra_health_result r;
	struct ra_counts cnt;
	struct ra_strlist c;
	int i;

	hc_init(&hc);
	hc.evict_after = 0.05;
	hc.fall = 1;
	at_pool(ctx, "p", 0, 0, 2);
	sync_all(ctx, "p");
	r = report(ctx, "p", "item-000", RA_PROBE_DOWN, -1, &hc);
	ck_assert_int_eq(r.state, RA_HEALTH_DOWN);
	ck_assert_int_eq(r.evicted, 0);
	at_sleep_ms(80);
	r = report(ctx, "p", "item-000", RA_PROBE_DOWN, -1, &hc);
	ck_assert_int_eq(r.evicted, 1);
	cnt = at_counts(ctx, "p");
	ck_assert_int_eq(cnt.total, 1);
	ck_assert_int_eq(cnt.quarantined, 0);
	/* its health state and due time went with it */
	ck_assert_int_eq(ra_health_claim(ctx, "p", 10, 10, &c), 0);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_str_eq(c.v[0], "item-001");
	ra_strlist_deinit(&c);
	/* a result for an item that left changes nothing */
	r = report(ctx, "p", "item-000", RA_PROBE_UP, 1, &hc);
	ck_assert_int_eq(r.gone, 1);
	cnt = at_counts(ctx, "p");
	ck_assert_int_eq(cnt.total, 1);
	for (i = 0; i < 2; i++)
		report(ctx, "p", "item-001", RA_PROBE_UP, 1, &hc);
	at_sound(ctx, "p");
	ra_free(ctx);
}
END_TEST

/* ra_health_get: state, since, the last result of an item not UP, the
 * next check and the last error; an UP item's last result is 0 (and the
 * steady path still writes nothing); bad calls refused. */
START_TEST(test_health_get)
{
	struct ra_context *ctx = tu_connect();
	redisContext *rc = tu_redis();
	const char *keys[] = { "item-000", "item-001", "item-002" };
	const char *many[RA_HEALTH_GET_MAX + 1];
	struct ra_health_conf hc;
	struct ra_health_infos hi;
	long long t0, t1;
	size_t i;

	hc_init(&hc);
	hc.fall = 1;
	hc.downinter = 30;
	at_pool(ctx, "p", 0, 0, 3);
	t0 = at_redis_ms();
	report(ctx, "p", "item-000", RA_PROBE_DOWN, -1, &hc);
	for (i = 0; i < 3; i++)
		report(ctx, "p", "item-001", RA_PROBE_UP, 10, &hc);
	t1 = at_redis_ms();
	ck_assert_int_eq(ra_health_get(ctx, "p", keys, 3, &hi), 0);
	ck_assert_uint_eq(hi.n, 3);
	ck_assert(hi.v[0].known && hi.v[0].state == RA_HEALTH_DOWN);
	ck_assert_int_ge(hi.v[0].last_ms, t0);
	ck_assert_int_le(hi.v[0].last_ms, t1);
	ck_assert_int_eq(hi.v[0].since_ms, hi.v[0].last_ms);
	ck_assert_int_ge(hi.v[0].next_ms, hi.v[0].last_ms + 29000);
	ck_assert_str_eq(hi.v[0].reason,
	    "Failed to connect to 127.0.0.1 port 4242");
	ck_assert(hi.v[1].known && hi.v[1].state == RA_HEALTH_UP);
	ck_assert_int_eq(hi.v[1].last_ms, 0);
	ck_assert_int_gt(hi.v[1].next_ms, t0);
	ck_assert_str_eq(hi.v[1].reason, "");
	ck_assert(!hi.v[2].known);
	ck_assert_int_eq(hi.v[2].next_ms, -1);
	ra_health_infos_deinit(&hi);
	/* a DOWN item's last result moves with each probe */
	at_sleep_ms(5);
	report(ctx, "p", "item-000", RA_PROBE_DOWN, -1, &hc);
	ck_assert_int_eq(ra_health_get(ctx, "p", keys, 1, &hi), 0);
	ck_assert_int_gt(hi.v[0].last_ms, hi.v[0].since_ms);
	ra_health_infos_deinit(&hi);
	/* UP again: its last result goes; a steady UP writes nothing */
	report(ctx, "p", "item-000", RA_PROBE_UP, 10, &hc);
	report(ctx, "p", "item-000", RA_PROBE_UP, 10, &hc);
	ck_assert_int_eq(ra_health_get(ctx, "p", keys, 1, &hi), 0);
	ck_assert(hi.v[0].state == RA_HEALTH_UP && hi.v[0].last_ms == 0);
	ra_health_infos_deinit(&hi);
	freeReplyObject(redisCommand(rc, "CONFIG RESETSTAT"));
	report(ctx, "p", "item-000", RA_PROBE_UP, 10, &hc);
	ck_assert_int_eq(calls_of(rc, "hset"), 0);
	ck_assert_int_eq(calls_of(rc, "hdel"), 0);
	/* one item twice in a batch: its last result decides (UP then
	 * DOWN: recorded; DOWN then UP: gone) */
	{
		struct ra_health_probe b[2] = {
			{ "item-002", RA_PROBE_UP, 1, "", 0 },
			{ "item-002", RA_PROBE_DOWN, -1, "refused", 0 }
		};

		hc.rise = 1;
		ck_assert_int_eq(ra_health_report_batch(ctx, "p", b, 2, &hc,
		    NULL), 0);
		ck_assert_int_eq(ra_health_get(ctx, "p", keys + 2, 1, &hi), 0);
		ck_assert(hi.v[0].state == RA_HEALTH_DOWN &&
		    hi.v[0].last_ms > 0);
		ra_health_infos_deinit(&hi);
		b[0].verdict = RA_PROBE_DOWN;
		b[1].verdict = RA_PROBE_UP;
		ck_assert_int_eq(ra_health_report_batch(ctx, "p", b, 2, &hc,
		    NULL), 0);
		ck_assert_int_eq(ra_health_get(ctx, "p", keys + 2, 1, &hi), 0);
		ck_assert(hi.v[0].state == RA_HEALTH_UP &&
		    hi.v[0].last_ms == 0);
		ra_health_infos_deinit(&hi);
	}
	/* bad calls */
	ck_assert_int_eq(ra_health_get(ctx, "p", keys, 0, &hi), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	for (i = 0; i <= RA_HEALTH_GET_MAX; i++)
		many[i] = "item-000";
	ck_assert_int_eq(ra_health_get(ctx, "p", many, RA_HEALTH_GET_MAX + 1,
	    &hi), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_health_get(ctx, "p", many, RA_HEALTH_GET_MAX,
	    &hi), 0);
	ck_assert_uint_eq(hi.n, RA_HEALTH_GET_MAX);
	ra_health_infos_deinit(&hi);
	ck_assert_int_eq(ra_health_get(ctx, "nosuch", keys, 1, &hi), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NO_SUCH_POOL);
	at_sound(ctx, "p");
	redisFree(rc);
	ra_free(ctx);
}
END_TEST

/* A pool's events: appended by anyone, read newest first, capped at
 * about RA_EVENTS_MAX; bad ones refused. */
START_TEST(test_events)
{
	struct ra_context *ctx = tu_connect();
	redisContext *rc = tu_redis();
	struct ra_events ev;
	redisReply *r;
	char big[300], item[32];
	long long t0;
	size_t i;

	at_pool(ctx, "p", 0, 0, 1);
	ck_assert_int_eq(ra_events_get(ctx, "p", 10, &ev), 0);
	ck_assert_uint_eq(ev.n, 0);
	t0 = at_redis_ms();
	ck_assert_int_eq(ra_event_add(ctx, "p", "banned",
	    "http://u:***@127.0.0.1:1", t0 + 600000, "REPORT", "host:1"), 0);
	ck_assert_int_eq(ra_events_get(ctx, "p", 10, &ev), 0);
	ck_assert_uint_eq(ev.n, 1);
	ck_assert_str_eq(ev.v[0].kind, "banned");
	ck_assert_str_eq(ev.v[0].item, "http://u:***@127.0.0.1:1");
	ck_assert_str_eq(ev.v[0].detail, "REPORT");
	ck_assert_str_eq(ev.v[0].source, "host:1");
	ck_assert_int_eq(ev.v[0].until_ms, t0 + 600000);
	ck_assert_int_ge(ev.v[0].at_ms, t0);
	ra_events_deinit(&ev);
	/* 400 more: the newest first, the stream trimmed */
	for (i = 0; i < 400; i++) {
		snprintf(item, sizeof item, "http://127.0.0.1:%zu", i);
		ck_assert_int_eq(ra_event_add(ctx, "p", "down", item, 0, NULL,
		    "host:1"), 0);
	}
	ck_assert_int_eq(ra_events_get(ctx, "p", RA_EVENTS_MAX, &ev), 0);
	ck_assert_uint_eq(ev.n, RA_EVENTS_MAX);
	ck_assert_str_eq(ev.v[0].item, "http://127.0.0.1:399");
	ck_assert_str_eq(ev.v[0].detail, "");
	for (i = 1; i < ev.n; i++)
		ck_assert_int_ge(ev.v[i - 1].at_ms, ev.v[i].at_ms);
	ra_events_deinit(&ev);
	r = redisCommand(rc, "XLEN {ra:p}:events");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_ge(r->integer, RA_EVENTS_MAX);
	ck_assert_int_le(r->integer, RA_EVENTS_MAX + 200);
	freeReplyObject(r);
	/* bad ones */
	ck_assert_int_eq(ra_event_add(ctx, "p", "exploded", item, 0, NULL,
	    NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(ra_event_add(ctx, "p", "up", item, 0, big, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_events_get(ctx, "p", 0, &ev), -1);
	ck_assert_int_eq(ra_events_get(ctx, "p", RA_EVENTS_MAX + 1, &ev), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	/* a deleted pool's history goes with it */
	ck_assert_int_eq(ra_pool_delete(ctx, "p"), 0);
	r = redisCommand(rc, "EXISTS {ra:p}:events");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->integer, 0);
	freeReplyObject(r);
	redisFree(rc);
	ra_free(ctx);
}
END_TEST

START_TEST(test_end_quarantine)
{
	struct ra_context *ctx = tu_connect();
	struct ra_health_conf hc;
	struct ra_health_result r;
	struct ra_counts cnt;

	hc_init(&hc);
	at_pool(ctx, "p", 0, 0, 1);
	report(ctx, "p", "item-000", RA_PROBE_UP, 1, &hc);
	report(ctx, "p", "item-000", RA_PROBE_UP, 1, &hc);
	ck_assert_int_eq(ra_quarantine(ctx, "p", "item-000", 100), 0);
	/* off: a success does not end an ejection */
	r = report(ctx, "p", "item-000", RA_PROBE_UP, 1, &hc);
	ck_assert_int_eq(r.unquarantined, 0);
	cnt = at_counts(ctx, "p");
	ck_assert_int_eq(cnt.quarantined, 1);
	hc.end_quarantine = 1;
	r = report(ctx, "p", "item-000", RA_PROBE_UP, 1, &hc);
	ck_assert_int_eq(r.unquarantined, 1);
	cnt = at_counts(ctx, "p");
	ck_assert_int_eq(cnt.quarantined, 0);
	ck_assert_int_eq(cnt.free, 1);
	at_sound(ctx, "p");
	ra_free(ctx);
}
END_TEST

/* A passive ejection a DOWN spell covered: end_quarantine off, it runs
 * its course after the item is UP again; on, the recovery ends it. */
START_TEST(test_ejection_outlasts_down)
{
	struct ra_context *ctx = tu_connect();
	struct ra_pool_conf pc;
	struct ra_health_conf hc;
	struct ra_health_result r;
	struct ra_gc_stats gs;
	struct ra_counts cnt;
	struct ra_list lst;
	long long now;
	unsigned i;
	int endq;
	size_t j;

	hc_init(&hc);
	ra_pool_conf_init(&pc);
	pc.eject_failures = 1;
	pc.eject_base = 0.4;
	pc.eject_max = 10;
	pc.eject_max_percent = 100;
	ck_assert_int_eq(ra_pool_create(ctx, "p", &pc), 0);
	{
		struct ra_item it[2] = { { "x", 0, 0 }, { "y", 0, 0 } };

		ck_assert_int_eq(ra_add(ctx, "p", it, 2), 0);
	}
	for (endq = 0; endq <= 1; endq++) {
		const char *item = endq ? "y" : "x";

		hc.end_quarantine = endq;
		for (i = 0; i < hc.rise; i++)
			report(ctx, "p", item, RA_PROBE_UP, 1, &hc);
		now = at_redis_ms();
		ck_assert_int_eq(ra_report(ctx, "p", item, RA_OUTCOME_FAILED,
		    -1), 0);
		for (i = 0; i < hc.fall; i++)
			r = report(ctx, "p", item, RA_PROBE_DOWN, -1, &hc);
		ck_assert_int_eq(r.state, RA_HEALTH_DOWN);
		for (i = 0; i < hc.rise; i++)
			r = report(ctx, "p", item, RA_PROBE_UP, 1, &hc);
		ck_assert_int_eq(r.state, RA_HEALTH_UP);
		cnt = at_counts(ctx, "p");
		ck_assert_int_eq(ra_list(ctx, "p", RA_STATE_ANY, 0, 10, &lst),
		    0);
		ck_assert_uint_eq(lst.n, 2);
		j = strcmp(lst.items[0].key, item) == 0 ? 0 : 1;
		ck_assert_str_eq(lst.items[j].key, item);
		if (endq == 0) {
			/* still ejected, until the ejection's own end */
			ck_assert_int_eq(cnt.quarantined, 1);
			ck_assert_int_eq(lst.items[j].state, RA_STATE_QUARANTINED);
			ck_assert_int_ge(lst.items[j].until_ms, now + 400);
			ck_assert_int_le(lst.items[j].until_ms,
			    at_redis_ms() + 400);
		} else {
			ck_assert_int_eq(cnt.quarantined, 0);
			ck_assert_int_eq(lst.items[j].state, RA_STATE_FREE);
		}
		ra_list_deinit(&lst);
		at_sleep_ms(450);
		ck_assert_int_eq(ra_gc(ctx, "p", 10, &gs), 0);
		cnt = at_counts(ctx, "p");
		ck_assert_int_eq(cnt.quarantined, 0);
		ck_assert_int_eq(cnt.free, 2);
	}
	at_sound(ctx, "p");
	ra_free(ctx);
}
END_TEST

START_TEST(test_ejection_decays)
{
	struct ra_context *ctx = tu_connect();
	struct ra_pool_conf pc;
	struct ra_health_conf hc;
	struct ra_gc_stats gs;
	struct ra_list lst;
	int i;

	hc_init(&hc);
	ra_pool_conf_init(&pc);
	pc.eject_failures = 1;
	pc.eject_base = 0.05;
	pc.eject_max = 1;
	pc.eject_max_percent = 100;
	ck_assert_int_eq(ra_pool_create(ctx, "p", &pc), 0);
	{
		struct ra_item it = { "x", 0, 0 };

		ck_assert_int_eq(ra_add(ctx, "p", &it, 1), 0);
	}
	for (i = 0; i < 2; i++)
		report(ctx, "p", "x", RA_PROBE_UP, 1, &hc);
	/* two ejections in a row: n = 2 */
	ck_assert_int_eq(ra_report(ctx, "p", "x", RA_OUTCOME_FAILED, -1), 0);
	at_sleep_ms(70);
	ck_assert_int_eq(ra_gc(ctx, "p", 10, &gs), 0);
	ck_assert_int_eq(ra_report(ctx, "p", "x", RA_OUTCOME_FAILED, -1), 0);
	at_sleep_ms(120);
	ck_assert_int_eq(ra_gc(ctx, "p", 10, &gs), 0);
	ck_assert_int_eq(ra_list(ctx, "p", RA_STATE_ANY, 0, 10, &lst), 0);
	ck_assert_uint_eq(lst.items[0].ejections, 2);
	ra_list_deinit(&lst);
	/* healthy probes over an eject base time lower it */
	report(ctx, "p", "x", RA_PROBE_UP, 1, &hc);
	at_sleep_ms(70);
	report(ctx, "p", "x", RA_PROBE_UP, 1, &hc);
	ck_assert_int_eq(ra_list(ctx, "p", RA_STATE_ANY, 0, 10, &lst), 0);
	ck_assert_uint_eq(lst.items[0].ejections, 1);
	ra_list_deinit(&lst);
	at_sound(ctx, "p");
	ra_free(ctx);
}
END_TEST

START_TEST(test_bad_input)
{
	struct ra_context *ctx = tu_connect();
	struct ra_health_conf hc;
	struct ra_health_result r;
	struct ra_strlist c;

	hc_init(&hc);
	at_pool(ctx, "p", 0, 0, 1);
	ck_assert_int_eq(ra_health_claim(ctx, "p", 0, 1, &c), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	hc.rise = 0;
	ck_assert_int_eq(ra_health_report(ctx, "p", "item-000", RA_PROBE_UP,
	    1, "", &hc, &r), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	hc_init(&hc);
	ck_assert_int_eq(ra_health_report(ctx, "p", "item-000",
	    (enum ra_probe_verdict)9, 1, "", &hc, &r), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_health_report(ctx, "nope", "item-000",
	    RA_PROBE_UP, 1, "", &hc, &r), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NO_SUCH_POOL);
	/* a claim on a pool that is gone cleans up and finds nothing */
	ck_assert_int_eq(ra_health_claim(ctx, "nope", 10, 1, &c), 0);
	ck_assert_uint_eq(c.n, 0);
	ra_strlist_deinit(&c);
	ra_free(ctx);
}
END_TEST

START_TEST(test_batch)
{
	struct ra_context *ctx = tu_connect();
	struct ra_health_conf hc;
	struct ra_health_result out[3];
	struct ra_health_counts hcnt;
	struct ra_health_probe p[3] = {
		{ "item-000", RA_PROBE_UP, 10, NULL, 0 },
		{ "item-001", RA_PROBE_DOWN, -1, "timeout", 0 },
		{ "gone", RA_PROBE_UP, 1, "", 0 },
	};
	char *before, *after;

	hc_init(&hc);
	hc.rise = 1;
	hc.fall = 1;
	at_pool(ctx, "p", 0, 0, 2);
	/* one bad result rejects the whole batch, nothing changes */
	p[2].verdict = (enum ra_probe_verdict)7;
	before = at_snapshot();
	ck_assert_int_eq(ra_health_report_batch(ctx, "p", p, 3, &hc, out), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	after = at_snapshot();
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	p[2].verdict = RA_PROBE_UP;
	ck_assert_int_eq(ra_health_report_batch(ctx, "p", p, 3, &hc, out), 0);
	ck_assert_int_eq(out[0].state, RA_HEALTH_UP);
	ck_assert_int_eq(out[1].state, RA_HEALTH_DOWN);
	ck_assert_int_eq(out[2].gone, 1);
	ck_assert_int_eq(ra_health_counts(ctx, "p", &hcnt), 0);
	ck_assert_int_eq(hcnt.up, 1);
	ck_assert_int_eq(hcnt.down, 1);
	ck_assert_int_eq(hcnt.probes, 3);
	ra_health_counts_deinit(&hcnt);
	ck_assert_int_eq(ra_health_report_batch(ctx, "p", p, 0, &hc, out), -1);
	at_sound(ctx, "p");
	ra_free(ctx);
}
END_TEST

/* An item given twice in one batch: the second result sees the first. */
START_TEST(test_batch_same_item)
{
	struct ra_context *ctx = tu_connect();
	struct ra_health_conf hc;
	struct ra_health_result out[3];
	struct ra_health_probe p[3] = {
		{ "item-000", RA_PROBE_DOWN, -1, "timeout", 0 },
		{ "item-001", RA_PROBE_UP, 10, NULL, 0 },
		{ "item-000", RA_PROBE_DOWN, -1, "timeout", 0 },
	};

	hc_init(&hc);
	hc.fall = 2;
	at_pool(ctx, "p", 0, 0, 2);
	ck_assert_int_eq(ra_health_report_batch(ctx, "p", p, 3, &hc, out), 0);
	ck_assert_int_eq(out[0].failures, 1);
	ck_assert_int_eq(out[0].state, RA_HEALTH_UNKNOWN);
	ck_assert_int_eq(out[2].failures, 2);
	ck_assert_int_eq(out[2].state, RA_HEALTH_DOWN);
	ck_assert_int_eq(out[2].prev, RA_HEALTH_UNKNOWN);
	ck_assert_int_eq(out[1].successes, 1);
	at_sound(ctx, "p");
	ra_free(ctx);
}
END_TEST

/*
 * A result packed as the health_report function reads it (see build_report in
 * src/lib/health.c): verdict, latency double, random, elapsed, reason
 * length, reason, little endian.
 */
static size_t
pack_result(unsigned char *b, unsigned verdict, double lat, unsigned rnd,
    unsigned reason_len, const char *reason)
{
	uint64_t bits;
	size_t i;

	memcpy(&bits, &lat, sizeof bits);
	b[0] = (unsigned char)verdict;
	for (i = 0; i < 8; i++)
		b[1 + i] = (unsigned char)(bits >> (8 * i));
	b[9] = (unsigned char)(rnd & 0xff);
	b[10] = (unsigned char)(rnd >> 8);
	memset(b + 11, 0, 4);
	b[15] = (unsigned char)(reason_len & 0xff);
	b[16] = (unsigned char)(reason_len >> 8);
	memcpy(b + 17, reason, strlen(reason));
	return 17 + strlen(reason);
}

/* Call the health_report function with the packed results b (len bytes) for one
 * item; the reply. */
static redisReply *
report_raw(redisContext *rc, const unsigned char *b, size_t len)
{
	static const char *const suffix[] = {
		":meta", ":items", ":free", ":shared", ":leases", ":lease",
		":quarantine", ":bind", ":bindexp", ":bindrev", ":itemexp",
		":fence", ":due", ":health", ":hstats", ":hlast"
	};
	static const char *const conf[] = {
		"1", "1", "60000", "60000", "60000", "0", "0", "0", "0"
	};
	const char *argv[3 + 16 + 9 + 2];
	size_t lens[3 + 16 + 9 + 2];
	char keys[16][32];
	int argc = 0;
	size_t i;

	argv[argc++] = "FCALL";
	argv[argc++] = ra_functions[RA_FN_HEALTH_REPORT].name;
	argv[argc++] = "16";
	for (i = 0; i < 16; i++) {
		snprintf(keys[i], sizeof keys[i], "{ra:p}%s", suffix[i]);
		argv[argc++] = keys[i];
	}
	for (i = 0; i < 9; i++)
		argv[argc++] = conf[i];
	argv[argc] = (const char *)b;
	lens[argc++] = len;
	argv[argc++] = "item-000";
	for (i = 0; i < (size_t)argc; i++)
		if (argv[i] != (const char *)b)
			lens[i] = strlen(argv[i]);
	return redisCommandArgv(rc, argc, argv, lens);
}

/* The packed results are checked whole before anything changes: a short
 * record, a reason longer than the data, bytes left over, a bad verdict,
 * latency or random each get BAD_ARGUMENT naming the problem. */
START_TEST(test_report_wire)
{
	static const struct {
		unsigned	 verdict;
		double		 lat;
		unsigned	 rnd, rlen;
		const char	*reason;
		size_t		 cut, extra;
		const char	*error;
	} bad[] = {
		{ 1, 10, 0, 0, "", 7, 0, "result 1 is truncated" },
		{ 3, 10, 0, 9, "refused", 0, 0, "results are truncated" },
		{ 1, 10, 0, 0, "", 0, 3, "3 bytes too many" },
		{ 9, 10, 0, 0, "", 0, 0, "verdict must be" },
		{ 1, NAN, 0, 0, "", 0, 0, "latency must be" },
		{ 1, 1e9, 0, 0, "", 0, 0, "latency must be" },
		{ 1, 10, 1000, 0, "", 0, 0, "random must be" },
	};
	struct ra_context *ctx = tu_connect();
	redisContext *rc = tu_redis();
	unsigned char b[64];
	redisReply *r;
	char *before, *after;
	size_t i, len;

	at_pool(ctx, "p", 0, 0, 1);
	before = at_snapshot();
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		len = pack_result(b, bad[i].verdict, bad[i].lat, bad[i].rnd,
		    bad[i].rlen, bad[i].reason);
		memset(b + len, 'x', bad[i].extra);
		len = len - bad[i].cut + bad[i].extra;
		r = report_raw(rc, b, len);
		ck_assert_ptr_nonnull(r);
		ck_assert_msg(r->type == REDIS_REPLY_ERROR &&
		    strncmp(r->str, "BAD_ARGUMENT", 12) == 0 &&
		    strstr(r->str, bad[i].error) != NULL,
		    "case %zu: %s", i, r->type == REDIS_REPLY_ERROR ? r->str :
		    "not an error");
		freeReplyObject(r);
	}
	after = at_snapshot();
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	/* a good one: DOWN with its reason, rise = fall = 1 */
	len = pack_result(b, 3, -1, 999, 7, "refused");
	r = report_raw(rc, b, len);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	ck_assert_int_eq(r->len, 21);
	ck_assert_int_eq(r->str[0], RA_HEALTH_DOWN);
	freeReplyObject(r);
	at_sound(ctx, "p");
	redisFree(rc);
	ra_free(ctx);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("health");
	TCase *tc = tcase_create("health");

	tcase_add_test(tc, test_claim_once);
	tcase_add_test(tc, test_claim_lease_expires);
	tcase_add_test(tc, test_sync_skips);
	tcase_add_test(tc, test_sync_concurrent);
	tcase_add_test(tc, test_claim_big);
	tcase_add_test(tc, test_rise_fall_and_leasing);
	tcase_add_test(tc, test_stable_writes_nothing);
	tcase_add_test(tc, test_steady_answer);
	tcase_add_test(tc, test_latency_class);
	tcase_add_test(tc, test_eviction);
	tcase_add_test(tc, test_health_get);
	tcase_add_test(tc, test_events);
	tcase_add_test(tc, test_end_quarantine);
	tcase_add_test(tc, test_ejection_outlasts_down);
	tcase_add_test(tc, test_ejection_decays);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_batch);
	tcase_add_test(tc, test_batch_same_item);
	tcase_add_test(tc, test_report_wire);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
