/*
 * alloc_bench.c: allocator throughput and scaling on a redis-server the
 * wrapper (tests/bench/alloc) started.  Prints "name value" lines.
 *
 * usage: alloc_bench SOCK sync PAIRS
 *        alloc_bench SOCK async PAIRS INFLIGHT
 *        alloc_bench SOCK scale ITEMS PAIRS      (lease cost vs 1000 items,
 *                                                 memory per item)
 *        alloc_bench SOCK assign ITEMS           (re-assign of ITEMS)
 *        alloc_bench SOCK slowlog MS             (longest FCALL, and how
 *                                                 many over MS ms)
 *        alloc_bench SOCK bulk ITEMS EXPIRE TTL  (longest call and calls
 *                                                 over 2 ms while adding
 *                                                 ITEMS, reclaiming EXPIRE
 *                                                 leases of TTL s expired
 *                                                 at once, assigning ITEMS
 *                                                 and deleting the pool;
 *                                                 TTL 0: long enough to
 *                                                 lease them all first)
 *        alloc_bench SOCK cpu N [ROUNDS]         (Redis time per lease,
 *                                                 release and trivial
 *                                                 function call)
 *        alloc_bench SOCK health N [ROUNDS]      (Redis time per health
 *                                                 result in batches of
 *                                                 64, and per claim)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>

#include "redis_allocator.h"
#include "ra_functions.h"

static double
now_s(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

static void
die(const char *what, const struct ra_context *ctx)
{
	fprintf(stderr, "alloc_bench: %s: %s\n", what,
	    ctx ? ctx->errstr : "failed");
	exit(1);
}

static struct ra_context *
connect_to(const char *sock)
{
	struct ra_options opt;
	struct ra_context *ctx;

	memset(&opt, 0, sizeof opt);
	opt.path = sock;
	if ((ctx = ra_connect(&opt)) == NULL || ctx->err)
		die("connect", ctx);
	return ctx;
}

/* Create pool with n items "http://10.X.Y.Z:8080" in chunks of 10000. */
static void
make_pool(struct ra_context *ctx, const char *pool, size_t n)
{
	struct ra_pool_conf c;
	struct ra_item *it;
	char (*keys)[32];
	size_t i, off, len, chunk = 10000;

	ra_pool_conf_init(&c);
	if (ra_pool_create(ctx, pool, &c) != 0)
		die("pool_create", ctx);
	it = calloc(chunk, sizeof *it);
	keys = calloc(chunk, sizeof *keys);
	for (off = 0; off < n; off += len) {
		len = n - off < chunk ? n - off : chunk;
		for (i = 0; i < len; i++) {
			size_t k = off + i;

			snprintf(keys[i], sizeof keys[i],
			    "http://10.%zu.%zu.%zu:8080", (k >> 16) & 255,
			    (k >> 8) & 255, k & 255);
			it[i].key = keys[i];
			it[i].priority = (int)(k % 3);
		}
		if (ra_add(ctx, pool, it, len) != 0)
			die("add", ctx);
	}
	free(it);
	free(keys);
}

/* PAIRS lease+release on one connection; returns seconds taken. */
static double
pairs_sync(struct ra_context *ctx, const char *pool, long n, double *lease_s)
{
	struct ra_lease l;
	double t0 = now_s(), t, in_lease = 0;
	long i;

	for (i = 0; i < n; i++) {
		t = now_s();
		if (ra_lease(ctx, pool, NULL, &l) != 0)
			die("lease", ctx);
		in_lease += now_s() - t;
		if (ra_release(ctx, pool, l.token, RA_OUTCOME_OK, 10) != 0)
			die("release", ctx);
		ra_lease_deinit(&l);
	}
	if (lease_s != NULL)
		*lease_s = in_lease;
	return now_s() - t0;
}

static long long
used_memory(void)
{
	redisContext *rc;
	redisReply *r;
	long long v = -1;
	const char *p;

	rc = redisConnectUnix(getenv("ALLOC_BENCH_SOCK"));
	r = redisCommand(rc, "INFO memory");
	if (r != NULL && r->type == REDIS_REPLY_STRING &&
	    (p = strstr(r->str, "used_memory:")) != NULL)
		v = atoll(p + 12);
	freeReplyObject(r);
	redisFree(rc);
	return v;
}

