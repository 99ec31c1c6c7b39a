#!/bin/bash
# The desync oracle (tests/desync.py) against `gbca serve`, in a private
# network namespace: generated and mutated request streams over several
# client connections at once, a recording upstream that numbers its answers,
# and three promises checked (see desync.py). About 25 s; GBCA_DESYNC_SECONDS
# runs it longer, GBCA_DESYNC_SEED replays a run, GBCA_DESYNC_CLIENTS and
# GBCA_DESYNC_WORKERS set the connections at once (6) and serve's workers (1).

# Re-run inside a private network namespace before anything else.
. "$srcdir/tests/ns.sh"
in_namespaces -n -- "$@"

. "$srcdir/tests/lib.sh"
serve_test_prelude
need ip timeout

ip link set lo up
export GBCA_CAROOT="$TMP/ca"
"$GBCA" init -q || { echo "Bail out! gbca init failed"; exit 1; }

seconds=${GBCA_DESYNC_SECONDS:-25}
timeout $((seconds + 120)) "$PY" "$srcdir/tests/desync.py" --gbca "$GBCA" --root "$GBCA_CAROOT/rootCA.pem" \
	--seconds "$seconds" ${GBCA_DESYNC_SEED:+--seed "$GBCA_DESYNC_SEED"} \
	${GBCA_DESYNC_CLIENTS:+--clients "$GBCA_DESYNC_CLIENTS"} \
	${GBCA_DESYNC_WORKERS:+--workers "$GBCA_DESYNC_WORKERS"} || echo "Bail out! desync.py failed ($?)"
for p in $(gbca_pids); do kill -KILL "$p" 2>/dev/null; done
exit 0
