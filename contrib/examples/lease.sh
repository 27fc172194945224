#!/bin/sh
# lease.sh: lease a proxy from proxypoold with redis-cli, fetch a URL
# through it with curl, and release the lease with the outcome.
#
#   lease.sh [-s SOCKET] POOL [URL]
#
# redis-cli prints a LEASE reply (field/value pairs) one word a line when
# its output is not a terminal; the loop below reads the pairs.  Without a
# URL the lease is only renewed once and released ok.  LEASE_WAIT is how
# long to wait for a free proxy (default 5 s).
set -eu

sock=${PROXYPOOLD_SOCKET:-/run/proxypoold/proxypoold.sock}
if [ "${1:-}" = "-s" ]; then
	sock=$2
	shift 2
fi
[ $# -ge 1 ] || { echo "usage: $0 [-s SOCKET] POOL [URL]" >&2; exit 2; }
pool=$1
url=${2:-}

pp() { redis-cli -s "$sock" "$@"; }

# LEASE: proxy, token, expires, fence, shared, bound; an error is one line
reply=$(pp LEASE "$pool" TTL 60 WAIT "${LEASE_WAIT:-5}" 2>&1) || :
proxy=""
token=""
fence=""
while read -r field; do
	read -r value || break
	case $field in
	proxy) proxy=$value ;;
	token) token=$value ;;
	fence) fence=$value ;;
	esac
done <<EOT
$reply
EOT
if [ -z "$token" ]; then
	echo "lease failed: $reply" >&2
	exit 1
fi
echo "leased $proxy (fence $fence)"

outcome=OK
latency=0
if [ -n "$url" ]; then
	# curl: exit status and HTTP code decide the outcome
	start=$(date +%s%N)
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
	    -x "$proxy" "$url") || outcome=FAILED
	latency=$(( ($(date +%s%N) - start) / 1000000 ))
	case $code in
	403|429) outcome=BANNED ;;
	5*) outcome=FAILED ;;
	esac
	echo "$url: HTTP $code, $outcome in $latency ms"
else
	echo "renewed until $(pp RENEW "$pool" "$token" TTL 60)"
fi

res=$(pp RELEASE "$pool" "$token" "$outcome" LATENCY "$latency")
[ "$res" = OK ] || { echo "release failed: $res" >&2; exit 1; }
echo "released $outcome"
