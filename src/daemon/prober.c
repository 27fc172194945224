/*
 * prober.c: active health checks on the daemon's loop.
 *
 * Scheduling lives in Redis: each pool has a ZSET of next-due times; a
 * tick claims due entries (one script pops and reschedules them, so
 * several daemons share the work) within the cap on probes in flight,
 * and probe.c runs each (curl multi, child processes).  Verdicts are
 * batched per pool and go back to Redis in one script that applies
 * rise/fall, latency, quarantine while DOWN, eviction and the next due
 * time.  Every call of the prober goes on the daemon's second Redis
 * connection (see redis.h).
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>

#include "conf.h"
#include "curlev.h"
#include "events.h"
#include "log.h"
#include "plugin.h"
#include "probe.h"
#include "prober.h"
#include "prober_int.h"
#include "proxyurl.h"
#include "where.h"
#include "xmalloc.h"

#define PROBER_TICK_MS		100	/* claim attempts when idle */
#define PROBER_SYNC_EVERY	5.0	/* s between due-set sync passes, at
					 * least (or inter when longer) */
#define PROBER_SYNC_BATCH	100	/* items per sync call (~0.5 ms) */
#define PROBER_CLAIM_MAX	64	/* checks per claim call: the probes
					 * of one claim start in one go */
#define PROBER_INFLIGHT_DEFAULT	1024
#define PROBER_INFLIGHT_MAX	65536
#define PROBER_ERRORS		8	/* reasons counted per pool */
#define PROBER_BATCH		64	/* results per report call (~5 us of
					 * Redis time each) */
#define PROBER_FLUSH_MS		50	/* a partial batch waits this long:
					 * batches fill at a few thousand
					 * probes/s, and a state change is
					 * recorded at most this much later */
#define PROBER_SENDING_MAX	2	/* report calls in flight: a LEASE
					 * never queues behind many */

/* One pool's check: immutable once built, shared by its probes. */
struct prober_check {
	struct probe_check		 run;	/* first: what probes get back */
	int				 refs;	/* pool + running probes */
	struct ra_health_conf		 hc;	/* rise/fall/intervals */
};

/* A reason counter of a pool's recent errors. */
struct prober_error {
	char			 reason[48];	/* truncated reason */
	unsigned long long	 count;		/* times seen */
};

/* One pool with a check. */
struct prober_pool {
	struct prober		*pr;		/* (ref) */
	int			 refs;		/* list + calls + probes */
	bool			 dead;		/* removed from configuration */
	char			*name;		/* owned pool name */
	struct prober_check	*check;		/* counted reference */
	unsigned		 claiming;	/* slots of the claim in flight */
	bool			 syncing;	/* a sync call in flight */
	unsigned long long	 sync_cursor;	/* HSCAN cursor, 0 = pass done */
	double			 sync_next;	/* monotonic s of the next pass */
	bool			 sync_again;	/* items came during the pass */
	unsigned		 inflight;	/* probes running */
	unsigned long long	 probes;	/* probes finished */
	unsigned long long	 verdicts[4];	/* by enum pp_verdict */
	struct hist		 latency;	/* run times of those known */
	double			 rate;		/* probes/s, smoothed */
	unsigned long long	 rate_probes;	/* probes at rate_at */
	double			 rate_at;	/* monotonic s of last sample */
	struct prober_error	 errors[PROBER_ERRORS]; /* by reason */
	struct prober_batch	*batch;		/* results not sent yet, owned */
	struct event		*flush_ev;	/* owned: sends a partial batch */
	char			 errtext[PROBER_ERRORS * 64]; /* stats text */
	TAILQ_ENTRY(prober_pool) entry;
};
TAILQ_HEAD(prober_pool_list, prober_pool);

/* An on-demand probe (CHECK): who gets its verdict. */
struct prober_ondemand {
	struct prober_pool	*pp;		/* counted reference */
	prober_done_fn		*fn;
	void			*arg;
};

/* A finished probe's verdict waiting to be written to Redis. */
struct prober_result {
	char			*url;		/* owned proxy URL */
	enum pp_verdict		 verdict;
	double			 latency_ms;	/* < 0 = unknown */
	double			 started;	/* prober_now() at its start: the
						 * next is due inter after it,
						 * however long the batch waits */
	char			 reason[PP_REASON_LEN];
};

/* A batch of results sent in one script call. */
struct prober_batch {
	struct prober		*pr;		/* (ref) NULL once it is gone */
	struct prober_pool	*pp;		/* counted reference */
	struct prober_result	 res[PROBER_BATCH]; /* owned urls */
	size_t			 n;
	TAILQ_ENTRY(prober_batch) entry;	/* in pr->ready or pr->sent */
};
TAILQ_HEAD(prober_batch_list, prober_batch);

