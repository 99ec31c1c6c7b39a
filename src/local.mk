# src/: the gbca binary. Everything but main.c goes into libgbca.a so unit
# tests link the same code the binary runs.
noinst_LIBRARIES += libgbca.a
libgbca_a_SOURCES = \
	include/gbca/err.h src/err.c \
	include/gbca/strbuf.h src/strbuf.c \
	include/gbca/save.h src/save.c \
	include/gbca/path.h src/path.c \
	include/gbca/names.h src/names.c \
	include/gbca/key.h src/key.c \
	include/gbca/ca.h src/ca.c \
	include/gbca/issue.h src/issue.c \
	include/gbca/ledger.h src/ledger.c \
	include/gbca/drop.h src/drop.c \
	include/gbca/cmd.h \
	include/gbca/run.h src/run.c \
	src/cmd-util.c src/cmd-caroot.c src/cmd-init.c src/cmd-issue.c src/cmd-list.c \
	src/cmd-trust.c src/cmd-env.c src/cmd-serve.c \
	include/gbca/serve-options.h src/serve-options.c \
	include/gbca/loop.h src/proxy/loop.c \
	include/gbca/proxy.h src/proxy/config.c src/proxy/dns.c src/proxy/tls.c src/proxy/serve.c src/proxy/worker.c \
	include/gbca/worker.h src/proxy/bufpool.c src/proxy/reply.c src/proxy/upstream.c src/proxy/exchange.c src/proxy/conn.c src/proxy/clientio.c \
	include/gbca/headers.h src/proxy/headers.c \
	include/gbca/allow.h src/proxy/allow.c include/gbca/bridge.h src/proxy/bridge.c

bin_PROGRAMS += gbca
gbca_SOURCES = src/main.c
gbca_LDADD = libgbca.a $(GBCA_LIBS)
libgbca_a_SOURCES += include/gbca/http1.h src/proxy/http1.c
libgbca_a_SOURCES += include/gbca/block.h src/block.c
libgbca_a_SOURCES += include/gbca/hosts.h src/hosts.c src/cmd-hosts.c
libgbca_a_SOURCES += src/cmd-ci.c
libgbca_a_SOURCES += include/gbca/unit.h src/unit.c
libgbca_a_SOURCES += include/gbca/up.h src/cmd-up.c src/serve-pid.c src/cmd-uninstall.c src/cmd-doctor.c
libgbca_a_SOURCES += include/gbca/probe.h src/probe.c
libgbca_a_SOURCES += include/gbca/lan.h src/lan.c src/cmd-export.c src/cmd-join.c
# Containers on this host: the CA bundle they mount and gbca compose.
libgbca_a_SOURCES += include/gbca/container.h src/container.c src/cmd-compose.c
