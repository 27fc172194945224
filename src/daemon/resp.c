/*
 * resp.c: RESP2 replies and requests.  A request is either a RESP array
 * of bulk strings, parsed by redisReader with object functions that build
 * an argv directly and refuse anything else (nesting, integers, nil, too
 * many arguments), or an inline line split like redis-cli would quote it.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"
#include "xmalloc.h"

/* Bytes given to the reader at a time. */
#define RESP_FEED	4096

void
resp_args_free(struct resp_args *a)
{
	int i;

	if (a == NULL)
		return;
	for (i = 0; i < a->argc; i++)
		free(a->argv[i]);
	free(a->argv);		/* and len, in the same block */
	memset(a, 0, sizeof *a);
}

/* Room for n arguments and a NULL: argv and len in one block (pointers
 * first, sizes after: size_t needs no stricter alignment). */
static void
resp_args_alloc(struct resp_args *a, size_t n)
{
	a->argv = xcalloc(n + 1, sizeof *a->argv + sizeof *a->len);
	a->len = (size_t *)(void *)(a->argv + n + 1);
}

/* redisReader object functions: the top-level array becomes a
 * struct resp_args, its elements must be bulk strings. */
static void *
resp_create_array(const redisReadTask *task, int n)
{
	struct resp_reader *r = task->privdata;
	struct resp_args *a;

	if (n > RESP_MAX_ARGS && task->parent == NULL && r != NULL)
		r->too_many = n;	/* for the error message */
	if (task->parent != NULL || n < 0 || n > RESP_MAX_ARGS)
		return NULL;
	a = xcalloc(1, sizeof *a);
	a->argc = n;
	resp_args_alloc(a, (size_t)n);
	return a;
}

static void *
resp_create_string(const redisReadTask *task, char *s, size_t len)
{
	struct resp_args *a;

	if (task->parent == NULL || task->type != REDIS_REPLY_STRING)
		return NULL;
	a = task->parent->obj;
	a->argv[task->idx] = xmalloc(len + 1);
	memcpy(a->argv[task->idx], s, len);
	a->argv[task->idx][len] = '\0';
	a->len[task->idx] = len;
	return a->argv[task->idx];
}

static void *
resp_create_integer(const redisReadTask *task, long long v)
{
	return NULL;
}

static void *
resp_create_nil(const redisReadTask *task)
{
	return NULL;
}

static void
resp_free_object(void *obj)
{
	/* only whole arrays are freed by the reader: elements belong to
	 * their array */
	struct resp_args *a = obj;

	if (a == NULL)
		return;
	resp_args_free(a);
	free(a);
}

static redisReplyObjectFunctions resp_functions = {
	resp_create_string,
	resp_create_array,
	resp_create_integer,
	resp_create_nil,
	resp_free_object
};

void
resp_reader_init(struct resp_reader *r, size_t max_request)
{
	memset(r, 0, sizeof *r);
	r->max_request = max_request;
}

void
resp_reader_deinit(struct resp_reader *r)
{
	if (r->reader != NULL)
		redisReaderFree(r->reader);
	r->reader = NULL;
}

/*
 * Split an inline line into arguments: words separated by blanks,
 * "double quoted" with \n \r \t \" \\ \xHH escapes, or 'single quoted'.
 * Returns -1 with *cause on unbalanced quotes.
 */
static int
resp_split(const char *p, const char *end, struct resp_args *a, char **cause)
{
	char *buf;
	size_t n, max;
	int q;

	/*
	 * Room for every word at once: a word takes a byte and a blank
	 * (or "" and a blank), so a line of n bytes has at most (n + 1) / 2
	 * of them.  Growing by one word was quadratic in a 1,000-word line.
	 */
	max = ((size_t)(end - p) + 1) / 2;
	if (max > RESP_MAX_ARGS)
		max = RESP_MAX_ARGS;
	resp_args_alloc(a, max);
	buf = xmalloc((size_t)(end - p) + 1);
	for (;;) {
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p == end)
			break;
		/* max words, RESP_MAX_ARGS (a shorter line cannot get here) */
		if ((size_t)a->argc >= max) {
			xasprintf(cause, "too many arguments");
			goto fail;
		}
		n = 0;
		q = 0;
		while (p < end) {
			if (q == '"' && *p == '\\' && p + 1 < end) {
				p++;
				if (*p == 'x' && p + 2 < end &&
				    isxdigit((unsigned char)p[1]) &&
				    isxdigit((unsigned char)p[2])) {
					char hex[3] = { p[1], p[2], 0 };
					buf[n++] = (char)strtol(hex, NULL, 16);
					p += 3;
					continue;
				}
				switch (*p) {
				case 'n': buf[n++] = '\n'; break;
				case 'r': buf[n++] = '\r'; break;
				case 't': buf[n++] = '\t'; break;
				default: buf[n++] = *p; break;
				}
				p++;
			} else if (q == '\'' && *p == '\\' && p + 1 < end &&
			    p[1] == '\'') {
				buf[n++] = '\'';
				p += 2;
			} else if (q != 0 && *p == q) {
				p++;
				if (p < end && !isspace((unsigned char)*p)) {
					xasprintf(cause, "closing quote must "
					    "be followed by a space");
					goto fail;
				}
				q = 0;
				break;
			} else if (q == 0 && (*p == '"' || *p == '\'') &&
			    n == 0) {
				q = *p++;
			} else if (q == 0 && isspace((unsigned char)*p)) {
				break;
			} else
				buf[n++] = *p++;
		}
		if (q != 0) {
			xasprintf(cause, "unbalanced quotes in request");
			goto fail;
		}
		/* not xstrndup: a "\x00" escape puts a NUL inside */
		a->argv[a->argc] = xmalloc(n + 1);
		memcpy(a->argv[a->argc], buf, n);
		a->argv[a->argc][n] = '\0';
		a->len[a->argc] = n;
		a->argc++;
		a->argv[a->argc] = NULL;
	}
	free(buf);
	return 0;
