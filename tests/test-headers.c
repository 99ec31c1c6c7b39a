/* Unit tests: gbca serve's header policy (src/proxy/headers.c) over heads
 * parsed by the real parser: kinds, hop-by-hop drops, the API-key guard on
 * both sides of its boundary, and the Via loop over every Via line. */
#include "config.h"
#include "tap.h"
#include <gbca/headers.h>

#include <string.h>

static struct http1_request R;
static struct headers_fields F;
static const char *text;

/* Parses a request head and classifies its fields. */
static void
head(const char *t)
{
	const char *why = NULL;
	size_t scanned = 0, hl = http1_head_end(t, strlen(t), &scanned);

	text = t;
	assert_int_eq(http1_parse_request(t, hl, &R, &why), 0);
	headers_classify(t, R.headers, R.n_headers, &F);
}

/* True when the request field called name is dropped before forwarding. */
static bool
dropped(const char *name)
{
	int i = http1_find_header(text, R.headers, R.n_headers, name, 0);

	assert_true(i >= 0);
	return headers_drop_request(text, &R.headers[i], (enum headers_kind)F.kind[i], &F.tok);
}

static void
test_kinds(void)
{
	head("GET / HTTP/1.1\r\nHost: a\r\nVIA: 1.0 x\r\nX-Goog-Api-Key: k\r\nConnection: x-a\r\nX-Other: 1\r\n\r\n");
	assert_int_eq(F.kind[0], FK_HOST);
	assert_int_eq(F.kind[1], FK_VIA);
	assert_int_eq(F.kind[2], FK_API_KEY);
	assert_int_eq(F.kind[3], FK_CONNECTION);
	assert_int_eq(F.kind[4], FK_OTHER);
	assert_true(F.via == &R.headers[1]);
	assert_true(F.api_key == &R.headers[2]);
	assert_int_eq(F.tok.n, 1);
}

static void
test_drop_request(void)
{
	head("POST / HTTP/1.1\r\nHost: a\r\nConnection: x-hop, keep-alive\r\nX-Hop: 1\r\nX-End: 2\r\n"
	     "Proxy-Authorization: Basic eA==\r\nX-Real-IP: 1.2.3.4\r\nTE: trailers\r\nContent-Length: 1\r\n\r\n");
	assert_true(dropped("x-hop"));
	assert_false(dropped("x-end"));
	assert_true(dropped("proxy-authorization"));   /* a credential for us, never forwarded */
	assert_true(dropped("x-real-ip"));
	assert_true(dropped("te"));
	assert_true(dropped("connection"));
	assert_false(dropped("content-length"));
	assert_false(dropped("host"));
}

/* A token past the ones kept would name a field that is not dropped. */
static void
test_too_many_tokens(void)
{
	head("GET / HTTP/1.1\r\nHost: a\r\nConnection: a1, a2, a3, a4, a5, a6, a7, a8\r\n"
	     "Connection: a9, a10, a11, a12, a13, a14, a15, a16\r\n\r\n");
	assert_false(F.tok.overflow);
	assert_int_eq(F.tok.n, 16);
	head("GET / HTTP/1.1\r\nHost: a\r\nConnection: a1, a2, a3, a4, a5, a6, a7, a8\r\n"
	     "Connection: a9, a10, a11, a12, a13, a14, a15, a16, x-secret\r\nX-Secret: 1\r\n\r\n");
	assert_true(F.tok.overflow);
}

static void
test_drop_response(void)
{
	const char *why = NULL;
	struct http1_response S;
	const char *t = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade, x-h\r\nX-H: 1\r\nX-K: 2\r\n\r\n";
	size_t scanned = 0, hl = http1_head_end(t, strlen(t), &scanned);

	assert_int_eq(http1_parse_response(t, hl, false, &S, &why), 0);
	headers_classify(t, S.headers, S.n_headers, &F);
	assert_false(headers_drop_response(t, &S.headers[0], (enum headers_kind)F.kind[0], &F.tok, true));
	assert_true(headers_drop_response(t, &S.headers[0], (enum headers_kind)F.kind[0], &F.tok, false));
	assert_true(headers_drop_response(t, &S.headers[1], (enum headers_kind)F.kind[1], &F.tok, true));
	assert_true(headers_drop_response(t, &S.headers[2], (enum headers_kind)F.kind[2], &F.tok, true));
	assert_false(headers_drop_response(t, &S.headers[3], (enum headers_kind)F.kind[3], &F.tok, true));
}

