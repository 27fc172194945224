/*
 * args.c: building FCALL commands, decoding replies, mapping errors and
 * validating arguments; shared by the sync and async paths.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_SYS_RANDOM_H
#include <sys/random.h>
#endif

#include "ra_internal.h"

static const char *const ra_error_names[RA_ERR__COUNT] = {
	[RA_OK] = "OK",
	[RA_ERR_IO] = "IO",
	[RA_ERR_PROTOCOL] = "PROTOCOL",
	[RA_ERR_BACKEND_DOWN] = "BACKEND_DOWN",
	[RA_ERR_TIMEOUT] = "TIMEOUT",
	[RA_ERR_OOM] = "OOM",
	[RA_ERR_BAD_ARGUMENT] = "BAD_ARGUMENT",
	[RA_ERR_NO_SUCH_POOL] = "NO_SUCH_POOL",
	[RA_ERR_EMPTY] = "EMPTY",
	[RA_ERR_NOT_OWNED] = "NOT_OWNED",
	[RA_ERR_BUSY] = "BUSY",
	[RA_ERR_NOT_FOUND] = "NOT_FOUND",
	[RA_ERR_SCRIPT] = "SCRIPT",
};

const char *
ra_strerror(int err)
{
	if (err < 0 || err >= RA_ERR__COUNT || ra_error_names[err] == NULL)
		return "UNKNOWN";
	return ra_error_names[err];
}

void
ra_set_error(int *err, char *errstr, int code, const char *fmt, ...)
{
	va_list ap;

	*err = code;
	va_start(ap, fmt);
	vsnprintf(errstr, RA_ERRSTR_LEN, fmt, ap);
	va_end(ap);
}

/*
 * A call's arguments live in one buffer, back to back and each
 * NUL-terminated, after a slot for numkeys (argv[2], written by finish):
 * building a call costs a few allocations, not one per argument.
 */
#define ARGS_NUMKEYS_SLOT	16
#define ARGS_BUF_INITIAL	512

/* Point argv into buf again after it moved. */
static void
args_point(struct ra_args *a)
{
	char *p = a->buf + ARGS_NUMKEYS_SLOT;
	int i;

	for (i = 0; i < a->argc; i++) {
		if (i == 2) {
			a->argv[i] = a->buf;
			continue;
		}
		a->argv[i] = p;
		p += a->argvlen[i] + 1;
	}
}

/* Room for one more argument of len bytes (and its NUL), appended;
 * NULL (a->oom set) when out of memory. */
static char *
args_alloc(struct ra_args *a, size_t len)
{
	char *dst;

	if (a->oom)
		return NULL;
	if (a->argc == a->cap) {
		/* a pool call: 3 words, 12 KEYS, up to 7 ARGV */
		int cap = a->cap ? a->cap * 2 : 32;
		char **v = realloc(a->argv, cap * sizeof *v);
		size_t *l;

		if (v == NULL) {
			a->oom = true;
			return NULL;
		}
		a->argv = v;
		if ((l = realloc(a->argvlen, cap * sizeof *l)) == NULL) {
			a->oom = true;
			return NULL;
		}
		a->argvlen = l;
		a->cap = cap;
	}
	if (a->buf == NULL) {
		a->used = ARGS_NUMKEYS_SLOT;
		a->size = 0;
	}
	if (a->buf == NULL || a->size - a->used < len + 1) {
		size_t size = a->size ? a->size : ARGS_BUF_INITIAL;
		char *b;

		while (size - a->used < len + 1) {
			if (size > SIZE_MAX / 2) {
				a->oom = true;
				return NULL;
			}
			size *= 2;
		}
		if ((b = realloc(a->buf, size)) == NULL) {
			a->oom = true;
			return NULL;
		}
		a->buf = b;
		a->size = size;
		args_point(a);
	}
	dst = a->buf + a->used;
	dst[len] = '\0';
	a->argv[a->argc] = dst;
	a->argvlen[a->argc] = len;
	a->argc++;
	a->used += len + 1;
	return dst;
}

/* Append one argument. */
static void
args_push(struct ra_args *a, const char *s, size_t len)
{
	char *dst;

	if ((dst = args_alloc(a, len)) != NULL)
		memcpy(dst, s, len);
}

/* Decimal text of v into buf (at least 21 bytes, not terminated);
 * returns its length. */
static size_t
args_lltoa(char *buf, long long v)
{
	char tmp[24];
	unsigned long long u;
	size_t n = 0, len = 0;

	u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		buf[len++] = '-';
	while (n > 0)
		buf[len++] = tmp[--n];
	return len;
}

void
ra_args_init(struct ra_args *a, int fn)
{
	memset(a, 0, sizeof *a);
	a->fn = fn;
	ra_args_str(a, ra_functions[fn].ro ? "FCALL_RO" : "FCALL");
	ra_args_str(a, ra_functions[fn].name);
	/* numkeys: its own slot at the start of buf, filled by finish */
	if (args_alloc(a, 0) != NULL) {
		a->used--;
		a->argv[2] = a->buf;
		a->argv[2][0] = '0';
		a->argv[2][1] = '\0';
		a->argvlen[2] = 1;
	}
}

