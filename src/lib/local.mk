# src/lib/local.mk: libredisallocator.
#
# The library's objects are compiled once, into a convenience library
# (libtool, never installed) that the shared library is linked from
# whole.  The programs that use the library's internal functions or data
# (ra_args_*, ra_build_*, ra_decode_*, ra_call..., the function table
# ra_functions: the unit tests of the argument builder, codec, call paths,
# allocator and health state, the codec fuzz harness, the allocator
# benchmark) link that one, so the shared library need not export them.
# lock.mk, health.mk and queue.mk add their sources to it.
noinst_LTLIBRARIES += libredisallocator_internal.la
lib_LTLIBRARIES += libredisallocator.la
include_HEADERS += src/lib/redis_allocator.h
noinst_HEADERS += src/lib/ra_internal.h src/lib/ra_alloc.h

libredisallocator_internal_la_SOURCES = \
	src/lib/alloc.c \
	src/lib/alloc_async.c \
	src/lib/alloc_codec.c \
	src/lib/args.c \
	src/lib/async.c \
	src/lib/conn.c \
	src/lib/events.c
nodist_libredisallocator_internal_la_SOURCES = src/lib/ra_functions.c \
	src/lib/ra_functions.h
# ra_internal.h includes the generated ra_functions.h, which BUILT_SOURCES
# makes first only for make all, check and install: the objects of every
# program whose sources include ra_internal.h or ra_functions.h depend on
# it, so a target asked for alone builds in a fresh tree (make
# libredisallocator.la tests/fuzz/fuzz_codec).  Once compiled, their .deps
# say the same; tests/unit/gen_deps.sh fails when an object whose .deps
# name the header is missing here.
RA_FUNCTIONS_USERS = $(libredisallocator_internal_la_OBJECTS) \
	$(tests_unit_check_args_OBJECTS) $(tests_unit_check_conn_OBJECTS) \
	$(tests_unit_check_alloc_OBJECTS) \
	$(tests_unit_check_alloc_async_OBJECTS) \
	$(tests_unit_check_alloc_codec_OBJECTS) \
	$(tests_unit_check_alloc_stress_OBJECTS) \
	$(tests_unit_check_lock_OBJECTS) $(tests_unit_check_health_OBJECTS) \
	$(tests_fuzz_fuzz_codec_OBJECTS) $(tests_bench_alloc_bench_OBJECTS)
$(RA_FUNCTIONS_USERS): src/lib/ra_functions.h
libredisallocator_internal_la_CFLAGS = $(AM_CFLAGS) $(HIREDIS_CFLAGS)
libredisallocator_internal_la_LIBADD = $(HIREDIS_LIBS) -lm

# The shared library exports the functions of redis_allocator.h, which
# libredisallocator.sym lists one a line (libtool makes it a version
# script, every other name local): what callers may use, and so what a
# change of -version-info is about.  tests/unit/lib_exports.sh fails when
# the list and the header differ or the library exports anything else.
libredisallocator_la_SOURCES =
libredisallocator_la_LIBADD = libredisallocator_internal.la
libredisallocator_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0 \
	-export-symbols $(srcdir)/src/lib/libredisallocator.sym
EXTRA_libredisallocator_la_DEPENDENCIES = src/lib/libredisallocator.sym
EXTRA_DIST += src/lib/libredisallocator.sym
TESTS += tests/unit/lib_exports.sh
EXTRA_DIST += tests/unit/lib_exports.sh
TESTS += tests/unit/gen_deps.sh
EXTRA_DIST += tests/unit/gen_deps.sh

pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = src/lib/redisallocator.pc
EXTRA_DIST += src/lib/redisallocator.pc.in

# Benchmark: built with make check, run by hand (tests/bench/alloc).
check_PROGRAMS += tests/bench/alloc_bench
tests_bench_alloc_bench_SOURCES = tests/bench/alloc_bench.c
tests_bench_alloc_bench_CFLAGS = $(AM_CFLAGS) $(HIREDIS_CFLAGS) $(LIBEVENT_CFLAGS)
# (the objects of the library: it reads the function table, ra_functions)
tests_bench_alloc_bench_LDADD = libredisallocator_internal.la $(HIREDIS_LIBS) \
	$(LIBEVENT_LIBS)
EXTRA_DIST += tests/bench/alloc
