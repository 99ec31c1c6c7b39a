/* Names in certificates: parsing and classification of user input, IDN to
 * A-labels (through GnuTLS/libidn2), file stems, and name-constraint matching. */
#include "config.h"
#include <gbca/names.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DNS_MAX 253
#define LABEL_MAX 63

const char *
gbca_name_type_label(enum gbca_name_type t)
{
	switch (t) {
	case GBCA_NAME_DNS: return "DNS name";
	case GBCA_NAME_WILDCARD: return "wildcard DNS name";
	case GBCA_NAME_IPV4: return "IPv4 address";
	case GBCA_NAME_IPV6: return "IPv6 address";
	case GBCA_NAME_EMAIL: return "email address";
	case GBCA_NAME_URI: return "URI";
	}
	return "name";
}

static bool
all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

bool
gbca_name_check_dns(const char *name, struct gbca_err *err)
{
	size_t len = strlen(name);
	const char *label = name, *end;

	if (len == 0)
		return gbca_fail(err, "empty DNS name");
	if (len > DNS_MAX)
		return gbca_fail(err, "DNS name is %zu bytes long; the limit is %d", len, DNS_MAX);
	if (name[len - 1] == '.')
		return gbca_fail(err, "\"%s\" ends with a dot; write it without the trailing dot", name);
	for (;;) {
		size_t ll;
		end = strchr(label, '.');
		ll = end ? (size_t)(end - label) : strlen(label);
		if (ll == 0)
			return gbca_fail(err, "\"%s\" has an empty label (two dots in a row, or a leading dot)", name);
		if (ll > LABEL_MAX)
			return gbca_fail(err, "\"%s\" has a label of %zu bytes; the limit is %d", name, ll, LABEL_MAX);
		if (label[0] == '-' || label[ll - 1] == '-')
			return gbca_fail(err, "\"%s\": a label can't start or end with '-'", name);
		for (size_t i = 0; i < ll; i++) {
			unsigned char c = (unsigned char)label[i];
			if (c == '*')
				return gbca_fail(err, "\"%s\": a wildcard may only be the whole first label, as in *.example.test", name);
			if (!(islower(c) || isdigit(c) || c == '-' || c == '_'))
				return gbca_fail(err, "\"%s\" contains '%c', which is not allowed in a DNS name", name, c);
		}
		if (end == NULL)
			break;
		label = end + 1;
	}
	/* An all-digit last label is never a real TLD: the user meant an IP. */
	if (all_digits(label, strlen(label)))
		return gbca_fail(err, "\"%s\" is not a valid IP address, and not a DNS name either (the last label is numeric)", name);
	return true;
}

/* Lower-cases ASCII and turns an internationalised name into A-labels. */
static bool
dns_normalise(const char *in, char *out, size_t outlen, struct gbca_err *err)
{
	bool ascii = true;
	size_t n = strlen(in);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)in[i] >= 0x80)
			ascii = false;
	if (ascii) {
		if (n >= outlen)
			return gbca_fail(err, "DNS name is %zu bytes long; the limit is %d", n, DNS_MAX);
		for (size_t i = 0; i <= n; i++)
			out[i] = (char)tolower((unsigned char)in[i]);
		return true;
	}
	gnutls_datum_t ace = { NULL, 0 };
	int ret = gnutls_idna_map(in, (unsigned)n, &ace, 0);
	if (ret < 0)
		return gbca_fail(err, "\"%s\" is not a valid internationalised domain name: %s", in, gnutls_strerror(ret));
	if (ace.size >= outlen) {
		gnutls_free(ace.data);
		return gbca_fail(err, "\"%s\" is %u bytes long as A-labels; the limit is %d", in, ace.size, DNS_MAX);
	}
	memcpy(out, ace.data, ace.size);
	out[ace.size] = '\0';
	gnutls_free(ace.data);
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return true;
}

/* The buffers that dns_normalise fills start zeroed: gbca_name_check_dns
 * walks them by strlen, which clang's analyzer cannot tie to the bytes
 * written, so it saw reads past the terminator that cannot happen. */
