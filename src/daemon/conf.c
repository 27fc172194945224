/*
 * conf.c: load proxypoold.conf with libconfig.  One schema table per
 * group (name, type, offset, default, bounds, reloadable) drives parsing,
 * defaults, bound checks and the reload rules; every error names
 * file:line: setting: problem.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <regex.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "conf.h"
#include "log.h"
#include "proxylist.h"
#include "proxyurl.h"
#include "where.h"
#include "xmalloc.h"

/* proxylist.c (and proxypoolctl) bound expires= by the library's maximum
 * (RA_TTL_MAX, a double, cast: clang takes no floating comparison as an
 * integer constant expression) */
_Static_assert(PROXYLIST_EXPIRES_MAX == (long long)RA_TTL_MAX,
    "PROXYLIST_EXPIRES_MAX is not RA_TTL_MAX");

#ifndef REDIS_SERVER_PATH
#define REDIS_SERVER_PATH "redis-server"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif
#ifndef SOCKET_PATH		/* listen.socket's default, proxypoolctl's too */
#define SOCKET_PATH RUNSTATEDIR "/proxypoold/proxypoold.sock"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif

#define CONF_MAX_POOLS	1024
#define CONF_MAX_ITEMS	1000000

#define O(f)	offsetof(struct conf, f)
static const struct conf_opt conf_redis_opts[] = {
	{ "url", CONF_STR, O(redis_url), "embedded", 0, 0, CONF_NORELOAD },
	{ "password", CONF_STR, O(redis_password), NULL, 0, 0,
	    CONF_NORELOAD | CONF_NULLABLE },
	{ "timeout", CONF_DOUBLE, O(redis_timeout), "2", 0.01, 3600, 0 },
	{ "prefix", CONF_STR, O(redis_prefix), "ra", 0, 0, CONF_NORELOAD },
	{ "state_dir", CONF_STR, O(state_dir), LOCALSTATEDIR "/lib/proxypoold",
	    0, 0, CONF_NORELOAD },
	{ "server", CONF_STR, O(redis_server), REDIS_SERVER_PATH, 0, 0,
	    CONF_NORELOAD },
	{ NULL, 0, 0, NULL, 0, 0, 0 }
};
static const struct conf_opt conf_listen_opts[] = {
	{ "socket", CONF_STR, O(socket), SOCKET_PATH, 0, 0,
	    CONF_NORELOAD },
	{ "mode", CONF_STR, O(mode_str), "0660", 0, 0, CONF_NORELOAD },
	{ "owner", CONF_STR, O(owner), NULL, 0, 0,
	    CONF_NORELOAD | CONF_NULLABLE },
	{ "group", CONF_STR, O(group), NULL, 0, 0,
	    CONF_NORELOAD | CONF_NULLABLE },
	{ "admin_uids", CONF_UIDS, 0, NULL, 0, 0, 0 },
	{ "admin_gids", CONF_GIDS, 0, NULL, 0, 0, 0 },
	{ "max_clients", CONF_INT, O(max_clients), "1024", 1, 1000000, 0 },
	{ "max_request", CONF_INT, O(max_request), "65536", 256,
	    16 * 1024 * 1024, 0 },
	{ "idle_timeout", CONF_DOUBLE, O(idle_timeout), "300", 0, 864000, 0 },
	{ "wait_retry", CONF_DOUBLE, O(wait_retry), "0.2", 0.01, 60, 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0 }
};
static const struct conf_opt conf_log_opts[] = {
	{ "level", CONF_STR, O(log_level_str), "info", 0, 0, 0 },
	{ "file", CONF_STR, O(log_file), NULL, 0, 0, CONF_NULLABLE },
	{ "syslog", CONF_BOOL, O(log_syslog), "false", 0, 0, 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0 }
};
static const struct conf_opt conf_http_opts[] = {
	{ "listen", CONF_STR, O(http_listen), "127.0.0.1:9187", 0, 0, 0 },
	{ "password", CONF_STR, O(http_password), NULL, 0, 0, CONF_NULLABLE },
	{ "refresh", CONF_DOUBLE, O(http_refresh), "5", 1, 3600, 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0 }
};
#undef O

#define P(f)	offsetof(struct conf_pool, f)
static const struct conf_opt conf_pool_opts[] = {
	{ "name", CONF_STR, P(name), NULL, 0, 0, 0 },
	{ "shared", CONF_BOOL, P(ra.shared), "false", 0, 0, 0 },
	{ "max_shares", CONF_UINT, P(ra.max_shares), "0", 0, 1000000, 0 },
	{ "lease_ttl", CONF_DOUBLE, P(ra.lease_ttl), "60", 0.001, RA_TTL_MAX, 0 },
	{ "bind_ttl", CONF_DOUBLE, P(ra.bind_ttl), "3600", 0, RA_TTL_MAX, 0 },
	{ "evict_after", CONF_DOUBLE, P(evict_after), "0", 0, RA_TTL_MAX, 0 },
	{ "priority", CONF_INT, P(priority), "0", -1000000, 1000000, 0 },
	{ "proxies", CONF_GROUP, 0, NULL, 0, 0, 0 },
	{ "proxies_file", CONF_GROUP, 0, NULL, 0, 0, 0 },
	{ "check", CONF_GROUP, 0, NULL, 0, 0, 0 },
	{ "eject", CONF_GROUP, 0, NULL, 0, 0, 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0 }
};
static const struct conf_opt conf_eject_opts[] = {
	{ "failures", CONF_UINT, P(ra.eject_failures), "5", 0, 1000000, 0 },
	{ "base_time", CONF_DOUBLE, P(ra.eject_base), "30", 0, RA_TTL_MAX, 0 },
	{ "max_time", CONF_DOUBLE, P(ra.eject_max), "300", 0, RA_TTL_MAX, 0 },
	{ "max_percent", CONF_UINT, P(ra.eject_max_percent), "50", 0, 100, 0 },
	{ "ban_time", CONF_DOUBLE, P(ra.ban_time), "600", 0, RA_TTL_MAX, 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0 }
};
#undef P

