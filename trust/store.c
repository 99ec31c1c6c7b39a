/* The table of trust stores and what they share: the context built from the
 * current root, state names, gbca-root detection, re-rootable system paths. */
#include "config.h"
#include <gbca/ca.h>
#include <gbca/store.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct gbca_store *const gbca_stores[] = {
	&gbca_store_system,
	&gbca_store_nss,
	&gbca_store_node,
	&gbca_store_python,
	&gbca_store_java,
};
const size_t gbca_n_stores = sizeof(gbca_stores) / sizeof(gbca_stores[0]);

const char *
gbca_trust_state_name(enum gbca_trust_state s)
{
	switch (s) {
	case GBCA_TRUST_ABSENT: return "not present";
	case GBCA_TRUST_MISSING: return "not installed";
	case GBCA_TRUST_INSTALLED: return "installed";
	case GBCA_TRUST_STALE: return "stale";
	}
	return "?";
}

const struct gbca_store *
gbca_store_find(const char *name)
{
	for (size_t i = 0; i < gbca_n_stores; i++)
		if (strcmp(gbca_stores[i]->name, name) == 0)
			return gbca_stores[i];
	return NULL;
}

bool
gbca_store_default(const struct gbca_store *s, const struct gbca_trust_ctx *ctx, bool install, bool shells)
{
	char where[GBCA_REPORT_MAX];

	if (install && s->rc_files && !shells)
		return false;
	return s->check(ctx, where, sizeof(where)) != GBCA_TRUST_ABSENT;
}

bool
gbca_store_waits_for_system(const struct gbca_store *s, const struct gbca_trust_ctx *ctx)
{
	char where[GBCA_REPORT_MAX];

	return s->needs_system && !ctx->is_root &&
	       gbca_store_system.check(ctx, where, sizeof(where)) != GBCA_TRUST_INSTALLED;
}

bool
gbca_is_gbca_root(gnutls_x509_crt_t crt)
{
	char org[128];
	size_t len = sizeof(org);

	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, 0, org, &len) < 0)
		return false;
	return strcmp(org, "gbca development CA") == 0;
}

bool
gbca_sys_path(char *buf, size_t len, const char *abs, struct gbca_err *err)
{
	const char *root = getenv("GBCA_SYSROOT");
	int n;

	if (root == NULL || root[0] == '\0')
		root = "";
	n = snprintf(buf, len, "%s%s", root, abs);
	if (n < 0 || (size_t)n >= len)
		return gbca_fail(err, "path too long: %s%s", root, abs);
	return true;
}

bool
gbca_trust_ctx_init(struct gbca_trust_ctx *ctx, const char *caroot, struct gbca_err *err)
{
	struct gbca_ca ca;
	unsigned char fp[32];
	size_t fp_len = sizeof(fp);
	int ret;

	memset(ctx, 0, sizeof(*ctx));
	if (!gbca_ca_load(caroot, false, &ca, err))
		return false;
	ctx->caroot = caroot;
	ctx->root = ca.crt;   /* ownership moves to ctx */
	ca.crt = NULL;
	if ((ret = gnutls_x509_crt_export2(ctx->root, GNUTLS_X509_FMT_DER, &ctx->root_der)) < 0 ||
	    (ret = gnutls_x509_crt_export2(ctx->root, GNUTLS_X509_FMT_PEM, &ctx->root_pem)) < 0 ||
	    (ret = gnutls_x509_crt_get_fingerprint(ctx->root, GNUTLS_DIG_SHA256, fp, &fp_len)) < 0) {
		gbca_trust_ctx_free(ctx);
		return gbca_fail(err, "couldn't encode the root: %s", gnutls_strerror(ret));
	}
	for (size_t i = 0; i < fp_len; i++)
		snprintf(ctx->sha256 + 2 * i, 3, "%02x", fp[i]);
	snprintf(ctx->label, sizeof(ctx->label), "gbca-%.16s", ctx->sha256);
	ctx->is_root = geteuid() == 0;
	ctx->shells = GBCA_SHELL_ALL;
	return true;
}

void
gbca_trust_ctx_free(struct gbca_trust_ctx *ctx)
{
	if (ctx->root)
		gnutls_x509_crt_deinit(ctx->root);
	gnutls_free(ctx->root_der.data);
	gnutls_free(ctx->root_pem.data);
	memset(ctx, 0, sizeof(*ctx));
}
