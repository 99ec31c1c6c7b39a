/* Unit tests: atomic writes and file modes. */
#include "config.h"
#include "tap.h"
#include <gbca/save.h>

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static struct gbca_err err;

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
	return tap_run();
}
