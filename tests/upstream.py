#!/usr/bin/python3
# A test upstream standing in for Gemini Balance behind `gbca serve`: raw
# sockets and a thread per connection, HTTP/1.1 with keep-alive, and one JSON
# line per request in the record file so that tests can see exactly what the
# proxy forwarded (target, headers in order, body hash, connection reuse).
#
#   python3 tests/upstream.py --port 8000 --record FILE [--host 127.0.0.1]
#       [--tls-cert FILE --tls-key FILE] [--prefix /PREFIX]
#       prints "ready" once listening; SIGTERM or SIGINT stops it. With
#       --tls-cert it speaks TLS (a remote Gemini Balance behind HTTPS) and
#       records the SNI, TLS version and whether the session was resumed;
#       with --prefix it serves the routes below under /PREFIX only (it
#       records the target as sent) and names itself with it in URLs.
#   python3 tests/upstream.py --emit BYTES SEED
#       writes the /download?bytes=BYTES&seed=SEED body to stdout (to hash it).
#
# Routes (query parameters as shown):
#   POST /v1beta/models/M:generateContent      200 JSON; 401 without x-goog-api-key or ?key=
#   /v1beta/models/M:streamGenerateContent?n=5&interval=200
#                                              SSE, chunked, n events flushed interval ms apart
#   /echo                                      200 JSON of what was received
#   /upload, /upload/v1beta/files              200 JSON {"sha256","length"} of the body
#   /download?bytes=N&seed=S&chunked=0|1       N bytes of shake256("S:k") blocks; HEAD too
#   /hang                                      never answers (15 minutes at most)
#   /slowhead?ms=M                             200 after M ms
#   /reset                                     RST right after reading the request
#   /die?after=B&chunked=0|1&fin=0|1           head for 1000000 bytes, B of them, then RST (FIN if fin=1)
#   /ws (Upgrade: websocket)                   101 with a correct Sec-WebSocket-Accept, then raw echo
#   /upload-url                                X-Goog-Upload-URL built from Host, like Gemini Balance
#   POST /upload/v1beta/files with X-Goog-Upload-Command: start
#                                              200, X-Goog-Upload-URL built from scheme, Host and
#                                              prefix (the resumable upload's first step)
#   /redirect?scheme=S&host=H                  302 with Location and Content-Location built the same way
#                                              (with scheme S and host H if given, as a balancer behind a TLS
#                                              terminator that does not pass the scheme on would)
#   /status?code=C                             status C with a small JSON body
#   /idleclose?ms=M                            200 JSON, then the connection closes (FIN)
#                                              after M ms without a request (a keep-alive timeout)
# Anything malformed gets 400 and a record line with "error" set.

import argparse
import base64
import hashlib
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse

RECV_SIZE = 1 << 20
MAX_HEAD = 1 << 20
BLOCK = 1 << 16
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC11B27"
OK_BODY = b'{"candidates":[{"content":{"parts":[{"text":"hello from upstream"}],"role":"model"}}]}'
REASONS = {
    100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created", 204: "No Content",
    301: "Moved Permanently", 302: "Found", 304: "Not Modified", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 413: "Payload Too Large", 426: "Upgrade Required",
    429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}
GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
GENERATE = re.compile(r"^/v1beta/models/([^/:]+):generateContent$")
STREAM = re.compile(r"^/v1beta/models/([^/:]+):streamGenerateContent$")


class BadRequest(Exception):
    pass


class Closed(Exception):
    pass


def download_blocks(total, seed):
    """The /download body as a generator of blocks: shake256("SEED:k") for k = 0, 1, ..."""
    k = 0
    while total > 0:
        n = min(BLOCK, total)
        yield hashlib.shake_256(b"%s:%d" % (seed.encode(), k)).digest(n)
        total -= n
        k += 1


class Recorder:
    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, entry):
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with self.lock:
            self.f.write(line)
            self.f.flush()


