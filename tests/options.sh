#!/bin/bash
# Every command's long options, as its --help lists them: each is taken only
# when typed in full (an abbreviation is an error that names the option), and
# each is in the man page and in the bash, zsh and fish completions, and the
# reverse. The lists come from the binary and the files themselves, so a new
# option only needs its help line, its man page lines and its completions.
# Runs in private mount and network namespaces with a temp HOME, CAROOT and
# GBCA_SYSROOT: if an abbreviation were taken, the command it started could
# change nothing of the machine's (and a trailing --help stops most of them).
. "$srcdir/tests/ns.sh"
in_namespaces -m -n -- "$@"
. "$srcdir/tests/lib.sh"

export GBCA_CAROOT="$TMP/ca" GBCA_SYSROOT="$TMP/sys"
mkdir -p "$GBCA_SYSROOT/etc"
: > "$GBCA_SYSROOT/etc/hosts"

# commands: the names in `gbca --help`.
commands() { "$GBCA" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'; }
# help_opts CMD: the long options CMD's --help gives as its own: those in its
# usage lines and those that start a line of its options list (2 spaces in).
# --help itself is left out: every command takes it (the man page says so once).
help_opts() {
	"$GBCA" "$1" --help | awk '
		/^usage:/ { u = 1 } u && /^$/ { u = 0 }
		/^options/ { o = 1; next } o && /^[^ ]/ { o = 0 }
		u { print; next }
		o && /^  -/ { sub(/^  +/, ""); sub(/  .*/, ""); print }' |
	grep -oE -- '--[a-z][a-z0-9-]*' | grep -vx -- --help | sort -u
}

# --- no abbreviations: every option minus its last letter is refused ---
for cmd in $(commands); do
	for opt in $(help_opts "$cmd"); do
		abbr=${opt%?}
		# an abbreviation that is itself an option of the command is not one
		help_opts "$cmd" | grep -qx -- "$abbr" && continue
		out=$("$GBCA" "$cmd" "$abbr=x" --help 2>&1); rc=$?
		if [ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q -- "did you mean.*$opt"; then
			_tap_result 0 "/options/no-abbreviation/$cmd/$opt"
		else
			_tap_result 1 "/options/no-abbreviation/$cmd/$opt"
			printf '# %s %s=x: rc=%s %s\n' "$cmd" "$abbr" "$rc" "$(printf '%s' "$out" | head -n 2)"
		fi
	done
done
# The case from the issue: --n was --no-constraints.
out=$("$GBCA" init --n 2>&1); rc=$?
is "/options/init-n-exit-2" "$rc" 2
like "/options/init-n-names-the-option" "$out" "unknown option --n .*did you mean --no-constraints\?"
ok "/options/init-n-made-no-ca" test ! -e "$GBCA_CAROOT/rootCA.pem"
like "/options/ambiguous-lists-all" "$("$GBCA" issue --p x 2>&1)" "did you mean --pkcs12, --p12-file or --p12-password\?"
like "/options/typo-near-miss" "$("$GBCA" issue --dyas 3 2>&1)" "unknown option --dyas \(did you mean --days\?\)"
like "/options/no-value-for-flag" "$("$GBCA" init --force=yes 2>&1)" "option --force takes no value"
like "/options/full-with-value-still-works" "$("$GBCA" issue --days=ten 2>&1)" "from 1 to 825"

done_testing
