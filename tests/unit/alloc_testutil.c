/*
 * alloc_testutil.c: helpers the allocator tests share.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "alloc_testutil.h"

void
at_pool(struct ra_context *ctx, const char *pool, int shared,
    unsigned max_shares, size_t n)
{
	struct ra_pool_conf c;
	struct ra_item *items;
	char (*keys)[32];
	size_t i;

	ra_pool_conf_init(&c);
	c.shared = shared;
	c.max_shares = max_shares;
	ck_assert_msg(ra_pool_create(ctx, pool, &c) == 0, "pool_create: %s",
	    ctx->errstr);
	if (n == 0)
		return;
	items = calloc(n, sizeof *items);
	keys = calloc(n, sizeof *keys);
	for (i = 0; i < n; i++) {
		snprintf(keys[i], sizeof keys[i], "item-%03zu", i);
		items[i].key = keys[i];
	}
	ck_assert_msg(ra_add(ctx, pool, items, n) == 0, "add: %s",
	    ctx->errstr);
	free(items);
	free(keys);
}

void
at_sound(struct ra_context *ctx, const char *pool)
{
	struct ra_strlist v;
	size_t i;

	ck_assert_msg(ra_check_invariants(ctx, pool, &v) == 0,
	    "check_invariants: %s", ctx->errstr);
	for (i = 0; i < v.n; i++)
		fprintf(stderr, "violation in %s: %s\n", pool, v.v[i]);
	ck_assert_msg(v.n == 0, "%zu invariant violations in %s, first: %s",
	    v.n, pool, v.n ? v.v[0] : "");
	ra_strlist_deinit(&v);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *
at_snapshot(void)
{
	redisContext *rc = tu_redis();
	redisReply *keys, *d;
	char **names, *out = NULL;
	size_t i, len = 0;

	keys = redisCommand(rc, "KEYS *");
	ck_assert_int_eq(keys->type, REDIS_REPLY_ARRAY);
	names = calloc(keys->elements + 1, sizeof *names);
	for (i = 0; i < keys->elements; i++)
		names[i] = keys->element[i]->str;
	qsort(names, keys->elements, sizeof *names, cmp_str);
	out = calloc(1, 1);
	for (i = 0; i < keys->elements; i++) {
		unsigned long long h = 1469598103934665603ULL;
		size_t j;

		d = redisCommand(rc, "DUMP %s", names[i]);
		ck_assert_int_eq(d->type, REDIS_REPLY_STRING);
		for (j = 0; j < d->len; j++)
			h = (h ^ (unsigned char)d->str[j]) * 1099511628211ULL;
		out = realloc(out, len + strlen(names[i]) + 24);
		len += (size_t)sprintf(out + len, "%s=%016llx;", names[i], h);
		freeReplyObject(d);
	}
	free(names);
	freeReplyObject(keys);
	redisFree(rc);
	return out;
}

long long
at_redis_ms(void)
{
	redisContext *rc = tu_redis();
	redisReply *r = redisCommand(rc, "TIME");
	long long ms;

	ms = atoll(r->element[0]->str) * 1000 +
	    atoll(r->element[1]->str) / 1000;
	freeReplyObject(r);
	redisFree(rc);
	return ms;
}

void
at_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

struct ra_counts
at_counts(struct ra_context *ctx, const char *pool)
{
	struct ra_counts c;

	ck_assert_msg(ra_counts(ctx, pool, &c) == 0, "counts: %s",
	    ctx->errstr);
	return c;
}
