/*
 * queue_worker.c: worker threads for the task queue.  Each worker thread
 * has its own connection and loops take / run / complete; one more thread
 * heartbeats the running tasks' leases and keeps the pool registered as a
 * live worker of its names.  All of them reconnect with backoff, so the
 * pool keeps serving across Redis restarts and CLIENT UNBLOCK.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue_internal.h"

/* One worker thread and the task it runs. */
struct worker_slot {
	struct ra_queue_workers	*w;		/* (ref) its pool */
	pthread_t		 thread;	/* the worker thread */
	bool			 started;	/* thread was created */
	/* guarded by w->lock */
	bool			 busy;		/* a task is running */
	bool			 lost;		/* heartbeat got NOT_OWNED */
	char			*name;		/* owned copy while busy */
	char			*id;		/* owned copy while busy */
	char			 token[RA_TOKEN_LEN + 1]; /* its lease token */
};

struct ra_queue_workers {
	struct ra_queue		*q;		/* (ref) handle, functions */
	struct ra_private	 o;		/* owned copy of the options */
	char			**names;	/* owned, n names served */
	size_t			 n;
	struct worker_slot	*slots;		/* owned, nslots worker threads */
	unsigned		 nslots;
	pthread_t		 hb;		/* heartbeat thread */
	bool			 hb_started;	/* it was created */
	pthread_mutex_t		 lock;		/* guards what follows */
	pthread_cond_t		 cond;		/* broadcast on stop */
	bool			 stopping;	/* stop was asked */
	bool			 joined;	/* worker threads have ended: the
						   heartbeat thread may go */
	struct ra_queue_worker_stats stats;	/* counters */
};

/* Read a flag guarded by w->lock. */
static bool
workers_flag(struct ra_queue_workers *w, const bool *flag)
{
	bool s;

	pthread_mutex_lock(&w->lock);
	s = *flag;
	pthread_mutex_unlock(&w->lock);
	return s;
}

