/* gbca doctor: the troubleshooting section as a program. One line per check
 * with pass/fail and the fix; --json for scripts; exit 0 only when all pass. */
#include "config.h"
#include <gbca/strbuf.h>
#include <gbca/ca.h>
#include <gbca/cmd.h>
#include <gbca/hosts.h>
#include <gbca/path.h>
#include <gbca/probe.h>
#include <gbca/proxy.h>
#include <gbca/run.h>
#include <gbca/store.h>

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
	"usage: gbca doctor [--upstream URL] [--upstream-ca FILE] [--upstream-proxy URL|env]\n"
	"                   [--name NAME] [--json]\n"
	"\n"
	"Checks, one line each with the fix when one fails: the CA; the proxy's\n"
	"certificate; the hosts entry; the proxy listening; a real TLS handshake from\n"
	"this machine verified by GnuTLS with the system store; every NSS database;\n"
	"node and python3 (requests, else ssl+urllib) as an interactive login shell\n"
	"of yours ($SHELL) finds them, each connecting to the proxy; the upstream,\n"
	"step by step as serve reaches it (its name, a TCP connection, the proxy's\n"
	"CONNECT, the TLS handshake verified for its name, GET PREFIX/v1beta/models:\n"
	"a 5xx or no HTTP answer fails); HTTPS_PROXY without NO_PROXY; a same-host\n"
	"upstream that loops back (a test request with a Google key answered 508);\n"
	"the upstream asking for a token.\n"
	"A failed check shows the client's own error. Exit 0 only when every check\n"
	"passes (warnings don't fail).\n"
	"\n"
	"options:\n"
	"  --upstream URL   Gemini Balance: http://HOST[:PORT] (default\n"
	"                   http://127.0.0.1:8000) or https://HOST[:PORT][/PREFIX]\n"
	"  --upstream-ca FILE\n"
	"                   CA certificates that verify an https upstream (default: the\n"
	"                   system store)\n"
	"  --upstream-proxy URL|env\n"
	"                   reach the upstream through this HTTP proxy (CONNECT); env:\n"
	"                   HTTPS_PROXY unless NO_PROXY covers the upstream\n"
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
	int ret;

	snprintf(file, sizeof(file), "serve/%s.pem", d->name);
	if (!gbca_path_join(path, sizeof(path), d->cfg.caroot, file, NULL) || gnutls_load_file(path, &data) < 0) {
		/* gnutls_load_file says only "Error while reading file." */
		report(d, "certificate", FAIL, "gbca up (or start gbca serve: it issues one)", "no certificate at %s: %s", path,
		       access(path, R_OK) < 0 ? strerror(errno) : "unreadable");
		return;
	}
	gnutls_x509_crt_init(&crt);
	if ((ret = gnutls_x509_crt_import(crt, &data, GNUTLS_X509_FMT_PEM)) < 0) {
		report(d, "certificate", FAIL, "delete it and restart gbca serve", "%s is not a certificate: %s", path, gnutls_strerror(ret));
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
		if ((ret = gnutls_x509_crt_verify(crt, &ca.crt, 1, 0, &status)) < 0 || status != 0) {
			gnutls_datum_t why = { NULL, 0 };
			if (ret == 0)
				gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why, 0);
			report(d, "certificate", FAIL, "restart gbca serve: it issues one from the current CA",
			       "%s was not issued by the current CA: %.200s", path, why.data ? (const char *)why.data : gnutls_strerror(ret));
			gnutls_free(why.data);
		} else
			report(d, "certificate", left < 7 ? WARN : PASS, "send gbca serve SIGHUP to renew it",
			       "%s covers %s, %ld days left", path, d->name, left);
		gbca_ca_free(&ca);
	}
out:
	gnutls_x509_crt_deinit(crt);
	gnutls_free(data.data);
}

/* The address the name resolves to through the system resolver (hosts file):
 * 0, or getaddrinfo's error. */
