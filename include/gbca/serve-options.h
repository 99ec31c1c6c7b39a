/* gbca serve's options: the config file, GBCA_* variables and flags, in that
 * order (later wins), read into a proxy configuration. 'gbca serve' and
 * 'gbca up' share it, so the options after 'up --' mean what serve's mean. */
#ifndef GBCA_SERVE_OPTIONS_H
#define GBCA_SERVE_OPTIONS_H

#include <gbca/err.h>
#include <gbca/proxy.h>

#define GBCA_SERVE_CONFIG "/etc/gbca/serve.conf"

enum gbca_serve_parse {
	GBCA_SERVE_PARSED,     /* c is complete (defaults filled in) */
	GBCA_SERVE_HELP,       /* -h/--help was given: nothing else done */
	GBCA_SERVE_USAGE,      /* a bad option or value: err says which */
	GBCA_SERVE_FAILED,     /* the config file or environment could not be used */
};

/* Reads serve's options from argv[1..argc-1] (argv[0] is a name for
 * messages only) on top of the config file and the GBCA_* variables, then
 * fills what none of them set: the listeners 127.0.0.1:443 and [::1]:443,
 * the upstream http://127.0.0.1:8000, the Google name, CAROOT. Uses a
 * getopt pass of its own (optind is reset and not left meaningful).
 * A listen address without a host (PORT, :PORT) means 127.0.0.1 and ::1;
 * one that is not a loopback address gets a warning on stderr. */
enum gbca_serve_parse gbca_serve_options(int argc, char **argv, struct gbca_proxy_config *c,
                                         struct gbca_err *err);

#endif
