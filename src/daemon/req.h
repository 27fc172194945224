/*
 * req.h: one request of the socket (struct req), its replies and
 * deadline, the option parser, and the callbacks the simple commands
 * share.  A command family keeps what it needs in the request and sets
 * the on_deadline and on_stop hooks: req.c knows no command.
 */
#ifndef REQ_H
#define REQ_H

#include <stdbool.h>
#include <sys/queue.h>
#include <sys/time.h>

#include <event2/event.h>

#include "client.h"
#include "daemon.h"
#include "resp.h"
#include "redis_allocator.h"

#define REQ_WAIT_MAX	3600.0	/* longest LEASE ... WAIT, s */

struct waitq;
struct req;

typedef void req_fn(struct req *r);

/* One command being answered. */
struct req {
	struct daemon		*d;		/* (ref) */
	struct client		*c;		/* (ref) NULL once abandoned */
	struct resp_args	 args;		/* owned request words */
	const char		*name;		/* (ref) the command, upper case */
	struct event		*deadline;	/* owned: Redis or WAIT deadline */
	req_fn			*on_deadline;	/* the deadline passed (NULL:
						 * -TRYAGAIN, Redis is late) */
	req_fn			*on_stop;	/* answered or abandoned: leave
						 * the family's waiters (or NULL) */
	req_fn			*on_answer;	/* answered while its client is
						 * there: the client goes on */
	bool			 quit;		/* close the connection once
						 * answered (QUIT) */
	int			 inflight;	/* async calls not yet answered */
	bool			 answered;	/* a reply was written */

	/* LEASE (cmd_lease.c) and LOCK (cmd_lock.c) */
	struct ra_lease_req	 lease;		/* strings point into args */
	char			 holder[64];	/* "pid N uid U" for LIST */
	double			 wait;		/* WAIT seconds, 0 = none */
	struct timeval		 wait_until;	/* WAIT deadline (monotonic) */
	struct timeval		 sent;		/* when the last call left */
	struct timeval		 arrived;	/* LEASE: when it came (for
						 * the lease wait histogram) */
	int			 outcome;	/* RELEASE, REPORT: its enum
						 * ra_outcome, for the metrics */
	bool			 wait_over;	/* WAIT passed, a call is out */
	struct event		*retry;		/* owned LOCK ... WAIT retry */
	bool			 lockwait;	/* in d->lockwaits */
	TAILQ_ENTRY(req)	 lentry;	/* in d->lockwaits */
	struct waitq		*wq;		/* (ref) queued here, or NULL */
	TAILQ_ENTRY(req)	 wentry;	/* in wq->reqs */

	/* commands made of several calls (STATS without a pool) */
	struct ra_strlist	 names;		/* owned pool names */
	struct ra_counts	*counts;	/* owned, one per name */
	struct ra_health_counts	*hcounts;	/* owned, one per name */
	struct ra_list		*list;		/* owned: LIST's page while
						 * its health is read */
	const char		**keys;		/* owned: its keys (into
						 * list) for that read */
	size_t			 done;		/* answers received */
	int			 err;		/* first error of the calls */
	char			 errstr[RA_ERRSTR_LEN];
};

/* Lifecycle. */
/* The output of r's client, NULL if r must not be answered any more. */
struct evbuffer *req_out(struct req *r);
/* r is answered: detach it from its client and go on with the next. */
void	req_finish(struct req *r);
/* The client went away: never answer r, free it when it is idle. */
void	req_abandon(struct req *r);
/* Free r once nothing refers to it any more. */
void	req_maybe_free(struct req *r);
/* r has a client and no answer yet. */
bool	req_alive(const struct req *r);
/* Something r waited for came back (r->inflight was raised for it).
 * Returns false, freeing r when nothing else holds it, if r must not be
 * answered any more (its client went away or it was answered). */
bool	req_back(struct req *r);
/* As req_back, and answers res' error: true when r is to be answered
 * from res. */
bool	req_result(struct req *r, const struct ra_result *res);

/* Replies. */
/* Answer "-CODE message" (credentials redacted) and finish. */
void	req_error(struct req *r, const char *code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* The code word of an allocator error (EMPTY, NOTOWNED, TRYAGAIN...). */
const char *req_code(int err);
/* Answer an allocator error. */
void	req_ra_error(struct req *r, const struct ra_result *res);
/* Answer NOPOOL for pool (why: the library's words, NULL for "no such
 * pool"), naming the configured pools. */
void	req_nopool(struct req *r, const char *pool, const char *why);
/* +OK, or -NOPROXY naming the proxy args[i] and the pool args[1] when
 * the pool lacks that proxy (REPORT, BIND). */
void	req_proxy_ok(struct req *r, struct ra_result *res, int i);

/* Redis calls. */
/* Arm the deadline of r: seconds from now. */
void	req_arm(struct req *r, double seconds);
/* The allocator, or NULL after answering -TRYAGAIN. */
struct ra_async *req_ra(struct req *r);
/* An async call could not be queued: Redis went away. */
void	req_send_failed(struct req *r);
/* Start an async call: inflight accounting and the Redis deadline. */
#define REQ_CALL(r, call) do {						\
	(r)->inflight++;						\
	req_arm((r), (r)->d->conf->redis_timeout);			\
	if ((call) != 0)						\
		req_send_failed(r);					\
} while (0)

/* Shared callbacks (arg is the request). */
void	req_ok_cb(struct ra_async *ra, struct ra_result *res, void *arg);
void	req_int_cb(struct ra_async *ra, struct ra_result *res, void *arg);
void	req_bool_cb(struct ra_async *ra, struct ra_result *res, void *arg);
void	req_strs_cb(struct ra_async *ra, struct ra_result *res, void *arg);
/* For calls nobody waits for: failures are logged at debug level. */
void	req_ignore_cb(struct ra_async *ra, struct ra_result *res, void *arg);

/* Time. */
void	req_now(struct timeval *tv);		/* monotonic */
void	req_tv(double seconds, struct timeval *tv);
double	req_left(const struct timeval *until);	/* s, 0 when passed */

/* Arguments. */
enum req_opt_type {
	OPT_FLAG,		/* a keyword alone */
	OPT_NUM,		/* keyword and a number within bounds */
	OPT_STR			/* keyword and a word */
};

/* One keyword a command accepts. */
struct req_opt {
	const char		*name;
	enum req_opt_type	 type;
	double			 min;
	double			 max;
};

/* What the parser found for one keyword. */
struct req_optval {
	bool		 set;
	double		 num;
	const char	*str;		/* (ref into args) */
};

/* Parse KEYWORD [value] pairs in any order from args[first..]; vals has
 * one slot per opts entry.  Answers -BADARG and returns -1 on anything
 * unknown, repeated, missing or out of range. */
int	req_options(struct req *r, int first, const struct req_opt *opts,
	    struct req_optval *vals);
/* Normalise the proxy URL in args[i] (owned by the caller); answers
 * -BADARG and returns NULL on failure. */
char	*req_proxy(struct req *r, int i);
/* Check a key-like argument (pool, name, token): 1..RA_KEY_MAX bytes
 * without NUL; answers -BADARG when it is not. */
bool	req_key(struct req *r, int i, const char *what);

#endif /* REQ_H */