static int
resolve(const char *name, struct sockaddr_storage *ss, socklen_t *len, char *text, size_t text_len)
{
	struct addrinfo hints, *res = NULL;
	int ret;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((ret = getaddrinfo(name, "443", &hints, &res)) != 0)
		return ret;
	if (res == NULL)
		return EAI_NONAME;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	getnameinfo(res->ai_addr, res->ai_addrlen, text, (socklen_t)text_len, NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	return 0;
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
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* A TLS client session to the proxy over a new connection, verified against
 * the system trust store when verify is set. Returns the fd (-1 with errno
 * when it can't connect); *ret is the handshake's result. */
static int
tls_connect(struct doctor *d, const struct sockaddr_storage *ss, socklen_t len, bool verify,
            gnutls_certificate_credentials_t *creds, gnutls_session_t *s, int *ret)
{
	int fd = connect_timeout(ss, len);

	*creds = NULL;
	*s = NULL;
	if (fd < 0)
		return -1;
	gnutls_certificate_allocate_credentials(creds);
	if (verify)
		gnutls_certificate_set_x509_system_trust(*creds);
	gnutls_init(s, GNUTLS_CLIENT);
	gnutls_set_default_priority(*s);
	gnutls_credentials_set(*s, GNUTLS_CRD_CERTIFICATE, *creds);
	gnutls_server_name_set(*s, GNUTLS_NAME_DNS, d->name, strlen(d->name));
	if (verify)
		gnutls_session_set_verify_cert(*s, d->name, 0);
	gnutls_transport_set_int(*s, fd);
	do
		*ret = gnutls_handshake(*s);
	while (*ret < 0 && !gnutls_error_is_fatal(*ret));
	return fd;
}

static void
tls_close(int fd, gnutls_certificate_credentials_t creds, gnutls_session_t s)
{
	if (s)
		gnutls_deinit(s);
	if (creds)
		gnutls_certificate_free_credentials(creds);
	if (fd >= 0)
		close(fd);
}

/* A TLS handshake to the name, verified by GnuTLS with the system trust store.
 * It speaks for GnuTLS only: curl, node and python read other files or
 * variables, and are checked (or not) on lines of their own. */
static void
check_tls_system(struct doctor *d, const struct sockaddr_storage *ss, socklen_t len)
{
	gnutls_certificate_credentials_t creds;
	gnutls_session_t s;
	gnutls_datum_t why = { NULL, 0 };
	int fd, ret;

	fd = tls_connect(d, ss, len, true, &creds, &s, &ret);
	if (fd < 0) {
		report(d, "TLS: system store", FAIL, "start the proxy first", "can't connect: %s", strerror(errno));
		return;
	}
	if (ret == 0) {
		report(d, "TLS: system store", PASS, "", "handshake with %s verified by GnuTLS with the system store", d->name);
	} else if (ret == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		gnutls_certificate_verification_status_print(gnutls_session_get_verify_cert_status(s), GNUTLS_CRT_X509, &why, 0);
		while (why.data && why.size && why.data[why.size - 1] == ' ')
			why.data[--why.size] = '\0';
		report(d, "TLS: system store", FAIL, "sudo GBCA_CAROOT=\"$(gbca caroot)\" gbca trust --stores system",
		       "GnuTLS with the system store: %.300s", why.data ? (const char *)why.data : gnutls_strerror(ret));
		gnutls_free(why.data);
	} else {
		report(d, "TLS: system store", FAIL, "check the proxy's log", "handshake failed: %s", gnutls_strerror(ret));
	}
	tls_close(fd, creds, s);
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

/* The clients below run as a new terminal of the user's would run them: in a
 * login shell (PATH from the profile: pyenv, nvm), interactive for bash and
 * zsh because Debian's ~/.bashrc returns at once otherwise, before anything
 * gbca or the user put there. It runs detached from any terminal (an
 * interactive shell would take ours, or complain that it can't), with its own
 * stderr on /dev/null; the client's own output and errors come through 2>&1.
 * The name reaches the scripts through the environment, never quoted into them.
 * Each script writes "exe PATH", "lib WHAT" and then "ok DETAIL" or
 * "error MESSAGE"; anything else it prints (warnings, a shell's "command not
 * found") is kept as the error when those are missing. Exit 100: the program is
 * not on the login shell's PATH. */
#define NOT_ON_PATH 100
#define CLIENT_TIMEOUT 30

struct client_run {
	char shell[16];
	char exe[PATH_MAX], lib[128], ok[128], error[400];
	int status;
};

static const char *
user_shell(void)
{
	const char *shell = getenv("SHELL"), *base;

	base = shell ? strrchr(shell, '/') : NULL;
	base = base ? base + 1 : "bash";
	if (strcmp(base, "zsh") && strcmp(base, "fish"))
		base = "bash";
	return base;
}

/* The value after "KEY " on a line of out, bounded and without control bytes. */
static void
take_line(const char *out, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key), n = 0;

	buf[0] = '\0';
	for (const char *l = out; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, key, kl) != 0 || l[kl] != ' ')
			continue;
		for (l += kl + 1; *l && *l != '\n' && n + 1 < len; l++)
			buf[n++] = (unsigned char)*l < 0x20 ? ' ' : *l;
		buf[n] = '\0';
		return;
	}
}

/* out with newlines as "; " and the protocol lines left out: what the shell or
 * the client said besides them. */
static void
other_lines(const char *out, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const char *l = out; l && *l && n + 1 < len; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (!strncmp(l, "exe ", 4) || !strncmp(l, "lib ", 4) || !strncmp(l, "ok ", 3) || *l == '\n')
			continue;
		if (n && n + 3 < len) {
			memcpy(buf + n, "; ", 2);
			n += 2;
		}
		for (; *l && *l != '\n' && n + 1 < len; l++)
			buf[n++] = (unsigned char)*l < 0x20 ? ' ' : *l;
		buf[n] = '\0';
	}
}