fail:
	free(buf);
	resp_args_free(a);
	return -1;
}

/* Read an inline request: one line.  Returns 1, 0 (need more), -1 (bad)
 * or 2 when only empty lines came and a RESP frame follows. */
static int
resp_read_inline(struct resp_reader *r, struct evbuffer *in,
    struct resp_args *out, char **cause)
{
	struct evbuffer_ptr eol, from;
	size_t n;
	char *line;
	int rc;

	for (;;) {
		if (r->scanned > 0 && evbuffer_ptr_set(in, &from, r->scanned,
		    EVBUFFER_PTR_SET) == 0)
			eol = evbuffer_search_eol(in, &from, &n,
			    EVBUFFER_EOL_LF);
		else
			eol = evbuffer_search_eol(in, NULL, &n,
			    EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			r->scanned = evbuffer_get_length(in);
			if (r->scanned > r->max_request) {
				xasprintf(cause, "request larger than %zu "
				    "bytes", r->max_request);
				return -1;
			}
			return 0;
		}
		r->scanned = 0;
		if ((size_t)eol.pos > r->max_request) {
			xasprintf(cause, "request larger than %zu bytes",
			    r->max_request);
			return -1;
		}
		line = xmalloc((size_t)eol.pos + 1);
		evbuffer_remove(in, line, (size_t)eol.pos);
		evbuffer_drain(in, n);
		line[eol.pos] = '\0';
		if (memchr(line, '\0', (size_t)eol.pos) != NULL) {
			free(line);
			xasprintf(cause, "NUL byte in inline request");
			return -1;
		}
		memset(out, 0, sizeof *out);
		rc = resp_split(line, line + eol.pos, out, cause);
		free(line);
		if (rc != 0)
			return -1;
		if (out->argc > 0)
			return 1;
		resp_args_free(out);	/* empty line: nothing to do */
		if (evbuffer_get_length(in) == 0)
			return 0;
		{
			unsigned char *c = evbuffer_pullup(in, 1);
			if (c[0] == '*')
				return 2;	/* caller loops: RESP next */
		}
	}
}

/*
 * A frame waits for the rest of an item: is it a bulk string announced
 * longer than max?  The reader stops with its cursor on the digits of
 * the pending item's length (its '$' is read, and the buffer before the
 * cursor may be dropped), so digits there are that length: refused at
 * the header, as redis-server does, instead of once max bytes came.
 */
static bool
resp_bulk_too_long(const redisReader *rd, size_t max)
{
	unsigned long long v = 0;
	size_t i;

	for (i = rd->pos; i < rd->len && i < rd->pos + 20; i++) {
		if (!isdigit((unsigned char)rd->buf[i]))
			break;
		v = v * 10 + (unsigned long long)(rd->buf[i] - '0');
		if (v > max)
			return true;
	}
	return false;
}

