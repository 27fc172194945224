# src/daemon/local.mk: proxypoold, the proxy-pool lease daemon.
sbin_PROGRAMS += src/daemon/proxypoold

src_daemon_proxypoold_SOURCES = \
	src/daemon/cmd.c src/daemon/cmd.h \
	src/daemon/cmd_admin.c src/daemon/cmd_bind.c src/daemon/cmd_lease.c \
	src/daemon/cmd_lock.c src/daemon/cmd_pool.c \
	src/daemon/client.c src/daemon/client.h \
	src/daemon/compat.h \
	src/daemon/conf.c src/daemon/conf.h \
	src/daemon/curlev.c src/daemon/curlev.h \
	src/daemon/daemon.c src/daemon/daemon.h \
	src/daemon/embedded.c src/daemon/embedded.h \
	src/daemon/events.c src/daemon/events.h \
	src/daemon/gateway.c src/daemon/gateway.h src/daemon/gw_int.h \
	src/daemon/gw_lease.c src/daemon/gw_up.c \
	src/daemon/gw_http.c src/daemon/gw_http.h \
	src/daemon/gw_socks.c src/daemon/gw_socks.h \
	src/daemon/hist.c src/daemon/hist.h \
	src/daemon/http.c src/daemon/http.h \
	src/daemon/log.c src/daemon/log.h \
	src/daemon/main.c \
	src/daemon/metrics.c src/daemon/metrics.h \
	src/daemon/plugin.c src/daemon/plugin.h \
	src/daemon/probe.c src/daemon/probe.h \
	src/daemon/prober.c src/daemon/prober.h src/daemon/prober_int.h \
	src/daemon/redis.c src/daemon/redis.h \
	src/daemon/reload.c src/daemon/reload.h \
	src/daemon/req.c src/daemon/req.h \
	src/daemon/resp.c src/daemon/resp.h \
	src/daemon/server.c src/daemon/server.h
src_daemon_proxypoold_CPPFLAGS = $(AM_CPPFLAGS) $(COMMON_CPPFLAGS)
src_daemon_proxypoold_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/checks $(HIREDIS_CFLAGS) \
	$(LIBEVENT_CFLAGS) $(LIBCONFIG_CFLAGS) $(LIBCURL_CFLAGS) \
	$(SYSTEMD_CFLAGS)
src_daemon_proxypoold_LDADD = libppcommon.la libredisallocator.la \
	$(HIREDIS_LIBS) $(LIBEVENT_LIBS) $(LIBCONFIG_LIBS) $(LIBCURL_LIBS) \
	$(SYSTEMD_LIBS) $(HTTP_PARSER_LIBS) -lm

# integration tests
TESTS += tests/integ/daemon_cli.sh tests/integ/daemon_py.py \
	tests/integ/daemon_failover.sh tests/integ/daemon_embedded.sh \
	tests/integ/daemon_wait.py tests/integ/daemon_man_conf.sh \
	tests/integ/daemon_pins.py tests/integ/daemon_procs.py \
	tests/integ/http_status.py
EXTRA_DIST += tests/integ/daemon_lib.sh tests/integ/daemon_cli.sh \
	tests/integ/daemon_util.py tests/integ/daemon_py.py \
	tests/integ/daemon_wait.py tests/integ/daemon_man_conf.sh \
	tests/integ/daemon_failover.sh tests/integ/daemon_embedded.sh \
	tests/integ/daemon_pins.py tests/integ/daemon_procs.py \
	tests/integ/http_status.py
# http_status.py's screenshots and the pages Chromium rendered
CLEANFILES += tests/integ/http_status-*.png tests/integ/http_status-*.html

# Gateway integration tests (proxypoold's gateway listeners; their
# servers: tests/servers, tinyproxy, curl, python3-requests and -scrapy)
TESTS += tests/integ/gateway.py tests/integ/gateway_session.py \
	tests/integ/gateway_reload.py tests/integ/gateway_scrapy.py
EXTRA_DIST += tests/integ/gateway_util.py tests/integ/gateway.py \
	tests/integ/gateway_session.py tests/integ/gateway_reload.py \
	tests/integ/gateway_scrapy.py

# example configuration (etc/) and the quickstart template
EXTRA_DIST += etc/quickstart.conf.in

# benchmark: built with make check, run by hand (tests/bench/lease.sh)
check_PROGRAMS += tests/bench/lease
tests_bench_lease_SOURCES = tests/bench/lease.c
tests_bench_lease_CFLAGS = $(AM_CFLAGS) $(HIREDIS_CFLAGS) $(LIBEVENT_CFLAGS)
tests_bench_lease_LDADD = libredisallocator.la $(HIREDIS_LIBS) $(LIBEVENT_LIBS)
EXTRA_DIST += tests/bench/lease.sh tests/bench/gateway.sh
