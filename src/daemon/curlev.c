/*
 * curlev.c: a curl multi handle on a libevent loop.  curl says which
 * sockets to watch for what (CURLMOPT_SOCKETFUNCTION) and when to call
 * it back (CURLMOPT_TIMERFUNCTION); each watched socket gets an event
 * at the priority of the transfer that opened it.  Transfers that end
 * are handed to the done function of their struct curlev_xfer.
 */
#include "config.h"

#include <stdlib.h>

#include "curlev.h"
#include "log.h"
#include "xmalloc.h"

struct curlev {
	struct event_base	*base;		/* (ref) the daemon's loop */
	CURLM			*multi;		/* owned */
	struct event		*timer;		/* owned: curl's timeout */
};

/* A socket curl asked us to watch. */
struct curlev_sock {
	struct curlev		*cv;		/* (ref) */
	struct event		*ev;		/* owned */
};

/* Hand finished transfers to their owners. */
static void
curlev_done(struct curlev *cv)
{
	struct curlev_xfer *x;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(cv->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		x = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x != NULL && x->done != NULL)
			x->done(x, m->data.result);
	}
}

static void
curlev_event(evutil_socket_t fd, short what, void *arg)
{
	struct curlev *cv = arg;
	int running, action = 0;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(cv->multi, fd, action, &running);
	curlev_done(cv);
}

static void
curlev_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct curlev *cv = arg;
	int running;

	curl_multi_socket_action(cv->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	curlev_done(cv);
}

/* CURLMOPT_TIMERFUNCTION */
static int
curlev_timer(CURLM *multi, long ms, void *arg)
{
	struct curlev *cv = arg;
	struct timeval tv;

	if (ms < 0) {
		evtimer_del(cv->timer);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(cv->timer, &tv);
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION */
static int
curlev_socket(CURL *h, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct curlev *cv = arg;
	struct curlev_sock *s = sockp;
	struct curlev_xfer *x = NULL;
	short ev;

	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			event_free(s->ev);
			free(s);
			curl_multi_assign(cv->multi, fd, NULL);
		}
		return 0;
	}
	ev = EV_PERSIST;
	if (what & CURL_POLL_IN)
		ev |= EV_READ;
	if (what & CURL_POLL_OUT)
		ev |= EV_WRITE;
	if (s == NULL) {
		s = xcalloc(1, sizeof *s);
		s->cv = cv;
		if ((s->ev = event_new(cv->base, fd, ev, curlev_event,
		    cv)) == NULL) {
			log_error("out of memory");
			abort();
		}
		curl_multi_assign(cv->multi, fd, s);
	} else {
		/* same socket, new interest: reuse the event */
		event_del(s->ev);
		event_assign(s->ev, cv->base, fd, ev, curlev_event, cv);
	}
	curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&x);
	if (x != NULL && x->priority >= 0 &&
	    x->priority < event_base_get_npriorities(cv->base))
		event_priority_set(s->ev, x->priority);
	event_add(s->ev, NULL);
	return 0;
}

struct curlev *
curlev_create(struct event_base *base)
{
	struct curlev *cv;

	cv = xcalloc(1, sizeof *cv);
	cv->base = base;
	if ((cv->multi = curl_multi_init()) == NULL) {
		free(cv);
		return NULL;
	}
	curl_multi_setopt(cv->multi, CURLMOPT_SOCKETFUNCTION, curlev_socket);
	curl_multi_setopt(cv->multi, CURLMOPT_SOCKETDATA, cv);
	curl_multi_setopt(cv->multi, CURLMOPT_TIMERFUNCTION, curlev_timer);
	curl_multi_setopt(cv->multi, CURLMOPT_TIMERDATA, cv);
	if ((cv->timer = evtimer_new(base, curlev_timeout, cv)) == NULL) {
		log_error("out of memory");
		abort();
	}
	return cv;
}

void
curlev_destroy(struct curlev *cv)
{
	if (cv == NULL)
		return;
	event_free(cv->timer);
	curl_multi_cleanup(cv->multi);
	free(cv);
}

int
curlev_add(struct curlev *cv, CURL *h, struct curlev_xfer *x)
{
	curl_easy_setopt(h, CURLOPT_PRIVATE, x);
	return curl_multi_add_handle(cv->multi, h) == CURLM_OK ? 0 : -1;
}

void
curlev_remove(struct curlev *cv, CURL *h)
{
	curl_multi_remove_handle(cv->multi, h);
}

struct event_base *
curlev_base(struct curlev *cv)
{
	return cv->base;
}
