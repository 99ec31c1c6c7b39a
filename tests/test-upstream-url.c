/* Unit tests: --upstream's URL as serve reads it (src/proxy/config.c):
 * scheme, default ports, PREFIX normalisation, the authority for Host and
 * the origin for rewrites, and NO_PROXY matching for --upstream-proxy env. */
#include "config.h"
#include "tap.h"
#include <gbca/proxy.h>

#include <string.h>

static struct gbca_proxy_config C;

static bool
parse(const char *url)
{
	struct gbca_err err;

	memset(&C, 0, sizeof(C));
	return gbca_proxy_parse_upstream_url(url, &C, &err);
}

static void
test_forms(void)
{
	assert_true(parse("https://balancer.test/gb/"));
	assert_true(C.upstream_tls);
	assert_str_eq(C.upstream_host, "balancer.test");
	assert_str_eq(C.upstream_port, "443");
	assert_str_eq(C.upstream_prefix, "/gb");
	assert_str_eq(C.upstream_authority, "balancer.test");
	assert_str_eq(C.upstream_origin, "https://balancer.test");
	assert_true(parse("HTTPS://b.test:8443/a/b///"));
	assert_str_eq(C.upstream_port, "8443");
	assert_str_eq(C.upstream_prefix, "/a/b");
	assert_str_eq(C.upstream_authority, "b.test:8443");
	assert_true(parse("http://127.0.0.1:8000"));
	assert_false(C.upstream_tls);
	assert_str_eq(C.upstream_prefix, "");
	assert_str_eq(C.upstream_authority, "127.0.0.1:8000");
	assert_true(parse("http://b.test/"));
	assert_str_eq(C.upstream_port, "80");
	assert_str_eq(C.upstream_prefix, "");
	assert_str_eq(C.upstream_origin, "http://b.test");
	assert_true(parse("https://[::1]:8443/x%2Fy"));
	assert_str_eq(C.upstream_host, "::1");
	assert_str_eq(C.upstream_authority, "[::1]:8443");
	assert_str_eq(C.upstream_prefix, "/x%2Fy");
	assert_true(parse("https://[::1]"));
	assert_str_eq(C.upstream_authority, "[::1]");
}

static void
test_refused(void)
{
	static const char *bad[] = {
		"ftp://b.test", "b.test:443", "https://", "https:///gb", "https://u@b.test", "https://u:p@b.test/",
		"https://b.test/gb?x=1", "https://b.test/gb#f", "https://b.test?x", "https://b.test:", "https://b.test:0",
		"https://b.test:65536", "https://b.test:+443", "https://b.test:https", "https://[::1", "https://[]:443",
		"https://[::1]x", "https://b.test/a//b", "https://b.test/a/./b", "https://b.test/..", "https://b.test/a b",
		"https://b.test/%zz", "https://b.test/%4", "https://b test/", "https://b.test\r/",
		"https://generativelanguage.googleapis.com", "https://GenerativeLanguage.GoogleAPIs.com:8443/x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* the URL shows in the failure message */
		assert_str_eq(parse(bad[i]) ? bad[i] : "refused", "refused");
	}
}

static void
test_no_proxy(void)
{
	assert_true(gbca_proxy_no_proxy("*", "balancer.test", "443"));
	assert_true(gbca_proxy_no_proxy("balancer.test", "balancer.test", "443"));
	assert_true(gbca_proxy_no_proxy("Balancer.TEST", "balancer.test", "443"));
	assert_true(gbca_proxy_no_proxy(".test", "balancer.test", "443"));
	assert_true(gbca_proxy_no_proxy("test", "balancer.test", "443"));
	assert_true(gbca_proxy_no_proxy("*.test", "balancer.test", "443"));
	assert_true(gbca_proxy_no_proxy("a.example, balancer.test", "balancer.test", "443"));
	assert_true(gbca_proxy_no_proxy("a.example balancer.test", "balancer.test", "443"));
	assert_true(gbca_proxy_no_proxy("balancer.test:443", "balancer.test", "443"));
	assert_true(gbca_proxy_no_proxy("[::1]", "::1", "443"));
	assert_false(gbca_proxy_no_proxy("", "balancer.test", "443"));
	assert_false(gbca_proxy_no_proxy("lancer.test", "balancer.test", "443"));
	assert_false(gbca_proxy_no_proxy("balancer.test.example", "balancer.test", "443"));
	assert_false(gbca_proxy_no_proxy("balancer.test:8443", "balancer.test", "443"));
	assert_false(gbca_proxy_no_proxy(".", "balancer.test", "443"));
	assert_false(gbca_proxy_no_proxy(",,", "balancer.test", "443"));
}

int
main(void)
{
	tap_add("/upstream-url/forms", test_forms);
	tap_add("/upstream-url/refused", test_refused);
	tap_add("/upstream-url/no-proxy", test_no_proxy);
	return tap_run();
}
