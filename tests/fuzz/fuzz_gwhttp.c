/*
 * fuzz_gwhttp.c: the gateway's HTTP heads (src/daemon/gw_http.c on
 * http-parser) on arbitrary bytes, as a client's requests or an
 * upstream's responses.  The first byte chooses: bit 0 the type (0
 * request, 1 response), bit 1 a response to HEAD (no body), the other
 * bits how the rest is cut in pieces (0: one piece).  The messages are
 * read as the gateway reads them, one after the other on one connection
 * (gw_http_next after each), then the end of the connection
 * (gw_http_eof); once in one piece and once in pieces, and both
 * readings must see the same heads, bodies and ends up to an error.
 * Every head must be well formed (see fuzz_gwhttp_head), and the
 * Basic credentials decoder must decode what gw_base64 encodes.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "gw_http.h"
#include "xmalloc.h"

/* What one reading saw, serialised (heads, body bytes, ends). */
struct fuzz_trace {
	char		*buf;
	size_t		 len;
	size_t		 size;
	size_t		 messages;	/* messages completed */
	bool		 failed;	/* GW_HTTP_ERROR reached */
	size_t		 body;		/* body bytes of the current message */
};

static void
fuzz_put(struct fuzz_trace *t, const void *data, size_t len)
{
	if (t->size - t->len < len + 1) {
		while (t->size - t->len < len + 1)
			t->size = t->size == 0 ? 4096 : t->size * 2;
		t->buf = xreallocarray(t->buf, t->size, 1);
	}
	memcpy(t->buf + t->len, data, len);
	t->len += len;
}

/* A string and its terminator (NULL as a lone 0xff). */
static void
fuzz_put_str(struct fuzz_trace *t, const char *s)
{
	if (s == NULL)
		fuzz_put(t, "\377", 1);
	else
		fuzz_put(t, s, strlen(s) + 1);
}

static void
fuzz_put_num(struct fuzz_trace *t, long long n)
{
	fuzz_put(t, &n, sizeof n);
}

static void
fuzz_body(void *arg, const char *data, size_t len)
{
	struct fuzz_trace *t = arg;

	FUZZ_CHECK(data != NULL || len == 0);
	/* as bytes (pieces may cut them anywhere), counted at the end */
	t->body += len;
	fuzz_put(t, data, len);
}

/* The characters of a header name (RFC 9110 tchar). */
static bool
fuzz_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Check what gw_basic_decode makes of value: refused with nothing
 * returned, or a user and a password that encode back to themselves. */
static void
fuzz_basic(const char *value)
{
	char *user, *pass, *user2, *pass2, *cred, *b64, *hdr;
	int rc;

	rc = gw_basic_decode(value, &user, &pass);
	if (rc != 0) {
		FUZZ_CHECK(rc == -1);
		FUZZ_CHECK(user == NULL && pass == NULL);
		return;
	}
	FUZZ_CHECK(user != NULL && pass != NULL);
	FUZZ_CHECK(strchr(user, ':') == NULL);
	xasprintf(&cred, "%s:%s", user, pass);
	b64 = gw_base64(cred, strlen(cred));
	xasprintf(&hdr, "Basic %s", b64);
	FUZZ_CHECK(gw_basic_decode(hdr, &user2, &pass2) == 0);
	FUZZ_CHECK(strcmp(user, user2) == 0 && strcmp(pass, pass2) == 0);
	free(user2);
	free(pass2);
	free(hdr);
	free(b64);
	free(cred);
	free(user);
	free(pass);
}

