/*
 * client.c: one connection of the socket: read and parse requests (one
 * at a time, in order: a pipeline is answered in order), dispatch them,
 * write the answers, pause a client that does not read them, the idle
 * timeout, and closing.
 */
#include "config.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/buffer.h>

#include "client.h"
#include "cmd.h"
#include "log.h"
#include "xmalloc.h"

/* A client that does not read its answers: stop taking its requests
 * while this much output waits (its input then backs up too). */
#define CLIENT_OUTPUT_PAUSE	(8 * 1024 * 1024)

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

/* Apply a reloaded config to c: admin rights, request size limit, idle
 * timeout. */
void
client_apply_conf(struct client *c)
{
	const struct conf *conf = c->d->conf;

	c->admin = conf_is_admin(conf, c->uid, c->gid);
	c->reader.max_request = (size_t)conf->max_request;
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    (size_t)conf->max_request + 4096);
	client_set_timeout(c);
}

/* A new connection of d on fd (peer credentials cred): from now on its
 * events drive it. */
void
client_new(struct daemon *d, int fd, const struct ucred *cred)
{
	struct client *c;

	c = xcalloc(1, sizeof *c);
	c->d = d;
	c->id = ++d->next_id;
	c->uid = cred->uid;
	c->gid = cred->gid;
	c->pid = cred->pid;
	c->admin = conf_is_admin(d->conf, cred->uid, cred->gid);
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

/* The request of c is answered (req_finish, through r->on_answer): send
 * the answer, then the next request, or close when the daemon stops or
 * the request was QUIT. */
static void
client_answered(struct req *r)
{
	struct client *c = r->c;
	struct daemon *d = c->d;

	client_flush(c);
	r->c = NULL;
	c->req = NULL;
	event_base_gettimeofday_cached(d->base, &c->answered);
	if (d->stopping || r->quit) {
		client_close_after_write(c);
		/* written whole: no write callback will close it */
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			client_close(c);
	} else
		client_process(c);
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
		cmd_dispatch(c, &args, client_answered);
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
	d->on_idle(d);
}
