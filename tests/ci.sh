#!/bin/bash
# End-to-end: `gbca ci` as a CI runner would run it, in a private mount
# namespace where /etc/ssl/certs, /usr/local/share/ca-certificates,
# /etc/ca-certificates.conf and /etc/hosts are copies (the real
# update-ca-certificates runs on them). A later "step" is a fresh environment
# built from $GITHUB_ENV the way the runner parses it; curl, node and python3
# requests must reject a gbca leaf before and accept it after. The machine is
# untouched.

# Re-run inside a private mount namespace before anything else.
. "$srcdir/tests/ns.sh"
in_namespaces -m -- "$@"

. "$srcdir/tests/lib.sh"
need update-ca-certificates curl gnutls-serv node openssl certutil setpriv python3
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import requests' 2>/dev/null || need python3-requests
# The runner's own variables must not leak into the cases.
unset GITHUB_ACTIONS GITHUB_ENV GITLAB_CI GBCA_CA_CERT GBCA_CA_KEY GBCA_TRUST_STORES GBCA_SYSROOT

mount --make-rprivate /
private_etc   # a tmpfs copy of /etc: nothing gbca writes beside /etc/hosts reaches the machine
shadow() { # bind a private copy over a system path
	local src=$1 copy="$TMP/sys$1"
	mkdir -p "$(dirname "$copy")"
	cp -a "$src" "$copy"
	mount --bind "$copy" "$src"
}
sandbox_trust_store
# As root gbca ci also writes the machine-wide NSS database, when there is one.
[ -d /etc/pki/nssdb ] && shadow /etc/pki/nssdb
printf '127.0.0.1 localhost\n127.0.0.1 generativelanguage.googleapis.com\n' > "$TMP/hosts"
mount --bind "$TMP/hosts" /etc/hosts
update-ca-certificates >/dev/null 2>&1

NAME=generativelanguage.googleapis.com
PORT=$(( 20000 + $$ % 20000 ))
URL="https://$NAME:$PORT/"
export TMPDIR="$TMP/tmpdir"
mkdir -p "$TMPDIR"
SERVER=
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT

run() { OUT=$("$@" 2>&1); RC=$?; }
n_anchors() { ls -A /usr/local/share/ca-certificates | grep -c '^gbca-'; }

# STEP holds NAME=value words for `env -i`, read from a $GITHUB_ENV file line
# by line as the runner does: split at the first '=', or NAME<<DELIMITER
# followed by lines up to DELIMITER. Nothing is quoted or expanded.
STEP=()
load_github_env() {
	local line name delim value
	STEP=()
	while IFS= read -r line || [ -n "$line" ]; do
		[ -z "$line" ] && continue
		if [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)\<\<(.+)$ ]]; then
			name=${BASH_REMATCH[1]} delim=${BASH_REMATCH[2]} value=
			while IFS= read -r line && [ "$line" != "$delim" ]; do
				value+=${value:+$'\n'}$line
			done
		else
			name=${line%%=*} value=${line#*=}
		fi
		STEP+=("$name=$value")
	done < "$1"
}
in_step() { env -i PATH="$PATH" HOME="$HOME" "${STEP[@]}" "$@"; }
step_var() { in_step printenv "$1"; }

serve() { # CERT KEY: a GnuTLS test server on loopback
	stop_server
	gnutls-serv --http --x509certfile "$1" --x509keyfile "$2" -p "$PORT" >/dev/null 2>&1 &
	SERVER=$!
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
}
stop_server() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; SERVER=; }
curl_ok() { in_step curl -sS -o /dev/null --max-time 5 "$URL"; }
node_ok() {
	in_step node -e 'require("https").get(process.argv[1], r => process.exit(r.statusCode ? 0 : 1))
		.on("error", e => { console.error(e.message); process.exit(1); })' "$URL"
}
python_ok() { in_step /usr/bin/python3 -c 'import requests, sys; requests.get(sys.argv[1], timeout=5)' "$URL"; }

# --- bad usage and bad input: exit codes, messages, nothing written ---
export GBCA_CAROOT="$TMP/ca"
run "$GBCA" ci --format github
is "/ci/github-env-unset-exit-1" "$RC" 1
like "/ci/github-env-unset-message" "$OUT" "GITHUB_ENV is not set"
is "/ci/github-env-unset-nothing-made" "$(ls -A "$TMP" | grep -c '^ca$')" 0
run "$GBCA" ci --format xml
is "/ci/unknown-format-exit-2" "$RC" 2
like "/ci/unknown-format-message" "$OUT" 'unknown format "xml"'
run "$GBCA" ci --days 0
is "/ci/bad-days-exit-2" "$RC" 2
like "/ci/listed-in-help" "$("$GBCA" --help)" "ci +CI trust provisioning"

