/* A small event loop on epoll, after Redis's ae: file events with a callback
 * and a data pointer, and one periodic tick for timeouts. One per worker. */
#ifndef GBCA_LOOP_H
#define GBCA_LOOP_H

#include <stdbool.h>
#include <stdint.h>

enum {
	GBCA_EV_READ = 1,
	GBCA_EV_WRITE = 2,
	GBCA_EV_EXCLUSIVE = 4,   /* listening sockets shared by workers: wake one */
};

struct gbca_loop;
typedef void (*gbca_ev_fn)(struct gbca_loop *loop, int fd, unsigned events, void *data);
typedef void (*gbca_tick_fn)(struct gbca_loop *loop, void *data);

struct gbca_loop *gbca_loop_new(void);
void gbca_loop_free(struct gbca_loop *loop);

/* Watches fd for mask (GBCA_EV_READ|WRITE); a second call changes the mask
 * (a no-op when unchanged, so callers may set it freely). mask 0 keeps the
 * registration with no events; gbca_loop_del forgets fd. */
bool gbca_loop_set(struct gbca_loop *loop, int fd, unsigned mask, gbca_ev_fn fn, void *data);
void gbca_loop_del(struct gbca_loop *loop, int fd);

/* Calls fn after every batch of events; when it returns true (work left
 * over), the next wait does not sleep. */
typedef bool (*gbca_after_fn)(struct gbca_loop *loop, void *data);
void gbca_loop_after(struct gbca_loop *loop, gbca_after_fn fn, void *data);

/* Calls fn about every interval_ms. */
void gbca_loop_tick(struct gbca_loop *loop, unsigned interval_ms, gbca_tick_fn fn, void *data);

/* Runs until gbca_loop_stop. */
void gbca_loop_run(struct gbca_loop *loop);
void gbca_loop_stop(struct gbca_loop *loop);

/* Monotonic milliseconds, cached once per loop iteration. */
uint64_t gbca_loop_now(struct gbca_loop *loop);
uint64_t gbca_now_ms(void);

#endif
