/* gbca serve --bridge: finds the container bridge's gateway address (the
 * host-gateway address containers are given) and adds it as a listener. */
#include "config.h"
#include <gbca/bridge.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

/* The first IPv4 address of interface name; false if none. */
static bool
ipv4_of(const struct ifaddrs *ifs, const char *name, struct sockaddr_in *out)
{
	for (const struct ifaddrs *i = ifs; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && strcmp(i->ifa_name, name) == 0) {
			memcpy(out, i->ifa_addr, sizeof(*out));
			return true;
		}
	return false;
}

/* The bridge's IPv4 address, found by name (spec) or among the usual ones. */
static bool
find_bridge(const char *spec, struct sockaddr_in *out, struct gbca_err *err)
{
	static const char *const names[] = { "docker0", "podman0", "cni-podman0" };
	struct ifaddrs *ifs = NULL;
	bool found = false;

	if (spec[0] && (strlen(spec) >= IFNAMSIZ || strpbrk(spec, "/ \t:") != NULL))
		return gbca_fail(err, "--bridge=%s: not an interface name or an IP address", spec);
	if (getifaddrs(&ifs) < 0)
		return gbca_fail(err, "--bridge: couldn't list the network interfaces: %s", strerror(errno));
	if (spec[0]) {
		found = ipv4_of(ifs, spec, out);
	} else {
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]) && !found; k++)
			found = ipv4_of(ifs, names[k], out);
	}
	freeifaddrs(ifs);
	if (found)
		return true;
	if (spec[0] == '\0')
		return gbca_fail(err, "--bridge: no container bridge here: none of " GBCA_BRIDGE_NAMES " exists with an IPv4 address "
		                 "(is Docker running? Podman makes its bridge with its first container); "
		                 "name one with --bridge=IFACE or --bridge=ADDR");
	if (if_nametoindex(spec) == 0)
		return gbca_fail(err, "--bridge=%s: no interface named %s here (ip link shows them)", spec, spec);
	return gbca_fail(err, "--bridge=%s: %s has no IPv4 address (ip -4 addr show %s)", spec, spec, spec);
}

bool
gbca_bridge_listen(struct gbca_proxy_config *c, const char *spec, struct gbca_err *err)
{
	struct gbca_listen_addr *a = &c->listen[c->n_listen];
	char host[INET6_ADDRSTRLEN];
	uint16_t port = htons(443);
	bool six = false;

	if (c->bridge_set)
		return gbca_fail(err, "--bridge is given twice");
	if (c->n_listen == GBCA_PROXY_LISTEN_MAX)
		return gbca_fail(err, "too many listen addresses (at most %d)", GBCA_PROXY_LISTEN_MAX);
	/* The main listener's port: containers reach the same URL. */
	for (size_t i = 0; i < c->n_listen; i++)
		if (c->listen[i].tls) {
			port = ((const struct sockaddr_in *)&c->listen[i].ss)->sin_port;   /* same offset in sockaddr_in6 */
			break;
		}
	memset(a, 0, sizeof(*a));
	a->tls = a->bridge = true;
	if (inet_pton(AF_INET, spec, &((struct sockaddr_in *)&a->ss)->sin_addr) == 1) {
		a->ss.ss_family = AF_INET;
	} else if (inet_pton(AF_INET6, spec, &((struct sockaddr_in6 *)&a->ss)->sin6_addr) == 1) {
		a->ss.ss_family = AF_INET6;
		six = true;
	} else if (!find_bridge(spec, (struct sockaddr_in *)&a->ss, err)) {
		return false;
	}
	if (six) {
		((struct sockaddr_in6 *)&a->ss)->sin6_port = port;
		a->len = sizeof(struct sockaddr_in6);
	} else {
		((struct sockaddr_in *)&a->ss)->sin_port = port;
		a->len = sizeof(struct sockaddr_in);
	}
	inet_ntop(a->ss.ss_family, six ? (const void *)&((struct sockaddr_in6 *)&a->ss)->sin6_addr
	                               : (const void *)&((struct sockaddr_in *)&a->ss)->sin_addr, host, sizeof(host));
	snprintf(a->text, sizeof(a->text), six ? "[%s]:%u" : "%s:%u", host, ntohs(port));
	snprintf(c->bridge, sizeof(c->bridge), "%s", spec);
	c->bridge_set = true;
	c->n_listen++;
	return true;
}
