/* The system trust store: an anchor file plus the distribution's update tool.
 * Debian, Ubuntu and Alpine (update-ca-certificates), Fedora and RHEL
 * (update-ca-trust), openSUSE (update-ca-certificates with /etc/pki/trust).
 * On Debian, removal also deletes the /etc/ssl/certs links that a plain
 * update-ca-certificates run leaves dangling, and the Java keystore entry that
 * the jks-keystore hook added and nothing else removes (mkcert leaves both).
 * We remove our own links rather than run --fresh: --fresh rebuilds the Java
 * keystore from scratch, which changes it wherever it had drifted from the
 * bundle, and untrust must leave everything else exactly as it was.
 * Arch and other systems with a writable p11-kit trust token get the anchor
 * through PKCS#11 (C_CreateObject on that token), with a stapled extKeyUsage
 * extension that limits it to TLS server authentication. Everywhere, the
 * p11-kit trust module is asked whether it now lists the root as an anchor. */
#include "config.h"
#include <gbca/der.h>
#include <gbca/p11.h>
#include <gbca/run.h>
#include <gbca/save.h>
#include <gbca/store.h>

#include <gnutls/abstract.h>
#include <p11-kit/pkcs11x.h>

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
	bool p11;                  /* anchors is a writable p11-kit trust token */
};

static const struct layout layouts[] = {
	{ "fedora", "/etc/pki/ca-trust/source/anchors", "/etc/pki/tls/certs/ca-bundle.crt", ".pem",
	  { "update-ca-trust", "extract", NULL }, NULL, NULL, false },
	{ "opensuse", "/etc/pki/trust/anchors", "/var/lib/ca-certificates/ca-bundle.pem", ".pem",
	  { "update-ca-certificates", NULL, NULL }, NULL, NULL, false },
	{ "p11-kit", "/etc/ca-certificates/trust-source", "/etc/ssl/certs/ca-certificates.crt", ".p11-kit",
	  { "update-ca-trust", NULL, NULL }, NULL, NULL, true },
	{ "debian", "/usr/local/share/ca-certificates", "/etc/ssl/certs/ca-certificates.crt", ".crt",
	  { "update-ca-certificates", NULL, NULL }, "/etc/ssl/certs", "/etc/ssl/certs/java/cacerts", false },
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

/* --- through the p11-kit trust module --- */

static bool
trust_module(char *buf, size_t len)
{
	return gbca_p11_find_module("pkcs11/p11-kit-trust.so", "GBCA_P11KIT_TRUST", buf, len);
}

/* Whether the p11-kit trust module, reading paths, lists the root as a trusted
 * anchor: 1 yes, 0 no, -1 the module can't be used here. */
static int
p11_lists_anchor(const struct gbca_trust_ctx *ctx, const char *paths)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_VALUE, ctx->root_der.data, ctx->root_der.size },
	};
	char mod[PATH_MAX], init[PATH_MAX + 8];
	CK_OBJECT_HANDLE *objs = NULL;
	struct gbca_p11 p;
	size_t n = 0;
	int found = 0;

	if (!trust_module(mod, sizeof(mod)))
		return -1;
	snprintf(init, sizeof(init), "paths=%s", paths);
	if (!gbca_p11_open(&p, mod, init, NULL, false, NULL))
		return -1;
	if (gbca_p11_find(&p, tmpl, 2, &objs, &n, NULL)) {
		for (size_t i = 0; i < n && !found; i++) {
			unsigned char *v = NULL;
			size_t len = 0;
			if (gbca_p11_get(&p, objs[i], CKA_TRUSTED, &v, &len, NULL) &&
			    len == sizeof(CK_BBOOL) && *(CK_BBOOL *)v == CK_TRUE)
				found = 1;
			free(v);
		}
	}
	free(objs);
	gbca_p11_close(&p);
	return found;
}

