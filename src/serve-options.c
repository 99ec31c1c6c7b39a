/* gbca serve's options, shared by 'gbca serve' and 'gbca up': the config
 * file, GBCA_* variables and flags (in that order, later wins). */
#include "config.h"
#include <gbca/allow.h>
#include <gbca/bridge.h>
#include <gbca/cmd.h>
#include <gbca/names.h>
#include <gbca/path.h>
#include <gbca/proxy.h>
#include <gbca/serve-options.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SRC_FILE, SRC_ENV, SRC_FLAG };

struct opts {
	struct gbca_proxy_config *c;
	int listen_src, http_listen_src, name_src;   /* the source that last set each list, -1 none */
	int allow_src;
	bool bridge;                     /* --bridge given: bridge_spec, added last */
	char bridge_spec[64];
	bool listen_defaulted;
};

/* Whether a listener is on a loopback address (127.0.0.0/8, ::1). */
static bool
is_loopback(const struct gbca_listen_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr) >> 24) == 127;
	return a->ss.ss_family == AF_INET6 &&
	       IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
}

static bool
add_one(struct gbca_proxy_config *c, const char *v, bool tls, struct gbca_err *err)
{
	struct gbca_listen_addr *a = &c->listen[c->n_listen];

	if (c->n_listen == GBCA_PROXY_LISTEN_MAX)
		return gbca_fail(err, "too many listen addresses (at most %d)", GBCA_PROXY_LISTEN_MAX);
	if (!gbca_proxy_parse_listen(v, tls, a, err))
		return false;
	c->n_listen++;
	return true;
}

/* A port alone ("8443", ":8443") means both loopbacks; a wider address has
 * to be written out (0.0.0.0:8443, [::]:8443). */
static bool
add_listen(struct gbca_proxy_config *c, const char *v, bool tls, struct gbca_err *err)
{
	const char *port = v[0] == ':' ? v + 1 : v;
	char four[32], six[32];

	if (port[0] == '\0' || port[strspn(port, "0123456789")] != '\0')
		return add_one(c, v, tls, err);
	if (strlen(port) > 5)
		return gbca_fail(err, "bad port in listen address \"%s\"", v);
	snprintf(four, sizeof(four), "127.0.0.1:%s", port);
	snprintf(six, sizeof(six), "[::1]:%s", port);
	return add_one(c, four, tls, err) && add_one(c, six, tls, err);
}

