/* The strict HTTP/1.1 parser of gbca serve: head framing, request and response
 * heads, chunked bodies. Anything a lenient peer might read differently from
 * us (the stuff of request smuggling) is refused rather than repaired. */
#include "config.h"
#include <gbca/http1.h>

#include <assert.h>
#include <stdint.h>
#include <string.h>

/* Character classes, one table lookup per byte on the hot path. The
 * definitions are the constant expressions below, expanded for all 256. */
enum { CL_TCHAR = 1, CL_VALUE = 2 };
/* RFC 9110 5.6.2 tchar */
#define TCHAR(c) (((c) >= '0' && (c) <= '9') || ((c) >= 'a' && (c) <= 'z') || \
	((c) >= 'A' && (c) <= 'Z') || (c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' || \
	(c) == '&' || (c) == '\'' || (c) == '*' || (c) == '+' || (c) == '-' || (c) == '.' || \
	(c) == '^' || (c) == '_' || (c) == '`' || (c) == '|' || (c) == '~')
/* field-vchar, SP, HTAB and obs-text: anything but CTLs other than HTAB */
#define VALUE(c) ((c) == '\t' || ((c) >= 0x20 && (c) != 0x7f))
#define CL(c) ((TCHAR(c) ? CL_TCHAR : 0) | (VALUE(c) ? CL_VALUE : 0))
#define CL4(c) CL(c), CL((c) + 1), CL((c) + 2), CL((c) + 3)
#define CL16(c) CL4(c), CL4((c) + 4), CL4((c) + 8), CL4((c) + 12)
#define CL64(c) CL16(c), CL16((c) + 16), CL16((c) + 32), CL16((c) + 48)
static const unsigned char char_class[256] = { CL64(0), CL64(64), CL64(128), CL64(192) };
#undef CL64
#undef CL16
#undef CL4
#undef CL
#undef VALUE
#undef TCHAR

static inline bool
is_tchar(unsigned char c)
{
	return char_class[c] & CL_TCHAR;
}

static inline bool
is_value_char(unsigned char c)
{
	return char_class[c] & CL_VALUE;
}

/* The index of the first byte of s[0 .. n) that may not be in a field value,
 * or n. Eight bytes at a time while they are all plain printable ASCII or
 * obs-text: no byte below 0x20 (which takes in HTAB, checked one by one) and
 * none equal to 0x7f. */
static size_t
bad_value_byte(const unsigned char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t x, del;
		memcpy(&x, s + i, 8);
		del = x ^ (ones * 0x7f);
		if (((x - ones * 0x20) & ~x & highs) | ((del - ones) & ~del & highs))
			break;
	}
	for (; i < n; i++)
		if (!is_value_char(s[i]))
			return i;
	return n;
}

