#!/usr/bin/python3
# The desync oracle for `gbca serve` (issue 10): a recording upstream that
# numbers every request it parses and echoes the number (X-Seq), and a driver
# that sends generated and mutated request streams over several client
# connections at once (TLS and plain HTTP), then checks three promises
# without knowing any particular bug:
#   1. every response a client gets answers a request that client sent, in
#      order (an answer numbered by the upstream must be the upstream's answer
#      to this connection's next request; one gbca made itself has no number);
#   2. the upstream never sees a request that the client's bytes, read by a
#      strict RFC 9112 parser (parse_request below), do not contain;
#   3. nothing crosses from one client connection to another.
# Also: gbca sends the upstream valid HTTP/1.1, answers HTTP/1.0 clients
# without chunks or 1xx, and no worker dies. Output is TAP.
#
#   desync.py --gbca PATH --root CA.pem [--seconds S] [--seed N] [--clients K]
#             [--workers W]
# gbca serve is started here (GBCA_CAROOT must name an initialised CAROOT);
# everything listens on 127.0.0.1 (run it in a private network namespace).
# The streams come from tests/fuzz/corpus/http1 and from templates, mutated:
# duplicated fields, Connection options (framing fields and Host included),
# versions, bodies that hold a request, pipelining, early close. The upstream
# misbehaves when a request asks (?up=MODE): 1xx first, bytes after the
# response, bodies on HEAD/204/304, Connection: content-length, a response
# from the corpus.

import argparse
import hashlib
import json
import os
import queue
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

NAME = "generativelanguage.googleapis.com"
HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "fuzz", "corpus", "http1")

# --- a strict RFC 9112 reader -----------------------------------------------

TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
REQUEST_LINE = re.compile(rb"(" + TOKEN + rb") ([\x21-\x7e]+) HTTP/([0-9])\.([0-9])\Z")
STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3}) ([\t\x20-\x7e\x80-\xff]*)\Z")
FIELD_LINE = re.compile(rb"(" + TOKEN + rb"):[ \t]*([\t\x20-\x7e\x80-\xff]*?)[ \t]*\Z")
CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,15})((?:[ \t]*;[ \t]*" + TOKEN +
                        rb"(?:[ \t]*=[ \t]*(?:" + TOKEN + rb"|\"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*\"))?)*)\Z")
BARE = re.compile(rb"(?<!\r)\n|\r(?!\n)")
HEAD_MAX = 64 * 1024
NEED = "need"


class Bad(Exception):
    """The bytes are not a valid message: a strict reader stops here."""


def head_at(buf, pos):
    """(lines, end) of the head starting at pos, NEED, or Bad."""
    end = buf.find(b"\r\n\r\n", pos)
    region = buf[pos:end + 4] if end >= 0 else buf[pos:]
    m = BARE.search(region)
    if m and (end >= 0 or m.start() < len(region) - 1):
        raise Bad("bare CR or LF in the head")
    if end < 0:
        if len(region) > HEAD_MAX:
            raise Bad("head too large")
        return NEED
    if end + 4 - pos > HEAD_MAX:
        raise Bad("head too large")
    return buf[pos:end].split(b"\r\n"), end + 4


def fields(lines):
    out = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            raise Bad("obs-fold")
        m = FIELD_LINE.match(line)
        if not m:
            raise Bad("bad field line %r" % line[:60])
        out.append((m.group(1).lower(), m.group(2)))
    if len(out) > 100:
        raise Bad("too many fields")
    return out


def values(hs, name):
    return [v for n, v in hs if n == name]


def tokens(hs, name):
    return {t.strip().lower() for v in values(hs, name) for t in v.split(b",") if t.strip()}


def chunked_at(buf, pos):
    """(decoded body, end) of a chunked body at pos, NEED, or Bad."""
    data, trailer = [], 0
    while True:
        i = buf.find(b"\r\n", pos)
        if i < 0:
            if b"\n" in buf[pos:] or len(buf) - pos > 300:
                raise Bad("bad chunk line")
            return NEED
        m = CHUNK_LINE.match(buf[pos:i])
        if not m or len(m.group(2)) > 256:
            raise Bad("bad chunk line %r" % buf[pos:i][:40])
        n = int(m.group(1), 16)
        pos = i + 2
        if n == 0:
            break
        if len(buf) < pos + n + 2:
            return NEED
        data.append(buf[pos:pos + n])
        if buf[pos + n:pos + n + 2] != b"\r\n":
            raise Bad("chunk data not followed by CRLF")
        pos += n + 2
    while True:
        i = buf.find(b"\r\n", pos)
        if i < 0:
            if b"\n" in buf[pos:] or b"\r" in buf[pos:-1]:
                raise Bad("bare LF in trailers")
            return NEED
        line = buf[pos:i]
        trailer += i + 2 - pos
        if trailer > 8 * 1024 or BARE.search(line):
            raise Bad("bad trailer section")
        pos = i + 2
        if line == b"":
            return b"".join(data), pos
        fields([line])


class Message:
    """A request or a response as a strict reader saw it."""
    def __init__(self, **kw):
        self.__dict__.update(kw)


def origin(target):
    """The target as a gateway forwards it: origin-form (absolute-form rewritten)."""
    m = re.match(rb"(?i)https?://([^/?]*)(.*)\Z", target)
    if not m:
        return target
    rest = m.group(2)
    if rest.startswith(b"?"):
        return b"/" + rest if len(rest) > 1 else b"/"
    return rest or b"/"


def parse_request(buf, pos):
    """The request at pos: a Message, NEED, or Bad (RFC 9112, read strictly).
    A request whose body has not all arrived yet has complete False."""
    h = head_at(buf, pos)
    if h is NEED:
        return NEED
    lines, body = h
    m = REQUEST_LINE.match(lines[0])
    if not m:
        raise Bad("bad request line %r" % lines[0][:80])
    method, target = m.group(1), m.group(2)
    if (m.group(3), m.group(4)) not in ((b"1", b"0"), (b"1", b"1")):
        raise Bad("version")
    minor = int(m.group(4))
    if method == b"CONNECT" or b"#" in target:
        raise Bad("CONNECT or a fragment")
    if not (target.startswith(b"/") or re.match(rb"(?i)https?://[^/?@]+", target) or
            (target == b"*" and method == b"OPTIONS")):
        raise Bad("target form")
    hs = fields(lines[1:])
    hosts, cls, tes = values(hs, b"host"), values(hs, b"content-length"), values(hs, b"transfer-encoding")
    if len(hosts) > 1 or (minor == 1 and not hosts):
        raise Bad("Host")
    if cls and tes:
        raise Bad("Content-Length and Transfer-Encoding")
    if len(cls) > 1 or len(tes) > 1:
        raise Bad("repeated framing field")
    if cls and not re.fullmatch(rb"[0-9]{1,18}", cls[0]):
        raise Bad("bad Content-Length")
    if tes and (tes[0].lower() != b"chunked" or minor == 0):
        raise Bad("Transfer-Encoding")
    if any(v.lower() != b"100-continue" for v in values(hs, b"expect")):
        raise Bad("Expect")
    conn = tokens(hs, b"connection")
    keep = (b"close" not in conn) if minor == 1 else (b"keep-alive" in conn and b"close" not in conn)
    upgrade = minor == 1 and b"upgrade" in conn and bool(values(hs, b"upgrade"))
    r = Message(method=method, target=target, origin=origin(target), minor=minor,
                keep=keep and not upgrade, start=pos, headers=hs, complete=False)
    if tes:
        c = chunked_at(buf, body)
        if c is NEED:
            return r
        data, r.end = c
    else:
        n = int(cls[0]) if cls else 0
        if len(buf) < body + n:
            return r
        data, r.end = buf[body:body + n], body + n
    r.body_sha, r.complete = hashlib.sha256(data).hexdigest(), True
    return r


def read_requests(buf):
    """The requests a strict server reads from a connection's bytes, and why it
    stopped; a last request whose head came whole but not its body is in the
    list too, with complete False (a server may answer it before the body)."""
    reqs, pos = [], 0
    while pos < len(buf):
        try:
            r = parse_request(buf, pos)
        except Bad as e:
            return reqs, "bad: %s" % e
        if r is NEED:
            return reqs, "incomplete"
        if not r.complete:
            reqs.append(r)
            return reqs, "incomplete body"
        reqs.append(r)
        pos = r.end
        if not r.keep:
            return reqs, "close"
    return reqs, "end"


def parse_response(buf, pos, method, eof):
    """The response at pos to a request with this method: a Message, NEED, or Bad."""
    h = head_at(buf, pos)
    if h is NEED:
        return NEED
    lines, body = h
    m = STATUS_LINE.match(lines[0])
    if not m:
        raise Bad("bad status line %r" % lines[0][:80])
    status = int(m.group(2))
    hs = fields(lines[1:])
    cls, tes = values(hs, b"content-length"), values(hs, b"transfer-encoding")
    seq = values(hs, b"x-seq")
    r = Message(status=status, headers=hs, seq=seq, chunked=bool(tes), start=pos, body=b"",
                 interim=100 <= status < 200)
    if cls and tes:
        raise Bad("Content-Length and Transfer-Encoding in a response")
    if len(cls) > 1 or len(tes) > 1 or (cls and not re.fullmatch(rb"[0-9]{1,18}", cls[0])):
        raise Bad("bad framing fields in a response")
    if method == b"HEAD" or status in (204, 304) or r.interim:
        r.end = body
        return r
    if tes:
        if tes[0].lower() != b"chunked":
            raise Bad("Transfer-Encoding %r" % tes[0])
        c = chunked_at(buf, body)
        if c is NEED:
            return NEED
        r.body, r.end = c
    elif cls:
        n = int(cls[0])
        if len(buf) < body + n:
            return NEED
        r.body, r.end = buf[body:body + n], body + n
    else:
        if not eof:
            return NEED
        r.body, r.end = buf[body:], len(buf)
    return r


def read_responses(buf, methods, eof):
    """The responses in buf, given the methods of the requests in order: a list
    of (index, Message), and an error (or None) where the reading stopped."""
    out, pos, i = [], 0, 0
    while pos < len(buf):
        method = methods[i] if i < len(methods) else b"GET"
        try:
            r = parse_response(buf, pos, method, eof)
        except Bad as e:
            return out, str(e)
        if r is NEED:
            return out, None
        out.append((i, r))
        pos = r.end
        if not r.interim:
            i += 1
    return out, None


# --- the recording upstream --------------------------------------------------

def corpus_files(prefix):
    try:
        names = sorted(os.listdir(CORPUS))
    except OSError:
        return []
    return [(n, open(os.path.join(CORPUS, n), "rb").read()) for n in names if n.startswith(prefix)]


# Responses from the corpus an upstream might send (101 would start a tunnel).
RESP_CORPUS = [(n, b) for n, b in corpus_files("resp-") if n != "resp-101"]
TARGET = re.compile(rb"\A/o/([0-9]+)/")


def fake(seq):
    """Bytes shaped like a response, sent where none belongs: a client that gets
    them got leftovers (their number is negative: no request has it)."""
    return b"HTTP/1.1 200 OK\r\nX-Seq: -%d\r\nContent-Length: 0\r\n\r\n" % seq


class Upstream:
    def __init__(self):
        self.lock = threading.Lock()
        self.seq = 0
        self.records = {}    # seq -> dict
        self.errors = []     # what gbca sent that is not valid HTTP/1.1
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            s, _ = self.sock.accept()
            threading.Thread(target=self.serve, args=(s,), daemon=True).start()

    def serve(self, s):
        buf = b""
        s.settimeout(30)
        try:
            while True:
                try:
                    r = parse_request(buf, 0)
                except Bad as e:
                    with self.lock:
                        self.errors.append("%s: %r" % (e, buf[:200]))
                    return
                if r is NEED or not r.complete:
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                    continue
                if r.minor != 1:
                    with self.lock:
                        self.errors.append("HTTP/1.0 request forwarded: %r" % buf[:200])
                buf = buf[r.end:]
                if not self.answer(s, r):
                    return
        except OSError:
            pass
        finally:
            s.close()

    def answer(self, s, r):
        """Sends the answer to r as asked (?up=MODE); False to close."""
        with self.lock:
            self.seq += 1
            seq = self.seq
        m = re.search(rb"[?&]up=([a-z0-9-]+)", r.target)
        mode = m.group(1).decode() if m else "ok"
        head_req = r.method == b"HEAD"
        body = json.dumps({"seq": seq, "t": r.target.decode("latin-1")}).encode()
        status, out, close = 200, b"", not r.keep
        expect = body
        conn = b"Connection: close\r\n" if close else b""
        base = b"X-Seq: %d\r\nContent-Type: application/json\r\n" % seq
        if mode == "chunked":
            out = (b"HTTP/1.1 200 OK\r\n" + base + conn + b"Transfer-Encoding: chunked\r\n\r\n")
            if not head_req:
                out += b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (5, body[:5], len(body) - 5, body[5:])
        elif mode in ("204", "204body", "304body"):
            status = 204 if mode != "304body" else 304
            expect = b""
            extra = fake(seq) if mode != "204" else b""
            out = (b"HTTP/1.1 %d %s\r\nX-Seq: %d\r\n" % (status, b"No Content" if status == 204 else b"Not Modified", seq) +
                   conn + (b"Content-Length: %d\r\n" % len(extra) if extra else b"") + b"\r\n" + extra)
        elif mode == "eof":
            out = b"HTTP/1.1 200 OK\r\n" + base + b"Connection: close\r\n\r\n" + (b"" if head_req else body)
            close = True
        elif mode == "corpus" and RESP_CORPUS:
            name, resp = RESP_CORPUS[seq % len(RESP_CORPUS)]
            line, rest = resp.split(b"\r\n", 1)
            out = line + b"\r\nX-Seq: %d\r\n" % seq + rest
            expect = None
            status = int(line.split(b" ")[1])
            close = True
        else:
            hdr = base + conn + b"Content-Length: %d\r\n" % len(body)
            if mode == "connlen":
                hdr += b"Connection: content-length\r\n"
            out = b"HTTP/1.1 200 OK\r\n" + hdr + b"\r\n"
            if not head_req or mode == "headbody":
                out += body
            if mode == "1xx":
                out = (b"HTTP/1.1 103 Early Hints\r\nX-Seq: %d\r\nLink: </s.css>\r\n\r\n" % seq +
                       b"HTTP/1.1 100 Continue\r\n\r\n" + out)
            elif mode in ("extra", "connlen"):
                out += fake(seq)
            if mode == "connlen":
                close = True
            elif mode == "close":
                out = out.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1) if not conn else out
                close = True
        with self.lock:
            self.records[seq] = {"target": r.origin, "method": r.method, "body_sha": r.body_sha,
                                 "status": status, "mode": mode,
                                 "resp_sha": None if expect is None else hashlib.sha256(expect).hexdigest()}
        s.sendall(out)
        if close:
            time.sleep(0.05)
        return not close


