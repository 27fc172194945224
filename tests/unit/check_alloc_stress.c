/*
 * check_alloc_stress.c: several processes leasing from one pool at once.
 * Every grant is claimed in a side ZSET (item -> live tokens, trimmed by
 * the Redis clock exactly as the allocator reclaims leases) so two live
 * exclusive leases on one item, or more than max_shares shared ones, are
 * caught the moment they happen.  Some clients "crash": they never
 * release and leave their leases to expire.  Also: mass expiry stays
 * bounded per call (counted, not timed).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ra_alloc.h"
#include "testutil.h"
#include "alloc_testutil.h"

#define NPROC	4
#define NOPS	2500

/* Claim: drop expired tokens, add ours until its expiry, count holders
 * (0 when our lease already ended before we got to claim it). */
static const char claim_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
    "if tonumber(ARGV[2]) <= now then return 0 end\n"
    "redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])\n"
    "return redis.call('ZCARD', KEYS[1])\n";

/* One client's run; returns the number of violations (exit status). */
static int
client(int id, int shared, unsigned max)
{
	struct ra_context *ctx = tu_connect_again();
	redisContext *rc = tu_redis();
	struct ra_lease_req req;
	struct ra_lease l;
	redisReply *r;
	int i, bad = 0, grants = 0;

	srand(1000u + (unsigned)id);
	ra_lease_req_init(&req);
	req.shared = shared;
	for (i = 0; i < NOPS; i++) {
		req.ttl = 0.03 + (rand() % 100) / 1000.0;
		if (ra_lease(ctx, "st", &req, &l) != 0) {
			if (ctx->err != RA_ERR_EMPTY) {
				fprintf(stderr, "lease: %s\n", ctx->errstr);
				bad++;
			}
			at_sleep_ms(1);	/* wait for a crashed lease to end */
			continue;
		}
		grants++;
		r = redisCommand(rc, "EVAL %s 1 own:%s %s %lld", claim_lua,
		    l.item, l.token, l.expires_ms);
		if (r == NULL || r->type != REDIS_REPLY_INTEGER ||
		    r->integer > (shared ? (long long)max : 1)) {
			fprintf(stderr, "client %d: %s held by %lld at once\n",
			    id, l.item, r ? r->integer : -1);
			bad++;
		}
		freeReplyObject(r);
		if (rand() % 20 == 0) {		/* crash: never released */
			ra_lease_deinit(&l);
			continue;
		}
		/* unclaim first, then release */
		freeReplyObject(redisCommand(rc, "ZREM own:%s %s", l.item,
		    l.token));
		if (ra_release(ctx, "st", l.token, RA_OUTCOME_OK, -1) != 0 &&
		    ctx->err != RA_ERR_NOT_OWNED) {
			fprintf(stderr, "release: %s\n", ctx->errstr);
			bad++;
		}
		ra_lease_deinit(&l);
	}
	if (grants < NOPS / 10) {
		fprintf(stderr, "client %d: only %d grants\n", id, grants);
		bad++;
	}
	redisFree(rc);
	ra_free(ctx);
	return bad > 100 ? 100 : bad;
}

/* Fork NPROC clients on a pool of nitems and wait for them. */
static void
run_clients(int shared, unsigned max, size_t nitems)
{
	struct ra_context *ctx = tu_connect();
	pid_t pids[NPROC];
	int i, status, failed = 0;

	at_pool(ctx, "st", shared, max, nitems);
	for (i = 0; i < NPROC; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			ra_free(ctx);	/* the parent's; each client has its own */
			_exit(client(i, shared, max));
		}
	}
	for (i = 0; i < NPROC; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	ck_assert_msg(failed == 0, "%d clients saw violations", failed);
	at_sound(ctx, "st");
	/* the crashed clients' leases come back by themselves */
	at_sleep_ms(200);
	{
		struct ra_gc_stats g;
		struct ra_counts c;

		ck_assert_int_eq(ra_gc(ctx, "st", 1000, &g), 0);
		c = at_counts(ctx, "st");
		ck_assert_int_eq(c.leases, 0);
		ck_assert_int_eq(c.free, (long long)nitems);
	}
	at_sound(ctx, "st");
	ra_free(ctx);
}

