/* Acting for a user as root: run work as the owner of a path, and open a
 * user-owned file without following links (see docs/security.md). */
#ifndef GBCA_DROP_H
#define GBCA_DROP_H

#include <gbca/err.h>
#include <stdbool.h>
#include <sys/types.h>

/* Runs fn(arg) as uid/gid: when we are root and uid != 0, in a forked child that
 * did setgroups (0, or the user's groups), setresgid, setresuid (verified), and
 * returns fn's int result (or -1 with errno set if the child could not drop or
 * died); otherwise calls fn directly. The child shares nothing with us after the
 * fork: results travel back only as the int (or through gbca_as_owner's err).
 * Output and messages from the child reach stdout/stderr as usual. */
int gbca_as_user(uid_t uid, gid_t gid, int (*fn)(void *arg), void *arg);

/* The same for library work that reports with a struct gbca_err: fn's false and
 * its message come back to the caller's err. */
bool gbca_as_owner(uid_t uid, gid_t gid, bool (*fn)(void *arg, struct gbca_err *err), void *arg,
                   struct gbca_err *err);

/* As root, when path belongs to another user (gbca_owner_of), becomes that
 * user for the rest of the process; otherwise does nothing. */
bool gbca_become_owner_of(const char *path, struct gbca_err *err);

/* gbca_save_file (atomic, fsync, rename) done as the owner of path's folder:
 * as root on a user's folder, the kernel refuses what the user couldn't do. */
bool gbca_save_file_owned(const char *path, const void *data, size_t len, mode_t mode,
                          struct gbca_err *err);

/* Reads a whole file through gbca_open_owned (at most max bytes; more is an
 * error). *data is malloc'ed and NUL-terminated; free it with free(). */
bool gbca_read_owned(const char *dir, const char *name, uid_t owner, mode_t forbid, size_t max,
                     char **data, size_t *len, struct gbca_err *err);

/* gbca_owner_of(path), then gbca_as_owner: fn runs as whoever owns path. */
bool gbca_as_owner_of(const char *path, bool (*fn)(void *arg, struct gbca_err *err), void *arg,
                      struct gbca_err *err);

/* Memory that a gbca_as_user child can fill for its parent (MAP_SHARED,
 * zeroed); NULL when out of memory. Free with gbca_shared_free(p, n). */
void *gbca_shared_alloc(size_t n);
void gbca_shared_free(void *p, size_t n);

/* Who to act as for path (a CAROOT, a HOME): the deepest non-root owner among the
 * path's components, as written and as resolved (a user-owned symlink or folder
 * anywhere on the way hands the rest of the path to that user), else root. Parts
 * of the path that do not exist yet belong to the owner of what holds them.
 * *gid is that user's primary group (or the component's group if the user has no
 * passwd entry). */
bool gbca_owner_of(const char *path, uid_t *uid, gid_t *gid, struct gbca_err *err);

/* Opens dir/name read-only for root to read a file that owner keeps (the CA key
 * for serve): dir is opened O_DIRECTORY|O_NOFOLLOW and must be a folder owned by
 * owner, name is opened with openat and O_NOFOLLOW and must be a regular file
 * owned by owner with none of the forbid mode bits (e.g. 077). Returns the fd, or
 * -1 with a message saying which check failed. The link and owner checks apply
 * when root reads for another owner; otherwise (a user's own files, root's own
 * path) links are followed and only the type and mode are checked. */
int gbca_open_owned(const char *dir, const char *name, uid_t owner, mode_t forbid,
                    struct gbca_err *err);

#endif
