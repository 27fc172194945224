/*
 * http.c: the HTTP endpoint on libevent's evhttp.  GET /metrics answers
 * METRICS' text (metrics_write), /status.json and / (a status page for
 * admins, one screen: each pool's proxies by state, health, errors,
 * leases and waiters, Redis, the gateway) and /pool/NAME (the pool's
 * proxies, redacted, in a table sorted by clicking its headers).  The
 * data comes from the calls the socket commands make (counts and health
 * counts as STATS, LIST pages of HTTP_LIST_PAGE): a request waits for
 * them within redis.timeout and answers 503 when Redis is unreachable.
 * Pages are server-rendered, every string printed is escaped, and they
 * need nothing but themselves (inline CSS, a few lines of inline JS).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "cmd.h"
#include "daemon.h"
#include "events.h"
#include "gateway.h"
#include "gw_http.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "prober.h"
#include "proxyurl.h"
#include "redis.h"
#include "xmalloc.h"

#define HTTP_LIST_PAGE	500	/* proxies per LIST call of a pool page */
#define HTTP_LIST_MAX	10000	/* proxies a pool page shows at most */
#define HTTP_ERRORS_MAX	6	/* error reasons shown per pool */
#define HTTP_TIMEOUT	30	/* s a connection may stay idle */

enum http_page {
	HTTP_METRICS,		/* /metrics */
	HTTP_JSON,		/* /status.json */
	HTTP_STATUS,		/* / */
	HTTP_POOL		/* /pool/NAME */
};

/* An event of a pool's stream. */
struct http_event {
	struct ra_event		 e;		/* owned strings */
	const char		*pool;		/* (ref) in names */
};
struct http_req;
struct http_events_ask {			/* events_get's callback arg */
	struct http_req		*hr;
	const char		*pool;		/* (ref) in names */
};

/* Newest first. */
static int
http_event_cmp(const void *a, const void *b)
{
	long long x = ((const struct http_event *)a)->e.at_ms;
	long long y = ((const struct http_event *)b)->e.at_ms;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* One request waiting for Redis. */
struct http_req {
	struct http		*h;		/* (ref) */
	struct evhttp_request	*er;		/* (ref) NULL once answered or
						 * dropped (evhttp frees it) */
	enum http_page		 page;
	struct ra_strlist	 names;		/* owned: the pools asked about */
	struct ra_counts	*counts;	/* owned, one per name */
	struct ra_health_counts	*hcounts;	/* owned, one per name */
	size_t			 done;		/* count answers received */
	struct ra_item_info	*items;		/* owned (keys too): a pool
						 * page's proxies */
	size_t			 nitems;
	size_t			 itemcap;
	const char		**hkeys;	/* owned: their keys (into
						 * items) while it is read */
	struct ra_health_info	*health;	/* owned: their health (pools
						 * with a check), nhealth */
	size_t			 nhealth;
	struct http_event	*evs;		/* owned: the pools' recent
						 * events, newest first once
						 * sorted */
	size_t			 nevs;
	bool			 truncated;	/* more than HTTP_LIST_MAX */
	int			 inflight;	/* calls not answered yet */
	int			 err;		/* first error, RA_OK */
	char			 errstr[RA_ERRSTR_LEN];
	struct event		*deadline;	/* owned: redis.timeout */
	TAILQ_ENTRY(http_req)	 entry;		/* in h->reqs */
};
TAILQ_HEAD(http_req_list, http_req);

struct http {
	struct daemon		*d;		/* (ref) */
	struct evhttp		*eh;		/* owned, NULL while off */
	char			*listen;	/* owned: the bound address */
	struct http_req_list	 reqs;		/* waiting for Redis */
	unsigned		 npending;	/* in reqs */
};

/* ------------------------------------------------------------------ */
/* Escaping and answers                                                 */
/* ------------------------------------------------------------------ */

/* s as HTML text or attribute value. */
static void
http_esc(struct evbuffer *b, const char *s)
{
	const char *p;

	for (p = s; *p != '\0'; p++) {
		switch (*p) {
		case '&':
			evbuffer_add(b, "&amp;", 5);
			break;
		case '<':
			evbuffer_add(b, "&lt;", 4);
			break;
		case '>':
			evbuffer_add(b, "&gt;", 4);
			break;
		case '"':
			evbuffer_add(b, "&quot;", 6);
			break;
		case '\'':
			evbuffer_add(b, "&#39;", 5);
			break;
		default:
			evbuffer_add(b, p, 1);
		}
	}
}

/* s as a JSON string, quotes included. */
static void
http_json_str(struct evbuffer *b, const char *s)
{
	const unsigned char *p;

	evbuffer_add(b, "\"", 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			evbuffer_add_printf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			evbuffer_add_printf(b, "\\u%04x", *p);
		else
			evbuffer_add(b, p, 1);
	}
	evbuffer_add(b, "\"", 1);
}

/* Send body with status code and content type; er is done with. */
static void
http_send(struct evhttp_request *er, int code, const char *reason,
    const char *type, struct evbuffer *body)
{
	struct evkeyvalq *hd = evhttp_request_get_output_headers(er);

	evhttp_add_header(hd, "Content-Type", type);
	evhttp_add_header(hd, "Cache-Control", "no-store");
	evhttp_add_header(hd, "X-Content-Type-Options", "nosniff");
	/* the pages need nothing from elsewhere, and get nothing */
	evhttp_add_header(hd, "Content-Security-Policy", "default-src 'none'; "
	    "style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
	    "frame-ancestors 'none'");
	evhttp_send_reply(er, code, reason, body);
}

/* A plain text answer: "message\n". */
static void __attribute__((format(printf, 4, 5)))
http_text(struct evhttp_request *er, int code, const char *reason,
    const char *fmt, ...)
{
	struct evbuffer *b = evbuffer_new();
	va_list ap;
	char *msg, *red;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	red = proxyurl_redact_text(msg);
	evbuffer_add_printf(b, "%s\n", red);
	free(red);
	free(msg);
	http_send(er, code, reason, "text/plain; charset=utf-8", b);
	evbuffer_free(b);
}

/* ------------------------------------------------------------------ */
/* Pieces of the pages                                                  */
/* ------------------------------------------------------------------ */

/* "3d 4h", "5m 6s": a duration at a glance. */
static void
http_duration(char *buf, size_t len, long long s)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, len, "%lldd %lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%lldm %llds", s / 60, s % 60);
	else
		snprintf(buf, len, "%llds", s);
}

