# tests/integ/daemon_lib.sh: helpers for proxypoold integration tests
# (sourced after tests/lib.sh).

PROXYPOOLD=${PROXYPOOLD:-$top_builddir/src/daemon/proxypoold}
SOCK=$T/pp.sock
# the tests' own uid may run the admin commands (root always may; anyone
# else needs listen.admin_uids)
ADMIN="admin_uids = [ $(id -u) ];"

# write_conf FILE REDIS_URL [EXTRA_POOLS_TEXT]: a config with pool
# "default" of three loopback proxies unless pools are given, $ADMIN in
# listen
write_conf() {
	_f=$1 _url=$2
	_pools=${3:-'pools = ( { name = "default"; lease_ttl = 30;
	  proxies = ( "http://127.0.0.1:3128", "http://127.0.0.1:3129",
	    "socks5://user:secret@127.0.0.1:1080" ); } );'}
	cat >"$_f" <<CONF
redis = { url = "$_url"; timeout = 1.0; state_dir = "$T/state"; };
listen = { socket = "$SOCK"; mode = "0666"; idle_timeout = 30; $ADMIN };
log = { level = "debug"; };
$_pools
CONF
}

# start_daemon CONF: run proxypoold in the background, wait until it
# answers PING and has synced its pools
start_daemon() {
	_before=$(cat "$T/pp.log" 2>/dev/null | wc -l)
	"$PROXYPOOLD" -c "$1" >>"$T/pp.log" 2>&1 &
	pp_pid=$!
	track $pp_pid
	wait_for 10 sh -c "'$REDIS_CLI' -s '$SOCK' ping | grep -q PONG" || {
		echo "proxypoold did not start"; cat "$T/pp.log"; exit 1; }
	wait_for 10 sh -c "tail -n +$((_before + 1)) '$T/pp.log' |
	    grep -q 'pools synced to Redis'" || {
		echo "proxypoold did not sync pools"; cat "$T/pp.log"; exit 1; }
}

# pp ARGS...: one command through redis-cli
pp() { "$REDIS_CLI" -s "$SOCK" "$@"; }

# field NAME: the value after NAME in redis-cli's one-per-line output
field() { awk -v k="$1" 'p { print; exit } $0 == k { p = 1 }'; }
