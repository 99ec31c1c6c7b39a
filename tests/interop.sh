# End-to-end: leaves issued by gbca verify in OpenSSL, GnuTLS, NSS and Node
# for every root and leaf key type; a wrong root, name or purpose is rejected.

. "$srcdir/tests/lib.sh"
need openssl certtool certutil node

NAME=generativelanguage.googleapis.com
SERVER_AUTH=1.3.6.1.5.5.7.3.1
CLIENT_AUTH=1.3.6.1.5.5.7.3.2

# Test-name label of a gbca --key value: init and issue mean different RSA sizes.
root_label() {
	case $1 in
	ecdsa) echo p256 ;; p384) echo p384 ;; rsa) echo rsa3072 ;; rsa2048) echo rsa2048 ;;
	esac
}
leaf_label() {
	case $1 in
	ecdsa) echo p256 ;; p384) echo p384 ;; rsa) echo rsa2048 ;; rsa3072) echo rsa3072 ;;
	esac
}

# has_key_type LABEL CERT: the certificate's public key is of that type.
has_key_type() {
	local text want
	text=$(openssl x509 -in "$2" -noout -text) || return 1
	case $1 in
	p256) want='ASN1 OID: prime256v1' ;;
	p384) want='ASN1 OID: secp384r1' ;;
	rsa2048) want='Public-Key: \(2048 bit\)' ;;
	rsa3072) want='Public-Key: \(3072 bit\)' ;;
	esac
	printf '%s\n' "$text" | grep -E "Public Key Algorithm|Public-Key|ASN1 OID"
	printf '%s\n' "$text" | grep -Eq "$want"
}

# ossl_verify ROOT LEAF [OPTION...]: OpenSSL's strict chain check.
ossl_verify() {
	local root=$1 leaf=$2; shift 2
	openssl verify -x509_strict "$@" -CAfile "$root" "$leaf"
}

