/* gbca: the command table and dispatch. */
#include "config.h"
#include <gbca/cmd.h>
#include <gbca/drop.h>
#include <gbca/err.h>
#include <gbca/path.h>

#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "init", gbca_cmd_init, "create the local root CA (name-constrained by default)" },
	{ "issue", gbca_cmd_issue, "issue a leaf certificate (default: generativelanguage.googleapis.com)" },
	{ "trust", gbca_cmd_trust, "make this machine trust the CA (system, NSS, Node via --shells)" },
	{ "untrust", gbca_cmd_untrust, "remove the CA from every trust store" },
	{ "ci", gbca_cmd_ci, "CI trust provisioning for ephemeral runners" },
	{ "up", gbca_cmd_up, "do the whole job: CA, certificate, trust, hosts entry, proxy" },
	{ "down", gbca_cmd_down, "hosts entry off and proxy stopped (CA and trust stay)" },
	{ "doctor", gbca_cmd_doctor, "check every piece and say how to fix what is broken" },
	{ "uninstall", gbca_cmd_uninstall, "remove everything gbca did (--purge: the CA too)" },
	{ "serve", gbca_cmd_serve, "run the TLS proxy in front of Gemini Balance" },
	{ "hosts", gbca_cmd_hosts, "turn the hosts-file entries for the served names on or off" },
	{ "env", gbca_cmd_env, "print the NODE_EXTRA_CA_CERTS line for eval in a shell" },
	{ "compose", gbca_cmd_compose, "print a docker-compose override (or docker run flags) for containers" },
	{ "list", gbca_cmd_list, "list the certificates this CA issued, with days left" },
	{ "caroot", gbca_cmd_caroot, "print the CA folder (CAROOT)" },
	{ "export", gbca_cmd_export, "print the root (no key), its fingerprint and the join command" },
	{ "join", gbca_cmd_join, "trust a LAN gateway's root (checked by fingerprint) and use its proxy" },
	{ "leave", gbca_cmd_leave, "undo 'gbca join' byte for byte" },
	{ "version", cmd_version, "print the version" },
	{ "help", cmd_help, "show help for gbca or a command" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
print_usage(FILE *out)
{
	fprintf(out,
	        "usage: gbca COMMAND [OPTIONS] [ARGS]\n"
	        "\n"
	        "gbca makes a local CA and certificates so tools reach a local Gemini API\n"
	        "proxy at https://generativelanguage.googleapis.com without turning TLS\n"
	        "checks off.\n"
	        "\n"
	        "commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(out,
	        "\n"
	        "Run 'gbca COMMAND --help' for a command's options.\n"
	        "CAROOT is $GBCA_CAROOT, else $XDG_DATA_HOME/gbca, else ~/.local/share/gbca;\n"
	        "under sudo, the invoking user's (sudo gbca up uses your CA, not root's).\n");
}

/* mkcert's flags, for people coming from it: each points at gbca's way. */
static const struct {
	const char *flag;
	const char *instead;
} mkcert_flags[] = {
	{ "install", "gbca trust (sudo gbca trust for the system store)" },
	{ "uninstall", "gbca untrust (gbca uninstall undoes everything gbca did)" },
	{ "CAROOT", "gbca caroot" },
	{ "cert-file", "gbca issue --cert-file FILE NAME..." },
	{ "key-file", "gbca issue --key-file FILE NAME..." },
	{ "p12-file", "gbca issue --p12-file FILE NAME..." },
	{ "pkcs12", "gbca issue --pkcs12 NAME..." },
	{ "client", "gbca issue --client NAME..." },
	{ "ecdsa", "gbca issue NAME... (ECDSA is the default; --key rsa for RSA)" },
	{ "csr", "gbca issue --csr FILE" },
	{ "help", "gbca --help" },
	{ "version", "gbca version" },
};

static int
unknown(const char *arg)
{
	const char *flag = arg + strspn(arg, "-");
	char hint[256];

	for (size_t i = 0; i < sizeof(mkcert_flags) / sizeof(mkcert_flags[0]); i++) {
		if (strcmp(flag, mkcert_flags[i].flag) != 0)
			continue;
		if (arg[0] == '-')
			return gbca_usage_error(NULL, "%s is mkcert's; with gbca: %s", arg, mkcert_flags[i].instead);
		/* "gbca install" is near "uninstall": never suggest the opposite */
		return gbca_usage_error(NULL, "unknown command \"%s\"; as mkcert -%s does: %s", arg, flag,
		                        mkcert_flags[i].instead);
	}
	if (arg[0] == '-')
		return gbca_usage_error(NULL, "unknown option %s (options go after the command)", arg);
	if (gbca_did_you_mean(arg, strlen(arg), commands, N_COMMANDS, sizeof(commands[0]), "", hint, sizeof(hint)))
		return gbca_usage_error(NULL, "unknown command \"%s\" (did you mean %s?)", arg, hint);
	return gbca_usage_error(NULL, "unknown command \"%s\"", arg);
}

static int
cmd_version(int argc, char **argv)
{
	if (gbca_wants_help(argc, argv)) {
		printf("usage: gbca version\n\nPrints gbca's version.\n");
		return GBCA_EXIT_OK;
	}
	if (argc > 1)
		return gbca_usage_error("version", "unexpected argument \"%s\"", argv[1]);
	printf("gbca %s\n", PACKAGE_VERSION);
	return GBCA_EXIT_OK;
}

static int
cmd_help(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: gbca help [COMMAND]\n\nShows the list of commands, or one command's help.\n");
		return GBCA_EXIT_OK;
	}
	if (argc > 1) {
		for (size_t i = 0; i < N_COMMANDS; i++) {
			if (strcmp(argv[1], commands[i].name) == 0) {
				char *sub[] = { argv[1], (char *)"--help", NULL };
				return commands[i].run(2, sub);
			}
		}
		return unknown(argv[1]);
	}
	print_usage(stdout);
	return GBCA_EXIT_OK;
}

/* The commands that touch only the user's CA and files run wholly as the
 * CAROOT's owner when root starts them (sudo gbca init makes the user's CA,
 * owned by the user); the others drop to the owner step by step. */
static bool
settle(const char *name)
{
	static const char *const user_only[] = { "init", "issue", "list", "caroot", "env", "export", "compose" };
	char caroot[PATH_MAX];
	struct gbca_err err;

	if (geteuid() != 0)
		return true;
	for (size_t i = 0; i < sizeof(user_only) / sizeof(user_only[0]); i++) {
		if (strcmp(name, user_only[i]) != 0)
			continue;
		if (!gbca_caroot(caroot, sizeof(caroot), &err) || !gbca_become_owner_of(caroot, &err)) {
			gbca_print_error("%s", err.msg);
			return false;
		}
	}
	return true;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stderr);
		return GBCA_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return cmd_help(1, argv);
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0)
		return cmd_version(1, argv);
	gbca_sudo_adopt_home();
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return settle(commands[i].name) ? commands[i].run(argc - 1, argv + 1) : GBCA_EXIT_FAIL;
	return unknown(argv[1]);
}