#define G(f)	offsetof(struct conf_gateway, f)
static const struct conf_opt conf_gateway_opts[] = {
	{ "listen", CONF_STR, G(listen), "127.0.0.1:3128", 0, 0, 0 },
	{ "pool", CONF_STR, G(pool), NULL, 0, 0, CONF_NULLABLE },
	{ "password", CONF_STR, G(password), NULL, 0, 0, CONF_NULLABLE },
	{ "retries", CONF_INT, G(retries), "2", 0, 10, 0 },
	{ "rotate_on_error", CONF_BOOL, G(rotate_on_error), "false", 0, 0, 0 },
	{ "wait", CONF_DOUBLE, G(wait), "0", 0, 3600, 0 },
	{ "lease_ttl", CONF_DOUBLE, G(lease_ttl), "0", 0, RA_TTL_MAX, 0 },
	{ "session_ttl", CONF_DOUBLE, G(session_ttl), "0", 0, RA_TTL_MAX, 0 },
	{ "connect_timeout", CONF_DOUBLE, G(connect_timeout), "10", 0.01, 600,
	    0 },
	{ "timeout", CONF_DOUBLE, G(timeout), "30", 0.01, 3600, 0 },
	{ "idle_timeout", CONF_DOUBLE, G(idle_timeout), "60", 0, 864000, 0 },
	{ "max_clients", CONF_INT, G(max_clients), "1024", 1, 1000000, 0 },
	{ "buffer", CONF_INT, G(buffer), "262144", 4096, 64 * 1024 * 1024, 0 },
	{ "retry_body", CONF_INT, G(retry_body), "65536", 0, 16 * 1024 * 1024,
	    0 },
	{ "proxy_header", CONF_BOOL, G(proxy_header), "false", 0, 0, 0 },
	{ "ban_statuses", CONF_GROUP, 0, NULL, 0, 0, 0 },
	{ "proxy_statuses", CONF_GROUP, 0, NULL, 0, 0, 0 },
	{ "ban_body", CONF_STR, G(ban_body), NULL, 0, 0, CONF_NULLABLE },
	{ "proxy_cacert", CONF_STR, G(proxy_cacert), NULL, 0, 0,
	    CONF_NULLABLE },
	{ "proxy_insecure", CONF_BOOL, G(proxy_insecure), "false", 0, 0, 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0 }
};
#undef G

/* Where a setting was read, for error messages. */
static const char *
conf_where_file(const struct conf *c, const config_setting_t *s)
{
	const char *f = s != NULL ? config_setting_source_file(s) : NULL;

	return f != NULL ? f : c->path;
}

static int
conf_where_line(const config_setting_t *s)
{
	return s != NULL ? (int)config_setting_source_line(s) : 0;
}

/* Set *cause to "file:line: what: problem". */
static void __attribute__((format(printf, 5, 6)))
conf_error(const struct conf *c, const config_setting_t *s, char **cause,
    const char *what, const char *fmt, ...)
{
	va_list ap;

	if (*cause != NULL)
		return;
	va_start(ap, fmt);
	*cause = where_vfmt(conf_where_file(c, s),
	    (unsigned)conf_where_line(s), what, fmt, ap);
	va_end(ap);
}

/* A number out of a setting of type int, int64 or float. */
static bool
conf_number(const config_setting_t *s, double *v, bool *integral)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		*v = (double)config_setting_get_int64(s);
		*integral = true;
		return true;
	case CONFIG_TYPE_FLOAT:
		*v = config_setting_get_float(s);
		*integral = false;
		return true;
	default:
		return false;
	}
}

/* Resolve one uid/gid list entry; -1 with cause. */
static int
conf_id(struct conf *c, const config_setting_t *e, bool user, long *id,
    char **cause, const char *what)
{
	const char *name;
	struct passwd *pw;
	struct group *gr;

	if (config_setting_type(e) == CONFIG_TYPE_INT ||
	    config_setting_type(e) == CONFIG_TYPE_INT64) {
		*id = (long)config_setting_get_int64(e);
		if (*id < 0 || *id > INT_MAX) {
			conf_error(c, e, cause, what, "bad id %ld", *id);
			return -1;
		}
		return 0;
	}
	if (config_setting_type(e) != CONFIG_TYPE_STRING) {
		conf_error(c, e, cause, what, "expected numeric ids or names");
		return -1;
	}
	name = config_setting_get_string(e);
	if (user) {
		if ((pw = getpwnam(name)) == NULL) {
			conf_error(c, e, cause, what, "no such user %s", name);
			return -1;
		}
		*id = (long)pw->pw_uid;
	} else {
		if ((gr = getgrnam(name)) == NULL) {
			conf_error(c, e, cause, what, "no such group %s", name);
			return -1;
		}
		*id = (long)gr->gr_gid;
	}
	return 0;
}

/* Parse a uid or gid list into the conf. */
static int
conf_idlist(struct conf *c, config_setting_t *s, bool user, char **cause,
    const char *what)
{
	int i, n;
	long id;

	if (!config_setting_is_aggregate(s) || config_setting_is_group(s)) {
		conf_error(c, s, cause, what,
		    "expected a list such as [ 0, \"alice\" ]");
		return -1;
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		if (conf_id(c, config_setting_get_elem(s, (unsigned)i), user,
		    &id, cause, what) != 0)
			return -1;
		if (user) {
			c->admin_uids = xreallocarray(c->admin_uids,
			    c->n_admin_uids + 1, sizeof *c->admin_uids);
			c->admin_uids[c->n_admin_uids++] = (uid_t)id;
		} else {
			c->admin_gids = xreallocarray(c->admin_gids,
			    c->n_admin_gids + 1, sizeof *c->admin_gids);
			c->admin_gids[c->n_admin_gids++] = (gid_t)id;
		}
	}
	return 0;
}

