/*
 * hist.h: a Prometheus histogram of seconds with fixed buckets (1 ms to
 * 10 s), embedded where the observations are made (the lease waits in
 * metrics.c, the probe latencies in prober.c) and written by metrics.c.
 */
#ifndef HIST_H
#define HIST_H

#include <event2/buffer.h>

#define HIST_NBUCKETS	13	/* hist_bounds' entries; +Inf is count */

struct hist {
	unsigned long long le[HIST_NBUCKETS];	/* observations <= bound
						 * (not cumulative) */
	unsigned long long count;		/* all observations */
	double		 sum;			/* their sum, s */
};

/* Upper bounds of the buckets, seconds, ascending. */
extern const double hist_bounds[HIST_NBUCKETS];

/* Count one observation of seconds (a negative one is ignored). */
void	hist_observe(struct hist *h, double seconds);
/*
 * Append h's samples as name_bucket{labels,le="..."} (cumulative),
 * name_sum{labels} and name_count{labels}; labels is 'pool="web"' or "".
 * The HELP and TYPE lines are the caller's, once per name.
 */
void	hist_write(const struct hist *h, const char *name, const char *labels,
	    struct evbuffer *out);

#endif /* HIST_H */
