#!/bin/bash
# End-to-end: gbca serve --upstream https://HOST[:PORT][/PREFIX] (issue 12).
# In a private network and mount namespace, a stand-in Gemini Balance
# (tests/upstream.py over TLS) answers as balancer.test at 127.0.0.7 (a line
# in the namespace's /etc/hosts) with a leaf from a second CA, behind the real
# gbca serve on generativelanguage.googleapis.com. Real clients (curl, Node
# fetch, python requests) with TLS checks on; what the upstream saw (Host,
# SNI, the PREFIX path, resumption) from its record file.
. "$srcdir/tests/ns.sh"
in_namespaces -n -m -- "$@"

. "$srcdir/tests/lib.sh"
serve_test_prelude
need ip curl certtool node update-ca-certificates

SERVE="" UPSTREAM=""
trap serve_test_cleanup EXIT

# The namespace's machine: its own /etc, a hosts file that names the proxy,
# the balancer and a proxy host, and the loopback with 127.0.0.7.
mount --make-rprivate /
private_etc
ip link set lo up
NAME=generativelanguage.googleapis.com
cat > /etc/hosts <<HOSTS
127.0.0.1 localhost
127.0.0.1 $NAME
127.0.0.7 balancer.test x.lb.test
127.0.0.8 proxy.test
HOSTS

# --- 1. what --upstream, --upstream-ca and --upstream-proxy accept -----------
# refused URL ARGS... PATTERN: serve refuses to start (usage error) and says why.
refused() {
	local name=$1 want=${*: -1} out rc
	set -- "${@:2:$(($# - 2))}"
	out=$("$GBCA" serve --config /dev/null --listen 127.0.0.1:18999 "$@" 2>&1 </dev/null); rc=$?
	if [ "$rc" -eq 2 ] && printf '%s' "$out" | grep -Eq -- "$want"; then
		_tap_result 0 "$name"
	else
		_tap_result 1 "$name"; printf '#   rc %s: %s\n#   want: /%s/\n' "$rc" "$out" "$want"
	fi
}
refused "/https-up/config/userinfo" --upstream https://user:pw@balancer.test 'no user name or password'
refused "/https-up/config/query" --upstream 'https://balancer.test/gb?x=1' 'no query or fragment'
refused "/https-up/config/fragment" --upstream 'https://balancer.test/gb#top' 'no query or fragment'
refused "/https-up/config/scheme" --upstream ftp://balancer.test 'http:// or https://'
refused "/https-up/config/port-0" --upstream https://balancer.test:0 'bad port'
refused "/https-up/config/port-big" --upstream https://balancer.test:65536 'bad port'
refused "/https-up/config/port-name" --upstream https://balancer.test:https 'bad port'
refused "/https-up/config/prefix-dots" --upstream https://balancer.test/a/../b 'dot segment'
refused "/https-up/config/prefix-space" --upstream 'https://balancer.test/a b' 'percent-encoded'
# A loop by construction: the upstream is a name this proxy serves.
refused "/https-up/config/loop-google" --upstream https://generativelanguage.googleapis.com/gb \
	"can't be generativelanguage.googleapis.com"
refused "/https-up/config/loop-google-case" --upstream https://GenerativeLanguage.GoogleAPIs.com \
	"can't be"
