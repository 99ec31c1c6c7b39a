/* Unit tests: the NSS store against real databases made by certutil in a
 * temp HOME (~/.pki/nssdb and a Firefox profile tree), checked with certutil. */
#include "config.h"
#include "tap.h"
#include <gbca/ca.h>
#include <gbca/issue.h>
#include <gbca/p11.h>
#include <gbca/save.h>
#include <gbca/store.h>

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_DBS 3

static struct gbca_err err;
static struct gbca_ca ca, ca_b;
static struct gbca_trust_ctx ctx, ctx_b;
static char dbs[N_DBS][512];          /* ~/.pki/nssdb, a relative and an absolute Firefox profile */
static const char *softokn_env;      /* GBCA_SOFTOKN as the test started */

/* s in single quotes for sh, with ' as '\'' (one profile path has a quote). */
static const char *
q(const char *s)
{
	static char buf[8][1100];
	static int i;
	size_t n = 0;

	i = (i + 1) % 8;
	buf[i][n++] = '\'';
	for (; *s && n < sizeof(buf[i]) - 6; s++) {
		if (*s == '\'') {
			memcpy(buf[i] + n, "'\\''", 4);
			n += 4;
		} else {
			buf[i][n++] = *s;
		}
	}
	buf[i][n++] = '\'';
	buf[i][n] = '\0';
	return buf[i];
}

static int
sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *
listing(const char *dir)
{
	return tap_capture(NULL, "certutil -L -d sql:%s 2>&1", q(dir));
}

/* How many lines of `certutil -L` name label; *trust gets the last one's flags. */
static int
listed(const char *dir, const char *label, char *trust, size_t len)
{
	const char *l = listing(dir);
	size_t ll = strlen(label);
	int n = 0;

	if (trust)
		trust[0] = '\0';
	for (const char *line = l; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		char flags[64];
		if (strncmp(line, label, ll) != 0 || line[ll] != ' ')
			continue;
		n++;
		if (trust && sscanf(line + ll, " %63s", flags) == 1)
			snprintf(trust, len, "%s", flags);
	}
	return n;
}

static void
make_db(const char *dir)
{
	if (sh("mkdir -p %s && certutil -N -d sql:%s --empty-password", q(dir), q(dir)) != 0)
		tap_fail(__FILE__, __LINE__, "certutil -N -d %s failed", dir);
}

static void
make_root(const char *dir, struct gbca_ca *out_ca, struct gbca_trust_ctx *out_ctx)
{
	struct gbca_ca_options o = { .key_type = GBCA_KEY_P256, .constrained = true };
	char backup[512];

	mkdir(dir, 0700);
	if (!gbca_ca_create(dir, &o, out_ca, backup, sizeof(backup), &err))
		tap_fail(__FILE__, __LINE__, "gbca_ca_create: %s", err.msg);
	if (!gbca_trust_ctx_init(out_ctx, dir, &err))
		tap_fail(__FILE__, __LINE__, "gbca_trust_ctx_init: %s", err.msg);
	out_ctx->is_root = false;
}

static void
cleanup(void)
{
	gbca_ca_free(&ca);
	gbca_ca_free(&ca_b);
	gbca_trust_ctx_free(&ctx);
	gbca_trust_ctx_free(&ctx_b);
	memset(&ca, 0, sizeof(ca));
	memset(&ca_b, 0, sizeof(ca_b));
}

/* A temp HOME with ~/.pki/nssdb and a Firefox profiles.ini listing a
 * relative profile, an absolute one (outside HOME, with a quote in its
 * name), one without a database and one that repeats the first. */
