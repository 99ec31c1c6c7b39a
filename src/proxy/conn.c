/* A client connection of gbca serve as a small state machine: the steps
 * (read, parse, write upstream, read upstream, write back), epoll interest,
 * deadlines, the event callbacks, and the one close. */
#include "config.h"
#include <gbca/worker.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void client_event(struct gbca_loop *loop, int fd, unsigned events, void *data);
static void up_event(struct gbca_loop *loop, int fd, unsigned events, void *data);

static bool
want_client_read(const struct conn *c)
{
	if (c->client_eof || c->rstate == R_CLOSING)
		return false;
	if (buf_room(&c->in) == 0 && c->in.start == 0)
		return false;   /* full: backpressure */
	/* While a response is pending, a pipelined request waits in the buffer,
	 * but body bytes and tunnel bytes flow. */
	return c->rstate == R_HEAD || c->rstate == R_BODY || c->rstate == R_TUNNEL || c->rstate == R_DONE;
}

static bool
step_client_read(struct conn *c)
{
	ssize_t n;

	if (!want_client_read(c))
		return false;
	if (!c->client_readable && c->ra_end == c->ra_start &&
	    !(c->is_tls && gnutls_record_check_pending(c->tls) > 0))
		return false;
	if (!buf_take(c->w, &c->in))
		return false;
	if (buf_room(&c->in) < 4096)
		buf_compact(&c->in);
	if (buf_room(&c->in) == 0)
		return false;
	n = client_read(c, c->in.data + c->in.end, buf_room(&c->in));
	if (n > 0) {
		c->in.end += (uint32_t)n;
		return true;
	}
	buf_trim(c->w, &c->in);
	if (n == 0 || n == -2) {
		c->client_eof = true;
		return true;
	}
	c->client_readable = false;
	return false;
}

static bool
step_request(struct conn *c)
{
	const char *why = "malformed body";
	size_t end;

	if (c->rstate == R_HEAD && c->sstate == S_IDLE && c->in.data && buf_len(&c->in) > 0) {
		end = http1_head_end(c->in.data + c->in.start, buf_len(&c->in), &c->head_scanned);
		if (end == 0) {
			if (buf_len(&c->in) > HTTP1_HEAD_MAX) {
				snprintf(c->method, sizeof(c->method), "-");
				snprintf(c->path, sizeof(c->path), "-");
				c->t_start = gbca_loop_now(c->w->loop);
				reply_error(c, 431, "the request head is larger than 64 KiB");
				return true;
			}
			return false;
		}
		process_request_head(c, (uint32_t)end);
		return true;
	}
	if ((c->rstate == R_BODY || c->rstate == R_TUNNEL) && c->in.data) {
		uint32_t before = c->rf.ready;
		if (!framer_scan(&c->rf, &c->in, &why)) {
			reply_error(c, 400, why);
			return true;
		}
		return c->rf.ready != before;
	}
	return false;
}

static bool
step_up_handshake(struct conn *c)
{
	struct upconn *u = c->up;
	int r;

	if (u == NULL || !u->handshaking || u->connecting)
		return false;
	r = up_prepare(c);
	if (r <= 0)
		return r < 0;   /* a failure queued our 502: progress */
	if (!u->handshaking) {
		c->up_readable = true;
		c->t_active = gbca_loop_now(c->w->loop);
	}
	return true;
}

static bool
step_up_write(struct conn *c)
{
	struct upconn *u = c->up;
	struct iovec iov[2];
	int n_iov = 0;
	uint32_t head = c->uhead.data ? buf_len(&c->uhead) : 0;
	ssize_t n;

	if (u == NULL || u->connecting || u->handshaking)
		return false;
	if (head == 0 && c->rf.ready == 0) {
		if (c->rstate == R_BODY && c->rf.done) {
			c->rstate = R_DONE;
			return true;
		}
		return false;
	}
	if (u->tls) {
		n = head > 0 ? up_tls_send(c, c->uhead.data + c->uhead.start, head)
		             : up_tls_send(c, c->in.data + c->in.start, c->rf.ready);
		goto sent;   /* one buffer at a time: n splits the same way as below */
	}
	/* Head and the body bytes we have go in one system call. */
	if (head > 0) {
		iov[n_iov].iov_base = c->uhead.data + c->uhead.start;
		iov[n_iov++].iov_len = head;
	}
	if (c->rf.ready > 0) {
		iov[n_iov].iov_base = c->in.data + c->in.start;
		iov[n_iov++].iov_len = c->rf.ready;
	}
	{
		struct msghdr mh;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)n_iov;
		n = sendmsg(u->fd, &mh, MSG_NOSIGNAL);
	}
