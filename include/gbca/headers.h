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
	FK_TRANSFER_ENCODING,
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
/* key=AIza... as any parameter of the query string q[0 .. n). */
bool headers_query_has_api_key(const char *q, size_t n);
/* True when any Via field of the head names gbca (case-insensitive). */
bool headers_via_loop(const char *buf, const struct http1_header *hs, size_t n, const struct headers_fields *f);
/* Fields not forwarded to the upstream: hop-by-hop (RFC 9110 7.6.1), what
 * Connection names, and those the proxy sets itself. */
bool headers_drop_request(const char *buf, const struct http1_header *h, enum headers_kind k,
                          const struct headers_tokens *tok);
/* Fields not passed back to the client; Upgrade stays when upgrading. */
bool headers_drop_response(const char *buf, const struct http1_header *h, enum headers_kind k,
                           const struct headers_tokens *tok, bool upgrade);

#endif
