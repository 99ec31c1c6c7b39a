/* The parts of a gbca serve worker, shared by the files of src/proxy that
 * make it up: bufpool.c (buffers), clientio.c (client bytes), upstream.c (upstream connections and the
 * pool), reply.c (our own answers), exchange.c (one request and its
 * response), conn.c (the connection state machine) and worker.c (the
 * process). Not an API outside the worker. */
#ifndef GBCA_WORKER_H
#define GBCA_WORKER_H

#include <gbca/http1.h>
#include <gbca/loop.h>
#include <gbca/proxy.h>

#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <string.h>
#include <sys/types.h>

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

/* The hot little ones, inline: they run several times per request. */
static inline void
buf_consume(struct buf *b, uint32_t n)
{
	b->start += n;
	if (b->start == b->end)
		b->start = b->end = 0;
}

static inline bool
buf_append(struct buf *b, const char *p, size_t n)
{
	if (b->end + n > BUF_CAP)
		return false;
	memcpy(b->data + b->end, p, n);
	b->end += (uint32_t)n;
	return true;
}

static inline bool
buf_lit(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

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

/* The CONNECT exchange with --upstream-proxy, before TLS (upstream.c). */
#define PROXY_HEAD_MAX 4096
enum up_proxy { UP_PROXY_NONE, UP_PROXY_SEND, UP_PROXY_READ };

struct upconn {
	struct worker *w;
	int fd;
	bool connecting;
	gnutls_session_t tls;     /* an https upstream, or the real Google (--google-passthrough) */
	bool google;              /* the real Google: never pooled */
	/* Not ready for requests yet: the CONNECT exchange and/or the TLS handshake. */
	bool handshaking;
	bool session_saved;       /* its resumption data went to the worker */
	enum up_proxy proxy;
	char *proxy_buf;          /* the CONNECT request, then the proxy's answer */
	uint32_t proxy_len, proxy_off;
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
	/* The upstream's response leaves its connection reusable (keep-alive, not
	 * framed by close, no upgrade): pooled after the exchange whether or not
	 * the client closes (close_after is the client side's). */
	bool up_keep;
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
	uint64_t drain_since;     /* when draining began (the fresh-connection grace counts from it) */
	bool fd_starved;          /* accept said EMFILE/ENFILE; logged once until one succeeds */
	/* TLS to an https upstream: the latest session's resumption data, given
	 * to each new connection, and counts for the exit line. */
	gnutls_datum_t up_session;
	uint64_t up_handshakes, up_resumed;
	uint64_t up_fail_logged;  /* loop time of the last upstream failure logged */
	char lname[GBCA_PROXY_LISTEN_MAX][64];   /* each listener's address, for messages */
	/* Refused clients (--allow): a line each, REFUSALS_LOGGED a minute at
	 * most, then one line that counts the rest. */
	uint64_t refused_since;
	unsigned refused_logged, refused_quiet;
	char refused_last[INET6_ADDRSTRLEN];
};

/* bufpool.c */
char *pool_take(struct pool *p);
unsigned pool_trim(struct pool *p, unsigned keep);
void pool_give(struct pool *p, char *block);
void pool_free(struct pool *p);
bool buf_take(struct worker *w, struct buf *b);
void buf_give(struct worker *w, struct buf *b);
void buf_trim(struct worker *w, struct buf *b);
void buf_compact(struct buf *b);
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* reply.c */
void reply_error(struct conn *c, int code, const char *message);
bool cors_preflight(struct conn *c, const char *buf, const struct http1_request *r);

/* upstream.c */
void up_free(struct worker *w, struct upconn *u);
void up_pool_put(struct worker *w, struct upconn *u);
struct upconn *up_pool_get(struct worker *w);
struct upconn *up_connect(struct worker *w);
struct upconn *up_connect_google(struct worker *w);
ssize_t up_tls_send(struct conn *c, const char *p, size_t len);
/* Moves a connection that is not ready (CONNECT, TLS handshake) along:
 * 1 progress (ready when !u->handshaking), 0 waiting, -1 failed (c has its
 * 502). up_prepare_events: what it waits for. */
int up_prepare(struct conn *c);
unsigned up_prepare_events(const struct upconn *u);
/* Our 502 for an upstream that can't be used, saying why, and a log line. */
void up_fail(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Asks the master to look the upstream's name up again (a connect failed). */
void up_stale(struct worker *w);
/* Keeps the session's resumption data for the next connection (once it has any). */
void up_save_session(struct worker *w, struct upconn *u);

/* exchange.c */
void framer_init(struct framer *f, enum framing_kind kind, uint64_t length);
bool framer_scan(struct framer *f, struct buf *b, const char **why);
void access_log(struct conn *c);
bool span_eq_cs(const char *buf, struct http1_span s, const char *lit);
void process_request_head(struct conn *c, uint32_t head_len);
void process_response_head(struct conn *c, uint32_t head_len);
void finish_exchange(struct conn *c);

/* clientio.c: bytes from and to the client. client_read returns bytes
 * read, 0 for EOF, -1 would block, -2 error; client_write the same but 0. */
void ra_give(struct conn *c);
void ra_trim(struct conn *c);
ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *data, size_t size);
ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *data, size_t size);
ssize_t tls_push_vec(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt);
ssize_t client_read(struct conn *c, char *p, size_t n);
ssize_t client_write(struct conn *c, const char *p, size_t n);

/* conn.c */
void conn_step(struct conn *c);
void conn_close(struct conn *c);
/* An orderly close: a TLS close_notify first (best effort, never waits),
 * so that clients tell it from a cut connection (RFC 9112 9.8). */
void conn_goodbye(struct conn *c);
bool new_conn(struct worker *w, int fd, bool tls, const struct sockaddr_storage *ss);

/* worker.c */
void bury(struct worker *w);
void resume_accepting(struct worker *w);

#endif
