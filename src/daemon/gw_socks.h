/*
 * gw_socks.h: the server side of a SOCKS5 handshake (RFC 1928, with the
 * username/password method of RFC 1929), for the gateway's listeners.
 * A pure state machine: bytes in, bytes to answer out, and at the end
 * the CONNECT request's host and port.  Nothing here does I/O.
 */
#ifndef GW_SOCKS_H
#define GW_SOCKS_H

#include <stdbool.h>
#include <stddef.h>

#define GW_SOCKS_OUT_MAX	16	/* longest answer of one step */

/* SOCKS5 reply codes (RFC 1928 section 6). */
#define GW_SOCKS_OK		0x00
#define GW_SOCKS_FAILURE	0x01	/* general failure */
#define GW_SOCKS_NOTALLOWED	0x02	/* not allowed by ruleset */
#define GW_SOCKS_NETUNREACH	0x03
#define GW_SOCKS_HOSTUNREACH	0x04
#define GW_SOCKS_REFUSED	0x05
#define GW_SOCKS_TTL		0x06	/* TTL expired: our timeout */
#define GW_SOCKS_BADCMD		0x07
#define GW_SOCKS_BADATYP	0x08

enum gw_socks_state {
	GW_SOCKS_MORE,		/* give it more bytes */
	GW_SOCKS_AUTH,		/* credentials read: check them, then
				 * gw_socks_auth_result */
	GW_SOCKS_REQUEST,	/* CONNECT host:port read: connect, then
				 * answer with gw_socks_reply */
	GW_SOCKS_ERROR		/* refused: send out, then close */
};

struct gw_socks {
	int		 step;		/* internal */
	bool		 need_auth;	/* offer username/password only */
	bool		 use_auth;	/* the client chose it */
	char		 user[256];	/* RFC 1929: up to 255 bytes */
	char		 password[256];
	char		 host[256];	/* name, or IPv4/IPv6 as text */
	int		 port;
	unsigned char	 out[GW_SOCKS_OUT_MAX];	/* to send now */
	size_t		 outlen;
	const char	*errstr;	/* static, for the log */
};

/* Ready for a client; need_auth: no anonymous method is accepted. */
void	gw_socks_init(struct gw_socks *s, bool need_auth);
/*
 * Feed len bytes; *used says how many were taken.  Whatever the state,
 * s->out holds s->outlen bytes to send first (then it is cleared by the
 * next call).
 */
enum gw_socks_state gw_socks_feed(struct gw_socks *s, const unsigned char
	    *data, size_t len, size_t *used);
/* After GW_SOCKS_AUTH: ok lets the handshake go on (out: the auth
 * answer), else it fails. */
enum gw_socks_state gw_socks_auth_result(struct gw_socks *s, bool ok);
/* The answer to the request: rep is GW_SOCKS_OK or a failure code;
 * writes it to out, returns its length. */
size_t	gw_socks_reply(unsigned char *out, int rep);

#endif /* GW_SOCKS_H */
