#!/bin/bash
# End-to-end: `gbca trust --stores system` and `gbca untrust` with the real
# update-ca-certificates, curl, python3 requests, gnutls-cli and keytool, in a
# private mount namespace where /etc/ssl/certs, /usr/local/share/ca-certificates,
# /etc/ca-certificates.conf and /etc/hosts are copies. The machine is untouched.

# Re-run inside a private mount namespace before anything else.
. "$srcdir/tests/ns.sh"
in_namespaces -m -- "$@"

. "$srcdir/tests/lib.sh"
need update-ca-certificates curl gnutls-serv gnutls-cli keytool setpriv
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import requests' 2>/dev/null || need python3-requests

mount --make-rprivate /
private_etc   # a tmpfs copy of /etc: nothing gbca writes beside /etc/hosts reaches the machine
sandbox_trust_store
printf '127.0.0.1 localhost\n127.0.0.1 generativelanguage.googleapis.com\n' > "$TMP/hosts"
mount --bind "$TMP/hosts" /etc/hosts

export GBCA_CAROOT="$TMP/ca"
NAME=generativelanguage.googleapis.com
"$GBCA" init -q
"$GBCA" issue -q --out-dir "$TMP"

PORT=$(( 20000 + $$ % 20000 ))
gnutls-serv --http --x509certfile "$TMP/$NAME.pem" --x509keyfile "$TMP/$NAME-key.pem" -p "$PORT" >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

URL="https://$NAME:$PORT/"
curl_ok() { curl -sS -o /dev/null --max-time 5 "$URL"; }
python_ok() { /usr/bin/python3 -c 'import requests, sys; requests.get(sys.argv[1], timeout=5)' "$URL"; }
gnutls_ok() { gnutls-cli --port "$PORT" "$NAME" < /dev/null; }
java_list() { keytool -list -keystore /etc/ssl/certs/java/cacerts -storepass changeit 2>/dev/null | grep -v '^Keystore type\|^Your keystore contains' | sort; }
snapshot() {
	sha256sum /etc/ssl/certs/ca-certificates.crt
	ls -A /etc/ssl/certs | sort
	ls -A /usr/local/share/ca-certificates | sort
	[ -f /etc/ssl/certs/java/cacerts ] && java_list
}

# Bring the private copy to the state the hooks keep it in: this image's Java
# keystore lags behind its bundle, and any update-ca-certificates run (ours
# included) would resync it, which is not gbca's doing.
update-ca-certificates >/dev/null 2>&1
snapshot > "$TMP/before"
fails "/trust/system/curl-rejects-before" curl_ok
fails "/trust/system/python-rejects-before" python_ok
fails "/trust/system/gnutls-rejects-before" gnutls_ok
out=$("$GBCA" trust --check --stores system); rc=$?
is "/trust/system/check-before-exit-1" "$rc" 1
like "/trust/system/check-before-state" "$out" "system +not installed"

out=$("$GBCA" trust --stores system 2>&1); rc=$?
is "/trust/system/trust-exit-0" "$rc" 0
like "/trust/system/trust-report" "$out" "system: added .*/usr/local/share/ca-certificates/gbca-[0-9a-f]{16}\.crt"
ok "/trust/system/curl-accepts" curl_ok
ok "/trust/system/python-accepts" python_ok
ok "/trust/system/gnutls-accepts" gnutls_ok
out=$("$GBCA" trust --check --stores system); rc=$?
is "/trust/system/check-exit-0" "$rc" 0
like "/trust/system/check-installed" "$out" "system +installed"
ok "/trust/system/check-json" sh -c "'$GBCA' trust --check --json --stores system | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); assert r[0][\"store\"]==\"system\" and r[0][\"state\"]==\"installed\"'"
if [ -f /etc/ssl/certs/java/cacerts ]; then
	like "/trust/system/java-hook-added" "$(java_list)" "debian:gbca-"
fi

mid=$(sha256sum /etc/ssl/certs/ca-certificates.crt)
out=$("$GBCA" trust --stores system 2>&1)
like "/trust/system/trust-twice-noop" "$out" "already trusted"
is "/trust/system/trust-twice-bundle-same" "$(sha256sum /etc/ssl/certs/ca-certificates.crt)" "$mid"

