/* Unit tests: name parsing, classification, file stems, and constraint matching. */
#include "config.h"
#include "tap.h"
#include <gbca/names.h>

static struct gbca_name n;
static struct gbca_err err;

static void
parse_ok(const char *in, enum gbca_name_type type, const char *text)
{
	if (!gbca_name_parse(in, &n, &err))
		tap_fail(__FILE__, __LINE__, "\"%s\" rejected: %s", in, err.msg);
	assert_int_eq(n.type, type);
	assert_str_eq(n.text, text);
}

static void
parse_bad(const char *in, const char *why)
{
	err.msg[0] = '\0';
	if (gbca_name_parse(in, &n, &err))
		tap_fail(__FILE__, __LINE__, "\"%s\" accepted as %s \"%s\"", in, gbca_name_type_label(n.type), n.text);
	assert_str_contains(err.msg, why);
}

static void test_dns(void) { parse_ok("Example.TEST", GBCA_NAME_DNS, "example.test"); parse_ok("localhost", GBCA_NAME_DNS, "localhost"); parse_ok("a_b.example.test", GBCA_NAME_DNS, "a_b.example.test"); }
static void test_default_name(void) { parse_ok("generativelanguage.googleapis.com", GBCA_NAME_DNS, "generativelanguage.googleapis.com"); }
static void test_wildcard(void) { parse_ok("*.Example.test", GBCA_NAME_WILDCARD, "*.example.test"); parse_ok("*.localhost", GBCA_NAME_WILDCARD, "*.localhost"); }
static void test_wildcard_tld(void) { parse_bad("*.com", "top-level domain"); }
static void test_wildcard_inner(void) { parse_bad("a.*.b", "wildcard"); parse_bad("*x.example.test", "wildcard"); parse_bad("*.*.example.test", "wildcard"); }
static void test_ipv4(void) { parse_ok("127.0.0.1", GBCA_NAME_IPV4, "127.0.0.1"); assert_int_eq(n.ip[0], 127); assert_int_eq(n.ip[3], 1); }
static void test_ipv6(void) { parse_ok("::1", GBCA_NAME_IPV6, "::1"); assert_int_eq(n.ip[15], 1); parse_ok("[FE80::1]", GBCA_NAME_IPV6, "fe80::1"); parse_ok("2001:DB8:0:0::5", GBCA_NAME_IPV6, "2001:db8::5"); }
static void test_bad_ipv4(void) { parse_bad("999.1.1.1", "not a valid IPv4"); parse_bad("1.2.3", "not a valid IPv4"); parse_bad("01.2.3.4", "not a valid IPv4"); parse_bad("1.2.3.4.5", "IPv4"); }
static void test_bad_ipv6(void) { parse_bad("::g", "not a valid IPv6"); parse_bad("fe80::1%eth0", "zone"); parse_bad("[::1", "IPv6"); parse_bad("1:2:3:4:5:6:7:8:9", "IPv6"); }
static void test_numeric_tld(void) { parse_bad("host.123", "numeric"); }
static void test_email(void) { parse_ok("Me@Example.TEST", GBCA_NAME_EMAIL, "Me@example.test"); assert_str_eq(n.host, "example.test"); }
static void test_bad_email(void) { parse_bad("a@@b.test", "more than one"); parse_bad("@b.test", "mailbox"); parse_bad("a..b@b.test", "mailbox"); parse_bad("a@-b.test", "email"); }
static void test_uri(void) { parse_ok("SPIFFE://Example.test/ns/x", GBCA_NAME_URI, "spiffe://Example.test/ns/x"); assert_str_eq(n.host, "example.test"); parse_ok("https://[::1]:8443/x", GBCA_NAME_URI, "https://[::1]:8443/x"); assert_str_eq(n.host, "::1"); }
static void test_bad_uri(void) { parse_bad("https:///x", "no host"); parse_bad("://x", "scheme"); parse_bad("https://a b/", "percent-encoded"); parse_bad("https://bad..host/", "not a host"); }
static void test_idn(void) { parse_ok("bücher.example", GBCA_NAME_DNS, "xn--bcher-kva.example"); parse_ok("*.BÜCHER.example", GBCA_NAME_WILDCARD, "*.xn--bcher-kva.example"); }
static void test_empty(void) { parse_bad("", "empty"); }
static void test_option_like(void) { parse_bad("-x", "starts with '-'"); }
static void test_control(void) { parse_bad("exa\nmple.test", "control character"); parse_bad("a\tb", "control"); parse_bad("a\x7f", "control"); }
static void test_space(void) { parse_bad("a b.test", "space"); }
static void test_label_63(void)
{
	char buf[80];
	memset(buf, 'a', 63);
	strcpy(buf + 63, ".test");
	parse_ok(buf, GBCA_NAME_DNS, buf);
	memset(buf, 'a', 64);
	strcpy(buf + 64, ".test");
	parse_bad(buf, "label of 64 bytes");
}
static void test_name_253(void)
{
	char buf[300];
	/* 4 x 62-byte labels + 3 dots = 251; +".ab" = 254 */
	for (int i = 0; i < 4; i++) {
		memset(buf + i * 63, 'a' + i, 62);
		buf[i * 63 + 62] = '.';
	}
	buf[4 * 63 - 1] = '\0';
	parse_ok(buf, GBCA_NAME_DNS, buf);
	strcat(buf, ".b");
	parse_ok(buf, GBCA_NAME_DNS, buf);       /* 253 */
	strcat(buf, "c");
	parse_bad(buf, "limit is 253");           /* 254 */
}
static void test_labels(void) { parse_bad("a..b", "empty label"); parse_bad(".a", "empty label"); parse_bad("a.", "trailing dot"); parse_bad("-a.test", "starts with '-'"); parse_bad("a-.test", "'-'"); parse_bad("a!.test", "'!'"); }

