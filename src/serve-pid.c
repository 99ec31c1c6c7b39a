/* Finding the running 'gbca serve' through CAROOT/serve.pid, for down,
 * uninstall and doctor. The pid file is the user's to write, so a pid from it
 * counts only when the process is provably a gbca: /proc/PID/exe is the same
 * file (device and inode) as our own executable, and the process runs as
 * root, as us or as the CAROOT's owner. A pidfd pins the process between
 * that check and the signal, so a recycled pid is never signalled. */
#include "config.h"
#include <gbca/drop.h>
#include <gbca/path.h>
#include <gbca/up.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int
pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

static int
pidfd_kill(int pidfd, int sig)
{
#ifdef SYS_pidfd_send_signal
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
#else
	(void)pidfd;
	(void)sig;
	errno = ENOSYS;
	return -1;
#endif
}

/* The pid in CAROOT/serve.pid, read without following links and only from a
 * file the CAROOT's owner (*owner) keeps. */
static bool
read_pid(const char *caroot, long *pid, uid_t *owner)
{
	struct gbca_err err;
	char *text, *end;
	size_t len;
	gid_t gid;

	if (!gbca_owner_of(caroot, owner, &gid, &err) ||
	    !gbca_read_owned(caroot, "serve.pid", *owner, 022, 32, &text, &len, &err))
		return false;
	errno = 0;
	*pid = strtol(text, &end, 10);
	if (errno || end == text || (*end != '\n' && *end != '\0'))
		*pid = 0;
	free(text);
	return *pid > 1;
}

/* Whether /proc/PID is a gbca (same executable as ours) run by root, by us
 * or by owner. */
static bool
is_our_gbca(long pid, uid_t owner)
{
	char proc[64];
	struct stat self, exe, dir;

	if (stat("/proc/self/exe", &self) < 0)
		return false;
	snprintf(proc, sizeof(proc), "/proc/%ld/exe", pid);
	if (stat(proc, &exe) < 0 || exe.st_dev != self.st_dev || exe.st_ino != self.st_ino)
		return false;
	snprintf(proc, sizeof(proc), "/proc/%ld", pid);
	if (stat(proc, &dir) < 0)
		return false;
	return dir.st_uid == 0 || dir.st_uid == geteuid() || dir.st_uid == owner;
}

static void
read_cmdline(long pid, char *cmdline, size_t len)
{
	char proc[64];
	FILE *f;
	size_t n;

	snprintf(proc, sizeof(proc), "/proc/%ld/cmdline", pid);
	cmdline[0] = '\0';
	if ((f = fopen(proc, "re")) == NULL)
		return;
	n = fread(cmdline, 1, len - 1, f);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (cmdline[i] == '\0')
			cmdline[i] = ' ';
	cmdline[n] = '\0';
}

bool
gbca_up_serve_pid(const char *caroot, long *pid, char *cmdline, size_t len)
{
	uid_t owner;

	if (len == 0 || !read_pid(caroot, pid, &owner) || !is_our_gbca(*pid, owner))
		return false;
	read_cmdline(*pid, cmdline, len);
	return true;
}

/* Stops a foreground serve through its pid file; true if one was running. */
bool
gbca_up_stop_serve(const char *caroot, char *report, size_t len)
{
	struct pollfd p;
	uid_t owner;
	long pid;
	int fd;

	if (!read_pid(caroot, &pid, &owner))
		return false;
	fd = pidfd_open_((pid_t)pid);
	if (fd < 0 && errno != ENOSYS)
		return false;
	if (!is_our_gbca(pid, owner)) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	p.fd = fd;
	p.events = POLLIN;
	/* Still the process we checked (a pidfd turns readable when it exits)? */
	if (fd >= 0 && (poll(&p, 1, 0) != 0 || pidfd_kill(fd, SIGTERM) < 0)) {
		close(fd);
		return false;
	}
	if (fd < 0 && kill((pid_t)pid, SIGTERM) < 0)
		return false;
	/* Wait (bounded, 40 s) for it to finish its requests and go. */
	if (fd >= 0) {
		while (poll(&p, 1, 40000) < 0 && errno == EINTR)
			;
		close(fd);
	}
	/* Gone, and (a few seconds at most) reaped by its parent, so that the
	 * pid no longer answers: what callers and scripts check afterwards. */
	for (int i = 0; i < (fd >= 0 ? 50 : 400) && kill((pid_t)pid, 0) == 0; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	snprintf(report, len, "stopped gbca serve (pid %ld)", pid);
	return true;
}