/* One option from any source; list options start over in a new source. */
static bool
apply(struct opts *o, const char *key, const char *v, int src, struct gbca_err *err)
{
	struct gbca_proxy_config *c = o->c;
	unsigned *num = NULL, lo = 1, hi = 86400;

	if (strcmp(key, "listen") == 0 || strcmp(key, "http-listen") == 0) {
		bool tls = key[0] == 'l';
		int *seen = tls ? &o->listen_src : &o->http_listen_src;
		if (*seen != src) {
			/* A stronger source replaces this kind of listener, not the other. */
			size_t kept = 0;
			for (size_t i = 0; i < c->n_listen; i++)
				if (c->listen[i].tls != tls)
					c->listen[kept++] = c->listen[i];
			c->n_listen = kept;
			*seen = src;
		}
		if (!add_listen(c, v, tls, err))
			return false;
		if (tls)
			c->listen_set = true;
		return true;
	}
	if (strcmp(key, "name") == 0) {
		struct gbca_name n;
		if (o->name_src != src) {
			c->n_names = 0;
			o->name_src = src;
		}
		if (!gbca_name_parse(v, &n, err))
			return false;
		if (n.type != GBCA_NAME_DNS && n.type != GBCA_NAME_WILDCARD)
			return gbca_fail(err, "--name takes DNS names, not \"%s\"", v);
		if (c->n_names == GBCA_PROXY_NAMES_MAX)
			return gbca_fail(err, "too many names (at most %d)", GBCA_PROXY_NAMES_MAX);
		snprintf(c->names[c->n_names++], sizeof(c->names[0]), "%.253s", n.text);
		return true;
	}
	if (strcmp(key, "allow") == 0) {
		struct gbca_cidr n;
		if (o->allow_src != src) {
			c->n_allow = 0;
			c->allow_any = false;
			o->allow_src = src;
		}
		c->allow_set = true;
		if (strcmp(v, "any") == 0) {
			c->allow_any = true;
			return true;
		}
		if (!gbca_cidr_parse(v, &n, err))
			return false;
		if (!gbca_allow_add(c, &n))
			return gbca_fail(err, "too many --allow networks (at most %d)", GBCA_PROXY_ALLOW_MAX);
		return true;
	}
	if (strcmp(key, "bridge") == 0) {
		if (strcmp(v, "auto") == 0)
			v = "";
		if (snprintf(o->bridge_spec, sizeof(o->bridge_spec), "%s", v) >= (int)sizeof(o->bridge_spec))
			return gbca_fail(err, "--bridge=%s: not an interface name or an IP address", v);
		o->bridge = true;
		return true;
	}
	if (strcmp(key, "upstream") == 0)
		return gbca_proxy_parse_upstream_url(v, c, err);
	if (strcmp(key, "upstream-ca") == 0) {
		if (snprintf(c->upstream_ca, sizeof(c->upstream_ca), "%s", v) >= (int)sizeof(c->upstream_ca))
			return gbca_fail(err, "path too long: %s", v);
		return true;
	}
	if (strcmp(key, "upstream-proxy") == 0)
		return gbca_proxy_parse_upstream_proxy(v, c, err);
	if (strcmp(key, "cert") == 0 || strcmp(key, "key") == 0) {
		char *dst = key[0] == 'c' ? c->cert_file : c->key_file;
		if (snprintf(dst, PATH_MAX, "%s", v) >= PATH_MAX)
			return gbca_fail(err, "path too long: %s", v);
		return true;
	}
	if (strcmp(key, "cors") == 0) {
		for (const char *p = v; *p; p++)
			if ((unsigned char)*p < 0x21 || *p == 0x7f || *p == '"')
				return gbca_fail(err, "--cors takes an origin like https://example.test or *, not \"%s\"", v);
		snprintf(c->cors, sizeof(c->cors), "%s", v);
		return true;
	}
	if (strcmp(key, "access-log") == 0) {
		snprintf(c->access_log, sizeof(c->access_log), "%s", strcmp(v, "-") == 0 ? "" : v);
		return true;
	}
	if (strcmp(key, "pid-file") == 0) {
		if (snprintf(c->pid_file, sizeof(c->pid_file), "%s", v) >= (int)sizeof(c->pid_file))
			return gbca_fail(err, "path too long: %s", v);
		return true;
	}
	if (strcmp(key, "user") == 0) {
		snprintf(c->user, sizeof(c->user), "%s", v);
		return true;
	}
	if (strcmp(key, "google-passthrough") == 0) {
		c->google_passthrough = strcmp(v, "0") != 0 && strcmp(v, "no") != 0 && strcmp(v, "false") != 0;
		return true;
	}
	if (strcmp(key, "workers") == 0)
		num = &c->workers, hi = 64;
	else if (strcmp(key, "max-connections") == 0)
		num = &c->max_connections, hi = 1000000;
	else if (strcmp(key, "header-timeout") == 0)
		num = &c->header_timeout_s;
	else if (strcmp(key, "idle-timeout") == 0)
		num = &c->idle_timeout_s;
	else if (strcmp(key, "connect-timeout") == 0)
		num = &c->connect_timeout_s;
	else if (strcmp(key, "upstream-timeout") == 0)
		num = &c->upstream_timeout_s;
	else if (strcmp(key, "drain-timeout") == 0)
		num = &c->drain_timeout_s, lo = 0;
	else
		return gbca_fail(err, "unknown setting \"%s\"", key);
	if (!gbca_parse_uint(v, lo, hi, num))
		return gbca_fail(err, "%s must be a whole number from %u to %u, not \"%s\"", key, lo, hi, v);
	return true;
}

