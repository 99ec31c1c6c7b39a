/* A proxy worker: one event loop over the shared listening sockets. Each
 * client connection is a small state machine that reads a request head,
 * rewrites it for the upstream, streams the body with backpressure, and
 * streams the response back; buffers are fixed-size blocks from a per-worker
 * free list, taken when a connection has something in flight and given back
 * when it is idle, so an idle keep-alive connection holds no buffer. */
#include "config.h"
#include <gbca/headers.h>
#include <gbca/http1.h>
#include <gbca/loop.h>
#include <gbca/proxy.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#define CONN_MAGIC 0x67626361u   /* "gbca": checked at the top of every callback */
#define BUF_CAP (HTTP1_HEAD_MAX + 4096)
#define POOL_MAX 64
#define POOL_KEEP 4              /* free blocks of each size kept when idle */
#define TLS_CHUNK 16384          /* one TLS record */
#define RA_CAP (TLS_CHUNK + 2048) /* a full record with its header and tag */

/* A fixed-size buffer: data in [start, end); compacted when it runs out of room. */
struct buf {
	char *data;
	uint32_t start, end;
};

static inline uint32_t buf_len(const struct buf *b) { return b->end - b->start; }
static inline uint32_t buf_room(const struct buf *b) { return b->data ? BUF_CAP - b->end : BUF_CAP; }

/* Tracks how much of a buffer's front is body that may be forwarded. */
enum framing_kind { F_NONE, F_LENGTH, F_CHUNKED, F_DECHUNK, F_CLOSE, F_TUNNEL };
struct framer {
	enum framing_kind kind;
	uint64_t left;            /* F_LENGTH: body bytes not yet seen */
	struct http1_chunked ch;
	uint32_t ready;           /* bytes at the buffer's start that are checked body */
	bool done;                /* the body's end has been seen */
};

/* A free list of fixed-size blocks: taken while a connection has something
 * in flight, given back when it is idle, so there is no malloc per request. */
struct pool {
	char **items;
	unsigned n, cap;
	size_t size;
	unsigned low;             /* the fewest free blocks since the last trim */
};

static char *
pool_take(struct pool *p)
{
	if (p->n == 0)
		return malloc(p->size);
	if (--p->n < p->low)
		p->low = p->n;
	return p->items[p->n];
}

/* Frees the blocks that stayed free since the last call, but `keep`: what a
 * burst of load took is given back once it is over (run once a tick), while
 * a steady load keeps what it uses. Returns how many were freed. */
static unsigned
pool_trim(struct pool *p, unsigned keep)
{
	unsigned surplus = p->low > keep ? p->low - keep : 0, freed = 0;

	while (surplus-- > 0 && p->n > 0) {
		free(p->items[--p->n]);
		freed++;
	}
	p->low = p->n;
	return freed;
}

static void
pool_give(struct pool *p, char *block)
{
	if (p->n < p->cap)
		p->items[p->n++] = block;
	else
		free(block);
}

static void
pool_free(struct pool *p)
{
	while (p->n > 0)
		free(p->items[--p->n]);
	free(p->items);
}

struct upconn {
	struct worker *w;
	int fd;
	bool connecting;
	gnutls_session_t tls;     /* --google-passthrough: TLS to the real Google */
	bool handshaking;
	uint32_t send_pending;
	struct conn *c;           /* NULL while pooled */
	struct upconn *next;      /* pool list */
	uint64_t pooled_at;       /* loop time it went into the pool */
};

enum rstate { R_HANDSHAKE, R_HEAD, R_BODY, R_DONE, R_TUNNEL, R_CLOSING };
enum sstate { S_IDLE, S_HEAD, S_BODY };

struct conn {
	uint32_t magic;
	bool closed;              /* conn_close ran; freed after the current callback */
	bool queued;              /* on the worker's again list */
	struct conn *again_next;
	struct worker *w;
	struct conn *prev, *next;
	int fd;
	bool is_tls;
	gnutls_session_t tls;
	char peer[INET6_ADDRSTRLEN];
	size_t peer_len;

	struct buf in;            /* from the client */
	struct buf uhead;         /* rewritten request head, to the upstream */
	struct buf resp;          /* from the upstream */
	struct buf chead;         /* rewritten response head (or our error), to the client */
	struct framer rf, sf;     /* request body, response body */
	size_t head_scanned;
	size_t resp_scanned;
	uint32_t send_pending;    /* size passed to a gnutls_record_send that said AGAIN */

	enum rstate rstate;
	enum sstate sstate;
	struct upconn *up;
	bool head_request, upgrade_request, close_after, client_eof, up_eof, error_reply;
	bool up_sent_any;         /* some of this request went to the upstream */
	bool any_request;         /* a request head has come: idle timeout, not header timeout */
	bool google;              /* this request goes to the real Google */
	bool http10;              /* an HTTP/1.0 client: no chunked, no 1xx */
	bool client_waits_write;  /* a client write said AGAIN */
	bool up_waits_write;
	/* Level-triggered epoll said readable and no read has said AGAIN since:
	 * reads are only tried then, not on every turn of the loop. */
	bool client_readable, up_readable;
	bool uncork_pending;      /* a corked head+body still to flush */
	char *ra;                 /* TLS read-ahead: whole records in one recv */
	uint32_t ra_start, ra_end;

