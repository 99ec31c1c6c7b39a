/* gbca init: create (or import) the local root CA. */
#include "config.h"
#include <gbca/ca.h>
#include <gbca/cmd.h>
#include <gbca/path.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: gbca init [--key TYPE] [--permit NAME]... [--no-constraints] [--force]\n"
	"       gbca init --import CERT KEY [--force]\n"
	"\n"
	"Creates the local root CA in CAROOT (see 'gbca caroot'): rootCA.pem (0644)\n"
	"and rootCA-key.pem (0400) in a 0700 folder. The root is name-constrained: it\n"
	"can only certify generativelanguage.googleapis.com, localhost, *.localhost,\n"
	"127.0.0.0/8, ::1 and mailboxes @localhost, plus what --permit adds, so a\n"
	"leaked key can't impersonate the rest of the web.\n"
	"\n"
	"options:\n"
	"  --key TYPE         ecdsa (P-256, default), p384, rsa (RSA-3072), rsa2048\n"
	"  --permit NAME      also allow NAME: a host (example.test, which includes its\n"
	"                     subdomains), .domain (subdomains only), an IP address or\n"
	"                     CIDR range (10.0.0.0/8), a mailbox or @domain; repeatable\n"
	"  --no-constraints   make an unconstrained root, like mkcert's (not advised)\n"
	"  --import CERT KEY  use an existing root and its unencrypted key (e.g. mkcert's\n"
	"                     rootCA.pem and rootCA-key.pem) instead of making one\n"
	"  --force            replace an existing CA; the old one is kept in\n"
	"                     CAROOT/backup-<time>/\n"
	"  -q, --quiet        print nothing on success\n"
	"  -h, --help         show this help\n"
	"\n"
	"Without --force, an existing CA is kept and used (exit 0), so 'gbca init &&\n"
	"gbca issue' works every time; --key, --permit, --no-constraints or --import\n"
	"with a CA present is an error, as they would describe another root.\n";

static void
print_summary(const struct gbca_ca *ca, const char *what, const char *after)
{
	unsigned char fp[32];
	size_t fp_len = sizeof(fp);
	char one[300];

	if (gbca_quiet)
		return;
	printf("%s the local CA in %s%s\n", what, ca->dir, after);
	if (gnutls_x509_crt_get_fingerprint(ca->crt, GNUTLS_DIG_SHA256, fp, &fp_len) >= 0) {
		printf("  SHA-256 fingerprint: ");
		for (size_t i = 0; i < fp_len; i++)
			printf("%02X%s", fp[i], i + 1 < fp_len ? ":" : "\n");
	}
	if (!ca->constrained) {
		printf("  name constraints: none\n");
	} else {
		printf("  name constraints (permitted):");
		for (size_t i = 0; i < ca->n_permitted; i++) {
			gbca_subtree_format(&ca->permitted[i], one, sizeof(one));
			printf("%s %s", i ? "," : "", one);
		}
		printf("\n");
	}
	printf("next: 'gbca issue' makes a certificate for generativelanguage.googleapis.com\n");
}

static bool
ca_present(const char *dir)
{
	char cert[PATH_MAX], key[PATH_MAX];
	struct stat st;

	if (!gbca_path_join(cert, sizeof(cert), dir, GBCA_CA_CERT_FILE, NULL) ||
	    !gbca_path_join(key, sizeof(key), dir, GBCA_CA_KEY_FILE, NULL))
		return false;
	return lstat(cert, &st) == 0 || lstat(key, &st) == 0;
}

/* mkcert's behaviour: a second init uses the CA it finds, so scripts can run
 * `gbca init && gbca issue` without testing for one first. Options that
 * describe a root (key type, constraints, import) would silently not apply,
 * so they still need --force. */
