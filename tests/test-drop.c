/* Unit tests: running work as a file's owner, finding that owner, and the
 * no-follow opener root uses for a user's files. As root they use the real
 * uid 65534 (nobody); as another user they check the in-process path. */
#include "config.h"
#include "tap.h"
#include <gbca/drop.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOBODY 65534

static struct gbca_err err;
static int touched;

static bool
is_root(void)
{
	return geteuid() == 0;
}

/* The tmpdir is 0700 root's: let the dropped child in. */
static const char *
open_tmpdir(void)
{
	const char *d = tap_tmpdir();
	assert_int_eq(chmod(d, 0755), 0);
	return d;
}

static int
report_ids(void *arg)
{
	uid_t r, e, s;
	gid_t gr, ge, gs;
	gid_t groups[64];
	int n = getgroups(64, groups);

	(void)arg;
	touched = 1;
	if (getresuid(&r, &e, &s) < 0 || getresgid(&gr, &ge, &gs) < 0 || n < 0)
		return -2;
	if (r != e || e != s || gr != ge || ge != gs)
		return -3;
	for (int i = 0; i < n; i++)
		if (groups[i] == 0)
			return -4;  /* root's group must not survive */
	return (int)e;
}

static void
test_ids(void)
{
	touched = 0;
	if (is_root()) {
		assert_int_eq(gbca_as_user(NOBODY, NOBODY, report_ids, NULL), NOBODY);
		assert_int_eq(touched, 0);  /* ran in the child, not here */
		assert_int_eq(gbca_as_user(0, 0, report_ids, NULL), 0);
		assert_int_eq(touched, 1);  /* uid 0: no child */
	} else {
		assert_int_eq(gbca_as_user(NOBODY, NOBODY, report_ids, NULL), (int)geteuid());
		assert_int_eq(touched, 1);
	}
}

static int
regain_root(void *arg)
{
	(void)arg;
	return setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0;
}

static void
test_no_way_back(void)
{
	if (!is_root())
		return;
	assert_int_eq(gbca_as_user(NOBODY, NOBODY, regain_root, NULL), 0);
}

/* A root-owned 0644 file in a root-owned folder: the dropped child can read
 * it but neither write it, nor replace it, nor chown it. */
static int
attack_root_file(void *arg)
{
	const char *p = arg;
	int fd = open(p, O_WRONLY | O_APPEND);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	if (unlink(p) == 0 || chown(p, NOBODY, NOBODY) == 0 || chmod(p, 0666) == 0)
		return 2;
	return errno == EPERM || errno == EACCES ? 0 : 3;
}

static void
test_kernel_checks(void)
{
	const char *p;
	struct stat st;
	int fd;

	open_tmpdir();
	p = tap_path("decoy");
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_eq(write(fd, "root's\n", 7), 7);
	close(fd);
	if (!is_root())
		return;
	assert_int_eq(gbca_as_user(NOBODY, NOBODY, attack_root_file, (void *)p), 0);
	assert_int_eq(stat(p, &st), 0);
	assert_int_eq(st.st_uid, 0);
	assert_int_eq(st.st_size, 7);
	assert_int_eq(st.st_mode & 07777, 0644);
}

static int
die(void *arg)
{
	(void)arg;
	raise(SIGKILL);
	return 7;
}

static void
test_child_dies(void)
{
	if (!is_root())
		return;
	errno = 0;
	assert_int_eq(gbca_as_user(NOBODY, NOBODY, die, NULL), -1);
	assert_int_eq(errno, ECHILD);
}

static bool
fail_with_message(void *arg, struct gbca_err *e)
{
	(void)arg;
	return gbca_fail(e, "as uid %u: no", (unsigned)geteuid());
}

static bool
succeed(void *arg, struct gbca_err *e)
{
	(void)e;
	return *(int *)arg == 5;
}

static void
test_owner_err(void)
{
	int five = 5;

	err.msg[0] = '\0';
	assert_false(gbca_as_owner(NOBODY, NOBODY, fail_with_message, NULL, &err));
	if (is_root())
		assert_str_eq(err.msg, "as uid 65534: no");
	else
		assert_str_contains(err.msg, ": no");
	assert_true(gbca_as_owner(NOBODY, NOBODY, succeed, &five, &err));
}

