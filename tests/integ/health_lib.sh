# tests/integ/health_lib.sh: helpers for the health-check tests (sourced
# after tests/lib.sh and tests/integ/daemon_lib.sh): local targets,
# tinyproxy instances and fault-injecting proxies on loopback ports.

SERVERS=$top_srcdir/tests/servers
CHECKS_DIR=$top_builddir/checks/.libs
: "${TINYPROXY:=tinyproxy}"
[ -x "$TINYPROXY" ] || TINYPROXY=$(command -v tinyproxy || echo /usr/bin/tinyproxy)

# free_port: a TCP port free on 127.0.0.1 right now
free_port() {
	"$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# port_of FILE: wait for a server to write its port, print it
port_of() {
	wait_for 10 test -s "$1" || { echo "no port in $1"; exit 1; }
	cat "$1"
}

# start_target: HTTP and HTTPS targets (self-signed cert made here);
# sets TARGET_PORT and TARGET_TLS_PORT
start_target() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
		-keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 || {
		echo "openssl failed"; exit 1; }
	"$PYTHON3" "$SERVERS/target.py" --port-file "$T/target.port" \
		--tls-port-file "$T/target.tls" --cert "$T/cert.pem" \
		--key "$T/key.pem" >>"$T/target.log" 2>&1 &
	track $!
	TARGET_PORT=$(port_of "$T/target.port")
	TARGET_TLS_PORT=$(port_of "$T/target.tls")
}

# target_stats: the target's counters as JSON
target_stats() {
	"$PYTHON3" -c 'import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/_stats" % sys.argv[1]).read().decode())' "$TARGET_PORT"
}

# start_tinyproxy NAME PORT: a tinyproxy in the foreground on PORT;
# sets NAME_pid
start_tinyproxy() {
	cat >"$T/$1.conf" <<TP
Port $2
Listen 127.0.0.1
Allow 127.0.0.1
Timeout 10
MaxClients 100
LogFile "$T/$1.log"
LogLevel Warning
TP
	"$TINYPROXY" -d -c "$T/$1.conf" >>"$T/$1.out" 2>&1 &
	track $!
	eval "${1}_pid=$!"
	wait_for 10 "$PYTHON3" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$2" || {
		echo "tinyproxy $1 did not start"; cat "$T/$1.out" "$T/$1.log"; exit 1; }
}

# start_fault NAME MODE [ARGS...]: a fault proxy; prints nothing, sets
# NAME_port and NAME_pid
start_fault() {
	_n=$1 _m=$2; shift 2
	rm -f "$T/$_n.port"
	"$PYTHON3" "$SERVERS/faultproxy.py" --mode "$_m" --port-file "$T/$_n.port" \
		--id "$_n" "$@" >>"$T/$_n.log" 2>&1 &
	track $!
	eval "${_n}_pid=$!"
	eval "${_n}_port=$(port_of "$T/$_n.port")"
}

# stat POOL FIELD: one STATS field of a pool
stat() { pp stats "$1" | field "$2"; }

# check_verdict POOL URL: "VERDICT latency reason" of CHECK pool url
check_verdict() { pp check "$1" "$2" | tr '\n' ' '; }
