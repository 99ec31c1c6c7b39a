#!/bin/bash
# End-to-end cases for three promises of `gbca serve` that a regression could
# break silently (each was broken on purpose once and the rest of the suite
# still passed): Proxy-Authorization never reaches the upstream; the 508
# API-key guard refuses a real Google key wherever the query or the header
# carries it, and only a real one (both sides of its boundary are pinned); TLS
# sessions resume, also on another worker (the ticket key is shared). In a
# private network namespace, on high ports, against tests/upstream.py.

# Re-run inside a private network namespace before anything else.
. "$srcdir/tests/ns.sh"
in_namespaces -n -- "$@"

. "$srcdir/tests/lib.sh"
serve_test_prelude
need curl ip timeout gnutls-cli

NAME=generativelanguage.googleapis.com
P=19443         # TLS
PH=19080        # plain HTTP
REC=$TMP/upstream.jsonl
UPSTREAM= SERVE= SERVE_ERR=

trap serve_test_cleanup EXIT

ip link set lo up
export GBCA_CAROOT="$TMP/ca"
"$GBCA" init -q || { echo "Bail out! gbca init failed"; exit 1; }
ROOT=$GBCA_CAROOT/rootCA.pem

"$PY" "$srcdir/tests/upstream.py" --port 8000 --record "$REC" >"$TMP/upstream.out" 2>>"$TMP/upstream.err" &
UPSTREAM=$!
wait_until 100 grep -qx ready "$TMP/upstream.out" || { echo "Bail out! the test upstream did not start"; exit 1; }

# start_serve TAG [OPTION...]: TLS on $P and plain HTTP on $PH; returns once it
# said "listening on".
start_serve() {
	local tag=$1; shift
	SERVE_ERR=$TMP/serve-$tag.err
	"$GBCA" serve --config /dev/null --listen 127.0.0.1:$P --http-listen 127.0.0.1:$PH \
		--upstream http://127.0.0.1:8000 --access-log off --drain-timeout 2 --user root "$@" 2>"$SERVE_ERR" &
	SERVE=$!
	if ! wait_until 100 grep -q 'listening on' "$SERVE_ERR" || ! wait_until 50 port_open 127.0.0.1 $P; then
		echo "Bail out! gbca serve ($tag) did not start:"
		sed 's/^/# /' "$SERVE_ERR"
		exit 1
	fi
}
stop_serve() {
	local p
	[ -n "$SERVE" ] || return 0
	for p in $(gbca_pids); do kill -CONT "$p" 2>/dev/null; done
	kill -TERM "$SERVE" 2>/dev/null
	wait_until 80 gone "$SERVE"
	for p in $(gbca_pids); do kill -KILL "$p" 2>/dev/null; done
	wait "$SERVE" 2>/dev/null
	SERVE=
}
# workers: serve's worker processes (its children).
workers() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(awk '/^PPid:/ { print $2 }' "$p/status" 2>/dev/null)" = "$SERVE" ] && echo "${p#/proc/}"
	done
}

# code SCHEME PATH [CURL-OPTION...]: the status code of one verified request.
code() {
	local scheme=$1 path=$2 url; shift 2
	if [ "$scheme" = https ]; then url="https://$NAME:$P$path"; else url="http://$NAME:$PH$path"; fi
	curl -sS -m 10 -o "$TMP/body" -w '%{http_code}' --cacert "$ROOT" \
		--resolve "$NAME:$P:127.0.0.1" --resolve "$NAME:$PH:127.0.0.1" "$@" "$url" 2>&1
}
# recq CASE EXPR: EXPR over the upstream records of requests with "X-Case: CASE":
# rs (all of them), r (the last), h(NAME) (the values of header NAME in r).
# Prints "none" when the upstream saw no such request.
recq() {
	"$PY" - "$REC" "$1" "$2" <<-'EOF'
	import json, sys
	path, case, expr = sys.argv[1:]
	rs = [e for e in map(json.loads, open(path))
	      if any(n.lower() == "x-case" and v == case for n, v in e.get("headers", []))]
	if not rs:
	    print("none")
	    sys.exit(0)
	r = rs[-1]
	h = lambda name: [v for n, v in r["headers"] if n.lower() == name.lower()]
	print(json.dumps(eval(expr)))
	EOF
}

start_serve main --workers 1

# --- 1. Proxy-Authorization is a credential for the proxy, never forwarded ----
# The upstream must see the request (so the case is not vacuous), its other
# credentials, and no Proxy-Authorization in any spelling or number.
SECRET=cHJveHk6aHVudGVyMg   # base64 of proxy:hunter2, without padding
for scheme in https http; do
	c=proxy-auth-$scheme
	is "/teeth/proxy-auth/$scheme-200" "$(code $scheme /echo -H "X-Case: $c" \
		-H "Proxy-Authorization: Basic $SECRET" -H "proxy-authorization: Basic ${SECRET}2" \
		-H "PROXY-AUTHORIZATION: Bearer ${SECRET}3" -H "Authorization: Bearer end-to-end")" 200
	is "/teeth/proxy-auth/$scheme-not-forwarded" "$(recq $c 'h("proxy-authorization")')" "[]"
	is "/teeth/proxy-auth/$scheme-secret-nowhere" "$(recq $c 'sum(json.dumps(e).count("'$SECRET'") for e in rs)')" 0
	is "/teeth/proxy-auth/$scheme-authorization-kept" "$(recq $c 'h("authorization")')" '["Bearer end-to-end"]'
