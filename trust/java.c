/* The Java trust store: a JDK's cacerts, edited with its keytool. The JDK is
 * $JAVA_HOME's, else the one whose keytool is on PATH. Where that cacerts is
 * the system layout's keystore (Debian links its JDKs' cacerts to
 * /etc/ssl/certs/java/cacerts), the system store's update hook puts the root
 * there as debian:<label>.pem and its untrust takes it out, so this store
 * only reports on it. */
#include "config.h"
#include <gbca/block.h>
#include <gbca/run.h>
#include <gbca/store.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every JDK ships its cacerts with this password, and tools assume it. */
#define STOREPASS "changeit"
/* keytool -list of a full cacerts is about 40 KB. */
#define LIST_MAX (1u << 20)
#define ALIASES_MAX 32

struct jdk {
	char keytool[PATH_MAX];
	char cacerts[PATH_MAX];
	bool covered;              /* cacerts is the system store's keystore */
};

static bool GBCA_PRINTF(3, 4)
say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return false;
}

static bool
is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Finds the JDK, or says in why (for `where` and reports) why there is none. */
static bool
find_jdk(struct jdk *j, char *why, size_t why_len)
{
	const char *java_home = getenv("JAVA_HOME");
	char home[PATH_MAX], found[PATH_MAX], sys[PATH_MAX];
	int n;

	memset(j, 0, sizeof(*j));
	if (java_home != NULL && java_home[0] != '\0') {
		snprintf(home, sizeof(home), "%s", java_home);
		n = snprintf(j->keytool, sizeof(j->keytool), "%s/bin/keytool", home);
		if (n < 0 || (size_t)n >= sizeof(j->keytool) || access(j->keytool, X_OK) != 0)
			return say(why, why_len, "no JDK found: JAVA_HOME (%s) has no bin/keytool", java_home);
	} else {
		char *slash;
		if (!gbca_find_program("keytool", found, sizeof(found)) || realpath(found, home) == NULL)
			return say(why, why_len, "no JDK found (no keytool on PATH; set JAVA_HOME)");
		snprintf(j->keytool, sizeof(j->keytool), "%s", home);
		/* HOME/bin/keytool -> HOME */
		for (int i = 0; i < 2; i++)
			if ((slash = strrchr(home, '/')) != NULL)
				*slash = '\0';
	}
	/* JDK 9 on, then JDK 8's jre/. */
	n = snprintf(j->cacerts, sizeof(j->cacerts), "%s/lib/security/cacerts", home);
	if (n > 0 && (size_t)n < sizeof(j->cacerts) && !is_file(j->cacerts))
		n = snprintf(j->cacerts, sizeof(j->cacerts), "%s/jre/lib/security/cacerts", home);
	if (n < 0 || (size_t)n >= sizeof(j->cacerts) || !is_file(j->cacerts))
		return say(why, why_len, "no JDK found: %s has no lib/security/cacerts", home);
	j->covered = gbca_system_java_keystore(sys, sizeof(sys)) && gbca_same_file(j->cacerts, sys);
	return true;
}

/* Runs keytool on the JDK's cacerts with the given arguments. */
static bool
keytool(const struct jdk *j, const char *const args[], char *out, size_t out_len, int *status,
        struct gbca_err *err)
{
	const char *argv[16];
	size_t n = 0;

	argv[n++] = j->keytool;
	for (; *args && n < 11; args++)
		argv[n++] = *args;
	argv[n++] = "-keystore";
	argv[n++] = j->cacerts;
	argv[n++] = "-storepass";
	argv[n++] = STOREPASS;
	argv[n] = NULL;
	return gbca_run(argv, out, out_len, status, err);
}

static void
trim(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
}

static bool
keytool_failed(const char *what, int status, char *out, struct gbca_err *err)
{
	char *nl;

	trim(out);
	/* the last line says why ("keytool error: ...") */
	nl = strrchr(out, '\n');
	return gbca_fail(err, "keytool %s failed (exit %d): %s", what, status, nl ? nl + 1 : out[0] ? out : "no output");
}