sent:
	if (n > 0) {
		uint32_t from_head = (uint32_t)n < head ? (uint32_t)n : head;
		if (from_head)
			buf_consume(&c->uhead, from_head);
		if ((uint32_t)n > head) {
			buf_consume(&c->in, (uint32_t)n - head);
			c->rf.ready -= (uint32_t)n - head;
		}
		c->up_sent_any = true;
		c->t_active = gbca_loop_now(c->w->loop);
		c->up_waits_write = false;
		return true;
	}
	c->up_waits_write = n < 0 && (errno == EAGAIN || errno == EINTR);
	if (c->up_waits_write)
		return false;
	if (c->sstate == S_BODY || c->rstate == R_TUNNEL) {
		/* The upstream answered and stopped reading (or died): keep the answer going. */
		c->rf.ready = 0;
		c->rf.done = true;
		c->close_after = true;
		c->up_keep = false;   /* the request was not all sent */
		return true;
	}
	reply_error(c, 502, "the upstream closed the connection");
	return true;
}

static bool
step_up_read(struct conn *c)
{
	struct upconn *u = c->up;
	ssize_t n;

	if (u == NULL || u->connecting || u->handshaking || c->up_eof || c->sstate == S_IDLE)
		return false;
	if (!c->up_readable && !(u->tls && gnutls_record_check_pending(u->tls) > 0))
		return false;
	if (buf_room(&c->resp) < 4096)
		buf_compact(&c->resp);
	if (buf_room(&c->resp) == 0)
		return false;
	if (u->tls) {
		n = gnutls_record_recv(u->tls, c->resp.data + c->resp.end, buf_room(&c->resp));
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
			c->up_readable = false;
			return false;
		}
		if (n > 0) {
			c->resp.end += (uint32_t)n;
			c->t_active = gbca_loop_now(c->w->loop);
			return true;
		}
		c->up_eof = true;   /* close_notify, a premature end, or an error */
		return true;
	}
	n = recv(u->fd, c->resp.data + c->resp.end, buf_room(&c->resp), 0);
	if (n > 0) {
		/* A short read drained the socket: epoll says when there is more. */
		if ((uint32_t)n < buf_room(&c->resp))
			c->up_readable = false;
		c->resp.end += (uint32_t)n;
		c->t_active = gbca_loop_now(c->w->loop);
		return true;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		c->up_readable = false;
		return false;
	}
	c->up_eof = true;
	return true;
}

static bool
step_response(struct conn *c)
{
	const char *why = "malformed body";
	size_t end;

	if (c->sstate == S_HEAD && c->resp.data) {
		if (buf_len(&c->resp) > 0 && (!c->chead.data || buf_len(&c->chead) == 0)) {
			end = http1_head_end(c->resp.data + c->resp.start, buf_len(&c->resp), &c->resp_scanned);
			if (end == 0 && buf_len(&c->resp) > HTTP1_HEAD_MAX) {
				reply_error(c, 502, "the upstream's response head is larger than 64 KiB");
				return true;
			}
			if (end > 0) {
				process_response_head(c, (uint32_t)end);
				if (c->closed || c->sstate != S_BODY)
					return true;
				/* Count the body bytes already here, so the head and they
				 * leave in one record. */
				if (!framer_scan(&c->sf, &c->resp, &why)) {
					conn_close(c);
					return false;
				}
				return true;
			}
		}
		if (c->up_eof && buf_len(&c->resp) == 0) {
			reply_error(c, 502, c->up_sent_any ? "the upstream closed the connection without answering"
			                                   : "gbca couldn't reach the upstream");
			return true;
		}
		return false;
	}
	if (c->sstate == S_BODY) {
		uint32_t before = c->sf.ready;
		if (!framer_scan(&c->sf, &c->resp, &why)) {
			/* A broken response body: break the connection, don't fake an end. */
			conn_close(c);
			return false;
		}
		if (c->up_eof && !c->sf.done && c->sf.ready == buf_len(&c->resp)) {
			if (c->sf.kind == F_CLOSE || c->sf.kind == F_TUNNEL) {
				c->sf.done = true;
			} else if (c->sf.ready == 0) {
				/* The upstream died mid-body: the client must see the break. */
				conn_close(c);
				return false;
			}
		}
		return c->sf.ready != before || (c->up_eof && c->sf.done);
	}
	return false;
}

