#!/bin/bash
# bench/issue.sh: time `gbca issue` of an ECDSA P-256 leaf against mkcert and
# certtool in one hyperfine run; prints medians, ratios and the machine.
#
# usage: bench/issue.sh [path-to-gbca]
#   RUNS=N          timed runs per command (default 200; 10 warm-up runs each)
#   BENCH_TMPDIR=D  where the scratch folder goes (default /tmp); every tool
#                   writes its files there, so all pay the same file system
#                   (fsync on ext4 costs far more than on tmpfs)
#   KEEP=1          keep the scratch folder (hyperfine's JSON and Markdown)
# Writes nothing outside the scratch folder. Needs hyperfine (>= 1.13 for -N),
# mkcert, certtool (gnutls-bin) and jq.
set -eu

NAME=generativelanguage.googleapis.com
RUNS=${RUNS:-200}
here=$(cd "$(dirname "$0")" && pwd)

. "$here/lib.sh"
find_gbca "$@"

for tool in hyperfine:hyperfine mkcert:mkcert certtool:gnutls-bin jq:jq; do
	command -v "${tool%%:*}" >/dev/null ||
		die "${tool%%:*} not found; install it (apt-get install ${tool#*:})"
done
case $RUNS in
'' | *[!0-9]*) die "RUNS must be a whole number, not \"$RUNS\"" ;;
esac

W=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/gbca-bench.XXXXXX")
case $W in
*[[:space:]]*) rm -rf "$W"; die "the scratch path $W has a space; hyperfine -N would split it" ;;
esac
if [ "${KEEP:-0}" = 1 ]; then
	trap 'echo "kept $W"' EXIT
else
	trap 'rm -rf "$W"' EXIT
fi
mkdir -p "$W/gbca-ca" "$W/mkcert-ca" "$W/mkcert-p256-ca" "$W/out/gbca" "$W/out/mkcert" "$W/out/certtool"
chmod 700 "$W/gbca-ca"

# --- the CAs, made once ---------------------------------------------------
GBCA_CAROOT=$W/gbca-ca "$gbca" init -q
[ -s "$W/gbca-ca/rootCA-key.pem" ] || die "$gbca init did not make a CA in $W/gbca-ca"
# TRUST_STORES=none: create mkcert's CA without touching any trust store.
(cd "$W/out/mkcert" && CAROOT=$W/mkcert-ca TRUST_STORES=none mkcert -install >/dev/null 2>&1)
[ -s "$W/mkcert-ca/rootCA-key.pem" ] || die "mkcert did not create its CA in $W/mkcert-ca"
# mkcert's own root is RSA-3072, so its leaf signature costs an RSA-3072
# private-key operation. For an extra row, give mkcert gbca's P-256 root
# (a PKCS#8 key, which mkcert loads as it is).
cp "$W/gbca-ca/rootCA.pem" "$W/gbca-ca/rootCA-key.pem" "$W/mkcert-p256-ca/"
# certtool signs with the same P-256 root as gbca.
cat >"$W/certtool.tmpl" <<EOF
organization = "certtool bench"
dns_name = "$NAME"
tls_www_server
signing_key
expiration_days = 825
EOF

o=$W/out
cmd_gbca="$gbca issue -q --out-dir $o/gbca $NAME"
cmd_mkcert="mkcert -ecdsa $NAME"
cmd_key="certtool --generate-privkey --key-type ecdsa --outfile $o/certtool/k.pem"
cmd_crt="certtool --generate-certificate --load-privkey $o/certtool/k.pem --load-ca-certificate $W/gbca-ca/rootCA.pem --load-ca-privkey $W/gbca-ca/rootCA-key.pem --template $W/certtool.tmpl --outfile $o/certtool/c.pem"
# hyperfine gives every command the same environment, so the rows that need
# another one go through env(1); the `env true` and `true` rows measure what
# that wrapper adds, and it is subtracted below.
cmd_mkcert_stores="env -u TRUST_STORES mkcert -ecdsa $NAME"
cmd_mkcert_p256="env CAROOT=$W/mkcert-p256-ca mkcert -ecdsa $NAME"

export GBCA_CAROOT=$W/gbca-ca CAROOT=$W/mkcert-ca TRUST_STORES=none
cd "$o/mkcert"   # mkcert writes into the current folder

