/*
 * gw_http.c: message heads of the gateway's HTTP side, on http-parser.
 * The parser's callbacks build a struct gw_head; the parser pauses when
 * the head is complete and when the message is, so the caller reads
 * exactly one message at a time and decides in between.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_http.h"
#include "xmalloc.h"

static struct gw_http *
gw_http_of(http_parser *p)
{
	return (struct gw_http *)p->data;
}

/* Append len bytes to the owned string *s (within the head's budget). */
static int
gw_http_append(struct gw_http *h, char **s, const char *at, size_t len)
{
	size_t old;

	/* the string appended to last keeps its length: a head that comes
	 * a byte at a time costs no more than one in a piece */
	if (s == h->last && *s != NULL)
		old = h->last_len;
	else
		old = *s != NULL ? strlen(*s) : 0;
	h->last = s;
	h->last_len = old + len;
	if (memchr(at, '\0', len) != NULL)
		return -1;	/* a NUL would cut the string: 400 */
	h->head_bytes += len;
	if (h->head_bytes > GW_HEAD_MAX) {
		h->error_status = 431;
		snprintf(h->errstr, sizeof h->errstr, "head over %d bytes",
		    GW_HEAD_MAX);
		return -1;
	}
	*s = xreallocarray(*s, old + len + 1, 1);
	memcpy(*s + old, at, len);
	(*s)[old + len] = '\0';
	return 0;
}

static int
gw_http_on_url(http_parser *p, const char *at, size_t len)
{
	struct gw_http *h = gw_http_of(p);

	return gw_http_append(h, &h->head.target, at, len);
}

static int
gw_http_on_status(http_parser *p, const char *at, size_t len)
{
	struct gw_http *h = gw_http_of(p);

	return gw_http_append(h, &h->head.reason, at, len);
}

static int
gw_http_on_field(http_parser *p, const char *at, size_t len)
{
	struct gw_http *h = gw_http_of(p);
	struct gw_head *hd = &h->head;

	if (hd->nhdrs == 0 || h->in_value) {
		if (hd->nhdrs == GW_HEADERS_MAX) {
			h->error_status = 431;
			snprintf(h->errstr, sizeof h->errstr, "over %d header "
			    "lines", GW_HEADERS_MAX);
			return -1;
		}
		hd->hdrs = xreallocarray(hd->hdrs, hd->nhdrs + 1,
		    sizeof *hd->hdrs);
		h->last = NULL;		/* the array may have moved */
		hd->hdrs[hd->nhdrs].name = NULL;
		hd->hdrs[hd->nhdrs].value = xstrdup("");
		hd->nhdrs++;
		h->in_value = false;
	}
	return gw_http_append(h, &hd->hdrs[hd->nhdrs - 1].name, at, len);
}

static int
gw_http_on_value(http_parser *p, const char *at, size_t len)
{
	struct gw_http *h = gw_http_of(p);
	struct gw_head *hd = &h->head;

	h->in_value = true;
	return gw_http_append(h, &hd->hdrs[hd->nhdrs - 1].value, at, len);
}

