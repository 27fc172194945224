# src/lib/lock.mk: the distributed lock (ra_lock): its sources, scripts,
# Check tests and benchmark.
libredisallocator_internal_la_SOURCES += src/lib/lock.c


check_PROGRAMS += tests/unit/check_lock
tests_unit_check_lock_SOURCES = tests/unit/check_lock.c
tests_unit_check_lock_CFLAGS = $(TEST_CK_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_check_lock_LDADD = $(TEST_CK_LDADD) $(LIBEVENT_LIBS)
TESTS += tests/unit/check_lock

# Benchmark: built with make check, run by hand (tests/bench/lock.sh).
check_PROGRAMS += tests/bench/lock_bench
tests_bench_lock_bench_SOURCES = tests/bench/lock_bench.c
tests_bench_lock_bench_CFLAGS = $(AM_CFLAGS) $(HIREDIS_CFLAGS)
tests_bench_lock_bench_LDADD = libredisallocator.la $(HIREDIS_LIBS)
EXTRA_DIST += tests/bench/lock.sh
