#!/bin/bash
# Root must never act on a path a user controls (issue 9, docs/security.md).
# In private mount and network namespaces: a real non-root user (uid 4242,
# added to a private /etc) owns a CAROOT and a
# HOME, and plants each attack; then root runs the command as documented.
# A decoy tree of root-owned files (content, owner, mode) must come out
# byte-identical, and gbca must refuse with one clear line or do the right
# thing as the user.
. "$srcdir/tests/ns.sh"
in_namespaces -n -m -- "$@"

. "$srcdir/tests/lib.sh"
need setpriv ip update-ca-certificates curl certutil
sandbox_machine
add_test_user   # gbcau ($U, $UH), in this namespace only
as_user() { setpriv --reuid=$U --regid=$U --init-groups env HOME="$UH" "$@"; }
CAROOT="$UH/.local/share/gbca"
as_user "$GBCA" init -q > /dev/null 2>&1 || echo "# init as the user failed"

# --- the decoys: root's files an attack would like to change ---
D="$TMP/decoy"
mkdir -p "$D/etc"
printf 'root:$6$secret:19000:0:99999:7:::\n' > "$D/shadow"; chmod 640 "$D/shadow"
printf 'root ALL=(ALL) ALL\n' > "$D/etc/sudoers"; chmod 440 "$D/etc/sudoers"
printf 'export PATH=/usr/bin\n' > "$D/profile"; chmod 644 "$D/profile"
printf -- '-----BEGIN CERTIFICATE-----\nroot\n-----END CERTIFICATE-----\n' > "$D/cert.pem"
printf 'root key\n' > "$D/cert-key.pem"; chmod 600 "$D/cert-key.pem"
chmod 755 "$D" "$D/etc"
decoys() { (cd "$D" && find . -printf '%p %u:%g %m %s\n' | sort && find . -type f -exec sha256sum {} + | sort); }
decoys > "$TMP/decoys.before"
decoys_same() { decoys | diff "$TMP/decoys.before" -; }

# as root, the way the docs say (sudo env GBCA_CAROOT=... gbca CMD, i.e. the
# user's CA named explicitly; the sudo test below covers plain sudo)
as_root() { env GBCA_CAROOT="$CAROOT" "$@"; }
# one_line NAME TEXT: gbca said exactly one "gbca: error:" line
one_error() { [ "$(printf '%s\n' "$1" | grep -c 'error:')" = 1 ]; }

# --- 1. CAROOT/serve as a link to root's folder: serve must not write or chown there ---
as_user ln -s "$D/etc" "$CAROOT/serve"
out=$(as_root timeout 20 "$GBCA" serve --listen 127.0.0.1:8443 --workers 1 --access-log off --pid-file off 2>&1); rc=$?
ok "/root-safety/serve-link/decoys-unchanged" decoys_same
is "/root-safety/serve-link/refused" "$rc" 1
ok "/root-safety/serve-link/one-line" one_error "$out"
like "/root-safety/serve-link/says-why" "$out" "serve.*(Permission denied|Not a directory|not a link)"
ok "/root-safety/serve-link/nothing-in-etc" test -z "$(ls -A "$D/etc" | grep -v sudoers)"
as_user rm "$CAROOT/serve"

# the same without the link: the leaf is made as the user and owned by them
serve_bg() {
	env GBCA_CAROOT="$CAROOT" "$GBCA" serve --listen 127.0.0.1:8443 --workers 1 --access-log off "$@" > "$TMP/serve.out" 2>&1 &
	SERVE=$!
	wait_until 100 grep -q "listening on" "$TMP/serve.out" && return 0
	sed 's/^/# /' "$TMP/serve.out"
	return 1
}
SERVE=
trap 'kill $SERVE 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
serve_bg; _tap_result $? "/root-safety/serve/starts"
is "/root-safety/serve/leaf-owner" "$(stat -c %u "$CAROOT/serve/localhost.pem" 2>/dev/null || stat -c %u "$CAROOT"/serve/*.pem | head -n1)" $U
is "/root-safety/serve/pid-file-owner" "$(stat -c %u "$CAROOT/serve.pid")" $U
is "/root-safety/serve/log-owner" "$(stat -c %u "$CAROOT/issued.log")" $U
# SIGHUP reloads through the same path: a link planted now is refused too
as_user rm -rf "$CAROOT/serve"
as_user ln -s "$D/etc" "$CAROOT/serve"
kill -HUP $SERVE
wait_until 50 grep -q "keeping the current certificates" "$TMP/serve.out"
ok "/root-safety/sighup-link/decoys-unchanged" decoys_same
like "/root-safety/sighup-link/kept-serving" "$(cat "$TMP/serve.out")" "SIGHUP: keeping the current certificates"
kill $SERVE; wait $SERVE 2>/dev/null
as_user rm -f "$CAROOT/serve"