static bool
root_spki(const struct gbca_trust_ctx *ctx, gnutls_datum_t *spki, struct gbca_err *err)
{
	gnutls_pubkey_t pub;
	int ret;

	spki->data = NULL;
	if ((ret = gnutls_pubkey_init(&pub)) < 0 ||
	    (ret = gnutls_pubkey_import_x509(pub, ctx->root, 0)) < 0 ||
	    (ret = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, spki)) < 0) {
		gnutls_pubkey_deinit(pub);
		return gbca_fail(err, "couldn't read the root's public key: %s", gnutls_strerror(ret));
	}
	gnutls_pubkey_deinit(pub);
	return true;
}

static bool
open_token(const struct layout *l, struct gbca_p11 *p, bool rw, char *dir, size_t dir_len,
           struct gbca_err *err)
{
	char mod[PATH_MAX], init[PATH_MAX + 8];

	if (!gbca_sys_path(dir, dir_len, l->anchors, err))
		return false;
	if (!trust_module(mod, sizeof(mod)))
		return gbca_fail(err, "p11-kit's trust module (p11-kit-trust.so) is not installed; install p11-kit-trust or p11-kit-modules");
	snprintf(init, sizeof(init), "paths=%s", dir);
	if (!gbca_p11_open(p, mod, init, NULL, rw, err))
		return gbca_fail_prefix(err, "couldn't open the p11-kit trust token over %s", dir);
	if (rw && (p->token_flags & CKF_WRITE_PROTECTED)) {
		gbca_p11_close(p);
		return gbca_fail(err, "the p11-kit trust token over %s is write-protected", dir);
	}
	return true;
}

/* Certificates in the token that are ours (or, with all, any gbca root). */
static bool
find_ours(struct gbca_p11 *p, const struct gbca_trust_ctx *ctx, bool all, CK_OBJECT_HANDLE *out,
          size_t max, size_t *n_out, bool *other, struct gbca_err *err)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE *objs = NULL;
	size_t n = 0;

	*n_out = 0;
	*other = false;
	if (!gbca_p11_find(p, tmpl, 1, &objs, &n, err))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char *v = NULL;
		size_t len = 0;
		gnutls_datum_t d;
		gnutls_x509_crt_t crt;
		bool mine, gbca = false;

		if (!gbca_p11_get(p, objs[i], CKA_VALUE, &v, &len, NULL))
			continue;
		mine = len == ctx->root_der.size && memcmp(v, ctx->root_der.data, len) == 0;
		d.data = v;
		d.size = (unsigned)len;
		if (!mine && gnutls_x509_crt_init(&crt) >= 0) {
			gbca = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) >= 0 && gbca_is_gbca_root(crt);
			gnutls_x509_crt_deinit(crt);
		}
		if (gbca)
			*other = true;
		if ((mine || (all && gbca)) && *n_out < max)
			out[(*n_out)++] = objs[i];
		free(v);
	}
	free(objs);
	return true;
}

static bool
install_p11(const struct gbca_trust_ctx *ctx, const struct layout *l, char *report, size_t report_len,
            struct gbca_err *err)
{
	CK_OBJECT_CLASS cert_cls = CKO_CERTIFICATE, ext_cls = CKO_X_CERTIFICATE_EXTENSION;
	CK_CERTIFICATE_TYPE x509 = CKC_X_509;
	CK_ULONG authority = 2;   /* CKA_CERTIFICATE_CATEGORY: authority */
	CK_BBOOL yes = CK_TRUE;
	gnutls_datum_t spki = { NULL, 0 }, oid = { NULL, 0 }, eku = { NULL, 0 };
	CK_OBJECT_HANDLE found[4], obj, *exts = NULL;
	char dir[PATH_MAX], note[128] = "";
	struct gbca_p11 p;
	size_t n = 0, n_ext = 0;
	bool other, ok = false;
	int status;

