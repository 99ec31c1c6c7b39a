#!/bin/bash
# End-to-end: a team on a LAN (issue 12, part 3). Two network namespaces
# joined by a veth pair (198.18.0.0/15, the range for test networks): the
# gateway, with a CAROOT of its own, runs the real gbca serve on its LAN
# address in front of the test upstream; the teammate (this namespace, with a
# private /etc, trust store and HOME) runs gbca join with the fingerprint
# 'gbca export' printed on the gateway, then curl, node and python reach
# https://generativelanguage.googleapis.com with TLS checks on. Hostile
# cases first: a wrong fingerprint, the gateway's leaf's fingerprint, and a
# root without name constraints are refused with nothing changed, and a third
# namespace outside serve's --allow network is refused at accept. leave must
# give back every file byte for byte.
. "$srcdir/tests/ns.sh"
in_namespaces -n -m -- "$@"

. "$srcdir/tests/lib.sh"
need update-ca-certificates certutil curl node ip nsenter certtool openssl

NAME=generativelanguage.googleapis.com
GW_IP=198.18.0.1
TM_IP=198.18.0.2
GW_CA="$TMP/gateway-ca"
OUT_IP=198.18.3.2
HOLD= HOLD3= SERVE= SERVE2= UPSTREAM=
cleanup() {
	local p
	for p in $SERVE $SERVE2 $UPSTREAM; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.2
	for p in $SERVE $SERVE2 $UPSTREAM $HOLD $HOLD3; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# --- the teammate's machine: this namespace ---
sandbox_machine
export SHELL=/bin/bash
mkdir -p "$HOME/.pki/nssdb"
certutil -N -d "sql:$HOME/.pki/nssdb" --empty-password
printf 'export EDITOR=vi\n' > "$HOME/.bashrc"
printf '# zsh config\n' > "$HOME/.zshrc"

# --- the gateway: a network namespace of its own, joined by a veth pair ---
unshare -n sleep 3600 &
HOLD=$!
wait_until 50 test "$(readlink /proc/$HOLD/ns/net)" != "$(readlink /proc/self/ns/net)"
gw() { nsenter -t "$HOLD" -n "$@"; }
# gw_bg CMD... &: the same in the background, where $! must be CMD itself (the
# function alone would leave $! a subshell, and killing that leaves CMD running).
gw_bg() { exec nsenter -t "$HOLD" -n "$@"; }
ip link add lan0 index 300 type veth peer name lan1 index 301
ip link set lan1 netns "$HOLD"
ip addr add "$TM_IP/24" dev lan0
ip link set lan0 up
gw ip link set lo up
gw ip addr add "$GW_IP/24" dev lan1
gw ip link set lan1 up
# export's guess of the gateway's address follows the default route, not the
# first interface (one made here with a lower index, so listed first)
gw ip route add default via "$TM_IP" dev lan1
gw ip link add side0 index 2 type veth peer name side1 index 3
gw ip addr add 198.18.9.1/24 dev side0
gw ip link set side1 up
gw ip link set side0 up
# a third machine on another network of the gateway's, routed to its LAN address
unshare -n sleep 3600 &
HOLD3=$!
wait_until 50 test "$(readlink /proc/$HOLD3/ns/net)" != "$(readlink /proc/self/ns/net)"
outsider() { nsenter -t "$HOLD3" -n "$@"; }
ip link add out0 index 310 type veth peer name out1 index 311
ip link set out0 netns "$HOLD"
ip link set out1 netns "$HOLD3"
gw ip addr add 198.18.3.1/24 dev out0
gw ip link set out0 up
outsider ip link set lo up
outsider ip addr add "$OUT_IP/24" dev out1
outsider ip link set out1 up
outsider ip route add 198.18.0.0/24 via 198.18.3.1

gw_bg /usr/bin/python3 "$srcdir/tests/upstream.py" --port 8000 --record "$TMP/record.jsonl" > "$TMP/upstream.out" 2>&1 &
UPSTREAM=$!
wait_until 50 grep -q ready "$TMP/upstream.out" || echo "# the test upstream did not start"
GBCA_CAROOT="$GW_CA" "$GBCA" init -q
gw_bg env GBCA_CAROOT="$GW_CA" "$GBCA" serve --listen "0.0.0.0:443" --allow 198.18.0.0/24 --upstream http://127.0.0.1:8000 \
	--workers 1 --user root --pid-file off --access-log off > "$TMP/serve.out" 2>&1 &
SERVE=$!
wait_until 100 port_open "$GW_IP" 443 || { echo "# serve did not start:"; sed 's/^/# /' "$TMP/serve.out"; }
ok "/lan/net/serve-reachable-over-the-veth" port_open "$GW_IP" 443

# --- gbca export on the gateway ---
export_json=$(gw env GBCA_CAROOT="$GW_CA" "$GBCA" export --json)
FP=$(printf '%s' "$export_json" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["fingerprint"])')
want_fp="SHA256:$(openssl x509 -in "$GW_CA/rootCA.pem" -outform der | sha256sum | cut -c1-64)"
is "/lan/export/fingerprint" "$FP" "$want_fp"
# the join command names the gateway's LAN address (found by itself) and the fingerprint
like "/lan/export/join-command" "$(gw env GBCA_CAROOT="$GW_CA" "$GBCA" export)" "# +sudo gbca join $GW_IP --fingerprint $FP"
like "/lan/export/constraints-shown" "$(gw env GBCA_CAROOT="$GW_CA" "$GBCA" export)" "# signs only for: DNS $NAME"
GBCA_CAROOT="$GW_CA" "$GBCA" export > "$TMP/exported.pem"
is "/lan/export/is-the-root-pem" "$(openssl x509 -in "$TMP/exported.pem" -outform der | sha256sum)" \
	"$(openssl x509 -in "$GW_CA/rootCA.pem" -outform der | sha256sum)"
ok "/lan/export/gnutls-reads-it" certtool -i --infile "$TMP/exported.pem"
ok "/lan/export/no-key" sh -c "! grep -q PRIVATE '$TMP/exported.pem' && ! printf '%s' '$export_json' | grep -q PRIVATE"
like "/lan/export/host-option" "$(GBCA_CAROOT="$GW_CA" "$GBCA" export --host=gw.test:8443)" "gbca join gw.test:8443 --fingerprint"
# serve sends the root after the leaf (what join takes it from)
chain=$(openssl s_client -connect "$GW_IP:443" -servername "$NAME" -showcerts < /dev/null 2>/dev/null)
is "/lan/serve/sends-two-certificates" "$(printf '%s\n' "$chain" | grep -c 'BEGIN CERTIFICATE')" 2

# --- the teammate, before ---
seed_curl() {
	curl -sS --max-time 10 -o "$TMP/body" -w '%{http_code}' -X POST \
		"https://$NAME/v1beta/models/gemini-2.5-flash:generateContent" \
		-H "x-goog-api-key: sk-test-123" -H 'Content-Type: application/json' \
		-d '{"contents":[{"parts":[{"text":"Hi"}]}]}' 2>/dev/null
}
node_fetch() {
	bash -ic "node -e \"fetch('https://$NAME/v1beta/models/gemini-2.5-flash:generateContent',{method:'POST',headers:{'x-goog-api-key':'sk-test-123','content-type':'application/json'},body:'{}'}).then(r=>process.exit(r.status===200?0:1),e=>{console.error(e.cause||e);process.exit(1)})\"" 2>/dev/null
}
python_requests() {
	/usr/bin/python3 -c "import requests,sys; r=requests.post('https://$NAME/v1beta/models/gemini-2.5-flash:generateContent', headers={'x-goog-api-key':'sk-test-123'}, json={}, timeout=10); sys.exit(r.status_code != 200)" 2>/dev/null
}
java_list() { keytool -list -keystore /etc/ssl/certs/java/cacerts -storepass changeit 2>/dev/null | grep -v '^Keystore type\|^Your keystore contains' | sort; }
snapshot() {
	sha256sum /etc/hosts /etc/ssl/certs/ca-certificates.crt
	ls -A /etc /etc/ssl/certs /usr/local/share/ca-certificates
	[ -f /etc/ssl/certs/java/cacerts ] && command -v keytool >/dev/null && java_list
	certutil -L -d "sql:$HOME/.pki/nssdb"
	for f in .bashrc .zshrc .config/fish/conf.d/gbca.fish; do
		[ -e "$HOME/$f" ] && sha256sum "$HOME/$f" || echo "no $f"
	done
	(cd "$HOME" && find . | sort)
}
snapshot > "$TMP/before"
fails "/lan/before/curl-fails" test "$(seed_curl)" = 200

# --- hostile cases first: each refused, with nothing changed ---
bad_fp="SHA256:$(printf '%s' "${FP#SHA256:}" | tr '0-9a-f' '1-9a-f0')"
out=$("$GBCA" join "$GW_IP" --fingerprint "$bad_fp" 2>&1); rc=$?
is "/lan/wrong-fingerprint/exit-1" "$rc" 1
like "/lan/wrong-fingerprint/says-why" "$out" "no certificate the gateway sent has the fingerprint $bad_fp"
like "/lan/wrong-fingerprint/shows-what-it-saw" "$out" "it sent: SHA256:[0-9a-f]{64} \(its leaf, .*$FP"
ok "/lan/wrong-fingerprint/nothing-changed" diff "$TMP/before" <(snapshot)
# the leaf's own fingerprint: not a CA
leaf_fp="SHA256:$(printf '%s\n' "$chain" | openssl x509 -outform der | sha256sum | cut -c1-64)"
out=$("$GBCA" join "$GW_IP:443" --fingerprint="$leaf_fp" 2>&1); rc=$?
is "/lan/leaf-fingerprint/exit-1" "$rc" 1
like "/lan/leaf-fingerprint/not-a-ca" "$out" "is not a CA certificate"
ok "/lan/leaf-fingerprint/nothing-changed" diff "$TMP/before" <(snapshot)
# a root without name constraints (certtool's), sent in serve's chain from --cert
cat > "$TMP/free-ca.tmpl" <<EOF
cn = "unconstrained test root"
ca
cert_signing_key
expiration_days = 30
EOF
cat > "$TMP/free-leaf.tmpl" <<EOF
cn = "$NAME"
dns_name = "$NAME"
tls_www_server
signing_key
expiration_days = 30
EOF
certtool -p --key-type ecdsa --outfile "$TMP/free-ca.key" 2>/dev/null
certtool -s --load-privkey "$TMP/free-ca.key" --template "$TMP/free-ca.tmpl" --outfile "$TMP/free-ca.pem" 2>/dev/null
certtool -p --key-type ecdsa --outfile "$TMP/free-leaf.key" 2>/dev/null
certtool -c --load-privkey "$TMP/free-leaf.key" --load-ca-certificate "$TMP/free-ca.pem" \
	--load-ca-privkey "$TMP/free-ca.key" --template "$TMP/free-leaf.tmpl" --outfile "$TMP/free-leaf.pem" 2>/dev/null
cat "$TMP/free-leaf.pem" "$TMP/free-ca.pem" > "$TMP/free-chain.pem"
gw_bg env GBCA_CAROOT="$GW_CA" "$GBCA" serve --listen "$GW_IP:8443" --upstream http://127.0.0.1:8000 \
	--cert "$TMP/free-chain.pem" --key "$TMP/free-leaf.key" \
	--workers 1 --user root --pid-file off --access-log off > "$TMP/serve2.out" 2>&1 &
SERVE2=$!
wait_until 100 port_open "$GW_IP" 8443 || { echo "# serve --cert did not start:"; sed 's/^/# /' "$TMP/serve2.out"; }
free_fp="SHA256:$(openssl x509 -in "$TMP/free-ca.pem" -outform der | sha256sum | cut -c1-64)"
out=$("$GBCA" join "$GW_IP:8443" --fingerprint "$free_fp" 2>&1); rc=$?
is "/lan/unconstrained-root/exit-1" "$rc" 1
like "/lan/unconstrained-root/says-why" "$out" "has no name constraints"
ok "/lan/unconstrained-root/nothing-changed" diff "$TMP/before" <(snapshot)
kill -TERM "$SERVE2" 2>/dev/null; wait "$SERVE2" 2>/dev/null; SERVE2=
# the right root, but the gateway's certificate is for another name
GBCA_CAROOT="$GW_CA" "$GBCA" issue -q --cert-file "$TMP/lh.pem" --key-file "$TMP/lh-key.pem" localhost
cat "$TMP/lh.pem" "$GW_CA/rootCA.pem" > "$TMP/lh-chain.pem"
gw_bg env GBCA_CAROOT="$GW_CA" "$GBCA" serve --listen "$GW_IP:8444" --upstream http://127.0.0.1:8000 \
	--cert "$TMP/lh-chain.pem" --key "$TMP/lh-key.pem" \
	--workers 1 --user root --pid-file off --access-log off > "$TMP/serve2.out" 2>&1 &
SERVE2=$!
wait_until 100 port_open "$GW_IP" 8444 || { echo "# serve --cert did not start:"; sed 's/^/# /' "$TMP/serve2.out"; }
out=$("$GBCA" join "$GW_IP:8444" --fingerprint "$FP" 2>&1); rc=$?
is "/lan/leaf-for-another-name/exit-1" "$rc" 1
like "/lan/leaf-for-another-name/says-why" "$out" "certificate for $NAME does not verify against that root"
ok "/lan/leaf-for-another-name/nothing-changed" diff "$TMP/before" <(snapshot)
kill -TERM "$SERVE2" 2>/dev/null; wait "$SERVE2" 2>/dev/null; SERVE2=
# a machine outside the gateway's --allow network: refused at accept (serve
# listens on every address, so without --allow its on-link network would be let in)
ok "/lan/outsider/reaches-the-gateway" outsider bash -c "exec 3<>/dev/tcp/$GW_IP/443"
out=$(outsider "$GBCA" join "$GW_IP" --fingerprint "$FP" 2>&1); rc=$?
is "/lan/outsider/exit-1" "$rc" 1
like "/lan/outsider/says-why" "$out" "198.18.0.1.*--allow"
like "/lan/outsider/gateway-logged-it" "$(cat "$TMP/serve.out")" "refused .*$OUT_IP"
ok "/lan/outsider/nothing-changed" diff "$TMP/before" <(snapshot)
# a note from an earlier join that can't be read: said, nothing done
mkdir -p "$HOME/.local/share/gbca/joined"
printf 'garbage\n' > "$HOME/.local/share/gbca/joined/gateway"
out=$("$GBCA" join "$GW_IP" --fingerprint "$FP" 2>&1); rc=$?
is "/lan/damaged-note/join-exit-1" "$rc" 1
like "/lan/damaged-note/join-says-so" "$out" "joined/gateway is damaged"
out=$("$GBCA" leave 2>&1); rc=$?
is "/lan/damaged-note/leave-exit-1" "$rc" 1
like "/lan/damaged-note/leave-says-so" "$out" "joined/gateway is damaged"
is "/lan/damaged-note/untouched" "$(cat "$HOME/.local/share/gbca/joined/gateway")" garbage
rm -rf "$HOME/.local"
# usage errors change nothing either
out=$("$GBCA" join "$GW_IP" 2>&1); rc=$?
is "/lan/no-fingerprint/exit-2" "$rc" 2
like "/lan/no-fingerprint/says-so" "$out" "--fingerprint is required"
out=$("$GBCA" join "$GW_IP" --fingerprint SHA256:abcd 2>&1); rc=$?
is "/lan/short-fingerprint/exit-2" "$rc" 2
out=$(setpriv --reuid 65534 --regid 65534 --clear-groups env HOME="$TMP" "$GBCA" join "$GW_IP" --fingerprint "$FP" 2>&1); rc=$?
is "/lan/non-root/exit-1" "$rc" 1
like "/lan/non-root/says-sudo" "$out" "needs root"
ok "/lan/refusals/nothing-changed" diff "$TMP/before" <(snapshot)

# --- join with the right fingerprint ---
out=$("$GBCA" join "$GW_IP" --fingerprint "$FP" 2>&1); rc=$?
is "/lan/join/exit-0" "$rc" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
like "/lan/join/shows-constraints" "$out" "signs only for: DNS $NAME"
like "/lan/join/hosts-entry" "$(cat /etc/hosts)" "$GW_IP $NAME # gbca join"
is "/lan/join/curl" "$(seed_curl)" 200
like "/lan/join/curl-body" "$(cat "$TMP/body" 2>/dev/null)" "hello from upstream"
ok "/lan/join/node-fetch" node_fetch
ok "/lan/join/python-requests" python_requests
if PY=$(certifi_python); then
	ok "/lan/join/certifi-python-requests" py_get "$PY" requests "https://$NAME/echo"
	ok "/lan/join/certifi-python-urllib" py_get "$PY" urllib "https://$NAME/echo"
else
	[ "${CI:-}" = true ] && fails "/lan/join/certifi-python" true
fi
like "/lan/join/nss" "$(certutil -L -d "sql:$HOME/.pki/nssdb")" "gbca-"
label="gbca-$(printf '%s' "${FP#SHA256:}" | cut -c1-16)"
ok "/lan/join/system-anchor" test -f "/usr/local/share/ca-certificates/$label.crt"
if [ -f /etc/ssl/certs/java/cacerts ] && command -v keytool >/dev/null; then
	like "/lan/join/java" "$(java_list)" "debian:$label"
elif [ "${CI:-}" = true ]; then
	fails "/lan/join/java-keystore-missing-in-CI" true
fi
ok "/lan/join/root-saved-without-key" test -f "$HOME/.local/share/gbca/joined/rootCA.pem" -a \
	! -e "$HOME/.local/share/gbca/joined/rootCA-key.pem"
# the same gateway again, the fingerprint as hex with colons in capitals: nothing new
colons=$(printf '%s' "${FP#SHA256:}" | tr 'a-f' 'A-F' | sed 's/../&:/g; s/:$//')
mid=$(snapshot)
out=$("$GBCA" join "$GW_IP:443" --fingerprint="$colons" 2>&1); rc=$?
is "/lan/join-again/exit-0" "$rc" 0
ok "/lan/join-again/nothing-changed" diff <(printf '%s\n' "$mid") <(snapshot)
out=$("$GBCA" leave 198.18.0.9 2>&1); rc=$?
is "/lan/leave-other-host/exit-1" "$rc" 1
ok "/lan/leave-other-host/nothing-changed" diff <(printf '%s\n' "$mid") <(snapshot)

# --- leave: byte for byte what it was ---
out=$("$GBCA" leave "$GW_IP" 2>&1); rc=$?
is "/lan/leave/exit-0" "$rc" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
ok "/lan/leave/byte-identical" diff "$TMP/before" <(snapshot)
fails "/lan/leave/curl-fails" test "$(seed_curl)" = 200
out=$("$GBCA" leave 2>&1); rc=$?
is "/lan/leave-again/exit-0" "$rc" 0
like "/lan/leave-again/says-so" "$out" "not joined"

# --- this machine's own root set for node: join won't take over its block ---
"$GBCA" init -q && "$GBCA" trust -q --shells --stores node
own=$(snapshot)
out=$("$GBCA" join "$GW_IP" --fingerprint "$FP" 2>&1); rc=$?
is "/lan/own-root-in-shells/exit-1" "$rc" 1
like "/lan/own-root-in-shells/says-why" "$out" "own gbca root is set for node or python"
ok "/lan/own-root-in-shells/nothing-changed" diff <(printf '%s\n' "$own") <(snapshot)
"$GBCA" untrust -q --stores node && rm -rf "$HOME/.local"
ok "/lan/own-root-in-shells/cleaned-up" diff "$TMP/before" <(snapshot)

# --- the reverse: joined first, then this machine's own root: trust --shells,
# untrust and up must not take over (or remove) join's node and python blocks,
# or leave could not give the rc files back ---
"$GBCA" init -q
out=$("$GBCA" join "$GW_IP" --fingerprint "$FP" -q 2>&1); rc=$?
is "/lan/joined-then-own/join-exit-0" "$rc" 0
joined=$(snapshot)
for form in "trust --shells" "trust --stores=node" "trust --stores python" "untrust --stores node" "untrust"; do
	out=$("$GBCA" $form 2>&1); rc=$?
	is "/lan/joined-then-own/$form/exit-1" "$rc" 1
	like "/lan/joined-then-own/$form/says-leave" "$out" "gbca leave"
	ok "/lan/joined-then-own/$form/nothing-changed" diff <(printf '%s\n' "$joined") <(snapshot)
done
out=$("$GBCA" trust --stores nss 2>&1); rc=$?
is "/lan/joined-then-own/other-stores-still-work" "$rc" 0
"$GBCA" untrust -q --stores nss
out=$("$GBCA" leave -q 2>&1); rc=$?
is "/lan/joined-then-own/leave-exit-0" "$rc" 0
rm -rf "$HOME/.local"
ok "/lan/joined-then-own/leave-byte-identical" diff "$TMP/before" <(snapshot)

# --- the other options: fewer stores, the hosts file left alone, quiet ---
out=$("$GBCA" join "$GW_IP" --fingerprint "$FP" --stores=nss,node --no-hosts -q 2>&1); rc=$?
is "/lan/stores-no-hosts/exit-0" "$rc" 0
is "/lan/stores-no-hosts/quiet" "$out" ""
is "/lan/stores-no-hosts/hosts-untouched" "$(sha256sum < /etc/hosts)" "$(head -1 "$TMP/before" | cut -d' ' -f1)  -"
like "/lan/stores-no-hosts/nss" "$(certutil -L -d "sql:$HOME/.pki/nssdb")" "gbca-"
like "/lan/stores-no-hosts/node" "$(cat "$HOME/.bashrc")" "NODE_EXTRA_CA_CERTS="
fails "/lan/stores-no-hosts/no-python" grep -q SSL_CERT_FILE "$HOME/.bashrc"
is "/lan/stores-no-hosts/system-untouched" "$(sha256sum < /etc/ssl/certs/ca-certificates.crt)" \
	"$(sed -n 2p "$TMP/before" | cut -d' ' -f1)  -"
out=$("$GBCA" leave -q 2>&1); rc=$?
is "/lan/stores-no-hosts/leave-exit-0" "$rc" 0
is "/lan/stores-no-hosts/leave-quiet" "$out" ""
ok "/lan/stores-no-hosts/leave-byte-identical" diff "$TMP/before" <(snapshot)
like "/lan/export/host-option-spaced" "$(GBCA_CAROOT="$GW_CA" "$GBCA" export --host gw.test)" "gbca join gw.test --fingerprint $FP"
out=$("$GBCA" join "$GW_IP" --fingerprint "$FP" --stores bogus 2>&1); rc=$?
is "/lan/bad-store/exit-2" "$rc" 2
ok "/lan/bad-store/nothing-changed" diff "$TMP/before" <(snapshot)

# --- a user runs sudo gbca join (as sudo.sh does): their files stay theirs ---
add_test_user   # gbcau ($U, $UH)
printf '%s\t%s\n' 127.0.1.1 "$(hostname)" >> /etc/hosts   # sudo looks itself up
mkdir -p "$TMP/root"; chmod 700 "$TMP/root"
mount --bind "$TMP/root" /root
printf '%s\n' 'Defaults env_reset' 'Defaults env_keep += "ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS"' \
	'root ALL=(ALL:ALL) ALL' 'gbcau ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers
chmod 440 /etc/sudoers
rm -rf /etc/sudoers.d   # the private /etc's (private_etc), never the machine's
as_user() {
	setpriv --reuid=$U --regid=$U --init-groups env -i PATH=/usr/local/bin:/usr/bin:/bin \
		HOME="$UH" USER=gbcau LOGNAME=gbcau SHELL=/bin/bash \
		${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} ${LSAN_OPTIONS:+LSAN_OPTIONS="$LSAN_OPTIONS"} "$@"
}
printf 'export EDITOR=vi\n' | as_user tee "$UH/.bashrc" > /dev/null
user_snapshot() {
	sha256sum /etc/hosts /etc/ssl/certs/ca-certificates.crt "$UH/.bashrc"
	ls -A /etc /etc/ssl/certs /usr/local/share/ca-certificates
	(cd "$UH" && find . -printf '%p %u\n' | sort)
}
user_snapshot > "$TMP/user-before"
out=$(as_user sudo -n "$GBCA" join "$GW_IP" --fingerprint "$FP" 2>&1); rc=$?
is "/lan/sudo/join-exit-0" "$rc" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
UCA="$UH/.local/share/gbca"
is "/lan/sudo/joined-root-is-the-users" "$(stat -c %U "$UCA/joined/rootCA.pem" "$UCA/joined/gateway" "$UCA" 2>&1 | sort -u)" gbcau
is "/lan/sudo/rc-file-is-the-users" "$(stat -c %U "$UH/.bashrc")" gbcau
like "/lan/sudo/rc-names-the-joined-root" "$(cat "$UH/.bashrc")" "NODE_EXTRA_CA_CERTS='$UCA/joined/node-ca.pem'"
ok "/lan/sudo/nothing-in-roots-home" test -z "$(ls -A "$TMP/root")"
is "/lan/sudo/curl" "$(as_user curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -X POST \
	"https://$NAME/v1beta/models/gemini-2.5-flash:generateContent" -H "x-goog-api-key: sk-test-123" -d '{}')" 200
out=$(as_user sudo -n "$GBCA" leave 2>&1); rc=$?
is "/lan/sudo/leave-exit-0" "$rc" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
ok "/lan/sudo/leave-byte-identical" diff "$TMP/user-before" <(user_snapshot)

done_testing
