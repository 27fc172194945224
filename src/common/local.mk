# src/common/local.mk: libppcommon, the code proxypoold and proxypoolctl
# share (a convenience library, not installed): allocation that aborts on
# out of memory, proxy URLs, the proxies file format and the
# "file:line: what: problem" messages.  The fuzz harnesses compile
# COMMON_SOURCES in instead, so the code they test is instrumented.
noinst_LTLIBRARIES += libppcommon.la

COMMON_SOURCES = \
	src/common/proxylist.c src/common/proxylist.h \
	src/common/proxyurl.c src/common/proxyurl.h \
	src/common/where.c src/common/where.h \
	src/common/xmalloc.c src/common/xmalloc.h
libppcommon_la_SOURCES = $(COMMON_SOURCES)
libppcommon_la_CFLAGS = $(AM_CFLAGS) $(LIBCURL_CFLAGS)
libppcommon_la_LIBADD = $(LIBCURL_LIBS) -lm

# how the users of libppcommon find its headers
COMMON_CPPFLAGS = -I$(top_srcdir)/src/common