/* Check a head that just completed, and record it. */
static void
fuzz_gwhttp_head(struct gw_http *h, struct fuzz_trace *t)
{
	static const char *const names[] = { "host", "connection",
	    "content-length", "transfer-encoding", "proxy-authorization",
	    "keep-alive", "te", "upgrade", "x-nothing", "", NULL };
	const struct gw_head *hd = &h->head;
	const char *v, *const *np;
	const unsigned char *c;
	size_t i, j, total = 0;

	FUZZ_CHECK(h->head_done);
	FUZZ_CHECK(h->state == GW_HTTP_BODY || h->state == GW_HTTP_DONE);
	FUZZ_CHECK(h->head_bytes <= GW_HEAD_MAX);
	FUZZ_CHECK(hd->nhdrs <= GW_HEADERS_MAX);
	FUZZ_CHECK(hd->nhdrs == 0 || hd->hdrs != NULL);
	FUZZ_CHECK(hd->length >= -1);
	if (h->type == HTTP_REQUEST) {
		FUZZ_CHECK(hd->method[0] != '\0');
		FUZZ_CHECK(memchr(hd->method, '\0', sizeof hd->method) != NULL);
		FUZZ_CHECK(hd->connect == (strcmp(hd->method, "CONNECT") == 0));
		FUZZ_CHECK(hd->head_method == (strcmp(hd->method, "HEAD") == 0));
		FUZZ_CHECK(hd->target != NULL);
		FUZZ_CHECK(hd->host != NULL && hd->host[0] != '\0');
		FUZZ_CHECK(hd->port >= 1 && hd->port <= 65535);
		if (!hd->connect)
			FUZZ_CHECK(hd->path != NULL && hd->path[0] == '/');
		total += strlen(hd->target);
		/* a CONNECT's tunnel is the caller's */
		if (hd->connect)
			FUZZ_CHECK(h->state == GW_HTTP_DONE);
	} else {
		FUZZ_CHECK(hd->reason != NULL);
		FUZZ_CHECK(hd->status >= 0 && hd->status <= 999);
		total += strlen(hd->reason);
		if (h->no_body || hd->status / 100 == 1 || hd->status == 204 ||
		    hd->status == 304)
			FUZZ_CHECK(h->state == GW_HTTP_DONE);
	}
	for (i = 0; i < hd->nhdrs; i++) {
		FUZZ_CHECK(hd->hdrs[i].name != NULL);
		FUZZ_CHECK(hd->hdrs[i].value != NULL);
		/* a name is a token; a value has no control byte but HTAB
		 * (gw_head_check refuses what http-parser lets through:
		 * corpus/fuzz_gwhttp/name_space and value_ctl) */
		FUZZ_CHECK(hd->hdrs[i].name[0] != '\0');
		for (c = (const unsigned char *)hd->hdrs[i].name; *c != '\0';
		    c++)
			FUZZ_CHECK(fuzz_tchar(*c));
		for (c = (const unsigned char *)hd->hdrs[i].value; *c != '\0';
		    c++)
			FUZZ_CHECK(*c >= 0x20 ? *c != 0x7f : *c == '\t');
		total += strlen(hd->hdrs[i].name) + strlen(hd->hdrs[i].value);
		/* the first header of that name */
		v = gw_head_get(hd, hd->hdrs[i].name);
		FUZZ_CHECK(v != NULL);
		for (j = 0; strcasecmp(hd->hdrs[j].name, hd->hdrs[i].name) != 0;
		    j++)
			;
		FUZZ_CHECK(v == hd->hdrs[j].value);
		if (strcasecmp(hd->hdrs[i].name, "connection") == 0 ||
		    strcasecmp(hd->hdrs[i].name, "transfer-encoding") == 0 ||
		    strcasecmp(hd->hdrs[i].name, "proxy-authorization") == 0)
			FUZZ_CHECK(gw_head_hop(hd, hd->hdrs[i].name));
		else
			(void)gw_head_hop(hd, hd->hdrs[i].name);
		/* what the gateway does with a Proxy-Authorization */
		fuzz_basic(hd->hdrs[i].value);
	}
	/* every byte of the strings was counted in the head */
	FUZZ_CHECK(total <= h->head_bytes);
	for (np = names; *np != NULL; np++) {
		(void)gw_head_get(hd, *np);
		(void)gw_head_hop(hd, *np);
	}

	fuzz_put(t, "H", 1);
	fuzz_put_str(t, hd->method);
	fuzz_put_str(t, hd->target);
	fuzz_put_str(t, hd->host);
	fuzz_put_num(t, hd->port);
	fuzz_put_str(t, hd->path);
	fuzz_put_num(t, hd->status);
	fuzz_put_str(t, hd->reason);
	fuzz_put_num(t, hd->major * 1000 + hd->minor);
	fuzz_put_num(t, hd->keepalive | hd->chunked << 1 | hd->upgrade << 2 |
	    hd->connect << 3 | hd->idempotent << 4);
	fuzz_put_num(t, hd->length);
	fuzz_put_num(t, (long long)hd->nhdrs);
	for (i = 0; i < hd->nhdrs; i++) {
		fuzz_put_str(t, hd->hdrs[i].name);
		fuzz_put_str(t, hd->hdrs[i].value);
	}
}