"$GBCA" init -q
GBCA_CAROOT="$TMP/other" "$GBCA" init -q
OTHER_CERT=$(cat "$TMP/other/rootCA.pem") OTHER_KEY=$(cat "$TMP/other/rootCA-key.pem")
before=$(n_anchors)
: > "$TMP/github_env"
BAD='-----BEGIN CERTIFICATE-----
bm90IGEgY2VydGlmaWNhdGU=
-----END CERTIFICATE-----'
run env GBCA_CAROOT="$TMP/bad" GITHUB_ENV="$TMP/github_env" GBCA_CA_CERT="$BAD" GBCA_CA_KEY="$OTHER_KEY" "$GBCA" ci --format github
is "/ci/bad-ca-cert-exit-1" "$RC" 1
like "/ci/bad-ca-cert-message" "$OUT" "GBCA_CA_CERT is not a valid certificate"
ok "/ci/bad-ca-cert-no-caroot" test ! -e "$TMP/bad"
ok "/ci/bad-ca-cert-github-env-untouched" test ! -s "$TMP/github_env"
is "/ci/bad-ca-cert-no-anchor" "$(n_anchors)" "$before"
is "/ci/bad-ca-cert-no-temp-left" "$(ls -A "$TMPDIR")" ""
run env GBCA_CAROOT="$TMP/bad" GBCA_CA_CERT="not pem" GBCA_CA_KEY="$OTHER_KEY" "$GBCA" ci --format sh
is "/ci/ca-cert-not-pem-exit-1" "$RC" 1
like "/ci/ca-cert-not-pem-message" "$OUT" "GBCA_CA_CERT is neither PEM"
run env GBCA_CAROOT="$TMP/bad" GBCA_CA_CERT="$OTHER_CERT" GBCA_CA_KEY="$(cat "$GBCA_CAROOT/rootCA-key.pem")" "$GBCA" ci --format sh
is "/ci/key-mismatch-exit-1" "$RC" 1
like "/ci/key-mismatch-message" "$OUT" "GBCA_CA_KEY does not belong to the certificate GBCA_CA_CERT"
ok "/ci/key-mismatch-no-caroot" test ! -e "$TMP/bad"
run env GBCA_CAROOT="$TMP/bad" GBCA_CA_CERT="$OTHER_CERT" "$GBCA" ci --format sh
is "/ci/cert-without-key-exit-1" "$RC" 1
like "/ci/cert-without-key-message" "$OUT" "GBCA_CA_CERT is set but GBCA_CA_KEY is not"
run env GBCA_CAROOT="$TMP/bad" GBCA_CA_CERT="$OTHER_CERT" GBCA_CA_KEY="$OTHER_KEY" "$GBCA" ci --format sh api.example.test
is "/ci/name-outside-ca-exit-1" "$RC" 1
like "/ci/name-outside-ca-message" "$OUT" 'api\.example\.test'
ok "/ci/name-outside-ca-no-caroot" test ! -e "$TMP/bad"
is "/ci/bad-input-no-temp-left" "$(ls -A "$TMPDIR")" ""

# --- GitHub: before, gbca ci, then a later step ---
"$GBCA" issue -q --out-dir "$TMP"
serve "$TMP/$NAME.pem" "$TMP/$NAME-key.pem"
STEP=()
fails "/ci/curl-rejects-before" curl_ok
fails "/ci/node-rejects-before" node_ok
fails "/ci/python-rejects-before" python_ok
stop_server

mkdir -p "$HOME/.pki/nssdb"
certutil -N -d "sql:$HOME/.pki/nssdb" --empty-password
run env GITHUB_ENV="$TMP/github_env" "$GBCA" ci --format github
is "/ci/github-exit-0" "$RC" 0
like "/ci/github-report-system" "$OUT" "system: added"
like "/ci/github-report-nss" "$OUT" "nss: added"
load_github_env "$TMP/github_env"
for v in GBCA_CAROOT GBCA_CERT_FILE GBCA_KEY_FILE NODE_EXTRA_CA_CERTS SSL_CERT_FILE REQUESTS_CA_BUNDLE; do
	like "/ci/github-env-has-$v" "$(cat "$TMP/github_env")" "^$v=/"
