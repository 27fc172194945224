/*
 * lease.c: proxypoold benchmark client.  N connections on one libevent
 * loop (hiredis async), each looping LEASE then RELEASE with the returned
 * token for a given time; prints lease and release rates, LEASE
 * latency percentiles and the daemon's CPU time (utime + stime of the
 * pid given) per command over the loop.  Then opens M idle connections
 * and prints the daemon's RSS (VmRSS).
 *
 * usage: lease SOCKET POOL CONNS SECONDS IDLE PID
 *        lease -direct REDIS_SOCKET POOL CONNS SECONDS
 *
 * -direct runs the same loop with libredisallocator's async calls straight
 * on Redis (no daemon): the daemon's own cost is the difference.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "redis_allocator.h"

/* One benchmark connection. */
struct conn {
	redisAsyncContext	*ac;		/* owned by hiredis */
	struct ra_async		*ra;		/* -direct: owned wrapper */
	double			 sent;		/* when LEASE was sent, s */
	char			 token[64];	/* the lease to release */
};

static const char	*pool;
static double		 end_at;	/* stop looping after this */
static double		*lat;		/* LEASE latencies, s */
static size_t		 nlat, caplat;
static unsigned long	 leases, releases, errors, running;
static struct event_base *base;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void lease_cb(redisAsyncContext *ac, void *reply, void *arg);

/* Send the next LEASE, or stop this connection when time is up. */
static void
next(struct conn *c)
{
	if (now() >= end_at) {
		if (--running == 0)
			event_base_loopbreak(base);
		return;
	}
	c->sent = now();
	redisAsyncCommand(c->ac, lease_cb, c, "LEASE %s", pool);
}

static void
release_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	redisReply *r = reply;

	if (r == NULL || r->type != REDIS_REPLY_STATUS)
		errors++;
	else
		releases++;
	if (r != NULL)
		next(arg);
}

static void
lease_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	struct conn *c = arg;
	redisReply *r = reply;
	size_t i;

	if (r == NULL)
		return;
	if (nlat == caplat) {
		caplat = caplat ? caplat * 2 : 1 << 20;
		lat = realloc(lat, caplat * sizeof *lat);
	}
	lat[nlat++] = now() - c->sent;
	if (r->type != REDIS_REPLY_ARRAY) {
		errors++;
		next(c);
		return;
	}
	leases++;
	for (i = 0; i + 1 < r->elements; i += 2) {
		if (strcmp(r->element[i]->str, "token") == 0)
			snprintf(c->token, sizeof c->token, "%s",
			    r->element[i + 1]->str);
	}
	redisAsyncCommand(ac, release_cb, c, "RELEASE %s %s", pool, c->token);
}

static void direct_lease_cb(struct ra_async *ra, struct ra_result *res,
    void *arg);

/* -direct: the next lease, or stop. */
static void
direct_next(struct conn *c)
{
	struct ra_lease_req req;

	if (now() >= end_at) {
		if (--running == 0)
			event_base_loopbreak(base);
		return;
	}
	ra_lease_req_init(&req);
	c->sent = now();
	if (ra_async_lease(c->ra, pool, &req, direct_lease_cb, c) != 0) {
		errors++;
		if (--running == 0)
			event_base_loopbreak(base);
	}
}

static void
direct_release_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	if (res->err != RA_OK)
		errors++;
	else
		releases++;
	direct_next(arg);
}

static void
direct_lease_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct conn *c = arg;

	if (nlat == caplat) {
		caplat = caplat ? caplat * 2 : 1 << 20;
		lat = realloc(lat, caplat * sizeof *lat);
	}
	lat[nlat++] = now() - c->sent;
	if (res->err != RA_OK) {
		errors++;
		direct_next(c);
		return;
	}
	leases++;
	if (ra_async_release(ra, pool, res->u.lease.token, RA_OUTCOME_NONE,
	    -1, direct_release_cb, c) != 0)
		errors++;
}