out=$("$GBCA" untrust --stores system 2>&1); rc=$?
is "/trust/system/untrust-exit-0" "$rc" 0
like "/trust/system/untrust-report" "$out" "removed 1 anchor and their links and ran update-ca-certificates, removed debian:gbca-"
fails "/trust/system/curl-rejects-after" curl_ok
fails "/trust/system/python-rejects-after" python_ok
fails "/trust/system/gnutls-rejects-after" gnutls_ok
snapshot > "$TMP/after"
ok "/trust/system/untrust-restores-everything" diff "$TMP/before" "$TMP/after"
is "/trust/system/no-dangling-links" "$(find /etc/ssl/certs -xtype l | wc -l)" 0
out=$("$GBCA" untrust --stores system 2>&1)
like "/trust/system/untrust-twice-noop" "$out" "nothing to remove"

# A stale root: trust root A, make root B current; check says stale; --all cleans A.
"$GBCA" trust -q --stores system
cp -a "$GBCA_CAROOT" "$TMP/ca-a"
"$GBCA" init -q --force
out=$("$GBCA" trust --check --stores system)
like "/trust/system/stale-detected" "$out" "system +stale"
"$GBCA" untrust -q --stores system
like "/trust/system/untrust-keeps-other-gbca-roots" "$(ls /usr/local/share/ca-certificates)" "gbca-"
"$GBCA" untrust -q --all --stores system
snapshot > "$TMP/after"
ok "/trust/system/untrust-all-removes-old" diff "$TMP/before" "$TMP/after"

# A failing update tool: clear message, no anchor left behind.
mount --bind /bin/false /usr/sbin/update-ca-certificates
out=$("$GBCA" trust --stores system 2>&1); rc=$?
is "/trust/system/update-fails-exit-1" "$rc" 1
like "/trust/system/update-fails-message" "$out" "update-ca-certificates failed"
is "/trust/system/update-fails-no-anchor" "$(ls -A /usr/local/share/ca-certificates | grep -c gbca-)" 0
umount /usr/sbin/update-ca-certificates

# A missing update tool: named, with the package to install; nothing left.
mkdir -p "$TMP/nosbin"
mount --bind "$TMP/nosbin" /usr/sbin
out=$(PATH=/usr/local/bin:/usr/bin:/bin "$GBCA" trust --stores system 2>&1); rc=$?
umount /usr/sbin
is "/trust/system/update-missing-exit-1" "$rc" 1
like "/trust/system/update-missing-message" "$out" "update-ca-certificates not found; install the ca-certificates package"
is "/trust/system/update-missing-no-anchor" "$(ls -A /usr/local/share/ca-certificates | grep -c gbca-)" 0

# Not root: the system store is skipped with the exact sudo command.
cp -a "$GBCA_CAROOT" "$TMP/ca-user"; chown -R nobody "$TMP/ca-user"; chmod 755 "$TMP"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$TMP" GBCA_CAROOT="$TMP/ca-user" "$GBCA" trust --stores system 2>&1); rc=$?
is "/trust/system/non-root-exit-0" "$rc" 0
like "/trust/system/non-root-sudo-hint" "$out" "skipped system \(needs root\); run: sudo GBCA_CAROOT='$TMP/ca-user' .*gbca trust --stores system"
snapshot > "$TMP/after"
ok "/trust/system/non-root-nothing-changed" diff "$TMP/before" "$TMP/after"

# Bad input
out=$("$GBCA" trust --stores bogus 2>&1); rc=$?
is "/trust/system/unknown-store-exit-2" "$rc" 2
like "/trust/system/unknown-store-message" "$out" 'unknown store "bogus"'
out=$(GBCA_CAROOT="$TMP/none" "$GBCA" trust --stores system 2>&1); rc=$?
is "/trust/system/no-ca-exit-1" "$rc" 1
like "/trust/system/no-ca-message" "$out" "gbca init"

done_testing