static bool
parse_dns(const char *in, struct gbca_name *out, struct gbca_err *err)
{
	char buf[1024] = { 0 };
	const char *base;

	/* IDNA mapping would drop the '*', so map only what follows "*.". */
	if (in[0] == '*' && in[1] == '.') {
		buf[0] = '*';
		buf[1] = '.';
		if (!dns_normalise(in + 2, buf + 2, sizeof(buf) - 2, err))
			return false;
	} else if (!dns_normalise(in, buf, sizeof(buf), err)) {
		return false;
	}
	if (buf[0] == '*') {
		if (buf[1] != '.')
			return gbca_fail(err, "\"%s\": a wildcard must be the whole first label, as in *.example.test", in);
		base = buf + 2;
		if (!gbca_name_check_dns(base, err))
			return gbca_fail_prefix(err, "bad wildcard \"%s\"", in);
		/* "localhost" is the one single-label base that makes sense: RFC 6761
		 * reserves it for loopback, and it is in the default constraints. */
		if (strchr(base, '.') == NULL && strcmp(base, "localhost") != 0)
			return gbca_fail(err, "wildcard \"%s\" would cover a whole top-level domain, which clients reject; use a name like *.example.test", in);
		if (strlen(buf) > DNS_MAX)
			return gbca_fail(err, "DNS name is %zu bytes long; the limit is %d", strlen(buf), DNS_MAX);
		out->type = GBCA_NAME_WILDCARD;
	} else {
		if (!gbca_name_check_dns(buf, err))
			return false;
		out->type = GBCA_NAME_DNS;
	}
	snprintf(out->text, sizeof(out->text), "%s", buf);
	return true;
}

static bool
parse_ip(const char *in, struct gbca_name *out, struct gbca_err *err)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(in);

	if (strchr(in, ':') != NULL || in[0] == '[') {
		if (in[0] == '[') {
			if (n < 3 || in[n - 1] != ']')
				return gbca_fail(err, "\"%s\" is not a valid IPv6 address", in);
			in++;
			n -= 2;
		}
		if (n >= sizeof(buf))
			return gbca_fail(err, "\"%.*s\" is not a valid IPv6 address", (int)n, in);
		memcpy(buf, in, n);
		buf[n] = '\0';
		if (strchr(buf, '%'))
			return gbca_fail(err, "\"%s\": zone IDs can't go in a certificate; drop the %%... part", buf);
		if (inet_pton(AF_INET6, buf, out->ip) != 1)
			return gbca_fail(err, "\"%s\" is not a valid IPv6 address", buf);
		out->type = GBCA_NAME_IPV6;
		inet_ntop(AF_INET6, out->ip, out->text, sizeof(out->text));
		return true;
	}
	if (inet_pton(AF_INET, in, out->ip) != 1)
		return gbca_fail(err, "\"%s\" is not a valid IPv4 address", in);
	out->type = GBCA_NAME_IPV4;
	inet_ntop(AF_INET, out->ip, out->text, sizeof(out->text));
	return true;
}

/* RFC 5322 atext, plus '.' between atoms; no quoted local parts. */
static bool
email_local_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c)))
			continue;
		if (c == '.' && s[i + 1] != '.')
			continue;
		return false;
	}
	return true;
}

static bool
parse_email(const char *in, struct gbca_name *out, struct gbca_err *err)
{
	const char *at = strchr(in, '@');
	char domain[1024] = { 0 };  /* zeroed for the analyzer, as in parse_dns */
	size_t ll = (size_t)(at - in);

	if (strchr(at + 1, '@'))
		return gbca_fail(err, "\"%s\" has more than one '@'; is it an email address?", in);
	if (!email_local_ok(in, ll))
		return gbca_fail(err, "\"%s\": the part before '@' is not a valid mailbox (plain ASCII letters, digits and !#$%%&'*+-/=?^_`{|}~. only)", in);
	if (!dns_normalise(at + 1, domain, sizeof(domain), err) || !gbca_name_check_dns(domain, err))
		return gbca_fail_prefix(err, "bad email address \"%s\"", in);
	if ((size_t)snprintf(out->text, sizeof(out->text), "%.*s@%s", (int)ll, in, domain) >= sizeof(out->text))
		return gbca_fail(err, "email address is too long");
	snprintf(out->host, sizeof(out->host), "%.255s", domain);
	out->type = GBCA_NAME_EMAIL;
	return true;
}

