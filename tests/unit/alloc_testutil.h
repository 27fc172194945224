/*
 * alloc_testutil.h: helpers the allocator tests share: pool setup, the
 * invariant check as an assertion, a snapshot of every key to prove an
 * operation changed nothing.
 */
#ifndef ALLOC_TESTUTIL_H
#define ALLOC_TESTUTIL_H

#include "redis_allocator.h"

/* Create pool with the defaults (shared, max_shares given) and n items
 * "item-000".. of priority 0; fails the test on error. */
void	at_pool(struct ra_context *ctx, const char *pool, int shared,
	    unsigned max_shares, size_t n);
/* Assert ra_check_invariants finds nothing. */
void	at_sound(struct ra_context *ctx, const char *pool);
/* Every key and its DUMP, as one malloc'd string. */
char	*at_snapshot(void);
/* Milliseconds on the Redis clock. */
long long at_redis_ms(void);
/* Sleep ms milliseconds. */
void	at_sleep_ms(int ms);
/* Counts, failing the test on error. */
struct ra_counts at_counts(struct ra_context *ctx, const char *pool);

#endif
