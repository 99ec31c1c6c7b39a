/* Unit tests: root and leaf certificate fields, loading checks, CSR, PKCS#12,
 * the issuance log and the DER serial. */
#include "config.h"
#include "tap.h"
#include <gbca/ca.h>
#include <gbca/der.h>
#include <gbca/issue.h>
#include <gbca/ledger.h>
#include <gbca/save.h>

#include <gnutls/abstract.h>
#include <gnutls/pkcs12.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static struct gbca_err err;

static void
make_ca(const char *dir, enum gbca_key_type kt, bool constrained, struct gbca_ca *ca)
{
	struct gbca_ca_options o = { .key_type = kt, .constrained = constrained };
	char backup[512];

	mkdir(dir, 0700);
	if (!gbca_ca_create(dir, &o, ca, backup, sizeof(backup), &err))
		tap_fail(__FILE__, __LINE__, "gbca_ca_create: %s", err.msg);
}

static struct gbca_name names[8];

static size_t
parse_names(const char *const *in)
{
	size_t n = 0;
	for (; *in; in++, n++)
		if (!gbca_name_parse(*in, &names[n], &err))
			tap_fail(__FILE__, __LINE__, "%s: %s", *in, err.msg);
	return n;
}

static void
issue(struct gbca_ca *ca, const char *const *in, enum gbca_key_type kt, bool client, struct gbca_leaf *leaf)
{
	struct gbca_leaf_request r = { .names = names, .key_type = kt, .days = 825, .client = client };
	r.n_names = parse_names(in);
	if (!gbca_issue_leaf(ca, &r, leaf, &err))
		tap_fail(__FILE__, __LINE__, "gbca_issue_leaf: %s", err.msg);
}

/* The encoded certificate, parsed back: GnuTLS caches some fields (SANs)
 * only on import, and the bytes are what clients see anyway. */
static gnutls_x509_crt_t
reparse(gnutls_x509_crt_t crt)
{
	static gnutls_x509_crt_t copy;
	gnutls_datum_t der;

	if (copy)
		gnutls_x509_crt_deinit(copy);
	assert_true(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) >= 0);
	gnutls_x509_crt_init(&copy);
	assert_true(gnutls_x509_crt_import(copy, &der, GNUTLS_X509_FMT_DER) >= 0);
	gnutls_free(der.data);
	return copy;
}

static void
check_serial(gnutls_x509_crt_t crt)
{
	unsigned char s[40];
	size_t len = sizeof(s);
	assert_true(gnutls_x509_crt_get_serial(crt, s, &len) >= 0);
	assert_int_eq(len, 20);
	assert_true((s[0] & 0x80) == 0);
	assert_true(s[0] != 0);
}

