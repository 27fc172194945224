/*
 * hist.c: fixed-bucket histograms of seconds in Prometheus' text format
 * (buckets as the client libraries' defaults, from 1 ms to 10 s).
 */
#include "config.h"

#include <stdio.h>

#include "hist.h"

const double hist_bounds[HIST_NBUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
	10
};

void
hist_observe(struct hist *h, double seconds)
{
	size_t i;

	if (!(seconds >= 0))		/* negative, NaN: unknown */
		return;
	for (i = 0; i < HIST_NBUCKETS; i++) {
		if (seconds <= hist_bounds[i]) {
			h->le[i]++;
			break;
		}
	}
	h->count++;
	h->sum += seconds;
}

void
hist_write(const struct hist *h, const char *name, const char *labels,
    struct evbuffer *out)
{
	const char *sep = *labels != '\0' ? "," : "";
	unsigned long long n = 0;
	size_t i;

	for (i = 0; i < HIST_NBUCKETS; i++) {
		n += h->le[i];
		evbuffer_add_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n",
		    name, labels, sep, hist_bounds[i], n);
	}
	evbuffer_add_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name,
	    labels, sep, h->count);
	if (*labels != '\0') {
		evbuffer_add_printf(out, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n",
		    name, labels, h->sum, name, labels, h->count);
	} else {
		evbuffer_add_printf(out, "%s_sum %.6f\n%s_count %llu\n", name,
		    h->sum, name, h->count);
	}
}
