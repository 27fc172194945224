#!/bin/sh
# health_conf.sh: bad check settings are refused with file:line: setting:
# problem, by proxypoold -t and by RELOAD, which keeps the running checks.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integ/daemon_lib.sh"
. "$top_srcdir/tests/integ/health_lib.sh"

start_redis redis
# conf CHECK_GROUP_TEXT: pool "a" with that check on line 5 ("-": none)
conf() {
	_c="check = { $1 };"
	[ "$1" = - ] && _c=""
	cat >"$T/pp.conf" <<CONF
redis = { url = "unix://$T/redis.sock"; timeout = 1.0; };
listen = { socket = "$SOCK"; mode = "0666"; $ADMIN };
checks = { dir = "$CHECKS_DIR"; };
pools = ( { name = "a"; proxies = ( "http://127.0.0.1:9" );
  $_c } );
CONF
}
# bad DESCRIPTION EXPECTED_MESSAGE CHECK_GROUP_TEXT
bad() {
	conf "$3"
	out=$("$PROXYPOOLD" -t -c "$T/pp.conf" 2>&1)
	rc=$?
	check "-t refuses $1" [ "$rc" -eq 1 ]
	case $out in
	*"$T/pp.conf:5: $2"*) ok "-t says where and why: $2" ;;
	*) not_ok "-t message for $1 (got: $out)" ;;
	esac
}
bad "an unknown type" 'check.type: no check plugin "nope" loaded' \
	'type = "nope";'
bad "a missing type" 'check.type: expected the check type' 'inter = 1;'
bad "an unknown setting" 'bogus: unknown setting of a http check' \
	'type = "http"; url = "http://127.0.0.1:1/"; bogus = 1;'
bad "a non-http target" 'url: "ftp://x" is not an http:// or https:// URL' \
	'type = "http"; url = "ftp://x";'
bad "an http check without url" 'url: the http check needs a url' \
	'type = "http";'
bad "a bad regex" 'body_regex: ' \
	'type = "http"; url = "http://127.0.0.1:1/"; body_regex = "(";'
bad "a bad status" 'expect: statuses are integers from 100 to 599' \
	'type = "http"; url = "http://127.0.0.1:1/"; expect = [200, 99];'
bad "an interval of 0" 'inter: must be from 0.01 to 86400' \
	'type = "tcp"; inter = 0;'
bad "rise 0" 'rise: must be from 1 to 1000' 'type = "tcp"; rise = 0;'
bad "a relative program" 'command: "probe": the program needs an absolute path' \
	'type = "exec"; command = "probe";'
bad "a missing program" "command: $T/nope: No such file or directory" \
	"type = \"exec\"; command = [\"$T/nope\", \"-v\"];"
bad "a connect check to http" 'url: "http://x/" is not an https:// URL' \
	'type = "connect"; url = "http://x/";'
conf 'type = "tcp"; inter = 0.2;'
out=$("$PROXYPOOLD" -t -c "$T/pp.conf" 2>&1)
check "-t accepts a good check ($out)" [ $? -eq 0 ]

# RELOAD with a bad check keeps the running one
start_daemon "$T/pp.conf"
expect_eq "the tcp check runs" tcp "$(stat a check)"
conf 'type = "http"; url = "ftp://x";'
r=$(pp reload 2>&1)
case $r in
*"pp.conf:5: url:"*) ok "RELOAD refuses a bad check with file:line ($r)" ;;
*) not_ok "RELOAD of a bad check answered: $r" ;;
esac
expect_eq "the running check stays" tcp "$(stat a check)"
conf 'type = "http"; url = "http://127.0.0.1:9/"; inter = 0.2;'
expect_eq "a good RELOAD" OK "$(pp reload)"
expect_eq "switches the check" http "$(stat a check)"
conf -
expect_eq "a RELOAD without the check" OK "$(pp reload)"
expect_eq "stops it" none "$(stat a check)"
grep -q "pool a: health checks stopped" "$T/pp.log"
check "and logs it" [ $? -eq 0 ]
finish
