/* Leaf certificates: issuance, CSR signing, PKCS#12 export. */
#ifndef GBCA_ISSUE_H
#define GBCA_ISSUE_H

#include <gbca/ca.h>
#include <gbca/err.h>
#include <gbca/key.h>
#include <gbca/names.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <time.h>

#define GBCA_LEAF_DAYS_MAX 825
#define GBCA_DEFAULT_NAME "generativelanguage.googleapis.com"

struct gbca_leaf_request {
	const struct gbca_name *names;
	size_t n_names;
	enum gbca_key_type key_type;
	unsigned days;              /* 1..GBCA_LEAF_DAYS_MAX */
	bool client;                /* add clientAuth */
	gnutls_x509_crq_t csr;      /* if set: its public key is certified, no key is made */
	time_t now;                 /* 0: the current time */
};

struct gbca_leaf {
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;  /* NULL for a CSR */
	bool clipped;               /* not-after was cut to the CA's */
};

/* Checks every name against the CA's constraints first, then makes the key
 * and the certificate. */
bool gbca_issue_leaf(const struct gbca_ca *ca, const struct gbca_leaf_request *r,
                     struct gbca_leaf *out, struct gbca_err *err);
void gbca_leaf_free(struct gbca_leaf *leaf);

/* Issues a leaf for r (no CSR: it makes its own key), writes the certificate
 * (0644) and the key (0600) as one atomic pair, and logs it in the CA's
 * issued.log; a log that can't be opened stops it before any file is made.
 * *out holds the leaf afterwards, whatever happened (free it with
 * gbca_leaf_free). When the files are written but the log line is not, it
 * fails with "the certificate was written but not logged", unless
 * log_optional. */
bool gbca_issue_pem_pair(const struct gbca_ca *ca, const struct gbca_leaf_request *r,
                         const char *cert_path, const char *key_path, bool log_optional,
                         struct gbca_leaf *out, struct gbca_err *err);

/* Loads a CSR (PEM or DER), checks its self-signature, and returns its SANs
 * parsed as names (allocated; free with free()). */
bool gbca_csr_load(const char *path, gnutls_x509_crq_t *csr, struct gbca_name **names,
                   size_t *n_names, struct gbca_err *err);

/* A PKCS#12 file with the certificate and key, encrypted with password
 * (AES-256 PBES2, SHA-256 MAC). Free out->data with gnutls_free. */
bool gbca_leaf_pkcs12(const struct gbca_leaf *leaf, const char *friendly_name, const char *password,
                      gnutls_datum_t *out, struct gbca_err *err);

#endif