/* Split the request-target into host, port and origin-form path. */
static int
gw_http_target(struct gw_http *h)
{
	struct gw_head *hd = &h->head;
	struct http_parser_url u;
	const char *t = hd->target != NULL ? hd->target : "";
	size_t n;

	http_parser_url_init(&u);
	if (http_parser_parse_url(t, strlen(t), hd->connect, &u) != 0 ||
	    !(u.field_set & (1 << UF_HOST))) {
		h->error_status = 400;
		snprintf(h->errstr, sizeof h->errstr, hd->connect ?
		    "CONNECT needs host:port" : "a proxy request needs an "
		    "absolute URL (http://host/path)");
		return -1;
	}
	if (!hd->connect) {
		if (!(u.field_set & (1 << UF_SCHEMA)) ||
		    u.field_data[UF_SCHEMA].len != 4 ||
		    strncasecmp(t + u.field_data[UF_SCHEMA].off, "http",
		    4) != 0) {
			h->error_status = 400;
			snprintf(h->errstr, sizeof h->errstr, "only http:// "
			    "URLs are proxied (https goes through CONNECT)");
			return -1;
		}
		if (u.field_set & (1 << UF_USERINFO)) {
			h->error_status = 400;
			snprintf(h->errstr, sizeof h->errstr, "credentials in "
			    "the URL are not forwarded");
			return -1;
		}
	}
	hd->host = xstrndup(t + u.field_data[UF_HOST].off,
	    u.field_data[UF_HOST].len);
	hd->port = (u.field_set & (1 << UF_PORT)) ? u.port : 80;
	if (hd->port == 0 || hd->host[0] == '\0') {
		h->error_status = 400;
		snprintf(h->errstr, sizeof h->errstr, "bad host or port");
		return -1;
	}
	if (hd->connect)
		return 0;
	if (u.field_set & (1 << UF_PATH)) {
		/* the path and everything after it but a fragment */
		n = strlen(t + u.field_data[UF_PATH].off);
		if (u.field_set & (1 << UF_FRAGMENT))
			n = (size_t)(u.field_data[UF_FRAGMENT].off - 1 -
			    u.field_data[UF_PATH].off);
		hd->path = xstrndup(t + u.field_data[UF_PATH].off, n);
	} else if (u.field_set & (1 << UF_QUERY)) {
		n = u.field_data[UF_QUERY].len;
		xasprintf(&hd->path, "/?%.*s", (int)n,
		    t + u.field_data[UF_QUERY].off);
	} else
		hd->path = xstrdup("/");
	return 0;
}

/*
 * Header names are tokens and values hold no control byte but HTAB
 * (RFC 9110 5.1, 5.5).  http-parser lets some through ("Name : v", a
 * control byte first in a value), which would make the gateway forward
 * what the next hop may read otherwise.
 */
static int
gw_head_check(struct gw_http *h)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";
	const struct gw_head *hd = &h->head;
	const unsigned char *c;
	size_t i;

	for (i = 0; i < hd->nhdrs; i++) {
		c = (const unsigned char *)hd->hdrs[i].name;
		if (c == NULL || *c == '\0')
			goto bad_name;
		for (; *c != '\0'; c++) {
			if (!isalnum(*c) && strchr(tchar, *c) == NULL)
				goto bad_name;
		}
		for (c = (const unsigned char *)hd->hdrs[i].value; *c != '\0';
		    c++) {
			if ((*c < 0x20 && *c != '\t') || *c == 0x7f) {
				h->error_status = 400;
				snprintf(h->errstr, sizeof h->errstr, "a control "
				    "byte in the value of %.40s",
				    hd->hdrs[i].name);
				return -1;
			}
		}
	}
	return 0;

bad_name:
	h->error_status = 400;
	snprintf(h->errstr, sizeof h->errstr, "a header name that is not a "
	    "token");
	return -1;
}

static int
gw_http_on_headers(http_parser *p)
{
	struct gw_http *h = gw_http_of(p);
	struct gw_head *hd = &h->head;
	const char *m;

	if (gw_head_check(h) != 0)
		return -1;
	hd->major = p->http_major;
	hd->minor = p->http_minor;
	hd->keepalive = http_should_keep_alive(p) != 0;
	hd->chunked = (p->flags & F_CHUNKED) != 0;
	hd->length = (p->flags & F_CONTENTLENGTH) ?
	    (long long)p->content_length : -1;
	hd->upgrade = p->upgrade != 0;
	if (h->type == HTTP_REQUEST) {
		m = http_method_str((enum http_method)p->method);
		snprintf(hd->method, sizeof hd->method, "%s", m);
		hd->connect = p->method == HTTP_CONNECT;
		hd->head_method = p->method == HTTP_HEAD;
		switch (p->method) {
		case HTTP_GET: case HTTP_HEAD: case HTTP_OPTIONS:
		case HTTP_PUT: case HTTP_DELETE: case HTTP_TRACE:
			hd->idempotent = true;
			break;
		default:
			break;
		}
		if (gw_http_target(h) != 0)
			return -1;
	} else {
		hd->status = p->status_code;
		if (hd->reason == NULL)
			hd->reason = xstrdup("");
	}
	h->head_done = true;
	h->state = GW_HTTP_BODY;
	/* a CONNECT's "body" is the tunnel: the caller takes it raw */
	if (h->type == HTTP_REQUEST && hd->connect)
		return 1;
	if (h->type == HTTP_RESPONSE && (h->no_body || hd->status / 100 == 1 ||
	    hd->status == 204 || hd->status == 304))
		return 1;
	/* stop so the caller sees the head before any of the body */
	if (hd->chunked || hd->length > 0 ||
	    (h->type == HTTP_RESPONSE && hd->length < 0))
		http_parser_pause(p, 1);
	return 0;
}

