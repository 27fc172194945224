/*
 * connect.c: the "connect" check: open a tunnel to an HTTPS target through
 * the proxy (HTTP CONNECT, or the SOCKS handshake) and complete the TLS
 * handshake with the target, without sending a request
 * (CURLOPT_CONNECT_ONLY).  Latency is the time to the end of the handshake.
 *
 *	check = { type = "connect"; url = "https://example.test:443/";
 *	    insecure = false; cacert = "/path/ca.pem"; max_latency = 2.0; };
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pp_util.h"

/* Configuration of one pool's connect check. */
struct connect_conf {
	char		*url;		/* https target, owned */
	char		*cacert;	/* CA bundle file, owned, or NULL */
	bool		 insecure;	/* skip certificate verification */
	double		 max_latency_ms; /* slower is WARN; 0 = no limit */
};

static const char *const connect_settings[] = {
	"url", "insecure", "cacert", "max_latency", NULL
};

static void
connect_free(void *arg)
{
	struct connect_conf *c = arg;

	if (c == NULL)
		return;
	free(c->url);
	free(c->cacert);
	free(c);
}

static void *
connect_configure(const config_setting_t *g, char **cause)
{
	struct connect_conf *c;
	const char *url = NULL, *cacert = NULL;
	double maxlat = 0;
	CURLU *u;
	int rc;

	if ((c = calloc(1, sizeof *c)) == NULL) {
		pp_conf_error(cause, g, "check", "out of memory");
		return NULL;
	}
	if (pp_conf_string(g, "url", &url, cause) != 0 ||
	    pp_conf_string(g, "cacert", &cacert, cause) != 0 ||
	    pp_conf_bool(g, "insecure", &c->insecure, cause) != 0 ||
	    pp_conf_number(g, "max_latency", 0, 3600, &maxlat, cause) != 0)
		goto fail;
	if (url == NULL) {
		pp_conf_error(cause, g, "url",
		    "the connect check needs an https:// url");
		goto fail;
	}
	if ((u = curl_url()) == NULL) {
		pp_conf_error(cause, g, "url", "out of memory");
		goto fail;
	}
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	curl_url_cleanup(u);
	if (rc != CURLUE_OK || strncmp(url, "https://", 8) != 0) {
		pp_conf_error(cause, config_setting_get_member(g, "url"), "url",
		    "\"%s\" is not an https:// URL", url);
		goto fail;
	}
	c->max_latency_ms = maxlat * 1000.0;
	if ((c->url = strdup(url)) == NULL ||
	    (cacert != NULL && (c->cacert = strdup(cacert)) == NULL)) {
		pp_conf_error(cause, g, "check", "out of memory");
		goto fail;
	}
	return c;

fail:
	connect_free(c);
	return NULL;
}

static int
connect_prepare(void *arg, const struct pp_proxy *px, CURL *h, void **probe,
    char **cause)
{
	struct connect_conf *c = arg;
	char *errbuf;

	if ((errbuf = calloc(1, CURL_ERROR_SIZE)) == NULL) {
		*cause = strdup("out of memory");
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_PROXY, px->url);
	/* an HTTP proxy must tunnel even for the handshake alone */
	curl_easy_setopt(h, CURLOPT_HTTPPROXYTUNNEL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->cacert != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
	*probe = errbuf;
	return 0;
}

static void
connect_judge(void *arg, const struct pp_proxy *px, CURL *h, CURLcode rc,
    void *probe, struct pp_result *res)
{
	struct connect_conf *c = arg;
	char *errbuf = probe;

	if (rc != CURLE_OK)
		pp_curl_down(res, rc, errbuf);
	else
		pp_judge_latency(res, h, CURLINFO_APPCONNECT_TIME_T,
		    c->max_latency_ms);
	free(errbuf);
}

const struct pp_check_type pp_check_plugin = {
	.abi = PP_CHECK_ABI,
	.name = "connect",
	.settings = connect_settings,
	.configure = connect_configure,
	.prepare = connect_prepare,
	.judge = connect_judge,
	.free = connect_free,
};
