/*
 * conn.c: the synchronous connection: connect, AUTH, SELECT, the
 * functions library (loaded on connect when Redis lacks it, and again
 * once when a call finds its function missing).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ra_internal.h"

#define RA_PREFIX_DEFAULT	"ra"

/* Copy s into the tail of buf; returns the copy or NULL if it won't fit. */
static char *
url_put(char **pos, char *end, const char *s, size_t len)
{
	char *out = *pos;

	if ((size_t)(end - *pos) < len + 1)
		return NULL;
	memcpy(out, s, len);
	out[len] = '\0';
	*pos += len + 1;
	return out;
}

int
ra_options_parse_url(struct ra_options *opt, const char *url, char *buf,
    size_t buflen, char *err, size_t errlen)
{
	char *pos = buf, *end = buf + buflen;
	const char *p, *at, *slash, *colon, *q;
	char *e;
	long v;

	memset(opt, 0, sizeof *opt);
	if (strncmp(url, "unix://", 7) == 0) {
		p = url + 7;
		q = strchr(p, '?');
		if (*p != '/') {
			snprintf(err, errlen, "%s: socket path must be absolute",
			    url);
			return -1;
		}
		opt->path = url_put(&pos, end, p, q ? (size_t)(q - p) : strlen(p));
		if (opt->path == NULL)
			goto toolong;
		if (q != NULL) {
			if (strncmp(q, "?db=", 4) != 0) {
				snprintf(err, errlen, "%s: only ?db=N is understood",
				    url);
				return -1;
			}
			errno = 0;
			v = strtol(q + 4, &e, 10);
			if (errno || *e || e == q + 4 || v < 0 || v > 65535) {
				snprintf(err, errlen, "%s: bad database number",
				    url);
				return -1;
			}
			opt->db = (int)v;
		}
		return 0;
	}
	if (strncmp(url, "redis://", 8) != 0) {
		snprintf(err, errlen,
		    "%s: expected redis://host:port/db or unix:///path", url);
		return -1;
	}
	p = url + 8;
	/* the credentials end at the last '@': a password may hold '@'
	 * and '/' (the host and the db number hold neither) */
	at = strrchr(p, '@');
	slash = strchr(at != NULL ? at : p, '/');
	if (at != NULL) {
		colon = memchr(p, ':', (size_t)(at - p));
		if (colon != NULL) {
			if (colon > p && (opt->username = url_put(&pos, end, p,
			    (size_t)(colon - p))) == NULL)
				goto toolong;
			if ((opt->password = url_put(&pos, end, colon + 1,
			    (size_t)(at - colon - 1))) == NULL)
				goto toolong;
		} else if ((opt->password = url_put(&pos, end, p,
		    (size_t)(at - p))) == NULL)
			goto toolong;
		p = at + 1;
	}
	q = slash ? slash : p + strlen(p);
	if (*p == '[') {			/* [::1]:6379 */
		const char *rb = memchr(p, ']', (size_t)(q - p));
		if (rb == NULL) {
			snprintf(err, errlen, "%s: unclosed [", url);
			return -1;
		}
		opt->host = url_put(&pos, end, p + 1, (size_t)(rb - p - 1));
		colon = rb + 1 < q && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(q - p));
		opt->host = url_put(&pos, end, p,
		    (size_t)((colon ? colon : q) - p));
	}
	if (opt->host == NULL)
		goto toolong;
	if (*opt->host == '\0') {
		snprintf(err, errlen, "%s: no host", url);
		return -1;
	}
	opt->port = 6379;
	if (colon != NULL) {
		errno = 0;
		v = strtol(colon + 1, &e, 10);
		if (errno || e != q || e == colon + 1 || v < 1 || v > 65535) {
			snprintf(err, errlen, "%s: bad port", url);
			return -1;
		}
		opt->port = (int)v;
	}
	if (slash != NULL && slash[1] != '\0') {
		errno = 0;
		v = strtol(slash + 1, &e, 10);
		if (errno || *e || v < 0 || v > 65535) {
			snprintf(err, errlen, "%s: bad database number", url);
			return -1;
		}
		opt->db = (int)v;
	}
	return 0;

toolong:
	snprintf(err, errlen, "%s: URL too long", url);
	return -1;
}

/* *dst = a copy of src (NULL stays NULL); -1 when out of memory. */
static int
dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (src != NULL && (*dst = strdup(src)) == NULL)
		return -1;
	return 0;
}

void
ra_options_free(struct ra_private *p)
{
	free(p->host);
	free(p->path);
	free(p->username);
	free(p->password);
	free(p->prefix);
	memset(p, 0, sizeof *p);
}