struct prober {
	struct event_base	*base;		/* (ref) the daemon's loop */
	prober_ra_fn		*ra_fn;		/* gives the Redis handle */
	void			*ra_arg;
	struct events		*events;	/* (ref) recent events */
	struct probes		*probes;	/* owned: runs them */
	struct event		*tick;		/* owned: claim timer */
	unsigned		 max_inflight;	/* cap on probes running */
	unsigned		 inflight;	/* probes running */
	unsigned		 reserved;	/* slots of claims in flight */
	struct prober_pool_list	 pools;
	struct prober_batch_list ready;		/* batches waiting to be sent */
	struct prober_batch_list sent;		/* batches in flight */
	unsigned		 nsent;		/* entries in sent */
	unsigned long long	 total;		/* probes finished */
	double			 rate;		/* probes/s, smoothed */
	unsigned long long	 rate_total;	/* total at rate_at */
	double			 rate_at;
};

static void	prober_flush_cb(evutil_socket_t fd, short what, void *arg);
static void	prober_flush(struct prober_pool *pp);
static void	prober_send(struct prober *pr);

/* ------------------------------------------------------------------ */
/* Configuration                                                        */
/* ------------------------------------------------------------------ */

static void
check_unref(struct prober_check *c)
{
	if (c == NULL || --c->refs > 0)
		return;
	c->run.type->free(c->run.conf);
	free(c);
}

/* "file:line: name: problem" for setting s (where.h). */
static void __attribute__((format(printf, 4, 5)))
prober_conf_error(char **cause, const config_setting_t *s, const char *name,
    const char *fmt, ...)
{
	const char *file = config_setting_source_file(s);
	va_list ap;

	va_start(ap, fmt);
	*cause = where_vfmt(file ? file : "(config)",
	    config_setting_source_line(s), name, fmt, ap);
	va_end(ap);
}

/* The generic settings of a check group as read, before they make a
 * struct ra_health_conf. */
struct prober_check_set {
	double	 inter;
	double	 fastinter;	/* 0: inter */
	double	 downinter;	/* 0: inter */
	double	 rise;		/* counts, read as numbers: checked after */
	double	 fall;
	double	 timeout;	/* 0: inter, at most 10 s */
	double	 jitter;
	double	 latency_step;	/* s */
	int	 end_quarantine;
};

/*
 * The settings of PP_CHECK_COMMON_SETTINGS (pp_check.h, which plugins
 * must not reuse), in the order they are checked: of several bad ones,
 * the first here is named.  "type" is read first, by hand: it selects
 * the plugin whose own settings are allowed too.
 */
#define C(f)	offsetof(struct prober_check_set, f)
static const struct conf_opt prober_check_opts[] = {
	{ "type", CONF_GROUP, 0, NULL, 0, 0, 0 },
	{ "inter", CONF_DOUBLE, C(inter), NULL, 0.01, 86400, CONF_FROMTO },
	{ "fastinter", CONF_DOUBLE, C(fastinter), NULL, 0.01, 86400,
	    CONF_FROMTO },
	{ "downinter", CONF_DOUBLE, C(downinter), NULL, 0.01, 86400,
	    CONF_FROMTO },
	{ "rise", CONF_DOUBLE, C(rise), NULL, 1, 1000, CONF_FROMTO },
	{ "fall", CONF_DOUBLE, C(fall), NULL, 1, 1000, CONF_FROMTO },
	{ "timeout", CONF_DOUBLE, C(timeout), NULL, 0.01, 3600, CONF_FROMTO },
	{ "jitter", CONF_DOUBLE, C(jitter), NULL, 0, 0.5, CONF_FROMTO },
	{ "latency_step", CONF_DOUBLE, C(latency_step), NULL, 0, 60,
	    CONF_FROMTO },
	{ "end_quarantine", CONF_BOOL, C(end_quarantine), NULL, 0, 0, 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0 }
};
#undef C
_Static_assert(sizeof((const char *[]){ PP_CHECK_COMMON_SETTINGS }) /
    sizeof(const char *) == sizeof prober_check_opts /
    sizeof prober_check_opts[0] - 1,
    "prober_check_opts and PP_CHECK_COMMON_SETTINGS differ");

/* The checks group: dir is read by hand (its own message). */
static const struct conf_opt prober_checks_opts[] = {
	{ "dir", CONF_GROUP, 0, NULL, 0, 0, 0 },
	{ "max_inflight", CONF_DOUBLE, 0, NULL, 1, PROBER_INFLIGHT_MAX,
	    CONF_FROMTO },
	{ NULL, 0, 0, NULL, 0, 0, 0 }
};

