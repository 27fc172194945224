/*
 * reload.h: reloading the configuration and syncing the pools to Redis
 * (reload.c).
 */
#ifndef RELOAD_H
#define RELOAD_H

#include "daemon.h"

/* Re-read the config file (RELOAD r, or SIGHUP with r NULL); 0, or -1
 * with cause when the running config stays.  r is answered once the
 * pools are synced. */
int	reload_config(struct daemon *d, struct req *r, char **cause);
/* Push every configured pool to Redis (on connect and after reload);
 * pools of old that the running config lacks are deleted. */
void	reload_sync_pools(struct daemon *d, const struct conf *old);
/* The resync timer (d->resync_ev): retry a failed sync. */
void	reload_resync_cb(evutil_socket_t fd, short ev, void *arg);
/* (Re)start the waiter retry timer at the configured listen.wait_retry. */
void	reload_arm_retry(struct daemon *d);

#endif /* RELOAD_H */
