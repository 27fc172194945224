/*
 * check_queue.c: the task queue against a real Redis: the five policies,
 * redelivery after a worker is killed, retries and the dead-letter list,
 * per-handle retry jitter, progress and deadlines, result TTL (dead
 * letters too) and delete-on-read, FIFO order, pool counters at stop,
 * Redis restarts and CLIENT UNBLOCK under blocked workers, the first call
 * after a restart, and payloads over the server's bulk limit.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* ---- helpers ---- */

static void
msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A handle with short times for tests. */
static struct ra_queue *
test_queue(double lease, unsigned attempts)
{
	struct ra_queue_conf c;
	struct ra_queue *q;
	char err[RA_ERRSTR_LEN];

	ra_queue_conf_init(&c);
	c.lease = lease;
	c.max_attempts = attempts;
	c.backoff_base = 0.05;
	c.backoff_max = 0.2;
	c.poll = 0.1;
	q = ra_queue_create(&c, err);
	ck_assert_msg(q != NULL, "ra_queue_create: %s", err);
	return q;
}

static struct ra_queue_workers *
start_workers(struct ra_queue *q, const char *path, const char *name,
    unsigned threads)
{
	struct ra_options opt = { 0 };
	struct ra_queue_workers *w;
	const char *names[1] = { name };
	char err[RA_ERRSTR_LEN];

	opt.path = path != NULL ? path : tu_redis_socket();
	w = ra_queue_workers_start(q, &opt, names, 1, threads, err);
	ck_assert_msg(w != NULL, "workers_start: %s", err);
	return w;
}

static long long
redis_int(const char *fmt, const char *arg)
{
	redisContext *rc = tu_redis();
	redisReply *r = redisCommand(rc, fmt, arg);
	long long v;

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
	v = r->integer;
	freeReplyObject(r);
	redisFree(rc);
	return v;
}

/* The test Redis' clock in ms (TIME): deadlines and TTLs run on it. */
static long long
redis_ms(void)
{
	redisContext *rc = tu_redis();
	redisReply *r = redisCommand(rc, "TIME");
	long long ms;

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	ms = atoll(r->element[0]->str) * 1000 +
	    atoll(r->element[1]->str) / 1000;
	freeReplyObject(r);
	redisFree(rc);
	return ms;
}

/* ZSCORE key member as an integer; -1 when the member is absent. */
static long long
redis_score(const char *key, const char *member)
{
	redisContext *rc = tu_redis();
	redisReply *r = redisCommand(rc, "ZSCORE %s %s", key, member);
	long long v = -1;

	ck_assert_ptr_nonnull(r);
	if (r->type == REDIS_REPLY_STRING)
		v = atoll(r->str);
	else
		ck_assert_int_eq(r->type, REDIS_REPLY_NIL);
	freeReplyObject(r);
	redisFree(rc);
	return v;
}

/* ---- task functions ---- */

/* Prefixes fn_echo puts before the payload, telling who ran it. */
static char s_local[] = "local";
static char s_remote[] = "remote";
static char s_r[] = "r";
static char s_w[] = "w";
static char s_u[] = "u";

/* Echo the payload with a prefix given as arg. */
static int
fn_echo(struct ra_task *t, void *arg)
{
	char buf[256];
	int n = snprintf(buf, sizeof buf, "%s:%s", (const char *)arg,
	    t->payload);

	return ra_task_set_result(t, buf, (size_t)n);
}

static int
fn_fail(struct ra_task *t, void *arg)
{
	ra_task_set_error(t, "%s failed on run %u", (const char *)arg,
	    t->attempt);
	return -1;
}

static int
fn_nothing(struct ra_task *t, void *arg)
{
	return 0;
}

static atomic_int fail_until_ok;	/* fn_flaky fails while this is 0 */
static atomic_int runs;			/* runs of the counting functions */

static int
fn_flaky(struct ra_task *t, void *arg)
{
	atomic_fetch_add(&runs, 1);
	if (!atomic_load(&fail_until_ok)) {
		ra_task_set_error(t, "not yet (run %u)", t->attempt);
		return -1;
	}
	return ra_task_set_result(t, "finally", 7);
}

/* ---- tests ---- */

START_TEST(test_bad_arguments)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue *q = test_queue(1, 3);
	struct ra_task_result res;
	char big[RA_KEY_MAX + 2];

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(ra_queue_submit(q, ctx, "", "id", "p", 1, 1), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "n", "", "p", 1, 1), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_queue_submit(q, ctx, big, "id", "p", 1, 1), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "n", big, "p", 1, 1), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "a}b", "id", "p", 1, 1), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "n", "id", "p", 1, -2), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_queue_wait(q, ctx, "n", big, 1, 0, &res), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_queue_run(q, ctx, "n", "id", "p", 1, 1,
	    (enum ra_policy)99, 0, &res), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_queue_register(q, big, fn_nothing, NULL), -1);
	ck_assert_int_eq(redis_int("DBSIZE", NULL), 0);
	/* unknown task */
	ck_assert_int_eq(ra_queue_status(q, ctx, "n", "nope", 0, &res), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_FOUND);
	ck_assert_int_eq(ra_queue_requeue(q, ctx, "n", "nope"), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_FOUND);
	/* a pending id cannot be submitted twice */
	ck_assert_int_eq(ra_queue_submit(q, ctx, "n", "id", "p", 1, 5), 0);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "n", "id", "p", 1, 5), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BUSY);
	ck_assert_str_eq(ra_policy_name(RA_POLICY_REMOTE_FIRST),
	    "remote_first");
	ck_assert_int_eq(ra_policy_parse("auto"), RA_POLICY_AUTO);
	ck_assert_int_eq(ra_policy_parse("nope"), -1);
	ra_queue_destroy(q);
	ra_free(ctx);
}
END_TEST

START_TEST(test_policy_local)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue *q = test_queue(1, 3);
	struct ra_task_result res;

	ra_queue_register(q, "echo", fn_echo, s_local);
	ck_assert_int_eq(ra_queue_run(q, ctx, "echo", "t1", "hi", 2, 5,
	    RA_POLICY_LOCAL, 0, &res), 0);
	ck_assert_int_eq(res.state, RA_TASK_DONE);
	ck_assert_int_eq(res.local, 1);
	ck_assert_str_eq(res.data, "local:hi");
	ra_task_result_deinit(&res);
	/* nothing went through Redis */
	ck_assert_int_eq(redis_int("DBSIZE", NULL), 0);
	/* no function: NOT_FOUND */
	ck_assert_int_eq(ra_queue_run(q, ctx, "other", "t1", "hi", 2, 5,
	    RA_POLICY_LOCAL, 0, &res), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_FOUND);
	ra_queue_destroy(q);
	ra_free(ctx);
}
END_TEST

START_TEST(test_policy_remote)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue *q = test_queue(1, 3), *wq = test_queue(1, 3);
	struct ra_queue_workers *w;
	struct ra_task_result res;

	ra_queue_register(q, "echo", fn_echo, s_local);
	ra_queue_register(wq, "echo", fn_echo, s_remote);
	w = start_workers(wq, NULL, "echo", 2);
	ck_assert_int_eq(ra_queue_run(q, ctx, "echo", "t1", "hi", 2, 10,
	    RA_POLICY_REMOTE, 0, &res), 0);
	ck_assert_int_eq(res.state, RA_TASK_DONE);
	ck_assert_int_eq(res.local, 0);
	ck_assert_int_eq(res.attempts, 1);
	ck_assert_str_eq(res.data, "remote:hi");
	ra_task_result_deinit(&res);
	ra_queue_workers_stop(w);
	/* no worker: the remote run ends at the task's deadline (the wait
	 * sees the task failed, or its own timeout just before) and the
	 * task is failed, never left pending to run late */
	if (ra_queue_run(q, ctx, "echo", "t2", "hi", 2, 0.3,
	    RA_POLICY_REMOTE, 0, &res) == 0)
		ck_assert_int_eq(res.state, RA_TASK_FAILED);
	else
		ck_assert_int_eq(ctx->err, RA_ERR_TIMEOUT);
	ra_task_result_deinit(&res);
	ck_assert_int_eq(ra_queue_status(q, ctx, "echo", "t2", 0, &res), 0);
	ck_assert_int_eq(res.state, RA_TASK_FAILED);
	ck_assert_str_eq(res.error,
	    "TIMEOUT deadline passed before the task started");
	ra_task_result_deinit(&res);
	ra_queue_destroy(q);
	ra_queue_destroy(wq);
	ra_free(ctx);
}
END_TEST

