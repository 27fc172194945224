/*
 * check_alloc_codec.c: the allocator's argument builders and reply
 * decoders without Redis: the FCALL each call sends, input validation,
 * decoding of well-formed and malformed replies.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ra_alloc.h"
#include "testutil.h"

/* ---- hand-made replies ---- */

static redisReply *
mk_int(long long v)
{
	redisReply *r = calloc(1, sizeof *r);

	r->type = REDIS_REPLY_INTEGER;
	r->integer = v;
	return r;
}

static redisReply *
mk_str(const char *s)
{
	redisReply *r = calloc(1, sizeof *r);

	r->type = REDIS_REPLY_STRING;
	r->len = strlen(s);
	r->str = strdup(s);
	return r;
}

static redisReply *
mk_nil(void)
{
	redisReply *r = calloc(1, sizeof *r);

	r->type = REDIS_REPLY_NIL;
	return r;
}

/* An array of n replies given as arguments. */
static redisReply *
mk_arr(size_t n, ...)
{
	redisReply *r = calloc(1, sizeof *r);
	va_list ap;
	size_t i;

	r->type = REDIS_REPLY_ARRAY;
	r->elements = n;
	r->element = calloc(n ? n : 1, sizeof *r->element);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		r->element[i] = va_arg(ap, redisReply *);
	va_end(ap);
	return r;
}

static void
rfree(redisReply *r)
{
	size_t i;

	if (r->type == REDIS_REPLY_ARRAY) {
		for (i = 0; i < r->elements; i++)
			rfree(r->element[i]);
		free(r->element);
	}
	free(r->str);
	free(r);
}

/* argv[i] of a built call as a string. */
static const char *
arg(const struct ra_args *a, int i)
{
	ck_assert_int_lt(i, a->argc);
	return a->argv[i];
}

/* Index of the first ARGV (after the keys). */
static int
argv0(const struct ra_args *a)
{
	return 3 + a->nkeys;
}

START_TEST(test_lease_args)
{
	struct ra_args a;
	struct ra_lease_req req;
	int err = 0, b;
	char errstr[RA_ERRSTR_LEN];
	size_t i;

	ra_lease_req_init(&req);
	ck_assert(req.ttl == RA_TTL_DEFAULT);
	ck_assert_int_eq(req.shared, -1);
	req.ttl = 1.5;
	req.name = "sess";
	req.holder = "me";
	ck_assert_int_eq(ra_build_lease(&a, "ra", "pool", &req, &err,
	    errstr), 0);
	ck_assert_int_eq(ra_args_finish(&a), 0);
	ck_assert_str_eq(arg(&a, 0), "FCALL");
	ck_assert_str_eq(arg(&a, 1), ra_functions[RA_FN_LEASE].name);
	ck_assert_str_eq(arg(&a, 2), "12");
	ck_assert_str_eq(arg(&a, 3), "{ra:pool}:meta");
	ck_assert_str_eq(arg(&a, 14), "{ra:pool}:fence");
	b = argv0(&a);
	ck_assert_int_eq(strlen(arg(&a, b)), RA_TOKEN_LEN);
	for (i = 0; i < RA_TOKEN_LEN; i++)
		ck_assert(strchr("0123456789abcdef", arg(&a, b)[i]) != NULL);
	ck_assert_str_eq(arg(&a, b + 1), "1500");
	ck_assert_str_eq(arg(&a, b + 2), "-1");
	ck_assert_str_eq(arg(&a, b + 3), "sess");
	ck_assert_str_eq(arg(&a, b + 4), "-1");
	ck_assert_str_eq(arg(&a, b + 5), "me");
	ra_args_deinit(&a);
	/* two leases never share a token */
	{
		struct ra_args a2;
		char t1[64];

		ck_assert_int_eq(ra_build_lease(&a, "ra", "p", NULL, &err,
		    errstr), 0);
		ck_assert_int_eq(ra_build_lease(&a2, "ra", "p", NULL, &err,
		    errstr), 0);
		snprintf(t1, sizeof t1, "%s", arg(&a, argv0(&a)));
		ck_assert_str_ne(t1, a2.argv[argv0(&a2)]);
		ra_args_deinit(&a);
		ra_args_deinit(&a2);
	}
}
END_TEST