/* One gateway listener as INFO shows it: "listen=A,pool=P,open=1,...". */
struct http_gw {
	char		*line;		/* owned copy, cut at the commas */
	char		*keys[64];	/* (ref into line) */
	char		*vals[64];
	size_t		 n;
};

/* The gateway's listeners, read from its INFO section (so the gateway
 * keeps its counters to itself); returns how many, *out owned. */
static size_t
http_gateways(struct daemon *d, struct http_gw **out)
{
	struct evbuffer *b = evbuffer_new();
	struct http_gw *g = NULL;
	size_t n = 0, len;
	char *line, *colon, *field, *eq, *next;

	gateway_info(d->gw, b);
	while ((line = evbuffer_readln(b, &len, EVBUFFER_EOL_CRLF)) != NULL) {
		if (strncmp(line, "gateway_", 8) != 0 || line[8] < '0' ||
		    line[8] > '9' || (colon = strchr(line, ':')) == NULL) {
			free(line);
			continue;
		}
		g = xreallocarray(g, n + 1, sizeof *g);
		memset(&g[n], 0, sizeof g[n]);
		g[n].line = line;
		for (field = colon + 1; field != NULL && g[n].n < 64;
		    field = next) {
			if ((next = strchr(field, ',')) != NULL)
				*next++ = '\0';
			if ((eq = strchr(field, '=')) == NULL)
				continue;
			*eq = '\0';
			g[n].keys[g[n].n] = field;
			g[n].vals[g[n].n++] = eq + 1;
		}
		n++;
	}
	evbuffer_free(b);
	*out = g;
	return n;
}

static void
http_gateways_free(struct http_gw *g, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(g[i].line);
	free(g);
}

/* A string made only of digits (a counter). */
static bool
http_is_number(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
	}
	return true;
}

/* Split "reason=count" at its last '='; count -1 if there is none. */
static long long
http_error_split(const char *e, char *reason, size_t len)
{
	const char *eq = strrchr(e, '=');
	size_t n;

	if (eq == NULL) {
		snprintf(reason, len, "%s", e);
		return -1;
	}
	n = (size_t)(eq - e);
	if (n >= len)
		n = len - 1;
	memcpy(reason, e, n);
	reason[n] = '\0';
	return strtoll(eq + 1, NULL, 10);
}

/* The Redis connection, redacted. */
static char *
http_redis_where(struct daemon *d)
{
	return proxyurl_redact_text(redis_where(d->redis));
}

/* ------------------------------------------------------------------ */
/* /status.json                                                         */
/* ------------------------------------------------------------------ */

static void
http_json(struct http_req *hr, struct evbuffer *b)
{
	struct daemon *d = hr->h->d;
	struct http_gw *g;
	struct prober_stats ps;
	const struct ra_counts *k;
	const struct ra_health_counts *hc;
	const struct ra_event *e;
	char reason[256], *where;
	size_t i, j, ng, first = 1;
	long long cnt;

	where = http_redis_where(d);
	evbuffer_add_printf(b, "{\"version\":");
	http_json_str(b, PACKAGE_VERSION);
	evbuffer_add_printf(b, ",\"pid\":%ld,\"uptime_seconds\":%lld,"
	    "\"clients\":%u,\"waiting_clients\":%u,\"redis\":{\"url\":",
	    (long)getpid(), (long long)(time(NULL) - d->started), d->nclients,
	    waitq_count(d));
	http_json_str(b, where);
	free(where);
	evbuffer_add_printf(b, ",\"connected\":%s,\"reconnects\":%llu},"
	    "\"pools\":[", redis_connected(d->redis) ? "true" : "false",
	    redis_reconnects(d->redis));
	for (i = 0; i < hr->names.n; i++) {
		k = &hr->counts[i];
		hc = &hr->hcounts[i];
		if (k->total < 0)
			continue;
		prober_stats(d->prober, hr->names.v[i], &ps);
		evbuffer_add_printf(b, "%s{\"pool\":", first ? "" : ",");
		first = 0;
		http_json_str(b, hr->names.v[i]);
		evbuffer_add_printf(b, ",\"total\":%lld,\"free\":%lld,"
		    "\"leased\":%lld,\"shared\":%lld,\"quarantined\":%lld,"
		    "\"draining\":%lld,\"leases\":%lld,\"bindings\":%lld,"
		    "\"check\":", k->total, k->free, k->leased, k->shared,
		    k->quarantined, k->draining, k->leases, k->bindings);
		http_json_str(b, ps.active ? ps.type : "none");
		evbuffer_add_printf(b, ",\"proxies_up\":%lld,\"proxies_down\":%lld,"
		    "\"probes\":%lld,\"local_probes\":%llu,"
		    "\"probes_per_sec\":%.1f,\"probes_inflight\":%u,"
		    "\"waiting_clients\":%u,\"errors\":{", hc->up, hc->down,
		    hc->probes, ps.probes, ps.probes_per_sec, ps.inflight,
		    waitq_pool_count(d, hr->names.v[i]));
		for (j = 0; j < hc->errors.n; j++) {
			cnt = http_error_split(hc->errors.v[j], reason,
			    sizeof reason);
			if (j > 0)
				evbuffer_add(b, ",", 1);
			http_json_str(b, reason);
			evbuffer_add_printf(b, ":%lld", cnt);
		}
		evbuffer_add_printf(b, "}}");
	}
	evbuffer_add_printf(b, "],\"gateway\":[");
	ng = http_gateways(d, &g);
	for (i = 0; i < ng; i++) {
		evbuffer_add_printf(b, "%s{", i ? "," : "");
		for (j = 0; j < g[i].n; j++) {
			if (j > 0)
				evbuffer_add(b, ",", 1);
			http_json_str(b, g[i].keys[j]);
			evbuffer_add(b, ":", 1);
			if (http_is_number(g[i].vals[j]))
				evbuffer_add_printf(b, "%s", g[i].vals[j]);
			else
				http_json_str(b, g[i].vals[j]);
		}
		evbuffer_add(b, "}", 1);
	}
	http_gateways_free(g, ng);
	evbuffer_add_printf(b, "],\"events\":[");
	for (i = 0; i < hr->nevs && i < EVENTS_SHOWN; i++) {
		e = &hr->evs[i].e;
		evbuffer_add_printf(b, "%s{\"time_ms\":%lld,\"pool\":",
		    i ? "," : "", e->at_ms);
		http_json_str(b, hr->evs[i].pool);
		evbuffer_add_printf(b, ",\"proxy\":");
		http_json_str(b, e->item);
		evbuffer_add_printf(b, ",\"event\":");
		http_json_str(b, e->kind);
		evbuffer_add_printf(b, ",\"until_ms\":%lld,\"detail\":",
		    e->until_ms);
		http_json_str(b, e->detail);
		evbuffer_add_printf(b, ",\"source\":");
		http_json_str(b, e->source);
		evbuffer_add(b, "}", 1);
	}
	evbuffer_add_printf(b, "]}\n");
}

