/*
 * queue.c: the task queue: submit, wait, policies, and the worker side
 * (take, heartbeat, progress, complete, fail with backoff, dead letters).
 * Every state change is one call of a function of lua/queue.lua on the
 * keys of one queue name, which share the hash tag {<prefix>:q:<name>}.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue_internal.h"

/* The nine keys every queue function takes, in KEYS order. */
static const char *const queue_suffixes[] = {
	":queue", ":leases", ":delayed", ":dead", ":wake", ":workers",
	":expire", ":task", ":data",
};
#define QUEUE_NKEYS	(sizeof queue_suffixes / sizeof queue_suffixes[0])

static const char *const ra_policy_names[RA_POLICY__COUNT] = {
	[RA_POLICY_LOCAL] = "local",
	[RA_POLICY_REMOTE] = "remote",
	[RA_POLICY_LOCAL_FIRST] = "local_first",
	[RA_POLICY_REMOTE_FIRST] = "remote_first",
	[RA_POLICY_AUTO] = "auto",
};

static const char *const ra_task_state_names[RA_TASK__COUNT] = {
	[RA_TASK_PENDING] = "pending",
	[RA_TASK_RUNNING] = "running",
	[RA_TASK_DONE] = "done",
	[RA_TASK_FAILED] = "failed",
};

const char *
ra_policy_name(enum ra_policy p)
{
	if ((int)p < 0 || p >= RA_POLICY__COUNT)
		return "unknown";
	return ra_policy_names[p];
}

int
ra_policy_parse(const char *name)
{
	int i;

	for (i = 0; i < RA_POLICY__COUNT; i++)
		if (name != NULL && strcasecmp(name, ra_policy_names[i]) == 0)
			return i;
	return -1;
}

const char *
ra_task_state_name(enum ra_task_state s)
{
	if ((int)s < 0 || s >= RA_TASK__COUNT)
		return "unknown";
	return ra_task_state_names[s];
}

/* Parse a state word from a function; -1 if unknown. */
static int
task_state_parse(const char *s, size_t len)
{
	int i;

	for (i = 0; i < RA_TASK__COUNT; i++)
		if (strlen(ra_task_state_names[i]) == len &&
		    memcmp(s, ra_task_state_names[i], len) == 0)
			return i;
	return -1;
}

