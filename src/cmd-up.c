/* gbca up / gbca down: the whole job in one command, and its toggle.
 * up: CA (once), leaf, trust (system, NSS, shells), hosts entries, serve
 * (in the background, --foreground, or --service for a systemd unit). down: hosts entries off and
 * the proxy stopped; the CA and trust stay, so the next up is instant. */
#include "config.h"
#include <gbca/ca.h>
#include <gbca/drop.h>
#include <gbca/bridge.h>
#include <gbca/cmd.h>
#include <gbca/hosts.h>
#include <gbca/path.h>
#include <gbca/proxy.h>
#include <gbca/run.h>
#include <gbca/save.h>
#include <gbca/serve-options.h>
#include <gbca/store.h>
#include <gbca/strbuf.h>
#include <gbca/unit.h>
#include <gbca/up.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char up_usage[] =
	"usage: gbca up [--upstream URL] [--service | --foreground] [--no-trust] [--no-hosts]\n"
	"               [--bridge[=IFACE|ADDR]] [-- SERVE-OPTIONS]\n"
	"\n"
	"Does the whole job, each step only if it is not done already:\n"
	"  1. makes the CA (gbca init) if there is none;\n"
	"  2. issues the leaf for generativelanguage.googleapis.com;\n"
	"  3. trusts the CA: system store (as root), NSS, Node and Python in bash/zsh/fish;\n"
	"  4. points generativelanguage.googleapis.com at 127.0.0.1 (and ::1) in /etc/hosts;\n"
	"  5. serves: in the background (pid in CAROOT/serve.pid, log in CAROOT/serve.log),\n"
	"     with --service as the systemd unit gbca-serve, or with --foreground here.\n"
	"Then prints the curl command to try. Needs root for steps 3 (system), 4 and 5\n"
	"(port 443): run 'sudo gbca up'. Under sudo gbca uses your CAROOT and HOME, not\n"
	"root's (unless GBCA_CAROOT is set, e.g. sudo env GBCA_CAROOT=DIR gbca up).\n"
	"\n"
	"Run again with other options, it changes the running proxy (or the unit) to\n"
	"match. If the proxy can't start, the hosts entry goes off again; when a\n"
	"--foreground proxy stops (Ctrl-C), the hosts entry goes off with it.\n"
	"\n"
	"options:\n"
	"  --upstream URL   Gemini Balance (default http://127.0.0.1:8000)\n"
	"  --service        install and start the systemd unit gbca-serve (also used\n"
	"                   when that unit is installed already)\n"
	"  --foreground     serve here until Ctrl-C instead of in the background\n"
	"  --no-trust       skip step 3\n"
	"  --no-hosts       skip step 4\n"
	"  --bridge[=IFACE|ADDR]  also serve containers on this host: listen on the\n"
	"                   Docker/Podman bridge's gateway address (serve --bridge)\n"
	"  -h, --help       show this help\n"
	"Options after -- go to 'gbca serve' (e.g. -- --cors '*' --workers 2, or\n"
	"-- --listen 0.0.0.0:443 --allow 192.168.1.0/24 for a LAN).\n";

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

/* Whether something answers on a listener of cfg (a proxy, ours or not). */
static const struct gbca_listen_addr *
listener_in_use(const struct gbca_proxy_config *cfg)
{
	for (size_t i = 0; i < cfg->n_listen; i++) {
		const struct gbca_listen_addr *a = &cfg->listen[i];
		int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool used;

		if (fd < 0)
			continue;
		used = connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0;
		close(fd);
		if (used)
			return a;
	}
	return NULL;
}

/* What runs the proxy: gbca's absolute path, "serve", the options given
 * after --, and --upstream last (so it wins, as it does in cfg). The same
 * words go into the unit's ExecStart= and the background process. */
struct serve_cmd {
	char self[PATH_MAX];
	const char *argv[64];
};

static bool
serve_cmd_init(struct serve_cmd *s, int argc, char **argv, const char *bridge, const char *upstream,
               struct gbca_err *err)
{
	ssize_t n = readlink("/proc/self/exe", s->self, sizeof(s->self) - 1);
	size_t k = 0;

