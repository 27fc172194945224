/*
 * fuzz_resp.c: the daemon's request reader (resp_read: RESP arrays
 * through redisReader with the daemon's object functions and limits,
 * inline lines through the splitter) on arbitrary bytes.  The input is
 * read twice, once in one piece and once in pieces whose sizes come from
 * the input's first bytes; both readings must produce the same requests
 * until either reports an error, every request must be well formed, and
 * an error must come with a cause.
 */
#include "config.h"

#include <malloc.h>
#include <stdbool.h>
#include <string.h>

#include <event2/buffer.h>

#include "fuzz.h"
#include "resp.h"
#include "xmalloc.h"

/*
 * The requests one reading produced, serialised one after the other into
 * one buffer (each argument as its length, then its bytes), with where
 * each request ends.  Both grow by doubling: an input of 35,000 one-word
 * lines is 35,000 requests, and growing them by one request copied
 * gigabytes (and ran out of memory) under ASan.
 */
struct fuzz_reqs {
	char		 *buf;		/* the serialised requests */
	size_t		  len;		/* bytes used in buf */
	size_t		  size;		/* bytes allocated */
	size_t		 *end;		/* where request i ends in buf */
	size_t		  n;		/* requests read */
	size_t		  nalloc;	/* room in end */
	bool		  failed;	/* resp_read reported an error */
};

/* Check a request and append its serialisation to q. */
static void
fuzz_resp_keep(struct fuzz_reqs *q, struct resp_args *a)
{
	size_t total = 0;
	int i;

	FUZZ_CHECK(a->argc > 0 && a->argc <= RESP_MAX_ARGS);
	FUZZ_CHECK(a->argv != NULL && a->len != NULL);
	FUZZ_CHECK(a->argv[a->argc] == NULL);
	for (i = 0; i < a->argc; i++) {
		FUZZ_CHECK(a->argv[i] != NULL);
		/* the argument holds its length (caught without ASan too) */
		FUZZ_CHECK(malloc_usable_size(a->argv[i]) > a->len[i]);
		FUZZ_CHECK(a->argv[i][a->len[i]] == '\0');
		total += sizeof a->len[i] + a->len[i];
	}
	if (q->size - q->len < total) {
		while (q->size - q->len < total)
			q->size = q->size == 0 ? 4096 : q->size * 2;
		q->buf = xreallocarray(q->buf, q->size, 1);
	}
	for (i = 0; i < a->argc; i++) {
		memcpy(q->buf + q->len, &a->len[i], sizeof a->len[i]);
		q->len += sizeof a->len[i];
		memcpy(q->buf + q->len, a->argv[i], a->len[i]);
		q->len += a->len[i];
	}
	if (q->n == q->nalloc) {
		q->nalloc = q->nalloc == 0 ? 64 : q->nalloc * 2;
		q->end = xreallocarray(q->end, q->nalloc, sizeof *q->end);
	}
	q->end[q->n++] = q->len;
}

/* Take every complete request out of in; false once an error came. */
static bool
fuzz_resp_drain(struct resp_reader *r, struct evbuffer *in,
    struct fuzz_reqs *q)
{
	struct resp_args a;
	char *cause;
	int rc;

	for (;;) {
		memset(&a, 0, sizeof a);
		rc = resp_read(r, in, &a, &cause);
		if (rc == 1) {
			FUZZ_CHECK(cause == NULL);
			fuzz_resp_keep(q, &a);
			resp_args_free(&a);
			continue;
		}
		if (rc == 0) {
			FUZZ_CHECK(cause == NULL);
			return true;
		}
		FUZZ_CHECK(rc == -1);
		FUZZ_CHECK(cause != NULL && *cause != '\0');
		free(cause);
		q->failed = true;
		return false;
	}
}

/* Read data in pieces of the sizes the seed gives (0: one piece). */
static void
fuzz_resp_read(const uint8_t *data, size_t size, size_t max_request,
    uint32_t seed, struct fuzz_reqs *q)
{
	struct resp_reader r;
	struct evbuffer *in;
	size_t off = 0, n;

	resp_reader_init(&r, max_request);
	if ((in = evbuffer_new()) == NULL)
		abort();
	while (off < size) {
		if (seed == 0)
			n = size - off;
		else {
			seed = seed * 1103515245 + 12345;
			n = 1 + (seed >> 16) % 64;
			if (n > size - off)
				n = size - off;
		}
		evbuffer_add(in, data + off, n);
		off += n;
		if (!fuzz_resp_drain(&r, in, q))
			break;
	}
	resp_reader_deinit(&r);
	evbuffer_free(in);
}

static void
fuzz_resp_free(struct fuzz_reqs *q)
{
	free(q->buf);
	free(q->end);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_reqs whole, pieces;
	size_t n, max_request;
	uint32_t seed;

	if (size < 2)
		return 0;
	/*
	 * first byte: the limit and the chunking seed.  256 is the smallest
	 * allowed; 8192 like the default 65536 takes more than one of the
	 * reader's 4096-byte feeds, with inputs eight times shorter (libFuzzer
	 * sizes its inputs after the largest seed, and a 64 KB input of
	 * short lines is 20,000 requests).
	 */
	max_request = (data[0] & 1) ? 256 : 8192;
	seed = (uint32_t)data[0] | ((uint32_t)data[1] << 8) | 1;
	data += 2;
	size -= 2;

	memset(&whole, 0, sizeof whole);
	memset(&pieces, 0, sizeof pieces);
	fuzz_resp_read(data, size, max_request, 0, &whole);
	fuzz_resp_read(data, size, max_request, seed, &pieces);
	/* the same requests whatever the chunking, up to an error */
	n = whole.n < pieces.n ? whole.n : pieces.n;
	if (n > 0) {
		FUZZ_CHECK(memcmp(whole.end, pieces.end,
		    n * sizeof *whole.end) == 0);
		FUZZ_CHECK(memcmp(whole.buf, pieces.buf,
		    whole.end[n - 1]) == 0);
	}
	if (!whole.failed && !pieces.failed)
		FUZZ_CHECK(whole.n == pieces.n);
	fuzz_resp_free(&whole);
	fuzz_resp_free(&pieces);
	return 0;
}
