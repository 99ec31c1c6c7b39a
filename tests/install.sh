#!/bin/bash
# make install puts the binary, the man page, the bash/zsh/fish completions
# and the systemd units where they belong, under a DESTDIR of our own; the
# completions load in the real shells; make uninstall takes them away again.
. "$srcdir/tests/lib.sh"
need make bash zsh fish man
: "${builddir:?builddir must point at the build tree (make check sets it)}"
D="$TMP/root"
P=$(sed -n 's/^prefix = //p' "$builddir/Makefile")
make -s -C "$builddir" install DESTDIR="$D" > "$TMP/install.out" 2>&1
is "/install/exit-0" "$?" 0
for f in bin/gbca share/man/man1/gbca.1 share/bash-completion/completions/gbca share/zsh/site-functions/_gbca \
         share/fish/vendor_completions.d/gbca.fish lib/systemd/system/gbca-serve.service lib/systemd/system/gbca-serve.socket; do
	ok "/install/has/$f" test -s "$D$P/$f"
done
like "/install/unit-points-at-bindir" "$(grep ExecStart "$D$P/lib/systemd/system/gbca-serve.service")" "ExecStart=$P/bin/gbca serve"
ok "/install/binary-runs" "$D$P/bin/gbca" version
ok "/install/man-renders" sh -c "man -l '$D$P/share/man/man1/gbca.1' | grep -q 'gbca serve'"
like "/install/bash-completion" "$(bash -c ". '$D$P/share/bash-completion/completions/gbca'; COMP_WORDS=(gbca tr); COMP_CWORD=1; _gbca; echo \"\${COMPREPLY[*]}\"")" "^trust$"
like "/install/bash-completion-options" "$(bash -c ". '$D$P/share/bash-completion/completions/gbca'; COMP_WORDS=(gbca trust --st); COMP_CWORD=2; _gbca; echo \"\${COMPREPLY[*]}\"")" "^--stores$"
like "/install/fish-completion" "$(fish -c "source '$D$P/share/fish/vendor_completions.d/gbca.fish'; complete -C 'gbca unin'")" "uninstall"
ok "/install/zsh-completion-parses" zsh -n "$D$P/share/zsh/site-functions/_gbca"
make -s -C "$builddir" uninstall DESTDIR="$D" > "$TMP/uninstall.out" 2>&1
is "/install/uninstall-exit-0" "$?" 0
is "/install/uninstall-leaves-no-files" "$(find "$D" -type f | wc -l)" 0
done_testing
