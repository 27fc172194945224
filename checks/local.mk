# checks/local.mk: the health-check plugins (loadable modules) and their
# ABI header, installed for third-party plugins.
pkginclude_HEADERS = checks/pp_check.h
noinst_HEADERS += checks/pp_util.h

checksdir = $(checkdir)
checks_LTLIBRARIES = checks/http.la checks/connect.la checks/tcp.la \
	checks/exec.la

CHECK_PLUGIN_CFLAGS = $(AM_CFLAGS) $(LIBCURL_CFLAGS) $(LIBCONFIG_CFLAGS)
CHECK_PLUGIN_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared \
	-export-symbols-regex '^pp_check_plugin$$'
CHECK_PLUGIN_LIBADD = $(LIBCURL_LIBS) $(LIBCONFIG_LIBS)

checks_http_la_SOURCES = checks/http.c
checks_http_la_CFLAGS = $(CHECK_PLUGIN_CFLAGS)
checks_http_la_LDFLAGS = $(CHECK_PLUGIN_LDFLAGS)
checks_http_la_LIBADD = $(CHECK_PLUGIN_LIBADD)

checks_connect_la_SOURCES = checks/connect.c
checks_connect_la_CFLAGS = $(CHECK_PLUGIN_CFLAGS)
checks_connect_la_LDFLAGS = $(CHECK_PLUGIN_LDFLAGS)
checks_connect_la_LIBADD = $(CHECK_PLUGIN_LIBADD)

checks_tcp_la_SOURCES = checks/tcp.c
checks_tcp_la_CFLAGS = $(CHECK_PLUGIN_CFLAGS)
checks_tcp_la_LDFLAGS = $(CHECK_PLUGIN_LDFLAGS)
checks_tcp_la_LIBADD = $(CHECK_PLUGIN_LIBADD)

checks_exec_la_SOURCES = checks/exec.c
checks_exec_la_CFLAGS = $(CHECK_PLUGIN_CFLAGS)
checks_exec_la_LDFLAGS = $(CHECK_PLUGIN_LDFLAGS)
checks_exec_la_LIBADD = $(CHECK_PLUGIN_LIBADD)

# test servers of the health-check tests and benchmarks
EXTRA_DIST += tests/servers/faultproxy.py tests/servers/target.py \
	tests/servers/tlsfront.py

# broken plugins the tests must see refused
check_LTLIBRARIES += tests/servers/badabi.la tests/servers/nosym.la
tests_servers_badabi_la_SOURCES = tests/servers/badabi.c
tests_servers_badabi_la_CFLAGS = $(CHECK_PLUGIN_CFLAGS) -I$(top_srcdir)/checks
tests_servers_badabi_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version \
	-shared -rpath $(abs_builddir)
tests_servers_nosym_la_SOURCES = tests/servers/nosym.c
tests_servers_nosym_la_CFLAGS = $(AM_CFLAGS)
tests_servers_nosym_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version \
	-shared -rpath $(abs_builddir)

EXTRA_DIST += tests/integ/health_lib.sh tests/integ/health_checks.sh \
	tests/integ/health_multi.sh tests/integ/health_eject.sh \
	tests/integ/health_conf.sh
TESTS += tests/integ/health_checks.sh tests/integ/health_multi.sh \
	tests/integ/health_conf.sh \
	tests/integ/health_eject.sh
EXTRA_DIST += tests/integ/health_settings.sh
TESTS += tests/integ/health_settings.sh
EXTRA_DIST += tests/integ/health_probeconn.sh
TESTS += tests/integ/health_probeconn.sh

# probe benchmark (tests/bench/probe.py; not in make check)
noinst_PROGRAMS += tests/bench/probe_stub
tests_bench_probe_stub_SOURCES = tests/bench/probe_stub.c
tests_bench_probe_stub_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
tests_bench_probe_stub_LDADD = $(LIBEVENT_LIBS)
EXTRA_DIST += tests/bench/probe.py
