/*
 * async.c: function calls on a hiredis async context.  Each call keeps
 * its own copy of the command so it can be re-sent after FUNCTION LOAD
 * when Redis lacks the function (after a restart without persistence,
 * FUNCTION FLUSH, or a failover to a server that never had it).  While
 * corked, leases, renewals and releases are gathered by pool into one
 * call of the batch function each (see ra_async_cork).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ra_internal.h"

/* What a call's reply goes to: decoder, result's free, callback. */
struct ra_sink {
	ra_decode_fn		*dec;		/* reply -> result */
	ra_result_free_fn	*rfree;		/* frees what dec allocated */
	ra_async_fn		*fn;		/* the caller's callback */
	void			*priv;		/* (ref) its argument */
};

/*
 * The operations of one pool gathered while corked: the first one's own
 * call, sent as it is when no other comes, and from the second on the
 * batch call that carries them all.
 */
struct ra_batch {
	struct ra_batch		*next;
	struct ra_args		 first;		/* the first operation's call */
	struct ra_args		 call;		/* raN_batch, from the second */
	int			 n;		/* operations */
	struct ra_sink		 ops[RA_CORK_MAX];
};

struct ra_async {
	redisAsyncContext	*ac;		/* (ref) the caller owns it */
	char			*prefix;	/* owned key prefix */
	unsigned		 batch;		/* items per bulk call */
	bool			 corked;
	struct ra_batch		*held;		/* owned, in order of arrival */
};

/* One call in flight. */
struct ra_pending {
	struct ra_async		*ra;		/* (ref) */
	char			*cmd;		/* owned FCALL command, RESP */
	size_t			 len;		/* its bytes */
	struct ra_sink		 to;		/* where the reply goes, or */
	struct ra_batch		*batch;		/* owned: the operations whose
						 * replies are its elements */
	bool			 retried;	/* missing function handled once */
};

struct ra_async *
ra_async_create(redisAsyncContext *ac, const char *prefix, unsigned batch)
{
	struct ra_async *ra;

	if ((ra = calloc(1, sizeof *ra)) == NULL)
		return NULL;
	ra->ac = ac;
	ra->batch = batch ? batch : RA_BATCH_DEFAULT;
	if ((ra->prefix = strdup(prefix && *prefix ? prefix : "ra")) == NULL) {
		free(ra);
		return NULL;
	}
	return ra;
}

static void held_fail(struct ra_async *ra);

void
ra_async_destroy(struct ra_async *ra)
{
	if (ra == NULL)
		return;
	held_fail(ra);
	free(ra->prefix);
	free(ra);
}

void
ra_async_set_context(struct ra_async *ra, redisAsyncContext *ac)
{
	ra->ac = ac;
}

const char *
ra_async_prefix(const struct ra_async *ra)
{
	return ra->prefix;
}

unsigned
ra_async_batch(const struct ra_async *ra)
{
	return ra->batch;
}

static void pending_reply(redisAsyncContext *ac, void *reply, void *privdata);

static int
pending_send(redisAsyncContext *ac, struct ra_pending *p)
{
	if (ac == NULL)
		return -1;
	return redisAsyncFormattedCommand(ac, pending_reply, p, p->cmd,
	    p->len) == REDIS_OK ? 0 : -1;
}

/* Hand one reply (NULL with err set: none) to its sink. */
static void
sink_finish(struct ra_async *ra, const struct ra_sink *to,
    const redisReply *r, int err, const char *errstr)
{
	struct ra_result res;

	memset(&res, 0, sizeof res);
	if (err != RA_OK)
		ra_set_error(&res.err, res.errstr, err, "%s", errstr);
	else if (ra_reply_error(r, &res.err, res.errstr) == 0)
		to->dec(r, &res);
	to->fn(ra, &res, to->priv);
	if (res.err == RA_OK && to->rfree != NULL)
		to->rfree(&res);
}

static void
batch_free(struct ra_batch *b)
{
	ra_args_deinit(&b->first);
	ra_args_deinit(&b->call);
	free(b);
}

/* A batch call's reply: each element to its operation (an error of the
 * whole call, or a reply of the wrong shape, to every one). */
static void
batch_finish(struct ra_async *ra, struct ra_batch *b, const redisReply *r,
    int err, const char *errstr)
{
	char msg[RA_ERRSTR_LEN];
	int i, e;

	if (err == RA_OK && ra_reply_error(r, &e, msg) != 0) {
		err = e;
		errstr = msg;
	} else if (err == RA_OK && (r->type != REDIS_REPLY_ARRAY ||
	    r->elements != (size_t)b->n)) {
		snprintf(msg, sizeof msg, "batch: a reply of %zu elements "
		    "for %d operations", r->type == REDIS_REPLY_ARRAY ?
		    r->elements : 0, b->n);
		err = RA_ERR_PROTOCOL;
		errstr = msg;
	}
	for (i = 0; i < b->n; i++)
		sink_finish(ra, &b->ops[i], err == RA_OK ? r->element[i] : NULL,
		    err, errstr);
	batch_free(b);
}

static void
pending_finish(struct ra_pending *p, const redisReply *r, int err,
    const char *errstr)
{
	if (p->batch != NULL)
		batch_finish(p->ra, p->batch, r, err, errstr);
	else
		sink_finish(p->ra, &p->to, r, err, errstr);
	free(p->cmd);
	free(p);
}

