/*
 * lock.c: the distributed lock (ra_lock): acquire with fencing, re-entrant
 * acquire, blocking acquire woken by releases, extend, unlock, status,
 * the conditional setters and the lock pool; sync and async forms share
 * the argument builders and reply decoders.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ra_internal.h"

#define LOCK_STAGING_MS		60000	/* lifetime of assign's staging set */

static const char *const lock_status_names[] = {
	[RA_LOCK_FREE] = "FREE",
	[RA_LOCK_LOCKED] = "LOCKED",
	[RA_LOCK_UNAVAILABLE] = "UNAVAILABLE",
	[RA_LOCK_ERROR] = "ERROR",
};

/* Comparison words the lock_cond function understands, by enum ra_lock_cmp. */
static const char *const lock_cmp_words[RA_CMP__COUNT] = {
	[RA_CMP_GT] = "gt",
	[RA_CMP_LT] = "lt",
	[RA_CMP_GE] = "ge",
	[RA_CMP_LE] = "le",
	[RA_CMP_EQ] = "eq",
	[RA_CMP_NE] = "ne",
};

const char *
ra_lock_status_name(enum ra_lock_status s)
{
	if ((unsigned)s >= sizeof lock_status_names / sizeof lock_status_names[0])
		return "UNKNOWN";
	return lock_status_names[s];
}

/* A TTL in seconds as function milliseconds: <= 0 is 0 (no expiry), a
 * positive TTL is at least 1 ms so it never turns into "no expiry". */
static long long
lock_ttl_ms(double ttl)
{
	long long ms;

	if (!(ttl > 0))
		return 0;
	ms = llround(ttl * 1000.0);
	return ms < 1 ? 1 : ms;
}

/* Check a name (lock or pool) or an owner value: 1..RA_KEY_MAX bytes. */
static int
lock_check_str(const char *what, const char *s, char *errstr)
{
	int err;

	return ra_check_key(what, s, &err, errstr);
}

/* Check a TTL or timeout: finite, at most RA_TTL_MAX (any sign). */
static int
lock_check_ttl(const char *what, double ttl, char *errstr)
{
	if (!isfinite(ttl) || ttl > RA_TTL_MAX) {
		snprintf(errstr, RA_ERRSTR_LEN, "%s %g out of range (at most "
		    "%.0f seconds)", what, ttl, RA_TTL_MAX);
		return -1;
	}
	return 0;
}

/* Check name, ttl and, when need_owner, the owner value. */
static int
lock_check(const char *name, const char *owner, bool need_owner, double ttl,
    char *errstr)
{
	if (lock_check_str("lock name", name, errstr) != 0)
		return -1;
	if (need_owner && lock_check_str("owner", owner, errstr) != 0)
		return -1;
	return lock_check_ttl("ttl", ttl, errstr);
}

int
ra_lock_check(const char *name, const char *owner, double ttl, char *errstr)
{
	return lock_check(name, owner, true, ttl, errstr);
}

/* lock_check into a sync context's error. */
static int
lock_check_ctx(struct ra_context *ctx, const char *name, const char *owner,
    bool need_owner, double ttl)
{
	char msg[RA_ERRSTR_LEN];

	if (lock_check(name, owner, need_owner, ttl, msg) != 0) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT, "%s",
		    msg);
		return -1;
	}
	return 0;
}

/* Format "{prefix:kind:name}suffix" into buf; its length or -1. */
static int
lock_format_key(char *buf, size_t len, const char *prefix, const char *kind,
    const char *name, const char *suffix)
{
	int n;

	n = snprintf(buf, len, "{%s:%s:%s}%s", prefix != NULL && *prefix ?
	    prefix : "ra", kind, name, suffix);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return n;
}