/* The aliases gbca put in the keystore: prefix "gbca-<16 hex>" suffix, as
 * keytool -list shows them ("alias, date, trustedCertEntry,"). */
struct aliases {
	bool ours;
	size_t n_other;
	char other[ALIASES_MAX][64];
};

static bool
list_aliases(const struct gbca_trust_ctx *ctx, const struct jdk *j, const char *prefix, const char *suffix,
             struct aliases *a, struct gbca_err *err)
{
	static const char *const args[] = { "-list", NULL };
	char mine[96], *out, *line, *save = NULL;
	int status;

	memset(a, 0, sizeof(*a));
	if ((out = malloc(LIST_MAX)) == NULL)
		return gbca_fail(err, "out of memory");
	if (!keytool(j, args, out, LIST_MAX, &status, err)) {
		free(out);
		return false;
	}
	if (status != 0) {
		keytool_failed("-list", status, out, err);
		free(out);
		return false;
	}
	snprintf(mine, sizeof(mine), "%s%s%s,", prefix, ctx->label, suffix);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t pl = strlen(prefix), sl = strlen(suffix), i;
		if (strncmp(line, mine, strlen(mine)) == 0) {
			a->ours = true;
			continue;
		}
		if (strncmp(line, prefix, pl) != 0 || strncmp(line + pl, "gbca-", 5) != 0)
			continue;
		for (i = pl + 5; i < pl + 21 && line[i] && strchr("0123456789abcdef", line[i]); i++)
			;
		if (i != pl + 21 || strncmp(line + i, suffix, sl) != 0 || line[i + sl] != ',')
			continue;
		if (a->n_other < ALIASES_MAX)
			snprintf(a->other[a->n_other++], sizeof(a->other[0]), "%.*s", (int)(i + sl), line);
	}
	free(out);
	return true;
}

static enum gbca_trust_state
check(const struct gbca_trust_ctx *ctx, char *where, size_t where_len)
{
	struct jdk j;
	struct aliases a;
	struct gbca_err err = { "" };

	if (!find_jdk(&j, where, where_len))
		return GBCA_TRUST_ABSENT;
	if (!list_aliases(ctx, &j, j.covered ? "debian:" : "", j.covered ? ".pem" : "", &a, &err)) {
		snprintf(where, where_len, "%s: %s", j.cacerts, err.msg);
		return GBCA_TRUST_MISSING;
	}
	snprintf(where, where_len, "%s%s", j.cacerts, j.covered ? " (filled by the system store's Java hook)" : "");
	if (a.ours)
		return GBCA_TRUST_INSTALLED;
	return a.n_other > 0 ? GBCA_TRUST_STALE : GBCA_TRUST_MISSING;
}

/* keytool rewrites the keystore in place: the file itself must be writable. */
static bool
writable(const struct jdk *j, const char *verb, const char *caroot, struct gbca_err *err)
{
	const char *java_home = getenv("JAVA_HOME");

	if (geteuid() == 0 || access(j->cacerts, W_OK) == 0)
		return true;
	return gbca_fail(err, "needs root: %s is not writable by you; run: sudo %s%s%sGBCA_CAROOT='%s' gbca %s --stores java",
	                 j->cacerts, java_home ? "JAVA_HOME='" : "", java_home ? java_home : "",
	                 java_home ? "' " : "", caroot, verb);
}

