#!/bin/sh
# gateway_curl.sh: fetch URLs through proxypoold's gateway with curl: no
# lease code at all, the gateway leases a proxy per request and releases
# it with the outcome it saw.
#
#   gateway_curl.sh [-g HOST:PORT] [-u USER] URL...
#
# -g is the gateway listener (default $PROXYPOOL_GATEWAY or
# 127.0.0.1:3128); -u the proxy user name: POOL, POOL-session-ID (every
# URL through one proxy) or POOL-session-ID-ttl-SECONDS.  Prints the
# status and the proxy used of each URL (the listener needs
# proxy_header = true for the latter).
set -eu

gw=${PROXYPOOL_GATEWAY:-127.0.0.1:3128}
user=""
while getopts g:u: opt; do
	case $opt in
	g) gw=$OPTARG ;;
	u) user=$OPTARG ;;
	*) echo "usage: $0 [-g HOST:PORT] [-u USER] URL..." >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-g HOST:PORT] [-u USER] URL..." >&2; exit 2; }

for url; do
	# -p would make http:// URLs go through a CONNECT tunnel too
	set -- -s -o /dev/null -D - -x "http://$gw"
	[ -n "$user" ] && set -- "$@" -U "$user:"
	curl "$@" "$url" | tr -d '\r' | awk -v u="$url" '
	    NR == 1 { status = $2 }
	    tolower($1) == "x-proxypool-proxy:" { proxy = $2 }
	    tolower($1) == "x-proxypool-error:" { error = $2 }
	    END { printf "%s %s %s%s\n", u, status, proxy ? proxy : "-",
		error ? " (" error ")" : "" }'
done