START_TEST(test_validation)
{
	struct ra_args a;
	struct ra_lease_req req;
	struct ra_pool_conf c;
	struct ra_item it[2] = { { "x", 0, 0 }, { "y", 0, 0 } };
	char big[RA_KEY_MAX + 2];
	int err;
	char errstr[RA_ERRSTR_LEN];
	const char *keys[2] = { "a", "" };

/* err, errstr and a.argc are reset first, so each call must set them */
#define BAD(call) do {							\
	err = 0;							\
	errstr[0] = '\0';						\
	a.argc = -1;							\
	ck_assert_int_eq((call), -1);					\
	ck_assert_int_eq(err, RA_ERR_BAD_ARGUMENT);			\
	ck_assert_int_eq(a.argc, 0);					\
	ck_assert(errstr[0] != '\0');					\
} while (0)

	memset(big, 'k', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	BAD(ra_build_pool_get(&a, "ra", "", &err, errstr));
	BAD(ra_build_pool_get(&a, "ra", big, &err, errstr));
	BAD(ra_build_pool_get(&a, "ra", NULL, &err, errstr));
	ra_lease_req_init(&req);
	req.ttl = -2;
	BAD(ra_build_lease(&a, "ra", "p", &req, &err, errstr));
	req.ttl = NAN;
	BAD(ra_build_lease(&a, "ra", "p", &req, &err, errstr));
	req.ttl = 1e11;
	BAD(ra_build_lease(&a, "ra", "p", &req, &err, errstr));
	req.ttl = 0;
	BAD(ra_build_lease(&a, "ra", "p", &req, &err, errstr));
	req.ttl = 1;
	req.shared = 2;
	BAD(ra_build_lease(&a, "ra", "p", &req, &err, errstr));
	req.shared = 0;
	req.name = big;
	BAD(ra_build_lease(&a, "ra", "p", &req, &err, errstr));
	BAD(ra_build_renew(&a, "ra", "p", "xyz", 1, &err, errstr));
	BAD(ra_build_renew(&a, "ra", "p", "00112233445566778899aabbccddeeff",
	    -0.5, &err, errstr));
	BAD(ra_build_release(&a, "ra", "p", "00112233445566778899aabbccddeeff",
	    (enum ra_outcome)9, -1, &err, errstr));
	BAD(ra_build_release(&a, "ra", "p", "00112233445566778899aabbccddeeff",
	    RA_OUTCOME_OK, NAN, &err, errstr));
	BAD(ra_build_quarantine(&a, "ra", "p", "x", INFINITY, &err, errstr));
	BAD(ra_build_bind(&a, "ra", "p", "", "x", 1, &err, errstr));
	BAD(ra_build_list(&a, "ra", "p", (enum ra_state)77, 0, 10, &err,
	    errstr));
	it[1].key = "";
	BAD(ra_build_items_add(&a, "ra", "p", 0, it, 2, &err, errstr));
	ck_assert_ptr_nonnull(strstr(errstr, "item 1"));
	it[1].key = "y";
	it[1].priority = 40000;
	BAD(ra_build_items_add(&a, "ra", "p", 0, it, 2, &err, errstr));
	it[1].priority = 0;
	it[1].expires = -1;
	BAD(ra_build_items_add(&a, "ra", "p", 0, it, 2, &err, errstr));
	BAD(ra_build_items_remove(&a, "ra", "p", keys, 2, &err, errstr));
	ra_pool_conf_init(&c);
	c.lease_ttl = 0;
	BAD(ra_build_pool_create(&a, "ra", "p", &c, &err, errstr));
	ra_pool_conf_init(&c);
	c.eject_max_percent = 101;
	BAD(ra_build_pool_create(&a, "ra", "p", &c, &err, errstr));
	ra_pool_conf_init(&c);
	c.ban_time = -1;
	BAD(ra_build_pool_create(&a, "ra", "p", &c, &err, errstr));
#undef BAD
}
END_TEST

