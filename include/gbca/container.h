/* Containers on this host (src/container.c): the CA bundle they mount from
 * CAROOT, and the settings that mount and name it, as a docker-compose
 * override or as docker run flags. */
#ifndef GBCA_CONTAINER_H
#define GBCA_CONTAINER_H

#include <gbca/err.h>
#include <gbca/store.h>
#include <gbca/strbuf.h>
#include <stdbool.h>
#include <stddef.h>

/* The bundle in CAROOT, and where containers see it. */
#define GBCA_CONTAINER_PEM_FILE "container-ca.pem"
#define GBCA_CONTAINER_CA_PATH "/etc/gbca/ca.pem"

struct gbca_container_bundle {
	char path[PATH_MAX];   /* absolute: what the bind mount names */
	unsigned n_system;     /* certificates taken from the system bundle */
	bool root_added;       /* false: the system bundle holds the root already */
	bool changed;          /* the file was written (not already as it is) */
};

/* Writes CAROOT/container-ca.pem (mode 0644) unless it already holds exactly
 * this: every certificate of the system bundle (gbca_system_bundle), then the
 * root of ctx unless the system bundle has it. Certificates only, re-encoded
 * as PEM, so nothing else in the system file (a key, by mistake) can follow.
 * SSL_CERT_FILE and the others replace a client's whole store: a bundle
 * without the system's certificates would break every other site, so no
 * system bundle is an error, not a bundle with the root alone. */
bool gbca_container_bundle_write(const struct gbca_trust_ctx *ctx, struct gbca_container_bundle *b,
                                 struct gbca_err *err);

/* A service name as compose allows it: [a-zA-Z0-9._-]+. */
bool gbca_container_service_ok(const char *name);

/* The override for services 0..n-1 (names checked by the caller), mounting
 * bundle (an absolute path). False when the path can't be written in a
 * compose file (control characters, bytes that are not UTF-8). */
bool gbca_container_compose(struct gbca_strbuf *out, const char *bundle, char *const *services, size_t n,
                            struct gbca_err *err);

/* The same settings as one line of docker run flags, quoted for POSIX shells. */
bool gbca_container_docker_run(struct gbca_strbuf *out, const char *bundle, struct gbca_err *err);

#endif
