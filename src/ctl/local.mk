# src/ctl/local.mk: proxypoolctl, its manual, the daemon's manuals, the
# contrib files and the proxypoolctl tests.
bin_PROGRAMS += src/ctl/proxypoolctl
noinst_HEADERS += src/ctl/ctl.h

CTL_SOURCES = src/ctl/output.c src/ctl/proxyfile.c
src_ctl_proxypoolctl_SOURCES = src/ctl/proxypoolctl.c $(CTL_SOURCES)
src_ctl_proxypoolctl_CPPFLAGS = $(AM_CPPFLAGS) $(COMMON_CPPFLAGS) \
	-DSBINDIR='"$(sbindir)"'
src_ctl_proxypoolctl_CFLAGS = $(AM_CFLAGS) $(HIREDIS_CFLAGS)
src_ctl_proxypoolctl_LDADD = libppcommon.la $(HIREDIS_LIBS) -lm

# unit tests of the output helpers and the list file reader
check_PROGRAMS += tests/unit/check_ctl
tests_unit_check_ctl_SOURCES = tests/unit/check_ctl.c $(CTL_SOURCES)
tests_unit_check_ctl_CPPFLAGS = $(AM_CPPFLAGS) $(COMMON_CPPFLAGS) \
	-I$(top_srcdir)/src/ctl
tests_unit_check_ctl_CFLAGS = $(TEST_CK_CFLAGS)
tests_unit_check_ctl_LDADD = libtestutil.la libredisallocator.la \
	libppcommon.la $(CHECK_LIBS) $(HIREDIS_LIBS)
TESTS += tests/unit/check_ctl

# manuals: proxypoolctl's and the daemon's
dist_man_MANS += src/ctl/proxypoolctl.1 src/daemon/proxypoold.8 \
	etc/proxypoold.conf.5

# the systemd unit, generated with the configured paths (make's, so
# ${prefix} is expanded) and installed in --with-systemdsystemunitdir;
# built in the build tree either way (tests/integ/systemd_unit.sh reads it)
contrib/proxypoold.service: $(srcdir)/contrib/proxypoold.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) contrib && \
	$(SED) -e 's|@sbindir[@]|$(sbindir)|g' \
	    -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	    -e 's|@docdir[@]|$(docdir)|g' \
	    -e 's|@SYSTEMD_TYPE[@]|$(SYSTEMD_TYPE)|g' \
	    $(srcdir)/contrib/proxypoold.service.in >$@.tmp && mv $@.tmp $@
CLEANFILES += contrib/proxypoold.service
if INSTALL_SYSTEMD_UNIT
nodist_systemdsystemunit_DATA = contrib/proxypoold.service
# distcheck installs as a user into its own prefix: the unit goes there too
AM_DISTCHECK_CONFIGURE_FLAGS = \
	--with-systemdsystemunitdir=$$dc_install_base/$(systemdsystemunitdir)
else
noinst_DATA = contrib/proxypoold.service
endif

# the example configuration and its proxies file, to copy to
# $(sysconfdir)/proxypoold.conf (README: Production)
dist_doc_DATA = etc/proxypoold.conf etc/proxies.txt

# contrib: the unit's template, logrotate, client examples
EXTRA_DIST += contrib/quickstart \
	contrib/proxypoold.service.in contrib/proxypoold.logrotate \
	contrib/examples/lease.py contrib/examples/lease.sh \
	contrib/examples/lease_hiredis.c contrib/examples/gateway_curl.sh \
	contrib/examples/gateway_requests.py contrib/examples/gateway_scrapy.py

# the hiredis example is built by make check so it keeps compiling
check_PROGRAMS += contrib/examples/lease_hiredis
contrib_examples_lease_hiredis_SOURCES = contrib/examples/lease_hiredis.c
contrib_examples_lease_hiredis_CFLAGS = $(AM_CFLAGS) $(HIREDIS_CFLAGS)
contrib_examples_lease_hiredis_LDADD = $(HIREDIS_LIBS)

# integration tests: the real proxypoold and redis-server
TESTS += tests/integ/ctl_basic.sh tests/integ/ctl_examples.sh tests/integ/quickstart.sh \
	tests/integ/ctl_man.sh tests/integ/systemd_unit.sh
EXTRA_DIST += tests/integ/ctl_basic.sh tests/integ/ctl_examples.sh tests/integ/quickstart.sh \
	tests/integ/ctl_man.sh \
	tests/integ/systemd_unit.sh