long long
queue_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void
queue_sleep_ns(long long ns)
{
	struct timespec ts;

	if (ns <= 0)
		return;
	ts.tv_sec = ns / 1000000000LL;
	ts.tv_nsec = ns % 1000000000LL;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

bool
queue_conn_error(const struct ra_context *ctx)
{
	return ctx->err == RA_ERR_BACKEND_DOWN || ctx->err == RA_ERR_IO ||
	    (ctx->err == RA_ERR_TIMEOUT && ctx->rc == NULL);
}

void
ra_queue_conf_init(struct ra_queue_conf *c)
{
	memset(c, 0, sizeof *c);
	c->lease = 30;
	c->result_ttl = 3600;
	c->max_attempts = 3;
	c->backoff_base = 1;
	c->backoff_max = 300;
	c->poll = 1;
	c->batch = 100;
}

/* Check one duration setting: finite, > 0 (>= 0 if zero_ok), at most
 * RA_TTL_MAX. */
static int
conf_check(const char *what, double v, bool zero_ok, char *errstr)
{
	int err;
	char buf[RA_ERRSTR_LEN];

	if (ra_check_ttl(what, v, false, &err, buf) != 0 ||
	    (!zero_ok && v < 0.001)) {
		if (errstr != NULL)
			snprintf(errstr, RA_ERRSTR_LEN, "%s %g out of range",
			    what, v);
		return -1;
	}
	return 0;
}

/* A nonzero xorshift seed from all RA_TOKEN_LEN hex digits of tok, so
 * every handle retries on its own schedule (16 digits at a time: more
 * would overflow strtoull to the same ULLONG_MAX on every handle). */
static uint64_t
seed_rng(const char *tok)
{
	char part[17];
	uint64_t x = 0;
	size_t i;

	for (i = 0; i < RA_TOKEN_LEN; i += 16) {
		memcpy(part, tok + i, 16);
		part[16] = '\0';
		x = x * 0x9e3779b97f4a7c15ULL ^ strtoull(part, NULL, 16);
	}
	return x != 0 ? x : 1;
}

struct ra_queue *
ra_queue_create(const struct ra_queue_conf *conf, char *errstr)
{
	struct ra_queue_conf c, def;
	struct ra_queue *q;
	char host[256], tok[RA_TOKEN_LEN + 1];

	ra_queue_conf_init(&def);
	c = conf != NULL ? *conf : def;
	if (c.lease == 0)
		c.lease = def.lease;
	if (c.result_ttl == 0)
		c.result_ttl = def.result_ttl;
	if (c.max_attempts == 0)
		c.max_attempts = def.max_attempts;
	if (c.backoff_base == 0)
		c.backoff_base = def.backoff_base;
	if (c.backoff_max == 0)
		c.backoff_max = def.backoff_max;
	if (c.poll == 0)
		c.poll = def.poll;
	if (c.batch == 0)
		c.batch = def.batch;
	if (conf_check("lease", c.lease, false, errstr) != 0 ||
	    conf_check("result_ttl", c.result_ttl, false, errstr) != 0 ||
	    conf_check("backoff_base", c.backoff_base, true, errstr) != 0 ||
	    conf_check("backoff_max", c.backoff_max, true, errstr) != 0 ||
	    conf_check("poll", c.poll, false, errstr) != 0)
		return NULL;
	if (c.max_attempts > 1000 || c.batch > 100000) {
		if (errstr != NULL)
			snprintf(errstr, RA_ERRSTR_LEN,
			    "max_attempts (<= 1000) or batch (<= 100000) "
			    "out of range");
		return NULL;
	}
	if ((q = calloc(1, sizeof *q)) == NULL)
		goto fail_oom;
	q->conf = c;
	if (pthread_mutex_init(&q->lock, NULL) != 0) {
		free(q);
		goto fail_oom;
	}
	if (gethostname(host, sizeof host) != 0)
		strcpy(host, "localhost");
	host[sizeof host - 1] = '\0';
	if (ra_random_token(tok) != 0) {
		ra_queue_destroy(q);
		if (errstr != NULL)
			snprintf(errstr, RA_ERRSTR_LEN, "no random source");
		return NULL;
	}
	snprintf(q->worker_id, sizeof q->worker_id, "%s:%ld:%.8s", host,
	    (long)getpid(), tok);
	q->rng = seed_rng(tok);
	return q;

fail_oom:
	if (errstr != NULL)
		snprintf(errstr, RA_ERRSTR_LEN, "out of memory");
	return NULL;
}

void
ra_queue_destroy(struct ra_queue *q)
{
	size_t i;

	if (q == NULL)
		return;
	for (i = 0; i < q->nfns; i++)
		free(q->fns[i].name);
	free(q->fns);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

const char *
ra_queue_worker_id(const struct ra_queue *q)
{
	return q->worker_id;
}

long long
queue_worker_ttl_ms(const struct ra_queue *q)
{
	double s = q->conf.lease > 3 * q->conf.poll ? q->conf.lease :
	    3 * q->conf.poll;

	return (long long)llround(s * 1000);
}

int
ra_queue_register(struct ra_queue *q, const char *name, ra_task_fn *fn,
    void *arg)
{
	struct queue_fn *v;
	size_t i;
	char *copy;

	int err;
	char errstr[RA_ERRSTR_LEN];

	if (queue_check_name(name, &err, errstr) != 0 || fn == NULL) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < q->nfns; i++) {
		if (strcmp(q->fns[i].name, name) == 0) {
			q->fns[i].fn = fn;
			q->fns[i].arg = arg;
			return 0;
		}
	}
	if ((copy = strdup(name)) == NULL)
		return -1;
	if ((v = realloc(q->fns, (q->nfns + 1) * sizeof *v)) == NULL) {
		free(copy);
		errno = ENOMEM;
		return -1;
	}
	q->fns = v;
	v[q->nfns].name = copy;
	v[q->nfns].fn = fn;
	v[q->nfns].arg = arg;
	q->nfns++;
	return 0;
}

const struct queue_fn *
queue_lookup(const struct ra_queue *q, const char *name)
{
	size_t i;

	for (i = 0; i < q->nfns; i++)
		if (strcmp(q->fns[i].name, name) == 0)
			return &q->fns[i];
	return NULL;
}

/* "{prefix:q:name}suffix" into a new string; NULL on OOM. */
static char *
queue_key(const char *prefix, const char *name, const char *suffix,
    const char *id)
{
	size_t len = strlen(prefix) + strlen(name) + strlen(suffix) +
	    (id != NULL ? strlen(id) : 0) + 8;
	char *k;

	if ((k = malloc(len)) == NULL)
		return NULL;
	snprintf(k, len, "{%s:q:%s}%s%s", prefix, name, suffix,
	    id != NULL ? id : "");
	return k;
}

/* Start a call of fn with the nine queue keys of name and, when
 * id is given, the task's notify key. */
static void
queue_args(struct ra_args *a, int fn, const char *prefix,
    const char *name, const char *id)
{
	size_t i;
	char *k;

	ra_args_init(a, fn);
	for (i = 0; i < QUEUE_NKEYS; i++) {
		if ((k = queue_key(prefix, name, queue_suffixes[i], NULL)) ==
		    NULL) {
			a->oom = true;
			return;
		}
		ra_args_rawkey(a, k, strlen(k));
		free(k);
	}
	if (id != NULL) {
		if ((k = queue_key(prefix, name, ":n:", id)) == NULL) {
			a->oom = true;
			return;
		}
		ra_args_rawkey(a, k, strlen(k));
		free(k);
	}
}

/* Run a built call whose reply carries nothing; consumes a.  Returns 0, or
 * -1 with ctx->err set. */
static int
queue_send(struct ra_context *ctx, struct ra_args *a)
{
	redisReply *r;

	r = ra_call(ctx, a);
	ra_args_deinit(a);
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

int
queue_check_name(const char *name, int *err, char *errstr)
{
	if (ra_check_key("queue name", name, err, errstr) != 0)
		return -1;
	/* the name is the hash tag: a brace would let one name's keys
	 * collide with another's */
	if (strpbrk(name, "{}") != NULL) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "queue name must not contain { or }");
		return -1;
	}
	return 0;
}

/* Validate a name and (if need_id) an id into ctx. */
static int
check_name_id(struct ra_context *ctx, const char *name, const char *id,
    bool need_id)
{
	if (queue_check_name(name, &ctx->err, ctx->errstr) != 0)
		return -1;
	if (need_id && ra_check_key("task id", id, &ctx->err,
	    ctx->errstr) != 0)
		return -1;
	return 0;
}

