/* A growing byte buffer for building files and messages; oom is sticky and
 * checked once at the end. Zero it to start; free(b->p) when done. */
#ifndef GBCA_STRBUF_H
#define GBCA_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct gbca_strbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

void gbca_strbuf_add(struct gbca_strbuf *b, const void *data, size_t len);
void gbca_strbuf_str(struct gbca_strbuf *b, const char *s);

/* Writes s as a JSON string (quotes and escapes included). */
void gbca_json_string(FILE *f, const char *s);

#endif
