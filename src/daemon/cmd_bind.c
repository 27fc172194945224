/*
 * cmd_bind.c: BIND, UNBIND, BINDING and BINDINGS: soft bindings of a
 * name (an account, a session) to a proxy.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "cmd.h"
#include "proxyurl.h"
#include "req.h"

static void
cmd_bind_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	req_proxy_ok(arg, res, 3);
}

/* BIND pool name proxy [TTL s] */
void
cmd_bind(struct req *r)
{
	enum { O_TTL, O_N };
	static const struct req_opt opts[] = {
		[O_TTL] = { "TTL", OPT_NUM, 0, RA_TTL_MAX },
		[O_N] = { NULL, 0, 0, 0 }
	};
	struct req_optval v[O_N];
	struct ra_async *ra;
	char *url;

	memset(v, 0, sizeof v);
	if (!req_key(r, 1, "pool") || !req_key(r, 2, "name") ||
	    req_options(r, 4, opts, v) != 0 || (url = req_proxy(r, 3)) == NULL)
		return;
	if ((ra = req_ra(r)) != NULL)
		REQ_CALL(r, ra_async_bind(ra, r->args.argv[1], r->args.argv[2],
		    url, v[O_TTL].set ? v[O_TTL].num : RA_TTL_DEFAULT, cmd_bind_cb,
		    r));
	free(url);
}

/* UNBIND pool name */
void
cmd_unbind(struct req *r)
{
	struct ra_async *ra;

	if (!req_key(r, 1, "pool") || !req_key(r, 2, "name") ||
	    (ra = req_ra(r)) == NULL)
		return;
	REQ_CALL(r, ra_async_unbind(ra, r->args.argv[1], r->args.argv[2],
	    req_bool_cb, r));
}

static void
cmd_binding_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct req *r = arg;
	char *red;

	if (!req_back(r))
		return;
	if (res->err == RA_ERR_NOT_FOUND) {
		resp_nil(req_out(r));
		req_finish(r);
		return;
	}
	if (res->err != RA_OK) {
		req_ra_error(r, res);
		return;
	}
	if (res->u.str == NULL)
		resp_nil(req_out(r));
	else {
		red = proxyurl_redact(res->u.str);
		resp_str(req_out(r), red);
		free(red);
	}
	req_finish(r);
}

/* BINDING pool name */
void
cmd_binding(struct req *r)
{
	struct ra_async *ra;

	if (!req_key(r, 1, "pool") || !req_key(r, 2, "name") ||
	    (ra = req_ra(r)) == NULL)
		return;
	REQ_CALL(r, ra_async_binding(ra, r->args.argv[1], r->args.argv[2],
	    cmd_binding_cb, r));
}

/* BINDINGS pool proxy */
void
cmd_bindings(struct req *r)
{
	struct ra_async *ra;
	char *url;

	if (!req_key(r, 1, "pool") || (url = req_proxy(r, 2)) == NULL)
		return;
	if ((ra = req_ra(r)) != NULL)
		REQ_CALL(r, ra_async_bindings(ra, r->args.argv[1], url,
		    req_strs_cb, r));
	free(url);
}
