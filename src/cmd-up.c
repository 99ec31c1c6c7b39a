/* gbca up / gbca down: the whole job in one command, and its toggle.
 * up: CA (once), leaf, trust (system, NSS, shells), hosts entries, serve
 * (foreground, or --service for a systemd unit). down: hosts entries off and
 * the proxy stopped; the CA and trust stay, so the next up is instant. */
#include "config.h"
#include <gbca/ca.h>
#include <gbca/drop.h>
#include <gbca/cmd.h>
#include <gbca/hosts.h>
#include <gbca/path.h>
#include <gbca/proxy.h>
#include <gbca/run.h>
#include <gbca/save.h>
#include <gbca/store.h>
#include <gbca/up.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char up_usage[] =
	"usage: gbca up [--upstream URL] [--service] [--no-trust] [--no-hosts] [-- SERVE-OPTIONS]\n"
	"\n"
	"Does the whole job, each step only if it is not done already:\n"
	"  1. makes the CA (gbca init) if there is none;\n"
	"  2. issues the leaf for generativelanguage.googleapis.com;\n"
	"  3. trusts the CA: system store (as root), NSS, Node and Python in bash/zsh/fish;\n"
	"  4. points generativelanguage.googleapis.com at 127.0.0.1 (and ::1) in /etc/hosts;\n"
	"  5. serves: in the foreground, or with --service as the systemd unit gbca-serve.\n"
	"Then prints the curl command to try. Needs root for steps 3 (system), 4 and 5\n"
	"(port 443): run 'sudo gbca up'. Under sudo gbca uses your CAROOT and HOME, not\n"
	"root's (unless GBCA_CAROOT is set, e.g. sudo env GBCA_CAROOT=DIR gbca up).\n"
	"\n"
	"options:\n"
	"  --upstream URL   Gemini Balance (default http://127.0.0.1:8000)\n"
	"  --service        install and start the systemd unit instead of serving here\n"
	"  --no-trust       skip step 3\n"
	"  --no-hosts       skip step 4\n"
	"  -h, --help       show this help\n"
	"Options after -- go to 'gbca serve' (e.g. -- --cors '*' --workers 2).\n";

static const char down_usage[] =
	"usage: gbca down\n"
	"\n"
	"Turns the hosts entries off and stops the proxy (the gbca-serve service, or\n"
	"a 'gbca serve' found through CAROOT/serve.pid). The CA and trust stay, so\n"
	"'gbca up' is instant next time; 'gbca uninstall' removes everything.\n";

#define UNIT_PATH "/etc/systemd/system/gbca-serve.service"

bool
gbca_up_unit_path(char *buf, size_t len)
{
	return gbca_sys_path(buf, len, UNIT_PATH, NULL);
}

