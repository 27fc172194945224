/*
 * lease_hiredis.c: lease a proxy from proxypoold with hiredis, renew the
 * lease and release it with the outcome.  proxypoold speaks RESP, so a
 * plain redisCommand() is the whole client.
 *
 *   cc -o lease_hiredis lease_hiredis.c $(pkg-config --cflags --libs hiredis)
 *   ./lease_hiredis [SOCKET] POOL [ok|failed|banned]
 *
 * LEASE_WAIT in the environment is how long to wait for a free proxy
 * (default 5 s).  Exit status as proxypoolctl: 0 done, 1 error reply, 2 usage, 3 cannot
 * reach the daemon.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hiredis/hiredis.h>

/* The lease fields we keep. */
struct lease {
	char		proxy[1100];	/* URL to use, with credentials */
	char		token[64];	/* needed to renew and release */
	long long	expires;	/* ms since the epoch, Redis clock */
	long long	fence;		/* grows with every grant */
};

/* Copy the field/value pairs of a LEASE reply into l; 0 or -1. */
static int
lease_parse(const redisReply *r, struct lease *l)
{
	const redisReply *k, *v;
	size_t i;

	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0)
		return -1;
	memset(l, 0, sizeof *l);
	for (i = 0; i < r->elements; i += 2) {
		k = r->element[i];
		v = r->element[i + 1];
		if (k->type != REDIS_REPLY_STRING)
			return -1;
		if (strcmp(k->str, "proxy") == 0 &&
		    v->type == REDIS_REPLY_STRING)
			snprintf(l->proxy, sizeof l->proxy, "%s", v->str);
		else if (strcmp(k->str, "token") == 0 &&
		    v->type == REDIS_REPLY_STRING)
			snprintf(l->token, sizeof l->token, "%s", v->str);
		else if (strcmp(k->str, "expires") == 0 &&
		    v->type == REDIS_REPLY_INTEGER)
			l->expires = v->integer;
		else if (strcmp(k->str, "fence") == 0 &&
		    v->type == REDIS_REPLY_INTEGER)
			l->fence = v->integer;
	}
	return l->proxy[0] != '\0' && l->token[0] != '\0' ? 0 : -1;
}

int
main(int argc, char **argv)
{
	const char *sock, *pool, *outcome = "OK", *wait;
	struct timeval tv = { 30, 0 };
	redisContext *c;
	redisReply *r;
	struct lease l;
	int rc = 1;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: %s [SOCKET] POOL [ok|failed|banned]\n",
		    argv[0]);
		return 2;
	}
	sock = getenv("PROXYPOOLD_SOCKET");
	if (argc >= 3) {
		sock = argv[1];
		argv++;
		argc--;
	}
	if (sock == NULL)
		sock = "/run/proxypoold/proxypoold.sock";
	pool = argv[1];
	if (argc == 3)
		outcome = argv[2];

	if ((wait = getenv("LEASE_WAIT")) == NULL || *wait == '\0')
		wait = "5";
	tv.tv_sec += atoi(wait);

	c = redisConnectUnixWithTimeout(sock, tv);
	if (c == NULL || c->err) {
		fprintf(stderr, "cannot reach proxypoold at %s: %s\n", sock,
		    c ? c->errstr : "out of memory");
		redisFree(c);
		return 3;
	}
	redisSetTimeout(c, tv);

	/* LEASE pool TTL 60 WAIT s: field/value pairs, or -EMPTY ... */
	r = redisCommand(c, "LEASE %s TTL 60 WAIT %s", pool, wait);
	if (r == NULL) {
		fprintf(stderr, "proxypoold: %s\n", c->errstr);
		redisFree(c);
		return 3;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "lease: %s\n", r->str);
		goto out;
	}
	if (lease_parse(r, &l) != 0) {
		fprintf(stderr, "lease: unexpected reply\n");
		goto out;
	}
	freeReplyObject(r);
	printf("leased %s (fence %lld, expires %lld)\n", l.proxy, l.fence,
	    l.expires);

	/* ... use l.proxy (CURLOPT_PROXY), renewing before it expires ... */
	r = redisCommand(c, "RENEW %s %s TTL 60", pool, l.token);
	if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
		fprintf(stderr, "renew: %s\n", r ? r->str : c->errstr);
		goto out;
	}
	printf("renewed until %lld\n", r->integer);
	freeReplyObject(r);

	/* RELEASE with the outcome; a stale token gets -NOTOWNED */
	r = redisCommand(c, "RELEASE %s %s %s LATENCY %d", pool, l.token,
	    outcome, 120);
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "release: %s\n", r ? r->str : c->errstr);
		goto out;
	}
	printf("released %s\n", outcome);
	rc = 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	redisFree(c);
	return rc;
}
