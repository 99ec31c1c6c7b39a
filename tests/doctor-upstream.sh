#!/bin/bash
# End-to-end: `gbca doctor`'s upstream line, one case per step it checks
# (DNS, TCP connect, the proxy's CONNECT, TLS verification, the HTTP status),
# each against a real server of the test's own: tests/doctor-upstream.py on
# 127.0.0.7, a "remote" balancer with names of its own in a private hosts
# file (balancer.test, and other.test for the same address), in private
# network and mount namespaces.
. "$srcdir/tests/ns.sh"
in_namespaces -n -m -- "$@"

. "$srcdir/tests/lib.sh"
need python3 ip
mount --make-rprivate /
ip link set lo up
private_etc || { echo "Bail out! couldn't make a private /etc"; exit 1; }
printf '127.0.0.1\tlocalhost\n127.0.0.7\tbalancer.test\n127.0.0.7\tother.test\n' > /etc/hosts
unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy NO_PROXY no_proxy GEMINI_API_KEY GBCA_UPSTREAM
export GBCA_CAROOT="$TMP/ca"

PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
# upstream PORT MODE [CERT KEY [ALLOW]]: tests/doctor-upstream.py on 127.0.0.7:PORT
upstream() {
	/usr/bin/python3 "$srcdir/tests/doctor-upstream.py" "$1" "$2" "${3:--}" "${4:--}" "$TMP/record.$1" "${5:-}" \
		> "$TMP/up.$1.out" 2>&1 &
	PIDS+=($!)
	wait_until 50 grep -q ready "$TMP/up.$1.out" || echo "# the upstream on port $1 did not start: $(cat "$TMP/up.$1.out")"
}
# doctor ARG...: the upstream line of `gbca doctor ARG...` (with its fix) in $line
doctor() {
	line=$("$GBCA" doctor "$@" 2>&1 | awk '
		/^(PASS|WARN|FAIL) +upstream  / { p = 1; printf "%s", $0; next }
		p && /^ +fix:/ { sub(/^ +/, " "); printf "%s", $0 }
		{ p = 0 }')
}

# --- plain HTTP (a Gemini Balance on another machine of the LAN) ---
upstream 8080 ok
doctor --upstream http://balancer.test:8080
like "/doctor-upstream/http/pass" "$line" '^PASS +upstream +http://balancer.test:8080 answers \(HTTP 401\)'
# serve keeps the client's Host for a plain upstream; doctor asks as serve would
is "/doctor-upstream/http/request" "$(grep -E '^(request|host) ' "$TMP/record.8080" | tail -n 2 | tr '\n' '|')" \
	"request GET /v1beta/models HTTP/1.1|host generativelanguage.googleapis.com|"
doctor --upstream http://balancer.test:8089
like "/doctor-upstream/http/refused" "$line" '^FAIL +upstream +http://balancer.test:8089: can.t connect to balancer.test \(127.0.0.7\) port 8089: Connection refused.* fix: start Gemini Balance'
upstream 8050 500
doctor --upstream http://balancer.test:8050
like "/doctor-upstream/http/500" "$line" '^FAIL +upstream +http://balancer.test:8050 answered "HTTP/1.1 500 Internal Server Error" to GET /v1beta/models.* fix: look at the upstream.s own log'

done_testing
