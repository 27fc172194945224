/*
 * check_conn.c: the connection and script registry against a real Redis:
 * connect, FCALL, the functions library loaded again when Redis lost it
 * (sync and async), errors.
 */
#include "config.h"

#include <stdio.h>
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

	ra_args_init(&a, RA_FN_PING);
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

/* Is this version's library loaded? */
static bool
library_loaded(redisContext *rc)
{
	redisReply *r = redisCommand(rc, "FUNCTION LIST LIBRARYNAME %s",
	    RA_LIBRARY_NAME);
	bool have;

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	have = r->elements == 1;
	freeReplyObject(r);
	return have;
}

START_TEST(test_library_loaded_on_connect)
{
	redisContext *rc = tu_redis();
	redisReply *r = redisCommand(rc, "FUNCTION FLUSH");
	struct ra_context *ctx;

	freeReplyObject(r);
	ck_assert(!library_loaded(rc));
	ctx = tu_connect();
	ck_assert(library_loaded(rc));
	/* a second client finds it there and leaves it alone */
	ra_free(tu_connect());
	ck_assert(library_loaded(rc));
	/* every function is registered, with no-writes where FCALL_RO */
	for (int i = 0; i < RA_FN_COUNT; i++) {
		r = redisCommand(rc, "%s %s 0", ra_functions[i].ro ?
		    "FCALL_RO" : "FCALL", ra_functions[i].name);
		ck_assert_ptr_nonnull(r);
		ck_assert_msg(r->type != REDIS_REPLY_ERROR ||
		    strstr(r->str, "not found") == NULL, "%s: %s",
		    ra_functions[i].name, r->str);
		ck_assert_msg(r->type != REDIS_REPLY_ERROR ||
		    strstr(r->str, "no-writes") == NULL, "%s: %s",
		    ra_functions[i].name, r->str);
		freeReplyObject(r);
	}
	redisFree(rc);
	ra_free(ctx);
}
END_TEST

START_TEST(test_other_build_side_by_side)
{
	redisContext *rc = tu_redis();
	struct ra_context *ctx;
	struct ra_pool_conf pc;
	struct ra_item it = { "a", 0, 0 };
	struct ra_lease l;
	redisReply *r;
	char other[256], fn[64];

	/* the library of another build of this schema, whose lease always
	 * fails: as an older daemon on the same Redis would have loaded */
	freeReplyObject(redisCommand(rc, "FUNCTION FLUSH"));
	snprintf(fn, sizeof fn, "ra%d_00000000_lease", RA_SCHEMA);
	snprintf(other, sizeof other, "#!lua name=redisallocator_%d_00000000\n"
	    "redis.register_function('%s', function() "
	    "return redis.error_reply('OTHER build') end)", RA_SCHEMA, fn);
	r = redisCommand(rc, "FUNCTION LOAD %s", other);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_ne(r->type, REDIS_REPLY_ERROR);
	freeReplyObject(r);
	/* this build still loads its own and runs only its own */
	ctx = tu_connect();
	ck_assert(library_loaded(rc));
	ra_pool_conf_init(&pc);
	ck_assert_int_eq(ra_pool_create(ctx, "side", &pc), 0);
	ck_assert_int_eq(ra_add(ctx, "side", &it, 1), 0);
	ck_assert_msg(ra_lease(ctx, "side", NULL, &l) == 0, "%s",
	    ctx->errstr);
	ra_lease_deinit(&l);
	/* and leaves the other build's alone */
	r = redisCommand(rc, "FCALL %s 0", fn);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
	ck_assert_str_eq(r->str, "OTHER build");
	freeReplyObject(r);
	freeReplyObject(redisCommand(rc, "FUNCTION DELETE "
	    "redisallocator_%d_00000000", RA_SCHEMA));
	redisFree(rc);
	ra_free(ctx);
}
END_TEST

START_TEST(test_lost_library_recovered)
{
	struct ra_context *ctx = tu_connect();
	redisContext *rc = tu_redis();
	redisReply *r;

	ping(ctx);
	r = redisCommand(rc, "FUNCTION FLUSH");
	freeReplyObject(r);
	ck_assert(!library_loaded(rc));
	ck_assert_int_gt(ping(ctx), 0);
	ck_assert(library_loaded(rc));
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
	ra_args_init(&a, RA_FN_PING);
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

START_TEST(test_async_lost_library)
{
	struct async_state st = { 0 };
	redisAsyncContext *ac;
	struct ra_async *ra;
	struct ra_args a;
	redisContext *rc = tu_redis();
	redisReply *r = redisCommand(rc, "FUNCTION FLUSH");

	freeReplyObject(r);
	redisFree(rc);
	st.base = event_base_new();
	ac = redisAsyncConnectUnix(tu_redis_socket());
	ck_assert_int_eq(ac->err, 0);
	redisLibeventAttach(ac, st.base);
	ra = ra_async_create(ac, NULL, 0);
	ck_assert_str_eq(ra_async_prefix(ra), "ra");
	/* two calls in flight, both find no function, both recover */
	ra_args_init(&a, RA_FN_PING);
	ck_assert_int_eq(ra_async_call(ra, &a, decode_ping, NULL, ping_done,
	    &st), 0);
	ra_args_init(&a, RA_FN_PING);
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
	tcase_add_test(tc, test_library_loaded_on_connect);
	tcase_add_test(tc, test_lost_library_recovered);
	tcase_add_test(tc, test_other_build_side_by_side);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_prefix_default);
	tcase_add_test(tc, test_async_lost_library);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