static void
check_root(enum gbca_key_type kt, gnutls_digest_algorithm_t dig)
{
	struct gbca_ca ca;
	unsigned critical = 0, ca_flag = 0, usage = 0;
	int pathlen = -5;
	unsigned char id[64];
	size_t idlen = sizeof(id);
	char dn[512];
	size_t dnlen = sizeof(dn);
	time_t span;
	struct stat st;

	make_ca(tap_path("ca"), kt, true, &ca);
	assert_int_eq(gnutls_x509_crt_get_basic_constraints(ca.crt, &critical, &ca_flag, &pathlen), 1);
	assert_true(critical);
	assert_int_eq(pathlen, 0);
	assert_true(gnutls_x509_crt_get_key_usage(ca.crt, &usage, &critical) >= 0);
	assert_true(critical);
	assert_int_eq(usage, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
	assert_true(gnutls_x509_crt_get_subject_key_id(ca.crt, id, &idlen, &critical) >= 0);
	assert_true(idlen > 0);
	check_serial(ca.crt);
	span = gnutls_x509_crt_get_expiration_time(ca.crt) - gnutls_x509_crt_get_activation_time(ca.crt);
	assert_true(span >= (time_t)3650 * 86400 && span <= (time_t)3651 * 86400);
	assert_true(gnutls_x509_crt_get_dn_by_oid(ca.crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, 0, dn, &dnlen) >= 0);
	assert_str_eq(dn, "gbca development CA");
	dnlen = sizeof(dn);
	assert_true(gnutls_x509_crt_get_dn_by_oid(ca.crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, dn, &dnlen) >= 0);
	assert_true(strncmp(dn, "gbca ", 5) == 0 && strchr(dn, '@') != NULL);
	assert_int_eq(gnutls_sign_get_hash_algorithm(gnutls_x509_crt_get_signature_algorithm(ca.crt)), dig);
	assert_true(ca.constrained);
	assert_int_eq(ca.n_permitted, 6);
	assert_int_eq(stat(tap_path("ca/rootCA-key.pem"), &st), 0);
	assert_int_eq(st.st_mode & 07777, 0400);
	assert_int_eq(stat(tap_path("ca/rootCA.pem"), &st), 0);
	assert_int_eq(st.st_mode & 07777, 0644);
	/* self-signed and valid on its own */
	unsigned status = 1;
	assert_true(gnutls_x509_crt_verify(ca.crt, &ca.crt, 1, 0, &status) >= 0);
	assert_int_eq(status, 0);
	gbca_ca_free(&ca);
}

static void test_root_p256(void) { check_root(GBCA_KEY_P256, GNUTLS_DIG_SHA256); }
static void test_root_p384(void) { check_root(GBCA_KEY_P384, GNUTLS_DIG_SHA384); }
static void test_root_rsa3072(void) { check_root(GBCA_KEY_RSA3072, GNUTLS_DIG_SHA256); }

static void
test_root_constraints(void)
{
	struct gbca_ca ca;
	gnutls_x509_name_constraints_t nc;
	unsigned critical = 0, type;
	gnutls_datum_t name;
	char buf[300];

	make_ca(tap_path("ca"), GBCA_KEY_P256, true, &ca);
	gnutls_x509_name_constraints_init(&nc);
	assert_true(gnutls_x509_crt_get_name_constraints(ca.crt, nc, 0, &critical) >= 0);
	assert_true(critical);
	assert_true(gnutls_x509_name_constraints_get_permitted(nc, 0, &type, &name) >= 0);
	assert_int_eq(type, GNUTLS_SAN_DNSNAME);
	assert_true(name.size == 33 && memcmp(name.data, "generativelanguage.googleapis.com", 33) == 0);
	assert_true(gnutls_x509_name_constraints_get_excluded(nc, 0, &type, &name) < 0);
	gnutls_x509_name_constraints_deinit(nc);
	gbca_subtree_format(&ca.permitted[3], buf, sizeof(buf));
	assert_str_eq(buf, "IP 127.0.0.0/8");
	gbca_subtree_format(&ca.permitted[4], buf, sizeof(buf));
	assert_str_eq(buf, "IP ::1/128");
	gbca_ca_free(&ca);
}

static void
test_root_unconstrained(void)
{
	struct gbca_ca ca;
	gnutls_x509_name_constraints_t nc;
	unsigned critical;

	make_ca(tap_path("ca"), GBCA_KEY_P256, false, &ca);
	assert_false(ca.constrained);
	gnutls_x509_name_constraints_init(&nc);
	assert_int_eq(gnutls_x509_crt_get_name_constraints(ca.crt, nc, 0, &critical), GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
	gnutls_x509_name_constraints_deinit(nc);
	gbca_ca_free(&ca);
}

static void
test_root_permit(void)
{
	struct gbca_subtree extra[2];
	struct gbca_ca_options o = { .key_type = GBCA_KEY_P256, .constrained = true, .permit = extra, .n_permit = 2 };
	struct gbca_ca ca;
	struct gbca_name n;
	char backup[512];

	assert_true(gbca_subtree_parse(".example.test", &extra[0], &err));
	assert_true(gbca_subtree_parse("10.0.0.0/8", &extra[1], &err));
	mkdir(tap_path("ca"), 0700);
	assert_true(gbca_ca_create(tap_path("ca"), &o, &ca, backup, sizeof(backup), &err));
	assert_int_eq(ca.n_permitted, 8);
	assert_true(gbca_name_parse("a.example.test", &n, &err));
	assert_true(gbca_ca_allows(&ca, &n, &err));
	assert_true(gbca_name_parse("10.9.8.7", &n, &err));
	assert_true(gbca_ca_allows(&ca, &n, &err));
	assert_true(gbca_name_parse("example.test", &n, &err));
	assert_false(gbca_ca_allows(&ca, &n, &err));
	gbca_ca_free(&ca);
}

static void
test_refuse_overwrite(void)
{
	struct gbca_ca ca, again;
	struct gbca_ca_options o = { .key_type = GBCA_KEY_P256, .constrained = true };
	unsigned char before[32], after[32];
	size_t l1 = sizeof(before), l2 = sizeof(after);
	char backup[512];

	make_ca(tap_path("ca"), GBCA_KEY_P256, true, &ca);
	gnutls_x509_crt_get_fingerprint(ca.crt, GNUTLS_DIG_SHA256, before, &l1);
	assert_false(gbca_ca_create(tap_path("ca"), &o, &again, backup, sizeof(backup), &err));
	assert_str_contains(err.msg, "already exists");
	assert_str_contains(err.msg, "--force");
	gbca_ca_free(&ca);
	assert_true(gbca_ca_load(tap_path("ca"), true, &ca, &err));
	gnutls_x509_crt_get_fingerprint(ca.crt, GNUTLS_DIG_SHA256, after, &l2);
	assert_true(memcmp(before, after, 32) == 0);
	gbca_ca_free(&ca);
}

static void
test_force_backup(void)
{
	struct gbca_ca ca, again;
	struct gbca_ca_options o = { .key_type = GBCA_KEY_P256, .constrained = true, .force = true };
	char backup[512], p[600];
	struct stat st;

	make_ca(tap_path("ca"), GBCA_KEY_P256, true, &ca);
	assert_true(gbca_ca_create(tap_path("ca"), &o, &again, backup, sizeof(backup), &err));
	assert_true(strstr(backup, "/backup-") != NULL);
	snprintf(p, sizeof(p), "%s/rootCA-key.pem", backup);
	assert_int_eq(stat(p, &st), 0);
	assert_int_eq(st.st_mode & 07777, 0400);
	snprintf(p, sizeof(p), "%s/rootCA.pem", backup);
	assert_int_eq(stat(p, &st), 0);
	assert_false(gnutls_x509_crt_equals(ca.crt, again.crt));
	gbca_ca_free(&ca);
	gbca_ca_free(&again);
	/* the live CA is the new one */
	assert_true(gbca_ca_load(tap_path("ca"), true, &ca, &err));
	gbca_ca_free(&ca);
}

static void
test_load_missing(void)
{
	struct gbca_ca ca;
	assert_false(gbca_ca_load(tap_path("nothing"), true, &ca, &err));
	assert_str_contains(err.msg, "gbca init");
}

static void
test_load_corrupt(void)
{
	struct gbca_ca ca;
	make_ca(tap_path("ca"), GBCA_KEY_P256, true, &ca);
	gbca_ca_free(&ca);
	assert_true(gbca_save_file(tap_path("ca/rootCA.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 60, 0644, &err));
	assert_false(gbca_ca_load(tap_path("ca"), true, &ca, &err));
	assert_str_contains(err.msg, "damaged");
	assert_str_contains(err.msg, "rootCA.pem");
}

static void
test_load_corrupt_key(void)
{
	struct gbca_ca ca;
	make_ca(tap_path("ca"), GBCA_KEY_P256, true, &ca);
	gbca_ca_free(&ca);
	assert_true(gbca_save_file(tap_path("ca/rootCA-key.pem"), "garbage", 7, 0400, &err));
	assert_false(gbca_ca_load(tap_path("ca"), true, &ca, &err));
	assert_str_contains(err.msg, "rootCA-key.pem");
}

static void
test_load_bad_perms(void)
{
	struct gbca_ca ca;
	make_ca(tap_path("ca"), GBCA_KEY_P256, true, &ca);
	gbca_ca_free(&ca);
	/* world-readable, and group-readable or -writable (issue 9): all refused,
	 * each with the chmod advice */
	static const mode_t bad[] = { 0644, 0640, 0660, 0604, 0440 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[32];
		assert_int_eq(chmod(tap_path("ca/rootCA-key.pem"), bad[i]), 0);
		assert_false(gbca_ca_load(tap_path("ca"), true, &ca, &err));
		assert_str_contains(err.msg, "chmod 400");
		snprintf(want, sizeof(want), "mode %04o", (unsigned)bad[i]);
		assert_str_contains(err.msg, want);
	}
	/* the certificate alone is public and loads */
	assert_true(gbca_ca_load(tap_path("ca"), false, &ca, &err));
	gbca_ca_free(&ca);
}

static void
test_load_mismatch(void)
{
	struct gbca_ca a, b;
	char cmd[1200];
	make_ca(tap_path("a"), GBCA_KEY_P256, true, &a);
	make_ca(tap_path("b"), GBCA_KEY_P256, true, &b);
	gbca_ca_free(&a);
	gbca_ca_free(&b);
	snprintf(cmd, sizeof(cmd), "cp -f %s %s", tap_path("b/rootCA-key.pem"), tap_path("a/rootCA-key.pem"));
	assert_int_eq(system(cmd), 0);
	assert_false(gbca_ca_load(tap_path("a"), true, &a, &err));
	assert_str_contains(err.msg, "does not belong");
}

static void
test_import(void)
{
	struct gbca_ca a, b;
	struct gbca_ca_options o = { .import_cert = NULL };
	char backup[512], cert[512], key[512];

	make_ca(tap_path("a"), GBCA_KEY_P384, false, &a);
	snprintf(cert, sizeof(cert), "%s", tap_path("a/rootCA.pem"));
	snprintf(key, sizeof(key), "%s", tap_path("a/rootCA-key.pem"));
	o.import_cert = cert;
	o.import_key = key;
	mkdir(tap_path("b"), 0700);
	assert_true(gbca_ca_create(tap_path("b"), &o, &b, backup, sizeof(backup), &err));
	assert_true(gnutls_x509_crt_equals(a.crt, b.crt));
	gbca_ca_free(&b);
	/* a leaf is not a CA and can't be imported */
	struct gbca_leaf leaf;
	static const char *const n1[] = { "localhost", NULL };
	issue(&a, n1, GBCA_KEY_P256, false, &leaf);
	gnutls_datum_t pem;
	assert_true(gnutls_x509_crt_export2(leaf.crt, GNUTLS_X509_FMT_PEM, &pem) >= 0);
	assert_true(gbca_save_file(tap_path("leaf.pem"), pem.data, pem.size, 0644, &err));
	gnutls_free(pem.data);
	snprintf(cert, sizeof(cert), "%s", tap_path("leaf.pem"));
	mkdir(tap_path("c"), 0700);
	assert_false(gbca_ca_create(tap_path("c"), &o, &b, backup, sizeof(backup), &err));
	assert_str_contains(err.msg, "not a CA");
	gbca_leaf_free(&leaf);
	gbca_ca_free(&a);
}

static void
check_leaf(enum gbca_key_type kt, bool rsa)
{
	static const char *const in[] = { "generativelanguage.googleapis.com", "localhost", "127.0.0.1", "::1", "*.localhost", NULL };
	struct gbca_ca ca;
	struct gbca_leaf leaf;
	unsigned critical = 0, usage = 0, type;
	int pathlen;
	char buf[256];
	size_t len;
	unsigned char ski[64], aki[64];
	size_t skil = sizeof(ski), akil = sizeof(aki);

	make_ca(tap_path("ca"), GBCA_KEY_P256, true, &ca);
	issue(&ca, in, kt, false, &leaf);
	gnutls_x509_crt_t crt = reparse(leaf.crt);
	assert_int_eq(gnutls_x509_crt_get_basic_constraints(crt, &critical, NULL, &pathlen), 0);
	assert_true(gnutls_x509_crt_get_key_usage(crt, &usage, &critical) >= 0);
	assert_true(critical);
	assert_int_eq(usage, rsa ? (GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT) : GNUTLS_KEY_DIGITAL_SIGNATURE);
	len = sizeof(buf);
	assert_true(gnutls_x509_crt_get_key_purpose_oid(crt, 0, buf, &len, &critical) >= 0);
	assert_str_eq(buf, GNUTLS_KP_TLS_WWW_SERVER);
	len = sizeof(buf);
	assert_true(gnutls_x509_crt_get_key_purpose_oid(crt, 1, buf, &len, &critical) < 0);
	/* SANs, in order, with the right types */
	static const unsigned types[] = { GNUTLS_SAN_DNSNAME, GNUTLS_SAN_DNSNAME, GNUTLS_SAN_IPADDRESS, GNUTLS_SAN_IPADDRESS, GNUTLS_SAN_DNSNAME };
	for (unsigned i = 0; i < 5; i++) {
		len = sizeof(buf);
		int t = gnutls_x509_crt_get_subject_alt_name2(crt, i, buf, &len, &type, &critical);
		if (t < 0)
			tap_fail(__FILE__, __LINE__, "SAN %u: %s", i, gnutls_strerror(t));
		assert_int_eq(type, types[i]);
	}
	len = sizeof(buf);
	assert_true(gnutls_x509_crt_get_subject_alt_name2(crt, 2, buf, &len, &type, &critical) >= 0);
	assert_int_eq(len, 4);
	assert_true(memcmp(buf, "\x7f\0\0\x01", 4) == 0);
	assert_true(gnutls_x509_crt_get_subject_key_id(crt, ski, &skil, &critical) >= 0);
	assert_true(gnutls_x509_crt_get_authority_key_id(crt, aki, &akil, &critical) >= 0);
	skil = sizeof(ski);
	assert_true(gnutls_x509_crt_get_subject_key_id(ca.crt, ski, &skil, &critical) >= 0);
	assert_true(akil == skil && memcmp(aki, ski, akil) == 0);
	check_serial(crt);
	assert_int_eq(gnutls_x509_crt_get_expiration_time(crt) - gnutls_x509_crt_get_activation_time(crt), 825 * 86400);
	assert_int_eq(gnutls_x509_crt_get_pk_algorithm(crt, NULL), rsa ? GNUTLS_PK_RSA : GNUTLS_PK_ECDSA);
	/* and it verifies against the root, constraints included */
	unsigned status = 1;
	assert_true(gnutls_x509_crt_list_verify(&leaf.crt, 1, &ca.crt, 1, NULL, 0, 0, &status) >= 0);
	assert_int_eq(status, 0);
	gbca_leaf_free(&leaf);
	gbca_ca_free(&ca);
}

static void test_leaf_p256(void) { check_leaf(GBCA_KEY_P256, false); }
static void test_leaf_rsa(void) { check_leaf(GBCA_KEY_RSA2048, true); }

static void
test_leaf_client_email(void)
{
	static const char *const in[] = { "me@localhost", NULL };
	struct gbca_ca ca;
	struct gbca_leaf leaf;
	char buf[128];
	size_t len;
	unsigned critical;

	make_ca(tap_path("ca"), GBCA_KEY_P256, true, &ca);
	issue(&ca, in, GBCA_KEY_P256, true, &leaf);
	len = sizeof(buf);
	assert_true(gnutls_x509_crt_get_key_purpose_oid(leaf.crt, 0, buf, &len, &critical) >= 0);
	assert_str_eq(buf, GNUTLS_KP_TLS_WWW_CLIENT);
	len = sizeof(buf);
	assert_true(gnutls_x509_crt_get_key_purpose_oid(leaf.crt, 1, buf, &len, &critical) >= 0);
	assert_str_eq(buf, GNUTLS_KP_EMAIL_PROTECTION);
	gbca_leaf_free(&leaf);
	gbca_ca_free(&ca);
}

static void
test_outside_constraints(void)
{
	static const char *const in[] = { "localhost", "example.com", NULL };
	struct gbca_leaf_request r = { .names = names, .key_type = GBCA_KEY_P256, .days = 30 };
	struct gbca_ca ca;
	struct gbca_leaf leaf;

	make_ca(tap_path("ca"), GBCA_KEY_P256, true, &ca);
	r.n_names = parse_names(in);
	assert_false(gbca_issue_leaf(&ca, &r, &leaf, &err));
	assert_str_contains(err.msg, "\"example.com\" is outside");
	assert_str_contains(err.msg, "--permit example.com");
	assert_true(leaf.crt == NULL && leaf.key == NULL);
	static const char *const ip[] = { "10.1.2.3", NULL };
	r.n_names = parse_names(ip);
	assert_false(gbca_issue_leaf(&ca, &r, &leaf, &err));
	assert_str_contains(err.msg, "IP 127.0.0.0/8");
	static const char *const wc[] = { "*.googleapis.com", NULL };
	r.n_names = parse_names(wc);
	assert_false(gbca_issue_leaf(&ca, &r, &leaf, &err));
	assert_str_contains(err.msg, "--permit .googleapis.com");
	static const char *const uri[] = { "https://evil.test/", NULL };
	r.n_names = parse_names(uri);
	assert_false(gbca_issue_leaf(&ca, &r, &leaf, &err));
	gbca_ca_free(&ca);
	/* an unconstrained root signs anything */
	make_ca(tap_path("free"), GBCA_KEY_P256, false, &ca);
	r.n_names = parse_names(in);
	assert_true(gbca_issue_leaf(&ca, &r, &leaf, &err));
	gbca_leaf_free(&leaf);
	gbca_ca_free(&ca);
}

static void
test_days_range(void)
{
	static const char *const in[] = { "localhost", NULL };
	struct gbca_leaf_request r = { .names = names, .key_type = GBCA_KEY_P256 };
	struct gbca_ca ca;
	struct gbca_leaf leaf;

	make_ca(tap_path("ca"), GBCA_KEY_P256, true, &ca);
	r.n_names = parse_names(in);
	r.days = 0;
	assert_false(gbca_issue_leaf(&ca, &r, &leaf, &err));
	r.days = 826;
	assert_false(gbca_issue_leaf(&ca, &r, &leaf, &err));
	assert_str_contains(err.msg, "1..825");
	r.days = 1;
	assert_true(gbca_issue_leaf(&ca, &r, &leaf, &err));
	assert_int_eq(gnutls_x509_crt_get_expiration_time(leaf.crt) - gnutls_x509_crt_get_activation_time(leaf.crt), 86400);
	gbca_leaf_free(&leaf);
	gbca_ca_free(&ca);
}

static void
write_csr(const char *path, const char *dns, bool tamper)
{
	gnutls_x509_crq_t crq;
	gnutls_x509_privkey_t key;
	gnutls_datum_t der;

	assert_true(gbca_key_generate(GBCA_KEY_P256, &key, &err));
	gnutls_x509_crq_init(&crq);
	assert_true(gnutls_x509_crq_set_key(crq, key) >= 0);
	assert_true(gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_DNSNAME, dns, (unsigned)strlen(dns), GNUTLS_FSAN_APPEND) >= 0);
	assert_true(gnutls_x509_crq_sign2(crq, key, GNUTLS_DIG_SHA256, 0) >= 0);
	assert_true(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der) >= 0);
	if (tamper)
		der.data[der.size - 5] ^= 0x01;   /* inside the signature */
	assert_true(gbca_save_file(path, der.data, der.size, 0644, &err));
	gnutls_free(der.data);
	gnutls_x509_crq_deinit(crq);
	gnutls_x509_privkey_deinit(key);
}

static void
test_csr(void)
{
	struct gbca_ca ca;
	struct gbca_name *csr_names;
	size_t n;
	gnutls_x509_crq_t csr;
	struct gbca_leaf leaf;
	unsigned char a[64], b[64];
	size_t al = sizeof(a), bl = sizeof(b);

	make_ca(tap_path("ca"), GBCA_KEY_P256, true, &ca);
	write_csr(tap_path("req.der"), "api.localhost", false);
	assert_true(gbca_csr_load(tap_path("req.der"), &csr, &csr_names, &n, &err));
	assert_int_eq(n, 1);
	assert_str_eq(csr_names[0].text, "api.localhost");
	struct gbca_leaf_request r = { .names = csr_names, .n_names = n, .days = 30, .csr = csr };
	assert_true(gbca_issue_leaf(&ca, &r, &leaf, &err));
	assert_true(leaf.key == NULL);
	assert_true(gnutls_x509_crt_get_key_id(leaf.crt, 0, a, &al) >= 0);
	assert_true(gnutls_x509_crq_get_key_id(csr, 0, b, &bl) >= 0);
	assert_true(al == bl && memcmp(a, b, al) == 0);
	gbca_leaf_free(&leaf);
	gnutls_x509_crq_deinit(csr);
	free(csr_names);
	/* a CSR for a name outside the constraints is refused */
	write_csr(tap_path("evil.der"), "evil.test", false);
	assert_true(gbca_csr_load(tap_path("evil.der"), &csr, &csr_names, &n, &err));
	r.names = csr_names;
	r.csr = csr;
	assert_false(gbca_issue_leaf(&ca, &r, &leaf, &err));
	gnutls_x509_crq_deinit(csr);
	free(csr_names);
	gbca_ca_free(&ca);
}

static void
test_csr_bad_signature(void)
{
	struct gbca_name *csr_names;
	size_t n;
	gnutls_x509_crq_t csr;

	write_csr(tap_path("bad.der"), "api.localhost", true);
	assert_false(gbca_csr_load(tap_path("bad.der"), &csr, &csr_names, &n, &err));
	assert_str_contains(err.msg, "does not verify");
	assert_true(gbca_save_file(tap_path("junk"), "junk", 4, 0644, &err));
	assert_false(gbca_csr_load(tap_path("junk"), &csr, &csr_names, &n, &err));
	assert_str_contains(err.msg, "not a valid certificate signing request");
}

static void
test_pkcs12(void)
{
	static const char *const in[] = { "localhost", NULL };
	struct gbca_ca ca;
	struct gbca_leaf leaf;
	gnutls_datum_t der;
	gnutls_pkcs12_t p12;

	make_ca(tap_path("ca"), GBCA_KEY_P256, true, &ca);
	issue(&ca, in, GBCA_KEY_P256, false, &leaf);
	assert_true(gbca_leaf_pkcs12(&leaf, "localhost", "changeit", &der, &err));
	gnutls_pkcs12_init(&p12);
	assert_true(gnutls_pkcs12_import(p12, &der, GNUTLS_X509_FMT_DER, 0) >= 0);
	assert_true(gnutls_pkcs12_verify_mac(p12, "changeit") >= 0);
	assert_true(gnutls_pkcs12_verify_mac(p12, "wrong") < 0);
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t *chain = NULL;
	unsigned chain_len = 0;
	assert_true(gnutls_pkcs12_simple_parse(p12, "changeit", &key, &chain, &chain_len, NULL, NULL, NULL, 0) >= 0);
	assert_int_eq(chain_len, 1);
	assert_true(gnutls_x509_crt_equals(chain[0], leaf.crt));
	gnutls_x509_privkey_deinit(key);
	gnutls_x509_crt_deinit(chain[0]);
	gnutls_free(chain);
	gnutls_pkcs12_deinit(p12);
	gnutls_free(der.data);
	gbca_leaf_free(&leaf);
	gbca_ca_free(&ca);
}

static void
test_ledger(void)
{
	static const char *const in[] = { "localhost", "::1", NULL };
	struct gbca_ca ca;
	struct gbca_leaf leaf;
	struct gbca_ledger_entry e, back;
	char line[9000];
	int fd;

	make_ca(tap_path("ca"), GBCA_KEY_P256, true, &ca);
	issue(&ca, in, GBCA_KEY_P256, false, &leaf);
	assert_true(gbca_ledger_entry_from(leaf.crt, names, 2, "/x/localhost+1.pem", &e, &err));
	assert_str_eq(e.names, "localhost ::1");
	assert_int_eq(strlen(e.serial), 40);
	assert_int_eq(strlen(e.sha256), 64);
	assert_true(gbca_ledger_open(tap_path("ca"), &fd, &err));
	assert_true(gbca_ledger_append(fd, &e, &err));
	FILE *f = fopen(tap_path("ca/issued.log"), "r");
	assert_true(f != NULL);
	assert_true(fgets(line, sizeof(line), f) != NULL);
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	assert_true(gbca_ledger_parse_line(line, &back));
	assert_str_eq(back.serial, e.serial);
	assert_str_eq(back.sha256, e.sha256);
	assert_str_eq(back.names, e.names);
	assert_str_eq(back.file, "/x/localhost+1.pem");
	assert_int_eq(back.not_after, e.not_after);
	assert_false(gbca_ledger_parse_line("garbage", &back));
	assert_false(gbca_ledger_parse_line("# comment", &back));
	gbca_leaf_free(&leaf);
	gbca_ca_free(&ca);
}

static void
test_der_serial(void)
{
	struct gbca_ca ca;
	gnutls_datum_t der;
	unsigned char s[20];
	size_t len = sizeof(s);

	make_ca(tap_path("ca"), GBCA_KEY_P256, true, &ca);
	assert_true(gbca_der_cert_serial(ca.crt, &der, &err));
	assert_true(gnutls_x509_crt_get_serial(ca.crt, s, &len) >= 0);
	assert_int_eq(der.size, 22);
	assert_int_eq(der.data[0], 0x02);
	assert_int_eq(der.data[1], 20);
	assert_true(memcmp(der.data + 2, s, 20) == 0);
	free(der.data);
	gbca_ca_free(&ca);
}

static void
test_der_eku(void)
{
	gnutls_datum_t oid, value;

	assert_true(gbca_der_eku_server_auth(&oid, &value, &err));
	assert_int_eq(oid.size, 5);
	assert_true(memcmp(oid.data, "\x06\x03\x55\x1d\x25", 5) == 0);
	/* Extension { 2.5.29.37, critical TRUE, OCTET STRING { SEQUENCE { serverAuth } } } */
	static const unsigned char want[] = "\x30\x16\x06\x03\x55\x1d\x25\x01\x01\xff\x04\x0c"
	                                    "\x30\x0a\x06\x08\x2b\x06\x01\x05\x05\x07\x03\x01";
	assert_int_eq(value.size, sizeof(want) - 1);
	assert_true(memcmp(value.data, want, sizeof(want) - 1) == 0);
	free(oid.data);
	free(value.data);
}

int
main(void)
{
	tap_add("/ca/root-p256", test_root_p256);
	tap_add("/ca/root-p384", test_root_p384);
	tap_add("/ca/root-rsa3072", test_root_rsa3072);
	tap_add("/ca/root-constraints", test_root_constraints);
	tap_add("/ca/root-unconstrained", test_root_unconstrained);
	tap_add("/ca/root-permit", test_root_permit);
	tap_add("/ca/refuse-overwrite", test_refuse_overwrite);
	tap_add("/ca/force-backup", test_force_backup);
	tap_add("/ca/load-missing", test_load_missing);
	tap_add("/ca/load-corrupt-cert", test_load_corrupt);
	tap_add("/ca/load-corrupt-key", test_load_corrupt_key);
	tap_add("/ca/load-bad-perms", test_load_bad_perms);
	tap_add("/ca/load-key-mismatch", test_load_mismatch);
	tap_add("/ca/import", test_import);
	tap_add("/issue/leaf-p256", test_leaf_p256);
	tap_add("/issue/leaf-rsa", test_leaf_rsa);
	tap_add("/issue/client-email", test_leaf_client_email);
	tap_add("/issue/outside-constraints", test_outside_constraints);
	tap_add("/issue/days-range", test_days_range);
	tap_add("/issue/csr", test_csr);
	tap_add("/issue/csr-bad-signature", test_csr_bad_signature);
	tap_add("/issue/pkcs12", test_pkcs12);
	tap_add("/ledger/roundtrip", test_ledger);
	tap_add("/der/serial", test_der_serial);
	tap_add("/der/eku-server-auth", test_der_eku);
	return tap_run();
}