static int
gw_http_on_body(http_parser *p, const char *at, size_t len)
{
	struct gw_http *h = gw_http_of(p);

	if (h->body_fn != NULL)
		h->body_fn(h->body_arg, at, len);
	return 0;
}

static int
gw_http_on_complete(http_parser *p)
{
	struct gw_http *h = gw_http_of(p);

	h->state = GW_HTTP_DONE;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings gw_http_settings = {
	.on_url = gw_http_on_url,
	.on_status = gw_http_on_status,
	.on_header_field = gw_http_on_field,
	.on_header_value = gw_http_on_value,
	.on_headers_complete = gw_http_on_headers,
	.on_body = gw_http_on_body,
	.on_message_complete = gw_http_on_complete,
};

static void
gw_head_free(struct gw_head *hd)
{
	size_t i;

	for (i = 0; i < hd->nhdrs; i++) {
		free(hd->hdrs[i].name);
		free(hd->hdrs[i].value);
	}
	free(hd->hdrs);
	free(hd->target);
	free(hd->host);
	free(hd->path);
	free(hd->reason);
	memset(hd, 0, sizeof *hd);
	hd->length = -1;
}

void
gw_http_init(struct gw_http *h, enum http_parser_type type)
{
	memset(h, 0, sizeof *h);
	h->type = type;
	h->head.length = -1;
	http_parser_init(&h->p, type);
	h->p.data = h;
}

void
gw_http_free(struct gw_http *h)
{
	gw_head_free(&h->head);
}

void
gw_http_next(struct gw_http *h)
{
	gw_http_body_fn *fn = h->body_fn;
	void *arg = h->body_arg;
	enum http_parser_type type = h->type;

	gw_http_free(h);
	gw_http_init(h, type);
	h->body_fn = fn;
	h->body_arg = arg;
}

void
gw_http_set_no_body(struct gw_http *h, bool no_body)
{
	h->no_body = no_body;
}

void
gw_http_set_body(struct gw_http *h, gw_http_body_fn *fn, void *arg)
{
	h->body_fn = fn;
	h->body_arg = arg;
}

/* Value of a header without surrounding blanks. */
static void
gw_head_trim(struct gw_head *hd)
{
	size_t i, n;
	char *v;

	for (i = 0; i < hd->nhdrs; i++) {
		if (hd->hdrs[i].name == NULL)
			hd->hdrs[i].name = xstrdup("");
		v = hd->hdrs[i].value;
		n = strlen(v);
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			v[--n] = '\0';
	}
}

enum gw_http_state
gw_http_feed(struct gw_http *h, const char *data, size_t len, size_t *used)
{
	enum http_errno err;
	bool head_before = h->head_done;
	size_t n;

	*used = 0;
	if (h->state == GW_HTTP_ERROR || h->state == GW_HTTP_DONE || len == 0)
		return h->state;
	if (HTTP_PARSER_ERRNO(&h->p) == HPE_PAUSED)
		http_parser_pause(&h->p, 0);
	n = http_parser_execute(&h->p, &gw_http_settings, data, len);
	err = HTTP_PARSER_ERRNO(&h->p);
	*used = n;
	if (err != HPE_OK && err != HPE_PAUSED) {
		if (h->error_status == 0) {
			h->error_status = 400;
			snprintf(h->errstr, sizeof h->errstr, "malformed %s: %s",
			    h->type == HTTP_REQUEST ? "request" : "response",
			    http_errno_description(err));
		}
		h->state = GW_HTTP_ERROR;
		return h->state;
	}
	if (!head_before && h->head_done) {
		gw_head_trim(&h->head);
		return GW_HTTP_HEAD;	/* h->state may say DONE already */
	}
	if (!h->head_done && h->p.nread > GW_HEAD_MAX) {
		h->error_status = 431;
		snprintf(h->errstr, sizeof h->errstr, "head over %d bytes",
		    GW_HEAD_MAX);
		h->state = GW_HTTP_ERROR;
	}
	return h->state;
}

enum gw_http_state
gw_http_eof(struct gw_http *h)
{
	if (h->state == GW_HTTP_ERROR || h->state == GW_HTTP_DONE)
		return h->state;
	if (HTTP_PARSER_ERRNO(&h->p) == HPE_PAUSED)
		http_parser_pause(&h->p, 0);
	http_parser_execute(&h->p, &gw_http_settings, NULL, 0);
	if (h->state != GW_HTTP_DONE) {
		h->state = GW_HTTP_ERROR;
		if (h->error_status == 0) {
			h->error_status = 502;
			snprintf(h->errstr, sizeof h->errstr, "connection "
			    "closed inside the message");
		}
	}
	return h->state;
}

const char *
gw_head_get(const struct gw_head *hd, const char *name)
{
	size_t i;

	for (i = 0; i < hd->nhdrs; i++) {
		if (strcasecmp(hd->hdrs[i].name, name) == 0)
			return hd->hdrs[i].value;
	}
	return NULL;
}

/* Whether the comma-separated list s holds token (case-insensitive). */
static bool
gw_list_has(const char *s, const char *token)
{
	size_t n = strlen(token), m;

	while (*s != '\0') {
		s += strspn(s, " \t,");
		m = strcspn(s, " \t,");
		if (m == n && strncasecmp(s, token, n) == 0)
			return true;
		s += m;
	}
	return false;
}

bool
gw_head_hop(const struct gw_head *hd, const char *name)
{
	static const char *const hop[] = { "connection", "keep-alive",
	    "proxy-connection", "proxy-authenticate", "proxy-authorization",
	    "te", "trailer", "transfer-encoding", "upgrade", NULL };
	const char *const *p;
	size_t i;

	for (p = hop; *p != NULL; p++) {
		if (strcasecmp(name, *p) == 0)
			return true;
	}
	for (i = 0; i < hd->nhdrs; i++) {
		if (strcasecmp(hd->hdrs[i].name, "connection") == 0 &&
		    gw_list_has(hd->hdrs[i].value, name))
			return true;
	}
	return false;
}

static const char gw_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
gw_base64(const char *data, size_t len)
{
	const unsigned char *in = (const unsigned char *)data;
	char *out, *o;
	size_t i;
	unsigned v;

	o = out = xmalloc((len + 2) / 3 * 4 + 1);
	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		*o++ = gw_b64[v >> 18];
		*o++ = gw_b64[(v >> 12) & 63];
		*o++ = gw_b64[(v >> 6) & 63];
		*o++ = gw_b64[v & 63];
	}
	if (i < len) {
		v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		*o++ = gw_b64[v >> 18];
		*o++ = gw_b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? gw_b64[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

int
gw_basic_decode(const char *value, char **user, char **password)
{
	const char *p, *q;
	char *out, *colon;
	size_t n = 0, len;
	unsigned v = 0;
	int bits = 0;

	*user = *password = NULL;
	value += strspn(value, " \t");
	if (strncasecmp(value, "basic", 5) != 0 ||
	    (value[5] != ' ' && value[5] != '\t'))
		return -1;
	p = value + 5 + strspn(value + 5, " \t");
	len = strcspn(p, " \t");
	if (p[len] != '\0' || len == 0 || len > 4096)
		return -1;
	out = xmalloc(len + 1);
	for (; *p != '\0' && *p != '='; p++) {
		if ((q = strchr(gw_b64, *p)) == NULL || *p == '\0') {
			free(out);
			return -1;
		}
		v = v << 6 | (unsigned)(q - gw_b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (char)((v >> bits) & 0xff);
		}
	}
	for (; *p == '='; p++)
		;
	out[n] = '\0';
	if (*p != '\0' || memchr(out, '\0', n) != NULL ||
	    (colon = strchr(out, ':')) == NULL) {
		free(out);
		return -1;
	}
	*colon = '\0';
	*user = xstrdup(out);
	*password = xstrdup(colon + 1);
	free(out);
	return 0;
}