static bool
run_client(struct doctor *d, const char *script, struct client_run *r, struct gbca_err *err)
{
	const char *shell = user_shell();
	const char *bash_argv[] = { shell, "-l", "-i", "-c", script, NULL };
	const char *fish_argv[] = { shell, "-l", "-c", script, NULL };
	char out[4096];

	memset(r, 0, sizeof(*r));
	snprintf(r->shell, sizeof(r->shell), "%s", shell);
	if (setenv("GBCA_DOCTOR_HOST", d->name, 1) < 0)
		return gbca_fail(err, "couldn't set GBCA_DOCTOR_HOST: %s", strerror(errno));
	if (!gbca_run_detached(strcmp(shell, "fish") ? bash_argv : fish_argv, CLIENT_TIMEOUT, out, sizeof(out),
	                       &r->status, err))
		return false;
	take_line(out, "exe", r->exe, sizeof(r->exe));
	take_line(out, "lib", r->lib, sizeof(r->lib));
	take_line(out, "ok", r->ok, sizeof(r->ok));
	take_line(out, "error", r->error, sizeof(r->error));
	if (!r->error[0])
		other_lines(out, r->error, sizeof(r->error));
	if (!r->error[0])
		snprintf(r->error, sizeof(r->error), "exit status %d and no message", r->status);
	return true;
}

/* Node: a TLS connection to the proxy, verified as Node does (its own CA list
 * plus NODE_EXTRA_CA_CERTS). Plain sh/fish syntax; no ' or \ inside the JS. */
static const char node_script[] =
	"command -v node >/dev/null 2>&1 || exit 100\n"
	"node -e '\n"
	"const h = process.env.GBCA_DOCTOR_HOST;\n"
	"console.log(\"exe \" + process.execPath);\n"
	"console.log(\"lib node \" + process.version);\n"
	"setTimeout(() => { console.log(\"error no TLS answer in 10 s\"); process.exit(1); }, 10000);\n"
	"require(\"tls\").connect({ host: h, port: 443, servername: h }, () => {\n"
	"  console.log(\"ok handshake verified\"); process.exit(0);\n"
	"}).on(\"error\", e => {\n"
	"  console.log(\"error \" + (e.code ? e.code + \": \" : \"\") + e.message); process.exit(1);\n"
	"});\n"
	"' 2>&1\n";

/* Python: requests if it imports (certifi's bundle, or REQUESTS_CA_BUNDLE),
 * else ssl+urllib (OpenSSL's default paths, or SSL_CERT_FILE). Any HTTP answer
 * means the TLS connection was verified. No ' or \ inside the Python. */
