/* gbca hosts: turn the hosts-file entries for the served names on or off. */
#include "config.h"
#include <gbca/strbuf.h>
#include <gbca/cmd.h>
#include <gbca/hosts.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: gbca hosts on|off|status [NAME...] [--hosts-file PATH] [--ipv6|--no-ipv6]\n"
	"                  [--force] [--json] [-q]\n"
	"\n"
	"Points the served names (default " GBCA_HOSTS_DEFAULT_NAME ") at the local\n"
	"proxy through the hosts file: 127.0.0.1, and ::1 as well when this machine has\n"
	"an IPv6 loopback (--ipv6 / --no-ipv6 decide instead).\n"
	"\n"
	"  on       add the entries; running it again changes nothing (\"already on\")\n"
	"  off      remove them (only NAMEs, or every name gbca added when none given);\n"
	"           after on then off the file is byte for byte what it was\n"
	"  status   per name: is gbca's entry there, and what the name resolves to now\n"
	"           (through getaddrinfo for /etc/hosts, by reading the file for any\n"
	"           other --hosts-file); exit 0 when on for every name, else 1\n"
	"\n"
	"gbca's entries sit in one block at the top of the file, between the lines\n"
	"  " GBCA_HOSTS_BEGIN " ...   and   " GBCA_HOSTS_END "\n"
	"and every other line stays as it was. A line that maps a name to another\n"
	"address stops 'on' unless --force, which disables that line by putting\n"
	"\"" GBCA_HOSTS_DISABLED "\" in front of it; 'off' takes that away again.\n"
	"The first change copies the file to PATH" GBCA_HOSTS_BACKUP_SUFFIX " (never overwritten).\n"
	"Changes are written to a temp file and renamed over the old one; a hosts file\n"
	"that is a bind mount (containers) is rewritten in place instead, in one write.\n"
	"Names are DNS host names; hosts files can't do wildcards.\n"
	"\n"
	"options:\n"
	"  --hosts-file PATH  edit PATH instead of /etc/hosts ($GBCA_SYSROOT/etc/hosts)\n"
	"  --ipv6, --no-ipv6  add ::1 too, or not (on only)\n"
	"  --force            disable conflicting lines instead of stopping (on only)\n"
	"  --json             status as one JSON object\n"
	"  -q, --quiet        print nothing on success\n"
	"  -h, --help         show this help\n";

/* An argument as the shell needs it to come back unchanged. */
static void
shell_word(FILE *out, const char *s)
{
	if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/:=@+-,") == strlen(s)) {
		fputs(s, out);
		return;
	}
	fputc('\'', out);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", out);
		else
			fputc(*s, out);
	}
	fputc('\'', out);
}

/* "run: sudo /usr/local/bin/gbca hosts on ...": this very command, as root. */
static void
print_sudo_hint(int argc, char **argv)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *sysroot = getenv("GBCA_SYSROOT");

	if (n <= 0)
		snprintf(self, sizeof(self), "gbca");
	else
		self[n] = '\0';
	fputs("gbca: this needs root; run: sudo ", stderr);
	if (sysroot && *sysroot) {
		fputs("GBCA_SYSROOT=", stderr);
		shell_word(stderr, sysroot);
		fputc(' ', stderr);
	}
	shell_word(stderr, self);
	fputs(" hosts", stderr);
	for (int i = 1; i < argc; i++) {
		fputc(' ', stderr);
		shell_word(stderr, argv[i]);
	}
	fputc('\n', stderr);
}

