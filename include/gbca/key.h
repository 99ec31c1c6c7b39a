/* Key types and key generation. */
#ifndef GBCA_KEY_H
#define GBCA_KEY_H

#include <gbca/err.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdbool.h>

enum gbca_key_type {
	GBCA_KEY_P256,
	GBCA_KEY_P384,
	GBCA_KEY_RSA2048,
	GBCA_KEY_RSA3072,
};

/* "ecdsa"/"p256", "p384", "rsa2048", "rsa3072"; "rsa" means rsa_default. */
bool gbca_key_type_parse(const char *s, enum gbca_key_type rsa_default,
                         enum gbca_key_type *out, struct gbca_err *err);
const char *gbca_key_type_name(enum gbca_key_type t);
bool gbca_key_type_is_rsa(enum gbca_key_type t);

bool gbca_key_generate(enum gbca_key_type t, gnutls_x509_privkey_t *out, struct gbca_err *err);

/* The hash that goes with a signing key: SHA-384 for P-384, else SHA-256. */
gnutls_digest_algorithm_t gbca_key_digest(gnutls_x509_privkey_t key);

/* Exports a private key as unencrypted PKCS#8 PEM; free out->data with gnutls_free. */
bool gbca_key_export_pem(gnutls_x509_privkey_t key, gnutls_datum_t *out, struct gbca_err *err);

/* A random positive 20-byte certificate serial (RFC 5280 allows 20 octets). */
bool gbca_random_serial(unsigned char serial[20], struct gbca_err *err);

#endif
