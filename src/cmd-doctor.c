/* gbca doctor: the troubleshooting section as a program. One line per check
 * with pass/fail and the fix; --json for scripts; exit 0 only when all pass. */
#include "config.h"
#include <gbca/strbuf.h>
#include <gbca/ca.h>
#include <gbca/cmd.h>
#include <gbca/hosts.h>
#include <gbca/path.h>
#include <gbca/proxy.h>
#include <gbca/run.h>
#include <gbca/store.h>
#include <gbca/up.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
	"usage: gbca doctor [--upstream URL] [--name NAME] [--json]\n"
	"\n"
	"Checks, one line each with the fix when one fails: the CA; the proxy's\n"
	"certificate; the hosts entry; the proxy listening; a real TLS handshake from\n"
	"this machine verified by the system store, every NSS database and a Node\n"
	"started like your shell; the upstream answering; HTTPS_PROXY without NO_PROXY;\n"
	"a same-host upstream that would loop back; the upstream asking for a token.\n"
	"Exit 0 only when every check passes (warnings don't fail).\n"
	"\n"
	"options:\n"
	"  --upstream URL   Gemini Balance (default http://127.0.0.1:8000)\n"
	"  --name NAME      served name (default generativelanguage.googleapis.com)\n"
	"  --json           one JSON object for scripts\n"
	"Set GEMINI_API_KEY (your Gemini Balance token) to check that it is accepted.\n";

enum verdict { PASS, WARN, FAIL };

struct doctor {
	bool json;
	unsigned n, failed;
	const char *name;
	struct gbca_proxy_config cfg;
};

static void
report(struct doctor *d, const char *check, enum verdict v, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void
report(struct doctor *d, const char *check, enum verdict v, const char *fix, const char *fmt, ...)
{
	static const char *const names[] = { "pass", "warn", "fail" };
	char detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (v == FAIL)
		d->failed++;
	if (d->json) {
		printf("%s{\"check\":", d->n ? "," : "");
		gbca_json_string(stdout, check);
		printf(",\"result\":\"%s\",\"detail\":", names[v]);
		gbca_json_string(stdout, detail);
		printf(",\"fix\":");
		gbca_json_string(stdout, v == PASS ? "" : fix);
		printf("}");
	} else {
		printf("%-5s %-22s %s\n", v == PASS ? "PASS" : v == WARN ? "WARN" : "FAIL", check, detail);
		if (v != PASS && fix[0])
			printf("      %-22s fix: %s\n", "", fix);
	}
	d->n++;
	fflush(stdout);
}

static void
check_ca(struct doctor *d)
{
	struct gbca_ca ca;
	struct gbca_err err;
	time_t left;

	if (!gbca_ca_load(d->cfg.caroot, false, &ca, &err)) {
		report(d, "CA", FAIL, "gbca init (or gbca up)", "%s", err.msg);
		return;
	}
	left = (gnutls_x509_crt_get_expiration_time(ca.crt) - time(NULL)) / 86400;
	if (left < 30)
		report(d, "CA", FAIL, "gbca init --force, then gbca trust and restart the proxy",
		       "%s expires in %ld days", d->cfg.caroot, (long)left);
	else
		report(d, "CA", PASS, "", "%s, %ld days left%s", d->cfg.caroot, (long)left,
		       ca.constrained ? ", name-constrained" : ", NOT name-constrained");
	gbca_ca_free(&ca);
}

static void
check_leaf(struct doctor *d)
{
	char path[PATH_MAX], file[300];
	gnutls_datum_t data = { NULL, 0 };
	gnutls_x509_crt_t crt = NULL;
	struct gbca_ca ca;
	unsigned status = 1;
	long left;

	snprintf(file, sizeof(file), "serve/%s.pem", d->name);
	if (!gbca_path_join(path, sizeof(path), d->cfg.caroot, file, NULL) || gnutls_load_file(path, &data) < 0) {
		report(d, "certificate", FAIL, "gbca up (or start gbca serve: it issues one)", "no certificate at %s", path);
		return;
	}
	gnutls_x509_crt_init(&crt);
	if (gnutls_x509_crt_import(crt, &data, GNUTLS_X509_FMT_PEM) < 0) {
		report(d, "certificate", FAIL, "delete it and restart gbca serve", "%s is not a certificate", path);
		goto out;
	}
	left = (long)((gnutls_x509_crt_get_expiration_time(crt) - time(NULL)) / 86400);
	if (!gnutls_x509_crt_check_hostname(crt, d->name)) {
		report(d, "certificate", FAIL, "delete it and restart gbca serve", "%s does not cover %s", path, d->name);
	} else if (gnutls_x509_crt_get_expiration_time(crt) <= time(NULL)) {
		report(d, "certificate", FAIL, "restart gbca serve (or send it SIGHUP): it issues a new one",
		       "%s expired %ld days ago", path, -left);
	} else if (!gbca_ca_load(d->cfg.caroot, false, &ca, NULL)) {
		report(d, "certificate", FAIL, "gbca up", "no CA to check %s against", path);
	} else {
		if (gnutls_x509_crt_verify(crt, &ca.crt, 1, 0, &status) < 0 || status != 0)
			report(d, "certificate", FAIL, "restart gbca serve: it issues one from the current CA",
			       "%s was not issued by the current CA", path);
		else
			report(d, "certificate", left < 7 ? WARN : PASS, "send gbca serve SIGHUP to renew it",
			       "%s covers %s, %ld days left", path, d->name, left);
		gbca_ca_free(&ca);
	}
out:
	gnutls_x509_crt_deinit(crt);
	gnutls_free(data.data);
}

/* The address the name resolves to through the system resolver (hosts file). */
static bool
resolve(const char *name, struct sockaddr_storage *ss, socklen_t *len, char *text, size_t text_len)
{
	struct addrinfo hints, *res = NULL;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(name, "443", &hints, &res) != 0 || res == NULL)
		return false;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	getnameinfo(res->ai_addr, res->ai_addrlen, text, (socklen_t)text_len, NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	return true;
}

static bool
is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return false;
}

