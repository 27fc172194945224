/*
 * gw_int.h: what the gateway's files share (gateway.c: listeners,
 * connections, client input; gw_lease.c: leases and sessions; gw_up.c:
 * the upstream connection, the response and the end of a request).  Not
 * used outside the gateway: gateway.h is its interface.
 */
#ifndef GW_INT_H
#define GW_INT_H

#include <regex.h>
#include <stdbool.h>
#include <sys/queue.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "conf.h"
#include "curlev.h"
#include "gw_http.h"
#include "gw_socks.h"
#include "redis_allocator.h"

#define GW_PRIORITY	1		/* the clients' priority */
#define GW_RECV		16384		/* bytes per upstream read */
#define GW_BAN_SAMPLE	8192		/* body bytes ban_body looks at */
#define GW_IDLE_HANDLES	64		/* reset easy handles kept */
#define GW_TRIED_MAX	11		/* 1 + the most retries */
#define GW_KEEP_MAX	256		/* idle upstream connections kept */
#define GW_KEEP_PROXY	16		/* ... to one proxy */
#define GW_KEEP_SECS	30		/* ... for this long at most */

/* An upstream connection to an http(s) proxy kept after a response that
 * left it open, for the next request leased on that proxy. */
struct gw_keep {
	struct gateway		*gw;		/* (ref) */
	char			*proxy;		/* owned: the lease's item */
	CURL			*h;		/* owned, still on the multi */
	curl_socket_t		 fd;
	struct event		*ev;		/* owned: closed, or too old */
	TAILQ_ENTRY(gw_keep)	 entry;
};
TAILQ_HEAD(gw_keep_list, gw_keep);

/* A listener's settings, shared by the requests that started under
 * them (a reload makes new ones). */
struct gw_set {
	int			 refs;
	struct conf_gateway	 c;		/* strings and lists owned */
	regex_t			 ban_re;
	bool			 has_ban_re;
	double			 wait_retry;	/* listen.wait_retry */
};

/* Counters of one listener (INFO, METRICS). */
#define GW_COUNTERS(X)							\
	X(connections, "connections", "Client connections accepted.")	\
	X(requests, "requests", "Plain HTTP requests.")			\
	X(tunnels, "tunnels", "CONNECT and SOCKS5 tunnels.")		\
	X(ok, "ok", "Requests and tunnels released OK.")		\
	X(failed, "failed", "Released FAILED.")				\
	X(banned, "banned", "Released BANNED.")				\
	X(retries, "retries", "Attempts on another proxy.")		\
	X(errors, "errors", "Error answers made by the gateway.")	\
	X(auth_failures, "auth_failures", "Bad or missing credentials.") \
	X(bytes_in, "bytes_in", "Body and tunnel bytes from the clients.")		\
	X(bytes_out, "bytes_out", "Body and tunnel bytes to the clients.")		\
	X(latency_ms, "latency_ms", "Sum of latencies to the response "	\
	    "head, ms.")						\
	X(latency_n, "latency_count", "Latencies summed.")

struct gw_stats {
#define GW_COUNTER_FIELD(f, name, help) unsigned long long f;
	GW_COUNTERS(GW_COUNTER_FIELD)
#undef GW_COUNTER_FIELD
};

struct gw_conn;
TAILQ_HEAD(gw_conn_list, gw_conn);

struct gw_listener {
	struct gateway		*gw;		/* (ref) */
	int			 refs;		/* gw's list, connections */
	char			*addr;		/* owned: as configured */
	struct evconnlistener	*lev;		/* owned, NULL once closed */
	struct gw_set		*set;		/* (ref) current settings */
	unsigned		 nconns;
	struct gw_stats		 stats;
	TAILQ_ENTRY(gw_listener) entry;
};
TAILQ_HEAD(gw_listener_list, gw_listener);

struct gw_session;
TAILQ_HEAD(gw_session_list, gw_session);

struct gateway {
	struct daemon		*d;		/* (ref) */
	struct gw_listener_list	 listeners;	/* open and closing */
	struct gw_conn_list	 conns;
	unsigned		 nconns;
	struct gw_session_list	 sessions;
	CURL			*idle[GW_IDLE_HANDLES];
	unsigned		 nidle;
	struct gw_keep_list	 keep;		/* newest first */
	unsigned		 nkeep;
	bool			 stopping;
};

enum gw_mode {
	GW_DETECT,		/* no byte yet */
	GW_HTTP,		/* HTTP requests */
	GW_SOCKS,		/* SOCKS5 handshake */
	GW_TUNNEL,		/* bytes both ways */
	GW_CLOSING		/* write what is left, then close */
};

enum gw_kind {
	GW_PLAIN,		/* absolute-form request */
	GW_CONNECT,		/* CONNECT tunnel */
	GW_SOCKS5		/* SOCKS5 tunnel */
};

struct gw_req;

struct gw_conn {
	struct gateway		*gw;		/* (ref) */
	struct gw_listener	*l;		/* (ref, counted) */
	struct bufferevent	*bev;		/* owned, owns the fd */
	char			 peer[64];	/* for logs */
	enum gw_mode		 mode;
	struct gw_http		 rq;		/* request parser */
	struct gw_socks		 socks;
	struct gw_req		*req;		/* (ref) current request */
	struct event		*idle_ev;	/* owned idle timer */
	TAILQ_ENTRY(gw_conn)	 entry;
};

