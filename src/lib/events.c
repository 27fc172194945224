/*
 * events.c: a pool's recent events (lua/events.lua): ejections, bans and
 * health changes appended by whoever saw them, read newest first by
 * status pages.  Sync and async forms share the builders and decoders.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ra_internal.h"

static const char *const events_suffix[] = { ":events" };

void
ra_events_deinit(struct ra_events *ev)
{
	size_t i;

	if (ev == NULL)
		return;
	for (i = 0; i < ev->n; i++) {
		free(ev->v[i].kind);
		free(ev->v[i].item);
		free(ev->v[i].detail);
		free(ev->v[i].source);
	}
	free(ev->v);
	ev->v = NULL;
	ev->n = 0;
}

static int
build_add(struct ra_args *a, const char *prefix, const char *pool,
    const char *kind, const char *item, long long until_ms,
    const char *detail, const char *source, int *err, char *errstr)
{
	if (detail == NULL)
		detail = "";
	if (source == NULL)
		source = "";
	if (kind == NULL || until_ms < 0 ||
	    strlen(detail) > RA_EVENT_TEXT_MAX || strlen(source) >
	    RA_EVENT_TEXT_MAX) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT, "an event needs "
		    "a kind, until >= 0, detail and source of at most %d "
		    "bytes", RA_EVENT_TEXT_MAX);
		return -1;
	}
	if (ra_check_key("proxy", item, err, errstr) != 0 ||
	    ra_args_pool(a, RA_FN_EVENT_ADD, prefix, pool, events_suffix, 1,
	    err, errstr) != 0)
		return -1;
	ra_args_str(a, kind);
	ra_args_str(a, item);
	ra_args_ll(a, until_ms);
	ra_args_str(a, detail);
	ra_args_str(a, source);
	return 0;
}

static int
build_get(struct ra_args *a, const char *prefix, const char *pool,
    unsigned count, int *err, char *errstr)
{
	if (count < 1 || count > RA_EVENTS_MAX) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "count must be from 1 to %d", RA_EVENTS_MAX);
		return -1;
	}
	if (ra_args_pool(a, RA_FN_EVENTS_GET, prefix, pool, events_suffix, 1,
	    err, errstr) != 0)
		return -1;
	ra_args_ll(a, count);
	return 0;
}

static void
decode_add(const redisReply *r, struct ra_result *res)
{
	if (r->type != REDIS_REPLY_STRING)
		ra_set_error(&res->err, res->errstr, RA_ERR_PROTOCOL,
		    "unexpected reply to event_add");
}

static char *
dup_str(const redisReply *r)
{
	return r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
}

/* events_get: per event { ms, kind, proxy, until, detail, source }. */
static void
decode_get(const redisReply *r, struct ra_result *res)
{
	struct ra_events *ev = &res->u.events;
	struct ra_event *e;
	const redisReply *x;
	size_t i;

	memset(ev, 0, sizeof *ev);
	if (r->type != REDIS_REPLY_ARRAY)
		goto bad;
	if (r->elements > 0 &&
	    (ev->v = calloc(r->elements, sizeof *ev->v)) == NULL) {
		ra_set_error(&res->err, res->errstr, RA_ERR_OOM,
		    "out of memory");
		return;
	}
	for (i = 0; i < r->elements; i++) {
		x = r->element[i];
		e = &ev->v[i];
		ev->n = i + 1;
		if (x->type != REDIS_REPLY_ARRAY || x->elements != 6 ||
		    !ra_reply_ll(x->element[0], &e->at_ms) ||
		    !ra_reply_ll(x->element[3], &e->until_ms))
			goto bad;
		if ((e->kind = dup_str(x->element[1])) == NULL ||
		    (e->item = dup_str(x->element[2])) == NULL ||
		    (e->detail = dup_str(x->element[4])) == NULL ||
		    (e->source = dup_str(x->element[5])) == NULL)
			goto bad;
	}
	return;
bad:
	ra_events_deinit(ev);
	ra_set_error(&res->err, res->errstr, RA_ERR_PROTOCOL,
	    "unexpected reply to events_get");
}

static void
free_get(struct ra_result *res)
{
	ra_events_deinit(&res->u.events);
}

int
ra_event_add(struct ra_context *ctx, const char *pool, const char *kind,
    const char *item, long long until_ms, const char *detail,
    const char *source)
{
	struct ra_result res;
	struct ra_args a;

	if (build_add(&a, ra_prefix(ctx), pool, kind, item, until_ms, detail,
	    source, &ctx->err, ctx->errstr) != 0)
		return -1;
	return ra_call_decode(ctx, &a, decode_add, &res);
}

int
ra_events_get(struct ra_context *ctx, const char *pool, unsigned count,
    struct ra_events *out)
{
	struct ra_result res;
	struct ra_args a;

	memset(out, 0, sizeof *out);
	if (build_get(&a, ra_prefix(ctx), pool, count, &ctx->err,
	    ctx->errstr) != 0 || ra_call_decode(ctx, &a, decode_get, &res) != 0)
		return -1;
	*out = res.u.events;
	return 0;
}

int
ra_async_event_add(struct ra_async *ra, const char *pool, const char *kind,
    const char *item, long long until_ms, const char *detail,
    const char *source, ra_async_fn *fn, void *priv)
{
	RA_ASYNC_BUILT(build_add(&a, ra_async_prefix(ra), pool, kind, item,
	    until_ms, detail, source, &err, errstr), decode_add, NULL);
}

int
ra_async_events_get(struct ra_async *ra, const char *pool, unsigned count,
    ra_async_fn *fn, void *priv)
{
	RA_ASYNC_BUILT(build_get(&a, ra_async_prefix(ra), pool, count, &err,
	    errstr), decode_get, free_get);
}