done
# Connection naming it changes nothing: it is dropped either way.
is "/teeth/proxy-auth/connection-named" "$(code https /echo -H "X-Case: proxy-auth-conn" \
	-H "Connection: proxy-authorization" -H "Proxy-Authorization: Basic $SECRET")" 200
is "/teeth/proxy-auth/connection-named-not-forwarded" "$(recq proxy-auth-conn 'h("proxy-authorization")')" "[]"

# --- 2. the API-key guard: a real key anywhere gives 508, a near miss does not --
# The rule (headers.c headers_request_has_api_key): "AIza" and 35 of
# [A-Za-z0-9_-], not followed by another of them; in any x-goog-api-key, or
# as the value of any query parameter named exactly "key".
K=AIzaSyD0123456789abcdefghijklmnopqrst_-    # 39: AIza + 35
is "/teeth/key/length-39" "${#K}" 39
LONGER=${K}x                                 # 40: one character more
SHORTER=${K%?}                               # 38: one character fewer
OTHER=AIzb${K#AIza}                          # the prefix one letter off
DOTTED=${K:0:20}.${K:21}                     # a character outside the set
G=/v1beta/models/gemini-2.5-flash:generateContent
# refused KIND ARGS...: 508 in Google's envelope, and the upstream never saw it.
refused() {
	local name=$1 c=key-$1 got; shift
	got=$(code https "$@" -H "X-Case: $c")
	is "/teeth/key/$name-508" "$got" 508
	is "/teeth/key/$name-not-forwarded" "$(recq "$c" 'len(rs)')" none
}
# forwarded NAME ARGS...: the upstream got it and answered.
forwarded() {
	local name=$1 c=key-$1 got; shift
	got=$(code https "$@" -H "X-Case: $c")
	is "/teeth/key/$name-forwarded" "$got" 200
	is "/teeth/key/$name-upstream-saw-it" "$(recq "$c" 'len(rs)')" 1
}
refused query-only        "/echo?key=$K"
refused query-first       "/echo?key=$K&alt=sse"
refused query-middle      "/echo?alt=sse&key=$K&x=1"
refused query-last        "/echo?alt=sse&key=$K"
refused query-generate    "$G?key=$K&alt=sse" -X POST -d '{}'
refused query-empty-next  "/echo?key=$K&"
refused header            "/echo" -H "x-goog-api-key: $K"
refused header-case       "/echo" -H "X-Goog-Api-Key: $K"
refused header-generate   "$G" -X POST -d '{}' -H "x-goog-api-key: $K"
refused header-and-query  "/echo?key=$K" -H "x-goog-api-key: $K"
forwarded query-longer    "/echo?key=$LONGER&alt=sse"
forwarded query-shorter   "/echo?key=$SHORTER&alt=sse"
forwarded query-other     "/echo?alt=sse&key=$OTHER"
forwarded query-dotted    "/echo?key=$DOTTED"
forwarded query-xkey      "/echo?xkey=$K"
forwarded query-keyx      "/echo?keyx=$K"
forwarded header-longer   "/echo" -H "x-goog-api-key: $LONGER"
forwarded header-shorter  "/echo" -H "x-goog-api-key: $SHORTER"
forwarded header-other    "/echo" -H "x-goog-api-key: $OTHER"
forwarded header-name     "/echo" -H "x-goog-api-keys: $K"
# Plain HTTP goes through the same guard.
is "/teeth/key/plain-http-query-508" "$(code http "/echo?alt=sse&key=$K&x=1")" 508
is "/teeth/key/plain-http-header-508" "$(code http /echo -H "x-goog-api-key: $K")" 508
# Nothing the upstream got so far carries K where the guard looks for it.
is "/teeth/key/upstream-never-saw-k" "$("$PY" -c '
import json, sys, urllib.parse
k, n = sys.argv[2], 0
for e in map(json.loads, open(sys.argv[1])):
    q = urllib.parse.parse_qs(e.get("target", "").partition("?")[2])
    n += k in q.get("key", []) or any(a.lower() == "x-goog-api-key" and v == k for a, v in e.get("headers", []))
print(n)' "$REC" "$K")" 0

# A second x-goog-api-key field carries the key as far as the upstream is
# concerned: every field is checked, not only the first (as with Via, issue
# 10), and a key anywhere in a field's value counts.
refused header-second     "/echo" -H "x-goog-api-key: sk-local" -H "x-goog-api-key: $K"
refused header-first      "/echo" -H "x-goog-api-key: $K" -H "x-goog-api-key: sk-local"
refused header-listed     "/echo" -H "x-goog-api-key: sk-local, $K"
forwarded header-two-other "/echo" -H "x-goog-api-key: sk-local" -H "x-goog-api-key: $LONGER"
is "/teeth/key/upstream-never-saw-k-in-any-field" "$("$PY" -c '
import json, re, sys
k, n = re.compile(r"(?<![\w-])" + re.escape(sys.argv[2]) + r"(?![\w-])", re.A), 0
for e in map(json.loads, open(sys.argv[1])):
    n += any(a.lower() == "x-goog-api-key" and k.search(v) for a, v in e.get("headers", []))
print(n)' "$REC" "$K")" 0

# --- 3. TLS session resumption ------------------------------------------------
# resume.py MODE PORT: two connections, the second offering the first's
# session; prints "resumed" or what happened. MODE 1.2 or 1.3 (the protocol).
cat > "$TMP/resume.py" <<'EOF'
import socket, ssl, sys
NAME = "generativelanguage.googleapis.com"
version, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=root)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3
ctx.minimum_version = ctx.maximum_version

