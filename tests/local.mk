# tests/local.mk: make check.  Check binaries run under tests/with-redis
# (a private redis-server each); shell and Python tests start their own.
TEST_EXTENSIONS = .sh .py
LOG_COMPILER = $(SHELL) $(srcdir)/tests/with-redis
SH_LOG_COMPILER = $(SHELL)
PY_LOG_COMPILER = $(PYTHON3)
AM_TESTS_ENVIRONMENT = \
	top_srcdir='$(abs_top_srcdir)'; top_builddir='$(abs_top_builddir)'; \
	REDIS_SERVER='$(REDIS_SERVER)'; REDIS_CLI='$(REDIS_CLI)'; \
	REDIS_BENCHMARK='$(REDIS_BENCHMARK)'; TINYPROXY='$(TINYPROXY)'; \
	PYTHON3='$(PYTHON3)'; CK_DEFAULT_TIMEOUT=60; \
	PP_SBINDIR='$(sbindir)'; PP_SYSCONFDIR='$(sysconfdir)'; \
	export top_srcdir top_builddir REDIS_SERVER REDIS_CLI REDIS_BENCHMARK \
	TINYPROXY PYTHON3 CK_DEFAULT_TIMEOUT PP_SBINDIR PP_SYSCONFDIR;

EXTRA_DIST += tests/lib.sh tests/with-redis tests/README.md
# shared by the benchmarks (tests/bench; not part of make check)
EXTRA_DIST += tests/bench/bench_lib.sh

# Check unit and library integration tests
TEST_CK_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(HIREDIS_CFLAGS) \
	-I$(top_srcdir)/tests/unit
TEST_CK_LDADD = libredisallocator.la libtestutil.la $(CHECK_LIBS) $(HIREDIS_LIBS)
# Tests of internal functions and data (ra_args_*, ra_decode_*, the
# function table ra_functions...) link the library's objects
# (src/lib/local.mk), after the test helpers: the helpers' calls of the
# API resolve in those archives only when they come later on the command
# line.
TEST_CK_INTERNAL_LDADD = libtestutil.la libredisallocator_internal.la \
	$(CHECK_LIBS) $(HIREDIS_LIBS)

check_LTLIBRARIES += libtestutil.la
libtestutil_la_SOURCES = tests/unit/testutil.c tests/unit/testutil.h
libtestutil_la_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(HIREDIS_CFLAGS)

check_PROGRAMS += tests/unit/check_args
tests_unit_check_args_SOURCES = tests/unit/check_args.c
tests_unit_check_args_CFLAGS = $(TEST_CK_CFLAGS)
tests_unit_check_args_LDADD = $(TEST_CK_INTERNAL_LDADD)

check_PROGRAMS += tests/unit/check_conn
tests_unit_check_conn_SOURCES = tests/unit/check_conn.c
tests_unit_check_conn_CFLAGS = $(TEST_CK_CFLAGS)
tests_unit_check_conn_CFLAGS += $(LIBEVENT_CFLAGS)
tests_unit_check_conn_LDADD = $(TEST_CK_INTERNAL_LDADD) $(LIBEVENT_LIBS)

TESTS += tests/unit/check_args tests/unit/check_conn tests/unit/lua_lint.sh
EXTRA_DIST += tests/unit/lua_lint.sh

# Allocator tests
check_LTLIBRARIES += liballoctestutil.la
liballoctestutil_la_SOURCES = tests/unit/alloc_testutil.c \
	tests/unit/alloc_testutil.h
liballoctestutil_la_CFLAGS = $(TEST_CK_CFLAGS)
TEST_ALLOC_LDADD = $(TEST_CK_LDADD) liballoctestutil.la
TEST_ALLOC_INTERNAL_LDADD = liballoctestutil.la $(TEST_CK_INTERNAL_LDADD)

check_PROGRAMS += tests/unit/check_alloc
tests_unit_check_alloc_SOURCES = tests/unit/check_alloc.c
tests_unit_check_alloc_CFLAGS = $(TEST_CK_CFLAGS)
tests_unit_check_alloc_LDADD = $(TEST_ALLOC_INTERNAL_LDADD) -lm
TESTS += tests/unit/check_alloc

check_PROGRAMS += tests/unit/check_alloc_async
tests_unit_check_alloc_async_SOURCES = tests/unit/check_alloc_async.c
tests_unit_check_alloc_async_CFLAGS = $(TEST_CK_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_check_alloc_async_LDADD = $(TEST_ALLOC_INTERNAL_LDADD) \
	$(LIBEVENT_LIBS)
TESTS += tests/unit/check_alloc_async

check_PROGRAMS += tests/unit/check_alloc_codec
tests_unit_check_alloc_codec_SOURCES = tests/unit/check_alloc_codec.c
tests_unit_check_alloc_codec_CFLAGS = $(TEST_CK_CFLAGS)
tests_unit_check_alloc_codec_LDADD = $(TEST_CK_INTERNAL_LDADD) -lm
TESTS += tests/unit/check_alloc_codec

check_PROGRAMS += tests/unit/check_alloc_stress
tests_unit_check_alloc_stress_SOURCES = tests/unit/check_alloc_stress.c
tests_unit_check_alloc_stress_CFLAGS = $(TEST_CK_CFLAGS)
tests_unit_check_alloc_stress_LDADD = $(TEST_ALLOC_LDADD)
TESTS += tests/unit/check_alloc_stress

# the Python package (contrib/python) and its pytest suite (tests/python)
TESTS += tests/python/run.sh
EXTRA_DIST += tests/python/run.sh tests/python/conftest.py \
	tests/python/crawl.py tests/python/test_client.py \
	tests/python/test_aio.py tests/python/test_requests.py \
	tests/python/test_scrapy.py
EXTRA_DIST += contrib/python/pyproject.toml contrib/python/README.md \
	contrib/python/proxypool/__init__.py \
	contrib/python/proxypool/_proto.py \
	contrib/python/proxypool/client.py contrib/python/proxypool/aio.py \
	contrib/python/proxypool/requests.py \
	contrib/python/proxypool/scrapy.py contrib/python/proxypool/py.typed