/* A message is complete: check its body's size, record the end. */
static void
fuzz_gwhttp_done(struct gw_http *h, struct fuzz_trace *t)
{
	const struct gw_head *hd = &h->head;

	FUZZ_CHECK(h->head_done);
	if (!hd->chunked && hd->length >= 0)
		FUZZ_CHECK(t->body == 0 || t->body == (size_t)hd->length);
	fuzz_put(t, "D", 1);
	fuzz_put_num(t, (long long)t->body);
	fuzz_put_num(t, hd->keepalive);
	t->messages++;
	t->body = 0;
}

static void
fuzz_gwhttp_failed(struct gw_http *h, struct fuzz_trace *t)
{
	FUZZ_CHECK(h->error_status == 400 || h->error_status == 431 ||
	    h->error_status == 501 || h->error_status == 502);
	FUZZ_CHECK(h->errstr[0] != '\0');
	FUZZ_CHECK(memchr(h->errstr, '\0', sizeof h->errstr) != NULL);
	t->failed = true;
}

/* Read data as messages on one connection, in pieces whose sizes come
 * from seed (0: one piece), the way gateway.c feeds gw_http. */
static void
fuzz_gwhttp_read(const uint8_t *data, size_t size, enum http_parser_type
    type, bool no_body, uint32_t seed, struct fuzz_trace *t)
{
	struct gw_http h;
	enum gw_http_state st;
	size_t off = 0, end = 0, used, n, heads = 0;
	bool more, cut;

	gw_http_init(&h, type);
	gw_http_set_body(&h, fuzz_body, t);
	gw_http_set_no_body(&h, no_body);
	for (;;) {
		/* the bytes that came and are not taken yet */
		if (off == end) {
			if (end == size)
				break;
			if (seed == 0)
				n = size - end;
			else {
				seed = seed * 1103515245 + 12345;
				n = 1 + (seed >> 16) % ((seed & 0x100) ? 7 :
				    400);
			}
			end += n < size - end ? n : size - end;
		}
		st = gw_http_feed(&h, (const char *)data + off, end - off,
		    &used);
		FUZZ_CHECK(used <= end - off);
		FUZZ_CHECK(st == h.state || st == GW_HTTP_HEAD);
		off += used;
		more = false;
		switch (st) {
		case GW_HTTP_MORE:
		case GW_HTTP_BODY:
			/* all taken unless paused at the head */
			FUZZ_CHECK(off == end);
			more = true;
			break;
		case GW_HTTP_HEAD:
			FUZZ_CHECK(++heads == 1);
			fuzz_gwhttp_head(&h, t);
			if (h.state == GW_HTTP_DONE)
				goto done;
			break;
		case GW_HTTP_DONE:
			FUZZ_CHECK(heads == 1);
		done:
			fuzz_gwhttp_done(&h, t);
			/* the same parser reads on (a CONNECT's tunnel too) */
			gw_http_next(&h);
			FUZZ_CHECK(h.state == GW_HTTP_MORE && !h.head_done);
			FUZZ_CHECK(h.body_fn == fuzz_body && h.body_arg == t);
			gw_http_set_no_body(&h, no_body);
			heads = 0;
			break;
		case GW_HTTP_ERROR:
			fuzz_gwhttp_failed(&h, t);
			/* and it stays so */
			FUZZ_CHECK(gw_http_feed(&h, "x", 1, &used) ==
			    GW_HTTP_ERROR && used == 0);
			FUZZ_CHECK(gw_http_eof(&h) == GW_HTTP_ERROR);
			gw_http_free(&h);
			return;
		}
		if (more && off == end && end == size)
			break;
		if (more && off != end)
			FUZZ_CHECK(!"bytes left with MORE");
	}
	/* the connection ends (gateway.c asks only inside a message, but
	 * between two the answer is an error too) */
	cut = h.state == GW_HTTP_MORE;
	st = gw_http_eof(&h);
	if (cut) {
		FUZZ_CHECK(st == GW_HTTP_ERROR && h.error_status == 502);
		fuzz_put(t, "E", 1);
	} else if (st == GW_HTTP_DONE) {
		FUZZ_CHECK(h.head_done);
		fuzz_gwhttp_done(&h, t);
	} else {
		FUZZ_CHECK(st == GW_HTTP_ERROR);
		fuzz_gwhttp_failed(&h, t);
	}
	FUZZ_CHECK(gw_http_eof(&h) == st);
	gw_http_free(&h);
}

