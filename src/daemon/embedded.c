/*
 * embedded.c: supervise a private redis-server.  It listens only on a
 * UNIX socket (mode 0700) in the state directory, with AOF persistence
 * and noeviction; SIGCHLD (through libevent) notices its death and a
 * timer restarts it with backoff; the daemon's Redis connection simply
 * reconnects.  PR_SET_PDEATHSIG takes it down if proxypoold dies hard.
 * An exclusive flock on state_dir/proxypoold.lock, inherited by the
 * redis-server, keeps a second daemon out of the directory until both
 * are gone; a socket found missing on a reconnect (removed by hand or by
 * another redis-server) gets the redis-server restarted.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "embedded.h"
#include "log.h"
#include "xmalloc.h"

#define EMBEDDED_BACKOFF_MIN	1	/* s */
#define EMBEDDED_BACKOFF_MAX	30
#define EMBEDDED_START_WAIT	5	/* s to wait for its socket at start */
#define EMBEDDED_LOCK_WAIT	10	/* s to wait for a dead daemon's
					 * redis-server to let go of the lock */

struct embedded {
	struct event_base	*base;		/* (ref) */
	char			*server;	/* owned binary path */
	char			*dir;		/* owned state directory */
	char			*sock;		/* owned socket path */
	char			*url;		/* owned unix:// URL */
	char			*lock;		/* owned lock file path */
	int			 lock_fd;	/* flock'ed, -1 = none */
	bool			 replacing;	/* killed to restart at once */
	pid_t			 pid;		/* running child, 0 = none */
	time_t			 started;	/* when it was started */
	int			 backoff;	/* next restart delay, s */
	unsigned		 restarts;	/* times restarted */
	struct event		*sigchld;	/* owned SIGCHLD event */
	struct event		*restart_ev;	/* owned restart timer */
};

/* mkdir -p with mode 0700 for the parts we create. */
static int
embedded_mkdirs(const char *path, char **cause)
{
	char *p, *s;

	s = xstrdup(path);
	for (p = s + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(s, 0700) != 0 && errno != EEXIST) {
				xasprintf(cause, "%s: mkdir: %s", s,
				    strerror(errno));
				free(s);
				return -1;
			}
			*p = c;
			if (c == '\0')
				break;
		}
	}
	free(s);
	return 0;
}

