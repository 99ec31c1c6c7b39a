#!/bin/sh
# The quick start in one command: install the build packages, build gbca, make
# the local CA (once) and a certificate for generativelanguage.googleapis.com,
# and make this machine trust the CA (system store as root; NSS databases and
# Node in bash, zsh and fish as you). Safe to run again.
set -eu
cd "$(dirname "$0")"

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

as_root .ci/deps
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure
make -j"$(nproc)"

caroot=$(./gbca caroot)
[ -f "$caroot/rootCA.pem" ] || ./gbca init
./gbca issue
if [ "$(id -u)" != 0 ]; then
	as_root env GBCA_CAROOT="$caroot" ./gbca trust --stores system
fi
./gbca trust --shells
echo
echo "Done. New shells see NODE_EXTRA_CA_CERTS; in this one run: eval \"\$(./gbca env)\""
echo "Undo with: ./gbca untrust (and as root for the system store)."
