/*
 * prober.c: active health checks on the daemon's loop.
 *
 * Scheduling lives in Redis: each pool has a ZSET of next-due times; a
 * tick claims due entries (one script pops and reschedules them, so
 * several daemons share the work) within the cap on probes in flight.
 * Curl checks run on one curl multi handle driven by libevent (socket and
 * timer callbacks, as curl's hiperfifo example); plugins without curl
 * start a child whose pipe and exit are watched on the loop.  Each
 * verdict goes back to Redis in one script that applies rise/fall,
 * latency, quarantine while DOWN, eviction and the next due time.
 *
 * Per probe the daemon does as little as it can: easy handles are reset
 * and reused (curl_easy_reset keeps their allocations), and a proxy URL
 * is split into the parts the plugins get once, then found in a table
 * (entries unused for a while are dropped).  Every call of the prober
 * goes on the daemon's second Redis connection (see redis.h).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <curl/curl.h>

#include "conf.h"
#include "log.h"
#include "plugin.h"
#include "prober.h"
#include "pp_util.h"
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
#define PROBER_OUT_MAX		4096	/* bytes of child output kept */
#define PROBER_REAP_MS		10	/* polls for a child that closed */
#define PROBER_ERRORS		8	/* reasons counted per pool */
#define PROBER_BATCH		64	/* results per report call (~5 us of
					 * Redis time each) */
#define PROBER_FLUSH_MS		50	/* a partial batch waits this long:
					 * batches fill at a few thousand
					 * probes/s, and a state change is
					 * recorded at most this much later */
#define PROBER_SENDING_MAX	2	/* report calls in flight: a LEASE
					 * never queues behind many */
#define PROBER_IDLE_HANDLES	256	/* reset easy handles kept for reuse */
#define PROBER_PROXY_SWEEP	60.0	/* s between sweeps of the URL table:
					 * an entry unused since the last one
					 * goes */

/* One pool's check: immutable once built, shared by its probes. */
struct prober_check {
	int				 refs;	/* pool + running probes */
	const struct pp_check_type	*type;	/* (ref) plugin descriptor */
	void				*conf;	/* plugin config, type->free */
	struct ra_health_conf		 hc;	/* rise/fall/intervals */
	double				 timeout; /* s per probe */
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
	unsigned		 inflight;	/* probes running */
	unsigned long long	 probes;	/* probes finished */
	unsigned long long	 verdicts[4];	/* by enum pp_verdict */
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

/* A proxy URL split into the parts the plugins get, in the URL table. */
struct prober_proxy {
	int			 refs;		/* probes using it */
	bool			 used;		/* since the last sweep */
	const char		*url;		/* the strings live after the */
	const char		*scheme;	/* struct, one allocation */
	const char		*host;
	const char		*user;		/* or NULL */
	const char		*password;	/* or NULL */
	int			 port;
	struct prober_proxy	*next;		/* in its bucket */
};

/* One probe running. */
struct probe {
	struct prober		*pr;		/* (ref) */
	struct prober_pool	*pp;		/* counted reference */
	struct prober_check	*check;		/* counted reference */
	struct prober_proxy	*proxy;		/* counted reference */
	const char		*url;		/* proxy->url */
	struct pp_proxy		 px;		/* points into proxy */
	double			 started;	/* monotonic s */

	CURL			*h;		/* curl checks: owned handle */
	void			*state;		/* plugin per-probe state */

	struct pp_child		 child;		/* spawn checks */
	struct event		*ev_read;	/* owned: child output */
	struct event		*ev_timer;	/* owned: deadline, reap polls */
	char			*out;		/* owned child output, NUL-ended */
	size_t			 outlen;
	bool			 eof;		/* output closed */
	bool			 killed;	/* timed out, group killed */

