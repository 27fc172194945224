/*
 * gw_http.h: HTTP/1.x message heads for the gateway, parsed with
 * http-parser (Debian's libhttp-parser): the requests of clients and
 * the responses of upstreams.  A parser reads one message at a time:
 * it stops when the head is complete (the gateway decides what to do
 * with it), then hands the body over decoded (chunked framing removed)
 * and stops again at the end of the message.  Nothing here does I/O.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <http_parser.h>

#define GW_HEAD_MAX	65536	/* bytes of one message head */
#define GW_HEADERS_MAX	256	/* header lines of one head */

/* One header line: name and value as received (value trimmed). */
struct gw_hdr {
	char	*name;
	char	*value;
};

/* A parsed head. */
struct gw_head {
	/* requests */
	char		 method[24];	/* "GET", "CONNECT"... */
	bool		 connect;	/* CONNECT host:port */
	char		*target;	/* the request-target as written */
	char		*host;		/* from the target (brackets gone) */
	int		 port;
	char		*path;		/* origin-form: "/a?b" ("/" if none) */
	bool		 idempotent;	/* GET, HEAD, OPTIONS, PUT, DELETE,
					 * TRACE: may be sent again */
	bool		 head_method;	/* HEAD: the response has no body */
	/* responses */
	int		 status;
	char		*reason;
	/* both */
	int		 major, minor;	/* HTTP version */
	struct gw_hdr	*hdrs;		/* owned, in order */
	size_t		 nhdrs;
	bool		 keepalive;	/* the connection may carry another */
	bool		 chunked;	/* Transfer-Encoding: chunked */
	long long	 length;	/* Content-Length, or -1 */
	bool		 upgrade;	/* Upgrade asked (not supported) */
};

enum gw_http_state {
	GW_HTTP_MORE,		/* the head is not complete: more bytes */
	GW_HTTP_HEAD,		/* (returned once) the head just completed:
				 * look at it before feeding the body; the
				 * message may be complete too (no body:
				 * h->state is GW_HTTP_DONE) */
	GW_HTTP_BODY,		/* reading the body */
	GW_HTTP_DONE,		/* the message is complete */
	GW_HTTP_ERROR		/* malformed: see errstr, error_status */
};

/* Receives decoded body bytes. */
typedef void gw_http_body_fn(void *arg, const char *data, size_t len);

struct gw_http {
	http_parser		 p;
	enum http_parser_type	 type;
	struct gw_head		 head;
	size_t			 head_bytes;	/* read into the head so far */
	char			**last;		/* the string appended to last */
	size_t			 last_len;	/* and its length */
	bool			 head_done;
	bool			 in_value;	/* last callback was a value */
	enum gw_http_state	 state;
	bool			 no_body;	/* response to HEAD (or 1xx..) */
	gw_http_body_fn		*body_fn;
	void			*body_arg;
	int			 error_status;	/* 400, 431, 501, 502 */
	char			 errstr[128];
};

/* Ready for one message of type HTTP_REQUEST or HTTP_RESPONSE. */
void	gw_http_init(struct gw_http *h, enum http_parser_type type);
/* Free what the head holds. */
void	gw_http_free(struct gw_http *h);
/* Read the next message on the same connection (after GW_HTTP_DONE). */
void	gw_http_next(struct gw_http *h);
/* The response answers a HEAD request: no body whatever it says. */
void	gw_http_set_no_body(struct gw_http *h, bool no_body);
/* Where body bytes go. */
void	gw_http_set_body(struct gw_http *h, gw_http_body_fn *fn, void *arg);

/*
 * Feed len bytes; *used says how many were taken (the rest belongs to
 * what follows: the body once the head is out, the next message once
 * this one is done).  Returns the state reached.  eof: the peer closed
 * (ends a body read to the end of the connection).
 */
enum gw_http_state gw_http_feed(struct gw_http *h, const char *data,
	    size_t len, size_t *used);
enum gw_http_state gw_http_eof(struct gw_http *h);

/* The value of header name (case-insensitive), the first one, or NULL. */
const char *gw_head_get(const struct gw_head *hd, const char *name);
/* Whether a header line is hop-by-hop: never forwarded (the standard
 * ones, and any the Connection header names). */
bool	gw_head_hop(const struct gw_head *hd, const char *name);

/* Basic credentials of a Proxy-Authorization value: 0, or -1 when it is
 * not Basic or not valid base64 "user:password". */
int	gw_basic_decode(const char *value, char **user, char **password);
/* base64 of len bytes (NUL-ended, caller frees). */
char	*gw_base64(const char *data, size_t len);

#endif /* GW_HTTP_H */