static void
test_owner_of(void)
{
	uid_t u;
	gid_t g;
	const char *d;

	if (!is_root())
		return;
	d = open_tmpdir();
	assert_true(gbca_owner_of(d, &u, &g, &err));
	assert_int_eq(u, 0);
	/* a missing path belongs to the owner of what holds it */
	assert_true(gbca_owner_of(tap_path("none/deeper"), &u, &g, &err));
	assert_int_eq(u, 0);
	assert_int_eq(mkdir(tap_path("home"), 0755), 0);
	assert_int_eq(chown(tap_path("home"), NOBODY, NOBODY), 0);
	assert_true(gbca_owner_of(tap_path("home/.local/share/gbca"), &u, &g, &err));
	assert_int_eq(u, NOBODY);
	assert_int_eq(g, NOBODY);
	/* a root-owned folder inside a user's one is still the user's to move */
	assert_int_eq(mkdir(tap_path("home/rootdir"), 0755), 0);
	assert_true(gbca_owner_of(tap_path("home/rootdir"), &u, &g, &err));
	assert_int_eq(u, NOBODY);
	/* a user's link to a root folder: the user's */
	assert_int_eq(symlink("/etc", tap_path("home/etc")), 0);
	assert_int_eq(lchown(tap_path("home/etc"), NOBODY, NOBODY), 0);
	assert_true(gbca_owner_of(tap_path("home/etc/ssl"), &u, &g, &err));
	assert_int_eq(u, NOBODY);
	/* a root's link into the user's folder: still the user's */
	assert_int_eq(symlink(tap_path("home"), tap_path("link")), 0);
	assert_true(gbca_owner_of(tap_path("link/gbca"), &u, &g, &err));
	assert_int_eq(u, NOBODY);
	assert_false(gbca_owner_of("relative/path", &u, &g, &err));
}

static void
make_file(const char *p, mode_t mode, uid_t owner)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	assert_int_eq(write(fd, "key\n", 4), 4);
	assert_int_eq(fchmod(fd, mode), 0);
	if (is_root())
		assert_int_eq(fchown(fd, owner, owner), 0);
	close(fd);
}

static void
test_open_owned(void)
{
	uid_t me = is_root() ? NOBODY : geteuid();
	char buf[8];
	int fd;

	open_tmpdir();
	assert_int_eq(mkdir(tap_path("ca"), 0700), 0);
	if (is_root())
		assert_int_eq(chown(tap_path("ca"), me, me), 0);
	make_file(tap_path("ca/good"), 0400, me);
	fd = gbca_open_owned(tap_path("ca"), "good", me, 077, &err);
	assert_true(fd >= 0);
	assert_int_eq(read(fd, buf, sizeof(buf)), 4);
	close(fd);

	/* the file as a link to another file: refused, whoever owns the target
	 * (when root reads for a user; a user may follow their own links) */
	make_file(tap_path("target"), 0400, me);
	make_file(tap_path("rootfile"), 0600, 0);
	assert_int_eq(symlink(tap_path("target"), tap_path("ca/link")), 0);
	/* the folder as a link */
	assert_int_eq(symlink(tap_path("ca"), tap_path("calink")), 0);
	if (is_root()) {
		assert_int_eq(gbca_open_owned(tap_path("ca"), "link", me, 077, &err), -1);
		assert_str_contains(err.msg, "symbolic link");
		/* the owner's own link to their folder: followed, it is theirs */
		fd = gbca_open_owned(tap_path("calink"), "good", me, 077, &err);
		assert_true(fd >= 0);
		close(fd);
		/* the owner's link to root's folder: refused by owner */
		assert_int_eq(symlink(tap_tmpdir(), tap_path("ca/up")), 0);
		assert_int_eq(lchown(tap_path("ca/up"), me, me), 0);
		assert_int_eq(gbca_open_owned(tap_path("ca/up"), "rootfile", me, 077, &err), -1);
		assert_str_contains(err.msg, "owned by uid 0");
	}
	/* root's own path may hold links: root made them */
	assert_int_eq(symlink(tap_path("rootfile"), tap_path("rootlink")), 0);
	fd = gbca_open_owned(tap_tmpdir(), "rootlink", geteuid(), 077, &err);
	assert_true(fd >= 0);
	close(fd);

	/* group-readable and group-writable keys, with the chmod advice */
	make_file(tap_path("ca/g640"), 0640, me);
	assert_int_eq(gbca_open_owned(tap_path("ca"), "g640", me, 077, &err), -1);
	assert_str_contains(err.msg, "mode 0640");
	assert_str_contains(err.msg, "chmod 600");
	make_file(tap_path("ca/g660"), 0660, me);
	assert_int_eq(gbca_open_owned(tap_path("ca"), "g660", me, 077, &err), -1);
	assert_str_contains(err.msg, "mode 0660");

	/* not a regular file */
	assert_int_eq(mkfifo(tap_path("ca/fifo"), 0600), 0);
	assert_int_eq(gbca_open_owned(tap_path("ca"), "fifo", me, 077, &err), -1);
	assert_str_contains(err.msg, "not a regular file");

	if (!is_root())
		return;
	/* someone else's file in the user's folder (a hard link to root's) */
	make_file(tap_path("ca/roots"), 0400, 0);
	assert_int_eq(gbca_open_owned(tap_path("ca"), "roots", me, 077, &err), -1);
	assert_str_contains(err.msg, "owned by uid 0");
	/* the folder owned by someone else than the owner we read for */
	assert_int_eq(gbca_open_owned(tap_path("ca"), "good", 4242, 077, &err), -1);
	assert_str_contains(err.msg, "owned by uid 65534");
}

