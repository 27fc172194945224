/*
 * redis_allocator.h: libredisallocator, the public API.
 *
 * A resource allocator (exclusive and shared leases, priority, soft binding,
 * garbage collection, health state), a distributed lock and a task queue,
 * all kept in one Redis; every state change is one atomic Lua script.
 *
 * Error contract (hiredis style): functions return 0 on success and -1 on
 * failure, or a pointer / NULL; the context then carries err (an enum
 * ra_error) and errstr (a human readable message).  Results that are not
 * failures of the library but answers of the allocator (the pool is empty,
 * the token is stale) are distinct err codes too, so callers switch on err.
 *
 * Times: every TTL is in seconds as a double (fractions accepted, rounded
 * to milliseconds); every absolute time returned is in milliseconds of the
 * Redis server's clock (TIME), never the caller's.
 */
#ifndef REDIS_ALLOCATOR_H
#define REDIS_ALLOCATOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RA_ERRSTR_LEN	128
#define RA_TOKEN_LEN	32	/* hex digits in a lease token */
#define RA_KEY_MAX	1024	/* longest item, pool or name, in bytes */
#define RA_BATCH_DEFAULT 128	/* items one call may touch (bulk calls
				 * are given half: about 1 ms of Redis time) */
#define RA_TTL_DEFAULT	(-1.0)	/* "use the pool's default" */
/* The longest TTL, expiry, quarantine or lock wait any call accepts, in
 * seconds: 10 years of 365 days.  The functions library refuses longer
 * durations too (MS_MAX in lua/common.lua, in ms), so a caller checking
 * against it sees BAD_ARGUMENT before anything is sent. */
#define RA_TTL_MAX	315360000.0

/* What went wrong; 0 is success.  ra_strerror() gives the code word. */
enum ra_error {
	RA_OK = 0,
	RA_ERR_IO,		/* socket error, connection closed */
	RA_ERR_PROTOCOL,	/* Redis answered something unexpected */
	RA_ERR_BACKEND_DOWN,	/* Redis unreachable, loading or read-only */
	RA_ERR_TIMEOUT,		/* deadline passed */
	RA_ERR_OOM,		/* out of memory */
	RA_ERR_BAD_ARGUMENT,	/* bad key, TTL, option: nothing changed */
	RA_ERR_NO_SUCH_POOL,	/* the pool was never created or is gone */
	RA_ERR_EMPTY,		/* no item can be leased now */
	RA_ERR_NOT_OWNED,	/* stale token or other owner: nothing changed */
	RA_ERR_BUSY,		/* lock held by another owner */
	RA_ERR_NOT_FOUND,	/* no such item, binding, task */
	RA_ERR_SCRIPT,		/* a script failed in an unexpected way */
	RA_ERR__COUNT
};

/* The code word of an error ("NOT_OWNED"), never NULL. */
const char *ra_strerror(int err);

/* ------------------------------------------------------------------ */
/* Connection                                                           */
/* ------------------------------------------------------------------ */

/* How to reach Redis.  Zeroed fields take defaults. */
struct ra_options {
	const char	*host;		/* TCP host; NULL with path set */
	int		 port;		/* TCP port, default 6379 */
	const char	*path;		/* UNIX socket path, or NULL */
	struct timeval	 connect_timeout; /* 0: wait as long as the OS does */
	struct timeval	 command_timeout; /* 0: no timeout */
	const char	*username;	/* ACL user, or NULL */
	const char	*password;	/* AUTH password, or NULL */
	int		 db;		/* SELECT this database */
	const char	*prefix;	/* key prefix, default "ra" */
	unsigned	 batch;		/* max items per script call */
};

/* Parse "redis://[[user]:pass@]host[:port][/db]" or "unix:///path[?db=N]"
 * into opt; strings point into buf (size buflen), which must outlive opt.
 * Returns 0, or -1 with a message in err. */
int	ra_options_parse_url(struct ra_options *opt, const char *url,
	    char *buf, size_t buflen, char *err, size_t errlen);

struct ra_private;

/* A synchronous connection.  Public fields are read-only for callers. */
struct ra_context {
	int			 err;	/* enum ra_error of the last call */
	char			 errstr[RA_ERRSTR_LEN]; /* its message */
	redisContext		*rc;	/* owned; NULL while disconnected */
	struct ra_private	*priv;	/* owned: options, prefix, buffers */
};

/*
 * Connect, authenticate, select the database and make sure Redis has the
 * functions library of this version (redisallocator_N, Redis >= 7.0).
 * Returns NULL only when out of memory; otherwise check ctx->err (like
 * hiredis) and call ra_reconnect() later or ra_free().
 */
struct ra_context *ra_connect(const struct ra_options *opt);
int	ra_reconnect(struct ra_context *ctx);
void	ra_free(struct ra_context *ctx);

/* The key prefix in use ("ra" by default). */
const char *ra_prefix(const struct ra_context *ctx);

/* Load the functions library unless Redis has it (done on connect, and
 * once more by any call that finds its function missing). */
int	ra_load_functions(struct ra_context *ctx);
/* The same, under its name of the EVALSHA versions. */
int	ra_load_scripts(struct ra_context *ctx);

/* A list of strings owned by the caller, freed with ra_strlist_deinit. */
struct ra_strlist {
	char	**v;		/* n strings, each malloc'd */
	size_t	  n;
};
void	ra_strlist_deinit(struct ra_strlist *l);

/* ------------------------------------------------------------------ */
/* Resource allocator                                                   */
/* ------------------------------------------------------------------ */

/* Settings of a pool, stored in Redis so every client shares them. */
struct ra_pool_conf {
	int		shared;		/* leases are shared by default */
	unsigned	max_shares;	/* holders per item, 0 = unlimited */
	double		lease_ttl;	/* default lease TTL, s (> 0) */
	double		bind_ttl;	/* default binding TTL, s, 0 = forever */
	/* passive ejection (Envoy outlier detection model) */
	unsigned	eject_failures;	/* consecutive failures, 0 = off */
	double		eject_base;	/* quarantine = base * n, s */
	double		eject_max;	/* cap on one quarantine, s */
	unsigned	eject_max_percent; /* max share quarantined at once */
	double		ban_time;	/* quarantine after BANNED, s */
};

/* Fill c with the defaults: exclusive, lease_ttl 60, bind_ttl 3600,
 * eject after 5 failures, base 30 s, max 300 s, 50 %, ban 600 s. */
void	ra_pool_conf_init(struct ra_pool_conf *c);

/* Create the pool or update its settings; items are kept. */
int	ra_pool_create(struct ra_context *ctx, const char *pool,
	    const struct ra_pool_conf *conf);
