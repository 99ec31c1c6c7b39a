/* A strict, zero-copy HTTP/1.1 parser for gbca serve (RFC 9110, RFC 9112):
 * finds the end of a head, parses request and response heads into spans of
 * the caller's buffer, and tracks chunked bodies that are passed through.
 * Nothing here allocates or keeps a pointer to the buffer. */
#ifndef GBCA_HTTP1_H
#define GBCA_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest head (start line, fields, final CRLF CRLF) the proxy accepts.
 * When http1_head_end() returns 0 and the caller already holds this many
 * bytes, the caller answers 431; a head_len above it is refused by the
 * parse functions (431 for requests), so every offset fits a uint32_t. */
#define HTTP1_HEAD_MAX (64 * 1024)
/* More field lines than this in one head: 431. */
#define HTTP1_HEADERS_MAX 100
/* The largest Content-Length accepted (2^62). */
#define HTTP1_LENGTH_MAX (UINT64_C(1) << 62)
/* Chunked bodies: hex digits in a chunk size, bytes of the extensions of one
 * chunk (from the first ';' to the CR), bytes of the trailer section (from
 * after the last-chunk line to the end of the body). */
#define HTTP1_CHUNK_DIGITS_MAX 15
#define HTTP1_CHUNK_EXT_MAX 256
#define HTTP1_TRAILER_MAX (8 * 1024)

/* A piece of the caller's buffer: buf[off .. off + len). */
struct http1_span {
	uint32_t off, len;
};

/* One field line. The value is trimmed of leading and trailing SP/HTAB. */
struct http1_header {
	struct http1_span name, value;
};

enum http1_framing {
	HTTP1_BODY_NONE,     /* no body bytes follow the head (also Content-Length: 0) */
	HTTP1_BODY_LENGTH,   /* content_length bytes follow (> 0) */
	HTTP1_BODY_CHUNKED,  /* track the body with http1_chunked_feed() */
	HTTP1_BODY_CLOSE,    /* responses only: the body ends when the upstream closes */
};

struct http1_request {
	struct http1_span method;    /* a token; case-sensitive, not checked against a list */
	struct http1_span target;    /* the request-target as sent */
	/* origin-form "/p?q": path "/p", query "q". asterisk-form (OPTIONS only):
	 * path "*". absolute-form "http://a/p?q": authority "a", path "/p" (len 0
	 * when the target has no path: forward it as "/"). query.len is 0 when
	 * there is no '?' or nothing after it. */
	struct http1_span path, query;
	struct http1_span authority; /* absolute-form only; else len 0 */
	bool absolute;               /* the target was in absolute-form */
	int minor;                   /* HTTP/1.<minor>: 0 or 1 */
	size_t n_headers;
	struct http1_header headers[HTTP1_HEADERS_MAX];
	int host;                    /* index of the Host header, or -1 (only HTTP/1.0) */
	enum http1_framing framing;  /* NONE, LENGTH or CHUNKED */
	uint64_t content_length;     /* the Content-Length value, 0 without one */
	bool keep_alive;             /* the version and Connection allow another request */
	bool upgrade;                /* HTTP/1.1, Connection: upgrade and an Upgrade header */
	bool expect_continue;        /* HTTP/1.1 and Expect: 100-continue */
	uint32_t head_len;           /* bytes of the head incl. the final CRLF CRLF */
};

struct http1_response {
	int status;                  /* 100 .. 599 */
	int minor;
	struct http1_span reason;    /* may be empty */
	size_t n_headers;
	struct http1_header headers[HTTP1_HEADERS_MAX];
	/* NONE for HEAD requests, 1xx, 204 and 304 whatever the fields say; else
	 * CHUNKED, LENGTH, NONE (Content-Length: 0) or CLOSE. After a 1xx other
	 * than 101 the real response head follows. */
	enum http1_framing framing;
	uint64_t content_length;     /* the Content-Length value, 0 without one */
	bool keep_alive;             /* false for CLOSE framing and Connection: close */
	bool upgrade;                /* 101 (with an Upgrade header): the connection is a tunnel now */
	uint32_t head_len;
};

