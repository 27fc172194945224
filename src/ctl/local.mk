# src/ctl/local.mk: proxypoolctl, its manual, the daemon's manuals, the
# contrib files and the proxypoolctl tests.
bin_PROGRAMS += src/ctl/proxypoolctl
noinst_HEADERS += src/ctl/ctl.h

CTL_SOURCES = src/ctl/output.c src/ctl/proxyfile.c
src_ctl_proxypoolctl_SOURCES = src/ctl/proxypoolctl.c $(CTL_SOURCES)
src_ctl_proxypoolctl_CPPFLAGS = $(AM_CPPFLAGS) -DSBINDIR='"$(sbindir)"'
src_ctl_proxypoolctl_CFLAGS = $(AM_CFLAGS) $(HIREDIS_CFLAGS) $(LIBCURL_CFLAGS)
src_ctl_proxypoolctl_LDADD = $(HIREDIS_LIBS) $(LIBCURL_LIBS) -lm

# unit tests of the output helpers and the list file reader
check_PROGRAMS += tests/unit/check_ctl
tests_unit_check_ctl_SOURCES = tests/unit/check_ctl.c $(CTL_SOURCES)
tests_unit_check_ctl_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/ctl
tests_unit_check_ctl_CFLAGS = $(TEST_CK_CFLAGS) $(LIBCURL_CFLAGS)
tests_unit_check_ctl_LDADD = libtestutil.la libredisallocator.la \
	$(CHECK_LIBS) $(HIREDIS_LIBS) $(LIBCURL_LIBS)
TESTS += tests/unit/check_ctl
