/*
 * probe_stub.c: the fastest possible "proxy" for the probe benchmark: it
 * accepts on 127.0.0.1, reads one request head and answers 200 "ok"
 * itself, then closes.  One process, one libevent loop.
 *
 *	probe_stub PORTFILE	listen on a free port, write it to PORTFILE
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

static const char stub_reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
    "Connection: close\r\n\r\nok\n";

static void
stub_written(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void
stub_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr p;

	p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (p.pos < 0)
		return;
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_setcb(bev, NULL, stub_written, NULL, NULL);
	bufferevent_write(bev, stub_reply, sizeof stub_reply - 1);
}

static void
stub_event(struct bufferevent *bev, short what, void *arg)
{
	bufferevent_free(bev);
}

static void
stub_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	struct bufferevent *bev;

	bev = bufferevent_socket_new(evconnlistener_get_base(l), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, stub_read, NULL, stub_event, NULL);
	bufferevent_enable(bev, EV_READ);
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	struct evconnlistener *l;
	struct sockaddr_in sin;
	socklen_t slen = sizeof sin;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: probe_stub PORTFILE\n");
		return 2;
	}
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	base = event_base_new();
	l = evconnlistener_new_bind(base, stub_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 4096,
	    (struct sockaddr *)&sin, sizeof sin);
	if (l == NULL) {
		perror("listen");
		return 1;
	}
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &slen);
	if ((f = fopen(argv[1], "w")) == NULL) {
		perror(argv[1]);
		return 1;
	}
	fprintf(f, "%d\n", ntohs(sin.sin_port));
	fclose(f);
	event_base_dispatch(base);
	return 0;
}
