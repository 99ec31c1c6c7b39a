#!/bin/bash
# gbca compose (issue 12, containers on this host). (a) The override parsed
# with yaml.safe_load and checked field by field, the --docker-run line split
# as a shell does, for a CAROOT whose path holds spaces, quotes, a colon, a
# comma and a '$'; bad service names refused; the container bundle checked
# certificate by certificate. (b) Network namespaces play the containers:
# one on a bridge named docker0 (198.18.0.1) and one on a compose network
# (a br-* bridge, 198.18.1.0/24, routed), each through a veth pair, with its
# own /etc/hosts from the override's extra_hosts (host-gateway: docker0's
# address, as Docker does), the bundle bind-mounted read-only where the
# override says and the override's variables only. The real gbca serve
# listens on docker0's address (--listen ADDR:443, then --bridge); curl,
# Node fetch and python requests (with a certifi of its own) get 200 with
# TLS checks on, and fail verification without the settings.
. "$srcdir/tests/ns.sh"
in_namespaces -n -m -- "$@"

. "$srcdir/tests/lib.sh"
serve_test_prelude
need curl node ip nsenter unshare
"$PY" -c 'import yaml' 2>/dev/null || need python3-yaml
UPSTREAM= SERVE= C= C2=
trap 'kill $C $C2 2>/dev/null; serve_test_cleanup' EXIT

NAME=generativelanguage.googleapis.com
CHECK="$PY $srcdir/tests/compose.py"
SYSBUNDLE=/etc/ssl/certs/ca-certificates.crt
[ -r "$SYSBUNDLE" ] || need update-ca-certificates
chmod 755 "$TMP"   # serve's workers (nobody) reach the leaf through it

# --- without a CA: nothing printed, nothing written, the next step named ---
export GBCA_CAROOT="$TMP/none"
out=$("$GBCA" compose web 2>"$TMP/err"); rc=$?
is "/compose/no-ca/exit-1" "$rc" 1
is "/compose/no-ca/no-stdout" "$out" ""
like "/compose/no-ca/says-init" "$(cat "$TMP/err")" "gbca init"
ok "/compose/no-ca/no-bundle" test ! -e "$GBCA_CAROOT/container-ca.pem"

# --- a CAROOT whose path a careless writer would break in YAML, in compose's
# interpolation, in a volume's short syntax, in --mount's CSV or in a shell ---
export GBCA_CAROOT="$TMP/ca dir: \"q\" 'x', \$HOME #c ü"
"$GBCA" init -q || { echo "Bail out! gbca init failed"; exit 1; }
BUNDLE="$GBCA_CAROOT/container-ca.pem"

# --- usage: services named as compose allows, and only those ---
for bad in "a b" "a/b" "a:b" "web;id" 'x$y' "ünï" "" "a"$'\n'"b"; do
	out=$("$GBCA" compose web "$bad" 2>"$TMP/err"); rc=$?
	is "/compose/bad-name/exit-2 [$(printf %q "$bad")]" "$rc" 2
	is "/compose/bad-name/no-stdout [$(printf %q "$bad")]" "$out" ""
done
like "/compose/bad-name/says-why" "$("$GBCA" compose "a b" 2>&1)" "not a compose service name"
out=$("$GBCA" compose 2>&1); rc=$?
is "/compose/no-service/exit-2" "$rc" 2
like "/compose/no-service/says-what" "$out" "SERVICE|--docker-run"
fails "/compose/twice" "$GBCA" compose web web
fails "/compose/docker-run-no-service" "$GBCA" compose --docker-run web
ok "/compose/refused-wrote-nothing" test ! -e "$BUNDLE"
like "/compose/help" "$("$GBCA" compose --help)" "docker-compose override"

