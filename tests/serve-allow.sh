#!/bin/bash
# gbca serve --allow: which clients a listener on a LAN address takes. The
# test's own network namespace plays the gateway; namespaces it makes play a
# teammate on the LAN (198.18.1.0/24), a machine on another subnet
# (198.18.2.0/24, also carrying 198.19.5.5, routed through it) and their
# IPv6 twins (2001:db8::/32, documentation addresses). A refused client is
# closed at accept, before any TLS byte, and logged with its address.
. "$srcdir/tests/ns.sh"
in_namespaces -n -m -- "$@"

. "$srcdir/tests/lib.sh"
serve_test_prelude
need ip curl nsenter unshare ss update-ca-certificates systemd-socket-activate

NAME=generativelanguage.googleapis.com
P=8443
UPSTREAM= SERVE= PEERS=()
cleanup() { kill "${PEERS[@]}" 2>/dev/null; "$GBCA" down >/dev/null 2>&1; serve_test_cleanup; }
trap cleanup EXIT

sandbox_machine
export GBCA_CAROOT="$TMP/ca"
"$GBCA" init -q || { echo "Bail out! gbca init failed"; exit 1; }
ROOT=$GBCA_CAROOT/rootCA.pem
start_upstream 8001

# new_ns: a network namespace of the test's own, its pid in $NS_PID.
new_ns() {
	unshare -n sleep 900 &
	NS_PID=$!
	PEERS+=("$NS_PID")
	wait_until 50 sh -c "[ \"\$(readlink /proc/$NS_PID/ns/net)\" != \"\$(readlink /proc/self/ns/net)\" ]" ||
		{ echo "Bail out! no namespace"; exit 1; }
}
# peer IFACE GW PEER [GW6 PEER6]: a namespace (pid in $PEER_PID) joined by a
# veth pair: GW/24 on this side's IFACE, PEER/24 on its eth0, and its
# default route through GW.
peer() {
	local pid
	new_ns
	pid=$NS_PID
	ip link add "$1" type veth peer name eth0 netns "$pid"
	ip addr add "$2/24" dev "$1"
	ip link set "$1" up
	nsenter -t "$pid" -n sh -c "ip link set lo up && ip addr add $3/24 dev eth0 && ip link set eth0 up && ip route add default via $2" ||
		{ echo "Bail out! couldn't set up $1"; exit 1; }
	if [ $# -ge 5 ]; then
		ip addr add "$4/64" dev "$1" nodad
		nsenter -t "$pid" -n sh -c "ip addr add $5/64 dev eth0 nodad && ip -6 route add default via $4"
	fi
	PEER_PID=$pid
}
peer lan0 198.18.1.1 198.18.1.2 2001:db8:1::1 2001:db8:1::2
LAN=$PEER_PID
peer out0 198.18.2.1 198.18.2.2 2001:db8:2::1 2001:db8:2::2
OUT=$PEER_PID
# 198.19.5.5 lives behind the outsider: a client that is on no subnet here.
nsenter -t "$OUT" -n ip addr add 198.19.5.5/32 dev lo
ip route add 198.19.5.5/32 via 198.18.2.2

# get PID ADDR [CURL-ARG...]: the HTTP status that curl, trusting the test
# CA, gets from the proxy at ADDR:$P from namespace PID ("000" when refused).
get() {
	local pid=$1 addr=$2; shift 2
	nsenter -t "$pid" -n curl -sS --max-time 10 -o /dev/null -w '%{http_code}' --cacert "$ROOT" \
		--resolve "$NAME:$P:$addr" "https://$NAME:$P/v1beta/models/m:generateContent" -H 'x-goog-api-key: sk-test' -d '{}' "$@" 2>/dev/null
}
# probe PID ADDR: sends a real ClientHello from namespace PID and prints how
# many bytes came back and how the connection ended ("0 reset" for a refusal).
probe() {
	nsenter -t "$1" -n "$PY" - "$2" "$P" "$NAME" <<'EOF'
import socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(inc, out, server_hostname=sys.argv[3])
try:
    obj.do_handshake()
except ssl.SSLWantReadError:
    pass
hello, got, how = out.read(), b"", "eof"
host = sys.argv[1]
try:
    s = socket.create_connection((host, int(sys.argv[2])), timeout=5)
    s.sendall(hello)
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
except (ConnectionResetError, BrokenPipeError):
    how = "reset"
except socket.timeout:
    how = "timeout"
except OSError as e:
    how = "error: " + str(e)
print(len(got), how)
EOF
}

# start_serve TAG ARG...: serve (stderr in $TMP/TAG.err) until it says "listening on".
start_serve() {
	local tag=$1; shift
	"$GBCA" serve --workers 1 --user root --pid-file off --access-log off --config /dev/null \
		--upstream http://127.0.0.1:8001 "$@" > /dev/null 2> "$TMP/$tag.err" &
	SERVE=$!
	wait_until 150 grep -q "listening on" "$TMP/$tag.err" || sed 's/^/# /' "$TMP/$tag.err"
}
stop_serve() { kill "$SERVE" 2>/dev/null; wait "$SERVE" 2>/dev/null; SERVE=; }
refusals() { grep -c "refused $2 " "$TMP/$1.err"; }

# --- --allow CIDR: the LAN in, a machine outside refused at accept -------------
start_serve cidr --listen 198.18.1.1:$P --allow 198.18.1.0/24
is "/allow/cidr/lan-client-200" "$(get "$LAN" 198.18.1.1)" 200
is "/allow/cidr/outsider-no-tls-byte" "$(probe "$OUT" 198.18.1.1)" "0 reset"
is "/allow/cidr/one-line-per-refusal" "$(refusals cidr 198.18.2.2)" 1
is "/allow/cidr/outsider-curl-refused" "$(get "$OUT" 198.18.1.1)" 000
like "/allow/cidr/logged-with-address-and-listener" "$(cat "$TMP/cidr.err")" \
	"refused 198\.18\.2\.2 on 198\.18\.1\.1:$P"
like "/allow/cidr/start-says-what-is-allowed" "$(cat "$TMP/cidr.err")" "allows loopback, 198\.18\.1\.0/24 \(--allow\)"
is "/allow/cidr/lan-client-still-200" "$(get "$LAN" 198.18.1.1)" 200
# A flood: ten lines a minute name refused clients, one line counts the rest.
for i in $(seq 30); do probe "$OUT" 198.18.1.1; done > "$TMP/flood.out"
is "/allow/flood/all-refused" "$(sort -u "$TMP/flood.out")" "0 reset"
stop_serve
is "/allow/flood/ten-lines-a-minute" "$(grep -c "refused 198\.18\.2\.2 on" "$TMP/cidr.err")" 10
like "/allow/flood/the-rest-counted" "$(cat "$TMP/cidr.err")" "refused 2[0-9] more clients in the last minute \(the last 198\.18\.2\.2\)"

start_serve equals --listen 198.18.1.1:$P --allow=198.18.1.0/24
is "/allow/equals/lan-client-200" "$(get "$LAN" 198.18.1.1)" 200
is "/allow/equals/outsider-refused" "$(probe "$OUT" 198.18.1.1)" "0 reset"
stop_serve

# A bare address is that one machine (/32); --allow repeats.
start_serve bare --listen 198.18.1.1:$P --listen 198.18.2.1:$P --allow 198.18.2.2 --allow 198.19.5.0/24
is "/allow/bare/that-address-200" "$(get "$OUT" 198.18.1.1)" 200
is "/allow/bare/its-neighbour-refused" "$(probe "$LAN" 198.18.1.1)" "0 reset"
is "/allow/repeated/second-200" "$(get "$OUT" 198.18.2.1 --interface 198.19.5.5)" 200
stop_serve

# --- the default: loopback and the listener's on-link subnets ----------------
start_serve default --listen 198.18.1.1:$P --listen 127.0.0.1:$P
is "/allow/default/on-link-200" "$(get "$LAN" 198.18.1.1)" 200
is "/allow/default/other-subnet-refused" "$(probe "$OUT" 198.18.1.1)" "0 reset"
like "/allow/default/logged" "$(cat "$TMP/default.err")" "refused 198\.18\.2\.2 on 198\.18\.1\.1:$P"
like "/allow/default/start-says" "$(cat "$TMP/default.err")" \
	"allows loopback, 198\.18\.1\.0/24, 2001:db8:1::/64, fe80::/64 \(the networks of the interfaces that carry the listeners"
is "/allow/default/loopback-200" \
	"$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' --cacert "$ROOT" --resolve "$NAME:$P:127.0.0.1" \
		"https://$NAME:$P/v1beta/models/m:generateContent" -H 'x-goog-api-key: k' -d '{}')" 200
stop_serve

# A wildcard listener: every interface's subnets, not a routed client.
start_serve wildcard --listen 0.0.0.0:$P
is "/allow/default-wildcard/lan-200" "$(get "$LAN" 198.18.1.1)" 200
is "/allow/default-wildcard/other-interface-200" "$(get "$OUT" 198.18.2.1)" 200
is "/allow/default-wildcard/routed-refused" "$(get "$OUT" 198.18.2.1 --interface 198.19.5.5)" 000
like "/allow/default-wildcard/logged" "$(cat "$TMP/wildcard.err")" "refused 198\.19\.5\.5 on 0\.0\.0\.0:$P"
stop_serve

start_serve any --listen 0.0.0.0:$P --allow any
is "/allow/any/routed-200" "$(get "$OUT" 198.18.2.1 --interface 198.19.5.5)" 200
like "/allow/any/start-says" "$(cat "$TMP/any.err")" "allows every client"
stop_serve

# --- IPv6 --------------------------------------------------------------------
start_serve v6 --listen "[2001:db8:1::1]:$P" --allow 2001:db8:1::/64
is "/allow/ipv6/lan-200" "$(get "$LAN" '[2001:db8:1::1]')" 200
is "/allow/ipv6/outsider-refused" "$(probe "$OUT" 2001:db8:1::1)" "0 reset"
like "/allow/ipv6/logged" "$(cat "$TMP/v6.err")" "refused 2001:db8:2::2 on \[2001:db8:1::1\]:$P"
stop_serve

# --- systemd's dual-stack socket: IPv4 clients arrive as ::ffff:a.b.c.d -------
systemd-socket-activate -l "[::]:$P" env GBCA_CAROOT="$GBCA_CAROOT" "$GBCA" serve --workers 1 --user root \
	--pid-file off --access-log off --config /dev/null --upstream http://127.0.0.1:8001 --allow 198.18.1.0/24 \
	> /dev/null 2> "$TMP/activated.err" &
SERVE=$!
wait_until 50 sh -c "ss -ltnH 'sport = :$P' | grep -q ." || echo "# systemd-socket-activate did not listen"
is "/allow/v4-mapped/lan-200" "$(get "$LAN" 198.18.1.1)" 200
is "/allow/v4-mapped/outsider-refused" "$(probe "$OUT" 198.18.1.1)" "0 reset"
like "/allow/v4-mapped/logged-as-ipv4" "$(cat "$TMP/activated.err")" "refused 198\.18\.2\.2 on \[::\]:$P"
stop_serve
wait_until 50 no_gbca_left

# --- GBCA_ALLOW and the config file -----------------------------------------
GBCA_ALLOW="198.18.1.0/24, 198.19.5.5" start_serve env --listen 0.0.0.0:$P
is "/allow/env/first-200" "$(get "$LAN" 198.18.1.1)" 200
is "/allow/env/second-200" "$(get "$OUT" 198.18.2.1 --interface 198.19.5.5)" 200
is "/allow/env/other-refused" "$(get "$OUT" 198.18.2.1)" 000
stop_serve
printf 'listen = 198.18.1.1:%s\nallow = 198.18.2.0/24\n' "$P" > "$TMP/serve.conf"
"$GBCA" serve --workers 1 --user root --pid-file off --access-log off --config "$TMP/serve.conf" \
	--upstream http://127.0.0.1:8001 > /dev/null 2> "$TMP/conf.err" &
SERVE=$!
wait_until 150 grep -q "listening on" "$TMP/conf.err"
is "/allow/config-file/allowed-200" "$(get "$OUT" 198.18.1.1)" 200
is "/allow/config-file/lan-refused" "$(get "$LAN" 198.18.1.1)" 000
stop_serve

# --- bad CIDRs: a clear error, nothing started --------------------------------
for bad in 198.18.1.0/33 198.18.1.5/24 198.18.1.0/ 198.18.1.0/024 198.18.1.0/8x 198.18.1 2001:db8::/129 \
           fe80::1%eth0 gateway.example ' 198.18.1.0/24' 'any/8'; do
	out=$(timeout 20 "$GBCA" serve --listen 198.18.1.1:$P --allow "$bad" --config /dev/null 2>&1); rc=$?
	is "/allow/bad/$bad/exit-2" "$rc" 2
	like "/allow/bad/$bad/says" "$out" "--allow"
done
like "/allow/bad/host-bits-say-the-network" \
	"$("$GBCA" serve --allow 198.18.1.5/24 --config /dev/null 2>&1)" "198\.18\.1\.0/24"
out=$(GBCA_ALLOW=198.18.1.0/40 timeout 20 "$GBCA" serve --config /dev/null 2>&1); rc=$?
is "/allow/bad/env-exit-1" "$rc" 1
like "/allow/bad/env-says" "$out" "GBCA_ALLOW"
ok "/allow/bad/nothing-started" no_gbca_left

# --- up passes --allow to serve (after --) ------------------------------------
out=$(timeout 60 "$GBCA" up --no-trust --no-hosts -- --allow 198.18.1.0/33 2>&1); rc=$?
is "/allow/up/bad-exit-2" "$rc" 2
like "/allow/up/bad-says" "$out" "--allow"
ok "/allow/up/bad-nothing-started" no_gbca_left
timeout 60 "$GBCA" up --no-trust --no-hosts --upstream http://127.0.0.1:8001 -- --workers 1 --user root \
	--listen 198.18.1.1:$P --allow=198.18.1.0/24 > "$TMP/up.out" 2>&1; rc=$?
is "/allow/up/exit-0" "$rc" 0
is "/allow/up/lan-200" "$(get "$LAN" 198.18.1.1)" 200
is "/allow/up/outsider-refused" "$(probe "$OUT" 198.18.1.1)" "0 reset"
"$GBCA" down > /dev/null 2>&1
SYS="$TMP/sysroot"
mkdir -p "$SYS/etc/systemd/system"
GBCA_SYSROOT=$SYS timeout 60 "$GBCA" up --service --no-trust --no-hosts -- --allow 198.18.1.0/24 --allow=2001:db8:1::/64 > /dev/null 2>&1
like "/allow/up/service-unit" "$(grep '^ExecStart=' "$SYS/etc/systemd/system/gbca-serve.service" 2>/dev/null)" \
	'"serve" "--allow" "198\.18\.1\.0/24" "--allow=2001:db8:1::/64"'

# --- --bridge: containers on this host ----------------------------------------
# bridge NAME ADDR: a bridge interface here with ADDR/24, as Docker makes docker0.
bridge() { ip link add "$1" type bridge && ip addr add "$2/24" dev "$1" && ip link set "$1" up; }
# container BRIDGE GW ADDR VETH: a namespace (pid in $PEER_PID) plugged into
# BRIDGE by a veth pair (VETH on this side), ADDR/24, default route via GW.
container() {
	new_ns
	ip link add "$4" type veth peer name eth0 netns "$NS_PID"
	ip link set "$4" master "$1" up
	nsenter -t "$NS_PID" -n sh -c "ip link set lo up && ip addr add $3/24 dev eth0 && ip link set eth0 up && ip route add default via $2" ||
		{ echo "Bail out! couldn't set up a container on $1"; exit 1; }
	PEER_PID=$NS_PID
}
listening() { ss -ltnH | awk '{print $4}' | sort | tr '\n' ' '; }
bridge docker0 198.18.3.1
container docker0 198.18.3.1 198.18.3.2 vc1
CT=$PEER_PID
# A compose network (Docker's br-<id>) reaches host-gateway, docker0's address, routed.
bridge br-0123abcd 198.18.4.1
container br-0123abcd 198.18.4.1 198.18.4.2 vc2
CT2=$PEER_PID

start_serve bridge --listen 127.0.0.1:$P --bridge
like "/bridge/listens-on-gateway-same-port" "$(grep "listening on" "$TMP/bridge.err")" \
	"listening on 127\.0\.0\.1:$P, 198\.18\.3\.1:$P \(container bridge\)"
is "/bridge/container-200" "$(get "$CT" 198.18.3.1)" 200
is "/bridge/compose-network-200" "$(get "$CT2" 198.18.3.1)" 200
is "/bridge/lan-refused" "$(probe "$LAN" 198.18.3.1)" "0 reset"
like "/bridge/lan-refusal-logged" "$(cat "$TMP/bridge.err")" "refused 198\.18\.1\.2 on 198\.18\.3\.1:$P"
like "/bridge/start-says" "$(cat "$TMP/bridge.err")" "198\.18\.4\.0/24.*\(container bridges, --bridge\)"
stop_serve

start_serve bridge443 --bridge=docker0
like "/bridge/iface-form-default-port-443" "$(listening)" "198\.18\.3\.1:443 "
is "/bridge/iface-form-container-200" "$(P=443 get "$CT" 198.18.3.1)" 200
stop_serve

start_serve bridgeaddr --listen 127.0.0.1:$P --bridge=198.18.3.1 --allow 198.18.1.0/24
is "/bridge/addr-form-container-200" "$(get "$CT" 198.18.3.1)" 200
is "/bridge/with-allow-lan-200" "$(get "$LAN" 198.18.3.1)" 200
is "/bridge/with-allow-outsider-refused" "$(probe "$OUT" 198.18.3.1)" "0 reset"
stop_serve

# up --bridge, and --bridge after -- (serve's own), into the unit.
timeout 60 "$GBCA" up --no-trust --no-hosts --bridge --upstream http://127.0.0.1:8001 -- --workers 1 --user root \
	--listen 127.0.0.1:$P > "$TMP/up-bridge.out" 2>&1; rc=$?
is "/bridge/up/exit-0" "$rc" 0
[ "$rc" = 0 ] || sed 's/^/# /' "$TMP/up-bridge.out"
is "/bridge/up/container-200" "$(get "$CT" 198.18.3.1)" 200
"$GBCA" down > /dev/null 2>&1
UNIT="$SYS/etc/systemd/system/gbca-serve.service"
rm -f "$UNIT"
GBCA_SYSROOT=$SYS timeout 60 "$GBCA" up --service --no-trust --no-hosts --bridge=docker0 > /dev/null 2>&1
like "/bridge/up/service-unit" "$(grep '^ExecStart=' "$UNIT" 2>/dev/null)" '"serve" "--bridge=docker0"$'
like "/bridge/up/service-after-docker" "$(grep '^After=' "$UNIT" 2>/dev/null)" '^After=network.target docker.service$'
if command -v systemd-analyze > /dev/null; then
	ok "/bridge/up/systemd-analyze-verify" systemd-analyze verify "$UNIT"
fi
rm -f "$UNIT"
GBCA_SYSROOT=$SYS timeout 60 "$GBCA" up --service --no-trust --no-hosts -- --bridge > /dev/null 2>&1
like "/bridge/up/service-unit-after-dashes" "$(grep '^ExecStart=' "$UNIT" 2>/dev/null)" '"serve" "--bridge"$'
out=$(timeout 60 "$GBCA" up --no-trust --no-hosts --bridge docker0 2>&1); rc=$?
is "/bridge/up/space-form-exit-2" "$rc" 2
like "/bridge/up/space-form-says" "$out" "write --bridge=docker0"

# No docker0: podman0, then cni-podman0, are looked for.
ip link del docker0
bridge podman0 198.18.6.1
start_serve podman --listen 127.0.0.1:$P --bridge
like "/bridge/podman0-when-no-docker0" "$(grep "listening on" "$TMP/podman.err")" "198\.18\.6\.1:$P \(container bridge\)"
stop_serve
# In the config file: "bridge = auto" (or nothing after =) finds it, a name or an address is taken.
for v in auto '' podman0 198.18.6.1; do
	printf 'listen = 127.0.0.1:%s\nbridge = %s\n' "$P" "$v" > "$TMP/bridge.conf"
	"$GBCA" serve --workers 1 --user root --pid-file off --access-log off --config "$TMP/bridge.conf" \
		--upstream http://127.0.0.1:8001 > /dev/null 2> "$TMP/bridge-conf.err" &
	SERVE=$!
	wait_until 150 grep -q "listening on" "$TMP/bridge-conf.err" || sed "s/^/# /" "$TMP/bridge-conf.err"
	like "/bridge/config-file/bridge=${v:-empty}" "$(grep "listening on" "$TMP/bridge-conf.err")" \
		"198\.18\.6\.1:$P \(container bridge\)"
	stop_serve
done
ip link del podman0

# No bridge at all: a clear error that names what was looked for, nothing started.
out=$(timeout 20 "$GBCA" serve --config /dev/null --bridge 2>&1); rc=$?
is "/bridge/none/exit-1" "$rc" 1
like "/bridge/none/names-what-was-looked-for" "$out" "none of docker0, podman0, cni-podman0 exists"
out=$(timeout 20 "$GBCA" serve --config /dev/null --bridge=nosuch0 2>&1); rc=$?
is "/bridge/no-such-iface/exit-1" "$rc" 1
like "/bridge/no-such-iface/says" "$out" "no interface named nosuch0"
out=$(timeout 20 "$GBCA" serve --config /dev/null --bridge nosuch0 2>&1); rc=$?
is "/bridge/space-form/exit-2" "$rc" 2
like "/bridge/space-form/says" "$out" "write --bridge=nosuch0"
out=$(timeout 60 "$GBCA" up --no-trust --no-hosts --bridge 2>&1); rc=$?
is "/bridge/up/none-exit-1" "$rc" 1
like "/bridge/up/none-says" "$out" "none of docker0, podman0, cni-podman0"
ok "/bridge/none/nothing-started" no_gbca_left

# --bridge=ADDR binds with IP_FREEBIND: a serve started before the bridge has
# its address (a unit before Docker) serves it once it comes up.
start_serve freebind --listen 127.0.0.1:$P --bridge=198.18.9.1 --allow 198.18.9.0/24
like "/bridge/freebind/listening-before" "$(listening)" "198\.18\.9\.1:$P "
like "/bridge/freebind/warns" "$(cat "$TMP/freebind.err")" "no interface carries that address yet"
bridge docker0 198.18.9.1
container docker0 198.18.9.1 198.18.9.2 vc3
is "/bridge/freebind/container-200-after" "$(get "$PEER_PID" 198.18.9.1)" 200
stop_serve

done_testing