	if (!root_spki(ctx, &spki, err))
		return false;
	if (!gbca_der_eku_server_auth(&oid, &eku, err))
		goto out_free;
	if (!open_token(l, &p, true, dir, sizeof(dir), err))
		goto out_free;
	{
		CK_ATTRIBUTE cert[] = {
			{ CKA_CLASS, &cert_cls, sizeof(cert_cls) },
			{ CKA_CERTIFICATE_TYPE, &x509, sizeof(x509) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_LABEL, (void *)ctx->label, strlen(ctx->label) },
			{ CKA_VALUE, ctx->root_der.data, ctx->root_der.size },
			{ CKA_TRUSTED, &yes, sizeof(yes) },
			{ CKA_CERTIFICATE_CATEGORY, &authority, sizeof(authority) },
		};
		CK_ATTRIBUTE ext[] = {
			{ CKA_CLASS, &ext_cls, sizeof(ext_cls) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_LABEL, (void *)ctx->label, strlen(ctx->label) },
			{ CKA_OBJECT_ID, oid.data, oid.size },
			{ CKA_PUBLIC_KEY_INFO, spki.data, spki.size },
			{ CKA_VALUE, eku.data, eku.size },
		};
		CK_ATTRIBUTE ext_match[] = { ext[0], ext[3], ext[4] };

		if (!find_ours(&p, ctx, false, found, 4, &n, &other, err) ||
		    !gbca_p11_find(&p, ext_match, 3, &exts, &n_ext, err))
			goto out_close;
		/* The extension first: an anchor without it would be trusted for everything. */
		if (n_ext == 0 && !gbca_p11_create(&p, ext, 6, &obj, err))
			goto out_close;
		if (n == 0 && !gbca_p11_create(&p, cert, 7, &obj, err))
			goto out_close;
	}
	ok = true;
out_close:
	gbca_p11_close(&p);
	free(exts);
	if (!ok)
		goto out_free;
	if (n > 0 && n_ext > 0) {
		snprintf(report, report_len, "system: already an anchor in the p11-kit trust token (%s)", dir);
		goto out_free;
	}
	{
		const char *const *argv = l->update;
		char out[1024];
		if (gbca_run(argv, out, sizeof(out), &status, NULL) && status == 0)
			snprintf(note, sizeof(note), " and ran %s", argv[0]);
		else
			snprintf(note, sizeof(note), " (%s not run: the bundles of old programs are not refreshed)", argv[0]);
	}
	if (p11_lists_anchor(ctx, dir) != 1) {
		ok = gbca_fail(err, "the root was written to %s but the p11-kit trust module does not list it as an anchor", dir);
		goto out_free;
	}
	snprintf(report, report_len, "system: stored as a server-auth anchor in the p11-kit trust token %s%s", dir, note);
out_free:
	gnutls_free(spki.data);
	free(oid.data);
	free(eku.data);
	return ok;
}

static bool
uninstall_p11(const struct gbca_trust_ctx *ctx, const struct layout *l, char *report, size_t report_len,
              struct gbca_err *err)
{
	CK_OBJECT_CLASS ext_cls = CKO_X_CERTIFICATE_EXTENSION;
	CK_OBJECT_HANDLE found[32];
	char dir[PATH_MAX];
	struct gbca_p11 p;
	size_t n = 0, removed = 0;
	bool other, ok = true;
	int status;