static const char python_script[] =
	"command -v python3 >/dev/null 2>&1 || exit 100\n"
	"python3 -c '\n"
	"import os, sys\n"
	"print(\"exe \" + sys.executable)\n"
	"url = \"https://\" + os.environ[\"GBCA_DOCTOR_HOST\"] + \"/v1beta/models\"\n"
	"try:\n"
	"    import requests\n"
	"    print(\"lib requests \" + requests.__version__)\n"
	"except Exception:\n"
	"    requests = None\n"
	"    print(\"lib ssl+urllib\")\n"
	"sys.stdout.flush()\n"
	"try:\n"
	"    if requests:\n"
	"        code = requests.get(url, timeout=10).status_code\n"
	"    else:\n"
	"        import ssl, urllib.request, urllib.error\n"
	"        try:\n"
	"            code = urllib.request.urlopen(url, timeout=10, context=ssl.create_default_context()).status\n"
	"        except urllib.error.HTTPError as e:\n"
	"            code = e.code\n"
	"except Exception as e:\n"
	"    m = str(e)\n"
	"    i = m.find(\"[SSL\")\n"
	"    if i >= 0:\n"
	"        m = m[i:].split(chr(39))[0].split(\">\")[0]\n"
	"    else:\n"
	"        m = type(e).__name__ + \": \" + m\n"
	"    print(\"error \" + m[:300])\n"
	"    sys.exit(1)\n"
	"print(\"ok HTTP %d\" % code)\n"
	"' 2>&1\n";

static void
check_client(struct doctor *d, const char *label, const char *prog, const char *script, const char *fix)
{
	struct client_run r;
	struct gbca_err err;
	char trust_fix[300];

	if (!run_client(d, script, &r, &err)) {
		report(d, label, FAIL, "check your shell's startup files", "%s from a login %s: %s", prog, user_shell(), err.msg);
		return;
	}
	if (r.status == NOT_ON_PATH)
		report(d, label, PASS, "", "no %s on a login %s's PATH", prog, r.shell);
	else if (r.status == 0 && r.ok[0])
		report(d, label, PASS, "", "%s (%s, from a login %s) trusts the proxy: %s", r.exe, r.lib, r.shell, r.ok);
	else {
		/* gbca writes ~/.bashrc, which a login bash reads only through its profile */
		snprintf(trust_fix, sizeof(trust_fix), "%s%s", fix,
		         strcmp(r.shell, "bash") ? "" : "; if it is done, make ~/.profile (or ~/.bash_profile) read ~/.bashrc");
		report(d, label, FAIL, strstr(r.error, "CERT") || strstr(r.error, "cert") ? trust_fix : "check the proxy's log, HTTPS_PROXY and NO_PROXY",
		       "%s (%s, from a login %s): %.300s", r.exe[0] ? r.exe : prog, r.lib[0] ? r.lib : "?", r.shell, r.error);
	}
}

/* The fix for a probe that stopped at a step. */
static const char *
upstream_fix(const struct gbca_probe *p)
{
	switch (p->failed) {
	case GBCA_PROBE_DNS:
		return p->at_proxy ? "check the proxy's name in --upstream-proxy (or HTTPS_PROXY), and this machine's DNS"
		                   : "check the host in --upstream, and this machine's DNS (or /etc/hosts)";
	case GBCA_PROBE_CONNECT:
		return p->at_proxy ? "start the proxy, or check --upstream-proxy (or HTTPS_PROXY)"
		                   : "start Gemini Balance, or point gbca at it: gbca up --upstream URL";
	case GBCA_PROBE_PROXY:
		return "the proxy must allow CONNECT to the upstream's host and port; or leave it out (--upstream-proxy, NO_PROXY)";
	case GBCA_PROBE_TLS:
		return strstr(p->why, "verification")
		       ? "if a private CA signed it, give that CA with --upstream-ca FILE (to doctor, and to serve or "
		         "after gbca up --); else fix the certificate (its names, its dates, its chain)"
		       : "check that the upstream speaks TLS on that port (a plain one is http://), and --upstream-ca";
	default:
		return "check that the upstream speaks HTTP";
	}
}

/* The upstream, step by step as serve reaches it (probe.c): one line, the
 * first step that failed or the status of GET PREFIX/v1beta/models. That
 * path rather than "/": Gemini Balance serves it (401 without a token), so
 * its answer also says that PREFIX is right; "/" is a login page or a
 * platform's landing page that proves nothing about the API. */
