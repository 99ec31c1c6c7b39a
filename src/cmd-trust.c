/* gbca trust / untrust: install the root into trust stores, check them, remove it. */
#include "config.h"
#include <gbca/strbuf.h>
#include <gbca/cmd.h>
#include <gbca/lan.h>
#include <gbca/path.h>
#include <gbca/run.h>
#include <gbca/store.h>

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char trust_usage[] =
	"usage: gbca trust [--stores LIST] [--shells[=LIST]] [-q]\n"
	"       gbca trust --check [--json] [--stores LIST] [--shells[=LIST]]\n"
	"\n"
	"Makes this machine trust the CA in CAROOT. Stores:\n"
	"  system   the system store (update-ca-certificates / update-ca-trust); needs root\n"
	"  nss      every NSS database of the user (Chrome, Chromium, Firefox profiles)\n"
	"  node     NODE_EXTRA_CA_CERTS in ~/.bashrc, ~/.zshrc and a fish drop-in\n"
	"  python   SSL_CERT_FILE and REQUESTS_CA_BUNDLE in the same files, naming the\n"
	"           system bundle (needs the system store first), for requests, httpx\n"
	"           and every Python with its own certifi (pyenv, venv, conda)\n"
	"  java     the JDK's cacerts (JAVA_HOME, or keytool on PATH); on Debian the\n"
	"           system store covers it\n"
	"Default: system, nss and java where present, plus node and python with\n"
	"--shells (leave one out with --stores).\n"
	"\n"
	"options:\n"
	"  --stores LIST     comma-separated stores (or GBCA_TRUST_STORES)\n"
	"  --shells[=LIST]   also set the node and python variables for bash,zsh,fish\n"
	"                    (default: the shells installed)\n"
	"  --check           show a table of the stores; exit 0 only if all trust the root\n"
	"  --json            with --check: JSON for scripts\n"
	"  -q, --quiet       print nothing on success\n"
	"  -h, --help        show this help\n";

static const char untrust_usage[] =
	"usage: gbca untrust [--stores LIST] [--all] [-q]\n"
	"\n"
	"Removes the CA from every store it was installed in (system, nss, node and\n"
	"python shell blocks, java), leaving other CAs and other lines alone.\n"
	"\n"
	"options:\n"
	"  --stores LIST   only these stores\n"
	"  --all           also remove older gbca roots\n"
	"  -q, --quiet     print nothing on success\n"
	"  -h, --help      show this help\n";

struct selection {
	bool chosen[16];
	bool explicit_list;
	bool after_system;   /* chosen by default: stores that name the system bundle may wait for it */
};


static bool
parse_stores(const char *list, struct selection *sel, struct gbca_err *err)
{
	char buf[256], *save = NULL, *tok;

	/* getopt gives --stores a value, and GBCA_TRUST_STORES is checked
	 * before; saying so here lets the analyzer see it too. */
	if (list == NULL)
		return gbca_fail(err, "--stores needs a list of stores");
	if (strlen(list) >= sizeof(buf))
		return gbca_fail(err, "store list too long");
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bool found = false;
		for (size_t i = 0; i < gbca_n_stores; i++) {
			if (strcmp(tok, gbca_stores[i]->name) == 0) {
				sel->chosen[i] = true;
				found = true;
			}
		}
		if (!found)
			return gbca_fail(err, "unknown store \"%s\"; choose from system, nss, node, python, java", tok);
	}
	sel->explicit_list = true;
	return true;
}

static bool
parse_shells(const char *list, unsigned *out, struct gbca_err *err)
{
	char buf[64], *save = NULL, *tok;

	*out = 0;
	if (strlen(list) >= sizeof(buf))
		return gbca_fail(err, "shell list too long");
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "bash") == 0)
			*out |= GBCA_SHELL_BASH;
		else if (strcmp(tok, "zsh") == 0)
			*out |= GBCA_SHELL_ZSH;
		else if (strcmp(tok, "fish") == 0)
			*out |= GBCA_SHELL_FISH;
		else
			return gbca_fail(err, "unknown shell \"%s\"; choose from bash, zsh, fish", tok);
	}
	return true;
}

static unsigned
installed_shells(void)
{
	char p[PATH_MAX];
	unsigned mask = 0;

	if (gbca_find_program("bash", p, sizeof(p)))
		mask |= GBCA_SHELL_BASH;
	if (gbca_find_program("zsh", p, sizeof(p)))
		mask |= GBCA_SHELL_ZSH;
	if (gbca_find_program("fish", p, sizeof(p)))
		mask |= GBCA_SHELL_FISH;
	return mask ? mask : GBCA_SHELL_BASH;
}

