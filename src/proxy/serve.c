/* The proxy's master process: listening sockets (or systemd's), the TLS
 * context, the workers; SIGHUP re-reads the certificates and replaces the
 * workers (the old ones finish what they have), SIGTERM drains and stops,
 * and a leaf close to expiry is renewed the same way. */
#include "config.h"
#include <gbca/allow.h>
#include <gbca/path.h>
#include <gbca/proxy.h>
#include <gbca/drop.h>
#include <gbca/save.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKERS_MAX 64

struct master {
	struct gbca_proxy_config *cfg;
	int fds[GBCA_PROXY_LISTEN_MAX];
	bool tls_fds[GBCA_PROXY_LISTEN_MAX];
	size_t n_fds;
	pid_t workers[WORKERS_MAX];
	unsigned n_workers;
	pid_t old[WORKERS_MAX * 4];
	unsigned n_old;
};

static bool
bind_one(const struct gbca_listen_addr *a, int *out, struct gbca_err *err)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return gbca_fail(err, "couldn't make a socket for %s: %s", a->text, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* The bridge may get its address after serve starts (a unit started
	 * before Docker): bind anyway, it is served once it comes up. */
	if (a->bridge)
		setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		int e = errno;
		close(fd);
		if (e == EACCES)
			return gbca_fail(err, "couldn't listen on %s: %s; ports below 1024 need root (or CAP_NET_BIND_SERVICE), or choose another with --listen", a->text, strerror(e));
		if (e == EADDRINUSE)
			return gbca_fail(err, "couldn't listen on %s: something else is listening there (another gbca serve, nginx?)", a->text);
		if (e == EADDRNOTAVAIL)
			return gbca_fail(err, "couldn't listen on %s: no such address here (is IPv6 enabled?)", a->text);
		return gbca_fail(err, "couldn't listen on %s: %s", a->text, strerror(e));
	}
	if (listen(fd, 1024) < 0) {
		int e = errno;
		close(fd);
		return gbca_fail(err, "couldn't listen on %s: %s", a->text, strerror(e));
	}
	*out = fd;
	return true;
}

/* systemd socket activation: LISTEN_PID/LISTEN_FDS, names "http" for plain. */
static bool
take_systemd_fds(struct master *m)
{
	const char *pid = getenv("LISTEN_PID"), *n = getenv("LISTEN_FDS"), *names = getenv("LISTEN_FDNAMES");
	char buf[512], *save = NULL, *tok;
	int count;

	if (pid == NULL || n == NULL || (pid_t)atol(pid) != getpid())
		return false;
	count = atoi(n);
	if (count <= 0 || count > GBCA_PROXY_LISTEN_MAX)
		return false;
	snprintf(buf, sizeof(buf), "%s", names ? names : "");
	tok = strtok_r(buf, ":", &save);
	for (int i = 0; i < count; i++) {
		int fl;
		m->fds[i] = 3 + i;
		/* systemd passes blocking sockets unless NonBlocking=yes: the
		 * workers' accept loop needs them non-blocking. */
		fl = fcntl(m->fds[i], F_GETFL);
		if (fl >= 0)
			fcntl(m->fds[i], F_SETFL, fl | O_NONBLOCK);
		fcntl(m->fds[i], F_SETFD, FD_CLOEXEC);
		m->tls_fds[i] = !(tok && strcmp(tok, "http") == 0);
		tok = tok ? strtok_r(NULL, ":", &save) : NULL;
	}
	m->n_fds = (size_t)count;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return true;
}

/* Looks the real Google up again and publishes the answer to the workers. */
static void
resolve_google(struct gbca_google *g, bool quiet)
{
	struct sockaddr_storage addrs[GBCA_GOOGLE_ADDRS_MAX];
	size_t n = gbca_dns_lookup(GBCA_GOOGLE_HOST, 443, addrs, GBCA_GOOGLE_ADDRS_MAX);

	if (n == 0) {
		if (!quiet && g->n == 0)
			gbca_print_warning("--google-passthrough: DNS has no address for %s yet; requests with a Google API key get 502 until it does",
			                   GBCA_GOOGLE_HOST);
		return;   /* keep the last good answer */
	}
	gbca_addrs_publish(g, addrs, n);
}

/* Looks the upstream host up again (getaddrinfo: the hosts file, then DNS)
 * and publishes the answer to the workers; a failed lookup keeps the last. */