/* MEMORY USAGE of every key of a pool (all "{ra:pool}:*"), summed;
 * *nkeys (when not NULL) is set to how many keys there are. */
static long long
pool_memory(const char *pool, long long *nkeys)
{
	redisContext *rc = redisConnectUnix(getenv("ALLOC_BENCH_SOCK"));
	redisReply *r, *m;
	long long sum = 0, n = 0;
	char cursor[32] = "0";
	size_t i;

	do {
		r = redisCommand(rc, "SCAN %s MATCH {ra:%s}:* COUNT 1000",
		    cursor, pool);
		if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
		    r->elements != 2)
			die("SCAN", NULL);
		snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
		for (i = 0; i < r->element[1]->elements; i++) {
			m = redisCommand(rc, "MEMORY USAGE %s SAMPLES 0",
			    r->element[1]->element[i]->str);
			if (m != NULL && m->type == REDIS_REPLY_INTEGER)
				sum += m->integer;
			freeReplyObject(m);
			n++;
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	redisFree(rc);
	if (nkeys != NULL)
		*nkeys = n;
	return sum;
}

/* usec_per_call of FCALL and FCALL_RO together since CONFIG RESETSTAT. */
static double
fcall_usec(redisContext *rc)
{
	redisReply *r = redisCommand(rc, "INFO commandstats");
	const char *names[] = { "cmdstat_fcall:", "cmdstat_fcall_ro:" };
	double calls = 0, usec = 0;
	const char *p;
	size_t i;

	if (r == NULL || r->type != REDIS_REPLY_STRING)
		die("INFO commandstats", NULL);
	for (i = 0; i < 2; i++) {
		if ((p = strstr(r->str, names[i])) == NULL)
			continue;
		p = strstr(p, "calls=");
		calls += atof(p + 6);
		p = strstr(p, "usec=");
		usec += atof(p + 5);
	}
	freeReplyObject(r);
	return calls > 0 ? usec / calls : 0;
}

/*
 * The references: FCALL ra_bench_one 0, a function that returns 1, and
 * ra_bench_busy, a loop about as long as a bulk chunk: a long call meets
 * the machine's hiccups (another process on the core) more often than a
 * short one, so the calls over 2 ms of the bulk run are set against
 * those of a call of the same length.
 */
static void
load_trivial(redisContext *rc)
{
	redisReply *r = redisCommand(rc, "FUNCTION LOAD REPLACE %s",
	    "#!lua name=ra_bench\n"
	    "redis.register_function('ra_bench_one', function() return 1 end)\n"
	    "redis.register_function('ra_bench_busy', function()\n"
	    "  local x = 0\n"
	    "  for i = 1, 100000 do x = x + i end\n"
	    "  return 1\n"
	    "end)");

	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		die("FUNCTION LOAD ra_bench", NULL);
	freeReplyObject(r);
}

static void
reset_stats(redisContext *rc)
{
	freeReplyObject(redisCommand(rc, "CONFIG RESETSTAT"));
}

/*
 * Redis time per call of lease, release (OK, latency 10 ms, as the
 * daemon sends it) and a trivial function, in the steady state of a
 * service: a pool of n items, inflight leases held at a time, taken and
 * given back in phases of inflight calls; each phase's time is read from
 * INFO commandstats.  The least of rounds runs (other processes on a
 * busy machine only ever add to it).
 */
static void
run_cpu(struct ra_context *ctx, const char *sock, long n, int rounds)
{
	redisContext *rc = redisConnectUnix(sock);
	const long inflight = 64, phases = 20;
	struct ra_lease l[64];
	double lease = 1e9, release = 1e9, trivial = 1e9;
	double sl, sr, st;
	long i, ph;
	int round;

	load_trivial(rc);
	make_pool(ctx, "cpu", n < inflight ? inflight : n);
	for (round = 0; round < rounds; round++) {
		sl = sr = st = 0;
		for (ph = 0; ph < phases; ph++) {
			reset_stats(rc);
			for (i = 0; i < inflight; i++)
				if (ra_lease(ctx, "cpu", NULL, &l[i]) != 0)
					die("lease", ctx);
			sl += fcall_usec(rc);
			reset_stats(rc);
			for (i = 0; i < inflight; i++) {
				if (ra_release(ctx, "cpu", l[i].token,
				    RA_OUTCOME_OK, 10) != 0)
					die("release", ctx);
				ra_lease_deinit(&l[i]);
			}
			sr += fcall_usec(rc);
			reset_stats(rc);
			for (i = 0; i < inflight; i++)
				freeReplyObject(redisCommand(rc,
				    "FCALL ra_bench_one 0"));
			st += fcall_usec(rc);
		}
		if (sl / phases < lease)
			lease = sl / phases;
		if (sr / phases < release)
			release = sr / phases;
		if (st / phases < trivial)
			trivial = st / phases;
	}
	printf("cpu_usec_lease %.2f\n", lease);
	printf("cpu_usec_release %.2f\n", release);
	printf("cpu_usec_trivial %.2f\n", trivial);
	printf("ratio_lease_trivial %.1f\n", lease / trivial);
	printf("ratio_release_trivial %.1f\n", release / trivial);
	printf("ratio_pair_trivial %.1f\n", (lease + release) / trivial);
	redisFree(rc);
}

/*
 * Redis time per health check result, in the steady state of a prober: a
 * pool of n items, every one UP, its results (latency 50 ms +- 1) sent in
 * batches of 64 as the daemon sends them, and per claimed check (claims of
 * 64).  The least of rounds runs, as in run_cpu.
 */
static void
run_health(struct ra_context *ctx, const char *sock, long n, int rounds)
{
	redisContext *rc = redisConnectUnix(sock);
	enum { BATCH = 64 };
	struct ra_health_probe p[BATCH];
	struct ra_health_conf hc;
	struct ra_strlist claimed;
	double report = 1e9, claim = 1e9, trivial = 1e9, sr, sc, st;
	char (*keys)[32];
	long i, b, nb;
	int round;

	if (n < BATCH)
		n = BATCH;
	load_trivial(rc);
	make_pool(ctx, "health", n);
	ra_health_conf_init(&hc);
	hc.inter = 3600;	/* claims below find nothing due twice */
	keys = calloc(n, sizeof *keys);
	for (i = 0; i < n; i++)
		snprintf(keys[i], sizeof keys[i], "http://10.%ld.%ld.%ld:8080",
		    (i >> 16) & 255, (i >> 8) & 255, i & 255);
	nb = n / BATCH;
	/* two rounds unmeasured: every item UP, its latency settled */
	for (round = -2; round < rounds; round++) {
		sr = st = 0;
		for (b = 0; b < nb; b++) {
			for (i = 0; i < BATCH; i++) {
				p[i].item = keys[b * BATCH + i];
				p[i].verdict = RA_PROBE_UP;
				p[i].latency_ms = 49 + (double)((b + i) % 3);
				p[i].reason = NULL;
				p[i].elapsed_ms = 50;
			}
			reset_stats(rc);
			if (ra_health_report_batch(ctx, "health", p, BATCH, &hc,
			    NULL) != 0)
				die("health_report_batch", ctx);
			sr += fcall_usec(rc) / BATCH;
			reset_stats(rc);
			for (i = 0; i < BATCH; i++)
				freeReplyObject(redisCommand(rc,
				    "FCALL ra_bench_one 0"));
			st += fcall_usec(rc);
		}
		if (round >= 0 && sr / nb < report)
			report = sr / nb;
		if (round >= 0 && st / nb < trivial)
			trivial = st / nb;
	}
	/* claims: every item due now, claimed BATCH at a time */
	for (round = 0; round < rounds; round++) {
		unsigned long long next;

		freeReplyObject(redisCommand(rc, "DEL {ra:health}:due"));
		if (ra_health_sync(ctx, "health", 0, (unsigned)n, 0, &next) != 0)
			die("health_sync", ctx);
		sc = 0;
		for (b = 0; b < nb; b++) {
			reset_stats(rc);
			if (ra_health_claim(ctx, "health", BATCH, 60,
			    &claimed) != 0)
				die("health_claim", ctx);
			sc += fcall_usec(rc) / (claimed.n ? claimed.n : 1);
			ra_strlist_deinit(&claimed);
		}
		if (sc / nb < claim)
			claim = sc / nb;
	}
	printf("health_usec_per_result %.2f\n", report);
	printf("health_usec_per_claim %.2f\n", claim);
	printf("health_usec_trivial %.2f\n", trivial);
	printf("ratio_health_result_trivial %.1f\n", report / trivial);
	printf("ratio_health_claim_trivial %.1f\n", claim / trivial);
	free(keys);
	redisFree(rc);
}

/*
 * ITEMS items for an assign: every other one of make_pool's keys kept,
 * as many new ones; *it and *keys are the caller's to free.
 */
static void
assign_items(size_t items, struct ra_item **it, char (**keys)[32])
{
	size_t i, k;

	*it = calloc(items, sizeof **it);
	*keys = calloc(items, sizeof **keys);
	if (*it == NULL || *keys == NULL)
		die("calloc", NULL);
	for (i = 0; i < items; i++) {
		k = i % 2 ? i : items + i;
		snprintf((*keys)[i], sizeof (*keys)[i],
		    "http://10.%zu.%zu.%zu:8080", (k >> 16) & 255,
		    (k >> 8) & 255, k & 255);
		(*it)[i].key = (*keys)[i];
	}
}

/* Send cmd on rc and fail unless Redis accepted it. */
static void
command_ok(redisContext *rc, const char *cmd)
{
	redisReply *r = redisCommand(rc, cmd);

	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "alloc_bench: %s: %s\n", cmd,
		    r != NULL ? r->str : rc->errstr);
		exit(1);
	}
	freeReplyObject(r);
}

