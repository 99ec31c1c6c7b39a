# Sourced first, before lib.sh, by the tests that run in private namespaces.
# in_namespaces UNSHARE-FLAG... -- "$@": re-runs this script once inside
# `unshare UNSHARE-FLAG...`, so that what it changes (mounts over /etc, the
# network) never reaches the machine. Without root or unshare it skips, except
# in CI, which must run everything.
in_namespaces() {
	local flags=()
	while [ "$1" != -- ]; do
		flags+=("$1")
		shift
	done
	shift
	[ -n "${GBCA_IN_NS:-}" ] && return 0
	if [ "$(id -u)" != 0 ] || ! unshare "${flags[@]}" true 2>/dev/null; then
		[ -n "${CI:-}" ] && { echo "Bail out! needs root and unshare in CI"; exit 1; }
		echo "1..0 # SKIP needs root and private namespaces (unshare ${flags[*]})"
		exit 0
	fi
	exec unshare "${flags[@]}" env GBCA_IN_NS=1 bash "$0" "$@"
}