void
ra_args_deinit(struct ra_args *a)
{
	free(a->buf);
	free(a->argv);
	free(a->argvlen);
	memset(a, 0, sizeof *a);
}

void
ra_args_rawkey(struct ra_args *a, const char *key, size_t len)
{
	if (a->keys_done) {	/* a programming error: keys come first */
		a->oom = true;
		return;
	}
	args_push(a, key, len);
	a->nkeys++;
}

void
ra_args_key(struct ra_args *a, const char *prefix, const char *pool,
    const char *suffix)
{
	size_t lp = strlen(prefix), lo = strlen(pool), ls = strlen(suffix);
	char *p;

	if (a->keys_done) {	/* a programming error: keys come first */
		a->oom = true;
		return;
	}
	/* "{prefix:pool}suffix" */
	if ((p = args_alloc(a, lp + lo + ls + 3)) == NULL)
		return;
	*p++ = '{';
	memcpy(p, prefix, lp);
	p += lp;
	*p++ = ':';
	memcpy(p, pool, lo);
	p += lo;
	*p++ = '}';
	memcpy(p, suffix, ls);
	a->nkeys++;
}

/*
 * Start a call of fn on pool: check the pool name, then push KEYS
 * "{prefix:pool}suffix" for each of the n suffixes, in order.  Returns 0,
 * or -1 with err set and a zeroed (safe to deinit).
 */
int
ra_args_pool(struct ra_args *a, int fn, const char *prefix,
    const char *pool, const char *const *suffix, size_t n, int *err,
    char *errstr)
{
	size_t i;

	memset(a, 0, sizeof *a);
	if (ra_check_key("pool name", pool, err, errstr) != 0)
		return -1;
	ra_args_init(a, fn);
	for (i = 0; i < n; i++)
		ra_args_key(a, prefix, pool, suffix[i]);
	return 0;
}

void
ra_args_bin(struct ra_args *a, const char *s, size_t len)
{
	a->keys_done = true;
	args_push(a, s, len);
}

void
ra_args_str(struct ra_args *a, const char *s)
{
	if (a->argc >= 3)
		a->keys_done = true;
	args_push(a, s, strlen(s));
}

void
ra_args_ll(struct ra_args *a, long long v)
{
	char buf[24];

	ra_args_bin(a, buf, args_lltoa(buf, v));
}

void
ra_args_ms(struct ra_args *a, double seconds)
{
	if (seconds < 0)
		ra_args_ll(a, -1);
	else
		ra_args_ll(a, (long long)llround(seconds * 1000.0));
}

void
ra_args_double(struct ra_args *a, double v)
{
	char buf[64];
	int n = snprintf(buf, sizeof buf, "%.17g", v);

	ra_args_bin(a, buf, (size_t)n);
}

int
ra_args_finish(struct ra_args *a)
{
	size_t n;

	if (a->oom || a->argc < 3)
		return -1;
	n = args_lltoa(a->argv[2], a->nkeys);
	a->argv[2][n] = '\0';
	a->argvlen[2] = n;
	return 0;
}

char *
ra_args_format(const struct ra_args *a, size_t *len)
{
	size_t total, i;
	char *cmd, *p;

	/* "*argc\r\n", then "$len\r\n" arg "\r\n" each */
	total = 1 + 20 + 2;
	for (i = 0; i < (size_t)a->argc; i++)
		total += 1 + 20 + 2 + a->argvlen[i] + 2;
	if ((cmd = malloc(total)) == NULL)
		return NULL;
	p = cmd;
	*p++ = '*';
	p += args_lltoa(p, a->argc);
	*p++ = '\r';
	*p++ = '\n';
	for (i = 0; i < (size_t)a->argc; i++) {
		*p++ = '$';
		p += args_lltoa(p, (long long)a->argvlen[i]);
		*p++ = '\r';
		*p++ = '\n';
		memcpy(p, a->argv[i], a->argvlen[i]);
		p += a->argvlen[i];
		*p++ = '\r';
		*p++ = '\n';
	}
	*len = (size_t)(p - cmd);
	return cmd;
}

/* Error code words functions (and Redis) put first in an error reply. */
static const struct {
	const char	*word;
	int		 code;
} ra_error_words[] = {
	{ "EMPTY", RA_ERR_EMPTY },
	{ "NOT_OWNED", RA_ERR_NOT_OWNED },
	{ "NO_SUCH_POOL", RA_ERR_NO_SUCH_POOL },
	{ "BAD_ARGUMENT", RA_ERR_BAD_ARGUMENT },
	{ "BUSY", RA_ERR_BUSY },
	{ "NOT_FOUND", RA_ERR_NOT_FOUND },
	{ "TIMEOUT", RA_ERR_TIMEOUT },
	{ "LOADING", RA_ERR_BACKEND_DOWN },
	{ "READONLY", RA_ERR_BACKEND_DOWN },
	{ "MASTERDOWN", RA_ERR_BACKEND_DOWN },
	{ "OOM", RA_ERR_BACKEND_DOWN },
	{ "BUSYSCRIPT", RA_ERR_BACKEND_DOWN },
};

