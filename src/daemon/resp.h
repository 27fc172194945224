/*
 * resp.h: RESP2 on the client socket: the reply writer and the request
 * reader (RESP arrays through hiredis' redisReader, inline commands
 * through a small splitter), both with limits.
 */
#ifndef RESP_H
#define RESP_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>
#include <hiredis/hiredis.h>

#define RESP_MAX_ARGS	1024	/* arguments in one request */

/* One request: argv[0] is the command word. */
struct resp_args {
	int		 argc;
	char		**argv;		/* owned, each NUL-terminated */
	size_t		*len;		/* lengths, in argv's block */
};
void	resp_args_free(struct resp_args *a);

/* A client's request reader. */
struct resp_reader {
	redisReader	*reader;	/* owned; holds a partial RESP frame */
	bool		 in_frame;	/* a RESP frame is being read */
	size_t		 fed;		/* bytes of it given to reader */
	size_t		 scanned;	/* bytes of an inline request known to
					 * hold no LF: a line that comes a
					 * byte at a time is searched once */
	size_t		 max_request;	/* bytes in one request */
	int		 too_many;	/* arguments of a frame refused for
					 * being over RESP_MAX_ARGS */
};

void	resp_reader_init(struct resp_reader *r, size_t max_request);
void	resp_reader_deinit(struct resp_reader *r);
/*
 * Take the next request out of in: 1 with *out filled, 0 when more bytes
 * are needed, -1 with *cause on a malformed or oversized request (the
 * client must then be closed).
 */
int	resp_read(struct resp_reader *r, struct evbuffer *in,
	    struct resp_args *out, char **cause);

/* Replies. */
void	resp_status(struct evbuffer *b, const char *s);
void	resp_error(struct evbuffer *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	resp_int(struct evbuffer *b, long long v);
void	resp_bulk(struct evbuffer *b, const char *s, size_t len);
void	resp_str(struct evbuffer *b, const char *s);	/* NULL: nil */
void	resp_nil(struct evbuffer *b);
void	resp_array(struct evbuffer *b, long long n);
/* A field name and an integer or string value (flat field/value pairs). */
void	resp_field_int(struct evbuffer *b, const char *field, long long v);
void	resp_field_str(struct evbuffer *b, const char *field, const char *v);

#endif /* RESP_H */