/* KEYS: "{prefix:kind:name}suffix". */
static void
lock_args_key(struct ra_args *a, const char *prefix, const char *kind,
    const char *name, const char *suffix)
{
	size_t len = strlen(prefix) + strlen(kind) + strlen(name) +
	    strlen(suffix) + 8;
	char *buf;
	int n;

	if ((buf = malloc(len)) == NULL) {
		a->oom = true;
		return;
	}
	n = lock_format_key(buf, len, prefix, kind, name, suffix);
	ra_args_rawkey(a, buf, (size_t)n);
	free(buf);
}

int
ra_lock_key(const char *prefix, const char *name, char *buf, size_t len)
{
	char msg[RA_ERRSTR_LEN];

	if (lock_check_str("lock name", name, msg) != 0)
		return -1;
	return lock_format_key(buf, len, prefix, "lock", name, "");
}

int
ra_lock_signal_key(const char *prefix, const char *name, char *buf,
    size_t len)
{
	char msg[RA_ERRSTR_LEN];

	if (lock_check_str("lock name", name, msg) != 0)
		return -1;
	return lock_format_key(buf, len, prefix, "lock", name, ":signal");
}

/* ------------------------------------------------------------------ */
/* Argument builders and decoders (sync and async share them)          */
/* ------------------------------------------------------------------ */

/* lock_acquire: KEYS lock, fence; ARGV owner, ttl ms, re-entrant. */
static void
args_acquire(struct ra_args *a, const char *prefix, const char *name,
    const char *owner, double ttl, int flags)
{
	ra_args_init(a, RA_FN_LOCK_ACQUIRE);
	lock_args_key(a, prefix, "lock", name, "");
	lock_args_key(a, prefix, "lock", name, ":fence");
	ra_args_str(a, owner);
	ra_args_ll(a, lock_ttl_ms(ttl));
	ra_args_str(a, (flags & RA_LOCK_REENTRANT) ? "1" : "0");
}

/* lock_release: KEYS lock, signal; ARGV owner, force, token ms. */
static void
args_release(struct ra_args *a, const char *prefix, const char *name,
    const char *owner, int force)
{
	ra_args_init(a, RA_FN_LOCK_RELEASE);
	lock_args_key(a, prefix, "lock", name, "");
	lock_args_key(a, prefix, "lock", name, ":signal");
	ra_args_str(a, owner != NULL ? owner : "");
	ra_args_str(a, force ? "1" : "0");
	ra_args_ll(a, RA_LOCK_SIGNAL_MS);
}

/* lock_extend: KEYS lock; ARGV owner, ms, replace. */
static void
args_extend(struct ra_args *a, const char *prefix, const char *name,
    const char *owner, double ttl, int replace)
{
	ra_args_init(a, RA_FN_LOCK_EXTEND);
	lock_args_key(a, prefix, "lock", name, "");
	ra_args_str(a, owner);
	ra_args_ll(a, lock_ttl_ms(ttl));
	ra_args_str(a, replace ? "1" : "0");
}

/* {1, fence} -> u.integer = fence; {0, pttl} -> BUSY, u.integer = pttl. */
static void
decode_acquire(const redisReply *r, struct ra_result *res)
{
	long long granted, v;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    !ra_reply_ll(r->element[0], &granted) ||
	    !ra_reply_ll(r->element[1], &v)) {
		ra_set_error(&res->err, res->errstr, RA_ERR_PROTOCOL,
		    "lock_acquire: unexpected reply");
		return;
	}
	res->u.integer = v;
	if (!granted)
		ra_set_error(&res->err, res->errstr, RA_ERR_BUSY,
		    "lock is held by another owner");
}

/* An integer reply into u.integer. */
static void
decode_integer(const redisReply *r, struct ra_result *res)
{
	if (!ra_reply_ll(r, &res->u.integer))
		ra_set_error(&res->err, res->errstr, RA_ERR_PROTOCOL,
		    "expected an integer reply");
}

/*
 * Run a plain command (BLPOP, SSCAN, EXISTS...) on a sync context,
 * reconnecting first if needed.  Returns the reply (caller frees) or NULL
 * with ctx->err set; an error reply is mapped like function errors.
 */
