#!/bin/bash
# gbca up as users type it: every documented form of its options, serve's
# options after --, re-running with new options, and no half-done state when
# the proxy can't start or stops. In private network and mount namespaces: a
# private /etc (hosts file, trust store), a temp HOME, the test upstream on
# 127.0.0.1:8001 (not the default port, so a lost --upstream shows), and no
# systemd to reach (a tmpfs over /run/systemd). The unit file goes under
# GBCA_SYSROOT.
. "$srcdir/tests/ns.sh"
in_namespaces -n -m -- "$@"

. "$srcdir/tests/lib.sh"
need update-ca-certificates curl ip python3
sandbox_machine

NAME=generativelanguage.googleapis.com
CAROOT="$HOME/.local/share/gbca"
UP=http://127.0.0.1:8001
SERVE_OPTS=(--workers 1 --user root --access-log off)

start_upstream 8001
trap 'kill $UPSTREAM 2>/dev/null; "$GBCA" down >/dev/null 2>&1; kill $(gbca_pids) 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT

# up, bounded: an up that serves in the foreground by mistake must not hang the test.
up() { timeout 60 "$GBCA" up "$@" > "$TMP/up.out" 2>&1; }
show() { sed 's/^/# /' "$TMP/up.out"; }
serve_pid() { cat "$CAROOT/serve.pid" 2>/dev/null; }
hosts_on() { grep -q "^127.0.0.1 $NAME" /etc/hosts; }
# README's curl: system trust, no -k, no --cacert.
seed_curl() {
	curl -sS --max-time 10 -o "$TMP/body" -w '%{http_code}' \
		"https://$NAME${1:+:$1}/v1beta/models/gemini-2.5-flash:generateContent" \
		-H "x-goog-api-key: sk-test-123" -H 'Content-Type: application/json' \
		-d '{"contents":[{"parts":[{"text":"Hi"}]}]}'
}
preflight_origin() {
	curl -sS --max-time 10 -D - -o /dev/null -X OPTIONS "https://$NAME/v1beta/models/m:generateContent" \
		-H 'Origin: https://app.example.test' -H 'Access-Control-Request-Method: POST' |
		tr -d '\r' | grep -i '^access-control-allow-origin:'
}

# --- the forms ---------------------------------------------------------------
up --upstream "$UP" -- "${SERVE_OPTS[@]}"; rc=$?
is "/up/upstream-space/exit-0" "$rc" 0
[ "$rc" = 0 ] || show
is "/up/upstream-space/curl" "$(seed_curl)" 200
like "/up/upstream-space/reached-upstream" "$(cat "$TMP/body" 2>/dev/null)" "hello from upstream"
like "/up/background/says-where" "$(cat "$TMP/up.out")" "serve: in the background \(pid [0-9]+; log .*/serve\.log\)"
ok "/up/background/returned-while-serving" kill -0 "$(serve_pid)"
"$GBCA" down > /dev/null 2>&1
ok "/down/stops-background" wait_until 50 sh -c "! (exec 3<>/dev/tcp/127.0.0.1/443) 2>/dev/null"

up --upstream="$UP" -- "${SERVE_OPTS[@]}"; rc=$?
is "/up/upstream-equals/exit-0" "$rc" 0
[ "$rc" = 0 ] || show
is "/up/upstream-equals/curl" "$(seed_curl)" 200
"$GBCA" down > /dev/null 2>&1

up --no-hosts -- "${SERVE_OPTS[@]}" --listen 127.0.0.1:8443 --upstream "$UP"; rc=$?
is "/up/no-hosts-serve-options/exit-0" "$rc" 0
[ "$rc" = 0 ] || show
fails "/up/no-hosts-serve-options/hosts-untouched" hosts_on
is "/up/no-hosts-serve-options/curl" \
	"$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' --resolve "$NAME:8443:127.0.0.1" \
		"https://$NAME:8443/v1beta/models/m:generateContent" -H 'x-goog-api-key: k' -d '{}')" 200
