/*
 * cmd.h: the socket commands: a table of { name, arity, flags, handler }
 * (cmd.c) and the handlers, one file per family.
 */
#ifndef CMD_H
#define CMD_H

#include "daemon.h"
#include "req.h"

#define CMD_ADMIN	0x1	/* only for admin peers (dispatch answers
				   -DENIED to others) */

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

/* Find and run the command in args (taken over) for c; on_answer runs
 * when it is answered while c is there. */
void	cmd_dispatch(struct client *c, struct resp_args *args,
	    req_fn *on_answer);

/* cmd_lease.c */
cmd_fn	cmd_lease, cmd_renew, cmd_release, cmd_report;
/* Try to lease for the waiters of every pool (a proxy may be free). */
void	waitq_serve_all(struct daemon *d);
/* Answer every waiter (at stop or pool removal; pool NULL = all). */
void	waitq_fail(struct daemon *d, const char *pool, const char *code,
	    const char *msg);
void	waitq_free_all(struct daemon *d);
/* Requests queued or in flight, for INFO. */
unsigned waitq_count(struct daemon *d);
/* The same for one pool (the HTTP status page). */
unsigned waitq_pool_count(struct daemon *d, const char *pool);

/* cmd_bind.c */
cmd_fn	cmd_bind, cmd_unbind, cmd_binding, cmd_bindings;

/* cmd_pool.c */
cmd_fn	cmd_pools, cmd_stats, cmd_list, cmd_add, cmd_remove, cmd_gc,
	cmd_check, cmd_verify;
/*
 * Read the health of n proxies of pool (keys stay valid until fn runs),
 * RA_HEALTH_GET_MAX a call, one after the other; fn gets them all
 * (hi->v[i] for keys[i]; it may take hi->v over, zeroing hi), or NULL
 * when they could not be read.  -1 when nothing could be sent (fn will
 * not run).  For LIST and the HTTP pool page.
 */
typedef void health_read_fn(void *arg, struct ra_health_infos *hi);
int	health_read(struct ra_async *ra, const char *pool,
	    const char *const *keys, size_t n, health_read_fn *fn, void *arg);

/* cmd_lock.c */
cmd_fn	cmd_lock, cmd_unlock;
/* Answer every LOCK ... WAIT waiter (at stop). */
void	lockwait_fail_all(struct daemon *d, const char *code,
	    const char *msg);
/* LOCK ... WAIT waiters, for INFO. */
unsigned lockwait_count(struct daemon *d);

/* cmd_admin.c */
cmd_fn	cmd_reload, cmd_ping, cmd_quit, cmd_client, cmd_command;

/* metrics.c */
cmd_fn	cmd_info, cmd_metrics;

#endif /* CMD_H */