/* Build one pool's check from its group; NULL with *cause. */
static struct prober_check *
prober_check_parse(const struct conf *conf, const config_setting_t *g,
    double evict_after, char **cause)
{
	const struct pp_check_type *t;
	struct prober_check_set set;
	struct prober_check *c;
	config_setting_t *s;
	const char *type;
	char *unknown;
	int rc;

	if (!config_setting_is_group(g)) {
		prober_conf_error(cause, g, "check", "expected a group { ... }");
		return NULL;
	}
	if ((s = config_setting_get_member(g, "type")) == NULL ||
	    (type = config_setting_get_string(s)) == NULL) {
		prober_conf_error(cause, s ? s : g, "check.type",
		    "expected the check type as a string (http, connect, "
		    "tcp, exec...)");
		return NULL;
	}
	if ((t = plugin_find(type)) == NULL) {
		prober_conf_error(cause, s, "check.type", "no check plugin "
		    "\"%s\" loaded (loaded: %s)", type,
		    *plugin_names() ? plugin_names() : "none");
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	c->refs = 1;
	c->run.type = t;
	ra_health_conf_init(&c->hc);
	c->hc.evict_after = evict_after;
	memset(&set, 0, sizeof set);
	set.inter = c->hc.inter;
	set.rise = 2;
	set.fall = 3;
	set.jitter = c->hc.jitter;
	set.latency_step = c->hc.latency_step / 1000.0;
	set.end_quarantine = c->hc.end_quarantine;
	xasprintf(&unknown, "unknown setting of a %s check", t->name);
	rc = conf_table_names(conf, prober_check_opts, g, t->settings,
	    unknown, cause);
	free(unknown);
	if (rc == 0)
		rc = conf_table_apply(conf, &set, prober_check_opts, g, cause);
	if (rc != 0)
		goto fail;
	c->hc.inter = set.inter;
	c->hc.fastinter = set.fastinter != 0 ? set.fastinter : set.inter;
	c->hc.downinter = set.downinter != 0 ? set.downinter : set.inter;
	c->hc.rise = (unsigned)set.rise;
	c->hc.fall = (unsigned)set.fall;
	c->run.timeout = set.timeout != 0 ? set.timeout :
	    set.inter < 10 ? set.inter : 10;
	c->hc.jitter = set.jitter;
	c->hc.latency_step = set.latency_step * 1000.0;
	c->hc.end_quarantine = set.end_quarantine != 0;
	if (set.rise != (unsigned)set.rise || set.fall != (unsigned)set.fall) {
		prober_conf_error(cause, g, "rise", "rise and fall are counts");
		goto fail;
	}
	if ((c->run.conf = t->configure(g, cause)) == NULL) {
		if (*cause == NULL)
			prober_conf_error(cause, g, "check", "the %s plugin "
			    "refused its settings", t->name);
		goto fail;
	}
	return c;

fail:
	free(c);
	return NULL;
}

/*
 * Load plugins and parse the checks of c into checks[] (one per pool,
 * NULL where none); returns 0 or -1 with *cause, *max the inflight cap.
 */
static int
prober_parse(const struct conf *c, struct prober_check ***out,
    unsigned *max, char **cause)
{
	struct prober_check **checks;
	const char *dir = CHECKDIR;
	config_setting_t *s;
	double v = PROBER_INFLIGHT_DEFAULT;
	char *err;
	size_t i, j;

	*out = NULL;
	if (c->checks != NULL) {
		if (!config_setting_is_group(c->checks)) {
			prober_conf_error(cause, c->checks, "checks",
			    "expected a group { dir = ...; max_inflight = ...; }");
			return -1;
		}
		if (conf_table_names(c, prober_checks_opts, c->checks, NULL,
		    "unknown setting of checks (dir, max_inflight)",
		    cause) != 0)
			return -1;
		if ((s = config_setting_get_member(c->checks, "dir")) != NULL &&
		    ((dir = config_setting_get_string(s)) == NULL ||
		    *dir == '\0')) {
			prober_conf_error(cause, s, "checks.dir",
			    "expected a directory path");
			return -1;
		}
		if (conf_table_apply(c, &v, prober_checks_opts, c->checks,
		    cause) != 0)
			return -1;
	}
	*max = (unsigned)v;
	for (i = 0; i < c->npools && c->pools[i].check == NULL; i++)
		;
	if (i == c->npools)
		return 0;	/* no checks: plugins need not exist */
	if (plugin_load_dir(dir, &err) == -1) {
		s = c->checks ? config_setting_get_member(c->checks, "dir") :
		    NULL;
		if (s != NULL)
			prober_conf_error(cause, s, "checks.dir",
			    "cannot read the plugin directory: %s", err);
		else
			xasprintf(cause, "checks.dir: cannot read the plugin "
			    "directory: %s", err);
		free(err);
		return -1;
	}
	checks = xcalloc(c->npools, sizeof *checks);
	for (i = 0; i < c->npools; i++) {
		if (c->pools[i].check == NULL)
			continue;
		checks[i] = prober_check_parse(c, c->pools[i].check,
		    c->pools[i].evict_after, cause);
		if (checks[i] == NULL) {
			for (j = 0; j < i; j++)
				check_unref(checks[j]);
			free(checks);
			return -1;
		}
	}
	*out = checks;
	return 0;
}

int
prober_validate(const struct conf *c, char **cause)
{
	struct prober_check **checks;
	unsigned max;
	size_t i;

	if (prober_parse(c, &checks, &max, cause) != 0)
		return -1;
	for (i = 0; checks != NULL && i < c->npools; i++)
		check_unref(checks[i]);
	free(checks);
	return 0;
}

static struct prober_pool *
prober_pool_find(struct prober *pr, const char *name)
{
	struct prober_pool *pp;

	TAILQ_FOREACH(pp, &pr->pools, entry)
		if (strcmp(pp->name, name) == 0)
			return pp;
	return NULL;
}

/* Free a batch and the URLs it holds. */
static void
batch_free(struct prober_batch *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++)
		free(b->res[i].url);
	free(b);
}