/*
 * The function calls SLOWLOG holds (every FCALL and FCALL_RO; the
 * function name is its argv[1]): the longest and its function, how many
 * took over limit_ms, and how many of each function did.  Redis must
 * log every call over limit_ms (slowlog-log-slower-than, slowlog-max-len).
 */
static void
slowlog_report(redisContext *rc, long long limit_ms)
{
	long long limit = limit_ms * 1000, max = 0, over = 0, other = 0, us;
	long long ref_max[2] = { 0, 0 }, ref_over[2] = { 0, 0 };
	int ref;
	long long per[RA_FN_COUNT] = { 0 };
	char maxname[64] = "none";
	const redisReply *e, *argv;
	const char *name;
	redisReply *r = redisCommand(rc, "SLOWLOG GET -1");
	size_t i;
	int id;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		die("SLOWLOG GET", NULL);
	for (i = 0; i < r->elements; i++) {
		e = r->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements < 4)
			continue;
		argv = e->element[3];
		if (argv->type != REDIS_REPLY_ARRAY || argv->elements == 0 ||
		    argv->element[0]->type != REDIS_REPLY_STRING ||
		    strncasecmp(argv->element[0]->str, "FCALL", 5) != 0)
			continue;	/* FLUSHALL and friends */
		us = e->element[2]->integer;
		name = argv->elements > 1 &&
		    argv->element[1]->type == REDIS_REPLY_STRING ?
		    argv->element[1]->str : "?";
		/* the references (load_trivial) */
		if ((ref = strcmp(name, "ra_bench_one") == 0 ? 0 :
		    strcmp(name, "ra_bench_busy") == 0 ? 1 : -1) >= 0) {
			if (us > ref_max[ref])
				ref_max[ref] = us;
			if (us > limit)
				ref_over[ref]++;
			continue;
		}
		for (id = 0; id < RA_FN_COUNT; id++)
			if (strcmp(ra_functions[id].name, name) == 0)
				break;
		if (us > max) {
			max = us;
			snprintf(maxname, sizeof maxname, "%s", name);
		}
		if (us > limit) {
			over++;
			if (id < RA_FN_COUNT)
				per[id]++;
			else
				other++;
		}
	}
	printf("max_call_usec %lld\n", max);
	printf("max_call_name %s\n", maxname);
	printf("calls_over_%lldms %lld\n", limit_ms, over);
	for (id = 0; id < RA_FN_COUNT; id++)
		if (per[id] > 0)
			printf("calls_over_%lldms_%s %lld\n", limit_ms,
			    ra_functions[id].name, per[id]);
	if (other > 0)
		printf("calls_over_%lldms_other %lld\n", limit_ms, other);
	printf("ref_trivial_max_call_usec %lld\n", ref_max[0]);
	printf("ref_trivial_calls_over_%lldms %lld\n", limit_ms, ref_over[0]);
	printf("ref_busy_max_call_usec %lld\n", ref_max[1]);
	printf("ref_busy_calls_over_%lldms %lld\n", limit_ms, ref_over[1]);
	freeReplyObject(r);
}

