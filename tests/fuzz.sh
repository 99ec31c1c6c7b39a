#!/bin/bash
# Fuzzes the HTTP/1.1 parser for a bounded time: builds tests/fuzz/fuzz-http1.c
# and src/proxy/http1.c with clang's libFuzzer, ASan and UBSan, and runs it on a
# copy of the seed corpus. FUZZ_SECONDS sets the time (default 60 in CI, else 10).
# Needs clang and libFuzzer (Debian: clang libclang-rt-14-dev).
. "$srcdir/tests/lib.sh"
need clang

if [ -n "${CI:-}" ]; then seconds=${FUZZ_SECONDS:-60}; else seconds=${FUZZ_SECONDS:-10}; fi
case $seconds in
''|*[!0-9]*|0) # 0 would mean no limit to libFuzzer
	echo "Bail out! FUZZ_SECONDS must be a positive number of seconds"
	exit 1 ;;
esac
builddir=$(dirname "$GBCA")     # holds config.h
bin="$TMP/fuzz-http1"
mkdir -p "$TMP/crash" "$TMP/empty"
[ -f "$builddir/config.h" ] || printf '#define _GNU_SOURCE 1\n' > "$TMP/empty/config.h"

# Is libFuzzer there at all? Outside CI its absence is a skip, like a missing tool.
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
	> "$TMP/probe.c"
if ! clang -fsanitize=fuzzer "$TMP/probe.c" -o "$TMP/probe" >/dev/null 2>&1; then
	if [ -n "${CI:-}" ]; then
		echo "Bail out! libFuzzer is missing in CI; .ci/deps must install libclang-rt-14-dev"
		exit 1
	fi
	skip_all "libFuzzer is not installed (libclang-rt-14-dev)"
fi

if ! out=$(clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer \
	-I"$srcdir/include" -I"$builddir" -I"$TMP/empty" \
	"$srcdir/tests/fuzz/fuzz-http1.c" "$srcdir/src/proxy/http1.c" -o "$bin" 2>&1); then
	is "/fuzz/http1 builds" "$out" ""
	done_testing
fi

# libFuzzer adds what it finds to the first corpus directory: never the source tree.
cp -R "$srcdir/tests/fuzz/corpus/http1" "$TMP/corpus"
cat > "$TMP/http1.dict" <<'EOF'
"GET "
"POST "
"OPTIONS * "
"CONNECT "
" HTTP/1.1\x0d\x0a"
" HTTP/1.0\x0d\x0a"
"HTTP/1.1 200 OK\x0d\x0a"
"HTTP/1.1 101 Switching Protocols\x0d\x0a"
"HTTP/1.1 204 \x0d\x0a"
"HTTP/1.1 304 \x0d\x0a"
"\x0d\x0a"
"\x0d\x0a\x0d\x0a"
"\x0a"
"\x0d"
"\x00"
"\x09"
"Host: "
"Content-Length: "
"Content_Length: "
"Transfer-Encoding: "
"chunked"
"Connection: "
"close"
"keep-alive"
"upgrade"
"Upgrade: websocket"
"Expect: 100-continue"
"http://"
"https://"
"0\x0d\x0a\x0d\x0a"
";n=\"v\""
"\\\""
"4611686018427387904"
"fffffffffffffff"
EOF

"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-dict="$TMP/http1.dict" -artifact_prefix="$TMP/crash/" "$TMP/corpus" \
	> "$TMP/fuzz.log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$TMP/fuzz.log" | tail -n1)
runs=${runs:-0}
echo "# $runs runs in ${seconds}s: $((runs / seconds)) per second"

if [ "$rc" -eq 0 ] && [ "$runs" -gt 0 ]; then
	is "/fuzz/http1 $runs runs, no crash" "$rc" 0
elif [ "$rc" -eq 0 ]; then
	is "/fuzz/http1 ran" "$runs runs" "more than 0 runs"
	tail -n 20 "$TMP/fuzz.log" | sed 's/^/# /'
else
	crash=$(ls "$TMP/crash" | head -n1)
	is "/fuzz/http1 crashed after $runs runs${crash:+ on $crash}" "$rc" 0
	grep -E 'ERROR|invariant|SUMMARY|runtime error|http1\.c:' "$TMP/fuzz.log" | head -n 30 | sed 's/^/# /'
	if [ -n "$crash" ]; then
		echo "# the crash input (od -c):"
		od -c "$TMP/crash/$crash" | head -n 40 | sed 's/^/# /'
		# keep it where make check's user can find it after the trap removes $TMP
		cp "$TMP/crash/$crash" "./fuzz-http1-$crash" 2>/dev/null &&
			echo "# saved as $(pwd)/fuzz-http1-$crash"
	fi
fi
done_testing