	int status;
	uint64_t bytes_out, t_start, t_up, t_active, t_head, deadline;
	char method[16];
	char path[200];
};

struct worker {
	const struct gbca_proxy_config *cfg;
	struct gbca_tls *tls;
	struct gbca_loop *loop;
	int lfds[GBCA_PROXY_LISTEN_MAX];
	bool ltls[GBCA_PROXY_LISTEN_MAX];
	size_t n_lfds;
	bool accepting;
	struct conn *conns;
	struct conn *graveyard;   /* closed, freed once no callback holds them */
	struct conn *again;       /* stopped by the step limit with work left */
	unsigned n_conns, max_conns;
	struct upconn *pool;
	unsigned n_pool;
	struct pool bufs;         /* BUF_CAP blocks */
	struct pool ras;          /* RA_CAP read-ahead blocks */
	int log_fd;
	int sig_fd;
	bool draining;
	uint64_t drain_deadline;
	bool fd_starved;          /* accept said EMFILE/ENFILE; logged once until one succeeds */
};

static void conn_step(struct conn *c);
static void conn_close(struct conn *c);
static void accept_event(struct gbca_loop *loop, int fd, unsigned events, void *data);
static void resume_accepting(struct worker *w);
static void bury(struct worker *w);

/* --- buffers --- */

static bool
buf_take(struct worker *w, struct buf *b)
{
	if (b->data)
		return true;
	b->data = pool_take(&w->bufs);
	b->start = b->end = 0;
	return b->data != NULL;
}

static void
buf_give(struct worker *w, struct buf *b)
{
	if (b->data == NULL)
		return;
	pool_give(&w->bufs, b->data);
	b->data = NULL;
	b->start = b->end = 0;
}

/* Gives the buffer back when empty; keeps it otherwise. */
static void
buf_trim(struct worker *w, struct buf *b)
{
	if (b->data && b->start == b->end)
		buf_give(w, b);
}

static void
buf_consume(struct buf *b, uint32_t n)
{
	b->start += n;
	if (b->start == b->end)
		b->start = b->end = 0;
}

/* Makes room at the end by moving the data to the front. */
static void
buf_compact(struct buf *b)
{
	if (b->start > 0 && b->data) {
		memmove(b->data, b->data + b->start, buf_len(b));
		b->end -= b->start;
		b->start = 0;
	}
}

static bool
buf_append(struct buf *b, const char *p, size_t n)
{
	if (b->end + n > BUF_CAP)
		return false;
	memcpy(b->data + b->end, p, n);
	b->end += (uint32_t)n;
	return true;
}

static bool
buf_lit(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

static bool
buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->data + b->end, BUF_CAP - b->end, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= BUF_CAP - b->end)
		return false;
	b->end += (uint32_t)n;
	return true;
}

/* --- framing --- */

static void
framer_init(struct framer *f, enum framing_kind kind, uint64_t length)
{
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->left = length;
	if (kind == F_CHUNKED || kind == F_DECHUNK)
		http1_chunked_init(&f->ch);
	if (kind == F_NONE || (kind == F_LENGTH && length == 0))
		f->done = true;
}

/* Looks at the bytes after f->ready; returns false for a malformed body.
 * F_DECHUNK decodes in place: the chunk data moves down to f->ready and what
 * follows the body moves after it. */
static bool
framer_scan(struct framer *f, struct buf *b, const char **why)
{
	uint32_t avail = buf_len(b) - f->ready;
	char *p = b->data + b->start + f->ready;
	size_t used = 0, out;
	int r;

	if (f->done || avail == 0)
		return true;
	switch (f->kind) {
	case F_LENGTH:
		used = avail < f->left ? avail : (size_t)f->left;
		f->left -= used;
		f->ready += (uint32_t)used;
		f->done = f->left == 0;
		return true;
	case F_CHUNKED:
		r = http1_chunked_feed(&f->ch, p, avail, &used, why);
		if (r < 0)
			return false;
		f->ready += (uint32_t)used;
		f->done = r == 1;
		return true;
	case F_DECHUNK:
		r = http1_chunked_decode(&f->ch, p, avail, &used, &out, why);
		if (r < 0)
			return false;
		memmove(p + out, p + used, avail - used);
		b->end -= (uint32_t)(used - out);
		f->ready += (uint32_t)out;
		f->done = r == 1;
		return true;
	case F_CLOSE:
	case F_TUNNEL:
		f->ready += avail;
		return true;
	case F_NONE:
		f->done = true;
		return true;
	}
	return true;
}

/* --- logging --- */

static void
access_log(struct conn *c)
{
	struct worker *w = c->w;
	char line[512];
	uint64_t now = gbca_loop_now(w->loop);
	int n;

	if (w->log_fd < 0 || c->method[0] == '\0')
		return;
	/* The path only: the query string can carry ?key=... and is never logged. */
	n = snprintf(line, sizeof(line), "%s %s %s %d %llu %llu %llu\n", c->peer, c->method, c->path, c->status,
	             (unsigned long long)c->bytes_out,
	             (unsigned long long)(c->t_up ? c->t_up - c->t_start : 0),
	             (unsigned long long)(now - c->t_start));
	if (n > 0)
		(void)!write(w->log_fd, line, (size_t)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1));
}

