/* The client side's bytes for gbca serve: TLS record I/O through GnuTLS with
 * a read-ahead block (whole records in one recv), and plain recv/send. */
#include "config.h"
#include <gbca/worker.h>

#include <errno.h>
#include <string.h>

/* Read-ahead blocks come from the worker's pool too, and an idle connection
 * gives its block back (18 KB of the idle cost). */
void
ra_give(struct conn *c)
{
	if (c->ra == NULL)
		return;
	pool_give(&c->w->ras, c->ra);
	c->ra = NULL;
	c->ra_start = c->ra_end = 0;
}

/* GnuTLS reads a record's 5-byte header and then its body with two recv
 * calls; this pull function reads what the socket has in one call and hands
 * it out from a small read-ahead buffer. A short recv means the socket is
 * drained, so the loop stops trying until epoll says otherwise. */
ssize_t
tls_pull(gnutls_transport_ptr_t ptr, void *data, size_t size)
{
	struct conn *c = ptr;
	ssize_t n;

	if (c->ra_end > c->ra_start) {
		size_t take = c->ra_end - c->ra_start;
		if (take > size)
			take = size;
		memcpy(data, c->ra + c->ra_start, take);
		c->ra_start += (uint32_t)take;
		if (c->ra_start == c->ra_end)
			c->ra_start = c->ra_end = 0;
		return (ssize_t)take;
	}
	if (size >= RA_CAP || (c->ra == NULL && (c->ra = pool_take(&c->w->ras)) == NULL)) {
		n = recv(c->fd, data, size, 0);
		if (n >= 0 && (size_t)n < size)
			c->client_readable = false;
	} else {
		n = recv(c->fd, c->ra, RA_CAP, 0);
		if (n > 0) {
			if ((size_t)n < RA_CAP)
				c->client_readable = false;
			c->ra_end = (uint32_t)n;
			return tls_pull(ptr, data, size);
		}
	}
	if (n < 0) {
		int e = errno;
		gnutls_transport_set_errno(c->tls, e);
		if (e == EAGAIN) {
			c->client_readable = false;
			ra_give(c);   /* nothing buffered and nothing to read: hold no block */
		}
	}
	return n;
}

ssize_t
tls_push(gnutls_transport_ptr_t ptr, const void *data, size_t size)
{
	struct conn *c = ptr;
	ssize_t n = send(c->fd, data, size, MSG_NOSIGNAL);

	if (n < 0)
		gnutls_transport_set_errno(c->tls, errno);
	return n;
}

ssize_t
tls_push_vec(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
	struct conn *c = ptr;
	struct msghdr mh;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = (struct iovec *)iov;
	mh.msg_iovlen = (size_t)iovcnt;
	n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
	if (n < 0)
		gnutls_transport_set_errno(c->tls, errno);
	return n;
}

/* Gives the read-ahead back when it holds nothing (idle connections keep none). */
void
ra_trim(struct conn *c)
{
	if (c->ra && c->ra_end == c->ra_start)
		ra_give(c);
}

/* Returns bytes read, 0 for EOF, -1 would block, -2 error. */
ssize_t
client_read(struct conn *c, char *p, size_t n)
{
	ssize_t r;

	if (c->is_tls) {
		r = gnutls_record_recv(c->tls, p, n);
		if (r >= 0)
			return r;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			return -1;
		if (r == GNUTLS_E_PREMATURE_TERMINATION)
			return 0;
		return -2;
	}
	r = recv(c->fd, p, n, 0);
	if (r >= 0) {
		if ((size_t)r < n)
			c->client_readable = false;
		return r;
	}
	if (errno == EAGAIN)
		c->client_readable = false;
	return errno == EAGAIN || errno == EINTR ? -1 : -2;
}

ssize_t
client_write(struct conn *c, const char *p, size_t n)
{
	ssize_t r;

	if (c->is_tls) {
		if (c->send_pending)
			n = c->send_pending;   /* GnuTLS wants the same call again */
		else if (n > TLS_CHUNK)
			n = TLS_CHUNK;
		r = gnutls_record_send(c->tls, p, n);
		if (r >= 0) {
			c->send_pending = 0;
			return r;
		}
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			c->send_pending = (uint32_t)n;
			return -1;
		}
		return -2;
	}
	r = send(c->fd, p, n, MSG_NOSIGNAL);
	if (r >= 0)
		return r;
	return errno == EAGAIN || errno == EINTR ? -1 : -2;
}

