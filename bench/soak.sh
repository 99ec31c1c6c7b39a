#!/bin/bash
# bench/soak.sh: `gbca serve` under a bounded mixed load with reloads:
# keep-alive POSTs, Server-Sent Event streams, new TLS connections, uploads
# and downloads checked by hash, client aborts, upstream deaths, and SIGHUP
# every SOAK_HUP seconds (bench/soak.py has the details). Passes when there
# was no unexpected error, no gbca process went over SOAK_RSS_MB of RSS, and
# once the load stopped and the upstream restarted (which empties the pool of
# upstream connections) the descriptors of gbca went back to the baseline.
#
# usage: bench/soak.sh [path-to-gbca]
#   SOAK_SECONDS=S    length of the load (default 600)
#   SOAK_HUP=S        seconds between reloads (default 60)
#   SOAK_WORKERS=N    workers (default 2)
#   SOAK_SSE=N        concurrent SSE streams (default 10)
#   SOAK_UPLOAD_MB, SOAK_DOWNLOAD_MB   sizes of each transfer (default 20, 50)
#   SOAK_RSS_MB=N     the RSS bound per process (default 64)
#   BENCH_TMPDIR=D    where the scratch folder goes (default /tmp); KEEP=1 keeps it
# Everything runs on loopback, on free ports, in the scratch folder; all of it
# is stopped on exit, and the load is cut off after SOAK_SECONDS + 300 s.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
find_gbca "$@"
SECONDS_=${SOAK_SECONDS:-600}
HUP=${SOAK_HUP:-60}
WORKERS=${SOAK_WORKERS:-2}
RSS_MB=${SOAK_RSS_MB:-64}
for v in SECONDS_ HUP WORKERS RSS_MB; do
	case ${!v} in '' | *[!0-9]*) die "${v%_} must be a whole number, not \"${!v}\"" ;; esac
done
command -v python3 >/dev/null || die "python3 not found; install it (apt-get install python3)"
UPSTREAM_PY=$here/../tests/upstream.py
[ -f "$UPSTREAM_PY" ] || die "tests/upstream.py not found next to bench/"

W=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/gbca-soak.XXXXXX")
chmod 755 "$W"
UP= SERVE=
cleanup() {
	trap - EXIT INT TERM
	[ -n "$SERVE" ] && kill -TERM "$SERVE" 2>/dev/null
	[ -n "$UP" ] && kill -TERM "$UP" 2>/dev/null
	wait 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'echo "bench/soak.sh: interrupted" >&2; exit 130' INT TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
UPORT=$(free_port)
PORT=$(free_port)
start_upstream() {
	python3 "$UPSTREAM_PY" --port "$UPORT" --record /dev/null >"$W/upstream.out" 2>>"$W/upstream.err" &
	UP=$!
	for _ in $(seq 100); do grep -qx ready "$W/upstream.out" 2>/dev/null && return 0; sleep 0.1; done
	die "the upstream did not start"
}
start_upstream

export GBCA_CAROOT=$W/ca
"$gbca" init -q || die "gbca init failed"
user=()
[ "$(id -u)" = 0 ] && user=(--user root)
"$gbca" serve --config /dev/null --listen "127.0.0.1:$PORT" --upstream "http://127.0.0.1:$UPORT" \
	--workers "$WORKERS" --access-log off --pid-file off --drain-timeout 5 --upstream-timeout 120 \
	"${user[@]}" 2>"$W/serve.err" &
SERVE=$!
for _ in $(seq 100); do grep -q 'listening on' "$W/serve.err" && break; sleep 0.1; done
grep -q 'listening on' "$W/serve.err" || { cat "$W/serve.err" >&2; die "gbca serve did not start"; }
sleep 1

# fds_total / rss: descriptors and RSS (kB) of the master and its workers.
procs() { echo "$SERVE"; grep -l "^PPid:[[:space:]]*$SERVE\$" /proc/[0-9]*/status 2>/dev/null | cut -d/ -f3; }
fds_total() { local p n=0; for p in $(procs); do n=$((n + $(ls "/proc/$p/fd" 2>/dev/null | wc -l))); done; echo $n; }
rss_list() { local p; for p in $(procs); do awk -v p="$p" '/^VmRSS:/ { printf "%s:%s ", p, $2 }' "/proc/$p/status" 2>/dev/null; done; }
base_fds=$(fds_total)
base_rss=$(rss_list)

echo "-- soak: ${SECONDS_} s, SIGHUP every ${HUP} s, $WORKERS workers, gbca $gbca" >&2
timeout $((SECONDS_ + 300)) python3 "$here/soak.py" "$PORT" "$GBCA_CAROOT/rootCA.pem" "$SECONDS_" "$HUP" "$SERVE" "$UPSTREAM_PY" >"$W/soak.json"
kill -0 "$SERVE" 2>/dev/null || die "gbca serve died during the load"

# After the load: restart the upstream (its end of the pooled connections
# closes, so gbca's does), then wait for the retiring workers and the pool.
kill -TERM "$UP"; wait "$UP" 2>/dev/null || true
start_upstream
after_fds=
for _ in $(seq 300); do
	after_fds=$(fds_total)
	[ "$(procs | wc -l)" -eq $((WORKERS + 1)) ] && [ "$after_fds" -le "$base_fds" ] && break
	sleep 0.1
done
sleep 2
after_rss=$(rss_list)
after_fds=$(fds_total)

python3 - "$W/soak.json" "$base_fds" "$after_fds" "$base_rss" "$after_rss" "$RSS_MB" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
base_fds, after_fds, base_rss, after_rss, rss_mb = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
print("load: %.0f s" % r["seconds"])
for k, v in sorted(r["counts"].items()):
    print("  %-45s %d" % (k, v))
print("unexpected errors: %d" % r["counts"].get("unexpected", 0))
for u in r["unexpected"]:
    print("  " + u)
kb = lambda s: sum(int(x.split(":")[1]) for x in s.split())
print("RSS kB, master and workers: baseline %s(total %d); peak of one process %d, peak total %d; "
      "after the load %s(total %d)" % (base_rss, kb(base_rss), r["peak_process_rss_kb"],
                                       r["peak_total_rss_kb"], after_rss, kb(after_rss)))
print("descriptors: baseline %d, after the load %d" % (base_fds, after_fds))
ok = r["counts"].get("unexpected", 0) == 0 and after_fds <= base_fds and r["peak_process_rss_kb"] <= rss_mb * 1024
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
