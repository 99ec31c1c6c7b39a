#!/bin/bash
# End-to-end: gbca serve --upstream https://HOST[:PORT][/PREFIX] (issue 12).
# In a private network and mount namespace, a stand-in Gemini Balance
# (tests/upstream.py over TLS) answers as balancer.test at 127.0.0.7 (a line
# in the namespace's /etc/hosts) with a leaf from a second CA, behind the real
# gbca serve on generativelanguage.googleapis.com. Real clients (curl, Node
# fetch, python requests) with TLS checks on; what the upstream saw (Host,
# SNI, the PREFIX path, resumption) from its record file.
. "$srcdir/tests/ns.sh"
in_namespaces -n -m -- "$@"

. "$srcdir/tests/lib.sh"
serve_test_prelude
need ip curl certtool

SERVE="" UPSTREAM=""
trap serve_test_cleanup EXIT

# The namespace's machine: its own /etc, a hosts file that names the proxy,
# the balancer and a proxy host, and the loopback with 127.0.0.7.
mount --make-rprivate /
private_etc
ip link set lo up
NAME=generativelanguage.googleapis.com
cat > /etc/hosts <<HOSTS
127.0.0.1 localhost
127.0.0.1 $NAME
127.0.0.7 balancer.test x.lb.test
127.0.0.8 proxy.test
HOSTS

# --- 1. what --upstream, --upstream-ca and --upstream-proxy accept -----------
# refused URL ARGS... PATTERN: serve refuses to start (usage error) and says why.
refused() {
	local name=$1 want=${*: -1} out rc
	set -- "${@:2:$(($# - 2))}"
	out=$("$GBCA" serve --config /dev/null --listen 127.0.0.1:18999 "$@" 2>&1 </dev/null); rc=$?
	if [ "$rc" -eq 2 ] && printf '%s' "$out" | grep -Eq -- "$want"; then
		_tap_result 0 "$name"
	else
		_tap_result 1 "$name"; printf '#   rc %s: %s\n#   want: /%s/\n' "$rc" "$out" "$want"
	fi
}
refused "/https-up/config/userinfo" --upstream https://user:pw@balancer.test 'no user name or password'
refused "/https-up/config/query" --upstream 'https://balancer.test/gb?x=1' 'no query or fragment'
refused "/https-up/config/fragment" --upstream 'https://balancer.test/gb#top' 'no query or fragment'
refused "/https-up/config/scheme" --upstream ftp://balancer.test 'http:// or https://'
refused "/https-up/config/port-0" --upstream https://balancer.test:0 'bad port'
refused "/https-up/config/port-big" --upstream https://balancer.test:65536 'bad port'
refused "/https-up/config/port-name" --upstream https://balancer.test:https 'bad port'
refused "/https-up/config/prefix-dots" --upstream https://balancer.test/a/../b 'dot segment'
refused "/https-up/config/prefix-space" --upstream 'https://balancer.test/a b' 'percent-encoded'
# A loop by construction: the upstream is a name this proxy serves.
refused "/https-up/config/loop-google" --upstream https://generativelanguage.googleapis.com/gb \
	"can't be generativelanguage.googleapis.com"
refused "/https-up/config/loop-google-case" --upstream https://GenerativeLanguage.GoogleAPIs.com \
	"can't be"
refused "/https-up/config/loop-name" --name localhost --upstream https://localhost:8443 'a name this proxy serves'
refused "/https-up/config/loop-name-after" --upstream https://localhost:8443 --name localhost 'a name this proxy serves'
refused "/https-up/config/loop-wildcard" --name '*.lb.test' --upstream https://x.lb.test 'a name this proxy serves'
refused "/https-up/config/proxy-https" --upstream https://localhost --upstream-proxy https://127.0.0.1:3128 'http:// proxy'
refused "/https-up/config/proxy-equals" --upstream https://localhost --upstream-proxy=https://127.0.0.1:3128 'http:// proxy'
refused "/https-up/config/proxy-userinfo" --upstream https://localhost --upstream-proxy http://u:p@127.0.0.1:3128 'no user name'
refused "/https-up/config/proxy-path" --upstream https://localhost --upstream-proxy http://127.0.0.1:3128/x 'no path'
# the environment and the config file name the setting
out=$(GBCA_UPSTREAM_PROXY=https://127.0.0.1:3128 "$GBCA" serve --config /dev/null --upstream https://localhost 2>&1)
like "/https-up/config/proxy-env-var" "$out" 'GBCA_UPSTREAM_PROXY: --upstream-proxy takes an http:// proxy'
printf 'upstream = https://localhost\nupstream-proxy = https://127.0.0.1:3128\n' > "$TMP/bad.conf"
out=$("$GBCA" serve --config "$TMP/bad.conf" 2>&1)
like "/https-up/config/proxy-config-file" "$out" 'bad.conf line 2: --upstream-proxy takes an http:// proxy'
out=$(HTTPS_PROXY=https://127.0.0.1:3128 "$GBCA" serve --config /dev/null --upstream https://localhost --upstream-proxy env 2>&1)
like "/https-up/config/proxy-env-https" "$out" 'HTTPS_PROXY is an https:// proxy'

done_testing
