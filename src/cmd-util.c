/* Helpers every command shares: usage errors and --help detection. */
#include "config.h"
#define GBCA_REAL_GETOPT_LONG  /* this file wraps the real one */
#include <gbca/cmd.h>
#include <gbca/store.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* What the last gbca_getopt_long call was given, for gbca_bad_option. */
static const struct option *last_longopts;
static const char *abbreviated;  /* the argv element of a refused abbreviation */

/* Edit distance of a (n bytes) and b, a swap of neighbours counting as one
 * edit (optimal string alignment), or 3 when it is more than 2 or either is
 * too long to be a typo of an option or command name. */
static unsigned
distance(const char *a, size_t n, const char *b)
{
	unsigned d[32][32];
	size_t m = strlen(b);

	if (n >= 32 || m >= 32)
		return 3;
	for (size_t i = 0; i <= n; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= n; i++) {
		for (size_t j = 1; j <= m; j++) {
			unsigned best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[n][m] > 3 ? 3 : d[n][m];
}

int
gbca_did_you_mean(const char *typed, size_t typed_len, const void *first, size_t n, size_t stride,
                  const char *prefix, char *buf, size_t len)
{
	const char *names[16];
	size_t found = 0, used = 0;
	int pass;

	buf[0] = '\0';
	/* Prefixes first (an abbreviation names what it abbreviates); only
	 * when there are none, near misses (a typo). */
	for (pass = 0; pass < 2 && found == 0; pass++) {
		for (size_t i = 0; i < n && found < 16; i++) {
			const char *name = *(const char *const *)(const void *)((const char *)first + i * stride);
			if (name == NULL)
				break;
			if (pass == 0 ? typed_len > 0 && strncmp(name, typed, typed_len) == 0
			              : distance(typed, typed_len, name) <= (strlen(name) > 4 ? 2 : 1))
				names[found++] = name;
		}
	}
	for (size_t i = 0; i < found; i++) {
		int w = snprintf(buf + used, len - used, "%s%s%s", i == 0 ? "" : i + 1 == found ? " or " : ", ",
		                 prefix, names[i]);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
	return found == 0 ? GBCA_MEANT_NONE : pass == 1 ? GBCA_MEANT_PREFIX : GBCA_MEANT_NEAR;
}

int
gbca_getopt_long(int argc, char *const *argv, const char *shortopts,
                 const struct option *longopts, int *longind)
{
	const struct option *o;
	const char *typed, *end;
	int idx = -1, c;

	last_longopts = longopts;
	abbreviated = NULL;
	c = getopt_long(argc, argv, shortopts, longopts, &idx);
	if (longind)
		*longind = idx;
	if (c == -1 || c == '?' || c == ':' || idx < 0)
		return c;
	/* The element getopt just read: the one before optind, or the one
	 * before its value when that came as the next element. */
	o = &longopts[idx];
	typed = argv[optind - 1];
	if (o->has_arg == required_argument && optind >= 2 && optarg == argv[optind - 1])
		typed = argv[optind - 2];
	if (strncmp(typed, "--", 2) != 0)
		return c;
	end = strchr(typed + 2, '=');
	if (strlen(o->name) == (size_t)(end ? end - typed - 2 : (ptrdiff_t)strlen(typed + 2)) &&
	    strncmp(typed + 2, o->name, strlen(o->name)) == 0)
		return c;
	abbreviated = typed;
	optopt = 0;
	return '?';
}

bool
gbca_option_error(char **argv, int opt, struct gbca_err *err)
{
	const char *arg = abbreviated ? abbreviated : argv[optind - 1];
	char hint[512];
	size_t n = 0, len;
	int meant;

	if (opt == ':')
		return gbca_fail(err, "option %s needs a value", arg);
	if (strncmp(arg, "--", 2) != 0 || last_longopts == NULL) {
		if (optopt)
			return gbca_fail(err, "unknown option -%c", optopt);
		return gbca_fail(err, "unknown option %s", arg);
	}
	len = strcspn(arg, "=");
	while (last_longopts[n].name)
		n++;
	for (size_t i = 0; i < n; i++)
		if (arg[len] == '=' && strlen(last_longopts[i].name) == len - 2 &&
		    strncmp(arg + 2, last_longopts[i].name, len - 2) == 0 && last_longopts[i].has_arg == no_argument)
			return gbca_fail(err, "option %.*s takes no value", (int)len, arg);
	meant = gbca_did_you_mean(arg + 2, len - 2, last_longopts, n, sizeof(*last_longopts), "--", hint, sizeof(hint));
	if (meant == GBCA_MEANT_PREFIX)
		return gbca_fail(err, "unknown option %.*s (options are not abbreviated: did you mean %s?)", (int)len, arg, hint);
	if (meant == GBCA_MEANT_NEAR)
		return gbca_fail(err, "unknown option %.*s (did you mean %s?)", (int)len, arg, hint);
	return gbca_fail(err, "unknown option %.*s", (int)len, arg);
}

int
gbca_bad_option(const char *cmd, char **argv, int opt)
{
	struct gbca_err err;

	gbca_option_error(argv, opt, &err);
	return gbca_usage_error(cmd, "%s", err.msg);
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

/* Whether the system bundle holds the root, byte for byte as gbca writes it
 * (the update tools copy the PEM; a re-encoded copy would only cost a
 * needless note). A file read and a memmem: issue stays fast. */
static bool
bundle_has(const char *bundle, const gnutls_datum_t *pem)
{
	const char *body, *end;
	gnutls_datum_t d = { NULL, 0 };
	bool found;

	body = memchr(pem->data, '\n', pem->size);
	end = body ? memmem(body, pem->size - (size_t)(body - (const char *)pem->data), "-----END", 8) : NULL;
	if (end == NULL || gnutls_load_file(bundle, &d) < 0)
		return false;
	found = memmem(d.data, d.size, body, (size_t)(end - body)) != NULL;
	gnutls_free(d.data);
	return found;
}

void
gbca_hint_trust(const char *caroot)
{
	struct gbca_trust_ctx ctx;
	char bundle[PATH_MAX];
	bool trusted;

	if (gbca_quiet || !gbca_system_bundle(bundle, sizeof(bundle)) || !gbca_trust_ctx_init(&ctx, caroot, NULL))
		return;
	trusted = bundle_has(bundle, &ctx.root_pem);
	gbca_trust_ctx_free(&ctx);
	if (trusted)
		return;
	if (geteuid() == 0)
		printf("Note: the system trust store does not trust this CA yet; run: gbca trust\n");
	else
		printf("Note: the system trust store does not trust this CA yet; run: sudo GBCA_CAROOT='%s' gbca trust\n",
		       caroot);
}
