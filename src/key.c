/* Key types, key generation and export, random serials. */
#include "config.h"
#include <gbca/key.h>

#include <gnutls/crypto.h>
#include <string.h>

static const struct {
	const char *name;
	enum gbca_key_type type;
} key_names[] = {
	{ "ecdsa", GBCA_KEY_P256 },
	{ "p256", GBCA_KEY_P256 },
	{ "ecdsa-p256", GBCA_KEY_P256 },
	{ "p384", GBCA_KEY_P384 },
	{ "ecdsa-p384", GBCA_KEY_P384 },
	{ "rsa2048", GBCA_KEY_RSA2048 },
	{ "rsa-2048", GBCA_KEY_RSA2048 },
	{ "rsa3072", GBCA_KEY_RSA3072 },
	{ "rsa-3072", GBCA_KEY_RSA3072 },
};

bool
gbca_key_type_parse(const char *s, enum gbca_key_type rsa_default,
                    enum gbca_key_type *out, struct gbca_err *err)
{
	if (strcmp(s, "rsa") == 0) {
		*out = rsa_default;
		return true;
	}
	for (size_t i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++) {
		if (strcmp(s, key_names[i].name) == 0) {
			*out = key_names[i].type;
			return true;
		}
	}
	return gbca_fail(err, "unknown key type \"%s\"; choose ecdsa (P-256), p384, rsa, rsa2048 or rsa3072", s);
}

const char *
gbca_key_type_name(enum gbca_key_type t)
{
	switch (t) {
	case GBCA_KEY_P256: return "ECDSA P-256";
	case GBCA_KEY_P384: return "ECDSA P-384";
	case GBCA_KEY_RSA2048: return "RSA-2048";
	case GBCA_KEY_RSA3072: return "RSA-3072";
	}
	return "?";
}

bool
gbca_key_type_is_rsa(enum gbca_key_type t)
{
	return t == GBCA_KEY_RSA2048 || t == GBCA_KEY_RSA3072;
}

bool
gbca_key_generate(enum gbca_key_type t, gnutls_x509_privkey_t *out, struct gbca_err *err)
{
	gnutls_x509_privkey_t key;
	gnutls_pk_algorithm_t pk = GNUTLS_PK_ECDSA;
	unsigned bits = 0;
	int ret;

	switch (t) {
	case GBCA_KEY_P256: bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1); break;
	case GBCA_KEY_P384: bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1); break;
	case GBCA_KEY_RSA2048: pk = GNUTLS_PK_RSA; bits = 2048; break;
	case GBCA_KEY_RSA3072: pk = GNUTLS_PK_RSA; bits = 3072; break;
	}
	ret = gnutls_x509_privkey_init(&key);
	if (ret < 0)
		return gbca_fail(err, "couldn't make a key: %s", gnutls_strerror(ret));
	ret = gnutls_x509_privkey_generate(key, pk, bits, 0);
	if (ret < 0) {
		gnutls_x509_privkey_deinit(key);
		return gbca_fail(err, "couldn't generate a %s key: %s", gbca_key_type_name(t), gnutls_strerror(ret));
	}
	*out = key;
	return true;
}

gnutls_digest_algorithm_t
gbca_key_digest(gnutls_x509_privkey_t key)
{
	unsigned bits = 0;

	if (gnutls_x509_privkey_get_pk_algorithm2(key, &bits) == GNUTLS_PK_ECDSA && bits >= 384)
		return GNUTLS_DIG_SHA384;
	return GNUTLS_DIG_SHA256;
}

bool
gbca_key_export_pem(gnutls_x509_privkey_t key, gnutls_datum_t *out, struct gbca_err *err)
{
	int ret = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, out);

	if (ret < 0)
		return gbca_fail(err, "couldn't encode the private key: %s", gnutls_strerror(ret));
	return true;
}

bool
gbca_random_serial(unsigned char serial[20], struct gbca_err *err)
{
	int ret = gnutls_rnd(GNUTLS_RND_NONCE, serial, 20);

	if (ret < 0)
		return gbca_fail(err, "couldn't get random bytes: %s", gnutls_strerror(ret));
	/* Top bit clear keeps the DER INTEGER positive; the next bit set keeps it
	 * exactly 20 octets with no leading zero to strip. */
	serial[0] = (unsigned char)((serial[0] & 0x3f) | 0x40);
	return true;
}
