# Shared helpers for gbca's shell tests: TAP output with named cases, a private
# temp dir removed by a trap, and the trust variables of the machine unset.
# Usage: . "$srcdir/tests/lib.sh"; then `ok NAME CMD...`, `fails NAME CMD...`,
# `is NAME GOT WANT`, `skip_all REASON`, and `done_testing` at the end.

set -u
: "${GBCA:?GBCA must point at the gbca binary (make check sets it)}"

# The machines export these; a test that keeps them can pass for the wrong reason.
unset NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE REQUESTS_CA_BUNDLE \
      GBCA_CAROOT XDG_DATA_HOME

TAP_N=0
TAP_FAILED=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/gbca-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export HOME="$TMP/home"
mkdir -p "$HOME"

# --- processes, for the tests that start gbca serve ---
# gbca_pids: the gbca processes of this network namespace (serve and its workers).
gbca_pids() {
	local p want ns
	want=$(readlink -f "$GBCA") ns=$(readlink /proc/self/ns/net)
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$want" ] || continue
		[ "$(readlink "$p/ns/net" 2>/dev/null)" = "$ns" ] || continue
		echo "${p#/proc/}"
	done
}
# wait_until TENTHS CMD...: retry CMD every 0.1 s, TENTHS times at most.
wait_until() {
	local n=$1; shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }
no_gbca_left() { [ -z "$(gbca_pids)" ]; }