# --- check once that each command makes a P-256 leaf for NAME ---------------
run_ok() {
	# shellcheck disable=SC2086 # split into words as hyperfine -N splits it
	$1 >/dev/null 2>&1 || die "this failed: $1"
}
is_p256_leaf() {
	local info
	info=$(certtool -i --infile "$1" 2>/dev/null) || die "$2 wrote no certificate at $1"
	case $info in
	*SECP256R1*"DNSname: $NAME"*) ;;
	*) die "$2 did not write a P-256 certificate for $NAME in $1" ;;
	esac
}
run_ok "$cmd_gbca"
is_p256_leaf "$o/gbca/$NAME.pem" gbca
run_ok "$cmd_mkcert"
is_p256_leaf "$o/mkcert/$NAME.pem" mkcert
run_ok "$cmd_key"
run_ok "$cmd_crt"
is_p256_leaf "$o/certtool/c.pem" certtool
run_ok "$cmd_mkcert_p256"
is_p256_leaf "$o/mkcert/$NAME.pem" "mkcert (P-256 root)"

# --- one hyperfine run ------------------------------------------------------
hyperfine -N -w 10 -r "$RUNS" --style basic \
	--export-json "$W/issue.json" --export-markdown "$W/issue.md" \
	-n gbca "$cmd_gbca" \
	-n mkcert "$cmd_mkcert" \
	-n certtool-key "$cmd_key" \
	-n certtool-cert "$cmd_crt" \
	-n mkcert-stores "$cmd_mkcert_stores" \
	-n mkcert-p256-root "$cmd_mkcert_p256" \
	-n env-true "env true" \
	-n true "true" >&2

# --- report -----------------------------------------------------------------
med() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median * 1000' "$W/issue.json"; }
# the middle half of the runs, "p25-p75", to show how noisy a row was
iqr() {
	jq -r --arg n "$1" '.results[] | select(.command == $n) | .times | sort |
		"\(.[length / 4 | floor] * 1000) \(.[length * 3 / 4 | floor] * 1000)"' "$W/issue.json" |
		awk '{ printf "%.2f-%.2f", $1, $2 }'
}
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }

g=$(med gbca)
m=$(med mkcert)
k=$(med certtool-key)
c=$(med certtool-cert)
ms=$(med mkcert-stores)
mp=$(med mkcert-p256-root)
wrap=$(calc "$(med env-true) - $(med true)")
ct=$(calc "$k + $c")
ms_adj=$(calc "$ms - $wrap")
mp_adj=$(calc "$mp - $wrap")

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
virt=no
grep -qw hypervisor /proc/cpuinfo && virt=yes
fs=$(df --output=fstype "$W" 2>/dev/null | tail -n 1)
[ -n "$fs" ] || fs=$(stat -f -c %T "$W")
read -r load1 _ </proc/loadavg
gnutls=$(pkg-config --modversion gnutls 2>/dev/null || certtool --version | sed -n '1s/^certtool //p')

cat <<EOF

machine: $(nproc) CPUs, ${cpu:-unknown CPU} (virtual machine: $virt), Linux $(uname -r)
$("$gbca" version), GnuTLS $gnutls, $(mkcert -version 2>&1 | head -n 1 | sed 's/^v*/mkcert /'), $(hyperfine --version)
output folder: $W ($fs); $RUNS runs per command after 10 warm-ups
load average at the end: $load1 (noisy numbers? rerun on an idle machine)

| command | median (ms) | middle half of runs (ms) |
|---|---:|---:|
| gbca issue -q (P-256 leaf, fsyncs both files) | $(calc "$g") | $(iqr gbca) |
| mkcert -ecdsa, TRUST_STORES=none (its RSA-3072 root) | $(calc "$m") | $(iqr mkcert) |
| certtool --generate-privkey | $(calc "$k") | $(iqr certtool-key) |
| certtool --generate-certificate | $(calc "$c") | $(iqr certtool-cert) |
| certtool, both steps (sum of medians) | $ct | |
| mkcert -ecdsa, default trust-store checks (env cost removed) | $ms_adj | |
| mkcert -ecdsa with gbca's P-256 root (env cost removed) | $mp_adj | |
| env(1) wrapper itself (env true - true) | $wrap | |

mkcert/gbca   = $(calc "$m / $g")   (goal: >= 1.5)
certtool/gbca = $(calc "$ct / $g")   (goal: > 1)
mkcert with default store checks/gbca = $(calc "$ms_adj / $g")
mkcert with a P-256 root/gbca         = $(calc "$mp_adj / $g")
EOF
if awk "BEGIN { exit !($m / $g >= 1.5 && $ct / $g > 1) }"; then
	echo "goal met"
else
	echo "goal NOT met"
fi