# --- the override, parsed and checked field by field ---
# Names YAML would read as numbers, booleans or null unless quoted.
SERVICES=(web worker-1 db.primary _x 1e3 true null yes 0x10 .inf)
"$GBCA" compose "${SERVICES[@]}" > "$TMP/override.yaml" 2> "$TMP/err"; rc=$?
is "/compose/exit-0" "$rc" 0
WANT=$(realpath "$BUNDLE")
ok "/compose/yaml-fields" $CHECK yaml "$WANT" "${SERVICES[@]}" < "$TMP/override.yaml"
"$GBCA" compose app > "$TMP/app.yaml" 2>/dev/null
ok "/compose/yaml-one-service" $CHECK yaml "$WANT" app < "$TMP/app.yaml"
like "/compose/note-on-stderr" "$(cat "$TMP/err")" "gbca: .*serve must listen"
fails "/compose/note-not-on-stdout" grep -q "^gbca:" "$TMP/override.yaml"

# --- docker run flags: split by shlex and by bash itself ---
"$GBCA" compose --docker-run > "$TMP/run.txt" 2>/dev/null
ok "/compose/docker-run-flags" $CHECK docker-run "$WANT" < "$TMP/run.txt"
eval "set -- $(cat "$TMP/run.txt")"
is "/compose/docker-run-bash-words" "$#" 12
is "/compose/docker-run-bash-same-as-shlex" "$(printf '%s\n' "$@")" \
	"$($PY -c 'import shlex, sys; print("\n".join(shlex.split(sys.stdin.read())))' < "$TMP/run.txt")"
set --

# A relative CAROOT still gives an absolute source (compose would read a
# relative one against the compose file's folder).
(cd "$TMP" && GBCA_CAROOT=rel "$GBCA" init -q && GBCA_CAROOT=rel "$GBCA" compose app 2>/dev/null) > "$TMP/rel.yaml"
ok "/compose/relative-caroot-absolute-source" $CHECK yaml "$(realpath "$TMP")/rel/container-ca.pem" app < "$TMP/rel.yaml"

# Paths no compose file can hold are refused, nothing printed: a control
# character (C0, C1), bytes that are not UTF-8 (a stray byte, an overlong
# '/', a surrogate).
for bad in $'tab\there' $'c1\xc2\x85' $'bad\xffutf8' $'overlong\xc0\xaf' $'surrogate\xed\xa0\x80'; do
	d="$TMP/$bad"
	GBCA_CAROOT="$d" "$GBCA" init -q
	out=$(GBCA_CAROOT="$d" "$GBCA" compose web 2>"$TMP/err"); rc=$?
	is "/compose/unwritable-path/exit-1 [$(printf %q "$bad")]" "$rc" 1
	is "/compose/unwritable-path/no-stdout [$(printf %q "$bad")]" "$out" ""
	like "/compose/unwritable-path/says-why [$(printf %q "$bad")]" "$(cat "$TMP/err")" "not valid UTF-8|control character"
done

# --- the bundle: every system certificate, the root once, nothing else ---
is "/compose/bundle/content" "$($CHECK bundle "$SYSBUNDLE" "$GBCA_CAROOT/rootCA.pem" "$BUNDLE")" \
	"system=$(grep -c 'BEGIN CERTIFICATE' "$SYSBUNDLE") container=$(($(grep -c 'BEGIN CERTIFICATE' "$SYSBUNDLE") + 1)) root=1 order=yes"
is "/compose/bundle/mode-0644" "$(stat -c %a "$BUNDLE")" 644
fails "/compose/bundle/no-private-key" grep -q "PRIVATE KEY" "$BUNDLE"
ino=$(stat -c %i "$BUNDLE")
"$GBCA" compose web >/dev/null 2>"$TMP/err"
is "/compose/bundle/unchanged-not-rewritten" "$(stat -c %i "$BUNDLE")" "$ino"
like "/compose/bundle/says-kept" "$(cat "$TMP/err")" "kept"