START_TEST(test_policy_local_first)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue *q = test_queue(1, 3), *wq = test_queue(1, 3);
	struct ra_queue_workers *w;
	struct ra_task_result res;

	/* local succeeds: Redis is never touched */
	ra_queue_register(q, "echo", fn_echo, s_local);
	ck_assert_int_eq(ra_queue_run(q, ctx, "echo", "t1", "a", 1, 5,
	    RA_POLICY_LOCAL_FIRST, 0, &res), 0);
	ck_assert_int_eq(res.local, 1);
	ck_assert_str_eq(res.data, "local:a");
	ra_task_result_deinit(&res);
	ck_assert_int_eq(redis_int("DBSIZE", NULL), 0);
	/* local fails: remote runs it, the local error is gone */
	ra_queue_register(q, "echo", fn_fail, s_local);
	ra_queue_register(wq, "echo", fn_echo, s_remote);
	w = start_workers(wq, NULL, "echo", 1);
	ck_assert_int_eq(ra_queue_run(q, ctx, "echo", "t2", "b", 1, 10,
	    RA_POLICY_LOCAL_FIRST, 0, &res), 0);
	ck_assert_int_eq(ctx->err, RA_OK);
	ck_assert_str_eq(ctx->errstr, "");
	ck_assert_int_eq(res.state, RA_TASK_DONE);
	ck_assert_int_eq(res.local, 0);
	ck_assert_ptr_null(res.error);
	ck_assert_str_eq(res.data, "remote:b");
	ra_task_result_deinit(&res);
	ra_queue_workers_stop(w);
	ra_queue_destroy(q);
	ra_queue_destroy(wq);
	ra_free(ctx);
}
END_TEST

START_TEST(test_policy_remote_first)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue *q = test_queue(1, 3), *wq = test_queue(1, 3);
	struct ra_queue_workers *w;
	struct ra_task_result res;
	double t0;

	ra_queue_register(q, "echo", fn_echo, s_local);
	ra_queue_register(wq, "echo", fn_echo, s_remote);
	/* with a worker: remote */
	w = start_workers(wq, NULL, "echo", 1);
	ck_assert_int_eq(ra_queue_run(q, ctx, "echo", "t1", "a", 1, 10,
	    RA_POLICY_REMOTE_FIRST, 0, &res), 0);
	ck_assert_int_eq(res.local, 0);
	ck_assert_str_eq(res.data, "remote:a");
	ra_task_result_deinit(&res);
	ra_queue_workers_stop(w);
	/* no worker: times out, runs locally, the queued copy is cancelled
	 * (or, past its deadline, failed already) */
	t0 = now_s();
	ck_assert_int_eq(ra_queue_run(q, ctx, "echo", "t2", "b", 1, 0.4,
	    RA_POLICY_REMOTE_FIRST, 0, &res), 0);
	ck_assert(now_s() - t0 >= 0.35);
	ck_assert_int_eq(ctx->err, RA_OK);
	ck_assert_int_eq(res.local, 1);
	ck_assert_str_eq(res.data, "local:b");
	ra_task_result_deinit(&res);
	ck_assert_int_eq(ra_queue_status(q, ctx, "echo", "t2", 0, &res), 0);
	ck_assert_int_eq(res.state, RA_TASK_FAILED);
	ck_assert_msg(strcmp(res.error, "cancelled") == 0 || strcmp(res.error,
	    "TIMEOUT deadline passed before the task started") == 0,
	    "error %s", res.error);
	ra_task_result_deinit(&res);
	/* the remote run fails (worker function fails): local */
	ra_queue_register(wq, "echo", fn_fail, s_remote);
	w = start_workers(wq, NULL, "echo", 1);
	ck_assert_int_eq(ra_queue_run(q, ctx, "echo", "t3", "c", 1, 10,
	    RA_POLICY_REMOTE_FIRST, 0, &res), 0);
	ck_assert_int_eq(res.local, 1);
	ck_assert_str_eq(res.data, "local:c");
	ra_task_result_deinit(&res);
	ra_queue_workers_stop(w);
	/* someone else's pending task with the id is not cancelled */
	ck_assert_int_eq(ra_queue_submit(q, ctx, "echo", "t4", "d", 1, 30), 0);
	ck_assert_int_eq(ra_queue_run(q, ctx, "echo", "t4", "e", 1, 5,
	    RA_POLICY_REMOTE_FIRST, 0, &res), 0);
	ck_assert_int_eq(res.local, 1);
	ck_assert_str_eq(res.data, "local:e");
	ra_task_result_deinit(&res);
	ck_assert_int_eq(ra_queue_status(q, ctx, "echo", "t4", 0, &res), 0);
	ck_assert_int_eq(res.state, RA_TASK_PENDING);
	ra_task_result_deinit(&res);
	ra_queue_destroy(q);
	ra_queue_destroy(wq);
	ra_free(ctx);
}
END_TEST

START_TEST(test_policy_auto)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue *q = test_queue(1, 3), *wq = test_queue(1, 3);
	struct ra_queue_workers *w;
	struct ra_queue_reap_stats st;
	struct ra_task_result res;
	int i;

	ra_queue_register(q, "echo", fn_echo, s_local);
	ra_queue_register(wq, "echo", fn_echo, s_remote);
	ck_assert_int_eq(ra_queue_run(q, ctx, "echo", "t1", "a", 1, 5,
	    RA_POLICY_AUTO, 0, &res), 0);
	ck_assert_int_eq(res.local, 1);
	ra_task_result_deinit(&res);
	w = start_workers(wq, NULL, "echo", 1);
	for (i = 0; i < 100; i++) {	/* registration within a poll */
		ck_assert_int_eq(ra_queue_reap(q, ctx, "echo", &st), 0);
		if (st.live_workers > 0)
			break;
		msleep(20);
	}
	ck_assert_int_eq(st.live_workers, 1);
	ck_assert_int_eq(ra_queue_run(q, ctx, "echo", "t2", "b", 1, 10,
	    RA_POLICY_AUTO, 0, &res), 0);
	ck_assert_int_eq(res.local, 0);
	ck_assert_str_eq(res.data, "remote:b");
	ra_task_result_deinit(&res);
	/* stopped workers unregister: back to local */
	ra_queue_workers_stop(w);
	ck_assert_int_eq(ra_queue_run(q, ctx, "echo", "t3", "c", 1, 5,
	    RA_POLICY_AUTO, 0, &res), 0);
	ck_assert_int_eq(res.local, 1);
	ck_assert_str_eq(res.data, "local:c");
	ra_task_result_deinit(&res);
	ra_queue_destroy(q);
	ra_queue_destroy(wq);
	ra_free(ctx);
}
END_TEST

static atomic_int release_slow;	/* fn_slow returns when set */
static atomic_int stop_called;		/* the test is stopping the pool */

static int
fn_slow(struct ra_task *t, void *arg)
{
	int i;

	for (i = 0; i < 1000 && !atomic_load(&release_slow); i++)
		msleep(10);
	return ra_task_set_result(t, "slow", 4);
}

/* Release fn_slow once the test thread is inside the stop. */
static void *
release_main(void *arg)
{
	int i;

	for (i = 0; i < 1000 && !atomic_load(&stop_called); i++)
		msleep(5);
	msleep(100);	/* well into the stop: the order is not asserted */
	atomic_store(&release_slow, 1);
	return NULL;
}

