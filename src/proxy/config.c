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
#include <strings.h>
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

/* A URL "scheme://host[:port][/path]" cut into its parts; false for a
 * malformed one (err says why). The path is checked, not normalised. */
struct url_parts {
	bool tls;
	char host[256];
	char port[8];
	const char *path;                       /* "" or from the first '/' */
};

static bool
split_url(const char *what, const char *url, struct url_parts *u, struct gbca_err *err)
{
	const char *hp, *end, *colon = NULL;
	size_t hl;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(url, "http://", 7) == 0)
		hp = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		hp = url + 8, u->tls = true;
	else
		return gbca_fail(err, "the %s must be an http:// or https:// URL, not \"%s\"", what, url);
	end = hp + strcspn(hp, "/?#");
	if (*end == '?' || *end == '#' || strpbrk(end, "?#"))
		return gbca_fail(err, "the %s URL takes no query or fragment (\"%s\")", what, url);
	if (memchr(hp, '@', (size_t)(end - hp)))
		return gbca_fail(err, "the %s URL takes no user name or password (\"%s\")", what, url);
	u->path = end;
	if (hp[0] == '[') {
		const char *close = memchr(hp, ']', (size_t)(end - hp));
		if (close == NULL || close == hp + 1 || (size_t)(close - hp - 1) >= sizeof(u->host))
			return gbca_fail(err, "bad %s URL \"%s\"", what, url);
		hl = (size_t)(close - hp - 1);
		memcpy(u->host, hp + 1, hl);
		if (close[1] == ':')
			colon = close + 1;
		else if (close + 1 != end)
			return gbca_fail(err, "bad %s URL \"%s\"", what, url);
	} else {
		colon = memchr(hp, ':', (size_t)(end - hp));
		hl = colon ? (size_t)(colon - hp) : (size_t)(end - hp);
		if (hl == 0 || hl >= sizeof(u->host))
			return gbca_fail(err, "bad host in %s URL \"%s\"", what, url);
		memcpy(u->host, hp, hl);
	}
	u->host[hl] = '\0';
	for (const char *p = u->host; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".-_:", *p))
			return gbca_fail(err, "bad host in %s URL \"%s\"", what, url);
	if (colon) {
		size_t pl = (size_t)(end - colon - 1);
		unsigned long port;
		char *e;
		if (pl == 0 || pl >= sizeof(u->port) || strspn(colon + 1, "0123456789") != pl)
			return gbca_fail(err, "bad port in %s URL \"%s\"", what, url);
		memcpy(u->port, colon + 1, pl);
		port = strtoul(u->port, &e, 10);
		if (port == 0 || port > 65535)
			return gbca_fail(err, "bad port in %s URL \"%s\"", what, url);
	} else {
		snprintf(u->port, sizeof(u->port), "%s", u->tls ? "443" : "80");
	}
	return true;
}

static bool
resolve(const char *what, const char *host, const char *port, struct sockaddr_storage *ss, socklen_t *len,
        struct gbca_err *err)
{
	struct addrinfo hints, *res = NULL;
	int ret;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	ret = getaddrinfo(host, port, &hints, &res);
	if (ret != 0)
		return gbca_fail(err, "couldn't resolve the %s host \"%s\": %s", what, host, gai_strerror(ret));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

/* A path prefix: RFC 3986 pchar and '/', no empty segment ("//"), no dot
 * segment; the trailing '/' goes (PREFIX + "/v1beta/..." is the path). */
static bool
set_prefix(struct gbca_proxy_config *c, const char *path, const char *url, struct gbca_err *err)
{
	size_t n = strlen(path);

	while (n > 0 && path[n - 1] == '/')
		n--;
	if (n >= sizeof(c->upstream_prefix))
		return gbca_fail(err, "the upstream URL's path is too long (at most %zu bytes)", sizeof(c->upstream_prefix) - 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)path[i];
		if (!isalnum(ch) && !strchr("-._~!$&'()*+,;=:@/%", ch))
			return gbca_fail(err, "the upstream URL's path has a character that must be percent-encoded (\"%s\")", url);
		if (ch == '%' && (i + 2 >= n || !isxdigit((unsigned char)path[i + 1]) || !isxdigit((unsigned char)path[i + 2])))
			return gbca_fail(err, "bad percent-encoding in the upstream URL's path (\"%s\")", url);
		if (ch == '/' && i + 1 < n && path[i + 1] == '/')
			return gbca_fail(err, "the upstream URL's path has an empty segment (\"%s\")", url);
		if (ch == '/' && path[i + 1] == '.' &&
		    (i + 2 == n || path[i + 2] == '/' || (path[i + 2] == '.' && (i + 3 == n || path[i + 3] == '/'))))
			return gbca_fail(err, "the upstream URL's path has a dot segment (\"%s\")", url);
	}
	memcpy(c->upstream_prefix, path, n);
	c->upstream_prefix[n] = '\0';
	return true;
}

