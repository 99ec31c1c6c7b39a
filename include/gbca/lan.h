/* A team on a LAN: a gateway's root, named by its SHA-256 fingerprint
 * ('gbca export'), fetched from the gateway's TLS handshake and checked
 * before a teammate trusts it ('gbca join'); the folder it is kept in. */
#ifndef GBCA_LAN_H
#define GBCA_LAN_H

#include <gbca/err.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

/* "SHA256:" + 64 lower-case hex digits + NUL */
#define GBCA_LAN_FP_LEN 72

/* The folder under CAROOT that holds the joined root (no key). */
#define GBCA_LAN_DIR "joined"
/* Beside it: what join did, for leave ("key value" lines). */
#define GBCA_LAN_STATE_FILE "gateway"

/* Reads a fingerprint as a user may give it: "SHA256:HEX", or HEX alone,
 * with or without colons between the bytes, in any case. */
bool gbca_lan_parse_fingerprint(const char *in, unsigned char out[32], struct gbca_err *err);
/* "SHA256:<64 lower-case hex>" */
void gbca_lan_format_fingerprint(const unsigned char fp[32], char out[GBCA_LAN_FP_LEN]);
/* The fingerprint of a certificate (SHA-256 of its DER). */
bool gbca_lan_crt_fingerprint(gnutls_x509_crt_t crt, unsigned char out[32]);

/* The permitted subtrees of crt's name constraints as gbca_subtree_format
 * writes them ("DNS localhost"), ", "-separated (buf empty when it has
 * none); *has_dns when one is a DNS subtree. False when the extension can't
 * be read. */
bool gbca_lan_permitted(gnutls_x509_crt_t crt, char *buf, size_t len, bool *has_dns, struct gbca_err *err);

/* A root a gateway sent, once checked. */
struct gbca_lan_root {
	gnutls_x509_crt_t crt;
	gnutls_datum_t pem;
	char fingerprint[GBCA_LAN_FP_LEN];
	char permitted[1024];               /* what it may sign for (gbca_lan_permitted) */
	char address[INET6_ADDRSTRLEN];     /* the gateway's address that answered */
};
void gbca_lan_root_free(struct gbca_lan_root *r);

/* The checks join makes on the certificates a gateway sent (certs[0] is its
 * leaf): one of them has the fingerprint want, and it is a CA certificate,
 * self-signed, with name constraints that permit DNS subtrees, and the leaf
 * verifies against it for name. Fills out (but address) or says in err
 * which check failed, naming the fingerprints it saw. */
bool gbca_lan_pick_root(const gnutls_datum_t *certs, unsigned n, const unsigned char want[32], const char *name,
                        struct gbca_lan_root *out, struct gbca_err *err);

/* Resolves host, connects to host:port (10 s limits), does a TLS handshake
 * with SNI name and no verification, and runs gbca_lan_pick_root on the
 * certificates the gateway sent. */
bool gbca_lan_fetch(const char *host, const char *port, const unsigned char want[32], const char *name,
                    struct gbca_lan_root *out, struct gbca_err *err);

/* This machine's address as a teammate would reach it: the source address
 * of its default route, else the first IPv4 address of an interface that is
 * up and not the loopback, else its host name. */
void gbca_lan_own_address(char *buf, size_t len);

#endif
