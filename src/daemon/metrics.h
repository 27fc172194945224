/*
 * metrics.h: the text of METRICS (Prometheus exposition format), written
 * once for the socket command (metrics.c) and the HTTP endpoint (http.c).
 */
#ifndef METRICS_H
#define METRICS_H

#include <event2/buffer.h>

#include "redis_allocator.h"

struct daemon;
struct metrics;

/* The counter table (one per daemon, d->metrics); destroy(NULL) is a
 * no-op. */
struct metrics *metrics_create(void);
void	metrics_destroy(struct metrics *m);

/*
 * Count a lease given back (RELEASE answered, or a gateway release sent)
 * or a REPORT answered, by pool and outcome; and a LEASE granted after
 * seconds (from its arrival, WAIT included).  Only configured pools are
 * counted, so the table is bounded by the configuration.
 */
void	metrics_count_release(struct daemon *d, const char *pool,
	    enum ra_outcome o);
void	metrics_count_report(struct daemon *d, const char *pool,
	    enum ra_outcome o);
void	metrics_lease_wait(struct daemon *d, const char *pool,
	    double seconds);
/* Count an ejection (FAILED) or a ban (BANNED) a release or report
 * answered here caused (events_ended calls it). */
void	metrics_count_ejection(struct daemon *d, const char *pool,
	    enum ra_outcome o);

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