START_TEST(test_stats_after_stop)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue *q = test_queue(1, 3), *wq = test_queue(1, 3);
	struct ra_queue_workers *w;
	struct ra_queue_worker_stats ws;
	struct ra_task_result res;
	pthread_t th;
	int i;

	atomic_store(&release_slow, 0);
	atomic_store(&stop_called, 0);
	ra_queue_register(wq, "slow", fn_slow, NULL);
	ra_queue_register(wq, "fail", fn_fail, s_w);
	w = start_workers(wq, NULL, "slow", 1);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "slow", "s1", "", 0, 30), 0);
	for (i = 0; i < 500; i++) {
		ck_assert_int_eq(ra_queue_status(q, ctx, "slow", "s1", 0,
		    &res), 0);
		if (res.state == RA_TASK_RUNNING)
			break;
		ra_task_result_deinit(&res);
		msleep(10);
	}
	ck_assert_int_eq(res.state, RA_TASK_RUNNING);
	ra_task_result_deinit(&res);
	ra_queue_workers_stats(w, &ws);
	ck_assert_int_eq(ws.done, 0);
	/* the task finishes while the pool stops: it is counted */
	ck_assert_int_eq(pthread_create(&th, NULL, release_main, NULL), 0);
	atomic_store(&stop_called, 1);
	memset(&ws, 0xff, sizeof ws);
	ra_queue_workers_stop_stats(w, &ws);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(ws.done, 1);
	ck_assert_int_eq(ws.failed, 0);
	ck_assert_int_eq(ws.lost, 0);
	ck_assert_int_eq(ra_queue_status(q, ctx, "slow", "s1", 0, &res), 0);
	ck_assert_int_eq(res.state, RA_TASK_DONE);
	ck_assert_str_eq(res.data, "slow");
	ra_task_result_deinit(&res);
	/* failed runs too; NULL pools and NULL out are allowed */
	w = start_workers(wq, NULL, "fail", 1);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "fail", "f1", "", 0, 30), 0);
	ck_assert_int_eq(ra_queue_wait(q, ctx, "fail", "f1", 10, 0, &res), 0);
	ck_assert_int_eq(res.state, RA_TASK_FAILED);
	ck_assert_int_eq(res.attempts, 3);
	ra_task_result_deinit(&res);
	ra_queue_workers_stop_stats(w, &ws);
	ck_assert_int_eq(ws.done, 0);
	ck_assert_int_eq(ws.failed, 3);	/* runs, as the header says */
	ra_queue_workers_stop_stats(NULL, &ws);
	ck_assert_int_eq(ws.failed, 0);
	ra_queue_workers_stop_stats(start_workers(wq, NULL, "fail", 1), NULL);
	ra_queue_destroy(q);
	ra_queue_destroy(wq);
	ra_free(ctx);
}
END_TEST

/* Signal the parent through a pipe, then hang (until SIGKILL). */
static int kill_pipe = -1;

static int
fn_hang(struct ra_task *t, void *arg)
{
	if (write(kill_pipe, "x", 1) != 1)
		_exit(3);
	for (;;)
		pause();
	return 0;
}

static int
fn_count(struct ra_task *t, void *arg)
{
	atomic_fetch_add(&runs, 1);
	return ra_task_set_result(t, "second", 6);
}

START_TEST(test_sigkill_redelivered_once)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue *q = test_queue(1, 3), *wq;
	struct ra_queue_workers *w;
	struct ra_queue_worker_stats ws;
	struct ra_task_result res;
	struct pollfd pfd;
	int p[2], status;
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct ra_queue *cq = test_queue(1, 3);

		close(p[0]);
		kill_pipe = p[1];
		ra_queue_register(cq, "kill", fn_hang, NULL);
		start_workers(cq, NULL, "kill", 1);
		for (;;)
			pause();
	}
	close(p[1]);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "kill", "k1", "x", 1, 30), 0);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	ck_assert_int_eq(ra_queue_status(q, ctx, "kill", "k1", 0, &res), 0);
	ck_assert_int_eq(res.state, RA_TASK_RUNNING);
	ck_assert_int_eq(res.attempts, 1);
	ra_task_result_deinit(&res);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));

	atomic_store(&runs, 0);
	wq = test_queue(1, 3);
	ra_queue_register(wq, "kill", fn_count, NULL);
	w = start_workers(wq, NULL, "kill", 2);
	ck_assert_int_eq(ra_queue_wait(q, ctx, "kill", "k1", 10, 0, &res), 0);
	ck_assert_int_eq(res.state, RA_TASK_DONE);
	ck_assert_int_eq(res.attempts, 2);
	ck_assert_str_eq(res.data, "second");
	ra_task_result_deinit(&res);
	/* two leases later: still exactly one more run, one completion */
	msleep(2200);
	ck_assert_int_eq(atomic_load(&runs), 1);
	ra_queue_workers_stats(w, &ws);
	ck_assert_int_eq(ws.done, 1);
	ck_assert_int_eq(ws.lost, 0);
	ck_assert_int_eq(ra_queue_status(q, ctx, "kill", "k1", 0, &res), 0);
	ck_assert_int_eq(res.state, RA_TASK_DONE);
	ck_assert_int_eq(res.attempts, 2);
	ra_task_result_deinit(&res);
	ra_queue_workers_stop(w);
	ra_queue_destroy(wq);
	ra_queue_destroy(q);
	ra_free(ctx);
}
END_TEST

START_TEST(test_retry_dead_letter_requeue)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue *q = test_queue(1, 3), *wq = test_queue(1, 3);
	struct ra_queue_workers *w;
	struct ra_task_result res;
	struct ra_strlist ids;
	unsigned long long total;
	double t0;

	atomic_store(&runs, 0);
	atomic_store(&fail_until_ok, 0);
	ra_queue_register(wq, "flaky", fn_flaky, NULL);
	w = start_workers(wq, NULL, "flaky", 2);
	t0 = now_s();
	ck_assert_int_eq(ra_queue_submit(q, ctx, "flaky", "f1", "x", 1, 30), 0);
	ck_assert_int_eq(ra_queue_wait(q, ctx, "flaky", "f1", 10, 0, &res), 0);
	/* two backoffs of at least base/2 and 2*base/2 */
	ck_assert(now_s() - t0 >= 0.07);
	ck_assert_int_eq(res.state, RA_TASK_FAILED);
	ck_assert_int_eq(res.attempts, 3);
	ck_assert_str_eq(res.error, "not yet (run 3)");
	ck_assert_int_eq(atomic_load(&runs), 3);
	ra_task_result_deinit(&res);
	ck_assert_int_eq(ra_queue_dead(q, ctx, "flaky", 0, 10, &ids, &total),
	    0);
	ck_assert_int_eq(total, 1);
	ck_assert_int_eq(ids.n, 1);
	ck_assert_str_eq(ids.v[0], "f1");
	ra_strlist_deinit(&ids);
	/* requeue: fresh attempts, now it succeeds */
	atomic_store(&fail_until_ok, 1);
	ck_assert_int_eq(ra_queue_requeue(q, ctx, "flaky", "f1"), 0);
	ck_assert_int_eq(ra_queue_wait(q, ctx, "flaky", "f1", 10, 0, &res), 0);
	ck_assert_int_eq(res.state, RA_TASK_DONE);
	ck_assert_int_eq(res.attempts, 1);
	ck_assert_str_eq(res.data, "finally");
	ck_assert_ptr_null(res.error);
	ra_task_result_deinit(&res);
	ck_assert_int_eq(ra_queue_dead(q, ctx, "flaky", 0, 10, &ids, &total),
	    0);
	ck_assert_int_eq(total, 0);
	ck_assert_int_eq(ids.n, 0);
	ck_assert_int_eq(ra_queue_requeue(q, ctx, "flaky", "f1"), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_FOUND);
	ra_queue_workers_stop(w);
	/* a finished id is replaced by a new submit: nothing old remains */
	ck_assert_int_eq(ra_queue_submit(q, ctx, "flaky", "f1", "y", 1, 30), 0);
	ck_assert_int_eq(ra_queue_status(q, ctx, "flaky", "f1", 0, &res), 0);
	ck_assert_int_eq(res.state, RA_TASK_PENDING);
	ck_assert_ptr_null(res.data);
	ck_assert_ptr_null(res.error);
	ck_assert_int_eq(res.attempts, 0);
	ra_task_result_deinit(&res);
	ra_queue_destroy(q);
	ra_queue_destroy(wq);
	ra_free(ctx);
}
END_TEST

START_TEST(test_retry_jitter_per_handle)
{
	struct ra_context *ctx = tu_connect();
	const char *names[1] = { "jit" };
	struct ra_queue_conf c;
	struct ra_queue *qs[8];
	struct ra_task t;
	long long t0, t1, due, lo = -1, hi = -1;
	char id[16];
	int i;

	/* retry delays of 50 to 100 s: each handle draws its own */
	ra_queue_conf_init(&c);
	c.backoff_base = 100;
	c.backoff_max = 100;
	for (i = 0; i < 8; i++) {
		qs[i] = ra_queue_create(&c, NULL);
		ck_assert_ptr_nonnull(qs[i]);
		snprintf(id, sizeof id, "j%d", i);
		ck_assert_int_eq(ra_queue_submit(qs[i], ctx, "jit", id, "", 0,
		    0), 0);
	}
	t0 = redis_ms();
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(ra_queue_take(qs[i], ctx, names, 1, 1, &t),
		    0);
		ck_assert_int_eq(ra_queue_fail(qs[i], ctx, &t), 0);
		ra_task_deinit(&t);
	}
	t1 = redis_ms();
	for (i = 0; i < 8; i++) {
		snprintf(id, sizeof id, "j%d", i);
		due = redis_score("{ra:q:jit}:delayed", id);
		ck_assert_int_ge(due, t0 + 50000);
		ck_assert_int_le(due, t1 + 100000);
		if (lo < 0 || due < lo)
			lo = due;
		if (due > hi)
			hi = due;
		ra_queue_destroy(qs[i]);
	}
	/* one shared schedule would spread them only by the time the
	 * fails took */
	ck_assert_msg(hi - lo > t1 - t0 + 1000, "8 handles' first retries "
	    "within %lld ms (fails took %lld ms)", hi - lo, t1 - t0);
	ra_free(ctx);
}
END_TEST

