/* Unit tests: the fingerprint forms gbca join takes, and the one export prints. */
#include "config.h"
#include "tap.h"
#include <gbca/lan.h>

#include <string.h>

#define HEX "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0bfe"

static struct gbca_err err;

static void
want_ok(const char *in)
{
	unsigned char fp[32];
	char out[GBCA_LAN_FP_LEN];

	err.msg[0] = '\0';
	if (!gbca_lan_parse_fingerprint(in, fp, &err))
		tap_fail(__FILE__, __LINE__, "refused \"%s\": %s", in, err.msg);
	gbca_lan_format_fingerprint(fp, out);
	assert_str_eq(out, "SHA256:" HEX);
}

static void
want_refused(const char *in)
{
	unsigned char fp[32];

	err.msg[0] = '\0';
	assert_false(gbca_lan_parse_fingerprint(in, fp, &err));
	assert_str_contains(err.msg, "is not a SHA-256 fingerprint");
}

static void
test_forms(void)
{
	char colons[200] = "", upper[80];
	size_t n = 0;

	want_ok("SHA256:" HEX);
	want_ok("sha256:" HEX);
	want_ok(HEX);
	for (size_t i = 0; i < 64; i += 2)
		n += (size_t)snprintf(colons + n, sizeof(colons) - n, "%s%.2s", i ? ":" : "", HEX + i);
	want_ok(colons);
	for (size_t i = 0; i <= strlen(HEX); i++)
		upper[i] = (char)(HEX[i] >= 'a' && HEX[i] <= 'f' ? HEX[i] - 32 : HEX[i]);
	want_ok(upper);
}

static void
test_refused(void)
{
	want_refused("");
	want_refused("SHA256:");
	want_refused("SHA256:" HEX "00");                 /* 33 bytes */
	want_refused("SHA256:" HEX "0");                  /* odd */
	want_refused(HEX + 2);                            /* 31 bytes */
	want_refused("SHA1:" HEX);
	want_refused(":" HEX);
	want_refused(HEX ":");
	want_refused("0b::1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0bfe");
	want_refused("0b:1c:" HEX);
	want_refused("0:b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0bfe");
	want_refused("SHA256:zz1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0bfe");
	want_refused("SHA256: " HEX);
}

int
main(void)
{
	tap_add("/lan/fingerprint-forms", test_forms);
	tap_add("/lan/fingerprint-refused", test_refused);
	return tap_run();
}
