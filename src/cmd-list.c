/* gbca list: the certificates this CA issued, from CAROOT/issued.log. */
#include "config.h"
#include <gbca/strbuf.h>
#include <gbca/cmd.h>
#include <gbca/ledger.h>
#include <gbca/path.h>

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char usage[] =
	"usage: gbca list [--json]\n"
	"\n"
	"Lists the certificates issued by the CA in CAROOT: serial, expiry, days left\n"
	"(negative once expired), names and the file written.\n"
	"\n"
	"options:\n"
	"  --json       one JSON object per line\n"
	"  -h, --help   show this help\n";

struct list_state {
	bool json;
	size_t count;
	time_t now;
};

static bool
print_entry(const struct gbca_ledger_entry *e, void *data)
{
	struct list_state *s = data;
	long days = (long)((e->not_after - s->now) / 86400);
	char date[32];
	struct tm tm;

	if (e->not_after < s->now)
		days = -(long)((s->now - e->not_after + 86399) / 86400);
	gmtime_r(&e->not_after, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	if (s->json) {
		printf("{\"serial\":\"%s\",\"not_after\":\"%s\",\"days_left\":%ld,\"sha256\":\"%s\",\"names\":",
		       e->serial, date, days, e->sha256);
		gbca_json_string(stdout, e->names);
		printf(",\"file\":");
		gbca_json_string(stdout, e->file);
		printf("}\n");
	} else {
		if (s->count == 0)
			printf("%-16s  %-10s  %9s  %s\n", "SERIAL", "EXPIRES", "DAYS LEFT", "NAMES");
		printf("%.16s  %-10s  %9ld  %s%s\n", e->serial, date, days, e->names, days < 0 ? " (expired)" : "");
	}
	s->count++;
	return true;
}

int
gbca_cmd_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct list_state s = { .now = time(NULL) };
	char dir[PATH_MAX];
	struct gbca_err err;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': s.json = true; break;
		case 'h':
			fputs(usage, stdout);
			return GBCA_EXIT_OK;
		default:
			return gbca_bad_option("list", argv, c);
		}
	}
	if (optind < argc)
		return gbca_usage_error("list", "unexpected argument \"%s\"", argv[optind]);
	if (!gbca_caroot(dir, sizeof(dir), &err) || !gbca_ledger_read(dir, print_entry, &s, &err)) {
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	if (s.count == 0 && !s.json)
		fprintf(stderr, "gbca: no certificates issued yet by the CA in %s; make one with: gbca issue\n", dir);
	return GBCA_EXIT_OK;
}
