/* Running other programs with fork/exec (never a shell), output captured. */
#include "config.h"
#include <gbca/run.h>
#include <gbca/path.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

bool
gbca_find_program(const char *prog, char *buf, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[4096];
	char *save = NULL, *d;

	if (strchr(prog, '/'))
		return snprintf(buf, len, "%s", prog) < (int)len && access(buf, X_OK) == 0;
	snprintf(dirs, sizeof(dirs), "%s:/usr/local/sbin:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
	for (d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		if (*d == '\0')
			continue;
		if (snprintf(buf, len, "%s/%s", d, prog) < (int)len && access(buf, X_OK) == 0)
			return true;
	}
	return false;
}

/* What run() does besides gbca_run's plain case. */
struct run_opts {
	bool detach;        /* own session, stderr to /dev/null */
	unsigned timeout_s; /* 0: wait as long as it takes */
};

static bool
run(const char *const argv[], const struct run_opts *o, char *out, size_t out_len, int *status, struct gbca_err *err)
{
	char prog[PATH_MAX];
	int pipefd[2], st;
	size_t used = 0;
	bool timed_out = false;
	struct timespec deadline;
	pid_t pid;

	if (out_len)
		out[0] = '\0';
	if (!gbca_find_program(argv[0], prog, sizeof(prog)))
		return gbca_fail(err, "%s not found", argv[0]);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return gbca_fail(err, "couldn't run %s: %s", argv[0], strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += o->timeout_s;
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return gbca_fail(err, "couldn't run %s: %s", argv[0], strerror(e));
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(pipefd[1], 1);
		if (o->detach) {
			/* No controlling terminal: an interactive shell can't take the
			 * caller's, and its complaints about that go nowhere. */
			setsid();
			if (devnull >= 0)
				dup2(devnull, 2);
		} else {
			dup2(pipefd[1], 2);
		}
		/* Under sudo HOME is the user's; what runs as root gets root's. */
		if (gbca_root_home() != NULL)
			setenv("HOME", gbca_root_home(), 1);
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		char chunk[4096];
		ssize_t r;

		if (o->timeout_s) {
			struct timespec now;
			struct pollfd pfd = { pipefd[0], POLLIN, 0 };
			long ms;

			clock_gettime(CLOCK_MONOTONIC, &now);
			ms = (deadline.tv_sec - now.tv_sec) * 1000 + (deadline.tv_nsec - now.tv_nsec) / 1000000;
			if (ms <= 0 || (poll(&pfd, 1, (int)ms) == 0)) {
				/* the whole session: a shell's children too */
				if (!o->detach || kill(-pid, SIGKILL) < 0)
					kill(pid, SIGKILL);
				timed_out = true;
				break;
			}
		}
		r = read(pipefd[0], chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		/* keep the first out_len-1 bytes; read the rest to let it finish */
		for (ssize_t i = 0; i < r && used + 1 < out_len; i++)
			out[used++] = chunk[i];
	}
	if (out_len)
		out[used] = '\0';
	close(pipefd[0]);
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return gbca_fail(err, "couldn't wait for %s: %s", argv[0], strerror(errno));
	}
	if (timed_out)
		return gbca_fail(err, "%s took longer than %u s; stopped it", argv[0], o->timeout_s);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return true;
}

bool
gbca_run(const char *const argv[], char *out, size_t out_len, int *status, struct gbca_err *err)
{
	static const struct run_opts plain = { false, 0 };

	return run(argv, &plain, out, out_len, status, err);
}

bool
gbca_run_detached(const char *const argv[], unsigned timeout_s, char *out, size_t out_len, int *status,
                  struct gbca_err *err)
{
	const struct run_opts o = { true, timeout_s };

	return run(argv, &o, out, out_len, status, err);
}
