/* Trust stores: one file per store under trust/, each filling this struct
 * with the same verbs (detect, check, install, uninstall). */
#ifndef GBCA_STORE_H
#define GBCA_STORE_H

#include <gbca/err.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

enum gbca_trust_state {
	GBCA_TRUST_ABSENT,     /* the store is not present on this machine */
	GBCA_TRUST_MISSING,    /* present; the current root is not in it */
	GBCA_TRUST_INSTALLED,  /* the current root is trusted by it */
	GBCA_TRUST_STALE,      /* only an older gbca root is in it */
};

const char *gbca_trust_state_name(enum gbca_trust_state s);

/* Shells whose rc files the node/python stores edit. */
enum {
	GBCA_SHELL_BASH = 1 << 0,
	GBCA_SHELL_ZSH = 1 << 1,
	GBCA_SHELL_FISH = 1 << 2,
	GBCA_SHELL_ALL = GBCA_SHELL_BASH | GBCA_SHELL_ZSH | GBCA_SHELL_FISH,
};

/* What every store is given. */
struct gbca_trust_ctx {
	const char *caroot;
	gnutls_x509_crt_t root;        /* the current root */
	gnutls_datum_t root_der;
	gnutls_datum_t root_pem;
	char sha256[65];               /* hex fingerprint of root_der */
	char label[64];                /* "gbca-" + first 16 hex of sha256: file names, nicknames */
	bool all;                      /* untrust: older gbca roots too */
	unsigned shells;               /* GBCA_SHELL_* for node and python */
	bool is_root;                  /* effective uid 0 */
};

#define GBCA_REPORT_MAX 1024

struct gbca_store {
	const char *name;
	bool needs_root;               /* skipped (with the sudo command) when not root */
	/* Fills where (a path or a short description) and returns the state. */
	enum gbca_trust_state (*check)(const struct gbca_trust_ctx *ctx, char *where, size_t where_len);
	/* Idempotent; report is one line saying what was done. */
	bool (*install)(const struct gbca_trust_ctx *ctx, char *report, size_t report_len, struct gbca_err *err);
	bool (*uninstall)(const struct gbca_trust_ctx *ctx, char *report, size_t report_len, struct gbca_err *err);
	bool rc_files;                 /* edits the shells' rc files: chosen by default only with --shells */
	bool needs_system;             /* names the system bundle: as a normal user, waits for the
	                                  system store (skipped with the sudo command) unless listed */
};

extern const struct gbca_store gbca_store_system;
extern const struct gbca_store gbca_store_nss;
extern const struct gbca_store gbca_store_node;
extern const struct gbca_store gbca_store_python;
extern const struct gbca_store gbca_store_java;

/* All stores, in the order they are shown. */
extern const struct gbca_store *const gbca_stores[];
extern const size_t gbca_n_stores;

const struct gbca_store *gbca_store_find(const char *name);

/* Whether s is in the default selection (no --stores): present here, and
 * for install, a store that edits rc files only with --shells. */
bool gbca_store_default(const struct gbca_store *s, const struct gbca_trust_ctx *ctx, bool install, bool shells);

/* Whether s, chosen by default, must wait (skipped with the sudo command):
 * it names the system bundle, we are not root, and the system store lacks
 * the root. */
bool gbca_store_waits_for_system(const struct gbca_store *s, const struct gbca_trust_ctx *ctx);

/* Loads the current root from caroot and fills ctx (free with gbca_trust_ctx_free). */
bool gbca_trust_ctx_init(struct gbca_trust_ctx *ctx, const char *caroot, struct gbca_err *err);
void gbca_trust_ctx_free(struct gbca_trust_ctx *ctx);

/* What 'gbca trust --shells' does (src/cmd-trust.c): the CA in caroot into
 * every store present here, node for the installed shells; stores that need
 * root are skipped with the sudo command when not root. Each store's report
 * goes to stdout, its errors to stderr; false if any store failed. */
bool gbca_trust_default_stores(const char *caroot, struct gbca_err *err);

/* The same for a list of stores ("system,node"; NULL: that default), and
 * for install false what 'gbca untrust' does (NULL: every store that could
 * hold the root). With sha256 (lower-case hex), fails before any store is
 * touched unless the root in caroot has that SHA-256 (gbca join: the root
 * it checked is the one it trusts). */
bool gbca_trust_run(const char *caroot, const char *stores, bool install, const char *sha256,
                    struct gbca_err *err);

/* True if crt was made by gbca (O=gbca development CA). */
bool gbca_is_gbca_root(gnutls_x509_crt_t crt);

/* System paths, re-rooted under $GBCA_SYSROOT when it is set (tests). */
bool gbca_sys_path(char *buf, size_t len, const char *abs, struct gbca_err *err);

/* The detected system layout's CA bundle (the file its update tool
 * regenerates), through gbca_sys_path. False when no layout is found. */
bool gbca_system_bundle(char *buf, size_t len);

/* The Java keystore that the layout's update hook fills (Debian's
 * /etc/ssl/certs/java/cacerts), through gbca_sys_path. False when the
 * layout has none or it doesn't exist. */
bool gbca_system_java_keystore(char *buf, size_t len);

#endif