static int
run_check(struct gbca_trust_ctx *ctx, const struct selection *sel, bool json)
{
	bool all_ok = true, first = true;

	if (json)
		printf("[");
	else
		printf("%-8s %-14s %s\n", "STORE", "STATE", "WHERE");
	for (size_t i = 0; i < gbca_n_stores; i++) {
		char where[GBCA_REPORT_MAX];
		enum gbca_trust_state st;

		if (!sel->chosen[i])
			continue;
		st = gbca_stores[i]->check(ctx, where, sizeof(where));
		if (st != GBCA_TRUST_INSTALLED)
			all_ok = false;
		if (json) {
			printf("%s{\"store\":", first ? "" : ",");
			gbca_json_string(stdout, gbca_stores[i]->name);
			printf(",\"state\":");
			gbca_json_string(stdout, gbca_trust_state_name(st));
			printf(",\"where\":");
			gbca_json_string(stdout, where);
			printf("}");
		} else {
			printf("%-8s %-14s %s\n", gbca_stores[i]->name, gbca_trust_state_name(st), where);
		}
		first = false;
	}
	if (json)
		printf("]\n");
	return all_ok ? GBCA_EXIT_OK : GBCA_EXIT_FAIL;
}

static void
print_sudo_hint(const char *caroot, const char *verb, const char *stores, bool all)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		snprintf(self, sizeof(self), "gbca");
	else
		self[n] = '\0';
	gbca_print_note("skipped %s (needs root); run: sudo GBCA_CAROOT='%s' %s %s --stores %s%s",
	                stores, caroot, self, verb, stores, all ? " --all" : "");
}

/* After 'gbca join', the one gbca block for node and for python in the rc
 * files is the gateway's (CAROOT/joined/gateway says so): trusting or
 * untrusting this machine's own root there would take it over or remove it,
 * and 'gbca leave' could not give the files back. join refuses the other
 * order (cmd-join.c). Other stores hold each root apart and stay usable. */
static bool
shells_held_by_join(const char *caroot, const struct selection *sel, struct gbca_err *err)
{
	char note[PATH_MAX];
	struct gbca_err ignored;
	bool shells = false;

	for (size_t i = 0; i < gbca_n_stores; i++)
		if (sel->chosen[i] && (gbca_stores[i] == &gbca_store_node || gbca_stores[i] == &gbca_store_python))
			shells = true;
	if (!shells || !gbca_path_join(note, sizeof(note), caroot, GBCA_LAN_DIR "/" GBCA_LAN_STATE_FILE, &ignored) ||
	    access(note, F_OK) < 0)
		return false;
	gbca_fail(err, "this machine joined a LAN gateway, whose root holds the node and python blocks in your "
	          "shell files; run 'gbca leave' first, or choose other stores (--stores system,nss,java)");
	return true;
}

static int
run_stores(struct gbca_trust_ctx *ctx, const struct selection *sel, bool install)
{
	char skipped[256] = "";
	size_t used = 0;
	bool ok = true;
	struct gbca_err held;

	/* Before any store: all or nothing. join's and leave's own runs have
	 * CAROOT/joined as their folder, which holds no joined/ below it. */
	if (shells_held_by_join(ctx->caroot, sel, &held)) {
		gbca_print_error("%s", held.msg);
		return GBCA_EXIT_FAIL;
	}
	for (size_t i = 0; i < gbca_n_stores; i++) {
		const struct gbca_store *s = gbca_stores[i];
		char report[GBCA_REPORT_MAX] = "";
		struct gbca_err err = { "" };

		if (!sel->chosen[i])
			continue;
		if ((s->needs_root && !ctx->is_root) || (sel->after_system && gbca_store_waits_for_system(s, ctx))) {
			used += (size_t)snprintf(skipped + used, sizeof(skipped) - used, "%s%s", used ? "," : "", s->name);
			continue;
		}
		if (install ? s->install(ctx, report, sizeof(report), &err)
		            : s->uninstall(ctx, report, sizeof(report), &err)) {
			if (!gbca_quiet && report[0])
				printf("%s\n", report);
		} else {
			/* A store that failed part-way still says what it did do. */
			if (!gbca_quiet && report[0])
				printf("%s\n", report);
			gbca_print_error("%s: %s", s->name, err.msg);
			ok = false;
		}
	}
	if (skipped[0])
		print_sudo_hint(ctx->caroot, install ? "trust" : "untrust", skipped, ctx->all);
	return ok ? GBCA_EXIT_OK : GBCA_EXIT_FAIL;
}

/* Default: the stores present here; node and python only when asked (they
 * edit rc files); untrust cleans every store that could hold the root. */
