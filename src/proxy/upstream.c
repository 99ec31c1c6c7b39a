/* gbca serve's upstream connections: plain TCP or TLS (an https upstream,
 * or the real Google with --google-passthrough), the CONNECT exchange with
 * --upstream-proxy, TLS session resumption, the per-worker keep-alive pool,
 * our 502 when the upstream can't be used, and the one teardown (up_free). */
#include "config.h"
#include <gbca/http1.h>
#include <gbca/worker.h>

#include <errno.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
up_free(struct worker *w, struct upconn *u)
{
	up_save_session(w, u);
	gbca_loop_del(w->loop, u->fd);
	if (u->tls)
		gnutls_deinit(u->tls);
	free(u->proxy_buf);
	close(u->fd);
	free(u);
}

/* Whether a pooled connection is still usable: nothing to read, or (TLS)
 * only records that carry no data (a TLS 1.3 NewSessionTicket that came
 * after the response). EOF, data or an error: not usable. */
static bool
up_idle_ok(struct upconn *u)
{
	char b;
	ssize_t r = recv(u->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return u->tls == NULL || gnutls_record_check_pending(u->tls) == 0;
	if (r <= 0 || u->tls == NULL)
		return false;
	for (int i = 0; i < 4; i++) {
		r = gnutls_record_recv(u->tls, &b, 1);
		if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
			return false;
		if (gnutls_record_check_pending(u->tls) > 0)
			return false;
		r = recv(u->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (r <= 0)
			return false;
	}
	return false;
}

static void
pool_remove(struct worker *w, struct upconn *u)
{
	for (struct upconn **pp = &w->pool; *pp; pp = &(*pp)->next) {
		if (*pp == u) {
			*pp = u->next;
			w->n_pool--;
			return;
		}
	}
}

static void
pool_event(struct gbca_loop *loop, int fd, unsigned events, void *data)
{
	struct upconn *u = data;
	struct worker *w = u->w;
	(void)loop; (void)fd; (void)events;

	/* A pooled connection has nothing to say: readable means closed (or
	 * junk), unless TLS had a ticket to hand over. */
	if (u->tls && up_idle_ok(u))
		return;
	pool_remove(w, u);
	up_free(w, u);
}

void
up_pool_put(struct worker *w, struct upconn *u)
{
	if (w->n_pool >= POOL_MAX || w->draining || u->google) {
		up_free(w, u);
		return;
	}
	up_save_session(w, u);
	u->c = NULL;
	u->pooled_at = gbca_loop_now(w->loop);
	u->next = w->pool;
	w->pool = u;
	w->n_pool++;
	gbca_loop_set(w->loop, u->fd, GBCA_EV_READ, pool_event, u);
}

struct upconn *
up_pool_get(struct worker *w)
{
	while (w->pool) {
		struct upconn *u = w->pool;

		w->pool = u->next;
		w->n_pool--;
		/* The upstream may have closed it since: EOF or data means unusable.
		 * Always asked, even just after pooling: bytes an upstream sends late
		 * past a response (a body on a 204, written apart from its head)
		 * would otherwise be read as the answer to another client's request. */
		if (up_idle_ok(u))
			return u;
		up_free(w, u);
	}
	return NULL;
}

/* A non-blocking TCP connection to ss (connect in progress, or done). */
static struct upconn *
up_new(struct worker *w, const struct sockaddr_storage *ss, socklen_t len)
{
	struct upconn *u = calloc(1, sizeof(*u));
	int one = 1;

	if (u == NULL)
		return NULL;
	u->w = w;
	u->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->fd < 0) {
		free(u);
		return NULL;
	}
	setsockopt(u->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(u->fd, (const struct sockaddr *)ss, len) < 0) {
		if (errno != EINPROGRESS) {
			close(u->fd);
			free(u);
			return NULL;
		}
		u->connecting = true;
	}
	return u;
}

/* A TLS client session on u: TLS 1.3 or 1.2 only, the certificate verified
 * for name against creds, SNI (not for an address), ALPN http/1.1. */
static bool
up_tls_init(struct upconn *u, gnutls_certificate_credentials_t creds, const char *name)
{
	static const gnutls_datum_t alpn = { (unsigned char *)"http/1.1", 8 };
	bool address = strchr(name, ':') != NULL || strspn(name, "0123456789.") == strlen(name);

	if (gnutls_init(&u->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) < 0) {
		u->tls = NULL;
		return false;
	}
	if (gnutls_set_default_priority_append(u->tls, "-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", NULL, 0) < 0 ||
	    gnutls_credentials_set(u->tls, GNUTLS_CRD_CERTIFICATE, creds) < 0 ||
	    (!address && gnutls_server_name_set(u->tls, GNUTLS_NAME_DNS, name, strlen(name)) < 0))
		return false;
	gnutls_session_set_verify_cert(u->tls, name, 0);
	gnutls_alpn_set_protocols(u->tls, &alpn, 1, 0);
	gnutls_transport_set_int(u->tls, u->fd);
	gnutls_handshake_set_timeout(u->tls, 0);
	u->handshaking = true;
	return true;
}

/* The upstream's address: the master's latest lookup when it keeps one. */
static void
upstream_addr(const struct gbca_proxy_config *cfg, struct sockaddr_storage *ss, socklen_t *len)
{
	*ss = cfg->upstream_ss;
	*len = cfg->upstream_len;
	if (cfg->upstream_addrs && gbca_addrs_pick(cfg->upstream_addrs, 0, ss) > 0)
		*len = ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

struct upconn *
up_connect(struct worker *w)
{
	const struct gbca_proxy_config *cfg = w->cfg;
	struct sockaddr_storage ss;
	socklen_t len;
	struct upconn *u;

	if (cfg->upstream_via_proxy) {
		u = up_new(w, &cfg->upstream_proxy_ss, cfg->upstream_proxy_len);
	} else {
		upstream_addr(cfg, &ss, &len);
		if (len == 0) {
			errno = ENXIO;   /* the name has not resolved yet */
			return NULL;
		}
		u = up_new(w, &ss, len);
	}
	if (u == NULL)
		return NULL;
	if (cfg->upstream_via_proxy) {
		/* RFC 9110 9.3.6: CONNECT names the authority, and Host repeats it. */
		const char *h = cfg->upstream_host;
		bool v6 = strchr(h, ':') != NULL;
		int n;
		u->proxy_buf = malloc(PROXY_HEAD_MAX);
		if (u->proxy_buf == NULL) {
			up_free(w, u);
			return NULL;
		}
		n = snprintf(u->proxy_buf, PROXY_HEAD_MAX, "CONNECT %s%s%s:%s HTTP/1.1\r\nHost: %s%s%s:%s\r\n\r\n",
		             v6 ? "[" : "", h, v6 ? "]" : "", cfg->upstream_port, v6 ? "[" : "", h, v6 ? "]" : "",
		             cfg->upstream_port);
		u->proxy_len = (uint32_t)n;
		u->proxy = UP_PROXY_SEND;
		u->handshaking = true;
	}
	if (cfg->upstream_tls) {
		if (!up_tls_init(u, w->tls->upstream_creds, cfg->upstream_host)) {
			up_free(w, u);
			return NULL;
		}
		if (w->up_session.data)
			gnutls_session_set_data(u->tls, w->up_session.data, w->up_session.size);
	}
	return u;
}

/* A TLS connection to the real Google, at an address the master found
 * through DNS, verified against the system store for the real name. */
struct upconn *
up_connect_google(struct worker *w)
{
	static unsigned next;
	struct gbca_google *g = w->cfg->google;
	struct sockaddr_storage ss;
	struct upconn *u;

	if (g == NULL || w->tls->google_creds == NULL || gbca_addrs_pick(g, next++, &ss) == 0)
		return NULL;
	u = up_new(w, &ss, ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	if (u == NULL)
		return NULL;
	u->google = true;
	if (!up_tls_init(u, w->tls->google_creds, GBCA_GOOGLE_HOST)) {
		up_free(w, u);
		return NULL;
	}
	return u;
}

void
up_save_session(struct worker *w, struct upconn *u)
{
	gnutls_datum_t d;

	if (u->tls == NULL || u->google || u->session_saved || u->handshaking)
		return;
	/* TLS 1.3 data resumes nothing until the server's ticket has come. */
	if (gnutls_protocol_get_version(u->tls) == GNUTLS_TLS1_3 &&
	    !(gnutls_session_get_flags(u->tls) & GNUTLS_SFLAGS_SESSION_TICKET))
		return;
	if (gnutls_session_get_data2(u->tls, &d) < 0)
		return;
	u->session_saved = true;
	gnutls_free(w->up_session.data);
	w->up_session = d;
}

void
up_stale(struct worker *w)
{
	if (w->cfg->upstream_addrs)
		w->cfg->upstream_addrs->stale = 1;
}

void
up_fail(struct conn *c, const char *fmt, ...)
{
	struct worker *w = c->w;
	const struct gbca_proxy_config *cfg = w->cfg;
	char why[400], msg[700];
	uint64_t now = gbca_loop_now(w->loop);
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (c->up && c->up->google)
		n = snprintf(msg, sizeof(msg), "the real %s: %s", GBCA_GOOGLE_HOST, why);
	else
		n = snprintf(msg, sizeof(msg), "upstream %s%s%s:%s%s: %s", strchr(cfg->upstream_host, ':') ? "[" : "",
		             cfg->upstream_host, strchr(cfg->upstream_host, ':') ? "]" : "", cfg->upstream_port,
		             cfg->upstream_via_proxy ? " (through the proxy)" : "", why);
	/* It goes into JSON and a log line: no quotes, backslashes or controls
	 * (a proxy's reason phrase comes from the network). */
	for (int i = 0; i < n && msg[i]; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == '"' || msg[i] == '\\' || (unsigned char)msg[i] >= 0x7f)
			msg[i] = '?';
	/* One line a second at most: an upstream that is down fails every request. */
	if (w->up_fail_logged == 0 || now >= w->up_fail_logged + 1000) {
		w->up_fail_logged = now;
		gbca_print_warning("%s", msg);
	}
	reply_error(c, 502, msg);
}

/* Why a TLS handshake with the upstream failed, in words. */
static void
fail_handshake(struct conn *c, int r)
{
	struct upconn *u = c->up;
	gnutls_datum_t out = { NULL, 0 };
	unsigned status;

	if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		status = gnutls_session_get_verify_cert_status(u->tls);
		if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) >= 0) {
			if (u->google)
				up_fail(c, "it did not show a certificate the system trusts (%s)", (const char *)out.data);
			else
				up_fail(c, "certificate not accepted (%s); is the upstream's CA in the system store, "
				        "or given with --upstream-ca?", (const char *)out.data);
			gnutls_free(out.data);
			return;
		}
		up_fail(c, "certificate not accepted");
		return;
	}
	up_fail(c, "TLS handshake failed: %s", gnutls_strerror(r));
}

