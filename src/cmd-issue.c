/* gbca issue: make a leaf certificate signed by the local CA. */
#include "config.h"
#include <gbca/ca.h>
#include <gbca/cmd.h>
#include <gbca/issue.h>
#include <gbca/ledger.h>
#include <gbca/path.h>
#include <gbca/save.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NAMES 100

static const char usage[] =
	"usage: gbca issue [OPTIONS] [NAME...]\n"
	"       gbca issue --csr FILE [OPTIONS]\n"
	"\n"
	"Issues a certificate signed by the local CA for the NAMEs (default:\n"
	"generativelanguage.googleapis.com). A NAME is a DNS name, a wildcard\n"
	"(*.example.test), an IPv4 or IPv6 address, an email address or a URI;\n"
	"internationalised names are stored as A-labels. Writes <first>[+N].pem and\n"
	"<first>[+N]-key.pem (0600) in the current folder and records the\n"
	"certificate in CAROOT/issued.log.\n"
	"\n"
	"options:\n"
	"  --key TYPE            ecdsa (P-256, default), p384, rsa (RSA-2048), rsa3072\n"
	"  --days N              validity in days, 1..825 (default 825)\n"
	"  --client              also allow TLS client authentication; files end in -client\n"
	"  --out-dir DIR         write the files in DIR instead of the current folder\n"
	"  --cert-file FILE      write the certificate to FILE\n"
	"  --key-file FILE       write the key to FILE\n"
	"  --pkcs12              write one PKCS#12 file (<first>[+N].p12) instead of PEM\n"
	"  --p12-file FILE       write the PKCS#12 file to FILE (implies --pkcs12)\n"
	"  --p12-password PASS   PKCS#12 password (default: changeit, as mkcert)\n"
	"  --csr FILE            sign this certificate signing request: its key and\n"
	"                        subject alternative names are used; no key is written\n"
	"  -q, --quiet           print nothing on success\n"
	"  -h, --help            show this help\n";

struct issue_opts {
	enum gbca_key_type key_type;
	bool key_set;
	unsigned days;
	bool client, pkcs12;
	const char *out_dir, *cert_file, *key_file, *p12_file, *p12_password, *csr;
};

static bool
output_path(char *buf, size_t len, const struct issue_opts *o, const char *given,
            const char *stem, const char *suffix, struct gbca_err *err)
{
	char name[PATH_MAX];

	if (given) {
		if (snprintf(buf, len, "%s", given) >= (int)len)
			return gbca_fail(err, "path too long: %s", given);
		return true;
	}
	if (snprintf(name, sizeof(name), "%s%s", stem, suffix) >= (int)sizeof(name))
		return gbca_fail(err, "file name too long");
	return gbca_path_join(buf, len, o->out_dir ? o->out_dir : ".", name, err);
}

/* The directory entry a path names, with its folder resolved: "c.pem",
 * "./c.pem" and "sub/../c.pem" are one entry. Files are renamed into place,
 * so a symlink at the last component is replaced, not followed: two paths
 * clash exactly when their folders and last names are the same. */
static void
entry_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX], real[PATH_MAX];

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (realpath(dir, real) == NULL)
		snprintf(real, sizeof(real), "%s", dir);
	snprintf(buf, len, "%s/%s", real, slash ? slash + 1 : path);
}

static bool
same_entry(const char *a, const char *b)
{
	char ea[2 * PATH_MAX + 2], eb[2 * PATH_MAX + 2];

	entry_of(a, ea, sizeof(ea));
	entry_of(b, eb, sizeof(eb));
	return strcmp(ea, eb) == 0;
}

static void
print_result(const struct gbca_name *names, size_t n, const struct gbca_leaf *leaf,
             const char *cert, const char *key, const char *p12)
{
	char date[32];
	time_t t = gnutls_x509_crt_get_expiration_time(leaf->crt);
	struct tm tm;

	if (gbca_quiet)
		return;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	printf("Created a certificate valid for:\n");
	for (size_t i = 0; i < n; i++)
		printf("  - %s (%s)\n", names[i].text, gbca_name_type_label(names[i].type));
	if (p12) {
		printf("The certificate and key are at \"%s\"\n", p12);
	} else {
		printf("The certificate is at \"%s\"\n", cert);
		if (key)
			printf("and the key at \"%s\"\n", key);
	}
	printf("It expires on %s.%s\n", date,
	       leaf->clipped ? " (cut to the CA's own expiry)" : "");
}