static void
select_defaults(const struct gbca_trust_ctx *ctx, struct selection *sel, bool install, bool shells)
{
	for (size_t i = 0; i < gbca_n_stores; i++)
		sel->chosen[i] = gbca_store_default(gbca_stores[i], ctx, install, shells);
	/* python names the system bundle, which only root can give the
	 * root: without root, it waits for the sudo run too. */
	sel->after_system = install;
}

bool
gbca_trust_default_stores(const char *caroot, struct gbca_err *err)
{
	return gbca_trust_run(caroot, NULL, true, NULL, err);
}

bool
gbca_trust_run(const char *caroot, const char *stores, bool install, const char *sha256, struct gbca_err *err)
{
	struct selection sel = { { false }, false, false };
	struct gbca_trust_ctx ctx;
	int rc;

	if (stores != NULL && !parse_stores(stores, &sel, err))
		return false;
	if (!gbca_trust_ctx_init(&ctx, caroot, err))
		return false;
	if (sha256 != NULL && strcmp(ctx.sha256, sha256) != 0) {
		gbca_trust_ctx_free(&ctx);
		return gbca_fail(err, "the root in %s changed (its SHA-256 is now %s, not %s); nothing was trusted",
		                 caroot, ctx.sha256, sha256);
	}
	ctx.shells = install ? installed_shells() : GBCA_SHELL_ALL;
	if (stores == NULL)
		select_defaults(&ctx, &sel, install, true);
	rc = run_stores(&ctx, &sel, install);
	gbca_trust_ctx_free(&ctx);
	if (rc != GBCA_EXIT_OK)
		return gbca_fail(err, install ? "not every store trusts the CA yet (see above)"
		                              : "not every store let go of the CA (see above)");
	return true;
}

static int
trust_main(int argc, char **argv, bool install)
{
	static const struct option longopts[] = {
		{ "stores", required_argument, NULL, 's' },
		{ "shells", optional_argument, NULL, 'S' },
		{ "check", no_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'a' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = install ? "trust" : "untrust";
	struct selection sel = { { false }, false, false };
	struct gbca_trust_ctx ctx;
	struct gbca_err err;
	char caroot[PATH_MAX];
	bool check = false, json = false, all = false, shells = false;
	unsigned shell_mask = 0;
	const char *env;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!parse_stores(optarg, &sel, &err))
				return gbca_usage_error(cmd, "%s", err.msg);
			break;
		case 'S':
			shells = true;
			if (optarg && !parse_shells(optarg, &shell_mask, &err))
				return gbca_usage_error(cmd, "%s", err.msg);
			break;
		case 'c': check = true; break;
		case 'j': json = true; break;
		case 'a': all = true; break;
		case 'q': gbca_quiet = true; break;
		case 'h':
			fputs(install ? trust_usage : untrust_usage, stdout);
			return GBCA_EXIT_OK;
		default:
			return gbca_bad_option(cmd, argv, c);
		}
	}
	if (optind < argc)
		return gbca_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if (!install && (check || json || shells))
		return gbca_usage_error(cmd, "--check, --json and --shells belong to 'gbca trust'");
	if (install && all)
		return gbca_usage_error(cmd, "--all belongs to 'gbca untrust'");
	if (json && !check)
		return gbca_usage_error(cmd, "--json goes with --check");
	env = getenv("GBCA_TRUST_STORES");
	if (!sel.explicit_list && env && env[0] && !parse_stores(env, &sel, &err))
		return gbca_usage_error(cmd, "GBCA_TRUST_STORES: %s", err.msg);
	if (!gbca_caroot(caroot, sizeof(caroot), &err) || !gbca_trust_ctx_init(&ctx, caroot, &err)) {
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	ctx.all = all;
	/* Untrust cleans every shell; trust without a list sets the installed ones. */
	ctx.shells = shell_mask ? shell_mask : (install ? installed_shells() : GBCA_SHELL_ALL);
	if (!sel.explicit_list) {
		select_defaults(&ctx, &sel, install, shells);
	} else if (shells) {
		for (size_t i = 0; i < gbca_n_stores; i++)
			if (gbca_stores[i] == &gbca_store_node)
				sel.chosen[i] = true;
	}
	rc = check ? run_check(&ctx, &sel, json) : run_stores(&ctx, &sel, install);
	gbca_trust_ctx_free(&ctx);
	return rc;
}

int
gbca_cmd_trust(int argc, char **argv)
{
	return trust_main(argc, argv, true);
}

int
gbca_cmd_untrust(int argc, char **argv)
{
	return trust_main(argc, argv, false);
}