/* Store a default value. */
static void
conf_default(void *base, const struct conf_opt *o)
{
	char *p = (char *)base + o->off;

	switch (o->type) {
	case CONF_STR:
		*(char **)p = o->def != NULL ? xstrdup(o->def) : NULL;
		break;
	case CONF_INT:
		*(int *)p = o->def != NULL ? atoi(o->def) : 0;
		break;
	case CONF_UINT:
		*(unsigned *)p = o->def != NULL ? (unsigned)atol(o->def) : 0;
		break;
	case CONF_DOUBLE:
		*(double *)p = o->def != NULL ? atof(o->def) : 0;
		break;
	case CONF_BOOL:
		*(int *)p = o->def != NULL && strcmp(o->def, "true") == 0;
		break;
	default:
		break;
	}
}

/* Store one value from setting s, checked against o (no uid or gid
 * lists: they go into c itself). */
static int
conf_scalar(const struct conf *c, void *base, const struct conf_opt *o,
    const config_setting_t *s, const char *what, char **cause)
{
	char *p = (char *)base + o->off;
	bool integral;
	double v;

	switch (o->type) {
	case CONF_STR:
		if (config_setting_type(s) != CONFIG_TYPE_STRING) {
			conf_error(c, s, cause, what, "expected a string");
			return -1;
		}
		free(*(char **)p);
		*(char **)p = xstrdup(config_setting_get_string(s));
		return 0;
	case CONF_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
			conf_error(c, s, cause, what,
			    "expected true or false");
			return -1;
		}
		*(int *)p = config_setting_get_bool(s);
		return 0;
	case CONF_INT:
	case CONF_UINT:
	case CONF_DOUBLE:
		if (!conf_number(s, &v, &integral) ||
		    (o->type != CONF_DOUBLE && !integral)) {
			conf_error(c, s, cause, what, "expected %s",
			    o->type == CONF_DOUBLE ? "a number" : "an integer");
			return -1;
		}
		if (!isfinite(v) || v < o->min || v > o->max) {
			if (o->flags & CONF_FROMTO)
				conf_error(c, s, cause, what, "must be from %g "
				    "to %g", o->min, o->max);
			else
				conf_error(c, s, cause, what, "%g out of range "
				    "%g to %g", v, o->min, o->max);
			return -1;
		}
		if (o->type == CONF_INT)
			*(int *)p = (int)v;
		else if (o->type == CONF_UINT)
			*(unsigned *)p = (unsigned)v;
		else
			*(double *)p = v;
		return 0;
	default:
		return 0;
	}
}

/* Store one value from setting s, checked against o. */
static int
conf_value(struct conf *c, void *base, const struct conf_opt *o,
    config_setting_t *s, const char *what, char **cause)
{
	switch (o->type) {
	case CONF_UIDS:
		return conf_idlist(c, s, true, cause, what);
	case CONF_GIDS:
		return conf_idlist(c, s, false, cause, what);
	default:
		return conf_scalar(c, base, o, s, what, cause);
	}
}

/* The entry of opts named name, NULL if none. */
static const struct conf_opt *
conf_opt_find(const struct conf_opt *opts, const char *name)
{
	const struct conf_opt *o;

	for (o = opts; o->name != NULL; o++) {
		if (strcmp(o->name, name) == 0)
			return o;
	}
	return NULL;
}

/*
 * Apply the table opts to group g (may be NULL: defaults only) with
 * "prefix.name" as the setting name in errors; unknown settings are
 * errors, so typos never pass silently.
 */
static int
conf_group(struct conf *c, void *base, const struct conf_opt *opts,
    config_setting_t *g, const char *prefix, bool defaults, char **cause)
{
	const struct conf_opt *o;
	config_setting_t *s;
	char *what;
	int i, n, rc;

	if (defaults) {
		for (o = opts; o->name != NULL; o++) {
			if (o->type != CONF_GROUP && o->type != CONF_UIDS &&
			    o->type != CONF_GIDS)
				conf_default(base, o);
		}
	}
	if (g == NULL)
		return 0;
	if (!config_setting_is_group(g)) {
		conf_error(c, g, cause, prefix, "expected a group { ... }");
		return -1;
	}
	n = config_setting_length(g);
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(g, (unsigned)i);
		o = conf_opt_find(opts, config_setting_name(s));
		xasprintf(&what, "%s.%s", prefix, config_setting_name(s));
		if (o == NULL) {
			conf_error(c, s, cause, what, "unknown setting");
			free(what);
			return -1;
		}
		rc = conf_value(c, base, o, s, what, cause);
		free(what);
		if (rc != 0)
			return -1;
	}
	return 0;
}

int
conf_table_names(const struct conf *c, const struct conf_opt *opts,
    const config_setting_t *g, const char *const *others,
    const char *unknown, char **cause)
{
	const config_setting_t *s;
	const char *const *n;
	const char *name;
	int i, len;

	*cause = NULL;
	len = config_setting_length(g);
	for (i = 0; i < len; i++) {
		s = config_setting_get_elem(g, (unsigned)i);
		name = config_setting_name(s);
		if (conf_opt_find(opts, name) != NULL)
			continue;
		for (n = others; n != NULL && *n != NULL; n++) {
			if (strcmp(*n, name) == 0)
				break;
		}
		if (n == NULL || *n == NULL) {
			conf_error(c, s, cause, name, "%s", unknown);
			return -1;
		}
	}
	return 0;
}

int
conf_table_apply(const struct conf *c, void *base,
    const struct conf_opt *opts, const config_setting_t *g, char **cause)
{
	const struct conf_opt *o;
	const config_setting_t *s;

	*cause = NULL;
	for (o = opts; o->name != NULL; o++) {
		if ((s = config_setting_get_member(g, o->name)) != NULL &&
		    conf_scalar(c, base, o, s, o->name, cause) != 0)
			return -1;
	}
	return 0;
}