static void
resolve_upstream(const struct gbca_proxy_config *cfg, struct gbca_google *g)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_storage addrs[GBCA_GOOGLE_ADDRS_MAX];
	uint32_t n = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(cfg->upstream_host, cfg->upstream_port, &hints, &res) != 0)
		return;
	for (ai = res; ai && n < GBCA_GOOGLE_ADDRS_MAX; ai = ai->ai_next)
		if (ai->ai_addrlen <= sizeof(addrs[0]))
			memcpy(&addrs[n++], ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(res);
	if (n > 0)
		gbca_addrs_publish(g, addrs, n);
}

static pid_t
spawn(struct master *m, struct gbca_tls *tls)
{
	pid_t master = getpid();
	pid_t pid = fork();

	if (pid == 0) {
		sigset_t none;
		/* A worker whose master is killed outright stops too, instead of
		 * holding the port with nobody to reload or drain it. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != master)
			_exit(0);   /* the master died before prctl took effect */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		_exit(gbca_worker_main(m->cfg, tls, m->fds, m->tls_fds, m->n_fds));
	}
	return pid;
}

static bool
spawn_all(struct master *m, struct gbca_tls *tls)
{
	for (unsigned i = 0; i < m->cfg->workers; i++) {
		pid_t pid = spawn(m, tls);
		if (pid < 0) {
			gbca_print_error("couldn't start a worker: %s", strerror(errno));
			return false;
		}
		m->workers[m->n_workers++] = pid;
	}
	return true;
}

static void
signal_all(pid_t *pids, unsigned n, int sig)
{
	for (unsigned i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], sig);
}

/* Loads a new TLS context and swaps the workers; the old context stays
 * usable by the old workers (they are separate processes). */
static bool
reload(struct master *m, struct gbca_tls *tls, const char *why)
{
	struct gbca_tls fresh;
	struct gbca_err err;
	gnutls_datum_t keep = tls->ticket_key;

	if (!gbca_tls_load(&fresh, m->cfg, &err)) {
		gbca_print_error("%s: keeping the current certificates: %s", why, err.msg);
		return false;
	}
	/* Same ticket key: tickets issued before the reload stay valid. */
	gnutls_free(fresh.ticket_key.data);
	fresh.ticket_key.data = gnutls_malloc(keep.size);
	if (fresh.ticket_key.data) {
		memcpy(fresh.ticket_key.data, keep.data, keep.size);
		fresh.ticket_key.size = keep.size;
	}
	/* The old workers stop accepting and finish their requests (SIGQUIT: up
	 * to --upstream-timeout, for slow generations). Past the ones we can
	 * keep track of, after many quick reloads, they get --drain-timeout. */
	for (unsigned i = 0; i < m->n_workers; i++) {
		if (m->n_old < sizeof(m->old) / sizeof(m->old[0])) {
			m->old[m->n_old++] = m->workers[i];
			kill(m->workers[i], SIGQUIT);
		} else {
			kill(m->workers[i], SIGTERM);
		}
	}
	m->n_workers = 0;
	gbca_tls_free(tls);
	*tls = fresh;
	if (!spawn_all(m, tls))
		return false;
	gbca_print_note("%s: certificates re-read; new workers started, the old ones finish their requests", why);
	return true;
}

/* A worker that exits with this status could not start (bad --user, an
 * access log it can't open): starting another would fail the same way. */
#define WORKER_FATAL 3

static bool
reap(struct master *m, pid_t pid)
{
	for (unsigned i = 0; i < m->n_old; i++)
		if (m->old[i] == pid) {
			m->old[i] = m->old[--m->n_old];
			return false;
		}
	for (unsigned i = 0; i < m->n_workers; i++)
		if (m->workers[i] == pid) {
			m->workers[i] = m->workers[--m->n_workers];
			return true;   /* a current worker died */
		}
	return false;
}

/* CAROOT/serve.pid (or --pid-file): how 'gbca down' finds a foreground serve. */
static void
write_pid_file(const struct gbca_proxy_config *cfg, char *path, size_t len)
{
	char text[32];
	struct gbca_err err;
	int n;

	path[0] = '\0';
	if (strcmp(cfg->pid_file, "off") == 0)
		return;
	if (cfg->pid_file[0])
		snprintf(path, len, "%s", cfg->pid_file);
	else if (!gbca_path_join(path, len, cfg->caroot, "serve.pid", NULL))
		return;
	n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (!gbca_save_file_owned(path, text, (size_t)n, 0644, &err)) {
		gbca_print_warning("%s", err.msg);
		path[0] = '\0';
	}
}

