#!/bin/bash
# gbca serve --listen: a port alone (PORT, :PORT; flag, config file or
# GBCA_LISTEN) listens on 127.0.0.1 and ::1 only; a wider address must be
# written out and gets a warning. In a private network namespace.
. "$srcdir/tests/ns.sh"
in_namespaces -n -- "$@"

. "$srcdir/tests/lib.sh"
need ip ss
ip link set lo up
export GBCA_CAROOT="$TMP/ca"
"$GBCA" init -q
trap 'kill $(gbca_pids) 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT

# serve_on NAME PORT ARGS...: starts serve, waits until PORT is bound, and
# prints the addresses listening on PORT; the serve's stderr is in $TMP/NAME.err.
serve_on() {
	local name=$1 port=$2 pid; shift 2
	"$GBCA" serve --workers 1 --pid-file off --config /dev/null "$@" > /dev/null 2> "$TMP/$name.err" &
	pid=$!
	wait_until 100 sh -c "ss -ltnH 'sport = :$port' | grep -q ." || sed 's/^/# /' "$TMP/$name.err" >&2
	ss -ltnH "sport = :$port" | awk '{print $4}' | sort | tr '\n' ' '
	kill $pid; wait $pid 2>/dev/null
}
LOOP='127.0.0.1:%s [::1]:%s '
is "/serve/listen/port" "$(serve_on port 8441 --listen 8441)" "$(printf "$LOOP" 8441 8441)"
is "/serve/listen/colon-port" "$(serve_on colon 8442 --listen :8442)" "$(printf "$LOOP" 8442 8442)"
is "/serve/listen/equals" "$(serve_on equals 8443 --listen=8443)" "$(printf "$LOOP" 8443 8443)"
is "/serve/listen/no-warning" "$(cat "$TMP/port.err" "$TMP/colon.err" "$TMP/equals.err" | grep -c warning)" 0
printf 'listen = 8444\n' > "$TMP/serve.conf"
is "/serve/listen/config-file" "$(serve_on conf 8444 --config "$TMP/serve.conf")" "$(printf "$LOOP" 8444 8444)"
is "/serve/listen/env" "$(GBCA_LISTEN=:8445 serve_on env 8445)" "$(printf "$LOOP" 8445 8445)"
is "/serve/http-listen/port" "$(serve_on http 8446 --http-listen 8446)" "$(printf "$LOOP" 8446 8446)"
is "/serve/listen/any-written-out" "$(serve_on any 8447 --listen 0.0.0.0:8447)" "0.0.0.0:8447 "
like "/serve/listen/any-warns" "$(cat "$TMP/any.err")" "warning: 0.0.0.0:8447 is not a loopback address"
is "/serve/listen/loopback-no-warning" "$(serve_on lo 8448 --listen 127.0.0.2:8448; grep -c warning "$TMP/lo.err")" "127.0.0.2:8448 0"
done_testing