START_TEST(test_items_args)
{
	struct ra_args a;
	struct ra_item it[2] = { { "http://a:1", 3, 0 }, { "b", -2, 2.5 } };
	struct ra_pool_conf c;
	int err = 0, b;
	char errstr[RA_ERRSTR_LEN];

	ck_assert_int_eq(ra_build_items_add(&a, "pfx", "p", 7, it, 2, &err,
	    errstr), 0);
	ck_assert_str_eq(arg(&a, 1), ra_functions[RA_FN_ITEMS_ADD].name);
	ck_assert_str_eq(arg(&a, 3), "{pfx:p}:meta");
	b = argv0(&a);
	ck_assert_str_eq(arg(&a, b), "7");
	ck_assert_str_eq(arg(&a, b + 1), "http://a:1");
	ck_assert_str_eq(arg(&a, b + 2), "3");
	ck_assert_str_eq(arg(&a, b + 3), "0");
	ck_assert_str_eq(arg(&a, b + 4), "b");
	ck_assert_str_eq(arg(&a, b + 5), "-2");
	ck_assert_str_eq(arg(&a, b + 6), "2500");
	ck_assert_int_eq(a.argc, b + 7);
	ra_args_deinit(&a);
	ra_pool_conf_init(&c);
	ck_assert_int_eq(ra_build_pool_create(&a, "ra", "p", &c, &err,
	    errstr), 0);
	ck_assert_int_eq(a.nkeys, 13);
	ck_assert_str_eq(arg(&a, 15), "ra:pools");
	b = argv0(&a);
	ck_assert_str_eq(arg(&a, b), "p");
	ck_assert_str_eq(arg(&a, b + 3), "60000");	/* lease_ttl */
	ck_assert_str_eq(arg(&a, b + 4), "3600000");	/* bind_ttl */
	ck_assert_str_eq(arg(&a, b + 9), "600000");	/* ban_time */
	ra_args_deinit(&a);
	ck_assert_int_eq(ra_build_list(&a, "ra", "p", RA_STATE_DRAINING, 42, 5,
	    &err, errstr), 0);
	b = argv0(&a);
	ck_assert_str_eq(arg(&a, b), "42");
	ck_assert_str_eq(arg(&a, b + 1), "5");
	ck_assert_str_eq(arg(&a, b + 2), "d");
	ra_args_deinit(&a);
	ck_assert_int_eq(ra_build_release(&a, "ra", "p",
	    "00112233445566778899aabbccddeeff", RA_OUTCOME_BANNED, 12.5, &err,
	    errstr), 0);
	b = argv0(&a);
	ck_assert_str_eq(arg(&a, b + 1), "BANNED");
	ck_assert_str_eq(arg(&a, b + 2), "12.5");
	ra_args_deinit(&a);
}
END_TEST

START_TEST(test_decode_lease)
{
	struct ra_result res;
	redisReply *r;

	memset(&res, 0, sizeof res);
	r = mk_arr(6, mk_str("http://p:1"), mk_int(1700000000123LL),
	    mk_int(42), mk_int(1), mk_int(0),
	    mk_str("00112233445566778899aabbccddeeff"));
	ra_decode_lease(r, &res);
	ck_assert_int_eq(res.err, 0);
	ck_assert_str_eq(res.u.lease.item, "http://p:1");
	ck_assert_int_eq(res.u.lease.expires_ms, 1700000000123LL);
	ck_assert_int_eq(res.u.lease.fence, 42);
	ck_assert_int_eq(res.u.lease.shared, 1);
	ck_assert_int_eq(res.u.lease.bound, 0);
	ck_assert_str_eq(res.u.lease.token, "00112233445566778899aabbccddeeff");
	ra_free_lease_result(&res);
	rfree(r);
	/* malformed: short token, too few elements, not an array */
	memset(&res, 0, sizeof res);
	r = mk_arr(6, mk_str("x"), mk_int(1), mk_int(2), mk_int(0), mk_int(0),
	    mk_str("abc"));
	ra_decode_lease(r, &res);
	ck_assert_int_eq(res.err, RA_ERR_PROTOCOL);
	rfree(r);
	memset(&res, 0, sizeof res);
	r = mk_arr(2, mk_str("x"), mk_int(1));
	ra_decode_lease(r, &res);
	ck_assert_int_eq(res.err, RA_ERR_PROTOCOL);
	rfree(r);
	memset(&res, 0, sizeof res);
	r = mk_int(3);
	ra_decode_lease(r, &res);
	ck_assert_int_eq(res.err, RA_ERR_PROTOCOL);
	rfree(r);
}
END_TEST

