/* A proxy worker process: privileges, signals, the accept loop (with its
 * descriptor-shortage pause), the once-a-second tick (deadlines, drain,
 * memory trim), and the event loop over the shared listening sockets. */
#include "config.h"
#include <gbca/allow.h>
#include <gbca/worker.h>

#include <arpa/inet.h>
#include <stdio.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

static void accept_event(struct gbca_loop *loop, int fd, unsigned events, void *data);

/* The loop's after-batch hook: runs the connections the step limit stopped. */
static bool
run_again(struct gbca_loop *loop, void *data)
{
	struct worker *w = data;
	struct conn *list = w->again;
	(void)loop;

	w->again = NULL;
	while (list) {
		struct conn *c = list;
		list = c->again_next;
		c->queued = false;
		if (c->closed) {
			c->next = w->graveyard;
			w->graveyard = c;
		} else {
			conn_step(c);
		}
	}
	bury(w);
	return w->again != NULL;
}

void
bury(struct worker *w)
{
	while (w->graveyard) {
		struct conn *c = w->graveyard;
		w->graveyard = c->next;
		c->magic = 0;
		free(c);
	}
}

static void
stop_accepting(struct worker *w)
{
	for (size_t i = 0; i < w->n_lfds; i++)
		gbca_loop_set(w->loop, w->lfds[i], 0, NULL, NULL);
	w->accepting = false;
}

/* No descriptor for a new client: the listener stays readable, and polling it
 * would spin (level-triggered). Stop polling the listeners until a
 * connection closes (conn_close) or the next tick, as nginx does; new
 * clients wait in the kernel's queue. One log line per shortage. */
static void
out_of_descriptors(struct worker *w)
{
	if (!w->fd_starved)
		gbca_print_warning("worker %ld: out of file descriptors (%s) with %u connections; new clients wait "
		                   "until one closes (raise LimitNOFILE or ulimit -n, or lower --max-connections)",
		                   (long)getpid(), strerror(errno), w->n_conns);
	w->fd_starved = true;
	stop_accepting(w);
}

void
resume_accepting(struct worker *w)
{
	if (w->accepting || w->draining || w->n_conns >= w->max_conns)
		return;
	for (size_t i = 0; i < w->n_lfds; i++)
		gbca_loop_set(w->loop, w->lfds[i], GBCA_EV_READ | GBCA_EV_EXCLUSIVE, accept_event, w);
	w->accepting = true;
}

/* An address as text: "198.18.1.1", or with its port "198.18.1.1:443",
 * "[2001:db8::1]:443". */
static void
addr_text(const struct sockaddr_storage *ss, bool port, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	bool six = ss->ss_family == AF_INET6;
	const void *in = six ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
	                     : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
	unsigned p = ntohs(six ? ((const struct sockaddr_in6 *)ss)->sin6_port : ((const struct sockaddr_in *)ss)->sin_port);

	if (six && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)in))
		inet_ntop(AF_INET, (const char *)in + 12, a, sizeof(a));   /* an IPv4 client, said as such */
	else if (ss->ss_family == AF_INET || six)
		inet_ntop(ss->ss_family, in, a, sizeof(a));
	if (!port)
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, six ? "[%s]:%u" : "%s:%u", a, p);
}

#define REFUSALS_LOGGED 10

/* Ends a minute of refusal lines: the count of those not logged one by one. */
static void
refusals_minute(struct worker *w, uint64_t now)
{
	char line[256];
	int n;

	if (now - w->refused_since < 60000)
		return;
	if (w->refused_quiet) {
		n = snprintf(line, sizeof(line), "gbca: refused %u more clients in the last minute (the last %s); "
		             "at most %d lines a minute name them\n", w->refused_quiet, w->refused_last, REFUSALS_LOGGED);
		if (write(2, line, (size_t)n) < 0)
			(void)0;   /* nowhere to say it */
	}
	w->refused_since = now;
	w->refused_logged = w->refused_quiet = 0;
}

/* A client --allow refuses: closed at once, before any TLS byte, with a
 * reset (SO_LINGER 0), so that it sees a refusal and not a server that hung
 * up. One line each, rate-limited: a flood can't fill the log. */
