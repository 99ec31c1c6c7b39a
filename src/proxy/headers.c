/* gbca serve's header policy: field kinds, hop-by-hop fields, the Google
 * API-key guard and the Via loop check, as pure functions over a parsed
 * head (see include/gbca/headers.h). */
#include "config.h"
#include <gbca/headers.h>

#include <string.h>
#include <strings.h>

static bool
contains_ci(const char *p, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if (strncasecmp(p + i, needle, k) == 0)
			return true;
	return false;
}

enum headers_kind
headers_field_kind(const char *buf, struct http1_span name)
{
#define KNOWN(lit, kind) { lit, sizeof(lit) - 1, kind }
	static const struct { const char *name; size_t len; enum headers_kind kind; } known[] = {
		KNOWN("connection", FK_CONNECTION),
		KNOWN("keep-alive", FK_KEEP_ALIVE),
		KNOWN("proxy-connection", FK_PROXY_CONNECTION),
		KNOWN("te", FK_TE),
		KNOWN("trailer", FK_TRAILER),
		KNOWN("upgrade", FK_UPGRADE),
		KNOWN("proxy-authorization", FK_PROXY_AUTHORIZATION),
		KNOWN("proxy-authenticate", FK_PROXY_AUTHENTICATE),
		KNOWN("x-real-ip", FK_X_REAL_IP),
		KNOWN("x-forwarded-proto", FK_X_FORWARDED_PROTO),
		KNOWN("x-forwarded-for", FK_X_FORWARDED_FOR),
		KNOWN("via", FK_VIA),
		KNOWN("access-control-allow-origin", FK_ACAO),
		KNOWN("x-goog-upload-url", FK_UPLOAD_URL),
		KNOWN("x-goog-api-key", FK_API_KEY),
		KNOWN("transfer-encoding", FK_TRANSFER_ENCODING),
		KNOWN("location", FK_LOCATION),
		KNOWN("content-location", FK_CONTENT_LOCATION),
		KNOWN("host", FK_HOST),
	};
#undef KNOWN

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i].len == name.len && http1_span_eq(buf, name, known[i].name))
			return known[i].kind;
	return FK_OTHER;
}

void
headers_classify(const char *buf, const struct http1_header *hs, size_t n, struct headers_fields *f)
{
	f->tok.n = 0;
	f->tok.overflow = false;
	f->xff = f->via = f->api_key = f->upgrade = NULL;
	for (size_t i = 0; i < n; i++) {
		enum headers_kind k = headers_field_kind(buf, hs[i].name);
		const struct http1_header **first = NULL;

		f->kind[i] = (unsigned char)k;
		switch (k) {
		case FK_CONNECTION: {
			struct http1_span item;
			uint32_t pos = 0;
			while (http1_list_next(buf, hs[i].value, &pos, &item)) {
				/* A field named past the last one kept would not be
				 * dropped as hop-by-hop: the head is refused instead. */
				if (f->tok.n == HEADERS_TOKENS_MAX) {
					f->tok.overflow = true;
					break;
				}
				f->tok.t[f->tok.n++] = item;
			}
			break;
		}
		case FK_X_FORWARDED_FOR: first = &f->xff; break;
		case FK_VIA: first = &f->via; break;
		case FK_API_KEY: first = &f->api_key; break;
		case FK_UPGRADE: first = &f->upgrade; break;
		default: break;
		}
		if (first && *first == NULL)
			*first = &hs[i];
	}
}

bool
headers_connection_lists(const char *buf, const struct headers_tokens *tok, struct http1_span name)
{
	for (size_t i = 0; i < tok->n; i++)
		if (tok->t[i].len == name.len && strncasecmp(buf + tok->t[i].off, buf + name.off, name.len) == 0)
			return true;
	return false;
}

static bool
key_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}

bool
headers_is_api_key(const char *p, size_t n)
{
	/* Google API keys: "AIza" and 35 more of [A-Za-z0-9_-], 39 in all. */
	if (n < 39 || memcmp(p, "AIza", 4) != 0)
		return false;
	for (size_t i = 4; i < 39; i++)
		if (!key_char(p[i]))
			return false;
	return n == 39 || !key_char(p[39]);
}

bool
headers_value_has_api_key(const char *p, size_t n)
{
	for (size_t i = 0; i + 39 <= n; i++)
		if ((i == 0 || !key_char(p[i - 1])) && headers_is_api_key(p + i, n - i))
			return true;
	return false;
}