/* Raises the soft descriptor limit to the hard one (the workers inherit it)
 * and makes --max-connections fit in it: the default is lowered to what
 * fits, an explicit value that does not fit is kept with a warning (past the
 * limit a worker stops accepting until a descriptor frees). */
static void
fit_descriptors(struct gbca_proxy_config *cfg)
{
	struct rlimit rl;
	unsigned workers = cfg->workers ? cfg->workers : 1;
	uint64_t per_worker, fit;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl.rlim_cur = was;
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return;
	per_worker = rl.rlim_cur > GBCA_PROXY_FD_RESERVE + 2 ? (rl.rlim_cur - GBCA_PROXY_FD_RESERVE) / 2 : 1;
	fit = per_worker * workers;
	if (cfg->max_connections <= fit)
		return;
	if (cfg->max_connections == GBCA_PROXY_MAX_CONNECTIONS_DEFAULT) {
		if (!cfg->quiet)
			gbca_print_note("%lu file descriptors per process (ulimit -n, LimitNOFILE) fit %llu connections "
			                "with %u worker%s, not %u: --max-connections is %llu",
			                (unsigned long)rl.rlim_cur, (unsigned long long)fit, workers, workers == 1 ? "" : "s",
			                cfg->max_connections, (unsigned long long)fit);
		cfg->max_connections = (unsigned)fit;
	} else {
		gbca_print_warning("--max-connections %u needs about %llu file descriptors per worker, the limit is %lu "
		                   "(ulimit -n, LimitNOFILE): past about %llu connections new clients wait",
		                   cfg->max_connections,
		                   (unsigned long long)((cfg->max_connections + workers - 1) / workers * 2 + GBCA_PROXY_FD_RESERVE),
		                   (unsigned long)rl.rlim_cur, (unsigned long long)fit);
	}
}