# Through GBCA_SYSROOT, as every system path: a Debian layout whose bundle
# holds two other roots, a private key pasted in by mistake, and our root.
SR="$TMP/sys"
mkdir -p "$SR/usr/local/share/ca-certificates" "$SR/etc/ssl/certs"
for o in o1 o2; do GBCA_CAROOT="$TMP/$o" "$GBCA" init -q; done
cat "$TMP/o1/rootCA.pem" "$TMP/o1/rootCA-key.pem" "$TMP/o2/rootCA.pem" > "$SR/etc/ssl/certs/ca-certificates.crt"
GBCA_SYSROOT="$SR" "$GBCA" compose web >/dev/null 2>&1
is "/compose/sysroot/root-added" "$($CHECK bundle "$SR/etc/ssl/certs/ca-certificates.crt" "$GBCA_CAROOT/rootCA.pem" "$BUNDLE")" \
	"system=2 container=3 root=1 order=yes"
fails "/compose/sysroot/key-left-out" grep -q "PRIVATE KEY" "$BUNDLE"
cat "$GBCA_CAROOT/rootCA.pem" >> "$SR/etc/ssl/certs/ca-certificates.crt"
GBCA_SYSROOT="$SR" "$GBCA" compose web >/dev/null 2>"$TMP/err"
is "/compose/sysroot/root-once" "$($CHECK bundle "$SR/etc/ssl/certs/ca-certificates.crt" "$GBCA_CAROOT/rootCA.pem" "$BUNDLE")" \
	"system=3 container=3 root=1 order=yes"
like "/compose/sysroot/says-root-among-them" "$(cat "$TMP/err")" "root among them"
# No system store: the root alone would break every other site, so no bundle.
out=$(GBCA_SYSROOT="$TMP/empty" "$GBCA" compose web 2>"$TMP/err"); rc=$?
is "/compose/no-system-store/exit-1" "$rc" 1
is "/compose/no-system-store/no-stdout" "$out" ""
like "/compose/no-system-store/says-why" "$(cat "$TMP/err")" "no system trust store"
"$GBCA" compose web >/dev/null 2>&1   # back to the machine's bundle for (b)

# A new root (init --force): the next run puts it in, and the old one out.
R="$TMP/renewed"
GBCA_CAROOT="$R" "$GBCA" init -q && cp "$R/rootCA.pem" "$TMP/old-root.pem"
GBCA_CAROOT="$R" "$GBCA" compose web >/dev/null 2>&1
GBCA_CAROOT="$R" "$GBCA" init -q --force
GBCA_CAROOT="$R" "$GBCA" compose web >/dev/null 2>&1
like "/compose/new-root/in" "$($CHECK bundle "$SYSBUNDLE" "$R/rootCA.pem" "$R/container-ca.pem")" " root=1 order=yes"
like "/compose/new-root/old-out" "$($CHECK bundle "$SYSBUNDLE" "$TMP/old-root.pem" "$R/container-ca.pem")" " root=0 "

# Root (as under sudo) on a user's CAROOT works as that user: the bundle is
# theirs, as the CA is.
mkdir "$TMP/user-ca" && chown 4242:4242 "$TMP/user-ca"
GBCA_CAROOT="$TMP/user-ca" "$GBCA" init -q
GBCA_CAROOT="$TMP/user-ca" "$GBCA" compose web >/dev/null 2>&1
is "/compose/as-owner" "$(stat -c %u:%g "$TMP/user-ca/container-ca.pem" 2>&1)" 4242:4242

