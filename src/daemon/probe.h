/*
 * probe.h: running single probes for the prober (prober.c), which owns
 * the schedule and the results.  Curl checks run on one curl multi
 * handle driven by the daemon's libevent loop; plugins without curl run
 * as a child process watched on the loop.  Each probe ends with one call
 * of the verdict function its starter gave: probe.c knows nothing of
 * pools, Redis or health state.
 */
#ifndef PROBE_H
#define PROBE_H

#include <stdbool.h>

#include <event2/event.h>

#include "pp_check.h"

struct probes;

/* What a probe runs: a pool's check.  Its starter keeps it alive (and
 * unchanged) until the probe's verdict. */
struct probe_check {
	const struct pp_check_type *type;	/* (ref) plugin descriptor */
	void			*conf;		/* (ref) plugin config */
	double			 timeout;	/* s per probe */
};

/*
 * A probe is over.  res is the plugin's verdict (valid during the call;
 * the verdict is one of enum pp_verdict, the reason NUL-ended), or NULL
 * when the probe was cancelled by probes_destroy; check is the one it
 * was started with, url the proxy URL, started the prober_now() of its
 * start.  Called once per probe that started, from the loop, never from
 * probe_start.
 */
typedef void probe_verdict_fn(void *arg, struct probe_check *check,
    const char *url, double started, struct pp_result *res);

/* The probe machinery on the daemon's multi handle (and its loop, whose
 * priorities must be set already). */
struct curlev;
struct probes *probes_create(struct curlev *curl);
/* Cancel the running probes (their verdict functions see NULL), free. */
void	probes_destroy(struct probes *ps);

/*
 * Start check on url (of pool, named to the plugin; the starter keeps
 * the name alive until the verdict); fn(arg, ...) gets the verdict.
 * Returns 0, or -1 with *cause (bad URL, the program of an exec check
 * cannot start...): then fn is never called.
 */
int	probe_start(struct probes *ps, struct probe_check *check,
	    const char *pool, const char *url, probe_verdict_fn *fn,
	    void *arg, char **cause);

/* Call now and then (the prober's tick): drops the parsed URLs no probe
 * used for a while. */
void	probes_sweep(struct probes *ps);

#endif /* PROBE_H */
