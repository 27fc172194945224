/*
 * queue_bench.c: task queue throughput.  N worker threads serve one queue
 * name; the main thread submits M tasks (small payloads), then waits for
 * every one to be done.  Prints tasks/s from the first submit to the last
 * result, and the rate of the submit phase alone (one connection).  Run by tests/bench/queue.sh beside redis-benchmark.
 *
 * usage: queue_bench SOCKET THREADS TASKS
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redis_allocator.h"

/* Echo the payload back as the result. */
static int
bench_echo(struct ra_task *t, void *arg)
{
	return ra_task_set_result(t, t->payload, t->payload_len);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	struct ra_options opt = { 0 };
	struct ra_queue_conf conf;
	struct ra_queue *q;
	struct ra_queue_workers *w;
	struct ra_queue_worker_stats st;
	struct ra_context *ctx;
	struct ra_task_result res;
	const char *names[1] = { "bench" };
	char err[RA_ERRSTR_LEN], id[32];
	double t0, ts, t1;
	long threads, tasks, i;

	if (argc != 4 || (threads = atol(argv[2])) < 1 ||
	    (tasks = atol(argv[3])) < 1) {
		fprintf(stderr, "usage: %s SOCKET THREADS TASKS\n", argv[0]);
		return 2;
	}
	opt.path = argv[1];
	ctx = ra_connect(&opt);
	if (ctx == NULL || ctx->err) {
		fprintf(stderr, "connect: %s\n", ctx ? ctx->errstr : "oom");
		return 1;
	}
	ra_queue_conf_init(&conf);
	if ((q = ra_queue_create(&conf, err)) == NULL) {
		fprintf(stderr, "queue: %s\n", err);
		return 1;
	}
	ra_queue_register(q, "bench", bench_echo, NULL);
	if ((w = ra_queue_workers_start(q, &opt, names, 1, (unsigned)threads,
	    err)) == NULL) {
		fprintf(stderr, "workers: %s\n", err);
		return 1;
	}
	t0 = now_s();
	for (i = 0; i < tasks; i++) {
		snprintf(id, sizeof id, "b%ld", i);
		if (ra_queue_submit(q, ctx, "bench", id, id, strlen(id),
		    60) != 0) {
			fprintf(stderr, "submit: %s\n", ctx->errstr);
			return 1;
		}
	}
	ts = now_s();
	for (i = 0; i < tasks; i++) {
		snprintf(id, sizeof id, "b%ld", i);
		if (ra_queue_wait(q, ctx, "bench", id, 60, RA_QUEUE_DELETE,
		    &res) != 0 || res.state != RA_TASK_DONE ||
		    res.len != strlen(id)) {
			fprintf(stderr, "wait %s: %s\n", id, ctx->errstr);
			return 1;
		}
		ra_task_result_deinit(&res);
	}
	t1 = now_s();
	ra_queue_workers_stats(w, &st);
	ra_queue_workers_stop(w);
	printf("threads=%ld tasks=%ld seconds=%.3f tasks_per_s=%.0f "
	    "submits_per_s=%.0f done=%llu\n", threads, tasks, t1 - t0,
	    tasks / (t1 - t0), tasks / (ts - t0), st.done);
	ra_queue_destroy(q);
	ra_free(ctx);
	return 0;
}