static atomic_int release_progress;	/* fn_progress returns when set */
static atomic_int progress_err;		/* err of a late progress update */

static int
fn_progress(struct ra_task *t, void *arg)
{
	int i;

	if (ra_task_progress(t, 3, 10) != 0)
		return -1;
	for (i = 0; i < 500 && !atomic_load(&release_progress); i++)
		msleep(10);
	return 0;
}

START_TEST(test_progress_visible)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue *q = test_queue(1, 3), *wq = test_queue(0.6, 1);
	struct ra_queue_workers *w;
	struct ra_task_result res;
	int i;

	atomic_store(&release_progress, 0);
	ra_queue_register(wq, "prog", fn_progress, NULL);
	w = start_workers(wq, NULL, "prog", 1);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "prog", "p1", "", 0, 30), 0);
	for (i = 0; i < 250; i++) {
		ck_assert_int_eq(ra_queue_status(q, ctx, "prog", "p1", 0,
		    &res), 0);
		if (res.current == 3)
			break;
		ra_task_result_deinit(&res);
		msleep(20);
	}
	ck_assert_int_eq(res.state, RA_TASK_RUNNING);
	ck_assert_int_eq(res.current, 3);
	ck_assert_int_eq(res.total, 10);
	ra_task_result_deinit(&res);
	/* over twice the 0.6 s lease: the heartbeat thread keeps it */
	msleep(1500);
	atomic_store(&release_progress, 1);
	ck_assert_int_eq(ra_queue_wait(q, ctx, "prog", "p1", 10, 0, &res), 0);
	ck_assert_int_eq(res.state, RA_TASK_DONE);
	ck_assert_int_eq(res.attempts, 1);
	ra_task_result_deinit(&res);
	ra_queue_workers_stop(w);
	ra_queue_destroy(q);
	ra_queue_destroy(wq);
	ra_free(ctx);
}
END_TEST

static int
fn_late(struct ra_task *t, void *arg)
{
	msleep(t->local ? 500 : 1200);
	if (ra_task_progress(t, 1, 2) == 0)
		atomic_store(&progress_err, RA_OK);
	else
		atomic_store(&progress_err, t->err);
	return 0;
}

START_TEST(test_progress_after_deadline)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue *q = test_queue(1, 3), *wq = test_queue(1, 1);
	struct ra_queue_workers *w;
	struct ra_task_result res;

	/* remote: deadline 0.8 s after submit, update after 1.2 s */
	atomic_store(&progress_err, -1);
	ra_queue_register(wq, "late", fn_late, NULL);
	w = start_workers(wq, NULL, "late", 1);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "late", "l1", "", 0, 0.8),
	    0);
	ck_assert_int_eq(ra_queue_wait(q, ctx, "late", "l1", 10, 0, &res), 0);
	ck_assert_int_eq(atomic_load(&progress_err), RA_ERR_TIMEOUT);
	ck_assert_int_eq(res.current, 0);
	ra_task_result_deinit(&res);
	ra_queue_workers_stop(w);
	/* local: the same, on the monotonic clock */
	atomic_store(&progress_err, -1);
	ra_queue_register(q, "late", fn_late, NULL);
	ck_assert_int_eq(ra_queue_run(q, ctx, "late", "l2", "", 0, 0.3,
	    RA_POLICY_LOCAL, 0, &res), 0);
	ck_assert_int_eq(atomic_load(&progress_err), RA_ERR_TIMEOUT);
	ra_task_result_deinit(&res);
	ck_assert_int_eq(ra_queue_run(q, ctx, "late", "l3", "", 0, 5,
	    RA_POLICY_LOCAL, 0, &res), 0);
	ck_assert_int_eq(atomic_load(&progress_err), RA_OK);
	ck_assert_int_eq(res.current, 1);
	ck_assert_int_eq(res.total, 2);
	ra_task_result_deinit(&res);
	ra_queue_destroy(q);
	ra_queue_destroy(wq);
	ra_free(ctx);
}
END_TEST

/* ra_queue_status until it answers err (bounded); fails otherwise. */
static void
wait_status_err(struct ra_queue *q, struct ra_context *ctx, const char *name,
    const char *id, int err)
{
	struct ra_task_result res;
	int i;

	for (i = 0; i < 500; i++) {
		if (ra_queue_status(q, ctx, name, id, 0, &res) != 0) {
			ck_assert_int_eq(ctx->err, err);
			return;
		}
		ra_task_result_deinit(&res);
		msleep(20);
	}
	ck_abort_msg("%s still readable", id);
}

START_TEST(test_deadline_fails_at_once)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue *q = test_queue(5, 3);
	const char *names[1] = { "dl" };
	struct ra_queue_conf c;
	struct ra_task_result res;
	struct ra_task t;
	struct ra_strlist ids;
	unsigned long long total;
	long long before, after;
	int i;

	/* the function saw the deadline pass and failed: no retry can
	 * start, so the task is failed now, not pending until a retry */
	ck_assert_int_eq(ra_queue_submit(q, ctx, "dl", "p1", "", 0, 0.3), 0);
	ck_assert_int_eq(ra_queue_take(q, ctx, names, 1, 1, &t), 0);
	for (i = 0; i < 500 && ra_task_progress(&t, 1, 2) == 0; i++)
		msleep(10);
	ck_assert_int_eq(t.err, RA_ERR_TIMEOUT);
	ra_task_set_error(&t, "too slow");
	ck_assert_int_eq(ra_queue_fail(q, ctx, &t), 0);
	ra_task_deinit(&t);
	ck_assert_int_eq(ra_queue_status(q, ctx, "dl", "p1", 0, &res), 0);
	ck_assert_str_eq(ra_task_state_name(res.state), "failed");
	ck_assert_str_eq(res.error,
	    "TIMEOUT deadline passed before run 2; last error: too slow");
	ra_task_result_deinit(&res);
	/* not out of attempts: not dead-lettered */
	ck_assert_int_eq(ra_queue_dead(q, ctx, "dl", 0, 10, &ids, &total), 0);
	ck_assert_int_eq(total, 0);
	ra_strlist_deinit(&ids);
	ra_queue_destroy(q);

	/* a retry that would be due after the deadline: failed at once */
	ra_queue_conf_init(&c);
	c.backoff_base = 40;	/* 20 to 40 s, past the 10 s deadline */
	c.backoff_max = 40;
	q = ra_queue_create(&c, NULL);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "dl", "p2", "", 0, 10), 0);
	ck_assert_int_eq(ra_queue_take(q, ctx, names, 1, 1, &t), 0);
	ra_task_set_error(&t, "flaky");
	ck_assert_int_eq(ra_queue_fail(q, ctx, &t), 0);
	ra_task_deinit(&t);
	ck_assert_int_eq(ra_queue_status(q, ctx, "dl", "p2", 0, &res), 0);
	ck_assert_str_eq(ra_task_state_name(res.state), "failed");
	ck_assert_str_eq(res.error,
	    "TIMEOUT deadline passed before run 2; last error: flaky");
	ra_task_result_deinit(&res);

	/* no worker took it: pending up to its deadline, failed from it */
	ck_assert_int_eq(ra_queue_submit(q, ctx, "dl", "p3", "", 0, 0.3), 0);
	for (i = 0; i < 500; i++) {
		before = redis_ms();
		ck_assert_int_eq(ra_queue_status(q, ctx, "dl", "p3", 0, &res),
		    0);
		after = redis_ms();
		ck_assert_int_gt(res.deadline_ms, 0);
		if (before >= res.deadline_ms)
			break;
		if (after < res.deadline_ms)
			ck_assert_str_eq(ra_task_state_name(res.state),
			    "pending");
		ra_task_result_deinit(&res);
		msleep(10);
	}
	ck_assert_int_lt(i, 500);
	ck_assert_str_eq(ra_task_state_name(res.state), "failed");
	ck_assert_str_eq(res.error,
	    "TIMEOUT deadline passed before the task started");
	ra_task_result_deinit(&res);
	/* and a waiter gets that result, not its own timeout */
	ck_assert_int_eq(ra_queue_submit(q, ctx, "dl", "p4", "", 0, 0.3), 0);
	ck_assert_int_eq(ra_queue_wait(q, ctx, "dl", "p4", 10, 0, &res), 0);
	ck_assert_str_eq(ra_task_state_name(res.state), "failed");
	ra_task_result_deinit(&res);
	/* nothing left to take */
	ck_assert_int_eq(ra_queue_take(q, ctx, names, 1, 0, &t), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_EMPTY);
	ra_queue_destroy(q);
	ra_free(ctx);
}
END_TEST