	prober_done_fn		*fn;		/* on-demand: callback, or NULL */
	void			*arg;		/* its argument */
	bool			 ondemand;	/* a CHECK, not a scheduled probe */
	TAILQ_ENTRY(probe)	 entry;
};
TAILQ_HEAD(probe_list, probe);

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

/* A socket curl asked us to watch. */
struct prober_sock {
	struct prober		*pr;		/* (ref) */
	curl_socket_t		 fd;
	struct event		*ev;		/* owned */
};

struct prober {
	struct event_base	*base;		/* (ref) the daemon's loop */
	prober_ra_fn		*ra_fn;		/* gives the Redis handle */
	void			*ra_arg;
	CURLM			*multi;		/* owned */
	struct event		*curl_timer;	/* owned: curl's timeout */
	struct event		*tick;		/* owned: claim timer */
	unsigned		 max_inflight;	/* cap on probes running */
	unsigned		 inflight;	/* probes running */
	unsigned		 reserved;	/* slots of claims in flight */
	struct prober_pool_list	 pools;
	struct probe_list	 probes;	/* running probes */
	struct prober_batch_list ready;		/* batches waiting to be sent */
	struct prober_batch_list sent;		/* batches in flight */
	unsigned		 nsent;		/* entries in sent */
	unsigned long long	 total;		/* probes finished */
	double			 rate;		/* probes/s, smoothed */
	unsigned long long	 rate_total;	/* total at rate_at */
	double			 rate_at;
	CURL			*idle[PROBER_IDLE_HANDLES]; /* owned, reset */
	unsigned		 nidle;
	struct prober_proxy	**proxies;	/* owned URL table */
	size_t			 nbuckets;	/* a power of two, or 0 */
	size_t			 nproxies;
	double			 proxy_sweep;	/* monotonic s of the next sweep */
};

static void	probe_finish(struct probe *p, struct pp_result *res);
static void	prober_flush_cb(evutil_socket_t fd, short what, void *arg);
static void	prober_flush(struct prober_pool *pp);
static void	prober_send(struct prober *pr);

/* A new event of the prober, at its priority. */
static struct event *
prober_event(struct event_base *base, evutil_socket_t fd, short what,
    event_callback_fn cb, void *arg)
{
	struct event *ev;

	if ((ev = event_new(base, fd, what, cb, arg)) == NULL) {
		log_error("out of memory");
		abort();
	}
	if (event_base_get_npriorities(base) >= PROBER_PRIORITIES)
		event_priority_set(ev, PROBER_PRIORITY);
	return ev;
}

/* Monotonic seconds. */
static double
prober_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* Configuration                                                        */
/* ------------------------------------------------------------------ */

static void
check_unref(struct prober_check *c)
{
	if (c == NULL || --c->refs > 0)
		return;
	c->type->free(c->conf);
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
	c->type = t;
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
	c->timeout = set.timeout != 0 ? set.timeout :
	    set.inter < 10 ? set.inter : 10;
	c->hc.jitter = set.jitter;
	c->hc.latency_step = set.latency_step * 1000.0;
	c->hc.end_quarantine = set.end_quarantine != 0;
	if (set.rise != (unsigned)set.rise || set.fall != (unsigned)set.fall) {
		prober_conf_error(cause, g, "rise", "rise and fall are counts");
		goto fail;
	}
	if ((c->conf = t->configure(g, cause)) == NULL) {
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

/* Every probe holds a descriptor: make room for them beside the clients. */
static void
prober_raise_nofile(const struct conf *c, unsigned max)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)c->max_clients + max + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
		log_warn("only %lu file descriptors for %d clients and %u "
		    "probes in flight (checks.max_inflight)",
		    (unsigned long)rl.rlim_cur, c->max_clients, max);
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
			    "every %gs, rise %u fall %u", checks[i]->type->name,
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

/* ------------------------------------------------------------------ */
/* libcurl multi on libevent (hiperfifo)                                */
/* ------------------------------------------------------------------ */

/* Collect finished transfers. */
static void
prober_curl_done(struct prober *pr)
{
	struct pp_result res;
	struct probe *p;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(pr->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		p = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&p);
		if (p == NULL)
			continue;
		memset(&res, 0, sizeof res);
		res.verdict = PP_UNKNOWN;
		res.latency_ms = pp_curl_ms(p->h, CURLINFO_TOTAL_TIME_T);
		p->check->type->judge(p->check->conf, &p->px, p->h,
		    m->data.result, p->state, &res);
		p->state = NULL;
		probe_finish(p, &res);
	}
}

static void
prober_curl_event(evutil_socket_t fd, short what, void *arg)
{
	struct prober *pr = arg;
	int running, action = 0;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(pr->multi, fd, action, &running);
	prober_curl_done(pr);
}

static void
prober_curl_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct prober *pr = arg;
	int running;

