/* gbca serve's configuration: defaults, listen addresses, the upstream URL,
 * and the config file ("key = value" lines named like the long options). */
#include "config.h"
#include <gbca/proxy.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
gbca_proxy_config_defaults(struct gbca_proxy_config *c)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof(*c));
	c->workers = n > 0 && n < 64 ? (unsigned)n : 1;
	c->max_connections = GBCA_PROXY_MAX_CONNECTIONS_DEFAULT;
	c->header_timeout_s = 30;
	c->idle_timeout_s = 75;
	c->connect_timeout_s = 10;
	/* A non-streaming call can take minutes (Gemini Balance retries 3 x 300 s)
	 * and streams can be silent for long stretches: an idle limit, not a total. */
	c->upstream_timeout_s = 960;
	c->drain_timeout_s = 30;
	snprintf(c->user, sizeof(c->user), "nobody");
}

bool
gbca_proxy_parse_listen(const char *s, bool tls, struct gbca_listen_addr *out, struct gbca_err *err)
{
	char host[64] = "";
	const char *port = NULL;
	char *end;
	unsigned long p;

	memset(out, 0, sizeof(*out));
	out->tls = tls;
	snprintf(out->text, sizeof(out->text), "%s", s);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			return gbca_fail(err, "bad listen address \"%s\"; write IPv6 as [::1]:443", s);
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		port = close + 2;
	} else if (strchr(s, ':')) {
		const char *colon = strrchr(s, ':');
		if ((size_t)(colon - s) >= sizeof(host) || strchr(s, ':') != colon)
			return gbca_fail(err, "bad listen address \"%s\"; write IPv6 as [::1]:443", s);
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		port = colon + 1;
	} else {
		port = s;
	}
	errno = 0;
	p = strtoul(port, &end, 10);
	if (!isdigit((unsigned char)port[0]) || *end != '\0' || errno || p == 0 || p > 65535)
		return gbca_fail(err, "bad port in listen address \"%s\"", s);
	if (host[0] == '\0')
		snprintf(host, sizeof(host), "0.0.0.0");
	if (strchr(host, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->ss;
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return gbca_fail(err, "bad IPv6 address in \"%s\"", s);
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)p);
		out->len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&out->ss;
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return gbca_fail(err, "bad IPv4 address in \"%s\" (give an address, not a host name)", s);
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)p);
		out->len = sizeof(*a);
	}
	return true;
}

bool
gbca_proxy_parse_upstream(const char *url, struct gbca_proxy_config *c, struct gbca_err *err)
{
	const char *hp, *slash, *colon;
	struct addrinfo hints, *res = NULL;
	char host[256];
	int ret;

	if (strncmp(url, "http://", 7) != 0)
		return gbca_fail(err, "the upstream must be an http:// URL (Gemini Balance speaks plain HTTP), not \"%s\"", url);
	hp = url + 7;
	slash = strchr(hp, '/');
	if (slash && slash[1] != '\0')
		return gbca_fail(err, "the upstream URL takes no path (\"%s\"); requests keep theirs", url);
	snprintf(c->upstream_url, sizeof(c->upstream_url), "%s", url);
	if (hp[0] == '[') {
		const char *close = strchr(hp, ']');
		if (close == NULL || (size_t)(close - hp - 1) >= sizeof(host))
			return gbca_fail(err, "bad upstream URL \"%s\"", url);
		memcpy(host, hp + 1, (size_t)(close - hp - 1));
		host[close - hp - 1] = '\0';
		colon = close[1] == ':' ? close + 1 : NULL;
	} else {
		size_t hl;
		colon = strchr(hp, ':');
		hl = colon ? (size_t)(colon - hp) : (slash ? (size_t)(slash - hp) : strlen(hp));
		if (hl == 0 || hl >= sizeof(host))
			return gbca_fail(err, "bad upstream URL \"%s\"", url);
		memcpy(host, hp, hl);
		host[hl] = '\0';
	}
	snprintf(c->upstream_host, sizeof(c->upstream_host), "%s", host);
	if (colon) {
		size_t pl = slash ? (size_t)(slash - colon - 1) : strlen(colon + 1);
		if (pl == 0 || pl >= sizeof(c->upstream_port))
			return gbca_fail(err, "bad port in upstream URL \"%s\"", url);
		memcpy(c->upstream_port, colon + 1, pl);
		c->upstream_port[pl] = '\0';
	} else {
		snprintf(c->upstream_port, sizeof(c->upstream_port), "80");
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	ret = getaddrinfo(host, c->upstream_port, &hints, &res);
	if (ret != 0)
		return gbca_fail(err, "couldn't resolve the upstream host \"%s\": %s", host, gai_strerror(ret));
	memcpy(&c->upstream_ss, res->ai_addr, res->ai_addrlen);
	c->upstream_len = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}
