/* gbca serve's client allowlist: --allow's networks parsed strictly, the
 * check a worker makes right after accept (a short array, no allocation),
 * and the default networks, found once at start with getifaddrs. */
#include "config.h"
#include <gbca/allow.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

#define CIDR_HELP "--allow takes a network (198.18.1.0/24, 2001:db8::/64), an address, or any"

static unsigned
width(const struct gbca_cidr *n)
{
	return n->family == AF_INET ? 4 : 16;
}

/* Clears the bits of net past the prefix; true if any was set. */
static bool
clear_host_bits(uint8_t *net, unsigned bytes, unsigned bits)
{
	bool had = false;

	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * i : 0;
		uint8_t mask = keep ? (uint8_t)(0xff << (8 - keep)) : 0;
		had |= (net[i] & (uint8_t)~mask) != 0;
		net[i] &= mask;
	}
	return had;
}

bool
gbca_cidr_parse(const char *s, struct gbca_cidr *out, struct gbca_err *err)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max, bits;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(addr))
		return gbca_fail(err, CIDR_HELP ", not \"%s\"", s);
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	/* inet_pton is strict: dotted quads only, no leading zeros, no zone id. */
	if (inet_pton(AF_INET, addr, out->net) == 1)
		out->family = AF_INET, max = 32;
	else if (inet_pton(AF_INET6, addr, out->net) == 1)
		out->family = AF_INET6, max = 128;
	else
		return gbca_fail(err, CIDR_HELP ", not \"%s\" (\"%s\" is not an IPv4 or IPv6 address)", s, addr);
	bits = max;
	if (slash) {
		const char *p = slash + 1;
		size_t digits = strspn(p, "0123456789");
		if (digits == 0 || digits > 3 || p[digits] != '\0' || (p[0] == '0' && digits > 1))
			return gbca_fail(err, CIDR_HELP ", not \"%s\" (the prefix length is a number from 0 to %u)", s, max);
		bits = (unsigned)strtoul(p, NULL, 10);
		if (bits > max)
			return gbca_fail(err, CIDR_HELP ", not \"%s\" (an %s prefix is at most /%u)", s,
			                 max == 32 ? "IPv4" : "IPv6", max);
	}
	out->bits = (uint8_t)bits;
	if (clear_host_bits(out->net, width(out), bits)) {
		char net[64];
		gbca_cidr_format(out, net, sizeof(net));
		return gbca_fail(err, "--allow %s: the address has bits set past /%u; the network is %s (or give %.*s alone for that one address)",
		                 s, bits, net, (int)alen, s);
	}
	/* ::ffff:a.b.c.d is how an IPv6 socket shows an IPv4 client: keep one form. */
	if (out->family == AF_INET6 && bits >= 96 && memcmp(out->net, v4mapped, 12) == 0) {
		memmove(out->net, out->net + 12, 4);
		memset(out->net + 4, 0, 12);
		out->family = AF_INET;
		out->bits = (uint8_t)(bits - 96);
	}
	return true;
}