	curl_multi_socket_action(pr->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	prober_curl_done(pr);
}

/* CURLMOPT_TIMERFUNCTION */
static int
prober_curl_timer(CURLM *multi, long ms, void *arg)
{
	struct prober *pr = arg;
	struct timeval tv;

	if (ms < 0) {
		evtimer_del(pr->curl_timer);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(pr->curl_timer, &tv);
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION */
static int
prober_curl_socket(CURL *h, curl_socket_t fd, int what, void *arg,
    void *sockp)
{
	struct prober *pr = arg;
	struct prober_sock *s = sockp;
	short ev;

	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			event_free(s->ev);
			free(s);
			curl_multi_assign(pr->multi, fd, NULL);
		}
		return 0;
	}
	ev = EV_PERSIST;
	if (what & CURL_POLL_IN)
		ev |= EV_READ;
	if (what & CURL_POLL_OUT)
		ev |= EV_WRITE;
	if (s == NULL) {
		s = xcalloc(1, sizeof *s);
		s->pr = pr;
		s->fd = fd;
		s->ev = prober_event(pr->base, fd, ev, prober_curl_event, pr);
		curl_multi_assign(pr->multi, fd, s);
	} else {
		/* same socket, new interest: reuse the event */
		event_del(s->ev);
		event_assign(s->ev, pr->base, fd, ev, prober_curl_event, pr);
		if (event_base_get_npriorities(pr->base) >= PROBER_PRIORITIES)
			event_priority_set(s->ev, PROBER_PRIORITY);
	}
	event_add(s->ev, NULL);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Probes                                                               */
/* ------------------------------------------------------------------ */

/* FNV-1a of a URL. */
static size_t
proxy_hash(const char *url)
{
	size_t h = 2166136261u;

	for (; *url != '\0'; url++)
		h = (h ^ (unsigned char)*url) * 16777619u;
	return h;
}

/* Double the URL table (or make it), rehashing every entry. */
static void
proxy_grow(struct prober *pr)
{
	struct prober_proxy **nb, *e, *next;
	size_t i, n = pr->nbuckets ? pr->nbuckets * 2 : 256, b;

	nb = xcalloc(n, sizeof *nb);
	for (i = 0; i < pr->nbuckets; i++)
		for (e = pr->proxies[i]; e != NULL; e = next) {
			next = e->next;
			b = proxy_hash(e->url) & (n - 1);
			e->next = nb[b];
			nb[b] = e;
		}
	free(pr->proxies);
	pr->proxies = nb;
	pr->nbuckets = n;
}

/* Copy s to *at; returns the copy, moves *at past it. */
static const char *
proxy_put(char **at, const char *s)
{
	char *d = *at;
	size_t n = strlen(s) + 1;

	memcpy(d, s, n);
	*at += n;
	return d;
}

/* Split url into the parts the plugins get (one allocation); NULL with
 * *cause. */
static struct prober_proxy *
proxy_parse(const char *url, char **cause)
{
	struct proxyurl_parts pt;
	struct prober_proxy *e;
	const char *user, *pass;
	char *at;
	size_t len;

	if (proxyurl_split(url, &pt, cause) != 0)
		return NULL;
	user = pt.user;
	pass = pt.password;
	len = sizeof *e + strlen(url) + 1 + strlen(pt.scheme) + 1 +
	    strlen(pt.host) + 1 + (user ? strlen(user) + 1 : 0) +
	    (pass ? strlen(pass) + 1 : 0);
	e = xcalloc(1, len);
	at = (char *)(e + 1);
	e->url = proxy_put(&at, url);
	e->scheme = proxy_put(&at, pt.scheme);
	e->host = proxy_put(&at, pt.host);
	e->user = user ? proxy_put(&at, user) : NULL;
	e->password = pass ? proxy_put(&at, pass) : NULL;
	e->port = pt.port;
	proxyurl_parts_free(&pt);
	return e;
}

/* The parts of url, parsed on its first probe; NULL with *cause. */
static struct prober_proxy *
proxy_get(struct prober *pr, const char *url, char **cause)
{
	struct prober_proxy *e;
	size_t b;

	if (pr->nbuckets != 0) {
		b = proxy_hash(url) & (pr->nbuckets - 1);
		for (e = pr->proxies[b]; e != NULL; e = e->next)
			if (strcmp(e->url, url) == 0)
				goto found;
	}
	if ((e = proxy_parse(url, cause)) == NULL)
		return NULL;
	if (pr->nproxies >= pr->nbuckets)
		proxy_grow(pr);
	b = proxy_hash(url) & (pr->nbuckets - 1);
	e->next = pr->proxies[b];
	pr->proxies[b] = e;
	pr->nproxies++;
found:
	e->refs++;
	e->used = true;
	return e;
}

/* Drop the entries no probe used since the last sweep (all: at exit). */
static void
proxy_sweep(struct prober *pr, bool all)
{
	struct prober_proxy **ep, *e;
	size_t i;

	for (i = 0; i < pr->nbuckets; i++) {
		ep = &pr->proxies[i];
		while ((e = *ep) != NULL) {
			if (all || (!e->used && e->refs == 0)) {
				*ep = e->next;
				free(e);
				pr->nproxies--;
				continue;
			}
			e->used = false;
			ep = &e->next;
		}
	}
	if (all) {
		free(pr->proxies);
		pr->proxies = NULL;
		pr->nbuckets = 0;
	}
}

/* An easy handle for a probe: a reset one from earlier probes if any. */
static CURL *
prober_handle(struct prober *pr)
{
	if (pr->nidle > 0)
		return pr->idle[--pr->nidle];
	return curl_easy_init();
}

/* A probe is done with h (removed from the multi handle): keep it. */
static void
prober_handle_put(struct prober *pr, CURL *h)
{
	if (pr->nidle == PROBER_IDLE_HANDLES) {
		curl_easy_cleanup(h);
		return;
	}
	curl_easy_reset(h);
	pr->idle[pr->nidle++] = h;
}

static void
probe_free(struct probe *p)
{
	struct prober *pr = p->pr;

	TAILQ_REMOVE(&pr->probes, p, entry);
	pr->inflight--;
	p->pp->inflight--;
	if (p->h != NULL) {
		curl_multi_remove_handle(pr->multi, p->h);
		prober_handle_put(pr, p->h);
	}
	if (p->ev_read != NULL)
		event_free(p->ev_read);
	if (p->ev_timer != NULL)
		event_free(p->ev_timer);
	if (p->child.fd >= 0)
		close(p->child.fd);
	free(p->out);
	pool_unref(p->pp);
	check_unref(p->check);
	if (p->proxy != NULL)
		p->proxy->refs--;
	free(p);
}

/* The parts of the probe's URL for the plugins; -1 with *cause. */
static int
probe_parse_url(struct probe *p, const char *url, char **cause)
{
	struct prober_proxy *e;

	if ((e = proxy_get(p->pr, url, cause)) == NULL)
		return -1;
	p->proxy = e;
	p->url = e->url;
	p->px.url = e->url;
	p->px.scheme = e->scheme;
	p->px.host = e->host;
	p->px.port = e->port;
	p->px.user = e->user;
	p->px.password = e->password;
	p->px.pool = p->pp->name;
	return 0;
}

/* Try to reap the child; true once it is gone (status in *st). */
static bool
probe_child_reaped(struct probe *p, int *st)
{
	pid_t r;

	do
		r = waitpid(p->child.pid, st, WNOHANG);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return false;
	if (r == -1)
		*st = -2;	/* reaped by someone else: status lost */
	return true;
}

/* The child is reaped (or lost): judge it. */
static void
probe_child_done(struct probe *p, int st)
{
	struct pp_result res;

	memset(&res, 0, sizeof res);
	res.verdict = PP_UNKNOWN;
	res.latency_ms = (prober_now() - p->started) * 1000.0;
	p->out[p->outlen] = '\0';
	if (st == -2) {
		snprintf(res.reason, sizeof res.reason,
		    "child exit status lost");
	} else
		p->check->type->reap(p->check->conf, &p->px, p->out,
		    p->outlen, p->killed ? -1 : st, &res);
	probe_finish(p, &res);
}

/* Deadline, or a poll for a child that closed its output. */
static void
probe_child_timer(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct timeval tv = { 0, PROBER_REAP_MS * 1000 };
	double left;
	int st;

	if (probe_child_reaped(p, &st)) {
		probe_child_done(p, st);
		return;
	}
	left = p->check->timeout - (prober_now() - p->started);
	if (!p->killed && left <= 0) {
		/* the whole group: a shell's children hold the pipe too */
		kill(-p->child.pid, SIGKILL);
		p->killed = true;
	} else if (!p->killed && !p->eof) {
		/* still talking: wake at the deadline */
		tv.tv_sec = (time_t)left;
		tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec) * 1e6);
	}
	/* else poll until it is reaped */
	evtimer_add(p->ev_timer, &tv);
}