	if (n <= 0)
		return gbca_fail(err, "can't find gbca's own path (/proc/self/exe)");
	s->self[n] = '\0';
	if ((size_t)argc + 5 > sizeof(s->argv) / sizeof(s->argv[0]))
		return gbca_fail(err, "too many options after --");
	s->argv[k++] = s->self;
	s->argv[k++] = "serve";
	for (int i = 0; i < argc; i++)
		s->argv[k++] = argv[i];
	if (bridge)
		s->argv[k++] = bridge;   /* --bridge or --bridge=X, as typed */
	if (upstream) {
		s->argv[k++] = "--upstream";
		s->argv[k++] = upstream;
	}
	s->argv[k] = NULL;
	return true;
}

/* Whether /proc/PID/cmdline is exactly these words. */
static bool
runs_with(long pid, const char *const *argv)
{
	char path[64], buf[8192];
	size_t n = 0, at = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if ((f = fopen(path, "re")) == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	for (size_t i = 0; argv[i]; i++) {
		size_t len = strlen(argv[i]) + 1;
		if (at + len > n || memcmp(buf + at, argv[i], len) != 0)
			return false;
		at += len;
	}
	return at == n;
}

static bool
systemctl(const char *a, const char *b, const char *c, struct gbca_err *err)
{
	const char *argv[] = { "systemctl", a, b, c, NULL };
	char out[1024];
	int status;

	if (!gbca_run(argv, out, sizeof(out), &status, err))
		return gbca_fail(err, "systemctl not found: --service needs systemd; run 'gbca up' without it to serve in the background");
	if (status != 0)
		return gbca_fail(err, "systemctl %s %s failed: %s", a, b ? b : "", out);
	return true;
}

/* Writes the unit if it differs from what is there and (re)starts it:
 * new options restart it, the same ones leave a running unit alone. */
static bool
serve_service(const char *caroot, const struct serve_cmd *cmd, struct gbca_err *err)
{
	char path[PATH_MAX], *old = NULL;
	struct gbca_strbuf unit = { 0 };
	size_t old_len = 0;
	bool same, ok;
	FILE *f;

	if (!gbca_up_unit_path(path, sizeof(path)))
		return gbca_fail(err, "path too long");
	if (!gbca_unit_render(&unit, caroot, cmd->argv, err)) {
		free(unit.p);
		return false;
	}
	if ((f = fopen(path, "re")) != NULL) {
		old = malloc(unit.len + 1);
		old_len = old ? fread(old, 1, unit.len + 1, f) : 0;
		fclose(f);
	}
	same = old && old_len == unit.len && memcmp(old, unit.p, unit.len) == 0;
	free(old);
	if (same) {
		free(unit.p);
		if (!systemctl("enable", "--now", "gbca-serve.service", err))
			return false;
		step(5, "serve: the systemd unit gbca-serve is enabled and running, options unchanged");
		return true;
	}
	ok = gbca_save_file(path, unit.p, unit.len, 0644, err);
	free(unit.p);
	if (!ok || !systemctl("daemon-reload", NULL, NULL, err) || !systemctl("enable", "gbca-serve.service", NULL, err) ||
	    !systemctl("restart", "gbca-serve.service", NULL, err))
		return false;
	step(5, "serve: the systemd unit gbca-serve is %s, enabled and running", old_len ? "updated" : "installed");
	return true;
}

/* What serve wrote to its log since offset from (its last 2 KB at most),
 * to show why it stopped. */
static void
show_log(const char *log, off_t from)
{
	char buf[2048];
	struct stat st;
	ssize_t n;
	int fd = open(log, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size - from > (off_t)sizeof(buf) - 1)
		from = st.st_size - (off_t)sizeof(buf) + 1;
	n = pread(fd, buf, sizeof(buf) - 1, from);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		fputs(buf, stderr);
	}
}

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Creates serve's log as the CAROOT's owner (gbca_as_owner_of): the file is
 * theirs, and root then only appends to it. */
static bool
create_log(void *arg, struct gbca_err *err)
{
	int fd = open(arg, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);

	if (fd < 0)
		return gbca_fail(err, "couldn't open the log %s: %s", (const char *)arg, strerror(errno));
	close(fd);
	return true;
}

