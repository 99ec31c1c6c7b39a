/* gbca serve: the TLS-terminating forwarding proxy. Configuration, the TLS
 * context shared by all sessions, the master/worker processes, connections. */
#ifndef GBCA_PROXY_H
#define GBCA_PROXY_H

#include <gbca/err.h>
#include <gnutls/gnutls.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define GBCA_PROXY_LISTEN_MAX 16
#define GBCA_PROXY_MAX_CONNECTIONS_DEFAULT 10000
/* A client connection needs two descriptors (itself and its upstream); a
 * worker needs this many more: its pool of idle upstream connections (64)
 * and the listeners, log, epoll, signalfd, stdio and friends. */
#define GBCA_PROXY_FD_RESERVE 96
#define GBCA_PROXY_NAMES_MAX 16

struct gbca_listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[80];          /* as given, for messages */
	bool tls;               /* false for --http-listen */
	bool bridge;            /* --bridge: bound with IP_FREEBIND */
};

/* A network of the client allowlist (--allow): net holds the address with
 * the host bits cleared (4 bytes for AF_INET, 16 for AF_INET6). */
struct gbca_cidr {
	uint8_t family;         /* AF_INET or AF_INET6 */
	uint8_t bits;           /* prefix length */
	uint8_t net[16];
	uint8_t why;            /* enum gbca_allow_why: where it came from */
};
enum gbca_allow_why { GBCA_ALLOW_GIVEN, GBCA_ALLOW_ON_LINK, GBCA_ALLOW_BRIDGE };
#define GBCA_PROXY_ALLOW_MAX 64

#define GBCA_GOOGLE_HOST "generativelanguage.googleapis.com"
#define GBCA_GOOGLE_ADDRS_MAX 8

/* The real Google's addresses for --google-passthrough, looked up by the
 * master through DNS (never the hosts file) and shared with the workers in a
 * MAP_SHARED page; seq is odd while the master writes. */
struct gbca_google {
	volatile uint32_t seq;
	uint32_t n;
	struct sockaddr_storage addrs[GBCA_GOOGLE_ADDRS_MAX];
	volatile uint32_t stale;   /* set by a worker that couldn't connect: look up again soon */
};

/* A/AAAA records of name from the DNS servers in resolv.conf (no hosts file). */
size_t gbca_dns_lookup(const char *name, uint16_t port, struct sockaddr_storage *out, size_t max);
/* The shared page's seqlock: the master publishes n (> 0) addresses; a
 * worker picks address i % n into *ss and gets n (0: none yet). */
void gbca_addrs_publish(struct gbca_google *g, const struct sockaddr_storage *addrs, size_t n);
uint32_t gbca_addrs_pick(const struct gbca_google *g, unsigned i, struct sockaddr_storage *ss);

struct gbca_proxy_config {
	struct gbca_listen_addr listen[GBCA_PROXY_LISTEN_MAX];
	size_t n_listen;
	bool listen_set;                        /* --listen given: no defaults */
	char upstream_url[512];
	char upstream_host[256];                /* for connect() and messages */
	char upstream_port[8];
	struct sockaddr_storage upstream_ss;
	socklen_t upstream_len;
	char names[GBCA_PROXY_NAMES_MAX][256];  /* served names (SNI, leaf SANs) */
	size_t n_names;
	char cert_file[PATH_MAX], key_file[PATH_MAX];  /* --cert/--key: no issuing */
	char caroot[PATH_MAX];
	char access_log[PATH_MAX];              /* "" = stderr, "off" = none */
	char pid_file[PATH_MAX];                /* "" = CAROOT/serve.pid, "off" = none */
	char cors[256];                         /* "" = off */
	char user[64];                          /* drop to this user when root */
	unsigned workers;
	unsigned max_connections;
	unsigned header_timeout_s, idle_timeout_s, connect_timeout_s, upstream_timeout_s, drain_timeout_s;
	bool google_passthrough;
	bool quiet;
	struct gbca_google *google;             /* set by the master when passing through */
	/* An https:// upstream (issue 12): TLS verified with the system store or
	 * --upstream-ca, SNI and Host set to upstream_authority, upstream_prefix
	 * before every path; reached directly or through an HTTP CONNECT proxy. */
	bool upstream_tls;
	char upstream_prefix[256];              /* "" or "/a/b": no trailing slash */
	char upstream_ca[PATH_MAX];             /* --upstream-ca: "" = the system store */
	char upstream_proxy[512];               /* --upstream-proxy as given: "", "env" or http://HOST[:PORT] */
	char upstream_authority[280];           /* host[:port] (port left out when default), for Host */
	char upstream_origin[300];              /* scheme://authority, for rewriting response headers */
	bool upstream_via_proxy;                /* CONNECT through the proxy below (after NO_PROXY) */
	char upstream_proxy_host[256];
	char upstream_proxy_port[8];
	struct sockaddr_storage upstream_proxy_ss;
	socklen_t upstream_proxy_len;
	/* The upstream host's addresses, looked up again by the master every
	 * minute (getaddrinfo: the hosts file counts) and shared with the
	 * workers like google; NULL for an address. */
	struct gbca_google *upstream_addrs;
	/* Clients allowed besides loopback: --allow's networks, or (none
	 * given) the listeners' on-link networks, found by the master. */
	struct gbca_cidr allow[GBCA_PROXY_ALLOW_MAX];
	size_t n_allow;
	bool allow_any;                         /* --allow any */
	bool allow_set;                         /* --allow given: no default networks */
	/* --bridge: "" to find docker0, podman0 or cni-podman0, else the
	 * interface or address given; its listener is in listen[]. */
	char bridge[64];
	bool bridge_set;
};

