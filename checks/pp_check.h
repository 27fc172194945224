/*
 * pp_check.h: the health-check plugin ABI of proxypoold.
 *
 * A plugin is a loadable module (dlopen) that exports one const descriptor
 * named pp_check_plugin:
 *
 *	const struct pp_check_type pp_check_plugin = {
 *		.abi = PP_CHECK_ABI,
 *		.name = "http",
 *		.settings = http_settings,
 *		.configure = http_configure,
 *		.prepare = http_prepare,
 *		.judge = http_judge,
 *		.free = http_free,
 *	};
 *
 * The daemon refuses a module whose abi differs from its own PP_CHECK_ABI
 * or that lacks the symbol, and keeps running.
 *
 * Life of a check:
 *  - configure() parses the plugin's own settings out of the pool's
 *    libconfig "check" group once per (re)load and returns an opaque
 *    configuration; the daemon parses the common settings (type, inter,
 *    fastinter, downinter, rise, fall, timeout, jitter) itself.
 *  - For every probe of one proxy, either
 *    (curl checks) prepare() sets the options of an easy handle with every
 *    option at its default (a new one, or one of an earlier probe after
 *    curl_easy_reset); the daemon runs it on its curl multi handle, then
 *    calls judge() exactly once with the finished handle, whatever
 *    happened; or
 *    (checks without curl, e.g. exec) spawn() starts a child process and
 *    gives the daemon a pipe to read until EOF and a pid to reap; the
 *    daemon watches both on its event loop, kills the process group on
 *    timeout, then calls reap() exactly once with the output and status.
 *  - free() releases the configuration after the last probe using it.
 *
 * Everything runs on the daemon's single thread: a plugin must never
 * block (no sleeping, no synchronous network calls, no waitpid without
 * WNOHANG).  Errors are returned as a malloc'd message in *cause that the
 * daemon frees; configuration errors read "file:line: setting: problem".
 */
#ifndef PP_CHECK_H
#define PP_CHECK_H

#include <stddef.h>
#include <sys/types.h>

#include <curl/curl.h>
#include <libconfig.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on every incompatible change of the structures below. */
#define PP_CHECK_ABI		1
/* The symbol the loader looks up. */
#define PP_CHECK_SYMBOL		"pp_check_plugin"
#define PP_REASON_LEN		128

/* What a probe concluded (Nagios order: exit status 0..3). */
enum pp_verdict {
	PP_UP = 0,		/* healthy */
	PP_WARN,		/* works, but something is off (slow...) */
	PP_DOWN,		/* does not work */
	PP_UNKNOWN		/* the check itself failed: no opinion */
};

/* The proxy being probed: every string is valid during the call only. */
struct pp_proxy {
	const char	*url;		/* full URL, credentials included */
	const char	*scheme;	/* http https socks4 socks4a socks5 socks5h */
	const char	*host;		/* host name or address, no brackets */
	int		 port;		/* port, scheme default applied */
	const char	*user;		/* user name, or NULL */
	const char	*password;	/* password, or NULL */
	const char	*pool;		/* name of the pool it belongs to */
};

/* What judge() and reap() fill in. */
struct pp_result {
	enum pp_verdict	 verdict;	/* UP, WARN, DOWN or UNKNOWN */
	double		 latency_ms;	/* how long it took; < 0 = unknown */
	char		 reason[PP_REASON_LEN]; /* short cause, "" when UP */
};

/* A child process started by spawn(). */
struct pp_child {
	pid_t		 pid;		/* leader of its own process group */
	int		 fd;		/* read end of its stdout, non-blocking */
};

/* Settings every check group may carry; a plugin must not reuse them. */
#define PP_CHECK_COMMON_SETTINGS \
	"type", "inter", "fastinter", "downinter", "rise", "fall", \
	"timeout", "jitter", "latency_step", "end_quarantine"

struct pp_check_type {
	unsigned	 abi;		/* PP_CHECK_ABI */
	const char	*name;		/* the "type" that selects it */
	const char *const *settings;	/* its own setting names, NULL-ended */

	/*
	 * Parse the plugin's settings in group (the pool's check group);
	 * returns the configuration (not NULL) or NULL with *cause.  Unknown
	 * names are refused by the daemon using settings[].
	 */
	void		*(*configure)(const config_setting_t *group,
			    char **cause);

	/*
	 * Curl checks: set the options of easy handle h to probe px.  The
	 * daemon has already set CURLOPT_PRIVATE, CURLOPT_NOSIGNAL, the
	 * timeouts, no connection reuse and no TLS session cache; the plugin
	 * must not change those.  h may be reused for later probes after
	 * curl_easy_reset, so what the plugin points it to must outlive the
	 * transfer (per-probe state, or the configuration).  *probe may
	 * receive per-probe state (e.g. a body buffer), handed back to
	 * judge().  Returns 0, or -1 with *cause (then judge
	 * is not called and *probe must be left NULL).
	 */
	int		 (*prepare)(void *conf, const struct pp_proxy *px,
			    CURL *h, void **probe, char **cause);

	/*
	 * Map the finished transfer (rc is its result code; CURLE_OPERATION_
	 * TIMEDOUT after the check's timeout) to a verdict and free *probe
	 * state.  latency_ms is preset from CURLINFO_TOTAL_TIME.
	 */
	void		 (*judge)(void *conf, const struct pp_proxy *px,
			    CURL *h, CURLcode rc, void *probe,
			    struct pp_result *res);

	/*
	 * Checks without curl: start a child for px (own process group,
	 * stdout to a non-blocking pipe, no inherited descriptors beyond
	 * 0-2).  Returns 0 with *child filled, or -1 with *cause.  A plugin
	 * has either prepare/judge or spawn/reap.
	 */
	int		 (*spawn)(void *conf, const struct pp_proxy *px,
			    struct pp_child *child, char **cause);

	/*
	 * The child finished: out is its output (NUL-terminated, at most a
	 * few KiB), status its wait status, or -1 if it was killed after the
	 * timeout; elapsed_ms its run time (preset in res->latency_ms).
	 */
	void		 (*reap)(void *conf, const struct pp_proxy *px,
			    const char *out, size_t outlen, int status,
			    struct pp_result *res);

	/* Free what configure() returned. */
	void		 (*free)(void *conf);
};

/* The one symbol a plugin exports. */
extern const struct pp_check_type pp_check_plugin;

#ifdef __cplusplus
}
#endif

#endif /* PP_CHECK_H */
