/*
 * testutil.c: shared helpers for Check tests.
 */
#include "config.h"

#include <stdlib.h>

#include "testutil.h"

const char *
tu_redis_socket(void)
{
	return getenv("RA_TEST_REDIS");
}

redisContext *
tu_redis(void)
{
	const char *path = tu_redis_socket();
	redisContext *rc;

	ck_assert_msg(path != NULL, "RA_TEST_REDIS not set: run under "
	    "tests/with-redis");
	rc = redisConnectUnix(path);
	ck_assert_ptr_nonnull(rc);
	ck_assert_msg(rc->err == 0, "connect %s: %s", path, rc->errstr);
	return rc;
}

struct ra_context *
tu_connect_again(void)
{
	struct ra_options opt = { 0 };
	struct ra_context *ctx;

	opt.path = tu_redis_socket();
	ck_assert_msg(opt.path != NULL, "RA_TEST_REDIS not set");
	opt.command_timeout.tv_sec = 10;
	ctx = ra_connect(&opt);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_msg(ctx->err == 0, "ra_connect: %s", ctx->errstr);
	return ctx;
}

struct ra_context *
tu_connect(void)
{
	redisContext *rc = tu_redis();
	redisReply *r = redisCommand(rc, "FLUSHALL");

	ck_assert_ptr_nonnull(r);
	freeReplyObject(r);
	redisFree(rc);
	return tu_connect_again();
}

int
tu_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