START_TEST(test_decode_others)
{
	struct ra_result res;
	redisReply *r;

	memset(&res, 0, sizeof res);
	r = mk_arr(8, mk_int(10), mk_int(5), mk_int(2), mk_int(1), mk_int(1),
	    mk_int(1), mk_int(4), mk_int(3));
	ra_decode_counts(r, &res);
	ck_assert_int_eq(res.err, 0);
	ck_assert_int_eq(res.u.counts.total, 10);
	ck_assert_int_eq(res.u.counts.free, 5);
	ck_assert_int_eq(res.u.counts.leased, 2);
	ck_assert_int_eq(res.u.counts.leases, 4);
	ck_assert_int_eq(res.u.counts.bindings, 3);
	rfree(r);
	memset(&res, 0, sizeof res);
	r = mk_arr(2, mk_str("17"), mk_arr(1, mk_arr(9, mk_str("k"),
	    mk_str("q"), mk_int(-3), mk_int(2), mk_int(0), mk_int(99),
	    mk_int(4), mk_int(1), mk_str("12.5"))));
	ra_decode_list(r, &res);
	ck_assert_int_eq(res.err, 0);
	ck_assert_int_eq(res.u.list.cursor, 17);
	ck_assert_int_eq(res.u.list.n, 1);
	ck_assert_str_eq(res.u.list.items[0].key, "k");
	ck_assert_int_eq(res.u.list.items[0].state, RA_STATE_QUARANTINED);
	ck_assert_int_eq(res.u.list.items[0].priority, -3);
	ck_assert_int_eq(res.u.list.items[0].until_ms, 99);
	ck_assert_int_eq(res.u.list.items[0].ejections, 1);
	ck_assert(fabs(res.u.list.items[0].latency_ms - 12.5) < 1e-9);
	ra_free_list_result(&res);
	rfree(r);
	memset(&res, 0, sizeof res);
	r = mk_arr(2, mk_str("abc"), mk_arr(0));
	ra_decode_list(r, &res);
	ck_assert_int_eq(res.err, RA_ERR_PROTOCOL);
	rfree(r);
	memset(&res, 0, sizeof res);
	r = mk_nil();
	ra_decode_str(r, &res);
	ck_assert_int_eq(res.err, 0);
	ck_assert_ptr_null(res.u.str);
	rfree(r);
	r = mk_str("item");
	ra_decode_str(r, &res);
	ck_assert_str_eq(res.u.str, "item");
	ra_free_str_result(&res);
	rfree(r);
	memset(&res, 0, sizeof res);
	r = mk_arr(2, mk_str("a"), mk_str("b"));
	ra_decode_strlist(r, &res);
	ck_assert_int_eq(res.u.strs.n, 2);
	ck_assert_str_eq(res.u.strs.v[1], "b");
	ra_free_strlist_result(&res);
	rfree(r);
	memset(&res, 0, sizeof res);
	r = mk_arr(9, mk_int(1), mk_int(4), mk_int(1500), mk_int(0), mk_int(5),
	    mk_int(30000), mk_int(300000), mk_int(50), mk_int(600000));
	ra_decode_pool(r, &res);
	ck_assert_int_eq(res.err, 0);
	ck_assert_int_eq(res.u.pool.shared, 1);
	ck_assert_int_eq(res.u.pool.max_shares, 4);
	ck_assert(fabs(res.u.pool.lease_ttl - 1.5) < 1e-9);
	ck_assert(fabs(res.u.pool.eject_max - 300) < 1e-9);
	rfree(r);
	memset(&res, 0, sizeof res);
	r = mk_arr(5, mk_int(1), mk_int(2), mk_int(3), mk_int(4), mk_int(1));
	ra_decode_gc(r, &res);
	ck_assert_int_eq(res.err, 0);
	ck_assert_int_eq(res.u.gc.quarantine, 4);
	ck_assert(res.u.gc.more);
	rfree(r);
	memset(&res, 0, sizeof res);
	r = mk_arr(4, mk_int(1), mk_int(2), mk_int(3), mk_int(4));
	ra_decode_gc(r, &res);		/* the budget flag is not optional */
	ck_assert_int_eq(res.err, RA_ERR_PROTOCOL);
	rfree(r);
	memset(&res, 0, sizeof res);
	r = mk_arr(2, mk_str("0"), mk_int(12));
	ra_decode_step(r, &res);
	ck_assert_int_eq(res.err, 0);
	ck_assert_int_eq(ra_result_step(&res).cursor, 0);
	ck_assert_int_eq(ra_result_step(&res).n, 12);
	rfree(r);
	memset(&res, 0, sizeof res);
	r = mk_str("x");
	ra_decode_integer(r, &res);
	ck_assert_int_eq(res.err, RA_ERR_PROTOCOL);
	rfree(r);
}
END_TEST