# a CAROOT that is the user's own link to another folder of theirs still serves
as_user mv "$CAROOT" "$UH/ca-real"
as_user ln -s "$UH/ca-real" "$CAROOT"
serve_bg --pid-file off; _tap_result $? "/root-safety/caroot-link/serves"
kill $SERVE; wait $SERVE 2>/dev/null
as_user rm "$CAROOT"; as_user mv "$UH/ca-real" "$CAROOT"; as_user rm -rf "$CAROOT/serve"

# --- 1b. the CA key as a link: root reads only the owner's own files ---
as_user mv "$CAROOT/rootCA-key.pem" "$CAROOT/key.real"
as_user ln -s "$D/cert-key.pem" "$CAROOT/rootCA-key.pem"
out=$(as_root timeout 20 "$GBCA" serve --listen 127.0.0.1:8443 --workers 1 --access-log off --pid-file off 2>&1); rc=$?
is "/root-safety/key-link/refused" "$rc" 1
ok "/root-safety/key-link/one-line" one_error "$out"
# not read as root: the old code read root's key through the link and called the CA damaged
like "/root-safety/key-link/not-read-by-root" "$out" "rootCA-key.pem.*(Permission denied|symbolic link|owned by uid)"
ok "/root-safety/key-link/decoys-unchanged" decoys_same
as_user rm "$CAROOT/rootCA-key.pem"; as_user mv "$CAROOT/key.real" "$CAROOT/rootCA-key.pem"

# --- 2. issued.log as a link: nothing appended to its target ---
as_user mv "$CAROOT/issued.log" "$CAROOT/issued.real"
as_user ln -s "$D/shadow" "$CAROOT/issued.log"
mkdir -p "$TMP/out"; chown $U "$TMP/out"
out=$(cd "$TMP/out" && as_root "$GBCA" issue localhost 2>&1); rc=$?
ok "/root-safety/log-link/decoys-unchanged" decoys_same
is "/root-safety/log-link/refused" "$rc" 1
ok "/root-safety/log-link/one-line" one_error "$out"
like "/root-safety/log-link/says-why" "$out" "issuance log.*symbolic link"
# serve's own issuance logs best effort: it may serve, but never appends there
out=$(as_root timeout 20 "$GBCA" serve --listen 127.0.0.1:8443 --workers 1 --access-log off --pid-file off 2>&1 & sleep 3; kill %1 2>/dev/null; wait)
ok "/root-safety/log-link-serve/decoys-unchanged" decoys_same
as_user rm -rf "$CAROOT/issued.log" "$CAROOT/serve"; as_user mv "$CAROOT/issued.real" "$CAROOT/issued.log"

# --- 3. uninstall removes only what it can prove it wrote ---
(cd "$TMP/out" && as_root "$GBCA" issue -q localhost) > /dev/null 2>&1
real=$(grep -c "$TMP/out/localhost.pem" "$CAROOT/issued.log")
line=$(tail -n1 "$CAROOT/issued.log")
printf '%s\n' "$line" | awk -F'\t' -v f="$D/cert.pem" 'BEGIN{OFS="\t"} {$6=f; print}' | as_user tee -a "$CAROOT/issued.log" > /dev/null
as_user cp "$CAROOT/rootCA.pem" "$UH/mine.pem"   # a certificate, not the logged one
printf '%s\n' "$line" | awk -F'\t' -v f="$UH/mine.pem" 'BEGIN{OFS="\t"} {$6=f; print}' | as_user tee -a "$CAROOT/issued.log" > /dev/null
out=$(as_root "$GBCA" uninstall 2>&1); rc=$?
ok "/root-safety/uninstall/decoys-unchanged" decoys_same
is "/root-safety/uninstall/real-one-logged" "$real" 1
ok "/root-safety/uninstall/removed-what-it-wrote" test ! -e "$TMP/out/localhost.pem" -a ! -e "$TMP/out/localhost-key.pem"
ok "/root-safety/uninstall/kept-changed-file" test -e "$UH/mine.pem"
like "/root-safety/uninstall/says-left-decoy" "$out" "left $D/cert.pem"
like "/root-safety/uninstall/says-left-changed" "$out" "left $UH/mine.pem: its content changed"
# --purge with a link inside CAROOT: the link goes, not what it points at
as_user ln -s "$D/etc" "$CAROOT/evil"
out=$(as_root "$GBCA" uninstall --purge 2>&1); rc=$?
ok "/root-safety/purge/decoys-unchanged" decoys_same
ok "/root-safety/purge/caroot-gone" test ! -e "$CAROOT"
as_user "$GBCA" init -q > /dev/null 2>&1