	if (!open_token(l, &p, true, dir, sizeof(dir), err))
		return false;
	if (!find_ours(&p, ctx, ctx->all, found, 32, &n, &other, err)) {
		gbca_p11_close(&p);
		return false;
	}
	for (size_t i = 0; i < n && ok; i++) {
		unsigned char *spki = NULL;
		size_t spki_len = 0, n_ext = 0;
		CK_OBJECT_HANDLE *exts = NULL;

		/* The certificate's stapled extensions go with it. */
		if (gbca_p11_get(&p, found[i], CKA_PUBLIC_KEY_INFO, &spki, &spki_len, NULL)) {
			CK_ATTRIBUTE m[] = {
				{ CKA_CLASS, &ext_cls, sizeof(ext_cls) },
				{ CKA_PUBLIC_KEY_INFO, spki, spki_len },
			};
			if (gbca_p11_find(&p, m, 2, &exts, &n_ext, err))
				for (size_t j = 0; j < n_ext && ok; j++)
					ok = gbca_p11_destroy(&p, exts[j], err);
			free(exts);
			free(spki);
		}
		if (ok)
			ok = gbca_p11_destroy(&p, found[i], err);
		removed += ok;
	}
	gbca_p11_close(&p);
	if (!ok)
		return false;
	if (removed == 0) {
		snprintf(report, report_len, "system: nothing to remove");
		return true;
	}
	{
		char out[1024];
		(void)gbca_run(l->update, out, sizeof(out), &status, NULL);
	}
	snprintf(report, report_len, "system: removed %zu anchor%s from the p11-kit trust token %s", removed,
	         removed == 1 ? "" : "s", dir);
	return true;
}

static enum gbca_trust_state
check_p11(const struct gbca_trust_ctx *ctx, const struct layout *l, char *where, size_t where_len)
{
	CK_OBJECT_HANDLE found[4];
	char dir[PATH_MAX];
	struct gbca_p11 p;
	struct gbca_err err;
	size_t n = 0;
	bool other = false;

	if (!open_token(l, &p, false, dir, sizeof(dir), &err)) {
		snprintf(where, where_len, "%s", err.msg);
		return GBCA_TRUST_MISSING;
	}
	snprintf(where, where_len, "p11-kit trust token %s", dir);
	(void)find_ours(&p, ctx, false, found, 4, &n, &other, NULL);
	gbca_p11_close(&p);
	if (n > 0 && p11_lists_anchor(ctx, dir) == 1)
		return GBCA_TRUST_INSTALLED;
	return other ? GBCA_TRUST_STALE : GBCA_TRUST_MISSING;
}

/* Whether the system lists the root as an anchor: the p11-kit trust module
 * reading the bundle says so (GnuTLS and p11-kit-based programs see it that
 * way); where the module is missing, the bundle's own contents decide. */
static bool
listed_as_anchor(const struct gbca_trust_ctx *ctx, const struct layout *l, bool in_bundle)
{
	char bundle[PATH_MAX];
	int listed;

	if (!gbca_sys_path(bundle, sizeof(bundle), l->bundle, NULL))
		return in_bundle;
	listed = p11_lists_anchor(ctx, bundle);
	return listed < 0 ? in_bundle : listed == 1;
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
	if (l->p11)
		return check_p11(ctx, l, where, where_len);
	anchor_path(l, ctx->label, anchor, sizeof(anchor));
	snprintf(where, where_len, "%s", anchor);
	scan_bundle(ctx, l, &ours, &other);
	if (listed_as_anchor(ctx, l, ours) && access(anchor, F_OK) == 0)
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
		                 layouts[0].anchors, layouts[1].anchors, layouts[3].anchors);
	if (l->p11)
		return install_p11(ctx, l, report, report_len, err);
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
	if (!listed_as_anchor(ctx, l, ours))
		return gbca_fail(err, "%s contains the root but the p11-kit trust module does not list it as an anchor", l->bundle);
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
	if (l->p11)
		return uninstall_p11(ctx, l, report, report_len, err);
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

bool
gbca_system_bundle(char *buf, size_t len)
{
	const struct layout *l = detect();

	return l != NULL && gbca_sys_path(buf, len, l->bundle, NULL);
}

bool
gbca_system_java_keystore(char *buf, size_t len)
{
	const struct layout *l = detect();

	return l != NULL && l->java != NULL && gbca_sys_path(buf, len, l->java, NULL) &&
	       access(buf, F_OK) == 0;
}
