/* DER pieces built with libtasn1 from trust/gbca.asn, for the trust stores. */
#ifndef GBCA_DER_H
#define GBCA_DER_H

#include <gbca/err.h>
#include <gnutls/x509.h>
#include <stdbool.h>

/* The certificate's serial as a DER INTEGER (tag, length, value), the form
 * NSS wants in CKA_SERIAL_NUMBER. Free out->data with free(). */
bool gbca_der_cert_serial(gnutls_x509_crt_t crt, gnutls_datum_t *out, struct gbca_err *err);

/* The stapled extension that limits a p11-kit trust anchor to TLS server
 * authentication: *oid is the DER OBJECT IDENTIFIER of extKeyUsage
 * (2.5.29.37) and *value a critical Extension whose value is the
 * ExtKeyUsageSyntax holding serverAuth. Free both with free(). */
bool gbca_der_eku_server_auth(gnutls_datum_t *oid, gnutls_datum_t *value, struct gbca_err *err);

#endif