/* Add one proxy to a pool, normalising its URL (duplicates are found
 * once the pool is read, by conf_duplicates). */
static int
conf_add_item(struct conf *c, struct conf_pool *p, const char *url,
    int priority, double expires, const char *file, int line,
    const char *what, char **cause)
{
	char *norm, *why = NULL;

	if ((norm = proxyurl_normalise(url, &why)) == NULL) {
		*cause = where_fmt(file, (unsigned)line, what, "%s", why);
		free(why);
		return -1;
	}
	if (p->nitems >= CONF_MAX_ITEMS) {
		*cause = where_fmt(file, (unsigned)line, what,
		    "more than %d proxies", CONF_MAX_ITEMS);
		free(norm);
		return -1;
	}
	if (p->nitems == p->itemcap) {
		p->itemcap = p->itemcap ? p->itemcap * 2 : 16;
		p->items = xreallocarray(p->items, p->itemcap,
		    sizeof *p->items);
		p->where = xreallocarray(p->where, p->itemcap,
		    sizeof *p->where);
	}
	p->items[p->nitems].key = norm;
	p->items[p->nitems].priority = priority;
	p->items[p->nitems].expires = expires;
	p->where[p->nitems].file = file;
	p->where[p->nitems].line = line;
	p->where[p->nitems].from_file = strstr(what, "proxies_file") != NULL;
	p->nitems++;
	return 0;
}

/*
 * A URL twice in a pool is an error (proxylist_dups, as proxypoolctl's
 * check of a list file): report the first repeat in reading order.
 */
static int
conf_duplicates(struct conf_pool *p, char **cause)
{
	const struct conf_where *w, *first;
	const char **keys;
	size_t *orig, i;
	char *r;

	if (p->nitems < 2)
		return 0;
	keys = xcalloc(p->nitems, sizeof *keys);
	orig = xcalloc(p->nitems, sizeof *orig);
	for (i = 0; i < p->nitems; i++)
		keys[i] = p->items[i].key;
	proxylist_dups(keys, p->nitems, orig);
	for (i = 0; i < p->nitems && orig[i] == i; i++)
		;
	free(keys);
	if (i == p->nitems) {
		free(orig);
		return 0;
	}
	w = &p->where[i];
	first = &p->where[orig[i]];
	free(orig);
	r = proxyurl_redact(p->items[i].key);
	xasprintf(cause, "%s:%d: pools[%s].%s: duplicate proxy %s (first at "
	    "%s:%d)", w->file, w->line, p->name, w->from_file ?
	    "proxies_file" : "proxies", r, first->file, first->line);
	free(r);
	return -1;
}

/* One entry of proxies: a URL string or a group { url, priority,
 * expires }. */
static int
conf_proxy_entry(struct conf *c, struct conf_pool *p, config_setting_t *e,
    int defprio, const char *what, char **cause)
{
	config_setting_t *s;
	const char *url = NULL, *file = conf_where_file(c, e);
	int i, n, prio = defprio;
	double expires = 0, v;
	bool integral;

	if (config_setting_type(e) == CONFIG_TYPE_STRING)
		return conf_add_item(c, p, config_setting_get_string(e),
		    prio, 0, file, conf_where_line(e), what, cause);
	if (!config_setting_is_group(e)) {
		conf_error(c, e, cause, what, "expected a URL string or "
		    "{ url = \"...\"; priority = N; expires = S; }");
		return -1;
	}
	n = config_setting_length(e);
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(e, (unsigned)i);
		if (strcmp(config_setting_name(s), "url") == 0 &&
		    config_setting_type(s) == CONFIG_TYPE_STRING)
			url = config_setting_get_string(s);
		else if (strcmp(config_setting_name(s), "priority") == 0 &&
		    conf_number(s, &v, &integral) && integral &&
		    v >= -1000000 && v <= 1000000)
			prio = (int)v;
		else if (strcmp(config_setting_name(s), "expires") == 0 &&
		    conf_number(s, &v, &integral) && v >= 0 && v <= RA_TTL_MAX)
			expires = v;
		else {
			conf_error(c, s, cause, what, "bad setting %s (expected "
			    "url string, integer priority, expires seconds)",
			    config_setting_name(s));
			return -1;
		}
	}
	if (url == NULL) {
		conf_error(c, e, cause, what, "proxy entry without url");
		return -1;
	}
	return conf_add_item(c, p, url, prio, expires, file,
	    conf_where_line(e), what, cause);
}

/*
 * Read a proxies file (proxylist.h: "URL [priority=N] [expires=S]" a
 * line, blank lines and # comments skipped).  Errors name the file's own
 * line; the first one stops the load.
 */
static int
conf_proxies_file(struct conf *c, struct conf_pool *p, const char *path,
    int defprio, const char *what, char **cause)
{
	struct proxylist_line l;
	enum proxylist_error e;
	FILE *f;
	char *line = NULL, *why;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, rc = -1;

	if ((f = fopen(path, "r")) == NULL) {
		xasprintf(cause, "%s:0: %s: cannot open: %s", path, what,
		    strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, f)) != -1) {
		lineno++;
		if ((e = proxylist_parse(line, (size_t)len, &l)) !=
		    PROXYLIST_OK) {
			why = proxylist_strerror(e, &l, false);
			*cause = where_fmt(path, (unsigned)lineno, what, "%s",
			    why);
			free(why);
			goto out;
		}
		if (l.url == NULL)
			continue;
		if (conf_add_item(c, p, l.url, l.has_priority ?
		    (int)l.priority : defprio, l.expires, path, lineno, what,
		    cause) != 0)
			goto out;
	}
	if (ferror(f)) {
		xasprintf(cause, "%s:%d: %s: read error", path, lineno, what);
		goto out;
	}
	rc = 0;