_tap_result() { # status name
	TAP_N=$((TAP_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $TAP_N - $2"
	else
		echo "not ok $TAP_N - $2"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
}

# ok NAME CMD...: passes when CMD exits 0; its output is shown on failure.
ok() {
	local name=$1 out rc; shift
	out=$("$@" 2>&1); rc=$?
	_tap_result "$rc" "$name"
	[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
	return 0
}

# fails NAME CMD...: passes when CMD exits non-zero.
fails() {
	local name=$1 out rc; shift
	out=$("$@" 2>&1); rc=$?
	if [ "$rc" -ne 0 ]; then _tap_result 0 "$name"; else _tap_result 1 "$name"; printf '%s\n' "$out" | sed 's/^/# /'; fi
	return 0
}

# is NAME GOT WANT
is() {
	if [ "$2" = "$3" ]; then _tap_result 0 "$1"; else _tap_result 1 "$1"; echo "#   got: '$2'"; echo "#  want: '$3'"; fi
}

# like NAME TEXT PATTERN (grep -E)
like() {
	if printf '%s' "$2" | grep -Eq -- "$3"; then _tap_result 0 "$1"; else _tap_result 1 "$1"; printf '%s\n' "#   text: $2" "#   want: /$3/"; fi
}

skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

# need TOOL...: skip the whole file when a tool is missing, except in CI, where
# every tool is installed and a missing one is a failure.
need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 && continue
		if [ -n "${CI:-}" ]; then
			echo "Bail out! $t is missing in CI; .ci/run must install it"
			exit 1
		fi
		skip_all "$t is not installed"
	done
}

# The plan line; the exit status stays 0 so that a failed case is counted once
# (as FAIL) and not again as an ERROR of the whole script.
done_testing() {
	echo "1..$TAP_N"
	exit 0
}

# sandbox_trust_store: private copies of the system trust store and of the
# state its update hooks write (ca-certificates-java's queue of pending
# certificates and the dpkg trigger state it uses), bind-mounted over the
# real paths. Call it inside a private mount namespace (unshare -m, after
# `mount --make-rprivate /`): update-ca-certificates then changes nothing of
# the machine's, and tests running side by side don't race on dpkg's lock.
sandbox_trust_store() {
	local p
	for p in /etc/ssl/certs /usr/local/share/ca-certificates /etc/ca-certificates.conf \
	         /var/lib/ca-certificates-java /var/lib/dpkg; do
		[ -e "$p" ] || continue
		mkdir -p "$(dirname "$TMP/sys$p")"
		cp -a "$p" "$TMP/sys$p"
		mount --bind "$TMP/sys$p" "$p"
	done
}

# --- Python as people install it (issue 13) ---
# certifi_python: prints the interpreter behind the python3 that a login
# shell of the real user finds (pyenv, venv, conda), if its requests uses a
# certifi bundle of its own rather than the system's (Debian's certifi is
# the system bundle, so it proves nothing). Without one (a fresh Debian, as
# in CI) it makes what `pip install certifi` gives a venv: a certifi package
# whose where() names Mozilla's bundle, taken from the copy pip vendors in
# Debian's python3-pip-whl, beside Debian's requests. Fails when neither.
certifi_python() {
	local home p exe v sp
	home=$(getent passwd "$(id -u)" | cut -d: -f6)
	for p in "$(env HOME="$home" bash -lc 'command -v python3' 2>/dev/null)" "$home"/.pyenv/versions/3*/bin/python3; do
		[ -x "$p" ] || continue
		exe=$(env HOME="$home" "$p" -c 'import sys, certifi, requests
w = certifi.where()
sys.exit(w.startswith(("/etc/", "/usr/share/")) or print(sys.executable))' 2>/dev/null) && [ -x "$exe" ] &&
			{ echo "$exe"; return 0; }
	done
	v="$TMP/certifi-venv"
	/usr/bin/python3 -m venv --system-site-packages --without-pip "$v" >/dev/null 2>&1 || return 1
	sp=$("$v/bin/python3" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') || return 1
	mkdir -p "$sp/certifi"
	"$v/bin/python3" -c 'import glob, sys, zipfile
w = sorted(glob.glob("/usr/share/python-wheels/pip-*.whl"))[-1]
open(sys.argv[1], "wb").write(zipfile.ZipFile(w).read("pip/_vendor/certifi/cacert.pem"))' "$sp/certifi/cacert.pem" 2>/dev/null || return 1
	printf '%s\n' 'import os' 'def where():' '    return os.path.join(os.path.dirname(__file__), "cacert.pem")' \
	       'def contents():' '    return open(where(), encoding="ascii").read()' > "$sp/certifi/__init__.py"
	"$v/bin/python3" -c 'import certifi, requests.certs, sys; sys.exit(requests.certs.where() != certifi.where())' 2>/dev/null || return 1
	echo "$v/bin/python3"
}
# py_get PYTHON requests|urllib URL: GET from an interactive bash (which reads
# the rc files) with PYTHON first on PATH; exit 0 on a 200.
py_get() {
	local code
	case $2 in
	requests) code="import requests,sys; sys.exit(requests.get('$3', timeout=10).status_code != 200)" ;;
	urllib) code="import urllib.request,sys; sys.exit(urllib.request.urlopen('$3', timeout=10).status != 200)" ;;
	esac
	env -u SSL_CERT_FILE -u REQUESTS_CA_BUNDLE PATH="$(dirname "$1"):$PATH" bash -ic "python3 -c \"$code\"" 2>&1
}
# py_cert_error PYTHON requests|urllib URL: passes when that GET fails on the
# certificate (not on a name, a port or anything else).
py_cert_error() {
	py_get "$@" | grep -q CERTIFICATE_VERIFY_FAILED
}

# private_etc: a private copy of /etc on a tmpfs mounted over it (inside a
# private mount namespace), so that what gbca writes beside /etc/hosts (its
# backup /etc/hosts.gbca-backup) or elsewhere in /etc never reaches the
# machine, nor races with other tests. Call it before sandbox_trust_store.
# (The tmpfs goes with the namespace: mounts made on it later leave nothing
# behind in $TMP that the cleanup could trip over.)
# Tests that still write the machine's /etc (only /etc/hosts private) may
# have a hosts.gbca-backup there for a moment: the copy starts without it.
private_etc() {
	# Never the machine's /etc: GBCA_IN_NS holds the mount namespace the test
	# was started in (tests/ns.sh); this one must be another, and the tmpfs
	# must be over /etc, before anything writes there.
	if [ -z "${GBCA_IN_NS:-}" ] || [ "$GBCA_IN_NS" = "$(readlink /proc/self/ns/mnt)" ]; then
		echo "Bail out! private_etc: not in a mount namespace of the test's own; /etc left alone"
		exit 1
	fi
	cp -a /etc "$TMP/etc" && mount -t tmpfs -o mode=755 gbca-etc /etc && cp -a "$TMP/etc/." /etc && rm -rf "$TMP/etc" &&
		rm -f /etc/hosts.gbca-backup
	if [ "$(findmnt -n -o SOURCE --mountpoint /etc 2>/dev/null)" != gbca-etc ]; then
		echo "Bail out! private_etc: the tmpfs is not over /etc; /etc left alone"
		exit 1
	fi
}

# readme_block TEXT: the first ```sh block of README.md after the line that
# contains TEXT, so tests run README's commands as written.
readme_block() {
	awk -v start="$1" 'index($0, start) { on = 1 } on && /^```sh/ { inb = 1; next } inb && /^```/ { exit } inb { print }' "$srcdir/README.md"
}

# sandbox_machine: inside unshare -n -m, a machine of the test's own: the
# loopback up, a private /etc whose hosts file holds only localhost, a
# private trust store in the state its hooks keep, and no service manager to
# reach (tmpfs over /run/systemd and /run/dbus: systemctl, as 'gbca up
# --service' runs it, can't touch the machine's).
sandbox_machine() {
	local d
	mount --make-rprivate /
	ip link set lo up
	private_etc
	sandbox_trust_store
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > /etc/hosts
	update-ca-certificates >/dev/null 2>&1
	for d in /run/systemd /run/dbus; do
		[ -d "$d" ] && mount -t tmpfs none "$d"
	done
	return 0
}

# start_upstream PORT: tests/upstream.py (the stand-in Gemini Balance) on
# 127.0.0.1:PORT, recording into $TMP/record.jsonl; UPSTREAM is its pid.
start_upstream() {
	/usr/bin/python3 "$srcdir/tests/upstream.py" --port "$1" --record "$TMP/record.jsonl" > "$TMP/upstream.out" 2>&1 &
	UPSTREAM=$!
	wait_until 50 grep -q ready "$TMP/upstream.out" || echo "# the test upstream did not start"
}

# add_test_user: after private_etc (sandbox_machine), a real non-root user
# gbcau (uid $U=4242, home $UH=$TMP/u, owned by them) in the private passwd,
# group and shadow.
add_test_user() {
	U=4242
	UH="$TMP/u"
	chmod 755 "$TMP"
	mkdir -p "$UH"
	chown $U:$U "$UH"
	echo "gbcau:x:$U:$U:gbca test user:$UH:/bin/bash" >> /etc/passwd
	echo "gbcau:x:$U:" >> /etc/group
	echo "gbcau:*:19000:0:99999:7:::" >> /etc/shadow
}

# serve_test_prelude: how each `gbca serve` test starts: none of serve's
# GBCA_* settings, proxies or socket-activation variables from the caller, a
# skip while serve is not built, and PY, the system python3 (its own requests,
# not a pyenv's).
serve_test_prelude() {
	unset GBCA_LISTEN GBCA_HTTP_LISTEN GBCA_UPSTREAM GBCA_NAMES GBCA_WORKERS GBCA_CORS \
	      GBCA_ACCESS_LOG GBCA_USER GBCA_UPSTREAM_CA GBCA_UPSTREAM_PROXY \
	      HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy NO_PROXY no_proxy \
	      LISTEN_PID LISTEN_FDS LISTEN_FDNAMES
	"$GBCA" serve --help >/dev/null 2>&1 || skip_all "gbca serve is not built yet ('gbca serve --help' failed)"
	PY=/usr/bin/python3
	[ -x "$PY" ] || need python3
}
# serve_test_cleanup: their EXIT trap: stop $SERVE and $UPSTREAM, kill any
# gbca left (a stopped one is continued first), remove $TMP.
serve_test_cleanup() {
	local p
	[ -n "$SERVE" ] && kill -TERM "$SERVE" 2>/dev/null
	[ -n "$UPSTREAM" ] && kill -TERM "$UPSTREAM" 2>/dev/null
	for p in $(gbca_pids); do kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
