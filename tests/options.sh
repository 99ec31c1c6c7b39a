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

# --- the same options in --help, the man page and the completions ---
D="$srcdir/docs"
# man_synopsis CMD: options in the SYNOPSIS entries (between .br) for gbca CMD.
man_synopsis() {
	awk -v cmd="$1" '
		/^\.SH / { syn = ($2 == "SYNOPSIS"); next }
		!syn { next }
		/^\.br/ { mine = 0; next }
		/^\.B gbca / { mine = ($3 == cmd) }
		mine { print }' "$D/gbca.1" | man_opts
}
# man_items CMD: the options that head a .TP (or .TQ) item in the section
# .SS gbca CMD; man_section CMD: all of that section's text.
man_items() {
	awk -v cmd="$1" '
		/^\.S[HS] / { sec = ($1 == ".SS" && $2 == "gbca" && $3 == cmd); next }
		sec && /^\.T[PQ]/ { item = 1; next }
		item { print; item = 0 }' "$D/gbca.1" | man_opts
}
man_section() {
	awk -v cmd="$1" '
		/^\.S[HS] / { sec = ($1 == ".SS" && $2 == "gbca" && $3 == cmd); next }
		sec { print }' "$D/gbca.1" | man_opts
}
man_opts() { sed 's/\\-/-/g' | grep -oE -- '--[a-z][a-z0-9-]*' | grep -vx -- --help | sort -u; }
bash_opts() {
	bash --norc -c 'source "$1"; COMP_WORDS=(gbca "$2" --); COMP_CWORD=2; _gbca; printf "%s\n" "${COMPREPLY[@]}"' \
		sh "$D/completions/gbca.bash" "$1" | grep -E -- '^--[a-z]' | grep -vx -- --help | sort -u
}
zsh_opts() {
	grep -E "^$1\) " "$D/completions/_gbca" | grep -oE -- "'[*]?--[a-z][a-z0-9-]*" | tr -d "'*" |
		grep -vx -- --help | sort -u
}
fish_opts() {
	fish --no-config -c 'source $argv[1]; complete -C "gbca $argv[2] --"' "$D/completions/gbca.fish" "$1" |
		cut -f1 | grep -E -- '^--[a-z]' | grep -vx -- --help | sort -u
}
# same NAME WANT GOT: passes when the two sorted lists are equal; else says
# which options are missing from where.
same() {
	if [ "$2" = "$3" ]; then
		_tap_result 0 "$1"
	else
		_tap_result 1 "$1"
		printf '# only in --help: %s\n' "$(comm -23 <(printf '%s\n' "$2") <(printf '%s\n' "$3") | tr '\n' ' ')"
		printf '# only in the other: %s\n' "$(comm -13 <(printf '%s\n' "$2") <(printf '%s\n' "$3") | tr '\n' ' ')"
	fi
}
have_fish=true
command -v fish >/dev/null 2>&1 || have_fish=false
[ "$have_fish" = true ] || [ -z "${CI:-}" ] || { echo "Bail out! fish is missing in CI"; exit 1; }
for cmd in $(commands); do
	[ "$cmd" = help ] && continue   # its argument is a command, not an option
	want=$(help_opts "$cmd")
	same "/options/man-synopsis/$cmd" "$want" "$(man_synopsis "$cmd")"
	# described in the command's section, in an item or in its prose
	same "/options/man-described/$cmd" "$want" "$(comm -12 <(printf '%s\n' "$want") <(man_section "$cmd"))"
	# and the man page gives no option that --help does not
	same "/options/man-no-other/$cmd" "$want" "$( (printf '%s\n' "$want"; man_synopsis "$cmd"; man_items "$cmd") | grep . | sort -u)"
	same "/options/bash/$cmd" "$want" "$(bash_opts "$cmd")"
	same "/options/zsh/$cmd" "$want" "$(zsh_opts "$cmd")"
	[ "$have_fish" = true ] && same "/options/fish/$cmd" "$want" "$(fish_opts "$cmd")"
done

# --- completions of option values that are files ---
mkdir -p "$TMP/files" && touch "$TMP/files/a-cert.pem"
bash_complete() { # words...: what bash completes for the last (empty) word
	(cd "$TMP/files" && bash --norc -c 'source "$1"; shift; COMP_WORDS=("$@" ""); COMP_CWORD=$#; _gbca; printf "%s\n" "${COMPREPLY[@]}"' \
		sh "$D/completions/gbca.bash" "$@")
}
is "/options/bash/serve-key-is-a-file" "$(bash_complete gbca serve --key)" "a-cert.pem"
like "/options/bash/init-key-is-a-type" "$(bash_complete gbca init --key | tr '\n' ' ')" "^ecdsa p384 rsa "
is "/options/bash/init-import-cert-file" "$(bash_complete gbca init --import)" "a-cert.pem"
is "/options/bash/init-import-key-file" "$(bash_complete gbca init --import a-cert.pem)" "a-cert.pem"
like "/options/zsh/init-import-two-files" "$(grep '^init)' "$D/completions/_gbca")" "'--import[^']*:_files:[^']*:_files'"
if [ "$have_fish" = true ]; then
	fish_complete() { (cd "$TMP/files" && fish --no-config -c 'source $argv[1]; complete -C "$argv[2]"' "$D/completions/gbca.fish" "$1" | cut -f1); }
	is "/options/fish/serve-key-is-a-file" "$(fish_complete 'gbca serve --key ')" "a-cert.pem"
	is "/options/fish/init-import-key-file" "$(fish_complete 'gbca init --import a-cert.pem ')" "a-cert.pem"
fi

done_testing
