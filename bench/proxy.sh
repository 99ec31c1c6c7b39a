#!/bin/bash
# bench/proxy.sh: the CPU, latency and memory cost of `gbca serve` against
# nginx (tuned, and as the classic guide configures it), each proxy with one
# worker on core 0 and the load on core 1; prints a table, ratios and goals.
# Then the same requests to an HTTPS upstream: gbca --upstream https://...
# against nginx proxy_pass https:// (verified, keepalive pool, sessions reused).
#
# usage: bench/proxy.sh [path-to-gbca]
#   DURATION=S      seconds of each wrk run (default 10)
#   KA_RUNS=N       keep-alive runs per proxy, the median reported (default 3)
#   CONNS=N         connections for the full-handshake run (default 3000)
#   IDLE=N          idle TLS connections for the memory figure (default 2000)
#   BENCH_TMPDIR=D  where the scratch folder goes (default /tmp)
#   KEEP=1          keep the scratch folder (configs, raw tool output, logs)
# Starts its own upstream (nginx `return 200`), its own nginx proxies and gbca
# on free loopback ports, all inside the scratch folder, and stops them all on
# exit. The whole run is cut off after LIMIT seconds (default 600). Needs
# nginx, wrk, h2load (nghttp2-client), taskset, python3, openssl, curl and at
# least 2 CPUs. Run it as root (the proxies run their workers as root).
set -eu

NAME=generativelanguage.googleapis.com
DURATION=${DURATION:-10}
CONNS=${CONNS:-3000}
IDLE=${IDLE:-2000}
LIMIT=${LIMIT:-600}
KA_RUNS=${KA_RUNS:-3}
here=$(cd "$(dirname "$0")" && pwd)
PROXY_CORE=0
LOAD_CORE=1

. "$here/lib.sh"
note() { echo "-- $*" >&2; }
find_gbca "$@"

for tool in nginx:nginx wrk:wrk h2load:nghttp2-client taskset:util-linux \
	python3:python3 openssl:openssl curl:curl; do
	command -v "${tool%%:*}" >/dev/null ||
		die "${tool%%:*} not found; install it (apt-get install ${tool#*:})"
done
for v in DURATION CONNS IDLE LIMIT KA_RUNS; do
	case ${!v} in
	'' | *[!0-9]*) die "$v must be a whole number, not \"${!v}\"" ;;
	esac
done
[ "$KA_RUNS" -ge 1 ] || die "KA_RUNS must be 1 or more"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (proxy on core $PROXY_CORE, load on core $LOAD_CORE)"
[ "$(id -u)" = 0 ] || die "run it as root (the proxies run --user root / user root)"
# the full-handshake run holds CONNS client sockets, and classic nginx one
# more upstream socket for each
want=$((2 * CONNS + IDLE + 1000))
ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge "$want" ] ||
	die "ulimit -n is $(ulimit -n); need $want open files (raise the hard limit or lower CONNS/IDLE)"

TCK=$(getconf CLK_TCK)
W=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/gbca-proxy.XXXXXX")
chmod 755 "$W"
started=() # every process we started, stopped in cleanup
cur=       # the load generator running now
watchdog=

cleanup() {
	local p
	trap - EXIT INT TERM
	[ -n "$cur" ] && kill "$cur" 2>/dev/null
	for p in "${started[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	if [ -n "$watchdog" ]; then
		pkill -P "$watchdog" 2>/dev/null || true
		kill "$watchdog" 2>/dev/null || true
	fi
	wait 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ]; then
		echo "kept $W" >&2
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'echo "bench/proxy.sh: interrupted" >&2; exit 130' INT
trap 'echo "bench/proxy.sh: stopped (time limit ${LIMIT}s or SIGTERM)" >&2; exit 124' TERM
(
	trap 'exit 0' TERM
	sleep "$LIMIT" &
	wait $!
	kill -TERM $$
) &
watchdog=$!

# Runs a load generator in the background and waits for it, so that the time
# limit (SIGTERM) interrupts the wait at once; "$@" > file, 2>&1.
run() {
	local out=$1 rc=0
	shift
	"$@" >"$out" 2>&1 &
	cur=$!
	wait "$cur" || rc=$?
	cur=
	return $rc
}

# ---- scratch files -----------------------------------------------------------
read -r P_UP P_SSE P_PROXY P_UPS < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
BODY='{"contents":[{"parts":[{"text":"hi"}]}]}'
printf '%s' "$BODY" >"$W/body.json"
PATH_GEN=/v1beta/models/gemini-2.5-flash:generateContent

# SSE upstream: 5 events 200 ms apart, each carrying its send time.
cat >"$W/sse_upstream.py" <<'EOF'
import socket, sys, threading, time
port = int(sys.argv[1])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(128)

def read_request(c, buf):
    """One request head and body from c; returns (http10, rest) or None at EOF."""
    while b"\r\n\r\n" not in buf:
        d = c.recv(65536)
        if not d:
            return None
        buf += d
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    hdr = {}
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        hdr[k.strip().lower()] = v.strip()
    if b"content-length" in hdr:
        n = int(hdr[b"content-length"])
        while len(body) < n:
            d = c.recv(65536)
            if not d:
                return None
            body += d
        rest = body[n:]
    elif hdr.get(b"transfer-encoding", b"").lower() == b"chunked":
        while b"0\r\n\r\n" not in body:
            d = c.recv(65536)
            if not d:
                return None
            body += d
        rest = body.split(b"0\r\n\r\n", 1)[1]
    else:
        rest = body
    return lines[0].endswith(b"HTTP/1.0"), rest

