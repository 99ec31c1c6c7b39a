#!/bin/bash
# End-to-end: gbca serve --google-passthrough. In a private network and mount
# namespace: /etc/hosts maps generativelanguage.googleapis.com to 127.0.0.1
# (the proxy), while a DNS server of the test's own answers with 203.0.113.10,
# a documentation address on a dummy interface where a "real Google" (a TLS
# server with a certificate from a second CA, trusted through the namespace's
# copy of the system store) listens. A request with a Google API key goes to
# the real Google, verified; without --google-passthrough it gets 508; a
# "Google" the system does not trust gets 502.
. "$srcdir/tests/ns.sh"
in_namespaces -n -m -- "$@"

. "$srcdir/tests/lib.sh"
need ip curl update-ca-certificates python3 certtool

mount --make-rprivate /
ip link set lo up
# Our namespace's loopback carries the documentation address too.
ip addr add 203.0.113.10/32 dev lo

sandbox_trust_store
NAME=generativelanguage.googleapis.com
printf '127.0.0.1 localhost\n127.0.0.1 %s\n' "$NAME" > "$TMP/hosts"
mount --bind "$TMP/hosts" /etc/hosts
printf 'nameserver 127.0.0.2\noptions timeout:1 attempts:1\n' > "$TMP/resolv.conf"
mount --bind "$TMP/resolv.conf" /etc/resolv.conf

# The "real Google": its own CA, which the system store (our copy) trusts.
mkdir -p "$TMP/google"
cd "$TMP/google" || exit 1
printf 'cn = "Fake Public CA"\nca\ncert_signing_key\nexpiration_days = 30\n' > ca.tmpl
printf 'organization = "Fake Google"\ndns_name = "%s"\ntls_www_server\nexpiration_days = 30\n' "$NAME" > leaf.tmpl
certtool --generate-privkey --key-type ecdsa --outfile ca-key.pem 2>/dev/null
certtool --generate-self-signed --load-privkey ca-key.pem --template ca.tmpl --outfile ca.pem 2>/dev/null
certtool --generate-privkey --key-type ecdsa --outfile key.pem 2>/dev/null
certtool --generate-certificate --load-privkey key.pem --load-ca-certificate ca.pem --load-ca-privkey ca-key.pem \
	--template leaf.tmpl --outfile cert.pem 2>/dev/null
# An impostor: same name, a CA nobody trusts.
certtool --generate-privkey --key-type ecdsa --outfile bad-ca-key.pem 2>/dev/null
certtool --generate-self-signed --load-privkey bad-ca-key.pem --template ca.tmpl --outfile bad-ca.pem 2>/dev/null
certtool --generate-certificate --load-privkey key.pem --load-ca-certificate bad-ca.pem --load-ca-privkey bad-ca-key.pem \
	--template leaf.tmpl --outfile bad-cert.pem 2>/dev/null
cp ca.pem /usr/local/share/ca-certificates/fake-public-ca.crt
update-ca-certificates >/dev/null 2>&1

cat > "$TMP/dns.py" <<'PY'
# A one-name DNS server: A generativelanguage.googleapis.com -> 203.0.113.10.
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.2", 53))
print("ready", flush=True)
while True:
    q, peer = s.recvfrom(512)
    tid, flags, qd = struct.unpack(">HHH", q[:6])
    i = 12
    labels = []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode().lower()); i += 1 + q[i]
    qtype, = struct.unpack(">H", q[i + 1:i + 3])
    question = q[12:i + 5]
    name = ".".join(labels)
    ans = b""
    if name == sys.argv[1] and qtype == 1:
        ans = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("203.0.113.10")
    s.sendto(struct.pack(">HHHHHH", tid, 0x8180, 1, 1 if ans else 0, 0, 0) + question + ans, peer)
PY
cat > "$TMP/google.py" <<'PY'
# The "real Google": answers every request with what it received, as JSON.
import json, socket, ssl, sys, threading
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv = socket.create_server(("203.0.113.10", 443))
print("ready", flush=True)
def handle(c):
    try:
        t = ctx.wrap_socket(c, server_side=True)
        data = b""
        while b"\r\n\r\n" not in data:
            d = t.recv(65536)
            if not d: return
            data += d
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        hdrs = [l.split(": ", 1) for l in lines[1:]]
        n = int(dict((k.lower(), v) for k, v in hdrs).get("content-length", "0"))
        while len(body) < n:
            body += t.recv(65536)
        out = json.dumps({"real_google": True, "request": lines[0], "headers": hdrs, "body": body.decode()}).encode()
        t.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(out) + out)
        t.close()
    except Exception:
        pass
