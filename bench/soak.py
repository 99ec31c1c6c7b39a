#!/usr/bin/python3
# The load of bench/soak.sh against a running `gbca serve` (TLS on PORT for
# generativelanguage.googleapis.com, root CA in ROOT) in front of
# tests/upstream.py, for SECONDS, with SIGHUP to MASTER every HUP seconds:
#   keep-alive POSTs (body hashes checked), Server-Sent Event streams on
#   keep-alive connections (every event must arrive), a new TLS connection
#   per request, uploads and downloads with hashes, client aborts mid-body,
#   upstream deaths (RST mid-body, RST before answering).
# It samples RSS and open descriptors of the gbca processes every 2 s and
# prints one JSON object at the end. A failure that is not one of the
# expected kinds (an abort we made, an upstream death we asked for, a
# keep-alive connection closed at a reload before any byte of the answer,
# which RFC 9112 9.3.1 lets a client retry) counts as unexpected.
import hashlib
import http.client
import importlib.util
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time

NAME = "generativelanguage.googleapis.com"
port, root, seconds, hup, master, upstream_py = (int(sys.argv[1]), sys.argv[2], float(sys.argv[3]),
                                                  float(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
UPLOAD = int(os.environ.get("SOAK_UPLOAD_MB", "20")) << 20
DOWNLOAD = int(os.environ.get("SOAK_DOWNLOAD_MB", "50")) << 20
SSE_STREAMS = int(os.environ.get("SOAK_SSE", "10"))

spec = importlib.util.spec_from_file_location("upstream", upstream_py)
upstream = importlib.util.module_from_spec(spec)
spec.loader.exec_module(upstream)

ctx = ssl.create_default_context(cafile=root)
stop = threading.Event()
lock = threading.Lock()
counts = {}
unexpected = []
hups = []   # monotonic times of the reloads


def count(what, n=1):
    with lock:
        counts[what] = counts.get(what, 0) + n


def fail(kind, err):
    with lock:
        counts["unexpected"] = counts.get("unexpected", 0) + 1
        if len(unexpected) < 20:
            unexpected.append("%s at %.0f s: %s" % (kind, time.monotonic() - t0, err))


def near_reload(window=10.0):
    now = time.monotonic()
    with lock:
        return any(0 <= now - t <= window for t in hups)


class Fresh(http.client.HTTPSConnection):
    """SNI and verification for NAME while connecting to 127.0.0.1."""
    def connect(self):
        sock = socket.create_connection(("127.0.0.1", port), self.timeout)
        self.sock = ctx.wrap_socket(sock, server_hostname=NAME)


def new_conn(timeout=30):
    return Fresh(NAME, port, context=ctx, timeout=timeout)


def ask(c, used, kind, method, target, body=None, headers=None):
    """Sends a request on c and returns the response, or None when the
    connection was closed before any byte of the answer: expected (counted)
    for a reused connection near a reload, since a retiring worker closes a
    keep-alive connection after the answer in flight (a client may retry,
    RFC 9112 9.3.1), else unexpected."""
    try:
        c.request(method, target, body=body, headers=headers or {})
        return c.getresponse()
    except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ssl.SSLEOFError,
            ssl.SSLZeroReturnError) as e:
        if used and near_reload():
            count("keep-alive closed at a reload before the answer (retried)")
        else:
            fail(kind, "before the answer: %r" % e)
        return None


def keepalive_posts():
    c, used = new_conn(), False
    i = 0
    while not stop.is_set():
        body = os.urandom(1 + i % 4096)
        i += 1
        try:
            r = ask(c, used, "keep-alive POST", "POST", "/echo?soak=ka", body,
                    {"Content-Type": "application/octet-stream"})
            if r is None:
                c.close()
                c, used = new_conn(), False
                continue
            data = r.read()
            got = json.loads(data)
            if r.status != 200 or got["body_sha256"] != hashlib.sha256(body).hexdigest():
                fail("keep-alive POST", "status %d, %r" % (r.status, data[:200]))
            else:
                count("keep-alive POSTs")
            used = True
        except Exception as e:   # noqa: BLE001 - everything else is unexpected
            fail("keep-alive POST", repr(e))
            c.close()
            c, used = new_conn(), False
    c.close()


def sse_streams():
    c, used = new_conn(), False
    while not stop.is_set():
        try:
            r = ask(c, used, "SSE stream", "POST",
                    "/v1beta/models/m:streamGenerateContent?alt=sse&n=20&interval=300",
                    b'{"contents":[]}', {"x-goog-api-key": "sk-soak"})
            if r is None:
                c.close()
                c, used = new_conn(), False
                continue
            events = [line for line in r.read().split(b"\n") if line.startswith(b"data: ")]
            ids = [json.loads(e[6:])["i"] for e in events]
            if r.status != 200 or ids != list(range(20)):
                fail("SSE stream", "status %d, events %r" % (r.status, ids))
            else:
                count("SSE streams")
            used = True
        except Exception as e:   # noqa: BLE001
            fail("SSE stream", "in the body: %r" % e)
            c.close()
            c, used = new_conn(), False
    c.close()


def new_connections():
    while not stop.is_set():
        c = new_conn()
        try:
            c.request("GET", "/echo?soak=new", headers={"Connection": "close"})
            r = c.getresponse()
            r.read()
            if r.status != 200:
                fail("new TLS connection", "status %d" % r.status)
            else:
                count("new TLS connections")
        except Exception as e:   # noqa: BLE001
            fail("new TLS connection", repr(e))
        finally:
            c.close()
        time.sleep(0.02)


def transfers():
    k = 0
    while not stop.is_set():
        k += 1
        c = new_conn(60)
        try:
            h = hashlib.sha256()
            chunk = os.urandom(1 << 20)

            def body():
                for _ in range(UPLOAD >> 20):
                    h.update(chunk)
                    yield chunk
            c.request("POST", "/upload", body=body(), headers={"Content-Length": str(UPLOAD)})
            r = c.getresponse()
            got = json.loads(r.read())
            if r.status != 200 or got["sha256"] != h.hexdigest() or got["length"] != UPLOAD:
                fail("upload", "status %d, %r" % (r.status, got))
            else:
                count("uploads of %d MB" % (UPLOAD >> 20))
            seed = "soak%d" % k
            r = ask(c, True, "download", "GET", "/download?bytes=%d&seed=%s&chunked=%d" % (DOWNLOAD, seed, k % 2))
            if r is None:
                continue
            h, n = hashlib.sha256(), 0
            while True:
                d = r.read(1 << 20)
                if not d:
                    break
                h.update(d)
                n += len(d)
            want = hashlib.sha256()
            for block in upstream.download_blocks(DOWNLOAD, seed):
                want.update(block)
            if r.status != 200 or n != DOWNLOAD or h.hexdigest() != want.hexdigest():
                fail("download", "status %d, %d bytes" % (r.status, n))
            else:
                count("downloads of %d MB" % (DOWNLOAD >> 20))
        except Exception as e:   # noqa: BLE001
            fail("upload/download", repr(e))
        finally:
            c.close()


def aborts():
    while not stop.is_set():
        c = new_conn()
        try:
            c.request("GET", "/download?bytes=%d&seed=abort" % DOWNLOAD)
            r = c.getresponse()
            r.read(256 << 10)
            count("client aborts")
        except Exception as e:   # noqa: BLE001
            fail("client abort", repr(e))
        finally:
            c.close()   # mid-body
        time.sleep(0.1)


def upstream_deaths():
    k = 0
    while not stop.is_set():
        k += 1
        c = new_conn()
        try:
            if k % 2:
                c.request("GET", "/die?after=200000&chunked=%d" % (k // 2 % 2))
                r = c.getresponse()
                try:
                    data = r.read()
                    fail("upstream death", "the whole body arrived (%d bytes)" % len(data))
                except http.client.IncompleteRead:
                    count("upstream deaths mid-body (cut seen)")
            else:
                c.request("GET", "/reset")
                r = c.getresponse()
                r.read()
                if r.status == 502:
                    count("upstream deaths before the answer (502)")
                else:
                    fail("upstream reset", "status %d" % r.status)
        except Exception as e:   # noqa: BLE001
            fail("upstream death", repr(e))
        finally:
            c.close()
        time.sleep(0.2)


def gbca_procs():
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/status" % p) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st.split("PPid:")[1].split()[0])
        if int(p) == master or ppid == master:
            rss = int(st.split("VmRSS:")[1].split()[0]) if "VmRSS:" in st else 0
            try:
                fds = len(os.listdir("/proc/%s/fd" % p))
            except OSError:
                fds = 0
            out.append((int(p), rss, fds))
    return out


samples = []


def monitor():
    while not stop.is_set():
        samples.append((time.monotonic() - t0, gbca_procs()))
        stop.wait(2)


def reloads():
    while not stop.wait(hup):
        with lock:
            hups.append(time.monotonic())
        os.kill(master, signal.SIGHUP)
        count("reloads (SIGHUP)")


t0 = time.monotonic()
baseline = gbca_procs()
threads = [threading.Thread(target=f) for f in
           [keepalive_posts, keepalive_posts, new_connections, transfers, aborts, upstream_deaths,
            monitor, reloads] + [sse_streams] * SSE_STREAMS]
for t in threads:
    t.start()
stop.wait(seconds)
stop.set()
for t in threads:
    t.join(120)
peak_rss = max((rss for _, ps in samples for _, rss, _ in ps), default=0)
peak_total = max((sum(rss for _, rss, _ in ps) for _, ps in samples), default=0)
print(json.dumps({"seconds": seconds, "counts": counts, "unexpected": unexpected,
                  "baseline": baseline, "peak_process_rss_kb": peak_rss, "peak_total_rss_kb": peak_total,
                  "peak_processes": max((len(ps) for _, ps in samples), default=0)}))