START_TEST(test_dead_letter_expires)
{
	struct ra_context *ctx = tu_connect();
	const char *names[1] = { "dl" };
	struct ra_queue_conf c;
	struct ra_queue *q;
	struct ra_queue_reap_stats st;
	struct ra_task_result res;
	struct ra_task t;
	struct ra_strlist ids;
	unsigned long long total;
	long long t0, t1, exp1, exp2;
	int i, forgotten;

	ra_queue_conf_init(&c);
	c.result_ttl = 0.5;
	c.max_attempts = 1;
	c.lease = 0.2;
	c.poll = 0.1;
	q = ra_queue_create(&c, NULL);
	/* the last run failed: forgotten result_ttl after it died */
	ck_assert_int_eq(ra_queue_submit(q, ctx, "dl", "d1", "", 0, 0), 0);
	ck_assert_int_eq(ra_queue_take(q, ctx, names, 1, 1, &t), 0);
	t0 = redis_ms();
	ck_assert_int_eq(ra_queue_fail(q, ctx, &t), 0);
	t1 = redis_ms();
	ra_task_deinit(&t);
	exp1 = redis_score("{ra:q:dl}:expire", "d1");
	ck_assert_int_ge(exp1, t0 + 500);
	ck_assert_int_le(exp1, t1 + 500);
	/* its worker was lost on the last run: the same, from the reaper */
	ck_assert_int_eq(ra_queue_submit(q, ctx, "dl", "d2", "", 0, 0), 0);
	ck_assert_int_eq(ra_queue_take(q, ctx, names, 1, 1, &t), 0);
	ra_task_deinit(&t);
	for (i = 0; i < 500; i++) {
		t0 = redis_ms();
		ck_assert_int_eq(ra_queue_reap(q, ctx, "dl", &st), 0);
		if (st.dead == 1)
			break;
		msleep(10);
	}
	ck_assert_int_eq(st.dead, 1);
	t1 = redis_ms();
	exp2 = redis_score("{ra:q:dl}:expire", "d2");
	ck_assert_int_ge(exp2, t0 + 500);
	ck_assert_int_le(exp2, t1 + 500);
	/* a requeued one lives on */
	ck_assert_int_eq(ra_queue_submit(q, ctx, "dl", "d3", "", 0, 0), 0);
	ck_assert_int_eq(ra_queue_take(q, ctx, names, 1, 1, &t), 0);
	ck_assert_int_eq(ra_queue_fail(q, ctx, &t), 0);
	ra_task_deinit(&t);
	ck_assert_int_eq(ra_queue_dead(q, ctx, "dl", 0, 10, &ids, &total), 0);
	ck_assert_int_eq(total, 3);
	ra_strlist_deinit(&ids);
	ck_assert_int_eq(ra_queue_requeue(q, ctx, "dl", "d3"), 0);
	ck_assert_int_eq(redis_score("{ra:q:dl}:expire", "d3"), -1);
	/* past the TTL: not found, and the reaper empties the dead-letter
	 * list and the task fields */
	wait_status_err(q, ctx, "dl", "d1", RA_ERR_NOT_FOUND);
	wait_status_err(q, ctx, "dl", "d2", RA_ERR_NOT_FOUND);
	for (i = 0, forgotten = 0; i < 500 && forgotten < 2; i++) {
		ck_assert_int_eq(ra_queue_reap(q, ctx, "dl", &st), 0);
		forgotten += (int)st.forgotten;
		if (forgotten < 2)
			msleep(10);
	}
	ck_assert_int_eq(forgotten, 2);
	ck_assert_int_eq(ra_queue_dead(q, ctx, "dl", 0, 10, &ids, &total), 0);
	ck_assert_int_eq(total, 0);
	ra_strlist_deinit(&ids);
	/* d3's record and payload are all that is left */
	ck_assert_int_eq(redis_int("HLEN %s", "{ra:q:dl}:task"), 1);
	ck_assert_int_eq(redis_int("HLEN %s", "{ra:q:dl}:data"), 1);
	ck_assert_int_eq(ra_queue_status(q, ctx, "dl", "d3", 0, &res), 0);
	ck_assert_str_eq(ra_task_state_name(res.state), "pending");
	ra_task_result_deinit(&res);
	ra_queue_destroy(q);
	ra_free(ctx);
}
END_TEST

START_TEST(test_result_ttl_and_delete)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue_conf c;
	struct ra_queue *q, *wq = test_queue(1, 3);
	struct ra_queue_workers *w;
	struct ra_task_result res;
	int i;

	ra_queue_conf_init(&c);
	c.result_ttl = 1;
	c.poll = 0.1;
	q = ra_queue_create(&c, NULL);
	ck_assert_ptr_nonnull(q);
	ra_queue_register(wq, "echo", fn_echo, s_r);
	w = start_workers(wq, NULL, "echo", 1);
	/* delete on read */
	ck_assert_int_eq(ra_queue_submit(q, ctx, "echo", "d1", "x", 1, 10), 0);
	ck_assert_int_eq(ra_queue_wait(q, ctx, "echo", "d1", 10,
	    RA_QUEUE_DELETE, &res), 0);
	ck_assert_str_eq(res.data, "r:x");
	ra_task_result_deinit(&res);
	ck_assert_int_eq(ra_queue_status(q, ctx, "echo", "d1", 0, &res), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_FOUND);
	/* expiry: readable at first, gone after the TTL */
	ck_assert_int_eq(ra_queue_submit(q, ctx, "echo", "e1", "y", 1, 10), 0);
	ck_assert_int_eq(ra_queue_wait(q, ctx, "echo", "e1", 10, 0, &res), 0);
	ck_assert_str_eq(res.data, "r:y");
	ra_task_result_deinit(&res);
	ck_assert_int_eq(ra_queue_status(q, ctx, "echo", "e1", 0, &res), 0);
	ra_task_result_deinit(&res);
	msleep(1100);
	ck_assert_int_eq(ra_queue_status(q, ctx, "echo", "e1", 0, &res), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_FOUND);
	/* and the reaper removes its data from Redis */
	for (i = 0; i < 100; i++) {
		if (redis_int("HLEN %s", "{ra:q:echo}:task") == 0)
			break;
		msleep(20);
	}
	ck_assert_int_eq(redis_int("HLEN %s", "{ra:q:echo}:task"), 0);
	ck_assert_int_eq(redis_int("HLEN %s", "{ra:q:echo}:data"), 0);
	ra_queue_workers_stop(w);
	ra_queue_destroy(q);
	ra_queue_destroy(wq);
	ra_free(ctx);
}
END_TEST

START_TEST(test_fifo_per_name)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue *q = test_queue(5, 3);
	const char *names[2] = { "fifo", "other" };
	struct ra_task t;
	char id[32];
	int i;

	for (i = 0; i < 40; i++) {
		snprintf(id, sizeof id, "t%d", i);
		ck_assert_int_eq(ra_queue_submit(q, ctx, i % 3 ? "fifo" :
		    "other", id, id, strlen(id), 30), 0);
	}
	/* each name in submission order; the first name first */
	for (i = 0; i < 40; i++) {
		int want = i < 26 ? (i / 2) * 3 + 1 + i % 2 : (i - 26) * 3;

		ck_assert_int_eq(ra_queue_take(q, ctx, names, 2, 1, &t), 0);
		snprintf(id, sizeof id, "t%d", want);
		ck_assert_str_eq(t.id, id);
		ck_assert_str_eq(t.payload, id);
		ck_assert_int_eq(t.attempt, 1);
		ck_assert_int_eq(ra_queue_complete(q, ctx, &t), 0);
		ra_task_deinit(&t);
	}
	ck_assert_int_eq(ra_queue_take(q, ctx, names, 2, 0.1, &t), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_EMPTY);
	ra_queue_destroy(q);
	ra_free(ctx);
}
END_TEST

