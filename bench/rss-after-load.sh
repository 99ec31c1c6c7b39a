#!/bin/bash
# bench/rss-after-load.sh: does a gbca serve worker give memory back after a
# burst? Prints the worker's RSS (kB) at start, under 200 concurrent 2 MB
# downloads (plain HTTP, rate-limited so they overlap), when they are done,
# and 5 s later (the buffer free lists are trimmed once a second).
#
# usage: unshare -n bench/rss-after-load.sh [path-to-gbca]   (as root)
# Uses tests/upstream.py as the upstream, ports 8000 and 18080 of a private
# network namespace, and a scratch CAROOT; needs curl and python3.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
find_gbca "$@"
ip link set lo up
T=$(mktemp -d)
trap 'kill $S $UP 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
export GBCA_CAROOT=$T/ca
"$gbca" init -q
python3 "$here/../tests/upstream.py" --port 8000 --record /dev/null >"$T/up.out" 2>&1 & UP=$!
for _ in $(seq 50); do grep -q ready "$T/up.out" && break; sleep 0.1; done
"$gbca" serve --config /dev/null --listen 127.0.0.1:18443 --http-listen 127.0.0.1:18080 --workers 1 \
	--access-log off --user root 2>"$T/err" & S=$!
for _ in $(seq 50); do grep -q 'listening on' "$T/err" && break; sleep 0.1; done
W=$(pgrep -P "$S")
rss() { awk '/VmRSS/ { print $2 }' "/proc/$W/status"; }
echo "start $(rss)"
C=()
for i in $(seq 200); do
	curl -s -o /dev/null --limit-rate 1M "http://127.0.0.1:18080/download?bytes=2000000&seed=$i" & C+=($!)
done
sleep 1
echo "under-load $(rss)"
wait "${C[@]}"
echo "after-load $(rss)"
sleep 5
echo "5s-later $(rss)"
