/* DNS lookups that skip /etc/hosts: --google-passthrough must reach the real
 * generativelanguage.googleapis.com, which the hosts file points back at us;
 * and the page of addresses the master shares with the workers.
 * res_nquery (in glibc's libc since 2.34) asks the resolv.conf servers; the
 * answer is parsed here to avoid loading libresolv for ns_initparse. */
#include "config.h"
#include <gbca/proxy.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>

#define T_A_ 1
#define T_AAAA_ 28
#define C_IN_ 1

/* Skips a (possibly compressed) domain name; returns the offset after it or -1. */
static int
skip_name(const unsigned char *m, int len, int off)
{
	while (off < len) {
		unsigned l = m[off];
		if (l == 0)
			return off + 1;
		if ((l & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : -1;
		if (l & 0xc0)
			return -1;
		off += 1 + (int)l;
	}
	return -1;
}

static size_t
query(res_state rs, const char *name, int type, uint16_t port, struct sockaddr_storage *out, size_t max)
{
	unsigned char m[4096];
	int len = res_nquery(rs, name, C_IN_, type, m, sizeof(m));
	int off, qd, an;
	size_t n = 0;

	if (len < 12)
		return 0;
	qd = m[4] << 8 | m[5];
	an = m[6] << 8 | m[7];
	off = 12;
	for (int i = 0; i < qd && off >= 0; i++) {
		off = skip_name(m, len, off);
		off = off >= 0 && off + 4 <= len ? off + 4 : -1;
	}
	for (int i = 0; i < an && off >= 0 && n < max; i++) {
		int t, c, rdlen;
		off = skip_name(m, len, off);
		if (off < 0 || off + 10 > len)
			break;
		t = m[off] << 8 | m[off + 1];
		c = m[off + 2] << 8 | m[off + 3];
		rdlen = m[off + 8] << 8 | m[off + 9];
		off += 10;
		if (off + rdlen > len)
			break;
		if (c == C_IN_ && t == T_A_ && type == T_A_ && rdlen == 4) {
			struct sockaddr_in *a = (struct sockaddr_in *)&out[n++];
			memset(a, 0, sizeof(out[0]));
			a->sin_family = AF_INET;
			a->sin_port = htons(port);
			memcpy(&a->sin_addr, m + off, 4);
		} else if (c == C_IN_ && t == T_AAAA_ && type == T_AAAA_ && rdlen == 16) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out[n++];
			memset(a, 0, sizeof(out[0]));
			a->sin6_family = AF_INET6;
			a->sin6_port = htons(port);
			memcpy(&a->sin6_addr, m + off, 16);
		}
		off += rdlen;   /* CNAMEs are skipped: the resolver appends the targets' records */
	}
	return n;
}

size_t
gbca_dns_lookup(const char *name, uint16_t port, struct sockaddr_storage *out, size_t max)
{
	struct __res_state rs;
	size_t n;

	memset(&rs, 0, sizeof(rs));
	if (res_ninit(&rs) != 0)
		return 0;
	n = query(&rs, name, T_A_, port, out, max);
	if (n < max)
		n += query(&rs, name, T_AAAA_, port, out + n, max - n);
	res_nclose(&rs);
	return n;
}

void
gbca_addrs_publish(struct gbca_google *g, const struct sockaddr_storage *addrs, size_t n)
{
	if (n > GBCA_GOOGLE_ADDRS_MAX)
		n = GBCA_GOOGLE_ADDRS_MAX;
	g->seq++;
	__sync_synchronize();
	memcpy(g->addrs, addrs, n * sizeof(addrs[0]));
	g->n = (uint32_t)n;
	__sync_synchronize();
	g->seq++;
}

uint32_t
gbca_addrs_pick(const struct gbca_google *g, unsigned i, struct sockaddr_storage *ss)
{
	uint32_t seq, n;

	do {
		seq = g->seq;
		__sync_synchronize();
		n = g->n;
		if (n > 0)
			*ss = g->addrs[i % n];
		__sync_synchronize();
	} while ((seq & 1) || seq != g->seq);
	return n;
}
