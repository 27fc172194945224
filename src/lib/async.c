/*
 * async.c: function calls on a hiredis async context.  Each call keeps
 * its own copy of the command so it can be re-sent after FUNCTION LOAD
 * when Redis lacks the function (after a restart without persistence,
 * FUNCTION FLUSH, or a failover to a server that never had it).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ra_internal.h"

struct ra_async {
	redisAsyncContext	*ac;		/* (ref) the caller owns it */
	char			*prefix;	/* owned key prefix */
	unsigned		 batch;		/* items per bulk call */
};

/* One call in flight. */
struct ra_pending {
	struct ra_async		*ra;		/* (ref) */
	char			*cmd;		/* owned FCALL command, RESP */
	size_t			 len;		/* its bytes */
	ra_decode_fn		*dec;		/* reply -> result */
	ra_result_free_fn	*rfree;		/* frees what dec allocated */
	ra_async_fn		*fn;		/* the caller's callback */
	void			*priv;		/* (ref) its argument */
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

void
ra_async_destroy(struct ra_async *ra)
{
	if (ra == NULL)
		return;
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

static void
pending_finish(struct ra_pending *p, const redisReply *r, int err,
    const char *errstr)
{
	struct ra_result res;

	memset(&res, 0, sizeof res);
	if (err != RA_OK)
		ra_set_error(&res.err, res.errstr, err, "%s", errstr);
	else if (ra_reply_error(r, &res.err, res.errstr) == 0)
		p->dec(r, &res);
	p->fn(p->ra, &res, p->priv);
	if (res.err == RA_OK && p->rfree != NULL)
		p->rfree(&res);
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

int
ra_async_call(struct ra_async *ra, struct ra_args *a, ra_decode_fn *dec,
    ra_result_free_fn *rfree, ra_async_fn *fn, void *priv)
{
	struct ra_pending *p;

	if (ra_args_finish(a) != 0 || (p = calloc(1, sizeof *p)) == NULL) {
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
	p->dec = dec;
	p->rfree = rfree;
	p->fn = fn;
	p->priv = priv;
	if (pending_send(ra->ac, p) != 0) {
		free(p->cmd);
		free(p);
		return -1;
	}
	return 0;
}