out:
	free(line);
	fclose(f);
	return rc;
}

/* A valid pool name: 1..200 bytes of letters, digits, "-_.:". */
static bool
conf_pool_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 200)
		return false;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && strchr("-_.:", *s) == NULL)
			return false;
	}
	return true;
}

/* A list of HTTP statuses (ban_statuses, proxy_statuses), or the
 * defaults when the setting is absent. */
static int
conf_statuses(struct conf *c, config_setting_t *g, const char *name,
    const int *def, size_t ndef, int **out, size_t *n, char **cause)
{
	config_setting_t *s, *e;
	char *what;
	double v;
	bool integral;
	int i, len;

	if ((s = config_setting_get_member(g, name)) == NULL) {
		*out = xreallocarray(NULL, ndef + 1, sizeof **out);
		memcpy(*out, def, ndef * sizeof *def);
		*n = ndef;
		return 0;
	}
	xasprintf(&what, "gateway.%s", name);
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		conf_error(c, s, cause, what, "expected a list of HTTP "
		    "statuses [ 403, 429 ]");
		free(what);
		return -1;
	}
	len = config_setting_length(s);
	*out = xreallocarray(NULL, (size_t)len + 1, sizeof **out);
	*n = 0;
	for (i = 0; i < len; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		if (!conf_number(e, &v, &integral) || !integral || v < 100 ||
		    v > 599) {
			conf_error(c, e, cause, what, "an HTTP status is an "
			    "integer from 100 to 599");
			free(what);
			return -1;
		}
		(*out)[(*n)++] = (int)v;
	}
	free(what);
	return 0;
}

/* A listen address "IPv4:port" or "[IPv6]:port" (numeric); loopback
 * tells whether it is a loopback one. */
static int
conf_hostport(const char *s, bool *loopback)
{
	struct in6_addr a6;
	struct in_addr a4;
	char host[INET6_ADDRSTRLEN + 2], *end;
	const char *colon;
	unsigned long port;
	size_t n;

	if ((colon = strrchr(s, ':')) == NULL || colon == s)
		return -1;
	n = (size_t)(colon - s);
	if (n >= sizeof host)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port == 0 ||
	    port > 65535 || !isdigit((unsigned char)colon[1]))
		return -1;
	if (host[0] == '[') {
		if (n < 3 || host[n - 1] != ']')
			return -1;
		host[n - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a6) != 1)
			return -1;
		*loopback = IN6_IS_ADDR_LOOPBACK(&a6);
		return 0;
	}
	if (inet_pton(AF_INET, host, &a4) != 1)
		return -1;
	*loopback = (ntohl(a4.s_addr) >> 24) == 127;
	return 0;
}

/* Parse one element of gateway. */
static int
conf_gateway(struct conf *c, config_setting_t *g, int idx, char **cause)
{
	static const int bans[] = { 403, 429 };
	static const int proxies[] = { 407, 502, 503, 504 };
	struct conf_gateway *gw = &c->gateways[idx];
	config_setting_t *s;
	regex_t re;
	bool loopback;
	size_t i;

	gw->file = conf_where_file(c, g);
	gw->line = conf_where_line(g);
	if (conf_group(c, gw, conf_gateway_opts, g, "gateway", true,
	    cause) != 0)
		return -1;
	if (conf_statuses(c, g, "ban_statuses", bans, 2, &gw->ban_statuses,
	    &gw->nban_statuses, cause) != 0 ||
	    conf_statuses(c, g, "proxy_statuses", proxies, 4,
	    &gw->proxy_statuses, &gw->nproxy_statuses, cause) != 0)
		return -1;
	s = config_setting_get_member(g, "listen");
	if (conf_hostport(gw->listen, &loopback) != 0) {
		conf_error(c, s != NULL ? s : g, cause, "gateway.listen",
		    "\"%s\" is not ADDRESS:PORT (127.0.0.1:3128, [::1]:3128)",
		    gw->listen);
		return -1;
	}
	if (!loopback && gw->password == NULL) {
		conf_error(c, s, cause, "gateway.listen", "%s is not a "
		    "loopback address: set a password", gw->listen);
		return -1;
	}
	if (gw->pool == NULL) {
		if (c->npools != 1) {
			conf_error(c, g, cause, "gateway.pool", "name the "
			    "listener's pool (there are %zu)", c->npools);
			return -1;
		}
		gw->pool = xstrdup(c->pools[0].name);
	} else if (conf_pool_find(c, gw->pool) == NULL) {
		conf_error(c, config_setting_get_member(g, "pool"), cause,
		    "gateway.pool", "no such pool %s", gw->pool);
		return -1;
	}
	if (gw->ban_body != NULL) {
		if (regcomp(&re, gw->ban_body, REG_EXTENDED | REG_NOSUB) != 0) {
			conf_error(c, config_setting_get_member(g, "ban_body"),
			    cause, "gateway.ban_body", "not a valid extended "
			    "regular expression");
			return -1;
		}
		regfree(&re);
	}
	if (gw->proxy_cacert != NULL && access(gw->proxy_cacert, R_OK) != 0) {
		conf_error(c, config_setting_get_member(g, "proxy_cacert"),
		    cause, "gateway.proxy_cacert", "cannot read %s: %s",
		    gw->proxy_cacert, strerror(errno));
		return -1;
	}
	for (i = 0; i < (size_t)idx; i++) {
		if (strcmp(c->gateways[i].listen, gw->listen) == 0) {
			conf_error(c, s, cause, "gateway.listen", "%s is "
			    "already a listener (line %d)", gw->listen,
			    c->gateways[i].line);
			return -1;
		}
	}
	return 0;
}

/* The http group (http.c serves it): off unless the group is set; a
 * listen address that is not loopback needs a password. */
