/* libFuzzer target for the HTTP/1.1 parser: head_end in random splits against
 * one shot, request and response parsing, the chunked tracker in splits
 * against one shot; aborts when an invariant breaks. Built by tests/fuzz.sh. */
#include "config.h"
#include <gbca/http1.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) \
	do { if (!(c)) { fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Split sizes from a small generator seeded by the input's first byte. */
static size_t
next_step(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return 1 + (*seed >> 16) % 17;
}

static bool
span_in(struct http1_span s, size_t len)
{
	return (size_t)s.off + s.len <= len;
}

static void
check_headers(const struct http1_header *h, size_t n, size_t len)
{
	CHECK(n <= HTTP1_HEADERS_MAX);
	for (size_t i = 0; i < n; i++) {
		CHECK(h[i].name.len > 0);
		CHECK(span_in(h[i].name, len));
		CHECK(span_in(h[i].value, len));
	}
}

static void
check_request(const char *buf, size_t head_len)
{
	static struct http1_request r;
	const char *why = NULL;
	int rc = http1_parse_request(buf, head_len, &r, &why);

	if (rc != 0) {
		CHECK(why != NULL);
		CHECK(rc == 400 || rc == 417 || rc == 431 || rc == 501 || rc == 505);
		return;
	}
	CHECK(r.head_len == head_len && head_len <= HTTP1_HEAD_MAX);
	CHECK(r.minor == 0 || r.minor == 1);
	CHECK(r.method.len > 0 && span_in(r.method, head_len));
	CHECK(r.target.len > 0 && span_in(r.target, head_len));
	CHECK(span_in(r.path, head_len) && span_in(r.query, head_len));
	CHECK(span_in(r.authority, head_len));
	check_headers(r.headers, r.n_headers, head_len);
	CHECK(r.host >= -1 && r.host < (int)r.n_headers);
	CHECK(r.minor == 0 || r.host >= 0);
	CHECK(r.framing != HTTP1_BODY_CLOSE);
	CHECK((r.framing == HTTP1_BODY_LENGTH) == (r.content_length > 0));
	CHECK(r.content_length <= HTTP1_LENGTH_MAX);
	/* the head ends in CRLF CRLF, which head_end finds, and holds no bare LF */
	{
		size_t scanned = 0;
		CHECK(http1_head_end(buf, head_len, &scanned) == head_len);
	}
	CHECK(head_len >= 4 && memcmp(buf + head_len - 4, "\r\n\r\n", 4) == 0);
	for (size_t i = 0; i < head_len; i++)
		CHECK(buf[i] != '\n' || (i > 0 && buf[i - 1] == '\r'));
}

static void
check_response(const char *buf, size_t head_len, bool head_request)
{
	static struct http1_response r;
	const char *why = NULL;
	int rc = http1_parse_response(buf, head_len, head_request, &r, &why);

	if (rc != 0) {
		CHECK(rc == 502 && why != NULL);
		return;
	}
	CHECK(r.head_len == head_len);
	CHECK(r.status >= 100 && r.status <= 599);
	CHECK(span_in(r.reason, head_len));
	check_headers(r.headers, r.n_headers, head_len);
	CHECK(r.framing != HTTP1_BODY_CLOSE || !r.keep_alive);
	CHECK(!head_request || r.framing == HTTP1_BODY_NONE);
}

/* One shot against pieces of random sizes: same result, same end. */
static void
check_chunked(const char *buf, size_t len, unsigned seed)
{
	struct http1_chunked c;
	const char *why = NULL, *why_split = NULL;
	size_t used = 0, total = 0;
	int whole, rc = 0;

	http1_chunked_init(&c);
	whole = http1_chunked_feed(&c, buf, len, &used, &why);
	CHECK(whole >= -1 && whole <= 1 && used <= len);
	CHECK(whole != 0 || used == len);
	CHECK(whole >= 0 || why != NULL);

	http1_chunked_init(&c);
	while (total < len) {
		size_t n = next_step(&seed), u = len;
		if (n > len - total)
			n = len - total;
		rc = http1_chunked_feed(&c, buf + total, n, &u, &why_split);
		CHECK(u <= n);
		total += u;
		if (rc != 0)
			break;
		CHECK(u == n);
	}
	CHECK(rc == whole);
	CHECK(total == used);
	CHECK(rc >= 0 || strcmp(why, why_split) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	unsigned seed = size > 0 ? data[0] : 0;
	size_t scanned = 0, whole, split = 0, n = 0;

	whole = http1_head_end(buf, size, &scanned);
	CHECK(whole <= size && scanned <= size);
	CHECK(whole == 0 || scanned == whole);

	scanned = 0;
	while (n < size) {
		n += next_step(&seed);
		if (n > size)
			n = size;
		split = http1_head_end(buf, n, &scanned);
		CHECK(scanned <= n);
		if (split != 0)
			break;
	}
	CHECK(split == whole);

	if (whole != 0) {
		check_request(buf, whole);
		check_response(buf, whole, size > 0 && (data[0] & 1));
		check_chunked(buf + whole, size - whole, seed);
	} else {
		check_chunked(buf, size, seed);
	}
	/* any length, whether or not it ends a head */
	if (size <= HTTP1_HEAD_MAX + 1) {
		check_request(buf, size);
		check_response(buf, size, false);
	}
	return 0;
}
