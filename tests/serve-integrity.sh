#!/bin/bash
# End-to-end: what gbca serve removes, leaves over and reuses around its
# parser. Raw requests over plain HTTP, and some over TLS, against a
# misbehaving upstream (tests/integrity-upstream.py) that numbers what it
# parses: no request smuggled through a Connection option, nothing an
# upstream sends past a response served to anyone, CORS preflights that
# keep the worker alive, HTTP/1.0 clients that get what they can read, every
# Via line checked, no busy loop out of descriptors, and no request cut by a
# reload. In a private network namespace, on high ports.
. "$srcdir/tests/ns.sh"
in_namespaces -n -m -- "$@"

. "$srcdir/tests/lib.sh"
serve_test_prelude
need ip timeout

PH=18080          # plain HTTP
UP=18000          # the upstream
REC=$TMP/upstream.jsonl
UPSTREAM= SERVE= SERVE_ERR=

trap serve_test_cleanup EXIT

ip link set lo up
export GBCA_CAROOT="$TMP/ca"
"$GBCA" init -q || { echo "Bail out! gbca init failed"; exit 1; }

"$PY" "$srcdir/tests/integrity-upstream.py" $UP "$REC" >"$TMP/upstream.out" 2>"$TMP/upstream.err" &
UPSTREAM=$!
wait_until 100 grep -qx ready "$TMP/upstream.out" || { echo "Bail out! the test upstream did not start"; exit 1; }

# start_serve TAG [OPTION...]: serve with a plain-HTTP listener on $PH, one worker.
start_serve() {
	local tag=$1; shift
	SERVE_ERR=$TMP/serve-$tag.err
	"$GBCA" serve --config /dev/null --listen 127.0.0.1:18443 --http-listen 127.0.0.1:$PH \
		--upstream http://127.0.0.1:$UP --workers 1 --access-log off --drain-timeout 2 "$@" 2>"$SERVE_ERR" &
	SERVE=$!
	if ! wait_until 100 grep -q 'listening on' "$SERVE_ERR"; then
		echo "Bail out! gbca serve ($tag) did not start:"
		sed 's/^/# /' "$SERVE_ERR"
		exit 1
	fi
}
stop_serve() {
	local p
	[ -n "$SERVE" ] || return 0
	kill -TERM "$SERVE" 2>/dev/null
	wait_until 80 gone "$SERVE"
	for p in $(gbca_pids); do kill -KILL "$p" 2>/dev/null; done
	wait "$SERVE" 2>/dev/null
	SERVE=
}
# worker: the pid of serve's (one) current worker.
worker() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(awk '/^PPid:/ { print $2 }' "$p/status" 2>/dev/null)" = "$SERVE" ] && { echo "${p#/proc/}"; return; }
	done
}

# The client: "raw REQ [UNTIL REQ UNTIL ...]" sends each request (Python
# bytes escapes) on one connection and reads until the text UNTIL has come,
# the proxy closes, or 5 s pass; prints what came (escaped), then CLOSED or
# OPEN. "traw" does the same over TLS (the certificate is not the point here).
cat > "$TMP/client.py" <<'EOF'
import codecs, socket, ssl, sys, time
tls = sys.argv[1] == "tls"
port = int(sys.argv[2 if tls else 1])
steps = [codecs.escape_decode(a.encode())[0] for a in sys.argv[3 if tls else 2:]]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
if tls:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(s, server_hostname="generativelanguage.googleapis.com")
got, closed = b"", False
for i in range(0, len(steps), 2):
    if closed:
        break
    try:
        s.sendall(steps[i])
    except OSError:
        closed = True
        break
    until = steps[i + 1] if i + 1 < len(steps) else b"\x00never"
    start, seen = time.monotonic(), len(got)
    while time.monotonic() - start < 5 and until not in got[seen:]:
        s.settimeout(max(0.05, 5 - (time.monotonic() - start)))
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            closed = True
            break
        if not d:
            closed = True
            break
        got += d
# Anything more within 0.4 s (a smuggled answer would come now) or the close.
s.settimeout(0.4)
try:
    while not closed:
        d = s.recv(65536)
        if not d:
            closed = True
        got += d
except (socket.timeout, OSError):
    pass
