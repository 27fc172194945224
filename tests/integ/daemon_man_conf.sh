#!/bin/sh
# daemon_man_conf.sh: every example configuration in proxypoold.conf(5)
# and README.md is one proxypoold accepts (proxypoold -t).  Only errors
# about the test machine (users, groups and files the examples name but
# this machine lacks) are allowed; syntax and setting errors fail.
. "$top_srcdir/tests/lib.sh"

PPD=$top_builddir/src/daemon/proxypoold
MAN5=$top_srcdir/etc/proxypoold.conf.5
POOL='pools = ( { name = "x"; proxies = ( "http://127.0.0.1:1" ); } );'

# the literal blocks (.Bd -literal ... .Ed) of the manual, roff escapes
# undone, one file each
awk -v dir="$T" '
	/^\.Bd -literal/ { n++; f = dir "/man5-" n ".conf"; next }
	/^\.Ed/ { f = ""; next }
	f != "" { gsub(/\\\(dq/, "\""); gsub(/\\e/, "\\"); print > f }
' "$MAN5"
# one-line examples: .Ql setting = ... ;
n=0
sed -n 's/^\.Ql \([a-z_]* = [[({"0-9\\].*;\)$/\1/p' "$MAN5" | sed 's/\\(dq/"/g' |
while IFS= read -r line; do
	n=$((n + 1))
	printf 'listen = { %s };\n' "$line" >"$T/man5-ql-$n.conf"
done
# README: the indented block after "$ cat /etc/proxypoold.conf", and
# indented blocks that start with a setting group
awk -v dir="$T" '
	/^    \$ cat .*\.conf$/ { n++; f = dir "/readme-" n ".conf"; next }
	/^    \$/ { f = ""; next }
	/^    [a-z_]+ = [{(]/ && !inblk { n++; f = dir "/readme-" n ".conf" }
	/^    / { inblk = 1; if (f != "") print substr($0, 5) > f; next }
	{ inblk = 0; f = "" }
' "$top_srcdir/README.md"

count=0
for f in "$T"/man5-*.conf "$T"/readme-*.conf; do
	[ -f "$f" ] || continue
	grep -q '=' "$f" || continue
	count=$((count + 1))
	grep -q '^ *pools *=' "$f" || echo "$POOL" >>"$f"
	out=$("$PPD" -t -c "$f" 2>&1)
	rc=$?
	name=$(basename "$f")
	if [ $rc -eq 0 ] || echo "$out" | grep -Eq \
	    ': (no such (user|group) [^ ]*|cannot open: No such file or directory|cannot open the checks directory.*)$'; then
		ok "example $name is accepted (${out:-OK})"
	else
		not_ok "example $name is accepted: $out"
		sed 's/^/# /' "$f"
	fi
done
check "examples found in the manual and README ($count)" test "$count" -ge 4
finish
