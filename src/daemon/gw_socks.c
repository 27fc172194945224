/*
 * gw_socks.c: a SOCKS5 server handshake as a state machine.  Steps:
 * greeting (version, methods), the username/password sub-negotiation
 * when chosen, then the request (CONNECT only; IPv4, IPv6 or a name).
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "gw_socks.h"

enum {
	STEP_GREETING,
	STEP_AUTH,
	STEP_AUTH_WAIT,		/* credentials out to the caller */
	STEP_REQUEST,
	STEP_DONE,
	STEP_FAILED
};

void
gw_socks_init(struct gw_socks *s, bool need_auth)
{
	memset(s, 0, sizeof *s);
	s->need_auth = need_auth;
	s->step = STEP_GREETING;
}

static enum gw_socks_state
gw_socks_fail(struct gw_socks *s, const char *why)
{
	s->errstr = why;
	s->step = STEP_FAILED;
	return GW_SOCKS_ERROR;
}

/* The greeting: 05 n methods... */
static enum gw_socks_state
gw_socks_greeting(struct gw_socks *s, const unsigned char *d, size_t len,
    size_t *used)
{
	bool anon = false, userpass = false;
	size_t i, n;

	if (len < 2)
		return GW_SOCKS_MORE;
	if (d[0] != 5)
		return gw_socks_fail(s, "not SOCKS version 5");
	n = d[1];
	if (len < 2 + n)
		return GW_SOCKS_MORE;
	for (i = 0; i < n; i++) {
		if (d[2 + i] == 0x00)
			anon = true;
		else if (d[2 + i] == 0x02)
			userpass = true;
	}
	*used = 2 + n;
	s->out[0] = 5;
	s->outlen = 2;
	/* username/password when offered: the user name may choose the
	 * pool and a session even where no password is needed */
	if (userpass) {
		s->out[1] = 0x02;
		s->use_auth = true;
		s->step = STEP_AUTH;
		return GW_SOCKS_MORE;
	}
	if (anon && !s->need_auth) {
		s->out[1] = 0x00;
		s->step = STEP_REQUEST;
		return GW_SOCKS_MORE;
	}
	s->out[1] = 0xff;
	return gw_socks_fail(s, s->need_auth ? "the client offers no "
	    "username/password authentication" : "no acceptable method");
}

/* RFC 1929: 01 ulen user plen password */
static enum gw_socks_state
gw_socks_userpass(struct gw_socks *s, const unsigned char *d, size_t len,
    size_t *used)
{
	size_t ulen, plen;

	if (len < 2)
		return GW_SOCKS_MORE;
	if (d[0] != 1) {
		s->out[0] = 1;
		s->out[1] = 0xff;
		s->outlen = 2;
		return gw_socks_fail(s, "bad username/password version");
	}
	ulen = d[1];
	if (len < 2 + ulen + 1)
		return GW_SOCKS_MORE;
	plen = d[2 + ulen];
	if (len < 3 + ulen + plen)
		return GW_SOCKS_MORE;
	memcpy(s->user, d + 2, ulen);
	s->user[ulen] = '\0';
	memcpy(s->password, d + 3 + ulen, plen);
	s->password[plen] = '\0';
	*used = 3 + ulen + plen;
	if (strlen(s->user) != ulen || strlen(s->password) != plen) {
		s->out[0] = 1;
		s->out[1] = 0xff;
		s->outlen = 2;
		return gw_socks_fail(s, "NUL byte in the credentials");
	}
	s->step = STEP_AUTH_WAIT;
	return GW_SOCKS_AUTH;
}

/* 05 cmd 00 atyp addr port */
static enum gw_socks_state
gw_socks_request(struct gw_socks *s, const unsigned char *d, size_t len,
    size_t *used)
{
	size_t need, alen;
	int af;

	if (len < 5)
		return GW_SOCKS_MORE;
	if (d[0] != 5) {
		s->outlen = gw_socks_reply(s->out, GW_SOCKS_FAILURE);
		return gw_socks_fail(s, "not SOCKS version 5");
	}
	switch (d[3]) {
	case 0x01:
		alen = 4;
		need = 4 + 4 + 2;
		break;
	case 0x04:
		alen = 16;
		need = 4 + 16 + 2;
		break;
	case 0x03:
		alen = d[4];
		need = 5 + alen + 2;
		break;
	default:
		s->outlen = gw_socks_reply(s->out, GW_SOCKS_BADATYP);
		return gw_socks_fail(s, "unknown address type");
	}
	if (len < need)
		return GW_SOCKS_MORE;
	*used = need;
	if (d[1] != 0x01) {
		s->outlen = gw_socks_reply(s->out, GW_SOCKS_BADCMD);
		return gw_socks_fail(s, "only CONNECT is supported");
	}
	if (d[3] == 0x03) {
		if (alen == 0 || memchr(d + 5, '\0', alen) != NULL) {
			s->outlen = gw_socks_reply(s->out, GW_SOCKS_FAILURE);
			return gw_socks_fail(s, "bad host name");
		}
		memcpy(s->host, d + 5, alen);
		s->host[alen] = '\0';
		s->port = d[5 + alen] << 8 | d[6 + alen];
	} else {
		af = d[3] == 0x01 ? AF_INET : AF_INET6;
		inet_ntop(af, d + 4, s->host, sizeof s->host);
		s->port = d[4 + alen] << 8 | d[5 + alen];
	}
	if (s->port == 0) {
		s->outlen = gw_socks_reply(s->out, GW_SOCKS_FAILURE);
		return gw_socks_fail(s, "port 0");
	}
	s->step = STEP_DONE;
	return GW_SOCKS_REQUEST;
}

enum gw_socks_state
gw_socks_feed(struct gw_socks *s, const unsigned char *data, size_t len,
    size_t *used)
{
	*used = 0;
	s->outlen = 0;
	switch (s->step) {
	case STEP_GREETING:
		return gw_socks_greeting(s, data, len, used);
	case STEP_AUTH:
		return gw_socks_userpass(s, data, len, used);
	case STEP_AUTH_WAIT:
		return GW_SOCKS_AUTH;
	case STEP_REQUEST:
		return gw_socks_request(s, data, len, used);
	case STEP_DONE:
		return GW_SOCKS_REQUEST;
	default:
		return GW_SOCKS_ERROR;
	}
}

enum gw_socks_state
gw_socks_auth_result(struct gw_socks *s, bool ok)
{
	s->out[0] = 1;
	s->out[1] = ok ? 0x00 : 0x01;
	s->outlen = 2;
	if (!ok)
		return gw_socks_fail(s, "bad credentials");
	s->step = STEP_REQUEST;
	return GW_SOCKS_MORE;
}

size_t
gw_socks_reply(unsigned char *out, int rep)
{
	out[0] = 5;
	out[1] = (unsigned char)rep;
	out[2] = 0;
	out[3] = 1;		/* IPv4 0.0.0.0:0: nothing to bind */
	memset(out + 4, 0, 6);
	return 10;
}