/* Head and the first body bytes in one TLS record and one system call. */
static bool
corked_head(struct conn *c)
{
	ssize_t r;

	gnutls_record_cork(c->tls);
	r = gnutls_record_send(c->tls, c->chead.data + c->chead.start, buf_len(&c->chead));
	if (r < 0)
		return false;
	buf_consume(&c->chead, (uint32_t)r);
	if (c->sstate == S_BODY && c->sf.ready > 0) {
		size_t take = c->sf.ready < TLS_CHUNK ? c->sf.ready : TLS_CHUNK;
		r = gnutls_record_send(c->tls, c->resp.data + c->resp.start, take);
		if (r < 0)
			return false;
		buf_consume(&c->resp, (uint32_t)r);
		c->sf.ready -= (uint32_t)r;
		c->bytes_out += (uint64_t)r;
	}
	c->uncork_pending = true;
	return true;
}

static bool
step_client_write(struct conn *c)
{
	ssize_t n;

	if (c->uncork_pending) {
		int r = gnutls_record_uncork(c->tls, 0);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			c->client_waits_write = true;
			return false;
		}
		if (r < 0) {
			conn_close(c);
			return false;
		}
		c->uncork_pending = false;
		c->client_waits_write = false;
		return true;
	}
	if (c->is_tls && c->send_pending == 0 && c->chead.data && buf_len(&c->chead) > 0) {
		if (!corked_head(c)) {
			conn_close(c);
			return false;
		}
		return true;
	}
	if (c->chead.data && buf_len(&c->chead) > 0) {
		n = client_write(c, c->chead.data + c->chead.start, buf_len(&c->chead));
		if (n > 0) {
			buf_consume(&c->chead, (uint32_t)n);
			c->client_waits_write = false;
			return true;
		}
		c->client_waits_write = n == -1;
		if (n == -2)
			conn_close(c);
		return false;
	}
	if (c->sstate == S_BODY && c->sf.ready > 0) {
		n = client_write(c, c->resp.data + c->resp.start, c->sf.ready);
		if (n > 0) {
			buf_consume(&c->resp, (uint32_t)n);
			c->sf.ready -= (uint32_t)n;
			c->bytes_out += (uint64_t)n;
			c->client_waits_write = false;
			return true;
		}
		c->client_waits_write = n == -1;
		if (n == -2)
			conn_close(c);
		return false;
	}
	return false;
}

static bool
exchange_complete(const struct conn *c)
{
	if (c->uncork_pending)
		return false;
	if (c->error_reply)
		return c->chead.data == NULL || buf_len(&c->chead) == 0;
	if (c->rstate == R_DONE && c->sstate == S_IDLE)   /* answered by us (CORS) */
		return c->chead.data == NULL || buf_len(&c->chead) == 0;
	return c->sstate == S_BODY && c->sf.done && c->sf.ready == 0 &&
	       (c->chead.data == NULL || buf_len(&c->chead) == 0) &&
	       (c->rstate == R_DONE || (c->rf.done && c->rf.ready == 0));
}

static void
update_interest(struct conn *c)
{
	struct worker *w = c->w;
	unsigned cm = 0, um = 0;

	if (c->rstate == R_HANDSHAKE) {
		cm = gnutls_record_get_direction(c->tls) ? GBCA_EV_WRITE : GBCA_EV_READ;
	} else {
		if (want_client_read(c) && (c->in.data == NULL || buf_room(&c->in) > 0 || c->in.start > 0))
			cm |= GBCA_EV_READ;
		if (c->client_waits_write)
			cm |= GBCA_EV_WRITE;
	}
	gbca_loop_set(w->loop, c->fd, cm, client_event, c);
	if (c->up && c->up->handshaking && !c->up->connecting) {
		um = up_prepare_events(c->up);
		gbca_loop_set(w->loop, c->up->fd, um, up_event, c->up);
	} else if (c->up) {
		if (c->up->connecting || c->up_waits_write)
			um |= GBCA_EV_WRITE;
		if (!c->up->connecting && !c->up_eof && c->sstate != S_IDLE &&
		    (c->resp.data == NULL || buf_room(&c->resp) > 0 || c->resp.start > 0))
			um |= GBCA_EV_READ;
		gbca_loop_set(w->loop, c->up->fd, um, up_event, c->up);
	}
}

