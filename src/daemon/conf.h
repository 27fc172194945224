/*
 * conf.h: proxypoold's configuration (libconfig), loaded and validated
 * whole before anything uses it.
 */
#ifndef CONF_H
#define CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <libconfig.h>

#include "redis_allocator.h"

/* Where a proxy was read (for the duplicate check's message). */
struct conf_where {
	const char		*file;		/* (ref) config or proxies file */
	int			 line;
	bool			 from_file;	/* proxies_file, else proxies */
};

/* One pool as configured. */
struct conf_pool {
	char			*name;		/* owned pool name */
	struct ra_pool_conf	 ra;		/* settings stored in Redis */
	struct ra_item		*items;		/* owned; keys owned too */
	size_t			 nitems;
	size_t			 itemcap;	/* slots allocated */
	struct conf_where	*where;		/* owned while parsing: where
						   each item was read */
	char			*proxies_file;	/* owned resolved path, or NULL */
	double			 evict_after;	/* s down before eviction, 0 off */
	int			 priority;	/* class of proxies giving none */
	config_setting_t	*check;		/* (ref into cfg) check group */
	const char		*file;		/* (ref into cfg) where defined */
	int			 line;
};

/* One gateway listener as configured (gateway.c serves it). */
struct conf_gateway {
	char			*listen;	/* "127.0.0.1:3128", "[::1]:3128" */
	char			*pool;		/* the default pool */
	char			*password;	/* or NULL: loopback peers only */
	int			 retries;	/* other proxies after a failure */
	int			 rotate_on_error; /* sessions move on a failure */
	double			 wait;		/* s for a free proxy */
	double			 lease_ttl;	/* s, 0: the pool's */
	double			 session_ttl;	/* s, 0: the pool's bind_ttl */
	double			 connect_timeout; /* s to the upstream */
	double			 timeout;	/* s to the response head */
	double			 idle_timeout;	/* s between requests, 0 never */
	int			 max_clients;	/* connections at once */
	int			 buffer;	/* bytes buffered per direction */
	int			 retry_body;	/* bodies up to this are kept so
						 * the request can be retried */
	int			 proxy_header;	/* add X-Proxypool-Proxy */
	int			*ban_statuses;	/* owned: BANNED outcomes */
	size_t			 nban_statuses;
	int			*proxy_statuses; /* owned: the proxy failed */
	size_t			 nproxy_statuses;
	char			*ban_body;	/* regex: BANNED, or NULL */
	char			*proxy_cacert;	/* CA file for https proxies */
	int			 proxy_insecure; /* no check of their cert */
	const char		*file;		/* (ref into cfg) */
	int			 line;
};

/* The whole configuration; the libconfig tree stays alive with it so
 * plugins can read their own groups. */
struct conf {
	config_t		 cfg;		/* owned libconfig tree */
	char			*path;		/* owned: the file loaded */

	char			*redis_url;	/* "embedded", unix://, redis:// */
	char			*redis_password; /* AUTH password, or NULL */
	double			 redis_timeout;	/* per request deadline, s */
	char			*redis_prefix;	/* key prefix */
	char			*state_dir;	/* embedded Redis' home */
	char			*redis_server;	/* redis-server binary */

	char			*socket;	/* listening socket path */
	char			*mode_str;	/* "0660" as written */
	mode_t			 mode;		/* parsed mode */
	char			*owner;		/* socket owner, or NULL */
	char			*group;		/* socket group, or NULL */
	uid_t			*admin_uids;	/* owned; peers allowed admin */
	size_t			 n_admin_uids;
	gid_t			*admin_gids;	/* owned */
	size_t			 n_admin_gids;
	int			 max_clients;	/* concurrent connections */
	int			 max_request;	/* bytes in one request */
	double			 idle_timeout;	/* s, 0 = never */
	double			 wait_retry;	/* s between waiter retries */

	char			*log_level_str;	/* as written */
	int			 log_level;	/* enum log_level */
	char			*log_file;	/* NULL or "" = stderr */
	int			 log_syslog;	/* log to syslog */