/* --- I/O primitives --- */

/* Read-ahead blocks come from the worker's pool too, and an idle connection
 * gives its block back (18 KB of the idle cost). */
static void
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
static ssize_t
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

static ssize_t
tls_push(gnutls_transport_ptr_t ptr, const void *data, size_t size)
{
	struct conn *c = ptr;
	ssize_t n = send(c->fd, data, size, MSG_NOSIGNAL);

	if (n < 0)
		gnutls_transport_set_errno(c->tls, errno);
	return n;
}

static ssize_t
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
static void
ra_trim(struct conn *c)
{
	if (c->ra && c->ra_end == c->ra_start)
		ra_give(c);
}

/* Returns bytes read, 0 for EOF, -1 would block, -2 error. */
static ssize_t
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

static ssize_t
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

/* --- errors in Google's envelope --- */

static const char *
status_name(int code)
{
	switch (code) {
	case 400: return "INVALID_ARGUMENT";
	case 404: return "NOT_FOUND";
	case 431: return "INVALID_ARGUMENT";
	case 501: return "UNIMPLEMENTED";
	case 502: return "UNAVAILABLE";
	case 503: return "UNAVAILABLE";
	case 504: return "DEADLINE_EXCEEDED";
	case 505: return "INVALID_ARGUMENT";
	case 508: return "FAILED_PRECONDITION";
	default: return "UNKNOWN";
	}
}

static const char *
reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 508: return "Loop Detected";
	default: return "Error";
	}
}

static void up_free(struct worker *w, struct upconn *u);

/* Queues an error response and closes after it; the request is abandoned. */
static void
reply_error(struct conn *c, int code, const char *message)
{
	struct worker *w = c->w;
	char body[1024];
	int n;

	if (c->sstate == S_BODY || (c->chead.data && buf_len(&c->chead) > 0) || c->error_reply) {
		/* Part of a response already went out: all we can do is break it. */
		c->status = c->status ? c->status : code;
		conn_close(c);
		return;
	}
	n = snprintf(body, sizeof(body), "{\"error\":{\"code\":%d,\"message\":\"%s\",\"status\":\"%s\"}}\n", code,
	             message, status_name(code));
	if (!buf_take(w, &c->chead)) {
		conn_close(c);
		return;
	}
	c->chead.start = c->chead.end = 0;
	if (!buf_printf(&c->chead,
	                "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=UTF-8\r\n"
	                "Content-Length: %d\r\nConnection: close\r\n%s%s%s\r\n%s",
	                code, reason(code), n, w->cfg->cors[0] ? "Access-Control-Allow-Origin: " : "",
	                w->cfg->cors, w->cfg->cors[0] ? "\r\n" : "", body)) {
		conn_close(c);
		return;
	}
	c->status = code;
	c->error_reply = true;
	c->close_after = true;
	c->rstate = R_CLOSING;
	c->sstate = S_IDLE;
	framer_init(&c->sf, F_NONE, 0);
	if (c->up) {
		/* The upstream may be mid-request: it can't be reused. */
		up_free(w, c->up);
		c->up = NULL;
	}
}

/* --- the upstream --- */

static void up_event(struct gbca_loop *loop, int fd, unsigned events, void *data);

static void
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

static void
pool_put(struct worker *w, struct upconn *u)
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

static struct upconn *
pool_get(struct worker *w)
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

static struct upconn *
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
static struct upconn *
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

/* --- request head --- */

/* dst = the span, cut to fit, NUL-terminated (for the access log). */
static void
copy_span(char *dst, size_t size, const char *buf, struct http1_span s)
{
	size_t n = s.len < size - 1 ? s.len : size - 1;

	memcpy(dst, buf + s.off, n);
	dst[n] = '\0';
}

static bool
span_eq_cs(const char *buf, struct http1_span s, const char *lit)
{
	return strlen(lit) == s.len && memcmp(buf + s.off, lit, s.len) == 0;
}

/* Answers a CORS preflight (204). Its body (browsers send none) is not read:
 * the connection closes after the answer instead, so the body's bytes are
 * never taken for the next request. */