static void
setup(bool with_dbs)
{
	char ini[2048];

	cleanup();
	if (softokn_env)
		setenv("GBCA_SOFTOKN", softokn_env, 1);
	else
		unsetenv("GBCA_SOFTOKN");
	mkdir(tap_path("home"), 0700);
	setenv("HOME", tap_path("home"), 1);
	setenv("GBCA_SYSROOT", tap_path("sys"), 1);
	snprintf(dbs[0], sizeof(dbs[0]), "%s", tap_path("home/.pki/nssdb"));
	snprintf(dbs[1], sizeof(dbs[1]), "%s", tap_path("home/.mozilla/firefox/abc.default"));
	snprintf(dbs[2], sizeof(dbs[2]), "%s", tap_path("elsewhere/abs profile's"));
	make_root(tap_path("caroot"), &ca, &ctx);
	if (!with_dbs)
		return;
	for (int i = 0; i < N_DBS; i++)
		make_db(dbs[i]);
	sh("mkdir -p %s", q(tap_path("home/.mozilla/firefox/nodb.profile")));
	snprintf(ini, sizeof(ini),
	         "[General]\nStartWithLastProfile=1\nVersion=2\n\n"
	         "[Profile0]\nName=default\nIsRelative=1\nPath=abc.default\nDefault=1\n\n"
	         "[Profile1]\r\nName=abs\r\nIsRelative=0\r\nPath=%s\r\n\r\n"
	         "[Profile2]\nName=nodb\nIsRelative=1\nPath=nodb.profile\n\n"
	         "[Profile3]\nName=again\nIsRelative=0\nPath=%s\n\n"
	         "[Install4F96D1932A9F858E]\nDefault=abc.default\nLocked=1\n",
	         dbs[2], dbs[1]);
	if (!gbca_save_file(tap_path("home/.mozilla/firefox/profiles.ini"), ini, strlen(ini), 0644, &err))
		tap_fail(__FILE__, __LINE__, "%s", err.msg);
}

static enum gbca_trust_state
check(const struct gbca_trust_ctx *c, char *where, size_t len)
{
	return gbca_store_nss.check(c, where, len);
}

static bool
install(const struct gbca_trust_ctx *c, char *report)
{
	err.msg[0] = '\0';
	return gbca_store_nss.install(c, report, GBCA_REPORT_MAX, &err);
}

static bool
uninstall(const struct gbca_trust_ctx *c, char *report)
{
	err.msg[0] = '\0';
	return gbca_store_nss.uninstall(c, report, GBCA_REPORT_MAX, &err);
}

static void
assert_trusted_everywhere(const struct gbca_trust_ctx *c)
{
	char trust[64];

	for (int i = 0; i < N_DBS; i++) {
		if (listed(dbs[i], c->label, trust, sizeof(trust)) != 1)
			tap_fail(__FILE__, __LINE__, "%s not listed once in %s:\n%s", c->label, dbs[i], listing(dbs[i]));
		assert_str_eq(trust, "C,,");
	}
}

static void
test_absent(void)
{
	char where[GBCA_REPORT_MAX], report[GBCA_REPORT_MAX];

	setup(false);
	assert_int_eq(check(&ctx, where, sizeof(where)), GBCA_TRUST_ABSENT);
	assert_str_contains(where, "no NSS databases");
	assert_true(install(&ctx, report));
	assert_str_contains(report, "no NSS databases");
}

static void
test_finds_databases(void)
{
	char where[GBCA_REPORT_MAX], expect[GBCA_REPORT_MAX];

	setup(true);
	assert_int_eq(check(&ctx, where, sizeof(where)), GBCA_TRUST_MISSING);
	/* each database once, ~ for HOME, in discovery order; no nodb.profile */
	snprintf(expect, sizeof(expect), "~/.pki/nssdb, ~/.mozilla/firefox/abc.default, %s", dbs[2]);
	assert_str_eq(where, expect);
	/* as root, /etc/pki/nssdb too (re-rooted) */
	make_db(tap_path("sys/etc/pki/nssdb"));
	ctx.is_root = true;
	assert_int_eq(check(&ctx, where, sizeof(where)), GBCA_TRUST_MISSING);
	assert_str_contains(where, tap_path("sys/etc/pki/nssdb"));
}

