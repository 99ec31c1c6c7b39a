#!/usr/bin/python3
# A misbehaving upstream for tests/serve-integrity.sh: raw sockets, a thread
# per connection, keep-alive. It numbers every request it parses (in all,
# and per connection), records each one as a JSON line, and answers by path:
#
#   /extra        200 "ok", then a whole second response nobody asked for
#   /204body      204, then a whole response (a body on a 204)
#   /304body      304, then a whole response
#   /headbody     (HEAD) 200 with Content-Length, and the body anyway
#   /late204      204, then 300 ms later a whole response (written apart)
#   /conn-cl      200 with "Connection: content-length"
#   /conn-te      chunked 200 with "Connection: transfer-encoding"
#   /chunked      chunked 200 "hello world", with a trailer
#   /continue     100 Continue, then 200 "after 100"
#   /sse?n=N&ms=M chunked event stream: N events M ms apart
#   anything else 200 "seq=S conn=C req=K path=P"
# The smuggled answers carry POISON in their bodies: no client may see it.
#   python3 integrity-upstream.py PORT RECORD
import json, socket, sys, threading, time, urllib.parse

PORT, RECORD = int(sys.argv[1]), sys.argv[2]
POISON = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON"
lock = threading.Lock()
seq = [0]
conns = [0]


def record(entry):
    with lock:
        seq[0] += 1
        entry["seq"] = seq[0]
        with open(RECORD, "a") as f:
            f.write(json.dumps(entry) + "\n")
        return seq[0]


def read_request(s, buf):
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return None, buf
        buf += d
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ")
    headers = [tuple(l.split(":", 1)) for l in lines[1:]]
    headers = [(n, v.strip()) for n, v in headers]
    h = {n.lower(): v for n, v in headers}
    body = b""
    if h.get("transfer-encoding", "").lower() == "chunked":
        while True:
            while b"\r\n" not in buf:
                buf += s.recv(65536)
            line, _, buf = buf.partition(b"\r\n")
            size = int(line.split(b";")[0], 16)
            while len(buf) < size + 2:
                buf += s.recv(65536)
            body += buf[:size]
            buf = buf[size + 2:]
            if size == 0:
                break
    else:
        n = int(h.get("content-length", "0"))
        while len(buf) < n:
            d = s.recv(65536)
            if not d:
                break
            buf += d
        body, buf = buf[:n], buf[n:]
    return dict(method=method, target=target, version=version, headers=headers, body=body.decode("latin-1")), buf


def handle(s, cid):
    buf, k = b"", 0
    try:
        while True:
            req, buf = read_request(s, buf)
            if req is None:
                return
            k += 1
            req["conn"], req["req"] = cid, k
            n = record(dict(req))
            u = urllib.parse.urlsplit(req["target"])
            q = dict(urllib.parse.parse_qsl(u.query))
            path = u.path
            if path == "/extra":
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + POISON)
            elif path == "/204body":
                s.sendall(b"HTTP/1.1 204 No Content\r\n\r\n" + POISON)
            elif path == "/304body":
                s.sendall(b"HTTP/1.1 304 Not Modified\r\nContent-Length: %d\r\n\r\n" % len(POISON) + POISON)
            elif path == "/headbody":
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(POISON) + POISON)
            elif path == "/late204":
                s.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
                time.sleep(0.3)
                s.sendall(POISON)
            elif path == "/conn-cl":
                s.sendall(b"HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 2\r\n\r\nok" + POISON)
            elif path == "/conn-te":
                s.sendall(b"HTTP/1.1 200 OK\r\nConnection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"2\r\nok\r\n0\r\n\r\n")
            elif path == "/chunked":
                s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n")
            elif path == "/continue":
                s.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nafter 100")
            elif path == "/sse":
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
                for i in range(int(q.get("n", "5"))):
                    ev = b"data: %d\n\n" % i
                    s.sendall(b"%x\r\n%s\r\n" % (len(ev), ev))
                    time.sleep(int(q.get("ms", "200")) / 1000)
                s.sendall(b"0\r\n\r\n")
            else:
                body = b"seq=%d conn=%d req=%d path=%s" % (n, cid, k, path.encode())
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    except (OSError, ValueError):
        return
    finally:
        s.close()


srv = socket.create_server(("127.0.0.1", PORT))
print("ready", flush=True)
while True:
    c, _ = srv.accept()
    with lock:
        conns[0] += 1
        cid = conns[0]
    threading.Thread(target=handle, args=(c, cid), daemon=True).start()
