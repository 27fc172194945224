/*
 * check_lock.c: the distributed lock against a real Redis: exclusion,
 * TTLs, extend, ownership, status, conditional setters, blocking acquire
 * (deadline, no spinning, prompt wake-up), a multi-process race with
 * fences, the lock pool and the async calls.
 */
#include "config.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>

#include "ra_internal.h"
#include "testutil.h"

static long long
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The test Redis' clock in ms (TIME): the lock's TTLs run on it. */
static long long
redis_ms(void)
{
	redisContext *rc = tu_redis();
	redisReply *r = redisCommand(rc, "TIME");
	long long ms;

	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	ms = atoll(r->element[0]->str) * 1000 +
	    atoll(r->element[1]->str) / 1000;
	freeReplyObject(r);
	redisFree(rc);
	return ms;
}

/* Run a raw command on the test Redis and return its integer reply. */
static long long
raw_int(const char *fmt, const char *arg)
{
	redisContext *rc = tu_redis();
	redisReply *r = redisCommand(rc, fmt, arg);
	long long v;

	ck_assert_ptr_nonnull(r);
	ck_assert_msg(r->type == REDIS_REPLY_INTEGER, "%s: type %d %s", fmt,
	    r->type, r->type == REDIS_REPLY_ERROR ? r->str : "");
	v = r->integer;
	freeReplyObject(r);
	redisFree(rc);
	return v;
}

static long long
pttl(const char *name)
{
	char key[2048];

	ck_assert_int_gt(ra_lock_key("ra", name, key, sizeof key), 0);
	return raw_int("PTTL %s", key);
}

/* How many keys match a pattern. */
static size_t
keys_matching(const char *pattern)
{
	redisContext *rc = tu_redis();
	redisReply *r = redisCommand(rc, "KEYS %s", pattern);
	size_t n;

	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	n = r->elements;
	freeReplyObject(r);
	redisFree(rc);
	return n;
}

/* calls=N of one command in INFO commandstats (0 when never called). */
static long long
cmd_calls(const char *cmd)
{
	redisContext *rc = tu_redis();
	redisReply *r = redisCommand(rc, "INFO commandstats");
	char needle[64];
	const char *p;
	long long v = 0;

	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	snprintf(needle, sizeof needle, "cmdstat_%s:calls=", cmd);
	if ((p = strstr(r->str, needle)) != NULL)
		v = atoll(p + strlen(needle));
	freeReplyObject(r);
	redisFree(rc);
	return v;
}

static void
reset_stats(void)
{
	redisContext *rc = tu_redis();
	redisReply *r = redisCommand(rc, "CONFIG RESETSTAT");

	freeReplyObject(r);
	redisFree(rc);
}

/* Wait (bounded) until Redis has n clients blocked in BLPOP. */
static void
wait_blocked(long long n)
{
	redisContext *rc = tu_redis();
	const char *p;
	redisReply *r;
	int i;

	for (i = 0; i < 1000; i++) {
		r = redisCommand(rc, "INFO clients");
		p = strstr(r->str, "blocked_clients:");
		if (p != NULL && atoll(p + 16) >= n) {
			freeReplyObject(r);
			redisFree(rc);
			return;
		}
		freeReplyObject(r);
		usleep(5000);
	}
	redisFree(rc);
	ck_abort_msg("no client blocked after 5 s");
}

START_TEST(test_one_winner)
{
	struct ra_context *a = tu_connect(), *b = tu_connect_again();
	long long f1 = 0, f2 = 0;
	char *owner;

	ck_assert_int_eq(ra_lock(a, "job", "A", 10, &f1), 0);
	ck_assert_int_gt(f1, 0);
	ck_assert_int_eq(ra_lock(b, "job", "B", 10, &f2), -1);
	ck_assert_int_eq(b->err, RA_ERR_BUSY);
	/* plain lock is not re-entrant */
	ck_assert_int_eq(ra_lock(a, "job", "A", 10, &f2), -1);
	ck_assert_int_eq(a->err, RA_ERR_BUSY);
	ck_assert_int_eq(ra_is_locked(b, "job"), 1);
	ck_assert_int_eq(ra_lock_value(b, "job", &owner), 0);
	ck_assert_str_eq(owner, "A");
	free(owner);
	/* the loser wins after release, with a larger fence */
	ck_assert_int_eq(ra_unlock(a, "job", "A"), 0);
	ck_assert_int_eq(ra_is_locked(b, "job"), 0);
	ck_assert_int_eq(ra_lock_value(b, "job", &owner), 0);
	ck_assert_ptr_null(owner);
	ck_assert_int_eq(ra_lock(b, "job", "B", 10, &f2), 0);
	ck_assert_int_gt(f2, f1);
	ck_assert_int_eq(ra_lock(a, "job", "A", 10, NULL), -1);
	ck_assert_int_eq(a->err, RA_ERR_BUSY);
	ra_free(a);
	ra_free(b);
}
END_TEST