static int
conf_http(struct conf *c, config_setting_t *g, char **cause)
{
	config_setting_t *s;
	bool loopback;
	size_t i;

	if (conf_group(c, c, conf_http_opts, g, "http", true, cause) != 0)
		return -1;
	if (g == NULL)
		return 0;
	c->http_on = true;
	c->http_file = conf_where_file(c, g);
	c->http_line = conf_where_line(g);
	s = config_setting_get_member(g, "listen");
	if (conf_hostport(c->http_listen, &loopback) != 0) {
		conf_error(c, s != NULL ? s : g, cause, "http.listen",
		    "\"%s\" is not ADDRESS:PORT (127.0.0.1:9187, [::1]:9187)",
		    c->http_listen);
		return -1;
	}
	if (!loopback && c->http_password == NULL) {
		conf_error(c, s, cause, "http.listen", "%s is not a loopback "
		    "address: set a password", c->http_listen);
		return -1;
	}
	if (c->http_password != NULL && *c->http_password == '\0') {
		conf_error(c, config_setting_get_member(g, "password"), cause,
		    "http.password", "empty (leave it out for no password)");
		return -1;
	}
	for (i = 0; i < c->ngateways; i++) {
		if (strcmp(c->gateways[i].listen, c->http_listen) == 0) {
			conf_error(c, s != NULL ? s : g, cause, "http.listen",
			    "%s is a gateway listener (line %d)",
			    c->http_listen, c->gateways[i].line);
			return -1;
		}
	}
	return 0;
}

/* Parse one element of pools. */
static int
conf_pool(struct conf *c, config_setting_t *g, int idx, char **cause)
{
	struct conf_pool *p = &c->pools[idx];
	config_setting_t *s;
	char *prefix, *what, *path, *dir;
	const char *name, *fname;
	int i, n, prio, rc = -1;

	ra_pool_conf_init(&p->ra);
	p->file = conf_where_file(c, g);
	p->line = conf_where_line(g);
	if (!config_setting_is_group(g)) {
		conf_error(c, g, cause, "pools", "each pool is a group "
		    "{ name = \"...\"; proxies = [ ... ]; }");
		return -1;
	}
	if (config_setting_lookup_string(g, "name", &name) != CONFIG_TRUE) {
		conf_error(c, g, cause, "pools", "pool %d has no name "
		    "string", idx + 1);
		return -1;
	}
	if (!conf_pool_name_ok(name)) {
		conf_error(c, config_setting_get_member(g, "name"), cause,
		    "pools.name", "bad pool name \"%s\" (letters, digits, "
		    "- _ . : up to 200)", name);
		return -1;
	}
	xasprintf(&prefix, "pools[%s]", name);
	if (conf_group(c, p, conf_pool_opts, g, prefix, true, cause) != 0)
		goto out;
	/* the ra defaults, then the eject group over them */
	{
		struct ra_pool_conf d;

		ra_pool_conf_init(&d);
		p->ra.eject_failures = d.eject_failures;
		p->ra.eject_base = d.eject_base;
		p->ra.eject_max = d.eject_max;
		p->ra.eject_max_percent = d.eject_max_percent;
		p->ra.ban_time = d.ban_time;
	}
	if ((s = config_setting_get_member(g, "eject")) != NULL) {
		xasprintf(&what, "%s.eject", prefix);
		n = conf_group(c, p, conf_eject_opts, s, what, false, cause);
		free(what);
		if (n != 0)
			goto out;
	}
	if (p->ra.eject_max < p->ra.eject_base) {
		conf_error(c, config_setting_get_member(g, "eject"), cause,
		    prefix, "eject.max_time is below eject.base_time");
		goto out;
	}
	if ((s = config_setting_get_member(g, "check")) != NULL) {
		if (!config_setting_is_group(s)) {
			xasprintf(&what, "%s.check", prefix);
			conf_error(c, s, cause, what, "expected a group "
			    "{ type = \"...\"; ... }");
			free(what);
			goto out;
		}
		p->check = s;
	}
	prio = p->priority;
	if ((s = config_setting_get_member(g, "proxies")) != NULL) {
		xasprintf(&what, "%s.proxies", prefix);
		if (!config_setting_is_aggregate(s) ||
		    config_setting_is_group(s)) {
			conf_error(c, s, cause, what, "expected a list "
			    "[ \"http://host:port\", ... ]");
			free(what);
			goto out;
		}
		n = config_setting_length(s);
		for (i = 0; i < n; i++) {
			if (conf_proxy_entry(c, p, config_setting_get_elem(s,
			    (unsigned)i), prio, what, cause) != 0) {
				free(what);
				goto out;
			}
		}
		free(what);
	}
	if ((s = config_setting_get_member(g, "proxies_file")) != NULL) {
		xasprintf(&what, "%s.proxies_file", prefix);
		if (config_setting_type(s) != CONFIG_TYPE_STRING) {
			conf_error(c, s, cause, what, "expected a path string");
			free(what);
			goto out;
		}
		fname = config_setting_get_string(s);
		if (*fname == '/')
			path = xstrdup(fname);
		else {
			dir = xstrdup(conf_where_file(c, s));
			xasprintf(&path, "%s/%s", dirname(dir), fname);
			free(dir);
		}
		p->proxies_file = path;
		n = conf_proxies_file(c, p, path, prio, what, cause);
		free(what);
		if (n != 0)
			goto out;
	}
	if (conf_duplicates(p, cause) != 0)
		goto out;
	rc = 0;
out:
	free(prefix);
	return rc;
}

/* Parse the octal socket mode. */
static int
conf_mode(struct conf *c, char **cause)
{
	config_setting_t *s = config_lookup(&c->cfg, "listen.mode");
	char *e;
	long v;

	errno = 0;
	v = strtol(c->mode_str, &e, 8);
	if (errno || *e || e == c->mode_str || v < 0 || v > 0777) {
		conf_error(c, s, cause, "listen.mode",
		    "\"%s\" is not an octal mode such as \"0660\"", c->mode_str);
		return -1;
	}
	c->mode = (mode_t)v;
	return 0;
}

