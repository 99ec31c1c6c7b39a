/* Leaf certificates: building and signing, CSR intake, PKCS#12 export. */
#include "config.h"
#include <gbca/issue.h>
#include <gbca/path.h>
#include <gbca/key.h>
#include <gbca/ledger.h>
#include <gbca/save.h>

#include <arpa/inet.h>
#include <gnutls/abstract.h>
#include <gnutls/pkcs12.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
gbca_leaf_free(struct gbca_leaf *leaf)
{
	if (leaf->crt)
		gnutls_x509_crt_deinit(leaf->crt);
	if (leaf->key)
		gnutls_x509_privkey_deinit(leaf->key);
	leaf->crt = NULL;
	leaf->key = NULL;
}

static int
add_san(gnutls_x509_crt_t crt, const struct gbca_name *n)
{
	switch (n->type) {
	case GBCA_NAME_DNS:
	case GBCA_NAME_WILDCARD:
		return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, n->text,
		                                            (unsigned)strlen(n->text), GNUTLS_FSAN_APPEND);
	case GBCA_NAME_IPV4:
		return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, n->ip, 4, GNUTLS_FSAN_APPEND);
	case GBCA_NAME_IPV6:
		return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, n->ip, 16, GNUTLS_FSAN_APPEND);
	case GBCA_NAME_EMAIL:
		return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_RFC822NAME, n->text,
		                                            (unsigned)strlen(n->text), GNUTLS_FSAN_APPEND);
	case GBCA_NAME_URI:
		return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_URI, n->text,
		                                            (unsigned)strlen(n->text), GNUTLS_FSAN_APPEND);
	}
	return GNUTLS_E_INVALID_REQUEST;
}

static int
set_authority_key_id(gnutls_x509_crt_t crt, gnutls_x509_crt_t ca)
{
	unsigned char id[64];
	size_t len = sizeof(id);
	unsigned critical;
	int ret = gnutls_x509_crt_get_subject_key_id(ca, id, &len, &critical);

	if (ret < 0) {
		len = sizeof(id);
		ret = gnutls_x509_crt_get_key_id(ca, 0, id, &len);
	}
	if (ret < 0)
		return ret;
	return gnutls_x509_crt_set_authority_key_id(crt, id, len);
}

bool
gbca_issue_leaf(const struct gbca_ca *ca, const struct gbca_leaf_request *r,
                struct gbca_leaf *out, struct gbca_err *err)
{
	static const char org[] = "gbca development certificate";
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	unsigned char serial[20], keyid[64];
	size_t keyid_len = sizeof(keyid);
	bool server = false, email = false;
	unsigned usage = GNUTLS_KEY_DIGITAL_SIGNATURE;
	time_t now = r->now ? r->now : time(NULL);
	time_t not_after = now + (time_t)r->days * 86400;
	time_t ca_not_after = gnutls_x509_crt_get_expiration_time(ca->crt);
	int ret;