/* ------------------------------------------------------------------ */
/* HTML                                                                 */
/* ------------------------------------------------------------------ */

static const char http_css[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;"
	"color:#222;background:#fafafa}"
	"h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1em 0 "
	".3em}"
	"table{border-collapse:collapse;background:#fff}"
	"th,td{border:1px solid #ddd;padding:2px 8px;text-align:right;"
	"vertical-align:top}"
	"th{background:#eee;font-weight:600}td.l,th.l{text-align:left}"
	"th.sort{cursor:pointer}th[aria-sort=ascending]:after{content:' \\25B2'}"
	"th[aria-sort=descending]:after{content:' \\25BC'}"
	".bar{display:flex;width:220px;height:14px;background:#eee;"
	"border:1px solid #ccc}.bar span{display:block;height:100%}"
	".free{background:#4caf50}.leased{background:#2196f3}"
	".shared{background:#00bcd4}.quarantined{background:#f44336}"
	".draining{background:#ff9800}"
	".key span{display:inline-block;width:10px;height:10px;"
	"margin:0 3px 0 10px}"
	".ok{color:#2e7d32;font-weight:600}.bad{color:#c62828;font-weight:600}"
	".meta{color:#555}.errs{margin:0;padding:0;list-style:none;"
	"text-align:left;font-size:.9em}"
	".ev-ejected,.ev-banned,.ev-down,.ev-evicted{color:#c62828}"
	".ev-up{color:#2e7d32}.wide{overflow-x:auto;max-width:100%}.h-down{color:#c62828;font-weight:600}"
	".h-up{color:#2e7d32}";

/* Sort the proxies' table by a clicked header; the order is kept in the
 * URL's fragment, so a refresh keeps it. */
static const char http_sort_js[] =
	"(function(){var t=document.getElementById('proxies');if(!t)return;"
	"var hs=t.tHead.rows[0].cells,b=t.tBodies[0];"
	"function key(r,i){var c=r.cells[i];return c.hasAttribute('data-v')?"
	"parseFloat(c.getAttribute('data-v')):c.textContent;}"
	"function sort(i,dir){var rows=Array.prototype.slice.call(b.rows);"
	"rows.sort(function(x,y){var p=key(x,i),q=key(y,i);"
	"return (p<q?-1:p>q?1:0)*dir;});"
	"rows.forEach(function(r){b.appendChild(r);});"
	"for(var j=0;j<hs.length;j++)hs[j].removeAttribute('aria-sort');"
	"hs[i].setAttribute('aria-sort',dir>0?'ascending':'descending');"
	"history.replaceState(null,'','#sort='+i+','+dir);}"
	"Array.prototype.forEach.call(hs,function(h,i){h.className+=' sort';"
	"h.onclick=function(){sort(i,h.getAttribute('aria-sort')==="
	"'ascending'?-1:1);};});"
	"var m=/sort=(\\d+),(-?1)/.exec(location.hash);"
	"if(m&&hs[+m[1]])sort(+m[1],+m[2]);})();";

static void
http_html_head(struct http_req *hr, struct evbuffer *b, const char *title)
{
	struct daemon *d = hr->h->d;
	char up[32], *where;

	evbuffer_add_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><meta http-equiv=\"refresh\" "
	    "content=\"%g\"><title>", d->conf->http_refresh);
	http_esc(b, title);
	evbuffer_add_printf(b, "</title><style>%s</style></head><body>\n"
	    "<h1>", http_css);
	http_esc(b, title);
	http_duration(up, sizeof up, (long long)(time(NULL) - d->started));
	where = http_redis_where(d);
	evbuffer_add_printf(b, "</h1>\n<p class=\"meta\" id=\"daemon\">"
	    "proxypoold <span id=\"version\">%s</span>, pid %ld, up <span "
	    "id=\"uptime\" data-v=\"%lld\">%s</span>; Redis <span "
	    "id=\"redis\">", PACKAGE_VERSION, (long)getpid(),
	    (long long)(time(NULL) - d->started), up);
	http_esc(b, where);
	free(where);
	evbuffer_add_printf(b, "</span> <span id=\"redis-state\" class=\"%s\">"
	    "%s</span>, %llu reconnects; %u clients, %u waiting</p>\n",
	    redis_connected(d->redis) ? "ok" : "bad",
	    redis_connected(d->redis) ? "connected" : "down",
	    redis_reconnects(d->redis), d->nclients, waitq_count(d));
}

/* A pool's proxies by state as a bar, widths in percent of the total. */
static void
http_bar(struct evbuffer *b, const struct ra_counts *k)
{
	static const char *const cls[] = { "free", "leased", "shared",
	    "quarantined", "draining" };
	long long v[5];
	size_t j;

	v[0] = k->free;
	v[1] = k->leased;
	v[2] = k->shared;
	v[3] = k->quarantined;
	v[4] = k->draining;
	evbuffer_add_printf(b, "<div class=\"bar\" title=\"free %lld, leased "
	    "%lld, shared %lld, quarantined %lld, draining %lld\">", v[0],
	    v[1], v[2], v[3], v[4]);
	for (j = 0; j < 5 && k->total > 0; j++) {
		if (v[j] > 0)
			evbuffer_add_printf(b, "<span class=\"%s\" style=\""
			    "width:%.2f%%\"></span>", cls[j],
			    100.0 * (double)v[j] / (double)k->total);
	}
	evbuffer_add_printf(b, "</div>");
}

