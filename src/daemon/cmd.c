/*
 * cmd.c: the commands of the proxypoold socket: a table maps each word to
 * its arity, flags (admin) and handler, and dispatch checks the arity and
 * the admin flag before the handler runs.  The
 * handlers live by family: cmd_lease.c, cmd_bind.c, cmd_pool.c,
 * cmd_lock.c, cmd_admin.c and metrics.c; what every request shares is
 * req.c.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "cmd.h"
#include "log.h"
#include "req.h"
#include "xmalloc.h"

static const struct cmd_entry cmd_table[] = {
	{ "LEASE", 2, 10, 0, cmd_lease,
	    "LEASE pool [NAME n] [TTL s] [WAIT s] [SHARED]" },
	{ "RENEW", 3, 5, 0, cmd_renew,
	    "RENEW pool token [TTL s]" },
	{ "RELEASE", 3, 6, 0, cmd_release,
	    "RELEASE pool token [OK|FAILED|BANNED] [LATENCY ms]" },
	{ "REPORT", 4, 6, 0, cmd_report,
	    "REPORT pool proxy OK|FAILED|BANNED [LATENCY ms]" },
	{ "BIND", 4, 6, 0, cmd_bind,
	    "BIND pool name proxy [TTL s]" },
	{ "UNBIND", 3, 3, 0, cmd_unbind,
	    "UNBIND pool name" },
	{ "BINDING", 3, 3, 0, cmd_binding, "BINDING pool name" },
	{ "BINDINGS", 3, 3, 0, cmd_bindings, "BINDINGS pool proxy" },
	{ "POOLS", 1, 1, 0, cmd_pools, "POOLS" },
	{ "STATS", 1, 2, 0, cmd_stats, "STATS [pool]" },
	{ "LIST", 2, 8, CMD_ADMIN, cmd_list,
	    "LIST pool [STATE s] [CURSOR c] [COUNT n]" },
	{ "ADD", 3, 7, CMD_ADMIN, cmd_add,
	    "ADD pool url [PRIORITY p] [EXPIRES s]" },
	{ "REMOVE", 3, 3, CMD_ADMIN, cmd_remove,
	    "REMOVE pool url" },
	{ "CHECK", 3, 3, CMD_ADMIN, cmd_check, "CHECK pool url" },
	{ "GC", 2, 2, CMD_ADMIN, cmd_gc, "GC pool" },
	{ "VERIFY", 2, 2, CMD_ADMIN, cmd_verify, "VERIFY pool" },
	{ "RELOAD", 1, 1, CMD_ADMIN, cmd_reload, "RELOAD" },
	{ "INFO", 1, 2, 0, cmd_info, "INFO" },
	{ "METRICS", 1, 1, CMD_ADMIN, cmd_metrics, "METRICS" },
	{ "LOCK", 4, 6, 0, cmd_lock,
	    "LOCK name owner ttl [WAIT s]" },
	{ "UNLOCK", 3, 3, 0, cmd_unlock,
	    "UNLOCK name owner" },
	{ "PING", 1, 2, 0, cmd_ping, "PING [message]" },
	{ "QUIT", 1, 1, 0, cmd_quit, "QUIT" },
	{ "CLIENT", 2, -1, 0, cmd_client, "CLIENT subcommand ..." },
	{ "COMMAND", 1, -1, 0, cmd_command, "COMMAND" },
	{ NULL, 0, 0, 0, NULL, NULL }
};

void
cmd_dispatch(struct client *c, struct resp_args *args, req_fn *on_answer)
{
	struct daemon *d = c->d;
	const struct cmd_entry *e;
	struct req *r;

	d->stats.commands++;
	r = xcalloc(1, sizeof *r);
	r->d = d;
	r->c = c;
	r->on_answer = on_answer;
	r->args = *args;
	c->req = r;
	for (e = cmd_table; e->name != NULL; e++) {
		if (strcasecmp(e->name, args->argv[0]) == 0)
			break;
	}
	if (e->name == NULL) {
		req_error(r, "ERR", "unknown command '%.64s'", args->argv[0]);
		return;
	}
	r->name = e->name;
	if (args->argc < e->min_args ||
	    (e->max_args >= 0 && args->argc > e->max_args)) {
		req_error(r, "ERR", "wrong number of arguments: %s", e->usage);
		return;
	}
	if ((e->flags & CMD_ADMIN) && !c->admin) {
		d->stats.denied++;
		log_client(LOG_LEVEL_INFO, c, "%s denied (not an admin)",
		    e->name);
		req_error(r, "DENIED", "%s is an admin command", e->name);
		return;
	}
	e->fn(r);
}