static void
refuse(struct worker *w, int cfd, const struct sockaddr_storage *ss, size_t li)
{
	struct linger reset = { 1, 0 };
	char line[256];
	int n;

	setsockopt(cfd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	close(cfd);
	refusals_minute(w, gbca_loop_now(w->loop));
	addr_text(ss, false, w->refused_last, sizeof(w->refused_last));
	if (w->refused_logged == REFUSALS_LOGGED) {
		w->refused_quiet++;
		return;
	}
	w->refused_logged++;
	n = snprintf(line, sizeof(line), "gbca: refused %s on %s: not an allowed network (--allow)\n",
	             w->refused_last, li < w->n_lfds ? w->lname[li] : "?");
	if (write(2, line, (size_t)n) < 0)
		(void)0;   /* nowhere to say it */
}

static void
accept_event(struct gbca_loop *loop, int fd, unsigned events, void *data)
{
	struct worker *w = data;
	bool tls = true;
	size_t li = 0;
	(void)loop; (void)events;

	for (size_t i = 0; i < w->n_lfds; i++)
		if (w->lfds[i] == fd)
			tls = w->ltls[i], li = i;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int cfd;

		ss.ss_family = AF_UNSPEC;   /* new_conn reads it; accept4 may fill less */
		if (w->n_conns >= w->max_conns) {
			/* Full: leave new clients in the kernel's queue until a slot frees. */
			stop_accepting(w);
			return;
		}
		cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				out_of_descriptors(w);
			return;
		}
		w->fd_starved = false;
		if (!gbca_allow_client(w->cfg, (const struct sockaddr *)&ss)) {
			refuse(w, cfd, &ss, li);
			continue;
		}
		if (!new_conn(w, cfd, tls, &ss))
			close(cfd);
		bury(w);
	}
}

static void
tick(struct gbca_loop *loop, void *data)
{
	struct worker *w = data;
	uint64_t now = gbca_loop_now(loop);
	struct conn *c = w->conns, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->deadline == 0 || now < c->deadline)
			continue;
		if (c->up && c->sstate == S_HEAD && (!c->chead.data || buf_len(&c->chead) == 0)) {
			if (c->up->connecting && !c->up->google && !w->cfg->upstream_via_proxy)
				up_stale(w);
			reply_error(c, 504, c->up->connecting ? "the upstream did not accept the connection in time" :
			                    c->up->handshaking ? "the upstream (or its proxy) did not finish connecting in time"
			                                       : "the upstream did not answer in time");
			if (!c->closed)
				conn_step(c);
		} else if (c->rstate == R_HEAD && c->sstate == S_IDLE && !c->up) {
			conn_goodbye(c);   /* between requests: an orderly end */
		} else {
			conn_close(c);     /* mid-message: the client must see a cut, not an end */
		}
	}
	refusals_minute(w, now);
	if (w->fd_starved)
		resume_accepting(w);   /* descriptors may have freed elsewhere: try again once a tick */
	/* Memory goes back after load: blocks idle for a whole tick are freed,
	 * and glibc is asked to return the freed pages to the system. */
	if (pool_trim(&w->bufs, POOL_KEEP) + pool_trim(&w->ras, POOL_KEEP) > 0)
		malloc_trim(0);
	if (w->draining) {
		/* Idle keep-alive connections go now, with a close_notify; busy ones
		 * finish first. A connection that never had a request may have its
		 * first on the way (accepted just before the signal): it is
		 * answered, with Connection: close, for --drain-timeout at most. */
		bool fresh_too = now >= w->drain_since + (uint64_t)w->cfg->drain_timeout_s * 1000;
		for (c = w->conns; c; c = next) {
			next = c->next;
			if (c->rstate == R_HEAD && c->sstate == S_IDLE && (!c->in.data || buf_len(&c->in) == 0) &&
			    (c->any_request || fresh_too))
				conn_goodbye(c);
		}
		if (w->n_conns == 0 || now >= w->drain_deadline)
			gbca_loop_stop(loop);
	}
	bury(w);
}

static void
signal_event(struct gbca_loop *loop, int fd, unsigned events, void *data)
{
	struct worker *w = data;
	struct signalfd_siginfo si;
	(void)events;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		/* SIGTERM (the master stops): finish within --drain-timeout.
		 * SIGQUIT (the master reloaded, new workers serve): finish what is
		 * in flight, a slow generation included, within --upstream-timeout;
		 * a SIGTERM later shortens that to --drain-timeout. */
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT || si.ssi_signo == SIGQUIT) {
			unsigned s = si.ssi_signo == SIGQUIT ? w->cfg->upstream_timeout_s : w->cfg->drain_timeout_s;
			uint64_t deadline = gbca_loop_now(loop) + (uint64_t)s * 1000;

			if (w->draining) {
				if (deadline < w->drain_deadline)
					w->drain_deadline = deadline;
				continue;
			}
			w->draining = true;
			w->drain_deadline = deadline;
			w->drain_since = gbca_loop_now(loop);
			stop_accepting(w);
			/* What is in flight finishes, with "Connection: close" where the
			 * head has not gone out yet, and the connection closes after it:
			 * a retiring worker takes no new request, which the drain
			 * deadline would cut. */
			for (struct conn *c = w->conns; c; c = c->next)
				c->close_after = true;
			for (size_t i = 0; i < w->n_lfds; i++) {
				gbca_loop_del(loop, w->lfds[i]);
				close(w->lfds[i]);
			}
			w->n_lfds = 0;
			tick(loop, w);
		}
	}
}

