/*
 * client.h: one connection of the socket (client.c).
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <stdbool.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include <event2/bufferevent.h>

#include "daemon.h"
#include "resp.h"

/* One connected peer. */
struct client {
	struct daemon		*d;		/* (ref) */
	unsigned long long	 id;		/* for logs */
	struct bufferevent	*bev;		/* owned, owns the fd */
	struct evbuffer		*reply;		/* owned: the answer being
						 * built, sent by client_flush */
	uid_t			 uid;		/* peer credentials */
	gid_t			 gid;
	pid_t			 pid;
	bool			 admin;		/* may run admin commands */
	struct resp_reader	 reader;	/* request parser state */
	struct req		*req;		/* (ref) request being answered */
	struct timeval		 answered;	/* when the last one was, for
						 * the idle timeout */
	bool			 processing;	/* inside client_process */
	bool			 closing;	/* close once output is written */
	TAILQ_ENTRY(client)	 entry;
};

/* A new connection of d on fd, peer credentials cred. */
void	client_new(struct daemon *d, int fd, const struct ucred *cred);
/* Apply a reloaded config: admin rights, request size limit, idle
 * timeout. */
void	client_apply_conf(struct client *c);
/* Parse and dispatch buffered requests until one is in flight. */
void	client_process(struct client *c);
/* Close after what was written has been sent. */
void	client_close_after_write(struct client *c);
/* Send what c->reply holds, in order after any output still queued. */
void	client_flush(struct client *c);
/* Close now: in-flight requests are abandoned. */
void	client_close(struct client *c);

#endif /* CLIENT_H */
