/* Unit tests: atomic writes and file modes. */
#include "config.h"
#include "tap.h"
#include <gbca/ca.h>
#include <gbca/issue.h>
#include <gbca/save.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static struct gbca_err err;

/* fsync and rename are wrapped at link time (-Wl,--wrap, tests/local.mk): every
 * file that is renamed into place must have been fsynced, at its final size,
 * before the rename. */
int __real_fsync(int fd);
int __real_rename(const char *from, const char *to);
int __wrap_fsync(int fd);
int __wrap_rename(const char *from, const char *to);

static struct synced {
	dev_t dev;
	ino_t ino;
	off_t size;
} synced[64];
static size_t n_synced;
static unsigned renames, unsynced_renames;
static char last_unsynced[4096];

int
__wrap_fsync(int fd)
{
	struct stat st;
	int r = __real_fsync(fd);

	if (r == 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && n_synced < 64)
		synced[n_synced++] = (struct synced){ st.st_dev, st.st_ino, st.st_size };
	return r;
}

int
__wrap_rename(const char *from, const char *to)
{
	struct stat st;
	bool ok = false;

	if (lstat(from, &st) == 0 && S_ISREG(st.st_mode)) {
		for (size_t i = 0; i < n_synced; i++)
			if (synced[i].dev == st.st_dev && synced[i].ino == st.st_ino && synced[i].size == st.st_size)
				ok = true;
		renames++;
		if (!ok) {
			unsynced_renames++;
			snprintf(last_unsynced, sizeof(last_unsynced), "%s -> %s", from, to);
		}
	}
	return __real_rename(from, to);
}

static void
trace_reset(void)
{
	n_synced = 0;
	renames = unsynced_renames = 0;
	last_unsynced[0] = '\0';
}

static void
assert_all_synced(unsigned want_renames)
{
	if (unsynced_renames != 0)
		tap_fail(__FILE__, __LINE__, "%u of %u renames without an fsync first, e.g. %s",
		         unsynced_renames, renames, last_unsynced);
	assert_int_eq(renames, want_renames);
}