"$GBCA" down > /dev/null 2>&1

# --- re-running converges ----------------------------------------------------
up --upstream "$UP" -- "${SERVE_OPTS[@]}"
first=$(serve_pid)
is "/up/converge/no-cors-yet" "$(preflight_origin)" ""
up --upstream "$UP" -- "${SERVE_OPTS[@]}" --cors '*'; rc=$?
is "/up/converge/new-options-exit-0" "$rc" 0
[ "$rc" = 0 ] || show
like "/up/converge/new-options-restart" "$(cat "$TMP/up.out")" "stopped gbca serve \(pid $first\), to start it with the new options"
like "/up/converge/cors-live" "$(preflight_origin)" ": \*$"
second=$(serve_pid)
up --upstream "$UP" -- "${SERVE_OPTS[@]}" --cors '*'
like "/up/converge/same-options-kept" "$(cat "$TMP/up.out")" "already running in the background \(pid $second\) with these options"
is "/up/converge/same-pid" "$(serve_pid)" "$second"
"$GBCA" down > /dev/null 2>&1

# --- no half-done state --------------------------------------------------------
# Something else holds 127.0.0.1:443: up says so and turns the hosts entry off again.
/usr/bin/python3 -c 'import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 443)); s.listen(); print("ready", flush=True); time.sleep(60)' > "$TMP/squatter.out" 2>&1 &
SQUAT=$!
wait_until 50 grep -q ready "$TMP/squatter.out"
up --upstream "$UP" -- "${SERVE_OPTS[@]}"; rc=$?
is "/up/port-taken/exit-1" "$rc" 1
like "/up/port-taken/says-why" "$(cat "$TMP/up.out")" "something else listens on 127.0.0.1:443"
like "/up/port-taken/says-hosts-off" "$(cat "$TMP/up.out")" "proxy can.t start: the hosts entry goes off too"
fails "/up/port-taken/hosts-off" hosts_on
kill $SQUAT; wait $SQUAT 2>/dev/null
# The proxy itself fails (a certificate that isn't there): the same.
up --upstream "$UP" -- "${SERVE_OPTS[@]}" --cert "$TMP/none.pem" --key "$TMP/none-key.pem"; rc=$?
is "/up/serve-fails/exit-1" "$rc" 1
like "/up/serve-fails/shows-log" "$(cat "$TMP/up.out")" "none\.pem"
fails "/up/serve-fails/hosts-off" hosts_on
is "/up/serve-fails/nothing-left" "$(gbca_pids)" ""

# --foreground: Ctrl-C (SIGINT) or SIGTERM stops the proxy and the hosts entry goes with it.
for sig in INT TERM; do
	"$GBCA" up --foreground --upstream "$UP" -- "${SERVE_OPTS[@]}" > "$TMP/fg-$sig.out" 2>&1 &
	FG=$!
	wait_until 300 grep -q "listening on" "$TMP/fg-$sig.out"
	ok "/up/foreground-$sig/hosts-on" hosts_on
	is "/up/foreground-$sig/curl" "$(seed_curl)" 200
	kill -$sig $FG
	wait_until 400 gone $FG
	wait $FG; rc=$?
	is "/up/foreground-$sig/exit-0" "$rc" 0
	fails "/up/foreground-$sig/hosts-off" hosts_on
	like "/up/foreground-$sig/says-so" "$(cat "$TMP/fg-$sig.out")" "serve: stopped: the hosts entry goes off too"
done

# A background up while a --foreground one serves: the foreground one goes
# (taking its hosts entry), then the entry is on again for the new proxy.
"$GBCA" up --foreground --upstream "$UP" -- "${SERVE_OPTS[@]}" > "$TMP/fg-switch.out" 2>&1 &
FG=$!
wait_until 300 grep -q "listening on" "$TMP/fg-switch.out"
up --upstream "$UP" -- "${SERVE_OPTS[@]}"; rc=$?
is "/up/foreground-then-background/exit-0" "$rc" 0
like "/up/foreground-then-background/replaced" "$(cat "$TMP/up.out")" "stopped gbca serve \(pid $FG\)"
ok "/up/foreground-then-background/foreground-gone" gone $FG
ok "/up/foreground-then-background/hosts-on" hosts_on
is "/up/foreground-then-background/curl" "$(seed_curl)" 200
"$GBCA" down > /dev/null 2>&1
wait $FG 2>/dev/null