# --- the generated streams ---------------------------------------------------

MODES = ["ok"] * 8 + ["chunked", "1xx", "extra", "204", "204body", "304body", "headbody",
                      "connlen", "close", "eof", "corpus"]
REQ_CORPUS = [(n, b) for n, b in corpus_files("req-") + corpus_files("smuggle-")
              if n not in ("req-connect", "req-upgrade")]
CONN_OPTIONS = ["close", "keep-alive", "content-length", "Content-Length", "transfer-encoding",
                "host", "x-a", "te", "upgrade", "proxy-authorization", "expect", "via"]
RL = re.compile(rb"([A-Z]+) ((?:/|[Hh][Tt][Tt][Pp][Ss]?://|\*)\S*) (HTTP/)")


def retarget(raw, cid, tag, mode):
    """raw with every request line's target replaced by one of this connection's."""
    n = [0]

    def sub(m):
        n[0] += 1
        t = b"/o/%d/%s-%d?up=%s" % (cid, tag, n[0], mode.encode())
        old = m.group(2)
        a = re.match(rb"(?i)(https?://[^/?]*)", old)
        if a:
            t = a.group(1) + t
        return m.group(1) + b" " + t + b" " + m.group(3)
    return RL.sub(sub, raw)


def inner(cid, i):
    """A complete request to hide in a body: the upstream must never see it."""
    return b"GET /o/%d/s%d?up=ok HTTP/1.1\r\nHost: %s\r\n\r\n" % (cid, i, NAME.encode())


