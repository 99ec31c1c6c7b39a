/* The local root CA: creation, import, loading, locking, and its name constraints. */
#ifndef GBCA_CA_H
#define GBCA_CA_H

#include <gbca/err.h>
#include <gbca/key.h>
#include <gbca/names.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <stdbool.h>
#include <time.h>

#define GBCA_CA_CERT_FILE "rootCA.pem"
#define GBCA_CA_KEY_FILE "rootCA-key.pem"
#define GBCA_CA_DAYS 3650
#define GBCA_SUBTREES_MAX 64

struct gbca_ca {
	char dir[PATH_MAX];
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;  /* NULL when loaded without the key */
	bool constrained;           /* has a name-constraints extension */
	size_t n_permitted, n_excluded;
	struct gbca_subtree permitted[GBCA_SUBTREES_MAX];
	struct gbca_subtree excluded[GBCA_SUBTREES_MAX];
};

struct gbca_ca_options {
	enum gbca_key_type key_type;
	bool constrained;
	const struct gbca_subtree *permit;  /* added to the defaults */
	size_t n_permit;
	const char *import_cert, *import_key;
	bool force;
	unsigned days;                      /* validity of a made root; 0: GBCA_CA_DAYS */
};

/* The permitted subtrees every constrained root gets. */
size_t gbca_ca_default_subtrees(struct gbca_subtree *out, size_t max);

/* Holds an flock on the CAROOT directory; released by gbca_ca_unlock or exit.
 * Blocks until the lock is free. */
bool gbca_ca_lock(const char *dir, bool exclusive, int *fd, struct gbca_err *err);
void gbca_ca_unlock(int fd);

/* Makes (or imports) a root and writes it to dir, which must exist and be locked.
 * Refuses to replace an existing one unless o->force; then the old files are
 * kept in dir/backup-YYYYmmddTHHMMSSZ/. On success *backup names that folder
 * (empty when there was nothing to back up). */
bool gbca_ca_create(const char *dir, const struct gbca_ca_options *o, struct gbca_ca *out,
                    char *backup, size_t backup_len, struct gbca_err *err);

/* Loads the root from dir, checking permissions, key/certificate match, CA
 * flags and validity. need_key false loads the certificate alone. */
bool gbca_ca_load(const char *dir, bool need_key, struct gbca_ca *ca, struct gbca_err *err);
void gbca_ca_free(struct gbca_ca *ca);

/* Whether the root's name constraints allow n; err names the constraint and the fix. */
bool gbca_ca_allows(const struct gbca_ca *ca, const struct gbca_name *n, struct gbca_err *err);

/* Reads the name constraints of crt into ca (used by load and create). */
bool gbca_ca_read_constraints(struct gbca_ca *ca, struct gbca_err *err);

#endif