static int
run_status(const char *path, char **names, size_t n, bool json)
{
	static const char *const default_names[] = { GBCA_HOSTS_DEFAULT_NAME };
	const char *const *list = n ? (const char *const *)names : default_names;
	bool resolver = gbca_hosts_uses_resolver(path), all_on = true;
	char shown[PATH_MAX];
	struct gbca_err err;

	if (n == 0)
		n = 1;
	if (!gbca_hosts_path(shown, sizeof(shown), path, &err)) {
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	if (json) {
		printf("{\"hosts_file\":");
		gbca_json_string(stdout, shown);
		printf(",\"resolved_by\":\"%s\",\"names\":[", resolver ? "getaddrinfo" : "file");
	}
	for (size_t i = 0; i < n; i++) {
		char addr[512];
		bool on;

		if (!gbca_hosts_status(path, list[i], &on, addr, sizeof(addr), &err)) {
			if (json)
				printf("]}\n");
			gbca_print_error("%s", err.msg);
			return GBCA_EXIT_FAIL;
		}
		all_on = all_on && on;
		if (json) {
			printf("%s{\"name\":", i ? "," : "");
			gbca_json_string(stdout, list[i]);
			printf(",\"on\":%s,\"resolves_to\":[", on ? "true" : "false");
			for (const char *a = addr; *a;) {
				size_t len = strcspn(a, " ");
				printf("%s\"%.*s\"", a == addr ? "" : ",", (int)len, a);
				a += len;
				a += strspn(a, " ");
			}
			printf("],\"loopback\":%s}", gbca_hosts_all_loopback(addr) ? "true" : "false");
			continue;
		}
		printf("%s: %s in %s; resolves to %s%s\n", list[i], on ? "on" : "off", shown,
		       addr[0] ? addr : "nothing",
		       resolver ? "" : " (read from that file, not the system resolver)");
		if (on && !gbca_hosts_all_loopback(addr))
			gbca_print_warning("%s has gbca's entry but resolves to %s; does the 'hosts:' line "
			                   "of /etc/nsswitch.conf start with files?", list[i], addr[0] ? addr : "nothing");
	}
	if (json)
		printf("],\"on\":%s}\n", all_on ? "true" : "false");
	return all_on ? GBCA_EXIT_OK : GBCA_EXIT_FAIL;
}

static int
hosts_main(int argc, char **argv, char **given)
{
	enum { OPT_FILE = 256, OPT_IPV6, OPT_NO_IPV6, OPT_FORCE, OPT_JSON };
	static const struct option longopts[] = {
		{ "hosts-file", required_argument, NULL, OPT_FILE },
		{ "ipv6", no_argument, NULL, OPT_IPV6 },
		{ "no-ipv6", no_argument, NULL, OPT_NO_IPV6 },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *verb;
	int ipv6 = -1, c;
	struct gbca_hosts_change change;
	bool force = false, json = false;
	char report[4096], **names;
	size_t n;
	struct gbca_err err;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hq", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FILE:
			if (optarg[0] == '\0')
				return gbca_usage_error("hosts", "--hosts-file needs a path");
			path = optarg;
			break;
		case OPT_IPV6: ipv6 = 1; break;
		case OPT_NO_IPV6: ipv6 = 0; break;
		case OPT_FORCE: force = true; break;
		case OPT_JSON: json = true; break;
		case 'q': gbca_quiet = true; break;
		case 'h':
			fputs(usage, stdout);
			return GBCA_EXIT_OK;
		default:
			return gbca_bad_option("hosts", argv, c);
		}
	}
	if (optind >= argc)
		return gbca_usage_error("hosts", "say on, off or status");
	verb = argv[optind++];
	names = argv + optind;
	n = (size_t)(argc - optind);
	if (strcmp(verb, "on") && strcmp(verb, "off") && strcmp(verb, "status"))
		return gbca_usage_error("hosts", "unknown subcommand \"%s\"; choose on, off or status", verb);
	if (force && strcmp(verb, "on"))
		return gbca_usage_error("hosts", "--force only goes with 'on'");
	if (ipv6 >= 0 && strcmp(verb, "on"))
		return gbca_usage_error("hosts", "--%sipv6 only goes with 'on' ('off' removes every address)",
		                        ipv6 ? "" : "no-");
	if (json && strcmp(verb, "status"))
		return gbca_usage_error("hosts", "--json only goes with 'status'");
	for (size_t i = 0; i < n; i++) {
		char norm[256];
		if (!gbca_hosts_check_name(names[i], norm, sizeof(norm), &err))
			return gbca_usage_error("hosts", "%s", err.msg);
	}

	if (strcmp(verb, "status") == 0)
		return run_status(path, names, n, json);

	if (ipv6 < 0)
		ipv6 = gbca_hosts_ipv6_default();
	change = (struct gbca_hosts_change){
		.path = path, .names = (const char *const *)names, .n = n,
		.on = strcmp(verb, "on") == 0, .ipv6 = ipv6 == 1, .force = force,
	};
	if (!gbca_hosts_apply(&change, report, sizeof(report), &err)) {
		int e = errno;
		gbca_print_error("%s", err.msg);
		if ((e == EACCES || e == EPERM) && geteuid() != 0)
			print_sudo_hint(argc, given);
		return GBCA_EXIT_FAIL;
	}
	if (!gbca_quiet && report[0])
		printf("%s\n", report);
	return GBCA_EXIT_OK;
}

int
gbca_cmd_hosts(int argc, char **argv)
{
	/* getopt_long reorders argv; the sudo hint repeats it as it was typed */
	char **given = calloc((size_t)argc + 1, sizeof(*given));
	int rc;

	if (given == NULL) {
		gbca_print_error("out of memory");
		return GBCA_EXIT_FAIL;
	}
	memcpy(given, argv, (size_t)argc * sizeof(*given));
	rc = hosts_main(argc, argv, given);
	free(given);
	return rc;
}