print(repr(got)[2:-1])
print("CLOSED" if closed else "OPEN")
EOF
raw() { "$PY" "$TMP/client.py" $PH "$@"; }
traw() { "$PY" "$TMP/client.py" tls 18443 "$@"; }
# saw PATH: how many requests for PATH the upstream parsed.
saw() { "$PY" -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    if json.loads(line)["target"].split("?")[0] == sys.argv[2]:
        n += 1
print(n)' "$REC" "$1"; }
# hdr PATH NAME: the values of header NAME in the last request for PATH, joined by "|".
hdr() { "$PY" -c '
import json, sys
r = [e for e in map(json.loads, open(sys.argv[1])) if e["target"].split("?")[0] == sys.argv[2]][-1]
print("|".join(v for n, v in r["headers"] if n.lower() == sys.argv[3].lower()))' "$REC" "$1" "$2"; }
status() { printf '%s\n' "$1" | head -1 | cut -c1-12; }
: > "$REC"

start_serve main

# --- 1. a Connection option never removes framing or Host ---
SMUGGLED='GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'
out=$(raw "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: Content-Length\r\nContent-Length: 35\r\n\r\n$SMUGGLED" 'HTTP/1.1 ')
is "/smuggle/connection-content-length-400" "$(status "$out")" "HTTP/1.1 400"
out=$(raw "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n23\r\n$SMUGGLED\r\n0\r\n\r\n" 'HTTP/1.1 ')
is "/smuggle/connection-transfer-encoding-400" "$(status "$out")" "HTTP/1.1 400"
out=$(raw "GET /hostless HTTP/1.1\r\nHost: x\r\nConnection: host\r\n\r\n" 'HTTP/1.1 ')
is "/smuggle/connection-host-400" "$(status "$out")" "HTTP/1.1 400"
is "/smuggle/upstream-never-saw-the-inner-request" "$(saw /smuggled)/$(saw /hostless)" "0/0"
# More Connection options than the proxy tracks: the ones past the limit
# would not be dropped as hop-by-hop, so the request is refused.
out=$(raw "GET /many-options HTTP/1.1\r\nHost: x\r\nConnection: a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, x-secret\r\nX-Secret: 1\r\n\r\n" 'HTTP/1.1 ')
is "/smuggle/too-many-connection-options-400" "$(status "$out")" "HTTP/1.1 400"
out=$(raw 'GET /conn-cl HTTP/1.1\r\nHost: x\r\n\r\n' 'HTTP/1.1 ' 'GET /after HTTP/1.1\r\nHost: x\r\n\r\n' 'path=/after')
is "/smuggle/response-connection-content-length-502" "$(status "$out")" "HTTP/1.1 502"
fails "/smuggle/response-not-merged" grep -q POISON <<<"$out"
out=$(raw 'GET /conn-te HTTP/1.1\r\nHost: x\r\n\r\n' 'HTTP/1.1 ')
is "/smuggle/response-connection-transfer-encoding-502" "$(status "$out")" "HTTP/1.1 502"
# Framing where llhttp would not read it: a Content-Length or Host trailer
# (RFC 9110 6.5.1), HTAB after a framing value. Both 400, never forwarded whole.
out=$(raw 'POST /trailer-cl HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nContent-Length: 40\r\n\r\n' 'HTTP/1.1 ')
is "/smuggle/trailer-content-length-400" "$(status "$out")" "HTTP/1.1 400"
out=$(raw 'POST /trailer-host HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nHost: y\r\n\r\n' 'HTTP/1.1 ')
is "/smuggle/trailer-host-400" "$(status "$out")" "HTTP/1.1 400"
out=$(raw 'POST /htab-cl HTTP/1.1\r\nHost: x\r\nContent-Length: 3\t\r\n\r\nabc' 'HTTP/1.1 ')
is "/smuggle/content-length-htab-400" "$(status "$out")" "HTTP/1.1 400"
is "/smuggle/upstream-never-saw-a-whole-one" "$(saw /trailer-cl)/$(saw /trailer-host)/$(saw /htab-cl)" "0/0/0"

# --- 3. bytes past a response are nobody's answer ---
for p in /extra /204body /304body; do
	out=$(raw "GET $p HTTP/1.1\r\nHost: x\r\n\r\n" 'HTTP/1.1 ' "GET /next$p HTTP/1.1\r\nHost: x\r\n\r\n" "path=/next$p")
	fails "/leftover$p-not-served" grep -q POISON <<<"$out"
	like "/leftover$p-next-request-answered" "$out" "path=/next$p"
done
out=$(raw 'HEAD /headbody HTTP/1.1\r\nHost: x\r\n\r\n' 'HTTP/1.1 ' 'GET /next/headbody HTTP/1.1\r\nHost: x\r\n\r\n' 'path=/next/headbody')
fails "/leftover/head-body-not-served" grep -q POISON <<<"$out"
like "/leftover/head-next-request-answered" "$out" "path=/next/headbody"
# Another client after each of those: never the leftover, never its connection.
out=$(raw 'GET /extra HTTP/1.1\r\nHost: x\r\n\r\n' 'HTTP/1.1 ')
out2=$(raw 'GET /other-client HTTP/1.1\r\nHost: x\r\n\r\n' 'path=/other-client')
fails "/leftover/other-client-not-served" grep -q POISON <<<"$out2"
like "/leftover/other-client-answered" "$out2" "path=/other-client"
extra_conn=$("$PY" -c '
import json, sys
print([e for e in map(json.loads, open(sys.argv[1])) if e["target"] == "/extra"][-1]["conn"])' "$REC")
unlike_conn=$(printf '%s' "$out2" | sed -n 's/.*conn=\([0-9]*\).*/\1/p')
ok "/leftover/upstream-not-pooled" test "$extra_conn" != "$unlike_conn"
out=$(raw 'GET /late204 HTTP/1.1\r\nHost: x\r\n\r\n' 'HTTP/1.1 ')
sleep 0.5
out2=$(raw 'GET /after-late HTTP/1.1\r\nHost: x\r\n\r\n' 'path=/after-late')
fails "/leftover/late-bytes-not-served" grep -q POISON <<<"$out2"

# --- 4. HTTP/1.0 clients ---
out=$(raw 'GET /chunked HTTP/1.0\r\nHost: x\r\n\r\n' '\x00')
fails "/http10/no-chunked" grep -qi 'transfer-encoding\|5;x=1' <<<"$out"
like "/http10/body-dechunked" "$out" '\\r\\n\\r\\nhello world$'
like "/http10/close-delimited" "$out" '^CLOSED$'
out=$(raw 'GET /continue HTTP/1.0\r\nHost: x\r\n\r\n' 'after 100')
fails "/http10/no-1xx" grep -q '100 Continue' <<<"$out"
like "/http10/final-response" "$out" 'after 100'
out=$(raw 'GET /nohost HTTP/1.0\r\n\r\n' 'path=/nohost')
like "/http10/answered-without-host" "$out" 'path=/nohost'
is "/http10/host-added-upstreams" "$(hdr /nohost host)" "127.0.0.1:$UP"
out=$(raw 'GET /ka HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n' 'path=/ka' 'GET /ka2 HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n' 'path=/ka2')
like "/http10/keep-alive-said" "$out" 'Connection: keep-alive'
like "/http10/keep-alive-second-answered" "$out" 'path=/ka2'

# --- the same over TLS ---
out=$(traw "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: Content-Length\r\nContent-Length: 39\r\n\r\nGET /smuggled-tls HTTP/1.1\r\nHost: x\r\n\r\n" 'HTTP/1.1 ')
is "/tls/smuggle-connection-content-length-400" "$(status "$out")" "HTTP/1.1 400"
is "/tls/upstream-never-saw-the-inner-request" "$(saw /smuggled-tls)" 0
out=$(traw 'GET /extra HTTP/1.1\r\nHost: x\r\n\r\n' 'HTTP/1.1 ' 'GET /next-tls HTTP/1.1\r\nHost: x\r\n\r\n' 'path=/next-tls')
fails "/tls/leftover-not-served" grep -q POISON <<<"$out"
like "/tls/leftover-next-request-answered" "$out" "path=/next-tls"
out=$(traw 'GET /chunked HTTP/1.0\r\nHost: x\r\n\r\n' '\x00')
like "/tls/http10-body-dechunked" "$out" '\\r\\n\\r\\nhello world$'

# --- 6. every Via line is read ---
out=$(raw 'GET /via HTTP/1.1\r\nHost: x\r\nVia: 1.1 a\r\nVia: 1.1 gbca\r\n\r\n' 'HTTP/1.1 ')
is "/via/second-line-loop-508" "$(status "$out")" "HTTP/1.1 508"
is "/via/loop-not-forwarded" "$(saw /via)" 0
out=$(raw 'GET /via2 HTTP/1.1\r\nHost: x\r\nVia: 1.1 a\r\nVia: 1.1 b\r\nX-Forwarded-For: 192.0.2.1\r\nX-Forwarded-For: 192.0.2.2\r\n\r\n' 'path=/via2')
is "/via/every-hop-kept" "$(hdr /via2 via)" "1.1 a, 1.1 b, 1.1 gbca"
is "/via/every-forwarded-for-kept" "$(hdr /via2 x-forwarded-for)" "192.0.2.1, 192.0.2.2, 127.0.0.1"
stop_serve

# --- 2. CORS preflights ---
start_serve cors --cors '*'
W=$(worker)
PRE='OPTIONS /v1beta/models HTTP/1.1\r\nHost: generativelanguage.googleapis.com\r\nOrigin: https://a.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type, x-goog-api-key\r\n\r\n'
out=$(raw "$PRE" 'Max-Age' 'GET /s HTTP/1.1\r\nHost: x\r\n\r\n' 'path=/s')
like "/cors/preflight-answered" "$out" 'HTTP/1.1 204'
like "/cors/shorter-request-after-answered" "$out" 'path=/s'
out=$(raw "$PRE" 'Max-Age' "GET /a-much-longer-path-than-the-preflight-had/$(printf 'x%.0s' $(seq 300)) HTTP/1.1\r\nHost: x\r\nX-Pad: $(printf 'y%.0s' $(seq 300))\r\n\r\n" 'path=/a-much')
like "/cors/longer-request-after-answered" "$out" 'path=/a-much-longer'
out=$(raw "OPTIONS /v1beta/models HTTP/1.1\r\nHost: x\r\nAccess-Control-Request-Method: POST\r\nContent-Length: 39\r\n\r\nGET /smuggled-cors HTTP/1.1\r\nHost: x\r\n\r\n" 'Max-Age')
like "/cors/preflight-with-body-answered" "$out" 'HTTP/1.1 204'
like "/cors/preflight-with-body-closes" "$out" '^CLOSED$'
is "/cors/preflight-body-not-a-request" "$(saw /smuggled-cors)" 0
is "/cors/worker-alive" "$(worker)" "$W"
stop_serve

# --- reload: a retiring worker takes no new request ---
# Stream 1 is in flight at the SIGHUP; stream 2, asked on the same
# connection after it, must not be cut at the old worker's deadline
# (--upstream-timeout after a reload): it is refused by a clean close, or
# served in full.
start_serve reload --upstream-timeout 3
"$PY" - $PH "$SERVE" > "$TMP/reload.out" 2>&1 <<'EOF'
import os, signal, socket, sys, time
port, serve = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=8)
req = b"GET /sse?n=10&ms=200 HTTP/1.1\r\nHost: x\r\n\r\n"
def stream():
    got = b""
    while not got.endswith(b"0\r\n\r\n"):
        d = s.recv(65536)
        if not d:
            return got, True
        got += d
    return got, False
s.sendall(req)
time.sleep(0.5)
os.kill(serve, signal.SIGHUP)
one, closed = stream()
print("first", one.count(b"data: "), "closed" if closed else "complete")
try:
    s.sendall(req)
    two, closed = stream()
except OSError:
    two, closed = b"", True
print("second", two.count(b"data: "), len(two), "closed" if closed else "complete")
EOF
like "/reload/in-flight-stream-complete" "$(cat "$TMP/reload.out")" '^first 10 complete'
like "/reload/next-request-refused-or-served" "$(cat "$TMP/reload.out")" 'second (0 0 closed|10 [0-9]+ complete)'
stop_serve

# A connection accepted before the SIGHUP whose first request comes after it
# is answered by the retiring worker (with Connection: close), where it used
# to be closed unanswered (the soak's one error); an idle keep-alive
# connection that had a request is closed instead of taking another, and
# over TLS both end with a close_notify (no SSLEOFError with ragged EOFs not
# suppressed). Ordered by events, not by sleeps: the fresh request goes out
# once the keep-alive connection has seen the drain close it.
cat > "$TMP/fresh.py" <<'EOF'
import os, signal, socket, ssl, sys
mode, port, serve = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
# Debian's python ignores an EOF without close_notify by default: not here.
ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)

def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=8)
    if mode == "tls":
        s = ctx.wrap_socket(s, server_hostname="generativelanguage.googleapis.com",
                            suppress_ragged_eofs=False)
    return s