static redisReply *
lock_command(struct ra_context *ctx, int argc, const char **argv,
    const size_t *argvlen)
{
	redisReply *r;
	int code;

	ctx->err = RA_OK;
	ctx->errstr[0] = '\0';
	if (ctx->rc == NULL && ra_reconnect(ctx) != 0)
		return NULL;
	if ((r = redisCommandArgv(ctx->rc, argc, argv, argvlen)) == NULL) {
		code = RA_ERR_BACKEND_DOWN;
		if (ctx->rc->err == REDIS_ERR_IO &&
		    (errno == EAGAIN || errno == ETIMEDOUT))
			code = RA_ERR_TIMEOUT;
		ra_set_error(&ctx->err, ctx->errstr, code, "%s: %s", argv[0],
		    ctx->rc->errstr[0] ? ctx->rc->errstr : "connection lost");
		redisFree(ctx->rc);	/* the reply may still come: drop it */
		ctx->rc = NULL;
		return NULL;
	}
	if (ra_reply_error(r, &ctx->err, ctx->errstr) != 0) {
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* Sync lock                                                            */
/* ------------------------------------------------------------------ */

/* One acquire attempt: 0 granted (*fence set), -1 otherwise (ctx->err;
 * on BUSY *pttl is the holder's remaining TTL, -1 none). */
static int
lock_try(struct ra_context *ctx, const char *name, const char *owner,
    double ttl, int flags, long long *fence, long long *pttl)
{
	struct ra_result res;
	struct ra_args a;

	args_acquire(&a, ra_prefix(ctx), name, owner, ttl, flags);
	if (ra_call_decode(ctx, &a, decode_acquire, &res) != 0) {
		if (pttl != NULL)
			*pttl = res.u.integer;
		return -1;
	}
	if (fence != NULL)
		*fence = res.u.integer;
	return 0;
}

int
ra_lock(struct ra_context *ctx, const char *name, const char *owner,
    double ttl, long long *fence)
{
	if (lock_check_ctx(ctx, name, owner, true, ttl) != 0)
		return -1;
	return lock_try(ctx, name, owner, ttl, 0, fence, NULL);
}

int
ra_rlock(struct ra_context *ctx, const char *name, const char *owner,
    double ttl, long long *fence)
{
	if (lock_check_ctx(ctx, name, owner, true, ttl) != 0)
		return -1;
	return lock_try(ctx, name, owner, ttl, RA_LOCK_REENTRANT, fence, NULL);
}

/* Milliseconds of the monotonic clock. */
static long long
lock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * BLPOP key for up to ms milliseconds.  Redis ends a blocking wait up to a
 * server tick (100 ms at hz 10) late, so the context's command timeout, if
 * any, is stretched to the slice plus a second for this one command and
 * restored after.  Returns 0 (woken or timed out) or -1 with ctx->err.
 */
static int
lock_blpop(struct ra_context *ctx, const char *key, long long ms)
{
	const struct timeval *ct = &ctx->priv->opt.command_timeout;
	bool stretch = ct->tv_sec != 0 || ct->tv_usec != 0;
	char tmo[32];
	const char *argv[3] = { "BLPOP", key, tmo };
	struct timeval tv;
	redisReply *r;
	long long us;

	if (ctx->rc == NULL && ra_reconnect(ctx) != 0)
		return -1;
	snprintf(tmo, sizeof tmo, "%lld.%03lld", ms / 1000, ms % 1000);
	if (stretch) {
		us = (long long)ct->tv_sec * 1000000 + ct->tv_usec +
		    (ms + 1000) * 1000;
		tv.tv_sec = (time_t)(us / 1000000);
		tv.tv_usec = (suseconds_t)(us % 1000000);
		if (redisSetTimeout(ctx->rc, tv) != REDIS_OK) {
			ra_set_error(&ctx->err, ctx->errstr, RA_ERR_IO,
			    "cannot set the socket timeout");
			return -1;
		}
	}
	r = lock_command(ctx, 3, argv, NULL);
	if (stretch && ctx->rc != NULL &&
	    redisSetTimeout(ctx->rc, *ct) != REDIS_OK) {
		redisFree(ctx->rc);	/* reconnect with the right timeout */
		ctx->rc = NULL;
	}
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

int
ra_lock_wait(struct ra_context *ctx, const char *name, const char *owner,
    double ttl, double wait, int flags, long long *fence)
{
	char sigkey[RA_KEY_MAX + 256];
	long long deadline, left, slice, pttl;

	if (lock_check_ctx(ctx, name, owner, true, ttl) != 0)
		return -1;
	if ((flags & ~RA_LOCK_REENTRANT) != 0) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT,
		    "unknown lock flags 0x%x", (unsigned)flags);
		return -1;
	}
	if (!isfinite(wait) || wait > RA_TTL_MAX) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT,
		    "wait %g out of range", wait);
		return -1;
	}
	if (ra_lock_signal_key(ra_prefix(ctx), name, sigkey,
	    sizeof sigkey) < 0) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT,
		    "key prefix too long");
		return -1;
	}
	deadline = lock_mono_ms() + (wait > 0 ? llround(wait * 1000.0) : 0);
	for (;;) {
		pttl = -1;
		if (lock_try(ctx, name, owner, ttl, flags, fence, &pttl) == 0)
			return 0;
		if (ctx->err != RA_ERR_BUSY)
			return -1;
		if ((left = deadline - lock_mono_ms()) <= 0)
			return -1;	/* still BUSY */
		/* Sleep until a release signals, the holder's TTL runs out
		 * (expiry sends no signal) or the deadline passes. */
		slice = left;
		if (pttl > 0 && pttl < slice)
			slice = pttl;
		if (slice < 1)
			slice = 1;	/* BLPOP 0 would block forever */
		if (lock_blpop(ctx, sigkey, slice) != 0)
			return -1;
	}
}

