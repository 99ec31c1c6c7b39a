/* Marked blocks in text files: read whole, find, splice, save keeping owner
 * and mode. See include/gbca/block.h. */
#include "config.h"
#include <gbca/block.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool
gbca_text_read_fd(struct gbca_text *t, int fd, const char *show, size_t max, struct gbca_err *err)
{
	struct gbca_strbuf b = { 0 };
	char chunk[8192];
	ssize_t n;
	int e;

	memset(t, 0, sizeof(*t));
	if (fstat(fd, &t->st) < 0) {
		e = errno;
		errno = e;
		return gbca_fail(err, "couldn't read %s: %s", show, strerror(e));
	}
	if (!S_ISREG(t->st.st_mode)) {
		errno = EINVAL;
		return gbca_fail(err, "%s is not a regular file; leaving it alone", show);
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		gbca_strbuf_add(&b, chunk, (size_t)n);
		if (b.len > max) {
			free(b.p);
			errno = EFBIG;
			return gbca_fail(err, "%s is bigger than %zu MB, too big for the file it should be; "
			                 "leaving it alone", show, max >> 20);
		}
	}
	gbca_strbuf_add(&b, "", 1);
	if (n < 0 || b.oom) {
		e = b.oom ? ENOMEM : errno;
		free(b.p);
		errno = e;
		return gbca_fail(err, "couldn't read %s: %s", show, strerror(e));
	}
	t->data = b.p;
	t->len = b.len - 1;
	return true;
}

static bool
text_read(struct gbca_text *t, const char *path, const char *show, size_t max, int flags, struct gbca_err *err)
{
	bool ok;
	int fd, e;

	memset(t, 0, sizeof(*t));
	/* O_NONBLOCK: a FIFO planted in place of the file must not hang us. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | flags)) < 0) {
		e = errno;
		if (e == ENOENT || e == ENOTDIR)
			return true;
		errno = e;
		if (e == ELOOP && (flags & O_NOFOLLOW))
			return gbca_fail(err, "%s turned into a symbolic link while gbca read it; leaving it alone", show);
		return gbca_fail(err, "couldn't read %s: %s", show, strerror(e));
	}
	ok = gbca_text_read_fd(t, fd, show, max, err);
	e = errno;
	close(fd);
	errno = e;
	return ok;
}

bool
gbca_text_read(struct gbca_text *t, const char *path, const char *show, size_t max, struct gbca_err *err)
{
	return text_read(t, path, show, max, 0, err);
}

bool
gbca_text_read_nofollow(struct gbca_text *t, const char *path, const char *show, size_t max,
                        struct gbca_err *err)
{
	return text_read(t, path, show, max, O_NOFOLLOW, err);
}

void
gbca_text_free(struct gbca_text *t)
{
	free(t->data);
	t->data = NULL;
	t->len = 0;
}

bool
gbca_text_line(const char *data, size_t len, size_t *pos, const char **l, size_t *n)
{
	const char *nl;

	if (*pos >= len)
		return false;
	*l = data + *pos;
	nl = memchr(*l, '\n', len - *pos);
	*n = nl ? (size_t)(nl - *l) : len - *pos;
	*pos += *n + (nl != NULL);
	return true;
}

static bool
starts(const char *l, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);
	return n >= p && memcmp(l, prefix, p) == 0;
}

static bool
is_end(const char *l, size_t n, const char *mark)
{
	while (n > 0 && (l[n - 1] == ' ' || l[n - 1] == '\t' || l[n - 1] == '\r'))
		n--;
	return n == strlen(mark) && memcmp(l, mark, n) == 0;
}

enum gbca_block_status
gbca_block_find(const char *data, size_t len, const struct gbca_block_marks *m, struct gbca_block *b)
{
	size_t pos = 0, line = 0, foreign = 0, n;
	const char *l;
	bool in = false;

	memset(b, 0, sizeof(*b));
	for (size_t at = 0; gbca_text_line(data, len, &pos, &l, &n); at = pos) {
		line++;
		if (starts(l, n, m->begin)) {
			b->problem_line = line;
			if (in)
				return GBCA_BLOCK_NESTED;
			if (b->found)
				return GBCA_BLOCK_TWICE;
			if (m->begin_ok && !m->begin_ok(m->arg, l + strlen(m->begin), n - strlen(m->begin)))
				return GBCA_BLOCK_BAD_BEGIN;
			in = true;
			b->begin_line = line;
			b->start = at;
		} else if (is_end(l, n, m->end)) {
			b->problem_line = line;
			if (!in)
				return GBCA_BLOCK_STRAY_END;
			if (foreign != 0) {
				b->problem_line = foreign;
				return GBCA_BLOCK_FOREIGN;
			}
			in = false;
			b->found = true;
			b->end = pos;
		} else if (in && foreign == 0 && m->body_ok && !m->body_ok(m->arg, l, n)) {
			/* An error either way; which one depends on an end line later. */
			foreign = line;
		}
	}
	b->problem_line = 0;
	if (in) {
		b->found = false;
		return GBCA_BLOCK_NO_END;
	}
	return GBCA_BLOCK_OK;
}

void
gbca_block_splice(struct gbca_strbuf *out, const char *data, size_t len, size_t start, size_t end,
                  const char *block, size_t block_len)
{
	gbca_strbuf_add(out, data, start);
	gbca_strbuf_add(out, block, block_len);
	gbca_strbuf_add(out, data + end, len - end);
	/* An empty result is still a file: p must not stay NULL. */
	gbca_strbuf_add(out, "", 1);
	out->len--;
}

bool
gbca_text_save(const char *path, const void *data, size_t len, mode_t mode, uid_t uid, gid_t gid,
               struct gbca_save *s, bool commit)
{
	int e;

	if (!gbca_save_begin(s, path, mode, NULL))
		return false;
	if (!gbca_save_write(s, data, len, NULL) ||
	    ((uid != geteuid() || gid != getegid()) && fchown(s->fd, uid, gid) < 0) ||
	    !gbca_save_finish(s, NULL) || (commit && !gbca_save_commit(s, NULL))) {
		e = errno;
		gbca_save_abort(s);
		errno = e;
		return false;
	}
	return true;
}

bool
gbca_same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (strcmp(a, b) == 0)
		return true;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void
gbca_quote_sh(struct gbca_strbuf *b, const char *s)
{
	gbca_strbuf_str(b, "'");
	for (; *s; s++) {
		if (*s == '\'')
			gbca_strbuf_str(b, "'\\''");
		else
			gbca_strbuf_add(b, s, 1);
	}
	gbca_strbuf_str(b, "'");
}

void
gbca_quote_fish(struct gbca_strbuf *b, const char *s)
{
	gbca_strbuf_str(b, "'");
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			gbca_strbuf_str(b, "\\");
		gbca_strbuf_add(b, s, 1);
	}
	gbca_strbuf_str(b, "'");
}

void
gbca_report_add(char *buf, size_t len, const char *sep, const char *fmt, ...)
{
	size_t used = strnlen(buf, len);
	va_list ap;

	if (len == 0 || used + 1 >= len)
		return;
	if (used > 0) {
		snprintf(buf + used, len - used, "%s", sep);
		used = strnlen(buf, len);
	}
	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}
