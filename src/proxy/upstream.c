/* gbca serve's upstream connections: plain TCP to the upstream, TLS to the
 * real Google with --google-passthrough, the per-worker keep-alive pool, and
 * the one teardown (up_free). */
#include "config.h"
#include <gbca/worker.h>

#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
up_free(struct worker *w, struct upconn *u)
{
	gbca_loop_del(w->loop, u->fd);
	if (u->tls)
		gnutls_deinit(u->tls);
	close(u->fd);
	free(u);
}

static void
pool_event(struct gbca_loop *loop, int fd, unsigned events, void *data)
{
	struct upconn *u = data, **pp;
	struct worker *w = u->w;
	(void)loop; (void)fd; (void)events;

	/* A pooled connection has nothing to say: readable means closed (or junk). */
	for (pp = &w->pool; *pp; pp = &(*pp)->next) {
		if (*pp == u) {
			*pp = u->next;
			w->n_pool--;
			break;
		}
	}
	up_free(w, u);
}

void
up_pool_put(struct worker *w, struct upconn *u)
{
	if (w->n_pool >= POOL_MAX || w->draining) {
		up_free(w, u);
		return;
	}
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
		char b;
		ssize_t r;

		w->pool = u->next;
		w->n_pool--;
		/* The upstream may have closed it since: EOF or data means unusable.
		 * Always asked, even just after pooling: bytes an upstream sends late
		 * past a response (a body on a 204, written apart from its head)
		 * would otherwise be read as the answer to another client's request. */
		r = recv(u->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return u;
		up_free(w, u);
	}
	return NULL;
}

struct upconn *
up_connect(struct worker *w)
{
	const struct gbca_proxy_config *cfg = w->cfg;
	struct upconn *u = calloc(1, sizeof(*u));
	int one = 1;

	if (u == NULL)
		return NULL;
	u->w = w;
	u->fd = socket(cfg->upstream_ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->fd < 0) {
		free(u);
		return NULL;
	}
	setsockopt(u->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(u->fd, (const struct sockaddr *)&cfg->upstream_ss, cfg->upstream_len) < 0) {
		if (errno != EINPROGRESS) {
			close(u->fd);
			free(u);
			return NULL;
		}
		u->connecting = true;
	}
	return u;
}

/* A TLS connection to the real Google, at an address the master found
 * through DNS, verified against the system store for the real name. */
struct upconn *
up_connect_google(struct worker *w)
{
	static unsigned next;
	static const gnutls_datum_t alpn = { (unsigned char *)"http/1.1", 8 };
	struct gbca_google *g = w->cfg->google;
	struct sockaddr_storage ss;
	struct upconn *u;
	uint32_t seq, n;
	int one = 1;

	if (g == NULL || w->tls->google_creds == NULL)
		return NULL;
	do {
		seq = g->seq;
		__sync_synchronize();
		n = g->n;
		if (n > 0)
			ss = g->addrs[next++ % n];
		__sync_synchronize();
	} while ((seq & 1) || seq != g->seq);
	if (n == 0 || (u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	u->w = w;
	u->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->fd < 0) {
		free(u);
		return NULL;
	}
	setsockopt(u->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(u->fd, (struct sockaddr *)&ss, ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
	                                                                    : sizeof(struct sockaddr_in6)) < 0) {
		if (errno != EINPROGRESS) {
			close(u->fd);
			free(u);
			return NULL;
		}
		u->connecting = true;
	}
	if (gnutls_init(&u->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) < 0 ||
	    gnutls_set_default_priority_append(u->tls, "-VERS-TLS1.1:-VERS-TLS1.0", NULL, 0) < 0 ||
	    gnutls_credentials_set(u->tls, GNUTLS_CRD_CERTIFICATE, w->tls->google_creds) < 0 ||
	    gnutls_server_name_set(u->tls, GNUTLS_NAME_DNS, GBCA_GOOGLE_HOST, strlen(GBCA_GOOGLE_HOST)) < 0) {
		up_free(w, u);
		return NULL;
	}
	gnutls_session_set_verify_cert(u->tls, GBCA_GOOGLE_HOST, 0);
	gnutls_alpn_set_protocols(u->tls, &alpn, 1, 0);
	gnutls_transport_set_int(u->tls, u->fd);
	u->handshaking = true;
	return u;
}

/* The passthrough upstream writes through GnuTLS, one record at a time. */
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
