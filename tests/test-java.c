/* Unit tests: the java store against copies of the real JDK's cacerts,
 * driven and read back with the real keytool. */
#include "config.h"
#include "tap.h"
#include <gbca/ca.h>
#include <gbca/path.h>
#include <gbca/save.h>
#include <gbca/store.h>

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SYS_KEYSTORE "/etc/ssl/certs/java/cacerts"

static struct gbca_err err;
static struct gbca_trust_ctx ctx;
static char report[GBCA_REPORT_MAX], where[GBCA_REPORT_MAX];
static char real_keytool[PATH_MAX];

static void
setup(void)
{
	struct gbca_ca_options o = { .key_type = GBCA_KEY_P256, .constrained = true };
	struct gbca_ca ca;
	char caroot[600], backup[1024];

	gbca_trust_ctx_free(&ctx);
	unsetenv("JAVA_HOME");
	unsetenv("GBCA_SYSROOT");
	unsetenv("JAVA_TOOL_OPTIONS");
	snprintf(caroot, sizeof(caroot), "%s/ca", tap_tmpdir());
	mkdir(caroot, 0700);
	if (!gbca_ca_create(caroot, &o, &ca, backup, sizeof(backup), &err))
		tap_fail(__FILE__, __LINE__, "gbca_ca_create: %s", err.msg);
	gbca_ca_free(&ca);
	if (!gbca_trust_ctx_init(&ctx, caroot, &err))
		tap_fail(__FILE__, __LINE__, "gbca_trust_ctx_init: %s", err.msg);
	memset(&err, 0, sizeof(err));
}

static char *
slurp(const char *p, size_t *len)
{
	gnutls_datum_t d = { NULL, 0 };
	char *copy;

	*len = 0;
	if (gnutls_load_file(p, &d) < 0)
		return NULL;
	copy = malloc(d.size + 1);
	assert_true(copy != NULL);
	memcpy(copy, d.data, d.size);
	copy[d.size] = '\0';
	*len = d.size;
	gnutls_free(d.data);
	return copy;
}

static void
copy_file(const char *from, const char *to)
{
	size_t len;
	char *data = slurp(from, &len);

	assert_true(data != NULL);
	if (!gbca_save_file(to, data, len, 0644, &err))
		tap_fail(__FILE__, __LINE__, "%s", err.msg);
	free(data);
}

/* A JDK home at rel: bin/keytool the real one; lib/security/cacerts a copy
 * of the system keystore, or a link to link_to. */
static const char *
make_jdk(const char *rel, const char *link_to)
{
	static char home[700];
	char d[800];

	snprintf(home, sizeof(home), "%s", tap_path("%s", rel));
	snprintf(d, sizeof(d), "%s/bin", home);
	assert_true(gbca_mkdir_p(d, 0755, &err));
	snprintf(d, sizeof(d), "%s/lib/security", home);
	assert_true(gbca_mkdir_p(d, 0755, &err));
	snprintf(d, sizeof(d), "%s/bin/keytool", home);
	assert_int_eq(symlink(real_keytool, d), 0);
	snprintf(d, sizeof(d), "%s/lib/security/cacerts", home);
	if (link_to)
		assert_int_eq(symlink(link_to, d), 0);
	else
		copy_file(SYS_KEYSTORE, d);
	setenv("JAVA_HOME", home, 1);
	return home;
}