START_TEST(test_ttl_int_and_fraction)
{
	struct ra_context *ctx = tu_connect();
	long long t;

	ck_assert_int_eq(ra_lock(ctx, "i", "o", 10, NULL), 0);
	t = pttl("i");
	ck_assert_int_gt(t, 9000);
	ck_assert_int_le(t, 10000);
	ck_assert_int_eq(ra_lock(ctx, "f", "o", 2.5, NULL), 0);
	t = pttl("f");
	ck_assert_int_gt(t, 2000);
	ck_assert_int_le(t, 2500);
	ck_assert_int_eq(ra_lock(ctx, "g", "o", 0.25, NULL), 0);
	t = pttl("g");
	ck_assert_int_gt(t, 0);
	ck_assert_int_le(t, 250);
	/* 0 and negative: no expiry */
	ck_assert_int_eq(ra_lock(ctx, "z", "o", 0, NULL), 0);
	ck_assert_int_eq(pttl("z"), -1);
	ck_assert_int_eq(ra_lock(ctx, "n", "o", -3, NULL), 0);
	ck_assert_int_eq(pttl("n"), -1);
	ra_free(ctx);
}
END_TEST

START_TEST(test_rlock)
{
	struct ra_context *ctx = tu_connect();
	long long f1, f2, f3;

	ck_assert_int_eq(ra_rlock(ctx, "r", "A", 5, &f1), 0);
	ck_assert_int_eq(ra_rlock(ctx, "r", "A", 20, &f2), 0);
	ck_assert_int_gt(f2, f1);
	ck_assert_int_gt(pttl("r"), 15000);
	ck_assert_int_eq(ra_rlock(ctx, "r", "B", 5, &f3), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BUSY);
	/* re-entry with no TTL makes it persistent */
	ck_assert_int_eq(ra_rlock(ctx, "r", "A", 0, &f3), 0);
	ck_assert_int_gt(f3, f2);
	ck_assert_int_eq(pttl("r"), -1);
	/* the fence counter is per name: a new name's starts from the Redis
	 * clock (ms x 1000), below the counter of "r" drawn earlier */
	ck_assert_int_eq(ra_lock(ctx, "other", "A", 5, &f3), 0);
	ck_assert_int_ge(f3, f1);
	ck_assert_int_le(f3, f1 + 100000000LL);
	ra_free(ctx);
}
END_TEST

START_TEST(test_extend)
{
	struct ra_context *ctx = tu_connect();
	long long t;

	ck_assert_int_eq(ra_lock(ctx, "e", "A", 10, NULL), 0);
	ck_assert_int_eq(ra_lock_extend(ctx, "e", "A", 5, 0, &t), 0);
	ck_assert_int_gt(t, 14000);
	ck_assert_int_le(t, 15000);
	ck_assert_int_gt(pttl("e"), 14000);
	ck_assert_int_eq(ra_lock_extend(ctx, "e", "A", 3, 1, &t), 0);
	ck_assert_int_gt(t, 2000);
	ck_assert_int_le(t, 3000);
	ck_assert_int_le(pttl("e"), 3000);
	ck_assert_int_eq(ra_lock_extend(ctx, "e", "A", 1.5, 0, &t), 0);
	ck_assert_int_gt(t, 3500);
	ck_assert_int_le(t, 4500);
	/* adding needs time > 0; replacing with 0 removes the expiry */
	ck_assert_int_eq(ra_lock_extend(ctx, "e", "A", 0, 0, &t), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_lock_extend(ctx, "e", "A", 0, 1, &t), 0);
	ck_assert_int_eq(t, -1);
	ck_assert_int_eq(pttl("e"), -1);
	/* adding to a lock without expiry keeps it without */
	ck_assert_int_eq(ra_lock_extend(ctx, "e", "A", 5, 0, &t), 0);
	ck_assert_int_eq(t, -1);
	ra_free(ctx);
}
END_TEST

START_TEST(test_not_owner)
{
	struct ra_context *ctx = tu_connect();
	long long t, before;
	char *owner;

	ck_assert_int_eq(ra_lock(ctx, "n", "A", 10, NULL), 0);
	before = pttl("n");
	ck_assert_int_eq(ra_lock_extend(ctx, "n", "B", 100, 0, &t), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_OWNED);
	ck_assert_int_eq(ra_lock_extend(ctx, "n", "B", 100, 1, &t), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_OWNED);
	ck_assert_int_le(pttl("n"), before);
	ck_assert_int_eq(ra_unlock(ctx, "n", "B"), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_OWNED);
	ck_assert_int_eq(ra_lock_value(ctx, "n", &owner), 0);
	ck_assert_str_eq(owner, "A");
	free(owner);
	ck_assert_int_le(pttl("n"), before);
	ra_free(ctx);
}
END_TEST

