#!/usr/bin/python3
# tests/doctor-upstream.sh's stand-in upstream for gbca doctor: on
# 127.0.0.7:PORT, TLS with CERT and KEY (or plain with "-"), each request
# answered as MODE says:
#   ok      401 with Google's envelope (a Gemini Balance without a token)
#   500     500 Internal Server Error
#   junk    an SSH banner instead of HTTP
# Records "sni NAME" and the request line and Host of each request in RECORD.
import socket, ssl, sys, threading
port, mode, cert, key, record = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
lock = threading.Lock()

def note(line):
    with lock, open(record, "a") as f:
        f.write(line + "\n")

ctx = None
if cert != "-":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.sni_callback = lambda s, name, c: note("sni %s" % name)

def head(c):
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < 65536:
        d = c.recv(4096)
        if not d:
            break
        buf += d
    return buf.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")

def serve(c):
    try:
        if ctx:
            c = ctx.wrap_socket(c, server_side=True)
        lines = head(c)
        note("request %s" % lines[0])
        for l in lines[1:]:
            if l.lower().startswith("host:"):
                note("host %s" % l[5:].strip())
        if mode == "ok":
            body = b'{"error":{"code":401,"message":"no token","status":"UNAUTHENTICATED"}}'
            c.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                      b"Connection: close\r\n\r\n%s" % (len(body), body))
        elif mode == "500":
            c.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        elif mode == "junk":
            c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
    except (OSError, ssl.SSLError):
        pass
    try:
        c.close()
    except OSError:
        pass

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.7", port))
ls.listen(16)
print("ready", flush=True)
while True:
    c, _ = ls.accept()
    c.settimeout(10)
    threading.Thread(target=serve, args=(c,), daemon=True).start()