/* The proxy's answer to CONNECT: a strict status line, 2xx required. The
 * head is read a byte at a time so that nothing after it (the start of the
 * TLS handshake) is taken: that is the tunnel's, not ours. */
static int
proxy_read(struct conn *c)
{
	struct upconn *u = c->up;

	while (u->proxy_len < PROXY_HEAD_MAX - 1) {
		ssize_t n = recv(u->fd, u->proxy_buf + u->proxy_len, 1, 0);
		struct http1_response r;
		const char *why = "malformed";
		size_t scanned = 0;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0) {
			up_fail(c, "the proxy %s:%s closed the connection before answering CONNECT",
			        c->w->cfg->upstream_proxy_host, c->w->cfg->upstream_proxy_port);
			return -1;
		}
		u->proxy_len++;
		if (u->proxy_buf[u->proxy_len - 1] != '\n' ||
		    http1_head_end(u->proxy_buf, u->proxy_len, &scanned) != u->proxy_len)
			continue;
		/* A CONNECT's 2xx has no body (RFC 9110 9.3.6): parse it as such. */
		if (http1_parse_response(u->proxy_buf, u->proxy_len, true, &r, &why) != 0) {
			up_fail(c, "the proxy %s:%s gave a malformed answer to CONNECT", c->w->cfg->upstream_proxy_host,
			        c->w->cfg->upstream_proxy_port);
			return -1;
		}
		if (r.status != 200) {
			up_fail(c, "the proxy %s:%s refused CONNECT: %d %.*s", c->w->cfg->upstream_proxy_host,
			        c->w->cfg->upstream_proxy_port, r.status, (int)(r.reason.len > 80 ? 80 : r.reason.len),
			        u->proxy_buf + r.reason.off);
			return -1;
		}
		free(u->proxy_buf);
		u->proxy_buf = NULL;
		u->proxy = UP_PROXY_NONE;
		return 1;
	}
	up_fail(c, "the proxy %s:%s answered CONNECT with a head over %d bytes", c->w->cfg->upstream_proxy_host,
	        c->w->cfg->upstream_proxy_port, PROXY_HEAD_MAX);
	return -1;
}