static void
pool_unref(struct prober_pool *pp)
{
	if (pp == NULL || --pp->refs > 0)
		return;
	batch_free(pp->batch);
	if (pp->flush_ev != NULL)
		event_free(pp->flush_ev);
	check_unref(pp->check);
	free(pp->name);
	free(pp);
}

/* Every probe holds a descriptor: make room for them beside the clients
 * (and the gateway's connections, conf_fds_needed). */
static void
prober_raise_nofile(const struct conf *c, unsigned max)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)conf_fds_needed(c, max);

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
		log_warn("only %lu file descriptors for %d clients, %u "
		    "probes in flight (checks.max_inflight) and the gateway's "
		    "connections: %lu wanted", (unsigned long)rl.rlim_cur,
		    c->max_clients, max, (unsigned long)want);
}

int
prober_configure(struct prober *pr, const struct conf *c, char **cause)
{
	struct prober_check **checks;
	struct prober_pool *pp, *next;
	unsigned max;
	size_t i;

	if (prober_parse(c, &checks, &max, cause) != 0)
		return -1;
	pr->max_inflight = max;
	prober_raise_nofile(c, max);
	/* pools no longer checked stop; running probes finish quietly */
	for (pp = TAILQ_FIRST(&pr->pools); pp != NULL; pp = next) {
		next = TAILQ_NEXT(pp, entry);
		for (i = 0; checks != NULL && i < c->npools; i++)
			if (checks[i] != NULL &&
			    strcmp(c->pools[i].name, pp->name) == 0)
				break;
		if (checks == NULL || i == c->npools) {
			log_pool(LOG_LEVEL_INFO, pp->name, "health checks "
			    "stopped");
			TAILQ_REMOVE(&pr->pools, pp, entry);
			pp->dead = true;
			/* its claim in flight no longer holds slots */
			pr->reserved -= pp->claiming;
			pp->claiming = 0;
			prober_flush(pp);
			pool_unref(pp);
		}
	}
	for (i = 0; checks != NULL && i < c->npools; i++) {
		if (checks[i] == NULL)
			continue;
		if ((pp = prober_pool_find(pr, c->pools[i].name)) == NULL) {
			pp = xcalloc(1, sizeof *pp);
			pp->pr = pr;
			pp->refs = 1;
			pp->flush_ev = prober_event(pr->base, -1, 0,
			    prober_flush_cb, pp);
			pp->name = xstrdup(c->pools[i].name);
			pp->rate_at = prober_now();
			TAILQ_INSERT_TAIL(&pr->pools, pp, entry);
			log_pool(LOG_LEVEL_INFO, pp->name, "%s health check "
			    "every %gs, rise %u fall %u", checks[i]->run.type->name,
			    checks[i]->hc.inter, checks[i]->hc.rise,
			    checks[i]->hc.fall);
		} else
			check_unref(pp->check);
		pp->check = checks[i];	/* the reference moves */
		pp->sync_next = 0;	/* new items may be listed: sync now */
		pp->sync_cursor = 0;
	}
	free(checks);
	prober_kick(pr);
	return 0;
}

