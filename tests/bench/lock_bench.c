/*
 * lock_bench.c: lock throughput against a redis-server: uncontended
 * lock+unlock pairs on one connection, and contended acquisitions with
 * several processes (one connection each) on one lock name.  Run by
 * tests/bench/lock.sh, which adds the reference EVALSHA rate.
 *
 * usage: lock_bench SOCKET uncontended PAIRS
 *        lock_bench SOCKET contended CLIENTS SECONDS
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis_allocator.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct ra_context *
bench_connect(const char *path)
{
	struct ra_options opt = { 0 };
	struct ra_context *ctx;

	opt.path = path;
	opt.prefix = "bench";
	if ((ctx = ra_connect(&opt)) == NULL || ctx->err) {
		fprintf(stderr, "lock_bench: connect %s: %s\n", path,
		    ctx ? ctx->errstr : "out of memory");
		exit(1);
	}
	return ctx;
}

/* Lock and unlock one name pairs times on one connection. */
static int
uncontended(const char *path, long pairs)
{
	struct ra_context *ctx = bench_connect(path);
	double t0, el;
	long i;

	t0 = now_s();
	for (i = 0; i < pairs; i++) {
		if (ra_lock(ctx, "solo", "me", 10, NULL) != 0 ||
		    ra_unlock(ctx, "solo", "me") != 0) {
			fprintf(stderr, "lock_bench: %s\n", ctx->errstr);
			return 1;
		}
	}
	el = now_s() - t0;
	printf("uncontended_pairs %ld\nuncontended_seconds %.3f\n"
	    "uncontended_pairs_per_sec %.1f\n", pairs, el, pairs / el);
	ra_free(ctx);
	return 0;
}

/* One contender: blocking acquire + release until the deadline; writes
 * its count of acquisitions to fd. */
static void
contender(const char *path, int id, double until, int fd)
{
	struct ra_context *ctx = bench_connect(path);
	char owner[32];
	long n = 0;

	snprintf(owner, sizeof owner, "c%d", id);
	while (now_s() < until) {
		if (ra_lock_wait(ctx, "shared", owner, 10, 0.5, 0, NULL) != 0) {
			if (ctx->err == RA_ERR_BUSY)
				continue;
			fprintf(stderr, "lock_bench: %s\n", ctx->errstr);
			_exit(1);
		}
		n++;
		if (ra_unlock(ctx, "shared", owner) != 0) {
			fprintf(stderr, "lock_bench: unlock: %s\n",
			    ctx->errstr);
			_exit(1);
		}
	}
	if (write(fd, &n, sizeof n) != sizeof n)
		_exit(1);
	ra_free(ctx);
	_exit(0);
}

static int
contended(const char *path, int clients, double seconds)
{
	double t0, until;
	long total = 0, n, min = -1, max = 0;
	int fd[2], i, status, rc = 0;

	if (pipe(fd) != 0) {
		perror("pipe");
		return 1;
	}
	t0 = now_s();
	until = t0 + seconds;
	for (i = 0; i < clients; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			close(fd[0]);
			contender(path, i, until, fd[1]);
		}
	}
	close(fd[1]);
	while (read(fd[0], &n, sizeof n) == sizeof n) {
		total += n;
		if (min < 0 || n < min)
			min = n;
		if (n > max)
			max = n;
	}
	for (i = 0; i < clients; i++) {
		if (wait(&status) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			rc = 1;
	}
	printf("contended_clients %d\ncontended_acquisitions %ld\n"
	    "contended_per_client_min %ld\ncontended_per_client_max %ld\n"
	    "contended_acquisitions_per_sec %.1f\n", clients, total, min, max,
	    total / (now_s() - t0));
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[2], "uncontended") == 0)
		return uncontended(argv[1], atol(argv[3]));
	if (argc == 5 && strcmp(argv[2], "contended") == 0)
		return contended(argv[1], atoi(argv[3]), atof(argv[4]));
	fprintf(stderr, "usage: lock_bench SOCKET uncontended PAIRS\n"
	    "       lock_bench SOCKET contended CLIENTS SECONDS\n");
	return 2;
}
