/* Marked blocks in a user's text file (rc files, the hosts file): read the
 * file whole, find gbca's block between its two marker lines, render the new
 * file around it, and save it safely (temp file, fsync, same mode and owner,
 * rename). The stores that use it (src/hosts.c, trust/node.c, trust/python.c)
 * decide what goes inside the block; this module knows only bytes and lines. */
#ifndef GBCA_BLOCK_H
#define GBCA_BLOCK_H

#include <gbca/err.h>
#include <gbca/save.h>
#include <gbca/strbuf.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* A text file held in memory. data is NUL-terminated, NULL when the file
 * does not exist; st is the opened file's. */
struct gbca_text {
	char *data;
	size_t len;
	struct stat st;
};

/* Reads path whole: a regular file of at most max bytes. A missing file (or
 * folder) is not an error: t->data stays NULL. show names it in messages. */
bool gbca_text_read(struct gbca_text *t, const char *path, const char *show, size_t max,
                    struct gbca_err *err);
/* The same, refusing a symbolic link as the last component (for a path
 * already resolved, which must not have changed since). */
bool gbca_text_read_nofollow(struct gbca_text *t, const char *path, const char *show, size_t max,
                             struct gbca_err *err);
/* The same from an open file, to its end. */
bool gbca_text_read_fd(struct gbca_text *t, int fd, const char *show, size_t max, struct gbca_err *err);
void gbca_text_free(struct gbca_text *t);

/* The next line from *pos: l..l+n without its "\n" (a "\r" stays); *pos moves
 * past the line end. False at the end of data. */
bool gbca_text_line(const char *data, size_t len, size_t *pos, const char **l, size_t *n);

/* How a block is marked. The begin line starts with begin (the rest of the
 * line goes to begin_ok when given); the end line is end, trailing blanks and
 * a "\r" allowed. body_ok sees every line in between (without "\n") and says
 * whether gbca could have written it. */
struct gbca_block_marks {
	const char *begin, *end;
	bool (*begin_ok)(void *arg, const char *rest, size_t n);
	bool (*body_ok)(void *arg, const char *line, size_t n);
	void *arg;
};

enum gbca_block_status {
	GBCA_BLOCK_OK,
	GBCA_BLOCK_NESTED,    /* a begin line inside the block: problem_line */
	GBCA_BLOCK_TWICE,     /* a second block starts at problem_line */
	GBCA_BLOCK_STRAY_END, /* an end line at problem_line without a begin */
	GBCA_BLOCK_NO_END,    /* the block of begin_line never ends */
	GBCA_BLOCK_FOREIGN,   /* problem_line, inside the block, is not gbca's */
	GBCA_BLOCK_BAD_BEGIN, /* begin_ok refused the begin line at problem_line */
};

/* Where the block is: bytes start..end, from the first byte of the begin line
 * to the byte after the end line's "\n". Lines count from 1. */
struct gbca_block {
	bool found;
	size_t start, end;
	size_t begin_line, problem_line;
};

/* Finds the one block marked by m in data. A file may hold at most one. */
enum gbca_block_status gbca_block_find(const char *data, size_t len, const struct gbca_block_marks *m,
                                       struct gbca_block *b);

/* out = data with bytes start..end replaced by block (start == end: inserted). */
void gbca_block_splice(struct gbca_strbuf *out, const char *data, size_t len, size_t start, size_t end,
                       const char *block, size_t block_len);

/* A new file by rename beside path, with mode, uid and gid (chown only when
 * they differ from the writer's own). Ends with the temp file finished
 * (fsynced, closed) in s, and renamed over path too when commit. On failure
 * errno says why and nothing is left behind. */
bool gbca_text_save(const char *path, const void *data, size_t len, mode_t mode, uid_t uid, gid_t gid,
                    struct gbca_save *s, bool commit);

/* True when a and b name the same file (or the same string). */
bool gbca_same_file(const char *a, const char *b);

/* s quoted for POSIX shells ('...', a ' becomes '\'') and for fish ('...',
 * with \' and \\). */
void gbca_quote_sh(struct gbca_strbuf *b, const char *s);
void gbca_quote_fish(struct gbca_strbuf *b, const char *s);

/* Appends to the fixed buffer buf: sep first unless buf is empty; cut short
 * quietly when full (reports, lists of files). */
void gbca_report_add(char *buf, size_t len, const char *sep, const char *fmt, ...) GBCA_PRINTF(4, 5);

#endif
