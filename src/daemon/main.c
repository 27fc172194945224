/*
 * main.c: proxypoold, the proxy-pool lease daemon: command line, config
 * check (-t), daemonizing with a pidfile (-d), then the event loop.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <curl/curl.h>

#include "compat.h"
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "prober.h"
#include "xmalloc.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

#ifndef SOCKET_PATH
#define SOCKET_PATH RUNSTATEDIR "/proxypoold/proxypoold.sock"
#endif

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: proxypoold [-tdhV] [-c config] [-p pidfile]\n"
	    "  -c config   configuration file (default %s/proxypoold.conf)\n"
	    "  -t          check the configuration and exit (0 ok, 1 bad)\n"
	    "  -d          run in the background, write a pidfile\n"
	    "  -p pidfile  pidfile for -d (default %s/proxypoold.pid)\n"
	    "  -V          print the version, the default socket and config\n"
	    "default listen.socket: %s\n",
	    SYSCONFDIR, RUNSTATEDIR, SOCKET_PATH);
	exit(status);
}

/* Allow enough descriptors for max_clients plus our own. */
static void
raise_nofile(int max_clients)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_clients + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
		log_warn("only %lu file descriptors for %d clients",
		    (unsigned long)rl.rlim_cur, max_clients);
}

/*
 * Go to the background.  The parent waits on a pipe until the child
 * says it is ready (or why it is not), so errors still reach the
 * terminal and the exit status.  Returns the pipe's write end.
 */
static int
daemonize(void)
{
	int fds[2], status;
	char buf[1024];
	ssize_t n;
	pid_t pid;

	if (pipe(fds) != 0) {
		fprintf(stderr, "proxypoold: pipe: %s\n", strerror(errno));
		exit(1);
	}
	if ((pid = fork()) < 0) {
		fprintf(stderr, "proxypoold: fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		close(fds[1]);
		n = read(fds[0], buf, sizeof buf - 1);
		if (n > 0) {
			buf[n] = '\0';
			if (strcmp(buf, "ok") == 0)
				exit(0);
			fprintf(stderr, "proxypoold: %s\n", buf);
		}
		waitpid(pid, &status, WNOHANG);
		exit(1);
	}
	close(fds[0]);
	setsid();
	if ((pid = fork()) < 0)
		_exit(1);
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0)
		_exit(1);
	return fds[1];
}

/* Write our pid; -1 with cause. */
static int
write_pidfile(const char *path, char **cause)
{
	char buf[32];
	int fd, n;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) < 0) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* A seed for random(): from the kernel, else the clock and the pid. */
static unsigned
random_seed(void)
{
	struct timespec ts;
	unsigned seed;
	int fd;

	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) != -1) {
		ssize_t n = read(fd, &seed, sizeof seed);

		close(fd);
		if (n == (ssize_t)sizeof seed)
			return seed;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned)ts.tv_nsec ^ (unsigned)ts.tv_sec ^
	    ((unsigned)getpid() << 16);
}

int
main(int argc, char **argv)
{
	const char *path = SYSCONFDIR "/proxypoold.conf";
	const char *pidfile = RUNSTATEDIR "/proxypoold.pid";
	struct daemon d;
	struct conf *conf;
	char *cause = NULL;
	int ch, test = 0, background = 0, notify = -1, devnull;
	size_t i, n;

	while ((ch = getopt(argc, argv, "c:dhp:tV")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			background = 1;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'V':
			printf("proxypoold %s\nsocket %s\nconfig %s\n",
			    PACKAGE_VERSION, SOCKET_PATH, SYSCONFDIR
			    "/proxypoold.conf");
			return 0;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((conf = conf_load(path, &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		return 1;
	}
	if (test) {
		if (prober_validate(conf, &cause) != 0) {
			fprintf(stderr, "%s\n", cause);
			free(cause);
			conf_destroy(conf);
			return 1;
		}
		for (i = 0, n = 0; i < conf->npools; i++)
			n += conf->pools[i].nitems;
		printf("%s: configuration OK (%zu pools, %zu proxies)\n",
		    path, conf->npools, n);
		conf_destroy(conf);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	/* random() spreads probe ticks and jitter (here and in the
	 * library): every instance on a Redis must draw its own */
	srandom(random_seed());
	if (background)
		notify = daemonize();
	/* in the background with no log file, standard error goes nowhere:
	 * log to syslog */
	if (log_open(conf->log_file, conf->log_syslog || (background &&
	    (conf->log_file == NULL || *conf->log_file == '\0')),
	    conf->log_level, &cause) != 0)
		goto fail;
	raise_nofile(conf->max_clients);
	if (background && write_pidfile(pidfile, &cause) != 0)
		goto fail;

	memset(&d, 0, sizeof d);
	if (daemon_start(&d, conf, path, &cause) != 0) {
		conf = NULL;	/* the daemon owns it now */
		daemon_finish(&d);
		goto fail;
	}
	if (notify >= 0) {
		if (write(notify, "ok", 2) != 2)
			log_warn("cannot tell the parent we are ready");
		close(notify);
		if ((devnull = open("/dev/null", O_RDWR)) >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
			if (devnull > 2)
				close(devnull);
		}
	}
	sd_notify(0, "READY=1");
	event_base_dispatch(d.base);
	log_info("proxypoold stopped");
	daemon_finish(&d);
	if (background)
		unlink(pidfile);
	log_close();
	curl_global_cleanup();
	return 0;

fail:
	log_error("%s", cause);
	if (notify >= 0) {
		if (write(notify, cause, strlen(cause)) < 0)
			log_error("cannot report to the parent");
	}
	free(cause);
	conf_destroy(conf);
	if (background)
		unlink(pidfile);
	return 1;
}