int
ra_unlock(struct ra_context *ctx, const char *name, const char *owner)
{
	struct ra_result res;
	struct ra_args a;

	if (lock_check_ctx(ctx, name, owner, true, 0) != 0)
		return -1;
	args_release(&a, ra_prefix(ctx), name, owner, 0);
	return ra_call_decode(ctx, &a, decode_integer, &res);
}

int
ra_force_unlock(struct ra_context *ctx, const char *name)
{
	struct ra_result res;
	struct ra_args a;

	if (lock_check_ctx(ctx, name, NULL, false, 0) != 0)
		return -1;
	args_release(&a, ra_prefix(ctx), name, NULL, 1);
	if (ra_call_decode(ctx, &a, decode_integer, &res) != 0)
		return -1;
	return res.u.integer != 0;
}

int
ra_lock_extend(struct ra_context *ctx, const char *name, const char *owner,
    double ttl, int replace, long long *pttl_ms)
{
	struct ra_result res;
	struct ra_args a;

	if (lock_check_ctx(ctx, name, owner, true, ttl) != 0)
		return -1;
	if (!replace && lock_ttl_ms(ttl) <= 0) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT,
		    "additional time must be > 0");
		return -1;
	}
	args_extend(&a, ra_prefix(ctx), name, owner, ttl, replace);
	if (ra_call_decode(ctx, &a, decode_integer, &res) != 0)
		return -1;
	if (pttl_ms != NULL)
		*pttl_ms = res.u.integer;
	return 0;
}

int
ra_lock_update(struct ra_context *ctx, const char *name, const char *owner,
    double ttl)
{
	struct ra_result res;
	struct ra_args a;

	if (lock_check_ctx(ctx, name, owner, true, ttl) != 0)
		return -1;
	ra_args_init(&a, RA_FN_LOCK_UPDATE);
	lock_args_key(&a, ra_prefix(ctx), "lock", name, "");
	ra_args_str(&a, owner);
	ra_args_ll(&a, lock_ttl_ms(ttl));
	return ra_call_decode(ctx, &a, decode_integer, &res);
}

