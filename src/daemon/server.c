/*
 * server.c: the UNIX socket server: bind with the configured mode and
 * owner, accept with SO_PEERCRED, limits (max clients, request size, idle
 * timeout), one bufferevent per client, requests handed to cmd.c one at a
 * time so pipelined requests are answered in order.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <event2/buffer.h>

#include "client.h"
#include "log.h"
#include "server.h"
#include "xmalloc.h"

static void server_accept(evutil_socket_t fd, short ev, void *arg);

/* The pid of what answers on path (-1 when its pid is unknown), 0 when
 * nothing does. */
static pid_t
server_in_use(const char *path)
{
	struct sockaddr_un sun;
	struct ucred cred;
	socklen_t len = sizeof cred;
	pid_t pid = 0;
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return 0;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strncpy(sun.sun_path, path, sizeof sun.sun_path - 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
		pid = -1;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
		    cred.pid > 0)
			pid = cred.pid;
	}
	close(fd);
	return pid;
}

int
server_check(const char *path, char **cause)
{
	char comm[64] = "";
	pid_t pid;
	FILE *f;

	if ((pid = server_in_use(path)) == 0)
		return 0;
	if (pid < 0) {
		xasprintf(cause, "listen.socket: %s: another process is "
		    "listening there", path);
		return -1;
	}
	snprintf(comm, sizeof comm, "/proc/%ld/comm", (long)pid);
	if ((f = fopen(comm, "r")) == NULL || fgets(comm, sizeof comm, f) ==
	    NULL)
		snprintf(comm, sizeof comm, "a process");
	comm[strcspn(comm, "\n")] = '\0';
	if (f != NULL)
		fclose(f);
	xasprintf(cause, "listen.socket: %s: %s (pid %ld) is listening there; "
	    "stop it first or give this one another socket", path, comm,
	    (long)pid);
	return -1;
}

/*
 * Create the socket's directory when it is missing (the default one,
 * RUNSTATEDIR/proxypoold, outside systemd, whose RuntimeDirectory makes
 * it): the last component only, mode 0755 (the socket's own mode says
 * who may connect).
 */
static int
server_mkdir(const char *path, char **cause)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	struct stat sb;
	int rc = 0;

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == 0) {
			/* 0755 whatever the umask: clients must get through */
			if (chmod(dir, 0755) != 0)
				log_warn("%s: chmod: %s", dir, strerror(errno));
			log_info("created %s for the socket", dir);
		} else if (errno != EEXIST || stat(dir, &sb) != 0 ||
		    !S_ISDIR(sb.st_mode)) {
			if (errno == EEXIST)
				errno = ENOTDIR;
			xasprintf(cause, "listen.socket: %s: mkdir %s: %s", path,
			    dir, strerror(errno));
			rc = -1;
		}
	}
	free(dir);
	return rc;
}

int
server_listen(struct daemon *d, char **cause)
{
	const struct conf *conf = d->conf;
	struct sockaddr_un sun;
	struct passwd *pw;
	struct group *gr;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	mode_t old;
	int fd;

	if (server_check(conf->socket, cause) != 0 ||
	    server_mkdir(conf->socket, cause) != 0)
		return -1;
	if (unlink(conf->socket) != 0 && errno != ENOENT) {
		xasprintf(cause, "%s: cannot remove: %s", conf->socket,
		    strerror(errno));
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return -1;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strncpy(sun.sun_path, conf->socket, sizeof sun.sun_path - 1);
	old = umask(0177);	/* nobody may connect before chmod */
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		umask(old);
		xasprintf(cause, "%s: bind: %s", conf->socket, strerror(errno));
		goto fail;
	}
	umask(old);
	if (conf->owner != NULL && (pw = getpwnam(conf->owner)) != NULL)
		uid = pw->pw_uid;
	if (conf->group != NULL && (gr = getgrnam(conf->group)) != NULL)
		gid = gr->gr_gid;
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    chown(conf->socket, uid, gid) != 0) {
		xasprintf(cause, "%s: chown: %s", conf->socket,
		    strerror(errno));
		goto fail_unlink;
	}
	if (chmod(conf->socket, conf->mode) != 0) {
		xasprintf(cause, "%s: chmod: %s", conf->socket,
		    strerror(errno));
		goto fail_unlink;
	}
	if (listen(fd, 511) != 0 || evutil_make_socket_nonblocking(fd) != 0 ||
	    evutil_make_socket_closeonexec(fd) != 0) {
		xasprintf(cause, "%s: listen: %s", conf->socket,
		    strerror(errno));
		goto fail_unlink;
	}
	d->listen_fd = fd;
	d->socket_path = xstrdup(conf->socket);
	d->listen_ev = event_new(d->base, fd, EV_READ | EV_PERSIST,
	    server_accept, d);
	event_add(d->listen_ev, NULL);
	log_info("listening on %s (mode %04o)", conf->socket,
	    (unsigned)conf->mode);
	return 0;

fail_unlink:
	unlink(conf->socket);
fail:
	close(fd);
	return -1;
}

void
server_close_listener(struct daemon *d)
{
	if (d->listen_ev != NULL) {
		event_free(d->listen_ev);
		d->listen_ev = NULL;
	}
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		d->listen_fd = -1;
	}
	if (d->socket_path != NULL) {
		unlink(d->socket_path);
		free(d->socket_path);
		d->socket_path = NULL;
	}
}

void
server_apply_conf(struct daemon *d)
{
	struct client *c;

	TAILQ_FOREACH(c, &d->clients, entry)
		client_apply_conf(c);
}

static void
server_accept(evutil_socket_t lfd, short ev, void *arg)
{
	static const char full[] = "-ERR max number of clients reached\r\n";
	struct daemon *d = arg;
	struct ucred cred;
	socklen_t len = sizeof cred;
	int fd, n;

	for (n = 0; n < 64; n++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		if (d->stopping || d->nclients >= (unsigned)d->conf->max_clients) {
			d->stats.rejected++;
			if (write(fd, full, sizeof full - 1) < 0)
				log_debug("rejected client: %s",
				    strerror(errno));
			close(fd);
			continue;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
			log_warn("SO_PEERCRED: %s", strerror(errno));
			close(fd);
			continue;
		}
		client_new(d, fd, &cred);
	}
}

