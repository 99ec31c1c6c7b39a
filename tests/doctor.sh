#!/bin/bash
# End-to-end: every claim of `gbca doctor`, in both directions. In a private
# network and mount namespace: a private hosts file and copies of the system
# trust store, a temp HOME whose login shell finds a python3 with its own
# certifi (pyenv's on these machines) through ~/.profile, the test upstream on
# 127.0.0.1:8000 and the proxy started by `gbca up`. doctor runs without a
# terminal (setsid) and with a PATH of system directories only, so that what
# it reports comes from the login shell it starts, not from its own PATH.
. "$srcdir/tests/ns.sh"
in_namespaces -n -m -- "$@"

. "$srcdir/tests/lib.sh"
need update-ca-certificates curl node ip setsid bash zsh fish
mount --make-rprivate /
ip link set lo up
# A private /etc (a tmpfs copy): gbca keeps /etc/hosts.gbca-backup beside the
# hosts file, which must never land in the machine's /etc.
private_etc || { echo "Bail out! couldn't make a private /etc"; exit 1; }
sandbox_trust_store
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > /etc/hosts
update-ca-certificates >/dev/null 2>&1

# A python3 whose requests verifies with certifi's own bundle, not the system
# one (Debian's python3-requests uses the system bundle, so it can't tell):
# pyenv's on these machines, else lib.sh's venv with certifi's own bundle.
PY=$(certifi_python) || {
	[ -n "${CI:-}" ] && { echo "Bail out! no python3 with requests and its own certifi in CI"; exit 1; }
	skip_all "no python3 with requests and its own certifi"
}
echo "# the python3 with its own certifi: $PY"
PYDIR=$(dirname "$PY")

export SHELL=/bin/bash
# The user's dotfiles as Debian's /etc/skel has them: ~/.profile reads
# ~/.bashrc, which returns at once unless the shell is interactive; the Python
# the user installed is put first on PATH in ~/.profile.
cat > "$HOME/.profile" <<EOF
if [ -n "\$BASH_VERSION" ] && [ -f "\$HOME/.bashrc" ]; then . "\$HOME/.bashrc"; fi
PATH="$PYDIR:\$PATH"
EOF
printf 'case $- in\n    *i*) ;;\n      *) return;;\nesac\nexport EDITOR=vi\n' > "$HOME/.bashrc"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
NAME=generativelanguage.googleapis.com

/usr/bin/python3 "$srcdir/tests/upstream.py" --port 8000 --record "$TMP/record.jsonl" > "$TMP/upstream.out" 2>&1 &
UPSTREAM=$!
SERVE=
trap 'kill $UPSTREAM $SERVE 2>/dev/null; "$GBCA" down >/dev/null 2>&1; wait 2>/dev/null; rm -rf "$TMP"' EXIT
wait_until 50 grep -q ready "$TMP/upstream.out"