static void
step(int n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
step(int n, const char *fmt, ...)
{
	va_list ap;

	printf("[%d/5] ", n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Run as the CAROOT's owner (gbca_as_owner_of): the CA is theirs. */
static bool
ensure_ca(void *arg, struct gbca_err *err)
{
	const char *caroot = arg;
	char cert[PATH_MAX];
	struct gbca_ca_options o = { .key_type = GBCA_KEY_P256, .constrained = true };
	struct gbca_ca ca;
	char backup[PATH_MAX];
	int lock_fd = -1;
	bool ok;

	if (!gbca_path_join(cert, sizeof(cert), caroot, GBCA_CA_CERT_FILE, err))
		return false;
	if (access(cert, F_OK) == 0) {
		step(1, "CA: present in %s", caroot);
		return true;
	}
	if (!gbca_mkdir_p(caroot, 0700, err) || !gbca_ca_lock(caroot, true, &lock_fd, err))
		return false;
	ok = gbca_ca_create(caroot, &o, &ca, backup, sizeof(backup), err);
	gbca_ca_unlock(lock_fd);
	if (!ok)
		return false;
	gbca_ca_free(&ca);
	step(1, "CA: created in %s (name-constrained)", caroot);
	return true;
}

/* The leaf is what serve loads: issuing it through the same code keeps them one. */
static bool
ensure_leaf(struct gbca_proxy_config *cfg, struct gbca_err *err)
{
	struct gbca_tls tls;

	if (!gbca_tls_load(&tls, cfg, err))
		return false;
	gbca_tls_free(&tls);
	step(2, "certificate: %s/serve/%s.pem", cfg->caroot, cfg->names[0]);
	return true;
}

static int
run_sub(int (*cmd)(int, char **), const char *const *args)
{
	int argc = 0;
	char *argv[16];

	while (args[argc] && argc < 15) {
		argv[argc] = (char *)args[argc];
		argc++;
	}
	argv[argc] = NULL;
	return cmd(argc, argv);
}

/* Whether something answers on 127.0.0.1:443 (our service, most likely). */
static bool
port_in_use(const struct gbca_listen_addr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool used;

	if (fd < 0)
		return false;
	used = connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0;
	close(fd);
	return used;
}

static bool
write_unit(const char *caroot, const char *upstream, struct gbca_err *err)
{
	char path[PATH_MAX], self[PATH_MAX], unit[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int len;

	if (n <= 0)
		return gbca_fail(err, "can't find gbca's own path");
	self[n] = '\0';
	if (!gbca_up_unit_path(path, sizeof(path)))
		return gbca_fail(err, "path too long");
	len = snprintf(unit, sizeof(unit),
	               "# Written by 'gbca up --service'; removed by 'gbca uninstall'.\n"
	               "[Unit]\nDescription=gbca TLS proxy for the Gemini API\nAfter=network.target\n\n"
	               "[Service]\nEnvironment=GBCA_CAROOT=%s\nExecStart=%s serve --upstream %s\n"
	               "ExecReload=/bin/kill -HUP $MAINPID\nRestart=on-failure\nTimeoutStopSec=40\n\n"
	               "[Install]\nWantedBy=multi-user.target\n",
	               caroot, self, upstream);
	if (len < 0 || (size_t)len >= sizeof(unit))
		return gbca_fail(err, "unit file too long");
	return gbca_save_file(path, unit, (size_t)len, 0644, err);
}

static bool
systemctl(const char *a, const char *b, const char *c, struct gbca_err *err)
{
	const char *argv[] = { "systemctl", a, b, c, NULL };
	char out[1024];
	int status;

	if (!gbca_run(argv, out, sizeof(out), &status, err))
		return gbca_fail(err, "systemctl not found: --service needs systemd; run 'gbca up' without it to serve in the foreground");
	if (status != 0)
		return gbca_fail(err, "systemctl %s %s failed: %s", a, b ? b : "", out);
	return true;
}

int
gbca_cmd_up(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "upstream", required_argument, NULL, 'u' },
		{ "service", no_argument, NULL, 's' },
		{ "no-trust", no_argument, NULL, 'T' },
		{ "no-hosts", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gbca_proxy_config *cfg = calloc(1, sizeof(*cfg));
	const char *upstream = "http://127.0.0.1:8000";
	bool service = false, trust = true, hosts = true;
	struct gbca_err err;
	char report[1024];
	const char *names[] = { GBCA_GOOGLE_HOST };
	int c, rc = GBCA_EXIT_FAIL;

	if (cfg == NULL)
		return GBCA_EXIT_FAIL;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'u': upstream = optarg; break;
		case 's': service = true; break;
		case 'T': trust = false; break;
		case 'H': hosts = false; break;
		case 'h':
			fputs(up_usage, stdout);
			free(cfg);
			return GBCA_EXIT_OK;
		default:
			free(cfg);
			return gbca_bad_option("up", argv, c);
		}
	}
	gbca_proxy_config_defaults(cfg);
	snprintf(cfg->names[cfg->n_names++], sizeof(cfg->names[0]), "%s", GBCA_GOOGLE_HOST);
	gbca_proxy_parse_listen("127.0.0.1:443", true, &cfg->listen[0], NULL);
	cfg->n_listen = 1;
	if (!gbca_proxy_parse_upstream(upstream, cfg, &err)) {
		free(cfg);
		return gbca_usage_error("up", "%s", err.msg);
	}
	if (!gbca_caroot(cfg->caroot, sizeof(cfg->caroot), &err) || !gbca_as_owner_of(cfg->caroot, ensure_ca, cfg->caroot, &err) ||
	    !ensure_leaf(cfg, &err)) {
		gbca_print_error("%s", err.msg);
		goto out;
	}
	if (trust) {
		static const char *const args[] = { "trust", "--shells", NULL };
		step(3, "trust:");
		if (run_sub(gbca_cmd_trust, args) != GBCA_EXIT_OK)
			gbca_print_warning("not every store trusts the CA yet (see above); 'gbca doctor' tells what is missing");
	} else {
		step(3, "trust: skipped (--no-trust)");
	}
	if (hosts) {
		if (!gbca_hosts_set(NULL, names, 1, true, gbca_hosts_ipv6_default(), false, report, sizeof(report), &err)) {
			gbca_print_error("%s", err.msg);
			if (errno == EACCES || errno == EPERM)
				gbca_print_note("the hosts file needs root: run sudo %sgbca up", getenv("GBCA_CAROOT") ? "env GBCA_CAROOT=\"$GBCA_CAROOT\" " : "");
			goto out;
		}
		step(4, "hosts: %s", report);
	} else {
		step(4, "hosts: skipped (--no-hosts)");
	}
	printf("\nTry it (no -k needed):\n  curl https://%s/v1beta/models/gemini-2.5-flash:generateContent \\\n"
	       "    -H \"x-goog-api-key: $YOUR_GEMINI_BALANCE_TOKEN\" -H 'Content-Type: application/json' \\\n"
	       "    -d '{\"contents\":[{\"parts\":[{\"text\":\"Hi\"}]}]}'\n\n", GBCA_GOOGLE_HOST);
	fflush(stdout);
	if (service) {
		if (!write_unit(cfg->caroot, upstream, &err) || !systemctl("daemon-reload", NULL, NULL, &err) ||
		    !systemctl("enable", "--now", "gbca-serve.service", &err) ||
		    !systemctl("reload-or-restart", "gbca-serve.service", NULL, &err)) {
			gbca_print_error("%s", err.msg);
			goto out;
		}
		step(5, "serve: the systemd unit gbca-serve is enabled and running");
		rc = GBCA_EXIT_OK;
		goto out;
	}
	if (port_in_use(&cfg->listen[0])) {
		step(5, "serve: something already listens on 127.0.0.1:443 (gbca-serve or an earlier 'gbca up'); nothing to start");
		rc = GBCA_EXIT_OK;
		goto out;
	}
	step(5, "serve: in the foreground; Ctrl-C stops it ('gbca down' from another shell too)");
	{
		char *args[32];
		int n = 0;
		args[n++] = (char *)"serve";
		args[n++] = (char *)"--upstream";
		args[n++] = (char *)upstream;
		for (int i = optind; i < argc && n < 31; i++)
			args[n++] = argv[i];
		args[n] = NULL;
		free(cfg);
		return gbca_cmd_serve(n, args);
	}
out:
	free(cfg);
	return rc;
}

int
gbca_cmd_down(int argc, char **argv)
{
	char caroot[PATH_MAX], report[1024], unit[PATH_MAX];
	struct gbca_err err;
	int rc = GBCA_EXIT_OK;

	if (gbca_wants_help(argc, argv)) {
		fputs(down_usage, stdout);
		return GBCA_EXIT_OK;
	}
	if (argc > 1)
		return gbca_usage_error("down", "unexpected argument \"%s\"", argv[1]);
	if (!gbca_caroot(caroot, sizeof(caroot), &err)) {
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	if (gbca_hosts_set(NULL, NULL, 0, false, false, false, report, sizeof(report), &err)) {
		printf("hosts: %s\n", report);
	} else {
		gbca_print_error("%s", err.msg);
		rc = GBCA_EXIT_FAIL;
	}
	if (gbca_up_unit_path(unit, sizeof(unit)) && access(unit, F_OK) == 0) {
		if (systemctl("stop", "gbca-serve.service", NULL, &err))
			printf("serve: stopped the gbca-serve service\n");
		else {
			gbca_print_error("%s", err.msg);
			rc = GBCA_EXIT_FAIL;
		}
	}
	if (gbca_up_stop_serve(caroot, report, sizeof(report)))
		printf("serve: %s\n", report);
	printf("The CA and trust stay; 'gbca up' brings it back, 'gbca uninstall' removes everything.\n");
	return rc;
}