static void
test_file_stem(void)
{
	char buf[64];
	gbca_name_file_stem("*.example.test", buf, sizeof(buf));
	assert_str_eq(buf, "_wildcard.example.test");
	gbca_name_file_stem("::1", buf, sizeof(buf));
	assert_str_eq(buf, "__1");
	gbca_name_file_stem("spiffe://x/y", buf, sizeof(buf));
	assert_str_eq(buf, "spiffe___x_y");
	gbca_name_file_stem("../../etc/passwd", buf, sizeof(buf));
	assert_false(strchr(buf, '/'));
}

static struct gbca_subtree t;

static void
subtree(const char *s)
{
	if (!gbca_subtree_parse(s, &t, &err))
		tap_fail(__FILE__, __LINE__, "--permit %s rejected: %s", s, err.msg);
}

static bool
matches(const char *name)
{
	if (!gbca_name_parse(name, &n, &err))
		tap_fail(__FILE__, __LINE__, "\"%s\" rejected: %s", name, err.msg);
	return gbca_subtree_matches(&t, &n);
}

static void
test_subtree_host(void)
{
	subtree("localhost");
	assert_true(matches("localhost"));
	assert_true(matches("a.localhost"));
	assert_true(matches("*.localhost"));
	assert_false(matches("xlocalhost"));
	assert_false(matches("localhost.evil.test"));
	assert_false(matches("127.0.0.1"));
}

static void
test_subtree_domain(void)
{
	subtree(".example.test");
	assert_str_eq(t.text, ".example.test");
	assert_false(matches("example.test"));
	assert_true(matches("a.example.test"));
	assert_true(matches("*.example.test"));
	assert_false(matches("badexample.test"));
	subtree("*.Example.test");
	assert_str_eq(t.text, ".example.test");
}

static void
test_subtree_ip(void)
{
	char buf[64];
	subtree("127.0.0.0/8");
	assert_true(matches("127.1.2.3"));
	assert_false(matches("128.0.0.1"));
	assert_false(matches("::1"));
	assert_true(matches("http://127.0.0.9/x"));
	gbca_subtree_format(&t, buf, sizeof(buf));
	assert_str_eq(buf, "IP 127.0.0.0/8");
	subtree("::1");
	gbca_subtree_format(&t, buf, sizeof(buf));
	assert_str_eq(buf, "IP ::1/128");
	assert_true(matches("::1"));
	assert_false(matches("::2"));
}

static void
test_subtree_email(void)
{
	subtree("@localhost");
	assert_true(matches("me@localhost"));
	assert_false(matches("me@a.localhost"));
	assert_false(matches("localhost"));
	subtree("@.example.test");
	assert_true(matches("me@a.example.test"));
	assert_false(matches("me@example.test"));
	subtree("me@example.test");
	assert_true(matches("me@example.test"));
	assert_false(matches("you@example.test"));
}

static void
test_subtree_bad(void)
{
	assert_false(gbca_subtree_parse("10.0.0.1/8", &t, &err));
	assert_str_contains(err.msg, "network address");
	assert_false(gbca_subtree_parse("10.0.0.0/33", &t, &err));
	assert_false(gbca_subtree_parse("::/129", &t, &err));
	assert_false(gbca_subtree_parse("", &t, &err));
	assert_false(gbca_subtree_parse("a..b", &t, &err));
	assert_false(gbca_subtree_parse(".10.0.0.1", &t, &err));
	assert_false(gbca_subtree_parse("https://x/", &t, &err));
}

int
main(void)
{
	tap_add("/names/dns", test_dns);
	tap_add("/names/default-name", test_default_name);
	tap_add("/names/wildcard", test_wildcard);
	tap_add("/names/wildcard-tld", test_wildcard_tld);
	tap_add("/names/wildcard-inner", test_wildcard_inner);
	tap_add("/names/ipv4", test_ipv4);
	tap_add("/names/ipv6", test_ipv6);
	tap_add("/names/bad-ipv4", test_bad_ipv4);
	tap_add("/names/bad-ipv6", test_bad_ipv6);
	tap_add("/names/numeric-tld", test_numeric_tld);
	tap_add("/names/email", test_email);
	tap_add("/names/bad-email", test_bad_email);
	tap_add("/names/uri", test_uri);
	tap_add("/names/bad-uri", test_bad_uri);
	tap_add("/names/idn-a-labels", test_idn);
	tap_add("/names/empty", test_empty);
	tap_add("/names/option-like", test_option_like);
	tap_add("/names/control-chars", test_control);
	tap_add("/names/space", test_space);
	tap_add("/names/label-63", test_label_63);
	tap_add("/names/name-253", test_name_253);
	tap_add("/names/bad-labels", test_labels);
	tap_add("/names/file-stem", test_file_stem);
	tap_add("/subtree/host", test_subtree_host);
	tap_add("/subtree/domain", test_subtree_domain);
	tap_add("/subtree/ip", test_subtree_ip);
	tap_add("/subtree/email", test_subtree_email);
	tap_add("/subtree/bad", test_subtree_bad);
	return tap_run();
}
