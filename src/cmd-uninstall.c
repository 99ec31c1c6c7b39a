/* gbca uninstall: the classic "remove completely" script done right. */
#include "config.h"
#include <gbca/cmd.h>
#include <gbca/hosts.h>
#include <gbca/ledger.h>
#include <gbca/path.h>
#include <gbca/run.h>
#include <gbca/up.h>

#include <errno.h>
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
	"CAROOT/issued.log). --purge also deletes CAROOT with the CA. Afterwards the\n"
	"machine is as it was before 'gbca up'. Run it as root for the system parts.\n";

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

struct issued {
	unsigned removed;
};

/* The files an issuance wrote: the certificate, its key, a .p12. */
static bool
remove_issued(const struct gbca_ledger_entry *e, void *data)
{
	struct issued *st = data;
	char other[PATH_MAX];
	size_t n = strlen(e->file);

	if (e->file[0] != '/')
		return true;
	if (unlink(e->file) == 0)
		st->removed++;
	if (n > 4 && strcmp(e->file + n - 4, ".pem") == 0) {
		snprintf(other, sizeof(other), "%.*s-key.pem", (int)(n - 4), e->file);
		if (unlink(other) == 0)
			st->removed++;
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
	struct issued st = { 0 };
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
	/* 4. the certificates gbca issued */
	if (gbca_ledger_read(caroot, remove_issued, &st, &err))
		printf("certificates: removed %u issued file%s\n", st.removed, st.removed == 1 ? "" : "s");
	{
		char serve_dir[PATH_MAX];
		if (gbca_path_join(serve_dir, sizeof(serve_dir), caroot, "serve", NULL) && access(serve_dir, F_OK) == 0)
			nftw(serve_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	/* 5. the CA itself */
	if (purge && access(caroot, F_OK) == 0) {
		if (nftw(caroot, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0)
			printf("CA: deleted %s\n", caroot);
		else {
			gbca_print_error("couldn't delete %s: %s", caroot, strerror(errno));
			ok = false;
		}
	} else if (!purge) {
		printf("CA: kept in %s ('gbca uninstall --purge' deletes it)\n", caroot);
	}
	return ok ? GBCA_EXIT_OK : GBCA_EXIT_FAIL;
}