/* The one deadline that applies now: handshake and head (header timeout),
 * idle keep-alive, upstream connect, or upstream silence. */
static void
set_deadline(struct conn *c)
{
	const struct gbca_proxy_config *cfg = c->w->cfg;
	uint64_t now = gbca_loop_now(c->w->loop);

	if (c->rstate == R_HANDSHAKE)
		return;   /* set at accept */
	if (c->up && (c->up->connecting || c->up->handshaking)) {
		/* connecting covers the CONNECT exchange and the TLS handshake too */
		c->deadline = c->t_active + (uint64_t)cfg->connect_timeout_s * 1000;
	} else if (c->up) {
		c->deadline = c->t_active + (uint64_t)cfg->upstream_timeout_s * 1000;
	} else if (c->rstate == R_HEAD && c->in.data && buf_len(&c->in) > 0) {
		/* A slow client that never finishes its head is dropped. */
		if (c->t_head == 0)
			c->t_head = now;
		c->deadline = c->t_head + (uint64_t)cfg->header_timeout_s * 1000;
	} else if (c->rstate == R_HEAD) {
		/* Before its first request a client gets the header timeout: one
		 * that completes the handshake and says nothing holds no slot long. */
		c->t_head = 0;
		c->deadline = c->t_active + (uint64_t)(c->any_request ? cfg->idle_timeout_s : cfg->header_timeout_s) * 1000;
	} else {
		c->deadline = c->t_active + (uint64_t)cfg->idle_timeout_s * 1000;
	}
}

void
conn_step(struct conn *c)
{
	struct worker *w = c->w;
	bool progress = true;
	int guard = 0;

	if (c->rstate == R_HANDSHAKE) {
		int r = gnutls_handshake(c->tls);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			update_interest(c);
			return;
		}
		if (r < 0) {
			conn_close(c);
			return;
		}
		c->rstate = R_HEAD;
		c->client_readable = true;
		c->t_active = gbca_loop_now(w->loop);
		c->deadline = c->t_active + (uint64_t)w->cfg->header_timeout_s * 1000;
	}
	while (progress && guard++ < 64) {
		progress = false;
		/* Take in everything the client has sent before writing upstream:
		 * a head and its body then leave in one system call. */
		for (int i = 0; i < 8 && step_client_read(c); i++) {
			progress = true;
			if (c->closed)
				return;
			step_request(c);
			if (c->closed)
				return;
		}
		progress |= step_request(c);
		if (c->closed)
			return;
		progress |= step_up_handshake(c);
		if (c->closed)
			return;
		progress |= step_up_write(c);
		if (c->closed)
			return;
		progress |= step_up_read(c);
		progress |= step_response(c);
		if (c->closed)
			return;
		progress |= step_client_write(c);
		if (c->closed)
			return;
		if (exchange_complete(c)) {
			finish_exchange(c);
			progress = true;
		}
		if (c->rstate == R_CLOSING && c->sstate == S_IDLE && !c->uncork_pending &&
		    (!c->chead.data || buf_len(&c->chead) == 0)) {
			conn_goodbye(c);
			return;
		}
		if (c->client_eof && c->rstate != R_TUNNEL && c->sstate == S_IDLE) {
			conn_close(c);
			return;
		}
		if (c->client_eof && (c->rstate == R_HEAD || (c->rstate == R_BODY && !c->rf.done))) {
			/* The client went away mid-request. */
			if (c->method[0])
				c->status = 499;
			conn_close(c);
			return;
		}
		if (c->rstate == R_TUNNEL && (c->client_eof || (c->up_eof && c->sf.ready == 0))) {
			conn_close(c);
			return;
		}
	}
	if (progress && !c->queued) {
		/* The step limit stopped a busy connection (a long transfer) with
		 * work left that no event may announce (the last bytes of a body
		 * already read): it goes on after this round of events, once the
		 * other connections have had their turn. */
		c->queued = true;
		c->again_next = w->again;
		w->again = c;
	}
	set_deadline(c);
	update_interest(c);
}

