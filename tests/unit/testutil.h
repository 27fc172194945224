/*
 * testutil.h: shared helpers for Check tests: connection to the private
 * redis-server tests/with-redis started, and the runner.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <check.h>

#include "redis_allocator.h"

/* Path of the test Redis socket, or NULL when none was started. */
const char *tu_redis_socket(void);

/* Connect to the test Redis (the test fails if it cannot); the database
 * is flushed first, so every test starts from nothing. */
struct ra_context *tu_connect(void);

/* Connect without flushing (for a second client in the same test). */
struct ra_context *tu_connect_again(void);

/* A raw hiredis context on the test Redis. */
redisContext *tu_redis(void);

/* Run a suite, print Check's summary, return the exit status. */
int tu_run(Suite *s);

#endif