	config_setting_t	*checks;	/* (ref into cfg) or NULL */
	struct conf_pool	*pools;		/* owned array */
	size_t			 npools;
	struct conf_gateway	*gateways;	/* owned array */
	size_t			 ngateways;

	bool			 http_on;	/* the http group is set */
	char			*http_listen;	/* "127.0.0.1:9187" */
	char			*http_password;	/* basic auth, or NULL */
	double			 http_refresh;	/* s between page refreshes */
	const char		*http_file;	/* (ref into cfg) where set */
	int			 http_line;
};

/*
 * The schema tables that drive parsing: one per group, each entry a
 * setting's name, type, place in the target struct, default, bounds and
 * reload rule.  conf.c parses its own groups with them; conf_table_* let
 * the groups read elsewhere (the checks of prober.c) use the same ones.
 */
enum conf_type {
	CONF_STR,		/* string, copied */
	CONF_INT,		/* int within bounds */
	CONF_UINT,		/* unsigned within bounds */
	CONF_DOUBLE,		/* int or float within bounds */
	CONF_BOOL,		/* true or false, into an int */
	CONF_UIDS,		/* list of uids or user names */
	CONF_GIDS,		/* list of gids or group names */
	CONF_GROUP		/* handled elsewhere (a sub-group, or a
				 * setting the table's user reads) */
};

#define CONF_NORELOAD	0x1	/* a change needs a restart */
#define CONF_NULLABLE	0x2	/* string default is NULL */
#define CONF_FROMTO	0x4	/* out of range reads "must be from A to
				 * B", as the check plugins say it */

/* One setting of a group. */
struct conf_opt {
	const char	*name;		/* setting name in its group */
	enum conf_type	 type;
	size_t		 off;		/* offset in the target struct */
	const char	*def;		/* default as text, NULL = none */
	double		 min;		/* bounds for numbers */
	double		 max;
	int		 flags;		/* CONF_NORELOAD, CONF_NULLABLE... */
};

/*
 * A group read elsewhere, in two steps so its reader may check settings
 * of its own in between.  conf_table_names: every setting of group g
 * must be in opts or in others (NULL-ended: a plugin's own names), else
 * "file:line: name: unknown".  conf_table_apply: each setting of opts
 * (no uid or gid lists) that g has is checked and stored into base,
 * which holds the defaults already, in table order.  Settings are named
 * bare in messages, as the check plugins name theirs.  Both return 0, or
 * -1 with *cause "file:line: setting: problem".
 */
int	conf_table_names(const struct conf *c, const struct conf_opt *opts,
	    const config_setting_t *g, const char *const *others,
	    const char *unknown, char **cause);
int	conf_table_apply(const struct conf *c, void *base,
	    const struct conf_opt *opts, const config_setting_t *g,
	    char **cause);

/* Load and validate path; NULL with *cause "file:line: setting: what". */
struct conf *conf_load(const char *path, char **cause);
void	conf_destroy(struct conf *c);

/* File descriptors c needs with probes in flight: the socket's
 * clients, the probes, the gateway's client and upstream connections
 * and its kept upstreams, and some for Redis, logs and listeners. */
unsigned long conf_fds_needed(const struct conf *c, unsigned probes);

/* May a peer with these credentials run admin commands?  root always. */
bool	conf_is_admin(const struct conf *c, uid_t uid, gid_t gid);
/* Do both configs log to the same place? */
bool	conf_same_log(const struct conf *a, const struct conf *b);

/* Find a pool by name, NULL if not configured. */
struct conf_pool *conf_pool_find(const struct conf *c, const char *name);
/* The configured pool names, "web, api" ("none" when none); allocated. */
char	*conf_pool_list(const struct conf *c);

/*
 * Compare settings that only a restart changes; returns an allocated
 * list "listen.socket, redis.url" of those that differ, or NULL, and
 * copies the running values into next so it keeps using them.
 */
char	*conf_keep_noreload(const struct conf *running, struct conf *next);

#endif /* CONF_H */