/* The header row of a pools table. */
static void
http_pool_header(struct evbuffer *b)
{
	evbuffer_add_printf(b, "<thead><tr><th class=\"l\">pool</th>"
	    "<th class=\"l\">proxies by state</th><th>total</th><th>free</th>"
	    "<th>leased</th><th>shared</th><th>quarantined</th>"
	    "<th>draining</th><th>leases</th><th>bindings</th>"
	    "<th>waiting</th><th class=\"l\">check</th><th>up</th>"
	    "<th>down</th><th>probes/s</th><th class=\"l\">last errors "
	    "(all daemons)</th></tr></thead>\n");
}

/* One pool's row: counts (Redis), health (Redis), probes (here). */
static void
http_pool_row(struct http_req *hr, struct evbuffer *b, size_t i, bool link)
{
	struct daemon *d = hr->h->d;
	const struct ra_counts *k = &hr->counts[i];
	const struct ra_health_counts *hc = &hr->hcounts[i];
	const char *name = hr->names.v[i];
	struct prober_stats ps;
	char reason[256], *enc;
	long long cnt;
	size_t j, shown, best;
	bool *used;

	prober_stats(d->prober, name, &ps);
	evbuffer_add_printf(b, "<tr class=\"pool\" data-pool=\"");
	http_esc(b, name);
	evbuffer_add_printf(b, "\"><td class=\"l\">");
	if (link) {
		enc = evhttp_encode_uri(name);
		evbuffer_add_printf(b, "<a href=\"/pool/");
		http_esc(b, enc);
		evbuffer_add_printf(b, "\">");
		free(enc);
	}
	http_esc(b, name);
	evbuffer_add_printf(b, "%s</td><td class=\"l\">", link ? "</a>" : "");
	http_bar(b, k);
#define CELL(key, v) evbuffer_add_printf(b, "<td data-k=\"" key "\">%lld"  \
	"</td>", (long long)(v))
	evbuffer_add_printf(b, "</td>");
	CELL("total", k->total);
	CELL("free", k->free);
	CELL("leased", k->leased);
	CELL("shared", k->shared);
	CELL("quarantined", k->quarantined);
	CELL("draining", k->draining);
	CELL("leases", k->leases);
	CELL("bindings", k->bindings);
	CELL("waiting", waitq_pool_count(d, name));
	evbuffer_add_printf(b, "<td class=\"l\" data-k=\"check\">");
	http_esc(b, ps.active ? ps.type : "none");
	evbuffer_add_printf(b, "</td>");
	CELL("proxies_up", hc->up);
	CELL("proxies_down", hc->down);
#undef CELL
	evbuffer_add_printf(b, "<td data-k=\"probes_per_sec\">%.1f</td>"
	    "<td class=\"l\"><ul class=\"errs\">", ps.probes_per_sec);
	/* the reasons seen most first */
	used = xcalloc(hc->errors.n + 1, sizeof *used);
	for (shown = 0; shown < hc->errors.n && shown < HTTP_ERRORS_MAX;
	    shown++) {
		best = hc->errors.n;
		cnt = -2;
		for (j = 0; j < hc->errors.n; j++) {
			long long c = http_error_split(hc->errors.v[j],
			    reason, sizeof reason);

			if (!used[j] && c > cnt) {
				cnt = c;
				best = j;
			}
		}
		used[best] = true;
		cnt = http_error_split(hc->errors.v[best], reason,
		    sizeof reason);
		evbuffer_add_printf(b, "<li class=\"err\">");
		http_esc(b, reason);
		evbuffer_add_printf(b, " &times;%lld</li>", cnt);
	}
	if (hc->errors.n > shown)
		evbuffer_add_printf(b, "<li>and %zu more</li>",
		    hc->errors.n - shown);
	free(used);
	evbuffer_add_printf(b, "</ul></td></tr>\n");
}

static void
http_legend(struct evbuffer *b)
{
	evbuffer_add_printf(b, "<p class=\"key meta\"><span class=\"free\">"
	    "</span>free<span class=\"leased\"></span>leased<span class="
	    "\"shared\"></span>shared<span class=\"quarantined\"></span>"
	    "quarantined (ejected, banned or down)<span class=\"draining\">"
	    "</span>draining</p>\n");
}

/* The gateway's listeners and their counters, if any. */
static void
http_gateway_table(struct http_req *hr, struct evbuffer *b)
{
	struct http_gw *g;
	size_t i, j, n;

	if ((n = http_gateways(hr->h->d, &g)) == 0)
		return;
	evbuffer_add_printf(b, "<h2>Gateway</h2>\n<div class=\"wide\">"
	    "<table id=\"gateway\">"
	    "<thead><tr>");
	for (j = 0; j < g[0].n; j++) {
		evbuffer_add_printf(b, "<th>");
		http_esc(b, g[0].keys[j]);
		evbuffer_add_printf(b, "</th>");
	}
	evbuffer_add_printf(b, "</tr></thead><tbody>\n");
	for (i = 0; i < n; i++) {
		evbuffer_add_printf(b, "<tr class=\"listener\">");
		for (j = 0; j < g[i].n; j++) {
			evbuffer_add_printf(b, "<td data-k=\"");
			http_esc(b, g[i].keys[j]);
			evbuffer_add_printf(b, "\"%s>",
			    http_is_number(g[i].vals[j]) ? "" : " class=\"l\"");
			http_esc(b, g[i].vals[j]);
			evbuffer_add_printf(b, "</td>");
		}
		evbuffer_add_printf(b, "</tr>\n");
	}
	evbuffer_add_printf(b, "</tbody></table></div>\n");
	http_gateways_free(g, n);
}

/* The pools' recent ejections, bans and health changes, newest first,
 * from their streams in Redis (pool: a pool page, no pool column). */