static bool
read_config(struct opts *o, const char *path, bool must_exist, struct gbca_err *err)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	unsigned lineno = 0;

	if (f == NULL) {
		if (!must_exist && errno == ENOENT)
			return true;
		return gbca_fail(err, "couldn't read the config file %s: %s", path, strerror(errno));
	}
	while (fgets(line, sizeof(line), f)) {
		char *k = line, *eq, *v, *e;
		lineno++;
		while (isspace((unsigned char)*k))
			k++;
		if (*k == '#' || *k == '\0')
			continue;
		eq = strchr(k, '=');
		if (eq == NULL) {
			fclose(f);
			return gbca_fail(err, "%s line %u: expected \"key = value\"", path, lineno);
		}
		for (e = eq; e > k && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		v = eq + 1;
		while (isspace((unsigned char)*v))
			v++;
		for (e = v + strlen(v); e > v && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		if (!apply(o, k, v, SRC_FILE, err)) {
			fclose(f);
			return gbca_fail_prefix(err, "%s line %u", path, lineno);
		}
	}
	fclose(f);
	return true;
}

static bool
read_env(struct opts *o, struct gbca_err *err)
{
	static const struct { const char *var, *key; bool list; } vars[] = {
		{ "GBCA_LISTEN", "listen", true }, { "GBCA_HTTP_LISTEN", "http-listen", true },
		{ "GBCA_UPSTREAM", "upstream", false }, { "GBCA_NAMES", "name", true },
		{ "GBCA_WORKERS", "workers", false }, { "GBCA_CORS", "cors", false },
		{ "GBCA_ACCESS_LOG", "access-log", false }, { "GBCA_USER", "user", false },
		{ "GBCA_UPSTREAM_CA", "upstream-ca", false }, { "GBCA_UPSTREAM_PROXY", "upstream-proxy", false },
		{ "GBCA_ALLOW", "allow", true },
	};
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i].var);
		char buf[1024], *save = NULL, *tok;
		if (v == NULL || v[0] == '\0')
			continue;
		if (!vars[i].list) {
			if (!apply(o, vars[i].key, v, SRC_ENV, err))
				return gbca_fail_prefix(err, "%s", vars[i].var);
			continue;
		}
		snprintf(buf, sizeof(buf), "%s", v);
		/* Lists: commas or white space between the items. */
		for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save))
			if (!apply(o, vars[i].key, tok, SRC_ENV, err))
				return gbca_fail_prefix(err, "%s", vars[i].var);
	}
	return true;
}

