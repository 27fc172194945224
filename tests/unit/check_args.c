/*
 * check_args.c: unit tests for the argument builder, error mapping, URL
 * parsing and validation helpers (no Redis needed).
 */
#include "config.h"

#include <string.h>

#include "ra_internal.h"
#include "testutil.h"

START_TEST(test_args_layout)
{
	struct ra_args a;

	ra_args_init(&a, RA_FN_PING);
	ra_args_key(&a, "ra", "web", ":free");
	ra_args_rawkey(&a, "k2", 2);
	ra_args_str(&a, "x");
	ra_args_ll(&a, -42);
	ra_args_ms(&a, 1.5);
	ra_args_bin(&a, "a\0b", 3);
	ck_assert_int_eq(ra_args_finish(&a), 0);
	ck_assert_int_eq(a.argc, 9);
	ck_assert_str_eq(a.argv[0], "FCALL");
	ck_assert_str_eq(a.argv[1], "ra1_" RA_BUILD "_ping");
	ck_assert_str_eq(a.argv[2], "2");
	ck_assert_str_eq(a.argv[3], "{ra:web}:free");
	ck_assert_str_eq(a.argv[4], "k2");
	ck_assert_str_eq(a.argv[5], "x");
	ck_assert_str_eq(a.argv[6], "-42");
	ck_assert_str_eq(a.argv[7], "1500");
	ck_assert_uint_eq(a.argvlen[8], 3);
	ck_assert_int_eq(memcmp(a.argv[8], "a\0b", 3), 0);
	ra_args_deinit(&a);
}
END_TEST

/* read-only functions go through FCALL_RO, the others FCALL */
START_TEST(test_args_read_only)
{
	struct ra_args a;

	ra_args_init(&a, RA_FN_COUNTS);
	ck_assert_str_eq(a.argv[0], "FCALL");
	ra_args_deinit(&a);
	ra_args_init(&a, RA_FN_LIST);
	ck_assert_str_eq(a.argv[0], "FCALL_RO");
	ck_assert_str_eq(a.argv[1], "ra1_" RA_BUILD "_list");
	ra_args_deinit(&a);
}
END_TEST

START_TEST(test_key_after_arg_refused)
{
	struct ra_args a;

	ra_args_init(&a, RA_FN_PING);
	ra_args_str(&a, "arg");
	ra_args_rawkey(&a, "late", 4);
	ck_assert_int_eq(ra_args_finish(&a), -1);
	ra_args_deinit(&a);
}
END_TEST

START_TEST(test_error_words)
{
	redisReply r = { 0 };
	int err = 0;
	char errstr[RA_ERRSTR_LEN];

	r.type = REDIS_REPLY_ERROR;
	r.str = (char *)"NOT_OWNED token is stale";
	r.len = strlen(r.str);
	ck_assert_int_eq(ra_reply_error(&r, &err, errstr), -1);
	ck_assert_int_eq(err, RA_ERR_NOT_OWNED);
	ck_assert_str_eq(errstr, "token is stale");

	r.str = (char *)"ERR user_script:12: EMPTY pool web has no free item"
	    " script: abc";
	ck_assert_int_eq(ra_reply_error(&r, &err, errstr), -1);
	ck_assert_int_eq(err, RA_ERR_EMPTY);

	r.str = (char *)"LOADING Redis is loading";
	ck_assert_int_eq(ra_reply_error(&r, &err, errstr), -1);
	ck_assert_int_eq(err, RA_ERR_BACKEND_DOWN);

	r.str = (char *)"WRONGTYPE Operation against a key";
	ck_assert_int_eq(ra_reply_error(&r, &err, errstr), -1);
	ck_assert_int_eq(err, RA_ERR_SCRIPT);

	ck_assert_int_eq(ra_reply_error(NULL, &err, errstr), -1);
	ck_assert_int_eq(err, RA_ERR_BACKEND_DOWN);

	r.type = REDIS_REPLY_INTEGER;
	err = 0;
	ck_assert_int_eq(ra_reply_error(&r, &err, errstr), 0);
	ck_assert_int_eq(err, 0);
	ck_assert_str_eq(ra_strerror(RA_ERR_NOT_OWNED), "NOT_OWNED");
	ck_assert_str_eq(ra_strerror(999), "UNKNOWN");
}
END_TEST