/* Read a pool's settings; RA_ERR_NO_SUCH_POOL if it does not exist. */
int	ra_pool_get(struct ra_context *ctx, const char *pool,
	    struct ra_pool_conf *conf);
/* Delete a pool: free items go now, leased items when released. */
int	ra_pool_delete(struct ra_context *ctx, const char *pool);
/* Names of all pools. */
int	ra_pools(struct ra_context *ctx, struct ra_strlist *out);

/* One item to add.  Items are any byte strings without NUL, 1..1024 bytes. */
struct ra_item {
	const char	*key;		/* the item (a proxy URL for proxypoold) */
	int		 priority;	/* static class, lower is leased first */
	double		 expires;	/* leaves the pool after s; 0 = never */
};

/* Add or update items (chunked: no script touches more than batch). */
int	ra_add(struct ra_context *ctx, const char *pool,
	    const struct ra_item *items, size_t n);
/* Remove items: free ones at once, leased ones when released. */
int	ra_remove(struct ra_context *ctx, const char *pool,
	    const char *const *keys, size_t n);
/* Make the pool hold exactly these items (add, update, drain the rest). */
int	ra_assign(struct ra_context *ctx, const char *pool,
	    const struct ra_item *items, size_t n);
/* Remove every item: free ones at once, leased ones when released. */
int	ra_clear(struct ra_context *ctx, const char *pool);

/* The state of one item. */
enum ra_state {
	RA_STATE_ANY = 0,	/* filter only: every state */
	RA_STATE_FREE,
	RA_STATE_LEASED,	/* exclusive lease */
	RA_STATE_SHARED,	/* 1..max_shares holders */
	RA_STATE_QUARANTINED,
	RA_STATE_DRAINING,	/* removed, leaves when released */
	RA_STATE__COUNT
};
const char *ra_state_name(enum ra_state s);	/* "free", "leased"... */
/* Parse a state name; returns -1 for an unknown name. */
int	ra_state_parse(const char *name);

/* What LIST tells about an item. */
struct ra_item_info {
	char		*key;		/* owned */
	enum ra_state	 state;
	int		 priority;	/* static class */
	int		 holders;	/* leases held on it now */
	long long	 expires_ms;	/* item expiry, 0 = never */
	long long	 until_ms;	/* end of quarantine, 0 = none */
	unsigned	 failures;	/* consecutive failures */
	unsigned	 ejections;	/* ejections in a row */
	double		 latency_ms;	/* moving average, 0 = unknown */
};

struct ra_list {
	struct ra_item_info	*items;	/* n entries, owned */
	size_t			 n;
	unsigned long long	 cursor; /* pass back; 0 = done */
};
void	ra_list_deinit(struct ra_list *l);

/* One page of a pool (HSCAN-like: cursor 0 starts, 0 returned ends). */
int	ra_list(struct ra_context *ctx, const char *pool,
	    enum ra_state filter, unsigned long long cursor, unsigned count,
	    struct ra_list *out);

/* Items per state, O(1) whatever the pool size. */
struct ra_counts {
	long long	total;		/* items in the pool */
	long long	free;
	long long	leased;		/* items with an exclusive lease */
	long long	shared;		/* items with shared holders */
	long long	quarantined;
	long long	draining;
	long long	leases;		/* leases held (shared count each) */
	long long	bindings;
};
int	ra_counts(struct ra_context *ctx, const char *pool,
	    struct ra_counts *out);

/* A lease request. */
struct ra_lease_req {
	const char	*name;		/* soft binding name, or NULL */
	double		 ttl;		/* lease TTL, RA_TTL_DEFAULT: pool's */
	double		 bind_ttl;	/* binding TTL, RA_TTL_DEFAULT: pool's */
	int		 shared;	/* -1 pool default, 0 exclusive, 1 */
	const char	*holder;	/* who holds it (for LIST), or NULL */
};
void	ra_lease_req_init(struct ra_lease_req *req);

/* A granted lease. */
struct ra_lease {
	char		*item;		/* owned: the leased item */
	char		 token[RA_TOKEN_LEN + 1]; /* renew/release with this */
	long long	 expires_ms;	/* lease end, Redis clock */
	long long	 fence;		/* grows with every grant in the pool */
	int		 shared;	/* a shared lease */
	int		 bound;		/* the name's bound item was returned */
};
void	ra_lease_deinit(struct ra_lease *l);

/* Lease an item: best priority class, then least recently used (shared:
 * then fewest holders).  RA_ERR_EMPTY when nothing is available. */
int	ra_lease(struct ra_context *ctx, const char *pool,
	    const struct ra_lease_req *req, struct ra_lease *out);
/* Extend a lease; RA_ERR_NOT_OWNED when the token is stale. */
int	ra_renew(struct ra_context *ctx, const char *pool, const char *token,
	    double ttl, long long *expires_ms);

/* How a leased item behaved. */
enum ra_outcome {
	RA_OUTCOME_NONE = 0,	/* nothing to say */
	RA_OUTCOME_OK,
	RA_OUTCOME_FAILED,
	RA_OUTCOME_BANNED,	/* the target banned it: long quarantine */
	RA_OUTCOME__COUNT
};
const char *ra_outcome_name(enum ra_outcome o);
int	ra_outcome_parse(const char *name);	/* -1 if unknown */

/* Release a lease with its outcome; latency_ms < 0 = unknown.  The _ex
 * form sets *until_ms to the end (ms) of the quarantine the outcome
 * earned the item when it ejected (FAILED) or banned (BANNED) it, else
 * to 0 (untouched when the call fails: -1). */
int	ra_release(struct ra_context *ctx, const char *pool,
	    const char *token, enum ra_outcome outcome, double latency_ms);
int	ra_release_ex(struct ra_context *ctx, const char *pool,
	    const char *token, enum ra_outcome outcome, double latency_ms,
	    long long *until_ms);
/* Report an item's outcome without a lease (passive health feedback);
 * _ex: as ra_release_ex. */
int	ra_report(struct ra_context *ctx, const char *pool, const char *item,
	    enum ra_outcome outcome, double latency_ms);
int	ra_report_ex(struct ra_context *ctx, const char *pool,
	    const char *item, enum ra_outcome outcome, double latency_ms,
	    long long *until_ms);
/* Keep an item from being leased for seconds (its leases stay valid; a
 * longer quarantine already running is kept); 0 ends a quarantine now. */
int	ra_quarantine(struct ra_context *ctx, const char *pool,
	    const char *item, double seconds);

/* Soft binding: name -> item with a TTL (0 = forever). */
int	ra_bind(struct ra_context *ctx, const char *pool, const char *name,
	    const char *item, double ttl);