/* Count a verdict's reason among the pool's recent errors. */
static void
prober_count_error(struct prober_pool *pp, const char *reason)
{
	struct prober_error *e, *min = &pp->errors[0];
	size_t i, n;

	for (i = 0; i < PROBER_ERRORS; i++) {
		e = &pp->errors[i];
		if (strncmp(e->reason, reason, sizeof e->reason - 1) == 0 &&
		    e->count > 0) {
			e->count++;
			return;
		}
		if (e->count < min->count)
			min = e;
	}
	/* replace the rarest (space-saving counting) */
	n = strnlen(reason, sizeof min->reason - 1);
	memcpy(min->reason, reason, n);
	min->reason[n] = '\0';
	min->count = min->count + 1;
}

/* The report script answered: log state changes and evictions. */
static void
prober_reported(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct prober_batch *b = arg;
	struct prober_pool *pp = b->pp;
	struct prober *pr = b->pr;
	const struct ra_health_result *h;
	const struct prober_result *r;
	size_t i;
	char *red;

	if (res->err != RA_OK) {
		if (res->err != RA_ERR_NO_SUCH_POOL && !pp->dead)
			log_pool(LOG_LEVEL_WARN, pp->name, "%zu health results "
			    "not recorded: %s", b->n, res->errstr);
		goto out;
	}
	for (i = 0; i < res->u.hbatch.n && i < b->n; i++) {
		h = &res->u.hbatch.v[i];
		r = &b->res[i];
		if (h->gone ||
		    (h->state == h->prev && !h->evicted && !h->unquarantined))
			continue;
		/* a new proxy's first verdict (from unknown) is no event */
		if (pr != NULL && (h->evicted || (h->state != h->prev &&
		    h->prev != RA_HEALTH_UNKNOWN)))
			events_add(pr->events, pp->name, r->url, h->evicted ?
			    EV_EVICTED : h->state == RA_HEALTH_DOWN ? EV_DOWN :
			    EV_UP, 0, h->state == RA_HEALTH_DOWN ? r->reason :
			    NULL);
		red = proxyurl_redact(r->url);
		if (h->evicted)
			log_pool(LOG_LEVEL_WARN, pp->name, "%s evicted: down "
			    "for longer than evict_after (%gs)", red,
			    pp->check->hc.evict_after);
		else if (h->state != h->prev)
			log_pool(h->state == RA_HEALTH_DOWN ? LOG_LEVEL_WARN :
			    LOG_LEVEL_INFO, pp->name, "%s is %s (was %s)%s%s",
			    red, ra_health_name(h->state),
			    ra_health_name(h->prev), r->reason[0] ? ": " : "",
			    r->reason);
		else
			log_pool(LOG_LEVEL_INFO, pp->name, "%s back from "
			    "quarantine after a successful check", red);
		free(red);
	}
out:
	if (pr != NULL) {
		TAILQ_REMOVE(&pr->sent, b, entry);
		pr->nsent--;
	}
	pool_unref(pp);
	batch_free(b);
	if (pr != NULL)
		prober_send(pr);
}

/* Send ready batches while fewer than PROBER_SENDING_MAX are in flight. */
static void
prober_send(struct prober *pr)
{
	struct ra_health_probe probes[PROBER_BATCH];
	struct prober_batch *b;
	struct prober_pool *pp;
	struct ra_async *ra;
	double now = prober_now();
	size_t i;

	while (pr->nsent < PROBER_SENDING_MAX &&
	    (b = TAILQ_FIRST(&pr->ready)) != NULL) {
		TAILQ_REMOVE(&pr->ready, b, entry);
		pp = b->pp;
		if (pp->dead || (ra = pr->ra_fn(pr->ra_arg)) == NULL) {
			/* the claims expire: probed again later */
			pool_unref(pp);
			batch_free(b);
			continue;
		}
		for (i = 0; i < b->n; i++) {
			probes[i].item = b->res[i].url;
			probes[i].verdict =
			    (enum ra_probe_verdict)b->res[i].verdict;
			probes[i].latency_ms = b->res[i].latency_ms;
			probes[i].reason = b->res[i].reason;
			probes[i].elapsed_ms = (now - b->res[i].started) *
			    1000.0;
		}
		if (ra_async_health_report_batch(ra, pp->name, probes, b->n,
		    &pp->check->hc, prober_reported, b) != 0) {
			log_pool(LOG_LEVEL_WARN, pp->name, "cannot send %zu "
			    "health results to Redis", b->n);
			pool_unref(pp);
			batch_free(b);
			continue;
		}
		TAILQ_INSERT_TAIL(&pr->sent, b, entry);
		pr->nsent++;
	}
}

/* The pool's pending results are complete: queue them for sending. */
static void
prober_flush(struct prober_pool *pp)
{
	struct prober *pr = pp->pr;
	struct prober_batch *b = pp->batch;

	evtimer_del(pp->flush_ev);
	if (b == NULL)
		return;
	pp->batch = NULL;
	if (pp->dead) {
		batch_free(b);
		return;
	}
	b->pr = pr;
	b->pp = pp;
	pp->refs++;
	TAILQ_INSERT_TAIL(&pr->ready, b, entry);
	prober_send(pr);
}

