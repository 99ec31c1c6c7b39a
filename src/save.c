/* Atomic file writes: temp file beside the target, fsync, chmod, rename; unlink on failure. */
#include "config.h"
#include <gbca/save.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *
hint_for(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
		return "; is the folder writable by you?";
	case ENOENT:
	case ENOTDIR:
		return "; does the folder exist?";
	case ENOSPC:
	case EDQUOT:
		return "; free some disk space";
	case EROFS:
		return "; the file system is read-only";
	default:
		return "";
	}
}

bool
gbca_save_begin(struct gbca_save *s, const char *path, mode_t mode, struct gbca_err *err)
{
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
	const char *base = slash ? slash + 1 : path;
	int n;

	s->fd = -1;
	s->mode = mode;
	s->tmp[0] = '\0';
	if (*base == '\0')
		return gbca_fail(err, "couldn't write %s: not a file name", path);
	if (snprintf(s->path, sizeof(s->path), "%s", path) >= (int)sizeof(s->path))
		return gbca_fail(err, "couldn't write %s: path too long", path);
	n = snprintf(s->tmp, sizeof(s->tmp), "%.*s.%s.tmp-XXXXXX", (int)dirlen, path, base);
	if (n < 0 || n >= (int)sizeof(s->tmp)) {
		s->tmp[0] = '\0';
		return gbca_fail(err, "couldn't write %s: path too long", path);
	}
	/* mkostemp creates the file 0600, so a key is never readable by others,
	 * not even for a moment; the final mode is set in gbca_save_finish. */
	s->fd = mkostemp(s->tmp, O_CLOEXEC);
	if (s->fd < 0) {
		int e = errno;
		s->tmp[0] = '\0';
		return gbca_fail(err, "couldn't write %s: %s%s", path, strerror(e), hint_for(e));
	}
	return true;
}

bool
gbca_save_write(struct gbca_save *s, const void *data, size_t len, struct gbca_err *err)
{
	const char *p = data;

	assert(s->fd >= 0);
	while (len > 0) {
		ssize_t w = write(s->fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			return gbca_fail(err, "couldn't write %s: %s%s", s->path, strerror(e), hint_for(e));
		}
		p += w;
		len -= (size_t)w;
	}
	return true;
}

bool
gbca_save_finish(struct gbca_save *s, struct gbca_err *err)
{
	int e;

	assert(s->fd >= 0);
	/* fsync before rename: without it a crash can leave a zero-length file
	 * under the final name (the ext4 delayed-allocation case). */
	if (fchmod(s->fd, s->mode) < 0 || fsync(s->fd) < 0) {
		e = errno;
		return gbca_fail(err, "couldn't write %s: %s%s", s->path, strerror(e), hint_for(e));
	}
	if (close(s->fd) < 0) {
		e = errno;
		s->fd = -1;
		return gbca_fail(err, "couldn't write %s: %s%s", s->path, strerror(e), hint_for(e));
	}
	s->fd = -1;
	return true;
}

bool
gbca_save_commit(struct gbca_save *s, struct gbca_err *err)
{
	assert(s->fd < 0 && s->tmp[0] != '\0');
	if (rename(s->tmp, s->path) < 0) {
		int e = errno;
		return gbca_fail(err, "couldn't write %s: %s%s", s->path, strerror(e), hint_for(e));
	}
	s->tmp[0] = '\0';
	return true;
}

void
gbca_save_abort(struct gbca_save *s)
{
	int saved = errno;

	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->tmp[0] != '\0')
		unlink(s->tmp);
	s->tmp[0] = '\0';
	errno = saved;
}

bool
gbca_save_file(const char *path, const void *data, size_t len, mode_t mode, struct gbca_err *err)
{
	struct gbca_save_item item = { path, data, len, mode };

	return gbca_save_files(&item, 1, err);
}

#define GBCA_SAVE_MAX 4

bool
gbca_save_files(const struct gbca_save_item *items, size_t n, struct gbca_err *err)
{
	struct gbca_save saves[GBCA_SAVE_MAX];
	size_t begun = 0, i;

	assert(n <= GBCA_SAVE_MAX);
	for (i = 0; i < n; i++) {
		if (!gbca_save_begin(&saves[i], items[i].path, items[i].mode, err))
			goto fail;
		begun++;
		if (!gbca_save_write(&saves[i], items[i].data, items[i].len, err))
			goto fail;
		/* Start this file's writeback now, so the disk works on all of them
		 * while we fsync the first: a certificate and key pair costs about
		 * one flush instead of two (0.15 ms of 2.9 on ext4 here). */
		if (n > 1)
			(void)sync_file_range(saves[i].fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	}
	for (i = 0; i < n; i++)
		if (!gbca_save_finish(&saves[i], err))
			goto fail;
	for (i = 0; i < n; i++) {
		if (!gbca_save_commit(&saves[i], err))
			goto fail;
	}
	return true;

fail:
	for (i = 0; i < begun; i++)
		gbca_save_abort(&saves[i]);
	return false;
}