static bool
cors_preflight(struct conn *c, const char *buf, const struct http1_request *r)
{
	struct worker *w = c->w;
	const struct http1_header *acrh;
	int i;

	if (!w->cfg->cors[0] || !span_eq_cs(buf, r->method, "OPTIONS") ||
	    http1_find_header(buf, r->headers, r->n_headers, "access-control-request-method", 0) < 0)
		return false;
	i = http1_find_header(buf, r->headers, r->n_headers, "access-control-request-headers", 0);
	acrh = i >= 0 ? &r->headers[i] : NULL;
	if (!buf_take(w, &c->chead))
		return false;
	if (r->framing != HTTP1_BODY_NONE)
		c->close_after = true;
	buf_printf(&c->chead,
	           "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: %s\r\n"
	           "Access-Control-Allow-Methods: GET, POST, PUT, PATCH, DELETE, OPTIONS\r\n"
	           "Access-Control-Allow-Headers: %.*s\r\nAccess-Control-Max-Age: 86400\r\n"
	           "Vary: Origin\r\nContent-Length: 0\r\n%s\r\n",
	           w->cfg->cors,
	           acrh ? (int)acrh->value.len : (int)strlen("content-type, x-goog-api-key, authorization"),
	           acrh ? buf + acrh->value.off : "content-type, x-goog-api-key, authorization",
	           c->close_after ? "Connection: close\r\n" : "");
	c->status = 204;
	return true;
}

/* Appends the values of every field of kind k, each followed by ", ": a
 * list field may come as several lines (RFC 9110 5.3), and keeping only the
 * first would lose hops (Via, X-Forwarded-For). */
static bool
append_each(struct buf *o, const char *buf, const struct http1_request *r, const struct headers_fields *f,
            enum headers_kind k)
{
	bool ok = true;

	for (size_t i = 0; ok && i < r->n_headers; i++)
		if (f->kind[i] == k)
			ok = buf_append(o, buf + r->headers[i].value.off, r->headers[i].value.len) && buf_lit(o, ", ");
	return ok;
}

/* Builds the upstream's request head in c->uhead. */
static bool
rewrite_request(struct conn *c, const char *buf, const struct http1_request *r,
                const struct headers_fields *f)
{
	struct buf *o = &c->uhead;
	bool ok;

	if (!buf_take(c->w, o))
		return false;
	o->start = o->end = 0;
	ok = buf_append(o, buf + r->method.off, r->method.len) && buf_append(o, " ", 1);
	if (ok && r->absolute) {
		/* absolute-form: the upstream gets origin-form, path and query as sent */
		ok = (r->path.len ? buf_append(o, buf + r->path.off, r->path.len) : buf_append(o, "/", 1)) &&
		     (r->query.len == 0 || (buf_append(o, "?", 1) && buf_append(o, buf + r->query.off, r->query.len)));
	} else if (ok) {
		ok = buf_append(o, buf + r->target.off, r->target.len);
	}
	ok = ok && buf_append(o, " HTTP/1.1\r\n", 11);
	for (size_t i = 0; ok && i < r->n_headers; i++) {
		const struct http1_header *h = &r->headers[i];
		if (headers_drop_request(buf, h, (enum headers_kind)f->kind[i], &f->tok))
			continue;
		ok = buf_append(o, buf + h->name.off, h->name.len) && buf_append(o, ": ", 2) &&
		     buf_append(o, buf + h->value.off, h->value.len) && buf_append(o, "\r\n", 2);
	}
	if (ok && r->host < 0) {
		/* HTTP/1.0 without Host: we forward HTTP/1.1, which must carry one;
		 * the upstream's own authority (what --upstream says) is the honest one. */
		const char *a = c->google ? GBCA_GOOGLE_HOST : c->w->cfg->upstream_url + strlen("http://");
		ok = buf_lit(o, "Host: ") && buf_append(o, a, strcspn(a, "/")) && buf_lit(o, "\r\n");
	}
	/* The real Google gets no forwarding fields (only Via, which would show a loop). */
	if (ok && c->google)
		;
	else if (ok) {
		/* Plain appends: this runs for every request (vsnprintf showed in profiles). */
		ok = buf_lit(o, "X-Forwarded-For: ") && (f->xff == NULL || append_each(o, buf, r, f, FK_X_FORWARDED_FOR)) &&
		     buf_append(o, c->peer, c->peer_len) && buf_lit(o, "\r\n");
	}
	if (ok && !c->google)
		ok = buf_lit(o, "X-Real-IP: ") && buf_append(o, c->peer, c->peer_len) &&
		     buf_lit(o, c->is_tls ? "\r\nX-Forwarded-Proto: https\r\n" : "\r\nX-Forwarded-Proto: http\r\n");
	if (ok)
		ok = buf_lit(o, "Via: ") && (f->via == NULL || append_each(o, buf, r, f, FK_VIA)) &&
		     buf_lit(o, "1.1 gbca\r\n");
	if (ok && c->upgrade_request) {
		const struct http1_header *up = f->upgrade;
		ok = up && buf_printf(o, "Connection: upgrade\r\nUpgrade: %.*s\r\n", (int)up->value.len, buf + up->value.off);
	}
	return ok && buf_append(o, "\r\n", 2);
}

