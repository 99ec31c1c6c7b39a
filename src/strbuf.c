/* A growing byte buffer, and JSON string output for the --json flags. */
#include "config.h"
#include <gbca/strbuf.h>

#include <stdlib.h>
#include <string.h>

void
gbca_strbuf_add(struct gbca_strbuf *b, const void *data, size_t len)
{
	if (b->oom || len == 0)
		return;
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;
		while (cap < b->len + len + 1)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void
gbca_strbuf_str(struct gbca_strbuf *b, const char *s)
{
	gbca_strbuf_add(b, s, strlen(s));
}

void
gbca_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}
