/* gbca serve's header policy: which fields of a head the proxy treats
 * specially, which are hop-by-hop and dropped when forwarding, the Google
 * API-key guard and the Via loop check. Pure functions over a parsed head
 * (spans into the caller's buffer); nothing here allocates. */
#ifndef GBCA_HEADERS_H
#define GBCA_HEADERS_H

#include <gbca/http1.h>

#include <stdbool.h>
#include <stddef.h>

/* The fields the proxy treats specially, told apart by length first: each
 * field of each head is classified once, instead of being compared with a
 * list of names in every loop that looks for one. */
enum headers_kind {
	FK_OTHER, FK_CONNECTION, FK_KEEP_ALIVE, FK_PROXY_CONNECTION, FK_TE, FK_TRAILER,
	FK_UPGRADE, FK_PROXY_AUTHORIZATION, FK_PROXY_AUTHENTICATE, FK_X_REAL_IP,
	FK_X_FORWARDED_PROTO, FK_X_FORWARDED_FOR, FK_VIA, FK_ACAO, FK_UPLOAD_URL, FK_API_KEY,
	FK_TRANSFER_ENCODING, FK_LOCATION, FK_CONTENT_LOCATION, FK_HOST,
};

/* The field names a message's Connection fields list (they are hop-by-hop),
 * gathered once per message rather than once per field. */
#define HEADERS_TOKENS_MAX 16
struct headers_tokens {
	size_t n;
	struct http1_span t[HEADERS_TOKENS_MAX];
	bool overflow;   /* more than HEADERS_TOKENS_MAX: refuse the message */
};

/* What classifying a head's fields found: each field's kind (an enum
 * headers_kind), the Connection tokens, and the first of the fields the
 * proxy reads. */
struct headers_fields {
	unsigned char kind[HTTP1_HEADERS_MAX];
	struct headers_tokens tok;
	const struct http1_header *xff, *via, *api_key, *upgrade;
};

enum headers_kind headers_field_kind(const char *buf, struct http1_span name);
void headers_classify(const char *buf, const struct http1_header *hs, size_t n, struct headers_fields *f);
/* True when a Connection token of the message names `name`. */
bool headers_connection_lists(const char *buf, const struct headers_tokens *tok, struct http1_span name);
/* A Google API key at p: "AIza" and 35 more of [A-Za-z0-9_-], not followed
 * by another of those. */
bool headers_is_api_key(const char *p, size_t n);
/* True when an API key starts at p or after a byte that can't be in one. */
bool headers_value_has_api_key(const char *p, size_t n);
/* key=AIza... as any parameter of the query string q[0 .. n), the name and
 * the value percent-decoded as the upstream would. */
bool headers_query_has_api_key(const char *q, size_t n);
/* The API-key guard: a key in any x-goog-api-key field or key parameter. */
bool headers_request_has_api_key(const char *buf, const struct http1_request *r, const struct headers_fields *f);
/* True when any Via field of the head names gbca (case-insensitive). */
bool headers_via_loop(const char *buf, const struct http1_header *hs, size_t n, const struct headers_fields *f);
/* Fields not forwarded to the upstream: hop-by-hop (RFC 9110 7.6.1), what
 * Connection names, and those the proxy sets itself. */
bool headers_drop_request(const char *buf, const struct http1_header *h, enum headers_kind k,
                          const struct headers_tokens *tok);
/* Fields not passed back to the client; Upgrade stays when upgrading. */
bool headers_drop_response(const char *buf, const struct http1_header *h, enum headers_kind k,
                           const struct headers_tokens *tok, bool upgrade);

/* A URL in a response field (X-Goog-Upload-URL, Location, Content-Location)
 * that names the upstream: origin ("https://host" or "https://host:port";
 * an explicit default port matches too), then prefix ("" or "/a/b"), then
 * '/', '?', '#' or the end. Writes to + the rest into out (NUL-terminated)
 * and returns its length; 0 when v does not name the upstream, or when the
 * result would not fit in size (the field is then left alone). */
#define HEADERS_URL_MAX 4096   /* a rewritten URL; a longer one is left alone */
size_t headers_rewrite_url(const char *v, size_t vl, const char *origin, const char *default_port,
                           const char *prefix, const char *to, char *out, size_t size);

#endif