static bool
drop_privileges(const char *user, struct gbca_err *err)
{
	struct passwd *pw;

	if (geteuid() != 0 || user[0] == '\0' || strcmp(user, "root") == 0)
		return true;
	pw = getpwnam(user);
	if (pw == NULL)
		return gbca_fail(err, "no user \"%s\" to run as; choose one with --user", user);
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		return gbca_fail(err, "couldn't switch to user %s: %s", user, strerror(errno));
	return true;
}

int
gbca_worker_main(const struct gbca_proxy_config *cfg, struct gbca_tls *tls, const int *fds,
                 const bool *tls_fds, size_t n_fds)
{
	struct worker w;
	struct gbca_err err;
	sigset_t set;
	unsigned workers = cfg->workers ? cfg->workers : 1;
	int rc = 3;   /* fatal: the master stops instead of starting another */

	memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	w.tls = tls;
	w.loop = gbca_loop_new();
	w.max_conns = (cfg->max_connections + workers - 1) / workers;
	w.bufs = (struct pool){ .items = calloc(256, sizeof(char *)), .cap = 256, .size = BUF_CAP };
	w.ras = (struct pool){ .items = calloc(256, sizeof(char *)), .cap = 256, .size = RA_CAP };
	w.log_fd = -1;
	w.sig_fd = -1;
	if (w.loop == NULL || w.bufs.items == NULL || w.ras.items == NULL) {
		gbca_print_error("worker: out of memory");
		goto out;
	}
	if (strcmp(cfg->access_log, "off") != 0)
		w.log_fd = cfg->access_log[0] ? -1 : 2;
	if (cfg->access_log[0] && strcmp(cfg->access_log, "off") != 0) {
		w.log_fd = open(cfg->access_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (w.log_fd < 0) {
			gbca_print_error("couldn't open the access log %s: %s", cfg->access_log, strerror(errno));
			goto out;
		}
	}
	if (!drop_privileges(cfg->user, &err)) {
		gbca_print_error("%s", err.msg);
		goto out;
	}
	/* Changing the uid cleared the parent-death signal the master's fork set. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	w.sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	gbca_loop_set(w.loop, w.sig_fd, GBCA_EV_READ, signal_event, &w);
	for (size_t i = 0; i < n_fds; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		w.lfds[i] = fds[i];
		w.ltls[i] = tls_fds[i];
		memset(&ss, 0, sizeof(ss));
		getsockname(fds[i], (struct sockaddr *)&ss, &len);
		addr_text(&ss, true, w.lname[i], sizeof(w.lname[i]));
		gbca_loop_set(w.loop, fds[i], GBCA_EV_READ | GBCA_EV_EXCLUSIVE, accept_event, &w);
	}
	w.n_lfds = n_fds;
	w.accepting = true;
	gbca_loop_tick(w.loop, 1000, tick, &w);
	gbca_loop_after(w.loop, run_again, &w);
	gbca_loop_run(w.loop);
	refusals_minute(&w, UINT64_MAX);   /* the count not yet said */
	while (w.conns)
		conn_close(w.conns);
	run_again(w.loop, &w);   /* moves queued, now closed, connections to the graveyard */
	bury(&w);
	while (w.pool) {
		struct upconn *u = w.pool;
		w.pool = u->next;
		up_free(&w, u);
	}
	if (cfg->upstream_tls && w.up_handshakes > 0 && !cfg->quiet)
		fprintf(stderr, "gbca: worker %ld: %llu TLS connections to the upstream, %llu resumed\n", (long)getpid(),
		        (unsigned long long)w.up_handshakes, (unsigned long long)w.up_resumed);
	gnutls_free(w.up_session.data);
	rc = 0;
out:
	/* The one way out: whatever was set up is freed here. */
	pool_free(&w.bufs);
	pool_free(&w.ras);
	if (w.loop)
		gbca_loop_free(w.loop);
	if (w.log_fd > 2)
		close(w.log_fd);
	if (w.sig_fd >= 0)
		close(w.sig_fd);
#ifdef __SANITIZE_ADDRESS__
	/* A worker leaves through _exit, past LeakSanitizer's atexit check:
	 * check here, where all it allocated should be gone (the tests read
	 * the report on serve's stderr). */
	__lsan_do_recoverable_leak_check();
#endif
	return rc;
}