/* Copy a bulk reply into *out (NUL added); NULL/0 for nil.  -1 on OOM. */
static int
reply_bytes(const redisReply *r, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (r == NULL || r->type != REDIS_REPLY_STRING)
		return 0;
	if ((*out = malloc(r->len + 1)) == NULL)
		return -1;
	memcpy(*out, r->str, r->len);
	(*out)[r->len] = '\0';
	*len = r->len;
	return 0;
}

/* Forget the last error of ctx (policies clear the error they recover
 * from). */
static void
clear_error(struct ra_context *ctx)
{
	ctx->err = RA_OK;
	ctx->errstr[0] = '\0';
}

/* ctx->err = PROTOCOL: a function answered something unexpected. */
static void
set_protocol(struct ra_context *ctx, const char *fn)
{
	ra_set_error(&ctx->err, ctx->errstr, RA_ERR_PROTOCOL,
	    "%s: unexpected reply", fn);
}

/*
 * Check that len bytes (what: "payload", "result") fit in one argument:
 * Redis drops the connection on a bulk longer than its proto-max-bulk-len,
 * which would read as an outage.  The server is asked (CONFIG GET) only
 * above QUEUE_BULK_MIN, the lowest limit it allows, so small ones cost
 * nothing; where CONFIG is refused the default limit is assumed.  0, or
 * -1 with RA_ERR_BAD_ARGUMENT (or a connection error) in ctx.
 */
static int
check_bulk(struct ra_context *ctx, const char *what, size_t len)
{
	unsigned long long max = QUEUE_BULK_DEFAULT;
	redisReply *r;

	if (len <= QUEUE_BULK_MIN)
		return 0;
	if (ra_fresh(ctx) != 0)
		return -1;
	r = redisCommand(ctx->rc, "CONFIG GET proto-max-bulk-len");
	if (r == NULL) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BACKEND_DOWN,
		    "CONFIG GET: %s", ctx->rc->errstr[0] ? ctx->rc->errstr :
		    "connection lost");
		redisFree(ctx->rc);
		ctx->rc = NULL;
		return -1;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[1]->type == REDIS_REPLY_STRING)
		max = strtoull(r->element[1]->str, NULL, 10);
	freeReplyObject(r);
	if (len > max) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT,
		    "%s of %zu bytes over the server's limit of %llu "
		    "(proto-max-bulk-len)", what, len, max);
		return -1;
	}
	return 0;
}

int
ra_queue_submit(struct ra_queue *q, struct ra_context *ctx, const char *name,
    const char *id, const void *payload, size_t len, double timeout)
{
	struct ra_args a;

	if (check_name_id(ctx, name, id, true) != 0 ||
	    ra_check_ttl("timeout", timeout, false, &ctx->err,
	    ctx->errstr) != 0)
		return -1;
	if (payload == NULL && len != 0) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT,
		    "payload is NULL with length %zu", len);
		return -1;
	}
	if (check_bulk(ctx, "payload", len) != 0)
		return -1;
	queue_args(&a, RA_FN_QUEUE_SUBMIT, ra_prefix(ctx), name, id);
	ra_args_str(&a, id);
	ra_args_bin(&a, payload != NULL ? payload : "", len);
	ra_args_ms(&a, timeout);
	ra_args_ll(&a, q->conf.max_attempts);
	ra_args_ms(&a, q->conf.result_ttl);
	ra_args_ll(&a, QUEUE_WAKE_CAP);
	return queue_send(ctx, &a);
}

void
ra_task_result_deinit(struct ra_task_result *r)
{
	if (r == NULL)
		return;
	free(r->data);
	free(r->error);
	memset(r, 0, sizeof *r);
}

/* Decode the status reply {state, result, error, attempts, cur, total,
 * deadline}. */
static int
decode_status(struct ra_context *ctx, const redisReply *r,
    struct ra_task_result *out)
{
	long long v[4];
	size_t elen;
	int st, i;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 7 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    (st = task_state_parse(r->element[0]->str,
	    r->element[0]->len)) < 0) {
		set_protocol(ctx, "queue_status");
		return -1;
	}
	for (i = 0; i < 4; i++) {
		if (!ra_reply_ll(r->element[3 + i], &v[i])) {
			set_protocol(ctx, "queue_status");
			return -1;
		}
	}
	out->state = st;
	out->attempts = (unsigned)v[0];
	out->current = v[1];
	out->total = v[2];
	out->deadline_ms = v[3];
	if (reply_bytes(r->element[1], &out->data, &out->len) != 0 ||
	    reply_bytes(r->element[2], &out->error, &elen) != 0) {
		ra_task_result_deinit(out);
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_OOM,
		    "out of memory");
		return -1;
	}
	if (out->data != NULL && out->len == 0) {
		free(out->data);	/* an empty result reads as none */
		out->data = NULL;
	}
	return 0;
}

int
ra_queue_status(struct ra_queue *q, struct ra_context *ctx, const char *name,
    const char *id, int flags, struct ra_task_result *out)
{
	struct ra_args a;
	redisReply *r;
	int rc;

	memset(out, 0, sizeof *out);
	if (check_name_id(ctx, name, id, true) != 0)
		return -1;
	queue_args(&a, RA_FN_QUEUE_STATUS, ra_prefix(ctx), name, id);
	ra_args_str(&a, id);
	ra_args_ll(&a, (flags & RA_QUEUE_DELETE) ? 1 : 0);
	r = ra_call(ctx, &a);
	ra_args_deinit(&a);
	if (r == NULL)
		return -1;
	rc = decode_status(ctx, r, out);
	freeReplyObject(r);
	return rc;
}