static void
http_events_table(struct http_req *hr, struct evbuffer *b, bool pool)
{
	const struct ra_event *e;
	char when[32], left[32];
	struct tm tm;
	time_t at;
	size_t i;

	evbuffer_add_printf(b, "<h2>Recent ejections and health changes"
	    "</h2>\n<table id=\"events\"><thead><tr><th class=\"l\">time"
	    "</th>%s<th class=\"l\">proxy</th><th class=\"l\">event</th>"
	    "<th>for</th><th class=\"l\">by</th><th class=\"l\">seen by"
	    "</th></tr></thead><tbody>\n",
	    pool ? "" : "<th class=\"l\">pool</th>");
	for (i = 0; i < hr->nevs && i < EVENTS_SHOWN; i++) {
		e = &hr->evs[i].e;
		at = (time_t)(e->at_ms / 1000);
		localtime_r(&at, &tm);
		strftime(when, sizeof when, "%H:%M:%S", &tm);
		evbuffer_add_printf(b, "<tr class=\"event\"><td class=\"l\">"
		    "%s</td>", when);
		if (!pool) {
			evbuffer_add_printf(b, "<td class=\"l\">");
			http_esc(b, hr->evs[i].pool);
			evbuffer_add_printf(b, "</td>");
		}
		evbuffer_add_printf(b, "<td class=\"l\">");
		http_esc(b, e->item);
		evbuffer_add_printf(b, "</td><td class=\"l ev-");
		http_esc(b, e->kind);
		evbuffer_add_printf(b, "\">");
		http_esc(b, e->kind);
		left[0] = '\0';
		if (e->until_ms > 0)
			http_duration(left, sizeof left, e->until_ms > e->at_ms ?
			    (e->until_ms - e->at_ms + 500) / 1000 : 0);
		evbuffer_add_printf(b, "</td><td>%s</td><td class=\"l\">",
		    left);
		http_esc(b, e->detail);
		evbuffer_add_printf(b, "</td><td class=\"l\">");
		http_esc(b, e->source);
		evbuffer_add_printf(b, "</td></tr>\n");
	}
	if (hr->nevs == 0)
		evbuffer_add_printf(b, "<tr><td class=\"l\" colspan=\"%d\">"
		    "none yet</td></tr>\n", pool ? 6 : 7);
	evbuffer_add_printf(b, "</tbody></table>\n<p class=\"meta\">The "
	    "last %d, from Redis: what every daemon on it saw (RELEASEs, "
	    "REPORTs, gateways, health checks).</p>\n", EVENTS_SHOWN);
}

/* /: every pool, Redis, the daemon, the gateway. */
static void
http_status(struct http_req *hr, struct evbuffer *b)
{
	struct daemon *d = hr->h->d;
	unsigned long long probes;
	unsigned inflight;
	double rate;
	size_t i;

	http_html_head(hr, b, "proxypoold status");
	prober_totals(d->prober, &probes, &inflight, &rate);
	evbuffer_add_printf(b, "<h2>Pools</h2>\n<table id=\"pools\">");
	http_pool_header(b);
	evbuffer_add_printf(b, "<tbody>\n");
	for (i = 0; i < hr->names.n; i++) {
		if (hr->counts[i].total >= 0)
			http_pool_row(hr, b, i, true);
	}
	evbuffer_add_printf(b, "</tbody></table>\n");
	http_legend(b);
	evbuffer_add_printf(b, "<p class=\"meta\">Health checks here: %.1f "
	    "probes/s, %u running, %llu done.  Proxy counts, up/down and "
	    "errors are Redis' (every daemon); probes/s are this daemon's."
	    "</p>\n", rate, inflight, probes);
	http_gateway_table(hr, b);
	http_events_table(hr, b, false);
	evbuffer_add_printf(b, "<p class=\"meta\"><a href=\"/status.json\">"
	    "status.json</a> &middot; <a href=\"/metrics\">metrics</a></p>\n"
	    "</body></html>\n");
}

/* Milliseconds left until a Redis time in ms (0 = none): -1 if none. */
static long long
http_left_ms(long long at_ms, long long now_ms)
{
	if (at_ms <= 0)
		return -1;
	return at_ms > now_ms ? at_ms - now_ms : 0;
}

/* A "time left" cell sortable by its value (none sorts last). */
static void
http_left_cell(struct evbuffer *b, long long left_ms)
{
	char buf[32];

	if (left_ms < 0) {
		evbuffer_add_printf(b, "<td data-v=\"1e18\"></td>");
		return;
	}
	http_duration(buf, sizeof buf, (left_ms + 999) / 1000);
	evbuffer_add_printf(b, "<td data-v=\"%lld\">%s</td>", left_ms, buf);
}

/* A proxy's health, when its last check was (for one not UP; an UP
 * one's is not recorded) and its last error. */
static void
http_health_cells(struct evbuffer *b, const struct ra_health_info *h,
    long long now_ms)
{
	const char *st;

	if (h == NULL) {
		evbuffer_add_printf(b, "<td class=\"l\"></td><td data-v=\"1e18\">"
		    "</td><td class=\"l\"></td>");
		return;
	}
	st = h->known ? ra_health_name(h->state) : "unknown";
	evbuffer_add_printf(b, "<td class=\"l h-%s\">%s</td>", st, st);
	http_left_cell(b, h->last_ms > 0 ? (now_ms > h->last_ms ?
	    now_ms - h->last_ms : 0) : -1);
	evbuffer_add_printf(b, "<td class=\"l\">");
	http_esc(b, h->reason != NULL ? h->reason : "");
	evbuffer_add_printf(b, "</td>");
}

/* /pool/NAME: the pool's row and its proxies. */
static void
http_pool(struct http_req *hr, struct evbuffer *b)
{
	const struct ra_item_info *it;
	struct timespec ts;
	long long now_ms;
	char *title, *red;
	size_t i;

	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	xasprintf(&title, "pool %s", hr->names.v[0]);
	http_html_head(hr, b, title);
	free(title);
	evbuffer_add_printf(b, "<p><a href=\"/\">&larr; all pools</a></p>\n"
	    "<table id=\"pools\">");
	http_pool_header(b);
	evbuffer_add_printf(b, "<tbody>\n");
	http_pool_row(hr, b, 0, false);
	evbuffer_add_printf(b, "</tbody></table>\n");
	http_legend(b);
	evbuffer_add_printf(b, "<h2>Proxies (%zu%s)</h2>\n<table "
	    "id=\"proxies\"><thead><tr><th class=\"l\">proxy</th>"
	    "<th class=\"l\">state</th><th>priority</th><th>holders</th>"
	    "<th>failures</th><th>ejections</th><th>latency ms</th>"
	    "<th>quarantine left</th><th>expires in</th>%s</tr></thead>"
	    "<tbody>\n", hr->nitems, hr->truncated ? ", the first only" : "",
	    hr->health != NULL ? "<th class=\"l\">health</th><th>checked "
	    "ago</th><th class=\"l\">last error</th>" : "");
	for (i = 0; i < hr->nitems; i++) {
		it = &hr->items[i];
		red = proxyurl_redact(it->key);
		evbuffer_add_printf(b, "<tr class=\"proxy\"><td class=\"l\">");
		http_esc(b, red);
		free(red);
		evbuffer_add_printf(b, "</td><td class=\"l %s\">%s</td>"
		    "<td data-v=\"%d\">%d</td><td data-v=\"%d\">%d</td>"
		    "<td data-v=\"%u\">%u</td><td data-v=\"%u\">%u</td>",
		    ra_state_name(it->state), ra_state_name(it->state),
		    it->priority, it->priority, it->holders, it->holders,
		    it->failures, it->failures, it->ejections, it->ejections);
		if (it->latency_ms > 0)
			evbuffer_add_printf(b, "<td data-v=\"%.1f\">%.1f</td>",
			    it->latency_ms, it->latency_ms);
		else
			evbuffer_add_printf(b, "<td data-v=\"1e18\"></td>");
		http_left_cell(b, http_left_ms(it->until_ms, now_ms));
		http_left_cell(b, http_left_ms(it->expires_ms, now_ms));
		if (hr->health != NULL)
			http_health_cells(b, i < hr->nhealth ? &hr->health[i] :
			    NULL, now_ms);
		evbuffer_add_printf(b, "</tr>\n");
	}
	evbuffer_add_printf(b, "</tbody></table>\n<p class=\"meta\">Click a "
	    "column's header to sort by it.</p>\n");
	http_events_table(hr, b, true);
	evbuffer_add_printf(b, "<script>%s</script>\n</body></html>\n",
	    http_sort_js);
}

