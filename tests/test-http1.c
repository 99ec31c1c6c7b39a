/* Unit tests: the strict HTTP/1.1 parser (heads, framing, chunked bodies). */
#include "config.h"
#include "tap.h"
#include <gbca/http1.h>

#include <stdint.h>
#include <stdlib.h>

static struct http1_request R;
static struct http1_response S;
static const char *why;
static const char *text; /* the buffer the spans of R and S point into */

/* Finds the head like the proxy does and parses it as a request. */
static int
req_n(const char *t, size_t len)
{
	size_t scanned = 0, hl = http1_head_end(t, len, &scanned);

	text = t;
	if (hl == 0)
		hl = len;
	return http1_parse_request(t, hl, &R, &why);
}

static int
req(const char *t)
{
	return req_n(t, strlen(t));
}

static int
resp_n(const char *t, size_t len, bool head)
{
	size_t scanned = 0, hl = http1_head_end(t, len, &scanned);

	text = t;
	if (hl == 0)
		hl = len;
	return http1_parse_response(t, hl, head, &S, &why);
}

static int
resp(const char *t)
{
	return resp_n(t, strlen(t), false);
}

/* The response to a HEAD request. */
static int
resp_h(const char *t)
{
	return resp_n(t, strlen(t), true);
}

/* The text of a span, for assert_str_eq. */
static const char *
str(struct http1_span s)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	assert_true(s.len < sizeof(buf[i]));
	memcpy(buf[i], text + s.off, s.len);
	buf[i][s.len] = '\0';
	return buf[i];
}

/* The value of the first header called name in R. */
static const char *
req_header(const char *name)
{
	int i = http1_find_header(text, R.headers, R.n_headers, name, 0);
	return i < 0 ? NULL : str(R.headers[i].value);
}

#define H11 " HTTP/1.1\r\nHost: a\r\n"

/* ---- request line ---- */

