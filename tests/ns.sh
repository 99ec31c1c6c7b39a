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
	if [ -n "${GBCA_IN_NS:-}" ]; then
		# GBCA_IN_NS is the mount namespace the exec below left; a value leaked
		# into a hand run is refused rather than trusted.
		case "$GBCA_IN_NS" in
		"$(readlink /proc/self/ns/mnt)"|mnt:\[*\]) ;;
		*) echo "Bail out! GBCA_IN_NS=$GBCA_IN_NS was not set by in_namespaces"; exit 1 ;;
		esac
		if [[ " ${flags[*]} " == *" -m "* ]] && [ "$GBCA_IN_NS" = "$(readlink /proc/self/ns/mnt)" ]; then
			echo "Bail out! GBCA_IN_NS is set, but this is the mount namespace the test started in"
			exit 1
		fi
		return 0
	fi
	if [ "$(id -u)" != 0 ] || ! unshare "${flags[@]}" true 2>/dev/null; then
		[ -n "${CI:-}" ] && { echo "Bail out! needs root and unshare in CI"; exit 1; }
		echo "1..0 # SKIP needs root and private namespaces (unshare ${flags[*]})"
		exit 0
	fi
	exec unshare "${flags[@]}" env GBCA_IN_NS="$(readlink /proc/self/ns/mnt)" bash "$0" "$@"
}