static void
test_install_uninstall(void)
{
	char where[GBCA_REPORT_MAX], report[GBCA_REPORT_MAX], before[N_DBS][16384];

	setup(true);
	for (int i = 0; i < N_DBS; i++)
		snprintf(before[i], sizeof(before[i]), "%s", listing(dbs[i]));
	assert_int_eq(check(&ctx, where, sizeof(where)), GBCA_TRUST_MISSING);

	if (!install(&ctx, report))
		tap_fail(__FILE__, __LINE__, "install: %s", err.msg);
	assert_str_contains(report, "nss: added to 3 databases (~/.pki/nssdb, ~/.mozilla/firefox/abc.default");
	assert_trusted_everywhere(&ctx);
	assert_int_eq(check(&ctx, where, sizeof(where)), GBCA_TRUST_INSTALLED);

	/* again: nothing written, still one entry each */
	assert_true(install(&ctx, report));
	assert_str_contains(report, "nss: already in 3 databases");
	assert_trusted_everywhere(&ctx);

	if (!uninstall(&ctx, report))
		tap_fail(__FILE__, __LINE__, "uninstall: %s", err.msg);
	assert_str_contains(report, "nss: removed from 3 databases");
	for (int i = 0; i < N_DBS; i++) {
		assert_int_eq(listed(dbs[i], ctx.label, NULL, 0), 0);
		assert_str_eq(listing(dbs[i]), before[i]);
	}
	assert_int_eq(check(&ctx, where, sizeof(where)), GBCA_TRUST_MISSING);
	assert_true(uninstall(&ctx, report));
	assert_str_contains(report, "nss: not in 3 databases");
}

/* Imports leaf into a copy of db and asks certutil whether it verifies for a TLS server. */
static bool
leaf_verifies(const char *db, const char *leaf_pem, const char *copy)
{
	const char *v;

	if (sh("rm -rf %s && cp -r %s %s", q(copy), q(db), q(copy)) != 0 ||
	    sh("certutil -A -d sql:%s -n leaf -t ,, -i %s", q(copy), q(leaf_pem)) != 0)
		tap_fail(__FILE__, __LINE__, "couldn't import the leaf into %s", copy);
	v = tap_capture(NULL, "{ certutil -V -u V -n leaf -d sql:%s 2>&1; echo rc=$?; } | tr '\\n' ' '", q(copy));
	printf("# %s: %s\n", copy, v);
	return strstr(v, "certificate is valid") != NULL && strstr(v, "rc=0") != NULL;
}

static void
test_leaf_verifies(void)
{
	struct gbca_name name;
	struct gbca_leaf_request r = { .names = &name, .n_names = 1, .key_type = GBCA_KEY_P256, .days = 30 };
	struct gbca_leaf leaf = { NULL, NULL, false };
	gnutls_datum_t pem = { NULL, 0 };
	char report[GBCA_REPORT_MAX];
	bool saved;

	setup(true);
	assert_true(gbca_name_parse(GBCA_DEFAULT_NAME, &name, &err));
	if (!gbca_issue_leaf(&ca, &r, &leaf, &err))
		tap_fail(__FILE__, __LINE__, "gbca_issue_leaf: %s", err.msg);
	assert_true(gnutls_x509_crt_export2(leaf.crt, GNUTLS_X509_FMT_PEM, &pem) >= 0);
	saved = gbca_save_file(tap_path("leaf.pem"), pem.data, pem.size, 0644, &err);
	gnutls_free(pem.data);
	gbca_leaf_free(&leaf);
	assert_true(saved);

	for (int i = 0; i < N_DBS; i++)
		assert_false(leaf_verifies(dbs[i], tap_path("leaf.pem"), tap_path("copy%d", i)));
	if (!install(&ctx, report))
		tap_fail(__FILE__, __LINE__, "install: %s", err.msg);
	for (int i = 0; i < N_DBS; i++)
		assert_true(leaf_verifies(dbs[i], tap_path("leaf.pem"), tap_path("copy%d", i)));
}

