#!/bin/bash
# End-to-end: `gbca hosts on|off|status` through the binary, first on temp
# files with --hosts-file, then on the real /etc/hosts path inside a private
# mount namespace (a private copy of /etc, and a file bind-mounted over
# /etc/hosts as in containers), checked with getent and python3's resolver.
# The machine's own /etc is never touched.

# Re-run inside a private mount namespace when we can (root); without it only
# the --hosts-file half runs.
if [ -z "${GBCA_IN_NS:-}" ] && [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	exec unshare -m env GBCA_IN_NS="$(readlink /proc/self/ns/mnt)" bash "$0" "$@"
fi

. "$srcdir/tests/lib.sh"
need getent python3 cmp

NAME=generativelanguage.googleapis.com
run() { OUT=$("$@" 2>&1); RC=$?; }
same() { cmp -s "$1" "$2"; }
H="$TMP/hosts"

# --- usage ---
run "$GBCA" hosts --help;             is "/hosts/help-exit-0" "$RC" 0
like "/hosts/help-text" "$OUT" "--hosts-file PATH"
like "/hosts/listed-in-help" "$("$GBCA" --help)" "hosts +turn the hosts-file entries"
run "$GBCA" hosts;                    is "/hosts/no-subcommand-exit-2" "$RC" 2
run "$GBCA" hosts frob;               is "/hosts/unknown-subcommand-exit-2" "$RC" 2
like "/hosts/unknown-subcommand-message" "$OUT" 'unknown subcommand "frob"'
run "$GBCA" hosts on --bogus;         is "/hosts/unknown-option-exit-2" "$RC" 2
run "$GBCA" hosts off --force;        is "/hosts/force-needs-on-exit-2" "$RC" 2
run "$GBCA" hosts on --json;          is "/hosts/json-needs-status-exit-2" "$RC" 2

printf '127.0.0.1 localhost\n' > "$H"; cp "$H" "$TMP/orig"
bad() { # name pattern args...
	local name=$1 pat=$2; shift 2
	run "$GBCA" hosts on --hosts-file "$H" "$@"
	is "/hosts/bad/$name-exit-2" "$RC" 2
	like "/hosts/bad/$name-message" "$OUT" "$pat"
}
bad wildcard "can't hold wildcards" '*.x.test'
bad option-like "unknown option -x" -x
bad dash-name "starts with '-'" -- -x
bad bad-ipv4 "not a valid IPv4" 999.1.1.1
bad ip-address "is an IP address" 10.1.2.3
ok "/hosts/bad/file-untouched" same "$H" "$TMP/orig"
ok "/hosts/bad/no-backup" test ! -e "$H.gbca-backup"

# --- on / off / status on a temp file ---
run "$GBCA" hosts status --hosts-file "$H"; is "/hosts/status-off-exit-1" "$RC" 1
like "/hosts/status-off-text" "$OUT" "$NAME: off in $H; resolves to nothing \(read from that file"
run "$GBCA" hosts on --ipv6 --hosts-file "$H"; is "/hosts/on-exit-0" "$RC" 0
like "/hosts/on-report" "$OUT" "$NAME -> 127.0.0.1, ::1 in $H"
is "/hosts/on-block" "$(head -n 4 "$H" | tail -n 3)" "127.0.0.1 $NAME
::1 $NAME
# <<< gbca <<<"
ok "/hosts/backup-is-original" same "$H.gbca-backup" "$TMP/orig"
run "$GBCA" hosts status --hosts-file "$H"; is "/hosts/status-on-exit-0" "$RC" 0
like "/hosts/status-on-text" "$OUT" "$NAME: on in $H; resolves to 127.0.0.1 ::1"
ok "/hosts/status-json" sh -c "'$GBCA' hosts status --json --hosts-file '$H' | python3 -c 'import json,sys; r=json.load(sys.stdin); n=r[\"names\"][0]; assert r[\"on\"] and r[\"resolved_by\"]==\"file\" and n[\"name\"]==\"$NAME\" and n[\"resolves_to\"]==[\"127.0.0.1\",\"::1\"] and n[\"loopback\"]'"
cp "$H" "$TMP/once"
run "$GBCA" hosts on --ipv6 --hosts-file "$H"; is "/hosts/on-twice-exit-0" "$RC" 0
like "/hosts/on-twice-already" "$OUT" "already on"
ok "/hosts/on-twice-same-file" same "$H" "$TMP/once"
run "$GBCA" hosts off --hosts-file "$H"; is "/hosts/off-exit-0" "$RC" 0
ok "/hosts/off-restores-bytes" same "$H" "$TMP/orig"
run "$GBCA" hosts off --hosts-file "$H"; is "/hosts/off-twice-exit-0" "$RC" 0
like "/hosts/off-twice-already" "$OUT" "already off"
ok "/hosts/no-temp-files-left" sh -c "! ls -A '$TMP' | grep -q tmp-"

# --- awkward files: CRLF without a final newline, comments, several names ---
printf '# hosts\r\n\r\n127.0.0.1\tlocalhost # me\r\n10.1.2.3 db.internal' > "$H"; cp "$H" "$TMP/orig"
run "$GBCA" hosts on --no-ipv6 --hosts-file "$H" a.test b.test; is "/hosts/crlf-on-exit-0" "$RC" 0
is "/hosts/crlf-block-lines" "$(head -n 4 "$H" | grep -c $'\r$')" 4
ok "/hosts/crlf-rest-unchanged" sh -c "tail -c $(stat -c %s "$TMP/orig") '$H' | cmp -s - '$TMP/orig'"
run "$GBCA" hosts off --hosts-file "$H" a.test; is "/hosts/off-one-name-exit-0" "$RC" 0
like "/hosts/off-one-name-keeps-other" "$(cat "$H")" "127.0.0.1 b.test"
run "$GBCA" hosts off --hosts-file "$H"; is "/hosts/off-all-exit-0" "$RC" 0
ok "/hosts/crlf-round-trip-bytes" same "$H" "$TMP/orig"

# --- a conflicting line: refused, then --force and back ---
printf '127.0.0.1 localhost\n10.0.0.5 %s\n' "$NAME" > "$H"; cp "$H" "$TMP/orig"
run "$GBCA" hosts on --hosts-file "$H"; is "/hosts/conflict-exit-1" "$RC" 1
like "/hosts/conflict-names-line" "$OUT" "line 2 of $H already maps $NAME to 10.0.0.5: \"10.0.0.5 $NAME\".*--force"
ok "/hosts/conflict-untouched" same "$H" "$TMP/orig"
run "$GBCA" hosts on --force --hosts-file "$H"; is "/hosts/force-exit-0" "$RC" 0
like "/hosts/force-disables-line" "$(cat "$H")" "# gbca-disabled: 10.0.0.5 $NAME"
like "/hosts/force-resolves-loopback-only" "$("$GBCA" hosts status --hosts-file "$H")" "resolves to 127.0.0.1( ::1)? \(read from"
run "$GBCA" hosts off --hosts-file "$H"; is "/hosts/force-off-exit-0" "$RC" 0
ok "/hosts/force-round-trip-bytes" same "$H" "$TMP/orig"

# --- concurrent runs take turns on the file's lock: none is lost ---
printf '127.0.0.1 localhost\n' > "$H"; cp "$H" "$TMP/orig"
for i in 1 2 3 4 5 6 7 8; do "$GBCA" hosts on -q --no-ipv6 --hosts-file "$H" "n$i.test" & done; wait
is "/hosts/parallel-on-all-there" "$(grep -c '^127\.0\.0\.1 n[1-8]\.test$' "$H")" 8
for i in 1 2 3 4 5 6 7 8; do "$GBCA" hosts off -q --hosts-file "$H" "n$i.test" & done; wait
ok "/hosts/parallel-off-restores-bytes" same "$H" "$TMP/orig"

# --- a missing file is refused, not created ---
run "$GBCA" hosts on --hosts-file "$TMP/none"; is "/hosts/missing-exit-1" "$RC" 1
like "/hosts/missing-message" "$OUT" "does not exist"
ok "/hosts/missing-not-created" test ! -e "$TMP/none"

if [ -z "${GBCA_IN_NS:-}" ]; then
	[ -n "${CI:-}" ] && { echo "Bail out! the /etc/hosts half needs root and unshare in CI"; exit 1; }
	echo "# SKIP the /etc/hosts half: needs root and a private mount namespace"
	done_testing
fi

# --- the real /etc/hosts, in a private copy of /etc ---
mount --make-rprivate /
mkdir -p "$TMP/etc"
cp -a /etc/. "$TMP/etc/" 2>/dev/null
mount --bind "$TMP/etc" /etc
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost\n# end, without a final newline' > "$TMP/etc-hosts"
cp "$TMP/etc-hosts" "$TMP/orig"
mount --bind "$TMP/etc-hosts" /etc/hosts   # as Docker and Kubernetes do it
rm -f /etc/hosts.gbca-backup

resolves4() { getent ahostsv4 "$NAME" | awk 'NR==1 { print $1 }'; }
py_resolves() { python3 -c 'import socket, sys; print(socket.gethostbyname(sys.argv[1]))' "$NAME" 2>/dev/null; }

run getent hosts "$NAME";               is "/hosts/etc/getent-nothing-before" "$RC" 2
run "$GBCA" hosts status;               is "/hosts/etc/status-before-exit-1" "$RC" 1
run "$GBCA" hosts on --no-ipv6;         is "/hosts/etc/on-exit-0" "$RC" 0
like "/hosts/etc/on-in-place" "$OUT" "rewrote /etc/hosts in place \(it is a mount point"
is "/hosts/etc/getent-hosts" "$(getent hosts "$NAME" | awk '{ print $1 }')" 127.0.0.1
is "/hosts/etc/python-gethostbyname" "$(py_resolves)" 127.0.0.1
run "$GBCA" hosts status;               is "/hosts/etc/status-on-exit-0" "$RC" 0
is "/hosts/etc/status-via-resolver" "$OUT" "$NAME: on in /etc/hosts; resolves to 127.0.0.1"
ok "/hosts/etc/backup-beside" same /etc/hosts.gbca-backup "$TMP/orig"
ok "/hosts/etc/no-temp-left" sh -c "! ls -A /etc | grep -q '^\.hosts\.tmp-'"
run "$GBCA" hosts off;                  is "/hosts/etc/off-exit-0" "$RC" 0
ok "/hosts/etc/off-restores-bytes" same /etc/hosts "$TMP/orig"
ok "/hosts/etc/off-same-mount" same "$TMP/etc-hosts" "$TMP/orig"
run getent hosts "$NAME";               is "/hosts/etc/getent-nothing-after" "$RC" 2
is "/hosts/etc/python-no-answer-after" "$(py_resolves)" ""
run "$GBCA" hosts status;               is "/hosts/etc/status-after-exit-1" "$RC" 1

# IPv6 too: both loopbacks, still one entry per name.
"$GBCA" hosts on -q --ipv6
is "/hosts/etc/ipv6-ahosts" "$(getent ahosts "$NAME" | awk '{ print $1 }' | sort -u | tr '\n' ' ')" "127.0.0.1 ::1 "
is "/hosts/etc/ipv6-ahostsv4" "$(resolves4)" 127.0.0.1
"$GBCA" hosts off -q
ok "/hosts/etc/ipv6-off-restores-bytes" same /etc/hosts "$TMP/orig"

# Not a mount point: replaced by rename (a new inode), restored all the same.
umount /etc/hosts
cp "$TMP/orig" /etc/hosts
ino=$(stat -c %i /etc/hosts)
run "$GBCA" hosts on --no-ipv6;         is "/hosts/etc/rename-on-exit-0" "$RC" 0
ok "/hosts/etc/rename-not-in-place" sh -c "! printf '%s' '$OUT' | grep -q 'in place'"
ok "/hosts/etc/rename-new-inode" test "$(stat -c %i /etc/hosts)" != "$ino"
is "/hosts/etc/rename-getent" "$(getent hosts "$NAME" | awk '{ print $1 }')" 127.0.0.1
"$GBCA" hosts off -q
ok "/hosts/etc/rename-off-restores-bytes" same /etc/hosts "$TMP/orig"

# Not root: nothing changes, and the message gives the exact sudo command.
if command -v setpriv >/dev/null 2>&1; then
	chmod 755 "$TMP"
	out=$(cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups "$GBCA" hosts on 2>&1); rc=$?
	is "/hosts/etc/non-root-exit-1" "$rc" 1
	like "/hosts/etc/non-root-message" "$out" "Permission denied; it needs root"
	like "/hosts/etc/non-root-sudo" "$out" "run: sudo /.*gbca hosts on$"
	ok "/hosts/etc/non-root-untouched" same /etc/hosts "$TMP/orig"
fi

done_testing