/* Returns 1 if the name was bound, 0 if not, -1 on error. */
int	ra_unbind(struct ra_context *ctx, const char *pool, const char *name);
/* *item is NULL (and 0 returned) when the name is not bound. */
int	ra_binding(struct ra_context *ctx, const char *pool, const char *name,
	    char **item);
/* Names bound to an item. */
int	ra_bindings(struct ra_context *ctx, const char *pool, const char *item,
	    struct ra_strlist *names);

/* What a gc sweep reclaimed. */
struct ra_gc_stats {
	long long	leases;		/* expired leases returned */
	long long	bindings;	/* expired bindings removed */
	long long	items;		/* expired items removed */
	long long	quarantine;	/* items back from quarantine */
	int		more;		/* 1: stopped on the call's time budget
					 * (about 1 ms) with more due: call
					 * again */
};
/* Reclaim up to count of each kind now, within about 1 ms of Redis time
 * (the lease path does a little of this too). */
int	ra_gc(struct ra_context *ctx, const char *pool, unsigned count,
	    struct ra_gc_stats *out);

/* Walk the whole pool (bounded steps) and list every broken invariant
 * as a human readable line; an empty list means the pool is sound.  The
 * per-state counters are compared at the end of the walk: run it on a
 * quiet pool, or expect transient "counter" lines. */
int	ra_check_invariants(struct ra_context *ctx, const char *pool,
	    struct ra_strlist *violations);

/* ------------------------------------------------------------------ */
/* Health state                                                         */
/* ------------------------------------------------------------------ */

/*
 * Active health checks (proxypoold's prober) keep per item: a state (UP,
 * DOWN, or UNKNOWN until rise or fall results agree), consecutive
 * successes and failures, and the time of the next probe in a per-pool
 * ZSET of due times, claimed atomically so that several processes on one
 * Redis probe each item once per interval between them.  A DOWN item is
 * quarantined until it is UP again; the latency average gives the item a
 * latency sub-class under its static priority (faster leased first).
 */

/* What one probe concluded (the numbers of the plugin ABI's verdicts). */
enum ra_probe_verdict {
	RA_PROBE_UP = 0,
	RA_PROBE_WARN,		/* works, counts as a success */
	RA_PROBE_DOWN,
	RA_PROBE_UNKNOWN,	/* the check could not tell: counts nothing */
	RA_PROBE__COUNT
};
const char *ra_probe_verdict_name(enum ra_probe_verdict v); /* "UP"... */

/* Health state of an item. */
enum ra_health {
	RA_HEALTH_UNKNOWN = 0,	/* not yet rise successes or fall failures */
	RA_HEALTH_UP,
	RA_HEALTH_DOWN,
	RA_HEALTH__COUNT
};
const char *ra_health_name(enum ra_health h);	/* "unknown", "up"... */

/* How probe results turn into state (HAProxy model). */
struct ra_health_conf {
	unsigned	rise;		/* successes to go UP (default 2) */
	unsigned	fall;		/* failures to go DOWN (default 3) */
	double		inter;		/* s between probes (default 30) */
	double		fastinter;	/* s while changing state (inter) */
	double		downinter;	/* s while DOWN (inter) */
	double		jitter;		/* +- share of the interval (0.1) */
	double		latency_step;	/* ms per latency sub-class (100),
					 * 0 = latency does not rank */
	double		evict_after;	/* s DOWN before removal, 0 = never */
	int		end_quarantine;	/* a success ends an ejection (1) */
};
void	ra_health_conf_init(struct ra_health_conf *c);

/* What a probe result did. */
struct ra_health_result {
	enum ra_health	 state;		/* state now */
	enum ra_health	 prev;		/* state before */
	unsigned	 successes;	/* consecutive */
	unsigned	 failures;	/* consecutive */
	double		 latency_ms;	/* moving average, 0 = unknown */
	int		 latency_class;	/* 0..15 sub-class */
	long long	 next_ms;	/* next probe due (Redis clock) */
	int		 evicted;	/* DOWN past evict_after: removed */
	int		 unquarantined;	/* the success ended an ejection */
	int		 gone;		/* the item is not in the pool */
};

/* One probe result of a batch. */
struct ra_health_probe {
	const char		*item;		/* the item probed */
	enum ra_probe_verdict	 verdict;
	double			 latency_ms;	/* < 0 = unknown */
	const char		*reason;	/* short cause, or NULL */
	double			 elapsed_ms;	/* since the probe started: the
						 * next one is due inter after
						 * its start (0 = from now) */
};
#define RA_HEALTH_BATCH	100	/* results per report call */

/* What a batch of results did, in the order given (async result). */
struct ra_health_results {
	struct ra_health_result	*v;	/* n entries, owned by the result */
	size_t			 n;
};

/* Health totals of a pool, O(1). */
struct ra_health_counts {
	long long	up;		/* items UP */
	long long	down;		/* items DOWN */
	long long	probes;		/* results recorded, every process */
	struct ra_strlist errors;	/* "reason=count", by reason, owned */
};
void	ra_health_counts_deinit(struct ra_health_counts *c);

/* The health of one item (ra_health_get), times on the Redis clock. */
struct ra_health_info {
	int		 known;		/* 0: no result recorded yet */
	enum ra_health	 state;
	long long	 since_ms;	/* its last change of state, 0 = none */
	long long	 last_ms;	/* its last result while not UP (0: none,
					 * or UP: an UP item's record is not
					 * written by each probe) */
	long long	 next_ms;	/* its next check, -1 = none scheduled */
	char		*reason;	/* its last error, "" if none; owned */
};
struct ra_health_infos {
	struct ra_health_info	*v;	/* n entries, in the order asked */
	size_t			 n;
};
#define RA_HEALTH_GET_MAX	1000	/* items per ra_health_get call */
void	ra_health_infos_deinit(struct ra_health_infos *h);

/* Claim up to count due checks: they are rescheduled lease seconds ahead
 * (a claimer that dies is replaced then) and returned in out. */
int	ra_health_claim(struct ra_context *ctx, const char *pool,
	    unsigned count, double lease, struct ra_strlist *out);
/* Record a probe result (one function call: state, counters, latency
 * class, quarantine while DOWN, eviction, next due time).  The jitter of
 * the next due time is drawn with random(): seed it (srandom) per
 * process, so instances on one Redis spread their probes differently. */
int	ra_health_report(struct ra_context *ctx, const char *pool,
	    const char *item, enum ra_probe_verdict v, double latency_ms,
	    const char *reason, const struct ra_health_conf *hc,
	    struct ra_health_result *out);
/* Record 1..RA_HEALTH_BATCH results of one pool in one call; out (n
 * entries) may be NULL.  A bad result rejects the whole batch. */