/* A trust object changed by hand (certutil -M -t ,,) is put right. */
static void
test_repairs_trust(void)
{
	char where[GBCA_REPORT_MAX], report[GBCA_REPORT_MAX], trust[64];

	setup(true);
	assert_true(install(&ctx, report));
	assert_int_eq(sh("certutil -M -d sql:%s -n %s -t ,,", q(dbs[1]), ctx.label), 0);
	assert_int_eq(listed(dbs[1], ctx.label, trust, sizeof(trust)), 1);
	assert_str_eq(trust, ",,");
	assert_int_eq(check(&ctx, where, sizeof(where)), GBCA_TRUST_MISSING);
	assert_str_contains(where, "~/.mozilla/firefox/abc.default (not installed)");
	assert_true(install(&ctx, report));
	assert_str_contains(report, "added to 1 database (~/.mozilla/firefox/abc.default); already in 2 databases");
	assert_trusted_everywhere(&ctx);
	assert_int_eq(check(&ctx, where, sizeof(where)), GBCA_TRUST_INSTALLED);
}

static void
test_stale(void)
{
	char where[GBCA_REPORT_MAX], report[GBCA_REPORT_MAX];

	setup(true);
	assert_true(install(&ctx, report));          /* root A */
	make_root(tap_path("caroot-b"), &ca_b, &ctx_b);   /* root B is now current */
	assert_str_eq(ca_b.dir, tap_path("caroot-b"));
	assert_int_eq(check(&ctx_b, where, sizeof(where)), GBCA_TRUST_STALE);
	/* without --all, older roots stay */
	assert_true(uninstall(&ctx_b, report));
	assert_int_eq(check(&ctx_b, where, sizeof(where)), GBCA_TRUST_STALE);
	assert_trusted_everywhere(&ctx);
	/* installing B keeps A; the state is about B */
	assert_true(install(&ctx_b, report));
	assert_int_eq(check(&ctx_b, where, sizeof(where)), GBCA_TRUST_INSTALLED);
	ctx_b.all = true;
	assert_true(uninstall(&ctx_b, report));
	assert_str_contains(report, "removed 6 gbca roots from 3 databases");
	for (int i = 0; i < N_DBS; i++) {
		assert_int_eq(listed(dbs[i], ctx.label, NULL, 0), 0);
		assert_int_eq(listed(dbs[i], ctx_b.label, NULL, 0), 0);
	}
	assert_int_eq(check(&ctx_b, where, sizeof(where)), GBCA_TRUST_MISSING);
	assert_int_eq(check(&ctx, where, sizeof(where)), GBCA_TRUST_MISSING);
}

static void
test_corrupt(void)
{
	char where[GBCA_REPORT_MAX], report[GBCA_REPORT_MAX], trust[64];

	setup(true);
	assert_int_eq(sh("head -c 40000 /dev/urandom > %s/cert9.db", q(dbs[0])), 0);
	/* the damaged one comes first: the module must load again after its failure */
	assert_false(install(&ctx, report));
	printf("# %s\n", err.msg);
	assert_str_contains(err.msg, "~/.pki/nssdb is damaged (cert9.db is not an SQLite database)");
	assert_str_contains(err.msg, "added to 2 databases");
	for (int i = 1; i < N_DBS; i++) {
		assert_int_eq(listed(dbs[i], ctx.label, trust, sizeof(trust)), 1);
		assert_str_eq(trust, "C,,");
	}
	assert_int_eq(check(&ctx, where, sizeof(where)), GBCA_TRUST_MISSING);
	assert_str_contains(where, "~/.pki/nssdb (damaged");
	assert_false(uninstall(&ctx, report));
	assert_str_contains(err.msg, "removed from 2 databases");
	assert_int_eq(listed(dbs[1], ctx.label, NULL, 0), 0);
}

/* Holds the SQLite lock bytes of file in a child, as a browser in the
 * middle of a write would. */