/* utime + stime of process pid in seconds, or -1. */
static double
cpu_of(const char *pid)
{
	char file[64], buf[1024], *p;
	unsigned long long ut, st;
	size_t n;
	FILE *f;

	snprintf(file, sizeof file, "/proc/%s/stat", pid);
	if ((f = fopen(file, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces: fields count from its ')' */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 1,
	    " %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Open n idle connections (each answers one PING, so it is accepted),
 * then print the daemon's VmRSS. */
static void
idle(const char *path, int n, const char *pid)
{
	struct sockaddr_un sun;
	char buf[256], line[256], file[64];
	int i, fd;
	FILE *f;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
		rl.rlim_cur = (rlim_t)n + 64 < rl.rlim_max ?
		    (rlim_t)n + 64 : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	for (i = 0; i < n; i++) {
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
		    connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
			fprintf(stderr, "idle %d: %s\n", i, strerror(errno));
			break;
		}
		if (write(fd, "PING\r\n", 6) != 6 || read(fd, buf, 7) <= 0) {
			fprintf(stderr, "idle %d: no PONG\n", i);
			break;
		}
	}
	printf("idle_clients %d\n", i);
	snprintf(file, sizeof file, "/proc/%s/status", pid);
	if ((f = fopen(file, "r")) == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			printf("daemon_rss_kb %ld\n", strtol(line + 6, NULL, 10));
	}
	fclose(f);
}

int
main(int argc, char **argv)
{
	struct conn *cs;
	int i, n;
	double secs, t0, el, cpu0, cpu1, rcpu0, rcpu1, me0, me1;

	if (argc == 6 && strcmp(argv[1], "-direct") == 0) {
		pool = argv[3];
		n = atoi(argv[4]);
		secs = atof(argv[5]);
		base = event_base_new();
		cs = calloc((size_t)n, sizeof *cs);
		t0 = now();
		end_at = t0 + secs;
		for (i = 0; i < n; i++) {
			cs[i].ac = redisAsyncConnectUnix(argv[2]);
			if (cs[i].ac == NULL || cs[i].ac->err)
				return 1;
			redisLibeventAttach(cs[i].ac, base);
			cs[i].ra = ra_async_create(cs[i].ac, NULL, 0);
			running++;
			direct_next(&cs[i]);
		}
		event_base_dispatch(base);
		el = now() - t0;
		qsort(lat, nlat, sizeof *lat, cmp);
		printf("direct_commands_per_sec %.0f\n",
		    (double)(leases + releases) / el);
		printf("direct_errors %lu\n", errors);
		if (nlat > 0) {
			printf("direct_lease_p50_us %.0f\n", lat[nlat / 2] * 1e6);
			printf("direct_lease_p99_us %.0f\n",
			    lat[(size_t)((double)nlat * 0.99)] * 1e6);
		}
		return 0;
	}
	if (argc != 7 && argc != 8) {
		fprintf(stderr, "usage: lease SOCKET POOL CONNS SECONDS IDLE "
		    "PID [REDIS_PID]\n");
		return 2;
	}
	pool = argv[2];
	n = atoi(argv[3]);
	secs = atof(argv[4]);
	base = event_base_new();
	cs = calloc((size_t)n, sizeof *cs);
	cpu0 = cpu_of(argv[6]);
	rcpu0 = argc == 8 ? cpu_of(argv[7]) : -1;
	me0 = cpu_of("self");
	t0 = now();
	end_at = t0 + secs;
	for (i = 0; i < n; i++) {
		cs[i].ac = redisAsyncConnectUnix(argv[1]);
		if (cs[i].ac == NULL || cs[i].ac->err) {
			fprintf(stderr, "connect: %s\n", cs[i].ac ?
			    cs[i].ac->errstr : "oom");
			return 1;
		}
		redisLibeventAttach(cs[i].ac, base);
		running++;
		next(&cs[i]);
	}
	event_base_dispatch(base);
	el = now() - t0;
	cpu1 = cpu_of(argv[6]);
	rcpu1 = argc == 8 ? cpu_of(argv[7]) : -1;
	me1 = cpu_of("self");
	qsort(lat, nlat, sizeof *lat, cmp);
	printf("connections %d\nseconds %.2f\n", n, el);
	printf("lease_ops_per_sec %.0f\n", (double)leases / el);
	printf("release_ops_per_sec %.0f\n", (double)releases / el);
	printf("commands_per_sec %.0f\n", (double)(leases + releases) / el);
	printf("errors %lu\n", errors);
	if (nlat > 0) {
		printf("lease_p50_us %.0f\n", lat[nlat / 2] * 1e6);
		printf("lease_p99_us %.0f\n", lat[(size_t)((double)nlat * 0.99)] *
		    1e6);
	}
	if (cpu0 >= 0 && cpu1 >= 0 && leases + releases > 0) {
		printf("daemon_cpu_loop_s %.2f\n", cpu1 - cpu0);
		printf("daemon_cpu_usec_per_command %.2f\n",
		    (cpu1 - cpu0) * 1e6 / (double)(leases + releases));
		/* where the rest of the machine's time went */
		if (rcpu0 >= 0 && rcpu1 >= 0)
			printf("redis_cpu_usec_per_command %.2f\n",
			    (rcpu1 - rcpu0) * 1e6 /
			    (double)(leases + releases));
		printf("client_cpu_usec_per_command %.2f\n", (me1 - me0) *
		    1e6 / (double)(leases + releases));
	}
	for (i = 0; i < n; i++)
		redisAsyncDisconnect(cs[i].ac);
	event_base_dispatch(base);
	idle(argv[1], atoi(argv[5]), argv[6]);
	free(cs);
	free(lat);
	event_base_free(base);
	return 0;
}