static bool
parse_uri(const char *in, struct gbca_name *out, struct gbca_err *err)
{
	const char *sep = strstr(in, "://");
	const char *auth, *end, *host, *at, *hend;
	char hbuf[300];
	struct gbca_name hn;
	size_t hl;

	if (sep == in || !isalpha((unsigned char)in[0]))
		return gbca_fail(err, "\"%s\" is not a valid URI: it needs a scheme, as in spiffe://example.test/x", in);
	for (const char *p = in; p < sep; p++)
		if (!(isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.'))
			return gbca_fail(err, "\"%s\" is not a valid URI: bad character in the scheme", in);
	for (const char *p = in; *p; p++)
		if ((unsigned char)*p >= 0x80 || *p == ' ' || strchr("\"<>\\^`{|}", *p))
			return gbca_fail(err, "\"%s\" is not a valid URI: '%c' must be percent-encoded", in, *p);
	auth = sep + 3;
	end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', (size_t)(end - auth));
	host = at ? at + 1 : auth;
	if (*host == '[') {
		hend = memchr(host, ']', (size_t)(end - host));
		if (hend == NULL)
			return gbca_fail(err, "\"%s\" is not a valid URI: unclosed '['", in);
		hend++;
	} else {
		hend = memchr(host, ':', (size_t)(end - host));
		if (hend == NULL)
			hend = end;
	}
	hl = (size_t)(hend - host);
	if (hl == 0)
		return gbca_fail(err, "\"%s\" is not a valid URI: it has no host", in);
	if (hl >= sizeof(hbuf))
		return gbca_fail(err, "\"%s\" is not a valid URI: the host is too long", in);
	memcpy(hbuf, host, hl);
	hbuf[hl] = '\0';
	if (!gbca_name_parse(hbuf, &hn, err) || (hn.type != GBCA_NAME_DNS && hn.type != GBCA_NAME_IPV4 && hn.type != GBCA_NAME_IPV6))
		return gbca_fail(err, "\"%s\" is not a valid URI: \"%s\" is not a host name or IP address", in, hbuf);
	snprintf(out->text, sizeof(out->text), "%s", in);
	for (char *p = out->text; *p != ':'; p++)
		*p = (char)tolower((unsigned char)*p);
	snprintf(out->host, sizeof(out->host), "%.255s", hn.text);
	memcpy(out->ip, hn.ip, sizeof(out->ip));
	out->type = GBCA_NAME_URI;
	return true;
}

static bool
looks_numeric(const char *s)
{
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && *s != '.')
			return false;
	return true;
}

/* The ":PORT" at the end of "host:PORT", "1.2.3.4:PORT" or "[::1]:PORT"
 * (people paste URLs' authorities), or NULL. A bare IPv6 address has two
 * colons or more, so one colon before digits is a port. */
static const char *
port_suffix(const char *in)
{
	const char *colon;

	if (in[0] == '[') {
		const char *close = strchr(in, ']');
		colon = close ? close + 1 : NULL;
		if (colon == NULL || *colon != ':')
			return NULL;
	} else {
		colon = strchr(in, ':');
		if (colon == NULL || strchr(colon + 1, ':') != NULL)
			return NULL;
	}
	return all_digits(colon + 1, strlen(colon + 1)) && strlen(colon + 1) <= 5 ? colon : NULL;
}

bool
gbca_name_parse(const char *in, struct gbca_name *out, struct gbca_err *err)
{
	const char *port;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (in == NULL || in[0] == '\0')
		return gbca_fail(err, "empty name; give a host name, IP address, email address or URI");
	n = strlen(in);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c < 0x20 || c == 0x7f)
			return gbca_fail(err, "name contains a control character (byte 0x%02x); check for stray newlines or tabs", c);
	}
	if (in[0] == '-')
		return gbca_fail(err, "\"%s\" starts with '-', so it is not a name; is it a misspelt option?", in);
	if (n > GBCA_NAME_MAX)
		return gbca_fail(err, "name is %zu bytes long; the limit is %d", n, GBCA_NAME_MAX);
	if (strstr(in, "://"))
		return parse_uri(in, out, err);
	if (strchr(in, '@'))
		return parse_email(in, out, err);
	if ((port = port_suffix(in)) != NULL)
		return gbca_fail(err, "\"%s\" is not a host name or IP address; a certificate names hosts, not ports: drop \"%s\"",
		                 in, port);
	if (strchr(in, ':') || in[0] == '[' || looks_numeric(in))
		return parse_ip(in, out, err);
	for (size_t i = 0; i < n; i++)
		if (in[i] == ' ')
			return gbca_fail(err, "\"%s\" contains a space, which no certificate name may", in);
	if (n > DNS_MAX)
		return gbca_fail(err, "DNS name is %zu bytes long; the limit is %d", n, DNS_MAX);
	return parse_dns(in, out, err);
}

