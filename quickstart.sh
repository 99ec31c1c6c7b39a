#!/bin/sh
# The quick start in one command: install the build packages, build gbca and
# run the whole job, 'gbca up' against Gemini Balance on http://127.0.0.1:8000
# (or $GBCA_UPSTREAM): the CA (once), the certificate, trust (system store,
# NSS databases, Node and Python in bash, zsh and fish), the hosts entry, and the proxy
# (a systemd service where systemd runs, else in the background: pid and log
# in CAROOT, 'gbca down' stops it). Safe to run again; 'gbca uninstall'
# undoes it all.
set -eu
cd "$(dirname "$0")"

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# GBCA_QUICKSTART_SKIP_DEPS=1 skips only this step (tests/quickstart.sh: CI
# has installed the packages already).
[ -n "${GBCA_QUICKSTART_SKIP_DEPS:-}" ] || as_root .ci/deps
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure
make -j"$(nproc)"

caroot=$(./gbca caroot)
upstream=${GBCA_UPSTREAM:-http://127.0.0.1:8000}
# Per-user stores (NSS, shells) as you; system store, hosts file, port 443 as root.
[ "$(id -u)" = 0 ] || { [ -f "$caroot/rootCA.pem" ] || ./gbca init; ./gbca trust --stores nss --shells; }
if [ -d /run/systemd/system ]; then
	as_root env GBCA_CAROOT="$caroot" ./gbca up --upstream "$upstream" --service
else
	echo "(no systemd here: the proxy runs in the background; './gbca down' stops it)"
	as_root env GBCA_CAROOT="$caroot" ./gbca up --upstream "$upstream"
fi
echo "Check it any time with: ./gbca doctor"