	memset(out, 0, sizeof(*out));
	if (r->n_names == 0)
		return gbca_fail(err, "no names to put in the certificate");
	if (r->days < 1 || r->days > GBCA_LEAF_DAYS_MAX)
		return gbca_fail(err, "--days must be 1..%d (clients reject longer server certificates)", GBCA_LEAF_DAYS_MAX);
	for (size_t i = 0; i < r->n_names; i++) {
		if (!gbca_ca_allows(ca, &r->names[i], err))
			return false;
		if (r->names[i].type == GBCA_NAME_EMAIL)
			email = true;
		else
			server = true;
	}
	if (not_after > ca_not_after) {
		not_after = ca_not_after;
		out->clipped = true;
	}
	if (r->csr == NULL && !gbca_key_generate(r->key_type, &out->key, err))
		return false;
	if (!gbca_random_serial(serial, err))
		goto fail;
	if ((ret = gnutls_x509_crt_init(&crt)) < 0 ||
	    (ret = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (ret = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
	    (ret = gnutls_x509_crt_set_activation_time(crt, now)) < 0 ||
	    (ret = gnutls_x509_crt_set_expiration_time(crt, not_after)) < 0 ||
	    (ret = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, org, sizeof(org) - 1)) < 0)
		goto gnutls_fail;
	if (out->key) {
		ret = gnutls_x509_crt_set_key(crt, out->key);
	} else {
		if ((ret = gnutls_pubkey_init(&pub)) < 0 ||
		    (ret = gnutls_pubkey_import_x509_crq(pub, r->csr, 0)) < 0)
			goto gnutls_fail;
		ret = gnutls_x509_crt_set_pubkey(crt, pub);
	}
	if (ret < 0)
		goto gnutls_fail;
	for (size_t i = 0; i < r->n_names; i++)
		if ((ret = add_san(crt, &r->names[i])) < 0) {
			gbca_fail(err, "couldn't add \"%s\" to the certificate: %s", r->names[i].text, gnutls_strerror(ret));
			goto fail;
		}
	if (gnutls_x509_crt_get_pk_algorithm(crt, NULL) == GNUTLS_PK_RSA)
		usage |= GNUTLS_KEY_KEY_ENCIPHERMENT;
	if ((ret = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (ret = gnutls_x509_crt_set_key_usage(crt, usage)) < 0 ||
	    (server && (ret = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0) ||
	    (r->client && (ret = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0) ||
	    (email && (ret = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_EMAIL_PROTECTION, 0)) < 0) ||
	    (ret = gnutls_x509_crt_get_key_id(crt, 0, keyid, &keyid_len)) < 0 ||
	    (ret = gnutls_x509_crt_set_subject_key_id(crt, keyid, keyid_len)) < 0 ||
	    (ret = set_authority_key_id(crt, ca->crt)) < 0)
		goto gnutls_fail;
	ret = gnutls_x509_crt_sign2(crt, ca->crt, ca->key, gbca_key_digest(ca->key), 0);
	if (ret < 0) {
		gbca_fail(err, "couldn't sign the certificate: %s", gnutls_strerror(ret));
		goto fail;
	}
	if (pub)
		gnutls_pubkey_deinit(pub);
	out->crt = crt;
	return true;

gnutls_fail:
	gbca_fail(err, "couldn't build the certificate: %s", gnutls_strerror(ret));
fail:
	if (pub)
		gnutls_pubkey_deinit(pub);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	gbca_leaf_free(out);
	return false;
}

static bool
csr_name_text(unsigned type, const char *buf, size_t size, char *text, size_t len)
{
	if (type == GNUTLS_SAN_IPADDRESS) {
		if (size == 4)
			return inet_ntop(AF_INET, buf, text, (socklen_t)len) != NULL;
		if (size == 16)
			return inet_ntop(AF_INET6, buf, text, (socklen_t)len) != NULL;
		return false;
	}
	if (size >= len || memchr(buf, '\0', size))
		return false;
	memcpy(text, buf, size);
	text[size] = '\0';
	return true;
}

bool
gbca_csr_load(const char *path, gnutls_x509_crq_t *csr_out, struct gbca_name **names_out,
              size_t *n_out, struct gbca_err *err)
{
	gnutls_datum_t d = { NULL, 0 };
	gnutls_x509_crq_t csr = NULL;
	struct gbca_name *names = NULL;
	size_t n = 0;
	char buf[GBCA_NAME_MAX + 1], text[GBCA_NAME_MAX + 1];
	int ret;

	if (!gbca_path_readable(path, err))
		return gbca_fail_prefix(err, "--csr");
	ret = gnutls_load_file(path, &d);
	if (ret < 0)
		return gbca_fail(err, "couldn't read the CSR %s: %s", path, gnutls_strerror(ret));
	gnutls_x509_crq_init(&csr);
	ret = gnutls_x509_crq_import(csr, &d, GNUTLS_X509_FMT_PEM);
	if (ret < 0)
		ret = gnutls_x509_crq_import(csr, &d, GNUTLS_X509_FMT_DER);
	gnutls_free(d.data);
	if (ret < 0) {
		gbca_fail(err, "%s is not a valid certificate signing request (%s)", path, gnutls_strerror(ret));
		goto fail;
	}
	ret = gnutls_x509_crq_verify(csr, 0);
	if (ret < 0) {
		gbca_fail(err, "the signature on the CSR %s does not verify (%s); it was altered or made wrongly", path, gnutls_strerror(ret));
		goto fail;
	}
	for (unsigned i = 0;; i++) {
		size_t size = sizeof(buf);
		unsigned type = 0, critical = 0;
		struct gbca_name *grown;
		ret = gnutls_x509_crq_get_subject_alt_name(csr, i, buf, &size, &type, &critical);
		if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (ret < 0) {
			gbca_fail(err, "couldn't read the names in the CSR %s: %s", path, gnutls_strerror(ret));
			goto fail;
		}
		if (type != GNUTLS_SAN_DNSNAME && type != GNUTLS_SAN_IPADDRESS && type != GNUTLS_SAN_RFC822NAME && type != GNUTLS_SAN_URI) {
			gbca_fail(err, "the CSR %s asks for a kind of name gbca does not issue (SAN type %u)", path, type);
			goto fail;
		}
		if (!csr_name_text(type, buf, size, text, sizeof(text))) {
			gbca_fail(err, "the CSR %s has a malformed name", path);
			goto fail;
		}
		grown = realloc(names, (n + 1) * sizeof(*names));
		if (grown == NULL) {
			gbca_fail(err, "out of memory");
			goto fail;
		}
		names = grown;
		if (!gbca_name_parse(text, &names[n], err)) {
			gbca_fail_prefix(err, "the CSR %s", path);
			goto fail;
		}
		n++;
	}
	if (n == 0) {
		gbca_fail(err, "the CSR %s has no subject alternative names; clients ignore the CN, so add the names as SANs", path);
		goto fail;
	}
	*csr_out = csr;
	*names_out = names;
	*n_out = n;
	return true;
fail:
	free(names);
	gnutls_x509_crq_deinit(csr);
	return false;
}

bool
gbca_leaf_pkcs12(const struct gbca_leaf *leaf, const char *friendly_name, const char *password,
                 gnutls_datum_t *out, struct gbca_err *err)
{
	gnutls_pkcs12_t p12 = NULL;
	gnutls_pkcs12_bag_t cbag = NULL, kbag = NULL;
	unsigned char id[64];
	size_t id_len = sizeof(id);
	gnutls_datum_t key_id;
	int ret, idx;
	bool ok = false;

	if (leaf->key == NULL)
		return gbca_fail(err, "--pkcs12 needs the private key, which gbca does not have for a CSR");
	if ((ret = gnutls_pkcs12_init(&p12)) < 0 || (ret = gnutls_pkcs12_bag_init(&cbag)) < 0 ||
	    (ret = gnutls_pkcs12_bag_init(&kbag)) < 0 ||
	    (ret = gnutls_x509_crt_get_key_id(leaf->crt, 0, id, &id_len)) < 0)
		goto out;
	key_id.data = id;
	key_id.size = (unsigned)id_len;
	if ((idx = ret = gnutls_pkcs12_bag_set_crt(cbag, leaf->crt)) < 0 ||
	    (ret = gnutls_pkcs12_bag_set_key_id(cbag, (unsigned)idx, &key_id)) < 0 ||
	    (ret = gnutls_pkcs12_bag_set_friendly_name(cbag, (unsigned)idx, friendly_name)) < 0 ||
	    (ret = gnutls_pkcs12_bag_encrypt(cbag, password, GNUTLS_PKCS_PBES2_AES_256)) < 0 ||
	    (ret = gnutls_pkcs12_set_bag(p12, cbag)) < 0)
		goto out;
	if ((idx = ret = gnutls_pkcs12_bag_set_privkey(kbag, leaf->key, password, GNUTLS_PKCS_PBES2_AES_256)) < 0 ||
	    (ret = gnutls_pkcs12_bag_set_key_id(kbag, (unsigned)idx, &key_id)) < 0 ||
	    (ret = gnutls_pkcs12_bag_set_friendly_name(kbag, (unsigned)idx, friendly_name)) < 0 ||
	    (ret = gnutls_pkcs12_set_bag(p12, kbag)) < 0 ||
	    (ret = gnutls_pkcs12_generate_mac2(p12, GNUTLS_MAC_SHA256, password)) < 0 ||
	    (ret = gnutls_pkcs12_export2(p12, GNUTLS_X509_FMT_DER, out)) < 0)
		goto out;
	ok = true;
out:
	if (!ok)
		gbca_fail(err, "couldn't build the PKCS#12 file: %s", gnutls_strerror(ret));
	if (cbag)
		gnutls_pkcs12_bag_deinit(cbag);
	if (kbag)
		gnutls_pkcs12_bag_deinit(kbag);
	if (p12)
		gnutls_pkcs12_deinit(p12);
	return ok;
}

bool
gbca_issue_pem_pair(const struct gbca_ca *ca, const struct gbca_leaf_request *r,
                    const char *cert_path, const char *key_path, bool log_optional,
                    struct gbca_leaf *out, struct gbca_err *err)
{
	struct gbca_ledger_entry entry;
	gnutls_datum_t cert = { NULL, 0 }, key = { NULL, 0 };
	int log_fd = -1, ret;
	bool ok = false;

	memset(out, 0, sizeof(*out));
	if (!gbca_issue_leaf(ca, r, out, err) || !gbca_ledger_open(ca->dir, &log_fd, err))
		goto out;
	if ((ret = gnutls_x509_crt_export2(out->crt, GNUTLS_X509_FMT_PEM, &cert)) < 0) {
		gbca_fail(err, "couldn't encode the certificate: %s", gnutls_strerror(ret));
		goto out;
	}
	if (!gbca_key_export_pem(out->key, &key, err))
		goto out;
	{
		struct gbca_save_item items[] = {
			{ cert_path, cert.data, cert.size, 0644 },
			{ key_path, key.data, key.size, 0600 },
		};
		if (!gbca_save_files(items, 2, err))
			goto out;
	}
	if (gbca_ledger_entry_from(out->crt, r->names, r->n_names, cert_path, &entry, err)) {
		ok = gbca_ledger_append(log_fd, &entry, err);
		log_fd = -1;   /* gbca_ledger_append closes it */
	}
	if (!ok && log_optional)
		ok = true;
	else if (!ok)
		gbca_fail_prefix(err, "the certificate was written but not logged");
out:
	if (log_fd >= 0)
		close(log_fd);
	if (key.data) {
		gnutls_memset(key.data, 0, key.size);
		gnutls_free(key.data);
	}
	gnutls_free(cert.data);
	return ok;
}