static int
connect_timeout(const struct sockaddr_storage *ss, socklen_t len)
{
	struct timeval tv = { 5, 0 };
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)ss, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A TLS handshake to the name, verified with the system trust store. */
static void
check_tls_system(struct doctor *d, const struct sockaddr_storage *ss, socklen_t len)
{
	gnutls_certificate_credentials_t creds = NULL;
	gnutls_session_t s = NULL;
	int fd, ret;

	fd = connect_timeout(ss, len);
	if (fd < 0) {
		report(d, "TLS: system store", FAIL, "start the proxy first", "can't connect");
		return;
	}
	gnutls_certificate_allocate_credentials(&creds);
	gnutls_certificate_set_x509_system_trust(creds);
	gnutls_init(&s, GNUTLS_CLIENT);
	gnutls_set_default_priority(s);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, creds);
	gnutls_server_name_set(s, GNUTLS_NAME_DNS, d->name, strlen(d->name));
	gnutls_session_set_verify_cert(s, d->name, 0);
	gnutls_transport_set_int(s, fd);
	do
		ret = gnutls_handshake(s);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret == 0)
		report(d, "TLS: system store", PASS, "", "handshake with %s verified (curl, python, GnuTLS and OpenSSL programs)", d->name);
	else if (ret == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR)
		report(d, "TLS: system store", FAIL, "sudo GBCA_CAROOT=\"$(gbca caroot)\" gbca trust --stores system",
		       "the system store does not trust the proxy's certificate");
	else
		report(d, "TLS: system store", FAIL, "check the proxy's log", "handshake failed: %s", gnutls_strerror(ret));
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(creds);
	close(fd);
}

static void
check_store(struct doctor *d, const struct gbca_store *store, const char *label, const char *fix)
{
	struct gbca_trust_ctx ctx;
	struct gbca_err err;
	char where[GBCA_REPORT_MAX];
	enum gbca_trust_state st;

	if (!gbca_trust_ctx_init(&ctx, d->cfg.caroot, &err)) {
		report(d, label, FAIL, "gbca init", "%s", err.msg);
		return;
	}
	st = store->check(&ctx, where, sizeof(where));
	if (st == GBCA_TRUST_INSTALLED)
		report(d, label, PASS, "", "trusts the CA (%s)", where);
	else if (st == GBCA_TRUST_ABSENT)
		report(d, label, PASS, "", "none here (%s)", where);
	else
		report(d, label, FAIL, fix, "%s: %s", gbca_trust_state_name(st), where);
	gbca_trust_ctx_free(&ctx);
}