int	ra_health_report_batch(struct ra_context *ctx, const char *pool,
	    const struct ra_health_probe *probes, size_t n,
	    const struct ra_health_conf *hc, struct ra_health_result *out);
/* Schedule up to count items that have no due time yet (HSCAN-like
 * cursor; 0 starts, 0 returned ends), spread over spread seconds. */
int	ra_health_sync(struct ra_context *ctx, const char *pool,
	    unsigned long long cursor, unsigned count, double spread,
	    unsigned long long *next);
int	ra_health_counts(struct ra_context *ctx, const char *pool,
	    struct ra_health_counts *out);
/* The health of 1..RA_HEALTH_GET_MAX items of a pool (one READ call),
 * out->v[i] for keys[i]; free with ra_health_infos_deinit. */
int	ra_health_get(struct ra_context *ctx, const char *pool,
	    const char *const *keys, size_t n, struct ra_health_infos *out);

/*
 * A pool's recent events (ejections, bans, health changes): a capped
 * stream, {<prefix>:<pool>}:events, that every process on the Redis
 * appends what it saw to, read newest first by status pages.  A record
 * of what happened, never used to decide anything.
 */
struct ra_event {
	long long	 at_ms;		/* when it was added (Redis clock) */
	char		*kind;		/* "ejected", "banned", "down", "up",
					 * "evicted" */
	char		*item;		/* the item (a proxy URL: redact it) */
	long long	 until_ms;	/* end of an ejection or ban, 0 = none */
	char		*detail;	/* how, or why ("" or NULL: none) */
	char		*source;	/* who saw it ("" or NULL: none) */
};
struct ra_events {
	struct ra_event	*v;		/* n entries, newest first, owned */
	size_t		 n;
};
#define RA_EVENTS_MAX	256		/* kept per pool, about */
#define RA_EVENT_TEXT_MAX 256		/* bytes of detail and of source */
void	ra_events_deinit(struct ra_events *ev);
/* Append an event: kind, item, until_ms as in struct ra_event; detail
 * and source (NULL: none) at most RA_EVENT_TEXT_MAX bytes each. */
int	ra_event_add(struct ra_context *ctx, const char *pool,
	    const char *kind, const char *item, long long until_ms,
	    const char *detail, const char *source);
/* The newest count (1..RA_EVENTS_MAX) events of a pool. */
int	ra_events_get(struct ra_context *ctx, const char *pool,
	    unsigned count, struct ra_events *out);

/* ------------------------------------------------------------------ */
/* Asynchronous allocator API (hiredis async, for event loops)          */
/* ------------------------------------------------------------------ */

struct ra_async;

/* What a release or report did: until_ms > 0 when its outcome ejected
 * (FAILED) or banned (BANNED) the item, quarantined until then. */
struct ra_ended {
	long long	 until_ms;	/* 0: the item stays in service */
	char		*item;		/* the item ejected or banned, else NULL */
};

/* Result of an asynchronous call; valid only during the callback (its
 * strings are freed after it returns: copy what you keep). */
struct ra_result {
	int		 err;	/* enum ra_error */
	char		 errstr[RA_ERRSTR_LEN];
	union {
		struct ra_lease		lease;	/* lease */
		long long		integer; /* renew: expires_ms; others */
		struct ra_counts	counts;	/* counts */
		struct ra_list		list;	/* list */
		struct ra_strlist	strs;	/* bindings, pools */
		char			*str;	/* binding (NULL: none) */
		struct ra_pool_conf	pool;	/* pool_get */
		struct ra_gc_stats	gc;	/* gc */
		struct ra_health_result	health;	/* health_report */
		struct ra_health_results hbatch; /* health_report_batch */
		struct ra_health_counts	hcounts; /* health_counts */
		struct ra_health_infos	hinfos;	/* health_get */
		struct ra_events	events;	/* events_get */
		struct ra_ended		ended;	/* release, report */
	} u;
};

typedef void ra_async_fn(struct ra_async *ra, struct ra_result *res,
    void *priv);

/*
 * Wrap an async context the caller owns and drives (libevent adapter).
 * Scripts are loaded on first NOSCRIPT, transparently.  Pending callbacks
 * run with RA_ERR_BACKEND_DOWN when the connection drops.
 */
struct ra_async *ra_async_create(redisAsyncContext *ac, const char *prefix,
	    unsigned batch);
void	ra_async_destroy(struct ra_async *ra);
/* Point the wrapper at a new context after a reconnect. */
void	ra_async_set_context(struct ra_async *ra, redisAsyncContext *ac);

/*
 * Cork the wrapper: from now on leases, renewals and releases are held
 * back and gathered by pool, and uncork sends each pool's gathered ones
 * as one function call (up to RA_CORK_MAX a call; a call that reaches
 * it is sent at once).  A Redis call costs much more to start than a
 * lease costs to do, so an event loop that corks when a pass begins
 * handling requests and uncorks when it ends spends a fraction of the
 * Redis time per operation.  Every operation keeps its own callback and
 * result, as if sent alone.  Any other call while corked sends what is
 * held first, so calls still reach Redis in the order they were made.
 * Destroying a corked wrapper fails what it holds (RA_ERR_BACKEND_DOWN,
 * nothing sent: uncork before freeing the context to send it).
 */
#define RA_CORK_MAX	32
void	ra_async_cork(struct ra_async *ra);
void	ra_async_uncork(struct ra_async *ra);

/*
 * Every ra_async_* call below returns 0 when fn will run once with the
 * result: later with the reply, or at once (before the call returns)
 * when an argument is bad (res->err RA_ERR_BAD_ARGUMENT, nothing sent).
 * It returns -1, and fn never runs, only when the request could not be
 * queued (no connection, out of memory).  Results: pool_create, add,
 * remove, assign: u.integer = items created / new / removed; lease:
 * u.lease; renew: u.integer = new expiry ms; release, report: u.ended;
 * bind: u.integer = 1; quarantine: u.integer = end ms (0 lifted); unbind:
 * u.integer = 1 or 0; binding: u.str (NULL: none); bindings, pools:
 * u.strs; counts: u.counts; list: u.list; gc: u.gc; pool_get: u.pool;
 * pool_delete: u.integer = items still draining.
 */

int	ra_async_pool_create(struct ra_async *ra, const char *pool,
	    const struct ra_pool_conf *conf, ra_async_fn *fn, void *priv);
int	ra_async_pool_get(struct ra_async *ra, const char *pool,
	    ra_async_fn *fn, void *priv);
int	ra_async_pool_delete(struct ra_async *ra, const char *pool,
	    ra_async_fn *fn, void *priv);