/*
 * LATENCY HISTOGRAM of FCALL and FCALL_RO since CONFIG RESETSTAT: per
 * command the calls, the upper bound of the bucket of the longest call,
 * and the calls beyond the first bucket bound at or over limit_ms (the
 * buckets are cumulative counts at bounds of about powers of 2 µs, so
 * this counts only calls surely over limit_ms).
 */
static void
histogram_report(redisContext *rc, long long limit_ms)
{
	redisReply *r = redisCommand(rc, "LATENCY HISTOGRAM FCALL FCALL_RO");
	const redisReply *h, *b;
	long long calls, bound, cum, last, over, at;
	size_t i, j, k;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		die("LATENCY HISTOGRAM", NULL);
	for (i = 0; i + 1 < r->elements; i += 2) {
		h = r->element[i + 1];
		calls = 0;
		b = NULL;
		for (j = 0; h->type == REDIS_REPLY_ARRAY &&
		    j + 1 < h->elements; j += 2) {
			if (strcmp(h->element[j]->str, "calls") == 0)
				calls = h->element[j + 1]->integer;
			else if (strcmp(h->element[j]->str,
			    "histogram_usec") == 0)
				b = h->element[j + 1];
		}
		last = 0;
		over = 0;
		at = -1;
		for (k = 0; b != NULL && b->type == REDIS_REPLY_ARRAY &&
		    k + 1 < b->elements; k += 2) {
			bound = b->element[k]->integer;
			cum = b->element[k + 1]->integer;
			last = bound;
			if (at < 0 && bound >= limit_ms * 1000) {
				at = bound;
				over = calls - cum;
			}
		}
		printf("hist_%s_calls %lld\n", r->element[i]->str, calls);
		printf("hist_%s_max_bucket_usec %lld\n", r->element[i]->str,
		    last);
		printf("hist_%s_calls_over_%lldms %lld\n", r->element[i]->str,
		    limit_ms, over);
	}
	freeReplyObject(r);
}