bool
gbca_proxy_parse_upstream_url(const char *url, struct gbca_proxy_config *c, struct gbca_err *err)
{
	struct url_parts u;
	bool v6;

	if (!split_url("upstream", url, &u, err))
		return false;
	if (strlen(url) >= sizeof(c->upstream_url))
		return gbca_fail(err, "the upstream URL is too long");
	if (!set_prefix(c, u.path, url, err))
		return false;
	if (strcasecmp(u.host, GBCA_GOOGLE_HOST) == 0)
		return gbca_fail(err, "the upstream can't be %s: gbca serves that name, so the hosts entry would "
		                 "send the proxy back to itself; give Gemini Balance's own address", u.host);
	snprintf(c->upstream_url, sizeof(c->upstream_url), "%s", url);
	snprintf(c->upstream_host, sizeof(c->upstream_host), "%s", u.host);
	snprintf(c->upstream_port, sizeof(c->upstream_port), "%s", u.port);
	c->upstream_tls = u.tls;
	v6 = strchr(u.host, ':') != NULL;
	/* Host: and the rewrite origin leave a default port out, as clients do. */
	if (strcmp(u.port, u.tls ? "443" : "80") == 0)
		snprintf(c->upstream_authority, sizeof(c->upstream_authority), "%s%s%s", v6 ? "[" : "", u.host, v6 ? "]" : "");
	else
		snprintf(c->upstream_authority, sizeof(c->upstream_authority), "%s%s%s:%s", v6 ? "[" : "", u.host,
		         v6 ? "]" : "", u.port);
	snprintf(c->upstream_origin, sizeof(c->upstream_origin), "%s://%s", u.tls ? "https" : "http", c->upstream_authority);
	memset(&c->upstream_ss, 0, sizeof(c->upstream_ss));
	c->upstream_len = 0;
	return true;
}

bool
gbca_proxy_parse_upstream(const char *url, struct gbca_proxy_config *c, struct gbca_err *err)
{
	return gbca_proxy_parse_upstream_url(url, c, err) &&
	       resolve("upstream", c->upstream_host, c->upstream_port, &c->upstream_ss, &c->upstream_len, err);
}

bool
gbca_proxy_parse_upstream_proxy(const char *v, struct gbca_proxy_config *c, struct gbca_err *err)
{
	struct url_parts u;

	if (strcmp(v, "env") != 0 && v[0] != '\0') {
		if (!split_url("upstream proxy", v, &u, err))
			return false;
		if (u.tls)
			return gbca_fail(err, "--upstream-proxy takes an http:// proxy (CONNECT), not \"%s\"", v);
		if (u.path[0] != '\0' && strcmp(u.path, "/") != 0)
			return gbca_fail(err, "--upstream-proxy takes no path (\"%s\")", v);
	}
	if (snprintf(c->upstream_proxy, sizeof(c->upstream_proxy), "%s", v) >= (int)sizeof(c->upstream_proxy))
		return gbca_fail(err, "the upstream proxy URL is too long");
	return true;
}

/* Whether name matches pattern as a served name does (a "*." wildcard
 * covers one label), case-insensitively. */