static int
hex_digit(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
	     : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* Percent-decodes q[0 .. n) as a form parser would ('+' is a space) into
 * out, keeping the first `size` bytes: enough to tell "key" and a key (and
 * the byte after one) from anything else. */
static size_t
decode(const char *q, size_t n, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o < size; i++) {
		char ch = q[i];
		if (ch == '%' && i + 2 < n && hex_digit(q[i + 1]) >= 0 && hex_digit(q[i + 2]) >= 0) {
			ch = (char)(hex_digit(q[i + 1]) * 16 + hex_digit(q[i + 2]));
			i += 2;
		} else if (ch == '+') {
			ch = ' ';
		}
		out[o++] = ch;
	}
	return o;
}

/* key=AIza... as any parameter of the query string, also percent-encoded:
 * the upstream (a form parser) decodes both the name and the value. ';'
 * separates too, as older Python parsers have it. */
bool
headers_query_has_api_key(const char *q, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t e = i, eq;
		char name[4], value[40];

		while (e < n && q[e] != '&' && q[e] != ';')
			e++;
		for (eq = i; eq < e && q[eq] != '='; eq++)
			;
		if (eq < e && decode(q + i, eq - i, name, sizeof(name)) == 3 && memcmp(name, "key", 3) == 0) {
			size_t len = decode(q + eq + 1, e - eq - 1, value, sizeof(value));
			if (headers_is_api_key(value, len))
				return true;
		}
		i = e + 1;
	}
	return false;
}

bool
headers_request_has_api_key(const char *buf, const struct http1_request *r, const struct headers_fields *f)
{
	for (size_t i = 0; i < r->n_headers; i++)
		if (f->kind[i] == FK_API_KEY &&
		    headers_value_has_api_key(buf + r->headers[i].value.off, r->headers[i].value.len))
			return true;
	return headers_query_has_api_key(buf + r->query.off, r->query.len);
}

/* Framing fields stay: bodies are forwarded byte for byte, chunks and all
 * (a Connection option naming one is refused by the parser). */
bool
headers_drop_request(const char *buf, const struct http1_header *h, enum headers_kind k,
                   const struct headers_tokens *tok)
{
	switch (k) {
	case FK_CONNECTION: case FK_KEEP_ALIVE: case FK_PROXY_CONNECTION: case FK_TE:
	case FK_TRAILER: case FK_UPGRADE: case FK_PROXY_AUTHORIZATION: case FK_PROXY_AUTHENTICATE:
	case FK_X_REAL_IP: case FK_X_FORWARDED_PROTO: case FK_X_FORWARDED_FOR: case FK_VIA:
		return true;
	default:
		return tok->n > 0 && headers_connection_lists(buf, tok, h->name);
	}
}

bool
headers_drop_response(const char *buf, const struct http1_header *h, enum headers_kind k,
                      const struct headers_tokens *tok, bool upgrade)
{
	switch (k) {
	case FK_CONNECTION: case FK_KEEP_ALIVE: case FK_PROXY_CONNECTION: case FK_TE:
	case FK_TRAILER: case FK_PROXY_AUTHENTICATE:
		return true;
	case FK_UPGRADE:
		return !upgrade;
	default:
		return tok->n > 0 && headers_connection_lists(buf, tok, h->name);
	}
}

bool
headers_via_loop(const char *buf, const struct http1_header *hs, size_t n, const struct headers_fields *f)
{
	for (size_t i = 0; i < n; i++)
		if (f->kind[i] == FK_VIA && contains_ci(buf + hs[i].value.off, hs[i].value.len, "gbca"))
			return true;
	return false;
}

size_t
headers_rewrite_url(const char *v, size_t vl, const char *origin, const char *default_port,
                    const char *prefix, const char *to, char *out, size_t size)
{
	size_t ol = strlen(origin), pl = strlen(prefix), tl = strlen(to), dl = strlen(default_port), i;

	/* scheme and host are case-insensitive (RFC 3986 6.2.2.1), the path is not */
	if (vl < ol || strncasecmp(v, origin, ol) != 0)
		return 0;
	i = ol;
	if (i < vl && v[i] == ':') {
		/* "https://h:443/..." is the same origin as "https://h/..." */
		if (strchr(origin + strcspn(origin, ":") + 3, ':') != NULL || vl - i - 1 < dl ||
		    memcmp(v + i + 1, default_port, dl) != 0)
			return 0;
		i += 1 + dl;
	}
	if (vl - i < pl || memcmp(v + i, prefix, pl) != 0)
		return 0;
	i += pl;
	if (i < vl && v[i] != '/' && v[i] != '?' && v[i] != '#')
		return 0;
	if (tl + (vl - i) + 1 > size)
		return 0;
	memcpy(out, to, tl);
	memcpy(out + tl, v + i, vl - i);
	out[tl + vl - i] = '\0';
	return tl + vl - i;
}
