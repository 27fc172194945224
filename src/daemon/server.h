/*
 * server.h: the listening UNIX socket (server.c); each connection is a
 * client (client.h).
 */
#ifndef SERVER_H
#define SERVER_H

#include "daemon.h"

/* 0 when nothing answers on path; -1 with a cause naming the pid that
 * does (checked before anything else starts). */
int	server_check(const char *path, char **cause);
/* Bind the socket (mode, owner, group from conf) and start accepting. */
int	server_listen(struct daemon *d, char **cause);
/* Stop accepting and remove the socket file. */
void	server_close_listener(struct daemon *d);

/* Apply a reloaded config to connected clients: admin rights, request
 * size limit, idle timeout. */
void	server_apply_conf(struct daemon *d);

#endif /* SERVER_H */
