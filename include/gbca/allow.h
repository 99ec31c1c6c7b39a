/* gbca serve's client allowlist (--allow): networks as CIDRs, parsed
 * strictly, matched right after accept; and the default, the on-link
 * networks of the interfaces that carry the listeners (getifaddrs). */
#ifndef GBCA_ALLOW_H
#define GBCA_ALLOW_H

#include <gbca/err.h>
#include <gbca/proxy.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Parses "198.18.1.0/24", "2001:db8::/64", or a bare address (/32, /128).
 * Refuses host bits under the mask (saying which network was meant), a
 * prefix past the family's width, leading zeros, zone ids and names. An
 * IPv4-mapped IPv6 network (::ffff:a.b.c.d/96+) becomes the IPv4 one. */
bool gbca_cidr_parse(const char *s, struct gbca_cidr *out, struct gbca_err *err);
/* "198.18.1.0/24", "2001:db8::/64". */
void gbca_cidr_format(const struct gbca_cidr *n, char *buf, size_t len);
/* Adds n to c's list unless it is there already; false when the list is full. */
bool gbca_allow_add(struct gbca_proxy_config *c, const struct gbca_cidr *n);
/* Whether a client at sa may talk to the proxy: loopback always, every
 * client with --allow any, else one in c's networks. An IPv4-mapped IPv6
 * address is compared as IPv4. */
bool gbca_allow_client(const struct gbca_proxy_config *c, const struct sockaddr *sa);
/* The default (no --allow): adds the on-link networks of the interfaces
 * that carry the local addresses of the listening sockets fds (all
 * interfaces' for a wildcard listener). Loopback listeners add nothing. */
void gbca_allow_defaults(struct gbca_proxy_config *c, const int *fds, size_t n_fds);
/* With --bridge: adds the networks of the interface that carries the
 * bridge listener, of docker's user-defined bridges (br-*) and of podman's
 * (podman*, cni-podman*) present now: compose networks reach the host
 * gateway (docker0's address) routed from their own subnets. */
void gbca_allow_bridges(struct gbca_proxy_config *c);
/* One line for the start: "loopback, 198.18.1.0/24 (--allow)". */
void gbca_allow_describe(const struct gbca_proxy_config *c, char *buf, size_t len);

#endif