static const struct option longopts[] = {
	{ "listen", required_argument, NULL, 0 },
	{ "http-listen", required_argument, NULL, 0 },
	{ "upstream", required_argument, NULL, 0 },
	{ "upstream-ca", required_argument, NULL, 0 },
	{ "upstream-proxy", required_argument, NULL, 0 },
	{ "name", required_argument, NULL, 0 },
	{ "cert", required_argument, NULL, 0 },
	{ "key", required_argument, NULL, 0 },
	{ "workers", required_argument, NULL, 0 },
	{ "max-connections", required_argument, NULL, 0 },
	{ "cors", required_argument, NULL, 0 },
	{ "access-log", required_argument, NULL, 0 },
	{ "user", required_argument, NULL, 0 },
	{ "pid-file", required_argument, NULL, 0 },
	{ "header-timeout", required_argument, NULL, 0 },
	{ "idle-timeout", required_argument, NULL, 0 },
	{ "connect-timeout", required_argument, NULL, 0 },
	{ "upstream-timeout", required_argument, NULL, 0 },
	{ "drain-timeout", required_argument, NULL, 0 },
	{ "google-passthrough", no_argument, NULL, 0 },
	{ "allow", required_argument, NULL, 0 },
	{ "bridge", optional_argument, NULL, 0 },
	{ "config", required_argument, NULL, 'c' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* What getopt_long just refused, as a message. */
static enum gbca_serve_parse
bad_option(char **argv, int ch, struct gbca_err *err)
{
	/* The commands' one message: abbreviations refused, with "did you mean". */
	gbca_option_error(argv, ch, err);
	return GBCA_SERVE_USAGE;
}

enum gbca_serve_parse
gbca_serve_options(int argc, char **argv, struct gbca_proxy_config *c, struct gbca_err *err)
{
	struct opts o = { .c = c, .listen_src = -1, .http_listen_src = -1, .name_src = -1, .allow_src = -1 };
	const char *config = NULL;
	int ch, idx;

	gbca_proxy_config_defaults(c);
	/* First pass: --config and --help only; the file goes first. */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:qh", longopts, &idx)) != -1) {
		if (ch == 'c')
			config = optarg;
		else if (ch == 'h')
			return GBCA_SERVE_HELP;
		else if (ch == '?' || ch == ':')
			return bad_option(argv, ch, err);
	}
	if (optind < argc) {
		/* An optional value is only taken after '=' (getopt's rule). */
		if (optind > 1 && strcmp(argv[optind - 1], "--bridge") == 0)
			gbca_fail(err, "unexpected argument \"%s\" (write --bridge=%s)", argv[optind], argv[optind]);
		else
			gbca_fail(err, "unexpected argument \"%s\"", argv[optind]);
		return GBCA_SERVE_USAGE;
	}
	if (!read_config(&o, config ? config : GBCA_SERVE_CONFIG, config != NULL, err) || !read_env(&o, err))
		return GBCA_SERVE_FAILED;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":c:qh", longopts, &idx)) != -1) {
		if (ch == 'q') {
			c->quiet = true;
			continue;
		}
		if (ch != 0)
			continue;
		if (!apply(&o, longopts[idx].name, optarg ? optarg : longopts[idx].has_arg == optional_argument ? "" : "1",
		           SRC_FLAG, err))
			return GBCA_SERVE_USAGE;
	}
	if (!c->listen_set) {
		/* The default TLS listeners, beside any --http-listen. */
		if (c->n_listen + 2 > GBCA_PROXY_LISTEN_MAX) {
			gbca_fail(err, "too many listen addresses");
			return GBCA_SERVE_USAGE;
		}
		gbca_proxy_parse_listen("127.0.0.1:443", true, &c->listen[c->n_listen++], NULL);
		gbca_proxy_parse_listen("[::1]:443", true, &c->listen[c->n_listen++], NULL);
	}
	/* The proxy hands requests to a Gemini Balance that holds the tokens:
	 * on another address the network can use them. Said, not refused;
	 * with --allow the user has said who may. */
	for (size_t i = 0; i < c->n_listen && !c->allow_set; i++)
		if (!is_loopback(&c->listen[i]))
			gbca_print_warning("%s is not a loopback address: machines on its networks can reach the proxy, and Gemini Balance behind it (choose who with --allow)",
			                   c->listen[i].text);
	/* After the defaults: the bridge takes the main listener's port. */
	if (o.bridge && !gbca_bridge_listen(c, o.bridge_spec, err))
		return GBCA_SERVE_FAILED;
	if (c->upstream_url[0] == '\0' && !gbca_proxy_parse_upstream_url("http://127.0.0.1:8000", c, err))
		return GBCA_SERVE_FAILED;
	if (c->n_names == 0)
		snprintf(c->names[c->n_names++], sizeof(c->names[0]), "%s", GBCA_GOOGLE_HOST);
	if (!gbca_proxy_config_finish(c, err))
		return GBCA_SERVE_USAGE;
	if ((c->cert_file[0] != '\0') != (c->key_file[0] != '\0')) {
		gbca_fail(err, "--cert and --key go together");
		return GBCA_SERVE_USAGE;
	}
	if (!gbca_caroot(c->caroot, sizeof(c->caroot), err))
		return GBCA_SERVE_FAILED;
	return GBCA_SERVE_PARSED;
}