/* Read a lock: owner value (malloc'd or NULL when free; value may be NULL
 * to skip it) and remaining TTL in ms (-2 missing, -1 no expiry). */
static int
lock_get(struct ra_context *ctx, const char *name, char **value,
    long long *pttl)
{
	struct ra_args a;
	redisReply *r;

	if (value != NULL)
		*value = NULL;
	if (lock_check_ctx(ctx, name, NULL, false, 0) != 0)
		return -1;
	ra_args_init(&a, RA_FN_LOCK_GET);
	lock_args_key(&a, ra_prefix(ctx), "lock", name, "");
	r = ra_call(ctx, &a);
	ra_args_deinit(&a);
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    !ra_reply_ll(r->element[1], pttl) ||
	    (r->element[0]->type != REDIS_REPLY_NIL &&
	    r->element[0]->type != REDIS_REPLY_STRING)) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_PROTOCOL,
		    "lock_get: unexpected reply");
		freeReplyObject(r);
		return -1;
	}
	if (value != NULL && r->element[0]->type == REDIS_REPLY_STRING &&
	    (*value = ra_reply_strdup(r->element[0])) == NULL) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_OOM,
		    "out of memory");
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

int
ra_is_locked(struct ra_context *ctx, const char *name)
{
	long long pttl;

	if (lock_get(ctx, name, NULL, &pttl) != 0)
		return -1;
	return pttl != -2;
}

int
ra_lock_value(struct ra_context *ctx, const char *name, char **owner)
{
	long long pttl;

	return lock_get(ctx, name, owner, &pttl);
}

int
ra_lock_key_status(struct ra_context *ctx, const char *name, double timeout,
    enum ra_lock_status *status)
{
	long long pttl;

	if (lock_check_ctx(ctx, name, NULL, false, timeout) != 0)
		return -1;
	if (lock_get(ctx, name, NULL, &pttl) != 0)
		return -1;
	if (pttl == -2)
		*status = RA_LOCK_FREE;
	else if (pttl == -1)
		*status = RA_LOCK_ERROR;
	else if ((double)pttl > timeout * 1000.0)
		*status = RA_LOCK_UNAVAILABLE;
	else
		*status = RA_LOCK_LOCKED;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Conditional setters                                                  */
/* ------------------------------------------------------------------ */

/* Print v in the fewest digits that read back as v. */
static void
lock_print_double(char *buf, size_t len, double v)
{
	int prec;

	for (prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* set_if / del_if: 1 held and changed, 0 not, -1 error. */
static int
lock_cond(struct ra_context *ctx, const char *name, enum ra_lock_cmp op,
    double value, int del, const char *set_value, double ttl)
{
	char num[64], eps[64];
	struct ra_result res;
	struct ra_args a;

	if (lock_check_ctx(ctx, name, NULL, false, ttl) != 0)
		return -1;
	if ((unsigned)op >= RA_CMP__COUNT) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT,
		    "unknown comparison %d", (int)op);
		return -1;
	}
	if (!isfinite(value)) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT,
		    "value %g is not finite", value);
		return -1;
	}
	lock_print_double(num, sizeof num, value);
	snprintf(eps, sizeof eps, "%.17g", RA_LOCK_EPSILON);
	ra_args_init(&a, RA_FN_LOCK_COND);
	lock_args_key(&a, ra_prefix(ctx), "lock", name, "");
	ra_args_str(&a, lock_cmp_words[op]);
	ra_args_str(&a, num);
	ra_args_str(&a, del ? "del" : "set");
	ra_args_str(&a, set_value != NULL ? set_value : num);
	ra_args_ll(&a, lock_ttl_ms(ttl));
	ra_args_str(&a, eps);
	if (ra_call_decode(ctx, &a, decode_integer, &res) != 0)
		return -1;
	return res.u.integer != 0;
}

