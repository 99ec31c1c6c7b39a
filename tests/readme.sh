#!/bin/bash
# README.md cannot drift from what gbca does: every command in its ```sh
# blocks is run, in order, as a user would type it (`gbca` and `./gbca` are
# the binary under test; `sudo` is dropped: the test is root), and must exit
# 0. An HTML comment (invisible on the rendered page) just before a block
# tells how to run it:
#   <!-- readme.sh: skip REASON -->        not run (REASON says what runs it)
#   <!-- readme.sh: not "TEXT" ... -->     lines containing a TEXT are not run
#                                          (synopses like [--json], services)
#   <!-- readme.sh: each -->               alternatives: each line alone, in a
#                                          fresh CAROOT
#   <!-- readme.sh: serves -->             each line is a proxy in the
#                                          foreground: it must print "listening
#                                          on", then stop on SIGTERM with 0
#   <!-- readme.sh: after COMMAND -->      run COMMAND first (e.g. gbca up)
# In private namespaces: a private /etc (hosts, trust store), /var/log and
# temp HOME with an NSS database, no systemd to reach, tests/upstream.py
# standing in for Gemini Balance on 127.0.0.1:8000.
. "$srcdir/tests/ns.sh"
in_namespaces -n -m -- "$@"

. "$srcdir/tests/lib.sh"
need update-ca-certificates certutil curl ip openssl python3
sandbox_machine
mount -t tmpfs none /var/log

export SHELL=/bin/bash
mkdir -p "$HOME/.pki/nssdb" "$TMP/bin" "$TMP/work"
certutil -N -d "sql:$HOME/.pki/nssdb" --empty-password
ln -s "$GBCA" "$TMP/bin/gbca"
ln -s "$GBCA" "$TMP/work/gbca"
export PATH="$TMP/bin:$PATH"
export YOUR_GEMINI_BALANCE_TOKEN=sk-readme-1 GEMINI_BALANCE_TOKEN=sk-readme-2 GITHUB_ENV="$TMP/github.env"

# Fixtures the commands name: a CSR to sign, an existing root to import.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost -keyout "$TMP/work/request-key.pem" -out "$TMP/work/request.pem" 2>/dev/null
GBCA_CAROOT="$TMP/imported" "$GBCA" init > /dev/null 2>&1
cp "$TMP/imported/rootCA.pem" "$TMP/imported/rootCA-key.pem" "$TMP/work/"

start_upstream 8000
trap 'kill $UPSTREAM 2>/dev/null; "$GBCA" down >/dev/null 2>&1; kill $(gbca_pids) 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT

# extract README: one record per command, fields apart by \037 (an empty
# field must survive read's splitting): block number, mode
# (run, each, serves, skip), the block's "after" command, the command (with
# its continuation lines joined).
extract() {
	awk '
	function reset() { mode = "run"; after = ""; n_not = 0 }
	BEGIN { reset(); block = 0; US = "\037" }
	/^<!-- readme\.sh: / {
		d = $0; sub(/^<!-- readme\.sh: */, "", d); sub(/ *-->.*$/, "", d)
		if (d ~ /^skip/) mode = "skip"
		else if (d == "each" || d == "serves") mode = d
		else if (d ~ /^after /) after = substr(d, 7)
		else if (d ~ /^not /) {
			rest = substr(d, 5)
			while (match(rest, /"[^"]*"/)) { nots[++n_not] = substr(rest, RSTART + 1, RLENGTH - 2); rest = substr(rest, RSTART + RLENGTH) }
		} else { print "BAD" US d; }
		next
	}
	/^```sh/ { inb = 1; block++; cmd = ""; next }
	inb && /^```/ { inb = 0; reset(); next }
	inb {
		line = $0
		if (line ~ /\\$/) { cmd = cmd substr(line, 1, length(line) - 1); next }
		cmd = cmd line
		if (cmd ~ /^[ \t]*(#|$)/) { cmd = ""; next }
		m = mode
		for (i = 1; i <= n_not; i++) if (index(cmd, nots[i])) m = "skip"
		print block US m US after US cmd
		cmd = ""
	}' "$srcdir/README.md"
}

# As typed: sudo dropped (root already; Debian's sudo would also reset HOME).
run_line() { (cd "$TMP/work" && bash -c "${1#sudo }") > "$TMP/line.out" 2>&1; }

# A proxy in the foreground: listening, then SIGTERM to it (found through
# its pid file: the line may be a shell command with variables), then exit 0.
serve_line() {
	local pid rc out="$TMP/serve-$ran.out"
	rm -f "$TMP"/home/.local/share/gbca/serve.pid
	(cd "$TMP/work" && exec bash -c "${1#sudo }") > "$out" 2>&1 &
	pid=$!
	if wait_until 300 grep -q "listening on" "$out"; then
		kill -TERM "$(cat "$TMP"/home/.local/share/gbca/serve.pid)"
	else
		kill -TERM $pid
	fi
	wait_until 400 gone $pid
	wait $pid; rc=$?
	cp "$out" "$TMP/line.out"
	return $rc
}

extract > "$TMP/commands"
is "/readme/directives-understood" "$(grep -c '^BAD' "$TMP/commands")" 0
grep '^BAD' "$TMP/commands" | sed 's/^/# /' 
ran=0 last_after=
while IFS=$'\037' read -r block mode after cmd; do
	[ "$block" = BAD ] && continue
	name="/readme/block-$block/$(printf '%s' "$cmd" | tr -s ' \t' ' ' | cut -c1-60)"
	if [ "$mode" = skip ]; then
		echo "# not run (marked in README.md): $cmd"
		continue
	fi
	if [ -n "$after" ] && [ "$last_after" != "$block" ]; then
		last_after=$block
		ok "/readme/block-$block/after: $after" run_line "$after"
	fi
	case $mode in
	run) run_line "$cmd"; rc=$? ;;
	each)
		export GBCA_CAROOT="$TMP/each-$ran"
		run_line "$cmd"; rc=$?
		unset GBCA_CAROOT ;;
	serves) serve_line "$cmd"; rc=$? ;;
	esac
	is "$name" "$rc" 0
	[ "$rc" = 0 ] || sed 's/^/# /' "$TMP/line.out"
	ran=$((ran + 1))
done < "$TMP/commands"

# Not a vacuous pass: most of README's commands ran, and both of its curl
# commands reached the stand-in Gemini Balance with their tokens.
ok "/readme/ran-enough" test "$ran" -ge 20
like "/readme/quick-start-curl-reached-upstream" "$(cat "$TMP/record.jsonl")" "sk-readme-1"
like "/readme/serve-curl-reached-upstream" "$(cat "$TMP/record.jsonl")" "sk-readme-2"
done_testing
