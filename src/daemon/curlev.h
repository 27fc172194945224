/*
 * curlev.h: the daemon's one curl multi handle, driven by its libevent
 * loop (socket and timer callbacks, as curl's hiperfifo example).  The
 * health probes (probe.c) and the gateway's upstream connections
 * (gw_up.c) run their transfers on it; each transfer names the event
 * priority of its sockets and the function told when it is done.
 */
#ifndef CURLEV_H
#define CURLEV_H

#include <curl/curl.h>
#include <event2/event.h>

struct curlev;
struct curlev_xfer;

/* A transfer ended (rc is curl's result); called from the loop. */
typedef void curlev_done_fn(struct curlev_xfer *x, CURLcode rc);

/* What curlev knows of a transfer: its user embeds it and curlev_add
 * makes it the handle's CURLOPT_PRIVATE. */
struct curlev_xfer {
	curlev_done_fn	*done;
	int		 priority;	/* of its sockets' events */
};

/* The multi handle on base; NULL when curl cannot make one. */
struct curlev *curlev_create(struct event_base *base);
/* Free it; every transfer must have been removed. */
void	curlev_destroy(struct curlev *cv);
/* Run h; x->done is called once it ends (never from curlev_add).
 * Returns 0, or -1 when curl refuses it. */
int	curlev_add(struct curlev *cv, CURL *h, struct curlev_xfer *x);
/* Stop h (running or done): x->done is not called any more. */
void	curlev_remove(struct curlev *cv, CURL *h);
/* The event loop. */
struct event_base *curlev_base(struct curlev *cv);

#endif /* CURLEV_H */