def gen_request(rng, cid, i):
    kind = rng.choice(["get", "get", "post", "chunked", "head", "get10", "post10", "expect",
                       "preflight", "smuggle-cl", "smuggle-te", "corpus", "corpus"])
    mode = rng.choice(MODES)
    if kind == "corpus" and REQ_CORPUS:
        _, raw = rng.choice(REQ_CORPUS)
        return retarget(raw, cid, b"%d" % i, mode)
    target = b"/o/%d/%d?up=%s" % (cid, i, mode.encode())
    method, version, hs, body = b"GET", b"1.1", [(b"Host", NAME.encode())], b""
    if kind == "post":
        method, body = b"POST", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        hs.append((b"Content-Length", b"%d" % len(body)))
    elif kind == "chunked":
        method, data = b"POST", b"x" * rng.randrange(1, 30)
        hs.append((b"Transfer-Encoding", b"chunked"))
        body = b"%x;e=1\r\n%s\r\n0\r\n" % (len(data), data) + (b"X-T: 1\r\n" if rng.random() < .3 else b"") + b"\r\n"
    elif kind == "head":
        method = b"HEAD"
    elif kind in ("get10", "post10"):
        version = b"1.0"
        if rng.random() < .5:
            hs = []
        if rng.random() < .6:
            hs.append((b"Connection", b"keep-alive"))
        if kind == "post10":
            method, body = b"POST", b"0123456789"
            hs.append((b"Content-Length", b"10"))
    elif kind == "expect":
        method, body = b"PUT", b"abc"
        hs += [(b"Expect", b"100-continue"), (b"Content-Length", b"3")]
    elif kind == "preflight":
        method = b"OPTIONS"
        hs += [(b"Origin", b"https://a.example"), (b"Access-Control-Request-Method", b"POST")]
        if rng.random() < .3:
            body = b"GET /o/%d/p%d HTTP/1.1\r\n" % (cid, i)
            hs.append((b"Content-Length", b"%d" % len(body)))
    elif kind == "smuggle-cl":
        method, body = b"POST", inner(cid, i)
        hs += [(b"Content-Length", b"%d" % len(body)),
               (b"Connection", rng.choice([b"Content-Length", b"content-length, keep-alive", b"host"]))]
    elif kind == "smuggle-te":
        method, data = b"POST", inner(cid, i)
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)
        hs += [(b"Transfer-Encoding", b"chunked"),
               (b"Connection", rng.choice([b"transfer-encoding", b"Transfer-Encoding, x-a", b"te"]))]
    hs.append((b"X-Client", b"%d" % cid))
    # mutations
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        m = rng.randrange(9)
        if m == 0 and hs:
            j = rng.randrange(len(hs))
            hs.insert(rng.randrange(len(hs) + 1), hs[j] if rng.random() < .6 else (hs[j][0], hs[j][1] + b"x"))
        elif m == 1:
            hs.append((b"Connection", ", ".join(rng.sample(CONN_OPTIONS, rng.randrange(1, 3))).encode()))
        elif m == 2:
            version = rng.choice([b"1.0", b"1.0", b"1.2", b"2.0", b"0.9", b"1.1"])
        elif m == 3 and hs:
            j = rng.randrange(len(hs))
            hs[j] = (hs[j][0].upper() if rng.random() < .5 else hs[j][0].lower(), hs[j][1])
        elif m == 4:
            hs = [h for h in hs if h[0].lower() != b"host"]
        elif m == 5 and body:
            hs.append(rng.choice([(b"Content-Length", b"%d" % (len(body) + rng.choice([-2, -1, 1]))),
                                  (b"Transfer-Encoding", b"chunked"), (b"Content-Length", b"+%d" % len(body))]))
        elif m == 6 and hs:
            j = rng.randrange(len(hs))
            n, v = hs[j]
            hs[j] = rng.choice([(n + b" ", v), (n, v + b"\nX-B: 1"), (n, v + b"\rX"), (n, b"\r\n " + v),
                                (n, v + b"\x00"), (n + b"_", v)])
        elif m == 7:
            hs.append((b"Transfer-Encoding", rng.choice([b"chunked", b"Chunked", b"gzip, chunked", b" chunked"])))
        elif m == 8:
            hs.append((b"Content-Length", rng.choice([b"0", b"5", b"05", b"5, 5"])))
    head = method + b" " + target + b" HTTP/" + version + b"\r\n"
    head += b"".join(n + b": " + v + b"\r\n" for n, v in hs)
    return head + b"\r\n" + body