/* ---- bulk: a large pool's whole life, with no call over 2 ms ---- */

static void bulk_lease_cb(struct ra_async *, struct ra_result *, void *);

struct bulk {
	struct ra_async		*ra;
	struct event_base	*base;
	const char		*pool;
	struct ra_lease_req	 req;
	long			 started, done, target;
	long long		 min_expires, max_expires;	/* ms */
	int			 errors;
};

static void
bulk_next(struct bulk *b)
{
	if (b->started >= b->target)
		return;
	b->started++;
	if (ra_async_lease(b->ra, b->pool, &b->req, bulk_lease_cb, b) != 0)
		b->errors++;
}

static void
bulk_lease_cb(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct bulk *b = priv;

	if (res->err)
		b->errors++;
	else {
		if (b->min_expires == 0 ||
		    res->u.lease.expires_ms < b->min_expires)
			b->min_expires = res->u.lease.expires_ms;
		if (res->u.lease.expires_ms > b->max_expires)
			b->max_expires = res->u.lease.expires_ms;
	}
	if (++b->done == b->target)
		event_base_loopbreak(b->base);
	bulk_next(b);
}

/* Lease n items of pool for ttl s, 64 in flight; the leases are kept. */
static void
bulk_lease(const char *sock, const char *pool, long n, double ttl,
    struct bulk *b)
{
	redisAsyncContext *ac;
	int i;

