/* gbca env: the shell lines that make Node and Python trust the CA, for eval. */
#include "config.h"
#include <gbca/cmd.h>
#include <gbca/path.h>
#include <gbca/shells.h>

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
	"usage: gbca env [--shell bash|zsh|fish] [--no-python]\n"
	"\n"
	"Prints the lines 'gbca trust --shells' writes to the rc files, for the\n"
	"current shell: NODE_EXTRA_CA_CERTS naming the CA's PEM file, and\n"
	"SSL_CERT_FILE and REQUESTS_CA_BUNDLE naming the system bundle (for requests,\n"
	"httpx and Google's Python SDK; --no-python leaves them out):\n"
	"  eval \"$(gbca env)\"            (bash, zsh)\n"
	"  gbca env --shell fish | source\n"
	"The shell defaults to the one in $SHELL.\n";

int
gbca_cmd_env(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "shell", required_argument, NULL, 's' },
		{ "python", no_argument, NULL, 'p' },      /* the default; kept for old scripts */
		{ "no-python", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char caroot[PATH_MAX], pem[PATH_MAX], lines[8192], py[8192] = "";
	bool python = true, python_asked = false;
	const char *shell = NULL, *env_shell;
	struct gbca_err err;
	struct stat st;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			shell = optarg;
			if (strcmp(shell, "bash") && strcmp(shell, "zsh") && strcmp(shell, "fish") && strcmp(shell, "sh"))
				return gbca_usage_error("env", "unknown shell \"%s\"; choose bash, zsh or fish", shell);
			break;
		case 'p':
			python = python_asked = true;
			break;
		case 'P':
			python = false;
			break;
		case 'h':
			fputs(usage, stdout);
			return GBCA_EXIT_OK;
		default:
			return gbca_bad_option("env", argv, c);
		}
	}
	if (optind < argc)
		return gbca_usage_error("env", "unexpected argument \"%s\"", argv[optind]);
	env_shell = getenv("SHELL");
	if (shell == NULL && env_shell && strstr(env_shell, "fish"))
		shell = "fish";
	if (!gbca_caroot(caroot, sizeof(caroot), &err) ||
	    !gbca_shells_node_pem(caroot, pem, sizeof(pem), &err) ||
	    !gbca_shells_env_lines(caroot, shell, lines, sizeof(lines), &err)) {
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	if (python && !gbca_shells_env_lines_python(shell, py, sizeof(py), &err)) {
		if (python_asked) {
			gbca_print_error("%s", err.msg);
			return GBCA_EXIT_FAIL;
		}
		gbca_print_warning("%s; printing the node line only", err.msg);
		py[0] = '\0';
	}
	if (stat(pem, &st) < 0)
		gbca_print_warning("%s does not exist yet; run 'gbca trust --shells' to create it", pem);
	fputs(lines, stdout);
	fputs(py, stdout);
	return GBCA_EXIT_OK;
}
