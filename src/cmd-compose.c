/* gbca compose: the docker-compose override (or docker run flags) that lets
 * containers on this host reach gbca serve with TLS checks on. */
#include "config.h"
#include <gbca/cmd.h>
#include <gbca/container.h>
#include <gbca/path.h>
#include <gbca/store.h>

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: gbca compose SERVICE...\n"
	"       gbca compose --docker-run\n"
	"\n"
	"Prints a docker-compose override that lets each SERVICE (a name under\n"
	"services: in your compose file) reach generativelanguage.googleapis.com on\n"
	"this host, with TLS checks on:\n"
	"  extra_hosts   generativelanguage.googleapis.com:host-gateway, the host's\n"
	"                bridge address, where gbca serve must listen (gbca up --bridge)\n"
	"  volumes       CAROOT/container-ca.pem, read-only at /etc/gbca/ca.pem\n"
	"  environment   NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, REQUESTS_CA_BUNDLE and\n"
	"                CURL_CA_BUNDLE naming /etc/gbca/ca.pem\n"
	"Save it beside compose.yaml, where docker compose reads it too:\n"
	"  gbca compose app worker > compose.override.yaml\n"
	"\n"
	"options:\n"
	"  --docker-run   print the same settings as docker run flags, one line\n"
	"                 quoted for the shell: eval \"docker run $(gbca compose --docker-run) IMAGE\"\n"
	"  -h, --help     show this help\n"
	"\n"
	"Each run writes (or refreshes) CAROOT/container-ca.pem: the certificates of\n"
	"the system CA bundle and gbca's root, as those variables replace a client's\n"
	"whole store. After 'gbca init --force', run it again and restart the containers.\n";

static int
run(bool docker_run, char *const *services, size_t n)
{
	struct gbca_trust_ctx ctx;
	struct gbca_container_bundle b;
	struct gbca_strbuf out = { 0 };
	char caroot[PATH_MAX];
	struct gbca_err err;
	bool ok;

	if (!gbca_caroot(caroot, sizeof(caroot), &err) || !gbca_trust_ctx_init(&ctx, caroot, &err)) {
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	ok = gbca_container_bundle_write(&ctx, &b, &err) &&
	     (docker_run ? gbca_container_docker_run(&out, b.path, &err)
	                 : gbca_container_compose(&out, b.path, services, n, &err));
	gbca_trust_ctx_free(&ctx);
	if (!ok) {
		free(out.p);
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	fputs(out.p, stdout);
	free(out.p);
	if (fflush(stdout) != 0) {
		gbca_print_error("couldn't write the output");
		return GBCA_EXIT_FAIL;
	}
	gbca_print_note("%s %s: %u system certificates%s", b.changed ? "wrote" : "kept", b.path, b.n_system,
	                b.root_added ? " and gbca's root" : " (gbca's root among them)");
	gbca_print_note("containers reach gbca serve at the host's bridge address (host-gateway), so serve must "
	                "listen there too: sudo gbca up --bridge (or gbca serve --bridge)");
	return GBCA_EXIT_OK;
}

int
gbca_cmd_compose(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "docker-run", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool docker_run = false;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			docker_run = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return GBCA_EXIT_OK;
		default:
			return gbca_bad_option("compose", argv, c);
		}
	}
	if (docker_run && optind < argc)
		return gbca_usage_error("compose", "--docker-run takes no SERVICE (docker run starts one container)");
	if (!docker_run && optind == argc)
		return gbca_usage_error("compose", "name the services to configure, as in your compose file's "
		                        "services: (gbca compose SERVICE...), or give --docker-run");
	for (int i = optind; i < argc; i++) {
		if (!gbca_container_service_ok(argv[i]))
			return gbca_usage_error("compose", "\"%s\" is not a compose service name (letters, digits, "
			                        "'.', '_' and '-' only)", argv[i]);
		for (int j = optind; j < i; j++)
			if (strcmp(argv[i], argv[j]) == 0)
				return gbca_usage_error("compose", "service \"%s\" is named twice", argv[i]);
	}
	return run(docker_run, argv + optind, (size_t)(argc - optind));
}