# --avoid: leave out what triggers a known defect, to see what else shows.
AVOID = {
    "connection-framing": re.compile(rb"(?i)connection:[^\r\n]*(content-length|transfer-encoding|host)|up=connlen"),
    "leftovers": re.compile(rb"up=(extra|204body|304body|headbody|connlen)"),
    "http10": re.compile(rb"HTTP/1\.0"),
    "preflight": re.compile(rb"OPTIONS"),
}
avoid = []


def gen_request_avoiding(rng, cid, i):
    for _ in range(100):
        raw = gen_request(rng, cid, i)
        if not any(AVOID[a].search(raw) for a in avoid):
            return raw
    return b"GET /o/%d/%d HTTP/1.1\r\nHost: a\r\n\r\n" % (cid, i)


def gen_stream(rng, cid):
    """(segments, plan): the requests of one connection and how to send them."""
    segs = [gen_request_avoiding(rng, cid, i) for i in range(rng.randrange(1, 7))]
    plan = rng.choice(["pipelined", "pipelined", "split", "sequential", "sequential", "early-close",
                       "early-read"])
    return segs, plan


# --- the client connections --------------------------------------------------

class Client:
    def __init__(self, args, ctx, upstream, cid, rng):
        self.args, self.ctx, self.up, self.cid, self.rng = args, ctx, upstream, cid, rng
        self.segs, self.plan = gen_stream(rng, cid)
        self.tls = rng.random() < .5
        self.sent = b""
        self.got = b""
        self.eof = False

    def connect(self):
        port = self.args.tls_port if self.tls else self.args.http_port
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            s = self.ctx.wrap_socket(s, server_hostname=NAME)
        return s

    def send(self, s, data):
        self.sent += data
        s.sendall(data)

    def recv_until(self, s, done, limit):
        deadline = time.monotonic() + limit
        while not self.eof and not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            s.settimeout(left)
            try:
                d = s.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                return
            except (OSError, ssl.SSLError):
                self.eof = True
                return
            if not d:
                self.eof = True
                return
            self.got += d

    def finals(self):
        reqs, _ = read_requests(self.sent)
        out, _ = read_responses(self.got, [r.method for r in reqs], self.eof)
        return sum(1 for _, r in out if not r.interim)

    def run(self):
        try:
            s = self.connect()
        except (OSError, ssl.SSLError) as e:
            return "connect: %s" % e
        try:
            self.drive(s)
        except (OSError, ssl.SSLError):
            self.eof = True
        finally:
            try:
                s.close()
            except OSError:
                pass
        return None

    def drive(self, s):
        data = b"".join(self.segs)
        if self.plan == "sequential":
            for k, seg in enumerate(self.segs):
                self.send(s, seg)
                self.recv_until(s, lambda: self.finals() > k, 0.6)
                if self.eof:
                    return
        elif self.plan in ("early-close", "early-read"):
            cut = self.rng.randrange(len(data))
            self.send(s, data[:cut])
            if self.plan == "early-close":
                return
            if not self.tls:   # (TLS has no half-close; SSLSocket.shutdown drops TLS)
                s.shutdown(socket.SHUT_WR)
        elif self.plan == "split":
            pos = 0
            while pos < len(data):
                n = self.rng.randrange(1, 60)
                self.send(s, data[pos:pos + n])
                pos += n
                time.sleep(self.rng.choice([0, 0, 0.002]))
        else:
            self.send(s, data)
        reqs, why = read_requests(self.sent)
        want = sum(r.complete for r in reqs) + (1 if why.startswith("bad") else 0)
        self.recv_until(s, lambda: self.finals() >= want, 3.0)
        self.recv_until(s, lambda: False, 0.1)  # anything more is a violation

    # -- the checks, once the upstream is done ------------------------------
    def check(self, records, seen, v):
        """Appends (rule, message) violations to v; marks upstream records seen."""
        reqs, why = read_requests(self.sent)
        out, err = read_responses(self.got, [r.method for r in reqs], self.eof)
        tag = "conn %d (%s, %s, %s)" % (self.cid, "tls" if self.tls else "http", self.plan, why)
        if err:
            v.append(("well-formed", "%s: response %d unreadable: %s" % (tag, len(out), err)))
        for i, r in out:
            req = reqs[i] if i < len(reqs) else None
            if req is not None and req.minor == 0 and (r.interim or r.chunked):
                v.append(("well-formed", "%s: HTTP/1.0 request %d got %s" %
                          (tag, i, "a 1xx" if r.interim else "a chunked response")))
            if not r.seq:
                if not r.interim and i > len(reqs) - (0 if why.startswith("bad") else 1):
                    v.append(("in-order", "%s: answer %d (status %d, from gbca) but only %d requests" %
                              (tag, i, r.status, len(reqs))))
                continue
            try:
                seq = int(r.seq[0])
            except ValueError:
                seq = 0
            rec = records.get(seq)
            if rec is None:
                v.append(("in-order", "%s: answer %d carries X-Seq %r, which answers no request "
                          "(bytes the upstream sent outside a response)" % (tag, i, r.seq[0])))
                continue
            m = TARGET.match(rec["target"])
            owner = int(m.group(1)) if m else None
            if owner != self.cid:
                v.append(("crossing", "%s: answer %d is the upstream's answer %d to %r of conn %s" %
                          (tag, i, seq, rec["target"], owner)))
                continue
            if req is None or rec["target"] != req.origin or rec["method"] != req.method:
                v.append(("in-order", "%s: answer %d is the upstream's answer to %s %r, not to request %d (%s)" %
                          (tag, i, rec["method"], rec["target"], i,
                           "none" if req is None else "%s %r" % (req.method, req.origin))))
                continue
            if r.interim:
                continue
            if rec["status"] != r.status or (rec["resp_sha"] is not None and req.method != b"HEAD" and
                                              hashlib.sha256(r.body).hexdigest() != rec["resp_sha"]):
                v.append(("in-order", "%s: answer %d differs from what the upstream sent (status %d/%d, body %r)" %
                          (tag, i, r.status, rec["status"], r.body[:120])))
        # the upstream side: every request it parsed is one of these, once
        return reqs, tag


