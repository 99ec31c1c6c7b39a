/* Unit tests: gbca's hosts-file block on temp files (round trips, --force, status). */
#include "config.h"
#include "tap.h"
#include <gbca/hosts.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME GBCA_HOSTS_DEFAULT_NAME
#define BLOCK_TOP GBCA_HOSTS_BEGIN " added by 'gbca hosts on'; 'gbca hosts off' removes it"

static struct gbca_err err;
static char report[4096];

static void
put(const char *p, const char *data, size_t len)
{
	FILE *f = fopen(p, "wb");
	assert_true(f != NULL);
	assert_int_eq(fwrite(data, 1, len, f), len);
	assert_int_eq(fclose(f), 0);
}

/* The whole file, NUL-terminated; *len (if not NULL) gets its size. */
static char *
get(const char *p, size_t *len)
{
	static char buf[8][8192];
	static int i;
	FILE *f = fopen(p, "rb");
	size_t n;

	i = (i + 1) % 8;
	if (len)
		*len = 0;
	if (f == NULL)
		return NULL;
	n = fread(buf[i], 1, sizeof(buf[i]) - 1, f);
	fclose(f);
	buf[i][n] = '\0';
	if (len)
		*len = n;
	return buf[i];
}

static bool
set(const char *p, const char *const *names, size_t n, bool on, bool ipv6, bool force)
{
	struct gbca_hosts_change c = { .path = p, .names = names, .n = n, .on = on, .ipv6 = ipv6, .force = force };

	err.msg[0] = '\0';
	return gbca_hosts_apply(&c, report, sizeof(report), &err);
}

#define SET_OK(...) do { if (!set(__VA_ARGS__)) tap_fail(__FILE__, __LINE__, "failed: %s", err.msg); } while (0)

/* on, then off, must give back exactly the bytes we started with. */
static void
round_trip(const char *original, size_t len, bool ipv6)
{
	const char *p = tap_path("hosts");
	size_t got_len;
	char *got;

	put(p, original, len);
	SET_OK(p, NULL, 0, true, ipv6, false);
	got = get(p, &got_len);
	assert_true(got_len > len);
	assert_true(strncmp(got, BLOCK_TOP, strlen(BLOCK_TOP)) == 0);
	assert_str_contains(got, "127.0.0.1 " NAME);
	if (ipv6)
		assert_str_contains(got, "::1 " NAME);
	else
		assert_true(strstr(got, "::1 " NAME) == NULL);
	/* the original follows the block untouched */
	assert_true(memcmp(got + got_len - len, original, len) == 0);
	SET_OK(p, NULL, 0, false, ipv6, false);
	got = get(p, &got_len);
	assert_int_eq(got_len, len);
	assert_true(memcmp(got, original, len) == 0);
}

static void
test_round_trip_newline(void)
{
	static const char f[] = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n";
	round_trip(f, strlen(f), true);
}

static void
test_round_trip_no_final_newline(void)
{
	static const char f[] = "127.0.0.1 localhost\n10.1.2.3 db.internal";
	round_trip(f, strlen(f), true);
}

static void
test_round_trip_comments(void)
{
	static const char f[] = "# /etc/hosts: static table\n\n127.0.0.1\tlocalhost   # me\n"
	                        "#10.0.0.5 " NAME "\n   \n\t# indented comment\n";
	round_trip(f, strlen(f), true);
}

static void
test_crlf(void)
{
	static const char f[] = "127.0.0.1 localhost\r\n# comment\r\n10.1.2.3 db\r\n";
	const char *p = tap_path("hosts");
	char *got;

	round_trip(f, strlen(f), true);
	SET_OK(p, NULL, 0, true, true, false);
	got = get(p, NULL);
	assert_str_contains(got, BLOCK_TOP "\r\n127.0.0.1 " NAME "\r\n::1 " NAME "\r\n" GBCA_HOSTS_END "\r\n127.0.0.1 localhost\r\n");
	/* no bare LF anywhere */
	for (const char *c = got; (c = strchr(c, '\n')) != NULL; c++)
		assert_true(c > got && c[-1] == '\r');
}

static void
test_empty_file(void)
{
	const char *p = tap_path("hosts");
	size_t len;

	round_trip("", 0, true);
	SET_OK(p, NULL, 0, true, false, false);
	assert_str_eq(get(p, NULL), BLOCK_TOP "\n127.0.0.1 " NAME "\n" GBCA_HOSTS_END "\n");
	SET_OK(p, NULL, 0, false, false, false);
	get(p, &len);
	assert_int_eq(len, 0);
}