/* Starts the proxy detached from the terminal (its own session, output to
 * CAROOT/serve.log) and waits, bounded, until it has written its pid file
 * (it does that once it listens), or has stopped. */
static bool
serve_background(const char *caroot, const struct serve_cmd *cmd, struct gbca_err *err)
{
	char pidf[PATH_MAX], log[PATH_MAX];
	struct stat st;
	off_t from;
	pid_t pid;
	int fd;

	if (!gbca_path_join(pidf, sizeof(pidf), caroot, "serve.pid", err) ||
	    !gbca_path_join(log, sizeof(log), caroot, "serve.log", err))
		return false;
	if (!gbca_as_owner_of(caroot, create_log, log, err))
		return false;
	fd = open(log, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return gbca_fail(err, "couldn't open the log %s: %s", log, strerror(errno));
	/* Root appends here: never to a hard link of someone else's file. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		close(fd);
		return gbca_fail(err, "refusing the log %s: not a plain file (a hard link or a device); remove it", log);
	}
	(void)fcntl(fd, F_SETFL, O_APPEND);
	from = lseek(fd, 0, SEEK_END);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fd);
		return gbca_fail(err, "couldn't start the proxy: %s", strerror(errno));
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		setsid();
		if (null >= 0)
			dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		setenv("GBCA_CAROOT", caroot, 1);
		execv(cmd->self, (char *const *)cmd->argv);
		dprintf(2, "gbca: couldn't run %s: %s\n", cmd->self, strerror(errno));
		_exit(127);
	}
	close(fd);
	/* Up to 30 s: issuing a leaf and starting workers takes well under one. */
	for (int i = 0; i < 300; i++) {
		char buf[32] = "";
		FILE *f;
		int status;

		if (waitpid(pid, &status, WNOHANG) == pid) {
			show_log(log, from);
			return gbca_fail(err, "the proxy stopped before it served (its log, %s, is above)", log);
		}
		if ((f = fopen(pidf, "re")) != NULL) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			buf[n] = '\0';
			if (strtol(buf, NULL, 10) == (long)pid) {
				step(5, "serve: in the background (pid %ld; log %s); 'gbca down' stops it", (long)pid, log);
				return true;
			}
		}
		nap_ms(100);
	}
	kill(pid, SIGTERM);
	show_log(log, from);
	return gbca_fail(err, "the proxy did not start within 30 s (its log, %s, is above)", log);
}

/* Turns the hosts entry off after the proxy failed or stopped: an entry
 * pointing at nothing would break every Gemini client on the machine. */
static void
hosts_off(const char *why)
{
	char report[1024];
	struct gbca_err err;

	if (gbca_hosts_set(NULL, NULL, 0, false, false, false, report, sizeof(report), &err))
		printf("%s: the hosts entry goes off too, so that Gemini clients are not pointed at nothing ('gbca up' turns both on again)\nhosts: %s\n",
		       why, report);
	else
		gbca_print_error("%s, and the hosts entry could not be turned off: %s; run 'sudo gbca down'", why, err.msg);
}

enum serve_mode { MODE_BACKGROUND, MODE_FOREGROUND, MODE_SERVICE };

/* Before step 4, for the background and the foreground: an earlier proxy
 * of ours (CAROOT/serve.pid) with the same options is kept (*keep gets its
 * pid), with others (or for --foreground) it is stopped now, so that a
 * --foreground one, which turns the hosts entry off as it goes, is gone
 * before step 4 turns it on. Something else on a listener is an error. */
static bool
serve_prepare(const struct gbca_proxy_config *cfg, enum serve_mode mode, const struct serve_cmd *cmd, long *keep,
              struct gbca_err *err)
{
	const struct gbca_listen_addr *busy;
	char cmdline[256], report[256];
	long pid;