START_TEST(test_no_result_is_done)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue *q = test_queue(1, 3), *wq = test_queue(1, 3);
	struct ra_queue_workers *w;
	struct ra_task_result res;

	ra_queue_register(wq, "void", fn_nothing, NULL);
	w = start_workers(wq, NULL, "void", 1);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "void", "v1", "x", 1, 10), 0);
	ck_assert_int_eq(ra_queue_wait(q, ctx, "void", "v1", 10, 0, &res), 0);
	ck_assert_int_eq(res.state, RA_TASK_DONE);
	ck_assert_ptr_null(res.data);
	ck_assert_int_eq(res.len, 0);
	ck_assert_ptr_null(res.error);
	ra_task_result_deinit(&res);
	ra_queue_workers_stop(w);
	ra_queue_destroy(q);
	ra_queue_destroy(wq);
	ra_free(ctx);
}
END_TEST

START_TEST(test_pool_serves_names)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue *q = test_queue(1, 3), *wq = test_queue(1, 3);
	struct ra_options opt = { 0 };
	const char *names[2] = { "one", "two" };
	struct ra_queue_workers *w;
	struct ra_task_result res;
	char err[RA_ERRSTR_LEN];

	ra_queue_register(wq, "one", fn_echo, s_local);
	ra_queue_register(wq, "two", fn_echo, s_remote);
	opt.path = tu_redis_socket();
	ck_assert_ptr_null(ra_queue_workers_start(wq, &opt, names, 2, 0,
	    err));
	w = ra_queue_workers_start(wq, &opt, names, 2, 3, err);
	ck_assert_msg(w != NULL, "%s", err);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "two", "x", "2", 1, 10), 0);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "one", "x", "1", 1, 10), 0);
	ck_assert_int_eq(ra_queue_wait(q, ctx, "two", "x", 10, 0, &res), 0);
	ck_assert_str_eq(res.data, "remote:2");
	ra_task_result_deinit(&res);
	ck_assert_int_eq(ra_queue_wait(q, ctx, "one", "x", 10, 0, &res), 0);
	ck_assert_str_eq(res.data, "local:1");
	ra_task_result_deinit(&res);
	ra_queue_workers_stop(w);
	ra_queue_destroy(q);
	ra_queue_destroy(wq);
	ra_free(ctx);
}
END_TEST

START_TEST(test_expired_lease_not_owned)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue *q = test_queue(0.2, 3);
	const char *names[1] = { "own" };
	struct ra_queue_reap_stats st;
	struct ra_task_result res;
	struct ra_task t1, t2;
	int i;

	ck_assert_int_eq(ra_queue_submit(q, ctx, "own", "o1", "x", 1, 30), 0);
	ck_assert_int_eq(ra_queue_take(q, ctx, names, 1, 1, &t1), 0);
	ck_assert_int_eq(ra_queue_heartbeat(q, ctx, &t1), 0);
	msleep(300);
	for (i = 0; i < 50; i++) {
		ck_assert_int_eq(ra_queue_reap(q, ctx, "own", &st), 0);
		if (st.requeued == 1)
			break;
		msleep(20);
	}
	ck_assert_int_eq(st.requeued, 1);
	ck_assert_int_eq(ra_queue_heartbeat(q, ctx, &t1), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_OWNED);
	ck_assert_int_eq(ra_queue_take(q, ctx, names, 1, 1, &t2), 0);
	ck_assert_str_eq(t2.id, "o1");
	ck_assert_int_eq(t2.attempt, 2);
	ck_assert_int_eq(ra_queue_complete(q, ctx, &t1), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_NOT_OWNED);
	ck_assert_int_eq(ra_task_progress(&t1, 1, 1), -1);
	ck_assert_int_eq(t1.err, RA_ERR_NOT_OWNED);
	ck_assert_int_eq(ra_queue_complete(q, ctx, &t2), 0);
	ra_task_deinit(&t1);
	ra_task_deinit(&t2);
	ra_queue_destroy(q);

	/* a worker lost on the last run: dead-lettered by the reaper */
	q = test_queue(0.2, 2);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "own", "o2", "x", 1, 30), 0);
	for (i = 0; i < 2; i++) {
		int j;

		ck_assert_int_eq(ra_queue_take(q, ctx, names, 1, 1, &t1), 0);
		ck_assert_int_eq(t1.attempt, i + 1);
		ra_task_deinit(&t1);
		msleep(250);
		for (j = 0; j < 50; j++) {
			ck_assert_int_eq(ra_queue_reap(q, ctx, "own", &st), 0);
			if (st.requeued + st.dead == 1)
				break;
			msleep(20);
		}
		ck_assert_int_eq(st.requeued, i == 0);
		ck_assert_int_eq(st.dead, i == 1);
	}
	ck_assert_int_eq(ra_queue_status(q, ctx, "own", "o2", 0, &res), 0);
	ck_assert_int_eq(res.state, RA_TASK_FAILED);
	ck_assert_str_eq(res.error, "lease expired: worker lost (run 2 of 2)");
	ra_task_result_deinit(&res);
	ck_assert_int_eq(ra_queue_take(q, ctx, names, 1, 0, &t1), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_EMPTY);
	ck_assert_int_eq(ra_queue_requeue(q, ctx, "own", "o2"), 0);
	ck_assert_int_eq(ra_queue_take(q, ctx, names, 1, 1, &t1), 0);
	ck_assert_str_eq(t1.id, "o2");
	ck_assert_int_eq(t1.attempt, 1);
	ra_task_deinit(&t1);
	ra_queue_destroy(q);
	ra_free(ctx);
}
END_TEST

/* The server-side id of a context's connection. */
static long long
client_id(struct ra_context *ctx)
{
	redisReply *r = redisCommand(ctx->rc, "CLIENT ID");
	long long id;

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
	id = r->integer;
	freeReplyObject(r);
	return id;
}

START_TEST(test_wait_longer_than_socket_timeout)
{
	struct ra_options opt = { 0 };
	struct ra_queue_conf c;
	struct ra_context *ctx = tu_connect(), *short_ctx;
	struct ra_queue *q;
	struct ra_task_result res;
	long long id;
	double t0;

	ra_queue_conf_init(&c);
	c.poll = 0.5;
	q = ra_queue_create(&c, NULL);
	opt.path = tu_redis_socket();
	opt.command_timeout.tv_usec = 100000;	/* 0.1 s, under one block */
	short_ctx = ra_connect(&opt);
	ck_assert_int_eq(short_ctx->err, 0);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "idle", "i1", "", 0, 30), 0);
	id = client_id(short_ctx);
	t0 = now_s();
	ck_assert_int_eq(ra_queue_wait(q, short_ctx, "idle", "i1", 1.2, 0,
	    &res), -1);
	ck_assert_int_eq(short_ctx->err, RA_ERR_TIMEOUT);
	ck_assert(now_s() - t0 >= 1.15);
	/* the same connection all along: no block was taken for a failure */
	ck_assert_int_eq(client_id(short_ctx), id);
	ra_free(short_ctx);
	ra_queue_destroy(q);
	ra_free(ctx);
}
END_TEST

/* ---- a Redis of our own, to restart ---- */

/* Start redis-server on sock; with aof, every write is fsynced to an
 * append-only file in $RA_TEST_DIR, so a SIGKILL loses nothing. */
static pid_t
redis_start(const char *sock, bool aof)
{
	const char *server = getenv("REDIS_SERVER");
	const char *dir = getenv("RA_TEST_DIR");
	redisContext *rc;
	pid_t pid;
	int i;

	ck_assert_ptr_nonnull(dir);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execlp(server != NULL ? server : "redis-server", "redis-server",
		    "--port", "0", "--unixsocket", sock, "--dir", dir,
		    "--save", "", "--appendonly", aof ? "yes" : "no",
		    "--appendfsync", "always", "--appenddirname", "queue-aof",
		    "--logfile", "/dev/null", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		rc = redisConnectUnix(sock);
		if (rc != NULL && rc->err == 0) {
			redisReply *r = redisCommand(rc, "PING");
			bool up = r != NULL && r->type == REDIS_REPLY_STATUS;

			if (r != NULL)
				freeReplyObject(r);
			redisFree(rc);
			if (up)
				return pid;
		} else if (rc != NULL)
			redisFree(rc);
		msleep(25);
	}
	ck_abort_msg("redis-server did not start on %s", sock);
	return -1;
}