START_TEST(test_error_words)
{
	redisReply r;
	int err;
	char errstr[RA_ERRSTR_LEN];

	memset(&r, 0, sizeof r);
	r.type = REDIS_REPLY_ERROR;
	r.str = (char *)"NOT_OWNED no such lease (stale token)";
	r.len = strlen(r.str);
	ck_assert_int_eq(ra_reply_error(&r, &err, errstr), -1);
	ck_assert_int_eq(err, RA_ERR_NOT_OWNED);
	r.str = (char *)"EMPTY no item available";
	ck_assert_int_eq(ra_reply_error(&r, &err, errstr), -1);
	ck_assert_int_eq(err, RA_ERR_EMPTY);
	r.str = (char *)"NO_SUCH_POOL no such pool";
	ck_assert_int_eq(ra_reply_error(&r, &err, errstr), -1);
	ck_assert_int_eq(err, RA_ERR_NO_SUCH_POOL);
}
END_TEST

START_TEST(test_names)
{
	int i;

	for (i = 0; i < RA_STATE__COUNT; i++)
		ck_assert_int_eq(ra_state_parse(ra_state_name(i)), i);
	ck_assert_int_eq(ra_state_parse("QUARANTINED"), RA_STATE_QUARANTINED);
	ck_assert_int_eq(ra_state_parse("bogus"), -1);
	for (i = 0; i < RA_OUTCOME__COUNT; i++)
		ck_assert_int_eq(ra_outcome_parse(ra_outcome_name(i)), i);
	ck_assert_int_eq(ra_outcome_parse("failed"), RA_OUTCOME_FAILED);
	ck_assert_int_eq(ra_outcome_parse("meh"), -1);
	ck_assert_str_eq(ra_state_name((enum ra_state)99), "unknown");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("alloc_codec");
	TCase *tc = tcase_create("builders");

	tcase_add_test(tc, test_lease_args);
	tcase_add_test(tc, test_validation);
	tcase_add_test(tc, test_items_args);
	suite_add_tcase(s, tc);
	tc = tcase_create("decoders");
	tcase_add_test(tc, test_decode_lease);
	tcase_add_test(tc, test_decode_others);
	tcase_add_test(tc, test_error_words);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
