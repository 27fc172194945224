#!/bin/sh
# daemon_man_conf.sh: every example configuration in proxypoold.conf(5)
# and README.md is one proxypoold accepts whole (proxypoold -t).  What
# the examples name that this machine lacks is made real first: their
# proxies files are stub files (absolute paths moved under $T/root), the
# checks directory is the build's plugins, users and groups are this
# test's own.  Any error then fails.
. "$top_srcdir/tests/lib.sh"

PPD=$top_builddir/src/daemon/proxypoold
MAN5=$top_srcdir/etc/proxypoold.conf.5
POOL='pools = ( { name = "x"; proxies = ( "http://127.0.0.1:1" ); } );'
CHECKS_DIR=$top_builddir/checks/.libs
U=$(id -un 2>/dev/null || id -u)
G=$(id -gn 2>/dev/null || id -g)

# stub FILE: make the files, users and groups FILE names exist
stub() {
	# proxies files: absolute ones under $T/root, each with one proxy
	sed -i "s|\(proxies_file *= *\"\)/|\1$T/root/|" "$1"
	sed -n 's/.*proxies_file *= *"\([^"]*\)".*/\1/p' "$1" |
	while IFS= read -r _p; do
		case $_p in /*) ;; *) _p=$T/$_p ;; esac
		mkdir -p "$(dirname "$_p")"
		echo "http://127.0.0.1:2" >"$_p"
	done
	# the checks directory: the plugins of this build
	if grep -q '^ *checks *[=:]' "$1"; then
		sed -i "s|\(dir *= *\"\)[^\"]*\"|\1$CHECKS_DIR\"|" "$1"
	elif grep -q 'check *= *{' "$1"; then
		echo "checks = { dir = \"$CHECKS_DIR\"; };" >>"$1"
	fi
	# user and group names: ours (numbers stay)
	U=$U G=$G perl -pi -e '
		sub ours { my ($k, $v, $n) = @_; $v =~ s/"[^"]*"/"$n"/g; $k . $v }
		s{((?:admin_uids|owner)\s*=\s*)([[(][^])]*[])]|"[^"]*")}
		 {ours($1, $2, $ENV{U})}ge;
		s{((?:admin_gids|\bgroup)\s*=\s*)([[(][^])]*[])]|"[^"]*")}
		 {ours($1, $2, $ENV{G})}ge;' "$1"
}

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
	stub "$f"
	out=$("$PPD" -t -c "$f" 2>&1)
	rc=$?
	name=$(basename "$f")
	if [ $rc -eq 0 ]; then
		ok "example $name is accepted (${out:-OK})"
	else
		not_ok "example $name is accepted: $out"
		sed 's/^/# /' "$f"
	fi
done
check "examples found in the manual and README ($count)" test "$count" -ge 4
finish
