#!/bin/bash
# End-to-end: the system store on a system with a writable p11-kit trust token
# (Arch's /etc/ca-certificates/trust-source), re-rooted under GBCA_SYSROOT.
# gbca stores the anchor with C_CreateObject through p11-kit, plus a stapled
# extKeyUsage limiting it to TLS servers. Checked independently: p11-kit's own
# `trust` tool lists the anchor, and OpenSSL, given `trust extract`'s bundle,
# accepts a gbca leaf for server auth and rejects it for S/MIME and client auth.
. "$srcdir/tests/lib.sh"
need trust openssl setpriv
mod=$(ls /usr/lib/*/pkcs11/p11-kit-trust.so /usr/lib/pkcs11/p11-kit-trust.so 2>/dev/null | head -n1)
[ -n "$mod" ] || need p11-kit-trust.so

export GBCA_CAROOT="$TMP/ca" GBCA_SYSROOT="$TMP/root"
TOKEN="$GBCA_SYSROOT/etc/ca-certificates/trust-source"
mkdir -p "$TOKEN" "$TMP/bin" "$TMP/out"
chmod 755 "$TMP"; chmod 777 "$TMP/out"
# Arch's update-ca-trust refreshes the bundles; here it only records that it ran.
printf '#!/bin/sh\necho ran >> "%s/update.log"\n' "$TMP" > "$TMP/bin/update-ca-trust"
chmod +x "$TMP/bin/update-ca-trust"
export PATH="$TMP/bin:$PATH"
"$GBCA" init -q
"$GBCA" issue -q --out-dir "$TMP" localhost

# p11-kit's tools, as a user (p11-kit ignores user module configs for root),
# with one more trust module over our token. A copy of the module file, since
# p11-kit loads one file only once.
cp "$mod" "$TMP/trust-copy.so"
mkdir -p "$TMP/user/.config/pkcs11/modules"
printf 'module: %s\ntrust-policy: yes\nx-init-reserved: paths=%s\n' "$TMP/trust-copy.so" "$TOKEN" \
	> "$TMP/user/.config/pkcs11/modules/gbca-test.module"
chmod -R a+rX "$TMP/user" "$TMP/root" "$TMP/trust-copy.so"
as_user() { setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$TMP/user" "$@"; }
listed() { as_user trust list --filter=ca-anchors | grep -q "label: gbca-"; }
extract() { as_user trust extract --format=openssl-bundle --filter=ca-anchors --overwrite "$TMP/out/bundle.pem"; }
verify() { openssl verify -CAfile "$TMP/out/bundle.pem" -purpose "$1" "$TMP/localhost.pem"; }

fails "/trust/p11kit/not-listed-before" listed
out=$("$GBCA" trust --stores system 2>&1); rc=$?
is "/trust/p11kit/trust-exit-0" "$rc" 0
like "/trust/p11kit/trust-report" "$out" "stored as a server-auth anchor in the p11-kit trust token .* and ran update-ca-trust"
is "/trust/p11kit/update-ran" "$(cat "$TMP/update.log" 2>/dev/null)" "ran"
is "/trust/p11kit/two-objects-written" "$(ls "$TOKEN" | grep -c '^gbca-.*\.p11-kit$')" 2
like "/trust/p11kit/stapled-eku" "$(cat "$TOKEN"/*.p11-kit)" "object-id: 2\.5\.29\.37"
ok "/trust/p11kit/listed-by-trust-tool" listed
ok "/trust/p11kit/extract" extract
ok "/trust/p11kit/openssl-server-auth" verify sslserver
fails "/trust/p11kit/openssl-smime-rejected" verify smimesign
fails "/trust/p11kit/openssl-client-rejected" verify sslclient
out=$("$GBCA" trust --check --stores system); rc=$?
is "/trust/p11kit/check-exit-0" "$rc" 0
like "/trust/p11kit/check-installed" "$out" "system +installed +p11-kit trust token"
out=$("$GBCA" trust --stores system 2>&1)
like "/trust/p11kit/trust-twice-noop" "$out" "already an anchor"
is "/trust/p11kit/still-two-objects" "$(ls "$TOKEN" | grep -c '\.p11-kit$')" 2

out=$("$GBCA" untrust --stores system 2>&1); rc=$?
is "/trust/p11kit/untrust-exit-0" "$rc" 0
like "/trust/p11kit/untrust-report" "$out" "removed 1 anchor from the p11-kit trust token"
is "/trust/p11kit/token-empty-again" "$(ls -A "$TOKEN")" ""
fails "/trust/p11kit/not-listed-after" listed
out=$("$GBCA" trust --check --stores system); rc=$?
is "/trust/p11kit/check-after-exit-1" "$rc" 1

done_testing