/* keytool's output (stderr too) and exit status. */
static const char *
keytool(int *status, const char *fmt, ...)
{
	char args[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	return tap_capture(status, "'%s' %s -storepass changeit </dev/null 2>&1", real_keytool, args);
}

static void
test_no_jdk(void)
{
	setup();
	assert_true(mkdir(tap_path("empty"), 0755) == 0);
	setenv("JAVA_HOME", tap_path("empty"), 1);
	assert_int_eq(gbca_store_java.check(&ctx, where, sizeof(where)), GBCA_TRUST_ABSENT);
	assert_str_contains(where, "no JDK found: JAVA_HOME (");
	assert_str_contains(where, ") has no bin/keytool");
	assert_true(gbca_store_java.install(&ctx, report, sizeof(report), &err));
	assert_str_contains(report, "java: no JDK found");
	assert_str_contains(report, "; skipped");
	assert_true(gbca_store_java.uninstall(&ctx, report, sizeof(report), &err));
	assert_str_contains(report, "nothing to remove");
	/* a keytool but no cacerts */
	assert_true(gbca_mkdir_p(tap_path("nocacerts/bin"), 0755, &err));
	assert_int_eq(symlink(real_keytool, tap_path("nocacerts/bin/keytool")), 0);
	setenv("JAVA_HOME", tap_path("nocacerts"), 1);
	assert_int_eq(gbca_store_java.check(&ctx, where, sizeof(where)), GBCA_TRUST_ABSENT);
	assert_str_contains(where, "has no lib/security/cacerts");
}

/* A JDK of its own (no system layout under GBCA_SYSROOT): keytool adds the
 * root as gbca-<label>, and removing it gives back the same keystore. */
static void
test_install_uninstall(void)
{
	char cacerts[800], alias[96], *before;
	const char *after;
	const char *other_pem = tap_path("other.pem");
	int status;

	setup();
	assert_int_eq(mkdir(tap_path("sys"), 0755), 0);
	setenv("GBCA_SYSROOT", tap_path("sys"), 1);
	snprintf(cacerts, sizeof(cacerts), "%s/lib/security/cacerts", make_jdk("jdk", NULL));
	snprintf(alias, sizeof(alias), "%s", ctx.label);
	before = strdup(keytool(NULL, "-list -keystore '%s'", cacerts));
	assert_true(before != NULL);
	assert_str_contains(before, "trustedCertEntry");

	assert_true(gbca_store_java.install(&ctx, report, sizeof(report), &err));
	assert_str_contains(report, "java: added gbca-");
	assert_str_contains(report, cacerts);
	keytool(&status, "-list -keystore '%s' -alias %s", cacerts, alias);
	assert_int_eq(status, 0);
	assert_int_eq(gbca_store_java.check(&ctx, where, sizeof(where)), GBCA_TRUST_INSTALLED);
	assert_str_eq(where, cacerts);
	assert_true(gbca_store_java.install(&ctx, report, sizeof(report), &err));
	assert_str_contains(report, "java: already trusted");

	assert_true(gbca_store_java.uninstall(&ctx, report, sizeof(report), &err));
	assert_str_contains(report, "java: removed ");
	assert_str_contains(report, ctx.label);
	/* an older gbca root (ours, under another label): stale, kept by a plain
	 * untrust, removed with --all */
	assert_true(gbca_save_file(other_pem, ctx.root_pem.data, ctx.root_pem.size, 0644, &err));
	keytool(&status, "-importcert -noprompt -keystore '%s' -alias gbca-00000000deadbeef -file '%s'",
	        cacerts, other_pem);
	assert_int_eq(status, 0);
	assert_int_eq(gbca_store_java.check(&ctx, where, sizeof(where)), GBCA_TRUST_STALE);
	assert_true(gbca_store_java.uninstall(&ctx, report, sizeof(report), &err));
	assert_str_contains(report, "java: nothing to remove");
	ctx.all = true;
	assert_true(gbca_store_java.uninstall(&ctx, report, sizeof(report), &err));
	ctx.all = false;
	assert_str_contains(report, "java: removed gbca-00000000deadbeef from ");
	after = keytool(NULL, "-list -keystore '%s'", cacerts);
	assert_str_eq(after, before);
	free(before);
}

/* Debian: the JDK's cacerts is the system layout's keystore, which the
 * system store's hook fills, so this store only reports on it. */
static void
test_covered(void)
{
	char ks[800], *before, *after;
	size_t before_len, after_len;
	int status;

	setup();
	assert_true(gbca_mkdir_p(tap_path("sys/usr/local/share/ca-certificates"), 0755, &err));
	assert_true(gbca_mkdir_p(tap_path("sys/etc/ssl/certs/java"), 0755, &err));
	snprintf(ks, sizeof(ks), "%s", tap_path("sys" SYS_KEYSTORE));
	copy_file(SYS_KEYSTORE, ks);
	setenv("GBCA_SYSROOT", tap_path("sys"), 1);
	make_jdk("jdk", ks);
	/* what update-ca-certificates' Java hook does */
	assert_true(gbca_save_file(tap_path("root.pem"), ctx.root_pem.data, ctx.root_pem.size, 0644, &err));
	keytool(&status, "-importcert -noprompt -keystore '%s' -alias debian:%s.pem -file '%s'",
	        ks, ctx.label, tap_path("root.pem"));
	assert_int_eq(status, 0);
	assert_int_eq(gbca_store_java.check(&ctx, where, sizeof(where)), GBCA_TRUST_INSTALLED);
	assert_str_contains(where, "(filled by the system store's Java hook)");
	before = slurp(ks, &before_len);
	assert_true(gbca_store_java.install(&ctx, report, sizeof(report), &err));
	assert_str_contains(report, "is covered by the system store");
	assert_true(gbca_store_java.uninstall(&ctx, report, sizeof(report), &err));
	assert_str_contains(report, "is covered by the system store");
	after = slurp(ks, &after_len);
	assert_true(before != NULL && after != NULL);
	assert_int_eq(after_len, before_len);
	assert_true(before && after && memcmp(after, before, before_len) == 0);
	free(before);
	free(after);
}

/* The machine's own JDK, found through keytool on PATH: on Debian it is
 * covered, and check only reads the keystore. */
static void
test_path_jdk(void)
{
	setup();
	assert_int_eq(gbca_store_java.check(&ctx, where, sizeof(where)), GBCA_TRUST_MISSING);
	assert_str_contains(where, "/lib/security/cacerts (filled by the system store's Java hook)");
	assert_true(gbca_store_java.install(&ctx, report, sizeof(report), &err));
	assert_str_contains(report, "is covered by the system store");
}

static void
test_read_only(void)
{
	char cacerts[800];
	pid_t pid;
	int status = -1;

	setup();
	assert_int_eq(mkdir(tap_path("sys"), 0755), 0);
	setenv("GBCA_SYSROOT", tap_path("sys"), 1);
	snprintf(cacerts, sizeof(cacerts), "%s/lib/security/cacerts", make_jdk("jdk", NULL));
	assert_int_eq(chmod(cacerts, 0444), 0);
	if (geteuid() != 0) {
		assert_false(gbca_store_java.install(&ctx, report, sizeof(report), &err));
		assert_str_contains(err.msg, "needs root: ");
		assert_str_contains(err.msg, "run: sudo JAVA_HOME='");
		assert_str_contains(err.msg, "gbca trust --stores java");
		return;
	}
	/* Root may write anything: ask as nobody, in a child, what a user would see. */
	assert_int_eq(chmod(tap_tmpdir(), 0755), 0);
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(3);
		if (gbca_store_java.install(&ctx, report, sizeof(report), &err))
			_exit(1);
		_exit(strstr(err.msg, "needs root: ") && strstr(err.msg, "run: sudo JAVA_HOME='") &&
		      strstr(err.msg, "gbca trust --stores java") ? 0 : 2);
	}
	assert_true(waitpid(pid, &status, 0) == pid);
	assert_true(WIFEXITED(status));
	assert_int_eq(WEXITSTATUS(status), 0);
}

static void
skipped(void)
{
}

int
main(void)
{
	bool have = realpath("/usr/bin/keytool", real_keytool) != NULL || getenv("CI") != NULL;
	bool debian = access(SYS_KEYSTORE, R_OK) == 0;
	int ret;

	tap_add("/java/no-jdk", test_no_jdk);
	if (have && debian) {
		tap_add("/java/install-uninstall", test_install_uninstall);
		tap_add("/java/covered-by-system", test_covered);
		tap_add("/java/path-jdk-debian", test_path_jdk);
		tap_add("/java/read-only", test_read_only);
	} else {
		tap_add("/java/install-uninstall # SKIP needs keytool and " SYS_KEYSTORE, skipped);
	}
	ret = tap_run();
	gbca_trust_ctx_free(&ctx);
	return ret;
}