/* Finds the end of a head in buf[0 .. len): returns the head length (incl.
 * the empty line) or 0 when it is not complete yet. *scanned (start at 0)
 * carries the scan position between calls on the same growing buffer, so
 * each call costs O(new bytes); *scanned <= len afterwards.
 * The head ends at the first LF followed by LF or by CR LF: a strictly
 * correct head ends at its CRLF CRLF, and one with bare LFs ends early so that
 * the parse step rejects it at once instead of waiting for HTTP1_HEAD_MAX. */
size_t http1_head_end(const char *buf, size_t len, size_t *scanned);

/* Parses the request head buf[0 .. head_len), normally head_len from
 * http1_head_end(). Returns 0, or the status to answer with: 400 (malformed,
 * ambiguous framing, a Connection option naming Content-Length,
 * Transfer-Encoding or Host, Host missing, repeated, malformed or not
 * matching an absolute-form target), 417 (an Expect other than 100-continue), 431 (more
 * than HTTP1_HEADERS_MAX fields, or head_len above HTTP1_HEAD_MAX), 501
 * (CONNECT: authority-form is not proxied), 505 (a version other than
 * HTTP/1.0 and 1.1). On error *why is a short static reason for the log and
 * *r is partly filled. */
int http1_parse_request(const char *buf, size_t head_len, struct http1_request *r,
                        const char **why);

/* Parses the response head buf[0 .. head_len) of the upstream. head_request
 * says the request was HEAD (no body whatever the fields say). Returns 0, or
 * 502 (what the proxy answers) with *why set; a Connection option naming a
 * framing header is a 502 too. */
int http1_parse_response(const char *buf, size_t head_len, bool head_request,
                         struct http1_response *r, const char **why);

/* The chunked-body tracker in pass-through mode: the proxy forwards the raw
 * bytes; this finds where the body (chunks, trailers, final CRLF) ends and
 * validates its framing. Only the state is kept, never the bytes. */
struct http1_chunked {
	int state;
	uint64_t remaining;  /* chunk size being read, then data bytes left */
	unsigned digits;     /* hex digits of the chunk size so far */
	unsigned ext_len;    /* bytes of this chunk's extensions so far */
	unsigned trailer_len;
	const char *why;     /* the error once malformed */
};

void http1_chunked_init(struct http1_chunked *c);

/* Consumes up to len bytes of body. *used is the number of bytes that belong
 * to the body: all of them while more is needed, up to and including the
 * final LF when complete (what follows is the next message), up to the
 * offending byte when malformed. Returns 1 when the body is complete (and
 * stays so: further calls use 0 bytes), 0 when more is needed, -1 when
 * malformed (*why set; stays so). */
int http1_chunked_feed(struct http1_chunked *c, const char *buf, size_t len,
                       size_t *used, const char **why);

/* The same tracker, decoding: consumes up to len bytes like
 * http1_chunked_feed() (same *used and return value) and moves the chunk
 * data among them to buf[0 .. *out), dropping sizes, extensions, CRLFs and
 * trailers. For a client that can't read chunked (HTTP/1.0). */
int http1_chunked_decode(struct http1_chunked *c, char *buf, size_t len, size_t *used,
                         size_t *out, const char **why);

/* True when the span equals lit, ASCII case-insensitively. */
bool http1_span_eq(const char *buf, struct http1_span s, const char *lit);

/* The index of the first header from index `from` on whose name is `name`
 * (case-insensitive), or -1. */
int http1_find_header(const char *buf, const struct http1_header *h, size_t n,
                      const char *name, size_t from);

/* Iterates the elements of a comma-separated field value (Connection,
 * Upgrade, ...): *pos starts at 0; each call sets *item to the next non-empty
 * element, trimmed of SP/HTAB, and returns true, or returns false at the end.
 * Quoted strings are not understood: a comma inside one splits it. */
bool http1_list_next(const char *buf, struct http1_span value, uint32_t *pos,
                     struct http1_span *item);

#endif