int
ra_lock_set_if(struct ra_context *ctx, const char *name, enum ra_lock_cmp op,
    double value, const char *set_value, double ttl)
{
	return lock_cond(ctx, name, op, value, 0, set_value, ttl);
}

int
ra_lock_del_if(struct ra_context *ctx, const char *name, enum ra_lock_cmp op,
    double value)
{
	return lock_cond(ctx, name, op, value, 1, NULL, 0);
}

/* ra_setgt/ra_delgt and the rest: thin names for lock_cond. */
#define LOCK_COND_WRAPPERS(word, OP)					\
int									\
ra_set##word(struct ra_context *ctx, const char *name, double value,	\
    const char *set_value, double ttl)					\
{									\
	return lock_cond(ctx, name, OP, value, 0, set_value, ttl);	\
}									\
int									\
ra_del##word(struct ra_context *ctx, const char *name, double value)	\
{									\
	return lock_cond(ctx, name, OP, value, 1, NULL, 0);		\
}

LOCK_COND_WRAPPERS(gt, RA_CMP_GT)
LOCK_COND_WRAPPERS(lt, RA_CMP_LT)
LOCK_COND_WRAPPERS(ge, RA_CMP_GE)
LOCK_COND_WRAPPERS(le, RA_CMP_LE)
LOCK_COND_WRAPPERS(eq, RA_CMP_EQ)
LOCK_COND_WRAPPERS(ne, RA_CMP_NE)

/* ------------------------------------------------------------------ */
/* Async lock                                                           */
/* ------------------------------------------------------------------ */

int
ra_async_lock(struct ra_async *ra, const char *name, const char *owner,
    double ttl, int flags, ra_async_fn *fn, void *priv)
{
	char msg[RA_ERRSTR_LEN];
	struct ra_args a;

	if (ra_lock_check(name, owner, ttl, msg) != 0 ||
	    (flags & ~RA_LOCK_REENTRANT) != 0)
		return -1;
	args_acquire(&a, ra_async_prefix(ra), name, owner, ttl, flags);
	return ra_async_call(ra, &a, decode_acquire, NULL, fn, priv);
}

int
ra_async_unlock(struct ra_async *ra, const char *name, const char *owner,
    ra_async_fn *fn, void *priv)
{
	char msg[RA_ERRSTR_LEN];
	struct ra_args a;

	if (ra_lock_check(name, owner, 0, msg) != 0)
		return -1;
	args_release(&a, ra_async_prefix(ra), name, owner, 0);
	return ra_async_call(ra, &a, decode_integer, NULL, fn, priv);
}

int
ra_async_extend(struct ra_async *ra, const char *name, const char *owner,
    double ttl, int replace, ra_async_fn *fn, void *priv)
{
	char msg[RA_ERRSTR_LEN];
	struct ra_args a;

	if (ra_lock_check(name, owner, ttl, msg) != 0)
		return -1;
	if (!replace && lock_ttl_ms(ttl) <= 0)
		return -1;
	args_extend(&a, ra_async_prefix(ra), name, owner, ttl, replace);
	return ra_async_call(ra, &a, decode_integer, NULL, fn, priv);
}

/* ------------------------------------------------------------------ */
/* Lock pool                                                            */
/* ------------------------------------------------------------------ */

/* Check a pool name and its member names (the whole call is refused on
 * the first bad one). */
static int
pool_check(struct ra_context *ctx, const char *pool,
    const char *const *names, size_t n)
{
	char msg[RA_ERRSTR_LEN];
	size_t i;

	if (lock_check_str("lock pool name", pool, msg) != 0)
		goto bad;
	if (n > 0 && names == NULL) {
		snprintf(msg, sizeof msg, "names is NULL");
		goto bad;
	}
	for (i = 0; i < n; i++)
		if (lock_check_str("lock name", names[i], msg) != 0)
			goto bad;
	return 0;

bad:
	ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT, "%s", msg);
	return -1;
}