	memset(b, 0, sizeof *b);
	b->pool = pool;
	b->target = n;
	ra_lease_req_init(&b->req);
	b->req.ttl = ttl;
	b->base = event_base_new();
	ac = redisAsyncConnectUnix(sock);
	if (ac == NULL || ac->err)
		die("async connect", NULL);
	redisLibeventAttach(ac, b->base);
	b->ra = ra_async_create(ac, NULL, 0);
	for (i = 0; i < 64; i++)
		bulk_next(b);
	if (n > 0)
		event_base_dispatch(b->base);
	redisAsyncFree(ac);
	ra_async_destroy(b->ra);
	event_base_free(b->base);
}

/* Redis TIME in milliseconds. */
static long long
redis_ms(redisContext *rc)
{
	redisReply *r = redisCommand(rc, "TIME");
	long long ms;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
		die("TIME", NULL);
	ms = atoll(r->element[0]->str) * 1000 +
	    atoll(r->element[1]->str) / 1000;
	freeReplyObject(r);
	return ms;
}

/*
 * One pool of items through its whole life, every function call logged
 * by SLOWLOG over 2 ms and counted by LATENCY HISTOGRAM: add the items
 * (make_pool's chunks), lease expire of them for ttl s, wait until Redis
 * TIME passes the last lease's end (ttl 0: three times the time leasing
 * takes, measured on a pool of its own first, so none expires before the
 * last is granted), reclaim them with gc calls until gc
 * finds nothing (10 timed lease+release pairs before each gc: the lease
 * path reclaims too), assign items (half kept, half new), delete the pool.
 * Prints the seconds of each phase, the reclaim's wall time, the leases
 * during the backlog, and the SLOWLOG and histogram reports.
 */
static void
run_bulk(struct ra_context *ctx, const char *sock, size_t items, long expire,
    double ttl)
{
	redisContext *rc = redisConnectUnix(sock);
	struct ra_gc_stats st;
	struct ra_counts cn;
	struct ra_lease l;
	struct ra_item *it;
	struct bulk b;
	char (*keys)[32];
	long long gc_leases = 0, nkeys;
	long gc_calls = 0, backlog = 0;
	double t0, t, lmax = 0, lsum = 0;
	int i;

	if (rc == NULL || rc->err)
		die("connect", NULL);
	if (ttl <= 0) {
		make_pool(ctx, "bulk_rate", 2000);
		t0 = now_s();
		bulk_lease(sock, "bulk_rate", 2000, 3600, &b);
		t = now_s() - t0;
		ttl = 3 * t * expire / 2000 + 1;
	}
	printf("bulk_ttl_sec %.1f\n", ttl);
	load_trivial(rc);
	t0 = now_s();
	for (i = 0; i < 20; i++)
		command_ok(rc, "FCALL ra_bench_busy 0");
	printf("ref_busy_call_usec %.0f\n", (now_s() - t0) / 20 * 1e6);
	command_ok(rc, "CONFIG SET slowlog-log-slower-than 2000");
	command_ok(rc, "CONFIG SET slowlog-max-len 100000");
	command_ok(rc, "CONFIG SET latency-tracking yes");
	command_ok(rc, "SLOWLOG RESET");
	command_ok(rc, "CONFIG RESETSTAT");

	t0 = now_s();
	make_pool(ctx, "bulk", items);
	printf("bulk_add_%zu_sec %.2f\n", items, now_s() - t0);

	t0 = now_s();
	bulk_lease(sock, "bulk", expire, ttl, &b);
	printf("bulk_lease_%ld_sec %.2f\n", expire, now_s() - t0);
	if (b.errors)
		die("bulk lease", NULL);
	if (redis_ms(rc) >= b.min_expires)
		fprintf(stderr, "alloc_bench: leasing took longer than the "
		    "TTL (%.1f s): some leases expired before the others\n",
		    ttl);
	if (ra_counts(ctx, "bulk", &cn) != 0)
		die("counts", ctx);
	printf("bulk_leases_held %lld\n", cn.leases);
	while (redis_ms(rc) <= b.max_expires)
		usleep(50000);

	t0 = now_s();
	do {
		for (i = 0; i < 10; i++) {
			t = now_s();
			if (ra_lease(ctx, "bulk", NULL, &l) != 0)
				die("backlog lease", ctx);
			t = now_s() - t;
			if (ra_release(ctx, "bulk", l.token, RA_OUTCOME_OK,
			    10) != 0)
				die("backlog release", ctx);
			ra_lease_deinit(&l);
			backlog++;
			lsum += t;
			if (t > lmax)
				lmax = t;
		}
		if (ra_gc(ctx, "bulk", 0, &st) != 0)
			die("gc", ctx);
		gc_calls++;
		gc_leases += st.leases;
	} while ((st.more ||
	    st.leases + st.bindings + st.items + st.quarantine > 0) &&
	    now_s() - t0 < 600);
	printf("bulk_reclaim_%ld_sec %.2f\n", expire, now_s() - t0);
	printf("bulk_reclaim_gc_calls %ld\n", gc_calls);
	printf("bulk_reclaim_by_gc %lld\n", gc_leases);
	if (ra_counts(ctx, "bulk", &cn) != 0)
		die("counts", ctx);
	printf("bulk_leases_left %lld\n", cn.leases);
	printf("bulk_backlog_leases %ld\n", backlog);
	printf("bulk_backlog_lease_avg_usec %.0f\n", lsum / backlog * 1e6);
	printf("bulk_backlog_lease_max_usec %.0f\n", lmax * 1e6);

	assign_items(items, &it, &keys);
	t0 = now_s();
	if (ra_assign(ctx, "bulk", it, items) != 0)
		die("assign", ctx);
	printf("bulk_assign_%zu_sec %.2f\n", items, now_s() - t0);
	free(it);
	free(keys);

	t0 = now_s();
	if (ra_pool_delete(ctx, "bulk") != 0)
		die("pool_delete", ctx);
	printf("bulk_delete_sec %.2f\n", now_s() - t0);
	pool_memory("bulk", &nkeys);
	printf("bulk_keys_left %lld\n", nkeys);

	slowlog_report(rc, 2);
	histogram_report(rc, 2);
	redisFree(rc);
}

