#!/bin/sh
# ctl_man.sh: the manuals render without warnings (mandoc -T lint, else
# groff -ww; without either only the lint skips), and stay complete: every
# proxypoolctl command is in proxypoolctl(1), every setting of the daemon's
# schema tables (conf.c) and every command of its command table (cmd.c) in
# proxypoold.conf(5) and proxypoold(8), every health-check setting in
# proxypoold.conf(5).
. "$top_srcdir/tests/lib.sh"

MANS="src/ctl/proxypoolctl.1 src/daemon/proxypoold.8 etc/proxypoold.conf.5"
CTL=$top_builddir/src/ctl/proxypoolctl

if command -v mandoc >/dev/null 2>&1; then
	for m in $MANS; do
		out=$(mandoc -T lint -W warning "$top_srcdir/$m" 2>&1)
		expect_eq "mandoc lint $m" "" "$out"
	done
elif command -v groff >/dev/null 2>&1; then
	for m in $MANS; do
		out=$(groff -mandoc -Tutf8 -ww -z "$top_srcdir/$m" 2>&1)
		expect_eq "groff -ww $m" "" "$out"
	done
else
	for m in $MANS; do
		skip "lint $m" "neither mandoc nor groff"
	done
fi

# every command of proxypoolctl --help has an entry in proxypoolctl(1)
cmds=$("$CTL" --help | sed -n 's/^  \([a-z-]*\) .*/\1/p; s/^  \([a-z-]*\)$/\1/p')
[ -n "$cmds" ] || not_ok "proxypoolctl --help lists commands"
for c in $cmds; do
	check "proxypoolctl(1) documents $c" \
	    grep -q "^\.It Cm $c\( \|$\)" "$top_srcdir/src/ctl/proxypoolctl.1"
done

# every setting in the daemon's schema tables is in proxypoold.conf(5) (the
# sources are always there: a list found empty fails)
conf=$top_srcdir/src/daemon/conf.c
settings=$(sed -n 's/^[[:space:]]*{ "\([a-z_]*\)", CONF_.*/\1/p' "$conf" |
    sort -u)
[ -n "$settings" ] || not_ok "settings found in conf.c"
for s in $settings; do
	check "proxypoold.conf(5) documents $s" \
	    grep -q "^\.It Cm $s\( \|$\)\|^\.It Cm [a-z_]* , Cm $s " \
	    "$top_srcdir/etc/proxypoold.conf.5"
done

# every health-check setting (common ones, each plugin's own, the checks
# group's) is in proxypoold.conf(5)
ppc=$top_srcdir/checks/pp_check.h
settings=$( (awk '/#define PP_CHECK_COMMON_SETTINGS/, /[^\\]$/' "$ppc"
    awk '/_settings\[\] = \{/, /\};/' "$top_srcdir"/checks/*.c
    echo '"dir" "max_inflight"') | grep -o '"[a-z_]*"' | tr -d '"' |
    sort -u)
[ -n "$settings" ] || not_ok "check settings found in checks/"
for s in $settings; do
	check "proxypoold.conf(5) documents check setting $s" \
	    grep -q "^\.It Cm $s\( \|$\)\|^\.It Cm [a-z_]* , Cm $s " \
	    "$top_srcdir/etc/proxypoold.conf.5"
done

# every socket command in the daemon's table is in proxypoold(8)
cmdc=$top_srcdir/src/daemon/cmd.c
words=$(sed -n 's/^[[:space:]]*{ "\([A-Z]*\)", [0-9-]*, [0-9-]*, .*/\1/p' \
    "$cmdc" | sort -u)
[ -n "$words" ] || not_ok "commands found in cmd.c"
for w in $words; do
	check "proxypoold(8) documents $w" \
	    grep -q "^\.It Cm $w\( \|$\)\|^\.It Cm [A-Z]* \.\.\. , $w" \
	    "$top_srcdir/src/daemon/proxypoold.8"
done

# one default socket: proxypoold -V prints the one proxypoolctl --help
# names and connects to without -s or $PROXYPOOLD_SOCKET
PPD=$top_builddir/src/daemon/proxypoold
vsock=$("$PPD" -V | sed -n 's/^socket //p')
check "proxypoold -V prints the default socket ($vsock)" \
	sh -c "case '$vsock' in /*/proxypoold.sock) ;; *) exit 1 ;; esac"
check "proxypoold -h prints it too" sh -c "'$PPD' -h | grep -qF '$vsock'"
check "proxypoolctl --help names the same one" \
	sh -c "'$CTL' --help | grep -qF 'else $vsock,'"
out=$(env -u PROXYPOOLD_SOCKET -u XDG_RUNTIME_DIR "$CTL" -t 1 ping 2>&1)
check "proxypoolctl connects to it by default ($out)" \
	sh -c "echo '$out' | grep -qF 'proxypoold at $vsock'"
out=$(PROXYPOOLD_SOCKET=$T/none.sock "$CTL" -t 1 ping 2>&1)
check "PROXYPOOLD_SOCKET wins ($out)" \
	sh -c "echo '$out' | grep -qF 'proxypoold at $T/none.sock'"
# nothing at the default: a socket in $XDG_RUNTIME_DIR is used (a file
# that is not a socket is not)
mkdir -m 0700 "$T/xdg"
: >"$T/xdg/proxypoold.sock"
out=$(env -u PROXYPOOLD_SOCKET XDG_RUNTIME_DIR=$T/xdg "$CTL" -t 1 ping 2>&1)
check "not a socket in \$XDG_RUNTIME_DIR: the default ($out)" \
	sh -c "echo '$out' | grep -qF 'proxypoold at $vsock'"
rm "$T/xdg/proxypoold.sock"
/usr/bin/python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
	"$T/xdg/proxypoold.sock"
out=$(env -u PROXYPOOLD_SOCKET XDG_RUNTIME_DIR=$T/xdg "$CTL" -t 1 ping 2>&1)
if [ -e "$vsock" ]; then
	echo "ok - # SKIP a daemon's socket is at the default $vsock"
else
	check "nothing at the default: \$XDG_RUNTIME_DIR/proxypoold.sock ($out)" \
		sh -c "echo '$out' | grep -qF 'proxypoold at $T/xdg/proxypoold.sock'"
fi
out=$(PROXYPOOLD_SOCKET=$T/none.sock XDG_RUNTIME_DIR=$T/xdg "$CTL" -t 1 ping 2>&1)
check "PROXYPOOLD_SOCKET still wins over it ($out)" \
	sh -c "echo '$out' | grep -qF 'proxypoold at $T/none.sock'"
finish
