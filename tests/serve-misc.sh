#!/bin/bash
# End-to-end: the parts of `gbca serve` that tests/serve.sh leaves out: the
# config file, GBCA_* variables and flags and their precedence; one leaf per
# --name chosen by SNI, and --cert/--key; the plain-HTTP listener; systemd
# socket activation; slow clients; --max-connections; SIGHUP and the pid
# file; the workers' user; leaf renewal at start and while serving. In a
# private network namespace, on high ports.

# Re-run inside private network and mount namespaces before anything else.
. "$srcdir/tests/ns.sh"
in_namespaces -n -m -- "$@"

. "$srcdir/tests/lib.sh"
# serve reads these; each case says what it wants.
serve_test_prelude
need curl openssl ip timeout systemd-socket-activate certtool

NAME=generativelanguage.googleapis.com
P=18443         # TLS
PH=18080        # plain HTTP
PA=18444        # systemd socket activation
REC=$TMP/upstream.jsonl
UPSTREAM= SERVE= SERVE_ERR=

trap serve_test_cleanup EXIT

started_or_gone() { grep -q 'listening on' "$1" || gone "$2"; }

ip link set lo up
export GBCA_CAROOT="$TMP/ca"
"$GBCA" init -q || { echo "Bail out! gbca init failed"; exit 1; }
ROOT=$GBCA_CAROOT/rootCA.pem

"$PY" "$srcdir/tests/upstream.py" --port 8000 --record "$REC" >"$TMP/upstream.out" 2>>"$TMP/upstream.err" &
UPSTREAM=$!
wait_until 100 grep -qx ready "$TMP/upstream.out" || { echo "Bail out! the test upstream did not start"; exit 1; }

# start_serve TAG [OPTION...]: gbca serve on 127.0.0.1:$P (unless the options
# say otherwise), stderr in $TMP/serve-TAG.err; returns once it said "listening on".
start_serve() {
	local tag=$1; shift
	SERVE_ERR=$TMP/serve-$tag.err
	"$GBCA" serve --config /dev/null --listen 127.0.0.1:$P --upstream http://127.0.0.1:8000 \
		--workers 1 --access-log off --drain-timeout 2 "$@" 2>"$SERVE_ERR" &
	SERVE=$!
	if ! wait_until 100 grep -q 'listening on' "$SERVE_ERR"; then
		echo "Bail out! gbca serve ($tag) did not start:"
		sed 's/^/# /' "$SERVE_ERR"
		exit 1
	fi
}
# stop_serve: SIGTERM; true when serve and its workers are gone within 8 s
# (they are killed then, so that one stuck case does not stall the rest).
stop_serve() {
	local rc=0 p
	[ -n "$SERVE" ] || return 0
	kill -TERM "$SERVE" 2>/dev/null
	wait_until 80 gone "$SERVE" || rc=1
	wait_until 20 no_gbca_left || rc=1
	for p in $(gbca_pids); do kill -KILL "$p" 2>/dev/null; done
	wait "$SERVE" 2>/dev/null
	SERVE=
	return $rc
}
# children PID: the processes whose parent is PID.
children() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(awk '/^PPid:/ { print $2 }' "$p/status" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
	done
}
uids() { awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$1/status" 2>/dev/null; }

# tls_curl PORT PATH [CURL-OPTION...]: a verified request for $NAME on 127.0.0.1:PORT.
tls_curl() {
	local port=$1 path=$2; shift 2
	curl -sS -m 5 --cacert "$ROOT" --resolve "$NAME:$port:127.0.0.1" "$@" "https://$NAME:$port$path"
}
# served CMD PORT SNI: the certificate served to SNI, through `openssl x509 CMD`.
served() {
	openssl s_client -connect "127.0.0.1:$2" -servername "$3" < /dev/null 2>/dev/null |
		openssl x509 -noout $1 2>&1
}
san() { printf '%s\n' "$1" | sed -n '2,$p' | tr -d ' \n'; }
fp() { openssl x509 -noout -fingerprint -sha256 -in "$1" 2>&1; }

# recq CASE EXPR: EXPR over the upstream records of requests with "X-Case: CASE":
# r (the last), h(NAME) (the values of header NAME in r).
recq() {
	"$PY" - "$REC" "$1" "$2" <<-'EOF'
	import json, sys
	path, case, expr = sys.argv[1:]
	rs = [e for e in map(json.loads, open(path))
	      if any(n.lower() == "x-case" and v == case for n, v in e.get("headers", []))]
	if not rs:
	    sys.exit("the upstream saw no request of case " + case)
	r = rs[-1]
	h = lambda name: [v for n, v in r["headers"] if n.lower() == name.lower()]
	print(json.dumps(eval(expr)))
	EOF
}

# The python client: TLS without verification (the cases are about timing).
cat > "$TMP/client.py" <<'EOF'
import socket, ssl, sys, time
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE
NAME = "generativelanguage.googleapis.com"

def tls(port, timeout=5):
    return CTX.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=timeout), server_hostname=NAME)

