/* gbca serve: options from the config file, GBCA_* variables and flags (in
 * that order, later wins), then the proxy. */
#include "config.h"
#include <gbca/cmd.h>
#include <gbca/names.h>
#include <gbca/path.h>
#include <gbca/proxy.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/gbca/serve.conf"

static const char usage[] =
	"usage: gbca serve [OPTIONS]\n"
	"\n"
	"Terminates TLS for generativelanguage.googleapis.com (and --name) with a\n"
	"leaf from the CA in CAROOT, and forwards HTTP/1.1 to the upstream (Gemini\n"
	"Balance). Streams bodies both ways, keeps connections alive, tunnels\n"
	"WebSockets, answers errors in Google's JSON envelope, and refuses (508) to\n"
	"hand a real Google API key (AIza...) to the upstream.\n"
	"\n"
	"options (config-file keys are the same names without --):\n"
	"  --listen ADDR:PORT        TLS listener (repeatable; default 127.0.0.1:443 and [::1]:443)\n"
	"  --http-listen ADDR:PORT   plain-HTTP listener (repeatable; default none)\n"
	"  --upstream URL            default http://127.0.0.1:8000\n"
	"  --name NAME               served name (repeatable; default generativelanguage.googleapis.com)\n"
	"  --cert FILE --key FILE    use this certificate and key instead of issuing one\n"
	"  --workers N               worker processes (default: one per core)\n"
	"  --max-connections N       client connections in all (default 10000, or what\n"
	"                            the descriptor limit fits)\n"
	"  --cors ORIGIN|*           answer CORS preflights and add the CORS headers\n"
	"  --google-passthrough      send requests with a real Google key (AIza...) to the\n"
	"                            real Google (found through DNS, verified with the\n"
	"                            system trust store) instead of answering 508\n"
	"  --access-log FILE|off     one line per request (default: stderr)\n"
	"  --user USER               run workers as USER when started as root (default nobody)\n"
	"  --pid-file FILE|off       the master's pid, for 'gbca down' (default CAROOT/serve.pid)\n"
	"  --header-timeout S        to receive a request head (default 30)\n"
	"  --idle-timeout S          keep-alive idle time (default 75)\n"
	"  --connect-timeout S       to connect to the upstream (default 10)\n"
	"  --upstream-timeout S      upstream silence allowed, not a total (default 960)\n"
	"  --drain-timeout S         SIGTERM waits this long for requests (default 30;\n"
	"                            after SIGHUP, old workers wait --upstream-timeout)\n"
	"  --config FILE             default " DEFAULT_CONFIG " when it exists\n"
	"  -q, --quiet               no start-up line\n"
	"  -h, --help                show this help\n"
	"\n"
	"Environment: GBCA_LISTEN, GBCA_HTTP_LISTEN (comma-separated), GBCA_UPSTREAM,\n"
	"GBCA_NAMES, GBCA_WORKERS, GBCA_CORS, GBCA_ACCESS_LOG, GBCA_USER. Flags win over\n"
	"the environment, which wins over the file. SIGHUP re-reads the certificates,\n"
	"SIGTERM stops after in-flight requests. systemd socket activation works\n"
	"(LISTEN_FDS; a socket named \"http\" is plain HTTP).\n";

enum { SRC_FILE, SRC_ENV, SRC_FLAG };

struct opts {
	struct gbca_proxy_config *c;
	int listen_src, http_listen_src, name_src;   /* the source that last set each list, -1 none */
	bool listen_defaulted;
};

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
		if (c->n_listen == GBCA_PROXY_LISTEN_MAX)
			return gbca_fail(err, "too many listen addresses (at most %d)", GBCA_PROXY_LISTEN_MAX);
		if (!gbca_proxy_parse_listen(v, tls, &c->listen[c->n_listen], err))
			return false;
		c->n_listen++;
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
	if (strcmp(key, "upstream") == 0)
		return gbca_proxy_parse_upstream(v, c, err);
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
		for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			if (!apply(o, vars[i].key, tok, SRC_ENV, err))
				return gbca_fail_prefix(err, "%s", vars[i].var);
	}
	return true;
}

int
gbca_cmd_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 0 },
		{ "http-listen", required_argument, NULL, 0 },
		{ "upstream", required_argument, NULL, 0 },
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
		{ "config", required_argument, NULL, 'c' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gbca_proxy_config *c = calloc(1, sizeof(*c));
	struct opts o = { c, -1, -1, -1, false };
	struct gbca_err err;
	const char *config = NULL;
	int ch, idx, rc;

	if (c == NULL) {
		gbca_print_error("out of memory");
		return GBCA_EXIT_FAIL;
	}
	gbca_proxy_config_defaults(c);
	/* First pass: --config and --help only; the file goes first. */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:qh", longopts, &idx)) != -1) {
		if (ch == 'c')
			config = optarg;
		else if (ch == 'h') {
			fputs(usage, stdout);
			free(c);
			return GBCA_EXIT_OK;
		} else if (ch == '?' || ch == ':') {
			rc = gbca_bad_option("serve", argv, ch);
			free(c);
			return rc;
		}
	}
	if (optind < argc) {
		rc = gbca_usage_error("serve", "unexpected argument \"%s\"", argv[optind]);
		free(c);
		return rc;
	}
	if (!read_config(&o, config ? config : DEFAULT_CONFIG, config != NULL, &err) || !read_env(&o, &err)) {
		gbca_print_error("%s", err.msg);
		free(c);
		return GBCA_EXIT_FAIL;
	}
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":c:qh", longopts, &idx)) != -1) {
		if (ch == 'q') {
			c->quiet = true;
			continue;
		}
		if (ch != 0)
			continue;
		if (!apply(&o, longopts[idx].name, optarg ? optarg : "1", SRC_FLAG, &err)) {
			rc = gbca_usage_error("serve", "%s", err.msg);
			free(c);
			return rc;
		}
	}
	if (!c->listen_set) {
		/* The default TLS listeners, beside any --http-listen. */
		if (c->n_listen + 2 > GBCA_PROXY_LISTEN_MAX) {
			rc = gbca_usage_error("serve", "too many listen addresses");
			free(c);
			return rc;
		}
		gbca_proxy_parse_listen("127.0.0.1:443", true, &c->listen[c->n_listen++], NULL);
		gbca_proxy_parse_listen("[::1]:443", true, &c->listen[c->n_listen++], NULL);
	}
	if (c->upstream_url[0] == '\0' && !gbca_proxy_parse_upstream("http://127.0.0.1:8000", c, &err)) {
		gbca_print_error("%s", err.msg);
		free(c);
		return GBCA_EXIT_FAIL;
	}
	if (c->n_names == 0)
		snprintf(c->names[c->n_names++], sizeof(c->names[0]), "generativelanguage.googleapis.com");
	if ((c->cert_file[0] != '\0') != (c->key_file[0] != '\0')) {
		rc = gbca_usage_error("serve", "--cert and --key go together");
		free(c);
		return rc;
	}
	if (!gbca_caroot(c->caroot, sizeof(c->caroot), &err)) {
		gbca_print_error("%s", err.msg);
		free(c);
		return GBCA_EXIT_FAIL;
	}
	rc = gbca_proxy_run(c) == 0 ? GBCA_EXIT_OK : GBCA_EXIT_FAIL;
	free(c);
	return rc;
}
