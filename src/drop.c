/* Acting for a user as root: work on a user's files runs in a child that has
 * become that user, so the kernel's own permission checks apply to every
 * path it follows; and a file root itself must read from a user's folder is
 * opened without following links and checked with fstat. docs/security.md. */
#include "config.h"
#include <gbca/drop.h>
#include <gbca/save.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* What the child sends back: one write, smaller than PIPE_BUF, so atomic. */
struct reply {
	int result;
	int has_err;
	struct gbca_err err;
};

#define GROUPS_MAX 256

/* Becomes uid/gid for good, with the user's supplementary groups (none if the
 * user has no passwd entry). Verified: every id changed and root can't come back. */
static bool
become(uid_t uid, gid_t gid)
{
	gid_t groups[GROUPS_MAX];
	int n = GROUPS_MAX;
	struct passwd *pw = getpwuid(uid);
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (pw == NULL || getgrouplist(pw->pw_name, gid, groups, &n) < 0)
		n = 0;
	if (setgroups((size_t)n, groups) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return false;
	if (getresuid(&ru, &eu, &su) < 0 || ru != uid || eu != uid || su != uid ||
	    getresgid(&rg, &eg, &sg) < 0 || rg != gid || eg != gid || sg != gid)
		return false;
	if (setuid(0) == 0 || seteuid(0) == 0)
		return false;
	/* The child holds a copy of root's memory: the user must not be able to
	 * ptrace it or read /proc/PID/mem (the kernel clears this on the uid
	 * change too; say it anyway). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return true;
}

static int
run(uid_t uid, gid_t gid, int (*ifn)(void *), bool (*bfn)(void *, struct gbca_err *), void *arg,
    struct gbca_err *err)
{
	struct reply r;
	int fds[2], status, e;
	pid_t pid;
	ssize_t n;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		e = errno;
		gbca_fail(err, "couldn't start a process as uid %u: %s", (unsigned)uid, strerror(e));
		errno = e;
		return -1;
	}
	/* Whatever is buffered is ours: the child must not print it again. */
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		e = errno;
		close(fds[0]);
		close(fds[1]);
		gbca_fail(err, "couldn't start a process as uid %u: %s", (unsigned)uid, strerror(e));
		errno = e;
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		memset(&r, 0, sizeof(r));
		if (!become(uid, gid)) {
			fprintf(stderr, "gbca: couldn't become uid %u gid %u: %s\n", (unsigned)uid,
			        (unsigned)gid, strerror(errno));
			_exit(127);
		}
		if (ifn != NULL) {
			r.result = ifn(arg);
		} else {
			r.result = bfn(arg, &r.err) ? 1 : 0;
			r.has_err = !r.result;
		}
		fflush(NULL);
		if (write(fds[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(126);
		_exit(0);
	}
	close(fds[1]);
	memset(&r, 0, sizeof(r));
	do
		n = read(fds[0], &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = -1;
			break;
		}
	}
	if (n != (ssize_t)sizeof(r) || status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		gbca_fail(err, "the process working as uid %u failed (%s); nothing was done as root instead",
		          (unsigned)uid, status != -1 && WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "see above");
		errno = ECHILD;
		return -1;
	}
	if (r.has_err && err != NULL)
		*err = r.err;
	return r.result;
}

int
gbca_as_user(uid_t uid, gid_t gid, int (*fn)(void *arg), void *arg)
{
	if (geteuid() != 0 || uid == 0)
		return fn(arg);
	return run(uid, gid, fn, NULL, arg, NULL);
}

bool
gbca_as_owner(uid_t uid, gid_t gid, bool (*fn)(void *arg, struct gbca_err *err), void *arg,
              struct gbca_err *err)
{
	if (geteuid() != 0 || uid == 0)
		return fn(arg, err);
	return run(uid, gid, NULL, fn, arg, err) == 1;
}

/* Walks path one component at a time with lstat (so a symlink counts as its
 * own owner's), remembering the deepest non-root owner. Stops at the first
 * missing component: what is created below belongs to whoever holds it. */
static void
deepest_owner(const char *path, uid_t *uid, gid_t *gid, bool *found)
{
	char buf[PATH_MAX];
	struct stat st;
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (lstat(buf, &st) < 0) {
			buf[i] = c;
			return;
		}
		if (st.st_uid != 0) {
			*uid = st.st_uid;
			*gid = st.st_gid;
			*found = true;
		}
		buf[i] = c;
	}
}

bool
gbca_owner_of(const char *path, uid_t *uid, gid_t *gid, struct gbca_err *err)
{
	char resolved[PATH_MAX], head[PATH_MAX];
	bool found = false;
	struct passwd *pw;

	*uid = 0;
	*gid = 0;
	if (path[0] != '/')
		return gbca_fail(err, "%s is not an absolute path", path);
	if (strlen(path) >= PATH_MAX)   /* unchecked would mean root's: refuse */
		return gbca_fail(err, "path too long: %.100s...", path);
	deepest_owner(path, uid, gid, &found);
	/* As resolved too: a root-owned link may lead into a user's folder. The
	 * longest existing head of the path is what realpath can resolve. */
	resolved[0] = '\0';
	snprintf(head, sizeof(head), "%s", path);
	while (realpath(head, resolved) == NULL) {
		char *slash = strrchr(head, '/');
		if (slash == NULL || slash == head) {
			resolved[0] = '\0';
			break;
		}
		*slash = '\0';
	}
	if (resolved[0] == '/') {
		uid_t u2 = 0;
		gid_t g2 = 0;
		bool f2 = false;
		deepest_owner(resolved, &u2, &g2, &f2);
		if (f2 && !found) {
			*uid = u2;
			*gid = g2;
			found = true;
		}
	}
	if (found && (pw = getpwuid(*uid)) != NULL)
		*gid = pw->pw_gid;
	return true;
}

int
gbca_open_owned(const char *dir, const char *name, uid_t owner, mode_t forbid, struct gbca_err *err)
{
	/* Links and others' files are a danger only when root reads for a user:
	 * a user reading their own CAROOT (which may be a link to another disk),
	 * or root reading a root-owned path, may follow them. */
	bool strict = geteuid() == 0 && owner != 0;
	int nofollow = strict ? O_NOFOLLOW : 0;
	char real[PATH_MAX];
	struct stat st;
	int dfd, fd, e;

	/* A CAROOT may itself be the user's link to another disk: resolve it,
	 * and trust the folder reached only if fstat says it is the owner's (it
	 * can't be swapped for root's folder: the owner check would see that). */
	if (strict && realpath(dir, real) != NULL)
		dir = real;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | nofollow | O_CLOEXEC);
	if (dfd < 0) {
		e = errno;
		gbca_fail(err, "couldn't open %s: %s%s", dir, strerror(e),
		          e == ELOOP || e == ENOTDIR ? " (it must be a folder, not a link)" : "");
		return -1;
	}
	if (fstat(dfd, &st) < 0 || (strict && st.st_uid != owner)) {
		close(dfd);
		gbca_fail(err, "refusing %s: it is owned by uid %u, not by uid %u who keeps it", dir,
		          (unsigned)st.st_uid, (unsigned)owner);
		return -1;
	}
	fd = openat(dfd, name, O_RDONLY | nofollow | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	e = errno;
	close(dfd);
	if (fd < 0) {
		gbca_fail(err, "couldn't open %s/%s: %s%s", dir, name, strerror(e),
		          e == ELOOP ? " (it is a symbolic link; gbca reads only the file itself)" : "");
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		gbca_fail(err, "refusing %s/%s: not a regular file", dir, name);
		return -1;
	}
	if (strict && st.st_uid != owner) {
		close(fd);
		gbca_fail(err, "refusing %s/%s: it is owned by uid %u, not by uid %u who keeps it", dir, name,
		          (unsigned)st.st_uid, (unsigned)owner);
		return -1;
	}
	if (st.st_mode & forbid) {
		close(fd);
		gbca_fail(err, "refusing %s/%s: mode %04o lets other users in; fix it with: chmod %o %s/%s", dir,
		          name, (unsigned)(st.st_mode & 07777), (unsigned)(st.st_mode & 07777 & ~forbid), dir, name);
		return -1;
	}
	/* O_NONBLOCK only kept a FIFO from hanging the open; reads are blocking. */
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

bool
gbca_as_owner_of(const char *path, bool (*fn)(void *arg, struct gbca_err *err), void *arg,
                 struct gbca_err *err)
{
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return fn(arg, err);
	return gbca_owner_of(path, &uid, &gid, err) && gbca_as_owner(uid, gid, fn, arg, err);
}

bool
gbca_become_owner_of(const char *path, struct gbca_err *err)
{
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return true;
	if (!gbca_owner_of(path, &uid, &gid, err))
		return false;
	if (uid == 0)
		return true;
	if (!become(uid, gid))
		return gbca_fail(err, "couldn't become uid %u, who owns %s: %s", (unsigned)uid, path, strerror(errno));
	return true;
}

struct save_job {
	const char *path;
	const void *data;
	size_t len;
	mode_t mode;
};

static bool
save_job(void *arg, struct gbca_err *err)
{
	struct save_job *j = arg;
	return gbca_save_file(j->path, j->data, j->len, j->mode, err);
}

bool
gbca_save_file_owned(const char *path, const void *data, size_t len, mode_t mode, struct gbca_err *err)
{
	struct save_job j = { path, data, len, mode };
	char dir[PATH_MAX];
	char *slash;
	uid_t uid;
	gid_t gid;

	char cwd[PATH_MAX];
	int n;

	if (geteuid() != 0)
		return gbca_save_file(path, data, len, mode, err);
	if (path[0] == '/')
		n = snprintf(dir, sizeof(dir), "%s", path);
	else if (getcwd(cwd, sizeof(cwd)) != NULL)
		n = snprintf(dir, sizeof(dir), "%s/%s", cwd, path);
	else
		return gbca_fail(err, "couldn't write %s: %s", path, strerror(errno));
	if (n < 0 || n >= (int)sizeof(dir))
		return gbca_fail(err, "couldn't write %s: path too long", path);
	slash = strrchr(dir, '/');
	slash[slash == dir] = '\0';
	if (!gbca_owner_of(dir, &uid, &gid, err))
		return false;
	return gbca_as_owner(uid, gid, save_job, &j, err);
}

bool
gbca_read_owned(const char *dir, const char *name, uid_t owner, mode_t forbid, size_t max, char **data,
                size_t *len, struct gbca_err *err)
{
	int fd = gbca_open_owned(dir, name, owner, forbid, err);
	struct stat st;
	char *buf;
	size_t got = 0;

	*data = NULL;
	*len = 0;
	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size > max) {
		close(fd);
		return gbca_fail(err, "refusing %s/%s: larger than %zu bytes", dir, name, max);
	}
	buf = malloc(max + 1);
	if (buf == NULL) {
		close(fd);
		return gbca_fail(err, "out of memory");
	}
	for (;;) {
		ssize_t r = read(fd, buf + got, max + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return gbca_fail(err, "couldn't read %s/%s: %s", dir, name, strerror(e));
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > max) {
			free(buf);
			close(fd);
			return gbca_fail(err, "refusing %s/%s: larger than %zu bytes", dir, name, max);
		}
	}
	close(fd);
	buf[got] = '\0';
	*data = buf;
	*len = got;
	return true;
}

void *
gbca_shared_alloc(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void
gbca_shared_free(void *p, size_t n)
{
	if (p != NULL)
		munmap(p, n);
}