int
queue_reap_name(struct ra_queue *q, struct ra_context *ctx, const char *name,
    long long ttl_ms, struct ra_queue_reap_stats *out, long long *next_due_ms)
{
	struct ra_args a;
	redisReply *r;
	long long v[6];
	int i;

	queue_args(&a, RA_FN_QUEUE_REAP, ra_prefix(ctx), name, NULL);
	ra_args_ll(&a, q->conf.batch);
	ra_args_str(&a, ttl_ms >= 0 ? q->worker_id : "");
	ra_args_ll(&a, ttl_ms >= 0 ? ttl_ms : 0);
	ra_args_ll(&a, QUEUE_WAKE_CAP);
	r = ra_call(ctx, &a);
	ra_args_deinit(&a);
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 6) {
		freeReplyObject(r);
		set_protocol(ctx, "queue_reap");
		return -1;
	}
	for (i = 0; i < 6; i++) {
		if (!ra_reply_ll(r->element[i], &v[i])) {
			freeReplyObject(r);
			set_protocol(ctx, "queue_reap");
			return -1;
		}
	}
	freeReplyObject(r);
	if (out != NULL) {
		out->promoted = v[0];
		out->requeued = v[1];
		out->dead = v[2];
		out->forgotten = v[3];
		out->live_workers = v[5];
	}
	if (next_due_ms != NULL)
		*next_due_ms = v[4];
	return 0;
}

int
ra_queue_reap(struct ra_queue *q, struct ra_context *ctx, const char *name,
    struct ra_queue_reap_stats *out)
{
	struct ra_queue_reap_stats st;

	if (check_name_id(ctx, name, NULL, false) != 0)
		return -1;
	return queue_reap_name(q, ctx, name, -1, out != NULL ? out : &st,
	    NULL);
}

void
queue_backoff(struct ra_context *ctx, long long *backoff, long long deadline_ns)
{
	long long d = *backoff, now = queue_now_ns();
	int err = ctx->err;
	char errstr[RA_ERRSTR_LEN];

	if (deadline_ns != 0 && now + d > deadline_ns)
		d = deadline_ns - now;
	queue_sleep_ns(d);
	*backoff = *backoff * 2 > QUEUE_BACKOFF_MAX_NS ?
	    QUEUE_BACKOFF_MAX_NS : *backoff * 2;
	memcpy(errstr, ctx->errstr, sizeof errstr);
	if (ra_reconnect(ctx) != 0)
		return;
	/* keep the error that sent us here for the caller's report */
	ctx->err = err;
	memcpy(ctx->errstr, errstr, sizeof errstr);
}

/*
 * One BLPOP on keys for up to ms milliseconds (>= 1).  Returns 1 when
 * woken (a key had an item), 0 on timeout or CLIENT UNBLOCK, -1 with
 * ctx->err set when the connection failed.
 */
static int
queue_block(struct ra_context *ctx, char **keys, size_t n, long long ms)
{
	const char **argv;
	char tmo[32];
	redisReply *r;
	size_t i;
	int rc;
	const struct timeval *ct = &ctx->priv->opt.command_timeout;
	long long cap;
	bool stretched = false;

	if (ra_fresh(ctx) != 0)
		return -1;
	if (ms < 1)
		ms = 1;
	if ((argv = calloc(n + 2, sizeof *argv)) == NULL) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_OOM,
		    "out of memory");
		return -1;
	}
	/*
	 * Redis ends a blocking wait on its cron tick, up to 100 ms late
	 * (hz 10): stretch a shorter socket timeout over this one command
	 * so a normal wake-up is never taken for a dead connection.
	 */
	cap = (long long)ct->tv_sec * 1000 + ct->tv_usec / 1000;
	if (cap > 0 && cap < ms + 1000) {
		struct timeval tv;

		tv.tv_sec = (ms + 1000) / 1000;
		tv.tv_usec = (suseconds_t)((ms + 1000) % 1000) * 1000;
		if (redisSetTimeout(ctx->rc, tv) != REDIS_OK) {
			free(argv);
			ra_set_error(&ctx->err, ctx->errstr,
			    RA_ERR_BACKEND_DOWN, "cannot set socket timeout");
			redisFree(ctx->rc);
			ctx->rc = NULL;
			return -1;
		}
		stretched = true;
	}
	argv[0] = "BLPOP";
	for (i = 0; i < n; i++)
		argv[1 + i] = keys[i];
	snprintf(tmo, sizeof tmo, "%lld.%03lld", ms / 1000, ms % 1000);
	argv[n + 1] = tmo;
	r = redisCommandArgv(ctx->rc, (int)n + 2, argv, NULL);
	free(argv);
	if (r != NULL && stretched && redisSetTimeout(ctx->rc, *ct) !=
	    REDIS_OK) {
		freeReplyObject(r);
		r = NULL;
	}
	if (r == NULL) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BACKEND_DOWN,
		    "BLPOP: %s", ctx->rc->errstr[0] ? ctx->rc->errstr :
		    "connection lost");
		redisFree(ctx->rc);
		ctx->rc = NULL;
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		/* UNBLOCKED (CLIENT UNBLOCK ... ERROR): just wake up */
		rc = strncmp(r->str, "UNBLOCKED", 9) == 0 ? 0 : -1;
		if (rc != 0)
			ra_set_error(&ctx->err, ctx->errstr,
			    RA_ERR_BACKEND_DOWN, "BLPOP: %s", r->str);
		freeReplyObject(r);
		return rc;
	}
	rc = r->type == REDIS_REPLY_ARRAY ? 1 : 0;
	freeReplyObject(r);
	return rc;
}