void
gbca_cidr_format(const struct gbca_cidr *n, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (inet_ntop(n->family, n->net, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s/%u", a, n->bits);
}

bool
gbca_allow_add(struct gbca_proxy_config *c, const struct gbca_cidr *n)
{
	for (size_t i = 0; i < c->n_allow; i++)
		if (c->allow[i].family == n->family && c->allow[i].bits == n->bits &&
		    memcmp(c->allow[i].net, n->net, width(n)) == 0)
			return true;
	if (c->n_allow == GBCA_PROXY_ALLOW_MAX)
		return false;
	c->allow[c->n_allow++] = *n;
	return true;
}

static bool
in_net(const struct gbca_cidr *n, const uint8_t *a)
{
	unsigned full = n->bits / 8, rest = n->bits % 8;

	/* A byte loop, not memcmp: most networks differ in their first byte. */
	for (unsigned k = 0; k < full; k++)
		if (n->net[k] != a[k])
			return false;
	return rest == 0 || ((a[full] ^ n->net[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool
gbca_allow_client(const struct gbca_proxy_config *c, const struct sockaddr *sa)
{
	const uint8_t *a;
	int family = sa->sa_family;

	if (family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a6))
			return true;
		a = a6->s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6))
			a += 12, family = AF_INET;
	} else {
		return family == AF_UNIX || c->allow_any;   /* a local socket from systemd */
	}
	if (family == AF_INET && a[0] == 127)
		return true;
	if (c->allow_any)
		return true;
	for (size_t i = 0; i < c->n_allow; i++)
		if (c->allow[i].family == family && in_net(&c->allow[i], a))
			return true;
	return false;
}

/* The network of an interface address (address and netmask). */
static bool
ifa_network(const struct ifaddrs *i, struct gbca_cidr *n)
{
	const uint8_t *a, *m;
	unsigned bytes, bits = 0;

	memset(n, 0, sizeof(*n));
	if (i->ifa_addr == NULL || i->ifa_netmask == NULL || (i->ifa_flags & IFF_LOOPBACK))
		return false;
	if (i->ifa_addr->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)i->ifa_addr)->sin_addr;
		m = (const uint8_t *)&((const struct sockaddr_in *)i->ifa_netmask)->sin_addr;
		bytes = 4;
	} else if (i->ifa_addr->sa_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr.s6_addr;
		m = ((const struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr.s6_addr;
		bytes = 16;
	} else {
		return false;
	}
	n->family = (uint8_t)i->ifa_addr->sa_family;
	for (unsigned k = 0; k < bytes; k++) {
		n->net[k] = a[k] & m[k];
		bits += (unsigned)__builtin_popcount(m[k]);
	}
	n->bits = (uint8_t)bits;
	return true;
}

/* Whether an interface address is sa's address (the port aside). */
static bool
same_addr(const struct sockaddr *ifa, const struct sockaddr_storage *sa)
{
	if (ifa == NULL || ifa->sa_family != sa->ss_family)
		return false;
	if (sa->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ifa)->sin_addr.s_addr == ((const struct sockaddr_in *)sa)->sin_addr.s_addr;
	return sa->ss_family == AF_INET6 &&
	       memcmp(&((const struct sockaddr_in6 *)ifa)->sin6_addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16) == 0;
}

static void
add_or_warn(struct gbca_proxy_config *c, struct gbca_cidr *n, enum gbca_allow_why why, bool *warned)
{
	n->why = (uint8_t)why;
	if (!gbca_allow_add(c, n) && !*warned) {
		gbca_print_warning("more than %d networks on this machine's interfaces: only the first %d are allowed by default; list the ones you want with --allow",
		                   GBCA_PROXY_ALLOW_MAX, GBCA_PROXY_ALLOW_MAX);
		*warned = true;
	}
}

/* All the networks of interface name. */
static void
add_interface(struct gbca_proxy_config *c, struct ifaddrs *ifs, const char *name, enum gbca_allow_why why,
              bool *warned)
{
	struct gbca_cidr n;

	for (struct ifaddrs *j = ifs; j; j = j->ifa_next)
		if (strcmp(j->ifa_name, name) == 0 && ifa_network(j, &n))
			add_or_warn(c, &n, why, warned);
}

void
gbca_allow_defaults(struct gbca_proxy_config *c, const int *fds, size_t n_fds)
{
	struct ifaddrs *ifs = NULL;
	bool warned = false;

	if (c->allow_set || c->allow_any || getifaddrs(&ifs) < 0)
		return;
	for (size_t f = 0; f < n_fds; f++) {
		struct sockaddr_storage ss = { 0 };
		socklen_t len = sizeof(ss);
		bool wildcard;
		struct gbca_cidr n;

		if (getsockname(fds[f], (struct sockaddr *)&ss, &len) < 0)
			continue;
		if (ss.ss_family == AF_INET)
			wildcard = ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY);
		else if (ss.ss_family == AF_INET6)
			wildcard = IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr);
		else
			continue;
		for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
			if (!wildcard && !same_addr(i->ifa_addr, &ss))
				continue;
			if (wildcard) {
				if (ifa_network(i, &n))
					add_or_warn(c, &n, GBCA_ALLOW_ON_LINK, &warned);
				continue;
			}
			/* The interface that carries the listener: all its networks. */
			add_interface(c, ifs, i->ifa_name, GBCA_ALLOW_ON_LINK, &warned);
		}
	}
	freeifaddrs(ifs);
}

void
gbca_allow_bridges(struct gbca_proxy_config *c)
{
	struct ifaddrs *ifs = NULL;
	bool warned = false, carried = false;

	if (!c->bridge_set || getifaddrs(&ifs) < 0)
		return;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		bool carries = false;
		for (size_t k = 0; k < c->n_listen && !carries; k++)
			carries = c->listen[k].bridge && same_addr(i->ifa_addr, &c->listen[k].ss);
		carried |= carries;
		if (c->allow_any)
			continue;
		if (carries || strcmp(i->ifa_name, "docker0") == 0 || strncmp(i->ifa_name, "br-", 3) == 0 ||
		    strncmp(i->ifa_name, "podman", 6) == 0 || strncmp(i->ifa_name, "cni-podman", 10) == 0) {
			struct gbca_cidr n;
			if (ifa_network(i, &n))
				add_or_warn(c, &n, GBCA_ALLOW_BRIDGE, &warned);
		}
	}
	freeifaddrs(ifs);
	for (size_t k = 0; k < c->n_listen && !carried; k++)
		if (c->listen[k].bridge)
			gbca_print_warning("--bridge=%s: no interface carries that address yet: listening anyway (IP_FREEBIND); "
			                   "its network is allowed when serve starts after it exists, or now with --allow",
			                   c->bridge);
}

void
gbca_allow_describe(const struct gbca_proxy_config *c, char *buf, size_t len)
{
	size_t used;

	if (c->allow_any) {
		snprintf(buf, len, "every client (--allow any)");
		return;
	}
	static const char *const from[] = {
		[GBCA_ALLOW_GIVEN] = " (--allow)",
		[GBCA_ALLOW_ON_LINK] = " (the networks of the interfaces that carry the listeners; --allow to choose)",
		[GBCA_ALLOW_BRIDGE] = " (container bridges, --bridge)",
	};
	used = (size_t)snprintf(buf, len, "loopback%s", c->n_allow ? "" : " only");
	for (size_t i = 0; i < c->n_allow && used < len; i++) {
		char net[64];
		gbca_cidr_format(&c->allow[i], net, sizeof(net));
		used += (size_t)snprintf(buf + used, len - used, ", %s", net);
		/* Each group says where it came from, once. */
		if (used < len && (i + 1 == c->n_allow || c->allow[i + 1].why != c->allow[i].why) &&
		    c->allow[i].why < sizeof(from) / sizeof(from[0]))
			used += (size_t)snprintf(buf + used, len - used, "%s", from[c->allow[i].why]);
	}
}
