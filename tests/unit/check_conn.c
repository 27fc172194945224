/*
 * check_conn.c: the connection and script registry against a real Redis:
 * connect, EVALSHA, NOSCRIPT recovery (sync and async), errors.
 */
#include "config.h"

#include <string.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>

#include "ra_internal.h"
#include "testutil.h"

static long long
redis_now_ms(void)
{
	redisContext *rc = tu_redis();
	redisReply *r = redisCommand(rc, "TIME");
	long long ms;

	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	ms = atoll(r->element[0]->str) * 1000 + atoll(r->element[1]->str) / 1000;
	freeReplyObject(r);
	redisFree(rc);
	return ms;
}

static long long
ping(struct ra_context *ctx)
{
	struct ra_args a;
	redisReply *r;
	long long v;

	ra_args_init(&a, RA_SCRIPT_PING);
	r = ra_call(ctx, &a);
	ra_args_deinit(&a);
	ck_assert_msg(r != NULL, "ping: %s", ctx->errstr);
	ck_assert(ra_reply_ll(r, &v));
	freeReplyObject(r);
	return v;
}

START_TEST(test_ping_uses_redis_clock)
{
	struct ra_context *ctx = tu_connect();
	long long before = redis_now_ms(), t = ping(ctx);

	ck_assert_int_ge(t, before);
	ck_assert_int_le(t, before + 5000);
	ra_free(ctx);
}
END_TEST

START_TEST(test_noscript_recovered)
{
	struct ra_context *ctx = tu_connect();
	redisContext *rc = tu_redis();
	redisReply *r;

	ping(ctx);
	r = redisCommand(rc, "SCRIPT FLUSH");
	freeReplyObject(r);
	r = redisCommand(rc, "SCRIPT EXISTS %s", ra_scripts[RA_SCRIPT_PING].sha);
	ck_assert_int_eq(r->element[0]->integer, 0);
	freeReplyObject(r);
	ck_assert_int_gt(ping(ctx), 0);
	r = redisCommand(rc, "SCRIPT EXISTS %s", ra_scripts[RA_SCRIPT_PING].sha);
	ck_assert_int_eq(r->element[0]->integer, 1);
	freeReplyObject(r);
	redisFree(rc);
	ra_free(ctx);
}
END_TEST

START_TEST(test_connect_refused)
{
	struct ra_options opt = { 0 };
	struct ra_context *ctx;
	struct ra_args a;

	opt.path = "/nonexistent/redis.sock";
	ctx = ra_connect(&opt);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(ctx->err, RA_ERR_BACKEND_DOWN);
	ck_assert_ptr_nonnull(strstr(ctx->errstr, "connect"));
	ra_args_init(&a, RA_SCRIPT_PING);
	ck_assert_ptr_null(ra_call(ctx, &a));
	ra_args_deinit(&a);
	ck_assert_int_eq(ctx->err, RA_ERR_BACKEND_DOWN);
	ra_free(ctx);
	ra_free(NULL);
}
END_TEST

START_TEST(test_prefix_default)
{
	struct ra_context *ctx = tu_connect();

	ck_assert_str_eq(ra_prefix(ctx), "ra");
	ra_free(ctx);
}
END_TEST

/* async: a ping decoded into res->u.integer */
static void
decode_ping(const redisReply *r, struct ra_result *res)
{
	if (!ra_reply_ll(r, &res->u.integer))
		ra_set_error(&res->err, res->errstr, RA_ERR_PROTOCOL, "bad");
}

struct async_state {
	int		 done;
	long long	 value[2];
	int		 err[2];
	struct event_base *base;
};

static void
ping_done(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct async_state *st = priv;

	st->err[st->done] = res->err;
	st->value[st->done] = res->u.integer;
	if (++st->done == 2)
		event_base_loopbreak(st->base);
}

START_TEST(test_async_noscript)
{
	struct async_state st = { 0 };
	redisAsyncContext *ac;
	struct ra_async *ra;
	struct ra_args a;
	redisContext *rc = tu_redis();
	redisReply *r = redisCommand(rc, "SCRIPT FLUSH");

	freeReplyObject(r);
	redisFree(rc);
	st.base = event_base_new();
	ac = redisAsyncConnectUnix(tu_redis_socket());
	ck_assert_int_eq(ac->err, 0);
	redisLibeventAttach(ac, st.base);
	ra = ra_async_create(ac, NULL, 0);
	ck_assert_str_eq(ra_async_prefix(ra), "ra");
	/* two calls in flight, both hit NOSCRIPT, both recover */
	ra_args_init(&a, RA_SCRIPT_PING);
	ck_assert_int_eq(ra_async_call(ra, &a, decode_ping, NULL, ping_done,
	    &st), 0);
	ra_args_init(&a, RA_SCRIPT_PING);
	ck_assert_int_eq(ra_async_call(ra, &a, decode_ping, NULL, ping_done,
	    &st), 0);
	event_base_dispatch(st.base);
	ck_assert_int_eq(st.done, 2);
	ck_assert_int_eq(st.err[0], 0);
	ck_assert_int_eq(st.err[1], 0);
	ck_assert_int_gt(st.value[0], 0);
	ck_assert_int_ge(st.value[1], st.value[0]);
	redisAsyncFree(ac);
	ra_async_destroy(ra);
	event_base_free(st.base);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("redis");

	tcase_add_test(tc, test_ping_uses_redis_clock);
	tcase_add_test(tc, test_noscript_recovered);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_prefix_default);
	tcase_add_test(tc, test_async_noscript);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
