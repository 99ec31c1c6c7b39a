/* The python store: SSL_CERT_FILE and REQUESTS_CA_BUNDLE in the shells' rc
 * files (trust/shells.c) name the system bundle that holds the root. They
 * replace certifi's bundle, so they never name the root alone. requests
 * reads REQUESTS_CA_BUNDLE; httpx, urllib, aiohttp and Google's SDKs (through
 * ssl.create_default_context) read SSL_CERT_FILE. A user who had set either
 * to a bundle of their own keeps it: CAROOT/python-ca.pem holds that bundle
 * and the root, and the variables name it instead (as the node store does). */
#include "config.h"
#include <gbca/block.h>
#include <gbca/path.h>
#include <gbca/shells.h>
#include <gbca/store.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct gbca_shells_kind gbca_shells_python = {
	"python", "gbca python", "# >>> gbca python >>>", "# <<< gbca python <<<",
	{ "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", NULL }, GBCA_PYTHON_PEM_FILE,
};
static const struct gbca_shells_kind *const kind = &gbca_shells_python;

bool
gbca_shells_python_bundle(char *buf, size_t len, struct gbca_err *err)
{
	if (!gbca_system_bundle(buf, len))
		return gbca_fail(err, "no system trust store found, so no CA bundle for SSL_CERT_FILE; "
		                 "python needs the system bundle with the gbca root in it");
	if (strpbrk(buf, "\n\r") != NULL)
		return gbca_fail(err, "the system bundle %s has a line break in its name, which no shell "
		                 "file can hold", buf);
	return true;
}

bool
gbca_shells_env_lines_python(const char *shell, char *buf, size_t len, struct gbca_err *err)
{
	char bundle[PATH_MAX];

	if (!gbca_shells_python_bundle(bundle, sizeof(bundle), err))
		return false;
	return gbca_shells_env_lines_for(kind, bundle, shell, buf, len, err);
}

/* Whether the bundle file holds the current root (parsed, compared as DER). */
static bool
bundle_has_root(const struct gbca_trust_ctx *ctx, const char *bundle)
{
	gnutls_datum_t d = { NULL, 0 };
	gnutls_x509_crt_t *list = NULL;
	unsigned n = 0;
	bool found = false;

	if (gnutls_load_file(bundle, &d) < 0)
		return false;
	if (gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0) < 0)
		n = 0;
	for (unsigned i = 0; i < n; i++) {
		found |= gnutls_x509_crt_equals2(list[i], &ctx->root_der) != 0;
		gnutls_x509_crt_deinit(list[i]);
	}
	gnutls_free(list);
	gnutls_free(d.data);
	return found;
}

/* What the variables should name: the system bundle, or python-ca.pem when
 * the user has bundles of their own (prev, from the environment or a note in
 * a block; the system bundle itself is not one). */
struct target {
	char system[PATH_MAX];     /* "" when there is no system store */
	char own[PATH_MAX];        /* CAROOT/python-ca.pem */
	struct gbca_shells_prev prev;
	const char *value;
	bool bundled;
};

static bool
target_find(const struct gbca_trust_ctx *ctx, const struct gbca_rcs *rcs, struct target *t, struct gbca_err *err)
{
	bool found;

	memset(t, 0, sizeof(*t));
	found = gbca_shells_python_bundle(t->system, sizeof(t->system), err);
	if (!found)
		t->system[0] = '\0';
	if (strpbrk(ctx->caroot, "\n\r") != NULL ||
	    !gbca_path_join(t->own, sizeof(t->own), ctx->caroot, GBCA_PYTHON_PEM_FILE, NULL))
		t->own[0] = '\0';
	if (t->own[0] != '\0')
		gbca_shells_find_prev(kind, t->own, rcs, &t->prev);
	for (size_t v = 0; v < GBCA_SHELLS_MAX_VARS; v++) {
		if (t->prev.v[v][0] != '\0' && t->system[0] != '\0' && gbca_same_file(t->prev.v[v], t->system))
			t->prev.v[v][0] = '\0';
		t->bundled |= t->prev.v[v][0] != '\0';
	}
	t->value = t->bundled ? t->own : t->system;
	return t->bundled || found;
}

static enum gbca_trust_state
python_check(const struct gbca_trust_ctx *ctx, char *where, size_t where_len)
{
	struct gbca_rcs *rcs;
	struct target t;
	bool found, has_root, any_block = false, all_current = false;

	where[0] = '\0';
	if ((rcs = gbca_shells_load(kind)) == NULL) {
		snprintf(where, where_len, "out of memory");
		return GBCA_TRUST_MISSING;
	}
	found = target_find(ctx, rcs, &t, NULL);
	has_root = found && bundle_has_root(ctx, t.value);
	gbca_shells_check(ctx, rcs, found ? t.value : "", &t.prev, where, where_len, &any_block, &all_current);
	gbca_shells_free(rcs);
	if (ctx->shells == 0)
		snprintf(where, where_len, "no shells selected");
	if (!found)
		gbca_report_add(where, where_len, "", "; no system CA bundle");
	else if (!has_root && t.bundled)
		gbca_report_add(where, where_len, "", "; %s lacks the root (gbca trust --stores python)", t.value);
	else if (!has_root)
		gbca_report_add(where, where_len, "", "; %s lacks the root (gbca trust --stores system)", t.value);
	if (any_block && !has_root)
		return GBCA_TRUST_STALE;
	if (ctx->shells != 0 && all_current && has_root)
		return GBCA_TRUST_INSTALLED;
	return GBCA_TRUST_MISSING;
}

