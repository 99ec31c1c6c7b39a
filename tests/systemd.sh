#!/bin/bash
# gbca up --service under a real systemd: a systemd-nspawn container booted
# from a debootstrapped Debian 12 (built once per machine, outside the clone,
# in $GBCA_TEST_ROOTFS; every boot is --volatile=overlay, so the rootfs stays
# as built), with its own network (loopback only) and this build bound
# read-only at /opt/gbca. Inside: the stand-in Gemini Balance as a transient
# unit, 'gbca up --service', README's curl with the system trust store,
# 'systemctl reload' keeps serving, so does serve's own renewal of a
# short-lived leaf, 'up --service -- --cors *' makes CORS live, 'down' stops
# the unit, 'uninstall --purge' removes it.
. "$srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || { [ -n "${CI:-}" ] && { echo "Bail out! needs root in CI"; exit 1; }; skip_all "needs root"; }
need systemd-nspawn debootstrap nsenter flock pgrep curl openssl certtool

ROOTFS=${GBCA_TEST_ROOTFS:-/var/cache/gbca-test-rootfs}
INCLUDE=systemd,systemd-sysv,dbus,ca-certificates,python3,curl,libgnutls30,libtasn1-6,libp11-kit0,libasan8,libubsan1,iproute2
NAME=generativelanguage.googleapis.com

# The Debian mirror this machine's apt uses (deb822 or one-line sources).
mirror() {
	grep -rhoE '(URIs: |^deb )https?://[^ ]*/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
		sed -E 's/^(URIs: |deb )//; s/ $//' | head -n1
}

# Builds the rootfs once (about a minute), under a lock so that parallel runs
# wait for one build; a half-built tree is never left where a run looks.
ensure_rootfs() {
	exec 9> "$ROOTFS.lock"
	flock -w 900 9 || return 1
	if [ "$(cat "$ROOTFS/.gbca-include" 2>/dev/null)" != "$INCLUDE" ]; then
		local m
		m=$(mirror)
		[ -n "$m" ] || m=http://deb.debian.org/debian
		rm -rf "$ROOTFS.tmp"
		echo "# building $ROOTFS from $m (once per machine)"
		timeout 900 debootstrap --variant=minbase --include="$INCLUDE" bookworm "$ROOTFS.tmp" "$m" > "$TMP/debootstrap.log" 2>&1 ||
			{ tail -n 20 "$TMP/debootstrap.log" | sed 's/^/# /'; rm -rf "$ROOTFS.tmp"; return 1; }
		echo "$INCLUDE" > "$ROOTFS.tmp/.gbca-include"
		rm -rf "$ROOTFS"
		mv "$ROOTFS.tmp" "$ROOTFS"
	fi
	exec 9>&-
}
ensure_rootfs || { echo "Bail out! could not build the container's rootfs in $ROOTFS"; exit 1; }

NSPAWN=
cleanup() {
	if [ -n "$NSPAWN" ]; then
		kill -TERM "$NSPAWN" 2>/dev/null   # nspawn halts the container
		wait_until 300 gone "$NSPAWN" || kill -KILL "$NSPAWN" 2>/dev/null
	fi
	wait 2>/dev/null
	[ -n "${KEEP_TMP:-}" ] && cp "$TMP/nspawn.log" /tmp/up/nspawn.log; rm -rf "$TMP"
}
trap cleanup EXIT

# systemd wants a machine id, and the overlay would otherwise share the image's.
systemd-nspawn -D "$ROOTFS" --boot --register=no --keep-unit --private-network --volatile=overlay \
	--console=passive --bind-ro="$builddir:/opt/gbca" --bind-ro="$srcdir:/opt/gbca-src" \
	> "$TMP/nspawn.log" 2>&1 &