/* Run the lock_pool function's op over names in chunks of the batch
 * size; staging (may be NULL) is KEYS[2], stage_ms goes before the names
 * for "stage".
 * Adds the function's answers into *total (may be NULL). */
static int
pool_chunks(struct ra_context *ctx, const char *pool, const char *op,
    const char *staging, const char *const *names, size_t n,
    long long *total)
{
	struct ra_result res;
	struct ra_args a;
	size_t i, j, batch = ra_batch(ctx);

	for (i = 0; i < n || (i == 0 && n == 0); i += batch) {
		ra_args_init(&a, RA_FN_LOCK_POOL);
		lock_args_key(&a, ra_prefix(ctx), "lockpool", pool, "");
		if (staging != NULL)
			lock_args_key(&a, ra_prefix(ctx), "lockpool", pool,
			    staging);
		ra_args_str(&a, op);
		if (strcmp(op, "stage") == 0)
			ra_args_ll(&a, LOCK_STAGING_MS);
		for (j = i; j < n && j < i + batch; j++)
			ra_args_str(&a, names[j]);
		if (ra_call_decode(ctx, &a, decode_integer, &res) != 0)
			return -1;
		if (total != NULL)
			*total += res.u.integer;
		if (n == 0)
			break;
	}
	return 0;
}

int
ra_lock_pool_add(struct ra_context *ctx, const char *pool,
    const char *const *names, size_t n)
{
	if (pool_check(ctx, pool, names, n) != 0)
		return -1;
	if (n == 0)
		return 0;
	return pool_chunks(ctx, pool, "add", NULL, names, n, NULL);
}

int
ra_lock_pool_remove(struct ra_context *ctx, const char *pool,
    const char *const *names, size_t n)
{
	if (pool_check(ctx, pool, names, n) != 0)
		return -1;
	if (n == 0)
		return 0;
	return pool_chunks(ctx, pool, "remove", NULL, names, n, NULL);
}

int
ra_lock_pool_assign(struct ra_context *ctx, const char *pool,
    const char *const *names, size_t n)
{
	char token[RA_TOKEN_LEN + 1], staging[RA_TOKEN_LEN + 16];

	if (pool_check(ctx, pool, names, n) != 0)
		return -1;
	if (ra_random_token(token) != 0) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_IO,
		    "cannot read random bytes");
		return -1;
	}
	snprintf(staging, sizeof staging, ":staging:%s", token);
	if (n > 0 && pool_chunks(ctx, pool, "stage", staging, names, n,
	    NULL) != 0)
		return -1;
	return pool_chunks(ctx, pool, "commit", staging, NULL, 0, NULL);
}

int
ra_lock_pool_clear(struct ra_context *ctx, const char *pool)
{
	if (pool_check(ctx, pool, NULL, 0) != 0)
		return -1;
	return pool_chunks(ctx, pool, "clear", NULL, NULL, 0, NULL);
}

/* Run "CMD poolkey [arg]" and return its integer reply, or -1. */
static int
pool_query(struct ra_context *ctx, const char *cmd, const char *pool,
    const char *arg, long long *v)
{
	char key[RA_KEY_MAX * 2 + 64];
	const char *argv[3] = { cmd, key, arg };
	redisReply *r;

	if (lock_format_key(key, sizeof key, ra_prefix(ctx), "lockpool", pool,
	    "") < 0) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT,
		    "key prefix too long");
		return -1;
	}
	if ((r = lock_command(ctx, arg != NULL ? 3 : 2, argv, NULL)) == NULL)
		return -1;
	if (!ra_reply_ll(r, v)) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_PROTOCOL,
		    "%s: expected an integer reply", cmd);
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

int
ra_lock_pool_contains(struct ra_context *ctx, const char *pool,
    const char *name)
{
	long long v;

	if (pool_check(ctx, pool, &name, 1) != 0)
		return -1;
	if (pool_query(ctx, "SISMEMBER", pool, name, &v) != 0)
		return -1;
	return v != 0;
}