static pid_t
hold_lock(const char *file)
{
	int ready[2];
	pid_t pid;
	char c;

	assert_int_eq(pipe(ready), 0);
	if ((pid = fork()) == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0x40000000, .l_len = 512 };
		int fd = open(file, O_RDWR);
		if (fd < 0 || fcntl(fd, F_SETLK, &fl) != 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	assert_int_eq(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return pid;
}

static void
test_locked(void)
{
	char where[GBCA_REPORT_MAX], report[GBCA_REPORT_MAX];
	pid_t pid;
	char file[1100];

	setup(true);
	snprintf(file, sizeof(file), "%s/cert9.db", dbs[1]);
	pid = hold_lock(file);
	install(&ctx, report);
	assert_int_eq(check(&ctx, where, sizeof(where)), GBCA_TRUST_MISSING);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	printf("# %s\n# %s\n", err.msg, where);
	assert_str_contains(err.msg, "~/.mozilla/firefox/abc.default is locked by test-nss (pid ");
	assert_str_contains(err.msg, "close the browser and run 'gbca trust' again");
	assert_str_contains(err.msg, "added to 2 databases");
	assert_str_contains(where, "~/.mozilla/firefox/abc.default (locked by test-nss, pid ");
	assert_false(strstr(where, "~/.pki/nssdb ("));
	assert_int_eq(listed(dbs[0], ctx.label, NULL, 0), 1);
	assert_int_eq(listed(dbs[1], ctx.label, NULL, 0), 0);
	/* once the browser is gone, the next run finishes the job */
	assert_true(install(&ctx, report));
	assert_str_contains(report, "added to 1 database (~/.mozilla/firefox/abc.default); already in 2");
	assert_trusted_everywhere(&ctx);
}

static void
test_no_softokn(void)
{
	char where[GBCA_REPORT_MAX], report[GBCA_REPORT_MAX];

	setup(true);
	setenv("GBCA_SOFTOKN", tap_path("nowhere/libsoftokn3.so"), 1);
	assert_false(install(&ctx, report));
	assert_str_contains(err.msg, "install libnss3");
	assert_int_eq(check(&ctx, where, sizeof(where)), GBCA_TRUST_MISSING);
	assert_str_contains(where, "install libnss3");
	for (int i = 0; i < N_DBS; i++)
		assert_int_eq(listed(dbs[i], ctx.label, NULL, 0), 0);
}

static void
test_system_db(void)
{
	char report[GBCA_REPORT_MAX], trust[64], sys[1024];

	setup(true);
	snprintf(sys, sizeof(sys), "%s", tap_path("sys/etc/pki/nssdb"));
	make_db(sys);
	/* not root: /etc/pki/nssdb is left alone */
	assert_true(install(&ctx, report));
	assert_int_eq(listed(sys, ctx.label, NULL, 0), 0);
	ctx.is_root = true;
	assert_true(install(&ctx, report));
	assert_str_contains(report, "added to 1 database");
	assert_str_contains(report, sys);
	assert_int_eq(listed(sys, ctx.label, trust, sizeof(trust)), 1);
	assert_str_eq(trust, "C,,");
	assert_true(uninstall(&ctx, report));
	assert_str_contains(report, "removed from 4 databases");
	assert_int_eq(listed(sys, ctx.label, NULL, 0), 0);
}

int
main(void)
{
	char path[1024];
	int rc;

	softokn_env = getenv("GBCA_SOFTOKN");
	if (!gbca_p11_find_module("libsoftokn3.so", "GBCA_SOFTOKN", path, sizeof(path)) ||
	    sh("command -v certutil >/dev/null 2>&1") != 0) {
		const char *ci = getenv("CI");
		if (ci == NULL || ci[0] == '\0') {
			printf("1..0 # SKIP needs certutil (libnss3-tools) and libsoftokn3.so (libnss3)\n");
			return 0;
		}
	}
	tap_add("/nss/absent", test_absent);
	tap_add("/nss/finds-databases", test_finds_databases);
	tap_add("/nss/install-uninstall", test_install_uninstall);
	tap_add("/nss/leaf-verifies", test_leaf_verifies);
	tap_add("/nss/repairs-trust", test_repairs_trust);
	tap_add("/nss/stale", test_stale);
	tap_add("/nss/corrupt", test_corrupt);
	tap_add("/nss/locked", test_locked);
	tap_add("/nss/no-softokn", test_no_softokn);
	tap_add("/nss/system-db", test_system_db);
	rc = tap_run();
	cleanup();
	return rc;
}