def exchange(session=None):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                        server_hostname=NAME, session=session)
    # A whole exchange, so that a TLS 1.3 ticket (sent after the handshake) is read.
    s.sendall(b"GET /echo HTTP/1.1\r\nHost: " + NAME.encode() + b"\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    status = data.split(b"\r\n", 1)[0].decode(errors="replace")
    reused, sess = s.session_reused, s.session
    s.close()
    return status, reused, sess

if sys.argv[4:] == ["first"] or len(sys.argv) == 4:
    status, reused, sess = exchange()
    if status != "HTTP/1.1 200 OK":
        sys.exit("first: " + status)
    if len(sys.argv) == 4:
        status, reused, _ = exchange(sess)
        print("resumed" if reused and status == "HTTP/1.1 200 OK" else "not resumed (%s)" % status)
EOF
for v in 1.2 1.3; do
	is "/teeth/resume/python-tls$v" "$(timeout 30 "$PY" "$TMP/resume.py" $v $P "$ROOT" 2>&1)" resumed
done
out=$(timeout 30 gnutls-cli --resume --x509cafile "$ROOT" --port $P --sni-hostname "$NAME" \
	--verify-hostname "$NAME" 127.0.0.1 </dev/null 2>&1)
like "/teeth/resume/gnutls-cli" "$out" 'This is a resumed session'
stop_serve

# Across workers: a session from worker A resumes on worker B. Which worker
# accepts is the kernel's choice, so the other one is stopped (SIGSTOP takes
# it out of epoll_wait, and the listener wakes only the one left).
start_serve two --workers 2
wait_until 50 test "$(workers | wc -l)" -eq 2
set -- $(workers)
if [ $# -ne 2 ]; then
	echo "Bail out! expected 2 workers, found: $*"
	exit 1
fi
A=$1 B=$2
cat > "$TMP/cross.py" <<'EOF'
import os, pickle, signal, socket, ssl, sys, time
NAME = "generativelanguage.googleapis.com"
version, port, root, a, b = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
ctx = ssl.create_default_context(cafile=root)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3
ctx.minimum_version = ctx.maximum_version

def server_pid(s):
    """The gbca worker holding the other end of s (by socket inode)."""
    lport = s.getsockname()[1]
    inode = None
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        f = line.split()
        local, remote = f[1], f[2]
        if int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) == lport:
            inode = f[9]
    for pid in (a, b):
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "socket:[%s]" % inode:
                    return pid
            except OSError:
                pass
    return None

def exchange(session=None):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                        server_hostname=NAME, session=session)
    s.sendall(b"GET /echo HTTP/1.1\r\nHost: " + NAME.encode() + b"\r\n\r\n")
    data = b""
    while b"}" not in data:
        d = s.recv(65536)
        if not d:
            break
        data += d
    who = server_pid(s)
    status = data.split(b"\r\n", 1)[0].decode(errors="replace")
    reused, sess = s.session_reused, s.session
    s.close()
    return status, who, reused, sess

results = []
for serve, stop in ((a, b), (b, a)):
    os.kill(stop, signal.SIGSTOP)
    try:
        status, who1, _, sess = exchange()
    finally:
        os.kill(stop, signal.SIGCONT)
    os.kill(serve, signal.SIGSTOP)
    try:
        status2, who2, reused, _ = exchange(sess)
    finally:
        os.kill(serve, signal.SIGCONT)
    if (status, status2) != ("HTTP/1.1 200 OK",) * 2:
        results.append("statuses %s, %s" % (status, status2))
    elif who1 != serve or who2 != stop:
        results.append("served by %s then %s, wanted %s then %s" % (who1, who2, serve, stop))
    elif not reused:
        results.append("not resumed on the other worker")
    else:
        results.append("resumed")
print(" ".join(results))
EOF
for v in 1.2 1.3; do
	is "/teeth/resume/other-worker-tls$v" \
		"$(timeout 60 "$PY" "$TMP/cross.py" $v $P "$ROOT" "$A" "$B" 2>&1)" "resumed resumed"
done
stop_serve

done_testing
