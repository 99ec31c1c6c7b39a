#!/bin/bash
# README's first command as a user runs it: ./quickstart.sh in the source
# folder (the package step skipped: CI has the packages), where systemd does
# not run, against a stand-in Gemini Balance on 127.0.0.1:8000. Then README's
# curl command exactly as written (system trust, no -k, no --cacert), then
# 'gbca down': nothing may listen on 443 afterwards and the hosts entry must
# be off. In private namespaces: a private /etc (hosts file, trust store),
# a temp HOME, no systemd to reach.
. "$srcdir/tests/ns.sh"
in_namespaces -n -m -- "$@"

. "$srcdir/tests/lib.sh"
need update-ca-certificates curl ip ss python3
# The quick start builds in the source folder; a build elsewhere (VPATH) would
# make it configure and build a second time there.
[ -f "$srcdir/Makefile" ] && [ -x "$srcdir/gbca" ] || skip_all "needs gbca built in the source folder"
sandbox_machine
cp /etc/hosts "$TMP/hosts.before"

NAME=generativelanguage.googleapis.com
start_upstream 8000
trap 'kill $UPSTREAM 2>/dev/null; "$srcdir/gbca" down >/dev/null 2>&1; kill $(GBCA=$srcdir/gbca gbca_pids) 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT

is "/quickstart/readme-says" "$(readme_block '## Quick start' | head -1)" "./quickstart.sh"

cd "$srcdir" || exit 1
GBCA_QUICKSTART_SKIP_DEPS=1 timeout 600 ./quickstart.sh > "$TMP/qs.out" 2>&1; rc=$?
is "/quickstart/exit-0" "$rc" 0
[ "$rc" = 0 ] || sed 's/^/# /' "$TMP/qs.out"
like "/quickstart/background" "$(cat "$TMP/qs.out")" "serve: in the background"

# README's curl, with the token the README names, as a user would paste it.
curl_block=$(readme_block 'Then, with no TLS workaround anywhere')
like "/quickstart/readme-curl-found" "$curl_block" "^curl \"https://$NAME/"
out=$(YOUR_GEMINI_BALANCE_TOKEN=sk-test-123 bash -c "$curl_block -sS --max-time 10 -w '\n%{http_code}'" 2>&1)
is "/quickstart/readme-curl-200" "$(printf '%s\n' "$out" | tail -n1)" 200
like "/quickstart/readme-curl-body" "$out" "hello from upstream"
like "/quickstart/reached-stand-in" "$(tail -n1 "$TMP/record.jsonl" 2>/dev/null)" "sk-test-123"

out=$(./gbca down 2>&1); rc=$?
is "/quickstart/down-exit-0" "$rc" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
ok "/quickstart/nothing-listens" wait_until 100 sh -c "[ -z \"\$(ss -ltnH 'sport = :443')\" ]"
ok "/quickstart/hosts-as-before" cmp "$TMP/hosts.before" /etc/hosts
is "/quickstart/no-gbca-left" "$(GBCA=$srcdir/gbca gbca_pids)" ""
done_testing
