/* gbca serve: its options (serve-options.c), then the proxy. */
#include "config.h"
#include <gbca/cmd.h>
#include <gbca/proxy.h>
#include <gbca/serve-options.h>

#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
	"usage: gbca serve [OPTIONS]\n"
	"\n"
	"Terminates TLS for generativelanguage.googleapis.com (and --name) with a\n"
	"leaf from the CA in CAROOT, and forwards HTTP/1.1 to the upstream (Gemini\n"
	"Balance). Streams bodies both ways, keeps connections alive, tunnels\n"
	"WebSockets, answers errors in Google's JSON envelope, and refuses (508) to\n"
	"hand a real Google API key (AIza...) to the upstream.\n"
	"\n"
	"options (config-file keys are the same names without --):\n"
	"  --listen ADDR:PORT        TLS listener (repeatable; default 127.0.0.1:443 and [::1]:443);\n"
	"                            PORT or :PORT alone means 127.0.0.1 and ::1; any other\n"
	"                            address (0.0.0.0:PORT) opens the proxy to the network\n"
	"                            and gets a warning unless --allow says who may come\n"
	"  --allow CIDR|ADDR|any     clients allowed besides loopback (repeatable; 198.18.1.0/24,\n"
	"                            2001:db8::/64, an address alone, or any); others are\n"
	"                            closed at accept, before TLS, and logged (10 lines a\n"
	"                            minute per worker, then a count). Default: the on-link\n"
	"                            networks of the interfaces that carry the listeners\n"
	"                            (all interfaces' for 0.0.0.0 or [::]), said at start\n"
	"  --bridge[=IFACE|ADDR]     also listen on the container bridge's gateway (docker0,\n"
	"                            else podman0, cni-podman0; or the one given), same\n"
	"                            port as the first --listen (443), and allow the\n"
	"                            bridges' networks (docker0, br-*, podman*); ADDR is\n"
	"                            bound even before it exists (IP_FREEBIND)\n"
	"  --http-listen ADDR:PORT   plain-HTTP listener (repeatable; default none; PORT\n"
	"                            alone: loopback, as for --listen)\n"
	"  --upstream URL            default http://127.0.0.1:8000\n"
	"  --name NAME               served name (repeatable; default generativelanguage.googleapis.com)\n"
	"  --cert FILE --key FILE    use this certificate and key instead of issuing one\n"
	"  --workers N               worker processes (default: one per core)\n"
	"  --max-connections N       client connections in all (default 10000, or what\n"
	"                            the descriptor limit fits)\n"
	"  --cors ORIGIN|*           answer CORS preflights and add the CORS headers\n"
	"  --google-passthrough      send requests with a real Google key (AIza...) to the\n"
	"                            real Google (found through DNS, verified with the\n"
	"                            system trust store) instead of answering 508\n"
	"  --access-log FILE|off     one line per request (default: stderr)\n"
	"  --user USER               run workers as USER when started as root (default nobody)\n"
	"  --pid-file FILE|off       the master's pid, for 'gbca down' (default CAROOT/serve.pid)\n"
	"  --header-timeout S        to receive a request head (default 30)\n"
	"  --idle-timeout S          keep-alive idle time (default 75)\n"
	"  --connect-timeout S       to connect to the upstream (default 10)\n"
	"  --upstream-timeout S      upstream silence allowed, not a total (default 960)\n"
	"  --drain-timeout S         SIGTERM waits this long for requests (default 30;\n"
	"                            after SIGHUP, old workers wait --upstream-timeout)\n"
	"  --config FILE             default " GBCA_SERVE_CONFIG " when it exists\n"
	"  -q, --quiet               no start-up line\n"
	"  -h, --help                show this help\n"
	"\n"
	"Environment: GBCA_LISTEN, GBCA_HTTP_LISTEN, GBCA_ALLOW (lists: commas or spaces),\n"
	"GBCA_UPSTREAM, GBCA_NAMES, GBCA_WORKERS, GBCA_CORS, GBCA_ACCESS_LOG, GBCA_USER. Flags win over\n"
	"the environment, which wins over the file. SIGHUP re-reads the certificates,\n"
	"SIGTERM stops after in-flight requests. systemd socket activation works\n"
	"(LISTEN_FDS; a socket named \"http\" is plain HTTP).\n";

int
gbca_cmd_serve(int argc, char **argv)
{
	struct gbca_proxy_config *c = calloc(1, sizeof(*c));
	struct gbca_err err;
	int rc = GBCA_EXIT_FAIL;

	if (c == NULL) {
		gbca_print_error("out of memory");
		return GBCA_EXIT_FAIL;
	}
	switch (gbca_serve_options(argc, argv, c, &err)) {
	case GBCA_SERVE_PARSED:
		rc = gbca_proxy_run(c) == 0 ? GBCA_EXIT_OK : GBCA_EXIT_FAIL;
		break;
	case GBCA_SERVE_HELP:
		fputs(usage, stdout);
		rc = GBCA_EXIT_OK;
		break;
	case GBCA_SERVE_USAGE:
		rc = gbca_usage_error("serve", "%s", err.msg);
		break;
	case GBCA_SERVE_FAILED:
		gbca_print_error("%s", err.msg);
		break;
	}
	free(c);
	return rc;
}