int	ra_async_pools(struct ra_async *ra, ra_async_fn *fn, void *priv);
/* add/remove/assign chain chunks of at most batch items; fn runs once. */
int	ra_async_add(struct ra_async *ra, const char *pool,
	    const struct ra_item *items, size_t n, ra_async_fn *fn, void *priv);
int	ra_async_remove(struct ra_async *ra, const char *pool,
	    const char *const *keys, size_t n, ra_async_fn *fn, void *priv);
int	ra_async_assign(struct ra_async *ra, const char *pool,
	    const struct ra_item *items, size_t n, ra_async_fn *fn, void *priv);
int	ra_async_lease(struct ra_async *ra, const char *pool,
	    const struct ra_lease_req *req, ra_async_fn *fn, void *priv);
int	ra_async_renew(struct ra_async *ra, const char *pool,
	    const char *token, double ttl, ra_async_fn *fn, void *priv);
int	ra_async_release(struct ra_async *ra, const char *pool,
	    const char *token, enum ra_outcome outcome, double latency_ms,
	    ra_async_fn *fn, void *priv);
int	ra_async_report(struct ra_async *ra, const char *pool,
	    const char *item, enum ra_outcome outcome, double latency_ms,
	    ra_async_fn *fn, void *priv);
int	ra_async_quarantine(struct ra_async *ra, const char *pool,
	    const char *item, double seconds, ra_async_fn *fn, void *priv);
int	ra_async_bind(struct ra_async *ra, const char *pool, const char *name,
	    const char *item, double ttl, ra_async_fn *fn, void *priv);
int	ra_async_unbind(struct ra_async *ra, const char *pool,
	    const char *name, ra_async_fn *fn, void *priv);
int	ra_async_binding(struct ra_async *ra, const char *pool,
	    const char *name, ra_async_fn *fn, void *priv);
int	ra_async_bindings(struct ra_async *ra, const char *pool,
	    const char *item, ra_async_fn *fn, void *priv);
int	ra_async_counts(struct ra_async *ra, const char *pool,
	    ra_async_fn *fn, void *priv);
int	ra_async_list(struct ra_async *ra, const char *pool,
	    enum ra_state filter, unsigned long long cursor, unsigned count,
	    ra_async_fn *fn, void *priv);
int	ra_async_gc(struct ra_async *ra, const char *pool, unsigned count,
	    ra_async_fn *fn, void *priv);
/* The invariant check of ra_check_invariants, one bounded call per page
 * (the batch's items), each sent when the last is answered: fn gets the
 * violations in u.strs (none: n 0) once the walk is done. */
int	ra_async_check_invariants(struct ra_async *ra, const char *pool,
	    ra_async_fn *fn, void *priv);

/* Health state, async: results in res->u.strs (claim), res->u.health
 * (report), res->u.hbatch (report_batch), res->u.integer (sync: next
 * cursor), res->u.hcounts (counts). */
int	ra_async_health_claim(struct ra_async *ra, const char *pool,
	    unsigned count, double lease, ra_async_fn *fn, void *priv);
int	ra_async_health_report(struct ra_async *ra, const char *pool,
	    const char *item, enum ra_probe_verdict v, double latency_ms,
	    const char *reason, const struct ra_health_conf *hc,
	    ra_async_fn *fn, void *priv);
int	ra_async_health_report_batch(struct ra_async *ra, const char *pool,
	    const struct ra_health_probe *probes, size_t n,
	    const struct ra_health_conf *hc, ra_async_fn *fn, void *priv);
int	ra_async_health_sync(struct ra_async *ra, const char *pool,
	    unsigned long long cursor, unsigned count, double spread,
	    ra_async_fn *fn, void *priv);
int	ra_async_health_counts(struct ra_async *ra, const char *pool,
	    ra_async_fn *fn, void *priv);
int	ra_async_health_get(struct ra_async *ra, const char *pool,
	    const char *const *keys, size_t n, ra_async_fn *fn, void *priv);
/* Events (see ra_event_add): event_add answers nothing to read,
 * events_get res->u.events.  A bad argument returns -1 (fn never runs). */
int	ra_async_event_add(struct ra_async *ra, const char *pool,
	    const char *kind, const char *item, long long until_ms,
	    const char *detail, const char *source, ra_async_fn *fn,
	    void *priv);
int	ra_async_events_get(struct ra_async *ra, const char *pool,
	    unsigned count, ra_async_fn *fn, void *priv);

/* ------------------------------------------------------------------ */
/* Distributed lock (ra_lock)                                           */
/* ------------------------------------------------------------------ */

/*
 * A lock is one Redis string whose value is the owner's value (any string
 * the caller picks, 1..1024 bytes: a host:pid, a random token).  Keys live
 * under the context prefix and share one hash tag, so a lock, its fence
 * counter and its wake-up list are in one cluster slot:
 *
 *	{<prefix>:lock:<name>}		the lock (owner value, PX TTL)
 *	{<prefix>:lock:<name>}:fence	fence counter (INCR per grant; never
 *					expires, so fences only grow)
 *	{<prefix>:lock:<name>}:signal	wake-up list (LPUSHed on release,
 *					trimmed, expires after 1 s)
 *
 * Names are 1..1024 bytes (RA_ERR_BAD_ARGUMENT otherwise, nothing
 * changed).  TTLs and timeouts are seconds as a double, fractions kept to
 * the millisecond (a positive TTL is at least 1 ms); a TTL of 0 or below
 * means the lock never expires.  A TTL over RA_TTL_MAX (10 years) is
 * BAD_ARGUMENT.
 */
#define RA_LOCK_EPSILON		1e-9	/* conditional setters compare with it */
#define RA_LOCK_SIGNAL_MS	1000	/* lifetime of a wake-up token */
#define RA_LOCK_REENTRANT	0x1	/* flag: the same owner may re-acquire */

/* Take the lock (SET NX + TTL).  Returns 0 and a new fence in *fence
 * (may be NULL), or -1 with RA_ERR_BUSY when anyone holds it (the same
 * owner too: see ra_rlock). */
int	ra_lock(struct ra_context *ctx, const char *name, const char *owner,
	    double ttl, long long *fence);
/* Re-entrant lock: as ra_lock, but when owner already holds the lock it
 * is granted again (new fence) and its TTL is set to ttl. */
int	ra_rlock(struct ra_context *ctx, const char *name, const char *owner,
	    double ttl, long long *fence);
/*
 * Blocking acquire: try, and while another owner holds the lock, wait on
 * the lock's signal list (BLPOP) until a release wakes it or the holder's
 * TTL runs out, then try again; give up when wait seconds (monotonic
 * clock) have passed with -1 and RA_ERR_BUSY.  No spinning: each round
 * costs one EVALSHA and one BLPOP.  wait <= 0 tries once.  flags:
 * RA_LOCK_REENTRANT or 0 (other bits: RA_ERR_BAD_ARGUMENT).  During a BLPOP the context's command timeout
 * (if set) is stretched to the slice plus 1 s, then restored.
 */
