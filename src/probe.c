/* gbca doctor's upstream probe: DNS, TCP, the proxy's CONNECT, TLS, HTTP,
 * one step after the other on a blocking socket whose every wait is bounded
 * (poll for connect and plain reads, GnuTLS's pull timeout for TLS). */
#include "config.h"
#include <gbca/http1.h>
#include <gbca/probe.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* The largest response head read back (the status line is what counts). */
#define PROBE_HEAD_MAX (16 * 1024)

struct link {
	int fd;
	gnutls_session_t tls;                   /* NULL for plain HTTP */
	gnutls_certificate_credentials_t creds;
	struct timespec deadline;
};

static void
fail(struct gbca_probe *p, enum gbca_probe_step step, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
fail(struct gbca_probe *p, enum gbca_probe_step step, const char *fmt, ...)
{
	va_list ap;

	p->failed = step;
	va_start(ap, fmt);
	vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
}

static int
ms_left(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000LL + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > 600000 ? 600000 : (int)ms;
}

static void
set_deadline(struct timespec *d, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, d);
	d->tv_sec += ms / 1000;
	d->tv_nsec += (long)(ms % 1000) * 1000000;
	if (d->tv_nsec >= 1000000000) {
		d->tv_sec++;
		d->tv_nsec -= 1000000000;
	}
}

/* bytes as text for a one-line message: control bytes as '.' */
static void
printable(char *out, size_t cap, const char *in, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < cap && i < n; i++)
		out[i] = (unsigned char)in[i] >= 0x20 && (unsigned char)in[i] < 0x7f ? in[i] : '.';
	out[i] = '\0';
}

