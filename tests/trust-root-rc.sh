#!/bin/bash
# Root writing a user's rc files (issue 9, attack 4): `gbca trust --shells` as
# root with the user's HOME (sudo -E) must not write through a ~/.bashrc link
# into a root-owned file outside HOME, and what it does write there belongs to
# the user. A real non-root owner (uid 65534) and root-owned decoys, hashed
# with owner and mode before and after.
. "$srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || { [ "${CI:-}" = true ] && { echo "Bail out! needs root in CI"; exit 1; }; echo "1..0 # SKIP needs root"; exit 0; }

U=65534
chmod 755 "$TMP"
export GBCA_CAROOT="$TMP/ca"
"$GBCA" init -q
mkdir -p "$TMP/decoy"
printf 'root only\n' > "$TMP/decoy/bashrc"
printf 'root only too\n' > "$TMP/decoy/zshrc"
printf 'root zdotdir\n' > "$TMP/decoy/.zshrc"
chmod 644 "$TMP/decoy/bashrc" "$TMP/decoy/zshrc" "$TMP/decoy/.zshrc"
chown -R "$U:$U" "$HOME"
chmod 755 "$HOME"
ln -s "$TMP/decoy/bashrc" "$HOME/.bashrc"
ln -s ../decoy/zshrc "$HOME/.zshrc"
chown -h "$U:$U" "$HOME/.bashrc" "$HOME/.zshrc"

decoys() { for f in "$TMP"/decoy/* "$TMP"/decoy/.zshrc; do stat -c '%n %u %g %a %s' "$f"; sha256sum < "$f"; done; }
decoys > "$TMP/decoys.before"

out=$("$GBCA" trust --stores node --shells 2>&1); rc=$?
is "/trust/root-rc/link-out-of-home-exit-1" "$rc" 1
like "/trust/root-rc/link-out-of-home-named" "$out" "~/\.bashrc .*outside"
ok "/trust/root-rc/decoys-untouched" diff "$TMP/decoys.before" <(decoys)
# No link at all: ZDOTDIR (the user's environment) names a root folder.
out=$(ZDOTDIR="$TMP/decoy" "$GBCA" trust --stores node --shells=zsh 2>&1); rc=$?
is "/trust/root-rc/zdotdir-root-exit-1" "$rc" 1
like "/trust/root-rc/zdotdir-root-named" "$out" "decoy/\.zshrc"
ok "/trust/root-rc/zdotdir-decoy-untouched" diff "$TMP/decoys.before" <(decoys)

# The file that is the user's own (the fish drop-in, and its folders) is
# written as the user.
f="$HOME/.config/fish/conf.d/gbca.fish"
like "/trust/root-rc/fish-written" "$(cat "$f" 2>&1)" "NODE_EXTRA_CA_CERTS"
is "/trust/root-rc/fish-owned-by-user" "$(stat -c %u "$f" "$HOME/.config" "$HOME/.config/fish" 2>&1 | sort -u)" "$U"

# A link inside HOME (a dotfile manager) is followed; the file stays the user's.
rm "$HOME/.bashrc" "$HOME/.zshrc"
mkdir "$HOME/dotfiles"
printf 'export EDITOR=vi\n' > "$HOME/dotfiles/bashrc"
chown -R "$U:$U" "$HOME/dotfiles"
ln -s dotfiles/bashrc "$HOME/.bashrc"
chown -h "$U:$U" "$HOME/.bashrc"
cp "$HOME/dotfiles/bashrc" "$TMP/bashrc.before"
out=$("$GBCA" trust --stores node --shells=bash 2>&1); rc=$?
is "/trust/root-rc/link-in-home-exit-0" "$rc" 0
like "/trust/root-rc/link-in-home-written" "$(cat "$HOME/dotfiles/bashrc")" "NODE_EXTRA_CA_CERTS"
is "/trust/root-rc/link-in-home-owner" "$(stat -c '%u %a' "$HOME/dotfiles/bashrc")" "$U 644"
ok "/trust/root-rc/link-kept" test -L "$HOME/.bashrc"

"$GBCA" untrust -q --stores node
ok "/trust/root-rc/untrust-restores" cmp "$HOME/dotfiles/bashrc" "$TMP/bashrc.before"
ok "/trust/root-rc/fish-removed" test ! -e "$HOME/.config"
ok "/trust/root-rc/decoys-untouched-at-end" diff "$TMP/decoys.before" <(decoys)

# As the user (no root, so no system store): python, which names the system
# bundle, is skipped with the sudo command instead of failing.
as_user() { setpriv --reuid "$U" --regid "$U" --clear-groups env HOME="$HOME" GBCA_CAROOT="$TMP/uca" "$@"; }
mkdir "$TMP/uca"; chown "$U:$U" "$TMP/uca"; chmod 700 "$TMP/uca"
as_user "$GBCA" init -q
out=$(as_user "$GBCA" trust --shells=bash 2>&1); rc=$?
is "/trust/root-rc/user-shells-exit-0" "$rc" 0
like "/trust/root-rc/user-python-waits-for-sudo" "$out" "skipped system,python.*sudo .*--stores system,python"
like "/trust/root-rc/user-node-done" "$out" "node: NODE_EXTRA_CA_CERTS set in ~/\.bashrc"
as_user "$GBCA" untrust -q --stores node

# Root with the user's environment must not read root's files for them:
# a NODE_EXTRA_CA_CERTS naming a root-only PEM (a certificate with its key)
# is read as the user, so it is refused and never copied into the user's
# world-readable node-ca.pem.
cat "$GBCA_CAROOT/rootCA.pem" > "$TMP/decoy/secret.pem"
echo "-----BEGIN PRIVATE KEY----- SECRET" >> "$TMP/decoy/secret.pem"
chmod 600 "$TMP/decoy/secret.pem"
out=$(GBCA_CAROOT="$TMP/uca" NODE_EXTRA_CA_CERTS="$TMP/decoy/secret.pem" "$GBCA" trust --stores node --shells=bash 2>&1); rc=$?
is "/trust/root-rc/root-only-extra-certs-exit-1" "$rc" 1
like "/trust/root-rc/root-only-extra-certs-named" "$out" "secret\.pem"
fails "/trust/root-rc/root-only-extra-certs-not-copied" grep -rq SECRET "$TMP/uca"
"$GBCA" untrust -q --stores node 2>/dev/null

done_testing