while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
PY
PIDS=""
trap 'kill $PIDS 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
python3 "$TMP/dns.py" "$NAME" > "$TMP/dns.out" 2>&1 & PIDS="$PIDS $!"
python3 "$TMP/google.py" cert.pem key.pem > "$TMP/google.out" 2>&1 & GOOGLE=$!; PIDS="$PIDS $GOOGLE"
for _ in $(seq 50); do grep -q ready "$TMP/dns.out" && grep -q ready "$TMP/google.out" && break; sleep 0.1; done

export GBCA_CAROOT="$TMP/ca"
"$GBCA" init -q
cp "$GBCA_CAROOT/rootCA.pem" /usr/local/share/ca-certificates/gbca-test-root.crt
update-ca-certificates >/dev/null 2>&1

start_serve() { # extra args...
	"$GBCA" serve --config /dev/null --listen 127.0.0.1:443 --upstream http://127.0.0.1:8000 --workers 1 \
		--user root --access-log "$TMP/access.log" "$@" 2> "$TMP/serve.err" &
	SERVE=$!
	for _ in $(seq 50); do grep -q "listening on" "$TMP/serve.err" && return 0; sleep 0.1; done
	cat "$TMP/serve.err"
	return 1
}
stop_serve() { kill "$SERVE" 2>/dev/null; wait "$SERVE" 2>/dev/null; }

KEY="AIzaSyA$(printf 'x%.0s' $(seq 32))"
ask() { # prints "status body"
	curl -sS --max-time 10 -o "$TMP/body" -w '%{http_code}' -X POST \
		"https://$NAME/v1beta/models/gemini-2.5-flash:generateContent" \
		-H "x-goog-api-key: $1" -H 'Content-Type: application/json' -d '{"contents":[]}'
}

ok "/passthrough/dns-answers" sh -c "getent hosts $NAME | grep -q 127.0.0.1"

start_serve
is "/passthrough/off-by-default-508" "$(ask "$KEY")" 508
like "/passthrough/508-explains" "$(cat "$TMP/body")" "google-passthrough.*FAILED_PRECONDITION"
stop_serve

start_serve --google-passthrough
is "/passthrough/forwarded-200" "$(ask "$KEY")" 200
like "/passthrough/reached-real-google" "$(cat "$TMP/body")" '"real_google": true'
like "/passthrough/key-arrived" "$(cat "$TMP/body")" "$KEY"
like "/passthrough/host-kept" "$(cat "$TMP/body")" "\"Host\", \"$NAME\""
like "/passthrough/path-kept" "$(cat "$TMP/body")" 'POST /v1beta/models/gemini-2.5-flash:generateContent HTTP/1.1'
is "/passthrough/no-forwarded-for" "$(grep -c X-Forwarded-For "$TMP/body")" 0
is "/passthrough/query-key-200" "$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "https://$NAME/v1beta/models?key=$KEY")" 200
fails "/passthrough/key-not-logged" grep -q "$KEY" "$TMP/access.log"
stop_serve

# An impostor at Google's address: the system store does not trust it.
kill "$GOOGLE"; wait "$GOOGLE" 2>/dev/null
python3 "$TMP/google.py" bad-cert.pem key.pem > "$TMP/google.out" 2>&1 & PIDS="$PIDS $!"
for _ in $(seq 50); do grep -q ready "$TMP/google.out" && break; sleep 0.1; done
start_serve --google-passthrough
is "/passthrough/untrusted-google-502" "$(ask "$KEY")" 502
like "/passthrough/untrusted-explained" "$(cat "$TMP/body")" "certificate the system trusts"
# Each such 502 is an error reply with a TLS upstream: its GnuTLS session
# must be freed with it (the workers check for leaks on the way out when
# built with the sanitizers).
for _ in 1 2 3; do ask "$KEY" >/dev/null; done
stop_serve
if ldd "$GBCA" 2>/dev/null | grep -q libasan; then
	fails "/passthrough/error-reply-frees-the-tls-session" grep -q "LeakSanitizer" "$TMP/serve.err"
else
	TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - /passthrough/error-reply-frees-the-tls-session # SKIP not built with --enable-sanitizers"
fi

done_testing
