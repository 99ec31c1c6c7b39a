/* gbca uninstall: the classic "remove completely" script done right. */
#include "config.h"
#include <gbca/cmd.h>
#include <gbca/drop.h>
#include <gbca/hosts.h>
#include <gbca/ledger.h>
#include <gbca/path.h>
#include <gbca/run.h>
#include <gbca/up.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: gbca uninstall [--purge]\n"
	"\n"
	"Stops the proxy (and removes the gbca-serve unit), removes the CA from every\n"
	"trust store (older gbca roots too), the shell blocks, the hosts entries (and\n"
	"the hosts backup gbca made) and every certificate and key gbca issued (from\n"
	"CAROOT/issued.log, each only while it is still what gbca wrote: the logged\n"
	"certificate and its key, owned by the CA's owner; others are left, named).\n"
	"--purge also deletes CAROOT with the CA. Afterwards the\n"
	"machine is as it was before 'gbca up'. Run it as root for the system parts.\n";

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* Steps 4 and 5 work on the CAROOT owner's files and run as that owner. */
struct user_files {
	const char *caroot;
	bool purge;
	unsigned removed, left;
};

/* Reads path (a plain file, no link, owned by us) into d; false with a
 * reason when it is not one. Missing files are reported as such. */
static bool
read_own_file(const char *path, gnutls_datum_t *d, const char **why)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	ssize_t r;

	d->data = NULL;
	d->size = 0;
	if (fd < 0) {
		*why = errno == ENOENT ? NULL : errno == ELOOP ? "it is a symbolic link" : strerror(errno);
		return false;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
		close(fd);
		*why = "it is not a plain certificate file";
		return false;
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		*why = "it is not owned by the CA's owner";
		return false;
	}
	d->data = gnutls_malloc((size_t)st.st_size + 1);
	if (d->data == NULL) {
		close(fd);
		*why = "out of memory";
		return false;
	}
	r = read(fd, d->data, (size_t)st.st_size);
	close(fd);
	if (r != st.st_size) {
		gnutls_free(d->data);
		d->data = NULL;
		*why = "it could not be read";
		return false;
	}
	d->size = (unsigned)r;
	return true;
}

static void
left(struct user_files *u, const char *path, const char *why)
{
	if (why == NULL)
		return;   /* already gone */
	printf("certificates: left %s: %s, so it may not be the file gbca wrote\n", path, why);
	u->left++;
}

/* The certificate file is gbca's when its content is still the certificate
 * the log recorded (its SHA-256); then the key beside it is gbca's when it
 * is that certificate's key. Anything else stays, with a line saying so. */