int
ra_lock_pool_count(struct ra_context *ctx, const char *pool,
    long long *count)
{
	if (pool_check(ctx, pool, NULL, 0) != 0)
		return -1;
	return pool_query(ctx, "SCARD", pool, NULL, count);
}

/* EXISTS over the lock keys of names[0..n): how many are held. */
static int
pool_count_locked(struct ra_context *ctx, redisReply **names, size_t n,
    long long *locked)
{
	const char **argv;
	size_t *argvlen, i;
	char **keys;
	redisReply *r;
	long long v;
	int rc = -1;

	argv = calloc(n + 1, sizeof *argv);
	argvlen = calloc(n + 1, sizeof *argvlen);
	keys = calloc(n, sizeof *keys);
	if (argv == NULL || argvlen == NULL || keys == NULL)
		goto oom;
	argv[0] = "EXISTS";
	argvlen[0] = 6;
	for (i = 0; i < n; i++) {
		size_t len = strlen(ra_prefix(ctx)) + names[i]->len + 16;

		if ((keys[i] = malloc(len)) == NULL)
			goto oom;
		argv[i + 1] = keys[i];
		argvlen[i + 1] = (size_t)lock_format_key(keys[i], len,
		    ra_prefix(ctx), "lock", names[i]->str, "");
	}
	if ((r = lock_command(ctx, (int)n + 1, argv, argvlen)) == NULL)
		goto out;
	if (!ra_reply_ll(r, &v))
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_PROTOCOL,
		    "EXISTS: expected an integer reply");
	else {
		*locked += v;
		rc = 0;
	}
	freeReplyObject(r);
	goto out;

oom:
	ra_set_error(&ctx->err, ctx->errstr, RA_ERR_OOM, "out of memory");
out:
	if (keys != NULL)
		for (i = 0; i < n; i++)
			free(keys[i]);
	free(keys);
	free(argv);
	free(argvlen);
	return rc;
}

int
ra_lock_pool_health(struct ra_context *ctx, const char *pool,
    struct ra_lock_pool_health *out)
{
	char key[RA_KEY_MAX * 2 + 64], cursor[32] = "0", count[32];
	const char *argv[5] = { "SSCAN", key, cursor, "COUNT", count };
	size_t batch = ra_batch(ctx), i, k;
	redisReply *r, *page;

	memset(out, 0, sizeof *out);
	if (pool_check(ctx, pool, NULL, 0) != 0)
		return -1;
	if (lock_format_key(key, sizeof key, ra_prefix(ctx), "lockpool", pool,
	    "") < 0) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT,
		    "key prefix too long");
		return -1;
	}
	snprintf(count, sizeof count, "%zu", batch);
	do {
		if ((r = lock_command(ctx, 5, argv, NULL)) == NULL)
			return -1;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[0]->len >= sizeof cursor ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			ra_set_error(&ctx->err, ctx->errstr, RA_ERR_PROTOCOL,
			    "SSCAN: unexpected reply");
			freeReplyObject(r);
			return -1;
		}
		memcpy(cursor, r->element[0]->str, r->element[0]->len + 1);
		page = r->element[1];
		for (i = 0; i < page->elements; i++)
			if (page->element[i]->type != REDIS_REPLY_STRING) {
				ra_set_error(&ctx->err, ctx->errstr,
				    RA_ERR_PROTOCOL, "SSCAN: not a string");
				freeReplyObject(r);
				return -1;
			}
		/* SSCAN's COUNT is a hint: keep each EXISTS within batch */
		for (i = 0; i < page->elements; i += k) {
			k = page->elements - i < batch ? page->elements - i :
			    batch;
			if (pool_count_locked(ctx, page->element + i, k,
			    &out->locked) != 0) {
				freeReplyObject(r);
				return -1;
			}
		}
		out->total += (long long)page->elements;
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	out->free = out->total - out->locked;
	return 0;
}