/* Copy the result of a local run into out. */
static int
run_local(struct ra_queue *q, struct ra_context *ctx, const char *name,
    const char *id, const void *payload, size_t len, double timeout,
    struct ra_task_result *out)
{
	const struct queue_fn *f = queue_lookup(q, name);
	struct ra_task t;
	int rc;

	memset(out, 0, sizeof *out);
	if (f == NULL) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_NOT_FOUND,
		    "no local function registered for %s", name);
		return -1;
	}
	memset(&t, 0, sizeof t);
	t.local = 1;
	t.q = q;
	t.attempt = 1;
	t.max_attempts = 1;
	if (timeout > 0)
		t.local_deadline_ns = queue_now_ns() +
		    (long long)llround(timeout * 1e9);
	t.name = strdup(name);
	t.id = strdup(id);
	t.payload = malloc(len + 1);
	if (t.name == NULL || t.id == NULL || t.payload == NULL) {
		ra_task_deinit(&t);
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_OOM,
		    "out of memory");
		return -1;
	}
	if (len > 0)
		memcpy(t.payload, payload, len);
	t.payload[len] = '\0';
	t.payload_len = len;
	rc = f->fn(&t, f->arg);
	out->local = 1;
	out->attempts = 1;
	out->current = t.current;
	out->total = t.total;
	if (rc == 0) {
		out->state = RA_TASK_DONE;
		if (t.result_len > 0) {
			out->data = t.result;
			out->len = t.result_len;
			t.result = NULL;
		}
	} else {
		out->state = RA_TASK_FAILED;
		if ((out->error = strdup(t.error[0] ? t.error :
		    "failed")) == NULL) {
			ra_task_deinit(&t);
			ra_set_error(&ctx->err, ctx->errstr, RA_ERR_OOM,
			    "out of memory");
			return -1;
		}
	}
	ra_task_deinit(&t);
	return 0;
}

int
ra_queue_wait(struct ra_queue *q, struct ra_context *ctx, const char *name,
    const char *id, double wait, int flags, struct ra_task_result *out)
{
	long long deadline, now, last_reap = 0, backoff = QUEUE_BACKOFF_MIN_NS;
	long long poll_ns = (long long)llround(q->conf.poll * 1e9), ms;
	char *notify;
	bool down;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (check_name_id(ctx, name, id, true) != 0 ||
	    ra_check_ttl("wait", wait, false, &ctx->err, ctx->errstr) != 0)
		return -1;
	if ((notify = queue_key(ra_prefix(ctx), name, ":n:", id)) == NULL) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_OOM,
		    "out of memory");
		return -1;
	}
	deadline = queue_now_ns() + (long long)llround(wait * 1e9);
	for (;;) {
		down = false;
		if (ra_queue_status(q, ctx, name, id, flags, out) == 0) {
			if (out->state == RA_TASK_DONE ||
			    out->state == RA_TASK_FAILED) {
				rc = 0;
				break;
			}
			ra_task_result_deinit(out);
			backoff = QUEUE_BACKOFF_MIN_NS;
		} else if (queue_conn_error(ctx))
			down = true;
		else {
			rc = -1;
			break;
		}
		now = queue_now_ns();
		if (now >= deadline) {
			if (!down)
				ra_set_error(&ctx->err, ctx->errstr,
				    RA_ERR_TIMEOUT, "task %s not finished "
				    "within %g s", id, wait);
			rc = -1;
			break;
		}
		if (down) {
			queue_backoff(ctx, &backoff, deadline);
			continue;
		}
		if (now - last_reap >= poll_ns) {
			last_reap = now;
			if (queue_reap_name(q, ctx, name, -1, NULL, NULL) != 0 &&
			    queue_conn_error(ctx))
				continue;
		}
		ms = (deadline - now + 999999) / 1000000;
		if (ms > poll_ns / 1000000)
			ms = poll_ns / 1000000;
		if (queue_block(ctx, &notify, 1, ms) < 0 &&
		    !queue_conn_error(ctx)) {
			rc = -1;
			break;
		}
	}
	free(notify);
	return rc;
}

/* Submit and wait: the remote half of the policies.  *queued (may be
 * NULL) tells whether the task was submitted. */
static int
run_remote(struct ra_queue *q, struct ra_context *ctx, const char *name,
    const char *id, const void *payload, size_t len, double timeout,
    int flags, struct ra_task_result *out, bool *queued)
{
	memset(out, 0, sizeof *out);
	if (queued != NULL)
		*queued = false;
	if (ra_queue_submit(q, ctx, name, id, payload, len, timeout) != 0)
		return -1;
	if (queued != NULL)
		*queued = true;
	return ra_queue_wait(q, ctx, name, id, timeout, flags, out);
}

int
ra_queue_run(struct ra_queue *q, struct ra_context *ctx, const char *name,
    const char *id, const void *payload, size_t len, double timeout,
    enum ra_policy policy, int flags, struct ra_task_result *out)
{
	struct ra_queue_reap_stats st;
	enum ra_task_state was;
	bool queued;

