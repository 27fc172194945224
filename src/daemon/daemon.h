/*
 * daemon.h: the state of one proxypoold process: the event loop, the
 * Redis connection, the running configuration, clients, requests and
 * the per-pool queues of LEASE ... WAIT requests.  Everything runs on one
 * thread; nothing here is needed for correctness except the waiters (all
 * allocator state lives in Redis).
 */
#ifndef DAEMON_H
#define DAEMON_H

#include <stdbool.h>
#include <sys/queue.h>
#include <sys/time.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/bufferevent.h>

#include "conf.h"
#include "resp.h"
#include "redis_allocator.h"

#ifndef TAILQ_FOREACH_SAFE	/* glibc's sys/queue.h lacks it */
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

struct daemon;
struct client;
struct req;

struct waitq;				/* cmd_lease.c */
TAILQ_HEAD(waitq_list, waitq);

TAILQ_HEAD(client_list, client);	/* client.h */

/*
 * The daemon's counters, written once: the struct, INFO's "# Stats"
 * section and METRICS (metrics.c) all expand this list.  X(field, INFO
 * name, METRICS name without the proxypoold_ prefix, METRICS help).
 */
#define DAEMON_COUNTERS(X)						\
	X(commands, "commands", "commands_total", "Requests dispatched.") \
	X(leases, "leases", "leases_total", "Leases granted.")		\
	X(empty, "empty", "lease_empty_total", "LEASE answered EMPTY.")	\
	X(releases, "releases", "releases_total", "Leases released.")	\
	X(errors, "errors", "errors_total", "Error replies.")		\
	X(tryagain, "tryagain", "tryagain_total",			\
	    "TRYAGAIN replies (Redis unreachable).")			\
	X(denied, "denied", "denied_total", "Admin commands denied.")	\
	X(accepted, "accepted", "connections_total",			\
	    "Connections accepted.")					\
	X(rejected, "rejected", "connections_rejected_total",		\
	    "Connections over max_clients.")				\
	X(protocol, "protocol_errors", "protocol_errors_total",		\
	    "Clients closed on bad requests.")				\
	X(reloads, "reloads", "reloads_total", "Successful reloads.")	\
	X(reload_failures, "reload_failures", "reload_failures_total",	\
	    "Rejected reloads.")					\
	X(gc_continued, "gc_continued", "gc_continued_total",		\
	    "GC sweep calls sent at once after a full one (a backlog).")

struct daemon_stats {
#define DAEMON_COUNTER_FIELD(f, info, metric, help) unsigned long long f;
	DAEMON_COUNTERS(DAEMON_COUNTER_FIELD)
#undef DAEMON_COUNTER_FIELD
};

struct redis;
struct embedded;
struct prober;
struct curlev;
struct gateway;
struct http;

struct daemon {
	struct event_base	*base;		/* owned: the one loop */
	struct conf		*conf;		/* owned running config */
	char			*conf_path;	/* owned */
	struct redis		*redis;		/* owned main connection */
	struct redis		*redis_probe;	/* owned: the prober's calls */
	struct embedded		*embedded;	/* owned, or NULL */
	struct curlev		*curl;		/* owned curl multi handle */
	struct prober		*prober;	/* owned health checks */
	struct gateway		*gw;		/* owned gateway listeners */
	struct http		*http;		/* owned HTTP endpoint */
	struct metrics		*metrics;	/* owned counters by pool */
	struct events		*events;	/* owned recent ejections */

	int			 listen_fd;	/* -1 once closed */
	struct event		*listen_ev;	/* owned accept event */
	char			*socket_path;	/* owned: unlinked at exit */
	struct client_list	 clients;
	unsigned		 nclients;
	unsigned long long	 next_id;	/* client ids */

	struct waitq_list	 waitqs;	/* per pool waiters */
	TAILQ_HEAD(, req)	 lockwaits;	/* LOCK ... WAIT requests */
	struct event		*retry_ev;	/* owned waiter retry timer */
	struct event		*sig_hup;	/* owned signal events */
	struct event		*sig_term;
	struct event		*sig_int;
	struct event		*stop_ev;	/* owned drain deadline */
	int			 stopping;	/* SIGTERMs received */
	int			 syncing;	/* pool sync calls in flight */
	struct req		*reload_req;	/* (ref) RELOAD awaiting sync */
	char			*sync_error;	/* owned first sync failure */
	bool			 reload_pending; /* SIGHUP during a sync */
	struct event		*gc_ev;		/* owned periodic GC timer */
	struct event		*resync_ev;	/* owned: retry a failed sync */
	time_t			 started;	/* for INFO uptime */
	/* set by daemon_start, called by the modules below, which never
	 * call up into daemon.c: */
	void			(*on_idle)(struct daemon *d);	/* a request
						 * or client ended: the stop may
						 * be complete */
	int			(*on_reload)(struct daemon *d, struct req *r,
				    char **cause);	/* RELOAD */
	struct daemon_stats	 stats;
};

/* Start everything on the loop from a loaded config; -1 with cause. */
int	daemon_start(struct daemon *d, struct conf *conf, const char *path,
	    char **cause);
/* Tear down what daemon_start made (after the loop ended). */
void	daemon_finish(struct daemon *d);
/* Begin the graceful stop. */
void	daemon_stop(struct daemon *d);
/* Exit the loop when a stop was asked and nothing is left to answer. */
void	daemon_check_stopped(struct daemon *d);

#endif /* DAEMON_H */