class Conn:
    """One client connection: a read buffer over the socket and the request loop."""

    counter = 0
    counter_lock = threading.Lock()

    tls = None       # an ssl.SSLContext with --tls-cert
    prefix = ""      # --prefix

    def __init__(self, sock, addr, recorder):
        self.sock = sock
        self.addr = addr
        self.tls_info = {}
        self.rec = recorder
        self.buf = bytearray()
        self.seq = 0
        with Conn.counter_lock:
            Conn.counter += 1
            self.id = Conn.counter

    # -- reading -----------------------------------------------------------
    def fill(self):
        data = self.sock.recv(RECV_SIZE)
        if not data:
            raise Closed()
        self.buf += data

    def read_head(self):
        """Bytes up to and including the blank line; None on a clean close before any byte."""
        start = 0
        while True:
            i = self.buf.find(b"\r\n\r\n", start)
            if i >= 0:
                head = bytes(self.buf[: i + 4])
                del self.buf[: i + 4]
                return head
            if len(self.buf) > MAX_HEAD:
                raise BadRequest("head too large")
            start = max(0, len(self.buf) - 3)
            try:
                self.fill()
            except Closed:
                if self.buf:
                    raise BadRequest("connection closed inside the head")
                return None

    def read_line(self, limit=4096):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[: i + 2]
                return line
            if len(self.buf) > limit:
                raise BadRequest("line too long")
            self.fill()

    def read_into_hash(self, n, h):
        """Consume exactly n body bytes into hash h without keeping them."""
        if self.buf:
            take = min(n, len(self.buf))
            h.update(self.buf[:take])
            del self.buf[:take]
            n -= take
        if n == 0:
            return
        scratch = bytearray(RECV_SIZE)
        view = memoryview(scratch)
        while n > 0:
            got = self.sock.recv_into(view, min(n, RECV_SIZE))
            if got == 0:
                raise Closed()
            h.update(view[:got])
            n -= got

    def read_body(self, req):
        h = hashlib.sha256()
        te = req["te"]
        if te is not None:
            if te.lower() != "chunked":
                raise BadRequest("unsupported transfer-encoding %r" % te)
            length = 0
            while True:
                line = self.read_line()
                size = line.split(b";", 1)[0].strip()
                if not re.fullmatch(rb"[0-9a-fA-F]{1,16}", size):
                    raise BadRequest("bad chunk size %r" % line)
                n = int(size, 16)
                if n == 0:
                    break
                self.read_into_hash(n, h)
                length += n
                if self.read_line() != b"":
                    raise BadRequest("chunk not followed by CRLF")
            trailers = []
            while True:
                line = self.read_line()
                if line == b"":
                    break
                trailers.append(line.decode("latin-1"))
            req["trailers"] = trailers
            req["framing"] = "chunked"
        elif req["cl"] is not None:
            length = req["cl"]
            self.read_into_hash(length, h)
            req["framing"] = "length"
        else:
            length = 0
            req["framing"] = "none"
        req["body_length"] = length
        req["body_sha256"] = h.hexdigest()

    # -- writing -----------------------------------------------------------
    def send(self, data):
        self.sock.sendall(data)

    def respond(self, req, status, body=b"", ctype="application/json", headers=(), length=None):
        reason = REASONS.get(status, "Status")
        lines = ["HTTP/1.1 %d %s" % (status, reason), "Server: gbca-test-upstream"]
        if ctype and status not in (204, 304):
            lines.append("Content-Type: " + ctype)
        lines += ["%s: %s" % hv for hv in headers]
        if status not in (204, 304) and not 100 <= status < 200:
            lines.append("Content-Length: %d" % (len(body) if length is None else length))
        if not req["keep_alive"]:
            lines.append("Connection: close")
        out = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if req["method"] != "HEAD" and status not in (204, 304):
            out += body
        self.send(out)

    def json(self, req, status, obj, headers=()):
        self.respond(req, status, json.dumps(obj, separators=(",", ":")).encode(), headers=headers)

    def google_error(self, req, status, message):
        self.json(req, status, {"error": {"code": status, "message": message,
                                          "status": GOOGLE_STATUS.get(status, "UNKNOWN")}})

    def reset(self):
        """Close with RST: SO_LINGER on with a zero timeout."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
        raise Closed()

    # -- the request loop ----------------------------------------------------
    def parse_head(self, head):
        lines = head[:-4].split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            raise BadRequest("bad request line %r" % lines[0])
        method, target, version = (p.decode("latin-1") for p in parts)
        headers = []
        for line in lines[1:]:
            if b":" not in line or line[:1] in (b" ", b"\t"):
                raise BadRequest("bad header line %r" % line)
            name, value = line.split(b":", 1)
            if not re.fullmatch(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
                raise BadRequest("bad header name %r" % name)
            if re.search(rb"[\x00\r\n]", value):
                raise BadRequest("bad header value %r" % value)
            headers.append([name.decode("latin-1"), value.strip(b" \t").decode("latin-1")])
        req = {"method": method, "target": target, "version": version, "headers": headers}
        cls = [v for n, v in headers if n.lower() == "content-length"]
        tes = [v for n, v in headers if n.lower() == "transfer-encoding"]
        if tes and cls:
            raise BadRequest("both Content-Length and Transfer-Encoding")
        if len(cls) > 1 or len(tes) > 1:
            raise BadRequest("repeated Content-Length or Transfer-Encoding")
        if cls and not cls[0].isdigit():
            raise BadRequest("bad Content-Length %r" % cls[0])
        req["cl"] = int(cls[0]) if cls else None
        req["te"] = tes[0] if tes else None
        conn_tokens = {t.strip().lower() for n, v in headers if n.lower() == "connection"
                       for t in v.split(",")}
        if version == "HTTP/1.1":
            req["keep_alive"] = "close" not in conn_tokens
        else:
            req["keep_alive"] = "keep-alive" in conn_tokens
        req["upgrade"] = "upgrade" in conn_tokens
        path, _, query = target.partition("?")
        if Conn.prefix:
            # Only what comes under the prefix is ours (a reverse proxy's path).
            path = path[len(Conn.prefix):] if path.startswith(Conn.prefix + "/") else "/not-under-prefix" + path
        req["path"] = path
        req["query"] = urllib.parse.parse_qs(query, keep_blank_values=True)
        return req

    def header(self, req, name):
        name = name.lower()
        for n, v in req["headers"]:
            if n.lower() == name:
                return v
        return None

    def record(self, req, head, error=None):
        self.seq += 1
        entry = {"time": time.time(), "conn": self.id, "seq": self.seq,
                 "client": list(self.addr[:2])}
        entry.update(self.tls_info)
        if req:
            for k in ("method", "target", "version", "headers", "body_length", "body_sha256",
                      "framing", "trailers"):
                if k in req:
                    entry[k] = req[k]
        if error:
            entry["error"] = error
        entry["head"] = head.decode("latin-1") if head else ""
        self.rec.write(entry)

    def run(self):
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if Conn.tls:
                self.sock.settimeout(10)
                self.sock = Conn.tls.wrap_socket(self.sock, server_side=True)
                self.sock.settimeout(None)
                self.tls_info = {"sni": getattr(self.sock, "gbca_sni", None),
                                 "tls_version": self.sock.version(),
                                 "tls_resumed": self.sock.session_reused}
            while True:
                head = None
                req = None
                try:
                    head = self.read_head()
                    if head is None:
                        return
                    req = self.parse_head(head)
                    if (self.header(req, "expect") or "").lower() == "100-continue":
                        self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                    self.read_body(req)
                except BadRequest as e:
                    self.record(req, head or bytes(self.buf[:4096]), error=str(e))
                    body = json.dumps({"error": {"code": 400, "message": str(e),
                                                 "status": "INVALID_ARGUMENT"}}).encode()
                    self.send(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                              b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                    return
                self.record(req, head)
                if not self.dispatch(req):
                    return
                if not req["keep_alive"]:
                    return
        except (Closed, ConnectionError, TimeoutError, OSError):
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass

    def q(self, req, name, default):
        v = req["query"].get(name)
        return v[0] if v else default

    def qint(self, req, name, default):
        try:
            return int(self.q(req, name, default))
        except ValueError:
            return default

    def dispatch(self, req):
        """Answer one request; False when the connection must not be reused."""
        path = req["path"]
        if GENERATE.match(path):
            if req["method"] != "POST":
                self.google_error(req, 405, "use POST")
            elif self.header(req, "x-goog-api-key") is None and "key" not in req["query"]:
                self.google_error(req, 401, "Method doesn't allow unregistered callers "
                                  "(callers without established identity). Please use API Key "
                                  "or other form of API consumer identity to call this API.")
            else:
                self.respond(req, 200, OK_BODY)
            return True
        if STREAM.match(path):
            return self.stream(req)
        if path == "/echo":
            self.json(req, 200, {"method": req["method"], "target": req["target"],
                                 "version": req["version"], "headers": req["headers"],
                                 "body_sha256": req["body_sha256"],
                                 "body_length": req["body_length"],
                                 "client": list(self.addr[:2]), "conn": self.id, "seq": self.seq})
            return True
        if path == "/upload/v1beta/files" and \
                (self.header(req, "x-goog-upload-command") or "").lower() == "start":
            url = self.own_url(req, "/upload/v1beta/files?upload_id=up%d&upload_protocol=resumable" % self.id)
            self.json(req, 200, {}, headers=[("X-Goog-Upload-URL", url), ("X-Goog-Upload-Status", "active")])
            return True
        if path == "/redirect":
            url = self.own_url(req, "/echo?from=redirect")
            self.json(req, 302, {}, headers=[("Location", url), ("Content-Location", url)])
            return True
        if path in ("/upload", "/upload/v1beta/files"):
            self.json(req, 200, {"sha256": req["body_sha256"], "length": req["body_length"]})
            return True
        if path == "/download":
            return self.download(req)
        if path == "/hang":
            self.hang(15 * 60)
            return False
        if path == "/slowhead":
            ms = self.qint(req, "ms", 1000)
            time.sleep(ms / 1000)
            self.json(req, 200, {"slept_ms": ms})
            return True
        if path == "/reset":
            self.reset()
        if path == "/die":
            return self.die(req)
        if path == "/ws":
            return self.websocket(req)
        if path == "/upload-url":
            host = self.header(req, "host") or ""
            url = "http://%s/upload/v1beta/files?upload_id=xyz&upload_protocol=resumable" % host
            self.json(req, 200, {}, headers=[("X-Goog-Upload-URL", url),
                                             ("X-Goog-Upload-Status", "active")])
            return True
        if path == "/idleclose":
            self.json(req, 200, {"conn": self.id})
            self.sock.settimeout(self.qint(req, "ms", 100) / 1000)
            return True
        if path == "/status":
            code = self.qint(req, "code", 200)
            if not 200 <= code <= 999:
                code = 400
            self.json(req, code, {"error": {"code": code, "message": "status %d as asked" % code,
                                            "status": GOOGLE_STATUS.get(code, "UNKNOWN")}})
            return True
        self.google_error(req, 404, "no route for %s" % path)
        return True

    def own_url(self, req, rest):
        """An absolute URL of ours, as a server behind a reverse proxy builds it."""
        scheme = self.q(req, "scheme", "https" if Conn.tls else "http")
        host = self.q(req, "host", self.header(req, "host") or "")
        return "%s://%s%s%s" % (scheme, host, Conn.prefix, rest)

    def stream(self, req):
        n = self.qint(req, "n", 5)
        interval = self.qint(req, "interval", 200) / 1000
        self.send(b"HTTP/1.1 200 OK\r\nServer: gbca-test-upstream\r\n"
                  b"Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                  b"Transfer-Encoding: chunked\r\n" +
                  (b"" if req["keep_alive"] else b"Connection: close\r\n") + b"\r\n")
        for i in range(n):
            if i:
                time.sleep(interval)
            ev = b'data: {"i":%d,"t":%.3f}\n\n' % (i, time.time() * 1000)
            self.send(b"%x\r\n%s\r\n" % (len(ev), ev))
        self.send(b"0\r\n\r\n")
        return True

    def download(self, req):
        total = self.qint(req, "bytes", 0)
        seed = self.q(req, "seed", "0")
        chunked = self.q(req, "chunked", "0") == "1"
        lines = [b"HTTP/1.1 200 OK", b"Server: gbca-test-upstream",
                 b"Content-Type: application/octet-stream"]
        lines.append(b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % total)
        if not req["keep_alive"]:
            lines.append(b"Connection: close")
        self.send(b"\r\n".join(lines) + b"\r\n\r\n")
        if req["method"] == "HEAD":
            return True
        # Send about 1 MiB at a time: fewer syscalls, and the GIL is released while sending.
        pending = []
        size = 0
        for block in download_blocks(total, seed):
            if chunked:
                block = b"%x\r\n%s\r\n" % (len(block), block)
            pending.append(block)
            size += len(block)
            if size >= RECV_SIZE:
                self.send(b"".join(pending))
                pending, size = [], 0
        if chunked:
            pending.append(b"0\r\n\r\n")
        if pending:
            self.send(b"".join(pending))
        return True

    def hang(self, seconds):
        """Keep the socket open, reading and dropping bytes, until the peer closes or time runs out."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                if not self.sock.recv(65536):
                    return
            except (socket.timeout, OSError):
                return

    def die(self, req):
        after = self.qint(req, "after", 100000)
        chunked = self.q(req, "chunked", "0") == "1"
        head = [b"HTTP/1.1 200 OK", b"Server: gbca-test-upstream",
                b"Content-Type: application/octet-stream"]
        head.append(b"Transfer-Encoding: chunked" if chunked else b"Content-Length: 1000000")
        out = b"\r\n".join(head) + b"\r\n\r\n"
        if chunked:
            out += b"%x\r\n" % 1000000  # a chunk announced whole, cut short
        body = b"".join(download_blocks(after, "die"))
        self.send(out + body)
        time.sleep(0.05)  # let the bytes leave before the RST overtakes them
        if self.q(req, "fin", "0") == "1":
            self.sock.shutdown(socket.SHUT_RDWR)
            return False
        self.reset()

    def websocket(self, req):
        key = self.header(req, "sec-websocket-key")
        up = (self.header(req, "upgrade") or "").lower()
        if not req["upgrade"] or up != "websocket" or not key:
            req["keep_alive"] = False
            self.google_error(req, 426, "expected Connection: Upgrade and Upgrade: websocket")
            return False
        accept = base64.b64encode(hashlib.sha1(key.strip().encode() + WS_GUID).digest()).decode()
        self.send(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
        if self.buf:
            self.send(bytes(self.buf))
            self.buf.clear()
        while True:
            data = self.sock.recv(RECV_SIZE)
            if not data:
                break
            self.send(data)
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        return False


def serve(args):
    # Every thread inherits the blocked signals; only sigwait below takes them, so
    # a SIGTERM can't land in a connection thread and leave accept() asleep.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    ls = socket.socket(family, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args.host, args.port))
    ls.listen(1024)
    recorder = Recorder(args.record)
    if args.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)

        def sni(sock, name, _ctx):
            sock.gbca_sni = name
        ctx.sni_callback = sni
        Conn.tls = ctx
    Conn.prefix = args.prefix.rstrip("/")
    threading.stack_size(512 * 1024)

    def accept_loop():
        while True:
            sock, addr = ls.accept()
            conn = Conn(sock, addr, recorder)
            threading.Thread(target=conn.run, daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    with recorder.lock:
        recorder.f.flush()
        os._exit(0)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--emit":
        out = sys.stdout.buffer
        for block in download_blocks(int(sys.argv[2]), sys.argv[3]):
            out.write(block)
        out.flush()
        return
    p = argparse.ArgumentParser(description="test upstream for gbca serve")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--record", required=True)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--prefix", default="")
    args = p.parse_args()
    serve(args)


if __name__ == "__main__":
    main()