/* ------------------------------------------------------------------ */
/* Requests                                                             */
/* ------------------------------------------------------------------ */

static void
http_req_free(struct http_req *hr)
{
	size_t i;

	TAILQ_REMOVE(&hr->h->reqs, hr, entry);
	hr->h->npending--;
	if (hr->deadline != NULL)
		event_free(hr->deadline);
	if (hr->hcounts != NULL) {
		for (i = 0; i < hr->names.n; i++)
			ra_health_counts_deinit(&hr->hcounts[i]);
	}
	for (i = 0; i < hr->nitems; i++)
		free(hr->items[i].key);
	free(hr->items);
	free(hr->hkeys);
	for (i = 0; i < hr->nhealth; i++)
		free(hr->health[i].reason);
	free(hr->health);
	for (i = 0; i < hr->nevs; i++) {
		free(hr->evs[i].e.kind);
		free(hr->evs[i].e.item);
		free(hr->evs[i].e.detail);
		free(hr->evs[i].e.source);
	}
	free(hr->evs);
	ra_strlist_deinit(&hr->names);
	free(hr->counts);
	free(hr->hcounts);
	free(hr);
}

/* Every answer is in: the page, or 503 when Redis failed. */
static void
http_answer(struct http_req *hr)
{
	struct evhttp_request *er = hr->er;
	struct evbuffer *b;

	hr->er = NULL;
	if (hr->err != RA_OK) {
		http_text(er, 503, "Service Unavailable", "Redis is unreachable "
		    "(%s); try again", hr->errstr[0] != '\0' ? hr->errstr :
		    ra_strerror(hr->err));
		return;
	}
	if (hr->page == HTTP_POOL && hr->counts[0].total < 0) {
		http_text(er, 404, "Not Found", "pool %s is not in Redis",
		    hr->names.v[0]);
		return;
	}
	if (hr->nevs > 1)
		qsort(hr->evs, hr->nevs, sizeof *hr->evs, http_event_cmp);
	b = evbuffer_new();
	switch (hr->page) {
	case HTTP_METRICS:
		metrics_write(hr->h->d, &hr->names, hr->counts, hr->hcounts,
		    b);
		http_send(er, 200, "OK", "text/plain; version=0.0.4; "
		    "charset=utf-8", b);
		break;
	case HTTP_JSON:
		http_json(hr, b);
		http_send(er, 200, "OK", "application/json", b);
		break;
	case HTTP_STATUS:
		http_status(hr, b);
		http_send(er, 200, "OK", "text/html; charset=utf-8", b);
		break;
	case HTTP_POOL:
		http_pool(hr, b);
		http_send(er, 200, "OK", "text/html; charset=utf-8", b);
		break;
	}
	evbuffer_free(b);
}

/* A call of hr came back: answer when it was the last, free hr when
 * nothing is out any more. */
static void
http_back(struct http_req *hr)
{
	if (--hr->inflight > 0)
		return;
	if (hr->er != NULL)
		http_answer(hr);
	http_req_free(hr);
}

/* Keep the first failure of hr's calls. */
static void
http_fail(struct http_req *hr, int err, const char *errstr)
{
	if (hr->err != RA_OK)
		return;
	hr->err = err;
	snprintf(hr->errstr, sizeof hr->errstr, "%s", errstr);
}

/* A pool's counts or health counts came (replies come in order on one
 * connection: counts, health counts, for each pool in turn). */
static void
http_counts_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct http_req *hr = arg;
	size_t idx = hr->done++, i = idx / 2;
	bool health = idx % 2 == 1;

	if (i >= hr->names.n) {
		http_back(hr);
		return;
	}
	if (res->err == RA_OK) {
		if (health) {
			hr->hcounts[i] = res->u.hcounts;
			memset(&res->u.hcounts, 0, sizeof res->u.hcounts);
		} else
			hr->counts[i] = res->u.counts;
	} else if (res->err == RA_ERR_NO_SUCH_POOL || hr->page == HTTP_METRICS)
		hr->counts[i].total = -1;	/* left out, as METRICS does */
	else
		http_fail(hr, res->err, res->errstr);
	http_back(hr);
}

/* A pool's recent events came: keep them (an error only loses them:
 * they are not worth a 503). */
static void
http_events_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct http_req *hr = ((struct http_events_ask *)arg)->hr;
	const char *pool = ((struct http_events_ask *)arg)->pool;
	struct ra_events *got = &res->u.events;
	size_t i;

	(void)ra;
	free(arg);
	if (res->err == RA_OK && got->n > 0) {
		hr->evs = xreallocarray(hr->evs, hr->nevs + got->n,
		    sizeof *hr->evs);
		for (i = 0; i < got->n; i++) {
			hr->evs[hr->nevs].e = got->v[i];
			hr->evs[hr->nevs++].pool = pool;
		}
		free(got->v);		/* the strings are ours now */
		got->v = NULL;
		got->n = 0;
	} else if (res->err != RA_OK && res->err != RA_ERR_NO_SUCH_POOL)
		log_debug("http: events of %s: %s", pool, res->errstr);
	http_back(hr);
}