refused "/https-up/config/loop-name" --name localhost --upstream https://localhost:8443 'a name this proxy serves'
refused "/https-up/config/loop-name-after" --upstream https://localhost:8443 --name localhost 'a name this proxy serves'
refused "/https-up/config/loop-wildcard" --name '*.lb.test' --upstream https://x.lb.test 'a name this proxy serves'
refused "/https-up/config/proxy-https" --upstream https://localhost --upstream-proxy https://127.0.0.1:3128 'http:// proxy'
refused "/https-up/config/proxy-equals" --upstream https://localhost --upstream-proxy=https://127.0.0.1:3128 'http:// proxy'
refused "/https-up/config/proxy-userinfo" --upstream https://localhost --upstream-proxy http://u:p@127.0.0.1:3128 'no user name'
refused "/https-up/config/proxy-path" --upstream https://localhost --upstream-proxy http://127.0.0.1:3128/x 'no path'
# the environment and the config file name the setting
out=$(GBCA_UPSTREAM_PROXY=https://127.0.0.1:3128 "$GBCA" serve --config /dev/null --upstream https://localhost 2>&1)
like "/https-up/config/proxy-env-var" "$out" 'GBCA_UPSTREAM_PROXY: --upstream-proxy takes an http:// proxy'
printf 'upstream = https://localhost\nupstream-proxy = https://127.0.0.1:3128\n' > "$TMP/bad.conf"
out=$("$GBCA" serve --config "$TMP/bad.conf" 2>&1)
like "/https-up/config/proxy-config-file" "$out" 'bad.conf line 2: --upstream-proxy takes an http:// proxy'
out=$(HTTPS_PROXY=https://127.0.0.1:3128 "$GBCA" serve --config /dev/null --upstream https://localhost --upstream-proxy env 2>&1)
like "/https-up/config/proxy-env-https" "$out" 'HTTPS_PROXY is an https:// proxy'

# --- 2. the certificates: gbca's CA for the proxy, a second CA for the balancer
ip addr add 127.0.0.7/32 dev lo 2>/dev/null
ip addr add 127.0.0.8/32 dev lo 2>/dev/null
sandbox_trust_store
export GBCA_CAROOT="$TMP/ca"
"$GBCA" init -q
ROOT="$GBCA_CAROOT/rootCA.pem"
mkdir -p "$TMP/pki"
mkca() { # NAME: a CA NAME.pem / NAME-key.pem
	printf 'cn = "%s"\nca\ncert_signing_key\nexpiration_days = 30\n' "$1" > "$1.tmpl"
	certtool --generate-privkey --key-type ecdsa --outfile "$1-key.pem" 2>/dev/null
	certtool --generate-self-signed --load-privkey "$1-key.pem" --template "$1.tmpl" --outfile "$1.pem" 2>/dev/null
}
mkleaf() { # FILE CA DNSNAME: FILE.pem / FILE-key.pem for DNSNAME, signed by CA
	printf 'cn = "%s"\ndns_name = "%s"\ntls_www_server\nexpiration_days = 30\n' "$3" "$3" > "$1.tmpl"
	certtool --generate-privkey --key-type ecdsa --outfile "$1-key.pem" 2>/dev/null
	certtool --generate-certificate --load-privkey "$1-key.pem" --load-ca-certificate "$2.pem" \
		--load-ca-privkey "$2-key.pem" --template "$1.tmpl" --outfile "$1.pem" 2>/dev/null
}
(
	cd "$TMP/pki" || exit 1
	mkca balancer-ca; mkca stranger-ca
	mkleaf good balancer-ca balancer.test         # the balancer's own
	mkleaf wrongname balancer-ca other.test       # right CA, wrong name
	mkleaf untrusted stranger-ca balancer.test    # right name, a CA nobody trusts
)
BCA="$TMP/pki/balancer-ca.pem"

# --- 3. the balancer (tests/upstream.py over TLS) and a CONNECT proxy ---------
PIDS=""
trap 'kill $PIDS 2>/dev/null; serve_test_cleanup' EXIT
REC="$TMP/record.jsonl"
upstream() { # PORT LEAF [RECORD]: the balancer on 127.0.0.7:PORT with that leaf, under /gb
	"$PY" "$srcdir/tests/upstream.py" --host 127.0.0.7 --port "$1" --record "${3:-$REC}" \
		--tls-cert "$TMP/pki/$2.pem" --tls-key "$TMP/pki/$2-key.pem" --prefix /gb > "$TMP/up-$1.out" 2>&1 &
	PIDS="$PIDS $!"
	wait_until 100 grep -q ready "$TMP/up-$1.out"
}
upstream 443 good
upstream 8443 wrongname "$TMP/wrong.jsonl"
upstream 9443 untrusted "$TMP/untrusted.jsonl"
connect_proxy() { # PORT STATUS
	"$PY" "$srcdir/tests/connect-proxy.py" --listen "127.0.0.8:$1" --log "$TMP/proxy-$1.log" --status "$2" \
		> "$TMP/proxy-$1.out" 2>&1 &
	PIDS="$PIDS $!"
	wait_until 100 grep -q ready "$TMP/proxy-$1.out"
}
connect_proxy 3128 200
connect_proxy 3407 407
touch "$TMP/proxy-3128.log" "$TMP/proxy-3407.log"

# start_serve ARGS...: gbca serve on 127.0.0.1:443 for Google's name; the
# startup line or the failure is in $TMP/serve.err.
start_serve() {
	rm -f "$TMP/serve.err"   # not the last one's "listening on", read before the shell truncates it
	"$GBCA" serve --config /dev/null --listen 127.0.0.1:443 --workers 1 --user root \
		--access-log "$TMP/access.log" "$@" 2> "$TMP/serve.err" &
	SERVE=$!
	wait_until 100 grep -q "listening on" "$TMP/serve.err" && return 0
	cat "$TMP/serve.err"
	return 1
}
stop_serve() { kill "$SERVE" 2>/dev/null; wait "$SERVE" 2>/dev/null; SERVE=""; }
G="https://$NAME"
KEY=test-key-for-the-balancer
# gen: a generateContent through the proxy with curl; prints the status, body in $TMP/body
gen() {
	curl -sS --max-time 20 --cacert "$ROOT" -o "$TMP/body" -w '%{http_code}' -X POST \
		"$G/v1beta/models/gemini-2.5-flash:generateContent" -H "x-goog-api-key: $KEY" \
		-H 'Content-Type: application/json' -d '{"contents":[]}' "$@"
}
last_record() { tail -n 1 "${1:-$REC}"; }
jfield() { "$PY" -c 'import json, sys; r = json.loads(sys.argv[1]); v = eval(sys.argv[2], {}, {"r": r, "h": {k.lower(): v for k, v in r.get("headers", [])}}); print(v)' "$1" "$2"; }

# --- 4. curl, Node fetch, python requests through serve, TLS checks on -------
start_serve --upstream https://balancer.test/gb/ --upstream-ca "$BCA"
like "/https-up/start-line" "$(cat "$TMP/serve.err")" "upstream https://balancer.test/gb/"
is "/https-up/curl-200" "$(gen)" 200
like "/https-up/curl-body" "$(cat "$TMP/body")" "hello from upstream"
R=$(last_record)
is "/https-up/prefix-path" "$(jfield "$R" 'r["target"]')" "/gb/v1beta/models/gemini-2.5-flash:generateContent"
is "/https-up/host-is-balancer" "$(jfield "$R" 'h["host"]')" "balancer.test"
is "/https-up/one-host-field" "$(jfield "$R" 'sum(1 for k, v in r["headers"] if k.lower() == "host")')" 1
is "/https-up/sni-is-balancer" "$(jfield "$R" 'r["sni"]')" "balancer.test"
like "/https-up/tls-version" "$(jfield "$R" 'r["tls_version"]')" '^TLSv1\.[23]$'
is "/https-up/forwarded-proto" "$(jfield "$R" 'h["x-forwarded-proto"]')" "https"
out=$(NODE_OPTIONS= NODE_EXTRA_CA_CERTS="$ROOT" node -e '
fetch(process.argv[1] + "/v1beta/models/gemini-2.5-flash:generateContent", {method: "POST",
  headers: {"x-goog-api-key": "k", "content-type": "application/json"}, body: "{}"})
  .then(async r => console.log(r.status, await r.text())).catch(e => console.log("error", e.cause || e))' "$G" 2>&1)
like "/https-up/node-fetch" "$out" '^200 .*hello from upstream'
out=$("$PY" -c '
import requests, sys
r = requests.post(sys.argv[1] + "/v1beta/models/gemini-2.5-flash:generateContent", verify=sys.argv[2],
                  headers={"x-goog-api-key": "k"}, json={"contents": []}, timeout=20)
print(r.status_code, r.text)' "$G" "$ROOT" 2>&1)
like "/https-up/python-requests" "$out" '^200 .*hello from upstream'
# the query string and an absolute-form target get the prefix too
is "/https-up/query-kept" "$(curl -sS --max-time 10 --cacert "$ROOT" -o "$TMP/body" -w '%{http_code}' "$G/echo?a=1&b=2")" 200
is "/https-up/query-prefixed" "$(jfield "$(last_record)" 'r["target"]')" "/gb/echo?a=1&b=2"

# --- 5. streaming, big bodies both ways --------------------------------------
# SSE: 5 events 300 ms apart must arrive spread out, not in one lump at the end.
out=$("$PY" -c '
import requests, sys, time
r = requests.get(sys.argv[1] + "/v1beta/models/m:streamGenerateContent?alt=sse&n=5&interval=300",
                 verify=sys.argv[2], stream=True, timeout=20)
t = [time.monotonic() for line in r.iter_lines() if line.startswith(b"data:")]
print(len(t), round(t[-1] - t[0], 2))' "$G" "$ROOT" 2>&1)
like "/https-up/sse-events" "$out" '^5 '
# 1.2 s between the first and the last when streamed; a held-back stream gives ~0
ok "/https-up/sse-spread-out" "$PY" -c 'import sys; sys.exit(not float(sys.argv[1].split()[1]) >= 0.6)' "$out"
N=$((200 * 1024 * 1024))
want=$("$PY" "$srcdir/tests/upstream.py" --emit $N up | sha256sum | cut -d' ' -f1)
got=$("$PY" "$srcdir/tests/upstream.py" --emit $N up | curl -sS --max-time 300 --cacert "$ROOT" -T - -X POST "$G/upload")
like "/https-up/upload-200MB" "$got" "\"sha256\":\"$want\",\"length\":$N"
want=$("$PY" "$srcdir/tests/upstream.py" --emit $N down | sha256sum | cut -d' ' -f1)
got=$(curl -sS --max-time 300 --cacert "$ROOT" "$G/download?bytes=$N&seed=down" | sha256sum | cut -d' ' -f1)
is "/https-up/download-200MB" "$got" "$want"

# --- 6. URLs that name the balancer come back as Google's --------------------
curl -sS --max-time 10 --cacert "$ROOT" -D "$TMP/h" -o /dev/null -X POST "$G/upload/v1beta/files" \
	-H 'X-Goog-Upload-Protocol: resumable' -H 'X-Goog-Upload-Command: start' -H "x-goog-api-key: $KEY" -d '{}'
URL=$(sed -n 's/^[Xx]-[Gg]oog-[Uu]pload-[Uu][Rr][Ll]: *//p' "$TMP/h" | tr -d '\r')
like "/https-up/upload-url-rewritten" "$URL" "^https://$NAME/upload/v1beta/files\?upload_id=up[0-9]+&upload_protocol=resumable$"
got=$(printf 'resumable bytes' | curl -sS --max-time 10 --cacert "$ROOT" -X POST "$URL" \
	-H 'X-Goog-Upload-Command: upload, finalize' -H 'X-Goog-Upload-Offset: 0' --data-binary @-)
like "/https-up/upload-follow-up" "$got" "\"sha256\":\"$(printf 'resumable bytes' | sha256sum | cut -d' ' -f1)\""
like "/https-up/upload-follow-up-target" "$(jfield "$(last_record)" 'r["target"]')" '^/gb/upload/v1beta/files\?upload_id=up[0-9]+&'
curl -sS --max-time 10 --cacert "$ROOT" -D "$TMP/h" -o /dev/null "$G/redirect"
like "/https-up/location-rewritten" "$(tr -d '\r' < "$TMP/h")" "^Location: https://$NAME/echo\?from=redirect$"
like "/https-up/content-location-rewritten" "$(tr -d '\r' < "$TMP/h")" "^Content-Location: https://$NAME/echo\?from=redirect$"

curl -sS --max-time 10 --cacert "$ROOT" -D "$TMP/h" -o /dev/null "$G/redirect?scheme=http"
like "/https-up/location-http-rewritten" "$(tr -d '\r' < "$TMP/h")" "^Location: https://$NAME/echo\?from=redirect$"
# A URL of another host (even one that starts like the balancer's) is left alone.
curl -sS --max-time 10 --cacert "$ROOT" -D "$TMP/h" -o /dev/null "$G/redirect?host=balancer.test.example"
like "/https-up/location-other-host-kept" "$(tr -d '\r' < "$TMP/h")" "^Location: https://balancer.test.example/gb/echo\?from=redirect$"
# --- 7. the pool and session resumption ---------------------------------------
# Two clients one after the other: the second reuses the pooled connection.
: > "$REC"
gen >/dev/null; gen >/dev/null
is "/https-up/pool-reused" "$(cut -d, -f2 "$REC" | sort -u | wc -l)" 1
# Connection: close each time: new upstream connections, resumed after the first.
: > "$REC"
for i in 1 2 3; do curl -sS --max-time 10 --cacert "$ROOT" -o /dev/null "$G/echo?close=$i" -H 'Connection: close'; done
is "/https-up/close-new-connections" "$(grep -c . "$REC")" 3
is "/https-up/resumed-after-the-first" "$(grep -c '"tls_resumed":true' "$REC")" 2
stop_serve
like "/https-up/resumption-counted" "$(cat "$TMP/serve.err")" 'TLS connections to the upstream, [1-9][0-9]* resumed'

# --- 8. an upstream that can't be verified: a 502 that says why --------------
# failed-envelope NAME STATUS-PATTERN: the last $TMP/body is Google's 502 envelope saying why
envelope_says() {
	like "$1" "$(cat "$TMP/body")" "^\{\"error\":\{\"code\":502,\"message\":\"$2.*\",\"status\":\"UNAVAILABLE\"\}\}$"
}
start_serve --upstream https://balancer.test/gb   # the balancer's CA is in no store
is "/https-up/untrusted-ca-502" "$(gen)" 502
envelope_says "/https-up/untrusted-ca-says-why" "upstream balancer.test:443: certificate not accepted \(.*issuer is unknown"
like "/https-up/untrusted-ca-logged" "$(cat "$TMP/serve.err")" "upstream balancer.test:443: certificate not accepted"
stop_serve
start_serve --upstream https://balancer.test:9443/gb --upstream-ca "$BCA"   # right name, stranger's CA
is "/https-up/stranger-ca-502" "$(gen)" 502
envelope_says "/https-up/stranger-ca-says-why" "upstream balancer.test:9443: certificate not accepted \(.*issuer is unknown"
stop_serve
start_serve --upstream https://balancer.test:8443/gb --upstream-ca "$BCA"   # right CA, other.test's leaf
is "/https-up/wrong-name-502" "$(gen)" 502
envelope_says "/https-up/wrong-name-says-why" "upstream balancer.test:8443: certificate not accepted \(.*name .*does not match"
stop_serve
start_serve --upstream https://balancer.test:4443/gb --upstream-ca "$BCA"  # nothing listens
is "/https-up/refused-502" "$(gen)" 502
envelope_says "/https-up/refused-says-why" "upstream balancer.test:4443: couldn't connect: Connection refused"
stop_serve

# --- 9. --upstream-ca as users type it, and the system store --------------------
for form in "--upstream-ca=$BCA" "env" "file"; do
	case $form in
	env) GBCA_UPSTREAM_CA="$BCA" start_serve --upstream https://balancer.test/gb ;;
	file) printf 'upstream = https://balancer.test/gb\nupstream-ca = %s\n' "$BCA" > "$TMP/ca.conf"
	      rm -f "$TMP/serve.err"
	      "$GBCA" serve --config "$TMP/ca.conf" --listen 127.0.0.1:443 --workers 1 --user root \
		--access-log off 2> "$TMP/serve.err" & SERVE=$!
	      wait_until 100 grep -q "listening on" "$TMP/serve.err" ;;
	*) start_serve --upstream https://balancer.test/gb "$form" ;;
	esac
	is "/https-up/upstream-ca-form/${form%%=*}" "$(gen)" 200
	stop_serve
done
out=$("$GBCA" serve --config /dev/null --listen 127.0.0.1:443 --upstream https://balancer.test --upstream-ca "$TMP/nope.pem" 2>&1)
like "/https-up/upstream-ca-missing" "$out" "--upstream-ca.*nope.pem"
: > "$TMP/empty.pem"
out=$("$GBCA" serve --config /dev/null --listen 127.0.0.1:443 --upstream https://balancer.test --upstream-ca "$TMP/empty.pem" 2>&1)
like "/https-up/upstream-ca-empty" "$out" "--upstream-ca .*empty.pem holds no certificate"
# gbca up shares serve's options: --upstream of its own, the rest after --.
rm -f "$TMP/up.out"
"$GBCA" up --foreground --no-trust --no-hosts --upstream https://balancer.test/gb -- \
	--upstream-ca "$BCA" --listen 127.0.0.1:443 --workers 1 --user root > "$TMP/up.out" 2>&1 &
UPFG=$!
wait_until 150 grep -q "listening on" "$TMP/up.out"
is "/https-up/up-foreground-200" "$(gen)" 200
is "/https-up/up-foreground-prefix" "$(jfield "$(last_record)" 'r["target"]')" "/gb/v1beta/models/gemini-2.5-flash:generateContent"
kill -TERM $UPFG; wait_until 100 gone $UPFG; wait $UPFG 2>/dev/null
out=$("$GBCA" up --foreground --no-trust --no-hosts --upstream https://generativelanguage.googleapis.com/gb 2>&1)
like "/https-up/up-refuses-loop" "$out" "can't be generativelanguage.googleapis.com"
# The system store (our namespace's copy) trusting the balancer's CA is enough.
cp "$BCA" /usr/local/share/ca-certificates/gbca-test-balancer-ca.crt
update-ca-certificates >/dev/null 2>&1
start_serve --upstream https://balancer.test/gb
is "/https-up/system-store-200" "$(gen)" 200
stop_serve

# --- 10. --upstream-proxy: CONNECT through a proxy of the test's own -------------
start_serve --upstream https://balancer.test/gb --upstream-proxy http://proxy.test:3128
is "/https-up/proxy-200" "$(gen)" 200
is "/https-up/proxy-connect-logged" "$(tail -n 1 "$TMP/proxy-3128.log")" "CONNECT balancer.test:443 host=balancer.test:443"
is "/https-up/proxy-sni-kept" "$(jfield "$(last_record)" 'r["sni"]')" "balancer.test"
stop_serve
: > "$TMP/proxy-3128.log"
start_serve --upstream https://balancer.test/gb --upstream-proxy=http://127.0.0.8:3128
is "/https-up/proxy-equals-form" "$(gen)" 200
is "/https-up/proxy-equals-used" "$(grep -c 'CONNECT balancer.test:443' "$TMP/proxy-3128.log")" 1
stop_serve
: > "$TMP/proxy-3128.log"
GBCA_UPSTREAM_PROXY=http://proxy.test:3128 start_serve --upstream https://balancer.test/gb
is "/https-up/proxy-env-var-form" "$(gen)" 200
is "/https-up/proxy-env-var-used" "$(grep -c 'CONNECT balancer.test:443' "$TMP/proxy-3128.log")" 1
stop_serve
# env: HTTPS_PROXY, unless NO_PROXY covers the balancer
: > "$TMP/proxy-3128.log"
HTTPS_PROXY=http://proxy.test:3128 start_serve --upstream https://balancer.test/gb --upstream-proxy env
is "/https-up/proxy-env-mode" "$(gen)" 200
is "/https-up/proxy-env-mode-used" "$(grep -c 'CONNECT balancer.test:443' "$TMP/proxy-3128.log")" 1
stop_serve
: > "$TMP/proxy-3128.log"
https_proxy=http://proxy.test:3128 start_serve --upstream https://balancer.test/gb --upstream-proxy env
is "/https-up/proxy-env-lowercase-used" "$(gen) $(grep -c CONNECT "$TMP/proxy-3128.log")" "200 1"
stop_serve
for no in balancer.test .test test '*' 'example.com, balancer.test:443'; do
	: > "$TMP/proxy-3128.log"
	HTTPS_PROXY=http://proxy.test:3128 NO_PROXY="$no" start_serve --upstream https://balancer.test/gb --upstream-proxy env
	is "/https-up/no-proxy/$no" "$(gen) $(grep -c CONNECT "$TMP/proxy-3128.log")" "200 0"
	stop_serve
done
for no in other.test lancer.test 'balancer.test:8443'; do
	: > "$TMP/proxy-3128.log"
	HTTPS_PROXY=http://proxy.test:3128 no_proxy="$no" start_serve --upstream https://balancer.test/gb --upstream-proxy env
	is "/https-up/no-proxy-not-covered/$no" "$(gen) $(grep -c CONNECT "$TMP/proxy-3128.log")" "200 1"
	stop_serve
done
# A proxy that wants credentials: a 502 that says so.
start_serve --upstream https://balancer.test/gb --upstream-proxy http://proxy.test:3407
is "/https-up/proxy-407-502" "$(gen)" 502
envelope_says "/https-up/proxy-407-says-why" "upstream balancer.test:443 \(through the proxy\): the proxy proxy.test:3407 refused CONNECT: 407 Proxy Authentication Required"
stop_serve
start_serve --upstream https://balancer.test/gb --upstream-proxy http://proxy.test:3999
is "/https-up/proxy-down-502" "$(gen)" 502
envelope_says "/https-up/proxy-down-says-why" "upstream balancer.test:443 \(through the proxy\): couldn't connect to the proxy proxy.test:3999: Connection refused"
stop_serve

done_testing
