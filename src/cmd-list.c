/* gbca list: the certificates this CA issued, from CAROOT/issued.log. */
#include "config.h"
#include <gbca/strbuf.h>
#include <gbca/cmd.h>
#include <gbca/ledger.h>
#include <gbca/names.h>
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
	"  --json       a JSON array of objects (serial, not_after, days_left,\n"
	"               sha256, names as an array of strings, file)\n"
	"  -h, --help   show this help\n";

/* Names wider than this push FILE to the right on their own row only. */
#define NAMES_COLUMN_MAX 48

struct list_state {
	bool json;
	size_t count;
	int names_width;
	time_t now;
};

static bool
measure(const struct gbca_ledger_entry *e, void *data)
{
	struct list_state *s = data;
	int w = (int)strlen(e->names);

	if (w > s->names_width)
		s->names_width = w > NAMES_COLUMN_MAX ? NAMES_COLUMN_MAX : w;
	return true;
}

/* The log keeps the names space-separated; a name never holds a space. */
static void
print_json_names(const char *names)
{
	char one[GBCA_NAME_MAX + 1];
	const char *p = names;
	bool first = true;

	putchar('[');
	while (*p) {
		size_t n = strcspn(p, " ");
		if (n > 0) {
			snprintf(one, sizeof(one), "%.*s", (int)n, p);
			if (!first)
				putchar(',');
			gbca_json_string(stdout, one);
			first = false;
		}
		p += n;
		p += strspn(p, " ");
	}
	putchar(']');
}

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
		printf("%s{\"serial\":\"%s\",\"not_after\":\"%s\",\"days_left\":%ld,\"sha256\":\"%s\",\"names\":",
		       s->count ? ",\n" : "\n", e->serial, date, days, e->sha256);
		print_json_names(e->names);
		printf(",\"file\":");
		gbca_json_string(stdout, e->file);
		printf("}");
	} else {
		if (s->count == 0)
			printf("%-16s  %-10s  %9s  %-*s  %s\n", "SERIAL", "EXPIRES", "DAYS LEFT", s->names_width, "NAMES", "FILE");
		printf("%.16s  %-10s  %9ld  %-*s  %s%s\n", e->serial, date, days, s->names_width, e->names, e->file,
		       days < 0 ? " (expired)" : "");
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
	s.names_width = (int)strlen("NAMES");
	if (s.json)
		putchar('[');
	if (!gbca_caroot(dir, sizeof(dir), &err) || (!s.json && !gbca_ledger_read(dir, measure, &s, &err)) ||
	    !gbca_ledger_read(dir, print_entry, &s, &err)) {
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	if (s.json)
		printf("%s]\n", s.count ? "\n" : "");
	if (s.count == 0 && !s.json)
		fprintf(stderr, "gbca: no certificates issued yet by the CA in %s; make one with: gbca issue\n", dir);
	return GBCA_EXIT_OK;
}