int	ra_lock_wait(struct ra_context *ctx, const char *name,
	    const char *owner, double ttl, double wait, int flags,
	    long long *fence);
/* Release: compare-and-delete by the owner, waking one waiter.
 * RA_ERR_NOT_OWNED (nothing changed) when the lock is free, expired or
 * held by another owner. */
int	ra_unlock(struct ra_context *ctx, const char *name, const char *owner);
/* Delete the lock whoever holds it (waking a waiter).  Returns 1 when it
 * was held, 0 when it was free, -1 on error. */
int	ra_force_unlock(struct ra_context *ctx, const char *name);
/*
 * Renew, only by the owner (redis-py's extend(additional_time,
 * replace_ttl)): replace = 0 adds ttl (> 0) to the remaining TTL (a lock
 * without expiry keeps none); replace = 1 sets the TTL to ttl (<= 0: no
 * expiry).  *pttl_ms (may be NULL) gets the new remaining TTL in ms, -1
 * for none.  RA_ERR_NOT_OWNED (nothing changed) when not the owner.
 */
int	ra_lock_extend(struct ra_context *ctx, const char *name,
	    const char *owner, double ttl, int replace, long long *pttl_ms);
/* Set owner and TTL unconditionally (a heartbeat without ownership
 * check; takes the lock from anyone, draws no fence). */
int	ra_lock_update(struct ra_context *ctx, const char *name,
	    const char *owner, double ttl);
/* 1 when the lock is held, 0 when free, -1 on error. */
int	ra_is_locked(struct ra_context *ctx, const char *name);
/* The owner value into *owner (malloc'd, caller frees; NULL when free).
 * Returns 0 or -1. */
int	ra_lock_value(struct ra_context *ctx, const char *name, char **owner);

enum ra_lock_status {
	RA_LOCK_FREE = 0,	/* no such key */
	RA_LOCK_LOCKED,		/* held, expires within the timeout */
	RA_LOCK_UNAVAILABLE,	/* held, TTL longer than the timeout */
	RA_LOCK_ERROR		/* the key exists without an expiry */
};
const char *ra_lock_status_name(enum ra_lock_status s); /* "FREE"... */
/* Classify a lock against timeout seconds (the longest wait the caller
 * accepts).  Returns 0 with *status set, or -1. */
int	ra_lock_key_status(struct ra_context *ctx, const char *name,
	    double timeout, enum ra_lock_status *status);

/*
 * Conditional setters and deleters (the Python RedisAllocator's setgt...
 * delne): the number stored at the lock key of name is compared with
 * value as "value OP stored" within RA_LOCK_EPSILON (absolute):
 * GT value > stored + eps, LT value < stored - eps, GE value >= stored -
 * eps, LE value <= stored + eps, EQ |value - stored| <= eps, NE |value -
 * stored| > eps.  A missing key counts as true.  When it holds, set
 * stores set_value (NULL: value itself, printed shortest) with ttl (<= 0:
 * no expiry) and del deletes the key.  Returns 1 when it held (and the
 * key changed), 0 when not (nothing changed), -1 on error: a value that
 * is not finite, or a stored value that is not a number, is
 * RA_ERR_BAD_ARGUMENT.
 */
enum ra_lock_cmp {
	RA_CMP_GT = 0,
	RA_CMP_LT,
	RA_CMP_GE,
	RA_CMP_LE,
	RA_CMP_EQ,
	RA_CMP_NE,
	RA_CMP__COUNT
};
int	ra_lock_set_if(struct ra_context *ctx, const char *name,
	    enum ra_lock_cmp op, double value, const char *set_value,
	    double ttl);
int	ra_lock_del_if(struct ra_context *ctx, const char *name,
	    enum ra_lock_cmp op, double value);
int	ra_setgt(struct ra_context *ctx, const char *name, double value,
	    const char *set_value, double ttl);
int	ra_setlt(struct ra_context *ctx, const char *name, double value,
	    const char *set_value, double ttl);
int	ra_setge(struct ra_context *ctx, const char *name, double value,
	    const char *set_value, double ttl);
int	ra_setle(struct ra_context *ctx, const char *name, double value,
	    const char *set_value, double ttl);
int	ra_seteq(struct ra_context *ctx, const char *name, double value,
	    const char *set_value, double ttl);
int	ra_setne(struct ra_context *ctx, const char *name, double value,
	    const char *set_value, double ttl);
int	ra_delgt(struct ra_context *ctx, const char *name, double value);
int	ra_dellt(struct ra_context *ctx, const char *name, double value);
int	ra_delge(struct ra_context *ctx, const char *name, double value);
int	ra_delle(struct ra_context *ctx, const char *name, double value);
int	ra_deleq(struct ra_context *ctx, const char *name, double value);
int	ra_delne(struct ra_context *ctx, const char *name, double value);

/*
 * Key names, for callers that wait on their own (the daemon's LOCK ...
 * WAIT retries on a timer, or BLPOPs the signal key on a spare
 * connection): "{<prefix>:lock:<name>}" and its ":signal" list (prefix
 * NULL or "" is the default "ra").  Write
 * the NUL-terminated key into buf; return its length, or -1 when name is
 * invalid or buf too small.
 */
int	ra_lock_key(const char *prefix, const char *name, char *buf,
	    size_t len);
int	ra_lock_signal_key(const char *prefix, const char *name, char *buf,
	    size_t len);
/* Check a lock name, owner value and TTL as lock, unlock and extend do:
 * returns 0, or -1 with a message in errstr (RA_ERRSTR_LEN bytes), the
 * call would fail with RA_ERR_BAD_ARGUMENT. */
int	ra_lock_check(const char *name, const char *owner, double ttl,
	    char *errstr);

/*
 * Asynchronous lock calls (same scripts, same decoders).  lock: on success
 * res->u.integer is the fence; on RA_ERR_BUSY res->u.integer is the
 * holder's remaining TTL in ms (-1 none), so a caller waiting with a
 * deadline can arm a timer for min(that, deadline) and wake on the signal
 * key.  unlock: res->u.integer 1, or RA_ERR_NOT_OWNED.  extend:
 * res->u.integer the new TTL in ms (-1 none).  They return -1 and never
 * call fn when an argument is bad (see ra_lock_check) or the call cannot
 * be queued.
 */
int	ra_async_lock(struct ra_async *ra, const char *name, const char *owner,
	    double ttl, int flags, ra_async_fn *fn, void *priv);
