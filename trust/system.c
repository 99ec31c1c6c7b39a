/* The system trust store: an anchor file plus the distribution's update tool.
 * Debian, Ubuntu and Alpine (update-ca-certificates), Fedora and RHEL
 * (update-ca-trust), openSUSE (update-ca-certificates with /etc/pki/trust).
 * On Debian, removal also deletes the /etc/ssl/certs links that a plain
 * update-ca-certificates run leaves dangling, and the Java keystore entry that
 * the jks-keystore hook added and nothing else removes (mkcert leaves both).
 * We remove our own links rather than run --fresh: --fresh rebuilds the Java
 * keystore from scratch, which changes it wherever it had drifted from the
 * bundle, and untrust must leave everything else exactly as it was. */
#include "config.h"
#include <gbca/run.h>
#include <gbca/save.h>
#include <gbca/store.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct layout {
	const char *name;
	const char *anchors;       /* where anchor files go */
	const char *bundle;        /* the file the update tool regenerates */
	const char *ext;           /* anchor file extension the tool wants */
	const char *update[3];
	const char *links;         /* folder of NAME.pem and hash links to clean, or NULL */
	const char *java;          /* the keystore a hook fills, or NULL */
};

static const struct layout layouts[] = {
	{ "fedora", "/etc/pki/ca-trust/source/anchors", "/etc/pki/tls/certs/ca-bundle.crt", ".pem",
	  { "update-ca-trust", "extract", NULL }, NULL, NULL },
	{ "opensuse", "/etc/pki/trust/anchors", "/var/lib/ca-certificates/ca-bundle.pem", ".pem",
	  { "update-ca-certificates", NULL, NULL }, NULL, NULL },
	{ "debian", "/usr/local/share/ca-certificates", "/etc/ssl/certs/ca-certificates.crt", ".crt",
	  { "update-ca-certificates", NULL, NULL }, "/etc/ssl/certs", "/etc/ssl/certs/java/cacerts" },
};

static bool
is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static const struct layout *
detect(void)
{
	char p[PATH_MAX];

	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (gbca_sys_path(p, sizeof(p), layouts[i].anchors, NULL) && is_dir(p))
			return &layouts[i];
	return NULL;
}

static bool
anchor_path(const struct layout *l, const char *label, char *buf, size_t len)
{
	char name[PATH_MAX];
	snprintf(name, sizeof(name), "%s/%s%s", l->anchors, label, l->ext);
	return gbca_sys_path(buf, len, name, NULL);
}

/* What the regenerated bundle holds: ours, another gbca root, or neither. */
static void
scan_bundle(const struct gbca_trust_ctx *ctx, const struct layout *l, bool *ours, bool *other)
{
	char p[PATH_MAX];
	gnutls_datum_t d = { NULL, 0 };
	gnutls_x509_crt_t *list = NULL;
	unsigned n = 0;

	*ours = *other = false;
	if (!gbca_sys_path(p, sizeof(p), l->bundle, NULL) || gnutls_load_file(p, &d) < 0)
		return;
	if (gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0) < 0)
		n = 0;
	for (unsigned i = 0; i < n; i++) {
		if (gnutls_x509_crt_equals2(list[i], &ctx->root_der))
			*ours = true;
		else if (gbca_is_gbca_root(list[i]))
			*other = true;
		gnutls_x509_crt_deinit(list[i]);
	}
	gnutls_free(list);
	gnutls_free(d.data);
}