/* Sleep up to ns, waking early when *flag (guarded by w->lock) is set. */
static void
workers_wait(struct ra_queue_workers *w, const bool *flag, long long ns)
{
	struct timespec ts;
	long long at;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	at = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec + ns;
	ts.tv_sec = at / 1000000000LL;
	ts.tv_nsec = at % 1000000000LL;
	pthread_mutex_lock(&w->lock);
	while (!*flag &&
	    pthread_cond_timedwait(&w->cond, &w->lock, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&w->lock);
}

/* Publish the running task for the heartbeat thread. */
static void
slot_set(struct worker_slot *s, const struct ra_task *t)
{
	pthread_mutex_lock(&s->w->lock);
	s->name = strdup(t->name);
	s->id = strdup(t->id);
	memcpy(s->token, t->token, sizeof s->token);
	s->busy = s->name != NULL && s->id != NULL;
	s->lost = false;
	pthread_mutex_unlock(&s->w->lock);
}

/* The slot's task ended: the heartbeat thread leaves it alone. */
static void
slot_clear(struct worker_slot *s)
{
	pthread_mutex_lock(&s->w->lock);
	free(s->name);
	free(s->id);
	s->name = s->id = NULL;
	s->busy = false;
	pthread_mutex_unlock(&s->w->lock);
}

/* Add one to a counter of w->stats. */
static void
count(struct ra_queue_workers *w, unsigned long long *c)
{
	pthread_mutex_lock(&w->lock);
	(*c)++;
	pthread_mutex_unlock(&w->lock);
}

/* Run a taken task and report its outcome, retrying the report across
 * reconnects for as long as the lease could still be valid. */
static void
worker_run(struct worker_slot *s, struct ra_context *ctx, struct ra_task *t)
{
	struct ra_queue_workers *w = s->w;
	struct ra_queue *q = w->q;
	const struct queue_fn *f = queue_lookup(q, t->name);
	long long start, backoff = QUEUE_BACKOFF_MIN_NS;
	long long lease_ns = (long long)llround(q->conf.lease * 1e9);
	int rc, r;

	slot_set(s, t);
	if (f == NULL) {
		ra_task_set_error(t, "no function registered for %s", t->name);
		rc = -1;
	} else
		rc = f->fn(t, f->arg);
	slot_clear(s);
	start = queue_now_ns();
	for (;;) {
		r = rc == 0 ? ra_queue_complete(q, ctx, t) :
		    ra_queue_fail(q, ctx, t);
		if (r == 0) {
			count(w, rc == 0 ? &w->stats.done : &w->stats.failed);
			break;
		}
		if (ctx->err == RA_ERR_NOT_OWNED) {
			count(w, &w->stats.lost);
			break;
		}
		if (rc == 0 && ctx->err == RA_ERR_BAD_ARGUMENT) {
			/* a result Redis cannot take: the run failed */
			ra_task_set_error(t, "%s", ctx->errstr);
			rc = -1;
			continue;
		}
		if (!queue_conn_error(ctx) ||
		    queue_now_ns() - start > lease_ns)
			break;
		queue_backoff(ctx, &backoff, start + lease_ns);
	}
	ra_task_deinit(t);
}

/* A worker thread: take (blocking up to poll, so stop is seen), run,
 * report, until stop; its connection is its own. */
static void *
worker_main(void *arg)
{
	struct worker_slot *s = arg;
	struct ra_queue_workers *w = s->w;
	struct ra_context *ctx = NULL;
	struct ra_task t;

	while (!workers_flag(w, &w->stopping)) {
		if (ctx == NULL && (ctx = ra_connect(&w->o.opt)) == NULL) {
			workers_wait(w, &w->stopping, QUEUE_BACKOFF_MAX_NS);
			continue;
		}
		if (ra_queue_take(w->q, ctx, (const char *const *)w->names,
		    w->n, w->q->conf.poll, &t) != 0) {
			/* EMPTY: poll again; down: take already backed off */
			if (ctx->err != RA_ERR_EMPTY && !queue_conn_error(ctx))
				workers_wait(w, &w->stopping,
				    QUEUE_BACKOFF_MAX_NS);
			continue;
		}
		worker_run(s, ctx, &t);
	}
	ra_free(ctx);
	return NULL;
}

/* A running task the heartbeat thread renews. */
struct hb_item {
	char	*name;				/* owned */
	char	*id;				/* owned */
	char	 token[RA_TOKEN_LEN + 1];
	unsigned slot;				/* index in w->slots */
};

/* Renew the lease of every running task; mark the lost ones. */
static void
hb_renew(struct ra_queue_workers *w, struct ra_context *ctx)
{
	struct hb_item *items;
	unsigned i, n = 0;

	if ((items = calloc(w->nslots, sizeof *items)) == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	for (i = 0; i < w->nslots; i++) {
		struct worker_slot *s = &w->slots[i];

		if (!s->busy || s->lost)
			continue;
		items[n].name = strdup(s->name);
		items[n].id = strdup(s->id);
		memcpy(items[n].token, s->token, sizeof s->token);
		items[n].slot = i;
		if (items[n].name == NULL || items[n].id == NULL) {
			free(items[n].name);
			free(items[n].id);
			continue;
		}
		n++;
	}
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < n; i++) {
		if (queue_heartbeat_id(w->q, ctx, items[i].name, items[i].id,
		    items[i].token) != 0 && ctx->err == RA_ERR_NOT_OWNED) {
			struct worker_slot *s = &w->slots[items[i].slot];

			pthread_mutex_lock(&w->lock);
			if (s->busy && strcmp(s->token, items[i].token) == 0)
				s->lost = true;
			pthread_mutex_unlock(&w->lock);
		}
		free(items[i].name);
		free(items[i].id);
	}
	free(items);
}

/* The heartbeat thread: every lease / 3 renew the running tasks' leases
 * and the pool's worker registration (and reap); after the worker
 * threads ended, unregister and return. */
static void *
hb_main(void *arg)
{
	struct ra_queue_workers *w = arg;
	struct ra_context *ctx = NULL;
	long long interval = (long long)llround(w->q->conf.lease * 1e9 / 3);
	size_t i;

	while (!workers_flag(w, &w->joined)) {
		if (ctx == NULL && (ctx = ra_connect(&w->o.opt)) == NULL) {
			workers_wait(w, &w->joined, QUEUE_BACKOFF_MAX_NS);
			continue;
		}
		if (ra_fresh(ctx) != 0) {
			workers_wait(w, &w->joined,
			    interval < QUEUE_BACKOFF_MAX_NS ? interval :
			    QUEUE_BACKOFF_MAX_NS);
			continue;
		}
		hb_renew(w, ctx);
		for (i = 0; i < w->n; i++)
			if (queue_reap_name(w->q, ctx, w->names[i],
			    queue_worker_ttl_ms(w->q), NULL, NULL) != 0 &&
			    queue_conn_error(ctx))
				break;
		workers_wait(w, &w->joined, interval);
	}
	/* leave the registry so Auto stops sending work here */
	if (ctx != NULL) {
		for (i = 0; i < w->n; i++)
			if (queue_reap_name(w->q, ctx, w->names[i], 0, NULL,
			    NULL) != 0 && queue_conn_error(ctx))
				break;
	}
	ra_free(ctx);
	return NULL;
}

/* Free a pool whose threads are not running. */
static void
workers_free(struct ra_queue_workers *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		free(w->names[i]);
	free(w->names);
	free(w->slots);
	ra_options_free(&w->o);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

static int workers_spawn(struct ra_queue_workers *w, unsigned threads,
    char *errstr);

struct ra_queue_workers *
ra_queue_workers_start(struct ra_queue *q, const struct ra_options *opt,
    const char *const *names, size_t n, unsigned threads, char *errstr)
{
	struct ra_queue_workers *w;
	pthread_condattr_t ca;
	sigset_t pipe_set, old_set;
	char buf[RA_ERRSTR_LEN];
	size_t i;
	int err;

	if (errstr == NULL)
		errstr = buf;
	if (q == NULL || opt == NULL || names == NULL || n == 0 || n > 64 ||
	    threads == 0 || threads > 1024) {
		snprintf(errstr, RA_ERRSTR_LEN, "bad arguments: 1 to 64 names "
		    "and 1 to 1024 threads are needed");
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (queue_check_name(names[i], &err, errstr) != 0)
			return NULL;
	if ((w = calloc(1, sizeof *w)) == NULL)
		goto fail_oom;
	w->q = q;
	if (pthread_mutex_init(&w->lock, NULL) != 0) {
		free(w);
		goto fail_oom;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	err = pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (err != 0) {
		pthread_mutex_destroy(&w->lock);
		free(w);
		goto fail_oom;
	}
	if (ra_options_copy(&w->o, opt) != 0 ||
	    (w->names = calloc(n, sizeof *w->names)) == NULL ||
	    (w->slots = calloc(threads, sizeof *w->slots)) == NULL) {
		workers_free(w);
		goto fail_oom;
	}
	for (i = 0; i < n; i++) {
		if ((w->names[i] = strdup(names[i])) == NULL) {
			workers_free(w);
			goto fail_oom;
		}
		w->n++;
	}
	w->nslots = threads;
	/*
	 * Our threads write to sockets Redis may close: block SIGPIPE in
	 * them (they inherit this mask) so a restart gives EPIPE, not a
	 * dead process.
	 */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
	err = workers_spawn(w, threads, errstr);
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	return err == 0 ? w : NULL;

fail_oom:
	snprintf(errstr, RA_ERRSTR_LEN, "out of memory");
	return NULL;
}

/* Create the worker threads and the heartbeat thread; on failure stop
 * (and free) the pool and return -1. */
static int
workers_spawn(struct ra_queue_workers *w, unsigned threads, char *errstr)
{
	unsigned i;

	for (i = 0; i < threads; i++) {
		w->slots[i].w = w;
		if (pthread_create(&w->slots[i].thread, NULL, worker_main,
		    &w->slots[i]) != 0) {
			snprintf(errstr, RA_ERRSTR_LEN, "cannot start thread");
			ra_queue_workers_stop(w);
			return -1;
		}
		w->slots[i].started = true;
	}
	if (pthread_create(&w->hb, NULL, hb_main, w) != 0) {
		snprintf(errstr, RA_ERRSTR_LEN, "cannot start thread");
		ra_queue_workers_stop(w);
		return -1;
	}
	w->hb_started = true;
	return 0;
}

void
ra_queue_workers_stats(struct ra_queue_workers *w,
    struct ra_queue_worker_stats *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->stats;
	pthread_mutex_unlock(&w->lock);
}

void
ra_queue_workers_stop(struct ra_queue_workers *w)
{
	ra_queue_workers_stop_stats(w, NULL);
}

void
ra_queue_workers_stop_stats(struct ra_queue_workers *w,
    struct ra_queue_worker_stats *out)
{
	unsigned i;

	if (out != NULL)
		memset(out, 0, sizeof *out);
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < w->nslots; i++)
		if (w->slots[i].started)
			pthread_join(w->slots[i].thread, NULL);
	/* the heartbeat thread renewed leases until now; let it go */
	pthread_mutex_lock(&w->lock);
	w->joined = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (w->hb_started)
		pthread_join(w->hb, NULL);
	/* every thread has ended: the counts are final, the tasks that
	 * finished during the stop included */
	if (out != NULL)
		*out = w->stats;
	workers_free(w);
}
