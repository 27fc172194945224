/*
 * metrics.h: the text of METRICS (Prometheus exposition format), written
 * once for the socket command (metrics.c) and the HTTP endpoint (http.c).
 */
#ifndef METRICS_H
#define METRICS_H

#include <event2/buffer.h>

#include "redis_allocator.h"

struct daemon;

/*
 * Append METRICS' text to out: the daemon's counters and gauges, the
 * gateway's series and, when counts is not NULL, the gauges of each pool
 * in names (counts and hcounts have one entry per name; total < 0 leaves
 * that pool out).  counts is NULL when Redis did not answer.
 */
void	metrics_write(struct daemon *d, const struct ra_strlist *names,
	    const struct ra_counts *counts,
	    const struct ra_health_counts *hcounts, struct evbuffer *out);

#endif /* METRICS_H */