int
ra_options_copy(struct ra_private *p, const struct ra_options *opt)
{
	p->opt = *opt;
	if (dup_opt(&p->host, opt->host) != 0 ||
	    dup_opt(&p->path, opt->path) != 0 ||
	    dup_opt(&p->username, opt->username) != 0 ||
	    dup_opt(&p->password, opt->password) != 0 ||
	    dup_opt(&p->prefix, opt->prefix != NULL && *opt->prefix != '\0' ?
	    opt->prefix : RA_PREFIX_DEFAULT) != 0) {
		ra_options_free(p);
		return -1;
	}
	p->opt.host = p->host;
	p->opt.path = p->path;
	p->opt.username = p->username;
	p->opt.password = p->password;
	p->opt.prefix = p->prefix;
	if (p->opt.port == 0)
		p->opt.port = 6379;
	if (p->opt.batch == 0)
		p->opt.batch = RA_BATCH_DEFAULT;
	return 0;
}

static void
priv_destroy(struct ra_private *p)
{
	if (p == NULL)
		return;
	ra_options_free(p);
	free(p);
}

static struct ra_private *
priv_create(const struct ra_options *opt)
{
	struct ra_private *p;

	if ((p = calloc(1, sizeof *p)) == NULL)
		return NULL;
	if (ra_options_copy(p, opt) != 0) {
		free(p);
		return NULL;
	}
	return p;
}

/* Record a hiredis context error in ctx. */
static void
conn_error(struct ra_context *ctx, const char *what)
{
	int code = RA_ERR_BACKEND_DOWN;

	if (ctx->rc != NULL && ctx->rc->err == REDIS_ERR_IO &&
	    (errno == EAGAIN || errno == ETIMEDOUT))
		code = RA_ERR_TIMEOUT;
	ra_set_error(&ctx->err, ctx->errstr, code, "%s: %s", what,
	    ctx->rc != NULL && ctx->rc->errstr[0] ? ctx->rc->errstr :
	    "connection lost");
	if (ctx->rc != NULL) {
		redisFree(ctx->rc);
		ctx->rc = NULL;
	}
}

/* Run one plain command (AUTH, SELECT); 0 or -1 with ctx->err set. */
static int
conn_simple(struct ra_context *ctx, int argc, const char **argv)
{
	redisReply *r;

	r = redisCommandArgv(ctx->rc, argc, argv, NULL);
	if (r == NULL) {
		conn_error(ctx, argv[0]);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BACKEND_DOWN,
		    "%s: %s", argv[0], r->str);
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

static bool
tv_set(const struct timeval *tv)
{
	return tv->tv_sec != 0 || tv->tv_usec != 0;
}

int
ra_reconnect(struct ra_context *ctx)
{
	const struct ra_options *o = &ctx->priv->opt;
	char db[16];

	if (ctx->rc != NULL) {
		redisFree(ctx->rc);
		ctx->rc = NULL;
	}
	ctx->err = RA_OK;
	ctx->errstr[0] = '\0';
	if (o->path != NULL)
		ctx->rc = tv_set(&o->connect_timeout) ?
		    redisConnectUnixWithTimeout(o->path, o->connect_timeout) :
		    redisConnectUnix(o->path);
	else
		ctx->rc = tv_set(&o->connect_timeout) ?
		    redisConnectWithTimeout(o->host ? o->host : "127.0.0.1",
		    o->port, o->connect_timeout) :
		    redisConnect(o->host ? o->host : "127.0.0.1", o->port);
	if (ctx->rc == NULL) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_OOM,
		    "out of memory");
		return -1;
	}
	if (ctx->rc->err) {
		conn_error(ctx, "connect");
		return -1;
	}
	if (tv_set(&o->command_timeout) &&
	    redisSetTimeout(ctx->rc, o->command_timeout) != REDIS_OK) {
		conn_error(ctx, "set timeout");
		return -1;
	}
	if (o->password != NULL) {
		const char *argv[3] = { "AUTH", o->username, o->password };

		if (o->username != NULL) {
			if (conn_simple(ctx, 3, argv) != 0)
				return -1;
		} else {
			argv[1] = o->password;
			if (conn_simple(ctx, 2, argv) != 0)
				return -1;
		}
	}
	if (o->db != 0) {
		const char *argv[2] = { "SELECT", db };

		snprintf(db, sizeof db, "%d", o->db);
		if (conn_simple(ctx, 2, argv) != 0)
			return -1;
	}
	return ra_load_functions(ctx);
}

