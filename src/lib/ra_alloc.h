/*
 * ra_alloc.h: the allocator's argument builders and reply decoders,
 * shared by the sync (alloc.c) and async (alloc_async.c) calls.
 *
 * Every builder validates its arguments first: on a bad one it returns -1
 * with err/errstr set (RA_ERR_BAD_ARGUMENT) and a left empty; otherwise
 * a holds a finished-to-be function call the caller sends or deinits.
 */
#ifndef RA_ALLOC_H
#define RA_ALLOC_H

#include <string.h>

#include "ra_internal.h"

/* Reclaimed per kind on each lease: about 20 us of Redis time each (a
 * release's work), so a lease after a mass expiry stays under 1 ms. */
#define RA_RECLAIM_BATCH	8
#define RA_BIND_PER_ITEM	256	/* names one item may carry */
#define RA_PRIO_MIN		(-32768)
#define RA_PRIO_MAX		32767
#define RA_CHECK_PHASES		11	/* phases of check.lua */
/* Items one bulk call (add or remove chunk, sweep step of assign, clear,
 * pool delete, gc) is given: half the batch.  Measured with
 * tests/bench/alloc's bulk run on a busy machine, an item costs 9 us to
 * add, 11 us to delete and 20 us to reclaim, so the default batch of 128
 * keeps every call near 1 ms of Redis time, under the 2 ms bound. */
#define RA_CHUNK(batch)		((unsigned)((batch) + 1) / 2)

/* Validate a whole add/assign request before any chunk is sent. */
int	ra_check_items(const struct ra_item *items, size_t n, int *err,
	    char *errstr);
int	ra_check_keys(const char *const *keys, size_t n, int *err,
	    char *errstr);

int	ra_build_pool_create(struct ra_args *a, const char *prefix,
	    const char *pool, const struct ra_pool_conf *conf, int *err,
	    char *errstr);
int	ra_build_pool_get(struct ra_args *a, const char *prefix,
	    const char *pool, int *err, char *errstr);
int	ra_build_pool_delete(struct ra_args *a, const char *prefix,
	    const char *pool, unsigned long long cursor, unsigned count,
	    int first, int *err, char *errstr);
int	ra_build_pools(struct ra_args *a, const char *prefix);
/* One chunk of items (gen 0 = the pool's current generation). */
int	ra_build_items_add(struct ra_args *a, const char *prefix,
	    const char *pool, long long gen, const struct ra_item *items,
	    size_t n, int *err, char *errstr);
int	ra_build_items_remove(struct ra_args *a, const char *prefix,
	    const char *pool, const char *const *keys, size_t n, int *err,
	    char *errstr);
int	ra_build_assign_begin(struct ra_args *a, const char *prefix,
	    const char *pool, int *err, char *errstr);
int	ra_build_assign_sweep(struct ra_args *a, const char *prefix,
	    const char *pool, long long gen, unsigned long long cursor,
	    unsigned count, int *err, char *errstr);
/* Generates the lease's random token. */
int	ra_build_lease(struct ra_args *a, const char *prefix,
	    const char *pool, const struct ra_lease_req *req, int *err,
	    char *errstr);
int	ra_build_renew(struct ra_args *a, const char *prefix,
	    const char *pool, const char *token, double ttl, int *err,
	    char *errstr);
int	ra_build_release(struct ra_args *a, const char *prefix,
	    const char *pool, const char *token, enum ra_outcome outcome,
	    double latency_ms, int *err, char *errstr);
int	ra_build_report(struct ra_args *a, const char *prefix,
	    const char *pool, const char *item, enum ra_outcome outcome,
	    double latency_ms, int *err, char *errstr);
int	ra_build_quarantine(struct ra_args *a, const char *prefix,
	    const char *pool, const char *item, double seconds, int *err,
	    char *errstr);
int	ra_build_bind(struct ra_args *a, const char *prefix, const char *pool,
	    const char *name, const char *item, double ttl, int *err,
	    char *errstr);
int	ra_build_unbind(struct ra_args *a, const char *prefix,
	    const char *pool, const char *name, int *err, char *errstr);
int	ra_build_binding(struct ra_args *a, const char *prefix,
	    const char *pool, const char *name, int *err, char *errstr);
int	ra_build_bindings(struct ra_args *a, const char *prefix,
	    const char *pool, const char *item, int *err, char *errstr);
int	ra_build_counts(struct ra_args *a, const char *prefix,
	    const char *pool, int *err, char *errstr);