	memset(out, 0, sizeof *out);
	if (check_name_id(ctx, name, id, true) != 0 ||
	    ra_check_ttl("timeout", timeout, false, &ctx->err,
	    ctx->errstr) != 0)
		return -1;
	if (timeout <= 0) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT,
		    "timeout must be > 0 to run a task");
		return -1;
	}
	if (payload == NULL && len != 0) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT,
		    "payload is NULL with length %zu", len);
		return -1;
	}
	clear_error(ctx);
	switch (policy) {
	case RA_POLICY_LOCAL:
		return run_local(q, ctx, name, id, payload, len, timeout, out);
	case RA_POLICY_REMOTE:
		return run_remote(q, ctx, name, id, payload, len, timeout,
		    flags, out, NULL);
	case RA_POLICY_LOCAL_FIRST:
		if (run_local(q, ctx, name, id, payload, len, timeout,
		    out) == 0 && out->state == RA_TASK_DONE)
			return 0;
		ra_task_result_deinit(out);
		clear_error(ctx);
		return run_remote(q, ctx, name, id, payload, len, timeout,
		    flags, out, NULL);
	case RA_POLICY_REMOTE_FIRST:
		if (run_remote(q, ctx, name, id, payload, len, timeout, flags,
		    out, &queued) == 0 && out->state == RA_TASK_DONE)
			return 0;
		ra_task_result_deinit(out);
		clear_error(ctx);
		/* best effort: the task we queued and no worker started must
		 * not run twice (someone else's task with that id is left) */
		if (queued)
			ra_queue_cancel(q, ctx, name, id, &was);
		clear_error(ctx);
		return run_local(q, ctx, name, id, payload, len, timeout, out);
	case RA_POLICY_AUTO:
		if (queue_reap_name(q, ctx, name, -1, &st, NULL) == 0 &&
		    st.live_workers > 0)
			return run_remote(q, ctx, name, id, payload, len,
			    timeout, flags, out, NULL);
		clear_error(ctx);
		return run_local(q, ctx, name, id, payload, len, timeout, out);
	default:
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT,
		    "unknown policy %d", (int)policy);
		return -1;
	}
}

int
ra_queue_cancel(struct ra_queue *q, struct ra_context *ctx, const char *name,
    const char *id, enum ra_task_state *was)
{
	struct ra_args a;
	redisReply *r;
	int st;

	if (check_name_id(ctx, name, id, true) != 0)
		return -1;
	queue_args(&a, RA_FN_QUEUE_CANCEL, ra_prefix(ctx), name, id);
	ra_args_str(&a, id);
	r = ra_call(ctx, &a);
	ra_args_deinit(&a);
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_STRING ||
	    (st = task_state_parse(r->str, r->len)) < 0) {
		freeReplyObject(r);
		set_protocol(ctx, "queue_cancel");
		return -1;
	}
	freeReplyObject(r);
	if (was != NULL)
		*was = st;
	return 0;
}

int
ra_queue_dead(struct ra_queue *q, struct ra_context *ctx, const char *name,
    unsigned long start, unsigned count, struct ra_strlist *ids,
    unsigned long long *total)
{
	struct ra_args a;
	redisReply *r, *l;
	long long n;
	size_t i;

	ids->v = NULL;
	ids->n = 0;
	if (check_name_id(ctx, name, NULL, false) != 0)
		return -1;
	if (count == 0 || count > q->conf.batch) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT,
		    "count %u out of range (1 to %u)", count, q->conf.batch);
		return -1;
	}
	queue_args(&a, RA_FN_QUEUE_DEAD, ra_prefix(ctx), name, NULL);
	ra_args_ll(&a, (long long)start);
	ra_args_ll(&a, count);
	r = ra_call(ctx, &a);
	ra_args_deinit(&a);
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    !ra_reply_ll(r->element[0], &n) ||
	    (l = r->element[1])->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		set_protocol(ctx, "queue_dead");
		return -1;
	}
	if (total != NULL)
		*total = (unsigned long long)n;
	if (l->elements > 0 &&
	    (ids->v = calloc(l->elements, sizeof *ids->v)) == NULL)
		goto fail_oom;
	for (i = 0; i < l->elements; i++) {
		if ((ids->v[i] = ra_reply_strdup(l->element[i])) == NULL)
			goto fail_oom;
		ids->n++;
	}
	freeReplyObject(r);
	return 0;

fail_oom:
	freeReplyObject(r);
	ra_strlist_deinit(ids);
	ra_set_error(&ctx->err, ctx->errstr, RA_ERR_OOM, "out of memory");
	return -1;
}

int
ra_queue_requeue(struct ra_queue *q, struct ra_context *ctx, const char *name,
    const char *id)
{
	struct ra_args a;

	if (check_name_id(ctx, name, id, true) != 0)
		return -1;
	queue_args(&a, RA_FN_QUEUE_REQUEUE, ra_prefix(ctx), name, id);
	ra_args_str(&a, id);
	ra_args_ll(&a, QUEUE_WAKE_CAP);
	return queue_send(ctx, &a);
}

/* ---- worker side ---- */

void
ra_task_deinit(struct ra_task *t)
{
	if (t == NULL)
		return;
	free(t->name);
	free(t->id);
	free(t->payload);
	free(t->result);
	memset(t, 0, sizeof *t);
}