struct ra_context *
ra_connect(const struct ra_options *opt)
{
	struct ra_context *ctx;
	struct ra_options def;

	if (opt == NULL) {
		memset(&def, 0, sizeof def);
		opt = &def;
	}
	if ((ctx = calloc(1, sizeof *ctx)) == NULL)
		return NULL;
	if ((ctx->priv = priv_create(opt)) == NULL) {
		free(ctx);
		return NULL;
	}
	ra_reconnect(ctx);
	return ctx;
}

void
ra_free(struct ra_context *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->rc != NULL)
		redisFree(ctx->rc);
	priv_destroy(ctx->priv);
	free(ctx);
}

const char *
ra_prefix(const struct ra_context *ctx)
{
	return ctx->priv->opt.prefix;
}

unsigned
ra_batch(const struct ra_context *ctx)
{
	return ctx->priv->opt.batch;
}

/* Is r the error of a FUNCTION LOAD that lost a race to another loader? */
static bool
library_exists(const redisReply *r)
{
	return r->type == REDIS_REPLY_ERROR &&
	    strstr(r->str, "already exists") != NULL;
}

/* FUNCTION LOAD this version's library (a concurrent loader's win is
 * fine: its library is the same one). */
static int
load_library(struct ra_context *ctx)
{
	const char *argv[3] = { "FUNCTION", "LOAD", ra_library_src };
	redisReply *r;

	if ((r = redisCommandArgv(ctx->rc, 3, argv, NULL)) == NULL) {
		conn_error(ctx, "FUNCTION LOAD");
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR && !library_exists(r)) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_SCRIPT,
		    "FUNCTION LOAD " RA_LIBRARY_NAME ": %s", r->str);
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

int
ra_load_functions(struct ra_context *ctx)
{
	const char *argv[4] = { "FUNCTION", "LIST", "LIBRARYNAME",
	    RA_LIBRARY_NAME };
	redisReply *r;
	bool have;

	if (ctx->rc == NULL) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BACKEND_DOWN,
		    "not connected");
		return -1;
	}
	if ((r = redisCommandArgv(ctx->rc, 4, argv, NULL)) == NULL) {
		conn_error(ctx, "FUNCTION LIST");
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_SCRIPT,
		    "FUNCTION LIST: %s (Redis 7.0 or later is needed)", r->str);
		freeReplyObject(r);
		return -1;
	}
	have = r->type == REDIS_REPLY_ARRAY && r->elements > 0;
	freeReplyObject(r);
	return have ? 0 : load_library(ctx);
}

int
ra_load_scripts(struct ra_context *ctx)
{
	return ra_load_functions(ctx);
}

int
ra_fresh(struct ra_context *ctx)
{
	struct pollfd pfd;

	if (ctx->rc != NULL && ctx->rc->err == 0) {
		/* between commands a sync connection has nothing to read:
		 * a readable socket means Redis closed it (a restart, CLIENT
		 * KILL, a timeout), so connect again before sending */
		pfd.fd = ctx->rc->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) == 0)
			return 0;
	}
	return ra_reconnect(ctx);
}

redisReply *
ra_call(struct ra_context *ctx, struct ra_args *a)
{
	redisReply *r;
	int attempt;

	ctx->err = RA_OK;
	ctx->errstr[0] = '\0';
	if (ra_args_finish(a) != 0) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_OOM,
		    "out of memory");
		return NULL;
	}
	if (ra_fresh(ctx) != 0)
		return NULL;
	for (attempt = 0; attempt < 2; attempt++) {
		r = redisCommandArgv(ctx->rc, a->argc, (const char **)a->argv,
		    a->argvlen);
		if (r == NULL) {
			conn_error(ctx, ra_functions[a->fn].name);
			return NULL;
		}
		if (attempt == 0 && ra_reply_no_function(r)) {
			freeReplyObject(r);
			if (load_library(ctx) != 0)
				return NULL;
			continue;
		}
		break;
	}
	if (ra_reply_error(r, &ctx->err, ctx->errstr) != 0) {
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

int
ra_call_decode(struct ra_context *ctx, struct ra_args *a, ra_decode_fn *dec,
    struct ra_result *res)
{
	redisReply *r;

	memset(res, 0, sizeof *res);
	r = ra_call(ctx, a);
	ra_args_deinit(a);
	if (r == NULL)
		return -1;
	dec(r, res);
	freeReplyObject(r);
	if (res->err != RA_OK) {
		ctx->err = res->err;
		memcpy(ctx->errstr, res->errstr, sizeof ctx->errstr);
		return -1;
	}
	return 0;
}