/* A complete head sits at the front of c->in: judge it and start forwarding. */
static void
process_request_head(struct conn *c, uint32_t head_len)
{
	struct worker *w = c->w;
	const char *buf = c->in.data + c->in.start;
	const struct http1_header *h;
	struct http1_request r;
	struct headers_fields f;
	const char *why = "bad request";
	bool real_key;
	int code;

	c->head_scanned = 0;   /* the next head is scanned from its own start */
	c->t_start = gbca_loop_now(w->loop);
	c->t_head = 0;
	c->any_request = true;
	c->status = 0;
	c->bytes_out = 0;
	c->t_up = 0;
	c->method[0] = c->path[0] = '\0';
	code = http1_parse_request(buf, head_len, &r, &why);
	if (code != 0) {
		snprintf(c->method, sizeof(c->method), "-");
		snprintf(c->path, sizeof(c->path), "-");
		reply_error(c, code, why);
		return;
	}
	copy_span(c->method, sizeof(c->method), buf, r.method);
	if (w->log_fd >= 0)
		copy_span(c->path, sizeof(c->path), buf, r.path);
	headers_classify(buf, r.headers, r.n_headers, &f);
	c->head_request = span_eq_cs(buf, r.method, "HEAD");
	c->upgrade_request = r.upgrade;
	c->close_after = !r.keep_alive || w->draining;
	c->http10 = r.minor == 0;

	/* A real Google key must never reach Gemini Balance: this request came
	 * from a same-host client (Gemini Balance itself) through the hosts entry. */
	h = f.api_key;
	real_key = (h && headers_is_api_key(buf + h->value.off, h->value.len)) ||
	           headers_query_has_api_key(buf + r.query.off, r.query.len);
	c->google = real_key && w->cfg->google_passthrough;
	if (real_key && !c->google) {
		reply_error(c, 508, "gbca refused to forward a Google API key (AIza...) to the local upstream: "
		            "this request came back to the proxy through the hosts entry, most likely from "
		            "Gemini Balance itself running on this host. Run Gemini Balance where "
		            "generativelanguage.googleapis.com is not mapped to this proxy (another host, "
		            "a container with its own /etc/hosts), or start gbca serve with --google-passthrough");
		return;
	}
	if (headers_via_loop(buf, r.headers, r.n_headers, &f)) {
		reply_error(c, 508, "the request already passed through gbca (Via: gbca): the upstream points back at the proxy");
		return;
	}
	if (cors_preflight(c, buf, &r)) {
		buf_consume(&c->in, head_len);
		c->rstate = R_DONE;
		c->sstate = S_IDLE;
		framer_init(&c->rf, F_NONE, 0);
		framer_init(&c->sf, F_NONE, 0);
		return;
	}
	if (!rewrite_request(c, buf, &r, &f)) {
		reply_error(c, 431, "the request head is too large to forward");
		return;
	}
	buf_consume(&c->in, head_len);
	framer_init(&c->rf, r.framing == HTTP1_BODY_CHUNKED ? F_CHUNKED :
	                    r.framing == HTTP1_BODY_LENGTH ? F_LENGTH : F_NONE, r.content_length);
	c->rstate = R_BODY;
	c->sstate = S_HEAD;
	c->resp_scanned = 0;
	if (c->google) {
		c->up = up_connect_google(w);
		if (c->up == NULL) {
			reply_error(c, 502, "gbca couldn't reach the real generativelanguage.googleapis.com (no address from DNS, or no network)");
			return;
		}
	} else {
		c->up = pool_get(w);
		if (c->up == NULL)
			c->up = up_connect(w);
	}
	if (c->up == NULL) {
		reply_error(c, 502, "gbca couldn't reach the upstream");
		return;
	}
	c->up->c = c;
	c->up_sent_any = false;
	c->up_eof = false;
	c->t_active = gbca_loop_now(w->loop);
	if (!buf_take(w, &c->resp)) {
		reply_error(c, 503, "out of memory");
		return;
	}
	c->up_readable = false;
}

/* --- response head --- */

static bool
rewrite_response(struct conn *c, const char *buf, const struct http1_response *r, bool upgrade)
{
	const struct gbca_proxy_config *cfg = c->w->cfg;
	struct buf *o = &c->chead;
	struct headers_fields f;
	/* the parser allows three digits only */
	char status[5] = { ' ', (char)('0' + r->status / 100), (char)('0' + r->status / 10 % 10),
	                   (char)('0' + r->status % 10), ' ' };
	bool ok;

	headers_classify(buf, r->headers, r->n_headers, &f);
	if (!buf_take(c->w, o))
		return false;
	o->start = o->end = 0;
	ok = buf_lit(o, "HTTP/1.1") && buf_append(o, status, sizeof(status)) &&
	     buf_append(o, buf + r->reason.off, r->reason.len) && buf_lit(o, "\r\n");
	for (size_t i = 0; ok && i < r->n_headers; i++) {
		const struct http1_header *h = &r->headers[i];
		const char *v = buf + h->value.off;
		size_t vl = h->value.len;
		enum headers_kind k = (enum headers_kind)f.kind[i];

		if (headers_drop_response(buf, h, k, &f.tok, upgrade))
			continue;
		if (c->http10 && k == FK_TRANSFER_ENCODING)
			continue;   /* the body goes out de-chunked, delimited by the close */
		if (cfg->cors[0] && k == FK_ACAO)
			continue;
		/* Gemini Balance builds the upload URL from the scheme it saw: http. */
		if (k == FK_UPLOAD_URL && vl > 7 && strncasecmp(v, "http://", 7) == 0) {
			bool ours = false;
			for (size_t j = 0; j < cfg->n_names && !ours; j++) {
				size_t nl = strlen(cfg->names[j]);
				ours = vl >= 7 + nl && strncasecmp(v + 7, cfg->names[j], nl) == 0 &&
				       (vl == 7 + nl || v[7 + nl] == '/' || v[7 + nl] == ':' || v[7 + nl] == '?');
			}
			if (ours) {
				ok = buf_printf(o, "%.*s: https://%.*s\r\n", (int)h->name.len, buf + h->name.off,
				                (int)(vl - 7), v + 7);
				continue;
			}
		}
		ok = buf_append(o, buf + h->name.off, h->name.len) && buf_append(o, ": ", 2) &&
		     buf_append(o, v, vl) && buf_append(o, "\r\n", 2);
	}
	if (ok && cfg->cors[0])
		ok = buf_printf(o, "Access-Control-Allow-Origin: %s\r\nAccess-Control-Expose-Headers: *\r\n", cfg->cors);
	if (ok && upgrade)
		ok = buf_lit(o, "Connection: upgrade\r\n");
	else if (ok && c->close_after)
		ok = buf_lit(o, "Connection: close\r\n");
	else if (ok && c->http10)
		ok = buf_lit(o, "Connection: keep-alive\r\n");   /* 1.0 closes otherwise (RFC 9112 9.3) */
	return ok && buf_append(o, "\r\n", 2);
}