def run(args):
    random.seed(args.seed)
    up = Upstream()
    ctx = ssl.create_default_context(cafile=args.root)
    env = dict(os.environ)
    serve = subprocess.Popen([args.gbca, "serve", "--config", "/dev/null", "--listen", "127.0.0.1:%d" % args.tls_port,
                              "--http-listen", "127.0.0.1:%d" % args.http_port, "--upstream",
                              "http://127.0.0.1:%d" % up.port, "--workers", str(args.workers),
                              "--access-log", "off", "--user", "root", "--cors", "*", "--pid-file", "off",
                              "--header-timeout", "5", "--upstream-timeout", "10", "--drain-timeout", "2"],
                             stderr=subprocess.PIPE, env=env)
    t0 = time.monotonic()
    line = b""
    while b"listening on" not in line and time.monotonic() - t0 < 20:
        line = serve.stderr.readline()
        if not line:
            break
    if b"listening on" not in line:
        print("Bail out! gbca serve did not start: %r" % line)
        serve.kill()
        return 1
    log = []
    threading.Thread(target=lambda: log.extend(serve.stderr), daemon=True).start()
    time.sleep(0.5)
    workers = children(serve.pid)

    jobs, done = queue.Queue(), []
    deadline = time.monotonic() + args.seconds
    counter = [0]
    lock = threading.Lock()

    if args.replay:
        # One connection, as generated for this seed and connection number.
        counter[0] = args.replay - 1
        args.clients, deadline = 1, 0

    def worker():
        while time.monotonic() < deadline or (args.replay and not done):
            with lock:
                counter[0] += 1
                cid = counter[0]
            c = Client(args, ctx, up, cid, random.Random(args.seed * 1000003 + cid))
            err = c.run()
            with lock:
                done.append((c, err))

    ts = [threading.Thread(target=worker) for _ in range(args.clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    time.sleep(0.5)   # the upstream finishes what it has
    alive = serve.poll() is None
    workers_after = children(serve.pid)
    serve.send_signal(signal.SIGTERM)
    try:
        serve.wait(10)
    except subprocess.TimeoutExpired:
        serve.kill()

    if args.replay:
        c = done[0][0]
        print("# sent %r\n# got %r" % (c.sent, c.got))
    v = []
    with up.lock:
        records = dict(up.records)
        errors = list(up.errors)
    by_cid = {}
    connect_errors = 0
    for c, err in done:
        if err:
            connect_errors += 1
            continue
        before = len(v)
        reqs, tag = c.check(records, None, v)
        if args.dump and len(v) > before:
            dump(args.dump, c, v[before:])
        by_cid[c.cid] = (c, reqs, tag)
    used = set()
    for seq, rec in sorted(records.items()):
        m = TARGET.match(rec["target"])
        entry = by_cid.get(int(m.group(1))) if m else None
        if entry is None:
            v.append(("upstream-subset", "the upstream got %s %r (answer %d), which no client connection sent" %
                      (rec["method"], rec["target"], seq)))
            continue
        c, reqs, tag = entry
        match = [k for k, r in enumerate(reqs) if r.complete and (c.cid, k) not in used and r.origin == rec["target"] and
                 r.method == rec["method"] and r.body_sha == rec["body_sha"]]
        if not match:
            v.append(("upstream-subset", "%s: the upstream got %s %r (answer %d), which a strict reader "
                      "does not find in the client's bytes %r" % (tag, rec["method"], rec["target"], seq, c.sent[:600])))
            if args.dump:
                dump(args.dump, c, v[-1:])
            continue
        used.add((c.cid, match[0]))
    for e in errors:
        v.append(("upstream-valid", "gbca sent the upstream what a strict reader refuses: " + e))

    rules = [("in-order", "every response answers a request of its own connection, in order"),
             ("crossing", "nothing crosses from one client connection to another"),
             ("upstream-subset", "the upstream sees only requests a strict reader finds in the client's bytes"),
             ("upstream-valid", "gbca sends the upstream valid HTTP/1.1"),
             ("well-formed", "responses are well-formed; HTTP/1.0 clients get no chunks and no 1xx")]
    n = 0
    for rule, text in rules:
        bad = [msg for r, msg in v if r == rule]
        n += 1
        print("%s %d - /desync/%s: %s (%d violations)" % ("not ok" if bad else "ok", n, rule, text, len(bad)))
        for msg in bad[:args.show]:
            print("#   " + msg.replace("\n", "\\n"))
    n += 1
    survived = alive and workers_after == workers
    print("%s %d - /desync/workers-survived (%s -> %s)" % ("ok" if survived else "not ok", n, workers, workers_after))
    if not survived:
        for line in [l for l in log if re.search(rb"(?i)assert|sanitizer|died|signal", l)][:args.show]:
            print("#   gbca: " + line.decode("latin-1").rstrip())
    n += 1
    enough = args.replay or len(records) >= args.min_answers and connect_errors <= len(done) // 10
    print("%s %d - /desync/not-vacuous: %d connections, %d upstream answers, %d connect errors" %
          ("ok" if enough else "not ok", n, len(done), len(records), connect_errors))
    print("# seed %d, %d s, %d clients at once; replay with --seed %d" % (args.seed, args.seconds, args.clients, args.seed))
    print("1..%d" % n)
    return 0


def dump(path, c, violations):
    """One JSON line per connection with a violation: its bytes both ways."""
    with open(path, "a") as f:
        f.write(json.dumps({"cid": c.cid, "tls": c.tls, "plan": c.plan, "violations": violations,
                            "sent": c.sent.decode("latin-1"), "got": c.got.decode("latin-1")}) + "\n")


def children(pid):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/status" % p) as f:
                if re.search(r"^PPid:\s*%d$" % pid, f.read(), re.M):
                    out.append(int(p))
        except OSError:
            pass
    return sorted(out)


def main():
    p = argparse.ArgumentParser(description="desync oracle for gbca serve")
    p.add_argument("--gbca", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--seconds", type=float, default=25)
    p.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    p.add_argument("--clients", type=int, default=6)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--tls-port", type=int, default=20443)
    p.add_argument("--http-port", type=int, default=20080)
    p.add_argument("--min-answers", type=int, default=100)
    p.add_argument("--show", type=int, default=5)
    p.add_argument("--dump", help="append each violating connection's bytes to this file (JSON lines)")
    p.add_argument("--replay", type=int, default=0, help="run only connection CID of this seed, and show its bytes")
    p.add_argument("--avoid", default="", help="comma-separated: " + ", ".join(AVOID) +
                   " (leave out the streams that trigger a known defect)")
    args = p.parse_args()
    avoid.extend(a for a in args.avoid.split(",") if a)
    sys.exit(run(args))


if __name__ == "__main__":
    main()