/* Ids of clients blocked in BLPOP on the Redis at sock. */
static int
blocked_clients(const char *sock, long long *ids, int max)
{
	redisContext *rc = redisConnectUnix(sock);
	redisReply *r;
	const char *p;
	int n = 0;

	ck_assert_int_eq(rc->err, 0);
	r = redisCommand(rc, "CLIENT LIST");
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	for (p = r->str; p != NULL && *p != '\0' && n < max; ) {
		const char *eol = strchr(p, '\n');
		const char *cmd = strstr(p, " cmd=blpop");

		if (cmd != NULL && (eol == NULL || cmd < eol) &&
		    strncmp(p, "id=", 3) == 0)
			ids[n++] = atoll(p + 3);
		p = eol != NULL ? eol + 1 : NULL;
	}
	freeReplyObject(r);
	redisFree(rc);
	return n;
}

/* Wait until a worker blocks on the Redis at sock; returns its ids. */
static int
wait_blocked(const char *sock, long long *ids, int max)
{
	int i, n = 0;

	for (i = 0; i < 250 && (n = blocked_clients(sock, ids, max)) == 0; i++)
		msleep(20);
	ck_assert_int_gt(n, 0);
	return n;
}

/* Submit (retrying while the connection recovers) and wait. */
static void
submit_and_wait(struct ra_queue *q, struct ra_context *ctx, const char *name,
    const char *id, const char *want)
{
	struct ra_task_result res;
	int i;

	for (i = 0; i < 5; i++) {
		if (ra_queue_submit(q, ctx, name, id, "z", 1, 20) == 0)
			break;
		msleep(100);
	}
	ck_assert_msg(i < 5, "submit: %s", ctx->errstr);
	ck_assert_msg(ra_queue_wait(q, ctx, name, id, 15, 0, &res) == 0,
	    "wait %s: %s", id, ctx->errstr);
	ck_assert_int_eq(res.state, RA_TASK_DONE);
	ck_assert_str_eq(res.data, want);
	ra_task_result_deinit(&res);
}

START_TEST(test_redis_restart)
{
	char sock[512];
	struct ra_options opt = { 0 };
	struct ra_context *ctx;
	struct ra_queue *q = test_queue(1, 3), *wq = test_queue(1, 3);
	struct ra_queue_workers *w;
	long long ids[8];
	pid_t pid;
	int status;

	snprintf(sock, sizeof sock, "%s/queue-restart.sock",
	    getenv("RA_TEST_DIR"));
	pid = redis_start(sock, false);
	opt.path = sock;
	ctx = ra_connect(&opt);
	ck_assert_int_eq(ctx->err, 0);
	ra_queue_register(wq, "echo", fn_echo, s_w);
	w = start_workers(wq, sock, "echo", 1);
	submit_and_wait(q, ctx, "echo", "before", "w:z");
	wait_blocked(sock, ids, 8);
	/* crash Redis while the worker blocks, start it again */
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	msleep(300);
	pid = redis_start(sock, false);
	submit_and_wait(q, ctx, "echo", "after", "w:z");
	ra_queue_workers_stop(w);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	ra_queue_destroy(q);
	ra_queue_destroy(wq);
	ra_free(ctx);
}
END_TEST

/* A submitter waiting in another thread across a Redis restart. */
struct waiter {
	const char		*sock;		/* (ref) Redis socket */
	struct ra_queue		*q;		/* (ref) */
	int			 rc;		/* ra_queue_wait's */
	int			 err;		/* its ctx->err */
	struct ra_task_result	 res;		/* its result */
};

static void *
waiter_main(void *arg)
{
	struct waiter *wt = arg;
	struct ra_options opt = { 0 };
	struct ra_context *ctx;

	opt.path = wt->sock;
	ctx = ra_connect(&opt);
	wt->rc = ra_queue_wait(wt->q, ctx, "echo", "r1", 20, 0, &wt->res);
	wt->err = ctx->err;
	ra_free(ctx);
	return NULL;
}

START_TEST(test_wait_across_restart)
{
	char sock[512];
	struct ra_options opt = { 0 };
	struct ra_context *ctx;
	struct ra_queue *q = test_queue(1, 3), *wq = test_queue(1, 3);
	struct ra_queue_workers *w;
	struct waiter wt;
	long long ids[8];
	pthread_t th;
	pid_t pid;
	int status;

	snprintf(sock, sizeof sock, "%s/queue-aof.sock",
	    getenv("RA_TEST_DIR"));
	pid = redis_start(sock, true);
	opt.path = sock;
	ctx = ra_connect(&opt);
	ck_assert_int_eq(ctx->err, 0);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "echo", "r1", "z", 1, 30), 0);
	memset(&wt, 0, sizeof wt);
	wt.sock = sock;
	wt.q = q;
	ck_assert_int_eq(pthread_create(&th, NULL, waiter_main, &wt), 0);
	wait_blocked(sock, ids, 8);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	msleep(500);
	pid = redis_start(sock, true);	/* the pending task comes back */
	ra_queue_register(wq, "echo", fn_echo, s_w);
	w = start_workers(wq, sock, "echo", 1);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_msg(wt.rc == 0, "wait: %s", ra_strerror(wt.err));
	ck_assert_int_eq(wt.res.state, RA_TASK_DONE);
	ck_assert_str_eq(wt.res.data, "w:z");
	ra_task_result_deinit(&wt.res);
	ra_queue_workers_stop(w);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	ra_queue_destroy(q);
	ra_queue_destroy(wq);
	ra_free(ctx);
}
END_TEST

START_TEST(test_client_unblock)
{
	struct ra_context *ctx = tu_connect();
	struct ra_queue_conf c;
	struct ra_queue *q = test_queue(1, 3), *wq;
	struct ra_queue_workers *w;
	long long ids[8];
	redisContext *rc;
	redisReply *r;
	int i, n, round;

	ra_queue_conf_init(&c);
	c.poll = 5;		/* workers block long: UNBLOCK ends it */
	wq = ra_queue_create(&c, NULL);
	ra_queue_register(wq, "echo", fn_echo, s_u);
	w = start_workers(wq, NULL, "echo", 1);
	rc = tu_redis();
	for (round = 0; round < 2; round++) {
		n = wait_blocked(tu_redis_socket(), ids, 8);
		for (i = 0; i < n; i++) {
			r = redisCommand(rc, "CLIENT UNBLOCK %lld ERROR",
			    ids[i]);
			ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
			ck_assert_int_eq(r->integer, 1);
			freeReplyObject(r);
		}
		submit_and_wait(q, ctx, "echo", round ? "u2" : "u1", "u:z");
	}
	redisFree(rc);
	ra_queue_workers_stop(w);
	ra_queue_destroy(q);
	ra_queue_destroy(wq);
	ra_free(ctx);
}
END_TEST

/* Connect a raw hiredis context to the Redis at sock. */
static redisContext *
sock_redis(const char *sock)
{
	redisContext *rc = redisConnectUnix(sock);

	ck_assert_ptr_nonnull(rc);
	ck_assert_msg(rc->err == 0, "connect %s: %s", sock, rc->errstr);
	return rc;
}

/* Run one command that answers +OK on the Redis at sock. */
static void
sock_ok(const char *sock, const char *cmd)
{
	redisContext *rc = sock_redis(sock);
	redisReply *r = redisCommand(rc, cmd);

	ck_assert_ptr_nonnull(r);
	ck_assert_msg(r->type == REDIS_REPLY_STATUS, "%s: %s", cmd,
	    r->type == REDIS_REPLY_ERROR ? r->str : "not OK");
	freeReplyObject(r);
	redisFree(rc);
}

/* SIGKILL the Redis at sock (pid *pid) and start it again (with aof,
 * everything written is back). */
static void
redis_restart(const char *sock, pid_t *pid, bool aof)
{
	int status;

	kill(*pid, SIGKILL);
	ck_assert_int_eq(waitpid(*pid, &status, 0), *pid);
	*pid = redis_start(sock, aof);
}