def read(s, until=None):
    """Reads until `until` is in what came, or to the end: (bytes, how it ended)."""
    got = b""
    try:
        while until is None or until not in got:
            d = s.recv(65536)
            if not d:
                return got, "eof"
            got += d
        return got, "until"
    except ssl.SSLError as e:
        return got, "eof-without-close_notify" if "UNEXPECTED_EOF" in str(e) else "ssl-error"
    except socket.timeout:
        return got, "timeout"
    except OSError as e:
        return got, type(e).__name__

fresh = connect()
ka = connect()
ka.sendall(b"GET /ka-before HTTP/1.1\r\nHost: x\r\n\r\n")
got, how = read(ka, b"path=/ka-before")
print("ka-first", how)
os.kill(serve, signal.SIGHUP)
got, how = read(ka)
print("ka-after", how, len(got))
try:
    fresh.sendall(b"GET /fresh-after-reload HTTP/1.1\r\nHost: x\r\n\r\n")
except OSError as e:
    print("fresh send", type(e).__name__)
got, how = read(fresh)
head = got.split(b"\r\n\r\n", 1)[0].lower()
print("fresh", got.split(b"\r\n", 1)[0].decode(errors="replace"), how,
      "close" if b"\r\nconnection: close" in head else "no-close",
      "answered" if b"path=/fresh-after-reload" in got else "unanswered")