def until_closed(s, limit):
    """Seconds until the server closes s, or None after `limit` seconds."""
    start = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - start < limit:
        try:
            if s.recv(4096) == b"":
                return time.monotonic() - start
        except (socket.timeout, ssl.SSLWantReadError):
            continue
        except (OSError, ssl.SSLError):
            return time.monotonic() - start
    return None

def slow(mode, port, lo, hi):
    """half: half a head after the handshake; silent: nothing after the
    handshake; plain: TCP only, no TLS. Prints "closed in time" when the
    server closes between lo and hi seconds after the client went quiet."""
    lo, hi = float(lo), float(hi)
    if mode == "plain":
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    else:
        s = tls(port)
        if mode == "half":
            s.sendall(b"GET /echo HTTP/1.1\r\nHost: " + NAME.encode() + b"\r\nX-A: ")
    t = until_closed(s, hi + 4)
    if t is None:
        print("still open after %.0f s" % (hi + 4))
    elif not lo <= t <= hi:
        print("closed after %.1f s, not within %.1f-%.1f s" % (t, lo, hi))
    else:
        print("closed in time")

def maxconn(port):
    held = [tls(port), tls(port)]
    third = CTX.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                            server_hostname=NAME, do_handshake_on_connect=False)
    third.settimeout(1)
    try:
        third.do_handshake()
        print("the third handshake completed while two connections were open")
        return
    except (socket.timeout, TimeoutError):
        pass
    held[0].close()
    third.settimeout(5)
    try:
        third.do_handshake()
    except (socket.timeout, TimeoutError):
        print("the third handshake did not complete after one connection closed")
        return
    third.sendall(b"GET /echo HTTP/1.1\r\nHost: " + NAME.encode() + b"\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        d = third.recv(65536)
        if not d:
            break
        data += d
    print(data.split(b"\r\n", 1)[0].decode(errors="replace"))

globals()[sys.argv[1]](*[int(a) if a.isdigit() else a for a in sys.argv[2:]])
EOF
client() { timeout 30 "$PY" "$TMP/client.py" "$@" 2>&1; }

# --- 1. config file, GBCA_* variables, flags ----------------------------------
CONF=$TMP/serve.conf
cat > "$CONF" <<EOF
# gbca serve, for the precedence cases
upstream = http://127.0.0.1:1

  listen=127.0.0.1:$P
workers = 1
user = root
access-log = off
EOF
# startup_line CMD...: the start-up line of CMD (a gbca serve, stopped again),
# or what it printed when it did not start.
startup_line() {
	# A file of its own each time: a shared one could be read before the
	# background job's redirection has truncated it, showing the last run's line.
	local err pid
	err=$(mktemp "$TMP/startup.XXXXXX")
	"$@" 2>"$err" &
	pid=$!
	wait_until 300 started_or_gone "$err" "$pid"
	if [ -n "$STARTUP_CHECK" ]; then
		$STARTUP_CHECK > "$TMP/startup.check" 2>&1
	fi
	kill -TERM "$pid" 2>/dev/null
	wait_until 50 gone "$pid" || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	wait_until 30 no_gbca_left
	grep 'listening on' "$err" || sed 's/^/# /' "$err"
}
STARTUP_CHECK=
S=("$GBCA" serve --config "$CONF")
is "/serve-misc/config/file" "$(startup_line "${S[@]}")" \
	"gbca: listening on 127.0.0.1:$P; upstream http://127.0.0.1:1; 1 worker"
is "/serve-misc/config/env-over-file" "$(startup_line env GBCA_UPSTREAM=http://127.0.0.1:2 "${S[@]}")" \
	"gbca: listening on 127.0.0.1:$P; upstream http://127.0.0.1:2; 1 worker"
is "/serve-misc/config/flag-over-env-and-file" \
	"$(startup_line env GBCA_UPSTREAM=http://127.0.0.1:2 "${S[@]}" --upstream http://127.0.0.1:3)" \
	"gbca: listening on 127.0.0.1:$P; upstream http://127.0.0.1:3; 1 worker"
is "/serve-misc/config/workers-env-then-flag" \
	"$(startup_line env GBCA_WORKERS=2 "${S[@]}" | grep -o '[0-9]* workers*$') $(startup_line env GBCA_WORKERS=2 "${S[@]}" --workers 3 | grep -o '[0-9]* workers*$')" \
	"2 workers 3 workers"
both_new_open() {
	port_open 127.0.0.1 18501 && port_open 127.0.0.1 18502 && echo "18501 18502 open" || echo "not both open"
	port_open 127.0.0.1 $P && echo "the file's $P is open too"
}
STARTUP_CHECK=both_new_open
is "/serve-misc/config/env-list-replaces-file-list" \
	"$(startup_line env GBCA_LISTEN=127.0.0.1:18501,127.0.0.1:18502 "${S[@]}")" \
	"gbca: listening on 127.0.0.1:18501, 127.0.0.1:18502; upstream http://127.0.0.1:1; 1 worker"
is "/serve-misc/config/env-list-bound" "$(cat "$TMP/startup.check")" "18501 18502 open"
STARTUP_CHECK=

# rc_err CMD...: "STATUS STDERR" of CMD, which must end within 10 s.
rc_err() { local out rc; out=$(timeout 10 "$@" 2>&1 >/dev/null); rc=$?; printf '%s %s' "$rc" "$out"; }
printf 'listen = 127.0.0.1:%s\nnonsense\n' $P > "$TMP/bad-line.conf"
like "/serve-misc/config/bad-line-exit-1" "$(rc_err "$GBCA" serve --config "$TMP/bad-line.conf")" \
	"^1 .*$TMP/bad-line.conf line 2"
printf '# ok\nworkers = 1\ncolour = blue\n' > "$TMP/bad-key.conf"
like "/serve-misc/config/unknown-key-exit-1" "$(rc_err "$GBCA" serve --config "$TMP/bad-key.conf")" \
	"^1 .*colour"
like "/serve-misc/config/missing-file-exit-1" "$(rc_err "$GBCA" serve --config /nonexistent/serve.conf)" \
	"^1 .*/nonexistent/serve.conf"
like "/serve-misc/config/workers-0-exit-2" "$(rc_err "$GBCA" serve --config /dev/null --workers 0)" "^2 "
like "/serve-misc/config/bad-env-exit-1" "$(rc_err env GBCA_WORKERS=zero "$GBCA" serve --config /dev/null)" \
	"^1 .*GBCA_WORKERS"

# --- 2. one leaf per --name, chosen by SNI, reused ------------------------------
start_serve sni --user root --name a.localhost --name b.localhost
san_a=$(san "$(served '-ext subjectAltName' $P a.localhost)")
san_b=$(san "$(served '-ext subjectAltName' $P b.localhost)")
is "/serve-misc/sni/a" "$san_a" "DNS:a.localhost"
is "/serve-misc/sni/b" "$san_b" "DNS:b.localhost"
fp_a=$(served '-fingerprint -sha256' $P a.localhost)
fp_b=$(served '-fingerprint -sha256' $P b.localhost)
is "/serve-misc/sni/a-is-the-caroot-file" "$fp_a" "$(fp "$GBCA_CAROOT/serve/a.localhost.pem")"
is "/serve-misc/sni/b-is-the-caroot-file" "$fp_b" "$(fp "$GBCA_CAROOT/serve/b.localhost.pem")"
ok "/serve-misc/sni/keys-0600" test "$(stat -c %a "$GBCA_CAROOT/serve/a.localhost-key.pem" "$GBCA_CAROOT/serve/b.localhost-key.pem" 2>&1)" = "600
600"
like "/serve-misc/sni/verified" "$(curl -sS -m 5 --cacert "$ROOT" --resolve b.localhost:$P:127.0.0.1 \
	-o /dev/null -w '%{http_code}' https://b.localhost:$P/echo 2>&1)" "^200$"
stop_serve; _tap_result $? "/serve-misc/sni/stop"
start_serve sni2 --user root --name a.localhost --name b.localhost
is "/serve-misc/sni/a-reused" "$(served '-fingerprint -sha256' $P a.localhost)" "$fp_a"
is "/serve-misc/sni/b-reused" "$(served '-fingerprint -sha256' $P b.localhost)" "$fp_b"
stop_serve

# --- 3. --cert/--key ---------------------------------------------------------------
mkdir "$TMP/own"
"$GBCA" issue -q --cert-file "$TMP/own/cert.pem" --key-file "$TMP/own/key.pem" own.localhost ||
	echo "# gbca issue failed"
start_serve own --user root --cert "$TMP/own/cert.pem" --key "$TMP/own/key.pem"
want=$(fp "$TMP/own/cert.pem")
like "/serve-misc/cert/issued-file" "$want" "Fingerprint"
is "/serve-misc/cert/served" "$(served '-fingerprint -sha256' $P own.localhost)" "$want"
is "/serve-misc/cert/served-without-sni-match" "$(served '-fingerprint -sha256' $P $NAME)" "$want"
stop_serve
like "/serve-misc/cert/cert-without-key-exit-2" \
	"$(rc_err "$GBCA" serve --config /dev/null --cert "$TMP/own/cert.pem")" "^2 "
like "/serve-misc/cert/key-without-cert-exit-2" \
	"$(rc_err "$GBCA" serve --config /dev/null --key "$TMP/own/key.pem")" "^2 "

# --- 4. plain HTTP listener ----------------------------------------------------------
start_serve http --user root --http-listen 127.0.0.1:$PH
like "/serve-misc/http/start-up-line" "$(cat "$SERVE_ERR")" "127.0.0.1:$PH \(plain HTTP\)"
is "/serve-misc/http/plain-200" "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H 'X-Case: plain' \
	http://127.0.0.1:$PH/echo 2>&1)" 200
is "/serve-misc/http/x-forwarded-proto-http" "$(recq plain 'h("x-forwarded-proto")' 2>&1)" '["http"]'
is "/serve-misc/http/tls-still-200" "$(tls_curl $P /echo -o /dev/null -w '%{http_code}' -H 'X-Case: tls' 2>&1)" 200
is "/serve-misc/http/x-forwarded-proto-https" "$(recq tls 'h("x-forwarded-proto")' 2>&1)" '["https"]'
stop_serve

# --- 5. systemd socket activation ------------------------------------------------------
# activated FDNAME: gbca serve behind systemd-socket-activate on 127.0.0.1:$PA.
activated() {
	SERVE_ERR=$TMP/serve-activated-$1.err
	systemd-socket-activate -l 127.0.0.1:$PA --fdname="$1" env GBCA_CAROOT="$GBCA_CAROOT" \
		"$GBCA" serve --config /dev/null --workers 1 --user root --access-log off --drain-timeout 2 \
		--upstream http://127.0.0.1:8000 2>"$SERVE_ERR" &
	SERVE=$!
	wait_until 50 port_open 127.0.0.1 $PA || echo "# systemd-socket-activate did not listen"
}
activated https
is "/serve-misc/systemd/tls-200" "$(tls_curl $PA /echo -m 3 -o /dev/null -w '%{http_code}' 2>&1)" 200
is "/serve-misc/systemd/tls-200-again" "$(tls_curl $PA /echo -m 3 -o /dev/null -w '%{http_code}' 2>&1)" 200
# The master prints its line after starting the workers, which may already
# have answered: wait for it.
wait_until 100 grep -q 'listening on' "$SERVE_ERR"
like "/serve-misc/systemd/start-up-line" "$(cat "$SERVE_ERR")" "listening on fd 3 \(systemd\)"
stop_serve
activated http
is "/serve-misc/systemd/http-200" "$(curl -sS -m 3 -o /dev/null -w '%{http_code}' -H 'X-Case: act-http' \
	http://127.0.0.1:$PA/echo 2>&1)" 200
is "/serve-misc/systemd/http-x-forwarded-proto" "$(recq act-http 'h("x-forwarded-proto")' 2>&1)" '["http"]'
stop_serve

# --- 6. slow clients are dropped -----------------------------------------------------------
start_serve slow --user root --header-timeout 2
client slow half $P 1.5 4.5 > "$TMP/slow-half" & c1=$!
client slow silent $P 1.5 4.5 > "$TMP/slow-silent" & c2=$!
client slow plain $P 1.5 4.5 > "$TMP/slow-plain" & c3=$!
wait $c1 $c2 $c3
is "/serve-misc/slow/half-head-closed" "$(cat "$TMP/slow-half")" "closed in time"
is "/serve-misc/slow/nothing-after-handshake-closed" "$(cat "$TMP/slow-silent")" "closed in time"
is "/serve-misc/slow/no-tls-handshake-closed" "$(cat "$TMP/slow-plain")" "closed in time"
is "/serve-misc/slow/still-serving" "$(tls_curl $P /echo -o /dev/null -w '%{http_code}' 2>&1)" 200
stop_serve

# --- 7. --max-connections: a full worker stops accepting ------------------------------------
start_serve max --user root --max-connections 2
is "/serve-misc/max-connections/third-waits-then-200" "$(client maxconn $P)" "HTTP/1.1 200 OK"
stop_serve

# --- 8. SIGHUP and the pid file ----------------------------------------------------------------
start_serve hup --user root
PIDF=$GBCA_CAROOT/serve.pid
is "/serve-misc/pid-file/master-pid" "$(cat "$PIDF" 2>&1)" "$SERVE"
# In flight across the reload for longer than --drain-timeout (2 s): the old
# worker must finish it, as it would a slow generation, not cut it.
tls_curl $P '/slowhead?ms=3500' -m 10 -o /dev/null -w '%{http_code}' > "$TMP/inflight" 2>&1 &
inflight=$!
sleep 0.5
kill -HUP "$(cat "$PIDF")"
is "/serve-misc/sighup/new-request" "$(tls_curl $P /echo -o /dev/null -w '%{http_code}' 2>&1)" 200
wait "$inflight"
is "/serve-misc/sighup/in-flight-completes" "$(cat "$TMP/inflight")" 200
wait_until 30 grep -q 're-read' "$SERVE_ERR"
like "/serve-misc/sighup/note" "$(cat "$SERVE_ERR")" "SIGHUP: certificates re-read"
ok "/serve-misc/sighup/master-alive" kill -0 "$SERVE"
is "/serve-misc/sighup/one-worker-left" "$(wait_until 50 test "$(children "$SERVE" | wc -l)" = 1; children "$SERVE" | wc -l)" 1
stop_serve; _tap_result $? "/serve-misc/pid-file/sigterm-stops"
ok "/serve-misc/pid-file/removed" test ! -e "$PIDF"

# An old worker finishing a slow request after SIGHUP still stops within
# --drain-timeout (2 s) once the master gets SIGTERM.
start_serve hup-term --user root
tls_curl $P '/slowhead?ms=20000' -m 30 -o /dev/null -w '%{http_code}' > "$TMP/inflight-term" 2>&1 &
inflight=$!
sleep 0.5
kill -HUP "$SERVE"
wait_until 30 grep -q 're-read' "$SERVE_ERR"
kill -TERM "$SERVE"
t0=$(date +%s)
wait_until 80 no_gbca_left
is "/serve-misc/sighup/then-sigterm-all-gone" "$(gbca_pids | wc -l)" 0
ok "/serve-misc/sighup/then-sigterm-within-drain" test $(($(date +%s) - t0)) -le 6
wait "$inflight"
isnt_200=$(cat "$TMP/inflight-term")
ok "/serve-misc/sighup/then-sigterm-cuts-the-slow-request" test "$isnt_200" != 200
wait "$SERVE" 2>/dev/null
SERVE=

# --- 9. the workers' user ------------------------------------------------------------------------
NOBODY="$(id -u nobody) $(id -u nobody) $(id -u nobody) $(id -u nobody)"
start_serve user-default
wait_until 30 test -n "$(children "$SERVE")"
w=$(children "$SERVE" | head -1)
is "/serve-misc/user/master-root" "$(uids "$SERVE")" "0 0 0 0"
is "/serve-misc/user/worker-nobody" "$(uids "$w")" "$NOBODY"
is "/serve-misc/user/worker-no-groups" "$(awk '/^Groups:/ { print $2 }' "/proc/$w/status" 2>&1)" ""
is "/serve-misc/user/nobody-worker-serves" "$(tls_curl $P /echo -o /dev/null -w '%{http_code}' 2>&1)" 200
stop_serve
start_serve user-root --user root
wait_until 30 test -n "$(children "$SERVE")"
is "/serve-misc/user/worker-root" "$(uids "$(children "$SERVE" | head -1)")" "0 0 0 0"
stop_serve
start_serve user-missing --user nosuchuser
wait_until 50 grep -q 'no user' "$SERVE_ERR"
like "/serve-misc/user/no-such-user" "$(head -c 2000 "$SERVE_ERR")" 'no user "nosuchuser"'
# The master gives up rather than restarting workers that can't start.
wait_until 80 gone "$SERVE"
ok "/serve-misc/user/master-stops" gone "$SERVE"
wait "$SERVE" 2>/dev/null; rc=$?
is "/serve-misc/user/master-exit-1" "$rc" 1
is "/serve-misc/user/no-restart-loop" "$(grep -c 'stopped unexpectedly' "$SERVE_ERR")" 0
SERVE=

# --http-listen adds a plain listener; the file's TLS listener stays.
printf 'listen = 127.0.0.1:%s\n' "$P" > "$TMP/both.conf"
"$GBCA" serve --config "$TMP/both.conf" --http-listen 127.0.0.1:$PH --upstream http://127.0.0.1:8000 \
	--workers 1 --access-log off --user root 2>"$TMP/both.err" &
SERVE=$!
wait_until 100 grep -q 'listening on' "$TMP/both.err"
like "/serve-misc/config/http-listen-keeps-tls" "$(grep "listening on" "$TMP/both.err")" "listening on 127.0.0.1:$P, 127.0.0.1:$PH \(plain HTTP\)"
stop_serve

# --- 10. leaf renewal ---------------------------------------------------------------------------
# craft_leaf BEFORE AFTER SERIAL: a leaf for $NAME in CAROOT/serve/ (where serve
# keeps its own), valid from BEFORE seconds ago to AFTER seconds from now,
# signed by the CA with certtool, so that its life is seconds, not days.
craft_leaf() {
	local d=$GBCA_CAROOT/serve
	mkdir -p "$d"
	cat > "$TMP/leaf.tmpl" <<-EOF
	cn = "$NAME"
	dns_name = "$NAME"
	serial = $3
	activation_date = "$(date -u -d "@$(($(date +%s) - $1))" '+%Y-%m-%d %H:%M:%S')"
	expiration_date = "$(date -u -d "@$(($(date +%s) + $2))" '+%Y-%m-%d %H:%M:%S')"
	tls_www_server
	signing_key
	EOF
	TZ=UTC certtool --generate-privkey --key-type ecdsa --outfile "$d/$NAME-key.pem" 2>/dev/null &&
	chmod 600 "$d/$NAME-key.pem" &&
	TZ=UTC certtool --generate-certificate --load-privkey "$d/$NAME-key.pem" --template "$TMP/leaf.tmpl" \
		--load-ca-certificate "$ROOT" --load-ca-privkey "$GBCA_CAROOT/rootCA-key.pem" \
		--outfile "$d/$NAME.pem" >/dev/null 2>&1
}
# Two thirds of its life gone at start: serve issues a new leaf before it listens.
craft_leaf 25 5 4660
start_serve renew-at-start --user root
is "/serve-misc/renewal/at-start-new-leaf" "$(served -serial $P $NAME)" "$(openssl x509 -noout -serial -in "$GBCA_CAROOT/serve/$NAME.pem")"
ok "/serve-misc/renewal/at-start-not-the-old" test "$(served -serial $P $NAME)" != "serial=1234"
stop_serve

# 10 s into a 30 s life: reused at start, due 20 s into its life (10 s from
# now), then renewed while serving, with a request in flight across it.
craft_leaf 10 20 4661
start_serve renew-running --user root
is "/serve-misc/renewal/reused-at-start" "$(served -serial $P $NAME)" "serial=1235"
tls_curl $P '/slowhead?ms=12000' -m 30 -o /dev/null -w '%{http_code}' > "$TMP/renew-inflight" 2>&1 &
inflight=$!
renewed() { [ "$(served -serial $P $NAME)" != "serial=1235" ]; }
ok "/serve-misc/renewal/renewed-while-running" wait_until 300 renewed
like "/serve-misc/renewal/note" "$(cat "$SERVE_ERR")" "renewal: certificates re-read"
is "/serve-misc/renewal/serves-the-new-file" "$(served -serial $P $NAME)" "$(openssl x509 -noout -serial -in "$GBCA_CAROOT/serve/$NAME.pem")"
ok "/serve-misc/renewal/new-leaf-lasts" openssl x509 -noout -checkend $((100 * 86400)) -in "$GBCA_CAROOT/serve/$NAME.pem"
is "/serve-misc/renewal/new-key-0600" "$(stat -c %a "$GBCA_CAROOT/serve/$NAME-key.pem")" 600
is "/serve-misc/renewal/verified-after" "$(tls_curl $P /echo -o /dev/null -w '%{http_code}' 2>&1)" 200
wait "$inflight"
is "/serve-misc/renewal/in-flight-completes" "$(cat "$TMP/renew-inflight")" 200
# Not renewed again: the new leaf is due in months.
sleep 2
is "/serve-misc/renewal/once" "$(grep -c 'renewal: certificates re-read' "$SERVE_ERR")" 1
stop_serve

done_testing
