/* The proxy's TLS context: the priority cache, the certificate credentials
 * (one leaf per served name, chosen by SNI), and the shared ticket key.
 * Leaves come from --cert/--key, or are issued from CAROOT into
 * CAROOT/serve/ and reused while they have more than a third of their life
 * left; the master renews them when that third begins (renew_at). An issued
 * leaf is sent with the root after it (chain_with_root); --cert is sent as
 * the file has it. */
#include "config.h"
#include <gbca/ca.h>
#include <gbca/drop.h>
#include <gbca/issue.h>
#include <gbca/ledger.h>
#include <gbca/path.h>
#include <gbca/proxy.h>
#include <gbca/save.h>

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* TLS 1.3 and 1.2 only (Debian's NORMAL still offers 1.0 and 1.1), AEAD
 * ciphers only, AES-GCM before ChaCha20 (GnuTLS's ChaCha20 is ~16x slower
 * than its AES-GCM on these machines), and our order, not the client's. */
const char gbca_tls_priority[] =
	"SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:"
	"-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"
	"-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:"
	"-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:"
	"%SERVER_PRECEDENCE";

/* When a leaf is due for renewal: a third of its life before its expiry;
 * 0 (never) when it ends with the CA, as a new one would too. */
static uint64_t
renew_time(gnutls_x509_crt_t crt, const struct gbca_ca *ca)
{
	time_t nb = gnutls_x509_crt_get_activation_time(crt);
	time_t na = gnutls_x509_crt_get_expiration_time(crt);

	if (na >= gnutls_x509_crt_get_expiration_time(ca->crt))
		return 0;
	return (uint64_t)(na - (na - nb) / 3);
}

/* A leaf in CAROOT/serve/ is reused when it names the host, chains to the
 * CA and is not yet due for renewal; *renew_at is when it will be. */
static bool
leaf_usable(const char *cert_path, const struct gbca_ca *ca, const char *name, uint64_t *renew_at)
{
	gnutls_datum_t d = { NULL, 0 };
	gnutls_x509_crt_t crt;
	unsigned status = 1;
	bool ok = false;

	if (gnutls_load_file(cert_path, &d) < 0)
		return false;
	gnutls_x509_crt_init(&crt);
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) >= 0 &&
	    gnutls_x509_crt_check_hostname(crt, name) &&
	    gnutls_x509_crt_verify(crt, &ca->crt, 1, 0, &status) >= 0 && status == 0) {
		*renew_at = renew_time(crt, ca);
		ok = *renew_at == 0 || (uint64_t)time(NULL) < *renew_at;
	}
	gnutls_x509_crt_deinit(crt);
	gnutls_free(d.data);
	return ok;
}

static bool
issue_leaf(const struct gbca_ca *ca, const char *name, const char *cert_path, const char *key_path,
           uint64_t *renew_at, struct gbca_err *err)
{
	struct gbca_name n;
	struct gbca_leaf_request req = { .names = &n, .n_names = 1, .key_type = GBCA_KEY_P256, .days = GBCA_LEAF_DAYS_MAX };
	struct gbca_leaf leaf;
	bool ok;

	if (!gbca_name_parse(name, &n, err))
		return false;
	/* the log line is best effort here: serving matters more */
	ok = gbca_issue_pem_pair(ca, &req, cert_path, key_path, true, &leaf, err);
	if (ok)
		*renew_at = renew_time(leaf.crt, ca);
	gbca_leaf_free(&leaf);
	return ok;
}

/* Issues or reuses the leaves in CAROOT/serve/. As root on a user's CAROOT
 * this runs as the CAROOT's owner (gbca_as_owner): the files are theirs, and
 * a link planted in CAROOT leads nowhere the user couldn't write anyway. */
static bool
refresh_leaves(void *arg, struct gbca_err *err)
{
	const struct gbca_proxy_config *c = arg;
	char dir[PATH_MAX], cert_path[PATH_MAX], key_path[PATH_MAX], stem[300], file[320];
	struct gbca_ca ca;
	bool have_key = false, ok = false;
	int lock_fd = -1;

	if (!gbca_path_join(dir, sizeof(dir), c->caroot, "serve", err) ||
	    !gbca_ca_lock(c->caroot, true, &lock_fd, err))
		return false;
	if (!gbca_ca_load(c->caroot, false, &ca, err))
		goto out_unlock;
	for (size_t i = 0; i < c->n_names; i++) {
		uint64_t renew = 0;
		gbca_name_file_stem(c->names[i], stem, sizeof(stem));
		snprintf(file, sizeof(file), "%s.pem", stem);
		if (!gbca_path_join(cert_path, sizeof(cert_path), dir, file, err))
			goto out;
		snprintf(file, sizeof(file), "%s-key.pem", stem);
		if (!gbca_path_join(key_path, sizeof(key_path), dir, file, err))
			goto out;
		if (leaf_usable(cert_path, &ca, c->names[i], &renew) && access(key_path, R_OK) == 0)
			continue;
		if (!have_key) {
			/* Signing needs the key: reload the CA with it. */
			gbca_ca_free(&ca);
			if (!gbca_ca_load(c->caroot, true, &ca, err))
				goto out_unlock;
			have_key = true;
		}
		if (!gbca_mkdir_p(dir, 0700, err) || !issue_leaf(&ca, c->names[i], cert_path, key_path, &renew, err))
			goto out;
	}
	ok = true;
out:
	gbca_ca_free(&ca);
out_unlock:
	gbca_ca_unlock(lock_fd);
	return ok;
}

