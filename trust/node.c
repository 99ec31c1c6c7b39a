/* The node store: NODE_EXTRA_CA_CERTS in the shells' rc files (trust/shells.c)
 * names CAROOT/node-ca.pem, which holds the root, after the certificates of
 * the user's own NODE_EXTRA_CA_CERTS (node reads only one file). */
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

#define VAR "NODE_EXTRA_CA_CERTS"

const struct gbca_shells_kind gbca_shells_node = {
	"node", "gbca", "# >>> gbca >>>", "# <<< gbca <<<", { VAR, NULL }, GBCA_NODE_PEM_FILE,
};

bool
gbca_shells_node_pem(const char *caroot, char *buf, size_t len, struct gbca_err *err)
{
	if (strpbrk(caroot, "\n\r") != NULL)
		return gbca_fail(err, "CAROOT %s has a line break in its name, which no shell file can hold; "
		                 "choose another with GBCA_CAROOT", caroot);
	return gbca_path_join(buf, len, caroot, GBCA_NODE_PEM_FILE, err);
}

bool
gbca_shells_env_lines(const char *caroot, const char *shell, char *buf, size_t len, struct gbca_err *err)
{
	char pem[PATH_MAX];

	if (!gbca_shells_node_pem(caroot, pem, sizeof(pem), err))
		return false;
	return gbca_shells_env_lines_for(&gbca_shells_node, pem, shell, buf, len, err);
}

static bool
pem_has_root(const struct gbca_trust_ctx *ctx, const char *pem, bool *exists)
{
	struct gbca_text t;
	bool has;

	*exists = false;
	if (!gbca_text_read(&t, pem, pem, 16u << 20, NULL) || t.data == NULL)
		return false;
	*exists = true;
	has = memmem(t.data, t.len, ctx->root_pem.data, ctx->root_pem.size) != NULL;
	gbca_text_free(&t);
	return has;
}

static enum gbca_trust_state
node_check(const struct gbca_trust_ctx *ctx, char *where, size_t where_len)
{
	struct gbca_shells_prev prev;
	struct gbca_rcs *rcs;
	char pem[PATH_MAX];
	bool any_block, all_current, pem_exists, has_root;

	where[0] = '\0';
	if (!gbca_shells_node_pem(ctx->caroot, pem, sizeof(pem), NULL)) {
		snprintf(where, where_len, "CAROOT can't be named in a shell file");
		return GBCA_TRUST_MISSING;
	}
	if ((rcs = gbca_shells_load(&gbca_shells_node)) == NULL) {
		snprintf(where, where_len, "out of memory");
		return GBCA_TRUST_MISSING;
	}
	gbca_shells_find_prev(&gbca_shells_node, pem, rcs, &prev);
	gbca_shells_check(ctx, rcs, pem, &prev, where, where_len, &any_block, &all_current);
	gbca_shells_free(rcs);
	has_root = pem_has_root(ctx, pem, &pem_exists);
	if (ctx->shells == 0)
		snprintf(where, where_len, "no shells selected");
	if (any_block && pem_exists && !has_root)
		return GBCA_TRUST_STALE;
	if (ctx->shells != 0 && all_current && has_root)
		return GBCA_TRUST_INSTALLED;
	return GBCA_TRUST_MISSING;
}

static bool
node_install(const struct gbca_trust_ctx *ctx, char *report, size_t report_len, struct gbca_err *err)
{
	struct gbca_shells_prev prev;
	struct gbca_err all = { "" };
	struct gbca_rcs *rcs;
	char pem[PATH_MAX], done[2048] = "";
	bool changed_any;

	report[0] = '\0';
	if (ctx->shells == 0) {
		snprintf(report, report_len, "node: no shells selected; nothing to do");
		return true;
	}
	if (!gbca_shells_node_pem(ctx->caroot, pem, sizeof(pem), err))
		return false;
	if ((rcs = gbca_shells_load(&gbca_shells_node)) == NULL)
		return gbca_fail(err, "out of memory");
	gbca_shells_find_prev(&gbca_shells_node, pem, rcs, &prev);
	/* The file first: a block naming a missing file would make node warn. */
	if (!gbca_shells_write_bundle(&gbca_shells_node, ctx, pem, &prev, err)) {
		gbca_shells_free(rcs);
		return false;
	}
	gbca_shells_install(ctx, rcs, pem, &prev, done, sizeof(done), &changed_any, &all);
	gbca_shells_free(rcs);
	if (done[0] == '\0')
		snprintf(report, report_len, "node: " VAR " not set in any shell file");
	else
		snprintf(report, report_len, "node: " VAR " %sset in %s", changed_any ? "" : "already ", done);
	if (prev.v[0][0] != '\0')
		gbca_report_add(report, report_len, "", "; node-ca.pem holds the certificates of your " VAR
		                " (%s) and the gbca root", prev.v[0]);
	if (done[0] != '\0')
		gbca_shells_apply_hint(&gbca_shells_node, pem, report, report_len);
	if (all.msg[0] != '\0')
		return gbca_fail(err, "%s", all.msg);
	return true;
}

static bool
node_uninstall(const struct gbca_trust_ctx *ctx, char *report, size_t report_len, struct gbca_err *err)
{
	struct gbca_shells_prev prev;
	struct gbca_err all = { "" };
	struct gbca_rcs *rcs;
	char pem[PATH_MAX], done[2048] = "", hint[PATH_MAX + 128] = "";
	bool in_use;

	report[0] = '\0';
	if (!gbca_shells_node_pem(ctx->caroot, pem, sizeof(pem), err))
		return false;
	if ((rcs = gbca_shells_load(&gbca_shells_node)) == NULL)
		return gbca_fail(err, "out of memory");
	gbca_shells_noted(rcs, &prev);
	/* Before node-ca.pem goes, while the environment's name still finds it. */
	gbca_shells_restore_hint(&gbca_shells_node, pem, &prev, hint, sizeof(hint));
	gbca_shells_remove(ctx, rcs, pem, done, sizeof(done), &in_use, &all);
	gbca_shells_free(rcs);
	/* node-ca.pem goes with the last block that names it. */
	if (!in_use && unlink(pem) < 0 && errno != ENOENT) {
		struct gbca_err one;
		int e = errno;
		gbca_fail(&one, "couldn't remove %s: %s", pem, strerror(e));
		gbca_report_add(all.msg, sizeof(all.msg), "; ", "%s", one.msg);
	}
	if (done[0] == '\0') {
		snprintf(report, report_len, "node: " VAR " was not set by gbca in any shell file");
	} else {
		snprintf(report, report_len, "node: removed " VAR " from %s", done);
		gbca_report_add(report, report_len, "", "%s", hint);
	}
	if (all.msg[0] != '\0')
		return gbca_fail(err, "%s", all.msg);
	return true;
}

const struct gbca_store gbca_store_node = {
	.name = "node",
	.check = node_check,
	.install = node_install,
	.uninstall = node_uninstall,
	.rc_files = true,
};