done
is "/ci/github-caroot" "$(step_var GBCA_CAROOT)" "$TMP/ca"
is "/ci/github-cert-in-caroot-ci" "$(step_var GBCA_CERT_FILE)" "$TMP/ca/ci/$NAME.pem"
is "/ci/github-key-mode-0600" "$(stat -c %a "$(step_var GBCA_KEY_FILE)")" 600
is "/ci/github-node-pem" "$(step_var NODE_EXTRA_CA_CERTS)" "$TMP/ca/node-ca.pem"
is "/ci/github-ssl-cert-file" "$(step_var SSL_CERT_FILE)" /etc/ssl/certs/ca-certificates.crt
is "/ci/github-requests-bundle" "$(step_var REQUESTS_CA_BUNDLE)" /etc/ssl/certs/ca-certificates.crt
ok "/ci/node-pem-is-root" cmp "$TMP/ca/node-ca.pem" "$TMP/ca/rootCA.pem"
ok "/ci/leaf-verifies" openssl verify -CAfile "$TMP/ca/rootCA.pem" "$(step_var GBCA_CERT_FILE)"
like "/ci/nss-trusted" "$(certutil -L -d "sql:$HOME/.pki/nssdb")" "C,,"

serve "$(step_var GBCA_CERT_FILE)" "$(step_var GBCA_KEY_FILE)"
ok "/ci/step-curl-accepts" curl_ok
ok "/ci/step-node-accepts" node_ok
ok "/ci/step-python-accepts" python_ok
# Node reads no system store: NODE_EXTRA_CA_CERTS is what makes it trust the root.
STEP=("${STEP[@]/#NODE_EXTRA_CA_CERTS=*/UNUSED=}")
fails "/ci/step-node-needs-the-variable" node_ok
load_github_env "$TMP/github_env"
stop_server

# Again, as a retried job would: same CA, one anchor, a file that still parses.
root_sum=$(sha256sum < "$TMP/ca/rootCA.pem") anchors=$(n_anchors)
run env GITHUB_ENV="$TMP/github_env" "$GBCA" ci --format github
is "/ci/again-exit-0" "$RC" 0
like "/ci/again-system-noop" "$OUT" "already trusted"
is "/ci/again-same-ca" "$(sha256sum < "$TMP/ca/rootCA.pem")" "$root_sum"
is "/ci/again-same-anchors" "$(n_anchors)" "$anchors"
load_github_env "$TMP/github_env"
serve "$(step_var GBCA_CERT_FILE)" "$(step_var GBCA_KEY_FILE)"
ok "/ci/again-step-curl-accepts" curl_ok
ok "/ci/again-step-node-accepts" node_ok
stop_server

# GITHUB_ACTIONS=true picks the github format by itself.
: > "$TMP/github_env2"
run env GITHUB_ACTIONS=true GITHUB_ENV="$TMP/github_env2" "$GBCA" ci
is "/ci/github-default-exit-0" "$RC" 0
like "/ci/github-default-wrote" "$(cat "$TMP/github_env2")" "^GBCA_CAROOT=$TMP/ca"

# --- a CA from the environment (made beforehand by gbca init elsewhere) ---
run env GBCA_CAROOT="$TMP/ci-env" GBCA_CA_CERT="$OTHER_CERT" GBCA_CA_KEY="$OTHER_KEY" "$GBCA" ci --format sh
is "/ci/env-ca-exit-0" "$RC" 0
out=$(GBCA_CAROOT="$TMP/ci-env" GBCA_CA_CERT="$OTHER_CERT" GBCA_CA_KEY="$OTHER_KEY" "$GBCA" ci -q --format sh)
ok "/ci/env-ca-imported" cmp "$TMP/ci-env/rootCA.pem" "$TMP/other/rootCA.pem"
ok "/ci/env-ca-leaf-verifies" sh -c "eval \"\$1\"; openssl verify -CAfile '$TMP/other/rootCA.pem' \"\$GBCA_CERT_FILE\"" sh "$out"
is "/ci/env-ca-key-0400" "$(stat -c %a "$TMP/ci-env/rootCA-key.pem")" 400
run env GBCA_CAROOT="$TMP/ci-env-path" GBCA_CA_CERT="$TMP/other/rootCA.pem" GBCA_CA_KEY="$TMP/other/rootCA-key.pem" "$GBCA" ci --format sh
is "/ci/env-ca-paths-exit-0" "$RC" 0
ok "/ci/env-ca-paths-imported" cmp "$TMP/ci-env-path/rootCA.pem" "$TMP/other/rootCA.pem"
# A different CA in the environment replaces the one in CAROOT, with a backup.
run env GBCA_CAROOT="$TMP/ca" GBCA_CA_CERT="$OTHER_CERT" GBCA_CA_KEY="$OTHER_KEY" "$GBCA" ci --format json --out-dir "$TMP/leaf-out"
is "/ci/env-ca-replaces-exit-0" "$RC" 0
ok "/ci/env-ca-replaces" cmp "$TMP/ca/rootCA.pem" "$TMP/other/rootCA.pem"
like "/ci/env-ca-replaces-backup" "$(ls "$TMP/ca")" "backup-"
ok "/ci/out-dir-used" test -s "$TMP/leaf-out/$NAME.pem"