START_TEST(test_after_expiry)
{
	struct ra_context *ctx = tu_connect();
	int i;

	ck_assert_int_eq(ra_lock(ctx, "x", "A", 0.1, NULL), 0);
	for (i = 0; i < 200 && ra_is_locked(ctx, "x") == 1; i++)
		usleep(10000);
	ck_assert_int_eq(ra_is_locked(ctx, "x"), 0);
	ck_assert_int_eq(ra_lock_extend(ctx, "x", "A", 10, 0, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_OWNED);
	ck_assert_int_eq(ra_lock_extend(ctx, "x", "A", 10, 1, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_OWNED);
	ck_assert_int_eq(ra_unlock(ctx, "x", "A"), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_OWNED);
	ck_assert_int_eq(ra_is_locked(ctx, "x"), 0);
	ck_assert_int_eq(pttl("x"), -2);
	ra_free(ctx);
}
END_TEST

START_TEST(test_update_and_force_unlock)
{
	struct ra_context *ctx = tu_connect();
	char *owner;

	ck_assert_int_eq(ra_lock(ctx, "u", "A", 10, NULL), 0);
	ck_assert_int_eq(ra_lock_update(ctx, "u", "B", 30), 0);
	ck_assert_int_eq(ra_lock_value(ctx, "u", &owner), 0);
	ck_assert_str_eq(owner, "B");
	free(owner);
	ck_assert_int_gt(pttl("u"), 20000);
	ck_assert_int_eq(ra_lock_update(ctx, "u", "B", 0), 0);
	ck_assert_int_eq(pttl("u"), -1);
	ck_assert_int_eq(ra_unlock(ctx, "u", "A"), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_OWNED);
	ck_assert_int_eq(ra_force_unlock(ctx, "u"), 1);
	ck_assert_int_eq(ra_is_locked(ctx, "u"), 0);
	ck_assert_int_eq(ra_force_unlock(ctx, "u"), 0);
	ra_free(ctx);
}
END_TEST

START_TEST(test_key_status)
{
	struct ra_context *ctx = tu_connect();
	enum ra_lock_status st;

	ck_assert_int_eq(ra_lock_key_status(ctx, "s", 120, &st), 0);
	ck_assert_int_eq(st, RA_LOCK_FREE);
	ck_assert_str_eq(ra_lock_status_name(st), "FREE");
	ck_assert_int_eq(ra_lock(ctx, "s", "A", 60, NULL), 0);
	ck_assert_int_eq(ra_lock_key_status(ctx, "s", 120, &st), 0);
	ck_assert_int_eq(st, RA_LOCK_LOCKED);
	ck_assert_str_eq(ra_lock_status_name(st), "LOCKED");
	/* the same lock is unavailable to a caller who waits only 30 s */
	ck_assert_int_eq(ra_lock_key_status(ctx, "s", 30, &st), 0);
	ck_assert_int_eq(st, RA_LOCK_UNAVAILABLE);
	ck_assert_int_eq(ra_lock(ctx, "t", "A", 300, NULL), 0);
	ck_assert_int_eq(ra_lock_key_status(ctx, "t", 120, &st), 0);
	ck_assert_int_eq(st, RA_LOCK_UNAVAILABLE);
	ck_assert_str_eq(ra_lock_status_name(st), "UNAVAILABLE");
	ck_assert_int_eq(ra_lock(ctx, "p", "A", 0, NULL), 0);
	ck_assert_int_eq(ra_lock_key_status(ctx, "p", 120, &st), 0);
	ck_assert_int_eq(st, RA_LOCK_ERROR);
	ck_assert_str_eq(ra_lock_status_name(st), "ERROR");
	ck_assert_int_eq(ra_lock_key_status(ctx, "p", NAN, &st), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ra_free(ctx);
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct ra_context *ctx = tu_connect();
	char big[RA_KEY_MAX + 2], ok[RA_KEY_MAX + 1], key[4096];
	const char *names[2] = { "a", "" };

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memset(ok, 'y', sizeof ok - 1);
	ok[sizeof ok - 1] = '\0';
	ck_assert_int_eq(ra_lock(ctx, "", "A", 1, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_lock(ctx, NULL, "A", 1, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_lock(ctx, big, "A", 1, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_lock(ctx, "a", "", 1, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_lock(ctx, "a", NULL, 1, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_lock(ctx, "a", "A", NAN, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_lock(ctx, "a", "A", INFINITY, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_lock(ctx, "a", "A", 1e12, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_unlock(ctx, big, "A"), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_lock_wait(ctx, "a", "A", 1, NAN, 0, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_lock_wait(ctx, "a", "A", 1, 1, 0x10, NULL), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_setgt(ctx, "a", NAN, NULL, 0), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_lock_set_if(ctx, "a", RA_CMP__COUNT, 1, NULL, 0),
	    -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_lock_pool_add(ctx, "p", names, 2), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_lock_pool_add(ctx, "", names, 1), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	/* nothing was written */
	ck_assert_int_eq(raw_int("DBSIZE", NULL), 0);
	/* 1024 bytes is allowed */
	ck_assert_int_eq(ra_lock(ctx, ok, "A", 1, NULL), 0);
	ck_assert_int_eq(ra_lock_key("ra", big, key, sizeof key), -1);
	ck_assert_int_eq(ra_lock_key("ra", "n", key, 4), -1);
	ck_assert_int_eq(ra_lock_key("ra", "n", key, sizeof key), 11);
	ck_assert_str_eq(key, "{ra:lock:n}");
	ck_assert_int_eq(ra_lock_signal_key("ra", "n", key, sizeof key), 18);
	ck_assert_str_eq(key, "{ra:lock:n}:signal");
	ck_assert_int_eq(ra_lock_check("n", "o", 1, key), 0);
	ck_assert_int_eq(ra_lock_check("n", "", 1, key), -1);
	ck_assert_ptr_nonnull(strstr(key, "owner"));
	ra_free(ctx);
}
END_TEST

/* One conditional case: stored value (NULL: missing), operation, value,
 * expected result. */
static const struct cond_case {
	const char	*stored;
	enum ra_lock_cmp op;
	double		 value;
	int		 holds;
} cond_cases[] = {
	{ "5", RA_CMP_GT, 6, 1 }, { "5", RA_CMP_GT, 5, 0 },
	{ "5", RA_CMP_GT, 4, 0 },
	{ "5", RA_CMP_LT, 4, 1 }, { "5", RA_CMP_LT, 5, 0 },
	{ "5", RA_CMP_LT, 6, 0 },
	{ "5", RA_CMP_GE, 5, 1 }, { "5", RA_CMP_GE, 6, 1 },
	{ "5", RA_CMP_GE, 4, 0 },
	{ "5", RA_CMP_LE, 5, 1 }, { "5", RA_CMP_LE, 4, 1 },
	{ "5", RA_CMP_LE, 6, 0 },
	{ "5", RA_CMP_EQ, 5, 1 }, { "5", RA_CMP_EQ, 5.5, 0 },
	{ "5", RA_CMP_NE, 5.5, 1 }, { "5", RA_CMP_NE, 5, 0 },
	/* within epsilon counts as equal */
	{ "5", RA_CMP_EQ, 5 + 1e-12, 1 }, { "5", RA_CMP_GT, 5 + 1e-12, 0 },
	{ "5", RA_CMP_NE, 5 - 1e-12, 0 }, { "5", RA_CMP_LT, 5 - 1e-12, 0 },
	{ "5", RA_CMP_GT, 5 + 1e-6, 1 },
	{ "2.5", RA_CMP_LT, 2.25, 1 }, { "-1", RA_CMP_GT, -0.5, 1 },
	/* a missing key counts as true for every operation */
	{ NULL, RA_CMP_GT, 0, 1 }, { NULL, RA_CMP_LT, 0, 1 },
	{ NULL, RA_CMP_GE, 0, 1 }, { NULL, RA_CMP_LE, 0, 1 },
	{ NULL, RA_CMP_EQ, 0, 1 }, { NULL, RA_CMP_NE, 0, 1 },
};

/* Reset key "c" to stored (or delete it). */
static void
cond_reset(const char *stored)
{
	redisContext *rc = tu_redis();
	redisReply *r;

	r = stored != NULL ? redisCommand(rc, "SET {ra:lock:c} %s", stored) :
	    redisCommand(rc, "DEL {ra:lock:c}");
	freeReplyObject(r);
	redisFree(rc);
}

static char *
cond_value(struct ra_context *ctx)
{
	char *v;

	ck_assert_int_eq(ra_lock_value(ctx, "c", &v), 0);
	return v;
}

START_TEST(test_conditional)
{
	struct ra_context *ctx = tu_connect();
	size_t i;
	char *v;
	int ttl;

	for (i = 0; i < sizeof cond_cases / sizeof cond_cases[0]; i++) {
		const struct cond_case *c = &cond_cases[i];

		for (ttl = 0; ttl < 2; ttl++) {
			/* set with an explicit value */
			cond_reset(c->stored);
			ck_assert_msg(ra_lock_set_if(ctx, "c", c->op, c->value,
			    "new", ttl ? 30 : 0) == c->holds,
			    "case %zu set: %s", i, ctx->errstr);
			v = cond_value(ctx);
			if (c->holds) {
				ck_assert_str_eq(v, "new");
				if (ttl) {
					ck_assert_int_gt(pttl("c"), 20000);
				} else {
					ck_assert_int_eq(pttl("c"), -1);
				}
			} else {
				ck_assert_str_eq(v, c->stored);
				ck_assert_int_eq(pttl("c"), -1);
			}
			free(v);
		}
		/* del */
		cond_reset(c->stored);
		ck_assert_msg(ra_lock_del_if(ctx, "c", c->op, c->value) ==
		    c->holds, "case %zu del: %s", i, ctx->errstr);
		v = cond_value(ctx);
		if (c->holds)
			ck_assert_ptr_null(v);
		else
			ck_assert_str_eq(v, c->stored);
		free(v);
	}
	/* the named wrappers, and set_value NULL storing the value */
	cond_reset("10");
	ck_assert_int_eq(ra_setgt(ctx, "c", 11, NULL, 0), 1);
	v = cond_value(ctx);
	ck_assert_str_eq(v, "11");
	free(v);
	ck_assert_int_eq(ra_setgt(ctx, "c", 11, NULL, 0), 0);
	ck_assert_int_eq(ra_setge(ctx, "c", 11, "x1", 0), 1);
	cond_reset("0.1");
	ck_assert_int_eq(ra_setlt(ctx, "c", 0.05, NULL, 5), 1);
	v = cond_value(ctx);
	ck_assert_str_eq(v, "0.05");
	free(v);
	ck_assert_int_gt(pttl("c"), 4000);
	ck_assert_int_eq(ra_setle(ctx, "c", 0.05, NULL, 0), 1);
	ck_assert_int_eq(ra_seteq(ctx, "c", 0.05, "7", 0), 1);
	ck_assert_int_eq(ra_setne(ctx, "c", 7, "8", 0), 0);
	ck_assert_int_eq(ra_setne(ctx, "c", 6, "8", 0), 1);
	ck_assert_int_eq(ra_delgt(ctx, "c", 8), 0);
	ck_assert_int_eq(ra_dellt(ctx, "c", 8), 0);
	ck_assert_int_eq(ra_delne(ctx, "c", 8), 0);
	ck_assert_int_eq(ra_delge(ctx, "c", 8), 1);
	ck_assert_int_eq(ra_delle(ctx, "c", 8), 1);	/* missing: true */
	ck_assert_int_eq(ra_deleq(ctx, "c", 8), 1);
	/* a stored value that is not a number is an error, untouched */
	cond_reset("owner-A");
	ck_assert_int_eq(ra_setgt(ctx, "c", 1, NULL, 0), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_delne(ctx, "c", 1), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	v = cond_value(ctx);
	ck_assert_str_eq(v, "owner-A");
	free(v);
	ra_free(ctx);
}
END_TEST

START_TEST(test_signal_list_bounded)
{
	struct ra_context *ctx = tu_connect();
	long long t;
	int i;

	/* releases nobody waits for leave a short-lived, trimmed list */
	for (i = 0; i < 40; i++) {
		ck_assert_int_eq(ra_lock(ctx, "sig", "A", 10, NULL), 0);
		ck_assert_int_eq(ra_unlock(ctx, "sig", "A"), 0);
	}
	ck_assert_int_eq(raw_int("LLEN %s", "{ra:lock:sig}:signal"), 16);
	t = raw_int("PTTL %s", "{ra:lock:sig}:signal");
	ck_assert_int_gt(t, 0);
	ck_assert_int_le(t, RA_LOCK_SIGNAL_MS);
	/* a failed unlock signals nothing */
	ck_assert_int_eq(ra_unlock(ctx, "sig2", "A"), -1);
	ck_assert_int_eq(raw_int("EXISTS %s", "{ra:lock:sig2}:signal"), 0);
	ra_free(ctx);
}
END_TEST

START_TEST(test_wait_gives_up_without_spinning)
{
	struct ra_context *a = tu_connect(), *b = tu_connect_again();
	long long t0, el, fence = 0;

	ck_assert_int_eq(ra_lock(a, "w", "A", 30, NULL), 0);
	reset_stats();
	t0 = mono_us();
	ck_assert_int_eq(ra_lock_wait(b, "w", "B", 10, 1.0, 0, &fence), -1);
	el = mono_us() - t0;
	ck_assert_int_eq(b->err, RA_ERR_BUSY);
	ck_assert_int_eq(fence, 0);
	ck_assert_int_ge(el, 950000);
	ck_assert_int_lt(el, 2500000);
	/* a handful of calls, not a spin */
	ck_assert_int_ge(cmd_calls("blpop"), 1);
	ck_assert_int_le(cmd_calls("blpop"), 3);
	ck_assert_int_le((cmd_calls("fcall") + cmd_calls("fcall_ro")), 4);
	ck_assert_int_le(cmd_calls("set"), 4);
	/* wait 0 tries once */
	reset_stats();
	ck_assert_int_eq(ra_lock_wait(b, "w", "B", 10, 0, 0, &fence), -1);
	ck_assert_int_eq(b->err, RA_ERR_BUSY);
	ck_assert_int_eq(cmd_calls("blpop"), 0);
	ck_assert_int_eq((cmd_calls("fcall") + cmd_calls("fcall_ro")), 1);
	/* a free lock is taken at once; re-entrant waits take it too */
	ck_assert_int_eq(ra_lock_wait(b, "w2", "B", 10, 5, 0, &fence), 0);
	ck_assert_int_gt(fence, 0);
	ck_assert_int_eq(ra_lock_wait(b, "w2", "B", 10, 0.2,
	    RA_LOCK_REENTRANT, &fence), 0);
	ra_free(a);
	ra_free(b);
}
END_TEST

START_TEST(test_wait_under_command_timeout)
{
	struct ra_options opt = { 0 };
	struct ra_context *a = tu_connect(), *b;
	long long t0, el;
	struct timeval tv;
	socklen_t len;

	/* a wait longer than the command timeout ends BUSY at its
	 * deadline, not with a socket timeout */
	opt.path = tu_redis_socket();
	opt.command_timeout.tv_usec = 200000;
	b = ra_connect(&opt);
	ck_assert_int_eq(b->err, 0);
	ck_assert_int_eq(ra_lock(a, "w", "A", 30, NULL), 0);
	reset_stats();
	t0 = mono_us();
	ck_assert_int_eq(ra_lock_wait(b, "w", "B", 10, 1.0, 0, NULL), -1);
	el = mono_us() - t0;
	ck_assert_msg(b->err == RA_ERR_BUSY, "%s: %s", ra_strerror(b->err),
	    b->errstr);
	ck_assert_int_ge(el, 950000);
	ck_assert_int_lt(el, 2500000);
	ck_assert_int_ge(cmd_calls("blpop"), 1);
	ck_assert_int_le(cmd_calls("blpop"), 3);
	/* the 200 ms socket timeout is back on the same connection */
	ck_assert_ptr_nonnull(b->rc);
	len = sizeof tv;
	ck_assert_int_eq(getsockopt(b->rc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    &len), 0);
	ck_assert_int_eq(tv.tv_sec, 0);
	ck_assert_int_eq(tv.tv_usec, 200000);
	/* and a release still wakes it */
	ck_assert_int_eq(ra_unlock(a, "w", "A"), 0);
	ck_assert_int_eq(ra_lock_wait(b, "w", "B", 10, 1.0, 0, NULL), 0);
	ra_free(a);
	ra_free(b);
}
END_TEST

START_TEST(test_wait_wakes_on_release)
{
	struct ra_context *a = tu_connect();
	long long rel, got[2];
	int fd[2], status;
	pid_t pid;

	ck_assert_int_eq(ra_lock(a, "w", "A", 20, NULL), 0);
	ck_assert_int_eq(pipe(fd), 0);
	reset_stats();
	if ((pid = fork()) == 0) {
		struct ra_context *b;
		long long out[2], fence = 0;

		close(fd[0]);
		ra_free(a);	/* the parent's: this closes our copy only */
		b = tu_connect_again();
		out[1] = ra_lock_wait(b, "w", "B", 10, 10, 0, &fence);
		out[0] = mono_us();
		if (out[1] == 0 && fence < 2)
			out[1] = -2;
		ra_free(b);
		if (write(fd[1], out, sizeof out) != sizeof out)
			_exit(2);
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	close(fd[1]);
	wait_blocked(1);
	/* held 1 s more: a waiter polling in slices under 1 s instead of
	 * being woken would make a second BLPOP */
	usleep(1000000);
	rel = mono_us();
	ck_assert_int_eq(ra_unlock(a, "w", "A"), 0);
	ck_assert_int_eq(read(fd[0], got, sizeof got), sizeof got);
	ck_assert_int_eq(got[1], 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* woken by the release itself: its one BLPOP (of up to the 10 s
	 * wait) returned, no second try; the time is only a gross bound */
	ck_assert_int_eq(cmd_calls("blpop"), 1);
	ck_assert_msg(got[0] - rel < 1000000, "woke %lld us after release",
	    got[0] - rel);
	close(fd[0]);
	ra_free(a);
}
END_TEST

START_TEST(test_wait_survives_expiry)
{
	struct ra_context *a = tu_connect(), *b = tu_connect_again();
	long long r0, t0, el;

	/* the holder dies: no release signal, the TTL ends the wait (not
	 * before it: both ends read on the Redis clock; not at the end of
	 * the 5 s wait either) */
	r0 = redis_ms();
	ck_assert_int_eq(ra_lock(a, "w", "A", 0.3, NULL), 0);
	t0 = mono_us();
	ck_assert_int_eq(ra_lock_wait(b, "w", "B", 10, 5, 0, NULL), 0);
	el = mono_us() - t0;
	ck_assert_int_ge(redis_ms() - r0, 300);
	ck_assert_int_lt(el, 3000000);
	ra_free(a);
	ra_free(b);
}
END_TEST

/* What a racer reports for each time it held the lock. */
struct hold {
	long long	start;		/* monotonic us after the grant */
	long long	end;		/* monotonic us before the release */
	long long	fence;
	int		ok;		/* the release succeeded */
	int		pid;
};

static int
hold_cmp(const void *a, const void *b)
{
	const struct hold *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

#define RACERS		8
#define RACE_US		3000000

static void
racer(int fd, int id, long long until)
{
	struct ra_context *ctx;
	struct hold h;
	char owner[32];

	snprintf(owner, sizeof owner, "racer-%d", id);
	ctx = tu_connect_again();
	while (mono_us() < until) {
		if (ra_lock_wait(ctx, "race", owner, 5, 0.5, 0,
		    &h.fence) != 0) {
			if (ctx->err != RA_ERR_BUSY)
				_exit(3);
			continue;
		}
		h.start = mono_us();
		usleep(200);
		h.end = mono_us();
		h.ok = ra_unlock(ctx, "race", owner) == 0;
		h.pid = id;
		if (write(fd, &h, sizeof h) != sizeof h)
			_exit(2);
	}
	ra_free(ctx);
	_exit(0);
}

START_TEST(test_race_no_overlap)
{
	struct ra_context *ctx = tu_connect();	/* flushes the database */
	struct hold *holds = NULL;
	size_t n = 0, cap = 0, i;
	long long until;
	pid_t pids[RACERS];
	int fd[2], status, per[RACERS] = { 0 }, winners = 0;
	ssize_t got;

	ra_free(ctx);
	ck_assert_int_eq(pipe(fd), 0);
	until = mono_us() + RACE_US;
	for (i = 0; i < RACERS; i++) {
		if ((pids[i] = fork()) == 0) {
			close(fd[0]);
			racer(fd[1], (int)i, until);
		}
		ck_assert_int_gt(pids[i], 0);
	}
	close(fd[1]);
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			holds = realloc(holds, cap * sizeof *holds);
			ck_assert_ptr_nonnull(holds);
		}
		got = read(fd[0], &holds[n], sizeof *holds);
		if (got == 0)
			break;
		ck_assert_int_eq(got, sizeof *holds);
		n++;
	}
	close(fd[0]);
	for (i = 0; i < RACERS; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "racer %zu failed", i);
	}
	ck_assert_msg(n >= 50, "only %zu acquisitions in 3 s", n);
	qsort(holds, n, sizeof *holds, hold_cmp);
	for (i = 0; i < n; i++) {
		ck_assert_msg(holds[i].ok, "release %zu failed", i);
		ck_assert_int_le(holds[i].start, holds[i].end);
		per[holds[i].pid]++;
		if (i == 0)
			continue;
		ck_assert_msg(holds[i].start >= holds[i - 1].end,
		    "holds %zu and %zu overlap", i - 1, i);
		ck_assert_msg(holds[i].fence > holds[i - 1].fence,
		    "fence %lld after %lld", holds[i].fence,
		    holds[i - 1].fence);
	}
	for (i = 0; i < RACERS; i++)
		winners += per[i] > 0;
	ck_assert_int_ge(winners, RACERS / 2);
	free(holds);
}
END_TEST

START_TEST(test_pool)
{
	struct ra_context *ctx = tu_connect();
	const char *first[] = { "a", "b", "c" };
	const char *next[] = { "w", "x", "y", "z" };
	const char *gone[] = { "b", "nope" };
	struct ra_lock_pool_health h;
	long long n;

	ck_assert_int_eq(ra_lock_pool_count(ctx, "p", &n), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(ra_lock_pool_health(ctx, "p", &h), 0);
	ck_assert_int_eq(h.total, 0);
	ck_assert_int_eq(ra_lock_pool_add(ctx, "p", first, 3), 0);
	ck_assert_int_eq(ra_lock_pool_add(ctx, "p", first, 3), 0);
	ck_assert_int_eq(ra_lock_pool_count(ctx, "p", &n), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(ra_lock_pool_contains(ctx, "p", "b"), 1);
	ck_assert_int_eq(ra_lock_pool_contains(ctx, "p", "q"), 0);
	ck_assert_int_eq(ra_lock_pool_contains(ctx, "other", "b"), 0);
	ck_assert_int_eq(ra_lock_pool_remove(ctx, "p", gone, 2), 0);
	ck_assert_int_eq(ra_lock_pool_contains(ctx, "p", "b"), 0);
	ck_assert_int_eq(ra_lock_pool_count(ctx, "p", &n), 0);
	ck_assert_int_eq(n, 2);
	/* a, c; lock a (and an outsider, which does not count) */
	ck_assert_int_eq(ra_lock(ctx, "a", "o", 10, NULL), 0);
	ck_assert_int_eq(ra_lock(ctx, "b", "o", 10, NULL), 0);
	ck_assert_int_eq(ra_lock_pool_health(ctx, "p", &h), 0);
	ck_assert_int_eq(h.total, 2);
	ck_assert_int_eq(h.locked, 1);
	ck_assert_int_eq(h.free, 1);
	/* assign replaces the whole set */
	ck_assert_int_eq(ra_lock_pool_assign(ctx, "p", next, 4), 0);
	ck_assert_int_eq(ra_lock_pool_contains(ctx, "p", "a"), 0);
	ck_assert_int_eq(ra_lock_pool_contains(ctx, "p", "z"), 1);
	ck_assert_int_eq(ra_lock(ctx, "x", "o", 10, NULL), 0);
	ck_assert_int_eq(ra_lock(ctx, "y", "o", 0, NULL), 0);
	ck_assert_int_eq(ra_lock_pool_health(ctx, "p", &h), 0);
	ck_assert_int_eq(h.total, 4);
	ck_assert_int_eq(h.locked, 2);
	ck_assert_int_eq(h.free, 2);
	ck_assert_int_eq(ra_unlock(ctx, "x", "o"), 0);
	ck_assert_int_eq(ra_lock_pool_health(ctx, "p", &h), 0);
	ck_assert_int_eq(h.locked, 1);
	ck_assert_int_eq(h.free, 3);
	/* no staging set is left behind */
	ck_assert_int_eq(raw_int("EXISTS %s", "{ra:lockpool:p}"), 1);
	ck_assert_int_eq(keys_matching("*staging*"), 0);
	/* assign of nothing empties it; clear too */
	ck_assert_int_eq(ra_lock_pool_assign(ctx, "p", NULL, 0), 0);
	ck_assert_int_eq(ra_lock_pool_count(ctx, "p", &n), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(ra_lock_pool_add(ctx, "p", first, 3), 0);
	ck_assert_int_eq(ra_lock_pool_clear(ctx, "p"), 0);
	ck_assert_int_eq(ra_lock_pool_count(ctx, "p", &n), 0);
	ck_assert_int_eq(n, 0);
	ra_free(ctx);
}
END_TEST

START_TEST(test_pool_batches)
{
	struct ra_options opt = { 0 };
	struct ra_context *ctx = tu_connect();
	struct ra_lock_pool_health h;
	const char *names[500];
	char buf[500][16];
	long long n;
	size_t i;

	ra_free(ctx);
	opt.path = tu_redis_socket();
	opt.batch = 7;
	ctx = ra_connect(&opt);
	ck_assert_int_eq(ctx->err, 0);
	for (i = 0; i < 500; i++) {
		snprintf(buf[i], sizeof buf[i], "n%zu", i);
		names[i] = buf[i];
	}
	ck_assert_int_eq(ra_lock_pool_assign(ctx, "big", names, 500), 0);
	ck_assert_int_eq(ra_lock_pool_count(ctx, "big", &n), 0);
	ck_assert_int_eq(n, 500);
	for (i = 0; i < 500; i += 5)
		ck_assert_int_eq(ra_lock(ctx, names[i], "o", 30, NULL), 0);
	reset_stats();
	ck_assert_int_eq(ra_lock_pool_health(ctx, "big", &h), 0);
	ck_assert_int_eq(h.total, 500);
	ck_assert_int_eq(h.locked, 100);
	ck_assert_int_eq(h.free, 400);
	/* bounded steps: many small EXISTS, not one big one */
	ck_assert_int_ge(cmd_calls("exists"), 500 / 7);
	ck_assert_int_eq(ra_lock_pool_remove(ctx, "big", names, 250), 0);
	ck_assert_int_eq(ra_lock_pool_count(ctx, "big", &n), 0);
	ck_assert_int_eq(n, 250);
	ra_free(ctx);
}
END_TEST

/* Results of the async calls, in order. */
struct async_log {
	int		 n;
	int		 err[8];
	long long	 v[8];
	int		 want;
	struct event_base *base;
};

static void
async_done(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct async_log *l = priv;

	l->err[l->n] = res->err;
	l->v[l->n] = res->u.integer;
	if (++l->n == l->want)
		event_base_loopbreak(l->base);
}

START_TEST(test_async)
{
	struct ra_context *ctx = tu_connect();
	struct async_log l = { 0 };
	redisAsyncContext *ac;
	struct ra_async *ra;

	l.base = event_base_new();
	ac = redisAsyncConnectUnix(tu_redis_socket());
	ck_assert_int_eq(ac->err, 0);
	redisLibeventAttach(ac, l.base);
	ra = ra_async_create(ac, NULL, 0);
	/* pipelined: Redis runs them in order */
	ck_assert_int_eq(ra_async_lock(ra, "al", "A", 10, 0, async_done, &l), 0);
	ck_assert_int_eq(ra_async_lock(ra, "al", "B", 10, 0, async_done, &l), 0);
	ck_assert_int_eq(ra_async_extend(ra, "al", "A", 20, 1, async_done,
	    &l), 0);
	ck_assert_int_eq(ra_async_unlock(ra, "al", "B", async_done, &l), 0);
	ck_assert_int_eq(ra_async_extend(ra, "al", "B", 20, 0, async_done,
	    &l), 0);
	ck_assert_int_eq(ra_async_unlock(ra, "al", "A", async_done, &l), 0);
	ck_assert_int_eq(ra_async_lock(ra, "al", "B", 0, RA_LOCK_REENTRANT,
	    async_done, &l), 0);
	ck_assert_int_eq(ra_async_lock(ra, "al", "B", 1, RA_LOCK_REENTRANT,
	    async_done, &l), 0);
	l.want = 8;
	/* bad arguments are refused before anything is sent */
	ck_assert_int_eq(ra_async_lock(ra, "", "A", 10, 0, async_done, &l), -1);
	ck_assert_int_eq(ra_async_lock(ra, "al", "A", 10, 0x10, async_done,
	    &l), -1);
	ck_assert_int_eq(ra_async_unlock(ra, "al", "", async_done, &l), -1);
	ck_assert_int_eq(ra_async_extend(ra, "al", "A", 0, 0, async_done,
	    &l), -1);
	event_base_dispatch(l.base);
	ck_assert_int_eq(l.n, 8);
	ck_assert_int_eq(l.err[0], RA_OK);
	ck_assert_int_gt(l.v[0], 1000000000000000LL);	/* fence, from the
							 * Redis clock */
	ck_assert_int_eq(l.err[1], RA_ERR_BUSY);
	ck_assert_int_gt(l.v[1], 5000);			/* holder's pttl */
	ck_assert_int_le(l.v[1], 10000);
	ck_assert_int_eq(l.err[2], RA_OK);
	ck_assert_int_gt(l.v[2], 10000);		/* new pttl */
	ck_assert_int_le(l.v[2], 20000);
	ck_assert_int_eq(l.err[3], RA_ERR_NOT_OWNED);
	ck_assert_int_eq(l.err[4], RA_ERR_NOT_OWNED);
	ck_assert_int_eq(l.err[5], RA_OK);
	ck_assert_int_eq(l.v[5], 1);
	ck_assert_int_eq(l.err[6], RA_OK);
	ck_assert_int_eq(l.v[6], l.v[0] + 1);
	ck_assert_int_eq(l.err[7], RA_OK);
	ck_assert_int_eq(l.v[7], l.v[0] + 2);
	ck_assert_int_gt(pttl("al"), 0);
	redisAsyncFree(ac);
	ra_async_destroy(ra);
	event_base_free(l.base);
	ra_free(ctx);
}
END_TEST

START_TEST(test_prefix_and_reconnect)
{
	struct ra_options opt = { 0 };
	struct ra_context *ctx = tu_connect();
	redisContext *rc = tu_redis();
	redisReply *r;

	ra_free(ctx);
	opt.path = tu_redis_socket();
	opt.prefix = "app";
	ctx = ra_connect(&opt);
	ck_assert_int_eq(ctx->err, 0);
	ck_assert_int_eq(ra_lock(ctx, "k", "A", 10, NULL), 0);
	r = redisCommand(rc, "GET {app:lock:k}");
	ck_assert_str_eq(r->str, "A");
	freeReplyObject(r);
	r = redisCommand(rc, "GET {app:lock:k}:fence");
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	ck_assert_int_gt(atoll(r->str), 1000000000000000LL);
	freeReplyObject(r);
	/* the server drops us: the next call reconnects before it sends,
	 * and succeeds */
	r = redisCommand(rc, "CLIENT KILL TYPE normal SKIPME yes");
	freeReplyObject(r);
	ck_assert_int_eq(ra_is_locked(ctx, "k"), 1);
	ck_assert_int_eq(ra_is_locked(ctx, "k"), 1);
	redisFree(rc);
	ra_free(ctx);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("lock");
	TCase *tc = tcase_create("redis");

	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_one_winner);
	tcase_add_test(tc, test_ttl_int_and_fraction);
	tcase_add_test(tc, test_rlock);
	tcase_add_test(tc, test_extend);
	tcase_add_test(tc, test_not_owner);
	tcase_add_test(tc, test_after_expiry);
	tcase_add_test(tc, test_update_and_force_unlock);
	tcase_add_test(tc, test_key_status);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_conditional);
	tcase_add_test(tc, test_signal_list_bounded);
	tcase_add_test(tc, test_wait_gives_up_without_spinning);
	tcase_add_test(tc, test_wait_under_command_timeout);
	tcase_add_test(tc, test_wait_wakes_on_release);
	tcase_add_test(tc, test_wait_survives_expiry);
	tcase_add_test(tc, test_race_no_overlap);
	tcase_add_test(tc, test_pool);
	tcase_add_test(tc, test_pool_batches);
	tcase_add_test(tc, test_async);
	tcase_add_test(tc, test_prefix_and_reconnect);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
