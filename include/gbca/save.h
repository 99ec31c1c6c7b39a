/* Atomic file writes: temp file beside the target, fsync, mode, rename. */
#ifndef GBCA_SAVE_H
#define GBCA_SAVE_H

#include <gbca/err.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* One file being written. Until gbca_save_commit() the target is untouched;
 * gbca_save_abort() removes every trace of the attempt. */
struct gbca_save {
	int fd;
	mode_t mode;
	char tmp[PATH_MAX];
	char path[PATH_MAX];
};

bool gbca_save_begin(struct gbca_save *s, const char *path, mode_t mode, struct gbca_err *err);
bool gbca_save_write(struct gbca_save *s, const void *data, size_t len, struct gbca_err *err);
/* Flushes to disk, sets the final mode, closes. The temp file stays. */
bool gbca_save_finish(struct gbca_save *s, struct gbca_err *err);
/* Renames the finished temp file over the target. */
bool gbca_save_commit(struct gbca_save *s, struct gbca_err *err);
void gbca_save_abort(struct gbca_save *s);

/* A whole file in one call. */
bool gbca_save_file(const char *path, const void *data, size_t len, mode_t mode,
                    struct gbca_err *err);

/* Several files as one unit: every temp file is written and flushed before
 * any target is replaced, so an unwritable directory or a full disk leaves
 * all targets as they were. */
struct gbca_save_item {
	const char *path;
	const void *data;
	size_t len;
	mode_t mode;
};
bool gbca_save_files(const struct gbca_save_item *items, size_t n, struct gbca_err *err);

#endif