/* The pid written in the lock file by the daemon holding it, 0 if none. */
static long
embedded_lock_owner(int fd)
{
	char buf[32];
	ssize_t n;

	if ((n = pread(fd, buf, sizeof buf - 1, 0)) <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/*
 * Take the state directory: an exclusive flock on its lock file, which
 * holds our pid.  The descriptor is inherited by the redis-server, so a
 * daemon killed hard keeps the directory until its redis-server, which
 * shuts down on PR_SET_PDEATHSIG, is gone too; then we wait for that
 * (EMBEDDED_LOCK_WAIT at most).  A living daemon holding it is an error
 * naming its pid.  -1 with cause.
 */
static int
embedded_lock(struct embedded *e, char **cause)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	char buf[32];
	long owner;
	int i, len;

	e->lock_fd = open(e->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (e->lock_fd < 0) {
		xasprintf(cause, "redis.state_dir: %s: %s", e->lock,
		    strerror(errno));
		return -1;
	}
	for (i = 0; flock(e->lock_fd, LOCK_EX | LOCK_NB) != 0; i++) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			xasprintf(cause, "redis.state_dir: %s: flock: %s",
			    e->lock, strerror(errno));
			return -1;
		}
		owner = embedded_lock_owner(e->lock_fd);
		if (owner > 0 && kill((pid_t)owner, 0) == 0) {
			xasprintf(cause, "redis.state_dir: %s is in use by "
			    "proxypoold (pid %ld); stop it first or give this "
			    "one another state_dir", e->dir, owner);
			return -1;
		}
		if (i == EMBEDDED_LOCK_WAIT * 100) {
			xasprintf(cause, "redis.state_dir: %s is still locked "
			    "%d s after proxypoold (pid %ld) exited: its "
			    "redis-server has not stopped", e->dir,
			    EMBEDDED_LOCK_WAIT, owner);
			return -1;
		}
		if (i == 0)
			log_info("waiting for the redis-server of proxypoold "
			    "(pid %ld, gone) to leave %s", owner, e->dir);
		nanosleep(&tick, NULL);
	}
	len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(e->lock_fd, 0) != 0 ||
	    pwrite(e->lock_fd, buf, (size_t)len, 0) != len) {
		xasprintf(cause, "redis.state_dir: %s: %s", e->lock,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* fork and exec redis-server; -1 with cause. */
static int
embedded_spawn(struct embedded *e, char **cause)
{
	char *logf, *argv[32];
	pid_t pid;
	int n = 0, fd;

	xasprintf(&logf, "%s/redis.log", e->dir);
	argv[n++] = e->server;
	argv[n++] = (char *)"--port";
	argv[n++] = (char *)"0";
	argv[n++] = (char *)"--unixsocket";
	argv[n++] = e->sock;
	argv[n++] = (char *)"--unixsocketperm";
	argv[n++] = (char *)"700";
	argv[n++] = (char *)"--dir";
	argv[n++] = e->dir;
	argv[n++] = (char *)"--appendonly";
	argv[n++] = (char *)"yes";
	argv[n++] = (char *)"--save";
	argv[n++] = (char *)"";
	argv[n++] = (char *)"--maxmemory-policy";
	argv[n++] = (char *)"noeviction";
	argv[n++] = (char *)"--daemonize";
	argv[n++] = (char *)"no";
	argv[n++] = (char *)"--logfile";
	argv[n++] = logf;
	argv[n] = NULL;

	if ((pid = fork()) < 0) {
		xasprintf(cause, "fork: %s", strerror(errno));
		free(logf);
		return -1;
	}
	if (pid == 0) {
		/* child: die with the daemon, quiet stdio, own signals */
		sigset_t all;

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_IGN);	/* ^C goes to proxypoold */
		/* it holds the state directory as long as it runs */
		fcntl(e->lock_fd, F_SETFD, 0);
		if ((fd = open("/dev/null", O_RDWR)) >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			if (fd > 2)
				close(fd);
		}
		execv(e->server, argv);
		dprintf(2, "proxypoold: cannot run %s: %s\n", e->server,
		    strerror(errno));
		_exit(127);
	}
	free(logf);
	e->pid = pid;
	e->started = time(NULL);
	log_info("embedded redis-server started (pid %ld, socket %s)",
	    (long)pid, e->sock);
	return 0;
}

static void
embedded_restart_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct embedded *e = arg;
	char *cause;

	if (e->pid != 0)
		return;
	e->restarts++;
	if (embedded_spawn(e, &cause) != 0) {
		log_error("embedded redis-server: %s", cause);
		free(cause);
		/* try again later */
		struct timeval tv = { e->backoff, 0 };
		evtimer_add(e->restart_ev, &tv);
	}
}

static void
embedded_sigchld_cb(evutil_socket_t sig, short ev, void *arg)
{
	struct embedded *e = arg;
	struct timeval tv;
	pid_t pid;
	int status;

	/* only our child: the health checks reap theirs */
	while (e->pid > 0 && (pid = waitpid(e->pid, &status, WNOHANG)) > 0) {
		e->pid = 0;
		if (WIFSIGNALED(status))
			log_error("embedded redis-server killed by signal %d",
			    WTERMSIG(status));
		else
			log_error("embedded redis-server exited with %d",
			    WEXITSTATUS(status));
		if (e->replacing) {
			/* we stopped it for a socket of its own: no backoff */
			e->replacing = false;
			timerclear(&tv);
			log_info("restarting embedded redis-server");
			evtimer_add(e->restart_ev, &tv);
			continue;
		}
		/* it ran a while: it was healthy, restart quickly */
		if (time(NULL) - e->started > 60)
			e->backoff = EMBEDDED_BACKOFF_MIN;
		tv.tv_sec = e->backoff;
		tv.tv_usec = 0;
		log_info("restarting embedded redis-server in %d s",
		    e->backoff);
		evtimer_add(e->restart_ev, &tv);
		e->backoff *= 2;
		if (e->backoff > EMBEDDED_BACKOFF_MAX)
			e->backoff = EMBEDDED_BACKOFF_MAX;
	}
}

/*
 * Before the event loop runs: wait until the new redis-server has bound
 * its socket, so the first connect finds it.  Returns -1 with cause when
 * it exits at once (bad binary, unusable state dir); a slow start only
 * gets a warning, since the connection retries anyway.
 */
