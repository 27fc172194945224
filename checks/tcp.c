/*
 * tcp.c: the "tcp" check: open a TCP connection to the proxy's own port
 * and close it.  It proves the proxy listens, nothing more.
 *
 *	check = { type = "tcp"; max_latency = 0.5; };
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp_util.h"

/* Configuration of one pool's tcp check. */
struct tcp_conf {
	double		 max_latency_ms; /* slower is WARN; 0 = no limit */
};

/* One probe: the URL naming the proxy's address and curl's error. */
struct tcp_probe {
	char		 url[300];	/* http://host:port/ of the proxy */
	char		 errbuf[CURL_ERROR_SIZE];
};

static const char *const tcp_settings[] = { "max_latency", NULL };

static void
tcp_free(void *arg)
{
	free(arg);
}

static void *
tcp_configure(const config_setting_t *g, char **cause)
{
	struct tcp_conf *c;
	double maxlat = 0;

	if ((c = calloc(1, sizeof *c)) == NULL) {
		pp_conf_error(cause, g, "check", "out of memory");
		return NULL;
	}
	if (pp_conf_number(g, "max_latency", 0, 3600, &maxlat, cause) != 0) {
		free(c);
		return NULL;
	}
	c->max_latency_ms = maxlat * 1000.0;
	return c;
}

static int
tcp_prepare(void *arg, const struct pp_proxy *px, CURL *h, void **probe,
    char **cause)
{
	struct tcp_probe *p;
	int n;

	if ((p = calloc(1, sizeof *p)) == NULL) {
		*cause = strdup("out of memory");
		return -1;
	}
	n = snprintf(p->url, sizeof p->url,
	    strchr(px->host, ':') != NULL ? "http://[%s]:%d/" :
	    "http://%s:%d/", px->host, px->port);
	if (n < 0 || (size_t)n >= sizeof p->url) {
		free(p);
		*cause = strdup("proxy host name too long");
		return -1;
	}
	/* connect straight to the proxy: no proxy, no request */
	curl_easy_setopt(h, CURLOPT_URL, p->url);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, p->errbuf);
	*probe = p;
	return 0;
}

static void
tcp_judge(void *arg, const struct pp_proxy *px, CURL *h, CURLcode rc,
    void *probe, struct pp_result *res)
{
	struct tcp_conf *c = arg;
	struct tcp_probe *p = probe;

	if (rc != CURLE_OK)
		pp_curl_down(res, rc, p->errbuf);
	else
		pp_judge_latency(res, h, CURLINFO_CONNECT_TIME_T,
		    c->max_latency_ms);
	free(p);
}

const struct pp_check_type pp_check_plugin = {
	.abi = PP_CHECK_ABI,
	.name = "tcp",
	.settings = tcp_settings,
	.configure = tcp_configure,
	.prepare = tcp_prepare,
	.judge = tcp_judge,
	.free = tcp_free,
};