static void
test_save_owned(void)
{
	struct stat st;
	char *data;
	size_t len;

	if (!is_root())
		return;
	open_tmpdir();
	assert_int_eq(mkdir(tap_path("home"), 0755), 0);
	assert_int_eq(chown(tap_path("home"), NOBODY, NOBODY), 0);
	assert_int_eq(mkdir(tap_path("rootdir"), 0755), 0);
	/* into the user's folder: the file is theirs */
	assert_true(gbca_save_file_owned(tap_path("home/pid"), "42\n", 3, 0644, &err));
	assert_int_eq(stat(tap_path("home/pid"), &st), 0);
	assert_int_eq(st.st_uid, NOBODY);
	/* through the user's link to root's folder: refused, nothing written */
	assert_int_eq(symlink(tap_path("rootdir"), tap_path("home/link")), 0);
	assert_int_eq(lchown(tap_path("home/link"), NOBODY, NOBODY), 0);
	assert_false(gbca_save_file_owned(tap_path("home/link/pid"), "42\n", 3, 0644, &err));
	assert_str_contains(err.msg, "Permission denied");
	assert_int_eq(access(tap_path("rootdir/pid"), F_OK), -1);
	/* root's own folder: root writes */
	assert_true(gbca_save_file_owned(tap_path("rootdir/pid"), "7\n", 2, 0644, &err));
	assert_int_eq(stat(tap_path("rootdir/pid"), &st), 0);
	assert_int_eq(st.st_uid, 0);
	/* read back through the opener, with its size limit */
	assert_true(gbca_read_owned(tap_path("home"), "pid", NOBODY, 022, 16, &data, &len, &err));
	assert_int_eq(len, 3);
	assert_str_eq(data, "42\n");
	free(data);
	assert_false(gbca_read_owned(tap_path("home"), "pid", NOBODY, 022, 2, &data, &len, &err));
	assert_str_contains(err.msg, "larger than 2 bytes");
}

static bool
fill_shared(void *arg, struct gbca_err *e)
{
	(void)e;
	*(int *)arg = (int)geteuid();
	return true;
}

static void
test_shared(void)
{
	int *v = gbca_shared_alloc(sizeof(int));

	assert_true(v != NULL);
	*v = -1;
	assert_true(gbca_as_owner(NOBODY, NOBODY, fill_shared, v, &err));
	assert_int_eq(*v, is_root() ? NOBODY : (int)geteuid());
	gbca_shared_free(v, sizeof(int));
}

int
main(void)
{
	tap_add("/drop/ids", test_ids);
	tap_add("/drop/no-way-back", test_no_way_back);
	tap_add("/drop/kernel-checks", test_kernel_checks);
	tap_add("/drop/child-dies", test_child_dies);
	tap_add("/drop/owner-err", test_owner_err);
	tap_add("/drop/owner-of", test_owner_of);
	tap_add("/drop/open-owned", test_open_owned);
	tap_add("/drop/save-owned", test_save_owned);
	tap_add("/drop/shared", test_shared);
	return tap_run();
}
