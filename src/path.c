/* Where gbca keeps things: CAROOT, path joining, directory creation. */
#include "config.h"
#include <gbca/path.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool
gbca_path_join(char *buf, size_t len, const char *dir, const char *name, struct gbca_err *err)
{
	size_t dl = strlen(dir);
	int n;

	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	n = snprintf(buf, len, "%.*s/%s", (int)dl, dir, name);
	if (n < 0 || (size_t)n >= len)
		return gbca_fail(err, "path too long: %s/%s", dir, name);
	return true;
}

/* Root's own HOME, kept by gbca_sudo_adopt_home for the programs gbca runs as root. */
static char root_home[PATH_MAX];

bool
gbca_sudo_user(uid_t *uid, gid_t *gid, char *home, size_t len)
{
	const char *u = getenv("SUDO_UID"), *name = getenv("SUDO_USER");
	struct passwd *pw;
	char *end;
	unsigned long v;

	if (geteuid() != 0 || u == NULL || name == NULL || name[0] == '\0')
		return false;
	errno = 0;
	v = strtoul(u, &end, 10);
	if (errno || end == u || *end != '\0' || v == 0 || v > (uid_t)-2)
		return false;
	/* Both must agree, and name a user who exists: a stale or made-up
	 * SUDO_USER does not get to choose the home. */
	pw = getpwnam(name);
	if (pw == NULL || pw->pw_uid != (uid_t)v || pw->pw_dir == NULL || pw->pw_dir[0] != '/')
		return false;
	if (uid)
		*uid = pw->pw_uid;
	if (gid)
		*gid = pw->pw_gid;
	if (home && snprintf(home, len, "%s", pw->pw_dir) >= (int)len)
		return false;
	return true;
}

void
gbca_sudo_adopt_home(void)
{
	char home[PATH_MAX];
	const char *cur = getenv("HOME");

	if (!gbca_sudo_user(NULL, NULL, home, sizeof(home)))
		return;
	if (cur != NULL && strcmp(cur, home) == 0)
		return;   /* sudo -E, or sudo -H undone: the user's own environment */
	snprintf(root_home, sizeof(root_home), "%s", cur ? cur : "/root");
	/* sudo reset these to root's (or dropped them); the user's are unknown,
	 * so the defaults under the user's home apply. */
	unsetenv("XDG_DATA_HOME");
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("ZDOTDIR");
	setenv("HOME", home, 1);
}

const char *
gbca_root_home(void)
{
	return root_home[0] ? root_home : NULL;
}

static const char *
home_dir(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home != NULL && home[0] == '/')
		return home;
	pw = getpwuid(getuid());
	return pw ? pw->pw_dir : NULL;
}

bool
gbca_caroot(char *buf, size_t len, struct gbca_err *err)
{
	const char *v = getenv("GBCA_CAROOT");
	const char *home;
	int n;

	if (v != NULL && v[0] != '\0') {
		char cwd[PATH_MAX];
		/* Relative to where gbca runs now, so what goes into rc files,
		 * units and env lines must be absolute to mean the same later. */
		if (v[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL)
			return gbca_fail(err, "GBCA_CAROOT=%s is relative and the current folder is unknown (%s); set it to an absolute path",
			                 v, strerror(errno));
		n = v[0] == '/' ? snprintf(buf, len, "%s", v)
		                : snprintf(buf, len, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, strncmp(v, "./", 2) == 0 ? v + 2 : v);
		if (n < 0 || (size_t)n >= len)
			return gbca_fail(err, "GBCA_CAROOT is too long");
		return true;
	}
	/* The XDG spec says relative values are to be ignored. */
	v = getenv("XDG_DATA_HOME");
	if (v != NULL && v[0] == '/')
		return gbca_path_join(buf, len, v, "gbca", err);
	home = home_dir();
	if (home == NULL)
		return gbca_fail(err, "can't find your home directory; set GBCA_CAROOT to choose where the CA lives");
	n = snprintf(buf, len, "%s/.local/share/gbca", home);
	if (n < 0 || (size_t)n >= len)
		return gbca_fail(err, "home directory path is too long; set GBCA_CAROOT");
	return true;
}

bool
gbca_mkdir_p(const char *dir, mode_t mode, struct gbca_err *err)
{
	char tmp[PATH_MAX];
	char *p;
	struct stat st;

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		return gbca_fail(err, "path too long: %s", dir);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
			int e = errno;
			return gbca_fail(err, "couldn't create %s: %s", tmp, strerror(e));
		}
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0) {
		int e = errno;
		if (e != EEXIST)
			return gbca_fail(err, "couldn't create %s: %s", tmp, strerror(e));
	} else if (chmod(tmp, mode) < 0) {
		/* mkdir's mode is filtered by the umask; the one we asked for is exact. */
		int e = errno;
		return gbca_fail(err, "couldn't set the mode of %s: %s", tmp, strerror(e));
	}
	if (stat(tmp, &st) < 0 || !S_ISDIR(st.st_mode))
		return gbca_fail(err, "%s exists and is not a directory", tmp);
	return true;
}

void
gbca_user_at_host(char *buf, size_t len)
{
	char host[256] = "localhost";
	const char *user = NULL;
	struct passwd *pw = getpwuid(getuid());

	if (pw != NULL)
		user = pw->pw_name;
	if (user == NULL)
		user = getenv("USER");
	if (user == NULL)
		user = "unknown";
	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, len, "%s@%s", user, host);
}

bool
gbca_path_readable(const char *path, struct gbca_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int e = errno;

	if (fd < 0)
		return gbca_fail(err, "couldn't read %s: %s", path, strerror(e));
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return gbca_fail(err, "couldn't read %s: %s", path, strerror(EISDIR));
	}
	close(fd);
	return true;
}
