/* gbca serve --bridge: one more TLS listener on the container bridge's
 * gateway address, so that containers on this host reach the proxy. */
#ifndef GBCA_BRIDGE_H
#define GBCA_BRIDGE_H

#include <gbca/err.h>
#include <gbca/proxy.h>
#include <stdbool.h>

/* The bridges --bridge looks for, in this order: the first that exists
 * with an IPv4 address is used. */
#define GBCA_BRIDGE_NAMES "docker0, podman0, cni-podman0"

/* Adds the bridge listener to c, on the port of c's first TLS listener:
 * spec "" finds the first of GBCA_BRIDGE_NAMES with an IPv4 address, an
 * interface name takes its first IPv4 address, and an address is taken
 * as it is (bound with IP_FREEBIND, so it may come up later). False, with
 * err naming what was looked for, when no such bridge is here. */
bool gbca_bridge_listen(struct gbca_proxy_config *c, const char *spec, struct gbca_err *err);

#endif
