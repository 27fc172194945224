# src/lib/queue.mk: the task queue of libredisallocator (ra_queue), its
# scripts, tests and benchmark.
libredisallocator_internal_la_SOURCES += \
	src/lib/queue.c \
	src/lib/queue_internal.h \
	src/lib/queue_worker.c


check_PROGRAMS += tests/unit/check_queue
tests_unit_check_queue_SOURCES = tests/unit/check_queue.c
tests_unit_check_queue_CFLAGS = $(TEST_CK_CFLAGS)
tests_unit_check_queue_LDADD = $(TEST_CK_LDADD)
TESTS += tests/unit/check_queue

# benchmark: not part of make check (tests/bench/queue.sh runs it)
check_PROGRAMS += tests/bench/queue_bench
tests_bench_queue_bench_SOURCES = tests/bench/queue_bench.c
tests_bench_queue_bench_CFLAGS = $(AM_CFLAGS) $(HIREDIS_CFLAGS)
tests_bench_queue_bench_LDADD = libredisallocator.la $(HIREDIS_LIBS)
EXTRA_DIST += tests/bench/queue.sh