def serve(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.settimeout(30)
    buf = b""
    try:
        while True:
            req = read_request(c, buf)
            if req is None:
                break
            http10, buf = req
            # an HTTP/1.0 request (classic nginx) gets a close-delimited body
            if http10:
                c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n"
                          b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n")
            else:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                          b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(5):
                if i:
                    time.sleep(0.2)
                ev = ('data: {"i":%d,"t":%.6f}\n\n' % (i, time.time())).encode()
                c.sendall(ev if http10 else b"%x\r\n%s\r\n" % (len(ev), ev))
            if http10:
                break
            c.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    c.close()

while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF

# SSE client: STREAMS streams one after the other on new connections (TLS
# to the proxy, or plain HTTP to the upstream when CAFILE is "-"); prints
# one line: statuses, events, max and median latency (ms) over all events,
# and the shortest and longest spacing between arrivals (ms).
cat >"$W/sse_client.py" <<'EOF'
import json, socket, ssl, statistics, sys, time
port, cafile, name, streams = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
body = b'{"contents":[{"parts":[{"text":"hi"}]}]}'
req = (b"POST /v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse HTTP/1.1\r\n"
       b"Host: %s\r\nx-goog-api-key: sk-bench\r\nContent-Type: application/json\r\n"
       b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (name.encode(), len(body), body))

def stream():
    """One request; returns (status, [(sent, arrived), ...])."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if cafile != "-":
        s = ssl.create_default_context(cafile=cafile).wrap_socket(s, server_hostname=name)
    s.sendall(req)
    buf, data, head, chunked, done, events = b"", b"", None, False, False, []
    while not done:
        try:
            d = s.recv(65536)
        except (ssl.SSLError, OSError):
            d = b""
        now = time.time()
        if not d:
            break
        buf += d
        if head is None:
            if b"\r\n\r\n" not in buf:
                continue
            head, buf = buf.split(b"\r\n\r\n", 1)
            chunked = b"transfer-encoding: chunked" in head.lower()
        if chunked:
            while b"\r\n" in buf:
                j = buf.index(b"\r\n")
                size = int(buf[:j].split(b";")[0], 16)
                if len(buf) < j + 2 + size + 2:
                    break
                data += buf[j + 2:j + 2 + size]
                buf = buf[j + 4 + size:]
                if size == 0:
                    done = True
        else:
            data, buf = data + buf, b""
        while b"\n\n" in data:
            ev, data = data.split(b"\n\n", 1)
            for line in ev.split(b"\n"):
                if line.startswith(b"data:"):
                    events.append((json.loads(line[5:])["t"], now))
    s.close()
    return (head.split(b" ")[1].decode() if head else "none"), events

statuses, lat, gaps, n = [], [], [], 0
for _ in range(streams):
    status, events = stream()
    statuses.append(status)
    n += len(events)
    lat += [(a - t) * 1000 for t, a in events]
    gaps += [(events[k][1] - events[k - 1][1]) * 1000 for k in range(1, len(events))]
f = lambda v: "%.2f" % v
print(",".join(sorted(set(statuses))), n,
      f(max(lat)) if lat else "-", f(statistics.median(lat)) if lat else "-",
      "%.0f-%.0f" % (min(gaps), max(gaps)) if gaps else "-")
EOF

# Idle connections: open N TLS connections, finish each handshake, then sit
# idle until the stop file appears (or 90 s pass), and close them all.
cat >"$W/idle.py" <<'EOF'
import os, socket, ssl, sys, time
port, name, n, ready, stop = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
deadline = time.time() + 90
socks, failed = [], 0
for _ in range(n):
    try:
        r = socket.create_connection(("127.0.0.1", port), timeout=10)
        socks.append(ctx.wrap_socket(r, server_hostname=name))
    except OSError:
        failed += 1
    if time.time() > deadline:
        break
with open(ready + ".tmp", "w") as f:
    f.write("%d %d\n" % (len(socks), failed))
os.rename(ready + ".tmp", ready)
while not os.path.exists(stop) and time.time() < deadline:
    time.sleep(0.05)
for s in socks:
    s.close()
EOF

# ---- processes ---------------------------------------------------------------
alive() { kill -0 "$1" 2>/dev/null; }
children() { cat /proc/"$1"/task/*/children 2>/dev/null; }
# wait_for SECONDS COMMAND...: poll every 0.1 s
wait_for() {
	local n=$(($1 * 10))
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_closed() { ! port_open "$1"; }
gone() { ! alive "$1"; }
one_child() { [ "$(children "$1" | wc -w)" = 1 ]; }
cpu_ticks() { # utime + stime (fields 14 and 15 of /proc/PID/stat)
	local s
	s=$(cat /proc/"$1"/stat) || die "process $1 is gone"
	s=${s##*) }
	# shellcheck disable=SC2086 # split the fields
	set -- $s
	echo $((${12} + ${13}))
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status; }
us_per() { awk -v t="$1" -v k="$TCK" -v n="$2" 'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / k / n; else print "-" }'; }
calc() { awk "BEGIN { printf \"%.2f\", $1 }" 2>/dev/null || echo -; }

# nginx_conf DIR KIND LISTEN_PORT UPSTREAM_PORT [LOG]: KIND is stub, tuned or classic
nginx_conf() {
	local d=$1 kind=$2 port=$3 up=$4 log=${5:-}
	mkdir -p "$d/tmp"
	{
		cat <<EOF
worker_processes 1;
worker_rlimit_nofile $want;
user root;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections $want; }
http {
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
EOF
		if [ -n "$log" ]; then
			echo "    log_format reuse '\$ssl_session_reused \$ssl_protocol';"
			echo "    access_log $log reuse;"
		else
			echo "    access_log off;"
		fi
		case $kind in
		stub)
			# also over TLS on P_UPS (the HTTPS upstream), with a log line
			# per upstream TLS connection: how many, and were they resumed
			cat <<EOF
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    map \$connection_requests \$first_request { 1 1; default 0; }
    log_format upconn '\$ssl_session_reused \$ssl_protocol';
    server {
        listen 127.0.0.1:$port backlog=4096;
        location / {
            default_type application/json;
            return 200 '{"candidates":[{"content":{"parts":[{"text":"ok"}],"role":"model"},"finishReason":"STOP"}]}';
        }
    }
    server {
        listen 127.0.0.1:$P_UPS ssl backlog=4096;
        ssl_certificate $W/upca/upstream.pem;
        ssl_certificate_key $W/upca/upstream-key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:UP:10m;
        ssl_session_tickets on;
        access_log $d/upstream-tls.log upconn if=\$first_request;
        location / {
            default_type application/json;
            return 200 '{"candidates":[{"content":{"parts":[{"text":"ok"}],"role":"model"},"finishReason":"STOP"}]}';
        }
    }
}
EOF
			;;
		tuned | tuned-tls)
			# tuned-tls: the same to the HTTPS upstream: verified, SNI,
			# sessions reused, Host as gbca sends it
			local pass=http://gemini host_hdr='$host' tls_lines=
			if [ "$kind" = tuned-tls ]; then
				pass=https://gemini host_hdr=127.0.0.1:$up
				tls_lines="
            proxy_ssl_protocols TLSv1.2 TLSv1.3;
            proxy_ssl_server_name on;
            proxy_ssl_name $UP_NAME;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate $W/upca/rootCA.pem;
            proxy_ssl_session_reuse on;"
			fi
			cat <<EOF
    keepalive_requests 100000;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets on;
    upstream gemini { server 127.0.0.1:$up; keepalive 64; }
    server {
        listen 127.0.0.1:$port ssl backlog=1024;
        server_name $NAME;
        ssl_certificate $W/ca/serve/$NAME.pem;
        ssl_certificate_key $W/ca/serve/$NAME-key.pem;
        location / {
            proxy_pass $pass;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;$tls_lines
            proxy_set_header Host $host_hdr;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Real-IP \$remote_addr;
            proxy_set_header X-Forwarded-Proto \$scheme;
        }
    }
}
EOF
			;;
		classic)
			cat <<EOF
    server {
        listen 127.0.0.1:$port ssl backlog=1024;
        server_name $NAME;
        ssl_certificate $W/ca/serve/$NAME.pem;
        ssl_certificate_key $W/ca/serve/$NAME-key.pem;
        location / {
            proxy_pass http://127.0.0.1:$up;
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Real-IP \$remote_addr;
            proxy_set_header X-Forwarded-Proto \$scheme;
        }
    }
}
EOF
			;;
		esac
	} >"$d/nginx.conf"
}

# start_nginx DIR CORE: sets PID (master) and WORKER
start_nginx() {
	local d=$1 core=$2
	nginx -t -q -e "$d/error.log" -p "$d/" -c "$d/nginx.conf" 2>"$d/test.log" ||
		die "nginx rejected $d/nginx.conf: $(cat "$d/test.log")"
	taskset -c "$core" nginx -e "$d/error.log" -p "$d/" -c "$d/nginx.conf" -g 'daemon off;' \
		>"$d/stdout.log" 2>&1 &
	PID=$!
	started+=("$PID")
	wait_for 10 one_child "$PID" || die "nginx ($d) did not start its worker: $(tail -n 3 "$d/error.log")"
	WORKER=$(children "$PID" | tr -d ' ')
}

# start_proxy KIND UPSTREAM_PORT: KIND is gbca, tuned or classic, or gbca-tls
# or tuned-tls with the HTTPS upstream on UPSTREAM_PORT; sets PID, WORKER
start_proxy() {
	local kind=$1 up=$2 d=$W/$1-$2 upstream=(--upstream "http://127.0.0.1:$2")
	mkdir -p "$d"
	# By address: gbca verifies the leaf's IP SAN (no SNI for an address,
	# RFC 6066); nginx checks names only, so it verifies $UP_NAME with SNI.
	[ "$kind" = gbca-tls ] && upstream=(--upstream "https://127.0.0.1:$up" --upstream-ca "$W/upca/rootCA.pem")
	if [ "${kind%-tls}" = gbca ]; then
		GBCA_CAROOT=$W/ca taskset -c "$PROXY_CORE" "$gbca" serve --config /dev/null \
			--listen "127.0.0.1:$P_PROXY" "${upstream[@]}" \
			--workers 1 --access-log off --user root --drain-timeout 1 \
			>"$d/stdout.log" 2>"$d/stderr.log" &
		PID=$!
		started+=("$PID")
		wait_for 15 grep -q 'gbca: listening on' "$d/stderr.log" ||
			die "gbca serve did not start: $(tail -n 3 "$d/stderr.log")"
		wait_for 10 one_child "$PID" || die "gbca serve did not fork its worker"
		WORKER=$(children "$PID" | tr -d ' ')
	else
		nginx_conf "$d" "$kind" "$P_PROXY" "$up"
		start_nginx "$d" "$PROXY_CORE"
	fi
	started+=("$WORKER")
	wait_for 10 port_open "$P_PROXY" || die "$kind does not accept on port $P_PROXY"
}

stop_proxy() {
	kill "$PID" 2>/dev/null || true
	wait_for 5 gone "$PID" || kill -KILL "$PID" 2>/dev/null || true
	wait "$PID" 2>/dev/null || true
	alive "$WORKER" && kill -KILL "$WORKER" 2>/dev/null
	wait_for 5 port_closed "$P_PROXY" || die "port $P_PROXY still open after stopping the proxy"
}

# a request through the proxy that checks the leaf, the status and the body
check_proxy() {
	proxy_answers "$1" || die "$answer"
}
# proxy_answers KIND: the same, false with the reason in $answer
proxy_answers() {
	local kind=$1 got
	got=$(curl -sS --max-time 5 --cacert "$W/ca/rootCA.pem" \
		--resolve "$NAME:$P_PROXY:127.0.0.1" -H 'x-goog-api-key: sk-bench' \
		-H 'Content-Type: application/json' --data-binary "$BODY" \
		-w ' %{http_code}' "https://$NAME:$P_PROXY$PATH_GEN" 2>&1) || {
		answer="$kind: a curl request failed: $got"
		return 1
	}
	case $got in
	*'"finishReason":"STOP"'*' 200') ;;
	*) answer="$kind: unexpected answer: $got"; return 1 ;;
	esac
}

# ---- the CA, the leaf, the upstreams -------------------------------------------
mkdir -p "$W/ca"
chmod 700 "$W/ca"
GBCA_CAROOT=$W/ca "$gbca" init -q
[ -s "$W/ca/rootCA.pem" ] || die "$gbca init did not make a CA in $W/ca"
# The HTTPS upstream's leaf (a name and 127.0.0.1) from a throwaway CA of
# its own, which the system does not trust: both proxies are given it.
UP_NAME=upstream.bench
mkdir -p "$W/upca"
chmod 700 "$W/upca"
GBCA_CAROOT=$W/upca "$gbca" init -q --permit "$UP_NAME" &&
	GBCA_CAROOT=$W/upca "$gbca" issue -q --cert-file "$W/upca/upstream.pem" \
		--key-file "$W/upca/upstream-key.pem" "$UP_NAME" 127.0.0.1 ||
	die "$gbca could not make the HTTPS upstream's CA and leaf in $W/upca"

read -r load_before _ </proc/loadavg
nginx_conf "$W/stub" stub "$P_UP" 0
start_nginx "$W/stub" "$LOAD_CORE"
started+=("$WORKER")
wait_for 10 port_open "$P_UP" || die "the upstream stub does not accept on $P_UP"
wait_for 10 port_open "$P_UPS" || die "the upstream stub does not accept TLS on $P_UPS"
taskset -c "$LOAD_CORE" python3 "$W/sse_upstream.py" "$P_SSE" >"$W/sse_upstream.log" 2>&1 &
started+=("$!")
wait_for 10 port_open "$P_SSE" || die "the SSE upstream does not accept on $P_SSE"

# gbca issues the leaf on its first start; nginx uses the same files.
start_proxy gbca "$P_UP"
stop_proxy
[ -s "$W/ca/serve/$NAME.pem" ] || die "gbca serve did not issue $W/ca/serve/$NAME.pem"

LOAD=(taskset -c "$LOAD_CORE")
URL=https://127.0.0.1:$P_PROXY$PATH_GEN
ka=(wrk -t1 -c32 -d"${DURATION}s" -s "$here/post.lua" --latency "$URL")
res=(wrk -t1 -c32 -d"${DURATION}s" -s "$here/close.lua" "$URL")
cmd_ka="wrk -t1 -c32 -d${DURATION}s -s bench/post.lua --latency $URL"
cmd_res="wrk -t1 -c32 -d${DURATION}s -s bench/close.lua $URL"
full=(h2load --h1 -c "$CONNS" -n "$CONNS" -d "$W/body.json" -H 'x-goog-api-key: sk-bench'
	-H 'content-type: application/json' --connect-to "127.0.0.1:$P_PROXY" "https://$NAME$PATH_GEN")
cmd_full="h2load --h1 -c $CONNS -n $CONNS -d body.json -H 'x-goog-api-key: sk-bench' -H 'content-type: application/json' --connect-to 127.0.0.1:$P_PROXY https://$NAME$PATH_GEN"

# ---- do the clients really resume, or not? --------------------------------------
# A logging copy of each nginx records $ssl_session_reused and the protocol
# of every request: wrk with Connection: close must resume, h2load must not.
# (nginx 1.22's default ssl_protocols has no TLSv1.3, so the classic one
# speaks TLS 1.2 and resumes with a TLS 1.2 ticket.)
probe_clients() {
	local kind=$1 d=$W/probe-$1 wr wa hr ha proto
	nginx_conf "$d" "$kind" "$P_PROXY" "$P_UP" "$d/access.log"
	start_nginx "$d" "$PROXY_CORE"
	wait_for 10 port_open "$P_PROXY" || die "the probe nginx ($kind) does not accept"
	run "$d/wrk.out" "${LOAD[@]}" wrk -t1 -c4 -d1s -s "$here/close.lua" "$URL" ||
		die "wrk failed: $(cat "$d/wrk.out")"
	wr=$(grep -c '^r ' "$d/access.log" || true)
	wa=$(wc -l <"$d/access.log")
	proto=$(awk '{ print $2 }' "$d/access.log" | sort -u | tr '\n' ' ')
	: >"$d/access.log"
	run "$d/h2load.out" "${LOAD[@]}" h2load --h1 -c 50 -n 50 -d "$W/body.json" \
		--connect-to "127.0.0.1:$P_PROXY" "https://$NAME$PATH_GEN" ||
		die "h2load failed: $(cat "$d/h2load.out")"
	hr=$(grep -c '^r ' "$d/access.log" || true)
	ha=$(wc -l <"$d/access.log")
	kill "$PID"
	wait "$PID" 2>/dev/null || true
	wait_for 5 port_closed "$P_PROXY" || die "the probe nginx ($kind) did not stop"
	# (95%: each of wrk's first connections is a full handshake)
	if [ "$wa" = 0 ] || [ $((wr * 100 / wa)) -lt 95 ]; then
		die "against nginx $kind, wrk resumed only $wr of $wa connections; the resumed-handshake figure would be wrong"
	fi
	[ "$hr" = 0 ] || die "against nginx $kind, h2load resumed $hr of $ha connections; the full-handshake figure would be wrong"
	probed="${probed}nginx $kind (${proto% }): wrk+close.lua resumed $wr/$wa, h2load $hr/$ha; "
}
probed=
probe_clients tuned
probe_clients classic
note "clients: $probed"

# ---- the measurements ------------------------------------------------------------
declare -A R # R[kind.figure]

# s_client resumes once against the proxy: proves the server accepts tickets
server_resumes() {
	local req="POST / HTTP/1.1\r\nHost: $NAME\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	rm -f "$W/sess.pem"
	printf %b "$req" | timeout 10 openssl s_client -quiet -connect "127.0.0.1:$P_PROXY" \
		-servername "$NAME" -sess_out "$W/sess.pem" >/dev/null 2>&1 || true
	[ -s "$W/sess.pem" ] || return 1
	printf %b "$req" | timeout 10 openssl s_client -connect "127.0.0.1:$P_PROXY" -ign_eof \
		-servername "$NAME" -sess_in "$W/sess.pem" 2>/dev/null | grep -q '^Reused, TLSv1'
}

measure() {
	local kind=$1 d t0 t1 n out idle
	note "$kind: idle connections"
	start_proxy "$kind" "$P_UP"
	d=$W/$kind-$P_UP
	check_proxy "$kind"
	sleep 0.5
	t0=$(rss_kb "$WORKER")
	"${LOAD[@]}" python3 "$W/idle.py" "$P_PROXY" "$NAME" "$IDLE" "$d/idle.ready" "$d/idle.stop" >"$d/idle.out" 2>&1 &
	idle=$!
	started+=("$idle")
	wait_for 90 test -e "$d/idle.ready" || die "$kind: the idle connections did not open: $(cat "$d/idle.out")"
	sleep 1
	t1=$(rss_kb "$WORKER")
	touch "$d/idle.stop"
	wait "$idle" || true
	read -r n _ <"$d/idle.ready"
	R[$kind.idle_n]=$n
	R[$kind.rss0]=$t0
	R[$kind.rss1]=$t1
	R[$kind.idle]=$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')
	[ "$n" = "$IDLE" ] || note "$kind: only $n of $IDLE idle connections opened"
	measure_cpu "$kind" "$d"
	stop_proxy

	note "$kind: server-sent events"
	start_proxy "$kind" "$P_SSE"
	sse "$kind" "$P_PROXY" "$W/ca/rootCA.pem"
	stop_proxy
}

# upstream_tls KIND FIGURE: R[KIND.up_FIGURE] = the TLS connections the
# proxy opened to the HTTPS upstream since the last call, and how many of
# them resumed a session ("N/M resumed"), from the stub's log.
upstream_tls() {
	local log=$W/stub/upstream-tls.log
	# one read of the log (the stub may still be writing), then emptied
	R[$1.up_$2]=$(awk '/^r / { r++ } END { print NR "/" r + 0 }' "$log")
	: >"$log"
}

# measure_cpu KIND DIR: the worker's CPU per keep-alive request, per full
# and per resumed handshake (each with one POST), the proxy running
measure_cpu() {
	local kind=$1 d=$2 t0 t1 n out tls=
	[ "${kind%-tls}" != "$kind" ] && tls=1
	[ -z "$tls" ] || upstream_tls "$kind" start
	note "$kind: keep-alive POSTs ($KA_RUNS runs)"
	local i runs=()
	for ((i = 1; i <= KA_RUNS; i++)); do
		t0=$(cpu_ticks "$WORKER")
		run "$d/ka.$i.out" "${LOAD[@]}" "${ka[@]}" || die "$kind: wrk failed: $(cat "$d/ka.$i.out")"
		t1=$(cpu_ticks "$WORKER")
		n=$(awk '/requests in/ { print $1 }' "$d/ka.$i.out")
		runs+=("$(us_per $((t1 - t0)) "$n") $i")
	done
	# the median run gives the figure and its rps and latency; all give the range
	read -r "R[$kind.ka]" i < <(printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(((KA_RUNS + 1) / 2))p")
	R[$kind.ka_range]=$(printf '%s\n' "${runs[@]}" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }')
	out=$d/ka.$i.out
	R[$kind.ka_rps]=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$out")
	R[$kind.ka_p50]=$(awk '$1 == "50%" { print $2 }' "$out")
	R[$kind.ka_p99]=$(awk '$1 == "99%" { print $2 }' "$out")
	R[$kind.ka_bad]=$(cat "$d"/ka.*.out | awk '/Non-2xx|Socket errors/' | tr -s ' ' | tr '\n' ';')
	[ -z "$tls" ] || upstream_tls "$kind" ka

	note "$kind: full handshakes"
	t0=$(cpu_ticks "$WORKER")
	run "$d/full.out" "${LOAD[@]}" "${full[@]}" || die "$kind: h2load failed: $(tail -n 5 "$d/full.out")"
	t1=$(cpu_ticks "$WORKER")
	out=$d/full.out
	n=$(awk '/^requests:/ { print $8 }' "$out")
	R[$kind.full]=$(us_per $((t1 - t0)) "$CONNS")
	R[$kind.full_ok]=$n
	R[$kind.full_tls]=$(awk '/^TLS Protocol:/ { p = $3 } /^Cipher:/ { c = $2 } /^Server Temp Key:/ { k = $4 }
		END { print p, c, k }' "$out")
	R[$kind.full_s]=$(awk '/^finished in/ { sub(",", "", $3); print $3 }' "$out")
	[ -z "$tls" ] || upstream_tls "$kind" full

	note "$kind: resumed handshakes"
	if server_resumes; then R[$kind.resumes]=yes; else R[$kind.resumes]=NO; fi
	t0=$(cpu_ticks "$WORKER")
	run "$d/res.out" "${LOAD[@]}" "${res[@]}" || die "$kind: wrk failed: $(cat "$d/res.out")"
	t1=$(cpu_ticks "$WORKER")
	out=$d/res.out
	n=$(awk '/requests in/ { print $1 }' "$out")
	R[$kind.res]=$(us_per $((t1 - t0)) "$n")
	R[$kind.res_rps]=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$out")
	R[$kind.res_bad]=$(awk '/Non-2xx|Socket errors/' "$out" | tr -s ' ' | tr '\n' ';')
	[ -z "$tls" ] || upstream_tls "$kind" res
}

# measure_tls KIND: gbca-tls or tuned-tls, the same figures to the HTTPS
# upstream (the client side is the same as above: no idle or SSE runs)
measure_tls() {
	local kind=$1
	if [ "$kind" = gbca-tls ] && ! "$gbca" serve --help 2>&1 | grep -q -- --upstream-ca; then
		R[$kind.skipped]="this gbca has no --upstream-ca (no HTTPS upstream)"
		note "$kind: not measured: ${R[$kind.skipped]}"
		return 0
	fi
	start_proxy "$kind" "$P_UPS"
	# a gbca whose worker can't reach an HTTPS upstream yet: say so, go on
	if [ "$kind" = gbca-tls ] && ! proxy_answers "$kind"; then
		note "$kind: not measured: ${answer//$'\n'/ }"
		R[$kind.skipped]=${answer//$'\n'/ }
		stop_proxy
		return 0
	fi
	check_proxy "$kind"
	measure_cpu "$kind" "$W/$kind-$P_UPS"
	stop_proxy
}

# sse KIND PORT CAFILE: $SSE_STREAMS streams of 5 events
SSE_STREAMS=3
sse() {
	local kind=$1 out=$W/sse-$1.out
	run "$out" "${LOAD[@]}" timeout 30 python3 "$W/sse_client.py" "$2" "$3" "$NAME" "$SSE_STREAMS" ||
		die "$kind: the SSE client failed: $(cat "$out")"
	read -r "R[$kind.sse_status]" "R[$kind.sse_n]" "R[$kind.sse_max]" "R[$kind.sse_med]" "R[$kind.sse_gaps]" <"$out"
}

# what the clients and the upstream cost without a proxy (plain HTTP)
note "SSE without a proxy"
sse direct "$P_SSE" -
for kind in gbca tuned classic; do
	measure "$kind"
done
for kind in gbca-tls tuned-tls; do
	measure_tls "$kind"
done
read -r load_after _ </proc/loadavg

# ---- report ----------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
virt=no
grep -qw hypervisor /proc/cpuinfo && virt=yes
gnutls=$(pkg-config --modversion gnutls 2>/dev/null ||
	dpkg-query -W -f '${Version}' libgnutls30 2>/dev/null || echo "?")
g() { echo "${R[$1]:--}"; }
ratio() { # nginx KIND / gbca for FIGURE
	ratio_of "$1" gbca "$2"
}
# both figures numbers: KIND-A's FIGURE OP KIND-B's, else -
combine() { # KIND-A KIND-B FIGURE OP
	local a=${R[$1.$3]:-} b=${R[$2.$3]:-}
	case $a in '' | *[!0-9.]*) echo -; return ;; esac
	case $b in '' | *[!0-9.]*) echo -; return ;; esac
	calc "$a $4 $b"
}
ratio_of() { combine "$1" "$2" "$3" /; }
diff_of() { combine "$1" "$2" "$3" -; }

cat <<EOF

machine: $(nproc) CPUs, ${cpu:-unknown CPU} (virtual machine: $virt), Linux $(uname -r)
$("$gbca" version 2>/dev/null || echo gbca), GnuTLS $gnutls, $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(wrk --version 2>&1 | head -n 1 | awk '{ print "wrk", $2 }'), $(h2load --version), $(python3 --version)
proxy worker on core $PROXY_CORE (taskset -c $PROXY_CORE); wrk, h2load, python clients and the upstream on core $LOAD_CORE
CPU = utime+stime of the proxy's worker from /proc/PID/stat (CLK_TCK $TCK) around each run
load average: $load_before before, $load_after after (noisy numbers? rerun on an idle machine)

  keep-alive:   $cmd_ka ($KA_RUNS times)
  full TLS:     $cmd_full
  resumed TLS:  $cmd_res
  SSE:          python3 client, $SSE_STREAMS x POST :streamGenerateContent?alt=sse; the upstream sends 5 events 200 ms apart
                (latency = arrival at the client - time.time() written by the upstream just before its send)
  idle:         python3, $IDLE TLS connections that finish the handshake and send nothing; worker VmRSS before/after
  clients checked: $probed

| figure | gbca | nginx tuned | nginx classic | tuned/gbca | classic/gbca |
|---|---:|---:|---:|---:|---:|
| keep-alive POST, worker CPU (us/request), median of $KA_RUNS | **$(g gbca.ka)** | $(g tuned.ka) | $(g classic.ka) | $(ratio tuned ka) | $(ratio classic ka) |
| keep-alive POST, worker CPU, range of the $KA_RUNS runs | $(g gbca.ka_range) | $(g tuned.ka_range) | $(g classic.ka_range) | | |
| keep-alive POST, requests/s | $(g gbca.ka_rps) | $(g tuned.ka_rps) | $(g classic.ka_rps) | | |
| keep-alive POST, latency p50 / p99 | $(g gbca.ka_p50) / $(g gbca.ka_p99) | $(g tuned.ka_p50) / $(g tuned.ka_p99) | $(g classic.ka_p50) / $(g classic.ka_p99) | | |
| full TLS 1.3 handshake + 1 POST, worker CPU (us/connection) | **$(g gbca.full)** | $(g tuned.full) | $(g classic.full) | $(ratio tuned full) | $(ratio classic full) |
| full handshakes: h2load time for $CONNS (s), succeeded | $(g gbca.full_s), $(g gbca.full_ok) | $(g tuned.full_s), $(g tuned.full_ok) | $(g classic.full_s), $(g classic.full_ok) | | |
| resumed TLS 1.3 handshake + 1 POST, worker CPU (us/connection) | **$(g gbca.res)** | $(g tuned.res) | $(g classic.res) | $(ratio tuned res) | $(ratio classic res) |
| resumed: connections/s; s_client resumes | $(g gbca.res_rps); $(g gbca.resumes) | $(g tuned.res_rps); $(g tuned.resumes) | $(g classic.res_rps); $(g classic.resumes) | | |
| SSE event latency, max / median (ms) | **$(g gbca.sse_max)** / $(g gbca.sse_med) | $(g tuned.sse_max) / $(g tuned.sse_med) | $(g classic.sse_max) / $(g classic.sse_med) | $(ratio tuned sse_max) | $(ratio classic sse_max) |
| SSE spacing between arrivals, min-max (ms) | $(g gbca.sse_gaps) | $(g tuned.sse_gaps) | $(g classic.sse_gaps) | | |
| SSE without a proxy (plain HTTP): max / median (ms), spacing | $(g direct.sse_max) / $(g direct.sse_med), $(g direct.sse_gaps) | | | | |
| idle TLS connection, worker RSS (KB/connection) | **$(g gbca.idle)** | $(g tuned.idle) | $(g classic.idle) | $(ratio tuned idle) | $(ratio classic idle) |
| idle: worker VmRSS before -> after (KB) | $(g gbca.rss0) -> $(g gbca.rss1) | $(g tuned.rss0) -> $(g tuned.rss1) | $(g classic.rss0) -> $(g classic.rss1) | | |

negotiated (h2load): gbca $(g gbca.full_tls); nginx tuned $(g tuned.full_tls); classic $(g classic.full_tls)

HTTPS upstream: the same stub also over TLS (1.2/1.3, session tickets and cache), its leaf for
$UP_NAME and 127.0.0.1 from a throwaway CA; the same client runs as above.
  gbca:        gbca serve --upstream https://127.0.0.1:$P_UPS --upstream-ca upca/rootCA.pem (pool and resumption its own)
  nginx tuned: proxy_pass https://gemini (upstream { keepalive 64; }), proxy_ssl_verify on,
               proxy_ssl_trusted_certificate upca/rootCA.pem, proxy_ssl_name $UP_NAME, proxy_ssl_server_name on,
               proxy_ssl_session_reuse on, proxy_ssl_protocols TLSv1.2 TLSv1.3
  upstream TLS connections: opened by the proxy during that run / of them resumed (the stub's \$ssl_session_reused)

| figure, HTTPS upstream | gbca | nginx tuned | tuned/gbca |
|---|---:|---:|---:|
| keep-alive POST, worker CPU (us/request), median of $KA_RUNS | **$(g gbca-tls.ka)** | $(g tuned-tls.ka) | $(ratio_of tuned-tls gbca-tls ka) |
| keep-alive POST, worker CPU, range of the $KA_RUNS runs | $(g gbca-tls.ka_range) | $(g tuned-tls.ka_range) | |
| keep-alive POST, requests/s; p50 / p99 | $(g gbca-tls.ka_rps); $(g gbca-tls.ka_p50) / $(g gbca-tls.ka_p99) | $(g tuned-tls.ka_rps); $(g tuned-tls.ka_p50) / $(g tuned-tls.ka_p99) | |
| keep-alive: the TLS upstream's extra CPU over plain HTTP (us/request) | $(diff_of gbca-tls gbca ka) | $(diff_of tuned-tls tuned ka) | |
| full TLS handshake + 1 POST, worker CPU (us/connection) | **$(g gbca-tls.full)** | $(g tuned-tls.full) | $(ratio_of tuned-tls gbca-tls full) |
| resumed TLS handshake + 1 POST, worker CPU (us/connection) | **$(g gbca-tls.res)** | $(g tuned-tls.res) | $(ratio_of tuned-tls gbca-tls res) |
| resumed: connections/s | $(g gbca-tls.res_rps) | $(g tuned-tls.res_rps) | |
| upstream TLS connections / resumed: keep-alive runs | $(g gbca-tls.up_ka) | $(g tuned-tls.up_ka) | |
| upstream TLS connections / resumed: full-handshake run | $(g gbca-tls.up_full) | $(g tuned-tls.up_full) | |
| upstream TLS connections / resumed: resumed-handshake run | $(g gbca-tls.up_res) | $(g tuned-tls.up_res) | |
EOF
for k in gbca tuned classic gbca-tls tuned-tls; do
	[ -n "${R[$k.ka]:-}" ] || { echo "warning: $k: not measured${R[$k.skipped]:+: ${R[$k.skipped]}}"; continue; }
	for f in ka_bad res_bad; do
		[ -z "${R[$k.$f]:-}" ] || echo "warning: $k ${f%_bad}: ${R[$k.$f]}"
	done
	[ "${R[$k.full_ok]:-0}" = "$CONNS" ] || echo "warning: $k: only ${R[$k.full_ok]:-0} of $CONNS h2load connections succeeded"
done
for k in direct gbca tuned classic; do
	[ "${R[$k.sse_n]:-0}" = $((5 * SSE_STREAMS)) ] && [ "${R[$k.sse_status]:-}" = 200 ] ||
		echo "warning: $k SSE: status ${R[$k.sse_status]:-none}, ${R[$k.sse_n]:-0} of $((5 * SSE_STREAMS)) events"
done

goal() { # DESCRIPTION AWK-CONDITION
	if awk "BEGIN { exit !($2) }" 2>/dev/null; then
		echo "met      $1"
	else
		echo "NOT met  $1"
	fi
}
echo
goal "keep-alive CPU <= 12 us/request (gbca ${R[gbca.ka]})" "${R[gbca.ka]} <= 12"
goal "keep-alive CPU 1.4x below tuned nginx ($(ratio tuned ka)x)" "$(ratio tuned ka) >= 1.4"
goal "keep-alive CPU 5x below classic nginx ($(ratio classic ka)x)" "$(ratio classic ka) >= 5"
goal "full handshake 1.15x cheaper than tuned nginx ($(ratio tuned full)x)" "$(ratio tuned full) >= 1.15"
goal "resumed handshake no dearer than tuned nginx ($(ratio tuned res)x)" "$(ratio tuned res) >= 1"
goal "idle connection <= 12 KB (gbca ${R[gbca.idle]} KB)" "${R[gbca.idle]} <= 12"
goal "SSE events forwarded within 1 ms (gbca max ${R[gbca.sse_max]} ms)" "${R[gbca.sse_max]} <= 1"
