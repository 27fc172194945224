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

#include "cmd.h"
#include "log.h"
#include "server.h"
#include "xmalloc.h"

/* A client that does not read its answers: stop taking its requests
 * while this much output waits (its input then backs up too). */
#define CLIENT_OUTPUT_PAUSE	(8 * 1024 * 1024)

static void server_accept(evutil_socket_t fd, short ev, void *arg);

/* Is something already answering on path? */
static bool
server_in_use(const char *path)
{
	struct sockaddr_un sun;
	int fd;
	bool used;

	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return false;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strncpy(sun.sun_path, path, sizeof sun.sun_path - 1);
	used = connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
	close(fd);
	return used;
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

	if (server_in_use(conf->socket)) {
		xasprintf(cause, "%s: another process is listening there",
		    conf->socket);
		return -1;
	}
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

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	client_process(arg);
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	if (c->closing && c->req == NULL)
		client_close(c);
	else if (c->req == NULL)
		client_process(c);	/* resume after an output pause */
}

/* Was c answered less than its idle timeout ago?  (A long request, a
 * LEASE WAIT say, may end just as the read timeout that started with it
 * fires.) */
static bool
client_answered_lately(struct client *c)
{
	struct timeval now, d;

	event_base_gettimeofday_cached(c->d->base, &now);
	timersub(&now, &c->answered, &d);
	return d.tv_sec + d.tv_usec / 1e6 < c->d->conf->idle_timeout;
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	if (what & BEV_EVENT_TIMEOUT) {
		/* a client waiting for an answer, or just answered, is not
		 * idle: the timeout starts again */
		if (c->req != NULL || client_answered_lately(c)) {
			bufferevent_enable(bev, EV_READ);
			return;
		}
		log_client(LOG_LEVEL_DEBUG, c, "idle timeout");
		client_close(c);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		log_client(LOG_LEVEL_DEBUG, c, "disconnected");
		client_close(c);
	}
}

/* Idle timeout from the config (0 = none). */
static void
client_set_timeout(struct client *c)
{
	struct timeval tv;
	double t = c->d->conf->idle_timeout;

	if (t <= 0) {
		bufferevent_set_timeouts(c->bev, NULL, NULL);
		return;
	}
	tv.tv_sec = (time_t)t;
	tv.tv_usec = (suseconds_t)((t - (double)tv.tv_sec) * 1e6);
	bufferevent_set_timeouts(c->bev, &tv, NULL);
}

void
server_apply_conf(struct daemon *d)
{
	struct client *c;

	TAILQ_FOREACH(c, &d->clients, entry) {
		c->admin = conf_is_admin(d->conf, c->uid, c->gid);
		c->reader.max_request = (size_t)d->conf->max_request;
		bufferevent_setwatermark(c->bev, EV_READ, 0,
		    (size_t)d->conf->max_request + 4096);
		client_set_timeout(c);
	}
}

static void
server_accept(evutil_socket_t lfd, short ev, void *arg)
{
	static const char full[] = "-ERR max number of clients reached\r\n";
	struct daemon *d = arg;
	struct client *c;
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
		c = xcalloc(1, sizeof *c);
		c->d = d;
		c->id = ++d->next_id;
		c->uid = cred.uid;
		c->gid = cred.gid;
		c->pid = cred.pid;
		c->admin = conf_is_admin(d->conf, cred.uid, cred.gid);
		resp_reader_init(&c->reader, (size_t)d->conf->max_request);
		c->bev = bufferevent_socket_new(d->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
		if ((c->reply = evbuffer_new()) == NULL)
			abort();	/* out of memory, as xmalloc */
		bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
		    client_event_cb, c);
		/* stop reading while a client has this much unparsed */
		bufferevent_setwatermark(c->bev, EV_READ, 0,
		    (size_t)d->conf->max_request + 4096);
		client_set_timeout(c);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		TAILQ_INSERT_TAIL(&d->clients, c, entry);
		d->nclients++;
		d->stats.accepted++;
		log_client(LOG_LEVEL_DEBUG, c, "connected (pid %ld%s)",
		    (long)c->pid, c->admin ? ", admin" : "");
	}
}

void
client_process(struct client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct resp_args args;
	char *cause;
	int rc;

	if (c->processing)
		return;
	c->processing = true;
	while (c->req == NULL && !c->closing && evbuffer_get_length(
	    bufferevent_get_output(c->bev)) < CLIENT_OUTPUT_PAUSE) {
		rc = resp_read(&c->reader, in, &args, &cause);
		if (rc == 0)
			break;
		if (rc < 0) {
			c->d->stats.protocol++;
			log_client(LOG_LEVEL_INFO, c, "closing: %s", cause);
			resp_error(bufferevent_get_output(c->bev), "ERR %s",
			    cause);
			free(cause);
			client_close_after_write(c);
			break;
		}
		cmd_dispatch(c, &args);
	}
	c->processing = false;
	client_flush(c);
	if (c->closing && c->req == NULL &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		client_close(c);
}

/*
 * Answers are built in c->reply and written straight to the socket when
 * nothing older waits in the output: the bufferevent's write event is
 * armed (two epoll_ctl calls) only for what the socket did not take.  A
 * write error leaves the bytes to the bufferevent, which reports it.
 */
void
client_flush(struct client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t len;

	if (evbuffer_get_length(c->reply) == 0)
		return;
	if (evbuffer_get_length(out) == 0)
		(void)evbuffer_write(c->reply, bufferevent_getfd(c->bev));
	/* copied, not moved: a chain per answer would hold twice the
	 * memory of the bytes queued for a client that does not read */
	if ((len = evbuffer_get_length(c->reply)) != 0) {
		evbuffer_add(out, evbuffer_pullup(c->reply, -1), len);
		evbuffer_drain(c->reply, len);
	}
}

void
client_close_after_write(struct client *c)
{
	client_flush(c);
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
}

void
client_close(struct client *c)
{
	struct daemon *d = c->d;

	if (c->processing) {
		/* inside our own loop: finish there */
		client_close_after_write(c);
		return;
	}
	if (c->req != NULL)
		req_abandon(c->req);
	TAILQ_REMOVE(&d->clients, c, entry);
	d->nclients--;
	resp_reader_deinit(&c->reader);
	evbuffer_free(c->reply);
	bufferevent_free(c->bev);
	free(c);
	daemon_check_stopped(d);
}