static void
test_request_line(void)
{
	assert_int_eq(req("GET /index.html HTTP/1.1\r\nHost: example.test\r\n\r\n"), 0);
	assert_str_eq(str(R.method), "GET");
	assert_str_eq(str(R.target), "/index.html");
	assert_int_eq(R.minor, 1);
	assert_int_eq(R.n_headers, 1);
	assert_int_eq(R.head_len, strlen(text));
	/* any token is a method, case-sensitively kept */
	assert_int_eq(req("M-SEARCH!~ /" H11 "\r\n"), 0);
	assert_str_eq(str(R.method), "M-SEARCH!~");

	assert_int_eq(req("GET  /" H11 "\r\n"), 400);
	assert_int_eq(req("GET /  HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_eq(req(" GET /" H11 "\r\n"), 400);
	assert_int_eq(req("GET\t/" H11 "\r\n"), 400);
	assert_int_eq(req("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_eq(req("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
	assert_int_eq(req("GET /\r\nHost: a\r\n\r\n"), 400);
	assert_int_eq(req("GET / http/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_eq(req("G(T /" H11 "\r\n"), 400);
	assert_str_eq(why, "bad method");
	/* RFC 9112 2.2 lets servers skip a leading empty line; we do not */
	assert_int_eq(req("\r\nGET /" H11 "\r\n"), 400);
}

static void
test_version(void)
{
	assert_int_eq(req("GET / HTTP/1.0\r\n\r\n"), 0);
	assert_int_eq(R.minor, 0);
	assert_int_eq(req("GET /" H11 "\r\n"), 0);
	assert_int_eq(R.minor, 1);

	assert_int_eq(req("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
	assert_int_eq(req("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), 505);
	assert_int_eq(req("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), 505);
	assert_str_eq(why, "unsupported HTTP version");
	assert_int_eq(req("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), 400);
	assert_int_eq(req("GET / HTTP/1\r\nHost: a\r\n\r\n"), 400);
	assert_int_eq(req("GET / HTTP/1.x\r\nHost: a\r\n\r\n"), 400);
	assert_int_eq(req("GET / HTTPS/1.1\r\nHost: a\r\n\r\n"), 400);
}

static void
test_target_origin(void)
{
	assert_int_eq(req("GET /v1beta/models/m:generateContent?key=k&alt=sse" H11 "\r\n"), 0);
	assert_str_eq(str(R.path), "/v1beta/models/m:generateContent");
	assert_str_eq(str(R.query), "key=k&alt=sse");
	assert_false(R.absolute);
	assert_int_eq(R.authority.len, 0);
	assert_int_eq(req("GET /p" H11 "\r\n"), 0);
	assert_str_eq(str(R.path), "/p");
	assert_int_eq(R.query.len, 0);
	assert_int_eq(req("GET /p?" H11 "\r\n"), 0);
	assert_str_eq(str(R.path), "/p");
	assert_int_eq(R.query.len, 0);
	/* every printable character but '#' */
	assert_int_eq(req("GET /!\"$%&'()*+,-.:;<=>?@[\\]^_`{|}~" H11 "\r\n"), 0);

	assert_int_eq(req("GET p" H11 "\r\n"), 400);
	assert_int_eq(req("GET /p#frag" H11 "\r\n"), 400);
	assert_str_eq(why, "fragment in request target");
	assert_int_eq(req("GET /\x7f" H11 "\r\n"), 400);
	assert_int_eq(req("GET /\xc3\xa9" H11 "\r\n"), 400);
	assert_int_eq(req("GET /a\x01" H11 "\r\n"), 400);
}

static void
test_target_asterisk(void)
{
	assert_int_eq(req("OPTIONS *" H11 "\r\n"), 0);
	assert_str_eq(str(R.path), "*");
	assert_int_eq(req("GET *" H11 "\r\n"), 400);
	assert_int_eq(req("options *" H11 "\r\n"), 400);
	assert_int_eq(req("OPTIONS *x" H11 "\r\n"), 400);
}

static void
test_target_absolute(void)
{
	assert_int_eq(req("GET http://a/p?q=1 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
	assert_true(R.absolute);
	assert_str_eq(str(R.authority), "a");
	assert_str_eq(str(R.path), "/p");
	assert_str_eq(str(R.query), "q=1");
	assert_int_eq(req("GET HTTPS://Example.TEST:8443 HTTP/1.1\r\nHost: example.test:8443\r\n\r\n"), 0);
	assert_str_eq(str(R.authority), "Example.TEST:8443");
	assert_int_eq(R.path.len, 0);
	assert_int_eq(req("GET http://a?x HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
	assert_int_eq(R.path.len, 0);
	assert_str_eq(str(R.query), "x");
	/* HTTP/1.0 needs no Host */
	assert_int_eq(req("GET http://a/ HTTP/1.0\r\n\r\n"), 0);
	assert_int_eq(R.host, -1);

	assert_int_eq(req("GET http://a/p HTTP/1.1\r\nHost: b\r\n\r\n"), 400);
	assert_str_eq(why, "Host differs from the absolute-form target");
	assert_int_eq(req("GET http://a:80/p HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_eq(req("GET http://a/p HTTP/1.1\r\n\r\n"), 400);
	assert_int_eq(req("GET http://u@a/p HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_eq(req("GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_eq(req("GET ftp://a/p HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_eq(req("GET http:/a HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

static void
test_connect(void)
{
	assert_int_eq(req("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"), 501);
	assert_int_eq(req("GET a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"), 400);
}

/* ---- field lines ---- */

static void
test_header_syntax(void)
{
	assert_int_eq(req("GET /" H11 "X-A:  v 1 \t\r\nX-B:\tw\r\nX-Empty:\r\nX-Sp:   \r\n"
	                  "X-Obs: \xe9t\xe9\r\n!#$%&'*+-.^_`|~09az:x\r\n\r\n"), 0);
	assert_int_eq(R.n_headers, 7);
	assert_str_eq(req_header("x-a"), "v 1");
	assert_str_eq(req_header("X-B"), "w");
	assert_str_eq(req_header("x-empty"), "");
	assert_str_eq(req_header("x-sp"), "");
	assert_str_eq(req_header("x-obs"), "\xe9t\xe9");
	assert_str_eq(str(R.headers[6].name), "!#$%&'*+-.^_`|~09az");
	assert_true(req_header("x-missing") == NULL);

	assert_int_eq(req("GET /" H11 "X-A: v\r\n folded\r\n\r\n"), 400);
	assert_str_eq(why, "obs-fold (line starting with whitespace)");
	assert_int_eq(req("GET /" H11 "X-A: v\r\n\tfolded\r\n\r\n"), 400);
	assert_int_eq(req("GET /" H11 "X-A : v\r\n\r\n"), 400);
	assert_str_eq(why, "whitespace between header name and colon");
	assert_int_eq(req("GET /" H11 "X-A\t: v\r\n\r\n"), 400);
	assert_int_eq(req("GET /" H11 ": v\r\n\r\n"), 400);
	assert_str_eq(why, "empty header name");
	assert_int_eq(req("GET /" H11 "X-A v\r\n\r\n"), 400);
	assert_int_eq(req("GET /" H11 "X-A\r\n\r\n"), 400);
	assert_str_eq(why, "header line without a colon");
	assert_int_eq(req("GET /" H11 "X(A): v\r\n\r\n"), 400);
	assert_int_eq(req("GET /" H11 "X-\xe9: v\r\n\r\n"), 400);
	assert_int_eq(req("GET /" H11 "X-A: v\x01w\r\n\r\n"), 400);
	assert_str_eq(why, "control character in header value");
	assert_int_eq(req("GET /" H11 "X-A: v\x7f\r\n\r\n"), 400);
	assert_int_eq(req("GET /" H11 "X-A: \x1b[1m\r\n\r\n"), 400);
}

static void
test_bare_lf(void)
{
	/* head_end stops at the LF LF so the parse refuses at once */
	assert_int_eq(req("GET /" H11 "X-A: v\n\r\n"), 400);
	assert_str_eq(why, "bare LF in head");
	assert_int_eq(req("GET / HTTP/1.1\nHost: a\r\n\r\n"), 400);
	assert_int_eq(req("GET / HTTP/1.1\r\nHost: a\n\n"), 400);
	assert_int_eq(req("GET / HTTP/1.1\n\n"), 400);
	assert_int_eq(req("GET /" H11 "X-A: a\nb\r\n\r\n"), 400);
	assert_int_eq(req("GET /" H11 "\n"), 400);
	assert_int_eq(req("GET /" H11 "X: v\r\n\r\n"), 0);
}

static void
test_lone_cr(void)
{
	assert_int_eq(req("GET /" H11 "X-A: a\rb\r\n\r\n"), 400);
	assert_str_eq(why, "CR not followed by LF in head");
	assert_int_eq(req("GET /" H11 "X-A: a\r\r\n\r\n"), 400);
	assert_int_eq(req("GET / HTTP/1.1\r\rHost: a\r\n\r\n"), 400);
	assert_int_eq(req("GET /" H11 "\r\r\n"), 400);
	assert_int_eq(req("GET /" H11 "X-A: a b\r\n\r\n"), 0);
}

static void
test_nul(void)
{
	static const char in[][40] = {
		"GET /" H11 "X-A: a\0b\r\n\r\n",
		"GET /" H11 "X\0A: b\r\n\r\n",
		"GET /a\0b" H11 "\r\n",
		"GET\0/" H11 "\r\n",
	};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		/* the length of the literal up to the last CRLF CRLF */
		size_t n = sizeof(in[i]);
		while (n > 0 && in[i][n - 1] == '\0')
			n--;
		assert_int_eq(req_n(in[i], n), 400);
		assert_str_eq(why, "NUL in head");
	}
	assert_int_eq(req("GET /" H11 "X-A: a0b\r\n\r\n"), 0);
}

/* ---- framing ---- */

static void
test_content_length(void)
{
	assert_int_eq(req("POST /" H11 "Content-Length: 5\r\n\r\n"), 0);
	assert_int_eq(R.framing, HTTP1_BODY_LENGTH);
	assert_int_eq(R.content_length, 5);
	assert_int_eq(req("POST /" H11 "content-length:  007 \r\n\r\n"), 0);
	assert_int_eq(R.content_length, 7);
	assert_int_eq(req("POST /" H11 "Content-Length: 0\r\n\r\n"), 0);
	assert_int_eq(R.framing, HTTP1_BODY_NONE);
	assert_int_eq(req("GET /" H11 "\r\n"), 0);
	assert_int_eq(R.framing, HTTP1_BODY_NONE);
	/* 2^62 and one more */
	assert_int_eq(req("POST /" H11 "Content-Length: 4611686018427387904\r\n\r\n"), 0);
	assert_true(R.content_length == HTTP1_LENGTH_MAX);
	assert_int_eq(req("POST /" H11 "Content-Length: 4611686018427387905\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Content-Length: 18446744073709551621\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Content-Length: 99999999999999999999999999\r\n\r\n"), 400);

	assert_int_eq(req("POST /" H11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n"), 400);
	assert_str_eq(why, "more than one Content-Length");
	assert_int_eq(req("POST /" H11 "Content-Length: 5, 5\r\n\r\n"), 400);
	assert_str_eq(why, "bad Content-Length");
	assert_int_eq(req("POST /" H11 "Content-Length: 5,5\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Content-Length: +5\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Content-Length: -1\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Content-Length: 0x5\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Content-Length: 5 5\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Content-Length: 5a\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Content-Length:\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Content_Length: 5\r\n\r\n"), 400);
	assert_str_eq(why, "underscore in the name of a framing header");
}

static void
test_transfer_encoding(void)
{
	assert_int_eq(req("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"), 0);
	assert_int_eq(R.framing, HTTP1_BODY_CHUNKED);
	assert_int_eq(req("POST /" H11 "transfer-encoding:\tChunKed \r\n\r\n"), 0);
	assert_int_eq(R.framing, HTTP1_BODY_CHUNKED);

	assert_int_eq(req("POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n"), 400);
	assert_str_eq(why, "Transfer-Encoding other than chunked");
	assert_int_eq(req("POST /" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Transfer-Encoding: identity\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Transfer-Encoding: xchunked\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Transfer-Encoding: chunked;q=1\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Transfer-Encoding: \"chunked\"\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Transfer-Encoding:\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
	assert_str_eq(why, "more than one Transfer-Encoding");
	assert_int_eq(req("POST /" H11 "Transfer_Encoding: chunked\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Transfer-Encoding : chunked\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Transfer-Encoding:\r\n chunked\r\n\r\n"), 400);
	assert_int_eq(req("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
	assert_str_eq(why, "Transfer-Encoding in HTTP/1.0");
}

static void
test_cl_and_te(void)
{
	assert_int_eq(req("POST /" H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
	assert_str_eq(why, "both Content-Length and Transfer-Encoding");
	assert_int_eq(req("POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n"), 400);
	assert_int_eq(req("POST /" H11 "Transfer-Encoding: chunked\r\nX-Content-Length: 0\r\n\r\n"), 0);
}

static void
test_host(void)
{
	assert_int_eq(req("GET / HTTP/1.1\r\nX: 1\r\nhOST: [::1]:8080\r\n\r\n"), 0);
	assert_int_eq(R.host, 1);
	assert_str_eq(str(R.headers[R.host].value), "[::1]:8080");
	assert_int_eq(req("GET / HTTP/1.1\r\nHost: generativelanguage.googleapis.com\r\n\r\n"), 0);
	assert_int_eq(req("GET / HTTP/1.1\r\nHost:\r\n\r\n"), 0);
	assert_int_eq(req("GET / HTTP/1.0\r\n\r\n"), 0);
	assert_int_eq(R.host, -1);

	assert_int_eq(req("GET / HTTP/1.1\r\n\r\n"), 400);
	assert_str_eq(why, "no Host in an HTTP/1.1 request");
	assert_int_eq(req("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
	assert_str_eq(why, "more than one Host");
	assert_int_eq(req("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
	assert_int_eq(req("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400);
	assert_str_eq(why, "bad character in Host");
	assert_int_eq(req("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400);
	assert_int_eq(req("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"), 400);
	assert_int_eq(req("GET / HTTP/1.1\r\nHost: a\xe9\r\n\r\n"), 400);
	assert_int_eq(req("GET /" H11 "Host_: a\r\n\r\n"), 0);
}

static void
test_connection(void)
{
	assert_int_eq(req("GET /" H11 "\r\n"), 0);
	assert_true(R.keep_alive);
	assert_int_eq(req("GET /" H11 "Connection: close\r\n\r\n"), 0);
	assert_false(R.keep_alive);
	assert_int_eq(req("GET /" H11 "Connection: Keep-Alive, CLOSE\r\n\r\n"), 0);
	assert_false(R.keep_alive);
	assert_int_eq(req("GET /" H11 "Connection: x-a\r\nConnection: ,, close ,\r\n\r\n"), 0);
	assert_false(R.keep_alive);
	assert_int_eq(req("GET / HTTP/1.0\r\n\r\n"), 0);
	assert_false(R.keep_alive);
	assert_int_eq(req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
	assert_true(R.keep_alive);
	assert_int_eq(req("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"), 0);
	assert_false(R.keep_alive);

	assert_int_eq(req("GET /" H11 "Connection: clo se\r\n\r\n"), 400);
	assert_str_eq(why, "bad Connection option");
	assert_int_eq(req("GET /" H11 "Connection: \"close\"\r\n\r\n"), 400);
}

static void
test_upgrade(void)
{
	assert_int_eq(req("GET /" H11 "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"), 0);
	assert_true(R.upgrade);
	assert_true(R.keep_alive);
	assert_int_eq(req("GET /" H11 "Upgrade: websocket\r\n\r\n"), 0);
	assert_false(R.upgrade);
	assert_int_eq(req("GET /" H11 "Connection: upgrade\r\n\r\n"), 0);
	assert_false(R.upgrade);
	assert_int_eq(req("GET /" H11 "Connection: upgrade\r\nUpgrade:\r\n\r\n"), 0);
	assert_false(R.upgrade);
	assert_int_eq(req("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"), 0);
	assert_false(R.upgrade);
}

static void
test_expect(void)
{
	assert_int_eq(req("POST /" H11 "Expect: 100-Continue\r\nContent-Length: 9\r\n\r\n"), 0);
	assert_true(R.expect_continue);
	assert_int_eq(req("POST /" H11 "Content-Length: 9\r\n\r\n"), 0);
	assert_false(R.expect_continue);
	assert_int_eq(req("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"), 0);
	assert_false(R.expect_continue);
	assert_int_eq(req("POST /" H11 "Expect: 200-ok\r\n\r\n"), 417);
	assert_int_eq(req("POST /" H11 "Expect: 100-continue, x\r\n\r\n"), 417);
}

/* ---- limits ---- */

static char big[2 * HTTP1_HEAD_MAX];

static size_t
head_with_fields(int n)
{
	size_t len = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 1; i < n; i++)
		len += (size_t)snprintf(big + len, sizeof(big) - len, "X-%d: %d\r\n", i, i);
	len += (size_t)snprintf(big + len, sizeof(big) - len, "\r\n");
	return len;
}

static void
test_too_many_headers(void)
{
	assert_int_eq(req_n(big, head_with_fields(HTTP1_HEADERS_MAX)), 0);
	assert_int_eq(R.n_headers, HTTP1_HEADERS_MAX);
	assert_str_eq(str(R.headers[HTTP1_HEADERS_MAX - 1].value), "99");
	assert_int_eq(req_n(big, head_with_fields(HTTP1_HEADERS_MAX + 1)), 431);
	assert_str_eq(why, "too many header fields");
}

/* A head of exactly len bytes with one long value. */
static size_t
head_of_size(size_t len)
{
	const char *pre = "POST /" H11 "X-Big: ";
	size_t n = strlen(pre);

	memcpy(big, pre, n);
	memset(big + n, 'v', len - n - 4);
	memcpy(big + len - 4, "\r\n\r\n", 4);
	return len;
}

static void
test_head_size(void)
{
	size_t scanned = 0;

	assert_int_eq(req_n(big, head_of_size(HTTP1_HEAD_MAX)), 0);
	assert_int_eq(R.head_len, HTTP1_HEAD_MAX);
	assert_int_eq(R.headers[1].value.len, HTTP1_HEAD_MAX - strlen("POST /" H11 "X-Big: ") - 4);
	assert_int_eq(http1_head_end(big, HTTP1_HEAD_MAX + 1, &scanned), HTTP1_HEAD_MAX);
	assert_int_eq(req_n(big, head_of_size(HTTP1_HEAD_MAX + 1)), 431);
	assert_int_eq(resp_n(big, head_of_size(HTTP1_HEAD_MAX + 1), false), 502);
}

/* ---- finding the end of a head ---- */

static const char two_requests[] =
	"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
	"GET /next HTTP/1.1\r\nHost: a\r\n\r\n";

static void
test_head_end_one_shot(void)
{
	size_t scanned = 0, first = strlen("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n");

	assert_int_eq(http1_head_end(two_requests, strlen(two_requests), &scanned), first);
	assert_int_eq(scanned, first);
	scanned = 0;
	assert_int_eq(http1_head_end("GET / HTTP/1.1\r\nHost: a\r\n", 25, &scanned), 0);
	assert_true(scanned <= 25);
	scanned = 0;
	assert_int_eq(http1_head_end("", 0, &scanned), 0);
	assert_int_eq(scanned, 0);
	scanned = 0;
	assert_int_eq(http1_head_end("\r\n\r\n", 4, &scanned), 4);
	scanned = 0;
	assert_int_eq(http1_head_end("a\n\nb", 4, &scanned), 3);
	scanned = 0;
	assert_int_eq(http1_head_end("a\n\r\nb", 5, &scanned), 4);
	scanned = 0;
	assert_int_eq(http1_head_end("a\r\r\nb\r\n\r\n", 9, &scanned), 9);
	scanned = 0;
	assert_int_eq(http1_head_end("a\r\n\rb\r\n\r\n", 9, &scanned), 9);
}

/* Grows the buffer by `step` bytes a call: the same end, and *scanned never
 * runs past the data. */
static size_t
head_end_in_steps(const char *buf, size_t len, size_t step)
{
	size_t scanned = 0;

	for (size_t n = 0; n <= len; n += step) {
		size_t end = http1_head_end(buf, n, &scanned);
		assert_true(scanned <= n);
		if (end != 0)
			return end;
		if (n == len)
			break;
		if (n + step > len)
			n = len - step;
	}
	return 0;
}

static void
test_head_end_incremental(void)
{
	static const char *const in[] = {
		two_requests,
		"GET / HTTP/1.1\r\nHost: a\r\nX: \r\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\n\r\n",
		"GET / HTTP/1.1\r\n\r\r\n\n",
		"\n\n",
		"GET / HTTP/1.1\r\nHost: a\r\n",
	};

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		size_t len = strlen(in[i]), scanned = 0;
		size_t whole = http1_head_end(in[i], len, &scanned);
		for (size_t step = 1; step <= len; step++)
			assert_int_eq(head_end_in_steps(in[i], len, step), whole);
	}
	/* pseudo-random splits of a big head */
	{
		size_t len = head_with_fields(80), end, scanned = 0, n = 0;
		unsigned seed = 7;
		assert_int_eq(http1_head_end(big, len, &scanned), len);
		scanned = 0;
		do {
			seed = seed * 1103515245 + 12345;
			n += 1 + (seed >> 16) % 13;
			if (n > len)
				n = len;
			end = http1_head_end(big, n, &scanned);
		} while (end == 0 && n < len);
		assert_int_eq(end, len);
	}
}

/* The cost of each call is the new bytes: *scanned stays within 2 bytes of
 * the data when there is no head end yet. */
static void
test_head_end_resumes(void)
{
	size_t len = head_with_fields(50) - 2, scanned = 0;

	assert_int_eq(http1_head_end(big, len, &scanned), 0);
	assert_true(scanned + 2 >= len);
	assert_int_eq(http1_head_end(big, len + 1, &scanned), 0);
	assert_int_eq(http1_head_end(big, len + 2, &scanned), len + 2);
}

/* ---- responses ---- */

static void
test_status_line(void)
{
	assert_int_eq(resp("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"), 0);
	assert_int_eq(S.status, 200);
	assert_int_eq(S.minor, 1);
	assert_str_eq(str(S.reason), "OK");
	assert_int_eq(resp("HTTP/1.0 404 Not \xe9 Found\t!\r\n\r\n"), 0);
	assert_int_eq(S.minor, 0);
	assert_str_eq(str(S.reason), "Not \xe9 Found\t!");
	assert_int_eq(resp("HTTP/1.1 204\r\n\r\n"), 0);
	assert_int_eq(S.status, 204);
	assert_int_eq(S.reason.len, 0);
	assert_int_eq(resp("HTTP/1.1 204 \r\n\r\n"), 0);
	assert_int_eq(S.reason.len, 0);

	assert_int_eq(resp("HTTP/1.1 20 OK\r\n\r\n"), 502);
	assert_int_eq(resp("HTTP/1.1 2000 OK\r\n\r\n"), 502);
	assert_int_eq(resp("HTTP/1.1 200OK\r\n\r\n"), 502);
	assert_int_eq(resp("HTTP/1.1 600 X\r\n\r\n"), 502);
	assert_int_eq(resp("HTTP/1.1 099 X\r\n\r\n"), 502);
	assert_int_eq(resp("HTTP/1.1  200 OK\r\n\r\n"), 502);
	assert_int_eq(resp("HTTP/2 200 OK\r\n\r\n"), 502);
	assert_int_eq(resp("HTTP/2.0 200 OK\r\n\r\n"), 502);
	assert_int_eq(resp("http/1.1 200 OK\r\n\r\n"), 502);
	assert_int_eq(resp("HTTP/1.1 200 O\x01K\r\n\r\n"), 502);
	assert_int_eq(resp("HTTP/1.1 200 OK\nX: 1\r\n\r\n"), 502);
	assert_int_eq(resp("HTTP/1.1 200 OK\r\nX : 1\r\n\r\n"), 502);
	assert_int_eq(resp("HTTP/1.1 200 OK\r\nX: 1\r\n 2\r\n\r\n"), 502);
}

static void
test_response_framing(void)
{
	assert_int_eq(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
	assert_int_eq(S.framing, HTTP1_BODY_CHUNKED);
	assert_true(S.keep_alive);
	assert_int_eq(resp("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n"), 0);
	assert_int_eq(S.framing, HTTP1_BODY_LENGTH);
	assert_int_eq(S.content_length, 12);
	assert_int_eq(resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_int_eq(S.framing, HTTP1_BODY_NONE);
	assert_true(S.keep_alive);
	/* close-delimited, e.g. a Server-Sent Events stream from an HTTP/1.0 server */
	assert_int_eq(resp("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"), 0);
	assert_int_eq(S.framing, HTTP1_BODY_CLOSE);
	assert_false(S.keep_alive);
	assert_int_eq(resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n"), 0);
	assert_false(S.keep_alive);
	assert_int_eq(resp("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n"), 0);
	assert_true(S.keep_alive);
	assert_int_eq(resp("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n"), 0);
	assert_false(S.keep_alive);

	/* no body whatever the fields say */
	assert_int_eq(resp("HTTP/1.1 204 No Content\r\n\r\n"), 0);
	assert_int_eq(S.framing, HTTP1_BODY_NONE);
	assert_true(S.keep_alive);
	assert_int_eq(resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n"), 0);
	assert_int_eq(S.framing, HTTP1_BODY_NONE);
	assert_int_eq(S.content_length, 100);
	assert_int_eq(resp("HTTP/1.1 100 Continue\r\n\r\n"), 0);
	assert_int_eq(S.framing, HTTP1_BODY_NONE);
	assert_false(S.upgrade);
	assert_int_eq(resp("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"), 0);
	assert_int_eq(S.framing, HTTP1_BODY_NONE);
	assert_int_eq(resp_h("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"), 0);
	assert_int_eq(S.framing, HTTP1_BODY_NONE);
	assert_int_eq(S.content_length, 100);
	assert_int_eq(resp_h("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
	assert_int_eq(S.framing, HTTP1_BODY_NONE);
	assert_int_eq(resp_h("HTTP/1.1 200 OK\r\n\r\n"), 0);
	assert_int_eq(S.framing, HTTP1_BODY_NONE);
	assert_true(S.keep_alive);

	assert_int_eq(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"), 502);
	assert_str_eq(why, "both Content-Length and Transfer-Encoding");
	assert_int_eq(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"), 502);
	assert_int_eq(resp("HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n"), 502);
	assert_int_eq(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), 502);
	assert_int_eq(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 502);
	assert_int_eq(resp("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 502);
	/* a HEAD response still may not be ambiguous */
	assert_int_eq(resp_h("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"), 502);
}

static void
test_response_upgrade(void)
{
	assert_int_eq(resp("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"), 0);
	assert_true(S.upgrade);
	assert_int_eq(S.framing, HTTP1_BODY_NONE);
	assert_int_eq(resp("HTTP/1.1 101 Switching Protocols\r\n\r\n"), 502);
	assert_str_eq(why, "101 without Upgrade");
	assert_int_eq(resp("HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_false(S.upgrade);
}

/* ---- chunked bodies ---- */

/* Feeds the whole buffer at once. */
static int
chunked(const char *body, size_t len, size_t *used)
{
	struct http1_chunked c;

	http1_chunked_init(&c);
	why = NULL;
	return http1_chunked_feed(&c, body, len, used, &why);
}

static int
chunked_s(const char *body)
{
	size_t used;
	return chunked(body, strlen(body), &used);
}

/* Feeds pieces of `step` bytes: the same result and the same end as at once. */
static void
check_in_steps(const char *body, size_t len)
{
	size_t used_whole, total = 0;
	int whole = chunked(body, len, &used_whole), rc = 0;
	const char *why_whole = why;

	for (size_t step = 1; step <= len; step++) {
		struct http1_chunked c;
		http1_chunked_init(&c);
		total = 0;
		rc = 0;
		while (total < len) {
			size_t n = len - total < step ? len - total : step, used = 0;
			why = NULL;
			rc = http1_chunked_feed(&c, body + total, n, &used, &why);
			assert_true(used <= n);
			total += used;
			if (rc != 0)
				break;
			assert_int_eq(used, n);
		}
		assert_int_eq(rc, whole);
		if (rc != 0)
			assert_int_eq(total, used_whole);
		if (rc < 0)
			assert_str_eq(why, why_whole);
	}
}

static void
test_chunked_basic(void)
{
	static const char body[] = "5\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n";
	size_t used;

	assert_int_eq(chunked(body, strlen(body), &used), 1);
	assert_int_eq(used, strlen(body));
	assert_int_eq(chunked_s("0\r\n\r\n"), 1);
	assert_int_eq(chunked_s("5\r\nhel"), 0);
	assert_int_eq(chunked_s("5\r\nhello\r\n"), 0);
	assert_int_eq(chunked_s("0\r\n"), 0);
	assert_int_eq(chunked_s("0\r\n\r"), 0);
	assert_int_eq(chunked_s("abcdef\r\n"), 0);
	assert_int_eq(chunked_s("000000000000000\r\n\r\n"), 1);
	check_in_steps(body, strlen(body));
}

static void
test_chunked_size(void)
{
	struct http1_chunked c;
	size_t used;

	/* the largest size: 15 hex digits */
	http1_chunked_init(&c);
	assert_int_eq(http1_chunked_feed(&c, "fffffffffffffff\r\nxyz", 20, &used, &why), 0);
	assert_int_eq(used, 20);
	assert_true(c.remaining == (UINT64_C(1) << 60) - 1 - 3);
	assert_int_eq(chunked_s("fffffffffffffff0\r\n"), -1);
	assert_str_eq(why, "chunk size too long");
	assert_int_eq(chunked_s("0000000000000000\r\n\r\n"), -1);

	assert_int_eq(chunked_s("0x5\r\nhello\r\n0\r\n\r\n"), -1);
	assert_str_eq(why, "bad character after chunk size");
	assert_int_eq(chunked_s(" 5\r\nhello\r\n0\r\n\r\n"), -1);
	assert_str_eq(why, "bad chunk size");
	assert_int_eq(chunked_s("5 \r\nhello\r\n0\r\n\r\n"), -1);
	assert_int_eq(chunked_s("5\t\r\nhello\r\n0\r\n\r\n"), -1);
	assert_int_eq(chunked_s("-5\r\nhello\r\n0\r\n\r\n"), -1);
	assert_int_eq(chunked_s("+5\r\nhello\r\n0\r\n\r\n"), -1);
	assert_int_eq(chunked_s("\r\n"), -1);
	assert_int_eq(chunked_s("g\r\n"), -1);
	assert_int_eq(chunked_s("5\nhello\r\n0\r\n\r\n"), -1);
	assert_str_eq(why, "bad character after chunk size");
	assert_int_eq(chunked_s("5\r\rhello\r\n0\r\n\r\n"), -1);
	assert_str_eq(why, "chunk size line not ended by CRLF");
}

static void
test_chunked_data_crlf(void)
{
	size_t used;

	assert_int_eq(chunked("5\r\nhelloX\r\n0\r\n\r\n", 16, &used), -1);
	assert_str_eq(why, "chunk data not followed by CRLF");
	assert_int_eq(used, 8);
	assert_int_eq(chunked_s("5\r\nhello\n0\r\n\r\n"), -1);
	assert_int_eq(chunked_s("5\r\nhello\r0\r\n\r\n"), -1);
	assert_int_eq(chunked_s("5\r\nhell\r\n0\r\n\r\n"), -1);
	/* data is opaque: CR, LF and NUL inside are fine */
	assert_int_eq(chunked("5\r\n\r\n\0\n\r\r\n0\r\n\r\n", 15, &used), 1);
	assert_int_eq(used, 15);
}

static void
test_chunked_ext(void)
{
	static char ext[HTTP1_CHUNK_EXT_MAX + 32];

	assert_int_eq(chunked_s("5;a\r\nhello\r\n0\r\n\r\n"), 1);
	assert_int_eq(chunked_s("5;a=b;c\r\nhello\r\n0;last=1\r\n\r\n"), 1);
	assert_int_eq(chunked_s("5;a=\"x \\\"y\\\\ \xe9;=,\"\r\nhello\r\n0\r\n\r\n"), 1);
	assert_int_eq(chunked_s("5;a=\"\";b=\"\"\r\nhello\r\n0\r\n\r\n"), 1);

	assert_int_eq(chunked_s("5; a\r\nhello\r\n0\r\n\r\n"), -1);
	assert_str_eq(why, "bad chunk extension");
	assert_int_eq(chunked_s("5 ;a\r\nhello\r\n0\r\n\r\n"), -1);
	assert_int_eq(chunked_s("5;\r\nhello\r\n0\r\n\r\n"), -1);
	assert_int_eq(chunked_s("5;a=\r\nhello\r\n0\r\n\r\n"), -1);
	assert_int_eq(chunked_s("5;a =b\r\nhello\r\n0\r\n\r\n"), -1);
	assert_int_eq(chunked_s("5;a=b c\r\nhello\r\n0\r\n\r\n"), -1);
	assert_int_eq(chunked_s("5;a=\"b\r\nhello\r\n0\r\n\r\n"), -1);
	assert_int_eq(chunked_s("5;a=\"b\"c\r\nhello\r\n0\r\n\r\n"), -1);
	assert_int_eq(chunked_s("5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n"), -1);
	assert_int_eq(chunked_s("5;a\nhello\r\n0\r\n\r\n"), -1);

	/* HTTP1_CHUNK_EXT_MAX bytes from ';' to CR, and one more */
	ext[0] = '1';
	ext[1] = ';';
	memset(ext + 2, 'e', HTTP1_CHUNK_EXT_MAX - 1);
	strcpy(ext + 1 + HTTP1_CHUNK_EXT_MAX, "\r\nx\r\n0\r\n\r\n");
	assert_int_eq(chunked_s(ext), 1);
	ext[0] = '0';
	memset(ext + 2, 'e', HTTP1_CHUNK_EXT_MAX);
	strcpy(ext + 2 + HTTP1_CHUNK_EXT_MAX, "\r\n\r\n");
	assert_int_eq(chunked_s(ext), -1);
	assert_str_eq(why, "chunk extension too long");
}

static void
test_chunked_trailers(void)
{
	static char t[HTTP1_TRAILER_MAX + 64];
	size_t n;

	assert_int_eq(chunked_s("0\r\nX-Checksum: abc\r\nX-B:\r\nX-C: \xe9 \t\r\n\r\n"), 1);
	{
		const char *b = "3\r\nabc\r\n0\r\nX-Checksum: abc\r\n\r\n";
		check_in_steps(b, strlen(b));
	}

	assert_int_eq(chunked_s("0\r\nX-A: 1\r\n folded\r\n\r\n"), -1);
	assert_str_eq(why, "obs-fold in trailer");
	assert_int_eq(chunked_s("0\r\nX-A : 1\r\n\r\n"), -1);
	assert_str_eq(why, "whitespace before colon in trailer");
	assert_int_eq(chunked_s("0\r\n: 1\r\n\r\n"), -1);
	assert_str_eq(why, "empty trailer name");
	assert_int_eq(chunked_s("0\r\nX-A\r\n\r\n"), -1);
	assert_int_eq(chunked_s("0\r\nX-A: 1\n\r\n"), -1);
	assert_int_eq(chunked_s("0\r\nX-A: 1\r\n\n"), -1);
	assert_int_eq(chunked_s("0\r\nX-A: 1\x7f\r\n\r\n"), -1);
	assert_int_eq(chunked_s("0\r\nX-A: 1\r\n\r\r"), -1);
	assert_int_eq(chunked_s("0\r\n\n"), -1);

	/* a trailer section of HTTP1_TRAILER_MAX bytes, and one more */
	n = (size_t)snprintf(t, sizeof(t), "0\r\nX: ");
	memset(t + n, 'v', HTTP1_TRAILER_MAX - 7);
	strcpy(t + n + HTTP1_TRAILER_MAX - 7, "\r\n\r\n");
	assert_int_eq(chunked_s(t), 1);
	memset(t + n, 'v', HTTP1_TRAILER_MAX - 6);
	strcpy(t + n + HTTP1_TRAILER_MAX - 6, "\r\n\r\n");
	assert_int_eq(chunked_s(t), -1);
	assert_str_eq(why, "trailer section too large");
}

static void
test_chunked_steps(void)
{
	static const char *const in[] = {
		"5;a=\"q\\\"\"\r\nhello\r\n10\r\n0123456789abcdef\r\n0;z\r\nT: 1\r\nU: 2\r\n\r\n",
		"5\r\nhelloX\r\n",
		"5;a=\"b\r\n",
		"0\r\nX-A : 1\r\n\r\n",
		"5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n",
	};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		check_in_steps(in[i], strlen(in[i]));
}

static void
test_chunked_sticky(void)
{
	struct http1_chunked c;
	size_t used;

	http1_chunked_init(&c);
	assert_int_eq(http1_chunked_feed(&c, "0\r\n\r\n", 5, &used, &why), 1);
	assert_int_eq(http1_chunked_feed(&c, "5\r\n", 3, &used, &why), 1);
	assert_int_eq(used, 0);
	assert_int_eq(http1_chunked_feed(&c, "", 0, &used, &why), 1);

	http1_chunked_init(&c);
	assert_int_eq(http1_chunked_feed(&c, "x", 1, &used, &why), -1);
	assert_int_eq(used, 0);
	why = NULL;
	assert_int_eq(http1_chunked_feed(&c, "0\r\n\r\n", 5, &used, &why), -1);
	assert_str_eq(why, "bad chunk size");
	assert_int_eq(used, 0);
}

/* ---- pipelining: bodies end exactly where the next request starts ---- */

static void
test_pipeline_length(void)
{
	size_t len = strlen(two_requests), scanned = 0, hl, next;

	hl = http1_head_end(two_requests, len, &scanned);
	text = two_requests;
	assert_int_eq(http1_parse_request(two_requests, hl, &R, &why), 0);
	assert_int_eq(R.framing, HTTP1_BODY_LENGTH);
	next = hl + R.content_length;
	assert_true(memcmp(two_requests + hl, "hello", 5) == 0);
	assert_int_eq(req_n(two_requests + next, len - next), 0);
	assert_str_eq(str(R.path), "/next");
}

static void
test_pipeline_chunked(void)
{
	static const char in[] =
		"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
		"4\r\nwiki\r\n0\r\nT: v\r\n\r\n"
		"GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
	size_t len = strlen(in), scanned = 0, hl, used;
	struct http1_chunked c;

	hl = http1_head_end(in, len, &scanned);
	text = in;
	assert_int_eq(http1_parse_request(in, hl, &R, &why), 0);
	assert_int_eq(R.framing, HTTP1_BODY_CHUNKED);
	http1_chunked_init(&c);
	assert_int_eq(http1_chunked_feed(&c, in + hl, len - hl, &used, &why), 1);
	assert_int_eq(used, strlen("4\r\nwiki\r\n0\r\nT: v\r\n\r\n"));
	assert_int_eq(req_n(in + hl + used, len - hl - used), 0);
	assert_str_eq(str(R.path), "/b");
	check_in_steps(in + hl, len - hl);
}

/* ---- helpers ---- */

static void
test_list_next(void)
{
	const char *v = "X: , a ,b\t,, c d ,";
	struct http1_span value = { 3, (uint32_t)strlen(v) - 3 }, item;
	uint32_t pos = 0;

	text = v;
	assert_true(http1_list_next(v, value, &pos, &item));
	assert_str_eq(str(item), "a");
	assert_true(http1_list_next(v, value, &pos, &item));
	assert_str_eq(str(item), "b");
	assert_true(http1_list_next(v, value, &pos, &item));
	assert_str_eq(str(item), "c d");
	assert_false(http1_list_next(v, value, &pos, &item));
	assert_false(http1_list_next(v, value, &pos, &item));
	pos = 0;
	value.len = 0;
	assert_false(http1_list_next(v, value, &pos, &item));
}

static void
test_span_eq_and_find(void)
{
	assert_int_eq(req("GET /" H11 "X-A: 1\r\nx-a: 2\r\n\r\n"), 0);
	assert_true(http1_span_eq(text, R.headers[1].name, "x-A"));
	assert_false(http1_span_eq(text, R.headers[1].name, "x-"));
	assert_false(http1_span_eq(text, R.headers[1].name, "x-ab"));
	assert_int_eq(http1_find_header(text, R.headers, R.n_headers, "X-A", 0), 1);
	assert_int_eq(http1_find_header(text, R.headers, R.n_headers, "X-A", 2), 2);
	assert_int_eq(http1_find_header(text, R.headers, R.n_headers, "X-A", 3), -1);
	assert_int_eq(http1_find_header(text, R.headers, R.n_headers, "host", 0), 0);
}

/* A Connection option that names a framing field or Host would have the
 * proxy drop that field and forward a body the next hop frames otherwise. */
static void
test_connection_framing(void)
{
	assert_int_eq(req("POST /" H11 "Content-Length: 5\r\nConnection: Content-Length\r\n\r\n"), 400);
	assert_str_eq(why, "Connection names a framing header or Host");
	assert_int_eq(req("POST /" H11 "Transfer-Encoding: chunked\r\nConnection: keep-alive, transfer-encoding\r\n\r\n"), 400);
	assert_int_eq(req("GET /" H11 "Connection: x-a\r\nConnection: HOST\r\n\r\n"), 400);
	assert_int_eq(req("GET /" H11 "Connection: content-lengthx\r\n\r\n"), 0);
	assert_int_eq(resp("HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 2\r\n\r\n"), 502);
	assert_int_eq(resp("HTTP/1.1 200 OK\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n"), 502);
	assert_int_eq(resp("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n"), 0);
}

/* Spans of a parsed request stay inside the head. */
static void
test_spans_in_head(void)
{
	assert_int_eq(req("PUT /x?y HTTP/1.1\r\nHost: h\r\nA: \r\nB:b\r\n\r\n"), 0);
	assert_true(R.method.off + R.method.len <= R.head_len);
	assert_true(R.query.off + R.query.len <= R.head_len);
	for (size_t i = 0; i < R.n_headers; i++) {
		assert_true(R.headers[i].name.off + R.headers[i].name.len <= R.head_len);
		assert_true(R.headers[i].value.off + R.headers[i].value.len <= R.head_len);
	}
	assert_str_eq(str(R.headers[1].value), "");
	assert_str_eq(str(R.headers[2].value), "b");
}

int
main(void)
{
	tap_add("/http1/request-line", test_request_line);
	tap_add("/http1/version", test_version);
	tap_add("/http1/target-origin", test_target_origin);
	tap_add("/http1/target-asterisk", test_target_asterisk);
	tap_add("/http1/target-absolute", test_target_absolute);
	tap_add("/http1/connect", test_connect);
	tap_add("/http1/header-syntax", test_header_syntax);
	tap_add("/http1/bare-lf", test_bare_lf);
	tap_add("/http1/lone-cr", test_lone_cr);
	tap_add("/http1/nul", test_nul);
	tap_add("/http1/content-length", test_content_length);
	tap_add("/http1/transfer-encoding", test_transfer_encoding);
	tap_add("/http1/cl-and-te", test_cl_and_te);
	tap_add("/http1/host", test_host);
	tap_add("/http1/connection", test_connection);
	tap_add("/http1/connection-framing", test_connection_framing);
	tap_add("/http1/upgrade", test_upgrade);
	tap_add("/http1/expect", test_expect);
	tap_add("/http1/too-many-headers", test_too_many_headers);
	tap_add("/http1/head-size", test_head_size);
	tap_add("/http1/head-end-one-shot", test_head_end_one_shot);
	tap_add("/http1/head-end-incremental", test_head_end_incremental);
	tap_add("/http1/head-end-resumes", test_head_end_resumes);
	tap_add("/http1/status-line", test_status_line);
	tap_add("/http1/response-framing", test_response_framing);
	tap_add("/http1/response-upgrade", test_response_upgrade);
	tap_add("/http1/chunked-basic", test_chunked_basic);
	tap_add("/http1/chunked-size", test_chunked_size);
	tap_add("/http1/chunked-data-crlf", test_chunked_data_crlf);
	tap_add("/http1/chunked-ext", test_chunked_ext);
	tap_add("/http1/chunked-trailers", test_chunked_trailers);
	tap_add("/http1/chunked-steps", test_chunked_steps);
	tap_add("/http1/chunked-sticky", test_chunked_sticky);
	tap_add("/http1/pipeline-length", test_pipeline_length);
	tap_add("/http1/pipeline-chunked", test_pipeline_chunked);
	tap_add("/http1/list-next", test_list_next);
	tap_add("/http1/span-eq-find", test_span_eq_and_find);
	tap_add("/http1/spans-in-head", test_spans_in_head);
	return tap_run();
}