int
resp_read(struct resp_reader *r, struct evbuffer *in, struct resp_args *out,
    char **cause)
{
	struct resp_args *a;
	struct evbuffer_iovec v;
	unsigned char *first;
	size_t left, n;
	void *obj = NULL;

	*cause = NULL;
	for (;;) {
		if (!r->in_frame) {
			if (evbuffer_get_length(in) == 0)
				return 0;
			first = evbuffer_pullup(in, 1);
			if (first[0] != '*') {
				int rc = resp_read_inline(r, in, out, cause);
				if (rc != 2)
					return rc;
				continue;
			}
			if (r->reader == NULL &&
			    (r->reader = redisReaderCreateWithFunctions(
			    &resp_functions)) == NULL) {
				xasprintf(cause, "out of memory");
				return -1;
			}
			r->reader->privdata = r;
			r->in_frame = true;
			r->fed = 0;
			r->too_many = 0;
		}
		/* feed a chunk at a time until a whole frame is there */
		for (;;) {
			if (redisReaderGetReply(r->reader, &obj) != REDIS_OK) {
				if (r->too_many > 0)
					xasprintf(cause, "Protocol error: %d "
					    "arguments, at most %d", r->too_many,
					    RESP_MAX_ARGS);
				else
					xasprintf(cause, "Protocol error: %s",
					    strcmp(r->reader->errstr,
					    "Out of memory") == 0 ? "expected an "
					    "array of bulk strings" :
					    r->reader->errstr);
				return -1;
			}
			if (obj == NULL && resp_bulk_too_long(r->reader,
			    r->max_request)) {
				xasprintf(cause, "Protocol error: invalid bulk "
				    "length (over %zu bytes)", r->max_request);
				return -1;
			}
			left = r->reader->len - r->reader->pos;
			/* what was parsed belongs to this frame: a frame of
			 * many small strings is bounded like one large one */
			if ((obj == NULL && left > r->max_request) ||
			    r->fed - left > r->max_request) {
				if (obj != NULL)
					resp_free_object(obj);
				xasprintf(cause, "request larger than %zu "
				    "bytes", r->max_request);
				return -1;
			}
			if (obj != NULL)
				break;
			/* straight from the input's first extent, at most
			 * RESP_FEED bytes */
			if (evbuffer_peek(in, RESP_FEED, NULL, &v, 1) < 1 ||
			    v.iov_len == 0)
				return 0;
			n = v.iov_len < RESP_FEED ? v.iov_len : RESP_FEED;
			if (redisReaderFeed(r->reader, v.iov_base, n) !=
			    REDIS_OK) {
				xasprintf(cause, "out of memory");
				return -1;
			}
			evbuffer_drain(in, n);
			r->fed += n;
		}
		/* a whole frame: give bytes past it back to the input, they
		 * may be an inline command; a reader left empty serves the
		 * next frame */
		r->in_frame = false;
		if (left > 0) {
			evbuffer_prepend(in, r->reader->buf + r->reader->pos,
			    left);
			redisReaderFree(r->reader);
			r->reader = NULL;
		}
		a = obj;
		if (a->argc == 0) {
			resp_free_object(a);
			continue;
		}
		*out = *a;
		free(a);
		return 1;
	}
}

/* "<c><v>\r\n" into buf (at least 24 bytes); returns its length. */
static size_t
resp_num(char *buf, char c, long long v)
{
	char tmp[24];
	unsigned long long u;
	size_t n = 0, len = 0;

	buf[len++] = c;
	u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		buf[len++] = '-';
	while (n > 0)
		buf[len++] = tmp[--n];
	buf[len++] = '\r';
	buf[len++] = '\n';
	return len;
}

void
resp_status(struct evbuffer *b, const char *s)
{
	char buf[128];
	size_t len = strlen(s);

	if (len > sizeof buf - 3) {
		evbuffer_add_printf(b, "+%s\r\n", s);
		return;
	}
	buf[0] = '+';
	memcpy(buf + 1, s, len);
	buf[len + 1] = '\r';
	buf[len + 2] = '\n';
	evbuffer_add(b, buf, len + 3);
}

void
resp_error(struct evbuffer *b, const char *fmt, ...)
{
	char *msg, *p;
	va_list ap;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	for (p = msg; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	}
	evbuffer_add_printf(b, "-%s\r\n", msg);
	free(msg);
}

void
resp_int(struct evbuffer *b, long long v)
{
	char buf[32];

	evbuffer_add(b, buf, resp_num(buf, ':', v));
}

void
resp_bulk(struct evbuffer *b, const char *s, size_t len)
{
	char buf[256];
	size_t n;

	n = resp_num(buf, '$', (long long)len);
	/* a short string goes in with its header: one add, not three */
	if (len <= sizeof buf - n - 2) {
		memcpy(buf + n, s, len);
		n += len;
		buf[n++] = '\r';
		buf[n++] = '\n';
		evbuffer_add(b, buf, n);
		return;
	}
	evbuffer_add(b, buf, n);
	evbuffer_add(b, s, len);
	evbuffer_add(b, "\r\n", 2);
}

void
resp_str(struct evbuffer *b, const char *s)
{
	if (s == NULL)
		resp_nil(b);
	else
		resp_bulk(b, s, strlen(s));
}

void
resp_nil(struct evbuffer *b)
{
	evbuffer_add(b, "$-1\r\n", 5);
}

void
resp_array(struct evbuffer *b, long long n)
{
	char buf[32];

	evbuffer_add(b, buf, resp_num(buf, '*', n));
}

void
resp_field_int(struct evbuffer *b, const char *field, long long v)
{
	resp_str(b, field);
	resp_int(b, v);
}

void
resp_field_str(struct evbuffer *b, const char *field, const char *v)
{
	resp_str(b, field);
	resp_str(b, v);
}