/* Reads one file of the owner's with no links followed (gbca_read_owned). */
static bool
read_datum(const char *dir, const char *name, uid_t owner, mode_t forbid, gnutls_datum_t *d,
           struct gbca_err *err)
{
	char *data;
	size_t len;

	if (!gbca_read_owned(dir, name, owner, forbid, 1 << 20, &data, &len, err))
		return false;
	d->data = (unsigned char *)data;
	d->size = (unsigned)len;
	return true;
}

static void
free_datum(gnutls_datum_t *d)
{
	if (d->data) {
		gnutls_memset(d->data, 0, d->size);
		free(d->data);
	}
	d->data = NULL;
}

/* The chain a leaf is served with: the leaf, then the root that issued it.
 * A client that trusts the root ignores the extra certificate (RFC 8446
 * section 4.4.2 allows it); a teammate's 'gbca join' takes the root from
 * here and keeps it only if its fingerprint is the one 'gbca export' showed
 * on this machine, so no extra endpoint serves it. */
static bool
chain_with_root(const gnutls_datum_t *leaf, const gnutls_datum_t *root, gnutls_datum_t *out)
{
	size_t n = (size_t)leaf->size + 1 + root->size;

	if ((out->data = malloc(n)) == NULL)
		return false;
	memcpy(out->data, leaf->data, leaf->size);
	out->data[leaf->size] = '\n';
	memcpy(out->data + leaf->size + 1, root->data, root->size);
	out->size = (unsigned)n;
	return true;
}

/* Issues or reuses the leaves (as the CAROOT's owner), then loads them into
 * creds. Root reads them, and the CA certificate, only through
 * gbca_read_owned: files, not links, owned by the CAROOT's owner. */