# --- (b) end to end: namespaces play the containers ---
# bridge NAME ADDR: a bridge interface here with ADDR/24, as Docker makes docker0.
bridge() { ip link add "$1" type bridge && ip addr add "$2/24" dev "$1" && ip link set "$1" up; }
# container VAR BRIDGE GW ADDR: a network and mount namespace (its pid in VAR)
# on BRIDGE by a veth pair, with ADDR/24 and its default route through GW;
# in it, what Docker would set up for the service app from the override
# alone: a private /etc (a tmpfs copy) whose hosts file is built from
# extra_hosts (host-gateway: docker0's address), the bundle bind-mounted
# read-only at the target. ENVS gets the override's environment.
container() {
	local var=$1 br=$2 gw=$3 addr=$4 pid src dst mode
	unshare -n -m sleep 600 &
	pid=$!
	printf -v "$var" %s "$pid"
	wait_until 50 sh -c "[ \"\$(readlink /proc/$pid/ns/net)\" != \"\$(readlink /proc/self/ns/net)\" ]" || return 1
	ip link add "h-$var" type veth peer name "c-$var" && ip link set "c-$var" netns "$pid" &&
		ip link set "h-$var" master "$br" up || return 1
	nsenter -t "$pid" -n sh -c "ip link set lo up && ip addr add $addr/24 dev c-$var && ip link set c-$var up &&
		ip route add default via $gw" || return 1
	$CHECK container app "$GATEWAY" < "$TMP/app.yaml" > "$TMP/app.txt" || return 1
	{ printf '127.0.0.1\tlocalhost\n'; awk -F'\t' '$1 == "host" { print $2 }' "$TMP/app.txt"; } > "$TMP/hosts-$var"
	IFS=$'\t' read -r _ src dst mode < <(grep '^mount' "$TMP/app.txt")
	[ "$mode" = ro ] || return 1
	ENVS=()
	while IFS=$'\t' read -r _ kv; do ENVS+=("$kv"); done < <(grep '^env' "$TMP/app.txt")
	mkdir "$TMP/etc-$var"
	nsenter -t "$pid" -m env SRC="$src" DST="$dst" T="$TMP" V="$var" sh -c '
		cp -a /etc/. "$T/etc-$V/" && mount -t tmpfs -o mode=755 container-etc /etc && cp -a "$T/etc-$V/." /etc/ &&
		rm -rf "$T/etc-$V" && cp "$T/hosts-$V" /etc/hosts &&
		mkdir -p "$(dirname "$DST")" && : > "$DST" && mount --bind "$SRC" "$DST" && mount -o remount,bind,ro "$DST"'
}
# in_container PID [VAR=VALUE...] CMD...: CMD in that container's namespaces
# with an environment of PATH, HOME and the VARs only.
in_container() {
	local pid=$1; shift
	nsenter -t "$pid" -n -m env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$TMP/chome" "$@"
}
ip link set lo up
GATEWAY=198.18.0.1
bridge docker0 $GATEWAY
# A compose project's own network (Docker's br-<id>) reaches host-gateway,
# docker0's address, routed through the host.
bridge br-0123abcd 198.18.1.1
mkdir -p "$TMP/chome"
container C docker0 $GATEWAY 198.18.0.2
is "/compose/e2e/container-on-docker0" "$?" 0
container C2 br-0123abcd 198.18.1.1 198.18.1.2
is "/compose/e2e/container-on-compose-network" "$?" 0
is "/compose/e2e/hosts-from-override" "$(tail -n1 "$TMP/hosts-C")" "$GATEWAY $NAME"
is "/compose/e2e/mount-from-override" "$(grep '^mount' "$TMP/app.txt")" "mount	$WANT	/etc/gbca/ca.pem	ro"
is "/compose/e2e/env-from-override" "${#ENVS[@]}" 4
ok "/compose/e2e/container-mounts" nsenter -t "$C" -m cmp "$WANT" /etc/gbca/ca.pem
fails "/compose/e2e/bundle-read-only" nsenter -t "$C" -m sh -c 'echo x >> /etc/gbca/ca.pem'
ok "/compose/e2e/host-etc-untouched" test ! -e /etc/gbca/ca.pem
is "/compose/e2e/name-is-gateway" "$(nsenter -t "$C2" -n -m getent hosts "$NAME" | awk '{print $1}')" $GATEWAY