/* ---- async: INFLIGHT lease->release chains ---- */

struct abench {
	struct ra_async		*ra;
	struct event_base	*base;
	long			 started;	/* leases sent */
	long			 done;		/* pairs finished */
	long			 target;
	int			 errors;
};

static void lease_cb(struct ra_async *, struct ra_result *, void *);

static void
next_lease(struct abench *b)
{
	if (b->started >= b->target)
		return;
	b->started++;
	if (ra_async_lease(b->ra, "bench", NULL, lease_cb, b) != 0)
		b->errors++;
}

static void
release_cb(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct abench *b = priv;

	if (res->err)
		b->errors++;
	if (++b->done == b->target)
		event_base_loopbreak(b->base);
	next_lease(b);
}

static void
lease_cb(struct ra_async *ra, struct ra_result *res, void *priv)
{
	struct abench *b = priv;

	if (res->err) {
		b->errors++;
		if (++b->done == b->target)
			event_base_loopbreak(b->base);
		next_lease(b);
		return;
	}
	if (ra_async_release(ra, "bench", res->u.lease.token, RA_OUTCOME_OK,
	    10, release_cb, b) != 0)
		b->errors++;
}

static void
run_async(const char *sock, long n, int inflight)
{
	struct abench b;
	redisAsyncContext *ac;
	double t0, dt;
	int i;

	memset(&b, 0, sizeof b);
	b.base = event_base_new();
	ac = redisAsyncConnectUnix(sock);
	if (ac == NULL || ac->err)
		die("async connect", NULL);
	redisLibeventAttach(ac, b.base);
	b.ra = ra_async_create(ac, NULL, 0);
	b.target = n;
	t0 = now_s();
	for (i = 0; i < inflight; i++)
		next_lease(&b);
	event_base_dispatch(b.base);
	dt = now_s() - t0;
	printf("async_inflight %d\n", inflight);
	printf("async_pairs_per_sec %.0f\n", n / dt);
	printf("async_errors %d\n", b.errors);
	redisAsyncFree(ac);
	ra_async_destroy(b.ra);
	event_base_free(b.base);
}