static void
probe_child_read(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	char sink[1024];
	struct timeval tv = { 0, 0 };
	ssize_t n;
	int st;

	for (;;) {
		if (p->outlen < PROBER_OUT_MAX)
			n = read(fd, p->out + p->outlen,
			    PROBER_OUT_MAX - p->outlen);
		else
			n = read(fd, sink, sizeof sink);
		if (n > 0) {
			if (p->outlen < PROBER_OUT_MAX)
				p->outlen += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		break;	/* EOF or error: the output is over */
	}
	event_del(p->ev_read);
	close(p->child.fd);
	p->child.fd = -1;
	p->eof = true;
	if (probe_child_reaped(p, &st)) {
		probe_child_done(p, st);
		return;
	}
	tv.tv_usec = PROBER_REAP_MS * 1000;
	evtimer_del(p->ev_timer);
	evtimer_add(p->ev_timer, &tv);
}

/* Start one probe; -1 with *cause (nothing left running). */
static int
probe_start(struct prober *pr, struct prober_pool *pp, const char *url,
    prober_done_fn *fn, void *arg, bool ondemand, char **cause)
{
	struct prober_check *c = pp->check;
	struct timeval tv;
	struct probe *p;
	long ms;

	p = xcalloc(1, sizeof *p);
	p->pr = pr;
	p->pp = pp;
	pp->refs++;
	p->check = c;
	c->refs++;
	p->child.fd = -1;
	p->fn = fn;
	p->arg = arg;
	p->ondemand = ondemand;
	p->started = prober_now();
	TAILQ_INSERT_TAIL(&pr->probes, p, entry);
	pr->inflight++;
	pp->inflight++;
	if (probe_parse_url(p, url, cause) != 0)
		goto fail;

	if (c->type->spawn != NULL) {
		if (c->type->spawn(c->conf, &p->px, &p->child, cause) != 0) {
			p->child.fd = -1;
			goto fail;
		}
		p->out = xmalloc(PROBER_OUT_MAX + 1);
		p->ev_read = prober_event(pr->base, p->child.fd,
		    EV_READ | EV_PERSIST, probe_child_read, p);
		p->ev_timer = prober_event(pr->base, -1, 0, probe_child_timer,
		    p);
		event_add(p->ev_read, NULL);
		tv.tv_sec = (time_t)c->timeout;
		tv.tv_usec = (suseconds_t)((c->timeout - (double)tv.tv_sec) *
		    1e6);
		evtimer_add(p->ev_timer, &tv);
		return 0;
	}

	if ((p->h = prober_handle(pr)) == NULL) {
		xasprintf(cause, "cannot create a transfer");
		goto fail;
	}
	ms = (long)(c->timeout * 1000.0);
	curl_easy_setopt(p->h, CURLOPT_PRIVATE, p);
	curl_easy_setopt(p->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->h, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(p->h, CURLOPT_CONNECTTIMEOUT_MS, ms);
	curl_easy_setopt(p->h, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(p->h, CURLOPT_FORBID_REUSE, 1L);
	/* a reused handle must probe as a fresh one: no TLS resumption */
	curl_easy_setopt(p->h, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	/* no proxy environment to consult per probe */
	curl_easy_setopt(p->h, CURLOPT_NOPROXY, "");
	curl_easy_setopt(p->h, CURLOPT_USERAGENT, "proxypoold-check/"
	    PACKAGE_VERSION);
	if (c->type->prepare(c->conf, &p->px, p->h, &p->state, cause) != 0)
		goto fail;
	if (curl_multi_add_handle(pr->multi, p->h) != CURLM_OK) {
		xasprintf(cause, "cannot queue the transfer");
		/* prepare succeeded: judge must see it to free its state */
		{
			struct pp_result res;

			memset(&res, 0, sizeof res);
			c->type->judge(c->conf, &p->px, p->h,
			    CURLE_FAILED_INIT, p->state, &res);
			p->state = NULL;
		}
		curl_easy_cleanup(p->h);
		p->h = NULL;
		goto fail;
	}
	return 0;

fail:
	if (p->h != NULL) {
		curl_easy_cleanup(p->h);
		p->h = NULL;
	}
	probe_free(p);
	return -1;
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
prober_report(struct probe *p, const struct pp_result *res)
{
	struct prober_pool *pp = p->pp;
	struct prober_result *r;
	struct timeval tv = { 0, PROBER_FLUSH_MS * 1000 };

	if (pp->dead)
		return;
	if (pp->batch == NULL) {
		pp->batch = xcalloc(1, sizeof *pp->batch);
		evtimer_add(pp->flush_ev, &tv);
	}
	r = &pp->batch->res[pp->batch->n++];
	r->url = xstrdup(p->url);
	r->verdict = res->verdict;
	r->latency_ms = res->latency_ms;
	r->started = p->started;
	memcpy(r->reason, res->reason, sizeof r->reason);
	if (pp->batch->n == PROBER_BATCH)
		prober_flush(pp);
}

/* A probe is over: deliver its verdict and free it. */
static void
probe_finish(struct probe *p, struct pp_result *res)
{
	struct prober_pool *pp = p->pp;

	if ((unsigned)res->verdict > PP_UNKNOWN)
		res->verdict = PP_UNKNOWN;
	res->reason[sizeof res->reason - 1] = '\0';
	if (p->ondemand) {
		if (p->fn != NULL)
			p->fn(p->arg, res);
	} else {
		pp->probes++;
		pp->verdicts[res->verdict]++;
		p->pr->total++;
		if (res->verdict != PP_UP && res->reason[0] != '\0')
			prober_count_error(pp, res->reason);
		prober_report(p, res);
	}
	probe_free(p);
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
		if (probe_start(pr, pp, res->u.strs.v[i], NULL, NULL, false,
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
			pp->sync_next = prober_now() + prober_sync_every(pp);
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
		    pp->check->timeout + 2.0, prober_claimed, pp) != 0) {
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
	if (prober_now() >= pr->proxy_sweep) {
		proxy_sweep(pr, false);
		pr->proxy_sweep = prober_now() + PROBER_PROXY_SWEEP;
	}
	prober_claim(pr);
	evtimer_add(pr->tick, &tv);
}

void
prober_kick(struct prober *pr)
{
	struct timeval tv = { 0, 0 };

	evtimer_add(pr->tick, &tv);
}

/* ------------------------------------------------------------------ */
/* Life cycle, on-demand checks, statistics                            */
/* ------------------------------------------------------------------ */

struct prober *
prober_create(struct event_base *base, prober_ra_fn *ra_fn, void *ra_arg)
{
	struct prober *pr;

	pr = xcalloc(1, sizeof *pr);
	pr->base = base;
	pr->ra_fn = ra_fn;
	pr->ra_arg = ra_arg;
	pr->max_inflight = PROBER_INFLIGHT_DEFAULT;
	pr->rate_at = prober_now();
	pr->proxy_sweep = pr->rate_at + PROBER_PROXY_SWEEP;
	TAILQ_INIT(&pr->pools);
	TAILQ_INIT(&pr->probes);
	TAILQ_INIT(&pr->ready);
	TAILQ_INIT(&pr->sent);
	if ((pr->multi = curl_multi_init()) == NULL) {
		free(pr);
		return NULL;
	}
	curl_multi_setopt(pr->multi, CURLMOPT_SOCKETFUNCTION,
	    prober_curl_socket);
	curl_multi_setopt(pr->multi, CURLMOPT_SOCKETDATA, pr);
	curl_multi_setopt(pr->multi, CURLMOPT_TIMERFUNCTION,
	    prober_curl_timer);
	curl_multi_setopt(pr->multi, CURLMOPT_TIMERDATA, pr);
	/* before any event is active (the loop has not started yet) */
	if (event_base_get_npriorities(base) < PROBER_PRIORITIES &&
	    event_base_priority_init(base, PROBER_PRIORITIES) != 0)
		log_warn("cannot set event priorities: probes compete with "
		    "clients");
	pr->curl_timer = prober_event(base, -1, 0, prober_curl_timeout, pr);
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
	struct probe *p;

	if (pr == NULL)
		return;
	while ((p = TAILQ_FIRST(&pr->probes)) != NULL) {
		if (p->h != NULL && p->state != NULL) {
			struct pp_result res;

			memset(&res, 0, sizeof res);
			p->check->type->judge(p->check->conf, &p->px, p->h,
			    CURLE_ABORTED_BY_CALLBACK, p->state, &res);
			p->state = NULL;
		}
		if (p->child.pid > 0 && !p->killed) {
			kill(-p->child.pid, SIGKILL);
			waitpid(p->child.pid, NULL, 0);
		}
		probe_free(p);
	}
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
	event_free(pr->curl_timer);
	while (pr->nidle > 0)
		curl_easy_cleanup(pr->idle[--pr->nidle]);
	proxy_sweep(pr, true);
	curl_multi_cleanup(pr->multi);
	free(pr);
}

int
prober_check_now(struct prober *pr, const char *pool, const char *url,
    prober_done_fn *fn, void *arg, char **cause)
{
	struct prober_pool *pp;

	if ((pp = prober_pool_find(pr, pool)) == NULL) {
		xasprintf(cause, "no checks configured");
		return -1;
	}
	return probe_start(pr, pp, url, fn, arg, true, cause);
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
	st->type = pp->check->type->name;
	st->probes = pp->probes;
	st->probes_per_sec = pp->rate;
	st->inflight = pp->inflight;
	st->up = pp->verdicts[PP_UP];
	st->warn = pp->verdicts[PP_WARN];
	st->down = pp->verdicts[PP_DOWN];
	st->unknown = pp->verdicts[PP_UNKNOWN];
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