static int
reuse(const char *dir, const struct gbca_ca_options *o, bool key_set)
{
	struct gbca_ca ca;
	struct gbca_err err;

	if (o->import_cert || key_set || o->n_permit || !o->constrained) {
		gbca_print_error("a CA already exists in %s; --key, --permit, --no-constraints and --import "
		                 "make a new one, so add --force to replace it (the old one is kept in a backup folder), "
		                 "or run 'gbca init' alone to keep using it", dir);
		return GBCA_EXIT_FAIL;
	}
	if (!gbca_ca_load(dir, true, &ca, &err)) {
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	print_summary(&ca, "Using", " (it exists already; 'gbca init --force' replaces it)");
	gbca_ca_free(&ca);
	gbca_hint_trust(dir);
	return GBCA_EXIT_OK;
}

static void
warn_unconstrained(void)
{
	gbca_print_warning("this root has no name constraints: anyone who obtains rootCA-key.pem can make "
	                   "certificates for ANY website (your bank, google.com) that every program trusting "
	                   "this root will accept. Keep the key secret, or make a constrained root with "
	                   "'gbca init --force' (and --permit for the names you need).");
}

int
gbca_cmd_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "permit", required_argument, NULL, 'p' },
		{ "no-constraints", no_argument, NULL, 'N' },
		{ "import", required_argument, NULL, 'I' },
		{ "force", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gbca_subtree permit[GBCA_SUBTREES_MAX];
	struct gbca_ca_options o = { .key_type = GBCA_KEY_P256, .constrained = true, .permit = permit };
	struct gbca_ca ca;
	struct gbca_err err;
	char dir[PATH_MAX], backup[PATH_MAX];
	bool key_set = false;
	struct stat st;
	int c, lock_fd = -1, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":k:p:fqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (!gbca_key_type_parse(optarg, GBCA_KEY_RSA3072, &o.key_type, &err))
				return gbca_usage_error("init", "%s", err.msg);
			key_set = true;
			break;
		case 'p':
			if (o.n_permit == GBCA_SUBTREES_MAX)
				return gbca_usage_error("init", "too many --permit values (at most %d)", GBCA_SUBTREES_MAX);
			if (!gbca_subtree_parse(optarg, &permit[o.n_permit], &err))
				return gbca_usage_error("init", "%s", err.msg);
			o.n_permit++;
			break;
		case 'N':
			o.constrained = false;
			break;
		case 'I':
			o.import_cert = optarg;
			if (optind >= argc || argv[optind][0] == '-')
				return gbca_usage_error("init", "--import needs two files: the CA certificate and its key");
			o.import_key = argv[optind++];
			break;
		case 'f':
			o.force = true;
			break;
		case 'q':
			gbca_quiet = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return GBCA_EXIT_OK;
		default:
			return gbca_bad_option("init", argv, c);
		}
	}
	if (optind < argc)
		return gbca_usage_error("init", "unexpected argument \"%s\"", argv[optind]);
	if (o.import_cert && (key_set || o.n_permit || !o.constrained))
		return gbca_usage_error("init", "--import takes the root as it is; --key, --permit and --no-constraints don't apply");
	if (!o.constrained && o.n_permit)
		return gbca_usage_error("init", "--permit and --no-constraints contradict each other");

	if (!gbca_caroot(dir, sizeof(dir), &err)) {
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	if (!gbca_mkdir_p(dir, 0700, &err)) {
		gbca_print_error("%s; set GBCA_CAROOT to a folder you can write", err.msg);
		return GBCA_EXIT_FAIL;
	}
	if (stat(dir, &st) == 0 && (st.st_mode & 077) && st.st_uid == geteuid()) {
		if (chmod(dir, 0700) == 0)
			gbca_print_note("tightened the permissions of %s to 0700", dir);
	}
	if (!gbca_ca_lock(dir, true, &lock_fd, &err)) {
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	if (!o.force && ca_present(dir)) {
		rc = reuse(dir, &o, key_set);
		gbca_ca_unlock(lock_fd);
		return rc;
	}
	if (!gbca_ca_create(dir, &o, &ca, backup, sizeof(backup), &err)) {
		gbca_print_error("%s", err.msg);
		gbca_ca_unlock(lock_fd);
		return GBCA_EXIT_FAIL;
	}
	gbca_ca_unlock(lock_fd);
	if (backup[0])
		gbca_print_note("the previous CA was kept in %s", backup);
	if (!ca.constrained)
		warn_unconstrained();
	print_summary(&ca, o.import_cert ? "Imported" : "Created", "");
	rc = GBCA_EXIT_OK;
	gbca_ca_free(&ca);
	gbca_hint_trust(dir);
	return rc;
}