/* getaddrinfo's first answer, as serve takes it; 0 or its error */
static int
resolve(const char *host, const char *port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints, *res = NULL;
	int ret;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((ret = getaddrinfo(host, port, &hints, &res)) != 0)
		return ret;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int
gbca_probe_connect(const struct sockaddr *sa, socklen_t len, unsigned ms, unsigned io_ms)
{
	struct timeval tv = { (time_t)(io_ms / 1000), (suseconds_t)(io_ms % 1000) * 1000 };
	struct pollfd pfd;
	struct timespec deadline;
	socklen_t el = sizeof(int);
	int fd, e = 0, n;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	set_deadline(&deadline, ms);
	if (connect(fd, sa, len) < 0) {
		if (errno != EINPROGRESS) {
			e = errno;
			goto err;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		while ((n = poll(&pfd, 1, ms_left(&deadline))) < 0 && errno == EINTR)
			;
		if (n <= 0) {
			e = n == 0 ? ETIMEDOUT : errno;
			goto err;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
			e = errno;
		if (e)
			goto err;
	}
	/* blocking from here; a write never waits longer than io_ms */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		e = errno;
		goto err;
	}
	return fd;
err:
	close(fd);
	errno = e;
	return -1;
}

static const char *
connect_error(int e)
{
	switch (e) {
	case ECONNREFUSED: return "Connection refused (nothing listens there)";
	case ETIMEDOUT: return "no answer in time (a firewall, or the wrong address?)";
	case ENETUNREACH: case EHOSTUNREACH: return "unreachable (no route to it from here)";
	default: return strerror(e);
	}
}

/* Sends all of buf; false with errno (or a GnuTLS error in *gerr). */
static bool
link_send(struct link *l, const char *buf, size_t n, int *gerr)
{
	*gerr = 0;
	while (n > 0) {
		ssize_t w;
		if (l->tls) {
			w = gnutls_record_send(l->tls, buf, n);
			if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
				continue;
			if (w < 0) {
				*gerr = (int)w;
				return false;
			}
		} else {
			w = send(l->fd, buf, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return false;
		}
		buf += w;
		n -= (size_t)w;
	}
	return true;
}

/* Up to cap bytes: > 0, 0 at the end, -1 on an error or at the deadline
 * (why filled). */
static ssize_t
link_recv(struct link *l, char *buf, size_t cap, char *why, size_t why_len)
{
	for (;;) {
		int left = ms_left(&l->deadline);
		ssize_t n;

		if (l->tls) {
			gnutls_record_set_timeout(l->tls, left ? (unsigned)left : 1);
			n = gnutls_record_recv(l->tls, buf, cap);
			/* a TLS 1.3 ticket comes back as AGAIN: read on, within the deadline */
			if ((n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) && left > 0)
				continue;
			if (n == GNUTLS_E_PREMATURE_TERMINATION)
				return 0;       /* closed without close_notify: an end all the same */
			if (n < 0) {
				snprintf(why, why_len, "%s", n == GNUTLS_E_TIMEDOUT || n == GNUTLS_E_AGAIN
				         ? "no answer in time" : gnutls_strerror((int)n));
				return -1;
			}
			return n;
		}
		struct pollfd pfd = { l->fd, POLLIN, 0 };
		int r = poll(&pfd, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(why, why_len, "%s", r == 0 ? "no answer in time" : strerror(errno));
			return -1;
		}
		n = recv(l->fd, buf, cap, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, why_len, "%s", strerror(errno));
			return -1;
		}
		return n;
	}
}

/* Reads a response head into buf and parses it as serve does. Returns the
 * status, or 0 with why set: what came instead of a head. */
static int
read_response(struct link *l, char *buf, size_t cap, struct http1_response *r, char *why, size_t why_len)
{
	size_t got = 0, scanned = 0, head = 0;
	const char *perr = NULL;
	char shown[64];
	ssize_t n;

	while (head == 0) {
		if (got == cap) {
			snprintf(why, why_len, "its answer's head is longer than %zu bytes", cap);
			return 0;
		}
		if ((n = link_recv(l, buf + got, cap - got, why, why_len)) < 0)
			return 0;
		if (n == 0) {
			if (got == 0) {
				snprintf(why, why_len, "it closed the connection without a word");
				return 0;
			}
			break;
		}
		got += (size_t)n;
		head = http1_head_end(buf, got, &scanned);
	}
	if (head && http1_parse_response(buf, head, false, r, &perr) == 0)
		return r->status;
	printable(shown, sizeof(shown), buf, got);
	if (got >= 5 && strncmp(buf, "HTTP/", 5) == 0)
		snprintf(why, why_len, "a malformed HTTP answer (%s): \"%s\"", perr ? perr : "cut short", shown);
	else
		snprintf(why, why_len, "it sent \"%s\"", shown);
	return 0;
}

/* The first line of buf, printable, into out. */
static void
first_line(char *out, size_t cap, const char *buf)
{
	printable(out, cap, buf, strcspn(buf, "\r\n"));
}

/* CONNECT host:port through the proxy: true once it answered 2xx. */
static bool
proxy_connect(struct gbca_probe *p, struct link *l)
{
	char req[768], buf[4096], why[160], line[128];
	struct http1_response r;
	size_t got = 0, scanned = 0, head = 0;
	const char *perr = NULL;
	bool v6 = strchr(p->host, ':') != NULL;
	int gerr, n;
	ssize_t k;

	n = snprintf(req, sizeof(req), "CONNECT %s%s%s:%s HTTP/1.1\r\nHost: %s%s%s:%s\r\n\r\n",
	             v6 ? "[" : "", p->host, v6 ? "]" : "", p->port, v6 ? "[" : "", p->host, v6 ? "]" : "", p->port);
	if (n < 0 || (size_t)n >= sizeof(req) || !link_send(l, req, (size_t)n, &gerr)) {
		fail(p, GBCA_PROBE_PROXY, "sending CONNECT to the proxy %s port %s: %s", p->proxy_host, p->proxy_port, strerror(errno));
		return false;
	}
	/* byte by byte to the end of the head: what follows is the upstream's */
	while (head == 0 && got < sizeof(buf)) {
		if ((k = link_recv(l, buf + got, 1, why, sizeof(why))) <= 0) {
			fail(p, GBCA_PROBE_PROXY, "the proxy %s port %s gave no answer to CONNECT %s:%s: %s", p->proxy_host,
			     p->proxy_port, p->host, p->port, k == 0 ? "it closed the connection" : why);
			return false;
		}
		got++;
		head = http1_head_end(buf, got, &scanned);
	}
	buf[got < sizeof(buf) ? got : sizeof(buf) - 1] = '\0';
	first_line(line, sizeof(line), buf);
	if (head == 0 || http1_parse_response(buf, head, true, &r, &perr) != 0) {
		fail(p, GBCA_PROBE_PROXY, "the proxy %s port %s gave no HTTP answer to CONNECT: \"%s\"", p->proxy_host,
		     p->proxy_port, line);
		return false;
	}
	if (r.status / 100 != 2) {
		fail(p, GBCA_PROBE_PROXY, "the proxy %s port %s refused CONNECT %s:%s: \"%s\"", p->proxy_host, p->proxy_port,
		     p->host, p->port, line);
		return false;
	}
	return true;
}

static bool
is_ip_literal(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* The TLS handshake, verified for p->host against the system store or
 * p->ca_file, with SNI set to p->host (not for an address, RFC 6066 3). */
static bool
tls_handshake(struct gbca_probe *p, struct link *l)
{
	static const gnutls_datum_t alpn = { (unsigned char *)"http/1.1", 8 };
	const char *store = p->ca_file && p->ca_file[0] ? p->ca_file : "the system store";
	gnutls_datum_t text = { NULL, 0 };
	int ret;

	if (gnutls_certificate_allocate_credentials(&l->creds) < 0) {
		fail(p, GBCA_PROBE_TLS, "out of memory");
		return false;
	}
	if (p->ca_file && p->ca_file[0]) {
		ret = gnutls_certificate_set_x509_trust_file(l->creds, p->ca_file, GNUTLS_X509_FMT_PEM);
		if (ret <= 0) {
			fail(p, GBCA_PROBE_TLS, "no CA certificate in %s (%s)", p->ca_file,
			     ret < 0 ? gnutls_strerror(ret) : "no PEM certificate in it");
			return false;
		}
	} else if ((ret = gnutls_certificate_set_x509_system_trust(l->creds)) <= 0) {
		fail(p, GBCA_PROBE_TLS, "the system trust store is empty or unreadable (%s)",
		     ret < 0 ? gnutls_strerror(ret) : "no certificates");
		return false;
	}
	if ((ret = gnutls_init(&l->tls, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL)) < 0 ||
	    /* as serve's upstream sessions (upstream.c): TLS 1.3 or 1.2, ALPN http/1.1 */
	    (ret = gnutls_set_default_priority_append(l->tls, "-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", NULL, 0)) < 0 ||
	    (ret = gnutls_alpn_set_protocols(l->tls, &alpn, 1, 0)) < 0 ||
	    (ret = gnutls_credentials_set(l->tls, GNUTLS_CRD_CERTIFICATE, l->creds)) < 0 ||
	    (!is_ip_literal(p->host) && (ret = gnutls_server_name_set(l->tls, GNUTLS_NAME_DNS, p->host, strlen(p->host))) < 0)) {
		fail(p, GBCA_PROBE_TLS, "couldn't set up TLS: %s", gnutls_strerror(ret));
		return false;
	}
	gnutls_session_set_verify_cert(l->tls, p->host, 0);
	gnutls_transport_set_int(l->tls, l->fd);
	gnutls_handshake_set_timeout(l->tls, p->io_timeout_ms);
	do
		ret = gnutls_handshake(l->tls);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		gnutls_certificate_verification_status_print(gnutls_session_get_verify_cert_status(l->tls),
		                                              GNUTLS_CRT_X509, &text, 0);
		while (text.data && text.size && text.data[text.size - 1] == ' ')
			text.data[--text.size] = '\0';
		fail(p, GBCA_PROBE_TLS, "%s's certificate failed verification with %s: %s", p->host, store,
		     text.data ? (const char *)text.data : gnutls_strerror(ret));
		gnutls_free(text.data);
		return false;
	}
	if (ret < 0) {
		fail(p, GBCA_PROBE_TLS, "the TLS handshake with %s failed: %s", p->host,
		     ret == GNUTLS_E_TIMEDOUT ? "no answer in time" : gnutls_strerror(ret));
		return false;
	}
	snprintf(p->tls_desc, sizeof(p->tls_desc), "%s, certificate for %s verified with %s",
	         gnutls_protocol_get_name(gnutls_protocol_get_version(l->tls)), p->host, store);
	return true;
}

static void
get(struct gbca_probe *p, struct link *l)
{
	char buf[PROBE_HEAD_MAX];
	struct http1_response r;
	char req[2048], why[256] = "";
	int gerr, n;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n%s%s%sConnection: close\r\n\r\n", p->target,
	             p->host_header, p->api_key ? "x-goog-api-key: " : "", p->api_key ? p->api_key : "",
	             p->api_key ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(req)) {
		fail(p, GBCA_PROBE_HTTP, "the request would be longer than %zu bytes", sizeof(req));
		return;
	}
	if (!link_send(l, req, (size_t)n, &gerr)) {
		fail(p, GBCA_PROBE_HTTP, "sending the request: %s", gerr ? gnutls_strerror(gerr) : strerror(errno));
		return;
	}
	memset(buf, 0, sizeof(buf));
	p->status = read_response(l, buf, sizeof(buf) - 1, &r, why, sizeof(why));
	if (p->status == 0) {
		fail(p, GBCA_PROBE_HTTP, "no HTTP answer: %s", why);
		return;
	}
	first_line(p->status_line, sizeof(p->status_line), buf);
}

void
gbca_probe_run(struct gbca_probe *p)
{
	struct link l = { -1, NULL, NULL, { 0, 0 } };
	struct sockaddr_storage ss, pss;
	socklen_t len = 0, plen = 0;
	const struct sockaddr_storage *to = &ss;
	int gai;

	p->failed = GBCA_PROBE_OK;
	p->at_proxy = false;
	p->addr[0] = p->tls_desc[0] = p->status_line[0] = p->why[0] = '\0';
	p->status = 0;
	memset(&p->upstream_ss, 0, sizeof(p->upstream_ss));
	/* 1. the name, as serve resolves it at start (also when a proxy is set) */
	if ((gai = resolve(p->host, p->port, &ss, &len)) != 0) {
		fail(p, GBCA_PROBE_DNS, "cannot resolve %s: %s", p->host, gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		return;
	}
	p->upstream_ss = ss;
	if (p->proxy_host) {
		if ((gai = resolve(p->proxy_host, p->proxy_port, &pss, &plen)) != 0) {
			p->at_proxy = true;
			fail(p, GBCA_PROBE_DNS, "cannot resolve the upstream proxy %s: %s", p->proxy_host,
			     gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
			return;
		}
		to = &pss;
		len = plen;
	}
	getnameinfo((const struct sockaddr *)to, len, p->addr, sizeof(p->addr), NULL, 0, NI_NUMERICHOST);
	/* 2. TCP */
	if ((l.fd = gbca_probe_connect((const struct sockaddr *)to, len, p->connect_timeout_ms, p->io_timeout_ms)) < 0) {
		const char *name = p->proxy_host ? p->proxy_host : p->host;
		bool literal = strcmp(name, p->addr) == 0;
		p->at_proxy = p->proxy_host != NULL;
		fail(p, GBCA_PROBE_CONNECT, "can't connect to %s%s%s%s%s port %s: %s", p->proxy_host ? "the upstream proxy " : "",
		     name, literal ? "" : " (", literal ? "" : p->addr, literal ? "" : ")",
		     p->proxy_host ? p->proxy_port : p->port, connect_error(errno));
		return;
	}
	set_deadline(&l.deadline, p->io_timeout_ms);
	/* 3. the tunnel, 4. TLS, 5. HTTP */
	if ((!p->proxy_host || proxy_connect(p, &l)) && (!p->tls || tls_handshake(p, &l)))
		get(p, &l);
	if (l.tls)
		gnutls_deinit(l.tls);
	if (l.creds)
		gnutls_certificate_free_credentials(l.creds);
	close(l.fd);
}
