/* Reaching an upstream one step at a time, as gbca serve reaches it, for
 * gbca doctor: the name, a TCP connection (through an HTTP CONNECT proxy
 * when one is set), a verified TLS handshake for an https:// upstream, and
 * one GET whose response head is parsed as serve parses it. Each step says
 * what failed in words a user can act on. */
#ifndef GBCA_PROBE_H
#define GBCA_PROBE_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <stdbool.h>

enum gbca_probe_step {
	GBCA_PROBE_OK = 0,
	GBCA_PROBE_DNS,         /* a name does not resolve */
	GBCA_PROBE_CONNECT,     /* no TCP connection: refused, timed out, unreachable */
	GBCA_PROBE_PROXY,       /* the proxy did not open the tunnel (CONNECT) */
	GBCA_PROBE_TLS,         /* the handshake or the verification failed */
	GBCA_PROBE_HTTP,        /* no HTTP answer (the status itself is the caller's to judge) */
};

struct gbca_probe {
	/* what to reach */
	const char *host, *port;                /* the upstream */
	bool tls;                               /* https://: verify it, SNI = host */
	const char *ca_file;                    /* NULL or "": the system store */
	const char *proxy_host, *proxy_port;    /* NULL: straight to the upstream */
	const char *target;                     /* the GET's request target */
	const char *host_header;
	const char *api_key;                    /* sent as x-goog-api-key; NULL: none */
	unsigned connect_timeout_ms, io_timeout_ms;
	/* what happened */
	enum gbca_probe_step failed;
	bool at_proxy;                          /* the failure was the proxy's (its name, its port) */
	struct sockaddr_storage upstream_ss;    /* the upstream's address, once resolved */
	char addr[INET6_ADDRSTRLEN];            /* the address connected to (the proxy's when via one) */
	char tls_desc[128];                     /* after a verified handshake: protocol, what verified it */
	int status;                             /* the HTTP status, 0 without an answer */
	char status_line[128];                  /* printable, without the CRLF */
	char why[512];                          /* the failure, one line */
};

/* Runs the steps in order and stops at the first failure (p->failed,
 * p->why); GBCA_PROBE_OK when an HTTP response head came back, whatever
 * its status. Every wait is bounded by the two timeouts. */
void gbca_probe_run(struct gbca_probe *p);

/* A blocking TCP socket connected to sa within ms, whose writes never wait
 * longer than io_ms; or -1 with errno (ETIMEDOUT when ms ran out). */
int gbca_probe_connect(const struct sockaddr *sa, socklen_t len, unsigned ms, unsigned io_ms);

#endif