#define KEY "AIzaSyD0123456789abcdefghijklmnopqrst_-"   /* AIza + 35 */

static void
test_api_key(void)
{
	assert_true(headers_is_api_key(KEY, strlen(KEY)));
	assert_false(headers_is_api_key(KEY, strlen(KEY) - 1));           /* one short */
	assert_false(headers_is_api_key(KEY "x", strlen(KEY) + 1));       /* one more: not a key */
	assert_true(headers_is_api_key(KEY "&", strlen(KEY) + 1));        /* a delimiter after it */
	assert_false(headers_is_api_key("AIzbSyD0123456789abcdefghijklmnopqrst_-", strlen(KEY)));
	assert_false(headers_is_api_key("AIzaSyD0123456789abcdefghijklmnopqrs.-", strlen(KEY)));
}

static void
test_query_key(void)
{
	const char *q;

	q = "key=" KEY;
	assert_true(headers_query_has_api_key(q, strlen(q)));
	q = "key=" KEY "&alt=sse";                     /* not only as the last parameter */
	assert_true(headers_query_has_api_key(q, strlen(q)));
	q = "alt=sse&key=" KEY "&x=1";
	assert_true(headers_query_has_api_key(q, strlen(q)));
	q = "alt=sse&key=" KEY "x";                    /* one character more: not a key */
	assert_false(headers_query_has_api_key(q, strlen(q)));
	q = "mykey=" KEY;                              /* another parameter's name */
	assert_false(headers_query_has_api_key(q, strlen(q)));
	q = "key=sk-test-123";
	assert_false(headers_query_has_api_key(q, strlen(q)));
	q = "alt=sse;key=" KEY;                        /* ';' separates for some parsers */
	assert_true(headers_query_has_api_key(q, strlen(q)));
	q = "k%65y=" KEY;                              /* the upstream decodes the name ... */
	assert_true(headers_query_has_api_key(q, strlen(q)));
	q = "key=%41IzaSyD0123456789abcdefghijklmnopqrst_-";   /* ... and the value */
	assert_true(headers_query_has_api_key(q, strlen(q)));
	q = "key=" KEY "%78";                          /* an encoded character more: not a key */
	assert_false(headers_query_has_api_key(q, strlen(q)));
	q = "ke%79x=" KEY;
	assert_false(headers_query_has_api_key(q, strlen(q)));
}

/* Every x-goog-api-key field counts, and a key anywhere in its value. */
static void
test_request_key(void)
{
	head("GET /?alt=sse HTTP/1.1\r\nHost: a\r\nx-goog-api-key: sk-local\r\nx-goog-api-key: " KEY "\r\n\r\n");
	assert_true(headers_request_has_api_key(text, &R, &F));
	head("GET / HTTP/1.1\r\nHost: a\r\nX-Goog-Api-Key: sk-local, " KEY "\r\n\r\n");
	assert_true(headers_request_has_api_key(text, &R, &F));
	head("GET /?a=1&key=" KEY " HTTP/1.1\r\nHost: a\r\nx-goog-api-key: sk-local\r\n\r\n");
	assert_true(headers_request_has_api_key(text, &R, &F));
	head("GET / HTTP/1.1\r\nHost: a\r\nx-goog-api-key: sk-local\r\nx-goog-api-key: x" KEY "\r\n\r\n");
	assert_false(headers_request_has_api_key(text, &R, &F));   /* inside a longer word */
	head("GET / HTTP/1.1\r\nHost: a\r\nx-goog-api-key: sk-local\r\nx-other: " KEY "\r\n\r\n");
	assert_false(headers_request_has_api_key(text, &R, &F));
}