void gbca_proxy_config_defaults(struct gbca_proxy_config *c);

/* Parses "127.0.0.1:443", "[::1]:443", ":8443" (all IPv4), "443". */
bool gbca_proxy_parse_listen(const char *s, bool tls, struct gbca_listen_addr *out, struct gbca_err *err);
/* Parses "http(s)://host[:port][/prefix]" (ports 80/443 by default; no
 * userinfo, query or fragment) and resolves host. */
bool gbca_proxy_parse_upstream(const char *url, struct gbca_proxy_config *c, struct gbca_err *err);
/* The same without the lookup (upstream_len 0): gbca_proxy_config_finish
 * looks the host up, and a name that does not resolve yet is a warning. */
bool gbca_proxy_parse_upstream_url(const char *url, struct gbca_proxy_config *c, struct gbca_err *err);
/* Parses --upstream-proxy: "env" or "http://host[:port]" (default port 80). */
bool gbca_proxy_parse_upstream_proxy(const char *v, struct gbca_proxy_config *c, struct gbca_err *err);
/* Once every source is read: refuses an upstream that is a served name (a
 * loop), and settles the proxy (HTTPS_PROXY/NO_PROXY for "env") and resolves it. */
bool gbca_proxy_config_finish(struct gbca_proxy_config *c, struct gbca_err *err);
/* Whether NO_PROXY-style list (comma/space separated: "*", "host",
 * ".suffix", "suffix", optional ":port") exempts host:port from the proxy. */
bool gbca_proxy_no_proxy(const char *list, const char *host, const char *port);

/* The TLS side: one priority cache and credentials for all sessions, and one
 * session-ticket key shared by every worker. */
struct gbca_tls {
	gnutls_priority_t priority;
	gnutls_certificate_credentials_t creds;
	gnutls_datum_t ticket_key;
	/* When the first leaf from CAROOT/serve/ is due for renewal (a third of
	 * its life left), seconds since the epoch; 0: none is (--cert/--key, or
	 * leaves that end with the CA, which a new leaf could not outlive). */
	uint64_t renew_at;
	gnutls_certificate_credentials_t google_creds;  /* system trust, for --google-passthrough */
	gnutls_certificate_credentials_t upstream_creds; /* an https upstream: system trust or --upstream-ca */
};

/* Loads --cert/--key, or issues (or reuses) a leaf for the names from CAROOT
 * (kept in CAROOT/serve/). */
bool gbca_tls_load(struct gbca_tls *t, const struct gbca_proxy_config *c, struct gbca_err *err);
void gbca_tls_free(struct gbca_tls *t);
/* The server's priority string: TLS 1.3 and 1.2, AEAD only, AES-GCM first. */
extern const char gbca_tls_priority[];

/* Runs the proxy: binds (or takes LISTEN_FDS), forks the workers, handles
 * SIGHUP (reload), SIGTERM/SIGINT (drain and stop). Returns an exit code. */
int gbca_proxy_run(struct gbca_proxy_config *c);

/* One worker: the event loop over the inherited listening sockets. */
int gbca_worker_main(const struct gbca_proxy_config *c, struct gbca_tls *tls, const int *fds,
                     const bool *tls_fds, size_t n_fds);

#endif
