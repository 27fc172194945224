/*
 * cmd_admin.c: the connection and administration commands: RELOAD, PING,
 * QUIT, CLIENT and COMMAND.
 */
#include "config.h"

#include <stdlib.h>
#include <strings.h>

#include <event2/buffer.h>

#include "client.h"
#include "cmd.h"
#include "req.h"

/* RELOAD */
void
cmd_reload(struct req *r)
{
	char *cause = NULL;

	if (r->d->syncing > 0) {
		req_error(r, "TRYAGAIN", "pools are being synced to Redis "
		    "(a reload or a reconnection); try again");
		return;
	}
	if (r->d->on_reload(r->d, r, &cause) != 0) {
		req_error(r, "ERR", "%s", cause);
		free(cause);
	}
	/* else answered when the pools are synced */
}

void
cmd_ping(struct req *r)
{
	if (r->args.argc == 2)
		resp_bulk(req_out(r), r->args.argv[1], r->args.len[1]);
	else
		resp_status(req_out(r), "PONG");
	req_finish(r);
}

void
cmd_quit(struct req *r)
{
	resp_status(req_out(r), "OK");
	r->quit = true;
	req_finish(r);
}

/* CLIENT SETNAME and friends: accepted and ignored, for client libraries
 * that send them on connect. */
void
cmd_client(struct req *r)
{
	if (strcasecmp(r->args.argv[1], "GETNAME") == 0)
		resp_nil(req_out(r));
	else if (strcasecmp(r->args.argv[1], "ID") == 0)
		resp_int(req_out(r), (long long)r->c->id);
	else
		resp_status(req_out(r), "OK");
	req_finish(r);
}

/* COMMAND (redis-cli asks for command docs): nothing to tell. */
void
cmd_command(struct req *r)
{
	resp_array(req_out(r), 0);
	req_finish(r);
}