int	ra_build_list(struct ra_args *a, const char *prefix, const char *pool,
	    enum ra_state filter, unsigned long long cursor, unsigned count,
	    int *err, char *errstr);
int	ra_build_gc(struct ra_args *a, const char *prefix, const char *pool,
	    unsigned count, int *err, char *errstr);
int	ra_build_check(struct ra_args *a, const char *prefix,
	    const char *pool, int phase, unsigned long long cursor,
	    unsigned count, int *err, char *errstr);

/*
 * One step of a call the library chains (assign's sweep, pool delete):
 * the scan cursor to go on from (0: done) and the items the step
 * changed.  Only the library's own chaining reads one, never a caller's
 * callback, so it is no member of the public union of struct
 * ra_result: ra_decode_step copies it into the union's bytes, which are
 * more than enough, and ra_result_step copies it back out.  memcpy may
 * read and write any object's bytes, where a struct ra_step pointer into
 * the union would break the aliasing rules.
 */
struct ra_step {
	unsigned long long	 cursor; /* scan cursor, 0 = done */
	long long		 n;	/* items changed by the step */
};
_Static_assert(sizeof(struct ra_step) <=
    sizeof(((struct ra_result *)0)->u), "a step must fit in a result");

/* The step ra_decode_step left in res. */
static inline struct ra_step
ra_result_step(const struct ra_result *res)
{
	struct ra_step s;

	memcpy(&s, &res->u, sizeof s);
	return s;
}

/*
 * The walk of the invariant check (lua/pool.lua's check), one page at a
 * time, shared by ra_check_invariants and ra_async_check_invariants:
 * send ra_build_check with phase and cursor, hand the reply to
 * ra_check_walk_step, until phase is 0; then ra_check_walk_finish adds
 * the counter lines (the counts seen against the pool's counters).
 */
struct ra_check_walk {
	int			 phase;		/* next phase, 0 = done */
	unsigned long long	 cursor;	/* its cursor */
	long long		 seen[6];	/* free, leased, shared,
						 * quarantined, draining items
						 * and holders counted */
	long long		 stored[8];	/* the pool's counters (last
						 * phase) */
	struct ra_strlist	 out;		/* violations (owned: the
						 * caller takes or frees it) */
	int			 oom;		/* a line could not be kept */
};
void	ra_check_walk_init(struct ra_check_walk *w);
/* Take the reply to one page: 0, or -1 with err set (its shape). */
int	ra_check_walk_step(struct ra_check_walk *w, const redisReply *r,
	    int *err, char *errstr);
/* Add the counter lines: 0, or -1 with err set (out of memory; out is
 * freed). */
int	ra_check_walk_finish(struct ra_check_walk *w, int *err,
	    char *errstr);

/*
 * The raw reply, for a chain that reads it itself (the check walk):
 * ra_decode_raw keeps a pointer to it in the union's bytes, valid only
 * during the callback (hiredis frees it after), and ra_result_raw
 * gives it back.
 */
static inline const redisReply *
ra_result_raw(const struct ra_result *res)
{
	const redisReply *r;

	memcpy(&r, &res->u, sizeof r);
	return r;
}
void	ra_decode_raw(const redisReply *r, struct ra_result *res);

/* Decoders (res->err set when the reply has an unexpected shape). */
void	ra_decode_integer(const redisReply *r, struct ra_result *res);
void	ra_decode_lease(const redisReply *r, struct ra_result *res);
void	ra_decode_counts(const redisReply *r, struct ra_result *res);
void	ra_decode_list(const redisReply *r, struct ra_result *res);
void	ra_decode_strlist(const redisReply *r, struct ra_result *res);
void	ra_decode_str(const redisReply *r, struct ra_result *res);
void	ra_decode_pool(const redisReply *r, struct ra_result *res);
void	ra_decode_gc(const redisReply *r, struct ra_result *res);
void	ra_decode_step(const redisReply *r, struct ra_result *res);
void	ra_decode_ended(const redisReply *r, struct ra_result *res);

/* Free what the decoders above allocated. */
void	ra_free_lease_result(struct ra_result *res);
void	ra_free_list_result(struct ra_result *res);
void	ra_free_strlist_result(struct ra_result *res);
void	ra_free_str_result(struct ra_result *res);
void	ra_free_ended_result(struct ra_result *res);

#endif /* RA_ALLOC_H */
