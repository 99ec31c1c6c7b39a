/* The event loop: epoll, level-triggered, one registration per fd with its
 * callback and data, a cached clock and one periodic tick. */
#include "config.h"
#include <gbca/loop.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct slot {
	gbca_ev_fn fn;
	void *data;
	unsigned mask;
	bool used;
};

struct gbca_loop {
	int ep;
	bool stop;
	struct slot *slots;      /* indexed by fd */
	int n_slots;
	uint64_t now;
	unsigned tick_ms;
	uint64_t next_tick;
	gbca_tick_fn tick;
	void *tick_data;
	gbca_after_fn after;
	void *after_data;
	bool busy;                /* the after hook has work left */
};

uint64_t
gbca_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct gbca_loop *
gbca_loop_new(void)
{
	struct gbca_loop *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		free(l);
		return NULL;
	}
	l->now = gbca_now_ms();
	return l;
}

void
gbca_loop_free(struct gbca_loop *l)
{
	if (l == NULL)
		return;
	close(l->ep);
	free(l->slots);
	free(l);
}

static bool
grow(struct gbca_loop *l, int fd)
{
	int n = l->n_slots ? l->n_slots : 1024;
	struct slot *s;

	while (n <= fd)
		n *= 2;
	s = realloc(l->slots, (size_t)n * sizeof(*s));
	if (s == NULL)
		return false;
	memset(s + l->n_slots, 0, (size_t)(n - l->n_slots) * sizeof(*s));
	l->slots = s;
	l->n_slots = n;
	return true;
}

bool
gbca_loop_set(struct gbca_loop *l, int fd, unsigned mask, gbca_ev_fn fn, void *data)
{
	struct epoll_event ev;
	struct slot *s;
	int op;

	if (fd >= l->n_slots && !grow(l, fd))
		return false;
	s = &l->slots[fd];
	if (s->used && s->mask == mask && s->fn == fn && s->data == data)
		return true;
	memset(&ev, 0, sizeof(ev));
	if (mask & GBCA_EV_EXCLUSIVE)
		ev.events = EPOLLIN | EPOLLEXCLUSIVE;   /* EPOLLEXCLUSIVE takes no EPOLLRDHUP */
	else
		ev.events = (mask & GBCA_EV_READ ? EPOLLIN | EPOLLRDHUP : 0) | (mask & GBCA_EV_WRITE ? EPOLLOUT : 0);
	ev.data.fd = fd;
	op = s->used ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (s->used && s->mask == mask) {
		op = -1;   /* same events: only the callback changed */
	} else if (s->used && ((s->mask | mask) & GBCA_EV_EXCLUSIVE)) {
		/* An exclusive registration can't be modified, only removed and added. */
		epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
		op = EPOLL_CTL_ADD;
	}
	if (op >= 0 && epoll_ctl(l->ep, op, fd, &ev) < 0)
		return false;
	s->used = true;
	s->mask = mask;
	s->fn = fn;
	s->data = data;
	return true;
}

void
gbca_loop_del(struct gbca_loop *l, int fd)
{
	if (fd < 0 || fd >= l->n_slots || !l->slots[fd].used)
		return;
	epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
	memset(&l->slots[fd], 0, sizeof(l->slots[fd]));
}

void
gbca_loop_after(struct gbca_loop *l, gbca_after_fn fn, void *data)
{
	l->after = fn;
	l->after_data = data;
}

void
gbca_loop_tick(struct gbca_loop *l, unsigned interval_ms, gbca_tick_fn fn, void *data)
{
	l->tick_ms = interval_ms;
	l->tick = fn;
	l->tick_data = data;
	l->next_tick = l->now + interval_ms;
}

uint64_t
gbca_loop_now(struct gbca_loop *l)
{
	return l->now;
}

void
gbca_loop_stop(struct gbca_loop *l)
{
	l->stop = true;
}

void
gbca_loop_run(struct gbca_loop *l)
{
	struct epoll_event evs[256];

	l->stop = false;
	while (!l->stop) {
		int timeout = -1, n;

		if (l->tick) {
			timeout = l->next_tick > l->now ? (int)(l->next_tick - l->now) : 0;
		}
		if (l->busy)
			timeout = 0;
		n = epoll_wait(l->ep, evs, 256, timeout);
		l->now = gbca_now_ms();
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			unsigned got = 0;
			struct slot *s;

			if (fd >= l->n_slots || !(s = &l->slots[fd])->used)
				continue;   /* closed by an earlier callback in this batch */
			if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
				got |= GBCA_EV_READ;
			if (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
				got |= GBCA_EV_WRITE;
			s->fn(l, fd, got, s->data);
		}
		if (l->after)
			l->busy = l->after(l, l->after_data);
		if (l->tick && l->now >= l->next_tick) {
			l->next_tick = l->now + l->tick_ms;
			l->tick(l, l->tick_data);
		}
	}
}