static void
process_response_head(struct conn *c, uint32_t head_len)
{
	const char *buf = c->resp.data + c->resp.start;
	struct http1_response r;
	const char *why = "bad response";
	bool upgrade;
	int code;

	code = http1_parse_response(buf, head_len, c->head_request, &r, &why);
	if (code != 0) {
		reply_error(c, 502, "the upstream sent a malformed response");
		return;
	}
	if (c->t_up == 0)
		c->t_up = gbca_loop_now(c->w->loop);
	upgrade = r.status == 101 && c->upgrade_request;
	if (r.status == 101 && !upgrade) {
		reply_error(c, 502, "the upstream switched protocols without being asked");
		return;
	}
	if (c->http10 && r.status < 200) {
		/* An HTTP/1.0 client knows no 1xx (RFC 9110 15.2): drop it. */
		buf_consume(&c->resp, head_len);
		c->resp_scanned = 0;
		return;
	}
	if (!r.keep_alive || (c->http10 && r.framing == HTTP1_BODY_CHUNKED))
		c->close_after = true;
	if (!rewrite_response(c, buf, &r, upgrade)) {
		reply_error(c, 502, "the upstream's response head is too large");
		return;
	}
	buf_consume(&c->resp, head_len);
	c->resp_scanned = 0;
	if (r.status >= 100 && r.status < 200 && !upgrade) {
		/* 100 Continue and friends: forward, then the real head follows. */
		return;
	}
	c->status = r.status;
	c->sstate = S_BODY;
	if (upgrade) {
		c->rstate = R_TUNNEL;
		framer_init(&c->rf, F_TUNNEL, 0);
		framer_init(&c->sf, F_TUNNEL, 0);
		return;
	}
	framer_init(&c->sf, r.framing == HTTP1_BODY_CHUNKED ? (c->http10 ? F_DECHUNK : F_CHUNKED) :
	                    r.framing == HTTP1_BODY_LENGTH ? F_LENGTH :
	                    r.framing == HTTP1_BODY_CLOSE ? F_CLOSE : F_NONE, r.content_length);
	if (r.framing == HTTP1_BODY_CLOSE)
		c->close_after = true;
}

/* The exchange is over: log it, pool the upstream, get ready for the next.
 * Bytes the upstream sent past the end of its response (extra data, a body
 * on 204, 304 or HEAD) are no answer to anything: they are dropped, never
 * served to the next request, and that upstream connection is closed, never
 * pooled. */
static void
finish_exchange(struct conn *c)
{
	struct worker *w = c->w;
	bool leftover = c->resp.data && buf_len(&c->resp) > 0;

	access_log(c);
	if (leftover)
		c->resp.start = c->resp.end = 0;
	if (c->up) {
		if (!leftover && !c->close_after && c->rf.done && c->sf.done && !c->up_eof && c->sf.kind != F_CLOSE &&
		    !c->up->tls)
			pool_put(w, c->up);
		else
			up_free(w, c->up);
		c->up = NULL;
	}
	c->sstate = S_IDLE;
	c->rstate = c->close_after ? R_CLOSING : R_HEAD;
	c->method[0] = '\0';
	c->t_active = gbca_loop_now(w->loop);
	buf_trim(w, &c->resp);
	buf_give(w, &c->uhead);
	buf_give(w, &c->chead);
	buf_trim(w, &c->in);
	ra_trim(c);
}

/* --- the state machine --- */

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

	if (u == NULL || u->tls == NULL || !u->handshaking || u->connecting)
		return false;
	r = gnutls_handshake(u->tls);
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
		return false;
	if (r < 0) {
		reply_error(c, 502, r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR
		                        ? "the real generativelanguage.googleapis.com did not show a certificate the system trusts"
		                        : "TLS with the real generativelanguage.googleapis.com failed");
		return true;
	}
	u->handshaking = false;
	c->up_readable = true;
	c->t_active = gbca_loop_now(c->w->loop);
	return true;
}