static void
prober_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	prober_flush(arg);
}

/* Queue a scheduled probe's verdict for Redis: sent with others of the
 * pool when the batch is full or a few ms later. */
static void
prober_report(struct prober_pool *pp, const char *url, double started,
    const struct pp_result *res)
{
	struct prober_result *r;
	struct timeval tv = { 0, PROBER_FLUSH_MS * 1000 };

	if (pp->dead)
		return;
	if (pp->batch == NULL) {
		pp->batch = xcalloc(1, sizeof *pp->batch);
		evtimer_add(pp->flush_ev, &tv);
	}
	r = &pp->batch->res[pp->batch->n++];
	r->url = xstrdup(url);
	r->verdict = res->verdict;
	r->latency_ms = res->latency_ms;
	r->started = started;
	memcpy(r->reason, res->reason, sizeof r->reason);
	if (pp->batch->n == PROBER_BATCH)
		prober_flush(pp);
}

/* A probe of pool pp with check c is over: its slot and the references
 * it held go. */
static void
prober_probe_done(struct prober_pool *pp, struct prober_check *c)
{
	pp->pr->inflight--;
	pp->inflight--;
	pool_unref(pp);
	check_unref(c);
}

/* The check a probe ran: probe.c gives back the run member, the first. */
static struct prober_check *
prober_check_of(struct probe_check *run)
{
	return (struct prober_check *)run;
}

/* A scheduled probe's verdict (probe_verdict_fn, arg the pool): count
 * it, queue it for Redis. */
static void
prober_verdict(void *arg, struct probe_check *check, const char *url,
    double started, struct pp_result *res)
{
	struct prober_pool *pp = arg;

	if (res != NULL) {
		pp->probes++;
		pp->verdicts[res->verdict]++;
		if (res->latency_ms >= 0)
			hist_observe(&pp->latency, res->latency_ms / 1000.0);
		pp->pr->total++;
		if (res->verdict != PP_UP && res->reason[0] != '\0')
			prober_count_error(pp, res->reason);
		prober_report(pp, url, started, res);
	}
	prober_probe_done(pp, prober_check_of(check));
}

/* An on-demand probe's verdict (arg a struct prober_ondemand): to its
 * caller only, the health state is not touched. */
static void
prober_ondemand_verdict(void *arg, struct probe_check *check,
    const char *url, double started, struct pp_result *res)
{
	struct prober_ondemand *od = arg;

	if (res != NULL)
		od->fn(od->arg, res);
	prober_probe_done(od->pp, prober_check_of(check));
	free(od);
}

/* Start a probe of pp's check on url, fn(arg) getting its verdict; the
 * probe holds a slot and references to the pool and the check (a reload
 * may replace pp->check meanwhile).  -1 with *cause. */