static void http_list_cb(struct ra_async *, struct ra_result *, void *);

/* Ask for the next page of a pool page's proxies. */
static void
http_list_next(struct http_req *hr, struct ra_async *ra,
    unsigned long long cursor)
{
	hr->inflight++;
	if (ra_async_list(ra, hr->names.v[0], RA_STATE_ANY, cursor,
	    HTTP_LIST_PAGE, http_list_cb, hr) != 0) {
		hr->inflight--;
		http_fail(hr, RA_ERR_BACKEND_DOWN, "Redis is unreachable");
	}
}

/* The health of a pool page's proxies came (NULL: it could not be
 * read, the page goes without): take it over. */
static void
http_health_cb(void *arg, struct ra_health_infos *hi)
{
	struct http_req *hr = arg;

	if (hi != NULL) {
		hr->health = hi->v;
		hr->nhealth = hi->n;
		hi->v = NULL;
		hi->n = 0;
	}
	http_back(hr);
}

/* Ask for the health of a pool page's proxies. */
static void
http_health_read(struct http_req *hr, struct ra_async *ra)
{
	size_t i;

	if (hr->nitems == 0 || hr->er == NULL)
		return;
	hr->hkeys = xcalloc(hr->nitems, sizeof *hr->hkeys);
	for (i = 0; i < hr->nitems; i++)
		hr->hkeys[i] = hr->items[i].key;
	hr->inflight++;
	if (health_read(ra, hr->names.v[0], hr->hkeys, hr->nitems,
	    http_health_cb, hr) != 0)
		hr->inflight--;
}

/* A page of proxies came: keep copies, ask for the next one, then for
 * their health (pools with a check). */
static void
http_list_cb(struct ra_async *ra, struct ra_result *res, void *arg)
{
	struct http_req *hr = arg;
	const struct ra_list *l = &res->u.list;
	const struct conf_pool *cp;
	size_t i;

	if (res->err == RA_OK) {
		for (i = 0; i < l->n && hr->nitems < HTTP_LIST_MAX; i++) {
			if (hr->nitems == hr->itemcap) {
				hr->itemcap = hr->itemcap ? hr->itemcap * 2 :
				    HTTP_LIST_PAGE;
				hr->items = xreallocarray(hr->items,
				    hr->itemcap, sizeof *hr->items);
			}
			hr->items[hr->nitems] = l->items[i];
			hr->items[hr->nitems++].key = xstrdup(l->items[i].key);
		}
		if (l->cursor != 0 && (i < l->n || hr->nitems >= HTTP_LIST_MAX))
			hr->truncated = true;
		else if (l->cursor != 0 && hr->er != NULL) {
			http_list_next(hr, ra, l->cursor);
			http_back(hr);
			return;
		}
		cp = conf_pool_find(hr->h->d->conf, hr->names.v[0]);
		if (cp != NULL && cp->check != NULL)
			http_health_read(hr, ra);
	} else if (res->err != RA_ERR_NO_SUCH_POOL)
		http_fail(hr, res->err, res->errstr);
	http_back(hr);
}

/* redis.timeout passed without every answer. */
static void
http_deadline_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct http_req *hr = arg;
	struct evhttp_request *er = hr->er;

	if (er == NULL)
		return;
	hr->er = NULL;
	http_text(er, 503, "Service Unavailable", "Redis did not answer "
	    "within %gs; try again", hr->h->d->conf->redis_timeout);
}

/* Start answering er: ask Redis about names (the configured pools, or
 * the one of a pool page). */
static void
http_gather(struct http *h, struct evhttp_request *er, enum http_page page,
    const char *pool)
{
	struct daemon *d = h->d;
	struct ra_async *ra = redis_ra(d->redis);
	struct http_req *hr;
	struct timeval tv;
	size_t i, n;
	int rc;

	if (ra == NULL && page != HTTP_METRICS) {
		char *where = http_redis_where(d);

		http_text(er, 503, "Service Unavailable", "Redis (%s) is "
		    "unreachable; try again", where);
		free(where);
		return;
	}
	hr = xcalloc(1, sizeof *hr);
	hr->h = h;
	hr->er = er;
	hr->page = page;
	TAILQ_INSERT_TAIL(&h->reqs, hr, entry);
	h->npending++;
	n = pool != NULL ? 1 : d->conf->npools;
	hr->names.n = n;
	hr->names.v = xcalloc(n + 1, sizeof *hr->names.v);
	for (i = 0; i < n; i++)
		hr->names.v[i] = xstrdup(pool != NULL ? pool :
		    d->conf->pools[i].name);
	hr->counts = xcalloc(n + 1, sizeof *hr->counts);
	hr->hcounts = xcalloc(n + 1, sizeof *hr->hcounts);
	if (ra == NULL) {			/* /metrics: ours only */
		free(hr->counts);
		hr->counts = NULL;
		hr->inflight = 1;
		http_back(hr);
		return;
	}
	hr->inflight++;		/* hold hr while queueing */
	hr->deadline = evtimer_new(d->base, http_deadline_cb, hr);
	tv.tv_sec = (time_t)d->conf->redis_timeout;
	tv.tv_usec = (suseconds_t)((d->conf->redis_timeout -
	    (double)tv.tv_sec) * 1e6);
	evtimer_add(hr->deadline, &tv);
	for (i = 0; i < n; i++) {
		hr->inflight++;
		rc = ra_async_counts(ra, hr->names.v[i], http_counts_cb, hr);
		if (rc == 0) {
			hr->inflight++;
			if ((rc = ra_async_health_counts(ra, hr->names.v[i],
			    http_counts_cb, hr)) != 0)
				hr->inflight--;
		} else if (rc != 0)
			hr->inflight--;
		if (rc != 0) {
			http_fail(hr, RA_ERR_BACKEND_DOWN,
			    "Redis is unreachable");
			break;
		}
	}
	/* the pools' recent events, for the pages and status.json */
	for (i = 0; i < n && page != HTTP_METRICS && hr->err == RA_OK; i++) {
		struct http_events_ask *ask = xcalloc(1, sizeof *ask);

		ask->hr = hr;
		ask->pool = hr->names.v[i];
		hr->inflight++;
		if (ra_async_events_get(ra, hr->names.v[i], EVENTS_SHOWN,
		    http_events_cb, ask) != 0) {
			hr->inflight--;
			free(ask);
		}
	}
	if (page == HTTP_POOL && hr->err == RA_OK)
		http_list_next(hr, ra, 0);
	http_back(hr);
}

