#!/bin/bash
# End-to-end tests of the gbca command line: init, issue, list, caroot, help,
# file modes, bad input (exit codes, messages, nothing half-written) and
# concurrent issuance. Runs the real binary in a private temp dir.
. "$srcdir/tests/lib.sh"
need openssl

export GBCA_CAROOT="$TMP/ca"
W="$TMP/work"
mkdir -p "$W"
cd "$W" || exit 1

mode() { stat -c %a "$1"; }
# listing of a dir, hidden files included, to show nothing was left behind
listing() { (cd "$1" && ls -A | sort | tr '\n' ' '); }
# run CMD, capture stderr in $ERR and the exit code in $RC
run() { ERR=$("$@" 2>&1 >/dev/null); RC=$?; }

# --- help and usage ---
run "$GBCA" --help;            is "/cli/help-exit-0" "$RC" 0
like "/cli/help-lists-commands" "$("$GBCA" --help)" "init.*issue|issue"
run "$GBCA" issue --help;      is "/cli/issue-help-exit-0" "$RC" 0
like "/cli/issue-help-text" "$("$GBCA" issue --help)" "--days N"
run "$GBCA" help init;         is "/cli/help-command" "$RC" 0
run "$GBCA";                   is "/cli/no-command-exit-2" "$RC" 2
run "$GBCA" frobnicate;        is "/cli/unknown-command-exit-2" "$RC" 2
like "/cli/unknown-command-message" "$ERR" 'unknown command "frobnicate"'
run "$GBCA" init --bogus;      is "/cli/unknown-option-exit-2" "$RC" 2
like "/cli/unknown-option-message" "$ERR" "unknown option --bogus"
run "$GBCA" issue --days;      is "/cli/missing-value-exit-2" "$RC" 2
like "/cli/missing-value-message" "$ERR" "needs a value"
like "/cli/version" "$("$GBCA" version)" '^gbca [0-9]+\.[0-9]+'
# --help on every command the table lists: exit 0 and a usage line
for cmd in $("$GBCA" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
	out=$("$GBCA" "$cmd" --help 2>&1); rc=$?
	if [ "$rc" -eq 0 ] && printf '%s' "$out" | grep -q "usage: gbca $cmd\|usage: gbca COMMAND"; then
		_tap_result 0 "/cli/help/$cmd"
	else
		_tap_result 1 "/cli/help/$cmd"; printf '# rc=%s %s\n' "$rc" "$(printf '%s' "$out" | head -n 2)"
	fi
done

# --- CAROOT ---
is "/cli/caroot-env" "$("$GBCA" caroot)" "$TMP/ca"
is "/cli/caroot-xdg" "$(env -u GBCA_CAROOT XDG_DATA_HOME=/x/data "$GBCA" caroot)" "/x/data/gbca"
is "/cli/caroot-home" "$(env -u GBCA_CAROOT -u XDG_DATA_HOME HOME=/h "$GBCA" caroot)" "/h/.local/share/gbca"
is "/cli/caroot-xdg-relative-ignored" "$(env -u GBCA_CAROOT XDG_DATA_HOME=rel HOME=/h "$GBCA" caroot)" "/h/.local/share/gbca"

# --- issue before init ---
run "$GBCA" issue;             is "/cli/issue-no-ca-exit-1" "$RC" 1
like "/cli/issue-no-ca-message" "$ERR" "no CA in .*gbca init"
is "/cli/issue-no-ca-no-files" "$(listing "$W")" ""

# --- init ---
run "$GBCA" init;              is "/cli/init-exit-0" "$RC" 0
is "/cli/init-caroot-0700" "$(mode "$GBCA_CAROOT")" 700
is "/cli/init-key-0400" "$(mode "$GBCA_CAROOT/rootCA-key.pem")" 400
is "/cli/init-cert-0644" "$(mode "$GBCA_CAROOT/rootCA.pem")" 644
like "/cli/init-p256" "$(openssl x509 -in "$GBCA_CAROOT/rootCA.pem" -noout -text)" "prime256v1"
like "/cli/init-subject" "$(openssl x509 -in "$GBCA_CAROOT/rootCA.pem" -noout -subject)" "O = gbca development CA.*CN = gbca .+@"
before=$(cat "$GBCA_CAROOT"/rootCA*.pem | sha256sum)
run "$GBCA" init;              is "/cli/init-again-exit-1" "$RC" 1
like "/cli/init-again-message" "$ERR" "already exists.*--force"
is "/cli/init-again-unchanged" "$(cat "$GBCA_CAROOT"/rootCA*.pem | sha256sum)" "$before"
run "$GBCA" init --key dsa;    is "/cli/init-bad-key-exit-2" "$RC" 2
run "$GBCA" init --permit 10.0.0.1/8; is "/cli/init-bad-permit-exit-2" "$RC" 2
like "/cli/init-bad-permit-message" "$ERR" "network address"
run "$GBCA" init --permit x.test --no-constraints; is "/cli/init-permit-vs-none-exit-2" "$RC" 2
is "/cli/init-bad-input-unchanged" "$(cat "$GBCA_CAROOT"/rootCA*.pem | sha256sum)" "$before"

# --- issue ---
run "$GBCA" issue;             is "/cli/issue-default-exit-0" "$RC" 0
is "/cli/issue-default-files" "$(listing "$W")" "generativelanguage.googleapis.com-key.pem generativelanguage.googleapis.com.pem "
is "/cli/issue-key-0600" "$(mode generativelanguage.googleapis.com-key.pem)" 600
is "/cli/issue-cert-0644" "$(mode generativelanguage.googleapis.com.pem)" 644
ok "/cli/issue-verifies" openssl verify -x509_strict -CAfile "$GBCA_CAROOT/rootCA.pem" generativelanguage.googleapis.com.pem
ok "/cli/issue-key-matches" sh -c "[ \"\$(openssl x509 -in generativelanguage.googleapis.com.pem -noout -pubkey)\" = \"\$(openssl pkey -in generativelanguage.googleapis.com-key.pem -pubout)\" ]"

mkdir multi && (cd multi && "$GBCA" issue -q localhost 127.0.0.1 ::1 '*.localhost')
is "/cli/issue-multi-files" "$(listing multi)" "localhost+3-key.pem localhost+3.pem "
like "/cli/issue-multi-sans" "$(openssl x509 -in multi/localhost+3.pem -noout -ext subjectAltName)" "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:\*\.localhost"
mkdir wild && "$GBCA" issue -q --out-dir wild '*.localhost'
is "/cli/issue-wildcard-file" "$(listing wild)" "_wildcard.localhost-key.pem _wildcard.localhost.pem "
mkdir client && "$GBCA" issue -q --client --out-dir client localhost
is "/cli/issue-client-file" "$(listing client)" "localhost-client-key.pem localhost-client.pem "
like "/cli/issue-client-eku" "$(openssl x509 -in client/localhost-client.pem -noout -ext extendedKeyUsage)" "Client Authentication"
mkdir rsa && "$GBCA" issue -q --key rsa --out-dir rsa localhost
like "/cli/issue-rsa-2048" "$(openssl x509 -in rsa/localhost.pem -noout -text)" "2048 bit"
mkdir named && "$GBCA" issue -q --cert-file named/c.pem --key-file named/k.pem localhost
is "/cli/issue-cert-key-file" "$(listing named)" "c.pem k.pem "
mkdir days && "$GBCA" issue -q --days 1 --out-dir days localhost
ok "/cli/issue-days-1" sh -c "! openssl x509 -in days/localhost.pem -noout -checkend 90000 >/dev/null && openssl x509 -in days/localhost.pem -noout -checkend 80000 >/dev/null"

mkdir p12 && "$GBCA" issue -q --pkcs12 --out-dir p12 localhost
is "/cli/issue-p12-file" "$(listing p12)" "localhost.p12 "
is "/cli/issue-p12-0600" "$(mode p12/localhost.p12)" 600
ok "/cli/issue-p12-opens" openssl pkcs12 -in p12/localhost.p12 -passin pass:changeit -noout
fails "/cli/issue-p12-wrong-password" openssl pkcs12 -in p12/localhost.p12 -passin pass:nope -noout

mkdir csr && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout csr/k.pem \
	-subj /CN=api -addext subjectAltName=DNS:api.localhost,IP:127.0.0.2 -out csr/req.pem 2>/dev/null
run "$GBCA" issue --csr csr/req.pem --out-dir csr; is "/cli/issue-csr-exit-0" "$RC" 0
like "/cli/issue-csr-sans" "$(openssl x509 -in csr/api.localhost+1.pem -noout -ext subjectAltName 2>&1)" "DNS:api.localhost, IP Address:127.0.0.2"
is "/cli/issue-csr-no-key-written" "$(listing csr)" "api.localhost+1.pem k.pem req.pem "
run "$GBCA" issue --csr csr/req.pem localhost; is "/cli/issue-csr-and-names-exit-2" "$RC" 2

# --- bad input: exit code, message, and no file written ---
mkdir bad && cd bad || exit 1
bad() { # name expected-rc pattern args...
	local name=$1 want=$2 pat=$3; shift 3
	run "$GBCA" issue "$@"
	is "/cli/bad/$name-exit-$want" "$RC" "$want"
	like "/cli/bad/$name-message" "$ERR" "$pat"
}
bad wildcard-tld 2 "top-level domain" '*.com'
bad wildcard-inner 2 "whole first label" 'a.*.b'
bad dash-option 2 "unknown option -x" -x
bad dash-name 2 "starts with '-'" -- -x
bad empty 2 "empty name" ''
bad long-label 2 "label of 64 bytes" "$(printf 'a%.0s' $(seq 64)).localhost"
bad long-name 2 "limit is 253" "$(printf 'abcdefghi.%.0s' $(seq 26))localhost"
bad control-char 2 "control character" $'local\nhost'
bad bad-ipv4 2 "not a valid IPv4" 999.1.1.1
bad bad-ipv6 2 "not a valid IPv6" '1::2::3'
bad days-0 2 "from 1 to 825" --days 0 localhost
bad days-826 2 "from 1 to 825" --days 826 localhost
bad days-text 2 "from 1 to 825" --days ten localhost
bad key-type 2 "unknown key type" --key ed448 localhost
bad outside 1 "outside this CA's name constraints.*--permit example.com" example.com
bad outside-ip 1 "outside.*--permit 10.1.2.3" 10.1.2.3
bad no-out-dir 1 "does not exist" --out-dir "$TMP/none" localhost
is "/cli/bad/no-files-left" "$(listing .)" ""
cd "$W" || exit 1

# A read-only output folder: the write fails cleanly, no temp file is left.
if unshare -m true 2>/dev/null; then
	mkdir ro
	out=$(unshare -m sh -c 'mount -t tmpfs -o ro tmpfs "$1" && "$2" issue --out-dir "$1" localhost; echo "rc=$?"; ls -A "$1"' sh "$W/ro" "$GBCA" 2>&1)
	like "/cli/bad/read-only-dir-exit-1" "$out" "rc=1"
	like "/cli/bad/read-only-dir-message" "$out" "couldn't write .*Read-only file system"
	like "/cli/bad/read-only-dir-nothing-left" "$(printf '%s' "$out" | tail -n1)" "^rc=1$"
fi

# --- the CA's own problems ---
cp -a "$GBCA_CAROOT" "$TMP/ca-copy"
chmod 644 "$GBCA_CAROOT/rootCA-key.pem"
run "$GBCA" issue --out-dir "$TMP" localhost; is "/cli/ca/key-perms-exit-1" "$RC" 1
like "/cli/ca/key-perms-message" "$ERR" "chmod 400"
chmod 400 "$GBCA_CAROOT/rootCA-key.pem"
chmod u+w "$GBCA_CAROOT/rootCA.pem"; echo garbage > "$GBCA_CAROOT/rootCA.pem"
run "$GBCA" issue --out-dir "$TMP" localhost; is "/cli/ca/corrupt-exit-1" "$RC" 1
like "/cli/ca/corrupt-message" "$ERR" "damaged.*gbca init --force"
rm "$GBCA_CAROOT/rootCA-key.pem"; cp -a "$TMP/ca-copy/rootCA.pem" "$GBCA_CAROOT/"
run "$GBCA" issue --out-dir "$TMP" localhost; is "/cli/ca/missing-key-exit-1" "$RC" 1
like "/cli/ca/missing-key-message" "$ERR" "no rootCA-key.pem"
rm -rf "$GBCA_CAROOT"; mv "$TMP/ca-copy" "$GBCA_CAROOT"
is "/cli/ca/no-stray-files" "$(ls -A "$TMP" | grep -c '\.pem')" 0

# --- env ---
B=$(GBCA_SYSROOT= "$GBCA" env --shell bash 2>/dev/null | sed -n "s/^export SSL_CERT_FILE='\(.*\)'$/\1/p")
is "/cli/env-bash" "$("$GBCA" env --shell bash 2>/dev/null)" "export NODE_EXTRA_CA_CERTS='$GBCA_CAROOT/node-ca.pem'"$'\n'"export SSL_CERT_FILE='$B'"$'\n'"export REQUESTS_CA_BUNDLE='$B'"
is "/cli/env-fish" "$("$GBCA" env --shell fish 2>/dev/null)" "set -gx NODE_EXTRA_CA_CERTS '$GBCA_CAROOT/node-ca.pem'"$'\n'"set -gx SSL_CERT_FILE '$B'"$'\n'"set -gx REQUESTS_CA_BUNDLE '$B'"
is "/cli/env-no-python" "$("$GBCA" env --no-python --shell bash 2>/dev/null)" "export NODE_EXTRA_CA_CERTS='$GBCA_CAROOT/node-ca.pem'"
is "/cli/env-eval" "$(eval "$("$GBCA" env 2>/dev/null)"; printf %s "$NODE_EXTRA_CA_CERTS")" "$GBCA_CAROOT/node-ca.pem"
like "/cli/env-python" "$("$GBCA" env --python --shell bash 2>/dev/null)" "export REQUESTS_CA_BUNDLE='/"
run "$GBCA" env --shell tcsh;  is "/cli/env-bad-shell-exit-2" "$RC" 2

# --- list ---
n_logged=$(wc -l < "$GBCA_CAROOT/issued.log")
is "/cli/list-one-row-per-issue" "$("$GBCA" list | tail -n +2 | wc -l)" "$n_logged"
like "/cli/list-days-left" "$("$GBCA" list)" "SERIAL +EXPIRES +DAYS LEFT +NAMES"
ok "/cli/list-json" sh -c "'$GBCA' list --json | python3 -c 'import json,sys; rows=[json.loads(l) for l in sys.stdin]; assert rows and all(0 <= r[\"days_left\"] <= 825 for r in rows)'"
is "/cli/issue-log-mode" "$(mode "$GBCA_CAROOT/issued.log")" 600

# --- concurrency: issuers take turns on the lock, the log gets every line once ---
mkdir par
before=$(wc -l < "$GBCA_CAROOT/issued.log")
for i in 1 2 3 4 5 6 7 8; do
	( mkdir "par/$i" && "$GBCA" issue -q --out-dir "par/$i" localhost "127.0.0.$i"; echo $? > "par/$i.rc" ) &
	"$GBCA" issue -q --out-dir par localhost > /dev/null 2>&1 &
done
wait
is "/cli/parallel-all-exit-0" "$(cat par/*.rc | sort -u | tr -d '\n')" 0
is "/cli/parallel-log-lines" "$(( $(wc -l < "$GBCA_CAROOT/issued.log") - before ))" 16
ok "/cli/parallel-certs-verify" sh -c "for f in par/*/localhost+1.pem par/localhost.pem; do openssl verify -CAfile '$GBCA_CAROOT/rootCA.pem' \$f || exit 1; done"
is "/cli/parallel-no-temp-files" "$(ls -A par | grep -c tmp)" 0
ok "/cli/parallel-pair-matches" sh -c "[ \"\$(openssl x509 -in par/localhost.pem -noout -pubkey)\" = \"\$(openssl pkey -in par/localhost-key.pem -pubout)\" ]"

# --- --force keeps a backup; --permit; --no-constraints; --import ---
old_fp=$(openssl x509 -in "$GBCA_CAROOT/rootCA.pem" -noout -fingerprint -sha256)
run "$GBCA" init --force --permit example.com --permit bücher.example; is "/cli/force-exit-0" "$RC" 0
like "/cli/force-backup-note" "$ERR" "kept in .*backup-"
backup=$(ls -d "$GBCA_CAROOT"/backup-* | head -n1)
is "/cli/force-backup-has-old" "$(openssl x509 -in "$backup/rootCA.pem" -noout -fingerprint -sha256)" "$old_fp"
is "/cli/force-backup-key-0400" "$(mode "$backup/rootCA-key.pem")" 400
run "$GBCA" issue --out-dir "$TMP" example.com www.example.com; is "/cli/permit-allows-exit-0" "$RC" 0
run "$GBCA" issue --out-dir "$TMP" example.org; is "/cli/permit-still-limits-exit-1" "$RC" 1
mkdir idn && "$GBCA" issue -q --out-dir idn bücher.example
is "/cli/idn-a-label-file" "$(listing idn)" "xn--bcher-kva.example-key.pem xn--bcher-kva.example.pem "

run "$GBCA" init --force --no-constraints; is "/cli/no-constraints-exit-0" "$RC" 0
like "/cli/no-constraints-warns" "$ERR" "warning: this root has no name constraints"
run "$GBCA" issue --out-dir "$TMP" example.org; is "/cli/no-constraints-issues-anything" "$RC" 0

if command -v mkcert >/dev/null 2>&1; then
	mkdir mk && (cd mk && CAROOT="$TMP/mkcert" TRUST_STORES=none mkcert localhost >/dev/null 2>&1)
	run "$GBCA" init --force --import "$TMP/mkcert/rootCA.pem" "$TMP/mkcert/rootCA-key.pem"
	is "/cli/import-mkcert-exit-0" "$RC" 0
	is "/cli/import-mkcert-key-0400" "$(mode "$GBCA_CAROOT/rootCA-key.pem")" 400
	mkdir imp && "$GBCA" issue -q --out-dir imp localhost
	ok "/cli/import-mkcert-issues" openssl verify -x509_strict -CAfile "$TMP/mkcert/rootCA.pem" imp/localhost.pem
fi
run "$GBCA" init --force --import /nonexistent.pem /nonexistent-key.pem; is "/cli/import-missing-exit-1" "$RC" 1
run "$GBCA" init --force --import "$W/generativelanguage.googleapis.com.pem" "$W/generativelanguage.googleapis.com-key.pem"
is "/cli/import-leaf-refused" "$RC" 1
like "/cli/import-leaf-message" "$ERR" "not a CA"

done_testing