static int
embedded_wait(struct embedded *e, char **cause)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	struct stat sb;
	int i, status;

	for (i = 0; i < EMBEDDED_START_WAIT * 100; i++) {
		if (stat(e->sock, &sb) == 0 && S_ISSOCK(sb.st_mode))
			return 0;
		if (waitpid(e->pid, &status, WNOHANG) == e->pid) {
			e->pid = 0;
			xasprintf(cause, "embedded redis-server %s exited at "
			    "start (status %d); see %s/redis.log", e->server,
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			    e->dir);
			return -1;
		}
		nanosleep(&tick, NULL);
	}
	log_warn("embedded redis-server has not opened %s after %d s; "
	    "connecting as soon as it does", e->sock, EMBEDDED_START_WAIT);
	return 0;
}

struct embedded *
embedded_start(struct event_base *base, const char *server,
    const char *state_dir, char **cause)
{
	struct embedded *e;

	if (access(server, X_OK) != 0) {
		xasprintf(cause, "redis.server: %s: %s", server,
		    strerror(errno));
		return NULL;
	}
	e = xcalloc(1, sizeof *e);
	e->base = base;
	e->server = xstrdup(server);
	e->dir = xstrdup(state_dir);
	xasprintf(&e->sock, "%s/redis.sock", state_dir);
	xasprintf(&e->url, "unix://%s", e->sock);
	xasprintf(&e->lock, "%s/proxypoold.lock", state_dir);
	e->lock_fd = -1;
	e->backoff = EMBEDDED_BACKOFF_MIN;
	if (strlen(e->sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		xasprintf(cause, "redis.state_dir: %s: too long for a socket "
		    "path", state_dir);
		goto fail;
	}
	if (embedded_mkdirs(state_dir, cause) != 0)
		goto fail;
	if (embedded_lock(e, cause) != 0)
		goto fail;
	e->sigchld = evsignal_new(base, SIGCHLD, embedded_sigchld_cb, e);
	evsignal_add(e->sigchld, NULL);
	e->restart_ev = evtimer_new(base, embedded_restart_cb, e);
	unlink(e->sock);		/* a stale socket would look ready */
	if (embedded_spawn(e, cause) != 0)
		goto fail;
	if (embedded_wait(e, cause) != 0)
		goto fail;
	return e;

fail:
	embedded_destroy(e);
	return NULL;
}

void
embedded_destroy(struct embedded *e)
{
	int i, status;

	if (e == NULL)
		return;
	if (e->pid > 0) {
		kill(e->pid, SIGTERM);
		/* AOF is fsynced every second; give it time to finish */
		for (i = 0; i < 100; i++) {
			if (waitpid(e->pid, &status, WNOHANG) == e->pid)
				break;
			usleep(50000);
		}
		if (i == 100) {
			log_warn("embedded redis-server did not stop, killing");
			kill(e->pid, SIGKILL);
			waitpid(e->pid, &status, 0);
		}
		log_info("embedded redis-server stopped");
	}
	if (e->sigchld != NULL)
		event_free(e->sigchld);
	if (e->restart_ev != NULL)
		event_free(e->restart_ev);
	if (e->lock_fd >= 0)
		close(e->lock_fd);	/* the directory is free now */
	free(e->lock);
	free(e->server);
	free(e->dir);
	free(e->sock);
	free(e->url);
	free(e);
}

void
embedded_check(struct embedded *e)
{
	struct stat sb;

	if (e == NULL || e->pid == 0 || e->replacing)
		return;
	if (stat(e->sock, &sb) == 0 || errno != ENOENT)
		return;
	/* a redis-server just started may not have bound it yet */
	if (time(NULL) - e->started < EMBEDDED_START_WAIT)
		return;
	log_warn("embedded redis-server (pid %ld): %s is gone; restarting it",
	    (long)e->pid, e->sock);
	e->replacing = true;
	kill(e->pid, SIGTERM);
}

const char *
embedded_url(const struct embedded *e)
{
	return e->url;
}

pid_t
embedded_pid(const struct embedded *e)
{
	return e != NULL ? e->pid : 0;
}

unsigned
embedded_restarts(const struct embedded *e)
{
	return e != NULL ? e->restarts : 0;
}