static bool
load_issued(struct gbca_tls *t, const struct gbca_proxy_config *c, struct gbca_err *err)
{
	char dir[PATH_MAX], stem[300], cert_file[320], key_file[320];
	gnutls_datum_t ca_pem = { NULL, 0 }, cert = { NULL, 0 }, key = { NULL, 0 }, chain = { NULL, 0 };
	gnutls_x509_crt_t ca_crt = NULL, crt = NULL;
	struct gbca_ca ca = { .crt = NULL };
	bool ok = false;
	uid_t uid;
	gid_t gid;
	int ret;

	if (!gbca_path_join(dir, sizeof(dir), c->caroot, "serve", err) ||
	    !gbca_owner_of(c->caroot, &uid, &gid, err) ||
	    !gbca_as_owner(uid, gid, refresh_leaves, (void *)c, err) ||
	    !read_datum(c->caroot, GBCA_CA_CERT_FILE, uid, 022, &ca_pem, err))
		return false;
	gnutls_x509_crt_init(&ca_crt);
	if ((ret = gnutls_x509_crt_import(ca_crt, &ca_pem, GNUTLS_X509_FMT_PEM)) < 0) {
		gbca_fail(err, "couldn't read %s/%s: %s", c->caroot, GBCA_CA_CERT_FILE, gnutls_strerror(ret));
		goto out;
	}
	ca.crt = ca_crt;
	for (size_t i = 0; i < c->n_names; i++) {
		uint64_t renew;
		gbca_name_file_stem(c->names[i], stem, sizeof(stem));
		snprintf(cert_file, sizeof(cert_file), "%s.pem", stem);
		snprintf(key_file, sizeof(key_file), "%s-key.pem", stem);
		free_datum(&cert);
		free_datum(&key);
		free_datum(&chain);
		if (!read_datum(dir, cert_file, uid, 022, &cert, err) || !read_datum(dir, key_file, uid, 077, &key, err))
			goto out;
		if (!chain_with_root(&cert, &ca_pem, &chain)) {
			gbca_fail(err, "out of memory");
			goto out;
		}
		ret = gnutls_certificate_set_x509_key_mem2(t->creds, &chain, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
		if (ret < 0) {
			gbca_fail(err, "couldn't load %s/%s: %s", dir, cert_file, gnutls_strerror(ret));
			goto out;
		}
		gnutls_x509_crt_init(&crt);
		if (gnutls_x509_crt_import(crt, &cert, GNUTLS_X509_FMT_PEM) >= 0) {
			renew = renew_time(crt, &ca);
			if (renew && (t->renew_at == 0 || renew < t->renew_at))
				t->renew_at = renew;
		}
		gnutls_x509_crt_deinit(crt);
	}
	ok = true;
out:
	free_datum(&cert);
	free_datum(&key);
	free_datum(&chain);
	free_datum(&ca_pem);
	gnutls_x509_crt_deinit(ca_crt);
	return ok;
}

/* The trust an https upstream is verified with: --upstream-ca's PEM
 * certificates (all of them, none is not enough), or the system store. */
static bool
load_upstream_trust(struct gbca_tls *t, const struct gbca_proxy_config *c, struct gbca_err *err)
{
	int ret;

	if (gnutls_certificate_allocate_credentials(&t->upstream_creds) < 0)
		return gbca_fail(err, "out of memory");
	if (c->upstream_ca[0] == '\0') {
		ret = gnutls_certificate_set_x509_system_trust(t->upstream_creds);
		if (ret <= 0)
			return gbca_fail(err, "the https upstream is verified with the system trust store, which GnuTLS couldn't "
			                 "load (%s); give the upstream's CA with --upstream-ca FILE",
			                 ret < 0 ? gnutls_strerror(ret) : "no certificates");
		return true;
	}
	if (!gbca_path_readable(c->upstream_ca, err))
		return gbca_fail_prefix(err, "--upstream-ca");
	ret = gnutls_certificate_set_x509_trust_file(t->upstream_creds, c->upstream_ca, GNUTLS_X509_FMT_PEM);
	if (ret < 0)
		return gbca_fail(err, "--upstream-ca %s: not PEM CA certificates (%s)", c->upstream_ca, gnutls_strerror(ret));
	if (ret == 0)
		return gbca_fail(err, "--upstream-ca %s holds no certificate (PEM, \"-----BEGIN CERTIFICATE-----\")", c->upstream_ca);
	return true;
}

bool
gbca_tls_load(struct gbca_tls *t, const struct gbca_proxy_config *c, struct gbca_err *err)
{
	const char *where = NULL;
	int ret;

	memset(t, 0, sizeof(*t));
	if ((ret = gnutls_priority_init2(&t->priority, gbca_tls_priority, &where, 0)) < 0)
		return gbca_fail(err, "bad TLS priority near \"%s\": %s", where ? where : "?", gnutls_strerror(ret));
	if (gnutls_certificate_allocate_credentials(&t->creds) < 0) {
		gbca_tls_free(t);
		return gbca_fail(err, "out of memory");
	}
	if (c->cert_file[0]) {
		if (!gbca_path_readable(c->cert_file, err) || !gbca_path_readable(c->key_file, err)) {
			gbca_tls_free(t);
			return gbca_fail_prefix(err, "--cert/--key");
		}
		ret = gnutls_certificate_set_x509_key_file2(t->creds, c->cert_file, c->key_file, GNUTLS_X509_FMT_PEM, NULL, 0);
		if (ret < 0) {
			gbca_tls_free(t);
			return gbca_fail(err, "couldn't load --cert %s / --key %s: %s", c->cert_file, c->key_file, gnutls_strerror(ret));
		}
	} else if (!load_issued(t, c, err)) {
		gbca_tls_free(t);
		return false;
	}
	if (c->google_passthrough) {
		/* The real Google is checked against the system store, like any client would. */
		if ((ret = gnutls_certificate_allocate_credentials(&t->google_creds)) < 0 ||
		    (ret = gnutls_certificate_set_x509_system_trust(t->google_creds)) <= 0) {
			gbca_tls_free(t);
			return gbca_fail(err, "--google-passthrough needs the system trust store, which GnuTLS couldn't load (%s)",
			                 ret < 0 ? gnutls_strerror(ret) : "no certificates");
		}
	}
	if (c->upstream_tls && !load_upstream_trust(t, c, err)) {
		gbca_tls_free(t);
		return false;
	}
	if ((ret = gnutls_session_ticket_key_generate(&t->ticket_key)) < 0) {
		gbca_tls_free(t);
		return gbca_fail(err, "couldn't make a session ticket key: %s", gnutls_strerror(ret));
	}
	return true;
}

void
gbca_tls_free(struct gbca_tls *t)
{
	if (t->priority)
		gnutls_priority_deinit(t->priority);
	if (t->creds)
		gnutls_certificate_free_credentials(t->creds);
	if (t->google_creds)
		gnutls_certificate_free_credentials(t->google_creds);
	if (t->upstream_creds)
		gnutls_certificate_free_credentials(t->upstream_creds);
	if (t->ticket_key.data) {
		gnutls_memset(t->ticket_key.data, 0, t->ticket_key.size);
		gnutls_free(t->ticket_key.data);
	}
	memset(t, 0, sizeof(*t));
}