/* The passthrough upstream writes through GnuTLS, one record at a time. */
static ssize_t
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
client_event(struct gbca_loop *loop, int fd, unsigned events, void *data);

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
		um = gnutls_record_get_direction(c->up->tls) ? GBCA_EV_WRITE : GBCA_EV_READ;
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
	if (c->up && c->up->connecting) {
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

static void
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
			conn_close(c);
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

/* --- callbacks --- */

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
			reply_error(c, 502, err == ECONNREFUSED ? "the upstream refused the connection (is it running?)"
			                                        : "gbca couldn't connect to the upstream");
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

static void
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

/* The loop's after-batch hook: runs the connections the step limit stopped. */
static bool
run_again(struct gbca_loop *loop, void *data)
{
	struct worker *w = data;
	struct conn *list = w->again;
	(void)loop;

	w->again = NULL;
	while (list) {
		struct conn *c = list;
		list = c->again_next;
		c->queued = false;
		if (c->closed) {
			c->next = w->graveyard;
			w->graveyard = c;
		} else {
			conn_step(c);
		}
	}
	bury(w);
	return w->again != NULL;
}

static void
bury(struct worker *w)
{
	while (w->graveyard) {
		struct conn *c = w->graveyard;
		w->graveyard = c->next;
		c->magic = 0;
		free(c);
	}
}

static void
stop_accepting(struct worker *w)
{
	for (size_t i = 0; i < w->n_lfds; i++)
		gbca_loop_set(w->loop, w->lfds[i], 0, NULL, NULL);
	w->accepting = false;
}

/* No descriptor for a new client: the listener stays readable, and polling it
 * would spin (level-triggered). Stop polling the listeners until a
 * connection closes (conn_close) or the next tick, as nginx does; new
 * clients wait in the kernel's queue. One log line per shortage. */
static void
out_of_descriptors(struct worker *w)
{
	if (!w->fd_starved)
		gbca_print_warning("worker %ld: out of file descriptors (%s) with %u connections; new clients wait "
		                   "until one closes (raise LimitNOFILE or ulimit -n, or lower --max-connections)",
		                   (long)getpid(), strerror(errno), w->n_conns);
	w->fd_starved = true;
	stop_accepting(w);
}

static void
resume_accepting(struct worker *w)
{
	if (w->accepting || w->draining || w->n_conns >= w->max_conns)
		return;
	for (size_t i = 0; i < w->n_lfds; i++)
		gbca_loop_set(w->loop, w->lfds[i], GBCA_EV_READ | GBCA_EV_EXCLUSIVE, accept_event, w);
	w->accepting = true;
}

static bool
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

static void
accept_event(struct gbca_loop *loop, int fd, unsigned events, void *data)
{
	struct worker *w = data;
	bool tls = true;
	(void)loop; (void)events;

	for (size_t i = 0; i < w->n_lfds; i++)
		if (w->lfds[i] == fd)
			tls = w->ltls[i];
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int cfd;

		ss.ss_family = AF_UNSPEC;   /* new_conn reads it; accept4 may fill less */
		if (w->n_conns >= w->max_conns) {
			/* Full: leave new clients in the kernel's queue until a slot frees. */
			stop_accepting(w);
			return;
		}
		cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				out_of_descriptors(w);
			return;
		}
		w->fd_starved = false;
		if (!new_conn(w, cfd, tls, &ss))
			close(cfd);
		bury(w);
	}
}

static void
tick(struct gbca_loop *loop, void *data)
{
	struct worker *w = data;
	uint64_t now = gbca_loop_now(loop);
	struct conn *c = w->conns, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->deadline == 0 || now < c->deadline)
			continue;
		if (c->up && c->sstate == S_HEAD && (!c->chead.data || buf_len(&c->chead) == 0)) {
			reply_error(c, 504, c->up->connecting ? "the upstream did not accept the connection in time"
			                                      : "the upstream did not answer in time");
			if (!c->closed)
				conn_step(c);
		} else {
			conn_close(c);
		}
	}
	if (w->fd_starved)
		resume_accepting(w);   /* descriptors may have freed elsewhere: try again once a tick */
	/* Memory goes back after load: blocks idle for a whole tick are freed,
	 * and glibc is asked to return the freed pages to the system. */
	if (pool_trim(&w->bufs, POOL_KEEP) + pool_trim(&w->ras, POOL_KEEP) > 0)
		malloc_trim(0);
	if (w->draining) {
		/* Idle keep-alive connections go now; busy ones finish first. */
		for (c = w->conns; c; c = next) {
			next = c->next;
			if (c->rstate == R_HEAD && c->sstate == S_IDLE && (!c->in.data || buf_len(&c->in) == 0))
				conn_close(c);
		}
		if (w->n_conns == 0 || now >= w->drain_deadline)
			gbca_loop_stop(loop);
	}
	bury(w);
}

