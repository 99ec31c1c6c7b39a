/* The python store: SSL_CERT_FILE and REQUESTS_CA_BUNDLE in the shells' rc
 * files (trust/shells.c) name the system bundle that holds the root. They
 * replace certifi's bundle, so they never name the root alone. requests
 * reads REQUESTS_CA_BUNDLE; httpx, urllib, aiohttp and Google's SDKs (through
 * ssl.create_default_context) read SSL_CERT_FILE. */
#include "config.h"
#include <gbca/block.h>
#include <gbca/shells.h>
#include <gbca/store.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static enum gbca_trust_state
python_check(const struct gbca_trust_ctx *ctx, char *where, size_t where_len)
{
	struct gbca_rcs *rcs;
	char bundle[PATH_MAX];
	bool found, has_root, any_block = false, all_current = false;

	where[0] = '\0';
	found = gbca_shells_python_bundle(bundle, sizeof(bundle), NULL);
	has_root = found && bundle_has_root(ctx, bundle);
	if ((rcs = gbca_shells_load(kind)) != NULL)
		gbca_shells_check(ctx, rcs, found ? bundle : "", NULL, where, where_len, &any_block, &all_current);
	gbca_shells_free(rcs);
	if (ctx->shells == 0)
		snprintf(where, where_len, "no shells selected");
	if (!found)
		gbca_report_add(where, where_len, "", "; no system CA bundle");
	else if (!has_root)
		gbca_report_add(where, where_len, "", "; %s lacks the root (gbca trust --stores system)", bundle);
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
	char bundle[PATH_MAX], vars[128], done[2048] = "";
	bool changed_any;

	report[0] = '\0';
	if (ctx->shells == 0) {
		snprintf(report, report_len, "python: no shells selected; nothing to do");
		return true;
	}
	if (!gbca_shells_python_bundle(bundle, sizeof(bundle), err))
		return false;
	/* The variables replace certifi's whole bundle: one without the root
	 * would only break things. */
	if (!bundle_has_root(ctx, bundle))
		return gbca_fail(err, "the system bundle %s does not contain the gbca root; "
		                 "run gbca trust --stores system first (needs root)", bundle);
	gbca_shells_var_names(kind, vars, sizeof(vars));
	if ((rcs = gbca_shells_load(kind)) == NULL)
		return gbca_fail(err, "out of memory");
	gbca_shells_install(ctx, rcs, bundle, NULL, done, sizeof(done), &changed_any, &all);
	gbca_shells_free(rcs);
	if (done[0] == '\0')
		snprintf(report, report_len, "python: %s not set in any shell file", vars);
	else
		snprintf(report, report_len, "python: %s %sset to %s in %s", vars,
		         changed_any ? "" : "already ", bundle, done);
	for (const char *const *v = kind->vars; done[0] && *v; v++) {
		const char *env = getenv(*v);
		if (env != NULL && env[0] != '\0' && !gbca_same_file(env, bundle))
			gbca_report_add(report, report_len, "", "; this replaces your %s (%s) in new shells", *v, env);
	}
	if (done[0] != '\0')
		gbca_shells_apply_hint(kind, bundle, report, report_len);
	if (all.msg[0] != '\0')
		return gbca_fail(err, "%s", all.msg);
	return true;
}

/* Open shells keep the variables: they name the system bundle, which stays
 * a complete bundle without the root, so nothing breaks there. */
static bool
python_uninstall(const struct gbca_trust_ctx *ctx, char *report, size_t report_len, struct gbca_err *err)
{
	struct gbca_err all = { "" };
	struct gbca_rcs *rcs;
	char vars[128], done[2048] = "";
	bool in_use;

	report[0] = '\0';
	gbca_shells_var_names(kind, vars, sizeof(vars));
	if ((rcs = gbca_shells_load(kind)) == NULL)
		return gbca_fail(err, "out of memory");
	gbca_shells_remove(ctx, rcs, "", done, sizeof(done), &in_use, &all);
	gbca_shells_free(rcs);
	if (done[0] == '\0')
		snprintf(report, report_len, "python: %s were not set by gbca in any shell file", vars);
	else
		snprintf(report, report_len, "python: removed %s from %s", vars, done);
	if (all.msg[0] != '\0')
		return gbca_fail(err, "%s", all.msg);
	return true;
}

const struct gbca_store gbca_store_python = {
	"python", false, python_check, python_install, python_uninstall,
};
