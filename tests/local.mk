# tests/: C unit tests (own TAP library) and shell end-to-end tests, all TAP.
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
TEST_LOG_DRIVER = $(LOG_DRIVER)
SH_LOG_DRIVER = $(LOG_DRIVER)
TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT = GBCA='$(abs_top_builddir)/gbca'; srcdir='$(abs_top_srcdir)'; builddir='$(abs_top_builddir)'; export GBCA srcdir builddir;

EXTRA_DIST += tests/lib.sh tests/ns.sh
TESTS += tests/install.sh tests/cli.sh tests/interop.sh tests/constraints.sh tests/trust-system.sh tests/trust-user.sh tests/trust-p11kit.sh tests/serve-passthrough.sh tests/serve.sh tests/up.sh
EXTRA_DIST += tests/install.sh tests/cli.sh tests/interop.sh tests/constraints.sh tests/trust-system.sh tests/trust-user.sh tests/trust-p11kit.sh tests/serve-passthrough.sh tests/serve.sh tests/upstream.py tests/up.sh
noinst_LIBRARIES += libtap.a
libtap_a_SOURCES = tests/tap.h tests/tap.c
TEST_LIBS = libtap.a libgbca.a $(GBCA_LIBS)

TESTS += $(check_PROGRAMS)

check_PROGRAMS += tests/test-names tests/test-save tests/test-ca
tests_test_names_LDADD = $(TEST_LIBS)
tests_test_save_LDADD = $(TEST_LIBS)
tests_test_ca_LDADD = $(TEST_LIBS)
# The NSS store against real databases made with certutil.
check_PROGRAMS += tests/test-nss
tests_test_nss_LDADD = $(TEST_LIBS)

check_PROGRAMS += tests/test-shells
tests_test_shells_LDADD = $(TEST_LIBS)
# NSS (NSPR) never frees its process-wide state; see tests/lsan.supp.
EXTRA_DIST += tests/lsan.supp
AM_TESTS_ENVIRONMENT += LSAN_OPTIONS="suppressions=$(abs_top_srcdir)/tests/lsan.supp$${LSAN_OPTIONS:+:$$LSAN_OPTIONS}"; export LSAN_OPTIONS;
# The java store against copies of the JDK's cacerts, with the real keytool.
check_PROGRAMS += tests/test-java
tests_test_java_LDADD = $(TEST_LIBS)
# The strict HTTP/1.1 parser of gbca serve, and its libFuzzer target (clang).
check_PROGRAMS += tests/test-http1
tests_test_http1_LDADD = $(TEST_LIBS)
TESTS += tests/fuzz.sh
EXTRA_DIST += tests/fuzz.sh tests/fuzz/fuzz-http1.c tests/fuzz/corpus
check_PROGRAMS += tests/test-hosts
tests_test_hosts_LDADD = $(TEST_LIBS)
TESTS += tests/hosts.sh
EXTRA_DIST += tests/hosts.sh
TESTS += tests/ci.sh
EXTRA_DIST += tests/ci.sh action.yml
TESTS += tests/serve-misc.sh
# Root writing a user's rc files (issue 9, attack 4).
TESTS += tests/trust-root-rc.sh
EXTRA_DIST += tests/trust-root-rc.sh
EXTRA_DIST += tests/serve-misc.sh
# Running work as a path's owner, and the no-follow opener (issue 9).
check_PROGRAMS += tests/test-drop
tests_test_drop_LDADD = $(TEST_LIBS)
# test-save checks that every rename is preceded by an fsync of that file.
tests_test_save_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=fsync -Wl,--wrap=rename
# Root never acts on a user's paths: each attack of issue 9, planted by a real user.
TESTS += tests/root-safety.sh
EXTRA_DIST += tests/root-safety.sh
# The marked-block module that hosts and the shell stores share (issue 9).
check_PROGRAMS += tests/test-block
tests_test_block_LDADD = $(TEST_LIBS)
# The real sudo: 'sudo gbca up' uses the invoking user's CA, none in /root.
TESTS += tests/sudo.sh
EXTRA_DIST += tests/sudo.sh
# gbca doctor: each claim in both directions, with real clients from a login shell.
TESTS += tests/doctor.sh
EXTRA_DIST += tests/doctor.sh
# Proxy integrity (issue 10): smuggling, leftovers, HTTP/1.0, CORS, Via, reload, descriptors.
TESTS += tests/serve-integrity.sh
EXTRA_DIST += tests/serve-integrity.sh tests/integrity-upstream.py
# gbca serve's header policy (src/proxy/headers.c).
check_PROGRAMS += tests/test-headers
tests_test_headers_LDADD = $(TEST_LIBS)
# gbca up as users type it: option forms, serve's options after --, converging, no half-done state.
TESTS += tests/up-forms.sh
EXTRA_DIST += tests/up-forms.sh
# serve --listen: a port alone means the loopbacks; wider addresses warn.
TESTS += tests/serve-listen.sh
EXTRA_DIST += tests/serve-listen.sh
# README's first command, ./quickstart.sh, then README's curl and gbca down.
TESTS += tests/quickstart.sh
EXTRA_DIST += tests/quickstart.sh
# README.md's commands, run as written (tests/readme.sh reads its markers).
TESTS += tests/readme.sh
EXTRA_DIST += tests/readme.sh
# up --service under a real systemd (systemd-nspawn, a debootstrapped Debian 12
# built once per machine in $GBCA_TEST_ROOTFS, default /var/cache/gbca-test-rootfs).
TESTS += tests/systemd.sh
EXTRA_DIST += tests/systemd.sh
# Issue 10's tests with teeth, the desync oracle, the llhttp differential (helper oracle).
TESTS += tests/serve-teeth.sh tests/desync.sh
EXTRA_DIST += tests/serve-teeth.sh tests/desync.sh tests/desync.py
check_PROGRAMS += tests/test-llhttp
tests_test_llhttp_LDADD = $(TEST_LIBS)
EXTRA_DIST += tests/llhttp-parse.js
# cli: every option typed in full only, and the same in --help, man page and completions.
TESTS += tests/options.sh
EXTRA_DIST += tests/options.sh
# gbca doctor's upstream line: DNS, connect, CONNECT, TLS verification, HTTP status, each against a real server.
TESTS += tests/doctor-upstream.sh
EXTRA_DIST += tests/doctor-upstream.sh tests/doctor-upstream.py
# An https:// upstream (issue 12): TLS from a second CA, PREFIX, SNI/Host, pool and resumption,
# header rewrites, --upstream-ca, --upstream-proxy (CONNECT) with real clients.
TESTS += tests/serve-https-upstream.sh
EXTRA_DIST += tests/serve-https-upstream.sh tests/connect-proxy.py
# A team on a LAN (issue 12, part 3): export, join, leave between two network namespaces.
TESTS += tests/lan.sh
EXTRA_DIST += tests/lan.sh
check_PROGRAMS += tests/test-lan
tests_test_lan_LDADD = $(TEST_LIBS)
# gbca compose (issue 12): the override and docker run flags read as Docker
# would, the container bundle, and a namespace playing the container.
TESTS += tests/compose.sh
EXTRA_DIST += tests/compose.sh tests/compose.py
# serve --allow and --bridge (issue 12): refused at accept, in namespaces of the test's own.
TESTS += tests/serve-allow.sh
EXTRA_DIST += tests/serve-allow.sh
check_PROGRAMS += tests/test-allow
tests_test_allow_LDADD = $(TEST_LIBS)
check_PROGRAMS += tests/test-upstream-url
tests_test_upstream_url_LDADD = $(TEST_LIBS)