int
ra_task_set_result(struct ra_task *t, const void *data, size_t len)
{
	char *copy;

	if ((copy = malloc(len + 1)) == NULL) {
		ra_set_error(&t->err, t->errstr, RA_ERR_OOM, "out of memory");
		return -1;
	}
	if (len > 0)
		memcpy(copy, data, len);
	copy[len] = '\0';
	free(t->result);
	t->result = copy;
	t->result_len = len;
	return 0;
}

void
ra_task_set_error(struct ra_task *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->error, sizeof t->error, fmt, ap);
	va_end(ap);
}

int
ra_task_progress(struct ra_task *t, long long current, long long total)
{
	struct ra_context *ctx = t->ctx;
	struct ra_args a;
	redisReply *r;

	t->err = RA_OK;
	t->errstr[0] = '\0';
	if (t->local) {
		if (t->local_deadline_ns != 0 &&
		    queue_now_ns() >= t->local_deadline_ns) {
			ra_set_error(&t->err, t->errstr, RA_ERR_TIMEOUT,
			    "task %s passed its deadline", t->id);
			return -1;
		}
		t->current = current;
		t->total = total;
		return 0;
	}
	if (ctx == NULL || t->q == NULL) {
		ra_set_error(&t->err, t->errstr, RA_ERR_BAD_ARGUMENT,
		    "task is not running");
		return -1;
	}
	queue_args(&a, RA_FN_QUEUE_PROGRESS, ra_prefix(ctx), t->name, NULL);
	ra_args_str(&a, t->id);
	ra_args_str(&a, t->token);
	ra_args_ll(&a, current);
	ra_args_ll(&a, total);
	ra_args_ms(&a, t->q->conf.lease);
	r = ra_call(ctx, &a);
	ra_args_deinit(&a);
	if (r == NULL) {
		t->err = ctx->err;
		memcpy(t->errstr, ctx->errstr, sizeof t->errstr);
		return -1;
	}
	freeReplyObject(r);
	t->current = current;
	t->total = total;
	return 0;
}

/* One take call on one name: 1 with *out filled, 0 when empty, -1 on
 * error. */
static int
take_one(struct ra_queue *q, struct ra_context *ctx, const char *name,
    struct ra_task *out)
{
	struct ra_args a;
	redisReply *r;
	char token[RA_TOKEN_LEN + 1];
	long long v[4];
	int i;

	if (ra_random_token(token) != 0) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_IO,
		    "no random source");
		return -1;
	}
	queue_args(&a, RA_FN_QUEUE_TAKE, ra_prefix(ctx), name, NULL);
	ra_args_str(&a, token);
	ra_args_ms(&a, q->conf.lease);
	ra_args_ll(&a, q->conf.batch);
	r = ra_call(ctx, &a);
	ra_args_deinit(&a);
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    !ra_reply_ll(r->element[0], &v[0]))
		goto bad;
	if (v[0] == 0) {
		freeReplyObject(r);
		return 0;
	}
	if (r->elements != 7 || r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[2]->type != REDIS_REPLY_STRING)
		goto bad;
	for (i = 0; i < 4; i++)
		if (!ra_reply_ll(r->element[3 + i], &v[i]))
			goto bad;
	memset(out, 0, sizeof *out);
	out->name = strdup(name);
	out->id = ra_reply_strdup(r->element[1]);
	if (out->name == NULL || out->id == NULL ||
	    reply_bytes(r->element[2], &out->payload, &out->payload_len) != 0) {
		freeReplyObject(r);
		ra_task_deinit(out);
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_OOM,
		    "out of memory");
		return -1;
	}
	out->attempt = (unsigned)v[0];
	out->deadline_ms = v[1];
	out->max_attempts = (unsigned)v[3];
	memcpy(out->token, token, sizeof token);
	out->ctx = ctx;
	out->q = q;
	freeReplyObject(r);
	return 1;

bad:
	freeReplyObject(r);
	set_protocol(ctx, "queue_take");
	return -1;
}

/* Reap the names (registering this handle as a worker) when the last
 * reap of the handle is a poll interval old; *next_due_ms gets the
 * soonest retry (-1 none).  Connection errors are left in ctx. */
static void
take_reap(struct ra_queue *q, struct ra_context *ctx, const char *const *names,
    size_t n, long long *next_due_ms)
{
	long long now = queue_now_ns(), due;
	size_t i;
	bool run;

	pthread_mutex_lock(&q->lock);
	run = now - q->last_reap_ns >= (long long)llround(q->conf.poll * 1e9) ||
	    q->last_reap_ns == 0;
	if (run)
		q->last_reap_ns = now;
	pthread_mutex_unlock(&q->lock);
	*next_due_ms = -1;
	if (!run)
		return;
	for (i = 0; i < n; i++) {
		if (queue_reap_name(q, ctx, names[i], queue_worker_ttl_ms(q),
		    NULL, &due) != 0)
			return;
		if (due >= 0 && (*next_due_ms < 0 || due < *next_due_ms))
			*next_due_ms = due;
	}
}

