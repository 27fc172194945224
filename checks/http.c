/*
 * http.c: the "http" check: request a target URL through the proxy and
 * judge the answer by its status, optionally its body (substring or POSIX
 * extended regex) and its latency.
 *
 *	check = { type = "http"; url = "http://example.test/health";
 *	    method = "GET"; expect = [200, 204]; body = "ok";
 *	    body_regex = "^ok$"; max_latency = 2.0;
 *	    headers = ["X-Probe: 1"]; insecure = false; };
 */
#include "config.h"

#include <regex.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pp_util.h"

#define HTTP_BODY_MAX	(64 * 1024)	/* bytes of body kept for matching */
#define HTTP_EXPECT_MAX	16

/* Configuration of one pool's http check. */
struct http_conf {
	char		*url;		/* target, owned */
	CURLU		*uh;		/* url parsed once, owned: curl reads
					 * it for every probe */
	char		*method;	/* GET, HEAD, POST..., owned */
	long		 expect[HTTP_EXPECT_MAX]; /* accepted statuses */
	int		 nexpect;	/* 0: any 2xx or 3xx */
	char		*body;		/* substring the body must hold, or NULL */
	bool		 has_regex;	/* regex is compiled */
	regex_t		 regex;		/* body_regex */
	double		 max_latency_ms; /* slower is WARN; 0 = no limit */
	struct curl_slist *headers;	/* extra request headers, owned */
	bool		 insecure;	/* skip TLS verification of the target */
};

/* One probe in flight. */
struct http_probe {
	char		 errbuf[CURL_ERROR_SIZE]; /* curl's detailed error */
	char		*body;		/* received body, NUL-terminated */
	size_t		 len;		/* bytes in body */
	bool		 keep;		/* body is needed for matching */
};

static const char *const http_settings[] = {
	"url", "method", "expect", "body", "body_regex", "max_latency",
	"headers", "insecure", NULL
};

static void
http_free(void *arg)
{
	struct http_conf *c = arg;

	if (c == NULL)
		return;
	free(c->url);
	curl_url_cleanup(c->uh);
	free(c->method);
	free(c->body);
	if (c->has_regex)
		regfree(&c->regex);
	curl_slist_free_all(c->headers);
	free(c);
}

/* Parse expect: one status or a list of statuses (100..599). */
static int
http_conf_expect(struct http_conf *c, const config_setting_t *g,
    char **cause)
{
	config_setting_t *s, *e;
	int i, n;
	long v;

	if ((s = config_setting_get_member(g, "expect")) == NULL)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_INT) {
		n = 1;
		e = s;
	} else if (config_setting_is_aggregate(s)) {
		n = config_setting_length(s);
		e = NULL;
	} else {
		pp_conf_error(cause, s, "expect",
		    "expected a status or a list of statuses");
		return -1;
	}
	if (n < 1 || n > HTTP_EXPECT_MAX) {
		pp_conf_error(cause, s, "expect", "1 to %d statuses",
		    HTTP_EXPECT_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (e != s)
			e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_INT ||
		    (v = config_setting_get_int(e)) < 100 || v > 599) {
			pp_conf_error(cause, s, "expect",
			    "statuses are integers from 100 to 599");
			return -1;
		}
		c->expect[i] = v;
	}
	c->nexpect = n;
	return 0;
}

/* Parse headers: a list of "Name: value" strings. */
static int
http_conf_headers(struct http_conf *c, const config_setting_t *g,
    char **cause)
{
	config_setting_t *s, *e;
	struct curl_slist *l;
	const char *v;
	int i, n;

	if ((s = config_setting_get_member(g, "headers")) == NULL)
		return 0;
	if (!config_setting_is_aggregate(s)) {
		pp_conf_error(cause, s, "headers",
		    "expected a list of \"Name: value\" strings");
		return -1;
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		if ((v = config_setting_get_string(e)) == NULL ||
		    strchr(v, ':') == NULL || *v == ':' ||
		    strpbrk(v, "\r\n") != NULL) {
			pp_conf_error(cause, s, "headers",
			    "element %d is not a \"Name: value\" string", i + 1);
			return -1;
		}
		if ((l = curl_slist_append(c->headers, v)) == NULL) {
			pp_conf_error(cause, s, "headers", "out of memory");
			return -1;
		}
		c->headers = l;
	}
	return 0;
}