START_TEST(test_exclusive_processes)
{
	run_clients(0, 0, 30);
}
END_TEST

START_TEST(test_shared_processes)
{
	run_clients(1, 3, 8);
}
END_TEST

/* Leases in the pool's index, live or expired and not reclaimed yet (a
 * raw ZCARD: no script runs, so asking reclaims nothing). */
static long long
leases_indexed(redisContext *rc)
{
	redisReply *r;
	long long n;

	r = redisCommand(rc, "ZCARD {ra:m}:leases");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
	n = r->integer;
	freeReplyObject(r);
	return n;
}

START_TEST(test_mass_expiry_bounded)
{
	struct ra_context *ctx = tu_connect();
	struct ra_lease_req req;
	struct ra_lease l;
	struct ra_gc_stats g;
	char (*tokens)[RA_TOKEN_LEN + 1];
	long long before, after, got;
	size_t i, n = 20000;
	int rounds = 0;
	redisContext *rc;

	at_pool(ctx, "m", 0, 0, n);
	/* 20000 leases long enough that none expires while they are made,
	 * then each renewed to 1 ms: all expired at once, none reclaimed yet
	 * (renew reclaims nothing else) */
	tokens = calloc(n, sizeof *tokens);
	ck_assert_ptr_nonnull(tokens);
	ra_lease_req_init(&req);
	req.ttl = 3600;
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(ra_lease(ctx, "m", &req, &l), 0);
		memcpy(tokens[i], l.token, sizeof tokens[i]);
		ra_lease_deinit(&l);
	}
	for (i = 0; i < n; i++)
		ck_assert_int_eq(ra_renew(ctx, "m", tokens[i], 0.001, NULL), 0);
	free(tokens);
	at_sleep_ms(10);
	rc = tu_redis();
	ck_assert_int_eq(leases_indexed(rc), (long long)n);
	/* 20000 expired leases: each lease call reclaims a small batch (and
	 * adds its own lease), never all of them at once */
	for (i = 0; i < 200; i++) {
		before = leases_indexed(rc);
		ck_assert_int_eq(ra_lease(ctx, "m", NULL, &l), 0);
		ra_lease_deinit(&l);
		after = leases_indexed(rc);
		got = before - after + 1;
		ck_assert_msg(got >= 1 && got <= RA_RECLAIM_BATCH,
		    "lease %zu reclaimed %lld expired leases (batch %d)", i,
		    got, RA_RECLAIM_BATCH);
	}
	/* gc reclaims at most half a batch per call whatever count it is
	 * given (a call's Redis time stays bounded), and says how many */
	do {
		before = leases_indexed(rc);
		ck_assert_int_eq(ra_gc(ctx, "m", 100000, &g), 0);
		after = leases_indexed(rc);
		ck_assert_int_eq(g.leases, before - after);
		ck_assert_int_le(g.leases, RA_CHUNK(RA_BATCH_DEFAULT));
		ck_assert_int_lt(++rounds, 1000);
	} while (g.leases > 0);
	ck_assert_int_ge(rounds, (int)((n - 200 * RA_RECLAIM_BATCH) /
	    RA_CHUNK(RA_BATCH_DEFAULT)));
	redisFree(rc);
	ck_assert_int_eq(at_counts(ctx, "m").leases, 200);
	at_sound(ctx, "m");
	ra_free(ctx);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("alloc_stress");
	TCase *tc;

	tc = tcase_create("processes");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_exclusive_processes);
	tcase_add_test(tc, test_shared_processes);
	suite_add_tcase(s, tc);
	tc = tcase_create("expiry");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_mass_expiry_bounded);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
