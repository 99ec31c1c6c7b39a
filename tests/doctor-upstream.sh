#!/bin/bash
# End-to-end: `gbca doctor`'s upstream line, one case per step it checks
# (DNS, TCP connect, the proxy's CONNECT, TLS verification, the HTTP status),
# each against a real server of the test's own: tests/doctor-upstream.py on
# 127.0.0.7, a "remote" balancer with names of its own in a private hosts
# file (balancer.test, and other.test for the same address), and
# tests/connect-proxy.py as the upstream proxy, in private network and mount
# namespaces.
. "$srcdir/tests/ns.sh"
in_namespaces -n -m -- "$@"

. "$srcdir/tests/lib.sh"
need python3 ip faketime
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
	/usr/bin/python3 "$srcdir/tests/doctor-upstream.py" "$1" "$2" "${3:--}" "${4:--}" "$TMP/record.$1" \
		> "$TMP/up.$1.out" 2>&1 &
	PIDS+=($!)
	wait_until 50 grep -q ready "$TMP/up.$1.out" || echo "# the upstream on port $1 did not start: $(cat "$TMP/up.$1.out")"
}
# doctor ARG...: the upstream line of `gbca doctor ARG...` (with its fix) in
# $line; run through $WRAP when set
WRAP=()
doctor() {
	line=$("${WRAP[@]}" "$GBCA" doctor "$@" 2>&1 | awk '
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

# --- HTTPS: the balancer's leaf from a second CA of the test's own, for
# balancer.test only; the system store does not trust that CA ---
CA2="$TMP/ca2"
GBCA_CAROOT=$CA2 "$GBCA" init -q --permit balancer.test &&
	GBCA_CAROOT=$CA2 "$GBCA" issue -q --cert-file "$TMP/b.pem" --key-file "$TMP/b-key.pem" balancer.test ||
	{ echo "Bail out! couldn't make the second CA and the balancer's leaf"; exit 1; }
upstream 8443 ok "$TMP/b.pem" "$TMP/b-key.pem"
upstream 8500 500 "$TMP/b.pem" "$TMP/b-key.pem"
upstream 8444 junk "$TMP/b.pem" "$TMP/b-key.pem"
U=https://balancer.test:8443/gb

doctor --upstream "$U" --upstream-ca "$CA2/rootCA.pem"
like "/doctor-upstream/https/pass" "$line" "^PASS +upstream +$U answers \(HTTP 401\) over TLS1.3, certificate for balancer.test verified with $CA2/rootCA.pem"
# as serve asks: SNI and Host are the upstream's, PREFIX comes first
is "/doctor-upstream/https/request" "$(grep -E '^(sni|request|host) ' "$TMP/record.8443" | tail -n 3 | tr '\n' '|')" \
	"sni balancer.test|request GET /gb/v1beta/models HTTP/1.1|host balancer.test:8443|"
doctor --upstream "$U" --upstream-ca="$CA2/rootCA.pem"
like "/doctor-upstream/https/ca-equals-form" "$line" "^PASS +upstream +$U answers"

doctor --upstream https://nowhere.test:8443
like "/doctor-upstream/https/unresolvable" "$line" "^FAIL +upstream +https://nowhere.test:8443: cannot resolve nowhere.test: .* fix: check the host in --upstream"
doctor --upstream http://nowhere.test:8000
like "/doctor-upstream/http/unresolvable" "$line" "^FAIL +upstream +http://nowhere.test:8000: cannot resolve nowhere.test"
doctor --upstream https://balancer.test:8449 --upstream-ca "$CA2/rootCA.pem"
like "/doctor-upstream/https/refused" "$line" "^FAIL +upstream +https://balancer.test:8449: can.t connect to balancer.test \(127.0.0.7\) port 8449: Connection refused"

# untrusted: the system store does not know the second CA
doctor --upstream "$U"
like "/doctor-upstream/https/untrusted" "$line" "^FAIL +upstream +$U: balancer.test's certificate failed verification with the system store: .*issuer is unknown.* fix: if a private CA signed it, give that CA with --upstream-ca FILE"
# the right CA, the wrong name: other.test is the same address
doctor --upstream https://other.test:8443 --upstream-ca "$CA2/rootCA.pem"
like "/doctor-upstream/https/wrong-name" "$line" "^FAIL +upstream +https://other.test:8443: other.test's certificate failed verification with $CA2/rootCA.pem: .*name in the certificate does not match"
is "/doctor-upstream/https/wrong-name-sni" "$(grep '^sni ' "$TMP/record.8443" | tail -n 1)" "sni other.test"
# 900 days on, the leaf (825 days) has expired; the CA has not
# (faketime preloads itself: a sanitizer build must be told that is fine)
WRAP=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" faketime '+900 days')
doctor --upstream "$U" --upstream-ca "$CA2/rootCA.pem"
WRAP=()
like "/doctor-upstream/https/expired" "$line" "^FAIL +upstream +$U: balancer.test's certificate failed verification with $CA2/rootCA.pem: .*expired"
# a CA file that holds no certificate
: > "$TMP/empty.pem"
doctor --upstream "$U" --upstream-ca "$TMP/empty.pem"
like "/doctor-upstream/https/empty-ca-file" "$line" "^FAIL +upstream +$U: no CA certificate in $TMP/empty.pem"

doctor --upstream https://balancer.test:8500 --upstream-ca "$CA2/rootCA.pem"
like "/doctor-upstream/https/500" "$line" '^FAIL +upstream +https://balancer.test:8500 answered "HTTP/1.1 500 Internal Server Error" to GET /v1beta/models'
doctor --upstream https://balancer.test:8444 --upstream-ca "$CA2/rootCA.pem"
like "/doctor-upstream/https/not-http" "$line" '^FAIL +upstream +https://balancer.test:8444 accepted a connection but gave no HTTP answer: it sent "SSH-2.0-OpenSSH_9.2.."'
# a plain HTTP server given as https://: the handshake, not the certificate
doctor --upstream https://balancer.test:8080
like "/doctor-upstream/https/plain-server" "$line" "^FAIL +upstream +https://balancer.test:8080: the TLS handshake with balancer.test failed: .* fix: check that the upstream speaks TLS on that port"

# --- through an HTTP proxy (CONNECT): tests/connect-proxy.py, one that
# tunnels and one that asks for credentials ---
# proxy PORT [ARG...]: tests/connect-proxy.py on 127.0.0.7:PORT, logging to $TMP/proxy.PORT
proxy() {
	local port=$1; shift
	/usr/bin/python3 "$srcdir/tests/connect-proxy.py" --listen "127.0.0.7:$port" --log "$TMP/proxy.$port" "$@" \
		> "$TMP/proxy.$port.out" 2>&1 &
	PIDS+=($!)
	wait_until 50 grep -q ready "$TMP/proxy.$port.out" || echo "# the proxy on port $port did not start"
}
proxy 3128
proxy 3130 --status 407
doctor --upstream "$U" --upstream-ca "$CA2/rootCA.pem" --upstream-proxy http://127.0.0.7:3128
like "/doctor-upstream/proxy/pass" "$line" "^PASS +upstream +$U answers \(HTTP 401\) over TLS1.3.* through the proxy 127.0.0.7:3128"
is "/doctor-upstream/proxy/connect-line" "$(tail -n 1 "$TMP/proxy.3128")" "CONNECT balancer.test:8443 host=balancer.test:8443"
doctor --upstream "$U" --upstream-ca "$CA2/rootCA.pem" --upstream-proxy=http://127.0.0.7:3130
like "/doctor-upstream/proxy/refused-connect" "$line" "^FAIL +upstream +$U: the proxy 127.0.0.7 port 3130 refused CONNECT balancer.test:8443: \"HTTP/1.1 407 Proxy Authentication Required\""
doctor --upstream "$U" --upstream-ca "$CA2/rootCA.pem" --upstream-proxy http://127.0.0.7:3129
like "/doctor-upstream/proxy/down" "$line" "^FAIL +upstream +$U: can.t connect to the upstream proxy 127.0.0.7 port 3129: Connection refused.* fix: start the proxy"
# "env": HTTPS_PROXY, unless NO_PROXY covers the upstream
HTTPS_PROXY=http://127.0.0.7:3128 doctor --upstream "$U" --upstream-ca "$CA2/rootCA.pem" --upstream-proxy env
like "/doctor-upstream/proxy/env" "$line" "^PASS +upstream .* through the proxy 127.0.0.7:3128"
HTTPS_PROXY=http://127.0.0.7:3129 NO_PROXY=.test doctor --upstream "$U" --upstream-ca "$CA2/rootCA.pem" --upstream-proxy env
like "/doctor-upstream/proxy/env-no-proxy" "$line" "^PASS +upstream +$U answers \(HTTP 401\) over TLS1.3, certificate for balancer.test verified with [^ ]*\$"

done_testing