NSPAWN=$!
# The container's PID 1: nspawn's child once it has become systemd (before
# that, a short-lived helper of nspawn's is its child).
init_pid() { pgrep -x -P "$NSPAWN" systemd | head -n1 | grep .; }
wait_until 300 init_pid || { sed 's/^/# /' "$TMP/nspawn.log"; echo "Bail out! the container did not start"; exit 1; }
INIT=$(init_pid)
inside() { nsenter -t "$INIT" -a --wdns=/ env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
booted() { case $(inside systemctl is-system-running 2>/dev/null) in running|degraded) return 0 ;; esac; return 1; }
if ! wait_until 600 booted; then
	inside systemctl list-units --failed --no-pager 2>&1 | sed 's/^/# /'
	tail -n 20 "$TMP/nspawn.log" | sed 's/^/# /'
	echo "Bail out! the container did not boot within 60 s"
	exit 1
fi

GBCA_IN=/opt/gbca/gbca
# A minbase rootfs has no /etc/hosts; every installed Debian has (netbase).
inside sh -c 'printf "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" > /etc/hosts'
inside systemd-run --quiet --unit=upstream /usr/bin/python3 /opt/gbca-src/tests/upstream.py --port 8000 --record /run/upstream.jsonl
upstream_up() { inside curl -s -o /dev/null http://127.0.0.1:8000/echo; }
ok "/systemd/upstream" wait_until 100 upstream_up

out=$(inside "$GBCA_IN" up --service 2>&1); rc=$?
is "/systemd/up-service/exit-0" "$rc" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
is "/systemd/up-service/active" "$(inside systemctl is-active gbca-serve.service)" active
is "/systemd/up-service/enabled" "$(inside systemctl is-enabled gbca-serve.service)" enabled

# README's curl, with the system trust store (no -k, no --cacert).
curl_block=$(readme_block 'Then, with no TLS workaround anywhere')
readme_curl() {
	inside env YOUR_GEMINI_BALANCE_TOKEN=sk-systemd bash -c "$curl_block -sS --max-time 10 -o /dev/null -w '%{http_code}'"
}
serving() { [ "$(readme_curl 2>/dev/null)" = 200 ]; }
ok "/systemd/readme-curl" wait_until 100 serving
is "/systemd/readme-curl-code" "$(readme_curl 2>&1)" 200

# reload: SIGHUP to the same main process, which keeps serving.
main_pid() { inside systemctl show -P MainPID gbca-serve.service; }
before=$(main_pid)
ok "/systemd/reload" inside systemctl reload gbca-serve.service
is "/systemd/reload/same-main-pid" "$(main_pid)" "$before"
ok "/systemd/reload/still-serving" wait_until 50 serving

# A renewal while running as the unit: a leaf of ours in CAROOT/serve/, signed
# by the CA with the host's certtool, valid from 20 s ago to 25 s from now, so
# that serve (once 'systemctl reload' has re-read it, as not yet due) renews it
# by itself 10 s from now; the main process and the unit stay, README's curl
# keeps getting 200.
CAROOT_IN=$(inside "$GBCA_IN" caroot)
CR=/proc/$INIT/root$CAROOT_IN
# The leaf that answers on the container's loopback (host openssl, its network).
served() {
	nsenter -t "$INIT" -n openssl s_client -connect 127.0.0.1:443 -servername "$NAME" < /dev/null 2>/dev/null |
		openssl x509 -noout "$@" 2>&1
}
printf '%s\n' "cn = \"$NAME\"" "dns_name = \"$NAME\"" "serial = 4662" \
	"activation_date = \"$(date -u -d "@$(($(date +%s) - 20))" '+%Y-%m-%d %H:%M:%S')\"" \
	"expiration_date = \"$(date -u -d "@$(($(date +%s) + 25))" '+%Y-%m-%d %H:%M:%S')\"" \
	tls_www_server signing_key > "$TMP/leaf.tmpl"
(umask 077 && TZ=UTC certtool --generate-privkey --key-type ecdsa --outfile "$TMP/leaf-key.pem" 2>/dev/null &&
	TZ=UTC certtool --generate-certificate --load-privkey "$TMP/leaf-key.pem" --template "$TMP/leaf.tmpl" \
		--load-ca-certificate "$CR/rootCA.pem" --load-ca-privkey "$CR/rootCA-key.pem" \
		--outfile "$TMP/leaf.pem" > /dev/null 2>&1 &&
	chmod 644 "$TMP/leaf.pem" &&
	cp "$TMP/leaf-key.pem" "$CR/serve/$NAME-key.pem" && cp "$TMP/leaf.pem" "$CR/serve/$NAME.pem")
ok "/systemd/renewal/short-leaf-reloaded" inside systemctl reload gbca-serve.service
short() { [ "$(served -serial)" = "serial=1236" ]; }
ok "/systemd/renewal/short-leaf-served" wait_until 50 short
before=$(main_pid)
# README's curl, over and over (bounded), across the renewal.
( n=0; while [ ! -e "$TMP/stop" ] && [ $n -lt 300 ]; do
	echo "$(readme_curl 2>&1)" >> "$TMP/codes"; n=$((n + 1)); sleep 0.1
done ) &
loop=$!
renewed() { s=$(served -serial) && [ "$s" != "serial=1236" ] && [ "$s" != "${s#serial=}" ]; }
ok "/systemd/renewal/renewed" wait_until 300 renewed
is "/systemd/renewal/serves-the-new-file" "$(served -serial)" "$(openssl x509 -noout -serial -in "$CR/serve/$NAME.pem")"
ok "/systemd/renewal/new-leaf-lasts" openssl x509 -noout -checkend $((100 * 86400)) -in "$CR/serve/$NAME.pem"
like "/systemd/renewal/logged" "$(inside journalctl -u gbca-serve.service -o cat --no-pager)" "renewal: certificates re-read"
is "/systemd/renewal/same-main-pid" "$(main_pid)" "$before"
is "/systemd/renewal/active" "$(inside systemctl is-active gbca-serve.service)" active
is "/systemd/renewal/no-restarts" "$(inside systemctl show -P NRestarts gbca-serve.service)" 0
sleep 0.5
touch "$TMP/stop"
wait "$loop"
is "/systemd/renewal/curl-200-across" "$(sort -u "$TMP/codes")" 200
ok "/systemd/renewal/curl-ran-across" test "$(grep -c . "$TMP/codes")" -ge 2

# New serve options converge into the unit, and are live.
preflight() {
	inside curl -sS --max-time 10 -D - -o /dev/null -X OPTIONS "https://$NAME/v1beta/models/m:generateContent" \
		-H 'Origin: https://app.example.test' -H 'Access-Control-Request-Method: POST' | tr -d '\r' |
		grep -i '^access-control-allow-origin:'
}
is "/systemd/cors/off-before" "$(preflight)" ""
out=$(inside "$GBCA_IN" up --service -- --cors '*' 2>&1); rc=$?
is "/systemd/cors/up-exit-0" "$rc" 0
like "/systemd/cors/unit-updated" "$out" "unit gbca-serve is updated"
like "/systemd/cors/in-execstart" "$(inside systemctl show -P ExecStart gbca-serve.service)" "serve --cors \* "
ok "/systemd/cors/systemd-analyze-verify" inside systemd-analyze verify /etc/systemd/system/gbca-serve.service
cors_live() { preflight | grep -q ': \*$'; }
ok "/systemd/cors/live" wait_until 100 cors_live
out=$(inside "$GBCA_IN" up --service -- --cors '*' 2>&1)
like "/systemd/cors/again-unchanged" "$out" "options unchanged"

out=$(inside "$GBCA_IN" down 2>&1); rc=$?
is "/systemd/down/exit-0" "$rc" 0
is "/systemd/down/inactive" "$(inside systemctl is-active gbca-serve.service)" inactive
fails "/systemd/down/hosts-off" inside grep -q "$NAME" /etc/hosts
fails "/systemd/down/curl-fails" serving

out=$(inside "$GBCA_IN" uninstall --purge 2>&1); rc=$?
is "/systemd/uninstall/exit-0" "$rc" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
ok "/systemd/uninstall/unit-gone" inside test ! -e /etc/systemd/system/gbca-serve.service
fails "/systemd/uninstall/systemd-forgot-it" inside systemctl cat gbca-serve.service
done_testing