static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_true(d != NULL);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static char *
slurp(const char *p)
{
	static char buf[256];
	FILE *f = fopen(p, "r");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static mode_t
mode_of(const char *p)
{
	struct stat st;
	assert_int_eq(stat(p, &st), 0);
	return st.st_mode & 07777;
}

static void
test_new_file(void)
{
	mode_t old = umask(077);
	bool ok = gbca_save_file(tap_path("a.pem"), "hello\n", 6, 0644, &err);
	umask(old);
	assert_true(ok);
	assert_str_eq(slurp(tap_path("a.pem")), "hello\n");
	/* exact mode whatever the umask */
	assert_int_eq(mode_of(tap_path("a.pem")), 0644);
	assert_int_eq(count_entries(tap_tmpdir()), 1);
}

static void
test_key_modes(void)
{
	assert_true(gbca_save_file(tap_path("k"), "k", 1, 0600, &err));
	assert_int_eq(mode_of(tap_path("k")), 0600);
	assert_true(gbca_save_file(tap_path("ca"), "k", 1, 0400, &err));
	assert_int_eq(mode_of(tap_path("ca")), 0400);
	/* a 0400 file can still be replaced atomically */
	assert_true(gbca_save_file(tap_path("ca"), "new", 3, 0400, &err));
	assert_str_eq(slurp(tap_path("ca")), "new");
}

static void
test_temp_is_private(void)
{
	struct gbca_save s;
	assert_true(gbca_save_begin(&s, tap_path("key.pem"), 0644, &err));
	/* while being written, even a file that ends 0644 is 0600 */
	assert_int_eq(mode_of(s.tmp), 0600);
	assert_true(strstr(s.tmp, "/.key.pem.tmp-") != NULL);
	gbca_save_abort(&s);
	assert_int_eq(count_entries(tap_tmpdir()), 0);
}

static void
test_replace(void)
{
	assert_true(gbca_save_file(tap_path("r"), "old", 3, 0644, &err));
	assert_true(gbca_save_file(tap_path("r"), "newer", 5, 0644, &err));
	assert_str_eq(slurp(tap_path("r")), "newer");
	assert_int_eq(count_entries(tap_tmpdir()), 1);
}

static void
test_abort_keeps_target(void)
{
	struct gbca_save s;
	assert_true(gbca_save_file(tap_path("t"), "keep", 4, 0644, &err));
	assert_true(gbca_save_begin(&s, tap_path("t"), 0644, &err));
	assert_true(gbca_save_write(&s, "lost", 4, &err));
	gbca_save_abort(&s);
	assert_str_eq(slurp(tap_path("t")), "keep");
	assert_int_eq(count_entries(tap_tmpdir()), 1);
}

static void
test_missing_dir(void)
{
	assert_false(gbca_save_file(tap_path("nodir/x.pem"), "x", 1, 0644, &err));
	assert_str_contains(err.msg, "nodir/x.pem");
	assert_str_contains(err.msg, "No such file");
	assert_int_eq(count_entries(tap_tmpdir()), 0);
}

static void
test_not_a_dir(void)
{
	assert_true(gbca_save_file(tap_path("file"), "x", 1, 0644, &err));
	assert_false(gbca_save_file(tap_path("file/x.pem"), "x", 1, 0644, &err));
	assert_str_contains(err.msg, "Not a directory");
	assert_int_eq(count_entries(tap_tmpdir()), 1);
}

static void
test_all_or_nothing(void)
{
	struct gbca_save_item items[] = {
		{ tap_path("cert.pem"), "cert", 4, 0644 },
		{ tap_path("missing/key.pem"), "key", 3, 0600 },
	};
	assert_false(gbca_save_files(items, 2, &err));
	/* the first file was written to a temp and removed: no cert, no temp */
	assert_int_eq(count_entries(tap_tmpdir()), 0);
	items[1].path = tap_path("key.pem");
	assert_true(gbca_save_files(items, 2, &err));
	assert_str_eq(slurp(tap_path("cert.pem")), "cert");
	assert_str_eq(slurp(tap_path("key.pem")), "key");
	assert_int_eq(mode_of(tap_path("key.pem")), 0600);
	assert_int_eq(count_entries(tap_tmpdir()), 2);
}

static void
test_bad_name(void)
{
	assert_false(gbca_save_file(tap_path("%s", ""), "x", 1, 0644, &err));
	assert_str_contains(err.msg, "not a file name");
}

static void
test_fsync_before_rename(void)
{
	struct gbca_save_item items[] = {
		{ tap_path("c.pem"), "cert", 4, 0644 },
		{ tap_path("k.pem"), "key", 3, 0600 },
	};
	trace_reset();
	assert_true(gbca_save_file(tap_path("one"), "1", 1, 0644, &err));
	assert_all_synced(1);
	trace_reset();
	assert_true(gbca_save_files(items, 2, &err));
	assert_all_synced(2);
}

/* The CA and a leaf pair, made the way gbca init and gbca issue make them. */
static void
test_fsync_ca_and_leaf(void)
{
	struct gbca_ca_options o = { .key_type = GBCA_KEY_P256, .constrained = true };
	struct gbca_name n;
	struct gbca_leaf_request r = { .names = &n, .n_names = 1, .key_type = GBCA_KEY_P256, .days = 30 };
	struct gbca_leaf leaf;
	struct gbca_ca ca;
	char backup[512];

	assert_int_eq(mkdir(tap_path("ca"), 0700), 0);
	trace_reset();
	assert_true(gbca_ca_create(tap_path("ca"), &o, &ca, backup, sizeof(backup), &err));
	assert_all_synced(2);
	assert_true(gbca_name_parse("app.localhost", &n, &err));
	trace_reset();
	if (!gbca_issue_pem_pair(&ca, &r, tap_path("leaf.pem"), tap_path("leaf-key.pem"), false, &leaf, &err)) {
		gbca_ca_free(&ca);
		tap_fail(__FILE__, __LINE__, "issue: %s", err.msg);
	}
	gbca_leaf_free(&leaf);
	assert_all_synced(2);
	/* and a replaced CA, whose old files go to a backup folder first */
	o.force = true;
	gbca_ca_free(&ca);
	trace_reset();
	assert_true(gbca_ca_create(tap_path("ca"), &o, &ca, backup, sizeof(backup), &err));
	gbca_ca_free(&ca);
	assert_true(renames >= 2);
	assert_all_synced(renames);
}

int
main(void)
{
	tap_add("/save/new-file-exact-mode", test_new_file);
	tap_add("/save/key-modes", test_key_modes);
	tap_add("/save/temp-is-private", test_temp_is_private);
	tap_add("/save/replace", test_replace);
	tap_add("/save/abort-keeps-target", test_abort_keeps_target);
	tap_add("/save/missing-dir", test_missing_dir);
	tap_add("/save/not-a-dir", test_not_a_dir);
	tap_add("/save/all-or-nothing", test_all_or_nothing);
	tap_add("/save/bad-name", test_bad_name);
	tap_add("/save/fsync-before-rename", test_fsync_before_rename);
	tap_add("/save/fsync-ca-and-leaf", test_fsync_ca_and_leaf);
	return tap_run();
}
