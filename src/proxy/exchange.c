/* One request/response exchange of gbca serve: judging and rewriting the
 * request head, framing both bodies, rewriting the response head, and what
 * is left when the exchange is over (logged, pooled, or closed). */
#include "config.h"
#include <gbca/headers.h>
#include <gbca/worker.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void
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
bool
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

void
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

/* dst = the span, cut to fit, NUL-terminated (for the access log). */
static void
copy_span(char *dst, size_t size, const char *buf, struct http1_span s)
{
	size_t n = s.len < size - 1 ? s.len : size - 1;

	memcpy(dst, buf + s.off, n);
	dst[n] = '\0';
}

bool
span_eq_cs(const char *buf, struct http1_span s, const char *lit)
{
	return strlen(lit) == s.len && memcmp(buf + s.off, lit, s.len) == 0;
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
	const struct gbca_proxy_config *cfg = c->w->cfg;
	struct buf *o = &c->uhead;
	bool own_host = !c->google && cfg->upstream_tls;
	bool ok;

	if (!buf_take(c->w, o))
		return false;
	o->start = o->end = 0;
	ok = buf_append(o, buf + r->method.off, r->method.len) && buf_append(o, " ", 1);
	/* --upstream's path: before every origin-form path (not "*") */
	if (ok && !c->google && cfg->upstream_prefix[0] && (r->absolute || (r->target.len && buf[r->target.off] == '/')))
		ok = buf_append(o, cfg->upstream_prefix, strlen(cfg->upstream_prefix));
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
		if (f->kind[i] == FK_HOST && own_host)
			continue;
		ok = buf_append(o, buf + h->name.off, h->name.len) && buf_append(o, ": ", 2) &&
		     buf_append(o, buf + h->value.off, h->value.len) && buf_append(o, "\r\n", 2);
	}
	if (ok && (r->host < 0 || own_host)) {
		/* HTTP/1.0 without Host: we forward HTTP/1.1, which must carry one;
		 * the upstream's own authority (what --upstream says) is the honest
		 * one. An https upstream always gets it: a remote virtual host
		 * serves its own name, not Google's. */
		const char *a = c->google ? GBCA_GOOGLE_HOST : cfg->upstream_authority;
		ok = buf_lit(o, "Host: ") && buf_append(o, a, strlen(a)) && buf_lit(o, "\r\n");
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
void
process_request_head(struct conn *c, uint32_t head_len)
{
	struct worker *w = c->w;
	const char *buf = c->in.data + c->in.start;
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
	if (f.tok.overflow) {
		reply_error(c, 400, "more Connection options than gbca keeps track of (16)");
		return;
	}
	c->head_request = span_eq_cs(buf, r.method, "HEAD");
	c->upgrade_request = r.upgrade;
	c->close_after = !r.keep_alive || w->draining;
	c->http10 = r.minor == 0;

	/* A real Google key must never reach Gemini Balance: this request came
	 * from a same-host client (Gemini Balance itself) through the hosts entry. */
	real_key = headers_request_has_api_key(buf, &r, &f);
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
		c->up = up_pool_get(w);
		if (c->up == NULL)
			c->up = up_connect(w);
	}
	if (c->up == NULL) {
		up_fail(c, "couldn't connect: %s", strerror(errno));
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

static bool
rewrite_response(struct conn *c, const char *buf, const struct http1_response *r,
                 const struct headers_fields *f, bool upgrade)
{
	const struct gbca_proxy_config *cfg = c->w->cfg;
	struct buf *o = &c->chead;
	/* the parser allows three digits only */
	char status[5] = { ' ', (char)('0' + r->status / 100), (char)('0' + r->status / 10 % 10),
	                   (char)('0' + r->status % 10), ' ' };
	bool ok;

	if (!buf_take(c->w, o))
		return false;
	o->start = o->end = 0;
	ok = buf_lit(o, "HTTP/1.1") && buf_append(o, status, sizeof(status)) &&
	     buf_append(o, buf + r->reason.off, r->reason.len) && buf_lit(o, "\r\n");
	for (size_t i = 0; ok && i < r->n_headers; i++) {
		const struct http1_header *h = &r->headers[i];
		const char *v = buf + h->value.off;
		size_t vl = h->value.len;
		enum headers_kind k = (enum headers_kind)f->kind[i];

		if (headers_drop_response(buf, h, k, &f->tok, upgrade))
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
		/* A URL that names the upstream goes back as Google's, so that the
		 * client's next request (a resumable upload's chunks) comes here. */
		if (!c->google && (k == FK_UPLOAD_URL || k == FK_LOCATION || k == FK_CONTENT_LOCATION)) {
			char url[HEADERS_URL_MAX], plain[sizeof(cfg->upstream_authority) + 8];
			size_t ul = headers_rewrite_url(v, vl, cfg->upstream_origin, cfg->upstream_tls ? "443" : "80",
			                                cfg->upstream_prefix, "https://" GBCA_GOOGLE_HOST, url, sizeof(url));
			if (ul == 0 && cfg->upstream_tls && vl > 7 && strncasecmp(v, "http://", 7) == 0) {
				/* A balancer behind a TLS terminator that does not pass the
				 * scheme on builds http:// URLs of its own name. */
				snprintf(plain, sizeof(plain), "http://%s", cfg->upstream_authority);
				ul = headers_rewrite_url(v, vl, plain, "80", cfg->upstream_prefix, "https://" GBCA_GOOGLE_HOST,
				                         url, sizeof(url));
			}
			if (ul > 0) {
				ok = buf_append(o, buf + h->name.off, h->name.len) && buf_append(o, ": ", 2) &&
				     buf_append(o, url, ul) && buf_append(o, "\r\n", 2);
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

void
process_response_head(struct conn *c, uint32_t head_len)
{
	const char *buf = c->resp.data + c->resp.start;
	struct http1_response r;
	struct headers_fields f;
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
	headers_classify(buf, r.headers, r.n_headers, &f);
	if (f.tok.overflow) {
		reply_error(c, 502, "the upstream's response has more Connection options than gbca keeps track of");
		return;
	}
	if (!rewrite_response(c, buf, &r, &f, upgrade)) {
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
void
finish_exchange(struct conn *c)
{
	struct worker *w = c->w;
	bool leftover = c->resp.data && buf_len(&c->resp) > 0;

	access_log(c);
	if (leftover)
		c->resp.start = c->resp.end = 0;
	if (c->up) {
		if (!leftover && !c->close_after && c->rf.done && c->sf.done && !c->up_eof && c->sf.kind != F_CLOSE &&
		    !c->up->google)
			up_pool_put(w, c->up);
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