void
gbca_name_file_stem(const char *text, char *buf, size_t len)
{
	size_t o = 0;

	if (len == 0)
		return;
	for (const char *p = text; *p && o + 1 < len; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '*') {
			const char *w = "_wildcard";
			for (; *w && o + 1 < len; w++)
				buf[o++] = *w;
		} else if (isalnum(c) || c == '.' || c == '-' || c == '_' || c == '@') {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '_';
		}
	}
	buf[o] = '\0';
}

/* --- name constraints --- */

static void
prefix_mask(unsigned char *mask, unsigned len_bytes, unsigned bits)
{
	for (unsigned i = 0; i < len_bytes; i++) {
		unsigned b = bits >= 8 ? 8 : bits;
		mask[i] = (unsigned char)(b ? (0xff << (8 - b)) & 0xff : 0);
		bits -= b;
	}
}

static unsigned
mask_bits(const unsigned char *mask, unsigned len_bytes)
{
	unsigned bits = 0;
	for (unsigned i = 0; i < len_bytes; i++)
		for (int b = 7; b >= 0; b--)
			bits += (mask[i] >> b) & 1;
	return bits;
}

bool
gbca_subtree_parse(const char *in, struct gbca_subtree *out, struct gbca_err *err)
{
	struct gbca_name n;
	char buf[300];
	const char *slash;

	memset(out, 0, sizeof(*out));
	if (in == NULL || in[0] == '\0')
		return gbca_fail(err, "empty --permit value");
	if (strlen(in) >= sizeof(buf))
		return gbca_fail(err, "--permit %s: too long", in);
	slash = strchr(in, '/');
	if (slash != NULL) {
		char *end;
		unsigned long bits;
		memcpy(buf, in, (size_t)(slash - in));
		buf[slash - in] = '\0';
		if (!gbca_name_parse(buf, &n, err) || (n.type != GBCA_NAME_IPV4 && n.type != GBCA_NAME_IPV6))
			return gbca_fail(err, "--permit %s: \"%s\" is not an IP address", in, buf);
		out->ip_len = n.type == GBCA_NAME_IPV4 ? 4 : 16;
		bits = strtoul(slash + 1, &end, 10);
		if (!isdigit((unsigned char)slash[1]) || *end != '\0' || bits > out->ip_len * 8)
			return gbca_fail(err, "--permit %s: the prefix length must be 0..%u", in, out->ip_len * 8);
		prefix_mask(out->mask, out->ip_len, (unsigned)bits);
		for (unsigned i = 0; i < out->ip_len; i++) {
			out->ip[i] = n.ip[i];
			if (n.ip[i] & ~out->mask[i])
				return gbca_fail(err, "--permit %s: the address has bits set beyond the /%lu prefix; did you mean the network address?", in, bits);
		}
		out->type = GBCA_SUBTREE_IP;
		return true;
	}
	if (in[0] == '@') {
		const char *d = in + 1;
		bool dot = d[0] == '.';
		if (!gbca_name_parse(dot ? d + 1 : d, &n, err) || n.type != GBCA_NAME_DNS)
			return gbca_fail(err, "--permit %s: \"%s\" is not a domain for email addresses", in, d);
		snprintf(out->text, sizeof(out->text), "%s%.254s", dot ? "." : "", n.text);
		out->type = GBCA_SUBTREE_EMAIL;
		return true;
	}
	if (strchr(in, '@')) {
		if (!gbca_name_parse(in, &n, err) || n.type != GBCA_NAME_EMAIL)
			return gbca_fail_prefix(err, "--permit %s", in);
		if (strlen(n.text) >= sizeof(out->text))
			return gbca_fail(err, "--permit %s: too long", in);
		memcpy(out->text, n.text, strlen(n.text) + 1);
		out->type = GBCA_SUBTREE_EMAIL;
		return true;
	}
	{
		const char *d = in;
		bool dot = false;
		if (d[0] == '*' && d[1] == '.')
			d += 2, dot = true;
		else if (d[0] == '.')
			d += 1, dot = true;
		if (!gbca_name_parse(d, &n, err))
			return gbca_fail_prefix(err, "--permit %s", in);
		if (n.type == GBCA_NAME_IPV4 || n.type == GBCA_NAME_IPV6) {
			if (dot)
				return gbca_fail(err, "--permit %s: a leading dot makes no sense for an IP address", in);
			out->ip_len = n.type == GBCA_NAME_IPV4 ? 4 : 16;
			memcpy(out->ip, n.ip, out->ip_len);
			prefix_mask(out->mask, out->ip_len, out->ip_len * 8);
			out->type = GBCA_SUBTREE_IP;
			return true;
		}
		if (n.type != GBCA_NAME_DNS)
			return gbca_fail(err, "--permit %s: give a DNS name, .domain, IP address, CIDR range, mailbox or @domain", in);
		snprintf(out->text, sizeof(out->text), "%s%.254s", dot ? "." : "", n.text);
		out->type = GBCA_SUBTREE_DNS;
		return true;
	}
}