static int
issue(const struct issue_opts *o, struct gbca_name *names, size_t n, gnutls_x509_crq_t csr)
{
	char dir[PATH_MAX], stem[PATH_MAX], first[PATH_MAX];
	char cert_path[PATH_MAX], key_path[PATH_MAX], p12_path[PATH_MAX], abs_cert[PATH_MAX];
	struct gbca_leaf_request req = {
		.names = names, .n_names = n, .key_type = o->key_type, .days = o->days,
		.client = o->client, .csr = csr,
	};
	struct gbca_ca ca;
	struct gbca_leaf leaf = { 0 };
	struct gbca_ledger_entry entry;
	struct gbca_err err;
	gnutls_datum_t cert_pem = { NULL, 0 }, key_pem = { NULL, 0 }, p12 = { NULL, 0 };
	struct gbca_save_item items[2];
	size_t n_items = 0;
	struct stat st;
	int lock_fd = -1, log_fd = -1, rc = GBCA_EXIT_FAIL, ret;

	if (o->out_dir && (stat(o->out_dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
		gbca_print_error("the output folder %s does not exist or is not a folder; create it or choose another with --out-dir", o->out_dir);
		return GBCA_EXIT_FAIL;
	}
	gbca_name_file_stem(names[0].text, first, sizeof(first));
	if (n > 1)
		snprintf(stem, sizeof(stem), "%.1000s+%zu%s", first, n - 1, o->client ? "-client" : "");
	else
		snprintf(stem, sizeof(stem), "%.1000s%s", first, o->client ? "-client" : "");
	if (!output_path(cert_path, sizeof(cert_path), o, o->cert_file, stem, ".pem", &err) ||
	    !output_path(key_path, sizeof(key_path), o, o->key_file, stem, "-key.pem", &err) ||
	    !output_path(p12_path, sizeof(p12_path), o, o->p12_file, stem, ".p12", &err)) {
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	/* Otherwise the second rename leaves only the key in the file. */
	if (!o->pkcs12 && !csr && same_entry(cert_path, key_path)) {
		return gbca_usage_error("issue", "the certificate (%s) and the key (%s) would be the same file; "
		                        "give --cert-file and --key-file different names", cert_path, key_path);
	}
	if (!gbca_caroot(dir, sizeof(dir), &err)) {
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	/* Exclusive: two issuers writing the same file names must not end with
	 * one's certificate beside the other's key. Each holds it ~1 ms. */
	if (!gbca_ca_lock(dir, true, &lock_fd, &err)) {
		if (errno == ENOENT)
			gbca_print_error("there is no CA in %s; make one with: gbca init (or point GBCA_CAROOT at an existing one)", dir);
		else
			gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	if (!gbca_ca_load(dir, true, &ca, &err)) {
		gbca_print_error("%s", err.msg);
		gbca_ca_unlock(lock_fd);
		return GBCA_EXIT_FAIL;
	}
	if (!gbca_issue_leaf(&ca, &req, &leaf, &err) || !gbca_ledger_open(dir, &log_fd, &err))
		goto fail;
	if ((ret = gnutls_x509_crt_export2(leaf.crt, GNUTLS_X509_FMT_PEM, &cert_pem)) < 0) {
		gbca_fail(&err, "couldn't encode the certificate: %s", gnutls_strerror(ret));
		goto fail;
	}
	if (o->pkcs12) {
		if (!gbca_leaf_pkcs12(&leaf, names[0].text, o->p12_password, &p12, &err))
			goto fail;
		items[n_items++] = (struct gbca_save_item){ p12_path, p12.data, p12.size, 0600 };
	} else {
		items[n_items++] = (struct gbca_save_item){ cert_path, cert_pem.data, cert_pem.size, 0644 };
		if (leaf.key) {
			if (!gbca_key_export_pem(leaf.key, &key_pem, &err))
				goto fail;
			items[n_items++] = (struct gbca_save_item){ key_path, key_pem.data, key_pem.size, 0600 };
		}
	}
	if (!gbca_save_files(items, n_items, &err))
		goto fail;
	if (realpath(items[0].path, abs_cert) == NULL)
		snprintf(abs_cert, sizeof(abs_cert), "%s", items[0].path);
	if (!gbca_ledger_entry_from(leaf.crt, names, n, abs_cert, &entry, &err) ||
	    !gbca_ledger_append(log_fd, &entry, &err)) {
		log_fd = -1;
		gbca_fail_prefix(&err, "the certificate was written but not logged");
		goto fail;
	}
	log_fd = -1;
	if (leaf.clipped)
		gbca_print_warning("the CA expires before %u days from now; the certificate ends with it", o->days);
	print_result(names, n, &leaf, cert_path, leaf.key ? key_path : NULL, o->pkcs12 ? p12_path : NULL);
	rc = GBCA_EXIT_OK;
	goto out;
fail:
	gbca_print_error("%s", err.msg);
out:
	if (log_fd >= 0)
		close(log_fd);
	if (key_pem.data) {
		gnutls_memset(key_pem.data, 0, key_pem.size);
		gnutls_free(key_pem.data);
	}
	if (p12.data)
		gnutls_free(p12.data);
	gnutls_free(cert_pem.data);
	gbca_leaf_free(&leaf);
	gbca_ca_free(&ca);
	gbca_ca_unlock(lock_fd);
	return rc;
}

int
gbca_cmd_issue(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "days", required_argument, NULL, 'd' },
		{ "client", no_argument, NULL, 'C' },
		{ "out-dir", required_argument, NULL, 'o' },
		{ "cert-file", required_argument, NULL, 'c' },
		{ "key-file", required_argument, NULL, 'K' },
		{ "pkcs12", no_argument, NULL, 'P' },
		{ "p12-file", required_argument, NULL, 'F' },
		{ "p12-password", required_argument, NULL, 'W' },
		{ "csr", required_argument, NULL, 'r' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct issue_opts o = { .key_type = GBCA_KEY_P256, .days = GBCA_LEAF_DAYS_MAX, .p12_password = "changeit" };
	struct gbca_name *names = NULL;
	gnutls_x509_crq_t csr = NULL;
	struct gbca_err err;
	char dir[PATH_MAX];
	size_t n = 0;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":k:d:o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (!gbca_key_type_parse(optarg, GBCA_KEY_RSA2048, &o.key_type, &err))
				return gbca_usage_error("issue", "%s", err.msg);
			o.key_set = true;
			break;
		case 'd':
			if (!gbca_parse_uint(optarg, 1, GBCA_LEAF_DAYS_MAX, &o.days))
				return gbca_usage_error("issue", "--days must be a whole number from 1 to %d, not \"%s\"", GBCA_LEAF_DAYS_MAX, optarg);
			break;
		case 'C': o.client = true; break;
		case 'o': o.out_dir = optarg; break;
		case 'c': o.cert_file = optarg; break;
		case 'K': o.key_file = optarg; break;
		case 'P': o.pkcs12 = true; break;
		case 'F': o.p12_file = optarg; o.pkcs12 = true; break;
		case 'W': o.p12_password = optarg; break;
		case 'r': o.csr = optarg; break;
		case 'q': gbca_quiet = true; break;
		case 'h':
			fputs(usage, stdout);
			return GBCA_EXIT_OK;
		default:
			return gbca_bad_option("issue", argv, c);
		}
	}
	if (o.csr) {
		if (optind < argc)
			return gbca_usage_error("issue", "with --csr the names come from the CSR; drop \"%s\"", argv[optind]);
		if (o.pkcs12 || o.key_file || o.key_set)
			return gbca_usage_error("issue", "--csr brings its own key, so --pkcs12, --key-file and --key don't apply");
		if (!gbca_csr_load(o.csr, &csr, &names, &n, &err)) {
			gbca_print_error("%s", err.msg);
			return GBCA_EXIT_FAIL;
		}
	} else {
		if (o.pkcs12 && (o.cert_file || o.key_file))
			return gbca_usage_error("issue", "--pkcs12 writes one file; use --p12-file instead of --cert-file/--key-file");
		if (argc - optind > MAX_NAMES)
			return gbca_usage_error("issue", "too many names (at most %d)", MAX_NAMES);
		if (!gbca_names_from_args(argv + optind, argc - optind, GBCA_DEFAULT_NAME, &names, &n, &err))
			return gbca_usage_error("issue", "%s", err.msg);
	}
	rc = issue(&o, names, n, csr);
	if (rc == GBCA_EXIT_OK && gbca_caroot(dir, sizeof(dir), &err))
		gbca_hint_trust(dir);
	free(names);
	if (csr)
		gnutls_x509_crq_deinit(csr);
	return rc;
}
