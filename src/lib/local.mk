# src/lib/local.mk: libredisallocator.
lib_LTLIBRARIES += libredisallocator.la
include_HEADERS += src/lib/redis_allocator.h
noinst_HEADERS += src/lib/ra_internal.h

libredisallocator_la_SOURCES = \
	src/lib/args.c \
	src/lib/async.c \
	src/lib/conn.c
nodist_libredisallocator_la_SOURCES = src/lib/ra_scripts.c src/lib/ra_scripts.h
libredisallocator_la_CFLAGS = $(AM_CFLAGS) $(HIREDIS_CFLAGS)
libredisallocator_la_LIBADD = $(HIREDIS_LIBS) -lm
libredisallocator_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0 \
	-export-symbols-regex '^ra_'

pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = src/lib/redisallocator.pc
EXTRA_DIST += src/lib/redisallocator.pc.in

LUA_SRC += lua/ping.lua