/* A session: the requests of one session ID share one lease. */
struct gw_session {
	struct gateway		*gw;		/* (ref) */
	char			*pool;		/* owned */
	char			*id;		/* owned */
	double			 ttl;		/* binding TTL, s (0: pool's) */
	double			 lease_ttl;	/* s, RA_TTL_DEFAULT: pool's */
	struct ra_lease		 lease;		/* while held */
	bool			 held;
	bool			 leasing;	/* a lease call is out */
	int			 refs;		/* requests using the lease */
	char			*last;		/* owned: the last proxy used */
	bool			 moved;		/* the last lease moved it */
	TAILQ_HEAD(, gw_req)	 waiting;	/* requests for the lease */
	struct event		*timer;		/* owned: renew, or forget */
	TAILQ_ENTRY(gw_session)	 entry;
};

/* One request or tunnel. */
struct gw_req {
	struct gateway		*gw;		/* (ref) */
	struct gw_conn		*c;		/* (ref) NULL once gone */
	struct gw_listener	*l;		/* (ref, counted) */
	struct gw_set		*set;		/* (ref, counted) */
	enum gw_kind		 kind;
	int			 inflight;	/* Redis calls out */
	bool			 ended;		/* released, nothing more */

	char			*pool;		/* owned */
	char			*session;	/* owned, or NULL */
	double			 session_ttl;
	char			*host;		/* owned target host */
	int			 port;
	char			*hostport;	/* owned, for the logs */
	char			 holder[96];	/* who holds the lease, for LIST */

	/* the lease: own, or the session's */
	struct ra_lease		 lease;
	bool			 leased;
	struct gw_session	*sess;		/* (ref) when the session's */
	char			*tried[GW_TRIED_MAX]; /* owned proxies tried */
	int			 ntried;
	char			*failed_token;	/* owned: the lease that failed,
						 * held while the next comes */
	double			 wait_until;	/* monotonic s, WAIT deadline */
	struct event		*timer;		/* owned: WAIT retry, response
						 * deadline, renewals */

	/* the upstream */
	CURL			*h;		/* owned, on the multi handle */
	struct curlev_xfer	 xfer;
	bool			 connecting;
	bool			 forward;	/* plain request to the proxy
						 * itself (http, https proxy) */
	bool			 reused;	/* a kept connection */
	curl_socket_t		 fd;
	struct event		*up_rev;	/* owned: upstream readable */
	struct event		*up_wev;	/* owned: upstream writable */
	bool			 up_paused;	/* client output is full */
	struct evbuffer		*up_out;	/* owned: bytes for upstream */

	/* plain requests */
	struct evbuffer		*body;		/* owned copy for retries, or
						 * NULL once over retry_body */
	bool			 body_done;	/* the client sent all of it */
	struct gw_http		 rs;		/* response parser */
	bool			 rs_init;
	bool			 chunk_out;	/* re-chunk the body to the client */
	bool			 close_after;	/* the client connection ends */
	char			*sample;	/* owned: the body's start, for
						 * ban_body (NULL without one) */
	size_t			 nsample;

	double			 started;	/* monotonic s: upstream begun */
	double			 active;	/* tunnels: last byte either way */
	double			 renew_at;	/* tunnels: next renewal */
	bool			 sent_client;	/* a byte went to the client */
	enum ra_outcome		 outcome;
	double			 latency_ms;	/* -1 unknown */
	const char		*error;		/* last failure, static */
	int			 error_status;	/* 502, 504 */
	TAILQ_ENTRY(gw_req)	 sentry;	/* in the session's waiting */
	bool			 swaiting;
};

static inline double
gw_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void
gw_tv(double s, struct timeval *tv)
{
	if (s < 0)
		s = 0;
	tv->tv_sec = (time_t)s;
	tv->tv_usec = (suseconds_t)((s - (double)tv->tv_sec) * 1e6);
}

/* gateway.c: connections and answers */
void	gw_answer(struct gw_conn *c, int status, const char *code,
	    const char *msg);
void	gw_conn_close(struct gw_conn *c);
void	gw_conn_close_after_write(struct gw_conn *c);
void	gw_conn_idle(struct gw_conn *c);
void	gw_conn_process(struct gw_conn *c);
void	gw_req_maybe_free(struct gw_req *r);
bool	gw_status_in(const int *list, size_t n, int status);

/* gw_lease.c: leases and sessions */
void	gw_count_outcome(struct gw_listener *l, enum ra_outcome o,
	    double lat);
struct ra_async *gw_ra(struct gateway *gw);
void	gw_release(struct gateway *gw, const char *pool, const char *token,
	    enum ra_outcome o, double latency_ms);
double	gw_renew_every(long long expires_ms, double ttl);
void	gw_req_lease(struct gw_req *r);
void	gw_req_timer(struct gw_req *r, double s, event_callback_fn cb);
void	gw_session_free(struct gw_session *s);
void	gw_session_lease(struct gw_req *r);
void	gw_session_put(struct gw_req *r);

/* gw_up.c: the upstream and the request's end */
void	gw_keep_free(struct gw_keep *k);
void	gw_req_fail(struct gw_req *r, int status, const char *code,
	    const char *msg);
void	gw_req_finish(struct gw_req *r);
void	gw_req_upstream(struct gw_req *r);
void	gw_up_flush(struct gw_req *r);
void	gw_up_read(struct gw_req *r);

#endif /* GW_INT_H */