static bool
name_covers(const char *pattern, const char *name)
{
	if (strncmp(pattern, "*.", 2) == 0) {
		const char *dot = strchr(name, '.');
		return dot && dot != name && strcasecmp(dot + 1, pattern + 2) == 0;
	}
	return strcasecmp(pattern, name) == 0;
}

bool
gbca_proxy_no_proxy(const char *list, const char *host, const char *port)
{
	char buf[1024], *save = NULL, *tok;
	size_t hl = strlen(host);

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		char *colon = strrchr(tok, ':');
		size_t tl;
		if (strcmp(tok, "*") == 0)
			return true;
		/* "host:port" limits an entry to a port (not for a bare IPv6 address) */
		if (colon && strchr(tok, ':') == colon) {
			if (strcmp(colon + 1, port) != 0)
				continue;
			*colon = '\0';
		}
		if (tok[0] == '[' && (tl = strlen(tok)) > 2 && tok[tl - 1] == ']') {
			tok[tl - 1] = '\0';
			tok++;
		}
		if (tok[0] == '*' && tok[1] == '.')
			tok++;
		if (tok[0] == '.')
			tok++;
		tl = strlen(tok);
		if (tl == 0)
			continue;
		if (strcasecmp(tok, host) == 0)
			return true;
		/* "example.com" and ".example.com" both cover a.example.com */
		if (hl > tl && host[hl - tl - 1] == '.' && strcasecmp(host + hl - tl, tok) == 0)
			return true;
	}
	return false;
}

bool
gbca_proxy_config_finish(struct gbca_proxy_config *c, struct gbca_err *err)
{
	const char *proxy = c->upstream_proxy;
	struct url_parts u;

	/* The upstream is another machine: if it had a served name, the hosts
	 * entry would send the proxy back to itself. */
	for (size_t i = 0; i < c->n_names; i++)
		if (name_covers(c->names[i], c->upstream_host))
			return gbca_fail(err, "the upstream %s is a name this proxy serves (--name %s): the proxy would "
			                 "send requests back to itself", c->upstream_host, c->names[i]);
	if (c->upstream_len == 0) {
		struct gbca_err dns;
		/* A remote balancer's name may not resolve yet (no network at
		 * boot): serve starts, answers 502 saying so, and the master keeps
		 * looking (serve.c). An address always parses. */
		if (!resolve("upstream", c->upstream_host, c->upstream_port, &c->upstream_ss, &c->upstream_len, &dns))
			gbca_print_warning("%s; requests get 502 until it resolves", dns.msg);
	}
	c->upstream_via_proxy = false;
	if (strcmp(proxy, "env") == 0) {
		const char *no = getenv("NO_PROXY");
		proxy = getenv("HTTPS_PROXY");
		if (proxy == NULL || proxy[0] == '\0')
			proxy = getenv("https_proxy");
		if (no == NULL || no[0] == '\0')
			no = getenv("no_proxy");
		if (proxy == NULL || proxy[0] == '\0')
			return true;   /* no proxy in the environment: straight to the upstream */
		if (no && gbca_proxy_no_proxy(no, c->upstream_host, c->upstream_port))
			return true;
		if (!split_url("HTTPS_PROXY", proxy, &u, err))
			return false;
		if (u.tls)
			return gbca_fail(err, "HTTPS_PROXY is an https:// proxy (\"%s\"); gbca speaks to http:// proxies only", proxy);
	} else if (proxy[0] != '\0') {
		if (!split_url("upstream proxy", proxy, &u, err))
			return false;
	} else {
		return true;
	}
	snprintf(c->upstream_proxy_host, sizeof(c->upstream_proxy_host), "%s", u.host);
	snprintf(c->upstream_proxy_port, sizeof(c->upstream_proxy_port), "%s", u.port);
	c->upstream_via_proxy = true;
	return resolve("upstream proxy", u.host, u.port, &c->upstream_proxy_ss, &c->upstream_proxy_len, err);
}
