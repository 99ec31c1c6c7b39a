# trust/: one file per trust store, the table that lists them, p11-kit and
# NSS plumbing, and the ASN.1 module that libtasn1 compiles at build time
# (asn1Parser -> trust/gbca-asn1.c).
libgbca_a_SOURCES += \
	include/gbca/der.h trust/der.c \
	include/gbca/store.h trust/store.c \
	trust/system.c trust/nss.c trust/shells.c trust/node.c trust/python.c
nodist_libgbca_a_SOURCES = trust/gbca-asn1.c
EXTRA_DIST += trust/gbca.asn
BUILT_SOURCES = trust/gbca-asn1.c
CLEANFILES += trust/gbca-asn1.c
trust/gbca-asn1.c: $(top_srcdir)/trust/gbca.asn
	$(AM_V_GEN)$(MKDIR_P) trust && $(ASN1PARSER) -o $@ -n gbca_asn1_tab $(top_srcdir)/trust/gbca.asn
libgbca_a_SOURCES += include/gbca/shells.h
# Java: a JDK's cacerts through keytool (Debian's is covered by the system store).
libgbca_a_SOURCES += trust/java.c
# NSS store plumbing: a small p11-kit helper (trust/nss.c loads softokn with it).
libgbca_a_SOURCES += include/gbca/p11.h trust/p11.c
