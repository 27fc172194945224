/*
 * fuzz_gwsocks.c: the gateway's SOCKS5 server handshake
 * (src/daemon/gw_socks.c) on arbitrary client bytes.  The first byte
 * chooses: bit 0 whether the listener needs credentials, bit 1 whether
 * the credentials are accepted, bits 2-4 the reply code sent to a
 * request, the others how the rest is cut in pieces (0: one piece).
 * The bytes are fed the way gateway.c feeds them (what came and is not
 * taken yet, at most 1024 bytes), once in one piece and once in pieces;
 * both must answer the same bytes and end the same way.  Every answer
 * fits in out; a request has a host and a port; credentials are asked
 * for when the listener needs them; an error stays an error.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "gw_socks.h"

#define FUZZ_TRACE_MAX	4096

/* What one handshake answered, and how it ended. */
struct fuzz_trace {
	unsigned char	 out[FUZZ_TRACE_MAX];
	size_t		 outlen;
	enum gw_socks_state end;
	char		 user[256];
	char		 password[256];
	char		 host[256];
	int		 port;
	const char	*errstr;
};

static void
fuzz_out(struct fuzz_trace *t, const unsigned char *out, size_t len)
{
	FUZZ_CHECK(len <= GW_SOCKS_OUT_MAX);
	FUZZ_CHECK(t->outlen + len <= sizeof t->out);
	memcpy(t->out + t->outlen, out, len);
	t->outlen += len;
}

/* A string field of struct gw_socks is a string of its array. */
static void
fuzz_string(const char *s, size_t size)
{
	FUZZ_CHECK(memchr(s, '\0', size) != NULL);
}

static void
fuzz_gwsocks_run(const uint8_t *data, size_t size, unsigned flags,
    uint32_t seed, struct fuzz_trace *t)
{
	struct gw_socks s;
	enum gw_socks_state st;
	unsigned char reply[GW_SOCKS_OUT_MAX];
	bool need_auth = flags & 1, ok = flags & 2, authed = false;
	bool want = false;
	int rep = (int)(flags >> 2 & 7) + 1;	/* 1..8, and 0 below */
	size_t off = 0, end = 0, len, used, n, rlen;

	if (rep == 8)
		rep = GW_SOCKS_OK;
	gw_socks_init(&s, need_auth);
	memset(t, 0, sizeof *t);
	for (;;) {
		/* the bytes that came and are not taken yet, and another
		 * piece when they are not enough */
		if (off == end || want) {
			if (end == size)
				break;
			want = false;
			if (seed == 0)
				n = size - end;
			else {
				seed = seed * 1103515245 + 12345;
				n = 1 + (seed >> 16) % ((seed & 0x100) ? 3 :
				    300);
			}
			end += n < size - end ? n : size - end;
		}
		len = end - off > 1024 ? 1024 : end - off;
		st = gw_socks_feed(&s, data + off, len, &used);
		FUZZ_CHECK(used <= len);
		FUZZ_CHECK(s.outlen <= GW_SOCKS_OUT_MAX);
		fuzz_out(t, s.out, s.outlen);
		off += used;
		switch (st) {
		case GW_SOCKS_MORE:
			FUZZ_CHECK(s.errstr == NULL);
			if (used == 0) {
				/* no step is that long */
				FUZZ_CHECK(len < 1024);
				want = true;
			}
			break;
		case GW_SOCKS_AUTH:
			FUZZ_CHECK(s.use_auth);
			FUZZ_CHECK(!authed);
			fuzz_string(s.user, sizeof s.user);
			fuzz_string(s.password, sizeof s.password);
			memcpy(t->user, s.user, sizeof t->user);
			memcpy(t->password, s.password, sizeof t->password);
			/* asked again until it is answered */
			FUZZ_CHECK(gw_socks_feed(&s, data + off, end - off,
			    &n) == GW_SOCKS_AUTH && n == 0);
			st = gw_socks_auth_result(&s, ok);
			FUZZ_CHECK(s.outlen == 2 && s.out[0] == 1);
			FUZZ_CHECK((s.out[1] == 0) == ok);
			fuzz_out(t, s.out, s.outlen);
			if (!ok) {
				FUZZ_CHECK(st == GW_SOCKS_ERROR);
				goto failed;
			}
			FUZZ_CHECK(st == GW_SOCKS_MORE);
			authed = true;
			break;
		case GW_SOCKS_REQUEST:
			/* no way round the credentials */
			if (need_auth)
				FUZZ_CHECK(authed);
			FUZZ_CHECK(!s.use_auth || authed);
			fuzz_string(s.host, sizeof s.host);
			FUZZ_CHECK(s.host[0] != '\0');
			FUZZ_CHECK(s.port >= 1 && s.port <= 65535);
			FUZZ_CHECK(s.errstr == NULL);
			memcpy(t->host, s.host, sizeof t->host);
			t->port = s.port;
			rlen = gw_socks_reply(reply, rep);
			FUZZ_CHECK(rlen <= GW_SOCKS_OUT_MAX);
			FUZZ_CHECK(rlen >= 10 && reply[0] == 5 &&
			    reply[1] == rep && reply[2] == 0);
			fuzz_out(t, reply, rlen);
			/* the rest is the tunnel's */
			FUZZ_CHECK(gw_socks_feed(&s, data + off, end - off,
			    &n) == GW_SOCKS_REQUEST && n == 0 &&
			    s.outlen == 0);
			t->end = st;
			return;
		case GW_SOCKS_ERROR:
		failed:
			FUZZ_CHECK(s.errstr != NULL && s.errstr[0] != '\0');
			t->errstr = s.errstr;
			/* and it stays so, whatever comes */
			FUZZ_CHECK(gw_socks_feed(&s, data + off, end - off,
			    &n) == GW_SOCKS_ERROR && n == 0 && s.outlen == 0);
			FUZZ_CHECK(gw_socks_feed(&s, (const unsigned char *)
			    "\5\1\0\1\177\0\0\1\0\120", 10, &n) ==
			    GW_SOCKS_ERROR && n == 0 && s.outlen == 0);
			t->end = GW_SOCKS_ERROR;
			return;
		default:
			FUZZ_CHECK(!"unknown state");
		}
	}
	t->end = GW_SOCKS_MORE;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_trace whole, pieces;
	unsigned flags;
	uint32_t seed;

	if (size < 1)
		return 0;
	flags = data[0] & 0x1f;
	fuzz_gwsocks_run(data + 1, size - 1, flags, 0, &whole);
	seed = data[0] >> 5;
	if (seed != 0)
		seed |= (uint32_t)size << 3;
	fuzz_gwsocks_run(data + 1, size - 1, flags, seed, &pieces);
	/* the same answers and the same end whatever the pieces */
	FUZZ_CHECK(whole.end == pieces.end);
	FUZZ_CHECK(whole.outlen == pieces.outlen);
	FUZZ_CHECK(memcmp(whole.out, pieces.out, whole.outlen) == 0);
	FUZZ_CHECK(strcmp(whole.user, pieces.user) == 0);
	FUZZ_CHECK(strcmp(whole.password, pieces.password) == 0);
	FUZZ_CHECK(strcmp(whole.host, pieces.host) == 0);
	FUZZ_CHECK(whole.port == pieces.port);
	FUZZ_CHECK(whole.errstr == pieces.errstr ||
	    (whole.errstr != NULL && pieces.errstr != NULL &&
	    strcmp(whole.errstr, pieces.errstr) == 0));
	return 0;
}
