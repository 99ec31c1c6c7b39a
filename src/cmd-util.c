/* Helpers every command shares: usage errors and --help detection. */
#include "config.h"
#include <gbca/cmd.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
gbca_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("gbca: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see 'gbca %s%s--help'\n", cmd ? cmd : "", cmd ? " " : "");
	return GBCA_EXIT_USAGE;
}

int
gbca_bad_option(const char *cmd, char **argv, int opt)
{
	const char *arg = argv[optind - 1];

	if (opt == ':')
		return gbca_usage_error(cmd, "option %s needs a value", arg);
	if (optopt)
		return gbca_usage_error(cmd, "unknown option -%c", optopt);
	return gbca_usage_error(cmd, "unknown option %s", arg);
}

bool
gbca_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}


bool
gbca_parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v < lo || v > hi)
		return false;
	*out = (unsigned)v;
	return true;
}
