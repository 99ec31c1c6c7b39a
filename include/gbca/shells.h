/* The shell stores' engine (trust/shells.c): a block per store in ~/.bashrc,
 * ~/.zshrc and a fish drop-in, used by trust/node.c and trust/python.c, and
 * the same lines for `gbca env`. */
#ifndef GBCA_SHELLS_H
#define GBCA_SHELLS_H

#include <gbca/block.h>
#include <gbca/err.h>
#include <gbca/store.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* The one PEM file NODE_EXTRA_CA_CERTS names, inside CAROOT. */
#define GBCA_NODE_PEM_FILE "node-ca.pem"
/* The bundle the python variables name when the user had set them to a file
 * of their own (otherwise they name the system bundle). */
#define GBCA_PYTHON_PEM_FILE "python-ca.pem"

/* buf = caroot/node-ca.pem. Fails for a path with a line break, which no
 * rc-file line could hold. */
bool gbca_shells_node_pem(const char *caroot, char *buf, size_t len, struct gbca_err *err);

/* The lines that set NODE_EXTRA_CA_CERTS in shell ("bash", "zsh", "sh" or
 * "fish"), each ending in a newline: the same lines gbca puts in the rc files,
 * for `eval "$(gbca env)"` (fish: `gbca env | source`). */
bool gbca_shells_env_lines(const char *caroot, const char *shell, char *buf, size_t len,
                           struct gbca_err *err);

/* buf = the system CA bundle (the detected layout's, re-rooted like every
 * system path) that SSL_CERT_FILE and REQUESTS_CA_BUNDLE name. Fails when
 * there is no known system store. It may not hold the root yet. */
bool gbca_shells_python_bundle(char *buf, size_t len, struct gbca_err *err);

/* Like gbca_shells_env_lines, for the python store: the lines that set
 * SSL_CERT_FILE and REQUESTS_CA_BUNDLE to that bundle. */
bool gbca_shells_env_lines_python(const char *shell, char *buf, size_t len, struct gbca_err *err);

/* The engine. One store's block: its markers and the variables it sets,
 * all to one value. When the user had set one of them already (to another
 * file), the store bundles that file into its own (bundle names it) and the
 * block keeps a note of the old value, so untrust can say how to restore it. */
#define GBCA_SHELLS_MAX_VARS 2
struct gbca_shells_kind {
	const char *store;         /* report prefix */
	const char *what;          /* the block's name in messages */
	const char *begin, *end;
	const char *vars[GBCA_SHELLS_MAX_VARS + 1];   /* NULL-terminated */
	const char *bundle;        /* "node-ca.pem" */
};
extern const struct gbca_shells_kind gbca_shells_node, gbca_shells_python;

/* The values the user had before gbca's block: one per variable, "" if none. */
struct gbca_shells_prev {
	char v[GBCA_SHELLS_MAX_VARS][PATH_MAX];
};

/* Every shell's rc file for one kind of block, read and parsed. */
struct gbca_rcs;

/* Reads every shell's file; a file that can't be read or parsed is marked,
 * not fatal (its error comes back from install or remove). */
struct gbca_rcs *gbca_shells_load(const struct gbca_shells_kind *k);
void gbca_shells_free(struct gbca_rcs *rcs);

/* The old values noted in a block, if any file has one. */
void gbca_shells_noted(const struct gbca_rcs *rcs, struct gbca_shells_prev *prev);

/* Each selected shell's file in where, with a note unless its block is the
 * one install would write now. */
void gbca_shells_check(const struct gbca_trust_ctx *ctx, const struct gbca_rcs *rcs, const char *value,
                       const struct gbca_shells_prev *prev, char *where, size_t where_len, bool *any_block,
                       bool *all_current);
/* Puts the block in every selected shell's file; done lists them. Every file
 * is tried; errors are collected in all. */
void gbca_shells_install(const struct gbca_trust_ctx *ctx, struct gbca_rcs *rcs, const char *value,
                         const struct gbca_shells_prev *prev, char *done, size_t done_len, bool *changed_any,
                         struct gbca_err *all);
/* Takes the block out of every selected shell's file, giving back the bytes
 * from before; done lists the ones changed. *in_use: a block may still be in
 * some file (unselected, or one gbca couldn't change). */
void gbca_shells_remove(const struct gbca_trust_ctx *ctx, struct gbca_rcs *rcs, const char *value, char *done,
                        size_t done_len, bool *in_use, struct gbca_err *all);

/* "; apply now with: export ..." for the shell in $SHELL. */
void gbca_shells_apply_hint(const struct gbca_shells_kind *k, const char *value, char *buf, size_t len);
/* "SSL_CERT_FILE and REQUESTS_CA_BUNDLE" */
void gbca_shells_var_names(const struct gbca_shells_kind *k, char *buf, size_t len);

/* The user's own values of k's variables that are not target: from the
 * environment, else (once a shell ran our block) from a note in a block.
 * Relative names are made absolute. */
void gbca_shells_find_prev(const struct gbca_shells_kind *k, const char *target, const struct gbca_rcs *rcs,
                           struct gbca_shells_prev *prev);

/* Writes file = the certificates of every file in prev, then the root, when
 * that differs from what is there (mode 0644). Fails, naming the variable,
 * when a file in prev holds no PEM certificate. */
bool gbca_shells_write_bundle(const struct gbca_shells_kind *k, const struct gbca_trust_ctx *ctx,
                              const char *file, const struct gbca_shells_prev *prev, struct gbca_err *err);

/* The lines that set k's variables to value in shell (see gbca_shells_env_lines). */
bool gbca_shells_env_lines_for(const struct gbca_shells_kind *k, const char *value, const char *shell,
                               char *buf, size_t len, struct gbca_err *err);

/* "; in open shells run: export VAR='old'" (or unset) for each variable
 * whose value in the environment is file. */
void gbca_shells_restore_hint(const struct gbca_shells_kind *k, const char *file,
                              const struct gbca_shells_prev *prev, char *buf, size_t len);

#endif