static bool
python_install(const struct gbca_trust_ctx *ctx, char *report, size_t report_len, struct gbca_err *err)
{
	struct gbca_err all = { "" };
	struct gbca_rcs *rcs;
	struct target t;
	char vars[128], done[2048] = "";
	bool changed_any;

	report[0] = '\0';
	if (ctx->shells == 0) {
		snprintf(report, report_len, "python: no shells selected; nothing to do");
		return true;
	}
	if ((rcs = gbca_shells_load(kind)) == NULL)
		return gbca_fail(err, "out of memory");
	if (!target_find(ctx, rcs, &t, err))
		goto fail;
	if (t.bundled) {
		if (t.own[0] == '\0') {
			gbca_fail(err, "CAROOT %s can't be named in a shell file", ctx->caroot);
			goto fail;
		}
		/* The file first: a block naming a missing file breaks every TLS client. */
		if (!gbca_shells_write_bundle(kind, ctx, t.own, &t.prev, err))
			goto fail;
	} else if (!bundle_has_root(ctx, t.system)) {
		/* The variables replace certifi's whole bundle: one without the
		 * root would only break things. */
		gbca_fail(err, "the system bundle %s does not contain the gbca root; "
		          "run gbca trust --stores system first (needs root)", t.system);
		goto fail;
	}
	gbca_shells_var_names(kind, vars, sizeof(vars));
	gbca_shells_install(ctx, rcs, t.value, &t.prev, done, sizeof(done), &changed_any, &all);
	gbca_shells_free(rcs);
	if (done[0] == '\0')
		snprintf(report, report_len, "python: %s not set in any shell file", vars);
	else
		snprintf(report, report_len, "python: %s %sset to %s in %s", vars,
		         changed_any ? "" : "already ", t.value, done);
	for (size_t v = 0; kind->vars[v]; v++)
		if (t.prev.v[v][0] != '\0')
			gbca_report_add(report, report_len, "", "; %s holds the certificates of your %s (%s) and the "
			                "gbca root", GBCA_PYTHON_PEM_FILE, kind->vars[v], t.prev.v[v]);
	if (done[0] != '\0')
		gbca_shells_apply_hint(kind, t.value, report, report_len);
	if (all.msg[0] != '\0')
		return gbca_fail(err, "%s", all.msg);
	return true;
fail:
	gbca_shells_free(rcs);
	return false;
}

/* Open shells whose variables name the system bundle keep them: it stays a
 * complete bundle without the root, so nothing breaks there. python-ca.pem
 * goes with the last block that names it. */
static bool
python_uninstall(const struct gbca_trust_ctx *ctx, char *report, size_t report_len, struct gbca_err *err)
{
	struct gbca_shells_prev prev;
	struct gbca_err all = { "" };
	struct gbca_rcs *rcs;
	char own[PATH_MAX] = "", vars[128], done[2048] = "", hint[2 * PATH_MAX] = "";
	bool in_use;

	report[0] = '\0';
	gbca_shells_var_names(kind, vars, sizeof(vars));
	if ((rcs = gbca_shells_load(kind)) == NULL)
		return gbca_fail(err, "out of memory");
	gbca_shells_noted(rcs, &prev);
	if (gbca_path_join(own, sizeof(own), ctx->caroot, GBCA_PYTHON_PEM_FILE, NULL))
		gbca_shells_restore_hint(kind, own, &prev, hint, sizeof(hint));
	gbca_shells_remove(ctx, rcs, "", done, sizeof(done), &in_use, &all);
	gbca_shells_free(rcs);
	if (!in_use && own[0] != '\0' && unlink(own) < 0 && errno != ENOENT) {
		int e = errno;
		gbca_report_add(all.msg, sizeof(all.msg), "; ", "couldn't remove %s: %s", own, strerror(e));
	}
	if (done[0] == '\0')
		snprintf(report, report_len, "python: %s were not set by gbca in any shell file", vars);
	else
		snprintf(report, report_len, "python: removed %s from %s%s", vars, done, hint);
	if (all.msg[0] != '\0')
		return gbca_fail(err, "%s", all.msg);
	return true;
}

const struct gbca_store gbca_store_python = {
	.name = "python",
	.check = python_check,
	.install = python_install,
	.uninstall = python_uninstall,
	.rc_files = true,
	.needs_system = true,
};