int
ra_queue_take(struct ra_queue *q, struct ra_context *ctx,
    const char *const *names, size_t n, double wait, struct ra_task *out)
{
	long long deadline, now, ms, due, backoff = QUEUE_BACKOFF_MIN_NS;
	char **wake = NULL;
	size_t i;
	int rc = -1, got;

	memset(out, 0, sizeof *out);
	if (names == NULL || n == 0 || n > 64) {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT,
		    "between 1 and 64 queue names are needed");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (check_name_id(ctx, names[i], NULL, false) != 0)
			return -1;
	if (ra_check_ttl("wait", wait, false, &ctx->err, ctx->errstr) != 0)
		return -1;
	if ((wake = calloc(n, sizeof *wake)) == NULL)
		goto fail_oom;
	for (i = 0; i < n; i++)
		if ((wake[i] = queue_key(ra_prefix(ctx), names[i], ":wake",
		    NULL)) == NULL)
			goto fail_oom;
	deadline = queue_now_ns() + (long long)llround(wait * 1e9);
	for (;;) {
		clear_error(ctx);
		take_reap(q, ctx, names, n, &due);
		got = 0;
		if (!queue_conn_error(ctx)) {
			for (i = 0; i < n; i++)
				if ((got = take_one(q, ctx, names[i],
				    out)) != 0)
					break;
		}
		if (got > 0) {
			rc = 0;
			break;
		}
		if (got < 0 && !queue_conn_error(ctx))
			break;
		now = queue_now_ns();
		if (got < 0 || queue_conn_error(ctx)) {
			if (now >= deadline)
				break;
			queue_backoff(ctx, &backoff, deadline);
			continue;
		}
		backoff = QUEUE_BACKOFF_MIN_NS;
		if (now >= deadline) {
			ra_set_error(&ctx->err, ctx->errstr, RA_ERR_EMPTY,
			    "no task within %g s", wait);
			break;
		}
		ms = (deadline - now + 999999) / 1000000;
		if (ms > (long long)llround(q->conf.poll * 1000))
			ms = (long long)llround(q->conf.poll * 1000);
		if (due >= 0 && due + 1 < ms)
			ms = due + 1;
		if (queue_block(ctx, wake, n, ms) < 0 && !queue_conn_error(ctx))
			break;
	}
	for (i = 0; i < n; i++)
		free(wake[i]);
	free(wake);
	return rc;

fail_oom:
	if (wake != NULL) {
		for (i = 0; i < n; i++)
			free(wake[i]);
		free(wake);
	}
	ra_set_error(&ctx->err, ctx->errstr, RA_ERR_OOM, "out of memory");
	return -1;
}

int
queue_heartbeat_id(struct ra_queue *q, struct ra_context *ctx,
    const char *name, const char *id, const char *token)
{
	struct ra_args a;

	queue_args(&a, RA_FN_QUEUE_HEARTBEAT, ra_prefix(ctx), name, NULL);
	ra_args_str(&a, id);
	ra_args_str(&a, token);
	ra_args_ms(&a, q->conf.lease);
	return queue_send(ctx, &a);
}

/* A task taken by ra_queue_take: name, id and token are set. */
static int
check_task(struct ra_context *ctx, const struct ra_task *t)
{
	if (t == NULL || t->local || t->name == NULL || t->id == NULL ||
	    t->token[0] == '\0') {
		ra_set_error(&ctx->err, ctx->errstr, RA_ERR_BAD_ARGUMENT,
		    "not a task taken from the queue");
		return -1;
	}
	return 0;
}

int
ra_queue_heartbeat(struct ra_queue *q, struct ra_context *ctx,
    struct ra_task *t)
{
	if (check_task(ctx, t) != 0)
		return -1;
	return queue_heartbeat_id(q, ctx, t->name, t->id, t->token);
}

int
ra_queue_complete(struct ra_queue *q, struct ra_context *ctx,
    struct ra_task *t)
{
	struct ra_args a;

	if (check_task(ctx, t) != 0 ||
	    check_bulk(ctx, "result", t->result_len) != 0)
		return -1;
	queue_args(&a, RA_FN_QUEUE_COMPLETE, ra_prefix(ctx), t->name, t->id);
	ra_args_str(&a, t->id);
	ra_args_str(&a, t->token);
	ra_args_bin(&a, t->result != NULL ? t->result : "", t->result_len);
	return queue_send(ctx, &a);
}

/* Retry delay before run attempt + 1: base * 2^(attempt - 1), capped,
 * "equal jitter" (half fixed, half random) so retries spread out. */
static long long
backoff_ms(struct ra_queue *q, unsigned attempt)
{
	double d = q->conf.backoff_base;
	uint64_t x;
	unsigned i;

	for (i = 1; i < attempt && d < q->conf.backoff_max; i++)
		d *= 2;
	if (d > q->conf.backoff_max)
		d = q->conf.backoff_max;
	pthread_mutex_lock(&q->lock);
	x = q->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	q->rng = x;
	pthread_mutex_unlock(&q->lock);
	d = d / 2 + (d / 2) * ((double)(x >> 11) / 9007199254740992.0);
	return (long long)llround(d * 1000);
}

int
ra_queue_fail(struct ra_queue *q, struct ra_context *ctx, struct ra_task *t)
{
	struct ra_args a;

	if (check_task(ctx, t) != 0)
		return -1;
	queue_args(&a, RA_FN_QUEUE_FAIL, ra_prefix(ctx), t->name, t->id);
	ra_args_str(&a, t->id);
	ra_args_str(&a, t->token);
	ra_args_str(&a, t->error[0] ? t->error : "failed");
	ra_args_ll(&a, backoff_ms(q, t->attempt));
	return queue_send(ctx, &a);
}
