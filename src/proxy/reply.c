/* gbca serve's own answers: errors in Google's JSON envelope (the request is
 * abandoned and the connection closes after it), and CORS preflights. */
#include "config.h"
#include <gbca/worker.h>

#include <stdio.h>
#include <string.h>

static const char *
status_name(int code)
{
	switch (code) {
	case 400: return "INVALID_ARGUMENT";
	case 404: return "NOT_FOUND";
	case 431: return "INVALID_ARGUMENT";
	case 501: return "UNIMPLEMENTED";
	case 502: return "UNAVAILABLE";
	case 503: return "UNAVAILABLE";
	case 504: return "DEADLINE_EXCEEDED";
	case 505: return "INVALID_ARGUMENT";
	case 508: return "FAILED_PRECONDITION";
	default: return "UNKNOWN";
	}
}

static const char *
reply_reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 508: return "Loop Detected";
	default: return "Error";
	}
}

/* Queues an error response and closes after it; the request is abandoned. */
void
reply_error(struct conn *c, int code, const char *message)
{
	struct worker *w = c->w;
	char body[1024];
	int n;

	if (c->sstate == S_BODY || (c->chead.data && buf_len(&c->chead) > 0) || c->error_reply) {
		/* Part of a response already went out: all we can do is break it. */
		c->status = c->status ? c->status : code;
		conn_close(c);
		return;
	}
	n = snprintf(body, sizeof(body), "{\"error\":{\"code\":%d,\"message\":\"%s\",\"status\":\"%s\"}}\n", code,
	             message, status_name(code));
	if (!buf_take(w, &c->chead)) {
		conn_close(c);
		return;
	}
	c->chead.start = c->chead.end = 0;
	if (!buf_printf(&c->chead,
	                "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=UTF-8\r\n"
	                "Content-Length: %d\r\nConnection: close\r\n%s%s%s\r\n%s",
	                code, reply_reason(code), n, w->cfg->cors[0] ? "Access-Control-Allow-Origin: " : "",
	                w->cfg->cors, w->cfg->cors[0] ? "\r\n" : "", body)) {
		conn_close(c);
		return;
	}
	c->status = code;
	c->error_reply = true;
	c->close_after = true;
	c->rstate = R_CLOSING;
	c->sstate = S_IDLE;
	framer_init(&c->sf, F_NONE, 0);
	if (c->up) {
		/* The upstream may be mid-request: it can't be reused. */
		up_free(w, c->up);
		c->up = NULL;
	}
}

/* Answers a CORS preflight (204). Its body (browsers send none) is not read:
 * the connection closes after the answer instead, so the body's bytes are
 * never taken for the next request. */
bool
cors_preflight(struct conn *c, const char *buf, const struct http1_request *r)
{
	struct worker *w = c->w;
	const struct http1_header *acrh;
	int i;

	if (!w->cfg->cors[0] || !span_eq_cs(buf, r->method, "OPTIONS") ||
	    http1_find_header(buf, r->headers, r->n_headers, "access-control-request-method", 0) < 0)
		return false;
	i = http1_find_header(buf, r->headers, r->n_headers, "access-control-request-headers", 0);
	acrh = i >= 0 ? &r->headers[i] : NULL;
	if (!buf_take(w, &c->chead))
		return false;
	if (r->framing != HTTP1_BODY_NONE)
		c->close_after = true;
	buf_printf(&c->chead,
	           "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: %s\r\n"
	           "Access-Control-Allow-Methods: GET, POST, PUT, PATCH, DELETE, OPTIONS\r\n"
	           "Access-Control-Allow-Headers: %.*s\r\nAccess-Control-Max-Age: 86400\r\n"
	           "Vary: Origin\r\nContent-Length: 0\r\n%s\r\n",
	           w->cfg->cors,
	           acrh ? (int)acrh->value.len : (int)strlen("content-type, x-goog-api-key, authorization"),
	           acrh ? buf + acrh->value.off : "content-type, x-goog-api-key, authorization",
	           c->close_after ? "Connection: close\r\n" : "");
	c->status = 204;
	return true;
}