static void
test_missing_file(void)
{
	const char *p = tap_path("none");

	assert_false(set(p, NULL, 0, true, true, false));
	assert_int_eq(errno, ENOENT);
	assert_str_contains(err.msg, "does not exist");
	assert_str_eq(report, "");
	assert_true(access(p, F_OK) < 0);
	assert_true(access(tap_path("none" GBCA_HOSTS_BACKUP_SUFFIX), F_OK) < 0);
	assert_false(set(p, NULL, 0, false, true, false));
	assert_true(access(p, F_OK) < 0);
}

static void
test_idempotent(void)
{
	const char *p = tap_path("hosts");
	struct stat a, b;
	char once[8192];

	put(p, "127.0.0.1 localhost\n", 20);
	SET_OK(p, NULL, 0, true, true, false);
	assert_str_contains(report, NAME " -> 127.0.0.1, ::1 in ");
	strcpy(once, get(p, NULL));
	assert_int_eq(stat(p, &a), 0);
	SET_OK(p, NULL, 0, true, true, false);
	assert_str_contains(report, "already on");
	assert_str_eq(get(p, NULL), once);
	assert_int_eq(stat(p, &b), 0);
	assert_int_eq(a.st_ino, b.st_ino);    /* not even rewritten */
	SET_OK(p, NULL, 0, false, true, false);
	assert_str_contains(report, "removed " NAME);
	SET_OK(p, NULL, 0, false, true, false);
	assert_str_contains(report, "already off");
	assert_str_eq(get(p, NULL), "127.0.0.1 localhost\n");
}

static void
test_conflict_refused(void)
{
	static const char f[] = "127.0.0.1 localhost\n10.0.0.5 other.test " NAME "\n";
	const char *p = tap_path("hosts");

	put(p, f, strlen(f));
	assert_false(set(p, NULL, 0, true, true, false));
	assert_int_eq(errno, EEXIST);
	assert_str_contains(err.msg, "line 2 of ");
	assert_str_contains(err.msg, "\"10.0.0.5 other.test " NAME "\"");
	assert_str_contains(err.msg, "--force");
	assert_str_eq(get(p, NULL), f);
	assert_true(access(tap_path("hosts" GBCA_HOSTS_BACKUP_SUFFIX), F_OK) < 0);
}

static void
test_conflict_case_and_ipv6(void)
{
	static const char f1[] = "10.0.0.5 GenerativeLanguage.GoogleAPIs.com\n";
	static const char f2[] = "2001:db8::5\t" NAME "\n";
	const char *p = tap_path("hosts");

	put(p, f1, strlen(f1));
	assert_false(set(p, NULL, 0, true, true, false));
	assert_str_contains(err.msg, "line 1");
	put(p, f2, strlen(f2));
	assert_false(set(p, NULL, 0, true, false, false));
	assert_str_contains(err.msg, "2001:db8::5");
	assert_str_eq(get(p, NULL), f2);
}

static void
test_loopback_not_conflict(void)
{
	static const char f[] = "127.0.0.1 localhost " NAME "\n::1 " NAME "\n# 10.0.0.5 " NAME "\n";
	round_trip(f, strlen(f), true);
}

static void
test_force_round_trip(void)
{
	static const char f[] = "127.0.0.1 localhost\n10.0.0.5 " NAME "   # the real one\n10.0.0.6 x.test";
	const char *p = tap_path("hosts");
	char addr[256];
	bool on;

	put(p, f, strlen(f));
	SET_OK(p, NULL, 0, true, true, true);
	assert_str_contains(report, "disabled line 2 of ");
	assert_str_contains(get(p, NULL), "\n" GBCA_HOSTS_DISABLED "10.0.0.5 " NAME "   # the real one\n10.0.0.6 x.test");
	assert_true(gbca_hosts_status(p, NAME, &on, addr, sizeof(addr), &err));
	assert_true(on);
	assert_str_eq(addr, "127.0.0.1 ::1");
	SET_OK(p, NULL, 0, false, true, false);
	assert_str_contains(report, "re-enabled line ");
	assert_str_eq(get(p, NULL), f);
}