int
gbca_proxy_run(struct gbca_proxy_config *cfg)
{
	char pid_path[PATH_MAX];
	struct master m;
	struct gbca_tls tls;
	struct gbca_err err;
	char line[1024];
	size_t used = 0;
	sigset_t set;
	bool stopping = false, failed = false;
	uint64_t stop_deadline = 0;
	uint64_t renew_retry = 0;   /* no renewal before this time (one just failed) */
	time_t next_lookup = time(NULL) + 60, stale_lookup = 0;   /* DNS: google, the upstream */
	int status;

	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	fit_descriptors(cfg);
	if (!take_systemd_fds(&m)) {
		for (size_t i = 0; i < cfg->n_listen; i++) {
			if (!bind_one(&cfg->listen[i], &m.fds[i], &err)) {
				gbca_print_error("%s", err.msg);
				return 1;
			}
			m.tls_fds[i] = cfg->listen[i].tls;
			m.n_fds++;
		}
	}
	/* Before the workers fork: they check clients against this list. */
	gbca_allow_defaults(cfg, m.fds, m.n_fds);
	gbca_allow_bridges(cfg);
	if (!gbca_tls_load(&tls, cfg, &err)) {
		gbca_print_error("%s", err.msg);
		return 1;
	}
	if (cfg->google_passthrough) {
		cfg->google = mmap(NULL, sizeof(*cfg->google), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (cfg->google == MAP_FAILED) {
			gbca_print_error("out of memory");
			return 1;
		}
		memset(cfg->google, 0, sizeof(*cfg->google));
		resolve_google(cfg->google, cfg->quiet);
	}
	{
		/* A name (not an address) for the upstream: looked up again every
		 * minute, so a remote balancer that moves is followed. */
		struct in6_addr a;
		if (inet_pton(AF_INET, cfg->upstream_host, &a) != 1 && inet_pton(AF_INET6, cfg->upstream_host, &a) != 1) {
			cfg->upstream_addrs = mmap(NULL, sizeof(*cfg->upstream_addrs), PROT_READ | PROT_WRITE,
			                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
			if (cfg->upstream_addrs == MAP_FAILED) {
				gbca_print_error("out of memory");
				return 1;
			}
			memset(cfg->upstream_addrs, 0, sizeof(*cfg->upstream_addrs));
			resolve_upstream(cfg, cfg->upstream_addrs);
		}
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!spawn_all(&m, &tls))
		return 1;
	for (size_t i = 0; i < m.n_fds && used < sizeof(line); i++) {
		if (i < cfg->n_listen && m.n_fds == cfg->n_listen)
			used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s%s", i ? ", " : "",
			                         cfg->listen[i].text, !cfg->listen[i].tls ? " (plain HTTP)"
			                         : cfg->listen[i].bridge ? " (container bridge)" : "");
		else
			used += (size_t)snprintf(line + used, sizeof(line) - used, "%sfd %d (systemd)", i ? ", " : "", m.fds[i]);
	}
	write_pid_file(cfg, pid_path, sizeof(pid_path));
	if (!cfg->quiet)
		fprintf(stderr, "gbca: listening on %s; upstream %s; %u worker%s\n", line, cfg->upstream_url,
		        cfg->workers, cfg->workers == 1 ? "" : "s");
	if (!cfg->quiet) {
		gbca_allow_describe(cfg, line, sizeof(line));
		fprintf(stderr, "gbca: the proxy allows %s; other clients are refused at accept\n", line);
	}

	for (;;) {
		struct timespec wait = { 60, 0 };
		time_t now = time(NULL);
		siginfo_t si;
		int sig;

		if (stopping)
			wait.tv_sec = 1;
		else if (tls.renew_at && (uint64_t)now >= renew_retry && tls.renew_at < (uint64_t)now + 60)
			/* wake up when the leaf is due (at least a second from now) */
			wait.tv_sec = tls.renew_at > (uint64_t)now ? (time_t)(tls.renew_at - (uint64_t)now) : 1;
		if (cfg->upstream_addrs && wait.tv_sec > 2)
			wait.tv_sec = 2;   /* a worker may ask for a fresh lookup (stale) */
		sig = sigtimedwait(&set, &si, &wait);
		if (sig == SIGCHLD || sig < 0) {
			pid_t pid;
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
				bool current = reap(&m, pid);
				if (current && WIFEXITED(status) && WEXITSTATUS(status) == WORKER_FATAL && !stopping) {
					gbca_print_error("a worker could not start (see above); stopping");
					stopping = true;
					failed = true;
					stop_deadline = (uint64_t)time(NULL) + 5;
					signal_all(m.workers, m.n_workers, SIGTERM);
					signal_all(m.old, m.n_old, SIGTERM);
				} else if (current && !stopping) {
					gbca_print_warning("a worker (pid %d) stopped unexpectedly; starting another", (int)pid);
					pid_t again = spawn(&m, &tls);
					if (again > 0)
						m.workers[m.n_workers++] = again;
				}
			}
		}
		if (sig == SIGHUP && !stopping) {
			reload(&m, &tls, "SIGHUP");
		} else if ((sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) && !stopping) {
			stopping = true;
			stop_deadline = (uint64_t)time(NULL) + cfg->drain_timeout_s + 5;
			signal_all(m.workers, m.n_workers, SIGTERM);
			signal_all(m.old, m.n_old, SIGTERM);
			for (size_t i = 0; i < m.n_fds; i++)
				close(m.fds[i]);
		} else if (sig < 0 && errno == EAGAIN && !stopping) {
			now = time(NULL);
			if (now >= next_lookup) {
				/* every minute */
				next_lookup = now + 60;
				if (cfg->google)
					resolve_google(cfg->google, true);
				if (cfg->upstream_addrs) {
					cfg->upstream_addrs->stale = 0;
					resolve_upstream(cfg, cfg->upstream_addrs);
					stale_lookup = now;
				}
			} else if (cfg->upstream_addrs && cfg->upstream_addrs->stale && now >= stale_lookup + 5) {
				/* a worker couldn't connect: the balancer may have moved (5 s apart at most) */
				cfg->upstream_addrs->stale = 0;
				resolve_upstream(cfg, cfg->upstream_addrs);
				stale_lookup = now;
			}
		}
		now = time(NULL);
		if (!stopping && tls.renew_at && (uint64_t)now >= tls.renew_at && (uint64_t)now >= renew_retry) {
			/* A third of a leaf's life is left: a new one, new workers. On
			 * failure the current leaf stays, and we try again in a minute. */
			if (!reload(&m, &tls, "renewal"))
				renew_retry = (uint64_t)now + 60;
		}
		if (stopping && m.n_workers == 0 && m.n_old == 0)
			break;
		if (stopping && (uint64_t)time(NULL) > stop_deadline) {
			signal_all(m.workers, m.n_workers, SIGKILL);
			signal_all(m.old, m.n_old, SIGKILL);
			break;
		}
	}
	gbca_tls_free(&tls);
	if (pid_path[0])
		unlink(pid_path);
	return failed ? 1 : 0;
}
