#!/usr/bin/python3
# A small HTTP CONNECT proxy for the tests of gbca serve --upstream-proxy:
# one thread per client, the request head read strictly (CONNECT
# host:port HTTP/1.1 and a Host field), each target logged as one line
# "CONNECT host:port" to the log file, then bytes relayed both ways.
#
#   python3 tests/connect-proxy.py --listen HOST:PORT --log FILE [--status CODE] [--answer bighead|garbage]
#       prints "ready" once listening; --status other than 200 refuses every
#       CONNECT with that status (407 asks for credentials); --answer makes
#       it answer a head of 64 KiB, or a status line that is not HTTP.
import argparse
import socket
import sys
import threading


def relay(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def handle(c, args, lock):
    try:
        c.settimeout(10)
        head = b""
        while b"\r\n\r\n" not in head:
            d = c.recv(1)
            if not d or len(head) > 8192:
                return
            head += d
        lines = head[:-4].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        hosts = [l.split(":", 1)[1].strip() for l in lines[1:] if l.lower().startswith("host:")]
        with lock, open(args.log, "a") as f:
            f.write("%s host=%s\n" % (lines[0].rsplit(" ", 1)[0], hosts[0] if hosts else "-"))
        if len(parts) != 3 or parts[0] != "CONNECT" or parts[2] != "HTTP/1.1" or hosts != [parts[1]]:
            c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        if args.answer == "bighead":
            c.sendall(b"HTTP/1.1 200 Connection established\r\n" + b"X-Pad: " + b"a" * 65536 + b"\r\n\r\n")
            return
        if args.answer == "garbage":
            c.sendall(b"HTTP/1.1 2000 Connection established\r\n\r\n")
            return
        if args.status != 200:
            c.sendall(b"HTTP/1.1 %d Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"t\"\r\n"
                      b"Content-Length: 0\r\n\r\n" % args.status)
            return
        host, _, port = parts[1].rpartition(":")
        u = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        c.settimeout(None)
        u.settimeout(None)
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        t = threading.Thread(target=relay, args=(u, c), daemon=True)
        t.start()
        relay(c, u)
        t.join()
        u.close()
    except OSError:
        pass
    finally:
        c.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--answer", choices=["bighead", "garbage"])
    args = p.parse_args()
    host, _, port = args.listen.rpartition(":")
    s = socket.create_server((host, int(port)))
    lock = threading.Lock()
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c, args, lock), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