EOF
for mode in plain tls; do
	start_serve fresh-$mode --drain-timeout 10
	port=$PH; [ $mode = tls ] && port=18443
	out=$(timeout 30 "$PY" "$TMP/fresh.py" $mode $port "$SERVE" 2>&1)
	like "/reload/$mode/keep-alive-first-answered" "$out" '^ka-first until'
	like "/reload/$mode/idle-keep-alive-closed-cleanly" "$out" '^ka-after eof 0$'
	like "/reload/$mode/fresh-connection-answered" "$out" '^fresh HTTP/1.1 200 OK eof close answered$'
	stop_serve
done

# --- 5. out of descriptors: no busy loop, one line, and accepting again ---
# An explicit --max-connections above what 48 descriptors fit is kept (with a
# warning), so accept meets EMFILE.
SERVE_ERR=$TMP/serve-emfile.err
(ulimit -n 48 && exec "$GBCA" serve --config /dev/null --listen 127.0.0.1:18443 --http-listen 127.0.0.1:$PH \
	--upstream http://127.0.0.1:$UP --workers 1 --access-log off --drain-timeout 2 --max-connections 1000 \
	--header-timeout 20) 2>"$SERVE_ERR" &
SERVE=$!
wait_until 100 grep -q 'listening on' "$SERVE_ERR" || { echo "Bail out! serve under ulimit -n 48 did not start"; sed 's/^/# /' "$SERVE_ERR"; exit 1; }
like "/fd-limit/explicit-max-connections-warned" "$(cat "$SERVE_ERR")" 'max-connections 1000 needs'
W=$(worker)
"$PY" - $PH "$TMP/hold" <<'EOF' &
import os, socket, sys, time
socks = []
for i in range(60):
    try:
        socks.append(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2))
    except OSError:
        pass