int	ra_async_unlock(struct ra_async *ra, const char *name,
	    const char *owner, ra_async_fn *fn, void *priv);
int	ra_async_extend(struct ra_async *ra, const char *name,
	    const char *owner, double ttl, int replace, ra_async_fn *fn,
	    void *priv);

/*
 * Lock pool: a named set of lock names ("{<prefix>:lockpool:<pool>}"); the
 * names are ordinary ra_lock names.  add/remove/assign work in chunks of
 * the context's batch; assign stages the new set under a random key and
 * swaps it in with one RENAME, so readers see the old or the new set.
 */
int	ra_lock_pool_add(struct ra_context *ctx, const char *pool,
	    const char *const *names, size_t n);
int	ra_lock_pool_remove(struct ra_context *ctx, const char *pool,
	    const char *const *names, size_t n);
int	ra_lock_pool_assign(struct ra_context *ctx, const char *pool,
	    const char *const *names, size_t n);
int	ra_lock_pool_clear(struct ra_context *ctx, const char *pool);
/* 1 when name is in the pool, 0 when not, -1 on error. */
int	ra_lock_pool_contains(struct ra_context *ctx, const char *pool,
	    const char *name);
/* Number of names in the pool into *count. */
int	ra_lock_pool_count(struct ra_context *ctx, const char *pool,
	    long long *count);

/* How many of a pool's locks are held. */
struct ra_lock_pool_health {
	long long	total;		/* names seen */
	long long	locked;		/* names whose lock is held */
	long long	free;		/* names whose lock is free */
};
/* Walk the pool with SSCAN and EXISTS, at most batch names per step (a
 * pool changing meanwhile gives approximate counts). */
int	ra_lock_pool_health(struct ra_context *ctx, const char *pool,
	    struct ra_lock_pool_health *out);

/* ------------------------------------------------------------------ */
/* Task queue (ra_queue)                                                */
/* ------------------------------------------------------------------ */

/*
 * Tasks are submitted by id under a queue name and delivered in FIFO order
 * per name, at least once: a worker's take pops the task and gives it a
 * lease in one step; a task whose lease is not renewed goes back to the
 * head of the queue.  Payloads and results are opaque bytes; nothing
 * read from Redis is ever run or deserialised into code: a worker calls
 * the C function registered for the name.  Ids and names are 1..RA_KEY_MAX
 * bytes without NUL; names hold no { or } (they are the hash tag).
 */

/* Where ra_queue_run() executes a task. */
enum ra_policy {
	RA_POLICY_LOCAL = 0,	/* the submitter calls the function itself */
	RA_POLICY_REMOTE,	/* a worker runs it; the submitter waits */
	RA_POLICY_LOCAL_FIRST,	/* local; on failure remote (error cleared) */
	RA_POLICY_REMOTE_FIRST,	/* remote; on error or timeout local */
	RA_POLICY_AUTO,		/* remote if a live worker listens, else local */
	RA_POLICY__COUNT
};
const char *ra_policy_name(enum ra_policy p);	/* "local", "remote"... */
int	ra_policy_parse(const char *name);	/* -1 if unknown */

/* The state of a task. */
enum ra_task_state {
	RA_TASK_PENDING = 0,	/* queued, or waiting for a retry */
	RA_TASK_RUNNING,	/* leased by a worker */
	RA_TASK_DONE,		/* finished, with a result (maybe empty) */
	RA_TASK_FAILED,		/* out of attempts, timed out or cancelled */
	RA_TASK__COUNT
};
const char *ra_task_state_name(enum ra_task_state s);	/* "pending"... */

/* Settings of a queue handle.  Zeroed fields take the defaults. */
struct ra_queue_conf {
	double		lease;		/* s a running task lives without a
					   heartbeat (default 30); workers
					   heartbeat every lease / 3 */
	double		result_ttl;	/* s results are kept (default 3600) */
	unsigned	max_attempts;	/* runs before dead-letter (default 3) */
	double		backoff_base;	/* first retry delay, s (default 1) */
	double		backoff_max;	/* longest retry delay, s (default 300) */
	double		poll;		/* longest single block, s (default 1):
					   bounds stop, retry and reap delays */
	unsigned	batch;		/* items one reaper call may touch
					   (default 100) */
};
/* Fill c with the defaults. */
void	ra_queue_conf_init(struct ra_queue_conf *c);

/* A queue handle: settings, the registered functions and a worker id.
 * One handle may be shared by threads once functions are registered. */
struct ra_queue;

/* A task as a worker (or a local run) sees it. */
struct ra_task {
	int		 err;		/* enum ra_error of the last ra_task_ call */
	char		 errstr[RA_ERRSTR_LEN]; /* its message */
	char		*name;		/* owned: queue name */
	char		*id;		/* owned: task id */
	char		*payload;	/* owned: payload bytes, NUL added */
	size_t		 payload_len;	/* payload length */
	unsigned	 attempt;	/* 1 on the first run */
	unsigned	 max_attempts;	/* runs allowed */
	long long	 deadline_ms;	/* Redis clock, 0 = none (remote) */
	char		 token[RA_TOKEN_LEN + 1]; /* lease token (remote) */
	int		 local;		/* run in the submitter's process */
	char		*result;	/* owned: set by ra_task_set_result */
	size_t		 result_len;	/* its length */
	char		 error[RA_ERRSTR_LEN]; /* why the function failed */
	long long	 current;	/* last progress reported */
	long long	 total;
	struct ra_context *ctx;		/* (ref) connection of the take, NULL
					   when local */
	struct ra_queue	*q;		/* (ref) the handle */
	long long	 local_deadline_ns; /* monotonic deadline of a local
					   run, 0 = none */
};

/*
 * A task function: read task->payload, call ra_task_progress() as it goes,
 * set the result with ra_task_set_result() (none: the task is done with an
 * empty result) and return 0; or set task->error (ra_task_set_error) and
 * return -1 to have the task retried with backoff, then dead-lettered.
 */
typedef int ra_task_fn(struct ra_task *task, void *arg);

/* Create a handle; NULL on bad settings (message in errstr, which may be
 * NULL or RA_ERRSTR_LEN bytes) or when out of memory. */
struct ra_queue *ra_queue_create(const struct ra_queue_conf *conf,
	    char *errstr);
void	ra_queue_destroy(struct ra_queue *q);
/* The handle's worker id (registered while its workers live). */
const char *ra_queue_worker_id(const struct ra_queue *q);
/* Register the function run for tasks of name (replaces a previous one);
 * -1 with errno EINVAL (bad name) or ENOMEM.  Register before starting
 * workers or running tasks from other threads. */
int	ra_queue_register(struct ra_queue *q, const char *name, ra_task_fn *fn,
	    void *arg);