static void
test_force_shared_line(void)
{
	static const char f[] = "10.0.0.5 a.test b.test\n";
	static const char *const ab[] = { "a.test", "b.test" };
	const char *p = tap_path("hosts");

	put(p, f, strlen(f));
	SET_OK(p, ab, 2, true, false, true);
	assert_str_contains(get(p, NULL), GBCA_HOSTS_DISABLED "10.0.0.5 a.test b.test\n");
	/* b.test is still gbca's, so the line stays off */
	SET_OK(p, ab, 1, false, false, false);
	assert_str_contains(get(p, NULL), GBCA_HOSTS_DISABLED "10.0.0.5 a.test b.test\n");
	assert_true(strstr(get(p, NULL), "127.0.0.1 b.test\n") != NULL);
	SET_OK(p, ab + 1, 1, false, false, false);
	assert_str_eq(get(p, NULL), f);
}

static void
test_several_names(void)
{
	static const char f[] = "127.0.0.1 localhost\n";
	static const char *const names[] = { "a.test", "B.Test", "c.test" };
	const char *p = tap_path("hosts");
	char *got;

	put(p, f, strlen(f));
	SET_OK(p, names, 3, true, true, false);
	got = get(p, NULL);
	assert_str_contains(got, "127.0.0.1 a.test\n::1 a.test\n127.0.0.1 b.test\n::1 b.test\n127.0.0.1 c.test\n::1 c.test\n");
	SET_OK(p, names + 1, 1, false, true, false);
	got = get(p, NULL);
	assert_true(strstr(got, "b.test") == NULL);
	assert_str_contains(got, "127.0.0.1 a.test\n::1 a.test\n127.0.0.1 c.test\n");
	/* a later 'on' for another name joins the same block */
	SET_OK(p, NULL, 0, true, false, false);
	got = get(p, NULL);
	assert_str_contains(got, "::1 c.test\n127.0.0.1 " NAME "\n" GBCA_HOSTS_END);
	/* off with no names: everything gbca added */
	SET_OK(p, NULL, 0, false, false, false);
	assert_str_contains(report, "removed a.test");
	assert_str_contains(report, "removed " NAME);
	assert_str_eq(get(p, NULL), f);
}

static void
test_ipv6_on_off(void)
{
	static const char f[] = "127.0.0.1 localhost\n";
	const char *p = tap_path("hosts");

	put(p, f, strlen(f));
	SET_OK(p, NULL, 0, true, false, false);
	assert_true(strstr(get(p, NULL), "::1 " NAME) == NULL);
	SET_OK(p, NULL, 0, true, true, false);
	assert_true(strstr(report, "already") == NULL);
	assert_str_contains(get(p, NULL), "127.0.0.1 " NAME "\n::1 " NAME "\n");
	SET_OK(p, NULL, 0, true, false, false);
	assert_true(strstr(report, "already") == NULL);
	assert_true(strstr(get(p, NULL), "::1 " NAME) == NULL);
	assert_str_contains(get(p, NULL), "127.0.0.1 " NAME "\n");
	SET_OK(p, NULL, 0, false, false, false);
	assert_str_eq(get(p, NULL), f);
}

static void
test_backup_once(void)
{
	static const char f[] = "127.0.0.1 localhost\n";
	const char *p = tap_path("hosts"), *bk = tap_path("hosts" GBCA_HOSTS_BACKUP_SUFFIX);
	struct stat st;

	put(p, f, strlen(f));
	assert_int_eq(chmod(p, 0640), 0);
	SET_OK(p, NULL, 0, true, true, false);
	assert_str_contains(report, "kept a copy of the original in ");
	assert_str_eq(get(bk, NULL), f);
	assert_int_eq(stat(bk, &st), 0);
	assert_int_eq(st.st_mode & 07777, 0640);
	assert_int_eq(stat(p, &st), 0);
	assert_int_eq(st.st_mode & 07777, 0640);     /* the new file keeps the mode */
	SET_OK(p, NULL, 0, false, true, false);
	assert_true(strstr(report, "kept a copy") == NULL);
	put(p, "10.9.9.9 other\n", 15);
	SET_OK(p, NULL, 0, true, true, false);
	assert_str_eq(get(bk, NULL), f);             /* never overwritten */
}