static void
test_via_loop(void)
{
	head("GET / HTTP/1.1\r\nHost: a\r\nVia: 1.1 a\r\nVia: 1.1 GBCA\r\n\r\n");
	assert_true(headers_via_loop(text, R.headers, R.n_headers, &F));   /* the second line counts */
	head("GET / HTTP/1.1\r\nHost: a\r\nVia: 1.1 a, 1.1 gbca\r\n\r\n");
	assert_true(headers_via_loop(text, R.headers, R.n_headers, &F));
	head("GET / HTTP/1.1\r\nHost: a\r\nVia: 1.1 a\r\nX-Via: gbca\r\n\r\n");
	assert_false(headers_via_loop(text, R.headers, R.n_headers, &F));
}

static const char *
rewritten(const char *v, const char *origin, const char *port, const char *prefix, size_t size)
{
	static char out[256];

	if (headers_rewrite_url(v, strlen(v), origin, port, prefix, "https://g.test", out, size) == 0)
		return "(left alone)";
	return out;
}

static void
test_rewrite_url(void)
{
	const char *o = "https://balancer.test";
	assert_str_eq(rewritten("https://balancer.test/gb/upload/v1beta/files?upload_id=x", o, "443", "/gb", 256),
	              "https://g.test/upload/v1beta/files?upload_id=x");
	assert_str_eq(rewritten("HTTPS://Balancer.TEST/gb?x", o, "443", "/gb", 256), "https://g.test?x");
	assert_str_eq(rewritten("https://balancer.test/gb", o, "443", "/gb", 256), "https://g.test");
	assert_str_eq(rewritten("https://balancer.test:443/gb/a", o, "443", "/gb", 256), "https://g.test/a");
	assert_str_eq(rewritten("https://balancer.test/a", o, "443", "", 256), "https://g.test/a");
	/* not the upstream: another host, port, scheme, prefix, or a longer name */
	assert_str_eq(rewritten("https://balancer.test:8443/gb/a", o, "443", "/gb", 256), "(left alone)");
	assert_str_eq(rewritten("https://balancer.test.evil/gb/a", o, "443", "/gb", 256), "(left alone)");
	assert_str_eq(rewritten("https://balancer.testing/gb/a", o, "443", "/gb", 256), "(left alone)");
	assert_str_eq(rewritten("http://balancer.test/gb/a", o, "443", "/gb", 256), "(left alone)");
	assert_str_eq(rewritten("https://balancer.test/gbx/a", o, "443", "/gb", 256), "(left alone)");
	assert_str_eq(rewritten("https://balancer.test/GB/a", o, "443", "/gb", 256), "(left alone)");
	assert_str_eq(rewritten("https://balancer.test/other", o, "443", "/gb", 256), "(left alone)");
	assert_str_eq(rewritten("/gb/a", o, "443", "/gb", 256), "(left alone)");
	/* an origin with its port: that port only */
	assert_str_eq(rewritten("https://b.test:8443/a", "https://b.test:8443", "443", "", 256), "https://g.test/a");
	assert_str_eq(rewritten("https://b.test:8443:443/a", "https://b.test:8443", "443", "", 256), "(left alone)");
	/* too long for the room: left alone, never cut */
	assert_str_eq(rewritten("https://balancer.test/gb/abcdef", o, "443", "/gb", 21), "(left alone)");
	assert_str_eq(rewritten("https://balancer.test/gb/abcdef", o, "443", "/gb", 22), "https://g.test/abcdef");
}

int
main(void)
{
	tap_add("/headers/kinds", test_kinds);
	tap_add("/headers/drop-request", test_drop_request);
	tap_add("/headers/too-many-tokens", test_too_many_tokens);
	tap_add("/headers/drop-response", test_drop_response);
	tap_add("/headers/api-key", test_api_key);
	tap_add("/headers/query-key", test_query_key);
	tap_add("/headers/request-key", test_request_key);
	tap_add("/headers/via-loop", test_via_loop);
	tap_add("/headers/rewrite-url", test_rewrite_url);
	return tap_run();
}