/* Constant-time string equality (a password). */
static bool
http_same(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char diff = la != lb;

	for (i = 0; i < la; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i % (lb + 1)];
	return diff == 0;
}

/* Does er carry the password (basic auth, any user name)? */
static bool
http_authorized(struct http *h, struct evhttp_request *er)
{
	const char *want = h->d->conf->http_password, *v;
	char *user, *pass;
	bool ok;

	if (want == NULL)
		return true;
	v = evhttp_find_header(evhttp_request_get_input_headers(er),
	    "Authorization");
	if (v == NULL || gw_basic_decode(v, &user, &pass) != 0)
		return false;
	ok = http_same(pass, want);
	free(user);
	free(pass);
	return ok;
}

/* Every request: method, password, path. */
static void
http_request_cb(struct evhttp_request *er, void *arg)
{
	struct http *h = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(er);
	const char *path = u != NULL ? evhttp_uri_get_path(u) : NULL;
	char *pool;
	size_t len;

	if (evhttp_request_get_command(er) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(er) != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(er),
		    "Allow", "GET, HEAD");
		http_text(er, 405, "Method Not Allowed", "only GET and HEAD");
		return;
	}
	if (!http_authorized(h, er)) {
		evhttp_add_header(evhttp_request_get_output_headers(er),
		    "WWW-Authenticate", "Basic realm=\"proxypoold\", "
		    "charset=\"UTF-8\"");
		http_text(er, 401, "Unauthorized", "the password of http."
		    "password is needed (basic authentication, any user)");
		return;
	}
	if (path == NULL || *path == '\0' || strcmp(path, "/") == 0)
		http_gather(h, er, HTTP_STATUS, NULL);
	else if (strcmp(path, "/metrics") == 0)
		http_gather(h, er, HTTP_METRICS, NULL);
	else if (strcmp(path, "/status.json") == 0)
		http_gather(h, er, HTTP_JSON, NULL);
	else if (strncmp(path, "/pool/", 6) == 0 && path[6] != '\0') {
		pool = evhttp_uridecode(path + 6, 0, &len);
		if (pool == NULL || strlen(pool) != len ||
		    conf_pool_find(h->d->conf, pool) == NULL)
			http_text(er, 404, "Not Found", "no such pool (see /)");
		else
			http_gather(h, er, HTTP_POOL, pool);
		free(pool);
	} else
		http_text(er, 404, "Not Found", "no such page: /, /pool/NAME, "
		    "/status.json, /metrics");
}

/* ------------------------------------------------------------------ */
/* The listener                                                         */
/* ------------------------------------------------------------------ */

/* An evhttp on a new listener at c's http.listen; NULL with *cause. */
static struct evhttp *
http_bind(struct http *h, const struct conf *c, char **cause)
{
	struct sockaddr_storage ss;
	struct evconnlistener *lev;
	struct evhttp *eh;
	int len = (int)sizeof ss;

	memset(&ss, 0, sizeof ss);
	if (evutil_parse_sockaddr_port(c->http_listen, (struct sockaddr *)&ss,
	    &len) != 0) {
		xasprintf(cause, "%s:%d: http.listen: %s is not ADDRESS:PORT",
		    c->http_file, c->http_line, c->http_listen);
		return NULL;
	}
	lev = evconnlistener_new_bind(h->d->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, (struct sockaddr *)&ss, len);
	if (lev == NULL) {
		xasprintf(cause, "%s:%d: http.listen: cannot listen on %s: %s",
		    c->http_file, c->http_line, c->http_listen,
		    strerror(errno));
		return NULL;
	}
	if ((eh = evhttp_new(h->d->base)) == NULL) {
		evconnlistener_free(lev);
		xasprintf(cause, "http: cannot create the HTTP server");
		return NULL;
	}
	if (evhttp_bind_listener(eh, lev) == NULL) {
		evconnlistener_free(lev);
		evhttp_free(eh);
		xasprintf(cause, "http: cannot serve on %s", c->http_listen);
		return NULL;
	}
	evhttp_set_allowed_methods(eh, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS);
	evhttp_set_timeout(eh, HTTP_TIMEOUT);
	evhttp_set_max_headers_size(eh, 16384);
	evhttp_set_max_body_size(eh, 4096);
	evhttp_set_gencb(eh, http_request_cb, h);
	return eh;
}

/* Close the listener and its connections; requests waiting for Redis
 * will not be answered (evhttp frees them). */
static void
http_close(struct http *h)
{
	struct http_req *hr;

	if (h->eh == NULL)
		return;
	TAILQ_FOREACH(hr, &h->reqs, entry)
		hr->er = NULL;
	evhttp_free(h->eh);
	h->eh = NULL;
	log_info("http: stopped listening on %s", h->listen);
	free(h->listen);
	h->listen = NULL;
}

struct http *
http_create(struct daemon *d)
{
	struct http *h = xcalloc(1, sizeof *h);

	h->d = d;
	TAILQ_INIT(&h->reqs);
	return h;
}

int
http_configure(struct http *h, const struct conf *c, char **cause)
{
	struct evhttp *eh;

	if (!c->http_on) {
		http_close(h);
		return 0;
	}
	if (h->eh != NULL && strcmp(h->listen, c->http_listen) == 0)
		return 0;		/* the password is read per request */
	if ((eh = http_bind(h, c, cause)) == NULL)
		return -1;
	http_close(h);
	h->eh = eh;
	h->listen = xstrdup(c->http_listen);
	log_info("http: listening on http://%s/%s", h->listen,
	    c->http_password != NULL ? " (password)" : "");
	return 0;
}

void
http_stop(struct http *h)
{
	if (h != NULL)
		http_close(h);
}

unsigned
http_pending(const struct http *h)
{
	return h != NULL ? h->npending : 0;
}

void
http_destroy(struct http *h)
{
	struct http_req *hr;

	if (h == NULL)
		return;
	http_close(h);
	/* Redis is gone: no callback is due, what is left can go */
	while ((hr = TAILQ_FIRST(&h->reqs)) != NULL)
		http_req_free(hr);
	free(h);
}