/* Checks across settings once all are read. */
static int
conf_check(struct conf *c, char **cause)
{
	char buf[1024], err[256];
	struct ra_options opt;
	size_t i, j;

	if ((c->log_level = log_level_parse(c->log_level_str)) < 0) {
		conf_error(c, config_lookup(&c->cfg, "log.level"), cause,
		    "log.level", "unknown level \"%s\" (error, warning, "
		    "info, debug)", c->log_level_str);
		return -1;
	}
	if (conf_mode(c, cause) != 0)
		return -1;
	if (c->socket[0] != '/' ||
	    strlen(c->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		conf_error(c, config_lookup(&c->cfg, "listen.socket"), cause,
		    "listen.socket", "must be an absolute path shorter than "
		    "108 bytes");
		return -1;
	}
	if (c->owner != NULL && getpwnam(c->owner) == NULL) {
		conf_error(c, config_lookup(&c->cfg, "listen.owner"), cause,
		    "listen.owner", "no such user %s", c->owner);
		return -1;
	}
	if (c->group != NULL && getgrnam(c->group) == NULL) {
		conf_error(c, config_lookup(&c->cfg, "listen.group"), cause,
		    "listen.group", "no such group %s", c->group);
		return -1;
	}
	if (strcmp(c->redis_url, "embedded") != 0 &&
	    ra_options_parse_url(&opt, c->redis_url, buf, sizeof buf, err,
	    sizeof err) != 0) {
		conf_error(c, config_lookup(&c->cfg, "redis.url"), cause,
		    "redis.url", "%s", err);
		return -1;
	}
	if (strcmp(c->redis_url, "embedded") == 0 && c->state_dir[0] != '/') {
		conf_error(c, config_lookup(&c->cfg, "redis.state_dir"), cause,
		    "redis.state_dir", "must be an absolute path");
		return -1;
	}
	if (c->redis_prefix[0] == '\0' || strlen(c->redis_prefix) > 64) {
		conf_error(c, config_lookup(&c->cfg, "redis.prefix"), cause,
		    "redis.prefix", "must be 1 to 64 bytes");
		return -1;
	}
	for (i = 0; i < c->npools; i++) {
		for (j = 0; j < i; j++) {
			if (strcmp(c->pools[i].name, c->pools[j].name) == 0) {
				xasprintf(cause, "%s:%d: pools: duplicate pool "
				    "name %s (first at line %d)",
				    c->pools[i].file, c->pools[i].line,
				    c->pools[i].name, c->pools[j].line);
				return -1;
			}
		}
	}
	return 0;
}

/* Make a cause one printable line: control bytes (a "\n" escape in a
 * quoted value, say) become '?'. */
static void
conf_cause_clean(char *cause)
{
	unsigned char *p;

	for (p = (unsigned char *)cause; p != NULL && *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
}

struct conf *
conf_load(const char *path, char **cause)
{
	static const char *top[] = { "redis", "listen", "log", "pools",
	    "checks", "gateway", "http", NULL };
	struct conf *c;
	config_setting_t *root, *s, *pools, *gws;
	char *dir;
	const char **t;
	int i, n;

	*cause = NULL;
	c = xcalloc(1, sizeof *c);
	c->path = xstrdup(path);
	config_init(&c->cfg);
	dir = xstrdup(path);
	config_set_include_dir(&c->cfg, dirname(dir));
	free(dir);
	if (config_read_file(&c->cfg, path) != CONFIG_TRUE) {
		if (config_error_type(&c->cfg) == CONFIG_ERR_FILE_IO)
			xasprintf(cause, "%s:0: file: cannot read: %s", path,
			    strerror(errno));
		else
			xasprintf(cause, "%s:%d: syntax: %s",
			    config_error_file(&c->cfg) ?
			    config_error_file(&c->cfg) : path,
			    config_error_line(&c->cfg),
			    config_error_text(&c->cfg));
		goto fail;
	}
	root = config_root_setting(&c->cfg);
	n = config_setting_length(root);
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(root, (unsigned)i);
		for (t = top; *t != NULL; t++) {
			if (strcmp(*t, config_setting_name(s)) == 0)
				break;
		}
		if (*t == NULL) {
			conf_error(c, s, cause, config_setting_name(s),
			    "unknown section (expected redis, listen, log, "
			    "pools, checks, gateway, http)");
			goto fail;
		}
	}
	if (conf_group(c, c, conf_redis_opts,
	    config_lookup(&c->cfg, "redis"), "redis", true, cause) != 0 ||
	    conf_group(c, c, conf_listen_opts,
	    config_lookup(&c->cfg, "listen"), "listen", true, cause) != 0 ||
	    conf_group(c, c, conf_log_opts, config_lookup(&c->cfg, "log"),
	    "log", true, cause) != 0)
		goto fail;
	if ((s = config_lookup(&c->cfg, "checks")) != NULL) {
		if (!config_setting_is_group(s)) {
			conf_error(c, s, cause, "checks", "expected a group");
			goto fail;
		}
		c->checks = s;
	}
	if ((pools = config_lookup(&c->cfg, "pools")) != NULL) {
		if (!config_setting_is_list(pools) &&
		    !config_setting_is_array(pools)) {
			conf_error(c, pools, cause, "pools", "expected a list "
			    "( { name = \"...\"; ... }, ... )");
			goto fail;
		}
		n = config_setting_length(pools);
		if (n > CONF_MAX_POOLS) {
			conf_error(c, pools, cause, "pools", "more than %d "
			    "pools", CONF_MAX_POOLS);
			goto fail;
		}
		c->pools = xcalloc((size_t)n, sizeof *c->pools);
		for (i = 0; i < n; i++) {
			c->npools = (size_t)i + 1;
			if (conf_pool(c, config_setting_get_elem(pools,
			    (unsigned)i), i, cause) != 0)
				goto fail;
		}
	}
	if ((gws = config_lookup(&c->cfg, "gateway")) != NULL) {
		if (!config_setting_is_list(gws)) {
			conf_error(c, gws, cause, "gateway", "expected a list "
			    "( { listen = \"127.0.0.1:3128\"; pool = \"...\"; "
			    "}, ... )");
			goto fail;
		}
		n = config_setting_length(gws);
		c->gateways = xcalloc((size_t)n + 1, sizeof *c->gateways);
		for (i = 0; i < n; i++) {
			c->ngateways = (size_t)i + 1;
			if (conf_gateway(c, config_setting_get_elem(gws,
			    (unsigned)i), i, cause) != 0)
				goto fail;
		}
	}
	if (conf_http(c, config_lookup(&c->cfg, "http"), cause) != 0)
		goto fail;
	if (conf_check(c, cause) != 0)
		goto fail;
	return c;

fail:
	conf_cause_clean(*cause);
	conf_destroy(c);
	return NULL;
}

/* Free the strings a table put into base. */
static void
conf_free_strings(void *base, const struct conf_opt *opts)
{
	const struct conf_opt *o;

	for (o = opts; o->name != NULL; o++) {
		if (o->type == CONF_STR) {
			free(*(char **)((char *)base + o->off));
			*(char **)((char *)base + o->off) = NULL;
		}
	}
}

void
conf_destroy(struct conf *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->npools; i++) {
		conf_free_strings(&c->pools[i], conf_pool_opts);
		for (j = 0; j < c->pools[i].nitems; j++)
			free((char *)c->pools[i].items[j].key);
		free(c->pools[i].items);
		free(c->pools[i].where);
		free(c->pools[i].proxies_file);
	}
	free(c->pools);
	for (i = 0; i < c->ngateways; i++) {
		conf_free_strings(&c->gateways[i], conf_gateway_opts);
		free(c->gateways[i].ban_statuses);
		free(c->gateways[i].proxy_statuses);
	}
	free(c->gateways);
	conf_free_strings(c, conf_redis_opts);
	conf_free_strings(c, conf_listen_opts);
	conf_free_strings(c, conf_log_opts);
	conf_free_strings(c, conf_http_opts);
	free(c->admin_uids);
	free(c->admin_gids);
	config_destroy(&c->cfg);
	free(c->path);
	free(c);
}

