/* gbca serve's buffers: fixed-size blocks from a per-worker free list, taken
 * when a connection has something in flight and given back when it is idle
 * (an idle keep-alive connection holds none), trimmed once a tick so memory
 * goes back after load. */
#include "config.h"
#include <gbca/worker.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
pool_take(struct pool *p)
{
	if (p->n == 0)
		return malloc(p->size);
	if (--p->n < p->low)
		p->low = p->n;
	return p->items[p->n];
}

/* Frees the blocks that stayed free since the last call, but `keep`: what a
 * burst of load took is given back once it is over (run once a tick), while
 * a steady load keeps what it uses. Returns how many were freed. */
unsigned
pool_trim(struct pool *p, unsigned keep)
{
	unsigned surplus = p->low > keep ? p->low - keep : 0, freed = 0;

	while (surplus-- > 0 && p->n > 0) {
		free(p->items[--p->n]);
		freed++;
	}
	p->low = p->n;
	return freed;
}

void
pool_give(struct pool *p, char *block)
{
	if (p->n < p->cap)
		p->items[p->n++] = block;
	else
		free(block);
}

void
pool_free(struct pool *p)
{
	while (p->n > 0)
		free(p->items[--p->n]);
	free(p->items);
}

bool
buf_take(struct worker *w, struct buf *b)
{
	if (b->data)
		return true;
	b->data = pool_take(&w->bufs);
	b->start = b->end = 0;
	return b->data != NULL;
}

void
buf_give(struct worker *w, struct buf *b)
{
	if (b->data == NULL)
		return;
	pool_give(&w->bufs, b->data);
	b->data = NULL;
	b->start = b->end = 0;
}

/* Gives the buffer back when empty; keeps it otherwise. */
void
buf_trim(struct worker *w, struct buf *b)
{
	if (b->data && b->start == b->end)
		buf_give(w, b);
}

/* Makes room at the end by moving the data to the front. */
void
buf_compact(struct buf *b)
{
	if (b->start > 0 && b->data) {
		memmove(b->data, b->data + b->start, buf_len(b));
		b->end -= b->start;
		b->start = 0;
	}
}

bool
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->data + b->end, BUF_CAP - b->end, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= BUF_CAP - b->end)
		return false;
	b->end += (uint32_t)n;
	return true;
}
