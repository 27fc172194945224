/*
 * check_ctl.c: unit tests of proxypoolctl's output helpers (JSON strings,
 * tables, terminal-safe text, redaction) and of its proxy list reader.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "proxyurl.h"
#include "testutil.h"

/* JSON text of len bytes of s; the caller frees. */
static char *
json_of(const char *s, size_t len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	f = open_memstream(&buf, &size);
	ck_assert_ptr_ne(f, NULL);
	json_string(f, s, len);
	fclose(f);
	return buf;
}

/* Check the JSON form of a string given with its length. */
#define JSON_IS(in, len, want) do {					\
	char *_j = json_of((in), (len));				\
	ck_assert_str_eq(_j, (want));					\
	free(_j);							\
} while (0)

START_TEST(test_json_plain_and_escapes)
{
	JSON_IS("", 0, "\"\"");
	JSON_IS("abc", 3, "\"abc\"");
	JSON_IS("a\"b\\c/", 6, "\"a\\\"b\\\\c/\"");
	JSON_IS("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
	JSON_IS("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"");
	JSON_IS("a\0b", 3, "\"a\\u0000b\"");
}
END_TEST

START_TEST(test_json_utf8)
{
	/* valid sequences of 2, 3 and 4 bytes pass through */
	JSON_IS("\xc3\xa9", 2, "\"\xc3\xa9\"");
	JSON_IS("\xe2\x82\xac", 3, "\"\xe2\x82\xac\"");
	JSON_IS("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");
	/* stray continuation, truncated, overlong, surrogate, > U+10FFFF */
	JSON_IS("\x80", 1, "\"\\ufffd\"");
	JSON_IS("a\xc3", 2, "\"a\\ufffd\"");
	JSON_IS("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");
	JSON_IS("\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\"");
	JSON_IS("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
	JSON_IS("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	JSON_IS("\xff", 1, "\"\\ufffd\"");
}
END_TEST

START_TEST(test_sanitize_and_redact)
{
	char *s;

	s = out_sanitize("a\x1b[2Jb\\\xc3\xa9\xff", 10);
	ck_assert_str_eq(s, "a\\x1b[2Jb\\\\\xc3\xa9\\xff");
	free(s);
	/* a C1 CSI (U+009B) is escaped, U+00A0 and above pass */
	s = out_sanitize("x\xc2\x9b" "2Jy\xc2\xa0", 8);
	ck_assert_str_eq(s, "x\\xc2\\x9b2Jy\xc2\xa0");
	free(s);
	s = proxyurl_redact("http://user:secret@10.0.0.1:3128");
	ck_assert_str_eq(s, "http://user:***@10.0.0.1:3128");
	free(s);
	s = proxyurl_redact("socks5://user@10.0.0.1:1080");
	ck_assert_str_eq(s, "socks5://user@10.0.0.1:1080");
	free(s);
	s = proxyurl_redact("http://10.0.0.1:3128");
	ck_assert_str_eq(s, "http://10.0.0.1:3128");
	free(s);
	s = proxyurl_redact("http://u:p@ss@h:1");
	ck_assert_str_eq(s, "http://u:***@h:1");
	free(s);
}
END_TEST

START_TEST(test_time)
{
	char buf[64];

	out_time(buf, sizeof buf, 1764136200123LL);
	ck_assert_str_eq(buf, "2025-11-26T05:50:00.123Z");
}
END_TEST

START_TEST(test_table)
{
	struct table *t;
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	t = table_create(1);
	ck_assert_uint_eq(table_column(t, "pool"), 0);
	ck_assert_uint_eq(table_column(t, "free"), 1);
	ck_assert_uint_eq(table_column(t, "POOL"), 0);
	table_row(t);
	table_set(t, 0, "web", 3, 0);
	table_set(t, 1, "12", 2, 1);
	table_row(t);
	table_set(t, 0, "a-long-name", 11, 0);
	table_set(t, 1, "7", 1, 1);
	table_set(t, table_column(t, "note"), "x\ny", 3, 0);
	f = open_memstream(&buf, &size);
	table_print(t, f);
	fclose(f);
	ck_assert_str_eq(buf,
	    "POOL         FREE  NOTE\n"
	    "web            12\n"
	    "a-long-name     7  x\\x0ay\n");
	free(buf);
	table_destroy(t);
	table_destroy(NULL);
}
END_TEST

START_TEST(test_check_url)
{
	ck_assert_ptr_eq(proxyurl_check("http://127.0.0.1:3128"), NULL);
	ck_assert_ptr_eq(proxyurl_check("socks5h://u:p@[::1]:1080"), NULL);
	ck_assert_ptr_eq(proxyurl_check("HTTPS://proxy.example:443/"),
	    NULL);
	ck_assert_ptr_ne(proxyurl_check(""), NULL);
	ck_assert_ptr_ne(proxyurl_check("127.0.0.1:3128"), NULL);
	ck_assert_ptr_ne(proxyurl_check("ftp://127.0.0.1:21"), NULL);
	ck_assert_ptr_ne(proxyurl_check("http://127.0.0.1"), NULL);
	ck_assert_ptr_ne(proxyurl_check("http://127.0.0.1:0"), NULL);
	ck_assert_ptr_ne(proxyurl_check("http://127.0.0.1:70000"), NULL);
	ck_assert_ptr_ne(proxyurl_check("http://h:1/path"), NULL);
	ck_assert_ptr_ne(proxyurl_check("http://h:1?q"), NULL);
	ck_assert_ptr_ne(proxyurl_check("http://h :1"), NULL);
}
END_TEST

/* Write text to a temp file and return its path (static buffer). */
static const char *
write_tmp(const char *text)
{
	static char path[] = "/tmp/check_ctl.XXXXXX";
	int fd;

	strcpy(path, "/tmp/check_ctl.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	return path;
}

START_TEST(test_proxyfile_good)
{
	struct proxyfile pf;
	const char *path;
	char *errs = NULL;
	size_t size = 0;
	FILE *ef;

	path = write_tmp("# proxies\n\n  http://127.0.0.1:3128  # local\n"
	    "socks5://10.0.0.2:1080 priority=-3 expires=3600.5\n"
	    "http://127.0.0.1:3129\texpires=60 priority=7\n\t\n");
	ef = open_memstream(&errs, &size);
	ck_assert_int_eq(proxyfile_load(&pf, path, ef), 0);
	fclose(ef);
	ck_assert_str_eq(errs, "");
	ck_assert_uint_eq(pf.n, 3);
	ck_assert_str_eq(pf.v[0].url, "http://127.0.0.1:3128");
	ck_assert_uint_eq(pf.v[0].line, 3);
	ck_assert_int_eq(pf.v[0].has_priority, 0);
	ck_assert_ptr_eq(pf.v[0].expires, NULL);
	ck_assert_str_eq(pf.v[1].url, "socks5://10.0.0.2:1080");
	ck_assert_uint_eq(pf.v[1].line, 4);
	ck_assert_int_eq(pf.v[1].has_priority, 1);
	ck_assert_int_eq(pf.v[1].priority, -3);
	ck_assert_str_eq(pf.v[1].expires, "3600.5");
	ck_assert_int_eq(pf.v[2].priority, 7);
	ck_assert_str_eq(pf.v[2].expires, "60");
	free(errs);
	proxyfile_clear(&pf);
	unlink(path);
}
END_TEST

START_TEST(test_proxyfile_bad)
{
	struct proxyfile pf;
	const char *path;
	char *errs = NULL, want[256];
	size_t size = 0;
	FILE *ef;

	path = write_tmp("http://127.0.0.1:3128\nnot a url\n"
	    "ftp://u:secret@h:21\nhttp://127.0.0.1:3129\n"
	    "http://127.0.0.1:3130 priority=x\n"
	    "http://127.0.0.1:3131 color=red\n"
	    "http://127.0.0.1:3128");
	ef = open_memstream(&errs, &size);
	ck_assert_int_eq(proxyfile_load(&pf, path, ef), 5);
	fclose(ef);
	/* nothing is kept when a line is bad */
	ck_assert_uint_eq(pf.n, 0);
	snprintf(want, sizeof want, "%s:2: not: ", path);
	ck_assert_ptr_ne(strstr(errs, want), NULL);
	snprintf(want, sizeof want, "%s:3: ftp://u:***@h:21: unsupported",
	    path);
	ck_assert_ptr_ne(strstr(errs, want), NULL);
	ck_assert_ptr_eq(strstr(errs, "secret"), NULL);
	snprintf(want, sizeof want, "%s:5: http://127.0.0.1:3130: bad "
	    "priority 'x'", path);
	ck_assert_ptr_ne(strstr(errs, want), NULL);
	snprintf(want, sizeof want, "%s:6: http://127.0.0.1:3131: unexpected "
	    "'color=red'", path);
	ck_assert_ptr_ne(strstr(errs, want), NULL);
	snprintf(want, sizeof want, "%s:7: http://127.0.0.1:3128: duplicate "
	    "of line 1", path);
	ck_assert_ptr_ne(strstr(errs, want), NULL);
	ck_assert_ptr_eq(strstr(errs, ":1:"), NULL);
	ck_assert_ptr_eq(strstr(errs, ":4:"), NULL);
	free(errs);
	unlink(path);
	ck_assert_int_eq(proxyfile_load(&pf, "/nonexistent/list", stderr), -1);
}
END_TEST

START_TEST(test_strset)
{
	struct strset set = { NULL, 0, 0 };
	char keys[500][16];
	int i;

	for (i = 0; i < 500; i++) {
		snprintf(keys[i], sizeof keys[i], "http://h%d:1", i);
		ck_assert_int_eq(strset_add(&set, keys[i]), 1);
	}
	ck_assert_uint_eq(set.n, 500);
	/* equal strings at other addresses are found, after growth too */
	for (i = 0; i < 500; i++) {
		char again[16];

		snprintf(again, sizeof again, "http://h%d:1", i);
		ck_assert_int_eq(strset_add(&set, again), 0);
	}
	ck_assert_int_eq(strset_add(&set, "http://h500:1"), 1);
	ck_assert_uint_eq(set.n, 501);
	strset_clear(&set);
	ck_assert_uint_eq(set.n, 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_json_plain_and_escapes);
	tcase_add_test(tc, test_json_utf8);
	tcase_add_test(tc, test_sanitize_and_redact);
	tcase_add_test(tc, test_time);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_strset);
	tcase_add_test(tc, test_check_url);
	tcase_add_test(tc, test_proxyfile_good);
	tcase_add_test(tc, test_proxyfile_bad);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