static int
prober_start(struct prober_pool *pp, const char *url, probe_verdict_fn *fn,
    void *arg, char **cause)
{
	struct prober_check *c = pp->check;

	pp->refs++;
	c->refs++;
	pp->pr->inflight++;
	pp->inflight++;
	if (probe_start(pp->pr->probes, &c->run, pp->name, url, fn, arg,
	    cause) != 0) {
		prober_probe_done(pp, c);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Claiming due checks                                                  */
/* ------------------------------------------------------------------ */

/* Free slots for new claims. */
static unsigned
prober_slots(struct prober *pr)
{
	unsigned used = pr->inflight + pr->reserved;

	return used >= pr->max_inflight ? 0 : pr->max_inflight - used;
}

/* Claim results: start a probe for each. */
static void
prober_claimed(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct prober_pool *pp = arg;
	struct prober *pr = pp->pr;
	bool full = false;
	char *cause, *red;
	size_t i;

	/* a dead pool gave its slots back; its prober may even be gone
	 * (answers drained at exit) */
	if (!pp->dead)
		pr->reserved -= pp->claiming;
	if (pp->dead || res->err != RA_OK) {
		if (!pp->dead && res->err != RA_ERR_NO_SUCH_POOL &&
		    res->err != RA_ERR_BACKEND_DOWN)
			log_pool(LOG_LEVEL_WARN, pp->name, "claiming checks: "
			    "%s", res->errstr);
		goto out;
	}
	for (i = 0; i < res->u.strs.n; i++) {
		if (prober_start(pp, res->u.strs.v[i], prober_verdict, pp,
		    &cause) != 0) {
			red = proxyurl_redact(res->u.strs.v[i]);
			log_pool(LOG_LEVEL_WARN, pp->name, "%s: cannot probe: "
			    "%s", red, cause);
			free(red);
			free(cause);
		}
	}
	/* a full batch: more may be due, claim again without waiting */
	full = res->u.strs.n > 0 && res->u.strs.n == pp->claiming;
out:
	pp->claiming = 0;
	pool_unref(pp);
	if (full)
		prober_kick(pr);
}

/* Seconds between two passes giving new items a due time: a new item
 * waits at most about one interval for its first probe, and a big pool
 * is not scanned more often than it is probed. */
static double
prober_sync_every(const struct prober_pool *pp)
{
	return pp->check->hc.inter > PROBER_SYNC_EVERY ? pp->check->hc.inter :
	    PROBER_SYNC_EVERY;
}

/* The sync script answered: continue the pass or rest. */
static void
prober_synced(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct prober_pool *pp = arg;

	pp->syncing = false;
	if (res->err == RA_OK) {
		pp->sync_cursor = (unsigned long long)res->u.integer;
		if (pp->sync_cursor == 0)
			pp->sync_next = pp->sync_again ? 0 :
			    prober_now() + prober_sync_every(pp);
		pp->sync_again = false;
	} else {
		if (!pp->dead && res->err != RA_ERR_NO_SUCH_POOL &&
		    res->err != RA_ERR_BACKEND_DOWN)
			log_pool(LOG_LEVEL_WARN, pp->name, "scheduling checks: "
			    "%s", res->errstr);
		pp->sync_cursor = 0;
		pp->sync_next = prober_now() + prober_sync_every(pp);
	}
	pool_unref(pp);
}

/* Claim due checks of every pool within the free slots, and keep every
 * pool's due set in step with its items. */
static void
prober_claim(struct prober *pr)
{
	struct prober_pool *pp;
	struct ra_async *ra;
	unsigned slots, share, npools = 0;
	double now = prober_now();

	if ((ra = pr->ra_fn(pr->ra_arg)) == NULL)
		return;
	TAILQ_FOREACH(pp, &pr->pools, entry)
		npools++;
	TAILQ_FOREACH(pp, &pr->pools, entry) {
		if (!pp->syncing && (pp->sync_cursor != 0 ||
		    now >= pp->sync_next)) {
			pp->syncing = true;
			pp->refs++;
			if (ra_async_health_sync(ra, pp->name, pp->sync_cursor,
			    PROBER_SYNC_BATCH, pp->check->hc.inter,
			    prober_synced, pp) != 0) {
				pp->syncing = false;
				pp->refs--;
			}
		}
		if (pp->claiming || (slots = prober_slots(pr)) == 0)
			continue;
		share = slots / (npools ? npools : 1);
		if (share == 0)
			share = 1;
		if (share > PROBER_CLAIM_MAX)
			share = PROBER_CLAIM_MAX;
		pp->claiming = share;
		pr->reserved += share;
		pp->refs++;
		if (ra_async_health_claim(ra, pp->name, share,
		    pp->check->run.timeout + 2.0, prober_claimed, pp) != 0) {
			pr->reserved -= share;
			pp->claiming = 0;
			pp->refs--;
		}
	}
}

/* Smooth the probe rates (called every tick). */
static void
prober_rates(struct prober *pr)
{
	struct prober_pool *pp;
	double now = prober_now(), dt;

	if ((dt = now - pr->rate_at) < 1.0)
		return;
	pr->rate = 0.5 * pr->rate + 0.5 * (double)(pr->total -
	    pr->rate_total) / dt;
	pr->rate_total = pr->total;
	pr->rate_at = now;
	TAILQ_FOREACH(pp, &pr->pools, entry) {
		dt = now - pp->rate_at;
		pp->rate = 0.5 * pp->rate + 0.5 * (double)(pp->probes -
		    pp->rate_probes) / dt;
		pp->rate_probes = pp->probes;
		pp->rate_at = now;
	}
}

static void
prober_tick(evutil_socket_t fd, short what, void *arg)
{
	struct prober *pr = arg;
	/* 0.5 to 1.5 ticks: instances on one Redis whose ticks kept one
	 * phase would leave every due check to the one just after it */
	struct timeval tv = { 0, PROBER_TICK_MS * 500 +
	    random() % (PROBER_TICK_MS * 1000) };

	prober_rates(pr);
	probes_sweep(pr->probes);
	prober_claim(pr);
	evtimer_add(pr->tick, &tv);
}

void
prober_kick(struct prober *pr)
{
	struct timeval tv = { 0, 0 };

	evtimer_add(pr->tick, &tv);
}

void
prober_items_added(struct prober *pr, const char *pool)
{
	struct prober_pool *pp;

	TAILQ_FOREACH(pp, &pr->pools, entry) {
		if (pp->dead || (pool != NULL && strcmp(pp->name, pool) != 0))
			continue;
		if (pp->syncing || pp->sync_cursor != 0)
			pp->sync_again = true;	/* after this pass */
		else
			pp->sync_next = 0;
	}
	prober_kick(pr);
}

/* ------------------------------------------------------------------ */
/* Life cycle, on-demand checks, statistics                            */
/* ------------------------------------------------------------------ */

void
prober_set_events(struct prober *pr, struct events *ev)
{
	pr->events = ev;
}

struct prober *
prober_create(struct curlev *curl, prober_ra_fn *ra_fn, void *ra_arg)
{
	struct event_base *base = curlev_base(curl);
	struct prober *pr;

	pr = xcalloc(1, sizeof *pr);
	pr->base = base;
	pr->ra_fn = ra_fn;
	pr->ra_arg = ra_arg;
	pr->max_inflight = PROBER_INFLIGHT_DEFAULT;
	pr->rate_at = prober_now();
	TAILQ_INIT(&pr->pools);
	TAILQ_INIT(&pr->ready);
	TAILQ_INIT(&pr->sent);
	/* before any event is active (the loop has not started yet), and
	 * before the events of the probes are made */
	if (event_base_get_npriorities(base) < PROBER_PRIORITIES &&
	    event_base_priority_init(base, PROBER_PRIORITIES) != 0)
		log_warn("cannot set event priorities: probes compete with "
		    "clients");
	pr->probes = probes_create(curl);
	pr->tick = prober_event(base, -1, 0, prober_tick, pr);
	prober_kick(pr);
	return pr;
}

int
prober_priority(const struct prober *pr)
{
	return event_base_get_npriorities(pr->base) >= PROBER_PRIORITIES ?
	    PROBER_PRIORITY : -1;
}

void
prober_destroy(struct prober *pr)
{
	struct prober_batch *b;
	struct prober_pool *pp;

	if (pr == NULL)
		return;
	/* first: the verdicts of the cancelled probes release their pools */
	probes_destroy(pr->probes);
	pr->probes = NULL;
	while ((pp = TAILQ_FIRST(&pr->pools)) != NULL) {
		TAILQ_REMOVE(&pr->pools, pp, entry);
		pp->dead = true;
		prober_flush(pp);
		pool_unref(pp);
	}
	while ((b = TAILQ_FIRST(&pr->ready)) != NULL) {
		TAILQ_REMOVE(&pr->ready, b, entry);
		pool_unref(b->pp);
		batch_free(b);
	}
	/* answers still to come must not find the prober */
	TAILQ_FOREACH(b, &pr->sent, entry)
		b->pr = NULL;
	event_free(pr->tick);
	free(pr);
}

int
prober_check_now(struct prober *pr, const char *pool, const char *url,
    prober_done_fn *fn, void *arg, char **cause)
{
	struct prober_ondemand *od;
	struct prober_pool *pp;

	if ((pp = prober_pool_find(pr, pool)) == NULL) {
		xasprintf(cause, "no checks configured");
		return -1;
	}
	od = xcalloc(1, sizeof *od);
	od->pp = pp;
	od->fn = fn;
	od->arg = arg;
	if (prober_start(pp, url, prober_ondemand_verdict, od, cause) != 0) {
		free(od);
		return -1;
	}
	return 0;
}

void
prober_stats(struct prober *pr, const char *pool, struct prober_stats *st)
{
	struct prober_pool *pp;
	size_t i, len = 0;
	int n;

	memset(st, 0, sizeof *st);
	st->errors = "";
	if ((pp = prober_pool_find(pr, pool)) == NULL)
		return;
	st->active = true;
	st->type = pp->check->run.type->name;
	st->probes = pp->probes;
	st->probes_per_sec = pp->rate;
	st->inflight = pp->inflight;
	st->up = pp->verdicts[PP_UP];
	st->warn = pp->verdicts[PP_WARN];
	st->down = pp->verdicts[PP_DOWN];
	st->unknown = pp->verdicts[PP_UNKNOWN];
	st->latency = pp->latency;
	pp->errtext[0] = '\0';
	for (i = 0; i < PROBER_ERRORS; i++) {
		if (pp->errors[i].count == 0)
			continue;
		n = snprintf(pp->errtext + len, sizeof pp->errtext - len,
		    "%s%s=%llu", len ? "," : "", pp->errors[i].reason,
		    pp->errors[i].count);
		if (n < 0 || (size_t)n >= sizeof pp->errtext - len)
			break;
		len += (size_t)n;
	}
	st->errors = pp->errtext;
}

void
prober_totals(struct prober *pr, unsigned long long *probes,
    unsigned *inflight, double *per_sec)
{
	*probes = pr->total;
	*inflight = pr->inflight;
	*per_sec = pr->rate;
}
