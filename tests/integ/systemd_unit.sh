#!/bin/sh
# systemd_unit.sh: the unit make generates from
# contrib/proxypoold.service.in carries the configured paths (ExecStart
# runs $(sbindir)/proxypoold with $(sysconfdir)/proxypoold.conf), keeps
# the socket's directory as its RuntimeDirectory, is Type=notify exactly
# when proxypoold sends sd_notify's READY (simple otherwise), has no
# placeholder left, and passes systemd-analyze verify where that tool is.
. "$top_srcdir/tests/lib.sh"

unit=$top_builddir/contrib/proxypoold.service
check "make generated the unit in the build tree" test -f "$unit"
[ -f "$unit" ] || finish

expect_eq "ExecStart runs the configured sbindir's proxypoold" \
	"ExecStart=$PP_SBINDIR/proxypoold -c $PP_SYSCONFDIR/proxypoold.conf" \
	"$(grep '^ExecStart=' "$unit")"
expect_eq "ExecStartPre checks that configuration" \
	"ExecStartPre=$PP_SBINDIR/proxypoold -t -c $PP_SYSCONFDIR/proxypoold.conf" \
	"$(grep '^ExecStartPre=' "$unit")"
check "RuntimeDirectory=proxypoold (the socket's /run/proxypoold)" \
	grep -qx 'RuntimeDirectory=proxypoold' "$unit"
# the example config, installed next to README, puts the socket there
check "the example config's listen.socket is in the runtime directory" \
	grep -q '^[[:space:]]*socket = "/run/proxypoold/proxypoold.sock";' \
	"$top_srcdir/etc/proxypoold.conf"
if grep -q '^#define HAVE_SYSTEMD 1' "$top_builddir/config.h"; then
	want=notify
else
	want=simple
fi
expect_eq "Type=$want (sd_notify support: $want)" "Type=$want" \
	"$(grep '^Type=' "$unit")"
expect_eq "no @placeholder@ is left" "" "$(grep -n '@[a-zA-Z_]*@' "$unit")"

# systemd-analyze verify: nothing is installed, so the paths it checks
# (the binary must exist and be executable) point into the build tree
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$T/unit"
	sed -e "s|$PP_SBINDIR/proxypoold|$top_builddir/src/daemon/proxypoold|g" \
	    "$unit" >"$T/unit/proxypoold.service"
	out=$(systemd-analyze verify --man=no "$T/unit/proxypoold.service" 2>&1)
	rc=$?
	expect_eq "systemd-analyze verify passes" 0 "$rc"
	# a setting it cannot parse is only a warning, rc 0
	expect_eq "systemd-analyze verify warns of nothing" "" "$out"
else
	skip "systemd-analyze verify" "systemd-analyze not found"
fi
finish