static void
check_upstream(struct doctor *d, bool *local)
{
	const char *key = getenv("GEMINI_API_KEY");
	char target[512];
	struct gbca_probe p;
	int status;

	struct gbca_err err;
	char how[320] = "", via[300] = "";

	*local = false;
	/* the loop refusal, and the proxy settled (HTTPS_PROXY/NO_PROXY for env) */
	if (!gbca_proxy_config_finish(&d->cfg, &err)) {
		report(d, "upstream", FAIL, "check --upstream and --upstream-proxy (or HTTPS_PROXY)", "%s", err.msg);
		return;
	}
	memset(&p, 0, sizeof(p));
	snprintf(target, sizeof(target), "%s/v1beta/models", d->cfg.upstream_prefix);
	p.host = d->cfg.upstream_host;
	p.port = d->cfg.upstream_port;
	p.tls = d->cfg.upstream_tls;
	p.ca_file = d->cfg.upstream_ca;
	if (d->cfg.upstream_via_proxy) {
		p.proxy_host = d->cfg.upstream_proxy_host;
		p.proxy_port = d->cfg.upstream_proxy_port;
		snprintf(via, sizeof(via), ", through the proxy %s:%s", p.proxy_host, p.proxy_port);
	}
	p.target = target;
	/* as serve sends it: the upstream's own name to an https upstream (a
	 * remote vhost), the client's Host to a local Gemini Balance */
	p.host_header = d->cfg.upstream_tls ? d->cfg.upstream_authority : d->name;
	p.api_key = key;
	p.connect_timeout_ms = 5000;
	p.io_timeout_ms = 10000;
	gbca_probe_run(&p);
	*local = p.failed != GBCA_PROBE_DNS && is_loopback(&p.upstream_ss);
	if (p.failed == GBCA_PROBE_HTTP) {
		report(d, "upstream", FAIL, upstream_fix(&p), "%s accepted a connection but gave %s", d->cfg.upstream_url, p.why);
		return;
	}
	if (p.failed != GBCA_PROBE_OK) {
		report(d, "upstream", FAIL, upstream_fix(&p), "%s: %s", d->cfg.upstream_url, p.why);
		return;
	}
	status = p.status;
	if (status >= 500) {
		report(d, "upstream", FAIL, "look at the upstream's own log (Gemini Balance's, or its platform's)",
		       "%s answered \"%s\" to GET %s: the upstream itself fails", d->cfg.upstream_url, p.status_line, target);
		return;
	}
	if (status == 404) {
		report(d, "upstream", WARN, "check the upstream URL and its path (https://HOST/PREFIX)",
		       "%s answered \"%s\" to GET %s: not Gemini Balance, or a wrong path", d->cfg.upstream_url, p.status_line, target);
		return;
	}
	if (p.tls_desc[0])
		snprintf(how, sizeof(how), " over %s", p.tls_desc);
	report(d, "upstream", PASS, "", "%s answers (HTTP %d)%s%s", d->cfg.upstream_url, status, how, via);
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
		size_t tl, nl = strlen(d->name);
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

/* Same-host loop: Gemini Balance on this host calls the name with a Google key
 * and reaches the proxy through the hosts entry. A request with such a key
 * (made up: "AIza" and 35 more) shows what the proxy does with it: 508 unless
 * it runs with --google-passthrough, which sends it on to Google. */
static void
check_loop(struct doctor *d, const struct sockaddr_storage *ss, socklen_t len)
{
	static const char key[] = "AIza" "gbca-doctor-same-host-loop-probe-00";
	gnutls_certificate_credentials_t creds;
	gnutls_session_t s;
	char req[512], resp[256] = "";
	size_t got = 0;
	int fd, ret, n, status = 0;

	fd = tls_connect(d, ss, len, false, &creds, &s, &ret);
	if (fd < 0 || ret < 0) {
		report(d, "same-host loop", WARN, "check the proxy's log", "couldn't send the test request: %s",
		       fd < 0 ? strerror(errno) : gnutls_strerror(ret));
		tls_close(fd, creds, s);
		return;
	}
	n = snprintf(req, sizeof(req), "GET /v1beta/models HTTP/1.1\r\nHost: %s\r\nx-goog-api-key: %s\r\nConnection: close\r\n\r\n",
	             d->name, key);
	ret = (int)gnutls_record_send(s, req, (size_t)n);
	/* bounded: a TLS 1.3 ticket or a receive timeout (5 s) comes back as AGAIN */
	for (int tries = 0; ret >= 0 && tries < 4 && got + 1 < sizeof(resp) && !memchr(resp, '\n', got);) {
		ret = (int)gnutls_record_recv(s, resp + got, sizeof(resp) - 1 - got);
		if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
			tries++;
			ret = 0;
		} else if (ret > 0) {
			got += (size_t)ret;
		} else if (ret == 0) {
			break;
		}
	}
	resp[got] = '\0';
	tls_close(fd, creds, s);
	if (got > 12 && strncmp(resp, "HTTP/1.", 7) == 0)
		status = atoi(resp + 9);
	if (status == 508)
		report(d, "same-host loop", WARN,
		       "if Gemini Balance runs on this host: gbca up -- --google-passthrough",
		       "the upstream is on this host: its own calls to %s reach the proxy, which answered 508 "
		       "to a test request with a Google key", d->name);
	else if (status)
		report(d, "same-host loop", PASS, "", "a test request with a Google key was not looped back (HTTP %d)", status);
	else
		report(d, "same-host loop", WARN, "check the proxy's log", "the test request got no HTTP answer: %s",
		       ret < 0 ? gnutls_strerror(ret) : "connection closed");
}