static void
test_symlink_kept(void)
{
	static const char f[] = "127.0.0.1 localhost\n";
	const char *real = tap_path("real-hosts"), *link = tap_path("hosts");
	struct stat st;

	put(real, f, strlen(f));
	assert_int_eq(symlink(real, link), 0);
	SET_OK(link, NULL, 0, true, false, false);
	assert_int_eq(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_str_contains(get(real, NULL), "127.0.0.1 " NAME);
	SET_OK(link, NULL, 0, false, false, false);
	assert_str_eq(get(real, NULL), f);
}

static void
test_status(void)
{
	static const char f[] = "127.0.0.1 localhost\n10.1.1.1 x.test\n";
	const char *p = tap_path("hosts");
	char addr[256];
	bool on = true;

	put(p, f, strlen(f));
	assert_false(gbca_hosts_uses_resolver(p));
	assert_true(gbca_hosts_status(p, NAME, &on, addr, sizeof(addr), &err));
	assert_false(on);
	assert_str_eq(addr, "");
	assert_true(gbca_hosts_status(p, "X.test", &on, addr, sizeof(addr), &err));
	assert_false(on);
	assert_str_eq(addr, "10.1.1.1");
	SET_OK(p, NULL, 0, true, true, false);
	assert_true(gbca_hosts_status(p, NAME, &on, addr, sizeof(addr), &err));
	assert_true(on);
	assert_str_eq(addr, "127.0.0.1 ::1");
	assert_false(gbca_hosts_status(tap_path("none"), NAME, &on, addr, sizeof(addr), &err));
	assert_str_contains(err.msg, "does not exist");
}

static void
test_bad_names(void)
{
	static const char f[] = "127.0.0.1 localhost\n";
	static const char *const wild[] = { "*.x.test" };
	const char *p = tap_path("hosts");
	char out[256];

	assert_false(gbca_hosts_check_name("*.x.test", out, sizeof(out), &err));
	assert_str_contains(err.msg, "wildcards");
	assert_false(gbca_hosts_check_name("999.1.1.1", out, sizeof(out), &err));
	assert_str_contains(err.msg, "IPv4");
	assert_false(gbca_hosts_check_name("10.1.2.3", out, sizeof(out), &err));
	assert_str_contains(err.msg, "IP address");
	assert_false(gbca_hosts_check_name("-x", out, sizeof(out), &err));
	assert_str_contains(err.msg, "starts with '-'");
	assert_false(gbca_hosts_check_name("me@x.test", out, sizeof(out), &err));
	assert_true(gbca_hosts_check_name("Bücher.Example", out, sizeof(out), &err));
	assert_str_eq(out, "xn--bcher-kva.example");
	put(p, f, strlen(f));
	assert_false(set(p, wild, 1, true, true, false));
	assert_str_eq(get(p, NULL), f);
}

static void
test_damaged_block(void)
{
	static const char f1[] = GBCA_HOSTS_BEGIN "\n127.0.0.1 " NAME "\n";
	static const char f2[] = GBCA_HOSTS_BEGIN "\n10.1.1.1 " NAME "\n" GBCA_HOSTS_END "\n";
	static const char f3[] = "127.0.0.1 localhost\n" GBCA_HOSTS_END "\n";
	const char *p = tap_path("hosts");

	put(p, f1, strlen(f1));
	assert_false(set(p, NULL, 0, false, true, false));
	assert_str_contains(err.msg, "no end line");
	assert_str_eq(get(p, NULL), f1);
	put(p, f2, strlen(f2));
	assert_false(set(p, NULL, 0, true, true, false));
	assert_str_contains(err.msg, "line 2");
	assert_str_contains(err.msg, "not one of gbca's entries");
	assert_str_eq(get(p, NULL), f2);
	put(p, f3, strlen(f3));
	assert_false(set(p, NULL, 0, true, true, false));
	assert_str_contains(err.msg, "did not start");
}

static void
test_block_moved(void)
{
	/* a block someone moved to the end is edited where it is */
	static const char f[] = "127.0.0.1 localhost\n" GBCA_HOSTS_BEGIN " x\n127.0.0.1 " NAME "\n" GBCA_HOSTS_END "\n";
	const char *p = tap_path("hosts");

	put(p, f, strlen(f));
	SET_OK(p, NULL, 0, true, false, false);
	assert_str_contains(report, "already on");
	SET_OK(p, NULL, 0, false, false, false);
	assert_str_eq(get(p, NULL), "127.0.0.1 localhost\n");
}

/* gbca join: one gateway address per name, marked, and back byte for byte. */
static void
test_gateway_address(void)
{
	static const char orig[] = "127.0.0.1 localhost\n";
	struct gbca_hosts_change c = { .on = true, .address = "198.18.0.1" };
	const char *p = tap_path("hosts");
	bool on;
	char addr[256];

	c.path = p;
	put(p, orig, strlen(orig));
	assert_true(gbca_hosts_apply(&c, report, sizeof(report), &err));
	assert_str_contains(get(p, NULL), "\n198.18.0.1 " NAME " " GBCA_HOSTS_JOIN_MARK "\n");
	assert_true(strstr(get(p, NULL), "127.0.0.1 " NAME) == NULL);
	assert_str_contains(report, NAME " -> 198.18.0.1");
	assert_true(gbca_hosts_apply(&c, report, sizeof(report), &err));
	assert_str_contains(report, "already on");
	assert_true(gbca_hosts_status(p, NAME, &on, addr, sizeof(addr), &err));
	assert_true(on);
	assert_str_eq(addr, "198.18.0.1");
	/* another gateway replaces it; an IPv6 one in normal form */
	c.address = "2001:DB8:0:0::7";
	assert_true(gbca_hosts_apply(&c, report, sizeof(report), &err));
	assert_str_contains(get(p, NULL), "\n2001:db8::7 " NAME " " GBCA_HOSTS_JOIN_MARK "\n");
	assert_true(strstr(get(p, NULL), "198.18.0.1") == NULL);
	/* 'gbca hosts on' puts the loopback back in its place */
	SET_OK(p, NULL, 0, true, false, false);
	assert_true(strstr(get(p, NULL), "2001:db8::7") == NULL);
	assert_str_contains(get(p, NULL), "\n127.0.0.1 " NAME "\n");
	c.address = "198.18.0.1";
	assert_true(gbca_hosts_apply(&c, report, sizeof(report), &err));
	SET_OK(p, NULL, 0, false, false, false);
	assert_str_eq(get(p, NULL), orig);
	c.address = "not-an-address";
	assert_false(gbca_hosts_apply(&c, report, sizeof(report), &err));
	assert_str_contains(err.msg, "not an IPv4 or IPv6 address");
	assert_str_eq(get(p, NULL), orig);
}

static void
test_all_loopback(void)
{
	assert_true(gbca_hosts_all_loopback("127.0.0.1 ::1"));
	assert_true(gbca_hosts_all_loopback("127.0.1.1"));
	assert_false(gbca_hosts_all_loopback(""));
	assert_false(gbca_hosts_all_loopback("127.0.0.1 10.0.0.5"));
	assert_false(gbca_hosts_all_loopback("::2"));
}

int
main(void)
{
	tap_add("/hosts/round-trip-newline", test_round_trip_newline);
	tap_add("/hosts/round-trip-no-final-newline", test_round_trip_no_final_newline);
	tap_add("/hosts/round-trip-comments", test_round_trip_comments);
	tap_add("/hosts/crlf", test_crlf);
	tap_add("/hosts/empty-file", test_empty_file);
	tap_add("/hosts/missing-file-refused", test_missing_file);
	tap_add("/hosts/idempotent", test_idempotent);
	tap_add("/hosts/conflict-refused", test_conflict_refused);
	tap_add("/hosts/conflict-case-and-ipv6", test_conflict_case_and_ipv6);
	tap_add("/hosts/loopback-line-no-conflict", test_loopback_not_conflict);
	tap_add("/hosts/force-round-trip", test_force_round_trip);
	tap_add("/hosts/force-shared-line", test_force_shared_line);
	tap_add("/hosts/several-names", test_several_names);
	tap_add("/hosts/ipv6-on-off", test_ipv6_on_off);
	tap_add("/hosts/backup-once", test_backup_once);
	tap_add("/hosts/symlink-kept", test_symlink_kept);
	tap_add("/hosts/status", test_status);
	tap_add("/hosts/bad-names", test_bad_names);
	tap_add("/hosts/damaged-block", test_damaged_block);
	tap_add("/hosts/block-moved", test_block_moved);
	tap_add("/hosts/all-loopback", test_all_loopback);
	tap_add("/hosts/gateway-address", test_gateway_address);
	return tap_run();
}
