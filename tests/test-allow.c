/* Unit tests: serve's client allowlist (src/proxy/allow.c): strict CIDR
 * parsing, matching at prefix edges, IPv4-mapped clients, loopback always,
 * --allow any. */
#include "config.h"
#include "tap.h"
#include <gbca/allow.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static struct gbca_proxy_config cfg;

static void
allow(const char *s)
{
	struct gbca_cidr n;
	struct gbca_err err;

	if (!gbca_cidr_parse(s, &n, &err))
		tap_fail(__FILE__, __LINE__, "%s refused: %s", s, err.msg);
	assert_true(gbca_allow_add(&cfg, &n));
	cfg.allow_set = true;
}

static bool
client(const char *addr)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		tap_fail(__FILE__, __LINE__, "bad test address %s", addr);
	return gbca_allow_client(&cfg, (struct sockaddr *)&ss);
}

static const char *
parsed(const char *s)
{
	static char buf[64];
	struct gbca_cidr n;
	struct gbca_err err;

	if (!gbca_cidr_parse(s, &n, &err))
		return err.msg[0] ? "refused" : "refused (no message)";
	gbca_cidr_format(&n, buf, sizeof(buf));
	return buf;
}

static void
test_parse(void)
{
	assert_str_eq(parsed("198.18.1.0/24"), "198.18.1.0/24");
	assert_str_eq(parsed("198.18.1.7"), "198.18.1.7/32");
	assert_str_eq(parsed("0.0.0.0/0"), "0.0.0.0/0");
	assert_str_eq(parsed("2001:db8::/32"), "2001:db8::/32");
	assert_str_eq(parsed("2001:DB8::1"), "2001:db8::1/128");
	assert_str_eq(parsed("::ffff:198.18.0.0/111"), "198.18.0.0/15");
	static const char *bad[] = { "", "/24", "198.18.1.0/", "198.18.1.0/33", "198.18.1.0/024", "198.18.1.0/-1",
	                             "198.18.1.0/+8", "198.18.1.0/8x", "198.18.1.0/24/", "198.18.1", "198.018.1.0/24",
	                             "198.18.1.1/24", "2001:db8::/129", "2001:db8::1/64", "fe80::1%eth0", "any",
	                             "host.example", " 198.18.1.0/24", "198.18.1.0/24 ", "198.18.1.0 /24", NULL };
	for (int i = 0; bad[i]; i++)
		if (strcmp(parsed(bad[i]), "refused") != 0)
			tap_fail(__FILE__, __LINE__, "\"%s\" taken as %s", bad[i], parsed(bad[i]));
}

static void
test_host_bits_say_the_network(void)
{
	struct gbca_cidr n;
	struct gbca_err err;

	assert_false(gbca_cidr_parse("198.18.1.130/25", &n, &err));
	assert_str_contains(err.msg, "198.18.1.128/25");
}

static void
test_match_edges(void)
{
	memset(&cfg, 0, sizeof(cfg));
	allow("198.18.1.0/25");
	assert_true(client("198.18.1.0"));
	assert_true(client("198.18.1.127"));
	assert_false(client("198.18.1.128"));
	assert_false(client("198.18.0.255"));
	/* An IPv6 socket's IPv4 client compares as IPv4. */
	assert_true(client("::ffff:198.18.1.5"));
	assert_false(client("::ffff:198.18.1.200"));
	assert_false(client("::198.18.1.5"));
	allow("198.18.0.0/15");
	allow("2001:db8:1::/63");
	assert_true(client("198.19.255.255"));
	assert_true(client("198.18.0.255"));
	assert_false(client("198.20.0.0"));
	assert_true(client("2001:db8:1:1::5"));
	assert_false(client("2001:db8:1:2::5"));
	assert_false(client("2001:db8::5"));
}

static void
test_loopback_always(void)
{
	memset(&cfg, 0, sizeof(cfg));
	allow("198.18.1.0/24");
	assert_true(client("127.0.0.1"));
	assert_true(client("127.255.0.9"));
	assert_true(client("::1"));
	assert_true(client("::ffff:127.0.0.1"));
	assert_false(client("198.51.100.1"));
	cfg.allow_any = true;
	assert_true(client("198.51.100.1"));
	assert_true(client("2001:db8:ff::1"));
}

static void
test_no_duplicates(void)
{
	struct gbca_cidr n;
	struct gbca_err err;

	memset(&cfg, 0, sizeof(cfg));
	assert_true(gbca_cidr_parse("198.18.1.0/24", &n, &err));
	assert_true(gbca_allow_add(&cfg, &n));
	assert_true(gbca_allow_add(&cfg, &n));
	assert_int_eq(cfg.n_allow, 1);
	for (unsigned i = 0; i < GBCA_PROXY_ALLOW_MAX - 1; i++) {
		n.net[2] = (uint8_t)(i + 2);
		assert_true(gbca_allow_add(&cfg, &n));
	}
	n.net[2] = 250;
	assert_false(gbca_allow_add(&cfg, &n));
}

int
main(void)
{
	tap_add("/allow/parse", test_parse);
	tap_add("/allow/host-bits-say-the-network", test_host_bits_say_the_network);
	tap_add("/allow/match-edges", test_match_edges);
	tap_add("/allow/loopback-always", test_loopback_always);
	tap_add("/allow/no-duplicates", test_no_duplicates);
	return tap_run();
}