void
gbca_subtree_format(const struct gbca_subtree *t, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	switch (t->type) {
	case GBCA_SUBTREE_DNS:
		snprintf(buf, len, "DNS %s", t->text[0] ? t->text : "(any)");
		break;
	case GBCA_SUBTREE_EMAIL:
		snprintf(buf, len, "email %s%s", strchr(t->text, '@') ? "" : "@", t->text);
		break;
	case GBCA_SUBTREE_IP:
		inet_ntop(t->ip_len == 4 ? AF_INET : AF_INET6, t->ip, a, sizeof(a));
		snprintf(buf, len, "IP %s/%u", a, mask_bits(t->mask, t->ip_len));
		break;
	}
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* DNS constraint: "host" matches host and every name below it;
 * ".domain" matches names strictly below domain; "" matches all. */
static bool
dns_matches(const char *c, const char *name)
{
	size_t cl = strlen(c), nl = strlen(name);

	if (cl == 0)
		return true;
	if (c[0] == '.')
		return nl > cl && ends_with(name, c);
	if (strcmp(name, c) == 0)
		return true;
	return nl > cl && name[nl - cl - 1] == '.' && ends_with(name, c);
}

static bool
ip_matches(const struct gbca_subtree *t, const unsigned char *ip, unsigned len)
{
	if (t->ip_len != len)
		return false;
	for (unsigned i = 0; i < len; i++)
		if ((ip[i] & t->mask[i]) != t->ip[i])
			return false;
	return true;
}

static unsigned
name_ip_len(const struct gbca_name *n)
{
	if (n->type == GBCA_NAME_IPV4)
		return 4;
	if (n->type == GBCA_NAME_IPV6)
		return 16;
	if (n->type == GBCA_NAME_URI)
		return strchr(n->host, ':') ? 16 : (looks_numeric(n->host) ? 4 : 0);
	return 0;
}

bool
gbca_subtree_applies(const struct gbca_subtree *t, const struct gbca_name *n)
{
	switch (t->type) {
	case GBCA_SUBTREE_DNS:
		return n->type == GBCA_NAME_DNS || n->type == GBCA_NAME_WILDCARD ||
		       (n->type == GBCA_NAME_URI && name_ip_len(n) == 0);
	case GBCA_SUBTREE_IP:
		return name_ip_len(n) != 0;
	case GBCA_SUBTREE_EMAIL:
		return n->type == GBCA_NAME_EMAIL;
	}
	return false;
}

bool
gbca_subtree_matches(const struct gbca_subtree *t, const struct gbca_name *n)
{
	if (!gbca_subtree_applies(t, n))
		return false;
	switch (t->type) {
	case GBCA_SUBTREE_DNS:
		return dns_matches(t->text, n->type == GBCA_NAME_URI ? n->host : n->text);
	case GBCA_SUBTREE_IP:
		return ip_matches(t, n->ip, name_ip_len(n));
	case GBCA_SUBTREE_EMAIL:
		if (strchr(t->text, '@'))
			return strcmp(t->text, n->text) == 0;
		return dns_matches(t->text, n->host) && (t->text[0] == '.' || strcmp(t->text, n->host) == 0);
	}
	return false;
}

bool
gbca_names_from_args(char *const *args, int n_args, const char *def, struct gbca_name **out,
                     size_t *n_out, struct gbca_err *err)
{
	struct gbca_name *names = calloc((size_t)n_args + 1, sizeof(*names));
	size_t n = 0;

	if (names == NULL)
		return gbca_fail(err, "out of memory");
	if (n_args == 0 && def != NULL && gbca_name_parse(def, &names[0], err))
		n = 1;
	for (int i = 0; i < n_args; i++) {
		bool dup = false;
		if (!gbca_name_parse(args[i], &names[n], err)) {
			free(names);
			return false;
		}
		for (size_t j = 0; j < n; j++)
			dup = dup || (names[j].type == names[n].type && strcmp(names[j].text, names[n].text) == 0);
		if (!dup)
			n++;
	}
	*out = names;
	*n_out = n;
	return true;
}
