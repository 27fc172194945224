/*
 * prober_int.h: what prober.c and probe.c share beyond probe.h: events
 * at the prober's priority and the clock probes are timed with.
 */
#ifndef PROBER_INT_H
#define PROBER_INT_H

#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "prober.h"

/* A new event of the prober, at its priority. */
static inline struct event *
prober_event(struct event_base *base, evutil_socket_t fd, short what,
    event_callback_fn cb, void *arg)
{
	struct event *ev;

	if ((ev = event_new(base, fd, what, cb, arg)) == NULL) {
		log_error("out of memory");
		abort();
	}
	if (event_base_get_npriorities(base) >= PROBER_PRIORITIES)
		event_priority_set(ev, PROBER_PRIORITY);
	return ev;
}

/* Monotonic seconds. */
static inline double
prober_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif /* PROBER_INT_H */