START_TEST(test_url_parse)
{
	struct ra_options o;
	char buf[256], err[128];

	ck_assert_int_eq(ra_options_parse_url(&o, "redis://127.0.0.1:6380/3",
	    buf, sizeof buf, err, sizeof err), 0);
	ck_assert_str_eq(o.host, "127.0.0.1");
	ck_assert_int_eq(o.port, 6380);
	ck_assert_int_eq(o.db, 3);
	ck_assert_ptr_null(o.password);

	ck_assert_int_eq(ra_options_parse_url(&o, "redis://u:p%w@[::1]",
	    buf, sizeof buf, err, sizeof err), 0);
	ck_assert_str_eq(o.host, "::1");
	ck_assert_str_eq(o.username, "u");
	ck_assert_str_eq(o.password, "p%w");
	ck_assert_int_eq(o.port, 6379);

	ck_assert_int_eq(ra_options_parse_url(&o, "redis://:secret@h",
	    buf, sizeof buf, err, sizeof err), 0);
	ck_assert_ptr_null(o.username);
	ck_assert_str_eq(o.password, "secret");

	ck_assert_int_eq(ra_options_parse_url(&o, "redis://u:p@s/s@h:7/2",
	    buf, sizeof buf, err, sizeof err), 0);
	ck_assert_str_eq(o.username, "u");
	ck_assert_str_eq(o.password, "p@s/s");
	ck_assert_str_eq(o.host, "h");
	ck_assert_int_eq(o.port, 7);
	ck_assert_int_eq(o.db, 2);

	ck_assert_int_eq(ra_options_parse_url(&o, "unix:///run/r.sock?db=2",
	    buf, sizeof buf, err, sizeof err), 0);
	ck_assert_str_eq(o.path, "/run/r.sock");
	ck_assert_int_eq(o.db, 2);

	ck_assert_int_eq(ra_options_parse_url(&o, "redis://h:0", buf,
	    sizeof buf, err, sizeof err), -1);
	ck_assert_int_eq(ra_options_parse_url(&o, "redis://h:99999", buf,
	    sizeof buf, err, sizeof err), -1);
	ck_assert_int_eq(ra_options_parse_url(&o, "http://h", buf,
	    sizeof buf, err, sizeof err), -1);
	ck_assert_int_eq(ra_options_parse_url(&o, "unix://rel.sock", buf,
	    sizeof buf, err, sizeof err), -1);
	ck_assert_int_eq(ra_options_parse_url(&o, "redis://h/x", buf,
	    sizeof buf, err, sizeof err), -1);
	ck_assert_int_eq(ra_options_parse_url(&o, "redis://hostname", buf,
	    4, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
}
END_TEST

START_TEST(test_validation)
{
	int err = 0;
	char errstr[RA_ERRSTR_LEN], big[RA_KEY_MAX + 2];

	ck_assert_int_eq(ra_check_key("item", "", &err, errstr), -1);
	ck_assert_int_eq(err, RA_ERR_BAD_ARGUMENT);
	ck_assert_int_eq(ra_check_key("item", NULL, &err, errstr), -1);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(ra_check_key("item", big, &err, errstr), -1);
	big[RA_KEY_MAX] = '\0';
	ck_assert_int_eq(ra_check_key("item", big, &err, errstr), 0);

	ck_assert_int_eq(ra_check_ttl("ttl", 1.5, false, &err, errstr), 0);
	ck_assert_int_eq(ra_check_ttl("ttl", -3, false, &err, errstr), -1);
	ck_assert_int_eq(ra_check_ttl("ttl", RA_TTL_DEFAULT, true, &err,
	    errstr), 0);
	ck_assert_int_eq(ra_check_ttl("ttl", RA_TTL_DEFAULT, false, &err,
	    errstr), -1);
	ck_assert_int_eq(ra_check_ttl("ttl", 1e12, false, &err, errstr), -1);
	ck_assert_int_eq(ra_check_ttl("ttl", 0.0 / 0.0, false, &err, errstr),
	    -1);
}
END_TEST

START_TEST(test_token)
{
	char a[RA_TOKEN_LEN + 1], b[RA_TOKEN_LEN + 1];

	ck_assert_int_eq(ra_random_token(a), 0);
	ck_assert_int_eq(ra_random_token(b), 0);
	ck_assert_uint_eq(strlen(a), RA_TOKEN_LEN);
	ck_assert_uint_eq(strspn(a, "0123456789abcdef"), RA_TOKEN_LEN);
	ck_assert_str_ne(a, b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("args");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_args_layout);
	tcase_add_test(tc, test_args_read_only);
	tcase_add_test(tc, test_key_after_arg_refused);
	tcase_add_test(tc, test_error_words);
	tcase_add_test(tc, test_url_parse);
	tcase_add_test(tc, test_validation);
	tcase_add_test(tc, test_token);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