struct conf_pool *
conf_pool_find(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->npools; i++) {
		if (strcmp(c->pools[i].name, name) == 0)
			return &c->pools[i];
	}
	return NULL;
}

/* The configured pools for an error message, "web, api" (the first
 * CONF_POOL_LIST_MAX bytes or so, then "..."); allocated. */
#define CONF_POOL_LIST_MAX	300
char *
conf_pool_list(const struct conf *c)
{
	char *s, *t;
	size_t i;

	if (c->npools == 0)
		return xstrdup("none");
	s = xstrdup(c->pools[0].name);
	for (i = 1; i < c->npools; i++) {
		if (strlen(s) >= CONF_POOL_LIST_MAX) {
			xasprintf(&t, "%s, ... (%zu in all)", s, c->npools);
			free(s);
			return t;
		}
		xasprintf(&t, "%s, %s", s, c->pools[i].name);
		free(s);
		s = t;
	}
	return s;
}

/* Same string, NULL-aware. */
static bool
conf_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Keep the running value of NORELOAD strings in one table. */
static void
conf_keep_table(const struct conf *running, struct conf *next,
    const struct conf_opt *opts, const char *section, char **list)
{
	const struct conf_opt *o;
	char **np, *const *rp, *l;

	for (o = opts; o->name != NULL; o++) {
		if (!(o->flags & CONF_NORELOAD) || o->type != CONF_STR)
			continue;
		rp = (char *const *)((const char *)running + o->off);
		np = (char **)((char *)next + o->off);
		if (conf_same(*rp, *np))
			continue;
		xasprintf(&l, "%s%s%s.%s", *list ? *list : "",
		    *list ? ", " : "", section, o->name);
		free(*list);
		*list = l;
		free(*np);
		*np = *rp != NULL ? xstrdup(*rp) : NULL;
	}
}

char *
conf_keep_noreload(const struct conf *running, struct conf *next)
{
	char *list = NULL;

	conf_keep_table(running, next, conf_redis_opts, "redis", &list);
	conf_keep_table(running, next, conf_listen_opts, "listen", &list);
	next->mode = running->mode;
	return list;
}

unsigned long
conf_fds_needed(const struct conf *c, unsigned probes)
{
	unsigned long n = (unsigned long)c->max_clients + probes + 64;
	size_t i;

	for (i = 0; i < c->ngateways; i++)
		n += 2 * (unsigned long)c->gateways[i].max_clients;
	if (c->ngateways > 0)
		n += 256;	/* kept upstream connections (gateway.c) */
	return n;
}

bool
conf_is_admin(const struct conf *c, uid_t uid, gid_t gid)
{
	size_t i;

	if (uid == 0)
		return true;
	for (i = 0; i < c->n_admin_uids; i++) {
		if (c->admin_uids[i] == uid)
			return true;
	}
	for (i = 0; i < c->n_admin_gids; i++) {
		if (c->admin_gids[i] == gid)
			return true;
	}
	return false;
}

bool
conf_same_log(const struct conf *a, const struct conf *b)
{
	const char *fa = a->log_file != NULL ? a->log_file : "";
	const char *fb = b->log_file != NULL ? b->log_file : "";

	return strcmp(fa, fb) == 0 && a->log_syslog == b->log_syslog;
}
