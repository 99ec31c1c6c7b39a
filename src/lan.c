/* A team on a LAN: fingerprints, the checks on a gateway's root, and fetching
 * it from the gateway's TLS handshake (gbca serve sends it after the leaf). */
#include "config.h"
#include <gbca/ca.h>
#include <gbca/lan.h>
#include <gbca/probe.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define LAN_TIMEOUT_MS 10000

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool
gbca_lan_parse_fingerprint(const char *in, unsigned char out[32], struct gbca_err *err)
{
	const char *p = in;
	size_t n = 0;

	if (strncasecmp(p, "SHA256:", 7) == 0)
		p += 7;
	while (*p) {
		int hi, lo;
		if (*p == ':' && n > 0 && p[-1] != ':' && hexval(p[1]) >= 0) {
			p++;
			continue;
		}
		if ((hi = hexval(p[0])) < 0 || p[1] == '\0' || (lo = hexval(p[1])) < 0 || n == 32)
			return gbca_fail(err, "\"%s\" is not a SHA-256 fingerprint; give it as 'gbca export' "
			                 "prints it on the gateway: SHA256: and 64 hex digits", in);
		out[n++] = (unsigned char)(hi << 4 | lo);
		p += 2;
	}
	if (n != 32)
		return gbca_fail(err, "\"%s\" is not a SHA-256 fingerprint (%zu bytes, not 32); give it as "
		                 "'gbca export' prints it on the gateway: SHA256: and 64 hex digits", in, n);
	return true;
}

void
gbca_lan_format_fingerprint(const unsigned char fp[32], char out[GBCA_LAN_FP_LEN])
{
	memcpy(out, "SHA256:", 7);
	for (size_t i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", fp[i]);
}

bool
gbca_lan_crt_fingerprint(gnutls_x509_crt_t crt, unsigned char out[32])
{
	size_t len = 32;

	return gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, out, &len) >= 0 && len == 32;
}

bool
gbca_lan_permitted(gnutls_x509_crt_t crt, char *buf, size_t len, bool *has_dns, struct gbca_err *err)
{
	struct gbca_ca *ca = calloc(1, sizeof(*ca));
	size_t used = 0;
	bool ok;

	*has_dns = false;
	if (len > 0)
		buf[0] = '\0';
	if (ca == NULL)
		return gbca_fail(err, "out of memory");
	ca->crt = crt;
	ok = gbca_ca_read_constraints(ca, err);
	for (size_t i = 0; ok && i < ca->n_permitted; i++) {
		char one[300];
		int w;
		*has_dns |= ca->permitted[i].type == GBCA_SUBTREE_DNS;
		gbca_subtree_format(&ca->permitted[i], one, sizeof(one));
		w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", one);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
	free(ca);
	return ok;
}

void
gbca_lan_root_free(struct gbca_lan_root *r)
{
	if (r->crt)
		gnutls_x509_crt_deinit(r->crt);
	gnutls_free(r->pem.data);
	memset(r, 0, sizeof(*r));
}

/* "SHA256:... (CN=...)" for each certificate sent, for the refusal. */
static void
list_sent(gnutls_x509_crt_t *crts, unsigned n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		unsigned char fp[32];
		char shown[GBCA_LAN_FP_LEN] = "SHA256:?", dn[256] = "?";
		size_t dn_len = sizeof(dn);
		int w;

		if (gbca_lan_crt_fingerprint(crts[i], fp))
			gbca_lan_format_fingerprint(fp, shown);
		if (gnutls_x509_crt_get_dn(crts[i], dn, &dn_len) < 0)
			snprintf(dn, sizeof(dn), "?");
		w = snprintf(buf + used, len - used, "%s%s (%s%s)", used ? "; " : "", shown, i == 0 ? "its leaf, " : "", dn);
		if (w < 0 || (size_t)w >= len - used)
			return;
		used += (size_t)w;
	}
}