	*keep = 0;
	if (gbca_up_serve_pid(cfg->caroot, &pid, cmdline, sizeof(cmdline))) {
		if (mode == MODE_BACKGROUND && runs_with(pid, cmd->argv)) {
			*keep = pid;
			return true;
		}
		if (gbca_up_stop_serve(cfg->caroot, report, sizeof(report)))
			printf("serve: %s, to start it %s\n", report, mode == MODE_FOREGROUND ? "in the foreground" : "with the new options");
	}
	if ((busy = listener_in_use(cfg)) != NULL)
		return gbca_fail(err, "something else listens on %s (not a gbca serve that 'gbca up' started); stop it, or choose another address with -- --listen",
		                 busy->text);
	return true;
}

/* What 'gbca up' was asked to do. */
struct up_job {
	struct gbca_proxy_config cfg;   /* serve's options after --, then --upstream */
	struct serve_cmd cmd;           /* the same, as the words that run the proxy */
	enum serve_mode mode;
	bool trust, hosts;
};

/* Reads up's options, then serve's after -- (with an index of its own,
 * taken before anything else parses), and checks all of it before anything
 * changes. Returns -1 to go on, or the exit code. */
static int
up_parse(int argc, char **argv, struct up_job *job)
{
	static const struct option longopts[] = {
		{ "upstream", required_argument, NULL, 'u' },
		{ "bridge", optional_argument, NULL, 'b' },
		{ "service", no_argument, NULL, 's' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "no-trust", no_argument, NULL, 'T' },
		{ "no-hosts", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *upstream = NULL, *bridge = NULL, *bridge_spec = "";
	bool service = false, foreground = false;
	struct gbca_err err;
	char unit[PATH_MAX];
	int c, rest;

	job->trust = job->hosts = true;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'u': upstream = optarg; break;
		case 'b':
			bridge = argv[optind - 1];
			bridge_spec = optarg && strcmp(optarg, "auto") != 0 ? optarg : "";
			break;
		case 's': service = true; break;
		case 'f': foreground = true; break;
		case 'T': job->trust = false; break;
		case 'H': job->hosts = false; break;
		case 'h':
			fputs(up_usage, stdout);
			return GBCA_EXIT_OK;
		default:
			return gbca_bad_option("up", argv, c);
		}
	}
	rest = optind;
	if (rest < argc && strcmp(argv[rest - 1], "--bridge") == 0)
		return gbca_usage_error("up", "unexpected argument \"%s\" (write --bridge=%s)", argv[rest], argv[rest]);
	if (rest < argc && strcmp(argv[rest - 1], "--") != 0)
		return gbca_usage_error("up", "unexpected argument \"%s\" (serve's options go after --)", argv[rest]);
	if (service && foreground)
		return gbca_usage_error("up", "--service and --foreground exclude each other");
	/* argv[rest - 1] only stands in for a command name. */
	switch (gbca_serve_options(argc - rest + 1, argv + rest - 1, &job->cfg, &err)) {
	case GBCA_SERVE_PARSED:
		break;
	case GBCA_SERVE_HELP:
		puts("Options after -- are gbca serve's: see 'gbca serve --help'.");
		return GBCA_EXIT_OK;
	case GBCA_SERVE_USAGE:
		return gbca_usage_error("up", "after --: %s", err.msg);
	case GBCA_SERVE_FAILED:
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	if (upstream && !gbca_proxy_parse_upstream(upstream, &job->cfg, &err))
		return gbca_usage_error("up", "%s", err.msg);
	if (bridge && !gbca_bridge_listen(&job->cfg, bridge_spec, &err)) {
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	if (!serve_cmd_init(&job->cmd, argc - rest, argv + rest, bridge, upstream, &err))
		return gbca_usage_error("up", "%s", err.msg);
	job->mode = MODE_BACKGROUND;
	if (service) {
		job->mode = MODE_SERVICE;
	} else if (foreground) {
		job->mode = MODE_FOREGROUND;
	} else if (gbca_up_unit_path(unit, sizeof(unit)) && access(unit, F_OK) == 0) {
		/* One proxy, where the user put it: its options change there. */
		job->mode = MODE_SERVICE;
		gbca_print_note("the gbca-serve unit is installed (%s): it is what gets updated; 'gbca uninstall' removes it", unit);
	}
	if (job->mode == MODE_SERVICE) {
		/* Refuse what the unit can't hold before anything changes. */
		struct gbca_strbuf probe = { 0 };
		bool ok = gbca_unit_render(&probe, job->cfg.caroot, job->cmd.argv, &err);
		free(probe.p);
		if (!ok) {
			gbca_print_error("%s", err.msg);
			return GBCA_EXIT_FAIL;
		}
	} else if (job->cfg.pid_file[0]) {
		return gbca_usage_error("up", "--pid-file is for 'gbca serve' alone: 'gbca up' and 'gbca down' use CAROOT/serve.pid");
	}
	return -1;
}

/* Steps 1 to 5; returns the exit code. */
static int
up_run(struct up_job *job)
{
	struct gbca_proxy_config *cfg = &job->cfg;
	const char *names[] = { GBCA_GOOGLE_HOST };
	struct gbca_err err;
	char report[1024];
	bool done = false;
	long keep = 0;
	int rc;

	if (!gbca_as_owner_of(cfg->caroot, ensure_ca, cfg->caroot, &err) || !ensure_leaf(cfg, &err)) {
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	if (job->trust) {
		step(3, "trust:");
		if (!gbca_trust_default_stores(cfg->caroot, &err))
			gbca_print_warning("%s; 'gbca doctor' tells what is missing", err.msg);
	} else {
		step(3, "trust: skipped (--no-trust)");
	}
	if (job->mode != MODE_SERVICE && !serve_prepare(cfg, job->mode, &job->cmd, &keep, &err)) {
		gbca_print_error("%s", err.msg);
		if (job->hosts)
			hosts_off("the proxy can't start");
		return GBCA_EXIT_FAIL;
	}
	if (job->hosts) {
		if (!gbca_hosts_set(NULL, names, 1, true, gbca_hosts_ipv6_default(), false, report, sizeof(report), &err)) {
			gbca_print_error("%s", err.msg);
			if (errno == EACCES || errno == EPERM)
				gbca_print_note("the hosts file needs root: run sudo %sgbca up", getenv("GBCA_CAROOT") ? "env GBCA_CAROOT=\"$GBCA_CAROOT\" " : "");
			return GBCA_EXIT_FAIL;
		}
		step(4, "hosts: %s", report);
	} else {
		step(4, "hosts: skipped (--no-hosts)");
	}
	if (job->mode == MODE_SERVICE) {
		done = serve_service(cfg->caroot, &job->cmd, &err);
	} else if (keep) {
		step(5, "serve: already running in the background (pid %ld) with these options", keep);
		done = true;
	} else if (job->mode == MODE_BACKGROUND) {
		done = serve_background(cfg->caroot, &job->cmd, &err);
	}
	if (!done && job->mode != MODE_FOREGROUND) {
		gbca_print_error("%s", err.msg);
		if (job->hosts)
			hosts_off("the proxy did not start");
		return GBCA_EXIT_FAIL;
	}
	printf("\nTry it (no -k needed):\n  curl https://%s/v1beta/models/gemini-2.5-flash:generateContent \\\n"
	       "    -H \"x-goog-api-key: $YOUR_GEMINI_BALANCE_TOKEN\" -H 'Content-Type: application/json' \\\n"
	       "    -d '{\"contents\":[{\"parts\":[{\"text\":\"Hi\"}]}]}'\n\n", GBCA_GOOGLE_HOST);
	fflush(stdout);
	if (done)
		return GBCA_EXIT_OK;
	step(5, "serve: in the foreground; Ctrl-C stops it%s", job->hosts ? " and turns the hosts entry off" : "");
	rc = gbca_proxy_run(cfg) == 0 ? GBCA_EXIT_OK : GBCA_EXIT_FAIL;
	if (job->hosts)
		hosts_off(rc == GBCA_EXIT_OK ? "serve: stopped" : "serve: failed");
	return rc;
}

int
gbca_cmd_up(int argc, char **argv)
{
	struct up_job *job = calloc(1, sizeof(*job));
	int rc;

	if (job == NULL) {
		gbca_print_error("out of memory");
		return GBCA_EXIT_FAIL;
	}
	rc = up_parse(argc, argv, job);
	if (rc < 0)
		rc = up_run(job);
	free(job);
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
