/*
 * exec.c: the "exec" check: run an external program (Nagios plugin
 * conventions) with the proxy in its environment.
 *
 *	check = { type = "exec"; command = ["/usr/local/bin/probe", "-v"];
 *	    timeout = 5.0; };
 *
 * Environment: PROXY_URL, PROXY_SCHEME, PROXY_HOST, PROXY_PORT, PROXY_USER,
 * PROXY_PASSWORD (when set), PROXY_POOL, and http_proxy, https_proxy,
 * ALL_PROXY set to the proxy URL so curl or wget in a script use it.
 * Exit status 0 OK (UP), 1 WARNING, 2 CRITICAL (DOWN), 3 UNKNOWN; the
 * first output line up to '|' is the reason, and perfdata "time=<n>[s|ms|us]"
 * the latency.  A program still running at the check's timeout is killed
 * with its whole process group and counts as DOWN.
 *
 * The daemon does not run exec checks on curl: spawn() starts the program
 * (posix_spawn, own process group, stdout and stderr to a pipe) and the
 * daemon's loop reads the pipe and reaps the child, then calls reap().
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "pp_util.h"

extern char **environ;

#define EXEC_ARGS_MAX	32

/* Configuration of one pool's exec check. */
struct exec_conf {
	char		*argv[EXEC_ARGS_MAX + 1]; /* owned, NULL-ended */
};

static const char *const exec_settings[] = { "command", NULL };

static void
exec_free(void *arg)
{
	struct exec_conf *c = arg;
	int i;

	if (c == NULL)
		return;
	for (i = 0; c->argv[i] != NULL; i++)
		free(c->argv[i]);
	free(c);
}

static void *
exec_configure(const config_setting_t *g, char **cause)
{
	struct exec_conf *c;
	config_setting_t *s, *e;
	const char *v;
	int i, n;

	if ((c = calloc(1, sizeof *c)) == NULL) {
		pp_conf_error(cause, g, "check", "out of memory");
		return NULL;
	}
	if ((s = config_setting_get_member(g, "command")) == NULL) {
		pp_conf_error(cause, g, "command",
		    "the exec check needs a command");
		goto fail;
	}
	n = config_setting_type(s) == CONFIG_TYPE_STRING ? 1 :
	    config_setting_is_aggregate(s) ? config_setting_length(s) : 0;
	if (n < 1 || n > EXEC_ARGS_MAX) {
		pp_conf_error(cause, s, "command", "expected a program path or "
		    "a list of 1 to %d strings", EXEC_ARGS_MAX);
		goto fail;
	}
	for (i = 0; i < n; i++) {
		e = n == 1 && config_setting_type(s) == CONFIG_TYPE_STRING ?
		    s : config_setting_get_elem(s, (unsigned)i);
		if ((v = config_setting_get_string(e)) == NULL || *v == '\0') {
			pp_conf_error(cause, s, "command",
			    "element %d is not a non-empty string", i + 1);
			goto fail;
		}
		if ((c->argv[i] = strdup(v)) == NULL) {
			pp_conf_error(cause, s, "command", "out of memory");
			goto fail;
		}
	}
	if (c->argv[0][0] != '/') {
		pp_conf_error(cause, s, "command",
		    "\"%s\": the program needs an absolute path", c->argv[0]);
		goto fail;
	}
	if (access(c->argv[0], X_OK) != 0) {
		pp_conf_error(cause, s, "command", "%s: %s", c->argv[0],
		    strerror(errno));
		goto fail;
	}
	return c;

fail:
	exec_free(c);
	return NULL;
}

/* Does environment entry e set one of the variables the check sets? */
static int
exec_env_ours(const char *e)
{
	return strncmp(e, "PROXY_", 6) == 0 ||
	    strncmp(e, "http_proxy=", 11) == 0 ||
	    strncmp(e, "https_proxy=", 12) == 0 ||
	    strncmp(e, "HTTP_PROXY=", 11) == 0 ||
	    strncmp(e, "HTTPS_PROXY=", 12) == 0 ||
	    strncmp(e, "ALL_PROXY=", 10) == 0 ||
	    strncmp(e, "all_proxy=", 10) == 0 ||
	    strncmp(e, "NO_PROXY=", 9) == 0 ||
	    strncmp(e, "no_proxy=", 9) == 0;
}

/* Build the child's environment: ours minus proxy variables, plus px.
 * Returns a malloc'd NULL-ended array (strings malloc'd) or NULL. */