static void
client_event(struct gbca_loop *loop, int fd, unsigned events, void *data)
{
	struct conn *c = data;
	(void)loop; (void)fd; (void)events;

	if (c->magic != CONN_MAGIC || c->closed)
		return;
	if (events & GBCA_EV_READ)
		c->client_readable = true;
	conn_step(c);
	bury(c->w);
}

static void
up_event(struct gbca_loop *loop, int fd, unsigned events, void *data)
{
	struct upconn *u = data;
	struct conn *c = u->c;
	(void)loop;

	if (c == NULL || c->magic != CONN_MAGIC || c->closed)
		return;
	if (u->connecting && (events & GBCA_EV_WRITE)) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			if (u->google)
				up_fail(c, "couldn't connect: %s", strerror(err));
			else if (c->w->cfg->upstream_via_proxy)
				up_fail(c, "couldn't connect to the proxy %s:%s: %s", c->w->cfg->upstream_proxy_host,
				        c->w->cfg->upstream_proxy_port, strerror(err));
			else {
				up_stale(c->w);
				up_fail(c, "couldn't connect: %s%s", strerror(err),
				        err == ECONNREFUSED ? " (is it running?)" : "");
			}
			if (!c->closed)
				conn_step(c);
			bury(c->w);
			return;
		}
		u->connecting = false;
		c->t_active = gbca_loop_now(c->w->loop);
	}
	if (events & GBCA_EV_READ)
		c->up_readable = true;
	conn_step(c);
	bury(c->w);
}

void
conn_goodbye(struct conn *c)
{
	/* Only between records: a record half sent would be cut by the alert.
	 * GNUTLS_SHUT_WR sends the alert without waiting for the client's; on a
	 * full socket buffer it gives GNUTLS_E_AGAIN and the close goes on. */
	if (c->tls && c->rstate != R_HANDSHAKE && !c->closed && c->send_pending == 0 && !c->uncork_pending &&
	    !c->client_eof)
		(void)gnutls_bye(c->tls, GNUTLS_SHUT_WR);
	conn_close(c);
}

void
conn_close(struct conn *c)
{
	struct worker *w = c->w;

	if (c->magic != CONN_MAGIC || c->closed)
		return;
	c->closed = true;
	if (c->method[0])
		access_log(c);
	gbca_loop_del(w->loop, c->fd);
	if (c->up) {
		up_free(w, c->up);
		c->up = NULL;
	}
	if (c->tls)
		gnutls_deinit(c->tls);
	ra_give(c);
	close(c->fd);
	buf_give(w, &c->in);
	buf_give(w, &c->uhead);
	buf_give(w, &c->resp);
	buf_give(w, &c->chead);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (!c->queued) {   /* a queued one goes to the graveyard when dequeued */
		c->next = w->graveyard;
		w->graveyard = c;
	}
	w->n_conns--;
	resume_accepting(w);
}

bool
new_conn(struct worker *w, int fd, bool tls, const struct sockaddr_storage *ss)
{
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (c == NULL)
		return false;
	c->magic = CONN_MAGIC;
	c->w = w;
	c->fd = fd;
	c->is_tls = tls;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, c->peer, sizeof(c->peer));
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, c->peer, sizeof(c->peer));
	else
		snprintf(c->peer, sizeof(c->peer), "-");
	c->peer_len = strlen(c->peer);
	if (tls) {
		static const gnutls_datum_t alpn = { (unsigned char *)"http/1.1", 8 };
		if (gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) < 0) {
			free(c);
			return false;
		}
		gnutls_priority_set(c->tls, w->tls->priority);
		gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, w->tls->creds);
		gnutls_session_ticket_enable_server(c->tls, &w->tls->ticket_key);
		gnutls_alpn_set_protocols(c->tls, &alpn, 1, GNUTLS_ALPN_SERVER_PRECEDENCE);
		gnutls_transport_set_ptr(c->tls, c);
		gnutls_transport_set_pull_function(c->tls, tls_pull);
		gnutls_transport_set_push_function(c->tls, tls_push);
		gnutls_transport_set_vec_push_function(c->tls, tls_push_vec);
		gnutls_handshake_set_timeout(c->tls, 0);
		c->rstate = R_HANDSHAKE;
	} else {
		c->rstate = R_HEAD;
	}
	c->t_active = gbca_loop_now(w->loop);
	c->deadline = c->t_active + (uint64_t)w->cfg->header_timeout_s * 1000;
	c->client_readable = true;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->n_conns++;
	conn_step(c);
	return true;
}
