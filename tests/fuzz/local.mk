# tests/fuzz/local.mk: fuzz harnesses of the parsers that read untrusted
# input.  With --enable-fuzz they are libFuzzer programs (clang
# -fsanitize=fuzzer,address,undefined); otherwise tests/fuzz/driver.c
# gives them a main() replaying files, and make check replays the
# committed corpus (tests/fuzz/corpus/<harness>/) through them, under
# ASan and UBSan when the compiler has them (FUZZ_CFLAGS, configure.ac).
# The sources under test are compiled into each harness (not taken from
# the libraries), so they are instrumented too.  The code proxypoold and
# proxypoolctl share (src/common) is fuzzed once: its proxy URLs by
# fuzz_proxyurl, its proxies file format by fuzz_proxyfile.  The
# gateway's parsers of client input: HTTP heads by fuzz_gwhttp, the
# SOCKS5 handshake by fuzz_gwsocks.
FUZZ_HARNESSES = tests/fuzz/fuzz_resp tests/fuzz/fuzz_proxyurl \
	tests/fuzz/fuzz_conf tests/fuzz/fuzz_codec tests/fuzz/fuzz_proxyfile \
	tests/fuzz/fuzz_gwhttp tests/fuzz/fuzz_gwsocks
check_PROGRAMS += $(FUZZ_HARNESSES)
TESTS += tests/fuzz/replay.sh
EXTRA_DIST += tests/fuzz/replay.sh tests/fuzz/corpus tests/fuzz/lsan.supp

if ENABLE_FUZZ
FUZZ_MAIN =
else
FUZZ_MAIN = tests/fuzz/driver.c
endif
FUZZ_CFLAGS_ALL = $(AM_CFLAGS) $(FUZZ_CFLAGS) -I$(top_srcdir)/tests/fuzz
FUZZ_DAEMON_CPPFLAGS = $(AM_CPPFLAGS) $(COMMON_CPPFLAGS) \
	-I$(top_srcdir)/src/daemon

tests_fuzz_fuzz_resp_SOURCES = tests/fuzz/fuzz_resp.c tests/fuzz/fuzz.h \
	src/daemon/resp.c src/common/xmalloc.c $(FUZZ_MAIN)
EXTRA_tests_fuzz_fuzz_resp_SOURCES = tests/fuzz/driver.c
tests_fuzz_fuzz_resp_CPPFLAGS = $(FUZZ_DAEMON_CPPFLAGS)
tests_fuzz_fuzz_resp_CFLAGS = $(FUZZ_CFLAGS_ALL) $(HIREDIS_CFLAGS) \
	$(LIBEVENT_CFLAGS)
tests_fuzz_fuzz_resp_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_resp_LDADD = $(HIREDIS_LIBS) $(LIBEVENT_LIBS)

tests_fuzz_fuzz_proxyurl_SOURCES = tests/fuzz/fuzz_proxyurl.c \
	tests/fuzz/fuzz.h src/common/proxyurl.c src/common/xmalloc.c \
	$(FUZZ_MAIN)
EXTRA_tests_fuzz_fuzz_proxyurl_SOURCES = tests/fuzz/driver.c
tests_fuzz_fuzz_proxyurl_CPPFLAGS = $(FUZZ_DAEMON_CPPFLAGS)
tests_fuzz_fuzz_proxyurl_CFLAGS = $(FUZZ_CFLAGS_ALL) $(LIBCURL_CFLAGS)
tests_fuzz_fuzz_proxyurl_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_proxyurl_LDADD = $(LIBCURL_LIBS)

tests_fuzz_fuzz_conf_SOURCES = tests/fuzz/fuzz_conf.c tests/fuzz/fuzz.h \
	src/daemon/conf.c src/daemon/log.c $(COMMON_SOURCES) $(FUZZ_MAIN)
EXTRA_tests_fuzz_fuzz_conf_SOURCES = tests/fuzz/driver.c
tests_fuzz_fuzz_conf_CPPFLAGS = $(FUZZ_DAEMON_CPPFLAGS)
tests_fuzz_fuzz_conf_CFLAGS = $(FUZZ_CFLAGS_ALL) $(HIREDIS_CFLAGS) \
	$(LIBCONFIG_CFLAGS) $(LIBCURL_CFLAGS)
tests_fuzz_fuzz_conf_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_conf_LDADD = libredisallocator.la $(HIREDIS_LIBS) \
	$(LIBCONFIG_LIBS) $(LIBCURL_LIBS) -lm

# alloc_codec.c is compiled in (not only linked) so it is instrumented
tests_fuzz_fuzz_codec_SOURCES = tests/fuzz/fuzz_codec.c tests/fuzz/fuzz.h \
	src/lib/alloc_codec.c $(FUZZ_MAIN)
EXTRA_tests_fuzz_fuzz_codec_SOURCES = tests/fuzz/driver.c
tests_fuzz_fuzz_codec_CFLAGS = $(FUZZ_CFLAGS_ALL) $(HIREDIS_CFLAGS)
tests_fuzz_fuzz_codec_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_CFLAGS)
# (and the objects of the library, whose internal functions it calls)
tests_fuzz_fuzz_codec_LDADD = libredisallocator_internal.la $(HIREDIS_LIBS) -lm

tests_fuzz_fuzz_proxyfile_SOURCES = tests/fuzz/fuzz_proxyfile.c \
	tests/fuzz/fuzz.h src/ctl/output.c src/ctl/proxyfile.c \
	$(COMMON_SOURCES) $(FUZZ_MAIN)
EXTRA_tests_fuzz_fuzz_proxyfile_SOURCES = tests/fuzz/driver.c
tests_fuzz_fuzz_proxyfile_CPPFLAGS = $(AM_CPPFLAGS) $(COMMON_CPPFLAGS) \
	-I$(top_srcdir)/src/ctl
tests_fuzz_fuzz_proxyfile_CFLAGS = $(FUZZ_CFLAGS_ALL) $(LIBCURL_CFLAGS)
tests_fuzz_fuzz_proxyfile_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_proxyfile_LDADD = $(LIBCURL_LIBS) -lm

tests_fuzz_fuzz_gwhttp_SOURCES = tests/fuzz/fuzz_gwhttp.c tests/fuzz/fuzz.h \
	src/daemon/gw_http.c src/common/xmalloc.c $(FUZZ_MAIN)
EXTRA_tests_fuzz_fuzz_gwhttp_SOURCES = tests/fuzz/driver.c
tests_fuzz_fuzz_gwhttp_CPPFLAGS = $(FUZZ_DAEMON_CPPFLAGS)
tests_fuzz_fuzz_gwhttp_CFLAGS = $(FUZZ_CFLAGS_ALL)
tests_fuzz_fuzz_gwhttp_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_gwhttp_LDADD = $(HTTP_PARSER_LIBS)

tests_fuzz_fuzz_gwsocks_SOURCES = tests/fuzz/fuzz_gwsocks.c tests/fuzz/fuzz.h \
	src/daemon/gw_socks.c $(FUZZ_MAIN)
EXTRA_tests_fuzz_fuzz_gwsocks_SOURCES = tests/fuzz/driver.c
tests_fuzz_fuzz_gwsocks_CPPFLAGS = $(FUZZ_DAEMON_CPPFLAGS)
tests_fuzz_fuzz_gwsocks_CFLAGS = $(FUZZ_CFLAGS_ALL)
tests_fuzz_fuzz_gwsocks_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_gwsocks_LDADD =