static bool
install(const struct gbca_trust_ctx *ctx, char *report, size_t report_len, struct gbca_err *err)
{
	char why[PATH_MAX + 64], tmp[PATH_MAX], alias[96], out[4096];
	const char *tmpdir = getenv("TMPDIR");
	const char *args[] = { "-importcert", "-noprompt", "-alias", alias, "-file", tmp, NULL };
	struct aliases a;
	struct jdk j;
	int fd, status, e;
	bool ok;

	if (!find_jdk(&j, why, sizeof(why))) {
		snprintf(report, report_len, "java: %s; skipped", why);
		return true;
	}
	if (j.covered) {
		snprintf(report, report_len, "java: %s is covered by the system store (its Java hook adds the root; "
		         "gbca trust --stores system)", j.cacerts);
		return true;
	}
	if (!list_aliases(ctx, &j, "", "", &a, err))
		return gbca_fail_prefix(err, "%s", j.cacerts);
	if (a.ours) {
		snprintf(report, report_len, "java: already trusted (%s)", j.cacerts);
		return true;
	}
	if (!writable(&j, "trust", ctx->caroot, err))
		return false;
	/* keytool reads the root from a file; a private one of our own. */
	snprintf(tmp, sizeof(tmp), "%s/gbca-root-XXXXXX.pem", tmpdir && tmpdir[0] == '/' ? tmpdir : "/tmp");
	if ((fd = mkstemps(tmp, 4)) < 0) {
		e = errno;
		return gbca_fail(err, "couldn't create a temporary file in %s: %s; set TMPDIR to a writable folder",
		                 tmpdir && tmpdir[0] == '/' ? tmpdir : "/tmp", strerror(e));
	}
	ok = write(fd, ctx->root_pem.data, ctx->root_pem.size) == (ssize_t)ctx->root_pem.size;
	e = errno;
	close(fd);
	if (!ok) {
		unlink(tmp);
		return gbca_fail(err, "couldn't write %s: %s", tmp, strerror(e));
	}
	snprintf(alias, sizeof(alias), "%s", ctx->label);
	ok = keytool(&j, args, out, sizeof(out), &status, err);
	unlink(tmp);
	if (!ok)
		return false;
	if (status != 0)
		return keytool_failed("-importcert", status, out, err);
	snprintf(report, report_len, "java: added %s to %s", alias, j.cacerts);
	return true;
}

static bool
uninstall(const struct gbca_trust_ctx *ctx, char *report, size_t report_len, struct gbca_err *err)
{
	char why[PATH_MAX + 64], alias[64], out[4096], done[GBCA_REPORT_MAX] = "";
	const char *args[] = { "-delete", "-alias", alias, NULL };
	const char *drop[ALIASES_MAX + 1];
	struct aliases a;
	struct jdk j;
	size_t n = 0;
	int status;

	if (!find_jdk(&j, why, sizeof(why))) {
		snprintf(report, report_len, "java: %s; nothing to remove", why);
		return true;
	}
	if (j.covered) {
		snprintf(report, report_len, "java: %s is covered by the system store "
		         "(gbca untrust --stores system removes the root from it)", j.cacerts);
		return true;
	}
	if (!list_aliases(ctx, &j, "", "", &a, err))
		return gbca_fail_prefix(err, "%s", j.cacerts);
	if (a.ours)
		drop[n++] = ctx->label;
	for (size_t i = 0; ctx->all && i < a.n_other; i++)
		drop[n++] = a.other[i];
	if (n == 0) {
		snprintf(report, report_len, "java: nothing to remove (%s)", j.cacerts);
		return true;
	}
	if (!writable(&j, "untrust", ctx->caroot, err))
		return false;
	for (size_t i = 0; i < n; i++) {
		snprintf(alias, sizeof(alias), "%s", drop[i]);
		if (!keytool(&j, args, out, sizeof(out), &status, err))
			return false;
		if (status != 0) {
			if (done[0])
				snprintf(report, report_len, "java: removed %s from %s", done, j.cacerts);
			return keytool_failed("-delete", status, out, err);
		}
		snprintf(done + strlen(done), sizeof(done) - strlen(done), "%s%s", done[0] ? ", " : "", alias);
	}
	snprintf(report, report_len, "java: removed %s from %s", done, j.cacerts);
	return true;
}

const struct gbca_store gbca_store_java = {
	.name = "java",
	.needs_root = true,   /* system JDKs keep cacerts root-owned; skipped with the sudo command */
	.check = check,
	.install = install,
	.uninstall = uninstall,
};
