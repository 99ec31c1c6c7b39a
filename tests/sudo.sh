#!/bin/bash
# The real sudo (issue 9): a user who ran 'gbca init' runs 'sudo gbca up'; gbca
# must use that user's CA, never make one in /root, leave the user's files
# theirs, and 'sudo gbca down' must stop it. In private mount and network
# namespaces with a private /etc (a user uid 4242, a sudoers of our own, the
# hosts file), a private /root, copies of the trust store, and the test
# upstream on 127.0.0.1:8000.
. "$srcdir/tests/ns.sh"
in_namespaces -n -m -- "$@"

. "$srcdir/tests/lib.sh"
need sudo setpriv ip update-ca-certificates curl
sandbox_machine
add_test_user   # gbcau ($U, $UH)
printf '127.0.0.1\tlocalhost %s\n::1\tlocalhost\n' "$(hostname)" > /etc/hosts   # sudo looks itself up
mkdir -p "$TMP/root"; chmod 700 "$TMP/root"
mount --bind "$TMP/root" /root
SERVE= UPSTREAM=
trap 'kill $UPSTREAM $SERVE 2>/dev/null; wait 2>/dev/null; umount /root; rm -rf "$TMP"' EXIT

cat > /etc/sudoers <<'EOF'
Defaults env_reset
Defaults env_keep += "ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS"
root ALL=(ALL:ALL) ALL
gbcau ALL=(ALL:ALL) NOPASSWD: ALL
EOF
chmod 440 /etc/sudoers
rm -rf /etc/sudoers.d
# The user's login environment: nothing of root's.
as_user() {
	setpriv --reuid=$U --regid=$U --init-groups env -i PATH=/usr/local/bin:/usr/bin:/bin \
		HOME="$UH" USER=gbcau LOGNAME=gbcau SHELL=/bin/bash \
		${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} ${LSAN_OPTIONS:+LSAN_OPTIONS="$LSAN_OPTIONS"} "$@"
}
CAROOT="$UH/.local/share/gbca"
NAME=generativelanguage.googleapis.com

ok "/sudo/sudo-works" as_user sudo -n true
ok "/sudo/user-init" as_user "$GBCA" init -q
ca_before=$(sha256sum "$CAROOT/rootCA.pem" "$CAROOT/rootCA-key.pem")
echo 'export EDITOR=vi' | as_user tee "$UH/.bashrc" > /dev/null
echo '[ -f ~/.bashrc ] && . ~/.bashrc' | as_user tee "$UH/.profile" > /dev/null   # as Debian's skel

start_upstream 8000

as_user sudo -n "$GBCA" up --no-trust -- --workers 1 --access-log off > "$TMP/up.out" 2>&1 &
SERVE=$!
wait_until 300 port_open 127.0.0.1 443; rc=$?
_tap_result $rc "/sudo/up-serves"
[ $rc = 0 ] || sed 's/^/# /' "$TMP/up.out"
like "/sudo/up-uses-users-ca" "$(cat "$TMP/up.out")" "CA: present in $CAROOT"
ok "/sudo/no-ca-in-root" test -z "$(find /root -name 'rootCA*' -o -name gbca)"
is "/sudo/ca-unchanged" "$(sha256sum "$CAROOT/rootCA.pem" "$CAROOT/rootCA-key.pem")" "$ca_before"
code=$(curl -sS --max-time 10 --cacert "$CAROOT/rootCA.pem" -o /dev/null -w '%{http_code}' -X POST \
	-H 'x-goog-api-key: sk-test' -H 'Content-Type: application/json' -d '{}' \
	"https://$NAME/v1beta/models/gemini-2.5-flash:generateContent")
is "/sudo/leaf-from-users-ca" "$code" 200
is "/sudo/files-stay-the-users" "$(find "$UH" ! -user $U | wc -l)" 0
# the user's trust, as the user, now that the proxy runs: their own CA
ok "/sudo/user-trusts" as_user "$GBCA" trust -q --stores nss,node --shells
out=$(as_user sudo -n "$GBCA" trust --stores system 2>&1)
like "/sudo/system-store-gets-users-ca" "$out" "system: "
ok "/sudo/system-bundle-has-users-ca" sh -c "openssl verify -CAfile /etc/ssl/certs/ca-certificates.crt '$CAROOT/rootCA.pem'"
ok "/sudo/no-ca-in-root-after-trust" test -z "$(find /root -name 'rootCA*' -o -name gbca)"
# sudo -E and an explicit GBCA_CAROOT keep working
ok "/sudo/caroot-as-user" sh -c "[ \"\$(setpriv --reuid=$U --regid=$U --init-groups env -i PATH=/usr/bin:/bin HOME='$UH' sudo -n '$GBCA' caroot)\" = '$CAROOT' ]"
ok "/sudo/explicit-caroot" sh -c "[ \"\$(setpriv --reuid=$U --regid=$U --init-groups env -i PATH=/usr/bin:/bin HOME='$UH' sudo -n env GBCA_CAROOT=/srv/ca '$GBCA' caroot)\" = /srv/ca ]"
ok "/sudo/plain-root-keeps-roots" sh -c "[ \"\$(env -i PATH=/usr/bin:/bin HOME=/root '$GBCA' caroot)\" = /root/.local/share/gbca ]"

out=$(as_user sudo -n "$GBCA" down 2>&1)
like "/sudo/down-stops-it" "$out" "stopped gbca serve"
ok "/sudo/down-port-closed" wait_until 100 sh -c "! (exec 3<>/dev/tcp/127.0.0.1/443) 2>/dev/null"
ok "/sudo/down-files-stay-the-users" test "$(find "$UH" ! -user $U | wc -l)" = 0
# and the user's own doctor, after a sudo up, sees their CA trusted
as_user sudo -n "$GBCA" up -- --workers 1 --access-log off > "$TMP/up2.out" 2>&1 &
SERVE=$!
wait_until 300 port_open 127.0.0.1 443
out=$(as_user "$GBCA" doctor 2>&1); rc=$?
is "/sudo/doctor-as-user-passes" "$rc" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
ok "/sudo/no-ca-in-root-at-the-end" test -z "$(find /root -name 'rootCA*' -o -name gbca)"
as_user sudo -n "$GBCA" down > /dev/null 2>&1

done_testing