START_TEST(test_first_call_after_restart)
{
	char sock[512];
	const char *names[1] = { "fresh" };
	struct ra_options opt = { 0 };
	struct ra_context *ctx;
	struct ra_queue *q = test_queue(5, 3);
	struct ra_queue_reap_stats st;
	struct ra_task_result res;
	struct ra_strlist ids;
	struct ra_task t;
	enum ra_task_state was;
	unsigned long long total;
	pid_t pid;
	int status;

	snprintf(sock, sizeof sock, "%s/queue-fresh.sock",
	    getenv("RA_TEST_DIR"));
	pid = redis_start(sock, true);
	sock_ok(sock, "FLUSHALL");	/* the aof dir is shared */
	opt.path = sock;
	ctx = ra_connect(&opt);
	ck_assert_int_eq(ctx->err, 0);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "fresh", "a", "1", 1, 0), 0);
	/* each call below is the first on ctx since Redis restarted */
	redis_restart(sock, &pid, true);
	ck_assert_msg(ra_queue_submit(q, ctx, "fresh", "b", "2", 1, 0) == 0,
	    "submit: %s", ctx->errstr);
	redis_restart(sock, &pid, true);
	ck_assert_msg(ra_queue_status(q, ctx, "fresh", "a", 0, &res) == 0,
	    "status: %s", ctx->errstr);
	ck_assert_int_eq(res.state, RA_TASK_PENDING);
	ra_task_result_deinit(&res);
	redis_restart(sock, &pid, true);
	ck_assert_msg(ra_queue_cancel(q, ctx, "fresh", "b", &was) == 0,
	    "cancel: %s", ctx->errstr);
	ck_assert_int_eq(was, RA_TASK_PENDING);
	redis_restart(sock, &pid, true);
	ck_assert_msg(ra_queue_dead(q, ctx, "fresh", 0, 10, &ids, &total) == 0,
	    "dead: %s", ctx->errstr);
	ck_assert_int_eq(total, 0);
	ra_strlist_deinit(&ids);
	redis_restart(sock, &pid, true);
	ck_assert_msg(ra_queue_reap(q, ctx, "fresh", &st) == 0, "reap: %s",
	    ctx->errstr);
	ck_assert_int_eq(ra_queue_take(q, ctx, names, 1, 1, &t), 0);
	ck_assert_str_eq(t.id, "a");
	redis_restart(sock, &pid, true);
	ck_assert_msg(ra_queue_heartbeat(q, ctx, &t) == 0, "heartbeat: %s",
	    ctx->errstr);
	redis_restart(sock, &pid, true);
	ck_assert_msg(ra_task_progress(&t, 1, 2) == 0, "progress: %s",
	    t.errstr);
	redis_restart(sock, &pid, true);
	ck_assert_msg(ra_queue_complete(q, ctx, &t) == 0, "complete: %s",
	    ctx->errstr);
	ra_task_deinit(&t);
	ck_assert_int_eq(ra_queue_status(q, ctx, "fresh", "a", 0, &res), 0);
	ck_assert_int_eq(res.state, RA_TASK_DONE);
	ra_task_result_deinit(&res);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	ra_queue_destroy(q);
	ra_free(ctx);
}
END_TEST

#define BULK_LIMIT	(2 * 1024 * 1024)	/* the test's proto-max-bulk-len */

/* Returns a result one byte over BULK_LIMIT. */
static int
fn_big(struct ra_task *t, void *arg)
{
	return ra_task_set_result(t, arg, BULK_LIMIT + 1);
}

START_TEST(test_payload_over_bulk_limit)
{
	char sock[512];
	const char *names[1] = { "bulk" };
	struct ra_options opt = { 0 };
	struct ra_context *ctx;
	struct ra_queue *q = test_queue(5, 1), *wq = test_queue(5, 1);
	struct ra_queue_workers *w;
	struct ra_task_result res;
	struct ra_task t;
	redisContext *rc;
	redisReply *r;
	char *big;
	long long id;
	pid_t pid;
	int status;

	ck_assert_ptr_nonnull(big = malloc(BULK_LIMIT + 1));
	memset(big, 'b', BULK_LIMIT + 1);
	snprintf(sock, sizeof sock, "%s/queue-bulk.sock",
	    getenv("RA_TEST_DIR"));
	pid = redis_start(sock, false);
	sock_ok(sock, "CONFIG SET proto-max-bulk-len 2097152");
	opt.path = sock;
	ctx = ra_connect(&opt);
	ck_assert_int_eq(ctx->err, 0);
	id = client_id(ctx);
	/* one byte over: refused before sending, the connection stays */
	ck_assert_int_eq(ra_queue_submit(q, ctx, "bulk", "b1", big,
	    BULK_LIMIT + 1, 0), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_msg(strstr(ctx->errstr, "payload of 2097153 bytes over the "
	    "server's limit of 2097152") != NULL, "%s", ctx->errstr);
	ck_assert_int_eq(client_id(ctx), id);
	rc = sock_redis(sock);
	r = redisCommand(rc, "DBSIZE");
	ck_assert_int_eq(r->integer, 0);
	freeReplyObject(r);
	redisFree(rc);
	/* at the limit: queued and delivered whole */
	ck_assert_msg(ra_queue_submit(q, ctx, "bulk", "b1", big, BULK_LIMIT,
	    0) == 0, "submit: %s", ctx->errstr);
	ck_assert_int_eq(ra_queue_take(q, ctx, names, 1, 1, &t), 0);
	ck_assert_int_eq(t.payload_len, BULK_LIMIT);
	/* a result over it: refused, the task still runs */
	ck_assert_int_eq(ra_task_set_result(&t, big, BULK_LIMIT + 1), 0);
	ck_assert_int_eq(ra_queue_complete(q, ctx, &t), -1);
	ck_assert_int_eq(ctx->err, RA_ERR_BAD_ARGUMENT);
	ck_assert_msg(strstr(ctx->errstr, "result of 2097153 bytes") != NULL,
	    "%s", ctx->errstr);
	ck_assert_int_eq(client_id(ctx), id);
	ck_assert_int_eq(ra_queue_status(q, ctx, "bulk", "b1", 0, &res), 0);
	ck_assert_int_eq(res.state, RA_TASK_RUNNING);
	ra_task_result_deinit(&res);
	ck_assert_int_eq(ra_task_set_result(&t, "ok", 2), 0);
	ck_assert_int_eq(ra_queue_complete(q, ctx, &t), 0);
	ra_task_deinit(&t);
	/* a worker whose function returns too much fails the run with
	 * the reason */
	ra_queue_register(wq, "bulk", fn_big, big);
	w = start_workers(wq, sock, "bulk", 1);
	ck_assert_int_eq(ra_queue_submit(q, ctx, "bulk", "b2", "", 0, 0), 0);
	ck_assert_msg(ra_queue_wait(q, ctx, "bulk", "b2", 10, 0, &res) == 0,
	    "wait: %s", ctx->errstr);
	ck_assert_int_eq(res.state, RA_TASK_FAILED);
	ck_assert_msg(strstr(res.error, "result of 2097153 bytes over the "
	    "server's limit of 2097152") != NULL, "%s", res.error);
	ra_task_result_deinit(&res);
	ra_queue_workers_stop(w);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	free(big);
	ra_queue_destroy(q);
	ra_queue_destroy(wq);
	ra_free(ctx);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("redis");

	/* sync hiredis connections write to sockets a restart closes */
	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 40);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_policy_local);
	tcase_add_test(tc, test_policy_remote);
	tcase_add_test(tc, test_policy_local_first);
	tcase_add_test(tc, test_policy_remote_first);
	tcase_add_test(tc, test_policy_auto);
	tcase_add_test(tc, test_stats_after_stop);
	tcase_add_test(tc, test_sigkill_redelivered_once);
	tcase_add_test(tc, test_retry_dead_letter_requeue);
	tcase_add_test(tc, test_retry_jitter_per_handle);
	tcase_add_test(tc, test_progress_visible);
	tcase_add_test(tc, test_progress_after_deadline);
	tcase_add_test(tc, test_deadline_fails_at_once);
	tcase_add_test(tc, test_dead_letter_expires);
	tcase_add_test(tc, test_result_ttl_and_delete);
	tcase_add_test(tc, test_fifo_per_name);
	tcase_add_test(tc, test_no_result_is_done);
	tcase_add_test(tc, test_pool_serves_names);
	tcase_add_test(tc, test_expired_lease_not_owned);
	tcase_add_test(tc, test_wait_longer_than_socket_timeout);
	tcase_add_test(tc, test_redis_restart);
	tcase_add_test(tc, test_wait_across_restart);
	tcase_add_test(tc, test_client_unblock);
	tcase_add_test(tc, test_first_call_after_restart);
	tcase_add_test(tc, test_payload_over_bulk_limit);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