# gnutls_verify ROOT LEAF [OPTION...]: certtool --verify against ROOT alone;
# passes only on exit 0 and a "Verified" verdict.
gnutls_verify() {
	local root=$1 leaf=$2 out rc; shift 2
	out=$(certtool --verify --verify-profile medium "$@" \
		--load-ca-certificate "$root" --infile "$leaf" 2>&1); rc=$?
	printf '%s\n' "$out"
	[ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -q '^Chain verification output: Verified\.'
}

# gnutls_chain FILE: certtool --verify-chain, which trusts the last certificate.
gnutls_chain() {
	local out rc
	out=$(certtool --verify-chain --verify-profile medium --infile "$1" 2>&1); rc=$?
	printf '%s\n' "$out"
	[ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -q '^Chain verification output: Verified\.'
}

# nss_verify DB ROOT|- LEAF USAGE: a fresh NSS database holding LEAF and, unless
# ROOT is -, ROOT trusted to issue TLS server (usage V: C,,) or client (usage C:
# T,,) certificates; then certutil -V for that usage.
nss_verify() {
	local db=$1 root=$2 leaf=$3 usage=$4 trust=C,,
	[ "$usage" = C ] && trust=T,,
	rm -rf "$db" && mkdir -p "$db" || return 1
	certutil -N -d "sql:$db" --empty-password || return 1
	if [ "$root" != - ]; then
		certutil -A -d "sql:$db" -n root -t "$trust" -i "$root" || return 1
	fi
	certutil -A -d "sql:$db" -n leafnick -t ,, -i "$leaf" || return 1
	certutil -V -u "$usage" -n leafnick -d "sql:$db"
}

# node_tls CA CERT KEY NAME EXPECT: a Node TLS server on a loopback port with
# CERT/KEY and a client trusting only CA, reaching it as NAME (a host name is
# sent as SNI over 127.0.0.1; an address is connected to directly). EXPECT is
# "ok" (authorized) or a regex the authorization error must match.
NODE_TLS=$TMP/tls.js
cat >"$NODE_TLS" <<'EOF'
const tls = require('tls'), fs = require('fs'), net = require('net');
const [ca, cert, key, name, expect] = process.argv.slice(2);
const host = net.isIP(name) ? name : '127.0.0.1';
const srvopts = cert.endsWith('.p12')
	? { pfx: fs.readFileSync(cert), passphrase: key }
	: { cert: fs.readFileSync(cert), key: fs.readFileSync(key) };
const srv = tls.createServer(srvopts, (s) => s.end('hello\n'));
srv.on('tlsClientError', () => {});
setTimeout(() => { console.log('timed out'); process.exit(3); }, 10000).unref();
srv.listen(0, host, () => {
	const opts = { host, port: srv.address().port, ca: [fs.readFileSync(ca)],
		rejectUnauthorized: false };
	if (!net.isIP(name)) opts.servername = name;
	const c = tls.connect(opts, () => {
		console.log(`authorized=${c.authorized} error=${c.authorizationError}`);
		const good = expect === 'ok' ? c.authorized === true
			: c.authorized === false && new RegExp(expect).test(String(c.authorizationError));
		c.destroy();
		srv.close();
		process.exit(good ? 0 : 1);
	});
	c.on('error', (e) => { console.log(`connect error: ${e.message}`); process.exit(2); });
});
EOF
node_tls() {
	node "$NODE_TLS" "$@"
}

# chain_file LEAF ROOT OUT: leaf then root in one PEM file.
chain_file() {
	cat "$1" "$2" >"$3"
}

ROOT_TYPES="ecdsa p384 rsa rsa2048"
LEAF_TYPES="ecdsa p384 rsa rsa3072"

# A second, unrelated CA: the negative cases trust it instead of the real one.
OTHER=$TMP/ca-other
ok "/interop/setup/other-root" env GBCA_CAROOT="$OTHER" "$GBCA" init -q

for rk in $ROOT_TYPES; do
	r=$(root_label "$rk")
	ca=$TMP/ca-$r
	root=$ca/rootCA.pem
	ok "/interop/init/$r-root" env GBCA_CAROOT="$ca" "$GBCA" init --key "$rk" -q
	ok "/interop/keytype/$r-root" has_key_type "$r" "$root"

	for lk in $LEAF_TYPES; do
		l=$(leaf_label "$lk")
		t=$r-root/$l-leaf
		dir=$TMP/out/$r-$l
		leaf=$dir/$NAME.pem
		key=$dir/$NAME-key.pem
		mkdir -p "$dir"
		ok "/interop/issue/$t" env GBCA_CAROOT="$ca" "$GBCA" issue --key "$lk" -q --out-dir "$dir" "$NAME"
		ok "/interop/keytype/$t" has_key_type "$l" "$leaf"

		ok "/interop/openssl/$t" ossl_verify "$root" "$leaf" \
			-purpose sslserver -verify_hostname "$NAME"
		ok "/interop/gnutls/$t" gnutls_verify "$root" "$leaf" \
			--verify-hostname "$NAME" --verify-purpose "$SERVER_AUTH"
		chain_file "$leaf" "$root" "$dir/chain.pem"
		ok "/interop/gnutls-chain/$t" gnutls_chain "$dir/chain.pem"
		ok "/interop/nss/$t" nss_verify "$dir/nss" "$root" "$leaf" V
		ok "/interop/node/$t" node_tls "$root" "$leaf" "$key" "$NAME" ok
	done

	# Negatives for this root, with its P-256 leaf: each verifier must be able to fail.
	dir=$TMP/out/$r-p256
	leaf=$dir/$NAME.pem
	key=$dir/$NAME-key.pem
	fails "/interop/openssl/$r-root/other-root-rejected" \
		ossl_verify "$OTHER/rootCA.pem" "$leaf" -purpose sslserver
	fails "/interop/openssl/$r-root/wrong-hostname-rejected" \
		ossl_verify "$root" "$leaf" -purpose sslserver -verify_hostname example.com
	fails "/interop/gnutls/$r-root/other-root-rejected" \
		gnutls_verify "$OTHER/rootCA.pem" "$leaf" --verify-purpose "$SERVER_AUTH"
	fails "/interop/gnutls-chain/$r-root/leaf-alone-rejected" gnutls_chain "$leaf"
	chain_file "$leaf" "$OTHER/rootCA.pem" "$dir/chain-other.pem"
	fails "/interop/gnutls-chain/$r-root/other-root-rejected" gnutls_chain "$dir/chain-other.pem"
	fails "/interop/nss/$r-root/without-root-rejected" nss_verify "$dir/nss-noroot" - "$leaf" V
	fails "/interop/nss/$r-root/other-root-rejected" \
		nss_verify "$dir/nss-other" "$OTHER/rootCA.pem" "$leaf" V
	ok "/interop/node/$r-root/other-root-rejected" \
		node_tls "$OTHER/rootCA.pem" "$leaf" "$key" "$NAME" '^UNABLE_TO_VERIFY_LEAF_SIGNATURE$|^CERT_SIGNATURE_FAILURE$'
	ok "/interop/node/$r-root/wrong-hostname-rejected" \
		node_tls "$root" "$leaf" "$key" example.localhost '^ERR_TLS_CERT_ALTNAME_INVALID$'
done

# One leaf for several names, on the P-256 and RSA-3072 roots.
for r in p256 rsa3072; do
	ca=$TMP/ca-$r
	root=$ca/rootCA.pem
	dir=$TMP/out/$r-multi
	leaf=$dir/$NAME+3.pem
	key=$dir/$NAME+3-key.pem
	t=$r-root/multi-name-leaf
	mkdir -p "$dir"
	ok "/interop/issue/$t" env GBCA_CAROOT="$ca" "$GBCA" issue -q --out-dir "$dir" \
		"$NAME" localhost 127.0.0.1 ::1
	for h in "$NAME" localhost; do
		ok "/interop/openssl/$t/$h" ossl_verify "$root" "$leaf" -purpose sslserver -verify_hostname "$h"
		ok "/interop/gnutls/$t/$h" gnutls_verify "$root" "$leaf" --verify-hostname "$h"
		ok "/interop/node/$t/$h" node_tls "$root" "$leaf" "$key" "$h" ok
	done
	for ip in 127.0.0.1 ::1; do
		ok "/interop/openssl/$t/$ip" ossl_verify "$root" "$leaf" -purpose sslserver -verify_ip "$ip"
		ok "/interop/gnutls/$t/$ip" gnutls_verify "$root" "$leaf" --verify-hostname "$ip"
	done
	fails "/interop/openssl/$t/127.0.0.2-rejected" ossl_verify "$root" "$leaf" -verify_ip 127.0.0.2
	ok "/interop/node/$t/127.0.0.1" node_tls "$root" "$leaf" "$key" 127.0.0.1 ok
	if node -e 'require("net").createServer().listen(0, "::1", function () { this.close(); })' 2>/dev/null; then
		ok "/interop/node/$t/::1" node_tls "$root" "$leaf" "$key" ::1 ok
	else
		ok "/interop/node/$t/::1 # SKIP no IPv6 loopback" true
	fi
	chain_file "$leaf" "$root" "$dir/chain.pem"
	ok "/interop/gnutls-chain/$t" gnutls_chain "$dir/chain.pem"
	ok "/interop/nss/$t" nss_verify "$dir/nss" "$root" "$leaf" V
done

# Client certificates: --client adds TLS client auth; a plain leaf lacks it.
ca=$TMP/ca-p256
root=$ca/rootCA.pem
dir=$TMP/out/client
mkdir -p "$dir"
for lk in ecdsa rsa; do
	l=$(leaf_label "$lk")
	t=p256-root/$l-client-leaf
	leaf=$dir/$l/localhost-client.pem
	mkdir -p "$dir/$l"
	ok "/interop/issue/$t" env GBCA_CAROOT="$ca" "$GBCA" issue --client --key "$lk" -q \
		--out-dir "$dir/$l" localhost
	ok "/interop/openssl/$t/sslclient" ossl_verify "$root" "$leaf" -purpose sslclient
	ok "/interop/openssl/$t/sslserver" ossl_verify "$root" "$leaf" -purpose sslserver
	ok "/interop/gnutls/$t/client-auth" gnutls_verify "$root" "$leaf" --verify-purpose "$CLIENT_AUTH"
	ok "/interop/nss/$t/client" nss_verify "$dir/$l/nss" "$root" "$leaf" C
done
leaf=$TMP/out/p256-p256/$NAME.pem
fails "/interop/openssl/p256-root/server-leaf-not-sslclient" ossl_verify "$root" "$leaf" -purpose sslclient
fails "/interop/gnutls/p256-root/server-leaf-not-client-auth" \
	gnutls_verify "$root" "$leaf" --verify-purpose "$CLIENT_AUTH"
out=$(nss_verify "$dir/nss-server" "$root" "$leaf" C 2>&1)
like "/interop/nss/p256-root/server-leaf-not-client" "$out" 'certificate is invalid: Certificate type not approved'

# PKCS#12: OpenSSL, GnuTLS and Node open it with the default password only.
for rk in ecdsa rsa; do
	r=$(root_label "$rk")
	ca=$TMP/ca-$r
	root=$ca/rootCA.pem
	dir=$TMP/out/p12-$r
	p12=$dir/$NAME.p12
	t=$r-root/pkcs12
	mkdir -p "$dir"
	ok "/interop/issue/$t" env GBCA_CAROOT="$ca" "$GBCA" issue --pkcs12 -q --out-dir "$dir"
	ok "/interop/openssl/$t/info" openssl pkcs12 -info -noout -passin pass:changeit -in "$p12"
	fails "/interop/openssl/$t/wrong-password" openssl pkcs12 -info -noout -passin pass:wrong -in "$p12"
	ok "/interop/openssl/$t/cert" openssl pkcs12 -in "$p12" -passin pass:changeit -nokeys -clcerts -out "$dir/cert.pem"
	ok "/interop/openssl/$t/key" openssl pkcs12 -in "$p12" -passin pass:changeit -nocerts -nodes -out "$dir/key.pem"
	ok "/interop/openssl/$t/cert-verifies" ossl_verify "$root" "$dir/cert.pem" -purpose sslserver -verify_hostname "$NAME"
	is "/interop/openssl/$t/key-matches-cert" \
		"$(openssl pkey -in "$dir/key.pem" -pubout 2>&1)" \
		"$(openssl x509 -in "$dir/cert.pem" -noout -pubkey 2>&1)"
	ok "/interop/gnutls/$t/info" certtool --p12-info --inder --password changeit --infile "$p12"
	fails "/interop/gnutls/$t/wrong-password" certtool --p12-info --inder --password wrong --infile "$p12"
	ok "/interop/node/$t" node_tls "$root" "$p12" changeit "$NAME" ok
done

done_testing
