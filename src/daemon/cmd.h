/*
 * cmd.h: the socket commands: a table of { name, arity, flags, handler },
 * one shared option parser, requests and their replies, and the queues of
 * LEASE ... WAIT requests.
 */
#ifndef CMD_H
#define CMD_H

#include "daemon.h"

#define CMD_ADMIN	0x1	/* only for admin peers */
#define CMD_WRITE	0x2	/* changes allocator state */
#define CMD_REDIS	0x4	/* needs Redis (its handler answers -TRYAGAIN
				   through req_ra while Redis is down) */

typedef void cmd_fn(struct req *r);

/* One command. */
struct cmd_entry {
	const char	*name;		/* upper case command word */
	int		 min_args;	/* words including the command */
	int		 max_args;	/* -1 = no limit */
	int		 flags;		/* CMD_* */
	cmd_fn		*fn;		/* handler: must answer, now or later */
	const char	*usage;		/* for the wrong-arity error */
};

/* Find and run the command in args (taken over). */
void	cmd_dispatch(struct client *c, struct resp_args *args);
/* The client went away: never answer r, free it when it is idle. */
void	cmd_abandon(struct req *r);

/* The output of r's client, NULL if r must not be answered any more. */
struct evbuffer *req_out(struct req *r);
/* r is answered: detach it from its client and go on with the next. */
void	req_finish(struct req *r);
/* Something r waited for came back (r->inflight was raised for it).
 * Returns false, freeing r when nothing else holds it, if r must not be
 * answered any more (its client went away or it was answered). */
bool	req_back(struct req *r);
/* Answer "-CODE message" and finish. */
void	req_error(struct req *r, const char *code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* Waiters of LEASE ... WAIT. */
void	waitq_serve_all(struct daemon *d);
/* Answer every waiter (at stop or pool removal; pool NULL = all). */
void	waitq_fail(struct daemon *d, const char *pool, const char *code,
	    const char *msg);
void	waitq_free_all(struct daemon *d);
/* Answer every LOCK ... WAIT waiter (at stop). */
void	lockwait_fail_all(struct daemon *d, const char *code,
	    const char *msg);
/* Requests queued or in flight, for INFO. */
unsigned waitq_count(struct daemon *d);

#endif /* CMD_H */