int
up_prepare(struct conn *c)
{
	struct upconn *u = c->up;
	int r;

	if (u->proxy == UP_PROXY_SEND) {
		ssize_t n = send(u->fd, u->proxy_buf + u->proxy_off, u->proxy_len - u->proxy_off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0) {
			up_fail(c, "the proxy %s:%s closed the connection", c->w->cfg->upstream_proxy_host,
			        c->w->cfg->upstream_proxy_port);
			return -1;
		}
		u->proxy_off += (uint32_t)n;
		if (u->proxy_off == u->proxy_len) {
			u->proxy = UP_PROXY_READ;
			u->proxy_len = 0;
		}
		return 1;
	}
	if (u->proxy == UP_PROXY_READ) {
		r = proxy_read(c);
		if (r == 1 && u->tls == NULL)
			u->handshaking = false;   /* a plain upstream through the tunnel */
		return r;
	}
	r = gnutls_handshake(u->tls);
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
		return 0;
	if (r < 0) {
		fail_handshake(c, r);
		return -1;
	}
	u->handshaking = false;
	if (!u->google) {
		c->w->up_handshakes++;
		if (gnutls_session_is_resumed(u->tls))
			c->w->up_resumed++;
		up_save_session(c->w, u);
	}
	return 1;
}

unsigned
up_prepare_events(const struct upconn *u)
{
	if (u->proxy == UP_PROXY_SEND)
		return GBCA_EV_WRITE;
	if (u->proxy == UP_PROXY_READ)
		return GBCA_EV_READ;
	return gnutls_record_get_direction(u->tls) ? GBCA_EV_WRITE : GBCA_EV_READ;
}

/* A TLS upstream is written through GnuTLS, one record at a time. */
ssize_t
up_tls_send(struct conn *c, const char *p, size_t len)
{
	struct upconn *u = c->up;
	ssize_t r;

	if (u->send_pending)
		len = u->send_pending;
	else if (len > TLS_CHUNK)
		len = TLS_CHUNK;
	r = gnutls_record_send(u->tls, p, len);
	if (r >= 0) {
		u->send_pending = 0;
		return r;
	}
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
		u->send_pending = (uint32_t)len;
		errno = EAGAIN;
	} else {
		errno = EPIPE;
	}
	return -1;
}