# up_bg [SERVE-OPTION...]: `gbca up` in the background, trusting nothing itself
# (called directly, not through ok, so that SERVE is set here). Ready when the
# name resolves and the proxy listens, whether `up` serves in the foreground
# or starts a background proxy and returns.
up_ready() { getent hosts "$NAME" >/dev/null && port_open 127.0.0.1 443; }
up_bg() {
	"$GBCA" up --no-trust -- --workers 1 --user root --access-log off "$@" > "$TMP/up.out" 2>&1 &
	SERVE=$!
	wait_until 100 up_ready && return 0
	sed 's/^/# /' "$TMP/up.out"
	return 1
}
# doctor without a terminal, as from a script or a service; output in $out
# (one line) and $raw, exit status in $rc.
doctor() {
	raw=$(setsid -w "$GBCA" doctor "$@" 2>&1)
	rc=$?
	out=${raw//$'\n'/ }
}
# line CHECK: that check's line of the last doctor run, with its fix line.
line() {
	printf '%s\n' "$raw" | awk -v c="$1" '
		index($0, c) == 7 && substr($0, 7 + length(c), 1) == " " && $0 ~ /^(PASS|WARN|FAIL) / { p = 1; printf "%s", $0; next }
		p && /^ +fix:/ { sub(/^ +/, " "); printf "%s", $0 }
		{ p = 0 }'
}

up_bg; is "/doctor/setup-up" $? 0
"$GBCA" trust -q --stores system

# Python: the login shell's python3, with requests and its own certifi.
doctor
is "/doctor/python-vars-missing-exit-1" "$rc" 1
like "/doctor/python-fail-names-interpreter" "$(line 'TLS: Python')" "^FAIL +TLS: Python +[^ ]*$PYDIR/python3"
like "/doctor/python-fail-says-requests" "$(line 'TLS: Python')" "^FAIL +TLS: Python .*requests"
like "/doctor/python-fail-shows-its-error" "$(line 'TLS: Python')" "^FAIL +TLS: Python .*CERTIFICATE_VERIFY_FAILED\] certificate verify failed: (unable to get local issuer certificate|self-signed certificate in certificate chain)"
like "/doctor/python-fail-fix" "$(line 'TLS: Python')" "^FAIL +TLS: Python .*fix: gbca trust --shells"
# The system-store line names only what it ran.
like "/doctor/system-store-names-gnutls" "$(line 'TLS: system store')" "^PASS +TLS: system store .*GnuTLS"
fails "/doctor/system-store-no-python-claim" sh -c "printf '%s' \"\$1\" | grep -qiE 'python|curl'" _ "$(line 'TLS: system store')"
# Node without a terminal: its own error, no job-control noise from the shell.
like "/doctor/node-fail-shows-its-error" "$(line 'TLS: Node')" "^FAIL +TLS: Node +[^ ]*/node .*(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN): (unable to|self-signed certificate in certificate chain).* fix: gbca trust --shells"
fails "/doctor/no-job-control-noise" sh -c "printf '%s' \"\$1\" | grep -q 'terminal process group\|job control'" _ "$out"

"$GBCA" trust -q --shells=bash --stores node,python
doctor
is "/doctor/after-trust-shells-exit-0" "$rc" 0
like "/doctor/python-pass-names-interpreter" "$(line 'TLS: Python')" "^PASS +TLS: Python +[^ ]*$PYDIR/python3.*requests"
like "/doctor/node-pass" "$(line 'TLS: Node')" "^PASS +TLS: Node +[^ ]*/node .*trusts the proxy"
[ "$rc" = 0 ] || printf '# %s\n' "$out"

# The block is in ~/.bashrc, but this login bash has no profile that reads it:
# the fix says so instead of only repeating `trust --shells`.
mv "$HOME/.profile" "$TMP/profile.away"
doctor
like "/doctor/no-profile-fix" "$(line 'TLS: Node')" "^FAIL +TLS: Node .*fix: .*make ~/.profile \(or ~/.bash_profile\) read ~/.bashrc"
mv "$TMP/profile.away" "$HOME/.profile"

# Without requests: ssl + urllib (a venv of the same Python has no requests).
"$PY" -m venv --without-pip "$TMP/venv"
cp "$HOME/.profile" "$TMP/profile"
printf 'PATH="%s:$PATH"\n' "$TMP/venv/bin" >> "$HOME/.profile"
doctor
like "/doctor/python-urllib-pass" "$(line 'TLS: Python')" "^PASS +TLS: Python +[^ ]*$TMP/venv/bin/python3.*urllib"
"$GBCA" untrust -q --stores system,python
doctor
like "/doctor/python-urllib-fail" "$(line 'TLS: Python')" "^FAIL +TLS: Python +[^ ]*$TMP/venv/bin/python3.*urllib.*CERTIFICATE_VERIFY_FAILED"
like "/doctor/system-store-fail-shows-gnutls-error" "$(line 'TLS: system store')" "^FAIL +TLS: system store .*(issuer|not trusted)"
cp "$TMP/profile" "$HOME/.profile"
"$GBCA" trust -q --stores system
"$GBCA" trust -q --shells=bash --stores python

doctor
is "/doctor/restored-exit-0" "$rc" 0

# zsh and fish users: their own login files put the Python first on PATH.
printf 'path=(%s $path)\n' "$PYDIR" > "$HOME/.zprofile"
mkdir -p "$HOME/.config/fish"
printf 'set -gx PATH %s $PATH\n' "$PYDIR" > "$HOME/.config/fish/config.fish"
for sh in zsh fish; do
	SHELL=$(command -v $sh)
	doctor
	like "/doctor/$sh/python-fail" "$(line 'TLS: Python')" "^FAIL +TLS: Python +$PYDIR/python3 .*from a login $sh.*CERTIFICATE_VERIFY_FAILED"
	like "/doctor/$sh/node-fail" "$(line 'TLS: Node')" "^FAIL +TLS: Node +[^ ]*/node .*from a login $sh.*(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)"
	"$GBCA" trust -q --shells=$sh --stores node,python
	doctor
	is "/doctor/$sh/after-trust-shells-exit-0" "$rc" 0
	like "/doctor/$sh/python-pass" "$(line 'TLS: Python')" "^PASS +TLS: Python +$PYDIR/python3 .*from a login $sh"
	like "/doctor/$sh/node-pass" "$(line 'TLS: Node')" "^PASS +TLS: Node +[^ ]*/node .*from a login $sh"
done
export SHELL=/bin/bash

# Same-host loop: the WARN only after a request with a Google key got 508.
like "/doctor/loop-warn-after-508" "$(line 'same-host loop')" "^WARN +same-host loop .*answered 508"
like "/doctor/loop-advice" "$(line 'same-host loop')" "fix: .*: gbca up -- --google-passthrough"
# Following the advice as written makes it go away: up, run again with new
# serve options while the proxy runs, restarts it with them.
wait "$SERVE" 2>/dev/null
"$GBCA" up --no-trust -- --workers 1 --user root --access-log off --google-passthrough > "$TMP/up.out" 2>&1
is "/doctor/advice-up-passthrough" $? 0
like "/doctor/advice-up-restarted" "$(cat "$TMP/up.out")" "[Rr]estart|[Ss]topp"
doctor
like "/doctor/loop-pass-with-passthrough" "$(line 'same-host loop')" "^PASS +same-host loop .*not looped back"
# Nothing listening: nothing was tested, so no loop claim either.
"$GBCA" down >/dev/null 2>&1; wait "$SERVE" 2>/dev/null; SERVE=
"$GBCA" hosts on -q
doctor
like "/doctor/proxy-down-shows-error" "$(line 'proxy')" "^FAIL +proxy .*(refused|Connection)"
fails "/doctor/no-loop-claim-without-proxy" sh -c "printf '%s' \"\$1\" | grep -q 'same-host loop'" _ "$out"

# Upstream down: the connection's own error.
kill $UPSTREAM; wait $UPSTREAM 2>/dev/null
doctor
like "/doctor/upstream-down-shows-error" "$(line 'upstream')" "^FAIL +upstream .*Connection refused"
# Something else on the upstream's port: what it said.
/usr/bin/python3 -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8000))
s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
    c.close()
' > "$TMP/junk.out" 2>&1 &
UPSTREAM=$!
wait_until 50 grep -q ready "$TMP/junk.out"
doctor
like "/doctor/upstream-not-http-shows-what-it-sent" "$(line 'upstream')" '^FAIL +upstream .*no HTTP answer: it sent "SSH-2.0-OpenSSH_9.2..'
# The proxy's certificate gone: the file error.
mv "$HOME/.local/share/gbca/serve/$NAME.pem" "$TMP/leaf.pem"
doctor
like "/doctor/leaf-missing-shows-error" "$(line 'certificate')" "^FAIL +certificate +no certificate at .*: No such file or directory"

done_testing
