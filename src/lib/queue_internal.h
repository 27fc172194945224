/*
 * queue_internal.h: what queue.c shares with the worker threads of
 * queue_worker.c; callers of the library never see it.
 */
#ifndef QUEUE_INTERNAL_H
#define QUEUE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "ra_internal.h"

#define QUEUE_WAKE_CAP		1024	/* wake-up tokens kept per name */
#define QUEUE_BACKOFF_MIN_NS	50000000LL	/* first reconnect delay */
#define QUEUE_BACKOFF_MAX_NS	1000000000LL	/* longest reconnect delay */
/* Redis' proto-max-bulk-len: the longest payload or result it accepts is
 * the server's setting, 512 MB by default and never under 1 MB. */
#define QUEUE_BULK_DEFAULT	(512ULL * 1024 * 1024)
#define QUEUE_BULK_MIN		(1024 * 1024)

/* A function registered for a queue name. */
struct queue_fn {
	char		*name;		/* owned */
	ra_task_fn	*fn;		/* runs a task of that name */
	void		*arg;		/* (ref) its argument */
};

struct ra_queue {
	struct ra_queue_conf	 conf;		/* defaults filled in */
	struct queue_fn		*fns;		/* owned, nfns entries */
	size_t			 nfns;
	char			 worker_id[RA_KEY_MAX + 1]; /* host:pid:random */
	pthread_mutex_t		 lock;		/* guards the fields below */
	long long		 last_reap_ns;	/* monotonic, last take reap */
	uint64_t		 rng;		/* xorshift state for jitter */
};

/* Monotonic clock in nanoseconds. */
long long	queue_now_ns(void);
/* Sleep ns nanoseconds (restarted on EINTR). */
void		queue_sleep_ns(long long ns);
/* The function registered for name, or NULL. */
const struct queue_fn *queue_lookup(const struct ra_queue *q,
		    const char *name);
/* Validate a queue name: a key (1..RA_KEY_MAX bytes) without braces. */
int		queue_check_name(const char *name, int *err, char *errstr);
/* True when ctx->err says the connection is gone (reconnect and retry). */
bool		queue_conn_error(const struct ra_context *ctx);
/* Extend a lease (or NOT_OWNED) without a struct ra_task. */
int		queue_heartbeat_id(struct ra_queue *q, struct ra_context *ctx,
		    const char *name, const char *id, const char *token);
/* Reap one name, registering the worker id for ttl_ms (0: unregister,
 * -1: do not touch the registry). */
int		queue_reap_name(struct ra_queue *q, struct ra_context *ctx,
		    const char *name, long long ttl_ms,
		    struct ra_queue_reap_stats *out, long long *next_due_ms);
/* Sleep the next reconnect backoff (bounded by deadline_ns, 0 = none)
 * and reconnect, keeping ctx->err; *backoff doubles up to
 * QUEUE_BACKOFF_MAX_NS. */
void		queue_backoff(struct ra_context *ctx, long long *backoff,
		    long long deadline_ns);
/* How long a worker registration lives, ms. */
long long	queue_worker_ttl_ms(const struct ra_queue *q);

#endif /* QUEUE_INTERNAL_H */