/* Anchor files named gbca-*<ext> other than ours. */
static size_t
other_anchors(const struct gbca_trust_ctx *ctx, const struct layout *l, char names[][96], size_t max)
{
	char dir[PATH_MAX], mine[96];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	snprintf(mine, sizeof(mine), "%s%s", ctx->label, l->ext);
	if (!gbca_sys_path(dir, sizeof(dir), l->anchors, NULL) || (d = opendir(dir)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL && n < max) {
		size_t len = strlen(e->d_name), el = strlen(l->ext);
		if (strncmp(e->d_name, "gbca-", 5) != 0 || len <= el || len >= 96 ||
		    strcmp(e->d_name + len - el, l->ext) != 0 || strcmp(e->d_name, mine) == 0)
			continue;
		memcpy(names[n++], e->d_name, len + 1);
	}
	closedir(d);
	return n;
}

static bool
same_content(const char *path, const gnutls_datum_t *want)
{
	gnutls_datum_t d = { NULL, 0 };
	bool same;

	if (gnutls_load_file(path, &d) < 0)
		return false;
	same = d.size == want->size && memcmp(d.data, want->data, d.size) == 0;
	gnutls_free(d.data);
	return same;
}

static enum gbca_trust_state
check(const struct gbca_trust_ctx *ctx, char *where, size_t where_len)
{
	const struct layout *l = detect();
	char anchor[PATH_MAX], others[8][96];
	bool ours, other;

	if (l == NULL) {
		snprintf(where, where_len, "no known system trust store");
		return GBCA_TRUST_ABSENT;
	}
	anchor_path(l, ctx->label, anchor, sizeof(anchor));
	snprintf(where, where_len, "%s", anchor);
	scan_bundle(ctx, l, &ours, &other);
	if (ours && access(anchor, F_OK) == 0)
		return GBCA_TRUST_INSTALLED;
	if (other || other_anchors(ctx, l, others, 8) > 0)
		return GBCA_TRUST_STALE;
	return GBCA_TRUST_MISSING;
}

static bool
run_update(const char *const argv[], struct gbca_err *err)
{
	char out[2048];
	int status;

	if (!gbca_run(argv, out, sizeof(out), &status, err)) {
		if (strstr(err->msg, "not found"))
			return gbca_fail(err, "%s not found; install the ca-certificates package (or your distribution's equivalent)", argv[0]);
		return false;
	}
	if (status != 0) {
		size_t n = strlen(out);
		while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
			out[--n] = '\0';
		return gbca_fail(err, "%s failed (exit %d): %s", argv[0], status, out[0] ? out : "no output");
	}
	return true;
}

static bool
install(const struct gbca_trust_ctx *ctx, char *report, size_t report_len, struct gbca_err *err)
{
	const struct layout *l = detect();
	char anchor[PATH_MAX];
	bool ours, other, existed;

	if (l == NULL)
		return gbca_fail(err, "no system trust store found (looked for %s, %s and %s)",
		                 layouts[0].anchors, layouts[1].anchors, layouts[2].anchors);
	anchor_path(l, ctx->label, anchor, sizeof(anchor));
	existed = same_content(anchor, &ctx->root_pem);
	scan_bundle(ctx, l, &ours, &other);
	if (existed && ours) {
		snprintf(report, report_len, "system: already trusted (%s)", anchor);
		return true;
	}
	if (!existed && !gbca_save_file(anchor, ctx->root_pem.data, ctx->root_pem.size, 0644, err))
		return false;
	if (!run_update(l->update, err)) {
		/* Leave the store as it was: no anchor that the bundle does not reflect. */
		if (!existed)
			unlink(anchor);
		return false;
	}
	scan_bundle(ctx, l, &ours, &other);
	if (!ours)
		return gbca_fail(err, "%s ran but %s still does not contain the root", l->update[0], l->bundle);
	snprintf(report, report_len, "system: added %s and ran %s", anchor, l->update[0]);
	return true;
}

/* Debian's jks-keystore hook names entries debian:<link name>; nothing removes them. */
static void
remove_java_entry(const struct layout *l, const char *label, char *note, size_t note_len)
{
	char ks[PATH_MAX], alias[128], out[1024];
	const char *argv[] = { "keytool", "-delete", "-keystore", ks, "-storepass", "changeit",
	                       "-alias", alias, NULL };
	int status;

	note[0] = '\0';
	if (l->java == NULL || !gbca_sys_path(ks, sizeof(ks), l->java, NULL) || access(ks, F_OK) != 0)
		return;
	snprintf(alias, sizeof(alias), "debian:%.96s.pem", label);
	if (!gbca_run(argv, out, sizeof(out), &status, NULL))
		return;   /* no keytool: no JDK tools, so nothing could have read the entry either */
	if (status == 0)
		snprintf(note, note_len, ", removed %s from the Java keystore", alias);
}

/* Removes LABEL.pem and every hash link (xxxxxxxx.N) that points at it. */
static void
remove_links(const struct layout *l, const char *label)
{
	char dir[PATH_MAX], name[128], p[PATH_MAX + 300], target[PATH_MAX];
	struct dirent *e;
	DIR *d;

	if (l->links == NULL || !gbca_sys_path(dir, sizeof(dir), l->links, NULL) || (d = opendir(dir)) == NULL)
		return;
	snprintf(name, sizeof(name), "%.96s.pem", label);
	while ((e = readdir(d)) != NULL) {
		ssize_t n;
		const char *base;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		n = readlink(p, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		base = strrchr(target, '/');
		base = base ? base + 1 : target;
		/* NAME.pem -> .../NAME.crt, and hash links -> NAME.pem */
		if (strcmp(e->d_name, name) == 0 || strcmp(base, name) == 0)
			unlink(p);
	}
	closedir(d);
}

static bool
uninstall(const struct gbca_trust_ctx *ctx, char *report, size_t report_len, struct gbca_err *err)
{
	const struct layout *l = detect();
	char anchor[PATH_MAX], others[32][96], labels[33][96], note[256] = "", one[256];
	size_t n_others = 0, n_labels = 0, used;
	bool ours, other;

	if (l == NULL) {
		snprintf(report, report_len, "system: no system trust store here");
		return true;
	}
	anchor_path(l, ctx->label, anchor, sizeof(anchor));
	if (access(anchor, F_OK) == 0)
		snprintf(labels[n_labels++], 96, "%s", ctx->label);
	if (ctx->all) {
		n_others = other_anchors(ctx, l, others, 32);
		for (size_t i = 0; i < n_others; i++) {
			size_t len = strlen(others[i]) - strlen(l->ext);
			snprintf(labels[n_labels++], 96, "%.*s", (int)len, others[i]);
		}
	}
	scan_bundle(ctx, l, &ours, &other);
	if (n_labels == 0 && !ours) {
		snprintf(report, report_len, "system: nothing to remove");
		return true;
	}
	for (size_t i = 0; i < n_labels; i++) {
		char p[PATH_MAX];
		anchor_path(l, labels[i], p, sizeof(p));
		if (unlink(p) < 0 && errno != ENOENT) {
			int e = errno;
			return gbca_fail(err, "couldn't remove %s: %s", p, strerror(e));
		}
	}
	for (size_t i = 0; i < n_labels; i++)
		remove_links(l, labels[i]);
	if (!run_update(l->update, err))
		return false;
	used = 0;
	for (size_t i = 0; i < n_labels; i++) {
		remove_java_entry(l, labels[i], one, sizeof(one));
		if (used < sizeof(note))
			used += (size_t)snprintf(note + used, sizeof(note) - used, "%s", one);
	}
	scan_bundle(ctx, l, &ours, &other);
	if (ours)
		return gbca_fail(err, "%s still contains the root after %s; was it added by hand under another name?", l->bundle, l->update[0]);
	snprintf(report, report_len, "system: removed %zu anchor%s%s and ran %s%s", n_labels, n_labels == 1 ? "" : "s",
	         l->links ? " and their links" : "", l->update[0], note);
	return true;
}

const struct gbca_store gbca_store_system = {
	.name = "system",
	.needs_root = true,
	.check = check,
	.install = install,
	.uninstall = uninstall,
};