static char **
exec_env(const struct pp_proxy *px)
{
	char **env, **ep;
	size_t n = 0, i = 0;
	int ok = 1;

	for (ep = environ; *ep != NULL; ep++)
		n++;
	if ((env = calloc(n + 12, sizeof *env)) == NULL)
		return NULL;
	for (ep = environ; *ep != NULL; ep++)
		if (!exec_env_ours(*ep) && (env[i++] = strdup(*ep)) == NULL)
			ok = 0;
#define EXEC_SETENV(fmt, ...) \
	do { \
		if (asprintf(&env[i], fmt, __VA_ARGS__) == -1) { \
			env[i] = NULL; \
			ok = 0; \
		} else \
			i++; \
	} while (0)
	EXEC_SETENV("PROXY_URL=%s", px->url);
	EXEC_SETENV("PROXY_SCHEME=%s", px->scheme);
	EXEC_SETENV("PROXY_HOST=%s", px->host);
	EXEC_SETENV("PROXY_PORT=%d", px->port);
	EXEC_SETENV("PROXY_POOL=%s", px->pool);
	EXEC_SETENV("http_proxy=%s", px->url);
	EXEC_SETENV("https_proxy=%s", px->url);
	EXEC_SETENV("ALL_PROXY=%s", px->url);
	if (px->user != NULL)
		EXEC_SETENV("PROXY_USER=%s", px->user);
	if (px->password != NULL)
		EXEC_SETENV("PROXY_PASSWORD=%s", px->password);
#undef EXEC_SETENV
	env[i] = NULL;
	if (!ok) {
		for (ep = env; *ep != NULL; ep++)
			free(*ep);
		free(env);
		return NULL;
	}
	return env;
}

static int
exec_spawn(void *arg, const struct pp_proxy *px, struct pp_child *child,
    char **cause)
{
	struct exec_conf *c = arg;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	char **env, **ep;
	int fds[2], rc = -1, e;
	pid_t pid;

	if ((env = exec_env(px)) == NULL) {
		*cause = strdup("out of memory");
		return -1;
	}
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
		if (asprintf(cause, "pipe: %s", strerror(errno)) == -1)
			*cause = NULL;
		goto fail_env;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
	/* the daemon's sockets are no business of the program */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGCHLD);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	e = posix_spawn(&pid, c->argv[0], &fa, &at, c->argv, env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (e != 0) {
		close(fds[0]);
		if (asprintf(cause, "%s: %s", c->argv[0], strerror(e)) == -1)
			*cause = NULL;
		goto fail_env;
	}
	child->pid = pid;
	child->fd = fds[0];
	rc = 0;

fail_env:
	for (ep = env; *ep != NULL; ep++)
		free(*ep);
	free(env);
	return rc;
}

/* Find "time=<number>[unit]" in perfdata; returns ms or -1. */
static double
exec_perf_time(const char *perf)
{
	const char *p = perf;
	char *end;
	double v;

	while ((p = strstr(p, "time=")) != NULL) {
		if (p != perf && p[-1] != ' ' && p[-1] != '|' &&
		    p[-1] != '\'') {
			p += 5;
			continue;
		}
		v = strtod(p + 5, &end);
		if (end == p + 5 || !(v >= 0))
			return -1;
		if (strncmp(end, "ms", 2) == 0)
			return v;
		if (strncmp(end, "us", 2) == 0)
			return v / 1000.0;
		return v * 1000.0;	/* "s" or no unit: seconds (Nagios) */
	}
	return -1;
}

static void
exec_reap(void *arg, const struct pp_proxy *px, const char *out,
    size_t outlen, int status, struct pp_result *res)
{
	static const enum pp_verdict codes[] = {
		PP_UP, PP_WARN, PP_DOWN, PP_UNKNOWN
	};
	char line[PP_REASON_LEN];
	const char *bar;
	size_t n;
	double ms;

	/* first line: "TEXT | perfdata" */
	n = strcspn(out, "\n");
	if (n >= sizeof line)
		n = sizeof line - 1;
	memcpy(line, out, n);
	line[n] = '\0';
	if ((bar = strchr(out, '|')) != NULL && (size_t)(bar - out) < n) {
		if ((ms = exec_perf_time(bar + 1)) >= 0)
			res->latency_ms = ms;
		line[bar - out] = '\0';
	}
	n = strlen(line);
	while (n > 0 && line[n - 1] == ' ')
		line[--n] = '\0';

	if (status == -1) {
		pp_verdict(res, PP_DOWN, "timeout: program killed");
		return;
	}
	if (WIFSIGNALED(status)) {
		pp_verdict(res, PP_UNKNOWN, "program killed by signal %d",
		    WTERMSIG(status));
		return;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) > 3) {
		pp_verdict(res, PP_UNKNOWN, "exit status %d%s%s",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		    *line ? ": " : "", line);
		return;
	}
	res->verdict = codes[WEXITSTATUS(status)];
	if (res->verdict == PP_UP)
		res->reason[0] = '\0';
	else
		snprintf(res->reason, sizeof res->reason, "%s",
		    *line ? line : "no output");
}

const struct pp_check_type pp_check_plugin = {
	.abi = PP_CHECK_ABI,
	.name = "exec",
	.settings = exec_settings,
	.configure = exec_configure,
	.spawn = exec_spawn,
	.reap = exec_reap,
	.free = exec_free,
};
