/*
 * pp_util.h: small helpers the bundled check plugins share (header only,
 * so each module stays one self-contained file): configuration errors in
 * the "file:line: setting: problem" form, typed setting lookups, reasons.
 */
#ifndef PP_UTIL_H
#define PP_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp_check.h"

/* Set *cause to "file:line: name: message" for setting s (or group g). */
static inline void __attribute__((format(printf, 4, 5)))
pp_conf_error(char **cause, const config_setting_t *s, const char *name,
    const char *fmt, ...)
{
	char msg[256];
	const char *file;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	file = config_setting_source_file(s);
	if (asprintf(cause, "%s:%u: %s: %s", file ? file : "(config)",
	    config_setting_source_line(s), name, msg) == -1)
		*cause = NULL;
}

/*
 * Look up an optional string setting; *out stays untouched when absent.
 * Returns 0, or -1 with *cause when present with another type or empty.
 */
static inline int
pp_conf_string(const config_setting_t *g, const char *name,
    const char **out, char **cause)
{
	config_setting_t *s;
	const char *v;

	if ((s = config_setting_get_member(g, name)) == NULL)
		return 0;
	if ((v = config_setting_get_string(s)) == NULL || *v == '\0') {
		pp_conf_error(cause, s, name, "expected a non-empty string");
		return -1;
	}
	*out = v;
	return 0;
}

/* An optional number (integer or float) within [min, max]. */
static inline int
pp_conf_number(const config_setting_t *g, const char *name, double min,
    double max, double *out, char **cause)
{
	config_setting_t *s;
	double v;

	if ((s = config_setting_get_member(g, name)) == NULL)
		return 0;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		v = (double)config_setting_get_int64(s);
		break;
	case CONFIG_TYPE_FLOAT:
		v = config_setting_get_float(s);
		break;
	default:
		pp_conf_error(cause, s, name, "expected a number");
		return -1;
	}
	if (!(v >= min && v <= max)) {
		pp_conf_error(cause, s, name, "must be from %g to %g",
		    min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* An optional boolean. */
static inline int
pp_conf_bool(const config_setting_t *g, const char *name, bool *out,
    char **cause)
{
	config_setting_t *s;

	if ((s = config_setting_get_member(g, name)) == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		pp_conf_error(cause, s, name, "expected true or false");
		return -1;
	}
	*out = config_setting_get_bool(s) != 0;
	return 0;
}

/* Set the verdict and a printf-style reason. */
static inline void __attribute__((format(printf, 3, 4)))
pp_verdict(struct pp_result *res, enum pp_verdict v, const char *fmt, ...)
{
	va_list ap;

	res->verdict = v;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof res->reason, fmt, ap);
	va_end(ap);
}

/* A curl failure as a reason: the code's text ("Couldn't connect..."). */
static inline void
pp_curl_down(struct pp_result *res, CURLcode rc, const char *errbuf)
{
	if (rc == CURLE_OPERATION_TIMEDOUT)
		pp_verdict(res, PP_DOWN, "timeout");
	else if (errbuf != NULL && *errbuf != '\0')
		pp_verdict(res, PP_DOWN, "%s", errbuf);
	else
		pp_verdict(res, PP_DOWN, "%s", curl_easy_strerror(rc));
}

/* Latency of a phase of the transfer in milliseconds, or -1. */
static inline double
pp_curl_ms(CURL *h, CURLINFO what)
{
	curl_off_t us;

	if (curl_easy_getinfo(h, what, &us) != CURLE_OK || us <= 0)
		return -1;
	return (double)us / 1000.0;
}

/* A transfer that worked: latency from the curl timing what, then UP, or
 * WARN when slower than max_ms (0 = no limit). */
static inline void
pp_judge_latency(struct pp_result *res, CURL *h, CURLINFO what,
    double max_ms)
{
	double ms;

	if ((ms = pp_curl_ms(h, what)) >= 0)
		res->latency_ms = ms;
	if (max_ms > 0 && res->latency_ms > max_ms)
		pp_verdict(res, PP_WARN, "slow: %.0f ms > %.0f ms",
		    res->latency_ms, max_ms);
	else
		pp_verdict(res, PP_UP, "%s", "");
}

#endif /* PP_UTIL_H */