/* Node, started the way the user's shell starts it (rc files read). */
static void
check_node(struct doctor *d)
{
	char node[PATH_MAX], script[1024], out[2048];
	const char *shell = getenv("SHELL"), *base;
	int status;

	if (!gbca_find_program("node", node, sizeof(node))) {
		report(d, "TLS: Node", PASS, "", "node is not installed");
		return;
	}
	base = shell ? strrchr(shell, '/') : NULL;
	base = base ? base + 1 : "bash";
	if (strcmp(base, "bash") && strcmp(base, "zsh") && strcmp(base, "fish"))
		base = "bash";
	snprintf(script, sizeof(script),
	         "node -e \"setTimeout(()=>process.exit(3),5000);"
	         "require('tls').connect({host:'%s',port:443,servername:'%s'},function(){"
	         "process.exit(this.authorized?0:1)}).on('error',e=>{console.log(e.code);process.exit(1)})\"",
	         d->name, d->name);
	{
		const char *argv[] = { base, strcmp(base, "fish") ? "-ic" : "-c", script, NULL };
		if (!gbca_run(argv, out, sizeof(out), &status, NULL)) {
			report(d, "TLS: Node", FAIL, "install the shell named in $SHELL", "can't start %s", base);
			return;
		}
	}
	if (status == 0)
		report(d, "TLS: Node", PASS, "", "node started from %s trusts the proxy", base);
	else
		report(d, "TLS: Node", FAIL, "gbca trust --shells, then open a new shell (or eval \"$(gbca env)\")",
		       "node started from %s does not trust the proxy%s%.80s", base, out[0] ? ": " : "", out);
}

static void
check_upstream(struct doctor *d, bool *local)
{
	const struct sockaddr_storage *ss = &d->cfg.upstream_ss;
	char req[512], resp[512];
	const char *key = getenv("GEMINI_API_KEY");
	int fd, status = 0;
	ssize_t n;

	*local = is_loopback(ss);
	fd = connect_timeout(ss, d->cfg.upstream_len);
	if (fd < 0) {
		report(d, "upstream", FAIL, "start Gemini Balance, or point gbca at it: gbca up --upstream URL",
		       "nothing answers at %s (%s)", d->cfg.upstream_url, strerror(errno));
		return;
	}
	n = snprintf(req, sizeof(req), "GET /v1beta/models HTTP/1.1\r\nHost: %s\r\n%s%s%sConnection: close\r\n\r\n",
	             d->name, key ? "x-goog-api-key: " : "", key ? key : "", key ? "\r\n" : "");
	if (write(fd, req, (size_t)n) == n && (n = read(fd, resp, sizeof(resp) - 1)) > 12) {
		resp[n] = '\0';
		status = atoi(resp + 9);
	}
	close(fd);
	if (status == 0) {
		report(d, "upstream", FAIL, "check that the upstream speaks HTTP", "%s accepted a connection but sent no HTTP answer", d->cfg.upstream_url);
		return;
	}
	report(d, "upstream", PASS, "", "%s answers (HTTP %d)", d->cfg.upstream_url, status);
	if (status == 401 || status == 403) {
		if (key)
			report(d, "upstream token", FAIL,
			       "use one of ALLOWED_TOKENS from Gemini Balance's .env as x-goog-api-key (or ?key=)",
			       "the upstream refused GEMINI_API_KEY (HTTP %d)", status);
		else
			report(d, "upstream token", WARN,
			       "clients must send one of Gemini Balance's ALLOWED_TOKENS as x-goog-api-key (or ?key=); set GEMINI_API_KEY to check yours",
			       "the upstream wants a token (HTTP %d without one)", status);
	} else if (key) {
		report(d, "upstream token", PASS, "", "GEMINI_API_KEY accepted (HTTP %d)", status);
	}
}

