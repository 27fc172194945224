/*
 * ra_internal.h: what the library's modules share and callers never see:
 * the FCALL argument builder, reply helpers, the sync and async function
 * call paths with their reload-once retry.
 */
#ifndef RA_INTERNAL_H
#define RA_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>

#include "redis_allocator.h"
#include "ra_functions.h"

/* Options copied out of the caller's struct ra_options. */
struct ra_private {
	struct ra_options	 opt;		/* strings point into owned copies */
	char			*host;		/* owned copies of opt strings */
	char			*path;
	char			*username;
	char			*password;
	char			*prefix;
};
/* Fill p (zeroed) from opt: copies of its strings, the defaults filled
 * in (port, prefix, batch).  -1 when out of memory, p then owning
 * nothing. */
int	ra_options_copy(struct ra_private *p, const struct ra_options *opt);
/* Free what ra_options_copy made. */
void	ra_options_free(struct ra_private *p);

/*
 * A function call being built: "FCALL[_RO] raN_name numkeys keys...
 * args...".  Every argument is an owned copy, so an async call can be
 * re-sent after the library is loaded again, long after the caller's
 * strings are gone.
 */
struct ra_args {
	int		 fn;		/* enum ra_fn_id */
	int		 argc;		/* arguments so far */
	int		 cap;		/* slots allocated */
	int		 nkeys;		/* keys, counted until first arg */
	bool		 keys_done;	/* an ARGV was added: no more keys */
	bool		 oom;		/* an allocation failed */
	char		**argv;		/* (ref) strings in buf */
	size_t		*argvlen;	/* owned lengths */
	char		*buf;		/* owned: every argument, each
					 * NUL-terminated, back to back */
	size_t		 used;		/* bytes of buf in use */
	size_t		 size;		/* bytes of buf allocated */
};

/* Start a call of function fn (enum ra_fn_id). */
void	ra_args_init(struct ra_args *a, int fn);
void	ra_args_deinit(struct ra_args *a);
/* KEYS: "{prefix:pool}suffix", e.g. suffix ":free". */
void	ra_args_key(struct ra_args *a, const char *prefix, const char *pool,
	    const char *suffix);
/* Check pool and start a call of fn with its n suffixed KEYS. */
int	ra_args_pool(struct ra_args *a, int fn, const char *prefix,
	    const char *pool, const char *const *suffix, size_t n, int *err,
	    char *errstr);
/* KEYS: a key given whole. */
void	ra_args_rawkey(struct ra_args *a, const char *key, size_t len);
/* ARGV values. */
void	ra_args_str(struct ra_args *a, const char *s);
void	ra_args_bin(struct ra_args *a, const char *s, size_t len);
void	ra_args_ll(struct ra_args *a, long long v);
/* A TTL in seconds as integer milliseconds. */
void	ra_args_ms(struct ra_args *a, double seconds);
void	ra_args_double(struct ra_args *a, double v);
/* Fill in numkeys; returns -1 if any allocation failed. */
int	ra_args_finish(struct ra_args *a);
/*
 * The finished call as one RESP command (what redisFormatCommandArgv
 * makes), in a buffer the caller frees; NULL when out of memory.
 */
char	*ra_args_format(const struct ra_args *a, size_t *len);

/* Set ctx-style err/errstr. */
void	ra_set_error(int *err, char *errstr, int code, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

/*
 * Map a reply to an error: NULL reply, REDIS_REPLY_ERROR with a code word
 * first ("NOT_OWNED token is stale") -> the matching enum ra_error.
 * Returns 0 when the reply is not an error.
 */
int	ra_reply_error(const redisReply *r, int *err, char *errstr);

/* Validate a key-like argument (pool, item, name): 1..RA_KEY_MAX bytes,
 * no NUL is guaranteed by C strings; sets BAD_ARGUMENT on failure. */
int	ra_check_key(const char *what, const char *s, int *err, char *errstr);
/* Validate a TTL: finite, >= 0 (or RA_TTL_DEFAULT if allow_default),
 * at most RA_TTL_MAX. */
int	ra_check_ttl(const char *what, double ttl, bool allow_default,
	    int *err, char *errstr);

/* Fill buf with RA_TOKEN_LEN random hex digits and a NUL. */
int	ra_random_token(char *buf);

/*
 * Make sure ctx has a live connection before a command is sent: connect
 * when there is none or when Redis closed it meanwhile (nothing is ever
 * sent twice).  Returns 0, or -1 with ctx->err set.
 */
int	ra_fresh(struct ra_context *ctx);

/*
 * Is r Redis' answer to a call of a function it does not have (a server
 * that lost its functions, or a new one after a failover)?
 */
bool	ra_reply_no_function(const redisReply *r);

/*
 * Sync: run a finished call, loading the library and retrying once when
 * Redis does not have the function.
 * Returns the reply (caller frees) or NULL with ctx->err set; an error
 * reply is turned into ctx->err and NULL as well.
 */
redisReply *ra_call(struct ra_context *ctx, struct ra_args *a);

/* Decode a reply into res (err set on failure); the async path and the
 * sync wrappers share these. */
typedef void ra_decode_fn(const redisReply *r, struct ra_result *res);
/* Decode an array of strings into res->u.strs (what names the call in the
 * error of a reply of another shape). */
void	ra_decode_names(const redisReply *r, struct ra_result *res,
	    const char *what);

/*
 * Sync: run a finished call with ra_call(), consume a and decode the reply
 * into res as the async path does.  Returns 0, or -1 with ctx->err set
 * (on a decoder's error res keeps what it left, e.g. a BUSY lock's pttl).
 */
int	ra_call_decode(struct ra_context *ctx, struct ra_args *a,
	    ra_decode_fn *dec, struct ra_result *res);

/* Free what a decoder allocated in res (by the decoder that made it). */
typedef void ra_result_free_fn(struct ra_result *res);

/*
 * Async: send a finished call; takes ownership of a (moved, a is left
 * empty).  When the reply comes, decode it with dec, call fn, then free
 * the result with rfree.  Returns -1 (fn never called) if it could not
 * be queued.
 */
int	ra_async_call(struct ra_async *ra, struct ra_args *a, ra_decode_fn *dec,
	    ra_result_free_fn *rfree, ra_async_fn *fn, void *priv);
/*
 * The body of an async call (its ra, fn and priv in scope) whose builder
 * error is returned, fn never called: build fills the args a and, on
 * error, err and errstr.
 */
#define RA_ASYNC_BUILT(build, dec, rfree) do {				\
	struct ra_args a;						\
	char errstr[RA_ERRSTR_LEN];					\
	int err;							\
									\
	if ((build) != 0)						\
		return -1;						\
	return ra_async_call(ra, &a, (dec), (rfree), fn, priv);		\
} while (0)
const char *ra_async_prefix(const struct ra_async *ra);
unsigned ra_async_batch(const struct ra_async *ra);

/* Reply helpers. */
bool	ra_reply_ll(const redisReply *r, long long *v);
bool	ra_reply_double(const redisReply *r, double *v);
char	*ra_reply_strdup(const redisReply *r);

/* Current batch size of a sync context. */
unsigned ra_batch(const struct ra_context *ctx);

#endif /* RA_INTERNAL_H */
