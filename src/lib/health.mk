# src/lib/health.mk: the health state part of libredisallocator (active
# check claims and results, lua/health_*.lua).
libredisallocator_internal_la_SOURCES += src/lib/health.c

check_PROGRAMS += tests/unit/check_health
tests_unit_check_health_SOURCES = tests/unit/check_health.c
tests_unit_check_health_CFLAGS = $(TEST_CK_CFLAGS)
tests_unit_check_health_LDADD = $(TEST_ALLOC_INTERNAL_LDADD) -lm
TESTS += tests/unit/check_health