/* HTTPS_PROXY sends clients to the proxy server, past the hosts file. */
static void
check_https_proxy(struct doctor *d)
{
	const char *p = getenv("HTTPS_PROXY"), *np = getenv("NO_PROXY");
	char list[2048], *save = NULL, *tok;
	bool covered = false;

	if (p == NULL || !p[0])
		p = getenv("https_proxy");
	if (np == NULL || !np[0])
		np = getenv("no_proxy");
	if (p == NULL || !p[0]) {
		report(d, "HTTPS_PROXY", PASS, "", "not set");
		return;
	}
	snprintf(list, sizeof(list), "%s", np ? np : "");
	for (tok = strtok_r(list, ", ", &save); tok && !covered; tok = strtok_r(NULL, ", ", &save)) {
		size_t tl = strlen(tok), nl = strlen(d->name);
		const char *t = tok[0] == '*' && tok[1] == '.' ? tok + 1 : tok;
		tl = strlen(t);
		covered = strcmp(tok, "*") == 0 || strcasecmp(t, d->name) == 0 ||
		          (tl < nl && (t[0] == '.' ? strcasecmp(d->name + nl - tl, t) == 0
		                                  : (d->name[nl - tl - 1] == '.' && strcasecmp(d->name + nl - tl, t) == 0)));
	}
	if (covered)
		report(d, "HTTPS_PROXY", PASS, "", "set, but NO_PROXY covers %s", d->name);
	else
		report(d, "HTTPS_PROXY", FAIL, "export NO_PROXY=\"$NO_PROXY,generativelanguage.googleapis.com\" (and in the shell rc)",
		       "HTTPS_PROXY=%s sends clients past the hosts file to the proxy server", p);
}

/* Whether the running 'gbca serve' (pid file) was started with --google-passthrough. */
static bool
serve_passes_through(const char *caroot)
{
	char cmd[4096];
	long pid;

	return gbca_up_serve_pid(caroot, &pid, cmd, sizeof(cmd)) && strstr(cmd, "--google-passthrough") != NULL;
}

int
gbca_cmd_doctor(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "upstream", required_argument, NULL, 'u' },
		{ "name", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct doctor *d = calloc(1, sizeof(*d));
	const char *upstream = "http://127.0.0.1:8000";
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char addr[INET6_ADDRSTRLEN + 8] = "";
	struct gbca_err err;
	bool resolved, local = false;
	int c, fd, rc;

	if (d == NULL)
		return GBCA_EXIT_FAIL;
	d->name = GBCA_GOOGLE_HOST;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'u': upstream = optarg; break;
		case 'n': d->name = optarg; break;
		case 'j': d->json = true; break;
		case 'h':
			fputs(usage, stdout);
			free(d);
			return GBCA_EXIT_OK;
		default:
			free(d);
			return gbca_bad_option("doctor", argv, c);
		}
	}
	if (optind < argc) {
		free(d);
		return gbca_usage_error("doctor", "unexpected argument \"%s\"", argv[optind]);
	}
	gbca_proxy_config_defaults(&d->cfg);
	if (!gbca_proxy_parse_upstream(upstream, &d->cfg, &err) || !gbca_caroot(d->cfg.caroot, sizeof(d->cfg.caroot), &err)) {
		rc = gbca_usage_error("doctor", "%s", err.msg);
		free(d);
		return rc;
	}
	if (d->json)
		printf("{\"checks\":[");
	check_ca(d);
	check_leaf(d);
	resolved = resolve(d->name, &ss, &len, addr, sizeof(addr));
	if (!resolved)
		report(d, "hosts entry", FAIL, "sudo gbca hosts on", "%s does not resolve", d->name);
	else if (!is_loopback(&ss))
		report(d, "hosts entry", FAIL, "sudo gbca hosts on", "%s resolves to %s, not to this machine", d->name, addr);
	else
		report(d, "hosts entry", PASS, "", "%s -> %s", d->name, addr);
	if (resolved && is_loopback(&ss) && (fd = connect_timeout(&ss, len)) >= 0) {
		close(fd);
		report(d, "proxy", PASS, "", "listening on %s port 443", addr);
		check_tls_system(d, &ss, len);
		check_store(d, &gbca_store_nss, "TLS: NSS (browsers)", "gbca trust --stores nss (close the browsers first)");
		check_node(d);
	} else if (resolved && is_loopback(&ss)) {
		report(d, "proxy", FAIL, "gbca up (or sudo gbca serve)", "nothing listens on %s port 443", addr);
	}
	check_upstream(d, &local);
	check_https_proxy(d);
	if (local && !serve_passes_through(d->cfg.caroot))
		report(d, "same-host loop", WARN,
		       "if Gemini Balance runs on this host, start the proxy with --google-passthrough (gbca up -- --google-passthrough)",
		       "the upstream is on this host: its own calls to %s reach the proxy (answered 508)", d->name);
	if (d->json)
		printf("],\"passed\":%s}\n", d->failed ? "false" : "true");
	else
		printf("\n%s\n", d->failed ? "Some checks failed; each shows its fix." : "All checks passed.");
	rc = d->failed ? GBCA_EXIT_FAIL : GBCA_EXIT_OK;
	free(d);
	return rc;
}