# --- --service: the unit (under GBCA_SYSROOT; systemctl has no systemd here) ---
SYS="$TMP/sysroot"
UNIT="$SYS/etc/systemd/system/gbca-serve.service"
mkdir -p "$SYS/etc/systemd/system"
GBCA_SYSROOT=$SYS up --service --no-trust --no-hosts --upstream "$UP" -- --cors '*' --workers 1
ok "/up/service/unit-written" test -f "$UNIT"
like "/up/service/cors-in-unit" "$(grep '^ExecStart=' "$UNIT" 2>/dev/null)" '"serve" "--cors" "\*" "--workers" "1" "--upstream" "http://127.0.0.1:8001"$'
like "/up/service/descriptor-limit" "$(grep "^LimitNOFILE=" "$UNIT" 2>/dev/null)" "^LimitNOFILE=65536$"
like "/up/service/kill-mode-mixed" "$(grep "^KillMode=" "$UNIT" 2>/dev/null)" "^KillMode=mixed$"
like "/up/service/systemctl-failure-said" "$(cat "$TMP/up.out")" "systemctl"
# Installed once, the unit is what a later plain 'up' changes.
GBCA_SYSROOT=$SYS up --no-trust --no-hosts --upstream "$UP" -- --cors https://app.example.test
like "/up/service/installed-unit-updated" "$(grep '^ExecStart=' "$UNIT" 2>/dev/null)" '"--cors" "https://app.example.test"'
like "/up/service/installed-unit-said" "$(cat "$TMP/up.out")" "the gbca-serve unit is installed"
rm -f "$UNIT"

# Values systemd would read differently are quoted; control characters refused.
odd="$TMP/ca root %h \$HOME \\ \"q\""
GBCA_SYSROOT=$SYS GBCA_CAROOT=$odd up --service --no-trust --no-hosts -- --cors '%h$x'
like "/up/service/quoted-caroot" "$(grep '^Environment=' "$UNIT" 2>/dev/null)" \
	"^Environment=\"GBCA_CAROOT=$TMP/ca root %%h \\\$HOME \\\\\\\\ \\\\\"q\\\\\"\"$"
like "/up/service/quoted-option" "$(grep '^ExecStart=' "$UNIT" 2>/dev/null)" ' "--cors" "%%h\$\$x"$'
if command -v systemd-analyze > /dev/null; then
	# verify wants the program to exist where ExecStart says: it does.
	ok "/up/service/systemd-analyze-verify" systemd-analyze verify "$UNIT"
fi
rm -f "$UNIT"
nl=$'\n'
GBCA_SYSROOT=$SYS GBCA_CAROOT="$TMP/ca${nl}ExecStartPre=/bin/touch $TMP/pwned" up --service --no-trust --no-hosts; rc=$?
is "/up/service/newline-refused-exit-1" "$rc" 1
like "/up/service/newline-refused-says" "$(cat "$TMP/up.out")" "CAROOT has a control character"
ok "/up/service/newline-no-unit" test ! -e "$UNIT"
ok "/up/service/newline-no-ca" test ! -e "$TMP/ca${nl}ExecStartPre=/bin/touch $TMP/pwned"
GBCA_SYSROOT=$SYS up --service --no-trust --no-hosts -- --access-log "$TMP/a${nl}b"; rc=$?
is "/up/service/newline-option-refused-exit-1" "$rc" 1
like "/up/service/newline-option-refused-says" "$(cat "$TMP/up.out")" "an option for serve has a control character"

done_testing