/* The leaf chains to root (alone trusted) and is valid for name. */
static bool
leaf_verifies(gnutls_x509_crt_t *crts, unsigned n, gnutls_x509_crt_t root, const char *name, struct gbca_err *err)
{
	gnutls_x509_trust_list_t tl;
	gnutls_x509_crt_t copy;
	gnutls_datum_t der = { NULL, 0 };
	gnutls_datum_t out = { NULL, 0 };
	gnutls_typed_vdata_st vd[2] = {
		{ .type = GNUTLS_DT_DNS_HOSTNAME, .data = (unsigned char *)name },
		{ .type = GNUTLS_DT_KEY_PURPOSE_OID, .data = (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER },
	};
	unsigned status = 0;
	int ret;

	if (gnutls_x509_trust_list_init(&tl, 0) < 0)
		return gbca_fail(err, "out of memory");
	/* the list owns what it is given: give it a copy of the root */
	if (gnutls_x509_crt_init(&copy) < 0 || gnutls_x509_crt_export2(root, GNUTLS_X509_FMT_DER, &der) < 0 ||
	    gnutls_x509_crt_import(copy, &der, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_trust_list_add_cas(tl, &copy, 1, 0) != 1) {
		gnutls_free(der.data);
		gnutls_x509_trust_list_deinit(tl, 1);
		return gbca_fail(err, "out of memory");
	}
	gnutls_free(der.data);
	ret = gnutls_x509_trust_list_verify_crt2(tl, crts, n, vd, 2, 0, &status, NULL);
	gnutls_x509_trust_list_deinit(tl, 1);
	if (ret < 0)
		return gbca_fail(err, "couldn't verify the gateway's certificate: %s", gnutls_strerror(ret));
	if (status != 0) {
		gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0);
		gbca_fail(err, "the gateway's certificate for %s does not verify against that root: %s", name,
		          out.data ? (const char *)out.data : "?");
		gnutls_free(out.data);
		return false;
	}
	return true;
}

/* The checks on the certificate with the fingerprint: a CA, self-signed,
 * name-constrained to DNS subtrees. */
static bool
root_acceptable(gnutls_x509_crt_t crt, const char *fp, struct gbca_lan_root *out, struct gbca_err *err)
{
	unsigned critical = 0, status = 0;
	bool has_dns;

	if (gnutls_x509_crt_get_basic_constraints(crt, &critical, NULL, NULL) <= 0)
		return gbca_fail(err, "the certificate %s is not a CA certificate (no basicConstraints CA:TRUE); "
		                 "refusing to trust it", fp);
	if (!gnutls_x509_crt_check_issuer(crt, crt) ||
	    gnutls_x509_crt_verify(crt, &crt, 1, GNUTLS_VERIFY_DISABLE_TIME_CHECKS, &status) < 0 ||
	    status != 0)
		return gbca_fail(err, "the certificate %s is not a self-signed root; refusing to trust it", fp);
	if (!gbca_lan_permitted(crt, out->permitted, sizeof(out->permitted), &has_dns, err))
		return false;
	if (!has_dns)
		return gbca_fail(err, "the root %s has no name constraints that limit it to DNS names, so "
		                 "trusting it would let its key vouch for any site; refusing. The gateway "
		                 "should use a gbca root (gbca init keeps name constraints on by default)", fp);
	return true;
}

bool
gbca_lan_pick_root(const gnutls_datum_t *certs, unsigned n, const unsigned char want[32], const char *name,
                   struct gbca_lan_root *out, struct gbca_err *err)
{
	gnutls_x509_crt_t crts[16] = { NULL };
	char want_s[GBCA_LAN_FP_LEN], sent[2048];
	unsigned got = 0;
	int found = -1;
	bool ok = false;
	int ret;

	memset(out, 0, sizeof(*out));
	gbca_lan_format_fingerprint(want, want_s);
	if (n == 0)
		return gbca_fail(err, "the gateway sent no certificate");
	if (n > 16)
		n = 16;
	for (got = 0; got < n; got++) {
		unsigned char fp[32];
		if (gnutls_x509_crt_init(&crts[got]) < 0)
			goto oom;
		if ((ret = gnutls_x509_crt_import(crts[got], &certs[got], GNUTLS_X509_FMT_DER)) < 0) {
			gbca_fail(err, "the gateway sent a certificate that can't be read: %s", gnutls_strerror(ret));
			got++;
			goto out;
		}
		if (found < 0 && gbca_lan_crt_fingerprint(crts[got], fp) && memcmp(fp, want, 32) == 0)
			found = (int)got;
	}
	if (found < 0) {
		list_sent(crts, n, sent, sizeof(sent));
		gbca_fail(err, "no certificate the gateway sent has the fingerprint %s; it sent: %s. Check the "
		          "fingerprint with 'gbca export' on the gateway (a gateway that sends no root is not "
		          "gbca serve with its own CA, or something between you answers in its place)",
		          want_s, sent);
		goto out;
	}
	if (!root_acceptable(crts[found], want_s, out, err) || !leaf_verifies(crts, n, crts[found], name, err))
		goto out;
	if (gnutls_x509_crt_export2(crts[found], GNUTLS_X509_FMT_PEM, &out->pem) < 0)
		goto oom;
	out->crt = crts[found];
	crts[found] = NULL;
	snprintf(out->fingerprint, sizeof(out->fingerprint), "%s", want_s);
	ok = true;
	goto out;
oom:
	gbca_fail(err, "out of memory");
out:
	for (unsigned i = 0; i < got && i < 16; i++)
		if (crts[i])
			gnutls_x509_crt_deinit(crts[i]);
	if (!ok)
		gbca_lan_root_free(out);
	return ok;
}

/* Connects to one address within LAN_TIMEOUT_MS (gbca_probe_connect, as
 * doctor does); reads wait as long at most, for GnuTLS's blocking recv. */
static int
connect_one(const struct addrinfo *ai)
{
	struct timeval tv = { LAN_TIMEOUT_MS / 1000, 0 };
	int fd = gbca_probe_connect(ai->ai_addr, ai->ai_addrlen, LAN_TIMEOUT_MS, LAN_TIMEOUT_MS);

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int
dial(const char *host, const char *port, char *addr, size_t addr_len, struct gbca_err *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *r;
	int fd = -1, e = 0, ret;

	if ((ret = getaddrinfo(host, port, &hints, &res)) != 0) {
		gbca_fail(err, "couldn't resolve %s: %s", host, gai_strerror(ret));
		return -1;
	}
	for (r = res; r && fd < 0; r = r->ai_next) {
		if (r->ai_family != AF_INET && r->ai_family != AF_INET6)
			continue;
		if ((fd = connect_one(r)) < 0) {
			e = errno;
			continue;
		}
		if (getnameinfo(r->ai_addr, r->ai_addrlen, addr, (socklen_t)addr_len, NULL, 0, NI_NUMERICHOST) != 0)
			snprintf(addr, addr_len, "?");
	}
	freeaddrinfo(res);
	if (fd < 0)
		gbca_fail(err, "couldn't connect to %s port %s: %s; is gbca serve running there, listening on "
		          "that address, and does its --allow let this machine in?", host, port, strerror(e ? e : EHOSTUNREACH));
	return fd;
}

bool
gbca_lan_fetch(const char *host, const char *port, const unsigned char want[32], const char *name,
               struct gbca_lan_root *out, struct gbca_err *err)
{
	gnutls_certificate_credentials_t creds = NULL;
	gnutls_session_t s = NULL;
	const gnutls_datum_t *certs;
	char addr[INET6_ADDRSTRLEN] = "";
	unsigned n = 0;
	bool ok = false;
	int fd, ret;

	memset(out, 0, sizeof(*out));
	if ((fd = dial(host, port, addr, sizeof(addr), err)) < 0)
		return false;
	if (gnutls_certificate_allocate_credentials(&creds) < 0 || gnutls_init(&s, GNUTLS_CLIENT) < 0) {
		gbca_fail(err, "out of memory");
		goto out;
	}
	/* Nothing is verified during the handshake: the fingerprint decides,
	 * after it, and nothing is sent over this session. */
	if ((ret = gnutls_priority_set_direct(s, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", NULL)) < 0 ||
	    (ret = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, creds)) < 0 ||
	    (ret = gnutls_server_name_set(s, GNUTLS_NAME_DNS, name, strlen(name))) < 0) {
		gbca_fail(err, "couldn't set up TLS: %s", gnutls_strerror(ret));
		goto out;
	}
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, LAN_TIMEOUT_MS);
	do {
		ret = gnutls_handshake(s);
	} while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0) {
		/* gbca serve closes clients outside its --allow networks at accept */
		bool closed = ret == GNUTLS_E_PULL_ERROR || ret == GNUTLS_E_PUSH_ERROR ||
		              ret == GNUTLS_E_PREMATURE_TERMINATION;
		gbca_fail(err, "the TLS handshake with %s (%s) port %s failed: %s%s", host, addr, port, gnutls_strerror(ret),
		          closed ? "; the gateway closed the connection: is this machine in the networks its "
		                   "gbca serve allows (--allow)?" : "");
		goto out;
	}
	if ((certs = gnutls_certificate_get_peers(s, &n)) == NULL || n == 0) {
		gbca_fail(err, "%s (%s) port %s sent no certificate", host, addr, port);
		goto out;
	}
	if (!gbca_lan_pick_root(certs, n, want, name, out, err)) {
		gbca_fail_prefix(err, "%s (%s) port %s", host, addr, port);
		goto out;
	}
	snprintf(out->address, sizeof(out->address), "%s", addr);
	ok = true;
out:
	if (s)
		gnutls_deinit(s);
	if (creds)
		gnutls_certificate_free_credentials(creds);
	close(fd);
	return ok;
}

/* The source address of the default route: a UDP socket "connected" to an
 * address of TEST-NET-2 (RFC 5737) sends nothing but picks it. */
static bool
default_route_address(char *buf, size_t len)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) }, me = { 0 };
	socklen_t me_len = sizeof(me);
	bool ok = false;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	inet_pton(AF_INET, "198.51.100.1", &to.sin_addr);
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&me, &me_len) == 0 && me.sin_addr.s_addr != htonl(INADDR_ANY) &&
	    (ntohl(me.sin_addr.s_addr) >> 24) != 127)
		ok = inet_ntop(AF_INET, &me.sin_addr, buf, (socklen_t)len) != NULL;
	close(fd);
	return ok;
}

void
gbca_lan_own_address(char *buf, size_t len)
{
	struct ifaddrs *ifs, *i;

	buf[0] = '\0';
	if (default_route_address(buf, len))
		return;
	buf[0] = '\0';
	if (getifaddrs(&ifs) == 0) {
		for (i = ifs; i && buf[0] == '\0'; i = i->ifa_next) {
			if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
			    (i->ifa_flags & IFF_LOOPBACK))
				continue;
			if (inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf, (socklen_t)len) == NULL)
				buf[0] = '\0';
		}
		freeifaddrs(ifs);
	}
	if (buf[0] == '\0' && (gethostname(buf, len) < 0 || buf[0] == '\0'))
		snprintf(buf, len, "GATEWAY");
	buf[len - 1] = '\0';
}