int
main(int argc, char **argv)
{
	struct ra_context *ctx;
	const char *sock, *mode;
	double dt, lease_s;

	if (argc < 4) {
		fprintf(stderr, "usage: alloc_bench SOCK sync|async|scale|"
		    "assign|slowlog|cpu|bulk N [M [TTL]]\n");
		return 2;
	}
	sock = argv[1];
	mode = argv[2];
	setenv("ALLOC_BENCH_SOCK", sock, 1);
	ctx = connect_to(sock);
	if (strcmp(mode, "sync") == 0) {
		long n = atol(argv[3]);

		make_pool(ctx, "bench", 1000);
		dt = pairs_sync(ctx, "bench", n, NULL);
		printf("sync_pairs_per_sec %.0f\n", n / dt);
	} else if (strcmp(mode, "cpu") == 0) {
		run_cpu(ctx, sock, atol(argv[3]), argc > 4 ? atoi(argv[4]) : 5);
	} else if (strcmp(mode, "health") == 0) {
		run_health(ctx, sock, atol(argv[3]), argc > 4 ? atoi(argv[4]) : 5);
	} else if (strcmp(mode, "async") == 0 && argc > 4) {
		make_pool(ctx, "bench", 1000);
		run_async(sock, atol(argv[3]), atoi(argv[4]));
	} else if (strcmp(mode, "scale") == 0 && argc > 4) {
		size_t items = (size_t)atol(argv[3]), small = 1000;
		long n = atol(argv[4]), round;
		long long m0, m1;
		double t0, small_s = 0, big_s = 0;

		make_pool(ctx, "small", small);
		m0 = used_memory();
		t0 = now_s();
		make_pool(ctx, "big", items);
		printf("scale_%zu_add_sec %.2f\n", items, now_s() - t0);
		m1 = used_memory();
		printf("scale_%zu_used_memory_per_item %.1f\n", items,
		    (double)(m1 - m0) / items);
		printf("scale_%zu_key_memory_per_item %.1f\n", items,
		    (double)pool_memory("big", NULL) / items);
		pairs_sync(ctx, "small", n / 10, NULL);	/* warm up */
		pairs_sync(ctx, "big", n / 10, NULL);
		/* interleaved rounds, so load changes hit both alike */
		for (round = 0; round < 10; round++) {
			pairs_sync(ctx, "small", n / 10, &lease_s);
			small_s += lease_s;
			pairs_sync(ctx, "big", n / 10, &lease_s);
			big_s += lease_s;
		}
		printf("scale_%zu_lease_usec %.2f\n", small,
		    small_s / (n / 10 * 10) * 1e6);
		printf("scale_%zu_lease_usec %.2f\n", items,
		    big_s / (n / 10 * 10) * 1e6);
		printf("scale_lease_cost_ratio %.2f\n", big_s / small_s);
	} else if (strcmp(mode, "assign") == 0) {
		size_t items = (size_t)atol(argv[3]);
		struct ra_item *it;
		char (*keys)[32];
		double t0;

		make_pool(ctx, "assign", items);
		assign_items(items, &it, &keys);
		t0 = now_s();
		if (ra_assign(ctx, "assign", it, items) != 0)
			die("assign", ctx);
		printf("assign_%zu_sec %.2f\n", items, now_s() - t0);
		free(it);
		free(keys);
	} else if (strcmp(mode, "slowlog") == 0) {
		redisContext *rc = redisConnectUnix(sock);

		slowlog_report(rc, atoll(argv[3]));
		redisFree(rc);
	} else if (strcmp(mode, "bulk") == 0 && argc > 5) {
		run_bulk(ctx, sock, (size_t)atol(argv[3]), atol(argv[4]),
		    atof(argv[5]));
	} else {
		fprintf(stderr, "alloc_bench: unknown mode %s\n", mode);
		return 2;
	}
	ra_free(ctx);
	return 0;
}