static void
signal_event(struct gbca_loop *loop, int fd, unsigned events, void *data)
{
	struct worker *w = data;
	struct signalfd_siginfo si;
	(void)events;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		/* SIGTERM (the master stops): finish within --drain-timeout.
		 * SIGQUIT (the master reloaded, new workers serve): finish what is
		 * in flight, a slow generation included, within --upstream-timeout;
		 * a SIGTERM later shortens that to --drain-timeout. */
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT || si.ssi_signo == SIGQUIT) {
			unsigned s = si.ssi_signo == SIGQUIT ? w->cfg->upstream_timeout_s : w->cfg->drain_timeout_s;
			uint64_t deadline = gbca_loop_now(loop) + (uint64_t)s * 1000;

			if (w->draining) {
				if (deadline < w->drain_deadline)
					w->drain_deadline = deadline;
				continue;
			}
			w->draining = true;
			w->drain_deadline = deadline;
			stop_accepting(w);
			/* What is in flight finishes, with "Connection: close" where the
			 * head has not gone out yet, and the connection closes after it:
			 * a retiring worker takes no new request, which the drain
			 * deadline would cut. */
			for (struct conn *c = w->conns; c; c = c->next)
				c->close_after = true;
			for (size_t i = 0; i < w->n_lfds; i++) {
				gbca_loop_del(loop, w->lfds[i]);
				close(w->lfds[i]);
			}
			w->n_lfds = 0;
			tick(loop, w);
		}
	}
}

static bool
drop_privileges(const char *user, struct gbca_err *err)
{
	struct passwd *pw;

	if (geteuid() != 0 || user[0] == '\0' || strcmp(user, "root") == 0)
		return true;
	pw = getpwnam(user);
	if (pw == NULL)
		return gbca_fail(err, "no user \"%s\" to run as; choose one with --user", user);
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		return gbca_fail(err, "couldn't switch to user %s: %s", user, strerror(errno));
	return true;
}

int
gbca_worker_main(const struct gbca_proxy_config *cfg, struct gbca_tls *tls, const int *fds,
                 const bool *tls_fds, size_t n_fds)
{
	struct worker w;
	struct gbca_err err;
	sigset_t set;
	unsigned workers = cfg->workers ? cfg->workers : 1;
	int rc = 3;   /* fatal: the master stops instead of starting another */

	memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	w.tls = tls;
	w.loop = gbca_loop_new();
	w.max_conns = (cfg->max_connections + workers - 1) / workers;
	w.bufs = (struct pool){ .items = calloc(256, sizeof(char *)), .cap = 256, .size = BUF_CAP };
	w.ras = (struct pool){ .items = calloc(256, sizeof(char *)), .cap = 256, .size = RA_CAP };
	w.log_fd = -1;
	w.sig_fd = -1;
	if (w.loop == NULL || w.bufs.items == NULL || w.ras.items == NULL) {
		gbca_print_error("worker: out of memory");
		goto out;
	}
	if (strcmp(cfg->access_log, "off") != 0)
		w.log_fd = cfg->access_log[0] ? -1 : 2;
	if (cfg->access_log[0] && strcmp(cfg->access_log, "off") != 0) {
		w.log_fd = open(cfg->access_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (w.log_fd < 0) {
			gbca_print_error("couldn't open the access log %s: %s", cfg->access_log, strerror(errno));
			goto out;
		}
	}
	if (!drop_privileges(cfg->user, &err)) {
		gbca_print_error("%s", err.msg);
		goto out;
	}
	/* Changing the uid cleared the parent-death signal the master's fork set. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	w.sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	gbca_loop_set(w.loop, w.sig_fd, GBCA_EV_READ, signal_event, &w);
	for (size_t i = 0; i < n_fds; i++) {
		w.lfds[i] = fds[i];
		w.ltls[i] = tls_fds[i];
		gbca_loop_set(w.loop, fds[i], GBCA_EV_READ | GBCA_EV_EXCLUSIVE, accept_event, &w);
	}
	w.n_lfds = n_fds;
	w.accepting = true;
	gbca_loop_tick(w.loop, 1000, tick, &w);
	gbca_loop_after(w.loop, run_again, &w);
	gbca_loop_run(w.loop);
	while (w.conns)
		conn_close(w.conns);
	run_again(w.loop, &w);   /* moves queued, now closed, connections to the graveyard */
	bury(&w);
	while (w.pool) {
		struct upconn *u = w.pool;
		w.pool = u->next;
		up_free(&w, u);
	}
	rc = 0;
out:
	/* The one way out: whatever was set up is freed here. */
	pool_free(&w.bufs);
	pool_free(&w.ras);
	if (w.loop)
		gbca_loop_free(w.loop);
	if (w.log_fd > 2)
		close(w.log_fd);
	if (w.sig_fd >= 0)
		close(w.sig_fd);
#ifdef __SANITIZE_ADDRESS__
	/* A worker leaves through _exit, past LeakSanitizer's atexit check:
	 * check here, where all it allocated should be gone (the tests read
	 * the report on serve's stderr). */
	__lsan_do_recoverable_leak_check();
#endif
	return rc;
}