# --- 4. rc files: a ~/.bashrc link to root's file gets no block ---
as_user ln -s "$D/profile" "$UH/.bashrc"
as_user mkdir -p "$UH/.config/fish/conf.d"
as_user ln -s "$D/etc/sudoers" "$UH/.zshrc"
# sudo -E: the user's HOME, as root
out=$(as_root env HOME="$UH" SHELL=/bin/bash "$GBCA" trust --shells --stores node 2>&1); rc=$?
ok "/root-safety/rc-link/decoys-unchanged" decoys_same
ok "/root-safety/rc-link/still-a-link" test -L "$UH/.bashrc"
# plain sudo: HOME=/root, the user found through SUDO_USER
out=$(as_root env HOME=/root SUDO_USER=gbcau SUDO_UID=$U SUDO_GID=$U SHELL=/bin/bash "$GBCA" trust --shells --stores node 2>&1); rc=$?
ok "/root-safety/rc-link-sudo/decoys-unchanged" decoys_same
as_user rm -f "$UH/.bashrc" "$UH/.zshrc"
# a plain rc file of the user's gets the block and stays theirs
as_user touch "$UH/.bashrc"
out=$(as_root env HOME=/root SUDO_USER=gbcau SUDO_UID=$U SUDO_GID=$U SHELL=/bin/bash "$GBCA" trust --shells --stores node 2>&1); rc=$?
like "/root-safety/rc-sudo/block-written" "$(cat "$UH/.bashrc")" "NODE_EXTRA_CA_CERTS"
is "/root-safety/rc-sudo/still-theirs" "$(stat -c %u "$UH/.bashrc")" $U
ok "/root-safety/rc-sudo/no-root-caroot" test ! -e /root/.local/share/gbca

# --- NSS: ~/.pki/nssdb linked to root's database gets nothing from root ---
mkdir -p "$D/nssdb"
certutil -N -d "sql:$D/nssdb" --empty-password
decoys > "$TMP/decoys.before"
as_user mkdir -p "$UH/.pki"
as_user ln -s "$D/nssdb" "$UH/.pki/nssdb"
out=$(as_root env HOME="$UH" "$GBCA" trust --stores nss 2>&1); rc=$?
ok "/root-safety/nss-link/decoys-unchanged" decoys_same
is "/root-safety/nss-link/refused" "$rc" 1
like "/root-safety/nss-link/says-why" "$out" "nss.*(can't write|couldn't open)"
# the user's own database: the root goes in, every file stays theirs
as_user rm "$UH/.pki/nssdb"
as_user mkdir "$UH/.pki/nssdb"
as_user certutil -N -d "sql:$UH/.pki/nssdb" --empty-password
out=$(as_root env HOME=/root SUDO_USER=gbcau SUDO_UID=$U SUDO_GID=$U "$GBCA" trust --stores nss 2>&1); rc=$?
is "/root-safety/nss-sudo/added" "$rc" 0
like "/root-safety/nss-sudo/listed" "$(as_user certutil -L -d "sql:$UH/.pki/nssdb")" "gbca"
is "/root-safety/nss-sudo/files-stay-theirs" "$(find "$UH/.pki" ! -user $U | wc -l)" 0

# --- 6. down signals only a gbca of ours, never a pid the user chose ---
bash -c 'exec -a gbca-decoy sleep 300' &
VICTIM=$!
echo $VICTIM | as_user tee "$CAROOT/serve.pid" > /dev/null
out=$(as_root "$GBCA" down 2>&1)
ok "/root-safety/down/victim-alive" kill -0 $VICTIM
out=$(as_root "$GBCA" uninstall 2>&1)
ok "/root-safety/uninstall-pid/victim-alive" kill -0 $VICTIM
kill $VICTIM; wait $VICTIM 2>/dev/null
ok "/root-safety/down/decoys-unchanged" decoys_same
# and a real serve of ours is found and stopped
as_user rm -f "$CAROOT/serve.pid"
serve_bg; _tap_result $? "/root-safety/down/serve-starts"
out=$(as_root "$GBCA" down 2>&1)
like "/root-safety/down/stops-ours" "$out" "stopped gbca serve \(pid $SERVE\)"
printf '%s' "$out" | grep -q "stopped gbca serve" || {
	# seen under heavily loaded machines, not reproduced since: say what down saw
	echo "# serve.pid: $(cat "$CAROOT/serve.pid" 2>&1) $(stat -c '%u %a' "$CAROOT/serve.pid" 2>&1)"
	echo "# /proc/$SERVE/exe: $(stat -L -c '%d:%i' /proc/$SERVE/exe 2>&1), gbca: $(stat -c '%d:%i' "$GBCA")"
	echo "# serve said: $(tr '\n' '|' < "$TMP/serve.out")"
}
ok "/root-safety/down/ours-gone" wait_until 50 no_gbca_left
kill $SERVE 2>/dev/null   # when down failed: the test must still end
wait $SERVE 2>/dev/null

done_testing
