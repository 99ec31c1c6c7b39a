# End-to-end: a gbca root's name constraints are enforced, not just present.
# Leaves signed with the root's key by another tool (certtool) for names outside
# the constraints are rejected by OpenSSL, GnuTLS and NSS; permitted ones pass.

. "$srcdir/tests/lib.sh"
need openssl certtool certutil

# certtool_leaf CA OUT TEMPLATE-LINE...: OUT.pem, a TLS server leaf for the names
# in the template lines, signed by CA's key with certtool; fresh key OUT-key.pem.
certtool_leaf() {
	local ca=$1 out=$2; shift 2
	{
		printf 'organization = "gbca constraints test %s"\n' "$out"
		printf '%s\n' "$@" tls_www_server 'expiration_days = 30'
	} >"$out.tmpl"
	certtool --generate-privkey --key-type ecdsa --outfile "$out-key.pem" &&
	certtool --generate-certificate --load-privkey "$out-key.pem" \
		--load-ca-privkey "$ca/rootCA-key.pem" --load-ca-certificate "$ca/rootCA.pem" \
		--template "$out.tmpl" --outfile "$out.pem"
}

# rejects PATTERN CMD...: CMD fails and its output matches PATTERN (grep -E),
# so a rejection for an unrelated reason does not count.
rejects() {
	local pat=$1 out rc; shift
	out=$("$@" 2>&1); rc=$?
	printf '%s\n' "$out"
	[ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -Eq -- "$pat"
}

ossl_verify() { # ROOT LEAF
	openssl verify -x509_strict -purpose sslserver -CAfile "$1" "$2"
}

gnutls_verify() { # ROOT LEAF: exit 0 and a "Verified" verdict
	local out rc
	out=$(certtool --verify --verify-profile medium --verify-purpose 1.3.6.1.5.5.7.3.1 \
		--load-ca-certificate "$1" --infile "$2" 2>&1); rc=$?
	printf '%s\n' "$out"
	[ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -q '^Chain verification output: Verified\.'
}

nss_verify() { # ROOT LEAF: a fresh database, ROOT trusted for TLS servers
	local db=$2.nss
	rm -rf "$db" && mkdir -p "$db" || return 1
	certutil -N -d "sql:$db" --empty-password &&
	certutil -A -d "sql:$db" -n root -t C,, -i "$1" &&
	certutil -A -d "sql:$db" -n leafnick -t ,, -i "$2" &&
	certutil -V -u V -n leafnick -d "sql:$db"
}

OSSL_NC='permitted subtree violation'
GNUTLS_NC="violates the signer's constraints"
NSS_NC='not permitted to issue a certificate with this name'

# accepted PREFIX ROOT LEAF / rejected PREFIX ROOT LEAF: all three verifiers agree.
accepted() {
	ok "$1/openssl" ossl_verify "$2" "$3"
	ok "$1/gnutls" gnutls_verify "$2" "$3"
	ok "$1/nss" nss_verify "$2" "$3"
}
rejected() {
	ok "$1/openssl" rejects "$OSSL_NC" ossl_verify "$2" "$3"
	ok "$1/gnutls" rejects "$GNUTLS_NC" gnutls_verify "$2" "$3"
	ok "$1/nss" rejects "$NSS_NC" nss_verify "$2" "$3"
}

# files_in DIR: the names in DIR, one a line (empty when there are none).
files_in() {
	ls -A "$1"
}

# --- the default root ---------------------------------------------------------
CA=$TMP/ca
ROOT=$CA/rootCA.pem
L=$TMP/leaves
mkdir -p "$L"
ok "/constraints/init/default" env GBCA_CAROOT="$CA" "$GBCA" init -q
like "/constraints/root/name-constraints-critical" \
	"$(openssl x509 -in "$ROOT" -noout -ext nameConstraints 2>&1)" 'Name Constraints: critical'

# default_case accepted|rejected NAME TEMPLATE-LINE...: certtool signs a leaf
# with the default root's key; all three verifiers must accept or reject it.
default_case() {
	local verdict=$1 n=$2; shift 2
	ok "/constraints/certtool-leaf/$n" certtool_leaf "$CA" "$L/$n" "$@"
	"$verdict" "/constraints/default/$n-$verdict" "$ROOT" "$L/$n.pem"
}

# Names the default constraints permit ...
default_case accepted generativelanguage.googleapis.com 'dns_name = generativelanguage.googleapis.com'
default_case accepted localhost 'dns_name = localhost'
default_case accepted sub.localhost 'dns_name = sub.localhost'
default_case accepted 127.0.0.1 'ip_address = 127.0.0.1'
default_case accepted 127.9.8.7 'ip_address = 127.9.8.7'
default_case accepted ::1 'ip_address = ::1'
default_case accepted all-permitted 'dns_name = generativelanguage.googleapis.com' \
	'dns_name = localhost' 'dns_name = a.b.localhost' 'ip_address = 127.0.0.1' 'ip_address = ::1'

# ... and ones they forbid: outside names, look-alikes, one bad name among good ones.
default_case rejected example.com 'dns_name = example.com'
default_case rejected 10.1.2.3 'ip_address = 10.1.2.3'
default_case rejected ::2 'ip_address = ::2'
default_case rejected notlocalhost 'dns_name = notlocalhost'
default_case rejected localhost.example.com 'dns_name = localhost.example.com'
default_case rejected googleapis.com 'dns_name = googleapis.com'
default_case rejected mixed 'dns_name = generativelanguage.googleapis.com' 'dns_name = example.com'
default_case rejected mixed-ip 'ip_address = 127.0.0.1' 'ip_address = 10.1.2.3'

# --- gbca issue refuses names outside the constraints and writes nothing ------
log_before=$(cksum "$CA/issued.log" 2>/dev/null)
for n in example.com 10.1.2.3 'generativelanguage.googleapis.com example.com'; do
	t=$(printf '%s' "$n" | tr ' ' '+')
	out_dir=$TMP/refused-$t
	mkdir -p "$out_dir"
	# shellcheck disable=SC2086 # split the two-name case on purpose
	msg=$(cd "$out_dir" && GBCA_CAROOT="$CA" "$GBCA" issue $n 2>&1); rc=$?
	is "/constraints/gbca-issue/$t/exit-1" "$rc" 1
	like "/constraints/gbca-issue/$t/message-mentions-permit" "$msg" 'outside.*--permit'
	is "/constraints/gbca-issue/$t/no-files" "$(files_in "$out_dir")" ""
done
is "/constraints/gbca-issue/issued-log-unchanged" "$(cksum "$CA/issued.log" 2>/dev/null)" "$log_before"

# --- gbca init --force --permit example.com: a new root that allows it ---------
fp_old=$(openssl x509 -in "$ROOT" -noout -fingerprint -sha256 2>&1)
ok "/constraints/init/force-permit" env GBCA_CAROOT="$CA" "$GBCA" init --force --permit example.com -q
fp_new=$(openssl x509 -in "$ROOT" -noout -fingerprint -sha256 2>&1)
ok "/constraints/init/force-permit/new-root" test "$fp_old" != "$fp_new"
like "/constraints/init/force-permit/still-critical" \
	"$(openssl x509 -in "$ROOT" -noout -ext nameConstraints 2>&1)" 'Name Constraints: critical'
fails "/constraints/init/force-permit/old-leaf-not-under-new-root" \
	ossl_verify "$ROOT" "$L/generativelanguage.googleapis.com.pem"
P=$TMP/permit
mkdir -p "$P"
ok "/constraints/certtool-leaf/permit/example.com" certtool_leaf "$CA" "$P/example.com" 'dns_name = example.com'
accepted "/constraints/permit/example.com-accepted" "$ROOT" "$P/example.com.pem"
ok "/constraints/certtool-leaf/permit/api.example.com" certtool_leaf "$CA" "$P/api.example.com" 'dns_name = api.example.com'
accepted "/constraints/permit/api.example.com-accepted" "$ROOT" "$P/api.example.com.pem"
ok "/constraints/certtool-leaf/permit/generativelanguage.googleapis.com" \
	certtool_leaf "$CA" "$P/gl" 'dns_name = generativelanguage.googleapis.com'
accepted "/constraints/permit/generativelanguage.googleapis.com-accepted" "$ROOT" "$P/gl.pem"
ok "/constraints/certtool-leaf/permit/badexample.com" certtool_leaf "$CA" "$P/badexample.com" 'dns_name = badexample.com'
rejected "/constraints/permit/badexample.com-rejected" "$ROOT" "$P/badexample.com.pem"
ok "/constraints/certtool-leaf/permit/10.1.2.3" certtool_leaf "$CA" "$P/ten" 'ip_address = 10.1.2.3'
rejected "/constraints/permit/10.1.2.3-rejected" "$ROOT" "$P/ten.pem"

mkdir -p "$P/gbca"
ok "/constraints/gbca-issue/permit/example.com" \
	env GBCA_CAROOT="$CA" "$GBCA" issue -q --out-dir "$P/gbca" example.com
accepted "/constraints/permit/gbca-example.com-accepted" "$ROOT" "$P/gbca/example.com.pem"
fails "/constraints/gbca-issue/permit/10.1.2.3-refused" \
	env GBCA_CAROOT="$CA" "$GBCA" issue -q --out-dir "$P/gbca" 10.1.2.3

# --- gbca init --no-constraints: the difference -------------------------------
U=$TMP/unconstrained
mkdir -p "$U/leaves"
ok "/constraints/init/no-constraints" env GBCA_CAROOT="$U" "$GBCA" init --no-constraints -q
U_TEXT=$(openssl x509 -in "$U/rootCA.pem" -noout -text 2>&1)
like "/constraints/no-constraints/still-a-ca" "$U_TEXT" 'CA:TRUE'
is "/constraints/no-constraints/no-extension" \
	"$(printf '%s\n' "$U_TEXT" | grep -c 'Name Constraints')" 0
ok "/constraints/certtool-leaf/no-constraints/example.com" \
	certtool_leaf "$U" "$U/leaves/example.com" 'dns_name = example.com'
accepted "/constraints/no-constraints/example.com-accepted" "$U/rootCA.pem" "$U/leaves/example.com.pem"
ok "/constraints/certtool-leaf/no-constraints/10.1.2.3" \
	certtool_leaf "$U" "$U/leaves/ten" 'ip_address = 10.1.2.3'
accepted "/constraints/no-constraints/10.1.2.3-accepted" "$U/rootCA.pem" "$U/leaves/ten.pem"
ok "/constraints/gbca-issue/no-constraints/example.com" \
	env GBCA_CAROOT="$U" "$GBCA" issue -q --out-dir "$U/leaves" example.com

done_testing
