#!/bin/bash
# End-to-end: the per-user stores through the gbca command line. A temp HOME
# with real NSS databases (certutil -N) and a Firefox profile tree, a GnuTLS
# server with a gbca leaf, and real clients: certutil -V on every database and
# node started from bash -ic, zsh -ic and fish -c. Before `gbca trust` and
# after `gbca untrust` every client rejects the server, and every rc file and
# database listing is byte-identical to before.
. "$srcdir/tests/lib.sh"
need certutil node bash zsh fish gnutls-serv

export GBCA_CAROOT="$TMP/ca"
export SHELL=/bin/bash
NAME=generativelanguage.googleapis.com
"$GBCA" init -q
"$GBCA" issue -q --out-dir "$TMP"

# NSS databases: Chrome's, a plain Firefox profile, one listed with an absolute path.
mkdir -p "$HOME/.pki/nssdb" "$HOME/.mozilla/firefox/abcd.default-release" "$TMP/elsewhere/prof2"
cat > "$HOME/.mozilla/firefox/profiles.ini" <<INI
[General]
StartWithLastProfile=1

[Profile0]
Name=default-release
IsRelative=1
Path=abcd.default-release
Default=1

[Profile1]
Name=other
IsRelative=0
Path=$TMP/elsewhere/prof2
INI
DBS="$HOME/.pki/nssdb $HOME/.mozilla/firefox/abcd.default-release $TMP/elsewhere/prof2"
for db in $DBS; do certutil -N -d "sql:$db" --empty-password; done
# Rc files the user already has: one without a final newline.
printf 'alias ll="ls -l"\nexport EDITOR=vi' > "$HOME/.bashrc"
printf '# zsh config\n' > "$HOME/.zshrc"

snapshot() {
	local db
	for db in $DBS; do echo "== $db"; certutil -L -d "sql:$db"; done
	for f in .bashrc .zshrc .config/fish/conf.d/gbca.fish; do
		echo "== $f"
		if [ -e "$HOME/$f" ]; then sha256sum < "$HOME/$f"; else echo absent; fi
	done
	ls -A "$HOME" "$HOME/.config" 2>&1
}

# certutil -V wants the leaf in the database: verify in a throw-away copy.
nss_ok() {
	local copy="$TMP/nsscopy"
	rm -rf "$copy"; cp -a "$1" "$copy"
	certutil -A -d "sql:$copy" -n leaf -t ,, -i "$TMP/$NAME.pem" &&
	certutil -V -d "sql:$copy" -n leaf -u V
}

PORT=$(( 20000 + ($$ + 7) % 20000 ))
gnutls-serv --http --x509certfile "$TMP/$NAME.pem" --x509keyfile "$TMP/$NAME-key.pem" -p "$PORT" >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

NODE_JS="const s=require('tls').connect({host:'127.0.0.1',port:$PORT,servername:'$NAME'},()=>{process.exit(s.authorized?0:1)});s.on('error',e=>{console.error(e.code);process.exit(1)})"
node_from() { # shell
	case $1 in
	fish) env -u NODE_EXTRA_CA_CERTS fish -c "node -e \"$NODE_JS\"" 2>&1 ;;
	*) env -u NODE_EXTRA_CA_CERTS "$1" -ic "node -e \"$NODE_JS\"" 2>&1 ;;
	esac
}

# fish makes ~/.config/fish and ~/.local/share/fish on its first start; let it
# do so now, so that the comparison below sees only what gbca changed.
fish -c true 2>/dev/null
snapshot > "$TMP/before"
for db in $DBS; do fails "/trust/user/nss-rejects-before$db" nss_ok "$db"; done
for sh in bash zsh fish; do fails "/trust/user/node-$sh-rejects-before" node_from $sh; done

out=$("$GBCA" trust --stores nss --shells 2>&1); rc=$?
is "/trust/user/trust-exit-0" "$rc" 0
like "/trust/user/trust-reports-nss" "$out" "^nss: .*3 databases"
like "/trust/user/trust-reports-node" "$out" "node: NODE_EXTRA_CA_CERTS set in"
for db in $DBS; do
	ok "/trust/user/nss-accepts$db" nss_ok "$db"
	like "/trust/user/nss-server-auth-only$db" "$(certutil -L -d "sql:$db")" "gbca-[0-9a-f]{16} +C,,"
done
for sh in bash zsh fish; do ok "/trust/user/node-$sh-accepts" node_from $sh; done
out=$("$GBCA" trust --check --stores nss,node); rc=$?
is "/trust/user/check-exit-0" "$rc" 0
like "/trust/user/check-nss-installed" "$out" "nss +installed"
like "/trust/user/check-node-installed" "$out" "node +installed"

mid=$(snapshot)
"$GBCA" trust -q --stores nss --shells
is "/trust/user/trust-twice-is-once" "$(snapshot)" "$mid"

out=$("$GBCA" untrust 2>&1); rc=$?
is "/trust/user/untrust-exit-0" "$rc" 0
for db in $DBS; do fails "/trust/user/nss-rejects-after$db" nss_ok "$db"; done
for sh in bash zsh fish; do fails "/trust/user/node-$sh-rejects-after" node_from $sh; done
snapshot > "$TMP/after"
ok "/trust/user/untrust-restores-everything" diff "$TMP/before" "$TMP/after"
out=$("$GBCA" trust --check --stores nss,node); rc=$?
is "/trust/user/check-after-exit-1" "$rc" 1

# Bad input: a read-only rc file and a corrupt database are named, the rest is done.
chmod 444 "$HOME/.zshrc"
cp "$HOME/.mozilla/firefox/abcd.default-release/cert9.db" "$TMP/cert9.good"
echo "this is not sqlite" > "$HOME/.mozilla/firefox/abcd.default-release/cert9.db"
out=$("$GBCA" trust --stores nss --shells 2>&1); rc=$?
is "/trust/user/partial-exit-1" "$rc" 1
like "/trust/user/corrupt-db-named" "$out" "abcd.default-release"
ok "/trust/user/other-dbs-still-done" nss_ok "$HOME/.pki/nssdb"
like "/trust/user/bashrc-still-done" "$(cat "$HOME/.bashrc")" "NODE_EXTRA_CA_CERTS"
"$GBCA" untrust -q 2>/dev/null
cp "$TMP/cert9.good" "$HOME/.mozilla/firefox/abcd.default-release/cert9.db"
chmod 644 "$HOME/.zshrc"

# A hand-edited block is reported and left alone.
"$GBCA" trust -q --stores node --shells=bash
sed -i '/<<< gbca <<</d' "$HOME/.bashrc"
cp "$HOME/.bashrc" "$TMP/bashrc.edited"
out=$("$GBCA" untrust --stores node 2>&1); rc=$?
is "/trust/user/hand-edited-exit-1" "$rc" 1
like "/trust/user/hand-edited-named" "$out" "\.bashrc line [0-9]+"
ok "/trust/user/hand-edited-untouched" cmp "$HOME/.bashrc" "$TMP/bashrc.edited"

done_testing
