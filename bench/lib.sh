# Shared by the bench/ scripts; sourced after setting `here` (the bench folder).
# Defines die (messages prefixed with the script's name) and find_gbca.

die() {
	echo "bench/$(basename "$0"): $*" >&2
	exit 1
}

# find_gbca [path-to-gbca]: sets gbca to the absolute path of the binary given,
# else ./gbca, else the one in the source tree next to bench/.
find_gbca() {
	if [ $# -gt 1 ]; then
		die "usage: bench/$(basename "$0") [path-to-gbca]"
	elif [ $# -eq 1 ]; then
		gbca=$1
	elif [ -f ./gbca ] && [ -x ./gbca ]; then
		gbca=./gbca
	elif [ -f "$here/../gbca" ] && [ -x "$here/../gbca" ]; then
		gbca=$here/../gbca
	else
		die "no gbca binary in . or $here/..; build it (see docs/benchmarks.md) or pass its path"
	fi
	[ -f "$gbca" ] && [ -x "$gbca" ] || die "$gbca is not an executable file"
	gbca=$(cd "$(dirname "$gbca")" && pwd)/$(basename "$gbca")
}
