/*
 * server.h: the listening UNIX socket and the lifecycle of clients.
 */
#ifndef SERVER_H
#define SERVER_H

#include "daemon.h"

/* Bind the socket (mode, owner, group from conf) and start accepting. */
int	server_listen(struct daemon *d, char **cause);
/* Stop accepting and remove the socket file. */
void	server_close_listener(struct daemon *d);

/* Apply a reloaded config to connected clients: admin rights, request
 * size limit, idle timeout. */
void	server_apply_conf(struct daemon *d);

/* Parse and dispatch buffered requests until one is in flight. */
void	client_process(struct client *c);
/* Close after what was written has been sent. */
void	client_close_after_write(struct client *c);
/* Send what c->reply holds, in order after any output still queued. */
void	client_flush(struct client *c);
/* Close now: in-flight requests are abandoned. */
void	client_close(struct client *c);

#endif /* SERVER_H */