URL="https://$NAME/v1beta/models?key=sk-test-123"
NODE_GET='fetch(process.argv[1]).then(r => { console.log(r.status); process.exit(r.status === 200 ? 0 : 1) },
	e => { console.log((e.cause && e.cause.code) || e.message); process.exit(2) })'
PY_GET='import requests, sys
print(requests.get(sys.argv[1], timeout=10).status_code)'
PYC=$(certifi_python) || { fails "/compose/e2e/certifi-python-found" true; PYC=$PY; }
start_upstream 8000
# serve_bridge TAG OPTION...: the real gbca serve in front of the stand-in,
# until docker0's address answers on 443.
serve_bridge() {
	local tag=$1; shift
	"$GBCA" serve "$@" --upstream http://127.0.0.1:8000 --workers 1 --pid-file off --config /dev/null \
		--access-log "$TMP/access-$tag.log" 2> "$TMP/serve-$tag.err" &
	SERVE=$!
	wait_until 100 port_open $GATEWAY 443 || { echo "# serve $* did not listen"; sed 's/^/# /' "$TMP/serve-$tag.err"; }
}
stop_serve() { kill -TERM "$SERVE" 2>/dev/null; wait "$SERVE" 2>/dev/null; SERVE=; }

# 1. serve on docker0's address as written out (--listen ADDR:443).
serve_bridge listen --listen $GATEWAY:443
# The negative cases first: the same clients without the override's
# settings (the container's own stores lack the root) fail verification.
in_container "$C" curl -sS --max-time 10 -o /dev/null "$URL" 2>/dev/null; rc=$?
is "/compose/e2e/curl-without-settings-fails-verify" "$rc" 60
like "/compose/e2e/node-without-settings-fails-verify" "$(in_container "$C" node -e "$NODE_GET" "$URL" 2>&1)" \
	"CERT|UNABLE_TO_(GET|VERIFY)"
like "/compose/e2e/python-without-settings-fails-verify" "$(in_container "$C" "$PYC" -c "$PY_GET" "$URL" 2>&1)" \
	"CERTIFICATE_VERIFY_FAILED"
# With them: 200 through serve, TLS checks on.
is "/compose/e2e/curl-200" "$(in_container "$C" "${ENVS[@]}" curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$URL" 2>&1)" 200
is "/compose/e2e/node-fetch-200" "$(in_container "$C" "${ENVS[@]}" node -e "$NODE_GET" "$URL" 2>&1)" 200
is "/compose/e2e/python-requests-200" "$(in_container "$C" "${ENVS[@]}" "$PYC" -c "$PY_GET" "$URL" 2>&1 | tail -n1)" 200
like "/compose/e2e/came-from-the-container" "$(cat "$TMP/access-listen.log" 2>/dev/null)" "198\.18\.0\.2"
stop_serve

# 2. What the note and README say: serve --bridge (docker0 found, port 443,
# compose networks allowed), for both containers.
serve_bridge bridge --bridge
for c in C C2; do
	pid=${!c}
	is "/compose/e2e/bridge/$c/curl-200" \
		"$(in_container "$pid" "${ENVS[@]}" curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$URL" 2>&1)" 200
	is "/compose/e2e/bridge/$c/node-fetch-200" "$(in_container "$pid" "${ENVS[@]}" node -e "$NODE_GET" "$URL" 2>&1)" 200
	is "/compose/e2e/bridge/$c/python-requests-200" \
		"$(in_container "$pid" "${ENVS[@]}" "$PYC" -c "$PY_GET" "$URL" 2>&1 | tail -n1)" 200
	in_container "$pid" curl -sS --max-time 10 -o /dev/null "$URL" 2>/dev/null; rc=$?
	is "/compose/e2e/bridge/$c/curl-without-settings-fails-verify" "$rc" 60
done
like "/compose/e2e/bridge/came-from-compose-network" "$(cat "$TMP/access-bridge.log" 2>/dev/null)" "198\.18\.1\.2"
stop_serve
done_testing