int
ra_reply_error(const redisReply *r, int *err, char *errstr)
{
	size_t i, wl;
	const char *msg, *sp;

	if (r == NULL) {
		ra_set_error(err, errstr, RA_ERR_BACKEND_DOWN,
		    "no reply from Redis");
		return -1;
	}
	if (r->type != REDIS_REPLY_ERROR)
		return 0;
	msg = r->str;
	/* Lua errors may arrive wrapped: "ERR user_script:1: CODE ..." */
	if (strncmp(msg, "ERR ", 4) == 0 && strstr(msg, "script") != NULL) {
		for (i = 0; i < sizeof ra_error_words / sizeof ra_error_words[0];
		    i++) {
			const char *p = strstr(msg, ra_error_words[i].word);
			if (p != NULL && p[strlen(ra_error_words[i].word)] == ' ') {
				msg = p;
				break;
			}
		}
	}
	sp = strchr(msg, ' ');
	wl = sp != NULL ? (size_t)(sp - msg) : strlen(msg);
	for (i = 0; i < sizeof ra_error_words / sizeof ra_error_words[0]; i++) {
		if (strlen(ra_error_words[i].word) == wl &&
		    strncmp(msg, ra_error_words[i].word, wl) == 0) {
			ra_set_error(err, errstr, ra_error_words[i].code, "%s",
			    sp != NULL ? sp + 1 : msg);
			return -1;
		}
	}
	ra_set_error(err, errstr, RA_ERR_SCRIPT, "%s", r->str);
	return -1;
}

bool
ra_reply_no_function(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "ERR Function not found", 22) == 0;
}

int
ra_check_key(const char *what, const char *s, int *err, char *errstr)
{
	size_t len;

	if (s == NULL || *s == '\0') {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "%s is empty", what);
		return -1;
	}
	if ((len = strlen(s)) > RA_KEY_MAX) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "%s is %zu bytes, over %d", what, len, RA_KEY_MAX);
		return -1;
	}
	return 0;
}

int
ra_check_ttl(const char *what, double ttl, bool allow_default, int *err,
    char *errstr)
{
	if (allow_default && ttl == RA_TTL_DEFAULT)
		return 0;
	if (!isfinite(ttl) || ttl < 0 || ttl > RA_TTL_MAX) {
		ra_set_error(err, errstr, RA_ERR_BAD_ARGUMENT,
		    "%s %g out of range (0 to %.0f seconds)", what, ttl,
		    RA_TTL_MAX);
		return -1;
	}
	return 0;
}

int
ra_random_token(char *buf)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[RA_TOKEN_LEN / 2];
	size_t got = 0;
	int i;

#ifdef HAVE_GETRANDOM
	while (got < sizeof raw) {
		ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
	}
#endif
	if (got < sizeof raw) {
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		while (got < sizeof raw) {
			ssize_t n = read(fd, raw + got, sizeof raw - got);
			if (n <= 0) {
				if (n < 0 && errno == EINTR)
					continue;
				close(fd);
				return -1;
			}
			got += (size_t)n;
		}
		close(fd);
	}
	for (i = 0; i < (int)sizeof raw; i++) {
		buf[2 * i] = hex[raw[i] >> 4];
		buf[2 * i + 1] = hex[raw[i] & 0xf];
	}
	buf[RA_TOKEN_LEN] = '\0';
	return 0;
}

bool
ra_reply_ll(const redisReply *r, long long *v)
{
	char *end;

	if (r == NULL)
		return false;
	if (r->type == REDIS_REPLY_INTEGER) {
		*v = r->integer;
		return true;
	}
	if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)
		return false;
	errno = 0;
	*v = strtoll(r->str, &end, 10);
	return errno == 0 && end != r->str && *end == '\0';
}

bool
ra_reply_double(const redisReply *r, double *v)
{
	char *end;

	if (r == NULL)
		return false;
	if (r->type == REDIS_REPLY_INTEGER) {
		*v = (double)r->integer;
		return true;
	}
	if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)
		return false;
	*v = strtod(r->str, &end);
	return end != r->str && *end == '\0';
}

char *
ra_reply_strdup(const redisReply *r)
{
	char *s;

	if (r == NULL || (r->type != REDIS_REPLY_STRING &&
	    r->type != REDIS_REPLY_STATUS))
		return NULL;
	if ((s = malloc(r->len + 1)) == NULL)
		return NULL;
	memcpy(s, r->str, r->len);
	s[r->len] = '\0';
	return s;
}

void
ra_strlist_deinit(struct ra_strlist *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}