static void *
http_configure(const config_setting_t *g, char **cause)
{
	struct http_conf *c;
	const char *url = NULL, *method = "GET", *body = NULL, *re = NULL;
	double maxlat = 0;
	char errbuf[128];
	CURLU *u;
	int rc;

	if ((c = calloc(1, sizeof *c)) == NULL) {
		pp_conf_error(cause, g, "check", "out of memory");
		return NULL;
	}
	if (pp_conf_string(g, "url", &url, cause) != 0 ||
	    pp_conf_string(g, "method", &method, cause) != 0 ||
	    pp_conf_string(g, "body", &body, cause) != 0 ||
	    pp_conf_string(g, "body_regex", &re, cause) != 0 ||
	    pp_conf_number(g, "max_latency", 0, 3600, &maxlat, cause) != 0 ||
	    pp_conf_bool(g, "insecure", &c->insecure, cause) != 0 ||
	    http_conf_expect(c, g, cause) != 0 ||
	    http_conf_headers(c, g, cause) != 0)
		goto fail;
	if (url == NULL) {
		pp_conf_error(cause, g, "url", "the http check needs a url");
		goto fail;
	}
	/* the target must be a full http(s) URL */
	if ((u = curl_url()) == NULL) {
		pp_conf_error(cause, g, "url", "out of memory");
		goto fail;
	}
	c->uh = u;
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc != CURLUE_OK ||
	    (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0)) {
		pp_conf_error(cause, config_setting_get_member(g, "url"), "url",
		    "\"%s\" is not an http:// or https:// URL", url);
		goto fail;
	}
	if (strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(method)) {
		pp_conf_error(cause, config_setting_get_member(g, "method"),
		    "method", "\"%s\" is not an HTTP method", method);
		goto fail;
	}
	if (re != NULL) {
		if ((rc = regcomp(&c->regex, re, REG_EXTENDED | REG_NOSUB))
		    != 0) {
			regerror(rc, &c->regex, errbuf, sizeof errbuf);
			pp_conf_error(cause,
			    config_setting_get_member(g, "body_regex"),
			    "body_regex", "%s", errbuf);
			goto fail;
		}
		c->has_regex = true;
	}
	if (strcmp(method, "HEAD") == 0 && (body != NULL || re != NULL)) {
		pp_conf_error(cause, g, "body",
		    "a HEAD request has no body to match");
		goto fail;
	}
	c->max_latency_ms = maxlat * 1000.0;
	if ((c->url = strdup(url)) == NULL ||
	    (c->method = strdup(method)) == NULL ||
	    (body != NULL && (c->body = strdup(body)) == NULL)) {
		pp_conf_error(cause, g, "check", "out of memory");
		goto fail;
	}
	return c;

fail:
	http_free(c);
	return NULL;
}

/* curl write callback: keep up to HTTP_BODY_MAX bytes, drop the rest. */
static size_t
http_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_probe *p = arg;
	size_t n = size * nmemb, room;
	char *nb;

	if (!p->keep || p->len >= HTTP_BODY_MAX)
		return n;
	room = HTTP_BODY_MAX - p->len;
	if (room > n)
		room = n;
	if ((nb = realloc(p->body, p->len + room + 1)) == NULL)
		return 0;
	p->body = nb;
	memcpy(p->body + p->len, data, room);
	p->len += room;
	p->body[p->len] = '\0';
	return n;
}

static int
http_prepare(void *arg, const struct pp_proxy *px, CURL *h, void **probe,
    char **cause)
{
	struct http_conf *c = arg;
	struct http_probe *p;

	if ((p = calloc(1, sizeof *p)) == NULL) {
		*cause = strdup("out of memory");
		return -1;
	}
	p->keep = c->body != NULL || c->has_regex;
	curl_easy_setopt(h, CURLOPT_CURLU, c->uh);
	curl_easy_setopt(h, CURLOPT_PROXY, px->url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, p->errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (strcmp(c->method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (strcmp(c->method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
	if (c->headers != NULL)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	*probe = p;
	return 0;
}

/* Is status one of the expected ones? */
static bool
http_status_ok(const struct http_conf *c, long status)
{
	int i;

	if (c->nexpect == 0)
		return status >= 200 && status < 400;
	for (i = 0; i < c->nexpect; i++)
		if (c->expect[i] == status)
			return true;
	return false;
}

static void
http_judge(void *arg, const struct pp_proxy *px, CURL *h, CURLcode rc,
    void *probe, struct pp_result *res)
{
	struct http_conf *c = arg;
	struct http_probe *p = probe;
	long status = 0;
	const char *body;

	if (rc != CURLE_OK) {
		pp_curl_down(res, rc, p->errbuf);
		goto done;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (!http_status_ok(c, status)) {
		pp_verdict(res, PP_DOWN, "status %ld", status);
		goto done;
	}
	body = p->body != NULL ? p->body : "";
	if (c->body != NULL && strstr(body, c->body) == NULL) {
		pp_verdict(res, PP_DOWN, "body does not contain \"%.40s\"",
		    c->body);
		goto done;
	}
	if (c->has_regex && (strlen(body) != p->len ||
	    regexec(&c->regex, body, 0, NULL, 0) != 0)) {
		pp_verdict(res, PP_DOWN, "body does not match body_regex");
		goto done;
	}
	pp_judge_latency(res, h, CURLINFO_TOTAL_TIME_T, c->max_latency_ms);

done:
	free(p->body);
	free(p);
}

const struct pp_check_type pp_check_plugin = {
	.abi = PP_CHECK_ABI,
	.name = "http",
	.settings = http_settings,
	.configure = http_configure,
	.prepare = http_prepare,
	.judge = http_judge,
	.free = http_free,
};
