/* DER pieces built with libtasn1 from trust/gbca.asn, for the trust stores. */
#ifndef GBCA_DER_H
#define GBCA_DER_H

#include <gbca/err.h>
#include <gnutls/x509.h>
#include <stdbool.h>

/* The certificate's serial as a DER INTEGER (tag, length, value), the form
 * NSS wants in CKA_SERIAL_NUMBER. Free out->data with free(). */
bool gbca_der_cert_serial(gnutls_x509_crt_t crt, gnutls_datum_t *out, struct gbca_err *err);

#endif