/* gw_base64 of data and back through gw_basic_decode. */
static void
fuzz_gwhttp_base64(const uint8_t *data, size_t size, unsigned form)
{
	static const char *const prefix[] = { "Basic ", "basic\t",
	    "  BASIC   ", "Basic" };
	char *b64, *hdr, *user, *pass;
	const char *colon;
	size_t i, n;
	int rc;

	n = size > 3072 ? 3072 : size;	/* 4096 base64 characters */
	b64 = gw_base64((const char *)data, n);
	FUZZ_CHECK(strlen(b64) == (n + 2) / 3 * 4);
	for (i = 0; b64[i] != '\0'; i++)
		FUZZ_CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
		    "qrstuvwxyz0123456789+/", b64[i]) != NULL ||
		    (b64[i] == '=' && i + 2 >= strlen(b64)));
	xasprintf(&hdr, "%s%s", prefix[form % 4], b64);
	rc = gw_basic_decode(hdr, &user, &pass);
	colon = memchr(data, ':', n);
	if (form % 4 == 3 || n == 0 || memchr(data, '\0', n) != NULL ||
	    colon == NULL) {
		/* no blank after Basic, nothing, a NUL or no colon */
		FUZZ_CHECK(rc == -1 && user == NULL && pass == NULL);
	} else {
		FUZZ_CHECK(rc == 0);
		FUZZ_CHECK(strlen(user) == (size_t)(colon - (const char *)data));
		FUZZ_CHECK(memcmp(user, data, strlen(user)) == 0);
		FUZZ_CHECK(strlen(pass) == n - strlen(user) - 1);
		FUZZ_CHECK(memcmp(pass, colon + 1, strlen(pass)) == 0);
		free(user);
		free(pass);
	}
	free(hdr);
	free(b64);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_trace whole, pieces;
	enum http_parser_type type;
	uint32_t seed;
	char *text;
	bool no_body;
	size_t n;

	if (size < 1)
		return 0;
	type = (data[0] & 1) ? HTTP_RESPONSE : HTTP_REQUEST;
	no_body = (data[0] & 2) != 0;
	seed = data[0] >> 2;
	data++;
	size--;

	memset(&whole, 0, sizeof whole);
	memset(&pieces, 0, sizeof pieces);
	fuzz_gwhttp_read(data, size, type, no_body, 0, &whole);
	fuzz_gwhttp_read(data, size, type, no_body, seed, &pieces);
	/* the same messages whatever the pieces, up to an error */
	n = whole.len < pieces.len ? whole.len : pieces.len;
	if (n > 0 && memcmp(whole.buf, pieces.buf, n) != 0) {
		fprintf(stderr, "readings differ (whole %zu messages, pieces "
		    "%zu)\n", whole.messages, pieces.messages);
		abort();
	}
	FUZZ_CHECK(whole.failed == pieces.failed);
	if (!whole.failed) {
		FUZZ_CHECK(whole.len == pieces.len);
		FUZZ_CHECK(whole.messages == pieces.messages);
	}
	free(whole.buf);
	free(pieces.buf);

	/* the credentials' codec, on the bytes as they are */
	fuzz_gwhttp_base64(data, size, size > 0 ? data[size - 1] : 0);
	text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	fuzz_basic(text);
	free(text);
	return 0;
}