/* RFC 9110 5.6.4 qdtext. */
static inline bool
is_qdtext(unsigned char c)
{
	return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
	       (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

/* RFC 3986 host [":" port]: unreserved, pct-encoded, sub-delims, ':', '[', ']'. */
static inline bool
is_host_char(unsigned char c)
{
	switch (c) {
	case '-': case '.': case '_': case '~': case '%': case '!': case '$': case '&':
	case '\'': case '(': case ')': case '*': case '+': case ',': case ';': case '=':
	case ':': case '[': case ']':
		return true;
	}
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static inline int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static inline unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static struct http1_span
span(size_t off, size_t len)
{
	return (struct http1_span){ (uint32_t)off, (uint32_t)len };
}

static bool
mem_eq_nocase(const char *p, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lit[i] == '\0' || lower((unsigned char)p[i]) != lower((unsigned char)lit[i]))
			return false;
	return lit[i] == '\0';
}

static bool
mem_eq_nocase_mem(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

/* Case-sensitive: methods are (RFC 9110 9.1). */
static bool
span_is(const char *buf, struct http1_span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && memcmp(buf + s.off, lit, n) == 0;
}

bool
http1_span_eq(const char *buf, struct http1_span s, const char *lit)
{
	return mem_eq_nocase(buf + s.off, s.len, lit);
}

int
http1_find_header(const char *buf, const struct http1_header *h, size_t n,
                  const char *name, size_t from)
{
	for (size_t i = from; i < n; i++)
		if (http1_span_eq(buf, h[i].name, name))
			return (int)i;
	return -1;
}

bool
http1_list_next(const char *buf, struct http1_span value, uint32_t *pos,
                struct http1_span *item)
{
	const char *v = buf + value.off;
	uint32_t i = *pos;

	while (i < value.len) {
		uint32_t start, end;

		while (i < value.len && (is_ows((unsigned char)v[i]) || v[i] == ','))
			i++;
		start = i;
		while (i < value.len && v[i] != ',')
			i++;
		end = i;
		while (end > start && is_ows((unsigned char)v[end - 1]))
			end--;
		if (end > start) {
			*item = span(value.off + start, end - start);
			*pos = i;
			return true;
		}
	}
	*pos = value.len;
	return false;
}

size_t
http1_head_end(const char *buf, size_t len, size_t *scanned)
{
	size_t i = *scanned;

	assert(i <= len);
	while (i < len) {
		const char *lf = memchr(buf + i, '\n', len - i);

		if (lf == NULL) {
			*scanned = len;
			return 0;
		}
		i = (size_t)(lf - buf);
		/* undecided until the next byte or two arrive: rescan from this LF */
		if (i + 1 >= len || (buf[i + 1] == '\r' && i + 2 >= len)) {
			*scanned = i;
			return 0;
		}
		if (buf[i + 1] == '\n') {
			*scanned = i + 2;
			return i + 2;
		}
		if (buf[i + 1] == '\r' && buf[i + 2] == '\n') {
			*scanned = i + 3;
			return i + 3;
		}
		i++;
	}
	*scanned = len;
	return 0;
}

/* ---- heads ---- */

/* Splits off the next line of buf[*pos .. head_len): its content (without
 * CRLF) is buf[*start .. *start + *n). Returns 1 for a line, 0 for the empty
 * line, -1 for a line that does not end in CRLF or (unless the caller checks
 * every byte itself, as parse_field_line does) holds a lone CR. */
static int
next_line(const char *buf, size_t head_len, size_t *pos, size_t *start, size_t *n,
          bool caller_checks_cr, const char **why)
{
	const char *p = buf + *pos;
	const char *lf = memchr(p, '\n', head_len - *pos);
	size_t len;

	if (lf == NULL) {
		*why = "head does not end with an empty line";
		return -1;
	}
	/* RFC 9112 2.2: a bare LF is read as a line end by some and not by others */
	if (lf == p || lf[-1] != '\r') {
		*why = "bare LF in head";
		return -1;
	}
	len = (size_t)(lf - 1 - p);
	if (!caller_checks_cr && memchr(p, '\r', len) != NULL) {
		*why = "CR not followed by LF in head";
		return -1;
	}
	*start = *pos;
	*n = len;
	*pos = (size_t)(lf + 1 - buf);
	return len > 0;
}

/* What the fields of a head say about framing and the connection. */
struct fields {
	int n_length, n_te, n_host, n_upgrade;
	int length, te, host;   /* index of the last one */
	bool close, keep_alive, upgrade_token;
	bool expect_continue, expect_other;
};

/* 1 when the name is lit, 2 when it is lit only if '_' is read as '-'. */
static int
name_match(const char *p, size_t n, const char *lit)
{
	bool underscore = false;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = lower((unsigned char)p[i]);
		if (lit[i] == '\0')
			return 0;
		if (c == '_' && lit[i] == '-')
			underscore = true;
		else if (c != (unsigned char)lit[i])
			return 0;
	}
	if (lit[i] != '\0')
		return 0;
	return underscore ? 2 : 1;
}

/* Takes note of one field of the framing and connection fields. Returns
 * false (*why set) for a field that is malformed on its own. */
static bool
note_field(const char *buf, const struct http1_header *h, int index, struct fields *f,
           const char **why)
{
	/* by length, the only name each could be */
	static const char *const special[] = {
		"content-length", "transfer-encoding", "host", "connection", "upgrade", "expect",
	};
	const char *name = buf + h->name.off;
	int which, m;

	switch (h->name.len) {
	case 14: which = 0; break;
	case 17: which = 1; break;
	case 4: which = 2; break;
	case 10: which = 3; break;
	case 7: which = 4; break;
	case 6: which = 5; break;
	default: return true;
	}
	m = name_match(name, h->name.len, special[which]);
	if (m == 2) {
		/* CGI-style servers map '_' and '-' alike: a second Content-Length */
		*why = "underscore in the name of a framing header";
		return false;
	}
	if (m == 0)
		return true;
	switch (which) {
	case 0:
		f->n_length++;
		f->length = index;
		break;
	case 1:
		f->n_te++;
		f->te = index;
		break;
	case 2:
		f->n_host++;
		f->host = index;
		break;
	case 3: {
		uint32_t pos = 0;
		struct http1_span item;
		while (http1_list_next(buf, h->value, &pos, &item)) {
			for (uint32_t i = 0; i < item.len; i++)
				if (!is_tchar((unsigned char)buf[item.off + i])) {
					*why = "bad Connection option";
					return false;
				}
			/* RFC 9110 7.6.1 lets a sender name any field as hop-by-hop,
			 * but a proxy that then drops the framing fields (or Host)
			 * forwards a body the next hop reads differently: request
			 * smuggling. Framing is never up for negotiation. */
			if (http1_span_eq(buf, item, "content-length") ||
			    http1_span_eq(buf, item, "transfer-encoding") ||
			    http1_span_eq(buf, item, "host")) {
				*why = "Connection names a framing header or Host";
				return false;
			}
			if (http1_span_eq(buf, item, "close"))
				f->close = true;
			else if (http1_span_eq(buf, item, "keep-alive"))
				f->keep_alive = true;
			else if (http1_span_eq(buf, item, "upgrade"))
				f->upgrade_token = true;
		}
		break;
	}
	case 4:
		if (h->value.len > 0)
			f->n_upgrade++;
		break;
	case 5: {
		uint32_t pos = 0;
		struct http1_span item;
		while (http1_list_next(buf, h->value, &pos, &item)) {
			if (http1_span_eq(buf, item, "100-continue"))
				f->expect_continue = true;
			else
				f->expect_other = true;
		}
		break;
	}
	}
	return true;
}

/* Parses one field line buf[start .. start + n) into *h. */
static bool
parse_field_line(const char *buf, size_t start, size_t n, struct http1_header *h,
                 const char **why)
{
	const unsigned char *s = (const unsigned char *)buf + start;
	size_t i = 0, vs, ve;

	/* RFC 9112 5.2: obs-fold is refused, not unfolded */
	if (is_ows(s[0])) {
		*why = "obs-fold (line starting with whitespace)";
		return false;
	}
	while (i < n && is_tchar(s[i]))
		i++;
	if (i == n) {
		*why = "header line without a colon";
		return false;
	}
	if (s[i] != ':') {
		/* RFC 9112 5.1: whitespace before the colon is a 400 */
		*why = is_ows(s[i]) ? "whitespace between header name and colon"
		     : s[i] == '\r' ? "CR not followed by LF in head"
		                    : "bad character in header name";
		return false;
	}
	if (i == 0) {
		*why = "empty header name";
		return false;
	}
	h->name = span(start, i);
	i++;
	while (i < n && is_ows(s[i]))
		i++;
	vs = i;
	i += bad_value_byte(s + i, n - i);
	if (i < n) {
		/* next_line left lone CRs in field lines to this check */
		*why = s[i] == '\r' ? "CR not followed by LF in head" : "control character in header value";
		return false;
	}
	ve = n;
	while (ve > vs && is_ows(s[ve - 1]))
		ve--;
	h->value = span(start + vs, ve - vs);
	return true;
}

/* Parses the field lines after the start line up to and including the empty
 * line, which must end the head exactly. Returns 0, 400 or 431. */
static int
parse_fields(const char *buf, size_t head_len, size_t pos, struct http1_header *h,
             size_t *n_headers, struct fields *f, const char **why)
{
	size_t n = 0;

	memset(f, 0, sizeof(*f));
	f->length = f->te = f->host = -1;
	for (;;) {
		size_t start, len;
		int rc = next_line(buf, head_len, &pos, &start, &len, true, why);

		if (rc < 0)
			return 400;
		if (rc == 0)
			break;
		if (n == HTTP1_HEADERS_MAX) {
			*why = "too many header fields";
			return 431;
		}
		if (!parse_field_line(buf, start, len, &h[n], why))
			return 400;
		if (!note_field(buf, &h[n], (int)n, f, why))
			return 400;
		n++;
	}
	*n_headers = n;
	if (pos != head_len) {
		*why = "bytes after the empty line of the head";
		return 400;
	}
	return 0;
}

/* Content-Length = 1*DIGIT, at most HTTP1_LENGTH_MAX: no sign, no list
 * ("5, 5" is refused though RFC 9112 6.3 would allow it), no spaces. */
static bool
parse_length(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned char)p[i] - '0';
		if (d > 9 || v > (HTTP1_LENGTH_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* The framing fields common to requests and responses: at most one
 * Content-Length, at most one Transfer-Encoding whose value is exactly
 * "chunked", never both, no Transfer-Encoding in HTTP/1.0. */
static bool
check_framing(const char *buf, const struct http1_header *h, const struct fields *f,
              int minor, uint64_t *length, const char **why)
{
	*length = 0;
	if (f->n_length > 0 && f->n_te > 0) {
		/* RFC 9112 6.1: the classic smuggling pair */
		*why = "both Content-Length and Transfer-Encoding";
		return false;
	}
	if (f->n_length > 1) {
		*why = "more than one Content-Length";
		return false;
	}
	if (f->n_length == 1 &&
	    !parse_length(buf + h[f->length].value.off, h[f->length].value.len, length)) {
		*why = "bad Content-Length";
		return false;
	}
	if (f->n_te > 1) {
		*why = "more than one Transfer-Encoding";
		return false;
	}
	/* Only chunked alone: a coding list ("gzip, chunked") or an unknown
	 * coding is refused instead of being decoded or passed on. */
	if (f->n_te == 1 && !http1_span_eq(buf, h[f->te].value, "chunked")) {
		*why = "Transfer-Encoding other than chunked";
		return false;
	}
	if (f->n_te == 1 && minor == 0) {
		*why = "Transfer-Encoding in HTTP/1.0";
		return false;
	}
	return true;
}

/* "HTTP/" DIGIT "." DIGIT: returns the minor version, -1 when malformed,
 * -2 for a well-formed version other than 1.0 and 1.1. */
static int
parse_version(const char *p)
{
	if (memcmp(p, "HTTP/", 5) != 0 || p[5] < '0' || p[5] > '9' || p[6] != '.' ||
	    p[7] < '0' || p[7] > '9')
		return -1;
	if (p[5] != '1' || p[7] > '1')
		return -2;
	return p[7] - '0';
}

static bool
valid_authority(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_host_char((unsigned char)p[i]))
			return false;
	return true;
}

/* Splits the request-target into path, query and authority. */
static int
parse_target(const char *buf, struct http1_request *r, const char **why)
{
	const char *t = buf + r->target.off;
	size_t n = r->target.len, i = 0, p;

	if (memchr(t, '#', n) != NULL) {
		/* a fragment is never sent; servers disagree on where the path ends */
		*why = "fragment in request target";
		return 400;
	}
	if (n == 1 && t[0] == '*') {
		if (!span_is(buf, r->method, "OPTIONS")) {
			*why = "asterisk-form target outside OPTIONS";
			return 400;
		}
		r->path = r->target;
		return 0;
	}
	if (t[0] != '/') {
		/* absolute-form (RFC 9112 3.2.2): http or https, no userinfo */
		if (n > 7 && mem_eq_nocase(t, 7, "http://"))
			i = 7;
		else if (n > 8 && mem_eq_nocase(t, 8, "https://"))
			i = 8;
		else {
			*why = "request target is not origin-form";
			return 400;
		}
		p = i;
		while (p < n && t[p] != '/' && t[p] != '?')
			p++;
		if (!valid_authority(t + i, p - i)) {
			*why = "bad authority in absolute-form target";
			return 400;
		}
		r->absolute = true;
		r->authority = span(r->target.off + i, p - i);
		i = p;
	}
	p = i;
	while (p < n && t[p] != '?')
		p++;
	r->path = span(r->target.off + i, p - i);
	if (p < n)
		r->query = span(r->target.off + p + 1, n - p - 1);
	else
		r->query = span(r->target.off + n, 0);
	return 0;
}

static int
fail(const char **why, const char *reason, int status)
{
	*why = reason;
	return status;
}

int
http1_parse_request(const char *buf, size_t head_len, struct http1_request *r,
                    const char **why)
{
	const unsigned char *s;
	size_t pos = 0, start, len, i, t;
	struct fields f;
	int rc, minor;

	r->n_headers = 0;
	r->host = -1;
	r->framing = HTTP1_BODY_NONE;
	r->content_length = 0;
	r->keep_alive = r->upgrade = r->expect_continue = r->absolute = false;
	r->authority = r->path = r->query = span(0, 0);
	r->minor = 0;
	r->head_len = 0;
	*why = NULL;

	if (head_len > HTTP1_HEAD_MAX)
		return fail(why, "head too large", 431);
	if (memchr(buf, '\0', head_len) != NULL)
		return fail(why, "NUL in head", 400);
	rc = next_line(buf, head_len, &pos, &start, &len, false, why);
	if (rc < 0)
		return 400;
	if (rc == 0)
		return fail(why, "empty line before the request line", 400);

	/* method SP request-target SP HTTP-version, one SP each (RFC 9112 3) */
	s = (const unsigned char *)buf + start;
	for (i = 0; i < len && is_tchar(s[i]); i++)
		;
	if (i == 0 || i == len || s[i] != ' ')
		return fail(why, "bad method", 400);
	r->method = span(start, i);
	for (t = i + 1; t < len && s[t] > 0x20 && s[t] < 0x7f; t++)
		;
	if (t == i + 1)
		return fail(why, "empty request target (or more than one SP)", 400);
	if (t == len || s[t] != ' ')
		return fail(why, "bad character in request target", 400);
	r->target = span(start + i + 1, t - i - 1);
	if (len - t - 1 != 8)
		return fail(why, "bad HTTP version", 400);
	minor = parse_version((const char *)s + t + 1);
	if (minor == -1)
		return fail(why, "bad HTTP version", 400);
	if (minor == -2)
		return fail(why, "unsupported HTTP version", 505);
	r->minor = minor;
	if (span_is(buf, r->method, "CONNECT"))
		return fail(why, "CONNECT is not supported", 501);
	if ((rc = parse_target(buf, r, why)) != 0)
		return rc;

	if ((rc = parse_fields(buf, head_len, pos, r->headers, &r->n_headers, &f, why)) != 0)
		return rc;

	/* RFC 9112 3.2: exactly one Host in HTTP/1.1; at most one in 1.0 */
	if (f.n_host > 1)
		return fail(why, "more than one Host", 400);
	if (f.n_host == 0 && minor == 1)
		return fail(why, "no Host in an HTTP/1.1 request", 400);
	r->host = f.host;
	if (f.n_host == 1) {
		struct http1_span hv = r->headers[f.host].value;
		/* Host routes and builds URLs upstream: no '/', '@', SP, ... */
		for (i = 0; i < hv.len; i++)
			if (!is_host_char((unsigned char)buf[hv.off + i]))
				return fail(why, "bad character in Host", 400);
		/* absolute-form: the target's authority wins (RFC 9112 3.2.2);
		 * rather than rewrite Host we refuse one that says otherwise */
		if (r->absolute && (hv.len != r->authority.len ||
		    !mem_eq_nocase_mem(buf + hv.off, buf + r->authority.off, hv.len)))
			return fail(why, "Host differs from the absolute-form target", 400);
	}

	if (!check_framing(buf, r->headers, &f, minor, &r->content_length, why))
		return 400;
	if (f.n_te == 1)
		r->framing = HTTP1_BODY_CHUNKED;
	else if (r->content_length > 0)
		r->framing = HTTP1_BODY_LENGTH;

	/* RFC 9110 10.1.1: 100-continue only in 1.1; other expectations: 417 */
	if (f.expect_other)
		return fail(why, "unsupported expectation", 417);
	r->expect_continue = f.expect_continue && minor == 1;
	r->keep_alive = minor == 1 ? !f.close : (f.keep_alive && !f.close);
	/* RFC 9110 7.8: Upgrade in an HTTP/1.0 request is ignored */
	r->upgrade = minor == 1 && f.upgrade_token && f.n_upgrade > 0;
	r->head_len = (uint32_t)head_len;
	return 0;
}

int
http1_parse_response(const char *buf, size_t head_len, bool head_request,
                     struct http1_response *r, const char **why)
{
	const unsigned char *s;
	size_t pos = 0, start, len;
	struct fields f;
	int rc, minor;

	r->n_headers = 0;
	r->status = 0;
	r->minor = 0;
	r->reason = span(0, 0);
	r->framing = HTTP1_BODY_NONE;
	r->content_length = 0;
	r->keep_alive = r->upgrade = false;
	r->head_len = 0;
	*why = NULL;

	if (head_len > HTTP1_HEAD_MAX)
		return fail(why, "response head too large", 502);
	if (memchr(buf, '\0', head_len) != NULL)
		return fail(why, "NUL in response head", 502);
	rc = next_line(buf, head_len, &pos, &start, &len, false, why);
	if (rc < 0)
		return 502;
	if (rc == 0)
		return fail(why, "empty line before the status line", 502);

	/* HTTP-version SP 3DIGIT SP reason-phrase; "HTTP/1.1 200" is taken too */
	s = (const unsigned char *)buf + start;
	if (len < 12 || s[8] != ' ')
		return fail(why, "bad status line", 502);
	minor = parse_version((const char *)s);
	if (minor == -1)
		return fail(why, "bad status line", 502);
	if (minor == -2)
		return fail(why, "unsupported HTTP version in response", 502);
	r->minor = minor;
	if (s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9')
		return fail(why, "bad status code", 502);
	r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (len > 12) {
		if (s[12] != ' ')
			return fail(why, "bad status code", 502);
		for (size_t i = 13; i < len; i++)
			if (!is_value_char(s[i]))
				return fail(why, "control character in reason phrase", 502);
		r->reason = span(start + 13, len - 13);
	} else {
		r->reason = span(start + len, 0);
	}

	if (parse_fields(buf, head_len, pos, r->headers, &r->n_headers, &f, why) != 0)
		return 502;
	if (!check_framing(buf, r->headers, &f, minor, &r->content_length, why))
		return 502;
	r->keep_alive = minor == 1 ? !f.close : (f.keep_alive && !f.close);

	/* RFC 9112 6.3: the order in which the length of a response is decided */
	if (r->status == 101) {
		if (f.n_upgrade == 0)
			return fail(why, "101 without Upgrade", 502);
		r->upgrade = true;
	} else if (head_request || r->status < 200 || r->status == 204 || r->status == 304) {
		/* no body whatever the fields say */
	} else if (f.n_te == 1) {
		r->framing = HTTP1_BODY_CHUNKED;
	} else if (f.n_length == 1) {
		if (r->content_length > 0)
			r->framing = HTTP1_BODY_LENGTH;
	} else {
		r->framing = HTTP1_BODY_CLOSE;
		r->keep_alive = false;
	}
	r->head_len = (uint32_t)head_len;
	return 0;
}

/* ---- chunked bodies (RFC 9112 7.1) ---- */

enum {
	CH_SIZE_FIRST,     /* the first hex digit of a chunk size */
	CH_SIZE,           /* more digits, ';' or CR */
	CH_EXT_NAME_FIRST, /* after ';' */
	CH_EXT_NAME,
	CH_EXT_VALUE_FIRST, /* after '=' */
	CH_EXT_TOKEN,
	CH_EXT_QUOTED,
	CH_EXT_ESCAPE,     /* after '\' in a quoted string */
	CH_EXT_AFTER_QUOTE,
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER_FIRST,  /* the first byte of a trailer line, or CR of the end */
	CH_TRAILER_NAME,
	CH_TRAILER_VALUE,
	CH_TRAILER_LF,
	CH_END_LF,
	CH_DONE,
	CH_ERROR,
};

void
http1_chunked_init(struct http1_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE_FIRST;
}

static int
chunk_error(struct http1_chunked *c, size_t at, size_t *used, const char *reason,
            const char **why)
{
	c->state = CH_ERROR;
	c->why = reason;
	*used = at;
	*why = reason;
	return -1;
}

/* After the chunk size or an extension: another extension or the CR. */
static int
ext_next(unsigned char ch)
{
	if (ch == ';')
		return CH_EXT_NAME_FIRST;
	if (ch == '\r')
		return CH_SIZE_LF;
	return -1;
}

int
http1_chunked_feed(struct http1_chunked *c, const char *buf, size_t len, size_t *used,
                   const char **why)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0;

	while (i < len) {
		unsigned char ch = s[i];
		int next, d;

		switch (c->state) {
		case CH_DATA: {
			uint64_t n = len - i;
			if (n > c->remaining)
				n = c->remaining;
			i += (size_t)n;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		case CH_SIZE_FIRST:
			/* 1*HEXDIG: no sign, no "0x", no whitespace */
			if ((d = hex_value(ch)) < 0)
				return chunk_error(c, i, used, "bad chunk size", why);
			c->remaining = (uint64_t)d;
			c->digits = 1;
			c->ext_len = 0;
			c->state = CH_SIZE;
			break;
		case CH_SIZE:
			if ((d = hex_value(ch)) >= 0) {
				if (++c->digits > HTTP1_CHUNK_DIGITS_MAX)
					return chunk_error(c, i, used, "chunk size too long", why);
				c->remaining = c->remaining * 16 + (uint64_t)d;
				break;
			}
			/* no BWS before ';' either: stricter than RFC 9112 7.1.1 */
			if ((next = ext_next(ch)) < 0)
				return chunk_error(c, i, used, "bad character after chunk size", why);
			c->state = next;
			c->ext_len = next == CH_EXT_NAME_FIRST; /* the ';' counts */
			break;
		case CH_EXT_NAME_FIRST:
		case CH_EXT_NAME:
		case CH_EXT_VALUE_FIRST:
		case CH_EXT_TOKEN:
		case CH_EXT_QUOTED:
		case CH_EXT_ESCAPE:
		case CH_EXT_AFTER_QUOTE:
			if (ch == '\r' && c->state != CH_EXT_QUOTED && c->state != CH_EXT_ESCAPE) {
				if (c->state == CH_EXT_NAME_FIRST || c->state == CH_EXT_VALUE_FIRST)
					return chunk_error(c, i, used, "bad chunk extension", why);
				c->state = CH_SIZE_LF;
				break;
			}
			/* counts from the first ';' to the CR */
			if (++c->ext_len > HTTP1_CHUNK_EXT_MAX)
				return chunk_error(c, i, used, "chunk extension too long", why);
			switch (c->state) {
			case CH_EXT_NAME_FIRST:
				next = is_tchar(ch) ? CH_EXT_NAME : -1;
				break;
			case CH_EXT_NAME:
				next = is_tchar(ch) ? CH_EXT_NAME : ch == '=' ? CH_EXT_VALUE_FIRST
				                                                : ext_next(ch);
				break;
			case CH_EXT_VALUE_FIRST:
				next = ch == '"' ? CH_EXT_QUOTED : is_tchar(ch) ? CH_EXT_TOKEN : -1;
				break;
			case CH_EXT_TOKEN:
				next = is_tchar(ch) ? CH_EXT_TOKEN : ext_next(ch);
				break;
			case CH_EXT_QUOTED:
				next = ch == '"' ? CH_EXT_AFTER_QUOTE : ch == '\\' ? CH_EXT_ESCAPE
				     : is_qdtext(ch) ? CH_EXT_QUOTED : -1;
				break;
			case CH_EXT_ESCAPE:
				next = ch == '\t' || ch == ' ' || (ch >= 0x21 && ch != 0x7f)
				     ? CH_EXT_QUOTED : -1;
				break;
			default: /* CH_EXT_AFTER_QUOTE */
				next = ext_next(ch);
				break;
			}
			if (next < 0)
				return chunk_error(c, i, used, "bad chunk extension", why);
			c->state = next;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				return chunk_error(c, i, used, "chunk size line not ended by CRLF", why);
			c->state = c->remaining > 0 ? CH_DATA : CH_TRAILER_FIRST;
			c->trailer_len = 0;
			break;
		case CH_DATA_CR:
			if (ch != '\r')
				return chunk_error(c, i, used, "chunk data not followed by CRLF", why);
			c->state = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				return chunk_error(c, i, used, "chunk data not followed by CRLF", why);
			c->state = CH_SIZE_FIRST;
			break;
		case CH_TRAILER_FIRST:
		case CH_TRAILER_NAME:
		case CH_TRAILER_VALUE:
		case CH_TRAILER_LF:
		case CH_END_LF:
			if (++c->trailer_len > HTTP1_TRAILER_MAX)
				return chunk_error(c, i, used, "trailer section too large", why);
			switch (c->state) {
			case CH_TRAILER_FIRST:
				if (ch == '\r')
					c->state = CH_END_LF;
				else if (is_tchar(ch))
					c->state = CH_TRAILER_NAME;
				else
					return chunk_error(c, i, used,
					                   is_ows(ch) ? "obs-fold in trailer"
					                   : ch == ':' ? "empty trailer name"
					                   : "bad character in trailer name", why);
				break;
			case CH_TRAILER_NAME:
				if (ch == ':')
					c->state = CH_TRAILER_VALUE;
				else if (!is_tchar(ch))
					return chunk_error(c, i, used,
					                   is_ows(ch) ? "whitespace before colon in trailer"
					                   : "bad character in trailer name", why);
				break;
			case CH_TRAILER_VALUE:
				if (ch == '\r')
					c->state = CH_TRAILER_LF;
				else if (!is_value_char(ch))
					return chunk_error(c, i, used, "control character in trailer", why);
				break;
			case CH_TRAILER_LF:
				if (ch != '\n')
					return chunk_error(c, i, used, "CR not followed by LF in trailer", why);
				c->state = CH_TRAILER_FIRST;
				break;
			default: /* CH_END_LF */
				if (ch != '\n')
					return chunk_error(c, i, used, "CR not followed by LF after trailers", why);
				c->state = CH_DONE;
				*used = i + 1;
				return 1;
			}
			break;
		case CH_DONE:
			*used = i;
			return 1;
		default: /* CH_ERROR */
			*used = i;
			*why = c->why;
			return -1;
		}
		i++;
	}
	*used = i;
	if (c->state == CH_DONE)
		return 1;
	if (c->state == CH_ERROR) {
		*why = c->why;
		return -1;
	}
	return 0;
}

int
http1_chunked_decode(struct http1_chunked *c, char *buf, size_t len, size_t *used, size_t *out,
                     const char **why)
{
	size_t i = 0, o = 0, u;
	int r = 0;

	while (i < len && r == 0) {
		if (c->state == CH_DATA) {
			/* data moves down over the framing already read: o <= i */
			size_t n = len - i < c->remaining ? len - i : (size_t)c->remaining;
			memmove(buf + o, buf + i, n);
			o += n;
			i += n;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		/* Framing bytes one at a time: they are few next to the data. */
		r = http1_chunked_feed(c, buf + i, 1, &u, why);
		i += u;
	}
	if (r == 0 && c->state == CH_DONE)
		r = 1;
	*used = i;
	*out = o;
	return r;
}