open(sys.argv[2], "w").write("%d\n" % len(socks))
while os.path.exists(sys.argv[2]):
    time.sleep(0.1)
EOF
HOLD=$!
wait_until 100 test -s "$TMP/hold"
sleep 0.5
t0=$(awk '{ print $14 + $15 }' "/proc/$W/stat")
sleep 3
t1=$(awk '{ print $14 + $15 }' "/proc/$W/stat")
ticks=$((t1 - t0))
ok "/fd-limit/no-busy-loop (worker used $ticks ticks in 3 s)" test "$ticks" -lt 40
is "/fd-limit/one-log-line" "$(grep -c 'out of file descriptors' "$SERVE_ERR")" 1
rm -f "$TMP/hold"
wait "$HOLD" 2>/dev/null
out=$(timeout 20 "$PY" "$TMP/client.py" $PH 'GET /after-emfile HTTP/1.1\r\nHost: x\r\n\r\n' 'path=/after-emfile')
like "/fd-limit/accepting-again" "$out" 'path=/after-emfile'
stop_serve
# The default --max-connections is fitted to the limit, and serve says so.
(ulimit -n 200 && exec "$GBCA" serve --config /dev/null --listen 127.0.0.1:18443 --upstream http://127.0.0.1:$UP \
	--workers 1 --access-log off) 2>"$TMP/serve-fit.err" &
SERVE=$!
wait_until 100 grep -q 'listening on' "$TMP/serve-fit.err"
like "/fd-limit/default-fitted" "$(cat "$TMP/serve-fit.err")" 'max-connections is 52'
stop_serve

done_testing