# --- the other formats ---
out=$(GBCA_CAROOT="$TMP/ci-env" "$GBCA" ci -q --format sh 2>/dev/null)
ok "/ci/sh-evals" sh -c "eval \"\$1\" && test -f \"\$GBCA_CERT_FILE\" && test -f \"\$GBCA_KEY_FILE\" && test -f \"\$NODE_EXTRA_CA_CERTS\" && test \"\$SSL_CERT_FILE\" = /etc/ssl/certs/ca-certificates.crt && test \"\$REQUESTS_CA_BUNDLE\" = \"\$SSL_CERT_FILE\" && test \"\$GBCA_CAROOT\" = '$TMP/ci-env'" sh "$out"
out=$(GBCA_CAROOT="$TMP/ci-env" "$GBCA" ci --format json 2>/dev/null)
ok "/ci/json-parses" /usr/bin/python3 -c '
import json, os, sys
v = json.loads(sys.argv[1])
assert sorted(v) == sorted(["GBCA_CAROOT", "GBCA_CERT_FILE", "GBCA_KEY_FILE", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"]), v
assert all(os.path.isfile(v[k]) for k in v if k != "GBCA_CAROOT"), v
' "$out"
mkdir -p "$TMP/gl"
run sh -c "cd '$TMP/gl' && GBCA_CAROOT='$TMP/ci-env' GITLAB_CI=true '$GBCA' ci"
is "/ci/gitlab-default-exit-0" "$RC" 0
ok "/ci/gitlab-dotenv-written" grep -qx "GBCA_CERT_FILE=$TMP/ci-env/ci/$NAME.pem" "$TMP/gl/gbca.env"
is "/ci/gitlab-dotenv-six-lines" "$(grep -cE '^[A-Z_]+=/' "$TMP/gl/gbca.env")" 6
run env GBCA_CAROOT="$TMP/ci-env" "$GBCA" ci --format gitlab --output "$TMP/gl/custom.env"
is "/ci/gitlab-output-exit-0" "$RC" 0
ok "/ci/gitlab-output-written" grep -q "^NODE_EXTRA_CA_CERTS=$TMP/ci-env/node-ca.pem$" "$TMP/gl/custom.env"
run env GBCA_CAROOT="$TMP/ci-env" "$GBCA" ci --format gitlab --output "$TMP/nowhere/x.env"
is "/ci/gitlab-bad-output-exit-1" "$RC" 1

# --- a fresh CA when none is given and CAROOT has none ---
out=$(GBCA_CAROOT="$TMP/fresh" "$GBCA" ci -q --format sh localhost api.example.test)
ok "/ci/fresh-ca-made" test -s "$TMP/fresh/rootCA.pem"
end=$(date -d "$(openssl x509 -noout -enddate -in "$TMP/fresh/rootCA.pem" | cut -d= -f2)" +%s)
ok "/ci/fresh-ca-short-lived" test "$end" -le $(( $(date +%s) + 8 * 86400 ))
like "/ci/fresh-ca-constrained" "$(openssl x509 -noout -text -in "$TMP/fresh/rootCA.pem")" "Name Constraints: critical"
ok "/ci/fresh-ca-leaf-verifies" sh -c "eval \"\$1\"; openssl verify -x509_strict -CAfile '$TMP/fresh/rootCA.pem' \"\$GBCA_CERT_FILE\"" sh "$out"
like "/ci/fresh-ca-leaf-names" "$(openssl x509 -noout -ext subjectAltName -in "$TMP/fresh/ci/localhost+1.pem")" "DNS:api.example.test"

# --- not root: the system store is skipped with a note, the rest is done ---
chmod 755 "$TMP"
mkdir -p "$TMP/user"; chown nobody "$TMP/user"
anchors=$(n_anchors)
run setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$TMP/user" GBCA_CAROOT="$TMP/user/ca" TMPDIR="$TMP/user" "$GBCA" ci --format json
is "/ci/non-root-exit-0" "$RC" 0
like "/ci/non-root-note" "$OUT" "skipped the system store: it needs root"
is "/ci/non-root-no-anchor" "$(n_anchors)" "$anchors"
ok "/ci/non-root-leaf-written" test -s "$TMP/user/ca/ci/$NAME.pem"

done_testing
