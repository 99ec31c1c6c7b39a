/* Shell start-up lines for the node and python stores (trust/shells.c),
 * shared with `gbca env`. */
#ifndef GBCA_SHELLS_H
#define GBCA_SHELLS_H

#include <gbca/err.h>
#include <stdbool.h>
#include <stddef.h>

/* The one PEM file NODE_EXTRA_CA_CERTS names, inside CAROOT. */
#define GBCA_NODE_PEM_FILE "node-ca.pem"

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

#endif
