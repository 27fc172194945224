/*
 * fuzz_codec.c: the library's reply decoders on arbitrary replies.  The
 * input is parsed by hiredis' redisReader into a reply tree (as a reply
 * from Redis would be), and each ra_decode_* function is given every
 * reply of it: a decoder either succeeds or refuses the shape with
 * RA_ERR_PROTOCOL, and what it allocated is freed.
 */
#include "config.h"

#include <string.h>

#include <hiredis/hiredis.h>

#include "fuzz.h"
#include "ra_alloc.h"

/* One decoder and the function freeing what it returns (or NULL). */
struct fuzz_decoder {
	ra_decode_fn	*decode;	/* the decoder */
	void		(*release)(struct ra_result *); /* its free */
};

static const struct fuzz_decoder fuzz_decoders[] = {
	{ ra_decode_integer, NULL },
	{ ra_decode_lease, ra_free_lease_result },
	{ ra_decode_counts, NULL },
	{ ra_decode_list, ra_free_list_result },
	{ ra_decode_strlist, ra_free_strlist_result },
	{ ra_decode_str, ra_free_str_result },
	{ ra_decode_pool, NULL },
	{ ra_decode_gc, NULL },
	{ ra_decode_step, NULL },
};

/* Run every decoder on r. */
static void
fuzz_codec_decode(const redisReply *r)
{
	struct ra_result res;
	size_t i;

	for (i = 0; i < sizeof fuzz_decoders / sizeof fuzz_decoders[0]; i++) {
		memset(&res, 0, sizeof res);
		fuzz_decoders[i].decode(r, &res);
		if (res.err != RA_OK && res.err != RA_ERR_PROTOCOL) {
			fprintf(stderr, "decoder %zu: error %d: %s\n", i,
			    res.err, res.errstr);
			abort();
		}
		if (res.err != RA_OK)
			FUZZ_CHECK(res.errstr[0] != '\0');
		if (fuzz_decoders[i].release != NULL)
			fuzz_decoders[i].release(&res);
	}
}

#define FUZZ_MAX_ELEMENTS 4096	/* elements in one array reply */

#ifndef HAVE_REDISCONNECTWITHOPTIONS
/* hiredis 0.14 has no limit on an array's size and allocates what the
 * reply announces (*7777777770 is 62 GB): cap it as hiredis 1.x does. */
static redisReplyObjectFunctions fuzz_fn;	/* defaults, capped array */
static void *(*fuzz_create_array)(const redisReadTask *, int);

static void *
fuzz_codec_array(const redisReadTask *task, int n)
{
	if (n > FUZZ_MAX_ELEMENTS)
		return NULL;
	return fuzz_create_array(task, n);
}
#endif

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	redisReader *rd;
	void *reply;
	int n = 0;

	if ((rd = redisReaderCreate()) == NULL)
		abort();
#ifdef HAVE_REDISCONNECTWITHOPTIONS
	rd->maxelements = FUZZ_MAX_ELEMENTS;
#else
	if (fuzz_create_array == NULL) {
		fuzz_fn = *rd->fn;
		fuzz_create_array = fuzz_fn.createArray;
		fuzz_fn.createArray = fuzz_codec_array;
	}
	rd->fn = &fuzz_fn;
#endif
	if (redisReaderFeed(rd, (const char *)data, size) != REDIS_OK)
		abort();
	/* every complete reply of the input, a few at most */
	while (n++ < 8 && redisReaderGetReply(rd, &reply) == REDIS_OK &&
	    reply != NULL) {
		fuzz_codec_decode(reply);
		freeReplyObject(reply);
	}
	redisReaderFree(rd);
	return 0;
}
