/* gbca export: the root certificate (never its key), its fingerprint, what it
 * can sign for, and the command a teammate runs to trust it (gbca join). */
#include "config.h"
#include <gbca/ca.h>
#include <gbca/cmd.h>
#include <gbca/lan.h>
#include <gbca/path.h>
#include <gbca/strbuf.h>

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: gbca export [--host HOST[:PORT]] [--json]\n"
	"\n"
	"Prints the CA's root certificate (never its key) for teammates on a LAN:\n"
	"comment lines with its SHA-256 fingerprint, the names it can sign for (its\n"
	"name constraints) and the command a teammate runs to trust it, then the PEM.\n"
	"'gbca export > root.pem' gives a PEM file that OpenSSL, GnuTLS, Node and\n"
	"Python read as it is (they skip the comment lines).\n"
	"\n"
	"On a teammate's machine, with gbca serve running here on a LAN address:\n"
	"  sudo gbca join HOST --fingerprint SHA256:...\n"
	"fetches the root from serve's TLS handshake and trusts it only if its\n"
	"fingerprint is that one.\n"
	"\n"
	"options:\n"
	"  --host HOST[:PORT]  the address teammates reach serve at, for the join\n"
	"                      command (default: this machine's IPv4 address on its\n"
	"                      default route, else the first one that is not the\n"
	"                      loopback; PORT only when not 443)\n"
	"  --json              one JSON object: fingerprint, permitted, join, pem\n"
	"  -h, --help          show this help\n";

/* permitted is "a, b, c": a JSON array of its items. */
static void
json_list(const char *permitted)
{
	char one[300];
	bool first = true;

	printf("[");
	while (*permitted) {
		size_t n = strcspn(permitted, ",");
		snprintf(one, sizeof(one), "%.*s", (int)(n < sizeof(one) ? n : sizeof(one) - 1), permitted);
		printf("%s", first ? "" : ",");
		gbca_json_string(stdout, one);
		first = false;
		permitted += n;
		permitted += strspn(permitted, ", ");
	}
	printf("]");
}

int
gbca_cmd_export(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char caroot[PATH_MAX], host[300] = "", fp_s[GBCA_LAN_FP_LEN], permitted[1024], join[512];
	unsigned char fp[32];
	gnutls_datum_t pem = { NULL, 0 };
	char *pem_s = NULL;
	struct gbca_ca ca;
	struct gbca_err err;
	bool json = false, has_dns = false;
	int c, rc = GBCA_EXIT_FAIL;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'H':
			if (optarg[0] == '\0' || strlen(optarg) >= sizeof(host) || strpbrk(optarg, " \t\n\r'\"\\;&|$`<>"))
				return gbca_usage_error("export", "--host wants a host name or address (and :PORT), not \"%s\"", optarg);
			snprintf(host, sizeof(host), "%s", optarg);
			break;
		case 'j': json = true; break;
		case 'h': fputs(usage, stdout); return GBCA_EXIT_OK;
		default: return gbca_bad_option("export", argv, c);
		}
	}
	if (optind < argc)
		return gbca_usage_error("export", "unexpected argument \"%s\"", argv[optind]);
	if (!gbca_caroot(caroot, sizeof(caroot), &err) || !gbca_ca_load(caroot, false, &ca, &err)) {
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	if (!gbca_lan_crt_fingerprint(ca.crt, fp) || gnutls_x509_crt_export2(ca.crt, GNUTLS_X509_FMT_PEM, &pem) < 0) {
		gbca_print_error("couldn't encode the root in %s", caroot);
		goto out;
	}
	if (!gbca_lan_permitted(ca.crt, permitted, sizeof(permitted), &has_dns, &err)) {
		gbca_print_error("%s", err.msg);
		goto out;
	}
	if ((pem_s = strndup((const char *)pem.data, pem.size)) == NULL) {
		gbca_print_error("out of memory");
		goto out;
	}
	gbca_lan_format_fingerprint(fp, fp_s);
	if (host[0] == '\0')
		gbca_lan_own_address(host, sizeof(host));
	snprintf(join, sizeof(join), "sudo gbca join %s --fingerprint %s", host, fp_s);
	if (!has_dns)
		gbca_print_warning("this root has no name constraints for DNS names, so 'gbca join' refuses it: a teammate "
		                   "trusting it would trust its key for every site. Make a constrained one with: "
		                   "gbca init --force (then gbca trust and restart gbca serve)");
	if (json) {
		printf("{\"fingerprint\":");
		gbca_json_string(stdout, fp_s);
		printf(",\"permitted\":");
		json_list(permitted);
		printf(",\"join\":");
		gbca_json_string(stdout, join);
		printf(",\"pem\":");
		gbca_json_string(stdout, pem_s);
		printf("}\n");
	} else {
		printf("# gbca root CA; its key stays on this machine\n"
		       "# fingerprint: %s\n"
		       "# signs only for: %s\n"
		       "# teammates trust it and reach gbca serve here with:\n"
		       "#   %s\n"
		       "%s",
		       fp_s, permitted[0] ? permitted : "(anything: no name constraints)", join, pem_s);
	}
	rc = GBCA_EXIT_OK;
out:
	free(pem_s);
	gnutls_free(pem.data);
	gbca_ca_free(&ca);
	return rc;
}