static bool
remove_issued(const struct gbca_ledger_entry *e, void *data)
{
	struct user_files *u = data;
	gnutls_datum_t d;
	gnutls_x509_crt_t crt = NULL;
	gnutls_x509_privkey_t key = NULL;
	unsigned char fp[32], id1[64], id2[64];
	size_t fp_len = sizeof(fp), l1 = sizeof(id1), l2 = sizeof(id2);
	char other[PATH_MAX], hex[65];
	const char *why = NULL;
	size_t n = strlen(e->file);

	if (e->file[0] != '/' || n < 5 || strcmp(e->file + n - 4, ".pem") != 0)
		return true;   /* a .p12 is password-protected: nothing to compare it with */
	if (!read_own_file(e->file, &d, &why)) {
		left(u, e->file, why);
		return true;
	}
	gnutls_x509_crt_init(&crt);
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fp_len) < 0) {
		left(u, e->file, "it is not the certificate gbca issued");
		goto out;
	}
	for (size_t i = 0; i < fp_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", fp[i]);
	if (strcmp(hex, e->sha256) != 0) {
		left(u, e->file, "its content changed since gbca issued it");
		goto out;
	}
	if (unlink(e->file) == 0)
		u->removed++;
	snprintf(other, sizeof(other), "%.*s-key.pem", (int)(n - 4), e->file);
	gnutls_free(d.data);
	if (!read_own_file(other, &d, &why)) {
		left(u, other, why);
		goto out;
	}
	gnutls_x509_privkey_init(&key);
	if (gnutls_x509_privkey_import(key, &d, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_x509_privkey_get_key_id(key, 0, id1, &l1) < 0 ||
	    gnutls_x509_crt_get_key_id(crt, 0, id2, &l2) < 0 || l1 != l2 || memcmp(id1, id2, l1) != 0)
		left(u, other, "it is not the key of the certificate gbca issued");
	else if (unlink(other) == 0)
		u->removed++;
out:
	if (d.data) {
		gnutls_memset(d.data, 0, d.size);
		gnutls_free(d.data);
	}
	if (key)
		gnutls_x509_privkey_deinit(key);
	gnutls_x509_crt_deinit(crt);
	return true;
}

/* The issued certificates, CAROOT/serve/, and with --purge CAROOT itself:
 * as the CAROOT's owner, so a link planted in CAROOT or a path written into
 * issued.log reaches nothing the owner couldn't remove anyway. */
static bool
remove_user_files(void *arg, struct gbca_err *err)
{
	struct user_files *u = arg;
	char serve_dir[PATH_MAX];

	if (gbca_ledger_read(u->caroot, remove_issued, u, err))
		printf("certificates: removed %u issued file%s%s\n", u->removed, u->removed == 1 ? "" : "s",
		       u->left ? " (see the files left above)" : "");
	if (gbca_path_join(serve_dir, sizeof(serve_dir), u->caroot, "serve", NULL) && access(serve_dir, F_OK) == 0)
		nftw(serve_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (u->purge && access(u->caroot, F_OK) == 0) {
		if (nftw(u->caroot, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
			return gbca_fail(err, "couldn't delete %s: %s", u->caroot, strerror(errno));
		printf("CA: deleted %s\n", u->caroot);
	} else if (!u->purge) {
		printf("CA: kept in %s ('gbca uninstall --purge' deletes it)\n", u->caroot);
	}
	return true;
}

static bool
systemctl(const char *a, const char *b)
{
	const char *argv[] = { "systemctl", a, b, NULL };
	char out[512];
	int status;

	return gbca_run(argv, out, sizeof(out), &status, NULL) && status == 0;
}

int
gbca_cmd_uninstall(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "purge", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char caroot[PATH_MAX], report[1024], unit[PATH_MAX], hosts[PATH_MAX], backup[PATH_MAX + 16];
	struct gbca_err err;
	struct user_files user = { 0 };
	bool purge = false, ok = true;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': purge = true; break;
		case 'h':
			fputs(usage, stdout);
			return GBCA_EXIT_OK;
		default:
			return gbca_bad_option("uninstall", argv, c);
		}
	}
	if (optind < argc)
		return gbca_usage_error("uninstall", "unexpected argument \"%s\"", argv[optind]);
	if (!gbca_caroot(caroot, sizeof(caroot), &err)) {
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	/* 1. the proxy */
	if (gbca_up_unit_path(unit, sizeof(unit)) && access(unit, F_OK) == 0) {
		(void)systemctl("stop", "gbca-serve.service");
		(void)systemctl("disable", "gbca-serve.service");
		if (unlink(unit) == 0) {
			(void)systemctl("daemon-reload", NULL);
			printf("serve: removed the gbca-serve unit\n");
		}
	}
	if (gbca_up_stop_serve(caroot, report, sizeof(report)))
		printf("serve: %s\n", report);
	/* 2. the hosts entries and the backup gbca made of the file */
	if (gbca_hosts_set(NULL, NULL, 0, false, false, false, report, sizeof(report), &err)) {
		printf("hosts: %s\n", report);
		if (gbca_hosts_path(hosts, sizeof(hosts), NULL, NULL)) {
			snprintf(backup, sizeof(backup), "%s%s", hosts, GBCA_HOSTS_BACKUP_SUFFIX);
			if (unlink(backup) == 0)
				printf("hosts: removed the backup %s\n", backup);
		}
	} else {
		gbca_print_error("%s", err.msg);
		ok = false;
	}
	/* 3. every trust store, older roots and shell blocks included */
	{
		static const char *const args[] = { "untrust", "--all", NULL };
		char *a[] = { (char *)args[0], (char *)args[1], NULL };
		char cert[PATH_MAX];
		if (gbca_path_join(cert, sizeof(cert), caroot, "rootCA.pem", NULL) && access(cert, F_OK) == 0) {
			if (gbca_cmd_untrust(2, a) != GBCA_EXIT_OK)
				ok = false;
		} else {
			printf("trust: no CA in %s, nothing to untrust\n", caroot);
		}
	}
	/* 4. the certificates gbca issued, 5. the CA itself (as the CAROOT's owner) */
	user.caroot = caroot;
	user.purge = purge;
	if (!gbca_as_owner_of(caroot, remove_user_files, &user, &err)) {
		gbca_print_error("%s", err.msg);
		ok = false;
	}
	return ok ? GBCA_EXIT_OK : GBCA_EXIT_FAIL;
}