static void
pending_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct ra_pending *p = privdata;
	const redisReply *r = reply;
	const char *argv[3];

	if (r == NULL) {
		pending_finish(p, NULL, RA_ERR_BACKEND_DOWN,
		    ac != NULL && ac->errstr[0] ? ac->errstr :
		    "connection to Redis lost");
		return;
	}
	if (!p->retried && ra_reply_no_function(r)) {
		/* the load's reply is not waited for: its error is "already
		 * exists" when another call loaded it first, and the call sent
		 * after it on the same connection runs after it */
		p->retried = true;
		argv[0] = "FUNCTION";
		argv[1] = "LOAD";
		argv[2] = ra_library_src;
		if (redisAsyncCommandArgv(ac, NULL, NULL, 3, argv, NULL) ==
		    REDIS_OK && pending_send(ac, p) == 0)
			return;
		pending_finish(p, NULL, RA_ERR_BACKEND_DOWN,
		    "cannot reload the functions library");
		return;
	}
	pending_finish(p, r, RA_OK, NULL);
}

/* Send a finished call (a is consumed) whose reply goes to to, or to
 * the operations of batch (owned from now on, also on failure). */
static int
call_send(struct ra_async *ra, struct ra_args *a, const struct ra_sink *to,
    struct ra_batch *batch)
{
	struct ra_pending *p;

	if ((p = calloc(1, sizeof *p)) == NULL) {
		ra_args_deinit(a);
		return -1;
	}
	p->cmd = ra_args_format(a, &p->len);
	ra_args_deinit(a);
	if (p->cmd == NULL) {
		free(p);
		return -1;
	}
	p->ra = ra;
	if (to != NULL)
		p->to = *to;
	p->batch = batch;
	if (pending_send(ra->ac, p) != 0) {
		p->batch = NULL;
		free(p->cmd);
		free(p);
		return -1;
	}
	return 0;
}

/* Send what a pool gathered, as its one call or as a batch call; its
 * operations are told when that fails. */
static void
batch_send(struct ra_async *ra, struct ra_batch *b)
{
	struct ra_sink one;
	int rc;

	if (b->n == 1) {
		one = b->ops[0];
		rc = call_send(ra, &b->first, &one, NULL);
		batch_free(b);
		if (rc != 0)
			sink_finish(ra, &one, NULL, RA_ERR_BACKEND_DOWN,
			    "cannot send the call to Redis");
		return;
	}
	if (ra_args_finish(&b->call) != 0 ||
	    call_send(ra, &b->call, NULL, b) != 0)
		batch_finish(ra, b, NULL, RA_ERR_BACKEND_DOWN,
		    "cannot send the batch call to Redis");
}

/* The ARGV of a finished call, with its operation's code (the function
 * name after RA_FN_PREFIX), appended to a batch call. */
static void
batch_push(struct ra_args *call, const struct ra_args *a)
{
	const char *code = ra_functions[a->fn].name + strlen(RA_FN_PREFIX);
	int i;

	ra_args_str(call, code);
	for (i = 3 + a->nkeys; i < a->argc; i++)
		ra_args_bin(call, a->argv[i], a->argvlen[i]);
}

/* Hold a lease, renewal or release (a finished call, consumed) for the
 * batch of its pool; -1 when out of memory. */
static int
batch_hold(struct ra_async *ra, struct ra_args *a, const struct ra_sink *to)
{
	struct ra_batch *b, **tail;
	int i;

	/* a pool's calls all have its 12 keys: the first one tells it */
	for (tail = &ra->held; (b = *tail) != NULL; tail = &b->next)
		if (b->first.argvlen[3] == a->argvlen[3] &&
		    memcmp(b->first.argv[3], a->argv[3], a->argvlen[3]) == 0)
			break;
	if (b == NULL) {
		if ((b = calloc(1, sizeof *b)) == NULL) {
			ra_args_deinit(a);
			return -1;
		}
		b->first = *a;
		memset(a, 0, sizeof *a);
		b->ops[b->n++] = *to;
		*tail = b;
		return 0;
	}
	if (b->n == 1) {
		ra_args_init(&b->call, RA_FN_BATCH);
		for (i = 3; i < 3 + b->first.nkeys; i++)
			ra_args_rawkey(&b->call, b->first.argv[i],
			    b->first.argvlen[i]);
		batch_push(&b->call, &b->first);
	}
	batch_push(&b->call, a);
	ra_args_deinit(a);
	if (b->call.oom)
		return -1;	/* the held ones fail when sent */
	b->ops[b->n++] = *to;
	if (b->n == RA_CORK_MAX) {
		*tail = b->next;
		batch_send(ra, b);
	}
	return 0;
}

void
ra_async_cork(struct ra_async *ra)
{
	ra->corked = true;
}

/* Send everything held, in order (and stay corked). */
static void
held_send(struct ra_async *ra)
{
	struct ra_batch *b;

	while ((b = ra->held) != NULL) {
		ra->held = b->next;
		batch_send(ra, b);
	}
}

/* Fail everything held (the context may be gone: nothing is sent). */
static void
held_fail(struct ra_async *ra)
{
	struct ra_batch *b;

	ra->corked = false;
	while ((b = ra->held) != NULL) {
		ra->held = b->next;
		batch_finish(ra, b, NULL, RA_ERR_BACKEND_DOWN,
		    "the connection to Redis was closed");
	}
}

void
ra_async_uncork(struct ra_async *ra)
{
	ra->corked = false;
	held_send(ra);
}

int
ra_async_call(struct ra_async *ra, struct ra_args *a, ra_decode_fn *dec,
    ra_result_free_fn *rfree, ra_async_fn *fn, void *priv)
{
	struct ra_sink to = { dec, rfree, fn, priv };

	if (ra_args_finish(a) != 0) {
		ra_args_deinit(a);
		return -1;
	}
	if (ra->corked) {
		if (a->fn == RA_FN_LEASE || a->fn == RA_FN_RENEW ||
		    a->fn == RA_FN_RELEASE)
			return batch_hold(ra, a, &to);
		held_send(ra);	/* calls reach Redis in their order */
	}
	return call_send(ra, a, &to, NULL);
}