int
gbca_cmd_doctor(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "upstream", required_argument, NULL, 'u' },
		{ "upstream-ca", required_argument, NULL, 'c' },
		{ "upstream-proxy", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct doctor *d = calloc(1, sizeof(*d));
	const char *upstream = "http://127.0.0.1:8000", *upstream_ca = "", *upstream_proxy = "";
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char addr[INET6_ADDRSTRLEN + 8] = "";
	struct gbca_err err;
	bool listening = false, local = false;
	int c, fd, rc, gai;

	if (d == NULL)
		return GBCA_EXIT_FAIL;
	d->name = GBCA_GOOGLE_HOST;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'u': upstream = optarg; break;
		case 'c': upstream_ca = optarg; break;
		case 'p': upstream_proxy = optarg; break;
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
	/* the upstream's name is resolved by its check, not here */
	snprintf(d->cfg.upstream_ca, sizeof(d->cfg.upstream_ca), "%s", upstream_ca);
	snprintf(d->cfg.names[d->cfg.n_names++], sizeof(d->cfg.names[0]), "%s", d->name);
	if (!gbca_proxy_parse_upstream_url(upstream, &d->cfg, &err) ||
	    !gbca_proxy_parse_upstream_proxy(upstream_proxy, &d->cfg, &err) ||
	    !gbca_caroot(d->cfg.caroot, sizeof(d->cfg.caroot), &err)) {
		rc = gbca_usage_error("doctor", "%s", err.msg);
		free(d);
		return rc;
	}
	if (d->json)
		printf("{\"checks\":[");
	check_ca(d);
	check_leaf(d);
	gai = resolve(d->name, &ss, &len, addr, sizeof(addr));
	if (gai != 0)
		report(d, "hosts entry", FAIL, "sudo gbca hosts on", "%s does not resolve: %s", d->name,
		       gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
	else if (!is_loopback(&ss))
		report(d, "hosts entry", FAIL, "sudo gbca hosts on", "%s resolves to %s, not to this machine", d->name, addr);
	else
		report(d, "hosts entry", PASS, "", "%s -> %s", d->name, addr);
	if (gai == 0 && is_loopback(&ss) && (fd = connect_timeout(&ss, len)) >= 0) {
		close(fd);
		listening = true;
		report(d, "proxy", PASS, "", "listening on %s port 443", addr);
		check_tls_system(d, &ss, len);
		check_store(d, &gbca_store_nss, "TLS: NSS (browsers)", "gbca trust --stores nss (close the browsers first)");
		check_client(d, "TLS: Node", "node", node_script,
		             "gbca trust --shells, then open a new shell (or eval \"$(gbca env)\")");
		check_client(d, "TLS: Python", "python3", python_script,
		             "gbca trust --shells --stores python, then open a new shell");
	} else if (gai == 0 && is_loopback(&ss)) {
		report(d, "proxy", FAIL, "gbca up (or sudo gbca serve)", "nothing listens on %s port 443: %s", addr, strerror(errno));
	}
	check_upstream(d, &local);
	check_https_proxy(d);
	if (local && listening)
		check_loop(d, &ss, len);
	if (d->json)
		printf("],\"passed\":%s}\n", d->failed ? "false" : "true");
	else
		printf("\n%s\n", d->failed ? "Some checks failed; each shows its fix." : "All checks passed.");
	rc = d->failed ? GBCA_EXIT_FAIL : GBCA_EXIT_OK;
	free(d);
	return rc;
}