/* Copy the result bytes into the task; -1 with task->err on OOM. */
int	ra_task_set_result(struct ra_task *t, const void *data, size_t len);
/* Set the failure message of a task function. */
void	ra_task_set_error(struct ra_task *t, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Report progress, readable by the submitter; also a heartbeat.
 * RA_ERR_TIMEOUT once the task's deadline passed, RA_ERR_NOT_OWNED when
 * the lease was lost (stop: the task runs elsewhere). */
int	ra_task_progress(struct ra_task *t, long long current, long long total);
void	ra_task_deinit(struct ra_task *t);

/* What a submitter reads about a task. */
struct ra_task_result {
	enum ra_task_state state;
	char		*data;		/* owned: result of a done task (NUL
					   added), NULL when empty */
	size_t		 len;		/* result length */
	char		*error;		/* owned: last error, or NULL */
	unsigned	 attempts;	/* runs started */
	long long	 current;	/* last progress */
	long long	 total;
	long long	 deadline_ms;	/* Redis clock, 0 = none */
	int		 local;		/* it ran in this process */
};
void	ra_task_result_deinit(struct ra_task_result *r);

#define RA_QUEUE_DELETE	0x1	/* forget a finished task once read */

/* Queue a task for the workers of name, due within timeout s (0 = no
 * deadline).  RA_ERR_BUSY when the id is pending or running; a finished
 * task with that id is replaced.  RA_ERR_BAD_ARGUMENT, nothing sent, for
 * a payload over the server's proto-max-bulk-len (512 MB by default). */
int	ra_queue_submit(struct ra_queue *q, struct ra_context *ctx,
	    const char *name, const char *id, const void *payload, size_t len,
	    double timeout);
/* Read a task now (no waiting); RA_ERR_NOT_FOUND when unknown, expired or
 * deleted.  With RA_QUEUE_DELETE a done or failed task is forgotten. */
int	ra_queue_status(struct ra_queue *q, struct ra_context *ctx,
	    const char *name, const char *id, int flags,
	    struct ra_task_result *out);
/* Wait up to wait s (monotonic clock) until the task is done or failed,
 * reconnecting with backoff if Redis goes away.  Returns 0 with the
 * result (a failed task is a result too), or -1: RA_ERR_TIMEOUT,
 * RA_ERR_NOT_FOUND, RA_ERR_BACKEND_DOWN (still down at the deadline). */
int	ra_queue_wait(struct ra_queue *q, struct ra_context *ctx,
	    const char *name, const char *id, double wait, int flags,
	    struct ra_task_result *out);
/* Run a task under a policy and wait up to timeout s for its result.
 * Local runs call the registered function in this thread (no Redis). */
int	ra_queue_run(struct ra_queue *q, struct ra_context *ctx,
	    const char *name, const char *id, const void *payload, size_t len,
	    double timeout, enum ra_policy policy, int flags,
	    struct ra_task_result *out);
/* Withdraw a pending task (it becomes failed, "cancelled"); *was gets the
 * state it had (only PENDING means it was cancelled). */
int	ra_queue_cancel(struct ra_queue *q, struct ra_context *ctx,
	    const char *name, const char *id, enum ra_task_state *was);

/* The dead-letter list: ids from start (oldest first), at most count
 * (bounded by the batch); *total gets the list length. */
int	ra_queue_dead(struct ra_queue *q, struct ra_context *ctx,
	    const char *name, unsigned long start, unsigned count,
	    struct ra_strlist *ids, unsigned long long *total);
/* Queue a dead-lettered task again with fresh attempts and deadline. */
int	ra_queue_requeue(struct ra_queue *q, struct ra_context *ctx,
	    const char *name, const char *id);

/* What one reaper call did. */
struct ra_queue_reap_stats {
	long long	promoted;	/* due retries moved to the queue */
	long long	requeued;	/* expired leases back to the queue */
	long long	dead;		/* expired leases dead-lettered */
	long long	forgotten;	/* expired tasks and results removed */
	long long	live_workers;	/* workers registered on the name */
};
/* Run the bounded housekeeping of a name now (workers and waiters do it
 * every poll interval on their own). */
int	ra_queue_reap(struct ra_queue *q, struct ra_context *ctx,
	    const char *name, struct ra_queue_reap_stats *out);

/*
 * Worker side without threads: take the oldest task of any of the names
 * (first name first), blocking up to wait s; RA_ERR_EMPTY when none came.
 * Then heartbeat at least every lease / 3 while running, and finish with
 * complete (task->result) or fail (task->error; retry or dead-letter).
 * RA_ERR_NOT_OWNED from these: the lease was lost, drop the task.
 * Complete gives RA_ERR_BAD_ARGUMENT, nothing sent, for a result over the
 * server's proto-max-bulk-len: fail the task instead.
 */
int	ra_queue_take(struct ra_queue *q, struct ra_context *ctx,
	    const char *const *names, size_t n, double wait,
	    struct ra_task *out);
int	ra_queue_heartbeat(struct ra_queue *q, struct ra_context *ctx,
	    struct ra_task *t);
int	ra_queue_complete(struct ra_queue *q, struct ra_context *ctx,
	    struct ra_task *t);
int	ra_queue_fail(struct ra_queue *q, struct ra_context *ctx,
	    struct ra_task *t);

/* Worker threads: each with its own connection, plus one heartbeat
 * thread; they reconnect with backoff and keep serving across Redis
 * restarts. */
struct ra_queue_workers;

/* Counters of a worker pool. */
struct ra_queue_worker_stats {
	unsigned long long	done;	/* tasks completed */
	unsigned long long	failed;	/* runs that failed */
	unsigned long long	lost;	/* leases lost (NOT_OWNED) */
};

/* Start threads workers serving names with the functions registered in
 * q (which must outlive them).  NULL with a message in errstr (may be
 * NULL, else RA_ERRSTR_LEN bytes) on bad arguments or no resources. */
struct ra_queue_workers *ra_queue_workers_start(struct ra_queue *q,
	    const struct ra_options *opt, const char *const *names, size_t n,
	    unsigned threads, char *errstr);
void	ra_queue_workers_stats(struct ra_queue_workers *w,
	    struct ra_queue_worker_stats *out);
/* Stop taking tasks, let running ones finish, unregister, free. */
void	ra_queue_workers_stop(struct ra_queue_workers *w);
/* The same, and the pool's final counters in *out (may be NULL), the
 * tasks that finished during the stop included: stats cannot be read
 * once the pool is freed. */
void	ra_queue_workers_stop_stats(struct ra_queue_workers *w,
	    struct ra_queue_worker_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* REDIS_ALLOCATOR_H */
